//! Deployment tests against a real in-process apiserver. The ReplicaSet
//! controller and the kubelets are played by [`Fixture::settle`], which sets
//! each ReplicaSet's status the way they would, one step at a time, so every
//! intermediate state of a rollout can be checked against its bounds.

use super::*;
use crate::testing::controller_ref;
use crate::testing::{self, typed, TestApi};
use api::meta;
use api::ResourceInfo;
use client::Resource;
use serde_json::json;

fn deployments() -> &'static ResourceInfo {
    Deployment::info()
}

fn replica_sets() -> &'static ResourceInfo {
    ReplicaSet::info()
}

/// What the tests read of a ReplicaSet as the server returns it.
fn spec_replicas(rs: &Value) -> i64 {
    rs["spec"]["replicas"].as_i64().unwrap_or(0)
}

fn status_count(rs: &Value, field: &str) -> i64 {
    rs["status"][field].as_i64().unwrap_or(0)
}

fn revision(rs: &Value) -> i64 {
    rs["metadata"]["annotations"][REVISION].as_str().and_then(|s| s.parse().ok()).unwrap_or(0)
}

fn controller_of(obj: &Value) -> Option<&Value> {
    obj["metadata"]["ownerReferences"].as_array()?.iter().find(|r| r["controller"] == true)
}

/// Replaces what `informer` holds with `objects`.
fn fill<K: Object>(informer: &SharedInformer<K>, objects: Vec<Value>) {
    for key in informer.store().keys() {
        informer.store().remove(&key);
    }
    for obj in objects {
        informer.store().insert(typed(&obj));
    }
}

struct Fixture {
    api: TestApi,
    ctrl: DeploymentController,
    clock: Clock,
}

fn deployment(name: &str, replicas: i64, image: &str) -> Value {
    json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "nodejs", "image": image}]},
            },
        },
    })
}

impl Fixture {
    async fn new() -> Self {
        let api = TestApi::start().await;
        let clock = Clock::manual();
        let ctrl = DeploymentController::with(
            Arc::new(SharedInformer::new(deployments())),
            Arc::new(SharedInformer::new(replica_sets())),
            Arc::new(SharedInformer::new(pods::pods())),
            api.client.clone(),
            clock.clone(),
        );
        Self { api, ctrl, clock }
    }

    /// Fills the caches with what the server holds now, as a caught-up watch would.
    async fn refresh(&self) {
        fill(&self.ctrl.deployments, self.api.list("deployments", "default").await);
        fill(&self.ctrl.replica_sets, self.api.list("replicasets", "default").await);
        fill(&self.ctrl.pods, self.api.list("pods", "default").await);
    }

    async fn sync(&self, name: &str) {
        self.refresh().await;
        self.ctrl.reconcile(&format!("default/{name}")).await.unwrap();
        self.refresh().await;
    }

    async fn replica_sets(&self) -> Vec<Value> {
        let mut all = self.api.list("replicasets", "default").await;
        all.sort_by_key(revision);
        all
    }

    /// One step of the ReplicaSet controller and kubelets: every ReplicaSet has
    /// as many pods as it asks for, and pods that existed at the last step are
    /// now available (a new pod needs one step to become ready).
    async fn settle(&self) {
        for mut rs in self.api.list("replicasets", "default").await {
            let want = spec_replicas(&rs);
            let available = want.min(status_count(&rs, "replicas"));
            rs["status"] = json!({"replicas": want, "readyReplicas": available, "availableReplicas": available,
                                  "observedGeneration": rs["metadata"]["generation"]});
            self.api.client.update_status(replica_sets(), "default", &rs).await.unwrap();
        }
    }

    async fn edit(&self, name: &str, change: impl FnOnce(&mut Value)) {
        let mut d = self.api.get("deployments", "default", name).await.unwrap();
        change(&mut d);
        self.api.client.update(deployments(), "default", &d).await.unwrap();
    }

    async fn get(&self, name: &str) -> Value {
        self.api.get("deployments", "default", name).await.unwrap()
    }
}

#[test]
fn surge_rounds_up_and_unavailability_down() {
    let v = |v: Value| -> IntOrString { serde_json::from_value(v).unwrap() };
    assert_eq!(scaled_value(&v(json!("25%")), 3, true), 1);
    assert_eq!(scaled_value(&v(json!("25%")), 3, false), 0);
    assert_eq!(scaled_value(&v(json!("25%")), 10, true), 3);
    assert_eq!(scaled_value(&v(json!("25%")), 10, false), 2);
    assert_eq!(scaled_value(&v(json!(2)), 10, false), 2);
    let mut d = deployment("kubia", 3, "luksa/kubia:v1");
    d["spec"]["strategy"] = json!({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 0, "maxUnavailable": 0}});
    assert_eq!(surge_and_unavailable(&typed(&d)), (0, 1), "zero and zero would never move");
}

#[test]
fn the_template_hash_is_stable_and_spelled_safely() {
    let t: PodTemplateSpec =
        serde_json::from_value(deployment("kubia", 3, "luksa/kubia:v1")["spec"]["template"].clone()).unwrap();
    let same: PodTemplateSpec = serde_json::from_str(&serde_json::to_string(&t).unwrap()).unwrap();
    assert_eq!(template_hash(&t), template_hash(&same));
    let other: PodTemplateSpec =
        serde_json::from_value(deployment("kubia", 3, "luksa/kubia:v2")["spec"]["template"].clone()).unwrap();
    assert_ne!(template_hash(&t), template_hash(&other));
    assert!(template_hash(&t).chars().all(|c| "bcdfghjklmnpqrstvwxz2456789".contains(c)));
}

#[tokio::test]
async fn a_new_deployment_gets_a_replica_set_named_by_its_template_hash() {
    let f = Fixture::new().await;
    f.api.create(deployment("kubia", 3, "luksa/kubia:v1")).await;
    f.sync("kubia").await;
    let all = f.replica_sets().await;
    assert_eq!(all.len(), 1);
    let rs = &all[0];
    let hash = rs["metadata"]["labels"][HASH_LABEL].as_str().unwrap().to_string();
    assert_eq!(meta::name(rs), format!("kubia-{hash}"));
    assert_eq!(rs["spec"]["selector"]["matchLabels"], json!({"app": "kubia", HASH_LABEL: hash}));
    assert_eq!(rs["spec"]["template"]["metadata"]["labels"][HASH_LABEL], hash.as_str());
    assert_eq!(spec_replicas(rs), 3);
    let annotations = &rs["metadata"]["annotations"];
    assert_eq!((annotations[REVISION].as_str(), annotations[DESIRED_REPLICAS].as_str()), (Some("1"), Some("3")));
    assert_eq!(annotations[MAX_REPLICAS], "4", "25% of 3 surges by one");
    assert_eq!(controller_of(rs).unwrap()["kind"], "Deployment");

    f.settle().await;
    f.settle().await;
    f.sync("kubia").await;
    let d = f.get("kubia").await;
    assert_eq!(d["metadata"]["annotations"][REVISION], "1");
    let status = &d["status"];
    assert_eq!(
        (status["replicas"].as_i64(), status["updatedReplicas"].as_i64(), status["availableReplicas"].as_i64()),
        (Some(3), Some(3), Some(3))
    );
    assert_eq!(status["conditions"][0]["reason"], "MinimumReplicasAvailable");
    assert_eq!(status["conditions"][1]["reason"], "NewReplicaSetAvailable");
    assert_eq!(status["conditions"][1]["message"], format!("ReplicaSet \"kubia-{hash}\" has successfully progressed."));
}

/// Rolls `kubia` from v1 to v2 step by step; checks the bounds at every step.
async fn roll(f: &Fixture, replicas: i64, surge: i64, unavailable: i64) {
    for step in 0..50 {
        f.sync("kubia").await;
        let all = f.replica_sets().await;
        let total: i64 = all.iter().map(spec_replicas).sum();
        assert!(total <= replicas + surge, "step {step}: {total} pods exceed {replicas} + {surge}");
        f.settle().await;
        let all = f.replica_sets().await;
        let available: i64 = all.iter().map(|rs| status_count(rs, "availableReplicas")).sum();
        assert!(available >= replicas - unavailable, "step {step}: only {available} available");
        let new = all.iter().find(|rs| rs["spec"]["template"]["spec"]["containers"][0]["image"] == "luksa/kubia:v2");
        let old_total: i64 = all
            .iter()
            .filter(|rs| rs["spec"]["template"]["spec"]["containers"][0]["image"] != "luksa/kubia:v2")
            .map(spec_replicas)
            .sum();
        if old_total == 0 && new.is_some_and(|n| status_count(n, "availableReplicas") == replicas) {
            return;
        }
    }
    panic!("the rollout did not finish");
}

#[tokio::test]
async fn a_rolling_update_stays_within_surge_and_unavailability() {
    let f = Fixture::new().await;
    let mut d = deployment("kubia", 4, "luksa/kubia:v1");
    d["spec"]["strategy"] = json!({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": "25%"}});
    f.api.create(d).await;
    f.sync("kubia").await;
    f.settle().await;
    f.settle().await;
    f.edit("kubia", |d| d["spec"]["template"]["spec"]["containers"][0]["image"] = "luksa/kubia:v2".into()).await;
    roll(&f, 4, 1, 1).await;
    f.sync("kubia").await;
    let all = f.replica_sets().await;
    assert_eq!(all.len(), 2, "the old replica set is kept for rollbacks");
    assert_eq!((revision(&all[0]), spec_replicas(&all[0])), (1, 0));
    assert_eq!((revision(&all[1]), spec_replicas(&all[1])), (2, 4));
    let d = f.get("kubia").await;
    assert_eq!(d["metadata"]["annotations"][REVISION], "2");
    assert_eq!(d["status"]["updatedReplicas"], 4);
    assert_eq!(d["status"]["conditions"][1]["reason"], "NewReplicaSetAvailable");
}

#[tokio::test]
async fn recreate_removes_every_old_pod_before_starting_new_ones() {
    let f = Fixture::new().await;
    let mut d = deployment("kubia", 2, "luksa/kubia:v1");
    d["spec"]["strategy"] = json!({"type": "Recreate"});
    f.api.create(d).await;
    f.sync("kubia").await;
    f.settle().await;
    let old = f.replica_sets().await.remove(0);
    let mut pod = testing::pod("kubia-old", json!({"app": "kubia"}));
    pod["metadata"]["ownerReferences"] = json!([controller_ref(&old)]);
    f.api.create(pod).await;

    f.edit("kubia", |d| d["spec"]["template"]["spec"]["containers"][0]["image"] = "luksa/kubia:v2".into()).await;
    f.sync("kubia").await;
    let all = f.replica_sets().await;
    assert_eq!(all.len(), 1, "no new replica set while old pods run");
    assert_eq!(spec_replicas(&all[0]), 0);
    f.settle().await;
    f.sync("kubia").await;
    assert_eq!(f.replica_sets().await.len(), 1, "the old pod still exists");

    f.api
        .client
        .delete(
            pods::pods(),
            "default",
            "kubia-old",
            &DeleteParams { grace_period_seconds: Some(0), ..Default::default() },
        )
        .await
        .unwrap();
    f.sync("kubia").await;
    let all = f.replica_sets().await;
    assert_eq!(all.len(), 2);
    assert_eq!((revision(&all[1]), spec_replicas(&all[1])), (2, 2));
}

#[tokio::test]
async fn rolling_back_reuses_the_old_replica_set_as_the_newest_revision() {
    let f = Fixture::new().await;
    f.api.create(deployment("kubia", 2, "luksa/kubia:v1")).await;
    f.sync("kubia").await;
    f.settle().await;
    f.settle().await;
    let v1_template = f.get("kubia").await["spec"]["template"].clone();
    f.edit("kubia", |d| d["spec"]["template"]["spec"]["containers"][0]["image"] = "luksa/kubia:v2".into()).await;
    roll(&f, 2, 1, 0).await;
    // `kubectl rollout undo`: the template of revision 1 goes back into the Deployment.
    f.edit("kubia", |d| d["spec"]["template"] = v1_template).await;
    f.sync("kubia").await;
    let all = f.replica_sets().await;
    assert_eq!(all.len(), 2, "no third replica set");
    let v1 =
        all.iter().find(|rs| rs["spec"]["template"]["spec"]["containers"][0]["image"] == "luksa/kubia:v1").unwrap();
    assert_eq!(revision(v1), 3);
    assert_eq!(f.get("kubia").await["metadata"]["annotations"][REVISION], "3");
}

#[tokio::test]
async fn old_replica_sets_beyond_the_history_limit_are_deleted() {
    let f = Fixture::new().await;
    let mut d = deployment("kubia", 1, "luksa/kubia:v0");
    d["spec"]["revisionHistoryLimit"] = 1.into();
    d["spec"]["strategy"] = json!({"type": "Recreate"});
    f.api.create(d).await;
    for v in 1..=3 {
        f.edit("kubia", |d| {
            d["spec"]["template"]["spec"]["containers"][0]["image"] = format!("luksa/kubia:v{v}").into()
        })
        .await;
        for _ in 0..4 {
            f.sync("kubia").await;
            f.settle().await;
        }
    }
    f.sync("kubia").await;
    let revisions: Vec<i64> = f.replica_sets().await.iter().map(revision).collect();
    assert_eq!(revisions, [2, 3], "the new one (v3) and one old one (v2)");
}

#[tokio::test]
async fn a_paused_deployment_scales_but_does_not_roll_out() {
    let f = Fixture::new().await;
    f.api.create(deployment("kubia", 2, "luksa/kubia:v1")).await;
    f.sync("kubia").await;
    f.settle().await;
    f.edit("kubia", |d| {
        d["spec"]["paused"] = true.into();
        d["spec"]["replicas"] = 5.into();
        d["spec"]["template"]["spec"]["containers"][0]["image"] = "luksa/kubia:v2".into();
    })
    .await;
    f.sync("kubia").await;
    let all = f.replica_sets().await;
    assert_eq!(all.len(), 1);
    assert_eq!(spec_replicas(&all[0]), 5);
    assert_eq!(f.get("kubia").await["status"]["conditions"][1]["reason"], "DeploymentPaused");
    f.edit("kubia", |d| d["spec"]["paused"] = false.into()).await;
    f.sync("kubia").await;
    assert_eq!(f.replica_sets().await.len(), 2, "resumed: the rollout starts");
    let _ = &f.clock;
}
