//! The patches `apply` and `edit` send.
//!
//! `apply` computes a three-way merge between the last-applied configuration
//! (the `kubectl.kubernetes.io/last-applied-configuration` annotation), the new
//! manifest, and the live object, and sends it as a JSON merge patch (RFC 7386).
//!
//! Deviation from kubectl: kubectl sends a *strategic* merge patch for built-in
//! kinds, which merges lists by key (containers by name, ports by port). kubelab
//! keeps to JSON merge-patch semantics: a list the user changed is replaced
//! whole. To avoid reporting `configured` for lists the server only filled in
//! defaults for (`protocol: TCP` on a port), a manifest list that is a
//! field-by-field subset of the live list counts as unchanged.

use serde_json::{Map, Value};

/// The annotation holding what was last applied.
pub const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// The annotation's value for a manifest: compact JSON with sorted keys and a
/// trailing newline, without the annotation itself (but with the
/// `annotations` map kubectl leaves behind, even when empty).
pub fn last_applied(manifest: &Value) -> String {
    let mut copy = manifest.clone();
    let meta = api::meta::metadata_mut(&mut copy);
    let annotations = meta.entry("annotations").or_insert_with(|| Value::Object(Map::new()));
    if let Some(a) = annotations.as_object_mut() {
        a.remove(LAST_APPLIED);
    } else {
        *annotations = Value::Object(Map::new());
    }
    let mut text = serde_json::to_string(&copy).expect("JSON values serialize");
    text.push('\n');
    text
}

/// The manifest with its last-applied annotation set.
pub fn with_last_applied(manifest: &Value) -> Value {
    let annotation = last_applied(manifest);
    let mut obj = manifest.clone();
    let meta = api::meta::metadata_mut(&mut obj);
    let annotations = meta.entry("annotations").or_insert_with(|| Value::Object(Map::new()));
    if !annotations.is_object() {
        *annotations = Value::Object(Map::new());
    }
    annotations.as_object_mut().expect("an object").insert(LAST_APPLIED.into(), Value::String(annotation));
    obj
}

/// The previously applied configuration recorded on a live object, if any.
pub fn recorded(live: &Value) -> Option<Value> {
    api::meta::annotations(live).get(LAST_APPLIED).and_then(|s| serde_json::from_str(s).ok())
}

/// The merge patch that takes `current` to `modified`, deleting what was in
/// `original` (last applied) and is no longer in `modified`. `{}` means no change.
pub fn three_way(original: Option<&Value>, modified: &Value, current: &Value) -> Value {
    match (modified.as_object(), current.as_object()) {
        (Some(m), Some(c)) => Value::Object(diff3(original.and_then(Value::as_object), m, c)),
        _ => modified.clone(),
    }
}

fn diff3(
    original: Option<&Map<String, Value>>,
    modified: &Map<String, Value>,
    current: &Map<String, Value>,
) -> Map<String, Value> {
    let mut patch = Map::new();
    for (k, mv) in modified {
        let cv = current.get(k);
        match (mv, cv) {
            (Value::Object(mo), Some(Value::Object(co))) => {
                let ov = original.and_then(|o| o.get(k)).and_then(Value::as_object);
                let sub = diff3(ov, mo, co);
                if !sub.is_empty() {
                    patch.insert(k.clone(), Value::Object(sub));
                }
            }
            (Value::Array(_), Some(c @ Value::Array(_))) if subset(mv, c) => {}
            (Value::Null, None) => {}
            _ if Some(mv) == cv => {}
            _ => {
                patch.insert(k.clone(), mv.clone());
            }
        }
    }
    if let Some(original) = original {
        for k in original.keys() {
            if !modified.contains_key(k) && current.contains_key(k) {
                patch.insert(k.clone(), Value::Null);
            }
        }
    }
    patch
}

/// Whether every field of `a` is in `b` with the same value (lists element by element).
fn subset(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Object(ao), Value::Object(bo)) => ao.iter().all(|(k, av)| bo.get(k).is_some_and(|bv| subset(av, bv))),
        (Value::Array(aa), Value::Array(ba)) => aa.len() == ba.len() && aa.iter().zip(ba).all(|(x, y)| subset(x, y)),
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        _ => a == b,
    }
}

/// The JSON merge patch from `original` to `modified` (what `edit` sends).
pub fn two_way(original: &Value, modified: &Value) -> Value {
    match (original.as_object(), modified.as_object()) {
        (Some(o), Some(m)) => {
            let mut patch = Map::new();
            for (k, mv) in m {
                match o.get(k) {
                    Some(ov) if ov == mv => {}
                    Some(ov @ Value::Object(_)) if mv.is_object() => {
                        patch.insert(k.clone(), two_way(ov, mv));
                    }
                    _ => {
                        patch.insert(k.clone(), mv.clone());
                    }
                }
            }
            for k in o.keys() {
                if !m.contains_key(k) {
                    patch.insert(k.clone(), Value::Null);
                }
            }
            Value::Object(patch)
        }
        _ => modified.clone(),
    }
}

/// Whether a patch changes nothing.
pub fn is_empty_patch(patch: &Value) -> bool {
    patch.as_object().is_some_and(Map::is_empty)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn manifest() -> Value {
        json!({"apiVersion": "v1", "kind": "Pod",
               "metadata": {"name": "kubia", "namespace": "default", "labels": {"app": "kubia", "env": "prod"}},
               "spec": {"containers": [{"name": "kubia", "image": "luksa/kubia", "ports": [{"containerPort": 8080}]}]}})
    }

    /// The live object as the server would hold it after `apply` created it.
    fn live(applied: &Value) -> Value {
        let mut l = applied.clone();
        l["metadata"]["uid"] = json!("u-1");
        l["metadata"]["resourceVersion"] = json!("42");
        l["spec"]["containers"][0]["ports"][0]["protocol"] = json!("TCP");
        l["spec"]["containers"][0]["imagePullPolicy"] = json!("Always");
        l["spec"]["restartPolicy"] = json!("Always");
        l["status"] = json!({"phase": "Running"});
        l
    }

    #[test]
    fn the_annotation_is_compact_json_without_itself() {
        let a = last_applied(&with_last_applied(&manifest()));
        assert!(a.ends_with("}\n"));
        let v: Value = serde_json::from_str(&a).unwrap();
        assert_eq!(v["metadata"]["annotations"], json!({}));
        assert!(a.starts_with(r#"{"apiVersion":"v1","kind":"Pod","metadata":{"annotations":{},"labels""#), "{a}");
    }

    #[test]
    fn reapplying_the_same_manifest_changes_nothing() {
        let applied = with_last_applied(&manifest());
        let current = live(&applied);
        let patch = three_way(recorded(&current).as_ref(), &with_last_applied(&manifest()), &current);
        assert!(is_empty_patch(&patch), "{patch}");
    }

    #[test]
    fn changed_and_removed_fields_are_patched() {
        let current = live(&with_last_applied(&manifest()));
        let mut next = manifest();
        next["metadata"]["labels"] = json!({"app": "kubia"});
        next["spec"]["containers"][0]["image"] = json!("luksa/kubia:v2");
        let modified = with_last_applied(&next);
        let patch = three_way(recorded(&current).as_ref(), &modified, &current);
        assert_eq!(patch["metadata"]["labels"], json!({"env": null}));
        assert_eq!(patch["spec"]["containers"][0]["image"], "luksa/kubia:v2", "lists are replaced whole");
        assert_eq!(patch["metadata"]["annotations"][LAST_APPLIED], modified["metadata"]["annotations"][LAST_APPLIED]);
        assert!(patch.get("status").is_none(), "fields apply never set are left alone");
        assert!(patch["spec"].get("restartPolicy").is_none());
    }

    #[test]
    fn fields_set_by_others_survive_unless_applied_before() {
        let mut current = live(&with_last_applied(&manifest()));
        current["metadata"]["labels"]["added-by-label"] = json!("yes");
        let patch = three_way(recorded(&current).as_ref(), &with_last_applied(&manifest()), &current);
        assert!(is_empty_patch(&patch), "{patch}");
    }

    #[test]
    fn without_a_record_nothing_is_deleted() {
        let mut current = live(&manifest());
        current["metadata"]["labels"]["extra"] = json!("x");
        let patch = three_way(None, &with_last_applied(&manifest()), &current);
        assert!(patch["metadata"]["labels"].is_null() || patch["metadata"].get("labels").is_none());
        assert!(patch["metadata"]["annotations"][LAST_APPLIED].is_string());
    }

    #[test]
    fn two_way_patches_for_edit() {
        let before = json!({"metadata": {"name": "a", "labels": {"x": "1", "y": "2"}}, "spec": {"replicas": 3}});
        let after = json!({"metadata": {"name": "a", "labels": {"x": "1", "z": "3"}}, "spec": {"replicas": 10}});
        assert_eq!(
            two_way(&before, &after),
            json!({"metadata": {"labels": {"y": null, "z": "3"}}, "spec": {"replicas": 10}})
        );
        assert!(is_empty_patch(&two_way(&before, &before)));
    }
}
