//! The ReplicaSet and ReplicationController controller: keeps exactly
//! `spec.replicas` active pods matching the selector, as Kubernetes'
//! pkg/controller/replicaset (which also serves ReplicationControllers: the
//! two kinds differ only in how the selector is written). One generic
//! controller serves both; [`Flavor`] reads either kind.
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
use crate::pods::{self, is_available, labels, ApiPodControl, Owner, PodControl};
use crate::runner::{Action, Controller, Error, Result, Watch};
use crate::Context;
use api::k8s_openapi;
use api::pod::{controller_of, is_active, is_ready};
use api::selector::LabelSelector;
use api::ApiError;
use client::informer::{Change, SharedInformer};
use client::queue::WorkQueue;
use client::watcher::key_of;
use client::{Api, Client, Object, Resource};
use k8s_openapi::api::apps::v1::{ReplicaSet, ReplicaSetCondition, ReplicaSetStatus};
use k8s_openapi::api::core::v1::{
    Pod, PodTemplateSpec, ReplicationController, ReplicationControllerCondition, ReplicationControllerStatus,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use std::sync::Arc;
use std::time::Duration;

/// The most pods one reconcile creates or deletes (Kubernetes' burstReplicas).
const BURST_REPLICAS: usize = 500;

/// What the controller reads and writes of the two kinds it serves. Their
/// statuses have the same fields; the controller works with a ReplicaSet's.
pub trait Flavor: Resource + k8s_openapi::Resource + k8s_openapi::Metadata<Ty = ObjectMeta> {
    /// The name `--controllers` uses.
    const NAME: &'static str;
    /// The `source.component` of its Events, as Kubernetes names it.
    const COMPONENT: &'static str;
    /// The owner's selector: a map for ReplicationControllers, a LabelSelector
    /// (matchLabels and matchExpressions) for ReplicaSets.
    fn selector(&self) -> Result<LabelSelector>;
    /// `spec.replicas`, 1 when absent.
    fn replicas(&self) -> i32;
    fn min_ready_seconds(&self) -> i32;
    fn template(&self) -> Option<&PodTemplateSpec>;
    fn status(&self) -> Option<ReplicaSetStatus>;
    fn set_status(&mut self, status: ReplicaSetStatus);
}

impl Flavor for ReplicaSet {
    const NAME: &'static str = "replicaset";
    const COMPONENT: &'static str = "replicaset-controller";

    fn selector(&self) -> Result<LabelSelector> {
        // No spec, no selector: it selects nothing, as a nil selector in Kubernetes.
        let Some(spec) = &self.spec else { return Ok(LabelSelector::nothing()) };
        LabelSelector::from_k8s(&spec.selector).map_err(|e| Error::Invalid(e.message))
    }
    fn replicas(&self) -> i32 {
        self.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1)
    }
    fn min_ready_seconds(&self) -> i32 {
        self.spec.as_ref().and_then(|s| s.min_ready_seconds).unwrap_or(0)
    }
    fn template(&self) -> Option<&PodTemplateSpec> {
        self.spec.as_ref()?.template.as_ref()
    }
    fn status(&self) -> Option<ReplicaSetStatus> {
        self.status.clone()
    }
    fn set_status(&mut self, status: ReplicaSetStatus) {
        self.status = Some(status);
    }
}

impl Flavor for ReplicationController {
    const NAME: &'static str = "replicationcontroller";
    const COMPONENT: &'static str = "replication-controller";

    fn selector(&self) -> Result<LabelSelector> {
        // A missing selector selects nothing (the apiserver defaults it from the template).
        let map = self.spec.as_ref().and_then(|s| s.selector.as_ref());
        Ok(map.map(LabelSelector::from_map).unwrap_or_else(LabelSelector::nothing))
    }
    fn replicas(&self) -> i32 {
        self.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1)
    }
    fn min_ready_seconds(&self) -> i32 {
        self.spec.as_ref().and_then(|s| s.min_ready_seconds).unwrap_or(0)
    }
    fn template(&self) -> Option<&PodTemplateSpec> {
        self.spec.as_ref()?.template.as_ref()
    }
    fn status(&self) -> Option<ReplicaSetStatus> {
        let s = self.status.as_ref()?;
        let conditions = s.conditions.as_ref().map(|cs| {
            cs.iter()
                .map(|c| ReplicaSetCondition {
                    last_transition_time: c.last_transition_time.clone(),
                    message: c.message.clone(),
                    reason: c.reason.clone(),
                    status: c.status.clone(),
                    type_: c.type_.clone(),
                })
                .collect()
        });
        Some(ReplicaSetStatus {
            available_replicas: s.available_replicas,
            conditions,
            fully_labeled_replicas: s.fully_labeled_replicas,
            observed_generation: s.observed_generation,
            ready_replicas: s.ready_replicas,
            replicas: s.replicas,
            terminating_replicas: None,
        })
    }
    fn set_status(&mut self, s: ReplicaSetStatus) {
        let conditions = s.conditions.map(|cs| {
            cs.into_iter()
                .map(|c| ReplicationControllerCondition {
                    last_transition_time: c.last_transition_time,
                    message: c.message,
                    reason: c.reason,
                    status: c.status,
                    type_: c.type_,
                })
                .collect()
        });
        self.status = Some(ReplicationControllerStatus {
            available_replicas: s.available_replicas,
            conditions,
            fully_labeled_replicas: s.fully_labeled_replicas,
            observed_generation: s.observed_generation,
            ready_replicas: s.ready_replicas,
            replicas: s.replicas,
        });
    }
}

pub struct ReplicaSetController<O: Flavor> {
    owners: Arc<SharedInformer<O>>,
    pods: Arc<SharedInformer<Pod>>,
    pod_control: Arc<dyn PodControl>,
    client: Client,
    clock: Clock,
    expectations: Expectations,
}

impl ReplicaSetController<ReplicaSet> {
    pub fn replica_sets(ctx: &Context) -> Self {
        Self::from_context(ctx)
    }
}

impl ReplicaSetController<ReplicationController> {
    pub fn replication_controllers(ctx: &Context) -> Self {
        Self::from_context(ctx)
    }
}

impl<O: Flavor> ReplicaSetController<O> {
    fn from_context(ctx: &Context) -> Self {
        let pod_control = Arc::new(ApiPodControl::new(ctx.client.clone(), O::COMPONENT));
        Self::new(ctx.factory.typed(), ctx.factory.typed(), pod_control, ctx.client.clone(), ctx.clock.clone())
    }

    pub fn new(
        owners: Arc<SharedInformer<O>>,
        pods: Arc<SharedInformer<Pod>>,
        pod_control: Arc<dyn PodControl>,
        client: Client,
        clock: Clock,
    ) -> Self {
        Self { owners, pods, pod_control, client, clock, expectations: Expectations::default() }
    }

    /// The owner a controller reference points to, if it is one of ours and still the same object.
    fn resolve(&self, namespace: &str, reference: &OwnerReference) -> Option<Arc<O>> {
        if reference.kind != O::KIND {
            return None;
        }
        let owner = self.owners.store().get_in(namespace, &reference.name)?;
        (owner.uid() == reference.uid).then_some(owner)
    }

    /// Owners whose selector matches an orphan pod's labels (candidates to adopt it).
    fn matching_owners(&self, pod: &Pod) -> Vec<String> {
        let labels = labels(&pod.metadata);
        let owners = self.owners.store().list_namespace(pod.namespace());
        owners
            .iter()
            .filter(|o| {
                // An empty selector must match nothing here, not everything.
                o.selector().is_ok_and(|s| !s.is_empty() && s.matches(labels))
            })
            .map(key_of)
            .collect()
    }

    fn pod_added(&self, pod: &Pod, queue: &WorkQueue) {
        if pod.metadata.deletion_timestamp.is_some() {
            // Seen for the first time already terminating (after a restart): a deletion, not a creation.
            return self.pod_deleted(pod, queue);
        }
        if let Some(reference) = controller_of(&pod.metadata) {
            if let Some(owner) = self.resolve(pod.namespace(), reference) {
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

    fn pod_updated(&self, old: &Pod, new: &Pod, queue: &WorkQueue) {
        if old.resource_version() == new.resource_version() {
            return;
        }
        let labels_changed = labels(&old.metadata) != labels(&new.metadata);
        if new.metadata.deletion_timestamp.is_some() {
            // A graceful deletion started: replace the pod now, not when the kubelet finishes.
            self.pod_deleted(new, queue);
            if labels_changed {
                self.pod_deleted(old, queue);
            }
            return;
        }
        let (old_ref, new_ref) = (controller_of(&old.metadata), controller_of(&new.metadata));
        if old_ref != new_ref {
            if let Some(owner) = old_ref.and_then(|r| self.resolve(old.namespace(), r)) {
                queue.add(key_of(&owner));
            }
        }
        if let Some(reference) = new_ref {
            if let Some(owner) = self.resolve(new.namespace(), reference) {
                let key = key_of(&owner);
                let min_ready = owner.min_ready_seconds();
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

    fn pod_deleted(&self, pod: &Pod, queue: &WorkQueue) {
        let Some(reference) = controller_of(&pod.metadata) else { return };
        if let Some(owner) = self.resolve(pod.namespace(), reference) {
            let key = key_of(&owner);
            self.expectations.deletion_observed(&key, &key_of(pod));
            queue.add(key);
        }
    }

    /// Claims the pods this owner should manage: its own that still match, plus
    /// matching orphans it adopts; owned pods that no longer match are released.
    async fn claim_pods(
        &self,
        owner: &O,
        selector: &LabelSelector,
        candidates: Vec<Arc<Pod>>,
    ) -> Result<Vec<Arc<Pod>>> {
        let owner_deleting = owner.metadata().deletion_timestamp.is_some();
        let mut claimed = Vec::new();
        let mut adoption_allowed: Option<bool> = None;
        let mut first_error = None;
        for pod in candidates {
            let matches = selector.matches(labels(&pod.metadata));
            let result = match controller_of(&pod.metadata) {
                Some(r) if r.uid != owner.uid() => continue,
                Some(_) if matches => {
                    claimed.push(pod);
                    continue;
                }
                Some(_) if owner_deleting => continue,
                Some(_) => self.release(owner, &pod).await,
                None if owner_deleting || !matches || pod.metadata.deletion_timestamp.is_some() => continue,
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

    async fn can_adopt(&self, owner: &O) -> Result<bool> {
        let fresh = match Api::<O>::namespaced(&self.client, owner.namespace()).get(owner.name()).await {
            Ok(fresh) => fresh,
            Err(e) if e.is_not_found() => return Ok(false),
            Err(e) => return Err(e.into()),
        };
        Ok(fresh.uid() == owner.uid() && fresh.metadata().deletion_timestamp.is_none())
    }

    /// Adds our controller reference to an orphan.
    async fn adopt(&self, owner: &O, pod: &Pod) -> Result<(), ApiError> {
        tracing::info!(pod = pod.name(), "adopting orphan pod");
        let patch = pods::adopt_patch(&pod.metadata, &Owner::of(owner));
        self.pod_control.patch_pod(pod.namespace(), pod.name(), &patch).await
    }

    /// Removes our reference from a pod whose labels no longer match.
    async fn release(&self, owner: &O, pod: &Pod) -> Result<(), ApiError> {
        tracing::info!(pod = pod.name(), "releasing pod that no longer matches the selector");
        let patch = pods::release_patch(&pod.metadata, owner.uid());
        self.pod_control.patch_pod(pod.namespace(), pod.name(), &patch).await
    }

    async fn manage_replicas(&self, key: &str, owner: &O, claimed: &[Arc<Pod>]) -> Result<()> {
        let want = owner.replicas().max(0) as usize;
        let as_owner = Owner::of(owner);
        if claimed.len() < want {
            let missing = (want - claimed.len()).min(BURST_REPLICAS);
            self.expectations.expect_creations(key, missing);
            tracing::info!(need = want, creating = missing, "too few replicas");
            let template = owner.template().cloned().unwrap_or_default();
            let (created, error) = slow_start_batch(missing, || async {
                match self.pod_control.create_pod(&template, &as_owner).await {
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
            let as_owner = &as_owner;
            let deletions = victims.iter().map(|pod| async move {
                let result = self.pod_control.delete_pod(pod.namespace(), pod.name(), as_owner).await;
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
    fn pods_to_delete(&self, owner: &O, claimed: &[Arc<Pod>], count: usize) -> Vec<Arc<Pod>> {
        let mut victims = claimed.to_vec();
        if count >= victims.len() {
            return victims;
        }
        let mut per_node = std::collections::HashMap::<String, usize>::new();
        for pod in self.related_pods(owner) {
            *per_node.entry(api::pod::node_name(&pod).to_string()).or_default() += 1;
        }
        let rank = |p: &Pod| per_node.get(api::pod::node_name(p)).copied().unwrap_or(0);
        let now = self.clock.now();
        victims.sort_by(|a, b| pods::deletion_order((a, rank(a)), (b, rank(b)), now));
        victims.truncate(count);
        victims
    }

    fn related_pods(&self, owner: &O) -> Vec<Arc<Pod>> {
        let Some(family) = controller_of(owner.metadata()).map(|r| r.uid.as_str()) else { return vec![] };
        let ns = owner.namespace();
        let siblings: Vec<LabelSelector> = self
            .owners
            .store()
            .list_namespace(ns)
            .iter()
            .filter(|o| controller_of(o.metadata()).map(|r| r.uid.as_str()) == Some(family))
            .filter_map(|o| o.selector().ok())
            .collect();
        let pods = self.pods.store().list_namespace(ns);
        pods.into_iter().filter(|p| is_active(p) && siblings.iter().any(|s| s.matches(labels(&p.metadata)))).collect()
    }

    /// The status Kubernetes computes from the claimed pods.
    fn calculate_status(&self, owner: &O, claimed: &[Arc<Pod>], error: Option<&Error>) -> ReplicaSetStatus {
        let template_meta = owner.template().and_then(|t| t.metadata.clone()).unwrap_or_default();
        let template_labels = LabelSelector::from_map(labels(&template_meta));
        let min_ready = owner.min_ready_seconds() as i64;
        let now = self.clock.now();
        let fully_labeled = claimed.iter().filter(|p| template_labels.matches(labels(&p.metadata))).count();
        let ready = claimed.iter().filter(|p| is_ready(p)).count();
        let available = claimed.iter().filter(|p| is_available(p, min_ready, now)).count();
        // Zero counts are left out, as Kubernetes' `omitempty` leaves them out.
        let count = |n: usize| (n > 0).then_some(n as i32);

        let mut conditions = owner.status().and_then(|s| s.conditions).unwrap_or_default();
        let failing = conditions.iter().any(|c| c.type_ == "ReplicaFailure");
        match error {
            Some(e) if !failing => {
                let reason =
                    if (claimed.len() as i64) < owner.replicas() as i64 { "FailedCreate" } else { "FailedDelete" };
                conditions.push(ReplicaSetCondition {
                    type_: "ReplicaFailure".into(),
                    status: "True".into(),
                    last_transition_time: Some(api::time::to_second(now)),
                    reason: Some(reason.into()),
                    message: Some(e.to_string()),
                });
            }
            None if failing => conditions.retain(|c| c.type_ != "ReplicaFailure"),
            _ => {}
        }
        ReplicaSetStatus {
            replicas: claimed.len() as i32,
            fully_labeled_replicas: count(fully_labeled),
            ready_replicas: count(ready),
            available_replicas: count(available),
            observed_generation: owner.metadata().generation,
            conditions: (!conditions.is_empty()).then_some(conditions),
            terminating_replicas: None,
        }
    }

    /// Writes `status` if it differs from the stored one; a conflict is retried
    /// once on a fresh read, as Kubernetes does.
    async fn update_status(&self, owner: &O, status: ReplicaSetStatus) -> Result<()> {
        if owner.status().as_ref() == Some(&status) {
            return Ok(());
        }
        let api = Api::<O>::namespaced(&self.client, owner.namespace());
        let mut obj = owner.clone();
        for attempt in 0..2 {
            obj.set_status(status.clone());
            match api.update_status(&obj).await {
                Ok(_) => return Ok(()),
                Err(e) if e.is_not_found() => return Ok(()),
                Err(e) if e.is_conflict() && attempt == 0 => {
                    obj = api.get(owner.name()).await?;
                    if obj.uid() != owner.uid() {
                        return Ok(());
                    }
                }
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }

    fn owner_changed(&self, change: &Change<O>, queue: &WorkQueue) {
        match change {
            Change::Added(owner) => queue.add(key_of(owner)),
            Change::Updated { old, new } => {
                if old.uid() != new.uid() {
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

    fn pod_changed(&self, change: &Change<Pod>, queue: &WorkQueue) {
        match change {
            Change::Added(pod) => self.pod_added(pod, queue),
            Change::Updated { old, new } => self.pod_updated(old, new, queue),
            Change::Deleted(pod) => self.pod_deleted(pod, queue),
            Change::Resync => {}
        }
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
impl<O: Flavor> Controller for ReplicaSetController<O> {
    fn name(&self) -> &'static str {
        O::NAME
    }

    fn watches(self: Arc<Self>) -> Vec<Watch> {
        vec![
            Watch::method(&self, &self.owners, Self::owner_changed),
            Watch::method(&self, &self.pods, Self::pod_changed),
        ]
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
        let selector = match owner.selector() {
            Ok(s) => s,
            Err(e) => {
                // Validation keeps bad selectors out; one that slips through is not retried.
                tracing::warn!(error = %e, "invalid selector");
                return Ok(Action::Done);
            }
        };
        let candidates = self.pods.store().list_namespace(owner.namespace()).into_iter().filter(|p| is_active(p));
        let claimed = self.claim_pods(&owner, &selector, candidates.collect()).await?;

        let mut manage_error = None;
        if needs_sync && owner.metadata().deletion_timestamp.is_none() {
            manage_error = self.manage_replicas(key, &owner, &claimed).await.err();
        }
        let status = self.calculate_status(&owner, &claimed, manage_error.as_ref());
        self.update_status(&owner, status.clone()).await?;
        if let Some(e) = manage_error {
            return Err(e);
        }
        // Pods that are ready but not yet available become available on their own.
        let (min_ready, want) = (owner.min_ready_seconds(), owner.replicas());
        let (ready, available) = (status.ready_replicas.unwrap_or(0), status.available_replicas.unwrap_or(0));
        if min_ready > 0 && ready == want && available != want {
            return Ok(Action::RequeueAfter(Duration::from_secs(min_ready as u64)));
        }
        Ok(Action::Done)
    }
}

#[cfg(test)]
mod tests;
