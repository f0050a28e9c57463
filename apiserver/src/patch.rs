//! The three patch formats Kubernetes accepts: JSON merge patch (RFC 7386),
//! JSON patch (RFC 6902), and strategic merge patch.
//!
//! Strategic merge is Kubernetes' own: like a merge patch, but lists of named
//! things (containers, ports, env, volumes, conditions, ...) merge element by
//! element on their merge key instead of being replaced whole, and an element
//! holding `"$patch": "delete"` removes its match. kubelab knows the merge keys
//! of the lists users patch; any other list is replaced, as in a merge patch.

use api::ApiError;
use proto::PatchType;
use serde_json::{Map, Value};

/// Applies `patch` of the given type to `target`.
pub fn apply(target: &Value, patch_type: PatchType, patch: &Value) -> Result<Value, ApiError> {
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
        PatchType::StrategicMerge => {
            require_object(patch)?;
            strategic_merge(&mut out, patch, "");
        }
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

/// The merge key of a list field, by its name and the elements it holds.
fn merge_key(field: &str, elements: &[Value]) -> Option<&'static str> {
    let has = |k: &str| elements.iter().all(|e| e.get(k).is_some());
    match field {
        "containers" | "initContainers" | "ephemeralContainers" | "env" | "volumes" | "imagePullSecrets" => {
            Some("name")
        }
        "volumeMounts" => Some("mountPath"),
        "conditions" => Some("type"),
        "ownerReferences" => Some("uid"),
        "hostAliases" => Some("ip"),
        "ports" if has("containerPort") => Some("containerPort"),
        "ports" if has("port") => Some("port"),
        _ => None,
    }
}

fn strategic_merge(target: &mut Value, patch: &Value, field: &str) {
    match (target, patch) {
        (Value::Object(t), Value::Object(p)) => merge_maps(t, p),
        (Value::Array(t), Value::Array(p)) => {
            let key = merge_key(field, p).filter(|k| t.iter().all(|e| e.get(*k).is_some()));
            match key {
                Some(k) => merge_lists(t, p, k),
                None => *t = p.iter().filter(|e| !is_delete_directive(e)).cloned().collect(),
            }
        }
        (t, p) => *t = p.clone(),
    }
}

fn merge_maps(target: &mut Map<String, Value>, patch: &Map<String, Value>) {
    for (k, v) in patch {
        if v.is_null() {
            target.remove(k);
        } else if let Some(existing) = target.get_mut(k) {
            strategic_merge(existing, v, k);
        } else {
            let mut fresh = v.clone();
            strip_nulls(&mut fresh);
            target.insert(k.clone(), fresh);
        }
    }
}

fn merge_lists(target: &mut Vec<Value>, patch: &[Value], key: &str) {
    for item in patch {
        let id = &item[key];
        let pos = target.iter().position(|e| &e[key] == id);
        match (pos, is_delete_directive(item)) {
            (Some(i), true) => {
                target.remove(i);
            }
            (None, true) => {}
            (Some(i), false) => strategic_merge(&mut target[i], item, ""),
            (None, false) => target.push(item.clone()),
        }
    }
}

fn is_delete_directive(v: &Value) -> bool {
    v.get("$patch").and_then(Value::as_str) == Some("delete")
}

fn strip_nulls(v: &mut Value) {
    if let Value::Object(m) = v {
        m.retain(|_, x| !x.is_null());
        m.values_mut().for_each(strip_nulls);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod() -> Value {
        json!({"metadata": {"name": "p", "labels": {"a": "1", "b": "2"}},
               "spec": {"containers": [{"name": "web", "image": "v1", "ports": [{"containerPort": 80}]},
                                       {"name": "side", "image": "s1"}]}})
    }

    #[test]
    fn merge_patch_sets_and_removes_labels() {
        let out = apply(&pod(), PatchType::Merge, &json!({"metadata": {"labels": {"a": null, "c": "3"}}})).unwrap();
        assert_eq!(out["metadata"]["labels"], json!({"b": "2", "c": "3"}));
    }

    #[test]
    fn merge_patch_replaces_lists_whole() {
        let out = apply(&pod(), PatchType::Merge, &json!({"spec": {"containers": [{"name": "web", "image": "v2"}]}}))
            .unwrap();
        assert_eq!(out["spec"]["containers"], json!([{"name": "web", "image": "v2"}]));
    }

    #[test]
    fn strategic_merge_patches_one_container_by_name() {
        let out = apply(
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
        let out = apply(&pod(), PatchType::StrategicMerge, &patch).unwrap();
        assert_eq!(out["spec"]["containers"].as_array().unwrap().len(), 1);
    }

    #[test]
    fn json_patch_applies_and_reports_failures() {
        let ops = json!([{"op": "replace", "path": "/metadata/labels/a", "value": "9"}]);
        assert_eq!(apply(&pod(), PatchType::Json, &ops).unwrap()["metadata"]["labels"]["a"], "9");
        let bad = json!([{"op": "remove", "path": "/metadata/nope"}]);
        let err = apply(&pod(), PatchType::Json, &bad).unwrap_err();
        assert!(err.message.contains("does not apply"), "{}", err.message);
        assert!(apply(&pod(), PatchType::Merge, &json!([1])).is_err());
    }
}
