//! Finishes namespace deletion: once a namespace is marked Terminating, every
//! object in it is deleted, then the namespace itself.
//!
//! Kubernetes does this in the controller-manager's namespace controller; the
//! apiserver runs it here until kubelab has a controller-manager, so deleting a
//! namespace works with the apiserver alone.

use crate::registry::{DeleteOptions, Registry};
use api::{meta, registry, ResourceInfo};
use std::sync::Arc;
use std::time::Duration;

fn namespaces() -> &'static ResourceInfo {
    registry::lookup("namespaces").expect("namespaces are registered")
}

/// Deletes what is left in `name` and, when nothing is, the namespace.
/// Returns true once the namespace is gone.
pub async fn finalize(reg: &Registry, name: &str) -> api::Result<bool> {
    let mut remaining = 0;
    for info in registry::RESOURCES.iter().filter(|r| r.namespaced && r.kind != "Binding") {
        let list = reg.list(info, name, "", "", 0, "").await?;
        for item in list["items"].as_array().into_iter().flatten() {
            remaining += 1;
            if meta::deletion_timestamp(item).is_none() {
                match reg.delete(info, name, meta::name(item), &DeleteOptions::default()).await {
                    Ok(_) => {}
                    Err(e) if e.is_not_found() => {}
                    Err(e) => return Err(e),
                }
            }
        }
    }
    if remaining > 0 {
        return Ok(false);
    }
    // Empty: drop the `kubernetes` finalizer by deleting the namespace for good.
    let ns = reg.get(namespaces(), "", name).await?;
    let rv: i64 = meta::resource_version(&ns).parse().unwrap_or(0);
    match reg.store().delete(&namespaces().key("", name), Some(rv)).await {
        Ok(_) => Ok(true),
        Err(crate::store::StoreError::NotFound) => Ok(true),
        Err(e) => Err(api::ApiError::internal(e)),
    }
}

/// Runs forever: every `period`, finalizes each Terminating namespace.
/// Contents that are themselves terminating (pods on nodes) are waited for.
pub async fn run(reg: Arc<Registry>, period: Duration) {
    let mut tick = tokio::time::interval(period);
    loop {
        tick.tick().await;
        let list = match reg.list(namespaces(), "", "", "", 0, "").await {
            Ok(l) => l,
            Err(e) => {
                tracing::warn!(error = %e, "listing namespaces");
                continue;
            }
        };
        for ns in list["items"].as_array().into_iter().flatten() {
            if meta::deletion_timestamp(ns).is_none() {
                continue;
            }
            let name = meta::name(ns);
            match finalize(&reg, name).await {
                Ok(true) => tracing::info!(namespace = name, "namespace deleted"),
                Ok(false) => {}
                Err(e) => tracing::warn!(namespace = name, error = %e, "finalizing namespace"),
            }
        }
    }
}
