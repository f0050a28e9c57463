//! Liveness, readiness and startup probes, with Kubernetes' semantics.
//!
//! One task per (container, probe kind) for the pod's whole life, ticking every
//! `periodSeconds` as the kubelet's probe workers do: it skips ticks while the
//! container is not running or younger than `initialDelaySeconds`, counts runs
//! of equal results, and changes the reported result only after
//! `failureThreshold` failures or `successThreshold` successes in a row. Every
//! failed probe is an `Unhealthy` event. A failed liveness (or startup) result
//! puts the task on hold until the container is replaced, as the pod worker
//! kills it.
//!
//! The pod worker and its probe tasks meet on a [`ProbeBoard`]: the worker
//! publishes which container instance runs now, the tasks publish results for
//! that instance and wake the worker when one changes.

use crate::api::{EventType, PodApi};
use crate::clock::Clock;
use crate::runtime::{ProbeAction, ProbeOutcome, ProbeTarget, Runtime};
use client::events::reference_to as reference;
use client::Object;
use jiff::Timestamp;
use k8s_openapi::api::core::v1::{Container, Pod, Probe};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Notify;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProbeKind {
    Liveness,
    Readiness,
    Startup,
}

impl ProbeKind {
    pub const ALL: [ProbeKind; 3] = [ProbeKind::Liveness, ProbeKind::Readiness, ProbeKind::Startup];

    /// The container's probe of this kind, if it has one.
    pub fn of(self, container: &Container) -> Option<&Probe> {
        match self {
            ProbeKind::Liveness => container.liveness_probe.as_ref(),
            ProbeKind::Readiness => container.readiness_probe.as_ref(),
            ProbeKind::Startup => container.startup_probe.as_ref(),
        }
    }
    /// As event messages spell it: `Liveness probe failed: ...`.
    pub fn title(self) -> &'static str {
        match self {
            ProbeKind::Liveness => "Liveness",
            ProbeKind::Readiness => "Readiness",
            ProbeKind::Startup => "Startup",
        }
    }
    fn lower(self) -> &'static str {
        match self {
            ProbeKind::Liveness => "liveness",
            ProbeKind::Readiness => "readiness",
            ProbeKind::Startup => "startup",
        }
    }
}

/// Why a container's probe cannot run (the kubelet logs it and ignores the probe).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProbeError {
    #[error("invalid port number: {0}")]
    InvalidPort(i32),
    #[error("couldn't find port: {port} in {container}")]
    PortNotFound { port: String, container: String },
    #[error("exec probe has no command")]
    NoCommand,
    #[error("probe has no handler (httpGet, tcpSocket or exec)")]
    NoHandler,
}

/// A container's probe, parsed from the pod spec with Kubernetes' defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeSpec {
    pub action: ProbeAction,
    pub initial_delay: Duration,
    pub timeout: Duration,
    pub period: Duration,
    pub success_threshold: u32,
    pub failure_threshold: u32,
}

impl ProbeSpec {
    /// The container's probe of `kind`, with Kubernetes' defaults; None when it has none.
    pub fn from_container(container: &Container, kind: ProbeKind) -> Option<Result<Self, ProbeError>> {
        Some(Self::parse(kind.of(container)?, container))
    }

    fn parse(probe: &Probe, container: &Container) -> Result<Self, ProbeError> {
        // Unset, zero and negative values all take the default, as before defaulting existed.
        let positive = |v: Option<i32>| v.and_then(|v| u32::try_from(v).ok()).filter(|v| *v > 0);
        let secs = |v: Option<i32>, default: u32| Duration::from_secs(u64::from(positive(v).unwrap_or(default)));
        let action = if let Some(http) = &probe.http_get {
            let mut path = http.path.clone().unwrap_or_else(|| "/".into());
            if !path.starts_with('/') {
                path.insert(0, '/');
            }
            let headers = http.http_headers.iter().flatten().map(|h| (h.name.clone(), h.value.clone())).collect();
            ProbeAction::Http {
                scheme: http.scheme.as_deref().unwrap_or("HTTP").to_uppercase(),
                host: http.host.clone().unwrap_or_default(),
                port: resolve_port(&http.port, container)?,
                path,
                headers,
            }
        } else if let Some(tcp) = &probe.tcp_socket {
            ProbeAction::Tcp { host: tcp.host.clone().unwrap_or_default(), port: resolve_port(&tcp.port, container)? }
        } else if let Some(exec) = &probe.exec {
            let command = exec.command.clone().unwrap_or_default();
            if command.is_empty() {
                return Err(ProbeError::NoCommand);
            }
            ProbeAction::Exec { command }
        } else {
            return Err(ProbeError::NoHandler);
        };
        Ok(Self {
            action,
            initial_delay: secs(probe.initial_delay_seconds, 0),
            timeout: secs(probe.timeout_seconds, 1),
            period: secs(probe.period_seconds, 10),
            success_threshold: positive(probe.success_threshold).unwrap_or(1),
            failure_threshold: positive(probe.failure_threshold).unwrap_or(3),
        })
    }
}

/// What a lifecycle hook's handler does, read as a probe's would be (its
/// `exec`, `httpGet` or `tcpSocket`); None for a `sleep` handler.
pub fn hook_action(
    handler: &k8s_openapi::api::core::v1::LifecycleHandler,
    container: &Container,
) -> Option<Result<ProbeAction, ProbeError>> {
    if handler.sleep.is_some() {
        return None;
    }
    let probe = Probe {
        exec: handler.exec.clone(),
        http_get: handler.http_get.clone(),
        tcp_socket: handler.tcp_socket.clone(),
        ..Default::default()
    };
    Some(ProbeSpec::parse(&probe, container).map(|spec| spec.action))
}

/// A probe port: a number, or the name of one of the container's ports.
fn resolve_port(port: &IntOrString, container: &Container) -> Result<u16, ProbeError> {
    let name = match port {
        IntOrString::Int(n) => return u16::try_from(*n).map_err(|_| ProbeError::InvalidPort(*n)),
        IntOrString::String(name) => name,
    };
    if let Ok(n) = name.parse::<u16>() {
        return Ok(n);
    }
    container
        .ports
        .iter()
        .flatten()
        .find(|p| p.name.as_deref() == Some(name.as_str()))
        .and_then(|p| u16::try_from(p.container_port).ok())
        .ok_or_else(|| ProbeError::PortNotFound { port: name.clone(), container: container.name.clone() })
}

/// A probe's current verdict about one container instance. None: no verdict
/// yet, which counts as not ready, not started, and alive.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Results {
    liveness: Option<bool>,
    readiness: Option<bool>,
    startup: Option<bool>,
}

/// The pod worker's view of one container, as probe tasks need it.
#[derive(Debug, Clone, Default)]
struct ContainerView {
    id: String,
    running: bool,
    started_at: Option<Timestamp>,
    /// Whether the startup probe passed (or there is none).
    started: bool,
    results: Results,
}

#[derive(Default)]
struct Board {
    pod_ip: String,
    /// The pod will run nothing more (terminal phase): probes stop.
    finished: bool,
    /// The pod is being deleted: liveness and startup probes stop.
    deleting: bool,
    containers: HashMap<String, ContainerView>,
}

/// Where a pod worker and its probe tasks meet.
#[derive(Clone)]
pub struct ProbeBoard {
    inner: Arc<Mutex<Board>>,
    wake: Arc<Notify>,
}

impl ProbeBoard {
    pub fn new(wake: Arc<Notify>) -> Self {
        Self { inner: Default::default(), wake }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Board> {
        self.inner.lock().expect("probe board lock")
    }

    pub fn set_pod(&self, pod_ip: &str, finished: bool, deleting: bool) {
        let mut b = self.lock();
        b.pod_ip = pod_ip.to_string();
        b.finished = finished;
        b.deleting = deleting;
    }

    /// Publishes the container instance that runs now. A new instance starts
    /// with fresh results; `ready` carries readiness over when the kubelet
    /// adopts a container the API already reported ready.
    pub fn set_container(&self, name: &str, id: &str, running: bool, started_at: Option<Timestamp>, ready: bool) {
        let mut b = self.lock();
        let view = b.containers.entry(name.to_string()).or_default();
        if view.id != id {
            view.id = id.to_string();
            view.results = Results { readiness: ready.then_some(true), ..Default::default() };
        }
        view.running = running;
        view.started_at = started_at;
    }

    pub fn set_started(&self, name: &str, started: bool) {
        if let Some(v) = self.lock().containers.get_mut(name) {
            v.started = started;
        }
    }

    /// The current verdict of `kind` about container `name` (instance `id`).
    pub fn result(&self, name: &str, id: &str, kind: ProbeKind) -> Option<bool> {
        let b = self.lock();
        let view = b.containers.get(name).filter(|v| v.id == id)?;
        match kind {
            ProbeKind::Liveness => view.results.liveness,
            ProbeKind::Readiness => view.results.readiness,
            ProbeKind::Startup => view.results.startup,
        }
    }

    fn set_result(&self, name: &str, id: &str, kind: ProbeKind, ok: bool) {
        let changed = {
            let mut b = self.lock();
            let Some(view) = b.containers.get_mut(name).filter(|v| v.id == id) else { return };
            let slot = match kind {
                ProbeKind::Liveness => &mut view.results.liveness,
                ProbeKind::Readiness => &mut view.results.readiness,
                ProbeKind::Startup => &mut view.results.startup,
            };
            let changed = *slot != Some(ok);
            *slot = Some(ok);
            changed
        };
        if changed {
            self.wake.notify_one();
        }
    }
}

/// Everything one probe task needs.
pub struct ProbeTask {
    pub kind: ProbeKind,
    pub spec: ProbeSpec,
    pub pod: Arc<Pod>,
    pub container_name: String,
    pub board: ProbeBoard,
    pub runtime: Arc<dyn Runtime>,
    pub api: Arc<dyn PodApi>,
    pub clock: Clock,
}

impl ProbeTask {
    /// Probes every period until the pod finishes or the task is aborted.
    pub async fn run(self) {
        // The first probe comes one period after the pod's worker starts, as in
        // Kubernetes where the first tick usually finds the container not yet running.
        let start = tokio::time::Instant::now() + self.spec.period;
        let mut ticker = tokio::time::interval_at(start, self.spec.period);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut state = RunState::default();
        loop {
            ticker.tick().await;
            if !self.tick(&mut state).await {
                return;
            }
        }
    }

    /// One tick; false when probing is over for good.
    async fn tick(&self, state: &mut RunState) -> bool {
        let (view, pod_ip, deleting) = {
            let b = self.board.lock();
            if b.finished {
                return false;
            }
            (b.containers.get(&self.container_name).cloned().unwrap_or_default(), b.pod_ip.clone(), b.deleting)
        };
        if view.id.is_empty() {
            return true;
        }
        if view.id != state.container_id {
            *state = RunState { container_id: view.id.clone(), ..Default::default() };
        }
        if state.on_hold || !view.running {
            return true;
        }
        let kills = matches!(self.kind, ProbeKind::Liveness | ProbeKind::Startup);
        if deleting && kills {
            return false;
        }
        let young = view.started_at.is_none_or(|t| self.clock.since(t) < self.spec.initial_delay);
        // Startup gates the others: before it passes only it runs, after it only they do.
        if young || (self.kind == ProbeKind::Startup) == view.started {
            return true;
        }
        let target = ProbeTarget {
            pod_namespace: self.pod.namespace().to_string(),
            pod_name: self.pod.name().to_string(),
            container_name: self.container_name.clone(),
            container_id: view.id.clone(),
            pod_ip,
            kind: self.kind.lower(),
        };
        // The runtime honours the timeout; this bound only guards against a stuck runtime.
        let backstop = self.spec.timeout + Duration::from_secs(5);
        let outcome = tokio::time::timeout(backstop, self.runtime.probe(&target, &self.spec.action, self.spec.timeout))
            .await
            .unwrap_or_else(|_| ProbeOutcome::Failure("probe timed out".into()));
        let ok = match outcome {
            ProbeOutcome::Success => true,
            ProbeOutcome::Failure(output) => {
                let message = format!("{} probe failed: {output}", self.kind.title());
                self.api.event(&reference(&*self.pod), EventType::Warning, "Unhealthy", &message);
                false
            }
            ProbeOutcome::Error(err) => {
                let message = format!("{} probe errored: {err}", self.kind.title());
                self.api.event(&reference(&*self.pod), EventType::Warning, "Unhealthy", &message);
                return true;
            }
        };
        if state.last == Some(ok) {
            state.run += 1;
        } else {
            state.last = Some(ok);
            state.run = 1;
        }
        let threshold = if ok { self.spec.success_threshold } else { self.spec.failure_threshold };
        if state.run < threshold {
            return true;
        }
        self.board.set_result(&self.container_name, &view.id, self.kind, ok);
        if kills && !ok {
            // The pod worker restarts the container; probing it while it is stopped only adds noise.
            state.on_hold = true;
            state.run = 0;
        }
        true
    }
}

#[derive(Default)]
struct RunState {
    container_id: String,
    last: Option<bool>,
    run: u32,
    on_hold: bool,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn specs_take_kubernetes_defaults_and_named_ports() {
        let container: Container = serde_json::from_value(json!({
            "name": "kubia",
            "ports": [{"name": "http", "containerPort": 8080}],
            "livenessProbe": {"httpGet": {"path": "healthz", "port": "http"}},
            "readinessProbe": {"exec": {"command": ["ls", "/var/ready"]}, "periodSeconds": 1, "successThreshold": 2},
        }))
        .unwrap();
        let live = ProbeSpec::from_container(&container, ProbeKind::Liveness).unwrap().unwrap();
        assert_eq!(
            live,
            ProbeSpec {
                action: ProbeAction::Http {
                    scheme: "HTTP".into(),
                    host: "".into(),
                    port: 8080,
                    path: "/healthz".into(),
                    headers: vec![]
                },
                initial_delay: Duration::ZERO,
                timeout: Duration::from_secs(1),
                period: Duration::from_secs(10),
                success_threshold: 1,
                failure_threshold: 3,
            }
        );
        let ready = ProbeSpec::from_container(&container, ProbeKind::Readiness).unwrap().unwrap();
        assert_eq!(ready.period, Duration::from_secs(1));
        assert_eq!(ready.success_threshold, 2);
        assert!(ProbeSpec::from_container(&container, ProbeKind::Startup).is_none());
        let bad: Container =
            serde_json::from_value(json!({"name": "x", "livenessProbe": {"tcpSocket": {"port": "nope"}}})).unwrap();
        assert_eq!(
            ProbeSpec::from_container(&bad, ProbeKind::Liveness).unwrap().unwrap_err().to_string(),
            "couldn't find port: nope in x"
        );
    }
}
