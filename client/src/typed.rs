//! Typed calls: [`Api<K>`] reads and writes one kind as its `k8s-openapi`
//! type (as kube-rs' `Api<K>` and client-go's typed clientsets), so callers
//! write `pod.spec` instead of `obj["spec"]`. Lists decode each item straight
//! into `K`, without an intermediate JSON tree.

use crate::{decode_object, Client, DeleteParams, ListParams, Object, PatchType, Resource, WatchStream};
use api::{ApiError, ResourceInfo};
use serde_json::Value;
use std::marker::PhantomData;

/// One page of a list: its items, and where the list stands.
#[derive(Debug, Clone)]
pub struct ObjectList<K> {
    pub items: Vec<K>,
    /// The resourceVersion to watch from for every change after this list.
    pub resource_version: String,
    /// Non-empty when more pages follow (`ListParams::continue_token`).
    pub continue_token: String,
}

impl Client {
    /// Lists a collection, decoding each item as `K`.
    pub async fn list_as<K: Object>(
        &self,
        info: &ResourceInfo,
        namespace: &str,
        params: &ListParams,
    ) -> Result<ObjectList<K>, ApiError> {
        let list = self.list_raw(info, namespace, params).await?;
        Ok(ObjectList {
            items: list.items.into_iter().map(decode_object).collect::<Result<_, _>>()?,
            resource_version: list.resource_version.to_string(),
            continue_token: list.continue_token,
        })
    }
}

/// The calls on one kind, in one namespace (or all of them, or none for
/// cluster-scoped kinds). Cheap to clone.
#[derive(Clone)]
pub struct Api<K> {
    client: Client,
    namespace: String,
    kind: PhantomData<fn() -> K>,
}

impl<K: Resource> Api<K> {
    /// The objects of `namespace`.
    pub fn namespaced(client: &Client, namespace: &str) -> Self {
        Self { client: client.clone(), namespace: namespace.to_string(), kind: PhantomData }
    }

    /// Every namespace's objects (lists and watches), or a cluster-scoped kind.
    pub fn all(client: &Client) -> Self {
        Self::namespaced(client, "")
    }

    fn info(&self) -> &'static ResourceInfo {
        K::info()
    }

    pub async fn get(&self, name: &str) -> Result<K, ApiError> {
        decode_object(self.client.get_raw(self.info(), &self.namespace, name).await?)
    }

    pub async fn list(&self, params: &ListParams) -> Result<ObjectList<K>, ApiError> {
        self.client.list_as(self.info(), &self.namespace, params).await
    }

    /// Every change after `resource_version` ("" = start with the current objects).
    pub async fn watch(&self, params: &ListParams, resource_version: &str) -> Result<WatchStream<K>, ApiError> {
        self.client.watch_as(self.info(), &self.namespace, params, resource_version).await
    }

    pub async fn create(&self, obj: &K) -> Result<K, ApiError> {
        decode_object(self.client.create_raw(self.info(), self.namespace_of(obj), encode(obj)).await?)
    }

    /// Replaces the object; its resourceVersion guards against lost updates.
    pub async fn update(&self, obj: &K) -> Result<K, ApiError> {
        decode_object(self.client.update_raw(self.info(), self.namespace_of(obj), obj.name(), encode(obj), "").await?)
    }

    /// Replaces the object's status (the `status` subresource).
    pub async fn update_status(&self, obj: &K) -> Result<K, ApiError> {
        let json = encode(obj);
        decode_object(self.client.update_raw(self.info(), self.namespace_of(obj), obj.name(), json, "status").await?)
    }

    pub async fn patch(&self, name: &str, patch_type: PatchType, patch: &Value) -> Result<K, ApiError> {
        decode_object(self.client.patch_raw(self.info(), &self.namespace, name, patch_type, patch, "").await?)
    }

    /// Patches the object's status (the `status` subresource).
    pub async fn patch_status(&self, name: &str, patch_type: PatchType, patch: &Value) -> Result<K, ApiError> {
        decode_object(self.client.patch_raw(self.info(), &self.namespace, name, patch_type, patch, "status").await?)
    }

    /// Deletes the object, answering with its last stored state.
    pub async fn delete(&self, name: &str, params: &DeleteParams) -> Result<K, ApiError> {
        decode_object(self.client.delete_raw(self.info(), &self.namespace, name, params).await?)
    }

    /// An object's own namespace wins over the handle's (an `all` handle writes anywhere).
    fn namespace_of<'a>(&'a self, obj: &'a K) -> &'a str {
        match obj.namespace() {
            "" => &self.namespace,
            ns => ns,
        }
    }
}

fn encode<K: Object>(obj: &K) -> Vec<u8> {
    serde_json::to_vec(obj).expect("a typed object always serializes")
}
