//! Hollow nodes on tokio's paused clock: the fake runtime's hollow behaviours
//! (start delay, exits that complete Jobs, failing probes) through real pod
//! workers, and the shared pod watch reaching the right node.

use super::*;
use crate::api::testing::RecordingApi;
use crate::runtime::fake::{ANNOTATION_EXIT_AFTER, ANNOTATION_EXIT_CODE, ANNOTATION_PROBE};
use serde_json::{json, Value};
use std::collections::HashSet;
use tokio::time::Instant;

const PREFIX: &str = "hollow-node-";

/// `count` hollow nodes whose writes land in one recording API each.
fn hollow_nodes(count: usize, behaviour: Hollow) -> (HollowNodes, Vec<Arc<RecordingApi>>) {
    let mut nodes = Vec::new();
    let mut apis = Vec::new();
    for i in 0..count {
        let runtime = Arc::new(FakeRuntime::hollow(&pod_ip_prefix(i), behaviour.clone()));
        let settings = Settings {
            node_name: node_name(PREFIX, i),
            node_ip: node_ip(i),
            pause_image: "kubelab/pause:latest".into(),
            backoff: pods::backoff::Policy::default(),
            relist_period: Duration::from_secs(1),
            resync_period: Duration::from_secs(60),
            runtime_name: "docker",
            node_cpu_millis: 8000,
            node_memory_bytes: 32 << 30,
            root_dir: std::env::temp_dir().join("kubelab-hollow-tests").join(node_name(PREFIX, i)),
            shared: Default::default(),
        };
        let api = Arc::new(RecordingApi::default());
        let clock = runtime.clock();
        nodes.push(HollowNode { kubelet: Kubelet::new(settings, runtime.clone(), api.clone(), clock), runtime });
        apis.push(api);
    }
    (HollowNodes::new(PREFIX, nodes), apis)
}

fn pod(name: &str, node: &str, policy: &str, annotations: Value, container: Value) -> Value {
    let mut c = json!({"name": "app", "image": "busybox", "imagePullPolicy": "IfNotPresent"});
    if let (Some(c), Some(extra)) = (c.as_object_mut(), container.as_object()) {
        c.extend(extra.clone());
    }
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": "default", "uid": format!("uid-{name}"), "annotations": annotations},
        "spec": {"nodeName": node, "restartPolicy": policy, "terminationGracePeriodSeconds": 30, "containers": [c]},
        "status": {"phase": "Pending"},
    })
}

fn phase(api: &RecordingApi, pod: &str) -> String {
    api.status(pod).map(|s| s["phase"].as_str().unwrap_or("").to_string()).unwrap_or_default()
}

/// Waits (in virtual time, up to `limit`) until `f` holds.
async fn wait_for(what: &str, limit: Duration, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if f() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("timed out after {limit:?} waiting for {what}");
}

/// Relists every node as the shared relist task does.
fn relist(nodes: &Arc<HollowNodes>) -> tokio::task::JoinHandle<()> {
    let nodes = nodes.clone();
    tokio::spawn(async move { nodes.run_relist(Duration::from_secs(1), std::future::pending()).await })
}

#[test]
fn annotations_override_the_node_behaviour() {
    let defaults = Hollow { exit_after: Some(Duration::from_secs(3)), ..Hollow::default() };
    let job = pod("job", "n", "OnFailure", json!({}), json!({}));
    assert_eq!(defaults.for_pod(&typed(job.clone())).exit_after, Some(Duration::from_secs(3)));
    let web = pod("web", "n", "Always", json!({}), json!({}));
    assert_eq!(defaults.for_pod(&typed(web.clone())).exit_after, None, "the default exit would crash-loop Deployments");
    let told = pod(
        "told",
        "n",
        "Always",
        json!({ANNOTATION_EXIT_AFTER: "5s", ANNOTATION_EXIT_CODE: "2", ANNOTATION_PROBE: "fail"}),
        json!({}),
    );
    let b = defaults.for_pod(&typed(told.clone()));
    assert_eq!((b.exit_after, b.exit_code, b.probe_fail), (Some(Duration::from_secs(5)), 2, true));
    let failing = Hollow { probe_fail: true, ..Hollow::default() };
    assert!(
        !failing.for_pod(&typed(pod("ok", "n", "Always", json!({ANNOTATION_PROBE: "succeed"}), json!({})))).probe_fail
    );
}

#[test]
fn addresses_are_unique_and_leases_spread_over_the_interval() {
    let pods: HashSet<String> = (0..16_384).map(pod_ip_prefix).collect();
    assert_eq!(pods.len(), 16_384);
    let nodes: HashSet<String> = (0..100_000).map(node_ip).collect();
    assert_eq!(nodes.len(), 100_000);
    let interval = Duration::from_secs(10);
    // Any 50 consecutive nodes (one registration batch) land in every second of the interval.
    let seconds: HashSet<u64> = (100..150).map(|i| lease_phase(i, interval).as_secs()).collect();
    assert_eq!(seconds.len(), 10, "{seconds:?}");
    assert!((0..5000).all(|i| lease_phase(i, interval) < interval));
}

#[tokio::test(start_paused = true)]
async fn the_shared_watch_reaches_only_the_named_node() {
    let (nodes, _apis) = hollow_nodes(3, Hollow::default());
    let names = ["hollow-node-1", "hollow-node-3", "hollow-node-01", "hollow-node-", "other-node-1", ""];
    for (i, node) in names.iter().enumerate() {
        nodes.dispatch(Event::Applied(typed(pod(&format!("p{i}"), node, "Always", json!({}), json!({})))));
    }
    let counts: Vec<usize> = nodes.nodes().iter().map(|n| n.kubelet.pod_count()).collect();
    assert_eq!(counts, [0, 1, 0], "only hollow-node-1 exists among those names");
    assert!(nodes.get("hollow-node-2").is_some());

    // The runtime remembers a pod's own behaviour until the pod is deleted.
    let told = pod("told", "hollow-node-2", "Always", json!({ANNOTATION_PROBE: "fail"}), json!({}));
    nodes.dispatch(Event::Applied(typed(told.clone())));
    assert_eq!(nodes.nodes()[2].runtime.hollow_pod_count(), 1);
    nodes.dispatch(Event::Deleted(typed(told)));
    assert_eq!(nodes.nodes()[2].runtime.hollow_pod_count(), 0);
}

#[tokio::test(start_paused = true)]
async fn pods_turn_running_after_the_start_delay_with_the_nodes_ips() {
    let (nodes, apis) = hollow_nodes(2, Hollow { start_delay: Duration::from_secs(5), ..Hollow::default() });
    let nodes = Arc::new(nodes);
    let _relist = relist(&nodes);
    nodes.dispatch(Event::Synced);
    let start = Instant::now();
    nodes.dispatch(Event::Applied(typed(pod("a", "hollow-node-0", "Always", json!({}), json!({})))));
    nodes.dispatch(Event::Applied(typed(pod("b", "hollow-node-1", "Always", json!({}), json!({})))));
    tokio::time::sleep(Duration::from_millis(4900)).await;
    assert_ne!(phase(&apis[0], "a"), "Running", "still starting");
    wait_for("Running", Duration::from_secs(2), || phase(&apis[0], "a") == "Running").await;
    assert!(start.elapsed() >= Duration::from_secs(5));
    wait_for("Running on node 1", Duration::from_secs(2), || phase(&apis[1], "b") == "Running").await;
    let a = apis[0].status("a").unwrap();
    let b = apis[1].status("b").unwrap();
    assert_eq!(a["podIP"], "10.64.0.2");
    assert_eq!(b["podIP"], "10.64.1.2");
    assert_eq!(a["hostIP"], node_ip(0));
}

#[tokio::test(start_paused = true)]
async fn job_pods_complete_after_the_exit_delay_and_others_keep_running() {
    let (nodes, apis) = hollow_nodes(1, Hollow { exit_after: Some(Duration::from_secs(3)), ..Hollow::default() });
    let nodes = Arc::new(nodes);
    let _relist = relist(&nodes);
    nodes.dispatch(Event::Synced);
    let node = "hollow-node-0";
    nodes.dispatch(Event::Applied(typed(pod("job", node, "OnFailure", json!({}), json!({})))));
    nodes.dispatch(Event::Applied(typed(pod("web", node, "Always", json!({}), json!({})))));
    let failing = json!({ANNOTATION_EXIT_AFTER: "2s", ANNOTATION_EXIT_CODE: "1"});
    nodes.dispatch(Event::Applied(typed(pod("broken", node, "Never", failing, json!({})))));
    let api = &apis[0];
    wait_for("Succeeded", Duration::from_secs(10), || phase(api, "job") == "Succeeded").await;
    let terminated = &api.status("job").unwrap()["containerStatuses"][0]["state"]["terminated"];
    assert_eq!(terminated["exitCode"], 0);
    wait_for("Failed", Duration::from_secs(10), || phase(api, "broken") == "Failed").await;
    tokio::time::sleep(Duration::from_secs(30)).await;
    assert_eq!(phase(api, "web"), "Running");
    assert_eq!(api.status("web").unwrap()["containerStatuses"][0]["restartCount"], 0);
}

#[tokio::test(start_paused = true)]
async fn probes_fail_when_the_pod_says_so() {
    let (nodes, apis) = hollow_nodes(1, Hollow::default());
    let nodes = Arc::new(nodes);
    let _relist = relist(&nodes);
    nodes.dispatch(Event::Synced);
    let probe = json!({"readinessProbe": {"exec": {"command": ["true"]}, "periodSeconds": 1}});
    let node = "hollow-node-0";
    nodes.dispatch(Event::Applied(typed(pod(
        "sick",
        node,
        "Always",
        json!({ANNOTATION_PROBE: "fail"}),
        probe.clone(),
    ))));
    nodes.dispatch(Event::Applied(typed(pod("well", node, "Always", json!({}), probe))));
    let api = &apis[0];
    let ready = |pod: &str| api.status(pod).map(|s| s["containerStatuses"][0]["ready"].clone());
    wait_for("well ready", Duration::from_secs(10), || ready("well") == Some(json!(true))).await;
    tokio::time::sleep(Duration::from_secs(10)).await;
    assert_eq!(phase(api, "sick"), "Running");
    assert_eq!(ready("sick"), Some(json!(false)));
    assert!(api.count_events("Unhealthy") > 0, "{:?}", api.event_log());
}

/// A pod from its JSON form, as the API serves it.
fn typed(pod: Value) -> Arc<k8s_openapi::api::core::v1::Pod> {
    Arc::new(serde_json::from_value(pod).expect("a pod"))
}
