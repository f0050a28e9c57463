//! What every controller is and how it runs, as client-go's controller loop:
//! handlers that only turn changes into keys on a [`WorkQueue`], and workers
//! that take keys off the queue and call `reconcile(key)`, which looks at the
//! whole state of that object (level-triggered), never at the event that woke
//! it. A failed key comes back after a per-key exponential backoff; a
//! reconcile may also ask to be called again after a while.
//!
//! A controller is one file: a struct holding the stores it reads and the
//! clients it writes with, implementing [`Controller`]. It names each informer
//! it watches with the method that handles that informer's changes
//! ([`Watch`]), as client-go's `informer.AddEventHandler(...)`.

use api::ApiError;
use client::informer::{Change, SharedInformer};
use client::queue::WorkQueue;
use client::Object;
use futures::future::BoxFuture;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tracing::Instrument;

/// What a successful reconcile asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Nothing until something changes.
    Done,
    /// Look again after this long even if nothing changes (a grace period or a
    /// toleration running out).
    RequeueAfter(Duration),
}

impl Action {
    /// The sooner of two requests.
    pub fn min(self, other: Action) -> Action {
        match (self, other) {
            (Action::Done, a) | (a, Action::Done) => a,
            (Action::RequeueAfter(a), Action::RequeueAfter(b)) => Action::RequeueAfter(a.min(b)),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Api(#[from] ApiError),
    /// The object cannot be acted on as it is (an unparsable selector); retried
    /// like any error, as the object may be fixed.
    #[error("{0}")]
    Invalid(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[async_trait::async_trait]
pub trait Controller: Send + Sync + 'static {
    /// The name `--controllers` knows it by: `replicaset`, `garbagecollector`, ...
    fn name(&self) -> &'static str;

    /// The informers the controller watches, each with the handler that turns
    /// its changes into keys on the queue (client-go's `AddEventHandler`).
    fn watches(self: Arc<Self>) -> Vec<Watch>;

    /// Queues every key the controller is responsible for (after the first sync,
    /// when changes were lost, and every [`resync_period`](Self::resync_period)).
    fn resync(&self, queue: &WorkQueue);

    /// How often to resync even without changes; None: never.
    fn resync_period(&self) -> Option<Duration> {
        None
    }

    /// Brings the object behind `key` to its desired state.
    async fn reconcile(&self, key: &str) -> Result<Action>;
}

/// One informer a controller watches and what handles its changes. The
/// handler must not block: it only looks at caches and adds keys.
pub struct Watch(Arc<dyn Watched>);

/// An informer of some object type with its handler, as [`run`] drives it.
trait Watched: Send + Sync {
    fn wait_synced(&self) -> BoxFuture<'_, ()>;
    /// Subscribes (at once) and hands every change but `Resync` to the handler
    /// until the returned task is aborted; `Resync` resyncs the controller.
    fn start(self: Arc<Self>, controller: Arc<dyn Controller>, queue: WorkQueue) -> tokio::task::JoinHandle<()>;
}

struct Handled<K, F> {
    informer: Arc<SharedInformer<K>>,
    handler: F,
}

impl<K: Object, F: Fn(&Change<K>, &WorkQueue) + Send + Sync + 'static> Watched for Handled<K, F> {
    fn wait_synced(&self) -> BoxFuture<'_, ()> {
        Box::pin(self.informer.wait_synced())
    }

    fn start(self: Arc<Self>, controller: Arc<dyn Controller>, queue: WorkQueue) -> tokio::task::JoinHandle<()> {
        let mut sub = self.informer.subscribe();
        tokio::spawn(async move {
            while let Some(change) = sub.recv().await {
                match change {
                    Change::Resync => controller.resync(&queue),
                    change => (self.handler)(&change, &queue),
                }
            }
        })
    }
}

impl Watch {
    /// Calls `handler` with each change of `informer`.
    pub fn new<K: Object>(
        informer: &Arc<SharedInformer<K>>,
        handler: impl Fn(&Change<K>, &WorkQueue) + Send + Sync + 'static,
    ) -> Self {
        Self(Arc::new(Handled { informer: informer.clone(), handler }))
    }

    /// Calls `controller.method` with each change of `informer`:
    /// `Watch::method(&self, &self.pods, Self::pod_changed)`.
    pub fn method<C: Send + Sync + 'static, K: Object>(
        controller: &Arc<C>,
        informer: &Arc<SharedInformer<K>>,
        method: fn(&C, &Change<K>, &WorkQueue),
    ) -> Self {
        let controller = controller.clone();
        Self::new(informer, move |change, queue| method(&controller, change, queue))
    }
}

/// Splits a queue key `[resource:][namespace/]name` into its parts, for spans.
pub fn split_key(key: &str) -> (&str, &str, &str) {
    let (resource, rest) = key.split_once(':').unwrap_or(("", key));
    let (namespace, name) = rest.split_once('/').unwrap_or(("", rest));
    (resource, namespace, name)
}

/// Runs `controller` with `workers` workers until `shutdown` resolves.
pub async fn run(controller: Arc<dyn Controller>, workers: usize, shutdown: impl Future<Output = ()>) {
    let queue = WorkQueue::default();
    let name = controller.name();
    let watches = controller.clone().watches();
    // Subscribe before waiting for the sync so no change after it is missed.
    let mut handlers = Vec::new();
    for Watch(watch) in &watches {
        handlers.push(AbortOnDrop(watch.clone().start(controller.clone(), queue.clone())));
    }
    if let Some(period) = controller.resync_period() {
        let (ctrl, queue) = (controller.clone(), queue.clone());
        handlers.push(AbortOnDrop(tokio::spawn(async move {
            let mut tick = tokio::time::interval(period);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                ctrl.resync(&queue);
            }
        })));
    }
    let work = async {
        for Watch(watch) in &watches {
            watch.wait_synced().await;
        }
        tracing::info!(controller = name, workers, "caches synced; starting workers");
        controller.resync(&queue);
        let pool: Vec<_> = (0..workers.max(1)).map(|_| worker(controller.clone(), queue.clone())).collect();
        futures::future::join_all(pool).await;
    };
    tokio::select! {
        _ = work => {}
        _ = shutdown => {}
    }
    queue.shut_down();
    tracing::info!(controller = name, "stopped");
}

async fn worker(controller: Arc<dyn Controller>, queue: WorkQueue) {
    while let Some(key) = queue.get().await {
        let (resource, namespace, name) = split_key(&key);
        let span = tracing::info_span!("reconcile", controller = controller.name(), resource, namespace, name);
        let result = controller.reconcile(&key).instrument(span.clone()).await;
        match result {
            Ok(action) => {
                queue.forget(&key);
                if let Action::RequeueAfter(delay) = action {
                    queue.add_after(key.clone(), delay);
                }
            }
            Err(e) => {
                let _enter = span.enter();
                match &e {
                    // Someone else wrote first; the next look sees their write.
                    Error::Api(api) if api.is_conflict() => {
                        tracing::debug!(error = %e, "reconcile conflicted; retrying")
                    }
                    _ => tracing::warn!(error = %e, "reconcile failed; retrying"),
                }
                queue.add_rate_limited(&key);
            }
        }
        queue.done(&key);
    }
}

struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use api::k8s_openapi::api::core::v1::Pod;
    use serde_json::json;
    use std::sync::Mutex;

    #[test]
    fn keys_split_into_span_fields() {
        assert_eq!(split_key("default/kubia"), ("", "default", "kubia"));
        assert_eq!(split_key("node-1"), ("", "", "node-1"));
        assert_eq!(split_key("replicasets.apps:default/kubia"), ("replicasets.apps", "default", "kubia"));
        assert_eq!(split_key("nodes:node-1"), ("nodes", "", "node-1"));
    }

    #[test]
    fn the_sooner_requeue_wins() {
        let (a, b) = (Action::RequeueAfter(Duration::from_secs(5)), Action::RequeueAfter(Duration::from_secs(2)));
        assert_eq!(a.min(b), b);
        assert_eq!(Action::Done.min(a), a);
        assert_eq!(Action::Done.min(Action::Done), Action::Done);
    }

    /// Counts reconciles per key and fails the first attempt of "flaky".
    struct Recorder {
        informer: Arc<SharedInformer<Pod>>,
        seen: Mutex<Vec<String>>,
    }

    impl Recorder {
        fn pod_changed(&self, change: &Change<Pod>, queue: &WorkQueue) {
            if let Change::Added(pod) = change {
                queue.add(client::watcher::key_of(pod));
            }
        }
    }

    #[async_trait::async_trait]
    impl Controller for Recorder {
        fn name(&self) -> &'static str {
            "recorder"
        }
        fn watches(self: Arc<Self>) -> Vec<Watch> {
            vec![Watch::method(&self, &self.informer, Self::pod_changed)]
        }
        fn resync(&self, queue: &WorkQueue) {
            for key in self.informer.store().keys() {
                queue.add(key);
            }
        }
        async fn reconcile(&self, key: &str) -> Result<Action> {
            let mut seen = self.seen.lock().unwrap();
            seen.push(key.to_string());
            if key == "default/flaky" && seen.iter().filter(|k| *k == key).count() == 1 {
                return Err(Error::Invalid("first try fails".into()));
            }
            Ok(Action::Done)
        }
    }

    #[tokio::test(start_paused = true)]
    async fn workers_start_after_the_sync_and_retry_failures() {
        let informer = Arc::new(SharedInformer::new(api::registry::lookup("pods").unwrap()));
        informer
            .store()
            .insert(serde_json::from_value(json!({"metadata": {"name": "flaky", "namespace": "default"}})).unwrap());
        let recorder = Arc::new(Recorder { informer: informer.clone(), seen: Mutex::default() });
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(run(recorder.clone(), 2, async {
            let _ = stopped.await;
        }));
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert!(recorder.seen.lock().unwrap().is_empty(), "nothing runs before the informer has synced");
        informer.apply(client::watcher::Event::Synced);
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert_eq!(*recorder.seen.lock().unwrap(), ["default/flaky", "default/flaky"], "failed once, then retried");
        let _ = stop.send(());
        task.await.unwrap();
    }
}
