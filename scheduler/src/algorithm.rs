//! One scheduling decision, as kube-scheduler's `schedulePod`: run the filters
//! over the nodes until enough feasible ones are found, score those, and pick
//! the best, breaking ties at random.
//!
//! On big clusters checking every node for every pod is wasted work, so the
//! search stops after `percentageOfNodesToScore` of the nodes have passed the
//! filters (adaptive by default: 50% minus 1% per 125 nodes, at least 5% and
//! at least 100 nodes), and the next search starts where the last one stopped,
//! so every node gets its turn. A pod that fits nowhere is checked against
//! every node, so its failure message accounts for all of them.

use crate::framework::{FilterPlugin, FilterResult, FitError, NodeInfo, PodInfo, ScorePlugin};
use crate::plugins;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Below this many nodes every node is checked.
const MIN_FEASIBLE_NODES_TO_FIND: usize = 100;
/// The adaptive percentage never drops below this.
const MIN_FEASIBLE_NODES_PERCENTAGE_TO_FIND: usize = 5;

/// Why a pod could not be placed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    /// The cluster has no nodes at all (kube-scheduler's `ErrNoNodesAvailable`).
    #[error("no nodes available to schedule pods")]
    NoNodesAvailable,
    /// No node passed the filters.
    #[error(transparent)]
    Unschedulable(FitError),
}

/// Where a pod goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Placement {
    /// Index into the node slice given to `schedule`.
    pub node: usize,
    /// Nodes the filters ran on.
    pub evaluated: usize,
    /// Nodes that passed.
    pub feasible: usize,
}

pub struct Algorithm {
    filters: Vec<Box<dyn FilterPlugin>>,
    scores: Vec<(Box<dyn ScorePlugin>, i64)>,
    /// 0 = adaptive.
    percentage_of_nodes_to_score: usize,
    next_start: usize,
    rng: StdRng,
    // Buffers reused across decisions, so scheduling a pod allocates little.
    feasible: Vec<usize>,
    raw: Vec<i64>,
    totals: Vec<i64>,
}

impl Algorithm {
    /// The default plugins. `seed` makes tie-breaking reproducible (tests).
    pub fn new(percentage_of_nodes_to_score: u32, seed: Option<u64>) -> Self {
        Self::with_plugins(plugins::default_filters(), plugins::default_scores(), percentage_of_nodes_to_score, seed)
    }

    pub fn with_plugins(
        filters: Vec<Box<dyn FilterPlugin>>,
        scores: Vec<(Box<dyn ScorePlugin>, i64)>,
        percentage_of_nodes_to_score: u32,
        seed: Option<u64>,
    ) -> Self {
        Self {
            filters,
            scores,
            percentage_of_nodes_to_score: (percentage_of_nodes_to_score as usize).min(100),
            next_start: 0,
            rng: seed.map_or_else(StdRng::from_os_rng, StdRng::seed_from_u64),
            feasible: Vec::new(),
            raw: Vec::new(),
            totals: Vec::new(),
        }
    }

    /// How many feasible nodes are enough to stop looking, as kube-scheduler's `numFeasibleNodesToFind`.
    pub fn num_feasible_nodes_to_find(&self, num_all_nodes: usize) -> usize {
        if num_all_nodes < MIN_FEASIBLE_NODES_TO_FIND {
            return num_all_nodes;
        }
        let percentage = match self.percentage_of_nodes_to_score {
            0 => 50usize.saturating_sub(num_all_nodes / 125).max(MIN_FEASIBLE_NODES_PERCENTAGE_TO_FIND),
            p => p,
        };
        (num_all_nodes * percentage / 100).max(MIN_FEASIBLE_NODES_TO_FIND)
    }

    /// Runs the filters in order; the first rejection is the node's verdict.
    pub fn filter(&self, pod: &PodInfo, node: &NodeInfo) -> FilterResult {
        self.filters.iter().try_for_each(|f| f.filter(pod, node))
    }

    /// Picks a node for `pod` among `nodes`.
    pub fn schedule(&mut self, pod: &PodInfo, nodes: &[NodeInfo]) -> Result<Placement, ScheduleError> {
        let n = nodes.len();
        if n == 0 {
            return Err(ScheduleError::NoNodesAvailable);
        }
        let wanted = self.num_feasible_nodes_to_find(n);
        let mut feasible = std::mem::take(&mut self.feasible);
        feasible.clear();
        let mut unfit = FitError::new(n);
        let mut evaluated = 0;
        for i in 0..n {
            let index = (self.next_start + i) % n;
            evaluated += 1;
            match self.filter(pod, &nodes[index]) {
                Ok(()) => {
                    feasible.push(index);
                    if feasible.len() >= wanted {
                        break;
                    }
                }
                Err(reasons) => unfit.add(reasons),
            }
        }
        self.next_start = (self.next_start + evaluated) % n;

        let result = match feasible.len() {
            0 => Err(ScheduleError::Unschedulable(unfit)),
            1 => Ok(Placement { node: feasible[0], evaluated, feasible: 1 }),
            count => {
                let best = self.pick(pod, nodes, &feasible);
                Ok(Placement { node: feasible[best], evaluated, feasible: count })
            }
        };
        self.feasible = feasible;
        result
    }

    /// Scores the feasible nodes and returns the position (in `feasible`) of
    /// the winner; among equal best scores each has the same chance
    /// (reservoir sampling, as kube-scheduler's `selectHost`).
    fn pick(&mut self, pod: &PodInfo, nodes: &[NodeInfo], feasible: &[usize]) -> usize {
        self.totals.clear();
        self.totals.resize(feasible.len(), 0);
        for (plugin, weight) in &self.scores {
            self.raw.clear();
            self.raw.extend(feasible.iter().map(|&i| plugin.score(pod, &nodes[i])));
            plugin.normalize(&mut self.raw);
            for (total, score) in self.totals.iter_mut().zip(&self.raw) {
                *total += score * weight;
            }
        }
        let (mut best, mut ties, mut chosen) = (i64::MIN, 0u32, 0);
        for (i, &total) in self.totals.iter().enumerate() {
            if total > best {
                (best, ties, chosen) = (total, 1, i);
            } else if total == best {
                ties += 1;
                if self.rng.random_range(0..ties) == 0 {
                    chosen = i;
                }
            }
        }
        chosen
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{node, pod};

    #[test]
    fn percentage_of_nodes_to_score_follows_kubernetes() {
        let adaptive = Algorithm::new(0, Some(1));
        let cases = [(0, 0), (50, 50), (99, 99), (100, 100), (1_000, 420), (5_000, 500), (6_000, 300), (20_000, 1_000)];
        for (nodes, expected) in cases {
            assert_eq!(adaptive.num_feasible_nodes_to_find(nodes), expected, "{nodes} nodes");
        }
        let fixed = Algorithm::new(10, Some(1));
        assert_eq!(fixed.num_feasible_nodes_to_find(500), 100, "never fewer than 100");
        assert_eq!(fixed.num_feasible_nodes_to_find(5_000), 500);
        assert_eq!(Algorithm::new(100, Some(1)).num_feasible_nodes_to_find(5_000), 5_000);
    }

    #[test]
    fn the_emptiest_fitting_node_wins() {
        let nodes = [
            node("busy").with_pod(pod("a").cpu("3")).info(),
            node("gpu-less").info(),
            node("idle").label("gpu", "true").info(),
            node("half").label("gpu", "true").with_pod(pod("b").cpu("2").memory("4Gi")).info(),
        ];
        let mut alg = Algorithm::new(0, Some(7));
        let placed = alg.schedule(&pod("p").cpu("1").node_selector("gpu", "true").info(), &nodes).unwrap();
        assert_eq!(nodes[placed.node].name, "idle");
        assert_eq!((placed.evaluated, placed.feasible), (4, 2));
    }

    #[test]
    fn a_pod_that_fits_nowhere_gets_a_reason_per_node() {
        let nodes = [
            node("n1").info(),
            node("n2").info(),
            node("n3").label("gpu", "true").allocatable("1", "1Gi", 110).info(),
            node("n4").unschedulable().info(),
            node("n5").ready("False").label("gpu", "true").info(),
        ];
        let err = Algorithm::new(0, Some(1))
            .schedule(&pod("p").cpu("2").memory("2Gi").node_selector("gpu", "true").info(), &nodes)
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "0/5 nodes are available: 1 Insufficient cpu, 1 Insufficient memory, \
             1 node(s) had untolerated taint {node.kubernetes.io/not-ready: }, \
             1 node(s) were unschedulable, 2 node(s) didn't match Pod's node affinity/selector."
        );
    }

    #[test]
    fn no_nodes_at_all_reads_as_kubernetes() {
        let err = Algorithm::new(0, None).schedule(&pod("p").info(), &[]).unwrap_err();
        assert_eq!(err, ScheduleError::NoNodesAvailable);
        assert_eq!(err.to_string(), "no nodes available to schedule pods");
    }

    #[test]
    fn ties_are_broken_at_random() {
        let nodes: Vec<NodeInfo> = (0..4).map(|i| node(&format!("n{i}")).info()).collect();
        let mut alg = Algorithm::new(0, Some(42));
        let mut seen = std::collections::BTreeSet::new();
        for _ in 0..200 {
            seen.insert(alg.schedule(&pod("p").info(), &nodes).unwrap().node);
        }
        assert_eq!(seen.len(), 4, "identical nodes all get picked sometimes");
    }

    #[test]
    fn large_clusters_are_sampled_and_the_search_rotates() {
        let nodes: Vec<NodeInfo> = (0..1_000).map(|i| node(&format!("n{i}")).info()).collect();
        let mut alg = Algorithm::new(0, Some(3));
        let first = alg.schedule(&pod("p").info(), &nodes).unwrap();
        assert_eq!((first.evaluated, first.feasible), (420, 420));
        let second = alg.schedule(&pod("p").info(), &nodes).unwrap();
        assert!((420..840).contains(&second.node), "the second search starts where the first stopped");
    }
}
