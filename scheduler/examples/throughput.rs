//! Measures scheduling decisions per second of the in-memory algorithm (no
//! apiserver, no network): N nodes, a burst of pods from 20 ReplicaSets, each
//! decision assumed into the cache as the daemon does.
//!
//! `cargo run --release -p scheduler --example throughput -- 100 1000 5000`

use scheduler::scheduling::{Decision, Scheduler, Settings};
use scheduler::testing::{node, pod};
use std::time::Instant as WallClock;
use tokio::time::Instant;

fn measure(nodes: usize, pods: usize) -> f64 {
    let mut s = Scheduler::new(Settings { seed: Some(1), ..Default::default() });
    let now = Instant::now();
    for i in 0..nodes {
        s.node_applied(&node(&format!("node-{i}")).allocatable("32", "128Gi", 110).build(), now);
    }
    for i in 0..pods {
        let p = pod(&format!("p-{i}")).cpu("100m").memory("200Mi").owner(&format!("rs-{}", i % 20));
        s.pod_applied(&p.shared(), now);
    }
    let start = WallClock::now();
    let mut bound = 0;
    while let Some(decision) = s.schedule_next(now) {
        if let Decision::Bind { .. } = decision {
            bound += 1;
        }
    }
    assert_eq!(bound, pods, "every pod fits");
    pods as f64 / start.elapsed().as_secs_f64()
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let sizes: Vec<usize> = std::env::args().skip(1).filter_map(|a| a.parse().ok()).collect();
    let sizes = if sizes.is_empty() { vec![100, 1_000, 5_000] } else { sizes };
    for nodes in sizes {
        let pods = 10_000;
        println!("{nodes:>6} nodes: {:>8.0} pods/s ({pods} pods)", measure(nodes, pods));
    }
}
