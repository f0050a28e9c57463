//! Logs, exec, attach and port-forward: the apiserver finds the node a pod runs on and
//! relays the call to that node's kubelet (its NodeAgent service), as the
//! Kubernetes apiserver proxies these requests to the kubelet's API. kubectl
//! only ever talks to the apiserver.

use crate::registry::Registry;
use api::{registry, ApiError};
use futures::{Stream, StreamExt};
use k8s_openapi::api::core::v1::{Node, Pod};
use proto::node_agent_client::NodeAgentClient;
use proto::streaming_server::Streaming;
use proto::{exec_input, ExecInput, ExecOutput, ExecStart, LogChunk, LogsRequest, PortForwardFrame, PortForwardStart};
use std::collections::HashMap;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use tonic::transport::{Channel, Endpoint};
use tonic::{Request, Response, Status, Streaming as Incoming};

/// The kubelet port Kubernetes uses when a node does not say otherwise.
const DEFAULT_KUBELET_PORT: i64 = 10250;

pub struct StreamingService {
    registry: Arc<Registry>,
    /// One connection per kubelet address, shared by every call to it.
    agents: Mutex<HashMap<String, NodeAgentClient<Channel>>>,
}

type BoxStream<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send>>;

fn status(err: ApiError) -> Status {
    proto::status::to_status(&err)
}

impl StreamingService {
    pub fn new(registry: Arc<Registry>) -> Self {
        Self { registry, agents: Mutex::new(HashMap::new()) }
    }

    /// The node agent of the node `namespace/pod` is bound to.
    async fn agent_for(&self, namespace: &str, pod: &str) -> Result<NodeAgentClient<Channel>, Status> {
        let pods = registry::lookup("pods").expect("pods are registered");
        let nodes = registry::lookup("nodes").expect("nodes are registered");
        let pod_obj: Pod = typed(self.registry.get(pods, namespace, pod).await)?;
        let node_name = pod_obj.spec.and_then(|s| s.node_name).unwrap_or_default();
        if node_name.is_empty() {
            return Err(status(ApiError::bad_request(format!("pod {pod} does not have a host assigned"))));
        }
        let node: Node = typed(self.registry.get(nodes, "", &node_name).await)?;
        let node_status = node.status.unwrap_or_default();
        let ip = node_status
            .addresses
            .iter()
            .flatten()
            .find(|a| a.type_ == "InternalIP")
            .map(|a| a.address.clone())
            .ok_or_else(|| status(ApiError::internal(format!("node {node_name} reports no InternalIP address"))))?;
        let port = node_status
            .daemon_endpoints
            .and_then(|d| d.kubelet_endpoint)
            .map(|e| i64::from(e.port))
            // 0: the node left the port out.
            .filter(|p| *p != 0)
            .unwrap_or(DEFAULT_KUBELET_PORT);
        let addr = format!("http://{ip}:{port}");
        if let Some(agent) = self.agents.lock().expect("agents lock").get(&addr) {
            return Ok(agent.clone());
        }
        let channel = Endpoint::from_shared(addr.clone())
            .map_err(|e| status(ApiError::internal(e)))?
            .tcp_nodelay(true)
            .connect_timeout(std::time::Duration::from_secs(5))
            .connect()
            .await
            .map_err(|e| {
                status(ApiError::new(
                    api::Reason::ServiceUnavailable,
                    format!("error dialing the kubelet of node {node_name} at {addr}: {e}"),
                ))
            })?;
        let agent = NodeAgentClient::new(channel);
        self.agents.lock().expect("agents lock").insert(addr, agent.clone());
        Ok(agent)
    }
}

impl StreamingService {
    /// The pod `namespace/name` as stored, for the HTTP streaming endpoints'
    /// checks before they upgrade the connection (404 when it is gone).
    pub async fn pod(&self, namespace: &str, name: &str) -> Result<Pod, ApiError> {
        let pods = registry::lookup("pods").expect("pods are registered");
        let obj = self.registry.get(pods, namespace, name).await?;
        serde_json::from_value(obj).map_err(ApiError::internal)
    }

    /// Starts an exec on the pod's kubelet: `start` first, then `input`
    /// (stdin, resizes, end of stdin). The gRPC `Exec` and the HTTP exec
    /// endpoints (`streams`) both come here.
    pub async fn exec_session(
        &self,
        start: ExecStart,
        input: impl Stream<Item = ExecInput> + Send + 'static,
    ) -> Result<Incoming<ExecOutput>, Status> {
        let mut agent = self.agent_for(&start.namespace, &start.pod).await?;
        Ok(agent.exec(after(exec_head(start), input)).await?.into_inner())
    }

    /// Attaches to the main process of a container on the pod's kubelet;
    /// `start` names the container (no command), `input` as for exec.
    pub async fn attach_session(
        &self,
        start: ExecStart,
        input: impl Stream<Item = ExecInput> + Send + 'static,
    ) -> Result<Incoming<ExecOutput>, Status> {
        let mut agent = self.agent_for(&start.namespace, &start.pod).await?;
        Ok(agent.attach(after(exec_head(start), input)).await?.into_inner())
    }

    /// Opens one port-forward connection on the pod's kubelet; `input` is the
    /// data after `start` (a frame with `close` half-closes). Shared by the
    /// gRPC `PortForward` and the HTTP port-forward endpoints (`streams`).
    pub async fn port_forward_session(
        &self,
        start: PortForwardStart,
        input: impl Stream<Item = PortForwardFrame> + Send + 'static,
    ) -> Result<Incoming<PortForwardFrame>, Status> {
        let mut agent = self.agent_for(&start.namespace, &start.pod).await?;
        let head = PortForwardFrame { start: Some(start), data: Vec::new(), close: false };
        Ok(agent.port_forward(after(head, input)).await?.into_inner())
    }
}

/// A stored object read as its k8s-openapi type.
fn typed<T: serde::de::DeserializeOwned>(obj: Result<serde_json::Value, ApiError>) -> Result<T, Status> {
    serde_json::from_value(obj.map_err(status)?).map_err(|e| status(ApiError::internal(e)))
}

/// Reads the first message of a client stream, which names the pod.
async fn first<T>(incoming: &mut Incoming<T>) -> Result<T, Status> {
    incoming.message().await?.ok_or_else(|| status(ApiError::bad_request("the stream ended before naming a pod")))
}

/// The rest of a client stream as a stream to forward.
fn rest<T: Send + 'static>(incoming: Incoming<T>) -> impl Stream<Item = T> + Send + 'static {
    // A client error ends the forwarded stream, which the kubelet sees as the end of input.
    incoming.scan((), |_, m| futures::future::ready(m.ok()))
}

/// `head`, then `input`: a call's first message before the rest.
fn after<T: Send + 'static>(head: T, input: impl Stream<Item = T> + Send + 'static) -> impl Stream<Item = T> + Send {
    futures::stream::once(async move { head }).chain(input)
}

fn exec_head(start: ExecStart) -> ExecInput {
    ExecInput { input: Some(exec_input::Input::Start(start)) }
}

/// The `start` an exec or attach call's first message must be.
async fn first_start(incoming: &mut Incoming<ExecInput>, call: &str) -> Result<ExecStart, Status> {
    match first(incoming).await?.input {
        Some(exec_input::Input::Start(start)) => Ok(start),
        _ => Err(status(ApiError::bad_request(format!("the first {call} message must be `start`")))),
    }
}

#[tonic::async_trait]
impl Streaming for StreamingService {
    type LogsStream = BoxStream<LogChunk>;
    type ExecStream = BoxStream<ExecOutput>;
    type PortForwardStream = BoxStream<PortForwardFrame>;
    type AttachStream = BoxStream<ExecOutput>;

    async fn logs(&self, req: Request<LogsRequest>) -> Result<Response<Self::LogsStream>, Status> {
        let req = req.into_inner();
        let mut agent = self.agent_for(&req.namespace, &req.pod).await?;
        let stream = agent.logs(req).await?.into_inner();
        Ok(Response::new(Box::pin(stream)))
    }

    async fn exec(&self, req: Request<Incoming<ExecInput>>) -> Result<Response<Self::ExecStream>, Status> {
        let mut incoming = req.into_inner();
        let start = first_start(&mut incoming, "exec").await?;
        let stream = self.exec_session(start, rest(incoming)).await?;
        Ok(Response::new(Box::pin(stream)))
    }

    async fn attach(&self, req: Request<Incoming<ExecInput>>) -> Result<Response<Self::AttachStream>, Status> {
        let mut incoming = req.into_inner();
        let start = first_start(&mut incoming, "attach").await?;
        let stream = self.attach_session(start, rest(incoming)).await?;
        Ok(Response::new(Box::pin(stream)))
    }

    async fn port_forward(
        &self,
        req: Request<Incoming<PortForwardFrame>>,
    ) -> Result<Response<Self::PortForwardStream>, Status> {
        let mut incoming = req.into_inner();
        let head = first(&mut incoming).await?;
        let Some(start) = head.start.clone() else {
            return Err(status(ApiError::bad_request("the first port-forward frame must name the pod and port")));
        };
        // Data may already ride on the first frame.
        let first_data = PortForwardFrame { start: None, ..head };
        let stream = self.port_forward_session(start, after(first_data, rest(incoming))).await?;
        Ok(Response::new(Box::pin(stream)))
    }
}
