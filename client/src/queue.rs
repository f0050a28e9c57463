//! The work queue that feeds controllers, as client-go's: a key added many
//! times before a worker takes it is handled once; a key being handled is not
//! given to a second worker, and if it changes meanwhile it is handled again
//! afterwards; failed keys come back after a per-key exponential backoff.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Notify;

#[derive(Default)]
struct State {
    queue: VecDeque<String>,
    /// Keys waiting in `queue` (for de-duplication).
    dirty: HashSet<String>,
    /// Keys a worker holds now.
    processing: HashSet<String>,
    /// Consecutive failures per key, for the backoff.
    failures: HashMap<String, u32>,
    shut_down: bool,
}

#[derive(Clone)]
pub struct WorkQueue {
    state: Arc<Mutex<State>>,
    notify: Arc<Notify>,
    base_delay: Duration,
    max_delay: Duration,
}

impl Default for WorkQueue {
    fn default() -> Self {
        Self::new(Duration::from_millis(5), Duration::from_secs(300))
    }
}

impl WorkQueue {
    /// `base_delay` doubles with each consecutive failure of a key, up to `max_delay`.
    pub fn new(base_delay: Duration, max_delay: Duration) -> Self {
        Self { state: Default::default(), notify: Arc::new(Notify::new()), base_delay, max_delay }
    }

    pub fn add(&self, key: impl Into<String>) {
        let key = key.into();
        let mut s = self.state.lock().expect("queue lock");
        if s.shut_down || !s.dirty.insert(key.clone()) {
            return;
        }
        // A key being processed is queued again when its worker calls `done`.
        if !s.processing.contains(&key) {
            s.queue.push_back(key);
            drop(s);
            self.notify.notify_one();
        }
    }

    /// Adds `key` after `delay`.
    pub fn add_after(&self, key: impl Into<String>, delay: Duration) {
        let (q, key) = (self.clone(), key.into());
        tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            q.add(key);
        });
    }

    /// Adds `key` again after its backoff; call when handling it failed.
    pub fn add_rate_limited(&self, key: &str) {
        let delay = {
            let mut s = self.state.lock().expect("queue lock");
            let n = s.failures.entry(key.to_string()).or_insert(0);
            *n += 1;
            let factor = 2u32.saturating_pow(n.saturating_sub(1).min(31));
            self.base_delay.saturating_mul(factor).min(self.max_delay)
        };
        self.add_after(key.to_string(), delay);
    }

    /// Resets the backoff of `key`; call when handling it succeeded.
    pub fn forget(&self, key: &str) {
        self.state.lock().expect("queue lock").failures.remove(key);
    }

    /// The next key to handle, or None once the queue is shut down.
    pub async fn get(&self) -> Option<String> {
        loop {
            let notified = self.notify.notified();
            {
                let mut s = self.state.lock().expect("queue lock");
                if let Some(key) = s.queue.pop_front() {
                    s.dirty.remove(&key);
                    s.processing.insert(key.clone());
                    return Some(key);
                }
                if s.shut_down {
                    return None;
                }
            }
            notified.await;
        }
    }

    /// Marks `key` handled; if it was added meanwhile, it is queued again.
    pub fn done(&self, key: &str) {
        let mut s = self.state.lock().expect("queue lock");
        s.processing.remove(key);
        if s.dirty.contains(key) {
            s.queue.push_back(key.to_string());
            drop(s);
            self.notify.notify_one();
        }
    }

    pub fn len(&self) -> usize {
        self.state.lock().expect("queue lock").queue.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn shut_down(&self) {
        self.state.lock().expect("queue lock").shut_down = true;
        self.notify.notify_waiters();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn duplicates_collapse_into_one_item() {
        let q = WorkQueue::default();
        q.add("a");
        q.add("a");
        q.add("b");
        assert_eq!(q.len(), 2);
        assert_eq!(q.get().await.as_deref(), Some("a"));
        assert_eq!(q.get().await.as_deref(), Some("b"));
    }

    #[tokio::test]
    async fn a_key_in_work_is_not_handed_out_twice_but_comes_back() {
        let q = WorkQueue::default();
        q.add("a");
        let k = q.get().await.unwrap();
        q.add("a");
        assert!(q.is_empty(), "held by a worker, so not queued yet");
        q.done(&k);
        assert_eq!(q.get().await.as_deref(), Some("a"));
    }

    #[tokio::test(start_paused = true)]
    async fn failures_back_off_exponentially() {
        let q = WorkQueue::new(Duration::from_millis(10), Duration::from_millis(35));
        for expected in [10u64, 20, 35, 35] {
            let start = tokio::time::Instant::now();
            q.add_rate_limited("k");
            let k = q.get().await.unwrap();
            q.done(&k);
            assert_eq!(start.elapsed().as_millis() as u64, expected);
        }
        q.forget("k");
        let start = tokio::time::Instant::now();
        q.add_rate_limited("k");
        q.get().await.unwrap();
        assert_eq!(start.elapsed().as_millis(), 10);
    }

    #[tokio::test]
    async fn shut_down_releases_waiters() {
        let q = WorkQueue::default();
        let waiter = tokio::spawn({
            let q = q.clone();
            async move { q.get().await }
        });
        tokio::task::yield_now().await;
        q.shut_down();
        assert_eq!(waiter.await.unwrap(), None);
    }
}
