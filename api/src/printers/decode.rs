//! The server's JSON of an object as its `k8s-openapi` struct, for code that
//! reads one kind's fields (the printers here, kubectl's describers).

use serde::de::DeserializeOwned;
use serde_json::Value;

/// `obj` as the typed `T`. Its apiVersion and kind are left out: a typed
/// struct accepts only its own version, and the same fields may arrive under
/// an older version the server still serves (the book's `batch/v1beta1` CronJobs).
pub fn decode<T: DeserializeOwned>(obj: &Value) -> Result<T, serde_json::Error> {
    let mut v = match obj {
        Value::Object(map) => Value::Object(
            map.iter()
                .filter(|(k, _)| k.as_str() != "apiVersion" && k.as_str() != "kind")
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        ),
        other => other.clone(),
    };
    quantities_as_strings(&mut v);
    serde_json::from_value(v)
}

/// Maps of quantities, and the lone quantity an emptyDir has.
const QUANTITY_MAPS: [&str; 5] = ["requests", "limits", "capacity", "allocatable", "overhead"];

/// Quantities written as bare numbers (`cpu: 1`), which the apiserver
/// accepts and keeps, as the strings the typed `Quantity` reads.
fn quantities_as_strings(v: &mut Value) {
    match v {
        Value::Object(map) => {
            for (k, inner) in map.iter_mut() {
                if QUANTITY_MAPS.contains(&k.as_str()) {
                    for q in inner.as_object_mut().into_iter().flat_map(|m| m.values_mut()) {
                        if let Value::Number(n) = q {
                            *q = Value::String(n.to_string());
                        }
                    }
                } else if k == "sizeLimit" {
                    if let Value::Number(n) = inner {
                        *inner = Value::String(n.to_string());
                    }
                } else {
                    quantities_as_strings(inner);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(quantities_as_strings),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::batch::v1::CronJob;
    use k8s_openapi::api::core::v1::Pod;
    use serde_json::json;

    #[test]
    fn older_versions_and_numeric_quantities_decode() {
        let cj: CronJob = decode(&json!({"apiVersion": "batch/v1beta1", "kind": "CronJob",
            "metadata": {"name": "every-15"}, "spec": {"schedule": "*/15 * * * *", "jobTemplate": {}}}))
        .unwrap();
        assert_eq!(cj.spec.unwrap().schedule, "*/15 * * * *");
        let pod: Pod = decode(&json!({"metadata": {"name": "p"}, "spec": {"containers": [
            {"name": "c", "resources": {"requests": {"cpu": 1, "memory": "1Gi"}, "limits": {"cpu": 0.5}}}]}}))
        .unwrap();
        let resources = pod.spec.unwrap().containers[0].resources.clone().unwrap();
        assert_eq!(resources.requests.unwrap()["cpu"].0, "1");
        assert_eq!(resources.limits.unwrap()["cpu"].0, "0.5");
        assert!(decode::<Pod>(&json!({"metadata": {"name": 3}})).is_err());
    }
}
