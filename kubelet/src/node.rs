//! The node's own objects: it registers its Node (labels, capacity, addresses,
//! node info), keeps the Node's status conditions current, and renews its Lease
//! in `kube-node-lease` — the heartbeat the node lifecycle controller watches.
//!
//! As in Kubernetes, the status is computed every `node-status-update-frequency`
//! but written only when something other than heartbeat times changed, or when
//! `node-status-report-frequency` has passed; the Lease carries the frequent
//! heartbeat. That keeps thousands of hollow nodes cheap for the apiserver.

use crate::api::{EventType, PodApi};
use crate::clock::Clock;
use crate::pods::Kubelet;
use api::ApiError;
use client::{Api, Client, Object, PatchType};
use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::api::core::v1::{
    self as k8s, DaemonEndpoint, NodeAddress, NodeCondition, NodeDaemonEndpoints, NodeStatus, NodeSystemInfo,
    ObjectReference,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta, OwnerReference};
use serde_json::json;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

pub const KUBELET_VERSION: &str = "v1.34.0-kubelab";
pub const LEASE_NAMESPACE: &str = "kube-node-lease";

/// What the node says about itself.
#[derive(Debug, Clone)]
pub struct NodeConfig {
    pub name: String,
    /// Labels from `--node-labels`, on top of the well-known ones.
    pub labels: BTreeMap<String, String>,
    pub ip: String,
    pub hostname: String,
    /// The node agent's port (`daemonEndpoints.kubeletEndpoint.Port`).
    pub port: u16,
    /// Capacity, as quantities: `2`, `8029404Ki`.
    pub cpu: String,
    pub memory: String,
    pub max_pods: i64,
    pub host: HostInfo,
    pub status_update_frequency: Duration,
    pub status_report_frequency: Duration,
    pub lease_duration_seconds: i64,
    pub lease_renew_interval: Duration,
}

/// Facts about the machine, for `status.nodeInfo`.
#[derive(Debug, Clone, Default)]
pub struct HostInfo {
    pub kernel_version: String,
    pub os_image: String,
    pub machine_id: String,
    pub boot_id: String,
    /// Kubernetes' spelling: `amd64`, `arm64`.
    pub architecture: String,
}

impl HostInfo {
    /// Reads the machine's facts from /proc and /etc (empty where unavailable).
    pub fn detect() -> Self {
        let read = |path: &str| std::fs::read_to_string(path).map(|s| s.trim().to_string()).unwrap_or_default();
        let os_image = read("/etc/os-release")
            .lines()
            .find_map(|l| l.strip_prefix("PRETTY_NAME="))
            .map(|v| v.trim_matches('"').to_string())
            .unwrap_or_else(|| "Linux".into());
        Self {
            kernel_version: read("/proc/sys/kernel/osrelease"),
            os_image,
            machine_id: read("/etc/machine-id"),
            boot_id: read("/proc/sys/kernel/random/boot_id"),
            architecture: kube_arch(std::env::consts::ARCH).to_string(),
        }
    }
}

/// Rust's architecture names in Go's (GOARCH) spelling.
pub fn kube_arch(arch: &str) -> &str {
    match arch {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        "powerpc64" => "ppc64le",
        other => other,
    }
}

/// The machine's memory in Kubernetes' form (`8029404Ki`), from /proc/meminfo.
pub fn host_memory() -> Option<String> {
    let meminfo = std::fs::read_to_string("/proc/meminfo").ok()?;
    let kib = meminfo.lines().find_map(|l| l.strip_prefix("MemTotal:"))?.trim().trim_end_matches("kB").trim();
    Some(format!("{kib}Ki"))
}

/// The node's registration, status and lease, for one node.
pub struct Node {
    client: Client,
    config: NodeConfig,
    kubelet: Kubelet,
    events: Arc<dyn PodApi>,
    clock: Clock,
    lease_phase: Duration,
}

/// A condition's status, reason and message, for the ones the kubelet owns.
struct Cond {
    kind: &'static str,
    status: &'static str,
    reason: &'static str,
    message: &'static str,
    /// The event announcing that the condition became this.
    event: &'static str,
}

impl Node {
    pub fn new(client: Client, config: NodeConfig, kubelet: Kubelet, events: Arc<dyn PodApi>, clock: Clock) -> Self {
        Self { client, config, kubelet, events, clock, lease_phase: Duration::ZERO }
    }

    /// A reference to the Node for events (Kubernetes uses the node name as its uid there).
    fn reference(&self) -> ObjectReference {
        ObjectReference {
            api_version: Some("v1".into()),
            kind: Some("Node".into()),
            name: Some(self.config.name.clone()),
            uid: Some(self.config.name.clone()),
            ..Default::default()
        }
    }

    fn event(&self, kind: EventType, reason: &str, message: &str) {
        self.events.event(&self.reference(), kind, reason, message);
    }

    /// Offsets lease renewals after the first by `phase` (less than the renew
    /// interval), so that the many hollow nodes of one process, registered
    /// within a few seconds, do not all renew in the same instant.
    pub fn with_lease_phase(mut self, phase: Duration) -> Self {
        self.lease_phase = phase;
        self
    }

    /// Registers, then renews the lease and reports status until `shutdown` resolves.
    pub async fn run(self, shutdown: impl std::future::Future<Output = ()>) {
        tokio::pin!(shutdown);
        if let Some(node) = self.register_until(&mut shutdown).await {
            self.heartbeat(node, shutdown).await;
        }
    }

    /// Registers, retrying with backoff; None if `shutdown` resolved first.
    pub async fn register_until(
        &self,
        shutdown: &mut (impl std::future::Future<Output = ()> + Unpin),
    ) -> Option<k8s::Node> {
        self.event(EventType::Normal, "Starting", "Starting kubelet.");
        let mut delay = Duration::from_millis(100);
        let node = loop {
            tokio::select! {
                _ = &mut *shutdown => return None,
                registered = self.register() => match registered {
                    Ok(node) => break node,
                    Err(e) => tracing::warn!(node = %self.config.name, error = %e, "registering the node failed; retrying"),
                },
            }
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(Duration::from_secs(7));
        };
        tracing::info!(node = %self.config.name, "node registered");
        Some(node)
    }

    /// Renews the lease and reports status for the registered `node` until `shutdown` resolves.
    pub async fn heartbeat(self, mut node: k8s::Node, shutdown: impl std::future::Future<Output = ()>) {
        tokio::pin!(shutdown);
        let mut status_tick = tokio::time::interval(self.config.status_update_frequency);
        let mut lease_tick = tokio::time::interval(self.config.lease_renew_interval);
        let mut lease: Option<Lease> = None;
        if !self.lease_phase.is_zero() {
            // The first lease at once, so the node is not without one; the rest on this node's phase.
            if let Err(e) = self.renew_lease(&node, &mut lease).await {
                tracing::warn!(node = %self.config.name, error = %e, "renewing the node lease failed");
            }
            let start = tokio::time::Instant::now() + self.lease_phase;
            lease_tick = tokio::time::interval_at(start, self.config.lease_renew_interval);
        }
        let mut last_report: Option<tokio::time::Instant> = None;
        loop {
            tokio::select! {
                _ = &mut shutdown => return,
                _ = lease_tick.tick() => {
                    if let Err(e) = self.renew_lease(&node, &mut lease).await {
                        tracing::warn!(node = %self.config.name, error = %e, "renewing the node lease failed");
                    }
                }
                _ = status_tick.tick() => {
                    let due = last_report.is_none_or(|t| t.elapsed() >= self.config.status_report_frequency);
                    match self.sync_status(&node, due).await {
                        Ok(Some(updated)) => {
                            node = updated;
                            last_report = Some(tokio::time::Instant::now());
                        }
                        Ok(None) => {}
                        Err(e) if e.is_not_found() => {
                            // Someone deleted the Node: register it again, as the kubelet does.
                            tracing::warn!(node = %self.config.name, "the Node object is gone; registering again");
                            if let Ok(n) = self.register().await {
                                node = n;
                                last_report = None;
                            }
                        }
                        Err(e) => tracing::warn!(node = %self.config.name, error = %e, "updating the node status failed"),
                    }
                }
            }
        }
    }

    fn default_labels(&self) -> BTreeMap<String, String> {
        let arch = self.config.host.architecture.clone();
        let mut labels = BTreeMap::from([
            ("beta.kubernetes.io/arch".to_string(), arch.clone()),
            ("beta.kubernetes.io/os".to_string(), "linux".to_string()),
            ("kubernetes.io/arch".to_string(), arch),
            ("kubernetes.io/hostname".to_string(), self.config.name.to_lowercase()),
            ("kubernetes.io/os".to_string(), "linux".to_string()),
        ]);
        labels.extend(self.config.labels.clone());
        labels
    }

    /// Creates the Node, or updates an existing one: the kubelet's labels are
    /// set, labels, annotations and taints others added stay.
    pub async fn register(&self) -> Result<k8s::Node, ApiError> {
        let nodes = Api::<k8s::Node>::all(&self.client);
        let annotations =
            [("node.alpha.kubernetes.io/ttl", "0"), ("volumes.kubernetes.io/controller-managed-attach-detach", "true")];
        let node = k8s::Node {
            metadata: ObjectMeta {
                name: Some(self.config.name.clone()),
                labels: Some(self.default_labels()),
                annotations: Some(annotations.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()),
                ..Default::default()
            },
            spec: Some(Default::default()),
            ..Default::default()
        };
        let registered = match nodes.create(&node).await {
            Ok(created) => created,
            Err(e) if e.is_already_exists() => {
                let mut existing = nodes.get(&self.config.name).await?;
                existing.metadata.labels.get_or_insert_default().extend(self.default_labels());
                nodes.update(&existing).await?
            }
            Err(e) => return Err(e),
        };
        match self.sync_status(&registered, true).await? {
            Some(with_status) => Ok(with_status),
            None => Ok(registered),
        }
    }

    fn conditions(&self) -> [Cond; 4] {
        let ready = if self.kubelet.runtime_healthy() {
            Cond {
                kind: "Ready",
                status: "True",
                reason: "KubeletReady",
                message: "kubelet is posting ready status",
                event: "NodeReady",
            }
        } else {
            Cond {
                kind: "Ready",
                status: "False",
                reason: "KubeletNotReady",
                message: "container runtime is down",
                event: "NodeNotReady",
            }
        };
        [
            Cond {
                kind: "MemoryPressure",
                status: "False",
                reason: "KubeletHasSufficientMemory",
                message: "kubelet has sufficient memory available",
                event: "NodeHasSufficientMemory",
            },
            Cond {
                kind: "DiskPressure",
                status: "False",
                reason: "KubeletHasNoDiskPressure",
                message: "kubelet has no disk pressure",
                event: "NodeHasNoDiskPressure",
            },
            Cond {
                kind: "PIDPressure",
                status: "False",
                reason: "KubeletHasSufficientPID",
                message: "kubelet has sufficient PID available",
                event: "NodeHasSufficientPID",
            },
            ready,
        ]
    }

    /// The status the node reports now, given the stored Node.
    pub async fn status(&self, node: &k8s::Node) -> NodeStatus {
        // Times in objects have whole seconds; comparing with stored ones needs the same.
        let now = api::time::to_second(self.clock.now());
        let old = node.status.as_ref().and_then(|s| s.conditions.as_ref());
        let conditions = self
            .conditions()
            .iter()
            .map(|c| {
                let previous = old.into_iter().flatten().find(|o| o.type_ == c.kind);
                let since = previous.filter(|o| o.status == c.status).and_then(|o| o.last_transition_time.clone());
                NodeCondition {
                    type_: c.kind.into(),
                    status: c.status.into(),
                    reason: Some(c.reason.into()),
                    message: Some(c.message.into()),
                    last_heartbeat_time: Some(now.clone()),
                    last_transition_time: Some(since.unwrap_or_else(|| now.clone())),
                }
            })
            .collect();
        let runtime_version = match self.kubelet.runtime().version().await {
            Ok(v) => v,
            Err(_) => node
                .status
                .as_ref()
                .and_then(|s| s.node_info.as_ref())
                .map(|i| i.container_runtime_version.clone())
                .unwrap_or_default(),
        };
        let resources: BTreeMap<String, Quantity> = [
            ("cpu", self.config.cpu.clone()),
            ("memory", self.config.memory.clone()),
            ("pods", self.config.max_pods.to_string()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), Quantity(v)))
        .collect();
        let host = &self.config.host;
        let address = |type_: &str, address: &str| NodeAddress { type_: type_.into(), address: address.into() };
        NodeStatus {
            capacity: Some(resources.clone()),
            allocatable: Some(resources),
            conditions: Some(conditions),
            addresses: Some(vec![address("InternalIP", &self.config.ip), address("Hostname", &self.config.hostname)]),
            daemon_endpoints: Some(NodeDaemonEndpoints {
                kubelet_endpoint: Some(DaemonEndpoint { port: i32::from(self.config.port) }),
            }),
            node_info: Some(NodeSystemInfo {
                machine_id: host.machine_id.clone(),
                system_uuid: host.machine_id.clone(),
                boot_id: host.boot_id.clone(),
                kernel_version: host.kernel_version.clone(),
                os_image: host.os_image.clone(),
                container_runtime_version: runtime_version,
                kubelet_version: KUBELET_VERSION.into(),
                kube_proxy_version: String::new(),
                operating_system: "linux".into(),
                architecture: host.architecture.clone(),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    /// Writes the status if it changed (heartbeats aside) or if `due`; returns the
    /// updated Node when it wrote. Condition changes are announced as events.
    pub async fn sync_status(&self, node: &k8s::Node, due: bool) -> Result<Option<k8s::Node>, ApiError> {
        let status = self.status(node).await;
        let nodes = Api::<k8s::Node>::all(&self.client);
        // Compare with what the server holds now, not with what this kubelet
        // last wrote: the node lifecycle controller may have marked the node
        // Unknown meanwhile, and only a write from here makes it Ready again.
        let node = nodes.get(&self.config.name).await?;
        let stored = node.status.clone().unwrap_or_default();
        if !due && without_heartbeats(&status) == without_heartbeats(&stored) {
            return Ok(None);
        }
        // A merge patch: fields others own in the status (images, volumes) stay.
        let patch = json!({ "status": status });
        let updated = nodes.patch_status(&self.config.name, PatchType::Merge, &patch).await?;
        for c in self.conditions() {
            let before = stored.conditions.iter().flatten().find(|o| o.type_ == c.kind);
            if before.is_none_or(|b| b.status != c.status) {
                let message = format!("Node {} status is now: {}", self.config.name, c.event);
                self.event(EventType::Normal, c.event, &message);
            }
        }
        Ok(Some(updated))
    }

    /// Creates or renews `kube-node-lease/<node>`. `cached` keeps the last
    /// lease written, so a renewal is one update, as in Kubernetes; a conflict
    /// (someone else wrote it) costs one read more.
    pub async fn renew_lease(&self, node: &k8s::Node, cached: &mut Option<Lease>) -> Result<(), ApiError> {
        let leases = Api::<Lease>::namespaced(&self.client, LEASE_NAMESPACE);
        let renew = MicroTime(self.clock.now());
        let spec = || LeaseSpec {
            holder_identity: Some(self.config.name.clone()),
            lease_duration_seconds: Some(self.config.lease_duration_seconds as i32),
            renew_time: Some(renew.clone()),
            ..Default::default()
        };
        let renewed = |mut lease: Lease| {
            let s = lease.spec.get_or_insert_default();
            let fresh = spec();
            s.holder_identity = fresh.holder_identity;
            s.lease_duration_seconds = fresh.lease_duration_seconds;
            s.renew_time = fresh.renew_time;
            lease
        };
        if let Some(lease) = cached.take() {
            match leases.update(&renewed(lease)).await {
                Ok(written) => {
                    *cached = Some(written);
                    return Ok(());
                }
                Err(e) if e.is_conflict() || e.is_not_found() => {}
                Err(e) => return Err(e),
            }
        }
        let written = match leases.get(&self.config.name).await {
            Ok(lease) => leases.update(&renewed(lease)).await,
            Err(e) if e.is_not_found() => {
                let lease = Lease {
                    metadata: ObjectMeta {
                        name: Some(self.config.name.clone()),
                        namespace: Some(LEASE_NAMESPACE.into()),
                        // The lease goes when its Node does.
                        owner_references: Some(vec![OwnerReference {
                            api_version: "v1".into(),
                            kind: "Node".into(),
                            name: self.config.name.clone(),
                            uid: node.uid().to_string(),
                            ..Default::default()
                        }]),
                        ..Default::default()
                    },
                    spec: Some(spec()),
                };
                leases.create(&lease).await
            }
            Err(e) => Err(e),
        }?;
        *cached = Some(written);
        Ok(())
    }
}

/// The status without `lastHeartbeatTime`s, for deciding whether to write.
fn without_heartbeats(status: &NodeStatus) -> NodeStatus {
    let mut s = status.clone();
    for c in s.conditions.iter_mut().flatten() {
        c.last_heartbeat_time = None;
    }
    s
}
