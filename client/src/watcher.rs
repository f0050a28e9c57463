//! Watcher and reflector: list, then watch from the list's resourceVersion,
//! resuming from the last version seen when a watch ends, and re-listing when
//! the server says that version is too old. The reflector keeps a local cache
//! of the collection that every reader shares, as client-go's informers do.

use crate::{Client, ListParams, Object};
use api::{ApiError, ResourceInfo};
use futures::StreamExt;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;
use tokio::sync::mpsc;

/// What a watcher tells its consumer.
#[derive(Debug, Clone, PartialEq)]
pub enum Event<K = Value> {
    /// An object was added or changed.
    Applied(Arc<K>),
    /// An object was deleted (its last state).
    Deleted(Arc<K>),
    /// A (re-)list finished: the cache now holds exactly these objects.
    Synced,
}

/// `namespace/name` (or `name` for cluster-scoped objects): the key of an object in caches and queues.
pub fn key_of(obj: &impl Keyed) -> String {
    obj.key()
}

/// An object, or a shared one, that has a cache key.
pub trait Keyed {
    fn key(&self) -> String;
}

impl<K: Object> Keyed for K {
    fn key(&self) -> String {
        key(self.namespace(), self.name())
    }
}

impl<K: Object> Keyed for Arc<K> {
    fn key(&self) -> String {
        self.as_ref().key()
    }
}

/// The cache key of `name` in `namespace` ("" for cluster-scoped objects).
pub fn key(namespace: &str, name: &str) -> String {
    if namespace.is_empty() {
        name.to_string()
    } else {
        format!("{namespace}/{name}")
    }
}

/// A shared, read-mostly cache of one collection, filled by a reflector.
#[derive(Clone)]
pub struct Cache<K = Value> {
    inner: Arc<RwLock<HashMap<String, Kept<K>>>>,
    /// Keep only each object's identity (see [`Cache::names_only`]).
    names_only: bool,
}

/// What a cache keeps of one object: all of it, or (names-only) its uid, the
/// key giving its namespace and name. A typed identity stub would cost the
/// whole struct (a `Pod` is over 2 KB with every field empty), for every object.
enum Kept<K> {
    Object(Arc<K>),
    Uid(String),
}

impl<K> Clone for Kept<K> {
    fn clone(&self) -> Self {
        match self {
            Kept::Object(obj) => Kept::Object(obj.clone()),
            Kept::Uid(uid) => Kept::Uid(uid.clone()),
        }
    }
}

impl<K> Default for Cache<K> {
    fn default() -> Self {
        Self { inner: Default::default(), names_only: false }
    }
}

/// The namespace and name a cache key stands for.
fn split(key: &str) -> (&str, &str) {
    key.split_once('/').unwrap_or(("", key))
}

impl<K: Object> Kept<K> {
    fn object(&self, key: &str) -> Arc<K> {
        match self {
            Kept::Object(obj) => obj.clone(),
            Kept::Uid(uid) => {
                let (namespace, name) = split(key);
                Arc::new(K::from_identity(namespace, name, uid))
            }
        }
    }
}

impl<K: Object> Cache<K> {
    /// A cache that keeps only each object's `metadata.name`, `namespace` and
    /// `uid`: enough for a relist to report what disappeared, for consumers
    /// that keep what they need of each object themselves (the scheduler
    /// keeps a bound pod's resource requests, not the pod). Reads answer with
    /// objects that carry only those three fields.
    pub fn names_only() -> Self {
        Self { names_only: true, ..Self::default() }
    }

    /// What this cache keeps of `obj`.
    fn kept(&self, obj: &Arc<K>) -> Kept<K> {
        if self.names_only {
            Kept::Uid(obj.uid().to_string())
        } else {
            Kept::Object(obj.clone())
        }
    }

    pub fn get(&self, key: &str) -> Option<Arc<K>> {
        self.inner.read().expect("cache lock").get(key).map(|kept| kept.object(key))
    }

    /// The object `name` in `namespace` ("" for cluster-scoped objects).
    pub fn get_in(&self, namespace: &str, name: &str) -> Option<Arc<K>> {
        self.get(&key(namespace, name))
    }

    pub fn list(&self) -> Vec<Arc<K>> {
        self.inner.read().expect("cache lock").iter().map(|(key, kept)| kept.object(key)).collect()
    }

    /// The objects of one namespace.
    pub fn list_namespace(&self, namespace: &str) -> Vec<Arc<K>> {
        let inner = self.inner.read().expect("cache lock");
        inner.iter().filter(|(key, _)| split(key).0 == namespace).map(|(key, kept)| kept.object(key)).collect()
    }

    pub fn keys(&self) -> Vec<String> {
        self.inner.read().expect("cache lock").keys().cloned().collect()
    }

    pub fn len(&self) -> usize {
        self.inner.read().expect("cache lock").len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Stores `obj`, returning what it replaces. Public so tests can fill a
    /// cache without an apiserver; in a daemon only informers write.
    pub fn insert(&self, obj: K) -> Option<Arc<K>> {
        self.insert_arc(&Arc::new(obj))
    }

    /// Stores `obj` (shared, not copied), returning what it replaces.
    pub(crate) fn insert_arc(&self, obj: &Arc<K>) -> Option<Arc<K>> {
        let key = key_of(obj.as_ref());
        let old = self.inner.write().expect("cache lock").insert(key.clone(), self.kept(obj));
        old.map(|kept| kept.object(&key))
    }

    /// Stores `obj` without reading back what it replaces.
    fn put(&self, obj: &Arc<K>) {
        self.inner.write().expect("cache lock").insert(key_of(obj.as_ref()), self.kept(obj));
    }

    /// Removes `key` without reading back what it held.
    fn forget(&self, key: &str) {
        self.inner.write().expect("cache lock").remove(key);
    }

    pub fn remove(&self, key: &str) -> Option<Arc<K>> {
        self.inner.write().expect("cache lock").remove(key).map(|kept| kept.object(key))
    }

    /// Replaces the whole content; returns the objects that disappeared.
    fn replace(&self, objs: &[Arc<K>]) -> Vec<Arc<K>> {
        let fresh: HashMap<String, Kept<K>> = objs.iter().map(|o| (key_of(o.as_ref()), self.kept(o))).collect();
        let mut guard = self.inner.write().expect("cache lock");
        let old = std::mem::replace(&mut *guard, fresh);
        old.into_iter().filter(|(k, _)| !guard.contains_key(k)).map(|(k, kept)| kept.object(&k)).collect()
    }
}

/// Runs a reflector for one collection: keeps `cache` equal to the server's
/// state and sends every change to `events`. Returns when `events` is closed.
pub async fn reflect<K: Object>(
    client: Client,
    info: &'static ResourceInfo,
    namespace: String,
    params: ListParams,
    cache: Cache<K>,
    events: mpsc::Sender<Event<K>>,
) {
    let mut backoff = Duration::from_millis(100);
    'relist: loop {
        let list = match client.list_as::<K>(info, &namespace, &params).await {
            Ok(l) => l,
            Err(e) => {
                tracing::warn!(resource = info.plural, error = %e, "list failed; retrying");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(5));
                continue;
            }
        };
        let mut rv = list.resource_version;
        // The cache and the events share each object: one copy per object.
        let items: Vec<Arc<K>> = list.items.into_iter().map(Arc::new).collect();
        for gone in cache.replace(&items) {
            if events.send(Event::Deleted(gone)).await.is_err() {
                return;
            }
        }
        for item in items {
            if events.send(Event::Applied(item)).await.is_err() {
                return;
            }
        }
        if events.send(Event::Synced).await.is_err() {
            return;
        }
        loop {
            let mut stream = match client.watch_as::<K>(info, &namespace, &params, &rv).await {
                Ok(s) => s,
                Err(e) if e.is_expired() => {
                    tracing::info!(resource = info.plural, error = %e, "watch history expired; re-listing");
                    continue 'relist;
                }
                Err(e) => {
                    tracing::warn!(resource = info.plural, error = %e, "watch failed; retrying");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                    continue;
                }
            };
            backoff = Duration::from_millis(100);
            while let Some(item) = stream.next().await {
                let ev = match item {
                    Ok(ev) => ev,
                    Err(e) if e.is_expired() => {
                        tracing::info!(resource = info.plural, error = %e, "watch history expired; re-listing");
                        continue 'relist;
                    }
                    Err(e) => {
                        tracing::debug!(resource = info.plural, error = %e, "watch ended; resuming");
                        break;
                    }
                };
                let new_rv = ev.object.resource_version().to_string();
                if !new_rv.is_empty() {
                    rv = new_rv;
                }
                let out = match ev.kind.as_str() {
                    "ADDED" | "MODIFIED" => {
                        let obj = Arc::new(ev.object);
                        cache.put(&obj);
                        Event::Applied(obj)
                    }
                    "DELETED" => {
                        cache.forget(&key_of(&ev.object));
                        Event::Deleted(Arc::new(ev.object))
                    }
                    _ => continue,
                };
                if events.send(out).await.is_err() {
                    return;
                }
            }
        }
    }
}

/// A cache plus a stream of its changes, run on a background task.
pub struct Informer<K = Value> {
    pub cache: Cache<K>,
    pub events: mpsc::Receiver<Event<K>>,
    task: tokio::task::JoinHandle<()>,
}

impl<K: Object> Informer<K> {
    /// Starts listing and watching `info` in `namespace` ("" = all).
    pub fn start(client: Client, info: &'static ResourceInfo, namespace: &str, params: ListParams) -> Self {
        Self::start_with(client, info, namespace, params, Cache::default())
    }

    /// Like `start`, with a cache of names only ([`Cache::names_only`]): for a
    /// consumer that keeps its own state from the events.
    pub fn start_names_only(client: Client, info: &'static ResourceInfo, namespace: &str, params: ListParams) -> Self {
        Self::start_with(client, info, namespace, params, Cache::names_only())
    }

    fn start_with(
        client: Client,
        info: &'static ResourceInfo,
        namespace: &str,
        params: ListParams,
        cache: Cache<K>,
    ) -> Self {
        let (tx, rx) = mpsc::channel(1024);
        let task = tokio::spawn(reflect(client, info, namespace.to_string(), params, cache.clone(), tx));
        Self { cache, events: rx, task }
    }

    /// Hands each object of the first list to `apply`, returning once the
    /// cache holds that list, so a consumer that keeps its own state from the
    /// events starts from the state the cache starts from. Events after the
    /// first list stay queued in `events`.
    pub async fn first_list(&mut self, mut apply: impl FnMut(&K)) -> Result<(), ApiError> {
        while let Some(ev) = self.events.recv().await {
            match ev {
                Event::Applied(obj) => apply(&obj),
                // Nothing was known before the first list, so nothing can have gone.
                Event::Deleted(_) => {}
                Event::Synced => return Ok(()),
            }
        }
        Err(ApiError::internal("the informer stopped before its first list"))
    }
}

impl<K> Drop for Informer<K> {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(name: &str) -> Arc<Value> {
        Arc::new(json!({
            "metadata": {"name": name, "namespace": "ns", "uid": format!("uid-{name}"), "labels": {"app": "a"}},
            "spec": {"nodeName": "n1", "containers": [{"name": "c", "image": "i"}]},
        }))
    }

    #[test]
    fn a_cache_shares_the_objects_it_is_given() {
        let cache = Cache::default();
        let p = pod("a");
        cache.insert_arc(&p);
        assert!(Arc::ptr_eq(&cache.get("ns/a").unwrap(), &p));
    }

    #[test]
    fn a_names_only_cache_keeps_identities_and_still_reports_what_a_relist_lost() {
        let cache = Cache::names_only();
        cache.insert_arc(&pod("a"));
        cache.insert_arc(&pod("b"));
        assert_eq!(*cache.get("ns/a").unwrap(), json!({"metadata": {"name": "a", "namespace": "ns", "uid": "uid-a"}}));
        let gone = cache.replace(&[pod("b"), pod("c")]);
        assert_eq!(gone.len(), 1);
        assert_eq!(key_of(gone[0].as_ref()), "ns/a");
        assert_eq!(gone[0]["metadata"]["uid"], "uid-a");
        let mut keys: Vec<String> = cache.list().iter().map(key_of).collect();
        keys.sort();
        assert_eq!(keys, ["ns/b", "ns/c"]);
        assert!(cache.list().iter().all(|o| o.get("spec").is_none()));
    }

    #[test]
    fn a_typed_names_only_cache_answers_with_identities() {
        use api::k8s_openapi::api::core::v1::Pod;
        let cache: Cache<Pod> = Cache::names_only();
        let typed = |name: &str| Arc::new(serde_json::from_value::<Pod>((*pod(name)).clone()).unwrap());
        cache.insert_arc(&typed("a"));
        let a = cache.get("ns/a").unwrap();
        assert_eq!((a.metadata.name.as_deref(), a.metadata.uid.as_deref()), (Some("a"), Some("uid-a")));
        assert!(a.spec.is_none() && a.metadata.labels.is_none(), "only the identity is kept");
        let gone = cache.replace(&[typed("b")]);
        assert_eq!(gone.len(), 1);
        assert_eq!(
            (gone[0].metadata.namespace.as_deref(), gone[0].metadata.uid.as_deref()),
            (Some("ns"), Some("uid-a"))
        );
        assert_eq!(cache.list_namespace("ns").len(), 1);
        assert!(cache.list_namespace("other").is_empty());
    }

    /// An informer fed by hand instead of by a reflector.
    fn fed_informer(events: Vec<Event>) -> Informer {
        let (tx, rx) = mpsc::channel(events.len().max(1));
        for ev in events {
            tx.try_send(ev).expect("room for every event");
        }
        Informer { cache: Cache::default(), events: rx, task: tokio::spawn(async {}) }
    }

    #[tokio::test]
    async fn the_first_list_is_applied_and_later_events_stay_queued() {
        let later = Event::Applied(pod("c"));
        let mut informer =
            fed_informer(vec![Event::Applied(pod("a")), Event::Applied(pod("b")), Event::Synced, later.clone()]);
        let mut applied = Vec::new();
        informer.first_list(|obj| applied.push(key_of(obj))).await.expect("synced");
        assert_eq!(applied, ["ns/a", "ns/b"]);
        assert_eq!(informer.events.recv().await, Some(later));
    }

    #[tokio::test]
    async fn an_informer_that_stops_before_its_first_list_is_an_error() {
        let mut informer = fed_informer(vec![Event::Applied(pod("a"))]);
        let mut applied = 0;
        let err = informer.first_list(|_| applied += 1).await.expect_err("never synced");
        assert!(err.to_string().contains("stopped before its first list"), "{err}");
        assert_eq!(applied, 1);
    }
}
