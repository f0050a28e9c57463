//! The CronJob controller, as Kubernetes' pkg/controller/cronjob (v2): creates
//! a Job from `spec.jobTemplate` at each time the five-field cron schedule names.
//!
//! Each reconcile of a CronJob:
//! 1. reads its Jobs (those with its controller reference): finished ones leave
//!    `status.active` (SawCompletedJob), succeeded ones move `lastSuccessfulTime`,
//!    active ones it forgot are reported (UnexpectedJob), vanished ones are dropped
//!    (MissingJob); finished Jobs beyond `successfulJobsHistoryLimit` /
//!    `failedJobsHistoryLimit` are deleted, oldest first;
//! 2. unless suspended or being deleted, finds the most recent scheduled time not
//!    after now and after `lastScheduleTime` (or the creation time). Times older
//!    than `startingDeadlineSeconds` are not considered at all; over 100 missed
//!    times only the latest counts (TooManyMissedTimes);
//! 3. applies `concurrencyPolicy`: Forbid skips while a Job is active
//!    (JobAlreadyActive), Replace deletes the active Jobs first;
//! 4. creates `<cronjob>-<scheduled time in minutes since the epoch>`; the
//!    deterministic name makes a second create for the same time AlreadyExists;
//! 5. requeues for the next scheduled time plus 100 ms, so it wakes up in time.
//!
//! Schedules are parsed and stepped by `api::cron`, the grammar validation
//! checks them with, by robfig/cron's rules (what Kubernetes uses):
//! day-of-month and day-of-week are ORed unless one of them is unrestricted
//! (`*`, `?`, `*/1`), and `@every <duration>` is a constant delay.
//! `spec.timeZone` is looked up in the system tz database (UTC by default).

use crate::clock::Clock;
use crate::job::is_finished;
use crate::pods::Owner;
use crate::runner::{Action, Controller, Error, Result, Watch};
use crate::Context;
use api::cron::Schedule;
use api::k8s_openapi;
use api::pod::controller_of;
use client::events::{EventRecorder, EventType};
use client::informer::{Change, SharedInformer};
use client::queue::WorkQueue;
use client::watcher::key_of;
use client::{Api, Client, DeleteParams, Object};
use jiff::tz::TimeZone;
use jiff::Timestamp;
use k8s_openapi::api::batch::v1::{CronJob, CronJobStatus, Job};
use k8s_openapi::api::core::v1::ObjectReference;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use std::sync::Arc;
use std::time::Duration;

/// The annotation a created Job carries its nominal start time in (RFC 3339).
pub const SCHEDULED_TIMESTAMP_ANNOTATION: &str = "batch.kubernetes.io/cronjob-scheduled-timestamp";
/// Beyond this many missed times only the latest is started.
pub const MAX_MISSED: i64 = 100;
/// Added to every requeue so the controller wakes after the scheduled time, not
/// just before it (Kubernetes' nextScheduleDelta, for clock skew).
pub const NEXT_SCHEDULE_DELTA: Duration = Duration::from_millis(100);

/// Why a CronJob's next run cannot be worked out (its Event says so).
#[derive(Debug, thiserror::Error)]
pub enum ScheduleError {
    #[error("invalid timeZone: {name:?}: {source}")]
    TimeZone { name: String, source: jiff::Error },
    #[error("time difference between two schedules is less than 1 second")]
    TooFrequent,
}

/// `spec.timeZone` (UTC when unset).
fn time_zone(cj: &CronJob) -> Result<TimeZone, ScheduleError> {
    match cj.spec.as_ref().and_then(|s| s.time_zone.as_deref()) {
        None => Ok(TimeZone::UTC),
        Some(name) => TimeZone::get(name).map_err(|source| ScheduleError::TimeZone { name: name.to_string(), source }),
    }
}

/// How many scheduled times were missed, and the most recent one not after `now`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Missed {
    /// Scheduled times after the earliest time up to now (robfig's estimate past two).
    pub count: i64,
    pub most_recent: Option<Timestamp>,
}

/// Kubernetes' mostRecentScheduleTime: the scheduled times after `earliest`
/// (the last schedule, else the creation time; with a starting deadline never
/// before `now - deadline`) up to `now`. Many missed times are not walked one by
/// one: their count is estimated from the interval between the first two and the
/// walk starts just before the estimated last one.
pub fn missed_times(
    schedule: &Schedule,
    tz: &TimeZone,
    earliest: Timestamp,
    now: Timestamp,
) -> Result<Missed, ScheduleError> {
    let none = Missed { count: 0, most_recent: None };
    let Some(t1) = schedule.next(earliest, tz) else { return Ok(none) };
    if now < t1 {
        return Ok(none);
    }
    let Some(t2) = schedule.next(t1, tz) else { return Ok(Missed { count: 1, most_recent: Some(t1) }) };
    if now < t2 {
        return Ok(Missed { count: 1, most_recent: Some(t1) });
    }
    let between = t2.duration_since(t1).as_secs();
    if between < 1 {
        return Err(ScheduleError::TooFrequent);
    }
    let count = now.duration_since(t1).as_secs() / between + 1;
    let start = crate::clock::add_secs(t1, (count - 2) * between);
    let mut most_recent = None;
    let mut t = schedule.next(start, tz);
    while let Some(at) = t.filter(|at| *at <= now) {
        most_recent = Some(at);
        t = schedule.next(at, tz);
    }
    Ok(Missed { count, most_recent })
}

/// The Job name for a scheduled time: deterministic, so a time is run once.
pub fn job_name(cronjob: &str, scheduled: Timestamp) -> String {
    format!("{cronjob}-{}", scheduled.as_second().div_euclid(60))
}

/// Kubernetes' getJobFromTemplate2: the template's labels, annotations and spec,
/// the scheduled-time annotation and the CronJob's controller reference.
pub fn job_from_template(cj: &CronJob, scheduled: Timestamp, tz: &TimeZone) -> Job {
    let template = cj.spec.as_ref().map(|s| s.job_template.clone()).unwrap_or_default();
    let from = template.metadata.unwrap_or_default();
    let mut annotations = from.annotations.unwrap_or_default();
    annotations.insert(SCHEDULED_TIMESTAMP_ANNOTATION.into(), api::time::format_in(scheduled, tz));
    Job {
        metadata: ObjectMeta {
            name: Some(job_name(cj.name(), scheduled)),
            namespace: Some(cj.namespace().to_string()),
            labels: Some(from.labels.unwrap_or_default()),
            annotations: Some(annotations),
            owner_references: Some(vec![Owner::of(cj).reference]),
            ..Default::default()
        },
        spec: template.spec,
        status: None,
    }
}

/// The finished condition of a Job: `Complete` or `Failed`.
fn finished_as(job: &Job) -> Option<&str> {
    let conditions = job.status.as_ref()?.conditions.as_ref()?;
    conditions
        .iter()
        .find(|c| matches!(c.type_.as_str(), "Complete" | "Failed") && c.status == "True")
        .map(|c| c.type_.as_str())
}

fn ref_uid(r: &ObjectReference) -> &str {
    r.uid.as_deref().unwrap_or("")
}

pub struct CronJobController {
    cronjobs: Arc<SharedInformer<CronJob>>,
    jobs: Arc<SharedInformer<Job>>,
    client: Client,
    clock: Clock,
    recorder: Option<EventRecorder>,
}

impl CronJobController {
    pub fn new(ctx: &Context) -> Self {
        let mut c = Self::with(ctx.factory.typed(), ctx.factory.typed(), ctx.client.clone(), ctx.clock.clone());
        c.recorder = Some(EventRecorder::new(ctx.client.clone(), "cronjob-controller", ""));
        c
    }

    /// A controller over the given caches, recording no Events (for tests that
    /// do not look at them).
    pub fn with(
        cronjobs: Arc<SharedInformer<CronJob>>,
        jobs: Arc<SharedInformer<Job>>,
        client: Client,
        clock: Clock,
    ) -> Self {
        Self { cronjobs, jobs, client, clock, recorder: None }
    }

    fn event(&self, cj: &CronJob, kind: EventType, reason: &'static str, message: String) {
        tracing::info!(reason, message, "cronjob event");
        if let Some(recorder) = self.recorder.clone() {
            let cj = client::events::reference_to(cj);
            tokio::spawn(async move { recorder.record(&cj, kind, reason, &message).await });
        }
    }

    fn owner_key(&self, job: &Job) -> Option<String> {
        let r = controller_of(&job.metadata)?;
        if r.kind != "CronJob" {
            return None;
        }
        let cj = self.cronjobs.store().get_in(job.namespace(), &r.name)?;
        (r.uid == cj.uid()).then(|| key_of(&cj))
    }

    fn owned_jobs(&self, cj: &CronJob) -> Vec<Arc<Job>> {
        let jobs = self.jobs.store().list_namespace(cj.namespace());
        jobs.into_iter().filter(|j| controller_of(&j.metadata).is_some_and(|r| r.uid == cj.uid())).collect()
    }

    /// Deletes a Job with its pods (background propagation) and drops it from
    /// `active`. False when the delete failed (reported as FailedDelete).
    async fn delete_job(
        &self,
        cj: &CronJob,
        status: &mut CronJobStatus,
        namespace: &str,
        name: &str,
        uid: &str,
    ) -> bool {
        let params = DeleteParams { propagation_policy: "Background".into(), ..Default::default() };
        match Api::<Job>::namespaced(&self.client, namespace).delete(name, &params).await {
            Ok(_) => {}
            Err(e) if e.is_not_found() => {}
            Err(e) => {
                self.event(cj, EventType::Warning, "FailedDelete", format!("Deleted job: {e}"));
                return false;
            }
        }
        remove_active(status, uid);
        self.event(cj, EventType::Normal, "SuccessfulDelete", format!("Deleted job {name}"));
        true
    }

    /// Deletes the oldest (by start time, then name) of `finished` beyond `limit`.
    async fn remove_oldest(
        &self,
        cj: &CronJob,
        status: &mut CronJobStatus,
        mut finished: Vec<Arc<Job>>,
        limit: Option<i32>,
    ) {
        let Some(limit) = limit else { return };
        let excess = finished.len() as i64 - i64::from(limit.max(0));
        if excess <= 0 {
            return;
        }
        // Jobs without a start time sort last, as Kubernetes' byJobStartTime.
        let start = |j: &Job| j.status.as_ref().and_then(|s| s.start_time.as_ref()).map(|t| t.0);
        finished.sort_by_key(|j| (start(j).map_or((1, None), |t| (0, Some(t))), key_of(j)));
        for job in finished.iter().take(excess as usize) {
            self.delete_job(cj, status, job.namespace(), job.name(), job.uid()).await;
        }
    }

    async fn write_status(&self, cj: &CronJob, status: CronJobStatus) -> Result<()> {
        if cj.status.as_ref() == Some(&status) {
            return Ok(());
        }
        let mut obj = cj.clone();
        obj.status = Some(status);
        match Api::<CronJob>::namespaced(&self.client, cj.namespace()).update_status(&obj).await {
            Ok(_) => Ok(()),
            Err(e) if e.is_not_found() => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Kubernetes' syncCronJob after the Job bookkeeping: starts the Job due now,
    /// if any. Returns when to look again.
    async fn schedule(&self, cj: &CronJob, status: &mut CronJobStatus) -> Result<Option<Duration>> {
        let now = self.clock.now();
        let spec = cj.spec.clone().unwrap_or_default();
        if cj.metadata.deletion_timestamp.is_some() || spec.suspend == Some(true) {
            return Ok(None);
        }
        let tz = match time_zone(cj) {
            Ok(tz) => tz,
            Err(message) => {
                self.event(cj, EventType::Warning, "UnknownTimeZone", message.to_string());
                return Ok(None);
            }
        };
        let raw = spec.schedule.as_str();
        let schedule = match Schedule::parse(raw) {
            Ok(s) => s,
            Err(e) => {
                self.event(
                    cj,
                    EventType::Warning,
                    "UnparseableSchedule",
                    format!("unparseable schedule: {raw:?} : {e}"),
                );
                return Ok(None);
            }
        };
        let last = status.last_schedule_time.as_ref().map(|t| t.0);
        let created = cj.metadata.creation_timestamp.as_ref().map_or(now, |t| t.0);
        let deadline = spec.starting_deadline_seconds;
        // When to look again: the scheduled time after the most recent one up to
        // now, counted without the deadline (Kubernetes' nextScheduleTimeDuration).
        let requeue = || {
            let from = last.unwrap_or(created);
            let recent = missed_times(&schedule, &tz, from, now).ok().and_then(|m| m.most_recent);
            schedule.next(recent.unwrap_or(from), &tz).map(|next| self.clock.until(next) + NEXT_SCHEDULE_DELTA)
        };

        let mut earliest = last.unwrap_or(created);
        if let Some(secs) = deadline {
            // Nothing older than the deadline will be started, so it is not even counted.
            earliest = earliest.max(crate::clock::add_secs(now, -secs));
        }
        let missed = match missed_times(&schedule, &tz, earliest, now) {
            Ok(m) => m,
            Err(e) => {
                self.event(cj, EventType::Warning, "InvalidSchedule", format!("invalid schedule: {raw} : {e}"));
                return Ok(None);
            }
        };
        let Some(scheduled) = missed.most_recent else { return Ok(requeue()) };
        if missed.count > MAX_MISSED {
            self.event(
                cj,
                EventType::Warning,
                "TooManyMissedTimes",
                "too many missed start times. Set or decrease .spec.startingDeadlineSeconds or check clock skew".into(),
            );
        }
        if deadline.is_some_and(|secs| crate::clock::add_secs(scheduled, secs) < now) {
            let when = scheduled.strftime("%a, %d %b %Y %H:%M:%S +0000");
            self.event(cj, EventType::Warning, "MissSchedule", format!("Missed scheduled time to start a job: {when}"));
            return Ok(requeue());
        }
        let name = job_name(cj.name(), scheduled);
        let active = status.active.clone().unwrap_or_default();
        let active_names: Vec<&str> = active.iter().filter_map(|r| r.name.as_deref()).collect();
        if active_names.contains(&name.as_str()) || last == Some(scheduled) {
            return Ok(requeue());
        }
        let policy = spec.concurrency_policy.as_deref().unwrap_or("Allow");
        if policy == "Forbid" && !active_names.is_empty() {
            self.event(
                cj,
                EventType::Normal,
                "JobAlreadyActive",
                "Not starting job because prior execution is running and concurrency policy is Forbid".into(),
            );
            return Ok(requeue());
        }
        if policy == "Replace" {
            for r in &active {
                let (ns, n) = (r.namespace.as_deref().unwrap_or(""), r.name.as_deref().unwrap_or(""));
                if !self.delete_job(cj, status, ns, n, ref_uid(r)).await {
                    return Err(Error::Invalid(format!("could not replace job {ns}/{n}")));
                }
            }
        }

        let request = job_from_template(cj, scheduled, &tz);
        let api = Api::<Job>::namespaced(&self.client, cj.namespace());
        let created_job = match api.create(&request).await {
            Ok(job) => {
                self.event(cj, EventType::Normal, "SuccessfulCreate", format!("Created job {name}"));
                job
            }
            Err(e) if e.is_already_exists() => {
                let job = api.get(&name).await?;
                // Someone else's Job of that name: leave it (and the status) to them.
                if controller_of(&job.metadata).is_none_or(|r| r.uid != cj.uid()) {
                    return Ok(None);
                }
                if status.active.iter().flatten().any(|r| ref_uid(r) == job.uid()) {
                    return Ok(None);
                }
                job
            }
            Err(e) => {
                self.event(cj, EventType::Warning, "FailedCreate", format!("Error creating job: {e}"));
                return Err(e.into());
            }
        };
        status.active.get_or_insert_with(Vec::new).push(client::events::reference_to(&created_job));
        status.last_schedule_time = Some(api::time::to_second(scheduled));
        Ok(requeue())
    }
}

impl CronJobController {
    fn cronjob_changed(&self, change: &Change<CronJob>, queue: &WorkQueue) {
        if let Change::Added(cj) | Change::Updated { new: cj, .. } = change {
            queue.add(key_of(cj));
        }
    }

    fn job_changed(&self, change: &Change<Job>, queue: &WorkQueue) {
        if let Change::Added(job) | Change::Updated { new: job, .. } | Change::Deleted(job) = change {
            if let Some(key) = self.owner_key(job) {
                queue.add(key);
            }
        }
    }
}

/// Drops the Job `uid` from `active`, and the field with its last entry.
fn remove_active(status: &mut CronJobStatus, uid: &str) {
    let active: Vec<ObjectReference> =
        status.active.take().into_iter().flatten().filter(|r| ref_uid(r) != uid).collect();
    status.active = (!active.is_empty()).then_some(active);
}

#[async_trait::async_trait]
impl Controller for CronJobController {
    fn name(&self) -> &'static str {
        "cronjob"
    }

    fn watches(self: Arc<Self>) -> Vec<Watch> {
        vec![
            Watch::method(&self, &self.cronjobs, Self::cronjob_changed),
            Watch::method(&self, &self.jobs, Self::job_changed),
        ]
    }

    fn resync(&self, queue: &WorkQueue) {
        for key in self.cronjobs.store().keys() {
            queue.add(key);
        }
    }

    async fn reconcile(&self, key: &str) -> Result<Action> {
        let Some(cj) = self.cronjobs.store().get(key) else { return Ok(Action::Done) };
        let owned = self.owned_jobs(&cj);
        let mut status = cj.status.clone().unwrap_or_default();

        // History limits first, as Kubernetes' cleanupFinishedJobs.
        let (mut succeeded, mut failed) = (vec![], vec![]);
        for job in &owned {
            match finished_as(job) {
                Some("Complete") => succeeded.push(job.clone()),
                Some(_) => failed.push(job.clone()),
                None => {}
            }
        }
        let spec = cj.spec.clone().unwrap_or_default();
        self.remove_oldest(&cj, &mut status, succeeded, spec.successful_jobs_history_limit).await;
        self.remove_oldest(&cj, &mut status, failed, spec.failed_jobs_history_limit).await;

        let active = status.active.clone().unwrap_or_default();
        for job in &owned {
            let listed = active.iter().any(|r| ref_uid(r) == job.uid());
            if !listed && !is_finished(job) {
                // Created right before a crash, or by someone else with our reference.
                let message = format!("Saw a job that the controller did not create or forgot: {}", job.name());
                self.event(&cj, EventType::Warning, "UnexpectedJob", message);
            } else if listed && is_finished(job) {
                let condition = finished_as(job).unwrap_or("");
                remove_active(&mut status, job.uid());
                let message = format!("Saw completed job: {}, status: {condition}", job.name());
                self.event(&cj, EventType::Normal, "SawCompletedJob", message);
            }
            if finished_as(job) == Some("Complete") {
                if let Some(done) = job.status.as_ref().and_then(|s| s.completion_time.as_ref()) {
                    if status.last_successful_time.as_ref().is_none_or(|t| done.0 > t.0) {
                        status.last_successful_time = Some(api::time::to_second(done.0));
                    }
                }
            }
        }
        for r in status.active.clone().unwrap_or_default() {
            if owned.iter().any(|j| ref_uid(&r) == j.uid()) {
                continue;
            }
            // The cache may lag behind a Job just created; only the server knows it is gone.
            let (ns, name) = (r.namespace.as_deref().unwrap_or(""), r.name.as_deref().unwrap_or(""));
            match Api::<Job>::namespaced(&self.client, ns).get(name).await {
                Err(e) if e.is_not_found() => {
                    self.event(&cj, EventType::Normal, "MissingJob", format!("Active job went missing: {name}"));
                    remove_active(&mut status, ref_uid(&r));
                }
                Err(e) => return Err(e.into()),
                Ok(_) => {}
            }
        }

        let scheduled = self.schedule(&cj, &mut status).await;
        self.write_status(&cj, status).await?;
        Ok(match scheduled? {
            Some(after) => Action::RequeueAfter(after),
            None => Action::Done,
        })
    }
}

#[cfg(test)]
mod tests;
