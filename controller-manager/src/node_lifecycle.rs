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

use crate::clock::{format_time, parse_time, Clock};
use crate::runner::{Action, Controller, Result};
use crate::Context;
use api::{meta, registry, ResourceInfo};
use client::events::{EventRecorder, EventType};
use client::informer::{Change, SharedInformer};
use client::queue::WorkQueue;
use client::{Client, PatchType};
use jiff::Timestamp;
use serde_json::{json, Value};
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

fn nodes() -> &'static ResourceInfo {
    registry::lookup("nodes").expect("nodes are registered")
}

pub fn condition<'a>(node: &'a Value, kind: &str) -> Option<&'a Value> {
    node["status"]["conditions"].as_array()?.iter().find(|c| c["type"] == kind)
}

/// The Ready condition's status: "True", "False" or "Unknown" (missing counts as Unknown).
pub fn ready_status(node: &Value) -> &str {
    condition(node, "Ready").and_then(|c| c["status"].as_str()).unwrap_or("Unknown")
}

/// What this controller last heard from a node.
#[derive(Debug, Clone)]
struct Health {
    /// When the controller last saw the node report (lease renewal or heartbeat).
    probe: Timestamp,
    heartbeat: Value,
    lease_renew: Option<Timestamp>,
}

pub struct NodeLifecycleController {
    client: Client,
    nodes: Arc<SharedInformer>,
    leases: Arc<SharedInformer>,
    pods: Arc<SharedInformer>,
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
            nodes: factory.informer(nodes()),
            leases: factory.informer(registry::lookup("leases").expect("leases are registered")),
            pods: factory.informer(crate::pods::pods()),
            clock: ctx.clock.clone(),
            recorder: EventRecorder::new(ctx.client.clone(), "node-controller", ""),
            grace: ctx.config.node_monitor_grace_period,
            startup_grace: ctx.config.node_startup_grace_period,
            period: ctx.config.node_monitor_period,
            health: Mutex::default(),
        }
    }

    /// Updates what was heard from `node`; true when it has been silent too long.
    fn silent(&self, node: &Value) -> bool {
        let now = self.clock.now();
        let name = meta::name(node);
        let ready = condition(node, "Ready");
        let heartbeat = ready.map(|c| c["lastHeartbeatTime"].clone()).unwrap_or(Value::Null);
        let lease = self.leases.store().get_in("kube-node-lease", name);
        let lease_renew = lease.as_ref().and_then(|l| parse_time(&l["spec"]["renewTime"]));
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
    async fn mark_unknown(&self, node: &Value) -> Result<Value> {
        let now = format_time(self.clock.now());
        let mut updated = node.clone();
        let mut conditions: Vec<Value> = node["status"]["conditions"].as_array().cloned().unwrap_or_default();
        for kind in KUBELET_CONDITIONS {
            match conditions.iter_mut().find(|c| c["type"] == *kind) {
                Some(c) if c["status"] != "Unknown" => {
                    c["status"] = "Unknown".into();
                    c["reason"] = "NodeStatusUnknown".into();
                    c["message"] = "Kubelet stopped posting node status.".into();
                    c["lastTransitionTime"] = now.clone().into();
                }
                Some(_) => {}
                None => conditions.push(json!({
                    "type": kind,
                    "status": "Unknown",
                    "reason": "NodeStatusNeverUpdated",
                    "message": "Kubelet never posted node status.",
                    "lastHeartbeatTime": meta::creation_timestamp(node),
                    "lastTransitionTime": now,
                })),
            }
        }
        updated["status"]["conditions"] = conditions.into();
        if updated == *node {
            return Ok(updated);
        }
        Ok(self.client.update_status(nodes(), "", &updated).await?)
    }

    /// The taints the node should carry from its conditions and spec, keeping the
    /// `timeAdded` of those it already has.
    fn desired_taints(&self, node: &Value, full_disruption: bool) -> Vec<Value> {
        let existing: Vec<Value> = node["spec"]["taints"].as_array().cloned().unwrap_or_default();
        let mut taints: Vec<Value> =
            existing.iter().filter(|t| !MANAGED_TAINTS.contains(&t["key"].as_str().unwrap_or(""))).cloned().collect();
        let mut want = |key: &str, effect: &str| {
            let kept = existing.iter().find(|t| t["key"] == key && t["effect"] == effect);
            taints.push(match kept {
                Some(t) => t.clone(),
                // Only NoExecute taints carry timeAdded (tolerationSeconds count from it).
                None if effect == "NoExecute" => {
                    json!({"key": key, "effect": effect, "timeAdded": format_time(self.clock.now())})
                }
                None => json!({"key": key, "effect": effect}),
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
            if condition(node, kind).is_some_and(|c| c["status"] == "True") {
                want(key, "NoSchedule");
            }
        }
        if node["spec"]["unschedulable"] == true {
            want("node.kubernetes.io/unschedulable", "NoSchedule");
        }
        taints
    }

    async fn sync_taints(&self, node: &Value, full_disruption: bool) -> Result<()> {
        let desired = self.desired_taints(node, full_disruption);
        let current = node["spec"]["taints"].as_array().cloned().unwrap_or_default();
        if desired == current {
            return Ok(());
        }
        let taints = if desired.is_empty() { Value::Null } else { desired.into() };
        // Pinned to the version read, so a taint a user adds meanwhile is not lost.
        let patch = json!({"metadata": {"resourceVersion": meta::resource_version(node)}, "spec": {"taints": taints}});
        self.client.patch(nodes(), "", meta::name(node), PatchType::Merge, &patch).await?;
        Ok(())
    }

    /// Kubernetes' MarkPodsNotReady: the node cannot vouch for its pods any more.
    async fn mark_pods_not_ready(&self, node: &str) {
        let pods = self.pods.store().list();
        for pod in pods.iter().filter(|p| crate::pods::node_name(p) == node && crate::pods::is_ready(p)) {
            let mut updated = (**pod).clone();
            if let Some(conditions) = updated["status"]["conditions"].as_array_mut() {
                for c in conditions.iter_mut().filter(|c| c["type"] == "Ready") {
                    c["status"] = "False".into();
                    c["lastTransitionTime"] = format_time(self.clock.now()).into();
                }
            }
            let ns = meta::namespace(pod);
            match self.client.update_status(crate::pods::pods(), ns, &updated).await {
                Ok(_) => self.recorder.record(pod, EventType::Warning, "NodeNotReady", "Node is not ready").await,
                Err(e) => tracing::warn!(pod = meta::name(pod), error = %e, "marking pod not ready"),
            }
        }
    }
}

#[async_trait::async_trait]
impl Controller for NodeLifecycleController {
    fn name(&self) -> &'static str {
        "nodelifecycle"
    }

    fn informers(&self) -> Vec<Arc<SharedInformer>> {
        vec![self.nodes.clone(), self.leases.clone(), self.pods.clone()]
    }

    fn handle(&self, resource: &'static ResourceInfo, change: &Change, queue: &WorkQueue) {
        match (resource.kind, change) {
            ("Node", Change::Added(n) | Change::Updated { new: n, .. }) => queue.add(meta::name(n)),
            ("Node", Change::Deleted(n)) => {
                self.health.lock().expect("health lock").remove(meta::name(n));
            }
            ("Lease", Change::Added(l) | Change::Updated { new: l, .. }) if meta::namespace(l) == "kube-node-lease" => {
                queue.add(meta::name(l))
            }
            _ => {}
        }
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
            self.recorder.record(&node, EventType::Normal, "NodeNotReady", &message).await;
            self.mark_pods_not_ready(key).await;
        }
        // Only a node that is not Ready asks whether every node is down: going
        // through all nodes at each heartbeat of thousands of healthy ones
        // would cost nodes² per lease renewal period.
        let full_disruption = now != "True"
            && self.nodes.store().list().iter().all(|n| meta::name(n) == key || ready_status(n) != "True");
        if full_disruption {
            tracing::warn!("no node is ready: not evicting anything until one is");
        }
        self.sync_taints(&node, full_disruption).await?;
        Ok(Action::Done)
    }
}

#[cfg(test)]
mod tests;
