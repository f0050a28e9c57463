//! The namespace lifecycle check every create passes (kube-apiserver's
//! NamespaceLifecycle admission): no new content in a namespace that does not
//! exist or is being deleted. The registry keeps a table of namespaces by a
//! watch of its own, so a create need not read its namespace from etcd.

use super::{Registry, Result};
use api::{meta, registry, ApiError, ResourceInfo};
use futures::StreamExt;
use std::sync::Arc;

impl Registry {
    /// Keeps the namespace table current until the store's watch ends for good.
    /// Run on a task of its own; restarts (re-listing) whenever its watch fails.
    pub async fn watch_namespaces(self: Arc<Self>) {
        let info = registry::lookup("namespaces").expect("namespaces are registered");
        loop {
            let mut rx = match self.watch(info, "", "", "", "").await {
                Ok(rx) => rx,
                Err(e) => {
                    tracing::warn!(error = %e, "watching namespaces; retrying");
                    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                    continue;
                }
            };
            self.namespaces.write().expect("namespaces lock").clear();
            while let Some(Ok(ev)) = rx.next().await {
                let Ok(ns) = ev.decode() else { continue };
                let mut table = self.namespaces.write().expect("namespaces lock");
                if ev.kind == "DELETED" {
                    table.remove(meta::name(&ns));
                } else {
                    table.insert(meta::name(&ns).to_string(), meta::deletion_timestamp(&ns).is_some());
                }
            }
        }
    }

    /// Refuses new content in a namespace that does not exist or is being deleted.
    pub(super) async fn check_namespace(&self, info: &ResourceInfo, namespace: &str, name: &str) -> Result<()> {
        if !info.namespaced {
            return Ok(());
        }
        let known = self.namespaces.read().expect("namespaces lock").get(namespace).copied();
        let terminating = match known {
            Some(t) => t,
            None => {
                let ns_info = registry::lookup("namespaces").expect("namespaces are registered");
                meta::deletion_timestamp(&self.read(ns_info, "", namespace).await?.0).is_some()
            }
        };
        if terminating {
            return Err(ApiError::forbidden(
                &info.group_resource(),
                name,
                &format!("unable to create new content in namespace {namespace} because it is being terminated"),
            ));
        }
        Ok(())
    }
}
