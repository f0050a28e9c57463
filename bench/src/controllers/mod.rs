//! The `controllers` scenario: the ReplicationController's reaction time,
//! scale-up and scale-down speed, and the whole control plane's recovery from
//! the loss of a tenth of the nodes, on hollow nodes, against bare pod
//! creates and deletes in the same run.
//!
//! The bench starts etcd, the apiserver, the scheduler, the controller-manager
//! (`--leader-elect=false`; restarted with a short node-monitor grace period
//! and pod eviction timeout for the node loss) and two kubelet processes running `--hollow-nodes` hollow nodes
//! between them (`hollow-node-<n>`, and `--lost-percent` of them as
//! `hollow-lost-<n>`), waits for the nodes to be Ready, then:
//!
//! 1. bare creates: `--pods` pods created by `--clients` concurrent clients
//!    (the apiserver's create rate, and the baseline time); once all run, bare
//!    deletes: the same clients delete them (default grace period), timed until
//!    the watch shows the last one gone (the hollow kubelets finish each deletion);
//! 2. scale-up: an RC with 0 replicas patched to `--pods`, timed from just
//!    before the patch to the watch's last ADDED and to the last Running pod;
//!    then scale-down: patched back to 0, timed to the last pod terminating and
//!    to the last one gone;
//! 3. reaction: with an RC of `--replicas` pods running, `--reactions` times a
//!    pod is deleted (grace period 0) and timed from just before the delete
//!    call to the watch's ADDED of its replacement;
//! 4. the RSS and CPU time of every process;
//! 5. node loss (see [`loss`]): an RC spread over all nodes, the lost nodes'
//!    kubelet SIGKILLed, timed until the nodes are NotReady, their pods
//!    evicted, the RC back to full on the surviving nodes, and the evicted pods
//!    deleted by pod GC.

pub mod components;
pub mod loss;
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
/// The names of the nodes that are lost, and of those that are kept.
const LOST_PREFIX: &str = "hollow-lost-";
const KEPT_PREFIX: &str = "hollow-node-";
/// The controller-manager's place among the components.
const CM: usize = 1;
/// How often the node lifecycle controller checks the nodes (Kubernetes: 5 s).
const NODE_MONITOR_PERIOD: Duration = Duration::from_secs(1);

#[derive(Debug, Clone, clap::Args)]
pub struct ControllersArgs {
    /// Hollow nodes, over two kubelet processes (see --lost-percent).
    #[arg(long, visible_alias = "nodes", default_value_t = 100)]
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
    /// Share of the hollow nodes (in %, at least one node) in the kubelet process the node-loss phase kills.
    #[arg(long, default_value_t = 10)]
    pub lost_percent: u32,
    /// Replicas of the RC spread over all nodes when some are lost (default: --pods, at most 5 per node).
    #[arg(long)]
    pub loss_replicas: Option<u64>,
    /// The controller-manager's --node-monitor-grace-period (Kubernetes: 40s); the
    /// kubelets renew their leases four times as often.
    #[arg(long, default_value = "8s", value_parser = api::duration::parse)]
    pub node_monitor_grace_period: Duration,
    /// The controller-manager's --pod-eviction-timeout (Kubernetes: 5m).
    #[arg(long, default_value = "2s", value_parser = api::duration::parse)]
    pub pod_eviction_timeout: Duration,
    /// How long any one wait (nodes Ready, a scale-up, a replacement) may take.
    #[arg(long, default_value = "300s", value_parser = api::duration::parse)]
    pub timeout: Duration,
    /// Also write the table as Markdown to `<dir>/controllers.md`.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

impl ControllersArgs {
    /// Replicas of the node-loss RC.
    pub fn loss_replicas(&self) -> u64 {
        self.loss_replicas.unwrap_or_else(|| self.pods.min(5 * self.hollow_nodes as u64))
    }
}

/// A duration as the components' flags take it, in whole milliseconds.
fn flag_duration(d: Duration) -> String {
    format!("{}ms", d.as_millis())
}

pub(crate) fn pods_info() -> &'static api::ResourceInfo {
    api::registry::lookup("pods").expect("pods are registered")
}

pub(crate) fn rcs_info() -> &'static api::ResourceInfo {
    api::registry::lookup("replicationcontrollers").expect("replicationcontrollers are registered")
}

/// The pod template of both the bare creates and the RCs: the bench's
/// realistic pod (see [`crate::pod`]) with `labels`.
fn template(labels: &Value) -> Value {
    let mut pod = crate::pod::pod("", "");
    json!({"metadata": {"labels": labels}, "spec": pod["spec"].take()})
}

pub(crate) fn rc(name: &str, replicas: u64) -> Value {
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
        args.pods > 0 && args.clients > 0 && args.replicas > 0 && args.loss_replicas() > 0,
        "--pods, --clients, --replicas and --loss-replicas must be > 0"
    );
    let split = loss::split_nodes(args.hollow_nodes, args.lost_percent)
        .context("--hollow-nodes must be at least 2 and --lost-percent in 1..=99")?;
    let grace = args.node_monitor_grace_period;
    anyhow::ensure!(grace >= Duration::from_secs(2), "--node-monitor-grace-period must be at least 2s");
    // Kubernetes renews every 10 s against a 40 s grace period: four renewals per grace period.
    let lease_renew = grace / 4;
    let cluster = Cluster::up(None, None, exe).await?;
    let server = cluster.target().server.clone();
    eprintln!(
        "starting the scheduler, the controller-manager and {} hollow nodes ({} + {} in a second kubelet) ...",
        args.hollow_nodes, split.kept, split.lost
    );
    eprintln!(
        "node loss: node monitor grace period {}, monitor period {}, pod eviction timeout {}, lease renewal every {}",
        format_duration(grace),
        format_duration(NODE_MONITOR_PERIOD),
        format_duration(args.pod_eviction_timeout),
        format_duration(lease_renew)
    );
    // Until the node loss the controller-manager keeps Kubernetes' periods, so a
    // debug build busy with thousands of pods cannot make nodes look silent;
    // the loss phase restarts it with the short ones.
    let loss_flags = [
        "--leader-elect=false".to_string(),
        format!("--node-monitor-grace-period={}", flag_duration(grace)),
        format!("--node-monitor-period={}", flag_duration(NODE_MONITOR_PERIOD)),
        format!("--pod-eviction-timeout={}", flag_duration(args.pod_eviction_timeout)),
    ];
    let hollow = |count: usize, prefix: &str| -> Vec<String> {
        let mut flags: Vec<String> = [
            "--runtime",
            "fake",
            "--hollow-pod-start-delay",
            "0s",
            "--hollow-nodes",
            &count.to_string(),
            "--hollow-node-prefix",
            prefix,
            "--lease-renew-interval",
            &flag_duration(lease_renew),
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        flags.extend(crate::stack::NODE_FLAGS.iter().map(|s| s.to_string()));
        flags
    };
    let (kept_flags, lost_flags) = (hollow(split.kept, KEPT_PREFIX), hollow(split.lost, LOST_PREFIX));
    fn as_strs(v: &[String]) -> Vec<&str> {
        v.iter().map(String::as_str).collect()
    }
    let mut components = vec![
        Component::spawn(exe, "scheduler", "serve-scheduler", &server, &[])?,
        Component::spawn(exe, "controller-manager", "serve-controller-manager", &server, &["--leader-elect=false"])?,
        Component::spawn(exe, "kubelet", "serve-kubelet", &server, &as_strs(&kept_flags))?,
    ];
    let mut lost_kubelet =
        Component::spawn(exe, "kubelet (lost nodes)", "serve-kubelet", &server, &as_strs(&lost_flags))?;
    let client = Client::connect(&server).await.context("connect to the apiserver")?;
    let started = Instant::now();
    wait_nodes_ready(&client, args.hollow_nodes, args.timeout).await?;
    eprintln!("{} nodes Ready after {:.1} s", args.hollow_nodes, started.elapsed().as_secs_f64());

    let mut report = Report::new(format!(
        "controllers: ReplicationController on {} hollow nodes vs bare creates and deletes; loss of {} nodes",
        args.hollow_nodes, split.lost
    ));
    let run_id = std::process::id();
    let ns = |phase: &str| format!("bench-ctl-{run_id}-{phase}");
    for phase in ["bare", "scale", "react", "loss"] {
        create_namespace(&client, &ns(phase)).await?;
    }

    // 1. Bare creates, and once they run, bare deletes.
    let bare = bare(&client, &server, &ns("bare"), args, &mut report).await?;

    // 2. Scale-up and scale-down.
    eprintln!("scale-up: one RC from 0 to {} ...", args.pods);
    let scale = scale(&client, &ns("scale"), args.pods, args.timeout, &mut report).await?;
    match &scale.down {
        Some(down) => eprintln!(
            "  scale-down: all terminating after {:.2} s, all gone after {:.2} s",
            down.terminating.map_or(f64::NAN, |d| d.as_secs_f64()),
            down.gone.map_or(f64::NAN, |d| d.as_secs_f64())
        ),
        None => eprintln!("  no scale-down: the scale-up did not finish"),
    }
    if scale.down.as_ref().is_none_or(|d| d.gone.is_none()) {
        // The RC is stuck (a controller stopped): without it gone and a fresh
        // controller-manager, every later phase would only time out.
        let background = DeleteParams { propagation_policy: "Background".into(), ..Default::default() };
        client.delete(rcs_info(), &ns("scale"), "scale", &background).await.context("delete the stuck RC")?;
        components[CM].kill();
        components[CM] = Component::spawn(
            exe,
            "controller-manager",
            "serve-controller-manager",
            &server,
            &["--leader-elect=false"],
        )?;
        report.error("the scale phase did not finish: its RC was deleted and the controller-manager restarted");
    }

    // 3. Reaction.
    eprintln!("reaction: {} deletions from an RC of {} ...", args.reactions, args.replicas);
    let reactions = reactions(&client, &ns("react"), args.replicas, args.reactions, args.timeout).await?;
    let summary = reactions.summary();
    eprintln!("  p50 {}, p99 {}", format_duration(summary.p50), format_duration(summary.p99));

    // 4. Every process is alive and how large, before the loss kills one.
    for component in components.iter_mut().chain(std::iter::once(&mut lost_kubelet)) {
        component.check_running()?;
    }
    let apiserver_pid = cluster.target().apiserver_pid.expect("the bench started the apiserver");
    let processes: Vec<(&str, u32)> = std::iter::once(("apiserver", apiserver_pid))
        .chain(components.iter().chain(std::iter::once(&lost_kubelet)).map(|c| (c.name(), c.pid())))
        .collect();
    let sizes: Vec<(String, String)> = processes
        .iter()
        .map(|(name, pid)| {
            let rss = rss_bytes(*pid).map_or("-".to_string(), |b| format_bytes(b as f64));
            let cpu = cpu_time(*pid).map_or("-".to_string(), |d| format!("{:.1} s CPU", d.as_secs_f64()));
            (name.to_string(), format!("{rss} ({cpu})"))
        })
        .collect();

    // 5. Node loss.
    let loss_replicas = args.loss_replicas();
    eprintln!(
        "node loss: an RC of {loss_replicas} over {} nodes, then the kubelet of {} of them is killed ...",
        args.hollow_nodes, split.lost
    );
    components[CM].kill();
    components[CM] =
        Component::spawn(exe, "controller-manager", "serve-controller-manager", &server, &as_strs(&loss_flags))?;
    let periods = loss::Periods { grace, eviction: args.pod_eviction_timeout };
    let loss = loss::run(&client, &ns("loss"), loss_replicas, LOST_PREFIX, &mut lost_kubelet, args.timeout).await;
    match &loss {
        Ok(loss) => eprintln!("  {:?}", loss.times),
        Err(e) => report.error(format!("node loss: {e:#}")),
    }
    for component in &mut components {
        component.check_running()?;
    }

    // The table.
    report.push(Row::new(SCENARIO, "pod reaction p50", format_duration(summary.p50)));
    report.push(
        Row::new(SCENARIO, "pod reaction p99", format_duration(summary.p99))
            .target(format!("< {}", format_duration(REACTION_P99_TARGET)), summary.p99 < REACTION_P99_TARGET),
    );
    for row in scale_rows(args.pods, &bare, &scale) {
        report.push(row);
    }
    report.push(Row::new(SCENARIO, "RC pod creation rate", format_rate(throughput(args.pods, scale.created))));
    report.push(Row::new(SCENARIO, "apiserver pod creates/s (bare)", format_rate(bare.create_rate)));
    if let Ok(loss) = &loss {
        for row in loss::rows(SCENARIO, split.lost, loss.victims, loss_replicas, &loss.times, &periods) {
            report.push(row);
        }
    }
    for (name, size) in sizes {
        report.push(Row::new(SCENARIO, format!("RSS {name} before the node loss"), size));
    }
    report.note(format!(
        "Bare creates and deletes: {} clients, each with its own connection, as in the api scenario; the RC's \
         slow-start batches (1, 2, 4, ... up to 500) go out at up to that many at once from one connection. \
         Deletes (bare and the RC's) use the pod's 30 s grace period: \"gone\" is when the watch shows the last pod \
         deleted, after its hollow kubelet stopped it.",
        args.clients
    ));
    report.note(format!(
        "{} hollow nodes in two kubelet processes ({} `{KEPT_PREFIX}<n>`, {} `{LOST_PREFIX}<n>`; fake runtime, pod \
         start delay 0 s); every pod (bare or RC) is the bench's 1.3 KB pod, so the scheduler and kubelets work \
         during all timings. The kubelet's RSS covers all its nodes.",
        args.hollow_nodes, split.kept, split.lost
    ));
    report.note(format!(
        "Reaction: from just before the delete call (grace period 0) to the watch's ADDED of the replacement, \
         {} deletions from an RC of {} Running pods.",
        reactions.count(),
        args.replicas,
    ));
    report.note(format!(
        "Node loss: an RC of {loss_replicas} ready pods over all nodes, then the kubelet process of {} nodes is \
         SIGKILLed; times from just before the kill. For this phase only (so that earlier phases cannot make a \
         busy node look silent) the controller-manager was restarted with --node-monitor-grace-period {}, \
         --node-monitor-period {} and --pod-eviction-timeout {} (Kubernetes: 40 s, 5 s, 5 m); the kubelets renew \
         their leases every {}. The node-loss pods have terminationGracePeriodSeconds {} (the bench pod: 30) and no \
         readiness probe (the bench pod's waits 5 s); once they are evicted the bench taints the lost nodes \
         out-of-service, as an operator who knows they are shut down, and pod GC force-deletes them. NotReady can come \
         before the grace period: it counts from each node's last lease renewal, up to one renewal before the kill. \"Ready\" is the RC's readyReplicas back to full with that many Ready pods \
         on surviving nodes. Kubernetes also rate-limits the NoExecute tainting to --node-eviction-rate 0.1 nodes/s \
         per zone; kubelab taints every lost node at once.",
        split.lost,
        format_duration(grace),
        format_duration(NODE_MONITOR_PERIOD),
        format_duration(args.pod_eviction_timeout),
        format_duration(lease_renew),
        loss::POD_GRACE.as_secs(),
    ));
    drop(lost_kubelet);
    drop(components);
    drop(cluster);
    Ok(report)
}

/// What the bare phase measured.
struct Bare {
    created: Duration,
    create_rate: f64,
    /// From just before the first delete call to the watch's last DELETED.
    gone: Option<Duration>,
}

/// `--pods` bare creates from `--clients` clients; once all run, deleted again.
async fn bare(
    client: &Client,
    server: &str,
    ns: &str,
    args: &ControllersArgs,
    report: &mut Report,
) -> anyhow::Result<Bare> {
    let clients = futures::future::try_join_all((0..args.clients).map(|_| Client::connect(server))).await?;
    let labels = json!({"bench.kubelab.io/bare": "true"});
    let mut bare_pod = template(&labels);
    bare_pod["apiVersion"] = json!("v1");
    bare_pod["kind"] = json!("Pod");
    let (mut stream, mut progress) = watch_pods(client, ns).await?;
    eprintln!("bare creates: {} pods from {} clients ...", args.pods, args.clients);
    let want = usize::try_from(args.pods)?;
    let creates = {
        let (ns, pod) = (ns.to_string(), bare_pod.clone());
        drive(&clients, Budget::ops(args.pods), move |client, n| {
            let mut obj = pod.clone();
            obj["metadata"]["name"] = json!(crate::pod::name(n));
            let ns = ns.clone();
            async move { client.create(pods_info(), &ns, &obj).await.map(drop).map_err(|e| e.to_string()) }
        })
    };
    // The watch is read while the calls go out: one left unread for a whole
    // phase falls further behind than the apiserver's watch cache reaches,
    // and is ended as too old (as Kubernetes ends a watcher that slow).
    let deadline = Instant::now() + args.timeout;
    let (outcome, running) = tokio::join!(creates, async {
        while progress.running.len() < want {
            next_change(&mut stream, &mut progress, deadline).await?;
        }
        anyhow::Ok(())
    });
    eprintln!("  {}", outcome.describe());
    if let Some(error) = outcome.error_summary("bare creates") {
        report.error(error);
    }
    running.context("the bare pods did not all run")?;
    // Deleting running pods, as the scale-down does: their kubelets take part.
    let target = progress.running.len();
    eprintln!("bare deletes: {target} running pods ...");
    let started = Instant::now();
    let deletes = {
        let ns = ns.to_string();
        drive(&clients, Budget::ops(args.pods), move |client, n| {
            let ns = ns.clone();
            async move {
                client
                    .delete(pods_info(), &ns, &crate::pod::name(n), &DeleteParams::default())
                    .await
                    .map(drop)
                    .map_err(|e| e.to_string())
            }
        })
    };
    let (deleted, gone) = tokio::join!(deletes, wait_gone(&mut stream, &mut progress, started, args.timeout));
    if let Some(error) = deleted.error_summary("bare deletes") {
        report.error(error);
    }
    eprintln!(
        "  delete calls done after {:.2} s, all gone after {:.2} s",
        deleted.elapsed.as_secs_f64(),
        gone.map_or(f64::NAN, |d| d.as_secs_f64())
    );
    if gone.is_none() {
        wait_empty(client, ns, args.timeout).await?;
    }
    Ok(Bare { created: outcome.elapsed, create_rate: outcome.rate(), gone })
}

/// Reads the watch until no pod is left; the time since `started` then, or
/// None (with a message) when the watch fails or `timeout` passes first.
async fn wait_gone(
    stream: &mut WatchStream,
    progress: &mut Progress,
    started: Instant,
    timeout: Duration,
) -> Option<Duration> {
    let deadline = started + timeout;
    while !progress.live.is_empty() {
        if let Err(e) = next_change(stream, progress, stall_deadline(deadline)).await {
            eprintln!("  {e}; {} pods left", progress.live.len());
            return None;
        }
    }
    Some(started.elapsed())
}

/// The table rows of the scale-up and scale-down against the bare phase.
fn scale_rows(pods: u64, bare: &Bare, scale: &Scale) -> Vec<Row> {
    let secs = |d: Duration| format!("{:.2} s", d.as_secs_f64());
    let or_not = |d: Option<Duration>| d.map_or("not reached".to_string(), secs);
    let ratio_of = |a: Option<Duration>, b: Option<Duration>| {
        format_ratio(a.zip(b).and_then(|(a, b)| ratio(a.as_secs_f64(), b.as_secs_f64())))
    };
    let scale_ratio = ratio(scale.created.as_secs_f64(), bare.created.as_secs_f64());
    let mut rows = vec![
        Row::new(SCENARIO, format!("RC 0→{pods} pods created"), secs(scale.created))
            .baseline(format!("{} ({pods} bare creates)", secs(bare.created)), format_ratio(scale_ratio))
            .target(format!("≤ {SCALE_RATIO_TARGET}x bare"), scale_ratio.is_some_and(|r| r <= SCALE_RATIO_TARGET)),
        Row::new(SCENARIO, format!("RC 0→{pods} pods Running"), or_not(scale.running)),
    ];
    let down = scale.down.as_ref();
    rows.push(Row::new(SCENARIO, format!("RC {pods}→0 pods terminating"), or_not(down.and_then(|d| d.terminating))));
    let gone = down.and_then(|d| d.gone);
    rows.push(
        Row::new(SCENARIO, format!("RC {pods}→0 pods gone"), or_not(gone))
            .baseline(format!("{} ({pods} bare deletes)", or_not(bare.gone)), ratio_of(gone, bare.gone)),
    );
    rows
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

/// How long a deletion may go without any pod event before it counts as stuck
/// (a controller that stopped), rather than waiting out --timeout.
const STALL: Duration = Duration::from_secs(30);

/// `deadline`, or [`STALL`] from now if that is sooner.
fn stall_deadline(deadline: Instant) -> Instant {
    deadline.min(Instant::now() + STALL)
}

/// The next event of `stream` into `progress`, by `deadline`.
async fn next_change(stream: &mut WatchStream, progress: &mut Progress, deadline: Instant) -> anyhow::Result<Change> {
    let event = tokio::time::timeout_at(deadline.into(), stream.next())
        .await
        .map_err(|_| anyhow::anyhow!("timed out waiting for the pod watch"))?
        .ok_or_else(|| anyhow::anyhow!("the pod watch ended"))??;
    Ok(progress.observe(&event.kind, &event.object))
}

/// What the scale phase measured, from just before each patch.
struct Scale {
    created: Duration,
    running: Option<Duration>,
    /// None when the scale-up did not finish, so there was nothing to scale down.
    down: Option<ScaleDown>,
}

struct ScaleDown {
    /// Every pod is being deleted: the RC's own share.
    terminating: Option<Duration>,
    /// Every pod is deleted from the API: the hollow kubelets finished the deletions.
    gone: Option<Duration>,
}

/// One RC scaled from 0 to `pods` and, once all run, back to 0.
async fn scale(client: &Client, ns: &str, pods: u64, timeout: Duration, report: &mut Report) -> anyhow::Result<Scale> {
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
    let created = created.expect("the loop ends only once all are created");
    let running = (progress.running.len() >= target).then(|| started.elapsed());
    eprintln!(
        "  all created after {:.2} s, all Running after {:.2} s",
        created.as_secs_f64(),
        running.map_or(f64::NAN, |d| d.as_secs_f64())
    );
    if running.is_none() {
        return Ok(Scale { created, running, down: None });
    }

    eprintln!("scale-down: the RC from {pods} to 0 ...");
    let patch = json!({"spec": {"replicas": 0}});
    let started = Instant::now();
    client.patch(rcs_info(), ns, name, PatchType::Merge, &patch).await.context("scale the RC down")?;
    let deadline = started + timeout;
    while !progress.all_terminating() {
        if let Err(e) = next_change(&mut stream, &mut progress, stall_deadline(deadline)).await {
            let left = progress.live.len() - progress.terminating.len();
            report.error(format!("scale-down: {e}; {left} of {target} pods not terminating"));
            return Ok(Scale { created, running, down: Some(ScaleDown { terminating: None, gone: None }) });
        }
    }
    let terminating = Some(started.elapsed());
    let gone = wait_gone(&mut stream, &mut progress, started, timeout).await;
    if gone.is_none() {
        report.error(format!("scale-down: {} of {target} pods not gone", progress.live.len()));
    }
    Ok(Scale { created, running, down: Some(ScaleDown { terminating, gone }) })
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
    fn scale_rows_put_the_rc_next_to_bare_creates_and_deletes() {
        let ms = Duration::from_millis;
        let bare = Bare { created: ms(2_000), create_rate: 500.0, gone: Some(ms(4_000)) };
        let scale = Scale {
            created: ms(2_500),
            running: Some(ms(6_000)),
            down: Some(ScaleDown { terminating: Some(ms(1_500)), gone: Some(ms(5_000)) }),
        };
        let rows = scale_rows(1000, &bare, &scale);
        let cells: Vec<[&str; 4]> =
            rows.iter().map(|r| [r.metric.as_str(), r.value.as_str(), r.baseline.as_str(), r.ratio.as_str()]).collect();
        assert_eq!(
            cells,
            [
                ["RC 0→1000 pods created", "2.50 s", "2.00 s (1000 bare creates)", "1.25x"],
                ["RC 0→1000 pods Running", "6.00 s", "", ""],
                ["RC 1000→0 pods terminating", "1.50 s", "", ""],
                ["RC 1000→0 pods gone", "5.00 s", "4.00 s (1000 bare deletes)", "1.25x"],
            ]
        );
        assert_eq!(rows[0].met, Some(true), "1.25x is within the 1.5x target");

        // A scale-up that never finished: no scale-down, and it says so.
        let stuck = Scale { created: ms(2_500), running: None, down: None };
        let rows = scale_rows(1000, &Bare { gone: None, ..bare }, &stuck);
        assert_eq!(rows[1].value, "not reached");
        assert_eq!(
            (rows[3].value.as_str(), rows[3].baseline.as_str(), rows[3].ratio.as_str()),
            ("not reached", "not reached (1000 bare deletes)", "-")
        );
    }

    #[test]
    fn loss_replicas_default_to_five_per_node_at_most_the_pods() {
        let args = |flags: &[&str]| crate::all::parse::<ControllersArgs>(flags).expect("valid flags");
        assert_eq!(args(&[]).loss_replicas(), 500);
        assert_eq!(args(&["--nodes", "50", "--pods", "200"]).loss_replicas(), 200);
        assert_eq!(args(&["--pods", "10000"]).loss_replicas(), 500);
        assert_eq!(args(&["--loss-replicas", "42"]).loss_replicas(), 42);
        assert_eq!(args(&[]).node_monitor_grace_period, Duration::from_secs(8));
    }

    #[test]
    fn durations_reach_the_components_in_milliseconds() {
        assert_eq!(flag_duration(Duration::from_secs(8)), "8000ms");
        assert_eq!(flag_duration(Duration::from_millis(2_500)), "2500ms");
    }

    #[test]
    fn nodes_are_ready_only_on_ready_true() {
        assert!(node_ready(&json!({"status": {"conditions": [{"type": "Ready", "status": "True"}]}})));
        assert!(!node_ready(&json!({"status": {"conditions": [{"type": "Ready", "status": "Unknown"}]}})));
        assert!(!node_ready(&json!({"status": {}})));
    }
}
