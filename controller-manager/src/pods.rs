//! What the controllers that own pods share, after Kubernetes' controller_utils:
//! which pods count (active, ready, available), owner references, which pods
//! to delete first when scaling down, and [`PodControl`], the one place pods
//! are created and deleted, with a recording fake for tests.

use api::{meta, registry, ApiError, ResourceInfo};
use async_trait::async_trait;
use client::events::{EventRecorder, EventType};
use client::{Client, DeleteParams, PatchType};
use jiff::Timestamp;
use serde_json::{json, Value};
use std::cmp::Ordering;
use std::sync::Mutex;

pub fn pods() -> &'static ResourceInfo {
    registry::lookup("pods").expect("pods are registered")
}

/// Kubernetes' `IsPodActive`: not finished and not being deleted.
pub fn is_active(pod: &Value) -> bool {
    !matches!(pod["status"]["phase"].as_str(), Some("Succeeded" | "Failed")) && meta::deletion_timestamp(pod).is_none()
}

fn ready_condition(pod: &Value) -> Option<&Value> {
    pod["status"]["conditions"].as_array()?.iter().find(|c| c["type"] == "Ready")
}

pub fn is_ready(pod: &Value) -> bool {
    ready_condition(pod).is_some_and(|c| c["status"] == "True")
}

/// When a ready pod became ready; None when it is not ready or does not say.
pub fn ready_since(pod: &Value) -> Option<Timestamp> {
    ready_condition(pod)
        .filter(|c| c["status"] == "True")
        .and_then(|c| crate::clock::parse_time(&c["lastTransitionTime"]))
}

/// Ready for at least `min_ready_seconds` (Kubernetes' `IsPodAvailable`).
pub fn is_available(pod: &Value, min_ready_seconds: i64, now: Timestamp) -> bool {
    if !is_ready(pod) {
        return false;
    }
    min_ready_seconds <= 0 || ready_since(pod).is_some_and(|t| crate::clock::add_secs(t, min_ready_seconds) < now)
}

pub fn node_name(pod: &Value) -> &str {
    pod["spec"]["nodeName"].as_str().unwrap_or("")
}

/// The owner reference with `controller: true`, if any.
pub fn controller_of(obj: &Value) -> Option<&Value> {
    owner_references(obj).iter().find(|r| r["controller"] == true)
}

pub fn owner_references(obj: &Value) -> &[Value] {
    obj["metadata"]["ownerReferences"].as_array().map(Vec::as_slice).unwrap_or(&[])
}

/// A strategic merge patch that drops the reference to `owner_uid` from `obj`,
/// or the whole field when it is the only one (as Kubernetes leaves no empty list).
pub fn drop_owner_patch(obj: &Value, owner_uid: &str) -> Value {
    if owner_references(obj).iter().all(|r| r["uid"] == owner_uid) {
        json!({"metadata": {"ownerReferences": null}})
    } else {
        json!({"metadata": {"ownerReferences": [{"$patch": "delete", "uid": owner_uid}]}})
    }
}

/// The reference a controller puts on what it creates or adopts.
pub fn controller_ref(owner: &Value) -> Value {
    json!({
        "apiVersion": meta::api_version(owner),
        "kind": meta::kind(owner),
        "name": meta::name(owner),
        "uid": meta::uid(owner),
        "controller": true,
        "blockOwnerDeletion": true,
    })
}

/// A new pod from a controller's template: `generateName: <owner>-`, the
/// template's labels, annotations and finalizers, and the owner's reference.
pub fn pod_from_template(template: &Value, owner: &Value, controller_ref: &Value) -> Value {
    let mut metadata = json!({
        "generateName": format!("{}-", meta::name(owner)),
        "namespace": meta::namespace(owner),
        "ownerReferences": [controller_ref],
    });
    for field in ["labels", "annotations", "finalizers"] {
        match template["metadata"].get(field) {
            None | Some(Value::Null) => {}
            Some(v) => metadata[field] = v.clone(),
        }
    }
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": template["spec"]})
}

/// `PodPending < PodUnknown < PodRunning`; any other phase sorts with Pending, as in Kubernetes.
fn phase_ordinal(pod: &Value) -> u8 {
    match pod["status"]["phase"].as_str() {
        Some("Unknown") => 1,
        Some("Running") => 2,
        _ => 0,
    }
}

fn deletion_cost(pod: &Value) -> i32 {
    pod["metadata"]["annotations"]["controller.kubernetes.io/pod-deletion-cost"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

fn max_restarts(pod: &Value) -> i64 {
    let statuses = pod["status"]["containerStatuses"].as_array();
    statuses.into_iter().flatten().filter_map(|c| c["restartCount"].as_i64()).max().unwrap_or(0)
}

/// Recent before old, a missing time first; times whose age falls in the same
/// power of two are equal here (Kubernetes' LogarithmicScaleDown), so scaling
/// down does not always pick exactly the newest pods: the later criteria, and
/// finally the uid, decide. Comparing ranks keeps the order total; a uid
/// tie-break in here would not be (two equal times "equal", a third time of
/// their rank between them by uid), and sort_by panics on such an order.
fn recent_first(a: Option<Timestamp>, b: Option<Timestamp>, now: Timestamp) -> Ordering {
    let rank = |t: Option<Timestamp>| match t {
        None => i64::MIN,
        Some(t) => {
            let age = now.duration_since(t).as_nanos();
            if age > 0 {
                (age as f64).log2() as i64
            } else {
                -1
            }
        }
    };
    rank(a).cmp(&rank(b))
}

/// Kubernetes' `ActivePodsWithRanks` order: the pod to delete first sorts first.
///
/// 1. unscheduled before scheduled;
/// 2. Pending, then Unknown, then Running;
/// 3. not ready before ready;
/// 4. lower `controller.kubernetes.io/pod-deletion-cost` first;
/// 5. more pods of the same family on its node (`rank`) first;
/// 6. ready for less time first;
/// 7. more container restarts first;
/// 8. newer before older;
/// 9. by uid, so the order is total.
pub fn deletion_order(a: (&Value, usize), b: (&Value, usize), now: Timestamp) -> Ordering {
    let ((pa, rank_a), (pb, rank_b)) = (a, b);
    let (na, nb) = (node_name(pa), node_name(pb));
    if na != nb && (na.is_empty() || nb.is_empty()) {
        return if na.is_empty() { Ordering::Less } else { Ordering::Greater };
    }
    let by_phase = phase_ordinal(pa).cmp(&phase_ordinal(pb));
    if by_phase != Ordering::Equal {
        return by_phase;
    }
    if is_ready(pa) != is_ready(pb) {
        return if is_ready(pa) { Ordering::Greater } else { Ordering::Less };
    }
    let by_cost = deletion_cost(pa).cmp(&deletion_cost(pb));
    if by_cost != Ordering::Equal {
        return by_cost;
    }
    if rank_a != rank_b {
        return rank_b.cmp(&rank_a);
    }
    if is_ready(pa) && is_ready(pb) {
        let by_ready = recent_first(ready_since(pa), ready_since(pb), now);
        if by_ready != Ordering::Equal {
            return by_ready;
        }
    }
    let by_restarts = max_restarts(pb).cmp(&max_restarts(pa));
    if by_restarts != Ordering::Equal {
        return by_restarts;
    }
    let created = |p: &Value| meta::parse_time(meta::creation_timestamp(p));
    recent_first(created(pa), created(pb), now).then_with(|| meta::uid(pa).cmp(meta::uid(pb)))
}

/// Creates and deletes pods for a controller, recording the Events `kubectl
/// describe` shows on the owner. The seam the controller tests fake.
#[async_trait]
pub trait PodControl: Send + Sync {
    /// Creates a pod from `template` for `owner`; the created pod on success.
    async fn create_pod(&self, template: &Value, owner: &Value) -> Result<Value, ApiError>;
    async fn delete_pod(&self, namespace: &str, name: &str, owner: &Value) -> Result<(), ApiError>;
    /// Applies a strategic merge patch (adoption and release of pods).
    async fn patch_pod(&self, namespace: &str, name: &str, patch: &Value) -> Result<(), ApiError>;
}

/// The real [`PodControl`]: calls the apiserver and records Events.
pub struct ApiPodControl {
    client: Client,
    recorder: EventRecorder,
}

impl ApiPodControl {
    /// `component` names the controller in Events (`replicaset-controller`).
    pub fn new(client: Client, component: &str) -> Self {
        Self { recorder: EventRecorder::new(client.clone(), component, ""), client }
    }

    /// Events are written in the background, as Kubernetes' recorder does: an
    /// Event is never worth slowing the work it reports.
    fn record(&self, owner: &Value, kind: EventType, reason: &'static str, message: String) {
        let (recorder, owner) = (self.recorder.clone(), owner.clone());
        tokio::spawn(async move { recorder.record(&owner, kind, reason, &message).await });
    }
}

#[async_trait]
impl PodControl for ApiPodControl {
    async fn create_pod(&self, template: &Value, owner: &Value) -> Result<Value, ApiError> {
        let pod = pod_from_template(template, owner, &controller_ref(owner));
        match self.client.create(pods(), meta::namespace(owner), &pod).await {
            Ok(created) => {
                self.record(
                    owner,
                    EventType::Normal,
                    "SuccessfulCreate",
                    format!("Created pod: {}", meta::name(&created)),
                );
                Ok(created)
            }
            Err(e) => {
                self.record(owner, EventType::Warning, "FailedCreate", format!("Error creating: {e}"));
                Err(e)
            }
        }
    }

    async fn delete_pod(&self, namespace: &str, name: &str, owner: &Value) -> Result<(), ApiError> {
        match self.client.delete(pods(), namespace, name, &DeleteParams::default()).await {
            Ok(_) => {
                self.record(owner, EventType::Normal, "SuccessfulDelete", format!("Deleted pod: {name}"));
                Ok(())
            }
            Err(e) if e.is_not_found() => Err(e),
            Err(e) => {
                self.record(owner, EventType::Warning, "FailedDelete", format!("Error deleting: {e}"));
                Err(e)
            }
        }
    }

    async fn patch_pod(&self, namespace: &str, name: &str, patch: &Value) -> Result<(), ApiError> {
        self.client.patch(pods(), namespace, name, PatchType::StrategicMerge, patch).await.map(drop)
    }
}

/// A [`PodControl`] that only records what it was asked, as Kubernetes'
/// `FakePodControl`: nothing reaches a server, so tests decide what the
/// controller's caches show.
#[derive(Default)]
pub struct FakePodControl {
    pub created: Mutex<Vec<Value>>,
    pub deleted: Mutex<Vec<String>>,
    pub patched: Mutex<Vec<(String, Value)>>,
    /// When set, creates after this many succeed fail with a quota error.
    pub create_limit: Mutex<Option<usize>>,
    /// Every create asked for, failed or not.
    pub create_attempts: Mutex<usize>,
}

impl FakePodControl {
    pub fn created_count(&self) -> usize {
        self.created.lock().expect("fake lock").len()
    }
    pub fn deleted(&self) -> Vec<String> {
        self.deleted.lock().expect("fake lock").clone()
    }
    pub fn patched(&self) -> Vec<(String, Value)> {
        self.patched.lock().expect("fake lock").clone()
    }
    pub fn clear(&self) {
        self.created.lock().expect("fake lock").clear();
        self.deleted.lock().expect("fake lock").clear();
        self.patched.lock().expect("fake lock").clear();
    }
}

#[async_trait]
impl PodControl for FakePodControl {
    async fn create_pod(&self, template: &Value, owner: &Value) -> Result<Value, ApiError> {
        *self.create_attempts.lock().expect("fake lock") += 1;
        let mut created = self.created.lock().expect("fake lock");
        if self.create_limit.lock().expect("fake lock").is_some_and(|limit| created.len() >= limit) {
            return Err(ApiError::forbidden("pods", "", "exceeded quota: pods"));
        }
        let mut pod = pod_from_template(template, owner, &controller_ref(owner));
        let name = format!("{}{}", meta::generate_name(&pod), created.len());
        meta::set_meta(&mut pod, "name", name);
        created.push(pod.clone());
        Ok(pod)
    }

    async fn delete_pod(&self, namespace: &str, name: &str, _owner: &Value) -> Result<(), ApiError> {
        self.deleted.lock().expect("fake lock").push(format!("{namespace}/{name}"));
        Ok(())
    }

    async fn patch_pod(&self, namespace: &str, name: &str, patch: &Value) -> Result<(), ApiError> {
        self.patched.lock().expect("fake lock").push((format!("{namespace}/{name}"), patch.clone()));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: &str = "2024-01-01T12:00:00Z";

    /// A pod described the way the ordering table reads: node, phase, ready since
    /// (seconds before NOW), restarts, created (seconds before NOW).
    fn pod(name: &str, node: &str, phase: &str, ready_for: Option<i64>, restarts: i64, age: i64) -> Value {
        let now: Timestamp = NOW.parse().unwrap();
        let ago = |s: i64| crate::clock::format_time(crate::clock::add_secs(now, -s));
        let mut conditions = vec![];
        if let Some(r) = ready_for {
            conditions.push(json!({"type": "Ready", "status": "True", "lastTransitionTime": ago(r)}));
        } else {
            conditions.push(json!({"type": "Ready", "status": "False"}));
        }
        json!({
            "metadata": {"name": name, "uid": format!("uid-{name}"), "creationTimestamp": ago(age)},
            "spec": {"nodeName": node},
            "status": {"phase": phase, "conditions": conditions,
                       "containerStatuses": [{"name": "c", "restartCount": restarts}]},
        })
    }

    fn order(pods: &[Value]) -> Vec<String> {
        let now: Timestamp = NOW.parse().unwrap();
        let mut sorted: Vec<&Value> = pods.iter().collect();
        sorted.sort_by(|a, b| deletion_order((a, 0), (b, 0), now));
        sorted.iter().map(|p| meta::name(p).to_string()).collect()
    }

    #[test]
    fn pods_are_deleted_in_kubernetes_order() {
        // Each row: the pods, in the order Kubernetes deletes them.
        let table: Vec<(&str, Vec<Value>)> = vec![
            (
                "unscheduled before scheduled",
                vec![pod("unscheduled", "", "Pending", None, 0, 10), pod("scheduled", "n1", "Pending", None, 0, 10)],
            ),
            (
                "Pending before Unknown before Running",
                vec![
                    pod("pending", "n1", "Pending", None, 0, 10),
                    pod("unknown", "n1", "Unknown", None, 0, 10),
                    pod("running", "n1", "Running", None, 0, 10),
                ],
            ),
            (
                "not ready before ready",
                vec![pod("not-ready", "n1", "Running", None, 0, 10), pod("ready", "n1", "Running", Some(5), 0, 10)],
            ),
            (
                "ready more recently first (ages in different powers of two)",
                vec![
                    pod("ready-10s", "n1", "Running", Some(10), 0, 5000),
                    pod("ready-1000s", "n1", "Running", Some(1000), 0, 5000),
                ],
            ),
            (
                "more restarts first",
                vec![
                    pod("restarted", "n1", "Running", Some(10), 5, 100),
                    pod("steady", "n1", "Running", Some(10), 0, 100),
                ],
            ),
            (
                "newer before older",
                vec![pod("new", "n1", "Running", Some(10), 0, 20), pod("old", "n1", "Running", Some(10), 0, 3000)],
            ),
        ];
        for (rule, pods) in table {
            let expected: Vec<String> = pods.iter().map(|p| meta::name(p).to_string()).collect();
            let mut reversed = pods.clone();
            reversed.reverse();
            assert_eq!(order(&reversed), expected, "{rule}");
        }
    }

    /// Many pods created and ready within the same few seconds (a scale-up):
    /// the order must be total, or sort_by panics scaling them down.
    #[test]
    fn the_order_is_total_for_pods_of_the_same_age() {
        let now: Timestamp = NOW.parse().unwrap();
        let pods: Vec<Value> = (0..60)
            .map(|i| {
                let mut p = pod(&format!("p{i}"), "n1", "Running", Some(40 + i % 3), 0, 40 + (i * 7) % 5);
                p["metadata"]["uid"] = json!(format!("{:04}", (i * 37) % 60));
                p
            })
            .collect();
        let cmp = |a: &Value, b: &Value| deletion_order((a, 0), (b, 0), now);
        for a in &pods {
            for b in &pods {
                assert_eq!(cmp(a, b), cmp(b, a).reverse(), "antisymmetric");
                for c in &pods {
                    if cmp(a, b) != Ordering::Greater && cmp(b, c) != Ordering::Greater {
                        assert_ne!(cmp(a, c), Ordering::Greater, "transitive");
                    }
                }
            }
        }
        let mut sorted = pods.clone();
        sorted.sort_by(|a, b| cmp(a, b));
        assert!(sorted.windows(2).all(|w| cmp(&w[0], &w[1]) != Ordering::Greater));
    }

    #[test]
    fn deletion_cost_and_crowded_nodes_come_before_age() {
        let now: Timestamp = NOW.parse().unwrap();
        let mut cheap = pod("cheap", "n1", "Running", Some(10), 0, 3000);
        cheap["metadata"]["annotations"] = json!({"controller.kubernetes.io/pod-deletion-cost": "-5"});
        let fresh = pod("fresh", "n1", "Running", Some(10), 0, 10);
        assert_eq!(deletion_order((&cheap, 0), (&fresh, 0), now), Ordering::Less);
        let (crowded, alone) =
            (pod("crowded", "n1", "Running", Some(10), 0, 3000), pod("alone", "n2", "Running", Some(10), 0, 10));
        assert_eq!(deletion_order((&crowded, 3), (&alone, 1), now), Ordering::Less);
    }

    #[test]
    fn activity_readiness_and_availability() {
        let now: Timestamp = NOW.parse().unwrap();
        let ready = pod("a", "n1", "Running", Some(10), 0, 100);
        assert!(is_active(&ready) && is_ready(&ready));
        assert!(is_available(&ready, 0, now) && is_available(&ready, 5, now) && !is_available(&ready, 30, now));
        let mut done = ready.clone();
        done["status"]["phase"] = "Succeeded".into();
        assert!(!is_active(&done));
        let mut deleting = ready.clone();
        deleting["metadata"]["deletionTimestamp"] = NOW.into();
        assert!(!is_active(&deleting));
    }

    #[test]
    fn pods_from_templates_carry_labels_and_the_controller_reference() {
        let owner = json!({"apiVersion": "v1", "kind": "ReplicationController",
                           "metadata": {"name": "kubia", "namespace": "default", "uid": "u1"}});
        let template = json!({"metadata": {"labels": {"app": "kubia"}}, "spec": {"containers": [{"name": "c"}]}});
        let pod = pod_from_template(&template, &owner, &controller_ref(&owner));
        assert_eq!(meta::generate_name(&pod), "kubia-");
        assert_eq!(meta::namespace(&pod), "default");
        assert_eq!(pod["metadata"]["labels"], json!({"app": "kubia"}));
        assert_eq!(
            pod["metadata"]["ownerReferences"],
            json!([{"apiVersion": "v1", "kind": "ReplicationController", "name": "kubia", "uid": "u1",
                    "controller": true, "blockOwnerDeletion": true}])
        );
        assert_eq!(controller_of(&pod).map(|r| r["uid"].clone()), Some(json!("u1")));
    }
}
