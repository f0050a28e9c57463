//! port-forward: one kubelet connection per forwarded TCP connection.
//!
//! Over SPDY (kubectl; also tunnelled in a WebSocket by kubectl 1.31+) each
//! connection is a pair of streams the client opens, `streamType` `error`
//! and `data`, with the same `port` and `requestID` headers. Over WebSocket
//! channels (`?ports=`) each port gets data channel 2i and error channel
//! 2i+1, both opened by a message holding the port number (little-endian).

use super::spdy::{self, Session};
use super::ws::{ChannelProtocol, CLOSE_CHANNEL};
use super::{Ws, CLOSE_GRACE};
use crate::proxy::StreamingService;
use bytes::Bytes;
use futures::{SinkExt, Stream, StreamExt};
use proto::{PortForwardFrame, PortForwardStart};
use std::collections::HashMap;
use std::sync::Arc;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::Message;

/// The pod connections go to.
pub struct Target {
    pub streaming: Arc<StreamingService>,
    pub namespace: String,
    pub pod: String,
}

impl Target {
    /// Connects to `port` of the pod through its kubelet; `input` ends with a half-close.
    async fn connect(
        &self,
        port: u16,
        input: mpsc::Receiver<Bytes>,
    ) -> Result<tonic::Streaming<PortForwardFrame>, String> {
        let start = PortForwardStart { namespace: self.namespace.clone(), pod: self.pod.clone(), port: port.into() };
        self.streaming.port_forward_session(start, frames(input)).await.map_err(|s| message(&s))
    }
}

/// What a failed kubelet call says, as the kubelet writes it on the error stream.
fn message(status: &tonic::Status) -> String {
    let text = status.message();
    text.strip_prefix("Internal error occurred: ").unwrap_or(text).to_string()
}

/// Data from the client as port-forward frames, ending with `close`.
fn frames(input: mpsc::Receiver<Bytes>) -> impl Stream<Item = PortForwardFrame> + Send + 'static {
    futures::stream::unfold(Some(input), |input| async move {
        let mut input = input?;
        match input.recv().await {
            Some(data) => Some((PortForwardFrame { start: None, data: data.to_vec(), close: false }, Some(input))),
            None => Some((PortForwardFrame { start: None, data: Vec::new(), close: true }, None)),
        }
    })
}

/// The two streams of one connection, as they arrive.
#[derive(Default)]
struct Pair {
    data: Option<spdy::Stream>,
    error: Option<spdy::Stream>,
}

/// Why a port-forward stream is refused (the kubelet's checks).
fn check(stream: &spdy::Stream) -> Result<(u16, bool), String> {
    let port = stream.header("port").filter(|p| !p.is_empty()).ok_or("\"port\" header is required")?;
    let number: u16 = port.parse().map_err(|_| format!("unable to parse {port:?} as a port"))?;
    if number == 0 {
        return Err(format!("port {port:?} must be > 0"));
    }
    match stream.header("streamtype") {
        Some("data") => Ok((number, true)),
        Some("error") => Ok((number, false)),
        Some(other) => Err(format!("invalid stream type {other:?}")),
        None => Err("\"streamType\" header is required".into()),
    }
}

/// Serves an upgraded SPDY connection: each pair of streams is one connection to the pod.
pub async fn over_spdy<T: AsyncRead + AsyncWrite + Send + 'static>(io: T, target: Target) {
    let target = Arc::new(target);
    let mut session = Session::server(io);
    let mut pending: HashMap<String, Pair> = HashMap::new();
    while let Some(stream) = session.accept().await {
        let (port, is_data) = match check(&stream) {
            Ok(checked) => checked,
            Err(why) => {
                tracing::debug!(stream = stream.id, why, "port-forward: refusing a stream");
                stream.sender.reset(stream.id, spdy::RST_PROTOCOL_ERROR).await;
                continue;
            }
        };
        // Clients before requestID paired streams by id: the data stream follows its error stream.
        let request = stream.header("requestid").map(str::to_string).unwrap_or_else(|| {
            let error_id = if is_data { stream.id.saturating_sub(2) } else { stream.id };
            format!("stream-{error_id}")
        });
        let pair = pending.entry(request.clone()).or_default();
        if is_data {
            pair.data = Some(stream);
        } else {
            pair.error = Some(stream);
        }
        if pair.data.is_some() && pair.error.is_some() {
            let Pair { data: Some(data), error: Some(error) } = pending.remove(&request).expect("just seen") else {
                continue;
            };
            tokio::spawn(forward_pair(target.clone(), port, data, error));
        }
    }
}

/// Relays one SPDY stream pair to one connection to the pod.
async fn forward_pair(target: Arc<Target>, port: u16, data: spdy::Stream, error: spdy::Stream) {
    let sender = data.sender.clone();
    match target.connect(port, data.data).await {
        Err(why) => {
            sender.data(error.id, why.as_bytes(), false).await;
        }
        Ok(mut output) => loop {
            match output.message().await {
                Ok(Some(frame)) => {
                    if !frame.data.is_empty() && !sender.data(data.id, &frame.data, false).await {
                        break;
                    }
                    if frame.close {
                        break;
                    }
                }
                Ok(None) => break,
                Err(status) => {
                    sender.data(error.id, message(&status).as_bytes(), false).await;
                    break;
                }
            }
        },
    }
    sender.close(data.id).await;
    sender.close(error.id).await;
}

/// Serves SPDY tunnelled in a WebSocket (`SPDY/3.1+portforward.k8s.io`):
/// binary messages carry the SPDY connection's bytes.
pub async fn over_tunnel(ws: Ws, target: Target) {
    let (local, remote) = tokio::io::duplex(64 * 1024);
    let (mut sink, mut incoming) = ws.split();
    let (mut from_spdy, mut to_spdy) = tokio::io::split(remote);
    let up = tokio::spawn(async move {
        while let Some(Ok(msg)) = incoming.next().await {
            match msg {
                Message::Binary(b) if to_spdy.write_all(&b).await.is_err() => break,
                Message::Close(_) => break,
                _ => {}
            }
        }
        let _ = to_spdy.shutdown().await;
    });
    let down = tokio::spawn(async move {
        let mut buf = vec![0u8; 32 * 1024];
        loop {
            match from_spdy.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if sink.send(Message::binary(buf[..n].to_vec())).await.is_err() {
                        return;
                    }
                }
            }
        }
        let _ = sink.send(Message::Close(Some(CloseFrame { code: CloseCode::Normal, reason: "".into() }))).await;
    });
    over_spdy(local, target).await;
    let _ = down.await;
    up.abort();
}

/// Serves WebSocket channels: one connection to the pod per port in `ports`.
pub async fn over_websocket(ws: Ws, protocol: ChannelProtocol, ports: Vec<u16>, target: Target) {
    let target = Arc::new(target);
    let (mut sink, mut incoming) = ws.split();
    let (out_tx, mut out_rx) = mpsc::channel::<Message>(64);
    let writer = tokio::spawn(async move {
        while let Some(msg) = out_rx.recv().await {
            if sink.send(msg).await.is_err() {
                return;
            }
        }
        let _ = sink.send(Message::Close(Some(CloseFrame { code: CloseCode::Normal, reason: "".into() }))).await;
    });
    let mut inputs = Vec::with_capacity(ports.len());
    let mut tasks = Vec::with_capacity(ports.len());
    for (i, port) in ports.iter().enumerate() {
        let (data, error) = ((2 * i) as u8, (2 * i + 1) as u8);
        // Each channel opens with the port it is for.
        for channel in [data, error] {
            let _ = out_tx.send(protocol.message(channel, &port.to_le_bytes())).await;
        }
        let (in_tx, in_rx) = mpsc::channel(64);
        inputs.push(Some(in_tx));
        let (target, out, port) = (target.clone(), out_tx.clone(), *port);
        tasks.push(tokio::spawn(async move {
            match target.connect(port, in_rx).await {
                Err(why) => {
                    let _ = out.send(protocol.message(error, why.as_bytes())).await;
                }
                Ok(mut output) => loop {
                    match output.message().await {
                        Ok(Some(frame)) => {
                            if !frame.data.is_empty() && out.send(protocol.message(data, &frame.data)).await.is_err() {
                                break;
                            }
                            if frame.close {
                                break;
                            }
                        }
                        Ok(None) => break,
                        Err(status) => {
                            let _ = out.send(protocol.message(error, message(&status).as_bytes())).await;
                            break;
                        }
                    }
                },
            }
        }));
    }
    drop(out_tx);
    let reader = tokio::spawn(async move {
        while let Some(Ok(msg)) = incoming.next().await {
            if msg.is_close() {
                break;
            }
            let Some((channel, data)) = protocol.parse(&msg) else { continue };
            if channel == CLOSE_CHANNEL && protocol.close_signal {
                // v5: the client closed a data channel; half-close that connection.
                if let Some(&closed) = data.first() {
                    if let Some(input) = inputs.get_mut(usize::from(closed / 2)).filter(|_| closed % 2 == 0) {
                        input.take();
                    }
                }
                continue;
            }
            // Data channels are even; what comes on error channels is ignored.
            if channel % 2 != 0 {
                continue;
            }
            if let Some(Some(input)) = inputs.get(usize::from(channel / 2)) {
                let _ = input.send(Bytes::from(data)).await;
            }
        }
    });
    let aborts: Vec<_> = tasks.iter().map(|t| t.abort_handle()).collect();
    let all = futures::future::join_all(tasks);
    tokio::pin!(all);
    let mut reader = reader;
    tokio::select! {
        _ = &mut all => reader.abort(),
        _ = &mut reader => {
            // The client is done: its connections get a moment to finish, then are dropped.
            if tokio::time::timeout(CLOSE_GRACE, &mut all).await.is_err() {
                aborts.iter().for_each(|a| a.abort());
            }
        }
    }
    let _ = writer.await;
}
