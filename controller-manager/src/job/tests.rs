//! Job tests: decisions against a recording [`FakePodControl`] and a manual
//! clock; the Job itself lives in an in-process apiserver (status writes go there).

use super::*;
use crate::testing::{typed, FakePodControl, TestApi};
use api::meta;
use api::time::format as format_time;
use client::Resource;
use serde_json::{json, Value};

struct Fixture {
    api: TestApi,
    ctrl: JobController,
    fake: Arc<FakePodControl>,
    clock: Clock,
    job: Value,
    seq: std::sync::atomic::AtomicUsize,
}

fn job(completions: i64, parallelism: i64, restart: &str) -> Value {
    json!({
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": "batch-job", "namespace": "default"},
        "spec": {
            "completions": completions,
            "parallelism": parallelism,
            "backoffLimit": 3,
            "template": {
                "metadata": {"labels": {"app": "batch-job"}},
                "spec": {"restartPolicy": restart, "containers": [{"name": "main", "image": "luksa/batch-job"}]},
            },
        },
    })
}

impl Fixture {
    async fn new(obj: Value) -> Self {
        let api = TestApi::start().await;
        let job = api.create(obj).await;
        let jobs_informer = Arc::new(SharedInformer::new(Job::info()));
        jobs_informer.store().insert(typed(&job));
        let fake = Arc::new(FakePodControl::default());
        let clock = Clock::manual();
        // Times are written in whole seconds; start on one so delays come out exact.
        clock.advance(Duration::from_nanos(1_000_000_000 - u64::from(clock.now().subsec_nanosecond() as u32)));
        let pods_informer = Arc::new(SharedInformer::new(pods::pods()));
        let ctrl = JobController::with(jobs_informer, pods_informer, fake.clone(), api.client.clone(), clock.clone());
        Self { api, ctrl, fake, clock, job, seq: Default::default() }
    }

    /// Reconciles with the cache showing the Job as the server has it now.
    async fn sync(&self) -> Action {
        let job = self.api.get("jobs", "default", "batch-job").await.unwrap();
        self.ctrl.jobs.store().insert(typed(&job));
        self.ctrl.reconcile("default/batch-job").await.unwrap()
    }

    /// Every pod created so far shows up in the cache (phase Running).
    fn observe_created(&self) -> Vec<String> {
        let created: Vec<Value> = self.fake.created.lock().unwrap().drain(..).collect();
        let mut names = vec![];
        for mut p in created {
            let n = self.seq.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let name = format!("batch-job-{n}");
            p["metadata"]["name"] = name.clone().into();
            p["metadata"]["uid"] = format!("uid-{n}").into();
            p["metadata"]["creationTimestamp"] = format_time(self.clock.now()).into();
            p["status"] = json!({"phase": "Running"});
            self.put(p);
            names.push(name);
        }
        names
    }

    fn put(&self, pod: Value) {
        let pod: Arc<Pod> = Arc::new(typed(&pod));
        self.ctrl.pods.store().insert((*pod).clone());
        self.ctrl.pod_changed(&Change::Added(pod), &WorkQueue::default());
    }

    /// A cached pod, as JSON to edit.
    fn cached_pod(&self, name: &str) -> Value {
        serde_json::to_value(&*self.ctrl.pods.store().get(&format!("default/{name}")).unwrap()).unwrap()
    }

    /// Ends a pod in `phase`, finishing now by the manual clock.
    fn finish(&self, name: &str, phase: &str) {
        let mut pod = self.cached_pod(name);
        pod["status"] = json!({"phase": phase, "containerStatuses": [{"name": "main", "restartCount": 0,
            "state": {"terminated": {"finishedAt": format_time(self.clock.now())}}}]});
        self.ctrl.pods.store().insert(typed(&pod));
    }

    async fn status(&self) -> Value {
        self.api.get("jobs", "default", "batch-job").await.unwrap()["status"].clone()
    }
}

fn condition(status: &Value) -> (String, String) {
    let c = status["conditions"].as_array().and_then(|c| c.last()).cloned().unwrap_or_default();
    (c["type"].as_str().unwrap_or("").into(), c["reason"].as_str().unwrap_or("").into())
}

#[test]
fn backoff_doubles_from_ten_seconds_up_to_six_minutes() {
    let delays: Vec<u64> = (0..8).map(|n| backoff_delay(n).as_secs()).collect();
    assert_eq!(delays, [0, 10, 20, 40, 80, 160, 320, 360]);
    assert_eq!(backoff_delay(100), BACKOFF_MAX);
}

#[tokio::test]
async fn completions_run_at_most_parallelism_pods_at_a_time() {
    let f = Fixture::new(job(5, 2, "OnFailure")).await;
    let template_labels = meta::labels(&f.job["spec"]["template"]);
    assert_eq!(template_labels["batch.kubernetes.io/job-name"], "batch-job", "the apiserver labels the template");
    f.sync().await;
    assert_eq!(f.fake.created_count(), 2);
    let created = f.fake.created.lock().unwrap().clone();
    assert_eq!(meta::generate_name(&created[0]), "batch-job-");
    assert_eq!(created[0]["metadata"]["labels"]["job-name"], "batch-job");
    let mut running = f.observe_created();
    let status = f.status().await;
    assert!(status["startTime"].is_string());
    assert_eq!(status["active"], 2);

    let mut done = 0;
    while done < 5 {
        let name = running.remove(0);
        f.finish(&name, "Succeeded");
        done += 1;
        f.sync().await;
        running.extend(f.observe_created());
        assert!(running.len() <= 2, "never more than parallelism active");
        assert!(done + running.len() as i64 <= 5, "never more pods than completions still need");
    }
    let status = f.status().await;
    assert_eq!(status["succeeded"], 5);
    assert_eq!(condition(&status), ("Complete".into(), "CompletionsReached".into()));
    assert!(status["completionTime"].is_string());
    assert!(status.get("active").is_none());
}

#[tokio::test]
async fn never_replaces_failed_pods_with_growing_backoff_until_the_limit() {
    let f = Fixture::new(job(1, 1, "Never")).await;
    f.sync().await;
    let mut name = f.observe_created().remove(0);
    for (failure, delay) in [(1, 10), (2, 20), (3, 40)] {
        f.finish(&name, "Failed");
        let action = f.sync().await;
        assert_eq!(f.fake.created_count(), 0, "failure {failure}: no replacement at once");
        assert_eq!(action, Action::RequeueAfter(Duration::from_secs(delay)), "failure {failure}");
        f.clock.advance(Duration::from_secs(delay - 1));
        f.sync().await;
        assert_eq!(f.fake.created_count(), 0, "failure {failure}: still backing off");
        f.clock.advance(Duration::from_secs(1));
        f.sync().await;
        assert_eq!(f.fake.created_count(), 1, "failure {failure}: replaced after {delay}s");
        name = f.observe_created().remove(0);
        assert_eq!(f.status().await["failed"], failure);
    }
    // The fourth failure exceeds backoffLimit 3.
    f.finish(&name, "Failed");
    f.sync().await;
    let status = f.status().await;
    assert_eq!(condition(&status), ("Failed".into(), "BackoffLimitExceeded".into()));
    assert_eq!(status["conditions"][0]["message"], "Job has reached the specified backoff limit");
    assert_eq!(status["failed"], 4);
    f.sync().await;
    assert_eq!(f.fake.created_count(), 0, "a failed job starts nothing");
}

#[tokio::test]
async fn on_failure_counts_container_restarts_against_the_limit() {
    let f = Fixture::new(job(1, 1, "OnFailure")).await;
    f.sync().await;
    let name = f.observe_created().remove(0);
    let mut pod = f.cached_pod(&name);
    pod["status"]["containerStatuses"] = json!([{"name": "main", "restartCount": 2}]);
    f.ctrl.pods.store().insert(typed(&pod));
    f.sync().await;
    assert!(f.status().await.get("conditions").is_none(), "2 restarts are below the limit of 3");
    pod["status"]["containerStatuses"] = json!([{"name": "main", "restartCount": 3}]);
    f.ctrl.pods.store().insert(typed(&pod));
    f.sync().await;
    assert_eq!(condition(&f.status().await), ("Failed".into(), "BackoffLimitExceeded".into()));
    assert_eq!(f.fake.deleted(), [format!("default/{name}")], "the active pod is terminated");
}

#[tokio::test]
async fn a_job_past_its_deadline_fails_and_stops_its_pods() {
    let mut j = job(3, 2, "OnFailure");
    j["spec"]["activeDeadlineSeconds"] = 30.into();
    let f = Fixture::new(j).await;
    let action = f.sync().await;
    assert_eq!(action, Action::RequeueAfter(Duration::from_secs(30)), "looks again at the deadline");
    let names = f.observe_created();
    f.clock.advance(Duration::from_secs(29));
    f.sync().await;
    assert!(f.status().await.get("conditions").is_none());
    f.clock.advance(Duration::from_secs(1));
    f.sync().await;
    let status = f.status().await;
    assert_eq!(condition(&status), ("Failed".into(), "DeadlineExceeded".into()));
    assert_eq!(status["conditions"][0]["message"], "Job was active longer than specified deadline");
    let mut deleted = f.fake.deleted();
    deleted.sort();
    assert_eq!(deleted, names.iter().map(|n| format!("default/{n}")).collect::<Vec<_>>());
}
