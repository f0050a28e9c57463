//! The `api` scenario's client of the apiserver's Kubernetes HTTP front: what
//! the real kubectl and client-go send, from hyper's pooled client.
//!
//! Against a `http://` server URL, client-go speaks HTTP/1.1 (Go's transport
//! negotiates HTTP/2 only through TLS), so a watch holds a connection of its
//! own; [`Http::new`] can also speak h2c (cleartext HTTP/2), where watches
//! share connections as kube-rs or a TLS client-go would.
//!
//! Answers are read to their end (so the connection goes back to the pool)
//! and checked for their status and shape, but not decoded, as the gRPC
//! phases leave the apiserver's JSON undecoded.

use crate::watch::StampStream;
use bytes::{Buf, Bytes, BytesMut};
use futures::StreamExt;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Method, Request, StatusCode};
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use hyper_util::rt::TokioExecutor;
use serde::Deserialize;

/// What kubectl sends to `get` a list as a table (cli-runtime's printing
/// flags): a meta.k8s.io/v1 Table first.
pub(super) const ACCEPT_TABLE: &str = "application/json;as=Table;v=v1;g=meta.k8s.io";
pub(super) const ACCEPT_JSON: &str = "application/json";

/// One client of the HTTP front. Clones share a pool: over HTTP/1.1 the pool
/// opens a connection per request in flight and keeps them for the next, so
/// a client that sends one request at a time keeps one connection.
#[derive(Clone)]
pub(super) struct Http {
    client: Client<HttpConnector, Full<Bytes>>,
    base: String,
}

/// An answer read to its end.
pub(super) struct Answer {
    pub status: StatusCode,
    pub content_type: String,
    pub body: Bytes,
}

impl Http {
    /// A client of the apiserver at `server` (`host:port`, or a URL), over
    /// HTTP/1.1, or h2c when `http2`.
    pub(super) fn new(server: &str, http2: bool) -> Http {
        let mut connector = HttpConnector::new();
        // As tonic's channels do for the gRPC phases: small requests leave at once.
        connector.set_nodelay(true);
        let client = Client::builder(TokioExecutor::new()).http2_only(http2).build(connector);
        let base = if server.contains("://") { server.to_string() } else { format!("http://{server}") };
        Http { client, base: base.trim_end_matches('/').to_string() }
    }

    async fn send(&self, method: Method, path: &str, accept: &str, body: Option<Vec<u8>>) -> Result<Response, String> {
        // A User-Agent, as kubectl and client-go always send: the apiserver
        // names a write's field manager after it and records managedFields,
        // as it does for the gRPC client's writes.
        let mut req = Request::builder()
            .method(method.clone())
            .uri(format!("{}{path}", self.base))
            .header("accept", accept)
            .header("user-agent", concat!("bench/", env!("CARGO_PKG_VERSION")));
        if body.is_some() {
            req = req.header("content-type", "application/json");
        }
        let req = req
            .body(Full::new(body.map(Bytes::from).unwrap_or_default()))
            .map_err(|e| format!("{method} {path}: {e}"))?;
        self.client.request(req).await.map_err(|e| format!("{method} {path}: {e:?}"))
    }

    /// Sends a request and reads its answer to the end.
    pub(super) async fn call(
        &self,
        method: Method,
        path: &str,
        accept: &str,
        body: Option<Vec<u8>>,
    ) -> Result<Answer, String> {
        let response = self.send(method.clone(), path, accept, body).await?;
        let status = response.status();
        let content_type =
            response.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
        let body =
            response.into_body().collect().await.map_err(|e| format!("{method} {path}: reading the answer: {e}"))?;
        Ok(Answer { status, content_type, body: body.to_bytes() })
    }

    /// POSTs a JSON object and expects 201 Created with an object.
    pub(super) async fn create(&self, path: &str, json: Vec<u8>) -> Result<(), String> {
        let answer = self.call(Method::POST, path, ACCEPT_JSON, Some(json)).await?;
        answer.expect(StatusCode::CREATED, "POST", path)
    }

    /// GETs an object as JSON and expects 200 OK with an object.
    pub(super) async fn get(&self, path: &str) -> Result<(), String> {
        let answer = self.call(Method::GET, path, ACCEPT_JSON, None).await?;
        answer.expect(StatusCode::OK, "GET", path)
    }

    /// Opens a watch (`path` carries `?watch=1&...`) and returns its events'
    /// send stamps; fails unless the server answers 200.
    pub(super) async fn watch(&self, path: &str) -> Result<StampStream, String> {
        let response = self.send(Method::GET, path, ACCEPT_JSON, None).await?;
        if response.status() != StatusCode::OK {
            let status = response.status();
            let body = response.into_body().collect().await.map(|b| b.to_bytes()).unwrap_or_default();
            return Err(format!("GET {path}: {status}: {}", String::from_utf8_lossy(&body)));
        }
        Ok(stamps(response.into_body()))
    }
}

type Response = hyper::Response<Incoming>;

impl Answer {
    /// Ok when the status is `want` and the body a JSON object; else what came back.
    pub(super) fn expect(&self, want: StatusCode, method: &str, path: &str) -> Result<(), String> {
        if self.status != want {
            return Err(format!("{method} {path}: {} (expected {want}): {}", self.status, self.snippet()));
        }
        if self.body.first() != Some(&b'{') {
            return Err(format!("{method} {path}: {} bytes that are not a JSON object", self.body.len()));
        }
        Ok(())
    }

    /// The start of the body, for error messages.
    fn snippet(&self) -> String {
        let text = String::from_utf8_lossy(&self.body[..self.body.len().min(300)]).into_owned();
        text.trim().to_string()
    }
}

/// The send stamps of the ADDED events in the complete lines of `buf`, which
/// keeps what follows the last newline (a line may span chunks). A line is
/// read as far as its type and stamp (`crate::pod::sent_nanos_in`), as the
/// other phases' watchers read theirs; only an ERROR event is decoded, for
/// its message.
fn take_lines(buf: &mut BytesMut) -> Result<Vec<u64>, String> {
    let mut stamps = Vec::new();
    while let Some(end) = memchr::memchr(b'\n', buf) {
        let line = buf.split_to(end + 1);
        let line = line[..end].trim_ascii();
        if line.is_empty() {
            continue;
        }
        match event_type(line) {
            Some(b"ADDED") => stamps.extend(crate::pod::sent_nanos_in(line)),
            Some(b"ERROR") => return Err(format!("ERROR event: {}", error_message(line))),
            Some(_) => {}
            None => return Err(format!("a watch line that is not an event: {}", String::from_utf8_lossy(line))),
        }
    }
    Ok(stamps)
}

/// The `type` of an event line, which the apiserver writes first, as
/// kube-apiserver does.
fn event_type(line: &[u8]) -> Option<&[u8]> {
    let rest = line.strip_prefix(b"{\"type\":\"")?;
    Some(&rest[..memchr::memchr(b'"', rest)?])
}

/// The message of an ERROR event's Status.
fn error_message(line: &[u8]) -> String {
    #[derive(Deserialize)]
    struct Event {
        object: Status,
    }
    #[derive(Deserialize)]
    struct Status {
        #[serde(default)]
        message: String,
    }
    match serde_json::from_slice::<Event>(line) {
        Ok(event) => event.object.message,
        Err(e) => format!("(not a Status: {e}) {}", String::from_utf8_lossy(line)),
    }
}

/// A watch body as stamps: one item per chunk received.
fn stamps(body: Incoming) -> StampStream {
    futures::stream::unfold((body, BytesMut::new()), |(mut body, mut buf)| async move {
        loop {
            let frame = match body.frame().await? {
                Ok(frame) => frame,
                Err(e) => return Some((Err(format!("reading the watch: {e}")), (body, buf))),
            };
            let Ok(mut data) = frame.into_data() else { continue };
            while data.has_remaining() {
                let chunk = data.chunk();
                buf.extend_from_slice(chunk);
                let n = chunk.len();
                data.advance(n);
            }
            return Some((take_lines(&mut buf), (body, buf)));
        }
    })
    .boxed()
}

/// What a list answer is, read from its JSON (items skipped over, not built).
#[derive(Debug, PartialEq)]
pub(super) struct ListSummary {
    /// `PodList`, `Table`, ...
    pub kind: String,
    /// Items of a list, rows of a Table.
    pub items: usize,
    pub resource_version: String,
}

pub(super) fn list_summary(json: &[u8]) -> Result<ListSummary, String> {
    #[derive(Deserialize)]
    struct List {
        #[serde(default)]
        kind: String,
        #[serde(default)]
        metadata: ListMeta,
        #[serde(default)]
        items: Vec<serde::de::IgnoredAny>,
        #[serde(default)]
        rows: Vec<serde::de::IgnoredAny>,
    }
    #[derive(Deserialize, Default)]
    struct ListMeta {
        #[serde(default, rename = "resourceVersion")]
        resource_version: String,
    }
    let list: List = serde_json::from_slice(json).map_err(|e| format!("the list is not JSON: {e}"))?;
    let items = if list.kind == "Table" { list.rows.len() } else { list.items.len() };
    Ok(ListSummary { kind: list.kind, items, resource_version: list.metadata.resource_version })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn watch_lines_are_read_across_chunks() {
        let mut buf = BytesMut::new();
        let added = br#"{"type":"ADDED","object":{"kind":"Pod","metadata":{"name":"a","annotations":{"bench.kubelab.io/sent-unix-nanos":"42"}},"spec":{}}}"#;
        buf.extend_from_slice(&added[..20]);
        assert_eq!(take_lines(&mut buf), Ok(vec![]), "half a line waits for the rest");
        buf.extend_from_slice(&added[20..]);
        buf.extend_from_slice(b"\n");
        buf.extend_from_slice(
            br#"{"type":"MODIFIED","object":{"metadata":{"annotations":{"bench.kubelab.io/sent-unix-nanos":"7"}}}}"#,
        );
        buf.extend_from_slice(b"\n{\"type\":\"BOOKMARK\",\"object\":{\"metadata\":{}}}\n{\"type\":\"ADD");
        assert_eq!(take_lines(&mut buf), Ok(vec![42]), "only ADDED events are creates");
        assert_eq!(&buf[..], b"{\"type\":\"ADD", "the partial line is kept");
    }

    #[test]
    fn an_error_event_or_garbage_ends_the_watch_with_its_message() {
        let mut buf = BytesMut::from(
            &br#"{"type":"ERROR","object":{"kind":"Status","message":"too old resource version: 1 (5)","code":410}}
"#[..],
        );
        let e = take_lines(&mut buf).expect_err("an ERROR event");
        assert!(e.contains("too old resource version"), "{e}");
        let mut buf = BytesMut::from(&b"<html>\n"[..]);
        let e = take_lines(&mut buf).expect_err("not JSON");
        assert!(e.contains("not an event") && e.contains("<html>"), "{e}");
    }

    #[test]
    fn lists_and_tables_count_their_items_and_rows() {
        let list =
            br#"{"kind":"PodList","apiVersion":"v1","metadata":{"resourceVersion":"17"},"items":[{"a":1},{"b":[2]}]}"#;
        let summary = ListSummary { kind: "PodList".into(), items: 2, resource_version: "17".into() };
        assert_eq!(list_summary(list), Ok(summary));
        let table = br#"{"kind":"Table","apiVersion":"meta.k8s.io/v1","metadata":{"resourceVersion":"9"},"columnDefinitions":[],"rows":[{"cells":["a"]}]}"#;
        let summary = ListSummary { kind: "Table".into(), items: 1, resource_version: "9".into() };
        assert_eq!(list_summary(table), Ok(summary));
        assert!(list_summary(b"nope").is_err());
    }

    #[test]
    fn server_addresses_become_urls() {
        assert_eq!(Http::new("127.0.0.1:6443", false).base, "http://127.0.0.1:6443");
        assert_eq!(Http::new("http://h:1/", true).base, "http://h:1");
    }
}
