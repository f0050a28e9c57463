//! The garbage collector: deletes objects whose owners are gone, and carries
//! out Orphan and Foreground deletion, as Kubernetes' garbage collector.
//!
//! It watches every kind that can own or be owned and keeps a graph of owner
//! references (owner uid -> dependents). Then, per object:
//! - **Background** (the default): when every owner an object names is gone
//!   (no object with that uid, confirmed by a live read), the object is deleted.
//! - **Orphan** (`kubectl delete --cascade=orphan`): the apiserver marks the owner
//!   with the `orphan` finalizer; the collector removes the owner's reference from
//!   every dependent, then the finalizer, which lets the owner go.
//! - **Foreground**: the `foregroundDeletion` finalizer; the collector deletes the
//!   dependents and removes the finalizer once no dependent that blocks its owner's
//!   deletion (`blockOwnerDeletion: true`) is left.
//!
//! The collector handles every kind alike and reads only metadata, so it sees
//! every object as a [`PartialObjectMetadata`]. Kubernetes' collector watches
//! metadata-only informers of its own; here it reads the metadata out of the
//! typed informers the other controllers share (a [`Source`] per resource), so
//! each resource is watched and cached once per process, not twice.

use crate::runner::{Action, Controller, Result, Watch};
use crate::Context;
use api::k8s_openapi::api::{apps::v1 as apps, batch::v1 as batch, coordination::v1 as coordination, core::v1 as core};
use api::k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use api::{registry, ApiError, ResourceInfo};
use client::informer::{Change, InformerFactory, SharedInformer};
use client::queue::WorkQueue;
use client::{Client, DeleteParams, HasMetadata, Object, PartialObjectMetadata, PatchType};
use serde_json::{json, Value};
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

pub const ORPHAN: &str = "orphan";
pub const FOREGROUND: &str = "foregroundDeletion";

/// The kinds the collector watches: everything served that can own or be owned.
/// Bindings are not stored; Events are many and never owners.
pub fn watched_resources() -> impl Iterator<Item = &'static ResourceInfo> {
    registry::RESOURCES.iter().filter(|r| !matches!(r.kind, "Binding" | "Event"))
}

fn owners(obj: &PartialObjectMetadata) -> &[OwnerReference] {
    obj.metadata.owner_references.as_deref().unwrap_or_default()
}

pub fn finalizers(obj: &PartialObjectMetadata) -> Vec<&str> {
    obj.metadata.finalizers.iter().flatten().map(String::as_str).collect()
}

fn is_deleted(obj: &PartialObjectMetadata) -> bool {
    obj.metadata.deletion_timestamp.is_some()
}

/// Where an object is: enough to find it in its store and to address it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Node {
    resource: &'static ResourceInfo,
    namespace: String,
    name: String,
}

impl Node {
    fn of(resource: &'static ResourceInfo, obj: &PartialObjectMetadata) -> Self {
        Self { resource, namespace: obj.namespace().to_string(), name: obj.name().to_string() }
    }

    fn key(&self) -> String {
        let resource = self.resource.group_resource();
        if self.namespace.is_empty() {
            format!("{resource}:{}", self.name)
        } else {
            format!("{resource}:{}/{}", self.namespace, self.name)
        }
    }
}

/// Who owns whom, by uid, as last seen on the watches.
#[derive(Default)]
struct Graph {
    nodes: HashMap<String, Node>,
    owners: HashMap<String, Vec<String>>,
    dependents: HashMap<String, HashSet<String>>,
}

impl Graph {
    /// Records `obj`; returns the owner uids it no longer names.
    fn upsert(&mut self, node: Node, obj: &PartialObjectMetadata) -> Vec<String> {
        let uid = obj.uid().to_string();
        let owners: Vec<String> = owners(obj).iter().map(|r| r.uid.clone()).collect();
        let old = self.owners.insert(uid.clone(), owners.clone()).unwrap_or_default();
        for gone in old.iter().filter(|o| !owners.contains(o)) {
            if let Some(set) = self.dependents.get_mut(gone) {
                set.remove(&uid);
            }
        }
        for owner in &owners {
            self.dependents.entry(owner.clone()).or_default().insert(uid.clone());
        }
        self.nodes.insert(uid, node);
        old.into_iter().filter(|o| !owners.contains(o)).collect()
    }

    fn remove(&mut self, uid: &str) {
        self.nodes.remove(uid);
        for owner in self.owners.remove(uid).unwrap_or_default() {
            if let Some(set) = self.dependents.get_mut(&owner) {
                set.remove(uid);
            }
        }
    }

    fn dependents_of(&self, uid: &str) -> Vec<Node> {
        let deps = self.dependents.get(uid).into_iter().flatten();
        deps.filter_map(|d| self.nodes.get(d).cloned()).collect()
    }
}

/// One resource's objects as the collector reads them: their metadata.
trait Source: Send + Sync {
    fn info(&self) -> &'static ResourceInfo;
    fn get(&self, namespace: &str, name: &str) -> Option<Arc<PartialObjectMetadata>>;
    fn list(&self) -> Vec<Arc<PartialObjectMetadata>>;
    fn watch(&self, gc: Arc<GarbageCollector>) -> Watch;
}

/// The metadata part of an object.
fn partial<K: HasMetadata>(obj: &K) -> Arc<PartialObjectMetadata> {
    Arc::new(PartialObjectMetadata { metadata: obj.metadata().clone() })
}

impl<K: HasMetadata> Source for Arc<SharedInformer<K>> {
    fn info(&self) -> &'static ResourceInfo {
        self.info
    }
    fn get(&self, namespace: &str, name: &str) -> Option<Arc<PartialObjectMetadata>> {
        self.store().get_in(namespace, name).map(|obj| partial(&*obj))
    }
    fn list(&self) -> Vec<Arc<PartialObjectMetadata>> {
        self.store().list().iter().map(|obj| partial(&**obj)).collect()
    }
    fn watch(&self, gc: Arc<GarbageCollector>) -> Watch {
        let resource = self.info;
        Watch::new(self, move |change: &Change<K>, queue| {
            let change = match change {
                Change::Added(obj) => Change::Added(partial(&**obj)),
                Change::Updated { old, new } => Change::Updated { old: partial(&**old), new: partial(&**new) },
                Change::Deleted(obj) => Change::Deleted(partial(&**obj)),
                Change::Resync => Change::Resync,
            };
            gc.changed(resource, &change, queue)
        })
    }
}

/// The informer the collector reads `info` from: the typed one the controllers
/// share, or a metadata-only one for a kind without a typed struct.
fn source(factory: &InformerFactory, info: &'static ResourceInfo) -> Arc<dyn Source> {
    match (info.group, info.kind) {
        ("", "Pod") => Arc::new(factory.typed::<core::Pod>()),
        ("", "Node") => Arc::new(factory.typed::<core::Node>()),
        ("", "Namespace") => Arc::new(factory.typed::<core::Namespace>()),
        ("", "Service") => Arc::new(factory.typed::<core::Service>()),
        ("", "Endpoints") => Arc::new(factory.typed::<core::Endpoints>()),
        ("", "ReplicationController") => Arc::new(factory.typed::<core::ReplicationController>()),
        ("apps", "ReplicaSet") => Arc::new(factory.typed::<apps::ReplicaSet>()),
        ("apps", "Deployment") => Arc::new(factory.typed::<apps::Deployment>()),
        ("apps", "DaemonSet") => Arc::new(factory.typed::<apps::DaemonSet>()),
        ("apps", "StatefulSet") => Arc::new(factory.typed::<apps::StatefulSet>()),
        ("apps", "ControllerRevision") => Arc::new(factory.typed::<apps::ControllerRevision>()),
        ("batch", "Job") => Arc::new(factory.typed::<batch::Job>()),
        ("batch", "CronJob") => Arc::new(factory.typed::<batch::CronJob>()),
        ("coordination.k8s.io", "Lease") => Arc::new(factory.typed::<coordination::Lease>()),
        _ => Arc::new(factory.informer::<PartialObjectMetadata>(info)),
    }
}

pub struct GarbageCollector {
    client: Client,
    informers: HashMap<String, Arc<dyn Source>>,
    graph: Mutex<Graph>,
}

impl GarbageCollector {
    pub fn new(ctx: &Context) -> Self {
        let informers = watched_resources().map(|r| (r.group_resource(), source(&ctx.factory, r))).collect();
        Self { client: ctx.client.clone(), informers, graph: Mutex::default() }
    }

    fn store_get(&self, node: &Node) -> Option<Arc<PartialObjectMetadata>> {
        self.informers.get(&node.resource.group_resource())?.get(&node.namespace, &node.name)
    }

    fn enqueue_uids(&self, uids: impl IntoIterator<Item = String>, queue: &WorkQueue) {
        let graph = self.graph.lock().expect("graph lock");
        for uid in uids {
            if let Some(node) = graph.nodes.get(&uid) {
                queue.add(node.key());
            }
        }
    }

    fn enqueue_dependents(&self, uid: &str, queue: &WorkQueue) {
        for dep in self.graph.lock().expect("graph lock").dependents_of(uid) {
            queue.add(dep.key());
        }
    }

    /// Whether the collector has anything to do about `obj` itself.
    fn interesting(obj: &PartialObjectMetadata) -> bool {
        !owners(obj).is_empty() || (is_deleted(obj) && finalizers(obj).iter().any(|f| *f == ORPHAN || *f == FOREGROUND))
    }

    fn observe(&self, resource: &'static ResourceInfo, obj: &PartialObjectMetadata, queue: &WorkQueue) {
        let node = Node::of(resource, obj);
        let dropped = self.graph.lock().expect("graph lock").upsert(node.clone(), obj);
        if Self::interesting(obj) {
            queue.add(node.key());
        }
        // An owner being deleted: its dependents have work (orphaning or deletion).
        if is_deleted(obj) {
            self.enqueue_dependents(obj.uid(), queue);
        }
        // Owners this object left may have been waiting for it (foreground).
        self.enqueue_uids(dropped, queue);
    }

    fn forget(&self, obj: &PartialObjectMetadata, queue: &WorkQueue) {
        let uid = obj.uid();
        // Its dependents may have lost their last owner; its owners may be waiting for it.
        self.enqueue_dependents(uid, queue);
        self.enqueue_uids(owners(obj).iter().map(|r| r.uid.clone()), queue);
        self.graph.lock().expect("graph lock").remove(uid);
    }

    /// The owner a reference names, if it exists: from the cache, else from a live
    /// read (a new owner may not have reached the cache yet). None only when the
    /// apiserver says there is no object with that uid.
    async fn find_owner(
        &self,
        dependent: &PartialObjectMetadata,
        reference: &OwnerReference,
    ) -> Result<Option<Arc<PartialObjectMetadata>>, ApiError> {
        let uid = reference.uid.as_str();
        let cached = self.graph.lock().expect("graph lock").nodes.get(uid).cloned();
        if let Some(owner) = cached.and_then(|n| self.store_get(&n)) {
            if owner.uid() == uid {
                return Ok(Some(owner));
            }
        }
        let resource = registry::by_kind(&reference.api_version, &reference.kind)?;
        let namespace = if resource.namespaced { dependent.namespace() } else { "" };
        let live = self.client.get_raw(resource, namespace, &reference.name).await.and_then(|raw| {
            serde_json::from_slice::<PartialObjectMetadata>(&raw.json)
                .map_err(|e| ApiError::internal(format!("the server sent invalid JSON: {e}")))
        });
        match live {
            Ok(owner) if owner.uid() == uid => Ok(Some(Arc::new(owner))),
            Ok(_) => Ok(None),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Deletes `item` if none of its owners is left, and drops references to
    /// owners that are gone (or waiting for it) when others remain.
    async fn attempt_to_delete(&self, node: &Node, item: &PartialObjectMetadata) -> Result<Action> {
        let deleting_dependents = finalizers(item).contains(&FOREGROUND);
        if is_deleted(item) && !deleting_dependents {
            return Ok(Action::Done);
        }
        let (mut solid, mut dangling, mut waiting) = (0, Vec::new(), Vec::new());
        for reference in owners(item) {
            let uid = reference.uid.clone();
            match self.find_owner(item, reference).await {
                Ok(None) => dangling.push(uid),
                Ok(Some(owner)) if is_deleted(&owner) && finalizers(&owner).contains(&FOREGROUND) => waiting.push(uid),
                Ok(Some(_)) => solid += 1,
                // An owner of a kind this server does not serve: never a reason to delete.
                Err(e) if e.is_not_found() => {
                    tracing::warn!(owner = ?reference, error = %e, "owner of an unknown kind; keeping the dependent");
                    solid += 1;
                }
                Err(e) => return Err(e.into()),
            }
        }
        if solid > 0 {
            if dangling.is_empty() && waiting.is_empty() {
                return Ok(Action::Done);
            }
            let gone: Vec<Value> =
                dangling.iter().chain(&waiting).map(|uid| json!({"$patch": "delete", "uid": uid})).collect();
            tracing::info!(dangling = ?dangling, waiting = ?waiting, "removing references to owners that are gone");
            let patch = json!({"metadata": {"ownerReferences": gone}});
            return self.patch(node, &patch).await;
        }
        let has_dependents = !self.graph.lock().expect("graph lock").dependents_of(item.uid()).is_empty();
        let policy = if !waiting.is_empty() && has_dependents {
            // Its owner waits for it in the foreground, so it waits for its own dependents too.
            "Foreground"
        } else if finalizers(item).contains(&ORPHAN) {
            "Orphan"
        } else if deleting_dependents {
            "Foreground"
        } else {
            "Background"
        };
        tracing::info!(policy, "deleting object whose owners are all gone");
        let params = DeleteParams {
            propagation_policy: policy.into(),
            precondition_uid: item.uid().into(),
            ..Default::default()
        };
        match self.client.delete(node.resource, &node.namespace, &node.name, &params).await {
            Ok(_) => Ok(Action::Done),
            Err(e) if e.is_not_found() => Ok(Action::Done),
            Err(e) => Err(e.into()),
        }
    }

    /// Orphan deletion: strips the owner's reference from every dependent, then
    /// drops the `orphan` finalizer so the owner's deletion completes.
    async fn orphan_dependents(&self, node: &Node, owner: &PartialObjectMetadata) -> Result<Action> {
        let uid = owner.uid();
        let dependents = self.graph.lock().expect("graph lock").dependents_of(uid);
        for dep in &dependents {
            let Some(obj) = self.store_get(dep) else { continue };
            self.patch(dep, &crate::pods::drop_owner_patch(&obj.metadata, uid)).await?;
        }
        tracing::info!(dependents = dependents.len(), "orphaned dependents");
        self.remove_finalizer(node, owner, ORPHAN).await
    }

    /// Foreground deletion: the owner goes once no blocking dependent is left.
    async fn delete_dependents_first(&self, node: &Node, owner: &PartialObjectMetadata) -> Result<Action> {
        let uid = owner.uid();
        let dependents = self.graph.lock().expect("graph lock").dependents_of(uid);
        let blocking: Vec<&Node> = dependents
            .iter()
            .filter(|d| {
                self.store_get(d).is_some_and(|obj| {
                    owners(&obj).iter().any(|r| r.uid == uid && r.block_owner_deletion == Some(true))
                })
            })
            .collect();
        if blocking.is_empty() {
            return self.remove_finalizer(node, owner, FOREGROUND).await;
        }
        // Each dependent's deletion (or change) wakes this owner again.
        tracing::debug!(blocking = blocking.len(), "waiting for dependents to be deleted");
        Ok(Action::Done)
    }

    async fn remove_finalizer(&self, node: &Node, obj: &PartialObjectMetadata, finalizer: &str) -> Result<Action> {
        let rest: Vec<&str> = finalizers(obj).into_iter().filter(|f| *f != finalizer).collect();
        let rest = if rest.is_empty() { Value::Null } else { json!(rest) };
        // Pinned to the version read, so a finalizer added meanwhile is not lost.
        let patch = json!({"metadata": {"finalizers": rest, "resourceVersion": obj.resource_version()}});
        match self.client.patch(node.resource, &node.namespace, &node.name, PatchType::Merge, &patch).await {
            Ok(_) => Ok(Action::Done),
            Err(e) if e.is_not_found() => Ok(Action::Done),
            Err(e) => Err(e.into()),
        }
    }

    async fn patch(&self, node: &Node, patch: &Value) -> Result<Action> {
        let result =
            self.client.patch(node.resource, &node.namespace, &node.name, PatchType::StrategicMerge, patch).await;
        match result {
            Ok(_) => Ok(Action::Done),
            Err(e) if e.is_not_found() => Ok(Action::Done),
            Err(e) => Err(e.into()),
        }
    }
}

#[async_trait::async_trait]
impl Controller for GarbageCollector {
    fn name(&self) -> &'static str {
        "garbagecollector"
    }

    fn watches(self: Arc<Self>) -> Vec<Watch> {
        self.informers.values().map(|source| source.watch(self.clone())).collect()
    }

    fn resync(&self, queue: &WorkQueue) {
        for source in self.informers.values() {
            for obj in source.list() {
                if Self::interesting(&obj) {
                    queue.add(Node::of(source.info(), &obj).key());
                }
            }
        }
    }

    async fn reconcile(&self, key: &str) -> Result<Action> {
        let (resource, namespace, name) = crate::runner::split_key(key);
        let Some(source) = self.informers.get(resource) else { return Ok(Action::Done) };
        let node = Node { resource: source.info(), namespace: namespace.into(), name: name.into() };
        let Some(obj) = self.store_get(&node) else { return Ok(Action::Done) };
        if is_deleted(&obj) {
            let fins = finalizers(&obj);
            if fins.contains(&ORPHAN) {
                return self.orphan_dependents(&node, &obj).await;
            }
            if fins.contains(&FOREGROUND) {
                return self.delete_dependents_first(&node, &obj).await;
            }
        }
        if owners(&obj).is_empty() {
            return Ok(Action::Done);
        }
        self.attempt_to_delete(&node, &obj).await
    }
}

impl GarbageCollector {
    fn changed(&self, resource: &'static ResourceInfo, change: &Change<PartialObjectMetadata>, queue: &WorkQueue) {
        match change {
            Change::Added(obj) => self.observe(resource, obj, queue),
            Change::Updated { old, new } => {
                if old.uid() != new.uid() {
                    self.forget(old, queue);
                }
                self.observe(resource, new, queue);
            }
            Change::Deleted(obj) => self.forget(obj, queue),
            Change::Resync => {}
        }
    }
}

#[cfg(test)]
mod tests;
