//! The `controllers` scenario: the ReplicationController's reaction time and
//! scale-up speed on hollow nodes, against bare pod creates in the same run.
//!
//! The bench starts etcd, the apiserver, the scheduler, the controller-manager
//! (`--leader-elect=false`) and one kubelet process running `--hollow-nodes`
//! hollow nodes, waits for the nodes to be Ready, then:
//!
//! 1. bare creates: `--pods` pods created by `--clients` concurrent clients
//!    (the apiserver's create rate, and the baseline time), then deleted;
//! 2. scale-up: an RC with 0 replicas patched to `--pods`, timed from just
//!    before the patch to the watch's last ADDED and to the last Running pod;
//! 3. reaction: with an RC of `--replicas` pods running, `--reactions` times a
//!    pod is deleted (grace period 0) and timed from just before the delete
//!    call to the watch's ADDED of its replacement;
//! 4. the RSS and CPU time of every process at the end.

pub mod components;
pub mod progress;

use crate::cluster::{cpu_time, rss_bytes, Cluster};
use crate::load::{drive, Budget};
use crate::report::{Report, Row};
use crate::stats::{format_bytes, format_duration, format_rate, format_ratio, ratio, throughput, Latencies};
use anyhow::Context as _;
use client::{Client, DeleteParams, ListParams, PatchType, WatchStream};
use components::Component;
use futures::StreamExt;
use progress::{Change, Progress};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const SCENARIO: &str = "controllers";
/// The targets.
const REACTION_P99_TARGET: Duration = Duration::from_millis(50);
const SCALE_RATIO_TARGET: f64 = 1.5;

#[derive(Debug, Clone, clap::Args)]
pub struct ControllersArgs {
    /// Hollow nodes in the kubelet process.
    #[arg(long, default_value_t = 100)]
    pub hollow_nodes: usize,
    /// Pods of the bare-create baseline and of the scale-up.
    #[arg(long, default_value_t = 1000)]
    pub pods: u64,
    /// Concurrent clients of the bare-create baseline, each with its own connection.
    #[arg(long, default_value_t = 50)]
    pub clients: usize,
    /// Pod deletions the reaction phase times.
    #[arg(long, default_value_t = 100)]
    pub reactions: u64,
    /// Replicas of the RC whose pods the reaction phase deletes.
    #[arg(long, default_value_t = 10)]
    pub replicas: u64,
    /// How long any one wait (nodes Ready, a scale-up, a replacement) may take.
    #[arg(long, default_value = "300s", value_parser = scheduler::parse_duration)]
    pub timeout: Duration,
    /// Also write the table as Markdown to `<dir>/controllers.md`.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

fn pods_info() -> &'static api::ResourceInfo {
    api::registry::lookup("pods").expect("pods are registered")
}

fn rcs_info() -> &'static api::ResourceInfo {
    api::registry::lookup("replicationcontrollers").expect("replicationcontrollers are registered")
}

/// The pod template of both the bare creates and the RCs: the bench's
/// realistic pod (see [`crate::pod`]) with `labels`.
fn template(labels: &Value) -> Value {
    let mut pod = crate::pod::pod("", "");
    json!({"metadata": {"labels": labels}, "spec": pod["spec"].take()})
}

fn rc(name: &str, replicas: u64) -> Value {
    let labels = json!({ "bench.kubelab.io/rc": name });
    json!({
        "apiVersion": "v1",
        "kind": "ReplicationController",
        "metadata": {"name": name},
        "spec": {"replicas": replicas, "selector": labels, "template": template(&labels)}
    })
}

/// Brings the cluster up, runs the phases, returns the table.
pub async fn run(args: &ControllersArgs, exe: &Path) -> anyhow::Result<Report> {
    anyhow::ensure!(
        args.pods > 0 && args.clients > 0 && args.replicas > 0,
        "--pods, --clients and --replicas must be > 0"
    );
    let cluster = Cluster::up(None, None, exe).await?;
    let server = cluster.target().server.clone();
    eprintln!("starting the scheduler, the controller-manager and {} hollow nodes ...", args.hollow_nodes);
    let mut components = vec![
        Component::spawn(exe, "scheduler", "serve-scheduler", &server, &[])?,
        Component::spawn(exe, "controller-manager", "serve-controller-manager", &server, &["--leader-elect=false"])?,
        Component::spawn(
            exe,
            "kubelet",
            "serve-kubelet",
            &server,
            &["--runtime", "fake", "--hollow-nodes", &args.hollow_nodes.to_string(), "--hollow-pod-start-delay", "0s"],
        )?,
    ];
    let client = Client::connect(&server).await.context("connect to the apiserver")?;
    let started = Instant::now();
    wait_nodes_ready(&client, args.hollow_nodes, args.timeout).await?;
    eprintln!("{} nodes Ready after {:.1} s", args.hollow_nodes, started.elapsed().as_secs_f64());

    let mut report = Report::new(format!(
        "controllers: ReplicationController on {} hollow nodes vs bare creates",
        args.hollow_nodes
    ));
    let run_id = std::process::id();
    let ns = |phase: &str| format!("bench-ctl-{run_id}-{phase}");
    for phase in ["bare", "scale", "react"] {
        create_namespace(&client, &ns(phase)).await?;
    }

    // 1. Bare creates.
    let clients = futures::future::try_join_all((0..args.clients).map(|_| Client::connect(&server))).await?;
    let bare_ns = ns("bare");
    let labels = json!({"bench.kubelab.io/bare": "true"});
    let mut bare_pod = template(&labels);
    bare_pod["apiVersion"] = json!("v1");
    bare_pod["kind"] = json!("Pod");
    eprintln!("bare creates: {} pods from {} clients ...", args.pods, args.clients);
    let outcome = {
        let (ns, pod) = (bare_ns.clone(), bare_pod.clone());
        drive(&clients, Budget::ops(args.pods), move |client, n| {
            let mut obj = pod.clone();
            obj["metadata"]["name"] = json!(crate::pod::name(n));
            let ns = ns.clone();
            async move { client.create(pods_info(), &ns, &obj).await.map(drop).map_err(|e| e.to_string()) }
        })
        .await
    };
    eprintln!("  {}", outcome.describe());
    if let Some(error) = outcome.error_summary("bare creates") {
        report.error(error);
    }
    let bare_time = outcome.elapsed;
    let create_rate = outcome.rate();
    eprintln!("deleting them ...");
    let deleted = {
        let ns = bare_ns.clone();
        drive(&clients, Budget::ops(args.pods), move |client, n| {
            let ns = ns.clone();
            async move {
                let params = DeleteParams { grace_period_seconds: Some(0), ..Default::default() };
                client
                    .delete(pods_info(), &ns, &crate::pod::name(n), &params)
                    .await
                    .map(drop)
                    .map_err(|e| e.to_string())
            }
        })
        .await
    };
    if let Some(error) = deleted.error_summary("bare deletes") {
        report.error(error);
    }
    wait_empty(&client, &bare_ns, args.timeout).await?;
    drop(clients);

    // 2. Scale-up.
    eprintln!("scale-up: one RC from 0 to {} ...", args.pods);
    let scale = scale_up(&client, &ns("scale"), args.pods, args.timeout).await?;
    eprintln!(
        "  all created after {:.2} s, all Running after {:.2} s",
        scale.created.as_secs_f64(),
        scale.running.map_or(f64::NAN, |d| d.as_secs_f64())
    );

    // 3. Reaction.
    eprintln!("reaction: {} deletions from an RC of {} ...", args.reactions, args.replicas);
    let reactions = reactions(&client, &ns("react"), args.replicas, args.reactions, args.timeout).await?;
    let summary = reactions.summary();
    eprintln!("  p50 {}, p99 {}", format_duration(summary.p50), format_duration(summary.p99));

    for component in &mut components {
        component.check_running()?;
    }
    let apiserver_pid = cluster.target().apiserver_pid.expect("the bench started the apiserver");
    let processes: Vec<(&str, u32)> =
        std::iter::once(("apiserver", apiserver_pid)).chain(components.iter().map(|c| (c.name(), c.pid()))).collect();

    // 4. The table.
    report.push(Row::new(SCENARIO, "pod reaction p50", format_duration(summary.p50)));
    report.push(
        Row::new(SCENARIO, "pod reaction p99", format_duration(summary.p99))
            .target(format!("< {}", format_duration(REACTION_P99_TARGET)), summary.p99 < REACTION_P99_TARGET),
    );
    let scale_ratio = ratio(scale.created.as_secs_f64(), bare_time.as_secs_f64());
    report.push(
        Row::new(SCENARIO, format!("RC 0→{} pods created", args.pods), format!("{:.2} s", scale.created.as_secs_f64()))
            .baseline(
                format!("{:.2} s ({} bare creates)", bare_time.as_secs_f64(), args.pods),
                format_ratio(scale_ratio),
            )
            .target(format!("≤ {SCALE_RATIO_TARGET}x bare"), scale_ratio.is_some_and(|r| r <= SCALE_RATIO_TARGET)),
    );
    let running = scale.running.map_or("not reached".to_string(), |d| format!("{:.2} s", d.as_secs_f64()));
    report.push(Row::new(SCENARIO, format!("RC 0→{} pods Running", args.pods), running));
    report.push(Row::new(SCENARIO, "RC pod creation rate", format_rate(throughput(args.pods, scale.created))));
    report.push(Row::new(SCENARIO, "apiserver pod creates/s (bare)", format_rate(create_rate)));
    for (name, pid) in &processes {
        let rss = rss_bytes(*pid).map_or("-".to_string(), |b| format_bytes(b as f64));
        let cpu = cpu_time(*pid).map_or("-".to_string(), |d| format!("{:.1} s CPU", d.as_secs_f64()));
        report.push(Row::new(SCENARIO, format!("RSS {name} at the end"), format!("{rss} ({cpu})")));
    }
    report.note(format!(
        "Bare creates: {} clients, each with its own connection, as in the api scenario; the RC's slow-start \
         batches (1, 2, 4, ... up to 500) go out at up to that many at once from one connection.",
        args.clients
    ));
    report.note(format!(
        "{} hollow nodes in one kubelet process (fake runtime, pod start delay 0 s); every pod (bare or RC) is the \
         bench's 1.3 KB pod, so the scheduler and kubelets work during both timings. The kubelet's RSS covers all nodes.",
        args.hollow_nodes
    ));
    report.note(format!(
        "Reaction: from just before the delete call (grace period 0) to the watch's ADDED of the replacement, \
         {} deletions from an RC of {} Running pods, the {}-pod RC still present.",
        reactions.count(),
        args.replicas,
        args.pods
    ));
    drop(components);
    drop(cluster);
    Ok(report)
}

async fn create_namespace(client: &Client, name: &str) -> anyhow::Result<()> {
    let namespaces = api::registry::lookup("namespaces").expect("namespaces are registered");
    let ns = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}});
    client.create(namespaces, "", &ns).await.with_context(|| format!("create namespace {name}"))?;
    Ok(())
}

/// Whether a Node object has condition Ready=True.
pub fn node_ready(node: &Value) -> bool {
    node["status"]["conditions"]
        .as_array()
        .is_some_and(|conditions| conditions.iter().any(|c| c["type"] == "Ready" && c["status"] == "True"))
}

pub(crate) async fn wait_nodes_ready(client: &Client, count: usize, timeout: Duration) -> anyhow::Result<()> {
    let nodes = api::registry::lookup("nodes").expect("nodes are registered");
    let deadline = Instant::now() + timeout;
    loop {
        let ready = match client.list(nodes, "", &ListParams::default()).await {
            Ok(list) => list["items"].as_array().map_or(0, |items| items.iter().filter(|n| node_ready(n)).count()),
            Err(_) => 0,
        };
        if ready >= count {
            return Ok(());
        }
        anyhow::ensure!(Instant::now() < deadline, "only {ready} of {count} nodes Ready after {timeout:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn wait_empty(client: &Client, ns: &str, timeout: Duration) -> anyhow::Result<()> {
    let deadline = Instant::now() + timeout;
    loop {
        let list = client.list(pods_info(), ns, &ListParams::default()).await?;
        let left = list["items"].as_array().map_or(0, Vec::len);
        if left == 0 {
            return Ok(());
        }
        anyhow::ensure!(Instant::now() < deadline, "{left} pods still in {ns} after {timeout:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A watch of a namespace's pods from now on.
async fn watch_pods(client: &Client, ns: &str) -> anyhow::Result<(WatchStream, Progress)> {
    let list = client.list(pods_info(), ns, &ListParams::default()).await?;
    let mut progress = Progress::default();
    for pod in list["items"].as_array().into_iter().flatten() {
        progress.observe("ADDED", pod);
    }
    let rv = list["metadata"]["resourceVersion"].as_str().unwrap_or_default().to_string();
    let stream = client.watch(pods_info(), ns, &ListParams::default(), &rv).await?;
    Ok((stream, progress))
}

/// The next event of `stream` into `progress`, by `deadline`.
async fn next_change(stream: &mut WatchStream, progress: &mut Progress, deadline: Instant) -> anyhow::Result<Change> {
    let event = tokio::time::timeout_at(deadline.into(), stream.next())
        .await
        .map_err(|_| anyhow::anyhow!("timed out waiting for the pod watch"))?
        .ok_or_else(|| anyhow::anyhow!("the pod watch ended"))??;
    Ok(progress.observe(&event.kind, &event.object))
}

struct ScaleUp {
    created: Duration,
    running: Option<Duration>,
}

async fn scale_up(client: &Client, ns: &str, pods: u64, timeout: Duration) -> anyhow::Result<ScaleUp> {
    let name = "scale";
    client.create(rcs_info(), ns, &rc(name, 0)).await.context("create the RC")?;
    let (mut stream, mut progress) = watch_pods(client, ns).await?;
    let target = usize::try_from(pods)?;
    let patch = json!({"spec": {"replicas": pods}});
    let started = Instant::now();
    client.patch(rcs_info(), ns, name, PatchType::Merge, &patch).await.context("scale the RC")?;
    let deadline = started + timeout;
    let mut created = None;
    while created.is_none() || progress.running.len() < target {
        match next_change(&mut stream, &mut progress, deadline).await {
            Ok(_) => {}
            Err(e) if created.is_some() => {
                eprintln!("  {e}; {} of {target} Running", progress.running.len());
                break;
            }
            Err(e) => return Err(e.context(format!("{} of {target} pods created", progress.created.len()))),
        }
        if created.is_none() && progress.created.len() >= target {
            created = Some(started.elapsed());
        }
    }
    let running = (progress.running.len() >= target).then(|| started.elapsed());
    Ok(ScaleUp { created: created.expect("the loop ends only once all are created"), running })
}

async fn reactions(
    client: &Client,
    ns: &str,
    replicas: u64,
    count: u64,
    timeout: Duration,
) -> anyhow::Result<Latencies> {
    let target = usize::try_from(replicas)?;
    let (mut stream, mut progress) = watch_pods(client, ns).await?;
    client.create(rcs_info(), ns, &rc("react", replicas)).await.context("create the RC")?;
    let deadline = Instant::now() + timeout;
    while progress.running.len() < target {
        next_change(&mut stream, &mut progress, deadline).await.context("the RC's pods did not all run")?;
    }
    let mut latencies = Latencies::new();
    let params = DeleteParams { grace_period_seconds: Some(0), ..Default::default() };
    for _ in 0..count {
        // Settle: the previous replacement is running, so the RC is at rest.
        let deadline = Instant::now() + timeout;
        while progress.running.len() < target {
            next_change(&mut stream, &mut progress, deadline).await.context("the RC did not settle")?;
        }
        let victim = progress.running.iter().next().cloned().expect("the RC has pods");
        let started = Instant::now();
        client.delete(pods_info(), ns, &victim, &params).await.with_context(|| format!("delete {victim}"))?;
        let (mut replaced, mut gone) = (false, false);
        while !(replaced && gone) {
            match next_change(&mut stream, &mut progress, deadline).await.context("no replacement")? {
                Change::Created(_) if !replaced => {
                    latencies.record(started.elapsed());
                    replaced = true;
                }
                Change::Deleted(name) if name == victim => gone = true,
                _ => {}
            }
        }
    }
    Ok(latencies)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rc_selects_its_template() {
        let rc = rc("scale", 0);
        assert_eq!(rc["spec"]["selector"], rc["spec"]["template"]["metadata"]["labels"]);
        assert_eq!(rc["spec"]["replicas"], 0);
        assert!(rc["spec"]["template"]["spec"]["containers"].is_array());
        assert!(rc["spec"]["template"]["metadata"]["name"].is_null());
    }

    #[test]
    fn nodes_are_ready_only_on_ready_true() {
        assert!(node_ready(&json!({"status": {"conditions": [{"type": "Ready", "status": "True"}]}})));
        assert!(!node_ready(&json!({"status": {"conditions": [{"type": "Ready", "status": "Unknown"}]}})));
        assert!(!node_ready(&json!({"status": {}})));
    }
}
