//! What the `density` and `scheduler` scenarios share: a fresh stack (etcd,
//! the apiserver, the scheduler, optionally the controller-manager, and
//! either one kubelet process with hollow nodes or bare node objects, each
//! process a child of this binary),
//! the raw etcd put baseline, RSS of every process including etcd, and a watch
//! that times each stamped pod from its create call to a condition.

use crate::cluster::{cpu_time, rss_bytes, Cluster};
use crate::controllers::components::Component;
use crate::load::{drive, paced, Budget, Outcome};
use crate::report::Row;
use crate::stats::{format_duration, format_rate, format_ratio, ratio, Latencies};
use anyhow::Context as _;
use client::{Client, ListParams};
use futures::StreamExt;
use serde_json::{json, Value};
use std::collections::HashSet;
use std::path::Path;
use std::time::{Duration, Instant};

/// Capacity of each hollow node: enough that `--pods` never exceeds it
/// (the bench pod requests 100m CPU and 64 MiB).
pub const NODE_FLAGS: [&str; 6] = ["--cpu", "64", "--memory", "256Gi", "--max-pods", "250"];

/// A running stack, torn down when dropped.
pub struct Stack {
    pub cluster: Cluster,
    pub components: Vec<Component>,
    pub client: Client,
}

/// What stands for the stack's nodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nodes {
    /// One kubelet process with this many hollow nodes: they keep their
    /// leases and status and run the pods bound to them on the fake runtime.
    Hollow(usize),
    /// This many Ready node objects written through the API, with nothing
    /// behind them, as kube-scheduler's own performance tests (scheduler_perf)
    /// make their nodes: the pods bound to them stay Pending, and nothing but
    /// the load generator and the scheduler writes.
    Objects(usize),
}

impl Nodes {
    pub fn count(self) -> usize {
        match self {
            Nodes::Hollow(n) | Nodes::Objects(n) => n,
        }
    }

    /// How many of them renew a node lease.
    pub fn leased(self) -> usize {
        match self {
            Nodes::Hollow(n) => n,
            Nodes::Objects(_) => 0,
        }
    }
}

impl Stack {
    /// Starts etcd, the apiserver, the scheduler, the controller-manager if
    /// asked, and `nodes`, and waits until every node is Ready.
    pub async fn up(exe: &Path, nodes: Nodes, controller_manager: bool, timeout: Duration) -> anyhow::Result<Stack> {
        let cluster = Cluster::up(None, None, exe).await?;
        let server = cluster.target().server.clone();
        let count = nodes.count();
        eprintln!(
            "starting the scheduler{} and {count} {} ...",
            if controller_manager { ", the controller-manager" } else { "" },
            match nodes {
                Nodes::Hollow(_) => "hollow nodes",
                Nodes::Objects(_) => "node objects",
            }
        );
        let mut components = vec![Component::spawn(exe, "scheduler", "serve-scheduler", &server, &[])?];
        if controller_manager {
            components.push(Component::spawn(
                exe,
                "controller-manager",
                "serve-controller-manager",
                &server,
                &["--leader-elect=false"],
            )?);
        }
        let client = Client::connect(&server).await.context("connect to the apiserver")?;
        let started = Instant::now();
        match nodes {
            Nodes::Hollow(_) => {
                let count = count.to_string();
                let mut args = vec!["--runtime", "fake", "--hollow-nodes", &count, "--hollow-pod-start-delay", "0s"];
                args.extend(NODE_FLAGS);
                components.push(Component::spawn(exe, "kubelet", "serve-kubelet", &server, &args)?);
            }
            Nodes::Objects(_) => {
                let written = create_nodes(&server, count).await?;
                if let Some(e) = written.error_summary("node objects") {
                    anyhow::bail!(e);
                }
            }
        }
        crate::controllers::wait_nodes_ready(&client, count, timeout).await?;
        eprintln!("{count} nodes Ready after {:.1} s", started.elapsed().as_secs_f64());
        Ok(Stack { cluster, components, client })
    }

    /// Every component is still running.
    pub fn check(&mut self) -> anyhow::Result<()> {
        self.components.iter_mut().try_for_each(Component::check_running)
    }

    /// (name, pid) of the apiserver, etcd and every component.
    pub fn processes(&self) -> Vec<(&'static str, u32)> {
        let mut all = Vec::new();
        if let Some(pid) = self.cluster.target().apiserver_pid {
            all.push(("apiserver", pid));
        }
        if let Some(pid) = etcd_pid() {
            all.push(("etcd", pid));
        }
        all.extend(self.components.iter().map(|c| (c.name(), c.pid())));
        all
    }

    /// CPU time used so far by every process of the stack and by this one
    /// (the load generator and the watch that times the pods).
    pub fn cpu(&self) -> CpuSnapshot {
        let mut all = self.processes();
        all.push(("bench", std::process::id()));
        CpuSnapshot::of(&all)
    }

    /// etcd's current revision: one more per write to any key, so two readings
    /// count the writes in between (every component's, the leases' too).
    pub async fn etcd_revision(&self) -> anyhow::Result<i64> {
        let mut etcd = etcd_client::Client::connect([&self.cluster.target().etcd], None).await?;
        let response = etcd.get("/", None).await?;
        response.header().map(|h| h.revision()).context("etcd answered without a header")
    }

    /// RSS of `name`'s process, in bytes.
    pub fn rss(&self, name: &str) -> Option<u64> {
        self.processes().into_iter().find(|(n, _)| *n == name).and_then(|(_, pid)| rss_bytes(pid))
    }
}

/// CPU time per process at one moment; two of them give where the CPU went.
#[derive(Debug, Clone)]
pub struct CpuSnapshot(Vec<(&'static str, Option<Duration>)>);

/// CPU per unit of work (a pod), per process, between two snapshots.
#[derive(Debug, Clone, PartialEq)]
pub struct CpuShare {
    pub per_process: Vec<(&'static str, Duration)>,
    pub total: Duration,
}

impl CpuSnapshot {
    /// The CPU time each (name, pid) has used so far.
    pub fn of(processes: &[(&'static str, u32)]) -> CpuSnapshot {
        CpuSnapshot(processes.iter().map(|(name, pid)| (*name, cpu_time(*pid))).collect())
    }

    /// CPU each process spent between `self` and `later`, divided by `units`.
    pub fn per_unit(&self, later: &CpuSnapshot, units: u64) -> CpuShare {
        let units = u32::try_from(units.max(1)).unwrap_or(u32::MAX);
        let per_process: Vec<_> = self
            .0
            .iter()
            .filter_map(|(name, before)| {
                let after = later.0.iter().find(|(n, _)| n == name)?.1?;
                Some((*name, after.saturating_sub((*before)?) / units))
            })
            .collect();
        let total = per_process.iter().map(|(_, d)| *d).sum();
        CpuShare { per_process, total }
    }
}

impl CpuShare {
    /// The CPU per unit of the process called `name`, if it was measured.
    pub fn of(&self, name: &str) -> Option<Duration> {
        self.per_process.iter().find(|(n, _)| *n == name).map(|(_, d)| *d)
    }

    /// The most units per second this machine's cores allow at this cost.
    pub fn ceiling(&self, cores: usize) -> f64 {
        if self.total.is_zero() {
            return f64::INFINITY;
        }
        cores as f64 / self.total.as_secs_f64()
    }

    /// `apiserver 410 µs + etcd 230 µs + ... = 950 µs`, largest first.
    pub fn describe(&self) -> String {
        let mut parts = self.per_process.clone();
        parts.sort_by_key(|p| std::cmp::Reverse(p.1));
        let parts: Vec<String> = parts.iter().map(|(n, d)| format!("{n} {}", format_duration(*d))).collect();
        format!("{} = {}", parts.join(" + "), format_duration(self.total))
    }
}

/// A table row: the CPU a pod costs each process, next to the rate at which
/// that cost fills every core and how close `rate` came to it.
pub fn cpu_row(scenario: &str, metric: &str, share: &CpuShare, rate: f64) -> Row {
    let ceiling = share.ceiling(cores());
    Row::new(scenario, metric, share.describe()).baseline(
        format!("{} on {} cores (CPU ceiling)", format_rate(ceiling), cores()),
        format_ratio(ratio(rate, ceiling)),
    )
}

/// A table row: etcd writes per pod over a phase, next to the share the
/// nodes' lease renewals (one per node every 10 s) account for.
pub fn writes_row(scenario: &str, metric: &str, writes: i64, pods: u64, nodes: usize, elapsed: Duration) -> Row {
    let per_pod = writes as f64 / pods.max(1) as f64;
    let leases = nodes as f64 * elapsed.as_secs_f64() / LEASE_RENEW_SECONDS / pods.max(1) as f64;
    Row::new(scenario, metric, format!("{per_pod:.1}"))
        .baseline(format!("{leases:.1} of them node lease renewals"), format_ratio(ratio(leases, per_pod)))
}

/// How often a kubelet renews its node lease (Kubernetes' default).
const LEASE_RENEW_SECONDS: f64 = 10.0;

/// This machine's cores, as the CPU ceiling counts them.
pub fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// The etcd child of this process (started by `TestEtcd`, which does not
/// expose its pid): the child whose command name is `etcd`.
pub fn etcd_pid() -> Option<u32> {
    let me = std::process::id();
    std::fs::read_dir("/proc").ok()?.flatten().find_map(|entry| {
        let pid: u32 = entry.file_name().to_str()?.parse().ok()?;
        let stat = std::fs::read_to_string(entry.path().join("stat")).ok()?;
        let (open, close) = (stat.find('(')?, stat.rfind(')')?);
        let comm = &stat[open + 1..close];
        let ppid: u32 = stat[close + 1..].split_whitespace().nth(1)?.parse().ok()?;
        (ppid == me && comm == "etcd").then_some(pid)
    })
}

/// The baseline: `n` raw etcd puts of the bench pod from `clients`
/// connections, outside `/registry/` so the apiserver never sees them.
pub async fn raw_puts(etcd: &str, clients: usize, n: u64) -> anyhow::Result<Outcome> {
    let conns = futures::future::try_join_all((0..clients).map(|_| etcd_client::Client::connect([etcd], None)))
        .await
        .context("connect to etcd")?;
    let kv: Vec<_> = conns.iter().map(|c| c.kv_client()).collect();
    Ok(drive(&kv, Budget::ops(n), |mut kv, n| async move {
        let name = crate::pod::name(n);
        let value = serde_json::to_vec(&crate::pod::pod("bench-raw", &name)).map_err(|e| e.to_string())?;
        kv.put(format!("/kubelab-bench/raw/{name}"), value, None).await.map_err(|e| e.to_string())?;
        Ok(())
    })
    .await)
}

/// `n` Ready nodes of the hollow nodes' capacity, each created and then given
/// its status (creates drop status, as the kubelet's first status update
/// follows its registration), from 50 connections.
async fn create_nodes(server: &str, n: usize) -> anyhow::Result<Outcome> {
    let conns = futures::future::try_join_all((0..50).map(|_| Client::connect(server))).await?;
    let [_, cpu, _, memory, _, pods] = NODE_FLAGS;
    let max_pods: u32 = pods.parse()?;
    Ok(drive(&conns, Budget::ops(n as u64), move |client, i| async move {
        let nodes = api::registry::lookup("nodes").expect("nodes are registered");
        let node = scheduler::testing::node(&format!("node-{i:05}")).allocatable(cpu, memory, max_pods).json();
        let created = client.create(nodes, "", &node).await.map_err(|e| e.to_string())?;
        let mut ready = node;
        ready["metadata"] = created["metadata"].clone();
        client.update_status(nodes, "", &ready).await.map(drop).map_err(|e| e.to_string())
    })
    .await)
}

/// `n` stamped bench pods created in `ns` from `clients` connections.
pub async fn create_pods(server: &str, ns: &str, clients: usize, n: u64) -> anyhow::Result<Outcome> {
    let conns = futures::future::try_join_all((0..clients).map(|_| Client::connect(server))).await?;
    let ns = ns.to_string();
    Ok(drive(&conns, Budget::ops(n), move |client, n| create_stamped(client, ns.clone(), n)).await)
}

/// `n` stamped bench pods created in `ns` at a steady `rate` per second
/// (open-loop: each create starts on schedule, whatever the earlier ones are
/// doing).
pub async fn create_pods_paced(client: &Client, ns: &str, n: u64, rate: f64) -> Outcome {
    paced(n, rate, |i| create_stamped(client.clone(), ns.to_string(), i)).await
}

/// Creates bench pod `n` in `ns`, stamped with its send time.
async fn create_stamped(client: Client, ns: String, n: u64) -> Result<(), String> {
    let pods = api::registry::lookup("pods").expect("pods are registered");
    let mut pod = crate::pod::pod(&ns, &crate::pod::name(n));
    crate::pod::stamp(&mut pod, crate::pod::now_nanos());
    client.create(pods, &ns, &pod).await.map(drop).map_err(|e| e.to_string())
}

/// What a [`watch_until`] saw.
#[derive(Debug, Default)]
pub struct Observed {
    pub latencies: Latencies,
    /// Every sample, for plots.
    pub samples: Vec<Duration>,
    /// When the last pod reached the condition (None: none did).
    pub last: Option<Instant>,
}

/// A watch of `ns`'s pods from now on. Then [`watch_until`].
pub async fn open_watch(client: &Client, ns: &str) -> anyhow::Result<client::WatchStream> {
    let pods = api::registry::lookup("pods").expect("pods are registered");
    let list = client.list(pods, ns, &ListParams { limit: 1, ..Default::default() }).await?;
    let rv = list["metadata"]["resourceVersion"].as_str().unwrap_or_default().to_string();
    Ok(client.watch(pods, ns, &ListParams::default(), &rv).await?)
}

/// Reads `stream` until `want` pods satisfy `reached`, recording for each the
/// time from its stamp (just before its create call) to the event that shows
/// it, on this machine's clock. Stops early at `timeout` without error.
pub async fn watch_until(
    mut stream: client::WatchStream,
    want: usize,
    timeout: Duration,
    reached: fn(&Value) -> bool,
) -> Observed {
    let mut seen = HashSet::new();
    let mut out = Observed::default();
    let deadline = tokio::time::Instant::now() + timeout;
    while seen.len() < want {
        let event = match tokio::time::timeout_at(deadline, stream.next()).await {
            Ok(Some(Ok(event))) => event,
            Ok(Some(Err(e))) => {
                eprintln!("  pod watch failed: {e}");
                break;
            }
            Ok(None) | Err(_) => break,
        };
        let now = crate::pod::now_nanos();
        if event.kind == "DELETED" || !reached(&event.object) {
            continue;
        }
        let (Some(name), Some(sent)) =
            (event.object["metadata"]["name"].as_str(), crate::pod::sent_nanos(&event.object))
        else {
            continue;
        };
        if seen.insert(name.to_string()) {
            let latency = Duration::from_nanos(now.saturating_sub(sent));
            out.latencies.record(latency);
            out.samples.push(latency);
            out.last = Some(Instant::now());
        }
    }
    out
}

pub fn is_running(pod: &Value) -> bool {
    pod["status"]["phase"] == "Running"
}

pub fn is_bound(pod: &Value) -> bool {
    pod["spec"]["nodeName"].as_str().is_some_and(|n| !n.is_empty())
}

pub async fn create_namespace(client: &Client, name: &str) -> anyhow::Result<()> {
    let namespaces = api::registry::lookup("namespaces").expect("namespaces are registered");
    let ns = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}});
    client.create(namespaces, "", &ns).await.with_context(|| format!("create namespace {name}"))?;
    Ok(())
}

/// The target cell, with how far off a missed target is: `< 1 s (missed: 2.3x)`.
pub fn target_cell(target: &str, met: bool, off_by: Option<f64>) -> String {
    match (met, off_by) {
        (false, Some(x)) if x.is_finite() => format!("{target} (missed by {x:.2}x)"),
        _ => target.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conditions_read_phase_and_node_name() {
        assert!(is_running(&json!({"status": {"phase": "Running"}})));
        assert!(!is_running(&json!({"status": {"phase": "Pending"}})));
        assert!(is_bound(&json!({"spec": {"nodeName": "n1"}})));
        assert!(!is_bound(&json!({"spec": {"nodeName": ""}})));
        assert!(!is_bound(&json!({"spec": {}})));
    }

    #[test]
    fn cpu_is_shared_out_per_unit_and_bounds_the_rate() {
        let ms = Duration::from_millis;
        let before = CpuSnapshot(vec![("apiserver", Some(ms(1000))), ("etcd", Some(ms(500))), ("gone", None)]);
        let after = CpuSnapshot(vec![("apiserver", Some(ms(1400))), ("etcd", Some(ms(700))), ("gone", Some(ms(9)))]);
        let share = before.per_unit(&after, 1000);
        assert_eq!(
            share.per_process,
            vec![("apiserver", Duration::from_micros(400)), ("etcd", Duration::from_micros(200))]
        );
        assert_eq!(share.total, Duration::from_micros(600));
        assert_eq!(share.describe(), "apiserver 400 µs + etcd 200 µs = 600 µs");
        // 2 cores at 600 µs per unit: at most 3,333 units/s.
        assert!((share.ceiling(2) - 3333.3).abs() < 1.0, "{}", share.ceiling(2));
    }

    #[test]
    fn missed_targets_say_by_how_much() {
        assert_eq!(target_cell("< 1 s", true, Some(0.5)), "< 1 s");
        assert_eq!(target_cell("< 1 s", false, Some(2.345)), "< 1 s (missed by 2.35x)");
        assert_eq!(target_cell("< 1 s", false, None), "< 1 s");
    }
}
