//! The scheduling state machine over a thousand fake nodes, without an
//! apiserver: replicas of one controller spread over the cluster, and pods
//! placed but not yet confirmed by the watch ("assumed") already count, so a
//! burst of pods never overcommits a node.

use scheduler::scheduling::{Decision, Scheduler, Settings};
use scheduler::testing::{node, pod};
use std::collections::HashMap;
use std::time::Instant as WallClock;
use tokio::time::Instant;

fn cluster(nodes: usize, cpu: &str) -> Scheduler {
    let mut s = Scheduler::new(Settings { seed: Some(2024), ..Default::default() });
    let now = Instant::now();
    for i in 0..nodes {
        s.node_applied(&node(&format!("node-{i:04}")).allocatable(cpu, "8Gi", 110).build(), now);
    }
    s
}

/// Schedules everything pending; returns pods per node and the failure messages.
fn drain(s: &mut Scheduler) -> (HashMap<String, usize>, Vec<String>) {
    let (mut per_node, mut failures) = (HashMap::new(), Vec::new());
    let now = Instant::now();
    while let Some(decision) = s.schedule_next(now) {
        match decision {
            // The binding is never confirmed by a watch here: only the assumption counts.
            Decision::Bind { node, .. } => *per_node.entry(node).or_insert(0) += 1,
            Decision::Failed { message, .. } => failures.push(message),
        }
    }
    (per_node, failures)
}

#[tokio::test(start_paused = true)]
async fn replicas_spread_over_a_thousand_nodes() {
    let mut s = cluster(1_000, "4");
    let now = Instant::now();
    for i in 0..3_000 {
        s.pod_applied(&pod(&format!("web-{i}")).cpu("100m").memory("128Mi").owner("rs-web").shared(), now);
    }
    let (per_node, failures) = drain(&mut s);
    assert!(failures.is_empty(), "{failures:?}");
    assert_eq!(per_node.values().sum::<usize>(), 3_000);
    assert_eq!(per_node.len(), 1_000, "every node got replicas");
    let busiest = per_node.values().max().copied().unwrap_or(0);
    assert!(busiest <= 4, "3 per node is even; the busiest node has {busiest}");
}

#[tokio::test(start_paused = true)]
async fn assumed_pods_fill_nodes_exactly_to_capacity() {
    // 1,000 one-cpu nodes hold 4,000 quarter-cpu pods and not one more.
    let mut s = cluster(1_000, "1");
    let now = Instant::now();
    for i in 0..4_001 {
        s.pod_applied(&pod(&format!("batch-{i}")).cpu("250m").shared(), now);
    }
    let (per_node, failures) = drain(&mut s);
    assert_eq!(per_node.values().sum::<usize>(), 4_000);
    assert!(per_node.values().all(|n| *n == 4), "no node overcommitted");
    assert_eq!(failures, ["0/1000 nodes are available: 1000 Insufficient cpu."]);
    for n in s.cache.nodes() {
        assert_eq!(n.requested.milli_cpu, 1_000, "{}", n.name);
    }
}

#[tokio::test(start_paused = true)]
async fn scheduling_rate_is_reported() {
    // Debug builds are several times slower than release ones; the
    // `throughput` example measures properly. This only reports, never fails on speed.
    for nodes in [1_000, 5_000] {
        let mut s = cluster(nodes, "8");
        let now = Instant::now();
        for i in 0..2_000 {
            let p = pod(&format!("p-{i}")).cpu("100m").memory("100Mi").owner(&format!("rs-{}", i % 20));
            s.pod_applied(&p.shared(), now);
        }
        let start = WallClock::now();
        let (per_node, failures) = drain(&mut s);
        let secs = start.elapsed().as_secs_f64();
        assert!(failures.is_empty());
        assert_eq!(per_node.values().sum::<usize>(), 2_000);
        println!("{nodes} nodes: {:.0} pods/s (debug build)", 2_000.0 / secs);
    }
}
