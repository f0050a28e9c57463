//! The typed client against the real apiserver binary over etcd: `Api<K>`
//! reads and writes `k8s-openapi` objects, and a typed informer's cache
//! follows the server, as controllers rely on.

use api::k8s_openapi::api::core::v1::{Pod, PodStatus};
use api::k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use client::informer::{Change, InformerFactory};
use client::{Api, DeleteParams, ListParams, PatchType};
use e2e::Cluster;
use serde_json::json;
use std::time::Duration;

fn pod(name: &str) -> Pod {
    serde_json::from_value(json!({
        "metadata": {"name": name, "labels": {"app": "typed"}},
        "spec": {"containers": [{"name": "c", "image": "luksa/kubia"}]},
    }))
    .expect("a pod")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typed_calls_read_and_write_kubernetes_objects() {
    let c = Cluster::start();
    let cl = c.client().await;
    let pods = Api::<Pod>::namespaced(&cl, "default");

    let created = pods.create(&pod("a")).await.expect("create");
    assert_eq!(created.metadata.namespace.as_deref(), Some("default"));
    assert!(
        !created.metadata.resource_version.as_deref().unwrap_or("").is_empty(),
        "the server's version is stamped in"
    );
    // Defaults the server applied arrive typed.
    let container = &created.spec.as_ref().unwrap().containers[0];
    assert_eq!(container.image_pull_policy.as_deref(), Some("Always"));

    let mut status = created.clone();
    status.status = Some(PodStatus { phase: Some("Running".into()), ..Default::default() });
    let updated = pods.update_status(&status).await.expect("update status");
    assert_eq!(api::pod::phase(&updated), "Running");

    // A stale resourceVersion is a conflict, typed or not.
    let err = pods.update_status(&status).await.expect_err("stale write");
    assert!(err.is_conflict(), "{err}");

    let patched = pods.patch("a", PatchType::Merge, &json!({"metadata": {"labels": {"tier": "x"}}})).await.unwrap();
    assert_eq!(patched.metadata.labels.as_ref().unwrap().get("tier").map(String::as_str), Some("x"));

    pods.create(&Pod { metadata: ObjectMeta { name: Some("b".into()), ..Default::default() }, ..pod("b") })
        .await
        .expect("create b");
    let list = pods.list(&ListParams { label_selector: "tier=x".into(), ..Default::default() }).await.unwrap();
    assert_eq!(list.items.iter().map(|p| p.metadata.name.clone().unwrap()).collect::<Vec<_>>(), ["a"]);
    assert!(!list.resource_version.is_empty());

    let missing = pods.get("nope").await.expect_err("no such pod");
    assert!(missing.is_not_found(), "{missing}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_typed_informer_follows_the_server() {
    let c = Cluster::start();
    let cl = c.client().await;
    let pods = Api::<Pod>::namespaced(&cl, "default");
    pods.create(&pod("before")).await.unwrap();

    let factory = InformerFactory::new(cl.clone());
    let informer = factory.typed::<Pod>();
    let mut changes = informer.subscribe();
    factory.start();
    tokio::time::timeout(Duration::from_secs(10), informer.wait_synced()).await.expect("synced");
    assert!(informer.store().get("default/before").is_some(), "the first list fills the cache");

    pods.create(&pod("after")).await.unwrap();
    pods.delete("before", &DeleteParams { grace_period_seconds: Some(0), ..Default::default() }).await.unwrap();
    let mut seen = Vec::new();
    while seen.len() < 3 {
        let change = tokio::time::timeout(Duration::from_secs(10), changes.recv()).await.expect("a change").unwrap();
        match change {
            Change::Added(p) => seen.push(format!("added {}", p.metadata.name.as_deref().unwrap())),
            Change::Deleted(p) => seen.push(format!("deleted {}", p.metadata.name.as_deref().unwrap())),
            Change::Updated { .. } | Change::Resync => {}
        }
    }
    assert_eq!(seen, ["added before", "added after", "deleted before"]);
    assert!(informer.store().get("default/before").is_none());
    assert_eq!(informer.store().get("default/after").unwrap().spec.as_ref().unwrap().containers[0].name, "c");
}
