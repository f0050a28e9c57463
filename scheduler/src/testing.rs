//! Builders for the pods and nodes that tests and benchmarks schedule:
//! `node("n1").label("gpu", "true").info()`, `pod("kubia").cpu("500m").info()`.
//! They build the objects the apiserver would serve (`build`, or `json` for
//! the end-to-end tests that create them there), so the same objects feed
//! both the pure plugin tests and the end-to-end tests.
//! Test scaffolding: compiled for tests, and for benchmarks through the
//! `testing` feature.

use crate::framework::{NodeInfo, PodInfo};
use k8s_openapi::api::core::v1::{
    Affinity, Container, ContainerPort, Node, NodeAffinity, NodeCondition, NodeSelector, NodeSpec, NodeStatus, Pod,
    PodSpec, PodStatus, ResourceRequirements, Taint, Toleration,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::Arc;

type ResourceList = BTreeMap<String, Quantity>;

fn resources(pairs: &[(&str, &str)]) -> ResourceList {
    pairs.iter().map(|(name, amount)| (name.to_string(), Quantity(amount.to_string()))).collect()
}

/// Some(s), or None for "" (the field left out of the manifest).
fn set(s: &str) -> Option<String> {
    (!s.is_empty()).then(|| s.to_string())
}

/// A Ready node with 4 cpus, 8Gi of memory and room for 110 pods.
pub fn node(name: &str) -> NodeBuilder {
    let capacity = resources(&[("cpu", "4"), ("memory", "8Gi"), ("pods", "110")]);
    NodeBuilder {
        obj: Node {
            metadata: ObjectMeta {
                name: Some(name.to_string()),
                labels: Some(BTreeMap::from([("kubernetes.io/hostname".to_string(), name.to_string())])),
                ..Default::default()
            },
            spec: Some(NodeSpec::default()),
            status: Some(NodeStatus {
                allocatable: Some(capacity.clone()),
                capacity: Some(capacity),
                conditions: Some(vec![NodeCondition {
                    type_: "Ready".into(),
                    status: "True".into(),
                    reason: Some("KubeletReady".into()),
                    ..Default::default()
                }]),
                ..Default::default()
            }),
        },
        pods: Vec::new(),
    }
}

/// A pod in `default` with one container that requests nothing.
pub fn pod(name: &str) -> PodBuilder {
    PodBuilder {
        obj: Pod {
            metadata: ObjectMeta {
                name: Some(name.to_string()),
                namespace: Some("default".into()),
                uid: Some(format!("uid-{name}")),
                ..Default::default()
            },
            spec: Some(PodSpec {
                scheduler_name: Some("default-scheduler".into()),
                containers: vec![Container {
                    name: "main".into(),
                    image: Some("luksa/kubia".into()),
                    ..Default::default()
                }],
                ..Default::default()
            }),
            status: Some(PodStatus { phase: Some("Pending".into()), ..Default::default() }),
        },
    }
}

#[derive(Clone)]
pub struct NodeBuilder {
    obj: Node,
    pods: Vec<PodBuilder>,
}

impl NodeBuilder {
    fn spec(&mut self) -> &mut NodeSpec {
        self.obj.spec.get_or_insert_with(Default::default)
    }

    fn status(&mut self) -> &mut NodeStatus {
        self.obj.status.get_or_insert_with(Default::default)
    }

    pub fn label(mut self, key: &str, value: &str) -> Self {
        self.obj.metadata.labels.get_or_insert_with(Default::default).insert(key.into(), value.into());
        self
    }

    pub fn taint(mut self, key: &str, value: &str, effect: &str) -> Self {
        let taint = Taint { key: key.into(), value: Some(value.into()), effect: effect.into(), time_added: None };
        self.spec().taints.get_or_insert_with(Vec::new).push(taint);
        self
    }

    pub fn unschedulable(mut self) -> Self {
        self.spec().unschedulable = Some(true);
        self
    }

    /// Sets the Ready condition's status (`True`, `False`, `Unknown`).
    pub fn ready(mut self, status: &str) -> Self {
        if let Some(ready) = self.status().conditions.iter_mut().flatten().find(|c| c.type_ == "Ready") {
            ready.status = status.into();
        }
        self
    }

    pub fn no_conditions(mut self) -> Self {
        self.status().conditions = Some(Vec::new());
        self
    }

    /// Sets allocatable (and capacity) cpu, memory and pods.
    pub fn allocatable(mut self, cpu: &str, memory: &str, pods: u32) -> Self {
        let list = resources(&[("cpu", cpu), ("memory", memory), ("pods", &pods.to_string())]);
        let status = self.status();
        status.allocatable = Some(list.clone());
        status.capacity = Some(list);
        self
    }

    /// Sets one allocatable resource (`nvidia.com/gpu`, `ephemeral-storage`).
    pub fn resource(mut self, name: &str, amount: &str) -> Self {
        let allocatable = self.status().allocatable.get_or_insert_with(Default::default);
        allocatable.insert(name.into(), Quantity(amount.into()));
        self
    }

    /// A pod already running on the node.
    pub fn with_pod(mut self, pod: PodBuilder) -> Self {
        let name = self.obj.metadata.name.clone().unwrap_or_default();
        self.pods.push(pod.node_name(&name));
        self
    }

    pub fn build(&self) -> Node {
        self.obj.clone()
    }

    pub fn json(&self) -> Value {
        serde_json::to_value(&self.obj).expect("a node always serializes")
    }

    pub fn info(&self) -> NodeInfo {
        let mut info = NodeInfo::from_node(&self.obj);
        for p in &self.pods {
            info.add_pod(&p.info().usage);
        }
        info
    }
}

#[derive(Clone)]
pub struct PodBuilder {
    obj: Pod,
}

impl PodBuilder {
    fn spec(&mut self) -> &mut PodSpec {
        self.obj.spec.get_or_insert_with(Default::default)
    }

    /// The first container's requests.
    fn requests(&mut self) -> &mut ResourceList {
        let first = self.spec().containers.first_mut().expect("the builder's pod has a container");
        let resources = first.resources.get_or_insert_with(Default::default);
        resources.requests.get_or_insert_with(Default::default)
    }

    pub fn namespace(mut self, ns: &str) -> Self {
        self.obj.metadata.namespace = Some(ns.into());
        self
    }

    /// The first container's cpu request.
    pub fn cpu(self, amount: &str) -> Self {
        self.request("cpu", amount)
    }

    /// The first container's memory request.
    pub fn memory(self, amount: &str) -> Self {
        self.request("memory", amount)
    }

    /// Any request of the first container (`nvidia.com/gpu`, `ephemeral-storage`).
    pub fn request(mut self, name: &str, amount: &str) -> Self {
        self.requests().insert(name.into(), Quantity(amount.into()));
        self
    }

    fn container_requesting(name: String, cpu: &str, memory: &str) -> Container {
        Container {
            name,
            resources: Some(ResourceRequirements {
                requests: Some(resources(&[("cpu", cpu), ("memory", memory)])),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    /// Another app container with these requests.
    pub fn container(mut self, cpu: &str, memory: &str) -> Self {
        let containers = &mut self.spec().containers;
        containers.push(Self::container_requesting(format!("c{}", containers.len()), cpu, memory));
        self
    }

    pub fn init_container(mut self, cpu: &str, memory: &str) -> Self {
        let init = Self::container_requesting("init".into(), cpu, memory);
        self.spec().init_containers.get_or_insert_with(Vec::new).push(init);
        self
    }

    /// A host port on the first container: `hostIP` "" means all addresses, `protocol` "" means TCP.
    pub fn host_port(mut self, port: i32, protocol: &str, host_ip: &str) -> Self {
        let p = ContainerPort {
            container_port: port,
            host_port: Some(port),
            protocol: set(protocol),
            host_ip: set(host_ip),
            ..Default::default()
        };
        let first = self.spec().containers.first_mut().expect("the builder's pod has a container");
        first.ports.get_or_insert_with(Vec::new).push(p);
        self
    }

    pub fn node_selector(mut self, key: &str, value: &str) -> Self {
        self.spec().node_selector.get_or_insert_with(Default::default).insert(key.into(), value.into());
        self
    }

    /// `requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms`,
    /// written as in a manifest.
    pub fn required_terms(mut self, terms: Value) -> Self {
        let node_selector_terms = serde_json::from_value(terms).expect("node selector terms");
        self.spec().affinity = Some(Affinity {
            node_affinity: Some(NodeAffinity {
                required_during_scheduling_ignored_during_execution: Some(NodeSelector { node_selector_terms }),
                ..Default::default()
            }),
            ..Default::default()
        });
        self
    }

    /// A toleration; "" leaves a field out.
    pub fn toleration(mut self, key: &str, operator: &str, value: &str, effect: &str) -> Self {
        let t = Toleration {
            key: set(key),
            operator: set(operator),
            value: set(value),
            effect: set(effect),
            toleration_seconds: None,
        };
        self.spec().tolerations.get_or_insert_with(Vec::new).push(t);
        self
    }

    /// A controller owner reference (a ReplicaSet with this uid).
    pub fn owner(mut self, uid: &str) -> Self {
        self.obj.metadata.owner_references = Some(vec![OwnerReference {
            api_version: "apps/v1".into(),
            kind: "ReplicaSet".into(),
            name: uid.into(),
            uid: uid.into(),
            controller: Some(true),
            ..Default::default()
        }]);
        self
    }

    pub fn priority(mut self, priority: i32) -> Self {
        self.spec().priority = Some(priority);
        self
    }

    pub fn node_name(mut self, node: &str) -> Self {
        self.spec().node_name = Some(node.into());
        self
    }

    pub fn scheduler_name(mut self, name: &str) -> Self {
        self.spec().scheduler_name = Some(name.into());
        self
    }

    pub fn phase(mut self, phase: &str) -> Self {
        self.obj.status.get_or_insert_with(Default::default).phase = Some(phase.into());
        self
    }

    pub fn build(&self) -> Pod {
        self.obj.clone()
    }

    /// The pod as informers deliver it.
    pub fn shared(&self) -> Arc<Pod> {
        Arc::new(self.build())
    }

    pub fn json(&self) -> Value {
        serde_json::to_value(&self.obj).expect("a pod always serializes")
    }

    pub fn info(&self) -> PodInfo {
        PodInfo::from_pod(&self.obj)
    }
}
