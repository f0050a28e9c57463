//! Tables of lists from rows kept by resourceVersion. `kubectl get pods`
//! asks for a Table; building one means reading every object for its cells,
//! which costs more than sending the stored objects as a JSON list. But a
//! row depends only on its object's stored bytes (its ages are kept as times,
//! [`Cell::Ago`](api::printers::Cell)), and an object's bytes only change
//! with its resourceVersion. So the front keeps each row it made under the
//! object's key and resourceVersion, and a Table list reads the page's keys
//! and resourceVersions only (etcd's keys-only range, no values), takes the
//! rows it has, and reads and prepares just the objects that changed since.
//!
//! The rows are read at one revision, so the Table is the same consistent
//! snapshot the JSON list would give. Rows not listed for [`IDLE`] are
//! dropped (deleted objects' rows with them), and the cache takes no more
//! than its byte budget: past it, new rows are served but not kept.

use crate::registry::{KeyPage, RawObject, Registry};
use crate::store::KeyRevision;
use api::printers::PreparedRow;
use api::{ApiError, ResourceInfo};
use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};

/// How long a row no list asked for is kept.
const IDLE: i64 = 600;
/// How often (at most) the idle rows are looked for.
const SWEEP_EVERY: i64 = 60;
/// The rows kept, in bytes: about 90,000 pods' rows.
pub const BUDGET: usize = 64 << 20;
/// Past this many changed objects in a page, one read of the whole page costs
/// less than reading them one by one.
const MANY: usize = 64;

/// A prepared row and the resourceVersion of the object it was made from.
pub struct Cached {
    pub mod_revision: i64,
    pub row: PreparedRow,
    /// When a list last showed it (seconds since the epoch).
    used: AtomicI64,
}

/// The rows made so far, by object key.
pub struct RowCache {
    rows: RwLock<HashMap<String, Arc<Cached>>>,
    bytes: AtomicUsize,
    last_sweep: AtomicI64,
    budget: usize,
}

/// A page of a Table: its rows (each stamped with its `mod_revision`) and
/// where the list goes on.
pub struct RowPage {
    pub rows: Vec<Arc<Cached>>,
    pub resource_version: i64,
    pub continue_key: String,
}

fn seconds_now() -> i64 {
    jiff::Timestamp::now().as_second()
}

impl RowCache {
    pub fn new(budget: usize) -> Self {
        RowCache {
            rows: RwLock::new(HashMap::new()),
            bytes: AtomicUsize::new(0),
            last_sweep: AtomicI64::new(seconds_now()),
            budget,
        }
    }

    /// The rows kept now, and their bytes.
    pub fn usage(&self) -> (usize, usize) {
        (self.read().len(), self.bytes.load(Ordering::Relaxed))
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, HashMap<String, Arc<Cached>>> {
        self.rows.read().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, HashMap<String, Arc<Cached>>> {
        self.rows.write().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The kept row of each key at its revision, if there is one.
    fn lookup(&self, keys: &[KeyRevision], now: i64) -> Vec<Option<Arc<Cached>>> {
        let rows = self.read();
        keys.iter()
            .map(|k| {
                let cached = rows.get(&k.key).filter(|c| c.mod_revision == k.mod_revision)?;
                cached.used.store(now, Ordering::Relaxed);
                Some(cached.clone())
            })
            .collect()
    }

    /// Keeps new rows as far as the budget allows, each replacing the row of
    /// an older version of its object.
    fn keep(&self, made: &[(String, Arc<Cached>)]) {
        let mut rows = self.write();
        for (key, cached) in made {
            let size = key.len() + cached.row.size();
            let freed = rows.get(key).map_or(0, |old| key.len() + old.row.size());
            if self.bytes.load(Ordering::Relaxed) + size > self.budget + freed {
                continue;
            }
            rows.insert(key.clone(), cached.clone());
            self.bytes.fetch_add(size, Ordering::Relaxed);
            self.bytes.fetch_sub(freed, Ordering::Relaxed);
        }
    }

    /// Drops the rows no list showed for [`IDLE`], at most once a [`SWEEP_EVERY`].
    fn sweep(&self, now: i64) {
        let last = self.last_sweep.load(Ordering::Relaxed);
        if now - last < SWEEP_EVERY
            || self.last_sweep.compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed).is_err()
        {
            return;
        }
        let mut rows = self.write();
        let mut freed = 0;
        rows.retain(|key, cached| {
            let keep = now - cached.used.load(Ordering::Relaxed) < IDLE;
            if !keep {
                freed += key.len() + cached.row.size();
            }
            keep
        });
        self.bytes.fetch_sub(freed, Ordering::Relaxed);
    }

    /// The rows of a page of `info`'s objects in `namespace` (a list without
    /// selectors: `limit`, the key to `start` after, the revision to read
    /// at, 0 for the latest), from kept rows where their objects are
    /// unchanged. A page read at the latest revision is read again (once)
    /// when compaction overtakes it between its keys and its objects.
    pub async fn page(
        &self,
        registry: &Registry,
        info: &ResourceInfo,
        namespace: &str,
        limit: i64,
        start: &str,
        at: i64,
    ) -> Result<RowPage, ApiError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let keys = registry.list_keys_at(info, namespace, limit, start, at).await?;
            match self.rows_of(registry, info, namespace, limit, start, &keys).await {
                Err(e) if e.is_expired() && at == 0 && attempt < 2 => continue,
                Err(e) => return Err(e),
                Ok(rows) => {
                    return Ok(RowPage {
                        rows,
                        resource_version: keys.resource_version,
                        continue_key: keys.continue_token,
                    })
                }
            }
        }
    }

    async fn rows_of(
        &self,
        registry: &Registry,
        info: &ResourceInfo,
        namespace: &str,
        limit: i64,
        start: &str,
        page: &KeyPage,
    ) -> Result<Vec<Arc<Cached>>, ApiError> {
        let now = seconds_now();
        let mut rows = self.lookup(&page.keys, now);
        let missing: Vec<usize> = (0..rows.len()).filter(|&i| rows[i].is_none()).collect();
        if !missing.is_empty() {
            let objects = if missing.len() > MANY {
                // The same page at the same revision: the same keys, in order.
                let all = registry.list_raw_at(info, namespace, "", "", limit, start, page.resource_version).await?;
                if all.items.len() != page.keys.len() {
                    return Err(ApiError::internal("a list changed at a fixed revision"));
                }
                let mut items: Vec<Option<RawObject>> = all.items.into_iter().map(Some).collect();
                missing.iter().filter_map(|&i| items[i].take()).collect()
            } else {
                let keys: Vec<KeyRevision> = missing.iter().map(|&i| page.keys[i].clone()).collect();
                registry.objects_at(&keys, page.resource_version).await?
            };
            let mut made = Vec::with_capacity(missing.len());
            for (&i, object) in missing.iter().zip(objects) {
                let row = PreparedRow::new(info, &object.json)
                    .map_err(|e| ApiError::internal(format!("stored object is not JSON: {e}")))?;
                let cached = Arc::new(Cached { mod_revision: object.resource_version, row, used: AtomicI64::new(now) });
                rows[i] = Some(cached.clone());
                made.push((page.keys[i].key.clone(), cached));
            }
            self.keep(&made);
        }
        self.sweep(now);
        Ok(rows.into_iter().flatten().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::Registry;
    use crate::store::{MemStore, Store};
    use api::printers::{table_raw, write_table, IncludeObject};
    use serde_json::{json, Value};

    fn pod(name: &str, phase: &str) -> Value {
        json!({"apiVersion": "v1", "kind": "Pod",
               "metadata": {"name": name, "namespace": "ns", "uid": format!("uid-{name}"),
                            "creationTimestamp": "2026-01-01T00:00:00Z"},
               "spec": {"containers": [{"name": "c", "image": "busybox"}]},
               "status": {"phase": phase}})
    }

    async fn store_pods(store: &Arc<dyn Store>, names: &[(&str, &str)]) {
        for (name, phase) in names {
            let key = format!("/registry/pods/ns/{name}");
            let bytes = serde_json::to_vec(&pod(name, phase)).unwrap();
            match store.get(&key).await.unwrap() {
                Some(kv) => store.update(&key, bytes, kv.mod_revision).await.map(|_| ()).unwrap(),
                None => store.create(&key, bytes).await.map(|_| ()).unwrap(),
            }
        }
    }

    /// The Table of a page of kept rows against the Table made from the stored objects.
    async fn same_as_stored(cache: &RowCache, registry: &Registry, limit: i64) -> RowPage {
        let info = api::registry::lookup("pods").unwrap();
        let page = cache.page(registry, info, "ns", limit, "", 0).await.unwrap();
        let stored = registry.list_raw(info, "ns", "", "", limit, "").await.unwrap();
        let now = jiff::Timestamp::now();
        let rows = page.rows.iter().map(|c| (&c.row, c.mod_revision));
        let made = write_table(info, rows, IncludeObject::Metadata, now, "1", "");
        let objects: Vec<(&[u8], i64)> = stored.items.iter().map(|o| (&o.json[..], o.resource_version)).collect();
        let want = table_raw(info, &objects, IncludeObject::Metadata, now, "1", "").unwrap();
        assert_eq!(serde_json::from_slice::<Value>(&made).unwrap(), serde_json::from_slice::<Value>(&want).unwrap());
        page
    }

    #[tokio::test]
    async fn rows_are_reused_until_their_object_changes() {
        let store: Arc<dyn Store> = Arc::new(MemStore::new());
        let registry = Registry::new(store.clone());
        let cache = RowCache::new(BUDGET);
        store_pods(&store, &[("a", "Running"), ("b", "Pending"), ("c", "Running")]).await;
        let first = same_as_stored(&cache, &registry, 0).await;
        assert_eq!(cache.usage().0, 3);
        let again = same_as_stored(&cache, &registry, 0).await;
        for (one, two) in first.rows.iter().zip(&again.rows) {
            assert!(Arc::ptr_eq(one, two), "an unchanged object's row is the kept one");
        }
        // b finishes: its row is made again, with the Completed condition; a and c are kept.
        store_pods(&store, &[("b", "Succeeded")]).await;
        let changed = same_as_stored(&cache, &registry, 0).await;
        assert!(Arc::ptr_eq(&first.rows[0], &changed.rows[0]));
        assert!(!Arc::ptr_eq(&first.rows[1], &changed.rows[1]));
        assert!(
            changed.rows[1].mod_revision > first.rows[1].mod_revision,
            "the new row carries the new resourceVersion"
        );
        assert_eq!(cache.usage().0, 3, "the new row replaced the old one");
        // A page of two goes on after b.
        let page = same_as_stored(&cache, &registry, 2).await;
        assert_eq!(page.rows.len(), 2);
        assert_eq!(page.continue_key, "/registry/pods/ns/b");
    }

    #[tokio::test]
    async fn rows_past_the_budget_are_served_but_not_kept() {
        let store: Arc<dyn Store> = Arc::new(MemStore::new());
        let registry = Registry::new(store.clone());
        store_pods(&store, &[("a", "Running"), ("b", "Running")]).await;
        let cache = RowCache::new(10);
        let page = same_as_stored(&cache, &registry, 0).await;
        assert_eq!(page.rows.len(), 2);
        assert_eq!(cache.usage(), (0, 0));
    }

    #[test]
    fn idle_rows_are_swept() {
        let cache = RowCache::new(BUDGET);
        let info = api::registry::lookup("pods").unwrap();
        let row = PreparedRow::new(info, &serde_json::to_vec(&pod("a", "Running")).unwrap()).unwrap();
        let now = seconds_now();
        let old = Arc::new(Cached { mod_revision: 5, row: row.clone(), used: AtomicI64::new(now - IDLE - 1) });
        let fresh = Arc::new(Cached { mod_revision: 6, row, used: AtomicI64::new(now) });
        cache.keep(&[("old".into(), old), ("fresh".into(), fresh)]);
        assert_eq!(cache.usage().0, 2);
        cache.last_sweep.store(now - SWEEP_EVERY, Ordering::Relaxed);
        cache.sweep(now);
        let keys =
            [KeyRevision { key: "old".into(), mod_revision: 5 }, KeyRevision { key: "fresh".into(), mod_revision: 6 }];
        let found = cache.lookup(&keys, now);
        assert!(found[0].is_none() && found[1].is_some());
        assert_eq!(cache.usage().1, "fresh".len() + found[1].as_ref().unwrap().row.size());
    }
}
