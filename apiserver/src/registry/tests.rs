//! The generic verbs' tests, over the memory store.

use super::*;
use crate::store::mem::MemStore;
use api::registry::lookup;
use futures::StreamExt;

async fn registry() -> Registry {
    let reg = Registry::new(Arc::new(MemStore::new()));
    reg.bootstrap().await.unwrap();
    reg
}

fn pods() -> &'static ResourceInfo {
    lookup("pods").unwrap()
}

fn pod_json(name: &str, labels: Value) -> Vec<u8> {
    serde_json::to_vec(&json!({"apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "labels": labels},
        "spec": {"containers": [{"name": "c", "image": "busybox"}]}}))
    .unwrap()
}

#[tokio::test]
async fn create_stamps_server_fields_and_refuses_duplicates() {
    let reg = registry().await;
    let pod = reg.create(pods(), "default", &pod_json("a", json!({})), &WriteOptions::default()).await.unwrap();
    assert_eq!(meta::namespace(&pod), "default");
    assert!(!meta::uid(&pod).is_empty());
    assert!(meta::resource_version(&pod).parse::<i64>().unwrap() > 0);
    assert_eq!(pod["spec"]["restartPolicy"], "Always", "defaults are applied");
    let err = reg.create(pods(), "default", &pod_json("a", json!({})), &WriteOptions::default()).await.unwrap_err();
    assert_eq!(err.to_string(), r#"pods "a" already exists"#);
}

#[tokio::test]
async fn generate_name_adds_five_characters() {
    let reg = registry().await;
    let body = serde_json::to_vec(&json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"generateName": "kubia-"},
        "spec": {"containers": [{"name": "c", "image": "busybox"}]}}))
    .unwrap();
    let pod = reg.create(pods(), "default", &body, &WriteOptions::default()).await.unwrap();
    assert!(meta::name(&pod).starts_with("kubia-") && meta::name(&pod).len() == 11, "{}", meta::name(&pod));
}

/// Events expire an `--event-ttl` after their last write, as kube-apiserver
/// stores them under an etcd lease; other kinds never expire.
#[tokio::test(start_paused = true)]
async fn events_expire_after_the_event_ttl_from_their_last_write() {
    let reg = Registry::new(Arc::new(MemStore::new())).with_event_ttl(Duration::from_secs(60));
    reg.bootstrap().await.unwrap();
    let events = lookup("events").unwrap();
    let event = |count: i64| {
        serde_json::to_vec(&json!({"apiVersion": "v1", "kind": "Event",
            "metadata": {"name": "kubia.1", "namespace": "default"},
            "involvedObject": {"kind": "Pod", "name": "kubia", "namespace": "default"},
            "reason": "Started", "message": "Started container", "type": "Normal", "count": count}))
        .unwrap()
    };
    reg.create(events, "default", &event(1), &WriteOptions::default()).await.unwrap();
    reg.create(pods(), "default", &pod_json("kubia", json!({})), &WriteOptions::default()).await.unwrap();
    tokio::time::sleep(Duration::from_secs(45)).await;
    // Seen again: the update starts the TTL anew.
    reg.update(events, "default", "kubia.1", &event(2), "", &WriteOptions::default()).await.unwrap();
    tokio::time::sleep(Duration::from_secs(45)).await;
    assert!(reg.get(events, "default", "kubia.1").await.is_ok(), "expired 45 s after its last write");
    tokio::time::sleep(Duration::from_secs(20)).await;
    let gone = reg.get(events, "default", "kubia.1").await.unwrap_err();
    assert_eq!(gone.reason, Reason::NotFound);
    assert!(reg.get(pods(), "default", "kubia").await.is_ok(), "a pod expired");
}

#[tokio::test]
async fn bad_input_changes_nothing() {
    let reg = registry().await;
    let missing_ns = reg.create(pods(), "nope", &pod_json("a", json!({})), &WriteOptions::default()).await.unwrap_err();
    assert_eq!(missing_ns.to_string(), r#"namespaces "nope" not found"#);
    let bad_label = reg
        .create(pods(), "default", &pod_json("a", json!({"-bad": "x"})), &WriteOptions::default())
        .await
        .unwrap_err();
    assert!(bad_label.is_invalid(), "{bad_label}");
    let not_json = reg.create(pods(), "default", b"{nope", &WriteOptions::default()).await.unwrap_err();
    assert_eq!(not_json.reason, Reason::BadRequest);
    let huge = "x".repeat(MAX_OBJECT_BYTES);
    let too_big =
        reg.create(pods(), "default", &pod_json("a", json!({"a": huge})), &WriteOptions::default()).await.unwrap_err();
    assert_eq!(too_big.reason, Reason::RequestEntityTooLarge);
    let list = reg.list(pods(), "", "", "", 0, "").await.unwrap();
    assert_eq!(list["items"], json!([]));
}

#[tokio::test]
async fn stale_updates_conflict_and_status_is_separate() {
    let reg = registry().await;
    let pod = reg.create(pods(), "default", &pod_json("a", json!({})), &WriteOptions::default()).await.unwrap();
    let mut labelled = pod.clone();
    labelled["metadata"]["labels"] = json!({"x": "1"});
    labelled["status"]["phase"] = "Running".into();
    let updated = reg
        .update(pods(), "default", "a", &serde_json::to_vec(&labelled).unwrap(), "", &WriteOptions::default())
        .await
        .unwrap();
    assert_eq!(updated["status"]["phase"], "Pending", "status changes only through the status subresource");
    let stale =
        reg.update(pods(), "default", "a", &serde_json::to_vec(&labelled).unwrap(), "", &WriteOptions::default()).await;
    assert!(stale.unwrap_err().is_conflict());
    let mut status = updated.clone();
    status["status"]["phase"] = "Running".into();
    let s = reg
        .update(pods(), "default", "a", &serde_json::to_vec(&status).unwrap(), "status", &WriteOptions::default())
        .await
        .unwrap();
    assert_eq!(s["status"]["phase"], "Running");
    assert_eq!(s["metadata"]["labels"], json!({"x": "1"}));
}

#[tokio::test]
async fn patches_retry_and_keep_identity() {
    let reg = registry().await;
    reg.create(pods(), "default", &pod_json("a", json!({"a": "1"})), &WriteOptions::default()).await.unwrap();
    let patch = serde_json::to_vec(&json!({"metadata": {"labels": {"a": null, "b": "2"}}})).unwrap();
    let out = reg.patch(pods(), "default", "a", PatchType::Merge, &patch, "", &WriteOptions::default()).await.unwrap();
    assert_eq!(out["metadata"]["labels"], json!({"b": "2"}));
    let rename = serde_json::to_vec(&json!({"metadata": {"name": "b"}})).unwrap();
    assert!(reg.patch(pods(), "default", "a", PatchType::Merge, &rename, "", &WriteOptions::default()).await.is_err());
}

#[tokio::test]
async fn pods_on_nodes_are_deleted_gracefully() {
    let reg = registry().await;
    reg.create(pods(), "default", &pod_json("pending", json!({})), &WriteOptions::default()).await.unwrap();
    reg.delete(pods(), "default", "pending", &DeleteOptions::default()).await.unwrap();
    assert!(reg.get(pods(), "default", "pending").await.unwrap_err().is_not_found());

    reg.create(pods(), "default", &pod_json("bound", json!({})), &WriteOptions::default()).await.unwrap();
    let binding = serde_json::to_vec(&json!({"target": {"kind": "Node", "name": "n1"}})).unwrap();
    reg.create_subresource(pods(), "default", "bound", "binding", &binding).await.unwrap();
    let again = reg.create_subresource(pods(), "default", "bound", "binding", &binding).await.unwrap_err();
    assert!(again.message.contains("is already assigned to node \"n1\""), "{}", again.message);
    let marked = reg.delete(pods(), "default", "bound", &DeleteOptions::default()).await.unwrap();
    assert_eq!(marked["metadata"]["deletionGracePeriodSeconds"], 30);
    assert!(meta::deletion_timestamp(&marked).is_some());
    // The kubelet finishes it with grace period 0.
    let now = DeleteOptions { grace_period_seconds: Some(0), ..Default::default() };
    reg.delete(pods(), "default", "bound", &now).await.unwrap();
    assert!(reg.get(pods(), "default", "bound").await.unwrap_err().is_not_found());
}

#[tokio::test]
async fn watch_reports_objects_leaving_a_selector_as_deleted() {
    let reg = registry().await;
    let created =
        reg.create(pods(), "default", &pod_json("a", json!({"app": "x"})), &WriteOptions::default()).await.unwrap();
    let mut rx = reg.watch(pods(), "default", "app=x", "", "").await.unwrap();
    let first = rx.next().await.unwrap().unwrap();
    assert_eq!((first.kind, meta::name(&first.decode().unwrap())), ("ADDED", "a"));
    let mut moved = created.clone();
    moved["metadata"]["labels"] = json!({"app": "y"});
    reg.update(pods(), "default", "a", &serde_json::to_vec(&moved).unwrap(), "", &WriteOptions::default())
        .await
        .unwrap();
    let left = rx.next().await.unwrap().unwrap();
    assert_eq!(left.kind, "DELETED");
    // Another namespace's pods are not seen.
    reg.create(pods(), "kube-system", &pod_json("other", json!({"app": "x"})), &WriteOptions::default()).await.unwrap();
    reg.create(pods(), "default", &pod_json("b", json!({"app": "x"})), &WriteOptions::default()).await.unwrap();
    let next = rx.next().await.unwrap().unwrap();
    let obj = next.decode().unwrap();
    assert_eq!((next.kind, meta::name(&obj)), ("ADDED", "b"));
    assert_eq!(meta::resource_version(&obj), next.resource_version.to_string());
}

#[tokio::test]
async fn a_watch_whose_client_left_releases_its_store_watch() {
    let mem = Arc::new(MemStore::new());
    let reg = Registry::new(mem.clone());
    reg.bootstrap().await.unwrap();
    let rx = reg.watch(pods(), "default", "", "", "").await.unwrap();
    assert_eq!(mem.watcher_count(), 1);
    drop(rx);
    for _ in 0..100 {
        if mem.watcher_count() == 0 {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    panic!("the watch outlived its client with no event to notice it by");
}

#[tokio::test]
async fn lists_page_with_limit_and_continue() {
    let reg = registry().await;
    for i in 0..5 {
        reg.create(pods(), "default", &pod_json(&format!("p{i}"), json!({})), &WriteOptions::default()).await.unwrap();
    }
    let first = reg.list(pods(), "default", "", "", 2, "").await.unwrap();
    assert_eq!(first["items"].as_array().unwrap().len(), 2);
    let token = first["metadata"]["continue"].as_str().unwrap().to_string();
    let rest = reg.list(pods(), "default", "", "", 0, &token).await.unwrap();
    let names: Vec<&str> = rest["items"].as_array().unwrap().iter().map(meta::name).collect();
    assert_eq!(names, ["p2", "p3", "p4"]);
}

#[tokio::test]
async fn namespace_deletion_empties_then_removes_it() {
    let reg = registry().await;
    let ns = lookup("ns").unwrap();
    let body =
        serde_json::to_vec(&json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team"}})).unwrap();
    reg.create(ns, "", &body, &WriteOptions::default()).await.unwrap();
    reg.create(pods(), "team", &pod_json("a", json!({})), &WriteOptions::default()).await.unwrap();
    let marked = reg.delete(ns, "", "team", &DeleteOptions::default()).await.unwrap();
    assert_eq!(marked["status"]["phase"], "Terminating");
    let refused = reg.create(pods(), "team", &pod_json("b", json!({})), &WriteOptions::default()).await.unwrap_err();
    assert_eq!(refused.reason, Reason::Forbidden);
    // The namespace controller empties it, then drops the `kubernetes` finalizer.
    reg.delete(pods(), "team", "a", &DeleteOptions::default()).await.unwrap();
    let labelled = serde_json::to_vec(&json!({"metadata": {"labels": {"x": "y"}}})).unwrap();
    reg.patch(ns, "", "team", PatchType::Merge, &labelled, "", &WriteOptions::default()).await.unwrap();
    assert!(reg.get(ns, "", "team").await.is_ok(), "still waiting for its spec finalizer");
    let finalize = serde_json::to_vec(&json!({"spec": {"finalizers": []}})).unwrap();
    reg.patch(ns, "", "team", PatchType::Merge, &finalize, "", &WriteOptions::default()).await.unwrap();
    assert!(reg.get(ns, "", "team").await.unwrap_err().is_not_found());
    assert!(reg.delete(ns, "", "default", &DeleteOptions::default()).await.is_err());
}

#[tokio::test]
async fn orphan_and_foreground_deletion_wait_for_the_garbage_collector() {
    let reg = registry().await;
    let rc = lookup("rc").unwrap();
    let body = serde_json::to_vec(&json!({"apiVersion": "v1", "kind": "ReplicationController",
        "metadata": {"name": "r"}, "spec": {"replicas": 1, "selector": {"app": "a"},
        "template": {"metadata": {"labels": {"app": "a"}}, "spec": {"containers": [{"name": "c", "image": "i"}]}}}}))
    .unwrap();
    reg.create(rc, "default", &body, &WriteOptions::default()).await.unwrap();
    let orphan = DeleteOptions { propagation_policy: "Orphan".into(), ..Default::default() };
    let marked = reg.delete(rc, "default", "r", &orphan).await.unwrap();
    assert_eq!(marked["metadata"]["finalizers"], json!(["orphan"]));
    assert!(meta::deletion_timestamp(&marked).is_some());
    // The collector removes its finalizer once done; then the object goes.
    let patch = serde_json::to_vec(&json!({"metadata": {"finalizers": null}})).unwrap();
    reg.patch(rc, "default", "r", PatchType::Merge, &patch, "", &WriteOptions::default()).await.unwrap();
    assert!(reg.get(rc, "default", "r").await.unwrap_err().is_not_found());
    let bad = DeleteOptions { propagation_policy: "Sideways".into(), ..Default::default() };
    assert!(reg.delete(rc, "default", "x", &bad).await.unwrap_err().is_invalid());
}
