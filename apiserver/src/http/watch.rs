//! Watches over HTTP, as kube-apiserver streams them: a 200 response whose
//! body is one JSON object per line, `{"type":"ADDED","object":{...}}`,
//! written as each change happens, until the client goes away or its
//! `timeoutSeconds` runs out.
//!
//! - `resourceVersion` unset or "0": an ADDED event per current object first.
//! - `resourceVersion=N`: every change after N; one older than the store
//!   keeps gets an ERROR event holding a 410 `Expired` Status.
//! - `allowWatchBookmarks`: BOOKMARK events now and then carry the latest
//!   resourceVersion seen, so a client can resume from it.
//! - `sendInitialEvents=true` (client-go's watch-list): the current objects,
//!   then a BOOKMARK annotated `k8s.io/initial-events-end`.
//! - In Table form (`kubectl get -w`), each event's object is a one-row Table.

use super::negotiate::{Format, Query};
use super::resources::invalid_list;
use super::respond::{self, IncludeObject};
use super::Front;
use crate::registry::{RawObject, WatchEvent, WatchEvents};
use api::{ApiError, ResourceInfo};
use axum::body::Body;
use axum::response::Response;
use bytes::Bytes;
use futures::StreamExt;
use http::StatusCode;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;

/// How often a watch that allows bookmarks gets one.
pub const BOOKMARK_INTERVAL: Duration = Duration::from_secs(30);

/// How long before its timeout a watch gets its last bookmark.
const BOOKMARK_BEFORE_TIMEOUT: Duration = Duration::from_secs(2);

/// Starts a watch and answers with its stream.
pub async fn serve(
    front: &Arc<Front>,
    info: &'static ResourceInfo,
    namespace: &str,
    q: &Query,
    format: Format,
    include: IncludeObject,
) -> Result<Response, ApiError> {
    let rv = q.get("resourceVersion");
    let bookmarks = q.flag("allowWatchBookmarks")?;
    let send_initial = if q.get("sendInitialEvents").is_empty() { None } else { Some(q.flag("sendInitialEvents")?) };
    let matching = q.get("resourceVersionMatch");
    match send_initial {
        Some(_) if matching != "NotOlderThan" => {
            return Err(invalid_list(
                "resourceVersionMatch",
                "sendInitialEvents requires setting resourceVersionMatch to NotOlderThan",
            ))
        }
        Some(true) if !bookmarks => {
            return Err(invalid_list(
                "allowWatchBookmarks",
                "sendInitialEvents requires setting allowWatchBookmarks to true",
            ))
        }
        None if !matching.is_empty() => {
            return Err(invalid_list(
                "resourceVersionMatch",
                "resourceVersionMatch is forbidden for watch unless sendInitialEvents is provided",
            ))
        }
        _ => {}
    }
    let timeout = q.int("timeoutSeconds")?.filter(|s| *s > 0).map(|s| Duration::from_secs(s as u64));
    let (labels, fields) = (q.get("labelSelector"), q.get("fieldSelector"));
    let registry = &front.registry;
    let from_start = matches!(rv, "" | "0");
    // What the client sees before the changes: the current objects (when
    // it asked for them), and the version the changes start after.
    let (initial, start, end_marker) = match send_initial {
        Some(true) => {
            let list = registry.list_raw(info, namespace, labels, fields, 0, "").await?;
            let wanted: i64 = rv.parse().unwrap_or(0);
            if wanted > list.resource_version {
                return Err(super::resources::too_large(wanted, list.resource_version));
            }
            (list.items, list.resource_version.to_string(), true)
        }
        Some(false) if from_start => {
            let list = registry.list_raw(info, namespace, labels, fields, 1, "").await?;
            (Vec::new(), list.resource_version.to_string(), false)
        }
        _ => (Vec::new(), rv.to_string(), false),
    };
    let events = match registry.watch(info, namespace, labels, fields, &start).await {
        Ok(events) => events,
        // Kubernetes answers a watch from a compacted version with 200 and an ERROR event.
        Err(e) if e.is_expired() => futures::stream::iter([Err(e)]).boxed(),
        Err(e) => return Err(e),
    };
    let start_rv: i64 = start.parse().unwrap_or(0);
    let encoder = Encoder { info, format, include };
    let mut head = Vec::new();
    for object in &initial {
        head.push(encoder.object_event("ADDED", object)?);
    }
    if end_marker {
        head.push(encoder.bookmark(start_rv, true));
    }
    let body = stream(encoder, head, events, start_rv, bookmarks, timeout);
    let mut r = Response::new(Body::from_stream(body.map(Ok::<_, std::convert::Infallible>)));
    *r.status_mut() = StatusCode::OK;
    r.headers_mut().insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static("application/json"));
    Ok(r)
}

/// Turns events into the lines the client reads.
#[derive(Clone, Copy)]
struct Encoder {
    info: &'static ResourceInfo,
    format: Format,
    include: IncludeObject,
}

impl Encoder {
    fn line(kind: &str, object: &[u8]) -> Bytes {
        let mut out = Vec::with_capacity(object.len() + 32);
        out.extend_from_slice(b"{\"type\":\"");
        out.extend_from_slice(kind.as_bytes());
        out.extend_from_slice(b"\",\"object\":");
        out.extend_from_slice(object);
        out.extend_from_slice(b"}\n");
        out.into()
    }

    fn value(kind: &str, object: &Value) -> Bytes {
        Self::line(kind, &serde_json::to_vec(object).expect("a JSON value always serializes"))
    }

    fn object_event(&self, kind: &str, raw: &RawObject) -> Result<Bytes, ApiError> {
        match self.format {
            Format::Table { beta } => {
                let obj = raw.decode()?;
                let rv = api::meta::resource_version(&obj).to_string();
                Ok(Self::value(kind, &respond::table(self.info, &[obj], self.include, &rv, "", beta)))
            }
            Format::Metadata { beta } => Ok(Self::value(kind, &respond::partial_metadata(&raw.decode()?, beta))),
            _ => Self::stamped_line(kind, &raw.json, raw.resource_version),
        }
    }

    /// A JSON event line built in one buffer: the object's stored bytes,
    /// stamped, between the event's framing.
    fn stamped_line(kind: &str, json: &[u8], rv: i64) -> Result<Bytes, ApiError> {
        let mut out = Vec::with_capacity(json.len() + 80);
        out.extend_from_slice(b"{\"type\":\"");
        out.extend_from_slice(kind.as_bytes());
        out.extend_from_slice(b"\",\"object\":");
        respond::stamp_into(&mut out, json, rv)?;
        out.extend_from_slice(b"}\n");
        Ok(out.into())
    }

    fn event(&self, ev: &WatchEvent) -> Result<Bytes, ApiError> {
        match self.format {
            Format::Table { .. } | Format::Metadata { .. } => {
                self.object_event(ev.kind, &RawObject { json: ev.json.to_vec(), resource_version: ev.resource_version })
            }
            _ => Self::stamped_line(ev.kind, &ev.json, ev.resource_version),
        }
    }

    /// A BOOKMARK: an object of the watched kind with only a resourceVersion
    /// (and, after the initial events, the annotation that says so).
    fn bookmark(&self, rv: i64, initial_events_end: bool) -> Bytes {
        let mut metadata = json!({"resourceVersion": rv.to_string()});
        if initial_events_end {
            metadata["annotations"] = json!({"k8s.io/initial-events-end": "true"});
        }
        let obj = json!({"kind": self.info.kind, "apiVersion": self.info.api_version(), "metadata": metadata});
        Self::value("BOOKMARK", &obj)
    }

    fn error(err: &ApiError) -> Bytes {
        Self::value("ERROR", &err.to_status())
    }
}

/// The body: the initial lines, then one line per event, bookmarks between
/// them, until an error, the end of the events, or the timeout.
fn stream(
    encoder: Encoder,
    head: Vec<Bytes>,
    events: WatchEvents,
    start_rv: i64,
    bookmarks: bool,
    timeout: Option<Duration>,
) -> impl futures::Stream<Item = Bytes> + Send {
    struct State {
        events: WatchEvents,
        last_rv: i64,
        ticks: Option<tokio::time::Interval>,
        deadline: std::pin::Pin<Box<tokio::time::Sleep>>,
        done: bool,
    }
    let ticks = bookmarks.then(|| {
        // As kube-apiserver does, a watch that will time out gets a bookmark
        // shortly before, so its client resumes from the latest version.
        let now = tokio::time::Instant::now();
        let mut first = now + BOOKMARK_INTERVAL;
        if let Some(before_end) = timeout.and_then(|t| t.checked_sub(BOOKMARK_BEFORE_TIMEOUT)) {
            first = first.min(now + before_end);
        }
        let mut t = tokio::time::interval_at(first, BOOKMARK_INTERVAL);
        t.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        t
    });
    // No timeout: a day, which no client waits for.
    let deadline = Box::pin(tokio::time::sleep(timeout.unwrap_or(Duration::from_secs(86_400))));
    let state = State { events, last_rv: start_rv, ticks, deadline, done: false };
    let live = futures::stream::unfold(state, move |mut s| async move {
        if s.done {
            return None;
        }
        loop {
            let State { events, ticks, deadline, .. } = &mut s;
            let tick = async {
                match ticks.as_mut() {
                    Some(t) => t.tick().await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                ev = events.next() => {
                    let line = match ev {
                        None => return None,
                        Some(Ok(ev)) => {
                            s.last_rv = ev.resource_version;
                            encoder.event(&ev).unwrap_or_else(|e| { s.done = true; Encoder::error(&e) })
                        }
                        Some(Err(e)) => {
                            s.done = true;
                            Encoder::error(&e)
                        }
                    };
                    return Some((line, s));
                }
                _ = tick => {
                    if s.last_rv > 0 {
                        let line = encoder.bookmark(s.last_rv, false);
                        return Some((line, s));
                    }
                }
                _ = deadline => return None,
            }
        }
    });
    futures::stream::iter(head).chain(live)
}
