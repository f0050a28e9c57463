//! Shared informers: one list+watch per resource for every consumer in a
//! process (the controller-manager's controllers, the kubelet's proxy, DNS
//! and service environment), as client-go's SharedInformerFactory.
//!
//! [`reflect`](crate::watcher::reflect) lists and watches a collection and
//! hands its changes to one receiver. Here a fan-out task takes that stream,
//! keeps the [`Cache`] that every consumer reads, turns each change into an
//! add/update/delete with the previous state of the object (handlers need the
//! old labels and owner of a pod to wake the controller that lost it), and
//! broadcasts it to every subscriber. A subscriber that falls so far behind
//! that the broadcast drops changes for it gets [`Change::Resync`] and
//! re-reads the store: consumers are level-triggered, so a full resync loses
//! nothing.

use crate::watcher::{key_of, Cache, Event};
use crate::{Client, ListParams, Object};
use api::ResourceInfo;
use serde_json::Value;
use std::any::{Any, TypeId};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use tokio::sync::{broadcast, mpsc, watch};

/// What subscribers are told. Objects are shared, never copied per subscriber.
#[derive(Debug, Clone)]
pub enum Change<K = Value> {
    Added(Arc<K>),
    Updated {
        old: Arc<K>,
        new: Arc<K>,
    },
    Deleted(Arc<K>),
    /// Changes were lost for this subscriber: re-read everything from the store.
    Resync,
}

/// One resource's informer: its store, its subscribers, and whether its first
/// list has filled the store.
pub struct SharedInformer<K = Value> {
    pub info: &'static ResourceInfo,
    store: Cache<K>,
    tx: broadcast::Sender<Change<K>>,
    synced: watch::Sender<bool>,
}

/// How many changes a subscriber may fall behind before it must resync.
const BROADCAST_CAPACITY: usize = 16 * 1024;

impl<K: Object> SharedInformer<K> {
    /// An informer that nothing feeds yet: tests fill its store and call handlers
    /// directly; the factory starts a reflector for it.
    pub fn new(info: &'static ResourceInfo) -> Self {
        let (tx, _) = broadcast::channel(BROADCAST_CAPACITY);
        let (synced, _) = watch::channel(false);
        Self { info, store: Cache::default(), tx, synced }
    }

    pub fn store(&self) -> &Cache<K> {
        &self.store
    }

    pub fn subscribe(&self) -> Subscription<K> {
        Subscription { rx: self.tx.subscribe(), resource: self.info.plural }
    }

    pub fn has_synced(&self) -> bool {
        *self.synced.borrow()
    }

    /// Waits until the first list has filled the store.
    pub async fn wait_synced(&self) {
        let mut rx = self.synced.subscribe();
        // The sender lives as long as `self`, so this only ends once synced.
        let _ = rx.wait_for(|synced| *synced).await;
    }

    /// Applies one reflector event to the store and tells the subscribers
    /// (public so tests can feed an informer by hand).
    pub fn apply(&self, event: Event<K>) {
        let change = match event {
            Event::Applied(new) => match self.store.insert_arc(&new) {
                Some(old) => Change::Updated { old, new },
                None => Change::Added(new),
            },
            Event::Deleted(obj) => {
                let last = self.store.remove(&key_of(obj.as_ref())).unwrap_or(obj);
                Change::Deleted(last)
            }
            Event::Synced => {
                self.synced.send_replace(true);
                return;
            }
        };
        // No subscriber is fine: the store is still kept.
        let _ = self.tx.send(change);
    }

    /// Feeds this informer from the apiserver until the returned task is aborted.
    fn start(self: &Arc<Self>, client: Client) -> tokio::task::JoinHandle<()> {
        let (tx, mut rx) = mpsc::channel(1024);
        // The reflector keeps its own cache for its re-list diffs (the same
        // objects, shared); the store here is the one consumers read.
        let reflector = tokio::spawn(crate::watcher::reflect(
            client,
            self.info,
            String::new(),
            ListParams::default(),
            Cache::default(),
            tx,
        ));
        let me = self.clone();
        tokio::spawn(async move {
            let _abort_reflector = AbortOnDrop(reflector);
            while let Some(event) = rx.recv().await {
                me.apply(event);
            }
        })
    }
}

struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// A consumer's view of one informer's changes.
pub struct Subscription<K = Value> {
    rx: broadcast::Receiver<Change<K>>,
    resource: &'static str,
}

impl<K: Object> Subscription<K> {
    /// The next change; None once the informer is gone.
    pub async fn recv(&mut self) -> Option<Change<K>> {
        match self.rx.recv().await {
            Ok(change) => Some(change),
            Err(broadcast::error::RecvError::Lagged(missed)) => {
                tracing::warn!(missed, resource = self.resource, "a consumer fell behind its informer; resyncing it");
                Some(Change::Resync)
            }
            Err(broadcast::error::RecvError::Closed) => None,
        }
    }

    /// The next change if one is queued: lets a consumer take a burst of
    /// changes at once.
    pub fn try_recv(&mut self) -> Option<Change<K>> {
        match self.rx.try_recv() {
            Ok(change) => Some(change),
            Err(broadcast::error::TryRecvError::Lagged(missed)) => {
                tracing::warn!(missed, resource = self.resource, "a consumer fell behind its informer; resyncing it");
                Some(Change::Resync)
            }
            Err(broadcast::error::TryRecvError::Empty | broadcast::error::TryRecvError::Closed) => None,
        }
    }
}

/// A shared informer of any object type, as the factory keeps it.
trait AnyInformer: Send + Sync {
    fn start(self: Arc<Self>, client: Client) -> tokio::task::JoinHandle<()>;
    fn as_any(self: Arc<Self>) -> Arc<dyn Any + Send + Sync>;
}

impl<K: Object> AnyInformer for SharedInformer<K> {
    fn start(self: Arc<Self>, client: Client) -> tokio::task::JoinHandle<()> {
        SharedInformer::start(&self, client)
    }
    fn as_any(self: Arc<Self>) -> Arc<dyn Any + Send + Sync> {
        self
    }
}

/// Hands out one informer per resource and object type, and starts them all
/// together. Dropping the factory stops its informers.
pub struct InformerFactory {
    client: Option<Client>,
    /// By resource and the type its objects decode to.
    informers: Mutex<BTreeMap<(String, TypeId), Arc<dyn AnyInformer>>>,
    /// The running informers, by the same key.
    tasks: Mutex<HashMap<(String, TypeId), AbortOnDrop>>,
}

impl InformerFactory {
    pub fn new(client: Client) -> Self {
        Self { client: Some(client), informers: Default::default(), tasks: Default::default() }
    }

    /// A factory whose informers are never fed from a server (for tests with fakes).
    pub fn detached() -> Self {
        Self { client: None, informers: Default::default(), tasks: Default::default() }
    }

    /// The informer of `info` whose objects decode to `K` (a `k8s-openapi`
    /// type, `PartialObjectMetadata` for code that handles every kind alike, or
    /// `serde_json::Value`),
    /// created on first request. Controllers ask for theirs when they are
    /// built, before [`start`](Self::start).
    pub fn informer<K: Object>(&self, info: &'static ResourceInfo) -> Arc<SharedInformer<K>> {
        let mut informers = self.informers.lock().expect("factory lock");
        let informer = informers
            .entry((info.group_resource(), TypeId::of::<K>()))
            .or_insert_with(|| Arc::new(SharedInformer::<K>::new(info)))
            .clone();
        informer.as_any().downcast::<SharedInformer<K>>().expect("the key holds the type")
    }

    /// The informer of `K`'s own resource (`factory.typed::<Pod>()`).
    pub fn typed<K: crate::Resource>(&self) -> Arc<SharedInformer<K>> {
        self.informer(K::info())
    }

    /// Starts every informer requested so far that is not running yet.
    pub fn start(&self) {
        let Some(client) = &self.client else { return };
        let informers = self.informers.lock().expect("factory lock");
        let mut tasks = self.tasks.lock().expect("factory lock");
        for (resource, informer) in informers.iter() {
            if !tasks.contains_key(resource) {
                tasks.insert(resource.clone(), AbortOnDrop(informer.clone().start(client.clone())));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use api::meta;
    use serde_json::json;

    fn pods() -> &'static ResourceInfo {
        api::registry::lookup("pods").unwrap()
    }

    fn pod(name: &str, rv: &str) -> Value {
        json!({"metadata": {"name": name, "namespace": "default", "resourceVersion": rv}})
    }

    #[tokio::test]
    async fn every_subscriber_sees_each_change_with_the_previous_state() {
        let informer = SharedInformer::new(pods());
        let (mut a, mut b) = (informer.subscribe(), informer.subscribe());
        informer.apply(Event::Applied(pod("p", "1").into()));
        informer.apply(Event::Applied(pod("p", "2").into()));
        informer.apply(Event::Deleted(pod("p", "2").into()));
        informer.apply(Event::Synced);
        for sub in [&mut a, &mut b] {
            assert!(matches!(sub.recv().await, Some(Change::Added(p)) if meta::resource_version(&p) == "1"));
            match sub.recv().await {
                Some(Change::Updated { old, new }) => {
                    assert_eq!((meta::resource_version(&old), meta::resource_version(&new)), ("1", "2"))
                }
                other => panic!("expected an update, got {other:?}"),
            }
            assert!(matches!(sub.recv().await, Some(Change::Deleted(p)) if meta::name(&p) == "p"));
        }
        assert!(informer.store().is_empty());
        assert!(informer.has_synced());
    }

    #[tokio::test]
    async fn a_subscriber_that_falls_behind_is_told_to_resync() {
        let informer = SharedInformer::new(pods());
        let mut slow = informer.subscribe();
        for i in 0..BROADCAST_CAPACITY + 1 {
            informer.apply(Event::Applied(pod(&format!("p{i}"), "1").into()));
        }
        assert!(matches!(slow.recv().await, Some(Change::Resync)));
        assert_eq!(informer.store().len(), BROADCAST_CAPACITY + 1, "the store itself lost nothing");
    }

    #[tokio::test]
    async fn typed_informers_hold_typed_objects() {
        use api::k8s_openapi::api::core::v1::Pod;
        let factory = InformerFactory::detached();
        let typed = factory.typed::<Pod>();
        assert!(Arc::ptr_eq(&typed, &factory.informer::<Pod>(pods())), "one typed informer per resource");
        let mut sub = typed.subscribe();
        let pod: Pod = serde_json::from_value(pod("p", "3")).unwrap();
        typed.apply(Event::Applied(pod.into()));
        match sub.recv().await {
            Some(Change::Added(p)) => assert_eq!(p.metadata.resource_version.as_deref(), Some("3")),
            other => panic!("expected an add, got {other:?}"),
        }
        assert!(typed.store().get("default/p").is_some());
        let untyped: Arc<SharedInformer> = factory.informer(pods());
        assert!(untyped.store().is_empty(), "a JSON informer of the same resource is another informer");
    }

    #[test]
    fn one_informer_per_resource() {
        let factory = InformerFactory::detached();
        let a: Arc<SharedInformer> = factory.informer(pods());
        let b = factory.informer(api::registry::lookup("po").unwrap());
        assert!(Arc::ptr_eq(&a, &b));
    }
}
