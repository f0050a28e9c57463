//! What the scheduler needs to know about a pod, read once from its object so
//! that checking it against hundreds of nodes walks no object at all.

use super::node_selector::NodeSelector;
use crate::resources::{is_sidecar, pod_requests, Resources};
use client::Object;
use k8s_openapi::api::core::v1::{Pod, PodSpec, Toleration};
use std::collections::BTreeMap;

/// A host IP of "" or `::` binds every address, as `0.0.0.0` does.
pub const ALL_ADDRESSES: &str = "0.0.0.0";

/// One host port a pod binds, with protocol and IP already defaulted.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct HostPort {
    pub protocol: String,
    pub ip: String,
    pub port: i32,
}

impl HostPort {
    /// The host ports of a pod spec: those of app containers and of sidecars
    /// (restartable init containers), which keep their ports while the pod runs.
    pub fn of_pod(spec: &PodSpec) -> Vec<HostPort> {
        let sidecars = spec.init_containers.iter().flatten().filter(|c| is_sidecar(c));
        spec.containers
            .iter()
            .chain(sidecars)
            .flat_map(|c| c.ports.iter().flatten())
            .filter_map(|p| {
                let port = p.host_port.filter(|n| *n > 0)?;
                let protocol = p.protocol.as_deref().filter(|s| !s.is_empty()).unwrap_or("TCP").to_string();
                let ip = match p.host_ip.as_deref().unwrap_or_default() {
                    "" | "::" => ALL_ADDRESSES,
                    ip => ip,
                };
                Some(HostPort { protocol, ip: ip.to_string(), port })
            })
            .collect()
    }

    /// Whether this port and `used` cannot both be bound.
    pub fn conflicts_with(&self, used: &HostPort) -> bool {
        self.port == used.port
            && self.protocol == used.protocol
            && (self.ip == ALL_ADDRESSES || used.ip == ALL_ADDRESSES || self.ip == used.ip)
    }
}

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

impl PodUsage {
    pub fn from_pod(pod: &Pod) -> Self {
        let owner = api::pod::controller_of(&pod.metadata).map(|r| r.uid.clone());
        let Some(spec) = &pod.spec else {
            return Self { owner, ..Default::default() };
        };
        let non_zero = pod_requests(spec, true);
        Self {
            requests: pod_requests(spec, false),
            non_zero_milli_cpu: non_zero.milli_cpu,
            non_zero_memory: non_zero.memory,
            host_ports: HostPort::of_pod(spec),
            owner,
        }
    }
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
    pub fn from_pod(pod: &Pod) -> Self {
        let spec = pod.spec.as_ref();
        let required = spec
            .and_then(|s| s.affinity.as_ref())
            .and_then(|a| a.node_affinity.as_ref())
            .and_then(|a| a.required_during_scheduling_ignored_during_execution.as_ref());
        Self {
            key: client::watcher::key_of(pod),
            namespace: pod.namespace().to_string(),
            name: pod.name().to_string(),
            uid: pod.uid().to_string(),
            node_name: api::pod::node_name(pod).to_string(),
            priority: priority(pod),
            usage: PodUsage::from_pod(pod),
            node_selector: spec.and_then(|s| s.node_selector.clone()).unwrap_or_default(),
            required_affinity: required.map(NodeSelector::new),
            tolerations: spec.and_then(|s| s.tolerations.clone()).unwrap_or_default(),
        }
    }
}

/// `spec.priority`, which the apiserver resolves from the priority class; 0 when unset.
pub fn priority(pod: &Pod) -> i32 {
    pod.spec.as_ref().and_then(|s| s.priority).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(v: serde_json::Value) -> Pod {
        serde_json::from_value(v).expect("a pod")
    }

    #[test]
    fn reads_everything_filters_need_from_the_pod() {
        let pod = pod(json!({
            "metadata": {"name": "kubia", "namespace": "default", "uid": "u1", "ownerReferences": [
                {"apiVersion": "v1", "kind": "Foo", "name": "foo", "uid": "not-controller"},
                {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "rs", "uid": "rs-1", "controller": true},
            ]},
            "spec": {
                "priority": 7,
                "nodeSelector": {"gpu": "true"},
                "tolerations": [{"key": "k", "operator": "Exists"}],
                "containers": [{"name": "c", "resources": {"requests": {"cpu": "250m"}}, "ports": [{"containerPort": 80, "hostPort": 8080}]}],
                "affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": []}}},
            },
        }));
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
        let info = PodInfo::from_pod(&pod(
            json!({"metadata": {"name": "a", "namespace": "x"}, "spec": {"containers": [{"name": "c"}]}}),
        ));
        assert_eq!(info.usage.owner, None);
        assert!(info.required_affinity.is_none() && info.node_selector.is_empty() && info.tolerations.is_empty());
    }

    #[test]
    fn ports_without_host_port_and_of_plain_init_containers_are_not_bound() {
        let spec: PodSpec = serde_json::from_value(json!({
            "containers": [{"name": "c", "ports": [{"containerPort": 8080}, {"containerPort": 53, "hostPort": 53, "protocol": "UDP"}]}],
            "initContainers": [
                {"name": "i", "ports": [{"containerPort": 1, "hostPort": 1}]},
                {"name": "s", "restartPolicy": "Always", "ports": [{"containerPort": 2, "hostPort": 2}]},
            ],
        }))
        .expect("a pod spec");
        let ports: Vec<(String, i32)> = HostPort::of_pod(&spec).into_iter().map(|p| (p.protocol, p.port)).collect();
        assert_eq!(ports, [("UDP".to_string(), 53), ("TCP".to_string(), 2)]);
    }
}
