//! The `scale` subresource of Deployments, ReplicaSets, StatefulSets and
//! ReplicationControllers: an `autoscaling/v1` Scale that reads the parent's
//! `spec.replicas`, `status.replicas` and selector, and writes only
//! `spec.replicas`. `kubectl scale` patches it; HPAs read and write it.

use super::negotiate::Query;
use super::Front;
use super::{resources, respond};
use api::selector::LabelSelector;
use api::{meta, ApiError, FieldError, ResourceInfo};
use axum::extract::Request;
use axum::response::Response;
use http::{Method, StatusCode};
use proto::PatchType;
use serde_json::{json, Value};
use std::sync::Arc;

/// How often a patch of the scale is tried again when the parent changed meanwhile.
const RETRIES: usize = 5;

/// The Scale of a parent object.
pub fn scale_of(info: &ResourceInfo, obj: &Value) -> Result<Value, ApiError> {
    let selector = match info.kind {
        "ReplicationController" => {
            let map: std::collections::BTreeMap<String, String> =
                serde_json::from_value(obj["spec"]["selector"].clone()).unwrap_or_default();
            LabelSelector::from_map(&map)
        }
        _ => LabelSelector::from_json(obj["spec"].get("selector"))?,
    };
    let m = &obj["metadata"];
    let mut metadata = json!({"name": m["name"], "namespace": m["namespace"], "uid": m["uid"],
        "resourceVersion": m["resourceVersion"], "creationTimestamp": m["creationTimestamp"]});
    metadata.as_object_mut().expect("an object").retain(|_, v| !v.is_null());
    Ok(json!({
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": metadata,
        "spec": {"replicas": obj["spec"]["replicas"].as_i64().unwrap_or(1)},
        "status": {"replicas": obj["status"]["replicas"].as_i64().unwrap_or(0), "selector": selector.to_string()},
    }))
}

/// The replicas a Scale asks for, checked as Kubernetes validates a Scale.
fn replicas_of(scale: &Value) -> Result<i64, ApiError> {
    let replicas = &scale["spec"]["replicas"];
    match replicas.as_i64() {
        Some(n) if n >= 0 => Ok(n),
        Some(n) => Err(ApiError::invalid(
            "Scale",
            meta::name(scale),
            vec![FieldError::invalid("spec.replicas", n.to_string(), "must be greater than or equal to 0")],
        )),
        None if replicas.is_null() => Ok(0),
        None => Err(ApiError::bad_request(format!("spec.replicas must be an integer, not {replicas}"))),
    }
}

pub async fn serve(
    front: &Arc<Front>,
    info: &'static ResourceInfo,
    ns: &str,
    name: &str,
    req: Request,
    q: &Query,
) -> Result<Response, ApiError> {
    let registry = &front.registry;
    let method = req.method().clone();
    if method == Method::GET {
        let obj = registry.get(info, ns, name).await?;
        return Ok(respond::json(StatusCode::OK, &scale_of(info, &obj)?));
    }
    // The write is the client's: its options and field manager as any write's.
    let opts = resources::write_options(q, &req, if method == Method::PUT { "UpdateOptions" } else { "PatchOptions" })?;
    // A Scale is replaced as an object (JSON, YAML or protobuf) and patched
    // with a merge, JSON or strategic merge patch, never applied.
    let allowed = if method == Method::PUT { resources::OBJECT_BODIES } else { &resources::PATCH_BODIES[..3] };
    let (kind, body) = resources::read_body(req, allowed).await?;
    let body: Value = serde_json::from_slice(&body)
        .map_err(|e| ApiError::bad_request(format!("the request body is not valid JSON: {e}")))?;
    for _ in 0..RETRIES {
        let (replicas, precondition) = if method == Method::PUT {
            (replicas_of(&body)?, meta::resource_version(&body).to_string())
        } else {
            let patch_type = resources::patch_type(kind);
            let current = scale_of(info, &registry.get(info, ns, name).await?)?;
            let patched = crate::patch::apply(&current, patch_type, &body, "Scale")?;
            // The patch applies to the version just read: a change in between is retried.
            let precondition = match meta::resource_version(&patched) {
                "" => meta::resource_version(&current).to_string(),
                rv => rv.to_string(),
            };
            (replicas_of(&patched)?, precondition)
        };
        let mut change = json!({"spec": {"replicas": replicas}});
        if !precondition.is_empty() {
            change["metadata"] = json!({"resourceVersion": precondition});
        }
        let bytes = serde_json::to_vec(&change).expect("a JSON value always serializes");
        match registry.patch(info, ns, name, PatchType::Merge, &bytes, "", &opts).await {
            Ok(updated) => return Ok(respond::json(StatusCode::OK, &scale_of(info, &updated)?)),
            Err(e) if e.is_conflict() && method == Method::PATCH => continue,
            Err(e) => return Err(e),
        }
    }
    Err(ApiError::conflict(&format!("{}/scale", info.group_resource()), name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_deployments_scale_reads_its_replicas_and_selector() {
        let info = api::registry::lookup("deployments").unwrap();
        let deploy = json!({"metadata": {"name": "web", "namespace": "default", "uid": "u1", "resourceVersion": "9"},
            "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"},
                "matchExpressions": [{"key": "env", "operator": "In", "values": ["prod", "dev"]}]}},
            "status": {"replicas": 2}});
        let scale = scale_of(info, &deploy).unwrap();
        assert_eq!(scale["spec"]["replicas"], 3);
        assert_eq!(scale["status"]["replicas"], 2);
        assert_eq!(scale["metadata"]["resourceVersion"], "9");
        let selector = scale["status"]["selector"].as_str().unwrap();
        assert!(selector.contains("app=web") && selector.contains("env in ("), "{selector}");
    }

    #[test]
    fn a_statefulsets_scale_reads_its_replicas_and_selector() {
        let info = api::registry::lookup("sts").unwrap();
        let sts = json!({"metadata": {"name": "kubia", "namespace": "default"},
            "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "kubia"}}}, "status": {"replicas": 1}});
        let scale = scale_of(info, &sts).unwrap();
        assert_eq!((scale["spec"]["replicas"].as_i64(), scale["status"]["replicas"].as_i64()), (Some(2), Some(1)));
        assert_eq!(scale["status"]["selector"], "app=kubia");
    }

    #[test]
    fn a_replication_controllers_selector_is_a_map() {
        let info = api::registry::lookup("replicationcontrollers").unwrap();
        let rc = json!({"metadata": {"name": "kubia"}, "spec": {"replicas": 1, "selector": {"app": "kubia"}}});
        assert_eq!(scale_of(info, &rc).unwrap()["status"]["selector"], "app=kubia");
    }

    #[test]
    fn negative_replicas_are_invalid() {
        let err = replicas_of(&json!({"metadata": {"name": "x"}, "spec": {"replicas": -1}})).unwrap_err();
        assert_eq!(err.code(), 422);
        assert!(
            err.to_string().contains("must be greater than or equal to 0")
                || format!("{:?}", err.causes).contains("greater")
        );
    }
}
