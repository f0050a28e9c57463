//! DaemonSet tests: the book's ssd-monitor against cached nodes and pods, pod
//! writes to a recording fake, status to an in-process apiserver.

use super::*;
use crate::pods;
use crate::testing::{typed, FakePodControl, TestApi};
use api::meta;
use api::time::format as format_time;
use api::ResourceInfo;
use client::Resource;
use serde_json::{json, Value};

fn daemon_sets() -> &'static ResourceInfo {
    DaemonSet::info()
}

struct Fixture {
    api: TestApi,
    ctrl: DaemonSetController,
    fake: Arc<FakePodControl>,
    seq: std::sync::atomic::AtomicUsize,
}

fn ssd_monitor() -> Value {
    json!({
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": {"name": "ssd-monitor", "namespace": "default"},
        "spec": {
            "selector": {"matchLabels": {"app": "ssd-monitor"}},
            "template": {
                "metadata": {"labels": {"app": "ssd-monitor"}},
                "spec": {"nodeSelector": {"disk": "ssd"}, "containers": [{"name": "main", "image": "luksa/ssd-monitor"}]},
            },
        },
    })
}

fn node(name: &str, labels: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": name, "labels": labels}, "spec": {}})
}

impl Fixture {
    async fn new() -> Self {
        let api = TestApi::start().await;
        let ds = api.create(ssd_monitor()).await;
        let dss = Arc::new(SharedInformer::new(daemon_sets()));
        dss.store().insert(typed(&ds));
        let fake = Arc::new(FakePodControl::default());
        let ctrl = DaemonSetController::with(
            dss,
            Arc::new(SharedInformer::new(Node::info())),
            Arc::new(SharedInformer::new(pods::pods())),
            fake.clone(),
            api.client.clone(),
            Clock::manual(),
        );
        Self { api, ctrl, fake, seq: Default::default() }
    }

    async fn sync(&self) {
        let ds = self.api.get("daemonsets", "default", "ssd-monitor").await.unwrap();
        self.ctrl.daemon_sets.store().insert(typed(&ds));
        self.ctrl.reconcile("default/ssd-monitor").await.unwrap();
    }

    /// Created pods appear in the cache, running and ready; deleted ones disappear.
    fn observe(&self) -> (Vec<String>, Vec<String>) {
        let created: Vec<Value> = self.fake.created.lock().unwrap().drain(..).collect();
        let mut nodes = vec![];
        for mut p in created {
            let n = self.seq.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            p["metadata"]["name"] = format!("ssd-monitor-{n}").into();
            p["metadata"]["uid"] = format!("uid-{n}").into();
            let node = target_node(&typed(&p)).unwrap();
            p["spec"]["nodeName"] = node.clone().into();
            p["status"] = json!({"phase": "Running", "conditions": [{"type": "Ready", "status": "True",
                "lastTransitionTime": format_time(jiff::Timestamp::now())}]});
            let p: Arc<Pod> = Arc::new(typed(&p));
            self.ctrl.pods.store().insert((*p).clone());
            self.ctrl.pod_changed(&Change::Added(p), &WorkQueue::default());
            nodes.push(node);
        }
        let deleted: Vec<String> = self.fake.deleted.lock().unwrap().drain(..).collect();
        let mut gone = vec![];
        for key in deleted {
            if let Some(p) = self.ctrl.pods.store().remove(&key) {
                gone.push(api::pod::node_name(&p).to_string());
                self.ctrl.pod_changed(&Change::Deleted(p), &WorkQueue::default());
            }
        }
        nodes.sort();
        gone.sort();
        (nodes, gone)
    }

    fn set_node(&self, n: Value) {
        self.ctrl.nodes.store().insert(typed(&n));
    }

    async fn status(&self) -> Value {
        self.api.get("daemonsets", "default", "ssd-monitor").await.unwrap()["status"].clone()
    }
}

#[test]
fn node_fit_follows_selectors_affinity_and_taints() {
    let spec: PodSpec = serde_json::from_value(json!({"nodeSelector": {"disk": "ssd"}})).unwrap();
    let node = |name: &str, labels: Value| -> Node { typed(&node(name, labels)) };
    assert_eq!(node_should_run(&spec, &node("a", json!({"disk": "ssd"}))), (true, true));
    assert_eq!(node_should_run(&spec, &node("b", json!({}))), (false, false));
    let tainted = |taints: Value| -> Node {
        let mut n = self::node("c", json!({"disk": "ssd"}));
        n["spec"]["taints"] = taints;
        typed(&n)
    };
    let tainted_c = tainted(json!([{"key": "dedicated", "value": "db", "effect": "NoSchedule"}]));
    assert_eq!(node_should_run(&spec, &tainted_c), (false, true), "a NoSchedule taint keeps a running pod");
    let tainted_c = tainted(json!([{"key": "node.kubernetes.io/not-ready", "effect": "NoExecute"},
                                   {"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"}]));
    assert_eq!(node_should_run(&spec, &tainted_c), (true, true), "daemon pods tolerate these by default");
    let affinity: PodSpec = serde_json::from_value(
        json!({"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
        "nodeSelectorTerms": [{"matchExpressions": [{"key": "zone", "operator": "In", "values": ["east"]}]}]}}}}),
    )
    .unwrap();
    assert!(selects_node(&affinity, &node("d", json!({"zone": "east"}))));
    assert!(!selects_node(&affinity, &node("e", json!({"zone": "west"}))));
}

#[tokio::test]
async fn one_pod_per_matching_node_follows_node_labels() {
    let f = Fixture::new().await;
    f.set_node(node("node-1", json!({"disk": "ssd"})));
    f.set_node(node("node-2", json!({})));
    f.sync().await;
    let created = f.fake.created.lock().unwrap().clone();
    assert_eq!(created.len(), 1);
    let pod = &created[0];
    assert_eq!(meta::generate_name(pod), "ssd-monitor-");
    assert_eq!(
        pod["spec"]["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"],
        json!([{"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["node-1"]}]}])
    );
    assert!(pod["spec"].get("nodeName").is_none(), "the scheduler binds it");
    assert_eq!(pod["spec"]["tolerations"].as_array().unwrap().len(), 6);
    assert_eq!(f.observe().0, ["node-1"]);
    f.sync().await;
    let status = f.status().await;
    assert_eq!(
        (
            status["desiredNumberScheduled"].as_i64(),
            status["currentNumberScheduled"].as_i64(),
            status["numberReady"].as_i64()
        ),
        (Some(1), Some(1), Some(1))
    );
    assert_eq!(status["updatedNumberScheduled"], 1);

    // The book: label node-2 with disk=ssd, and a pod follows.
    f.set_node(node("node-2", json!({"disk": "ssd"})));
    f.sync().await;
    assert_eq!(f.observe().0, ["node-2"]);
    // Changing node-1's label removes its pod.
    f.set_node(node("node-1", json!({"disk": "hdd"})));
    f.sync().await;
    assert_eq!(f.observe().1, ["node-1"]);
    f.sync().await;
    let status = f.status().await;
    assert_eq!((status["desiredNumberScheduled"].as_i64(), status["numberMisscheduled"].as_i64()), (Some(1), Some(0)));
}

#[tokio::test]
async fn a_template_change_replaces_pods_within_max_unavailable() {
    let f = Fixture::new().await;
    for n in 1..=3 {
        f.set_node(node(&format!("node-{n}"), json!({"disk": "ssd"})));
    }
    f.sync().await;
    assert_eq!(f.observe().0.len(), 3);
    let mut ds = f.api.get("daemonsets", "default", "ssd-monitor").await.unwrap();
    ds["spec"]["template"]["spec"]["containers"][0]["image"] = "luksa/ssd-monitor:v2".into();
    f.api.client.update(daemon_sets(), "default", &ds).await.unwrap();
    let mut replaced = 0;
    for _ in 0..10 {
        f.sync().await;
        let (created, deleted) = f.observe();
        assert!(deleted.len() <= 1, "maxUnavailable 1: one node at a time, got {deleted:?}");
        replaced += created.len();
        if replaced == 3 {
            break;
        }
    }
    assert_eq!(replaced, 3);
    f.sync().await;
    assert_eq!(f.status().await["updatedNumberScheduled"], 3);
}
