//! The one conformance suite every `Store` must pass (MemStore, EtcdStore, and
//! stores whose watches go through a `WatchCache`), so the memory store used by
//! unit tests cannot drift from etcd's behaviour.
//!
//! Each case is a public async fn over an `Arc<dyn Store>` that works under its
//! own key prefix, so `run_all` can run every case against one shared store.
//! `store_conformance_tests!` turns each case into its own `#[tokio::test]`.

use super::{EventKind, KeyRevision, KeyValue, Store, StoreError, StoreEvent, WatchStream};
use bytes::Bytes;
use futures::StreamExt;
use std::sync::Arc;
use std::time::Duration;

/// Longest wait for an expected event before the case fails instead of hanging.
const EVENT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long "no event arrives" is watched for.
const QUIET_PERIOD: Duration = Duration::from_millis(200);

/// Generates one `#[tokio::test]` per conformance case. `$factory` is an async
/// block yielding `(Arc<dyn Store>, guard)`; the guard (e.g. a `TestEtcd`) is
/// kept alive until the case ends.
#[macro_export]
macro_rules! store_conformance_tests {
    ($factory:expr) => {
        $crate::store_conformance_tests!(@cases $factory;
            create_and_get,
            list_is_sorted_and_excludes_sibling_prefixes,
            keys_list_and_reads_at_a_revision_agree_with_the_list,
            update_checks_revision,
            delete_checks_revision_and_returns_last_value,
            revisions_strictly_increase,
            watch_replays_missed_events_then_live_ones,
            watch_excludes_sibling_prefixes,
            watch_events_carry_previous_values,
            watch_from_future_revision_waits,
            watch_from_compacted_revision_fails,
            concurrent_updates_lose_no_increment,
            one_mebibyte_value_round_trips,
            keys_expire_after_their_ttl,
        );
    };
    (@cases $factory:expr; $($case:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                let (store, _guard) = $factory.await;
                $crate::store::conformance::$case(store).await;
            }
        )*
    };
}

/// Runs every case, one after another, against one store.
pub async fn run_all(store: Arc<dyn Store>) {
    create_and_get(store.clone()).await;
    list_is_sorted_and_excludes_sibling_prefixes(store.clone()).await;
    keys_list_and_reads_at_a_revision_agree_with_the_list(store.clone()).await;
    update_checks_revision(store.clone()).await;
    delete_checks_revision_and_returns_last_value(store.clone()).await;
    revisions_strictly_increase(store.clone()).await;
    watch_replays_missed_events_then_live_ones(store.clone()).await;
    watch_excludes_sibling_prefixes(store.clone()).await;
    watch_events_carry_previous_values(store.clone()).await;
    watch_from_future_revision_waits(store.clone()).await;
    watch_from_compacted_revision_fails(store.clone()).await;
    concurrent_updates_lose_no_increment(store.clone()).await;
    one_mebibyte_value_round_trips(store.clone()).await;
    keys_expire_after_their_ttl(store).await;
}

pub async fn create_and_get(store: Arc<dyn Store>) {
    let key = "/conformance/create/a";
    assert_eq!(store.get(key).await.expect("get missing"), None);
    let revision = store.create(key, b"one".to_vec()).await.expect("create");
    assert!(revision > 0);
    let kv = store.get(key).await.expect("get").expect("created key is there");
    assert_eq!(
        kv,
        KeyValue { key: key.into(), value: b"one".to_vec(), mod_revision: revision, create_revision: revision }
    );
    assert_eq!(store.create(key, b"two".to_vec()).await, Err(StoreError::AlreadyExists));
    assert_eq!(store.get(key).await.expect("get").map(|kv| kv.value), Some(b"one".to_vec()), "failed create wrote");
    assert_eq!(store.current_revision().await.expect("revision"), revision, "failed create bumped the revision");
}

pub async fn list_is_sorted_and_excludes_sibling_prefixes(store: Arc<dyn Store>) {
    let base = "/conformance/list";
    for key in ["/registry/pods/b", "/registry/podsx/c", "/registry/pods/a", "/registry/pod", "/registry/pods/a/x"] {
        store.create(&format!("{base}{key}"), key.as_bytes().to_vec()).await.expect("create");
    }
    let written = store.current_revision().await.expect("revision");
    let (items, revision) = store.list(&format!("{base}/registry/pods/")).await.expect("list");
    let keys: Vec<_> = items.iter().map(|kv| kv.key.trim_start_matches(base)).collect();
    assert_eq!(keys, ["/registry/pods/a", "/registry/pods/a/x", "/registry/pods/b"]);
    assert_eq!(revision, written, "list revision is the store's revision");
    assert!(items.iter().all(|kv| kv.value == kv.key.trim_start_matches(base).as_bytes()));
    let (none, revision) = store.list(&format!("{base}/registry/nothing/")).await.expect("empty list");
    assert!(none.is_empty());
    assert_eq!(revision, written, "an empty list still reports the revision");
}

/// `list_keys` gives `list`'s keys and revisions without the values, and
/// `get_at` the value each key had at the list's revision.
pub async fn keys_list_and_reads_at_a_revision_agree_with_the_list(store: Arc<dyn Store>) {
    let prefix = "/conformance/keys/";
    for name in ["c", "a", "b"] {
        store.create(&format!("{prefix}{name}"), name.as_bytes().to_vec()).await.expect("create");
    }
    store.create("/conformance/keysx", b"sibling".to_vec()).await.expect("create");
    let (items, revision) = store.list(prefix).await.expect("list");
    let (keys, keys_revision) = store.list_keys(prefix, 0).await.expect("keys");
    assert_eq!(keys_revision, revision);
    let want: Vec<KeyRevision> = items.iter().cloned().map(KeyRevision::from).collect();
    assert_eq!(keys, want, "the same keys and revisions, sorted");
    for kv in &items {
        let read = store.get_at(&kv.key, revision).await.expect("get_at").expect("present at the list's revision");
        assert_eq!(read, *kv);
    }
    assert_eq!(store.get_at(&format!("{prefix}none"), revision).await.expect("get_at"), None);
    assert_eq!(store.list_keys(prefix, revision).await.expect("keys at"), (want, revision));
}

pub async fn update_checks_revision(store: Arc<dyn Store>) {
    let key = "/conformance/update/a";
    let created = store.create(key, b"v1".to_vec()).await.expect("create");
    let updated = store.update(key, b"v2".to_vec(), created).await.expect("update");
    assert!(updated > created);
    let kv = store.get(key).await.expect("get").expect("present");
    assert_eq!((kv.value.as_slice(), kv.mod_revision, kv.create_revision), (&b"v2"[..], updated, created));

    // A stale revision is a conflict carrying what is stored now.
    match store.update(key, b"stale".to_vec(), created).await {
        Err(StoreError::Conflict { current: Some(current) }) => assert_eq!(current, kv),
        other => panic!("stale update: expected Conflict with the current value, got {other:?}"),
    }
    assert_eq!(store.current_revision().await.expect("revision"), updated, "conflict bumped the revision");
    assert_eq!(store.update("/conformance/update/missing", vec![], updated).await, Err(StoreError::NotFound));
    // Revision 0 is what a missing key has; it must not turn update into create.
    assert_eq!(store.update("/conformance/update/missing", vec![], 0).await, Err(StoreError::NotFound));
    assert_eq!(store.get("/conformance/update/missing").await.expect("get"), None);
}

pub async fn delete_checks_revision_and_returns_last_value(store: Arc<dyn Store>) {
    let key = "/conformance/delete/a";
    assert_eq!(store.delete(key, None).await, Err(StoreError::NotFound));
    assert_eq!(store.delete(key, Some(1)).await, Err(StoreError::NotFound));
    let created = store.create(key, b"v1".to_vec()).await.expect("create");
    let updated = store.update(key, b"v2".to_vec(), created).await.expect("update");
    match store.delete(key, Some(created)).await {
        Err(StoreError::Conflict { current: Some(current) }) => assert_eq!(current.mod_revision, updated),
        other => panic!("stale delete: expected Conflict, got {other:?}"),
    }
    let deleted = store.delete(key, Some(updated)).await.expect("delete");
    assert_eq!(deleted.key, key);
    assert_eq!(deleted.value, b"v2");
    assert_eq!(deleted.create_revision, created);
    assert!(deleted.mod_revision > updated, "mod_revision is the deletion's revision");
    assert_eq!(store.current_revision().await.expect("revision"), deleted.mod_revision);
    assert_eq!(store.get(key).await.expect("get"), None);
    assert_eq!(store.delete(key, None).await, Err(StoreError::NotFound));

    // Unconditional delete, and re-creating a deleted key starts a new life.
    let recreated = store.create(key, b"v3".to_vec()).await.expect("re-create");
    assert!(recreated > deleted.mod_revision);
    let gone = store.delete(key, None).await.expect("unconditional delete");
    assert_eq!((gone.value.as_slice(), gone.create_revision), (&b"v3"[..], recreated));
}

pub async fn revisions_strictly_increase(store: Arc<dyn Store>) {
    let mut last = store.current_revision().await.expect("revision");
    for i in 0..10 {
        let key = format!("/conformance/revisions/{i}");
        let created = store.create(&key, vec![]).await.expect("create");
        let updated = store.update(&key, vec![1], created).await.expect("update");
        let deleted = store.delete(&key, None).await.expect("delete").mod_revision;
        for revision in [created, updated, deleted] {
            assert!(revision > last, "revision {revision} after {last}");
            last = revision;
        }
        assert_eq!(store.current_revision().await.expect("revision"), last);
    }
}

pub async fn watch_replays_missed_events_then_live_ones(store: Arc<dyn Store>) {
    let prefix = "/conformance/replay/";
    let start = store.current_revision().await.expect("revision");
    let a = format!("{prefix}a");
    let created = store.create(&a, b"1".to_vec()).await.expect("create");
    store.create("/conformance/replayx/other", vec![]).await.expect("sibling write");
    let updated = store.update(&a, b"2".to_vec(), created).await.expect("update");
    let b_created = store.create(&format!("{prefix}b"), b"b".to_vec()).await.expect("create b");
    let deleted = store.delete(&a, None).await.expect("delete").mod_revision;

    let mut watch = store.watch(prefix, start).await.expect("watch");
    let expected = [
        (created, EventKind::Put),
        (updated, EventKind::Put),
        (b_created, EventKind::Put),
        (deleted, EventKind::Delete),
    ];
    for (revision, kind) in expected {
        let event = next_event(&mut watch).await;
        assert_eq!((event.revision, event.kind), (revision, kind), "replayed {event:?}");
    }
    let live = store.update(&format!("{prefix}b"), b"b2".to_vec(), b_created).await.expect("live update");
    let event = next_event(&mut watch).await;
    assert_eq!((event.revision, &event.value[..]), (live, &b"b2"[..]));
    assert_quiet(&mut watch).await;

    // From the middle of the history: only what came after.
    let mut watch = store.watch(prefix, updated).await.expect("watch from the middle");
    for revision in [b_created, deleted, live] {
        assert_eq!(next_event(&mut watch).await.revision, revision);
    }
    assert_quiet(&mut watch).await;
}

pub async fn watch_excludes_sibling_prefixes(store: Arc<dyn Store>) {
    let start = store.current_revision().await.expect("revision");
    let mut watch = store.watch("/conformance/sibling/registry/pods/", start).await.expect("watch");
    store.create("/conformance/sibling/registry/podsx/a", vec![]).await.expect("sibling");
    store.create("/conformance/sibling/registry/pods", vec![]).await.expect("bare prefix");
    let mine = store.create("/conformance/sibling/registry/pods/a", vec![]).await.expect("mine");
    assert_eq!(next_event(&mut watch).await.revision, mine);
    assert_quiet(&mut watch).await;
}

pub async fn watch_events_carry_previous_values(store: Arc<dyn Store>) {
    let prefix = "/conformance/prev/";
    let key = format!("{prefix}a");
    let start = store.current_revision().await.expect("revision");
    let mut watch = store.watch(prefix, start).await.expect("watch");
    let created = store.create(&key, b"v1".to_vec()).await.expect("create");
    let updated = store.update(&key, b"v2".to_vec(), created).await.expect("update");
    let deleted = store.delete(&key, Some(updated)).await.expect("delete").mod_revision;
    let expected = [
        StoreEvent {
            kind: EventKind::Put,
            key: key.clone(),
            value: Bytes::from_static(b"v1"),
            prev_value: None,
            revision: created,
        },
        StoreEvent {
            kind: EventKind::Put,
            key: key.clone(),
            value: Bytes::from_static(b"v2"),
            prev_value: Some(Bytes::from_static(b"v1")),
            revision: updated,
        },
        StoreEvent {
            kind: EventKind::Delete,
            key,
            value: Bytes::from_static(b"v2"),
            prev_value: None,
            revision: deleted,
        },
    ];
    for want in expected {
        assert_eq!(next_event(&mut watch).await, want);
    }
}

pub async fn watch_from_future_revision_waits(store: Arc<dyn Store>) {
    let prefix = "/conformance/future/";
    let now = store.current_revision().await.expect("revision");
    let mut watch = store.watch(prefix, now + 2).await.expect("watch from the future");
    store.create(&format!("{prefix}1"), vec![]).await.expect("create");
    store.create(&format!("{prefix}2"), vec![]).await.expect("create");
    assert_quiet(&mut watch).await;
    let third = store.create(&format!("{prefix}3"), vec![]).await.expect("create");
    assert_eq!(third, now + 3);
    assert_eq!(next_event(&mut watch).await.revision, third);
}

pub async fn watch_from_compacted_revision_fails(store: Arc<dyn Store>) {
    let prefix = "/conformance/compact/";
    let before = store.current_revision().await.expect("revision");
    let mut last = 0;
    for i in 0..5 {
        last = store.create(&format!("{prefix}{i}"), vec![]).await.expect("create");
    }
    store.compact(last).await.expect("compact");
    store.compact(last).await.expect("compacting again is a no-op");
    match watch_outcome(&store, prefix, before).await {
        Err(StoreError::Compacted { requested, compacted }) => {
            assert_eq!((requested, compacted), (before + 1, last));
        }
        other => panic!("watch from a compacted revision: expected Compacted, got {other:?}"),
    }
    // Watching from the compaction point on still works.
    let mut watch = store.watch(prefix, last).await.expect("watch after compaction");
    let next = store.create(&format!("{prefix}after"), vec![]).await.expect("create");
    assert_eq!(next_event(&mut watch).await.revision, next);
    // Compacting past the current revision is refused without touching the store.
    assert!(matches!(store.compact(next + 100).await, Err(StoreError::Internal(_))));
    // Reads are unaffected by compaction.
    assert_eq!(store.list(prefix).await.expect("list").0.len(), 6);
}

pub async fn concurrent_updates_lose_no_increment(store: Arc<dyn Store>) {
    const TASKS: u64 = 20;
    const INCREMENTS: u64 = 10;
    let key = "/conformance/counter";
    store.create(key, b"0".to_vec()).await.expect("create");
    let mut tasks = Vec::new();
    for _ in 0..TASKS {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let mut conflicts = 0u64;
            for _ in 0..INCREMENTS {
                let mut current = store.get(key).await.expect("get").expect("counter");
                loop {
                    let value: u64 = String::from_utf8_lossy(&current.value).parse().expect("counter value");
                    match store.update(key, (value + 1).to_string().into_bytes(), current.mod_revision).await {
                        Ok(_) => break,
                        Err(StoreError::Conflict { current: Some(now) }) => {
                            conflicts += 1;
                            current = now;
                        }
                        Err(other) => panic!("update: {other:?}"),
                    }
                }
            }
            conflicts
        }));
    }
    for task in tasks {
        task.await.expect("task");
    }
    let value = store.get(key).await.expect("get").expect("counter").value;
    assert_eq!(String::from_utf8_lossy(&value), (TASKS * INCREMENTS).to_string());
}

pub async fn one_mebibyte_value_round_trips(store: Arc<dyn Store>) {
    let prefix = "/conformance/big/";
    let key = format!("{prefix}a");
    // Not all one byte, so a truncation or mix-up would show.
    let value: Vec<u8> = (0..1usize << 20).map(|i| (i % 253) as u8).collect();
    let start = store.current_revision().await.expect("revision");
    let created = store.create(&key, value.clone()).await.expect("create");
    assert_eq!(store.get(&key).await.expect("get").expect("present").value, value);
    let (items, _) = store.list(prefix).await.expect("list");
    assert_eq!(items.len(), 1);
    assert_eq!(items[0].value, value);
    let mut watch = store.watch(prefix, start).await.expect("watch");
    assert_eq!(next_event(&mut watch).await.value, value);
    let deleted = store.delete(&key, Some(created)).await.expect("delete");
    assert_eq!(deleted.value, value);
    assert_eq!(next_event(&mut watch).await.value, value, "delete event carries the value");
}

/// A key written with a TTL is deleted by the store itself, no sooner than the
/// TTL after its last write, and watchers see that delete with the last value.
/// Each write sets the expiry anew: a later TTL moves it, none cancels it.
pub async fn keys_expire_after_their_ttl(store: Arc<dyn Store>) {
    let prefix = "/conformance/ttl/";
    let [short, kept, moved] = ["short", "kept", "moved"].map(|k| format!("{prefix}{k}"));
    let (ttl, longer) = (Duration::from_secs(2), Duration::from_secs(4));
    let start = store.current_revision().await.expect("revision");
    let created = tokio::time::Instant::now();
    store.create_with_ttl(&short, b"short".to_vec(), Some(ttl)).await.expect("create short");
    let kept_rev = store.create_with_ttl(&kept, b"kept".to_vec(), Some(ttl)).await.expect("create kept");
    store.update(&kept, b"kept for good".to_vec(), kept_rev).await.expect("update kept without a TTL");
    let moved_rev = store.create_with_ttl(&moved, b"moved".to_vec(), Some(ttl)).await.expect("create moved");
    tokio::time::sleep(Duration::from_secs(1)).await;
    let updated = tokio::time::Instant::now();
    store.update_with_ttl(&moved, b"moved later".to_vec(), moved_rev, Some(longer)).await.expect("update moved");

    let mut watch = store.watch(prefix, start).await.expect("watch");
    for _ in 0..5 {
        assert_eq!(next_event(&mut watch).await.kind, EventKind::Put);
    }
    let first = next_event(&mut watch).await;
    assert_eq!((first.kind, first.key.as_str(), &first.value[..]), (EventKind::Delete, short.as_str(), &b"short"[..]));
    assert!(created.elapsed() >= ttl, "expired {:?} after its write, before its TTL", created.elapsed());
    assert_eq!(store.get(&short).await.expect("get"), None);
    assert!(store.get(&moved).await.expect("get").is_some(), "the later write's TTL did not move the expiry");
    let second = next_event(&mut watch).await;
    assert_eq!((second.kind, &second.value[..]), (EventKind::Delete, &b"moved later"[..]));
    assert_eq!(second.key, moved);
    assert!(updated.elapsed() >= longer, "expired {:?} after its last write, before its TTL", updated.elapsed());
    let kept_now = store.get(&kept).await.expect("get").expect("a key rewritten without a TTL stays");
    assert_eq!(kept_now.value, b"kept for good");
}

/// The next event, failing the case on an error, a closed stream, or a hang.
pub async fn next_event(watch: &mut WatchStream) -> StoreEvent {
    match tokio::time::timeout(EVENT_TIMEOUT, watch.next()).await {
        Ok(Some(Ok(event))) => event,
        Ok(Some(Err(error))) => panic!("watch failed: {error}"),
        Ok(None) => panic!("watch ended"),
        Err(_) => panic!("no event within {EVENT_TIMEOUT:?}"),
    }
}

/// Fails if the watch yields anything for a short while.
pub async fn assert_quiet(watch: &mut WatchStream) {
    if let Ok(item) = tokio::time::timeout(QUIET_PERIOD, watch.next()).await {
        panic!("expected no event, got {item:?}");
    }
}

/// A watch's first result: the error of `watch` itself, or its stream's first item
/// (a store may report compaction either way).
pub async fn watch_outcome(store: &Arc<dyn Store>, prefix: &str, after: i64) -> Result<StoreEvent, StoreError> {
    let mut watch = store.watch(prefix, after).await?;
    match tokio::time::timeout(EVENT_TIMEOUT, watch.next()).await {
        Ok(Some(item)) => item,
        Ok(None) => panic!("watch ended without an item"),
        Err(_) => panic!("watch gave nothing within {EVENT_TIMEOUT:?}"),
    }
}
