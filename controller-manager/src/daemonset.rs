//! The DaemonSet controller, as Kubernetes' pkg/controller/daemon: one pod on
//! every node the DaemonSet's pod template fits.
//!
//! A node should run the daemon pod when the template's `nodeSelector` and
//! required node affinity match it and the pod tolerates its NoSchedule and
//! NoExecute taints (with the tolerations Kubernetes adds to every daemon
//! pod: not-ready, unreachable, disk/memory/pid-pressure, unschedulable). A
//! pod already there may stay while only NoSchedule taints are untolerated.
//!
//! Each reconcile creates the missing pods, deletes pods on nodes that should
//! not run them and duplicates, and rolls template changes out: pods whose
//! `controller-revision-hash` label differs from the template's are deleted
//! (unavailable ones at once, available ones while fewer than `maxUnavailable`
//! nodes lack an available pod) and recreated by the next pass.
//!
//! As modern Kubernetes, pods are not bound here: each gets a required node
//! affinity `matchFields metadata.name In [node]` and the scheduler places it.
//!
//! Simplification: revisions are not stored as ControllerRevision objects; the
//! hash is computed from the template (the Deployment controller's hash).

use crate::clock::Clock;
use crate::deployment::{scaled_value, template_hash};
use crate::expectations::Expectations;
use crate::pods::{is_available, labels, ApiPodControl, Owner, PodControl};
use crate::runner::{Action, Controller, Result, Watch};
use crate::Context;
use api::k8s_openapi;
use api::pod::{controller_of, is_active, is_ready};
use client::informer::{Change, SharedInformer};
use client::queue::WorkQueue;
use client::watcher::key_of;
use client::{Api, Client, Object};
use k8s_openapi::api::apps::v1::{DaemonSet, DaemonSetStatus};
use k8s_openapi::api::core::v1::{
    Node, NodeSelector, NodeSelectorRequirement, NodeSelectorTerm, Pod, PodSpec, PodTemplateSpec, Taint, Toleration,
};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

pub const REVISION_HASH: &str = "controller-revision-hash";

/// The tolerations Kubernetes adds to every daemon pod (AddOrUpdateDaemonPodTolerations).
pub fn default_tolerations() -> Vec<Toleration> {
    let t = |key: &str, effect: &str| Toleration {
        key: Some(key.into()),
        operator: Some("Exists".into()),
        effect: Some(effect.into()),
        ..Default::default()
    };
    vec![
        t("node.kubernetes.io/not-ready", "NoExecute"),
        t("node.kubernetes.io/unreachable", "NoExecute"),
        t("node.kubernetes.io/disk-pressure", "NoSchedule"),
        t("node.kubernetes.io/memory-pressure", "NoSchedule"),
        t("node.kubernetes.io/pid-pressure", "NoSchedule"),
        t("node.kubernetes.io/unschedulable", "NoSchedule"),
    ]
}

fn tolerates(toleration: &Toleration, taint: &Taint) -> bool {
    let effect = toleration.effect.as_deref().unwrap_or("");
    if !effect.is_empty() && taint.effect != effect {
        return false;
    }
    let key = toleration.key.as_deref().unwrap_or("");
    if !key.is_empty() && taint.key != key {
        return false;
    }
    match toleration.operator.as_deref().unwrap_or("Equal") {
        "Exists" => true,
        _ => !key.is_empty() && toleration.value.as_deref().unwrap_or("") == taint.value.as_deref().unwrap_or(""),
    }
}

/// One nodeSelectorTerm's expression against a node's labels (or fields).
fn expression_matches(expr: &NodeSelectorRequirement, values: &BTreeMap<String, String>) -> bool {
    let wanted: Vec<&str> = expr.values.iter().flatten().map(String::as_str).collect();
    let have = values.get(&expr.key).map(String::as_str);
    match expr.operator.as_str() {
        "In" => have.is_some_and(|v| wanted.contains(&v)),
        "NotIn" => have.is_none_or(|v| !wanted.contains(&v)),
        "Exists" => have.is_some(),
        "DoesNotExist" => have.is_none(),
        op @ ("Gt" | "Lt") => {
            let (Some(v), Some(w)) =
                (have.and_then(|v| v.parse::<i64>().ok()), wanted.first().and_then(|w| w.parse::<i64>().ok()))
            else {
                return false;
            };
            if op == "Gt" {
                v > w
            } else {
                v < w
            }
        }
        _ => false,
    }
}

/// The required node affinity of a pod spec, if any.
fn required_terms(spec: &PodSpec) -> Option<&[NodeSelectorTerm]> {
    let affinity = spec.affinity.as_ref()?.node_affinity.as_ref()?;
    affinity.required_during_scheduling_ignored_during_execution.as_ref().map(|s| s.node_selector_terms.as_slice())
}

/// Whether a pod template fits a node: nodeSelector and required node affinity.
pub fn selects_node(template_spec: &PodSpec, node: &Node) -> bool {
    let labels = labels(&node.metadata);
    let selector = template_spec.node_selector.iter().flatten();
    if !selector.into_iter().all(|(k, v)| labels.get(k) == Some(v)) {
        return false;
    }
    let Some(terms) = required_terms(template_spec) else { return true };
    let fields = BTreeMap::from([("metadata.name".to_string(), node.name().to_string())]);
    // Terms are ORed; the expressions of one term are ANDed; an empty term matches nothing.
    terms.iter().any(|term| {
        let exprs = term.match_expressions.as_deref().unwrap_or(&[]);
        let field_exprs = term.match_fields.as_deref().unwrap_or(&[]);
        (!exprs.is_empty() || !field_exprs.is_empty())
            && exprs.iter().all(|e| expression_matches(e, labels))
            && field_exprs.iter().all(|e| expression_matches(e, &fields))
    })
}

/// `(should run, may keep running)` a daemon pod on `node` (NodeShouldRunDaemonPod).
pub fn node_should_run(template_spec: &PodSpec, node: &Node) -> (bool, bool) {
    if !selects_node(template_spec, node) {
        return (false, false);
    }
    let mut tolerations: Vec<Toleration> = template_spec.tolerations.clone().unwrap_or_default();
    tolerations.extend(default_tolerations());
    let taints = node.spec.as_ref().and_then(|s| s.taints.as_deref()).unwrap_or(&[]);
    let untolerated = |effect: &str| {
        taints.iter().filter(|t| t.effect == effect).any(|taint| !tolerations.iter().any(|t| tolerates(t, taint)))
    };
    let no_execute = untolerated("NoExecute");
    (!no_execute && !untolerated("NoSchedule"), !no_execute)
}

/// The node a daemon pod is for: where it is bound, else its matchFields affinity.
fn target_node(pod: &Pod) -> Option<String> {
    match api::pod::node_name(pod) {
        "" => {}
        n => return Some(n.to_string()),
    }
    let terms = required_terms(pod.spec.as_ref()?)?;
    terms.iter().flat_map(|t| t.match_fields.iter().flatten()).find_map(|f| {
        (f.key == "metadata.name" && f.operator == "In").then(|| f.values.as_ref()?.first().cloned()).flatten()
    })
}

/// The template a pod for `node` is made from: the revision hash label, the
/// default tolerations, and an affinity to exactly that node.
pub fn template_for_node(ds: &DaemonSet, hash: &str, node: &str) -> PodTemplateSpec {
    let mut t = ds.spec.as_ref().map(|s| s.template.clone()).unwrap_or_default();
    let meta = t.metadata.get_or_insert_with(Default::default);
    meta.labels.get_or_insert_with(Default::default).insert(REVISION_HASH.into(), hash.into());
    let spec = t.spec.get_or_insert_with(Default::default);
    let tolerations = spec.tolerations.get_or_insert_with(Vec::new);
    for default in default_tolerations() {
        if !tolerations.iter().any(|x| x.key == default.key && x.effect == default.effect) {
            tolerations.push(default);
        }
    }
    let affinity = spec.affinity.get_or_insert_with(Default::default);
    affinity.node_affinity.get_or_insert_with(Default::default).required_during_scheduling_ignored_during_execution =
        Some(NodeSelector {
            node_selector_terms: vec![NodeSelectorTerm {
                match_fields: Some(vec![NodeSelectorRequirement {
                    key: "metadata.name".into(),
                    operator: "In".into(),
                    values: Some(vec![node.into()]),
                }]),
                ..Default::default()
            }],
        });
    t
}

/// What one reconcile counts for the DaemonSet's status.
#[derive(Debug, Default)]
struct Counts {
    /// Nodes that should run a daemon pod.
    desired: i32,
    /// Of those, nodes that run one.
    current: i32,
    /// Nodes that run one but should not.
    misscheduled: i32,
    ready: i32,
    available: i32,
    /// Pods of the current template.
    updated: i32,
}

pub struct DaemonSetController {
    daemon_sets: Arc<SharedInformer<DaemonSet>>,
    nodes: Arc<SharedInformer<Node>>,
    pods: Arc<SharedInformer<Pod>>,
    pod_control: Arc<dyn PodControl>,
    client: Client,
    clock: Clock,
    expectations: Expectations,
}

impl DaemonSetController {
    pub fn new(ctx: &Context) -> Self {
        Self::with(
            ctx.factory.typed(),
            ctx.factory.typed(),
            ctx.factory.typed(),
            Arc::new(ApiPodControl::new(ctx.client.clone(), "daemonset-controller")),
            ctx.client.clone(),
            ctx.clock.clone(),
        )
    }

    pub fn with(
        daemon_sets: Arc<SharedInformer<DaemonSet>>,
        nodes: Arc<SharedInformer<Node>>,
        pods: Arc<SharedInformer<Pod>>,
        pod_control: Arc<dyn PodControl>,
        client: Client,
        clock: Clock,
    ) -> Self {
        Self { daemon_sets, nodes, pods, pod_control, client, clock, expectations: Expectations::default() }
    }

    fn owner_key(&self, pod: &Pod) -> Option<String> {
        let r = controller_of(&pod.metadata)?;
        if r.kind != "DaemonSet" {
            return None;
        }
        let ds = self.daemon_sets.store().get_in(pod.namespace(), &r.name)?;
        (r.uid == ds.uid()).then(|| key_of(&ds))
    }

    fn daemon_set_changed(&self, change: &Change<DaemonSet>, queue: &WorkQueue) {
        match change {
            Change::Deleted(ds) => self.expectations.delete(&key_of(ds)),
            Change::Added(ds) | Change::Updated { new: ds, .. } => queue.add(key_of(ds)),
            Change::Resync => {}
        }
    }

    /// A new node, or new labels or taints, may change where every DaemonSet runs.
    fn node_changed(&self, change: &Change<Node>, queue: &WorkQueue) {
        let taints = |n: &Node| n.spec.as_ref().and_then(|s| s.taints.clone());
        match change {
            Change::Added(_) | Change::Deleted(_) => self.resync(queue),
            Change::Updated { old, new }
                if labels(&old.metadata) != labels(&new.metadata) || taints(old) != taints(new) =>
            {
                self.resync(queue)
            }
            _ => {}
        }
    }

    fn pod_changed(&self, change: &Change<Pod>, queue: &WorkQueue) {
        match change {
            Change::Added(pod) => {
                if let Some(key) = self.owner_key(pod) {
                    self.expectations.creation_observed(&key);
                    queue.add(key);
                }
            }
            Change::Updated { new: pod, .. } => {
                if let Some(key) = self.owner_key(pod) {
                    if pod.metadata.deletion_timestamp.is_some() {
                        self.expectations.deletion_observed(&key, &key_of(pod));
                    }
                    queue.add(key);
                }
            }
            Change::Deleted(pod) => {
                if let Some(key) = self.owner_key(pod) {
                    self.expectations.deletion_observed(&key, &key_of(pod));
                    queue.add(key);
                }
            }
            Change::Resync => {}
        }
    }
}

#[async_trait::async_trait]
impl Controller for DaemonSetController {
    fn name(&self) -> &'static str {
        "daemonset"
    }

    fn watches(self: Arc<Self>) -> Vec<Watch> {
        vec![
            Watch::method(&self, &self.daemon_sets, Self::daemon_set_changed),
            Watch::method(&self, &self.nodes, Self::node_changed),
            Watch::method(&self, &self.pods, Self::pod_changed),
        ]
    }

    fn resync(&self, queue: &WorkQueue) {
        for key in self.daemon_sets.store().keys() {
            queue.add(key);
        }
    }

    async fn reconcile(&self, key: &str) -> Result<Action> {
        let Some(ds) = self.daemon_sets.store().get(key) else {
            self.expectations.delete(key);
            return Ok(Action::Done);
        };
        let now = self.clock.now();
        let ds_spec = ds.spec.clone().unwrap_or_default();
        let hash = template_hash(&ds_spec.template);
        let min_ready = i64::from(ds_spec.min_ready_seconds.unwrap_or(0));
        let mut by_node: HashMap<String, Vec<Arc<Pod>>> = HashMap::new();
        for pod in self.pods.store().list_namespace(ds.namespace()) {
            if is_active(&pod) && controller_of(&pod.metadata).is_some_and(|r| r.uid == ds.uid()) {
                if let Some(node) = target_node(&pod) {
                    by_node.entry(node).or_default().push(pod);
                }
            }
        }
        let mut nodes = self.nodes.store().list();
        nodes.sort_by(|a, b| a.name().cmp(b.name()));
        let spec = ds_spec.template.spec.clone().unwrap_or_default();
        let (mut create, mut delete) = (Vec::new(), Vec::new());
        let mut counts = Counts::default();
        let mut old_pods = Vec::new();
        let mut unavailable = 0;
        for node in &nodes {
            let name = node.name();
            let (should_run, may_continue) = node_should_run(&spec, node);
            let mut here = by_node.remove(name).unwrap_or_default();
            if should_run {
                counts.desired += 1;
            }
            if !here.is_empty() {
                if should_run {
                    counts.current += 1;
                } else {
                    counts.misscheduled += 1;
                }
            }
            if !should_run {
                // A pod may stay on a node it no longer fits only while just NoSchedule taints exclude it.
                if !may_continue {
                    delete.extend(here);
                }
                continue;
            }
            if here.is_empty() {
                create.push(name.to_string());
                unavailable += 1;
                continue;
            }
            // Keep the oldest pod; any others on the node are duplicates.
            here.sort_by_key(|p| p.metadata.creation_timestamp.as_ref().map(|t| t.0));
            delete.extend(here.drain(1..));
            let pod = &here[0];
            let updated = labels(&pod.metadata).get(REVISION_HASH) == Some(&hash);
            let available = is_available(pod, min_ready, now);
            if is_ready(pod) {
                counts.ready += 1;
            }
            if available {
                counts.available += 1;
            } else {
                unavailable += 1;
            }
            if updated {
                counts.updated += 1;
            } else {
                old_pods.push((pod.clone(), available));
            }
        }
        // Pods for nodes that no longer exist.
        delete.extend(by_node.into_values().flatten());
        // Rolling update: old pods that are down anyway go first, then available ones within maxUnavailable.
        let strategy = ds_spec.update_strategy.unwrap_or_default();
        if strategy.type_.as_deref() != Some("OnDelete") {
            let desired = i64::from(counts.desired);
            let max = strategy.rolling_update.and_then(|r| r.max_unavailable).unwrap_or(IntOrString::Int(1));
            let max_unavailable = scaled_value(&max, desired, true).max(1);
            for (pod, available) in old_pods {
                if !available {
                    delete.push(pod);
                } else if unavailable < max_unavailable {
                    unavailable += 1;
                    delete.push(pod);
                }
            }
        }

        if self.expectations.satisfied(key) && ds.metadata.deletion_timestamp.is_none() {
            if !create.is_empty() {
                self.expectations.expect_creations(key, create.len());
            } else if !delete.is_empty() {
                self.expectations.expect_deletions(key, delete.iter().map(key_of));
            }
            let owner = Owner::of(&*ds);
            let mut first_error = None;
            for node in &create {
                tracing::info!(node, "creating daemon pod");
                if let Err(e) = self.pod_control.create_pod(&template_for_node(&ds, &hash, node), &owner).await {
                    self.expectations.creation_observed(key);
                    first_error.get_or_insert(e);
                }
            }
            if create.is_empty() {
                for pod in &delete {
                    tracing::info!(pod = pod.name(), "deleting daemon pod");
                    if let Err(e) = self.pod_control.delete_pod(pod.namespace(), pod.name(), &owner).await {
                        self.expectations.deletion_observed(key, &key_of(pod));
                        if !e.is_not_found() {
                            first_error.get_or_insert(e);
                        }
                    }
                }
            }
            if let Some(e) = first_error {
                return Err(e.into());
            }
        }

        let (desired, available) = (counts.desired, counts.available);
        // Zero counts of the optional fields are omitted, as Kubernetes' omitempty does.
        let positive = |n: i32| (n > 0).then_some(n);
        let new_status = DaemonSetStatus {
            current_number_scheduled: counts.current,
            number_misscheduled: counts.misscheduled,
            desired_number_scheduled: desired,
            number_ready: counts.ready,
            observed_generation: Some(ds.metadata.generation.unwrap_or(0)),
            updated_number_scheduled: positive(counts.updated),
            number_available: positive(available),
            number_unavailable: positive(desired - available),
            ..Default::default()
        };
        if ds.status.as_ref() != Some(&new_status) {
            let mut obj = (*ds).clone();
            obj.status = Some(new_status);
            match Api::<DaemonSet>::namespaced(&self.client, ds.namespace()).update_status(&obj).await {
                Ok(_) => {}
                Err(e) if e.is_not_found() => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(Action::Done)
    }
}

#[cfg(test)]
mod tests;
