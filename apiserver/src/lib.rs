//! The kubelab apiserver: the only component that touches etcd.
//!
//! - [`alloc`]: Service cluster IPs and node ports, and the system services.
//! - [`store`]: the `Store` trait, its etcd and in-memory implementations, the watch cache.
//! - [`registry`]: Kubernetes object semantics over a store: the generic verbs, for every kind.
//! - [`strategy`]: the `Strategy` trait, everything the registry asks of a kind.
//! - [`kinds`]: one strategy per kind with rules of its own, and the table of them.
//! - [`patch`]: merge, JSON and strategic merge patches.
//! - [`openapi`]: the OpenAPI v2 and v3 documents kubectl reads for `explain` and validation.
//! - `testing` (feature `testing`): an in-process apiserver for other crates' tests.
//! - [`service`]: the gRPC service that exposes the registry.
//! - [`http`]: Kubernetes' REST API over the same registry, on the same address.
//! - [`proxy`]: logs, exec and port-forward, relayed to the pod's kubelet.
//! - [`streams`]: exec, attach and port-forward over HTTP (SPDY and WebSocket), for real clients.

pub mod alloc;
pub mod coalesce;
pub mod http;
pub mod kinds;
pub mod openapi;
pub mod patch;
pub mod proxy;
pub mod registry;
pub mod service;
pub mod store;
pub mod strategy;
pub mod streams;
#[cfg(any(test, feature = "testing"))]
pub mod testing;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;
use store::Store;

/// The apiserver's flags; every one can be set by environment variable.
#[derive(Debug, Clone, clap::Parser)]
#[command(name = "apiserver", about = "The kubelab API server: Kubernetes objects over etcd, served by gRPC")]
pub struct Config {
    /// etcd endpoints, comma-separated.
    #[arg(long, env = "ETCD_SERVERS", value_delimiter = ',', default_value = "http://127.0.0.1:2379")]
    pub etcd_servers: Vec<String>,
    /// Keep objects in memory instead of etcd (for experiments; nothing survives a restart).
    #[arg(long, env = "IN_MEMORY", default_value_t = false)]
    pub in_memory: bool,
    /// Address to serve the API on.
    #[arg(long, env = "LISTEN", default_value = "127.0.0.1:6443")]
    pub listen: SocketAddr,
    /// Events kept per resource for watches that resume from an older resourceVersion.
    #[arg(long, env = "WATCH_CACHE_SIZE", default_value_t = 10_000)]
    pub watch_cache_size: usize,
    /// How long Events are kept after their last write (kube-apiserver's flag
    /// of the same name): etcd deletes them itself, under a lease. 0 keeps them.
    #[arg(long, env = "EVENT_TTL", default_value = "1h", value_parser = api::duration::parse)]
    pub event_ttl: Duration,
    /// How often to compact etcd's history, keeping one interval of it (as
    /// kube-apiserver's flag of the same name); 0 never compacts.
    #[arg(long, env = "ETCD_COMPACTION_INTERVAL", default_value = "5m", value_parser = api::duration::parse)]
    pub etcd_compaction_interval: Duration,
    /// The CIDR Service cluster IPs are allocated from (IPv4, /12 to /30).
    #[arg(long, env = "SERVICE_CLUSTER_IP_RANGE", default_value = "10.96.0.0/12", value_parser = alloc::range::IpRange::parse)]
    pub service_cluster_ip_range: alloc::range::IpRange,
    /// The port range NodePort services are allocated from, inclusive.
    #[arg(long, env = "SERVICE_NODE_PORT_RANGE", default_value = "30000-32767", value_parser = alloc::range::PortRange::parse)]
    pub service_node_port_range: alloc::range::PortRange,
    /// The address the `kubernetes` service's Endpoints advertise. Default: the
    /// listen address, or this host's primary IPv4 when listening on 0.0.0.0.
    #[arg(long, env = "ADVERTISE_ADDRESS")]
    pub advertise_address: Option<IpAddr>,
}

impl Config {
    /// The service settings these flags make.
    pub fn service_config(&self) -> alloc::ServiceConfig {
        alloc::ServiceConfig {
            cluster_ip_range: self.service_cluster_ip_range,
            node_port_range: self.service_node_port_range,
            advertise_address: self.advertise_address.unwrap_or_else(|| default_advertise_address(self.listen.ip())),
            port: self.listen.port(),
        }
    }
}

/// The listen address unless it is a wildcard; then the address this host
/// reaches the outside from (a UDP socket's local address once "connected",
/// which sends nothing), falling back to loopback on a host without a route.
pub fn default_advertise_address(listen: IpAddr) -> IpAddr {
    if !listen.is_unspecified() {
        return listen;
    }
    let primary = std::net::UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0))
        .and_then(|s| s.connect((Ipv4Addr::new(8, 8, 8, 8), 53)).and_then(|_| s.local_addr()));
    match primary {
        Ok(addr) if !addr.ip().is_unspecified() => addr.ip(),
        _ => IpAddr::V4(Ipv4Addr::LOCALHOST),
    }
}

/// How long a stopping apiserver waits for open calls (watches never end by themselves).
const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);

/// Repairs the service allocations now and then, as Kubernetes' repair
/// controllers do, for what a crash between allocating and writing leaked.
async fn repair_allocations(registry: Arc<registry::Registry>) {
    loop {
        tokio::time::sleep(alloc::REPAIR_INTERVAL).await;
        match registry.services().repair(alloc::REPAIR_GRACE).await {
            Ok(report) if report != alloc::RepairReport::default() => {
                tracing::info!(?report, "repaired service IP and node port allocations")
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "repairing service allocations"),
        }
    }
}

/// Connects to the store the config names.
pub async fn open_store(config: &Config) -> anyhow::Result<Arc<dyn Store>> {
    let backing: Arc<dyn Store> = if config.in_memory {
        tracing::warn!("--in-memory: objects are kept in memory only and are lost when the apiserver stops");
        // Like etcd's compaction, keep a bounded history so memory does not grow with every write.
        Arc::new(store::mem::MemStore::with_history_limit(config.watch_cache_size.max(1000)))
    } else {
        Arc::new(store::etcd::EtcdStore::connect(&config.etcd_servers).await?)
    };
    // Watches fan out from one store watch per resource, as Kubernetes' watch cache does.
    Ok(Arc::new(store::cache::CachedWatchStore::new(backing, config.watch_cache_size)))
}

/// Serves the API until `shutdown` resolves.
pub async fn run(
    config: Config,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let store = open_store(&config).await?;
    let compactor = (!config.in_memory && !config.etcd_compaction_interval.is_zero())
        .then(|| tokio::spawn(store::compactor::run(store.clone(), config.etcd_compaction_interval)));
    let listener = tokio::net::TcpListener::bind(config.listen).await?;
    let services = config.service_config();
    tracing::info!(cluster_ip_range = %services.cluster_ip_range, node_port_range = %services.node_port_range,
        advertise_address = %services.advertise_address, "service settings");
    let served = serve_with(store, listener, services, config.event_ttl, shutdown).await;
    if let Some(compactor) = compactor {
        compactor.abort();
    }
    served
}

/// Serves the API on an already bound listener (tests bind port 0), with the
/// default service ranges and the listener's address as the advertise address.
pub async fn serve(
    store: Arc<dyn Store>,
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let local = listener.local_addr()?;
    let services = alloc::ServiceConfig {
        advertise_address: default_advertise_address(local.ip()),
        port: local.port(),
        ..Default::default()
    };
    serve_with(store, listener, services, registry::DEFAULT_EVENT_TTL, shutdown).await
}

/// Serves the API on a bound listener with the given service settings and Event TTL.
pub async fn serve_with(
    store: Arc<dyn Store>,
    listener: tokio::net::TcpListener,
    services: alloc::ServiceConfig,
    event_ttl: Duration,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let advertise_address = services.advertise_address;
    // The OpenAPI documents take a moment to build: do it now, not in the first kubectl's request.
    tokio::task::spawn_blocking(|| {
        openapi::OpenApi::get();
    });
    let registry = Arc::new(registry::Registry::with_services(store, services).with_event_ttl(event_ttl));
    registry.bootstrap().await?;
    let namespaces = tokio::spawn(registry.clone().watch_namespaces());
    let repairs = tokio::spawn(repair_allocations(registry.clone()));

    let (reporter, health) = tonic_health::server::health_reporter();
    reporter.set_serving::<proto::api_server::ApiServer<service::ApiService>>().await;
    let streaming = Arc::new(proxy::StreamingService::new(registry.clone()));
    let api = proto::api_server::ApiServer::new(service::ApiService::new(registry.clone()))
        .max_decoding_message_size(64 << 20)
        .max_encoding_message_size(256 << 20);
    let grpc = tonic::service::Routes::new(health)
        .add_service(api)
        .add_service(proto::streaming_server::StreamingServer::from_arc(streaming.clone()))
        .prepare()
        .into_axum_router();
    let local = listener.local_addr()?;
    let server_address = format!("{advertise_address}:{}", local.port());
    let rest = http::router(Arc::new(http::Front {
        registry,
        streaming,
        server_address,
        rows: http::rows::RowCache::new(http::rows::BUDGET),
    }));
    tracing::info!(addr = %local, "apiserver serving gRPC and HTTP");
    let result = http::serve(listener, grpc, rest, shutdown, SHUTDOWN_GRACE).await;
    namespaces.abort();
    repairs.abort();
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[test]
    fn etcd_history_is_compacted_every_five_minutes_unless_told_otherwise() {
        let defaults = Config::try_parse_from(["apiserver"]).expect("defaults");
        assert_eq!(defaults.etcd_compaction_interval, Duration::from_secs(300));
        let never = Config::try_parse_from(["apiserver", "--etcd-compaction-interval", "0"]).expect("0");
        assert!(never.etcd_compaction_interval.is_zero());
        let hourly = Config::try_parse_from(["apiserver", "--etcd-compaction-interval", "1h30m"]).expect("1h30m");
        assert_eq!(hourly.etcd_compaction_interval, Duration::from_secs(5400));
        let bad = Config::try_parse_from(["apiserver", "--etcd-compaction-interval", "often"]).expect_err("often");
        assert!(bad.to_string().contains("invalid duration \"often\""), "{bad}");
    }

    #[test]
    fn events_are_kept_an_hour_unless_told_otherwise() {
        let defaults = Config::try_parse_from(["apiserver"]).expect("defaults");
        assert_eq!(defaults.event_ttl, Duration::from_secs(3600));
        let short = Config::try_parse_from(["apiserver", "--event-ttl", "90m"]).expect("90m");
        assert_eq!(short.event_ttl, Duration::from_secs(5400));
        let kept = Config::try_parse_from(["apiserver", "--event-ttl", "0"]).expect("0");
        assert!(kept.event_ttl.is_zero());
        let bad = Config::try_parse_from(["apiserver", "--event-ttl", "1d"]).expect_err("1d");
        assert!(bad.to_string().contains(r#"time: unknown unit "d" in duration "1d""#), "{bad}");
    }
}
