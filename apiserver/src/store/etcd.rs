//! `EtcdStore`: the `Store` the daemons use, over etcd's v3 API (etcd-client).
//!
//! Every conditional write is a single etcd transaction, so the compare and the
//! write happen at one revision: create compares `create_revision == 0`, update
//! and conditional delete compare `mod_revision`, and the else-branch reads the
//! key so a conflict carries what is stored now without a second round trip.
//! Lists are paginated at one fixed revision so a big prefix stays consistent
//! and no single response grows without bound. Keys with a TTL (Events) are
//! written under a lease that etcd revokes by itself; writes share one lease
//! for a while, as kube-apiserver's lease manager does.

use super::{ttl_slack, EventKind, KeyRevision, KeyValue, Result, Store, StoreError, StoreEvent, WatchStream};
use bytes::Bytes;
use etcd_client::{
    Client, CompactionOptions, Compare, CompareOp, DeleteOptions, GetOptions, KvClient, LeaseClient, PutOptions, Txn,
    TxnOp, TxnOpResponse, TxnResponse, WatchClient, WatchOptions,
};
use std::collections::VecDeque;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// Default bound on one unary request, so a hung etcd surfaces as Unavailable.
const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// A physical compaction of a big history (100,000 pods' worth) takes etcd
/// longer than a request; the compactor runs on a task of its own and can wait.
const COMPACT_TIMEOUT: Duration = Duration::from_secs(300);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// gRPC's default 4 MiB decode limit is too small for a watch response carrying
/// a 1.5 MiB value and its 1.5 MiB previous value, or a page of large objects.
const MAX_DECODED_MESSAGE: usize = 512 << 20;
/// Keys per list page: the first page uses `LIST_PAGE_MAX`; later pages aim at
/// `LIST_PAGE_BYTES` from the sizes seen so far, so pages of big objects stay small.
const LIST_PAGE_MAX: i64 = 500;
/// Keys per page of a keys-only list, whose entries are a few dozen bytes.
const KEYS_PAGE_MAX: i64 = 10_000;
const LIST_PAGE_BYTES: usize = 8 << 20;
/// A list restarts when its revision is compacted mid-way; give up after this many tries.
const LIST_ATTEMPTS: usize = 5;

/// A `Store` backed by an etcd cluster. Cheap to clone: clones share connections.
#[derive(Clone)]
pub struct EtcdStore {
    kv: KvClient,
    watch: WatchClient,
    lease: LeaseClient,
    /// The lease the latest write with a TTL used, for the next ones to share.
    shared_lease: Arc<tokio::sync::Mutex<Option<SharedLease>>>,
    /// The endpoints, comma separated, for error messages.
    endpoints: String,
    request_timeout: Duration,
}

/// A lease granted for `ttl` plus its slack. A write with the same TTL reuses it
/// while it still has at least that TTL to live (then its key expires no earlier
/// than asked, and at most the slack later), so writes need a new lease only
/// once per slack: once a minute for Events' hour. As in kube-apiserver, a
/// lease takes at most [`LEASE_MAX_KEYS`] keys, so that its revocation does not
/// delete an unbounded number of keys in one etcd transaction.
#[derive(Clone, Copy)]
struct SharedLease {
    id: i64,
    ttl: Duration,
    /// When etcd revokes it at the earliest (counted from before the grant was sent).
    expires: Instant,
    /// Writes that have used it.
    attached: u32,
}

/// The most keys written under one shared lease (kube-apiserver's default).
const LEASE_MAX_KEYS: u32 = 1000;

impl std::fmt::Debug for EtcdStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EtcdStore").field("endpoints", &self.endpoints).finish_non_exhaustive()
    }
}

/// A client over one HTTP/2 connection to etcd whose writes are coalesced as
/// the apiserver's own connections are (see `crate::coalesce`): the requests
/// many calls queue at once leave in one system call, and etcd reads them in
/// one. etcd-client's own connection sends each request by itself; this one
/// cost the apiserver 10% less CPU per create, and etcd 5% less.
///
/// The connection is made at the first call, and made again after it is lost,
/// to the first endpoint that answers.
async fn coalesced_client(endpoints: &[String]) -> std::result::Result<Client, ConnectError> {
    let addrs: Arc<[String]> =
        endpoints.iter().map(|e| e.trim_start_matches("http://").trim_end_matches('/').to_string()).collect();
    let endpoint = tonic::transport::Endpoint::from_shared(format!("http://{}", addrs[0]))
        .map_err(|source| ConnectError::BadEndpoint { endpoint: endpoints[0].clone(), source })?
        // etcd refuses keepalive pings on idle connections (too_many_pings), so
        // ping only while a watch or request is open.
        .http2_keep_alive_interval(Duration::from_secs(10))
        .keep_alive_timeout(Duration::from_secs(5))
        .keep_alive_while_idle(false);
    let connect = tower::service_fn(move |_: http::Uri| {
        let addrs = addrs.clone();
        async move {
            let mut failed = std::io::Error::other("no etcd endpoints");
            for addr in addrs.iter() {
                match tokio::time::timeout(CONNECT_TIMEOUT, tokio::net::TcpStream::connect(addr.as_str())).await {
                    Ok(Ok(stream)) => {
                        stream.set_nodelay(true)?;
                        return Ok(hyper_util::rt::TokioIo::new(crate::coalesce::Coalesced::new(stream)));
                    }
                    Ok(Err(e)) => failed = e,
                    Err(_) => failed = std::io::Error::new(std::io::ErrorKind::TimedOut, format!("connect to {addr}")),
                }
            }
            Err(failed)
        }
    });
    let channel = endpoint.connect_with_connector_lazy(connect);
    Ok(Client::from_channel(etcd_client::Channel::Tonic(channel), None).await?)
}

/// Why the connection to etcd could not be set up.
#[derive(Debug, thiserror::Error)]
enum ConnectError {
    #[error("{endpoint:?} is not an etcd endpoint: {source}")]
    BadEndpoint { endpoint: String, source: tonic::transport::Error },
    #[error(transparent)]
    Client(#[from] etcd_client::Error),
}

impl EtcdStore {
    /// Connects to etcd and checks that it answers, so a wrong endpoint fails at
    /// startup with Unavailable naming it, not at the first request.
    pub async fn connect(endpoints: &[String]) -> Result<Self> {
        let names = endpoints.join(",");
        if endpoints.is_empty() {
            return Err(StoreError::Unavailable("no etcd endpoints configured".to_string()));
        }
        let client = coalesced_client(endpoints).await.map_err(|error| {
            tracing::warn!(endpoints = %names, error = %error, "cannot connect to etcd");
            StoreError::Unavailable(format!("cannot connect to etcd at {names}: {error}"))
        })?;
        let store = EtcdStore {
            kv: client.kv_client().max_decoding_message_size(MAX_DECODED_MESSAGE),
            watch: client.watch_client().max_decoding_message_size(MAX_DECODED_MESSAGE),
            lease: client.lease_client(),
            shared_lease: Arc::default(),
            endpoints: names,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
        };
        store.current_revision().await?;
        Ok(store)
    }

    /// Bounds every unary request (and watch setup) to `timeout`.
    pub fn with_request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// The endpoints this store talks to, comma separated.
    pub fn endpoints(&self) -> &str {
        &self.endpoints
    }

    /// Runs one etcd call under the request timeout, mapping its error.
    async fn call<T>(
        &self,
        op: &str,
        call: impl Future<Output = std::result::Result<T, etcd_client::Error>>,
    ) -> Result<T> {
        match self.raw_call(op, call).await? {
            Ok(value) => Ok(value),
            Err(error) => Err(self.map_error(op, error)),
        }
    }

    /// Like `call` but leaves etcd's own error to the caller, for the few that
    /// treat one (compaction) specially. Only a timeout is mapped here.
    async fn raw_call<T>(
        &self,
        op: &str,
        call: impl Future<Output = std::result::Result<T, etcd_client::Error>>,
    ) -> Result<std::result::Result<T, etcd_client::Error>> {
        self.raw_call_within(self.request_timeout, op, call).await
    }

    async fn raw_call_within<T>(
        &self,
        timeout: Duration,
        op: &str,
        call: impl Future<Output = std::result::Result<T, etcd_client::Error>>,
    ) -> Result<std::result::Result<T, etcd_client::Error>> {
        tokio::time::timeout(timeout, call).await.map_err(|_| {
            tracing::warn!(op, endpoints = %self.endpoints, ?timeout, "etcd request timed out");
            StoreError::Unavailable(format!("etcd {op} at {}: no answer within {timeout:?}", self.endpoints))
        })
    }

    fn map_error(&self, op: &str, error: etcd_client::Error) -> StoreError {
        let message = format!("etcd {op} at {}: {error}", self.endpoints);
        let mapped = match &error {
            etcd_client::Error::GRpcStatus(status) => match status.code() {
                // etcd's own check ("request is too large") and gRPC's receive
                // limit just above it ("received message larger than max").
                tonic::Code::InvalidArgument | tonic::Code::ResourceExhausted
                    if status.message().contains("too large") || status.message().contains("larger than max") =>
                {
                    StoreError::TooLarge(message)
                }
                tonic::Code::Unavailable
                | tonic::Code::DeadlineExceeded
                | tonic::Code::Cancelled
                | tonic::Code::Aborted
                | tonic::Code::ResourceExhausted
                | tonic::Code::Unknown => StoreError::Unavailable(message),
                _ => StoreError::Internal(message),
            },
            etcd_client::Error::TransportError(_)
            | etcd_client::Error::IoError(_)
            | etcd_client::Error::WatchError(_)
            | etcd_client::Error::EndpointError(_) => StoreError::Unavailable(message),
            _ => StoreError::Internal(message),
        };
        tracing::warn!(op, endpoints = %self.endpoints, error = %error, "etcd request failed");
        mapped
    }

    fn internal(&self, what: &str) -> StoreError {
        tracing::error!(endpoints = %self.endpoints, what, "unexpected etcd response");
        StoreError::Internal(format!("unexpected response from etcd at {}: {what}", self.endpoints))
    }

    async fn txn(&self, op: &str, txn: Txn) -> Result<TxnResponse> {
        let mut kv = self.kv.clone();
        self.call(op, kv.txn(txn)).await
    }

    /// Runs the transaction `build` makes of `value`, its put under the shared
    /// lease for `ttl` (under none without one). If etcd has revoked that lease
    /// already, a new one is granted and the transaction runs once more. Only
    /// writes with a TTL copy the value, for that second try.
    async fn txn_with_ttl(
        &self,
        op: &str,
        value: Vec<u8>,
        ttl: Option<Duration>,
        build: impl Fn(Vec<u8>, Option<PutOptions>) -> Txn,
    ) -> Result<TxnResponse> {
        let Some(ttl) = ttl else { return self.txn(op, build(value, None)).await };
        let mut retried = false;
        loop {
            let lease = self.lease_for(ttl).await?;
            let mut kv = self.kv.clone();
            match self.raw_call(op, kv.txn(build(value.clone(), Some(PutOptions::new().with_lease(lease))))).await? {
                Ok(response) => return Ok(response),
                Err(error) if !retried && error.to_string().contains("lease not found") => {
                    tracing::info!(lease, "etcd revoked the shared lease early; granting another");
                    let mut shared = self.shared_lease.lock().await;
                    if shared.is_some_and(|s| s.id == lease) {
                        *shared = None;
                    }
                    retried = true;
                }
                Err(error) => return Err(self.map_error(op, error)),
            }
        }
    }

    /// The lease for a write with `ttl`: the shared one if it suits, else a new one.
    async fn lease_for(&self, ttl: Duration) -> Result<i64> {
        let mut shared = self.shared_lease.lock().await;
        let now = Instant::now();
        if let Some(lease) = shared.as_mut() {
            if lease.ttl == ttl && lease.expires >= now + ttl && lease.attached < LEASE_MAX_KEYS {
                lease.attached += 1;
                return Ok(lease.id);
            }
        }
        let seconds = (ttl + ttl_slack(ttl)).as_secs_f64().ceil().max(1.0) as i64;
        let mut client = self.lease.clone();
        let granted = self.call("lease grant", client.grant(seconds, None)).await?;
        let lifetime = Duration::from_secs(granted.ttl().max(seconds) as u64);
        *shared = Some(SharedLease { id: granted.id(), ttl, expires: now + lifetime, attached: 1 });
        Ok(granted.id())
    }

    fn txn_revision(&self, response: &TxnResponse) -> Result<i64> {
        response.header().map(|header| header.revision()).ok_or_else(|| self.internal("transaction without header"))
    }

    /// What the else-branch `get` of a failed conditional write found: a
    /// Conflict carrying it, or NotFound.
    fn conflict_from(&self, response: &TxnResponse) -> Result<StoreError> {
        for op in response.op_responses() {
            if let TxnOpResponse::Get(mut get) = op {
                return Ok(match get.take_kvs().into_iter().next() {
                    Some(current) => StoreError::Conflict { current: Some(convert_kv(current)?) },
                    None => StoreError::NotFound,
                });
            }
        }
        Err(self.internal("failed transaction without its read"))
    }

    /// One page of a list: keys in `[from, end)` at `revision` (0 = latest).
    async fn list_page(
        &self,
        from: Vec<u8>,
        end: &[u8],
        revision: i64,
        limit: i64,
        keys_only: bool,
    ) -> Result<std::result::Result<etcd_client::GetResponse, etcd_client::Error>> {
        let mut kv = self.kv.clone();
        let mut options = GetOptions::new().with_range(end.to_vec()).with_limit(limit).with_revision(revision);
        if keys_only {
            options = options.with_keys_only();
        }
        self.raw_call("list", kv.get(from, Some(options))).await
    }

    /// Reads the whole prefix at one revision (`at`, or the latest when 0),
    /// values left empty when `keys_only`, or None when that revision was
    /// compacted before the last page was read.
    async fn list_once(&self, prefix: &str, at: i64, keys_only: bool) -> Result<Option<(Vec<KeyValue>, i64)>> {
        let end = prefix_end(prefix.as_bytes());
        // etcd rejects an empty key; "\0" is the smallest key there is.
        let mut from = if prefix.is_empty() { vec![0] } else { prefix.as_bytes().to_vec() };
        let mut items = Vec::new();
        let mut revision = at;
        let most = if keys_only { KEYS_PAGE_MAX } else { LIST_PAGE_MAX };
        let mut limit = most;
        let mut bytes_seen = 0usize;
        loop {
            let mut page = match self.list_page(from, &end, revision, limit, keys_only).await? {
                Ok(page) => page,
                Err(error) if revision != 0 && is_compacted(&error) => return Ok(None),
                Err(error) => return Err(self.map_error("list", error)),
            };
            if revision == 0 {
                revision = page
                    .header()
                    .map(|header| header.revision())
                    .ok_or_else(|| self.internal("range without header"))?;
            }
            let more = page.more();
            let kvs = page.take_kvs();
            let Some(last) = kvs.last() else { break };
            let mut next = last.key().to_vec();
            next.push(0);
            from = next;
            for kv in kvs {
                bytes_seen += kv.key().len() + kv.value().len();
                items.push(convert_kv(kv)?);
            }
            if !more {
                break;
            }
            let average = (bytes_seen / items.len()).max(1);
            limit = i64::try_from(LIST_PAGE_BYTES / average).unwrap_or(most).clamp(1, most);
        }
        Ok(Some((items, revision)))
    }

    /// The whole prefix at the latest revision, read again when compaction
    /// overtakes a list of many pages.
    async fn list_latest(&self, prefix: &str, keys_only: bool) -> Result<(Vec<KeyValue>, i64)> {
        for attempt in 1..=LIST_ATTEMPTS {
            if let Some(listed) = self.list_once(prefix, 0, keys_only).await? {
                return Ok(listed);
            }
            tracing::info!(prefix, attempt, "list revision compacted while paging; listing again");
        }
        Err(StoreError::Unavailable(format!(
            "etcd list of {prefix} at {}: compaction overtook the list {LIST_ATTEMPTS} times",
            self.endpoints
        )))
    }
}

#[async_trait::async_trait]
impl Store for EtcdStore {
    async fn create_with_ttl(&self, key: &str, value: Vec<u8>, ttl: Option<Duration>) -> Result<i64> {
        let txn = |value: Vec<u8>, lease| {
            Txn::new()
                .when([Compare::create_revision(key, CompareOp::Equal, 0)])
                .and_then([TxnOp::put(key, value, lease)])
        };
        let response = self.txn_with_ttl("create", value, ttl, txn).await?;
        if !response.succeeded() {
            return Err(StoreError::AlreadyExists);
        }
        self.txn_revision(&response)
    }

    async fn get(&self, key: &str) -> Result<Option<KeyValue>> {
        let mut kv = self.kv.clone();
        let mut response = self.call("get", kv.get(key, None)).await?;
        response.take_kvs().into_iter().next().map(convert_kv).transpose()
    }

    async fn list(&self, prefix: &str) -> Result<(Vec<KeyValue>, i64)> {
        self.list_latest(prefix, false).await
    }

    async fn list_at(&self, prefix: &str, revision: i64) -> Result<(Vec<KeyValue>, i64)> {
        let compacted = || StoreError::Compacted { requested: revision, compacted: revision + 1 };
        self.list_once(prefix, revision, false).await?.ok_or_else(compacted)
    }

    async fn list_keys(&self, prefix: &str, revision: i64) -> Result<(Vec<KeyRevision>, i64)> {
        let listed = if revision > 0 {
            let compacted = || StoreError::Compacted { requested: revision, compacted: revision + 1 };
            self.list_once(prefix, revision, true).await?.ok_or_else(compacted)?
        } else {
            self.list_latest(prefix, true).await?
        };
        let (items, at) = listed;
        Ok((items.into_iter().map(KeyRevision::from).collect(), at))
    }

    async fn get_at(&self, key: &str, revision: i64) -> Result<Option<KeyValue>> {
        let mut kv = self.kv.clone();
        let options = GetOptions::new().with_revision(revision);
        match self.raw_call("get", kv.get(key, Some(options))).await? {
            Ok(mut response) => response.take_kvs().into_iter().next().map(convert_kv).transpose(),
            Err(error) if is_compacted(&error) => {
                Err(StoreError::Compacted { requested: revision, compacted: revision + 1 })
            }
            Err(error) => Err(self.map_error("get", error)),
        }
    }

    async fn update_with_ttl(
        &self,
        key: &str,
        value: Vec<u8>,
        expected_revision: i64,
        ttl: Option<Duration>,
    ) -> Result<i64> {
        // The create_revision compare keeps `expected_revision == 0` from
        // creating a missing key (a missing key's mod_revision is 0 too). A put
        // without a lease detaches the key from any earlier one.
        let txn = |value: Vec<u8>, lease| {
            Txn::new()
                .when([
                    Compare::mod_revision(key, CompareOp::Equal, expected_revision),
                    Compare::create_revision(key, CompareOp::Greater, 0),
                ])
                .and_then([TxnOp::put(key, value, lease)])
                .or_else([TxnOp::get(key, None)])
        };
        let response = self.txn_with_ttl("update", value, ttl, txn).await?;
        if !response.succeeded() {
            return Err(self.conflict_from(&response)?);
        }
        self.txn_revision(&response)
    }

    async fn delete(&self, key: &str, expected_revision: Option<i64>) -> Result<KeyValue> {
        let mut compares = vec![Compare::create_revision(key, CompareOp::Greater, 0)];
        if let Some(expected) = expected_revision {
            compares.push(Compare::mod_revision(key, CompareOp::Equal, expected));
        }
        let txn = Txn::new()
            .when(compares)
            .and_then([TxnOp::delete(key, Some(DeleteOptions::new().with_prev_key()))])
            .or_else([TxnOp::get(key, None)]);
        let response = self.txn("delete", txn).await?;
        if !response.succeeded() {
            return Err(self.conflict_from(&response)?);
        }
        let revision = self.txn_revision(&response)?;
        for op in response.op_responses() {
            if let TxnOpResponse::Delete(mut deleted) = op {
                let Some(prev) = deleted.take_prev_kvs().into_iter().next() else {
                    // The compare proved the key exists and a txn is atomic, so
                    // this cannot happen; if it does, nothing was deleted.
                    return Err(StoreError::NotFound);
                };
                let mut kv = convert_kv(prev)?;
                kv.mod_revision = revision;
                return Ok(kv);
            }
        }
        Err(self.internal("delete transaction without its delete"))
    }

    async fn watch(&self, prefix: &str, after_revision: i64) -> Result<WatchStream> {
        let start = after_revision.max(0) + 1;
        let options = WatchOptions::new().with_prefix().with_start_revision(start).with_prev_key();
        let mut client = self.watch.clone();
        let mut stream = self.call("watch", client.watch(prefix, Some(options))).await?;
        // etcd answers a create request first; wait for it so a refused watch
        // fails here. A compacted start revision arrives in a later response.
        let created = self.call("watch", stream.message()).await?;
        match created {
            Some(response) if response.created() && !response.canceled() => {}
            Some(response) if response.compact_revision() > 0 => {
                return Err(StoreError::Compacted { requested: start, compacted: response.compact_revision() })
            }
            Some(response) => {
                return Err(StoreError::Unavailable(format!(
                    "etcd at {} refused the watch on {prefix}: {}",
                    self.endpoints,
                    response.cancel_reason()
                )))
            }
            None => {
                return Err(StoreError::Unavailable(format!(
                    "etcd at {} closed the watch on {prefix} before creating it",
                    self.endpoints
                )))
            }
        }
        let watch = EtcdWatch {
            stream,
            pending: VecDeque::new(),
            last: start - 1,
            endpoints: self.endpoints.clone(),
            prefix: prefix.to_string(),
        };
        Ok(Box::pin(futures::stream::unfold(Some(watch), |state| async move {
            let mut watch = state?;
            match watch.next().await {
                Ok(event) => Some((Ok(event), Some(watch))),
                Err(error) => Some((Err(error), None)),
            }
        })))
    }

    async fn current_revision(&self) -> Result<i64> {
        // A count-only read of the smallest possible key is the cheapest request
        // that carries the store's revision in its header.
        let mut kv = self.kv.clone();
        let response =
            self.call("current_revision", kv.get(vec![0u8], Some(GetOptions::new().with_count_only()))).await?;
        response.header().map(|header| header.revision()).ok_or_else(|| self.internal("range without header"))
    }

    async fn compact(&self, revision: i64) -> Result<()> {
        let mut kv = self.kv.clone();
        // Physical: return only once the old revisions are really gone, so a
        // watch from before `revision` reliably fails afterwards.
        let options = CompactionOptions::new().with_physical();
        match self.raw_call_within(COMPACT_TIMEOUT, "compact", kv.compact(revision, Some(options))).await? {
            Ok(_) => Ok(()),
            // Already compacted that far: the same no-op MemStore makes it.
            Err(error) if is_compacted(&error) => Ok(()),
            Err(error) => Err(self.map_error("compact", error)),
        }
    }
}

/// Whether etcd refused a request because the revision it needs was compacted.
fn is_compacted(error: &etcd_client::Error) -> bool {
    matches!(error, etcd_client::Error::GRpcStatus(status)
        if status.code() == tonic::Code::OutOfRange && status.message().contains("compacted"))
}

/// The smallest key greater than every key that starts with `prefix` (etcd's
/// range end for a prefix); "\0" means no upper bound.
fn prefix_end(prefix: &[u8]) -> Vec<u8> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return end;
        }
    }
    vec![0]
}

fn convert_kv(kv: etcd_client::KeyValue) -> Result<KeyValue> {
    let (create_revision, mod_revision) = (kv.create_revision(), kv.mod_revision());
    let (key, value) = kv.into_key_value();
    Ok(KeyValue { key: utf8_key(key)?, value, mod_revision, create_revision })
}

fn utf8_key(key: Vec<u8>) -> Result<String> {
    String::from_utf8(key).map_err(|error| {
        tracing::error!(key = ?error.as_bytes(), "etcd key is not UTF-8");
        StoreError::Internal(format!("etcd key is not UTF-8: {:?}", String::from_utf8_lossy(error.as_bytes())))
    })
}

/// The state behind one watch stream: etcd delivers events in batches, handed
/// out one at a time.
struct EtcdWatch {
    stream: etcd_client::WatchStream,
    pending: VecDeque<StoreEvent>,
    /// Revision of the last event queued (or the watch's `after_revision`).
    last: i64,
    endpoints: String,
    prefix: String,
}

impl EtcdWatch {
    async fn next(&mut self) -> Result<StoreEvent> {
        loop {
            if let Some(event) = self.pending.pop_front() {
                return Ok(event);
            }
            let response = match self.stream.message().await {
                Ok(Some(response)) => response,
                Ok(None) => {
                    tracing::warn!(endpoints = %self.endpoints, prefix = %self.prefix, "etcd ended a watch");
                    return Err(StoreError::Unavailable(format!(
                        "etcd at {} ended the watch on {}",
                        self.endpoints, self.prefix
                    )));
                }
                Err(error) => {
                    tracing::warn!(endpoints = %self.endpoints, prefix = %self.prefix, error = %error, "etcd watch failed");
                    return Err(StoreError::Unavailable(format!(
                        "etcd watch on {} at {}: {error}",
                        self.prefix, self.endpoints
                    )));
                }
            };
            if response.compact_revision() > 0 {
                return Err(StoreError::Compacted { requested: self.last + 1, compacted: response.compact_revision() });
            }
            if response.canceled() {
                tracing::warn!(endpoints = %self.endpoints, prefix = %self.prefix, reason = response.cancel_reason(), "etcd canceled a watch");
                return Err(StoreError::Unavailable(format!(
                    "etcd at {} canceled the watch on {}: {}",
                    self.endpoints,
                    self.prefix,
                    response.cancel_reason()
                )));
            }
            for event in response.events() {
                let event = convert_event(event)?;
                self.last = event.revision;
                self.pending.push_back(event);
            }
        }
    }
}

fn convert_event(event: &etcd_client::Event) -> Result<StoreEvent> {
    let Some(kv) = event.kv() else {
        return Err(StoreError::Internal("etcd watch event without a key".to_string()));
    };
    let prev = event.prev_kv().map(|prev| Bytes::copy_from_slice(prev.value()));
    let key = utf8_key(kv.key().to_vec())?;
    Ok(match event.event_type() {
        etcd_client::EventType::Put => StoreEvent {
            kind: EventKind::Put,
            key,
            value: Bytes::copy_from_slice(kv.value()),
            prev_value: prev,
            revision: kv.mod_revision(),
        },
        // A delete's kv is a tombstone: the value is what prev_kv held.
        etcd_client::EventType::Delete => StoreEvent {
            kind: EventKind::Delete,
            key,
            value: prev.unwrap_or_default(),
            prev_value: None,
            revision: kv.mod_revision(),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::testing::TestEtcd;

    crate::store_conformance_tests!(async {
        let etcd = TestEtcd::start().await.expect("start etcd");
        let store = etcd.store().await;
        (std::sync::Arc::new(store) as std::sync::Arc<dyn Store>, etcd)
    });

    /// etcd going away and coming back (a crash, its container restarted)
    /// costs the calls made while it is down, not the store: its connection
    /// is made again, and what was written before is still there.
    #[tokio::test]
    async fn the_store_reconnects_after_etcd_restarts() {
        let mut etcd = TestEtcd::start().await.expect("start etcd");
        let store = etcd.store().await;
        let first = store.create("/restart/before", b"kept".to_vec()).await.expect("create");
        etcd.restart().await.expect("restart etcd");
        let deadline = Instant::now() + Duration::from_secs(10);
        let second = loop {
            match store.create("/restart/after", b"new".to_vec()).await {
                Ok(revision) => break revision,
                Err(_) if Instant::now() < deadline => tokio::time::sleep(Duration::from_millis(100)).await,
                Err(e) => panic!("the store did not reach etcd again: {e}"),
            }
        };
        let kept = store.get("/restart/before").await.expect("get").expect("written before the restart");
        assert_eq!((kept.value.as_slice(), kept.mod_revision), (&b"kept"[..], first));
        assert!(second > first, "revisions go on from where they were: {first} then {second}");
    }

    /// All cases against one etcd, as other crates' tests may run them.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn run_all_on_one_store() {
        let etcd = TestEtcd::start().await.expect("start etcd");
        crate::store::conformance::run_all(std::sync::Arc::new(etcd.store().await)).await;
    }

    /// Writes with a TTL share leases, a thousand keys to a lease at most, so
    /// a busy apiserver grants few leases and no revocation deletes too many keys.
    #[tokio::test]
    async fn writes_with_a_ttl_share_a_lease_up_to_a_thousand_keys() {
        let etcd = TestEtcd::start().await.expect("start etcd");
        let store = etcd.store().await;
        let ttl = Some(Duration::from_secs(600));
        for i in 0..=LEASE_MAX_KEYS {
            store.create_with_ttl(&format!("/leases/{i}"), b"event".to_vec(), ttl).await.expect("create");
        }
        store.create("/leases/none", b"pod".to_vec()).await.expect("create without a TTL");
        let mut client = Client::connect([etcd.endpoint()], None).await.expect("connect");
        let mut leases = client.leases().await.expect("leases").leases().iter().map(|l| l.id()).collect::<Vec<_>>();
        leases.sort();
        assert_eq!(leases.len(), 2, "{} keys with a TTL should need two leases", LEASE_MAX_KEYS + 1);
        let mut counts = Vec::new();
        for lease in leases {
            let options = etcd_client::LeaseTimeToLiveOptions::new().with_keys();
            counts.push(client.lease_time_to_live(lease, Some(options)).await.expect("time to live").keys().len());
        }
        counts.sort();
        assert_eq!(counts, [1, LEASE_MAX_KEYS as usize]);
    }

    #[test]
    fn prefix_end_is_the_next_key() {
        assert_eq!(prefix_end(b"/registry/pods/"), b"/registry/pods0");
        assert_eq!(prefix_end(b"a\xff"), b"b");
        assert_eq!(prefix_end(b"\xff\xff"), b"\0");
        assert_eq!(prefix_end(b""), b"\0");
    }

    #[tokio::test]
    async fn unreachable_endpoint_is_unavailable_and_named() {
        let port = crate::store::testing::free_port().expect("free port");
        let endpoint = format!("http://127.0.0.1:{port}");
        match EtcdStore::connect(std::slice::from_ref(&endpoint)).await {
            Err(StoreError::Unavailable(message)) => assert!(message.contains(&endpoint), "{message}"),
            other => panic!("expected Unavailable, got {other:?}"),
        }
    }

    /// Values up to 1.5 MiB must fit; etcd's request limit must be set above it
    /// (see `testing::TestEtcd`), and a value over the limit is TooLarge, not an outage.
    #[tokio::test]
    async fn large_values_fit_and_oversized_ones_are_too_large() {
        let etcd = TestEtcd::start().await.expect("start etcd");
        let store = etcd.store().await;
        let big: Vec<u8> = (0..3 * 512 * 1024).map(|i| (i % 251) as u8).collect();
        let revision = store.create("/big/a", big.clone()).await.expect("1.5 MiB create");
        let mut watch = store.watch("/big/", revision - 1).await.expect("watch");
        store.update("/big/a", big.clone(), revision).await.expect("1.5 MiB update");
        let got = store.get("/big/a").await.expect("get").expect("present");
        assert_eq!(got.value, big);
        let first = futures::StreamExt::next(&mut watch).await.expect("open").expect("event");
        let second = futures::StreamExt::next(&mut watch).await.expect("open").expect("event");
        assert_eq!((first.value.len(), second.prev_value.map(|v| v.len())), (big.len(), Some(big.len())));
        // Just over etcd's limit, then over gRPC's receive limit too.
        for size in [(9 << 20) / 4, 8 << 20] {
            match store.create("/big/huge", vec![7u8; size]).await {
                Err(StoreError::TooLarge(message)) => assert!(message.contains(etcd.endpoint()), "{message}"),
                other => panic!("expected TooLarge for {size} bytes, got {other:?}"),
            }
        }
    }

    /// A big prefix is listed in several pages, at one revision.
    #[tokio::test]
    async fn list_pages_through_a_big_prefix() {
        let etcd = TestEtcd::start().await.expect("start etcd");
        let store = etcd.store().await;
        let count = LIST_PAGE_MAX as usize * 2 + 7;
        let mut tasks = Vec::new();
        for chunk in 0..8 {
            let store = store.clone();
            tasks.push(tokio::spawn(async move {
                for i in (chunk..count).step_by(8) {
                    store.create(&format!("/many/{i:05}"), vec![1; 100]).await.expect("create");
                }
            }));
        }
        for task in tasks {
            task.await.expect("writer");
        }
        store.create("/many0", vec![]).await.expect("sibling");
        let (items, revision) = store.list("/many/").await.expect("list");
        assert_eq!(items.len(), count);
        assert!(items.windows(2).all(|pair| pair[0].key < pair[1].key));
        assert_eq!(revision, store.current_revision().await.expect("revision"));
        let (all, _) = store.list("").await.expect("list all");
        assert_eq!(all.len(), count + 1);
    }
}
