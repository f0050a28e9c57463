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

use crate::clock::Clock;
use crate::expectations::Expectations;
use crate::pods::{self, ApiPodControl, Owner, PodControl};
use crate::runner::{Action, Controller, Result, Watch};
use crate::Context;
use api::k8s_openapi;
use api::pod::{controller_of, is_active, is_ready, phase};
use client::events::{EventRecorder, EventType};
use client::informer::{Change, SharedInformer};
use client::queue::WorkQueue;
use client::watcher::key_of;
use client::{Api, Client, Object};
use jiff::Timestamp;
use k8s_openapi::api::batch::v1::{Job, JobCondition, JobStatus};
use k8s_openapi::api::core::v1::Pod;
use std::sync::Arc;
use std::time::Duration;

/// The first delay before a pod replaces a failed one; doubles per failure.
pub const BACKOFF_BASE: Duration = Duration::from_secs(10);
/// The longest delay (Kubernetes' MaxJobPodFailureBackOff).
pub const BACKOFF_MAX: Duration = Duration::from_secs(360);

/// The delay before a new pod after `failures` consecutive failures.
pub fn backoff_delay(failures: u32) -> Duration {
    if failures == 0 {
        return Duration::ZERO;
    }
    let exp = (failures - 1).min(16);
    (BACKOFF_BASE * 2u32.pow(exp)).min(BACKOFF_MAX)
}

/// Whether a Job has a Complete or Failed condition that is True.
pub fn is_finished(job: &Job) -> bool {
    let conditions = job.status.as_ref().and_then(|s| s.conditions.as_ref());
    conditions.into_iter().flatten().any(|c| matches!(c.type_.as_str(), "Complete" | "Failed") && c.status == "True")
}

/// When a pod finished: its last container's finish, else its last condition change.
fn finish_time(pod: &Pod) -> Option<Timestamp> {
    let status = pod.status.as_ref()?;
    let statuses = status.container_statuses.iter().flatten();
    let finished =
        statuses.filter_map(|c| c.state.as_ref()?.terminated.as_ref()?.finished_at.as_ref()).map(|t| t.0).max();
    finished.or_else(|| {
        status.conditions.iter().flatten().filter_map(|c| c.last_transition_time.as_ref()).map(|t| t.0).max()
    })
}

/// The container restarts that count against `backoffLimit` under `OnFailure`.
fn restarts(pod: &Pod) -> i64 {
    let Some(status) = pod.status.as_ref() else { return 0 };
    let all = status.container_statuses.iter().flatten().chain(status.init_container_statuses.iter().flatten());
    all.map(|c| i64::from(c.restart_count)).sum()
}

pub struct JobController {
    jobs: Arc<SharedInformer<Job>>,
    pods: Arc<SharedInformer<Pod>>,
    pod_control: Arc<dyn PodControl>,
    client: Client,
    clock: Clock,
    expectations: Expectations,
    recorder: Option<EventRecorder>,
}

impl JobController {
    pub fn new(ctx: &Context) -> Self {
        let mut c = Self::with(
            ctx.factory.typed(),
            ctx.factory.typed(),
            Arc::new(ApiPodControl::new(ctx.client.clone(), "job-controller")),
            ctx.client.clone(),
            ctx.clock.clone(),
        );
        c.recorder = Some(EventRecorder::new(ctx.client.clone(), "job-controller", ""));
        c
    }

    /// A controller over the given caches and pod control, recording no Job Events (for tests).
    pub fn with(
        jobs: Arc<SharedInformer<Job>>,
        pods: Arc<SharedInformer<Pod>>,
        pod_control: Arc<dyn PodControl>,
        client: Client,
        clock: Clock,
    ) -> Self {
        Self { jobs, pods, pod_control, client, clock, expectations: Expectations::default(), recorder: None }
    }

    fn event(&self, job: &Job, kind: EventType, reason: &'static str, message: &str) {
        if let Some(recorder) = self.recorder.clone() {
            let job = client::events::reference_to(job);
            let message = message.to_string();
            tokio::spawn(async move { recorder.record(&job, kind, reason, &message).await });
        }
    }

    fn owner_key(&self, pod: &Pod) -> Option<String> {
        let r = controller_of(&pod.metadata)?;
        if r.kind != "Job" {
            return None;
        }
        let job = self.jobs.store().get_in(pod.namespace(), &r.name)?;
        (r.uid == job.uid()).then(|| key_of(&job))
    }

    fn owned_pods(&self, job: &Job) -> Vec<Arc<Pod>> {
        let pods = self.pods.store().list_namespace(job.namespace());
        pods.into_iter().filter(|p| controller_of(&p.metadata).is_some_and(|r| r.uid == job.uid())).collect()
    }

    async fn delete_pods(&self, key: &str, job: &Job, victims: &[Arc<Pod>]) -> Result<()> {
        self.expectations.expect_deletions(key, victims.iter().map(key_of));
        let owner = Owner::of(job);
        let mut first_error = None;
        for pod in victims {
            if let Err(e) = self.pod_control.delete_pod(pod.namespace(), pod.name(), &owner).await {
                self.expectations.deletion_observed(key, &key_of(pod));
                if !e.is_not_found() {
                    first_error.get_or_insert(e);
                }
            }
        }
        first_error.map_or(Ok(()), |e| Err(e.into()))
    }

    async fn write_status(&self, job: &Job, status: JobStatus) -> Result<()> {
        if job.status.as_ref() == Some(&status) {
            return Ok(());
        }
        let mut obj = job.clone();
        obj.status = Some(status);
        match Api::<Job>::namespaced(&self.client, job.namespace()).update_status(&obj).await {
            Ok(_) => Ok(()),
            Err(e) if e.is_not_found() => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    fn job_changed(&self, change: &Change<Job>, queue: &WorkQueue) {
        match change {
            Change::Added(j) | Change::Updated { new: j, .. } => queue.add(key_of(j)),
            Change::Deleted(j) => self.expectations.delete(&key_of(j)),
            Change::Resync => {}
        }
    }

    fn pod_changed(&self, change: &Change<Pod>, queue: &WorkQueue) {
        match change {
            Change::Added(pod) => {
                if let Some(key) = self.owner_key(pod) {
                    if pod.metadata.deletion_timestamp.is_some() {
                        self.expectations.deletion_observed(&key, &key_of(pod));
                    } else {
                        self.expectations.creation_observed(&key);
                    }
                    queue.add(key);
                }
            }
            Change::Updated { new, .. } => {
                if let Some(key) = self.owner_key(new) {
                    if new.metadata.deletion_timestamp.is_some() {
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
}

#[async_trait::async_trait]
impl Controller for JobController {
    fn name(&self) -> &'static str {
        "job"
    }

    fn watches(self: Arc<Self>) -> Vec<Watch> {
        vec![Watch::method(&self, &self.jobs, Self::job_changed), Watch::method(&self, &self.pods, Self::pod_changed)]
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
        if is_finished(&job) || job.metadata.deletion_timestamp.is_some() {
            return Ok(Action::Done);
        }
        let now = self.clock.now();
        let spec = job.spec.clone().unwrap_or_default();
        let pods = self.owned_pods(&job);
        let active: Vec<Arc<Pod>> = pods.iter().filter(|p| is_active(p)).cloned().collect();
        let succeeded_pods: Vec<&Arc<Pod>> = pods.iter().filter(|p| phase(p) == "Succeeded").collect();
        let failed_pods: Vec<&Arc<Pod>> = pods.iter().filter(|p| phase(p) == "Failed").collect();
        let old = job.status.clone().unwrap_or_default();
        let succeeded = (succeeded_pods.len() as i64).max(old.succeeded.map_or(0, i64::from));
        let failed = (failed_pods.len() as i64).max(old.failed.map_or(0, i64::from));
        let suspended = spec.suspend == Some(true);

        let mut status = JobStatus::default();
        let start = match old.start_time.as_ref() {
            Some(t) => Some(t.0),
            None if !suspended => Some(now),
            None => None,
        };
        status.start_time = start.map(api::time::to_second);
        let mut conditions: Vec<JobCondition> = old.conditions.clone().unwrap_or_default();
        let condition = |t: &str, reason: &str, message: &str| JobCondition {
            type_: t.into(),
            status: "True".into(),
            last_probe_time: Some(api::time::to_second(now)),
            last_transition_time: Some(api::time::to_second(now)),
            reason: Some(reason.into()),
            message: Some(message.into()),
        };

        let backoff_limit = i64::from(spec.backoff_limit.unwrap_or(6));
        let restart_policy = spec.template.spec.as_ref().and_then(|s| s.restart_policy.as_deref());
        let on_failure = restart_policy == Some("OnFailure");
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
        let deadline = spec.active_deadline_seconds.zip(start).map(|(secs, t)| crate::clock::add_secs(t, secs));
        let past_deadline = deadline.is_some_and(|d| d <= now);

        let completions = spec.completions.map(i64::from);
        let parallelism = i64::from(spec.parallelism.unwrap_or(1).max(0));
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
            status.completion_time = Some(api::time::to_second(now));
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
                victims.sort_by(|a, b| pods::deletion_order((a, 0), (b, 0), now));
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
                    let owner = Owner::of(&*job);
                    for _ in 0..count {
                        match self.pod_control.create_pod(&spec.template, &owner).await {
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

        // Zero counts are omitted, as the API's omitempty does ("ready" is always shown).
        let count = |n: i64| (n != 0).then_some(n as i32);
        status.active = count(active_count);
        status.ready = Some(active.iter().filter(|p| is_ready(p)).count() as i32);
        status.succeeded = count(succeeded);
        status.failed = count(failed);
        if old.completion_time.is_some() {
            status.completion_time = old.completion_time.clone();
        }
        if !conditions.is_empty() {
            status.conditions = Some(conditions);
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
