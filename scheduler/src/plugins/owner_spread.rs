//! OwnerSpread: spreads the pods of one controller (the ReplicaSet,
//! ReplicationController, Job... named by the pod's controller owner
//! reference) over the nodes, so that losing a node takes as few replicas as
//! possible with it.
//!
//! Kube-scheduler's SelectorSpread counted the pods matching the selectors of
//! the services and controllers the pod belongs to, and scored
//! `100 * (max - count) / max` over the feasible nodes; this plugin counts by
//! owner reference instead, which the node cache keeps per node so scoring a
//! node is one map lookup. Pods without a controller are not spread.

use crate::framework::{NodeInfo, PodInfo, ScorePlugin, MAX_NODE_SCORE};

/// The raw score: how many pods of the same controller already run on the node.
pub fn pods_of_same_owner(pod: &PodInfo, node: &NodeInfo) -> i64 {
    pod.usage.owner.as_deref().map_or(0, |owner| i64::from(node.pods_of_owner(owner)))
}

/// Fewer sibling pods is better: the node with most gets 0, nodes with none 100.
pub fn normalize_counts(scores: &mut [i64]) {
    let max = scores.iter().copied().max().unwrap_or(0);
    for s in scores.iter_mut() {
        *s = if max == 0 { MAX_NODE_SCORE } else { MAX_NODE_SCORE * (max - *s) / max };
    }
}

pub struct OwnerSpread;

impl ScorePlugin for OwnerSpread {
    fn name(&self) -> &'static str {
        "OwnerSpread"
    }
    fn score(&self, pod: &PodInfo, node: &NodeInfo) -> i64 {
        pods_of_same_owner(pod, node)
    }
    fn normalize(&self, scores: &mut [i64]) {
        normalize_counts(scores);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{node, pod};

    #[test]
    fn score_table() {
        let sibling = |name: &str| pod(name).owner("rs-1");
        let nodes = [
            node("empty"),
            node("one").with_pod(sibling("a")),
            node("three").with_pod(sibling("b")).with_pod(sibling("c")).with_pod(sibling("d")),
            node("strangers").with_pod(pod("e").owner("rs-2")).with_pod(pod("f")),
        ];
        let cases = [
            ("a replica avoids its siblings", sibling("new"), [100, 66, 0, 100]),
            ("a pod of another controller", pod("new").owner("rs-9"), [100, 100, 100, 100]),
            ("a pod without a controller is not spread", pod("new"), [100, 100, 100, 100]),
        ];
        for (name, p, expected) in cases {
            let info = p.info();
            let mut scores: Vec<i64> = nodes.iter().map(|n| OwnerSpread.score(&info, &n.info())).collect();
            OwnerSpread.normalize(&mut scores);
            assert_eq!(scores, expected, "{name}");
        }
    }
}
