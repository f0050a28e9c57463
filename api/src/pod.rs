//! What every component asks of a pod, in one place: is it ready, since when,
//! is it active or terminating, which controller owns it, and its QoS class.
//! Kubernetes keeps the same questions in `k8s.io/kubernetes/pkg/api/v1/pod`
//! and `pkg/apis/core/helper/qos`.

use crate::quantity::Quantity;
use k8s_openapi::api::core::v1::{Container, Pod, PodCondition, PodSpec, PodStatus};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity as ResourceQuantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use serde_json::Value;
use std::collections::BTreeMap;

/// The pod's condition of `type_` (`Ready`, `PodScheduled`, ...).
pub fn condition<'a>(pod: &'a Pod, type_: &str) -> Option<&'a PodCondition> {
    pod.status.as_ref()?.conditions.as_ref()?.iter().find(|c| c.type_ == type_)
}

/// Kubernetes' `IsPodReady`: the Ready condition is True.
pub fn is_ready(pod: &Pod) -> bool {
    condition(pod, "Ready").is_some_and(|c| c.status == "True")
}

/// When a ready pod became ready; None when it is not ready or does not say.
pub fn ready_since(pod: &Pod) -> Option<jiff::Timestamp> {
    condition(pod, "Ready").filter(|c| c.status == "True").and_then(|c| c.last_transition_time.as_ref()).map(|t| t.0)
}

/// The pod's phase (`Pending` until the kubelet says otherwise).
pub fn phase(pod: &Pod) -> &str {
    pod.status.as_ref().and_then(|s| s.phase.as_deref()).unwrap_or("")
}

/// Succeeded or Failed: its containers will not run again.
pub fn is_finished(pod: &Pod) -> bool {
    matches!(phase(pod), "Succeeded" | "Failed")
}

/// Being deleted: `metadata.deletionTimestamp` is set.
pub fn is_terminating(meta: &ObjectMeta) -> bool {
    meta.deletion_timestamp.is_some()
}

/// Kubernetes' `IsPodActive`: not finished and not being deleted.
pub fn is_active(pod: &Pod) -> bool {
    !is_finished(pod) && !is_terminating(&pod.metadata)
}

/// The node the pod is bound to ("" while unscheduled).
pub fn node_name(pod: &Pod) -> &str {
    pod.spec.as_ref().and_then(|s| s.node_name.as_deref()).unwrap_or("")
}

/// The owner reference with `controller: true`, if any (of any object).
pub fn controller_of(meta: &ObjectMeta) -> Option<&OwnerReference> {
    meta.owner_references.as_ref()?.iter().find(|r| r.controller == Some(true))
}

/// The pod's containers and init containers, init containers first.
pub fn all_containers(spec: &PodSpec) -> impl Iterator<Item = &Container> {
    spec.init_containers.iter().flatten().chain(spec.containers.iter())
}

/// A pod status as JSON, as Kubernetes' Go clients send it (the kubelet's
/// status patch, a controller's condition). Kubernetes' Go types
/// write an unset `lastProbeTime` and a terminated state's unknown
/// `startedAt`/`finishedAt` as `null` (`metav1.Time` has no omitempty), where
/// typed structs leave them out; they are put back so that the stored pod, and
/// `kubectl get -o yaml`, show what Kubernetes shows.
pub fn status_json(status: &PodStatus) -> Value {
    let mut patch = serde_json::to_value(status).unwrap_or_default();
    let null_unless_set = |obj: Option<&mut serde_json::Map<String, Value>>, keys: &[&str]| {
        if let Some(obj) = obj {
            for key in keys {
                obj.entry(*key).or_insert(Value::Null);
            }
        }
    };
    if let Some(conditions) = patch.get_mut("conditions").and_then(Value::as_array_mut) {
        for c in conditions {
            null_unless_set(c.as_object_mut(), &["lastProbeTime"]);
        }
    }
    if let Some(statuses) = patch.get_mut("containerStatuses").and_then(Value::as_array_mut) {
        for s in statuses {
            for key in ["state", "lastState"] {
                let terminated = s.get_mut(key).and_then(|st| st.get_mut("terminated")).and_then(Value::as_object_mut);
                null_unless_set(terminated, &["startedAt", "finishedAt"]);
            }
        }
    }
    patch
}

/// Kubernetes' QoS class (`GetPodQOS`). Only cpu and memory count; a zero
/// request counts as none. BestEffort when no container requests or limits
/// either; Guaranteed when every container limits both, and the pod's summed
/// requests equal its summed limits; Burstable otherwise.
pub fn qos_class(spec: &PodSpec) -> &'static str {
    fn amounts(m: Option<&BTreeMap<String, ResourceQuantity>>) -> Vec<(&str, Option<Quantity>)> {
        m.into_iter().flatten().map(|(k, q)| (k.as_str(), Quantity::parse(&q.0).ok())).collect()
    }
    let containers = all_containers(spec).map(|c| {
        let r = c.resources.as_ref();
        (amounts(r.and_then(|r| r.requests.as_ref())), amounts(r.and_then(|r| r.limits.as_ref())))
    });
    qos_of(containers)
}

/// [`qos_class`] of a pod spec held as JSON: the apiserver completes a new
/// pod's `status.qosClass` on its create path, which keeps pods as JSON.
pub fn qos_class_json(spec: &serde_json::Value) -> &'static str {
    fn amounts(m: Option<&serde_json::Value>) -> Vec<(&str, Option<Quantity>)> {
        let m = m.and_then(serde_json::Value::as_object);
        m.into_iter().flatten().map(|(k, q)| (k.as_str(), crate::quantity::from_json(q))).collect()
    }
    let containers = ["initContainers", "containers"]
        .iter()
        .filter_map(|k| spec.get(*k).and_then(serde_json::Value::as_array))
        .flatten()
        .map(|c| {
            let r = c.get("resources");
            (amounts(r.and_then(|r| r.get("requests"))), amounts(r.and_then(|r| r.get("limits"))))
        });
    qos_of(containers)
}

/// Each container's requests and limits, by resource name (`None` where the
/// amount does not parse), decide the class.
fn qos_of<'a>(
    containers: impl Iterator<Item = (Vec<(&'a str, Option<Quantity>)>, Vec<(&'a str, Option<Quantity>)>)>,
) -> &'static str {
    const COUNTED: [&str; 2] = ["cpu", "memory"];
    let positive = |list: Vec<(&'a str, Option<Quantity>)>| {
        list.into_iter()
            .filter(|(name, _)| COUNTED.contains(name))
            .filter_map(|(name, q)| q.filter(|q| *q > Quantity::default()).map(|q| (name, q)))
            .collect::<Vec<_>>()
    };
    let mut requests: BTreeMap<&str, Quantity> = BTreeMap::new();
    let mut limits: BTreeMap<&str, Quantity> = BTreeMap::new();
    let mut guaranteed = true;
    for (container_requests, container_limits) in containers {
        for (name, q) in positive(container_requests) {
            requests.entry(name).or_default().add(&q);
        }
        let container_limits = positive(container_limits);
        if !COUNTED.iter().all(|n| container_limits.iter().any(|(name, _)| name == n)) {
            guaranteed = false;
        }
        for (name, q) in container_limits {
            limits.entry(name).or_default().add(&q);
        }
    }
    if requests.is_empty() && limits.is_empty() {
        return "BestEffort";
    }
    // Requests default to limits (the apiserver's defaulting), so a request
    // that is absent where a limit is set counts as equal.
    let equal = limits.iter().all(|(name, limit)| requests.get(name).is_none_or(|r| r == limit))
        && requests.keys().all(|name| limits.contains_key(name));
    if guaranteed && equal {
        "Guaranteed"
    } else {
        "Burstable"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn spec(containers: serde_json::Value) -> PodSpec {
        serde_json::from_value(json!({ "containers": containers })).expect("a pod spec")
    }

    fn pod(v: serde_json::Value) -> Pod {
        serde_json::from_value(v).expect("a pod")
    }

    #[test]
    fn qos_classes_as_kubernetes_computes_them() {
        assert_eq!(qos_class(&spec(json!([{"name": "a"}]))), "BestEffort");
        let both = json!({"cpu": "100m", "memory": "10Mi"});
        assert_eq!(
            qos_class(&spec(json!([{"name": "a", "resources": {"limits": both, "requests": both}}]))),
            "Guaranteed"
        );
        // Limits alone: requests default to them.
        assert_eq!(qos_class(&spec(json!([{"name": "a", "resources": {"limits": both}}]))), "Guaranteed");
        // The same amount written two ways is equal.
        let other = json!({"cpu": "0.1", "memory": "10240Ki"});
        assert_eq!(
            qos_class(&spec(json!([{"name": "a", "resources": {"limits": both, "requests": other}}]))),
            "Guaranteed"
        );
        assert_eq!(qos_class(&spec(json!([{"name": "a", "resources": {"requests": {"cpu": "1"}}}]))), "Burstable");
        let cpu_only = json!({"cpu": "1"});
        assert_eq!(qos_class(&spec(json!([{"name": "a", "resources": {"limits": cpu_only}}]))), "Burstable");
        // One guaranteed container beside a best-effort one makes the pod Burstable.
        assert_eq!(qos_class(&spec(json!([{"name": "a", "resources": {"limits": both}}, {"name": "b"}]))), "Burstable");
    }

    #[test]
    fn qos_classes_of_json_specs() {
        assert_eq!(qos_class_json(&json!({"containers": [{"name": "a"}]})), "BestEffort");
        let g = json!({"containers": [{"resources": {"limits": {"cpu": "1", "memory": "1Gi"}}}]});
        assert_eq!(qos_class_json(&g), "Guaranteed");
        let b = json!({"containers": [{"resources": {"requests": {"cpu": "1"}}}]});
        assert_eq!(qos_class_json(&b), "Burstable");
    }

    #[test]
    fn json_specs_get_the_same_class_as_typed_ones() {
        let both = json!({"cpu": "100m", "memory": "10Mi"});
        for containers in [
            json!([{"name": "a"}]),
            json!([{"name": "a", "resources": {"limits": both}}]),
            json!([{"name": "a", "resources": {"limits": {"cpu": 1, "memory": "1Gi"}, "requests": {"cpu": "1000m"}}}]),
            json!([{"name": "a", "resources": {"requests": {"cpu": "1"}}}]),
            json!([{"name": "a", "resources": {"requests": {"ephemeral-storage": "1Gi"}}}]),
            json!([{"name": "a", "resources": {"limits": both}}, {"name": "b"}]),
        ] {
            let raw = json!({ "containers": containers });
            assert_eq!(qos_class_json(&raw), qos_class(&spec(containers.clone())), "{containers}");
        }
    }

    #[test]
    fn only_cpu_and_memory_decide_the_qos_class() {
        let storage = json!({"ephemeral-storage": "1Gi"});
        assert_eq!(qos_class(&spec(json!([{"name": "a", "resources": {"requests": storage}}]))), "BestEffort");
        assert_eq!(qos_class(&spec(json!([{"name": "a", "resources": {"requests": {"cpu": "0"}}}]))), "BestEffort");
    }

    #[test]
    fn init_containers_count_for_the_qos_class() {
        let s: PodSpec = serde_json::from_value(json!({
            "containers": [{"name": "a"}],
            "initContainers": [{"name": "i", "resources": {"requests": {"memory": "1Mi"}}}],
        }))
        .unwrap();
        assert_eq!(qos_class(&s), "Burstable");
    }

    #[test]
    fn readiness_activity_and_controller() {
        let ready = pod(json!({
            "metadata": {"name": "p", "ownerReferences": [
                {"apiVersion": "v1", "kind": "Foo", "name": "f", "uid": "1"},
                {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "rs", "uid": "2", "controller": true},
            ]},
            "spec": {"containers": [], "nodeName": "n1"},
            "status": {"phase": "Running", "conditions": [
                {"type": "Ready", "status": "True", "lastTransitionTime": "2024-01-01T00:00:00Z"},
            ]},
        }));
        assert!(is_ready(&ready));
        assert_eq!(ready_since(&ready), Some("2024-01-01T00:00:00Z".parse().unwrap()));
        assert!(is_active(&ready));
        assert_eq!(node_name(&ready), "n1");
        assert_eq!(controller_of(&ready.metadata).map(|r| r.name.as_str()), Some("rs"));

        let done = pod(json!({"metadata": {"name": "d"}, "status": {"phase": "Succeeded"}}));
        assert!(!is_ready(&done) && !is_active(&done) && is_finished(&done));
        assert_eq!(ready_since(&done), None);
        let going = pod(json!({"metadata": {"name": "g", "deletionTimestamp": "2024-01-01T00:00:00Z"}}));
        assert!(is_terminating(&going.metadata) && !is_active(&going));
        assert_eq!(node_name(&going), "");
        assert_eq!(controller_of(&going.metadata), None);
    }
}
