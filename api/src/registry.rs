//! The resource registry: every kind kubelab serves, with the names kubectl
//! accepts for it (plural, singular, short names), its group/version, and whether
//! it lives in a namespace. Adding a kind is adding a row here (plus its
//! defaulting and validation), never a new RPC.

use crate::error::{ApiError, Reason};

/// One served resource, as Kubernetes' `metav1.APIResource`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResourceInfo {
    /// "" for the core group.
    pub group: &'static str,
    pub version: &'static str,
    pub kind: &'static str,
    /// The plural resource name used in URLs and etcd keys: `pods`.
    pub plural: &'static str,
    pub singular: &'static str,
    pub short_names: &'static [&'static str],
    pub namespaced: bool,
    /// Whether the resource has a `status` subresource (status is then ignored on
    /// main-resource updates and written only through `UpdateStatus`).
    pub has_status: bool,
    /// `kubectl get all` lists the resources in the `all` category.
    pub categories: &'static [&'static str],
}

impl ResourceInfo {
    /// `v1` for the core group, `apps/v1` otherwise.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.to_string()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }
    /// `PodList`
    pub fn list_kind(&self) -> String {
        format!("{}List", self.kind)
    }
    /// `pods` for the core group, `replicasets.apps` otherwise (as in error messages).
    pub fn group_resource(&self) -> String {
        if self.group.is_empty() {
            self.plural.to_string()
        } else {
            format!("{}.{}", self.plural, self.group)
        }
    }
    /// The etcd key prefix of the collection, ending in `/`: `/registry/pods/`.
    /// Kubernetes keeps a few resources under other names; kubelab follows its layout.
    pub fn key_prefix(&self) -> String {
        let dir = match self.plural {
            "replicationcontrollers" => "controllers",
            "endpoints" => "services/endpoints",
            "services" => "services/specs",
            "nodes" => "minions",
            other => other,
        };
        format!("/registry/{dir}/")
    }
    /// The etcd key of one object: `/registry/pods/default/kubia`.
    pub fn key(&self, namespace: &str, name: &str) -> String {
        if self.namespaced {
            format!("{}{namespace}/{name}", self.key_prefix())
        } else {
            format!("{}{name}", self.key_prefix())
        }
    }
    /// The prefix of one namespace's objects (or of all of them when `namespace` is empty).
    pub fn namespace_prefix(&self, namespace: &str) -> String {
        if self.namespaced && !namespace.is_empty() {
            format!("{}{namespace}/", self.key_prefix())
        } else {
            self.key_prefix()
        }
    }
    /// The verbs served, as `kubectl api-resources -o wide` shows them.
    pub fn verbs(&self) -> &'static [&'static str] {
        &["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]
    }
}

const ALL: &[&str] = &["all"];

macro_rules! res {
    ($group:expr, $version:expr, $kind:expr, $plural:expr, $singular:expr, [$($short:expr),*], $ns:expr, $status:expr, $cat:expr) => {
        ResourceInfo {
            group: $group,
            version: $version,
            kind: $kind,
            plural: $plural,
            singular: $singular,
            short_names: &[$($short),*],
            namespaced: $ns,
            has_status: $status,
            categories: $cat,
        }
    };
}

/// Every resource kubelab serves, in the order `kubectl api-resources` lists them
/// (core group first, then the named groups alphabetically).
pub static RESOURCES: &[ResourceInfo] = &[
    res!("", "v1", "Binding", "bindings", "binding", [], true, false, &[]),
    res!("", "v1", "ConfigMap", "configmaps", "configmap", ["cm"], true, false, &[]),
    res!("", "v1", "Endpoints", "endpoints", "endpoints", ["ep"], true, false, &[]),
    res!("", "v1", "Event", "events", "event", ["ev"], true, false, &[]),
    res!("", "v1", "Namespace", "namespaces", "namespace", ["ns"], false, true, &[]),
    res!("", "v1", "Node", "nodes", "node", ["no"], false, true, &[]),
    res!(
        "",
        "v1",
        "PersistentVolumeClaim",
        "persistentvolumeclaims",
        "persistentvolumeclaim",
        ["pvc"],
        true,
        true,
        &[]
    ),
    res!("", "v1", "PersistentVolume", "persistentvolumes", "persistentvolume", ["pv"], false, true, &[]),
    res!("", "v1", "Pod", "pods", "pod", ["po"], true, true, ALL),
    res!("", "v1", "ReplicationController", "replicationcontrollers", "replicationcontroller", ["rc"], true, true, ALL),
    res!("", "v1", "Secret", "secrets", "secret", [], true, false, &[]),
    res!("", "v1", "Service", "services", "service", ["svc"], true, true, ALL),
    res!("apps", "v1", "ControllerRevision", "controllerrevisions", "controllerrevision", [], true, false, &[]),
    res!("apps", "v1", "DaemonSet", "daemonsets", "daemonset", ["ds"], true, true, ALL),
    res!("apps", "v1", "Deployment", "deployments", "deployment", ["deploy"], true, true, ALL),
    res!("apps", "v1", "ReplicaSet", "replicasets", "replicaset", ["rs"], true, true, ALL),
    res!("apps", "v1", "StatefulSet", "statefulsets", "statefulset", ["sts"], true, true, ALL),
    res!("batch", "v1", "CronJob", "cronjobs", "cronjob", ["cj"], true, true, ALL),
    res!("batch", "v1", "Job", "jobs", "job", [], true, true, ALL),
    res!("coordination.k8s.io", "v1", "Lease", "leases", "lease", [], true, false, &[]),
    res!("storage.k8s.io", "v1", "StorageClass", "storageclasses", "storageclass", ["sc"], false, false, &[]),
];

/// Older versions that are still accepted on input and converted to the stored
/// version: the book's CronJobs say `batch/v1beta1`.
const ALIASES: &[(&str, &str, &str)] = &[("batch", "v1beta1", "CronJob")];

/// Every group/version served, as `kubectl api-versions` prints them (sorted).
pub fn group_versions() -> Vec<String> {
    let mut gvs: Vec<String> = RESOURCES.iter().map(ResourceInfo::api_version).collect();
    gvs.extend(ALIASES.iter().map(|(g, v, _)| format!("{g}/{v}")));
    gvs.sort();
    gvs.dedup();
    gvs
}

/// Splits `apps/v1` into (`apps`, `v1`) and `v1` into (``, `v1`).
pub fn split_api_version(api_version: &str) -> (&str, &str) {
    match api_version.split_once('/') {
        Some((g, v)) => (g, v),
        None => ("", api_version),
    }
}

/// The resource for a manifest's `apiVersion` and `kind`, failing as Kubernetes
/// does for versions it does not serve:
/// `no matches for kind "ReplicaSet" in version "apps/v1beta2"`.
/// Accepted older versions (`batch/v1beta1` CronJob) map to the stored version.
pub fn by_kind(api_version: &str, kind: &str) -> Result<&'static ResourceInfo, ApiError> {
    let (group, version) = split_api_version(api_version);
    let aliased = ALIASES.iter().any(|(g, v, k)| *g == group && *v == version && *k == kind);
    RESOURCES.iter().find(|r| r.kind == kind && r.group == group && (r.version == version || aliased)).ok_or_else(
        || ApiError::new(Reason::NotFound, format!("no matches for kind \"{kind}\" in version \"{api_version}\"")),
    )
}

/// The resource with this group and plural name.
pub fn by_resource(group: &str, plural: &str) -> Option<&'static ResourceInfo> {
    RESOURCES.iter().find(|r| r.group == group && r.plural == plural)
}

/// Resolves what a user types after `kubectl get`: a plural, singular, short name
/// or kind, in any case, optionally qualified by group (`deployments.apps`) or by
/// version and group (`deployments.v1.apps`).
pub fn lookup(name: &str) -> Option<&'static ResourceInfo> {
    let lower = name.to_ascii_lowercase();
    let (base, qualifier) = match lower.split_once('.') {
        Some((b, q)) => (b.to_string(), Some(q.to_string())),
        None => (lower.clone(), None),
    };
    RESOURCES.iter().find(|r| {
        let names_match = r.plural == base
            || r.singular == base
            || r.kind.eq_ignore_ascii_case(&base)
            || r.short_names.contains(&base.as_str());
        let group_match = match &qualifier {
            None => true,
            Some(q) => *q == r.group || *q == format!("{}.{}", r.version, r.group),
        };
        names_match && group_match
    })
}

/// The resources in a category, e.g. `all`.
pub fn category(name: &str) -> Vec<&'static ResourceInfo> {
    RESOURCES.iter().filter(|r| r.categories.contains(&name)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_versions_fail_in_kubernetes_words() {
        let err = by_kind("apps/v1beta2", "ReplicaSet").unwrap_err();
        assert_eq!(err.to_string(), r#"no matches for kind "ReplicaSet" in version "apps/v1beta2""#);
        assert!(by_kind("v1", "Pdo").is_err());
    }

    #[test]
    fn statefulsets_are_served_as_apps_v1_only() {
        assert_eq!(by_kind("apps/v1", "StatefulSet").unwrap().plural, "statefulsets");
        for removed in ["apps/v1beta1", "apps/v1beta2"] {
            let err = by_kind(removed, "StatefulSet").unwrap_err();
            assert_eq!(err.to_string(), format!(r#"no matches for kind "StatefulSet" in version "{removed}""#));
        }
        assert_eq!(lookup("sts").map(|r| r.kind), Some("StatefulSet"));
        assert!(category("all").iter().any(|r| r.kind == "StatefulSet"));
        assert_eq!(lookup("controllerrevisions").map(|r| r.kind), Some("ControllerRevision"));
    }

    #[test]
    fn the_books_cronjob_version_maps_to_batch_v1() {
        let r = by_kind("batch/v1beta1", "CronJob").unwrap();
        assert_eq!(r.api_version(), "batch/v1");
        assert!(by_kind("batch/v1beta1", "Job").is_err());
    }

    #[test]
    fn kubectl_names_resolve() {
        for (typed, plural) in [
            ("po", "pods"),
            ("pod", "pods"),
            ("Pods", "pods"),
            ("rc", "replicationcontrollers"),
            ("deploy", "deployments"),
            ("deployments.apps", "deployments"),
            ("deployments.v1.apps", "deployments"),
            ("ns", "namespaces"),
            ("no", "nodes"),
            ("cj", "cronjobs"),
            ("ev", "events"),
        ] {
            assert_eq!(lookup(typed).map(|r| r.plural), Some(plural), "{typed}");
        }
        assert!(lookup("pods.apps").is_none());
        assert!(lookup("frobs").is_none());
    }

    #[test]
    fn keys_follow_kubernetes_layout() {
        let pods = lookup("pods").unwrap();
        assert_eq!(pods.key("default", "kubia"), "/registry/pods/default/kubia");
        assert_eq!(lookup("nodes").unwrap().key("", "n1"), "/registry/minions/n1");
        assert_eq!(lookup("rc").unwrap().namespace_prefix(""), "/registry/controllers/");
        assert!(group_versions().contains(&"batch/v1beta1".to_string()));
    }
}
