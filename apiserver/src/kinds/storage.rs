//! PersistentVolume and PersistentVolumeClaim: a new object starts in phase
//! Pending with the protection finalizer the StorageObjectInUseProtection
//! admission plugin adds (`kubernetes.io/pv-protection`,
//! `kubernetes.io/pvc-protection`), which the controller-manager's volume
//! controller removes once nothing uses the object. Neither counts
//! generations (kube-apiserver's strategies do not). Their defaults and
//! validation are in `api::validation` (`validation/storage.rs`);
//! StorageClass has the generic strategy.

use crate::strategy::Strategy;
use api::ResourceInfo;
use serde_json::{json, Value};

pub const PV_PROTECTION: &str = "kubernetes.io/pv-protection";
pub const PVC_PROTECTION: &str = "kubernetes.io/pvc-protection";

fn add_finalizer(obj: &mut Value, finalizer: &str) {
    let m = api::meta::metadata_mut(obj);
    let list = m.entry("finalizers").or_insert_with(|| json!([]));
    if !list.is_array() {
        *list = json!([]);
    }
    let list = list.as_array_mut().expect("just made an array");
    if !list.iter().any(|f| f == finalizer) {
        list.push(finalizer.into());
    }
}

pub struct PersistentVolumeStrategy;

impl Strategy for PersistentVolumeStrategy {
    fn info(&self) -> &'static ResourceInfo {
        super::lookup("persistentvolumes")
    }

    fn prepare_for_create(&self, obj: &mut Value) {
        add_finalizer(obj, PV_PROTECTION);
    }

    fn initial_status(&self) -> Option<Value> {
        Some(json!({"phase": "Pending"}))
    }

    fn counts_generation(&self) -> bool {
        false
    }
}

pub struct PersistentVolumeClaimStrategy;

impl Strategy for PersistentVolumeClaimStrategy {
    fn info(&self) -> &'static ResourceInfo {
        super::lookup("persistentvolumeclaims")
    }

    fn prepare_for_create(&self, obj: &mut Value) {
        add_finalizer(obj, PVC_PROTECTION);
    }

    fn initial_status(&self) -> Option<Value> {
        Some(json!({"phase": "Pending"}))
    }

    fn counts_generation(&self) -> bool {
        false
    }
}

#[cfg(test)]
mod tests {
    use crate::kinds::testing::strategy;
    use crate::strategy::{before_create, before_update};
    use serde_json::json;

    fn created(resource: &str, mut obj: serde_json::Value) -> serde_json::Value {
        let s = strategy(resource);
        before_create(&*s, &mut obj);
        s.default(&mut obj).unwrap();
        s.validate(&obj, None).unwrap();
        obj
    }

    #[test]
    fn a_new_pv_is_pending_retained_and_protected() {
        let pv = created(
            "pv",
            json!({"apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": "mongodb-pv"},
                   "spec": {"capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce", "ReadOnlyMany"],
                            "hostPath": {"path": "/tmp/mongodb"}},
                   "status": {"phase": "Bound"}}),
        );
        assert_eq!(pv["status"], json!({"phase": "Pending"}), "a client's status is dropped");
        assert_eq!(pv["spec"]["persistentVolumeReclaimPolicy"], "Retain");
        assert_eq!(pv["spec"]["volumeMode"], "Filesystem");
        assert_eq!(pv["metadata"]["finalizers"], json!(["kubernetes.io/pv-protection"]));
        assert!(pv["metadata"].get("generation").is_none());
    }

    #[test]
    fn a_pvcs_spec_is_immutable_but_its_volume_name_may_be_set_once() {
        let pvcs = strategy("pvc");
        let pvc = created(
            "pvc",
            json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim",
                   "metadata": {"name": "mongodb-pvc", "namespace": "default"},
                   "spec": {"resources": {"requests": {"storage": "1Gi"}}, "accessModes": ["ReadWriteOnce"],
                            "storageClassName": ""}}),
        );
        assert_eq!(pvc["metadata"]["finalizers"], json!(["kubernetes.io/pvc-protection"]));
        assert_eq!(pvc["status"]["phase"], "Pending");

        let mut bind = pvc.clone();
        bind["spec"]["volumeName"] = json!("mongodb-pv");
        before_update(&*pvcs, &mut bind, &pvc, "");
        pvcs.default(&mut bind).unwrap();
        pvcs.validate(&bind, Some(&pvc)).unwrap();

        let mut rebind = bind.clone();
        rebind["spec"]["volumeName"] = json!("other");
        before_update(&*pvcs, &mut rebind, &bind, "");
        let err = pvcs.validate(&rebind, Some(&bind)).unwrap_err();
        assert_eq!(
            err.message,
            "PersistentVolumeClaim \"mongodb-pvc\" is invalid: spec: Forbidden: spec is immutable after creation \
             except resources.requests and volumeAttributesClassName for bound claims"
        );
    }
}
