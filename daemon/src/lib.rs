//! The kubelab daemons' shared start-up helpers (apiserver, scheduler,
//! controller-manager, kubelet): what every daemon's `main` does around its
//! work. Log to stderr at the level `RUST_LOG` names (`info` by default), and
//! stop on SIGTERM (what `docker stop` and compose send) or Ctrl-C.
//!
//! With the `serve` feature, [`serve`]: one port that answers gRPC and
//! HTTP, which the apiserver and the kubelet both listen on.
//!
//! A crate of its own so that a daemon gets these without depending on
//! anything else it does not use (the apiserver does not need the client).

#[cfg(feature = "serve")]
pub mod serve;

/// Logs to stderr, filtered by `RUST_LOG` (for example `scheduler=debug,info`).
pub fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt().with_env_filter(filter).init();
}

/// Resolves at the first SIGTERM or Ctrl-C.
pub async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
        }
        Err(e) => {
            tracing::warn!(error = %e, "no SIGTERM handler; stopping on Ctrl-C only");
            let _ = tokio::signal::ctrl_c().await;
        }
    }
    tracing::info!("shutting down");
}
