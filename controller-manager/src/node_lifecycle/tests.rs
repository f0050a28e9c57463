//! A node's kubelet stops: the node lifecycle, taint eviction and pod GC
//! controllers together, against a real in-process apiserver, with the manual
//! clock standing for the time that passes.

use super::*;
use crate::testing::{self, TestApi};
use api::time::{format, format_micro};
use client::DeleteParams;
use serde_json::Value;

fn config() -> crate::Config {
    let mut config = testing::config();
    config.node_monitor_period = Duration::from_millis(20);
    config.pod_eviction_timeout = Duration::from_secs(10);
    config
}

/// A node as its kubelet registers it: Ready, with a fresh heartbeat and Lease.
async fn register(api: &TestApi, clock: &Clock, name: &str) {
    api.create(json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": name}})).await;
    post_status(api, clock, name, "True").await;
    let lease = json!({"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                       "metadata": {"name": name, "namespace": "kube-node-lease"},
                       "spec": {"holderIdentity": name, "leaseDurationSeconds": 40,
                                "renewTime": format_micro(clock.now())}});
    api.create(lease).await;
}

async fn post_status(api: &TestApi, clock: &Clock, name: &str, ready: &str) {
    let mut node = api.get("nodes", "", name).await.unwrap();
    let now = format(clock.now());
    let kinds = [("Ready", ready), ("MemoryPressure", "False"), ("DiskPressure", "False"), ("PIDPressure", "False")];
    let conditions: Vec<Value> = kinds
        .iter()
        .map(|(kind, status)| {
            json!({"type": kind, "status": status, "reason": "KubeletReady", "message": "kubelet is posting ready status",
                   "lastHeartbeatTime": now, "lastTransitionTime": now})
        })
        .collect();
    node["status"]["conditions"] = conditions.into();
    api.client.update_status(<Node as client::Resource>::info(), "", &node).await.unwrap();
}

async fn renew_lease(api: &TestApi, clock: &Clock, name: &str) {
    let leases = testing::info("leases");
    let mut lease = api.get("leases", "kube-node-lease", name).await.unwrap();
    lease["spec"]["renewTime"] = format_micro(clock.now()).into();
    api.client.update(leases, "kube-node-lease", &lease).await.unwrap();
}

/// Time passes; node-2's kubelet keeps renewing, node-1's does not.
async fn pass(api: &TestApi, clock: &Clock, secs: u64) {
    clock.advance(Duration::from_secs(secs));
    renew_lease(api, clock, "node-2").await;
    tokio::time::sleep(Duration::from_millis(100)).await;
}

async fn running_pod(api: &TestApi, name: &str, node: &str) -> Value {
    api.create(testing::pod(name, json!({"app": "kubia"}))).await;
    let binding = json!({"apiVersion": "v1", "kind": "Binding", "metadata": {"name": name},
                         "target": {"apiVersion": "v1", "kind": "Node", "name": node}});
    let pods = crate::pods::pods();
    api.client.create_subresource(pods, "default", name, "binding", &binding).await.unwrap();
    let mut pod = api.get("pods", "default", name).await.unwrap();
    pod["status"]["phase"] = "Running".into();
    pod["status"]["conditions"] =
        json!([{"type": "Ready", "status": "True", "lastTransitionTime": format(Timestamp::now())}]);
    api.client.update_status(pods, "default", &pod).await.unwrap()
}

fn taint_keys(node: &Node) -> Vec<String> {
    let mut keys: Vec<String> = taints_of(node).iter().map(|t| format!("{}:{}", t.key, t.effect)).collect();
    keys.sort();
    keys
}

async fn get_node(api: &TestApi, name: &str) -> Node {
    Api::<Node>::all(&api.client).get(name).await.unwrap()
}

/// `kubectl taint node <name> node.kubernetes.io/out-of-service=nodeshutdown:NoExecute`.
async fn mark_out_of_service(api: &TestApi, name: &str) {
    let mut node = api.get("nodes", "", name).await.unwrap();
    let taint = json!({"key": "node.kubernetes.io/out-of-service", "value": "nodeshutdown", "effect": "NoExecute"});
    match node["spec"]["taints"].as_array_mut() {
        Some(taints) => taints.push(taint),
        None => node["spec"]["taints"] = json!([taint]),
    }
    api.client.update(crate::testing::info("nodes"), "", &node).await.unwrap();
}

async fn get_pod(api: &TestApi, name: &str) -> Option<Pod> {
    match Api::<Pod>::namespaced(&api.client, "default").get(name).await {
        Ok(pod) => Some(pod),
        Err(e) if e.is_not_found() => None,
        Err(e) => panic!("get pod {name}: {e}"),
    }
}

#[tokio::test]
async fn a_silent_node_is_marked_unknown_tainted_and_its_pods_evicted_then_restored() {
    let api = TestApi::start().await;
    let clock = Clock::manual();
    register(&api, &clock, "node-1").await;
    register(&api, &clock, "node-2").await;
    let pod = running_pod(&api, "kubia-x", "node-1").await;
    let tolerations = pod["spec"]["tolerations"].to_string();
    assert!(tolerations.contains(UNREACHABLE) && tolerations.contains("300"), "defaulted tolerations: {tolerations}");

    let ctx = api.context(config(), clock.clone());
    let controllers: Vec<Arc<dyn Controller>> = vec![
        Arc::new(NodeLifecycleController::new(&ctx)),
        Arc::new(crate::taint_eviction::TaintEvictionController::new(&ctx)),
        Arc::new(crate::podgc::PodGcController::new(&ctx)),
    ];
    let _running: Vec<_> = controllers.into_iter().map(|c| testing::run_controller(&ctx, c)).collect();
    pass(&api, &clock, 0).await;
    assert!(taint_keys(&get_node(&api, "node-1").await).is_empty(), "healthy nodes carry no taints");

    // 40 s without a word from node-1 is still within the grace period.
    pass(&api, &clock, 20).await;
    pass(&api, &clock, 20).await;
    assert_eq!(ready_status(&get_node(&api, "node-1").await), "True");
    pass(&api, &clock, 1).await;
    api.eventually("node-1 is Unknown and tainted", || async {
        let node = get_node(&api, "node-1").await;
        ready_status(&node) == "Unknown"
            && taint_keys(&node) == [format!("{UNREACHABLE}:NoExecute"), format!("{UNREACHABLE}:NoSchedule")]
    })
    .await;
    let node_1 = get_node(&api, "node-1").await;
    for kind in KUBELET_CONDITIONS {
        let c = condition(&node_1, kind).unwrap();
        assert_eq!(
            (Some(c.status.as_str()), c.reason.as_deref(), c.message.as_deref()),
            (Some("Unknown"), Some("NodeStatusUnknown"), Some("Kubelet stopped posting node status.")),
            "{kind}"
        );
    }
    let no_execute = taints_of(&node_1).into_iter().find(|t| t.effect == "NoExecute").unwrap();
    assert!(no_execute.time_added.is_some(), "NoExecute taints say when they were added");
    assert_eq!(ready_status(&get_node(&api, "node-2").await), "True");
    assert!(taint_keys(&get_node(&api, "node-2").await).is_empty());
    api.eventually("the node event is recorded", || async {
        api.events_about("node-1").await.contains(&"NodeNotReady: Node node-1 status is now: NodeNotReady".to_string())
    })
    .await;
    api.eventually("its pod is marked not ready", || async {
        !api::pod::is_ready(&get_pod(&api, "kubia-x").await.unwrap())
    })
    .await;

    // The default tolerations last POD_EVICTION_TIMEOUT (10 s here) from the taint.
    pass(&api, &clock, 5).await;
    let kubia_x = get_pod(&api, "kubia-x").await.unwrap();
    assert!(kubia_x.metadata.deletion_timestamp.is_none(), "not evicted before its toleration runs out");
    pass(&api, &clock, 6).await;
    api.eventually("the pod is evicted", || async {
        get_pod(&api, "kubia-x").await.is_none_or(|p| p.metadata.deletion_timestamp.is_some())
    })
    .await;
    api.eventually("the eviction event is recorded", || async {
        api.events_about("kubia-x")
            .await
            .contains(&"TaintManagerEviction: Marking for deletion Pod default/kubia-x".to_string())
    })
    .await;
    // Its kubelet is down, so nobody finishes the deletion: the pod stays
    // Terminating (the node may only be cut off, the pod still running)
    // until an operator says the node is shut down.
    pass(&api, &clock, 31).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(get_pod(&api, "kubia-x").await.is_some(), "no pod GC for a node that may only be cut off");
    mark_out_of_service(&api, "node-1").await;
    api.eventually("the evicted pod is gone", || async { api.get("pods", "default", "kubia-x").await.is_none() }).await;

    // The kubelet comes back.
    renew_lease(&api, &clock, "node-1").await;
    post_status(&api, &clock, "node-1", "True").await;
    api.eventually("node-1's unreachable taints are removed, the operator's stays", || async {
        taint_keys(&get_node(&api, "node-1").await) == ["node.kubernetes.io/out-of-service:NoExecute"]
    })
    .await;
}

#[tokio::test]
async fn when_every_node_is_silent_nothing_is_evicted() {
    let api = TestApi::start().await;
    let clock = Clock::manual();
    register(&api, &clock, "node-1").await;
    running_pod(&api, "kubia-x", "node-1").await;
    let ctx = api.context(config(), clock.clone());
    let controllers: Vec<Arc<dyn Controller>> = vec![
        Arc::new(NodeLifecycleController::new(&ctx)),
        Arc::new(crate::taint_eviction::TaintEvictionController::new(&ctx)),
    ];
    let _running: Vec<_> = controllers.into_iter().map(|c| testing::run_controller(&ctx, c)).collect();
    tokio::time::sleep(Duration::from_millis(100)).await;
    clock.advance(Duration::from_secs(41));
    api.eventually("the only node is Unknown, with only the NoSchedule taint", || async {
        let node = get_node(&api, "node-1").await;
        ready_status(&node) == "Unknown" && taint_keys(&node) == [format!("{UNREACHABLE}:NoSchedule")]
    })
    .await;
    clock.advance(Duration::from_secs(600));
    tokio::time::sleep(Duration::from_millis(200)).await;
    let kubia_x = get_pod(&api, "kubia-x").await.unwrap();
    assert!(kubia_x.metadata.deletion_timestamp.is_none(), "a full disruption evicts nothing");
}

#[tokio::test]
async fn pods_stuck_terminating_on_shut_down_or_missing_nodes_are_force_deleted() {
    let api = TestApi::start().await;
    let clock = Clock::manual();
    register(&api, &clock, "node-down").await;
    post_status(&api, &clock, "node-down", "False").await;
    register(&api, &clock, "node-up").await;
    let mut slow = testing::pod("slow", json!({}));
    slow["spec"]["terminationGracePeriodSeconds"] = 600.into();
    api.create(slow).await;
    let pods = crate::pods::pods();
    for (pod, node) in [("slow", "node-down"), ("fine", "node-up"), ("orphan", "ghost")] {
        if pod != "slow" {
            api.create(testing::pod(pod, json!({}))).await;
        }
        let binding = json!({"apiVersion": "v1", "kind": "Binding", "metadata": {"name": pod},
                             "target": {"apiVersion": "v1", "kind": "Node", "name": node}});
        api.client.create_subresource(pods, "default", pod, "binding", &binding).await.unwrap();
    }
    for pod in ["slow", "fine"] {
        api.client.delete(pods, "default", pod, &DeleteParams::default()).await.unwrap();
    }
    let ctx = api.context(config(), clock.clone());
    let _running = testing::run_controller(&ctx, Arc::new(crate::podgc::PodGcController::new(&ctx)));
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(api.get("pods", "default", "slow").await.is_some(), "its grace period has not passed");
    assert!(api.get("pods", "default", "orphan").await.is_some(), "a missing node is given a quarantine");

    clock.advance(Duration::from_secs(601));
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(api.get("pods", "default", "slow").await.is_some(), "a node not Ready may only be cut off");
    mark_out_of_service(&api, "node-down").await;
    api.eventually("the pod on the shut-down node is force-deleted", || async {
        api.get("pods", "default", "slow").await.is_none()
    })
    .await;
    api.eventually("the pod bound to a node that does not exist is deleted", || async {
        api.get("pods", "default", "orphan").await.is_none()
    })
    .await;
    let fine = get_pod(&api, "fine").await.expect("a Ready node's kubelet finishes its own deletions");
    assert!(fine.metadata.deletion_timestamp.is_some());
}
