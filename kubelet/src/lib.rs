//! The kubelab kubelet: the node agent. It registers its Node and renews its
//! Lease, runs the pods bound to it on Docker, and serves logs, exec and
//! port-forward to the apiserver.
//!
//! - [`pods`]: a worker per pod bound to the node, the relist loop, status and backoff rules.
//! - [`runtime`]: the container runtime trait, Docker and the fake.
//! - [`probe`]: liveness, readiness and startup probes.
//! - [`node`]: the Node object, its status and its Lease.
//! - [`server`]: the node agent's gRPC service.
//! - [`api`]: what the kubelet writes to the API (status, deletions, events).
//! - [`clock`]: wall time that tests can pause.
//! - [`informers`]: the shared informers of Services and Endpoints that the DNS server and the proxy read.
//! - [`hollow`]: many nodes in one process over the fake runtime (`--hollow-nodes`).
//! - [`proxy`]: the node proxy (`--proxy`): ClusterIPs, NodePorts and LoadBalancer ports.
//! - [`dns`]: the node-local cluster DNS server (with `--proxy`).

pub mod api;
pub mod clock;
pub mod dns;
pub mod hollow;
pub mod informers;
pub mod node;
pub mod pods;
pub mod probe;
pub mod proxy;
pub mod runtime;
pub mod server;

use anyhow::Context;
use client::informer::InformerFactory;
use client::watcher::{Event, Informer};
use client::{Client, ListParams};
use clock::Clock;
use informers::ServiceInformers;
use k8s_openapi::api::core::v1::{Endpoints, Pod, Service};
use pods::{Kubelet, PodEvent, Settings};
use runtime::docker::DockerRuntime;
use runtime::fake::FakeRuntime;
use runtime::Runtime;
use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

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

/// The machine's hostname.
fn hostname() -> String {
    let name = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .map(|s| s.trim().to_string())
        .unwrap_or_default();
    if name.is_empty() {
        "localhost".into()
    } else {
        name
    }
}

/// The address this machine uses on the pod network: the source address
/// towards the network's gateway (a UDP "connect" sends nothing). On the host
/// that is the gateway itself; in a container on the network, its own IP.
async fn detect_node_ip(docker: &DockerRuntime) -> anyhow::Result<String> {
    let gateway = docker.network_gateway().await?.context("the pod network has no gateway; set --node-ip")?;
    let socket = tokio::net::UdpSocket::bind("0.0.0.0:0").await?;
    socket.connect((gateway.as_str(), 9)).await.context("cannot route to the pod network; set --node-ip")?;
    Ok(socket.local_addr()?.ip().to_string())
}

/// Feeds the pods bound to the kubelet's node (a list, then a watch) to it
/// until `shutdown` resolves.
pub async fn watch_pods(client: Client, kubelet: Kubelet, shutdown: impl std::future::Future<Output = ()>) {
    let field_selector = format!("spec.nodeName={}", kubelet.settings().node_name);
    let params = ListParams { field_selector, ..Default::default() };
    let mut informer = Informer::<Pod>::start(client, api::registry_pods(), "", params);
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            _ = &mut shutdown => return,
            event = informer.events.recv() => match event {
                Some(Event::Applied(pod)) => kubelet.handle(PodEvent::Applied(pod)),
                Some(Event::Deleted(pod)) => kubelet.handle(PodEvent::Deleted(pod)),
                Some(Event::Synced) => kubelet.handle(PodEvent::Synced),
                None => return,
            },
        }
    }
}

/// Resolves when `rx` says so.
async fn until_shutdown(mut rx: watch::Receiver<bool>) {
    let _ = rx.wait_for(|stop| *stop).await;
}

/// Runs the kubelet until `shutdown` resolves. Pods keep running after it
/// returns, as with Kubernetes' kubelet: a restarted kubelet adopts them.
pub async fn run(
    config: Config,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    if config.hollow_nodes > 0 {
        return hollow::run(config, shutdown).await;
    }
    let node_name = config.node_name.clone().unwrap_or_else(hostname).to_lowercase();
    let client = Client::connect_lazy(&config.server)?;
    let (runtime, node_ip): (Arc<dyn Runtime>, String) = match config.runtime {
        RuntimeKind::Docker => {
            let docker = DockerRuntime::connect(&config.docker_host, &config.pod_network)
                .await
                .with_context(|| format!("cannot reach the Docker engine at {}", config.docker_host))?;
            docker.ensure_network().await?;
            let ip = match config.node_ip {
                Some(ip) => ip.to_string(),
                None => detect_node_ip(&docker).await?,
            };
            let docker = if config.proxy {
                docker.with_services(runtime::docker::ServiceNetwork {
                    cidr: config.service_cluster_ip_range.to_string(),
                    gateway: ip.clone(),
                    cluster_dns: vec![config.cluster_dns.to_string()],
                    domain: config.cluster_domain.clone(),
                })
            } else {
                docker
            };
            (Arc::new(docker), ip)
        }
        RuntimeKind::Fake => {
            tracing::warn!(
                "--runtime=fake: NO CONTAINER RUNS ON THIS NODE. Pods only pretend to run (for tests and hollow nodes)."
            );
            let ip = config.node_ip.map(|ip| ip.to_string()).unwrap_or_else(|| "127.0.0.1".into());
            (Arc::new(FakeRuntime::new()), ip)
        }
    };
    let cpu = config
        .cpu
        .clone()
        .unwrap_or_else(|| std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1).to_string());
    let memory = config.memory.clone().or_else(node::host_memory).unwrap_or_else(|| "1Gi".into());
    let cpu_cores = pods::container::quantity(&cpu).map_err(|e| anyhow::anyhow!("--cpu: {e}"))?;
    let memory_bytes = pods::container::quantity(&memory).map_err(|e| anyhow::anyhow!("--memory: {e}"))?;
    tracing::info!(node = %node_name, ip = %node_ip, cpu = %cpu, memory = %memory, "starting the kubelet");

    let settings = Settings {
        node_name: node_name.clone(),
        node_ip: node_ip.clone(),
        pause_image: config.pod_infra_container_image.clone(),
        backoff: pods::backoff::Policy { initial: config.initial_backoff, max: config.max_backoff },
        relist_period: config.relist_period,
        resync_period: config.sync_frequency,
        runtime_name: runtime.name(),
        node_cpu_millis: cpu_cores.milli_value(),
        node_memory_bytes: memory_bytes.value(),
    };
    let api = Arc::new(api::ClientApi::new(client.clone(), &node_name));
    // One list+watch of Services (and of Endpoints, with --proxy) for
    // everything here that reads them: the containers' service variables, the
    // DNS server, the proxy.
    let informers = InformerFactory::new(client.clone());
    let services = informers.typed::<Service>();
    let service_links = pods::service_env::ServiceLinks::new(services.clone());
    let kubelet = Kubelet::with_services(settings, runtime, api.clone(), Clock::system(), service_links);

    let (stop_tx, stop_rx) = watch::channel(false);
    let listener = tokio::net::TcpListener::bind(SocketAddr::new(config.address, config.port))
        .await
        .with_context(|| format!("cannot listen on {}:{}", config.address, config.port))?;
    let server = tokio::spawn(
        tonic::transport::Server::builder()
            .tcp_nodelay(true)
            .add_service(server::service(kubelet.clone()))
            .serve_with_incoming_shutdown(
                tokio_stream::wrappers::TcpListenerStream::new(listener),
                until_shutdown(stop_rx.clone()),
            ),
    );
    let node_config = node::NodeConfig {
        name: node_name.clone(),
        labels: config.node_labels.clone(),
        ip: node_ip.clone(),
        hostname: hostname(),
        port: config.port,
        cpu,
        memory,
        max_pods: config.max_pods,
        host: node::HostInfo::detect(),
        status_update_frequency: config.node_status_update_frequency,
        status_report_frequency: config.node_status_report_frequency,
        lease_duration_seconds: config.node_lease_duration_seconds,
        lease_renew_interval: config.lease_renew_interval,
    };
    let node = node::Node::new(client.clone(), node_config, kubelet.clone(), api, Clock::system());
    let node_task = tokio::spawn(node.run(until_shutdown(stop_rx.clone())));
    let relist = {
        let k = kubelet.clone();
        let stop = until_shutdown(stop_rx.clone());
        tokio::spawn(async move { k.run_relist(stop).await })
    };
    let proxying = if config.proxy {
        let shared = ServiceInformers { services, endpoints: informers.typed::<Endpoints>() };
        Some(start_services(&config, &shared, &node_ip, &stop_rx).await?)
    } else {
        None
    };
    informers.start();

    watch_pods(client, kubelet.clone(), shutdown).await;
    tracing::info!("shutting down; pods keep running");
    let _ = stop_tx.send(true);
    kubelet.shutdown();
    let _ = tokio::join!(node_task, relist);
    if let Some((proxy, dns)) = proxying {
        let _ = tokio::join!(proxy, dns);
    }
    server.await??;
    Ok(())
}

/// Starts the node-local DNS server on the cluster DNS address (put on `lo`
/// first) and the node proxy, both until `stop`.
async fn start_services(
    config: &Config,
    informers: &ServiceInformers,
    node_ip: &str,
    stop: &watch::Receiver<bool>,
) -> anyhow::Result<(tokio::task::JoinHandle<()>, tokio::task::JoinHandle<()>)> {
    let proxy_config = proxy::ProxyConfig {
        node_ip: node_ip.parse().with_context(|| format!("the node IP {node_ip:?} is not an address"))?,
        service_cidr: config.service_cluster_ip_range,
        cluster_dns: config.cluster_dns,
    };
    let lo = proxy::prepare_loopback(&proxy_config)
        .await
        .context("--proxy: cannot put the cluster DNS address on lo (the kubelet needs CAP_NET_ADMIN)")?;
    let dns_addr = SocketAddr::new(config.cluster_dns, 53);
    let domain = config.cluster_domain.clone();
    let dns_stop = until_shutdown(stop.clone());
    let dns_informers = informers.clone();
    let dns = tokio::spawn(async move {
        if let Err(e) = dns::serve(dns_informers, dns_addr, domain, dns_stop).await {
            tracing::error!(error = %e, "the cluster DNS server stopped");
        }
    });
    tracing::info!(cidr = %proxy_config.service_cidr, "starting the node proxy");
    let proxy = tokio::spawn(proxy::run(informers.clone(), proxy_config, Some(lo), until_shutdown(stop.clone())));
    Ok((proxy, dns))
}
