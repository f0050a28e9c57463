//! One task per pod: it waits for a new spec (latest wins), a wake-up from the
//! relist loop or a probe, or a timer (backoff expiry, resync), then syncs the
//! pod: compares what the spec wants with what the runtime shows, acts
//! (sandbox, starts, restarts, kills), and writes the status when it changed.
//!
//! A sync is level-triggered: it never depends on the event that woke it, so
//! a kubelet that restarts and finds containers running simply leaves them.

use super::backoff::Backoff;
use super::container::{container_config, invalid_env_from_names, EnvContext, EnvSources};
use super::hooks::{self, Hook, HookTarget};
use super::images::{ensure_image, pull_policy, ImageCtx};
use super::service_env::{enable_service_links, NOT_SYNCED, SYNC_WAIT};
use super::status::{pod_status, ContainerView, StatusInput};
use super::termination;
use super::volumes::{self, PodVolumes};
use super::Shared;
use crate::api::EventType;
use crate::probe::{ProbeBoard, ProbeKind, ProbeSpec, ProbeTask};
use crate::runtime::{ContainerInfo, ContainerMeta, ContainerState, RuntimeError, SandboxConfig};
use api::duration::format as go_duration;
use client::events::reference_to as reference;
use client::Object;
use jiff::Timestamp;
use k8s_openapi::api::core::v1::{Container, Pod, PodStatus};
use serde_json::Value;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{watch, Notify};

/// What the pod source says about a pod.
#[derive(Debug, Clone)]
pub struct Desired {
    pub pod: Arc<Pod>,
    /// Deleted from the API, or no longer bound to this node.
    pub removed: bool,
}

/// Why a pod's sandbox could not be made: the `FailedCreatePodSandBox` event's message.
#[derive(Debug, thiserror::Error)]
enum SandboxError {
    #[error("Failed to create pod sandbox: pulling the pod infra image {image:?} failed: {source}")]
    Pull { image: String, source: RuntimeError },
    #[error("Failed to create pod sandbox: {0}")]
    Create(RuntimeError),
    /// The sandbox runs, but its IP could not be read.
    #[error("{0}")]
    Inspect(RuntimeError),
}

/// Kubernetes never kills with less than this, even for a 0s grace period.
const MIN_GRACE: Duration = Duration::from_secs(2);

/// The longest a postStart hook may run. Kubernetes sets none; a hook stuck
/// for good would hold the pod's worker (and its deletion) with it.
const POST_START_LIMIT: Duration = Duration::from_secs(120);

/// Per-container memory of a worker.
#[derive(Default)]
struct Track {
    crash: Backoff,
    image: Backoff,
    /// Why the container does not run now (reason, message), when the worker decided so.
    waiting: Option<(String, String)>,
}

pub(crate) struct Worker {
    shared: Arc<Shared>,
    uid: String,
    desired: watch::Receiver<Desired>,
    wake: Arc<Notify>,
    pod: Arc<Pod>,
    removed: bool,
    tracks: HashMap<String, Track>,
    board: ProbeBoard,
    probes: Vec<tokio::task::JoinHandle<()>>,
    first_sync: bool,
    /// A new spec arrived during the sync and cut it short: sync again at once.
    interrupted: bool,
    /// The last status written (or found already in the API).
    written: Option<PodStatus>,
    /// The last status computed, for the node agent (logs need container IDs).
    published: Arc<Mutex<Option<Arc<PodStatus>>>>,
    /// The pod's volumes, once set up.
    volumes: Option<PodVolumes>,
    /// Why the kubelet ended the pod (reason and message), once it has.
    ended: Option<(&'static str, String)>,
    /// The termination messages of the exited instances observed, by runtime id.
    messages: HashMap<String, String>,
}

/// The running sandbox app containers join.
#[derive(Clone, Copy)]
struct SandboxRef<'a> {
    id: &'a str,
    ip: &'a str,
}

/// Where the init containers stand.
enum Init {
    /// All succeeded: the app containers may run.
    Done,
    /// One runs, or failed for good: nothing to do now.
    Waiting,
    /// One was started (or held back by a backoff or an error).
    Acted,
}

/// What a sync asks for next.
enum Next {
    /// Sync again after this long at the latest (a backoff ending), or at the resync period.
    Continue(Option<Duration>),
    /// The pod is gone and cleaned up.
    Done,
}

impl Worker {
    pub(crate) fn new(
        shared: Arc<Shared>,
        desired: watch::Receiver<Desired>,
        wake: Arc<Notify>,
        published: Arc<Mutex<Option<Arc<PodStatus>>>>,
    ) -> Self {
        let first = desired.borrow().clone();
        Self {
            uid: first.pod.uid().to_string(),
            board: ProbeBoard::new(wake.clone()),
            shared,
            desired,
            wake,
            pod: first.pod,
            removed: first.removed,
            tracks: HashMap::new(),
            probes: Vec::new(),
            first_sync: true,
            interrupted: false,
            written: None,
            published,
            volumes: None,
            ended: None,
            messages: HashMap::new(),
        }
    }

    /// Runs until the pod is gone, or until the kubelet drops the pod's sender
    /// (shutdown), which leaves the containers running.
    pub(crate) async fn run(mut self) {
        self.start_probes();
        loop {
            {
                let d = self.desired.borrow_and_update();
                self.pod = d.pod.clone();
                self.removed = d.removed;
            }
            let delay = match self.sync().await {
                Next::Done => break,
                Next::Continue(delay) => delay.unwrap_or(self.shared.settings.resync_period),
            };
            tokio::select! {
                changed = self.desired.changed() => if changed.is_err() { break },
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(delay.min(self.shared.settings.resync_period)) => {}
            }
        }
        for p in &self.probes {
            p.abort();
        }
        self.shared.worker_finished(&self.uid, &self.wake);
    }

    fn start_probes(&mut self) {
        let pod = self.pod.clone();
        for container in pod.spec.iter().flat_map(|s| &s.containers) {
            let name = container.name.clone();
            for kind in ProbeKind::ALL {
                let spec = match ProbeSpec::from_container(container, kind) {
                    None => continue,
                    Some(Ok(spec)) => spec,
                    Some(Err(e)) => {
                        tracing::warn!(pod = %self.full_name(), container = %name, error = %e, "invalid probe; ignoring it");
                        continue;
                    }
                };
                let task = ProbeTask {
                    kind,
                    spec,
                    pod: self.pod.clone(),
                    container_name: name.clone(),
                    board: self.board.clone(),
                    runtime: self.shared.runtime.clone(),
                    api: self.shared.api.clone(),
                    clock: self.shared.clock,
                };
                self.probes.push(tokio::spawn(task.run()));
            }
        }
    }

    /// `kubia_default(uid)`, as Kubernetes names pods in messages.
    fn full_name(&self) -> String {
        format!("{}_{}({})", self.pod.name(), self.pod.namespace(), self.uid)
    }

    fn event(&self, kind: EventType, reason: &str, message: &str) {
        self.shared.api.event(&reference(&*self.pod), kind, reason, message);
    }

    fn spec_containers(&self) -> Vec<Container> {
        self.pod.spec.as_ref().map(|s| s.containers.clone()).unwrap_or_default()
    }

    fn init_containers(&self) -> Vec<Container> {
        self.pod.spec.as_ref().and_then(|s| s.init_containers.clone()).unwrap_or_default()
    }

    fn restart_policy(&self) -> String {
        self.pod.spec.as_ref().and_then(|s| s.restart_policy.clone()).unwrap_or_else(|| "Always".into())
    }

    /// `spec.terminationGracePeriodSeconds` (Kubernetes' default: 30).
    fn termination_grace(&self) -> i64 {
        self.pod.spec.as_ref().and_then(|s| s.termination_grace_period_seconds).unwrap_or(30)
    }

    /// The grace period for stopping containers now.
    fn grace_period(&self) -> Duration {
        let secs = self.pod.metadata.deletion_grace_period_seconds.unwrap_or_else(|| self.termination_grace());
        Duration::from_secs(secs.max(0) as u64).max(MIN_GRACE)
    }

    async fn observe(&self) -> Option<Vec<ContainerInfo>> {
        match self.shared.runtime.pod_containers(&self.shared.settings.node_name, &self.uid).await {
            Ok(c) => Some(c),
            Err(e) => {
                tracing::warn!(pod = %self.full_name(), error = %e, "cannot read the pod's containers");
                None
            }
        }
    }

    async fn sync(&mut self) -> Next {
        let Some(observed) = self.observe().await else {
            return Next::Continue(Some(Duration::from_secs(1)));
        };
        if self.removed || api::pod::is_terminating(&self.pod.metadata) {
            return self.terminate(observed).await;
        }
        let already_done = api::pod::is_finished(&self.pod) || self.ended.is_some();
        let mut wake: Option<Duration> = None;
        let mut acted = false;
        if !already_done {
            acted = self.end_if_due(&observed, &mut wake).await;
        }
        if !already_done && !acted && !self.would_finish(&observed) {
            acted = self.run_pod(&observed, &mut wake).await;
        }
        if std::mem::take(&mut self.interrupted) {
            return Next::Continue(Some(Duration::ZERO));
        }
        let observed = if acted {
            match self.observe().await {
                Some(o) => o,
                None => return Next::Continue(Some(Duration::from_secs(1))),
            }
        } else {
            observed
        };
        self.read_messages(&observed).await;
        let status = self.status(&observed, false);
        let finished = matches!(status.phase.as_deref(), Some("Succeeded" | "Failed"));
        if finished {
            // A finished pod keeps its app containers (for logs) but not its sandbox.
            for sb in observed.iter().filter(|c| c.meta.is_sandbox() && c.state == ContainerState::Running) {
                if let Err(e) = self.shared.runtime.stop_container(&sb.id, MIN_GRACE).await {
                    tracing::warn!(pod = %self.full_name(), error = %e, "stopping the sandbox failed");
                }
            }
        }
        self.board.set_pod(status.pod_ip.as_deref().unwrap_or(""), finished, false);
        if !self.write_status(status).await {
            wake = min_wake(wake, Duration::from_secs(1));
        }
        self.collect_garbage(&observed).await;
        Next::Continue(wake)
    }

    /// Ends the pod when it has been active longer than its
    /// `activeDeadlineSeconds` (reason `DeadlineExceeded`, a Normal event, as
    /// Kubernetes' active deadline handler), or when a disk emptyDir holds
    /// more than its `sizeLimit` (reason `Evicted`, a Warning event, as the
    /// eviction manager). Returns whether it did; otherwise asks to be woken
    /// when the deadline passes, and for the next measurement.
    async fn end_if_due(&mut self, observed: &[ContainerInfo], wake: &mut Option<Duration>) -> bool {
        let deadline = self.pod.spec.as_ref().and_then(|s| s.active_deadline_seconds);
        let started = self.written.as_ref().or(self.pod.status.as_ref()).and_then(|s| s.start_time.as_ref());
        if let (Some(seconds), Some(started)) = (deadline, started) {
            let active = self.shared.clock.since(started.0);
            let allowed = Duration::from_secs(u64::try_from(seconds).unwrap_or(0));
            if active >= allowed {
                let message = "Pod was active on the node longer than the specified deadline".to_string();
                self.event(EventType::Normal, "DeadlineExceeded", &message);
                self.end(observed, "DeadlineExceeded", message).await;
                return true;
            }
            *wake = min_wake(*wake, allowed - active);
        }
        let Some(volumes) = self.volumes.as_ref().filter(|v| v.has_size_limits()) else { return false };
        let Some(message) = volumes.exceeded().await else {
            *wake = min_wake(*wake, volumes::SIZE_CHECK_PERIOD);
            return false;
        };
        self.event(EventType::Warning, "Evicted", &message);
        self.end(observed, "Evicted", message).await;
        true
    }

    /// Stops the pod's containers at once; it ends Failed with `reason`, never to restart.
    async fn end(&mut self, observed: &[ContainerInfo], reason: &'static str, message: String) {
        tracing::info!(pod = %self.full_name(), reason, %message, "ending the pod");
        let running = observed.iter().filter(|c| !c.meta.is_sandbox() && c.state == ContainerState::Running);
        let stops = running.map(|c| self.shared.runtime.stop_container(&c.id, MIN_GRACE));
        for result in futures::future::join_all(stops).await {
            if let Err(e) = result {
                tracing::warn!(pod = %self.full_name(), error = %e, "stopping a container failed");
            }
        }
        self.ended = Some((reason, message));
    }

    /// Whether the pod has run to its end under its restart policy (nothing is to be restarted).
    fn would_finish(&self, observed: &[ContainerInfo]) -> bool {
        let policy = self.restart_policy();
        if policy == "Always" {
            return false;
        }
        self.spec_containers().iter().all(|c| match instances(observed, &c.name).first() {
            Some(i) if i.state == ContainerState::Exited => policy == "Never" || i.exit_code == 0,
            _ => false,
        })
    }

    /// Makes the runtime match the spec. Returns whether anything was done.
    async fn run_pod(&mut self, observed: &[ContainerInfo], wake: &mut Option<Duration>) -> bool {
        let policy = self.restart_policy();
        let apps_ran = observed.iter().any(|c| !c.meta.is_sandbox());
        let mut acted = false;
        // As Kubernetes' volume manager: no sandbox before every volume is ready.
        let shared = self.shared.clone();
        if let Some(v) = self.volumes.as_mut() {
            // configMap, secret and downwardAPI files follow their sources on every sync.
            for e in v.refresh(&self.pod, &shared.settings, &*shared.api).await {
                tracing::info!(pod = %self.full_name(), error = %e, "a volume cannot be updated");
                self.event(EventType::Warning, "FailedMount", &e.to_string());
            }
        } else {
            match volumes::set_up(&self.pod, &self.uid, &shared.settings, &*shared.runtime, &*shared.api).await {
                Ok(v) => self.volumes = Some(v),
                Err(e) => {
                    tracing::info!(pod = %self.full_name(), error = %e, "a volume cannot be set up");
                    self.event(EventType::Warning, "FailedMount", &e.to_string());
                    *wake = min_wake(*wake, shared.settings.backoff.initial);
                    return false;
                }
            }
        }
        let sandbox = newest_running_sandbox(observed).map(|s| (s.id.clone(), s.ip.clone().unwrap_or_default()));
        let (sandbox_id, pod_ip) = match sandbox {
            Some(s) => s,
            None => {
                let running: Vec<&ContainerInfo> =
                    observed.iter().filter(|c| !c.meta.is_sandbox() && c.state == ContainerState::Running).collect();
                if !running.is_empty() || observed.iter().any(|c| c.meta.is_sandbox()) {
                    let states: Vec<String> =
                        observed.iter().map(|c| format!("{}:{:?}", c.meta.docker_name(), c.state)).collect();
                    tracing::info!(pod = %self.full_name(), containers = ?states, "the pod's sandbox is gone; recreating the pod");
                    self.event(
                        EventType::Normal,
                        "SandboxChanged",
                        "Pod sandbox changed, it will be killed and re-created.",
                    );
                }
                let ids: Vec<String> = running.iter().map(|c| c.id.clone()).collect();
                if !self.stop_unless_changed(&ids, self.grace_period()).await {
                    return true;
                }
                // A pod that must not restart gets no new sandbox once its containers have run.
                if policy == "Never" && apps_ran {
                    return !running.is_empty();
                }
                match self.create_sandbox(observed).await {
                    Ok(s) => s,
                    Err(e) => {
                        self.event(EventType::Warning, "FailedCreatePodSandBox", &e.to_string());
                        *wake = min_wake(*wake, self.shared.settings.backoff.initial);
                        return true;
                    }
                }
            }
        };
        // Memory volumes' files go in through the sandbox, before any container starts.
        if let Some(v) = self.volumes.as_mut() {
            if let Err(e) = v.write_pending(&sandbox_id, &*shared.runtime).await {
                tracing::info!(pod = %self.full_name(), error = %e, "a volume cannot be written");
                self.event(EventType::Warning, "FailedMount", &e.to_string());
                *wake = min_wake(*wake, shared.settings.backoff.initial);
                return true;
            }
        }
        let sandbox = SandboxRef { id: &sandbox_id, ip: &pod_ip };
        match self.sync_init_containers(observed, sandbox, &policy, wake).await {
            Init::Done => {}
            Init::Waiting => return acted,
            Init::Acted => return true,
        }
        for spec in self.spec_containers() {
            let sandbox = SandboxRef { id: &sandbox_id, ip: &pod_ip };
            acted |= self.sync_container(&spec, observed, sandbox, &policy, wake).await;
            if self.interrupted {
                break;
            }
        }
        acted
    }

    /// Runs the init containers one at a time, in order, each until it
    /// succeeds, before any app container (Kubernetes'
    /// `computeInitContainerActions`): a failed one is restarted (with
    /// CrashLoopBackOff) unless the policy is Never, which fails the pod.
    async fn sync_init_containers(
        &mut self,
        observed: &[ContainerInfo],
        sandbox: SandboxRef<'_>,
        policy: &str,
        wake: &mut Option<Duration>,
    ) -> Init {
        for spec in self.init_containers() {
            let name = spec.name.clone();
            let current = instances(observed, &name).first().copied();
            match current {
                Some(c) if c.state == ContainerState::Exited && c.exit_code == 0 => {
                    self.track(&name).waiting = None;
                    continue;
                }
                Some(c) if c.state == ContainerState::Running => return Init::Waiting,
                Some(c) if c.state == ContainerState::Exited && policy == "Never" => {
                    tracing::info!(pod = %self.full_name(), container = %name, code = c.exit_code, "init container failed");
                    return Init::Waiting;
                }
                _ => {}
            }
            let last_exit = current.filter(|c| c.state == ContainerState::Exited).and_then(|c| c.finished_at);
            let restart_count = current.map(|c| c.meta.restart_count + 1).unwrap_or(0);
            self.start_container(&spec, &name, restart_count, last_exit, sandbox, wake).await;
            return Init::Acted;
        }
        Init::Done
    }

    async fn create_sandbox(&mut self, observed: &[ContainerInfo]) -> Result<(String, String), SandboxError> {
        let settings = &self.shared.settings;
        let image = settings.pause_image.clone();
        let runtime = &self.shared.runtime;
        if matches!(runtime.inspect_image(&image).await, Ok(None)) {
            runtime.pull_image(&image).await.map_err(|source| SandboxError::Pull { image: image.clone(), source })?;
        }
        let attempt = observed.iter().filter(|c| c.meta.is_sandbox()).map(|c| c.meta.restart_count + 1).max();
        let hostname = self.pod.spec.as_ref().and_then(|s| s.hostname.as_deref()).unwrap_or(self.pod.name());
        let config = SandboxConfig {
            meta: self.meta(crate::runtime::SANDBOX_NAME, attempt.unwrap_or(0)),
            image,
            hostname: hostname.chars().take(63).collect(),
            pod: self.pod.clone(),
            mounts: self.volumes.as_ref().map(PodVolumes::sandbox_mounts).unwrap_or_default(),
        };
        let id = runtime.run_sandbox(&config).await.map_err(SandboxError::Create)?;
        let fresh = runtime.pod_containers(&settings.node_name, &self.uid).await.map_err(SandboxError::Inspect)?;
        let ip = fresh.iter().find(|c| c.id == id).and_then(|c| c.ip.clone()).unwrap_or_default();
        Ok((id, ip))
    }

    fn meta(&self, container: &str, restart_count: u32) -> ContainerMeta {
        ContainerMeta {
            pod_uid: self.uid.clone(),
            pod_name: self.pod.name().to_string(),
            pod_namespace: self.pod.namespace().to_string(),
            container_name: container.to_string(),
            restart_count,
            node: self.shared.settings.node_name.clone(),
            grace_period: Some(self.termination_grace()),
        }
    }

    /// Brings one container in line with the spec; true if it acted.
    async fn sync_container(
        &mut self,
        spec: &Container,
        observed: &[ContainerInfo],
        sandbox: SandboxRef<'_>,
        policy: &str,
        wake: &mut Option<Duration>,
    ) -> bool {
        let name = spec.name.clone();
        let all = instances(observed, &name);
        let current = all.first().copied();
        // The exit that CrashLoopBackOff counts from: the newest exited instance.
        let mut last_exit = all.iter().find(|c| c.state == ContainerState::Exited).and_then(|c| c.finished_at);
        match current {
            Some(c) if c.state == ContainerState::Running => {
                let image = spec.image.as_deref().unwrap_or("");
                let reason = if c.image != image {
                    format!("Container {name} definition changed")
                } else if self.board.result(&name, &c.id, ProbeKind::Liveness) == Some(false) {
                    format!("Container {name} failed liveness probe")
                } else if self.board.result(&name, &c.id, ProbeKind::Startup) == Some(false) {
                    format!("Container {name} failed startup probe")
                } else {
                    self.track(&name).waiting = None;
                    return false;
                };
                let restart = policy != "Never";
                let message = if restart { format!("{reason}, will be restarted") } else { reason };
                self.event(EventType::Normal, "Killing", &message);
                tracing::info!(pod = %self.full_name(), container = %name, "{message}");
                let grace = self.pre_stop(&[c], sandbox.ip, self.grace_period()).await;
                if !self.stop_unless_changed(std::slice::from_ref(&c.id), grace).await {
                    return true;
                }
                if !restart {
                    return true;
                }
                // As Kubernetes: the backoff looks at the instance that exited before this one.
                last_exit = all.iter().skip(1).find(|c| c.state == ContainerState::Exited).and_then(|c| c.finished_at);
            }
            Some(c) if c.state == ContainerState::Exited => {
                let restart = match policy {
                    "Never" => false,
                    "OnFailure" => c.exit_code != 0,
                    _ => true,
                };
                if !restart {
                    self.track(&name).waiting = None;
                    return false;
                }
            }
            _ => {}
        }
        let restart_count = current.map(|c| c.meta.restart_count + 1).unwrap_or(0);
        self.start_container(spec, &name, restart_count, last_exit, sandbox, wake).await;
        true
    }

    /// Runs the preStop hooks of running containers, together, inside
    /// `grace`; returns the grace left for stopping them (at least
    /// [`MIN_GRACE`], as Kubernetes gives).
    async fn pre_stop(&self, containers: &[&ContainerInfo], pod_ip: &str, grace: Duration) -> Duration {
        let specs = self.spec_containers();
        let targets: Vec<HookTarget> = containers
            .iter()
            .filter_map(|c| {
                let spec = specs.iter().find(|s| s.name == c.meta.container_name)?;
                Hook::PreStop.handler(spec)?;
                Some(HookTarget { pod: &self.pod, container: spec, container_id: &c.id, pod_ip })
            })
            .collect();
        if targets.is_empty() {
            return grace;
        }
        let started = tokio::time::Instant::now();
        let runtime = &*self.shared.runtime;
        let runs = targets.iter().map(|t| hooks::run(runtime, Hook::PreStop, t, grace));
        for result in futures::future::join_all(runs).await {
            if let Err(message) = result {
                self.event(EventType::Warning, "FailedPreStopHook", &message);
            }
        }
        grace.saturating_sub(started.elapsed()).max(MIN_GRACE)
    }

    /// Stops containers (together) with `grace`. A new spec arriving meanwhile
    /// (above all a deletion, whose grace may be shorter) stops the wait: the
    /// runtime goes on stopping them, and the sync starts over at once with the
    /// new spec. Returns whether the stops finished.
    async fn stop_unless_changed(&mut self, ids: &[String], grace: Duration) -> bool {
        let runtime = self.shared.runtime.clone();
        let stops = futures::future::join_all(ids.iter().map(|id| runtime.stop_container(id, grace)));
        tokio::select! {
            results = stops => {
                for e in results.into_iter().filter_map(Result::err) {
                    tracing::warn!(pod = %self.full_name(), error = %e, "stopping a container failed");
                }
                true
            }
            _ = self.desired.changed() => {
                self.interrupted = true;
                false
            }
        }
    }

    fn track(&mut self, name: &str) -> &mut Track {
        self.tracks.entry(name.to_string()).or_default()
    }

    /// Starts a new instance of a container, unless CrashLoopBackOff (counted
    /// from `last_exit`) or its image holds it back.
    async fn start_container(
        &mut self,
        spec: &Container,
        name: &str,
        restart_count: u32,
        last_exit: Option<Timestamp>,
        sandbox: SandboxRef<'_>,
        wake: &mut Option<Duration>,
    ) {
        let shared = self.shared.clone();
        let (clock, policy) = (shared.clock, shared.settings.backoff);
        let now = clock.now();
        if let Some(exit) = last_exit {
            let full_name = self.full_name();
            let track = self.tracks.entry(name.to_string()).or_default();
            if let Some(left) = track.crash.remaining_since(exit, now, policy) {
                let delay = go_duration(track.crash.delay());
                let message = format!("back-off {delay} restarting failed container={name} pod={full_name}");
                track.waiting = Some(("CrashLoopBackOff".into(), message));
                let event = format!("Back-off restarting failed container {name} in pod {full_name}");
                self.event(EventType::Warning, "BackOff", &event);
                *wake = min_wake(*wake, left);
                return;
            }
            track.crash.next(exit, now, policy);
        }
        let image = spec.image.clone().unwrap_or_default();
        let mut image_backoff = self.track(name).image;
        let ctx = ImageCtx { runtime: &*shared.runtime, api: &*shared.api, pod: &self.pod, clock, policy };
        let pulled = ensure_image(&ctx, &image, pull_policy(spec), &mut image_backoff).await;
        self.track(name).image = image_backoff;
        if let Err(e) = pulled {
            // Right after a failed pull, sync again soon so the status moves on to
            // ImagePullBackOff as in Kubernetes; then wait for the backoff to pass.
            let retry = match e.reason {
                "ErrImagePull" => Duration::from_secs(1),
                _ => image_backoff.remaining_since_update(clock.now(), policy).unwrap_or(policy.initial),
            };
            self.track(name).waiting = Some((e.reason.into(), e.message));
            *wake = min_wake(*wake, retry);
            return;
        }
        let services = match self.service_env().await {
            Ok(env) => env,
            Err(Some(message)) => {
                self.fail_start(name, "CreateContainerConfigError", message, wake);
                return;
            }
            Err(None) => return,
        };
        let sources = match self.env_sources(spec).await {
            Ok(s) => s,
            Err(message) => {
                self.fail_start(name, "CreateContainerConfigError", message, wake);
                return;
            }
        };
        let env_ctx = EnvContext {
            pod: &self.pod,
            pod_ip: sandbox.ip,
            host_ip: &shared.settings.node_ip,
            node_cpu_millis: shared.settings.node_cpu_millis,
            node_memory_bytes: shared.settings.node_memory_bytes,
            services: &services,
            sources: &sources,
        };
        let meta = self.meta(name, restart_count);
        let built = container_config(spec, meta, sandbox.id, &env_ctx);
        let skipped = invalid_env_from_names(spec, &env_ctx);
        let mut config = match built {
            Ok(c) => c,
            Err(e) => {
                self.fail_start(name, "CreateContainerConfigError", e.to_string(), wake);
                return;
            }
        };
        for message in skipped {
            self.event(EventType::Warning, "InvalidEnvironmentVariableNames", &message);
        }
        match self.volumes.as_ref().map(|v| v.mounts(spec)).unwrap_or(Ok(Vec::new())) {
            Ok(mounts) => config.mounts = mounts,
            Err(e) => {
                self.fail_start(name, "CreateContainerConfigError", e.to_string(), wake);
                return;
            }
        }
        match termination::prepare(&shared.settings, &self.uid, spec, restart_count) {
            Ok(mount) => config.mounts.extend(mount),
            Err(e) => {
                let message = format!("making the termination message file: {e}");
                self.fail_start(name, "CreateContainerError", message, wake);
                return;
            }
        }
        let id = match shared.runtime.create_container(&config).await {
            Ok(id) => id,
            Err(e) => {
                self.fail_start(name, "CreateContainerError", e.to_string(), wake);
                return;
            }
        };
        self.event(EventType::Normal, "Created", &format!("Created container: {name}"));
        if let Err(e) = shared.runtime.start_container(&id).await {
            self.fail_start(name, "RunContainerError", format!("failed to start container {id:?}: {e}"), wake);
            return;
        }
        self.event(EventType::Normal, "Started", &format!("Started container {name}"));
        tracing::info!(pod = %self.full_name(), container = %name, restart_count, "started a container");
        self.track(name).waiting = None;
        let target = HookTarget { pod: &self.pod, container: spec, container_id: &id, pod_ip: sandbox.ip };
        if let Err(message) = hooks::run(&*shared.runtime, Hook::PostStart, &target, POST_START_LIMIT).await {
            self.event(EventType::Warning, "FailedPostStartHook", &message);
            self.event(EventType::Normal, "Killing", "FailedPostStartHook");
            if let Err(e) = shared.runtime.stop_container(&id, self.grace_period()).await {
                tracing::warn!(pod = %self.full_name(), container = %name, error = %e, "stopping a container failed");
            }
            self.track(name).waiting = Some(("PostStartHookError".into(), message));
        }
    }

    /// The service variables of the pod's containers, as the Services are now
    /// (later ones are not seen, as in Kubernetes). Before the first list of
    /// Services it waits up to [`SYNC_WAIT`], then fails with Kubernetes'
    /// message (the container is retried after the backoff); a new spec cuts
    /// the wait short (`Err(None)`).
    async fn service_env(&mut self) -> Result<Vec<(String, String)>, Option<String>> {
        let Some(services) = self.shared.services.clone() else { return Ok(Vec::new()) };
        if !services.is_synced() {
            tokio::select! {
                listed = tokio::time::timeout(SYNC_WAIT, services.wait_synced()) => {
                    if listed.is_err() {
                        return Err(Some(NOT_SYNCED.into()));
                    }
                }
                _ = self.desired.changed() => {
                    self.interrupted = true;
                    return Err(None);
                }
            }
        }
        Ok(services.env(self.pod.namespace(), enable_service_links(&self.pod)))
    }

    /// The ConfigMaps and Secrets `spec`'s environment refers to, read now
    /// (None for the missing ones); an error is the API failing otherwise.
    async fn env_sources(&self, spec: &Container) -> Result<EnvSources, String> {
        let (config_maps, secrets) = EnvSources::references(spec);
        let mut sources = EnvSources::default();
        let (api, ns) = (&self.shared.api, self.pod.namespace());
        for name in config_maps {
            let cm = api.config_map(ns, &name).await.map_err(|e| format!("failed to get configmap {name:?}: {e}"))?;
            sources.config_maps.insert(name, cm);
        }
        for name in secrets {
            let secret = api.secret(ns, &name).await.map_err(|e| format!("failed to get secret {name:?}: {e}"))?;
            sources.secrets.insert(name, secret);
        }
        Ok(sources)
    }

    fn fail_start(&mut self, name: &str, reason: &str, message: String, wake: &mut Option<Duration>) {
        self.event(EventType::Warning, "Failed", &format!("Error: {message}"));
        self.track(name).waiting = Some((reason.into(), message));
        *wake = min_wake(*wake, self.shared.settings.backoff.initial);
    }

    /// Stops everything with the grace period, writes the final status, removes
    /// the containers and finishes the deletion in the API.
    async fn terminate(&mut self, observed: Vec<ContainerInfo>) -> Next {
        let grace = self.grace_period();
        self.board.set_pod("", false, true);
        let apps: Vec<&ContainerInfo> =
            observed.iter().filter(|c| !c.meta.is_sandbox() && c.state == ContainerState::Running).collect();
        for c in &apps {
            self.event(EventType::Normal, "Killing", &format!("Stopping container {}", c.meta.container_name));
        }
        let pod_ip = newest_running_sandbox(&observed).and_then(|s| s.ip.clone()).unwrap_or_default();
        let grace = self.pre_stop(&apps, &pod_ip, grace).await;
        // App containers stop together, then the sandbox, as Kubernetes' KillPod.
        let stops = apps.iter().map(|c| self.shared.runtime.stop_container(&c.id, grace));
        for (c, result) in apps.iter().zip(futures::future::join_all(stops).await) {
            if let Err(e) = result {
                tracing::warn!(pod = %self.full_name(), container = %c.meta.container_name, error = %e, "stop failed");
            }
        }
        for sb in observed.iter().filter(|c| c.meta.is_sandbox() && c.state == ContainerState::Running) {
            if let Err(e) = self.shared.runtime.stop_container(&sb.id, MIN_GRACE).await {
                tracing::warn!(pod = %self.full_name(), error = %e, "stopping the sandbox failed");
            }
        }
        let Some(observed) = self.observe().await else {
            return Next::Continue(Some(Duration::from_secs(1)));
        };
        // The final status names the stopped containers; a retry finds none left to name.
        if !self.removed && !observed.is_empty() {
            self.read_messages(&observed).await;
            let status = self.status(&observed, true);
            self.write_status(status).await;
        }
        // Containers go before the pod object, so that a pod gone from the API
        // has nothing left on the node.
        for c in &observed {
            if let Err(e) = self.shared.runtime.remove_container(&c.id).await {
                if !e.is_not_found() {
                    tracing::warn!(pod = %self.full_name(), error = %e, "removing a container failed");
                }
            }
        }
        if let Err(e) = volumes::tear_down(&self.uid, &self.shared.settings, &*self.shared.runtime).await {
            tracing::warn!(pod = %self.full_name(), error = %e, "removing the pod's volumes failed");
        }
        if !self.removed {
            if let Err(e) = self.shared.api.delete_pod(&self.pod).await {
                tracing::warn!(pod = %self.full_name(), error = %e, "finishing the pod's deletion failed; retrying");
                return Next::Continue(Some(Duration::from_secs(1)));
            }
        }
        Next::Done
    }

    /// Reads the termination message of each exited container (init or app)
    /// not read yet (an instance's message never changes once it exited),
    /// and forgets those of instances gone.
    async fn read_messages(&mut self, observed: &[ContainerInfo]) {
        self.messages.retain(|id, _| observed.iter().any(|c| &c.id == id));
        let specs: Vec<Container> = self.init_containers().into_iter().chain(self.spec_containers()).collect();
        for c in observed.iter().filter(|c| c.state == ContainerState::Exited && !c.meta.is_sandbox()) {
            if self.messages.contains_key(&c.id) {
                continue;
            }
            let Some(spec) = specs.iter().find(|s| s.name == c.meta.container_name) else { continue };
            let message = termination::message(&self.shared.settings, spec, c, &*self.shared.runtime).await;
            self.messages.insert(c.id.clone(), message);
        }
    }

    /// Computes the status and tells the probe board what runs now.
    fn status(&mut self, observed: &[ContainerInfo], terminal: bool) -> PodStatus {
        let runtime_name = self.shared.settings.runtime_name;
        let specs = self.spec_containers();
        let init_specs = self.init_containers();
        // Init containers have no probes: what they are is what the runtime says.
        let init_views = init_specs
            .iter()
            .map(|spec| {
                let all = instances(observed, &spec.name);
                let waiting = self.tracks.get(&spec.name).and_then(|t| t.waiting.as_ref());
                ContainerView {
                    name: &spec.name,
                    image: spec.image.as_deref().unwrap_or(""),
                    current: all.first().copied(),
                    previous: all.get(1).copied(),
                    waiting: waiting.map(|(r, m)| (r.as_str(), m.as_str())),
                    ready: false,
                    started: false,
                }
            })
            .collect();
        let mut views = Vec::new();
        for spec in &specs {
            let name = spec.name.as_str();
            let all = instances(observed, name);
            let (current, previous) = (all.first().copied(), all.get(1).copied());
            let has = |kind: ProbeKind| kind.of(spec).is_some();
            if let Some(c) = current {
                let running = c.state == ContainerState::Running;
                // On adoption, a container the API already showed ready stays ready until probed.
                let was_ready = self.first_sync && was_ready(&self.pod, name, &format!("{runtime_name}://{}", c.id));
                self.board.set_container(name, &c.id, running, c.started_at, was_ready);
                let started = running
                    && (!has(ProbeKind::Startup) || self.board.result(name, &c.id, ProbeKind::Startup) == Some(true));
                self.board.set_started(name, started);
            }
            let probe_ok = |kind| match current {
                Some(c) => !has(kind) || self.board.result(name, &c.id, kind) == Some(true),
                None => false,
            };
            let waiting = self.tracks.get(name).and_then(|t| t.waiting.as_ref());
            views.push(ContainerView {
                name,
                image: spec.image.as_deref().unwrap_or(""),
                current,
                previous,
                waiting: waiting.map(|(r, m)| (r.as_str(), m.as_str())),
                ready: probe_ok(ProbeKind::Readiness),
                started: probe_ok(ProbeKind::Startup),
            });
        }
        self.first_sync = false;
        let pod_ip = newest_running_sandbox(observed).and_then(|s| s.ip.as_deref());
        let none = PodStatus::default();
        let old = self.written.as_ref().or(self.pod.status.as_ref()).unwrap_or(&none);
        let input = StatusInput {
            pod: &self.pod,
            old,
            containers: views,
            init_containers: init_views,
            pod_ip,
            host_ip: &self.shared.settings.node_ip,
            terminal,
            runtime: runtime_name,
            messages: &self.messages,
            now: self.shared.clock.now(),
        };
        let mut status = pod_status(&input);
        if let Some((reason, message)) = &self.ended {
            status.phase = Some("Failed".into());
            status.reason = Some(reason.to_string());
            status.message = Some(message.clone());
        }
        status
    }

    /// Writes `status` unless the API already has it. False if writing failed.
    async fn write_status(&mut self, status: PodStatus) -> bool {
        let unchanged = match &self.written {
            Some(w) => *w == status,
            None => covers(self.pod.status.as_ref(), &status),
        };
        *self.published.lock().expect("status lock") = Some(Arc::new(status.clone()));
        if unchanged {
            self.written = Some(status);
            return true;
        }
        match self.shared.api.update_status(&self.pod, &status).await {
            Ok(()) => {
                self.written = Some(status);
                true
            }
            Err(e) if e.is_not_found() => true,
            Err(e) => {
                tracing::warn!(pod = %self.full_name(), error = %e, "writing the pod status failed");
                false
            }
        }
    }

    /// Keeps, per container, the current and the previous instance (for
    /// `logs --previous`), and only the newest sandbox.
    async fn collect_garbage(&self, observed: &[ContainerInfo]) {
        let mut doomed: Vec<&ContainerInfo> = Vec::new();
        let mut names: Vec<&str> = observed.iter().map(|c| c.meta.container_name.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        for name in names {
            let keep = if name == crate::runtime::SANDBOX_NAME { 1 } else { 2 };
            doomed.extend(
                instances(observed, name).into_iter().skip(keep).filter(|c| c.state != ContainerState::Running),
            );
        }
        for c in doomed {
            if let Err(e) = self.shared.runtime.remove_container(&c.id).await {
                tracing::debug!(pod = %self.full_name(), error = %e, "removing an old container failed");
            }
        }
    }
}

fn min_wake(current: Option<Duration>, candidate: Duration) -> Option<Duration> {
    Some(current.map_or(candidate, |c| c.min(candidate)))
}

/// The instances of one container (or of the sandbox), newest first.
fn instances<'a>(observed: &'a [ContainerInfo], name: &str) -> Vec<&'a ContainerInfo> {
    let mut all: Vec<&ContainerInfo> = observed.iter().filter(|c| c.meta.container_name == name).collect();
    all.sort_by_key(|c| std::cmp::Reverse((c.meta.restart_count, c.created_at)));
    all
}

fn newest_running_sandbox(observed: &[ContainerInfo]) -> Option<&ContainerInfo> {
    instances(observed, crate::runtime::SANDBOX_NAME).into_iter().find(|c| c.state == ContainerState::Running)
}

/// Whether every field `new` sets already has this value in `old`, the status
/// the API holds (a merge patch of `new` would change nothing). Compared as
/// JSON objects: the fields a merge patch sets are the ones `new` serializes.
fn covers(old: Option<&PodStatus>, new: &PodStatus) -> bool {
    let (Some(old), Ok(Value::Object(fields))) = (old, serde_json::to_value(new)) else { return false };
    let old = serde_json::to_value(old).unwrap_or_default();
    fields.iter().all(|(k, v)| old.get(k) == Some(v))
}

fn was_ready(pod: &Pod, name: &str, container_id: &str) -> bool {
    let statuses = pod.status.as_ref().and_then(|s| s.container_statuses.as_ref());
    statuses.into_iter().flatten().any(|s| s.name == name && s.container_id.as_deref() == Some(container_id) && s.ready)
}
