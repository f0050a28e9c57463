//! Per-kind decoding checks, defaulting and validation, in Kubernetes' words.
//!
//! The three steps run in the apiserver's order: [`decode_check`] (strict decoding,
//! as with `fieldValidation=Strict`), [`apply_defaults`], then [`validate`], which
//! collects every problem before failing, with Kubernetes' field paths and wording
//! (values rendered the way Go's `%q`/`%#v` render them, since that is what users
//! compare against).
//!
//! They read the object as JSON, the fields as the user wrote them, before
//! any typed decode: an error names the field and the value that was sent
//! (a typed struct would have dropped or converted it), and the apiserver's
//! create path decodes nothing twice.

mod config;
pub mod cron;
mod defaults;
mod json;
pub mod names;
mod pod;
mod storage;

use crate::error::{ApiError, FieldError, FieldErrorKind, Result};
use crate::quantity;
use crate::registry::{split_api_version, ResourceInfo};
use crate::schema::{self, with_kind_type};
use crate::selector::LabelSelector;
use serde_json::{Map, Value};
use std::collections::BTreeMap;

pub use config::{config_key, merge_string_data, MAX_SIZE as MAX_CONFIG_SIZE};
pub use defaults::pull_policy;
pub use json::parse as parse_json;

/// What a write does with fields the kind's schema does not know, as the
/// `fieldValidation` query parameter says.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum FieldValidation {
    /// Fail, naming them (`strict decoding error: unknown field "spec.foo"`).
    #[default]
    Strict,
    /// Drop them and warn (`unknown field "spec.foo"`).
    Warn,
    /// Drop them silently.
    Ignore,
}

impl std::str::FromStr for FieldValidation {
    type Err = ApiError;

    /// The query parameter's values, as kube-apiserver accepts them (an empty one is Strict).
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "Strict" | "" => Ok(FieldValidation::Strict),
            "Warn" => Ok(FieldValidation::Warn),
            "Ignore" => Ok(FieldValidation::Ignore),
            other => Err(ApiError::bad_request(format!(
                "fieldValidation must be one of \"Ignore\", \"Warn\", or \"Strict\", got {other:?}"
            ))),
        }
    }
}

/// Decoding under `mode`: as [`decode_check`], except that under Warn and
/// Ignore unknown fields are removed from `obj` instead of failing, and
/// `duplicates` (fields the body set twice, from [`parse_json`]) are
/// reported the same way. Returns the warnings (Warn only).
pub fn decode_check_with(
    info: &ResourceInfo,
    obj: &mut Value,
    mode: FieldValidation,
    duplicates: &[String],
) -> Result<Vec<String>> {
    if mode == FieldValidation::Strict {
        return check(info, obj, duplicates).map(|()| Vec::new());
    }
    let unknown = schema::inspect(info, obj).unknown;
    for path in unknown.iter().rev() {
        remove_field(obj, path);
    }
    decode_check(info, obj)?;
    Ok(match mode {
        FieldValidation::Warn => strict_problems(&unknown, duplicates),
        _ => Vec::new(),
    })
}

/// Kubernetes' words for each strict decoding problem.
fn strict_problems(unknown: &[String], duplicates: &[String]) -> Vec<String> {
    let dups = duplicates.iter().map(|p| format!("duplicate field \"{p}\""));
    dups.chain(unknown.iter().map(|p| format!("unknown field \"{p}\""))).collect()
}

/// Removes the field at a path as [`schema::inspect`] writes them (`spec.containers[0].foo`).
fn remove_field(obj: &mut Value, path: &str) {
    let mut steps: Vec<std::result::Result<&str, usize>> = Vec::new();
    for part in path.split('.') {
        let (name, mut rest) = part.split_once('[').map_or((part, ""), |(n, r)| (n, r));
        steps.push(Ok(name));
        while let Some((index, after)) = rest.split_once(']') {
            if let Ok(i) = index.parse() {
                steps.push(Err(i));
            }
            rest = after.strip_prefix('[').unwrap_or(after);
        }
    }
    let Some((last, parents)) = steps.split_last() else { return };
    let mut v = obj;
    for step in parents {
        let next = match step {
            Ok(name) => v.get_mut(*name),
            Err(i) => v.get_mut(*i),
        };
        match next {
            Some(x) => v = x,
            None => return,
        }
    }
    if let (Ok(name), Value::Object(m)) = (last, v) {
        m.remove(*name);
    }
}

/// Strict decoding: unknown fields and wrong types are rejected, naming the field.
pub fn decode_check(info: &ResourceInfo, obj: &Value) -> Result<()> {
    check(info, obj, &[])
}

fn check(info: &ResourceInfo, obj: &Value, duplicates: &[String]) -> Result<()> {
    let compact = || serde_json::to_string(obj).unwrap_or_default();
    let api_version = obj.get("apiVersion").and_then(Value::as_str).unwrap_or("");
    let kind = obj.get("kind").and_then(Value::as_str).unwrap_or("");
    if kind.is_empty() {
        return Err(ApiError::bad_request(format!("Object 'Kind' is missing in '{}'", compact())));
    }
    if api_version.is_empty() {
        return Err(ApiError::bad_request(format!("Object 'apiVersion' is missing in '{}'", compact())));
    }
    let version = split_api_version(api_version).1;
    let fail = |what: String| {
        ApiError::bad_request(format!("{kind} in version \"{version}\" cannot be handled as a {}: {what}", info.kind))
    };
    let found = schema::inspect(info, obj);
    if !found.unknown.is_empty() || !duplicates.is_empty() {
        let list = strict_problems(&found.unknown, duplicates);
        return Err(fail(format!("strict decoding error: {}", list.join(", "))));
    }
    // Older accepted versions (batch/v1beta1 CronJob) decode as the served version.
    let served = info.api_version();
    let converted;
    let typed = if api_version == served {
        obj
    } else {
        let mut copy = obj.clone();
        copy["apiVersion"] = Value::String(served);
        converted = copy;
        &converted
    };
    // An object the schema walk found well typed needs no decode (k8s-openapi
    // checks the kind too; `typed` has the served apiVersion). The plain decode
    // is the next cheapest; only a failure is decoded again with path tracking,
    // to name the field.
    let certain = found.typed && kind == info.kind;
    let plain: std::result::Result<(), serde_json::Error> = if certain {
        Ok(())
    } else {
        with_kind_type!(info.kind, T => <T as serde::Deserialize>::deserialize(typed).map(drop), _ => Ok(()))
    };
    let decoded: std::result::Result<(), serde_path_to_error::Error<serde_json::Error>> = match plain {
        Ok(()) => Ok(()),
        Err(_) => with_kind_type!(
            info.kind,
            T => serde_path_to_error::deserialize::<_, T>(typed).map(drop),
            _ => Ok(())
        ),
    };
    if let Err(e) = decoded {
        let path = e.path().to_string();
        let inner = e.into_inner();
        return Err(fail(if path == "." { inner.to_string() } else { format!("{path}: {inner}") }));
    }
    for (_, q) in found.quantities {
        if let Err(msg) = quantity::parse(&q) {
            return Err(fail(msg.to_string()));
        }
    }
    Ok(())
}

/// Fills in Kubernetes' defaults for this kind. Runs after the server assigned
/// `metadata.uid` and `metadata.name` (Job selectors use the uid).
pub fn apply_defaults(info: &ResourceInfo, obj: &mut Value) -> Result<()> {
    defaults::apply(info.kind, obj)
}

/// Validates a defaulted object; `old` is the stored object on update.
///
/// On update the rules for changing an object apply too (immutable names, the
/// pod-spec update restrictions, immutable selectors). Writes that Kubernetes
/// does not validate as user updates (pod binding, status) should not pass `old`.
pub fn validate(info: &ResourceInfo, obj: &Value, old: Option<&Value>) -> Result<()> {
    let mut e = Errs::default();
    let meta = obj.get("metadata").unwrap_or(&Value::Null);
    let name_fn: fn(&str) -> Vec<String> = match info.kind {
        "Namespace" => names::dns1123_label,
        "Service" => names::dns1035_label,
        _ => names::dns1123_subdomain,
    };
    if info.kind != "Binding" {
        validate_meta(&mut e, meta, info.namespaced, name_fn);
    }
    if let Some(old) = old {
        validate_meta_update(&mut e, meta, old.get("metadata").unwrap_or(&Value::Null));
    }
    let spec = obj.get("spec").unwrap_or(&Value::Null);
    let old_spec = old.map(|o| o.get("spec").unwrap_or(&Value::Null));
    match info.kind {
        "Pod" => {
            pod::validate_spec(&mut e, spec, "spec");
            pod::validate_pod_only(&mut e, spec, "spec");
            if let Some(old_spec) = old_spec {
                pod::validate_update(&mut e, spec, old_spec);
            }
        }
        "ReplicationController" => validate_rc(&mut e, spec),
        "ReplicaSet" | "Deployment" | "DaemonSet" => {
            validate_apps(&mut e, info.kind, spec);
            if let Some(old_spec) = old_spec {
                immutable(&mut e, "spec.selector", spec.get("selector"), old_spec.get("selector"), go_label_selector);
            }
        }
        "StatefulSet" => {
            validate_stateful_set(&mut e, spec);
            if let Some(old_spec) = old_spec {
                validate_stateful_set_update(&mut e, spec, old_spec);
            }
        }
        "Job" => {
            validate_job_spec(&mut e, spec, "spec");
            if let Some(old_spec) = old_spec {
                immutable(&mut e, "spec.selector", spec.get("selector"), old_spec.get("selector"), go_label_selector);
                immutable(&mut e, "spec.template", spec.get("template"), old_spec.get("template"), |v| {
                    v.map(Value::to_string).unwrap_or_else(|| "nil".into())
                });
            }
        }
        "CronJob" => validate_cron_job(&mut e, meta, spec, old_spec),
        "ConfigMap" => config::validate_config_map(&mut e, obj, old),
        "Secret" => config::validate_secret(&mut e, obj, old),
        "PersistentVolume" => storage::validate_pv(&mut e, obj, old),
        "PersistentVolumeClaim" => storage::validate_pvc(&mut e, obj, old),
        "StorageClass" => storage::validate_storage_class(&mut e, obj, old),
        "Service" => {
            validate_service(&mut e, spec);
            if let Some(old_spec) = old_spec {
                validate_service_update(&mut e, spec, old_spec);
            }
        }
        "Event" => {
            let ns = str_at(meta, "namespace");
            let involved = obj.get("involvedObject").map(|i| str_at(i, "namespace")).unwrap_or("");
            let ok = if involved.is_empty() { ns.is_empty() || ns == "default" } else { ns == involved };
            if !ok {
                e.invalid("involvedObject.namespace", go_str(involved), "does not match event.namespace");
            }
        }
        "Binding" => {
            let target = obj.get("target").unwrap_or(&Value::Null);
            let kind = str_at(target, "kind");
            if !kind.is_empty() && kind != "Node" {
                e.not_supported("target.kind", go_str(kind), &["Node", "<empty>"]);
            }
            if str_at(target, "name").is_empty() {
                e.required("target.name", "");
            }
        }
        _ => {}
    }
    e.finish(info.kind, meta_name(obj))
}

fn meta_name(obj: &Value) -> &str {
    obj.get("metadata").map(|m| str_at(m, "name")).unwrap_or("")
}

/// The error list being collected.
#[derive(Default)]
pub(crate) struct Errs(Vec<FieldError>);

impl Errs {
    fn push(&mut self, f: FieldError) {
        self.0.push(f);
    }
    fn required(&mut self, field: impl Into<String>, detail: &str) {
        self.push(FieldError::required(field, detail));
    }
    fn invalid(&mut self, field: impl Into<String>, value: impl Into<String>, detail: impl Into<String>) {
        self.push(FieldError::invalid(field, value, detail));
    }
    fn not_supported(&mut self, field: impl Into<String>, value: impl Into<String>, supported: &[&str]) {
        self.push(FieldError::not_supported(field, value, supported));
    }
    fn forbidden(&mut self, field: impl Into<String>, detail: &str) {
        self.push(FieldError::forbidden(field, detail));
    }
    fn duplicate(&mut self, field: impl Into<String>, value: impl Into<String>) {
        self.push(FieldError::duplicate(field, value));
    }
    fn not_found(&mut self, field: impl Into<String>, value: impl Into<String>) {
        self.push(FieldError::not_found(field, value));
    }
    fn nonnegative(&mut self, field: &str, v: Option<&Value>) {
        if let Some(n) = v.and_then(Value::as_i64) {
            if n < 0 {
                self.invalid(field, n.to_string(), "must be greater than or equal to 0");
            }
        }
    }
    fn finish(self, kind: &str, name: &str) -> Result<()> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(ApiError::invalid(kind, name, self.0))
        }
    }
}

pub(crate) fn str_at<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key).and_then(Value::as_str).unwrap_or("")
}

/// A string as Go's `%q` prints it.
pub(crate) fn go_str(s: &str) -> String {
    format!("{s:?}")
}

/// A label map as Go's `%#v` prints a `map[string]string` (nil when absent).
pub(crate) fn go_map(m: Option<&Value>) -> String {
    match m.and_then(Value::as_object) {
        None => "map[string]string(nil)".into(),
        Some(m) => {
            let pairs: Vec<String> =
                m.iter().map(|(k, v)| format!("{}:{}", go_str(k), go_str(v.as_str().unwrap_or("")))).collect();
            format!("map[string]string{{{}}}", pairs.join(", "))
        }
    }
}

/// A `LabelSelector` as Go's `%#v` prints the struct, as Kubernetes' immutability
/// and empty-selector errors show it.
pub(crate) fn go_label_selector(sel: Option<&Value>) -> String {
    let Some(sel) = sel.filter(|s| !s.is_null()) else { return "nil".into() };
    let exprs = match sel.get("matchExpressions").and_then(Value::as_array) {
        None => "[]v1.LabelSelectorRequirement(nil)".to_string(),
        Some(list) => {
            let items: Vec<String> = list
                .iter()
                .map(|r| {
                    let values = match r.get("values").and_then(Value::as_array) {
                        None => "[]string(nil)".to_string(),
                        Some(vs) => {
                            let vs: Vec<String> = vs.iter().map(|v| go_str(v.as_str().unwrap_or(""))).collect();
                            format!("[]string{{{}}}", vs.join(", "))
                        }
                    };
                    format!(
                        "v1.LabelSelectorRequirement{{Key:{}, Operator:{}, Values:{values}}}",
                        go_str(str_at(r, "key")),
                        go_str(str_at(r, "operator"))
                    )
                })
                .collect();
            format!("[]v1.LabelSelectorRequirement{{{}}}", items.join(", "))
        }
    };
    format!("v1.LabelSelector{{MatchLabels:{}, MatchExpressions:{exprs}}}", go_map(sel.get("matchLabels")))
}

/// An IntOrString as Kubernetes shows it: numbers bare, strings quoted.
pub(crate) fn go_int_or_string(v: &Value) -> String {
    match v {
        Value::String(s) => go_str(s),
        other => other.to_string(),
    }
}

fn immutable(e: &mut Errs, field: &str, new: Option<&Value>, old: Option<&Value>, show: fn(Option<&Value>) -> String) {
    let norm = |v: Option<&Value>| v.filter(|v| !v.is_null()).cloned();
    if norm(new) != norm(old) {
        e.invalid(field, show(new), "field is immutable");
    }
}

/// The entries of a string map, borrowed (serde_json's maps iterate in key order).
fn string_entries(v: Option<&Value>) -> impl Iterator<Item = (&str, &str)> {
    v.and_then(Value::as_object).into_iter().flatten().map(|(k, v)| (k.as_str(), v.as_str().unwrap_or("")))
}

fn string_map(v: Option<&Value>) -> BTreeMap<String, String> {
    string_entries(v).map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

/// ValidateObjectMeta.
fn validate_meta(e: &mut Errs, meta: &Value, namespaced: bool, name_fn: fn(&str) -> Vec<String>) {
    let generate = str_at(meta, "generateName");
    if !generate.is_empty() {
        for msg in name_fn(&names::mask_trailing_dash(generate)) {
            e.invalid("metadata.generateName", go_str(generate), msg);
        }
    }
    let name = str_at(meta, "name");
    if name.is_empty() {
        e.required("metadata.name", "name or generateName is required");
    } else {
        for msg in name_fn(name) {
            e.invalid("metadata.name", go_str(name), msg);
        }
    }
    let ns = str_at(meta, "namespace");
    if namespaced {
        if ns.is_empty() {
            e.required("metadata.namespace", "");
        } else {
            for msg in names::dns1123_label(ns) {
                e.invalid("metadata.namespace", go_str(ns), msg);
            }
        }
    } else if !ns.is_empty() {
        e.forbidden("metadata.namespace", "not allowed on this type");
    }
    e.nonnegative("metadata.generation", meta.get("generation"));
    validate_labels(e, meta.get("labels"), "metadata.labels");
    validate_annotations(e, meta.get("annotations"), "metadata.annotations");
}

fn validate_meta_update(e: &mut Errs, new: &Value, old: &Value) {
    for (field, key) in [("metadata.name", "name"), ("metadata.namespace", "namespace")] {
        let (n, o) = (str_at(new, key), str_at(old, key));
        if n != o {
            e.invalid(field, go_str(n), "field is immutable");
        }
    }
    // A client that leaves the uid out keeps the stored one; a different one is refused.
    let (n, o) = (str_at(new, "uid"), str_at(old, "uid"));
    if !n.is_empty() && n != o {
        e.invalid("metadata.uid", go_str(n), "field is immutable");
    }
}

pub(crate) fn validate_labels(e: &mut Errs, labels: Option<&Value>, path: &str) {
    for (k, v) in string_entries(labels) {
        for msg in names::qualified_name(k) {
            e.invalid(path, go_str(k), msg);
        }
        for msg in names::label_value(v) {
            e.invalid(path, go_str(v), msg);
        }
    }
}

/// Kubernetes' limit on the total size of an object's annotations.
pub const TOTAL_ANNOTATION_SIZE_LIMIT: usize = 256 * 1024;

pub(crate) fn validate_annotations(e: &mut Errs, annotations: Option<&Value>, path: &str) {
    let mut size = 0;
    for (k, v) in string_entries(annotations) {
        // Annotation keys are qualified names, compared case-insensitively.
        for msg in names::qualified_name(&k.to_lowercase()) {
            e.invalid(path, go_str(k), msg);
        }
        size += k.len() + v.len();
    }
    if size > TOTAL_ANNOTATION_SIZE_LIMIT {
        e.push(FieldError {
            kind: FieldErrorKind::TooLong,
            field: path.into(),
            value: None,
            detail: format!("may not be more than {TOTAL_ANNOTATION_SIZE_LIMIT} bytes"),
        });
    }
}

/// ValidatePodTemplateSpec: the template's own labels and annotations (at
/// `<path>.labels`, as Kubernetes names them) and its pod spec.
fn validate_template(e: &mut Errs, template: &Value, path: &str) {
    let meta = template.get("metadata").unwrap_or(&Value::Null);
    validate_labels(e, meta.get("labels"), &format!("{path}.labels"));
    validate_annotations(e, meta.get("annotations"), &format!("{path}.annotations"));
    pod::validate_spec(e, template.get("spec").unwrap_or(&Value::Null), &format!("{path}.spec"));
}

fn template_labels(template: &Value) -> Option<&Value> {
    template.get("metadata").and_then(|m| m.get("labels")).filter(|l| !l.is_null())
}

fn selector_mismatch(e: &mut Errs, labels: Option<&Value>, path: &str) {
    e.invalid(path, go_map(labels), "`selector` does not match template `labels`");
}

/// Workload templates must restart their pods (`Always`) and may not set a deadline.
fn always_restart(e: &mut Errs, template: &Value, path: &str, kind: &str) {
    let spec = template.get("spec").unwrap_or(&Value::Null);
    let rp = str_at(spec, "restartPolicy");
    if rp != "Always" {
        e.not_supported(format!("{path}.spec.restartPolicy"), go_str(rp), &["Always"]);
    }
    if let Some(ads) = spec.get("activeDeadlineSeconds").filter(|v| !v.is_null()) {
        e.invalid(
            format!("{path}.spec.activeDeadlineSeconds"),
            ads.to_string(),
            format!("activeDeadlineSeconds in {kind} is not Supported"),
        );
    }
}

fn validate_rc(e: &mut Errs, spec: &Value) {
    e.nonnegative("spec.minReadySeconds", spec.get("minReadySeconds"));
    let selector = string_map(spec.get("selector"));
    if selector.is_empty() {
        e.required("spec.selector", "");
    }
    e.nonnegative("spec.replicas", spec.get("replicas"));
    match spec.get("template").filter(|t| !t.is_null()) {
        None => e.required("spec.template", ""),
        Some(t) => {
            let sel = LabelSelector::from_map(&selector);
            let labels = template_labels(t);
            if !sel.is_empty() && !sel.matches(&string_map(labels)) {
                selector_mismatch(e, labels, "spec.template.metadata.labels");
            }
            validate_template(e, t, "spec.template");
            always_restart(e, t, "spec.template", "ReplicationController");
        }
    }
}

/// ValidateLabelSelector (the metav1 form's own syntax).
fn validate_label_selector(e: &mut Errs, sel: &Value, path: &str) {
    validate_labels(e, sel.get("matchLabels"), &format!("{path}.matchLabels"));
    for (i, r) in sel.get("matchExpressions").and_then(Value::as_array).into_iter().flatten().enumerate() {
        let p = format!("{path}.matchExpressions[{i}]");
        let values = r.get("values").and_then(Value::as_array).map(Vec::len).unwrap_or(0);
        match str_at(r, "operator") {
            "In" | "NotIn" if values == 0 => {
                e.required(format!("{p}.values"), "must be specified when `operator` is 'In' or 'NotIn'")
            }
            "Exists" | "DoesNotExist" if values > 0 => {
                e.forbidden(format!("{p}.values"), "may not be specified when `operator` is 'Exists' or 'DoesNotExist'")
            }
            "In" | "NotIn" | "Exists" | "DoesNotExist" => {}
            op => e.invalid(format!("{p}.operator"), go_str(op), "not a valid selector operator"),
        }
        let key = str_at(r, "key");
        for msg in names::qualified_name(key) {
            e.invalid(format!("{p}.key"), go_str(key), msg);
        }
        for (j, v) in r.get("values").and_then(Value::as_array).into_iter().flatten().enumerate() {
            let v = v.as_str().unwrap_or("");
            for msg in names::label_value(v) {
                e.invalid(format!("{p}.values[{j}]"), go_str(v), msg);
            }
        }
    }
}

/// A workload's required, non-empty `spec.selector` and its match with the
/// template's labels; returns the template (`null` when absent).
fn selector_and_template<'a>(e: &mut Errs, spec: &'a Value, noun: &str) -> &'a Value {
    let sel_value = spec.get("selector").filter(|s| !s.is_null());
    match sel_value {
        None => e.required("spec.selector", ""),
        Some(s) => {
            validate_label_selector(e, s, "spec.selector");
            if is_empty_selector(s) {
                e.invalid("spec.selector", go_label_selector(Some(s)), format!("empty selector is invalid for {noun}"));
            }
        }
    }
    let template = spec.get("template").unwrap_or(&Value::Null);
    match LabelSelector::from_json(sel_value) {
        Err(_) => e.invalid("spec.selector", go_label_selector(sel_value), "invalid label selector"),
        Ok(sel) => {
            let labels = template_labels(template);
            if !sel.is_empty() && !sel.matches(&string_map(labels)) {
                selector_mismatch(e, labels, "spec.template.metadata.labels");
            }
        }
    }
    template
}

fn validate_apps(e: &mut Errs, kind: &str, spec: &Value) {
    let noun = kind.to_lowercase();
    if kind != "DaemonSet" {
        e.nonnegative("spec.replicas", spec.get("replicas"));
    }
    if kind == "ReplicaSet" {
        e.nonnegative("spec.minReadySeconds", spec.get("minReadySeconds"));
    }
    // Kubernetes' ReplicaSet validation reuses the Deployment wording.
    let noun = if kind == "ReplicaSet" { "deployment" } else { noun.as_str() };
    let template = selector_and_template(e, spec, noun);
    validate_template(e, template, "spec.template");
    always_restart(e, template, "spec.template", kind);
    match kind {
        "Deployment" => {
            validate_deployment_strategy(e, spec.get("strategy").unwrap_or(&Value::Null));
            e.nonnegative("spec.minReadySeconds", spec.get("minReadySeconds"));
            e.nonnegative("spec.revisionHistoryLimit", spec.get("revisionHistoryLimit"));
            if let Some(pds) = spec.get("progressDeadlineSeconds").and_then(Value::as_i64) {
                e.nonnegative("spec.progressDeadlineSeconds", spec.get("progressDeadlineSeconds"));
                let min_ready = spec.get("minReadySeconds").and_then(Value::as_i64).unwrap_or(0);
                if pds <= min_ready {
                    e.invalid("spec.progressDeadlineSeconds", pds.to_string(), "must be greater than minReadySeconds");
                }
            }
        }
        "DaemonSet" => {
            e.nonnegative("spec.minReadySeconds", spec.get("minReadySeconds"));
            validate_ds_strategy(e, spec.get("updateStrategy").unwrap_or(&Value::Null));
            e.nonnegative("spec.revisionHistoryLimit", spec.get("revisionHistoryLimit"));
        }
        _ => {}
    }
}

/// ValidateStatefulSetSpec.
fn validate_stateful_set(e: &mut Errs, spec: &Value) {
    match str_at(spec, "podManagementPolicy") {
        "OrderedReady" | "Parallel" => {}
        "" => e.required("spec.podManagementPolicy", ""),
        other => e.invalid("spec.podManagementPolicy", go_str(other), "must be 'OrderedReady' or 'Parallel'"),
    }
    let strategy = spec.get("updateStrategy").unwrap_or(&Value::Null);
    let ru = strategy.get("rollingUpdate").filter(|v| !v.is_null());
    match str_at(strategy, "type") {
        "RollingUpdate" => {
            if let Some(ru) = ru {
                e.nonnegative("spec.updateStrategy.rollingUpdate.partition", ru.get("partition"));
            }
        }
        "OnDelete" => {
            if let Some(ru) = ru {
                e.invalid(
                    "spec.updateStrategy.rollingUpdate",
                    go_struct(ru),
                    "only allowed for updateStrategy 'RollingUpdate'",
                );
            }
        }
        "" => e.required("spec.updateStrategy", ""),
        other => e.invalid("spec.updateStrategy", go_str(other), "must be 'RollingUpdate' or 'OnDelete'"),
    }
    let policy = spec.get("persistentVolumeClaimRetentionPolicy").unwrap_or(&Value::Null);
    for key in ["whenDeleted", "whenScaled"] {
        let v = str_at(policy, key);
        if v != "Retain" && v != "Delete" {
            e.not_supported(
                format!("spec.persistentVolumeClaimRetentionPolicy.{key}"),
                go_str(v),
                &["Retain", "Delete"],
            );
        }
    }
    e.nonnegative("spec.replicas", spec.get("replicas"));
    e.nonnegative("spec.minReadySeconds", spec.get("minReadySeconds"));
    if let Some(ordinals) = spec.get("ordinals").filter(|v| !v.is_null()) {
        e.nonnegative("spec.ordinals.start", ordinals.get("start"));
    }
    let service_name = str_at(spec, "serviceName");
    if !service_name.is_empty() {
        for msg in names::dns1035_label(service_name) {
            e.invalid("spec.serviceName", go_str(service_name), msg);
        }
    }
    let template = selector_and_template(e, spec, "statefulset");
    // The containers may mount the volume claim templates: they count as volumes.
    let mut with_claims = template.clone();
    let claims: Vec<String> = spec
        .get("volumeClaimTemplates")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|c| c.get("metadata").map(|m| str_at(m, "name")).unwrap_or("").to_string())
        .filter(|n| !n.is_empty())
        .collect();
    if let Some(pod_spec) = with_claims.get_mut("spec").and_then(Value::as_object_mut) {
        let volumes = pod_spec.entry("volumes").or_insert_with(|| Value::Array(vec![]));
        if let Some(list) = volumes.as_array_mut() {
            for name in claims {
                if !list.iter().any(|v| str_at(v, "name") == name) {
                    list.push(serde_json::json!({"name": name, "persistentVolumeClaim": {"claimName": name}}));
                }
            }
        }
    }
    validate_template(e, &with_claims, "spec.template");
    always_restart(e, template, "spec.template", "StatefulSet");
    for (i, claim) in spec.get("volumeClaimTemplates").and_then(Value::as_array).into_iter().flatten().enumerate() {
        let name = claim.get("metadata").map(|m| str_at(m, "name")).unwrap_or("");
        let path = format!("spec.volumeClaimTemplates[{i}].metadata.name");
        if name.is_empty() {
            e.required(path, "name or generateName is required");
        } else {
            for msg in names::dns1123_subdomain(name) {
                e.invalid(path.clone(), go_str(name), msg);
            }
        }
    }
}

/// ValidateStatefulSetUpdate: only some of the spec may change.
fn validate_stateful_set_update(e: &mut Errs, spec: &Value, old_spec: &Value) {
    const MUTABLE: [&str; 6] = [
        "replicas",
        "ordinals",
        "template",
        "updateStrategy",
        "persistentVolumeClaimRetentionPolicy",
        "minReadySeconds",
    ];
    let strip = |v: &Value| -> Map<String, Value> {
        let mut m = v.as_object().cloned().unwrap_or_default();
        m.retain(|k, v| !MUTABLE.contains(&k.as_str()) && !v.is_null());
        m
    };
    if strip(spec) != strip(old_spec) {
        e.forbidden(
            "spec",
            "updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', \
             'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden",
        );
    }
}

/// A JSON object as Go's `%v` prints a pointer to a struct (near enough for messages).
fn go_struct(v: &Value) -> String {
    let fields: Vec<String> = v.as_object().into_iter().flatten().map(|(_, v)| v.to_string()).collect();
    format!("&{{{}}}", fields.join(" "))
}

fn is_empty_selector(s: &Value) -> bool {
    let n = |k: &str| {
        s.get(k).map(|v| v.as_object().map(Map::len).or(v.as_array().map(Vec::len)).unwrap_or(0)).unwrap_or(0)
    };
    n("matchLabels") + n("matchExpressions") == 0
}

/// An IntOrString's value for the both-zero checks (percent strings count by number).
fn int_or_percent(v: Option<&Value>) -> Option<i64> {
    match v? {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.strip_suffix('%').and_then(|n| n.parse().ok()),
        _ => None,
    }
}

fn positive_int_or_percent(e: &mut Errs, v: Option<&Value>, path: &str) {
    match v {
        Some(Value::String(s)) => {
            let ok = s.strip_suffix('%').is_some_and(|n| !n.is_empty() && n.bytes().all(|c| c.is_ascii_digit()));
            if !ok {
                e.invalid(
                    path,
                    go_str(s),
                    names::regex_error(
                        "a valid percent string must be a numeric string followed by an ending '%'",
                        "[0-9]+%",
                        &["1%", "93%"],
                    ),
                );
            }
        }
        Some(v @ Value::Number(_)) => e.nonnegative(path, Some(v)),
        _ => {}
    }
}

fn not_more_than_100_percent(e: &mut Errs, v: Option<&Value>, path: &str) {
    if let Some(Value::String(s)) = v {
        if s.strip_suffix('%').and_then(|n| n.parse::<i64>().ok()).is_some_and(|n| n > 100) {
            e.invalid(path, go_str(s), "must not be greater than 100%");
        }
    }
}

fn validate_deployment_strategy(e: &mut Errs, strategy: &Value) {
    let ru = strategy.get("rollingUpdate").filter(|v| !v.is_null());
    match str_at(strategy, "type") {
        "Recreate" => {
            if ru.is_some() {
                e.forbidden("spec.strategy.rollingUpdate", "may not be specified when strategy `type` is 'Recreate'");
            }
        }
        "RollingUpdate" => match ru {
            None => e.required("spec.strategy.rollingUpdate", "this should be defaulted and never be nil"),
            Some(ru) => {
                let (mu, ms) = (ru.get("maxUnavailable"), ru.get("maxSurge"));
                positive_int_or_percent(e, mu, "spec.strategy.rollingUpdate.maxUnavailable");
                positive_int_or_percent(e, ms, "spec.strategy.rollingUpdate.maxSurge");
                if int_or_percent(mu) == Some(0) && int_or_percent(ms) == Some(0) {
                    e.invalid(
                        "spec.strategy.rollingUpdate.maxUnavailable",
                        mu.map(go_int_or_string).unwrap_or_default(),
                        "may not be 0 when `maxSurge` is 0",
                    );
                }
                not_more_than_100_percent(e, mu, "spec.strategy.rollingUpdate.maxUnavailable");
            }
        },
        other => e.not_supported("spec.strategy.type", go_str(other), &["Recreate", "RollingUpdate"]),
    }
}

fn validate_ds_strategy(e: &mut Errs, strategy: &Value) {
    match str_at(strategy, "type") {
        "OnDelete" => {}
        "RollingUpdate" => match strategy.get("rollingUpdate").filter(|v| !v.is_null()) {
            None => e.required("spec.updateStrategy.rollingUpdate", ""),
            Some(ru) => {
                let p = "spec.updateStrategy.rollingUpdate";
                let (mu, ms) = (ru.get("maxUnavailable"), ru.get("maxSurge"));
                positive_int_or_percent(e, mu, &format!("{p}.maxUnavailable"));
                positive_int_or_percent(e, ms, &format!("{p}.maxSurge"));
                not_more_than_100_percent(e, mu, &format!("{p}.maxUnavailable"));
                not_more_than_100_percent(e, ms, &format!("{p}.maxSurge"));
                let has_unavailable = int_or_percent(mu).unwrap_or(0) != 0;
                let has_surge = int_or_percent(ms).unwrap_or(0) != 0;
                if has_unavailable && has_surge {
                    e.invalid(
                        format!("{p}.maxSurge"),
                        ms.map(go_int_or_string).unwrap_or_default(),
                        "may not be set when maxUnavailable is non-zero",
                    );
                } else if !has_unavailable && !has_surge {
                    e.required(format!("{p}.maxUnavailable"), "cannot be 0 when maxSurge is 0");
                }
            }
        },
        other => e.not_supported("spec.updateStrategy.type", go_str(other), &["RollingUpdate", "OnDelete"]),
    }
}

/// validateJobSpec plus, for Jobs (not CronJob templates), the selector rules.
fn validate_job_spec(e: &mut Errs, spec: &Value, path: &str) {
    for key in ["activeDeadlineSeconds", "parallelism", "completions", "backoffLimit", "ttlSecondsAfterFinished"] {
        e.nonnegative(&format!("{path}.{key}"), spec.get(key));
    }
    if let Some(mode) = spec.get("completionMode").and_then(Value::as_str) {
        if mode != "NonIndexed" && mode != "Indexed" {
            e.not_supported(format!("{path}.completionMode"), go_str(mode), &["NonIndexed", "Indexed"]);
        } else if mode == "Indexed" && spec.get("completions").is_none_or(Value::is_null) {
            e.required(format!("{path}.completions"), "when completion mode is Indexed");
        }
    }
    if let Some(p) = spec.get("podReplacementPolicy").and_then(Value::as_str) {
        if p != "TerminatingOrFailed" && p != "Failed" {
            e.not_supported(format!("{path}.podReplacementPolicy"), go_str(p), &["Failed", "TerminatingOrFailed"]);
        }
    }
    let template = spec.get("template").unwrap_or(&Value::Null);
    validate_template(e, template, &format!("{path}.template"));
    let rp = template.get("spec").map(|s| str_at(s, "restartPolicy")).unwrap_or("");
    let rp_path = format!("{path}.template.spec.restartPolicy");
    if rp == "Always" || rp.is_empty() {
        e.required(rp_path, "valid values: \"OnFailure\", \"Never\"");
    } else if rp != "OnFailure" && rp != "Never" {
        e.not_supported(rp_path, go_str(rp), &["OnFailure", "Never"]);
    }
    if path != "spec" {
        return;
    }
    let sel = spec.get("selector").filter(|s| !s.is_null());
    match sel {
        None => e.required("spec.selector", ""),
        Some(s) => validate_label_selector(e, s, "spec.selector"),
    }
    if let Ok(selector) = LabelSelector::from_json(sel) {
        let labels = template_labels(template);
        if !selector.matches(&string_map(labels)) {
            selector_mismatch(e, labels, "spec.template.metadata.labels");
        }
    }
}

fn validate_cron_job(e: &mut Errs, meta: &Value, spec: &Value, old_spec: Option<&Value>) {
    let name = str_at(meta, "name");
    // Jobs get an 11-character suffix and must still fit a DNS-1035 label.
    if name.len() > 52 {
        e.invalid("metadata.name", go_str(name), "must be no more than 52 characters");
    }
    let schedule = str_at(spec, "schedule");
    if schedule.is_empty() {
        e.required("spec.schedule", "");
    } else {
        if let Err(msg) = cron::check(schedule) {
            e.invalid("spec.schedule", go_str(schedule), msg.to_string());
        }
        let allow_tz = old_spec.is_some_and(|o| str_at(o, "schedule").contains("TZ"));
        let has_tz_field = spec.get("timeZone").is_some_and(|v| !v.is_null());
        if allow_tz && schedule.contains("TZ") && has_tz_field {
            e.invalid(
                "spec.schedule",
                go_str(schedule),
                "cannot use both timeZone field and TZ or CRON_TZ in schedule",
            );
        } else if !allow_tz && schedule.contains("TZ") {
            e.invalid(
                "spec.schedule",
                go_str(schedule),
                "cannot use TZ or CRON_TZ in schedule, use timeZone field instead",
            );
        }
    }
    e.nonnegative("spec.startingDeadlineSeconds", spec.get("startingDeadlineSeconds"));
    if let Some(tz) = spec.get("timeZone").and_then(Value::as_str) {
        if tz.is_empty() {
            e.invalid("spec.timeZone", go_str(tz), "timeZone must be nil or non-empty string");
        }
    }
    let cp = str_at(spec, "concurrencyPolicy");
    match cp {
        "Allow" | "Forbid" | "Replace" => {}
        "" => e.required("spec.concurrencyPolicy", ""),
        other => e.not_supported("spec.concurrencyPolicy", go_str(other), &["Allow", "Forbid", "Replace"]),
    }
    let jt = spec.get("jobTemplate").unwrap_or(&Value::Null);
    let job_spec = jt.get("spec").unwrap_or(&Value::Null);
    validate_job_spec(e, job_spec, "spec.jobTemplate.spec");
    if let Some(sel) = job_spec.get("selector").filter(|s| !s.is_null()) {
        e.invalid("spec.jobTemplate.spec.selector", go_label_selector(Some(sel)), "`selector` will be auto-generated");
    }
    if job_spec.get("manualSelector").and_then(Value::as_bool) == Some(true) {
        e.not_supported("spec.jobTemplate.spec.manualSelector", "true", &["nil", "false"]);
    }
    e.nonnegative("spec.successfulJobsHistoryLimit", spec.get("successfulJobsHistoryLimit"));
    e.nonnegative("spec.failedJobsHistoryLimit", spec.get("failedJobsHistoryLimit"));
}

/// The node-port range a default Kubernetes apiserver allocates from
/// (`--service-node-port-range`'s default).
pub const NODE_PORT_RANGE: std::ops::RangeInclusive<i64> = 30000..=32767;

fn validate_service(e: &mut Errs, spec: &Value) {
    let ty = str_at(spec, "type");
    let headless = str_at(spec, "clusterIP") == "None";
    validate_cluster_ips(e, spec, ty);
    let ports: Vec<&Value> = spec.get("ports").and_then(Value::as_array).into_iter().flatten().collect();
    if ports.is_empty() && !headless && ty != "ExternalName" {
        e.required("spec.ports", "");
    }
    if ty == "ExternalName" {
        let cname = str_at(spec, "externalName");
        if cname.is_empty() {
            e.required("spec.externalName", "");
        } else {
            for msg in names::dns1123_subdomain(cname) {
                e.invalid("spec.externalName", go_str(cname), msg);
            }
        }
    }
    let mut port_names: Vec<&str> = Vec::new();
    for (i, p) in ports.iter().enumerate() {
        let path = format!("spec.ports[{i}]");
        let name = str_at(p, "name");
        if ports.len() > 1 && name.is_empty() {
            e.required(format!("{path}.name"), "");
        } else if !name.is_empty() {
            for msg in names::dns1123_label(name) {
                e.invalid(format!("{path}.name"), go_str(name), msg);
            }
            if port_names.contains(&name) {
                e.duplicate(format!("{path}.name"), go_str(name));
            } else {
                port_names.push(name);
            }
        }
        let port = p.get("port").and_then(Value::as_i64).unwrap_or(0);
        for msg in names::port_num(port) {
            e.invalid(format!("{path}.port"), port.to_string(), msg);
        }
        match str_at(p, "protocol") {
            "TCP" | "UDP" | "SCTP" => {}
            "" => e.required(format!("{path}.protocol"), ""),
            other => e.not_supported(format!("{path}.protocol"), go_str(other), &["SCTP", "TCP", "UDP"]),
        }
        if let Some(tp) = p.get("targetPort") {
            pod::port_num_or_name(e, tp, &format!("{path}.targetPort"));
        }
    }
    validate_labels(e, spec.get("selector"), "spec.selector");
    match str_at(spec, "sessionAffinity") {
        "None" | "ClientIP" => {}
        "" => e.required("spec.sessionAffinity", ""),
        other => e.not_supported("spec.sessionAffinity", go_str(other), &["ClientIP", "None"]),
    }
    match ty {
        "ClusterIP" | "NodePort" | "LoadBalancer" | "ExternalName" => {}
        "" => e.required("spec.type", ""),
        other => {
            e.not_supported("spec.type", go_str(other), &["ClusterIP", "ExternalName", "LoadBalancer", "NodePort"])
        }
    }
    let mut node_ports: Vec<(String, i64)> = Vec::new();
    for (i, p) in ports.iter().enumerate() {
        let np = p.get("nodePort").and_then(Value::as_i64).unwrap_or(0);
        if np == 0 {
            continue;
        }
        let path = format!("spec.ports[{i}].nodePort");
        // Whether it is in the node port range is the allocator's check, as in
        // Kubernetes: the range is an apiserver flag.
        if ty == "ClusterIP" {
            e.forbidden(&path, "may not be used when `type` is 'ClusterIP'");
        }
        let key = (str_at(p, "protocol").to_string(), np);
        if node_ports.contains(&key) {
            e.duplicate(&path, np.to_string());
        }
        node_ports.push(key);
    }
    let mut seen: Vec<(String, i64)> = Vec::new();
    for (i, p) in ports.iter().enumerate() {
        let key = (str_at(p, "protocol").to_string(), p.get("port").and_then(Value::as_i64).unwrap_or(0));
        if seen.contains(&key) {
            // Kubernetes prints the ServicePort it used as the map key.
            e.duplicate(
                format!("spec.ports[{i}]"),
                format!(
                    "core.ServicePort{{Name:\"\", Protocol:{}, AppProtocol:(*string)(nil), Port:{}, \
                     TargetPort:intstr.IntOrString{{Type:0, IntVal:0, StrVal:\"\"}}, NodePort:0}}",
                    go_str(&key.0),
                    key.1
                ),
            );
        }
        seen.push(key);
    }
}

/// A `[]string` as Go's `%#v` prints it (the value of clusterIPs errors).
pub fn go_string_slice(v: &Value) -> String {
    match v.as_array() {
        None => "[]string(nil)".into(),
        Some(items) => {
            let items: Vec<String> = items.iter().map(|i| go_str(i.as_str().unwrap_or(""))).collect();
            format!("[]string{{{}}}", items.join(", "))
        }
    }
}

fn string_list(v: &Value) -> Vec<&str> {
    v.as_array().into_iter().flatten().filter_map(Value::as_str).collect()
}

/// Kubernetes' checks of `clusterIP`, `clusterIPs`, `ipFamilies` and
/// `ipFamilyPolicy` (`ValidateServiceClusterIPsRelatedFields` and the
/// per-type rules). The server fills them in on create; these catch what a
/// client asked for.
fn validate_cluster_ips(e: &mut Errs, spec: &Value, ty: &str) {
    let ips = string_list(&spec["clusterIPs"]);
    let families = string_list(&spec["ipFamilies"]);
    let policy = spec.get("ipFamilyPolicy").and_then(Value::as_str);
    if ty == "ExternalName" {
        if !ips.is_empty() {
            e.forbidden("spec.clusterIPs", "may not be set for ExternalName services");
        }
        if !families.is_empty() {
            e.forbidden("spec.ipFamilies", "may not be set for ExternalName services");
        }
        if policy.is_some() {
            e.forbidden("spec.ipFamilyPolicy", "may not be set for ExternalName services");
        }
        return;
    }
    let shown = || go_string_slice(&spec["clusterIPs"]);
    let cluster_ip = str_at(spec, "clusterIP");
    if !cluster_ip.is_empty() {
        if ips.is_empty() {
            e.required("spec.clusterIPs", "");
        } else if ips[0] != cluster_ip {
            e.invalid("spec.clusterIPs", shown(), "first value must match `clusterIP`");
        }
    } else if !ips.is_empty() {
        e.invalid("spec.clusterIPs", shown(), "must be empty when `clusterIP` is not specified");
    }
    let mut seen = Vec::new();
    for (i, f) in families.iter().enumerate() {
        if !matches!(*f, "IPv4" | "IPv6") {
            e.not_supported(format!("spec.ipFamilies[{i}]"), go_str(f), &["IPv4", "IPv6"]);
        }
        if seen.contains(f) {
            e.duplicate(format!("spec.ipFamilies[{i}]"), go_str(f));
        }
        seen.push(f);
    }
    if let Some(p) = policy {
        if !matches!(p, "SingleStack" | "PreferDualStack" | "RequireDualStack") {
            e.not_supported("spec.ipFamilyPolicy", go_str(p), &["PreferDualStack", "RequireDualStack", "SingleStack"]);
        }
    }
    let mut bad_ip = false;
    for (i, ip) in ips.iter().enumerate() {
        if i == 0 && *ip == "None" {
            if ips.len() > 1 {
                bad_ip = true;
                e.invalid("spec.clusterIPs", shown(), "'None' must be the first and only value");
            }
            continue;
        }
        if ip.parse::<std::net::IpAddr>().is_err() {
            bad_ip = true;
            e.invalid(
                format!("spec.clusterIPs[{i}]"),
                go_str(ip),
                "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)",
            );
        }
    }
    if ips.len() > 2 {
        e.invalid("spec.clusterIPs", shown(), "may only hold up to 2 values");
    }
    if bad_ip {
        return;
    }
    if ips.len() == 2 && ips[0].contains(':') == ips[1].contains(':') {
        e.invalid("spec.clusterIPs", shown(), "may specify no more than one IP for each IP family");
    }
    let headless = ips.len() == 1 && ips[0] == "None";
    if !headless {
        for (i, (ip, f)) in ips.iter().zip(&families).enumerate() {
            match (*f, ip.contains(':')) {
                ("IPv4", true) => e.invalid(
                    format!("spec.clusterIPs[{i}]"),
                    go_str(ip),
                    format!("expected an IPv4 value as indicated by `ipFamilies[{i}]`"),
                ),
                ("IPv6", false) => e.invalid(
                    format!("spec.clusterIPs[{i}]"),
                    go_str(ip),
                    format!("expected an IPv6 value as indicated by `ipFamilies[{i}]`"),
                ),
                _ => {}
            }
        }
    }
    if headless && matches!(ty, "NodePort" | "LoadBalancer") {
        e.invalid("spec.clusterIPs[0]", go_str("None"), format!("may not be set to 'None' for {ty} services"));
    }
}

/// Kubernetes' `validateUpgradeDowngradeClusterIPs`: the primary cluster IP
/// never changes once set, except to or from ExternalName.
fn validate_service_update(e: &mut Errs, spec: &Value, old: &Value) {
    if str_at(spec, "type") == "ExternalName" || str_at(old, "type") == "ExternalName" {
        return;
    }
    let (new_ips, old_ips) = (string_list(&spec["clusterIPs"]), string_list(&old["clusterIPs"]));
    let is_headless = |ips: &[&str]| ips.len() == 1 && ips[0] == "None";
    if is_headless(&new_ips) && is_headless(&old_ips) {
        return;
    }
    let shown = go_string_slice(&spec["clusterIPs"]);
    if new_ips.len() == old_ips.len() {
        for (i, (n, o)) in new_ips.iter().zip(&old_ips).enumerate() {
            if n != o {
                e.invalid(format!("spec.clusterIPs[{i}]"), shown.clone(), "may not change once set");
            }
        }
    } else if new_ips.len() < old_ips.len() {
        if new_ips.is_empty() {
            e.invalid("spec.clusterIPs[0]", shown, "primary clusterIP can not be unset");
        } else if new_ips[0] != old_ips[0] {
            e.invalid("spec.clusterIPs[0]", shown, "may not change once set");
        }
    } else if !old_ips.is_empty() && new_ips[0] != old_ips[0] {
        e.invalid("spec.clusterIPs[0]", shown, "may not change once set");
    }
}

#[cfg(test)]
mod tests;
