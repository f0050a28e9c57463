//! One port for two protocols, as the apiserver and the kubelet serve them.
//!
//! Every connection is served as HTTP/1.1 or HTTP/2 (cleartext, h2c), and
//! each request goes by its Content-Type: `application/grpc` to the gRPC
//! router, anything else to the HTTP router. kube-apiserver and the kubelet
//! speak plain HTTP to their clients; kubelab's daemons also speak gRPC among
//! themselves, on the same address, so a node or the apiserver has one port.

use axum::body::Body;
use axum::extract::Request;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::service::TowerToHyperService;
use std::future::Future;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tower::ServiceExt;

/// Whether a request is gRPC (its Content-Type says so, as gRPC requires).
fn is_grpc(req: &Request<hyper::body::Incoming>) -> bool {
    req.headers()
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("application/grpc"))
}

/// Serves `grpc` and `http` on `listener` until `shutdown` resolves; then
/// stops accepting and gives open requests `grace` to finish (watches and
/// followed logs never do by themselves, so their connections are then
/// dropped). `wrap` gets each accepted connection, and whether it speaks
/// HTTP/2 from its first byte, and returns what is served (the apiserver
/// coalesces its writes there; anything else may pass the stream through).
pub async fn serve<W, Io>(
    listener: tokio::net::TcpListener,
    grpc: axum::Router,
    http: axum::Router,
    wrap: W,
    shutdown: impl Future<Output = ()> + Send + 'static,
    grace: Duration,
) -> std::io::Result<()>
where
    W: Fn(TcpStream, bool) -> Io + Clone + Send + 'static,
    Io: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let service = tower::service_fn(move |req: Request<hyper::body::Incoming>| {
        let target = if is_grpc(&req) { grpc.clone() } else { http.clone() };
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
        let (builder, service, watcher, wrap) = (builder.clone(), service.clone(), graceful.watcher(), wrap.clone());
        tokio::spawn(async move {
            let http2 = is_http2(&stream).await;
            let conn = builder
                .serve_connection_with_upgrades(TokioIo::new(wrap(stream, http2)), TowerToHyperService::new(service));
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
async fn is_http2(stream: &TcpStream) -> bool {
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
