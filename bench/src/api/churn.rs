//! The `api` scenario's churn phase: mutating calls (create, update, status
//! update, delete) on several resources at a fixed total rate, with the
//! latency of each (verb, resource) pair, run once against the apiserver and
//! once, with the same schedule and mix, against raw etcd.
//!
//! The load is open-loop: request `i` is due at `i / rate` seconds after the
//! start whatever happened to the requests before it, and its latency is
//! counted from that due time, not from when it was actually sent. A
//! closed-loop client slows down when the server does, which hides the
//! queueing a steady stream of writers would see (coordinated omission).
//!
//! The mix comes in rounds: in each round every resource gets one create,
//! one update (a label change, guarded by the resourceVersion read from the
//! previous step), one status update (through the `status` subresource) and
//! one delete. Each object goes through those four steps in order, `lag`
//! rounds apart, so the population stays constant: objects for the first
//! rounds' updates and deletes are created (unmeasured) before the clock starts.
//! A step that comes due while the previous step on its object is still in
//! flight waits for it, and that wait is part of its latency.

use crate::stats::Latencies;
use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::watch;
use tokio::time::Instant;

/// The verbs of the mix, in the order each object goes through them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Verb {
    Create,
    /// A metadata change (a label) through a full update with resourceVersion.
    Update,
    /// A status change through the `status` subresource.
    UpdateStatus,
    Delete,
}

impl Verb {
    pub const ALL: [Verb; 4] = [Verb::Create, Verb::Update, Verb::UpdateStatus, Verb::Delete];

    pub fn name(self) -> &'static str {
        match self {
            Verb::Create => "create",
            Verb::Update => "update",
            Verb::UpdateStatus => "update status",
            Verb::Delete => "delete",
        }
    }

    fn index(self) -> usize {
        Verb::ALL.iter().position(|v| *v == self).expect("every verb is in ALL")
    }
}

/// One request of the schedule: `verb` on object number `object` of resource
/// number `resource` (an index into the caller's list of resources).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Step {
    pub verb: Verb,
    pub resource: usize,
    pub object: u64,
}

/// When each request is due and what it is.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Schedule {
    /// Requests per second, all verbs and resources together.
    pub rate: f64,
    pub resources: usize,
    /// Rounds between two steps on the same object.
    pub lag_rounds: u64,
    pub rounds: u64,
}

impl Schedule {
    /// `duration` of requests at `rate` per second over `resources`
    /// resources, the steps on one object about `lag` apart. The duration is
    /// rounded to whole rounds (at least one), so every verb and resource gets
    /// the same share.
    pub fn new(rate: f64, duration: Duration, resources: usize, lag: Duration) -> Schedule {
        assert!(rate > 0.0 && rate.is_finite() && resources > 0, "a schedule needs a positive rate and a resource");
        let per_round = (Verb::ALL.len() * resources) as f64;
        let rounds_per_sec = rate / per_round;
        Schedule {
            rate,
            resources,
            lag_rounds: ((lag.as_secs_f64() * rounds_per_sec).round() as u64).max(1),
            rounds: ((duration.as_secs_f64() * rounds_per_sec).round() as u64).max(1),
        }
    }

    fn per_round(&self) -> u64 {
        (Verb::ALL.len() * self.resources) as u64
    }

    /// Requests in the whole schedule.
    pub fn requests(&self) -> u64 {
        self.rounds * self.per_round()
    }

    /// How long after the start request `i` is due.
    pub fn due(&self, i: u64) -> Duration {
        Duration::from_secs_f64(i as f64 / self.rate)
    }

    /// The schedule's length: when its last request is due, plus one period.
    pub fn duration(&self) -> Duration {
        self.due(self.requests())
    }

    /// Objects per resource created before the clock starts: the ones the
    /// first rounds update, update the status of and delete.
    pub fn preloaded(&self) -> u64 {
        3 * self.lag_rounds
    }

    /// Request `i`. Within a round the verbs come in order, each on every
    /// resource in turn, so no verb bunches up. In round `r` object
    /// `r + 3·lag` is created, `r + 2·lag` updated, `r + lag` has its status
    /// updated and `r` is deleted.
    pub fn step(&self, i: u64) -> Step {
        let (round, within) = (i / self.per_round(), i % self.per_round());
        let resources = self.resources as u64;
        let verb = Verb::ALL[(within / resources) as usize];
        let steps_left = (Verb::ALL.len() - 1 - verb.index()) as u64;
        Step { verb, resource: (within % resources) as usize, object: round + steps_left * self.lag_rounds }
    }
}

/// What one (verb, resource) pair did.
#[derive(Debug, Clone, Default)]
pub struct Cell {
    /// From each request's due time to its answer; successful requests only.
    pub latencies: Latencies,
    pub ok: u64,
    pub failed: u64,
    pub first_error: Option<String>,
}

impl Cell {
    fn record(&mut self, result: &Result<(), String>, latency: Duration) {
        match result {
            Ok(()) => {
                self.ok += 1;
                self.latencies.record(latency);
            }
            Err(e) => {
                self.failed += 1;
                self.first_error.get_or_insert_with(|| e.clone());
            }
        }
    }
}

/// What a churn run did.
#[derive(Debug, Clone, Default)]
pub struct Churned {
    /// Indexed by `verb index * resources + resource`; see [`Churned::cell`].
    pub cells: Vec<Cell>,
    pub resources: usize,
    /// The unmeasured creates before the clock started.
    pub preload: Cell,
    /// From the start of the schedule to the last answer.
    pub elapsed: Duration,
    /// How late the generator started the latest request (it is counted in
    /// that request's latency anyway): how far the load generator itself fell behind.
    pub max_lateness: Duration,
}

impl Churned {
    fn new(resources: usize) -> Churned {
        Churned { cells: vec![Cell::default(); Verb::ALL.len() * resources], resources, ..Churned::default() }
    }

    pub fn cell(&self, verb: Verb, resource: usize) -> &Cell {
        &self.cells[verb.index() * self.resources + resource]
    }

    fn cell_mut(&mut self, verb: Verb, resource: usize) -> &mut Cell {
        &mut self.cells[verb.index() * self.resources + resource]
    }

    /// Every measured request together.
    pub fn total(&self) -> Cell {
        let mut all = Cell::default();
        for c in &self.cells {
            all.latencies.merge(&c.latencies);
            all.ok += c.ok;
            all.failed += c.failed;
            if all.first_error.is_none() {
                all.first_error.clone_from(&c.first_error);
            }
        }
        all
    }

    /// None when every request (and every preloading create) succeeded.
    pub fn error_summary(&self, phase: &str) -> Option<String> {
        let total = self.total();
        if total.failed == 0 && self.preload.failed == 0 && total.ok > 0 {
            return None;
        }
        let first = self.preload.first_error.as_ref().or(total.first_error.as_ref());
        Some(format!(
            "{phase}: {} of {} requests failed, {} of {} preloading creates failed; first error: {}",
            total.failed,
            total.ok + total.failed,
            self.preload.failed,
            self.preload.ok + self.preload.failed,
            first.map_or("none", String::as_str)
        ))
    }
}

/// The longest a request may take, counted from its due time, before it
/// counts as failed; it also bounds how many requests can be in flight.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// Preloading creates in flight at once (closed loop; they are not measured).
const PRELOAD_CONCURRENCY: usize = 32;

/// The state of one object as the step that last touched it left it.
#[derive(Debug, Clone)]
enum Slot<S> {
    Pending,
    Done(S),
    Failed,
}

/// Runs `schedule`: `op(step, previous)` for each request at its due time,
/// where `previous` is what the object's previous step returned (None for a
/// create). Requests are spawned, never awaited in turn, so a slow answer
/// does not delay the next request.
pub async fn run<S, F, Fut>(schedule: &Schedule, op: F) -> Churned
where
    S: Clone + Send + Sync + 'static,
    F: Fn(Step, Option<S>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<S, String>> + Send + 'static,
{
    use futures::StreamExt;
    let op = Arc::new(op);
    let churned = Arc::new(Mutex::new(Churned::new(schedule.resources)));
    // The latest step on each live object: a receiver that turns Done or
    // Failed when that step answers.
    let mut objects: HashMap<(usize, u64), watch::Receiver<Slot<S>>> = HashMap::new();

    let preload = (0..schedule.resources).flat_map(|resource| {
        (0..schedule.preloaded()).map(move |object| Step { verb: Verb::Create, resource, object })
    });
    let preloaded: Vec<(Step, Result<S, String>)> = futures::stream::iter(preload)
        .map(|step| {
            let op = op.clone();
            async move {
                let result = tokio::time::timeout(REQUEST_TIMEOUT, op(step, None)).await;
                (step, result.unwrap_or_else(|_| Err(timed_out())))
            }
        })
        .buffer_unordered(PRELOAD_CONCURRENCY)
        .collect()
        .await;
    {
        let mut churned = churned.lock().expect("churn tally lock");
        for (step, result) in preloaded {
            churned.preload.record(&result.as_ref().map(|_| ()).map_err(Clone::clone), Duration::ZERO);
            let slot = result.map_or(Slot::Failed, Slot::Done);
            // The sender goes at once; a receiver still reads the last value.
            objects.insert((step.resource, step.object), watch::channel(slot).1);
        }
    }

    let start = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    let mut max_lateness = Duration::ZERO;
    for i in 0..schedule.requests() {
        let due = start + schedule.due(i);
        tokio::time::sleep_until(due).await;
        max_lateness = max_lateness.max(Instant::now().saturating_duration_since(due));
        let step = schedule.step(i);
        let key = (step.resource, step.object);
        let previous = if step.verb == Verb::Create { None } else { objects.remove(&key) };
        let (done, slot) = watch::channel(Slot::Pending);
        if step.verb != Verb::Delete {
            objects.insert(key, slot);
        }
        let (op, churned) = (op.clone(), churned.clone());
        tasks.spawn(async move {
            let result = match wait_for(step, previous).await {
                Ok(state) => tokio::time::timeout_at(due + REQUEST_TIMEOUT, op(step, state))
                    .await
                    .unwrap_or_else(|_| Err(timed_out())),
                Err(e) => Err(e),
            };
            let latency = Instant::now().saturating_duration_since(due);
            churned
                .lock()
                .expect("churn tally lock")
                .cell_mut(step.verb, step.resource)
                .record(&result.as_ref().map(|_| ()).map_err(Clone::clone), latency);
            done.send_replace(result.map_or(Slot::Failed, Slot::Done));
        });
    }
    while let Some(joined) = tasks.join_next().await {
        if let Err(e) = joined {
            // A panicking request is a bench bug; count it rather than lose the phase.
            let mut churned = churned.lock().expect("churn tally lock");
            churned.preload.failed += 1;
            churned.preload.first_error.get_or_insert_with(|| format!("churn task panicked: {e}"));
        }
    }
    let mut out = churned.lock().expect("churn tally lock").clone();
    out.elapsed = start.elapsed();
    out.max_lateness = max_lateness;
    out
}

fn timed_out() -> String {
    format!("no answer within {REQUEST_TIMEOUT:?} of the request's due time")
}

/// The state the previous step on the object left, once it has answered.
async fn wait_for<S: Clone>(step: Step, previous: Option<watch::Receiver<Slot<S>>>) -> Result<Option<S>, String> {
    let skipped = || format!("{} skipped: an earlier step on its object failed", step.verb.name());
    let Some(mut previous) = previous else {
        return if step.verb == Verb::Create { Ok(None) } else { Err(skipped()) };
    };
    let slot = previous.wait_for(|s| !matches!(s, Slot::Pending)).await.map_err(|_| skipped())?;
    match &*slot {
        Slot::Done(state) => Ok(Some(state.clone())),
        _ => Err(skipped()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schedule(rate: f64, seconds: u64, resources: usize, lag_ms: u64) -> Schedule {
        Schedule::new(rate, Duration::from_secs(seconds), resources, Duration::from_millis(lag_ms))
    }

    #[test]
    fn every_round_has_each_verb_on_each_resource_once() {
        // 200 writes/s over 2 resources: 8 requests a round, 25 rounds a second.
        let s = schedule(200.0, 10, 2, 1000);
        assert_eq!((s.rounds, s.lag_rounds, s.requests()), (250, 25, 2000));
        assert_eq!(s.preloaded(), 75);
        for round in 0..s.rounds {
            let mut seen: Vec<(Verb, usize)> =
                (0..8).map(|j| s.step(round * 8 + j)).map(|st| (st.verb, st.resource)).collect();
            seen.dedup();
            assert_eq!(seen.len(), 8, "round {round}: {seen:?}");
        }
        assert_eq!(s.step(0), Step { verb: Verb::Create, resource: 0, object: 75 });
        assert_eq!(s.step(1), Step { verb: Verb::Create, resource: 1, object: 75 });
        assert_eq!(s.step(2), Step { verb: Verb::Update, resource: 0, object: 50 });
        assert_eq!(s.step(7), Step { verb: Verb::Delete, resource: 1, object: 0 });
    }

    #[test]
    fn requests_are_due_on_a_fixed_clock() {
        let s = schedule(200.0, 3, 2, 1000);
        assert_eq!(s.due(0), Duration::ZERO);
        assert_eq!(s.due(1), Duration::from_millis(5));
        assert_eq!(s.due(200), Duration::from_secs(1));
        assert_eq!(s.duration(), Duration::from_secs(3));
        // Rounded to whole rounds, never empty, the lag at least a round.
        let tiny = schedule(4.0, 0, 3, 0);
        assert_eq!((tiny.rounds, tiny.lag_rounds, tiny.requests()), (1, 1, 12));
    }

    #[test]
    fn each_object_goes_through_the_verbs_in_order_a_lag_apart() {
        let s = schedule(80.0, 5, 2, 500);
        let mut history: HashMap<(usize, u64), Vec<(Verb, Duration)>> = HashMap::new();
        for k in 0..s.preloaded() {
            for r in 0..2 {
                history.entry((r, k)).or_default().push((Verb::Create, Duration::ZERO));
            }
        }
        for i in 0..s.requests() {
            let st = s.step(i);
            history.entry((st.resource, st.object)).or_default().push((st.verb, s.due(i)));
        }
        let mut counts: HashMap<Verb, u64> = HashMap::new();
        for ((_, object), steps) in &history {
            let verbs: Vec<Verb> = steps.iter().map(|(v, _)| *v).collect();
            // Objects created in the run go through a prefix of the
            // lifecycle (the run ends mid-way for some); preloaded ones
            // start at the step their place in the pipeline calls for. Either
            // way: created first, then the verbs in order, none twice.
            assert_eq!(verbs[0], Verb::Create, "object {object}");
            let indices: Vec<usize> = verbs.iter().map(|v| v.index()).collect();
            assert!(indices[1..].windows(2).all(|w| w[1] == w[0] + 1), "object {object}: {verbs:?}");
            if *object >= s.preloaded() {
                assert_eq!(verbs[..], Verb::ALL[..verbs.len()], "object {object}");
            }
            for pair in steps.windows(2).skip(1) {
                assert!(pair[1].1 - pair[0].1 >= Duration::from_millis(500), "object {object}: {steps:?}");
            }
            for v in verbs {
                *counts.entry(v).or_default() += 1;
            }
        }
        // A steady population: as many deletes as creates in the schedule.
        assert_eq!(counts[&Verb::Delete], s.rounds * 2);
        assert_eq!(counts[&Verb::Create] - s.preloaded() * 2, s.rounds * 2);
    }

    #[tokio::test(start_paused = true)]
    async fn slow_answers_do_not_slow_the_schedule() {
        // 100 requests/s for 2 s, each answered after 300 ms: a closed-loop
        // client would need 60 s; the open-loop schedule ends on time and
        // every request measures 300 ms.
        let s = schedule(100.0, 2, 1, 1000);
        let out = run(&s, |_, _: Option<()>| async {
            tokio::time::sleep(Duration::from_millis(300)).await;
            Ok(())
        })
        .await;
        let total = out.total();
        assert_eq!((total.ok, total.failed, out.preload.ok), (200, 0, 75));
        assert!(out.elapsed < Duration::from_millis(2400), "{:?}", out.elapsed);
        let summary = total.latencies.summary();
        assert!(summary.p50 >= Duration::from_millis(300) && summary.max < Duration::from_millis(310), "{summary:?}");
        for verb in Verb::ALL {
            assert_eq!(out.cell(verb, 0).ok, 50, "{verb:?}");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_step_waits_for_the_previous_one_and_counts_the_wait() {
        // Creates in the run take 1.5 s. Object 3 is created at 0 s and due
        // for its update at 0.625 s, so that update waits until 1.5 s and
        // measures about 885 ms; the update of preloaded object 2 measures 10 ms.
        let s = schedule(8.0, 1, 1, 500);
        assert_eq!(s.lag_rounds, 1);
        let out = run(&s, |step, previous: Option<Vec<Verb>>| async move {
            let wait = if step.verb == Verb::Create && step.object >= 3 { 1500 } else { 10 };
            tokio::time::sleep(Duration::from_millis(wait)).await;
            let mut history = previous.unwrap_or_default();
            if step.verb == Verb::Delete && history.first() != Some(&Verb::Create) {
                return Err(format!("delete of {} saw {history:?}", step.object));
            }
            history.push(step.verb);
            Ok(history)
        })
        .await;
        assert!(out.error_summary("churn").is_none(), "{:?}", out.error_summary("churn"));
        let creates = out.cell(Verb::Create, 0).latencies.summary();
        assert!(creates.p50 >= Duration::from_millis(1500), "{creates:?}");
        let updates = out.cell(Verb::Update, 0).latencies.summary();
        assert_eq!(updates.count, 2);
        assert!(updates.max >= Duration::from_millis(880), "{updates:?}");
        assert!(updates.p50 < Duration::from_millis(20), "preloaded objects are ready: {updates:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_failed_step_fails_the_rest_of_its_object_only() {
        let s = schedule(40.0, 1, 2, 100);
        let out = run(&s, |step, _: Option<()>| async move {
            if step.resource == 1 && step.verb == Verb::Update {
                return Err(format!("conflict on {}", step.object));
            }
            Ok(())
        })
        .await;
        let (updates, statuses) = (out.cell(Verb::Update, 1), out.cell(Verb::UpdateStatus, 1));
        assert_eq!((updates.ok, updates.failed), (0, 5));
        assert_eq!(updates.first_error.as_deref().map(|e| e.starts_with("conflict")), Some(true));
        // Objects updated in this run have their status update skipped; the
        // preloaded ones whose update came before the clock started do not.
        assert_eq!(statuses.ok + statuses.failed, 5);
        assert!(statuses.failed >= 1, "{statuses:?}");
        assert!(statuses.first_error.as_deref().is_some_and(|e| e.contains("skipped")), "{statuses:?}");
        assert_eq!(out.cell(Verb::Update, 0).failed, 0);
        let summary = out.error_summary("api churn").expect("failures are reported");
        assert!(summary.starts_with("api churn: "), "{summary}");
    }
}
