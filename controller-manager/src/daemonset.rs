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
use crate::pods::json::{controller_of, is_active, is_available};
use crate::pods::{self, is_ready, ApiPodControl, PodControl};
use crate::runner::{Action, Controller, Result};
use crate::Context;
use api::k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use api::{meta, registry, ResourceInfo};
use client::informer::{Change, SharedInformer};
use client::queue::WorkQueue;
use client::watcher::key_of;
use client::Client;
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

pub const REVISION_HASH: &str = "controller-revision-hash";

pub fn daemon_sets() -> &'static ResourceInfo {
    registry::lookup("daemonsets").expect("daemonsets are registered")
}

fn nodes() -> &'static ResourceInfo {
    registry::lookup("nodes").expect("nodes are registered")
}

/// The tolerations Kubernetes adds to every daemon pod (AddOrUpdateDaemonPodTolerations).
pub fn default_tolerations() -> Vec<Value> {
    let t = |key: &str, effect: &str| json!({"key": key, "operator": "Exists", "effect": effect});
    vec![
        t("node.kubernetes.io/not-ready", "NoExecute"),
        t("node.kubernetes.io/unreachable", "NoExecute"),
        t("node.kubernetes.io/disk-pressure", "NoSchedule"),
        t("node.kubernetes.io/memory-pressure", "NoSchedule"),
        t("node.kubernetes.io/pid-pressure", "NoSchedule"),
        t("node.kubernetes.io/unschedulable", "NoSchedule"),
    ]
}

fn tolerates(toleration: &Value, taint: &Value) -> bool {
    let effect = toleration["effect"].as_str().unwrap_or("");
    if !effect.is_empty() && taint["effect"] != effect {
        return false;
    }
    let key = toleration["key"].as_str().unwrap_or("");
    if !key.is_empty() && taint["key"] != key {
        return false;
    }
    match toleration["operator"].as_str().unwrap_or("Equal") {
        "Exists" => true,
        _ => !key.is_empty() && toleration["value"].as_str().unwrap_or("") == taint["value"].as_str().unwrap_or(""),
    }
}

/// One nodeSelectorTerm's expression against a node's labels (or fields).
fn expression_matches(expr: &Value, values: &BTreeMap<String, String>) -> bool {
    let key = expr["key"].as_str().unwrap_or("");
    let wanted: Vec<&str> = expr["values"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
    let have = values.get(key).map(String::as_str);
    match expr["operator"].as_str().unwrap_or("") {
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

/// Whether a pod template fits a node: nodeSelector and required node affinity.
pub fn selects_node(template_spec: &Value, node: &Value) -> bool {
    let labels = meta::labels(node);
    let selector = template_spec["nodeSelector"].as_object().into_iter().flatten();
    if !selector.into_iter().all(|(k, v)| labels.get(k).map(String::as_str) == v.as_str()) {
        return false;
    }
    let terms = &template_spec["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
        ["nodeSelectorTerms"];
    let Some(terms) = terms.as_array() else { return true };
    let fields = BTreeMap::from([("metadata.name".to_string(), meta::name(node).to_string())]);
    // Terms are ORed; the expressions of one term are ANDed; an empty term matches nothing.
    terms.iter().any(|term| {
        let exprs = term["matchExpressions"].as_array().map(Vec::as_slice).unwrap_or(&[]);
        let field_exprs = term["matchFields"].as_array().map(Vec::as_slice).unwrap_or(&[]);
        (!exprs.is_empty() || !field_exprs.is_empty())
            && exprs.iter().all(|e| expression_matches(e, &labels))
            && field_exprs.iter().all(|e| expression_matches(e, &fields))
    })
}

/// `(should run, may keep running)` a daemon pod on `node` (NodeShouldRunDaemonPod).
pub fn node_should_run(template_spec: &Value, node: &Value) -> (bool, bool) {
    if !selects_node(template_spec, node) {
        return (false, false);
    }
    let mut tolerations: Vec<Value> = template_spec["tolerations"].as_array().cloned().unwrap_or_default();
    tolerations.extend(default_tolerations());
    let untolerated = |effect: &str| {
        node["spec"]["taints"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|t| t["effect"] == effect)
            .any(|taint| !tolerations.iter().any(|t| tolerates(t, taint)))
    };
    let no_execute = untolerated("NoExecute");
    (!no_execute && !untolerated("NoSchedule"), !no_execute)
}

/// The node a daemon pod is for: where it is bound, else its matchFields affinity.
fn target_node(pod: &Value) -> Option<String> {
    match pods::node_name(pod) {
        "" => {}
        n => return Some(n.to_string()),
    }
    let terms =
        &pod["spec"]["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"];
    terms.as_array()?.iter().flat_map(|t| t["matchFields"].as_array().cloned().unwrap_or_default()).find_map(|f| {
        (f["key"] == "metadata.name" && f["operator"] == "In")
            .then(|| f["values"][0].as_str().map(String::from))
            .flatten()
    })
}

/// The template a pod for `node` is made from: the revision hash label, the
/// default tolerations, and an affinity to exactly that node.
pub fn template_for_node(ds: &Value, hash: &str, node: &str) -> Value {
    let mut t = ds["spec"]["template"].clone();
    t["metadata"]["labels"][REVISION_HASH] = hash.into();
    let mut tolerations: Vec<Value> = t["spec"]["tolerations"].as_array().cloned().unwrap_or_default();
    for default in default_tolerations() {
        if !tolerations.iter().any(|x| x["key"] == default["key"] && x["effect"] == default["effect"]) {
            tolerations.push(default);
        }
    }
    t["spec"]["tolerations"] = tolerations.into();
    t["spec"]["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"] = json!({
        "nodeSelectorTerms": [{"matchFields": [{"key": "metadata.name", "operator": "In", "values": [node]}]}],
    });
    t
}

pub struct DaemonSetController {
    daemon_sets: Arc<SharedInformer>,
    nodes: Arc<SharedInformer>,
    pods: Arc<SharedInformer>,
    pod_control: Arc<dyn PodControl>,
    client: Client,
    clock: Clock,
    expectations: Expectations,
}

impl DaemonSetController {
    pub fn new(ctx: &Context) -> Self {
        Self::with(
            ctx.factory.informer(daemon_sets()),
            ctx.factory.informer(nodes()),
            ctx.factory.informer(pods::pods()),
            Arc::new(ApiPodControl::new(ctx.client.clone(), "daemonset-controller")),
            ctx.client.clone(),
            ctx.clock.clone(),
        )
    }

    pub fn with(
        daemon_sets: Arc<SharedInformer>,
        nodes: Arc<SharedInformer>,
        pods: Arc<SharedInformer>,
        pod_control: Arc<dyn PodControl>,
        client: Client,
        clock: Clock,
    ) -> Self {
        Self { daemon_sets, nodes, pods, pod_control, client, clock, expectations: Expectations::default() }
    }

    fn owner_key(&self, pod: &Value) -> Option<String> {
        let r = controller_of(pod)?;
        if r["kind"] != "DaemonSet" {
            return None;
        }
        let ds = self.daemon_sets.store().get_in(meta::namespace(pod), r["name"].as_str()?)?;
        (r["uid"] == meta::uid(&ds)).then(|| key_of(&ds))
    }
}

#[async_trait::async_trait]
impl Controller for DaemonSetController {
    fn name(&self) -> &'static str {
        "daemonset"
    }

    fn informers(&self) -> Vec<Arc<SharedInformer>> {
        vec![self.daemon_sets.clone(), self.nodes.clone(), self.pods.clone()]
    }

    fn handle(&self, resource: &'static ResourceInfo, change: &Change, queue: &WorkQueue) {
        match (resource.kind, change) {
            ("DaemonSet", Change::Deleted(ds)) => self.expectations.delete(&key_of(ds)),
            ("DaemonSet", Change::Added(ds) | Change::Updated { new: ds, .. }) => queue.add(key_of(ds)),
            // A new node, or new labels or taints, may change where every DaemonSet runs.
            ("Node", Change::Added(_) | Change::Deleted(_)) => self.resync(queue),
            ("Node", Change::Updated { old, new })
                if meta::labels(old) != meta::labels(new) || old["spec"]["taints"] != new["spec"]["taints"] =>
            {
                self.resync(queue)
            }
            ("Pod", Change::Added(pod)) => {
                if let Some(key) = self.owner_key(pod) {
                    self.expectations.creation_observed(&key);
                    queue.add(key);
                }
            }
            ("Pod", Change::Updated { new: pod, .. }) => {
                if let Some(key) = self.owner_key(pod) {
                    if meta::deletion_timestamp(pod).is_some() {
                        self.expectations.deletion_observed(&key, &key_of(pod));
                    }
                    queue.add(key);
                }
            }
            ("Pod", Change::Deleted(pod)) => {
                if let Some(key) = self.owner_key(pod) {
                    self.expectations.deletion_observed(&key, &key_of(pod));
                    queue.add(key);
                }
            }
            _ => {}
        }
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
        let hash = template_hash(&pods::json::template(&ds["spec"]["template"]));
        let min_ready = ds["spec"]["minReadySeconds"].as_i64().unwrap_or(0);
        let mut by_node: HashMap<String, Vec<Arc<Value>>> = HashMap::new();
        for pod in self.pods.store().list_namespace(meta::namespace(&ds)) {
            if is_active(&pod) && controller_of(&pod).is_some_and(|r| r["uid"] == meta::uid(&ds)) {
                if let Some(node) = target_node(&pod) {
                    by_node.entry(node).or_default().push(pod);
                }
            }
        }
        let mut nodes = self.nodes.store().list();
        nodes.sort_by(|a, b| meta::name(a).cmp(meta::name(b)));
        let spec = &ds["spec"]["template"]["spec"];
        let (mut create, mut delete) = (Vec::new(), Vec::new());
        let mut status = BTreeMap::<&str, i64>::new();
        let mut old_pods = Vec::new();
        let mut unavailable = 0;
        for node in &nodes {
            let name = meta::name(node);
            let (should_run, may_continue) = node_should_run(spec, node);
            let mut here = by_node.remove(name).unwrap_or_default();
            if should_run {
                *status.entry("desiredNumberScheduled").or_default() += 1;
            }
            if !here.is_empty() {
                let key = if should_run { "currentNumberScheduled" } else { "numberMisscheduled" };
                *status.entry(key).or_default() += 1;
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
            here.sort_by(|a, b| meta::creation_timestamp(a).cmp(meta::creation_timestamp(b)));
            delete.extend(here.drain(1..));
            let pod = &here[0];
            let updated = meta::labels(pod).get(REVISION_HASH) == Some(&hash);
            let available = is_available(pod, min_ready, now);
            if is_ready(pod) {
                *status.entry("numberReady").or_default() += 1;
            }
            if available {
                *status.entry("numberAvailable").or_default() += 1;
            } else {
                unavailable += 1;
            }
            if updated {
                *status.entry("updatedNumberScheduled").or_default() += 1;
            } else {
                old_pods.push((pod.clone(), available));
            }
        }
        // Pods for nodes that no longer exist.
        delete.extend(by_node.into_values().flatten());
        // Rolling update: old pods that are down anyway go first, then available ones within maxUnavailable.
        if ds["spec"]["updateStrategy"]["type"] != "OnDelete" {
            let desired = status.get("desiredNumberScheduled").copied().unwrap_or(0);
            let max = &ds["spec"]["updateStrategy"]["rollingUpdate"]["maxUnavailable"];
            let one = json!(1);
            let max = serde_json::from_value(if max.is_null() { one } else { max.clone() });
            let max_unavailable = scaled_value(&max.unwrap_or(IntOrString::Int(0)), desired, true).max(1);
            for (pod, available) in old_pods {
                if !available {
                    delete.push(pod);
                } else if unavailable < max_unavailable {
                    unavailable += 1;
                    delete.push(pod);
                }
            }
        }

        if self.expectations.satisfied(key) && meta::deletion_timestamp(&ds).is_none() {
            if !create.is_empty() {
                self.expectations.expect_creations(key, create.len());
            } else if !delete.is_empty() {
                self.expectations.expect_deletions(key, delete.iter().map(key_of));
            }
            let mut first_error = None;
            for node in &create {
                tracing::info!(node, "creating daemon pod");
                if let Err(e) = self
                    .pod_control
                    .create_pod(&pods::json::template(&template_for_node(&ds, &hash, node)), &pods::json::owner(&ds))
                    .await
                {
                    self.expectations.creation_observed(key);
                    first_error.get_or_insert(e);
                }
            }
            if create.is_empty() {
                for pod in &delete {
                    tracing::info!(pod = meta::name(pod), "deleting daemon pod");
                    if let Err(e) = self
                        .pod_control
                        .delete_pod(meta::namespace(pod), meta::name(pod), &pods::json::owner(&ds))
                        .await
                    {
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

        let desired = status.get("desiredNumberScheduled").copied().unwrap_or(0);
        let available = status.get("numberAvailable").copied().unwrap_or(0);
        let mut new_status = json!({
            "currentNumberScheduled": status.get("currentNumberScheduled").copied().unwrap_or(0),
            "numberMisscheduled": status.get("numberMisscheduled").copied().unwrap_or(0),
            "desiredNumberScheduled": desired,
            "numberReady": status.get("numberReady").copied().unwrap_or(0),
            "observedGeneration": ds["metadata"]["generation"].as_i64().unwrap_or(0),
        });
        for (field, n) in [
            ("updatedNumberScheduled", status.get("updatedNumberScheduled").copied().unwrap_or(0)),
            ("numberAvailable", available),
            ("numberUnavailable", desired - available),
        ] {
            if n > 0 {
                new_status[field] = n.into();
            }
        }
        if ds["status"] != new_status {
            let mut obj = (*ds).clone();
            obj["status"] = new_status;
            match self.client.update_status(daemon_sets(), meta::namespace(&ds), &obj).await {
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
