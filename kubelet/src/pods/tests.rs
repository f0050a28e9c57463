//! Pod workers against the fake runtime on tokio's paused clock: restart
//! policies, CrashLoopBackOff timings, probes, graceful termination, image
//! pulls, adoption by a restarted kubelet and removal of orphaned containers.

use super::*;
use crate::api::testing::RecordingApi;
use crate::runtime::fake::{FakeRuntime, Program};
use crate::runtime::ProbeOutcome;
use serde_json::{json, Value};
use service_env::ServiceLinks;
use tokio::time::Instant;

const NODE: &str = "node1";

struct Harness {
    fake: Arc<FakeRuntime>,
    api: Arc<RecordingApi>,
    kubelet: Kubelet,
    relist: tokio::task::JoinHandle<()>,
}

impl Harness {
    fn new() -> Self {
        Self::on(Arc::new(FakeRuntime::new()))
    }

    /// A kubelet over an existing runtime (a restarted kubelet finds what the last one left).
    fn on(fake: Arc<FakeRuntime>) -> Self {
        Self::build(fake, None)
    }

    /// A kubelet whose containers get the variables of `services`.
    fn with_services(services: Arc<ServiceLinks>) -> Self {
        Self::build(Arc::new(FakeRuntime::new()), Some(services))
    }

    fn build(fake: Arc<FakeRuntime>, services: Option<Arc<ServiceLinks>>) -> Self {
        let settings = Settings::for_tests(NODE);
        let api = Arc::new(RecordingApi::default());
        let kubelet = match services {
            Some(services) => Kubelet::with_services(settings, fake.clone(), api.clone(), fake.clock(), services),
            None => Kubelet::new(settings, fake.clone(), api.clone(), fake.clock()),
        };
        let relist = {
            let k = kubelet.clone();
            tokio::spawn(async move { k.run_relist(std::future::pending()).await })
        };
        Self { fake, api, kubelet, relist }
    }

    fn stop(self) -> Arc<FakeRuntime> {
        self.kubelet.shutdown();
        self.relist.abort();
        self.fake
    }

    fn status(&self, pod: &str) -> Value {
        self.api.status(pod).unwrap_or_else(|| panic!("no status written for {pod}"))
    }

    fn container_status(&self, pod: &str) -> Value {
        self.status(pod)["containerStatuses"][0].clone()
    }

    fn start_times(&self, pod: &str) -> Vec<Instant> {
        self.fake.ops_of("start", pod).iter().map(|o| o.at).collect()
    }
}

fn pod(name: &str, policy: &str, containers: Value) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": "default", "uid": format!("uid-{name}")},
        "spec": {"nodeName": NODE, "restartPolicy": policy, "terminationGracePeriodSeconds": 30, "containers": containers},
        "status": {"phase": "Pending", "qosClass": "BestEffort", "conditions": [
            {"type": "PodScheduled", "status": "True", "lastProbeTime": null, "lastTransitionTime": "2024-05-01T10:00:00Z"}
        ]},
    })
}

fn kubia(name: &str, policy: &str) -> Value {
    pod(name, policy, json!([{"name": "kubia", "image": "luksa/kubia", "imagePullPolicy": "IfNotPresent"}]))
}

/// Waits (in virtual time, up to `limit`) until `f` holds.
async fn wait_for(what: &str, limit: Duration, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if f() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("timed out after {limit:?} waiting for {what}");
}

fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

#[tokio::test(start_paused = true)]
async fn runs_a_pod_and_reports_it_running() {
    let h = Harness::new();
    h.kubelet.handle(PodEvent::Applied(typed(kubia("kubia", "Always"))));
    wait_for("Running", Duration::from_secs(5), || h.api.status("kubia").is_some_and(|s| s["phase"] == "Running"))
        .await;
    let status = h.status("kubia");
    assert_eq!(status["hostIP"], "172.18.0.2");
    assert!(status["podIP"].as_str().is_some_and(|ip| ip.starts_with("10.88.")), "{status}");
    assert_eq!(status["podIPs"][0]["ip"], status["podIP"]);
    let cs = &status["containerStatuses"][0];
    assert_eq!(cs["ready"], true);
    assert_eq!(cs["started"], true);
    assert_eq!(cs["restartCount"], 0);
    assert!(cs["containerID"].as_str().unwrap().starts_with("docker://"));
    assert!(cs["state"]["running"]["startedAt"].is_string());
    let ready = status["conditions"].as_array().unwrap().iter().find(|c| c["type"] == "Ready").unwrap();
    assert_eq!(ready["status"], "True");
    assert_eq!(
        h.api.event_log(),
        [
            "Pulled: Container image \"luksa/kubia\" already present on machine",
            "Created: Created container: kubia",
            "Started: Started container kubia",
        ]
    );
    // The sandbox is made first, then the container joins it.
    let ops: Vec<String> = h.fake.ops().iter().map(|o| format!("{} {}", o.what, o.container)).collect();
    assert_eq!(ops, ["sandbox POD", "create kubia", "start kubia"]);
}

#[tokio::test(start_paused = true)]
async fn a_failing_pull_of_a_local_image_uses_it_and_says_so() {
    let h = Harness::new();
    // `luksa/kubia` without a tag is pulled Always; no registry answers here.
    let p = pod("kubia", "Always", json!([{"name": "kubia", "image": "luksa/kubia"}]));
    h.kubelet.handle(PodEvent::Applied(typed(p)));
    wait_for("Running", Duration::from_secs(5), || h.api.status("kubia").is_some_and(|s| s["phase"] == "Running"))
        .await;
    let log = h.api.event_log();
    assert_eq!(log[0], "Pulling: Pulling image \"luksa/kubia\"");
    assert!(
        log[1].starts_with("Pulled: Pulling image \"luksa/kubia\" failed (")
            && log[1].ends_with("); using the image already present on machine"),
        "{log:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn an_absent_image_shows_err_image_pull_then_image_pull_backoff() {
    let h = Harness::new();
    h.fake.add_image("kubelab/pause:latest");
    h.kubelet.handle(PodEvent::Applied(typed(kubia("kubia", "Always"))));
    wait_for("ErrImagePull", Duration::from_secs(3), || {
        h.api.status("kubia").is_some_and(|s| s["containerStatuses"][0]["state"]["waiting"]["reason"] == "ErrImagePull")
    })
    .await;
    assert_eq!(h.status("kubia")["phase"], "Pending");
    let log = h.api.event_log();
    assert_eq!(log[0], "Pulling: Pulling image \"luksa/kubia\"");
    assert!(log[1].starts_with("Failed: Failed to pull image \"luksa/kubia\": "), "{log:?}");
    assert_eq!(log[2], "Failed: Error: ErrImagePull");
    wait_for("ImagePullBackOff", Duration::from_secs(3), || {
        h.container_status("kubia")["state"]["waiting"]["reason"] == "ImagePullBackOff"
    })
    .await;
    assert_eq!(h.container_status("kubia")["state"]["waiting"]["message"], "Back-off pulling image \"luksa/kubia\"");
    // Once the image is there, the next attempt after the backoff starts the container.
    h.fake.add_image("luksa/kubia");
    wait_for("Running", Duration::from_secs(30), || h.status("kubia")["phase"] == "Running").await;
}

#[tokio::test(start_paused = true)]
async fn always_restarts_with_crash_loop_backoff_doubling_to_the_cap() {
    let h = Harness::new();
    h.fake.script("kubia", "kubia", vec![Program::exits(Duration::from_secs(1), 1)]);
    h.kubelet.handle(PodEvent::Applied(typed(kubia("kubia", "Always"))));
    wait_for("9 starts", Duration::from_secs(1200), || h.start_times("kubia").len() >= 9).await;
    let starts = h.start_times("kubia");
    // Each run lasts 1s; the wait after each exit is the backoff.
    let gaps: Vec<f64> = starts.windows(2).map(|w| secs(w[1] - w[0]) - 1.0).collect();
    assert!(gaps[0] <= 1.01, "the first crash restarts at once (within a relist): {gaps:?}");
    for (gap, want) in gaps[1..].iter().zip([10.0, 20.0, 40.0, 80.0, 160.0, 300.0, 300.0]) {
        assert!((gap - want).abs() < 0.05, "gaps {gaps:?}, expected {want}");
    }
}

#[tokio::test(start_paused = true)]
async fn a_crash_looping_container_shows_kubernetes_status_and_events() {
    let h = Harness::new();
    h.fake.script("kubia", "kubia", vec![Program::exits(Duration::from_secs(1), 1)]);
    h.kubelet.handle(PodEvent::Applied(typed(kubia("kubia", "Always"))));
    wait_for("2 starts", Duration::from_secs(10), || h.start_times("kubia").len() >= 2).await;
    wait_for("CrashLoopBackOff", Duration::from_secs(5), || {
        h.container_status("kubia")["state"]["waiting"]["reason"] == "CrashLoopBackOff"
    })
    .await;
    let cs = h.container_status("kubia");
    assert_eq!(
        cs["state"]["waiting"]["message"],
        "back-off 10s restarting failed container=kubia pod=kubia_default(uid-kubia)"
    );
    assert_eq!(cs["restartCount"], 1);
    assert_eq!(cs["ready"], false);
    assert_eq!(cs["lastState"]["terminated"]["exitCode"], 1);
    assert_eq!(cs["lastState"]["terminated"]["reason"], "Error");
    assert_eq!(h.status("kubia")["phase"], "Running");
    assert!(h
        .api
        .event_log()
        .contains(&"BackOff: Back-off restarting failed container kubia in pod kubia_default(uid-kubia)".to_string()));
    // Only the current and the previous instance are kept (for `logs --previous`).
    wait_for("4 starts", Duration::from_secs(60), || h.start_times("kubia").len() >= 4).await;
    let kept = h.fake.containers().iter().filter(|c| c.1 == "kubia").count();
    assert!(kept <= 2, "{:?}", h.fake.containers());
}

#[tokio::test(start_paused = true)]
async fn on_failure_restarts_failures_and_completes_on_success() {
    let h = Harness::new();
    h.fake.script(
        "job",
        "kubia",
        vec![Program::exits(Duration::from_secs(1), 3), Program::exits(Duration::from_secs(1), 0)],
    );
    h.kubelet.handle(PodEvent::Applied(typed(kubia("job", "OnFailure"))));
    wait_for("Succeeded", Duration::from_secs(30), || h.api.status("job").is_some_and(|s| s["phase"] == "Succeeded"))
        .await;
    assert_eq!(h.start_times("job").len(), 2, "restarted after exit 3, not after exit 0");
    let cs = h.container_status("job");
    assert_eq!(cs["state"]["terminated"]["reason"], "Completed");
    assert_eq!(cs["restartCount"], 1);
    let ready = &h.status("job")["conditions"][2];
    assert_eq!((ready["type"].as_str(), ready["reason"].as_str()), (Some("Ready"), Some("PodCompleted")));
    // A finished pod keeps its containers but not its sandbox.
    wait_for("sandbox stopped", Duration::from_secs(5), || {
        h.fake.containers().iter().any(|c| c.1 == "POD" && c.2 == ContainerState::Exited)
    })
    .await;
    tokio::time::sleep(Duration::from_secs(120)).await;
    assert_eq!(h.start_times("job").len(), 2, "nothing restarts after the pod succeeded");
}

#[tokio::test(start_paused = true)]
async fn never_leaves_a_failed_container_failed() {
    let h = Harness::new();
    h.fake.script("once", "kubia", vec![Program::exits(Duration::from_secs(2), 1)]);
    h.kubelet.handle(PodEvent::Applied(typed(kubia("once", "Never"))));
    wait_for("Failed", Duration::from_secs(10), || h.api.status("once").is_some_and(|s| s["phase"] == "Failed")).await;
    let cs = h.container_status("once");
    assert_eq!(cs["state"]["terminated"]["exitCode"], 1);
    assert_eq!(cs["state"]["terminated"]["reason"], "Error");
    assert_eq!(cs["restartCount"], 0);
    tokio::time::sleep(Duration::from_secs(60)).await;
    assert_eq!(h.start_times("once").len(), 1);
}

fn probed(name: &str, probes: Value) -> Value {
    let mut container = json!({"name": "kubia", "image": "luksa/kubia:v1", "ports": [{"containerPort": 8080}]});
    for (k, v) in probes.as_object().unwrap() {
        container[k] = v.clone();
    }
    pod(name, "Always", json!([container]))
}

#[tokio::test(start_paused = true)]
async fn liveness_failures_restart_the_container_after_the_threshold() {
    let h = Harness::new();
    let p = probed("live", json!({"livenessProbe": {"httpGet": {"path": "/", "port": 8080}}}));
    h.fake.set_probe(
        "live",
        "kubia",
        "liveness",
        ProbeOutcome::Failure("HTTP probe failed with statuscode: 500".into()),
    );
    let t0 = Instant::now();
    h.kubelet.handle(PodEvent::Applied(typed(p)));
    wait_for("a restart", Duration::from_secs(60), || h.start_times("live").len() >= 2).await;
    // Probes tick every 10s from the worker's start; three failures in a row (at 10, 20, 30s) kill it.
    let killed = secs(h.start_times("live")[1] - t0);
    assert!((30.0..30.5).contains(&killed), "restarted at {killed}s");
    let probes = h.fake.probe_times("live", "kubia", "liveness");
    assert_eq!(probes.len(), 3);
    assert_eq!(h.api.count_events("Unhealthy"), 3);
    let log = h.api.event_log();
    assert!(log.contains(&"Unhealthy: Liveness probe failed: HTTP probe failed with statuscode: 500".to_string()));
    assert!(log.contains(&"Killing: Container kubia failed liveness probe, will be restarted".to_string()));
    let stop = &h.fake.ops_of("stop", "live")[0];
    assert_eq!(stop.grace, Some(Duration::from_secs(30)), "killed with the pod's grace period");
    wait_for("restartCount 1", Duration::from_secs(5), || h.container_status("live")["restartCount"] == 1).await;
    assert_eq!(h.container_status("live")["lastState"]["terminated"]["exitCode"], 143);
    // A healthy container is left alone.
    h.fake.set_probe("live", "kubia", "liveness", ProbeOutcome::Success);
    tokio::time::sleep(Duration::from_secs(120)).await;
    assert_eq!(h.start_times("live").len(), 2);
}

#[tokio::test(start_paused = true)]
async fn initial_delay_holds_probes_back() {
    let h = Harness::new();
    let p = probed(
        "delayed",
        json!({"livenessProbe": {"tcpSocket": {"port": 8080}, "initialDelaySeconds": 15, "periodSeconds": 5}}),
    );
    h.kubelet.handle(PodEvent::Applied(typed(p)));
    wait_for("a probe", Duration::from_secs(60), || !h.fake.probe_times("delayed", "kubia", "liveness").is_empty())
        .await;
    let started = h.start_times("delayed")[0];
    let first = secs(h.fake.probe_times("delayed", "kubia", "liveness")[0] - started);
    assert!((15.0..20.0).contains(&first), "first probe {first}s after the start");
}

fn ready_condition(h: &Harness, pod: &str) -> String {
    let status = h.status(pod);
    let c = status["conditions"].as_array().unwrap().iter().find(|c| c["type"] == "Ready").unwrap().clone();
    c["status"].as_str().unwrap().to_string()
}

#[tokio::test(start_paused = true)]
async fn readiness_flips_the_ready_condition_with_thresholds() {
    let h = Harness::new();
    let p = probed(
        "web",
        json!({"readinessProbe": {"exec": {"command": ["ls", "/var/ready"]}, "periodSeconds": 1,
                                   "successThreshold": 2, "failureThreshold": 3}}),
    );
    h.fake.set_probe("web", "kubia", "readiness", ProbeOutcome::Failure("ls: /var/ready: No such file".into()));
    h.kubelet.handle(PodEvent::Applied(typed(p)));
    wait_for("Running", Duration::from_secs(5), || h.api.status("web").is_some_and(|s| s["phase"] == "Running")).await;
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(ready_condition(&h, "web"), "False");
    assert_eq!(h.container_status("web")["ready"], false);
    let ready_msg = h.status("web")["conditions"][2]["message"].clone();
    assert_eq!(ready_msg, "containers with unready status: [kubia]");
    assert!(h.api.event_log().contains(&"Unhealthy: Readiness probe failed: ls: /var/ready: No such file".to_string()));

    // Two successes in a row are needed.
    h.fake.set_probe("web", "kubia", "readiness", ProbeOutcome::Success);
    let flipped = Instant::now();
    wait_for("Ready", Duration::from_secs(5), || ready_condition(&h, "web") == "True").await;
    let took = secs(Instant::now() - flipped);
    assert!((1.0..=2.2).contains(&took), "ready after {took}s");
    assert_eq!(h.container_status("web")["ready"], true);

    // Three failures in a row make it unready again; it is not restarted.
    h.fake.set_probe("web", "kubia", "readiness", ProbeOutcome::Failure("down".into()));
    let flipped = Instant::now();
    wait_for("not Ready", Duration::from_secs(6), || ready_condition(&h, "web") == "False").await;
    let took = secs(Instant::now() - flipped);
    assert!((2.0..=3.2).contains(&took), "unready after {took}s");
    assert_eq!(h.start_times("web").len(), 1);
}

#[tokio::test(start_paused = true)]
async fn deletion_stops_containers_gracefully_then_removes_the_pod() {
    let h = Harness::new();
    let mut p =
        pod("two", "Always", json!([{"name": "polite", "image": "a:v1"}, {"name": "stubborn", "image": "b:v1"}]));
    h.fake.script("two", "polite", vec![Program { term_delay: Some(Duration::from_secs(1)), ..Program::forever() }]);
    h.fake.script("two", "stubborn", vec![Program::ignoring_sigterm()]);
    h.kubelet.handle(PodEvent::Applied(typed(p.clone())));
    wait_for("Running", Duration::from_secs(5), || h.api.status("two").is_some_and(|s| s["phase"] == "Running")).await;

    let t0 = Instant::now();
    p["metadata"]["deletionTimestamp"] = "2024-05-01T10:00:05Z".into();
    p["metadata"]["deletionGracePeriodSeconds"] = 5.into();
    h.kubelet.handle(PodEvent::Applied(typed(p)));
    wait_for("deleted", Duration::from_secs(20), || !h.api.deleted.lock().unwrap().is_empty()).await;
    let done = secs(Instant::now() - t0);
    assert!((5.0..5.5).contains(&done), "the stubborn container was killed at the end of the grace period ({done}s)");

    let log = h.api.event_log();
    assert!(log.contains(&"Killing: Stopping container polite".to_string()), "{log:?}");
    assert!(log.contains(&"Killing: Stopping container stubborn".to_string()), "{log:?}");
    let stops = h.fake.ops_of("stop", "two");
    let order: Vec<&str> = stops.iter().map(|o| o.container.as_str()).collect();
    assert_eq!(order.last(), Some(&"POD"), "the sandbox stops last: {order:?}");
    assert!(stops.iter().filter(|o| o.container != "POD").all(|o| o.grace == Some(Duration::from_secs(5))));

    let status = h.status("two");
    let codes: Vec<i64> = status["containerStatuses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["state"]["terminated"]["exitCode"].as_i64().unwrap())
        .collect();
    assert_eq!(codes, [143, 137], "SIGTERM for the polite one, SIGKILL for the other");
    assert_eq!(status["phase"], "Failed");
    assert!(h.fake.containers().is_empty(), "every container of the pod is removed");
    assert_eq!(h.kubelet.pod_count(), 0);
}

#[tokio::test(start_paused = true)]
async fn a_restarted_kubelet_adopts_running_containers_and_restarts_none() {
    let h = Harness::new();
    h.fake.script("kubia", "kubia", vec![Program::exits(Duration::from_secs(1), 1), Program::forever()]);
    let p = probed("kubia", json!({"readinessProbe": {"tcpSocket": {"port": 8080}, "periodSeconds": 10}}));
    h.kubelet.handle(PodEvent::Applied(typed(p.clone())));
    h.kubelet.handle(PodEvent::Synced);
    wait_for("ready after a restart", Duration::from_secs(30), || {
        h.api.status("kubia").is_some_and(|s| {
            s["containerStatuses"][0]["restartCount"] == 1 && s["containerStatuses"][0]["ready"] == true
        })
    })
    .await;
    let last_status = h.status("kubia");
    let before = h.fake.ops().len();
    let fake = h.stop();

    tokio::time::sleep(Duration::from_secs(30)).await;
    let h = Harness::on(fake);
    let mut seen = p.clone();
    seen["status"] = last_status.clone();
    h.kubelet.handle(PodEvent::Applied(typed(seen)));
    h.kubelet.handle(PodEvent::Synced);
    tokio::time::sleep(Duration::from_secs(120)).await;
    let after: Vec<_> = h.fake.ops().into_iter().skip(before).collect();
    assert!(after.is_empty(), "the restarted kubelet touched containers: {after:?}");
    assert_eq!(h.api.status_writes("kubia"), 0, "the status was already right: nothing to write");
    assert_eq!(h.kubelet.pod_count(), 1);
}

#[tokio::test(start_paused = true)]
async fn containers_of_pods_gone_while_the_kubelet_was_down_are_removed() {
    let h = Harness::new();
    h.kubelet.handle(PodEvent::Applied(typed(kubia("kept", "Always"))));
    h.kubelet.handle(PodEvent::Applied(typed(kubia("gone", "Always"))));
    wait_for("both running", Duration::from_secs(5), || h.fake.containers().len() == 4).await;
    let fake = h.stop();

    let h = Harness::on(fake);
    h.kubelet.handle(PodEvent::Applied(typed(kubia("kept", "Always"))));
    // Before the source has listed everything, nothing is removed.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(h.fake.containers().len(), 4);
    h.kubelet.handle(PodEvent::Synced);
    wait_for("orphans removed", Duration::from_secs(40), || h.fake.containers().len() == 2).await;
    assert!(h.fake.containers().iter().all(|c| c.0 == "kept"), "{:?}", h.fake.containers());
    assert!(h.fake.ops_of("start", "kept").len() == 1, "the kept pod was not restarted");
}

#[tokio::test(start_paused = true)]
async fn a_pod_deleted_while_the_kubelet_was_down_is_finished_off() {
    let h = Harness::new();
    let mut p = kubia("late", "Always");
    h.kubelet.handle(PodEvent::Applied(typed(p.clone())));
    wait_for("running", Duration::from_secs(5), || h.fake.containers().len() == 2).await;
    let fake = h.stop();

    let h = Harness::on(fake);
    p["metadata"]["deletionTimestamp"] = "2024-05-01T10:00:05Z".into();
    p["metadata"]["deletionGracePeriodSeconds"] = 30.into();
    h.kubelet.handle(PodEvent::Applied(typed(p)));
    wait_for("deleted", Duration::from_secs(10), || h.api.deleted.lock().unwrap().as_slice() == ["late"]).await;
    assert!(h.fake.containers().is_empty());
}

#[tokio::test(start_paused = true)]
async fn a_dead_sandbox_is_recreated_with_the_containers() {
    let h = Harness::new();
    h.kubelet.handle(PodEvent::Applied(typed(kubia("kubia", "Always"))));
    wait_for("Running", Duration::from_secs(5), || h.api.status("kubia").is_some_and(|s| s["phase"] == "Running"))
        .await;
    let first_ip = h.status("kubia")["podIP"].clone();
    let sandbox = h.fake.container_id("kubia", "POD").unwrap();
    h.fake.kill(&sandbox);
    wait_for("a new sandbox", Duration::from_secs(10), || h.fake.ops_of("sandbox", "kubia").len() == 2).await;
    wait_for("restarted", Duration::from_secs(10), || h.container_status("kubia")["restartCount"] == 1).await;
    assert!(h
        .api
        .event_log()
        .contains(&"SandboxChanged: Pod sandbox changed, it will be killed and re-created.".into()));
    assert_ne!(h.status("kubia")["podIP"], first_ip);
    assert_eq!(h.container_status("kubia")["ready"], true);
}

#[tokio::test(start_paused = true)]
async fn status_is_written_only_when_it_changes() {
    let h = Harness::new();
    h.kubelet.handle(PodEvent::Applied(typed(kubia("quiet", "Always"))));
    wait_for("Running", Duration::from_secs(5), || h.api.status("quiet").is_some_and(|s| s["phase"] == "Running"))
        .await;
    let writes = h.api.status_writes("quiet");
    tokio::time::sleep(Duration::from_secs(600)).await;
    assert_eq!(h.api.status_writes("quiet"), writes);
}

#[tokio::test(start_paused = true)]
async fn a_pod_moved_off_the_node_is_stopped() {
    let h = Harness::new();
    let mut p = kubia("moved", "Always");
    h.kubelet.handle(PodEvent::Applied(typed(p.clone())));
    wait_for("running", Duration::from_secs(5), || h.fake.containers().len() == 2).await;
    p["spec"]["nodeName"] = "node2".into();
    h.kubelet.handle(PodEvent::Applied(typed(p)));
    wait_for("removed", Duration::from_secs(40), || h.fake.containers().is_empty()).await;
    assert!(h.api.deleted.lock().unwrap().is_empty(), "another node's pod is not deleted from the API");
}

#[tokio::test(start_paused = true)]
async fn a_kubelet_shutting_down_leaves_its_pods_running() {
    let h = Harness::new();
    h.kubelet.handle(PodEvent::Applied(typed(kubia("kubia", "Always"))));
    h.kubelet.handle(PodEvent::Synced);
    wait_for("running", Duration::from_secs(5), || h.fake.containers().len() == 2).await;
    h.kubelet.shutdown();
    // A relist racing with the shutdown must not take the pods for orphans.
    h.kubelet.relist().await;
    tokio::time::sleep(Duration::from_secs(60)).await;
    assert!(h.fake.containers().iter().all(|c| c.2 == ContainerState::Running), "{:?}", h.fake.containers());
    assert!(h.fake.ops_of("stop", "kubia").is_empty());
}

#[tokio::test(start_paused = true)]
async fn a_deletion_does_not_wait_for_a_liveness_kill_in_progress() {
    let h = Harness::new();
    let mut p = probed(
        "slow",
        json!({"livenessProbe": {"tcpSocket": {"port": 8080}, "periodSeconds": 1, "failureThreshold": 1}}),
    );
    h.fake.script("slow", "kubia", vec![Program::ignoring_sigterm()]);
    h.fake.set_probe(
        "slow",
        "kubia",
        "liveness",
        ProbeOutcome::Failure("dial tcp: connect: connection refused".into()),
    );
    h.kubelet.handle(PodEvent::Applied(typed(p.clone())));
    wait_for("the liveness kill", Duration::from_secs(10), || h.api.count_events("Killing") == 1).await;
    // The kill waits out the pod's 30s grace period; the deletion asks for 3s.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let t0 = Instant::now();
    p["metadata"]["deletionTimestamp"] = "2024-05-01T10:00:05Z".into();
    p["metadata"]["deletionGracePeriodSeconds"] = 3.into();
    h.kubelet.handle(PodEvent::Applied(typed(p)));
    wait_for("deleted", Duration::from_secs(40), || !h.api.deleted.lock().unwrap().is_empty()).await;
    let took = secs(Instant::now() - t0);
    assert!(took < 3.5, "deleted {took}s after the request");
}

fn service(namespace: &str, name: &str, ip: &str, ports: Value) -> Value {
    json!({"metadata": {"namespace": namespace, "name": name}, "spec": {"clusterIP": ip, "ports": ports}})
}

/// The cluster's `default/kubernetes` and the book's `kubia` service, listed.
fn listed_services() -> Arc<ServiceLinks> {
    let links = service_env::fed::links();
    links.apply(&service(
        "default",
        "kubernetes",
        "10.96.0.1",
        json!([{"name": "https", "port": 443, "protocol": "TCP"}]),
    ));
    links.apply(&service("default", "kubia", "10.111.249.153", json!([{"port": 80, "protocol": "TCP"}])));
    links.apply(&service("other", "elsewhere", "10.96.3.3", json!([{"port": 80, "protocol": "TCP"}])));
    links.set_synced();
    links
}

fn env_map(env: &[(String, String)]) -> HashMap<&str, &str> {
    env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
}

#[tokio::test(start_paused = true)]
async fn containers_get_service_variables_and_their_own_env_wins() {
    let links = listed_services();
    let h = Harness::with_services(links.clone());
    let p = pod(
        "kubia",
        "Always",
        json!([{"name": "kubia", "image": "luksa/kubia", "imagePullPolicy": "IfNotPresent",
                "env": [{"name": "KUBIA_SERVICE_PORT", "value": "8080"}]}]),
    );
    h.fake.script("kubia", "kubia", vec![Program::exits(Duration::from_secs(1), 1), Program::forever()]);
    h.kubelet.handle(PodEvent::Applied(typed(p)));
    wait_for("a start", Duration::from_secs(5), || !h.start_times("kubia").is_empty()).await;
    let env = h.fake.env("kubia", "kubia").expect("created");
    let vars = env_map(&env);
    assert_eq!(vars["KUBERNETES_SERVICE_HOST"], "10.96.0.1");
    assert_eq!(vars["KUBERNETES_SERVICE_PORT"], "443");
    assert_eq!(vars["KUBERNETES_PORT_443_TCP_ADDR"], "10.96.0.1");
    assert_eq!(vars["KUBIA_SERVICE_HOST"], "10.111.249.153");
    assert_eq!(vars["KUBIA_PORT"], "tcp://10.111.249.153:80");
    assert_eq!(vars["KUBIA_SERVICE_PORT"], "8080", "the container's own entry wins");
    assert_eq!(vars.len(), env.len(), "no name twice: {env:?}");
    assert!(!vars.contains_key("ELSEWHERE_SERVICE_HOST"), "another namespace's service");
    assert_eq!(env[0].0, "KUBIA_SERVICE_PORT", "the container's entries come first, as in Kubernetes");

    // A service created now is not in the running container's environment;
    // the next instance of the container (after its crash) sees it.
    links.apply(&service("default", "late", "10.96.4.4", json!([{"port": 8080, "protocol": "TCP"}])));
    assert!(!env_map(&h.fake.env("kubia", "kubia").unwrap()).contains_key("LATE_SERVICE_HOST"));
    wait_for("a restart", Duration::from_secs(5), || h.start_times("kubia").len() == 2).await;
    assert_eq!(env_map(&h.fake.env("kubia", "kubia").unwrap())["LATE_SERVICE_HOST"], "10.96.4.4");
}

#[tokio::test(start_paused = true)]
async fn enable_service_links_false_gives_only_the_kubernetes_service() {
    let h = Harness::with_services(listed_services());
    let mut p = kubia("kubia", "Always");
    p["spec"]["enableServiceLinks"] = false.into();
    h.kubelet.handle(PodEvent::Applied(typed(p)));
    wait_for("a start", Duration::from_secs(5), || !h.start_times("kubia").is_empty()).await;
    let env = h.fake.env("kubia", "kubia").unwrap();
    assert!(!env.is_empty() && env.iter().all(|(k, _)| k.starts_with("KUBERNETES_")), "{env:?}");
}

#[tokio::test(start_paused = true)]
async fn no_container_starts_before_the_services_are_listed() {
    let links = service_env::fed::links();
    let h = Harness::with_services(links.clone());
    h.kubelet.handle(PodEvent::Applied(typed(kubia("kubia", "Always"))));
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(h.fake.ops_of("create", "kubia").is_empty(), "created before the services were listed");
    links.apply(&service("default", "kubernetes", "10.96.0.1", json!([{"name": "https", "port": 443}])));
    links.set_synced();
    let t0 = Instant::now();
    wait_for("a start", Duration::from_secs(5), || !h.start_times("kubia").is_empty()).await;
    assert!(secs(Instant::now() - t0) < 0.5, "starts as soon as the services are listed");
    assert_eq!(env_map(&h.fake.env("kubia", "kubia").unwrap())["KUBERNETES_SERVICE_HOST"], "10.96.0.1");
}

#[tokio::test(start_paused = true)]
async fn services_never_listed_give_create_container_config_error_then_a_retry() {
    let links = service_env::fed::links();
    let h = Harness::with_services(links.clone());
    h.kubelet.handle(PodEvent::Applied(typed(kubia("kubia", "Always"))));
    wait_for("CreateContainerConfigError", Duration::from_secs(10), || {
        h.api
            .status("kubia")
            .is_some_and(|s| s["containerStatuses"][0]["state"]["waiting"]["reason"] == "CreateContainerConfigError")
    })
    .await;
    let waiting = &h.container_status("kubia")["state"]["waiting"];
    assert_eq!(waiting["message"], service_env::NOT_SYNCED);
    assert!(h.api.event_log().contains(&format!("Failed: Error: {}", service_env::NOT_SYNCED)));
    assert!(h.fake.ops_of("create", "kubia").is_empty());
    links.set_synced();
    wait_for("Running", Duration::from_secs(30), || h.status("kubia")["phase"] == "Running").await;
}

#[tokio::test(start_paused = true)]
async fn a_deletion_cuts_the_wait_for_services_short() {
    let h = Harness::with_services(service_env::fed::links());
    let mut p = kubia("kubia", "Always");
    h.kubelet.handle(PodEvent::Applied(typed(p.clone())));
    tokio::time::sleep(Duration::from_secs(1)).await;
    let t0 = Instant::now();
    p["metadata"]["deletionTimestamp"] = "2024-05-01T10:00:05Z".into();
    p["metadata"]["deletionGracePeriodSeconds"] = 30.into();
    h.kubelet.handle(PodEvent::Applied(typed(p)));
    wait_for("deleted", Duration::from_secs(10), || !h.api.deleted.lock().unwrap().is_empty()).await;
    assert!(secs(Instant::now() - t0) < 3.0, "the deletion waited for the services");
    assert!(h.fake.ops_of("create", "kubia").is_empty());
}

/// A pod from its JSON form, as the API serves it.
fn typed(pod: Value) -> Arc<k8s_openapi::api::core::v1::Pod> {
    Arc::new(serde_json::from_value(pod).expect("a pod"))
}

fn with_volumes(mut p: Value, volumes: Value) -> Value {
    p["spec"]["volumes"] = volumes;
    p
}

fn path_source(m: &crate::runtime::Mount) -> &str {
    match &m.source {
        crate::runtime::MountSource::Path(p) => p,
        other => panic!("a path mount, not {other:?}"),
    }
}

/// The book's fortune pod: one emptyDir, written by one container, served read-only by the other.
#[tokio::test(start_paused = true)]
async fn an_empty_dir_is_shared_by_the_containers_outlives_restarts_and_goes_with_the_pod() {
    let h = Harness::new();
    let containers = json!([
        {"name": "html-generator", "image": "luksa/fortune", "volumeMounts": [{"name": "html", "mountPath": "/var/htdocs"}]},
        {"name": "web-server", "image": "nginx:alpine",
         "volumeMounts": [{"name": "html", "mountPath": "/usr/share/nginx/html", "readOnly": true}]},
    ]);
    let mut p = with_volumes(pod("fortune", "Always", containers), json!([{"name": "html", "emptyDir": {}}]));
    h.kubelet.handle(PodEvent::Applied(typed(p.clone())));
    wait_for("Running", Duration::from_secs(5), || h.api.status("fortune").is_some_and(|s| s["phase"] == "Running"))
        .await;
    let dir = Settings::for_tests(NODE)
        .root_dir
        .join("var/lib/kubelet/pods/uid-fortune/volumes/kubernetes.io~empty-dir/html");
    assert!(dir.is_dir(), "the emptyDir is made in the kubelet's pods dir: {}", dir.display());
    let writer = h.fake.mounts("fortune", "html-generator").unwrap();
    let reader = h.fake.mounts("fortune", "web-server").unwrap();
    assert_eq!(writer.len(), 1);
    assert_eq!(
        (path_source(&writer[0]), writer[0].target.as_str(), writer[0].read_only),
        (dir.to_str().unwrap(), "/var/htdocs", false)
    );
    assert_eq!(
        (path_source(&reader[0]), reader[0].target.as_str(), reader[0].read_only),
        (dir.to_str().unwrap(), "/usr/share/nginx/html", true)
    );
    std::fs::write(dir.join("index.html"), "a fortune").unwrap();

    let first = h.fake.container_id("fortune", "html-generator").unwrap();
    h.fake.kill(&first);
    wait_for("a restart", Duration::from_secs(30), || {
        h.fake.container_id("fortune", "html-generator").is_some_and(|id| id != first)
    })
    .await;
    assert_eq!(
        h.fake.mounts("fortune", "html-generator").unwrap(),
        writer,
        "the new instance mounts the same directory"
    );
    assert_eq!(std::fs::read_to_string(dir.join("index.html")).unwrap(), "a fortune", "the data outlives the restart");

    p["metadata"]["deletionTimestamp"] = "2024-05-01T10:00:05Z".into();
    p["metadata"]["deletionGracePeriodSeconds"] = 1.into();
    h.kubelet.handle(PodEvent::Applied(typed(p)));
    wait_for("deleted", Duration::from_secs(20), || !h.api.deleted.lock().unwrap().is_empty()).await;
    assert!(!dir.exists(), "the emptyDir is removed with the pod");
    assert!(!dir.parent().unwrap().exists());
}

/// A disk emptyDir that outgrows its sizeLimit gets its pod evicted, as
/// Kubernetes' eviction manager does, and the pod stays down.
#[tokio::test(start_paused = true)]
async fn a_disk_empty_dir_over_its_size_limit_evicts_the_pod() {
    let h = Harness::new();
    let containers =
        json!([{"name": "writer", "image": "busybox", "volumeMounts": [{"name": "scratch", "mountPath": "/s"}]}]);
    let p = with_volumes(
        pod("filler", "Always", containers),
        json!([{"name": "scratch", "emptyDir": {"sizeLimit": "1Mi"}}]),
    );
    h.kubelet.handle(PodEvent::Applied(typed(p)));
    wait_for("Running", Duration::from_secs(5), || h.api.status("filler").is_some_and(|s| s["phase"] == "Running"))
        .await;
    let dir = Settings::for_tests(NODE)
        .root_dir
        .join("var/lib/kubelet/pods/uid-filler/volumes/kubernetes.io~empty-dir/scratch");
    std::fs::write(dir.join("small"), vec![1u8; 512 * 1024]).unwrap();
    tokio::time::sleep(Duration::from_secs(25)).await;
    assert_eq!(h.api.status("filler").unwrap()["phase"], "Running", "under the limit: measured, not evicted");

    std::fs::write(dir.join("big"), vec![1u8; 1024 * 1024]).unwrap();
    wait_for("evicted", Duration::from_secs(30), || h.api.status("filler").is_some_and(|s| s["phase"] == "Failed"))
        .await;
    let status = h.api.status("filler").unwrap();
    let message = "Usage of EmptyDir volume \"scratch\" exceeds the limit \"1Mi\". ";
    assert_eq!((status["reason"].as_str(), status["message"].as_str()), (Some("Evicted"), Some(message)));
    assert_eq!(h.api.count_events("Evicted"), 1);
    let writer = h.fake.container_id("filler", "writer").unwrap();
    tokio::time::sleep(Duration::from_secs(120)).await;
    assert_eq!(h.fake.container_id("filler", "writer").unwrap(), writer, "an evicted pod does not restart");
    let states = h.fake.containers();
    assert!(states.iter().all(|(_, _, state)| *state != crate::runtime::ContainerState::Running), "{states:?}");
    assert_eq!(h.api.status("filler").unwrap()["reason"], "Evicted");
}

#[tokio::test(start_paused = true)]
async fn a_memory_empty_dir_is_one_tmpfs_volume_held_by_the_sandbox() {
    let h = Harness::new();
    let containers = json!([
        {"name": "a", "image": "busybox", "volumeMounts": [{"name": "cache", "mountPath": "/cache"}]},
        {"name": "b", "image": "busybox", "volumeMounts": [{"name": "cache", "mountPath": "/data"}]},
    ]);
    let volumes = json!([{"name": "cache", "emptyDir": {"medium": "Memory", "sizeLimit": "64Mi"}}]);
    let mut p = with_volumes(pod("mem", "Always", containers), volumes);
    h.kubelet.handle(PodEvent::Applied(typed(p.clone())));
    wait_for("Running", Duration::from_secs(5), || h.api.status("mem").is_some_and(|s| s["phase"] == "Running")).await;
    let made = h.fake.memory_volumes();
    assert_eq!(made.len(), 1, "{made:?}");
    assert_eq!(
        (made[0].name.as_str(), made[0].size_bytes),
        ("k8s_uid-mem_cache", Some(64 << 20)),
        "sizeLimit is the tmpfs size"
    );
    let named = |m: &crate::runtime::Mount| m.source == crate::runtime::MountSource::Volume("k8s_uid-mem_cache".into());
    let sandbox = h.fake.mounts("mem", "POD").unwrap();
    assert!(sandbox.iter().any(named), "the sandbox keeps it mounted: {sandbox:?}");
    for (c, target) in [("a", "/cache"), ("b", "/data")] {
        let mounts = h.fake.mounts("mem", c).unwrap();
        assert!(mounts.len() == 1 && named(&mounts[0]) && mounts[0].target == target, "{c}: {mounts:?}");
    }
    p["metadata"]["deletionTimestamp"] = "2024-05-01T10:00:05Z".into();
    p["metadata"]["deletionGracePeriodSeconds"] = 1.into();
    h.kubelet.handle(PodEvent::Applied(typed(p)));
    wait_for("deleted", Duration::from_secs(20), || !h.api.deleted.lock().unwrap().is_empty()).await;
    assert!(h.fake.memory_volumes().is_empty(), "the volume goes with the pod");
}

#[tokio::test(start_paused = true)]
async fn a_host_path_failing_its_type_check_holds_the_pod_with_failed_mount_until_it_passes() {
    let h = Harness::new();
    let root = Settings::for_tests(NODE).root_dir;
    let containers = json!([{"name": "db", "image": "mongo",
        "volumeMounts": [{"name": "data", "mountPath": "/data/db"}, {"name": "conf", "mountPath": "/etc/db.conf", "readOnly": true},
                         {"name": "made", "mountPath": "/made", "subPath": "sub/dir"}]}]);
    let volumes = json!([
        {"name": "data", "hostPath": {"path": "/srv/hp-test/data", "type": "Directory"}},
        {"name": "conf", "hostPath": {"path": "/srv/hp-test/db.conf", "type": "FileOrCreate"}},
        {"name": "made", "hostPath": {"path": "/srv/hp-test/made", "type": "DirectoryOrCreate"}},
    ]);
    let p = with_volumes(pod("hp", "Always", containers), volumes);
    h.kubelet.handle(PodEvent::Applied(typed(p)));
    let message = "FailedMount: MountVolume.SetUp failed for volume \"data\" : hostPath type check failed: /srv/hp-test/data is not a directory";
    wait_for("FailedMount", Duration::from_secs(5), || h.api.event_log().contains(&message.to_string())).await;
    assert!(h.fake.ops_of("sandbox", "hp").is_empty(), "no sandbox before the volumes are ready");

    std::fs::create_dir_all(root.join("srv/hp-test/data")).unwrap();
    wait_for("Running", Duration::from_secs(30), || h.api.status("hp").is_some_and(|s| s["phase"] == "Running")).await;
    let mounts = h.fake.mounts("hp", "db").unwrap();
    let sources: Vec<(&str, &str, bool)> =
        mounts.iter().map(|m| (path_source(m), m.target.as_str(), m.read_only)).collect();
    let at = |p: &str| root.join(p).display().to_string();
    assert_eq!(
        sources,
        [
            (at("srv/hp-test/data").as_str(), "/data/db", false),
            (at("srv/hp-test/db.conf").as_str(), "/etc/db.conf", true),
            (at("srv/hp-test/made/sub/dir").as_str(), "/made", false),
        ]
    );
    assert!(root.join("srv/hp-test/db.conf").is_file(), "FileOrCreate makes an empty file");
    assert!(root.join("srv/hp-test/made/sub/dir").is_dir(), "DirectoryOrCreate and the subPath are made");
    h.stop();
    std::fs::remove_dir_all(root.join("srv/hp-test")).unwrap();
}

fn fortune_config(interval: &str) -> Value {
    json!({"metadata": {"name": "fortune-config", "namespace": "default"},
           "data": {"sleep-interval": interval, "my-nginx-config.conf": "server { gzip on; }"}})
}

/// Chapter 7's env pod: a missing ConfigMap holds the container in
/// CreateContainerConfigError; it starts once the ConfigMap exists, and a
/// later edit does not change the running container's environment.
#[tokio::test(start_paused = true)]
async fn env_from_a_missing_config_map_waits_for_it_and_is_read_once() {
    let h = Harness::new();
    let containers = json!([{"name": "html-generator", "image": "luksa/fortune:env", "env": [
        {"name": "INTERVAL", "valueFrom": {"configMapKeyRef": {"name": "fortune-config", "key": "sleep-interval"}}}]}]);
    h.kubelet.handle(PodEvent::Applied(typed(pod("fortune-env", "Always", containers))));
    wait_for("CreateContainerConfigError", Duration::from_secs(10), || {
        h.api
            .status("fortune-env")
            .is_some_and(|s| s["containerStatuses"][0]["state"]["waiting"]["reason"] == "CreateContainerConfigError")
    })
    .await;
    let waiting = &h.container_status("fortune-env")["state"]["waiting"];
    assert_eq!(waiting["message"], "configmap \"fortune-config\" not found");
    assert!(h.api.event_log().contains(&"Failed: Error: configmap \"fortune-config\" not found".to_string()));
    assert!(h.fake.ops_of("create", "fortune-env").is_empty());

    // The key is missing: Kubernetes' other message.
    h.api.put_config_map(json!({"metadata": {"name": "fortune-config", "namespace": "default"}, "data": {"x": "1"}}));
    wait_for("the key message", Duration::from_secs(30), || {
        h.api
            .event_log()
            .contains(&"Failed: Error: couldn't find key sleep-interval in ConfigMap default/fortune-config".into())
    })
    .await;

    h.api.put_config_map(fortune_config("25"));
    wait_for("Running", Duration::from_secs(30), || h.status("fortune-env")["phase"] == "Running").await;
    assert_eq!(env_map(&h.fake.env("fortune-env", "html-generator").unwrap())["INTERVAL"], "25");
    h.api.put_config_map(fortune_config("5"));
    tokio::time::sleep(Duration::from_secs(130)).await;
    assert_eq!(
        env_map(&h.fake.env("fortune-env", "html-generator").unwrap())["INTERVAL"],
        "25",
        "a running container keeps the environment it was created with"
    );
    assert_eq!(h.start_times("fortune-env").len(), 1);
}

#[tokio::test(start_paused = true)]
async fn env_from_with_invalid_names_skips_them_with_an_event() {
    let h = Harness::new();
    h.api.put_config_map(json!({"metadata": {"name": "cfg", "namespace": "default"},
                                "data": {"GOOD": "1", "1bad": "2", "also bad": "3"}}));
    h.api.put_secret(json!({"metadata": {"name": "creds", "namespace": "default"}, "data": {"PASS": "czNjcmV0"}}));
    let containers = json!([{"name": "main", "image": "busybox",
        "envFrom": [{"configMapRef": {"name": "cfg"}}, {"secretRef": {"name": "creds"}, "prefix": "S_"}]}]);
    h.kubelet.handle(PodEvent::Applied(typed(pod("envfrom", "Always", containers))));
    wait_for("Running", Duration::from_secs(10), || h.api.status("envfrom").is_some_and(|s| s["phase"] == "Running"))
        .await;
    let env = h.fake.env("envfrom", "main").unwrap();
    let vars = env_map(&env);
    assert_eq!((vars["GOOD"], vars["S_PASS"]), ("1", "s3cret"));
    assert!(!vars.contains_key("1bad") && !vars.contains_key("also bad"));
    let event = "InvalidEnvironmentVariableNames: Keys [1bad, also bad] from the EnvFrom configMap default/cfg were skipped since they are considered invalid environment variable names.";
    assert!(h.api.event_log().contains(&event.to_string()), "{:?}", h.api.event_log());
}

/// The content volumes of one pod: configMap (items, modes) and downwardAPI
/// on disk, secret and projected in memory volumes written through the
/// sandbox; all mounted read-only and following edits on resync.
#[tokio::test(start_paused = true)]
async fn config_map_secret_downward_and_projected_volumes_follow_their_sources() {
    let h = Harness::new();
    h.api.put_config_map(fortune_config("25"));
    h.api.put_secret(json!({"metadata": {"name": "fortune-https", "namespace": "default"},
                            "data": {"https.key": "S0VZ", "foo": "YmFyCg=="}}));
    let containers = json!([{"name": "web-server", "image": "nginx:alpine", "volumeMounts": [
        {"name": "config", "mountPath": "/etc/nginx/conf.d"},
        {"name": "certs", "mountPath": "/etc/nginx/certs/", "readOnly": true},
        {"name": "downward", "mountPath": "/etc/downward"},
        {"name": "all", "mountPath": "/all"},
    ]}]);
    let volumes = json!([
        {"name": "config", "configMap": {"name": "fortune-config", "defaultMode": 0o600,
            "items": [{"key": "my-nginx-config.conf", "path": "https.conf"},
                      {"key": "sleep-interval", "path": "conf/interval", "mode": 0o640}]}},
        {"name": "certs", "secret": {"secretName": "fortune-https"}},
        {"name": "downward", "downwardAPI": {"items": [
            {"path": "labels", "fieldRef": {"fieldPath": "metadata.labels"}},
            {"path": "podName", "fieldRef": {"fieldPath": "metadata.name"}}]}},
        {"name": "all", "projected": {"sources": [
            {"configMap": {"name": "fortune-config", "items": [{"key": "sleep-interval", "path": "interval"}]}},
            {"secret": {"name": "fortune-https", "items": [{"key": "foo", "path": "secret/foo"}]}},
            {"downwardAPI": {"items": [{"path": "ns", "fieldRef": {"fieldPath": "metadata.namespace"}}]}},
            {"serviceAccountToken": {"path": "token"}},
        ]}},
    ]);
    let mut p = with_volumes(pod("vols", "Always", containers), volumes);
    p["metadata"]["labels"] = json!({"app": "fortune"});
    h.kubelet.handle(PodEvent::Applied(typed(p.clone())));
    wait_for("Running", Duration::from_secs(10), || h.api.status("vols").is_some_and(|s| s["phase"] == "Running"))
        .await;

    let pods = Settings::for_tests(NODE).root_dir.join("var/lib/kubelet/pods/uid-vols/volumes");
    let config = pods.join("kubernetes.io~configmap/config");
    let read = |p: &std::path::Path| std::fs::read_to_string(p).unwrap();
    assert_eq!(read(&config.join("https.conf")), "server { gzip on; }");
    assert_eq!(read(&config.join("conf/interval")), "25");
    assert!(std::fs::read_link(config.join("https.conf")).unwrap().starts_with("..data"));
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!((mode(&config.join("https.conf")), mode(&config.join("conf/interval"))), (0o600, 0o640));
    let downward = pods.join("kubernetes.io~downward-api/downward");
    assert_eq!(read(&downward.join("labels")), "app=\"fortune\"");
    assert_eq!(read(&downward.join("podName")), "vols");

    let (_, certs) = h.fake.memory_volume_files("vols", "/kubelab/volumes/certs").expect("the secret is written");
    let file = |p: &crate::atomic::Payload, k: &str| (String::from_utf8(p[k].data.clone()).unwrap(), p[k].mode);
    assert_eq!(file(&certs, "https.key"), ("KEY".to_string(), 0o644));
    assert_eq!(file(&certs, "foo"), ("bar\n".to_string(), 0o644));
    let (_, all) = h.fake.memory_volume_files("vols", "/kubelab/volumes/all").expect("the projected volume is written");
    assert_eq!(all.keys().map(String::as_str).collect::<Vec<_>>(), ["interval", "ns", "secret/foo"]);
    assert_eq!(file(&all, "ns").0, "default");
    let names: Vec<String> = h.fake.memory_volumes().into_iter().map(|v| v.name).collect();
    assert_eq!(names, ["k8s_uid-vols_all", "k8s_uid-vols_certs"], "secret and projected volumes are tmpfs");

    let mounts = h.fake.mounts("vols", "web-server").unwrap();
    assert!(mounts.iter().all(|m| m.read_only), "content volumes are read-only: {mounts:?}");
    assert_eq!(path_source(&mounts[0]), config.to_str().unwrap());
    assert_eq!(mounts[1].source, crate::runtime::MountSource::Volume("k8s_uid-vols_certs".into()));

    // Edits: a label reaches the downwardAPI file with the pod update; the
    // ConfigMap and Secret ones on the next resync (at most a minute).
    let first_certs = h.fake.memory_volume_files("vols", "/kubelab/volumes/certs").unwrap().0;
    p["metadata"]["labels"] = json!({"app": "fortune", "foo": "bar"});
    h.kubelet.handle(PodEvent::Applied(typed(p)));
    wait_for("the labels file", Duration::from_secs(5), || {
        read(&downward.join("labels")) == "app=\"fortune\"\nfoo=\"bar\""
    })
    .await;
    h.api.put_config_map(fortune_config("5"));
    h.api.put_secret(json!({"metadata": {"name": "fortune-https", "namespace": "default"},
                            "data": {"https.key": "TkVX", "foo": "YmFyCg=="}}));
    wait_for("the configmap file", Duration::from_secs(61), || read(&config.join("conf/interval")) == "5").await;
    wait_for("the secret files", Duration::from_secs(61), || {
        let (version, files) = h.fake.memory_volume_files("vols", "/kubelab/volumes/certs").unwrap();
        version != first_certs && file(&files, "https.key").0 == "NEW"
    })
    .await;
    assert_eq!(h.start_times("vols").len(), 1, "no container restarts for an update");
}

#[tokio::test(start_paused = true)]
async fn a_missing_config_map_volume_fails_to_mount_until_it_exists() {
    let h = Harness::new();
    let containers =
        json!([{"name": "web", "image": "nginx", "volumeMounts": [{"name": "config", "mountPath": "/etc/x"}]}]);
    let volumes = json!([
        {"name": "config", "configMap": {"name": "absent"}},
        {"name": "maybe", "secret": {"secretName": "absent-too", "optional": true}},
    ]);
    h.kubelet.handle(PodEvent::Applied(typed(with_volumes(pod("nocm", "Always", containers), volumes))));
    let message = "FailedMount: MountVolume.SetUp failed for volume \"config\" : configmap \"absent\" not found";
    wait_for("FailedMount", Duration::from_secs(5), || h.api.event_log().contains(&message.to_string())).await;
    assert!(h.fake.ops_of("sandbox", "nocm").is_empty(), "no sandbox before the volumes are ready");
    h.api.put_config_map(json!({"metadata": {"name": "absent", "namespace": "default"}, "data": {"k": "v"}}));
    wait_for("Running", Duration::from_secs(30), || h.api.status("nocm").is_some_and(|s| s["phase"] == "Running"))
        .await;
    let (_, maybe) = h.fake.memory_volume_files("nocm", "/kubelab/volumes/maybe").unwrap();
    assert!(maybe.is_empty(), "an optional missing secret is an empty volume");
}
