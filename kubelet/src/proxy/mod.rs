//! The node proxy (kube-proxy's part on a kubelab node), in the style of
//! kube-proxy's userspace mode, since a container cannot program the host's
//! iptables: every ClusterIP is a /32 on the kubelet container's `lo`, the proxy
//! listens on `ClusterIP:port` (plus `0.0.0.0:nodePort` and, for LoadBalancer
//! services, `<node IP>:port`) and relays each TCP connection to a ready
//! endpoint. Pods reach ClusterIPs through the route their pause container adds
//! (`10.96.0.0/12 via <node IP>`), the host through the docker bridge.
//!
//! - [`rules`]: Services + Endpoints -> the wanted listeners and backends (pure).
//! - [`relay`]: backend picking (round robin, ClientIP affinity) and the TCP relay.
//! - [`netlink`]: the service addresses on `lo`.
//!
//! UDP service ports are not relayed (a deviation from kube-proxy): the only UDP
//! service the book uses is DNS, which the node-local DNS server answers on the
//! kube-dns ClusterIP itself.

pub mod netlink;
pub mod relay;
pub mod rules;

use crate::informers::ServiceInformers;
use netlink::Loopback;
use relay::Balancer;
use rules::{Plan, ServicePort};
use std::collections::{BTreeSet, HashMap};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use tokio::task::JoinHandle;

/// The listeners and balancers this node has now.
#[derive(Default)]
pub struct Proxier {
    balancers: HashMap<ServicePort, Arc<Balancer>>,
    listeners: HashMap<SocketAddr, (ServicePort, JoinHandle<()>)>,
    /// Sockets that could not be bound, with the error, to log each one once.
    failed: HashMap<SocketAddr, String>,
    /// Unsupported service ports already logged.
    warned: BTreeSet<ServicePort>,
}

impl Proxier {
    /// The sockets listened on now.
    pub fn listening(&self) -> BTreeSet<SocketAddr> {
        self.listeners.keys().copied().collect()
    }

    /// Brings listeners and backends in line with `plan`: new backends take
    /// effect for the next connection, open connections are never cut.
    pub async fn apply(&mut self, plan: &Plan) {
        for port in plan.unsupported.difference(&self.warned) {
            tracing::warn!(service_port = %port, "the node proxy relays TCP only; this service port is not proxied");
        }
        self.warned.clone_from(&plan.unsupported);

        self.balancers.retain(|port, _| plan.targets.contains_key(port));
        for (port, target) in &plan.targets {
            match self.balancers.get(port) {
                Some(b) => b.set(target.backends.clone(), target.affinity),
                None => {
                    let b = Arc::new(Balancer::new(target.backends.clone(), target.affinity));
                    self.balancers.insert(port.clone(), b);
                }
            }
        }

        // Close the sockets no longer wanted (or now serving another port).
        let gone: Vec<SocketAddr> = self
            .listeners
            .iter()
            .filter(|(at, (port, _))| plan.listeners.get(at) != Some(port))
            .map(|(at, _)| *at)
            .collect();
        for at in gone {
            if let Some((port, task)) = self.listeners.remove(&at) {
                tracing::info!(listen = %at, service_port = %port, "stopped proxying");
                close(task).await;
            }
        }
        self.failed.retain(|at, _| plan.listeners.contains_key(at));
        for (at, port) in &plan.listeners {
            if self.listeners.contains_key(at) {
                continue;
            }
            let Some(balancer) = self.balancers.get(port).cloned() else { continue };
            match bind(*at) {
                Ok(listener) => {
                    tracing::info!(listen = %at, service_port = %port, "proxying");
                    self.failed.remove(at);
                    let task = relay::spawn_serve(listener, balancer);
                    self.listeners.insert(*at, (port.clone(), task));
                }
                Err(e) => {
                    let e = e.to_string();
                    if self.failed.get(at) != Some(&e) {
                        tracing::warn!(listen = %at, service_port = %port, error = %e, "cannot listen; retrying on the next change");
                        self.failed.insert(*at, e);
                    }
                }
            }
        }
    }

    /// Stops every listener (open connections run on).
    pub async fn stop(&mut self) {
        for (_, (_, task)) in self.listeners.drain() {
            close(task).await;
        }
    }
}

/// Stops a listener's task and waits until its socket is closed, so that a
/// connection right after is refused and the address can be bound again.
async fn close(task: JoinHandle<()>) {
    task.abort();
    let _ = task.await;
}

/// A listening socket with SO_REUSEADDR, so a restarted kubelet binds again at
/// once while the last one's connections linger in TIME_WAIT.
fn bind(at: SocketAddr) -> std::io::Result<std::net::TcpListener> {
    let socket = if at.is_ipv4() { tokio::net::TcpSocket::new_v4()? } else { tokio::net::TcpSocket::new_v6()? };
    socket.set_reuseaddr(true)?;
    socket.bind(at)?;
    socket.listen(1024)?.into_std()
}

/// What the node proxy needs to know about its node.
#[derive(Debug, Clone)]
pub struct ProxyConfig {
    pub node_ip: IpAddr,
    /// The service CIDR: the node owns its /32s on `lo`.
    pub service_cidr: netlink::Cidr,
    /// The node-local DNS server's address (kube-dns's ClusterIP), kept on `lo`.
    pub cluster_dns: IpAddr,
}

/// Puts the cluster DNS address on `lo` so the DNS server can bind it before
/// any service is known. Addresses an earlier kubelet left stay until the
/// first full reconcile in [`run`] removes those no service wants, so a
/// restart does not cut the ClusterIPs pods are using.
pub async fn prepare_loopback(config: &ProxyConfig) -> netlink::Result<Loopback> {
    let lo = Loopback::open(config.service_cidr).await?;
    lo.add(&BTreeSet::from([config.cluster_dns])).await?;
    Ok(lo)
}

/// Keeps the node's proxying in line with the Services and Endpoints that
/// `informers` hold until `shutdown` resolves. With `lo` None no address is
/// managed (ClusterIPs must already be local).
pub async fn run(
    informers: ServiceInformers,
    config: ProxyConfig,
    lo: Option<Loopback>,
    shutdown: impl std::future::Future<Output = ()>,
) {
    let ServiceInformers { services, endpoints } = informers;
    // Subscribed before the first reconcile, so no change falls in between.
    let (mut service_changes, mut endpoints_changes) = (services.subscribe(), endpoints.subscribe());
    let mut proxier = Proxier::default();
    tokio::pin!(shutdown);
    tokio::select! {
        _ = async { tokio::join!(services.wait_synced(), endpoints.wait_synced()) } => {}
        _ = &mut shutdown => return proxier.stop().await,
    }
    loop {
        // Level-triggered: the whole plan from the stores, whatever woke us.
        let all = services.store().list();
        let plan = rules::plan(all.iter().map(|s| &**s), |key| endpoints.store().get(key), config.node_ip);
        let mut want = plan.cluster_ips.clone();
        want.insert(config.cluster_dns);
        if let Some(lo) = &lo {
            if let Err(e) = lo.add(&want).await {
                tracing::warn!(error = %e, "cannot put service addresses on lo");
            }
        }
        proxier.apply(&plan).await;
        if let Some(lo) = &lo {
            if let Err(e) = lo.remove_others(&want).await {
                tracing::warn!(error = %e, "cannot remove service addresses from lo");
            }
        }
        let changed = tokio::select! {
            _ = &mut shutdown => false,
            change = service_changes.recv() => change.is_some(),
            change = endpoints_changes.recv() => change.is_some(),
        };
        if !changed {
            break;
        }
        // Take whatever else is queued, so a burst of changes is one reconcile.
        while service_changes.try_recv().is_some() {}
        while endpoints_changes.try_recv().is_some() {}
    }
    proxier.stop().await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use rules::Target;
    use std::collections::BTreeMap;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::{TcpListener, TcpStream};

    /// A server that answers every connection with its name and closes it.
    async fn named_server(name: &'static str) -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let at = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((mut s, _)) = listener.accept().await {
                let _ = s.write_all(name.as_bytes()).await;
            }
        });
        at
    }

    async fn ask(at: SocketAddr) -> std::io::Result<String> {
        let mut s = TcpStream::connect(at).await?;
        let mut out = String::new();
        s.read_to_string(&mut out).await?;
        Ok(out)
    }

    /// A loopback port free a moment ago.
    fn free_port() -> SocketAddr {
        std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap()
    }

    fn plan(front: SocketAddr, backends: Vec<SocketAddr>) -> Plan {
        let port = "default/kubia:http".to_string();
        let listeners = if backends.is_empty() { BTreeMap::new() } else { BTreeMap::from([(front, port.clone())]) };
        Plan {
            targets: BTreeMap::from([(port, Target { backends, affinity: None })]),
            listeners,
            cluster_ips: BTreeSet::from([front.ip()]),
            unsupported: BTreeSet::new(),
        }
    }

    #[tokio::test]
    async fn a_service_answers_from_every_backend_and_refuses_without_any() {
        let one = named_server("one").await;
        let two = named_server("two").await;
        let front = free_port();
        let mut proxier = Proxier::default();

        proxier.apply(&plan(front, vec![one, two])).await;
        let mut answers = BTreeMap::new();
        for _ in 0..6 {
            *answers.entry(ask(front).await.unwrap()).or_insert(0) += 1;
        }
        assert_eq!(answers, BTreeMap::from([("one".to_string(), 3), ("two".to_string(), 3)]));

        // An open connection survives a change of backends; new ones follow it.
        let open = TcpStream::connect(front).await.unwrap();
        proxier.apply(&plan(front, vec![two])).await;
        for _ in 0..3 {
            assert_eq!(ask(front).await.unwrap(), "two");
        }
        assert_eq!(proxier.listening(), BTreeSet::from([front]));
        let mut open = open;
        let mut got = String::new();
        open.read_to_string(&mut got).await.unwrap();
        assert!(got == "one" || got == "two");

        // No ready backend: nothing listens, so the connection is refused.
        proxier.apply(&plan(front, vec![])).await;
        assert!(proxier.listening().is_empty());
        let err = TcpStream::connect(front).await.unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::ConnectionRefused);

        // Back again.
        proxier.apply(&plan(front, vec![one])).await;
        assert_eq!(ask(front).await.unwrap(), "one");

        // The service is gone.
        proxier.apply(&Plan::default()).await;
        assert_eq!(TcpStream::connect(front).await.unwrap_err().kind(), std::io::ErrorKind::ConnectionRefused);
    }
}
