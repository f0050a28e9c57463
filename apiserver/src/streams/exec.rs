//! exec and attach: the kubelet call, and its relay over SPDY streams
//! (`streamType` stdin, stdout, stderr, error, resize) or WebSocket channels
//! (0 stdin, 1 stdout, 2 stderr, 3 error, 4 resize). The error stream ends
//! the session with how the command ended: a JSON `Status` in protocol v4 and
//! later (non-zero exit codes as reason `NonZeroExitCode` with an `ExitCode`
//! cause), plain text before.

use super::spdy::{self, Session};
use super::ws::{ChannelProtocol, ResizeParser, CLOSE_CHANNEL};
use super::{ExecOptions, StreamKind, Ws, CLOSE_GRACE, STREAM_CREATION_TIMEOUT};
use crate::proxy::StreamingService;
use api::ApiError;
use futures::{SinkExt, StreamExt};
use proto::{exec_input, exec_output, ExecInput, ExecOutput, ExecStart, TerminalSize};
use std::collections::HashMap;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::Message;

/// A started exec or attach on the kubelet: where input goes, where output comes from.
pub struct Call {
    input: mpsc::Sender<ExecInput>,
    output: tonic::Streaming<ExecOutput>,
    /// The command, for the exit status's message.
    command: Vec<String>,
    /// An attach ends well when the process does, with no exit code to report.
    attach: bool,
}

/// Starts the command (or attaches) on the pod's kubelet, before the upgrade,
/// so that a missing or stopped container is an HTTP error.
pub async fn start(
    streaming: &StreamingService,
    namespace: &str,
    pod: &str,
    options: &ExecOptions,
    kind: StreamKind,
) -> Result<Call, ApiError> {
    let (input, rx) = mpsc::channel(64);
    let rest = futures::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|m| (m, rx)) });
    let start = ExecStart {
        namespace: namespace.to_string(),
        pod: pod.to_string(),
        container: options.container.clone(),
        command: options.command.clone(),
        stdin: options.stdin,
        tty: options.tty,
        cols: 0,
        rows: 0,
    };
    let output = match kind {
        StreamKind::Attach => streaming.attach_session(start, rest).await,
        _ => streaming.exec_session(start, rest).await,
    };
    let output = output.map_err(|s| proto::status::from_status("kubelet", s))?;
    Ok(Call { input, output, command: options.command.clone(), attach: kind == StreamKind::Attach })
}

/// How the command ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Exited(i32),
    /// The kubelet or the runtime failed; the message says how.
    Failed(String),
}

/// The error stream's last word in protocols v4 and v5: a JSON `Status`.
pub fn status_json(outcome: &Outcome, command: &[String]) -> Vec<u8> {
    let status = match outcome {
        Outcome::Exited(0) => serde_json::json!({"metadata": {}, "status": "Success"}),
        Outcome::Exited(code) => serde_json::json!({
            "metadata": {},
            "status": "Failure",
            "message": format!("command terminated with non-zero exit code: {}", exit_error(command, *code)),
            "reason": "NonZeroExitCode",
            "details": {"causes": [{"reason": "ExitCode", "message": code.to_string()}]},
        }),
        Outcome::Failed(message) => {
            ApiError::internal(format!("error executing command in container: {message}")).to_status()
        }
    };
    status.to_string().into_bytes()
}

/// The error stream's text before v4: nothing on success.
pub fn status_text(outcome: &Outcome, command: &[String]) -> Option<String> {
    match outcome {
        Outcome::Exited(0) => None,
        Outcome::Exited(code) => {
            Some(format!("command terminated with non-zero exit code: {}", exit_error(command, *code)))
        }
        Outcome::Failed(message) => {
            Some(format!("Internal error occurred: error executing command in container: {message}"))
        }
    }
}

/// How the container runtime words an exit (containerd's CRI).
fn exit_error(command: &[String], code: i32) -> String {
    if command.is_empty() {
        format!("exit code {code}")
    } else {
        format!("error executing command [{}], exit code {code}", command.join(" "))
    }
}

enum Next {
    Stdout(Vec<u8>),
    Stderr(Vec<u8>),
    Done(Outcome),
}

/// The next piece of output, or how the command ended. `exit` starts as
/// `Some(0)` for an attach, which has no exit code.
async fn next(output: &mut tonic::Streaming<ExecOutput>, exit: &mut Option<i32>) -> Next {
    loop {
        match output.message().await {
            Ok(Some(ExecOutput { output: Some(exec_output::Output::Stdout(b)) })) => return Next::Stdout(b),
            Ok(Some(ExecOutput { output: Some(exec_output::Output::Stderr(b)) })) => return Next::Stderr(b),
            Ok(Some(ExecOutput { output: Some(exec_output::Output::ExitCode(c)) })) => *exit = Some(c),
            Ok(Some(ExecOutput { output: None })) => {}
            Ok(None) => {
                return Next::Done(match exit {
                    Some(code) => Outcome::Exited(*code),
                    None => Outcome::Failed("the kubelet ended the session without an exit code".into()),
                })
            }
            Err(status) => return Next::Done(Outcome::Failed(status.message().to_string())),
        }
    }
}

fn resize(size: super::ws::TerminalSize) -> ExecInput {
    ExecInput {
        input: Some(exec_input::Input::Resize(TerminalSize {
            cols: u32::from(size.width),
            rows: u32::from(size.height),
        })),
    }
}

fn stdin(data: Vec<u8>) -> ExecInput {
    ExecInput { input: Some(exec_input::Input::Stdin(data)) }
}

fn close_stdin() -> ExecInput {
    ExecInput { input: Some(exec_input::Input::CloseStdin(true)) }
}

/// Relays a SPDY stream's data to stdin, then closes stdin.
async fn pump_stdin(mut data: mpsc::Receiver<bytes::Bytes>, input: mpsc::Sender<ExecInput>) {
    while let Some(chunk) = data.recv().await {
        if input.send(stdin(chunk.to_vec())).await.is_err() {
            return;
        }
    }
    let _ = input.send(close_stdin()).await;
}

/// Relays the terminal sizes a SPDY resize stream carries.
async fn pump_resize(mut data: mpsc::Receiver<bytes::Bytes>, input: mpsc::Sender<ExecInput>) {
    let mut parser = ResizeParser::default();
    while let Some(chunk) = data.recv().await {
        for size in parser.push(&chunk) {
            if input.send(resize(size)).await.is_err() {
                return;
            }
        }
    }
}

/// Serves an upgraded SPDY connection: waits for the streams the request
/// announced, relays, then reports the outcome on the error stream and says goodbye.
pub async fn over_spdy<T: AsyncRead + AsyncWrite + Send + 'static>(
    io: T,
    protocol: &'static str,
    options: ExecOptions,
    call: Call,
) {
    let Call { input, mut output, command, attach } = call;
    let mut session = Session::server(io);
    let sender = session.sender();
    let (ids_tx, mut ids_rx) = mpsc::channel::<(String, u32)>(8);
    let wants_stdin = options.stdin;
    let acceptor = tokio::spawn(async move {
        while let Some(stream) = session.accept().await {
            let kind = stream.header("streamtype").unwrap_or_default().to_string();
            match kind.as_str() {
                "stdin" if wants_stdin => {
                    tokio::spawn(pump_stdin(stream.data, input.clone()));
                }
                "resize" => {
                    tokio::spawn(pump_resize(stream.data, input.clone()));
                }
                "stdin" | "stdout" | "stderr" | "error" => {}
                _ => {
                    stream.sender.reset(stream.id, spdy::RST_PROTOCOL_ERROR).await;
                    continue;
                }
            }
            let _ = ids_tx.send((kind, stream.id)).await;
        }
    });
    let mut needed = vec!["error"];
    if options.stdout {
        needed.push("stdout");
    }
    if options.uses_stderr() {
        needed.push("stderr");
    }
    let mut ids = HashMap::new();
    let arrived = tokio::time::timeout(STREAM_CREATION_TIMEOUT, async {
        while !needed.iter().all(|n| ids.contains_key(*n)) {
            match ids_rx.recv().await {
                Some((kind, id)) => ids.insert(kind, id),
                None => return false,
            };
        }
        true
    })
    .await;
    if arrived != Ok(true) {
        tracing::debug!("exec: the client did not open its streams");
        sender.go_away().await;
        acceptor.abort();
        return;
    }
    let stdout = ids.get("stdout").copied();
    let stderr = ids.get("stderr").copied();
    let mut exit = attach.then_some(0);
    let outcome = loop {
        let (id, data) = match next(&mut output, &mut exit).await {
            Next::Stdout(b) => (stdout, b),
            Next::Stderr(b) => (stderr.or(stdout), b),
            Next::Done(outcome) => break outcome,
        };
        if let Some(id) = id {
            if !sender.data(id, &data, false).await {
                // The client is gone; dropping the call ends it on the kubelet.
                acceptor.abort();
                return;
            }
        }
    };
    for id in [stdout, stderr].into_iter().flatten() {
        sender.close(id).await;
    }
    let error = ids["error"];
    let report = if protocol == "v4.channel.k8s.io" {
        Some(status_json(&outcome, &command))
    } else {
        status_text(&outcome, &command).map(String::into_bytes)
    };
    sender.data(error, report.as_deref().unwrap_or_default(), true).await;
    // The client also waits for its stdin stream to be closed.
    if let Some(id) = ids.get("stdin") {
        sender.close(*id).await;
    }
    sender.go_away().await;
    acceptor.abort();
}

/// Serves an upgraded WebSocket: stdin, resizes and (v5) the close of stdin
/// in; output, then the outcome on channel 3, out.
pub async fn over_websocket(ws: Ws, protocol: ChannelProtocol, options: ExecOptions, call: Call) {
    let Call { input, mut output, command, attach } = call;
    let (mut sink, mut incoming) = ws.split();
    let wants_stdin = options.stdin;
    let mut reader = tokio::spawn(async move {
        let mut sizes = ResizeParser::default();
        let mut stdin_open = wants_stdin;
        while let Some(Ok(msg)) = incoming.next().await {
            if msg.is_close() {
                break;
            }
            let Some((channel, data)) = protocol.parse(&msg) else { continue };
            let sent = match channel {
                0 if stdin_open => input.send(stdin(data)).await.is_ok(),
                4 => {
                    let mut ok = true;
                    for size in sizes.push(&data) {
                        ok &= input.send(resize(size)).await.is_ok();
                    }
                    ok
                }
                CLOSE_CHANNEL if protocol.close_signal && data.first() == Some(&0) && stdin_open => {
                    stdin_open = false;
                    input.send(close_stdin()).await.is_ok()
                }
                _ => true,
            };
            if !sent {
                return;
            }
        }
        // The client is gone: so is its input.
        if stdin_open {
            let _ = input.send(close_stdin()).await;
        }
    });
    // An empty message on the first channel the client reads says the session is open (as the kubelet does).
    let first = if options.stdout {
        1
    } else if options.uses_stderr() {
        2
    } else {
        3
    };
    let mut open = sink.send(protocol.message(first, &[])).await.is_ok();
    let mut exit = attach.then_some(0);
    let outcome = loop {
        if !open {
            // The client is gone; dropping the call ends it on the kubelet.
            break None;
        }
        match next(&mut output, &mut exit).await {
            Next::Stdout(b) if options.stdout => open = sink.send(protocol.message(1, &b)).await.is_ok(),
            Next::Stderr(b) if options.stderr => {
                let channel = if options.tty { 1 } else { 2 };
                open = sink.send(protocol.message(channel, &b)).await.is_ok();
            }
            Next::Done(outcome) => break Some(outcome),
            _ => {}
        }
    };
    drop(output);
    if let Some(outcome) = outcome {
        let report = if protocol.status_json {
            Some(status_json(&outcome, &command))
        } else {
            status_text(&outcome, &command).map(String::into_bytes)
        };
        if let Some(report) = report {
            let _ = sink.send(protocol.message(3, &report)).await;
        }
        let _ = sink.send(Message::Close(Some(CloseFrame { code: CloseCode::Normal, reason: "".into() }))).await;
    }
    if tokio::time::timeout(CLOSE_GRACE, &mut reader).await.is_err() {
        reader.abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_exit_code_travels_as_kubernetes_writes_it() {
        let cmd = vec!["sh".to_string(), "-c".to_string(), "exit 3".to_string()];
        let failed: serde_json::Value = serde_json::from_slice(&status_json(&Outcome::Exited(3), &cmd)).unwrap();
        assert_eq!(failed["status"], "Failure");
        assert_eq!(failed["reason"], "NonZeroExitCode");
        assert_eq!(failed["details"]["causes"][0], serde_json::json!({"reason": "ExitCode", "message": "3"}));
        assert_eq!(
            failed["message"],
            "command terminated with non-zero exit code: error executing command [sh -c exit 3], exit code 3"
        );
        let ok: serde_json::Value = serde_json::from_slice(&status_json(&Outcome::Exited(0), &cmd)).unwrap();
        assert_eq!(ok, serde_json::json!({"metadata": {}, "status": "Success"}));
        assert_eq!(status_text(&Outcome::Exited(0), &cmd), None);
        let broken: serde_json::Value =
            serde_json::from_slice(&status_json(&Outcome::Failed("boom".into()), &cmd)).unwrap();
        assert_eq!((broken["code"].as_u64(), broken["reason"].as_str()), (Some(500), Some("InternalError")));
    }
}
