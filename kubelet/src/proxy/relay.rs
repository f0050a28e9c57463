//! The data path of the node proxy: a balancer per service port that picks a
//! backend (round robin, or sticky per client IP with `sessionAffinity:
//! ClientIP`), and listeners that relay each accepted TCP connection to the
//! backend picked, as kube-proxy's userspace mode did.
//!
//! Backends are swapped in place ([`Balancer::set`]): a change of Endpoints
//! never touches a listener or an open connection, only where the next
//! connection goes.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::net::{TcpListener, TcpStream};

/// How long one connect to a backend may take before the next one is tried.
/// Backends are on the same bridge: a healthy one answers in microseconds.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);

#[derive(Debug, Default)]
struct State {
    backends: Vec<SocketAddr>,
    next: usize,
    affinity: Option<Duration>,
    /// Client IP -> its backend and when it last connected.
    sticky: HashMap<IpAddr, (SocketAddr, Instant)>,
}

/// The backends of one service port and the picking state.
#[derive(Debug, Default)]
pub struct Balancer {
    state: Mutex<State>,
}

impl Balancer {
    pub fn new(backends: Vec<SocketAddr>, affinity: Option<Duration>) -> Self {
        let balancer = Self::default();
        balancer.set(backends, affinity);
        balancer
    }

    /// Replaces the backends; clients stuck to a backend that is gone are let go.
    pub fn set(&self, backends: Vec<SocketAddr>, affinity: Option<Duration>) {
        let mut s = self.state.lock().expect("balancer lock");
        if affinity.is_none() {
            s.sticky.clear();
        } else {
            s.sticky.retain(|_, (b, _)| backends.contains(b));
        }
        s.affinity = affinity;
        s.backends = backends;
    }

    pub fn backends(&self) -> Vec<SocketAddr> {
        self.state.lock().expect("balancer lock").backends.clone()
    }

    /// The backend for a new connection from `client`, skipping `tried` ones.
    pub fn pick(&self, client: IpAddr, now: Instant, tried: &[SocketAddr]) -> Option<SocketAddr> {
        let mut s = self.state.lock().expect("balancer lock");
        if let Some(timeout) = s.affinity {
            if let Some((backend, last)) = s.sticky.get(&client).copied() {
                if now.saturating_duration_since(last) < timeout && !tried.contains(&backend) {
                    s.sticky.insert(client, (backend, now));
                    return Some(backend);
                }
                s.sticky.remove(&client);
            }
        }
        let n = s.backends.len();
        let backend = (0..n).map(|i| s.backends[(s.next + i) % n]).find(|b| !tried.contains(b))?;
        let at = s.backends.iter().position(|b| *b == backend).unwrap_or(0);
        s.next = (at + 1) % n;
        if s.affinity.is_some() {
            s.sticky.insert(client, (backend, now));
        }
        Some(backend)
    }
}

/// Relays one accepted connection to a backend of `balancer`. A backend that
/// does not accept is skipped for the next; with none left the client's
/// connection is closed at once.
pub async fn relay(mut inbound: TcpStream, client: SocketAddr, balancer: Arc<Balancer>) {
    let mut tried = Vec::new();
    let mut outbound = loop {
        let Some(backend) = balancer.pick(client.ip(), Instant::now(), &tried) else {
            tracing::debug!(%client, "no backend accepted the connection; closing it");
            return;
        };
        match tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(backend)).await {
            Ok(Ok(stream)) => break stream,
            Ok(Err(e)) => tracing::debug!(%backend, error = %e, "backend refused; trying another"),
            Err(_) => tracing::debug!(%backend, "backend did not answer; trying another"),
        }
        tried.push(backend);
    };
    inbound.set_nodelay(true).ok();
    outbound.set_nodelay(true).ok();
    // Either side closing, or resetting, ends the relay; nothing to report.
    let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
}

/// The relays' own runtime: one thread that runs every listener and relay
/// task of the node. A request crossing the proxy wakes the relay twice; on
/// one current-thread runtime that is a local wake-up, where the kubelet's
/// work-stealing runtime would hand tasks between threads (futex calls and
/// cold caches on every request). One thread relays tens of thousands of
/// requests a second, far more than a node of this cluster sees.
fn data_path() -> &'static tokio::runtime::Handle {
    static HANDLE: std::sync::OnceLock<tokio::runtime::Handle> = std::sync::OnceLock::new();
    HANDLE.get_or_init(|| {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("the proxy's runtime");
        let handle = rt.handle().clone();
        std::thread::Builder::new()
            .name("proxy-relay".into())
            .spawn(move || rt.block_on(std::future::pending::<()>()))
            .expect("the proxy's thread");
        handle
    })
}

/// Serves `listener` (non-blocking) on the relays' runtime; aborting the
/// returned task closes the socket.
pub fn spawn_serve(listener: std::net::TcpListener, balancer: Arc<Balancer>) -> tokio::task::JoinHandle<()> {
    data_path().spawn(async move {
        match TcpListener::from_std(listener) {
            Ok(listener) => serve(listener, balancer).await,
            Err(e) => tracing::warn!(error = %e, "cannot serve a proxy listener"),
        }
    })
}

/// Accepts connections on `listener` and relays each one, until the task is aborted.
pub async fn serve(listener: TcpListener, balancer: Arc<Balancer>) {
    loop {
        match listener.accept().await {
            Ok((stream, peer)) => {
                tokio::spawn(relay(stream, peer, balancer.clone()));
            }
            Err(e) => {
                // Out of file descriptors and the like: wait instead of spinning.
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    fn addr(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    const A: &str = "10.244.1.2:8080";
    const B: &str = "10.244.1.3:8080";
    const C: &str = "10.244.1.4:8080";

    #[test]
    fn round_robin_spreads_evenly_over_every_backend() {
        let b = Balancer::new(vec![addr(A), addr(B), addr(C)], None);
        let now = Instant::now();
        let client: IpAddr = "10.244.9.9".parse().unwrap();
        let mut counts = BTreeMap::new();
        for _ in 0..9 {
            *counts.entry(b.pick(client, now, &[]).unwrap()).or_insert(0) += 1;
        }
        assert_eq!(counts, BTreeMap::from([(addr(A), 3), (addr(B), 3), (addr(C), 3)]));
    }

    #[test]
    fn a_failed_backend_is_skipped_for_the_same_connection() {
        let b = Balancer::new(vec![addr(A), addr(B)], None);
        let client: IpAddr = "10.244.9.9".parse().unwrap();
        let now = Instant::now();
        let first = b.pick(client, now, &[]).unwrap();
        let second = b.pick(client, now, &[first]).unwrap();
        assert_ne!(first, second);
        assert_eq!(b.pick(client, now, &[first, second]), None);
    }

    #[test]
    fn no_backends_picks_nothing() {
        let b = Balancer::new(vec![], Some(Duration::from_secs(10)));
        assert_eq!(b.pick("10.0.0.1".parse().unwrap(), Instant::now(), &[]), None);
    }

    #[test]
    fn client_ip_affinity_sticks_until_the_timeout_passes_idle() {
        let b = Balancer::new(vec![addr(A), addr(B), addr(C)], Some(Duration::from_secs(60)));
        let one: IpAddr = "10.244.9.1".parse().unwrap();
        let two: IpAddr = "10.244.9.2".parse().unwrap();
        let t0 = Instant::now();
        let first = b.pick(one, t0, &[]).unwrap();
        // Each connection within the timeout renews it.
        for s in [10, 50, 100] {
            assert_eq!(b.pick(one, t0 + Duration::from_secs(s), &[]), Some(first));
        }
        // Another client goes round robin.
        assert_ne!(b.pick(two, t0, &[]), Some(first));
        // 60 s idle: a fresh pick, which round robin moves on from.
        let later = b.pick(one, t0 + Duration::from_secs(161), &[]).unwrap();
        assert_ne!(later, first);
        assert_eq!(b.pick(one, t0 + Duration::from_secs(162), &[]), Some(later));
    }

    #[test]
    fn a_removed_backend_loses_its_sticky_clients() {
        let b = Balancer::new(vec![addr(A), addr(B)], Some(Duration::from_secs(60)));
        let client: IpAddr = "10.244.9.1".parse().unwrap();
        let now = Instant::now();
        let first = b.pick(client, now, &[]).unwrap();
        let other = if first == addr(A) { addr(B) } else { addr(A) };
        b.set(vec![other], Some(Duration::from_secs(60)));
        assert_eq!(b.pick(client, now, &[]), Some(other));
    }

    /// A server that answers every connection with its name and closes.
    async fn named_server(name: &'static str) -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let at = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((mut s, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let mut buf = [0u8; 64];
                    let n = s.read(&mut buf).await.unwrap_or(0);
                    let _ = s.write_all(format!("{name}:{}", String::from_utf8_lossy(&buf[..n])).as_bytes()).await;
                });
            }
        });
        at
    }

    async fn ask(at: SocketAddr) -> std::io::Result<String> {
        let mut s = TcpStream::connect(at).await?;
        s.write_all(b"hi").await?;
        let mut out = String::new();
        s.read_to_string(&mut out).await?;
        Ok(out)
    }

    #[tokio::test]
    async fn connections_are_relayed_to_every_backend_and_follow_changes() {
        let one = named_server("one").await;
        let two = named_server("two").await;
        let balancer = Arc::new(Balancer::new(vec![one, two], None));
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let front = listener.local_addr().unwrap();
        let task = tokio::spawn(serve(listener, balancer.clone()));

        let mut answers = Vec::new();
        for _ in 0..4 {
            answers.push(ask(front).await.unwrap());
        }
        answers.sort();
        assert_eq!(answers, ["one:hi", "one:hi", "two:hi", "two:hi"]);

        // "two" is removed: every new connection goes to "one".
        balancer.set(vec![one], None);
        for _ in 0..3 {
            assert_eq!(ask(front).await.unwrap(), "one:hi");
        }

        // A backend that refuses is skipped: the client still gets an answer.
        let dead = {
            let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
            l.local_addr().unwrap()
        };
        balancer.set(vec![dead, one], None);
        for _ in 0..3 {
            assert_eq!(ask(front).await.unwrap(), "one:hi");
        }

        // No backend at all: the client's connection is closed without an answer.
        balancer.set(vec![], None);
        assert_eq!(ask(front).await.unwrap_or_default(), "");
        task.abort();
    }
}
