//! The `density` scenario: pod startup latency and throughput for `--pods`
//! pods on `--nodes` hollow nodes, against raw etcd puts of the same pods at
//! the same concurrency, and the memory each process spends per pod and per
//! hollow node.
//!
//! Startup latency follows the Kubernetes SLO's definition: from just before
//! the create call to the watch event that shows the pod Running, both read
//! on this machine's clock (the pod carries its send time in an annotation).
//!
//! Two phases, as Kubernetes' density test (clusterloader2) runs them:
//! - saturation: `--pods` pods created as fast as `--clients` allow. Its
//!   figure is throughput; its startup latencies are mostly queueing (the last
//!   pod waits for the 9,999 before it), so they are shown but are not the SLO.
//! - latency: with the saturation pods in place, `--latency-pods` more pods
//!   created at a steady `--latency-rate`; their startup p99 is the SLO figure
//!   and the one the target is for.

use crate::report::{Report, Row};
use crate::stack::{self, Nodes, Stack};
use crate::stats::{format_bytes, format_duration, format_rate, format_ratio, ratio, throughput};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const SCENARIO: &str = "density";
/// The target and the Kubernetes SLO for pod startup p99.
const STARTUP_P99_TARGET: Duration = Duration::from_secs(1);
const STARTUP_P99_SLO: Duration = Duration::from_secs(5);
/// The Kubernetes SLO for mutating API calls.
const MUTATING_P99_SLO: Duration = Duration::from_secs(1);
/// 5,000 hollow nodes in one process under 1 GiB.
pub const HOLLOW_NODE_TARGET_BYTES: f64 = 1024.0 * 1024.0 * 1024.0 / 5000.0;
/// kubemark's memory per hollow node (one pod each).
pub const KUBEMARK_BYTES_PER_NODE: f64 = 220.0 * 1024.0 * 1024.0;
/// The apiserver memory target, which it sets at 100,000 pods: below
/// that, the watch cache's fixed rings weigh more per pod than the pods do.
const APISERVER_TARGET_BYTES_PER_POD: f64 = 2000.0;
const APISERVER_TARGET_PODS: u64 = 100_000;

#[derive(Debug, Clone, clap::Args)]
pub struct DensityArgs {
    /// Hollow nodes in the kubelet process.
    #[arg(long, default_value_t = 1000)]
    pub nodes: usize,
    /// Pods to create (all in one namespace).
    #[arg(long, default_value_t = 10_000)]
    pub pods: u64,
    /// Concurrent creating clients, each with its own connection (and the baseline's).
    #[arg(long, default_value_t = 50)]
    pub clients: usize,
    /// Pods created at a steady rate once the saturation pods run; their
    /// startup latency is the SLO figure (0: skip this phase).
    #[arg(long, default_value_t = 200)]
    pub latency_pods: u64,
    /// Creates per second of the latency pods.
    #[arg(long, default_value_t = 20.0)]
    pub latency_rate: f64,
    /// How long nodes may take to be Ready, and pods to be Running.
    #[arg(long, default_value = "600s", value_parser = api::duration::parse)]
    pub timeout: Duration,
    /// Also write the table as Markdown to `<dir>/density.md`.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

/// Creates the latency pods at a steady rate in a namespace of their own
/// (so no saturation pod's later event is mistaken for one) and times each
/// to Running.
async fn latency_phase(
    stack: &Stack,
    ns: &str,
    args: &DensityArgs,
    report: &mut Report,
) -> anyhow::Result<stack::Observed> {
    let ns = format!("{ns}-latency");
    stack::create_namespace(&stack.client, &ns).await?;
    let stream = stack::open_watch(&stack.client, &ns).await?;
    let want = usize::try_from(args.latency_pods)?;
    let watcher = tokio::spawn(stack::watch_until(stream, want, args.timeout, stack::is_running));
    eprintln!("latency: {} pods at {}/s ...", args.latency_pods, args.latency_rate);
    let creates = stack::create_pods_paced(&stack.client, &ns, args.latency_pods, args.latency_rate).await;
    eprintln!("  creates: {}", creates.describe());
    if let Some(e) = creates.error_summary("latency pod creates") {
        report.error(e);
    }
    let observed = watcher.await?;
    let running = observed.latencies.count();
    let s = observed.latencies.summary();
    eprintln!("  {running} Running; startup p50 {} p99 {}", format_duration(s.p50), format_duration(s.p99));
    if running < args.latency_pods {
        report.error(format!("only {running} of {} latency pods Running within {:?}", args.latency_pods, args.timeout));
    }
    Ok(observed)
}

/// The table and the startup samples for the distribution plot: the latency
/// pods' (the SLO figure), or the saturation pods' when that phase was skipped.
pub struct DensityRun {
    pub report: Report,
    pub startup: Vec<Duration>,
    /// What `startup` holds, for the plot's title.
    pub startup_label: String,
}

pub async fn run(args: &DensityArgs, exe: &Path) -> anyhow::Result<DensityRun> {
    anyhow::ensure!(args.pods > 0 && args.clients > 0 && args.nodes > 0, "--nodes, --pods and --clients must be > 0");
    anyhow::ensure!(
        args.latency_rate > 0.0 && args.latency_rate.is_finite(),
        "--latency-rate must be a positive number"
    );
    let mut stack = Stack::up(exe, Nodes::Hollow(args.nodes), true, args.timeout).await?;
    let target = stack.cluster.target().clone();
    let mut report =
        Report::new(format!("density: {} pods on {} hollow nodes, {} clients", args.pods, args.nodes, args.clients));

    eprintln!("baseline: {} raw etcd puts from {} clients ...", args.pods, args.clients);
    let puts = stack::raw_puts(&target.etcd, args.clients, args.pods).await?;
    eprintln!("  {}", puts.describe());
    if let Some(e) = puts.error_summary("etcd puts") {
        report.error(e);
    }

    let ns = format!("bench-density-{}", std::process::id());
    stack::create_namespace(&stack.client, &ns).await?;
    let rss_before: Vec<(&str, Option<u64>)> = ["apiserver", "etcd", "kubelet", "scheduler", "controller-manager"]
        .into_iter()
        .map(|n| (n, stack.rss(n)))
        .collect();
    let stream = stack::open_watch(&stack.client, &ns).await?;
    let want = usize::try_from(args.pods)?;
    let watcher = tokio::spawn(stack::watch_until(stream, want, args.timeout, stack::is_running));
    eprintln!("saturation: creating {} pods from {} clients ...", args.pods, args.clients);
    let cpu_before = stack.cpu();
    let revision_before = stack.etcd_revision().await?;
    let started = Instant::now();
    let creates = stack::create_pods(&target.server, &ns, args.clients, args.pods).await?;
    eprintln!("  creates: {}", creates.describe());
    if let Some(e) = creates.error_summary("pod creates") {
        report.error(e);
    }
    let observed = watcher.await?;
    let running = observed.latencies.count();
    let cpu = cpu_before.per_unit(&stack.cpu(), running);
    let writes = stack.etcd_revision().await? - revision_before;
    let all_running = observed.last.map_or(Duration::ZERO, |t| t.duration_since(started));
    eprintln!("  {running} Running after {:.2} s", all_running.as_secs_f64());
    if running < args.pods {
        report.error(format!("only {running} of {} pods Running within {:?}", args.pods, args.timeout));
    }
    stack.check()?;
    let rss_after: Vec<Option<u64>> = rss_before.iter().map(|(n, _)| stack.rss(n)).collect();

    let latency = if args.latency_pods > 0 { Some(latency_phase(&stack, &ns, args, &mut report).await?) } else { None };
    stack.check()?;

    let s = observed.latencies.summary();
    report.push(Row::new(
        SCENARIO,
        "saturation pod startup p50 / p90 / p99 (mostly queueing)",
        format!("{} / {} / {}", format_duration(s.p50), format_duration(s.p90), format_duration(s.p99)),
    ));
    if let Some(l) = &latency {
        let s = l.latencies.summary();
        let target_met = s.p99 < STARTUP_P99_TARGET && l.latencies.count() == args.latency_pods;
        for (q, d) in [("p50", s.p50), ("p90", s.p90)] {
            report.push(Row::new(SCENARIO, format!("pod startup {q}"), format_duration(d)));
        }
        report.push(
            Row::new(SCENARIO, "pod startup p99", format_duration(s.p99))
                .baseline(
                    format!("{} (Kubernetes SLO)", format_duration(STARTUP_P99_SLO)),
                    format_ratio(ratio(s.p99.as_secs_f64(), STARTUP_P99_SLO.as_secs_f64())),
                )
                .target(
                    stack::target_cell(
                        &format!("< {}", format_duration(STARTUP_P99_TARGET)),
                        target_met,
                        ratio(s.p99.as_secs_f64(), STARTUP_P99_TARGET.as_secs_f64()),
                    ),
                    target_met,
                ),
        );
    }
    let rate = throughput(running, all_running);
    report.push(stack::cpu_row(SCENARIO, "CPU per pod, saturation (create → Running)", &cpu, rate));
    report.push(stack::writes_row(
        SCENARIO,
        "etcd writes per pod, saturation",
        writes,
        running,
        args.nodes,
        all_running,
    ));
    report.push(
        Row::new(SCENARIO, "pods Running/s (create → all Running)", format_rate(rate))
            .baseline(format!("{} (raw etcd puts)", format_rate(puts.rate())), format_ratio(ratio(rate, puts.rate()))),
    );
    report.push(
        Row::new(
            SCENARIO,
            format!("time to {} pods Running", args.pods),
            format!("{:.2} s", all_running.as_secs_f64()),
        )
        .baseline(
            format!("{:.2} s (raw etcd puts)", puts.elapsed.as_secs_f64()),
            format_ratio(ratio(all_running.as_secs_f64(), puts.elapsed.as_secs_f64())),
        ),
    );
    let c = creates.latencies.summary();
    let p = puts.latencies.summary();
    report.push(
        Row::new(SCENARIO, "pod create p99", format_duration(c.p99))
            .baseline(
                format!("{} (etcd put p99)", format_duration(p.p99)),
                format_ratio(ratio(c.p99.as_secs_f64(), p.p99.as_secs_f64())),
            )
            .target(
                format!("≤ {} (SLO, mutating calls)", format_duration(MUTATING_P99_SLO)),
                c.p99 <= MUTATING_P99_SLO,
            ),
    );
    report.push(Row::new(SCENARIO, "pod creates/s", format_rate(creates.rate())).baseline(
        format!("{} (raw etcd puts)", format_rate(puts.rate())),
        format_ratio(ratio(creates.rate(), puts.rate())),
    ));
    let pod_bytes = serde_json::to_vec(&crate::pod::pod(&ns, &crate::pod::name(0))).map_or(0, |v| v.len()) as f64;
    for ((name, before), after) in rss_before.iter().zip(&rss_after) {
        let (Some(before), Some(after)) = (before, after) else {
            report.push(Row::new(SCENARIO, format!("RSS {name}"), "-"));
            continue;
        };
        let per_pod = (*after as f64 - *before as f64) / args.pods as f64;
        let mut row = Row::new(
            SCENARIO,
            format!("RSS {name} per pod"),
            format!("{} ({} → {})", format_bytes(per_pod), format_bytes(*before as f64), format_bytes(*after as f64)),
        )
        .baseline(format!("{} (pod JSON)", format_bytes(pod_bytes)), format_ratio(ratio(per_pod, pod_bytes)));
        if *name == "apiserver" && args.pods >= APISERVER_TARGET_PODS {
            let met = per_pod < APISERVER_TARGET_BYTES_PER_POD;
            let target = format!("< {} per pod", format_bytes(APISERVER_TARGET_BYTES_PER_POD));
            row = row.target(stack::target_cell(&target, met, ratio(per_pod, APISERVER_TARGET_BYTES_PER_POD)), met);
        }
        report.push(row);
    }
    if let Some(Some(kubelet)) = rss_before.iter().find(|(n, _)| *n == "kubelet").map(|(_, b)| *b) {
        let per_node = kubelet as f64 / args.nodes as f64;
        let met = per_node <= HOLLOW_NODE_TARGET_BYTES;
        report.push(
            Row::new(SCENARIO, "kubelet RSS per hollow node (no pods)", format_bytes(per_node))
                .baseline(
                    format!("{} (kubemark)", format_bytes(KUBEMARK_BYTES_PER_NODE)),
                    format_ratio(ratio(per_node, KUBEMARK_BYTES_PER_NODE)),
                )
                .target(
                    stack::target_cell(
                        &format!("≤ {} (1 GiB / 5,000)", format_bytes(HOLLOW_NODE_TARGET_BYTES)),
                        met,
                        ratio(per_node, HOLLOW_NODE_TARGET_BYTES),
                    ),
                    met,
                ),
        );
    }
    report.note(format!(
        "Startup: from just before each create call to the watch event showing the pod Running (local clock). \
         Saturation: {} pods created as fast as {} clients allow; throughput: {running} pods from the first create \
         to the last Running. Latency pods (the SLO figure, as Kubernetes' density test measures it): {} more pods, \
         in a namespace of their own, created at {}/s once every saturation pod runs. {} hollow nodes in one kubelet \
         process (fake runtime, start delay 0 s, 64 CPU / 256 Gi / 250 pods each), with the scheduler and \
         controller-manager running. Baseline: the same number of raw etcd puts of the same pod JSON at the same concurrency. \
         CPU per pod: each process's CPU time over the saturation phase, over the pods Running; the ceiling is \
         the rate at which that CPU fills every core of this machine.",
        args.pods, args.clients, args.latency_pods, args.latency_rate, args.nodes
    ));
    report.note("RSS per pod: (after all Running − before the creates) / pods; the kubelet's per-node figure is its RSS with no pods divided by the nodes.");
    drop(stack);
    let (startup, startup_label) = match latency {
        Some(l) => (
            l.samples,
            format!(
                "pod startup latency, {} pods at {}/s on {} hollow nodes holding {} pods",
                args.latency_pods, args.latency_rate, args.nodes, args.pods
            ),
        ),
        None => (
            observed.samples,
            format!("pod startup latency (mostly queueing), {} pods at once on {} hollow nodes", args.pods, args.nodes),
        ),
    };
    Ok(DensityRun { report, startup, startup_label })
}
