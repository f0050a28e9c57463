//! The filter and score plugins, one module each, each a pure function of a
//! pod and a node with its own table tests.
//!
//! Filters run in kube-scheduler's default order and a node's verdict is the
//! first filter that rejects it, so the failure message names one reason per
//! node (or several from one plugin, as NodeResourcesFit's `Insufficient cpu`
//! and `Insufficient memory`). NodeReady stands where Kubernetes' not-ready
//! taint would be judged, just before TaintToleration.

pub mod balanced_allocation;
pub mod least_allocated;
pub mod node_affinity;
pub mod node_name;
pub mod node_ports;
pub mod node_ready;
pub mod node_resources_fit;
pub mod node_unschedulable;
pub mod owner_spread;
pub mod taint_toleration;

use crate::framework::{FilterPlugin, ScorePlugin};

/// The filters, in the order they run.
pub fn default_filters() -> Vec<Box<dyn FilterPlugin>> {
    vec![
        Box::new(node_unschedulable::NodeUnschedulable),
        Box::new(node_name::NodeName),
        Box::new(node_ready::NodeReady),
        Box::new(taint_toleration::TaintToleration),
        Box::new(node_affinity::NodeAffinity),
        Box::new(node_ports::NodePorts),
        Box::new(node_resources_fit::NodeResourcesFit),
    ]
}

/// The scores with their weights. TaintToleration and resource weights are
/// kube-scheduler's defaults; OwnerSpread takes the weight (2) of
/// PodTopologySpread, the plugin that spreads a controller's pods there.
pub fn default_scores() -> Vec<(Box<dyn ScorePlugin>, i64)> {
    vec![
        (Box::new(taint_toleration::TaintToleration), 3),
        (Box::new(least_allocated::LeastAllocated), 1),
        (Box::new(balanced_allocation::BalancedAllocation), 1),
        (Box::new(owner_spread::OwnerSpread), 2),
    ]
}
