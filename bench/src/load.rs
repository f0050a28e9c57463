//! The load driver every throughput phase uses: one task per client, each with
//! its own connection, pulling operation numbers from a shared counter until
//! the phase's budget (a count, a duration, or both) is spent, and recording
//! each operation's latency into its own recorder.
//!
//! Closed-loop on purpose: a client sends its next request when the previous one
//! returns, like the controllers and kubelets that will load the apiserver, so
//! throughput at N clients is what N busy components would get.

use crate::stats::{throughput, Latencies};
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
// Tokio's clock is the real one in a run and can be paused in tests.
use tokio::time::Instant;

/// When a phase stops starting new operations: after `ops` operations or
/// after `time`, whichever comes first (at least one must be set).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Budget {
    pub ops: Option<u64>,
    pub time: Option<Duration>,
}

impl Budget {
    pub fn ops(n: u64) -> Budget {
        Budget { ops: Some(n), time: None }
    }

    pub fn time(d: Duration) -> Budget {
        Budget { ops: None, time: Some(d) }
    }

    /// This budget with its operation count capped at `n`.
    pub fn at_most(self, n: u64) -> Budget {
        Budget { ops: Some(self.ops.map_or(n, |ops| ops.min(n))), time: self.time }
    }

    fn spent(&self, op: u64, started: Instant) -> bool {
        self.ops.is_some_and(|n| op >= n) || self.time.is_some_and(|t| started.elapsed() >= t)
    }
}

impl std::fmt::Display for Budget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (self.ops, self.time) {
            (Some(n), Some(t)) => write!(f, "{n} operations or {t:?}"),
            (Some(n), None) => write!(f, "{n} operations"),
            (None, Some(t)) => write!(f, "{t:?}"),
            (None, None) => write!(f, "no limit"),
        }
    }
}

/// What a phase did.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    /// Latencies of the successful operations.
    pub latencies: Latencies,
    pub ok: u64,
    pub failed: u64,
    /// Operation numbers handed out: `0..attempted` were all tried.
    pub attempted: u64,
    pub first_error: Option<String>,
    /// Wall time from the first operation to the last completion.
    pub elapsed: Duration,
}

impl Outcome {
    /// Successful operations per second.
    pub fn rate(&self) -> f64 {
        throughput(self.ok, self.elapsed)
    }

    /// A one-line account for the progress log.
    pub fn describe(&self) -> String {
        let s = self.latencies.summary();
        let mut line = format!(
            "{} ok in {:.1} s ({}), p50 {}, p99 {}",
            self.ok,
            self.elapsed.as_secs_f64(),
            crate::stats::format_rate(self.rate()),
            crate::stats::format_duration(s.p50),
            crate::stats::format_duration(s.p99),
        );
        if self.failed > 0 {
            line.push_str(&format!(", {} FAILED", self.failed));
        }
        line
    }

    /// None when every operation succeeded, else what went wrong, for the report.
    pub fn error_summary(&self, phase: &str) -> Option<String> {
        if self.failed == 0 && self.ok > 0 {
            return None;
        }
        let first = self.first_error.as_deref().unwrap_or("no operation ran");
        Some(format!("{phase}: {} of {} operations failed; first error: {first}", self.failed, self.attempted))
    }
}

/// Runs `op(client, n)` for n = 0, 1, 2, ... with one task per client until
/// `budget` is spent. `op` returns an error message on failure; failures are
/// counted, not retried, and do not stop the phase.
pub async fn drive<C, F, Fut>(clients: &[C], budget: Budget, op: F) -> Outcome
where
    C: Clone + Send + 'static,
    F: Fn(C, u64) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), String>> + Send + 'static,
{
    assert!(budget.ops.is_some() || budget.time.is_some(), "a phase needs an operation count or a duration");
    let next = Arc::new(AtomicU64::new(0));
    let op = Arc::new(op);
    let started = Instant::now();
    let tasks: Vec<_> = clients
        .iter()
        .cloned()
        .map(|client| {
            let (next, op) = (next.clone(), op.clone());
            tokio::spawn(async move {
                let mut mine = Outcome::default();
                loop {
                    let n = next.fetch_add(1, Ordering::Relaxed);
                    if budget.spent(n, started) {
                        break;
                    }
                    let sent = Instant::now();
                    match op(client.clone(), n).await {
                        Ok(()) => {
                            mine.latencies.record(sent.elapsed());
                            mine.ok += 1;
                        }
                        Err(e) => {
                            mine.failed += 1;
                            mine.first_error.get_or_insert(e);
                        }
                    }
                }
                mine
            })
        })
        .collect();
    let mut total = Outcome::default();
    for task in futures::future::join_all(tasks).await {
        match task {
            Ok(part) => {
                total.latencies.merge(&part.latencies);
                total.ok += part.ok;
                total.failed += part.failed;
                if total.first_error.is_none() {
                    total.first_error = part.first_error;
                }
            }
            Err(e) => {
                // A panicking operation is a bench bug; count it rather than lose the phase.
                total.failed += 1;
                total.first_error.get_or_insert_with(|| format!("load task panicked: {e}"));
            }
        }
    }
    total.elapsed = started.elapsed();
    // Each client overshoots the counter once when it stops.
    let handed_out = next.load(Ordering::Relaxed).saturating_sub(clients.len() as u64);
    total.attempted = budget.ops.map_or(handed_out, |n| handed_out.min(n));
    total
}

/// Runs `op(n)` for n = 0, 1, ..., `count` - 1, one started every 1/`rate`
/// seconds on a task of its own, whatever the earlier ones are doing
/// (open-loop), and never in a burst to catch up: a burst would measure
/// queueing. Each latency runs from the operation's start to its end.
pub async fn paced<F, Fut>(count: u64, rate: f64, op: F) -> Outcome
where
    F: Fn(u64) -> Fut,
    Fut: Future<Output = Result<(), String>> + Send + 'static,
{
    let mut ticks = tokio::time::interval(Duration::from_secs_f64(1.0 / rate.max(0.001)));
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for n in 0..count {
        ticks.tick().await;
        let op = op(n);
        tasks.push(tokio::spawn(async move {
            let sent = Instant::now();
            op.await.map(|()| sent.elapsed())
        }));
    }
    let mut out = Outcome { attempted: count, ..Default::default() };
    for task in futures::future::join_all(tasks).await {
        match task.map_err(|e| format!("task panicked: {e}")).and_then(|result| result) {
            Ok(latency) => {
                out.latencies.record(latency);
                out.ok += 1;
            }
            Err(e) => {
                out.failed += 1;
                out.first_error.get_or_insert(e);
            }
        }
    }
    out.elapsed = started.elapsed();
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[tokio::test]
    async fn a_count_budget_runs_each_operation_once() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        let out = drive(&[(), (), ()], Budget::ops(100), move |(), n| {
            let log = log.clone();
            async move {
                log.lock().expect("lock").push(n);
                tokio::task::yield_now().await;
                Ok(())
            }
        })
        .await;
        assert_eq!((out.ok, out.failed, out.attempted), (100, 0, 100));
        assert_eq!(out.latencies.count(), 100);
        let mut seen = seen.lock().expect("lock").clone();
        seen.sort_unstable();
        assert_eq!(seen, (0..100).collect::<Vec<_>>());
        assert!(out.error_summary("x").is_none());
    }

    #[tokio::test(start_paused = true)]
    async fn paced_operations_start_on_schedule() {
        let out = paced(5, 10.0, |n| async move {
            if n == 3 {
                Err("op 3 failed".to_string())
            } else {
                Ok(())
            }
        })
        .await;
        assert_eq!((out.ok, out.failed, out.attempted), (4, 1, 5));
        assert_eq!(out.first_error.as_deref(), Some("op 3 failed"));
        // The first starts at once, the fifth 4 ticks of 100 ms later.
        assert_eq!(out.elapsed, Duration::from_millis(400));
    }

    #[tokio::test]
    async fn failures_are_counted_and_the_first_is_kept() {
        let out = drive(&[1u8], Budget::ops(10), |_, n| async move {
            if n % 5 == 4 {
                Err(format!("op {n} failed"))
            } else {
                Ok(())
            }
        })
        .await;
        assert_eq!((out.ok, out.failed), (8, 2));
        assert_eq!(out.first_error.as_deref(), Some("op 4 failed"));
        let summary = out.error_summary("gets").expect("an error");
        assert!(summary.starts_with("gets: 2 of 10 operations failed"), "{summary}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_time_budget_stops_starting_operations() {
        let out = drive(&[(), ()], Budget::time(Duration::from_millis(100)), |(), _| async {
            tokio::time::sleep(Duration::from_millis(10)).await;
            Ok(())
        })
        .await;
        // Two clients, 10 ms each, for 100 ms.
        assert_eq!(out.ok, 20, "{out:?}");
        assert_eq!(out.attempted, 20);
    }

    #[test]
    fn budgets_combine_and_print() {
        let b = Budget::time(Duration::from_secs(10)).at_most(100);
        assert_eq!(b, Budget { ops: Some(100), time: Some(Duration::from_secs(10)) });
        assert_eq!(Budget::ops(500).at_most(100).ops, Some(100));
        assert_eq!(b.to_string(), "100 operations or 10s");
    }
}
