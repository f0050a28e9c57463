//! The namespace controller: once a namespace is deleted (it has a
//! deletionTimestamp and phase Terminating), deletes everything in it, waits
//! until nothing is left (pods take their grace period), then removes the
//! `kubernetes` finalizer from `spec.finalizers`, which lets the apiserver
//! delete the namespace for good, as Kubernetes' namespace controller.
//!
//! The apiserver still finalizes namespaces itself too; both do the same thing,
//! so every step here is idempotent and a namespace already gone is success.

use crate::clock::{parse_time, Clock};
use crate::runner::{Action, Controller, Result};
use crate::Context;
use api::{meta, registry, ResourceInfo};
use client::informer::{Change, SharedInformer};
use client::queue::WorkQueue;
use client::{Client, DeleteParams, ListParams};
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;

/// The finalizer the namespace controller owns.
pub const FINALIZER: &str = "kubernetes";

fn namespaces() -> &'static ResourceInfo {
    registry::lookup("namespaces").expect("namespaces are registered")
}

/// Every kind that lives in a namespace and is stored (a Binding is not).
fn namespaced_resources() -> impl Iterator<Item = &'static ResourceInfo> {
    registry::RESOURCES.iter().filter(|r| r.namespaced && r.kind != "Binding")
}

pub struct NamespaceController {
    client: Client,
    namespaces: Arc<SharedInformer>,
    /// Watched so a namespace waiting for its last pods looks again as soon as they go.
    pods: Arc<SharedInformer>,
    clock: Clock,
}

impl NamespaceController {
    pub fn new(ctx: &Context) -> Self {
        Self {
            client: ctx.client.clone(),
            namespaces: ctx.factory.informer(namespaces()),
            pods: ctx.factory.informer(crate::pods::pods()),
            clock: ctx.clock.clone(),
        }
    }

    /// One pass over the namespace's content: deletes what is not being deleted
    /// yet; returns how many objects are left and the longest grace period any
    /// of them still has.
    async fn delete_content(&self, namespace: &str) -> Result<(usize, Duration)> {
        let (mut remaining, mut longest) = (0, Duration::ZERO);
        for resource in namespaced_resources() {
            let list = self.client.list(resource, namespace, &ListParams::default()).await?;
            for item in list["items"].as_array().into_iter().flatten() {
                remaining += 1;
                if let Some(deadline) = meta::deletion_timestamp(item) {
                    if let Some(t) = parse_time(&Value::String(deadline.into())) {
                        longest = longest.max(self.clock.until(t));
                    }
                    continue;
                }
                // Background, as Kubernetes' namespace deleter: owners and dependents all go anyway.
                let params = DeleteParams { propagation_policy: "Background".into(), ..Default::default() };
                match self.client.delete(resource, namespace, meta::name(item), &params).await {
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
            let list = self.client.list(resource, namespace, &ListParams::default()).await?;
            remaining += list["items"].as_array().map_or(0, Vec::len);
        }
        Ok(remaining)
    }

    /// Removes our finalizer; with no finalizer left the apiserver deletes the namespace.
    async fn finalize(&self, ns: &Value) -> Result<Action> {
        let mut updated = ns.clone();
        let rest: Vec<Value> = ns["spec"]["finalizers"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|f| f.as_str() != Some(FINALIZER))
            .cloned()
            .collect();
        updated["spec"]["finalizers"] = rest.into();
        match self.client.update(namespaces(), "", &updated).await {
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

    fn informers(&self) -> Vec<Arc<SharedInformer>> {
        vec![self.namespaces.clone(), self.pods.clone()]
    }

    fn handle(&self, resource: &'static ResourceInfo, change: &Change, queue: &WorkQueue) {
        if resource.kind == "Pod" {
            if let Change::Deleted(pod) = change {
                let ns = meta::namespace(pod);
                if self.namespaces.store().get(ns).is_some_and(|n| meta::deletion_timestamp(&n).is_some()) {
                    queue.add(ns);
                }
            }
            return;
        }
        match change {
            Change::Added(ns) | Change::Updated { new: ns, .. } if meta::deletion_timestamp(ns).is_some() => {
                queue.add(meta::name(ns))
            }
            _ => {}
        }
    }

    fn resync(&self, queue: &WorkQueue) {
        for ns in self.namespaces.store().list() {
            if meta::deletion_timestamp(&ns).is_some() {
                queue.add(meta::name(&ns));
            }
        }
    }

    async fn reconcile(&self, key: &str) -> Result<Action> {
        let Some(ns) = self.namespaces.store().get(key) else { return Ok(Action::Done) };
        if meta::deletion_timestamp(&ns).is_none() {
            return Ok(Action::Done);
        }
        let already_final = ns["spec"]["finalizers"].as_array().is_none_or(|f| !f.iter().any(|f| f == FINALIZER));
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

        api.client.delete(namespaces(), "", "custom-namespace", &Default::default()).await.unwrap();
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
