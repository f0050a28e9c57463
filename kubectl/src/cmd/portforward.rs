//! `kubectl port-forward`: listens on local ports and, for every accepted TCP
//! connection, opens its own forwarded stream to the pod's port through the
//! apiserver, copying both ways at once; any number of connections run
//! concurrently. Port specs, address handling and messages follow kubectl and
//! client-go's port forwarder.

use super::{pod_target, Ctx};
use crate::cli::PortForwardArgs;
use crate::error::{Error, Result};
use crate::typed::decode;
use api::k8s_openapi::api::core::v1::{ContainerPort, Pod, Service};
use api::k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use api::ApiError;
use client::streaming::ByteStream;
use client::Client;
use futures::future::LocalBoxFuture;
use futures::{Stream, StreamExt};
use std::future::Future;
use std::io::Write;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Where progress lines and errors go; shared by every connection's task.
pub type Output = Arc<Mutex<dyn Write + Send>>;

/// The bytes a local connection sends toward the pod; its end is the local half-close.
pub type ForwardInput = Pin<Box<dyn Stream<Item = Vec<u8>> + Send>>;

/// Opens one forwarded connection to a port of the pod. One call per local TCP
/// connection; the real one is [`Client::port_forward`], tests use fakes.
///
/// The future need not be `Send`: rustc cannot prove the client's streaming future
/// `Send` in a generic context (a known higher-ranked lifetime limitation), so the
/// connections run as local tasks on the serving thread instead.
pub trait Forwarder: Send + Sync + 'static {
    fn open(&self, remote_port: u16, input: ForwardInput) -> OpenFuture;
}

/// What [`Forwarder::open`] returns.
pub type OpenFuture = LocalBoxFuture<'static, std::result::Result<ByteStream, ApiError>>;

/// Forwards through the apiserver to one pod.
pub struct PodForwarder {
    pub client: Client,
    pub namespace: String,
    pub pod: String,
}

impl Forwarder for PodForwarder {
    fn open(&self, remote_port: u16, input: ForwardInput) -> OpenFuture {
        let (client, namespace, pod) = (self.client.clone(), self.namespace.clone(), self.pod.clone());
        Box::pin(async move { client.port_forward(&namespace, &pod, u32::from(remote_port), input).await })
    }
}

/// A local port and the pod port it forwards to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ForwardedPort {
    pub local: u16,
    pub remote: u16,
}

/// kubectl's `splitPort`: `LOCAL:REMOTE`, or one port for both.
pub fn split_port(spec: &str) -> (&str, &str) {
    let parts: Vec<&str> = spec.split(':').collect();
    if parts.len() == 2 {
        (parts[0], parts[1])
    } else {
        (parts[0], parts[0])
    }
}

/// Go's `strconv.ParseUint(s, 10, 16)` errors, in its words.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
enum PortError {
    #[error("strconv.ParseUint: parsing {0:?}: invalid syntax")]
    Syntax(String),
    #[error("strconv.ParseUint: parsing {0:?}: value out of range")]
    Range(String),
}

/// Go's `strconv.ParseUint(s, 10, 16)`.
fn parse_u16(s: &str) -> std::result::Result<u16, PortError> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(PortError::Syntax(s.to_string()));
    }
    s.parse::<u16>().map_err(|_| PortError::Range(s.to_string()))
}

/// client-go's `parsePorts`: `5000`, `8888:5000`, `:5000` and `0:5000` (a random local port).
pub fn parse_ports(specs: &[String]) -> Result<Vec<ForwardedPort>> {
    specs
        .iter()
        .map(|spec| {
            let parts: Vec<&str> = spec.split(':').collect();
            let (local, remote) = match parts.as_slice() {
                [one] => (*one, *one),
                [l, r] => (if l.is_empty() { "0" } else { *l }, *r),
                _ => return Err(Error::msg(format!("invalid port format '{spec}'"))),
            };
            let local = parse_u16(local).map_err(|e| Error::msg(format!("error parsing local port '{local}': {e}")))?;
            let remote =
                parse_u16(remote).map_err(|e| Error::msg(format!("error parsing remote port '{remote}': {e}")))?;
            if remote == 0 {
                return Err(Error::msg("remote port must be > 0"));
            }
            Ok(ForwardedPort { local, remote })
        })
        .collect()
}

/// `[{8888 8080} {9999 80}]`, as Go prints the port list in errors.
fn go_ports(ports: &[ForwardedPort]) -> String {
    let items: Vec<String> = ports.iter().map(|p| format!("{{{} {}}}", p.local, p.remote)).collect();
    format!("[{}]", items.join(" "))
}

/// The ports of the pod's containers.
fn container_ports(pod: &Pod) -> Vec<ContainerPort> {
    pod.spec.iter().flat_map(|s| &s.containers).flat_map(|c| c.ports.iter().flatten()).cloned().collect()
}

/// A named port of one of the pod's containers.
fn container_port_by_name(pod: &Pod, name: &str) -> Result<i64> {
    container_ports(pod)
        .iter()
        .find(|p| p.name.as_deref() == Some(name))
        .map(|p| i64::from(p.container_port))
        .ok_or_else(|| {
            let pod_name = pod.metadata.name.as_deref().unwrap_or("");
            Error::msg(format!("Pod '{pod_name}' does not have a named port '{name}'"))
        })
}

/// kubectl's `convertPodNamedPortToNumber`: `8080:http` becomes `8080:<http's port>`.
pub fn convert_named_ports(specs: &[String], pod: &Pod) -> Result<Vec<String>> {
    specs
        .iter()
        .map(|spec| {
            let (local, remote) = split_port(spec);
            let number = if remote.parse::<i64>().is_ok() {
                remote.to_string()
            } else {
                container_port_by_name(pod, remote)?.to_string()
            };
            Ok(if local != remote { format!("{local}:{number}") } else { number })
        })
        .collect()
}

/// The service's port called `name`.
fn service_port_by_name(svc: &Service, name: &str) -> Result<i64> {
    let ports = svc.spec.iter().flat_map(|s| s.ports.iter().flatten());
    ports.clone().find(|p| p.name.as_deref() == Some(name)).map(|p| i64::from(p.port)).ok_or_else(|| {
        let svc_name = svc.metadata.name.as_deref().unwrap_or("");
        Error::msg(format!("Service '{svc_name}' does not have a named port '{name}'"))
    })
}

/// kubectl's `translateServicePortToTargetPort`: service ports (by number or name)
/// become the target ports of the chosen pod.
pub fn translate_service_ports(specs: &[String], svc: &Service, pod: &Pod) -> Result<Vec<String>> {
    let svc_name = svc.metadata.name.as_deref().unwrap_or("");
    let spec = svc.spec.clone().unwrap_or_default();
    let svc_ports = spec.ports.unwrap_or_default();
    specs
        .iter()
        .map(|spec_text| {
            let (local, remote) = split_port(spec_text);
            let mut local = local.to_string();
            let port = match remote.parse::<i64>() {
                Ok(n) => n,
                Err(_) => {
                    let n = service_port_by_name(svc, remote)?;
                    if local == remote {
                        local = n.to_string();
                    }
                    n
                }
            };
            let sp = svc_ports
                .iter()
                .find(|p| i64::from(p.port) == port)
                .ok_or_else(|| Error::msg(format!("Service {svc_name} does not have a service port {port}")))?;
            let target = if spec.cluster_ip.as_deref() == Some("None") {
                port
            } else {
                match &sp.target_port {
                    Some(IntOrString::String(name)) => container_port_by_name(pod, name)?,
                    Some(IntOrString::Int(n)) if *n != 0 => i64::from(*n),
                    _ => port,
                }
            };
            let target = target.to_string();
            Ok(if local != target { format!("{local}:{target}") } else { target })
        })
        .collect()
}

/// kubectl refuses to forward to ports that are declared UDP only.
fn check_udp(specs: &[String], declared: &[(i64, String)], resolve: impl Fn(&str) -> Result<i64>) -> Result<()> {
    let udp_only = |n: i64| {
        declared.iter().any(|(p, proto)| *p == n && proto == "UDP")
            && !declared.iter().any(|(p, proto)| *p == n && (proto == "TCP" || proto.is_empty()))
    };
    for spec in specs {
        let (_, remote) = split_port(spec);
        let n = match remote.parse::<i64>() {
            Ok(n) => n,
            Err(_) => resolve(remote)?,
        };
        if udp_only(n) {
            return Err(Error::msg(format!("UDP protocol is not supported for {remote}")));
        }
    }
    Ok(())
}

/// A local address to listen on. Those from `localhost` fail only if all do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListenAddress {
    pub ip: IpAddr,
    pub from_localhost: bool,
}

/// client-go's `parseAddresses`: `localhost` is both 127.0.0.1 and ::1; the result is sorted.
pub fn parse_addresses(addresses: &[String]) -> Result<Vec<ListenAddress>> {
    let mut parsed: Vec<(String, ListenAddress)> = Vec::new();
    let mut add = |text: String, addr: ListenAddress| {
        if !parsed.iter().any(|(t, _)| *t == text) {
            parsed.push((text, addr));
        }
    };
    for a in addresses {
        if a == "localhost" {
            add("127.0.0.1".into(), ListenAddress { ip: [127, 0, 0, 1].into(), from_localhost: true });
            add("::1".into(), ListenAddress { ip: std::net::Ipv6Addr::LOCALHOST.into(), from_localhost: true });
        } else {
            let ip: IpAddr = a.parse().map_err(|_| Error::msg(format!("{a} is not a valid IP")))?;
            add(a.clone(), ListenAddress { ip, from_localhost: false });
        }
    }
    if parsed.is_empty() {
        return Err(Error::msg("you must specify at least 1 address"));
    }
    parsed.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(parsed.into_iter().map(|(_, a)| a).collect())
}

/// Go's `net.JoinHostPort`: IPv6 hosts in brackets.
fn join_host_port(ip: IpAddr, port: u16) -> String {
    match ip {
        IpAddr::V4(v4) => format!("{v4}:{port}"),
        IpAddr::V6(v6) => format!("[{v6}]:{port}"),
    }
}

/// A bind error as Go's `net.Listen` words it.
fn listen_error(ip: IpAddr, port: u16, e: &std::io::Error) -> String {
    let network = if ip.is_ipv4() { "tcp4" } else { "tcp6" };
    let cause = match e.kind() {
        std::io::ErrorKind::AddrInUse => "bind: address already in use".to_string(),
        std::io::ErrorKind::PermissionDenied => "bind: permission denied".to_string(),
        std::io::ErrorKind::AddrNotAvailable => "bind: cannot assign requested address".to_string(),
        _ => e.to_string(),
    };
    format!("unable to create listener: Error listen {network} {}: {cause}", join_host_port(ip, port))
}

fn say(out: &Output, text: &str) {
    let mut w = out.lock().unwrap_or_else(|e| e.into_inner());
    let _ = w.write_all(text.as_bytes()).and_then(|_| w.flush());
}

/// An error line in the klog format client-go's `runtime.HandleError` prints.
fn log_error(err: &Output, msg: &str) {
    let now = jiff::Timestamp::now();
    let header = format!(
        "E{}.{:06} {:>7} portforward.go:424]",
        now.strftime("%m%d %H:%M:%S"),
        now.subsec_nanosecond() / 1000,
        std::process::id()
    );
    say(err, &format!("{header} {msg}\n"));
}

/// Binds every port on every address, printing `Forwarding from ...` for each
/// listener. A random local port (`:5000`) is chosen by the first address and
/// reused for the others. Fails only if no port could be listened on at all.
pub async fn listen(
    ports: &mut [ForwardedPort],
    addresses: &[ListenAddress],
    out: &Output,
    err: &Output,
) -> Result<Vec<(TcpListener, ForwardedPort)>> {
    let mut listeners = Vec::new();
    let mut any_port = false;
    for port in ports.iter_mut() {
        let mut errors = Vec::new();
        let (mut localhost_ok, mut localhost_failed, mut other_failed) = (0, 0, 0);
        let mut bound = Vec::new();
        for addr in addresses {
            match TcpListener::bind(SocketAddr::new(addr.ip, port.local)).await {
                Ok(l) => {
                    port.local = l.local_addr().map(|a| a.port()).unwrap_or(port.local);
                    say(out, &format!("Forwarding from {} -> {}\n", join_host_port(addr.ip, port.local), port.remote));
                    localhost_ok += usize::from(addr.from_localhost);
                    bound.push(l);
                }
                Err(e) => {
                    errors.push(listen_error(addr.ip, port.local, &e));
                    if addr.from_localhost {
                        localhost_failed += 1;
                    } else {
                        other_failed += 1;
                    }
                }
            }
        }
        // Listeners that did bind keep serving even when the port counts as failed, as in client-go.
        listeners.extend(bound.into_iter().map(|l| (l, *port)));
        if (localhost_ok == 0 && localhost_failed > 0) || other_failed > 0 {
            say(
                err,
                &format!(
                    "Unable to listen on port {}: Listeners failed to create with the following errors: [{}]\n",
                    port.local,
                    errors.join(" ")
                ),
            );
        } else {
            any_port = true;
        }
    }
    if !any_port {
        return Err(Error::msg(format!("unable to listen on any of the requested ports: {}", go_ports(ports))));
    }
    Ok(listeners)
}

/// The local connection's incoming bytes as a stream; it ends at EOF or on a read error.
fn read_stream(rd: tokio::net::tcp::OwnedReadHalf) -> ForwardInput {
    Box::pin(futures::stream::unfold(rd, |mut rd| async move {
        let mut buf = vec![0u8; 32 * 1024];
        match rd.read(&mut buf).await {
            Ok(0) | Err(_) => None,
            Ok(n) => {
                buf.truncate(n);
                Some((buf, rd))
            }
        }
    }))
}

/// One local connection: open a forwarded stream for it and copy both ways until
/// the pod's side ends (the local side's end is passed on as a half-close).
pub async fn handle_connection(
    conn: TcpStream,
    port: ForwardedPort,
    fwd: Arc<dyn Forwarder>,
    out: Output,
    err: Output,
) {
    say(&out, &format!("Handling connection for {}\n", port.local));
    let _ = conn.set_nodelay(true);
    let (rd, mut wr) = conn.into_split();
    let mut remote = match fwd.open(port.remote, read_stream(rd)).await {
        Ok(s) => s,
        Err(e) => {
            log_error(&err, &format!("an error occurred forwarding {} -> {}: {}", port.local, port.remote, e.message));
            return;
        }
    };
    while let Some(chunk) = remote.next().await {
        match chunk {
            Ok(data) => {
                if wr.write_all(&data).await.is_err() {
                    // The local client went away; dropping the stream ends the forwarded connection.
                    return;
                }
            }
            Err(e) => {
                log_error(
                    &err,
                    &format!("an error occurred forwarding {} -> {}: {}", port.local, port.remote, e.message),
                );
                break;
            }
        }
    }
    let _ = wr.shutdown().await;
}

/// Accepts connections on every listener, each handled in its own task, until
/// `stop` resolves; then every connection still open is dropped.
pub async fn serve(
    listeners: Vec<(TcpListener, ForwardedPort)>,
    fwd: Arc<dyn Forwarder>,
    out: Output,
    err: Output,
    stop: impl Future<Output = ()>,
) {
    let tasks = tokio::task::LocalSet::new();
    for (listener, port) in listeners {
        let (fwd, out, err) = (fwd.clone(), out.clone(), err.clone());
        tasks.spawn_local(async move {
            loop {
                match listener.accept().await {
                    Ok((conn, _)) => {
                        tokio::task::spawn_local(handle_connection(conn, port, fwd.clone(), out.clone(), err.clone()));
                    }
                    Err(e) => {
                        log_error(&err, &format!("error accepting connection on port {}: {e}", port.local));
                        // Out of file descriptors and the like: give the system a moment.
                        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                    }
                }
            }
        });
    }
    tasks.run_until(stop).await;
}

pub async fn run(ctx: &mut Ctx, a: PortForwardArgs) -> Result<()> {
    if a.args.len() < 2 {
        return Err(Error::msg(
            "TYPE/NAME and list of ports are required for port-forward\nSee 'kubectl port-forward -h' for help and \
             examples",
        ));
    }
    let (info, obj) = pod_target::get_object(ctx, &a.args[0]).await?;
    let is_service = info.kind == "Service";
    let svc: Option<Service> = if is_service { decode(&obj).ok() } else { None };
    let (pod, _) = pod_target::pod_for_object(ctx, info, obj).await?;
    let specs = &a.args[1..];
    let protocol = |p: &Option<String>| p.clone().unwrap_or_default();
    let converted = match &svc {
        Some(svc) => {
            let ports = svc.spec.iter().flat_map(|s| s.ports.iter().flatten());
            let declared: Vec<(i64, String)> = ports.map(|p| (i64::from(p.port), protocol(&p.protocol))).collect();
            check_udp(specs, &declared, |name| service_port_by_name(svc, name))?;
            translate_service_ports(specs, svc, &pod)?
        }
        None => {
            let declared: Vec<(i64, String)> =
                container_ports(&pod).iter().map(|p| (i64::from(p.container_port), protocol(&p.protocol))).collect();
            check_udp(specs, &declared, |name| container_port_by_name(&pod, name))?;
            convert_named_ports(specs, &pod)?
        }
    };
    let mut ports = parse_ports(&converted)?;
    let addresses = parse_addresses(&a.address)?;
    let pods_info = api::registry::lookup("pods").expect("pods are registered");
    let client = ctx.client().await?;
    let namespace = pod.metadata.namespace.clone().unwrap_or_default();
    let pod_name = pod.metadata.name.clone().unwrap_or_default();
    let current: Pod = decode(&client.get(pods_info, &namespace, &pod_name).await?)
        .map_err(|e| Error::msg(format!("unreadable pod: {e}")))?;
    let phase = api::pod::phase(&current);
    if phase != "Running" {
        return Err(Error::msg(format!("unable to forward port because pod is not running. Current status={phase}")));
    }
    // The connections' tasks print concurrently, so the streams become shared.
    let out: Output = Arc::new(Mutex::new(std::mem::replace(&mut ctx.out, Box::new(std::io::sink()))));
    let err: Output = Arc::new(Mutex::new(std::mem::replace(&mut ctx.err, Box::new(std::io::sink()))));
    let listeners = listen(&mut ports, &addresses, &out, &err).await?;
    let fwd = Arc::new(PodForwarder { client, namespace, pod: pod_name });
    serve(listeners, fwd, out, err, async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn port_pairs_parse_like_client_go() {
        let fp = |local, remote| ForwardedPort { local, remote };
        assert_eq!(
            parse_ports(&strings(&["5000", "8888:8080", ":9000", "0:80"])).unwrap(),
            [fp(5000, 5000), fp(8888, 8080), fp(0, 9000), fp(0, 80)]
        );
        let err = |s: &str| parse_ports(&strings(&[s])).unwrap_err().to_string();
        assert_eq!(err("1:2:3"), "error: invalid port format '1:2:3'");
        assert_eq!(
            err("abc:80"),
            "error: error parsing local port 'abc': strconv.ParseUint: parsing \"abc\": invalid syntax"
        );
        assert_eq!(
            err("8080:70000"),
            "error: error parsing remote port '70000': strconv.ParseUint: parsing \"70000\": value out of range"
        );
        assert_eq!(err("8080:0"), "error: remote port must be > 0");
        assert_eq!(err(":"), "error: error parsing remote port '': strconv.ParseUint: parsing \"\": invalid syntax");
        assert_eq!(go_ports(&[fp(8888, 8080), fp(1, 2)]), "[{8888 8080} {1 2}]");
    }

    fn pod() -> Pod {
        decode(&json!({"metadata": {"name": "kubia"}, "spec": {"containers": [{"name": "main", "ports": [
            {"name": "http", "containerPort": 8080}, {"name": "dns", "containerPort": 53, "protocol": "UDP"}]}]}}))
        .unwrap()
    }

    #[test]
    fn named_pod_ports_become_numbers() {
        assert_eq!(
            convert_named_ports(&strings(&["http", "9000:http", ":http", "7000"]), &pod()).unwrap(),
            ["8080", "9000:8080", ":8080", "7000"]
        );
        assert_eq!(
            convert_named_ports(&strings(&["web"]), &pod()).unwrap_err().to_string(),
            "error: Pod 'kubia' does not have a named port 'web'"
        );
        let declared = vec![(8080, String::new()), (53, "UDP".to_string())];
        assert_eq!(
            check_udp(&strings(&["53"]), &declared, |_| Ok(0)).unwrap_err().to_string(),
            "error: UDP protocol is not supported for 53"
        );
        assert!(check_udp(&strings(&["8080"]), &declared, |_| Ok(0)).is_ok());
    }

    #[test]
    fn service_ports_become_target_ports() {
        let svc: Service = decode(&json!({"metadata": {"name": "kubia"}, "spec": {"clusterIP": "10.0.0.1", "ports": [
            {"name": "web", "port": 80, "targetPort": 8080}, {"name": "alt", "port": 81, "targetPort": "http"},
            {"name": "same", "port": 82}]}}))
        .unwrap();
        assert_eq!(
            translate_service_ports(&strings(&["80", "9000:81", "web", "82"]), &svc, &pod()).unwrap(),
            ["80:8080", "9000:8080", "80:8080", "82"]
        );
        assert_eq!(
            translate_service_ports(&strings(&["90"]), &svc, &pod()).unwrap_err().to_string(),
            "error: Service kubia does not have a service port 90"
        );
    }

    #[test]
    fn addresses_follow_client_go() {
        let a = parse_addresses(&strings(&["localhost"])).unwrap();
        assert_eq!(a.iter().map(|a| a.ip.to_string()).collect::<Vec<_>>(), ["127.0.0.1", "::1"]);
        assert!(a.iter().all(|a| a.from_localhost));
        let a = parse_addresses(&strings(&["0.0.0.0", "localhost", "127.0.0.1"])).unwrap();
        assert_eq!(a.len(), 3);
        assert_eq!(
            parse_addresses(&strings(&["example.com"])).unwrap_err().to_string(),
            "error: example.com is not a valid IP"
        );
        assert_eq!(join_host_port("::1".parse().unwrap(), 8888), "[::1]:8888");
    }

    /// A writer the test can read back.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl Captured {
        fn text(&self) -> String {
            String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
        }
    }

    /// A pod that answers every connection with its input upper-cased, but only once
    /// `barrier` connections are open at the same time: the test hangs unless the
    /// connections really are served concurrently.
    struct Shouter {
        barrier: Arc<tokio::sync::Barrier>,
        opened: Arc<Mutex<Vec<u16>>>,
    }

    impl Forwarder for Shouter {
        fn open(&self, remote_port: u16, mut input: ForwardInput) -> OpenFuture {
            self.opened.lock().unwrap().push(remote_port);
            let barrier = self.barrier.clone();
            Box::pin(async move {
                let (tx, rx) = futures::channel::mpsc::unbounded::<std::result::Result<Vec<u8>, ApiError>>();
                tokio::spawn(async move {
                    barrier.wait().await;
                    while let Some(chunk) = input.next().await {
                        let _ = tx.unbounded_send(Ok(chunk.to_ascii_uppercase()));
                    }
                });
                Ok(Box::pin(rx) as ByteStream)
            })
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn twenty_connections_are_forwarded_concurrently_both_ways() {
        const CONNECTIONS: usize = 20;
        let (out, err) = (Captured::default(), Captured::default());
        let (out_w, err_w): (Output, Output) = (Arc::new(Mutex::new(out.clone())), Arc::new(Mutex::new(err.clone())));
        let mut ports = parse_ports(&strings(&[":8080"])).unwrap();
        let addresses = parse_addresses(&strings(&["127.0.0.1"])).unwrap();
        let listeners = listen(&mut ports, &addresses, &out_w, &err_w).await.unwrap();
        let local = ports[0].local;
        assert_ne!(local, 0);
        assert_eq!(out.text(), format!("Forwarding from 127.0.0.1:{local} -> 8080\n"));

        let opened = Arc::new(Mutex::new(Vec::new()));
        let fwd =
            Arc::new(Shouter { barrier: Arc::new(tokio::sync::Barrier::new(CONNECTIONS)), opened: opened.clone() });
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let server = serve(listeners, fwd, out_w.clone(), err_w.clone(), async {
            let _ = stop_rx.await;
        });

        let clients: Vec<_> = (0..CONNECTIONS)
            .map(|i| {
                tokio::spawn(async move {
                    let mut conn = TcpStream::connect(("127.0.0.1", local)).await.unwrap();
                    // Big enough to need several reads and writes on both sides.
                    let payload: Vec<u8> = format!("connection {i}: ")
                        .bytes()
                        .chain((0..200_000).map(|n| b"abcdefghij"[n % 10]))
                        .collect();
                    let (mut rd, mut wr) = conn.split();
                    let send = async {
                        wr.write_all(&payload).await.unwrap();
                        wr.shutdown().await.unwrap();
                    };
                    let mut answer = Vec::new();
                    let recv = rd.read_to_end(&mut answer);
                    let ((), n) = tokio::join!(send, recv);
                    n.unwrap();
                    assert_eq!(answer, payload.to_ascii_uppercase(), "connection {i}");
                })
            })
            .collect();
        let check = async {
            let all = futures::future::join_all(clients);
            let results = tokio::time::timeout(std::time::Duration::from_secs(60), all).await;
            let _ = stop_tx.send(());
            for r in results.expect("connections finished") {
                r.unwrap();
            }
        };
        tokio::join!(server, check);

        assert_eq!(*opened.lock().unwrap(), vec![8080; CONNECTIONS]);
        let handled = out.text().matches(&format!("Handling connection for {local}\n")).count();
        assert_eq!(handled, CONNECTIONS);
        assert_eq!(err.text(), "");
    }

    #[tokio::test]
    async fn failed_forwards_are_logged_and_the_connection_closed() {
        struct Refuser;
        impl Forwarder for Refuser {
            fn open(&self, _: u16, _: ForwardInput) -> OpenFuture {
                Box::pin(async { Err(ApiError::bad_request("pod kubia does not have a host assigned")) })
            }
        }
        let (out, err) = (Captured::default(), Captured::default());
        let (out_w, err_w): (Output, Output) = (Arc::new(Mutex::new(out.clone())), Arc::new(Mutex::new(err.clone())));
        let mut ports = vec![ForwardedPort { local: 0, remote: 80 }];
        let listeners =
            listen(&mut ports, &parse_addresses(&strings(&["127.0.0.1"])).unwrap(), &out_w, &err_w).await.unwrap();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let server = serve(listeners, Arc::new(Refuser), out_w, err_w, async {
            let _ = stop_rx.await;
        });
        let local = ports[0].local;
        let client = async {
            let mut conn = TcpStream::connect(("127.0.0.1", local)).await.unwrap();
            let mut buf = Vec::new();
            conn.read_to_end(&mut buf).await.unwrap();
            let _ = stop_tx.send(());
            buf
        };
        let ((), buf) = tokio::join!(server, client);
        assert!(buf.is_empty());
        assert!(err.text().ends_with(&format!(
            "portforward.go:424] an error occurred forwarding {} -> 80: pod kubia does not have a host assigned\n",
            ports[0].local
        )));
    }

    #[tokio::test]
    async fn busy_ports_are_reported_like_client_go() {
        let taken = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = taken.local_addr().unwrap().port();
        let (out, err) = (Captured::default(), Captured::default());
        let (out_w, err_w): (Output, Output) = (Arc::new(Mutex::new(out.clone())), Arc::new(Mutex::new(err.clone())));
        let mut ports = vec![ForwardedPort { local: port, remote: 80 }];
        let e =
            listen(&mut ports, &parse_addresses(&strings(&["127.0.0.1"])).unwrap(), &out_w, &err_w).await.unwrap_err();
        assert_eq!(e.to_string(), format!("error: unable to listen on any of the requested ports: [{{{port} 80}}]"));
        assert_eq!(
            err.text(),
            format!(
                "Unable to listen on port {port}: Listeners failed to create with the following errors: [unable to \
                 create listener: Error listen tcp4 127.0.0.1:{port}: bind: address already in use]\n"
            )
        );
        assert_eq!(out.text(), "");
    }
}
