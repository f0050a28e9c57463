//! The pods of one node: a worker task per pod fed by the pod source, and a
//! relist loop (Kubernetes' PLEG) that lists the runtime's containers, wakes
//! the worker of every pod whose containers changed, and removes containers of
//! pods this node no longer runs (deleted, or bound elsewhere, while the
//! kubelet was down).
//!
//! Nothing here knows Docker or the API connection: a [`Kubelet`] is built from
//! a [`Runtime`] and a [`PodApi`], so hollow nodes run thousands of them in one
//! process over the fake runtime, fed from one shared pod watch.

pub mod backoff;
pub mod container;
pub mod git_repo;
pub mod images;
pub mod service_env;
pub mod status;
pub mod volumes;
pub mod worker;

#[cfg(test)]
mod tests;

use crate::api::PodApi;
use crate::clock::Clock;
use crate::runtime::{ContainerState, ContainerSummary, Runtime};
use client::Object;
use k8s_openapi::api::core::v1::{Pod, PodStatus};
use service_env::ServiceLinks;
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{watch, Notify};
use worker::{Desired, Worker};

/// What every pod worker of a node shares.
#[derive(Debug, Clone)]
pub struct Settings {
    pub node_name: String,
    /// The node's address: pods' `hostIP`.
    pub node_ip: String,
    pub pause_image: String,
    pub backoff: backoff::Policy,
    /// How often the runtime is relisted.
    pub relist_period: Duration,
    /// How often a pod is synced when nothing happens.
    pub resync_period: Duration,
    /// The scheme of container IDs in pod status (`docker`).
    pub runtime_name: &'static str,
    pub node_cpu_millis: i64,
    pub node_memory_bytes: i64,
    /// The node's filesystem as pods see it (hostPath, emptyDir): a directory
    /// the kubelet and the container engine see at this same path.
    pub root_dir: std::path::PathBuf,
    /// Node paths every node shares (`--shared-paths`).
    pub shared: SharedPaths,
}

/// Node paths that are one directory on every node: a network share mounted at
/// the same place on each. A node path under one of `paths` lives under
/// `root` instead of the node's own root.
#[derive(Debug, Clone, Default)]
pub struct SharedPaths {
    pub root: std::path::PathBuf,
    /// Absolute node paths (`/tmp/hostpath-provisioner`).
    pub paths: Vec<String>,
}

impl SharedPaths {
    /// Whether the node path (relative to `/`, no `..`: validation refuses
    /// those) is under a shared path, compared component by component.
    pub fn shares(&self, relative: &std::path::Path) -> bool {
        self.paths.iter().any(|p| {
            let p = p.trim_matches('/');
            !p.is_empty() && relative.starts_with(p)
        })
    }
}

#[cfg(test)]
impl Settings {
    /// The settings unit tests run a kubelet with: node `node` at 172.18.0.2,
    /// relisting every second.
    pub(crate) fn for_tests(node: &str) -> Self {
        Settings {
            node_name: node.into(),
            node_ip: "172.18.0.2".into(),
            pause_image: "kubelab/pause:latest".into(),
            backoff: backoff::Policy::default(),
            relist_period: Duration::from_secs(1),
            resync_period: Duration::from_secs(60),
            runtime_name: "docker",
            node_cpu_millis: 2000,
            node_memory_bytes: 4 << 30,
            root_dir: std::env::temp_dir().join(format!("kubelab-unit-{}-{node}", std::process::id())),
            shared: SharedPaths::default(),
        }
    }
}

/// A change in the set of pods bound to the node.
#[derive(Debug, Clone)]
pub enum PodEvent {
    Applied(Arc<Pod>),
    Deleted(Arc<Pod>),
    /// The source has listed every pod once: containers of pods not seen by
    /// now belong to no pod of this node.
    Synced,
}

struct WorkerEntry {
    desired: watch::Sender<Desired>,
    wake: Arc<Notify>,
    status: Arc<Mutex<Option<Arc<PodStatus>>>>,
}

pub(crate) struct Shared {
    pub settings: Settings,
    pub runtime: Arc<dyn Runtime>,
    pub api: Arc<dyn PodApi>,
    pub clock: Clock,
    /// The Services containers get variables for; None: no service variables.
    pub services: Option<Arc<ServiceLinks>>,
    workers: Mutex<HashMap<String, WorkerEntry>>,
    synced: AtomicBool,
    /// Set by `shutdown`: with no workers left, every container would look orphaned.
    stopped: AtomicBool,
    runtime_ok: AtomicBool,
    /// Pods whose leftover containers are being removed.
    cleaning: Mutex<HashSet<String>>,
    /// Per pod uid, the (id, state) of its containers at the last relist.
    last_relist: Mutex<HashMap<String, u64>>,
}

impl Shared {
    fn workers(&self) -> std::sync::MutexGuard<'_, HashMap<String, WorkerEntry>> {
        self.workers.lock().expect("workers lock")
    }

    /// Called by a worker when its pod is gone; a newer worker for the same uid stays.
    pub(crate) fn worker_finished(&self, uid: &str, wake: &Arc<Notify>) {
        let mut workers = self.workers();
        if workers.get(uid).is_some_and(|w| Arc::ptr_eq(&w.wake, wake)) {
            workers.remove(uid);
        }
    }
}

/// The pods of one node. Cheap to clone.
#[derive(Clone)]
pub struct Kubelet {
    shared: Arc<Shared>,
}

impl Kubelet {
    /// A kubelet whose containers get no service variables (as Kubernetes'
    /// kubelet without a service lister): hollow nodes, whose fake containers
    /// have no environment to read.
    pub fn new(settings: Settings, runtime: Arc<dyn Runtime>, api: Arc<dyn PodApi>, clock: Clock) -> Self {
        Self::build(settings, runtime, api, clock, None)
    }

    /// A kubelet whose containers get the variables of `services`; no
    /// container starts before their first list (see [`service_env::SYNC_WAIT`]).
    pub fn with_services(
        settings: Settings,
        runtime: Arc<dyn Runtime>,
        api: Arc<dyn PodApi>,
        clock: Clock,
        services: Arc<ServiceLinks>,
    ) -> Self {
        Self::build(settings, runtime, api, clock, Some(services))
    }

    fn build(
        settings: Settings,
        runtime: Arc<dyn Runtime>,
        api: Arc<dyn PodApi>,
        clock: Clock,
        services: Option<Arc<ServiceLinks>>,
    ) -> Self {
        Self {
            shared: Arc::new(Shared {
                settings,
                runtime,
                api,
                clock,
                services,
                workers: Default::default(),
                synced: AtomicBool::new(false),
                stopped: AtomicBool::new(false),
                runtime_ok: AtomicBool::new(true),
                cleaning: Default::default(),
                last_relist: Default::default(),
            }),
        }
    }

    pub fn settings(&self) -> &Settings {
        &self.shared.settings
    }

    pub fn runtime(&self) -> Arc<dyn Runtime> {
        self.shared.runtime.clone()
    }

    /// Whether the last relist reached the runtime (the node's Ready condition).
    pub fn runtime_healthy(&self) -> bool {
        self.shared.runtime_ok.load(Ordering::Relaxed)
    }

    /// How many pods have a worker.
    pub fn pod_count(&self) -> usize {
        self.shared.workers().len()
    }

    /// Feeds one change from the pod source to the pod's worker, starting it if needed.
    pub fn handle(&self, event: PodEvent) {
        let (pod, removed) = match event {
            PodEvent::Synced => {
                self.shared.synced.store(true, Ordering::Relaxed);
                return;
            }
            PodEvent::Applied(pod) => {
                let bound = api::pod::node_name(&pod) == self.shared.settings.node_name;
                (pod, !bound)
            }
            PodEvent::Deleted(pod) => (pod, true),
        };
        let uid = pod.uid().to_string();
        let desired = Desired { pod, removed };
        let mut workers = self.shared.workers();
        if self.stopped() {
            return;
        }
        if let Some(w) = workers.get(&uid) {
            w.desired.send_replace(desired);
            return;
        }
        if removed {
            // Never ran here (or already cleaned up): the relist loop removes any leftovers.
            return;
        }
        let (tx, rx) = watch::channel(desired);
        let wake = Arc::new(Notify::new());
        let status = Arc::new(Mutex::new(None));
        let worker = Worker::new(self.shared.clone(), rx, wake.clone(), status.clone());
        workers.insert(uid, WorkerEntry { desired: tx, wake, status });
        tokio::spawn(worker.run());
    }

    /// The pod named `namespace/name` on this node, with the status its worker
    /// last computed (fresher than the API's).
    pub fn pod(&self, namespace: &str, name: &str) -> Option<(Arc<Pod>, Option<Arc<PodStatus>>)> {
        self.pods().into_iter().find(|(pod, _)| pod.namespace() == namespace && pod.name() == name)
    }

    /// Every pod on this node that is not being removed, each with the status
    /// its worker last computed.
    pub fn pods(&self) -> Vec<(Arc<Pod>, Option<Arc<PodStatus>>)> {
        let workers = self.shared.workers();
        workers
            .values()
            .filter_map(|w| {
                let d = w.desired.borrow();
                (!d.removed).then(|| (d.pod.clone(), w.status.lock().expect("status lock").clone()))
            })
            .collect()
    }

    /// Relists every `relist_period` until `shutdown` resolves.
    pub async fn run_relist(&self, shutdown: impl std::future::Future<Output = ()>) {
        let mut ticker = tokio::time::interval(self.shared.settings.relist_period);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                _ = &mut shutdown => return,
                _ = ticker.tick() => self.relist().await,
            }
        }
    }

    /// Stops every worker, leaving containers as they are (a kubelet restart
    /// must not disturb running pods).
    pub fn shutdown(&self) {
        self.shared.stopped.store(true, Ordering::SeqCst);
        self.shared.workers().clear();
    }

    fn stopped(&self) -> bool {
        self.shared.stopped.load(Ordering::SeqCst)
    }

    /// One relist: wake workers whose pods changed, clean up orphans.
    pub async fn relist(&self) {
        let shared = &self.shared;
        let list = match shared.runtime.list_containers(&shared.settings.node_name).await {
            Ok(l) => {
                shared.runtime_ok.store(true, Ordering::Relaxed);
                l
            }
            Err(e) => {
                if shared.runtime_ok.swap(false, Ordering::Relaxed) {
                    tracing::error!(error = %e, "the container runtime is unreachable");
                }
                return;
            }
        };
        let mut by_pod: HashMap<String, Vec<ContainerSummary>> = HashMap::new();
        for c in list {
            by_pod.entry(c.meta.pod_uid.clone()).or_default().push(c);
        }
        let snapshot: HashMap<String, u64> = by_pod.iter().map(|(uid, cs)| (uid.clone(), fingerprint(cs))).collect();
        let changed: Vec<String> = {
            let mut last = shared.last_relist.lock().expect("relist lock");
            let appeared_or_changed = snapshot.iter().filter(|(uid, f)| last.get(*uid) != Some(f)).map(|(uid, _)| uid);
            let gone = last.keys().filter(|uid| !snapshot.contains_key(*uid));
            let changed = appeared_or_changed.chain(gone).cloned().collect();
            *last = snapshot;
            changed
        };
        let mut orphans = Vec::new();
        {
            let workers = shared.workers();
            for uid in &changed {
                if let Some(w) = workers.get(uid) {
                    w.wake.notify_one();
                }
            }
            // A kubelet shutting down has dropped its workers; its pods are not orphans.
            if shared.synced.load(Ordering::Relaxed) && !self.stopped() {
                let mut cleaning = shared.cleaning.lock().expect("cleaning lock");
                for (uid, containers) in by_pod {
                    if !workers.contains_key(&uid) && cleaning.insert(uid.clone()) {
                        orphans.push((uid, containers));
                    }
                }
            }
        }
        for (uid, containers) in orphans {
            let shared = self.shared.clone();
            tokio::spawn(async move {
                remove_orphan(&shared, &containers).await;
                shared.cleaning.lock().expect("cleaning lock").remove(&uid);
            });
        }
    }
}

/// A pod's containers, their ids and states, as one number: two relists that
/// see the same containers in the same states agree, and a relist keeps one
/// number per pod instead of a copy of every container's id.
fn fingerprint(containers: &[ContainerSummary]) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut states: Vec<(&str, ContainerState)> = containers.iter().map(|c| (c.id.as_str(), c.state)).collect();
    states.sort_unstable_by(|a, b| a.0.cmp(b.0));
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    states.hash(&mut hasher);
    hasher.finish()
}

/// Stops (apps first, then the sandbox) and removes the containers of a pod
/// this node does not run, with the grace period recorded in their labels.
async fn remove_orphan(shared: &Shared, containers: &[ContainerSummary]) {
    let Some(first) = containers.first() else { return };
    tracing::info!(
        pod = %format!("{}/{}", first.meta.pod_namespace, first.meta.pod_name),
        uid = %first.meta.pod_uid,
        "removing the containers of a pod that is not bound to this node any more"
    );
    let grace = |c: &ContainerSummary| Duration::from_secs(c.meta.grace_period.unwrap_or(30).max(2) as u64);
    let (sandboxes, apps): (Vec<&ContainerSummary>, Vec<&ContainerSummary>) =
        containers.iter().partition(|c| c.meta.is_sandbox());
    // App containers first, then the sandbox whose network they use.
    for group in [apps, sandboxes] {
        let running = group.into_iter().filter(|c| c.state == ContainerState::Running);
        futures::future::join_all(running.map(|c| shared.runtime.stop_container(&c.id, grace(c)))).await;
    }
    for c in containers {
        if let Err(e) = shared.runtime.remove_container(&c.id).await {
            if !e.is_not_found() {
                tracing::warn!(container = %c.id, error = %e, "removing an orphaned container failed");
            }
        }
    }
    if let Err(e) = volumes::tear_down(&first.meta.pod_uid, &shared.settings, &*shared.runtime).await {
        tracing::warn!(uid = %first.meta.pod_uid, error = %e, "removing an orphaned pod's volumes failed");
    }
}
