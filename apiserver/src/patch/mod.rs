//! The patch formats Kubernetes accepts: JSON merge patch (RFC 7386), JSON
//! patch (RFC 6902), strategic merge patch ([`strategic`], lists merged by
//! Kubernetes' patch metadata in [`schema`]) and server-side apply
//! ([`managed`], which also keeps `metadata.managedFields` on every write).

pub mod managed;
pub mod schema;
pub mod strategic;

use api::ApiError;
use proto::PatchType;
use serde_json::Value;

/// Applies `patch` of the given type to `target`, an object of `kind`.
/// Server-side apply is not a patch of this kind: see [`managed::apply`].
pub fn apply(target: &Value, patch_type: PatchType, patch: &Value, kind: &'static str) -> Result<Value, ApiError> {
    let mut out = target.clone();
    match patch_type {
        PatchType::Merge => {
            require_object(patch)?;
            json_patch::merge(&mut out, patch);
        }
        PatchType::Json => {
            let ops: json_patch::Patch = serde_json::from_value(patch.clone())
                .map_err(|e| ApiError::bad_request(format!("the JSON patch is not a list of operations: {e}")))?;
            json_patch::patch(&mut out, &ops)
                .map_err(|e| ApiError::new(api::Reason::Invalid, format!("the JSON patch does not apply: {e}")))?;
        }
        PatchType::StrategicMerge => strategic::apply(&mut out, patch, kind)?,
        PatchType::Apply => return Err(ApiError::internal("server-side apply is not a plain patch")),
    }
    Ok(out)
}

fn require_object(patch: &Value) -> Result<(), ApiError> {
    if patch.is_object() {
        Ok(())
    } else {
        Err(ApiError::bad_request(format!("a merge patch must be a JSON object, not {}", kind_of(patch))))
    }
}

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

/// A strategic merge patch that does not apply, worded as apimachinery words it.
fn smp_error(message: impl Into<String>) -> ApiError {
    ApiError::bad_request(message)
}

/// A JSON value as Go's `%v` prints it once decoded into `interface{}`
/// (`map[image:v2 name:web]`, `[a b]`): how apimachinery's patch errors quote
/// the offending part of a patch.
pub(crate) fn go_value(v: &Value) -> String {
    let mut out = String::new();
    write_go(&mut out, v);
    out
}

fn write_go(out: &mut String, v: &Value) {
    match v {
        Value::Null => out.push_str("<nil>"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&n.to_string()),
        Value::String(s) => out.push_str(s),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                write_go(out, item);
            }
            out.push(']');
        }
        Value::Object(m) => {
            out.push_str("map[");
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                out.push_str(k);
                out.push(':');
                write_go(out, &m[k]);
            }
            out.push(']');
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn apply_pod(target: &Value, patch_type: PatchType, patch: &Value) -> Result<Value, ApiError> {
        apply(target, patch_type, patch, "Pod")
    }

    fn pod() -> Value {
        json!({"metadata": {"name": "p", "labels": {"a": "1", "b": "2"}},
               "spec": {"containers": [{"name": "web", "image": "v1", "ports": [{"containerPort": 80}]},
                                       {"name": "side", "image": "s1"}]}})
    }

    #[test]
    fn merge_patch_sets_and_removes_labels() {
        let out = apply_pod(&pod(), PatchType::Merge, &json!({"metadata": {"labels": {"a": null, "c": "3"}}})).unwrap();
        assert_eq!(out["metadata"]["labels"], json!({"b": "2", "c": "3"}));
    }

    #[test]
    fn merge_patch_replaces_lists_whole() {
        let out =
            apply_pod(&pod(), PatchType::Merge, &json!({"spec": {"containers": [{"name": "web", "image": "v2"}]}}))
                .unwrap();
        assert_eq!(out["spec"]["containers"], json!([{"name": "web", "image": "v2"}]));
    }

    #[test]
    fn strategic_merge_patches_one_container_by_name() {
        let out = apply_pod(
            &pod(),
            PatchType::StrategicMerge,
            &json!({"spec": {"containers": [{"name": "web", "image": "v2"}]}}),
        )
        .unwrap();
        let cs = out["spec"]["containers"].as_array().unwrap();
        assert_eq!(cs.len(), 2);
        assert_eq!(cs[0]["image"], "v2");
        assert_eq!(cs[0]["ports"], json!([{"containerPort": 80}]));
        assert_eq!(cs[1]["image"], "s1");
    }

    #[test]
    fn strategic_merge_deletes_by_directive() {
        let patch = json!({"spec": {"containers": [{"name": "side", "$patch": "delete"}]}});
        let out = apply_pod(&pod(), PatchType::StrategicMerge, &patch).unwrap();
        assert_eq!(out["spec"]["containers"].as_array().unwrap().len(), 1);
    }

    #[test]
    fn json_patch_applies_and_reports_failures() {
        let ops = json!([{"op": "replace", "path": "/metadata/labels/a", "value": "9"}]);
        assert_eq!(apply_pod(&pod(), PatchType::Json, &ops).unwrap()["metadata"]["labels"]["a"], "9");
        let bad = json!([{"op": "remove", "path": "/metadata/nope"}]);
        let err = apply_pod(&pod(), PatchType::Json, &bad).unwrap_err();
        assert!(err.message.contains("does not apply"), "{}", err.message);
        assert!(apply_pod(&pod(), PatchType::Merge, &json!([1])).is_err());
    }
}
