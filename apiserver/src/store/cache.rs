//! `WatchCache`: the apiserver's watch fan-out, after Kubernetes' cacher. One
//! underlying `Store::watch` per resource prefix feeds a ring of the latest
//! events and a tokio broadcast channel, so a thousand API watchers cost one
//! etcd watch.
//!
//! Ordering rests on one lock: the feeder appends to the ring and broadcasts
//! under it, and a new watcher copies the ring's tail and subscribes under it,
//! so replay and live events join without a gap or a duplicate. Watchers that
//! start before what the ring remembers fall back to a direct store watch (which
//! may say Compacted). A watcher too slow for the broadcast buffer, or alive when
//! the cache itself lost history to compaction, gets `Compacted` and must re-list:
//! a stream never skips an event silently.

use super::{Result, Store, StoreError, StoreEvent, WatchStream};
use futures::StreamExt;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::Duration;
use tokio::sync::{broadcast, OnceCell};
use tokio::task::JoinHandle;

/// Retry delays when the underlying watch fails, doubling up to the maximum.
const MIN_BACKOFF: Duration = Duration::from_millis(50);
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// A shared, replaying watch over one prefix of a store.
pub struct WatchCache {
    shared: Arc<Shared>,
    started: OnceCell<()>,
    feeder: Mutex<Option<JoinHandle<()>>>,
}

struct Shared {
    store: Arc<dyn Store>,
    prefix: String,
    capacity: usize,
    state: Mutex<State>,
}

struct State {
    /// The latest events, oldest first, at most `capacity` of them.
    ring: VecDeque<Arc<StoreEvent>>,
    /// The ring holds every event with a revision above this one.
    covered_from: i64,
    /// Revision of the newest event seen (or where the cache started).
    last_seen: i64,
    tx: broadcast::Sender<Message>,
}

#[derive(Clone)]
enum Message {
    Event(Arc<StoreEvent>),
    /// The cache lost events to compaction and restarted later; every watcher
    /// alive at that point must re-list.
    Reset {
        compacted: i64,
    },
}

impl WatchCache {
    /// A cache of the last `capacity` events under `prefix`. The underlying watch
    /// starts with the first `watch` (from that watcher's revision, so it is
    /// served from the ring) or with `start`.
    pub fn new(store: Arc<dyn Store>, prefix: String, capacity: usize) -> Self {
        let capacity = capacity.max(1);
        let (tx, _) = broadcast::channel(capacity);
        let state = State { ring: VecDeque::with_capacity(capacity.min(4096)), covered_from: 0, last_seen: 0, tx };
        WatchCache {
            shared: Arc::new(Shared { store, prefix, capacity, state: Mutex::new(state) }),
            started: OnceCell::new(),
            feeder: Mutex::new(None),
        }
    }

    /// Starts the underlying watch now, from the store's current revision.
    pub async fn start(&self) -> Result<()> {
        self.ensure_started(i64::MAX).await
    }

    /// The prefix this cache watches.
    pub fn prefix(&self) -> &str {
        &self.shared.prefix
    }

    /// The revision of the newest event the cache has seen (where it started if
    /// none yet; 0 before it started).
    pub fn current_revision(&self) -> i64 {
        lock(&self.shared.state).last_seen
    }

    /// Every event under the prefix after `after_revision`, in order, then live
    /// ones. Served from the ring when it reaches back that far (or the revision
    /// is in the future: the stream waits for it), else by a direct store watch.
    pub async fn watch(&self, after_revision: i64) -> Result<WatchStream> {
        self.ensure_started(after_revision).await?;
        let from_ring = {
            let state = lock(&self.shared.state);
            if after_revision < state.covered_from {
                None
            } else {
                let newer = state.ring.partition_point(|event| event.revision <= after_revision);
                let replay: VecDeque<_> = state.ring.range(newer..).cloned().collect();
                Some((replay, state.tx.subscribe()))
            }
        };
        let Some((replay, rx)) = from_ring else {
            tracing::debug!(prefix = %self.shared.prefix, after_revision, "watch older than the cache; watching the store");
            return self.shared.store.watch(&self.shared.prefix, after_revision).await;
        };
        let watch = CacheWatch {
            replay,
            rx,
            after: after_revision,
            last: after_revision,
            shared: Arc::downgrade(&self.shared),
        };
        Ok(Box::pin(futures::stream::unfold(Some(watch), |state| async move {
            let mut watch = state?;
            match watch.next().await {
                Ok(event) => Some((Ok(event), Some(watch))),
                Err(error) => Some((Err(error), None)),
            }
        })))
    }

    async fn ensure_started(&self, after_revision: i64) -> Result<()> {
        self.started
            .get_or_try_init(|| async {
                let current = self.shared.store.current_revision().await?;
                // Start where the first watcher needs, so it is served from the
                // ring, but never past what exists (a future start would leave a hole).
                let start = after_revision.clamp(0, current);
                {
                    let mut state = lock(&self.shared.state);
                    state.covered_from = start;
                    state.last_seen = start;
                }
                let handle = tokio::spawn(feed(self.shared.clone()));
                *self.feeder.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(handle);
                tracing::debug!(prefix = %self.shared.prefix, start, "watch cache started");
                Ok(())
            })
            .await
            .map(|_| ())
    }
}

impl Drop for WatchCache {
    fn drop(&mut self) {
        // Stopping the feeder drops the last broadcast sender, so every open
        // stream ends with an Unavailable error rather than hanging.
        if let Some(handle) = self.feeder.get_mut().unwrap_or_else(|poisoned| poisoned.into_inner()).take() {
            handle.abort();
        }
    }
}

/// The state lock; a panic elsewhere cannot leave it half updated (each update
/// is a few assignments), so poisoning is ignored.
fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The feeder task: keeps one watch on the store open, reconnecting from the
/// last seen revision when it fails, and restarting at the current revision
/// when the history it needs was compacted away.
async fn feed(shared: Arc<Shared>) {
    let mut backoff = MIN_BACKOFF;
    loop {
        let from = lock(&shared.state).last_seen;
        let error = match shared.store.watch(&shared.prefix, from).await {
            Ok(mut stream) => loop {
                match stream.next().await {
                    Some(Ok(event)) => {
                        shared.push(event);
                        backoff = MIN_BACKOFF;
                    }
                    Some(Err(error)) => break error,
                    None => break StoreError::Unavailable("the store ended the watch".to_string()),
                }
            },
            Err(error) => error,
        };
        if let StoreError::Compacted { compacted, .. } = error {
            tracing::warn!(prefix = %shared.prefix, from, compacted, "watch cache lost history to compaction; watchers must re-list");
            shared.reset(compacted).await;
            continue;
        }
        tracing::warn!(prefix = %shared.prefix, from, error = %error, retry_in = ?backoff, "watch cache lost its store watch");
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

impl Shared {
    fn push(&self, event: StoreEvent) {
        let mut state = lock(&self.state);
        // Only older revisions are duplicates: one etcd transaction can put
        // several keys at the same revision.
        if event.revision < state.last_seen {
            return;
        }
        let event = Arc::new(event);
        if state.ring.len() >= self.capacity {
            if let Some(evicted) = state.ring.pop_front() {
                state.covered_from = evicted.revision;
            }
        }
        state.last_seen = event.revision;
        state.ring.push_back(event.clone());
        // An error only means nobody is listening right now.
        let _ = state.tx.send(Message::Event(event));
    }

    /// Ends every current watcher with Compacted and restarts at the store's
    /// current revision; the events in between are gone for good.
    async fn reset(&self, compacted: i64) {
        let mut backoff = MIN_BACKOFF;
        let current = loop {
            match self.store.current_revision().await {
                Ok(revision) => break revision,
                Err(error) => {
                    tracing::warn!(prefix = %self.prefix, error = %error, "watch cache cannot read the current revision");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
            }
        };
        let mut state = lock(&self.state);
        state.ring.clear();
        state.covered_from = current;
        state.last_seen = current;
        let _ = state.tx.send(Message::Reset { compacted });
    }
}

/// One watcher: the ring's tail copied at subscription, then the broadcast.
struct CacheWatch {
    replay: VecDeque<Arc<StoreEvent>>,
    rx: broadcast::Receiver<Message>,
    after: i64,
    /// Revision of the last event delivered (or `after`).
    last: i64,
    /// Only to describe a lag; a watcher must not keep the cache alive.
    shared: Weak<Shared>,
}

impl CacheWatch {
    async fn next(&mut self) -> Result<StoreEvent> {
        loop {
            if let Some(event) = self.replay.pop_front() {
                self.last = event.revision;
                return Ok(Arc::unwrap_or_clone(event));
            }
            match self.rx.recv().await {
                // Subscribed before the events it asked for (a future revision).
                Ok(Message::Event(event)) if event.revision <= self.after => continue,
                Ok(Message::Event(event)) => {
                    self.last = event.revision;
                    return Ok(Arc::unwrap_or_clone(event));
                }
                Ok(Message::Reset { compacted }) => {
                    return Err(StoreError::Compacted { requested: self.last + 1, compacted });
                }
                Err(broadcast::error::RecvError::Lagged(missed)) => self.resume_from_ring(missed)?,
                Err(broadcast::error::RecvError::Closed) => {
                    return Err(StoreError::Unavailable("the watch cache was stopped".to_string()));
                }
            }
        }
    }

    /// After missing broadcast messages: picks up from the ring if it still
    /// holds everything after this watcher's position (as when a watcher waiting
    /// for a future revision sat through a burst it would have skipped anyway);
    /// otherwise the watcher has truly fallen behind and must re-list.
    fn resume_from_ring(&mut self, missed: u64) -> Result<()> {
        let Some(shared) = self.shared.upgrade() else {
            return Err(StoreError::Unavailable("the watch cache was stopped".to_string()));
        };
        let state = lock(&shared.state);
        if self.last < state.covered_from {
            tracing::info!(prefix = %shared.prefix, last = self.last, missed, "watcher too slow for the watch cache; it must re-list");
            return Err(StoreError::Compacted { requested: self.last + 1, compacted: state.covered_from });
        }
        let newer = state.ring.partition_point(|event| event.revision <= self.last);
        self.replay = state.ring.range(newer..).cloned().collect();
        self.rx = state.tx.subscribe();
        Ok(())
    }
}

/// A `Store` whose watches all go through `WatchCache`s (one per watched
/// prefix, made on first use) and whose other calls go straight to the inner
/// store. Lets the conformance suite check the cache's watch semantics.
pub struct CachedWatchStore {
    inner: Arc<dyn Store>,
    capacity: usize,
    caches: Mutex<std::collections::HashMap<String, Arc<WatchCache>>>,
}

impl CachedWatchStore {
    pub fn new(inner: Arc<dyn Store>, capacity: usize) -> Self {
        CachedWatchStore { inner, capacity, caches: Mutex::new(Default::default()) }
    }

    /// The cache serving `prefix`, made on first use.
    pub fn cache(&self, prefix: &str) -> Arc<WatchCache> {
        let mut caches = self.caches.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        caches
            .entry(prefix.to_string())
            .or_insert_with(|| Arc::new(WatchCache::new(self.inner.clone(), prefix.to_string(), self.capacity)))
            .clone()
    }
}

#[async_trait::async_trait]
impl Store for CachedWatchStore {
    async fn create_with_ttl(&self, key: &str, value: Vec<u8>, ttl: Option<Duration>) -> Result<i64> {
        self.inner.create_with_ttl(key, value, ttl).await
    }

    async fn get(&self, key: &str) -> Result<Option<super::KeyValue>> {
        self.inner.get(key).await
    }

    async fn list(&self, prefix: &str) -> Result<(Vec<super::KeyValue>, i64)> {
        self.inner.list(prefix).await
    }

    async fn list_at(&self, prefix: &str, revision: i64) -> Result<(Vec<super::KeyValue>, i64)> {
        self.inner.list_at(prefix, revision).await
    }

    async fn list_keys(&self, prefix: &str, revision: i64) -> Result<(Vec<super::KeyRevision>, i64)> {
        self.inner.list_keys(prefix, revision).await
    }

    async fn get_at(&self, key: &str, revision: i64) -> Result<Option<super::KeyValue>> {
        self.inner.get_at(key, revision).await
    }

    async fn update_with_ttl(
        &self,
        key: &str,
        value: Vec<u8>,
        expected_revision: i64,
        ttl: Option<Duration>,
    ) -> Result<i64> {
        self.inner.update_with_ttl(key, value, expected_revision, ttl).await
    }

    async fn delete(&self, key: &str, expected_revision: Option<i64>) -> Result<super::KeyValue> {
        self.inner.delete(key, expected_revision).await
    }

    async fn watch(&self, prefix: &str, after_revision: i64) -> Result<WatchStream> {
        self.cache(prefix).watch(after_revision).await
    }

    async fn current_revision(&self) -> Result<i64> {
        self.inner.current_revision().await
    }

    async fn compact(&self, revision: i64) -> Result<()> {
        self.inner.compact(revision).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::conformance::{assert_quiet, next_event, watch_outcome};
    use crate::store::mem::MemStore;
    use crate::store::testing::TestEtcd;
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    use std::time::Instant;
    use tokio::sync::watch;

    mod over_mem {
        use super::*;
        crate::store_conformance_tests!(async {
            let store: Arc<dyn Store> = Arc::new(CachedWatchStore::new(Arc::new(MemStore::new()), 1000));
            (store, ())
        });
    }

    mod over_etcd {
        use super::*;
        crate::store_conformance_tests!(async {
            let etcd = TestEtcd::start().await.expect("start etcd");
            let store: Arc<dyn Store> = Arc::new(CachedWatchStore::new(Arc::new(etcd.store().await), 1000));
            (store, etcd)
        });
    }

    async fn write(store: &MemStore, prefix: &str, count: usize) -> Vec<i64> {
        let mut revisions = Vec::with_capacity(count);
        for _ in 0..count {
            let revision = store.current_revision().await.expect("revision") + 1;
            revisions.push(store.create(&format!("{prefix}{revision:06}"), vec![1]).await.expect("create"));
        }
        revisions
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn thousand_watchers_share_one_store_watch_and_see_every_event_in_order() {
        const WATCHERS: usize = 1000;
        const EVENTS: usize = 200;
        let store = MemStore::new();
        let cache = WatchCache::new(Arc::new(store.clone()), "/w/".into(), 4096);
        cache.start().await.expect("start");
        let started = Instant::now();
        let mut tasks = Vec::new();
        for _ in 0..WATCHERS {
            let mut stream = cache.watch(0).await.expect("watch");
            tasks.push(tokio::spawn(async move {
                let mut revisions = Vec::with_capacity(EVENTS);
                for _ in 0..EVENTS {
                    revisions.push(next_event(&mut stream).await.revision);
                }
                revisions
            }));
        }
        let written = write(&store, "/w/", EVENTS).await;
        for task in tasks {
            assert_eq!(task.await.expect("watcher"), written);
        }
        assert_eq!(store.watcher_count(), 1, "one store watch serves every watcher");
        assert_eq!(cache.current_revision(), *written.last().expect("written"));
        eprintln!("{WATCHERS} watchers x {EVENTS} events: {:?}", started.elapsed());
    }

    #[tokio::test]
    async fn watch_inside_the_ring_replays_from_it() {
        let store = MemStore::new();
        let cache = WatchCache::new(Arc::new(store.clone()), "/r/".into(), 100);
        cache.start().await.expect("start");
        let written = write(&store, "/r/", 50).await;
        let mut warm = cache.watch(*written.last().expect("written")).await.expect("warm watch");
        let live = write(&store, "/r/", 1).await;
        assert_eq!(next_event(&mut warm).await.revision, live[0], "the cache has seen everything");

        let mut watch = cache.watch(written[9]).await.expect("watch from an old revision");
        for revision in written[10..].iter().chain(&live) {
            assert_eq!(next_event(&mut watch).await.revision, *revision);
        }
        assert_quiet(&mut watch).await;
        assert_eq!(store.watcher_count(), 1, "served from the ring, not the store");
        let more = write(&store, "/r/", 3).await;
        for revision in more {
            assert_eq!(next_event(&mut watch).await.revision, revision);
        }
    }

    #[tokio::test]
    async fn watch_older_than_the_ring_falls_back_to_the_store() {
        let store = MemStore::new();
        let cache = WatchCache::new(Arc::new(store.clone()), "/f/".into(), 10);
        cache.start().await.expect("start");
        let written = write(&store, "/f/", 50).await;
        let mut watch_to_sync = cache.watch(written[48]).await.expect("watch");
        assert_eq!(next_event(&mut watch_to_sync).await.revision, written[49]);

        let mut watch = cache.watch(written[4]).await.expect("fallback watch");
        for revision in &written[5..] {
            assert_eq!(next_event(&mut watch).await.revision, *revision);
        }
        assert_eq!(store.watcher_count(), 2, "the old watch went to the store");

        store.compact(written[30]).await.expect("compact");
        let shared: Arc<dyn Store> = Arc::new(store.clone());
        let cached = CachedWatchStore::new(shared, 10);
        // Prime the cache at the current revision, then ask for a compacted one.
        cached.cache("/f/").start().await.expect("start");
        match watch_outcome(&(Arc::new(cached) as Arc<dyn Store>), "/f/", written[4]).await {
            Err(StoreError::Compacted { requested, compacted }) => {
                assert_eq!((requested, compacted), (written[5], written[30]))
            }
            other => panic!("expected Compacted, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn lagging_watcher_gets_an_error_not_a_gap() {
        let store = MemStore::new();
        let cache = WatchCache::new(Arc::new(store.clone()), "/l/".into(), 8);
        cache.start().await.expect("start");
        let mut slow = cache.watch(0).await.expect("watch");
        let written = write(&store, "/l/", 100).await;
        // Let the feeder push everything through the broadcast before reading.
        while cache.current_revision() < *written.last().expect("written") {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let mut delivered = Vec::new();
        let error = loop {
            match tokio::time::timeout(Duration::from_secs(5), slow.next()).await.expect("no hang") {
                Some(Ok(event)) => delivered.push(event.revision),
                Some(Err(error)) => break error,
                None => panic!("stream ended without an error"),
            }
        };
        assert_eq!(delivered, written[..delivered.len()], "no gap before the error");
        match error {
            StoreError::Compacted { requested, .. } => assert_eq!(requested, written[delivered.len()]),
            other => panic!("expected Compacted, got {other:?}"),
        }
        assert!(slow.next().await.is_none(), "the stream ends after the error");
    }

    #[tokio::test]
    async fn watch_from_the_future_waits_for_it() {
        let store = MemStore::new();
        let cache = WatchCache::new(Arc::new(store.clone()), "/u/".into(), 16);
        let mut watch = cache.watch(5).await.expect("watch");
        let written = write(&store, "/u/", 7).await;
        assert_eq!(next_event(&mut watch).await.revision, written[5]);
        assert_eq!(next_event(&mut watch).await.revision, written[6]);
    }

    #[tokio::test]
    async fn dropping_the_cache_ends_its_streams_with_an_error() {
        let store = MemStore::new();
        let cache = WatchCache::new(Arc::new(store.clone()), "/d/".into(), 16);
        let mut watch = cache.watch(0).await.expect("watch");
        drop(cache);
        match tokio::time::timeout(Duration::from_secs(5), watch.next()).await.expect("no hang") {
            Some(Err(StoreError::Unavailable(_))) => {}
            other => panic!("expected Unavailable, got {other:?}"),
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert_eq!(store.watcher_count(), 0, "the store watch was released");
    }

    /// A store whose watches can be cut from outside, as a lost etcd connection would.
    struct FlakyStore {
        inner: MemStore,
        cut: watch::Sender<usize>,
        /// While set, new watches fail as if etcd were unreachable.
        down: AtomicBool,
        watches: AtomicUsize,
    }

    #[async_trait::async_trait]
    impl Store for FlakyStore {
        async fn create_with_ttl(&self, key: &str, value: Vec<u8>, ttl: Option<Duration>) -> Result<i64> {
            self.inner.create_with_ttl(key, value, ttl).await
        }
        async fn get(&self, key: &str) -> Result<Option<crate::store::KeyValue>> {
            self.inner.get(key).await
        }
        async fn list(&self, prefix: &str) -> Result<(Vec<crate::store::KeyValue>, i64)> {
            self.inner.list(prefix).await
        }
        async fn update_with_ttl(
            &self,
            key: &str,
            value: Vec<u8>,
            expected_revision: i64,
            ttl: Option<Duration>,
        ) -> Result<i64> {
            self.inner.update_with_ttl(key, value, expected_revision, ttl).await
        }
        async fn delete(&self, key: &str, expected_revision: Option<i64>) -> Result<crate::store::KeyValue> {
            self.inner.delete(key, expected_revision).await
        }
        async fn watch(&self, prefix: &str, after_revision: i64) -> Result<WatchStream> {
            self.watches.fetch_add(1, Ordering::SeqCst);
            if self.down.load(Ordering::SeqCst) {
                return Err(StoreError::Unavailable("connection refused".into()));
            }
            let mut cut = self.cut.subscribe();
            cut.mark_unchanged();
            let stream = self.inner.watch(prefix, after_revision).await?;
            let until_cut = async move {
                let _ = cut.changed().await;
            };
            let failure = futures::stream::once(async { Err(StoreError::Unavailable("connection lost".into())) });
            Ok(Box::pin(stream.take_until(until_cut).chain(failure)))
        }
        async fn current_revision(&self) -> Result<i64> {
            self.inner.current_revision().await
        }
        async fn compact(&self, revision: i64) -> Result<()> {
            self.inner.compact(revision).await
        }
    }

    fn flaky() -> Arc<FlakyStore> {
        Arc::new(FlakyStore {
            inner: MemStore::new(),
            cut: watch::channel(0).0,
            down: AtomicBool::new(false),
            watches: AtomicUsize::new(0),
        })
    }

    async fn wait_for_watches(store: &FlakyStore, count: usize) {
        let deadline = Instant::now() + Duration::from_secs(5);
        while store.watches.load(Ordering::SeqCst) < count || store.inner.watcher_count() < 1 {
            assert!(Instant::now() < deadline, "the cache did not re-watch");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    #[tokio::test]
    async fn lost_store_watch_resumes_from_the_last_seen_revision() {
        let store = flaky();
        let cache = WatchCache::new(store.clone(), "/c/".into(), 100);
        let mut watch = cache.watch(0).await.expect("watch");
        let before = write(&store.inner, "/c/", 5).await;
        for revision in &before {
            assert_eq!(next_event(&mut watch).await.revision, *revision);
        }
        store.cut.send_modify(|n| *n += 1);
        // Written while the cache may be between watches: none may be lost.
        let during = write(&store.inner, "/c/", 5).await;
        wait_for_watches(&store, 2).await;
        let after = write(&store.inner, "/c/", 5).await;
        for revision in during.iter().chain(&after) {
            assert_eq!(next_event(&mut watch).await.revision, *revision);
        }
        assert_quiet(&mut watch).await;
    }

    #[tokio::test]
    async fn cache_losing_history_to_compaction_fails_its_watchers() {
        let store = flaky();
        let cache = WatchCache::new(store.clone(), "/p/".into(), 100);
        let mut watch = cache.watch(0).await.expect("watch");
        let first = write(&store.inner, "/p/", 3).await;
        for revision in &first {
            assert_eq!(next_event(&mut watch).await.revision, *revision);
        }
        // Cut the watch and keep the store unreachable while history the cache
        // has not seen is compacted away: the cache must not hide the gap.
        store.down.store(true, Ordering::SeqCst);
        store.cut.send_modify(|n| *n += 1);
        let lost = write(&store.inner, "/p/", 3).await;
        store.inner.compact(*lost.last().expect("lost")).await.expect("compact");
        store.down.store(false, Ordering::SeqCst);
        let outcome = tokio::time::timeout(Duration::from_secs(5), async {
            loop {
                match watch.next().await {
                    Some(Ok(event)) => assert!(event.revision > first[2], "no repeats"),
                    other => return other,
                }
            }
        })
        .await
        .expect("no hang");
        match outcome {
            Some(Err(StoreError::Compacted { compacted, .. })) => assert_eq!(compacted, *lost.last().expect("lost")),
            other => panic!("expected Compacted, got {other:?}"),
        }
        // The cache restarted at the current revision and serves new watchers.
        let now = store.current_revision().await.expect("revision");
        let mut fresh = cache.watch(now).await.expect("fresh watch");
        let next = write(&store.inner, "/p/", 1).await;
        assert_eq!(next_event(&mut fresh).await.revision, next[0]);
    }
}
