//! The kubelet's flags (`Config`), each settable by environment variable, as
//! docker-compose configures the daemons. A module of its own so that the
//! hollow nodes read them without depending on the crate root that runs them.

use crate::proxy;
use std::collections::BTreeMap;
use std::net::IpAddr;
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum RuntimeKind {
    Docker,
    /// Containers that only pretend to run: for tests and hollow nodes.
    Fake,
}

/// The kubelet's flags; every one can be set by environment variable.
#[derive(Debug, Clone, clap::Parser)]
#[command(name = "kubelet", about = "The kubelab node agent: runs the pods bound to its node on Docker")]
pub struct Config {
    /// The apiserver to talk to.
    #[arg(long, env = "APISERVER", default_value = "http://127.0.0.1:6443")]
    pub server: String,
    /// The node's name (default: the hostname).
    #[arg(long, env = "NODE_NAME")]
    pub node_name: Option<String>,
    /// Extra node labels: `key=value,key2=value2`.
    #[arg(long, env = "NODE_LABELS", value_parser = parse_labels, default_value = "")]
    pub node_labels: BTreeMap<String, String>,
    /// The node's address (default: its address on the pod network).
    #[arg(long, env = "NODE_IP")]
    pub node_ip: Option<IpAddr>,
    /// The address the node agent (logs, exec, port-forward) listens on.
    #[arg(long, env = "KUBELET_ADDRESS", default_value = "0.0.0.0")]
    pub address: IpAddr,
    /// The node agent's port.
    #[arg(long, env = "KUBELET_PORT", default_value_t = 10250)]
    pub port: u16,
    /// The Docker network pods join; created if missing.
    #[arg(long, env = "POD_NETWORK", default_value = "kubelab")]
    pub pod_network: String,
    /// The image of every pod's sandbox (pause) container.
    #[arg(long, env = "POD_INFRA_CONTAINER_IMAGE", default_value = "kubelab/pause:latest")]
    pub pod_infra_container_image: String,
    /// The node's filesystem as pods see it: hostPath `/data` is `<root>/data`,
    /// emptyDirs are under `<root>/var/lib/kubelet/pods`. The container engine
    /// must see it at the same path (compose binds the host's directory there).
    /// Default: `/var/lib/kubelab/nodes/<node name>`.
    #[arg(long, env = "NODE_ROOT")]
    pub node_root: Option<std::path::PathBuf>,
    /// Node paths that are one directory shared by every node, as if a network
    /// filesystem were mounted there on each: node path `/p/x`, with `/p` listed, is
    /// `<shared root>/p/x` on every node. The default is where the default
    /// StorageClass's provisioner puts its volumes, so a pod that moves to
    /// another node finds its data.
    #[arg(long, env = "SHARED_PATHS", value_delimiter = ',', default_value = "/tmp/hostpath-provisioner")]
    pub shared_paths: Vec<String>,
    /// The directory behind the shared paths, seen at this same path by the
    /// kubelet and the container engine (compose binds it into every node).
    #[arg(long, env = "SHARED_ROOT", default_value = "/var/lib/kubelab/shared")]
    pub shared_root: std::path::PathBuf,
    /// The Docker engine (`unix:///var/run/docker.sock`, `tcp://host:2375`).
    #[arg(long, env = "DOCKER_HOST", default_value = "unix:///var/run/docker.sock")]
    pub docker_host: String,
    /// CPU capacity to report (default: the host's CPUs).
    #[arg(long, env = "NODE_CPU")]
    pub cpu: Option<String>,
    /// Memory capacity to report, e.g. `8Gi` (default: the host's memory).
    #[arg(long, env = "NODE_MEMORY")]
    pub memory: Option<String>,
    /// The most pods this node runs.
    #[arg(long, env = "MAX_PODS", default_value_t = 110)]
    pub max_pods: i64,
    /// How often the node status is computed.
    #[arg(long, env = "NODE_STATUS_UPDATE_FREQUENCY", default_value = "10s", value_parser = ::api::duration::parse)]
    pub node_status_update_frequency: Duration,
    /// How often the node status is written when nothing changed.
    #[arg(long, env = "NODE_STATUS_REPORT_FREQUENCY", default_value = "5m", value_parser = ::api::duration::parse)]
    pub node_status_report_frequency: Duration,
    /// The node lease's duration.
    #[arg(long, env = "NODE_LEASE_DURATION_SECONDS", default_value_t = 40)]
    pub node_lease_duration_seconds: i64,
    /// How often the node lease is renewed.
    #[arg(long, env = "LEASE_RENEW_INTERVAL", default_value = "10s", value_parser = ::api::duration::parse)]
    pub lease_renew_interval: Duration,
    /// How often every pod is synced when nothing happens.
    #[arg(long, env = "SYNC_FREQUENCY", default_value = "1m", value_parser = ::api::duration::parse)]
    pub sync_frequency: Duration,
    /// How often the runtime's containers are relisted to notice changes.
    #[arg(long, env = "RELIST_PERIOD", default_value = "1s", value_parser = ::api::duration::parse)]
    pub relist_period: Duration,
    /// The first CrashLoopBackOff (and image pull) delay.
    #[arg(long, env = "INITIAL_BACKOFF", default_value = "10s", value_parser = ::api::duration::parse)]
    pub initial_backoff: Duration,
    /// The longest CrashLoopBackOff (and image pull) delay.
    #[arg(long, env = "MAX_BACKOFF", default_value = "5m", value_parser = ::api::duration::parse)]
    pub max_backoff: Duration,
    /// The container runtime.
    #[arg(long, env = "CONTAINER_RUNTIME", value_enum, default_value = "docker")]
    pub runtime: RuntimeKind,
    /// Run this many hollow nodes in this process, over the fake runtime (0: one real node).
    #[arg(long, env = "HOLLOW_NODES", default_value_t = 0)]
    pub hollow_nodes: usize,
    /// Hollow nodes are called `<prefix>0`, `<prefix>1`, ...
    #[arg(long, env = "HOLLOW_NODE_PREFIX", default_value = "hollow-node-")]
    pub hollow_node_prefix: String,
    /// How long a pod on a hollow node takes to turn Running
    /// (annotation `kubelab.io/hollow-start-delay` overrides it per pod).
    #[arg(long, env = "HOLLOW_POD_START_DELAY", default_value = "0s", value_parser = ::api::duration::parse)]
    pub hollow_pod_start_delay: Duration,
    /// Containers of hollow pods that do not restart them (Jobs) exit 0 after
    /// this long; unset, they run until stopped. Annotations
    /// `kubelab.io/hollow-exit-after` and `kubelab.io/hollow-exit-code` set it per pod.
    #[arg(long, env = "HOLLOW_CONTAINER_EXIT_AFTER", value_parser = ::api::duration::parse)]
    pub hollow_container_exit_after: Option<Duration>,
    /// Every probe on hollow nodes fails (annotation `kubelab.io/hollow-probe: fail|succeed` per pod).
    #[arg(long, env = "HOLLOW_PROBE_FAIL")]
    pub hollow_probe_fail: bool,
    /// Run the node proxy and the node-local cluster DNS server: ClusterIPs
    /// on this node's `lo`, pods routed to them (needs CAP_NET_ADMIN).
    #[arg(long, env = "PROXY")]
    pub proxy: bool,
    /// The cluster DNS server's address, given to ClusterFirst pods (kube-dns's ClusterIP).
    #[arg(long, env = "CLUSTER_DNS", default_value = "10.96.0.10")]
    pub cluster_dns: IpAddr,
    /// The cluster's DNS domain.
    #[arg(long, env = "CLUSTER_DOMAIN", default_value = "cluster.local")]
    pub cluster_domain: String,
    /// The service CIDR (the apiserver's `--service-cluster-ip-range`): routed from pods to the node.
    #[arg(long, env = "SERVICE_CLUSTER_IP_RANGE", default_value = "10.96.0.0/12")]
    pub service_cluster_ip_range: proxy::netlink::Cidr,
    /// How many hollow nodes register at the same time.
    #[arg(long, env = "HOLLOW_REGISTER_CONCURRENCY", default_value_t = 50)]
    pub hollow_register_concurrency: usize,
}

/// A `--node-labels` entry that is not `key=value`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid label {0:?}: expected key=value")]
pub struct InvalidLabel(String);

/// Parses `k=v,k2=v2` (empty: no labels).
pub fn parse_labels(s: &str) -> Result<BTreeMap<String, String>, InvalidLabel> {
    s.split(',')
        .map(str::trim)
        .filter(|kv| !kv.is_empty())
        .map(|kv| match kv.split_once('=') {
            Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
            _ => Err(InvalidLabel(kv.to_string())),
        })
        .collect()
}
