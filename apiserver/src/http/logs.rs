//! `GET pods/<name>/log`: the container's output as plain text, streamed as
//! it comes with `follow`, relayed from the pod's kubelet through the same
//! streaming service kubelab's kubectl calls over gRPC.

use super::negotiate::Query;
use super::Front;
use api::ApiError;
use axum::body::Body;
use axum::response::Response;
use futures::StreamExt;
use http::StatusCode;
use proto::streaming_server::Streaming;
use proto::LogsRequest;
use std::sync::Arc;

/// How long the first chunk is waited for before the response starts.
const FIRST_CHUNK_WAIT: std::time::Duration = std::time::Duration::from_millis(500);

pub async fn serve(front: &Arc<Front>, ns: &str, pod: &str, q: &Query) -> Result<Response, ApiError> {
    let mut since_seconds = q.int("sinceSeconds")?.unwrap_or(0);
    if since_seconds < 0 {
        return Err(ApiError::bad_request("sinceSeconds must be greater than 0"));
    }
    if let Ok(since) = q.get("sinceTime").parse::<jiff::Timestamp>() {
        let ago = jiff::Timestamp::now().duration_since(since).as_secs();
        since_seconds = ago.max(1);
    }
    let tail_lines = q.int("tailLines")?.unwrap_or(-1);
    let request = LogsRequest {
        namespace: ns.to_string(),
        pod: pod.to_string(),
        container: q.get("container").to_string(),
        follow: q.flag("follow")?,
        tail_lines,
        previous: q.flag("previous")?,
        timestamps: q.flag("timestamps")?,
        since_seconds,
    };
    let limit = q.int("limitBytes")?.filter(|n| *n > 0).map(|n| n as usize);
    let stream = front
        .streaming
        .logs(tonic::Request::new(request))
        .await
        .map_err(|s| proto::status::from_status("the kubelet", s))?
        .into_inner();
    // A kubelet that refuses (no such container, not started yet) says so in
    // its first message: answer that as an error, not as a 200 with no body.
    let mut stream = stream.peekable();
    let first = tokio::time::timeout(FIRST_CHUNK_WAIT, std::pin::Pin::new(&mut stream).peek()).await;
    if let Ok(Some(Err(_))) = first {
        if let Some(Err(status)) = stream.next().await {
            return Err(proto::status::from_status("the kubelet", status));
        }
    }
    let mut sent = 0usize;
    let body = stream
        .take_while(move |chunk| {
            let more = limit.is_none_or(|l| sent < l);
            if let Ok(c) = chunk {
                sent += c.data.len();
            }
            std::future::ready(more)
        })
        .filter_map(|chunk| {
            std::future::ready(chunk.ok().map(|c| Ok::<_, std::convert::Infallible>(bytes::Bytes::from(c.data))))
        });
    let mut r = Response::new(Body::from_stream(body));
    *r.status_mut() = StatusCode::OK;
    r.headers_mut().insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static("text/plain"));
    Ok(r)
}
