//! PersistentVolume, PersistentVolumeClaim and StorageClass (k8s.io/kubernetes
//! pkg/apis/core/validation `ValidatePersistentVolume`,
//! `ValidatePersistentVolumeClaim` and their update checks;
//! pkg/apis/storage/validation `ValidateStorageClass` and its update).

use super::{go_str, names, str_at, validate_label_selector, Errs};
use crate::quantity;
use serde_json::Value;

/// `supportedAccessModes`, as Go's sorted set lists them.
const ACCESS_MODES: &[&str] = &["ReadOnlyMany", "ReadWriteMany", "ReadWriteOnce", "ReadWriteOncePod"];
const VOLUME_MODES: &[&str] = &["Block", "Filesystem"];
const PV_RECLAIM_POLICIES: &[&str] = &["Delete", "Recycle", "Retain"];
const SC_RECLAIM_POLICIES: &[&str] = &["Delete", "Retain"];
const BINDING_MODES: &[&str] = &["Immediate", "WaitForFirstConsumer"];
const HOST_PATH_TYPES: &[&str] =
    &["", "BlockDevice", "CharDevice", "Directory", "DirectoryOrCreate", "File", "FileOrCreate", "Socket"];

/// The fields of `PersistentVolumeSource`: a PV names exactly one.
const PV_SOURCES: &[&str] = &[
    "awsElasticBlockStore",
    "azureDisk",
    "azureFile",
    "cephfs",
    "cinder",
    "csi",
    "fc",
    "flexVolume",
    "flocker",
    "gcePersistentDisk",
    "glusterfs",
    "hostPath",
    "iscsi",
    "local",
    "nfs",
    "photonPersistentDisk",
    "portworxVolume",
    "quobyte",
    "rbd",
    "scaleIO",
    "storageos",
    "vsphereVolume",
];

fn present<'a>(v: &'a Value, key: &str) -> Option<&'a Value> {
    v.get(key).filter(|v| !v.is_null())
}

fn access_modes(e: &mut Errs, spec: &Value, required_msg: &str) {
    let modes: Vec<&str> =
        spec.get("accessModes").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str).collect();
    if modes.is_empty() {
        e.required("spec.accessModes", required_msg);
    }
    for mode in &modes {
        if !ACCESS_MODES.contains(mode) {
            e.not_supported("spec.accessModes", go_str(mode), ACCESS_MODES);
        }
    }
    if modes.contains(&"ReadWriteOncePod") && modes.len() > 1 {
        e.forbidden("spec.accessModes", "may not use ReadWriteOncePod with other access modes");
    }
}

fn class_name(e: &mut Errs, spec: &Value) {
    let class = str_at(spec, "storageClassName");
    if !class.is_empty() {
        for msg in names::dns1123_subdomain(class) {
            e.invalid("spec.storageClassName", go_str(class), msg);
        }
    }
}

fn volume_mode(e: &mut Errs, spec: &Value) {
    if let Some(mode) = present(spec, "volumeMode").and_then(Value::as_str) {
        if !VOLUME_MODES.contains(&mode) {
            e.not_supported("spec.volumeMode", go_str(mode), VOLUME_MODES);
        }
    }
}

/// A quantity that must be above zero (`ValidatePositiveQuantityValue`).
fn positive(e: &mut Errs, field: &str, v: &Value) {
    if let Some(q) = quantity::from_json(v) {
        if q.is_negative() || q.is_zero() {
            e.invalid(field, go_str(&q.to_string()), "must be greater than zero");
        }
    }
}

/// `ValidatePersistentVolume` (and, with `old`, `ValidatePersistentVolumeUpdate`).
pub(super) fn validate_pv(e: &mut Errs, obj: &Value, old: Option<&Value>) {
    let spec = obj.get("spec").unwrap_or(&Value::Null);
    access_modes(e, spec, "must specify at least 1 access mode");
    match spec.get("capacity").and_then(Value::as_object) {
        None => e.required("spec.capacity", ""),
        Some(cap) if cap.is_empty() => e.required("spec.capacity", ""),
        Some(cap) => {
            if !cap.contains_key("storage") || cap.len() > 1 {
                let keys: Vec<String> = cap.keys().map(|k| format!("{k}:{}", cap[k])).collect();
                e.not_supported("spec.capacity", format!("map[{}]", keys.join(" ")), &["storage"]);
            }
            for (key, q) in cap {
                positive(e, &format!("spec.capacity[{key}]"), q);
            }
        }
    }
    if let Some(policy) = present(spec, "persistentVolumeReclaimPolicy").and_then(Value::as_str) {
        if !PV_RECLAIM_POLICIES.contains(&policy) {
            e.not_supported("spec.persistentVolumeReclaimPolicy", go_str(policy), PV_RECLAIM_POLICIES);
        }
    }
    class_name(e, spec);
    volume_mode(e, spec);
    let sources: Vec<&str> = PV_SOURCES.iter().copied().filter(|s| present(spec, s).is_some()).collect();
    match sources.as_slice() {
        [] => e.required("spec", "must specify a volume type"),
        [_] => {}
        [_, more @ ..] => {
            for s in more {
                e.forbidden(format!("spec.{s}"), "may not specify more than 1 volume type");
            }
        }
    }
    if let Some(host) = present(spec, "hostPath") {
        if str_at(host, "path").is_empty() {
            e.required("spec.hostPath.path", "");
        }
        if let Some(ty) = present(host, "type").and_then(Value::as_str) {
            if !HOST_PATH_TYPES.contains(&ty) {
                e.not_supported("spec.hostPath.type", go_str(ty), &HOST_PATH_TYPES[1..]);
            }
        }
    }
    if let Some(claim) = present(spec, "claimRef") {
        if str_at(claim, "name").is_empty() {
            e.required("spec.claimRef.name", "");
        }
    }
    let Some(old) = old else { return };
    let old_spec = old.get("spec").unwrap_or(&Value::Null);
    let source_changed = PV_SOURCES.iter().any(|s| present(spec, s) != present(old_spec, s));
    if source_changed {
        e.forbidden("spec.persistentvolumesource", "spec.persistentvolumesource is immutable after creation");
    }
    if present(spec, "volumeMode") != present(old_spec, "volumeMode") {
        let mode = present(spec, "volumeMode").and_then(Value::as_str).unwrap_or("");
        e.invalid("volumeMode", go_str(mode), "field is immutable");
    }
    if let Some(old_affinity) = present(old_spec, "nodeAffinity") {
        if present(spec, "nodeAffinity") != Some(old_affinity) {
            e.forbidden("spec.nodeAffinity", "field is immutable");
        }
    }
}

/// `ValidatePersistentVolumeClaim` (and, with `old`, `ValidatePersistentVolumeClaimUpdate`).
pub(super) fn validate_pvc(e: &mut Errs, obj: &Value, old: Option<&Value>) {
    let spec = obj.get("spec").unwrap_or(&Value::Null);
    access_modes(e, spec, "at least 1 access mode is required");
    if let Some(sel) = present(spec, "selector") {
        validate_label_selector(e, sel, "spec.selector");
    }
    match spec.pointer("/resources/requests/storage").filter(|v| !v.is_null()) {
        None => e.required("spec.resources[storage]", ""),
        Some(q) => positive(e, "spec.resources[storage]", q),
    }
    class_name(e, spec);
    volume_mode(e, spec);
    let Some(old) = old else { return };
    let old_spec = old.get("spec").unwrap_or(&Value::Null);
    let bound = old.pointer("/status/phase").and_then(Value::as_str) == Some("Bound");
    // What may change: volumeName while unset (the binder sets it), an unset
    // storageClassName, the requests of a bound claim, and the volume
    // attributes class.
    let comparable = |s: &Value, keep_requests: bool| {
        let mut s = s.as_object().cloned().unwrap_or_default();
        s.retain(|_, v| !v.is_null());
        if str_at(old_spec, "volumeName").is_empty() {
            s.remove("volumeName");
        }
        // An unset class may be set (to the default class, retroactively).
        if present(old_spec, "storageClassName").is_none() {
            s.remove("storageClassName");
        }
        s.remove("volumeAttributesClassName");
        if !keep_requests {
            if let Some(Value::Object(r)) = s.get_mut("resources") {
                r.remove("requests");
                if r.is_empty() {
                    s.remove("resources");
                }
            }
        }
        s
    };
    if comparable(spec, !bound) != comparable(old_spec, !bound) {
        e.forbidden(
            "spec",
            "spec is immutable after creation except resources.requests and volumeAttributesClassName for bound claims",
        );
    } else if bound {
        let new_q = spec.pointer("/resources/requests/storage").and_then(quantity::from_json);
        let old_q = old_spec.pointer("/resources/requests/storage").and_then(quantity::from_json);
        if let (Some(new_q), Some(old_q)) = (new_q, old_q) {
            if new_q < old_q {
                e.forbidden("spec.resources.requests.storage", "field can not be less than previous value");
            }
        }
    }
}

/// `ValidateStorageClass` (and, with `old`, `ValidateStorageClassUpdate`).
pub(super) fn validate_storage_class(e: &mut Errs, obj: &Value, old: Option<&Value>) {
    let provisioner = str_at(obj, "provisioner");
    if provisioner.is_empty() {
        e.required("provisioner", "");
    } else {
        for msg in names::qualified_name(&provisioner.to_lowercase()) {
            e.invalid("provisioner", go_str(provisioner), msg);
        }
    }
    for (key, _) in obj.get("parameters").and_then(Value::as_object).into_iter().flatten() {
        if key.is_empty() {
            e.invalid("parameters", go_str(key), "key cannot be empty");
        }
    }
    if let Some(policy) = present(obj, "reclaimPolicy").and_then(Value::as_str) {
        if !SC_RECLAIM_POLICIES.contains(&policy) {
            e.not_supported("reclaimPolicy", go_str(policy), SC_RECLAIM_POLICIES);
        }
    }
    match present(obj, "volumeBindingMode").and_then(Value::as_str) {
        None => e.required("volumeBindingMode", ""),
        Some(mode) if !BINDING_MODES.contains(&mode) => {
            e.not_supported("volumeBindingMode", go_str(mode), BINDING_MODES)
        }
        Some(_) => {}
    }
    let Some(old) = old else { return };
    let params = |o: &Value| present(o, "parameters").filter(|p| p.as_object().is_some_and(|m| !m.is_empty())).cloned();
    if params(obj) != params(old) {
        e.forbidden("parameters", "updates to parameters are forbidden.");
    }
    if provisioner != str_at(old, "provisioner") {
        e.forbidden("provisioner", "updates to provisioner are forbidden.");
    }
    if str_at(obj, "reclaimPolicy") != str_at(old, "reclaimPolicy") {
        e.forbidden("reclaimPolicy", "updates to reclaimPolicy are forbidden.");
    }
    let mode = str_at(obj, "volumeBindingMode");
    if mode != str_at(old, "volumeBindingMode") {
        e.invalid("volumeBindingMode", go_str(mode), "field is immutable");
    }
}
