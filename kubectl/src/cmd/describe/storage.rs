//! `kubectl describe pv`, `describe pvc` and `describe sc`, as kubectl's
//! `describePersistentVolume`, `describePersistentVolumeClaim` (with the pods
//! that use the claim, "Used By") and `describeStorageClass`.

use super::writer::{header, labels_and_annotations, Writer};
use crate::printers::columns::format_labels;
use api::k8s_openapi::api::core::v1::{
    HostPathVolumeSource, PersistentVolume, PersistentVolumeClaim, Pod, VolumeNodeAffinity,
};
use api::k8s_openapi::api::storage::v1::StorageClass;
use api::k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use api::k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use api::printers::access_modes_string;
use std::collections::BTreeMap;

/// Go's `%v` of a string slice: `[a b]`.
fn go_list(items: Option<&Vec<String>>) -> String {
    format!("[{}]", items.map(|v| v.join(" ")).unwrap_or_default())
}

fn storage(map: Option<&BTreeMap<String, Quantity>>) -> String {
    map.and_then(|m| m.get("storage")).map(|q| api::quantity::canonical(&q.0)).unwrap_or_default()
}

fn status_line(meta: &ObjectMeta, phase: Option<&String>) -> String {
    if meta.deletion_timestamp.is_some() {
        return "Terminating".into();
    }
    phase.cloned().unwrap_or_default()
}

fn node_affinity(w: &mut Writer, affinity: Option<&VolumeNodeAffinity>) {
    let Some(required) = affinity.and_then(|a| a.required.as_ref()) else {
        w.w(0, "Node Affinity:\t<none>\n");
        return;
    };
    w.w(0, "Node Affinity:\t\n");
    w.w(1, "Required Terms:\t\n");
    for (i, term) in required.node_selector_terms.iter().enumerate() {
        let exprs: Vec<String> = term
            .match_expressions
            .iter()
            .flatten()
            .map(|e| {
                let op = e.operator.to_lowercase();
                format!("{} {op} [{}]", e.key, e.values.as_deref().unwrap_or_default().join(", "))
            })
            .collect();
        let text = if exprs.is_empty() { "<none>".to_string() } else { exprs.join(", ") };
        w.w(2, &format!("Term {i}:\t{text}\n"));
    }
}

fn host_path(w: &mut Writer, hp: &HostPathVolumeSource) {
    w.w(2, "Type:\tHostPath (bare host directory volume)\n");
    w.w(2, &format!("Path:\t{}\n", hp.path));
    w.w(2, &format!("HostPathType:\t{}\n", hp.type_.as_deref().unwrap_or("")));
}

pub fn persistent_volume(w: &mut Writer, pv: &PersistentVolume) {
    let spec = pv.spec.clone().unwrap_or_default();
    let status = pv.status.clone().unwrap_or_default();
    header(w, &pv.metadata, false);
    labels_and_annotations(w, &pv.metadata);
    w.w(0, &format!("Finalizers:\t{}\n", go_list(pv.metadata.finalizers.as_ref())));
    w.w(0, &format!("StorageClass:\t{}\n", spec.storage_class_name.as_deref().unwrap_or("")));
    w.w(0, &format!("Status:\t{}\n", status_line(&pv.metadata, status.phase.as_ref())));
    let claim = spec.claim_ref.as_ref().map_or(String::new(), |c| {
        format!("{}/{}", c.namespace.as_deref().unwrap_or(""), c.name.as_deref().unwrap_or(""))
    });
    w.w(0, &format!("Claim:\t{claim}\n"));
    w.w(0, &format!("Reclaim Policy:\t{}\n", spec.persistent_volume_reclaim_policy.as_deref().unwrap_or("")));
    w.w(0, &format!("Access Modes:\t{}\n", access_modes_string(spec.access_modes.as_deref().unwrap_or_default())));
    w.w(0, &format!("VolumeMode:\t{}\n", spec.volume_mode.as_deref().unwrap_or("Filesystem")));
    w.w(0, &format!("Capacity:\t{}\n", storage(spec.capacity.as_ref())));
    node_affinity(w, spec.node_affinity.as_ref());
    w.w(0, &format!("Message:\t{}\n", status.message.as_deref().unwrap_or("")));
    w.w(0, "Source:\n");
    if let Some(hp) = &spec.host_path {
        host_path(w, hp);
    }
}

pub fn persistent_volume_claim(w: &mut Writer, pvc: &PersistentVolumeClaim, pods: &[Pod]) {
    let spec = pvc.spec.clone().unwrap_or_default();
    let status = pvc.status.clone().unwrap_or_default();
    header(w, &pvc.metadata, true);
    w.w(0, &format!("StorageClass:\t{}\n", spec.storage_class_name.as_deref().unwrap_or("")));
    w.w(0, &format!("Status:\t{}\n", status_line(&pvc.metadata, status.phase.as_ref())));
    w.w(0, &format!("Volume:\t{}\n", spec.volume_name.as_deref().unwrap_or("")));
    labels_and_annotations(w, &pvc.metadata);
    w.w(0, &format!("Finalizers:\t{}\n", go_list(pvc.metadata.finalizers.as_ref())));
    let bound = spec.volume_name.as_deref().is_some_and(|v| !v.is_empty());
    let (capacity, modes) = if bound {
        (storage(status.capacity.as_ref()), access_modes_string(status.access_modes.as_deref().unwrap_or_default()))
    } else {
        (String::new(), String::new())
    };
    w.w(0, &format!("Capacity:\t{capacity}\n"));
    w.w(0, &format!("Access Modes:\t{modes}\n"));
    w.w(0, &format!("VolumeMode:\t{}\n", spec.volume_mode.as_deref().unwrap_or("Filesystem")));
    let users: Vec<&str> = pods
        .iter()
        .filter(|p| {
            let volumes = p.spec.as_ref().and_then(|s| s.volumes.as_deref()).unwrap_or_default();
            volumes.iter().any(|v| {
                v.persistent_volume_claim
                    .as_ref()
                    .is_some_and(|c| Some(c.claim_name.as_str()) == pvc.metadata.name.as_deref())
            })
        })
        .filter_map(|p| p.metadata.name.as_deref())
        .collect();
    if users.is_empty() {
        w.w(0, "Used By:\t<none>\n");
    }
    for (i, name) in users.iter().enumerate() {
        let title = if i == 0 { "Used By:" } else { "" };
        w.w(0, &format!("{title}\t{name}\n"));
    }
}

pub fn storage_class(w: &mut Writer, sc: &StorageClass) {
    w.w(0, &format!("Name:\t{}\n", sc.metadata.name.as_deref().unwrap_or("")));
    let default = if api::printers::is_default_class(&sc.metadata) { "Yes" } else { "No" };
    w.w(0, &format!("IsDefaultClass:\t{default}\n"));
    let annotations = sc.metadata.annotations.clone().unwrap_or_default();
    w.w(0, &format!("Annotations:\t{}\n", format_labels(&annotations)));
    w.w(0, &format!("Provisioner:\t{}\n", sc.provisioner));
    w.w(0, &format!("Parameters:\t{}\n", format_labels(&sc.parameters.clone().unwrap_or_default())));
    let expansion = sc.allow_volume_expansion.map_or("<unset>".to_string(), |b| b.to_string());
    w.w(0, &format!("AllowVolumeExpansion:\t{expansion}\n"));
    let options = sc.mount_options.as_ref().filter(|o| !o.is_empty()).map_or("<none>".to_string(), |o| o.join(", "));
    w.w(0, &format!("MountOptions:\t{options}\n"));
    w.w(0, &format!("ReclaimPolicy:\t{}\n", sc.reclaim_policy.as_deref().unwrap_or("")));
    w.w(0, &format!("VolumeBindingMode:\t{}\n", sc.volume_binding_mode.as_deref().unwrap_or("")));
}

#[cfg(test)]
mod tests {
    use super::super::{describe, Related};
    use jiff::Timestamp;
    use serde_json::json;

    fn now() -> Timestamp {
        "2021-10-27T10:00:00Z".parse().unwrap()
    }

    #[test]
    fn a_bound_hostpath_volume_and_its_claim_used_by_a_pod() {
        let pv = json!({"apiVersion": "v1", "kind": "PersistentVolume",
                        "metadata": {"name": "mongodb-pv", "finalizers": ["kubernetes.io/pv-protection"],
                                     "annotations": {"pv.kubernetes.io/bound-by-controller": "yes"}},
                        "spec": {"capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce", "ReadOnlyMany"],
                                 "persistentVolumeReclaimPolicy": "Retain", "volumeMode": "Filesystem",
                                 "claimRef": {"namespace": "default", "name": "mongodb-pvc"},
                                 "hostPath": {"path": "/tmp/mongodb", "type": ""}},
                        "status": {"phase": "Bound"}});
        let rel = Related { events: Some(vec![]), ..Default::default() };
        assert_eq!(
            describe(api::registry::lookup("pv").unwrap(), &pv, &rel, now()),
            "Name:            mongodb-pv\nLabels:          <none>\n\
             Annotations:     pv.kubernetes.io/bound-by-controller: yes\n\
             Finalizers:      [kubernetes.io/pv-protection]\nStorageClass:    \nStatus:          Bound\n\
             Claim:           default/mongodb-pvc\nReclaim Policy:  Retain\nAccess Modes:    RWO,ROX\n\
             VolumeMode:      Filesystem\nCapacity:        1Gi\nNode Affinity:   <none>\nMessage:         \n\
             Source:\n    Type:          HostPath (bare host directory volume)\n    Path:          /tmp/mongodb\n\
             \x20   HostPathType:  \nEvents:            <none>\n"
        );

        let pvc = json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim",
                         "metadata": {"name": "mongodb-pvc", "namespace": "default",
                                      "finalizers": ["kubernetes.io/pvc-protection"]},
                         "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}},
                                  "storageClassName": "", "volumeName": "mongodb-pv", "volumeMode": "Filesystem"},
                         "status": {"phase": "Bound", "capacity": {"storage": "1Gi"},
                                    "accessModes": ["ReadWriteOnce", "ReadOnlyMany"]}});
        let pod = json!({"metadata": {"name": "mongodb", "namespace": "default"},
                         "spec": {"containers": [], "volumes": [{"name": "mongodb-data",
                                  "persistentVolumeClaim": {"claimName": "mongodb-pvc"}}]}});
        let rel =
            Related { events: Some(vec![]), pods: vec![serde_json::from_value(pod).unwrap()], ..Default::default() };
        assert_eq!(
            describe(api::registry::lookup("pvc").unwrap(), &pvc, &rel, now()),
            "Name:          mongodb-pvc\nNamespace:     default\nStorageClass:  \nStatus:        Bound\n\
             Volume:        mongodb-pv\nLabels:        <none>\nAnnotations:   <none>\n\
             Finalizers:    [kubernetes.io/pvc-protection]\nCapacity:      1Gi\nAccess Modes:  RWO,ROX\n\
             VolumeMode:    Filesystem\nUsed By:       mongodb\nEvents:        <none>\n"
        );
    }

    #[test]
    fn the_default_class() {
        let sc = json!({"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
                        "metadata": {"name": "standard",
                                     "annotations": {"storageclass.kubernetes.io/is-default-class": "true"}},
                        "provisioner": "kubelab.io/hostpath", "reclaimPolicy": "Delete",
                        "volumeBindingMode": "Immediate"});
        let rel = Related { events: Some(vec![]), ..Default::default() };
        assert_eq!(
            describe(api::registry::lookup("sc").unwrap(), &sc, &rel, now()),
            "Name:                  standard\nIsDefaultClass:        Yes\n\
             Annotations:           storageclass.kubernetes.io/is-default-class=true\n\
             Provisioner:           kubelab.io/hostpath\nParameters:            <none>\n\
             AllowVolumeExpansion:  <unset>\nMountOptions:          <none>\nReclaimPolicy:         Delete\n\
             VolumeBindingMode:     Immediate\nEvents:                <none>\n"
        );
    }
}
