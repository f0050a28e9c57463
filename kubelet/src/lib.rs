//! The kubelab kubelet: the node agent. It registers its Node and renews its
//! Lease, runs the pods bound to it on Docker, and serves logs, exec and
//! port-forward to the apiserver (gRPC) and Kubernetes' kubelet paths (HTTP),
//! on one port.
//!
//! - [`pods`]: a worker per pod bound to the node, the relist loop, status and backoff rules.
//! - [`runtime`]: the container runtime trait, Docker and the fake.
//! - [`probe`]: liveness, readiness and startup probes.
//! - [`node`]: the Node object, its status and its Lease.
//! - [`server`]: the node agent's gRPC service.
//! - [`http_api`]: the kubelet's HTTP API (`/healthz`, `/pods`, `/runningpods/`, `/containerLogs`), on the same port.
//! - [`api`]: what the kubelet writes to the API (status, deletions, events).
//! - [`config`]: the kubelet's flags.
//! - [`clock`]: wall time that tests can pause.
//! - [`informers`]: the shared informers of Services and Endpoints that the DNS server and the proxy read.
//! - [`hollow`]: many nodes in one process over the fake runtime (`--hollow-nodes`).
//! - [`proxy`]: the node proxy (`--proxy`): ClusterIPs, NodePorts and LoadBalancer ports.
//! - [`dns`]: the node-local cluster DNS server (with `--proxy`).

pub mod api;
pub mod atomic;
pub mod clock;
pub mod config;
pub mod dns;
pub mod hollow;
pub mod http_api;
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
use client::{Client, ListParams, Resource};
use clock::Clock;
pub use config::{Config, RuntimeKind};
use informers::ServiceInformers;
use k8s_openapi::api::core::v1::{Endpoints, Pod, Service};
use pods::{Kubelet, PodEvent, Settings};
use runtime::docker::DockerRuntime;
use runtime::fake::FakeRuntime;
use runtime::Runtime;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::sync::watch;

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
    let mut informer = Informer::<Pod>::start(client, Pod::info(), "", params);
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

/// How long open requests (followed logs, exec sessions) get to finish once
/// the kubelet stops.
const SHUTDOWN_GRACE: std::time::Duration = std::time::Duration::from_secs(5);

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
        root_dir: config.node_root.clone().unwrap_or_else(|| format!("/var/lib/kubelab/nodes/{node_name}").into()),
        shared: pods::SharedPaths { root: config.shared_root.clone(), paths: config.shared_paths.clone() },
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
    // gRPC for the apiserver's logs, exec, attach and port-forward; HTTP for
    // what it forwards from `nodes/<name>/proxy`; one port, as the apiserver.
    let grpc = tonic::service::Routes::new(server::service(kubelet.clone())).prepare().into_axum_router();
    let server = tokio::spawn(daemon::serve::serve(
        listener,
        grpc,
        http_api::router(kubelet.clone()),
        |stream, _| stream,
        until_shutdown(stop_rx.clone()),
        SHUTDOWN_GRACE,
    ));
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
