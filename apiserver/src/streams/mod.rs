//! `pods/exec`, `pods/attach` and `pods/portforward` over HTTP, as real
//! clients speak them: kubectl 1.20 upgrades to SPDY/3.1; a current kubectl
//! opens a WebSocket (`v5.channel.k8s.io` for exec and attach, SPDY tunnelled
//! in WebSocket `SPDY/3.1+portforward.k8s.io` for port-forward); kube-rs and
//! the Python client use WebSocket channels (v4, v5) for everything.
//!
//! Whatever the transport, the call is relayed to the pod's kubelet through
//! [`crate::proxy::StreamingService`], as kube-apiserver proxies these
//! requests to the kubelet. Errors found before the upgrade (bad parameters,
//! no such pod or container) are answered as a Kubernetes `Status`.

mod exec;
mod portforward;
pub mod spdy;
pub mod ws;

use crate::proxy::StreamingService;
use api::{ApiError, Reason};
use axum::body::Body;
use axum::response::Response;
use http::{header, HeaderMap, HeaderValue, StatusCode};
use hyper_util::rt::TokioIo;
use k8s_openapi::api::core::v1::Pod;
use std::sync::Arc;
use std::time::Duration;
use tokio_tungstenite::tungstenite::protocol::Role;
use tokio_tungstenite::WebSocketStream;

/// Which subresource a request is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamKind {
    Exec,
    Attach,
    PortForward,
}

/// The remote command protocols over SPDY, most preferred first.
const SPDY_EXEC_PROTOCOLS: &[&str] = &["v4.channel.k8s.io", "v3.channel.k8s.io", "v2.channel.k8s.io", "channel.k8s.io"];
/// Port-forward's protocol over SPDY.
const SPDY_PORT_FORWARD_PROTOCOL: &str = "portforward.k8s.io";
/// The WebSocket subprotocol that tunnels SPDY port-forward (kubectl 1.31+).
const TUNNEL_PROTOCOL: &str = "SPDY/3.1+portforward.k8s.io";
/// How long a SPDY client has to open the streams its request announced (the kubelet's default).
const STREAM_CREATION_TIMEOUT: Duration = Duration::from_secs(30);

/// How long a finished session waits for the client to close its side.
const CLOSE_GRACE: Duration = Duration::from_secs(5);

/// A WebSocket connection after the upgrade.
type Ws = WebSocketStream<TokioIo<hyper::upgrade::Upgraded>>;

/// Serves one exec/attach/portforward request (query: command, container, stdin,
/// stdout, stderr, tty, ports) for pod `namespace/pod`: negotiates WebSocket or
/// SPDY from the request's headers, answers 101, and relays; or answers a
/// Kubernetes Status error (400 bad params, 404 pod, 403/400 when the pod is not
/// running, etc.) as a JSON Status with the right code.
pub async fn serve(
    streaming: Arc<StreamingService>,
    req: axum::extract::Request,
    namespace: String,
    pod: String,
    kind: StreamKind,
) -> axum::response::Response {
    match upgrade(streaming, req, namespace, pod, kind).await {
        Ok(response) => response,
        Err(err) => status_response(&err),
    }
}

/// A Kubernetes `Status` answer for an error.
pub fn status_response(err: &ApiError) -> Response {
    let mut response = Response::new(Body::from(err.to_status().to_string()));
    *response.status_mut() = StatusCode::from_u16(err.code()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

/// The exec and attach options of a request's query (`PodExecOptions`, `PodAttachOptions`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExecOptions {
    pub command: Vec<String>,
    pub container: String,
    pub stdin: bool,
    pub stdout: bool,
    pub stderr: bool,
    pub tty: bool,
}

/// A query parameter's values, in order.
fn query_values(query: &str, name: &str) -> Vec<String> {
    form_urlencoded::parse(query.as_bytes()).filter(|(k, _)| k == name).map(|(_, v)| v.into_owned()).collect()
}

/// A boolean query parameter, read as Go's `strconv.ParseBool`; absent is false.
fn query_bool(query: &str, name: &str) -> Result<bool, ApiError> {
    match query_values(query, name).last().map(String::as_str) {
        None => Ok(false),
        Some("1" | "t" | "T" | "true" | "TRUE" | "True") => Ok(true),
        Some("0" | "f" | "F" | "false" | "FALSE" | "False") => Ok(false),
        Some(other) => Err(ApiError::bad_request(format!(
            "invalid value for query parameter {name:?}: strconv.ParseBool: parsing {other:?}: invalid syntax"
        ))),
    }
}

impl ExecOptions {
    /// Reads and checks the options of an exec (`command` required) or attach.
    pub fn from_query(query: &str, kind: StreamKind) -> Result<Self, ApiError> {
        let options = Self {
            command: query_values(query, "command"),
            container: query_values(query, "container").pop().unwrap_or_default(),
            stdin: query_bool(query, "stdin")?,
            stdout: query_bool(query, "stdout")?,
            stderr: query_bool(query, "stderr")?,
            tty: query_bool(query, "tty")?,
        };
        if kind == StreamKind::Exec && options.command.is_empty() {
            return Err(ApiError::bad_request("you must specify at least one command for the container"));
        }
        if !options.stdin && !options.stdout && !options.stderr {
            return Err(ApiError::bad_request("you must specify at least 1 of stdin, stdout, stderr"));
        }
        Ok(options)
    }

    /// Whether a stderr stream is used: a terminal merges it into stdout.
    pub fn uses_stderr(&self) -> bool {
        self.stderr && !self.tty
    }
}

/// The `ports` of a port-forward query (repeated, or comma-separated as kubectl and the Python client send them).
pub fn ports_from_query(query: &str) -> Result<Vec<u16>, ApiError> {
    let mut ports = Vec::new();
    for value in query_values(query, "ports") {
        for item in value.split(',') {
            let port: u16 = item.trim().parse().map_err(|_| {
                ApiError::bad_request(format!("invalid value for query parameter \"ports\": {item:?} is not a port"))
            })?;
            if port == 0 {
                return Err(ApiError::bad_request(format!("port {item:?} must be > 0")));
            }
            ports.push(port);
        }
    }
    Ok(ports)
}

/// The container a request means: the named one, or the pod's only one
/// (kube-apiserver's rules and words).
pub fn container_for(pod: &Pod, requested: &str) -> Result<String, ApiError> {
    let name = pod.metadata.name.clone().unwrap_or_default();
    let spec = pod.spec.clone().unwrap_or_default();
    let containers: Vec<&str> = spec.containers.iter().map(|c| c.name.as_str()).collect();
    let init: Vec<&str> = spec.init_containers.iter().flatten().map(|c| c.name.as_str()).collect();
    let ephemeral: Vec<&str> = spec.ephemeral_containers.iter().flatten().map(|c| c.name.as_str()).collect();
    if requested.is_empty() {
        if let [only] = containers.as_slice() {
            return Ok(only.to_string());
        }
        let mut message =
            format!("a container name must be specified for pod {name}, choose one of: [{}]", containers.join(" "));
        if !init.is_empty() {
            message.push_str(&format!(" or one of the init containers: [{}]", init.join(" ")));
        }
        return Err(ApiError::bad_request(message));
    }
    if containers.iter().chain(&init).chain(&ephemeral).any(|c| *c == requested) {
        Ok(requested.to_string())
    } else {
        Err(ApiError::bad_request(format!("container {requested} is not valid for pod {name}")))
    }
}

/// The pod, which must exist and be bound to a node.
async fn bound_pod(streaming: &StreamingService, namespace: &str, name: &str) -> Result<Pod, ApiError> {
    let pod = streaming.pod(namespace, name).await?;
    if pod.spec.as_ref().and_then(|s| s.node_name.as_deref()).unwrap_or_default().is_empty() {
        return Err(ApiError::bad_request(format!("pod {name} does not have a host assigned")));
    }
    Ok(pod)
}

/// How the client asked to upgrade.
enum Transport {
    /// SPDY/3.1 with the protocol versions it offered.
    Spdy(Vec<String>),
    /// WebSocket with the subprotocols it offered.
    WebSocket(Vec<String>),
}

/// The values of a header that may be repeated and comma-separated.
fn header_list(headers: &HeaderMap, name: &str) -> Vec<String> {
    headers
        .get_all(name)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
        .collect()
}

fn transport(headers: &HeaderMap) -> Result<Transport, ApiError> {
    let connection = header_list(headers, "connection");
    let upgrade = header_list(headers, "upgrade");
    if !connection.iter().any(|c| c.eq_ignore_ascii_case("upgrade")) || upgrade.is_empty() {
        return Err(ApiError::bad_request("Upgrade request required"));
    }
    if upgrade.iter().any(|u| u.eq_ignore_ascii_case("websocket")) {
        return Ok(Transport::WebSocket(header_list(headers, "sec-websocket-protocol")));
    }
    if upgrade.iter().any(|u| u.eq_ignore_ascii_case("SPDY/3.1")) {
        return Ok(Transport::Spdy(header_list(headers, "x-stream-protocol-version")));
    }
    Err(ApiError::bad_request(format!(
        "unable to upgrade: the Upgrade header {:?} names neither SPDY/3.1 nor websocket",
        upgrade.join(", ")
    )))
}

/// Picks the SPDY protocol version: the client's first that the server speaks
/// (apimachinery's `httpstream.Handshake`).
fn negotiate_spdy(offered: &[String], supported: &[&'static str]) -> Result<&'static str, ApiError> {
    if offered.is_empty() {
        return Err(ApiError::bad_request(
            "unable to upgrade: header X-Stream-Protocol-Version does not exist in request",
        ));
    }
    offered.iter().find_map(|o| supported.iter().find(|s| **s == o.as_str()).copied()).ok_or_else(|| {
        ApiError::new(
            Reason::Forbidden,
            format!(
                "unable to upgrade: unable to negotiate protocol: client supports [{}], server accepts [{}]",
                offered.join(" "),
                supported.join(" ")
            ),
        )
    })
}

/// The 101 answer to a SPDY upgrade.
fn spdy_switch(protocol: &str) -> Response {
    let mut response = Response::new(Body::empty());
    *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let headers = response.headers_mut();
    headers.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
    headers.insert(header::UPGRADE, HeaderValue::from_static("SPDY/3.1"));
    headers.insert("X-Stream-Protocol-Version", HeaderValue::from_str(protocol).expect("a protocol name is a header"));
    response
}

/// The 101 answer to a WebSocket upgrade with subprotocol `protocol` ("" for none).
fn websocket_switch(headers: &HeaderMap, protocol: &str) -> Result<Response, ApiError> {
    if headers.get("sec-websocket-version").and_then(|v| v.to_str().ok()) != Some("13") {
        return Err(ApiError::bad_request("unable to upgrade: WebSocket version 13 is required"));
    }
    let key = headers
        .get("sec-websocket-key")
        .ok_or_else(|| ApiError::bad_request("unable to upgrade: the Sec-WebSocket-Key header is missing"))?;
    let accept = tokio_tungstenite::tungstenite::handshake::derive_accept_key(key.as_bytes());
    let mut response = Response::new(Body::empty());
    *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let out = response.headers_mut();
    out.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
    out.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
    out.insert("Sec-WebSocket-Accept", HeaderValue::from_str(&accept).expect("base64 is a header value"));
    if !protocol.is_empty() {
        out.insert("Sec-WebSocket-Protocol", HeaderValue::from_str(protocol).expect("a protocol name is a header"));
    }
    Ok(response)
}

/// The connection once hyper hands it over after the 101.
async fn upgraded(on: hyper::upgrade::OnUpgrade) -> Option<TokioIo<hyper::upgrade::Upgraded>> {
    match on.await {
        Ok(io) => Some(TokioIo::new(io)),
        Err(e) => {
            tracing::debug!(error = %e, "the connection was not upgraded");
            None
        }
    }
}

async fn websocket(on: hyper::upgrade::OnUpgrade) -> Option<Ws> {
    let io = upgraded(on).await?;
    Some(WebSocketStream::from_raw_socket(io, Role::Server, None).await)
}

async fn upgrade(
    streaming: Arc<StreamingService>,
    mut req: axum::extract::Request,
    namespace: String,
    pod: String,
    kind: StreamKind,
) -> Result<Response, ApiError> {
    let query = req.uri().query().unwrap_or_default().to_string();
    let transport = transport(req.headers())?;
    let on_upgrade = req
        .extensions_mut()
        .remove::<hyper::upgrade::OnUpgrade>()
        .ok_or_else(|| ApiError::internal("this connection cannot be upgraded"))?;
    match kind {
        StreamKind::Exec | StreamKind::Attach => {
            let options = ExecOptions::from_query(&query, kind)?;
            let pod_obj = bound_pod(&streaming, &namespace, &pod).await?;
            let container = container_for(&pod_obj, &options.container)?;
            let options = ExecOptions { container, ..options };
            match transport {
                Transport::Spdy(offered) => {
                    let protocol = negotiate_spdy(&offered, SPDY_EXEC_PROTOCOLS)?;
                    let call = exec::start(&streaming, &namespace, &pod, &options, kind).await?;
                    tokio::spawn(async move {
                        if let Some(io) = upgraded(on_upgrade).await {
                            exec::over_spdy(io, protocol, options, call).await;
                        }
                    });
                    Ok(spdy_switch(protocol))
                }
                Transport::WebSocket(offered) => {
                    let protocol = ws::negotiate(&offered, ws::EXEC_PROTOCOLS).ok_or_else(|| {
                        ApiError::bad_request(format!(
                            "unable to upgrade: requested protocol(s) are not supported: [{}]; supports [{}]",
                            offered.join(" "),
                            ws::EXEC_PROTOCOLS.iter().map(|p| p.name).collect::<Vec<_>>().join(" ")
                        ))
                    })?;
                    let response = websocket_switch(req.headers(), protocol.name)?;
                    let call = exec::start(&streaming, &namespace, &pod, &options, kind).await?;
                    tokio::spawn(async move {
                        if let Some(ws) = websocket(on_upgrade).await {
                            exec::over_websocket(ws, protocol, options, call).await;
                        }
                    });
                    Ok(response)
                }
            }
        }
        StreamKind::PortForward => {
            let pod_obj = bound_pod(&streaming, &namespace, &pod).await?;
            let phase = pod_obj.status.as_ref().and_then(|s| s.phase.clone()).unwrap_or_else(|| "Pending".into());
            if phase != "Running" {
                return Err(ApiError::bad_request(format!(
                    "unable to forward port because pod is not running. Current status={phase}"
                )));
            }
            let target = portforward::Target { streaming, namespace, pod };
            match transport {
                Transport::Spdy(offered) => {
                    let protocol = negotiate_spdy(&offered, &[SPDY_PORT_FORWARD_PROTOCOL])?;
                    tokio::spawn(async move {
                        if let Some(io) = upgraded(on_upgrade).await {
                            portforward::over_spdy(io, target).await;
                        }
                    });
                    Ok(spdy_switch(protocol))
                }
                Transport::WebSocket(offered) if offered.iter().any(|p| p == TUNNEL_PROTOCOL) => {
                    let response = websocket_switch(req.headers(), TUNNEL_PROTOCOL)?;
                    tokio::spawn(async move {
                        if let Some(ws) = websocket(on_upgrade).await {
                            portforward::over_tunnel(ws, target).await;
                        }
                    });
                    Ok(response)
                }
                Transport::WebSocket(offered) => {
                    let ports = ports_from_query(&query)?;
                    if ports.is_empty() {
                        return Err(ApiError::bad_request("query parameter \"ports\" is required"));
                    }
                    let protocol = ws::negotiate(&offered, ws::PORT_FORWARD_PROTOCOLS).ok_or_else(|| {
                        ApiError::bad_request(format!(
                            "unable to upgrade: requested protocol(s) are not supported: [{}]; supports [{} {}]",
                            offered.join(" "),
                            TUNNEL_PROTOCOL,
                            ws::PORT_FORWARD_PROTOCOLS.iter().map(|p| p.name).collect::<Vec<_>>().join(" ")
                        ))
                    })?;
                    let response = websocket_switch(req.headers(), protocol.name)?;
                    tokio::spawn(async move {
                        if let Some(ws) = websocket(on_upgrade).await {
                            portforward::over_websocket(ws, protocol, ports, target).await;
                        }
                    });
                    Ok(response)
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;
