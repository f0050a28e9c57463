//! The OpenAPI schema of each kind (from k8s-openapi): unknown-field detection,
//! a cheap type check, and `kubectl explain`.
//!
//! Each kind's schema is generated once with schemars (k8s-openapi carries
//! Kubernetes' own descriptions) and compiled into a small tree of nodes, so that
//! checking an object is a walk over its JSON with hash lookups, no schema work.
//!
//! The same walk tells whether the object certainly decodes as its k8s-openapi
//! type: every field null or of the JSON type its schema gives. Decoding into
//! the typed struct costs an allocation per string, about a sixth of a create's
//! apiserver CPU; with this answer the decoder runs only for objects that may
//! not fit, to name what does not.

use crate::error::{ApiError, Result};
use crate::registry::{ResourceInfo, RESOURCES};
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::{LazyLock, OnceLock};

const QUANTITY: &str = "io.k8s.apimachinery.pkg.api.resource.Quantity";
const TIME: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.Time";
const MICRO_TIME: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.MicroTime";
/// Free-form JSON in k8s-openapi too (`FieldsV1(serde_json::Value)`).
const FIELDS_V1: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.FieldsV1";

/// Calls `$body` with the k8s-openapi type of `$kind` bound to the type alias `$t`.
/// Unknown kinds evaluate `$none`.
macro_rules! with_kind_type {
    ($kind:expr, $t:ident => $body:expr, _ => $none:expr) => {{
        use k8s_openapi::api::{
            apps::v1 as apps, batch::v1 as batch, coordination::v1 as coord, core::v1 as core, storage::v1 as storage,
        };
        match $kind {
            "Binding" => {
                type $t = core::Binding;
                $body
            }
            "ConfigMap" => {
                type $t = core::ConfigMap;
                $body
            }
            "Endpoints" => {
                type $t = core::Endpoints;
                $body
            }
            "Event" => {
                type $t = core::Event;
                $body
            }
            "Namespace" => {
                type $t = core::Namespace;
                $body
            }
            "Node" => {
                type $t = core::Node;
                $body
            }
            "PersistentVolume" => {
                type $t = core::PersistentVolume;
                $body
            }
            "PersistentVolumeClaim" => {
                type $t = core::PersistentVolumeClaim;
                $body
            }
            "Pod" => {
                type $t = core::Pod;
                $body
            }
            "ReplicationController" => {
                type $t = core::ReplicationController;
                $body
            }
            "Secret" => {
                type $t = core::Secret;
                $body
            }
            "Service" => {
                type $t = core::Service;
                $body
            }
            "DaemonSet" => {
                type $t = apps::DaemonSet;
                $body
            }
            "Deployment" => {
                type $t = apps::Deployment;
                $body
            }
            "ReplicaSet" => {
                type $t = apps::ReplicaSet;
                $body
            }
            "StatefulSet" => {
                type $t = apps::StatefulSet;
                $body
            }
            "ControllerRevision" => {
                type $t = apps::ControllerRevision;
                $body
            }
            "CronJob" => {
                type $t = batch::CronJob;
                $body
            }
            "Job" => {
                type $t = batch::Job;
                $body
            }
            "Lease" => {
                type $t = coord::Lease;
                $body
            }
            "StorageClass" => {
                type $t = storage::StorageClass;
                $body
            }
            _ => $none,
        }
    }};
}
pub(crate) use with_kind_type;

/// A compiled schema node: just what the walk needs.
#[derive(Debug)]
enum Node {
    /// Free-form (no declared properties): no field below is unknown. `typed`
    /// says whether the k8s-openapi type takes any JSON there too.
    Any {
        typed: bool,
    },
    Leaf(Scalar),
    /// A resource quantity (`500m`, `1Gi`).
    Quantity,
    Object(HashMap<String, usize>),
    Map(usize),
    Array(usize),
    /// A `$ref`'s slot, pointing at the compiled definition.
    Alias(usize),
}

/// The scalar types k8s-openapi's fields have, as far as the type check goes.
#[derive(Debug, Clone, Copy)]
enum Scalar {
    String,
    Boolean,
    Int32,
    Int64,
    Number,
    /// An int32 or a string.
    IntOrString,
    Time,
    MicroTime,
    /// A type the check does not know: the decoder decides.
    Other,
}

impl Scalar {
    fn of(s: &Value) -> Scalar {
        if s.get("x-kubernetes-int-or-string").is_some() {
            return Scalar::IntOrString;
        }
        let format = s.get("format").and_then(Value::as_str);
        match (s.get("type").and_then(Value::as_str), format) {
            (Some("string"), None) => Scalar::String,
            (Some("boolean"), None) => Scalar::Boolean,
            (Some("integer"), Some("int32")) => Scalar::Int32,
            (Some("integer"), Some("int64")) => Scalar::Int64,
            (Some("number"), None | Some("double")) => Scalar::Number,
            _ => Scalar::Other,
        }
    }

    /// Whether serde decodes `v` as this type (a null is not: a field may be
    /// null, an item of a list or map may not).
    fn accepts(self, v: &Value) -> bool {
        use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, Time};
        use serde::Deserialize;
        let int32 = |v: &Value| v.as_i64().is_some_and(|n| i32::try_from(n).is_ok());
        match self {
            Scalar::String => v.is_string(),
            Scalar::Boolean => v.is_boolean(),
            Scalar::Int32 => int32(v),
            Scalar::Int64 => v.is_i64(),
            Scalar::Number => v.is_number(),
            Scalar::IntOrString => v.is_string() || int32(v),
            Scalar::Time => v.is_string() && Time::deserialize(v).is_ok(),
            Scalar::MicroTime => v.is_string() && MicroTime::deserialize(v).is_ok(),
            Scalar::Other => false,
        }
    }
}

/// What one walk over an object found.
#[derive(Debug, Default)]
pub struct Inspection {
    /// Paths of fields the schema does not know.
    pub unknown: Vec<String>,
    /// Every resource quantity, with its path, for the decoder to parse.
    pub quantities: Vec<(String, String)>,
    /// The object certainly decodes as the kind's k8s-openapi type (unknown
    /// fields aside). False means it may not: only decoding can tell.
    pub typed: bool,
}

/// One kind's schema: the raw JSON Schema (for explain) and its compiled form.
struct KindSchema {
    raw: Value,
    nodes: Vec<Node>,
    root: usize,
}

static CACHE: LazyLock<Vec<OnceLock<Option<KindSchema>>>> =
    LazyLock::new(|| RESOURCES.iter().map(|_| OnceLock::new()).collect());

fn kind_schema(kind: &str) -> Option<&'static KindSchema> {
    let idx = RESOURCES.iter().position(|r| r.kind == kind)?;
    CACHE[idx]
        .get_or_init(|| {
            let raw = with_kind_type!(kind, T => generate::<T>(), _ => return None);
            let mut c =
                Compiler { defs: raw.get("$defs").and_then(Value::as_object), nodes: vec![], refs: HashMap::new() };
            let root = c.compile(&raw);
            let nodes = c.nodes;
            Some(KindSchema { raw, nodes, root })
        })
        .as_ref()
}

fn generate<T: schemars::JsonSchema>() -> Value {
    schemars::SchemaGenerator::default().into_root_schema_for::<T>().as_value().clone()
}

struct Compiler<'a> {
    defs: Option<&'a Map<String, Value>>,
    nodes: Vec<Node>,
    refs: HashMap<String, usize>,
}

impl Compiler<'_> {
    fn push(&mut self, n: Node) -> usize {
        self.nodes.push(n);
        self.nodes.len() - 1
    }

    fn compile(&mut self, s: &Value) -> usize {
        if let Some(r) = s.get("$ref").and_then(Value::as_str) {
            let name = r.rsplit('/').next().unwrap_or(r).to_string();
            if let Some(&i) = self.refs.get(&name) {
                return i;
            }
            let known = match name.as_str() {
                QUANTITY => Some(Node::Quantity),
                TIME => Some(Node::Leaf(Scalar::Time)),
                MICRO_TIME => Some(Node::Leaf(Scalar::MicroTime)),
                FIELDS_V1 => Some(Node::Any { typed: true }),
                _ => None,
            };
            if let Some(node) = known {
                let i = self.push(node);
                self.refs.insert(name, i);
                return i;
            }
            // Reserve the slot first so recursive types terminate.
            let slot = self.push(Node::Any { typed: false });
            self.refs.insert(name.clone(), slot);
            if let Some(def) = self.defs.and_then(|d| d.get(&name)) {
                let compiled = self.compile(def);
                self.nodes[slot] = Node::Alias(compiled);
            }
            return slot;
        }
        if s.get("x-kubernetes-preserve-unknown-fields").is_some() {
            return self.push(Node::Any { typed: false });
        }
        if let Some(props) = s.get("properties").and_then(Value::as_object) {
            let mut map = HashMap::with_capacity(props.len());
            for (k, v) in props {
                map.insert(k.clone(), self.compile(v));
            }
            return self.push(Node::Object(map));
        }
        for key in ["anyOf", "oneOf", "allOf"] {
            if let Some(alts) = s.get(key).and_then(Value::as_array) {
                // k8s-openapi does not use these; treat the first object-like alternative as the shape.
                if let Some(first) = alts.iter().find(|a| a.get("type").and_then(Value::as_str) != Some("null")) {
                    return self.compile(first);
                }
            }
        }
        if let Some(ap) = s.get("additionalProperties").filter(|v| v.is_object()) {
            let child = self.compile(ap);
            return self.push(Node::Map(child));
        }
        if let Some(items) = s.get("items") {
            let child = self.compile(items);
            return self.push(Node::Array(child));
        }
        match s.get("type").and_then(Value::as_str) {
            Some("object") | None if s.get("x-kubernetes-int-or-string").is_none() => {
                self.push(Node::Any { typed: false })
            }
            _ => self.push(Node::Leaf(Scalar::of(s))),
        }
    }
}

impl KindSchema {
    /// Walks `v` against the schema node, with `path` the field path so far:
    /// one buffer grown and cut back per field, since every object field is
    /// visited on every write and most paths are never reported. Clears
    /// `found.typed` at the first value its type may not decode.
    fn walk(&self, node: usize, v: &Value, path: &mut String, found: &mut Inspection) {
        let mut node = node;
        while let Node::Alias(next) = self.nodes[node] {
            node = next;
        }
        let len = path.len();
        match (&self.nodes[node], v) {
            (Node::Object(props), Value::Object(m)) => {
                for (k, child) in m {
                    if !path.is_empty() {
                        path.push('.');
                    }
                    path.push_str(k);
                    match props.get(k) {
                        // k8s-openapi takes a null (or no value) for any field,
                        // required ones too: they default.
                        Some(_) if child.is_null() => {}
                        Some(&i) => self.walk(i, child, path, found),
                        None => found.unknown.push(path.clone()),
                    }
                    path.truncate(len);
                }
            }
            (Node::Map(i), Value::Object(m)) => {
                for (k, child) in m {
                    path.push('.');
                    path.push_str(k);
                    self.walk(*i, child, path, found);
                    path.truncate(len);
                }
            }
            (Node::Array(i), Value::Array(items)) => {
                for (n, child) in items.iter().enumerate() {
                    let _ = write!(path, "[{n}]");
                    self.walk(*i, child, path, found);
                    path.truncate(len);
                }
            }
            (Node::Quantity, Value::String(s)) => found.quantities.push((path.clone(), s.clone())),
            (Node::Leaf(scalar), v) if scalar.accepts(v) => {}
            (Node::Any { typed: true }, _) => {}
            _ => found.typed = false,
        }
    }

    fn check(&self, obj: &Value) -> Inspection {
        let mut found = Inspection { typed: true, ..Default::default() };
        self.walk(self.root, obj, &mut String::new(), &mut found);
        let unknown = found.unknown.len();
        found.unknown.retain(|p| !matches!(p.as_str(), "apiVersion" | "kind" | "metadata" | "status"));
        // Such a field the schema leaves out was not checked either.
        found.typed &= found.unknown.len() == unknown;
        found
    }
}

/// Paths of fields the kind's schema does not know: `spec.containers[0].imagee`.
pub fn unknown_fields(info: &ResourceInfo, obj: &Value) -> Vec<String> {
    inspect(info, obj).unknown
}

/// Every resource quantity in the object, with its path, for the decoder to parse.
pub fn quantities(info: &ResourceInfo, obj: &Value) -> Vec<(String, String)> {
    inspect(info, obj).quantities
}

/// Unknown fields, quantities and the type check in one walk (what strict
/// decoding needs). A kind without a schema is not `typed`.
pub fn inspect(info: &ResourceInfo, obj: &Value) -> Inspection {
    kind_schema(info.kind).map(|s| s.check(obj)).unwrap_or_default()
}

/// `kubectl explain` text for `path` below the kind (`[]` = the kind itself,
/// `["spec", "containers"]`), with `--recursive` listing nested fields.
pub fn explain(info: &ResourceInfo, path: &[&str], recursive: bool) -> Result<String> {
    let ks =
        kind_schema(info.kind).ok_or_else(|| ApiError::bad_request(format!("no schema for kind {:?}", info.kind)))?;
    let ex = Explainer { defs: ks.raw.get("$defs").and_then(Value::as_object) };
    let mut schema = &ks.raw;
    for field in path {
        let kind = ex.underlying(schema);
        schema = kind
            .get("properties")
            .and_then(|p| p.get(*field))
            .ok_or_else(|| ApiError::bad_request(format!("field {field:?} does not exist")))?;
    }
    let mut out = format!("KIND:     {}\nVERSION:  {}\n\n", info.kind, info.api_version());
    ex.model(&mut out, schema, path.last().copied().unwrap_or(""), path.is_empty(), recursive);
    Ok(out)
}

struct Explainer<'a> {
    defs: Option<&'a Map<String, Value>>,
}

const FIELD_INDENT: usize = 3;
const DESC_INDENT: usize = 5;

impl<'a> Explainer<'a> {
    fn deref(&self, s: &'a Value) -> &'a Value {
        match s.get("$ref").and_then(Value::as_str) {
            Some(r) => self.defs.and_then(|d| d.get(r.rsplit('/').next().unwrap_or(r))).unwrap_or(s),
            None => s,
        }
    }

    fn is_map(s: &Value) -> bool {
        s.get("properties").is_none() && s.get("additionalProperties").is_some_and(Value::is_object)
    }

    /// Follows references, arrays and maps down to the schema whose fields a path names.
    fn underlying(&self, mut s: &'a Value) -> &'a Value {
        for _ in 0..32 {
            let next = if s.get("$ref").is_some() {
                self.deref(s)
            } else if let Some(items) = s.get("items") {
                items
            } else if Self::is_map(s) {
                &s["additionalProperties"]
            } else {
                return s;
            };
            s = next;
        }
        s
    }

    /// kubectl's type names: `string`, `integer`, `Object`, `[]Object`, `map[string]string`.
    fn type_name(&self, s: &Value) -> String {
        let s = self.deref(s);
        if s.get("x-kubernetes-int-or-string").is_some() {
            return "string".into();
        }
        if let Some(items) = s.get("items") {
            return format!("[]{}", self.type_name(items));
        }
        if Self::is_map(s) {
            return format!("map[string]{}", self.type_name(&s["additionalProperties"]));
        }
        match s.get("type").and_then(Value::as_str) {
            Some("object") | None => "Object".into(),
            Some(t) => t.into(),
        }
    }

    fn is_kind(s: &Value) -> bool {
        s.get("properties").is_some() || s.get("type").and_then(Value::as_str) == Some("object") && !Self::is_map(s)
    }

    /// kubectl's model printer: collects descriptions through references,
    /// arrays and maps, then prints either a resource with its fields or a field.
    fn model(&self, out: &mut String, mut s: &'a Value, name: &str, top: bool, recursive: bool) {
        let mut descs: Vec<&str> = Vec::new();
        let mut ty = String::new();
        let desc_of = |v: &'a Value| v.get("description").and_then(Value::as_str).unwrap_or("");
        for _ in 0..32 {
            if s.get("$ref").is_some() {
                descs.push(desc_of(s));
                s = self.deref(s);
            } else if s.get("items").is_some() || Self::is_map(s) {
                descs.push(desc_of(s));
                if ty.is_empty() {
                    ty = self.type_name(s);
                }
                s = if s.get("items").is_some() { &s["items"] } else { &s["additionalProperties"] };
            } else {
                break;
            }
        }
        descs.push(desc_of(s));
        if Self::is_kind(s) {
            if ty.is_empty() {
                ty = "Object".into();
            }
            if !name.is_empty() {
                out.push_str(&format!("RESOURCE: {name} <{ty}>\n\n"));
            }
            self.description(out, &descs);
            out.push_str("\nFIELDS:\n");
            if recursive {
                let mut seen = Vec::new();
                self.recursive_fields(out, s, FIELD_INDENT, &mut seen);
            } else {
                self.fields(out, s, top);
            }
        } else {
            if ty.is_empty() {
                ty = self.type_name(s);
            }
            out.push_str(&format!("FIELD:    {name} <{ty}>\n\n"));
            self.description(out, &descs);
        }
    }

    fn description(&self, out: &mut String, descs: &[&str]) {
        out.push_str("DESCRIPTION:\n");
        let mut empty = true;
        for (i, d) in descs.iter().enumerate() {
            if d.is_empty() {
                continue;
            }
            if i != 0 && !empty {
                out.push('\n');
            }
            empty = false;
            write_wrapped(out, d, DESC_INDENT);
        }
        if empty {
            write_wrapped(out, "<empty>", DESC_INDENT);
        }
    }

    fn fields(&self, out: &mut String, kind: &Value, top: bool) {
        let required: Vec<&str> =
            kind.get("required").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str).collect();
        let Some(props) = kind.get("properties").and_then(Value::as_object) else { return };
        for (i, (key, prop)) in props.iter().enumerate() {
            // k8s-openapi marks `metadata` required on resources because the Rust
            // field is not optional; Kubernetes' own schema does not.
            let req = required.contains(&key.as_str()) && !(top && key == "metadata");
            out.push_str(&format!(
                "{}{key}\t<{}>{}\n",
                " ".repeat(FIELD_INDENT),
                self.type_name(prop),
                if req { " -required-" } else { "" }
            ));
            let d = prop.get("description").and_then(Value::as_str).unwrap_or("");
            write_wrapped(out, d, FIELD_INDENT + 2);
            if i + 1 != props.len() {
                out.push('\n');
            }
        }
    }

    fn recursive_fields(&self, out: &mut String, kind: &'a Value, ind: usize, seen: &mut Vec<&'a str>) {
        let Some(props) = kind.get("properties").and_then(Value::as_object) else { return };
        for (key, prop) in props {
            out.push_str(&format!("{}{key}\t<{}>\n", " ".repeat(ind), self.type_name(prop)));
            // Stop at a type already being expanded above, so recursive types end.
            let refname = self.ref_chain_name(prop);
            if refname.is_some_and(|r| seen.contains(&r)) {
                continue;
            }
            let sub = self.underlying(prop);
            if sub.get("properties").is_some() {
                if let Some(r) = refname {
                    seen.push(r);
                }
                self.recursive_fields(out, sub, ind + FIELD_INDENT, seen);
                if refname.is_some() {
                    seen.pop();
                }
            }
        }
    }

    /// The definition a property ends up at (through arrays and maps), if any.
    fn ref_chain_name(&self, mut s: &'a Value) -> Option<&'a str> {
        for _ in 0..8 {
            if let Some(r) = s.get("$ref").and_then(Value::as_str) {
                return Some(r);
            }
            s = if let Some(items) = s.get("items") {
                items
            } else if Self::is_map(s) {
                &s["additionalProperties"]
            } else {
                return None;
            };
        }
        None
    }
}

/// Writes `text` word-wrapped to 80 columns at `indent`, keeping paragraph breaks
/// and indented (code) lines as kubectl does. Blank lines carry no indent.
fn write_wrapped(out: &mut String, text: &str, indent: usize) {
    let width = 80usize.saturating_sub(indent);
    let pad = " ".repeat(indent);
    let mut lines: Vec<String> = Vec::new();
    let mut cur = String::new();
    let flush = |cur: &mut String, lines: &mut Vec<String>| {
        if !cur.is_empty() {
            lines.push(std::mem::take(cur));
        }
    };
    for raw in text.split('\n') {
        if raw.trim().is_empty() {
            flush(&mut cur, &mut lines);
            lines.push(String::new());
            continue;
        }
        if raw.starts_with("  ") || raw.starts_with('\t') {
            flush(&mut cur, &mut lines);
            lines.push(raw.to_string());
            continue;
        }
        for word in raw.split_whitespace() {
            if !cur.is_empty() && cur.len() + 1 + word.len() > width {
                flush(&mut cur, &mut lines);
            }
            if !cur.is_empty() {
                cur.push(' ');
            }
            cur.push_str(word);
        }
    }
    flush(&mut cur, &mut lines);
    for line in lines {
        if !line.is_empty() {
            out.push_str(&pad);
            out.push_str(&line);
        }
        out.push('\n');
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::lookup;
    use serde_json::json;
    use std::time::Instant;

    #[test]
    fn unknown_fields_are_found_with_their_paths() {
        let pods = lookup("pods").unwrap();
        let pod = json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "a", "labelz": {}, "labels": {"any-key": "v"}, "creationTimestamp": null},
            "spec": {"containers": [{"name": "a", "imagee": "x", "ports": [{"containerPort": 80, "hostport": 1}],
                                     "resources": {"limits": {"cpu": "1"}},
                                     "livenessProbe": {"httpGet": {"port": "http", "path": "/"}}}],
                     "nodeSelector": {"disk": "ssd"}},
            "status": {}
        });
        assert_eq!(
            unknown_fields(pods, &pod),
            vec!["metadata.labelz", "spec.containers[0].imagee", "spec.containers[0].ports[0].hostport"]
        );
        let deploy = lookup("deploy").unwrap();
        let d = json!({"spec": {"template": {"spec": {"containers": [{"name": "a", "image": "b"}]}, "metdata": {}},
                                "strategy": {"rollingUpdate": {"maxSurge": "25%"}}}});
        assert_eq!(unknown_fields(deploy, &d), vec!["spec.template.metdata"]);
        assert_eq!(quantities(pods, &pod), vec![("spec.containers[0].resources.limits.cpu".into(), "1".into())]);
    }

    #[test]
    fn checking_is_fast_once_compiled() {
        let pods = lookup("pods").unwrap();
        let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "a", "labels": {"app": "x"}},
                         "spec": {"containers": [{"name": "a", "image": "b", "ports": [{"containerPort": 80}]}]}});
        unknown_fields(pods, &pod);
        let start = Instant::now();
        for _ in 0..10_000 {
            assert!(unknown_fields(pods, &pod).is_empty());
        }
        // Debug builds are slow; this still catches regenerating the schema per call.
        assert!(start.elapsed().as_secs_f64() < 5.0, "{:?}", start.elapsed());
    }

    #[test]
    fn explain_prints_a_kind_like_kubectl() {
        let text = explain(lookup("pods").unwrap(), &[], false).unwrap();
        let head = "KIND:     Pod\nVERSION:  v1\n\nDESCRIPTION:\n     Pod is a collection of containers that can run \
                    on a host. This resource is\n     created by clients and scheduled onto hosts.\n\nFIELDS:\n   \
                    apiVersion\t<string>\n     APIVersion defines the versioned schema of this representation of \
                    an\n     object. Servers should convert recognized schemas to the latest internal\n     value, and \
                    may reject unrecognized values. More info:\n     \
                    https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#resources\n\n   \
                    kind\t<string>\n";
        assert!(text.starts_with(head), "{text}");
        assert!(text.contains("\n   metadata\t<Object>\n     Standard object's metadata."), "{text}");
        assert!(text.ends_with("api-conventions.md#spec-and-status\n"), "{text}");
        assert!(!text.contains("-required-"));
    }

    #[test]
    fn explain_nested_fields_and_leaves() {
        let pods = lookup("pods").unwrap();
        let text = explain(pods, &["spec", "containers"], false).unwrap();
        assert!(text.starts_with("KIND:     Pod\nVERSION:  v1\n\nRESOURCE: containers <[]Object>\n\nDESCRIPTION:\n     List of containers belonging to the pod."), "{text}");
        assert!(text.contains("\n\n     A single application container that you want to run within a pod.\n\nFIELDS:\n   args\t<[]string>\n"), "{text}");
        assert!(text.contains("\n   name\t<string> -required-\n"), "{text}");
        assert!(text.contains("\n   resources\t<Object>\n"), "{text}");

        let leaf = explain(pods, &["spec", "containers", "image"], false).unwrap();
        assert!(
            leaf.starts_with(
                "KIND:     Pod\nVERSION:  v1\n\nFIELD:    image <string>\n\nDESCRIPTION:\n     Container image name."
            ),
            "{leaf}"
        );
        let labels = explain(pods, &["metadata", "labels"], false).unwrap();
        assert!(labels.contains("FIELD:    labels <map[string]string>\n"), "{labels}");
        let port = explain(lookup("svc").unwrap(), &["spec", "ports", "targetPort"], false).unwrap();
        assert!(port.contains("FIELD:    targetPort <string>\n"), "{port}");
        let limits = explain(pods, &["spec", "containers", "resources", "limits"], false).unwrap();
        assert!(limits.contains("FIELD:    limits <map[string]string>\n"), "{limits}");

        let e = explain(pods, &["spec", "foo"], false).unwrap_err();
        assert_eq!(e.message, r#"field "foo" does not exist"#);
        assert_eq!(e.code(), 400);
    }

    #[test]
    fn explain_recursive_lists_the_tree() {
        let text = explain(lookup("deploy").unwrap(), &["spec"], true).unwrap();
        assert!(text.starts_with("KIND:     Deployment\nVERSION:  apps/v1\n\nRESOURCE: spec <Object>\n"), "{text}");
        assert!(text.contains("\nFIELDS:\n   minReadySeconds\t<integer>\n   paused\t<boolean>\n"), "{text}");
        assert!(
            text.contains("\n   selector\t<Object>\n      matchExpressions\t<[]Object>\n         key\t<string>\n"),
            "{text}"
        );
        assert!(text.contains("\n         containers\t<[]Object>\n            args\t<[]string>\n"), "{text}");
    }

    #[test]
    fn every_served_kind_has_a_schema() {
        for info in RESOURCES {
            let text = explain(info, &[], false).unwrap_or_else(|e| panic!("{}: {e}", info.kind));
            assert!(text.starts_with(&format!("KIND:     {}\nVERSION:  {}\n", info.kind, info.api_version())));
            let obj =
                json!({"apiVersion": info.api_version(), "kind": info.kind, "metadata": {"name": "x"}, "bogus": 1});
            assert_eq!(unknown_fields(info, &obj), vec!["bogus"], "{}", info.kind);
        }
    }
}
