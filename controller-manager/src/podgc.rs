//! The pod garbage collector: force-deletes pods that no kubelet will ever
//! finish deleting, so their controllers can replace them elsewhere.
//!
//! - A pod being deleted on a node that is not Ready (its kubelet is down or
//!   cut off) and that an operator tainted `node.kubernetes.io/out-of-service`
//!   (the node is known to be shut down) is force-deleted (grace period 0),
//!   as Kubernetes' gcTerminating. Without the taint it stays Terminating:
//!   the pod may still run on a node that is only cut off, and a StatefulSet
//!   must not make a second pod with its identity until it is gone (the
//!   returning kubelet finishes the deletion, or `kubectl delete --force`).
//! - A pod bound to a node that does not exist (any more) is force-deleted
//!   after a 40 s quarantine and a live check, as Kubernetes' gcOrphaned.

use crate::clock::Clock;
use crate::runner::{Action, Controller, Result, Watch};
use crate::Context;
use api::k8s_openapi::api::core::v1::{Node, Pod};
use api::node::ready_status;
use api::pod::node_name;
use client::informer::{Change, SharedInformer};
use client::queue::WorkQueue;
use client::watcher::key_of;
use client::{Api, Client, DeleteParams, Object};
use jiff::Timestamp;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The taint that says a node is shut down, not merely unreachable.
const OUT_OF_SERVICE: &str = "node.kubernetes.io/out-of-service";

/// How long a node must be missing before its pods count as orphaned.
const QUARANTINE: Duration = Duration::from_secs(40);

pub struct PodGcController {
    client: Client,
    pods: Arc<SharedInformer<Pod>>,
    nodes: Arc<SharedInformer<Node>>,
    clock: Clock,
    period: Duration,
    /// When each missing node was first noticed missing.
    missing_since: Mutex<HashMap<String, Timestamp>>,
}

impl PodGcController {
    pub fn new(ctx: &Context) -> Self {
        Self {
            client: ctx.client.clone(),
            pods: ctx.factory.typed(),
            nodes: ctx.factory.typed(),
            clock: ctx.clock.clone(),
            period: ctx.config.node_monitor_period,
            missing_since: Mutex::default(),
        }
    }

    async fn force_delete(&self, pod: &Pod, why: &str) -> Result<Action> {
        tracing::info!(reason = why, "force-deleting pod");
        let params =
            DeleteParams { grace_period_seconds: Some(0), precondition_uid: pod.uid().into(), ..Default::default() };
        match Api::<Pod>::namespaced(&self.client, pod.namespace()).delete(pod.name(), &params).await {
            Ok(_) => Ok(Action::Done),
            Err(e) if e.is_not_found() => Ok(Action::Done),
            Err(e) => Err(e.into()),
        }
    }

    /// Whether the node is really gone: missing from the cache for the quarantine
    /// and from the apiserver now.
    async fn node_gone(&self, node: &str) -> Result<Option<Duration>> {
        let since =
            *self.missing_since.lock().expect("missing lock").entry(node.to_string()).or_insert(self.clock.now());
        let waited = self.clock.since(since);
        if waited < QUARANTINE {
            return Ok(Some(QUARANTINE - waited));
        }
        match Api::<Node>::all(&self.client).get(node).await {
            Ok(_) => Ok(Some(self.period)),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e.into()),
        }
    }
}

#[async_trait::async_trait]
impl Controller for PodGcController {
    fn name(&self) -> &'static str {
        "podgc"
    }

    fn watches(self: Arc<Self>) -> Vec<Watch> {
        vec![Watch::method(&self, &self.pods, Self::pod_changed), Watch::method(&self, &self.nodes, Self::node_changed)]
    }

    fn resync(&self, queue: &WorkQueue) {
        for pod in self.pods.store().list() {
            let node = node_name(&pod);
            if !node.is_empty() && (pod.metadata.deletion_timestamp.is_some() || self.nodes.store().get(node).is_none())
            {
                queue.add(key_of(&pod));
            }
        }
    }

    fn resync_period(&self) -> Option<Duration> {
        Some(self.period)
    }

    async fn reconcile(&self, key: &str) -> Result<Action> {
        let Some(pod) = self.pods.store().get(key) else { return Ok(Action::Done) };
        let bound_to = node_name(&pod);
        if bound_to.is_empty() {
            return Ok(Action::Done);
        }
        let Some(node) = self.nodes.store().get(bound_to) else {
            return match self.node_gone(bound_to).await? {
                None => self.force_delete(&pod, "its node no longer exists").await,
                Some(wait) => Ok(Action::RequeueAfter(wait)),
            };
        };
        if pod.metadata.deletion_timestamp.is_none() || ready_status(&node) == "True" || !out_of_service(&node) {
            // Not being deleted; or its kubelet will finish the deletion; or
            // nobody said the node is down rather than cut off.
            return Ok(Action::Done);
        }
        self.force_delete(&pod, "terminating on a node that is out of service").await
    }
}

/// Whether an operator marked the node shut down (Kubernetes' non-graceful node shutdown).
fn out_of_service(node: &Node) -> bool {
    node.spec.iter().flat_map(|s| s.taints.iter().flatten()).any(|t| t.key == OUT_OF_SERVICE)
}

impl PodGcController {
    fn pod_changed(&self, change: &Change<Pod>, queue: &WorkQueue) {
        if let Change::Added(pod) | Change::Updated { new: pod, .. } = change {
            if !node_name(pod).is_empty() {
                queue.add(key_of(pod))
            }
        }
    }

    fn node_changed(&self, change: &Change<Node>, queue: &WorkQueue) {
        match change {
            Change::Added(node) => {
                self.missing_since.lock().expect("missing lock").remove(node.name());
            }
            // A node going away or changing readiness changes what its pods
            // need; its heartbeats (status updates that keep it Ready) do not,
            // and looking through every pod at each of them would cost
            // nodes × pods per heartbeat period.
            Change::Updated { old, new }
                if ready_status(old) != ready_status(new) || out_of_service(old) != out_of_service(new) =>
            {
                self.resync_node(new.name(), queue)
            }
            Change::Deleted(node) => self.resync_node(node.name(), queue),
            _ => {}
        }
    }

    fn resync_node(&self, node: &str, queue: &WorkQueue) {
        for pod in self.pods.store().list() {
            if node_name(&pod) == node {
                queue.add(key_of(&pod));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use client::informer::InformerFactory;
    use serde_json::json;

    fn node(ready: &str, heartbeat: &str) -> Arc<Node> {
        let heartbeat = format!("2026-01-01T{heartbeat}Z");
        let ready = json!({"type": "Ready", "status": ready, "lastHeartbeatTime": heartbeat});
        Arc::new(
            serde_json::from_value(json!({"metadata": {"name": "n1"}, "status": {"conditions": [ready]}})).unwrap(),
        )
    }

    fn pod(name: &str, node: &str) -> Pod {
        let pod =
            json!({"metadata": {"name": name, "namespace": "default"}, "spec": {"containers": [], "nodeName": node}});
        serde_json::from_value(pod).unwrap()
    }

    #[tokio::test]
    async fn a_nodes_pods_are_looked_at_again_when_it_changes_readiness_or_goes_but_not_at_each_heartbeat() {
        let ctx = Context {
            client: Client::connect_lazy("http://127.0.0.1:1").expect("a valid address"),
            factory: Arc::new(InformerFactory::detached()),
            clock: Clock::manual(),
            config: crate::testing::config(),
        };
        let gc = PodGcController::new(&ctx);
        gc.pods.store().insert(pod("p", "n1"));
        gc.pods.store().insert(pod("q", "n2"));
        let queue = WorkQueue::new(Duration::from_millis(1), Duration::from_secs(1));

        let heartbeat = Change::Updated { old: node("True", "10:00:00"), new: node("True", "10:00:10") };
        gc.node_changed(&heartbeat, &queue);
        assert!(queue.is_empty(), "a heartbeat requeued pods");

        let lost = Change::Updated { old: node("True", "10:00:10"), new: node("Unknown", "10:00:10") };
        gc.node_changed(&lost, &queue);
        assert_eq!(queue.len(), 1, "only the pod on n1");

        let fresh = WorkQueue::new(Duration::from_millis(1), Duration::from_secs(1));
        gc.node_changed(&Change::Deleted(node("Unknown", "10:00:10")), &fresh);
        assert_eq!(fresh.len(), 1);
    }
}
