//! What the controllers that own pods share, after Kubernetes' controller_utils:
//! which pods are available, owner references and the patches that adopt and
//! release, which pods to delete first when scaling down, and [`PodControl`],
//! the one place pods are created and deleted (tests fake it with
//! `testing::FakePodControl`).
//! (Whether a pod is active or ready is asked of `api::pod`.)

use api::k8s_openapi;
use api::{registry, ApiError, ResourceInfo};
use async_trait::async_trait;
use client::events::{EventRecorder, EventType};
use client::{Api, Client, DeleteParams, Object, PatchType};
use jiff::Timestamp;
use k8s_openapi::api::core::v1::{ObjectReference, Pod, PodTemplateSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use serde_json::{json, Value};
use std::cmp::Ordering;
use std::collections::BTreeMap;

pub fn pods() -> &'static ResourceInfo {
    registry::lookup("pods").expect("pods are registered")
}

/// An object's labels; none and an empty map alike.
pub fn labels(meta: &ObjectMeta) -> &BTreeMap<String, String> {
    const NONE: &BTreeMap<String, String> = &BTreeMap::new();
    meta.labels.as_ref().unwrap_or(NONE)
}

/// Ready for at least `min_ready_seconds` (Kubernetes' `IsPodAvailable`).
pub fn is_available(pod: &Pod, min_ready_seconds: i64, now: Timestamp) -> bool {
    if !api::pod::is_ready(pod) {
        return false;
    }
    min_ready_seconds <= 0
        || api::pod::ready_since(pod).is_some_and(|t| crate::clock::add_secs(t, min_ready_seconds) < now)
}

/// A strategic merge patch that drops the reference to `owner_uid` from an
/// object, or the whole field when it is the only one (as Kubernetes leaves no
/// empty list).
pub fn drop_owner_patch(meta: &ObjectMeta, owner_uid: &str) -> Value {
    let mut uids = meta.owner_references.iter().flatten().map(|r| r.uid.as_str());
    if uids.all(|uid| uid == owner_uid) {
        json!({"metadata": {"ownerReferences": null}})
    } else {
        json!({"metadata": {"ownerReferences": [{"$patch": "delete", "uid": owner_uid}]}})
    }
}

/// The patch a controller releases an object it no longer selects with: its
/// reference goes ([`drop_owner_patch`]); the resourceVersion makes the patch
/// fail if the object changed since the controller decided.
pub fn release_patch(meta: &ObjectMeta, owner_uid: &str) -> Value {
    let mut patch = drop_owner_patch(meta, owner_uid);
    patch["metadata"]["resourceVersion"] = meta.resource_version.clone().unwrap_or_default().into();
    patch
}

/// The patch a controller adopts an orphan with: its controller reference,
/// guarded by the resourceVersion as [`release_patch`] is (Kubernetes pins the uid).
pub fn adopt_patch(meta: &ObjectMeta, owner: &Owner) -> Value {
    json!({"metadata": {
        "ownerReferences": [owner.reference],
        "resourceVersion": meta.resource_version.as_deref().unwrap_or_default(),
    }})
}

/// The object a controller creates, deletes and adopts pods for: what its
/// controller reference names, and what the Events about it point to.
#[derive(Debug, Clone, PartialEq)]
pub struct Owner {
    /// The controller reference (`controller: true`, `blockOwnerDeletion: true`).
    pub reference: OwnerReference,
    pub namespace: String,
    pub resource_version: String,
}

impl Owner {
    /// The owner a typed object is.
    pub fn of<K: Object + k8s_openapi::Resource>(obj: &K) -> Self {
        Self {
            reference: OwnerReference {
                api_version: K::API_VERSION.to_string(),
                kind: K::KIND.to_string(),
                name: obj.name().to_string(),
                uid: obj.uid().to_string(),
                controller: Some(true),
                block_owner_deletion: Some(true),
            },
            namespace: obj.namespace().to_string(),
            resource_version: obj.resource_version().to_string(),
        }
    }

    pub fn name(&self) -> &str {
        &self.reference.name
    }

    pub fn uid(&self) -> &str {
        &self.reference.uid
    }

    /// The owner as the Event recorder reads an involved object.
    fn event_object(&self) -> ObjectReference {
        let r = &self.reference;
        ObjectReference {
            api_version: Some(r.api_version.clone()),
            kind: Some(r.kind.clone()),
            name: Some(r.name.clone()),
            namespace: Some(self.namespace.clone()),
            uid: Some(r.uid.clone()),
            resource_version: Some(self.resource_version.clone()),
            ..Default::default()
        }
    }
}

/// A new pod from a controller's template: `generateName: <owner>-`, the
/// template's labels, annotations and finalizers, and the owner's reference.
pub fn pod_from_template(template: &PodTemplateSpec, owner: &Owner) -> Pod {
    let from = template.metadata.clone().unwrap_or_default();
    Pod {
        metadata: ObjectMeta {
            generate_name: Some(format!("{}-", owner.name())),
            namespace: Some(owner.namespace.clone()),
            owner_references: Some(vec![owner.reference.clone()]),
            labels: from.labels,
            annotations: from.annotations,
            finalizers: from.finalizers,
            ..Default::default()
        },
        spec: template.spec.clone(),
        ..Default::default()
    }
}

/// `PodPending < PodUnknown < PodRunning`; any other phase sorts with Pending, as in Kubernetes.
fn phase_ordinal(pod: &Pod) -> u8 {
    match api::pod::phase(pod) {
        "Unknown" => 1,
        "Running" => 2,
        _ => 0,
    }
}

fn deletion_cost(pod: &Pod) -> i32 {
    let annotations = pod.metadata.annotations.as_ref();
    annotations
        .and_then(|a| a.get("controller.kubernetes.io/pod-deletion-cost"))
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

fn max_restarts(pod: &Pod) -> i32 {
    let statuses = pod.status.as_ref().and_then(|s| s.container_statuses.as_ref());
    statuses.into_iter().flatten().map(|c| c.restart_count).max().unwrap_or(0)
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
pub fn deletion_order(a: (&Pod, usize), b: (&Pod, usize), now: Timestamp) -> Ordering {
    let ((pa, rank_a), (pb, rank_b)) = (a, b);
    let (na, nb) = (api::pod::node_name(pa), api::pod::node_name(pb));
    if na != nb && (na.is_empty() || nb.is_empty()) {
        return if na.is_empty() { Ordering::Less } else { Ordering::Greater };
    }
    let by_phase = phase_ordinal(pa).cmp(&phase_ordinal(pb));
    if by_phase != Ordering::Equal {
        return by_phase;
    }
    let (ready_a, ready_b) = (api::pod::is_ready(pa), api::pod::is_ready(pb));
    if ready_a != ready_b {
        return if ready_a { Ordering::Greater } else { Ordering::Less };
    }
    let by_cost = deletion_cost(pa).cmp(&deletion_cost(pb));
    if by_cost != Ordering::Equal {
        return by_cost;
    }
    if rank_a != rank_b {
        return rank_b.cmp(&rank_a);
    }
    if ready_a && ready_b {
        let by_ready = recent_first(api::pod::ready_since(pa), api::pod::ready_since(pb), now);
        if by_ready != Ordering::Equal {
            return by_ready;
        }
    }
    let by_restarts = max_restarts(pb).cmp(&max_restarts(pa));
    if by_restarts != Ordering::Equal {
        return by_restarts;
    }
    let created = |p: &Pod| p.metadata.creation_timestamp.as_ref().map(|t| t.0);
    recent_first(created(pa), created(pb), now).then_with(|| pa.uid().cmp(pb.uid()))
}

/// Creates and deletes pods for a controller, recording the Events `kubectl
/// describe` shows on the owner. The seam the controller tests fake.
#[async_trait]
pub trait PodControl: Send + Sync {
    /// Creates a pod from `template` for `owner`; the created pod on success.
    async fn create_pod(&self, template: &PodTemplateSpec, owner: &Owner) -> Result<Pod, ApiError>;
    async fn delete_pod(&self, namespace: &str, name: &str, owner: &Owner) -> Result<(), ApiError>;
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
    fn record(&self, owner: &Owner, kind: EventType, reason: &'static str, message: String) {
        let (recorder, owner) = (self.recorder.clone(), owner.event_object());
        tokio::spawn(async move { recorder.record(&owner, kind, reason, &message).await });
    }
}

#[async_trait]
impl PodControl for ApiPodControl {
    async fn create_pod(&self, template: &PodTemplateSpec, owner: &Owner) -> Result<Pod, ApiError> {
        let pod = pod_from_template(template, owner);
        match Api::<Pod>::namespaced(&self.client, &owner.namespace).create(&pod).await {
            Ok(created) => {
                self.record(owner, EventType::Normal, "SuccessfulCreate", format!("Created pod: {}", created.name()));
                Ok(created)
            }
            Err(e) => {
                self.record(owner, EventType::Warning, "FailedCreate", format!("Error creating: {e}"));
                Err(e)
            }
        }
    }

    async fn delete_pod(&self, namespace: &str, name: &str, owner: &Owner) -> Result<(), ApiError> {
        match Api::<Pod>::namespaced(&self.client, namespace).delete(name, &DeleteParams::default()).await {
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

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: &str = "2024-01-01T12:00:00Z";

    /// A pod described the way the ordering table reads: node, phase, ready since
    /// (seconds before NOW), restarts, created (seconds before NOW).
    fn pod(name: &str, node: &str, phase: &str, ready_for: Option<i64>, restarts: i64, age: i64) -> Pod {
        let now: Timestamp = NOW.parse().unwrap();
        let ago = |s: i64| api::time::format(crate::clock::add_secs(now, -s));
        let mut conditions = vec![];
        if let Some(r) = ready_for {
            conditions.push(json!({"type": "Ready", "status": "True", "lastTransitionTime": ago(r)}));
        } else {
            conditions.push(json!({"type": "Ready", "status": "False"}));
        }
        serde_json::from_value(json!({
            "metadata": {"name": name, "uid": format!("uid-{name}"), "creationTimestamp": ago(age)},
            "spec": {"nodeName": node},
            "status": {"phase": phase, "conditions": conditions,
                       "containerStatuses": [{"name": "c", "restartCount": restarts}]},
        }))
        .expect("a pod")
    }

    fn order(pods: &[Pod]) -> Vec<String> {
        let now: Timestamp = NOW.parse().unwrap();
        let mut sorted: Vec<&Pod> = pods.iter().collect();
        sorted.sort_by(|a, b| deletion_order((a, 0), (b, 0), now));
        sorted.iter().map(|p| p.name().to_string()).collect()
    }

    #[test]
    fn pods_are_deleted_in_kubernetes_order() {
        // Each row: the pods, in the order Kubernetes deletes them.
        let table: Vec<(&str, Vec<Pod>)> = vec![
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
            let expected: Vec<String> = pods.iter().map(|p| p.name().to_string()).collect();
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
        let pods: Vec<Pod> = (0..60)
            .map(|i| {
                let mut p = pod(&format!("p{i}"), "n1", "Running", Some(40 + i % 3), 0, 40 + (i * 7) % 5);
                p.metadata.uid = Some(format!("{:04}", (i * 37) % 60));
                p
            })
            .collect();
        let cmp = |a: &Pod, b: &Pod| deletion_order((a, 0), (b, 0), now);
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
        cheap.metadata.annotations =
            Some([("controller.kubernetes.io/pod-deletion-cost".to_string(), "-5".to_string())].into());
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
        use api::pod::{is_active, is_ready};
        assert!(is_active(&ready) && is_ready(&ready));
        assert!(is_available(&ready, 0, now) && is_available(&ready, 5, now) && !is_available(&ready, 30, now));
        let mut done = ready.clone();
        done.status.as_mut().unwrap().phase = Some("Succeeded".into());
        assert!(!is_active(&done));
        let mut deleting = ready.clone();
        deleting.metadata.deletion_timestamp =
            Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(NOW.parse().unwrap()));
        assert!(!is_active(&deleting));
    }

    #[test]
    fn pods_from_templates_carry_labels_and_the_controller_reference() {
        let owner = json!({"apiVersion": "v1", "kind": "ReplicationController",
                           "metadata": {"name": "kubia", "namespace": "default", "uid": "u1"}});
        let owner: k8s_openapi::api::core::v1::ReplicationController = serde_json::from_value(owner).unwrap();
        let template = json!({"metadata": {"labels": {"app": "kubia"}}, "spec": {"containers": [{"name": "c"}]}});
        let typed = pod_from_template(&serde_json::from_value(template).unwrap(), &Owner::of(&owner));
        assert_eq!(api::pod::controller_of(&typed.metadata).map(|r| r.uid.as_str()), Some("u1"));
        let pod = serde_json::to_value(&typed).unwrap();
        assert_eq!(api::meta::generate_name(&pod), "kubia-");
        assert_eq!(api::meta::namespace(&pod), "default");
        assert_eq!(pod["metadata"]["labels"], json!({"app": "kubia"}));
        assert_eq!(
            pod["metadata"]["ownerReferences"],
            json!([{"apiVersion": "v1", "kind": "ReplicationController", "name": "kubia", "uid": "u1",
                    "controller": true, "blockOwnerDeletion": true}])
        );
    }
}
