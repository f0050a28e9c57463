//! The real scheduler loop against an apiserver served in this process (the
//! memory store): pods get bound to the right nodes through the binding
//! subresource, a pod that fits nowhere stays Pending with kube-scheduler's
//! FailedScheduling message on its events and its PodScheduled condition, and
//! labelling a node gets it scheduled.

use client::{Client, ListParams, PatchType};
use scheduler::testing::{node, pod, NodeBuilder};
use serde_json::{json, Value};
use std::future::Future;
use std::time::Duration;
use tokio::sync::oneshot;

fn pods() -> &'static api::ResourceInfo {
    api::registry::lookup("pods").unwrap()
}
fn nodes() -> &'static api::ResourceInfo {
    api::registry::lookup("nodes").unwrap()
}
fn events() -> &'static api::ResourceInfo {
    api::registry::lookup("events").unwrap()
}

/// Registers a node as a kubelet would: the object, then its status.
async fn register(client: &Client, n: NodeBuilder) {
    let obj = n.json();
    let mut created = client.create(nodes(), "", &obj).await.unwrap();
    created["status"] = obj["status"].clone();
    client.update_status(nodes(), "", &created).await.unwrap();
}

/// Polls `check` until it returns Some, for up to 20 seconds.
async fn eventually<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    for _ in 0..400 {
        if let Some(v) = check().await {
            return v;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting for {what}");
}

async fn node_of(client: &Client, name: &str) -> Option<String> {
    let p = client.get(pods(), "default", name).await.ok()?;
    p["spec"]["nodeName"].as_str().filter(|n| !n.is_empty()).map(str::to_string)
}

async fn events_about(client: &Client, name: &str) -> Vec<Value> {
    let list = client.list(events(), "default", &ListParams::default()).await.unwrap();
    list["items"].as_array().unwrap().iter().filter(|e| e["involvedObject"]["name"] == name).cloned().collect()
}

fn scheduler_config(server: &str) -> scheduler::Config {
    scheduler::Config {
        server: server.to_string(),
        scheduler_name: "default-scheduler".into(),
        percentage_of_nodes_to_score: 0,
        parallelism: 16,
        pod_initial_backoff: Duration::from_millis(100),
        pod_max_backoff: Duration::from_millis(500),
        pod_max_in_unschedulable_pods_duration: Duration::from_secs(300),
        unschedulable_flush_interval: Duration::from_secs(30),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pods_are_bound_where_they_fit_and_waiting_pods_follow_node_changes() {
    let api = apiserver::testing::InMemoryApiServer::start().await;
    let (addr, client) = (api.url, api.client);
    for n in [node("node-1"), node("node-2").label("disk", "ssd"), node("node-3")] {
        register(&client, n).await;
    }
    let (stop_scheduler, stopped) = oneshot::channel::<()>();
    let sched = tokio::spawn(scheduler::run(scheduler_config(&addr), async {
        let _ = stopped.await;
    }));

    // Six replicas of one ReplicaSet spread two to a node.
    for i in 0..6 {
        let p = pod(&format!("kubia-{i}")).cpu("100m").memory("64Mi").owner("rs-kubia");
        client.create(pods(), "default", &p.json()).await.unwrap();
    }
    client.create(pods(), "default", &pod("ssd-pod").node_selector("disk", "ssd").json()).await.unwrap();
    client.create(pods(), "default", &pod("gpu-pod").node_selector("gpu", "true").json()).await.unwrap();

    let mut per_node = std::collections::BTreeMap::new();
    for i in 0..6 {
        let name = format!("kubia-{i}");
        let n = eventually(&format!("{name} to be bound"), || node_of(&client, &name)).await;
        *per_node.entry(n).or_insert(0) += 1;
    }
    assert_eq!(per_node.values().copied().collect::<Vec<_>>(), [2, 2, 2], "replicas spread evenly: {per_node:?}");
    assert_eq!(eventually("ssd-pod to be bound", || node_of(&client, "ssd-pod")).await, "node-2");

    // The apiserver marked the bound pod scheduled, and the scheduler said so in an event.
    let bound = client.get(pods(), "default", "ssd-pod").await.unwrap();
    let conditions = bound["status"]["conditions"].as_array().unwrap();
    assert!(conditions.iter().any(|c| c["type"] == "PodScheduled" && c["status"] == "True"), "{conditions:?}");
    let scheduled = eventually("the Scheduled event", || async {
        events_about(&client, "ssd-pod").await.into_iter().find(|e| e["reason"] == "Scheduled")
    })
    .await;
    assert_eq!(scheduled["message"], "Successfully assigned default/ssd-pod to node-2");
    assert_eq!(scheduled["type"], "Normal");
    assert_eq!(scheduled["source"]["component"], "default-scheduler");

    // The gpu pod fits nowhere: it stays Pending and says why, in Kubernetes' words.
    let expected = "0/3 nodes are available: 3 node(s) didn't match Pod's node affinity/selector.";
    let condition = eventually("the PodScheduled=False condition", || async {
        let p = client.get(pods(), "default", "gpu-pod").await.ok()?;
        let conditions = p["status"]["conditions"].as_array()?.clone();
        conditions.into_iter().find(|c| c["type"] == "PodScheduled" && c["status"] == "False")
    })
    .await;
    assert_eq!(condition["reason"], "Unschedulable");
    assert_eq!(condition["message"], expected);
    let failed = eventually("the FailedScheduling event", || async {
        events_about(&client, "gpu-pod").await.into_iter().find(|e| e["reason"] == "FailedScheduling")
    })
    .await;
    assert_eq!(failed["message"], expected);
    assert_eq!(failed["type"], "Warning");
    let gpu_pod = client.get(pods(), "default", "gpu-pod").await.unwrap();
    assert_eq!(gpu_pod["status"]["phase"], "Pending");
    assert!(gpu_pod["spec"]["nodeName"].as_str().unwrap_or_default().is_empty());

    // Labelling a node is enough: the waiting pod is retried and lands there.
    let label = json!({"metadata": {"labels": {"gpu": "true"}}});
    client.patch(nodes(), "", "node-3", PatchType::Merge, &label).await.unwrap();
    assert_eq!(eventually("gpu-pod to be bound", || node_of(&client, "gpu-pod")).await, "node-3");
    let scheduled = eventually("the gpu-pod Scheduled event", || async {
        events_about(&client, "gpu-pod").await.into_iter().find(|e| e["reason"] == "Scheduled")
    })
    .await;
    assert_eq!(scheduled["message"], "Successfully assigned default/gpu-pod to node-3");

    drop(stop_scheduler);
    sched.await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pod_waiting_for_room_is_scheduled_when_another_pod_is_deleted() {
    let api = apiserver::testing::InMemoryApiServer::start().await;
    let (addr, client) = (api.url, api.client);
    register(&client, node("only").allocatable("1", "1Gi", 110)).await;
    let (stop_scheduler, stopped) = oneshot::channel::<()>();
    let sched = tokio::spawn(scheduler::run(scheduler_config(&addr), async {
        let _ = stopped.await;
    }));

    client.create(pods(), "default", &pod("big").cpu("800m").json()).await.unwrap();
    assert_eq!(eventually("big to be bound", || node_of(&client, "big")).await, "only");
    client.create(pods(), "default", &pod("next").cpu("800m").json()).await.unwrap();
    let failed = eventually("the FailedScheduling event", || async {
        events_about(&client, "next").await.into_iter().find(|e| e["reason"] == "FailedScheduling")
    })
    .await;
    assert_eq!(failed["message"], "0/1 nodes are available: 1 Insufficient cpu.");

    // Deleting the first pod frees the cpu; no grace period, so it is gone at once.
    let now = client::DeleteParams { grace_period_seconds: Some(0), ..Default::default() };
    client.delete(pods(), "default", "big", &now).await.unwrap();
    assert_eq!(eventually("next to be bound", || node_of(&client, "next")).await, "only");

    drop(stop_scheduler);
    sched.await.unwrap().unwrap();
}
