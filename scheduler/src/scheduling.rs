//! The scheduler's state machine, without I/O: informer events go in
//! (`node_applied`, `pod_applied`, ...), decisions come out (`schedule_next`),
//! and binding results go back in (`binding_finished`). The daemon loop in
//! `lib.rs` feeds it from the apiserver; tests and benchmarks feed it directly.

use crate::algorithm::{Algorithm, ScheduleError};
use crate::cache::{Cache, NodeChange};
use crate::framework::{self, PodInfo, PodUsage};
use crate::queue::SchedulingQueue;
use client::watcher::key_of;
use client::Object;
use k8s_openapi::api::core::v1::{Node, PersistentVolume, PersistentVolumeClaim, Pod};
use k8s_openapi::api::storage::v1::StorageClass;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// The PodScheduled condition's reason when no node fits.
pub const REASON_UNSCHEDULABLE: &str = "Unschedulable";
/// The PodScheduled condition's reason when scheduling failed for another cause.
pub const REASON_SCHEDULER_ERROR: &str = "SchedulerError";

/// What to do about one pod.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    /// Bind the pod to the node; the pod is already assumed there.
    Bind { pod: Arc<Pod>, node: String },
    /// The pod fits nowhere (`reason` Unschedulable) or scheduling failed
    /// (`reason` SchedulerError): tell the user, in `message`.
    Failed { pod: Arc<Pod>, reason: &'static str, message: String },
}

const HOSTNAME: &str = "kubernetes.io/hostname";

/// A claim as the VolumeBinding check sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Claim {
    bound: bool,
    /// The PV it is bound to ("" while unbound).
    volume: String,
    class: Option<String>,
    deleting: bool,
}

/// Settings of the state machine (the daemon's flags, minus I/O).
#[derive(Debug, Clone)]
pub struct Settings {
    pub scheduler_name: String,
    pub percentage_of_nodes_to_score: u32,
    pub pod_initial_backoff: Duration,
    pub pod_max_backoff: Duration,
    /// Makes tie-breaking reproducible; None in production.
    pub seed: Option<u64>,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            scheduler_name: "default-scheduler".into(),
            percentage_of_nodes_to_score: 0,
            pod_initial_backoff: Duration::from_secs(1),
            pod_max_backoff: Duration::from_secs(10),
            seed: None,
        }
    }
}

pub struct Scheduler {
    scheduler_name: String,
    pub cache: Cache,
    pub queue: SchedulingQueue,
    algorithm: Algorithm,
    /// The latest object of every pod waiting for this scheduler.
    pending: HashMap<String, Arc<Pod>>,
    /// What the VolumeBinding check needs of each claim, by `namespace/name`.
    claims: HashMap<String, Claim>,
    /// Each StorageClass: whether it waits for the first consumer, and whether it is the default.
    classes: HashMap<String, (bool, bool)>,
    /// The one node each PV pinned to a node (`nodeAffinity` on
    /// `kubernetes.io/hostname`) can be used on.
    volume_nodes: HashMap<String, String>,
}

/// Whether an update to a waiting pod could change where it fits: anything
/// but its status and bookkeeping metadata. (The scheduler's own status
/// writes must not make a pod retry itself.)
fn changed_for_scheduling(old: &Pod, new: &Pod) -> bool {
    old.spec != new.spec || !same_but_bookkeeping(&old.metadata, &new.metadata)
}

/// Whether two versions of an object's metadata differ at most in
/// resourceVersion, generation and managedFields. Every field is named, so a
/// field added to ObjectMeta stops this compiling until it is placed.
fn same_but_bookkeeping(old: &ObjectMeta, new: &ObjectMeta) -> bool {
    let ObjectMeta {
        annotations,
        creation_timestamp,
        deletion_grace_period_seconds,
        deletion_timestamp,
        finalizers,
        generate_name,
        generation: _,
        labels,
        managed_fields: _,
        name,
        namespace,
        owner_references,
        resource_version: _,
        self_link,
        uid,
    } = old;
    *annotations == new.annotations
        && *creation_timestamp == new.creation_timestamp
        && *deletion_grace_period_seconds == new.deletion_grace_period_seconds
        && *deletion_timestamp == new.deletion_timestamp
        && *finalizers == new.finalizers
        && *generate_name == new.generate_name
        && *labels == new.labels
        && *name == new.name
        && *namespace == new.namespace
        && *owner_references == new.owner_references
        && *self_link == new.self_link
        && *uid == new.uid
}

impl Scheduler {
    pub fn new(settings: Settings) -> Self {
        Self {
            scheduler_name: settings.scheduler_name,
            cache: Cache::default(),
            queue: SchedulingQueue::new(settings.pod_initial_backoff, settings.pod_max_backoff),
            algorithm: Algorithm::new(settings.percentage_of_nodes_to_score, settings.seed),
            pending: HashMap::new(),
            claims: HashMap::new(),
            classes: HashMap::new(),
            volume_nodes: HashMap::new(),
        }
    }

    /// A volume changed: a pod waiting for its node may fit now.
    pub fn volume_applied(&mut self, pv: &PersistentVolume, now: Instant) {
        let terms = pv.spec.as_ref().and_then(|s| s.node_affinity.as_ref()).and_then(|a| a.required.as_ref());
        let node = terms.and_then(|r| match r.node_selector_terms.as_slice() {
            [term] => match term.match_expressions.as_deref() {
                Some([e]) if e.key == HOSTNAME && e.operator == "In" => match e.values.as_deref() {
                    Some([node]) => Some(node.clone()),
                    _ => None,
                },
                _ => None,
            },
            _ => None,
        });
        let changed = match node {
            Some(node) => self.volume_nodes.insert(pv.name().to_string(), node.clone()).as_ref() != Some(&node),
            None => self.volume_nodes.remove(pv.name()).is_some(),
        };
        if changed {
            self.queue.move_all_unschedulable(now);
        }
    }

    pub fn volume_deleted(&mut self, pv: &PersistentVolume) {
        self.volume_nodes.remove(pv.name());
    }

    /// The node the pod's bound volumes pin it to (VolumeBinding's filter
    /// for volumes with a node affinity on one hostname): the pod as the
    /// filters should see it, with that hostname in its nodeSelector.
    fn pinned_by_volumes(&self, pod: &Arc<Pod>) -> Arc<Pod> {
        let volumes = pod.spec.as_ref().and_then(|s| s.volumes.as_deref()).unwrap_or_default();
        let pins: Vec<&String> = volumes
            .iter()
            .filter_map(|v| v.persistent_volume_claim.as_ref())
            .filter_map(|c| self.claims.get(&format!("{}/{}", pod.namespace(), c.claim_name)))
            .filter_map(|c| self.volume_nodes.get(&c.volume))
            .collect();
        let Some(node) = pins.first().map(|n| (*n).clone()) else { return pod.clone() };
        let mut pinned = (**pod).clone();
        let selector =
            pinned.spec.get_or_insert_with(Default::default).node_selector.get_or_insert_with(Default::default);
        let asked_elsewhere = selector.get(HOSTNAME).is_some_and(|asked| *asked != node);
        // Volumes on two nodes, or a pod asking for another node: no node has
        // the empty hostname, so none fits.
        let wanted = if asked_elsewhere || pins.iter().any(|n| **n != node) { String::new() } else { node };
        selector.insert(HOSTNAME.into(), wanted);
        Arc::new(pinned)
    }

    /// A claim changed: pods waiting for it may fit now.
    pub fn claim_applied(&mut self, pvc: &PersistentVolumeClaim, now: Instant) {
        let spec = pvc.spec.as_ref();
        let volume = spec.and_then(|s| s.volume_name.clone()).unwrap_or_default();
        let claim = Claim {
            bound: !volume.is_empty(),
            volume,
            class: spec.and_then(|s| s.storage_class_name.clone()),
            deleting: pvc.metadata.deletion_timestamp.is_some(),
        };
        if self.claims.insert(key_of(pvc), claim.clone()).as_ref() != Some(&claim) {
            self.queue.move_all_unschedulable(now);
        }
    }

    pub fn claim_deleted(&mut self, pvc: &PersistentVolumeClaim) {
        self.claims.remove(&key_of(pvc));
    }

    pub fn class_applied(&mut self, class: &StorageClass, now: Instant) {
        let wait = class.volume_binding_mode.as_deref() == Some("WaitForFirstConsumer");
        let default = api::printers::is_default_class(&class.metadata);
        self.classes.insert(class.name().to_string(), (wait, default));
        self.queue.move_all_unschedulable(now);
    }

    pub fn class_deleted(&mut self, class: &StorageClass) {
        self.classes.remove(class.name());
    }

    /// kube-scheduler's VolumeBinding PreFilter: a pod whose claim is missing,
    /// being deleted, or unbound in a class that binds at once waits.
    fn volume_check(&self, pod: &Pod) -> Option<String> {
        let volumes = pod.spec.as_ref().and_then(|s| s.volumes.as_deref()).unwrap_or_default();
        let mut unbound_immediate = false;
        for claim in volumes.iter().filter_map(|v| v.persistent_volume_claim.as_ref()) {
            let name = &claim.claim_name;
            let Some(c) = self.claims.get(&format!("{}/{name}", pod.namespace())) else {
                return Some(format!("persistentvolumeclaim {name:?} not found"));
            };
            if c.deleting {
                return Some(format!("persistentvolumeclaim {name:?} is being deleted"));
            }
            if !c.bound {
                let waits = match c.class.as_deref() {
                    Some(class) => self.classes.get(class).is_some_and(|(wait, _)| *wait),
                    None => self.classes.values().any(|(wait, default)| *default && *wait),
                };
                unbound_immediate |= !waits;
            }
        }
        unbound_immediate.then(|| "pod has unbound immediate PersistentVolumeClaims".to_string())
    }

    /// Whether this scheduler should place `pod`: unbound, asking for this
    /// scheduler (an empty name means the default one), not being deleted, not finished.
    pub fn is_responsible_for(&self, pod: &Pod) -> bool {
        let name = pod
            .spec
            .as_ref()
            .and_then(|s| s.scheduler_name.as_deref())
            .filter(|s| !s.is_empty())
            .unwrap_or("default-scheduler");
        api::pod::node_name(pod).is_empty()
            && name == self.scheduler_name
            && !api::pod::is_terminating(&pod.metadata)
            && !api::pod::is_finished(pod)
    }

    pub fn node_applied(&mut self, node: &Node, now: Instant) {
        match self.cache.apply_node(node) {
            NodeChange::Added | NodeChange::Changed => self.queue.move_all_unschedulable(now),
            NodeChange::Unchanged => {}
        }
    }

    /// A deleted node frees nothing a waiting pod could use, so nobody is retried.
    pub fn node_deleted(&mut self, node: &Node) {
        self.cache.remove_node(node.name());
    }

    /// A pod as the watch delivers it, shared with the informer: a waiting pod
    /// is kept without copying it.
    pub fn pod_applied(&mut self, pod: &Arc<Pod>, now: Instant) {
        let key = key_of(pod);
        let node = api::pod::node_name(pod);
        if !node.is_empty() {
            self.forget_pending(&key);
            if api::pod::is_finished(pod) {
                // A finished pod no longer holds its resources.
                self.pod_gone(&key, now);
            } else {
                self.cache.apply_pod(&key, node, PodUsage::from_pod(pod));
            }
            return;
        }
        if !self.is_responsible_for(pod) {
            self.forget_pending(&key);
            return;
        }
        if self.cache.is_assumed(&key) {
            // Already placed; this is an older state the watch is catching up on.
            return;
        }
        let priority = framework::priority(pod);
        let changed = self.pending.get(&key).is_some_and(|old| changed_for_scheduling(old, pod));
        self.pending.insert(key.clone(), Arc::clone(pod));
        self.queue.add(&key, priority);
        if changed {
            self.queue.pod_updated(&key, now);
        }
    }

    pub fn pod_deleted(&mut self, pod: &Pod, now: Instant) {
        let key = key_of(pod);
        self.forget_pending(&key);
        self.pod_gone(&key, now);
    }

    fn forget_pending(&mut self, key: &str) {
        self.pending.remove(key);
        self.queue.delete(key);
    }

    fn pod_gone(&mut self, key: &str, now: Instant) {
        if self.cache.remove_pod(key) {
            self.queue.move_all_unschedulable(now);
        }
    }

    /// Decides for the next pod in the active queue, if any. A pod sent to
    /// bind is assumed on its node before this returns.
    pub fn schedule_next(&mut self, now: Instant) -> Option<Decision> {
        loop {
            let key = self.queue.pop(now)?;
            let Some(pod) = self.pending.get(&key).cloned() else {
                self.queue.delete(&key);
                continue;
            };
            if let Some(why) = self.volume_check(&pod) {
                self.queue.unschedulable(&key, now);
                let message = format!("0/{} nodes are available: {why}.", self.cache.nodes().len());
                return Some(Decision::Failed { pod, reason: REASON_UNSCHEDULABLE, message });
            }
            let info = PodInfo::from_pod(&self.pinned_by_volumes(&pod));
            let span = tracing::debug_span!("schedule", namespace = %info.namespace, name = %info.name);
            let _enter = span.enter();
            return Some(match self.algorithm.schedule(&info, self.cache.nodes()) {
                Ok(placement) => {
                    let node = self.cache.nodes()[placement.node].name.clone();
                    tracing::debug!(%node, evaluated = placement.evaluated, feasible = placement.feasible, "placed");
                    self.cache.assume(&key, &node, info.usage);
                    // The queue keeps the pod in flight until the binding is done.
                    Decision::Bind { pod, node }
                }
                Err(ScheduleError::Unschedulable(fit)) => {
                    self.queue.unschedulable(&key, now);
                    Decision::Failed { pod, reason: REASON_UNSCHEDULABLE, message: fit.to_string() }
                }
                Err(e @ ScheduleError::NoNodesAvailable) => {
                    self.queue.retry_after_backoff(&key, now);
                    Decision::Failed { pod, reason: REASON_SCHEDULER_ERROR, message: e.to_string() }
                }
            });
        }
    }

    /// The outcome of a `Bind` decision. A failed binding frees the node and
    /// the pod tries again after its backoff.
    pub fn binding_finished(&mut self, key: &str, ok: bool, now: Instant) {
        if ok {
            self.queue.done(key);
            self.pending.remove(key);
        } else {
            self.cache.forget(key);
            self.queue.retry_after_backoff(key, now);
        }
    }

    pub fn flush_unschedulable_leftover(&mut self, now: Instant, max_wait: Duration) {
        self.queue.flush_unschedulable_leftover(now, max_wait);
    }

    /// Pods waiting for this scheduler.
    pub fn pending_count(&self) -> usize {
        self.pending.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::queue::QueuedState;
    use crate::testing::{node, pod};
    use k8s_openapi::api::core::v1::PodCondition;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

    fn scheduler() -> Scheduler {
        Scheduler::new(Settings { seed: Some(1), ..Default::default() })
    }

    fn bind_target(d: Option<Decision>) -> String {
        match d {
            Some(Decision::Bind { node, .. }) => node,
            other => panic!("expected a binding, got {other:?}"),
        }
    }

    fn failure(d: Option<Decision>) -> String {
        match d {
            Some(Decision::Failed { reason: "Unschedulable", message, .. }) => message,
            other => panic!("expected Unschedulable, got {other:?}"),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_pod_waits_for_its_claim_to_exist_and_for_an_immediate_claim_to_be_bound() {
        let mut s = scheduler();
        let now = Instant::now();
        s.node_applied(&node("n1").build(), now);
        let mut p = pod("mongodb").build();
        let volume = serde_json::json!([{"name": "data", "persistentVolumeClaim": {"claimName": "mongodb-pvc"}}]);
        p.spec.as_mut().unwrap().volumes = Some(serde_json::from_value(volume).unwrap());
        s.pod_applied(&Arc::new(p), now);
        assert_eq!(
            failure(s.schedule_next(now)),
            "0/1 nodes are available: persistentvolumeclaim \"mongodb-pvc\" not found."
        );

        let claim = |class: &str, volume: &str| -> PersistentVolumeClaim {
            serde_json::from_value(serde_json::json!({
                "metadata": {"name": "mongodb-pvc", "namespace": "default"},
                "spec": {"storageClassName": class, "volumeName": volume}}))
            .unwrap()
        };
        tokio::time::advance(Duration::from_secs(1)).await;
        s.claim_applied(&claim("", ""), Instant::now());
        assert_eq!(
            failure(s.schedule_next(Instant::now())),
            "0/1 nodes are available: pod has unbound immediate PersistentVolumeClaims."
        );
        tokio::time::advance(Duration::from_secs(2)).await;
        s.claim_applied(&claim("", "mongodb-pv"), Instant::now());
        assert_eq!(bind_target(s.schedule_next(Instant::now())), "n1");
    }

    #[tokio::test(start_paused = true)]
    async fn a_pod_goes_to_the_node_its_bound_volume_is_pinned_to() {
        let mut s = scheduler();
        let now = Instant::now();
        for n in ["n1", "n2", "n3"] {
            s.node_applied(&node(n).label("kubernetes.io/hostname", n).build(), now);
        }
        let pvc: PersistentVolumeClaim = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "data", "namespace": "default"}, "spec": {"volumeName": "pvc-1"}}))
        .unwrap();
        s.claim_applied(&pvc, now);
        let pv: PersistentVolume = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "pvc-1"},
            "spec": {"nodeAffinity": {"required": {"nodeSelectorTerms": [{"matchExpressions": [
                {"key": "kubernetes.io/hostname", "operator": "In", "values": ["n2"]}]}]}}}}))
        .unwrap();
        s.volume_applied(&pv, now);
        for i in 0..5 {
            let mut p = pod(&format!("user-{i}")).build();
            let volume = serde_json::json!([{"name": "data", "persistentVolumeClaim": {"claimName": "data"}}]);
            p.spec.as_mut().unwrap().volumes = Some(serde_json::from_value(volume).unwrap());
            s.pod_applied(&Arc::new(p), now);
            assert_eq!(bind_target(s.schedule_next(now)), "n2");
            s.binding_finished(&format!("default/user-{i}"), true, now);
        }
    }

    #[tokio::test(start_paused = true)]
    async fn an_unbound_claim_of_a_wait_for_first_consumer_class_does_not_hold_the_pod() {
        let mut s = scheduler();
        let now = Instant::now();
        s.node_applied(&node("n1").build(), now);
        let class: StorageClass = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "local"}, "provisioner": "kubelab.io/hostpath",
            "volumeBindingMode": "WaitForFirstConsumer"}))
        .unwrap();
        s.class_applied(&class, now);
        let pvc: PersistentVolumeClaim = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "later", "namespace": "default"}, "spec": {"storageClassName": "local"}}))
        .unwrap();
        s.claim_applied(&pvc, now);
        let mut p = pod("consumer").build();
        let volume = serde_json::json!([{"name": "data", "persistentVolumeClaim": {"claimName": "later"}}]);
        p.spec.as_mut().unwrap().volumes = Some(serde_json::from_value(volume).unwrap());
        s.pod_applied(&Arc::new(p), now);
        assert_eq!(bind_target(s.schedule_next(now)), "n1");
    }

    #[tokio::test(start_paused = true)]
    async fn a_waiting_pod_is_scheduled_once_a_node_is_labelled() {
        let mut s = scheduler();
        let now = Instant::now();
        for n in ["n1", "n2", "n3"] {
            s.node_applied(&node(n).build(), now);
        }
        s.pod_applied(&pod("gpu-pod").node_selector("gpu", "true").shared(), now);
        match s.schedule_next(now) {
            Some(Decision::Failed { reason, message, .. }) => {
                assert_eq!(reason, "Unschedulable");
                assert_eq!(message, "0/3 nodes are available: 3 node(s) didn't match Pod's node affinity/selector.");
            }
            other => panic!("expected a failure, got {other:?}"),
        }
        assert_eq!(s.schedule_next(now), None, "it waits instead of spinning");

        // A heartbeat changes nothing the filters see.
        let mut beat = node("n2").build();
        let conditions = beat.status.as_mut().and_then(|s| s.conditions.as_mut()).unwrap();
        conditions[0].last_heartbeat_time = Some(Time("2024-01-01T00:00:10Z".parse().unwrap()));
        s.node_applied(&beat, now);
        assert_eq!(s.queue.state("default/gpu-pod"), Some(QueuedState::Unschedulable));

        tokio::time::advance(Duration::from_secs(1)).await;
        s.node_applied(&node("n2").label("gpu", "true").build(), Instant::now());
        assert_eq!(bind_target(s.schedule_next(Instant::now())), "n2");
    }

    #[tokio::test(start_paused = true)]
    async fn the_next_pod_sees_the_last_binding_before_the_watch_does() {
        let mut s = scheduler();
        let now = Instant::now();
        s.node_applied(&node("small").allocatable("1", "1Gi", 110).build(), now);
        s.pod_applied(&pod("a").cpu("600m").shared(), now);
        s.pod_applied(&pod("b").cpu("600m").shared(), now);
        assert_eq!(bind_target(s.schedule_next(now)), "small");
        match s.schedule_next(now) {
            Some(Decision::Failed { message, .. }) => {
                assert_eq!(message, "0/1 nodes are available: 1 Insufficient cpu.")
            }
            other => panic!("the assumed pod must count, got {other:?}"),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_failed_binding_frees_the_node_and_retries() {
        let mut s = scheduler();
        let now = Instant::now();
        s.node_applied(&node("n1").allocatable("1", "1Gi", 110).build(), now);
        s.pod_applied(&pod("a").cpu("1").shared(), now);
        assert_eq!(bind_target(s.schedule_next(now)), "n1");
        s.binding_finished("default/a", false, now);
        assert_eq!(s.cache.node("n1").unwrap().requested.milli_cpu, 0);
        assert_eq!(s.queue.state("default/a"), Some(QueuedState::Backoff));
        tokio::time::advance(Duration::from_secs(1)).await;
        assert_eq!(bind_target(s.schedule_next(Instant::now())), "n1");
    }

    #[tokio::test(start_paused = true)]
    async fn stale_events_of_a_bound_pod_do_not_schedule_it_twice() {
        let mut s = scheduler();
        let now = Instant::now();
        s.node_applied(&node("n1").build(), now);
        let waiting = pod("a").shared();
        s.pod_applied(&waiting, now);
        bind_target(s.schedule_next(now));
        s.binding_finished("default/a", true, now);
        // The watch still delivers an update from before the binding.
        s.pod_applied(&waiting, now);
        assert_eq!(s.schedule_next(now), None);
        s.pod_applied(&pod("a").node_name("n1").shared(), now);
        assert!(!s.cache.is_assumed("default/a"));
        assert_eq!(s.cache.node("n1").unwrap().pod_count, 1);
    }

    #[tokio::test(start_paused = true)]
    async fn deleted_and_finished_pods_free_room_for_waiting_ones() {
        let mut s = scheduler();
        let now = Instant::now();
        s.node_applied(&node("n1").allocatable("1", "1Gi", 110).build(), now);
        s.pod_applied(&pod("running").cpu("1").node_name("n1").shared(), now);
        s.pod_applied(&pod("job").cpu("1").node_name("n1").shared(), now);
        s.pod_applied(&pod("waiting").cpu("1").shared(), now);
        assert!(matches!(s.schedule_next(now), Some(Decision::Failed { .. })));

        tokio::time::advance(Duration::from_secs(5)).await;
        s.pod_deleted(&pod("running").node_name("n1").build(), Instant::now());
        assert!(matches!(s.schedule_next(Instant::now()), Some(Decision::Failed { .. })), "one pod still there");

        tokio::time::advance(Duration::from_secs(5)).await;
        s.pod_applied(&pod("job").cpu("1").node_name("n1").phase("Succeeded").shared(), Instant::now());
        assert_eq!(bind_target(s.schedule_next(Instant::now())), "n1");
    }

    #[tokio::test(start_paused = true)]
    async fn only_our_pending_pods_are_scheduled() {
        let mut s = scheduler();
        let now = Instant::now();
        s.node_applied(&node("n1").build(), now);
        s.pod_applied(&pod("other").scheduler_name("my-scheduler").shared(), now);
        s.pod_applied(&pod("bound").node_name("n1").shared(), now);
        let mut deleting = pod("deleting").build();
        deleting.metadata.deletion_timestamp = Some(Time("2024-01-01T00:00:00Z".parse().unwrap()));
        s.pod_applied(&Arc::new(deleting), now);
        s.pod_applied(&pod("done").phase("Failed").shared(), now);
        assert_eq!(s.schedule_next(now), None);
        assert_eq!(s.pending_count(), 0);

        let mut unnamed = pod("unnamed").build();
        unnamed.spec.as_mut().unwrap().scheduler_name = None;
        s.pod_applied(&Arc::new(unnamed), now);
        assert_eq!(bind_target(s.schedule_next(now)), "n1", "no scheduler name means the default one");
    }

    #[tokio::test(start_paused = true)]
    async fn our_own_status_writes_do_not_retry_the_pod_but_its_changes_do() {
        let mut s = scheduler();
        let now = Instant::now();
        s.node_applied(&node("n1").taint("dedicated", "x", "NoSchedule").build(), now);
        let p = pod("p");
        s.pod_applied(&p.shared(), now);
        assert!(matches!(s.schedule_next(now), Some(Decision::Failed { .. })));

        tokio::time::advance(Duration::from_secs(2)).await;
        let mut with_condition = p.build();
        with_condition.metadata.resource_version = Some("99".into());
        with_condition.status.as_mut().unwrap().conditions =
            Some(vec![PodCondition { type_: "PodScheduled".into(), status: "False".into(), ..Default::default() }]);
        s.pod_applied(&Arc::new(with_condition), Instant::now());
        assert_eq!(s.schedule_next(Instant::now()), None);

        s.pod_applied(&p.toleration("dedicated", "Exists", "", "").shared(), Instant::now());
        assert_eq!(bind_target(s.schedule_next(Instant::now())), "n1");
    }

    #[tokio::test(start_paused = true)]
    async fn with_no_nodes_the_pod_retries_with_backoff() {
        let mut s = scheduler();
        let now = Instant::now();
        s.pod_applied(&pod("p").shared(), now);
        match s.schedule_next(now) {
            Some(Decision::Failed { reason, message, .. }) => {
                assert_eq!((reason, message.as_str()), ("SchedulerError", "no nodes available to schedule pods"));
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(s.queue.state("default/p"), Some(QueuedState::Backoff));
        s.node_applied(&node("n1").build(), now);
        tokio::time::advance(Duration::from_secs(1)).await;
        assert_eq!(bind_target(s.schedule_next(Instant::now())), "n1");
    }
}
