//! The taint eviction controller: deletes pods from nodes with NoExecute taints
//! they do not tolerate, or tolerate only for a while, as Kubernetes' taint
//! eviction controller (formerly the node lifecycle's taint manager).
//!
//! For each NoExecute taint on the pod's node, the first of the pod's
//! tolerations that matches it decides: none matches, evict now; it has no
//! `tolerationSeconds`, never evict for that taint; else evict at the taint's
//! `timeAdded` plus those seconds. The pod goes at the earliest such time.
//! Counting from `timeAdded` (Kubernetes counts from when its taint manager
//! saw the taint) keeps the decision the same across restarts of this process.
//!
//! `--pod-eviction-timeout`: the apiserver gives every pod the DefaultTolerationSeconds
//! tolerations, `node.kubernetes.io/not-ready` and `node.kubernetes.io/unreachable`
//! (Exists, NoExecute) for 300 s. Such a toleration, one of those two keys with exactly
//! 300 seconds, is read as "the default" and lasts `--pod-eviction-timeout` instead
//! (300 s unless set; the compose cluster sets 10 s). Any other tolerationSeconds a
//! pod sets, shorter or longer, is honoured as written.

use crate::clock::{add_secs, Clock};
use crate::node_lifecycle::{NOT_READY, UNREACHABLE};
use crate::runner::{Action, Controller, Result, Watch};
use crate::Context;
use api::k8s_openapi::api::core::v1::{Node, Pod, Taint, Toleration};
use api::pod::node_name;
use client::events::reference_to;
use client::events::{EventRecorder, EventType};
use client::informer::{Change, SharedInformer};
use client::queue::WorkQueue;
use client::{Api, Client, DeleteParams, Object};
use jiff::Timestamp;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The tolerationSeconds the DefaultTolerationSeconds admission plugin writes.
const DEFAULT_TOLERATION_SECONDS: i64 = 300;

/// Kubernetes' `Toleration.ToleratesTaint`.
pub fn tolerates(toleration: &Toleration, taint: &Taint) -> bool {
    let effect = toleration.effect.as_deref().unwrap_or("");
    if !effect.is_empty() && effect != taint.effect {
        return false;
    }
    let key = toleration.key.as_deref().unwrap_or("");
    if !key.is_empty() && key != taint.key {
        return false;
    }
    match toleration.operator.as_deref().unwrap_or("Equal") {
        "Exists" => true,
        "Equal" => !key.is_empty() && toleration.value.as_deref().unwrap_or("") == taint.value.as_deref().unwrap_or(""),
        _ => false,
    }
}

/// When the pod must leave a node with these NoExecute taints; None: it may stay.
/// `added` gives each taint's start (its timeAdded, or when it was first seen).
pub fn eviction_time(
    pod: &Pod,
    taints: &[(Taint, Timestamp)],
    default_timeout: Duration,
    now: Timestamp,
) -> Option<Timestamp> {
    let tolerations = pod.spec.as_ref().and_then(|s| s.tolerations.as_deref()).unwrap_or_default();
    let mut earliest: Option<Timestamp> = None;
    for (taint, added) in taints {
        let Some(toleration) = tolerations.iter().find(|t| tolerates(t, taint)) else { return Some(now) };
        let Some(mut seconds) = toleration.toleration_seconds else { continue };
        let key = taint.key.as_str();
        if seconds == DEFAULT_TOLERATION_SECONDS && (key == UNREACHABLE || key == NOT_READY) {
            seconds = default_timeout.as_secs() as i64;
        }
        let at = add_secs(*added, seconds.max(0));
        earliest = Some(earliest.map_or(at, |e| e.min(at)));
    }
    earliest
}

pub struct TaintEvictionController {
    client: Client,
    nodes: Arc<SharedInformer<Node>>,
    pods: Arc<SharedInformer<Pod>>,
    clock: Clock,
    recorder: EventRecorder,
    default_timeout: Duration,
    period: Duration,
    /// When a taint without timeAdded was first seen, by node and taint key.
    first_seen: Mutex<HashMap<(String, String), Timestamp>>,
}

impl TaintEvictionController {
    pub fn new(ctx: &Context) -> Self {
        Self {
            client: ctx.client.clone(),
            nodes: ctx.factory.typed(),
            pods: ctx.factory.typed(),
            clock: ctx.clock.clone(),
            recorder: EventRecorder::new(ctx.client.clone(), "taint-eviction-controller", ""),
            default_timeout: ctx.config.pod_eviction_timeout,
            period: ctx.config.node_monitor_period,
            first_seen: Mutex::default(),
        }
    }

    fn no_execute_taints(&self, node: &Node) -> Vec<(Taint, Timestamp)> {
        let name = node.name();
        let taints = node.spec.as_ref().and_then(|s| s.taints.clone()).unwrap_or_default();
        let mut first_seen = self.first_seen.lock().expect("first-seen lock");
        first_seen.retain(|(n, key), _| n != name || taints.iter().any(|t| t.key == *key));
        taints
            .into_iter()
            .filter(|t| t.effect == "NoExecute")
            .map(|t| {
                let added = t.time_added.as_ref().map(|at| at.0).unwrap_or_else(|| {
                    let key = (name.to_string(), t.key.clone());
                    *first_seen.entry(key).or_insert_with(|| self.clock.now())
                });
                (t, added)
            })
            .collect()
    }

    async fn evict(&self, pod: &Pod) -> Result<()> {
        let (ns, name) = (pod.namespace(), pod.name());
        tracing::info!(pod = name, namespace = ns, "evicting pod from a tainted node");
        let params = DeleteParams { precondition_uid: pod.uid().into(), ..Default::default() };
        match Api::<Pod>::namespaced(&self.client, ns).delete(name, &params).await {
            Ok(_) => {
                let message = format!("Marking for deletion Pod {ns}/{name}");
                self.recorder.record(&reference_to(pod), EventType::Normal, "TaintManagerEviction", &message).await;
                Ok(())
            }
            Err(e) if e.is_not_found() => Ok(()),
            Err(e) => Err(e.into()),
        }
    }
}

#[async_trait::async_trait]
impl Controller for TaintEvictionController {
    fn name(&self) -> &'static str {
        "taint-eviction-controller"
    }

    fn watches(self: Arc<Self>) -> Vec<Watch> {
        vec![Watch::method(&self, &self.nodes, Self::node_changed), Watch::method(&self, &self.pods, Self::pod_changed)]
    }

    fn resync(&self, queue: &WorkQueue) {
        for node in self.nodes.store().list() {
            let taints = node.spec.as_ref().and_then(|s| s.taints.as_ref());
            if taints.is_some_and(|t| t.iter().any(|t| t.effect == "NoExecute")) {
                queue.add(node.name());
            }
        }
    }

    /// Toleration deadlines are wall-clock times: besides the exact requeue, look
    /// again every monitor period in case the clock moved differently.
    fn resync_period(&self) -> Option<Duration> {
        Some(self.period)
    }

    async fn reconcile(&self, key: &str) -> Result<Action> {
        let Some(node) = self.nodes.store().get(key) else { return Ok(Action::Done) };
        let taints = self.no_execute_taints(&node);
        if taints.is_empty() {
            return Ok(Action::Done);
        }
        let now = self.clock.now();
        let mut next = Action::Done;
        let pods = self.pods.store().list();
        for pod in pods.iter().filter(|p| node_name(p) == key && p.metadata.deletion_timestamp.is_none()) {
            match eviction_time(pod, &taints, self.default_timeout, now) {
                None => {}
                Some(at) if at <= now => self.evict(pod).await?,
                Some(at) => {
                    tracing::debug!(pod = pod.name(), at = %api::time::format(at), "pod will be evicted");
                    next = next.min(Action::RequeueAfter(self.clock.until(at)));
                }
            }
        }
        Ok(next)
    }
}

impl TaintEvictionController {
    fn node_changed(&self, change: &Change<Node>, queue: &WorkQueue) {
        if let Change::Added(n) | Change::Updated { new: n, .. } = change {
            queue.add(n.name());
        }
    }

    fn pod_changed(&self, change: &Change<Pod>, queue: &WorkQueue) {
        if let Change::Added(p) | Change::Updated { new: p, .. } = change {
            let node = node_name(p);
            if !node.is_empty() && p.metadata.deletion_timestamp.is_none() {
                queue.add(node);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    fn taint(key: &str, added: Timestamp) -> (Taint, Timestamp) {
        let taint = json!({"key": key, "effect": "NoExecute", "timeAdded": api::time::format(added)});
        (serde_json::from_value(taint).unwrap(), added)
    }

    fn pod(tolerations: Value) -> Pod {
        serde_json::from_value(json!({"spec": {"tolerations": tolerations}})).unwrap()
    }

    /// A toleration or a taint, from its JSON.
    fn typed<T: api::k8s_openapi::serde::de::DeserializeOwned>(v: Value) -> T {
        serde_json::from_value(v).unwrap()
    }

    /// What the apiserver's defaulting gives every pod.
    fn default_tolerations() -> Value {
        json!([
            {"key": NOT_READY, "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300},
            {"key": UNREACHABLE, "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300},
        ])
    }

    #[test]
    fn default_tolerations_last_the_pod_eviction_timeout() {
        let t0: Timestamp = "2024-01-01T12:00:00Z".parse().unwrap();
        let taints = [taint(UNREACHABLE, t0)];
        let at = eviction_time(&pod(default_tolerations()), &taints, Duration::from_secs(10), t0);
        assert_eq!(at, Some(add_secs(t0, 10)));
        let at = eviction_time(&pod(default_tolerations()), &taints, Duration::from_secs(300), t0);
        assert_eq!(at, Some(add_secs(t0, 300)), "the default timeout is Kubernetes' 300 s");
    }

    #[test]
    fn explicit_tolerations_are_honoured_as_written() {
        let t0: Timestamp = "2024-01-01T12:00:00Z".parse().unwrap();
        let taints = [taint(UNREACHABLE, t0)];
        let short = json!([{"key": UNREACHABLE, "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 5}]);
        assert_eq!(eviction_time(&pod(short), &taints, Duration::from_secs(10), t0), Some(add_secs(t0, 5)));
        let long =
            json!([{"key": UNREACHABLE, "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 3600}]);
        assert_eq!(eviction_time(&pod(long), &taints, Duration::from_secs(10), t0), Some(add_secs(t0, 3600)));
        let forever = json!([{"operator": "Exists"}]);
        assert_eq!(eviction_time(&pod(forever), &taints, Duration::from_secs(10), t0), None);
        assert_eq!(eviction_time(&pod(json!([])), &taints, Duration::from_secs(10), t0), Some(t0), "not tolerated");
    }

    #[test]
    fn tolerations_match_as_in_kubernetes() {
        let taint: Taint = typed(json!({"key": "gpu", "value": "true", "effect": "NoExecute"}));
        assert!(tolerates(&typed(json!({"key": "gpu", "operator": "Equal", "value": "true"})), &taint));
        assert!(tolerates(&typed(json!({"key": "gpu", "value": "true", "effect": "NoExecute"})), &taint));
        assert!(!tolerates(&typed(json!({"key": "gpu", "value": "false"})), &taint));
        assert!(!tolerates(&typed(json!({"key": "gpu", "operator": "Exists", "effect": "NoSchedule"})), &taint));
        assert!(
            tolerates(&typed(json!({"operator": "Exists"})), &taint),
            "an empty key with Exists tolerates everything"
        );
    }
}
