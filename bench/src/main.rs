//! The `bench` binary: `bench api` runs the apiserver scenario and prints its
//! table; `bench startup` the pod startup scenario against a running compose
//! cluster; `bench services` requests through a Service vs straight to the pod
//! and endpoint propagation, on the same cluster; `bench controllers` the ReplicationController on hollow nodes;
//! `bench density`, `bench scheduler` and `bench all --out DIR` (every local
//! scenario into a report with plots);
//! `bench serve-apiserver`, `serve-scheduler`, `serve-controller-manager` and
//! `serve-kubelet` (hidden) are the processes the scenarios start, so one
//! build of this binary is both load and cluster.

use bench::cluster::Cluster;
use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// The daemons' allocator: this binary also runs them (`serve-apiserver`, ...).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The same allocator as the daemons: this binary also runs them (`serve-apiserver`, ...).
#[derive(Parser)]
#[command(name = "bench", about = "kubelab benchmarks: measure the control plane on this machine")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// The apiserver against raw etcd: creates, gets, lists, watch delivery and memory.
    Api(bench::api::ApiArgs),
    /// Pod startup latency on the running compose cluster vs raw Docker, and its idle memory.
    Startup(bench::startup::StartupArgs),
    /// On the running compose cluster: GETs through a Service vs straight to the pod, and endpoint propagation.
    Services(bench::services::ServicesArgs),
    /// A ReplicationController on hollow nodes: pod replacement time and scale-up vs bare creates.
    Controllers(bench::controllers::ControllersArgs),
    /// Pod startup latency and throughput for N pods on M hollow nodes vs raw etcd puts; memory per pod.
    Density(bench::density::DensityArgs),
    /// Scheduling throughput (pending → bound) at several node counts vs decision time and raw etcd writes.
    Scheduler(bench::scheduling::SchedulerArgs),
    /// Every local scenario (not startup) into DIR/report.md with SVG plots.
    All(bench::all::AllArgs),
    /// Runs an apiserver (what the scenarios start as their server process).
    #[command(hide = true)]
    ServeApiserver(apiserver::Config),
    /// Runs a scheduler (started by the controllers scenario).
    #[command(hide = true)]
    ServeScheduler(scheduler::Config),
    /// Runs a controller-manager (started by the controllers scenario).
    #[command(hide = true)]
    ServeControllerManager(controller_manager::Config),
    /// Runs a kubelet, e.g. with --hollow-nodes (started by the controllers scenario).
    #[command(hide = true)]
    ServeKubelet(Box<kubelet::Config>),
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".parse().expect("valid")),
        )
        .init();
    let result = match Cli::parse().command {
        Command::ServeApiserver(config) => serve_apiserver(config).await,
        Command::ServeScheduler(config) => {
            scheduler::run(config, ctrl_c()).await.map(|()| ExitCode::SUCCESS).map_err(anyhow::Error::from)
        }
        Command::ServeControllerManager(config) => {
            controller_manager::run(config, ctrl_c()).await.map(|()| ExitCode::SUCCESS)
        }
        Command::ServeKubelet(config) => kubelet::run(*config, ctrl_c()).await.map(|()| ExitCode::SUCCESS),
        Command::Density(args) => interruptible(density(args)).await,
        Command::Scheduler(args) => interruptible(scheduler_bench(args)).await,
        Command::All(args) => interruptible(all(args)).await,
        Command::Controllers(args) => {
            // Returning on Ctrl-C drops the cluster and the components.
            tokio::select! {
                result = controllers(args) => result,
                _ = tokio::signal::ctrl_c() => Err(anyhow::anyhow!("interrupted")),
            }
        }
        Command::Services(args) => {
            // Dropping the run on Ctrl-C removes its namespace.
            tokio::select! {
                result = services(args) => result,
                _ = tokio::signal::ctrl_c() => Err(anyhow::anyhow!("interrupted")),
            }
        }
        Command::Startup(args) => {
            // Dropping the run on Ctrl-C removes its namespace and containers.
            tokio::select! {
                result = startup(args) => result,
                _ = tokio::signal::ctrl_c() => Err(anyhow::anyhow!("interrupted")),
            }
        }
        Command::Api(args) => {
            // Returning (rather than exiting) on Ctrl-C drops the cluster, which
            // stops the processes the run started and removes etcd's data.
            tokio::select! {
                result = api(args) => result,
                _ = tokio::signal::ctrl_c() => Err(anyhow::anyhow!("interrupted")),
            }
        }
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("bench: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Returning on Ctrl-C drops every process the run started.
async fn interruptible(run: impl std::future::Future<Output = anyhow::Result<ExitCode>>) -> anyhow::Result<ExitCode> {
    tokio::select! {
        result = run => result,
        _ = tokio::signal::ctrl_c() => Err(anyhow::anyhow!("interrupted")),
    }
}

fn finish(report: &bench::report::Report, out: Option<&std::path::Path>, file: &str) -> anyhow::Result<ExitCode> {
    print!("{}", report.to_text());
    if let Some(dir) = out {
        let path = report.write_markdown(dir, file)?;
        eprintln!("wrote {}", path.display());
    }
    Ok(if report.errors.is_empty() { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

async fn density(args: bench::density::DensityArgs) -> anyhow::Result<ExitCode> {
    let run = bench::density::run(&args, &std::env::current_exe()?).await?;
    finish(&run.report, args.out.as_deref(), "density.md")
}

async fn scheduler_bench(args: bench::scheduling::SchedulerArgs) -> anyhow::Result<ExitCode> {
    let run = bench::scheduling::run(&args, &std::env::current_exe()?).await?;
    finish(&run.report, args.out.as_deref(), "scheduler.md")
}

async fn all(args: bench::all::AllArgs) -> anyhow::Result<ExitCode> {
    let (path, ok) = bench::all::run(&args, &std::env::current_exe()?).await?;
    eprintln!("wrote {}", path.display());
    Ok(if ok { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

async fn ctrl_c() {
    let _ = tokio::signal::ctrl_c().await;
}

async fn controllers(args: bench::controllers::ControllersArgs) -> anyhow::Result<ExitCode> {
    let exe = std::env::current_exe()?;
    let report = bench::controllers::run(&args, &exe).await?;
    print!("{}", report.to_text());
    if let Some(dir) = &args.out {
        let path = report.write_markdown(dir, "controllers.md")?;
        eprintln!("wrote {}", path.display());
    }
    Ok(if report.errors.is_empty() { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

async fn serve_apiserver(config: apiserver::Config) -> anyhow::Result<ExitCode> {
    apiserver::run(config, async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await?;
    Ok(ExitCode::SUCCESS)
}

async fn api(args: bench::api::ApiArgs) -> anyhow::Result<ExitCode> {
    let plan = args.plan()?;
    let exe = std::env::current_exe()?;
    let cluster = Cluster::up(args.etcd.as_deref(), args.server.as_deref(), &exe).await?;
    let report = bench::api::run(&plan, cluster.target()).await?;
    drop(cluster);
    print!("{}", report.to_text());
    if let Some(dir) = &args.out {
        let path = report.write_markdown(dir, "api.md")?;
        eprintln!("wrote {}", path.display());
    }
    // A missed target is a finding, not a failure of the run; an error is.
    Ok(if report.errors.is_empty() { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

async fn startup(args: bench::startup::StartupArgs) -> anyhow::Result<ExitCode> {
    let report = bench::startup::run(&args).await?;
    print!("{}", report.to_text());
    if let Some(dir) = &args.out {
        let path = report.write_markdown(dir, "startup.md")?;
        eprintln!("wrote {}", path.display());
    }
    Ok(if report.errors.is_empty() { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

async fn services(args: bench::services::ServicesArgs) -> anyhow::Result<ExitCode> {
    let report = bench::services::run(&args).await?;
    finish(&report, args.out.as_deref(), "services.md")
}
