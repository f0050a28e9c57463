//! Label and field selectors applied to stored objects, for lists and watches.

use api::selector::{FieldSelector, LabelSelector};
use api::{meta, ApiError, ResourceInfo};
use serde_json::value::RawValue;
use serde_json::Value;
use std::collections::HashMap;

type Result<T, E = ApiError> = std::result::Result<T, E>;

/// Whether an object passes a watch's or list's selectors.
pub(super) struct Filter {
    labels: LabelSelector,
    fields: FieldSelector,
    /// The members the selectors read (`["metadata", "labels"]`, `["spec", "nodeName"]`).
    paths: Vec<Vec<String>>,
}

impl Filter {
    pub(super) fn new(info: &ResourceInfo, label_selector: &str, field_selector: &str) -> Result<Self> {
        let labels = LabelSelector::parse(label_selector)?;
        let fields = FieldSelector::parse(info, field_selector)?;
        let mut paths: Vec<Vec<String>> =
            fields.requirements().iter().map(|r| r.field.split('.').map(str::to_string).collect()).collect();
        if !labels.is_empty() {
            paths.push(vec!["metadata".to_string(), "labels".to_string()]);
        }
        Ok(Self { labels, fields, paths })
    }
    fn is_empty(&self) -> bool {
        self.labels.is_empty() && self.fields.is_empty()
    }
    fn matches(&self, obj: &Value) -> bool {
        (self.labels.is_empty() || self.labels.matches(&meta::labels(obj)))
            && (self.fields.is_empty() || self.fields.matches(obj))
    }
    /// Matches stored bytes, decoding only the members the selectors read:
    /// every watcher with a selector checks every event (and its previous
    /// version), so decoding whole pods here was a tenth of the apiserver's
    /// CPU in the density benchmark.
    pub(super) fn matches_raw(&self, json: &[u8]) -> Result<bool> {
        if self.is_empty() {
            return Ok(true);
        }
        let selected = decode_paths(json, &self.paths)
            .map_err(|e| ApiError::internal(format!("stored object is not JSON: {e}")))?;
        Ok(self.matches(&selected))
    }
}

/// Decodes the members of a JSON object that lie on `paths` (member names
/// from the top) and nothing else; the rest is only scanned. Members a path
/// names but the object lacks are absent from the result too.
fn decode_paths(json: &[u8], paths: &[Vec<String>]) -> serde_json::Result<Value> {
    let raw: &RawValue = serde_json::from_slice(json)?;
    let paths: Vec<&[String]> = paths.iter().map(Vec::as_slice).collect();
    pick(raw, &paths)
}

fn pick(raw: &RawValue, paths: &[&[String]]) -> serde_json::Result<Value> {
    // A path that ends here wants the whole member; a value that is not an
    // object has no members to pick from.
    if paths.iter().any(|p| p.is_empty()) {
        return serde_json::from_str(raw.get());
    }
    let Ok(members) = serde_json::from_str::<HashMap<String, &RawValue>>(raw.get()) else {
        return serde_json::from_str(raw.get());
    };
    let mut picked = serde_json::Map::new();
    for (name, member) in members {
        let deeper: Vec<&[String]> = paths.iter().filter(|p| p[0] == name).map(|p| &p[1..]).collect();
        if !deeper.is_empty() {
            picked.insert(name, pick(member, &deeper)?);
        }
    }
    Ok(Value::Object(picked))
}

#[cfg(test)]
mod tests {
    use super::*;
    use api::registry::lookup;
    use serde_json::json;

    fn pods() -> &'static ResourceInfo {
        lookup("pods").unwrap()
    }

    #[test]
    fn selectors_on_stored_bytes_decide_as_on_the_whole_object() {
        let objects = [
            json!({"metadata": {"name": "a", "namespace": "ns", "labels": {"app": "web", "env": "prod"}},
                   "spec": {"nodeName": "node-1", "restartPolicy": "Always"}, "status": {"phase": "Running"}}),
            json!({"metadata": {"name": "b", "namespace": "ns", "labels": {"app": "db"}},
                   "spec": {"nodeName": ""}, "status": {"phase": "Pending", "podIPs": [{"ip": "10.0.0.1"}]}}),
            json!({"metadata": {"name": "c\"q", "namespace": "other"}, "spec": null}),
            json!({"metadata": {"name": "d", "namespace": "ns", "labels": {"app": "web"}}, "spec": "odd"}),
        ];
        let selectors = [
            ("", "spec.nodeName!="),
            ("", "spec.nodeName=node-1,status.phase=Running"),
            ("app=web", ""),
            ("app in (web,db),!env", "metadata.namespace=ns"),
            ("env", "metadata.name=c\"q"),
            ("", "status.podIPs!="),
            ("", "metadata.name=d,spec.restartPolicy="),
        ];
        for (labels, fields) in selectors {
            let filter = Filter::new(pods(), labels, fields).unwrap();
            for obj in &objects {
                let json = serde_json::to_vec(obj).unwrap();
                assert_eq!(
                    filter.matches_raw(&json).unwrap(),
                    filter.matches(obj),
                    "labels {labels:?}, fields {fields:?} on {obj}"
                );
            }
        }
    }

    #[test]
    fn decoding_a_path_leaves_the_rest_of_the_object_out() {
        let json =
            br#"{"kind":"Pod","metadata":{"name":"a","labels":{"x":"1"}},"spec":{"nodeName":"n","containers":[{}]}}"#;
        let paths = vec![vec!["metadata".to_string(), "labels".to_string()], vec!["spec".into(), "nodeName".into()]];
        assert_eq!(
            decode_paths(json, &paths).unwrap(),
            json!({"metadata": {"labels": {"x": "1"}}, "spec": {"nodeName": "n"}})
        );
        assert!(decode_paths(b"{not json", &paths).is_err());
    }
}
