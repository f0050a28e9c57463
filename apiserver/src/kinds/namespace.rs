//! Namespace: cluster-scoped; starts `Active`; its spec changes are not
//! counted in `metadata.generation`. A delete only marks it (`Terminating`,
//! and the namespace lifecycle check in `crate::registry::namespaces` refuses
//! new content in it); the namespace controller empties it and then removes
//! the `kubernetes` finalizer from `spec.finalizers`, and only then does it go.
//! `default`, `kube-system` and `kube-public` may never be deleted. Names are
//! DNS-1123 labels; defaulting (the `kubernetes.io/metadata.name` label, the
//! `kubernetes` finalizer) and validation are
//! in `api::validation`.

use crate::registry::DeleteOptions;
use crate::strategy::Strategy;
use api::{ApiError, ResourceInfo};
use k8s_openapi::api::core::v1::Namespace;
use serde::Deserialize;
use serde_json::{json, Value};

/// Namespaces that exist from the first start (see `Registry::bootstrap`).
pub const SYSTEM_NAMESPACES: &[&str] = &["default", "kube-system", "kube-public", "kube-node-lease"];

pub struct NamespaceStrategy;

impl Strategy for NamespaceStrategy {
    fn info(&self) -> &'static ResourceInfo {
        super::lookup("namespaces")
    }

    fn initial_status(&self) -> Option<Value> {
        Some(json!({"phase": "Active"}))
    }

    fn counts_generation(&self) -> bool {
        false
    }

    fn check_delete(&self, name: &str) -> Result<(), ApiError> {
        if SYSTEM_NAMESPACES[..3].contains(&name) {
            return Err(ApiError::forbidden("namespaces", name, "this namespace may not be deleted"));
        }
        Ok(())
    }

    /// Always marked, never removed by the delete itself.
    fn delete_grace(&self, _obj: &Value, _opts: &DeleteOptions) -> Option<i64> {
        Some(0)
    }

    fn prepare_for_delete(&self, obj: &mut Value) {
        // Stored namespaces decode: the registry validated them against this type.
        let Ok(ns) = Namespace::deserialize(&*obj) else { return };
        let mut status = ns.status.unwrap_or_default();
        status.phase = Some("Terminating".into());
        if let Some(map) = obj.as_object_mut() {
            map.insert("status".into(), serde_json::to_value(status).expect("a namespace status encodes"));
        }
    }

    /// A namespace also waits for its own finalizers (`spec.finalizers`,
    /// which the namespace controller removes once the namespace is empty).
    fn deletion_finished(&self, obj: &Value) -> bool {
        let finalizers = Namespace::deserialize(obj).ok().and_then(|ns| ns.spec?.finalizers);
        finalizers.is_none_or(|f| f.is_empty())
    }
}
