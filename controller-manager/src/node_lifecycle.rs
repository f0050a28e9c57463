//! The node lifecycle controller: notices nodes whose kubelet went silent and
//! says so, as Kubernetes' node lifecycle controller.
//!
//! Every `--node-monitor-period` each node is checked. A node is heard from
//! when its Lease in `kube-node-lease` is renewed or its Ready condition's
//! heartbeat changes; "when" is the time *this controller* saw the change (its
//! probe timestamp), so clocks on the nodes do not matter. A node not heard
//! from for `--node-monitor-grace-period` (`--node-startup-grace-period` if it
//! never reported) gets its Ready, MemoryPressure, DiskPressure and PIDPressure
//! conditions set to Unknown ("Kubelet stopped posting node status."), a
//! `NodeNotReady` Event, and its pods marked not ready.
//!
//! Taints follow the Ready condition: `node.kubernetes.io/unreachable`
//! (Unknown) or `node.kubernetes.io/not-ready` (False), as NoExecute (which the
//! taint eviction controller acts on) and NoSchedule; pressure conditions and
//! `spec.unschedulable` add their NoSchedule taints. A Ready node loses them.
//! If every node is not ready at once, the fault is more likely on this side
//! (Kubernetes' "full disruption"): no NoExecute taints are kept, so nothing is
//! evicted.

use crate::clock::Clock;
use crate::runner::{Action, Controller, Result, Watch};
use crate::Context;
use api::k8s_openapi::api::coordination::v1::Lease;
use api::k8s_openapi::api::core::v1::{Node, NodeCondition, Pod, PodCondition, PodStatus, Taint};
use api::k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use api::node::{condition, ready_status};
use client::events::reference_to;
use client::events::{EventRecorder, EventType};
use client::informer::{Change, SharedInformer};
use client::queue::WorkQueue;
use client::{Api, Client, Object, PatchType};
use jiff::Timestamp;
use serde_json::json;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub const UNREACHABLE: &str = "node.kubernetes.io/unreachable";
pub const NOT_READY: &str = "node.kubernetes.io/not-ready";

/// Taint keys this controller owns; others on a node are left as they are.
const MANAGED_TAINTS: &[&str] = &[
    UNREACHABLE,
    NOT_READY,
    "node.kubernetes.io/memory-pressure",
    "node.kubernetes.io/disk-pressure",
    "node.kubernetes.io/pid-pressure",
    "node.kubernetes.io/network-unavailable",
    "node.kubernetes.io/unschedulable",
];

/// Conditions set to Unknown when the kubelet goes silent (NetworkUnavailable
/// belongs to the network, not the kubelet).
const KUBELET_CONDITIONS: &[&str] = &["Ready", "MemoryPressure", "DiskPressure", "PIDPressure"];

/// What this controller last heard from a node.
#[derive(Debug, Clone)]
struct Health {
    /// When the controller last saw the node report (lease renewal or heartbeat).
    probe: Timestamp,
    heartbeat: Option<Time>,
    lease_renew: Option<Timestamp>,
}

pub struct NodeLifecycleController {
    client: Client,
    nodes: Arc<SharedInformer<Node>>,
    leases: Arc<SharedInformer<Lease>>,
    pods: Arc<SharedInformer<Pod>>,
    clock: Clock,
    recorder: EventRecorder,
    grace: Duration,
    startup_grace: Duration,
    period: Duration,
    health: Mutex<HashMap<String, Health>>,
}

impl NodeLifecycleController {
    pub fn new(ctx: &Context) -> Self {
        let factory = &ctx.factory;
        Self {
            client: ctx.client.clone(),
            nodes: factory.typed(),
            leases: factory.typed(),
            pods: factory.typed(),
            clock: ctx.clock.clone(),
            recorder: EventRecorder::new(ctx.client.clone(), "node-controller", ""),
            grace: ctx.config.node_monitor_grace_period,
            startup_grace: ctx.config.node_startup_grace_period,
            period: ctx.config.node_monitor_period,
            health: Mutex::default(),
        }
    }

    /// Updates what was heard from `node`; true when it has been silent too long.
    fn silent(&self, node: &Node) -> bool {
        let now = self.clock.now();
        let name = node.name();
        let ready = condition(node, "Ready");
        let heartbeat = ready.and_then(|c| c.last_heartbeat_time.clone());
        let lease = self.leases.store().get_in("kube-node-lease", name);
        let lease_renew = lease.as_ref().and_then(|l| l.spec.as_ref()?.renew_time.as_ref()).map(|t| t.0);
        let mut map = self.health.lock().expect("health lock");
        let health = map.entry(name.to_string()).or_insert_with(|| Health {
            // First sight (or a restart of this controller): the node gets a full grace period.
            probe: now,
            heartbeat: heartbeat.clone(),
            lease_renew,
        });
        if health.heartbeat != heartbeat {
            health.heartbeat = heartbeat;
            health.probe = now;
        }
        if lease_renew.is_some_and(|r| health.lease_renew.is_none_or(|seen| r > seen)) {
            health.lease_renew = lease_renew;
            health.probe = now;
        }
        let grace = if ready.is_none() { self.startup_grace } else { self.grace };
        self.clock.since(health.probe) > grace
    }

    /// Marks the kubelet's conditions Unknown; returns the node as stored afterwards.
    async fn mark_unknown(&self, node: &Node) -> Result<Node> {
        let now = Time(self.clock.now());
        let mut updated = node.clone();
        let conditions = updated.status.get_or_insert_default().conditions.get_or_insert_default();
        for kind in KUBELET_CONDITIONS {
            match conditions.iter_mut().find(|c| c.type_ == *kind) {
                Some(c) if c.status != "Unknown" => {
                    c.status = "Unknown".into();
                    c.reason = Some("NodeStatusUnknown".into());
                    c.message = Some("Kubelet stopped posting node status.".into());
                    c.last_transition_time = Some(now.clone());
                }
                Some(_) => {}
                None => conditions.push(NodeCondition {
                    type_: kind.to_string(),
                    status: "Unknown".into(),
                    reason: Some("NodeStatusNeverUpdated".into()),
                    message: Some("Kubelet never posted node status.".into()),
                    last_heartbeat_time: node.metadata.creation_timestamp.clone(),
                    last_transition_time: Some(now.clone()),
                }),
            }
        }
        if updated == *node {
            return Ok(updated);
        }
        Ok(Api::<Node>::all(&self.client).update_status(&updated).await?)
    }

    /// The taints the node should carry from its conditions and spec, keeping the
    /// `timeAdded` of those it already has.
    fn desired_taints(&self, node: &Node, full_disruption: bool) -> Vec<Taint> {
        let existing = taints_of(node);
        let mut taints: Vec<Taint> =
            existing.iter().filter(|t| !MANAGED_TAINTS.contains(&t.key.as_str())).cloned().collect();
        let mut want = |key: &str, effect: &str| {
            let kept = existing.iter().find(|t| t.key == key && t.effect == effect);
            taints.push(match kept {
                Some(t) => t.clone(),
                None => Taint {
                    key: key.into(),
                    effect: effect.into(),
                    // Only NoExecute taints carry timeAdded (tolerationSeconds count from it).
                    time_added: (effect == "NoExecute").then(|| Time(self.clock.now())),
                    value: None,
                },
            });
        };
        let ready = ready_status(node);
        let ready_taint = match ready {
            "True" => None,
            "False" => Some(NOT_READY),
            _ => Some(UNREACHABLE),
        };
        if let Some(key) = ready_taint {
            if !full_disruption {
                want(key, "NoExecute");
            }
            want(key, "NoSchedule");
        }
        for (kind, key) in [
            ("MemoryPressure", "node.kubernetes.io/memory-pressure"),
            ("DiskPressure", "node.kubernetes.io/disk-pressure"),
            ("PIDPressure", "node.kubernetes.io/pid-pressure"),
            ("NetworkUnavailable", "node.kubernetes.io/network-unavailable"),
        ] {
            if condition(node, kind).is_some_and(|c| c.status == "True") {
                want(key, "NoSchedule");
            }
        }
        if node.spec.as_ref().and_then(|s| s.unschedulable) == Some(true) {
            want("node.kubernetes.io/unschedulable", "NoSchedule");
        }
        taints
    }

    async fn sync_taints(&self, node: &Node, full_disruption: bool) -> Result<()> {
        let desired = self.desired_taints(node, full_disruption);
        if desired == taints_of(node) {
            return Ok(());
        }
        // An empty list removes the field (a merge patch's null).
        let taints = if desired.is_empty() { None } else { Some(desired) };
        // Pinned to the version read, so a taint a user adds meanwhile is not lost.
        let patch = json!({"metadata": {"resourceVersion": node.resource_version()}, "spec": {"taints": taints}});
        Api::<Node>::all(&self.client).patch(node.name(), PatchType::Merge, &patch).await?;
        Ok(())
    }

    /// Kubernetes' MarkPodsNotReady: the node cannot vouch for its pods any more.
    async fn mark_pods_not_ready(&self, node: &str) {
        let pods = self.pods.store().list();
        for pod in pods.iter().filter(|p| api::pod::node_name(p) == node && api::pod::is_ready(p)) {
            let Some(ready) = api::pod::condition(pod, "Ready") else { continue };
            let not_ready = PodCondition {
                status: "False".into(),
                last_transition_time: Some(api::time::to_second(self.clock.now())),
                ..ready.clone()
            };
            // Only the condition changes: a status patch merged by type leaves
            // the rest of the status as the kubelet wrote it.
            let status = PodStatus { conditions: Some(vec![not_ready]), ..Default::default() };
            let patch = json!({ "status": api::pod::status_json(&status) });
            let pods = Api::<Pod>::namespaced(&self.client, pod.namespace());
            match pods.patch_status(pod.name(), PatchType::StrategicMerge, &patch).await {
                Ok(_) => {
                    self.recorder
                        .record(&reference_to(&**pod), EventType::Warning, "NodeNotReady", "Node is not ready")
                        .await
                }
                Err(e) => tracing::warn!(pod = pod.name(), error = %e, "marking pod not ready"),
            }
        }
    }

    fn node_changed(&self, change: &Change<Node>, queue: &WorkQueue) {
        match change {
            Change::Added(n) | Change::Updated { new: n, .. } => queue.add(n.name()),
            Change::Deleted(n) => {
                self.health.lock().expect("health lock").remove(n.name());
            }
            Change::Resync => {}
        }
    }

    fn lease_changed(&self, change: &Change<Lease>, queue: &WorkQueue) {
        if let Change::Added(l) | Change::Updated { new: l, .. } = change {
            if l.namespace() == "kube-node-lease" {
                queue.add(l.name())
            }
        }
    }
}

/// The node's taints (none when `spec.taints` is absent).
fn taints_of(node: &Node) -> Vec<Taint> {
    node.spec.as_ref().and_then(|s| s.taints.clone()).unwrap_or_default()
}

#[async_trait::async_trait]
impl Controller for NodeLifecycleController {
    fn name(&self) -> &'static str {
        "nodelifecycle"
    }

    /// Pods are only read (when a node stops being ready), but the workers
    /// wait for their cache too.
    fn watches(self: Arc<Self>) -> Vec<Watch> {
        vec![
            Watch::method(&self, &self.nodes, Self::node_changed),
            Watch::method(&self, &self.leases, Self::lease_changed),
            Watch::new(&self.pods, |_, _| {}),
        ]
    }

    fn resync(&self, queue: &WorkQueue) {
        for key in self.nodes.store().keys() {
            queue.add(key);
        }
    }

    fn resync_period(&self) -> Option<Duration> {
        Some(self.period)
    }

    async fn reconcile(&self, key: &str) -> Result<Action> {
        let Some(node) = self.nodes.store().get(key) else { return Ok(Action::Done) };
        let was = ready_status(&node).to_string();
        let node = if self.silent(&node) { Arc::new(self.mark_unknown(&node).await?) } else { node };
        let now = ready_status(&node);
        if was == "True" && now != "True" {
            tracing::info!(status = now, "node is not ready");
            let message = format!("Node {key} status is now: NodeNotReady");
            self.recorder.record(&reference_to(&*node), EventType::Normal, "NodeNotReady", &message).await;
            self.mark_pods_not_ready(key).await;
        }
        // Only a node that is not Ready asks whether every node is down: going
        // through all nodes at each heartbeat of thousands of healthy ones
        // would cost nodes² per lease renewal period.
        let full_disruption =
            now != "True" && self.nodes.store().list().iter().all(|n| n.name() == key || ready_status(n) != "True");
        if full_disruption {
            tracing::warn!("no node is ready: not evicting anything until one is");
        }
        self.sync_taints(&node, full_disruption).await?;
        Ok(Action::Done)
    }
}

#[cfg(test)]
mod tests;
