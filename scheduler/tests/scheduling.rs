//! The real scheduler loop against an apiserver served in this process (the
//! memory store): pods get bound to the right nodes through the binding
//! subresource, a pod that fits nowhere stays Pending with kube-scheduler's
//! FailedScheduling message on its events and its PodScheduled condition, and
//! labelling a node gets it scheduled.

use client::{Api, Client, ListParams, PatchType};
use k8s_openapi::api::core::v1::{Event, Node, Pod};
use scheduler::testing::{node, pod, NodeBuilder};
use serde_json::json;
use std::future::Future;
use std::time::Duration;
use tokio::sync::oneshot;

fn pods(client: &Client) -> Api<Pod> {
    Api::namespaced(client, "default")
}

/// Registers a node as a kubelet would: the object, then its status.
async fn register(client: &Client, n: NodeBuilder) {
    let nodes = Api::<Node>::all(client);
    let obj = n.build();
    let mut created = nodes.create(&obj).await.unwrap();
    created.status = obj.status;
    nodes.update_status(&created).await.unwrap();
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
    let p = pods(client).get(name).await.ok()?;
    Some(api::pod::node_name(&p).to_string()).filter(|n| !n.is_empty())
}

async fn events_about(client: &Client, name: &str) -> Vec<Event> {
    let list = Api::<Event>::namespaced(client, "default").list(&ListParams::default()).await.unwrap();
    list.items.into_iter().filter(|e| e.involved_object.name.as_deref() == Some(name)).collect()
}

fn has_reason(e: &Event, reason: &str) -> bool {
    e.reason.as_deref() == Some(reason)
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
        pods(&client).create(&p.build()).await.unwrap();
    }
    pods(&client).create(&pod("ssd-pod").node_selector("disk", "ssd").build()).await.unwrap();
    pods(&client).create(&pod("gpu-pod").node_selector("gpu", "true").build()).await.unwrap();

    let mut per_node = std::collections::BTreeMap::new();
    for i in 0..6 {
        let name = format!("kubia-{i}");
        let n = eventually(&format!("{name} to be bound"), || node_of(&client, &name)).await;
        *per_node.entry(n).or_insert(0) += 1;
    }
    assert_eq!(per_node.values().copied().collect::<Vec<_>>(), [2, 2, 2], "replicas spread evenly: {per_node:?}");
    assert_eq!(eventually("ssd-pod to be bound", || node_of(&client, "ssd-pod")).await, "node-2");

    // The apiserver marked the bound pod scheduled, and the scheduler said so in an event.
    let bound = pods(&client).get("ssd-pod").await.unwrap();
    let condition = api::pod::condition(&bound, "PodScheduled");
    assert!(condition.is_some_and(|c| c.status == "True"), "{:?}", bound.status);
    let scheduled = eventually("the Scheduled event", || async {
        events_about(&client, "ssd-pod").await.into_iter().find(|e| has_reason(e, "Scheduled"))
    })
    .await;
    assert_eq!(scheduled.message.as_deref(), Some("Successfully assigned default/ssd-pod to node-2"));
    assert_eq!(scheduled.type_.as_deref(), Some("Normal"));
    assert_eq!(scheduled.source.and_then(|s| s.component).as_deref(), Some("default-scheduler"));

    // The gpu pod fits nowhere: it stays Pending and says why, in Kubernetes' words.
    let expected = "0/3 nodes are available: 3 node(s) didn't match Pod's node affinity/selector.";
    let condition = eventually("the PodScheduled=False condition", || async {
        let p = pods(&client).get("gpu-pod").await.ok()?;
        api::pod::condition(&p, "PodScheduled").filter(|c| c.status == "False").cloned()
    })
    .await;
    assert_eq!(condition.reason.as_deref(), Some("Unschedulable"));
    assert_eq!(condition.message.as_deref(), Some(expected));
    let failed = eventually("the FailedScheduling event", || async {
        events_about(&client, "gpu-pod").await.into_iter().find(|e| has_reason(e, "FailedScheduling"))
    })
    .await;
    assert_eq!(failed.message.as_deref(), Some(expected));
    assert_eq!(failed.type_.as_deref(), Some("Warning"));
    let gpu_pod = pods(&client).get("gpu-pod").await.unwrap();
    assert_eq!(api::pod::phase(&gpu_pod), "Pending");
    assert!(api::pod::node_name(&gpu_pod).is_empty());

    // Labelling a node is enough: the waiting pod is retried and lands there.
    let label = json!({"metadata": {"labels": {"gpu": "true"}}});
    Api::<Node>::all(&client).patch("node-3", PatchType::Merge, &label).await.unwrap();
    assert_eq!(eventually("gpu-pod to be bound", || node_of(&client, "gpu-pod")).await, "node-3");
    let scheduled = eventually("the gpu-pod Scheduled event", || async {
        events_about(&client, "gpu-pod").await.into_iter().find(|e| has_reason(e, "Scheduled"))
    })
    .await;
    assert_eq!(scheduled.message.as_deref(), Some("Successfully assigned default/gpu-pod to node-3"));

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

    pods(&client).create(&pod("big").cpu("800m").build()).await.unwrap();
    assert_eq!(eventually("big to be bound", || node_of(&client, "big")).await, "only");
    pods(&client).create(&pod("next").cpu("800m").build()).await.unwrap();
    let failed = eventually("the FailedScheduling event", || async {
        events_about(&client, "next").await.into_iter().find(|e| has_reason(e, "FailedScheduling"))
    })
    .await;
    assert_eq!(failed.message.as_deref(), Some("0/1 nodes are available: 1 Insufficient cpu."));

    // Deleting the first pod frees the cpu; no grace period, so it is gone at once.
    let now = client::DeleteParams { grace_period_seconds: Some(0), ..Default::default() };
    pods(&client).delete("big", &now).await.unwrap();
    assert_eq!(eventually("next to be bound", || node_of(&client, "next")).await, "only");

    drop(stop_scheduler);
    sched.await.unwrap().unwrap();
}
