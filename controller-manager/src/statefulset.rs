//! The StatefulSet controller, as Kubernetes' pkg/controller/statefulset: pods
//! with a stable identity (`<set>-<ordinal>`, hostname and subdomain, their
//! own PersistentVolumeClaims), created, deleted and updated in order.
//!
//! Each reconcile:
//! 1. finds the revisions: the ControllerRevision holding the current
//!    template (`updateRevision`, created when the template is new, or
//!    renumbered to the newest when a rollback brings an old template back)
//!    and the one most pods run (`currentRevision`);
//! 2. walks the ordinals upwards: a missing pod is created (its claims
//!    first, from the volume claim templates, kept and reused across pod
//!    deletions: the Retain policy), a failed one deleted to be recreated;
//!    with `OrderedReady` it stops at the first pod that is not Running and
//!    Ready (or terminating); `Parallel` goes on;
//! 3. deletes the pods beyond `replicas`, the highest ordinal first, one at
//!    a time (`OrderedReady`: once every other pod is healthy) or all at once;
//! 4. with `RollingUpdate`, once every pod is healthy, deletes the highest
//!    pod at or above `partition` that runs another revision; step 2 brings
//!    it back on the new one. `OnDelete` replaces a pod only when the user
//!    deletes it;
//! 5. writes the status and trims the history to `revisionHistoryLimit`.
//!
//! A pod whose name is taken by a terminating pod waits for it: never two pods
//! with one identity.
//!
//! Claims are kept (`persistentVolumeClaimRetentionPolicy` Retain) unless the
//! policy says Delete: `whenDeleted` makes the set an owner of every claim,
//! `whenScaled` makes a pod removed by a scale-down the owner of its claims;
//! the garbage collector then deletes them after their owner, as in Kubernetes.

use crate::deployment::template_hash;
use crate::pods::{is_available, labels, Owner};
use crate::runner::{Action, Controller, Result, Watch};
use crate::Context;
use api::k8s_openapi;
use api::pod::{controller_of, is_ready, phase};
use api::registry;
use client::events::{EventRecorder, EventType};
use client::informer::{Change, SharedInformer};
use client::queue::WorkQueue;
use client::watcher::key_of;
use client::{Api, Client, DeleteParams, Object, PatchType};
use k8s_openapi::api::apps::v1::{ControllerRevision, StatefulSet, StatefulSetStatus};
use k8s_openapi::api::core::v1::{ObjectReference, PersistentVolumeClaimVolumeSource, Pod, PodTemplateSpec, Volume};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::apimachinery::pkg::runtime::RawExtension;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::Arc;

pub const POD_NAME_LABEL: &str = "statefulset.kubernetes.io/pod-name";
pub const POD_INDEX_LABEL: &str = "apps.kubernetes.io/pod-index";
pub const REVISION_LABEL: &str = "controller-revision-hash";

/// The ordinal of a pod of set `set` (`kubia-3` → 3), if its name is one.
pub fn ordinal_of(set: &str, pod: &str) -> Option<i32> {
    let rest = pod.strip_prefix(set)?.strip_prefix('-')?;
    if rest.is_empty() || (rest.len() > 1 && rest.starts_with('0')) || !rest.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    rest.parse().ok()
}

/// The claim of template `claim` for the pod `pod`: `<template>-<pod>`.
pub fn claim_name(claim: &str, pod: &str) -> String {
    format!("{claim}-{pod}")
}

/// The data a revision stores: the template, as a patch that replaces it.
fn revision_data(template: &PodTemplateSpec) -> Value {
    let mut t = serde_json::to_value(template).expect("a template serializes");
    t["$patch"] = json!("replace");
    json!({"spec": {"template": t}})
}

/// The template a revision holds.
fn revision_template(rev: &ControllerRevision) -> Option<PodTemplateSpec> {
    let mut t = rev.data.as_ref()?.0.get("spec")?.get("template")?.clone();
    t.as_object_mut()?.remove("$patch");
    serde_json::from_value(t).ok()
}

fn is_terminating(pod: &Pod) -> bool {
    pod.metadata.deletion_timestamp.is_some()
}

fn is_running_and_ready(pod: &Pod) -> bool {
    phase(pod) == "Running" && is_ready(pod)
}

fn is_failed(pod: &Pod) -> bool {
    matches!(phase(pod), "Failed" | "Succeeded")
}

fn pod_revision(pod: &Pod) -> &str {
    labels(&pod.metadata).get(REVISION_LABEL).map(String::as_str).unwrap_or("")
}

/// The pod of `ordinal`, made from `template` at `revision`: its name, the
/// identity labels, hostname and subdomain, and its claims as volumes.
pub fn new_pod(set: &StatefulSet, template: &PodTemplateSpec, revision: &str, ordinal: i32) -> Pod {
    let spec = set.spec.clone().unwrap_or_default();
    let name = format!("{}-{ordinal}", set.name());
    let from = template.metadata.clone().unwrap_or_default();
    let mut pod_labels = from.labels.clone().unwrap_or_default();
    pod_labels.insert(POD_NAME_LABEL.into(), name.clone());
    pod_labels.insert(REVISION_LABEL.into(), revision.into());
    pod_labels.insert(POD_INDEX_LABEL.into(), ordinal.to_string());
    let mut pod_spec = template.spec.clone().unwrap_or_default();
    pod_spec.hostname = Some(name.clone());
    if !spec.service_name.as_deref().unwrap_or("").is_empty() {
        pod_spec.subdomain = spec.service_name.clone();
    }
    for claim in spec.volume_claim_templates.iter().flatten() {
        let claim_template = claim.metadata.name.clone().unwrap_or_default();
        let volumes = pod_spec.volumes.get_or_insert_with(Vec::new);
        volumes.retain(|v| v.name != claim_template);
        volumes.push(Volume {
            name: claim_template.clone(),
            persistent_volume_claim: Some(PersistentVolumeClaimVolumeSource {
                claim_name: claim_name(&claim_template, &name),
                read_only: None,
            }),
            ..Default::default()
        });
    }
    Pod {
        metadata: ObjectMeta {
            name: Some(name),
            namespace: Some(set.namespace().to_string()),
            labels: Some(pod_labels),
            annotations: from.annotations,
            finalizers: from.finalizers,
            owner_references: Some(vec![Owner::of(set).reference]),
            ..Default::default()
        },
        spec: Some(pod_spec),
        ..Default::default()
    }
}

/// `persistentVolumeClaimRetentionPolicy`: (whenDeleted, whenScaled) is Delete.
fn deletes_claims(set: &StatefulSet) -> (bool, bool) {
    let policy = set.spec.as_ref().and_then(|s| s.persistent_volume_claim_retention_policy.clone()).unwrap_or_default();
    (policy.when_deleted.as_deref() == Some("Delete"), policy.when_scaled.as_deref() == Some("Delete"))
}

/// The claims a pod of the set needs, as JSON PersistentVolumeClaims: the
/// template's metadata, spec and the set's selector labels; owned by the set
/// (not as its controller) when `whenDeleted: Delete`, so that the garbage
/// collector deletes them with it.
pub fn new_claims(set: &StatefulSet, pod: &str) -> Vec<Value> {
    let spec = set.spec.clone().unwrap_or_default();
    let owner = deletes_claims(set)
        .0
        .then(|| json!([{"apiVersion": "apps/v1", "kind": "StatefulSet", "name": set.name(), "uid": set.uid()}]));
    let selector_labels = spec.selector.match_labels.clone().unwrap_or_default();
    spec.volume_claim_templates
        .iter()
        .flatten()
        .map(|t| {
            let template_name = t.metadata.name.clone().unwrap_or_default();
            let mut claim_labels = t.metadata.labels.clone().unwrap_or_default();
            claim_labels.extend(selector_labels.clone());
            let mut meta = json!({"name": claim_name(&template_name, pod), "namespace": set.namespace(),
                "labels": claim_labels});
            if let Some(a) = t.metadata.annotations.as_ref() {
                meta["annotations"] = json!(a);
            }
            if let Some(owner) = &owner {
                meta["ownerReferences"] = owner.clone();
            }
            json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": meta, "spec": t.spec})
        })
        .collect()
}

pub struct StatefulSetController {
    sets: Arc<SharedInformer<StatefulSet>>,
    pods: Arc<SharedInformer<Pod>>,
    revisions: Arc<SharedInformer<ControllerRevision>>,
    client: Client,
    recorder: EventRecorder,
}

impl StatefulSetController {
    pub fn new(ctx: &Context) -> Self {
        Self::with(ctx.factory.typed(), ctx.factory.typed(), ctx.factory.typed(), ctx.client.clone())
    }

    pub fn with(
        sets: Arc<SharedInformer<StatefulSet>>,
        pods: Arc<SharedInformer<Pod>>,
        revisions: Arc<SharedInformer<ControllerRevision>>,
        client: Client,
    ) -> Self {
        let recorder = EventRecorder::new(client.clone(), "statefulset-controller", "");
        Self { sets, pods, revisions, client, recorder }
    }

    fn owner_key(&self, meta: &ObjectMeta) -> Option<String> {
        let r = controller_of(meta)?;
        if r.kind != "StatefulSet" {
            return None;
        }
        Some(format!("{}/{}", meta.namespace.as_deref().unwrap_or(""), r.name))
    }

    fn set_changed(&self, change: &Change<StatefulSet>, queue: &WorkQueue) {
        match change {
            Change::Added(s) | Change::Updated { new: s, .. } => queue.add(key_of(s)),
            Change::Deleted(_) | Change::Resync => {}
        }
    }

    fn pod_changed(&self, change: &Change<Pod>, queue: &WorkQueue) {
        match change {
            Change::Added(p) | Change::Updated { new: p, .. } | Change::Deleted(p) => {
                if let Some(key) = self.owner_key(&p.metadata) {
                    queue.add(key);
                }
            }
            Change::Resync => {}
        }
    }

    fn event(&self, set: &StatefulSet, kind: EventType, reason: &'static str, message: String) {
        let object = ObjectReference {
            api_version: Some("apps/v1".into()),
            kind: Some("StatefulSet".into()),
            name: Some(set.name().into()),
            namespace: Some(set.namespace().into()),
            uid: Some(set.uid().into()),
            resource_version: Some(set.resource_version().into()),
            ..Default::default()
        };
        let recorder = self.recorder.clone();
        tokio::spawn(async move { recorder.record(&object, kind, reason, &message).await });
    }

    /// The set's revisions, oldest first.
    fn history(&self, set: &StatefulSet) -> Vec<Arc<ControllerRevision>> {
        let mut revs: Vec<Arc<ControllerRevision>> = self
            .revisions
            .store()
            .list_namespace(set.namespace())
            .into_iter()
            .filter(|r| controller_of(&r.metadata).is_some_and(|o| o.uid == set.uid()))
            .collect();
        revs.sort_by_key(|r| r.revision);
        revs
    }

    /// The revision of the set's template: an equal one from the history
    /// (renumbered to be the newest), or a new one.
    async fn update_revision(
        &self,
        set: &StatefulSet,
        history: &[Arc<ControllerRevision>],
    ) -> Result<ControllerRevision> {
        let template = set.spec.clone().unwrap_or_default().template;
        let data = revision_data(&template);
        let next = history.last().map_or(1, |r| r.revision + 1);
        let api = Api::<ControllerRevision>::namespaced(&self.client, set.namespace());
        if let Some(existing) = history.iter().find(|r| r.data.as_ref().map(|d| &d.0) == Some(&data)) {
            if existing.revision == next - 1 {
                return Ok((**existing).clone());
            }
            let mut bumped = (**existing).clone();
            bumped.revision = next;
            return Ok(api.update(&bumped).await?);
        }
        let name = format!("{}-{}", set.name(), template_hash(&template));
        let mut rev_labels = template.metadata.as_ref().and_then(|m| m.labels.clone()).unwrap_or_default();
        rev_labels.insert(REVISION_LABEL.into(), name.clone());
        let rev = ControllerRevision {
            metadata: ObjectMeta {
                name: Some(name.clone()),
                namespace: Some(set.namespace().into()),
                labels: Some(rev_labels),
                owner_references: Some(vec![Owner::of(set).reference]),
                ..Default::default()
            },
            data: Some(RawExtension(data)),
            revision: next,
        };
        match api.create(&rev).await {
            Ok(created) => Ok(created),
            // Created by an earlier pass the cache does not show yet.
            Err(e) if e.is_already_exists() => Ok(api.get(&name).await?),
            Err(e) => Err(e.into()),
        }
    }

    /// Creates the pod's missing claims, then the pod.
    async fn create_pod(&self, set: &StatefulSet, pod: &Pod) -> Result<()> {
        if let Some(pvcs) = registry::lookup("persistentvolumeclaims") {
            for claim in new_claims(set, pod.name()) {
                let name = api::meta::name(&claim).to_string();
                match self.client.get(pvcs, set.namespace(), &name).await {
                    Ok(_) => continue,
                    Err(e) if e.is_not_found() => {}
                    Err(e) => return Err(e.into()),
                }
                match self.client.create(pvcs, set.namespace(), &claim).await {
                    Ok(_) => self.event(
                        set,
                        EventType::Normal,
                        "SuccessfulCreate",
                        format!("create Claim {name} Pod {} in StatefulSet {} success", pod.name(), set.name()),
                    ),
                    Err(e) if e.is_already_exists() => {}
                    Err(e) => {
                        self.event(
                            set,
                            EventType::Warning,
                            "FailedCreate",
                            format!(
                                "create Claim {name} for Pod {} in StatefulSet {} failed error: {e}",
                                pod.name(),
                                set.name()
                            ),
                        );
                        return Err(e.into());
                    }
                }
            }
        }
        match Api::<Pod>::namespaced(&self.client, set.namespace()).create(pod).await {
            Ok(_) => {
                self.event(
                    set,
                    EventType::Normal,
                    "SuccessfulCreate",
                    format!("create Pod {} in StatefulSet {} successful", pod.name(), set.name()),
                );
                Ok(())
            }
            // The cache lags behind a create of an earlier pass.
            Err(e) if e.is_already_exists() => Ok(()),
            Err(e) => {
                self.event(
                    set,
                    EventType::Warning,
                    "FailedCreate",
                    format!("create Pod {} in StatefulSet {} failed error: {e}", pod.name(), set.name()),
                );
                Err(e.into())
            }
        }
    }

    /// With `whenScaled: Delete`, a condemned pod's claims get the pod as an
    /// owner before it goes: the garbage collector deletes them after it.
    async fn claims_follow_pod(&self, set: &StatefulSet, pod: &Pod) -> Result<()> {
        let Some(pvcs) = registry::lookup("persistentvolumeclaims") else { return Ok(()) };
        for claim in new_claims(set, pod.name()) {
            let name = api::meta::name(&claim);
            let existing = match self.client.get(pvcs, set.namespace(), name).await {
                Ok(c) => c,
                Err(e) if e.is_not_found() => continue,
                Err(e) => return Err(e.into()),
            };
            let mut refs = existing["metadata"]["ownerReferences"].as_array().cloned().unwrap_or_default();
            if refs.iter().any(|r| r["uid"] == pod.uid()) {
                continue;
            }
            refs.push(json!({"apiVersion": "v1", "kind": "Pod", "name": pod.name(), "uid": pod.uid()}));
            let patch = json!({"metadata": {"ownerReferences": refs}});
            match self.client.patch(pvcs, set.namespace(), name, client::PatchType::Merge, &patch).await {
                Ok(_) => {}
                Err(e) if e.is_not_found() => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }

    async fn delete_pod(&self, set: &StatefulSet, pod: &Pod) -> Result<()> {
        match Api::<Pod>::namespaced(&self.client, set.namespace()).delete(pod.name(), &DeleteParams::default()).await {
            Ok(_) => {
                self.event(
                    set,
                    EventType::Normal,
                    "SuccessfulDelete",
                    format!("delete Pod {} in StatefulSet {} successful", pod.name(), set.name()),
                );
                Ok(())
            }
            Err(e) if e.is_not_found() => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Steps 2 to 4 of the module's list: what to create and delete now.
    async fn update_pods(
        &self,
        set: &StatefulSet,
        pods: &BTreeMap<i32, Arc<Pod>>,
        current: (&ControllerRevision, &PodTemplateSpec),
        update: (&ControllerRevision, &PodTemplateSpec),
    ) -> Result<()> {
        let spec = set.spec.clone().unwrap_or_default();
        let replicas = spec.replicas.unwrap_or(1).max(0);
        let start = spec.ordinals.as_ref().and_then(|o| o.start).unwrap_or(0);
        let end = start + replicas;
        let monotonic = spec.pod_management_policy.as_deref() != Some("Parallel");
        let strategy = spec.update_strategy.clone().unwrap_or_default();
        let rolling = strategy.type_.as_deref() != Some("OnDelete");
        let partition = strategy.rolling_update.as_ref().and_then(|r| r.partition).unwrap_or(0);
        let (update_name, current_name) = (update.0.name(), current.0.name());

        // Failed pods go first: they are recreated below.
        for pod in pods.values() {
            if is_failed(pod) && !is_terminating(pod) {
                tracing::info!(pod = pod.name(), "deleting failed stateful pod to recreate it");
                self.delete_pod(set, pod).await?;
                if monotonic {
                    return Ok(());
                }
            }
        }
        for ordinal in start..end {
            match pods.get(&ordinal) {
                None => {
                    // Pods below the partition stay on the current revision.
                    let keep_current = rolling && ordinal - start < partition;
                    let (rev, template) = if keep_current && current_name != update_name {
                        (current_name, current.1)
                    } else {
                        (update_name, update.1)
                    };
                    let pod = new_pod(set, template, rev, ordinal);
                    tracing::info!(pod = pod.name(), revision = rev, "creating stateful pod");
                    self.create_pod(set, &pod).await?;
                    if monotonic {
                        return Ok(());
                    }
                }
                Some(pod) if monotonic && (is_terminating(pod) || is_failed(pod) || !is_running_and_ready(pod)) => {
                    return Ok(())
                }
                Some(_) => {}
            }
        }
        // Scale down: the pods beyond the range, highest ordinal first.
        let condemned: Vec<&Arc<Pod>> =
            pods.range(end..).rev().map(|(_, p)| p).chain(pods.range(..start).rev().map(|(_, p)| p)).collect();
        for pod in condemned {
            if is_terminating(pod) {
                if monotonic {
                    return Ok(());
                }
                continue;
            }
            tracing::info!(pod = pod.name(), "deleting stateful pod for scale down");
            if deletes_claims(set).1 {
                self.claims_follow_pod(set, pod).await?;
            }
            self.delete_pod(set, pod).await?;
            if monotonic {
                return Ok(());
            }
        }
        if !rolling {
            return Ok(());
        }
        // Every pod in range is up: roll the highest out-of-date one.
        if (start..end).any(|o| !pods.get(&o).is_some_and(|p| is_running_and_ready(p) && !is_terminating(p))) {
            return Ok(());
        }
        for ordinal in (start + partition.max(0)..end).rev() {
            let Some(pod) = pods.get(&ordinal) else { return Ok(()) };
            if pod_revision(pod) != update_name && !is_terminating(pod) {
                tracing::info!(pod = pod.name(), revision = update_name, "deleting stateful pod for update");
                return self.delete_pod(set, pod).await;
            }
            if !is_running_and_ready(pod) {
                return Ok(());
            }
        }
        Ok(())
    }

    /// Deletes the oldest revisions no pod runs beyond `revisionHistoryLimit`.
    async fn truncate_history(
        &self,
        set: &StatefulSet,
        pods: &BTreeMap<i32, Arc<Pod>>,
        current: &str,
        update: &str,
    ) -> Result<()> {
        let limit = set.spec.as_ref().and_then(|s| s.revision_history_limit).unwrap_or(10).max(0) as usize;
        let live: Vec<&str> = pods.values().map(|p| pod_revision(p)).chain([current, update]).collect();
        let history = self.history(set);
        let old: Vec<&Arc<ControllerRevision>> = history.iter().filter(|r| !live.contains(&r.name())).collect();
        if old.len() <= limit {
            return Ok(());
        }
        let api = Api::<ControllerRevision>::namespaced(&self.client, set.namespace());
        for rev in &old[..old.len() - limit] {
            match api.delete(rev.name(), &DeleteParams::default()).await {
                Ok(_) => {}
                Err(e) if e.is_not_found() => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }
}

#[async_trait::async_trait]
impl Controller for StatefulSetController {
    fn name(&self) -> &'static str {
        "statefulset"
    }

    fn watches(self: Arc<Self>) -> Vec<Watch> {
        vec![Watch::method(&self, &self.sets, Self::set_changed), Watch::method(&self, &self.pods, Self::pod_changed)]
    }

    fn resync(&self, queue: &WorkQueue) {
        for key in self.sets.store().keys() {
            queue.add(key);
        }
    }

    async fn reconcile(&self, key: &str) -> Result<Action> {
        let Some(set) = self.sets.store().get(key) else { return Ok(Action::Done) };
        if set.metadata.deletion_timestamp.is_some() {
            return Ok(Action::Done);
        }
        let selector = api::selector::LabelSelector::from_k8s(&set.spec.clone().unwrap_or_default().selector)
            .map_err(|e| crate::runner::Error::Invalid(e.to_string()))?;
        let mut pods: BTreeMap<i32, Arc<Pod>> = BTreeMap::new();
        for p in self.pods.store().list_namespace(set.namespace()) {
            let Some(ordinal) = ordinal_of(set.name(), p.name()) else { continue };
            match controller_of(&p.metadata) {
                Some(r) if r.uid == set.uid() => {
                    pods.insert(ordinal, p);
                }
                // An orphan with this set's pod name and labels is adopted, as ClaimPods does.
                None if !selector.is_empty() && selector.matches(labels(&p.metadata)) && !is_terminating(&p) => {
                    let patch = crate::pods::adopt_patch(&p.metadata, &Owner::of(&*set));
                    let pods_info = crate::pods::pods();
                    match self
                        .client
                        .patch(pods_info, set.namespace(), p.name(), PatchType::StrategicMerge, &patch)
                        .await
                    {
                        Ok(_) => {
                            pods.insert(ordinal, p);
                        }
                        Err(e) if e.is_not_found() || e.is_conflict() => {}
                        Err(e) => return Err(e.into()),
                    }
                }
                _ => {}
            }
        }

        let history = self.history(&set);
        let update = self.update_revision(&set, &history).await?;
        let status = set.status.clone().unwrap_or_default();
        let current = status
            .current_revision
            .as_deref()
            .and_then(|name| history.iter().find(|r| r.name() == name))
            .map(|r| (**r).clone())
            .unwrap_or_else(|| update.clone());
        let update_template = set.spec.clone().unwrap_or_default().template;
        let current_template = revision_template(&current).unwrap_or_else(|| update_template.clone());

        self.update_pods(&set, &pods, (&current, &current_template), (&update, &update_template)).await?;

        // Status, from the pods as the cache shows them now.
        let spec = set.spec.clone().unwrap_or_default();
        let min_ready = i64::from(spec.min_ready_seconds.unwrap_or(0));
        let now = jiff::Timestamp::now();
        let mut new_status = StatefulSetStatus {
            observed_generation: set.metadata.generation,
            collision_count: Some(status.collision_count.unwrap_or(0)),
            current_revision: Some(current.name().to_string()),
            update_revision: Some(update.name().to_string()),
            ..Default::default()
        };
        let (mut ready, mut available, mut current_count, mut updated) = (0, 0, 0, 0);
        for pod in pods.values().filter(|p| !is_terminating(p)) {
            new_status.replicas += 1;
            if is_running_and_ready(pod) {
                ready += 1;
                if is_available(pod, min_ready, now) {
                    available += 1;
                }
            }
            if pod_revision(pod) == current.name() {
                current_count += 1;
            }
            if pod_revision(pod) == update.name() {
                updated += 1;
            }
        }
        let rolling = spec.update_strategy.as_ref().and_then(|s| s.type_.as_deref()) != Some("OnDelete");
        let replicas = spec.replicas.unwrap_or(1);
        // A finished rollout makes the update revision the current one.
        if rolling && updated == replicas && ready == replicas && new_status.replicas == replicas {
            new_status.current_revision = new_status.update_revision.clone();
            current_count = updated;
        }
        new_status.ready_replicas = Some(ready);
        new_status.available_replicas = Some(available);
        new_status.current_replicas = Some(current_count);
        new_status.updated_replicas = Some(updated);
        let current_name = new_status.current_revision.clone().unwrap_or_default();
        if set.status.as_ref() != Some(&new_status) {
            let mut obj = (*set).clone();
            obj.status = Some(new_status);
            match Api::<StatefulSet>::namespaced(&self.client, set.namespace()).update_status(&obj).await {
                Ok(_) => {}
                Err(e) if e.is_not_found() || e.is_conflict() => {
                    return Ok(Action::RequeueAfter(std::time::Duration::from_secs(1)))
                }
                Err(e) => return Err(e.into()),
            }
        }
        self.truncate_history(&set, &pods, &current_name, update.name()).await?;
        // Ready pods become available once minReadySeconds pass: look again then.
        if ready > available {
            return Ok(Action::RequeueAfter(std::time::Duration::from_secs(min_ready.clamp(1, 30) as u64)));
        }
        Ok(Action::Done)
    }
}

#[cfg(test)]
mod tests;
