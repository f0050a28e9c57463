//! Response bodies: objects and lists in the format the client negotiated
//! (JSON, YAML, a server-side Table, or metadata only), and errors as
//! Kubernetes `Status` objects with the HTTP code that goes with their reason.

use super::negotiate::Format;
use crate::registry::RawObject;
use api::{ApiError, ResourceInfo};
use axum::body::Body;
use axum::response::Response;
use http::{header, HeaderValue, StatusCode};
use serde_json::{json, Value};

const JSON: &str = "application/json";

/// A response with a body and its content type.
pub fn bytes(code: StatusCode, content_type: &str, body: impl Into<Body>) -> Response {
    let mut r = Response::new(body.into());
    *r.status_mut() = code;
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_str(content_type).unwrap_or(HeaderValue::from_static(JSON)));
    r
}

/// A JSON document.
pub fn json(code: StatusCode, value: &Value) -> Response {
    bytes(code, JSON, serde_json::to_vec(value).expect("a JSON value always serializes"))
}

/// An error, as kube-apiserver answers one: a `Status` object with its code.
pub fn error(err: &ApiError) -> Response {
    let code = StatusCode::from_u16(err.code()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    if code.is_server_error() {
        tracing::warn!(error = %err.message, "request failed");
    }
    json(code, &err.to_status())
}

/// A successful `Status` (what a delete of an object that went at once, or a
/// binding, answers).
pub fn success(code: StatusCode, details: Value) -> Response {
    json(code, &json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "details": details}))
}

/// Stored bytes with `metadata.resourceVersion` put in, without decoding the
/// object: a scan finds where the top-level `metadata` object opens, and the
/// version goes in as its first field. Every JSON answer (get, list, watch)
/// takes this path, so it copies the bytes once and parses nothing.
pub fn stamp(stored: &[u8], resource_version: i64) -> Result<Vec<u8>, ApiError> {
    let mut out = Vec::with_capacity(stored.len() + 40);
    stamp_into(&mut out, stored, resource_version)?;
    Ok(out)
}

/// [`stamp`], appending to `out`.
pub fn stamp_into(out: &mut Vec<u8>, stored: &[u8], resource_version: i64) -> Result<(), ApiError> {
    if resource_version <= 0 {
        out.extend_from_slice(stored);
        return Ok(());
    }
    let field = format!("\"resourceVersion\":\"{resource_version}\"");
    match metadata_opening(stored) {
        Some((at, empty)) => {
            out.extend_from_slice(&stored[..at]);
            out.extend_from_slice(field.as_bytes());
            if !empty {
                out.push(b',');
            }
            out.extend_from_slice(&stored[at..]);
        }
        None => {
            // No metadata: the object gets one holding only the version.
            let open = stored
                .iter()
                .position(|b| *b == b'{')
                .ok_or_else(|| ApiError::internal("stored object is not a JSON object"))?;
            let empty = stored[open + 1..].iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'}');
            out.extend_from_slice(&stored[..=open]);
            out.extend_from_slice(b"\"metadata\":{");
            out.extend_from_slice(field.as_bytes());
            out.push(b'}');
            if !empty {
                out.push(b',');
            }
            out.extend_from_slice(&stored[open + 1..]);
        }
    }
    Ok(())
}

/// Where the top-level `"metadata": {` of a JSON object opens (the index just
/// after its brace) and whether that object is empty; None without one.
fn metadata_opening(json: &[u8]) -> Option<(usize, bool)> {
    let skip_ws = |mut i: usize| {
        while i < json.len() && json[i].is_ascii_whitespace() {
            i += 1;
        }
        i
    };
    let (mut depth, mut i) = (0usize, 0usize);
    while i < json.len() {
        match json[i] {
            b'"' => {
                let start = i + 1;
                i += 1;
                while i < json.len() && json[i] != b'"' {
                    i += if json[i] == b'\\' { 2 } else { 1 };
                }
                if depth == 1 && json.get(start..i) == Some(b"metadata".as_slice()) {
                    let colon = skip_ws(i + 1);
                    if json.get(colon) == Some(&b':') {
                        let brace = skip_ws(colon + 1);
                        if json.get(brace) == Some(&b'{') {
                            let next = skip_ws(brace + 1);
                            return Some((brace + 1, json.get(next) == Some(&b'}')));
                        }
                    }
                }
            }
            b'{' | b'[' => depth += 1,
            b'}' | b']' => depth = depth.saturating_sub(1),
            _ => {}
        }
        i += 1;
    }
    None
}

/// The metadata-only form of an object.
pub fn partial_metadata(obj: &Value, beta: bool) -> Value {
    json!({
        "kind": "PartialObjectMetadata",
        "apiVersion": if beta { "meta.k8s.io/v1beta1" } else { "meta.k8s.io/v1" },
        "metadata": obj.get("metadata").cloned().unwrap_or_else(|| json!({})),
    })
}

/// How a Table's rows carry their objects (`includeObject`).
pub use api::printers::IncludeObject;

/// One object, in the negotiated format.
pub fn object(
    code: StatusCode,
    info: &ResourceInfo,
    raw: &RawObject,
    format: Format,
    include: IncludeObject,
) -> Result<Response, ApiError> {
    match format {
        Format::Json | Format::Discovery { .. } => Ok(bytes(code, JSON, stamp(&raw.json, raw.resource_version)?)),
        _ => Ok(value(code, info, &raw.decode()?, format, include)),
    }
}

/// A decoded object, in the negotiated format.
pub fn value(code: StatusCode, info: &ResourceInfo, obj: &Value, format: Format, include: IncludeObject) -> Response {
    match format {
        Format::Json | Format::Discovery { .. } => json(code, obj),
        Format::Yaml => bytes(code, "application/yaml", api::codec::to_yaml(obj)),
        Format::Metadata { beta } => json(code, &partial_metadata(obj, beta)),
        Format::Table { beta } => {
            let rv = api::meta::resource_version(obj).to_string();
            json(code, &table(info, std::slice::from_ref(obj), include, &rv, "", beta))
        }
    }
}

/// A Table of objects, as kube-apiserver prints them.
pub fn table(
    info: &ResourceInfo,
    objects: &[Value],
    include: IncludeObject,
    resource_version: &str,
    continue_token: &str,
    beta: bool,
) -> Value {
    let mut t = api::printers::table(info, objects, include, jiff::Timestamp::now(), resource_version, continue_token);
    if beta {
        t["apiVersion"] = "meta.k8s.io/v1beta1".into();
    }
    t
}

/// A list of stored objects, in the negotiated format.
pub fn list(
    info: &ResourceInfo,
    items: &[RawObject],
    resource_version: i64,
    continue_token: &str,
    remaining: Option<i64>,
    format: Format,
    include: IncludeObject,
) -> Result<Response, ApiError> {
    let rv = resource_version.to_string();
    let mut metadata = json!({"resourceVersion": rv});
    if !continue_token.is_empty() {
        metadata["continue"] = continue_token.into();
    }
    if let Some(n) = remaining {
        metadata["remainingItemCount"] = n.into();
    }
    if let Format::Json = format {
        // The items go out as stored (stamped), never decoded into values.
        let head = json!({"kind": info.list_kind(), "apiVersion": info.api_version(), "metadata": metadata});
        let size: usize = items.iter().map(|i| i.json.len() + 40).sum();
        let mut out = Vec::with_capacity(size + 200);
        serde_json::to_writer(&mut out, &head).expect("a JSON value always serializes");
        out.pop();
        out.extend_from_slice(b",\"items\":[");
        for (i, item) in items.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            stamp_into(&mut out, &item.json, item.resource_version)?;
        }
        out.extend_from_slice(b"]}");
        return Ok(bytes(StatusCode::OK, JSON, out));
    }
    if let Format::Table { beta: false } = format {
        // Rows are read from the stored bytes: no object is decoded whole.
        let objects: Vec<(&[u8], i64)> = items.iter().map(|i| (&i.json[..], i.resource_version)).collect();
        let now = jiff::Timestamp::now();
        let out = api::printers::table_raw(info, &objects, include, now, &rv, continue_token)
            .map_err(|e| ApiError::internal(format!("stored object is not JSON: {e}")))?;
        return Ok(bytes(StatusCode::OK, JSON, out));
    }
    let objects = items.iter().map(RawObject::decode).collect::<Result<Vec<_>, _>>()?;
    Ok(match format {
        Format::Table { beta } => json(StatusCode::OK, &table(info, &objects, include, &rv, continue_token, beta)),
        Format::Metadata { beta } => {
            let items: Vec<Value> = objects.iter().map(|o| partial_metadata(o, beta)).collect();
            let api_version = if beta { "meta.k8s.io/v1beta1" } else { "meta.k8s.io/v1" };
            json(
                StatusCode::OK,
                &json!({"kind": "PartialObjectMetadataList", "apiVersion": api_version, "metadata": metadata, "items": items}),
            )
        }
        _ => {
            let list = json!({"kind": info.list_kind(), "apiVersion": info.api_version(), "metadata": metadata, "items": objects});
            value(StatusCode::OK, info, &list, format, include)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamping_puts_the_resource_version_into_metadata_and_keeps_the_rest() {
        let stored =
            br#"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"a","uid":"u"},"spec":{"x":[1,{"y":"z"}]}}"#;
        let out: Value = serde_json::from_slice(&stamp(stored, 42).unwrap()).unwrap();
        assert_eq!(
            out,
            json!({"apiVersion":"v1","kind":"Pod","metadata":{"name":"a","uid":"u","resourceVersion":"42"},"spec":{"x":[1,{"y":"z"}]}})
        );
        let bare: Value = serde_json::from_slice(&stamp(br#"{"kind":"X","spec":{}}"#, 7).unwrap()).unwrap();
        assert_eq!(bare["metadata"]["resourceVersion"], "7");
        let empty: Value = serde_json::from_slice(&stamp(br#"{"metadata":{},"kind":"X"}"#, 8).unwrap()).unwrap();
        assert_eq!(empty, json!({"metadata": {"resourceVersion": "8"}, "kind": "X"}));
        assert_eq!(
            serde_json::from_slice::<Value>(&stamp(b"{}", 9).unwrap()).unwrap(),
            json!({"metadata": {"resourceVersion": "9"}})
        );
        // A "metadata" that is a string value, or a key deeper down, is not the object's metadata.
        let tricky = br#"{"a":{"metadata":{"x":1}},"b":"\"metadata\":{","kind":"metadata","metadata":{"name":"n"}}"#;
        let out: Value = serde_json::from_slice(&stamp(tricky, 5).unwrap()).unwrap();
        assert_eq!(out["metadata"], json!({"name": "n", "resourceVersion": "5"}));
        assert_eq!(out["a"]["metadata"], json!({"x": 1}));
        // A dry run's object was never stored: nothing to stamp.
        assert_eq!(stamp(stored, 0).unwrap(), stored.to_vec());
        assert!(stamp(b"not json", 3).is_err());
        // Any bytes at all: an answer or an error, never a panic.
        for junk in [&b"{\"metadata\""[..], b"{\"metadata\":", b"\"", b"{\"\\", b"]]]}"] {
            let _ = stamp(junk, 1);
        }
    }

    #[test]
    fn errors_carry_their_code_and_a_status_body() {
        let r = error(&ApiError::not_found("pods", "x"));
        assert_eq!(r.status(), StatusCode::NOT_FOUND);
        assert_eq!(r.headers()[header::CONTENT_TYPE], "application/json");
    }
}
