//! NodeResourcesLeastAllocated: prefers nodes with the most cpu and memory
//! left after placing the pod, so load spreads over the cluster.
//!
//! Per resource: `(allocatable - requested) * 100 / allocatable`, averaged
//! over cpu and memory with equal weights, as kube-scheduler's default
//! NodeResourcesFit scoring. Requests here are the "non-zero" ones: a
//! container that requests nothing counts as 100m cpu and 200Mi memory.

use crate::framework::{NodeInfo, PodInfo, ScorePlugin, MAX_NODE_SCORE};

fn least_requested(requested: i64, allocatable: i64) -> i64 {
    if allocatable == 0 || requested > allocatable {
        return 0;
    }
    (allocatable - requested) * MAX_NODE_SCORE / allocatable
}

pub fn least_allocated(pod: &PodInfo, node: &NodeInfo) -> i64 {
    let alloc = &node.spec.allocatable;
    let resources = [
        (node.non_zero_milli_cpu + pod.usage.non_zero_milli_cpu, alloc.milli_cpu),
        (node.non_zero_memory + pod.usage.non_zero_memory, alloc.memory),
    ];
    // A resource the node does not report is left out rather than scored 0.
    let scored: Vec<i64> = resources.iter().filter(|(_, a)| *a > 0).map(|(r, a)| least_requested(*r, *a)).collect();
    if scored.is_empty() {
        0
    } else {
        scored.iter().sum::<i64>() / scored.len() as i64
    }
}

pub struct LeastAllocated;

impl ScorePlugin for LeastAllocated {
    fn name(&self) -> &'static str {
        "NodeResourcesLeastAllocated"
    }
    fn score(&self, pod: &PodInfo, node: &NodeInfo) -> i64 {
        least_allocated(pod, node)
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
            ("empty node, 1 cpu and 1Gi asked", pod("p").cpu("1").memory("1Gi"), n(), 75),
            (
                "half used after placing",
                pod("p").cpu("1").memory("1Gi"),
                n().with_pod(pod("a").cpu("1").memory("1Gi")),
                50,
            ),
            ("cpu and memory are averaged", pod("p").cpu("2").memory("0"), n(), (50 + 100) / 2),
            ("a full node scores 0", pod("p").cpu("4").memory("4Gi"), n(), 0),
            ("overcommitted scores 0, not negative", pod("p").cpu("8").memory("8Gi"), n(), 0),
            // 100m of 4000m used: 97; 200Mi of 4096Mi: 95.
            ("a best-effort pod counts as 100m and 200Mi", pod("p"), n(), (97 + 95) / 2),
        ];
        for (name, p, node, expected) in cases {
            assert_eq!(least_allocated(&p.info(), &node.info()), expected, "{name}");
        }
    }

    #[test]
    fn emptier_nodes_win() {
        let p = pod("p").cpu("500m").memory("512Mi").info();
        let busy = node("busy").with_pod(pod("a").cpu("3").memory("6Gi")).info();
        let idle = node("idle").info();
        assert!(least_allocated(&p, &idle) > least_allocated(&p, &busy));
    }
}
