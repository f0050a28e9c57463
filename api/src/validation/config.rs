//! ConfigMap and Secret: the keys of their data (`IsConfigMapKey`), the 1 MiB
//! limit on what they hold, what each Secret type must carry, `immutable`,
//! and the Secret's write-only `stringData` (k8s.io/kubernetes
//! pkg/apis/core/validation `ValidateConfigMap`, `ValidateSecret` and their
//! update checks; the merge is the v1 Secret conversion).

use super::{go_str, names, str_at, Errs};
use crate::error::{FieldError, FieldErrorKind};
use k8s_openapi::ByteString;
use serde::Deserialize;
use serde_json::{Map, Value};

/// The most a ConfigMap's or Secret's data may hold in all (`MaxSecretSize`).
pub const MAX_SIZE: usize = 1024 * 1024;

const CONFIG_KEY_FMT: &str = "[-._a-zA-Z0-9]+";
const CONFIG_KEY_MSG: &str = "a valid config key must consist of alphanumeric characters, '-', '_' or '.'";

/// `IsConfigMapKey`: what may name an entry of a ConfigMap's or Secret's
/// data (it becomes a file name in a volume).
pub fn config_key(key: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if key.len() > 253 {
        errs.push(names::max_len_error(253));
    }
    let valid = !key.is_empty() && key.bytes().all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'));
    if !valid {
        errs.push(names::regex_error(CONFIG_KEY_MSG, CONFIG_KEY_FMT, &["key.name", "KEY_NAME", "key-name"]));
    }
    match key {
        "." => errs.push("must not be '.'".into()),
        ".." => errs.push("must not be '..'".into()),
        k if k.starts_with("..") => errs.push("must not start with '..'".into()),
        _ => {}
    }
    errs
}

/// Moves a Secret's `stringData` into `data` (base64-encoded, replacing
/// entries of the same key), as the v1 conversion does on every write, so
/// `stringData` is never stored. Values that are not strings, and a
/// `stringData` or `data` that is not a map, are left as written for the
/// strict decode to refuse.
pub fn merge_string_data(secret: &mut Value) {
    let Some(root) = secret.as_object_mut() else { return };
    let maps = matches!(root.get("stringData"), Some(Value::Object(_)))
        && matches!(root.get("data"), None | Some(Value::Null | Value::Object(_)));
    if !maps {
        return;
    }
    let Some(Value::Object(strings)) = root.remove("stringData") else { return };
    let data = root.entry("data").or_insert(Value::Null);
    if data.is_null() {
        *data = Value::Object(Map::new());
    }
    let Value::Object(data) = data else { return };
    for (key, value) in strings {
        let encoded = match value {
            Value::String(s) => serde_json::to_value(ByteString(s.into_bytes())).expect("bytes encode"),
            other => other,
        };
        data.insert(key, encoded);
    }
}

/// The decoded length of a base64 value (0 for one that does not decode:
/// the strict decode refused those before validation).
fn decoded_len(v: &Value) -> usize {
    ByteString::deserialize(v).map_or(0, |b| b.0.len())
}

fn too_long(e: &mut Errs, field: &str) {
    e.push(FieldError {
        kind: FieldErrorKind::TooLong,
        field: field.into(),
        value: None,
        detail: format!("may not be more than {MAX_SIZE} bytes"),
    });
}

fn keys(v: Option<&Value>) -> impl Iterator<Item = (&String, &Value)> {
    v.and_then(Value::as_object).into_iter().flatten()
}

fn validate_keys(e: &mut Errs, field: &str, map: Option<&Value>, other: Option<(&str, Option<&Value>)>) {
    for (key, _) in keys(map) {
        for msg in config_key(key) {
            e.invalid(format!("{field}[{key}]"), go_str(key), msg);
        }
        if let Some((other_field, other_map)) = other {
            if other_map.and_then(|m| m.get(key)).is_some() {
                e.invalid(format!("{field}[{key}]"), go_str(key), format!("duplicate of key present in {other_field}"));
            }
        }
    }
}

/// `ValidateConfigMap` (and, with `old`, `ValidateConfigMapUpdate`).
pub(super) fn validate_config_map(e: &mut Errs, obj: &Value, old: Option<&Value>) {
    let (data, binary) = (obj.get("data"), obj.get("binaryData"));
    validate_keys(e, "data", data, Some(("binaryData", binary)));
    validate_keys(e, "binaryData", binary, Some(("data", data)));
    let size: usize = keys(data).map(|(_, v)| v.as_str().map_or(0, str::len)).sum::<usize>()
        + keys(binary).map(|(_, v)| decoded_len(v)).sum::<usize>();
    if size > MAX_SIZE {
        // Kubernetes names the whole object, with an empty path.
        too_long(e, "[]");
    }
    if let Some(old) = old {
        immutable_contents(e, obj, old, &["data", "binaryData"]);
    }
}

/// The keys each Secret type must have in its data.
fn required_keys(ty: &str) -> &'static [&'static str] {
    match ty {
        "kubernetes.io/tls" => &["tls.crt", "tls.key"],
        "kubernetes.io/ssh-auth" => &["ssh-privatekey"],
        "kubernetes.io/dockercfg" => &[".dockercfg"],
        "kubernetes.io/dockerconfigjson" => &[".dockerconfigjson"],
        _ => &[],
    }
}

/// `ValidateSecret` (and, with `old`, `ValidateSecretUpdate`), on a secret
/// whose `stringData` is already merged.
pub(super) fn validate_secret(e: &mut Errs, obj: &Value, old: Option<&Value>) {
    let data = obj.get("data");
    validate_keys(e, "data", data, None);
    let size: usize = keys(data).map(|(_, v)| decoded_len(v)).sum();
    if size > MAX_SIZE {
        too_long(e, "data");
    }
    let has = |key: &str| data.and_then(|d| d.get(key)).is_some();
    let ty = str_at(obj, "type");
    match ty {
        "kubernetes.io/service-account-token" => {
            let annotations = obj.pointer("/metadata/annotations");
            let named = annotations.map(|a| str_at(a, "kubernetes.io/service-account.name")).unwrap_or("");
            if named.is_empty() {
                e.required("metadata.annotations[kubernetes.io/service-account.name]", "");
            }
        }
        "kubernetes.io/basic-auth" => {
            if !has("username") && !has("password") {
                e.required("data[username]", "");
                e.required("data[password]", "");
            }
        }
        "kubernetes.io/dockercfg" | "kubernetes.io/dockerconfigjson" => {
            let key = required_keys(ty)[0];
            match data.and_then(|d| d.get(key)) {
                None => e.required(format!("data[{key}]"), ""),
                Some(v) => {
                    let bytes = ByteString::deserialize(v).map(|b| b.0).unwrap_or_default();
                    if let Err(err) = serde_json::from_slice::<Value>(&bytes) {
                        e.invalid(format!("data[{key}]"), go_str("<secret contents redacted>"), err.to_string());
                    }
                }
            }
        }
        _ => {
            for key in required_keys(ty) {
                if !has(key) {
                    e.required(format!("data[{key}]"), "");
                }
            }
        }
    }
    if let Some(old) = old {
        let old_ty = str_at(old, "type");
        if ty != old_ty {
            e.invalid("type", go_str(ty), "field is immutable");
        }
        immutable_contents(e, obj, old, &["data"]);
    }
}

/// Once `immutable` is set it stays set, and the contents stay as they are.
fn immutable_contents(e: &mut Errs, new: &Value, old: &Value, fields: &[&str]) {
    if old.get("immutable").and_then(Value::as_bool) != Some(true) {
        return;
    }
    const WHY: &str = "field is immutable when `immutable` is set";
    if new.get("immutable").and_then(Value::as_bool) != Some(true) {
        e.forbidden("immutable", WHY);
    }
    let empty_as_none = |v: Option<&Value>| v.filter(|v| v.as_object().is_some_and(|m| !m.is_empty())).cloned();
    for field in fields {
        if empty_as_none(new.get(*field)) != empty_as_none(old.get(*field)) {
            e.forbidden(*field, WHY);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::lookup;
    use crate::validation::{apply_defaults, validate};
    use serde_json::json;

    fn secret(v: Value) -> Value {
        let mut s = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s", "namespace": "default"}});
        s.as_object_mut().unwrap().extend(v.as_object().unwrap().clone());
        merge_string_data(&mut s);
        apply_defaults(lookup("secrets").unwrap(), &mut s).unwrap();
        s
    }

    fn cm(v: Value) -> Value {
        let mut c = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "default"}});
        c.as_object_mut().unwrap().extend(v.as_object().unwrap().clone());
        c
    }

    fn secret_error(new: &Value, old: Option<&Value>) -> String {
        validate(lookup("secrets").unwrap(), new, old).unwrap_err().message
    }

    fn cm_error(new: &Value, old: Option<&Value>) -> String {
        validate(lookup("cm").unwrap(), new, old).unwrap_err().message
    }

    #[test]
    fn string_data_is_merged_into_data_base64_and_wins() {
        let s = secret(json!({"data": {"a": "eA==", "b": "eQ=="}, "stringData": {"b": "admin", "c": "p@ss"}}));
        assert_eq!(s["data"], json!({"a": "eA==", "b": "YWRtaW4=", "c": "cEBzcw=="}));
        assert!(s.get("stringData").is_none(), "stringData is never stored");
        assert_eq!(s["type"], "Opaque", "the type defaults to Opaque");
        let only = secret(json!({"stringData": {"k": ""}}));
        assert_eq!(only["data"], json!({"k": ""}));
        let null_data = secret(json!({"data": null, "stringData": {"k": "v"}}));
        assert_eq!(null_data["data"], json!({"k": "dg=="}));
    }

    #[test]
    fn string_data_or_data_that_are_not_maps_are_left_for_the_decode_to_refuse() {
        for written in [json!({"data": "abc", "stringData": {"k": "v"}}), json!({"stringData": "k=v"})] {
            let mut s = written.clone();
            merge_string_data(&mut s);
            assert_eq!(s, written, "nothing dropped or replaced");
        }
    }

    #[test]
    fn keys_must_be_config_keys() {
        for good in ["a", "sleep-interval", "tls.crt", ".dockerconfigjson", "KEY_NAME"] {
            assert!(config_key(good).is_empty(), "{good}");
        }
        let s = secret(json!({"stringData": {"a b": "x"}}));
        assert_eq!(
            secret_error(&s, None),
            "Secret \"s\" is invalid: data[a b]: Invalid value: \"a b\": a valid config key must consist of \
             alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex \
             used for validation is '[-._a-zA-Z0-9]+')"
        );
        assert_eq!(
            cm_error(&cm(json!({"data": {"..data": "x"}})), None),
            "ConfigMap \"c\" is invalid: data[..data]: Invalid value: \"..data\": must not start with '..'"
        );
        assert_eq!(config_key(".."), vec!["must not be '..'".to_string()]);
        assert_eq!(config_key(&"a".repeat(254)), vec![names::max_len_error(253)]);
        let both = cm(json!({"data": {"k": "v"}, "binaryData": {"k": "dg=="}}));
        assert_eq!(
            cm_error(&both, None),
            "ConfigMap \"c\" is invalid: [data[k]: Invalid value: \"k\": duplicate of key present in binaryData, \
             binaryData[k]: Invalid value: \"k\": duplicate of key present in data]"
        );
    }

    #[test]
    fn contents_are_limited_to_one_mebibyte() {
        let half = "x".repeat(MAX_SIZE / 2);
        let at_limit = cm(json!({"data": {"a": half, "b": half}}));
        assert!(validate(lookup("cm").unwrap(), &at_limit, None).is_ok());
        let over = cm(json!({"data": {"a": half, "b": format!("{half}x")}}));
        assert_eq!(
            cm_error(&over, None),
            "ConfigMap \"c\" is invalid: []: Too long: may not be more than 1048576 bytes"
        );
        let big = secret(json!({"stringData": {"a": half, "b": format!("{half}x")}}));
        assert_eq!(
            secret_error(&big, None),
            "Secret \"s\" is invalid: data: Too long: may not be more than 1048576 bytes"
        );
    }

    #[test]
    fn each_secret_type_requires_its_keys() {
        let tls = secret(json!({"type": "kubernetes.io/tls", "stringData": {"tls.crt": "c"}}));
        assert_eq!(secret_error(&tls, None), "Secret \"s\" is invalid: data[tls.key]: Required value");
        let none = secret(json!({"type": "kubernetes.io/tls"}));
        assert_eq!(
            secret_error(&none, None),
            "Secret \"s\" is invalid: [data[tls.crt]: Required value, data[tls.key]: Required value]"
        );
        let ok = secret(json!({"type": "kubernetes.io/tls", "stringData": {"tls.crt": "c", "tls.key": "k"}}));
        assert!(validate(lookup("secrets").unwrap(), &ok, None).is_ok());
        let docker =
            secret(json!({"type": "kubernetes.io/dockerconfigjson", "stringData": {".dockerconfigjson": "{"}}));
        assert!(secret_error(&docker, None).starts_with(
            "Secret \"s\" is invalid: data[.dockerconfigjson]: Invalid value: \"<secret contents redacted>\": "
        ));
        let token = secret(json!({"type": "kubernetes.io/service-account-token"}));
        assert_eq!(
            secret_error(&token, None),
            "Secret \"s\" is invalid: metadata.annotations[kubernetes.io/service-account.name]: Required value"
        );
    }

    #[test]
    fn immutable_contents_and_types_do_not_change() {
        let old = secret(json!({"immutable": true, "stringData": {"a": "1"}}));
        let changed = secret(json!({"immutable": true, "stringData": {"a": "2"}}));
        assert_eq!(
            secret_error(&changed, Some(&old)),
            "Secret \"s\" is invalid: data: Forbidden: field is immutable when `immutable` is set"
        );
        let unset = secret(json!({"immutable": false, "stringData": {"a": "1"}}));
        assert_eq!(
            secret_error(&unset, Some(&old)),
            "Secret \"s\" is invalid: immutable: Forbidden: field is immutable when `immutable` is set"
        );
        let mut labelled = old.clone();
        labelled["metadata"]["labels"] = json!({"app": "x"});
        assert!(validate(lookup("secrets").unwrap(), &labelled, Some(&old)).is_ok(), "metadata may change");
        let mutable = secret(json!({"stringData": {"a": "1"}}));
        let retyped = secret(json!({"type": "Other", "stringData": {"a": "1"}}));
        assert_eq!(
            secret_error(&retyped, Some(&mutable)),
            "Secret \"s\" is invalid: type: Invalid value: \"Other\": field is immutable"
        );
        let old_cm = cm(json!({"immutable": true, "data": {"k": "v"}}));
        let new_cm = cm(json!({"immutable": true, "data": {"k": "w"}}));
        assert_eq!(
            cm_error(&new_cm, Some(&old_cm)),
            "ConfigMap \"c\" is invalid: data: Forbidden: field is immutable when `immutable` is set"
        );
    }
}
