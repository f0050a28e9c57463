//! The one conformance suite every [`Runtime`] must pass — Docker and the
//! fake alike — so that pod worker tests and hollow nodes, which run on the
//! fake, see what a real node sees: sandboxes with an IP, containers created
//! then started, labels read back on listing, exit codes and times, stops that
//! wait for SIGTERM and kill when the grace period ends, logs, exec, removal
//! and `NotFound` for ids that are gone.
//!
//! Each case is a public async fn over a [`Subject`]: the runtime, the images
//! it runs, and how to make a container behave as a [`Script`] says (a shell
//! script on Docker, a scripted program on the fake). Cases work on their own
//! pod uid and remove what they create. [`run_all`] runs every case in turn;
//! the fake runs it in its unit tests (on tokio's paused clock), Docker in
//! `tests/docker.rs`. Compiled for tests and with the `testing` feature only.

use super::{ContainerConfig, ContainerInfo, ContainerMeta, ContainerState, ExecChunk, LogOptions, Runtime};
use super::{MemoryVolume, Mount, MountSource, SandboxConfig, SANDBOX_NAME};
use futures::StreamExt;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// Longest wait for a container to reach a state before the case fails.
const STATE_TIMEOUT: Duration = Duration::from_secs(30);

/// What a test container does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Script {
    /// Lines it prints at once.
    pub output: Vec<String>,
    /// It exits by itself after this long with this code (None: runs until stopped).
    pub exit: Option<(Duration, i64)>,
    /// It exits at once on SIGTERM with 143; otherwise it ignores SIGTERM and
    /// is killed (137) when the grace period ends.
    pub exits_on_sigterm: bool,
}

impl Script {
    /// Runs until stopped, and stops at once when asked.
    pub fn forever() -> Self {
        Self { output: vec![], exit: None, exits_on_sigterm: true }
    }
}

/// A runtime under test, with what the cases need to drive it.
pub trait Subject: Send + Sync {
    fn runtime(&self) -> Arc<dyn Runtime>;
    /// The node its containers belong to.
    fn node(&self) -> String;
    /// A sandbox (pause) image that is present.
    fn pause_image(&self) -> String;
    /// An app image that is present.
    fn image(&self) -> String;
    /// An image that is absent and cannot be pulled.
    fn missing_image(&self) -> String;
    /// Makes the container `config` describes behave as `script`.
    fn program(&self, config: &mut ContainerConfig, script: &Script);
}

/// The node name the per-node case gives a container of another node; a
/// subject's cleanup removes those too.
pub fn other_node(node: &str) -> String {
    format!("{node}-other")
}

/// Runs every case, one after another.
pub async fn run_all(subject: &dyn Subject) {
    images_are_present_or_missing(subject).await;
    a_sandbox_runs_with_an_ip(subject).await;
    containers_are_created_then_started_and_listed_with_their_labels(subject).await;
    exit_codes_and_times_are_reported(subject).await;
    a_stop_waits_for_sigterm_and_kills_after_the_grace_period(subject).await;
    logs_show_the_output_and_its_tail(subject).await;
    exec_runs_in_running_containers_only(subject).await;
    removed_containers_are_gone_and_unknown_ids_are_not_found(subject).await;
    listings_are_per_node_and_per_pod(subject).await;
    memory_volumes_are_shared_and_removed_with_their_pod(subject).await;
}

/// One case's pod: its uid, name and namespace.
struct TestPod<'a> {
    subject: &'a dyn Subject,
    runtime: Arc<dyn Runtime>,
    uid: String,
}

impl<'a> TestPod<'a> {
    fn new(subject: &'a dyn Subject, case: &str) -> Self {
        Self { subject, runtime: subject.runtime(), uid: format!("conformance-{case}") }
    }

    fn meta(&self, container: &str, restart_count: u32) -> ContainerMeta {
        ContainerMeta {
            pod_uid: self.uid.clone(),
            pod_name: self.uid.clone(),
            pod_namespace: "conformance".into(),
            container_name: container.into(),
            restart_count,
            node: self.subject.node(),
            grace_period: Some(7),
        }
    }

    async fn sandbox(&self) -> String {
        self.sandbox_with(Vec::new()).await
    }

    async fn sandbox_with(&self, mounts: Vec<Mount>) -> String {
        let pod = Pod {
            metadata: ObjectMeta {
                name: Some(self.uid.clone()),
                namespace: Some("conformance".into()),
                uid: Some(self.uid.clone()),
                ..Default::default()
            },
            ..Default::default()
        };
        let config = SandboxConfig {
            meta: self.meta(SANDBOX_NAME, 0),
            image: self.subject.pause_image(),
            hostname: self.uid.clone(),
            pod: Arc::new(pod),
            mounts,
        };
        self.runtime.run_sandbox(&config).await.expect("the sandbox runs")
    }

    fn config(&self, sandbox: &str, name: &str, script: &Script) -> ContainerConfig {
        let mut config = ContainerConfig {
            meta: self.meta(name, 0),
            sandbox_id: sandbox.into(),
            image: self.subject.image(),
            ..Default::default()
        };
        self.subject.program(&mut config, script);
        config
    }

    /// Creates and starts a container running `script` in `sandbox`.
    async fn run(&self, sandbox: &str, name: &str, script: &Script) -> String {
        let id = self.runtime.create_container(&self.config(sandbox, name, script)).await.expect("created");
        self.runtime.start_container(&id).await.expect("started");
        id
    }

    async fn info(&self, id: &str) -> ContainerInfo {
        let all = self.runtime.pod_containers(&self.subject.node(), &self.uid).await.expect("the pod's containers");
        all.into_iter().find(|c| c.id == id).unwrap_or_else(|| panic!("container {id} is not listed"))
    }

    /// Waits until the container reaches `state`.
    async fn wait_for(&self, id: &str, state: ContainerState) -> ContainerInfo {
        let deadline = Instant::now() + STATE_TIMEOUT;
        loop {
            let info = self.info(id).await;
            if info.state == state {
                return info;
            }
            assert!(Instant::now() < deadline, "container {id} is still {:?}, not {state:?}", info.state);
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Removes every container of the pod (and of its other-node twin).
    async fn clean_up(&self) {
        for node in [self.subject.node(), other_node(&self.subject.node())] {
            for c in self.runtime.pod_containers(&node, &self.uid).await.unwrap_or_default() {
                let _ = self.runtime.remove_container(&c.id).await;
            }
        }
    }
}

async fn read_logs(runtime: &dyn Runtime, id: &str, tail: Option<i64>) -> String {
    let options = LogOptions { tail, ..Default::default() };
    let mut stream = runtime.logs(id, &options).await.expect("logs");
    let mut out = Vec::new();
    while let Some(chunk) = stream.next().await {
        out.extend(chunk.expect("a log chunk"));
    }
    String::from_utf8_lossy(&out).into_owned()
}

pub async fn images_are_present_or_missing(subject: &dyn Subject) {
    let runtime = subject.runtime();
    let present = runtime.inspect_image(&subject.image()).await.expect("inspect");
    assert!(present.is_some(), "the test image is present");
    let missing = subject.missing_image();
    assert_eq!(runtime.inspect_image(&missing).await.expect("inspect"), None, "an absent image inspects as None");
    assert!(runtime.pull_image(&missing).await.is_err(), "an image no registry has cannot be pulled");
}

pub async fn a_sandbox_runs_with_an_ip(subject: &dyn Subject) {
    let pod = TestPod::new(subject, "sandbox");
    let id = pod.sandbox().await;
    let info = pod.info(&id).await;
    assert_eq!(info.state, ContainerState::Running, "run_sandbox starts it");
    assert!(info.meta.is_sandbox());
    assert!(info.ip.as_deref().is_some_and(|ip| ip.parse::<std::net::IpAddr>().is_ok()), "an IP: {:?}", info.ip);
    assert!(info.started_at.is_some());
    pod.runtime.stop_container(&id, Duration::from_secs(5)).await.expect("stopped");
    let stopped = pod.info(&id).await;
    assert_eq!(stopped.state, ContainerState::Exited);
    assert_eq!(stopped.ip, None, "a stopped sandbox has no address");
    pod.clean_up().await;
}

pub async fn containers_are_created_then_started_and_listed_with_their_labels(subject: &dyn Subject) {
    let pod = TestPod::new(subject, "lifecycle");
    let runtime = &pod.runtime;
    let sandbox = pod.sandbox().await;
    let mut config = pod.config(&sandbox, "app", &Script::forever());
    config.meta.restart_count = 2;
    let id = runtime.create_container(&config).await.expect("created");
    let created = pod.info(&id).await;
    assert_eq!(created.state, ContainerState::Created, "created, not started");
    assert_eq!(created.started_at, None);
    runtime.start_container(&id).await.expect("started");
    let running = pod.wait_for(&id, ContainerState::Running).await;
    assert_eq!(running.meta, config.meta, "who the container belongs to reads back from its labels");
    assert_eq!(running.image, subject.image(), "the image as the spec named it");
    assert!(!running.image_id.is_empty());
    assert!(running.started_at.is_some_and(|t| t >= created.created_at), "started after it was created");
    assert_eq!(running.ip, None, "an app container has no address of its own: it uses the sandbox's");
    let listed = runtime.list_containers(&subject.node()).await.expect("list");
    let summary = listed.iter().find(|c| c.id == id).expect("the container is listed");
    assert_eq!((*summary.meta).clone(), config.meta);
    assert_eq!(summary.state, ContainerState::Running);
    assert!(listed.iter().any(|c| c.id == sandbox && c.meta.is_sandbox()), "the sandbox is listed too");
    pod.clean_up().await;
}

pub async fn exit_codes_and_times_are_reported(subject: &dyn Subject) {
    let pod = TestPod::new(subject, "exits");
    let sandbox = pod.sandbox().await;
    let script = Script { output: vec![], exit: Some((Duration::from_secs(1), 3)), exits_on_sigterm: true };
    let id = pod.run(&sandbox, "app", &script).await;
    let exited = pod.wait_for(&id, ContainerState::Exited).await;
    assert_eq!(exited.exit_code, 3);
    assert!(!exited.oom_killed);
    let (started, finished) = (exited.started_at.expect("started_at"), exited.finished_at.expect("finished_at"));
    assert!(finished >= started, "finished {finished} before it started {started}");
    let ok = Script { exit: Some((Duration::ZERO, 0)), ..script };
    let id = pod.run(&sandbox, "ok", &ok).await;
    assert_eq!(pod.wait_for(&id, ContainerState::Exited).await.exit_code, 0);
    pod.clean_up().await;
}

pub async fn a_stop_waits_for_sigterm_and_kills_after_the_grace_period(subject: &dyn Subject) {
    let pod = TestPod::new(subject, "stop");
    let runtime = &pod.runtime;
    let sandbox = pod.sandbox().await;
    let polite = pod.run(&sandbox, "polite", &Script::forever()).await;
    let stubborn = pod.run(&sandbox, "stubborn", &Script { exits_on_sigterm: false, ..Script::forever() }).await;
    pod.wait_for(&polite, ContainerState::Running).await;
    pod.wait_for(&stubborn, ContainerState::Running).await;

    let start = Instant::now();
    runtime.stop_container(&polite, Duration::from_secs(30)).await.expect("stopped");
    assert!(start.elapsed() < Duration::from_secs(10), "a container that exits on SIGTERM is not waited for");
    let info = pod.info(&polite).await;
    assert_eq!((info.state, info.exit_code), (ContainerState::Exited, 143), "it exited on SIGTERM");

    let grace = Duration::from_secs(2);
    let start = Instant::now();
    runtime.stop_container(&stubborn, grace).await.expect("stopped");
    assert!(start.elapsed() >= grace - Duration::from_millis(200), "the grace period is waited out");
    let info = pod.info(&stubborn).await;
    assert_eq!((info.state, info.exit_code), (ContainerState::Exited, 137), "killed when the grace period ended");

    runtime.stop_container(&stubborn, grace).await.expect("stopping a stopped container is fine");
    pod.clean_up().await;
}

pub async fn logs_show_the_output_and_its_tail(subject: &dyn Subject) {
    let pod = TestPod::new(subject, "logs");
    let sandbox = pod.sandbox().await;
    let script = Script {
        output: vec!["hello".into(), "world".into()],
        exit: Some((Duration::ZERO, 0)),
        exits_on_sigterm: true,
    };
    let id = pod.run(&sandbox, "app", &script).await;
    pod.wait_for(&id, ContainerState::Exited).await;
    let runtime = &*pod.runtime;
    assert_eq!(read_logs(runtime, &id, None).await, "hello\nworld\n");
    assert_eq!(read_logs(runtime, &id, Some(1)).await, "world\n");
    assert!(runtime.logs("no-such-container", &LogOptions::default()).await.is_err_and(|e| e.is_not_found()));
    pod.clean_up().await;
}

pub async fn exec_runs_in_running_containers_only(subject: &dyn Subject) {
    let pod = TestPod::new(subject, "exec");
    let runtime = &pod.runtime;
    let sandbox = pod.sandbox().await;
    let id = pod.run(&sandbox, "app", &Script::forever()).await;
    pod.wait_for(&id, ContainerState::Running).await;
    let command = vec!["echo".to_string(), "hi".into(), "there".into()];
    let session = runtime.exec(&id, &command, false, false).await.expect("exec");
    let chunks: Vec<ExecChunk> = session.output.map(|c| c.expect("exec output")).collect().await;
    let stdout: Vec<u8> = chunks
        .into_iter()
        .filter_map(|c| if let ExecChunk::Stdout(b) = c { Some(b) } else { None })
        .flatten()
        .collect();
    assert_eq!(String::from_utf8_lossy(&stdout), "hi there\n", "the command's own output");
    assert_eq!(runtime.exec_exit_code(&session.id).await.expect("exit code"), 0);

    runtime.stop_container(&id, Duration::from_secs(5)).await.expect("stopped");
    assert!(runtime.exec(&id, &command, false, false).await.is_err(), "no exec in a stopped container");
    pod.clean_up().await;
}

pub async fn removed_containers_are_gone_and_unknown_ids_are_not_found(subject: &dyn Subject) {
    let pod = TestPod::new(subject, "remove");
    let runtime = &pod.runtime;
    let sandbox = pod.sandbox().await;
    let id = pod.run(&sandbox, "app", &Script::forever()).await;
    pod.wait_for(&id, ContainerState::Running).await;
    runtime.remove_container(&id).await.expect("a running container is removed (forcibly)");
    let left = runtime.pod_containers(&subject.node(), &pod.uid).await.expect("list");
    assert!(left.iter().all(|c| c.id != id), "removed containers are not listed");
    assert!(runtime.list_containers(&subject.node()).await.expect("list").iter().all(|c| c.id != id));
    let gone = |r: super::Result<()>| r.is_err_and(|e| e.is_not_found());
    assert!(gone(runtime.remove_container(&id).await), "removing twice: not found");
    assert!(gone(runtime.start_container(&id).await), "starting a removed container: not found");
    assert!(gone(runtime.stop_container(&id, Duration::from_secs(1)).await), "stopping it: not found");
    pod.clean_up().await;
}

pub async fn memory_volumes_are_shared_and_removed_with_their_pod(subject: &dyn Subject) {
    let pod = TestPod::new(subject, "memory-volume");
    let other = TestPod::new(subject, "memory-volume-other");
    let runtime = &pod.runtime;
    let volume = |p: &TestPod<'_>| MemoryVolume {
        name: format!("k8s_{}_cache", p.uid),
        pod_uid: p.uid.clone(),
        node: subject.node(),
        size_bytes: Some(1 << 20),
    };
    for p in [&pod, &other] {
        runtime.create_memory_volume(&volume(p)).await.expect("a memory volume is made");
    }
    runtime.create_memory_volume(&volume(&pod)).await.expect("making it again is fine");
    let mount = |target: &str| Mount {
        source: MountSource::Volume(volume(&pod).name),
        target: target.into(),
        read_only: false,
    };
    let sandbox = pod.sandbox_with(vec![mount("/volumes/cache")]).await;
    let mut ids = Vec::new();
    for name in ["writer", "reader"] {
        let mut config = pod.config(&sandbox, name, &Script::forever());
        config.mounts = vec![mount("/cache")];
        let id = runtime.create_container(&config).await.expect("a container mounting the volume is created");
        runtime.start_container(&id).await.expect("and started");
        ids.push(id);
    }
    for id in &ids {
        pod.wait_for(id, ContainerState::Running).await;
    }
    pod.clean_up().await;
    runtime.remove_pod_volumes(&subject.node(), &pod.uid).await.expect("the pod's volumes are removed");
    runtime.remove_pod_volumes(&subject.node(), &pod.uid).await.expect("removing them again is fine");
    // Each pod's volumes go with that pod only.
    runtime.remove_pod_volumes(&subject.node(), &other.uid).await.expect("the other pod's volumes are removed");
}

pub async fn listings_are_per_node_and_per_pod(subject: &dyn Subject) {
    let pod = TestPod::new(subject, "per-node");
    let other_pod = TestPod::new(subject, "per-node-other-pod");
    let runtime = &pod.runtime;
    let sandbox = pod.sandbox().await;
    let other_sandbox = other_pod.sandbox().await;
    let mut elsewhere = pod.config(&sandbox, "elsewhere", &Script::forever());
    elsewhere.meta.node = other_node(&subject.node());
    let foreign = runtime.create_container(&elsewhere).await.expect("created");
    let mine = runtime.pod_containers(&subject.node(), &pod.uid).await.expect("list");
    assert_eq!(
        mine.iter().map(|c| c.id.as_str()).collect::<Vec<_>>(),
        [sandbox.as_str()],
        "only this pod's, on this node"
    );
    let listed: Vec<String> =
        runtime.list_containers(&subject.node()).await.expect("list").into_iter().map(|c| c.id).collect();
    assert!(listed.contains(&sandbox) && listed.contains(&other_sandbox), "every pod of the node");
    assert!(!listed.contains(&foreign), "not another node's containers");
    let theirs = runtime.list_containers(&other_node(&subject.node())).await.expect("list");
    assert_eq!(theirs.iter().map(|c| c.id.as_str()).collect::<Vec<_>>(), [foreign.as_str()]);
    pod.clean_up().await;
    other_pod.clean_up().await;
}
