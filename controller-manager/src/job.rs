//! The Job controller, as Kubernetes' pkg/controller/job for NonIndexed Jobs:
//! runs pods until `completions` of them succeed, at most `parallelism` at a time.
//!
//! Each reconcile of an unfinished Job:
//! 1. counts its pods (those with its controller reference): active, ready,
//!    succeeded, failed;
//! 2. fails the Job when `activeDeadlineSeconds` has passed since `startTime`
//!    (DeadlineExceeded) or when it failed too often (BackoffLimitExceeded):
//!    with `restartPolicy: Never` every failed pod counts, with `OnFailure`
//!    the container restarts of its active pods do. A failing Job's active pods
//!    are deleted;
//! 3. completes it once `completions` pods succeeded (or, without
//!    `completions`, once one succeeded and none is active);
//! 4. otherwise creates or deletes pods towards the wanted active count. After
//!    failures a new pod waits 10 s, 20 s, 40 s, ... (at most 6 minutes) from the
//!    last failure, Kubernetes' pod failure backoff.
//!
//! Simplification: Kubernetes counts finished pods exactly once through the
//! `batch.kubernetes.io/job-tracking` finalizer and `uncountedTerminatedPods`.
//! Here the counts are taken from the pods that exist and never go down, so a
//! finished pod deleted before it was seen is not counted; `uncountedTerminatedPods`
//! is not written. Indexed Jobs, podFailurePolicy and successPolicy are not handled.

use crate::clock::{format_time, parse_time, Clock};
use crate::expectations::Expectations;
use crate::pods::json::{controller_of, is_active};
use crate::pods::{self, is_ready, ApiPodControl, PodControl};
use crate::runner::{Action, Controller, Result};
use crate::Context;
use api::{meta, registry, ResourceInfo};
use client::events::{EventRecorder, EventType};
use client::informer::{Change, SharedInformer};
use client::queue::WorkQueue;
use client::watcher::key_of;
use client::Client;
use jiff::Timestamp;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;

/// The first delay before a pod replaces a failed one; doubles per failure.
pub const BACKOFF_BASE: Duration = Duration::from_secs(10);
/// The longest delay (Kubernetes' MaxJobPodFailureBackOff).
pub const BACKOFF_MAX: Duration = Duration::from_secs(360);

pub fn jobs() -> &'static ResourceInfo {
    registry::lookup("jobs").expect("jobs are registered")
}

/// The delay before a new pod after `failures` consecutive failures.
pub fn backoff_delay(failures: u32) -> Duration {
    if failures == 0 {
        return Duration::ZERO;
    }
    let exp = (failures - 1).min(16);
    (BACKOFF_BASE * 2u32.pow(exp)).min(BACKOFF_MAX)
}

/// Whether a Job has a Complete or Failed condition that is True.
pub fn is_finished(job: &Value) -> bool {
    job["status"]["conditions"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|c| matches!(c["type"].as_str(), Some("Complete" | "Failed")) && c["status"] == "True")
}

/// When a pod finished: its last container's finish, else its last condition change.
fn finish_time(pod: &Value) -> Option<Timestamp> {
    let statuses = pod["status"]["containerStatuses"].as_array().into_iter().flatten();
    let finished = statuses.filter_map(|c| parse_time(&c["state"]["terminated"]["finishedAt"])).max();
    finished.or_else(|| {
        let conditions = pod["status"]["conditions"].as_array().into_iter().flatten();
        conditions.filter_map(|c| parse_time(&c["lastTransitionTime"])).max()
    })
}

fn phase(pod: &Value) -> &str {
    pod["status"]["phase"].as_str().unwrap_or("")
}

/// The container restarts that count against `backoffLimit` under `OnFailure`.
fn restarts(pod: &Value) -> i64 {
    ["containerStatuses", "initContainerStatuses"]
        .iter()
        .flat_map(|f| pod["status"][f].as_array().cloned().unwrap_or_default())
        .filter_map(|c| c["restartCount"].as_i64())
        .sum()
}

pub struct JobController {
    jobs: Arc<SharedInformer>,
    pods: Arc<SharedInformer>,
    pod_control: Arc<dyn PodControl>,
    client: Client,
    clock: Clock,
    expectations: Expectations,
    recorder: Option<EventRecorder>,
}

impl JobController {
    pub fn new(ctx: &Context) -> Self {
        let mut c = Self::with(
            ctx.factory.informer(jobs()),
            ctx.factory.informer(pods::pods()),
            Arc::new(ApiPodControl::new(ctx.client.clone(), "job-controller")),
            ctx.client.clone(),
            ctx.clock.clone(),
        );
        c.recorder = Some(EventRecorder::new(ctx.client.clone(), "job-controller", ""));
        c
    }

    /// A controller over the given caches and pod control, recording no Job Events (for tests).
    pub fn with(
        jobs: Arc<SharedInformer>,
        pods: Arc<SharedInformer>,
        pod_control: Arc<dyn PodControl>,
        client: Client,
        clock: Clock,
    ) -> Self {
        Self { jobs, pods, pod_control, client, clock, expectations: Expectations::default(), recorder: None }
    }

    fn event(&self, job: &Value, kind: EventType, reason: &'static str, message: &str) {
        if let Some(recorder) = self.recorder.clone() {
            let (job, message) = (job.clone(), message.to_string());
            tokio::spawn(async move { recorder.record(&job, kind, reason, &message).await });
        }
    }

    fn owner_key(&self, pod: &Value) -> Option<String> {
        let r = controller_of(pod)?;
        if r["kind"] != "Job" {
            return None;
        }
        let job = self.jobs.store().get_in(meta::namespace(pod), r["name"].as_str()?)?;
        (r["uid"] == meta::uid(&job)).then(|| key_of(&job))
    }

    fn owned_pods(&self, job: &Value) -> Vec<Arc<Value>> {
        let pods = self.pods.store().list_namespace(meta::namespace(job));
        pods.into_iter().filter(|p| controller_of(p).is_some_and(|r| r["uid"] == meta::uid(job))).collect()
    }

    async fn delete_pods(&self, key: &str, job: &Value, victims: &[Arc<Value>]) -> Result<()> {
        self.expectations.expect_deletions(key, victims.iter().map(key_of));
        let mut first_error = None;
        for pod in victims {
            if let Err(e) =
                self.pod_control.delete_pod(meta::namespace(pod), meta::name(pod), &pods::json::owner(job)).await
            {
                self.expectations.deletion_observed(key, &key_of(pod));
                if !e.is_not_found() {
                    first_error.get_or_insert(e);
                }
            }
        }
        first_error.map_or(Ok(()), |e| Err(e.into()))
    }

    async fn write_status(&self, job: &Value, status: Value) -> Result<()> {
        if job["status"] == status {
            return Ok(());
        }
        let mut obj = job.clone();
        obj["status"] = status;
        match self.client.update_status(jobs(), meta::namespace(job), &obj).await {
            Ok(_) => Ok(()),
            Err(e) if e.is_not_found() => Ok(()),
            Err(e) => Err(e.into()),
        }
    }
}

#[async_trait::async_trait]
impl Controller for JobController {
    fn name(&self) -> &'static str {
        "job"
    }

    fn informers(&self) -> Vec<Arc<SharedInformer>> {
        vec![self.jobs.clone(), self.pods.clone()]
    }

    fn handle(&self, resource: &'static ResourceInfo, change: &Change, queue: &WorkQueue) {
        if resource.kind == "Job" {
            match change {
                Change::Added(j) | Change::Updated { new: j, .. } => queue.add(key_of(j)),
                Change::Deleted(j) => {
                    self.expectations.delete(&key_of(j));
                }
                Change::Resync => {}
            }
            return;
        }
        match change {
            Change::Added(pod) => {
                if let Some(key) = self.owner_key(pod) {
                    if meta::deletion_timestamp(pod).is_some() {
                        self.expectations.deletion_observed(&key, &key_of(pod));
                    } else {
                        self.expectations.creation_observed(&key);
                    }
                    queue.add(key);
                }
            }
            Change::Updated { new, .. } => {
                if let Some(key) = self.owner_key(new) {
                    if meta::deletion_timestamp(new).is_some() {
                        self.expectations.deletion_observed(&key, &key_of(new));
                    }
                    queue.add(key);
                }
            }
            Change::Deleted(pod) => {
                if let Some(key) = self.owner_key(pod) {
                    self.expectations.deletion_observed(&key, &key_of(pod));
                    queue.add(key);
                }
            }
            Change::Resync => {}
        }
    }

    fn resync(&self, queue: &WorkQueue) {
        for key in self.jobs.store().keys() {
            queue.add(key);
        }
    }

    async fn reconcile(&self, key: &str) -> Result<Action> {
        let Some(job) = self.jobs.store().get(key) else {
            self.expectations.delete(key);
            return Ok(Action::Done);
        };
        if is_finished(&job) || meta::deletion_timestamp(&job).is_some() {
            return Ok(Action::Done);
        }
        let now = self.clock.now();
        let spec = &job["spec"];
        let pods = self.owned_pods(&job);
        let active: Vec<Arc<Value>> = pods.iter().filter(|p| is_active(p)).cloned().collect();
        let succeeded_pods: Vec<&Arc<Value>> = pods.iter().filter(|p| phase(p) == "Succeeded").collect();
        let failed_pods: Vec<&Arc<Value>> = pods.iter().filter(|p| phase(p) == "Failed").collect();
        let old = &job["status"];
        let succeeded = (succeeded_pods.len() as i64).max(old["succeeded"].as_i64().unwrap_or(0));
        let failed = (failed_pods.len() as i64).max(old["failed"].as_i64().unwrap_or(0));
        let suspended = spec["suspend"] == true;

        let mut status = json!({});
        let start = match parse_time(&old["startTime"]) {
            Some(t) => Some(t),
            None if !suspended => Some(now),
            None => None,
        };
        if let Some(t) = start {
            status["startTime"] = format_time(t).into();
        }
        let mut conditions: Vec<Value> = old["conditions"].as_array().cloned().unwrap_or_default();
        let condition = |t: &str, reason: &str, message: &str| {
            json!({"type": t, "status": "True", "lastProbeTime": format_time(now),
                   "lastTransitionTime": format_time(now), "reason": reason, "message": message})
        };

        let backoff_limit = spec["backoffLimit"].as_i64().unwrap_or(6);
        let on_failure = spec["template"]["spec"]["restartPolicy"] == "OnFailure";
        let restart_total: i64 = active.iter().map(|p| restarts(p)).sum();
        let past_backoff = if on_failure {
            if backoff_limit == 0 {
                restart_total > 0
            } else {
                restart_total >= backoff_limit
            }
        } else {
            failed > backoff_limit
        };
        let deadline =
            spec["activeDeadlineSeconds"].as_i64().zip(start).map(|(secs, t)| crate::clock::add_secs(t, secs));
        let past_deadline = deadline.is_some_and(|d| d <= now);

        let completions = spec["completions"].as_i64();
        let parallelism = spec["parallelism"].as_i64().unwrap_or(1).max(0);
        let mut requeue = Action::Done;
        let mut manage_error = None;
        let failure = if past_backoff {
            Some(("BackoffLimitExceeded", "Job has reached the specified backoff limit"))
        } else if past_deadline {
            Some(("DeadlineExceeded", "Job was active longer than specified deadline"))
        } else {
            None
        };
        let complete = match completions {
            Some(c) => succeeded >= c,
            None => succeeded > 0 && active.is_empty(),
        };
        let mut active_count = active.len() as i64;
        if let Some((reason, message)) = failure {
            tracing::info!(reason, "job failed");
            self.delete_pods(key, &job, &active).await?;
            active_count = 0;
            conditions.push(condition("Failed", reason, message));
            self.event(&job, EventType::Warning, reason, message);
        } else if complete {
            // Work still running when the completions are reached is not needed.
            self.delete_pods(key, &job, &active).await?;
            active_count = 0;
            conditions.push(condition("Complete", "CompletionsReached", "Reached expected number of succeeded pods"));
            status["completionTime"] = format_time(now).into();
            self.event(&job, EventType::Normal, "Completed", "Job completed");
        } else if self.expectations.satisfied(key) {
            let want = if suspended {
                0
            } else {
                match completions {
                    Some(c) => (c - succeeded).clamp(0, parallelism),
                    // A work queue Job starts no new pods once one succeeded.
                    None if succeeded > 0 => active_count,
                    None => parallelism,
                }
            };
            if active_count > want {
                let mut victims = active.clone();
                victims.sort_by(|a, b| pods::json::deletion_order((a, 0), (b, 0), now));
                victims.truncate((active_count - want) as usize);
                self.delete_pods(key, &job, &victims).await?;
                active_count = want;
            } else if active_count < want {
                // Failures since the last success, and when the last one happened.
                let last_success = succeeded_pods.iter().filter_map(|p| finish_time(p)).max();
                let recent: Vec<Timestamp> = failed_pods
                    .iter()
                    .filter_map(|p| finish_time(p))
                    .filter(|t| last_success.is_none_or(|s| *t > s))
                    .collect();
                let wait = match recent.iter().max() {
                    Some(last) => {
                        let until = last.checked_add(backoff_delay(recent.len() as u32)).unwrap_or(*last);
                        self.clock.until(until)
                    }
                    None => Duration::ZERO,
                };
                if wait > Duration::ZERO {
                    tracing::debug!(?wait, "backing off before replacing failed pods");
                    requeue = Action::RequeueAfter(wait);
                } else {
                    let count = (want - active_count) as usize;
                    self.expectations.expect_creations(key, count);
                    let template = &spec["template"];
                    for _ in 0..count {
                        match self
                            .pod_control
                            .create_pod(&pods::json::template(template), &pods::json::owner(&job))
                            .await
                        {
                            Ok(_) => active_count += 1,
                            Err(e) => {
                                self.expectations.creation_observed(key);
                                manage_error.get_or_insert(e);
                            }
                        }
                    }
                }
            }
        }

        status["active"] = active_count.into();
        status["ready"] = active.iter().filter(|p| is_ready(p)).count().into();
        status["succeeded"] = succeeded.into();
        status["failed"] = failed.into();
        if let Some(m) = status.as_object_mut() {
            // Zero counts are omitted, as the API's omitempty does ("ready" is always shown).
            m.retain(|k, v| k == "ready" || v.as_i64() != Some(0));
        }
        if let Some(t) = old.get("completionTime").filter(|v| !v.is_null()) {
            status["completionTime"] = t.clone();
        }
        if !conditions.is_empty() {
            status["conditions"] = conditions.into();
        }
        self.write_status(&job, status).await?;
        if let Some(e) = manage_error {
            return Err(e.into());
        }
        if let (Some(d), None) = (deadline, failure) {
            requeue = requeue.min(Action::RequeueAfter(self.clock.until(d).max(Duration::from_secs(1))));
        }
        Ok(requeue)
    }
}

#[cfg(test)]
mod tests;
