//! Logs, exec, attach and port-forward through the apiserver, which relays
//! them to the pod's kubelet. These are streams of bytes rather than objects.

use crate::{from_status, Client};
use api::ApiError;
use futures::{Stream, StreamExt};
use proto::streaming_client::StreamingClient;
use proto::{exec_input, exec_output, ExecInput, ExecStart, LogsRequest, PortForwardFrame, PortForwardStart};
use std::pin::Pin;

pub use proto::TerminalSize;

pub type ByteStream = Pin<Box<dyn Stream<Item = Result<Vec<u8>, ApiError>> + Send>>;

/// What an exec session sends back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExecEvent {
    Stdout(Vec<u8>),
    Stderr(Vec<u8>),
    /// The command's exit code; the last event.
    Exit(i32),
}

/// What the caller sends into an exec session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExecSend {
    Stdin(Vec<u8>),
    Resize { cols: u32, rows: u32 },
    CloseStdin,
}

pub type ExecStream = Pin<Box<dyn Stream<Item = Result<ExecEvent, ApiError>> + Send>>;

/// The options of `kubectl exec`.
#[derive(Debug, Clone, Default)]
pub struct ExecParams {
    pub namespace: String,
    pub pod: String,
    /// "" = the pod's only (or default) container.
    pub container: String,
    pub command: Vec<String>,
    pub stdin: bool,
    pub tty: bool,
    pub cols: u32,
    pub rows: u32,
}

/// The options of `kubectl attach`: the container's main process, no command.
#[derive(Debug, Clone, Default)]
pub struct AttachParams {
    pub namespace: String,
    pub pod: String,
    /// "" = the pod's only (or default) container.
    pub container: String,
    pub stdin: bool,
    pub tty: bool,
    pub cols: u32,
    pub rows: u32,
}

/// The first message of an exec or attach call, then what the caller sends.
fn session_input(
    start: ExecStart,
    input: impl Stream<Item = ExecSend> + Send + 'static,
) -> impl Stream<Item = ExecInput> + Send + 'static {
    let start = ExecInput { input: Some(exec_input::Input::Start(start)) };
    let rest = input.map(|m| ExecInput {
        input: Some(match m {
            ExecSend::Stdin(b) => exec_input::Input::Stdin(b),
            ExecSend::Resize { cols, rows } => exec_input::Input::Resize(TerminalSize { cols, rows }),
            ExecSend::CloseStdin => exec_input::Input::CloseStdin(true),
        }),
    });
    futures::stream::once(async move { start }).chain(rest)
}

/// What an exec or attach call answers, as events.
fn session_events(server: String, stream: tonic::Streaming<proto::ExecOutput>) -> ExecStream {
    Box::pin(stream.filter_map(move |m| {
        let out = match m {
            Err(s) => Some(Err(from_status(&server, s))),
            Ok(o) => match o.output {
                Some(exec_output::Output::Stdout(b)) => Some(Ok(ExecEvent::Stdout(b))),
                Some(exec_output::Output::Stderr(b)) => Some(Ok(ExecEvent::Stderr(b))),
                Some(exec_output::Output::ExitCode(c)) => Some(Ok(ExecEvent::Exit(c))),
                None => None,
            },
        };
        futures::future::ready(out)
    }))
}

impl Client {
    fn streaming(&self) -> StreamingClient<tonic::transport::Channel> {
        StreamingClient::new(self.channel.clone()).max_decoding_message_size(64 << 20)
    }

    /// A container's log, as chunks of bytes; with `follow`, it goes on until the container stops.
    pub async fn logs(&self, req: LogsRequest) -> Result<ByteStream, ApiError> {
        let server = self.server.clone();
        let stream = self.streaming().logs(req).await.map_err(|s| from_status(&server, s))?.into_inner();
        Ok(Box::pin(stream.map(move |c| c.map(|c| c.data).map_err(|s| from_status(&server, s)))))
    }

    /// Runs a command in a container. `input` feeds stdin and terminal resizes.
    pub async fn exec(
        &self,
        params: ExecParams,
        input: impl Stream<Item = ExecSend> + Send + 'static,
    ) -> Result<ExecStream, ApiError> {
        self.session(params, input, false).await
    }

    /// Attaches to a container's main process: its output from now on (the
    /// kubelet replays what came before to the first attach of a `stdinOnce`
    /// container), with `input` feeding its stdin and terminal resizes. The
    /// stream ends, without an [`ExecEvent::Exit`], when the process does.
    pub async fn attach(
        &self,
        params: AttachParams,
        input: impl Stream<Item = ExecSend> + Send + 'static,
    ) -> Result<ExecStream, ApiError> {
        let AttachParams { namespace, pod, container, stdin, tty, cols, rows } = params;
        let params = ExecParams { namespace, pod, container, command: Vec::new(), stdin, tty, cols, rows };
        self.session(params, input, true).await
    }

    /// An exec, or (with `attach`, and no command) an attach.
    async fn session(
        &self,
        params: ExecParams,
        input: impl Stream<Item = ExecSend> + Send + 'static,
        attach: bool,
    ) -> Result<ExecStream, ApiError> {
        let start = ExecStart {
            namespace: params.namespace,
            pod: params.pod,
            container: params.container,
            command: params.command,
            stdin: params.stdin,
            tty: params.tty,
            cols: params.cols,
            rows: params.rows,
        };
        let server = self.server.clone();
        let outbound = session_input(start, input);
        let mut streaming = self.streaming();
        let call = if attach { streaming.attach(outbound).await } else { streaming.exec(outbound).await };
        let stream = call.map_err(|s| from_status(&server, s))?.into_inner();
        Ok(session_events(server, stream))
    }

    /// Opens one forwarded connection to `port` of a pod: bytes sent on
    /// `input` arrive at the pod's port; what it answers comes back.
    pub async fn port_forward(
        &self,
        namespace: &str,
        pod: &str,
        port: u32,
        input: impl Stream<Item = Vec<u8>> + Send + 'static,
    ) -> Result<ByteStream, ApiError> {
        let start = PortForwardFrame {
            start: Some(PortForwardStart { namespace: namespace.into(), pod: pod.into(), port }),
            data: vec![],
            close: false,
        };
        // The end of `input` becomes a half-close, so the pod sees EOF as over TCP.
        let data = input.map(|data| PortForwardFrame { start: None, data, close: false });
        let close = futures::stream::once(async { PortForwardFrame { start: None, data: vec![], close: true } });
        let outbound = futures::stream::once(async move { start }).chain(data).chain(close);
        let server = self.server.clone();
        let stream = self.streaming().port_forward(outbound).await.map_err(|s| from_status(&server, s))?.into_inner();
        Ok(Box::pin(stream.map(move |f| f.map(|f| f.data).map_err(|s| from_status(&server, s)))))
    }
}
