//! ReplicaSet/ReplicationController tests: decisions against a recording
//! [`FakePodControl`] (the caches show exactly what each test puts there), and
//! the book's chapter 4 walkthrough against a real in-process apiserver.

use super::*;
use crate::clock::Clock;
use crate::testing::{self, typed, FakePodControl, TestApi};
use api::meta;
use api::time::format as format_time;
use api::ResourceInfo;
use serde_json::{json, Value};

/// A controller whose pod writes go to a fake; the owner lives in a real apiserver
/// (status writes and the fresh read before adoption go there).
struct Fixture<O: Flavor> {
    api: TestApi,
    ctrl: ReplicaSetController<O>,
    fake: Arc<FakePodControl>,
    owner: Value,
    queue: WorkQueue,
}

impl<O: Flavor> Fixture<O> {
    async fn new(owner: Value) -> Self {
        let api = TestApi::start().await;
        let owner = api.create(owner).await;
        let owners = Arc::new(SharedInformer::<O>::new(O::info()));
        owners.store().insert(typed(&owner));
        let pods = Arc::new(SharedInformer::new(pods::pods()));
        let fake = Arc::new(FakePodControl::default());
        let ctrl = ReplicaSetController::new(owners, pods, fake.clone(), api.client.clone(), Clock::manual());
        Self { api, ctrl, fake, owner, queue: WorkQueue::default() }
    }

    fn key(&self) -> String {
        key_of(&self.owner)
    }

    /// A pod in the cache, as the watch would deliver it (through the handler).
    fn add_pod(&self, pod: Value) {
        let pod: Arc<Pod> = Arc::new(typed(&pod));
        self.ctrl.pods.store().insert((*pod).clone());
        self.ctrl.pod_changed(&Change::Added(pod), &self.queue);
    }

    async fn sync(&self) -> Result<Action> {
        self.ctrl.reconcile(&self.key()).await
    }

    async fn status(&self) -> Value {
        self.api.get(O::info().plural, "default", meta::name(&self.owner)).await.unwrap()["status"].clone()
    }
}

/// A pod as the cache shows it; `owner` None makes an orphan.
fn pod(name: &str, labels: Value, owner: Option<&Value>) -> Value {
    let mut p = testing::pod(name, labels);
    p["metadata"]["uid"] = format!("uid-{name}").into();
    p["metadata"]["resourceVersion"] = "7".into();
    p["metadata"]["creationTimestamp"] = format_time(jiff::Timestamp::now()).into();
    if let Some(o) = owner {
        p["metadata"]["ownerReferences"] = json!([crate::testing::controller_ref(o)]);
    }
    p["status"] = json!({"phase": "Pending"});
    p
}

fn running(mut p: Value, node: &str, ready_since: Option<&str>) -> Value {
    p["spec"]["nodeName"] = node.into();
    p["status"]["phase"] = "Running".into();
    let ready = match ready_since {
        Some(t) => json!({"type": "Ready", "status": "True", "lastTransitionTime": t}),
        None => json!({"type": "Ready", "status": "False"}),
    };
    p["status"]["conditions"] = json!([ready]);
    p
}

#[tokio::test]
async fn missing_pods_are_created_from_the_template_and_owned() {
    let f = Fixture::<ReplicationController>::new(testing::rc("kubia", 3)).await;
    f.sync().await.unwrap();
    let created = f.fake.created.lock().unwrap().clone();
    assert_eq!(created.len(), 3);
    for p in &created {
        assert_eq!(meta::generate_name(p), "kubia-");
        assert_eq!(p["metadata"]["labels"], json!({"app": "kubia"}));
        assert_eq!(p["spec"]["containers"][0]["image"], "luksa/kubia");
        let owner = &p["metadata"]["ownerReferences"][0];
        assert_eq!(
            (owner["kind"].as_str(), owner["name"].as_str(), owner["uid"].as_str()),
            (Some("ReplicationController"), Some("kubia"), Some(meta::uid(&f.owner)))
        );
        assert_eq!((owner["controller"].as_bool(), owner["blockOwnerDeletion"].as_bool()), (Some(true), Some(true)));
    }
    assert_eq!(f.status().await, json!({"replicas": 0, "observedGeneration": 1}), "status counts what exists");
}

#[tokio::test]
async fn a_lagging_watch_never_makes_it_create_twice() {
    let f = Fixture::<ReplicationController>::new(testing::rc("kubia", 3)).await;
    f.sync().await.unwrap();
    assert_eq!(f.fake.created_count(), 3);
    // The watch has not delivered the new pods yet: the cache still shows none.
    f.sync().await.unwrap();
    f.sync().await.unwrap();
    assert_eq!(f.fake.created_count(), 3, "still waiting for the first three");
    // Two arrive; the cache shows 2 of 3, but one creation is still in flight.
    let created = f.fake.created.lock().unwrap().clone();
    for p in &created[..2] {
        let mut p = p.clone();
        p["metadata"]["uid"] = format!("uid-{}", meta::name(&p)).into();
        f.add_pod(p);
    }
    f.sync().await.unwrap();
    assert_eq!(f.fake.created_count(), 3);
    // The third arrives: expectations are met and nothing is missing.
    let mut last = created[2].clone();
    last["metadata"]["uid"] = "uid-last".into();
    f.add_pod(last);
    f.sync().await.unwrap();
    assert_eq!(f.fake.created_count(), 3);
    assert_eq!(f.status().await["replicas"], 3);
}

#[tokio::test]
async fn creation_slows_down_after_a_failure_instead_of_flooding_the_server() {
    let f = Fixture::<ReplicationController>::new(testing::rc("kubia", 10)).await;
    *f.fake.create_limit.lock().unwrap() = Some(2);
    let err = f.sync().await.unwrap_err();
    assert!(err.to_string().contains("exceeded quota"), "{err}");
    // Batches of 1 then 2; the second batch had a failure, so no batch of 4 followed.
    assert_eq!(*f.fake.create_attempts.lock().unwrap(), 3);
    assert_eq!(f.fake.created_count(), 2);
    let condition = &f.status().await["conditions"][0];
    assert_eq!(
        (condition["type"].as_str(), condition["reason"].as_str()),
        (Some("ReplicaFailure"), Some("FailedCreate"))
    );
    // Only the two pods that were created are waited for; once seen, the rest follow.
    *f.fake.create_limit.lock().unwrap() = None;
    f.sync().await.unwrap();
    assert_eq!(f.fake.created_count(), 2, "the two successful creations are not in the cache yet");
    let created = f.fake.created.lock().unwrap().clone();
    for (i, mut p) in created.into_iter().enumerate() {
        p["metadata"]["uid"] = format!("uid-{i}").into();
        f.add_pod(p);
    }
    f.sync().await.unwrap();
    assert_eq!(f.fake.created_count(), 10);
    assert!(f.status().await.get("conditions").is_none(), "the failure condition is cleared");
}

#[tokio::test]
async fn extra_pods_go_least_valuable_first() {
    let f = Fixture::<ReplicationController>::new(testing::rc("kubia", 2)).await;
    let long_ago = format_time(crate::clock::add_secs(jiff::Timestamp::now(), -3600));
    let o = Some(&f.owner);
    f.add_pod(running(pod("ready", json!({"app": "kubia"}), o), "node-1", Some(&long_ago)));
    f.add_pod(running(pod("not-ready", json!({"app": "kubia"}), o), "node-1", None));
    f.add_pod(pod("unscheduled", json!({"app": "kubia"}), o));
    f.add_pod(running(pod("ready-too", json!({"app": "kubia"}), o), "node-2", Some(&long_ago)));
    f.sync().await.unwrap();
    let mut deleted = f.fake.deleted();
    deleted.sort();
    assert_eq!(deleted, ["default/not-ready", "default/unscheduled"]);
    // Until those deletions are seen, nothing more happens.
    f.fake.clear();
    f.sync().await.unwrap();
    assert!(f.fake.deleted().is_empty() && f.fake.created_count() == 0);
}

#[tokio::test]
async fn orphans_are_adopted_and_pods_that_stop_matching_are_released() {
    let f = Fixture::<ReplicationController>::new(testing::rc("kubia", 3)).await;
    let o = Some(&f.owner);
    let other =
        json!({"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": "other", "uid": "uid-other"}});
    f.add_pod(pod("kubia-mine", json!({"app": "kubia"}), o));
    f.add_pod(pod("kubia-gpu", json!({"app": "kubia", "gpu": "true"}), None));
    f.add_pod(pod("kubia-relabelled", json!({"app": "kubia-dev", "env": "dev"}), o));
    f.add_pod(pod("someone-elses", json!({"app": "kubia"}), Some(&other)));
    f.add_pod(pod("unrelated", json!({"app": "web"}), None));
    f.sync().await.unwrap();

    let patched = f.fake.patched();
    let adopted: Vec<&Value> = patched.iter().filter(|(k, _)| k == "default/kubia-gpu").map(|(_, p)| p).collect();
    assert_eq!(adopted.len(), 1, "{patched:?}");
    assert_eq!(adopted[0]["metadata"]["ownerReferences"], json!([crate::testing::controller_ref(&f.owner)]));
    let released: Vec<&Value> =
        patched.iter().filter(|(k, _)| k == "default/kubia-relabelled").map(|(_, p)| p).collect();
    assert_eq!(released[0]["metadata"]["ownerReferences"], Value::Null, "its only reference goes, field and all");
    assert_eq!(patched.len(), 2, "pods controlled by others and non-matching orphans are left alone: {patched:?}");
    // Two claimed (its own and the adopted one): one more is created.
    assert_eq!(f.fake.created_count(), 1);
}

#[tokio::test]
async fn an_owner_being_deleted_creates_and_adopts_nothing() {
    let f = Fixture::<ReplicationController>::new(testing::rc("kubia", 3)).await;
    let mut deleting = f.owner.clone();
    deleting["metadata"]["deletionTimestamp"] = format_time(jiff::Timestamp::now()).into();
    f.ctrl.owners.store().insert(typed(&deleting));
    f.add_pod(pod("kubia-orphan", json!({"app": "kubia"}), None));
    f.sync().await.unwrap();
    assert_eq!(f.fake.created_count(), 0);
    assert!(f.fake.patched().is_empty());
}

#[tokio::test]
async fn replica_sets_select_with_match_expressions() {
    let f = Fixture::<ReplicaSet>::new(testing::rs("kubia", 2)).await;
    f.add_pod(pod("kubia-orphan", json!({"app": "kubia"}), None));
    f.add_pod(pod("web", json!({"app": "web"}), None));
    f.sync().await.unwrap();
    let adopted: Vec<String> = f.fake.patched().into_iter().map(|(k, _)| k).collect();
    assert_eq!(adopted, ["default/kubia-orphan"]);
    assert_eq!(f.fake.created_count(), 1);
}

async fn pods_named(api: &TestApi, prefix: &str) -> Vec<Value> {
    api.list("pods", "default").await.into_iter().filter(|p| meta::name(p).starts_with(prefix)).collect()
}

/// The pods the RC counts: labelled app=kubia and not terminating (deleted pods
/// that were bound to a node wait for a kubelet, which these tests do not run).
async fn in_scope(api: &TestApi) -> Vec<Value> {
    let pods = api.list("pods", "default").await;
    pods.into_iter().filter(|p| p["metadata"]["labels"]["app"] == "kubia" && is_active(&typed(p))).collect()
}

/// Acts as the kubelet would: the pod runs on a node and is ready.
async fn make_running(api: &TestApi, pod: &Value, node: &str) {
    let pods = pods::pods();
    let binding = json!({"apiVersion": "v1", "kind": "Binding", "metadata": {"name": meta::name(pod)},
                         "target": {"apiVersion": "v1", "kind": "Node", "name": node}});
    api.client.create_subresource(pods, "default", meta::name(pod), "binding", &binding).await.unwrap();
    let mut p = api.get("pods", "default", meta::name(pod)).await.unwrap();
    p["status"]["phase"] = "Running".into();
    p["status"]["conditions"] =
        json!([{"type": "Ready", "status": "True", "lastTransitionTime": format_time(jiff::Timestamp::now())}]);
    api.client.update_status(pods, "default", &p).await.unwrap();
}

/// Chapter 4.2: create an RC, lose a pod, relabel one out of scope, add a
/// matching pod by hand, scale, change the template.
#[tokio::test]
async fn the_books_replication_controller_walkthrough() {
    let api = TestApi::start().await;
    let ctx = api.context(testing::config(), Clock::manual());
    let ctrl = Arc::new(ReplicaSetController::replication_controllers(&ctx));
    let _running = testing::run_controller(&ctx, ctrl);
    let rc = api.create(testing::rc("kubia", 3)).await;

    api.eventually("three pods exist", || async { pods_named(&api, "kubia-").await.len() == 3 }).await;
    let pods = pods_named(&api, "kubia-").await;
    for p in &pods {
        assert_eq!(meta::name(p).len(), "kubia-".len() + 5, "generated names: {}", meta::name(p));
        assert_eq!(p["metadata"]["ownerReferences"][0]["uid"], meta::uid(&rc));
        make_running(&api, p, "node-1").await;
    }
    api.eventually("status shows 3 ready", || async {
        let s = api.get("replicationcontrollers", "default", "kubia").await.unwrap()["status"].clone();
        s["replicas"] == 3 && s["readyReplicas"] == 3 && s["availableReplicas"] == 3 && s["fullyLabeledReplicas"] == 3
    })
    .await;
    let created = format!("SuccessfulCreate: Created pod: {}", meta::name(&pods[0]));
    api.eventually("events name the created pods", || async { api.events_about("kubia").await.contains(&created) })
        .await;

    // A deleted pod is replaced.
    let lost = meta::name(&pods[0]).to_string();
    api.client.delete(pods::pods(), "default", &lost, &Default::default()).await.unwrap();
    api.eventually("a replacement exists", || async {
        let now = in_scope(&api).await;
        now.len() == 3 && now.iter().all(|p| meta::name(p) != lost)
    })
    .await;

    // Relabelled out of scope: released, and replaced.
    let moved = meta::name(&pods[1]).to_string();
    let relabel = json!({"metadata": {"labels": {"app": "kubia-dev", "env": "dev"}}});
    api.client.patch(pods::pods(), "default", &moved, client::PatchType::Merge, &relabel).await.unwrap();
    api.eventually("the relabelled pod is released and replaced", || async {
        let released =
            api.get("pods", "default", &moved).await.is_some_and(|p| crate::testing::owner_references(&p).is_empty());
        released && in_scope(&api).await.len() == 3
    })
    .await;
    for p in in_scope(&api).await.iter().filter(|p| p["spec"]["nodeName"].is_null()) {
        make_running(&api, p, "node-2").await;
    }

    // A hand-made pod that matches is adopted, and as the one extra, deleted.
    api.create(testing::pod("kubia-gpu", json!({"app": "kubia", "gpu": "true"}))).await;
    api.eventually("kubia-gpu is deleted", || async { api.get("pods", "default", "kubia-gpu").await.is_none() }).await;
    api.eventually("the event says so", || async {
        api.events_about("kubia").await.contains(&"SuccessfulDelete: Deleted pod: kubia-gpu".to_string())
    })
    .await;

    // A new template affects only new pods.
    edit_rc(&api, |rc| {
        rc["spec"]["template"]["spec"]["containers"][0]["image"] = "luksa/kubia:v2".into();
        rc["spec"]["replicas"] = 4.into();
    })
    .await;
    api.eventually("one new pod, with the new image", || async {
        let now = in_scope(&api).await;
        let images: Vec<&str> = now.iter().filter_map(|p| p["spec"]["containers"][0]["image"].as_str()).collect();
        now.len() == 4 && images.iter().filter(|i| **i == "luksa/kubia:v2").count() == 1
    })
    .await;

    // Scaling down deletes the unscheduled newcomer first, then the rest as ranked.
    edit_rc(&api, |rc| rc["spec"]["replicas"] = 1.into()).await;
    api.eventually("one pod left in scope", || async { in_scope(&api).await.len() == 1 }).await;
    let left = in_scope(&api).await;
    assert!(left.iter().all(|p| p["spec"]["containers"][0]["image"] == "luksa/kubia"), "the v2 pod went first");
    api.eventually("status follows", || async {
        let s = api.get("replicationcontrollers", "default", "kubia").await.unwrap()["status"].clone();
        s["replicas"] == 1 && s["observedGeneration"] == 3
    })
    .await;
}

/// Edits the RC as `kubectl edit` does: read, change, write, and again when
/// the controller wrote its status in between (a conflict).
async fn edit_rc(api: &TestApi, change: impl Fn(&mut Value)) {
    loop {
        let mut rc = api.get("replicationcontrollers", "default", "kubia").await.unwrap();
        change(&mut rc);
        match api.client.update(rc_info(), "default", &rc).await {
            Ok(_) => return,
            Err(e) if e.is_conflict() => continue,
            Err(e) => panic!("updating the RC: {e}"),
        }
    }
}

fn rc_info() -> &'static ResourceInfo {
    ReplicationController::info()
}
