//! Builders for the pods and nodes that tests and benchmarks schedule:
//! `node("n1").label("gpu", "true").info()`, `pod("kubia").cpu("500m").info()`.
//! They write the JSON the apiserver would serve (a fixture reads best as
//! the manifest it stands for), decoded into the typed objects in `build`, so
//! the same objects feed both the pure plugin tests and the end-to-end tests.
//! Test scaffolding: compiled for tests, and for benchmarks through the
//! `testing` feature.

use crate::framework::{NodeInfo, PodInfo};
use k8s_openapi::api::core::v1::{Node, Pod};
use serde_json::{json, Value};
use std::sync::Arc;

/// A Ready node with 4 cpus, 8Gi of memory and room for 110 pods.
pub fn node(name: &str) -> NodeBuilder {
    NodeBuilder {
        obj: json!({
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name}},
            "spec": {},
            "status": {
                "allocatable": {"cpu": "4", "memory": "8Gi", "pods": "110"},
                "capacity": {"cpu": "4", "memory": "8Gi", "pods": "110"},
                "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady"}],
            },
        }),
        pods: Vec::new(),
    }
}

/// A pod in `default` with one container that requests nothing.
pub fn pod(name: &str) -> PodBuilder {
    PodBuilder {
        obj: json!({
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": name, "namespace": "default", "uid": format!("uid-{name}")},
            "spec": {
                "schedulerName": "default-scheduler",
                "containers": [{"name": "main", "image": "luksa/kubia"}],
            },
            "status": {"phase": "Pending"},
        }),
    }
}

#[derive(Clone)]
pub struct NodeBuilder {
    obj: Value,
    pods: Vec<PodBuilder>,
}

impl NodeBuilder {
    pub fn label(mut self, key: &str, value: &str) -> Self {
        self.obj["metadata"]["labels"][key] = value.into();
        self
    }

    pub fn taint(mut self, key: &str, value: &str, effect: &str) -> Self {
        let taint = json!({"key": key, "value": value, "effect": effect});
        match self.obj["spec"]["taints"].as_array_mut() {
            Some(ts) => ts.push(taint),
            None => self.obj["spec"]["taints"] = json!([taint]),
        }
        self
    }

    pub fn unschedulable(mut self) -> Self {
        self.obj["spec"]["unschedulable"] = true.into();
        self
    }

    /// Sets the Ready condition's status (`True`, `False`, `Unknown`).
    pub fn ready(mut self, status: &str) -> Self {
        self.obj["status"]["conditions"][0]["status"] = status.into();
        self
    }

    pub fn no_conditions(mut self) -> Self {
        self.obj["status"]["conditions"] = json!([]);
        self
    }

    /// Sets allocatable (and capacity) cpu, memory and pods.
    pub fn allocatable(mut self, cpu: &str, memory: &str, pods: u32) -> Self {
        for field in ["allocatable", "capacity"] {
            self.obj["status"][field] = json!({"cpu": cpu, "memory": memory, "pods": pods.to_string()});
        }
        self
    }

    /// Sets one allocatable resource (`nvidia.com/gpu`, `ephemeral-storage`).
    pub fn resource(mut self, name: &str, amount: &str) -> Self {
        self.obj["status"]["allocatable"][name] = amount.into();
        self
    }

    /// A pod already running on the node.
    pub fn with_pod(mut self, pod: PodBuilder) -> Self {
        let name = self.obj["metadata"]["name"].as_str().unwrap_or_default().to_string();
        self.pods.push(pod.node_name(&name));
        self
    }

    pub fn json(&self) -> Value {
        self.obj.clone()
    }

    pub fn build(&self) -> Node {
        serde_json::from_value(self.json()).expect("the builder writes a valid node")
    }

    pub fn info(&self) -> NodeInfo {
        let mut info = NodeInfo::from_node(&self.build());
        for p in &self.pods {
            info.add_pod(&p.info().usage);
        }
        info
    }
}

#[derive(Clone)]
pub struct PodBuilder {
    obj: Value,
}

impl PodBuilder {
    pub fn namespace(mut self, ns: &str) -> Self {
        self.obj["metadata"]["namespace"] = ns.into();
        self
    }

    /// The first container's cpu request.
    pub fn cpu(mut self, amount: &str) -> Self {
        self.obj["spec"]["containers"][0]["resources"]["requests"]["cpu"] = amount.into();
        self
    }

    /// The first container's memory request.
    pub fn memory(mut self, amount: &str) -> Self {
        self.obj["spec"]["containers"][0]["resources"]["requests"]["memory"] = amount.into();
        self
    }

    /// Any request of the first container (`nvidia.com/gpu`, `ephemeral-storage`).
    pub fn request(mut self, name: &str, amount: &str) -> Self {
        self.obj["spec"]["containers"][0]["resources"]["requests"][name] = amount.into();
        self
    }

    fn push(&mut self, field: &str, value: Value) {
        match self.obj["spec"][field].as_array_mut() {
            Some(list) => list.push(value),
            None => self.obj["spec"][field] = json!([value]),
        }
    }

    /// Another app container with these requests.
    pub fn container(mut self, cpu: &str, memory: &str) -> Self {
        let n = self.obj["spec"]["containers"].as_array().map_or(0, Vec::len);
        self.push(
            "containers",
            json!({"name": format!("c{n}"), "resources": {"requests": {"cpu": cpu, "memory": memory}}}),
        );
        self
    }

    pub fn init_container(mut self, cpu: &str, memory: &str) -> Self {
        self.push("initContainers", json!({"name": "init", "resources": {"requests": {"cpu": cpu, "memory": memory}}}));
        self
    }

    /// A host port on the first container: `hostIP` "" means all addresses, `protocol` "" means TCP.
    pub fn host_port(mut self, port: i32, protocol: &str, host_ip: &str) -> Self {
        let mut p = json!({"containerPort": port, "hostPort": port});
        if !protocol.is_empty() {
            p["protocol"] = protocol.into();
        }
        if !host_ip.is_empty() {
            p["hostIP"] = host_ip.into();
        }
        match self.obj["spec"]["containers"][0]["ports"].as_array_mut() {
            Some(ports) => ports.push(p),
            None => self.obj["spec"]["containers"][0]["ports"] = json!([p]),
        }
        self
    }

    pub fn node_selector(mut self, key: &str, value: &str) -> Self {
        self.obj["spec"]["nodeSelector"][key] = value.into();
        self
    }

    /// `requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms`.
    pub fn required_terms(mut self, terms: Value) -> Self {
        self.obj["spec"]["affinity"] = json!({"nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": terms}
        }});
        self
    }

    pub fn toleration(mut self, key: &str, operator: &str, value: &str, effect: &str) -> Self {
        let mut t = json!({});
        for (field, v) in [("key", key), ("operator", operator), ("value", value), ("effect", effect)] {
            if !v.is_empty() {
                t[field] = v.into();
            }
        }
        self.push("tolerations", t);
        self
    }

    /// A controller owner reference (a ReplicaSet with this uid).
    pub fn owner(mut self, uid: &str) -> Self {
        self.obj["metadata"]["ownerReferences"] =
            json!([{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": uid, "uid": uid, "controller": true}]);
        self
    }

    pub fn priority(mut self, priority: i32) -> Self {
        self.obj["spec"]["priority"] = priority.into();
        self
    }

    pub fn node_name(mut self, node: &str) -> Self {
        self.obj["spec"]["nodeName"] = node.into();
        self
    }

    pub fn scheduler_name(mut self, name: &str) -> Self {
        self.obj["spec"]["schedulerName"] = name.into();
        self
    }

    pub fn phase(mut self, phase: &str) -> Self {
        self.obj["status"]["phase"] = phase.into();
        self
    }

    pub fn json(&self) -> Value {
        self.obj.clone()
    }

    pub fn build(&self) -> Pod {
        serde_json::from_value(self.json()).expect("the builder writes a valid pod")
    }

    /// The pod as informers deliver it.
    pub fn shared(&self) -> Arc<Pod> {
        Arc::new(self.build())
    }

    pub fn info(&self) -> PodInfo {
        PodInfo::from_pod(&self.build())
    }
}
