//! The node agent: the kubelet's gRPC service for `kubectl logs`, `exec`,
//! `attach` and `port-forward`, which the apiserver proxies to the node running the pod.
//!
//! Which container instance a call reaches follows the pod status, as the
//! kubelet's `validateContainerLogStatus` does, so `--previous` reads the
//! instance in `lastState` and a waiting container explains why it has no
//! logs. Port-forward connects from the kubelet (which is on the pod network)
//! to the pod IP: one gRPC stream per TCP connection, copied both ways.

use crate::pods::Kubelet;
use crate::runtime::{ExecChunk, LogOptions, Runtime};
use api::ApiError;
use client::Object;
use futures::StreamExt;
use k8s_openapi::api::core::v1::{ContainerStatus, Pod, PodStatus};
use proto::node_agent_server::{NodeAgent, NodeAgentServer};
use proto::{exec_input, exec_output, ExecInput, ExecOutput, ExecStart, LogChunk, LogsRequest, PortForwardFrame};
use std::pin::Pin;
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status, Streaming};

type Stream<T> = Pin<Box<dyn futures::Stream<Item = Result<T, Status>> + Send>>;

pub struct NodeAgentService {
    kubelet: Kubelet,
    /// The `stdinOnce` containers something attached to already (their ids).
    attached_once: std::sync::Mutex<std::collections::HashSet<String>>,
}

/// The service, ready for a tonic server.
pub fn service(kubelet: Kubelet) -> NodeAgentServer<NodeAgentService> {
    NodeAgentServer::new(NodeAgentService { kubelet, attached_once: Default::default() })
}

fn status(err: ApiError) -> Status {
    client::to_status(&err)
}

/// Picks the container a call is about: the named one, or the only one.
pub fn container_name(pod: &Pod, requested: &str) -> Result<String, ApiError> {
    let name = pod.name();
    let names: Vec<&str> = pod.spec.iter().flat_map(|s| &s.containers).map(|c| c.name.as_str()).collect();
    if requested.is_empty() {
        return match names.as_slice() {
            [only] => Ok(only.to_string()),
            _ => Err(ApiError::bad_request(format!(
                "a container name must be specified for pod {name}, choose one of: [{}]",
                names.join(" ")
            ))),
        };
    }
    if names.contains(&requested) {
        Ok(requested.to_string())
    } else {
        Err(ApiError::bad_request(format!("container {requested} is not valid for pod {name}")))
    }
}

/// The runtime id in a status's `docker://<id>`.
fn runtime_id(container_id: &Option<String>) -> Option<String> {
    container_id.as_deref().and_then(|s| s.split_once("://")).map(|(_, id)| id.to_string())
}

/// The runtime id of the instance whose logs to show, from the container's status.
pub fn log_container_id(
    pod_name: &str,
    container: &ContainerStatus,
    name: &str,
    previous: bool,
) -> Result<String, ApiError> {
    let state = container.state.clone().unwrap_or_default();
    let last = container.last_state.as_ref().and_then(|s| s.terminated.as_ref());
    let last_id = || last.and_then(|t| runtime_id(&t.container_id));
    let refuse = |why: String| Err(ApiError::bad_request(why));
    if previous {
        return match last_id() {
            Some(i) => Ok(i),
            None => refuse(format!("previous terminated container {name:?} in pod {pod_name:?} not found")),
        };
    }
    if state.running.is_some() {
        if let Some(i) = runtime_id(&container.container_id) {
            return Ok(i);
        }
    }
    if let Some(t) = &state.terminated {
        return match runtime_id(&t.container_id).or_else(last_id) {
            Some(i) => Ok(i),
            None => refuse(format!("container {name:?} in pod {pod_name:?} is terminated")),
        };
    }
    if let Some(i) = last_id() {
        return Ok(i);
    }
    match state.waiting.as_ref().and_then(|w| w.reason.as_deref()) {
        Some("ErrImagePull") => {
            refuse(format!("container {name:?} in pod {pod_name:?} is waiting to start: image can't be pulled"))
        }
        Some("ImagePullBackOff") => refuse(format!(
            "container {name:?} in pod {pod_name:?} is waiting to start: trying and failing to pull image"
        )),
        Some(reason) => refuse(format!("container {name:?} in pod {pod_name:?} is waiting to start: {reason}")),
        None => refuse(format!("container {name:?} in pod {pod_name:?} is waiting to start - no logs yet")),
    }
}

impl NodeAgentService {
    /// The pod and its status (the worker's latest, else the API's).
    fn find(&self, namespace: &str, name: &str) -> Result<(Arc<Pod>, PodStatus), Status> {
        let (pod, latest) =
            self.kubelet.pod(namespace, name).ok_or_else(|| status(ApiError::not_found("pods", name)))?;
        let status = latest.map(|s| (*s).clone()).or_else(|| pod.status.clone()).unwrap_or_default();
        Ok((pod, status))
    }

    pub(crate) fn container_status(status: &PodStatus, name: &str) -> ContainerStatus {
        let statuses = status.container_statuses.iter().flatten();
        statuses.into_iter().find(|c| c.name == name).cloned().unwrap_or_default()
    }

    /// The id of the running instance of a container, for exec.
    /// The runtime id of a running container, and whether its spec says `stdinOnce`.
    fn running_container(&self, namespace: &str, pod: &str, container: &str) -> Result<(String, bool), Status> {
        let (pod_obj, pod_status) = self.find(namespace, pod)?;
        let name = container_name(&pod_obj, container).map_err(status)?;
        let cs = Self::container_status(&pod_status, &name);
        let running = cs.state.as_ref().is_some_and(|s| s.running.is_some());
        let stdin_once =
            pod_obj.spec.iter().flat_map(|s| &s.containers).any(|c| c.name == name && c.stdin_once == Some(true));
        match runtime_id(&cs.container_id) {
            Some(id) if running => Ok((id, stdin_once)),
            _ => Err(status(ApiError::bad_request(format!("container not found ({name:?})")))),
        }
    }

    /// Whether an attach to this container replays its output from the start:
    /// only the first attach to a `stdinOnce` container, the session `kubectl
    /// run -it` opens right after the container started. What a short command
    /// printed before the attach was established would be lost otherwise
    /// (Docker attaches from now on); a later `kubectl attach` gets only new
    /// output, as in Kubernetes.
    fn replay_on_attach(&self, id: &str, stdin_once: bool) -> bool {
        stdin_once && self.attached_once.lock().expect("attach lock").insert(id.to_string())
    }

    /// Runs an exec (or, with `attach`, attaches to the container's main
    /// process) and relays it both ways.
    async fn session(
        &self,
        start: ExecStart,
        mut input: Streaming<ExecInput>,
        attach: bool,
    ) -> Result<Response<Stream<ExecOutput>>, Status> {
        let (id, stdin_once) = self.running_container(&start.namespace, &start.pod, &start.container)?;
        let runtime = self.kubelet.runtime();
        let session = if attach {
            let from_start = self.replay_on_attach(&id, stdin_once);
            runtime.attach(&id, start.tty, start.stdin, from_start).await
        } else {
            runtime.exec(&id, &start.command, start.tty, start.stdin).await
        };
        let session = session.map_err(|e| status(ApiError::internal(e)))?;
        let exec_id = session.id.clone();
        if start.tty && start.cols > 0 && start.rows > 0 {
            let _ = resize(&runtime, attach, &exec_id, start.cols, start.rows).await;
        }
        // Client -> container: stdin bytes, window resizes, end of input.
        let mut stdin = session.stdin;
        let resize_runtime = runtime.clone();
        let resize_id = exec_id.clone();
        let input_task = tokio::spawn(async move {
            while let Ok(Some(msg)) = input.message().await {
                match msg.input {
                    Some(exec_input::Input::Stdin(data)) => {
                        if let Some(w) = stdin.as_mut() {
                            if w.write_all(&data).await.is_err() || w.flush().await.is_err() {
                                stdin = None;
                            }
                        }
                    }
                    Some(exec_input::Input::Resize(size)) => {
                        let _ = resize(&resize_runtime, attach, &resize_id, size.cols, size.rows).await;
                    }
                    Some(exec_input::Input::CloseStdin(_)) => {
                        if let Some(mut w) = stdin.take() {
                            let _ = w.shutdown().await;
                        }
                    }
                    _ => {}
                }
            }
        });
        // Container -> client: output as it comes, then the exit code (of an exec).
        let (tx, rx) = mpsc::channel(64);
        let mut output = session.output;
        tokio::spawn(async move {
            while let Some(chunk) = output.next().await {
                let out = match chunk {
                    Ok(ExecChunk::Stdout(b)) => exec_output::Output::Stdout(b),
                    Ok(ExecChunk::Stderr(b)) => exec_output::Output::Stderr(b),
                    Err(e) => {
                        let _ = tx.send(Err(status(ApiError::internal(e)))).await;
                        input_task.abort();
                        return;
                    }
                };
                if tx.send(Ok(ExecOutput { output: Some(out) })).await.is_err() {
                    input_task.abort();
                    return;
                }
            }
            input_task.abort();
            // An attach ends with the process; there is no exit code to report.
            if attach {
                return;
            }
            let code = match runtime.exec_exit_code(&exec_id).await {
                Ok(c) => Ok(ExecOutput { output: Some(exec_output::Output::ExitCode(c as i32)) }),
                Err(e) => Err(status(ApiError::internal(e))),
            };
            let _ = tx.send(code).await;
        });
        Ok(Response::new(Box::pin(ReceiverStream::new(rx))))
    }
}

/// Resizes an exec's terminal, or an attached container's.
async fn resize(
    runtime: &Arc<dyn Runtime>,
    attach: bool,
    id: &str,
    cols: u32,
    rows: u32,
) -> crate::runtime::Result<()> {
    if attach {
        runtime.resize_attach(id, clamp(cols), clamp(rows)).await
    } else {
        runtime.resize_exec(id, clamp(cols), clamp(rows)).await
    }
}

#[tonic::async_trait]
impl NodeAgent for NodeAgentService {
    type LogsStream = Stream<LogChunk>;
    type ExecStream = Stream<ExecOutput>;
    type PortForwardStream = Stream<PortForwardFrame>;
    type AttachStream = Stream<ExecOutput>;

    async fn logs(&self, request: Request<LogsRequest>) -> Result<Response<Self::LogsStream>, Status> {
        let req = request.into_inner();
        let (pod, pod_status) = self.find(&req.namespace, &req.pod)?;
        let name = container_name(&pod, &req.container).map_err(status)?;
        let cs = Self::container_status(&pod_status, &name);
        let id = log_container_id(&req.pod, &cs, &name, req.previous).map_err(status)?;
        let options = LogOptions {
            follow: req.follow,
            tail: (req.tail_lines >= 0).then_some(req.tail_lines),
            timestamps: req.timestamps,
            since_seconds: (req.since_seconds > 0).then_some(req.since_seconds),
        };
        let logs = self.kubelet.runtime().logs(&id, &options).await.map_err(|e| status(ApiError::internal(e)))?;
        let chunks = logs.map(|item| match item {
            Ok(data) => Ok(LogChunk { data }),
            Err(e) => Err(status(ApiError::internal(e))),
        });
        Ok(Response::new(Box::pin(chunks)))
    }

    async fn exec(&self, request: Request<Streaming<ExecInput>>) -> Result<Response<Self::ExecStream>, Status> {
        let mut input = request.into_inner();
        let start = match input.message().await? {
            Some(ExecInput { input: Some(exec_input::Input::Start(start)) }) => start,
            _ => return Err(Status::invalid_argument("the first exec message must be `start`")),
        };
        if start.command.is_empty() {
            return Err(status(ApiError::bad_request("you must specify at least one command for the container")));
        }
        self.session(start, input, false).await
    }

    async fn attach(&self, request: Request<Streaming<ExecInput>>) -> Result<Response<Self::AttachStream>, Status> {
        let mut input = request.into_inner();
        let start = match input.message().await? {
            Some(ExecInput { input: Some(exec_input::Input::Start(start)) }) => start,
            _ => return Err(Status::invalid_argument("the first attach message must be `start`")),
        };
        self.session(start, input, true).await
    }

    async fn port_forward(
        &self,
        request: Request<Streaming<PortForwardFrame>>,
    ) -> Result<Response<Self::PortForwardStream>, Status> {
        let mut frames = request.into_inner();
        let first = frames.message().await?.unwrap_or_default();
        let Some(start) = first.start.clone() else {
            return Err(Status::invalid_argument("the first port-forward frame must carry `start`"));
        };
        let (_, pod_status) = self.find(&start.namespace, &start.pod)?;
        let ip = pod_status.pod_ip.as_deref().filter(|ip| !ip.is_empty()).ok_or_else(|| {
            status(ApiError::bad_request(format!("pod {} does not have an IP address yet", start.pod)))
        })?;
        let port = u16::try_from(start.port).map_err(|_| Status::invalid_argument("invalid port"))?;
        let conn = self.kubelet.runtime().connect(ip, port).await.map_err(|e| {
            status(ApiError::internal(format!("error forwarding port {port} to pod {}: {e}", start.pod)))
        })?;
        let (mut reader, mut writer) = tokio::io::split(conn);
        // Client -> pod. Data may already ride on the first frame.
        tokio::spawn(async move {
            let mut frame = first;
            loop {
                if !frame.data.is_empty() && writer.write_all(&frame.data).await.is_err() {
                    break;
                }
                if frame.close {
                    break;
                }
                match frames.message().await {
                    Ok(Some(next)) => frame = next,
                    _ => break,
                }
            }
            let _ = writer.shutdown().await;
        });
        // Pod -> client, ending with a `close` frame when the pod side closes.
        let (tx, rx) = mpsc::channel(32);
        tokio::spawn(async move {
            let mut buf = vec![0u8; 32 * 1024];
            loop {
                match reader.read(&mut buf).await {
                    Ok(0) | Err(_) => {
                        let _ = tx.send(Ok(PortForwardFrame { start: None, data: Vec::new(), close: true })).await;
                        return;
                    }
                    Ok(n) => {
                        let frame = PortForwardFrame { start: None, data: buf[..n].to_vec(), close: false };
                        if tx.send(Ok(frame)).await.is_err() {
                            return;
                        }
                    }
                }
            }
        });
        Ok(Response::new(Box::pin(ReceiverStream::new(rx))))
    }
}

fn clamp(v: u32) -> u16 {
    u16::try_from(v).unwrap_or(u16::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    fn typed(v: Value) -> Pod {
        serde_json::from_value(v).expect("a pod")
    }

    /// A container status from the fields a test cares about.
    fn container(v: Value) -> ContainerStatus {
        let mut full = json!({"name": "c", "image": "", "imageID": "", "ready": false, "restartCount": 0});
        full.as_object_mut().unwrap().extend(v.as_object().unwrap().clone());
        serde_json::from_value(full).expect("a container status")
    }

    #[test]
    fn several_containers_need_a_name() {
        let pod = typed(json!({"metadata": {"name": "kubia"}, "spec": {"containers": [{"name": "a"}, {"name": "b"}]}}));
        assert_eq!(
            container_name(&pod, "").unwrap_err().message,
            "a container name must be specified for pod kubia, choose one of: [a b]"
        );
        assert_eq!(container_name(&pod, "b").unwrap(), "b");
        assert_eq!(container_name(&pod, "c").unwrap_err().message, "container c is not valid for pod kubia");
        let one = typed(json!({"metadata": {"name": "kubia"}, "spec": {"containers": [{"name": "only"}]}}));
        assert_eq!(container_name(&one, "").unwrap(), "only");
    }

    #[test]
    fn logs_follow_the_container_status() {
        let crashed = container(json!({
            "containerID": "docker://new",
            "state": {"waiting": {"reason": "CrashLoopBackOff"}},
            "lastState": {"terminated": {"exitCode": 1, "containerID": "docker://old"}},
        }));
        assert_eq!(log_container_id("p", &crashed, "c", false).unwrap(), "old");
        assert_eq!(log_container_id("p", &crashed, "c", true).unwrap(), "old");
        let running = container(json!({"containerID": "docker://now", "state": {"running": {}}, "lastState": {}}));
        assert_eq!(log_container_id("p", &running, "c", false).unwrap(), "now");
        assert_eq!(
            log_container_id("p", &running, "c", true).unwrap_err().message,
            "previous terminated container \"c\" in pod \"p\" not found"
        );
        let pulling = container(json!({"state": {"waiting": {"reason": "ImagePullBackOff"}}, "lastState": {}}));
        assert_eq!(
            log_container_id("p", &pulling, "c", false).unwrap_err().message,
            "container \"c\" in pod \"p\" is waiting to start: trying and failing to pull image"
        );
        let creating = container(json!({"state": {"waiting": {"reason": "ContainerCreating"}}, "lastState": {}}));
        assert_eq!(
            log_container_id("p", &creating, "c", false).unwrap_err().message,
            "container \"c\" in pod \"p\" is waiting to start: ContainerCreating"
        );
    }
}
