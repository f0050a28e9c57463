//! The scheduling queue of pending pods, as kube-scheduler's: an active queue
//! (highest priority first, then first come), a backoff queue for pods whose
//! last attempt was recent, and a set of unschedulable pods.
//!
//! A pod that fits nowhere waits in the unschedulable set, not retried in a
//! loop, until something happens that could make it fit: a node is added or
//! changes in a way the filters notice, a pod is deleted or finishes and frees
//! resources, or the pod itself changes. Then it moves back to the active
//! queue, or to the backoff queue if its backoff (1s doubling to 10s per
//! attempt, by default) has not run out, so a flapping cluster cannot make it
//! spin. Pods that stay unschedulable too long (5 minutes by default) are
//! retried anyway, in case an event was missed.
//!
//! Times are passed in, so the queue is a plain data structure that tests
//! drive with `tokio::time::pause`.

use std::cmp::Reverse;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Duration;
use tokio::time::Instant;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Place {
    Active {
        seq: u64,
    },
    Backoff {
        until: Instant,
        seq: u64,
    },
    Unschedulable {
        since: Instant,
    },
    /// Popped: being scheduled, or being bound.
    InFlight,
}

#[derive(Debug, Clone)]
struct Entry {
    priority: i32,
    attempts: u32,
    last_attempt: Option<Instant>,
    place: Place,
}

/// Where a pod is, for callers and tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueuedState {
    Active,
    Backoff,
    Unschedulable,
    InFlight,
}

pub struct SchedulingQueue {
    entries: HashMap<String, Entry>,
    active: BTreeMap<(Reverse<i32>, u64), String>,
    backoff: BTreeMap<(Instant, u64), String>,
    unschedulable: HashSet<String>,
    seq: u64,
    initial_backoff: Duration,
    max_backoff: Duration,
}

impl SchedulingQueue {
    pub fn new(initial_backoff: Duration, max_backoff: Duration) -> Self {
        Self {
            entries: HashMap::new(),
            active: BTreeMap::new(),
            backoff: BTreeMap::new(),
            unschedulable: HashSet::new(),
            seq: 0,
            initial_backoff,
            max_backoff,
        }
    }

    fn next_seq(&mut self) -> u64 {
        self.seq += 1;
        self.seq
    }

    /// Takes `key` out of whichever queue holds it.
    fn detach(&mut self, key: &str) {
        let Some(entry) = self.entries.get(key) else {
            return;
        };
        match entry.place {
            Place::Active { seq } => {
                self.active.remove(&(Reverse(entry.priority), seq));
            }
            Place::Backoff { until, seq } => {
                self.backoff.remove(&(until, seq));
            }
            Place::Unschedulable { .. } => {
                self.unschedulable.remove(key);
            }
            Place::InFlight => {}
        }
    }

    fn put_active(&mut self, key: &str) {
        let seq = self.next_seq();
        if let Some(entry) = self.entries.get_mut(key) {
            entry.place = Place::Active { seq };
            self.active.insert((Reverse(entry.priority), seq), key.to_string());
        }
    }

    fn put_backoff(&mut self, key: &str, until: Instant) {
        let seq = self.next_seq();
        if let Some(entry) = self.entries.get_mut(key) {
            entry.place = Place::Backoff { until, seq };
            self.backoff.insert((until, seq), key.to_string());
        }
    }

    /// kube-scheduler's backoff: the initial delay, doubled per further attempt, capped.
    fn backoff_duration(&self, attempts: u32) -> Duration {
        let doublings = attempts.saturating_sub(1).min(31);
        self.initial_backoff.saturating_mul(1 << doublings).min(self.max_backoff)
    }

    fn backoff_until(&self, key: &str) -> Option<Instant> {
        let entry = self.entries.get(key)?;
        Some(entry.last_attempt? + self.backoff_duration(entry.attempts))
    }

    /// Queues a new pending pod, or notes a new priority for a queued one.
    pub fn add(&mut self, key: &str, priority: i32) {
        match self.entries.get(key).map(|e| (e.priority, e.place)) {
            None => {
                self.entries.insert(
                    key.to_string(),
                    Entry { priority, attempts: 0, last_attempt: None, place: Place::InFlight },
                );
                self.put_active(key);
            }
            Some((old, Place::Active { .. })) if old != priority => {
                self.detach(key);
                self.entries.get_mut(key).expect("present").priority = priority;
                self.put_active(key);
            }
            Some(_) => self.entries.get_mut(key).expect("present").priority = priority,
        }
    }

    /// The pod itself changed (tolerations, selector...): if it was waiting as
    /// unschedulable, it deserves another try.
    pub fn pod_updated(&mut self, key: &str, now: Instant) {
        if self.unschedulable.contains(key) {
            self.requeue(key, now);
        }
    }

    pub fn delete(&mut self, key: &str) {
        self.detach(key);
        self.entries.remove(key);
    }

    /// The next pod to schedule, marked in flight.
    pub fn pop(&mut self, now: Instant) -> Option<String> {
        self.flush_backoff(now);
        let (_, key) = self.active.pop_first()?;
        let entry = self.entries.get_mut(&key).expect("queued keys have entries");
        entry.place = Place::InFlight;
        entry.attempts += 1;
        entry.last_attempt = Some(now);
        Some(key)
    }

    /// The popped pod fits nowhere: park it until the cluster changes.
    pub fn unschedulable(&mut self, key: &str, now: Instant) {
        if let Some(entry) = self.entries.get_mut(key) {
            entry.place = Place::Unschedulable { since: now };
            self.unschedulable.insert(key.to_string());
        }
    }

    /// The popped pod hit an error (a failed binding, no nodes at all): retry after its backoff.
    pub fn retry_after_backoff(&mut self, key: &str, now: Instant) {
        if self.entries.get(key).is_some_and(|e| e.place == Place::InFlight) {
            let until = self.backoff_until(key).unwrap_or(now);
            self.put_backoff(key, until);
        }
    }

    /// The popped pod is bound: it leaves the queue.
    pub fn done(&mut self, key: &str) {
        self.delete(key);
    }

    fn requeue(&mut self, key: &str, now: Instant) {
        self.detach(key);
        match self.backoff_until(key).filter(|until| *until > now) {
            Some(until) => self.put_backoff(key, until),
            None => self.put_active(key),
        }
    }

    /// Something changed that may let waiting pods fit: every unschedulable pod gets another try.
    pub fn move_all_unschedulable(&mut self, now: Instant) {
        let keys: Vec<String> = self.unschedulable.iter().cloned().collect();
        for key in keys {
            self.requeue(&key, now);
        }
    }

    /// Moves pods whose backoff has run out to the active queue.
    pub fn flush_backoff(&mut self, now: Instant) {
        while let Some(entry) = self.backoff.first_entry() {
            if entry.key().0 > now {
                break;
            }
            let key = entry.remove();
            self.put_active(&key);
        }
    }

    /// Retries pods that have waited as unschedulable for at least `max_wait`.
    pub fn flush_unschedulable_leftover(&mut self, now: Instant, max_wait: Duration) {
        let stale: Vec<String> = self
            .unschedulable
            .iter()
            .filter(|k| {
                matches!(self.entries.get(*k), Some(Entry { place: Place::Unschedulable { since }, .. })
                    if now.duration_since(*since) >= max_wait)
            })
            .cloned()
            .collect();
        for key in stale {
            self.requeue(&key, now);
        }
    }

    /// When the earliest backoff runs out.
    pub fn next_backoff_expiry(&self) -> Option<Instant> {
        self.backoff.keys().next().map(|(until, _)| *until)
    }

    pub fn has_active(&self) -> bool {
        !self.active.is_empty()
    }

    pub fn state(&self, key: &str) -> Option<QueuedState> {
        self.entries.get(key).map(|e| match e.place {
            Place::Active { .. } => QueuedState::Active,
            Place::Backoff { .. } => QueuedState::Backoff,
            Place::Unschedulable { .. } => QueuedState::Unschedulable,
            Place::InFlight => QueuedState::InFlight,
        })
    }

    /// Pods in the queue in any state.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn unschedulable_len(&self) -> usize {
        self.unschedulable.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn queue() -> SchedulingQueue {
        SchedulingQueue::new(Duration::from_secs(1), Duration::from_secs(10))
    }

    #[tokio::test(start_paused = true)]
    async fn higher_priority_first_then_first_come() {
        let mut q = queue();
        q.add("low", 0);
        q.add("high", 100);
        q.add("low2", 0);
        let now = Instant::now();
        let order: Vec<String> = std::iter::from_fn(|| q.pop(now)).collect();
        assert_eq!(order, ["high", "low", "low2"]);
    }

    #[tokio::test(start_paused = true)]
    async fn a_failed_pod_waits_until_a_node_changes() {
        let mut q = queue();
        q.add("p", 0);
        let key = q.pop(Instant::now()).unwrap();
        q.unschedulable(&key, Instant::now());
        tokio::time::advance(Duration::from_secs(30)).await;
        assert_eq!(q.pop(Instant::now()), None, "not retried on its own");
        assert_eq!(q.state("p"), Some(QueuedState::Unschedulable));

        q.move_all_unschedulable(Instant::now());
        assert_eq!(q.pop(Instant::now()).as_deref(), Some("p"), "back once the cluster changed");
    }

    #[tokio::test(start_paused = true)]
    async fn a_pod_moved_right_after_failing_serves_its_backoff_first() {
        let mut q = queue();
        q.add("p", 0);
        for attempt in 1..=5u32 {
            let start = Instant::now();
            q.pop(start).unwrap();
            q.unschedulable("p", start);
            q.move_all_unschedulable(start);
            assert_eq!(q.state("p"), Some(QueuedState::Backoff));
            let expiry = q.next_backoff_expiry().unwrap();
            let expected = Duration::from_secs(1 << (attempt - 1)).min(Duration::from_secs(10));
            assert_eq!(expiry - start, expected, "attempt {attempt}");
            assert_eq!(q.pop(start), None);
            tokio::time::advance(expected).await;
        }
        assert_eq!(q.pop(Instant::now()).as_deref(), Some("p"));
    }

    #[tokio::test(start_paused = true)]
    async fn stale_unschedulable_pods_are_retried_after_the_max_wait() {
        let mut q = queue();
        q.add("old", 0);
        q.pop(Instant::now()).unwrap();
        q.unschedulable("old", Instant::now());
        tokio::time::advance(Duration::from_secs(200)).await;
        q.add("young", 0);
        q.pop(Instant::now()).unwrap();
        q.unschedulable("young", Instant::now());
        tokio::time::advance(Duration::from_secs(100)).await;

        q.flush_unschedulable_leftover(Instant::now(), Duration::from_secs(300));
        assert_eq!(q.state("old"), Some(QueuedState::Active));
        assert_eq!(q.state("young"), Some(QueuedState::Unschedulable));
    }

    #[tokio::test(start_paused = true)]
    async fn errors_retry_after_backoff_and_binding_removes_the_pod() {
        let mut q = queue();
        q.add("p", 0);
        q.pop(Instant::now()).unwrap();
        q.retry_after_backoff("p", Instant::now());
        assert_eq!(q.pop(Instant::now()), None);
        tokio::time::advance(Duration::from_secs(1)).await;
        assert_eq!(q.pop(Instant::now()).as_deref(), Some("p"));
        q.done("p");
        assert!(q.is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn an_updated_unschedulable_pod_is_retried_and_others_stay() {
        let mut q = queue();
        for k in ["a", "b"] {
            q.add(k, 0);
        }
        let now = Instant::now();
        while let Some(k) = q.pop(now) {
            q.unschedulable(&k, now);
        }
        tokio::time::advance(Duration::from_secs(2)).await;
        q.pod_updated("a", Instant::now());
        q.add("a", 0);
        assert_eq!(q.state("a"), Some(QueuedState::Active));
        assert_eq!(q.state("b"), Some(QueuedState::Unschedulable));
    }

    #[tokio::test(start_paused = true)]
    async fn deleted_pods_leave_every_queue() {
        let mut q = queue();
        q.add("active", 0);
        q.add("parked", 0);
        q.add("backoff", 0);
        let now = Instant::now();
        assert_eq!(q.pop(now).as_deref(), Some("active"));
        q.add("active", 0);
        q.pop(now);
        q.unschedulable("parked", now);
        q.pop(now);
        q.retry_after_backoff("backoff", now);
        for k in ["active", "parked", "backoff"] {
            q.delete(k);
        }
        assert!(q.is_empty());
        assert_eq!(q.unschedulable_len(), 0);
        assert_eq!(q.next_backoff_expiry(), None);
        assert!(!q.has_active());
    }

    #[tokio::test(start_paused = true)]
    async fn a_priority_change_reorders_the_active_queue() {
        let mut q = queue();
        q.add("a", 0);
        q.add("b", 0);
        q.add("b", 10);
        assert_eq!(q.pop(Instant::now()).as_deref(), Some("b"));
    }
}
