//! The `services` scenario, on a running compose cluster (`./deploy/up.sh`):
//! what a Service costs a request, and how fast a pod turning Ready starts
//! receiving traffic through one.
//!
//! - Throughput and latency: closed-loop `GET /` from this host, a few
//!   concurrent clients, straight to a kubia pod's IP:8080, then the same load
//!   to the pod's node at the service's NodePort. A NodePort connection goes
//!   through the same node proxy, endpoint choice and relay as one to the
//!   ClusterIP from a pod; the host cannot reach ClusterIPs, which live on the
//!   nodes' and pods' loopback and routes. Both with kept-alive connections
//!   and with a connection per request (where the proxy's accept and connect
//!   show). Target: through the service at least 0.7x the direct rate.
//! - Endpoint propagation: the pod's readiness is a file; the bench removes it
//!   (exec), waits until the watch shows the pod unready and requests through
//!   the service fail, then creates it again. From the watch event showing the
//!   pod Ready to the first successful request through the service, with a
//!   fresh request every few milliseconds. Target: p99 under 1 s.
//!
//! - [`http`]: the minimal HTTP/1.1 client both loads use.

pub mod http;

use crate::report::{Report, Row};
use crate::startup::pods::{delete_namespace, ready_nodes};
use crate::stats::{format_duration, format_rate, format_ratio, ratio, thousands, throughput, Latencies};
use anyhow::Context as _;
use client::streaming::{ExecEvent, ExecParams, ExecSend};
use client::{Client, ListParams};
use futures::StreamExt;
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::time::Instant;

const SCENARIO: &str = "services";
const THROUGHPUT_TARGET: f64 = 0.7;
const PROPAGATION_P99_TARGET: Duration = Duration::from_secs(1);
const APP: &str = "bench-services";
const POD: &str = "backend";
const SERVICE: &str = "backend";
/// One request of the load; a slower one counts as an error.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
/// How often the propagation prober starts a request through the service.
const PROBE_INTERVAL: Duration = Duration::from_millis(5);
/// Pod start, readiness flips and the proxy catching up, each.
const WAIT: Duration = Duration::from_secs(120);
const FLIP: Duration = Duration::from_secs(15);

/// Flags of `bench services`.
#[derive(Debug, Clone, clap::Args)]
pub struct ServicesArgs {
    /// The running cluster's apiserver (host:port), as ./deploy/up.sh publishes it.
    #[arg(long, env = "BENCH_SERVER", default_value = "127.0.0.1:6443")]
    pub server: String,
    /// Concurrent clients of each load.
    #[arg(long, default_value_t = 4)]
    pub connections: usize,
    /// Seconds each of the four loads runs.
    #[arg(long, default_value_t = 5)]
    pub seconds: u64,
    /// Readiness flips timed for endpoint propagation.
    #[arg(long, default_value_t = 20)]
    pub flips: usize,
    /// The backend's image; it must be present on the engine.
    #[arg(long, default_value = "luksa/kubia")]
    pub image: String,
    /// Also write the table as Markdown to DIR/services.md.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}

fn progress(msg: impl std::fmt::Display) {
    eprintln!("services: {msg}");
}

fn resource(plural: &str) -> &'static api::registry::ResourceInfo {
    api::registry::lookup(plural).expect("a registered resource")
}

/// What one closed-loop load did.
#[derive(Debug, Clone, Default)]
pub struct Load {
    pub latencies: Latencies,
    pub ok: u64,
    pub errors: u64,
    /// The load's wall time (all clients run at once, so not a sum).
    pub elapsed: Duration,
    pub first_error: Option<String>,
}

impl Load {
    /// Adds one client's counts; the wall time is the caller's to set.
    pub fn merge(&mut self, other: &Load) {
        self.latencies.merge(&other.latencies);
        self.ok += other.ok;
        self.errors += other.errors;
        if self.first_error.is_none() {
            self.first_error.clone_from(&other.first_error);
        }
    }

    /// Successful requests per second of wall time.
    pub fn rate(&self) -> f64 {
        throughput(self.ok, self.elapsed)
    }
}

/// `connections` clients sending `GET /` to `addr` back to back for `duration`.
pub async fn load(addr: SocketAddr, connections: usize, duration: Duration, keep_alive: bool) -> Load {
    let started = Instant::now();
    let deadline = started + duration;
    let clients: Vec<_> = (0..connections).map(|_| tokio::spawn(one_client(addr, deadline, keep_alive))).collect();
    let mut total = Load::default();
    for c in clients {
        match c.await {
            Ok(l) => total.merge(&l),
            Err(e) => {
                total.errors += 1;
                total.first_error.get_or_insert_with(|| format!("a load client panicked: {e}"));
            }
        }
    }
    total.elapsed = started.elapsed();
    total
}

async fn one_client(addr: SocketAddr, deadline: Instant, keep_alive: bool) -> Load {
    let mut out = Load::default();
    let mut conn = None;
    while Instant::now() < deadline {
        let start = Instant::now();
        let exchange = async {
            if conn.is_none() {
                conn = Some(http::connect(addr, REQUEST_TIMEOUT).await?);
            }
            http::get(conn.as_mut().expect("connected just above"), keep_alive).await
        };
        let result = tokio::time::timeout(REQUEST_TIMEOUT, exchange).await;
        match result {
            Ok(Ok(r)) if r.status == 200 => {
                out.latencies.record(start.elapsed());
                out.ok += 1;
                if !keep_alive || r.close {
                    conn = None;
                }
            }
            other => {
                out.errors += 1;
                conn = None;
                out.first_error.get_or_insert_with(|| match other {
                    Ok(Ok(r)) => format!("{addr} answered {}", r.status),
                    Ok(Err(e)) => format!("{addr}: {e}"),
                    Err(_) => format!("{addr}: no answer within {REQUEST_TIMEOUT:?}"),
                });
                // Not a busy loop against a refusing address.
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
    out
}

/// The table rows comparing a load through the service with the direct one.
pub fn throughput_rows(report: &mut Report, mode: &str, direct: &Load, service: &Load) {
    let (d, s) = (direct.latencies.summary(), service.latencies.summary());
    let rate_ratio = ratio(service.rate(), direct.rate());
    let measured = direct.ok > 0 && service.ok > 0;
    report.push(
        Row::new(SCENARIO, format!("{mode}: GETs/s through the service"), format_rate(service.rate()))
            .baseline(format!("{} (direct to pod)", format_rate(direct.rate())), format_ratio(rate_ratio))
            .target(
                format!("≥ {THROUGHPUT_TARGET}x direct"),
                measured && rate_ratio.is_some_and(|r| r >= THROUGHPUT_TARGET),
            ),
    );
    for (q, sv, dv) in [("p50", s.p50, d.p50), ("p99", s.p99, d.p99)] {
        report.push(Row::new(SCENARIO, format!("{mode}: GET {q} through the service"), format_duration(sv)).baseline(
            format!("{} (direct)", format_duration(dv)),
            format_ratio(ratio(sv.as_secs_f64(), dv.as_secs_f64())),
        ));
    }
    report.push(Row::new(
        SCENARIO,
        format!("{mode}: requests (errors)"),
        format!(
            "{} ({}) through, {} ({}) direct",
            thousands(service.ok),
            thousands(service.errors),
            thousands(direct.ok),
            thousands(direct.errors)
        ),
    ));
}

/// From the watch event showing the pod Ready to the first request through
/// the service that succeeded; zero when the proxy was even quicker than the
/// bench's own watch.
pub fn propagation(ready_seen: Instant, first_success: Instant) -> Duration {
    first_success.saturating_duration_since(ready_seen)
}

fn propagation_rows(report: &mut Report, samples: &Latencies, flips: usize) {
    let s = samples.summary();
    report.push(Row::new(SCENARIO, "endpoint propagation p50", format_duration(s.p50)));
    report.push(Row::new(SCENARIO, "endpoint propagation p99", format_duration(s.p99)).target(
        format!("< {}", format_duration(PROPAGATION_P99_TARGET)),
        s.count > 0 && s.p99 < PROPAGATION_P99_TARGET,
    ));
    report.push(Row::new(SCENARIO, "endpoint propagation max", format_duration(s.max)));
    report.push(Row::new(SCENARIO, "readiness flips measured", format!("{} of {flips}", s.count)));
}

fn is_ready(pod: &Value) -> bool {
    pod["status"]["conditions"]
        .as_array()
        .is_some_and(|cs| cs.iter().any(|c| c["type"] == "Ready" && c["status"] == "True"))
}

fn backend_pod(namespace: &str, image: &str) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": POD, "namespace": namespace, "labels": {"app": APP}},
        "spec": {
            "terminationGracePeriodSeconds": 1,
            "containers": [{
                "name": "kubia",
                "image": image,
                "imagePullPolicy": "IfNotPresent",
                "command": ["/bin/sh", "-c", "touch /var/ready && exec /usr/local/bin/kubia"],
                "ports": [{"containerPort": 8080, "protocol": "TCP"}],
                // One failure makes it unready, one success ready: the flips
                // are as quick as the probe period allows.
                "readinessProbe": {
                    "exec": {"command": ["cat", "/var/ready"]},
                    "periodSeconds": 1,
                    "failureThreshold": 1,
                    "successThreshold": 1
                }
            }]
        }
    })
}

fn backend_service(namespace: &str) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": SERVICE, "namespace": namespace},
        "spec": {
            "type": "NodePort",
            "selector": {"app": APP},
            "ports": [{"port": 8080, "targetPort": 8080, "protocol": "TCP"}]
        }
    })
}

/// `sh -c script` in the backend; Ok when it exits 0.
async fn exec(client: &Client, namespace: &str, script: &str) -> anyhow::Result<()> {
    // The sender is held until the command exits, as kubectl does: an input
    // stream that ends is a closed session.
    let (_input, rx) = futures::channel::mpsc::unbounded::<ExecSend>();
    let params = ExecParams {
        namespace: namespace.to_string(),
        pod: POD.to_string(),
        command: vec!["sh".into(), "-c".into(), script.into()],
        ..ExecParams::default()
    };
    let mut events = client.exec(params, rx).await?;
    while let Some(event) = events.next().await {
        match event? {
            ExecEvent::Exit(0) => return Ok(()),
            ExecEvent::Exit(code) => anyhow::bail!("`{script}` in {POD} exited with {code}"),
            _ => {}
        }
    }
    anyhow::bail!("`{script}` in {POD} ended without an exit code")
}

/// Readiness changes of the backend as the watch delivers them, each with
/// the time this process read it.
async fn watch_readiness(client: &Client, namespace: &str) -> anyhow::Result<mpsc::UnboundedReceiver<(bool, Instant)>> {
    let params = ListParams { label_selector: format!("app={APP}"), ..ListParams::default() };
    let mut events = client.watch(resource("pods"), namespace, &params, "").await?;
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut last = None;
        while let Some(Ok(event)) = events.next().await {
            let seen = Instant::now();
            let ready = event.kind != "DELETED" && is_ready(&event.object);
            if last != Some(ready) {
                last = Some(ready);
                if tx.send((ready, seen)).is_err() {
                    return;
                }
            }
        }
    });
    Ok(rx)
}

/// Waits for the watch to show the backend with readiness `want`; when it did.
async fn readiness(
    rx: &mut mpsc::UnboundedReceiver<(bool, Instant)>,
    want: bool,
    within: Duration,
) -> anyhow::Result<Instant> {
    let deadline = Instant::now() + within;
    loop {
        match tokio::time::timeout_at(deadline, rx.recv()).await {
            Err(_) => anyhow::bail!("{POD} was not {} within {within:?}", if want { "Ready" } else { "unready" }),
            Ok(None) => anyhow::bail!("the pod watch ended"),
            Ok(Some((ready, at))) if ready == want => return Ok(at),
            Ok(Some(_)) => {}
        }
    }
}

/// Starts a fresh request to `addr` every [`PROBE_INTERVAL`] (not waiting for
/// the ones in flight, so a connection the proxy holds delays nothing) until
/// one succeeds; when it did, or None at `until`.
async fn first_success(addr: SocketAddr, until: Instant) -> Option<Instant> {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let mut tick = tokio::time::interval(PROBE_INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        tokio::select! {
            Some(at) = rx.recv() => return Some(at),
            _ = tick.tick() => {
                if Instant::now() > until {
                    return None;
                }
                let tx = tx.clone();
                tokio::spawn(async move {
                    if http::get_once(addr, Duration::from_secs(2)).await.is_ok() {
                        let _ = tx.send(Instant::now());
                    }
                });
            }
        }
    }
}

/// Waits until a request to `addr` succeeds (`want`) or fails (`!want`).
async fn until_answers(addr: SocketAddr, want: bool, within: Duration) -> anyhow::Result<()> {
    let deadline = Instant::now() + within;
    loop {
        if http::get_once(addr, Duration::from_secs(1)).await.is_ok() == want {
            return Ok(());
        }
        if Instant::now() > deadline {
            anyhow::bail!("{addr} {} within {within:?}", if want { "never answered" } else { "kept answering" });
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Runs the scenario against the cluster at `args.server`.
pub async fn run(args: &ServicesArgs) -> anyhow::Result<Report> {
    anyhow::ensure!(args.connections > 0 && args.seconds > 0, "--connections and --seconds must be at least 1");
    let unreachable = || format!("no kubelab cluster at {}: start it with ./deploy/up.sh", args.server);
    let client = Client::connect(&args.server).await.with_context(unreachable)?;
    let nodes = client.list(resource("nodes"), "", &ListParams::default()).await.with_context(unreachable)?;
    anyhow::ensure!(ready_nodes(&nodes) > 0, "the kubelab cluster at {} has no Ready node", args.server);

    let namespace = format!("bench-services-{:x}", rand::random::<u32>());
    let cleanup = Cleanup { server: args.server.clone(), namespace: Some(namespace.clone()) };
    let outcome = measure(&client, &namespace, &nodes, args).await;
    progress(format!("deleting namespace {namespace} ..."));
    let deleted = delete_namespace(&client, &namespace).await;
    cleanup.disarm();
    let report = outcome?;
    deleted?;
    Ok(report)
}

async fn measure(client: &Client, namespace: &str, nodes: &Value, args: &ServicesArgs) -> anyhow::Result<Report> {
    client
        .create(
            resource("namespaces"),
            "",
            &json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}}),
        )
        .await?;
    let mut ready = watch_readiness(client, namespace).await?;
    client.create(resource("pods"), namespace, &backend_pod(namespace, &args.image)).await?;
    let service = client.create(resource("services"), namespace, &backend_service(namespace)).await?;
    let node_port = service["spec"]["ports"][0]["nodePort"].as_u64().context("the service got no nodePort")?;
    progress(format!("waiting for {POD} in {namespace} to be Ready ..."));
    readiness(&mut ready, true, WAIT).await?;
    let pod = client.get(resource("pods"), namespace, POD).await?;
    let pod_ip = pod["status"]["podIP"].as_str().context("the backend has no podIP")?;
    let node_name = pod["spec"]["nodeName"].as_str().unwrap_or_default();
    let items = nodes["items"].as_array().map(Vec::as_slice).unwrap_or_default();
    let node_ip = items
        .iter()
        .find(|n| n["metadata"]["name"] == node_name)
        .and_then(|n| n["status"]["addresses"].as_array())
        .and_then(|a| a.iter().find(|a| a["type"] == "InternalIP"))
        .and_then(|a| a["address"].as_str())
        .with_context(|| format!("node {node_name} reports no InternalIP"))?;
    let direct: SocketAddr = format!("{pod_ip}:8080").parse()?;
    let through: SocketAddr = format!("{node_ip}:{node_port}").parse()?;
    progress(format!("waiting for the service to answer at {through} ..."));
    until_answers(through, true, WAIT).await?;

    let mut report = Report::new(format!(
        "services: GET / from the host, {} clients, direct to {direct} vs through NodePort {through}",
        args.connections
    ));
    let seconds = Duration::from_secs(args.seconds);
    for (mode, keep_alive) in [("keep-alive", true), ("connection per request", false)] {
        progress(format!("{mode}: {}s direct, then {}s through the service ...", args.seconds, args.seconds));
        let d = load(direct, args.connections, seconds, keep_alive).await;
        let s = load(through, args.connections, seconds, keep_alive).await;
        progress(format!("  {} direct, {} through", format_rate(d.rate()), format_rate(s.rate())));
        for (what, l) in [("direct", &d), ("through the service", &s)] {
            if let Some(e) = &l.first_error {
                report.error(format!("{mode}, {what}: {} errors, the first: {e}", l.errors));
            }
        }
        throughput_rows(&mut report, mode, &d, &s);
    }

    let mut samples = Latencies::new();
    for flip in 1..=args.flips {
        let result = async {
            exec(client, namespace, "rm -f /var/ready").await?;
            readiness(&mut ready, false, FLIP).await?;
            // The proxies have dropped the endpoint too before the clock can start.
            until_answers(through, false, FLIP).await?;
            let prober = tokio::spawn(first_success(through, Instant::now() + 2 * FLIP));
            exec(client, namespace, "touch /var/ready").await?;
            let ready_at = readiness(&mut ready, true, FLIP).await?;
            let answered = prober.await?.context("no request through the service succeeded after the pod was Ready")?;
            anyhow::Ok(propagation(ready_at, answered))
        }
        .await;
        match result {
            Ok(d) => {
                progress(format!("flip {flip}/{}: {}", args.flips, format_duration(d)));
                samples.record(d);
            }
            Err(e) => report.error(format!("readiness flip {flip}: {e:#}")),
        }
    }
    propagation_rows(&mut report, &samples, args.flips);

    report.note(format!(
        "Closed loop, {} concurrent clients per load, {} s each, run one after the other in one process: direct \
         to the pod IP, then to the NodePort on the pod's own node ({node_ip}). A NodePort connection takes the same \
         path inside the node proxy as one to the ClusterIP from a pod (endpoint choice, then a relayed TCP \
         connection); ClusterIPs themselves are not reachable from the host.",
        args.connections, args.seconds
    ));
    report.note(
        "keep-alive: each client keeps its connection (kubia keeps it 5 s idle), so the relay's byte copying shows; \
         connection per request: `Connection: close`, so the proxy's accept and upstream connect show.",
    );
    report.note(format!(
        "Endpoint propagation: readiness probe `cat /var/ready` every 1 s, failureThreshold 1; per flip the file is \
         removed (exec), the watch shows the pod unready and requests through the service fail, then it is \
         created again. Measured from the watch event showing the pod Ready (read by this process) to the first \
         successful GET through the NodePort, one started every {} ms; so it covers the endpoints controller and \
         the node proxy, not the probe period.",
        PROBE_INTERVAL.as_millis()
    ));
    Ok(report)
}

/// Deletes the scenario's namespace when dropped armed (a panic, or Ctrl-C
/// dropping the run), from a thread with its own runtime and connection.
struct Cleanup {
    server: String,
    namespace: Option<String>,
}

impl Cleanup {
    fn disarm(mut self) {
        self.namespace = None;
    }
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        let Some(namespace) = self.namespace.take() else { return };
        eprintln!("deleting namespace {namespace} ...");
        let server = self.server.clone();
        let deleted = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
            runtime.block_on(async {
                let client = Client::connect(&server).await?;
                client.delete(resource("namespaces"), "", &namespace, &client::DeleteParams::default()).await?;
                anyhow::Ok(())
            })
        });
        if !matches!(deleted.join(), Ok(Ok(()))) {
            eprintln!("could not delete the bench's namespace; remove it with kubectl delete namespace");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load_of(ms: &[u64], errors: u64, elapsed: Duration) -> Load {
        let mut l = Load { errors, elapsed, ..Load::default() };
        for &m in ms {
            l.latencies.record(Duration::from_millis(m));
            l.ok += 1;
        }
        l
    }

    #[test]
    fn clients_merge_into_one_load_over_its_wall_time() {
        let mut total = Load::default();
        total.merge(&load_of(&[1, 2, 3], 0, Duration::from_secs(9)));
        let mut second = load_of(&[4], 2, Duration::from_secs(9));
        second.first_error = Some("refused".into());
        total.merge(&second);
        total.elapsed = Duration::from_secs(2);
        assert_eq!((total.ok, total.errors, total.latencies.count()), (4, 2, 4));
        // Clients run at once: the rate is over the load's wall time, not the sum of theirs.
        assert_eq!(total.rate(), 2.0);
        assert_eq!(total.first_error.as_deref(), Some("refused"));
    }

    #[test]
    fn the_throughput_target_is_0_7_of_direct() {
        let second = Duration::from_secs(1);
        let direct = load_of(&[1; 100], 0, second);
        let mut report = Report::new("t");
        throughput_rows(&mut report, "keep-alive", &direct, &load_of(&[2; 70], 0, second));
        let row = report.row("keep-alive: GETs/s through the service").unwrap();
        assert_eq!((row.ratio.as_str(), row.met), ("0.70x", Some(true)));
        let p50 = report.row("keep-alive: GET p50 through the service").unwrap();
        assert_eq!(p50.ratio, "2.00x");

        let mut report = Report::new("t");
        throughput_rows(&mut report, "keep-alive", &direct, &load_of(&[2; 69], 0, second));
        assert_eq!(report.row("keep-alive: GETs/s through the service").unwrap().met, Some(false));
        // Nothing measured is never a met target.
        let mut report = Report::new("t");
        throughput_rows(&mut report, "keep-alive", &Load::default(), &Load::default());
        assert_eq!(report.row("keep-alive: GETs/s through the service").unwrap().met, Some(false));
    }

    #[test]
    fn propagation_is_from_ready_to_first_success_and_never_negative() {
        let ready = Instant::now();
        assert_eq!(propagation(ready, ready + Duration::from_millis(120)), Duration::from_millis(120));
        assert_eq!(propagation(ready + Duration::from_millis(5), ready), Duration::ZERO);

        let mut samples = Latencies::new();
        for ms in [100, 200, 1500] {
            samples.record(Duration::from_millis(ms));
        }
        let mut report = Report::new("t");
        propagation_rows(&mut report, &samples, 4);
        assert_eq!(report.row("endpoint propagation p99").unwrap().met, Some(false));
        assert_eq!(report.row("readiness flips measured").unwrap().value, "3 of 4");
        let mut report = Report::new("t");
        propagation_rows(&mut report, &Latencies::new(), 4);
        assert_eq!(report.row("endpoint propagation p99").unwrap().met, Some(false), "no sample, no pass");
    }

    #[test]
    fn the_backend_flips_readiness_on_one_probe() {
        let pod = backend_pod("ns", "luksa/kubia");
        let probe = &pod["spec"]["containers"][0]["readinessProbe"];
        assert_eq!((probe["periodSeconds"].as_u64(), probe["failureThreshold"].as_u64()), (Some(1), Some(1)));
        assert_eq!(backend_service("ns")["spec"]["selector"]["app"], pod["metadata"]["labels"]["app"]);
        assert!(is_ready(&json!({"status": {"conditions": [{"type": "Ready", "status": "True"}]}})));
        assert!(!is_ready(&json!({"status": {"conditions": [{"type": "Ready", "status": "False"}]}})));
    }
}
