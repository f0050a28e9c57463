//! The scheduler's view of the cluster: one [`NodeInfo`] per node with the
//! totals of the pods bound (or about to be bound) to it.
//!
//! A decision is "assumed" into the cache at once, before the binding call
//! returns and long before the pod watch reports `spec.nodeName`, so the next
//! pod already sees the resources, ports and spread of the last one. The
//! watch later confirms the assumption; a failed binding forgets it.

use crate::framework::{NodeInfo, NodeSpec, PodUsage};
use client::Object;
use k8s_openapi::api::core::v1::Node;
use std::collections::HashMap;

/// What a Node event changed, for deciding whether waiting pods deserve another try.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeChange {
    Added,
    /// Something the filters look at changed (labels, taints, readiness, allocatable...).
    Changed,
    /// Only things scheduling ignores changed (heartbeats, images, addresses).
    Unchanged,
}

#[derive(Debug, Clone)]
struct CachedPod {
    node: String,
    usage: PodUsage,
    /// Placed by this scheduler and not yet seen bound in the watch.
    assumed: bool,
}

#[derive(Default)]
pub struct Cache {
    /// Nodes with a Node object: the candidates for scheduling.
    nodes: Vec<NodeInfo>,
    index: HashMap<String, usize>,
    /// Totals for node names that pods are bound to but that have no Node
    /// object (deleted, or not listed yet), kept so the pods are not lost.
    orphans: HashMap<String, NodeInfo>,
    pods: HashMap<String, CachedPod>,
}

impl Cache {
    /// The nodes pods can be scheduled to.
    pub fn nodes(&self) -> &[NodeInfo] {
        &self.nodes
    }

    pub fn node(&self, name: &str) -> Option<&NodeInfo> {
        self.index.get(name).map(|&i| &self.nodes[i])
    }

    /// Adds or updates a node from its object.
    pub fn apply_node(&mut self, node: &Node) -> NodeChange {
        let name = node.name();
        let spec = NodeSpec::from_node(node);
        if let Some(&i) = self.index.get(name) {
            if self.nodes[i].spec == spec {
                return NodeChange::Unchanged;
            }
            self.nodes[i].spec = spec;
            return NodeChange::Changed;
        }
        let mut info = self.orphans.remove(name).unwrap_or_else(|| NodeInfo::new(name, NodeSpec::default()));
        info.spec = spec;
        self.index.insert(name.to_string(), self.nodes.len());
        self.nodes.push(info);
        NodeChange::Added
    }

    pub fn remove_node(&mut self, name: &str) {
        let Some(i) = self.index.remove(name) else {
            return;
        };
        let info = self.nodes.swap_remove(i);
        if let Some(moved) = self.nodes.get(i) {
            self.index.insert(moved.name.clone(), i);
        }
        if info.pod_count > 0 {
            self.orphans.insert(info.name.clone(), info);
        }
    }

    fn node_mut(&mut self, name: &str) -> &mut NodeInfo {
        match self.index.get(name) {
            Some(&i) => &mut self.nodes[i],
            None => self.orphans.entry(name.to_string()).or_insert_with(|| NodeInfo::new(name, NodeSpec::default())),
        }
    }

    fn release(&mut self, pod: &CachedPod) {
        self.node_mut(&pod.node).remove_pod(&pod.usage);
        if self.orphans.get(&pod.node).is_some_and(|n| n.pod_count == 0) {
            self.orphans.remove(&pod.node);
        }
    }

    fn place(&mut self, key: &str, node: &str, usage: PodUsage, assumed: bool) {
        if let Some(old) = self.pods.remove(key) {
            self.release(&old);
        }
        self.node_mut(node).add_pod(&usage);
        self.pods.insert(key.to_string(), CachedPod { node: node.to_string(), usage, assumed });
    }

    /// Counts a pod on `node` now, before its binding is confirmed.
    pub fn assume(&mut self, key: &str, node: &str, usage: PodUsage) {
        self.place(key, node, usage, true);
    }

    /// Undoes `assume` after a failed binding. A pod the watch has meanwhile
    /// shown bound stays: the binding did happen.
    pub fn forget(&mut self, key: &str) {
        if let Some(pod) = self.pods.get(key).filter(|p| p.assumed).cloned() {
            self.pods.remove(key);
            self.release(&pod);
        }
    }

    pub fn is_assumed(&self, key: &str) -> bool {
        self.pods.get(key).is_some_and(|p| p.assumed)
    }

    /// Records a pod the watch shows bound to `node`, confirming an assumption
    /// or moving the pod if it went elsewhere.
    pub fn apply_pod(&mut self, key: &str, node: &str, usage: PodUsage) {
        if let Some(p) = self.pods.get_mut(key) {
            if p.node == node && p.usage == usage {
                p.assumed = false;
                return;
            }
        }
        self.place(key, node, usage, false);
    }

    /// Removes a pod (deleted, or finished); true if it was counted somewhere.
    pub fn remove_pod(&mut self, key: &str) -> bool {
        match self.pods.remove(key) {
            Some(pod) => {
                self.release(&pod);
                true
            }
            None => false,
        }
    }

    pub fn pod_count(&self) -> usize {
        self.pods.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{node, pod};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

    fn usage(cpu: &str) -> PodUsage {
        pod("x").cpu(cpu).owner("rs").info().usage
    }

    #[test]
    fn assumed_pods_count_until_forgotten() {
        let mut cache = Cache::default();
        cache.apply_node(&node("n1").build());
        cache.assume("default/a", "n1", usage("1"));
        assert_eq!(cache.node("n1").unwrap().requested.milli_cpu, 1000);
        assert!(cache.is_assumed("default/a"));
        cache.forget("default/a");
        assert_eq!(cache.node("n1").unwrap().requested.milli_cpu, 0);
        assert_eq!(cache.pod_count(), 0);
    }

    #[test]
    fn the_watch_confirms_an_assumption_without_counting_twice() {
        let mut cache = Cache::default();
        cache.apply_node(&node("n1").build());
        cache.assume("default/a", "n1", usage("1"));
        cache.apply_pod("default/a", "n1", usage("1"));
        let n1 = cache.node("n1").unwrap();
        assert_eq!((n1.pod_count, n1.requested.milli_cpu, n1.pods_of_owner("rs")), (1, 1000, 1));
        assert!(!cache.is_assumed("default/a"));
        cache.forget("default/a");
        assert_eq!(cache.node("n1").unwrap().pod_count, 1, "a confirmed pod is not forgotten");
    }

    #[test]
    fn a_pod_seen_on_another_node_moves() {
        let mut cache = Cache::default();
        cache.apply_node(&node("n1").build());
        cache.apply_node(&node("n2").build());
        cache.assume("default/a", "n1", usage("1"));
        cache.apply_pod("default/a", "n2", usage("1"));
        assert_eq!(cache.node("n1").unwrap().pod_count, 0);
        assert_eq!(cache.node("n2").unwrap().pod_count, 1);
    }

    #[test]
    fn pods_on_unknown_nodes_are_kept_until_the_node_appears() {
        let mut cache = Cache::default();
        cache.apply_pod("default/a", "late", usage("500m"));
        assert!(cache.nodes().is_empty(), "no Node object, no candidate");
        assert_eq!(cache.apply_node(&node("late").build()), NodeChange::Added);
        assert_eq!(cache.node("late").unwrap().requested.milli_cpu, 500);
        cache.remove_node("late");
        assert!(cache.node("late").is_none());
        assert!(cache.remove_pod("default/a"));
        assert_eq!(cache.apply_node(&node("late").build()), NodeChange::Added);
        assert_eq!(cache.node("late").unwrap().pod_count, 0, "the deleted pod is gone with it");
    }

    #[test]
    fn node_updates_are_told_apart_from_heartbeats() {
        let mut cache = Cache::default();
        let mut n = node("n1").build();
        assert_eq!(cache.apply_node(&n), NodeChange::Added);
        let conditions = n.status.as_mut().and_then(|s| s.conditions.as_mut()).unwrap();
        conditions[0].last_heartbeat_time = Some(Time("2024-01-01T00:00:00Z".parse().unwrap()));
        assert_eq!(cache.apply_node(&n), NodeChange::Unchanged);
        n.metadata.labels.as_mut().unwrap().insert("gpu".into(), "true".into());
        assert_eq!(cache.apply_node(&n), NodeChange::Changed);
        assert_eq!(cache.apply_node(&node("n1").unschedulable().label("gpu", "true").build()), NodeChange::Changed);
    }

    #[test]
    fn removing_a_node_keeps_the_others_addressable() {
        let mut cache = Cache::default();
        for name in ["a", "b", "c"] {
            cache.apply_node(&node(name).build());
        }
        cache.remove_node("a");
        let names: Vec<&str> = cache.nodes().iter().map(|n| n.name.as_str()).collect();
        assert_eq!(names.len(), 2);
        for name in ["b", "c"] {
            assert_eq!(cache.node(name).unwrap().name, name);
        }
    }
}
