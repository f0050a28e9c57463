//! `kubectl describe` for kinds without a layout of their own: every field,
//! titled as kubectl's unstructured describer titles them.

use super::writer::Writer;
use serde_json::Value;

/// Any kind, read as JSON: its metadata through `api::meta`, then every field.
pub fn generic(w: &mut Writer, obj: &Value) {
    w.w(0, &format!("Name:\t{}\n", api::meta::name(obj)));
    if !api::meta::namespace(obj).is_empty() {
        w.w(0, &format!("Namespace:\t{}\n", api::meta::namespace(obj)));
    }
    w.labels("", "Labels", &api::meta::labels(obj));
    w.annotations("", "Annotations", &api::meta::annotations(obj));
    const SKIP: [&str; 5] = [
        ".metadata.managedFields",
        ".metadata.name",
        ".metadata.namespace",
        ".metadata.labels",
        ".metadata.annotations",
    ];
    if let Some(map) = obj.as_object() {
        unstructured(w, 0, map, "", &SKIP);
    }
}

fn unstructured(w: &mut Writer, level: usize, map: &serde_json::Map<String, Value>, prefix: &str, skip: &[&str]) {
    for (field, value) in map {
        let path = format!("{prefix}.{field}");
        if skip.contains(&path.as_str()) {
            continue;
        }
        match value {
            Value::Object(inner) => {
                w.w(level, &format!("{}:\n", smart_label(field)));
                unstructured(w, level + 1, inner, &path, skip);
            }
            Value::Array(items) => {
                w.w(level, &format!("{}:\n", smart_label(field)));
                for item in items {
                    match item {
                        Value::Object(inner) => unstructured(w, level + 1, inner, &path, skip),
                        Value::String(s) => w.w(level + 1, &format!("{s}\n")),
                        other => w.w(level + 1, &format!("{other}\n")),
                    }
                }
            }
            Value::String(s) => w.w(level, &format!("{}:\t{s}\n", smart_label(field))),
            Value::Null => w.w(level, &format!("{}:\t<nil>\n", smart_label(field))),
            other => w.w(level, &format!("{}:\t{other}\n", smart_label(field))),
        }
    }
}

/// The words of a field name as describe titles them: `apiVersion` → `API Version`.
pub fn smart_label(field: &str) -> String {
    if field.chars().any(|c| !c.is_alphabetic() && c != '-') {
        return field.to_string();
    }
    const ACRONYMS: [&str; 5] = ["API", "URL", "UID", "OSB", "GUID"];
    camel_words(field)
        .into_iter()
        .map(|part| {
            let upper = part.to_uppercase();
            if ACRONYMS.contains(&upper.as_str()) {
                upper
            } else {
                let mut c = part.chars();
                c.next().map(|f| f.to_uppercase().chain(c).collect()).unwrap_or_default()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Splits camelCase into words; a run of capitals before a lowercase letter
/// gives its last capital to the next word (`podIP` → pod IP, `HTMLParser` → HTML Parser).
fn camel_words(s: &str) -> Vec<String> {
    let mut runs: Vec<(bool, String)> = Vec::new();
    for c in s.chars() {
        let upper = c.is_uppercase();
        match runs.last_mut() {
            Some((u, run)) if *u == upper => run.push(c),
            _ => runs.push((upper, c.to_string())),
        }
    }
    for i in 0..runs.len().saturating_sub(1) {
        if runs[i].0 && !runs[i + 1].0 {
            let last = runs[i].1.pop().expect("non-empty run");
            runs[i + 1].1.insert(0, last);
        }
    }
    runs.into_iter().map(|(_, r)| r).filter(|r| !r.is_empty()).collect()
}

#[cfg(test)]
mod tests {
    use super::super::{describe, Related};
    use super::*;
    use jiff::Timestamp;
    use serde_json::json;

    fn now() -> Timestamp {
        "2021-10-27T10:00:00Z".parse().unwrap()
    }

    #[test]
    fn other_kinds_use_the_generic_layout() {
        let lease = json!({"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
            "metadata": {"name": "n1", "namespace": "kube-node-lease", "uid": "x", "resourceVersion": "5"},
            "spec": {"holderIdentity": "n1", "leaseDurationSeconds": 40}});
        let text = describe(api::registry::lookup("leases").unwrap(), &lease, &Related::default(), now());
        assert_eq!(
            text,
            "\
Name:         n1
Namespace:    kube-node-lease
Labels:       <none>
Annotations:  <none>
API Version:  coordination.k8s.io/v1
Kind:         Lease
Metadata:
  Resource Version:  5
  UID:               x
Spec:
  Holder Identity:         n1
  Lease Duration Seconds:  40
"
        );
    }

    #[test]
    fn smart_labels() {
        assert_eq!(smart_label("apiVersion"), "API Version");
        assert_eq!(smart_label("creationTimestamp"), "Creation Timestamp");
        assert_eq!(smart_label("uid"), "UID");
        assert_eq!(smart_label("podIP"), "Pod IP");
        assert_eq!(smart_label("HTMLParser"), "HTML Parser");
        assert_eq!(smart_label("x509"), "x509");
    }
}
