//! `MemStore`: an in-memory `Store` with etcd's revision semantics, for unit tests
//! and hollow-node benchmarks. Never a silent fallback for etcd.
//!
//! Everything lives under one mutex: the key space (a BTreeMap, so prefix lists
//! come out sorted), the global revision, the event history kept for watch
//! resumption, and the live watchers. Because a write appends to history and
//! notifies watchers while holding that lock, and a watch reads history and
//! registers itself while holding it too, a watcher can never miss or repeat an
//! event. A watcher whose buffer fills up is not dropped with a gap: like etcd's
//! "unsynced" watchers it falls back to reading history from where it stopped,
//! and only if that history has been compacted meanwhile does its stream end
//! with `Compacted`. Keys with a TTL are deleted by a reaper task, as etcd's
//! lessor revokes expired leases.

use super::{EventKind, KeyValue, Result, Store, StoreError, StoreEvent, WatchStream};
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::time::Instant;

/// Events buffered per live watcher before it is switched to catching up from history.
const WATCH_BUFFER: usize = 1024;
/// History entries scanned per lock acquisition while a watcher catches up, so a
/// watcher replaying a long history does not hold writers off for long.
const CATCH_UP_SCAN: usize = 4096;
/// The reaper looks for expired keys at least this often (etcd's lessor: 500 ms).
const REAP_PERIOD: Duration = Duration::from_millis(500);

/// A revisioned in-memory key-value store. Cheap to clone: clones share state.
#[derive(Clone, Default)]
pub struct MemStore {
    inner: Arc<Mutex<Inner>>,
}

struct Entry {
    value: Vec<u8>,
    create_revision: i64,
    mod_revision: i64,
    /// When the reaper deletes it, if it was last written with a TTL.
    expires: Option<Instant>,
}

#[derive(Default)]
struct Inner {
    revision: i64,
    /// Oldest revision whose event is still in `history`; watches that need an
    /// older one fail with Compacted. 0 while nothing was ever compacted.
    compacted: i64,
    data: BTreeMap<String, Entry>,
    /// One event per revision, contiguous, oldest first: the event of revision
    /// `r` sits at index `r - history[0].revision`.
    history: VecDeque<Arc<StoreEvent>>,
    /// When set, history is trimmed to this many events on every write, as if a
    /// compactor ran continuously (keeps long benchmarks from growing without bound).
    history_limit: Option<usize>,
    watchers: Vec<Watcher>,
    /// Keys written with a TTL, by expiry. An entry whose key was written again
    /// since is stale: the reaper checks it against the key's own `expires`.
    expiries: BTreeSet<(Instant, String)>,
    /// Whether a reaper task is running.
    reaping: bool,
}

struct Watcher {
    prefix: String,
    tx: mpsc::Sender<Arc<StoreEvent>>,
}

impl MemStore {
    /// An empty store at revision 0 that keeps all history until `compact` is called,
    /// as etcd does.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty store that keeps only the last `limit` events of history (at least one).
    pub fn with_history_limit(limit: usize) -> Self {
        let store = Self::default();
        store.lock().history_limit = Some(limit.max(1));
        store
    }

    /// Number of live watchers, for tests that check watches are released.
    pub fn watcher_count(&self) -> usize {
        let mut inner = self.lock();
        inner.watchers.retain(|w| !w.tx.is_closed());
        inner.watchers.len()
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        lock(&self.inner)
    }
}

/// Takes the state lock. A panic while holding it cannot leave the state half
/// written (every write finishes its mutations before notifying anyone), so a
/// poisoned lock is safe to keep using.
fn lock(inner: &Mutex<Inner>) -> MutexGuard<'_, Inner> {
    inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Inner {
    /// Records a write at a new revision and notifies matching watchers.
    fn commit(&mut self, kind: EventKind, key: &str, value: Vec<u8>, prev_value: Option<Vec<u8>>) -> i64 {
        self.revision += 1;
        let event = Arc::new(StoreEvent {
            kind,
            key: key.to_string(),
            value: value.into(),
            prev_value: prev_value.map(Into::into),
            revision: self.revision,
        });
        self.watchers.retain(|w| {
            if !event.key.starts_with(&w.prefix) {
                return !w.tx.is_closed();
            }
            // A full buffer drops the sender: the watcher drains what it has,
            // sees its channel closed, and catches up from history.
            w.tx.try_send(event.clone()).is_ok()
        });
        self.history.push_back(event);
        if let Some(limit) = self.history_limit {
            while self.history.len() > limit {
                self.history.pop_front();
            }
            if let Some(front) = self.history.front() {
                self.compacted = self.compacted.max(front.revision);
            }
        }
        self.revision
    }

    /// Notes `key`'s expiry, starting the reaper if none runs.
    fn expire_after(&mut self, key: &str, ttl: Option<Duration>, store: &Arc<Mutex<Inner>>) -> Option<Instant> {
        let at = Instant::now() + ttl?;
        self.expiries.insert((at, key.to_string()));
        if !self.reaping {
            self.reaping = true;
            tokio::spawn(reap(Arc::downgrade(store)));
        }
        Some(at)
    }

    /// Deletes every key whose expiry has come; returns the next expiry, if any.
    fn reap_expired(&mut self, now: Instant) -> Option<Instant> {
        while let Some((at, key)) = self.expiries.first().cloned() {
            if at > now {
                return Some(at);
            }
            self.expiries.pop_first();
            if self.data.get(&key).is_some_and(|entry| entry.expires == Some(at)) {
                if let Some(entry) = self.data.remove(&key) {
                    self.commit(EventKind::Delete, &key, entry.value, None);
                }
            }
        }
        None
    }

    fn key_value(key: &str, entry: &Entry) -> KeyValue {
        KeyValue {
            key: key.to_string(),
            value: entry.value.clone(),
            mod_revision: entry.mod_revision,
            create_revision: entry.create_revision,
        }
    }
}

/// Deletes keys as their TTLs run out, until none is left to expire or the
/// store is dropped.
async fn reap(store: Weak<Mutex<Inner>>) {
    loop {
        let next = {
            let Some(store) = store.upgrade() else { return };
            let mut inner = lock(&store);
            match inner.reap_expired(Instant::now()) {
                Some(next) => next,
                None => {
                    inner.reaping = false;
                    return;
                }
            }
        };
        tokio::time::sleep_until(next.min(Instant::now() + REAP_PERIOD)).await;
    }
}

#[async_trait::async_trait]
impl Store for MemStore {
    async fn create_with_ttl(&self, key: &str, value: Vec<u8>, ttl: Option<Duration>) -> Result<i64> {
        let mut inner = self.lock();
        if inner.data.contains_key(key) {
            return Err(StoreError::AlreadyExists);
        }
        let revision = inner.commit(EventKind::Put, key, value.clone(), None);
        let expires = inner.expire_after(key, ttl, &self.inner);
        inner.data.insert(key.to_string(), Entry { value, create_revision: revision, mod_revision: revision, expires });
        Ok(revision)
    }

    async fn get(&self, key: &str) -> Result<Option<KeyValue>> {
        let inner = self.lock();
        Ok(inner.data.get(key).map(|entry| Inner::key_value(key, entry)))
    }

    async fn list(&self, prefix: &str) -> Result<(Vec<KeyValue>, i64)> {
        let inner = self.lock();
        let items = inner
            .data
            .range::<str, _>((std::ops::Bound::Included(prefix), std::ops::Bound::Unbounded))
            .take_while(|(key, _)| key.starts_with(prefix))
            .map(|(key, entry)| Inner::key_value(key, entry))
            .collect();
        Ok((items, inner.revision))
    }

    async fn update_with_ttl(
        &self,
        key: &str,
        value: Vec<u8>,
        expected_revision: i64,
        ttl: Option<Duration>,
    ) -> Result<i64> {
        let mut inner = self.lock();
        let prev = match inner.data.get(key) {
            None => return Err(StoreError::NotFound),
            Some(entry) if entry.mod_revision != expected_revision => {
                return Err(StoreError::Conflict { current: Some(Inner::key_value(key, entry)) })
            }
            Some(entry) => entry.value.clone(),
        };
        let revision = inner.commit(EventKind::Put, key, value.clone(), Some(prev));
        let expires = inner.expire_after(key, ttl, &self.inner);
        if let Some(entry) = inner.data.get_mut(key) {
            entry.value = value;
            entry.mod_revision = revision;
            entry.expires = expires;
        }
        Ok(revision)
    }

    async fn delete(&self, key: &str, expected_revision: Option<i64>) -> Result<KeyValue> {
        let mut inner = self.lock();
        match inner.data.get(key) {
            None => return Err(StoreError::NotFound),
            Some(entry) if expected_revision.is_some_and(|expected| expected != entry.mod_revision) => {
                return Err(StoreError::Conflict { current: Some(Inner::key_value(key, entry)) })
            }
            Some(_) => {}
        }
        let Some(entry) = inner.data.remove(key) else { return Err(StoreError::NotFound) };
        let revision = inner.commit(EventKind::Delete, key, entry.value.clone(), None);
        Ok(KeyValue {
            key: key.to_string(),
            value: entry.value,
            mod_revision: revision,
            create_revision: entry.create_revision,
        })
    }

    async fn watch(&self, prefix: &str, after_revision: i64) -> Result<WatchStream> {
        let mut watch = MemWatch {
            inner: self.inner.clone(),
            prefix: prefix.to_string(),
            cursor: after_revision.max(0),
            pending: VecDeque::new(),
            live: None,
        };
        // Catch up once now so a compacted start fails at once rather than as
        // the first item; the rest of the replay happens as the stream is read.
        watch.catch_up()?;
        Ok(Box::pin(futures::stream::unfold(Some(watch), |state| async move {
            let mut watch = state?;
            match watch.next().await {
                Ok(event) => Some((Ok(event), Some(watch))),
                // The error is the stream's last item.
                Err(error) => Some((Err(error), None)),
            }
        })))
    }

    async fn current_revision(&self) -> Result<i64> {
        Ok(self.lock().revision)
    }

    async fn compact(&self, revision: i64) -> Result<()> {
        let mut inner = self.lock();
        if revision > inner.revision {
            return Err(StoreError::Internal(format!(
                "cannot compact to revision {revision}: it is a future revision (current {})",
                inner.revision
            )));
        }
        // Compacting to an already compacted revision is a no-op, so periodic
        // compactors racing each other do not see spurious errors.
        if revision <= inner.compacted {
            return Ok(());
        }
        inner.compacted = revision;
        while inner.history.front().is_some_and(|event| event.revision < revision) {
            inner.history.pop_front();
        }
        Ok(())
    }
}

/// One watcher's position: first it replays history in batches (`pending`),
/// then it reads live events from its channel until that closes, then it goes
/// back to replaying from `cursor`.
struct MemWatch {
    inner: Arc<Mutex<Inner>>,
    prefix: String,
    /// Every event up to this revision was delivered or queued in `pending`.
    cursor: i64,
    pending: VecDeque<Arc<StoreEvent>>,
    live: Option<mpsc::Receiver<Arc<StoreEvent>>>,
}

impl MemWatch {
    async fn next(&mut self) -> Result<StoreEvent> {
        loop {
            if let Some(event) = self.pending.pop_front() {
                return Ok(Arc::unwrap_or_clone(event));
            }
            if let Some(live) = &mut self.live {
                match live.recv().await {
                    Some(event) if event.revision > self.cursor => {
                        self.cursor = event.revision;
                        return Ok(Arc::unwrap_or_clone(event));
                    }
                    // Registered with a future start revision: not there yet.
                    Some(_) => continue,
                    None => self.live = None,
                }
            }
            self.catch_up()?;
        }
    }

    /// Queues the next batch of history after `cursor`; once history is
    /// exhausted, registers for live events under the same lock so nothing
    /// written in between can be missed.
    fn catch_up(&mut self) -> Result<()> {
        let mut inner = lock(&self.inner);
        if self.cursor + 1 < inner.compacted {
            return Err(StoreError::Compacted { requested: self.cursor + 1, compacted: inner.compacted });
        }
        let first = inner.history.front().map_or(inner.revision + 1, |event| event.revision);
        // `cursor + 1 >= first` here, since `compacted <= first` whenever history was trimmed.
        let start = usize::try_from(self.cursor + 1 - first).unwrap_or(0);
        let end = inner.history.len().min(start.saturating_add(CATCH_UP_SCAN));
        for event in inner.history.range(start.min(end)..end) {
            if event.key.starts_with(&self.prefix) {
                self.pending.push_back(event.clone());
            }
            self.cursor = event.revision;
        }
        if end == inner.history.len() {
            let (tx, rx) = mpsc::channel(WATCH_BUFFER);
            inner.watchers.push(Watcher { prefix: self.prefix.clone(), tx });
            self.live = Some(rx);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::StreamExt;
    use std::time::Instant;

    crate::store_conformance_tests!(async { (Arc::new(MemStore::new()) as Arc<dyn Store>, ()) });

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn run_all_on_one_store() {
        crate::store::conformance::run_all(Arc::new(MemStore::new())).await;
    }

    #[tokio::test]
    async fn slow_watcher_catches_up_from_history_without_gaps() {
        let store = MemStore::new();
        let mut watch = store.watch("/k/", 0).await.expect("watch");
        let total = (WATCH_BUFFER * 3) as i64;
        for i in 0..total {
            store.create(&format!("/k/{i:05}"), vec![1]).await.expect("create");
        }
        for revision in 1..=total {
            let event = watch.next().await.expect("stream open").expect("event");
            assert_eq!(event.revision, revision);
        }
    }

    #[tokio::test]
    async fn slow_watcher_fails_when_its_history_was_compacted() {
        let store = MemStore::with_history_limit(10);
        let mut watch = store.watch("/k/", 0).await.expect("watch");
        let total = (WATCH_BUFFER * 2) as i64;
        for i in 0..total {
            store.create(&format!("/k/{i:05}"), vec![1]).await.expect("create");
        }
        let mut next = 1;
        loop {
            match watch.next().await.expect("stream ends only after an error") {
                Ok(event) => {
                    assert_eq!(event.revision, next);
                    next += 1;
                }
                Err(StoreError::Compacted { requested, compacted }) => {
                    assert_eq!(requested, next);
                    assert!(compacted > next);
                    break;
                }
                Err(other) => panic!("unexpected error {other:?}"),
            }
        }
        assert!(watch.next().await.is_none(), "stream ends after the error");
    }

    #[tokio::test]
    async fn history_limit_bounds_history() {
        let store = MemStore::with_history_limit(5);
        for i in 0..20 {
            store.create(&format!("/k/{i}"), vec![]).await.expect("create");
        }
        assert_eq!(store.lock().history.len(), 5);
        assert!(store.watch("/k/", 10).await.is_err());
        let mut watch = store.watch("/k/", 15).await.expect("recent watch");
        assert_eq!(watch.next().await.expect("open").expect("event").revision, 16);
    }

    #[tokio::test]
    async fn dropped_watch_releases_its_watcher() {
        let store = MemStore::new();
        let watch = store.watch("/k/", 0).await.expect("watch");
        assert_eq!(store.watcher_count(), 1);
        drop(watch);
        assert_eq!(store.watcher_count(), 0);
    }

    /// 100k keys must stay cheap: hollow-node benchmarks keep that many objects.
    #[tokio::test]
    async fn hundred_thousand_keys_are_fast() {
        let store = MemStore::new();
        let started = Instant::now();
        for i in 0..100_000 {
            store.create(&format!("/registry/pods/ns/pod-{i:06}"), vec![0; 64]).await.expect("create");
        }
        let (items, revision) = store.list("/registry/pods/").await.expect("list");
        assert_eq!(items.len(), 100_000);
        assert_eq!(revision, 100_000);
        let elapsed = started.elapsed();
        assert!(elapsed.as_secs() < 10, "100k creates and a list took {elapsed:?}");
    }
}
