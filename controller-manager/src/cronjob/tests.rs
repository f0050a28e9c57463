//! Cron parsing and missed schedules as pure functions; the controller against
//! an in-process apiserver and a manual clock (reconciles are called directly).

use super::*;
use crate::testing::{typed, TestApi};
use api::meta;
use api::time::format as format_time;
use client::Resource;
use serde_json::{json, Value};

fn at(s: &str) -> Timestamp {
    s.parse().unwrap()
}

fn next(spec: &str, from: &str) -> String {
    let s = Schedule::parse(spec).unwrap_or_else(|e| panic!("{spec}: {e}"));
    format_time(s.next(at(from), &TimeZone::UTC).unwrap())
}

#[test]
fn cron_parsing_and_next_times_follow_robfig_cron() {
    // 2024-01-01 is a Monday.
    for (spec, from, want) in [
        ("0,15,30,45 * * * *", "2024-01-01T10:07:00Z", "2024-01-01T10:15:00Z"),
        ("0,15,30,45 * * * *", "2024-01-01T10:15:00Z", "2024-01-01T10:30:00Z"),
        ("10-20/5 * * * *", "2024-01-01T10:12:00Z", "2024-01-01T10:15:00Z"),
        ("10-20/5 * * * *", "2024-01-01T10:21:00Z", "2024-01-01T11:10:00Z"),
        ("*/20 * * * *", "2024-01-01T10:41:00Z", "2024-01-01T11:00:00Z"),
        ("0 9 * jan,JUL mon-fri", "2024-01-05T10:00:00Z", "2024-01-08T09:00:00Z"),
        ("0 9 * jan,jul mon-fri", "2024-01-31T10:00:00Z", "2024-07-01T09:00:00Z"),
        ("@hourly", "2024-01-01T10:07:00Z", "2024-01-01T11:00:00Z"),
        ("@daily", "2024-01-01T10:07:00Z", "2024-01-02T00:00:00Z"),
        ("@weekly", "2024-01-03T10:07:00Z", "2024-01-07T00:00:00Z"),
        ("@monthly", "2024-01-03T10:07:00Z", "2024-02-01T00:00:00Z"),
        ("@yearly", "2024-01-03T10:07:00Z", "2025-01-01T00:00:00Z"),
        ("@every 90m", "2024-01-01T10:07:30.5Z", "2024-01-01T11:37:30Z"),
        // Both day fields restricted: either matches (the 13th or a Friday).
        ("0 0 13 * 5", "2024-01-01T00:00:00Z", "2024-01-05T00:00:00Z"),
        ("0 0 13 * 5", "2024-01-12T00:00:00Z", "2024-01-13T00:00:00Z"),
        ("0 0 1-7 * sun", "2024-01-07T00:00:00Z", "2024-01-14T00:00:00Z"),
        // An unrestricted day field (`*/1`, `?`) leaves only the other one.
        ("0 0 */1 * 5", "2024-01-05T00:00:00Z", "2024-01-12T00:00:00Z"),
        ("0 0 ? * 5", "2024-01-05T00:00:00Z", "2024-01-12T00:00:00Z"),
        ("0 0 13 * ?", "2024-01-05T00:00:00Z", "2024-01-13T00:00:00Z"),
        // A stepped star is a restriction: ORed again.
        ("0 0 */10 * 5", "2024-01-01T00:00:00Z", "2024-01-05T00:00:00Z"),
    ] {
        assert_eq!(next(spec, from), want, "{spec} after {from}");
    }
    for bad in ["61 * * * *", "* * * *", "@fortnightly", "@every soon"] {
        assert!(Schedule::parse(bad).is_err(), "{bad}");
    }
    let berlin = TimeZone::get("Europe/Berlin").unwrap();
    let s = Schedule::parse("0 9 * * *").unwrap();
    assert_eq!(format_time(s.next(at("2024-01-01T00:00:00Z"), &berlin).unwrap()), "2024-01-01T08:00:00Z");
    assert_eq!(api::time::format_in(at("2024-01-01T08:00:00Z"), &berlin), "2024-01-01T09:00:00+01:00");
    assert_eq!(api::time::format_in(at("2024-01-01T08:00:00Z"), &TimeZone::UTC), "2024-01-01T08:00:00Z");
}

#[test]
fn missed_schedules_are_counted_and_only_the_latest_is_kept() {
    let hourly = Schedule::parse("@hourly").unwrap();
    let utc = TimeZone::UTC;
    let none = missed_times(&hourly, &utc, at("2024-01-01T10:00:00Z"), at("2024-01-01T10:59:59Z")).unwrap();
    assert_eq!(none, Missed { count: 0, most_recent: None });
    let one = missed_times(&hourly, &utc, at("2024-01-01T10:00:00Z"), at("2024-01-01T11:00:00Z")).unwrap();
    assert_eq!(one, Missed { count: 1, most_recent: Some(at("2024-01-01T11:00:00Z")) });
    let few = missed_times(&hourly, &utc, at("2024-01-01T10:00:00Z"), at("2024-01-01T13:30:00Z")).unwrap();
    assert_eq!(few, Missed { count: 3, most_recent: Some(at("2024-01-01T13:00:00Z")) });
    let many = missed_times(&hourly, &utc, at("2024-01-01T10:00:00Z"), at("2024-01-08T10:30:00Z")).unwrap();
    assert_eq!(many, Missed { count: 168, most_recent: Some(at("2024-01-08T10:00:00Z")) });
    assert!(many.count > MAX_MISSED);
    // Irregular schedules are walked exactly near the end.
    let irregular = Schedule::parse("30 6-16/4 * * 1-5").unwrap();
    let m = missed_times(&irregular, &utc, at("2024-01-01T00:00:00Z"), at("2024-03-01T12:00:00Z")).unwrap();
    assert_eq!(m.most_recent, Some(at("2024-03-01T10:30:00Z")));
}

struct Fixture {
    api: TestApi,
    ctrl: CronJobController,
    clock: Clock,
    name: String,
}

/// The book's CronJob (batch/v1beta1), with `spec` merged over its spec.
fn book_cronjob(name: &str, spec: Value) -> Value {
    let mut cj = json!({
        "apiVersion": "batch/v1beta1",
        "kind": "CronJob",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {
            "schedule": "0,15,30,45 * * * *",
            "startingDeadlineSeconds": 15,
            "jobTemplate": {"spec": {"template": {
                "metadata": {"labels": {"app": "periodic-batch-job"}},
                "spec": {"restartPolicy": "OnFailure",
                         "containers": [{"name": "main", "image": "luksa/batch-job"}]},
            }}},
        },
    });
    for (k, v) in spec.as_object().unwrap() {
        cj["spec"][k] = v.clone();
    }
    cj
}

impl Fixture {
    async fn new(obj: Value) -> Self {
        let api = TestApi::start().await;
        let clock = Clock::manual();
        let name = meta::name(&obj).to_string();
        api.create(obj).await;
        let mut ctrl = CronJobController::with(
            Arc::new(SharedInformer::new(CronJob::info())),
            Arc::new(SharedInformer::new(Job::info())),
            api.client.clone(),
            clock.clone(),
        );
        ctrl.recorder = Some(EventRecorder::new(api.client.clone(), "cronjob-controller", ""));
        Self { api, ctrl, clock, name }
    }

    fn advance_to(&self, t: Timestamp) {
        self.clock.advance(self.clock.until(t));
    }

    /// Moves to one second past the next time `spec` names.
    fn advance_past(&self, spec: &str) -> Timestamp {
        let t = Schedule::parse(spec).unwrap().next(self.clock.now(), &TimeZone::UTC).unwrap();
        self.advance_to(crate::clock::add_secs(t, 1));
        t
    }

    /// Reconciles with the cache showing the CronJob as the server has it; Jobs
    /// new on the server are added to the cache, gone ones removed, and cached
    /// ones keep the status a test gave them.
    async fn sync(&self) -> Action {
        let cj = self.api.get("cronjobs", "default", &self.name).await.unwrap();
        self.ctrl.cronjobs.store().insert(typed(&cj));
        let server = self.api.list("jobs", "default").await;
        for key in self.ctrl.jobs.store().keys() {
            if !server.iter().any(|j| key_of(j) == key) {
                self.ctrl.jobs.store().remove(&key);
            }
        }
        for job in server {
            if self.ctrl.jobs.store().get(&key_of(&job)).is_none() {
                self.ctrl.jobs.store().insert(typed(&job));
            }
        }
        self.ctrl.reconcile(&format!("default/{}", self.name)).await.unwrap()
    }

    async fn job_names(&self) -> Vec<String> {
        let mut names: Vec<String> =
            self.api.list("jobs", "default").await.iter().map(|j| meta::name(j).to_string()).collect();
        names.sort();
        names
    }

    async fn status(&self) -> Value {
        self.api.get("cronjobs", "default", &self.name).await.unwrap()["status"].clone()
    }

    /// Finishes a cached Job as `condition` (Complete or Failed), now by the clock.
    fn finish(&self, name: &str, condition: &str) {
        let cached = self.ctrl.jobs.store().get(&format!("default/{name}")).unwrap();
        let mut job = serde_json::to_value(&*cached).unwrap();
        let now = format_time(self.clock.now());
        job["status"] = json!({"startTime": now, "conditions": [{"type": condition, "status": "True"}]});
        if condition == "Complete" {
            job["status"]["completionTime"] = now.into();
        }
        self.ctrl.jobs.store().insert(typed(&job));
    }

    async fn has_event(&self, line: &str) {
        let (api, name) = (&self.api, &self.name);
        api.eventually(line, || async { api.events_about(name).await.iter().any(|e| e == line) }).await;
    }
}

#[tokio::test]
async fn the_books_schedule_creates_a_job_at_a_quarter_past() {
    let f = Fixture::new(book_cronjob("batch-job-every-fifteen-minutes", json!({}))).await;
    assert_eq!(
        f.sync().await,
        Action::RequeueAfter(
            f.clock.until(Schedule::parse("0,15,30,45 * * * *").unwrap().next(f.clock.now(), &TimeZone::UTC).unwrap())
                + NEXT_SCHEDULE_DELTA
        )
    );
    assert!(f.job_names().await.is_empty());

    let quarter = f.advance_past("15 * * * *");
    let action = f.sync().await;
    let name = format!("batch-job-every-fifteen-minutes-{}", quarter.as_second() / 60);
    assert_eq!(f.job_names().await, [name.as_str()]);
    let job = f.api.get("jobs", "default", &name).await.unwrap();
    assert_eq!(job["metadata"]["annotations"][SCHEDULED_TIMESTAMP_ANNOTATION], format_time(quarter));
    let owner = &job["metadata"]["ownerReferences"][0];
    assert_eq!(
        (owner["kind"].as_str(), &owner["controller"], &owner["blockOwnerDeletion"]),
        (Some("CronJob"), &json!(true), &json!(true))
    );
    assert_eq!(job["spec"]["template"]["spec"]["restartPolicy"], "OnFailure");
    let status = f.status().await;
    assert_eq!(status["lastScheduleTime"], format_time(quarter));
    assert_eq!(status["active"][0]["name"], name.as_str());
    // Next: a quarter of an hour after this one (we are one second past it).
    assert_eq!(action, Action::RequeueAfter(Duration::from_secs(15 * 60 - 1) + NEXT_SCHEDULE_DELTA));
    f.has_event(&format!("SuccessfulCreate: Created job {name}")).await;

    // A second look at the same time creates nothing.
    f.sync().await;
    assert_eq!(f.job_names().await.len(), 1);
}

#[tokio::test]
async fn schedules_missed_by_more_than_the_starting_deadline_are_skipped() {
    let f = Fixture::new(book_cronjob("late", json!({}))).await;
    let quarter = f.advance_past("0,15,30,45 * * * *");
    f.advance_to(crate::clock::add_secs(quarter, 20));
    let action = f.sync().await;
    assert!(f.job_names().await.is_empty(), "20 s late with a 15 s deadline");
    assert!(f.status().await["lastScheduleTime"].is_null());
    assert_eq!(action, Action::RequeueAfter(Duration::from_secs(15 * 60 - 20) + NEXT_SCHEDULE_DELTA));
    // The next time is started within its deadline.
    let next = f.advance_past("0,15,30,45 * * * *");
    f.sync().await;
    assert_eq!(f.job_names().await, [format!("late-{}", next.as_second() / 60)]);
}

#[tokio::test]
async fn over_a_hundred_missed_times_start_only_the_latest() {
    let spec = json!({"schedule": "* * * * *", "startingDeadlineSeconds": null});
    let f = Fixture::new(book_cronjob("wedged", spec)).await;
    f.clock.advance(Duration::from_secs(150 * 60));
    f.sync().await;
    let latest = Schedule::parse("* * * * *").unwrap().next(f.clock.now(), &TimeZone::UTC).unwrap();
    let latest = crate::clock::add_secs(latest, -60);
    assert_eq!(f.job_names().await, [format!("wedged-{}", latest.as_second() / 60)]);
    f.has_event("TooManyMissedTimes: too many missed start times. Set or decrease .spec.startingDeadlineSeconds or check clock skew").await;
}

#[tokio::test]
async fn forbid_skips_while_a_job_runs_and_replace_deletes_it() {
    let f = Fixture::new(book_cronjob("forbid", json!({"schedule": "* * * * *", "concurrencyPolicy": "Forbid"}))).await;
    f.advance_past("* * * * *");
    f.sync().await;
    f.advance_past("* * * * *");
    f.sync().await;
    assert_eq!(f.job_names().await.len(), 1);
    f.has_event(
        "JobAlreadyActive: Not starting job because prior execution is running and concurrency policy is Forbid",
    )
    .await;
    // Once it completes the next time starts one.
    let first = f.job_names().await[0].clone();
    f.finish(&first, "Complete");
    f.advance_past("* * * * *");
    f.sync().await;
    assert_eq!(f.job_names().await.len(), 2);
    f.has_event(&format!("SawCompletedJob: Saw completed job: {first}, status: Complete")).await;

    let f =
        Fixture::new(book_cronjob("replace", json!({"schedule": "* * * * *", "concurrencyPolicy": "Replace"}))).await;
    f.advance_past("* * * * *");
    f.sync().await;
    let first = f.job_names().await;
    let second = f.advance_past("* * * * *");
    f.sync().await;
    let name = format!("replace-{}", second.as_second() / 60);
    f.api.eventually("the old job is gone", || async { f.job_names().await == [name.clone()] }).await;
    let active = f.status().await["active"].clone();
    assert_eq!(active.as_array().unwrap().len(), 1);
    assert_eq!(active[0]["name"], name.as_str());
    f.has_event(&format!("SuccessfulDelete: Deleted job {}", first[0])).await;
}

#[tokio::test]
async fn a_suspended_cronjob_starts_nothing() {
    let f = Fixture::new(book_cronjob("suspended", json!({"schedule": "* * * * *", "suspend": true}))).await;
    f.advance_past("* * * * *");
    assert_eq!(f.sync().await, Action::Done);
    assert!(f.job_names().await.is_empty());
}

#[tokio::test]
async fn finished_jobs_beyond_the_history_limits_are_deleted_oldest_first() {
    let f =
        Fixture::new(book_cronjob("history", json!({"schedule": "* * * * *", "startingDeadlineSeconds": null}))).await;
    for _ in 0..6 {
        f.advance_past("* * * * *");
        f.sync().await;
    }
    let names = f.job_names().await;
    assert_eq!(names.len(), 6);
    assert_eq!(f.status().await["active"].as_array().unwrap().len(), 6);
    f.sync().await; // the cache sees all six
    for (i, name) in names.iter().enumerate() {
        f.clock.advance(Duration::from_millis(1));
        f.finish(name, if i < 2 { "Failed" } else { "Complete" });
    }
    let last_done = format_time(f.clock.now());
    f.sync().await;
    // One failed (the newer) and three succeeded (the newest) are kept.
    let kept: Vec<String> = [1, 3, 4, 5].iter().map(|i| names[*i].clone()).collect();
    assert_eq!(f.job_names().await, kept);
    let status = f.status().await;
    assert!(status["active"].is_null(), "{status}");
    assert_eq!(status["lastSuccessfulTime"], last_done.as_str());
    assert!(status["lastScheduleTime"].is_string());
}
