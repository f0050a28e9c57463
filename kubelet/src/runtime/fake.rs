//! An in-memory runtime for pod worker tests and hollow nodes.
//!
//! Containers are records whose state follows from tokio time: a container
//! told to exit after 5s reads as Running until then and Exited after, with
//! no background task, so tests on a paused clock see exact timings and a
//! hollow node costs a few hundred bytes per container. Tests steer it:
//! scripts say how each start of a container behaves, probe results can be
//! set, images can be present or absent, and every operation is logged with
//! the (virtual) time it happened.
//!
//! Hollow nodes use the same fake with a [`Hollow`] behaviour instead of
//! scripts: pods take a while to start, containers may exit by themselves (so
//! Jobs complete) and probes may fail, set by flags and overridden per pod by
//! annotations. Hollow runtimes keep no operation log, so their memory stays
//! flat however long they run.

use super::{
    ByteStream, Connection, ContainerConfig, ContainerInfo, ContainerMeta, ContainerState, ContainerSummary, ExecChunk,
    ExecSession, ImageInfo, LogOptions, MemoryVolume, Mount, ProbeAction, ProbeOutcome, ProbeTarget, Result, Runtime,
    RuntimeError, SandboxConfig,
};
use crate::clock::Clock;
use client::Object;
use k8s_openapi::api::core::v1::Pod;
use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::Instant;

/// How one run of a container behaves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Program {
    /// Exit by itself after this long (None: run until stopped).
    pub exit_after: Option<Duration>,
    pub exit_code: i64,
    /// How long it takes to exit after SIGTERM (None: it ignores SIGTERM and
    /// is killed when the grace period ends, with 137).
    pub term_delay: Option<Duration>,
    /// What `logs` shows.
    pub output: String,
}

impl Program {
    /// Runs until stopped; exits 143 (SIGTERM) at once when asked.
    pub fn forever() -> Self {
        Self { exit_after: None, exit_code: 0, term_delay: Some(Duration::ZERO), output: String::new() }
    }
    pub fn exits(after: Duration, code: i64) -> Self {
        Self { exit_after: Some(after), exit_code: code, ..Self::forever() }
    }
    pub fn ignoring_sigterm() -> Self {
        Self { term_delay: None, ..Self::forever() }
    }
}

/// Pod annotation: how long the pod's containers run before exiting (`5s`).
pub const ANNOTATION_EXIT_AFTER: &str = "kubelab.io/hollow-exit-after";
/// Pod annotation: the exit code of those exits (default 0).
pub const ANNOTATION_EXIT_CODE: &str = "kubelab.io/hollow-exit-code";
/// Pod annotation: `fail` makes every probe of the pod fail, `succeed` makes them pass.
pub const ANNOTATION_PROBE: &str = "kubelab.io/hollow-probe";
/// Pod annotation: how long the pod takes to start (overrides the node's delay).
pub const ANNOTATION_START_DELAY: &str = "kubelab.io/hollow-start-delay";

/// How a hollow node's pods behave.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Hollow {
    /// How long a pod's sandbox takes to come up (so the pod takes that long to run).
    pub start_delay: Duration,
    /// App containers exit by themselves after this long (None: they run until stopped).
    pub exit_after: Option<Duration>,
    pub exit_code: i64,
    /// Every probe fails.
    pub probe_fail: bool,
}

impl Hollow {
    /// The behaviour of one pod: these defaults, with the pod's annotations on top.
    /// The default exit applies only to pods that do not restart their containers:
    /// it is there to let Jobs complete, not to put Deployments in CrashLoopBackOff.
    pub fn for_pod(&self, pod: &Pod) -> Hollow {
        let annotations = pod.metadata.annotations.as_ref();
        let annotation = |key: &str| annotations.and_then(|a| a.get(key)).map(String::as_str);
        let duration = |key: &str| annotation(key).and_then(|v| api::duration::parse(v).ok());
        let policy = pod.spec.as_ref().and_then(|s| s.restart_policy.as_deref());
        let restarts = policy.unwrap_or("Always") == "Always";
        Hollow {
            start_delay: duration(ANNOTATION_START_DELAY).unwrap_or(self.start_delay),
            exit_after: duration(ANNOTATION_EXIT_AFTER).or(self.exit_after.filter(|_| !restarts)),
            exit_code: annotation(ANNOTATION_EXIT_CODE).and_then(|v| v.parse().ok()).unwrap_or(self.exit_code),
            probe_fail: match annotation(ANNOTATION_PROBE) {
                Some("fail") => true,
                Some("succeed") => false,
                _ => self.probe_fail,
            },
        }
    }
}

/// One logged operation: (what, container name or `POD`, grace for stops, when).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Op {
    pub what: &'static str,
    pub container: String,
    pub pod: String,
    pub grace: Option<Duration>,
    pub at: Instant,
}

#[derive(Debug, Clone)]
struct FakeContainer {
    id: String,
    meta: Arc<ContainerMeta>,
    image: String,
    created: Instant,
    started: Option<Instant>,
    program: Program,
    /// When a stop was asked for, and with which grace period.
    stop: Option<(Instant, Duration)>,
    ip: Option<String>,
    /// The environment it was created with (kept for tests only, not on hollow nodes).
    env: Vec<(String, String)>,
    /// Its mounts (kept for tests only, as `env`).
    mounts: Vec<Mount>,
}

impl FakeContainer {
    /// When it exits (or exited), and with which code, if it ever does.
    fn exit(&self) -> Option<(Instant, i64)> {
        let started = self.started?;
        let natural = self.program.exit_after.map(|d| (started + d, self.program.exit_code));
        let stopped = self.stop.map(|(at, grace)| match self.program.term_delay {
            Some(d) if d <= grace => (at + d, 143),
            _ => (at + grace, 137),
        });
        match (natural, stopped) {
            (Some(n), Some(s)) => Some(if n.0 <= s.0 { n } else { s }),
            (n, s) => n.or(s),
        }
    }

    fn state(&self, now: Instant) -> ContainerState {
        match (self.started, self.exit()) {
            (None, _) => ContainerState::Created,
            (Some(_), Some((at, _))) if at <= now => ContainerState::Exited,
            _ => ContainerState::Running,
        }
    }
}

#[derive(Default)]
struct State {
    containers: HashMap<String, FakeContainer>,
    next_id: u64,
    next_ip: u32,
    images: HashSet<String>,
    pullable: HashSet<String>,
    /// Per "pod/container": the programs of its next starts; the last one repeats.
    scripts: HashMap<String, VecDeque<Program>>,
    probes: HashMap<String, ProbeOutcome>,
    probe_log: Vec<(String, Instant)>,
    ops: Vec<Op>,
    unreachable: bool,
    /// The exit code of each exec (test runtimes only).
    exec_codes: HashMap<String, i64>,
    /// The memory volumes made, by name.
    volumes: HashMap<String, MemoryVolume>,
    /// Per `<sandbox id>:<dir>`, the last version written into a memory volume.
    volume_files: HashMap<String, (String, crate::atomic::Payload)>,
    /// Per `namespace/name`, pods whose behaviour differs from the node's default.
    hollow_pods: HashMap<String, Hollow>,
}

pub struct FakeRuntime {
    state: Mutex<State>,
    clock: Clock,
    /// The first two or three octets of pod IPs (so hollow nodes can differ).
    ip_prefix: String,
    /// Set for hollow nodes: their pods' default behaviour, and no operation log.
    hollow: Option<Hollow>,
}

impl Default for FakeRuntime {
    fn default() -> Self {
        Self::new()
    }
}

impl FakeRuntime {
    /// A runtime on tokio time where every image is present.
    pub fn new() -> Self {
        Self::with_ip_prefix("10.88")
    }

    /// Pods get IPs under `prefix`: two octets give each runtime 64k addresses,
    /// three give it a /24 (253 addresses, reused round-robin).
    pub fn with_ip_prefix(prefix: &str) -> Self {
        Self { state: Mutex::new(State::default()), clock: Clock::tokio(), ip_prefix: prefix.to_string(), hollow: None }
    }

    /// A hollow node's runtime: pods behave as `defaults` says unless their
    /// annotations (see [`FakeRuntime::admit`]) say otherwise.
    pub fn hollow(ip_prefix: &str, defaults: Hollow) -> Self {
        Self { hollow: Some(defaults), ..Self::with_ip_prefix(ip_prefix) }
    }

    /// Learns how `pod` should behave from its annotations, before its worker
    /// makes its containers. Only hollow runtimes care.
    pub fn admit(&self, pod: &Pod) {
        let Some(defaults) = &self.hollow else { return };
        let behaviour = defaults.for_pod(pod);
        let key = pod_key(pod.namespace(), pod.name());
        let mut s = self.lock();
        // Most pods behave as the default: remember only the others.
        if behaviour == *defaults {
            s.hollow_pods.remove(&key);
        } else {
            s.hollow_pods.insert(key, behaviour);
        }
    }

    /// Forgets what `admit` learnt about a deleted pod.
    pub fn forget(&self, pod: &Pod) {
        if self.hollow.is_some() {
            self.lock().hollow_pods.remove(&pod_key(pod.namespace(), pod.name()));
        }
    }

    /// How a pod behaves on a hollow runtime (None for a test runtime).
    fn behaviour(&self, s: &State, namespace: &str, name: &str) -> Option<Hollow> {
        let defaults = self.hollow.as_ref()?;
        Some(s.hollow_pods.get(&pod_key(namespace, name)).unwrap_or(defaults).clone())
    }

    /// How many pods have their own behaviour (for tests of the bookkeeping).
    pub fn hollow_pod_count(&self) -> usize {
        self.lock().hollow_pods.len()
    }

    /// The clock the fake's timestamps come from; give the same to the kubelet.
    pub fn clock(&self) -> Clock {
        self.clock
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().expect("fake runtime lock")
    }

    /// Makes images absent unless added with `add_image` (by default all are present).
    pub fn add_image(&self, image: &str) {
        self.lock().images.insert(image.to_string());
    }
    /// Lets `image` be pulled from a (pretend) registry.
    pub fn make_pullable(&self, image: &str) {
        self.lock().pullable.insert(image.to_string());
    }
    /// The programs of the next starts of `container` in `pod`; the last repeats.
    pub fn script(&self, pod: &str, container: &str, programs: Vec<Program>) {
        self.lock().scripts.insert(format!("{pod}/{container}"), programs.into());
    }
    /// What probes of `kind` (`liveness`, `readiness`, `startup`) of the container return from now on.
    pub fn set_probe(&self, pod: &str, container: &str, kind: &str, outcome: ProbeOutcome) {
        self.lock().probes.insert(format!("{pod}/{container}/{kind}"), outcome);
    }
    /// When probes of `kind` of the container ran.
    pub fn probe_times(&self, pod: &str, container: &str, kind: &str) -> Vec<Instant> {
        let key = format!("{pod}/{container}/{kind}");
        self.lock().probe_log.iter().filter(|(k, _)| *k == key).map(|(_, t)| *t).collect()
    }
    /// Makes every call fail as if the runtime were down.
    pub fn set_unreachable(&self, down: bool) {
        self.lock().unreachable = down;
    }
    /// Every operation so far.
    pub fn ops(&self) -> Vec<Op> {
        self.lock().ops.clone()
    }
    /// The operations of one kind (`create`, `start`, `stop`, `remove`, `sandbox`) on one pod's containers.
    pub fn ops_of(&self, what: &str, pod: &str) -> Vec<Op> {
        self.lock().ops.iter().filter(|o| o.what == what && o.pod == pod).cloned().collect()
    }
    /// Kills a container at once (SIGKILL), as if it died.
    pub fn kill(&self, id: &str) {
        if let Some(c) = self.lock().containers.get_mut(id) {
            c.stop = Some((Instant::now(), Duration::ZERO));
            c.program.term_delay = None;
        }
    }
    /// Containers that exist now, as (pod, container, state).
    pub fn containers(&self) -> Vec<(String, String, ContainerState)> {
        let now = Instant::now();
        let s = self.lock();
        let mut all: Vec<_> = s
            .containers
            .values()
            .map(|c| (c.meta.pod_name.clone(), c.meta.container_name.clone(), c.state(now)))
            .collect();
        all.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
        all
    }
    /// The id of the newest instance of `container` in `pod`.
    pub fn container_id(&self, pod: &str, container: &str) -> Option<String> {
        let s = self.lock();
        s.containers
            .values()
            .filter(|c| c.meta.pod_name == pod && c.meta.container_name == container)
            .max_by_key(|c| (c.meta.restart_count, c.created))
            .map(|c| c.id.clone())
    }

    /// The environment the newest instance of `container` in `pod` was created with.
    pub fn env(&self, pod: &str, container: &str) -> Option<Vec<(String, String)>> {
        let id = self.container_id(pod, container)?;
        self.lock().containers.get(&id).map(|c| c.env.clone())
    }

    /// The mounts the newest instance of `container` in `pod` was created with.
    pub fn mounts(&self, pod: &str, container: &str) -> Option<Vec<Mount>> {
        let id = self.container_id(pod, container)?;
        self.lock().containers.get(&id).map(|c| c.mounts.clone())
    }

    /// The files last written into the memory volume at `dir` of a sandbox of
    /// `pod` (any instance), with the version directory's name.
    pub fn memory_volume_files(&self, pod: &str, dir: &str) -> Option<(String, crate::atomic::Payload)> {
        let s = self.lock();
        let sandboxes = s.containers.values().filter(|c| c.meta.pod_name == pod && c.meta.is_sandbox());
        let mut found: Vec<_> = sandboxes.filter_map(|c| s.volume_files.get(&format!("{}:{dir}", c.id))).collect();
        found.sort_by(|a, b| a.0.cmp(&b.0));
        found.pop().cloned()
    }

    /// The memory volumes that exist now, sorted by name.
    pub fn memory_volumes(&self) -> Vec<MemoryVolume> {
        let mut volumes: Vec<MemoryVolume> = self.lock().volumes.values().cloned().collect();
        volumes.sort_by(|a, b| a.name.cmp(&b.name));
        volumes
    }

    fn check(&self) -> Result<std::sync::MutexGuard<'_, State>> {
        let s = self.lock();
        if s.unreachable {
            return Err(RuntimeError::Unavailable("Cannot connect to the fake container runtime".into()));
        }
        Ok(s)
    }

    fn log(&self, s: &mut State, what: &'static str, meta: &ContainerMeta, grace: Option<Duration>) {
        if self.hollow.is_some() {
            return;
        }
        s.ops.push(Op {
            what,
            container: meta.container_name.clone(),
            pod: meta.pod_name.clone(),
            grace,
            at: Instant::now(),
        });
    }

    fn add(&self, s: &mut State, meta: &ContainerMeta, image: &str, program: Program) -> String {
        s.next_id += 1;
        let id = format!("{:012x}", s.next_id);
        let container = FakeContainer {
            id: id.clone(),
            meta: Arc::new(meta.clone()),
            image: image.to_string(),
            created: Instant::now(),
            started: None,
            program,
            stop: None,
            ip: None,
            env: Vec::new(),
            mounts: Vec::new(),
        };
        s.containers.insert(id.clone(), container);
        id
    }

    fn info(&self, c: &FakeContainer, now: Instant) -> ContainerInfo {
        let state = c.state(now);
        let exit = c.exit().filter(|_| state == ContainerState::Exited);
        ContainerInfo {
            id: c.id.clone(),
            meta: (*c.meta).clone(),
            state,
            image: c.image.clone(),
            image_id: format!("docker://sha256:{:x}", fnv(&c.image)),
            created_at: self.clock.at(c.created),
            started_at: c.started.map(|t| self.clock.at(t)),
            finished_at: exit.map(|(t, _)| self.clock.at(t)),
            exit_code: exit.map(|(_, code)| code).unwrap_or(0),
            oom_killed: false,
            error: String::new(),
            ip: c.ip.clone().filter(|_| state == ContainerState::Running),
        }
    }
}

fn pod_key(namespace: &str, name: &str) -> String {
    format!("{namespace}/{name}")
}

/// A stable fake image digest.
fn fnv(s: &str) -> u64 {
    s.bytes().fold(0xcbf29ce484222325, |h, b| (h ^ u64::from(b)).wrapping_mul(0x100000001b3))
}

#[async_trait::async_trait]
impl Runtime for FakeRuntime {
    fn name(&self) -> &'static str {
        "docker"
    }

    async fn version(&self) -> Result<String> {
        let _reachable = self.check()?;
        Ok("fake://0.1.0".into())
    }

    async fn inspect_image(&self, image: &str) -> Result<Option<ImageInfo>> {
        let s = self.check()?;
        // With no image registered, every image counts as present (hollow nodes need none).
        let present = s.images.is_empty() || s.images.contains(image);
        Ok(present.then(|| ImageInfo { id: format!("sha256:{:x}", fnv(image)), size: 1 << 20, repo_digests: vec![] }))
    }

    async fn pull_image(&self, image: &str) -> Result<()> {
        let mut s = self.check()?;
        if s.pullable.contains(image) {
            s.images.insert(image.to_string());
            return Ok(());
        }
        Err(RuntimeError::Failed(format!(
            "Error response from daemon: Get \"https://registry-1.docker.io/v2/\": dial tcp: lookup registry-1.docker.io: no such host (pulling {image})"
        )))
    }

    async fn run_sandbox(&self, config: &SandboxConfig) -> Result<String> {
        let delay = {
            let s = self.check()?;
            self.behaviour(&s, &config.meta.pod_namespace, &config.meta.pod_name).map(|b| b.start_delay)
        };
        // A hollow pod's start takes as long as pulling and starting would; the
        // worker waits here as it would on Docker.
        if let Some(delay) = delay.filter(|d| !d.is_zero()) {
            tokio::time::sleep(delay).await;
        }
        let mut s = self.check()?;
        let id = self.add(&mut s, &config.meta, &config.image, Program::forever());
        s.next_ip += 1;
        let n = s.next_ip;
        let ip = if self.ip_prefix.split('.').count() >= 3 {
            format!("{}.{}", self.ip_prefix, (n - 1) % 253 + 2)
        } else {
            format!("{}.{}.{}", self.ip_prefix, n / 250, n % 250 + 2)
        };
        let c = s.containers.get_mut(&id).expect("just added");
        c.started = Some(Instant::now());
        c.ip = Some(ip);
        if self.hollow.is_none() {
            c.mounts = config.mounts.clone();
        }
        self.log(&mut s, "sandbox", &config.meta, None);
        Ok(id)
    }

    async fn create_container(&self, config: &ContainerConfig) -> Result<String> {
        let mut s = self.check()?;
        let key = format!("{}/{}", config.meta.pod_name, config.meta.container_name);
        let program = match s.scripts.get_mut(&key) {
            Some(q) if q.len() > 1 => q.pop_front().expect("non-empty"),
            Some(q) => q.front().cloned().unwrap_or_else(Program::forever),
            None => match self.behaviour(&s, &config.meta.pod_namespace, &config.meta.pod_name) {
                Some(Hollow { exit_after: Some(after), exit_code, .. }) => Program::exits(after, exit_code),
                _ => Program::forever(),
            },
        };
        let id = self.add(&mut s, &config.meta, &config.image, program);
        if self.hollow.is_none() {
            let c = s.containers.get_mut(&id).expect("just added");
            c.env = config.env.clone();
            c.mounts = config.mounts.clone();
        }
        self.log(&mut s, "create", &config.meta, None);
        Ok(id)
    }

    async fn start_container(&self, id: &str) -> Result<()> {
        let mut s = self.check()?;
        let c = s.containers.get_mut(id).ok_or_else(|| RuntimeError::NotFound(format!("No such container: {id}")))?;
        c.started = Some(Instant::now());
        let meta = c.meta.clone();
        self.log(&mut s, "start", &meta, None);
        Ok(())
    }

    async fn stop_container(&self, id: &str, grace: Duration) -> Result<()> {
        let exit_at = {
            let mut s = self.check()?;
            let now = Instant::now();
            let c =
                s.containers.get_mut(id).ok_or_else(|| RuntimeError::NotFound(format!("No such container: {id}")))?;
            if c.state(now) != ContainerState::Running {
                return Ok(());
            }
            c.stop = Some((now, grace));
            let exit_at = c.exit().map(|(t, _)| t).unwrap_or(now);
            let meta = c.meta.clone();
            self.log(&mut s, "stop", &meta, Some(grace));
            exit_at
        };
        // Like `docker stop`, return once the container is gone.
        tokio::time::sleep_until(exit_at).await;
        Ok(())
    }

    async fn remove_container(&self, id: &str) -> Result<()> {
        let mut s = self.check()?;
        let c = s.containers.remove(id).ok_or_else(|| RuntimeError::NotFound(format!("No such container: {id}")))?;
        self.log(&mut s, "remove", &c.meta, None);
        Ok(())
    }

    async fn create_memory_volume(&self, volume: &MemoryVolume) -> Result<()> {
        let mut s = self.check()?;
        s.volumes.entry(volume.name.clone()).or_insert_with(|| volume.clone());
        Ok(())
    }

    async fn remove_pod_volumes(&self, node: &str, pod_uid: &str) -> Result<()> {
        let mut s = self.check()?;
        s.volumes.retain(|_, v| !(v.node == node && v.pod_uid == pod_uid));
        Ok(())
    }

    async fn write_memory_volume(
        &self,
        sandbox_id: &str,
        dir: &str,
        payload: &crate::atomic::Payload,
        version: &str,
    ) -> Result<()> {
        let mut s = self.check()?;
        if !s.containers.contains_key(sandbox_id) {
            return Err(RuntimeError::NotFound(format!("no such container: {sandbox_id}")));
        }
        s.volume_files.insert(format!("{sandbox_id}:{dir}"), (version.to_string(), payload.clone()));
        Ok(())
    }

    async fn list_containers(&self, node: &str) -> Result<Vec<ContainerSummary>> {
        let s = self.check()?;
        let now = Instant::now();
        Ok(s.containers
            .values()
            .filter(|c| c.meta.node == node)
            .map(|c| ContainerSummary { id: c.id.clone(), meta: c.meta.clone(), state: c.state(now) })
            .collect())
    }

    async fn pod_containers(&self, node: &str, pod_uid: &str) -> Result<Vec<ContainerInfo>> {
        let s = self.check()?;
        let now = Instant::now();
        Ok(s.containers
            .values()
            .filter(|c| c.meta.node == node && c.meta.pod_uid == pod_uid)
            .map(|c| self.info(c, now))
            .collect())
    }

    async fn logs(&self, id: &str, options: &LogOptions) -> Result<ByteStream> {
        let s = self.check()?;
        let c = s.containers.get(id).ok_or_else(|| RuntimeError::NotFound(format!("No such container: {id}")))?;
        let mut lines: Vec<&str> = c.program.output.lines().collect();
        if let Some(n) = options.tail {
            lines = lines.split_off(lines.len().saturating_sub(n.max(0) as usize));
        }
        let chunks: Vec<Result<Vec<u8>>> = lines.into_iter().map(|l| Ok(format!("{l}\n").into_bytes())).collect();
        Ok(Box::pin(futures::stream::iter(chunks)))
    }

    async fn exec(&self, id: &str, command: &[String], _tty: bool, _stdin: bool) -> Result<ExecSession> {
        let mut s = self.check()?;
        if !s.containers.get(id).is_some_and(|c| c.state(Instant::now()) == ContainerState::Running) {
            return Err(RuntimeError::Failed(format!("container {id} is not running")));
        }
        // `echo`, `true` and `false` do what they do anywhere; any other
        // command "runs" by printing its command line, and succeeds.
        let (output, code) = match command.split_first() {
            Some((program, args)) if program == "echo" => (format!("{}\n", args.join(" ")), 0),
            Some((program, _)) if program == "true" => (String::new(), 0),
            Some((program, _)) if program == "false" => (String::new(), 1),
            _ => (format!("{}\n", command.join(" ")), 0),
        };
        s.next_id += 1;
        let exec_id = format!("exec-{:012x}", s.next_id);
        // Hollow nodes keep no record: their execs all succeed.
        if self.hollow.is_none() {
            s.exec_codes.insert(exec_id.clone(), code);
        }
        let chunks: Vec<Result<ExecChunk>> =
            if output.is_empty() { vec![] } else { vec![Ok(ExecChunk::Stdout(output.into_bytes()))] };
        Ok(ExecSession { id: exec_id, output: Box::pin(futures::stream::iter(chunks)), stdin: None })
    }

    async fn resize_exec(&self, _exec_id: &str, _cols: u16, _rows: u16) -> Result<()> {
        Ok(())
    }

    async fn exec_exit_code(&self, exec_id: &str) -> Result<i64> {
        Ok(self.lock().exec_codes.get(exec_id).copied().unwrap_or(0))
    }

    async fn probe(&self, target: &ProbeTarget, _action: &ProbeAction, _timeout: Duration) -> ProbeOutcome {
        let key = format!("{}/{}/{}", target.pod_name, target.container_name, target.kind);
        let mut s = self.lock();
        if let Some(b) = self.behaviour(&s, &target.pod_namespace, &target.pod_name) {
            return if b.probe_fail {
                ProbeOutcome::Failure(format!("{} probe failed: the hollow node was told to fail it", target.kind))
            } else {
                ProbeOutcome::Success
            };
        }
        s.probe_log.push((key.clone(), Instant::now()));
        s.probes.get(&key).cloned().unwrap_or(ProbeOutcome::Success)
    }

    async fn connect(&self, pod_ip: &str, port: u16) -> Result<Box<dyn Connection>> {
        Err(RuntimeError::Failed(format!("the fake runtime has no network: cannot reach {pod_ip}:{port}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::conformance::{self, Script, Subject};

    /// The fake with the test images registered (so others are absent).
    struct Fake(Arc<FakeRuntime>);

    impl Subject for Fake {
        fn runtime(&self) -> Arc<dyn Runtime> {
            self.0.clone()
        }
        fn node(&self) -> String {
            "fake-node".into()
        }
        fn pause_image(&self) -> String {
            "kubelab/pause:latest".into()
        }
        fn image(&self) -> String {
            "busybox:1.36".into()
        }
        fn missing_image(&self) -> String {
            "kubelab-test/no-such-image:never".into()
        }
        fn program(&self, config: &mut ContainerConfig, script: &Script) {
            let program = Program {
                exit_after: script.exit.map(|(after, _)| after),
                exit_code: script.exit.map(|(_, code)| code).unwrap_or(0),
                term_delay: script.exits_on_sigterm.then_some(Duration::ZERO),
                output: script.output.iter().map(|l| format!("{l}\n")).collect(),
            };
            self.0.script(&config.meta.pod_name, &config.meta.container_name, vec![program]);
        }
    }

    #[tokio::test(start_paused = true)]
    async fn the_fake_passes_the_runtime_conformance_suite() {
        let fake = Arc::new(FakeRuntime::new());
        let subject = Fake(fake.clone());
        fake.add_image(&subject.pause_image());
        fake.add_image(&subject.image());
        conformance::run_all(&subject).await;
        assert!(fake.containers().is_empty(), "every case removes what it made: {:?}", fake.containers());
    }
}
