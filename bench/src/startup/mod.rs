//! The `startup` scenario: pod startup latency as the Kubernetes SLO defines
//! it (creation to all containers started, observed through a watch) on a
//! running compose cluster, next to the time the same Docker engine takes to
//! create and start a pause plus one app container directly, and the idle
//! memory of the control plane and kubelets.
//!
//! The same run times pods that mount a configMap, a secret and an emptyDir
//! volume against the plain pods, in rounds interleaved with theirs, and how
//! long a ConfigMap edit takes to reach the files of the pods mounting it.
//!
//! The issues' targets: p50 within 1.3x of raw Docker's p50, p99 under 2 s,
//! and under 150 MB of RSS for the control plane plus three kubelets (etcd
//! reported but not counted) (issue 12); the pods with volumes' p50 within
//! 1.3x of the plain pods' p50, and a ConfigMap edit in 100 pods' files at
//! p99 within the kubelet's sync period plus 10 s (issue 19).
//!
//! - [`pods`]: the pods, their watch and the latency of each.
//! - [`propagation`]: the ConfigMap edit and the files it reaches.
//! - [`docker`]: the raw Docker baseline and the cluster containers' PIDs.
//! - [`footprint`]: which container is what, and the sums.
//! - this file: flags, the rounds, the table.

pub mod docker;
pub mod footprint;
pub mod pods;
pub mod propagation;

use crate::cluster::rss_bytes;
use crate::report::{Report, Row};
use crate::stats::{format_bytes, format_duration, format_ratio, ratio, Latencies};
use client::{Client, ListParams};
use pods::Kind;
use std::path::PathBuf;
use std::time::Duration;

const SCENARIO: &str = "startup";
const P50_RATIO_TARGET: f64 = 1.3;
const P99_TARGET: Duration = Duration::from_secs(2);
/// The pods with volumes' p50 against the plain pods' p50.
const VOLUME_P50_RATIO_TARGET: f64 = 1.3;
/// What the propagation p99 may exceed the kubelets' sync period by.
const PROPAGATION_SLACK: Duration = Duration::from_secs(10);
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
    /// Rounds, each a fresh namespace of plain pods and one of pods with
    /// volumes (in alternating order), followed by a baseline round.
    #[arg(long, default_value_t = 3)]
    pub rounds: usize,
    /// The app container's image; it must be present on the engine (no pulls are timed).
    #[arg(long, default_value = "luksa/kubia")]
    pub image: String,
    /// Seconds of quiet before the idle footprint is read.
    #[arg(long, default_value_t = 5)]
    pub quiet: u64,
    /// Pods mounting the ConfigMap whose edit is timed to their files (0: no propagation round).
    #[arg(long, default_value_t = 100)]
    pub propagation_pods: usize,
    /// The propagation pods' image, which runs `sleep`; it must be present on the engine.
    #[arg(long, default_value = "busybox")]
    pub propagation_image: String,
    /// The kubelets' --sync-frequency: the propagation target is this plus 10 s.
    #[arg(long, default_value = "1m", value_parser = api::duration::parse)]
    pub sync_frequency: Duration,
    /// Where the kubelets keep their nodes' filesystems on this host (docker-compose.yml's bind).
    #[arg(long, default_value = "/var/lib/kubelab/nodes")]
    pub nodes_dir: PathBuf,
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
    let mut needed = vec![image.clone(), docker::PAUSE_IMAGE.to_string()];
    if args.propagation_pods > 0 {
        needed.push(docker::with_tag(&args.propagation_image));
    }
    for needed in &needed {
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
    let (mut cluster_lat, mut volume_lat, mut raw_lat) = (Latencies::new(), Latencies::new(), Latencies::new());
    for r in 1..=args.rounds {
        // Alternating which kind goes first, so neither always meets the
        // engine right after the other's namespace was deleted.
        let order = if r % 2 == 1 { [Kind::Plain, Kind::Volumes] } else { [Kind::Volumes, Kind::Plain] };
        for kind in order {
            let suffix = if kind == Kind::Volumes { "-volumes" } else { "" };
            let namespace = format!("bench-startup-{run_id}-{r}{suffix}");
            progress(format!("round {r}/{}: {} {} in {namespace} ...", args.rounds, args.pods, kind.describe()));
            let outcome = in_namespace(&client, &args.server, &namespace, |client, namespace| async move {
                pods::round(&client, &namespace, args.pods, kind, &args.image).await
            })
            .await?;
            let s = outcome.latencies.summary();
            progress(format!("  {} running, p50 {}, p99 {}", s.count, format_duration(s.p50), format_duration(s.p99)));
            match kind {
                Kind::Plain => cluster_lat.merge(&outcome.latencies),
                Kind::Volumes => volume_lat.merge(&outcome.latencies),
            }
            report.errors.extend(outcome.errors);
        }

        progress(format!("round {r}/{}: {} raw docker pods ...", args.rounds, args.pods));
        let raw = docker::round(&engine, args.pods, &image, &run_id).await;
        let s = raw.latencies.summary();
        progress(format!("  {} started, p50 {}, p99 {}", s.count, format_duration(s.p50), format_duration(s.p99)));
        raw_lat.merge(&raw.latencies);
        report.errors.extend(raw.errors);
    }
    startup_rows(&mut report, &cluster_lat, &raw_lat);
    volume_rows(&mut report, &cluster_lat, &volume_lat);

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

    if args.propagation_pods > 0 {
        let namespace = format!("bench-startup-{run_id}-propagation");
        progress(format!(
            "propagation: {} pods of {} mounting ConfigMap {} in {namespace} ...",
            args.propagation_pods,
            args.propagation_image,
            propagation::CONFIG_MAP
        ));
        // Twice the period, plus the time 100 resyncs may queue for.
        let timeout = args.sync_frequency * 2 + Duration::from_secs(30);
        let outcome = in_namespace(&client, &args.server, &namespace, |client, namespace| async move {
            propagation::round(
                &client,
                &namespace,
                args.propagation_pods,
                &args.propagation_image,
                &args.nodes_dir,
                timeout,
            )
            .await
        })
        .await?;
        progress(format!(
            "  {} of {} files updated, p50 {}, p99 {}, max {}",
            outcome.delays.len(),
            outcome.watched,
            format_duration(outcome.p50()),
            format_duration(outcome.p99()),
            format_duration(outcome.max())
        ));
        propagation_rows(&mut report, &outcome, args.sync_frequency);
        report.errors.extend(outcome.startup.errors.iter().cloned());
        report.errors.extend(outcome.errors.iter().cloned());
        report.note(format!(
            "Propagation: {} pods ({}, `sleep`) mounting one ConfigMap, created at once; once every pod runs and \
             every file holds the first value, the ConfigMap's value is replaced, and each pod is timed from the \
             update's acknowledgement to its file holding the new value, read every 50 ms on the host at \
             {}/<node>/var/lib/kubelet/pods/<uid>/volumes/kubernetes.io~configmap/{}/{} (the file the engine binds \
             into the container). The pods, created together, resync together: the edit lands at about the same \
             point of every pod's period.",
            args.propagation_pods,
            args.propagation_image,
            args.nodes_dir.display(),
            propagation::VOLUME,
            propagation::KEY
        ));
    }

    report.note(format!(
        "{} rounds of {} pods created at once (one container, {}, imagePullPolicy IfNotPresent: the image is on \
         the engine and no pull is timed, as the SLO excludes pulls), each in a fresh namespace deleted afterwards.",
        args.rounds, args.pods, args.image
    ));
    report.note(format!(
        "Pods with volumes: the same pod with a configMap, a secret and an emptyDir volume mounted (the \
         ConfigMap and Secret created in the round's namespace first); each round has one namespace of plain \
         pods and one of these, in alternating order, and the ratio is against the plain pods of the same run \
         ({} rounds of {} pods each).",
        args.rounds, args.pods
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

fn volume_rows(report: &mut Report, plain: &Latencies, volumes: &Latencies) {
    let (p, v) = (plain.summary(), volumes.summary());
    let p50_ratio = ratio(v.p50.as_secs_f64(), p.p50.as_secs_f64());
    let p99_ratio = ratio(v.p99.as_secs_f64(), p.p99.as_secs_f64());
    let measured = p.count > 0 && v.count > 0;
    report.push(
        Row::new(SCENARIO, "pod with volumes startup p50", format_duration(v.p50))
            .baseline(format!("{} (pod without volumes p50)", format_duration(p.p50)), format_ratio(p50_ratio))
            .target(
                format!("≤ {VOLUME_P50_RATIO_TARGET}x without volumes"),
                measured && p50_ratio.is_some_and(|x| x <= VOLUME_P50_RATIO_TARGET),
            ),
    );
    report.push(
        Row::new(SCENARIO, "pod with volumes startup p99", format_duration(v.p99))
            .baseline(format!("{} (pod without volumes p99)", format_duration(p.p99)), format_ratio(p99_ratio)),
    );
    report.push(Row::new(SCENARIO, "pods with volumes measured", v.count.to_string()));
}

fn propagation_rows(report: &mut Report, outcome: &propagation::Outcome, sync_frequency: Duration) {
    let target = sync_frequency + PROPAGATION_SLACK;
    let startup = outcome.startup.latencies.summary();
    let pods = outcome.watched;
    report.push(Row::new(
        SCENARIO,
        format!("{pods} pods with a configMap: startup p50 / p99"),
        format!("{} / {}", format_duration(startup.p50), format_duration(startup.p99)),
    ));
    report.push(Row::new(SCENARIO, "configMap edit → file p50", format_duration(outcome.p50())));
    report.push(Row::new(SCENARIO, "configMap edit → file p99", format_duration(outcome.p99())).target(
        format!(
            "< {} (sync period {} + {})",
            format_duration(target),
            format_duration(sync_frequency),
            format_duration(PROPAGATION_SLACK)
        ),
        outcome.missed() == 0 && !outcome.delays.is_empty() && outcome.p99() < target,
    ));
    report.push(Row::new(SCENARIO, "configMap edit → file max", format_duration(outcome.max())));
    report.push(Row::new(SCENARIO, "pods whose file got the edit", format!("{} of {pods}", outcome.delays.len())));
}

/// Runs `body` on a namespace it creates, then deletes the namespace and
/// waits for it to go, also when `body` failed; on a panic or Ctrl-C a guard
/// deletes it.
async fn in_namespace<T, F, Fut>(client: &Client, server: &str, namespace: &str, body: F) -> anyhow::Result<T>
where
    F: FnOnce(Client, String) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<T>>,
{
    let guard = NamespaceCleanup { server: server.to_string(), namespace: Some(namespace.to_string()) };
    let outcome = body(client.clone(), namespace.to_string()).await;
    let deleted = pods::delete_namespace(client, namespace).await;
    guard.disarm();
    let outcome = outcome?;
    deleted?;
    Ok(outcome)
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
