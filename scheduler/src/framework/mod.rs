//! The scheduling framework, as kube-scheduler's `framework` package: the
//! pods and nodes as plugins see them ([`PodInfo`], [`NodeInfo`]), the plugin
//! interfaces, and the failure message. A filter says whether a pod may run
//! on a node (and why not, in words users read in `kubectl describe`); a
//! score ranks the nodes that passed from 0 to 100.
//!
//! Plugins depend on this module and never the other way round: what a
//! plugin needs precomputed on a pod or node (host ports, parsed node
//! affinity) is defined here.

mod node_info;
mod node_selector;
mod pod_info;

pub use node_info::{NodeInfo, NodeSpec, Readiness};
pub use node_selector::NodeSelector;
pub use pod_info::{priority, HostPort, PodInfo, PodUsage, ALL_ADDRESSES};

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;

/// The highest score a plugin gives a node.
pub const MAX_NODE_SCORE: i64 = 100;

/// One reason a node was rejected: `Insufficient cpu`.
pub type Reason = Cow<'static, str>;

/// Why a filter rejected a node; usually one reason, several when one plugin
/// finds several shortfalls (`Insufficient cpu` and `Insufficient memory`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unfit(pub Vec<Reason>);

impl Unfit {
    pub fn new(reason: impl Into<Reason>) -> Self {
        Self(vec![reason.into()])
    }
}

pub type FilterResult = Result<(), Unfit>;

/// Decides whether a pod may run on a node. Filters must be pure: the same pod
/// and node give the same answer.
pub trait FilterPlugin: Send + Sync {
    fn name(&self) -> &'static str;
    fn filter(&self, pod: &PodInfo, node: &NodeInfo) -> FilterResult;
}

/// Ranks a node for a pod. `score` may return any raw value; after all
/// feasible nodes are scored `normalize` maps the raw values to 0..=100
/// (plugins that already score in that range keep the default, which does nothing).
pub trait ScorePlugin: Send + Sync {
    fn name(&self) -> &'static str;
    fn score(&self, pod: &PodInfo, node: &NodeInfo) -> i64;
    fn normalize(&self, _scores: &mut [i64]) {}
}

/// Kubernetes' `DefaultNormalizeScore`: scales raw scores so the largest
/// becomes 100; `reverse` turns "more is worse" counts into scores.
pub fn default_normalize(scores: &mut [i64], reverse: bool) {
    let max = scores.iter().copied().max().unwrap_or(0);
    for s in scores.iter_mut() {
        let scaled = if max == 0 { 0 } else { MAX_NODE_SCORE * *s / max };
        *s = if reverse { MAX_NODE_SCORE - scaled } else { scaled };
    }
}

/// The scheduling failure kube-scheduler reports when no node passed the
/// filters: how many nodes were considered, and how many failed for each reason.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FitError {
    pub num_all_nodes: usize,
    pub reasons: HashMap<Reason, usize>,
}

impl FitError {
    pub fn new(num_all_nodes: usize) -> Self {
        Self { num_all_nodes, reasons: HashMap::new() }
    }

    /// Counts one node's rejection.
    pub fn add(&mut self, unfit: Unfit) {
        for reason in unfit.0 {
            *self.reasons.entry(reason).or_insert(0) += 1;
        }
    }
}

/// `0/3 nodes are available: 1 Insufficient cpu, 2 node(s) didn't match Pod's node affinity/selector.`
///
/// As in kube-scheduler, the `<count> <reason>` strings are sorted as plain
/// strings (so `10 ...` sorts before `2 ...`) and joined with ", ".
impl fmt::Display for FitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "0/{} nodes are available:", self.num_all_nodes)?;
        let mut histogram: Vec<String> = self.reasons.iter().map(|(r, n)| format!("{n} {r}")).collect();
        histogram.sort();
        if !histogram.is_empty() {
            write!(f, " {}.", histogram.join(", "))?;
        }
        Ok(())
    }
}

impl std::error::Error for FitError {}

#[cfg(test)]
mod tests {
    use super::*;

    fn fit_error(nodes: usize, rejections: &[&[&'static str]]) -> String {
        let mut err = FitError::new(nodes);
        for reasons in rejections {
            err.add(Unfit(reasons.iter().map(|r| Reason::from(*r)).collect()));
        }
        err.to_string()
    }

    #[test]
    fn failure_messages_read_as_kube_schedulers() {
        let affinity = "node(s) didn't match Pod's node affinity/selector";
        let cases: &[(usize, &[&[&'static str]], &str)] = &[
            (
                3,
                &[&[affinity], &[affinity], &[affinity]],
                "0/3 nodes are available: 3 node(s) didn't match Pod's node affinity/selector.",
            ),
            (
                3,
                &[&["Insufficient cpu"], &[affinity], &[affinity]],
                "0/3 nodes are available: 1 Insufficient cpu, 2 node(s) didn't match Pod's node affinity/selector.",
            ),
            (
                2,
                &[&["Insufficient cpu", "Insufficient memory"], &["Insufficient memory"]],
                "0/2 nodes are available: 1 Insufficient cpu, 2 Insufficient memory.",
            ),
            (
                1,
                &[&["node(s) had untolerated taint {node.kubernetes.io/not-ready: }"]],
                "0/1 nodes are available: 1 node(s) had untolerated taint {node.kubernetes.io/not-ready: }.",
            ),
            (0, &[], "0/0 nodes are available:"),
        ];
        for (nodes, rejections, expected) in cases {
            assert_eq!(fit_error(*nodes, rejections), *expected);
        }
    }

    #[test]
    fn counts_sort_as_strings_like_kubernetes() {
        let mut rejections: Vec<&[&'static str]> = vec![&["Too many pods"]; 10];
        rejections.extend([&["node(s) were unschedulable"][..], &["node(s) were unschedulable"][..]]);
        assert_eq!(
            fit_error(12, &rejections),
            "0/12 nodes are available: 10 Too many pods, 2 node(s) were unschedulable."
        );
    }

    #[test]
    fn normalizing_scales_to_the_largest_and_can_reverse() {
        let mut counts = [0, 1, 2, 4];
        default_normalize(&mut counts, true);
        assert_eq!(counts, [100, 75, 50, 0]);
        let mut none = [0, 0];
        default_normalize(&mut none, true);
        assert_eq!(none, [100, 100], "no node is worse than another");
        let mut weights = [5, 10];
        default_normalize(&mut weights, false);
        assert_eq!(weights, [50, 100]);
    }
}
