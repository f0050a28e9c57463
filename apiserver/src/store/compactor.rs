//! The store's history, compacted on a schedule, as kube-apiserver's
//! compactor does (`--etcd-compaction-interval`, 5 minutes by default).
//!
//! etcd keeps every old revision of every key until it is told to compact.
//! Without that its memory and database grow with each write, lease renewals
//! and status updates included, until etcd refuses writes at its space quota
//! (2 GiB by default). At each tick the compactor compacts to the revision it
//! read at the tick before, so a watch can always resume from any version
//! less than one interval old; older ones get "too old resource version" and
//! re-list, as in Kubernetes.

use super::Store;
use std::sync::Arc;
use std::time::Duration;

/// Compacts `store` every `interval`, forever.
pub async fn run(store: Arc<dyn Store>, interval: Duration) {
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // The first tick is immediate: it only reads where the history starts to count.
    ticker.tick().await;
    let mut previous = None;
    loop {
        previous = tick(&*store, previous).await;
        ticker.tick().await;
    }
}

/// One tick: compacts to `previous` (the revision read one interval ago), and
/// returns the revision to compact to at the next tick.
async fn tick(store: &dyn Store, previous: Option<i64>) -> Option<i64> {
    if let Some(revision) = previous {
        match store.compact(revision).await {
            Ok(()) => tracing::info!(revision, "compacted the store's history"),
            // The next tick compacts further, which covers this one.
            Err(e) => tracing::warn!(revision, error = %e, "compacting the store's history"),
        }
    }
    match store.current_revision().await {
        Ok(now) => Some(now),
        Err(e) => {
            tracing::warn!(error = %e, "reading the store's revision for the next compaction");
            previous
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::mem::MemStore;
    use crate::store::StoreError;
    use futures::StreamExt;

    /// Creates `n` keys named after `batch`; returns the last revision.
    async fn put(store: &MemStore, batch: &str, n: usize) -> i64 {
        let mut last = 0;
        for i in 0..n {
            last = store.create(&format!("/registry/pods/ns/{batch}-{i}"), b"{}".to_vec()).await.expect("create");
        }
        last
    }

    /// The first event a watch from `after` yields (an error if its history is gone).
    async fn first_event(store: &MemStore, after: i64) -> Result<i64, StoreError> {
        let mut watch = store.watch("/registry/", after).await?;
        watch.next().await.expect("an event or an error").map(|e| e.revision)
    }

    #[tokio::test(start_paused = true)]
    async fn each_tick_compacts_to_the_revision_of_the_tick_before() {
        let store = Arc::new(MemStore::new());
        let first = put(&store, "first", 3).await;
        let compactor = tokio::spawn(run(store.clone(), Duration::from_secs(300)));
        tokio::time::sleep(Duration::from_secs(1)).await;
        let second = put(&store, "second", 3).await;

        // One interval on: history up to the first tick's revision is gone,
        // what came after it is still there.
        tokio::time::sleep(Duration::from_secs(300)).await;
        assert!(matches!(first_event(&store, 1).await, Err(StoreError::Compacted { .. })));
        assert_eq!(first_event(&store, first).await, Ok(first + 1));
        assert_eq!(first_event(&store, second - 1).await, Ok(second));

        // Another interval on: up to the second tick's revision.
        tokio::time::sleep(Duration::from_secs(300)).await;
        assert!(matches!(first_event(&store, first).await, Err(StoreError::Compacted { .. })));
        compactor.abort();
    }
}
