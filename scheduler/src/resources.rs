//! Resource amounts (cpu, memory, ephemeral storage, extended resources) and a
//! pod's effective request, computed as Kubernetes' `PodRequests` does: the sum
//! of its containers, at least the largest init container (sidecars, init
//! containers with `restartPolicy: Always`, keep running and so add up), plus
//! the pod's overhead.

use k8s_openapi::api::core::v1::{Container, PodSpec};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use std::collections::BTreeMap;

/// What a container without a cpu request counts as when scoring, so that
/// best-effort pods still spread instead of piling onto one "empty" node.
pub const DEFAULT_MILLI_CPU_REQUEST: i64 = 100;
/// The same for memory: 200Mi.
pub const DEFAULT_MEMORY_REQUEST: i64 = 200 * 1024 * 1024;

/// An amount of each resource the scheduler accounts for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Resources {
    pub milli_cpu: i64,
    /// Bytes.
    pub memory: i64,
    /// Bytes.
    pub ephemeral_storage: i64,
    /// Extended resources (`nvidia.com/gpu`), hugepages and the like, by name.
    pub scalar: BTreeMap<String, i64>,
}

/// Whether Kubernetes accounts for `name` as a "scalar" resource: extended
/// (domain-qualified) resources, hugepages and attachable volumes.
pub fn is_scalar_resource(name: &str) -> bool {
    name.starts_with("hugepages-") || name.starts_with("attachable-volumes-") || name.contains('/')
}

impl Resources {
    /// Reads a `ResourceList` (`{"cpu": "500m", "memory": "1Gi"}`); unknown
    /// names (`pods`, `storage`) and malformed quantities are skipped, as the
    /// apiserver has validated what it stored.
    pub fn from_list(list: &BTreeMap<String, Quantity>) -> Self {
        let mut out = Self::default();
        for (name, q) in list {
            let Ok(q) = api::quantity::parse(&q.0) else {
                continue;
            };
            match name.as_str() {
                "cpu" => out.milli_cpu = q.milli_value(),
                "memory" => out.memory = q.value(),
                "ephemeral-storage" => out.ephemeral_storage = q.value(),
                other if is_scalar_resource(other) => {
                    out.scalar.insert(other.to_string(), q.value());
                }
                _ => {}
            }
        }
        out
    }

    pub fn add(&mut self, other: &Resources) {
        self.milli_cpu = self.milli_cpu.saturating_add(other.milli_cpu);
        self.memory = self.memory.saturating_add(other.memory);
        self.ephemeral_storage = self.ephemeral_storage.saturating_add(other.ephemeral_storage);
        for (name, v) in &other.scalar {
            let e = self.scalar.entry(name.clone()).or_insert(0);
            *e = e.saturating_add(*v);
        }
    }

    pub fn sub(&mut self, other: &Resources) {
        self.milli_cpu = self.milli_cpu.saturating_sub(other.milli_cpu);
        self.memory = self.memory.saturating_sub(other.memory);
        self.ephemeral_storage = self.ephemeral_storage.saturating_sub(other.ephemeral_storage);
        for (name, v) in &other.scalar {
            if let Some(e) = self.scalar.get_mut(name) {
                *e = e.saturating_sub(*v);
                if *e == 0 {
                    self.scalar.remove(name);
                }
            }
        }
    }

    /// Raises each amount to at least `other`'s.
    pub fn set_max(&mut self, other: &Resources) {
        self.milli_cpu = self.milli_cpu.max(other.milli_cpu);
        self.memory = self.memory.max(other.memory);
        self.ephemeral_storage = self.ephemeral_storage.max(other.ephemeral_storage);
        for (name, v) in &other.scalar {
            let e = self.scalar.entry(name.clone()).or_insert(0);
            *e = (*e).max(*v);
        }
    }

    pub fn is_zero(&self) -> bool {
        self.milli_cpu == 0 && self.memory == 0 && self.ephemeral_storage == 0 && self.scalar.values().all(|v| *v == 0)
    }
}

/// An init container with `restartPolicy: Always` keeps running next to the
/// app containers.
pub fn is_sidecar(c: &Container) -> bool {
    c.restart_policy.as_deref() == Some("Always")
}

/// A pod's effective request. With `default_missing`, a container that does
/// not request cpu or memory counts as requesting the defaults above (the
/// "non-zero" requests used for scoring).
pub fn pod_requests(spec: &PodSpec, default_missing: bool) -> Resources {
    let container = |c: &Container| {
        let requests = c.resources.as_ref().and_then(|r| r.requests.as_ref());
        let mut r = requests.map(Resources::from_list).unwrap_or_default();
        if default_missing {
            if requests.is_none_or(|rs| !rs.contains_key("cpu")) {
                r.milli_cpu = DEFAULT_MILLI_CPU_REQUEST;
            }
            if requests.is_none_or(|rs| !rs.contains_key("memory")) {
                r.memory = DEFAULT_MEMORY_REQUEST;
            }
        }
        r
    };

    let mut total = Resources::default();
    for c in &spec.containers {
        total.add(&container(c));
    }
    // Init containers run one at a time, each next to the sidecars started
    // before it; sidecars then keep running next to the app containers.
    let mut sidecars = Resources::default();
    let mut init_peak = Resources::default();
    for c in spec.init_containers.iter().flatten() {
        let r = container(c);
        if is_sidecar(c) {
            total.add(&r);
            sidecars.add(&r);
            init_peak.set_max(&sidecars);
        } else {
            let mut during = r;
            during.add(&sidecars);
            init_peak.set_max(&during);
        }
    }
    total.set_max(&init_peak);
    if let Some(overhead) = &spec.overhead {
        total.add(&Resources::from_list(overhead));
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    fn containers(cs: &[(&str, &str)]) -> Vec<Value> {
        cs.iter()
            .map(|(cpu, mem)| json!({"name": "c", "resources": {"requests": {"cpu": cpu, "memory": mem}}}))
            .collect()
    }

    fn spec(v: Value) -> PodSpec {
        serde_json::from_value(v).expect("a pod spec")
    }

    fn list(v: Value) -> BTreeMap<String, Quantity> {
        serde_json::from_value(v).expect("a resource list")
    }

    #[test]
    fn requests_add_up_over_containers_and_are_raised_by_init_containers() {
        let spec = spec(json!({
            "containers": containers(&[("100m", "100Mi"), ("200m", "50Mi")]),
            "initContainers": containers(&[("500m", "10Mi"), ("50m", "1Gi")]),
        }));
        let r = pod_requests(&spec, false);
        assert_eq!(r.milli_cpu, 500, "the largest init container beats the 300m sum");
        assert_eq!(r.memory, 1 << 30);
    }

    #[test]
    fn sidecars_keep_running_so_they_add_to_everything_after_them() {
        let spec = spec(json!({
            "containers": [{"name": "c", "resources": {"requests": {"cpu": "100m"}}}],
            "initContainers": [
                {"name": "s", "restartPolicy": "Always", "resources": {"requests": {"cpu": "200m"}}},
                {"name": "i", "resources": {"requests": {"cpu": "250m"}}},
            ],
        }));
        // Running: 100m + 200m sidecar = 300m; during the second init container: 200m + 250m = 450m.
        assert_eq!(pod_requests(&spec, false).milli_cpu, 450);
    }

    #[test]
    fn overhead_is_added_and_extended_resources_are_kept() {
        let spec = spec(json!({
            "containers": [{"name": "c", "resources": {"requests": {"cpu": "1", "nvidia.com/gpu": "2", "pods": "3"}}}],
            "overhead": {"cpu": "250m", "memory": "120Mi"},
        }));
        let r = pod_requests(&spec, false);
        assert_eq!((r.milli_cpu, r.memory), (1250, 120 << 20));
        assert_eq!(r.scalar.get("nvidia.com/gpu"), Some(&2));
        assert_eq!(r.scalar.len(), 1, "`pods` is not a request");
    }

    #[test]
    fn best_effort_containers_count_as_defaults_when_scoring() {
        let spec = spec(
            json!({"containers": [{"name": "a"}, {"name": "b", "resources": {"requests": {"cpu": "0", "memory": "1Gi"}}}]}),
        );
        assert!(pod_requests(&spec, false).milli_cpu == 0);
        let r = pod_requests(&spec, true);
        assert_eq!(r.milli_cpu, DEFAULT_MILLI_CPU_REQUEST, "an explicit 0 stays 0, a missing request defaults");
        assert_eq!(r.memory, DEFAULT_MEMORY_REQUEST + (1 << 30));
    }

    #[test]
    fn subtracting_undoes_adding() {
        let a = Resources::from_list(&list(json!({"cpu": "1", "memory": "1Gi", "example.com/foo": "3"})));
        let mut sum = Resources::from_list(&list(json!({"cpu": "2"})));
        let before = sum.clone();
        sum.add(&a);
        assert_eq!(sum.scalar["example.com/foo"], 3);
        sum.sub(&a);
        assert_eq!(sum, before);
        assert!(Resources::default().is_zero());
    }
}
