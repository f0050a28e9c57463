//! StatefulSet tests: the book's kubia set against an in-process apiserver
//! (memory store); the caches are filled from it before each pass, and the
//! tests play the kubelet by marking pods Running and Ready.

use super::*;
use crate::pods;
use crate::testing::{typed, TestApi};
use api::time::format as format_time;
use client::Resource;

struct Fixture {
    api: TestApi,
    ctrl: StatefulSetController,
}

fn kubia(replicas: i64) -> Value {
    json!({
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {"name": "kubia", "namespace": "default"},
        "spec": {
            "serviceName": "kubia",
            "replicas": replicas,
            "selector": {"matchLabels": {"app": "kubia"}},
            "template": {
                "metadata": {"labels": {"app": "kubia"}},
                "spec": {"containers": [{"name": "kubia", "image": "luksa/kubia-pet",
                    "volumeMounts": [{"name": "data", "mountPath": "/var/data"}]}]},
            },
            "volumeClaimTemplates": [{"metadata": {"name": "data"},
                "spec": {"resources": {"requests": {"storage": "1Mi"}}, "accessModes": ["ReadWriteOnce"]}}],
        },
    })
}

impl Fixture {
    async fn new(set: Value) -> Self {
        let api = TestApi::start().await;
        api.create(set).await;
        let ctrl = StatefulSetController::with(
            Arc::new(SharedInformer::new(StatefulSet::info())),
            Arc::new(SharedInformer::new(pods::pods())),
            Arc::new(SharedInformer::new(ControllerRevision::info())),
            api.client.clone(),
        );
        Self { api, ctrl }
    }

    /// Fills the caches from the server, as the informers would, and reconciles.
    async fn sync(&self) {
        self.sync_action().await;
    }

    async fn sync_action(&self) -> Action {
        let set = self.api.get("statefulsets", "default", "kubia").await.unwrap();
        self.ctrl.sets.store().insert(typed(&set));
        for key in self.ctrl.pods.store().keys() {
            self.ctrl.pods.store().remove(&key);
        }
        for p in self.api.list("pods", "default").await {
            self.ctrl.pods.store().insert(typed(&p));
        }
        for key in self.ctrl.revisions.store().keys() {
            self.ctrl.revisions.store().remove(&key);
        }
        for r in self.api.list("controllerrevisions", "default").await {
            self.ctrl.revisions.store().insert(typed(&r));
        }
        self.ctrl.reconcile("default/kubia").await.unwrap()
    }

    /// Reconciles until nothing changes (each pass acts on one pod at most in OrderedReady).
    async fn settle(&self) {
        for _ in 0..10 {
            let before = self.state().await;
            self.sync().await;
            if self.state().await == before {
                return;
            }
        }
    }

    async fn state(&self) -> Vec<String> {
        let mut out: Vec<String> = self
            .api
            .list("pods", "default")
            .await
            .iter()
            .map(|p| format!("{}:{}:{}", api::meta::name(p), api::meta::resource_version(p), p["status"]["phase"]))
            .collect();
        out.sort();
        out
    }

    async fn pod_names(&self) -> Vec<String> {
        let mut names: Vec<String> =
            self.api.list("pods", "default").await.iter().map(|p| api::meta::name(p).to_string()).collect();
        names.sort();
        names
    }

    /// Plays the kubelet: the pod runs and is ready.
    async fn ready(&self, name: &str) {
        let mut pod = self.api.get("pods", "default", name).await.unwrap();
        pod["status"] = json!({"phase": "Running", "conditions": [{"type": "Ready", "status": "True",
            "lastTransitionTime": format_time(jiff::Timestamp::now())}]});
        self.api.client.update_status(pods::pods(), "default", &pod).await.unwrap();
    }

    async fn all_ready(&self) {
        for name in self.pod_names().await {
            self.ready(&name).await;
        }
    }

    async fn delete(&self, name: &str) {
        let params = DeleteParams { grace_period_seconds: Some(0), ..Default::default() };
        self.api.client.delete(pods::pods(), "default", name, &params).await.unwrap();
    }

    async fn set_spec(&self, f: impl FnOnce(&mut Value)) {
        let mut set = self.api.get("statefulsets", "default", "kubia").await.unwrap();
        f(&mut set["spec"]);
        self.api.client.update(StatefulSet::info(), "default", &set).await.unwrap();
    }

    async fn status(&self) -> Value {
        self.api.get("statefulsets", "default", "kubia").await.unwrap()["status"].clone()
    }

    async fn images(&self) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = self
            .api
            .list("pods", "default")
            .await
            .iter()
            .map(|p| {
                (api::meta::name(p).to_string(), p["spec"]["containers"][0]["image"].as_str().unwrap().to_string())
            })
            .collect();
        out.sort();
        out
    }
}

#[test]
fn ordinals_are_read_from_pod_names() {
    assert_eq!(ordinal_of("kubia", "kubia-0"), Some(0));
    assert_eq!(ordinal_of("kubia", "kubia-12"), Some(12));
    for other in ["kubia", "kubia-", "kubia-01", "kubia-x", "kubiax-1", "kubia-1-2"] {
        assert_eq!(ordinal_of("kubia", other), None, "{other}");
    }
    assert_eq!(claim_name("data", "kubia-1"), "data-kubia-1");
}

#[tokio::test]
async fn ordered_ready_creates_one_pod_at_a_time_with_its_identity() {
    let f = Fixture::new(kubia(2)).await;
    f.sync().await;
    f.sync().await;
    assert_eq!(f.pod_names().await, ["kubia-0"], "kubia-1 waits until kubia-0 is Running and Ready");
    let pod = f.api.get("pods", "default", "kubia-0").await.unwrap();
    assert_eq!(pod["spec"]["hostname"], "kubia-0");
    assert_eq!(pod["spec"]["subdomain"], "kubia");
    let labels = &pod["metadata"]["labels"];
    assert_eq!(labels["statefulset.kubernetes.io/pod-name"], "kubia-0");
    assert_eq!(labels["apps.kubernetes.io/pod-index"], "0");
    assert_eq!(labels["app"], "kubia");
    let revision = labels["controller-revision-hash"].as_str().unwrap().to_string();
    assert!(revision.starts_with("kubia-"), "{revision}");
    let volumes = pod["spec"]["volumes"].as_array().unwrap();
    assert!(volumes.iter().any(|v| v["name"] == "data" && v["persistentVolumeClaim"]["claimName"] == "data-kubia-0"));
    assert_eq!(pod["metadata"]["ownerReferences"][0]["kind"], "StatefulSet");
    assert_eq!(pod["metadata"]["ownerReferences"][0]["controller"], true);

    f.ready("kubia-0").await;
    f.sync().await;
    assert_eq!(f.pod_names().await, ["kubia-0", "kubia-1"]);
    f.ready("kubia-1").await;
    f.sync().await;
    let status = f.status().await;
    assert_eq!(status["replicas"], 2);
    assert_eq!(status["readyReplicas"], 2);
    assert_eq!(status["availableReplicas"], 2);
    assert_eq!(status["currentReplicas"], 2);
    assert_eq!(status["updatedReplicas"], 2);
    assert_eq!(status["currentRevision"], revision.as_str());
    assert_eq!(status["updateRevision"], revision.as_str());
    assert_eq!(status["observedGeneration"], 1);
    let revisions = f.api.list("controllerrevisions", "default").await;
    assert_eq!(revisions.len(), 1);
    assert_eq!(revisions[0]["metadata"]["name"], revision.as_str());
    assert_eq!(revisions[0]["revision"], 1);
    assert_eq!(revisions[0]["metadata"]["ownerReferences"][0]["name"], "kubia");
}

#[tokio::test]
async fn parallel_creates_every_pod_at_once() {
    let mut set = kubia(3);
    set["spec"]["podManagementPolicy"] = json!("Parallel");
    let f = Fixture::new(set).await;
    f.sync().await;
    assert_eq!(f.pod_names().await, ["kubia-0", "kubia-1", "kubia-2"]);
}

#[tokio::test]
async fn a_deleted_pod_comes_back_with_its_name() {
    let f = Fixture::new(kubia(2)).await;
    for _ in 0..2 {
        f.sync().await;
        f.all_ready().await;
    }
    assert_eq!(f.pod_names().await, ["kubia-0", "kubia-1"]);
    let old_uid = f.api.get("pods", "default", "kubia-0").await.unwrap()["metadata"]["uid"].clone();
    f.delete("kubia-0").await;
    f.sync().await;
    let back = f.api.get("pods", "default", "kubia-0").await.expect("kubia-0 is recreated");
    assert_ne!(back["metadata"]["uid"], old_uid);
    let volumes = back["spec"]["volumes"].as_array().unwrap();
    assert!(volumes.iter().any(|v| v["persistentVolumeClaim"]["claimName"] == "data-kubia-0"), "{volumes:?}");
}

/// Identity safety: while the old kubia-0 is terminating but not gone (as on
/// an unreachable node, where nothing confirms it stopped), no new kubia-0 is
/// made; once it is gone (the kubelet, or `delete --force`), it comes back.
#[tokio::test]
async fn no_second_pod_takes_an_identity_while_the_old_one_is_terminating() {
    let f = Fixture::new(kubia(2)).await;
    for _ in 0..2 {
        f.sync().await;
        f.all_ready().await;
    }
    // A finalizer keeps the deleted pod in the API, terminating, as an
    // unreachable node's kubelet would by never confirming the deletion.
    let mut held = f.api.get("pods", "default", "kubia-0").await.unwrap();
    held["metadata"]["finalizers"] = json!(["example.com/unreachable-node"]);
    f.api.client.update(pods::pods(), "default", &held).await.unwrap();
    let old_uid = held["metadata"]["uid"].clone();
    f.delete("kubia-0").await;
    for _ in 0..3 {
        f.sync().await;
    }
    let still = f.api.get("pods", "default", "kubia-0").await.unwrap();
    assert_eq!(still["metadata"]["uid"], old_uid, "the terminating pod keeps the identity");
    assert!(still["metadata"]["deletionTimestamp"].is_string());
    assert_eq!(f.pod_names().await, ["kubia-0", "kubia-1"]);

    let mut gone = still.clone();
    gone["metadata"]["finalizers"] = json!([]);
    f.api.client.update(pods::pods(), "default", &gone).await.unwrap();
    f.sync().await;
    let back = f.api.get("pods", "default", "kubia-0").await.expect("kubia-0 is recreated once the old one is gone");
    assert_ne!(back["metadata"]["uid"], old_uid);
}

#[tokio::test]
async fn scale_down_removes_the_highest_ordinal_first_one_at_a_time() {
    let f = Fixture::new(kubia(3)).await;
    for _ in 0..3 {
        f.sync().await;
        f.all_ready().await;
    }
    assert_eq!(f.pod_names().await, ["kubia-0", "kubia-1", "kubia-2"]);
    f.set_spec(|s| s["replicas"] = json!(1)).await;
    f.sync().await;
    assert_eq!(f.pod_names().await, ["kubia-0", "kubia-1"], "kubia-2 goes first, alone");
    f.sync().await;
    assert_eq!(f.pod_names().await, ["kubia-0"]);
    f.sync().await;
    assert_eq!(f.status().await["replicas"], 1);
    f.set_spec(|s| s["replicas"] = json!(3)).await;
    f.sync().await;
    assert_eq!(f.pod_names().await, ["kubia-0", "kubia-1"], "scale up is ordered again");
}

#[tokio::test]
async fn rolling_update_goes_from_the_highest_ordinal_down_and_respects_the_partition() {
    let f = Fixture::new(kubia(3)).await;
    for _ in 0..3 {
        f.sync().await;
        f.all_ready().await;
    }
    let first = f.status().await["currentRevision"].as_str().unwrap().to_string();
    f.set_spec(|s| {
        s["template"]["spec"]["containers"][0]["image"] = json!("luksa/kubia-pet:v2");
        s["updateStrategy"]["rollingUpdate"]["partition"] = json!(1);
    })
    .await;
    f.sync().await;
    assert_eq!(f.pod_names().await, ["kubia-0", "kubia-1"], "kubia-2 is replaced first");
    let status = f.status().await;
    assert_ne!(status["updateRevision"], first.as_str());
    assert_eq!(status["currentRevision"], first.as_str());
    f.settle().await;
    f.all_ready().await;
    f.settle().await;
    f.all_ready().await;
    f.settle().await;
    let images = f.images().await;
    assert_eq!(
        images,
        [
            ("kubia-0".to_string(), "luksa/kubia-pet".to_string()),
            ("kubia-1".to_string(), "luksa/kubia-pet:v2".to_string()),
            ("kubia-2".to_string(), "luksa/kubia-pet:v2".to_string())
        ],
        "the partition keeps kubia-0 on the old revision"
    );
    assert_eq!(f.status().await["updatedReplicas"], 2);
    // kubia-0 deleted below the partition comes back on the old revision.
    f.delete("kubia-0").await;
    f.sync().await;
    assert_eq!(f.images().await[0].1, "luksa/kubia-pet");
    f.all_ready().await;
    f.set_spec(|s| s["updateStrategy"]["rollingUpdate"]["partition"] = json!(0)).await;
    for _ in 0..4 {
        f.settle().await;
        f.all_ready().await;
    }
    assert!(f.images().await.iter().all(|(_, image)| image == "luksa/kubia-pet:v2"));
    let status = f.status().await;
    assert_eq!(status["currentRevision"], status["updateRevision"], "the finished rollout is current");
    assert_eq!(status["updatedReplicas"], 3);
    let mut revisions: Vec<i64> =
        f.api.list("controllerrevisions", "default").await.iter().map(|r| r["revision"].as_i64().unwrap()).collect();
    revisions.sort();
    assert_eq!(revisions, [1, 2]);
}

#[tokio::test]
async fn on_delete_replaces_a_pod_only_when_it_is_deleted() {
    let mut set = kubia(2);
    set["spec"]["updateStrategy"] = json!({"type": "OnDelete"});
    let f = Fixture::new(set).await;
    for _ in 0..2 {
        f.sync().await;
        f.all_ready().await;
    }
    f.set_spec(|s| s["template"]["spec"]["containers"][0]["image"] = json!("luksa/kubia-pet:v2")).await;
    f.settle().await;
    assert!(f.images().await.iter().all(|(_, image)| image == "luksa/kubia-pet"), "nothing is deleted");
    f.delete("kubia-0").await;
    f.sync().await;
    assert_eq!(f.images().await[0], ("kubia-0".to_string(), "luksa/kubia-pet:v2".to_string()));
    assert_eq!(f.images().await[1].1, "luksa/kubia-pet");
}

#[tokio::test]
async fn a_rollback_renumbers_the_old_revision() {
    let f = Fixture::new(kubia(1)).await;
    f.sync().await;
    let first = f.status().await["updateRevision"].as_str().unwrap().to_string();
    f.set_spec(|s| s["template"]["spec"]["containers"][0]["image"] = json!("luksa/kubia-pet:v2")).await;
    f.sync().await;
    f.set_spec(|s| s["template"]["spec"]["containers"][0]["image"] = json!("luksa/kubia-pet")).await;
    f.sync().await;
    assert_eq!(f.status().await["updateRevision"], first.as_str());
    let rev = f.api.get("controllerrevisions", "default", &first).await.unwrap();
    assert_eq!(rev["revision"], 3);
}

#[tokio::test]
async fn each_pod_gets_its_own_claim_before_it_and_keeps_it() {
    let f = Fixture::new(kubia(2)).await;
    f.sync().await;
    let claim = f.api.get("persistentvolumeclaims", "default", "data-kubia-0").await.expect("the claim is created");
    assert_eq!(claim["metadata"]["labels"]["app"], "kubia");
    assert_eq!(claim["spec"]["resources"]["requests"]["storage"], "1Mi");
    assert!(owner_refs(&claim).is_empty(), "Retain: the claim outlives the set");
    assert!(f.api.get("persistentvolumeclaims", "default", "data-kubia-1").await.is_none());
    f.ready("kubia-0").await;
    f.sync().await;
    assert!(f.api.get("persistentvolumeclaims", "default", "data-kubia-1").await.is_some());
    f.delete("kubia-0").await;
    f.sync().await;
    let again = f.api.get("persistentvolumeclaims", "default", "data-kubia-0").await.unwrap();
    assert_eq!(again["metadata"]["uid"], claim["metadata"]["uid"], "the recreated pod reuses its claim");
    assert_eq!(f.api.list("persistentvolumeclaims", "default").await.len(), 2);
    f.set_spec(|s| s["replicas"] = json!(1)).await;
    f.all_ready().await;
    f.settle().await;
    assert_eq!(f.pod_names().await, ["kubia-0"]);
    assert_eq!(f.api.list("persistentvolumeclaims", "default").await.len(), 2, "scale down keeps the claims");
}

fn owner_refs(obj: &Value) -> Vec<Value> {
    obj["metadata"]["ownerReferences"].as_array().cloned().unwrap_or_default()
}

#[tokio::test]
async fn the_delete_retention_policy_hands_claims_to_the_set_and_to_scaled_down_pods() {
    let mut set = kubia(2);
    set["spec"]["persistentVolumeClaimRetentionPolicy"] = json!({"whenDeleted": "Delete", "whenScaled": "Delete"});
    let f = Fixture::new(set).await;
    for _ in 0..2 {
        f.sync().await;
        f.all_ready().await;
    }
    let set_uid = f.api.get("statefulsets", "default", "kubia").await.unwrap()["metadata"]["uid"].clone();
    let claim = f.api.get("persistentvolumeclaims", "default", "data-kubia-1").await.unwrap();
    let refs = owner_refs(&claim);
    assert_eq!(refs.len(), 1);
    assert_eq!((refs[0]["kind"].as_str(), &refs[0]["uid"]), (Some("StatefulSet"), &set_uid));
    assert!(refs[0].get("controller").is_none_or(|c| c != true), "the set owns the claim, it does not control it");
    let pod_uid = f.api.get("pods", "default", "kubia-1").await.unwrap()["metadata"]["uid"].clone();
    f.set_spec(|s| s["replicas"] = json!(1)).await;
    f.sync().await;
    assert_eq!(f.pod_names().await, ["kubia-0"]);
    let claim = f.api.get("persistentvolumeclaims", "default", "data-kubia-1").await.unwrap();
    let kinds: Vec<(String, Value)> =
        owner_refs(&claim).iter().map(|r| (r["kind"].as_str().unwrap().to_string(), r["uid"].clone())).collect();
    assert_eq!(kinds, [("StatefulSet".to_string(), set_uid), ("Pod".to_string(), pod_uid)]);
    let kept = f.api.get("persistentvolumeclaims", "default", "data-kubia-0").await.unwrap();
    assert_eq!(owner_refs(&kept).len(), 1, "the remaining pod's claim is not handed over");
}

#[tokio::test]
async fn pods_ready_for_less_than_min_ready_seconds_are_not_available_yet() {
    let mut set = kubia(1);
    set["spec"]["minReadySeconds"] = json!(10);
    let f = Fixture::new(set).await;
    f.sync().await;
    f.ready("kubia-0").await;
    f.sync().await;
    let status = f.status().await;
    assert_eq!((status["readyReplicas"].as_i64(), status["availableReplicas"].as_i64()), (Some(1), Some(0)));
    let action = f.sync_action().await;
    assert!(matches!(action, Action::RequeueAfter(d) if d == std::time::Duration::from_secs(10)), "{action:?}");
}

#[tokio::test]
async fn an_orphan_with_a_pods_name_and_labels_is_adopted() {
    let f = Fixture::new(kubia(1)).await;
    let mut orphan = crate::testing::pod("kubia-0", json!({"app": "kubia"}));
    orphan["spec"]["hostname"] = json!("kubia-0");
    f.api.create(orphan).await;
    let stranger = crate::testing::pod("kubia-7", json!({"app": "other"}));
    f.api.create(stranger).await;
    f.sync().await;
    let adopted = f.api.get("pods", "default", "kubia-0").await.unwrap();
    let refs = owner_refs(&adopted);
    assert_eq!(refs.len(), 1, "{adopted}");
    assert_eq!((refs[0]["kind"].as_str(), refs[0]["controller"].as_bool()), (Some("StatefulSet"), Some(true)));
    let other = f.api.get("pods", "default", "kubia-7").await.unwrap();
    assert!(owner_refs(&other).is_empty(), "a pod the selector does not match stays an orphan");
    assert_eq!(f.pod_names().await, ["kubia-0", "kubia-7"], "no second kubia-0, and kubia-7 is not condemned");
}
