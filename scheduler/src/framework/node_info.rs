//! What the scheduler knows about one node: what the Node object says
//! (labels, taints, allocatable, readiness) and the running totals of the pods
//! placed on it (requested resources, pod count, host ports, pods per owner).
//! Totals move by adding and removing a pod's [`PodUsage`], so keeping them up
//! to date costs nothing per scheduling attempt.

use super::pod_info::{HostPort, PodUsage};
use crate::resources::Resources;
use client::Object;
use k8s_openapi::api::core::v1::{Node, Taint};
use std::collections::{BTreeMap, HashMap};

/// The node's `Ready` condition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Readiness {
    Ready,
    /// `Ready=False`, or no Ready condition yet (a node that just registered).
    #[default]
    NotReady,
    /// `Ready=Unknown`: the node stopped reporting.
    Unknown,
}

/// The parts of a Node object that scheduling decisions depend on.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NodeSpec {
    pub labels: BTreeMap<String, String>,
    /// Without `timeAdded`, which no filter reads, so that only a change
    /// of key, value or effect counts as a change of the node.
    pub taints: Vec<Taint>,
    pub unschedulable: bool,
    pub readiness: Readiness,
    pub allocatable: Resources,
    pub allowed_pods: i64,
}

impl NodeSpec {
    pub fn from_node(node: &Node) -> Self {
        let status = node.status.as_ref();
        // Kubernetes schedules against allocatable; a node that reports only
        // capacity (hand-written test nodes) is taken at its capacity.
        let allocatable = status
            .and_then(|s| s.allocatable.as_ref())
            .filter(|m| !m.is_empty())
            .or_else(|| status.and_then(|s| s.capacity.as_ref()));
        let readiness = match api::node::ready_status(node) {
            "True" => Readiness::Ready,
            "Unknown" => Readiness::Unknown,
            _ => Readiness::NotReady,
        };
        let spec = node.spec.as_ref();
        let taints = spec.and_then(|s| s.taints.as_ref()).into_iter().flatten();
        Self {
            labels: node.metadata.labels.clone().unwrap_or_default(),
            taints: taints.map(|t| Taint { time_added: None, ..t.clone() }).collect(),
            unschedulable: spec.and_then(|s| s.unschedulable).unwrap_or(false),
            readiness,
            allocatable: allocatable.map(Resources::from_list).unwrap_or_default(),
            allowed_pods: allocatable
                .and_then(|a| a.get("pods"))
                .and_then(|q| api::quantity::parse(&q.0).ok())
                .map(|q| q.value())
                .unwrap_or(0),
        }
    }
}

/// A node and the pods on it.
#[derive(Debug, Clone, Default)]
pub struct NodeInfo {
    pub name: String,
    pub spec: NodeSpec,
    /// The sum of the effective requests of the pods here.
    pub requested: Resources,
    pub non_zero_milli_cpu: i64,
    pub non_zero_memory: i64,
    pub pod_count: usize,
    /// Host ports in use, one entry per pod port (a multiset).
    pub used_ports: Vec<HostPort>,
    /// Pods here per controller uid.
    pub owners: HashMap<String, u32>,
}

impl NodeInfo {
    pub fn new(name: &str, spec: NodeSpec) -> Self {
        Self { name: name.to_string(), spec, ..Default::default() }
    }

    pub fn from_node(node: &Node) -> Self {
        Self::new(node.name(), NodeSpec::from_node(node))
    }

    pub fn add_pod(&mut self, pod: &PodUsage) {
        self.requested.add(&pod.requests);
        self.non_zero_milli_cpu += pod.non_zero_milli_cpu;
        self.non_zero_memory += pod.non_zero_memory;
        self.pod_count += 1;
        self.used_ports.extend(pod.host_ports.iter().cloned());
        if let Some(owner) = &pod.owner {
            *self.owners.entry(owner.clone()).or_insert(0) += 1;
        }
    }

    pub fn remove_pod(&mut self, pod: &PodUsage) {
        self.requested.sub(&pod.requests);
        self.non_zero_milli_cpu -= pod.non_zero_milli_cpu;
        self.non_zero_memory -= pod.non_zero_memory;
        self.pod_count = self.pod_count.saturating_sub(1);
        for port in &pod.host_ports {
            if let Some(i) = self.used_ports.iter().position(|p| p == port) {
                self.used_ports.swap_remove(i);
            }
        }
        if let Some(owner) = &pod.owner {
            if let Some(n) = self.owners.get_mut(owner) {
                *n -= 1;
                if *n == 0 {
                    self.owners.remove(owner);
                }
            }
        }
    }

    /// How many pods of this controller run here.
    pub fn pods_of_owner(&self, owner: &str) -> u32 {
        self.owners.get(owner).copied().unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn node(v: serde_json::Value) -> Node {
        serde_json::from_value(v).expect("a node")
    }

    #[test]
    fn reads_the_node_object() {
        let node = node(json!({
            "metadata": {"name": "n1", "labels": {"zone": "a"}},
            "spec": {"unschedulable": true, "taints": [{"key": "k", "value": "v", "effect": "NoSchedule"}]},
            "status": {
                "allocatable": {"cpu": "3500m", "memory": "7Gi", "pods": "110"},
                "capacity": {"cpu": "4", "memory": "8Gi", "pods": "110"},
                "conditions": [{"type": "MemoryPressure", "status": "False"}, {"type": "Ready", "status": "True"}],
            },
        }));
        let info = NodeInfo::from_node(&node);
        assert_eq!(info.name, "n1");
        assert_eq!(info.spec.allocatable.milli_cpu, 3500, "allocatable, not capacity");
        assert_eq!(info.spec.allowed_pods, 110);
        assert_eq!(info.spec.readiness, Readiness::Ready);
        assert!(info.spec.unschedulable);
        assert_eq!(info.spec.taints.len(), 1);
        assert_eq!(info.spec.labels["zone"], "a");
    }

    #[test]
    fn readiness_follows_the_ready_condition() {
        let with = |status: Option<&str>| {
            let conditions = status.map(|s| json!([{"type": "Ready", "status": s}])).unwrap_or(json!([]));
            NodeSpec::from_node(&node(json!({"metadata": {"name": "n"}, "status": {"conditions": conditions}})))
                .readiness
        };
        assert_eq!(with(Some("True")), Readiness::Ready);
        assert_eq!(with(Some("False")), Readiness::NotReady);
        assert_eq!(with(Some("Unknown")), Readiness::Unknown);
        assert_eq!(with(None), Readiness::NotReady, "a node that never reported is not ready");
    }

    #[test]
    fn capacity_stands_in_for_missing_allocatable() {
        let spec = NodeSpec::from_node(&node(json!({"status": {"capacity": {"cpu": "2", "pods": "10"}}})));
        assert_eq!((spec.allocatable.milli_cpu, spec.allowed_pods), (2000, 10));
    }

    #[test]
    fn removing_a_pod_undoes_adding_it() {
        let mut info = NodeInfo::new("n", NodeSpec::default());
        let pod = PodUsage {
            requests: Resources { milli_cpu: 100, memory: 10, ..Default::default() },
            non_zero_milli_cpu: 100,
            non_zero_memory: 10,
            host_ports: vec![HostPort { protocol: "TCP".into(), ip: "0.0.0.0".into(), port: 80 }],
            owner: Some("rs".into()),
        };
        info.add_pod(&pod);
        info.add_pod(&pod);
        assert_eq!((info.pod_count, info.pods_of_owner("rs"), info.used_ports.len()), (2, 2, 2));
        info.remove_pod(&pod);
        info.remove_pod(&pod);
        assert_eq!((info.pod_count, info.pods_of_owner("rs"), info.used_ports.len()), (0, 0, 0));
        assert!(info.requested.is_zero() && info.owners.is_empty());
    }
}
