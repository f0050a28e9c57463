//! The Deployment controller, as Kubernetes' pkg/controller/deployment: a
//! Deployment owns one ReplicaSet per pod template it has had, and moves pods
//! from the old ones to the one matching its current template.
//!
//! Each reconcile of a Deployment:
//! 1. claims its ReplicaSets (its own, plus matching orphans it adopts);
//! 2. finds the new ReplicaSet: the one whose template, without the
//!    `pod-template-hash` label, equals the Deployment's. It is named
//!    `<deployment>-<hash>`, carries the hash as a label in its selector,
//!    template and so its pods, and the `deployment.kubernetes.io/revision`
//!    annotation one above every older revision;
//! 3. when paused, only scales; otherwise rolls out:
//!    - RollingUpdate: scales the new ReplicaSet up while all pods stay within
//!      `replicas + maxSurge`, and the old ones down while at least
//!      `replicas - maxUnavailable` pods stay available;
//!    - Recreate: scales every old ReplicaSet to zero, waits until their pods
//!      are gone, then creates and scales up the new one;
//! 4. deletes the oldest unused ReplicaSets beyond `revisionHistoryLimit`
//!    once the rollout is complete;
//! 5. writes status and the Available and Progressing conditions.
//!
//! Deviations: scaling a Deployment in the middle of a rollout is not spread
//! proportionally over its ReplicaSets (Kubernetes' proportional scaling); the
//! rolling update converges on the new replica count instead. Hash collisions
//! are not counted in `status.collisionCount`: the hash covers the canonical
//! JSON of the template, and a name taken by a foreign ReplicaSet is an error.

use crate::clock::Clock;
use crate::pods::{self, labels, Owner};
use crate::runner::{Action, Controller, Error, Result, Watch};
use crate::Context;
use api::k8s_openapi;
use api::pod::controller_of;
use api::selector::LabelSelector;
use api::workload::{equal_ignoring_hash, revision, HASH_LABEL, REVISION};
use client::events::{EventRecorder, EventType};
use client::informer::{Change, SharedInformer};
use client::queue::WorkQueue;
use client::watcher::key_of;
use client::{Api, Client, DeleteParams, Object, PatchType};
use k8s_openapi::api::apps::v1::{Deployment, DeploymentCondition, DeploymentStatus, ReplicaSet, ReplicaSetSpec};
use k8s_openapi::api::core::v1::{Pod, PodTemplateSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use serde_json::Value;
use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

pub const DESIRED_REPLICAS: &str = "deployment.kubernetes.io/desired-replicas";
pub const MAX_REPLICAS: &str = "deployment.kubernetes.io/max-replicas";
pub const REVISION_HISTORY: &str = "deployment.kubernetes.io/revision-history";

/// Deployment annotations not copied to its ReplicaSets (Kubernetes' annotationsToSkip).
const NOT_COPIED: &[&str] = &[
    "kubectl.kubernetes.io/last-applied-configuration",
    REVISION,
    REVISION_HISTORY,
    DESIRED_REPLICAS,
    MAX_REPLICAS,
    "deprecated.deployment.rollback.to",
];

/// Resolves an IntOrString against `total`: a percentage rounds up for surge
/// and down for unavailability, as Kubernetes' GetScaledValueFromIntOrPercent.
pub fn scaled_value(v: &IntOrString, total: i64, round_up: bool) -> i64 {
    match v {
        IntOrString::Int(n) => i64::from(*n),
        IntOrString::String(s) => match s.strip_suffix('%').and_then(|p| p.parse::<i64>().ok()) {
            Some(p) if round_up => (p * total + 99) / 100,
            Some(p) => p * total / 100,
            None => s.parse().unwrap_or(0),
        },
    }
}

/// `(maxSurge, maxUnavailable)` of a RollingUpdate Deployment; both zero is
/// read as one unavailable, so a rollout can always move (ResolveFenceposts).
pub fn surge_and_unavailable(d: &Deployment) -> (i64, i64) {
    let replicas = desired(d);
    let ru = spec(d).strategy.as_ref().and_then(|s| s.rolling_update.as_ref());
    let quarter = IntOrString::String("25%".into());
    let surge = scaled_value(ru.and_then(|r| r.max_surge.as_ref()).unwrap_or(&quarter), replicas, true);
    let unavailable = scaled_value(ru.and_then(|r| r.max_unavailable.as_ref()).unwrap_or(&quarter), replicas, false);
    if surge == 0 && unavailable == 0 {
        (0, 1)
    } else {
        (surge, unavailable)
    }
}

/// The Deployment's spec (the apiserver requires one; a missing one reads as the defaults).
fn spec(d: &Deployment) -> &k8s_openapi::api::apps::v1::DeploymentSpec {
    static NONE: std::sync::OnceLock<k8s_openapi::api::apps::v1::DeploymentSpec> = std::sync::OnceLock::new();
    d.spec.as_ref().unwrap_or_else(|| NONE.get_or_init(Default::default))
}

fn desired(d: &Deployment) -> i64 {
    spec(d).replicas.map_or(1, i64::from)
}

fn is_recreate(d: &Deployment) -> bool {
    spec(d).strategy.as_ref().and_then(|s| s.type_.as_deref()) == Some("Recreate")
}

fn is_paused(d: &Deployment) -> bool {
    spec(d).paused == Some(true)
}

fn min_ready_seconds(d: &Deployment) -> i32 {
    spec(d).min_ready_seconds.unwrap_or(0)
}

/// The max unavailable a Deployment tolerates (0 for Recreate), capped at its replicas.
fn max_unavailable(d: &Deployment) -> i64 {
    if is_recreate(d) || desired(d) == 0 {
        return 0;
    }
    surge_and_unavailable(d).1.min(desired(d))
}

fn spec_replicas(rs: &ReplicaSet) -> i64 {
    rs.spec.as_ref().and_then(|s| s.replicas).map_or(0, i64::from)
}

/// A ReplicaSet's status counts: replicas, ready, available.
fn status_replicas(rs: &ReplicaSet) -> i64 {
    rs.status.as_ref().map_or(0, |s| i64::from(s.replicas))
}

fn status_ready(rs: &ReplicaSet) -> i64 {
    rs.status.as_ref().and_then(|s| s.ready_replicas).map_or(0, i64::from)
}

fn status_available(rs: &ReplicaSet) -> i64 {
    rs.status.as_ref().and_then(|s| s.available_replicas).map_or(0, i64::from)
}

fn rs_template(rs: &ReplicaSet) -> PodTemplateSpec {
    rs.spec.as_ref().and_then(|s| s.template.clone()).unwrap_or_default()
}

/// FNV-1a over the template's canonical JSON (keys sorted at every level),
/// written with Kubernetes' SafeEncodeString alphabet, which avoids vowels
/// and look-alike characters so a hash never spells a word. The typed
/// template's JSON, so the same template always hashes the same, however
/// it was written.
pub fn template_hash(template: &PodTemplateSpec) -> String {
    fn canonical(v: &Value, out: &mut String) {
        match v {
            Value::Object(m) => {
                let mut keys: Vec<&String> = m.keys().collect();
                keys.sort();
                out.push('{');
                for k in keys {
                    out.push_str(&Value::String(k.clone()).to_string());
                    out.push(':');
                    canonical(&m[k], out);
                    out.push(',');
                }
                out.push('}');
            }
            Value::Array(a) => {
                out.push('[');
                for x in a {
                    canonical(x, out);
                    out.push(',');
                }
                out.push(']');
            }
            other => out.push_str(&other.to_string()),
        }
    }
    let mut text = String::new();
    canonical(&serde_json::to_value(template).expect("a template serializes"), &mut text);
    let mut hash: u32 = 0x811c_9dc5;
    for b in text.bytes() {
        hash ^= u32::from(b);
        hash = hash.wrapping_mul(0x0100_0193);
    }
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    hash.to_string().bytes().map(|b| ALPHABET[usize::from(b) % ALPHABET.len()] as char).collect()
}

/// Oldest first; ties by name, as Kubernetes' ReplicaSetsByCreationTimestamp.
fn by_creation(a: &Arc<ReplicaSet>, b: &Arc<ReplicaSet>) -> Ordering {
    let created = |rs: &ReplicaSet| rs.metadata.creation_timestamp.as_ref().map(|t| t.0);
    created(a).cmp(&created(b)).then_with(|| a.name().cmp(b.name()))
}

fn count(n: i64) -> Option<i32> {
    (n != 0).then_some(n as i32)
}

pub struct DeploymentController {
    deployments: Arc<SharedInformer<Deployment>>,
    replica_sets: Arc<SharedInformer<ReplicaSet>>,
    pods: Arc<SharedInformer<Pod>>,
    client: Client,
    clock: Clock,
    recorder: Option<EventRecorder>,
}

impl DeploymentController {
    pub fn new(ctx: &Context) -> Self {
        let mut c = Self::with(
            ctx.factory.typed(),
            ctx.factory.typed(),
            ctx.factory.typed(),
            ctx.client.clone(),
            ctx.clock.clone(),
        );
        c.recorder = Some(EventRecorder::new(ctx.client.clone(), "deployment-controller", ""));
        c
    }

    /// A controller over the given caches, recording no Events (for tests).
    pub fn with(
        deployments: Arc<SharedInformer<Deployment>>,
        replica_sets: Arc<SharedInformer<ReplicaSet>>,
        pods: Arc<SharedInformer<Pod>>,
        client: Client,
        clock: Clock,
    ) -> Self {
        Self { deployments, replica_sets, pods, client, clock, recorder: None }
    }

    fn replica_set_api(&self, namespace: &str) -> Api<ReplicaSet> {
        Api::namespaced(&self.client, namespace)
    }

    fn event(&self, d: &Deployment, kind: EventType, reason: &'static str, message: String) {
        if let Some(recorder) = self.recorder.clone() {
            let d = client::events::reference_to(d);
            tokio::spawn(async move { recorder.record(&d, kind, reason, &message).await });
        }
    }

    fn selector(d: &Deployment) -> Result<LabelSelector> {
        // No spec, no selector: it selects nothing, as a nil selector in Kubernetes.
        let Some(spec) = &d.spec else { return Ok(LabelSelector::nothing()) };
        LabelSelector::from_k8s(&spec.selector).map_err(|e| Error::Invalid(e.message))
    }

    /// The Deployment a ReplicaSet belongs to, or the ones that could adopt an orphan.
    fn owners_of(&self, rs: &ReplicaSet) -> Vec<String> {
        let ns = rs.namespace();
        if let Some(r) = controller_of(&rs.metadata) {
            if r.kind != "Deployment" {
                return vec![];
            }
            return match self.deployments.store().get_in(ns, &r.name) {
                Some(d) if r.uid == d.uid() => vec![key_of(&d)],
                _ => vec![],
            };
        }
        let labels = labels(&rs.metadata);
        let all = self.deployments.store().list_namespace(ns);
        all.iter().filter(|d| Self::selector(d).is_ok_and(|s| !s.is_empty() && s.matches(labels))).map(key_of).collect()
    }

    /// The ReplicaSets this Deployment controls, adopting matching orphans.
    async fn claim_replica_sets(&self, d: &Deployment, selector: &LabelSelector) -> Result<Vec<Arc<ReplicaSet>>> {
        let mut owned = Vec::new();
        for rs in self.replica_sets.store().list_namespace(d.namespace()) {
            match controller_of(&rs.metadata) {
                Some(r) if r.uid == d.uid() => owned.push(rs),
                Some(_) => {}
                None if d.metadata.deletion_timestamp.is_none()
                    && rs.metadata.deletion_timestamp.is_none()
                    && selector.matches(labels(&rs.metadata)) =>
                {
                    let patch = pods::adopt_patch(&rs.metadata, &Owner::of(d));
                    match self.replica_set_api(rs.namespace()).patch(rs.name(), PatchType::StrategicMerge, &patch).await
                    {
                        Ok(adopted) => owned.push(Arc::new(adopted)),
                        Err(e) if e.is_not_found() => {}
                        Err(e) => return Err(e.into()),
                    }
                }
                None => {}
            }
        }
        owned.sort_by(by_creation);
        Ok(owned)
    }

    /// Splits the ReplicaSets into the new one (if it exists) and the old ones.
    fn split(d: &Deployment, all: &[Arc<ReplicaSet>]) -> (Option<Arc<ReplicaSet>>, Vec<Arc<ReplicaSet>>) {
        let template = &spec(d).template;
        // The oldest match wins, as Kubernetes picks when several look alike.
        let new = all.iter().find(|rs| equal_ignoring_hash(&rs_template(rs), template)).cloned();
        let old = all.iter().filter(|rs| new.as_ref().is_none_or(|n| n.uid() != rs.uid())).cloned().collect();
        (new, old)
    }

    /// The annotations a ReplicaSet of `d` carries: the Deployment's own
    /// (change-cause among them), its revision and the replica counts.
    fn rs_annotations(
        d: &Deployment,
        existing: Option<&BTreeMap<String, String>>,
        revision: i64,
    ) -> BTreeMap<String, String> {
        let mut annotations = existing.cloned().unwrap_or_default();
        for (k, v) in d.metadata.annotations.iter().flatten() {
            if !NOT_COPIED.contains(&k.as_str()) {
                annotations.insert(k.clone(), v.clone());
            }
        }
        let current: i64 = annotations.get(REVISION).and_then(|s| s.parse().ok()).unwrap_or(0);
        if current < revision {
            annotations.insert(REVISION.into(), revision.to_string());
        }
        let max = desired(d) + if is_recreate(d) { 0 } else { surge_and_unavailable(d).0 };
        annotations.insert(DESIRED_REPLICAS.into(), desired(d).to_string());
        annotations.insert(MAX_REPLICAS.into(), max.to_string());
        annotations
    }

    /// Finds or creates the new ReplicaSet and keeps its revision above every
    /// old one's (a rolled-back template becomes the newest revision again).
    async fn new_replica_set(
        &self,
        d: &Deployment,
        new: Option<Arc<ReplicaSet>>,
        old: &[Arc<ReplicaSet>],
        create: bool,
        initial: impl Fn(&[Arc<ReplicaSet>]) -> i64,
    ) -> Result<Option<Arc<ReplicaSet>>> {
        let next_revision = old.iter().map(|rs| revision(&rs.metadata)).max().unwrap_or(0) + 1;
        let ns = d.namespace();
        if let Some(rs) = new {
            let annotations = Self::rs_annotations(d, rs.metadata.annotations.as_ref(), next_revision);
            let min_ready = min_ready_seconds(d);
            let same_ready = rs.spec.as_ref().and_then(|s| s.min_ready_seconds).unwrap_or(0) == min_ready;
            if rs.metadata.annotations.as_ref() == Some(&annotations) && same_ready {
                return Ok(Some(rs));
            }
            let mut updated = (*rs).clone();
            updated.metadata.annotations = Some(annotations);
            updated.spec.get_or_insert_with(Default::default).min_ready_seconds = Some(min_ready);
            return Ok(Some(Arc::new(self.replica_set_api(ns).update(&updated).await?)));
        }
        if !create {
            return Ok(None);
        }
        let mut template = spec(d).template.clone();
        let hash = template_hash(&template);
        let template_meta = template.metadata.get_or_insert_with(Default::default);
        template_meta.labels.get_or_insert_with(Default::default).insert(HASH_LABEL.into(), hash.clone());
        let labels = template_meta.labels.clone();
        let mut selector = spec(d).selector.clone();
        selector.match_labels.get_or_insert_with(Default::default).insert(HASH_LABEL.into(), hash.clone());
        let name = format!("{}-{hash}", d.name());
        let replicas = initial(old);
        let rs = ReplicaSet {
            metadata: ObjectMeta {
                name: Some(name.clone()),
                namespace: Some(ns.to_string()),
                labels,
                annotations: Some(Self::rs_annotations(d, None, next_revision)),
                owner_references: Some(vec![Owner::of(d).reference]),
                ..Default::default()
            },
            spec: Some(ReplicaSetSpec {
                replicas: Some(replicas as i32),
                min_ready_seconds: Some(min_ready_seconds(d)),
                selector,
                template: Some(template),
            }),
            status: None,
        };
        let api = self.replica_set_api(ns);
        let created = match api.create(&rs).await {
            Ok(created) => created,
            Err(e) if e.is_already_exists() => {
                // Ours already (a lagging cache) is fine; anyone else's is a collision.
                let existing = api.get(&name).await?;
                if controller_of(&existing.metadata).map(|r| r.uid.as_str()) != Some(d.uid()) {
                    return Err(Error::Invalid(format!(
                        "replica set {name:?} exists and is not owned by {}",
                        d.name()
                    )));
                }
                return Ok(Some(Arc::new(existing)));
            }
            Err(e) => return Err(e.into()),
        };
        tracing::info!(replicaset = name, replicas, "created new replica set");
        if replicas > 0 {
            self.event(
                d,
                EventType::Normal,
                "ScalingReplicaSet",
                format!("Scaled up replica set {name} from 0 to {replicas}"),
            );
        }
        Ok(Some(Arc::new(created)))
    }

    /// Sets a ReplicaSet's replicas (and the Deployment's replica annotations).
    async fn scale(&self, d: &Deployment, rs: &ReplicaSet, to: i64) -> Result<Arc<ReplicaSet>> {
        let from = spec_replicas(rs);
        let mut updated = rs.clone();
        updated.spec.get_or_insert_with(Default::default).replicas = Some(to as i32);
        updated.metadata.annotations = Some(Self::rs_annotations(d, rs.metadata.annotations.as_ref(), 0));
        if updated == *rs {
            return Ok(Arc::new(updated));
        }
        let written = self.replica_set_api(rs.namespace()).update(&updated).await?;
        if from != to {
            let direction = if to > from { "up" } else { "down" };
            let message = format!("Scaled {direction} replica set {} from {from} to {to}", rs.name());
            tracing::info!("{message}");
            self.event(d, EventType::Normal, "ScalingReplicaSet", message);
        }
        Ok(Arc::new(written))
    }

    /// RollingUpdate: one step of moving pods from the old ReplicaSets to the new one.
    async fn rolling_update(&self, d: &Deployment, all: &[Arc<ReplicaSet>]) -> Result<Vec<Arc<ReplicaSet>>> {
        let (new, old) = Self::split(d, all);
        let (surge, unavailable) = surge_and_unavailable(d);
        let replicas = desired(d);
        let first_size = |old: &[Arc<ReplicaSet>]| {
            // NewRSNewReplicas for a ReplicaSet that does not exist yet.
            let current: i64 = old.iter().map(|rs| spec_replicas(rs)).sum();
            (replicas + surge - current).clamp(0, replicas)
        };
        let Some(mut new) = self.new_replica_set(d, new, &old, true, first_size).await? else {
            return Ok(all.to_vec());
        };
        let mut old = old;

        // Scale the new ReplicaSet up within the surge (reconcileNewReplicaSet).
        let current = spec_replicas(&new);
        if current > replicas {
            new = self.scale(d, &new, replicas).await?;
        } else if current < replicas {
            let total: i64 = old.iter().map(|rs| spec_replicas(rs)).sum::<i64>() + current;
            let room = (replicas + surge - total).max(0);
            let to = current + room.min(replicas - current);
            if to != current {
                new = self.scale(d, &new, to).await?;
            }
        }

        // Scale the old ones down while enough pods stay available (reconcileOldReplicaSets).
        let old_count: i64 = old.iter().map(|rs| spec_replicas(rs)).sum();
        if old_count > 0 {
            let all_count = old_count + spec_replicas(&new);
            let min_available = replicas - unavailable;
            let new_unavailable = spec_replicas(&new) - status_available(&new);
            let mut budget = all_count - min_available - new_unavailable;
            // First the old pods that are not available anyway (cleanupUnhealthyReplicas).
            for rs in old.iter_mut() {
                if budget <= 0 {
                    break;
                }
                let unhealthy = spec_replicas(rs) - status_available(rs);
                if unhealthy <= 0 {
                    continue;
                }
                let down = unhealthy.min(budget);
                *rs = self.scale(d, rs, spec_replicas(rs) - down).await?;
                budget -= down;
            }
            // Then available ones, as far as availability allows.
            let available: i64 =
                old.iter().chain(std::iter::once(&new)).map(|rs| status_available(rs).min(spec_replicas(rs))).sum();
            let mut allowed = available - min_available;
            for rs in old.iter_mut() {
                if allowed <= 0 {
                    break;
                }
                if spec_replicas(rs) == 0 {
                    continue;
                }
                let down = spec_replicas(rs).min(allowed);
                *rs = self.scale(d, rs, spec_replicas(rs) - down).await?;
                allowed -= down;
            }
        }
        let mut result = old;
        result.push(new);
        Ok(result)
    }

    /// Recreate: old ReplicaSets to zero, wait for their pods to go, then the new one.
    async fn recreate(&self, d: &Deployment, all: &[Arc<ReplicaSet>]) -> Result<Vec<Arc<ReplicaSet>>> {
        let (new, mut old) = Self::split(d, all);
        let mut scaled = false;
        for rs in old.iter_mut() {
            if spec_replicas(rs) != 0 {
                *rs = self.scale(d, rs, 0).await?;
                scaled = true;
            }
        }
        let old_uids: Vec<&str> = old.iter().map(|rs| rs.uid()).collect();
        let old_pods_running = self.pods.store().list_namespace(d.namespace()).iter().any(|p| {
            controller_of(&p.metadata).is_some_and(|r| old_uids.contains(&r.uid.as_str())) && !api::pod::is_finished(p)
        });
        let old_active = old.iter().any(|rs| status_replicas(rs) > 0);
        let mut result = old.clone();
        if scaled || old_pods_running || old_active {
            // Never run old and new pods at once: wait for the old ones to be gone.
            result.extend(new);
            return Ok(result);
        }
        let replicas = desired(d);
        let Some(mut new) = self.new_replica_set(d, new, &old, true, |_| replicas).await? else {
            return Ok(result);
        };
        if spec_replicas(&new) != replicas {
            new = self.scale(d, &new, replicas).await?;
        }
        result.push(new);
        Ok(result)
    }

    /// A paused Deployment only follows `spec.replicas`: the new ReplicaSet (or
    /// the newest active one) takes the difference.
    async fn scale_only(&self, d: &Deployment, all: &[Arc<ReplicaSet>]) -> Result<Vec<Arc<ReplicaSet>>> {
        let (new, old) = Self::split(d, all);
        let new = self.new_replica_set(d, new, &old, false, |_| 0).await?;
        let mut result: Vec<Arc<ReplicaSet>> = old.clone();
        let active: Vec<&Arc<ReplicaSet>> = old.iter().filter(|rs| spec_replicas(rs) > 0).collect();
        let target = match &new {
            Some(n) if active.is_empty() || spec_replicas(n) > 0 => Some(n.clone()),
            _ if active.len() == 1 => Some(active[0].clone()),
            _ => None,
        };
        let others: i64 = all
            .iter()
            .filter(|rs| target.as_ref().is_none_or(|t| t.uid() != rs.uid()))
            .map(|rs| spec_replicas(rs))
            .sum();
        if let Some(t) = target {
            let to = (desired(d) - others).max(0);
            let scaled = if spec_replicas(&t) != to { self.scale(d, &t, to).await? } else { t.clone() };
            result.retain(|rs| rs.uid() != scaled.uid());
            result.push(scaled);
        }
        if let Some(n) = new {
            if !result.iter().any(|rs| rs.uid() == n.uid()) {
                result.push(n);
            }
        }
        Ok(result)
    }

    /// Deletes the oldest unused ReplicaSets beyond `revisionHistoryLimit`.
    async fn cleanup(&self, d: &Deployment, old: &[Arc<ReplicaSet>]) -> Result<()> {
        let limit = spec(d).revision_history_limit.unwrap_or(10).max(0) as usize;
        let mut unused: Vec<&Arc<ReplicaSet>> = old
            .iter()
            .filter(|rs| spec_replicas(rs) == 0 && status_replicas(rs) == 0)
            .filter(|rs| rs.metadata.deletion_timestamp.is_none())
            .collect();
        if unused.len() <= limit {
            return Ok(());
        }
        unused.sort_by_key(|rs| (revision(&rs.metadata), rs.metadata.creation_timestamp.as_ref().map(|t| t.0)));
        for rs in &unused[..unused.len() - limit] {
            tracing::info!(replicaset = rs.name(), "deleting old replica set beyond the revision history limit");
            match self.replica_set_api(rs.namespace()).delete(rs.name(), &DeleteParams::default()).await {
                Ok(_) => {}
                Err(e) if e.is_not_found() => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }

    /// The status Kubernetes computes from the ReplicaSets, with its conditions.
    fn calculate_status(&self, d: &Deployment, all: &[Arc<ReplicaSet>]) -> DeploymentStatus {
        let (new, _) = Self::split(d, all);
        let sum = |f: fn(&ReplicaSet) -> i64| all.iter().map(|rs| f(rs)).sum::<i64>();
        let total_spec: i64 = all.iter().map(|rs| spec_replicas(rs)).sum();
        let (replicas_now, available) = (sum(status_replicas), sum(status_available));
        let updated = new.as_ref().map(|n| status_replicas(n)).unwrap_or(0);
        // Zero counts are omitted, as Kubernetes' omitempty does.
        let mut status = DeploymentStatus {
            observed_generation: Some(d.metadata.generation.unwrap_or(0)),
            replicas: count(replicas_now),
            updated_replicas: count(updated),
            ready_replicas: count(sum(status_ready)),
            available_replicas: count(available),
            unavailable_replicas: count((total_spec - available).max(0)),
            ..Default::default()
        };
        let now = api::time::to_second(self.clock.now());
        let old_status = d.status.clone().unwrap_or_default();
        let old_conditions = old_status.conditions.clone().unwrap_or_default();
        let find = |t: &str| old_conditions.iter().find(|c| c.type_ == t).cloned();
        let condition = |t: &str, s: &str, reason: &str, message: String| {
            // lastTransitionTime moves only when the status flips; lastUpdateTime on any change.
            let prev = find(t);
            let transition = match &prev {
                Some(p) if p.status == s => p.last_transition_time.clone(),
                _ => Some(now.clone()),
            };
            let unchanged = prev
                .as_ref()
                .is_some_and(|p| p.reason.as_deref() == Some(reason) && p.message.as_deref() == Some(message.as_str()));
            let update = match &prev {
                Some(p) if unchanged => p.last_update_time.clone(),
                _ => Some(now.clone()),
            };
            DeploymentCondition {
                type_: t.into(),
                status: s.into(),
                last_update_time: update,
                last_transition_time: transition,
                reason: Some(reason.into()),
                message: Some(message),
            }
        };
        let replicas = desired(d);
        let available_condition = if available >= replicas - max_unavailable(d) {
            condition("Available", "True", "MinimumReplicasAvailable", "Deployment has minimum availability.".into())
        } else {
            condition(
                "Available",
                "False",
                "MinimumReplicasUnavailable",
                "Deployment does not have minimum availability.".into(),
            )
        };
        let new_name = new.as_ref().map(|n| n.name().to_string()).unwrap_or_default();
        let complete = updated == replicas
            && replicas_now == replicas
            && available == replicas
            && new.as_ref().is_some_and(|n| status_available(n) == replicas);
        let prev_progressing = find("Progressing");
        let progressing = if is_paused(d) {
            condition("Progressing", "Unknown", "DeploymentPaused", "Deployment is paused".into())
        } else if complete {
            condition(
                "Progressing",
                "True",
                "NewReplicaSetAvailable",
                format!("ReplicaSet \"{new_name}\" has successfully progressed."),
            )
        } else {
            let counts =
                |s: &DeploymentStatus| [s.replicas, s.updated_replicas, s.ready_replicas, s.available_replicas];
            let moved = counts(&status)
                .iter()
                .zip(counts(&old_status))
                .any(|(now, before)| now.unwrap_or(0) > before.unwrap_or(0));
            let deadline = spec(d).progress_deadline_seconds;
            let since = prev_progressing.as_ref().and_then(|c| c.last_update_time.as_ref()).map(|t| t.0);
            let timed_out = match (deadline, since) {
                (Some(secs), Some(t)) if !moved => crate::clock::add_secs(t, i64::from(secs)) < self.clock.now(),
                _ => false,
            };
            let exceeded =
                prev_progressing.as_ref().is_some_and(|c| c.reason.as_deref() == Some("ProgressDeadlineExceeded"));
            if timed_out || exceeded && !moved {
                condition(
                    "Progressing",
                    "False",
                    "ProgressDeadlineExceeded",
                    format!("ReplicaSet \"{new_name}\" has timed out progressing."),
                )
            } else {
                let mut c = condition(
                    "Progressing",
                    "True",
                    "ReplicaSetUpdated",
                    format!("ReplicaSet \"{new_name}\" is progressing."),
                );
                if moved {
                    c.last_update_time = Some(now.clone());
                }
                c
            }
        };
        status.conditions = Some(vec![available_condition, progressing]);
        status
    }

    /// Writes the Deployment's revision annotation (that of its new ReplicaSet), then its status.
    async fn write(&self, d: &Deployment, all: &[Arc<ReplicaSet>], status: DeploymentStatus) -> Result<()> {
        let api = Api::<Deployment>::namespaced(&self.client, d.namespace());
        let mut d = d.clone();
        let (new, _) = Self::split(&d, all);
        let new_revision = new.as_ref().and_then(|n| n.metadata.annotations.as_ref()?.get(REVISION).cloned());
        if let Some(rev) = new_revision {
            let annotations = d.metadata.annotations.get_or_insert_with(Default::default);
            if annotations.get(REVISION) != Some(&rev) {
                annotations.insert(REVISION.into(), rev);
                d = api.update(&d).await?;
            }
        }
        if d.status.as_ref() != Some(&status) {
            d.status = Some(status);
            match api.update_status(&d).await {
                Ok(_) => {}
                Err(e) if e.is_not_found() => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }

    fn deployment_changed(&self, change: &Change<Deployment>, queue: &WorkQueue) {
        if let Change::Added(d) | Change::Deleted(d) | Change::Updated { new: d, .. } = change {
            queue.add(key_of(d));
        }
    }

    /// A Recreate rollout waits for the old pods to be gone.
    fn pod_changed(&self, change: &Change<Pod>, queue: &WorkQueue) {
        let Change::Deleted(pod) = change else { return };
        let rs = controller_of(&pod.metadata).and_then(|r| self.replica_sets.store().get_in(pod.namespace(), &r.name));
        if let Some(rs) = rs {
            self.owners_of(&rs).into_iter().for_each(|k| queue.add(k));
        }
    }

    fn replica_set_changed(&self, change: &Change<ReplicaSet>, queue: &WorkQueue) {
        match change {
            Change::Added(rs) | Change::Deleted(rs) => self.owners_of(rs).into_iter().for_each(|k| queue.add(k)),
            Change::Updated { old, new } => {
                for key in self.owners_of(old).into_iter().chain(self.owners_of(new)) {
                    queue.add(key);
                }
            }
            Change::Resync => {}
        }
    }
}

#[async_trait::async_trait]
impl Controller for DeploymentController {
    fn name(&self) -> &'static str {
        "deployment"
    }

    fn watches(self: Arc<Self>) -> Vec<Watch> {
        vec![
            Watch::method(&self, &self.deployments, Self::deployment_changed),
            Watch::method(&self, &self.replica_sets, Self::replica_set_changed),
            Watch::method(&self, &self.pods, Self::pod_changed),
        ]
    }

    fn resync(&self, queue: &WorkQueue) {
        for key in self.deployments.store().keys() {
            queue.add(key);
        }
    }

    async fn reconcile(&self, key: &str) -> Result<Action> {
        let Some(d) = self.deployments.store().get(key) else { return Ok(Action::Done) };
        let selector = match Self::selector(&d) {
            Ok(s) if !s.is_empty() => s,
            // An empty selector would select every pod; Kubernetes refuses to act on it.
            _ => {
                tracing::warn!("deployment has an empty or invalid selector");
                return Ok(Action::Done);
            }
        };
        let all = self.claim_replica_sets(&d, &selector).await?;
        if d.metadata.deletion_timestamp.is_some() {
            let status = self.calculate_status(&d, &all);
            self.write(&d, &all, status).await?;
            return Ok(Action::Done);
        }
        let all = if is_paused(&d) {
            self.scale_only(&d, &all).await?
        } else if is_recreate(&d) {
            self.recreate(&d, &all).await?
        } else {
            self.rolling_update(&d, &all).await?
        };
        let status = self.calculate_status(&d, &all);
        let progressing = status.conditions.as_ref().and_then(|c| c.get(1));
        let complete = progressing.and_then(|c| c.reason.as_deref()) == Some("NewReplicaSetAvailable");
        if complete {
            let (_, old) = Self::split(&d, &all);
            self.cleanup(&d, &old).await?;
        }
        self.write(&d, &all, status).await?;
        // Look again when the progress deadline could pass, as Kubernetes requeues.
        match spec(&d).progress_deadline_seconds {
            Some(secs) if !complete && !is_paused(&d) => {
                Ok(Action::RequeueAfter(Duration::from_secs(secs.max(1) as u64)))
            }
            _ => Ok(Action::Done),
        }
    }
}

#[cfg(test)]
mod tests;
