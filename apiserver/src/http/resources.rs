//! The REST verbs, as kube-apiserver's `endpoints/handlers` serve them: each
//! request's method, path and query become one registry call, and its answer
//! goes back in the negotiated format. No rule of a kind lives here.
//!
//! | request | verb |
//! |---|---|
//! | GET collection (`?watch=1`: watch) | list / watch |
//! | POST collection | create |
//! | DELETE collection | deletecollection |
//! | GET / PUT / PATCH / DELETE object | get / update / patch / delete |
//! | GET / PUT / PATCH `status`, `scale` | the subresource |
//! | POST `binding`, `eviction` | create on the subresource |
//! | PUT a namespace's `finalize` | update |
//! | GET `log`; `exec`, `attach`, `portforward` | streams, relayed to the kubelet |
//! | any method on a pod's, service's or node's `proxy` | forwarded to the pod, an endpoint or the kubelet |

use super::negotiate::{self, BodyType, Format, Query};
use super::path::{self, Path, ResourcePath};
use super::respond::{self, IncludeObject};
use super::{discovery, watch, Front, FrontState};
use crate::registry::{DeleteOptions, FieldValidation, WriteOptions};
use crate::streams::StreamKind;
use api::{meta, ApiError, Reason, ResourceInfo};
use axum::extract::Request;
use axum::response::Response;
use http::{header, Method, StatusCode};
use proto::PatchType;
use serde_json::{json, Value};
use std::sync::Arc;

/// The largest request body read, as kube-apiserver's limit (3 MiB); an
/// object must still fit etcd's 1.5 MiB, which the registry checks.
pub const MAX_BODY_BYTES: usize = 3 << 20;

/// Serves one REST request; every failure becomes a `Status`.
pub async fn handle(axum::extract::State(front): FrontState, req: Request) -> Response {
    match route(&front, req).await {
        Ok(r) => r,
        Err(e) => respond::error(&e),
    }
}

fn header_str(req: &Request, name: header::HeaderName) -> Option<&str> {
    req.headers().get(name).and_then(|v| v.to_str().ok())
}

fn method_not_allowed(method: &Method, what: &str) -> ApiError {
    ApiError::new(
        Reason::MethodNotAllowed,
        format!("the server does not allow this method on the requested resource ({method} {what})"),
    )
}

async fn route(front: &Arc<Front>, req: Request) -> Result<Response, ApiError> {
    let path = path::parse(req.uri().path())?;
    let verbs = |r: &ResourceInfo| front.registry.strategy(r).verbs().iter().map(|v| v.to_string()).collect::<Vec<_>>();
    if !matches!(path, Path::Resource(_) | Path::Other(_)) && req.method() != Method::GET {
        return Err(method_not_allowed(req.method(), req.uri().path()));
    }
    let accept = header_str(&req, header::ACCEPT);
    match path {
        Path::CoreVersions | Path::Groups => {
            let core = path == Path::CoreVersions;
            match negotiate::accept(accept, true)? {
                Format::Discovery { beta } => {
                    let doc = discovery::aggregated(core, beta, verbs);
                    let body = serde_json::to_vec(&doc).expect("a JSON value always serializes");
                    Ok(respond::bytes(StatusCode::OK, discovery::aggregated_content_type(beta), body))
                }
                _ if core => Ok(respond::json(StatusCode::OK, &discovery::core_versions(&front.server_address))),
                _ => Ok(respond::json(StatusCode::OK, &discovery::group_list())),
            }
        }
        Path::Group(name) => {
            discovery::group(&name).map(|g| respond::json(StatusCode::OK, &g)).ok_or_else(not_found_path)
        }
        Path::Resources { group, version } => {
            if !discovery::serves(&group, &version) {
                return Err(not_found_path());
            }
            Ok(respond::json(StatusCode::OK, &discovery::resource_list(&group, &version, verbs)))
        }
        Path::Other(p) => super::endpoints::serve(front, &p, req).await,
        Path::Resource(r) => resource(front, r, req).await,
    }
}

fn not_found_path() -> ApiError {
    ApiError::new(Reason::NotFound, "the server could not find the requested resource")
}

/// Reads a request body (JSON, or YAML turned into JSON), refusing one that
/// is too large or of a type the verb does not take.
pub(super) async fn read_body(req: Request, allowed: &[BodyType]) -> Result<(BodyType, Vec<u8>), ApiError> {
    let kind = negotiate::content_type(header_str(&req, header::CONTENT_TYPE))?;
    if !allowed.contains(&kind) {
        let ct = header_str(&req, header::CONTENT_TYPE).unwrap_or("").to_string();
        return Err(ApiError::new(
            Reason::UnsupportedMediaType,
            format!(
                "the body of the request was in an unknown format - accepted media types include: {} (got {ct:?})",
                media_types(allowed)
            ),
        ));
    }
    let body = axum::body::to_bytes(req.into_body(), MAX_BODY_BYTES).await.map_err(|e| {
        // The limit is the only error besides a broken connection.
        let too_large = std::error::Error::source(&e).is_some_and(|s| s.is::<http_body_util::LengthLimitError>());
        if too_large {
            ApiError::new(Reason::RequestEntityTooLarge, format!("Request entity too large: limit is {MAX_BODY_BYTES}"))
        } else {
            ApiError::bad_request(format!("reading the request body: {e}"))
        }
    })?;
    match kind {
        BodyType::Yaml => {
            let text = std::str::from_utf8(&body).map_err(|_| ApiError::bad_request("the YAML body is not UTF-8"))?;
            let mut docs = api::codec::parse_manifests(text, "the request body")?;
            if docs.len() != 1 {
                return Err(ApiError::bad_request(format!(
                    "the request body must hold one object, not {}",
                    docs.len()
                )));
            }
            Ok((kind, serde_json::to_vec(&docs.remove(0)).expect("a JSON value always serializes")))
        }
        BodyType::Protobuf => Ok((kind, super::protobuf::to_json(&body)?)),
        _ => Ok((kind, body.to_vec())),
    }
}

fn media_types(allowed: &[BodyType]) -> String {
    allowed
        .iter()
        .map(|t| match t {
            BodyType::Json => "application/json",
            BodyType::Yaml => "application/yaml",
            BodyType::Protobuf => "application/vnd.kubernetes.protobuf",
            BodyType::MergePatch => "application/merge-patch+json",
            BodyType::JsonPatch => "application/json-patch+json",
            BodyType::StrategicMergePatch => "application/strategic-merge-patch+json",
            BodyType::ApplyPatch => "application/apply-patch+yaml",
        })
        .collect::<Vec<_>>()
        .join(", ")
}

pub(super) const OBJECT_BODIES: &[BodyType] = &[BodyType::Json, BodyType::Yaml, BodyType::Protobuf];
/// The patch types, server-side apply last (subresources without apply take the first three).
pub(super) const PATCH_BODIES: &[BodyType] =
    &[BodyType::JsonPatch, BodyType::MergePatch, BodyType::StrategicMergePatch, BodyType::ApplyPatch];

async fn resource(front: &Arc<Front>, r: ResourcePath, req: Request) -> Result<Response, ApiError> {
    let info = r.info;
    verb(front, r, req).await.map_err(|e| e.in_group(info.kind, info.group))
}

async fn verb(front: &Arc<Front>, r: ResourcePath, req: Request) -> Result<Response, ApiError> {
    let q = Query::parse(req.uri().query());
    let format = negotiate::accept(header_str(&req, header::ACCEPT), false)?;
    // Only Tables read includeObject; other answers ignore it, as kube-apiserver's.
    let asked = q.get("includeObject");
    let include = match (asked, format) {
        ("", _) => IncludeObject::default(),
        (_, Format::Table { .. }) => IncludeObject::parse(asked).ok_or_else(|| {
            ApiError::bad_request(format!(
                "Unable to convert to Table as requested: includeObject: Unsupported value: {asked:?}: supported values: \"None\", \"Metadata\", \"Object\""
            ))
        })?,
        _ => IncludeObject::default(),
    };
    let registry = &front.registry;
    let (info, ns, name) = (r.info, r.namespace.as_str(), r.name.as_str());
    let method = req.method().clone();
    let collection = name.is_empty();
    if !front.registry.strategy(info).verbs().iter().any(|v| verb_allowed(v, &method, collection, &r.subresource)) {
        return Err(method_not_allowed(&method, &info.group_resource()));
    }
    match (method.clone(), collection, r.subresource.as_str()) {
        (Method::GET, true, "") if r.watch || q.flag("watch")? => {
            watch::serve(front, info, ns, &q, format, include).await
        }
        (Method::GET, false, "") if r.watch || q.flag("watch")? => {
            let mut by_name = q;
            by_name
                .set("fieldSelector", &join_selector(by_name.get("fieldSelector"), &format!("metadata.name={name}")));
            watch::serve(front, info, ns, &by_name, format, include).await
        }
        (Method::GET, true, "") => list(front, info, ns, &q, format, include).await,
        (Method::GET, false, "" | "status") => {
            let raw = registry.get_raw(info, ns, name).await?;
            respond::object(StatusCode::OK, info, &raw, format, include)
        }
        (Method::POST, true, "") => {
            let opts = write_options(&q, &req, "CreateOptions")?;
            let (_, body) = read_body(req, OBJECT_BODIES).await?;
            let created = registry.create_raw(info, ns, &body, &opts).await?;
            respond::object(StatusCode::CREATED, info, &created, format, include).map(|r| warn(r, &opts))
        }
        (Method::PUT, false, sub @ ("" | "status")) => {
            let opts = write_options(&q, &req, "UpdateOptions")?;
            let (_, body) = read_body(req, OBJECT_BODIES).await?;
            let updated = registry.update(info, ns, name, &body, sub, &opts).await?;
            Ok(warn(respond::value(StatusCode::OK, info, &updated, format, include), &opts))
        }
        // A namespace's `finalize` writes its spec.finalizers, which kubelab's
        // namespace update already lets through.
        (Method::PUT, false, "finalize") if info.plural == "namespaces" => {
            let opts = write_options(&q, &req, "UpdateOptions")?;
            let (_, body) = read_body(req, OBJECT_BODIES).await?;
            let updated = registry.update(info, ns, name, &body, "", &opts).await?;
            Ok(warn(respond::value(StatusCode::OK, info, &updated, format, include), &opts))
        }
        (Method::PATCH, false, sub @ ("" | "status")) => {
            let opts = write_options(&q, &req, "PatchOptions")?;
            let (kind, body) = read_body(req, PATCH_BODIES).await?;
            // An apply that creates answers 201, as kube-apiserver's.
            let creates = kind == BodyType::ApplyPatch
                && sub.is_empty()
                && registry.get_raw(info, ns, name).await.is_err_and(|e| e.is_not_found());
            let patched = registry.patch(info, ns, name, patch_type(kind), &body, sub, &opts).await?;
            let code = if creates { StatusCode::CREATED } else { StatusCode::OK };
            Ok(warn(respond::value(code, info, &patched, format, include), &opts))
        }
        (Method::DELETE, false, "") => {
            let body = read_optional_body(req).await?;
            let (opts, dry_run) = delete_options(&q, &body)?;
            if dry_run {
                // Nothing is written; the answer is the object as it stands.
                let raw = registry.get_raw(info, ns, name).await?;
                return respond::object(StatusCode::OK, info, &raw, format, include);
            }
            let obj = registry.delete(info, ns, name, &opts).await?;
            // An object still there (marked for graceful deletion, or held by
            // finalizers) is returned; so is a deleted pod or service, whose
            // storage in kube-apiserver returns the deleted object (the Python
            // client decodes those answers as the kind). Others answer a Status.
            if meta::deletion_timestamp(&obj).is_some() || matches!(info.plural, "pods" | "services") {
                return Ok(respond::value(StatusCode::OK, info, &obj, format, include));
            }
            Ok(respond::success(StatusCode::OK, deleted_details(info, name, meta::uid(&obj))))
        }
        (Method::DELETE, true, "") => {
            let body = read_optional_body(req).await?;
            let (opts, dry_run) = delete_options(&q, &body)?;
            if dry_run {
                return list(front, info, ns, &q, format, include).await;
            }
            let deleted =
                registry.delete_collection(info, ns, q.get("labelSelector"), q.get("fieldSelector"), &opts).await?;
            Ok(respond::value(StatusCode::OK, info, &deleted, format, include))
        }
        (Method::GET | Method::PUT | Method::PATCH, false, "scale") => {
            super::scale::serve(front, info, ns, name, req, &q).await
        }
        (Method::POST, false, sub @ "binding") => {
            let (_, body) = read_body(req, OBJECT_BODIES).await?;
            registry.create_subresource(info, ns, name, sub, &body).await?;
            Ok(respond::success(StatusCode::CREATED, Value::Null))
        }
        // An eviction is a delete that budgets may refuse; kubelab has no
        // PodDisruptionBudgets yet, so every eviction is allowed.
        (Method::POST, false, "eviction") if info.plural == "pods" => {
            let (_, body) = read_body(req, OBJECT_BODIES).await?;
            let eviction: Value = serde_json::from_slice(&body)
                .map_err(|e| ApiError::bad_request(format!("the Eviction is not valid JSON: {e}")))?;
            if !meta::name(&eviction).is_empty() && meta::name(&eviction) != name {
                return Err(ApiError::bad_request(format!(
                    "name in URL does not match name in Eviction object: {name} != {}",
                    meta::name(&eviction)
                )));
            }
            let options = eviction.get("deleteOptions").map(|o| o.to_string()).unwrap_or_default();
            let (opts, dry_run) = delete_options(&q, options.as_bytes())?;
            if !dry_run {
                registry.delete(info, ns, name, &opts).await?;
            }
            Ok(respond::success(StatusCode::CREATED, Value::Null))
        }
        (Method::GET | Method::POST, false, sub @ ("exec" | "attach" | "portforward")) if info.plural == "pods" => {
            let kind = match sub {
                "exec" => StreamKind::Exec,
                "attach" => StreamKind::Attach,
                _ => StreamKind::PortForward,
            };
            Ok(crate::streams::serve(front.streaming.clone(), req, ns.to_string(), name.to_string(), kind).await)
        }
        (Method::GET, false, "log") => super::logs::serve(front, ns, name, &q).await,
        (_, false, "proxy") if matches!(info.plural, "pods" | "services" | "nodes") => {
            super::forward::serve(front, info, ns, name, &r.rest, req).await
        }
        (_, _, sub) => Err(ApiError::new(
            Reason::NotFound,
            if sub.is_empty() {
                format!(
                    "the server does not allow this method on the requested resource ({method} {})",
                    info.group_resource()
                )
            } else {
                format!("the server could not find the requested resource ({} {sub})", info.group_resource())
            },
        )),
    }
}

/// A delete's Status details: the object's name, group (when it has one), resource and uid.
fn deleted_details(info: &ResourceInfo, name: &str, uid: &str) -> Value {
    let mut d = json!({"name": name, "kind": info.plural, "uid": uid});
    if !info.group.is_empty() {
        d["group"] = info.group.into();
    }
    d
}

/// Whether a strategy's verb covers this request (the object's own methods;
/// subresources are checked by the match in `resource`).
fn verb_allowed(verb: &str, method: &Method, collection: bool, subresource: &str) -> bool {
    if !subresource.is_empty() {
        return true;
    }
    matches!(
        (verb, method.as_str(), collection),
        ("get", "GET", false)
            | ("list" | "watch", "GET", _)
            | ("create", "POST", true)
            | ("update", "PUT", false)
            | ("patch", "PATCH", false)
            | ("delete", "DELETE", false)
            | ("deletecollection", "DELETE", true)
    )
}

/// A write's options from its query (`dryRun`, `fieldManager`, `force`,
/// `fieldValidation`); the field manager defaults to the User-Agent up to its
/// first `/` and field validation to Warn, as kube-apiserver's.
pub(super) fn write_options(q: &Query, req: &Request, options: &str) -> Result<WriteOptions, ApiError> {
    let field_manager =
        crate::registry::field_manager(q.get("fieldManager"), header_str(req, header::USER_AGENT).unwrap_or(""));
    let field_validation = match q.get("fieldValidation") {
        "" => FieldValidation::Warn,
        other => other.parse()?,
    };
    Ok(WriteOptions {
        dry_run: q.dry_run(options)?,
        field_manager,
        force: q.flag("force")?,
        field_validation,
        ..Default::default()
    })
}

/// Adds the write's warnings as `Warning: 299 - "<text>"` headers.
fn warn(mut response: Response, opts: &WriteOptions) -> Response {
    for text in opts.warnings.take() {
        let quoted = text.replace('\\', "\\\\").replace('"', "\\\"");
        if let Ok(value) = http::HeaderValue::from_str(&format!("299 - \"{quoted}\"")) {
            response.headers_mut().append(header::WARNING, value);
        }
    }
    response
}

pub(super) fn patch_type(kind: BodyType) -> PatchType {
    match kind {
        BodyType::JsonPatch => PatchType::Json,
        BodyType::StrategicMergePatch => PatchType::StrategicMerge,
        BodyType::ApplyPatch => PatchType::Apply,
        _ => PatchType::Merge,
    }
}

fn join_selector(existing: &str, extra: &str) -> String {
    if existing.is_empty() {
        extra.to_string()
    } else {
        format!("{existing},{extra}")
    }
}

async fn read_optional_body(req: Request) -> Result<Vec<u8>, ApiError> {
    let has_body = req.headers().get(header::CONTENT_LENGTH).is_none_or(|l| l != "0");
    if !has_body {
        return Ok(Vec::new());
    }
    Ok(read_body(req, OBJECT_BODIES).await?.1)
}

/// DeleteOptions from the query and the body (the body wins), as kube-apiserver reads them.
fn delete_options(q: &Query, body: &[u8]) -> Result<(DeleteOptions, bool), ApiError> {
    let mut opts = DeleteOptions {
        grace_period_seconds: q.int("gracePeriodSeconds")?,
        propagation_policy: q.get("propagationPolicy").to_string(),
        ..Default::default()
    };
    let mut orphan = match q.get("orphanDependents") {
        "" => None,
        _ => Some(q.flag("orphanDependents")?),
    };
    let mut dry_run = q.dry_run("DeleteOptions")?;
    if !body.iter().all(u8::is_ascii_whitespace) {
        let b: Value = serde_json::from_slice(body).map_err(|e| {
            ApiError::bad_request(format!("the DeleteOptions in the request body are not valid JSON: {e}"))
        })?;
        if let Some(g) = b.get("gracePeriodSeconds").filter(|v| !v.is_null()) {
            opts.grace_period_seconds =
                Some(g.as_i64().ok_or_else(|| ApiError::bad_request("gracePeriodSeconds must be an integer"))?);
        }
        if let Some(p) = b.get("propagationPolicy").and_then(Value::as_str) {
            opts.propagation_policy = p.to_string();
        }
        if let Some(o) = b.get("orphanDependents").and_then(Value::as_bool) {
            orphan = Some(o);
        }
        if let Some(pre) = b.get("preconditions") {
            opts.precondition_uid = pre.get("uid").and_then(Value::as_str).unwrap_or("").to_string();
            opts.precondition_resource_version =
                pre.get("resourceVersion").and_then(Value::as_str).unwrap_or("").to_string();
        }
        match b.get("dryRun").and_then(Value::as_array).map(Vec::as_slice) {
            None | Some([]) => {}
            Some([v]) if v == "All" => dry_run = true,
            Some(other) => {
                return Err(ApiError::bad_request(format!(
                    "Invalid dry run value: {other:?}: supported values: \"All\""
                )))
            }
        }
    }
    if let Some(orphan) = orphan {
        if !opts.propagation_policy.is_empty() {
            return Err(ApiError::invalid(
                "DeleteOptions",
                "",
                vec![api::FieldError::invalid(
                    "propagationPolicy",
                    format!("{:?}", opts.propagation_policy),
                    "orphanDependents and deletionPropagation cannot be both set",
                )],
            ));
        }
        opts.propagation_policy = if orphan { "Orphan" } else { "Background" }.to_string();
    }
    Ok((opts, dry_run))
}

/// A list, checked as kube-apiserver checks its parameters.
async fn list(
    front: &Arc<Front>,
    info: &'static ResourceInfo,
    ns: &str,
    q: &Query,
    format: Format,
    include: IncludeObject,
) -> Result<Response, ApiError> {
    let rv = q.get("resourceVersion");
    let matching = q.get("resourceVersionMatch");
    let continue_token = q.get("continue");
    if !matching.is_empty() {
        if rv.is_empty() {
            return Err(invalid_list(
                "resourceVersionMatch",
                "resourceVersionMatch is forbidden unless resourceVersion is provided",
            ));
        }
        if !matches!(matching, "NotOlderThan" | "Exact") {
            return Err(ApiError::invalid(
                "ListOptions.meta.k8s.io",
                "",
                vec![api::FieldError::not_supported(
                    "resourceVersionMatch",
                    format!("{matching:?}"),
                    &["Exact", "NotOlderThan", ""],
                )],
            ));
        }
        if matching == "Exact" && rv == "0" {
            return Err(invalid_list(
                "resourceVersionMatch",
                "resourceVersionMatch \"exact\" is forbidden for resourceVersion \"0\"",
            ));
        }
    }
    if !continue_token.is_empty() && !rv.is_empty() && rv != "0" {
        return Err(invalid_list("resourceVersion", "specifying resource version is not allowed when using continue"));
    }
    let limit = q.int("limit")?.unwrap_or(0).max(0);
    let wanted = match rv {
        "" => 0,
        rv => rv
            .parse::<i64>()
            .map_err(|_| ApiError::bad_request(format!("invalid resource version {rv:?}: it must be a number")))?,
    };
    // A continued page is read at the first page's revision, and an Exact
    // list at the one asked for (from etcd's history); anything else at the
    // latest, which is never older than a NotOlderThan version.
    let (start, at) = continue_key(continue_token)?;
    let at = if matching == "Exact" { wanted } else { at };
    let (labels, fields) = (q.get("labelSelector"), q.get("fieldSelector"));
    let expired = |e: ApiError| {
        match e {
        e if e.is_expired() && !continue_token.is_empty() => ApiError::new(
            Reason::Expired,
            "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter.",
        ),
        e if e.is_expired() => ApiError::new(Reason::Expired, "The resourceVersion for the provided list is too old."),
        e => e,
    }
    };
    let whole_rows = include != IncludeObject::Object && labels.is_empty() && fields.is_empty();
    if format == (Format::Table { beta: false }) && whole_rows {
        // Rows of unchanged objects come from the front's cache (`rows`).
        let page = front.rows.page(&front.registry, info, ns, limit, &start, at).await.map_err(expired)?;
        if wanted > page.resource_version {
            return Err(too_large(wanted, page.resource_version));
        }
        let next = continue_token_for(&page.continue_key, page.resource_version);
        let rows = page.rows.iter().map(|cached| (&cached.row, cached.mod_revision));
        let now = jiff::Timestamp::now();
        let rv = page.resource_version.to_string();
        let table = api::printers::write_table(info, rows, include, now, &rv, &next);
        return Ok(respond::bytes(StatusCode::OK, "application/json", table));
    }
    let page = front.registry.list_raw_at(info, ns, labels, fields, limit, &start, at).await.map_err(expired)?;
    if wanted > page.resource_version {
        return Err(too_large(wanted, page.resource_version));
    }
    let next = continue_token_for(&page.continue_token, page.resource_version);
    respond::list(info, &page.items, page.resource_version, &next, page.remaining, format, include)
}

/// A watch or list that asks for a version the store has not reached.
pub fn too_large(wanted: i64, current: i64) -> ApiError {
    ApiError::new(Reason::Timeout, format!("Timeout: Too large resource version: {wanted}, current: {current}"))
}

/// The `continue` token a client gets: opaque, as Kubernetes' (base64 of
/// `{"v":"meta.k8s.io/v1","rv":<list's version>,"start":<next key>}`).
fn continue_token_for(key: &str, resource_version: i64) -> String {
    use base64::Engine;
    if key.is_empty() {
        return String::new();
    }
    let token = json!({"v": "meta.k8s.io/v1", "rv": resource_version, "start": key});
    base64::engine::general_purpose::URL_SAFE.encode(token.to_string())
}

/// The key a `continue` token resumes after and the revision its list was
/// read at, or a 400 naming what is wrong with it.
fn continue_key(token: &str) -> Result<(String, i64), ApiError> {
    use base64::Engine;
    if token.is_empty() {
        return Ok((String::new(), 0));
    }
    let invalid = |why: &str| ApiError::bad_request(format!("continue key is not valid: {why}"));
    let bytes = base64::engine::general_purpose::URL_SAFE.decode(token).map_err(|e| invalid(&e.to_string()))?;
    let parsed: Value = serde_json::from_slice(&bytes).map_err(|e| invalid(&e.to_string()))?;
    if parsed["v"] != "meta.k8s.io/v1" {
        return Err(invalid("incorrect encoded start resourceVersion (version meta.k8s.io/v1 required)"));
    }
    let rv = parsed["rv"].as_i64().filter(|rv| *rv > 0).ok_or_else(|| invalid("it names no resource version"))?;
    let start = parsed["start"].as_str().ok_or_else(|| invalid("it names no start key"))?;
    Ok((start.to_string(), rv))
}

pub(super) fn invalid_list(field: &str, detail: &str) -> ApiError {
    ApiError::invalid("ListOptions.meta.k8s.io", "", vec![api::FieldError::forbidden(field, detail)])
}
