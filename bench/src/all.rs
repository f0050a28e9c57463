//! `bench all --out DIR [--quick]`: runs the `api`, `controllers`, `density`
//! and `scheduler` scenarios one after another (each on its own fresh
//! processes) and writes `DIR/report.md` (every table, the Kubernetes
//! references, the targets) with two SVG plots: the startup latency
//! distribution of the density scenario's latency pods (`density-startup.svg`)
//! and time per pod against node count (`scheduler-nodes.svg`). `startup` is
//! left out: it needs the compose cluster.

use crate::cluster::Cluster;
use crate::report::Report;
use crate::{api, controllers, density, scheduling, svg};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, clap::Args)]
pub struct AllArgs {
    /// Where report.md and the SVG plots go.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// CI-sized: api --quick, 50 hollow nodes and 500 pods, scheduler at 50,100 nodes with 200 pods.
    #[arg(long)]
    pub quick: bool,
}

/// The report's sections, in order.
pub const SECTIONS: [&str; 4] = ["## api:", "## controllers:", "## density:", "## scheduler:"];
pub const STARTUP_PLOT: &str = "density-startup.svg";
pub const NODES_PLOT: &str = "scheduler-nodes.svg";

/// A scenario's flags as if given on the command line (defaults filled in).
pub fn parse<A: clap::Args>(flags: &[&str]) -> anyhow::Result<A> {
    let cmd = A::augment_args(clap::Command::new("bench"));
    let matches = cmd.try_get_matches_from(std::iter::once("bench").chain(flags.iter().copied()))?;
    Ok(A::from_arg_matches(&matches)?)
}

const REFERENCES: &str = "\
## Kubernetes references and the issue's targets

| what | Kubernetes | kubelab target |
|---|---|---|
| mutating API calls p99 | ≤ 1 s (SLO) | < 100 ms per verb and resource at 200 writes/s of open-loop churn; creates ≥ 0.5x raw etcd (api) |
| pod startup p99 (creation → Running, seen through a watch) | ≤ 5 s (SLO) | < 1 s for 10,000 pods on 1,000 hollow nodes |
| scheduling throughput at 5,000 nodes | ~270 pods/s (kube-scheduler perf tests) | ≥ 1,000 pods/s end to end and ≥ 0.5x raw etcd writes/s |
| memory per hollow node | ~220 MB (kubemark) | 5,000 hollow nodes in one process < 1 GiB |

A missed target reads `NO` in the `met?` column, and its target cell says by how much.
";

/// Runs everything and writes the report. Returns the path of report.md and
/// whether every scenario ran without errors.
pub async fn run(args: &AllArgs, exe: &Path) -> anyhow::Result<(PathBuf, bool)> {
    std::fs::create_dir_all(&args.out)?;
    let q = args.quick;
    let mut reports: Vec<Report> = Vec::new();
    let failed = |name: &str, e: anyhow::Error| {
        let mut r = Report::new(format!("{name}: did not complete"));
        r.error(format!("{e:#}"));
        r
    };

    eprintln!("== api ==");
    let api_args: api::ApiArgs = parse(&["--quick"])?;
    let api_report = async {
        let plan = api_args.plan()?;
        let cluster = Cluster::up(None, None, exe).await?;
        api::run(&plan, cluster.target()).await
    }
    .await;
    reports.push(api_report.unwrap_or_else(|e| failed("api", e)));

    eprintln!("== controllers ==");
    let ctl_flags: &[&str] =
        if q { &["--hollow-nodes", "50", "--pods", "200", "--reactions", "20", "--replicas", "5"] } else { &[] };
    let ctl_args: controllers::ControllersArgs = parse(ctl_flags)?;
    reports.push(controllers::run(&ctl_args, exe).await.unwrap_or_else(|e| failed("controllers", e)));

    eprintln!("== density ==");
    let den_flags: &[&str] = if q { &["--nodes", "50", "--pods", "500"] } else { &[] };
    let den_args: density::DensityArgs = parse(den_flags)?;
    let (mut startup, mut startup_label) = (Vec::new(), String::from("pod startup latency (density failed)"));
    match density::run(&den_args, exe).await {
        Ok(run) => {
            (startup, startup_label) = (run.startup, run.startup_label);
            reports.push(run.report);
        }
        Err(e) => reports.push(failed("density", e)),
    }

    eprintln!("== scheduler ==");
    let sch_flags: &[&str] = if q { &["--nodes", "50,100", "--pods", "200"] } else { &[] };
    let sch_args: scheduling::SchedulerArgs = parse(sch_flags)?;
    let mut points = Vec::new();
    match scheduling::run(&sch_args, exe).await {
        Ok(run) => {
            points = run.points;
            reports.push(run.report);
        }
        Err(e) => reports.push(failed("scheduler", e)),
    }

    let ms: Vec<f64> = startup.iter().map(|d| d.as_secs_f64() * 1e3).collect();
    std::fs::write(args.out.join(STARTUP_PLOT), svg::histogram(&startup_label, "creation → Running (ms)", &ms, 40))?;
    let series = |f: fn(&scheduling::Point) -> std::time::Duration| -> Vec<(f64, f64)> {
        points.iter().map(|p| (p.nodes as f64, f(p).as_secs_f64() * 1e3)).collect()
    };
    std::fs::write(
        args.out.join(NODES_PLOT),
        svg::line_chart(
            "time per pod against node count",
            "nodes (log scale)",
            "ms per pod",
            true,
            &[
                ("end to end (pending → bound)", series(|p| p.e2e_per_pod)),
                ("scheduler decision (in process)", series(|p| p.decision_per_pod)),
                ("raw etcd put", series(|p| p.etcd_per_write)),
            ],
        ),
    )?;

    let mut md = String::new();
    writeln!(md, "# kubelab bench report{}\n", if q { " (quick, CI-sized)" } else { "" })?;
    writeln!(
        md,
        "Every figure next to the baseline it is compared with, measured in the same run on this machine. \
         The `startup` scenario is not part of `all`: it needs the compose cluster (`bench startup`).\n"
    )?;
    md.push_str(REFERENCES);
    for r in &reports {
        md.push('\n');
        md.push_str(&r.to_markdown());
    }
    writeln!(md, "\n## Plots\n")?;
    writeln!(md, "![pod startup latency distribution]({STARTUP_PLOT})\n")?;
    writeln!(md, "![time per pod against node count]({NODES_PLOT})")?;
    let path = args.out.join("report.md");
    std::fs::write(&path, md)?;
    for r in &reports {
        println!("{}", r.to_text());
    }
    Ok((path, reports.iter().all(|r| r.errors.is_empty())))
}
