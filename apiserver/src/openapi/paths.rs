//! The paths: for every served resource, the operations kube-apiserver has for
//! it (list, create, deletecollection, read, replace, patch, delete, the
//! `status` subresource, and the watches), with their parameters. Described
//! once here and written out in both v2's and v3's shape.

use super::schemas::{KindDef, DEFINITIONS, META};
use api::registry::ResourceInfo;
use serde_json::{json, Map, Value};

/// What a parameter's value is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Type {
    String,
    Boolean,
    Integer,
}

impl Type {
    fn name(self) -> &'static str {
        match self {
            Type::String => "string",
            Type::Boolean => "boolean",
            Type::Integer => "integer",
        }
    }
}

/// One query or path parameter.
#[derive(Debug, Clone)]
struct Param {
    name: &'static str,
    in_path: bool,
    ty: Type,
    description: &'static str,
}

const fn query(name: &'static str, ty: Type, description: &'static str) -> Param {
    Param { name, in_path: false, ty, description }
}

const PRETTY: Param = query("pretty", Type::String, "If 'true', the output is indented.");
const DRY_RUN: Param = query(
    "dryRun",
    Type::String,
    "When present, the request is checked but nothing is stored. The only valid value is All.",
);
const FIELD_MANAGER: Param =
    query("fieldManager", Type::String, "The name of the actor making this change, for field ownership.");
const FIELD_VALIDATION: Param = query(
    "fieldValidation",
    Type::String,
    "What the server does with unknown or duplicate fields in the object: Ignore drops them, Warn (the default) \
     drops them and answers with a warning for each, Strict fails the request naming them.",
);
const FORCE: Param = query(
    "force",
    Type::Boolean,
    "Apply requests only: take over the fields other managers own instead of failing on the conflict.",
);
const LIST: &[Param] = &[
    query("allowWatchBookmarks", Type::Boolean, "Watches only: the server may send BOOKMARK events."),
    query("continue", Type::String, "The token from a previous list's metadata.continue, to fetch the next page."),
    query("fieldSelector", Type::String, "Only objects whose fields match, such as metadata.name=web."),
    query("labelSelector", Type::String, "Only objects whose labels match, such as app=web,tier!=db."),
    query("limit", Type::Integer, "The most objects to return in one page."),
    query("resourceVersion", Type::String, "The resource version the list is served at, or the watch starts after."),
    query("resourceVersionMatch", Type::String, "How resourceVersion applies to a list: Exact or NotOlderThan."),
    query("sendInitialEvents", Type::Boolean, "Watches only: start with the current objects as ADDED events."),
    query("timeoutSeconds", Type::Integer, "How long a list or watch call may last."),
    query("watch", Type::Boolean, "Watch for changes instead of listing."),
];
const DELETE: &[Param] = &[
    DRY_RUN,
    query("gracePeriodSeconds", Type::Integer, "Seconds before the object is deleted; 0 deletes at once."),
    query(
        "ignoreStoreReadErrorWithClusterBreakingPotential",
        Type::Boolean,
        "Delete an object that cannot be read from storage (a dangerous last resort).",
    ),
    query("orphanDependents", Type::Boolean, "Deprecated: use propagationPolicy."),
    query("propagationPolicy", Type::String, "What happens to dependents: Orphan, Background or Foreground."),
];

/// What an operation takes as its body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Body {
    None,
    Object,
    Patch,
    DeleteOptions,
}

/// One operation on one path.
#[derive(Debug, Clone)]
struct Operation {
    method: &'static str,
    action: &'static str,
    id: String,
    description: String,
    params: Vec<Param>,
    body: Body,
    /// The definition the success answer is; empty for text (logs, streams).
    answer: String,
    /// Success codes besides 200.
    also: &'static [(&'static str, &'static str)],
    /// The group, version and kind the operation is about.
    gvk: (&'static str, &'static str, &'static str),
}

/// One path with its operations.
#[derive(Debug, Clone)]
pub(super) struct Path {
    pub path: String,
    params: Vec<Param>,
    ops: Vec<Operation>,
}

const PATCH_TYPES: &[&str] = &[
    "application/json-patch+json",
    "application/merge-patch+json",
    "application/strategic-merge-patch+json",
    "application/apply-patch+yaml",
];

/// `/api/v1` or `/apis/apps/v1`.
pub(super) fn prefix(group: &str, version: &str) -> String {
    if group.is_empty() {
        format!("/api/{version}")
    } else {
        format!("/apis/{group}/{version}")
    }
}

/// The paths of one resource.
pub(super) fn resource_paths(r: &ResourceInfo, k: &KindDef) -> Vec<Path> {
    let gv = prefix(r.group, r.version);
    let group = r.group.split('.').next().filter(|g| !g.is_empty()).unwrap_or("core");
    let id_gv = format!("{}{}", capitalize(group), capitalize(r.version));
    let kind = r.kind;
    let ns = if r.namespaced { "Namespaced" } else { "" };
    let scope = if r.namespaced { "namespaces/{namespace}/" } else { "" };
    let scope_params: Vec<Param> =
        if r.namespaced { vec![path_param("namespace", "The namespace of the objects.")] } else { vec![] };
    let name_param = path_param("name", "The name of the object.");
    let op = |method, action, id: String, description: String, params: Vec<Param>, body, answer: &str| Operation {
        method,
        action,
        id,
        description,
        params,
        body,
        answer: answer.to_string(),
        also: &[],
        gvk: (r.group, r.version, kind),
    };
    let writes = vec![DRY_RUN, FIELD_MANAGER, FIELD_VALIDATION];
    let patch = [writes.clone(), vec![FORCE]].concat();
    let status = format!("{META}Status");
    let watch_event = format!("{META}WatchEvent");
    let list = k.list_name();
    let with = |mut params: Vec<Param>, extra: &[Param]| {
        params.extend_from_slice(extra);
        params
    };

    let mut out = vec![];
    let collection = format!("{gv}/{scope}{}", r.plural);
    let mut create = op(
        "post",
        "post",
        format!("create{id_gv}{ns}{kind}"),
        format!("Creates a {kind}."),
        writes.clone(),
        Body::Object,
        &k.name,
    );
    create.also = &[("201", "Created"), ("202", "Accepted")];
    if r.kind == "Binding" {
        out.push(Path { path: collection, params: with(scope_params, &[PRETTY]), ops: vec![create] });
        return out;
    }
    out.push(Path {
        path: collection,
        params: with(scope_params.clone(), &[PRETTY]),
        ops: vec![
            op(
                "get",
                "list",
                format!("list{id_gv}{ns}{kind}"),
                format!("Lists or watches {kind} objects."),
                LIST.to_vec(),
                Body::None,
                &list,
            ),
            create,
            op(
                "delete",
                "deletecollection",
                format!("delete{id_gv}Collection{ns}{kind}"),
                format!("Deletes every {kind} the selectors match."),
                [DELETE, LIST].concat(),
                Body::DeleteOptions,
                &status,
            ),
        ],
    });
    let item = format!("{gv}/{scope}{}/{{name}}", r.plural);
    let item_params = with(vec![name_param.clone()], &scope_params);
    let mut replace = op(
        "put",
        "put",
        format!("replace{id_gv}{ns}{kind}"),
        format!("Replaces the named {kind}."),
        writes.clone(),
        Body::Object,
        &k.name,
    );
    replace.also = &[("201", "Created")];
    let mut patch_op = op(
        "patch",
        "patch",
        format!("patch{id_gv}{ns}{kind}"),
        format!("Partially updates the named {kind}."),
        patch.clone(),
        Body::Patch,
        &k.name,
    );
    patch_op.also = &[("201", "Created")];
    let mut delete = op(
        "delete",
        "delete",
        format!("delete{id_gv}{ns}{kind}"),
        format!("Deletes the named {kind}."),
        DELETE.to_vec(),
        Body::DeleteOptions,
        &status,
    );
    delete.also = &[("202", "Accepted")];
    out.push(Path {
        path: item.clone(),
        params: with(item_params.clone(), &[PRETTY]),
        ops: vec![
            op(
                "get",
                "get",
                format!("read{id_gv}{ns}{kind}"),
                format!("Reads the named {kind}."),
                vec![],
                Body::None,
                &k.name,
            ),
            replace.clone(),
            patch_op.clone(),
            delete,
        ],
    });
    if r.has_status {
        let mut replace = replace;
        replace.id.push_str("Status");
        replace.description = format!("Replaces the status of the named {kind}.");
        let mut patch_op = patch_op;
        patch_op.id.push_str("Status");
        patch_op.description = format!("Partially updates the status of the named {kind}.");
        out.push(Path {
            path: format!("{item}/status"),
            params: with(item_params.clone(), &[PRETTY]),
            ops: vec![
                op(
                    "get",
                    "get",
                    format!("read{id_gv}{ns}{kind}Status"),
                    format!("Reads the status of the named {kind}."),
                    vec![],
                    Body::None,
                    &k.name,
                ),
                replace,
                patch_op,
            ],
        });
    }
    out.extend(subresources(r, &item, &item_params, &id_gv, ns, &patch));
    let watch_params = with(LIST.to_vec(), &[PRETTY]);
    if r.namespaced {
        out.push(Path {
            path: format!("{gv}/{}", r.plural),
            params: with(LIST.to_vec(), &[PRETTY]),
            ops: vec![op(
                "get",
                "list",
                format!("list{id_gv}{kind}ForAllNamespaces"),
                format!("Lists or watches {kind} objects in every namespace."),
                vec![],
                Body::None,
                &list,
            )],
        });
        out.push(Path {
            path: format!("{gv}/watch/{}", r.plural),
            params: watch_params.clone(),
            ops: vec![op(
                "get",
                "watchlist",
                format!("watch{id_gv}{kind}ListForAllNamespaces"),
                format!("Watches {kind} objects in every namespace. Deprecated: list with watch=true instead."),
                vec![],
                Body::None,
                &watch_event,
            )],
        });
    }
    out.push(Path {
        path: format!("{gv}/watch/{scope}{}", r.plural),
        params: with(scope_params.clone(), &watch_params),
        ops: vec![op(
            "get",
            "watchlist",
            format!("watch{id_gv}{ns}{kind}List"),
            format!("Watches {kind} objects. Deprecated: list with watch=true instead."),
            vec![],
            Body::None,
            &watch_event,
        )],
    });
    out.push(Path {
        path: format!("{gv}/watch/{scope}{}/{{name}}", r.plural),
        params: with(item_params, &watch_params),
        ops: vec![op(
            "get",
            "watch",
            format!("watch{id_gv}{ns}{kind}"),
            format!("Watches the named {kind}. Deprecated: list with watch=true and a fieldSelector instead."),
            vec![],
            Body::None,
            &watch_event,
        )],
    });
    out
}

/// The subresources besides `status` that kubelab serves for `r` (as its
/// discovery lists them): `scale`, a pod's `binding`, `log`, `exec`, `attach`
/// and `portforward`, a namespace's `finalize`.
fn subresources(
    r: &ResourceInfo,
    item: &str,
    item_params: &[Param],
    id_gv: &str,
    ns: &str,
    patch: &[Param],
) -> Vec<Path> {
    let kind = r.kind;
    let params = [item_params, &[PRETTY]].concat();
    let op = |method, action, id: String, description: String, params: Vec<Param>, body, answer: &str, gvk| Operation {
        method,
        action,
        id,
        description,
        params,
        body,
        answer: answer.to_string(),
        also: &[],
        gvk,
    };
    let writes = vec![DRY_RUN, FIELD_MANAGER, FIELD_VALIDATION];
    let mut out = vec![];
    match (r.group, r.plural) {
        ("", "replicationcontrollers")
        | ("apps", "deployments")
        | ("apps", "replicasets")
        | ("apps", "statefulsets") => {
            let scale = "io.k8s.api.autoscaling.v1.Scale";
            let gvk = ("autoscaling", "v1", "Scale");
            out.push(Path {
                path: format!("{item}/scale"),
                params,
                ops: vec![
                    op(
                        "get",
                        "get",
                        format!("read{id_gv}{ns}{kind}Scale"),
                        format!("Reads the scale of the named {kind}."),
                        vec![],
                        Body::None,
                        scale,
                        gvk,
                    ),
                    op(
                        "put",
                        "put",
                        format!("replace{id_gv}{ns}{kind}Scale"),
                        format!("Replaces the scale of the named {kind}."),
                        writes,
                        Body::Object,
                        scale,
                        gvk,
                    ),
                    op(
                        "patch",
                        "patch",
                        format!("patch{id_gv}{ns}{kind}Scale"),
                        format!("Partially updates the scale of the named {kind}."),
                        patch.to_vec(),
                        Body::Patch,
                        scale,
                        gvk,
                    ),
                ],
            });
        }
        ("", "namespaces") => out.push(Path {
            path: format!("{item}/finalize"),
            params,
            ops: vec![op(
                "put",
                "put",
                format!("replace{id_gv}NamespaceFinalize"),
                "Replaces the finalizers of the named Namespace's spec.".into(),
                writes,
                Body::Object,
                &format!("{}{kind}", super::schemas::CORE),
                ("", "v1", "Namespace"),
            )],
        }),
        ("", "pods") => {
            out.push(Path {
                path: format!("{item}/binding"),
                params: params.clone(),
                ops: vec![op(
                    "post",
                    "post",
                    format!("create{id_gv}{ns}PodBinding"),
                    "Binds the named Pod to a node.".into(),
                    writes,
                    Body::Object,
                    &format!("{}Binding", super::schemas::CORE),
                    ("", "v1", "Binding"),
                )],
            });
            out.push(Path {
                path: format!("{item}/log"),
                params: [item_params, POD_LOG].concat(),
                ops: vec![op(
                    "get",
                    "get",
                    format!("read{id_gv}{ns}PodLog"),
                    "Reads the log of a container of the named Pod.".into(),
                    vec![],
                    Body::None,
                    "",
                    ("", "v1", "Pod"),
                )],
            });
            for (sub, options, extra) in [
                ("attach", "PodAttachOptions", STREAMS),
                ("exec", "PodExecOptions", STREAMS),
                ("portforward", "PodPortForwardOptions", PORTS),
            ] {
                let mut options_params = extra.to_vec();
                if sub == "exec" {
                    options_params.insert(0, query("command", Type::String, "The command to run, one argument each."));
                }
                let name = capitalize(sub).replace("forward", "Forward");
                let connect = |method: &'static str| {
                    let verb = capitalize(method);
                    op(
                        method,
                        "connect",
                        format!("connect{verb}{id_gv}{ns}Pod{name}"),
                        format!("Connects to the {sub} stream of the named Pod."),
                        vec![],
                        Body::None,
                        "",
                        ("", "v1", options),
                    )
                };
                out.push(Path {
                    path: format!("{item}/{sub}"),
                    params: [item_params, &options_params].concat(),
                    ops: vec![connect("get"), connect("post")],
                });
            }
        }
        _ => {}
    }
    out
}

const STREAMS: &[Param] = &[
    query("container", Type::String, "The container; may be left out for a pod with one container."),
    query("stderr", Type::Boolean, "Stream the container's standard error."),
    query("stdin", Type::Boolean, "Stream to the container's standard input."),
    query("stdout", Type::Boolean, "Stream the container's standard output."),
    query("tty", Type::Boolean, "Give the container a terminal."),
];
const PORTS: &[Param] = &[query("ports", Type::Integer, "The pod ports to forward.")];
const POD_LOG: &[Param] = &[
    query("container", Type::String, "The container; may be left out for a pod with one container."),
    query("follow", Type::Boolean, "Keep streaming the log as the container writes it."),
    query("insecureSkipTLSVerifyBackend", Type::Boolean, "Do not verify the kubelet's serving certificate."),
    query("limitBytes", Type::Integer, "Stop after this many bytes."),
    PRETTY,
    query("previous", Type::Boolean, "The log of the container's previous instance."),
    query("sinceSeconds", Type::Integer, "Only lines written in the last this many seconds."),
    query("sinceTime", Type::String, "Only lines written after this RFC 3339 time."),
    query("stream", Type::String, "Which stream: All, Stdout or Stderr."),
    query("tailLines", Type::Integer, "Only this many lines from the end."),
    query("timestamps", Type::Boolean, "Begin each line with its RFC 3339 timestamp."),
];

fn path_param(name: &'static str, description: &'static str) -> Param {
    Param { name, in_path: true, ty: Type::String, description }
}

fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    c.next().map(|f| f.to_uppercase().chain(c).collect()).unwrap_or_default()
}

impl Path {
    /// The path item as OpenAPI v2 writes it.
    pub fn v2(&self, group: &str, version: &str) -> Value {
        let mut item = Map::new();
        for op in &self.ops {
            let mut params: Vec<Value> = op.params.iter().map(param_v2).collect();
            let body = match op.body {
                Body::None => None,
                Body::Object => Some(op.answer.clone()),
                Body::Patch => Some(format!("{META}Patch")),
                Body::DeleteOptions => Some(format!("{META}DeleteOptions")),
            };
            if let Some(def) = body {
                params.insert(
                    0,
                    json!({"name": "body", "in": "body", "required": op.body != Body::DeleteOptions,
                    "schema": {"$ref": format!("{DEFINITIONS}{def}")}}),
                );
            }
            let mut responses = Map::new();
            let answer = answer_schema(op, DEFINITIONS);
            responses.insert("200".into(), json!({"description": "OK", "schema": answer}));
            for (code, text) in op.also {
                responses.insert(code.to_string(), json!({"description": text, "schema": answer}));
            }
            responses.insert("401".into(), json!({"description": "Unauthorized"}));
            let mut o = common(op, group, version);
            o.insert("parameters".into(), Value::Array(params));
            o.insert("responses".into(), Value::Object(responses));
            o.insert("consumes".into(), json!(if op.body == Body::Patch { PATCH_TYPES } else { &["*/*"] }));
            o.insert("produces".into(), json!(produces(op)));
            o.insert("schemes".into(), json!(["https"]));
            item.insert(op.method.into(), Value::Object(o));
        }
        item.insert("parameters".into(), Value::Array(self.params.iter().map(param_v2).collect()));
        Value::Object(item)
    }

    /// The path item as OpenAPI v3 writes it; references point at
    /// `#/components/schemas/`.
    pub fn v3(&self, group: &str, version: &str) -> Value {
        let schema_ref = |def: &str| json!({"$ref": format!("{}{def}", super::COMPONENTS)});
        let mut item = Map::new();
        for op in &self.ops {
            let mut o = common(op, group, version);
            o.insert("parameters".into(), Value::Array(op.params.iter().map(param_v3).collect()));
            let body = match op.body {
                Body::None => None,
                Body::Object => Some((vec!["*/*"], schema_ref(&op.answer))),
                Body::Patch => Some((PATCH_TYPES.to_vec(), schema_ref(&format!("{META}Patch")))),
                Body::DeleteOptions => Some((vec!["*/*"], schema_ref(&format!("{META}DeleteOptions")))),
            };
            if let Some((types, schema)) = body {
                let content: Map<String, Value> =
                    types.iter().map(|t| (t.to_string(), json!({"schema": schema}))).collect();
                o.insert("requestBody".into(), json!({"content": content, "required": op.body != Body::DeleteOptions}));
            }
            let answer = answer_schema(op, super::COMPONENTS);
            let content: Map<String, Value> =
                produces(op).iter().map(|t| (t.to_string(), json!({"schema": answer}))).collect();
            let mut responses = Map::new();
            responses.insert("200".into(), json!({"description": "OK", "content": content}));
            for (code, text) in op.also {
                responses.insert(code.to_string(), json!({"description": text, "content": content}));
            }
            responses.insert("401".into(), json!({"description": "Unauthorized"}));
            o.insert("responses".into(), Value::Object(responses));
            item.insert(op.method.into(), Value::Object(o));
        }
        item.insert("parameters".into(), Value::Array(self.params.iter().map(param_v3).collect()));
        Value::Object(item)
    }
}

/// What both versions write for an operation.
fn common(op: &Operation, group: &str, version: &str) -> Map<String, Value> {
    let tag = format!("{}_{version}", if group.is_empty() { "core" } else { group.split('.').next().unwrap_or(group) });
    let mut o = Map::new();
    o.insert("description".into(), json!(op.description));
    o.insert("operationId".into(), json!(op.id));
    o.insert("tags".into(), json!([tag]));
    o.insert("x-kubernetes-action".into(), json!(op.action));
    let (group, version, kind) = op.gvk;
    o.insert("x-kubernetes-group-version-kind".into(), json!({"group": group, "kind": kind, "version": version}));
    o
}

/// The schema of an operation's success answer, references starting with `refs`.
fn answer_schema(op: &Operation, refs: &str) -> Value {
    if op.answer.is_empty() {
        json!({"type": "string"})
    } else {
        json!({"$ref": format!("{refs}{}", op.answer)})
    }
}

fn produces(op: &Operation) -> &'static [&'static str] {
    match op.action {
        "connect" => &["*/*"],
        _ if op.answer.is_empty() => &["text/plain", "application/json", "application/yaml"],
        "list" | "watch" | "watchlist" => &["application/json", "application/yaml", "application/json;stream=watch"],
        _ => &["application/json", "application/yaml"],
    }
}

fn param_v2(p: &Param) -> Value {
    let mut v = json!({"name": p.name, "in": if p.in_path { "path" } else { "query" }, "type": p.ty.name(),
        "description": p.description, "uniqueItems": true});
    if p.in_path {
        v["required"] = json!(true);
    }
    v
}

fn param_v3(p: &Param) -> Value {
    let mut v = json!({"name": p.name, "in": if p.in_path { "path" } else { "query" }, "description": p.description,
        "schema": {"type": p.ty.name(), "uniqueItems": true}});
    if p.in_path {
        v["required"] = json!(true);
    }
    v
}
