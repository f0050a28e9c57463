//! Accessors for `metadata` on objects held as JSON values, the form every
//! generic path (apiserver registry, kubectl printers) works with.

use serde_json::{Map, Value};
use std::collections::BTreeMap;

fn str_at<'a>(obj: &'a Value, path: &[&str]) -> Option<&'a str> {
    path.iter().try_fold(obj, |v, k| v.get(*k)).and_then(Value::as_str)
}

pub fn api_version(obj: &Value) -> &str {
    str_at(obj, &["apiVersion"]).unwrap_or("")
}
pub fn kind(obj: &Value) -> &str {
    str_at(obj, &["kind"]).unwrap_or("")
}
pub fn name(obj: &Value) -> &str {
    str_at(obj, &["metadata", "name"]).unwrap_or("")
}
pub fn generate_name(obj: &Value) -> &str {
    str_at(obj, &["metadata", "generateName"]).unwrap_or("")
}
pub fn namespace(obj: &Value) -> &str {
    str_at(obj, &["metadata", "namespace"]).unwrap_or("")
}
pub fn uid(obj: &Value) -> &str {
    str_at(obj, &["metadata", "uid"]).unwrap_or("")
}
pub fn resource_version(obj: &Value) -> &str {
    str_at(obj, &["metadata", "resourceVersion"]).unwrap_or("")
}
pub fn creation_timestamp(obj: &Value) -> &str {
    str_at(obj, &["metadata", "creationTimestamp"]).unwrap_or("")
}
pub fn deletion_timestamp(obj: &Value) -> Option<&str> {
    str_at(obj, &["metadata", "deletionTimestamp"])
}

/// A string map under `metadata` (`labels` or `annotations`); empty when absent.
pub fn string_map(obj: &Value, field: &str) -> BTreeMap<String, String> {
    obj.get("metadata")
        .and_then(|m| m.get(field))
        .and_then(Value::as_object)
        .map(|m| m.iter().map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string())).collect())
        .unwrap_or_default()
}
/// `metadata.finalizers`; empty when absent.
pub fn finalizers(obj: &Value) -> Vec<&str> {
    let list = obj.get("metadata").and_then(|m| m.get("finalizers")).and_then(Value::as_array);
    list.map(|a| a.iter().filter_map(Value::as_str).collect()).unwrap_or_default()
}
pub fn labels(obj: &Value) -> BTreeMap<String, String> {
    string_map(obj, "labels")
}
pub fn annotations(obj: &Value) -> BTreeMap<String, String> {
    string_map(obj, "annotations")
}

/// `metadata` as a mutable map, created if missing (or if not an object).
pub fn metadata_mut(obj: &mut Value) -> &mut Map<String, Value> {
    if !obj.is_object() {
        *obj = Value::Object(Map::new());
    }
    let map = obj.as_object_mut().expect("just made an object");
    let meta = map.entry("metadata").or_insert_with(|| Value::Object(Map::new()));
    if !meta.is_object() {
        *meta = Value::Object(Map::new());
    }
    meta.as_object_mut().expect("just made an object")
}

pub fn set_meta(obj: &mut Value, field: &str, value: impl Into<Value>) {
    metadata_mut(obj).insert(field.to_string(), value.into());
}
pub fn remove_meta(obj: &mut Value, field: &str) -> Option<Value> {
    metadata_mut(obj).remove(field)
}
pub fn set_resource_version(obj: &mut Value, rv: i64) {
    set_meta(obj, "resourceVersion", rv.to_string());
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_and_writes_metadata() {
        let mut pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "a", "labels": {"app": "x"}}});
        assert_eq!(name(&pod), "a");
        assert_eq!(namespace(&pod), "");
        assert_eq!(labels(&pod).get("app").map(String::as_str), Some("x"));
        set_resource_version(&mut pod, 42);
        assert_eq!(resource_version(&pod), "42");
        let mut empty = json!(null);
        set_meta(&mut empty, "name", "b");
        assert_eq!(name(&empty), "b");
    }
}
