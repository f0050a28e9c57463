//! The scheduler binary: parse flags, set up logging, schedule until SIGTERM or Ctrl-C.
use clap::Parser;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    daemon::init_logging();
    scheduler::run(scheduler::Config::parse(), daemon::shutdown_signal()).await?;
    Ok(())
}
