//! The paths outside the resource tree: `/version`, the health checks
//! (`/healthz`, `/livez`, `/readyz`, with `?verbose` and one path per check),
//! the OpenAPI documents, and `/`, which lists the paths served.

use super::respond;
use super::Front;
use crate::openapi::OpenApi;
use api::{ApiError, Reason};
use axum::extract::Request;
use axum::response::Response;
use bytes::Bytes;
use http::{header, HeaderValue, Method, StatusCode};
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;

/// How long the etcd check waits for an answer.
const ETCD_CHECK_TIMEOUT: Duration = Duration::from_secs(2);

/// Serves a path that names no resource.
pub async fn serve(front: &Arc<Front>, path: &str, req: Request) -> Result<Response, ApiError> {
    if req.method() != Method::GET && req.method() != Method::HEAD {
        return Err(ApiError::new(
            Reason::MethodNotAllowed,
            format!("the server does not allow this method on {path}"),
        ));
    }
    let query = super::negotiate::Query::parse(req.uri().query());
    match path {
        "/version" => Ok(respond::json(StatusCode::OK, &crate::service::version_info())),
        "/" => Ok(respond::json(StatusCode::OK, &json!({"paths": root_paths()}))),
        "/openapi/v2" | "/swagger.json" => Ok(openapi_v2(&req)),
        "/openapi/v3" => Ok(cached(&req, OpenApi::get().v3_index(), JSON, false)),
        _ => {
            if let Some(gv) = path.strip_prefix("/openapi/v3/") {
                let doc = OpenApi::get().v3(gv).ok_or_else(not_found)?;
                return Ok(openapi_v3(&req, gv, doc));
            }
            if let Some((endpoint, check)) = health_path(path) {
                return Ok(health(front, endpoint, check, query.has("verbose")).await);
            }
            Err(not_found())
        }
    }
}

fn not_found() -> ApiError {
    ApiError::new(Reason::NotFound, "the server could not find the requested resource")
}

const JSON: &str = "application/json";

/// `/openapi/v2`: protobuf when the client asks for it (kubectl always does), else JSON.
fn openapi_v2(req: &Request) -> Response {
    let accept = req.headers().get(header::ACCEPT).and_then(|v| v.to_str().ok()).unwrap_or("");
    if accept.contains("protobuf") {
        // The media type asked for has an `@`, which Go's MIME parser refuses
        // in a response; kube-openapi answers it as an octet stream too.
        cached(req, OpenApi::get().v2_protobuf(), "application/octet-stream", false)
    } else {
        cached(req, OpenApi::get().v2_json(), JSON, false)
    }
}

/// `/openapi/v3/<group version>`: with the index's `?hash=`, cacheable for
/// good; with another hash, a redirect to the current one, as kube-apiserver does.
fn openapi_v3(req: &Request, gv: &str, doc: Bytes) -> Response {
    let etag = OpenApi::get().etag(&doc);
    let hash = etag.trim_matches('"');
    let asked = super::negotiate::Query::parse(req.uri().query());
    match asked.get("hash") {
        "" => cached(req, doc, JSON, false),
        h if h == hash => cached(req, doc, JSON, true),
        _ => {
            let mut r = respond::bytes(StatusCode::MOVED_PERMANENTLY, JSON, Bytes::new());
            let location = format!("/openapi/v3/{gv}?hash={hash}");
            r.headers_mut().insert(header::LOCATION, HeaderValue::from_str(&location).expect("an ASCII path"));
            r
        }
    }
}

/// A document with its ETag; 304 when the client holds the same one.
fn cached(req: &Request, doc: Bytes, content_type: &str, immutable: bool) -> Response {
    let etag = OpenApi::get().etag(&doc);
    let held = req.headers().get(header::IF_NONE_MATCH).and_then(|v| v.to_str().ok());
    let mut r = if held == Some(etag.as_str()) {
        respond::bytes(StatusCode::NOT_MODIFIED, content_type, Bytes::new())
    } else {
        respond::bytes(StatusCode::OK, content_type, doc)
    };
    let h = r.headers_mut();
    h.insert(header::ETAG, HeaderValue::from_str(&etag).expect("a hex ETag"));
    let cache = if immutable { "public, immutable" } else { "no-cache, private" };
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    r
}

fn root_paths() -> Vec<String> {
    let mut paths: Vec<String> = ["/api", "/api/v1", "/apis", "/healthz", "/livez", "/readyz", "/version"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    for gv in api::registry::group_versions().iter().filter(|gv| gv.contains('/')) {
        let group = gv.split('/').next().unwrap_or_default();
        paths.push(format!("/apis/{group}"));
        paths.push(format!("/apis/{gv}"));
    }
    paths.sort();
    paths.dedup();
    paths
}

/// `/healthz`, `/livez/ping`, `/readyz/etcd`: the endpoint and the one check named, if any.
fn health_path(path: &str) -> Option<(&str, Option<&str>)> {
    let mut parts = path.trim_start_matches('/').splitn(2, '/');
    let endpoint = parts.next()?;
    if !matches!(endpoint, "healthz" | "livez" | "readyz") {
        return None;
    }
    Some((endpoint, parts.next()))
}

/// Runs the checks of a health endpoint, as kube-apiserver reports them:
/// `ok`, or with `?verbose` one `[+]name ok` line per check; a failed check
/// makes it 500 with `[-]name failed`.
async fn health(front: &Arc<Front>, endpoint: &str, only: Option<&str>, verbose: bool) -> Response {
    let etcd = async {
        let probe = front.registry.store().get("/registry/health");
        matches!(tokio::time::timeout(ETCD_CHECK_TIMEOUT, probe).await, Ok(Ok(_)))
    };
    let mut checks: Vec<(&str, bool)> = vec![("ping", true)];
    // Liveness does not depend on etcd, as in kube-apiserver (a flaky etcd
    // must not get the apiserver restarted); health and readiness do.
    if endpoint != "livez" && only.is_none_or(|c| c == "etcd") {
        checks.push(("etcd", etcd.await));
    }
    if let Some(name) = only {
        checks.retain(|(n, _)| *n == name);
        if checks.is_empty() {
            return respond::bytes(StatusCode::NOT_FOUND, "text/plain; charset=utf-8", "404 page not found\n");
        }
    }
    let healthy = checks.iter().all(|(_, ok)| *ok);
    let code = if healthy { StatusCode::OK } else { StatusCode::INTERNAL_SERVER_ERROR };
    let text = if verbose || !healthy {
        let mut lines: Vec<String> = checks
            .iter()
            .map(|(n, ok)| if *ok { format!("[+]{n} ok") } else { format!("[-]{n} failed: reason withheld") })
            .collect();
        lines.push(if healthy { format!("{endpoint} check passed") } else { format!("{endpoint} check failed") });
        lines.join("\n") + "\n"
    } else {
        "ok".to_string()
    };
    respond::bytes(code, "text/plain; charset=utf-8", text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn health_paths() {
        assert_eq!(health_path("/healthz"), Some(("healthz", None)));
        assert_eq!(health_path("/readyz/etcd"), Some(("readyz", Some("etcd"))));
        assert_eq!(health_path("/version"), None);
    }

    #[test]
    fn the_root_lists_every_group_version() {
        let paths = root_paths();
        for p in ["/api/v1", "/apis/apps/v1", "/apis/apps", "/healthz", "/version"] {
            assert!(paths.contains(&p.to_string()), "{p} in {paths:?}");
        }
    }
}
