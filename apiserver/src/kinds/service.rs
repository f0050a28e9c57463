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

use crate::alloc::{self, needs_cluster_ip, needs_health_check, needs_node_ports, service_type};
use crate::alloc::{Allocation, ServiceAllocator};
use crate::strategy::{Outcome, Reservation, Strategy};
use api::{ApiError, ResourceInfo};
use k8s_openapi::api::core::v1::{Service, ServiceSpec};
use serde::Deserialize;
use serde_json::Value;
use std::sync::Arc;

pub struct ServiceStrategy {
    allocator: Arc<ServiceAllocator>,
}

impl ServiceStrategy {
    pub fn new(allocator: Arc<ServiceAllocator>) -> Self {
        Self { allocator }
    }
}

// Each hook decodes the Service, works on its typed spec and stores the spec
// back only if it changed (`store_spec`). The registry decoded the object
// strictly before any hook runs, so the decode here does not fail; the
// prepare hooks, which cannot answer an error, leave such an object alone.
#[async_trait::async_trait]
impl Strategy for ServiceStrategy {
    fn info(&self) -> &'static ResourceInfo {
        super::lookup("services")
    }

    fn prepare_for_create(&self, obj: &mut Value) {
        let Ok(mut svc) = decode(obj) else { return };
        let sent = svc.spec.clone();
        normalize_cluster_ips(&mut svc, None);
        store_spec(obj, &sent, svc.spec);
    }

    async fn begin_create(&self, obj: &mut Value, dry_run: bool) -> Result<Option<Box<dyn Reservation>>, ApiError> {
        let mut svc = decode(obj)?;
        let sent = svc.spec.clone();
        let allocation = self.allocator.allocate_create(&mut svc, dry_run).await?;
        store_spec(obj, &sent, svc.spec);
        Ok(Some(Box::new(Reserved { allocation, allocator: self.allocator.clone() })))
    }

    fn prepare_for_update(&self, new: &mut Value, old: &Value) {
        let (Ok(mut svc), Ok(old)) = (decode(new), decode(old)) else { return };
        let sent = svc.spec.clone();
        patch_allocated_values(&mut svc, &old);
        normalize_cluster_ips(&mut svc, Some(&old));
        drop_type_dependent_fields(&mut svc, &old);
        store_spec(new, &sent, svc.spec);
    }

    async fn begin_update(
        &self,
        new: &mut Value,
        old: &Value,
        dry_run: bool,
    ) -> Result<Option<Box<dyn Reservation>>, ApiError> {
        let (mut svc, old) = (decode(new)?, decode(old)?);
        // Only a spec change can need or free an IP or port.
        if svc.spec == old.spec {
            return Ok(None);
        }
        let sent = svc.spec.clone();
        let allocation = self.allocator.allocate_update(&mut svc, &old, dry_run).await?;
        store_spec(new, &sent, svc.spec);
        Ok(Some(Box::new(Reserved { allocation, allocator: self.allocator.clone() })))
    }

    /// The service is gone (not only marked): its IPs and ports are free.
    async fn after_delete(&self, obj: &Value) {
        match decode(obj) {
            Ok(svc) => self.allocator.release(&svc).await,
            // Left for the allocator's repair pass.
            Err(e) => tracing::warn!(error = %e, "cannot release the IPs and ports of a deleted service"),
        }
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

fn decode(obj: &Value) -> Result<Service, ApiError> {
    Service::deserialize(obj).map_err(|e| ApiError::internal(format!("decoding a service: {e}")))
}

/// Puts the spec a hook worked on back into the object the registry stores,
/// if the hook changed it: re-encoded from the typed spec, as Kubernetes
/// re-encodes what it stores. The rest of the object stays as it came.
fn store_spec(obj: &mut Value, sent: &Option<ServiceSpec>, spec: Option<ServiceSpec>) {
    if *sent == spec {
        return;
    }
    if let (Some(map), Some(spec)) = (obj.as_object_mut(), spec) {
        map.insert("spec".into(), serde_json::to_value(spec).expect("a service spec encodes"));
    }
}

/// A string field that holds a value: set and not empty.
fn is_set(field: &Option<String>) -> bool {
    field.as_deref().is_some_and(|s| !s.is_empty())
}

/// Kubernetes' `NormalizeClusterIPs`: keeps `clusterIP` and `clusterIPs` in
/// step for clients that only know the singular field (old clients, `kubectl
/// edit` of one of them).
fn normalize_cluster_ips(svc: &mut Service, old: Option<&Service>) {
    let Some(spec) = svc.spec.as_mut() else { return };
    let ip = spec.cluster_ip.clone().unwrap_or_default();
    let ips_set = spec.cluster_ips.as_ref().is_some_and(|ips| !ips.is_empty());
    let Some(old) = old else {
        if !ip.is_empty() && !ips_set {
            spec.cluster_ips = Some(vec![ip]);
        }
        return;
    };
    let old = alloc::spec(old);
    let old_ip = old.cluster_ip.as_deref().unwrap_or("");
    // A client that sent clusterIP but not clusterIPs meant to keep them.
    if old.cluster_ips.as_ref().is_some_and(|ips| !ips.is_empty()) && !ips_set && old_ip == ip {
        spec.cluster_ips = old.cluster_ips.clone();
    }
    if old_ip != ip {
        let same_list = spec.cluster_ips == old.cluster_ips;
        if !old_ip.is_empty() && ip.is_empty() && same_list {
            spec.cluster_ips = None;
        }
        if !ip.is_empty() && same_list {
            spec.cluster_ips = Some(vec![ip]);
        }
    }
}

/// Kubernetes' `patchAllocatedValues`: a client that replaces a service
/// without the allocated values it never set (a `kubectl apply`/`replace` of
/// the original manifest) keeps them instead of asking for new ones.
fn patch_allocated_values(new: &mut Service, old: &Service) {
    let Some(spec) = new.spec.as_mut() else { return };
    let old = alloc::spec(old);
    if needs_cluster_ip(old) && needs_cluster_ip(spec) {
        if !is_set(&spec.cluster_ip) && is_set(&old.cluster_ip) {
            spec.cluster_ip = old.cluster_ip.clone();
        }
        let listed = |ips: &Option<Vec<String>>| ips.as_ref().is_some_and(|ips| !ips.is_empty());
        if !listed(&spec.cluster_ips) && listed(&old.cluster_ips) {
            spec.cluster_ips = old.cluster_ips.clone();
        }
    }
    if needs_node_ports(old) && needs_node_ports(spec) {
        let node_ports = |spec: &ServiceSpec| -> Vec<(String, i32)> {
            let ports = spec.ports.iter().flatten();
            ports.map(|p| (p.name.clone().unwrap_or_default(), p.node_port.unwrap_or(0))).collect()
        };
        let (old_ports, new_ports) = (node_ports(old), node_ports(spec));
        // Ports both already use cannot be handed to another port.
        let used: Vec<i32> =
            old_ports.iter().map(|p| p.1).filter(|np| *np != 0 && new_ports.iter().any(|q| q.1 == *np)).collect();
        for p in spec.ports.iter_mut().flatten().filter(|p| p.node_port.unwrap_or(0) == 0) {
            let name = p.name.as_deref().unwrap_or("");
            if let Some((_, np)) = old_ports.iter().find(|(n, np)| n == name && *np != 0 && !used.contains(np)) {
                p.node_port = Some(*np);
            }
        }
    }
    if needs_health_check(old) && needs_health_check(spec) && spec.health_check_node_port.unwrap_or(0) == 0 {
        spec.health_check_node_port = old.health_check_node_port;
    }
}

/// Kubernetes' `dropTypeDependentFields`: a type change clears what the old
/// type had allocated or defaulted, when the client left it untouched (so
/// `kubectl patch svc x -p '{"spec":{"type":"ClusterIP"}}'` works on a NodePort).
fn drop_type_dependent_fields(new: &mut Service, old: &Service) {
    let Some(spec) = new.spec.as_mut() else { return };
    let old = alloc::spec(old);
    /// Clears a field the client sent back as the old object had it.
    fn drop_if_kept<T: PartialEq>(field: &mut Option<T>, old: &Option<T>) {
        if field == old {
            *field = None;
        }
    }
    if needs_cluster_ip(old) && !needs_cluster_ip(spec) {
        if spec.cluster_ip == old.cluster_ip && spec.cluster_ips == old.cluster_ips {
            spec.cluster_ip = None;
            spec.cluster_ips = None;
        }
        drop_if_kept(&mut spec.ip_families, &old.ip_families);
        drop_if_kept(&mut spec.ip_family_policy, &old.ip_family_policy);
        drop_if_kept(&mut spec.internal_traffic_policy, &old.internal_traffic_policy);
    }
    if needs_node_ports(old) && !needs_node_ports(spec) {
        let node_ports =
            |spec: &ServiceSpec| -> Vec<Option<i32>> { spec.ports.iter().flatten().map(|p| p.node_port).collect() };
        if node_ports(spec) == node_ports(old) {
            for p in spec.ports.iter_mut().flatten() {
                p.node_port = None;
            }
        }
        drop_if_kept(&mut spec.external_traffic_policy, &old.external_traffic_policy);
    }
    if needs_health_check(old) && !needs_health_check(spec) {
        drop_if_kept(&mut spec.health_check_node_port, &old.health_check_node_port);
    }
    if service_type(old) == "LoadBalancer" && service_type(spec) != "LoadBalancer" {
        drop_if_kept(&mut spec.allocate_load_balancer_node_ports, &old.allocate_load_balancer_node_ports);
        drop_if_kept(&mut spec.load_balancer_class, &old.load_balancer_class);
    }
}

#[cfg(test)]
mod tests {
    use crate::kinds::testing::strategy;
    use crate::strategy::{before_create, before_update};
    use serde_json::json;

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
