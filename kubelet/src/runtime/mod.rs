//! The container runtime the kubelet drives: Docker in production
//! ([`docker::DockerRuntime`]), an in-memory fake for tests and hollow nodes
//! ([`fake::FakeRuntime`]).
//!
//! The trait is the whole contract between the pod workers and containers, so
//! every Kubernetes rule (restart policy, backoff, probes, status) lives above
//! it and runs the same over both. What a container belongs to travels in its
//! labels, as with Kubernetes' dockershim, so that a restarted kubelet can
//! find, adopt or clean up what an earlier run left behind.
//!
//! [`probing`] holds what a probe asks of a runtime and the HTTP/TCP probes
//! every runtime runs alike; `conformance` (tests only) is the suite that
//! both runtimes pass, so the fake cannot drift from Docker.

/// The suite every runtime passes (tests and the `testing` feature only).
#[cfg(any(test, feature = "testing"))]
pub mod conformance;
pub mod docker;
pub mod fake;
pub mod probing;

pub use probing::{ProbeAction, ProbeOutcome, ProbeTarget};

use futures::Stream;
use jiff::Timestamp;
use std::collections::HashMap;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};

pub const LABEL_POD_UID: &str = "io.kubernetes.pod.uid";
pub const LABEL_POD_NAME: &str = "io.kubernetes.pod.name";
pub const LABEL_POD_NAMESPACE: &str = "io.kubernetes.pod.namespace";
pub const LABEL_CONTAINER_NAME: &str = "io.kubernetes.container.name";
pub const LABEL_RESTART_COUNT: &str = "io.kubernetes.container.restartCount";
/// The pod's grace period when the container was made, so that a kubelet that
/// no longer has the pod (deleted while it was down) still stops it gently.
pub const LABEL_GRACE_PERIOD: &str = "io.kubernetes.pod.terminationGracePeriod";
pub const LABEL_NODE: &str = "kubelab.node";
/// The container name Kubernetes gives a pod's sandbox (pause) container.
pub const SANDBOX_NAME: &str = "POD";

#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    #[error("{0}")]
    NotFound(String),
    /// The runtime itself cannot be reached (the node is then not Ready).
    #[error("{0}")]
    Unavailable(String),
    #[error("{0}")]
    Failed(String),
}

impl RuntimeError {
    pub fn is_not_found(&self) -> bool {
        matches!(self, RuntimeError::NotFound(_))
    }
}

pub type Result<T, E = RuntimeError> = std::result::Result<T, E>;

/// Who a container belongs to; written as labels, read back on relist.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContainerMeta {
    pub pod_uid: String,
    pub pod_name: String,
    pub pod_namespace: String,
    /// The container's name in the pod spec, or [`SANDBOX_NAME`].
    pub container_name: String,
    /// How many times this container was restarted before this instance (0 for the first).
    pub restart_count: u32,
    pub node: String,
    pub grace_period: Option<i64>,
}

impl ContainerMeta {
    pub fn is_sandbox(&self) -> bool {
        self.container_name == SANDBOX_NAME
    }

    pub fn labels(&self) -> HashMap<String, String> {
        let mut labels = HashMap::from([
            (LABEL_POD_UID.to_string(), self.pod_uid.clone()),
            (LABEL_POD_NAME.to_string(), self.pod_name.clone()),
            (LABEL_POD_NAMESPACE.to_string(), self.pod_namespace.clone()),
            (LABEL_CONTAINER_NAME.to_string(), self.container_name.clone()),
            (LABEL_RESTART_COUNT.to_string(), self.restart_count.to_string()),
            (LABEL_NODE.to_string(), self.node.clone()),
        ]);
        if let Some(g) = self.grace_period {
            labels.insert(LABEL_GRACE_PERIOD.to_string(), g.to_string());
        }
        labels
    }

    /// None for containers the kubelet did not make.
    pub fn from_labels(labels: &HashMap<String, String>) -> Option<Self> {
        let get = |k: &str| labels.get(k).cloned();
        Some(Self {
            pod_uid: get(LABEL_POD_UID)?,
            pod_name: get(LABEL_POD_NAME)?,
            pod_namespace: get(LABEL_POD_NAMESPACE)?,
            container_name: get(LABEL_CONTAINER_NAME)?,
            restart_count: get(LABEL_RESTART_COUNT).and_then(|v| v.parse().ok()).unwrap_or(0),
            node: get(LABEL_NODE)?,
            grace_period: get(LABEL_GRACE_PERIOD).and_then(|v| v.parse().ok()),
        })
    }

    /// The Docker name dockershim gave containers: `k8s_<container>_<pod>_<namespace>_<uid>_<attempt>`.
    pub fn docker_name(&self) -> String {
        format!(
            "k8s_{}_{}_{}_{}_{}",
            self.container_name, self.pod_name, self.pod_namespace, self.pod_uid, self.restart_count
        )
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ContainerState {
    /// Made but never started (a failed start, or a crash between create and start).
    Created,
    Running,
    Exited,
    Unknown,
}

/// What a cheap listing tells about a container (the relist loop's input).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerSummary {
    pub id: String,
    /// Shared, as the runtime holds it: a relist lists every container of
    /// the node each second.
    pub meta: Arc<ContainerMeta>,
    pub state: ContainerState,
}

/// Everything the pod status needs about one container instance.
#[derive(Debug, Clone, PartialEq)]
pub struct ContainerInfo {
    pub id: String,
    pub meta: ContainerMeta,
    pub state: ContainerState,
    /// The image as the spec named it.
    pub image: String,
    /// `docker-pullable://repo@sha256:...` or `docker://sha256:...`.
    pub image_id: String,
    pub created_at: Timestamp,
    pub started_at: Option<Timestamp>,
    pub finished_at: Option<Timestamp>,
    pub exit_code: i64,
    pub oom_killed: bool,
    /// The runtime's own error for a container that failed to start.
    pub error: String,
    /// The pod IP, for a sandbox on the pod network.
    pub ip: Option<String>,
}

/// Where a mount's data lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MountSource {
    /// A directory or file on the machine whose engine runs the containers
    /// (for Docker: the host, not the kubelet's container).
    Path(String),
    /// A volume the runtime made with [`Runtime::create_memory_volume`].
    Volume(String),
}

/// One mount of a container: a pod volume (or a part of it) at `target`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mount {
    pub source: MountSource,
    pub target: String,
    pub read_only: bool,
}

/// A memory-backed (tmpfs) volume of one pod, made by the runtime.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemoryVolume {
    /// The runtime's name for it, unique on the machine.
    pub name: String,
    pub pod_uid: String,
    pub node: String,
    /// The tmpfs size (an emptyDir's `sizeLimit`); None: the runtime's default.
    pub size_bytes: Option<i64>,
}

/// A pod's sandbox: the pause container that owns its network namespace.
#[derive(Debug, Clone)]
pub struct SandboxConfig {
    pub meta: ContainerMeta,
    pub image: String,
    /// The pod's hostname (its name, or `spec.hostname`).
    pub hostname: String,
    /// The pod itself, for what the runtime derives from its spec (DNS settings).
    pub pod: Arc<k8s_openapi::api::core::v1::Pod>,
    /// The pod's memory volumes, mounted in the sandbox too so that they stay
    /// mounted (and keep their data) while every app container is restarting.
    pub mounts: Vec<Mount>,
}

/// An app container, joined to its pod's sandbox.
#[derive(Debug, Clone, Default)]
pub struct ContainerConfig {
    pub meta: ContainerMeta,
    pub sandbox_id: String,
    pub image: String,
    /// `command` in the pod spec: replaces the image's entrypoint.
    pub entrypoint: Option<Vec<String>>,
    /// `args` in the pod spec (or the image's CMD when only `command` is set: then empty).
    pub cmd: Option<Vec<String>>,
    pub env: Vec<(String, String)>,
    pub working_dir: Option<String>,
    pub memory_limit: Option<i64>,
    pub nano_cpus: Option<i64>,
    pub cpu_shares: Option<i64>,
    pub tty: bool,
    pub stdin: bool,
    pub stdin_once: bool,
    pub mounts: Vec<Mount>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageInfo {
    pub id: String,
    pub size: i64,
    pub repo_digests: Vec<String>,
}

#[derive(Debug, Clone, Default)]
pub struct LogOptions {
    pub follow: bool,
    /// None: every line.
    pub tail: Option<i64>,
    pub timestamps: bool,
    pub since_seconds: Option<i64>,
}

pub type ByteStream = Pin<Box<dyn Stream<Item = Result<Vec<u8>>> + Send>>;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExecChunk {
    Stdout(Vec<u8>),
    Stderr(Vec<u8>),
}

/// A running exec: its output, and its stdin when asked for.
pub struct ExecSession {
    pub id: String,
    pub output: Pin<Box<dyn Stream<Item = Result<ExecChunk>> + Send>>,
    pub stdin: Option<Pin<Box<dyn AsyncWrite + Send>>>,
}

/// A byte stream both ways (a port-forward connection).
pub trait Connection: AsyncRead + AsyncWrite + Send + Unpin {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin> Connection for T {}

#[async_trait::async_trait]
pub trait Runtime: Send + Sync + 'static {
    /// The scheme of container IDs in pod status: `docker`.
    fn name(&self) -> &'static str;
    /// `docker://20.10.24`, as the Node's `containerRuntimeVersion`.
    async fn version(&self) -> Result<String>;
    /// None when the image is not on this machine.
    async fn inspect_image(&self, image: &str) -> Result<Option<ImageInfo>>;
    async fn pull_image(&self, image: &str) -> Result<()>;
    /// Creates and starts a pod's pause container on the pod network; returns its id.
    async fn run_sandbox(&self, config: &SandboxConfig) -> Result<String>;
    async fn create_container(&self, config: &ContainerConfig) -> Result<String>;
    async fn start_container(&self, id: &str) -> Result<()>;
    /// SIGTERM, then SIGKILL once `grace` has passed. Stopping a stopped container is fine.
    async fn stop_container(&self, id: &str, grace: Duration) -> Result<()>;
    async fn remove_container(&self, id: &str) -> Result<()>;
    /// Every container this node's kubelet made, in any state.
    async fn list_containers(&self, node: &str) -> Result<Vec<ContainerSummary>>;
    /// Every container of one pod (sandboxes included), inspected.
    async fn pod_containers(&self, node: &str, pod_uid: &str) -> Result<Vec<ContainerInfo>>;
    async fn logs(&self, id: &str, options: &LogOptions) -> Result<ByteStream>;
    async fn exec(&self, id: &str, command: &[String], tty: bool, stdin: bool) -> Result<ExecSession>;
    async fn resize_exec(&self, exec_id: &str, cols: u16, rows: u16) -> Result<()>;
    /// The exit code of a finished exec.
    async fn exec_exit_code(&self, exec_id: &str) -> Result<i64>;
    /// Attaches to a running container's main process (`kubectl attach`):
    /// its output from now on (with `from_start`, everything it printed
    /// first), and its stdin when asked for. The session's id is the
    /// container's. Runtimes without it refuse.
    async fn attach(&self, id: &str, _tty: bool, _stdin: bool, _from_start: bool) -> Result<ExecSession> {
        Err(RuntimeError::Failed(format!(
            "attaching to container {id} is not supported by the {} runtime",
            self.name()
        )))
    }
    /// Resizes the terminal of an attached container.
    async fn resize_attach(&self, _id: &str, _cols: u16, _rows: u16) -> Result<()> {
        Ok(())
    }
    /// Makes a pod's memory-backed volume, shared by every container that
    /// mounts it; making one that exists is fine.
    async fn create_memory_volume(&self, volume: &MemoryVolume) -> Result<()>;
    /// Removes every volume made for a pod (once its containers are removed).
    async fn remove_pod_volumes(&self, node: &str, pod_uid: &str) -> Result<()>;
    /// Writes `payload` atomically (as [`crate::atomic`] lays it out, in the
    /// version directory `version`) into the memory volume that the running
    /// sandbox `sandbox_id` mounts at `dir`.
    async fn write_memory_volume(
        &self,
        sandbox_id: &str,
        dir: &str,
        payload: &crate::atomic::Payload,
        version: &str,
    ) -> Result<()>;
    /// Runs one probe of a container, within `timeout`.
    async fn probe(&self, target: &ProbeTarget, action: &ProbeAction, timeout: Duration) -> ProbeOutcome;
    /// Opens a TCP connection to a port of a pod (port-forward).
    async fn connect(&self, pod_ip: &str, port: u16) -> Result<Box<dyn Connection>>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_round_trip_and_names_follow_dockershim() {
        let meta = ContainerMeta {
            pod_uid: "u-1".into(),
            pod_name: "kubia".into(),
            pod_namespace: "default".into(),
            container_name: "kubia".into(),
            restart_count: 2,
            node: "node1".into(),
            grace_period: Some(30),
        };
        assert_eq!(ContainerMeta::from_labels(&meta.labels()), Some(meta.clone()));
        assert_eq!(meta.docker_name(), "k8s_kubia_kubia_default_u-1_2");
        assert!(ContainerMeta::from_labels(&HashMap::new()).is_none(), "foreign containers are ignored");
    }
}
