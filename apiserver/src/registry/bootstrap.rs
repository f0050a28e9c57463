//! What every cluster has from its first start: the system namespaces and
//! services (see `crate::alloc::bootstrap`), made through the registry's own
//! verbs on every start, as kube-apiserver's bootstrap controller does.

use super::{storage_error, Registry, Result};
use crate::alloc;
use crate::kinds::namespace::SYSTEM_NAMESPACES;
use api::{meta, registry};
use serde_json::json;

impl Registry {
    /// Creates the namespaces and services every cluster has, after repairing
    /// the service allocations. Safe to run on every start.
    pub async fn bootstrap(&self) -> Result<()> {
        let ns = registry::lookup("namespaces").expect("namespaces are registered");
        for name in SYSTEM_NAMESPACES {
            let body = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}});
            match self.create(ns, "", &serde_json::to_vec(&body).expect("json"), false).await {
                Ok(_) => tracing::info!(namespace = name, "created system namespace"),
                Err(e) if e.is_already_exists() => {}
                Err(e) => return Err(e),
            }
        }
        let report = self.services.repair(alloc::REPAIR_GRACE).await.map_err(storage_error)?;
        if report != alloc::RepairReport::default() {
            tracing::info!(?report, "repaired service IP and node port allocations");
        }
        self.bootstrap_services().await
    }

    /// `default/kubernetes` with its Endpoints, and `kube-system/kube-dns`.
    /// The `kubernetes` ports and Endpoints follow the current flags.
    async fn bootstrap_services(&self) -> Result<()> {
        let services = registry::lookup("services").expect("services are registered");
        let endpoints = registry::lookup("endpoints").expect("endpoints are registered");
        let config = self.services.config().clone();
        let kubernetes = alloc::bootstrap::kubernetes_service(&config);
        let kube_dns = alloc::bootstrap::kube_dns_service(&config);
        for svc in [&kubernetes, &kube_dns] {
            let (ns, name) = (meta::namespace(svc), meta::name(svc));
            match self.create(services, ns, &serde_json::to_vec(svc).expect("json"), false).await {
                Ok(created) => tracing::info!(service = %format!("{ns}/{name}"),
                    cluster_ip = created["spec"]["clusterIP"].as_str().unwrap_or(""), "created system service"),
                Err(e) if e.is_already_exists() => {}
                // Someone holds its address; the cluster works on, without it.
                Err(e) if e.is_invalid() => tracing::error!(service = %format!("{ns}/{name}"), error = %e,
                    "cannot create system service"),
                Err(e) => return Err(e),
            }
        }
        let mut current = self.get(services, "default", "kubernetes").await?;
        if current["spec"]["ports"] != kubernetes["spec"]["ports"] {
            current["spec"]["ports"] = kubernetes["spec"]["ports"].clone();
            let body = serde_json::to_vec(&current).expect("json");
            self.update(services, "default", "kubernetes", &body, "", false).await?;
        }
        let wanted = alloc::bootstrap::kubernetes_endpoints(&config);
        match self.create(endpoints, "default", &serde_json::to_vec(&wanted).expect("json"), false).await {
            Err(e) if e.is_already_exists() => {
                let mut current = self.get(endpoints, "default", "kubernetes").await?;
                if current["subsets"] != wanted["subsets"] {
                    tracing::info!(address = %config.advertise_address, "the apiserver's address changed; updating the kubernetes endpoints");
                    current["subsets"] = wanted["subsets"].clone();
                    let body = serde_json::to_vec(&current).expect("json");
                    self.update(endpoints, "default", "kubernetes", &body, "", false).await?;
                }
            }
            other => drop(other?),
        }
        Ok(())
    }
}
