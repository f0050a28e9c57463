//! What a cache, an informer or a typed call needs of an object: its identity
//! (namespace, name, uid), its resourceVersion, and how it decodes.
//!
//! Components hold objects as the `k8s-openapi` types (`Pod`, `Node`, ...),
//! as client-go and kube-rs code does, so the compiler knows the schema.
//! Code that handles every kind alike (the garbage collector, the namespace
//! controller) holds them as `serde_json::Value`, which is an [`Object`] too.

use api::k8s_openapi;
use api::ResourceInfo;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;
use std::fmt::Debug;

/// An object a cache can hold and a watch can deliver.
pub trait Object: DeserializeOwned + Serialize + Clone + Debug + Send + Sync + 'static {
    fn name(&self) -> &str;
    /// "" for cluster-scoped objects.
    fn namespace(&self) -> &str;
    fn uid(&self) -> &str;
    fn resource_version(&self) -> &str;
    /// Sets `metadata.resourceVersion` (the server sends it beside the object).
    fn set_resource_version(&mut self, rv: i64);
    /// An object that has only a name, namespace ("" for none) and uid.
    fn from_identity(namespace: &str, name: &str, uid: &str) -> Self;
    /// A copy that keeps only the name, namespace and uid.
    fn identity(&self) -> Self {
        Self::from_identity(self.namespace(), self.name(), self.uid())
    }
}

/// An object with Kubernetes' `metadata`: every typed kind, and
/// [`PartialObjectMetadata`].
pub trait HasMetadata: Object {
    fn metadata(&self) -> &ObjectMeta;
}

/// A typed object whose resource is known from its type: `Pod` is `pods`.
pub trait Resource: Object {
    fn info() -> &'static ResourceInfo;
}

impl Object for Value {
    fn name(&self) -> &str {
        api::meta::name(self)
    }
    fn namespace(&self) -> &str {
        api::meta::namespace(self)
    }
    fn uid(&self) -> &str {
        api::meta::uid(self)
    }
    fn resource_version(&self) -> &str {
        api::meta::resource_version(self)
    }
    fn set_resource_version(&mut self, rv: i64) {
        api::meta::set_resource_version(self, rv);
    }
    fn from_identity(namespace: &str, name: &str, uid: &str) -> Self {
        let mut identity = serde_json::Map::new();
        for (field, value) in [("name", name), ("namespace", namespace), ("uid", uid)] {
            if !value.is_empty() {
                identity.insert(field.to_string(), value.into());
            }
        }
        serde_json::json!({ "metadata": identity })
    }
}

fn meta_str(field: &Option<String>) -> &str {
    field.as_deref().unwrap_or("")
}

/// Metadata with only a name, namespace and uid (each left out when empty).
fn identity_meta(namespace: &str, name: &str, uid: &str) -> ObjectMeta {
    let set = |s: &str| (!s.is_empty()).then(|| s.to_string());
    ObjectMeta { name: set(name), namespace: set(namespace), uid: set(uid), ..Default::default() }
}

/// Any object, of any kind, as only its metadata (Kubernetes'
/// `PartialObjectMetadata`): it decodes from a whole object and leaves the
/// rest, for code that handles every kind alike (the garbage collector, a
/// namespace's deletion) without keeping whole objects.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PartialObjectMetadata {
    #[serde(default)]
    pub metadata: ObjectMeta,
}

/// Implements [`Object`] for types with a `metadata: ObjectMeta` field.
macro_rules! metadata_objects {
    ($($ty:ty),* $(,)?) => {$(
        impl Object for $ty {
            fn name(&self) -> &str {
                meta_str(&self.metadata.name)
            }
            fn namespace(&self) -> &str {
                meta_str(&self.metadata.namespace)
            }
            fn uid(&self) -> &str {
                meta_str(&self.metadata.uid)
            }
            fn resource_version(&self) -> &str {
                meta_str(&self.metadata.resource_version)
            }
            fn set_resource_version(&mut self, rv: i64) {
                self.metadata.resource_version = Some(rv.to_string());
            }
            // For PartialObjectMetadata, metadata is all there is.
            #[allow(clippy::needless_update)]
            fn from_identity(namespace: &str, name: &str, uid: &str) -> Self {
                Self { metadata: identity_meta(namespace, name, uid), ..Default::default() }
            }
        }

        impl HasMetadata for $ty {
            fn metadata(&self) -> &ObjectMeta {
                &self.metadata
            }
        }
    )*};
}

metadata_objects!(PartialObjectMetadata);

/// Implements [`Object`] and [`Resource`] for `k8s-openapi` kinds kubelab serves.
macro_rules! typed_objects {
    ($($ty:ty),* $(,)?) => {$(
        metadata_objects!($ty);

        impl Resource for $ty {
            fn info() -> &'static ResourceInfo {
                use k8s_openapi::Resource as _;
                api::registry::by_resource(<$ty>::GROUP, <$ty>::URL_PATH_SEGMENT)
                    .expect("every typed object is a registered resource")
            }
        }
    )*};
}

typed_objects!(
    k8s_openapi::api::core::v1::ConfigMap,
    k8s_openapi::api::core::v1::Endpoints,
    k8s_openapi::api::core::v1::Event,
    k8s_openapi::api::core::v1::Namespace,
    k8s_openapi::api::core::v1::Node,
    k8s_openapi::api::core::v1::PersistentVolume,
    k8s_openapi::api::core::v1::PersistentVolumeClaim,
    k8s_openapi::api::core::v1::Pod,
    k8s_openapi::api::core::v1::ReplicationController,
    k8s_openapi::api::core::v1::Secret,
    k8s_openapi::api::core::v1::Service,
    k8s_openapi::api::apps::v1::DaemonSet,
    k8s_openapi::api::apps::v1::Deployment,
    k8s_openapi::api::apps::v1::ReplicaSet,
    k8s_openapi::api::apps::v1::StatefulSet,
    k8s_openapi::api::apps::v1::ControllerRevision,
    k8s_openapi::api::batch::v1::CronJob,
    k8s_openapi::api::batch::v1::Job,
    k8s_openapi::api::coordination::v1::Lease,
    k8s_openapi::api::storage::v1::StorageClass,
);

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::Pod;
    use serde_json::json;

    #[test]
    fn typed_and_json_objects_tell_the_same_identity() {
        let v = json!({"metadata": {"name": "a", "namespace": "ns", "uid": "u", "labels": {"x": "y"}}, "spec": {"containers": []}});
        let mut p: Pod = serde_json::from_value(v.clone()).unwrap();
        assert_eq!((p.name(), p.namespace(), p.uid(), p.resource_version()), ("a", "ns", "u", ""));
        assert_eq!((v.name(), v.namespace(), v.uid()), ("a", "ns", "u"));
        p.set_resource_version(7);
        assert_eq!(p.resource_version(), "7");
        let id = p.identity();
        assert_eq!((id.name(), id.namespace(), id.uid()), ("a", "ns", "u"));
        assert!(id.spec.is_none() && id.metadata.labels.is_none());
        assert_eq!(v.identity(), json!({"metadata": {"name": "a", "namespace": "ns", "uid": "u"}}));
    }

    #[test]
    fn typed_objects_know_their_resource() {
        assert_eq!(Pod::info().plural, "pods");
        assert_eq!(k8s_openapi::api::apps::v1::Deployment::info().group_resource(), "deployments.apps");
        assert_eq!(k8s_openapi::api::coordination::v1::Lease::info().plural, "leases");
        assert_eq!(k8s_openapi::api::core::v1::ConfigMap::info().short_names, ["cm"]);
        assert_eq!(k8s_openapi::api::core::v1::Secret::info().plural, "secrets");
    }
}
