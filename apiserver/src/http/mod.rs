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
pub mod rows;
pub mod scale;
pub mod watch;

use crate::proxy::StreamingService;
use crate::registry::Registry;
use axum::extract::State;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

/// What the REST front needs to serve a request.
pub struct Front {
    pub registry: Arc<Registry>,
    pub streaming: Arc<StreamingService>,
    /// `host:port` clients reach the server at, for `/api`'s serverAddressByClientCIDRs.
    pub server_address: String,
    /// The Table rows made so far, by object and resourceVersion.
    pub rows: rows::RowCache,
}

/// The REST front as a router: every path goes to [`resources::handle`].
pub fn router(front: Arc<Front>) -> axum::Router {
    axum::Router::new().fallback(resources::handle).with_state(front)
}

/// Serves both fronts on `listener` until `shutdown` resolves; then stops
/// accepting and gives open requests `grace` to finish (watches never do by
/// themselves, so their connections are then dropped, and clients re-watch
/// elsewhere). The listener is the one the kubelet serves too
/// ([`daemon::serve`]); the apiserver's own part is how it writes.
pub async fn serve(
    listener: tokio::net::TcpListener,
    grpc: axum::Router,
    rest: axum::Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
    grace: Duration,
) -> anyhow::Result<()> {
    // HTTP/2 frames queued together leave in one write (see `coalesce`);
    // HTTP/1 sends at every flush.
    let coalesce = |stream: tokio::net::TcpStream, http2: bool| {
        if http2 {
            crate::coalesce::Coalesced::new(stream)
        } else {
            crate::coalesce::Coalesced::flushing(stream)
        }
    };
    Ok(daemon::serve::serve(listener, grpc, rest, coalesce, shutdown, grace).await?)
}

/// A handler's view of its state, for the router's fallback.
pub type FrontState = State<Arc<Front>>;
