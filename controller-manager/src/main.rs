//! The controller-manager binary: parse flags, set up logging, run the
//! controllers until SIGTERM or Ctrl-C. Losing the leader lease ends the
//! process with an error, as kube-controller-manager does, so its supervisor
//! restarts it as a candidate.
use clap::Parser;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    daemon::init_logging();
    controller_manager::run(controller_manager::Config::parse(), daemon::shutdown_signal()).await
}
