//! Shared informers: one list+watch per resource for every controller, as
//! client-go's SharedInformerFactory.
//!
//! `client::watcher::reflect` lists and watches a collection and hands its
//! changes to one receiver. Here a fan-out task takes that stream, keeps the
//! [`Store`] that controllers read, turns each change into an
//! add/update/delete with the previous state of the object (handlers need the
//! old labels and owner of a pod to wake the controller that lost it), and
//! broadcasts it to every subscribed controller. A subscriber that falls so far
//! behind that the broadcast drops changes for it gets [`Change::Resync`] and
//! re-reads the store: controllers are level-triggered, so a full resync loses
//! nothing.

use api::{meta, ResourceInfo};
use client::watcher::{key_of, Event};
use client::{Client, ListParams};
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, RwLock};
use tokio::sync::{broadcast, mpsc, watch};

/// What subscribers are told. Objects are shared, never copied per subscriber.
#[derive(Debug, Clone)]
pub enum Change {
    Added(Arc<Value>),
    Updated {
        old: Arc<Value>,
        new: Arc<Value>,
    },
    Deleted(Arc<Value>),
    /// Changes were lost for this subscriber: re-read everything from the store.
    Resync,
}

/// The shared cache of one resource: `namespace/name` (or `name`) to the object
/// as last seen. Readers get `Arc`s, so a read never copies an object.
#[derive(Clone, Default)]
pub struct Store {
    inner: Arc<RwLock<HashMap<String, Arc<Value>>>>,
}

impl Store {
    pub fn get(&self, key: &str) -> Option<Arc<Value>> {
        self.inner.read().expect("store lock").get(key).cloned()
    }

    pub fn get_in(&self, namespace: &str, name: &str) -> Option<Arc<Value>> {
        if namespace.is_empty() {
            self.get(name)
        } else {
            self.get(&format!("{namespace}/{name}"))
        }
    }

    pub fn list(&self) -> Vec<Arc<Value>> {
        self.inner.read().expect("store lock").values().cloned().collect()
    }

    /// The objects of one namespace.
    pub fn list_namespace(&self, namespace: &str) -> Vec<Arc<Value>> {
        self.inner.read().expect("store lock").values().filter(|o| meta::namespace(o) == namespace).cloned().collect()
    }

    pub fn keys(&self) -> Vec<String> {
        self.inner.read().expect("store lock").keys().cloned().collect()
    }

    pub fn len(&self) -> usize {
        self.inner.read().expect("store lock").len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Stores `obj`, returning what it replaces. Public so tests can fill a store
    /// without an apiserver; in the daemon only the informer writes.
    pub fn insert(&self, obj: Value) -> Option<Arc<Value>> {
        self.insert_arc(Arc::new(obj))
    }

    fn insert_arc(&self, obj: Arc<Value>) -> Option<Arc<Value>> {
        self.inner.write().expect("store lock").insert(key_of(&obj), obj)
    }

    pub fn remove(&self, key: &str) -> Option<Arc<Value>> {
        self.inner.write().expect("store lock").remove(key)
    }
}

/// One resource's informer: its store, its subscribers, and whether its first
/// list has filled the store.
pub struct SharedInformer {
    pub info: &'static ResourceInfo,
    store: Store,
    tx: broadcast::Sender<Change>,
    synced: watch::Sender<bool>,
}

/// How many changes a subscriber may fall behind before it must resync.
const BROADCAST_CAPACITY: usize = 16 * 1024;

impl SharedInformer {
    /// An informer that nothing feeds yet: tests fill its store and call handlers
    /// directly; the factory starts a reflector for it.
    pub fn new(info: &'static ResourceInfo) -> Self {
        let (tx, _) = broadcast::channel(BROADCAST_CAPACITY);
        let (synced, _) = watch::channel(false);
        Self { info, store: Store::default(), tx, synced }
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn subscribe(&self) -> Subscription {
        Subscription { rx: self.tx.subscribe() }
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

    /// Applies one reflector event to the store and tells the subscribers.
    pub(crate) fn apply(&self, event: Event) {
        let change = match event {
            Event::Applied(new) => match self.store.insert_arc(new.clone()) {
                Some(old) => Change::Updated { old, new },
                None => Change::Added(new),
            },
            Event::Deleted(obj) => {
                let last = self.store.remove(&key_of(&obj)).unwrap_or(obj);
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
        // The reflector keeps its own cache for its re-list diffs; the store here is
        // the one controllers share.
        let reflector = tokio::spawn(client::watcher::reflect(
            client,
            self.info,
            String::new(),
            ListParams::default(),
            client::watcher::Cache::default(),
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

/// A controller's view of one informer's changes.
pub struct Subscription {
    rx: broadcast::Receiver<Change>,
}

impl Subscription {
    /// The next change; None once the informer is gone.
    pub async fn recv(&mut self) -> Option<Change> {
        match self.rx.recv().await {
            Ok(change) => Some(change),
            Err(broadcast::error::RecvError::Lagged(missed)) => {
                tracing::warn!(missed, "a controller fell behind its informer; resyncing it");
                Some(Change::Resync)
            }
            Err(broadcast::error::RecvError::Closed) => None,
        }
    }
}

/// Hands out one informer per resource and starts them all together.
/// Dropping the factory stops its informers.
pub struct InformerFactory {
    client: Option<Client>,
    informers: Mutex<BTreeMap<String, Arc<SharedInformer>>>,
    /// The running informers, by resource.
    tasks: Mutex<HashMap<String, AbortOnDrop>>,
}

impl InformerFactory {
    pub fn new(client: Client) -> Self {
        Self { client: Some(client), informers: Default::default(), tasks: Default::default() }
    }

    /// A factory whose informers are never fed from a server (for tests with fakes).
    pub fn detached() -> Self {
        Self { client: None, informers: Default::default(), tasks: Default::default() }
    }

    /// The informer of `info`, created on first request. Controllers ask for
    /// theirs when they are built, before [`start`](Self::start).
    pub fn informer(&self, info: &'static ResourceInfo) -> Arc<SharedInformer> {
        let mut informers = self.informers.lock().expect("factory lock");
        informers.entry(info.group_resource()).or_insert_with(|| Arc::new(SharedInformer::new(info))).clone()
    }

    /// Starts every informer requested so far that is not running yet.
    pub fn start(&self) {
        let Some(client) = &self.client else { return };
        let informers = self.informers.lock().expect("factory lock");
        let mut tasks = self.tasks.lock().expect("factory lock");
        for (resource, informer) in informers.iter() {
            if !tasks.contains_key(resource) {
                tasks.insert(resource.clone(), AbortOnDrop(informer.start(client.clone())));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
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

    #[test]
    fn one_informer_per_resource() {
        let factory = InformerFactory::detached();
        let a = factory.informer(pods());
        let b = factory.informer(api::registry::lookup("po").unwrap());
        assert!(Arc::ptr_eq(&a, &b));
    }
}
