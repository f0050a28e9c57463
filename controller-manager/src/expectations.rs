//! Expectations, as Kubernetes' `ControllerExpectations`: a controller that
//! has just asked for N pods (or for these pods' deletion) must not look at
//! its cache and ask again before the cache has caught up, or a slow watch
//! makes it create twice. So it records what it expects to see; the pod
//! handlers count the creations and deletions off as they arrive; and the
//! controller acts again only once everything expected was seen, or after
//! five minutes in case a watch event was lost for good.
//!
//! Deletions are tracked by pod key, not just counted: the same deletion is
//! observed twice (the update that sets the deletionTimestamp, then the
//! delete itself) and must be counted once.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::time::Duration;
use tokio::time::Instant;

/// How long unmet expectations hold a controller back (Kubernetes' ExpectationsTimeout).
pub const EXPECTATIONS_TIMEOUT: Duration = Duration::from_secs(5 * 60);

#[derive(Debug)]
struct Expectation {
    adds: i64,
    /// Pod keys whose deletion is still to be seen.
    deletes: HashSet<String>,
    set_at: Instant,
}

#[derive(Debug, Default)]
pub struct Expectations {
    by_controller: Mutex<HashMap<String, Expectation>>,
}

impl Expectations {
    /// Whether the controller `key` may act on what its cache shows: nothing is
    /// outstanding, the expectations expired, or none were ever set.
    pub fn satisfied(&self, key: &str) -> bool {
        let map = self.by_controller.lock().expect("expectations lock");
        match map.get(key) {
            None => true,
            Some(e) if e.adds <= 0 && e.deletes.is_empty() => true,
            Some(e) if e.set_at.elapsed() > EXPECTATIONS_TIMEOUT => {
                tracing::info!(controller = key, adds = e.adds, deletes = e.deletes.len(), "expectations expired");
                true
            }
            Some(_) => false,
        }
    }

    /// The controller is about to create `count` pods.
    pub fn expect_creations(&self, key: &str, count: usize) {
        let e = Expectation { adds: count as i64, deletes: HashSet::new(), set_at: Instant::now() };
        self.by_controller.lock().expect("expectations lock").insert(key.to_string(), e);
    }

    /// The controller is about to delete these pods (`namespace/name` keys).
    pub fn expect_deletions(&self, key: &str, pods: impl IntoIterator<Item = String>) {
        let e = Expectation { adds: 0, deletes: pods.into_iter().collect(), set_at: Instant::now() };
        self.by_controller.lock().expect("expectations lock").insert(key.to_string(), e);
    }

    /// A pod the controller created was seen (or a create it expected will not happen).
    pub fn creation_observed(&self, key: &str) {
        if let Some(e) = self.by_controller.lock().expect("expectations lock").get_mut(key) {
            e.adds -= 1;
        }
    }

    /// The deletion of `pod` was seen (or failed, so it will not be).
    pub fn deletion_observed(&self, key: &str, pod: &str) {
        if let Some(e) = self.by_controller.lock().expect("expectations lock").get_mut(key) {
            e.deletes.remove(pod);
        }
    }

    /// Forgets a controller that was deleted, so one recreated under its name starts clean.
    pub fn delete(&self, key: &str) {
        self.by_controller.lock().expect("expectations lock").remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn creations_hold_the_controller_until_seen_or_expired() {
        let e = Expectations::default();
        assert!(e.satisfied("default/kubia"), "no expectations: free to act");
        e.expect_creations("default/kubia", 2);
        assert!(!e.satisfied("default/kubia"));
        e.creation_observed("default/kubia");
        assert!(!e.satisfied("default/kubia"));
        e.creation_observed("default/kubia");
        assert!(e.satisfied("default/kubia"));

        e.expect_creations("default/kubia", 1);
        tokio::time::advance(EXPECTATIONS_TIMEOUT).await;
        assert!(!e.satisfied("default/kubia"), "not yet expired at exactly five minutes");
        tokio::time::advance(Duration::from_secs(1)).await;
        assert!(e.satisfied("default/kubia"), "a lost watch event cannot stall the controller forever");
    }

    #[test]
    fn each_deletion_counts_once() {
        let e = Expectations::default();
        e.expect_deletions("default/kubia", ["default/a".to_string(), "default/b".to_string()]);
        e.deletion_observed("default/kubia", "default/a");
        e.deletion_observed("default/kubia", "default/a");
        assert!(!e.satisfied("default/kubia"), "seeing a twice does not account for b");
        e.deletion_observed("default/kubia", "default/b");
        assert!(e.satisfied("default/kubia"));
        e.expect_creations("default/kubia", 1);
        e.delete("default/kubia");
        assert!(e.satisfied("default/kubia"));
    }
}
