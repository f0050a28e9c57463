//! What the scheduler needs to know about a pod, read once from its JSON so
//! that checking it against hundreds of nodes touches no JSON at all.

use crate::plugins::node_affinity::NodeSelector;
use crate::plugins::node_ports::HostPort;
use crate::plugins::taint_toleration::Toleration;
use crate::resources::{pod_requests, Resources};
use api::meta;
use serde_json::Value;
use std::collections::BTreeMap;

/// What a pod takes from the node it runs on; added to and removed from a
/// node's totals as pods come and go.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PodUsage {
    /// The effective request (what NodeResourcesFit checks).
    pub requests: Resources,
    /// Millicores and bytes with missing requests defaulted (what scoring uses).
    pub non_zero_milli_cpu: i64,
    pub non_zero_memory: i64,
    pub host_ports: Vec<HostPort>,
    /// The uid of the controller that owns the pod, for spreading its pods.
    pub owner: Option<String>,
}

/// A pod as the scheduling algorithm sees it.
#[derive(Debug, Clone, Default)]
pub struct PodInfo {
    /// `namespace/name`.
    pub key: String,
    pub namespace: String,
    pub name: String,
    pub uid: String,
    /// `spec.nodeName`: empty until the pod is bound.
    pub node_name: String,
    pub priority: i32,
    pub usage: PodUsage,
    pub node_selector: BTreeMap<String, String>,
    /// `affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution`.
    pub required_affinity: Option<NodeSelector>,
    pub tolerations: Vec<Toleration>,
}

impl PodInfo {
    pub fn from_pod(pod: &Value) -> Self {
        let spec = &pod["spec"];
        let non_zero = pod_requests(spec, true);
        let usage = PodUsage {
            requests: pod_requests(spec, false),
            non_zero_milli_cpu: non_zero.milli_cpu,
            non_zero_memory: non_zero.memory,
            host_ports: HostPort::of_pod(spec),
            owner: controller_uid(pod),
        };
        let node_selector = spec["nodeSelector"]
            .as_object()
            .map(|m| m.iter().map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string())).collect())
            .unwrap_or_default();
        let required = &spec["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"];
        let tolerations =
            spec["tolerations"].as_array().map(|ts| ts.iter().map(Toleration::from_json).collect()).unwrap_or_default();
        Self {
            key: client::watcher::key_of(pod),
            namespace: meta::namespace(pod).to_string(),
            name: meta::name(pod).to_string(),
            uid: meta::uid(pod).to_string(),
            node_name: spec["nodeName"].as_str().unwrap_or_default().to_string(),
            priority: spec["priority"].as_i64().and_then(|p| i32::try_from(p).ok()).unwrap_or(0),
            usage,
            node_selector,
            required_affinity: (!required.is_null()).then(|| NodeSelector::from_json(required)),
            tolerations,
        }
    }
}

/// The uid of the owner reference marked `controller: true`.
pub fn controller_uid(pod: &Value) -> Option<String> {
    pod["metadata"]["ownerReferences"]
        .as_array()?
        .iter()
        .find(|r| r["controller"] == true)
        .and_then(|r| r["uid"].as_str())
        .map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_everything_filters_need_from_the_pod() {
        let pod = json!({
            "metadata": {"name": "kubia", "namespace": "default", "uid": "u1", "ownerReferences": [
                {"kind": "Foo", "uid": "not-controller"},
                {"kind": "ReplicaSet", "uid": "rs-1", "controller": true},
            ]},
            "spec": {
                "priority": 7,
                "nodeSelector": {"gpu": "true"},
                "tolerations": [{"key": "k", "operator": "Exists"}],
                "containers": [{"resources": {"requests": {"cpu": "250m"}}, "ports": [{"containerPort": 80, "hostPort": 8080}]}],
                "affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": []}}},
            },
        });
        let info = PodInfo::from_pod(&pod);
        assert_eq!(info.key, "default/kubia");
        assert_eq!(info.priority, 7);
        assert_eq!(info.usage.requests.milli_cpu, 250);
        assert_eq!(info.usage.non_zero_memory, crate::resources::DEFAULT_MEMORY_REQUEST);
        assert_eq!(info.usage.owner.as_deref(), Some("rs-1"));
        assert_eq!(info.usage.host_ports.len(), 1);
        assert_eq!(info.node_selector.get("gpu").map(String::as_str), Some("true"));
        assert_eq!(info.tolerations.len(), 1);
        assert!(info.required_affinity.is_some());
    }

    #[test]
    fn a_bare_pod_has_no_owner_and_no_constraints() {
        let info =
            PodInfo::from_pod(&json!({"metadata": {"name": "a", "namespace": "x"}, "spec": {"containers": [{}]}}));
        assert_eq!(info.usage.owner, None);
        assert!(info.required_affinity.is_none() && info.node_selector.is_empty() && info.tolerations.is_empty());
    }
}
