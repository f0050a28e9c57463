//! The `bench` binary: `bench api` runs the apiserver scenario and prints its
//! table; `bench startup` the pod startup scenario against a running compose
//! cluster; `bench serve-apiserver` (hidden) is the apiserver process the
//! scenarios start, so one build of this binary is both load and server.

use bench::cluster::Cluster;
use clap::{Parser, Subcommand};
use std::process::ExitCode;

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
    /// Runs an apiserver (what the scenarios start as their server process).
    #[command(hide = true)]
    ServeApiserver(apiserver::Config),
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
