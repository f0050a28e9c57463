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

use crate::clock::{format_time, Clock};
use crate::pods::json::controller_of;
use crate::pods::{self, controller_ref};
use crate::runner::{Action, Controller, Error, Result};
use crate::Context;
use api::selector::LabelSelector;
use api::{meta, registry, ResourceInfo};
use client::events::{EventRecorder, EventType};
use client::informer::{Change, SharedInformer};
use client::queue::WorkQueue;
use client::watcher::key_of;
use client::{Client, DeleteParams};
use serde_json::{json, Value};
use std::cmp::Ordering;
use std::sync::Arc;
use std::time::Duration;

pub const HASH_LABEL: &str = "pod-template-hash";
pub const REVISION: &str = "deployment.kubernetes.io/revision";
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

pub fn deployments() -> &'static ResourceInfo {
    registry::lookup("deployments").expect("deployments are registered")
}

pub fn replica_sets() -> &'static ResourceInfo {
    registry::lookup("replicasets").expect("replicasets are registered")
}

/// Resolves an IntOrString against `total`: a percentage rounds up for surge
/// and down for unavailability, as Kubernetes' GetScaledValueFromIntOrPercent.
pub fn scaled_value(v: &Value, total: i64, round_up: bool) -> i64 {
    match v {
        Value::Number(n) => n.as_i64().unwrap_or(0),
        Value::String(s) => match s.strip_suffix('%').and_then(|p| p.parse::<i64>().ok()) {
            Some(p) if round_up => (p * total + 99) / 100,
            Some(p) => p * total / 100,
            None => s.parse().unwrap_or(0),
        },
        _ => 0,
    }
}

/// `(maxSurge, maxUnavailable)` of a RollingUpdate Deployment; both zero is
/// read as one unavailable, so a rollout can always move (ResolveFenceposts).
pub fn surge_and_unavailable(d: &Value) -> (i64, i64) {
    let replicas = desired(d);
    let ru = &d["spec"]["strategy"]["rollingUpdate"];
    let surge = scaled_value(ru.get("maxSurge").unwrap_or(&json!("25%")), replicas, true);
    let unavailable = scaled_value(ru.get("maxUnavailable").unwrap_or(&json!("25%")), replicas, false);
    if surge == 0 && unavailable == 0 {
        (0, 1)
    } else {
        (surge, unavailable)
    }
}

fn desired(d: &Value) -> i64 {
    d["spec"]["replicas"].as_i64().unwrap_or(1)
}

fn is_recreate(d: &Value) -> bool {
    d["spec"]["strategy"]["type"] == "Recreate"
}

/// The max unavailable a Deployment tolerates (0 for Recreate), capped at its replicas.
fn max_unavailable(d: &Value) -> i64 {
    if is_recreate(d) || desired(d) == 0 {
        return 0;
    }
    surge_and_unavailable(d).1.min(desired(d))
}

fn spec_replicas(rs: &Value) -> i64 {
    rs["spec"]["replicas"].as_i64().unwrap_or(0)
}

fn status_count(rs: &Value, field: &str) -> i64 {
    rs["status"][field].as_i64().unwrap_or(0)
}

pub fn revision(rs: &Value) -> i64 {
    rs["metadata"]["annotations"][REVISION].as_str().and_then(|s| s.parse().ok()).unwrap_or(0)
}

/// FNV-1a over the template's canonical JSON (keys sorted at every level),
/// written with Kubernetes' SafeEncodeString alphabet, which avoids vowels
/// and look-alike characters so a hash never spells a word.
pub fn template_hash(template: &Value) -> String {
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
    canonical(template, &mut text);
    let mut hash: u32 = 0x811c_9dc5;
    for b in text.bytes() {
        hash ^= u32::from(b);
        hash = hash.wrapping_mul(0x0100_0193);
    }
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    hash.to_string().bytes().map(|b| ALPHABET[usize::from(b) % ALPHABET.len()] as char).collect()
}

/// A template without the hash label, for comparing a ReplicaSet's template
/// with the Deployment's (EqualIgnoreHash).
fn without_hash(template: &Value) -> Value {
    let mut t = template.clone();
    if let Some(labels) = t["metadata"]["labels"].as_object_mut() {
        labels.remove(HASH_LABEL);
        if labels.is_empty() {
            t["metadata"].as_object_mut().map(|m| m.remove("labels"));
        }
    }
    t
}

/// Oldest first; ties by name, as Kubernetes' ReplicaSetsByCreationTimestamp.
fn by_creation(a: &Arc<Value>, b: &Arc<Value>) -> Ordering {
    meta::creation_timestamp(a).cmp(meta::creation_timestamp(b)).then_with(|| meta::name(a).cmp(meta::name(b)))
}

pub struct DeploymentController {
    deployments: Arc<SharedInformer>,
    replica_sets: Arc<SharedInformer>,
    pods: Arc<SharedInformer>,
    client: Client,
    clock: Clock,
    recorder: Option<EventRecorder>,
}

impl DeploymentController {
    pub fn new(ctx: &Context) -> Self {
        let mut c = Self::with(
            ctx.factory.informer(deployments()),
            ctx.factory.informer(replica_sets()),
            ctx.factory.informer(pods::pods()),
            ctx.client.clone(),
            ctx.clock.clone(),
        );
        c.recorder = Some(EventRecorder::new(ctx.client.clone(), "deployment-controller", ""));
        c
    }

    /// A controller over the given caches, recording no Events (for tests).
    pub fn with(
        deployments: Arc<SharedInformer>,
        replica_sets: Arc<SharedInformer>,
        pods: Arc<SharedInformer>,
        client: Client,
        clock: Clock,
    ) -> Self {
        Self { deployments, replica_sets, pods, client, clock, recorder: None }
    }

    fn event(&self, d: &Value, kind: EventType, reason: &'static str, message: String) {
        if let Some(recorder) = self.recorder.clone() {
            let d = d.clone();
            tokio::spawn(async move { recorder.record(&d, kind, reason, &message).await });
        }
    }

    fn selector(d: &Value) -> Result<LabelSelector> {
        LabelSelector::from_json(Some(&d["spec"]["selector"])).map_err(|e| Error::Invalid(e.message))
    }

    /// The Deployment a ReplicaSet belongs to, or the ones that could adopt an orphan.
    fn owners_of(&self, rs: &Value) -> Vec<String> {
        let ns = meta::namespace(rs);
        if let Some(r) = controller_of(rs) {
            if r["kind"] != "Deployment" {
                return vec![];
            }
            return match self.deployments.store().get_in(ns, r["name"].as_str().unwrap_or_default()) {
                Some(d) if r["uid"] == meta::uid(&d) => vec![key_of(&d)],
                _ => vec![],
            };
        }
        let labels = meta::labels(rs);
        let all = self.deployments.store().list_namespace(ns);
        all.iter()
            .filter(|d| Self::selector(d).is_ok_and(|s| !s.is_empty() && s.matches(&labels)))
            .map(key_of)
            .collect()
    }

    /// The ReplicaSets this Deployment controls, adopting matching orphans.
    async fn claim_replica_sets(&self, d: &Value, selector: &LabelSelector) -> Result<Vec<Arc<Value>>> {
        let mut owned = Vec::new();
        for rs in self.replica_sets.store().list_namespace(meta::namespace(d)) {
            match controller_of(&rs) {
                Some(r) if r["uid"] == meta::uid(d) => owned.push(rs),
                Some(_) => {}
                None if meta::deletion_timestamp(d).is_none()
                    && meta::deletion_timestamp(&rs).is_none()
                    && selector.matches(&meta::labels(&rs)) =>
                {
                    let patch = json!({"metadata": {
                        "ownerReferences": [controller_ref(d)],
                        "resourceVersion": meta::resource_version(&rs),
                    }});
                    let (ns, name) = (meta::namespace(&rs), meta::name(&rs));
                    match self.client.patch(replica_sets(), ns, name, client::PatchType::StrategicMerge, &patch).await {
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
    fn split(d: &Value, all: &[Arc<Value>]) -> (Option<Arc<Value>>, Vec<Arc<Value>>) {
        let template = without_hash(&d["spec"]["template"]);
        // The oldest match wins, as Kubernetes picks when several look alike.
        let new = all.iter().find(|rs| without_hash(&rs["spec"]["template"]) == template).cloned();
        let old = all.iter().filter(|rs| new.as_ref().is_none_or(|n| meta::uid(n) != meta::uid(rs))).cloned().collect();
        (new, old)
    }

    /// The annotations a ReplicaSet of `d` carries: the Deployment's own
    /// (change-cause among them), its revision and the replica counts.
    fn rs_annotations(d: &Value, existing: &Value, revision: i64) -> serde_json::Map<String, Value> {
        let mut annotations = existing.as_object().cloned().unwrap_or_default();
        if let Some(own) = d["metadata"]["annotations"].as_object() {
            for (k, v) in own {
                if !NOT_COPIED.contains(&k.as_str()) {
                    annotations.insert(k.clone(), v.clone());
                }
            }
        }
        let current: i64 = annotations.get(REVISION).and_then(Value::as_str).and_then(|s| s.parse().ok()).unwrap_or(0);
        if current < revision {
            annotations.insert(REVISION.into(), revision.to_string().into());
        }
        let max = desired(d) + if is_recreate(d) { 0 } else { surge_and_unavailable(d).0 };
        annotations.insert(DESIRED_REPLICAS.into(), desired(d).to_string().into());
        annotations.insert(MAX_REPLICAS.into(), max.to_string().into());
        annotations
    }

    /// Finds or creates the new ReplicaSet and keeps its revision above every
    /// old one's (a rolled-back template becomes the newest revision again).
    async fn new_replica_set(
        &self,
        d: &Value,
        new: Option<Arc<Value>>,
        old: &[Arc<Value>],
        create: bool,
        initial: impl Fn(&[Arc<Value>]) -> i64,
    ) -> Result<Option<Arc<Value>>> {
        let next_revision = old.iter().map(|rs| revision(rs)).max().unwrap_or(0) + 1;
        let ns = meta::namespace(d);
        if let Some(rs) = new {
            let annotations = Self::rs_annotations(d, &rs["metadata"]["annotations"], next_revision);
            let min_ready = &d["spec"]["minReadySeconds"];
            let same_ready = rs["spec"]["minReadySeconds"].as_i64().unwrap_or(0) == min_ready.as_i64().unwrap_or(0);
            if rs["metadata"]["annotations"].as_object() == Some(&annotations) && same_ready {
                return Ok(Some(rs));
            }
            let mut updated = (*rs).clone();
            updated["metadata"]["annotations"] = annotations.into();
            updated["spec"]["minReadySeconds"] = min_ready.as_i64().unwrap_or(0).into();
            return Ok(Some(Arc::new(self.client.update(replica_sets(), ns, &updated).await?)));
        }
        if !create {
            return Ok(None);
        }
        let mut template = d["spec"]["template"].clone();
        let hash = template_hash(&template);
        template["metadata"]["labels"][HASH_LABEL] = hash.clone().into();
        let mut selector = d["spec"]["selector"].clone();
        selector["matchLabels"][HASH_LABEL] = hash.clone().into();
        let mut labels = template["metadata"]["labels"].clone();
        labels[HASH_LABEL] = hash.clone().into();
        let name = format!("{}-{hash}", meta::name(d));
        let replicas = initial(old);
        let rs = json!({
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "metadata": {
                "name": name,
                "namespace": ns,
                "labels": labels,
                "annotations": Self::rs_annotations(d, &Value::Null, next_revision),
                "ownerReferences": [controller_ref(d)],
            },
            "spec": {
                "replicas": replicas,
                "minReadySeconds": d["spec"]["minReadySeconds"].as_i64().unwrap_or(0),
                "selector": selector,
                "template": template,
            },
        });
        let created = match self.client.create(replica_sets(), ns, &rs).await {
            Ok(created) => created,
            Err(e) if e.is_already_exists() => {
                // Ours already (a lagging cache) is fine; anyone else's is a collision.
                let existing = self.client.get(replica_sets(), ns, &name).await?;
                if controller_of(&existing).and_then(|r| r["uid"].as_str()) != Some(meta::uid(d)) {
                    return Err(Error::Invalid(format!(
                        "replica set {name:?} exists and is not owned by {}",
                        meta::name(d)
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
    async fn scale(&self, d: &Value, rs: &Value, to: i64) -> Result<Arc<Value>> {
        let from = spec_replicas(rs);
        let mut updated = rs.clone();
        updated["spec"]["replicas"] = to.into();
        let annotations = Self::rs_annotations(d, &rs["metadata"]["annotations"], 0);
        updated["metadata"]["annotations"] = annotations.into();
        if updated == *rs {
            return Ok(Arc::new(updated));
        }
        let written = self.client.update(replica_sets(), meta::namespace(rs), &updated).await?;
        if from != to {
            let direction = if to > from { "up" } else { "down" };
            let message = format!("Scaled {direction} replica set {} from {from} to {to}", meta::name(rs));
            tracing::info!("{message}");
            self.event(d, EventType::Normal, "ScalingReplicaSet", message);
        }
        Ok(Arc::new(written))
    }

    /// RollingUpdate: one step of moving pods from the old ReplicaSets to the new one.
    async fn rolling_update(&self, d: &Value, all: &[Arc<Value>]) -> Result<Vec<Arc<Value>>> {
        let (new, old) = Self::split(d, all);
        let (surge, unavailable) = surge_and_unavailable(d);
        let replicas = desired(d);
        let first_size = |old: &[Arc<Value>]| {
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
            let new_unavailable = spec_replicas(&new) - status_count(&new, "availableReplicas");
            let mut budget = all_count - min_available - new_unavailable;
            // First the old pods that are not available anyway (cleanupUnhealthyReplicas).
            for rs in old.iter_mut() {
                if budget <= 0 {
                    break;
                }
                let unhealthy = spec_replicas(rs) - status_count(rs, "availableReplicas");
                if unhealthy <= 0 {
                    continue;
                }
                let down = unhealthy.min(budget);
                *rs = self.scale(d, rs, spec_replicas(rs) - down).await?;
                budget -= down;
            }
            // Then available ones, as far as availability allows.
            let available: i64 = old
                .iter()
                .chain(std::iter::once(&new))
                .map(|rs| status_count(rs, "availableReplicas").min(spec_replicas(rs)))
                .sum();
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
    async fn recreate(&self, d: &Value, all: &[Arc<Value>]) -> Result<Vec<Arc<Value>>> {
        let (new, mut old) = Self::split(d, all);
        let mut scaled = false;
        for rs in old.iter_mut() {
            if spec_replicas(rs) != 0 {
                *rs = self.scale(d, rs, 0).await?;
                scaled = true;
            }
        }
        let old_uids: Vec<&str> = old.iter().map(|rs| meta::uid(rs)).collect();
        let old_pods_running = self.pods.store().list_namespace(meta::namespace(d)).iter().any(|p| {
            controller_of(p).and_then(|r| r["uid"].as_str()).is_some_and(|u| old_uids.contains(&u))
                && !matches!(p["status"]["phase"].as_str(), Some("Succeeded" | "Failed"))
        });
        let old_active = old.iter().any(|rs| status_count(rs, "replicas") > 0);
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
    async fn scale_only(&self, d: &Value, all: &[Arc<Value>]) -> Result<Vec<Arc<Value>>> {
        let (new, old) = Self::split(d, all);
        let new = self.new_replica_set(d, new, &old, false, |_| 0).await?;
        let mut result: Vec<Arc<Value>> = old.clone();
        let active: Vec<&Arc<Value>> = old.iter().filter(|rs| spec_replicas(rs) > 0).collect();
        let target = match &new {
            Some(n) if active.is_empty() || spec_replicas(n) > 0 => Some(n.clone()),
            _ if active.len() == 1 => Some(active[0].clone()),
            _ => None,
        };
        let others: i64 = all
            .iter()
            .filter(|rs| target.as_ref().is_none_or(|t| meta::uid(t) != meta::uid(rs)))
            .map(|rs| spec_replicas(rs))
            .sum();
        if let Some(t) = target {
            let to = (desired(d) - others).max(0);
            let scaled = if spec_replicas(&t) != to { self.scale(d, &t, to).await? } else { t.clone() };
            result.retain(|rs| meta::uid(rs) != meta::uid(&scaled));
            result.push(scaled);
        }
        if let Some(n) = new {
            if !result.iter().any(|rs| meta::uid(rs) == meta::uid(&n)) {
                result.push(n);
            }
        }
        Ok(result)
    }

    /// Deletes the oldest unused ReplicaSets beyond `revisionHistoryLimit`.
    async fn cleanup(&self, d: &Value, old: &[Arc<Value>]) -> Result<()> {
        let limit = d["spec"]["revisionHistoryLimit"].as_i64().unwrap_or(10).max(0) as usize;
        let mut unused: Vec<&Arc<Value>> = old
            .iter()
            .filter(|rs| spec_replicas(rs) == 0 && status_count(rs, "replicas") == 0)
            .filter(|rs| meta::deletion_timestamp(rs).is_none())
            .collect();
        if unused.len() <= limit {
            return Ok(());
        }
        unused.sort_by_key(|rs| (revision(rs), meta::creation_timestamp(rs).to_string()));
        for rs in &unused[..unused.len() - limit] {
            tracing::info!(replicaset = meta::name(rs), "deleting old replica set beyond the revision history limit");
            match self
                .client
                .delete(replica_sets(), meta::namespace(rs), meta::name(rs), &DeleteParams::default())
                .await
            {
                Ok(_) => {}
                Err(e) if e.is_not_found() => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }

    /// The status Kubernetes computes from the ReplicaSets, with its conditions.
    fn calculate_status(&self, d: &Value, all: &[Arc<Value>]) -> Value {
        let (new, _) = Self::split(d, all);
        let sum = |f: &str| all.iter().map(|rs| status_count(rs, f)).sum::<i64>();
        let total_spec: i64 = all.iter().map(|rs| spec_replicas(rs)).sum();
        let available = sum("availableReplicas");
        let updated = new.as_ref().map(|n| status_count(n, "replicas")).unwrap_or(0);
        let mut status = json!({
            "observedGeneration": d["metadata"]["generation"].as_i64().unwrap_or(0),
            "replicas": sum("replicas"),
            "updatedReplicas": updated,
            "readyReplicas": sum("readyReplicas"),
            "availableReplicas": available,
            "unavailableReplicas": (total_spec - available).max(0),
        });
        // Zero counts are omitted, as Kubernetes' omitempty does.
        if let Some(m) = status.as_object_mut() {
            m.retain(|k, v| k == "observedGeneration" || v.as_i64() != Some(0));
        }
        let now = format_time(self.clock.now());
        let old_conditions = d["status"]["conditions"].as_array().cloned().unwrap_or_default();
        let find = |t: &str| old_conditions.iter().find(|c| c["type"] == t).cloned();
        let condition = |t: &str, s: &str, reason: &str, message: String| {
            // lastTransitionTime moves only when the status flips; lastUpdateTime on any change.
            let prev = find(t);
            let transition = match &prev {
                Some(p) if p["status"] == s => p["lastTransitionTime"].clone(),
                _ => now.clone().into(),
            };
            let unchanged = prev.as_ref().is_some_and(|p| p["reason"] == reason && p["message"] == message.as_str());
            let update = match &prev {
                Some(p) if unchanged => p["lastUpdateTime"].clone(),
                _ => now.clone().into(),
            };
            json!({"type": t, "status": s, "lastUpdateTime": update, "lastTransitionTime": transition,
                   "reason": reason, "message": message})
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
        let new_name = new.as_ref().map(|n| meta::name(n).to_string()).unwrap_or_default();
        let complete = updated == replicas
            && status_count(&json!({"status": status}), "replicas") == replicas
            && available == replicas
            && new.as_ref().is_some_and(|n| status_count(n, "availableReplicas") == replicas);
        let prev_progressing = find("Progressing");
        let progressing = if d["spec"]["paused"] == true {
            condition("Progressing", "Unknown", "DeploymentPaused", "Deployment is paused".into())
        } else if complete {
            condition(
                "Progressing",
                "True",
                "NewReplicaSetAvailable",
                format!("ReplicaSet \"{new_name}\" has successfully progressed."),
            )
        } else {
            let moved = ["replicas", "updatedReplicas", "readyReplicas", "availableReplicas"]
                .iter()
                .any(|f| status[f].as_i64().unwrap_or(0) > d["status"][f].as_i64().unwrap_or(0));
            let deadline = d["spec"]["progressDeadlineSeconds"].as_i64();
            let since = prev_progressing.as_ref().and_then(|c| crate::clock::parse_time(&c["lastUpdateTime"]));
            let timed_out = match (deadline, since) {
                (Some(secs), Some(t)) if !moved => crate::clock::add_secs(t, secs) < self.clock.now(),
                _ => false,
            };
            if timed_out
                || prev_progressing.as_ref().is_some_and(|c| c["reason"] == "ProgressDeadlineExceeded") && !moved
            {
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
                    c["lastUpdateTime"] = now.clone().into();
                }
                c
            }
        };
        status["conditions"] = json!([available_condition, progressing]);
        status
    }

    /// Writes the Deployment's revision annotation (that of its new ReplicaSet), then its status.
    async fn write(&self, d: &Value, all: &[Arc<Value>], status: Value) -> Result<()> {
        let ns = meta::namespace(d);
        let mut d = d.clone();
        let (new, _) = Self::split(&d, all);
        if let Some(rev) = new.as_ref().and_then(|n| n["metadata"]["annotations"][REVISION].as_str()) {
            if d["metadata"]["annotations"][REVISION].as_str() != Some(rev) {
                d["metadata"]["annotations"][REVISION] = rev.into();
                d = self.client.update(deployments(), ns, &d).await?;
            }
        }
        if d["status"] != status {
            d["status"] = status;
            match self.client.update_status(deployments(), ns, &d).await {
                Ok(_) => {}
                Err(e) if e.is_not_found() => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }
}

#[async_trait::async_trait]
impl Controller for DeploymentController {
    fn name(&self) -> &'static str {
        "deployment"
    }

    fn informers(&self) -> Vec<Arc<SharedInformer>> {
        vec![self.deployments.clone(), self.replica_sets.clone(), self.pods.clone()]
    }

    fn handle(&self, resource: &'static ResourceInfo, change: &Change, queue: &WorkQueue) {
        match (resource.kind, change) {
            ("Deployment", Change::Added(d) | Change::Deleted(d) | Change::Updated { new: d, .. }) => {
                queue.add(key_of(d))
            }
            ("ReplicaSet", Change::Added(rs) | Change::Deleted(rs)) => {
                self.owners_of(rs).into_iter().for_each(|k| queue.add(k))
            }
            ("ReplicaSet", Change::Updated { old, new }) => {
                for key in self.owners_of(old).into_iter().chain(self.owners_of(new)) {
                    queue.add(key);
                }
            }
            // A Recreate rollout waits for the old pods to be gone.
            ("Pod", Change::Deleted(pod)) => {
                let ns = meta::namespace(pod);
                let rs = controller_of(pod).and_then(|r| self.replica_sets.store().get_in(ns, r["name"].as_str()?));
                if let Some(rs) = rs {
                    self.owners_of(&rs).into_iter().for_each(|k| queue.add(k));
                }
            }
            _ => {}
        }
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
        if meta::deletion_timestamp(&d).is_some() {
            let status = self.calculate_status(&d, &all);
            self.write(&d, &all, status).await?;
            return Ok(Action::Done);
        }
        let all = if d["spec"]["paused"] == true {
            self.scale_only(&d, &all).await?
        } else if is_recreate(&d) {
            self.recreate(&d, &all).await?
        } else {
            self.rolling_update(&d, &all).await?
        };
        let status = self.calculate_status(&d, &all);
        let complete = status["conditions"][1]["reason"] == "NewReplicaSetAvailable";
        if complete {
            let (_, old) = Self::split(&d, &all);
            self.cleanup(&d, &old).await?;
        }
        self.write(&d, &all, status).await?;
        // Look again when the progress deadline could pass, as Kubernetes requeues.
        match d["spec"]["progressDeadlineSeconds"].as_i64() {
            Some(secs) if !complete && d["spec"]["paused"] != true => {
                Ok(Action::RequeueAfter(Duration::from_secs(secs.max(1) as u64)))
            }
            _ => Ok(Action::Done),
        }
    }
}

#[cfg(test)]
mod tests;
