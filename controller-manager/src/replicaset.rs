//! The ReplicaSet and ReplicationController controller: keeps exactly
//! `spec.replicas` active pods matching the selector, as Kubernetes'
//! pkg/controller/replicaset (which also serves ReplicationControllers: the
//! two kinds differ only in how the selector is written).
//!
//! Each reconcile of an owner:
//! 1. claims pods: adopts matching orphans (adds its controller reference),
//!    releases owned pods whose labels stopped matching (removes it), and
//!    leaves pods controlled by anything else alone;
//! 2. if its expectations are met, creates the missing pods from the template
//!    in slow-start batches (1, 2, 4, ...), or deletes the extra ones, the
//!    least valuable first (see `pods::deletion_order`);
//! 3. writes `status` when it changed.
//!
//! Pod handlers count the creations and deletions the owner waits for, so a
//! slow watch never makes it act twice on the same shortfall.

use crate::clock::Clock;
use crate::expectations::Expectations;
use crate::pods::{self, controller_of, is_active, is_available, is_ready, ApiPodControl, PodControl};
use crate::runner::{Action, Controller, Error, Result};
use crate::Context;
use api::selector::LabelSelector;
use api::{meta, registry, ApiError, ResourceInfo};
use client::informer::{Change, SharedInformer};
use client::queue::WorkQueue;
use client::watcher::key_of;
use client::Client;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;

/// The most pods one reconcile creates or deletes (Kubernetes' burstReplicas).
const BURST_REPLICAS: usize = 500;

/// What differs between the two kinds this controller serves.
#[derive(Debug, Clone, Copy)]
pub struct Flavor {
    pub info: &'static ResourceInfo,
    /// The name `--controllers` uses.
    pub name: &'static str,
    /// The `source.component` of its Events, as Kubernetes names it.
    pub component: &'static str,
}

impl Flavor {
    pub fn replica_sets() -> Self {
        let info = registry::lookup("replicasets").expect("replicasets are registered");
        Self { info, name: "replicaset", component: "replicaset-controller" }
    }

    pub fn replication_controllers() -> Self {
        let info = registry::lookup("replicationcontrollers").expect("replicationcontrollers are registered");
        Self { info, name: "replicationcontroller", component: "replication-controller" }
    }

    /// The owner's selector: a map for ReplicationControllers, a LabelSelector
    /// (matchLabels and matchExpressions) for ReplicaSets.
    fn selector(&self, owner: &Value) -> Result<LabelSelector> {
        let sel = &owner["spec"]["selector"];
        if self.info.kind == "ReplicationController" {
            let map = sel
                .as_object()
                .map(|m| m.iter().map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string())).collect());
            // A missing selector selects nothing (the apiserver defaults it from the template).
            Ok(map.map(|m| LabelSelector::from_map(&m)).unwrap_or_else(LabelSelector::nothing))
        } else {
            LabelSelector::from_json(Some(sel)).map_err(|e| Error::Invalid(e.message))
        }
    }
}

pub struct ReplicaSetController {
    flavor: Flavor,
    owners: Arc<SharedInformer>,
    pods: Arc<SharedInformer>,
    pod_control: Arc<dyn PodControl>,
    client: Client,
    clock: Clock,
    expectations: Expectations,
}

impl ReplicaSetController {
    pub fn replica_sets(ctx: &Context) -> Self {
        Self::from_context(ctx, Flavor::replica_sets())
    }

    pub fn replication_controllers(ctx: &Context) -> Self {
        Self::from_context(ctx, Flavor::replication_controllers())
    }

    fn from_context(ctx: &Context, flavor: Flavor) -> Self {
        let pod_control = Arc::new(ApiPodControl::new(ctx.client.clone(), flavor.component));
        Self::new(
            flavor,
            ctx.factory.informer(flavor.info),
            ctx.factory.informer(pods::pods()),
            pod_control,
            ctx.client.clone(),
            ctx.clock.clone(),
        )
    }

    pub fn new(
        flavor: Flavor,
        owners: Arc<SharedInformer>,
        pods: Arc<SharedInformer>,
        pod_control: Arc<dyn PodControl>,
        client: Client,
        clock: Clock,
    ) -> Self {
        Self { flavor, owners, pods, pod_control, client, clock, expectations: Expectations::default() }
    }

    /// The owner a controller reference points to, if it is one of ours and still the same object.
    fn resolve(&self, namespace: &str, reference: &Value) -> Option<Arc<Value>> {
        if reference["kind"] != self.flavor.info.kind {
            return None;
        }
        let owner = self.owners.store().get_in(namespace, reference["name"].as_str()?)?;
        (meta::uid(&owner) == reference["uid"].as_str()?).then_some(owner)
    }

    /// Owners whose selector matches an orphan pod's labels (candidates to adopt it).
    fn matching_owners(&self, pod: &Value) -> Vec<String> {
        let labels = meta::labels(pod);
        let owners = self.owners.store().list_namespace(meta::namespace(pod));
        owners
            .iter()
            .filter(|o| {
                // An empty selector must match nothing here, not everything.
                self.flavor.selector(o).is_ok_and(|s| !s.is_empty() && s.matches(&labels))
            })
            .map(key_of)
            .collect()
    }

    fn pod_added(&self, pod: &Value, queue: &WorkQueue) {
        if meta::deletion_timestamp(pod).is_some() {
            // Seen for the first time already terminating (after a restart): a deletion, not a creation.
            return self.pod_deleted(pod, queue);
        }
        if let Some(reference) = controller_of(pod) {
            if let Some(owner) = self.resolve(meta::namespace(pod), reference) {
                let key = key_of(&owner);
                self.expectations.creation_observed(&key);
                queue.add(key);
            }
            return;
        }
        for key in self.matching_owners(pod) {
            queue.add(key);
        }
    }

    fn pod_updated(&self, old: &Value, new: &Value, queue: &WorkQueue) {
        if meta::resource_version(old) == meta::resource_version(new) {
            return;
        }
        let labels_changed = meta::labels(old) != meta::labels(new);
        if meta::deletion_timestamp(new).is_some() {
            // A graceful deletion started: replace the pod now, not when the kubelet finishes.
            self.pod_deleted(new, queue);
            if labels_changed {
                self.pod_deleted(old, queue);
            }
            return;
        }
        let (old_ref, new_ref) = (controller_of(old), controller_of(new));
        if old_ref != new_ref {
            if let Some(owner) = old_ref.and_then(|r| self.resolve(meta::namespace(old), r)) {
                queue.add(key_of(&owner));
            }
        }
        if let Some(reference) = new_ref {
            if let Some(owner) = self.resolve(meta::namespace(new), reference) {
                let key = key_of(&owner);
                let min_ready = owner["spec"]["minReadySeconds"].as_i64().unwrap_or(0);
                if min_ready > 0 && !is_ready(old) && is_ready(new) {
                    // Look again once the pod has been ready long enough to count as available.
                    queue.add_after(key.clone(), Duration::from_secs(min_ready as u64 + 1));
                }
                queue.add(key);
            }
            return;
        }
        if labels_changed || old_ref != new_ref {
            for key in self.matching_owners(new) {
                queue.add(key);
            }
        }
    }

    fn pod_deleted(&self, pod: &Value, queue: &WorkQueue) {
        let Some(reference) = controller_of(pod) else { return };
        if let Some(owner) = self.resolve(meta::namespace(pod), reference) {
            let key = key_of(&owner);
            self.expectations.deletion_observed(&key, &key_of(pod));
            queue.add(key);
        }
    }

    /// Claims the pods this owner should manage: its own that still match, plus
    /// matching orphans it adopts; owned pods that no longer match are released.
    async fn claim_pods(
        &self,
        owner: &Value,
        selector: &LabelSelector,
        candidates: Vec<Arc<Value>>,
    ) -> Result<Vec<Arc<Value>>> {
        let owner_deleting = meta::deletion_timestamp(owner).is_some();
        let mut claimed = Vec::new();
        let mut adoption_allowed: Option<bool> = None;
        let mut first_error = None;
        for pod in candidates {
            let matches = selector.matches(&meta::labels(&pod));
            let result = match controller_of(&pod) {
                Some(r) if r["uid"].as_str() != Some(meta::uid(owner)) => continue,
                Some(_) if matches => {
                    claimed.push(pod);
                    continue;
                }
                Some(_) if owner_deleting => continue,
                Some(_) => self.release(owner, &pod).await,
                None if owner_deleting || !matches || meta::deletion_timestamp(&pod).is_some() => continue,
                None => {
                    // Adopt only if the owner, read fresh, is still there and not being
                    // deleted: the cache may lag a delete (Kubernetes #42639).
                    if adoption_allowed.is_none() {
                        adoption_allowed = Some(self.can_adopt(owner).await?);
                    }
                    if adoption_allowed != Some(true) {
                        continue;
                    }
                    match self.adopt(owner, &pod).await {
                        Ok(()) => {
                            claimed.push(pod);
                            continue;
                        }
                        Err(e) => Err(e),
                    }
                }
            };
            match result {
                Ok(()) => {}
                Err(e) if e.is_not_found() => {}
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        match first_error {
            Some(e) => Err(e.into()),
            None => Ok(claimed),
        }
    }

    async fn can_adopt(&self, owner: &Value) -> Result<bool> {
        let fresh = match self.client.get(self.flavor.info, meta::namespace(owner), meta::name(owner)).await {
            Ok(fresh) => fresh,
            Err(e) if e.is_not_found() => return Ok(false),
            Err(e) => return Err(e.into()),
        };
        Ok(meta::uid(&fresh) == meta::uid(owner) && meta::deletion_timestamp(&fresh).is_none())
    }

    /// Adds our controller reference to an orphan. The resourceVersion makes the
    /// patch fail if the pod changed since we decided (Kubernetes pins the uid).
    async fn adopt(&self, owner: &Value, pod: &Value) -> Result<(), ApiError> {
        tracing::info!(pod = meta::name(pod), "adopting orphan pod");
        let patch = json!({"metadata": {
            "ownerReferences": [pods::controller_ref(owner)],
            "resourceVersion": meta::resource_version(pod),
        }});
        self.pod_control.patch_pod(meta::namespace(pod), meta::name(pod), &patch).await
    }

    /// Removes our reference from a pod whose labels no longer match.
    async fn release(&self, owner: &Value, pod: &Value) -> Result<(), ApiError> {
        tracing::info!(pod = meta::name(pod), "releasing pod that no longer matches the selector");
        let mut patch = pods::drop_owner_patch(pod, meta::uid(owner));
        patch["metadata"]["resourceVersion"] = meta::resource_version(pod).into();
        self.pod_control.patch_pod(meta::namespace(pod), meta::name(pod), &patch).await
    }

    async fn manage_replicas(&self, key: &str, owner: &Value, claimed: &[Arc<Value>]) -> Result<()> {
        let want = owner["spec"]["replicas"].as_i64().unwrap_or(1).max(0) as usize;
        if claimed.len() < want {
            let missing = (want - claimed.len()).min(BURST_REPLICAS);
            self.expectations.expect_creations(key, missing);
            tracing::info!(need = want, creating = missing, "too few replicas");
            let template = &owner["spec"]["template"];
            let (created, error) = slow_start_batch(missing, || async {
                match self.pod_control.create_pod(template, owner).await {
                    // Nothing can be created in a terminating namespace, and nothing need be.
                    Err(e) if e.message.contains("because it is being terminated") => Ok(()),
                    other => other.map(drop),
                }
            })
            .await;
            // Creations never attempted, or failed, will not be observed.
            for _ in created..missing {
                self.expectations.creation_observed(key);
            }
            return error.map_or(Ok(()), |e| Err(e.into()));
        }
        if claimed.len() > want {
            let extra = (claimed.len() - want).min(BURST_REPLICAS);
            tracing::info!(need = want, deleting = extra, "too many replicas");
            let victims = self.pods_to_delete(owner, claimed, extra);
            self.expectations.expect_deletions(key, victims.iter().map(key_of));
            let deletions = victims.iter().map(|pod| async move {
                let result = self.pod_control.delete_pod(meta::namespace(pod), meta::name(pod), owner).await;
                if result.is_err() {
                    // A failed delete will not be observed.
                    self.expectations.deletion_observed(key, &key_of(pod));
                }
                result
            });
            let results = futures::future::join_all(deletions).await;
            if let Some(e) = results.into_iter().filter_map(Result::err).find(|e| !e.is_not_found()) {
                return Err(e.into());
            }
        }
        Ok(())
    }

    /// The `count` pods to delete, ranked as Kubernetes ranks them. A pod's rank is
    /// how many active pods of the same family (owners sharing this owner's
    /// controller, e.g. one Deployment's ReplicaSets) run on its node.
    fn pods_to_delete(&self, owner: &Value, claimed: &[Arc<Value>], count: usize) -> Vec<Arc<Value>> {
        let mut victims = claimed.to_vec();
        if count >= victims.len() {
            return victims;
        }
        let mut per_node = std::collections::HashMap::<String, usize>::new();
        for pod in self.related_pods(owner) {
            *per_node.entry(pods::node_name(&pod).to_string()).or_default() += 1;
        }
        let rank = |p: &Value| per_node.get(pods::node_name(p)).copied().unwrap_or(0);
        let now = self.clock.now();
        victims.sort_by(|a, b| pods::deletion_order((a, rank(a)), (b, rank(b)), now));
        victims.truncate(count);
        victims
    }

    fn related_pods(&self, owner: &Value) -> Vec<Arc<Value>> {
        let Some(family) = controller_of(owner).and_then(|r| r["uid"].as_str()) else { return vec![] };
        let ns = meta::namespace(owner);
        let siblings: Vec<LabelSelector> = self
            .owners
            .store()
            .list_namespace(ns)
            .iter()
            .filter(|o| controller_of(o).and_then(|r| r["uid"].as_str()) == Some(family))
            .filter_map(|o| self.flavor.selector(o).ok())
            .collect();
        let pods = self.pods.store().list_namespace(ns);
        pods.into_iter().filter(|p| is_active(p) && siblings.iter().any(|s| s.matches(&meta::labels(p)))).collect()
    }

    /// The status Kubernetes computes from the claimed pods.
    fn calculate_status(&self, owner: &Value, claimed: &[Arc<Value>], error: Option<&Error>) -> Value {
        let template_labels = LabelSelector::from_map(&meta::labels(&owner["spec"]["template"]));
        let min_ready = owner["spec"]["minReadySeconds"].as_i64().unwrap_or(0);
        let now = self.clock.now();
        let fully_labeled = claimed.iter().filter(|p| template_labels.matches(&meta::labels(p))).count();
        let ready = claimed.iter().filter(|p| is_ready(p)).count();
        let available = claimed.iter().filter(|p| is_available(p, min_ready, now)).count();

        let mut status = json!({"replicas": claimed.len()});
        // Zero counts are left out, as Kubernetes' `omitempty` leaves them out.
        for (field, n) in
            [("fullyLabeledReplicas", fully_labeled), ("readyReplicas", ready), ("availableReplicas", available)]
        {
            if n > 0 {
                status[field] = n.into();
            }
        }
        if let Some(generation) = owner["metadata"]["generation"].as_i64() {
            status["observedGeneration"] = generation.into();
        }
        let mut conditions: Vec<Value> = owner["status"]["conditions"].as_array().cloned().unwrap_or_default();
        let failing = conditions.iter().any(|c| c["type"] == "ReplicaFailure");
        match error {
            Some(e) if !failing => {
                let want = owner["spec"]["replicas"].as_i64().unwrap_or(1);
                let reason = if (claimed.len() as i64) < want { "FailedCreate" } else { "FailedDelete" };
                conditions.push(json!({
                    "type": "ReplicaFailure",
                    "status": "True",
                    "lastTransitionTime": crate::clock::format_time(now),
                    "reason": reason,
                    "message": e.to_string(),
                }));
            }
            None if failing => conditions.retain(|c| c["type"] != "ReplicaFailure"),
            _ => {}
        }
        if !conditions.is_empty() {
            status["conditions"] = conditions.into();
        }
        status
    }

    /// Writes `status` if it differs from the stored one; a conflict is retried
    /// once on a fresh read, as Kubernetes does.
    async fn update_status(&self, owner: &Value, status: Value) -> Result<()> {
        if owner["status"] == status {
            return Ok(());
        }
        let (ns, name) = (meta::namespace(owner), meta::name(owner));
        let mut obj = owner.clone();
        for attempt in 0..2 {
            obj["status"] = status.clone();
            match self.client.update_status(self.flavor.info, ns, &obj).await {
                Ok(_) => return Ok(()),
                Err(e) if e.is_not_found() => return Ok(()),
                Err(e) if e.is_conflict() && attempt == 0 => {
                    obj = self.client.get(self.flavor.info, ns, name).await?;
                    if meta::uid(&obj) != meta::uid(owner) {
                        return Ok(());
                    }
                }
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }
}

/// Calls `create` `count` times in batches of 1, 2, 4, ..., stopping after the
/// first batch with a failure, so a controller that cannot create (a quota, a
/// bad template) sends one request, not hundreds. Returns the successes and
/// the first error.
async fn slow_start_batch<F, Fut>(count: usize, create: F) -> (usize, Option<ApiError>)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<(), ApiError>>,
{
    let (mut remaining, mut successes) = (count, 0);
    let mut batch = remaining.min(1);
    while batch > 0 {
        let results = futures::future::join_all((0..batch).map(|_| create())).await;
        let mut errors = results.into_iter().filter_map(Result::err);
        let first = errors.next();
        successes += batch - first.iter().count() - errors.count();
        if first.is_some() {
            return (successes, first);
        }
        remaining -= batch;
        batch = (2 * batch).min(remaining);
    }
    (successes, None)
}

#[async_trait::async_trait]
impl Controller for ReplicaSetController {
    fn name(&self) -> &'static str {
        self.flavor.name
    }

    fn informers(&self) -> Vec<Arc<SharedInformer>> {
        vec![self.owners.clone(), self.pods.clone()]
    }

    fn handle(&self, resource: &'static ResourceInfo, change: &Change, queue: &WorkQueue) {
        if resource.kind == "Pod" {
            match change {
                Change::Added(pod) => self.pod_added(pod, queue),
                Change::Updated { old, new } => self.pod_updated(old, new, queue),
                Change::Deleted(pod) => self.pod_deleted(pod, queue),
                Change::Resync => {}
            }
            return;
        }
        match change {
            Change::Added(owner) => queue.add(key_of(owner)),
            Change::Updated { old, new } => {
                if meta::uid(old) != meta::uid(new) {
                    // Deleted and recreated under the same name between two looks.
                    self.expectations.delete(&key_of(old));
                }
                queue.add(key_of(new));
            }
            Change::Deleted(owner) => {
                self.expectations.delete(&key_of(owner));
                queue.add(key_of(owner));
            }
            Change::Resync => {}
        }
    }

    fn resync(&self, queue: &WorkQueue) {
        for key in self.owners.store().keys() {
            queue.add(key);
        }
    }

    async fn reconcile(&self, key: &str) -> Result<Action> {
        let Some(owner) = self.owners.store().get(key) else {
            self.expectations.delete(key);
            return Ok(Action::Done);
        };
        let needs_sync = self.expectations.satisfied(key);
        let selector = match self.flavor.selector(&owner) {
            Ok(s) => s,
            Err(e) => {
                // Validation keeps bad selectors out; one that slips through is not retried.
                tracing::warn!(error = %e, "invalid selector");
                return Ok(Action::Done);
            }
        };
        let candidates = self.pods.store().list_namespace(meta::namespace(&owner)).into_iter().filter(|p| is_active(p));
        let claimed = self.claim_pods(&owner, &selector, candidates.collect()).await?;

        let mut manage_error = None;
        if needs_sync && meta::deletion_timestamp(&owner).is_none() {
            manage_error = self.manage_replicas(key, &owner, &claimed).await.err();
        }
        let status = self.calculate_status(&owner, &claimed, manage_error.as_ref());
        self.update_status(&owner, status.clone()).await?;
        if let Some(e) = manage_error {
            return Err(e);
        }
        // Pods that are ready but not yet available become available on their own.
        let min_ready = owner["spec"]["minReadySeconds"].as_i64().unwrap_or(0);
        let want = owner["spec"]["replicas"].as_i64().unwrap_or(1);
        let (ready, available) = (status["readyReplicas"].as_i64().unwrap_or(0), status["availableReplicas"].as_i64());
        if min_ready > 0 && ready == want && available.unwrap_or(0) != want {
            return Ok(Action::RequeueAfter(Duration::from_secs(min_ready as u64)));
        }
        Ok(Action::Done)
    }
}

#[cfg(test)]
mod tests;
