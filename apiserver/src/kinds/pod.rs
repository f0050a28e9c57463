//! Pod: the server's side of a pod's life.
//!
//! - Create: starts `Pending`; `status.qosClass` is computed from the
//!   defaulted spec. Defaults (restart policy, DNS policy, requests from
//!   limits, pull policy, ...) and validation (the pod spec, pod-only fields,
//!   and on update the fields Kubernetes lets change) are in `api::validation`.
//! - Binding: the `pods/<name>/binding` subresource assigns a pending pod to
//!   a node, once (the scheduler's one write to a pod).
//! - Delete: a pod a node runs is deleted gracefully: marked with its grace
//!   period, and its kubelet finishes the deletion (a delete with grace
//!   period 0) once the containers stopped. A pod no node runs, or a finished
//!   one, goes at once.
//!
//! Pods are the create hot path (`bench api`): they stay raw JSON through the
//! registry, see `crate::registry`.

use crate::registry::{DeleteOptions, Registry};
use crate::strategy::Strategy;
use api::{meta, ApiError, FieldError, Reason, ResourceInfo};
use serde_json::{json, Value};

pub struct PodStrategy;

#[async_trait::async_trait]
impl Strategy for PodStrategy {
    fn info(&self) -> &'static ResourceInfo {
        super::lookup("pods")
    }

    fn initial_status(&self) -> Option<Value> {
        Some(json!({"phase": "Pending"}))
    }

    fn finish_create(&self, obj: &mut Value) {
        let qos = api::pod::qos_class_json(&obj["spec"]);
        obj["status"]["qosClass"] = qos.into();
    }

    fn delete_grace(&self, obj: &Value, opts: &DeleteOptions) -> Option<i64> {
        grace_period(obj, opts)
    }

    /// A pod's deletion is finished by its kubelet (a delete with grace period
    /// 0), not by its finalizers.
    fn deletion_finished(&self, obj: &Value) -> bool {
        obj["metadata"]["deletionGracePeriodSeconds"].as_i64() == Some(0)
    }

    async fn create_subresource(
        &self,
        registry: &Registry,
        namespace: &str,
        name: &str,
        subresource: &str,
        body: &[u8],
    ) -> Result<Value, ApiError> {
        match subresource {
            "binding" => bind(registry, namespace, name, body).await,
            other => Err(ApiError::new(
                Reason::NotFound,
                format!("the server could not find the requested resource (pods {other})"),
            )),
        }
    }
}

/// A pod on a node is deleted gracefully: the kubelet stops it and then removes
/// it. A pod no node runs, or a grace period of 0, goes at once.
fn grace_period(pod: &Value, opts: &DeleteOptions) -> Option<i64> {
    let scheduled = pod["spec"]["nodeName"].as_str().is_some_and(|n| !n.is_empty());
    let finished = matches!(pod["status"]["phase"].as_str(), Some("Succeeded" | "Failed"));
    let grace = opts
        .grace_period_seconds
        .filter(|g| *g >= 0)
        .unwrap_or_else(|| pod["spec"]["terminationGracePeriodSeconds"].as_i64().unwrap_or(30));
    if !meta::finalizers(pod).is_empty() {
        return Some(grace.max(0));
    }
    (scheduled && !finished && grace > 0).then_some(grace)
}

/// The `pods/binding` subresource: assigns a pending pod to a node, once.
async fn bind(registry: &Registry, namespace: &str, pod_name: &str, body: &[u8]) -> Result<Value, ApiError> {
    let binding: Value = serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("the binding is not valid JSON: {e}")))?;
    let node = binding["target"]["name"].as_str().unwrap_or_default().to_string();
    if node.is_empty() {
        return Err(ApiError::invalid("Binding", pod_name, vec![FieldError::required("target.name", "")]));
    }
    let pods = super::lookup("pods");
    registry
        .write_subresource(pods, namespace, pod_name, "binding", |old| {
            let conflict = |why: String| {
                ApiError::new(
                    Reason::Conflict,
                    format!("Operation cannot be fulfilled on pods/binding \"{pod_name}\": {why}"),
                )
            };
            if meta::deletion_timestamp(old).is_some() {
                return Err(conflict(format!("pod {pod_name} is being deleted, cannot be assigned to a host")));
            }
            if let Some(current) = old["spec"]["nodeName"].as_str().filter(|n| !n.is_empty()) {
                return Err(conflict(format!("pod {pod_name} is already assigned to node \"{current}\"")));
            }
            let mut obj = old.clone();
            obj["spec"]["nodeName"] = node.clone().into();
            set_condition(&mut obj, "PodScheduled", "True");
            Ok(obj)
        })
        .await?;
    Ok(json!({"apiVersion": "v1", "kind": "Status", "metadata": {}, "status": "Success", "code": 201}))
}

/// Sets a pod condition (`PodScheduled`, `Ready`, ...) with a fresh transition time.
fn set_condition(pod: &mut Value, kind: &str, status: &str) {
    let now = api::time::now();
    let cond = json!({"type": kind, "status": status, "lastProbeTime": null, "lastTransitionTime": now});
    let conds = pod["status"]["conditions"].as_array().cloned().unwrap_or_default();
    let mut conds: Vec<Value> = conds.into_iter().filter(|c| c["type"] != kind).collect();
    conds.push(cond);
    pod["status"]["conditions"] = Value::Array(conds);
}
