//! `serve` behind a small HTTP server, with a fake kubelet, driven by clients
//! written here for each protocol kubectl, kube-rs and the Python client speak.

use super::spdy::{Headers, Session};
use super::*;
use crate::registry::Registry;
use crate::store::mem::MemStore;
use futures::{SinkExt, StreamExt};
use proto::node_agent_server::{NodeAgent, NodeAgentServer};
use proto::{exec_input, exec_output, ExecInput, ExecOutput, LogChunk, LogsRequest, PortForwardFrame};
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::pin::Pin;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;
use tonic::{Request, Status};

type Out<T> = Pin<Box<dyn futures::Stream<Item = Result<T, Status>> + Send>>;

/// A kubelet whose "containers" run a few known commands:
/// - `fail N`: writes to stdout and stderr, exits N;
/// - `cat`: echoes stdin until it closes, exits 0;
/// - `size`: reports each terminal resize on stdout until stdin closes.
///
/// Port 7 echoes in upper case and closes when the client does; other ports refuse.
struct FakeKubelet;

fn out(o: exec_output::Output) -> Result<ExecOutput, Status> {
    Ok(ExecOutput { output: Some(o) })
}

#[tonic::async_trait]
impl NodeAgent for FakeKubelet {
    type LogsStream = Out<LogChunk>;
    type ExecStream = Out<ExecOutput>;
    type PortForwardStream = Out<PortForwardFrame>;
    type AttachStream = Out<ExecOutput>;

    async fn logs(&self, _: Request<LogsRequest>) -> Result<tonic::Response<Self::LogsStream>, Status> {
        Err(Status::unimplemented("no logs here"))
    }

    async fn exec(
        &self,
        req: Request<tonic::Streaming<ExecInput>>,
    ) -> Result<tonic::Response<Self::ExecStream>, Status> {
        let mut input = req.into_inner();
        let Some(ExecInput { input: Some(exec_input::Input::Start(start)) }) = input.message().await? else {
            return Err(Status::invalid_argument("start first"));
        };
        if start.container != "main" {
            return Err(proto::status::to_status(&ApiError::bad_request(format!(
                "container not found ({:?})",
                start.container
            ))));
        }
        let (tx, rx) = mpsc::channel(16);
        tokio::spawn(async move {
            let command: Vec<&str> = start.command.iter().map(String::as_str).collect();
            match command.as_slice() {
                ["fail", code] => {
                    let _ = tx.send(out(exec_output::Output::Stdout(b"to stdout\n".to_vec()))).await;
                    let _ = tx.send(out(exec_output::Output::Stderr(b"to stderr\n".to_vec()))).await;
                    let _ = tx.send(out(exec_output::Output::ExitCode(code.parse().unwrap()))).await;
                }
                ["cat"] | ["size"] => {
                    while let Ok(Some(msg)) = input.message().await {
                        match msg.input {
                            Some(exec_input::Input::Stdin(data)) if command == ["cat"] => {
                                let _ = tx.send(out(exec_output::Output::Stdout(data))).await;
                            }
                            Some(exec_input::Input::Resize(s)) => {
                                let line = format!("{}x{}\n", s.cols, s.rows).into_bytes();
                                let _ = tx.send(out(exec_output::Output::Stdout(line))).await;
                            }
                            Some(exec_input::Input::CloseStdin(_)) => break,
                            _ => {}
                        }
                    }
                    let _ = tx.send(out(exec_output::Output::ExitCode(0))).await;
                }
                _ => {
                    let _ = tx.send(Err(Status::internal("unknown command"))).await;
                }
            }
        });
        Ok(tonic::Response::new(Box::pin(futures::stream::unfold(rx, |mut rx| async move {
            rx.recv().await.map(|m| (m, rx))
        }))))
    }

    /// Attaching says hello on stdout, echoes stdin until it closes, and ends without an exit code.
    async fn attach(
        &self,
        req: Request<tonic::Streaming<ExecInput>>,
    ) -> Result<tonic::Response<Self::AttachStream>, Status> {
        let mut input = req.into_inner();
        let Some(ExecInput { input: Some(exec_input::Input::Start(start)) }) = input.message().await? else {
            return Err(Status::invalid_argument("start first"));
        };
        assert!(start.command.is_empty(), "an attach runs no command");
        let hello = futures::stream::once(async move {
            out(exec_output::Output::Stdout(format!("attached to {}\n", start.container).into_bytes()))
        });
        let echo = futures::stream::unfold(input, |mut input| async move {
            match input.message().await {
                Ok(Some(ExecInput { input: Some(exec_input::Input::Stdin(data)) })) => {
                    Some((out(exec_output::Output::Stdout(data)), input))
                }
                _ => None,
            }
        });
        Ok(tonic::Response::new(Box::pin(hello.chain(echo))))
    }

    async fn port_forward(
        &self,
        req: Request<tonic::Streaming<PortForwardFrame>>,
    ) -> Result<tonic::Response<Self::PortForwardStream>, Status> {
        let mut input = req.into_inner();
        let first = input.message().await?.unwrap_or_default();
        let port = first.start.map(|s| s.port).unwrap_or_default();
        if port != 7 {
            return Err(proto::status::to_status(&ApiError::internal(format!(
                "error forwarding port {port} to pod p: connection refused"
            ))));
        }
        let echoed = futures::stream::unfold(Some(input), |input| async move {
            let mut input = input?;
            match input.message().await {
                Ok(Some(frame)) if !frame.close => {
                    let data = frame.data.to_ascii_uppercase();
                    Some((Ok(PortForwardFrame { start: None, data, close: false }), Some(input)))
                }
                _ => Some((Ok(PortForwardFrame { start: None, data: vec![], close: true }), None)),
            }
        });
        Ok(tonic::Response::new(Box::pin(echoed)))
    }
}

/// An apiserver's streaming endpoints in front of the fake kubelet, with pod
/// `default/p` (container `main`) running on its node, pod `default/idle`
/// pending there, and pod `default/unbound` on no node. Returns the HTTP address.
async fn server() -> SocketAddr {
    let kubelet = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let kubelet_port = kubelet.local_addr().unwrap().port();
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(NodeAgentServer::new(FakeKubelet))
            .serve_with_incoming(tonic::transport::server::TcpIncoming::from(kubelet)),
    );
    let registry = Arc::new(Registry::new(Arc::new(MemStore::new())));
    registry.bootstrap().await.unwrap();
    let nodes = api::registry::lookup("nodes").unwrap();
    let pods = api::registry::lookup("pods").unwrap();
    let node = json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1"},
        "status": {"addresses": [{"type": "InternalIP", "address": "127.0.0.1"}],
                   "daemonEndpoints": {"kubeletEndpoint": {"Port": kubelet_port}}}});
    registry.create(nodes, "", &serde_json::to_vec(&node).unwrap(), &Default::default()).await.unwrap();
    registry.update(nodes, "", "n1", &serde_json::to_vec(&node).unwrap(), "status", &Default::default()).await.unwrap();
    for (name, node, phase) in [("p", "n1", "Running"), ("idle", "n1", "Pending"), ("unbound", "", "Pending")] {
        let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "default"},
            "spec": {"nodeName": node, "containers": [{"name": "main", "image": "busybox"}]},
            "status": {"phase": phase}});
        registry.create(pods, "default", &serde_json::to_vec(&pod).unwrap(), &Default::default()).await.unwrap();
        registry
            .update(pods, "default", name, &serde_json::to_vec(&pod).unwrap(), "status", &Default::default())
            .await
            .unwrap();
    }
    let streaming = Arc::new(StreamingService::new(registry));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let (tcp, _) = listener.accept().await.unwrap();
            let streaming = streaming.clone();
            let service = hyper::service::service_fn(move |req: http::Request<hyper::body::Incoming>| {
                let streaming = streaming.clone();
                async move {
                    // /api/v1/namespaces/<ns>/pods/<pod>/<subresource>
                    let parts: Vec<String> = req.uri().path().split('/').map(str::to_string).collect();
                    let kind = match parts[7].as_str() {
                        "exec" => StreamKind::Exec,
                        "attach" => StreamKind::Attach,
                        _ => StreamKind::PortForward,
                    };
                    let req = req.map(Body::new);
                    Ok::<_, std::convert::Infallible>(
                        serve(streaming, req, parts[4].clone(), parts[6].clone(), kind).await,
                    )
                }
            });
            tokio::spawn(async move {
                let io = TokioIo::new(tcp);
                let _ = hyper::server::conn::http1::Builder::new().serve_connection(io, service).with_upgrades().await;
            });
        }
    });
    addr
}

/// Sends a request by hand; returns the status code, the response head, and
/// the connection (positioned after the head).
async fn request(addr: SocketAddr, method: &str, path: &str, headers: &[(&str, &str)]) -> (u16, String, TcpStream) {
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 0\r\n");
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    tcp.write_all(head.as_bytes()).await.unwrap();
    let mut got = Vec::new();
    let mut byte = [0u8; 1];
    while !got.ends_with(b"\r\n\r\n") {
        assert_eq!(tcp.read(&mut byte).await.unwrap(), 1, "the server closed during the head: {got:?}");
        got.push(byte[0]);
    }
    let text = String::from_utf8(got).unwrap();
    let code = text[9..12].parse().unwrap();
    (code, text, tcp)
}

/// The JSON body of an error answer (the connection is closed after it).
async fn error_body(addr: SocketAddr, method: &str, path: &str, headers: &[(&str, &str)]) -> (u16, Value) {
    let mut all = vec![("Connection", "close")];
    all.extend_from_slice(headers);
    let (code, head, mut tcp) = request(addr, method, path, &all).await;
    assert!(head.to_ascii_lowercase().contains("content-type: application/json"), "{head}");
    let mut body = Vec::new();
    tcp.read_to_end(&mut body).await.unwrap();
    (code, serde_json::from_slice(&body).unwrap_or_else(|_| panic!("{}", String::from_utf8_lossy(&body))))
}

const SPDY_UPGRADE: [(&str, &str); 2] = [("Connection", "Upgrade"), ("Upgrade", "SPDY/3.1")];

fn headers(pairs: &[(&str, &str)]) -> Headers {
    pairs.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect()
}

/// Everything a stream receives until its end.
async fn read_all(stream: &mut spdy::Stream) -> Vec<u8> {
    let mut all = Vec::new();
    while let Some(chunk) = stream.data.recv().await {
        all.extend_from_slice(&chunk);
    }
    all
}

/// An exec over SPDY as kubectl 1.20 starts it: negotiates a version, then opens its streams.
async fn spdy_exec(addr: SocketAddr, query: &str, versions: &str) -> (String, Session) {
    let path = format!("/api/v1/namespaces/default/pods/p/exec?{query}");
    let mut all = SPDY_UPGRADE.to_vec();
    all.push(("X-Stream-Protocol-Version", versions));
    let (code, head, tcp) = request(addr, "POST", &path, &all).await;
    assert_eq!(code, 101, "{head}");
    (head, Session::client(tcp))
}

#[tokio::test]
async fn spdy_exec_relays_stdout_stderr_and_the_exit_code() {
    let addr = server().await;
    let (head, mut session) = spdy_exec(
        addr,
        "command=fail&command=3&stdout=true&stderr=true",
        "v4.channel.k8s.io,v3.channel.k8s.io,v2.channel.k8s.io,channel.k8s.io",
    )
    .await;
    assert!(head.contains("x-stream-protocol-version: v4.channel.k8s.io"), "{head}");
    assert!(head.to_ascii_lowercase().contains("upgrade: spdy/3.1"), "{head}");
    let mut error = session.open(headers(&[("streamType", "error")])).await.unwrap();
    let mut stdout = session.open(headers(&[("streamType", "stdout")])).await.unwrap();
    let mut stderr = session.open(headers(&[("streamType", "stderr")])).await.unwrap();
    assert_eq!(read_all(&mut stdout).await, b"to stdout\n");
    assert_eq!(read_all(&mut stderr).await, b"to stderr\n");
    let status: Value = serde_json::from_slice(&read_all(&mut error).await).unwrap();
    assert_eq!(status["status"], "Failure");
    assert_eq!(status["reason"], "NonZeroExitCode");
    assert_eq!(status["details"]["causes"][0], json!({"reason": "ExitCode", "message": "3"}));
}

#[tokio::test]
async fn spdy_exec_takes_stdin_and_resizes_and_old_versions_get_text_errors() {
    let addr = server().await;
    let (_, mut session) = spdy_exec(addr, "command=cat&stdin=true&stdout=true&stderr=true", "v4.channel.k8s.io").await;
    let mut error = session.open(headers(&[("streamType", "error")])).await.unwrap();
    let stdin = session.open(headers(&[("streamType", "stdin")])).await.unwrap();
    let mut stdout = session.open(headers(&[("streamType", "stdout")])).await.unwrap();
    let _stderr = session.open(headers(&[("streamType", "stderr")])).await.unwrap();
    stdin.sender.data(stdin.id, b"hello ", false).await;
    stdin.sender.data(stdin.id, b"world", true).await;
    assert_eq!(read_all(&mut stdout).await, b"hello world");
    let status: Value = serde_json::from_slice(&read_all(&mut error).await).unwrap();
    assert_eq!(status, json!({"metadata": {}, "status": "Success"}));

    // v3 with a terminal: sizes come on the resize stream; there is no stderr stream.
    let (head, mut session) =
        spdy_exec(addr, "command=size&stdin=true&stdout=true&tty=true", "v3.channel.k8s.io").await;
    assert!(head.contains("x-stream-protocol-version: v3.channel.k8s.io"), "{head}");
    let mut error = session.open(headers(&[("streamType", "error")])).await.unwrap();
    let stdin = session.open(headers(&[("streamType", "stdin")])).await.unwrap();
    let mut stdout = session.open(headers(&[("streamType", "stdout")])).await.unwrap();
    let resize = session.open(headers(&[("streamType", "resize")])).await.unwrap();
    resize.sender.data(resize.id, b"{\"Width\":80,\"Height\":24}\n{\"Width\":", false).await;
    resize.sender.data(resize.id, b"100,\"Height\":40}\n", false).await;
    let mut seen = Vec::new();
    while seen != b"80x24\n100x40\n" {
        seen.extend_from_slice(&stdout.data.recv().await.expect("more output"));
    }
    stdin.sender.close(stdin.id).await;
    assert_eq!(read_all(&mut stdout).await, b"");
    assert_eq!(read_all(&mut error).await, b"", "success is silence before v4");

    // v2 and a failing command: the error stream has the message.
    let (_, mut session) = spdy_exec(addr, "command=fail&command=2&stdout=true", "v2.channel.k8s.io").await;
    let mut error = session.open(headers(&[("streamType", "error")])).await.unwrap();
    let _stdout = session.open(headers(&[("streamType", "stdout")])).await.unwrap();
    assert_eq!(
        String::from_utf8(read_all(&mut error).await).unwrap(),
        "command terminated with non-zero exit code: error executing command [fail 2], exit code 2"
    );
}

/// A WebSocket client offering `protocols`; returns the connection and the subprotocol the server chose.
async fn websocket(
    addr: SocketAddr,
    path: &str,
    protocols: &str,
) -> (tokio_tungstenite::WebSocketStream<TcpStream>, Option<String>) {
    let mut req = format!("ws://{addr}{path}").into_client_request().unwrap();
    req.headers_mut().insert("Sec-WebSocket-Protocol", protocols.parse().unwrap());
    let tcp = TcpStream::connect(addr).await.unwrap();
    let (ws, response) = tokio_tungstenite::client_async(req, tcp).await.expect("the upgrade succeeds");
    let chosen = response.headers().get("sec-websocket-protocol").map(|v| v.to_str().unwrap().to_string());
    (ws, chosen)
}

/// Every data message until the server closes.
async fn messages(ws: &mut tokio_tungstenite::WebSocketStream<TcpStream>) -> Vec<Message> {
    let mut all = Vec::new();
    while let Some(Ok(msg)) = ws.next().await {
        if msg.is_close() {
            break;
        }
        all.push(msg);
    }
    all
}

#[tokio::test]
async fn websocket_v5_exec_closes_stdin_with_channel_255() {
    let addr = server().await;
    let path = "/api/v1/namespaces/default/pods/p/exec?command=cat&stdin=true&stdout=true&stderr=true";
    let (mut ws, chosen) = websocket(addr, path, "v5.channel.k8s.io").await;
    assert_eq!(chosen.as_deref(), Some("v5.channel.k8s.io"));
    ws.send(Message::binary(b"\x00ping".to_vec())).await.unwrap();
    ws.send(Message::binary(vec![255, 0])).await.unwrap();
    let got = messages(&mut ws).await;
    assert_eq!(got[0], Message::binary(vec![1]), "an empty stdout message opens the session");
    assert_eq!(got[1], Message::binary(b"\x01ping".to_vec()));
    assert_eq!(got[2].clone().into_data()[0], 3);
    let status: Value = serde_json::from_slice(&got[2].clone().into_data()[1..]).unwrap();
    assert_eq!(status["status"], "Success");
    assert_eq!(got.len(), 3);
}

#[tokio::test]
async fn websocket_v4_exec_reports_the_exit_code_and_base64_works_too() {
    let addr = server().await;
    let path = "/api/v1/namespaces/default/pods/p/exec?command=fail&command=7&stdout=true&stderr=true";
    let (mut ws, chosen) = websocket(addr, path, "v4.channel.k8s.io").await;
    assert_eq!(chosen.as_deref(), Some("v4.channel.k8s.io"));
    let got = messages(&mut ws).await;
    assert_eq!(got[1], Message::binary(b"\x01to stdout\n".to_vec()));
    assert_eq!(got[2], Message::binary(b"\x02to stderr\n".to_vec()));
    let status: Value = serde_json::from_slice(&got[3].clone().into_data()[1..]).unwrap();
    assert_eq!(status["details"]["causes"][0]["message"], "7");

    let (mut ws, chosen) = websocket(addr, path, "v4.base64.channel.k8s.io").await;
    assert_eq!(chosen.as_deref(), Some("v4.base64.channel.k8s.io"));
    let got = messages(&mut ws).await;
    assert_eq!(got[1], Message::text("1dG8gc3Rkb3V0Cg=="));
}

#[tokio::test]
async fn requests_that_cannot_be_served_get_a_status() {
    let addr = server().await;
    let ws_headers = [
        ("Connection", "Upgrade"),
        ("Upgrade", "websocket"),
        ("Sec-WebSocket-Version", "13"),
        ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
    ];
    let exec = "/api/v1/namespaces/default/pods/p/exec";
    // Path, headers, the answer's code, and words its message has.
    type Case<'a> = (String, Vec<(&'a str, &'a str)>, u16, &'a str);
    let cases: Vec<Case> = vec![
        (format!("{exec}?command=ls&stdout=true"), vec![], 400, "Upgrade request required"),
        (
            "/api/v1/namespaces/default/pods/nope/exec?command=ls&stdout=true".into(),
            ws_headers.to_vec(),
            404,
            "pods \"nope\" not found",
        ),
        (format!("{exec}?stdout=true"), ws_headers.to_vec(), 400, "you must specify at least one command"),
        (
            format!("{exec}?command=ls"),
            ws_headers.to_vec(),
            400,
            "you must specify at least 1 of stdin, stdout, stderr",
        ),
        (format!("{exec}?command=ls&stdout=yes"), ws_headers.to_vec(), 400, "strconv.ParseBool: parsing \"yes\""),
        (
            format!("{exec}?command=ls&stdout=true&container=other"),
            ws_headers.to_vec(),
            400,
            "container other is not valid for pod p",
        ),
        (
            format!("{exec}?command=ls&stdout=true"),
            [&SPDY_UPGRADE[..], &[("X-Stream-Protocol-Version", "v9.channel.k8s.io")]].concat(),
            403,
            "unable to negotiate protocol",
        ),
        (
            "/api/v1/namespaces/default/pods/unbound/exec?command=ls&stdout=true".into(),
            ws_headers.to_vec(),
            400,
            "pod unbound does not have a host assigned",
        ),
        (
            "/api/v1/namespaces/default/pods/idle/portforward?ports=7".into(),
            ws_headers.to_vec(),
            400,
            "pod is not running. Current status=Pending",
        ),
        (
            "/api/v1/namespaces/default/pods/p/portforward?ports=x".into(),
            ws_headers.to_vec(),
            400,
            "\"x\" is not a port",
        ),
    ];
    for (path, headers, code, message) in cases {
        let (got, status) = error_body(addr, "POST", &path, &headers).await;
        assert_eq!(got, code, "{path}: {status}");
        assert_eq!(status["kind"], "Status");
        assert_eq!(status["code"], code);
        assert!(status["message"].as_str().unwrap().contains(message), "{path}: {status}");
    }
    // An unknown subprotocol is refused, so kubectl falls back to SPDY.
    let mut req = format!("ws://{addr}{exec}?command=ls&stdout=true").into_client_request().unwrap();
    req.headers_mut().insert("Sec-WebSocket-Protocol", "v9.channel.k8s.io".parse().unwrap());
    let tcp = TcpStream::connect(addr).await.unwrap();
    assert!(tokio_tungstenite::client_async(req, tcp).await.is_err());
}

/// Opens one forwarded connection over a SPDY session, as kubectl does.
async fn spdy_connection(session: &mut Session, port: &str, request: &str) -> (spdy::Stream, spdy::Stream) {
    let h = |kind| headers(&[("streamType", kind), ("port", port), ("requestID", request)]);
    let error = session.open(h("error")).await.unwrap();
    let data = session.open(h("data")).await.unwrap();
    (error, data)
}

/// Two connections over one session: one echoed, one refused by the pod.
async fn exercise_port_forward(mut session: Session) {
    let (mut error, mut data) = spdy_connection(&mut session, "7", "0").await;
    data.sender.data(data.id, b"hello", false).await;
    assert_eq!(&data.data.recv().await.unwrap()[..], b"HELLO");
    let (mut refused_error, mut refused_data) = spdy_connection(&mut session, "9", "1").await;
    assert_eq!(
        String::from_utf8(read_all(&mut refused_error).await).unwrap(),
        "error forwarding port 9 to pod p: connection refused"
    );
    assert_eq!(read_all(&mut refused_data).await, b"");
    data.sender.close(data.id).await;
    assert_eq!(read_all(&mut data).await, b"", "the pod side closes after the client");
    assert_eq!(read_all(&mut error).await, b"");
}

#[tokio::test]
async fn spdy_port_forward_pairs_streams_by_request_id() {
    let addr = server().await;
    let mut all = SPDY_UPGRADE.to_vec();
    all.push(("X-Stream-Protocol-Version", "portforward.k8s.io"));
    let (code, head, tcp) = request(addr, "POST", "/api/v1/namespaces/default/pods/p/portforward", &all).await;
    assert_eq!(code, 101, "{head}");
    assert!(head.contains("x-stream-protocol-version: portforward.k8s.io"), "{head}");
    exercise_port_forward(Session::client(tcp)).await;
}

#[tokio::test]
async fn spdy_port_forward_tunnelled_in_a_websocket() {
    let addr = server().await;
    let path = "/api/v1/namespaces/default/pods/p/portforward";
    let (ws, chosen) = websocket(addr, path, "SPDY/3.1+portforward.k8s.io").await;
    assert_eq!(chosen.as_deref(), Some("SPDY/3.1+portforward.k8s.io"));
    // The client's side of the tunnel: SPDY bytes in binary messages, both ways.
    let (local, remote) = tokio::io::duplex(64 * 1024);
    let (mut sink, mut incoming) = ws.split();
    let (mut from_spdy, mut to_spdy) = tokio::io::split(remote);
    tokio::spawn(async move {
        while let Some(Ok(Message::Binary(b))) = incoming.next().await {
            to_spdy.write_all(&b).await.unwrap();
        }
    });
    tokio::spawn(async move {
        let mut buf = vec![0u8; 4096];
        while let Ok(n @ 1..) = from_spdy.read(&mut buf).await {
            // Split SPDY frames across messages: message boundaries mean nothing.
            for piece in buf[..n].chunks(5) {
                sink.send(Message::binary(piece.to_vec())).await.unwrap();
            }
        }
    });
    exercise_port_forward(Session::client(local)).await;
}

#[tokio::test]
async fn websocket_port_forward_opens_each_channel_with_its_port() {
    let addr = server().await;
    let path = "/api/v1/namespaces/default/pods/p/portforward?ports=7,9";
    let (mut ws, chosen) = websocket(addr, path, "v4.channel.k8s.io").await;
    assert_eq!(chosen.as_deref(), Some("v4.channel.k8s.io"));
    let mut first = Vec::new();
    for _ in 0..4 {
        first.push(ws.next().await.unwrap().unwrap());
    }
    assert_eq!(&first[..2], [Message::binary(vec![0, 7, 0]), Message::binary(vec![1, 7, 0])]);
    assert_eq!(&first[2..], [Message::binary(vec![2, 9, 0]), Message::binary(vec![3, 9, 0])]);
    ws.send(Message::binary(b"\x00abc".to_vec())).await.unwrap();
    let mut rest = Vec::new();
    while !rest.contains(&Message::binary(b"\x00ABC".to_vec())) {
        rest.push(ws.next().await.unwrap().unwrap());
    }
    let on_error_channel = |m: &Message| (*m).clone().into_data().first() == Some(&3);
    if !rest.iter().any(on_error_channel) {
        rest.push(ws.next().await.unwrap().unwrap());
    }
    let refused = rest.into_iter().find(on_error_channel).unwrap().into_data();
    assert_eq!(&refused[1..], b"error forwarding port 9 to pod p: connection refused");

    // v5: closing the data channel half-closes the connection; the pod side closes and so does the socket.
    let (mut ws, _) =
        websocket(addr, "/api/v1/namespaces/default/pods/p/portforward?ports=7", "v5.channel.k8s.io").await;
    ws.send(Message::binary(b"\x00x".to_vec())).await.unwrap();
    ws.send(Message::binary(vec![255, 0])).await.unwrap();
    let got = messages(&mut ws).await;
    assert_eq!(
        got,
        [Message::binary(vec![0, 7, 0]), Message::binary(vec![1, 7, 0]), Message::binary(b"\x00X".to_vec())]
    );
}

#[tokio::test]
async fn attach_over_spdy_and_websocket_ends_in_success() {
    let addr = server().await;
    let mut all = SPDY_UPGRADE.to_vec();
    all.push(("X-Stream-Protocol-Version", "v4.channel.k8s.io"));
    let path = "/api/v1/namespaces/default/pods/p/attach?container=main&stdin=true&stdout=true";
    let (code, head, tcp) = request(addr, "POST", path, &all).await;
    assert_eq!(code, 101, "{head}");
    let mut session = Session::client(tcp);
    let mut error = session.open(headers(&[("streamType", "error")])).await.unwrap();
    let stdin = session.open(headers(&[("streamType", "stdin")])).await.unwrap();
    let mut stdout = session.open(headers(&[("streamType", "stdout")])).await.unwrap();
    stdin.sender.data(stdin.id, b"typed", true).await;
    assert_eq!(read_all(&mut stdout).await, b"attached to main\ntyped");
    let status: Value = serde_json::from_slice(&read_all(&mut error).await).unwrap();
    assert_eq!(status["status"], "Success");

    let (mut ws, _) = websocket(addr, path, "v5.channel.k8s.io").await;
    ws.send(Message::binary(vec![255, 0])).await.unwrap();
    let got = messages(&mut ws).await;
    assert_eq!(got[1], Message::binary(b"\x01attached to main\n".to_vec()));
    let status: Value = serde_json::from_slice(&got[2].clone().into_data()[1..]).unwrap();
    assert_eq!(status["status"], "Success");
}

#[tokio::test]
async fn spdy_port_forward_carries_a_megabyte_both_ways() {
    let addr = server().await;
    let mut all = SPDY_UPGRADE.to_vec();
    all.push(("X-Stream-Protocol-Version", "portforward.k8s.io"));
    let (code, head, tcp) = request(addr, "POST", "/api/v1/namespaces/default/pods/p/portforward", &all).await;
    assert_eq!(code, 101, "{head}");
    let mut session = Session::client(tcp);
    let (_error, mut data) = spdy_connection(&mut session, "7", "0").await;
    let sender = data.sender.clone();
    let id = data.id;
    let writing = tokio::spawn(async move {
        for _ in 0..64 {
            assert!(sender.data(id, &[b'a'; 16 * 1024], false).await);
        }
        sender.close(id).await;
    });
    let echoed = read_all(&mut data).await;
    writing.await.unwrap();
    assert_eq!(echoed.len(), 1 << 20);
    assert!(echoed.iter().all(|b| *b == b'A'));
}
