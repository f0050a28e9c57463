//! NodeResourcesBalancedAllocation: prefers nodes whose cpu and memory would
//! be used in the same proportion after placing the pod, so that no node ends
//! up with all its memory taken and its cpus idle.
//!
//! As kube-scheduler: the fraction of each resource requested (capped at 1),
//! the standard deviation of the fractions, score `(1 - std) * 100`. With two
//! resources the deviation is half their difference. Unlike LeastAllocated,
//! actual requests are used, not defaulted ones. A best-effort pod (no cpu or
//! memory request) changes no node's balance, so it is not scored at all:
//! otherwise every such pod would be drawn to the same best-balanced node
//! (kubernetes/kubernetes#129138).

use crate::framework::{NodeInfo, PodInfo, ScorePlugin, MAX_NODE_SCORE};

pub fn balanced_allocation(pod: &PodInfo, node: &NodeInfo) -> i64 {
    let alloc = &node.spec.allocatable;
    let want = &pod.usage.requests;
    if want.milli_cpu == 0 && want.memory == 0 {
        return 0;
    }
    let resources = [
        (node.requested.milli_cpu + want.milli_cpu, alloc.milli_cpu),
        (node.requested.memory + want.memory, alloc.memory),
    ];
    let fractions: Vec<f64> =
        resources.iter().filter(|(_, a)| *a > 0).map(|(r, a)| (*r as f64 / *a as f64).min(1.0)).collect();
    let std = match fractions.as_slice() {
        [a, b] => ((a - b) / 2.0).abs(),
        [_, _, ..] => {
            let mean = fractions.iter().sum::<f64>() / fractions.len() as f64;
            (fractions.iter().map(|f| (f - mean).powi(2)).sum::<f64>() / fractions.len() as f64).sqrt()
        }
        _ => 0.0,
    };
    ((1.0 - std) * MAX_NODE_SCORE as f64) as i64
}

pub struct BalancedAllocation;

impl ScorePlugin for BalancedAllocation {
    fn name(&self) -> &'static str {
        "NodeResourcesBalancedAllocation"
    }
    fn score(&self, pod: &PodInfo, node: &NodeInfo) -> i64 {
        balanced_allocation(pod, node)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{node, pod};

    #[test]
    fn score_table() {
        let n = || node("n").allocatable("4", "4Gi", 110);
        let cases = [
            ("same share of both", pod("p").cpu("1").memory("1Gi"), n(), 100),
            ("a best-effort pod is not scored", pod("p"), n(), 0),
            ("a best-effort pod is not scored even on a lopsided node", pod("p"), n().with_pod(pod("a").cpu("4")), 0),
            // cpu 50%, memory 0%: std 0.25.
            ("cpu only", pod("p").cpu("2"), n(), 75),
            // cpu 100% (capped), memory 0%: std 0.5.
            ("overcommitted cpu is capped at 100%", pod("p").cpu("16"), n(), 50),
            // after placing: cpu 2/4 = 50%, memory 2Gi/4Gi = 50%.
            ("evens out a lopsided node", pod("p").memory("2Gi"), n().with_pod(pod("a").cpu("2")), 100),
        ];
        for (name, p, node, expected) in cases {
            assert_eq!(balanced_allocation(&p.info(), &node.info()), expected, "{name}");
        }
    }
}
