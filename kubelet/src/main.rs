//! The kubelet binary: parse flags, set up logging, run until SIGTERM or Ctrl-C.
//! Pods keep running after it exits; the next kubelet adopts them.
use clap::Parser;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    daemon::init_logging();
    kubelet::run(kubelet::Config::parse(), daemon::shutdown_signal()).await
}
