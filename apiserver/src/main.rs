//! The apiserver binary: parse flags, set up logging, serve until SIGTERM or Ctrl-C.
use clap::Parser;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    daemon::init_logging();
    apiserver::run(apiserver::Config::parse(), daemon::shutdown_signal()).await
}
