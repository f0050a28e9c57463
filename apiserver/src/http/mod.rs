//! Kubernetes' HTTP API, on the same address as kubelab's gRPC API.
//!
//! Every connection is served as HTTP/1.1 or HTTP/2 (cleartext, h2c), and
//! each request goes by its Content-Type: `application/grpc` to the gRPC
//! services the daemons and kubelab's kubectl use, anything else to the REST
//! front here, which the real kubectl, client-go, kube-rs and the Python
//! client speak. Both fronts call the same [`Registry`]: the semantics of a
//! verb are written once, in the registry; this module only translates URLs,
//! query parameters, headers and bodies, as kube-apiserver's
//! `endpoints/handlers` do.
//!
//! - [`path`]: URLs to resources; [`negotiate`]: Accept, Content-Type, query.
//! - [`discovery`]: `/api`, `/apis`, resource lists, aggregated discovery.
//! - [`resources`]: the verbs; [`watch`]: watch streams; [`respond`]: bodies and errors.

pub mod discovery;
pub mod endpoints;
pub mod forward;
pub mod logs;
pub mod negotiate;
pub mod path;
pub mod protobuf;
pub mod resources;
pub mod respond;
pub mod scale;
pub mod watch;

use crate::proxy::StreamingService;
use crate::registry::Registry;
use axum::body::Body;
use axum::extract::{Request, State};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::service::TowerToHyperService;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tower::ServiceExt;

/// What the REST front needs to serve a request.
pub struct Front {
    pub registry: Arc<Registry>,
    pub streaming: Arc<StreamingService>,
    /// `host:port` clients reach the server at, for `/api`'s serverAddressByClientCIDRs.
    pub server_address: String,
}

/// The REST front as a router: every path goes to [`resources::handle`].
pub fn router(front: Arc<Front>) -> axum::Router {
    axum::Router::new().fallback(resources::handle).with_state(front)
}

/// Whether a request is gRPC (its Content-Type says so, as gRPC requires).
fn is_grpc(req: &Request<hyper::body::Incoming>) -> bool {
    req.headers()
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("application/grpc"))
}

/// Serves both fronts on `listener` until `shutdown` resolves; then stops
/// accepting and gives open requests `grace` to finish (watches never do by
/// themselves, so their connections are then dropped, and clients re-watch
/// elsewhere).
pub async fn serve(
    listener: tokio::net::TcpListener,
    grpc: axum::Router,
    rest: axum::Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
    grace: Duration,
) -> anyhow::Result<()> {
    let service = tower::service_fn(move |req: Request<hyper::body::Incoming>| {
        let target = if is_grpc(&req) { grpc.clone() } else { rest.clone() };
        target.oneshot(req.map(Body::new))
    });
    let mut builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
    builder.http2().timer(hyper_util::rt::TokioTimer::new());
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        let (stream, _) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(conn) => conn,
                Err(e) => {
                    // Out of file descriptors and the like: wait, as Go's server does.
                    tracing::warn!(error = %e, "accepting a connection");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = &mut shutdown => break,
        };
        // Replies are small and latency-bound; without TCP_NODELAY each one
        // waits for the client's delayed ACK (~40 ms).
        let _ = stream.set_nodelay(true);
        let (builder, service, watcher) = (builder.clone(), service.clone(), graceful.watcher());
        tokio::spawn(async move {
            // HTTP/2 frames queued together leave in one write (see
            // `coalesce`); HTTP/1 sends at every flush.
            let io = if is_http2(&stream).await {
                crate::coalesce::Coalesced::new(stream)
            } else {
                crate::coalesce::Coalesced::flushing(stream)
            };
            let conn = builder.serve_connection_with_upgrades(TokioIo::new(io), TowerToHyperService::new(service));
            if let Err(e) = watcher.watch(conn.into_owned()).await {
                tracing::debug!(error = %e, "connection ended");
            }
        });
    }
    drop(listener);
    if tokio::time::timeout(grace, graceful.shutdown()).await.is_err() {
        tracing::info!("open requests did not finish within the shutdown grace period; dropping them");
    }
    Ok(())
}

/// Whether a connection opens with HTTP/2's preface (gRPC and h2c clients
/// speak HTTP/2 from the first byte; everything else starts as HTTP/1.1).
async fn is_http2(stream: &tokio::net::TcpStream) -> bool {
    const PREFACE: &[u8] = b"PRI * HTTP/2.0";
    let mut buf = [0u8; PREFACE.len()];
    for _ in 0..100 {
        match stream.peek(&mut buf).await {
            Ok(n) if n >= PREFACE.len() || buf[..n] != PREFACE[..n] => return buf[..n] == *PREFACE,
            // The first bytes may come in pieces; wait for more.
            Ok(n) if n > 0 => tokio::time::sleep(Duration::from_millis(1)).await,
            _ => return false,
        }
    }
    false
}

/// A handler's view of its state, for the router's fallback.
pub type FrontState = State<Arc<Front>>;
