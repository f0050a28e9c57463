//! The `startup` scenario: pod startup latency as the Kubernetes SLO defines
//! it (creation to all containers started, observed through a watch) on a
//! running compose cluster, next to the time the same Docker engine takes to
//! create and start a pause plus one app container directly, and the idle
//! memory of the control plane and kubelets.
//!
//! The targets: p50 within 1.3x of raw Docker's p50, p99 under 2 s,
//! and under 150 MB of RSS for the control plane plus three kubelets (etcd
//! reported but not counted).
//!
//! - [`pods`]: the pods, their watch and the latency of each.
//! - [`docker`]: the raw Docker baseline and the cluster containers' PIDs.
//! - [`footprint`]: which container is what, and the sums.
//! - this file: flags, the rounds, the table.

pub mod docker;
pub mod footprint;
pub mod pods;

use crate::cluster::rss_bytes;
use crate::report::{Report, Row};
use crate::stats::{format_bytes, format_duration, format_ratio, ratio, Latencies};
use client::{Client, ListParams};
use std::path::PathBuf;
use std::time::Duration;

const SCENARIO: &str = "startup";
const P50_RATIO_TARGET: f64 = 1.3;
const P99_TARGET: Duration = Duration::from_secs(2);
/// 150 MB, in the binary megabytes the table prints.
const FOOTPRINT_TARGET: u64 = 150 * 1024 * 1024;
/// The nodes a compose cluster has.
const NODES: usize = 3;

/// Flags of `bench startup`.
#[derive(Debug, Clone, clap::Args)]
pub struct StartupArgs {
    /// The running cluster's apiserver (host:port), as ./deploy/up.sh publishes it.
    #[arg(long, env = "BENCH_SERVER", default_value = "127.0.0.1:6443")]
    pub server: String,
    /// Pods created at once per round (and raw Docker pods per baseline round).
    #[arg(long, default_value_t = 30)]
    pub pods: usize,
    /// Rounds, each a fresh namespace, followed by a baseline round.
    #[arg(long, default_value_t = 3)]
    pub rounds: usize,
    /// The app container's image; it must be present on the engine (no pulls are timed).
    #[arg(long, default_value = "luksa/kubia")]
    pub image: String,
    /// Seconds of quiet before the idle footprint is read.
    #[arg(long, default_value_t = 5)]
    pub quiet: u64,
    /// Also write the table as Markdown to DIR/startup.md.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}

fn progress(msg: impl std::fmt::Display) {
    eprintln!("startup: {msg}");
}

/// Connects to the cluster and checks it has its three Ready nodes.
async fn cluster(server: &str) -> anyhow::Result<Client> {
    let unreachable = || format!("no kubelab cluster at {server}: start it with ./deploy/up.sh");
    let client = Client::connect(server).await.map_err(|e| anyhow::anyhow!("{}: {e}", unreachable()))?;
    let nodes = api::registry::lookup("nodes").expect("nodes are registered");
    let list =
        client.list(nodes, "", &ListParams::default()).await.map_err(|e| anyhow::anyhow!("{}: {e}", unreachable()))?;
    let ready = pods::ready_nodes(&list);
    if ready < NODES {
        anyhow::bail!("the kubelab cluster at {server} has {ready} Ready nodes, the scenario needs {NODES}");
    }
    Ok(client)
}

/// Runs the scenario against the cluster at `args.server`.
pub async fn run(args: &StartupArgs) -> anyhow::Result<Report> {
    anyhow::ensure!(args.pods > 0 && args.rounds > 0, "--pods and --rounds must be at least 1");
    let client = cluster(&args.server).await?;
    let engine = docker::connect().await.map_err(|e| anyhow::anyhow!("cannot reach the Docker engine: {e:#}"))?;
    let image = docker::with_tag(&args.image);
    for needed in [image.as_str(), docker::PAUSE_IMAGE] {
        if engine.inspect_image(needed).await.is_err() {
            anyhow::bail!("image {needed} is not on the Docker engine; pull it first (pulls are not timed)");
        }
    }
    let leftovers = docker::remove_labelled(&engine, None).await?;
    if leftovers > 0 {
        progress(format!("removed {leftovers} containers left by an earlier run"));
    }

    let mut report = Report::new(format!("startup: {} pods at once on {NODES} nodes vs raw Docker", args.pods));
    let run_id = format!("{:x}", rand::random::<u32>());
    let (mut cluster_lat, mut raw_lat) = (Latencies::new(), Latencies::new());
    for r in 1..=args.rounds {
        let namespace = format!("bench-startup-{run_id}-{r}");
        progress(format!("round {r}/{}: {} pods in {namespace} ...", args.rounds, args.pods));
        let guard = NamespaceCleanup { server: args.server.clone(), namespace: Some(namespace.clone()) };
        let outcome = pods::round(&client, &namespace, args.pods, &args.image).await;
        let deleted = pods::delete_namespace(&client, &namespace).await;
        guard.disarm();
        let outcome = outcome?;
        deleted?;
        let s = outcome.latencies.summary();
        progress(format!("  {} running, p50 {}, p99 {}", s.count, format_duration(s.p50), format_duration(s.p99)));
        cluster_lat.merge(&outcome.latencies);
        report.errors.extend(outcome.errors);

        progress(format!("round {r}/{}: {} raw docker pods ...", args.rounds, args.pods));
        let raw = docker::round(&engine, args.pods, &image, &run_id).await;
        let s = raw.latencies.summary();
        progress(format!("  {} started, p50 {}, p99 {}", s.count, format_duration(s.p50), format_duration(s.p99)));
        raw_lat.merge(&raw.latencies);
        report.errors.extend(raw.errors);
    }
    startup_rows(&mut report, &cluster_lat, &raw_lat);

    progress(format!("{} s of quiet before reading the idle footprint ...", args.quiet));
    tokio::time::sleep(Duration::from_secs(args.quiet)).await;
    let mut readings = Vec::new();
    for (container, pid) in docker::main_pids(&engine, &footprint::CONTAINERS).await {
        match rss_bytes(pid) {
            Some(rss) => readings.push((container, rss)),
            None => {
                report.error(format!("cannot read /proc/{pid}/status of {container} (run as root on the Docker host)"))
            }
        }
    }
    footprint_rows(&mut report, &footprint::aggregate(&readings));

    report.note(format!(
        "{} rounds of {} pods created at once (one container, {}, imagePullPolicy IfNotPresent: the image is on \
         the engine and no pull is timed, as the SLO excludes pulls), each in a fresh namespace deleted afterwards.",
        args.rounds, args.pods, args.image
    ));
    report.note(
        "Pod startup: from just before the pod's create call to the first watch event with every container's \
         state.running set, both on the bench's monotonic clock (the SLO starts at creationTimestamp, which \
         the apiserver stamps with 1 s resolution).",
    );
    report.note(format!(
        "Raw Docker: the same number of pods at once through bollard on the kubelets' engine: create+start \
         {} on network {}, then create+start the app joined to its network and IPC namespaces; \
         one round after each cluster round.",
        docker::PAUSE_IMAGE,
        docker::POD_NETWORK
    ));
    report.note(format!(
        "Footprint: VmRSS of each cluster container's main process after {} s of quiet; the target counts \
         apiserver, scheduler, controller-manager and the kubelets, not etcd.",
        args.quiet
    ));
    Ok(report)
}

fn startup_rows(report: &mut Report, cluster: &Latencies, raw: &Latencies) {
    let (c, r) = (cluster.summary(), raw.summary());
    let raw_p50 = format!("{} (raw docker p50)", format_duration(r.p50));
    let raw_p99 = format!("{} (raw docker p99)", format_duration(r.p99));
    let p50_ratio = ratio(c.p50.as_secs_f64(), r.p50.as_secs_f64());
    let p99_ratio = ratio(c.p99.as_secs_f64(), r.p99.as_secs_f64());
    let measured = c.count > 0 && r.count > 0;
    report.push(
        Row::new(SCENARIO, "pod startup p50", format_duration(c.p50))
            .baseline(raw_p50, format_ratio(p50_ratio))
            .target(
                format!("≤ {P50_RATIO_TARGET}x raw docker"),
                measured && p50_ratio.is_some_and(|x| x <= P50_RATIO_TARGET),
            ),
    );
    report.push(Row::new(SCENARIO, "pod startup p90", format_duration(c.p90)));
    report.push(
        Row::new(SCENARIO, "pod startup p99", format_duration(c.p99))
            .baseline(raw_p99, format_ratio(p99_ratio))
            .target(format!("< {}", format_duration(P99_TARGET)), measured && c.p99 < P99_TARGET),
    );
    report.push(Row::new(SCENARIO, "pod startup max", format_duration(c.max)));
    report.push(Row::new(SCENARIO, "pods measured", format!("{} (raw docker {})", c.count, r.count)));
}

fn footprint_rows(report: &mut Report, f: &footprint::Footprint) {
    for reading in &f.readings {
        report.push(Row::new(SCENARIO, format!("idle RSS {}", reading.container), format_bytes(reading.rss as f64)));
    }
    let complete = f.missing.is_empty() && f.kubelets == NODES;
    report.push(
        Row::new(
            SCENARIO,
            format!("idle RSS control plane + {} kubelets", f.kubelets),
            format_bytes(f.without_etcd as f64),
        )
        .target(
            format!("< {} (without etcd)", format_bytes(FOOTPRINT_TARGET as f64)),
            complete && f.without_etcd < FOOTPRINT_TARGET,
        ),
    );
    report.push(Row::new(SCENARIO, "idle RSS with etcd", format_bytes(f.with_etcd as f64)));
    if !complete {
        report
            .error(format!("footprint incomplete: no reading for {:?}; {} kubelets of {NODES}", f.missing, f.kubelets));
    }
}

/// Deletes a round's namespace when dropped armed (a panic, or Ctrl-C
/// dropping the run), from a thread with its own runtime and connection.
struct NamespaceCleanup {
    server: String,
    namespace: Option<String>,
}

impl NamespaceCleanup {
    fn disarm(mut self) {
        self.namespace = None;
    }
}

impl Drop for NamespaceCleanup {
    fn drop(&mut self) {
        let Some(namespace) = self.namespace.take() else { return };
        eprintln!("deleting namespace {namespace} ...");
        let server = self.server.clone();
        let deletion = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
            runtime.block_on(async {
                let client = Client::connect(&server).await?;
                let namespaces = api::registry::lookup("namespaces").expect("namespaces are registered");
                client.delete(namespaces, "", &namespace, &client::DeleteParams::default()).await?;
                anyhow::Ok(())
            })
        });
        if !matches!(deletion.join(), Ok(Ok(()))) {
            eprintln!("could not delete the bench's namespace; remove it with kubectl delete namespace");
        }
    }
}
