//! The storage layer: a `Store` trait over a revisioned key-value space (etcd's
//! model), with an etcd implementation used by the daemons and an in-memory one
//! for unit tests and hollow-node benchmarks. Both pass one conformance suite.
//!
//! Revisions follow etcd: one global counter, bumped once per write, that doubles
//! as every object's resourceVersion. `WatchCache` sits in front of a store so many
//! API watchers share one underlying watch per resource prefix.

use bytes::Bytes;
use futures::Stream;
use std::pin::Pin;
use std::time::Duration;

pub mod cache;
pub mod compactor;
#[cfg(any(test, feature = "testing"))]
pub mod conformance;
pub mod etcd;
pub mod mem;
#[cfg(any(test, feature = "testing"))]
pub mod testing;

pub use cache::WatchCache;
pub use etcd::EtcdStore;
pub use mem::MemStore;

/// A stored value and the revisions etcd keeps for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyValue {
    pub key: String,
    pub value: Vec<u8>,
    /// The revision of the last write to this key: the object's resourceVersion.
    pub mod_revision: i64,
    pub create_revision: i64,
}

/// A key and the revision of its last write: what a keys-only list gives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRevision {
    pub key: String,
    pub mod_revision: i64,
}

impl From<KeyValue> for KeyRevision {
    fn from(kv: KeyValue) -> Self {
        KeyRevision { key: kv.key, mod_revision: kv.mod_revision }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    Put,
    Delete,
}

/// One change, as a watch delivers it. The values are reference-counted
/// `Bytes`: the watch cache hands one event to every watcher, and each copy
/// costs a count, not the object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreEvent {
    pub kind: EventKind,
    pub key: String,
    /// For Put: the new value. For Delete: the value just before deletion.
    pub value: Bytes,
    /// For Put: the previous value, if the key existed (lets watchers with a
    /// selector see objects leave it). For Delete: None.
    pub prev_value: Option<Bytes>,
    /// The revision of this change.
    pub revision: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    #[error("key not found")]
    NotFound,
    #[error("key already exists")]
    AlreadyExists,
    /// The key's mod_revision was not the expected one; `current` is what is stored now.
    #[error("revision mismatch")]
    Conflict { current: Option<KeyValue> },
    /// The requested revision was compacted away.
    #[error("required revision {requested} has been compacted (compacted revision {compacted})")]
    Compacted { requested: i64, compacted: i64 },
    #[error("storage unavailable: {0}")]
    Unavailable(String),
    /// The store refused the request as too large (etcd's `--max-request-bytes`).
    /// Not retryable, unlike Unavailable: it maps to RequestEntityTooLarge.
    #[error("request too large: {0}")]
    TooLarge(String),
    /// The store rejected a request it should never have been sent (compacting a
    /// future revision) or answered something unexpected; a bug, not an outage.
    #[error("storage internal error: {0}")]
    Internal(String),
}

impl StoreError {
    pub fn is_not_found(&self) -> bool {
        matches!(self, StoreError::NotFound)
    }

    pub fn is_already_exists(&self) -> bool {
        matches!(self, StoreError::AlreadyExists)
    }

    pub fn is_conflict(&self) -> bool {
        matches!(self, StoreError::Conflict { .. })
    }

    /// True when the caller must re-list: its revision is no longer in history.
    pub fn is_compacted(&self) -> bool {
        matches!(self, StoreError::Compacted { .. })
    }
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;
pub type WatchStream = Pin<Box<dyn Stream<Item = Result<StoreEvent>> + Send>>;

/// How much later than its TTL a key may expire. Keys written within a short
/// while share one etcd lease, granted for the TTL plus this much, so a busy
/// apiserver grants a lease a minute instead of one per write; the slack is
/// kube-apiserver's: 5% of the TTL, at most a minute.
pub fn ttl_slack(ttl: Duration) -> Duration {
    (ttl / 20).min(Duration::from_secs(60))
}

#[async_trait::async_trait]
pub trait Store: Send + Sync + 'static {
    /// Creates `key`; fails with AlreadyExists if it exists. Returns the new revision.
    async fn create(&self, key: &str, value: Vec<u8>) -> Result<i64> {
        self.create_with_ttl(key, value, None).await
    }
    /// `create`, and with a `ttl` the store deletes the key itself once that
    /// long has passed since this write (etcd: a lease), as a watch then shows.
    /// Expiry may come a little later than `ttl`: by up to [`ttl_slack`], and
    /// etcd counts leases in whole seconds.
    async fn create_with_ttl(&self, key: &str, value: Vec<u8>, ttl: Option<Duration>) -> Result<i64>;
    async fn get(&self, key: &str) -> Result<Option<KeyValue>>;
    /// Every key under `prefix`, sorted by key, and the store revision they were read at.
    async fn list(&self, prefix: &str) -> Result<(Vec<KeyValue>, i64)>;
    /// `list` as it was at an earlier `revision` (etcd reads its history);
    /// Compacted when the store no longer has it. A store without history
    /// serves only its current revision.
    async fn list_at(&self, prefix: &str, revision: i64) -> Result<(Vec<KeyValue>, i64)> {
        let (items, current) = self.list(prefix).await?;
        if current == revision {
            Ok((items, current))
        } else {
            Err(StoreError::Compacted { requested: revision, compacted: current })
        }
    }
    /// The keys `list` (`revision` 0) or `list_at` gives, each with its
    /// mod_revision, without the values (etcd's keys-only range): a caller
    /// holding what it made of each value by key and revision reads only the
    /// values that changed, with [`Store::get_at`].
    async fn list_keys(&self, prefix: &str, revision: i64) -> Result<(Vec<KeyRevision>, i64)> {
        let (items, at) = if revision > 0 { self.list_at(prefix, revision).await? } else { self.list(prefix).await? };
        Ok((items.into_iter().map(KeyRevision::from).collect(), at))
    }
    /// `key` as it was at `revision` (None: absent then); Compacted when the
    /// store no longer has that revision. A store without history knows
    /// only the keys unchanged since.
    async fn get_at(&self, key: &str, revision: i64) -> Result<Option<KeyValue>> {
        let current = self.get(key).await?;
        match current {
            Some(kv) if kv.mod_revision <= revision => Ok(Some(kv)),
            None if self.current_revision().await? == revision => Ok(None),
            _ => Err(StoreError::Compacted { requested: revision, compacted: self.current_revision().await? }),
        }
    }
    /// Replaces `key` only if its mod_revision is `expected_revision`. Returns the new revision.
    async fn update(&self, key: &str, value: Vec<u8>, expected_revision: i64) -> Result<i64> {
        self.update_with_ttl(key, value, expected_revision, None).await
    }
    /// `update`, and the key expires `ttl` after this write; without one it no
    /// longer expires at all. Each write sets its own expiry, as in etcd.
    async fn update_with_ttl(
        &self,
        key: &str,
        value: Vec<u8>,
        expected_revision: i64,
        ttl: Option<Duration>,
    ) -> Result<i64>;
    /// Deletes `key` (only if its mod_revision matches, when given). Returns the
    /// deleted value with `mod_revision` set to the deletion's revision.
    async fn delete(&self, key: &str, expected_revision: Option<i64>) -> Result<KeyValue>;
    /// Every change under `prefix` with a revision greater than `after_revision`,
    /// in revision order, never missing one; then live changes. Fails with
    /// Compacted (at once or as the stream's first item) if `after_revision` is too old.
    /// A stream that cannot go on yields one error and ends; it never skips an event.
    async fn watch(&self, prefix: &str, after_revision: i64) -> Result<WatchStream>;
    /// The store's current revision.
    async fn current_revision(&self) -> Result<i64>;
    /// Discards history up to `revision` (watches from before it then fail).
    /// As in etcd, the state at `revision` itself stays readable: a watch whose
    /// first needed revision is `revision` or later still works, one needing an
    /// older event fails with Compacted. Compacting to an already compacted
    /// revision is a no-op; compacting past the current revision is Internal.
    async fn compact(&self, revision: i64) -> Result<()>;
}
