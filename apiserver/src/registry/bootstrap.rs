//! What every cluster has from its first start: the system namespaces and
//! services (see `crate::alloc::bootstrap`), made through the registry's own
//! verbs on every start, as kube-apiserver's bootstrap controller does; and
//! the default StorageClass `standard`, as minikube's storage addon makes it.

use super::{storage_error, Registry, Result};
use crate::alloc;
use crate::kinds::namespace::SYSTEM_NAMESPACES;
use api::{registry, ApiError};
use k8s_openapi::api::core::v1::{Endpoints, Namespace, Service};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use proto::PatchType;
use serde::de::DeserializeOwned;
use serde_json::{json, Value};

impl Registry {
    /// Creates the namespaces and services every cluster has, after repairing
    /// the service allocations. Safe to run on every start.
    pub async fn bootstrap(&self) -> Result<()> {
        let ns = registry::lookup("namespaces").expect("namespaces are registered");
        for name in SYSTEM_NAMESPACES {
            let body = Namespace {
                metadata: ObjectMeta { name: Some(name.to_string()), ..Default::default() },
                ..Default::default()
            };
            match self.create(ns, "", &encode(&body), &system()).await {
                Ok(_) => tracing::info!(namespace = name, "created system namespace"),
                Err(e) if e.is_already_exists() => {}
                Err(e) => return Err(e),
            }
        }
        let report = self.services.repair(alloc::REPAIR_GRACE).await.map_err(storage_error)?;
        if report != alloc::RepairReport::default() {
            tracing::info!(?report, "repaired service IP and node port allocations");
        }
        self.bootstrap_services().await?;
        self.bootstrap_storage_class().await
    }

    /// The default class `standard`, provisioned by the controller-manager's
    /// hostPath provisioner (minikube's `k8s.io/minikube-hostpath`), made
    /// when missing.
    async fn bootstrap_storage_class(&self) -> Result<()> {
        let classes = registry::lookup("storageclasses").expect("storageclasses are registered");
        let standard = json!({
            "apiVersion": "storage.k8s.io/v1",
            "kind": "StorageClass",
            "metadata": {
                "name": "standard",
                "labels": {"addonmanager.kubernetes.io/mode": "EnsureExists"},
                "annotations": {"storageclass.kubernetes.io/is-default-class": "true"},
            },
            "provisioner": "kubelab.io/hostpath",
            "reclaimPolicy": "Delete",
            "volumeBindingMode": "Immediate",
        });
        match self.create(classes, "", &encode(&standard), &system()).await {
            Ok(_) => tracing::info!(class = "standard", "created the default storage class"),
            Err(e) if e.is_already_exists() => {}
            Err(e) => return Err(e),
        }
        Ok(())
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
            let ns = svc.metadata.namespace.as_deref().unwrap_or("");
            let service = format!("{ns}/{}", svc.metadata.name.as_deref().unwrap_or(""));
            match self.create(services, ns, &encode(svc), &system()).await {
                Ok(created) => {
                    let created: Service = typed(created)?;
                    let cluster_ip = created.spec.and_then(|s| s.cluster_ip).unwrap_or_default();
                    tracing::info!(service, cluster_ip, "created system service");
                }
                Err(e) if e.is_already_exists() => {}
                // Someone holds its address; the cluster works on, without it.
                Err(e) if e.is_invalid() => tracing::error!(service, error = %e, "cannot create system service"),
                Err(e) => return Err(e),
            }
        }
        let current: Service = typed(self.get(services, "default", "kubernetes").await?)?;
        let ports = |svc: &Service| svc.spec.as_ref().and_then(|s| s.ports.clone());
        if ports(&current) != ports(&kubernetes) {
            let patch = json!({"spec": {"ports": ports(&kubernetes)}});
            self.patch(services, "default", "kubernetes", PatchType::Merge, &encode(&patch), "", &system()).await?;
        }
        let wanted = alloc::bootstrap::kubernetes_endpoints(&config);
        match self.create(endpoints, "default", &encode(&wanted), &system()).await {
            Err(e) if e.is_already_exists() => {
                let current: Endpoints = typed(self.get(endpoints, "default", "kubernetes").await?)?;
                if current.subsets != wanted.subsets {
                    tracing::info!(address = %config.advertise_address, "the apiserver's address changed; updating the kubernetes endpoints");
                    let patch = json!({"subsets": wanted.subsets});
                    self.patch(endpoints, "default", "kubernetes", PatchType::Merge, &encode(&patch), "", &system())
                        .await?;
                }
            }
            other => drop(other?),
        }
        Ok(())
    }
}

fn encode(obj: &impl serde::Serialize) -> Vec<u8> {
    serde_json::to_vec(obj).expect("an object encodes")
}

/// A stored object as its k8s-openapi type; the server validated it against
/// the same schema, so this fails only on a bug.
fn typed<K: DeserializeOwned>(obj: Value) -> Result<K> {
    serde_json::from_value(obj).map_err(|e| ApiError::internal(format!("decoding a system object: {e}")))
}

/// The server's own writes, owned by `kube-apiserver` as in Kubernetes.
fn system() -> super::WriteOptions {
    super::WriteOptions { field_manager: "kube-apiserver".into(), ..Default::default() }
}
