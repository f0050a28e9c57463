//! Many clients updating one object at once: optimistic concurrency loses no
//! update, and every writer that lost a race is told so with a Conflict.

use api::registry::lookup;
use e2e::Cluster;
use serde_json::json;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_updates_lose_nothing_and_losers_get_conflicts() {
    let c = Cluster::start();
    let cms = lookup("leases").unwrap();
    let cl = c.client().await;
    let lease = json!({"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                       "metadata": {"name": "counter", "annotations": {"count": "0"}}, "spec": {}});
    cl.create(cms, "default", &lease).await.unwrap();

    const CLIENTS: usize = 20;
    const INCREMENTS: usize = 10;
    let conflicts = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..CLIENTS {
        let cl = c.client().await;
        let conflicts = conflicts.clone();
        tasks.push(tokio::spawn(async move {
            for _ in 0..INCREMENTS {
                loop {
                    let mut obj = cl.get(cms, "default", "counter").await.unwrap();
                    let n: usize = obj["metadata"]["annotations"]["count"].as_str().unwrap().parse().unwrap();
                    obj["metadata"]["annotations"]["count"] = (n + 1).to_string().into();
                    match cl.update(cms, "default", &obj).await {
                        Ok(_) => break,
                        Err(e) if e.is_conflict() => {
                            assert!(e.message.contains("the object has been modified"), "{}", e.message);
                            conflicts.fetch_add(1, Ordering::Relaxed);
                        }
                        Err(e) => panic!("unexpected error: {e}"),
                    }
                }
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let obj = cl.get(cms, "default", "counter").await.unwrap();
    assert_eq!(obj["metadata"]["annotations"]["count"], (CLIENTS * INCREMENTS).to_string());
    assert!(conflicts.load(Ordering::Relaxed) > 0, "20 racing clients must have collided at least once");

    // A write with a stale resourceVersion is refused even when nothing else is racing.
    let mut stale = obj.clone();
    stale["metadata"]["resourceVersion"] = "1".into();
    let err = cl.update(cms, "default", &stale).await.unwrap_err();
    assert!(err.is_conflict());
}
