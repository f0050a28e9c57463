//! Service: the server's side of a Service.
//!
//! - Cluster IPs and node ports are allocated on create and update, and freed
//!   once the Service is gone (`crate::alloc`, Kubernetes' `alloc.go`). The
//!   allocation is taken before the write and settled after it.
//! - `clusterIP` and `clusterIPs` are kept in step for clients that only
//!   know the singular field (`NormalizeClusterIPs`).
//! - An update that leaves out values the server allocated keeps them
//!   (`patchAllocatedValues`, so `kubectl apply` of the original manifest
//!   works), and a type change drops what the old type had
//!   (`dropTypeDependentFields`).
//! - Names are DNS-1035 labels; defaulting (type ClusterIP, session
//!   affinity, port protocols and target ports, ...) and validation are in
//!   `api::validation`.

use crate::alloc::{Allocation, ServiceAllocator};
use crate::strategy::{Outcome, Reservation, Strategy};
use api::{ApiError, ResourceInfo};
use serde_json::{json, Value};
use std::sync::Arc;

pub struct ServiceStrategy {
    allocator: Arc<ServiceAllocator>,
}

impl ServiceStrategy {
    pub fn new(allocator: Arc<ServiceAllocator>) -> Self {
        Self { allocator }
    }
}

#[async_trait::async_trait]
impl Strategy for ServiceStrategy {
    fn info(&self) -> &'static ResourceInfo {
        super::lookup("services")
    }

    fn prepare_for_create(&self, obj: &mut Value) {
        normalize_cluster_ips(obj, None);
    }

    async fn begin_create(&self, obj: &mut Value, dry_run: bool) -> Result<Option<Box<dyn Reservation>>, ApiError> {
        let allocation = self.allocator.allocate_create(obj, dry_run).await?;
        Ok(Some(Box::new(Reserved { allocation, allocator: self.allocator.clone() })))
    }

    fn prepare_for_update(&self, new: &mut Value, old: &Value) {
        patch_allocated_values(new, old);
        normalize_cluster_ips(new, Some(old));
        drop_type_dependent_fields(new, old);
    }

    async fn begin_update(
        &self,
        new: &mut Value,
        old: &Value,
        dry_run: bool,
    ) -> Result<Option<Box<dyn Reservation>>, ApiError> {
        // Only a spec change can need or free an IP or port.
        if new.get("spec") == old.get("spec") {
            return Ok(None);
        }
        let allocation = self.allocator.allocate_update(new, old, dry_run).await?;
        Ok(Some(Box::new(Reserved { allocation, allocator: self.allocator.clone() })))
    }

    /// The service is gone (not only marked): its IPs and ports are free.
    async fn after_delete(&self, obj: &Value) {
        self.allocator.release(obj).await;
    }
}

/// The IPs and ports one write took, and what it gives up once it succeeds.
struct Reserved {
    allocation: Allocation,
    allocator: Arc<ServiceAllocator>,
}

#[async_trait::async_trait]
impl Reservation for Reserved {
    async fn finish(self: Box<Self>, outcome: Outcome) {
        let Reserved { allocation, allocator } = *self;
        match outcome {
            Outcome::NotStored => allocation.revert(&allocator).await,
            Outcome::Stored => allocation.commit(&allocator).await,
            Outcome::Removed => allocation.release_all(&allocator).await,
        }
    }
}

/// A service's type, defaulted as the defaulting step will.
fn service_type(svc: &Value) -> &str {
    svc["spec"]["type"].as_str().filter(|t| !t.is_empty()).unwrap_or("ClusterIP")
}

fn needs_cluster_ip(svc: &Value) -> bool {
    service_type(svc) != "ExternalName"
}

fn needs_node_port(svc: &Value) -> bool {
    matches!(service_type(svc), "NodePort" | "LoadBalancer")
}

fn needs_health_check_port(svc: &Value) -> bool {
    service_type(svc) == "LoadBalancer" && svc["spec"]["externalTrafficPolicy"] == "Local"
}

fn non_empty(v: &Value) -> bool {
    !(v.is_null() || v.as_str() == Some("") || v.as_array().is_some_and(|a| a.is_empty()) || v.as_i64() == Some(0))
}

fn remove_spec_field(svc: &mut Value, field: &str) {
    if let Some(spec) = svc.get_mut("spec").and_then(Value::as_object_mut) {
        spec.remove(field);
    }
}

/// Kubernetes' `NormalizeClusterIPs`: keeps `clusterIP` and `clusterIPs` in
/// step for clients that only know the singular field (old clients, `kubectl
/// edit` of one of them).
pub fn normalize_cluster_ips(svc: &mut Value, old: Option<&Value>) {
    if !svc.get("spec").is_some_and(Value::is_object) {
        return;
    }
    let ip = svc["spec"]["clusterIP"].as_str().unwrap_or("").to_string();
    let ips_set = non_empty(&svc["spec"]["clusterIPs"]);
    let Some(old) = old else {
        if !ip.is_empty() && !ips_set {
            svc["spec"]["clusterIPs"] = json!([ip]);
        }
        return;
    };
    let old_ip = old["spec"]["clusterIP"].as_str().unwrap_or("");
    let old_ips = &old["spec"]["clusterIPs"];
    // A client that sent clusterIP but not clusterIPs meant to keep them.
    if non_empty(old_ips) && !ips_set && old_ip == ip {
        svc["spec"]["clusterIPs"] = old_ips.clone();
    }
    if old_ip != ip {
        let same_list = svc["spec"]["clusterIPs"] == *old_ips;
        if !old_ip.is_empty() && ip.is_empty() && same_list {
            remove_spec_field(svc, "clusterIPs");
        }
        if !ip.is_empty() && same_list {
            svc["spec"]["clusterIPs"] = json!([ip]);
        }
    }
}

/// Kubernetes' `patchAllocatedValues`: a client that replaces a service
/// without the allocated values it never set (a `kubectl apply`/`replace` of
/// the original manifest) keeps them instead of asking for new ones.
fn patch_allocated_values(new: &mut Value, old: &Value) {
    if !new.get("spec").is_some_and(Value::is_object) {
        return;
    }
    if needs_cluster_ip(old) && needs_cluster_ip(new) {
        if !non_empty(&new["spec"]["clusterIP"]) && non_empty(&old["spec"]["clusterIP"]) {
            new["spec"]["clusterIP"] = old["spec"]["clusterIP"].clone();
        }
        if !non_empty(&new["spec"]["clusterIPs"]) && non_empty(&old["spec"]["clusterIPs"]) {
            new["spec"]["clusterIPs"] = old["spec"]["clusterIPs"].clone();
        }
    }
    if needs_node_port(old) && needs_node_port(new) {
        let node_ports = |svc: &Value| -> Vec<(String, i64)> {
            svc["spec"]["ports"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|p| (p["name"].as_str().unwrap_or("").to_string(), p["nodePort"].as_i64().unwrap_or(0)))
                .collect()
        };
        let (old_ports, new_ports) = (node_ports(old), node_ports(new));
        // Ports both already use cannot be handed to another port.
        let used: Vec<i64> =
            old_ports.iter().map(|p| p.1).filter(|np| *np != 0 && new_ports.iter().any(|q| q.1 == *np)).collect();
        if let Some(ports) = new.pointer_mut("/spec/ports").and_then(Value::as_array_mut) {
            for p in ports.iter_mut() {
                if p["nodePort"].as_i64().unwrap_or(0) != 0 {
                    continue;
                }
                let name = p["name"].as_str().unwrap_or("");
                if let Some((_, np)) = old_ports.iter().find(|(n, np)| n == name && *np != 0 && !used.contains(np)) {
                    p["nodePort"] = (*np).into();
                }
            }
        }
    }
    if needs_health_check_port(old) && needs_health_check_port(new) && !non_empty(&new["spec"]["healthCheckNodePort"]) {
        new["spec"]["healthCheckNodePort"] = old["spec"]["healthCheckNodePort"].clone();
    }
}

/// Kubernetes' `dropTypeDependentFields`: a type change clears what the old
/// type had allocated or defaulted, when the client left it untouched (so
/// `kubectl patch svc x -p '{"spec":{"type":"ClusterIP"}}'` works on a NodePort).
fn drop_type_dependent_fields(new: &mut Value, old: &Value) {
    if !new.get("spec").is_some_and(Value::is_object) {
        return;
    }
    let same = |new: &Value, field: &str| new["spec"][field] == old["spec"][field];
    if needs_cluster_ip(old) && !needs_cluster_ip(new) {
        if same(new, "clusterIP") && same(new, "clusterIPs") {
            remove_spec_field(new, "clusterIP");
            remove_spec_field(new, "clusterIPs");
        }
        for field in ["ipFamilies", "ipFamilyPolicy", "internalTrafficPolicy"] {
            if same(new, field) {
                remove_spec_field(new, field);
            }
        }
    }
    if needs_node_port(old) && !needs_node_port(new) {
        let node_ports = |svc: &Value| -> Vec<Value> {
            svc["spec"]["ports"].as_array().into_iter().flatten().map(|p| p["nodePort"].clone()).collect()
        };
        if node_ports(new) == node_ports(old) {
            if let Some(ports) = new.pointer_mut("/spec/ports").and_then(Value::as_array_mut) {
                for p in ports.iter_mut().filter_map(Value::as_object_mut) {
                    p.remove("nodePort");
                }
            }
        }
        if same(new, "externalTrafficPolicy") {
            remove_spec_field(new, "externalTrafficPolicy");
        }
    }
    if needs_health_check_port(old) && !needs_health_check_port(new) && same(new, "healthCheckNodePort") {
        remove_spec_field(new, "healthCheckNodePort");
    }
    if service_type(old) == "LoadBalancer" && service_type(new) != "LoadBalancer" {
        for field in ["allocateLoadBalancerNodePorts", "loadBalancerClass"] {
            if same(new, field) {
                remove_spec_field(new, field);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kinds::testing::strategy;
    use crate::strategy::{before_create, before_update};

    #[test]
    fn service_updates_keep_allocated_values_and_drop_what_a_type_change_ends() {
        let svc = strategy("services");
        let mut created =
            json!({"metadata": {"name": "s"}, "spec": {"clusterIP": "10.96.0.7", "ports": [{"port": 80}]}});
        before_create(&*svc, &mut created);
        assert_eq!(created["spec"]["clusterIPs"], json!(["10.96.0.7"]), "an old client's clusterIP fills clusterIPs");
        let old = json!({"metadata": {"name": "s", "uid": "u"}, "spec": {"type": "NodePort",
            "clusterIP": "10.96.0.7", "clusterIPs": ["10.96.0.7"], "externalTrafficPolicy": "Cluster",
            "ports": [{"name": "http", "port": 80, "nodePort": 30080}]}});
        // A replace with the original manifest keeps the IP and node port.
        let mut replaced =
            json!({"metadata": {"name": "s"}, "spec": {"type": "NodePort", "ports": [{"name": "http", "port": 81}]}});
        before_update(&*svc, &mut replaced, &old, "");
        assert_eq!(replaced["spec"]["clusterIPs"], json!(["10.96.0.7"]));
        assert_eq!(replaced["spec"]["ports"][0]["nodePort"], 30080);
        // Switching to ClusterIP drops the node port and the traffic policy it no longer needs.
        let mut patched = old.clone();
        patched["spec"]["type"] = json!("ClusterIP");
        before_update(&*svc, &mut patched, &old, "");
        assert!(patched["spec"]["ports"][0].get("nodePort").is_none());
        assert!(patched["spec"].get("externalTrafficPolicy").is_none());
        assert_eq!(patched["spec"]["clusterIP"], "10.96.0.7");
        // A changed node port is the client's: kept, for validation and allocation to judge.
        let mut changed = old.clone();
        changed["spec"]["type"] = json!("ClusterIP");
        changed["spec"]["ports"][0]["nodePort"] = json!(30090);
        before_update(&*svc, &mut changed, &old, "");
        assert_eq!(changed["spec"]["ports"][0]["nodePort"], 30090);
        // To ExternalName the untouched cluster IP goes.
        let mut external = old.clone();
        external["spec"]["type"] = json!("ExternalName");
        before_update(&*svc, &mut external, &old, "");
        assert!(external["spec"].get("clusterIP").is_none() && external["spec"].get("clusterIPs").is_none());
    }
}
