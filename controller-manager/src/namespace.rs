//! The namespace controller: once a namespace is deleted (it has a
//! deletionTimestamp and phase Terminating), deletes everything in it, waits
//! until nothing is left (pods take their grace period), then removes the
//! `kubernetes` finalizer from `spec.finalizers`, which lets the apiserver
//! delete the namespace for good, as Kubernetes' namespace controller.
//!
//! The apiserver still finalizes namespaces itself too; both do the same thing,
//! so every step here is idempotent and a namespace already gone is success.
//!
//! The content pass lists and deletes every namespaced kind alike, and needs
//! only their names and deletionTimestamps, so it reads them as metadata
//! ([`PartialObjectMetadata`]).

use crate::clock::Clock;
use crate::runner::{Action, Controller, Result, Watch};
use crate::Context;
use api::k8s_openapi::api::core::v1::{Namespace, Pod};
use api::{registry, ResourceInfo};
use client::informer::{Change, SharedInformer};
use client::queue::WorkQueue;
use client::{Api, Client, DeleteParams, ListParams, Object, PartialObjectMetadata};
use std::sync::Arc;
use std::time::Duration;

/// The finalizer the namespace controller owns.
pub const FINALIZER: &str = "kubernetes";

/// Every kind that lives in a namespace and is stored (a Binding is not).
fn namespaced_resources() -> impl Iterator<Item = &'static ResourceInfo> {
    registry::RESOURCES.iter().filter(|r| r.namespaced && r.kind != "Binding")
}

pub struct NamespaceController {
    client: Client,
    namespaces: Arc<SharedInformer<Namespace>>,
    /// Watched so a namespace waiting for its last pods looks again as soon as they go.
    pods: Arc<SharedInformer<Pod>>,
    clock: Clock,
}

impl NamespaceController {
    pub fn new(ctx: &Context) -> Self {
        Self {
            client: ctx.client.clone(),
            namespaces: ctx.factory.typed(),
            pods: ctx.factory.typed(),
            clock: ctx.clock.clone(),
        }
    }

    /// One pass over the namespace's content: deletes what is not being deleted
    /// yet; returns how many objects are left and the longest grace period any
    /// of them still has.
    async fn delete_content(&self, namespace: &str) -> Result<(usize, Duration)> {
        let (mut remaining, mut longest) = (0, Duration::ZERO);
        for resource in namespaced_resources() {
            let list =
                self.client.list_as::<PartialObjectMetadata>(resource, namespace, &ListParams::default()).await?;
            for item in &list.items {
                remaining += 1;
                if let Some(deadline) = &item.metadata.deletion_timestamp {
                    longest = longest.max(self.clock.until(deadline.0));
                    continue;
                }
                // Background, as Kubernetes' namespace deleter: owners and dependents all go anyway.
                let params = DeleteParams { propagation_policy: "Background".into(), ..Default::default() };
                match self.client.delete(resource, namespace, item.name(), &params).await {
                    Ok(_) => {}
                    Err(e) if e.is_not_found() => {}
                    Err(e) => return Err(e.into()),
                }
            }
        }
        Ok((remaining, longest))
    }

    async fn count_content(&self, namespace: &str) -> Result<usize> {
        let mut remaining = 0;
        for resource in namespaced_resources() {
            let list =
                self.client.list_as::<PartialObjectMetadata>(resource, namespace, &ListParams::default()).await?;
            remaining += list.items.len();
        }
        Ok(remaining)
    }

    /// Removes our finalizer; with no finalizer left the apiserver deletes the namespace.
    async fn finalize(&self, ns: &Namespace) -> Result<Action> {
        let mut updated = ns.clone();
        let spec = updated.spec.get_or_insert_default();
        let rest = spec.finalizers.iter().flatten().filter(|f| *f != FINALIZER).cloned().collect();
        spec.finalizers = Some(rest);
        match Api::<Namespace>::all(&self.client).update(&updated).await {
            Ok(_) => {
                tracing::info!("namespace emptied and finalized");
                Ok(Action::Done)
            }
            Err(e) if e.is_not_found() => Ok(Action::Done),
            Err(e) => Err(e.into()),
        }
    }
}

#[async_trait::async_trait]
impl Controller for NamespaceController {
    fn name(&self) -> &'static str {
        "namespace"
    }

    fn watches(self: Arc<Self>) -> Vec<Watch> {
        vec![
            Watch::method(&self, &self.namespaces, Self::namespace_changed),
            Watch::method(&self, &self.pods, Self::pod_changed),
        ]
    }

    fn resync(&self, queue: &WorkQueue) {
        for ns in self.namespaces.store().list() {
            if is_deleted(&ns) {
                queue.add(ns.name());
            }
        }
    }

    async fn reconcile(&self, key: &str) -> Result<Action> {
        let Some(ns) = self.namespaces.store().get(key) else { return Ok(Action::Done) };
        if !is_deleted(&ns) {
            return Ok(Action::Done);
        }
        let finalizers = ns.spec.as_ref().and_then(|s| s.finalizers.as_ref());
        let already_final = finalizers.is_none_or(|f| !f.iter().any(|f| f == FINALIZER));
        if already_final {
            return Ok(Action::Done);
        }
        let (found, longest) = self.delete_content(key).await?;
        // What was deleted without a grace period is gone now; look again before waiting.
        let remaining = if found > 0 { self.count_content(key).await? } else { 0 };
        if remaining > 0 {
            // As Kubernetes: check again after half the longest grace period left, plus a second.
            let wait = longest / 2 + Duration::from_secs(1);
            tracing::debug!(remaining, ?wait, "namespace still has content");
            return Ok(Action::RequeueAfter(wait));
        }
        self.finalize(&ns).await
    }
}

/// The namespace has been deleted (its deletionTimestamp is set).
fn is_deleted(ns: &Namespace) -> bool {
    ns.metadata.deletion_timestamp.is_some()
}

impl NamespaceController {
    fn namespace_changed(&self, change: &Change<Namespace>, queue: &WorkQueue) {
        if let Change::Added(ns) | Change::Updated { new: ns, .. } = change {
            if is_deleted(ns) {
                queue.add(ns.name())
            }
        }
    }

    fn pod_changed(&self, change: &Change<Pod>, queue: &WorkQueue) {
        if let Change::Deleted(pod) = change {
            let ns = pod.namespace();
            if self.namespaces.store().get(ns).is_some_and(|n| is_deleted(&n)) {
                queue.add(ns);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{self, TestApi};
    use serde_json::json;

    #[tokio::test]
    async fn deleting_a_namespace_deletes_its_content_then_the_namespace() {
        let api = TestApi::start().await;
        let ctx = api.context(testing::config(), Clock::manual());
        let _running = testing::run_controller(&ctx, Arc::new(NamespaceController::new(&ctx)));
        api.create(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "custom-namespace"}})).await;
        let mut rc = testing::rc("kubia", 1);
        rc["metadata"]["namespace"] = "custom-namespace".into();
        api.create(rc).await;
        for name in ["kubia-manual", "kubia-running"] {
            let mut pod = testing::pod(name, json!({}));
            pod["metadata"]["namespace"] = "custom-namespace".into();
            api.create(pod).await;
        }
        // Running on a node: its deletion waits for a kubelet.
        let binding = json!({"apiVersion": "v1", "kind": "Binding", "metadata": {"name": "kubia-running"},
                             "target": {"apiVersion": "v1", "kind": "Node", "name": "node-1"}});
        let pods = testing::info("pods");
        api.client.create_subresource(pods, "custom-namespace", "kubia-running", "binding", &binding).await.unwrap();

        let namespaces = <Namespace as client::Resource>::info();
        api.client.delete(namespaces, "", "custom-namespace", &Default::default()).await.unwrap();
        api.eventually("the RC and the idle pod are gone", || async {
            api.list("replicationcontrollers", "custom-namespace").await.is_empty()
                && api.get("pods", "custom-namespace", "kubia-manual").await.is_none()
        })
        .await;
        let ns = api.get("namespaces", "", "custom-namespace").await.expect("waits for the running pod");
        assert_eq!(ns["status"]["phase"], "Terminating");

        // The kubelet finishes the pod; the namespace goes.
        let now = DeleteParams { grace_period_seconds: Some(0), ..Default::default() };
        api.client.delete(pods, "custom-namespace", "kubia-running", &now).await.unwrap();
        api.eventually("the namespace is gone", || async {
            api.get("namespaces", "", "custom-namespace").await.is_none()
        })
        .await;
    }
}
