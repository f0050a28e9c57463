//! The generic registry: Kubernetes' object semantics over any [`Store`], for
//! every kind in the resource registry, as kube-apiserver's generic registry
//! (`genericregistry.Store`).
//!
//! Each verb decodes strictly, defaults, validates, sets server-owned fields,
//! writes with optimistic concurrency (`resourceVersion` = the etcd revision
//! of the last write), and translates storage errors into API errors. What
//! differs by kind is asked of the kind's [`Strategy`] (`crate::kinds`,
//! looked up by resource): the verbs never name a kind.
//!
//! Here: create, get, list, update and patch. Beside it: [`delete`] (graceful
//! deletion, finalizers, propagation), [`watch`], `filter` (selectors on
//! stored bytes), [`namespaces`] (no new content in a terminating namespace),
//! `bootstrap` (the system namespaces and services).

mod bootstrap;
pub mod delete;
mod filter;
pub mod namespaces;
pub mod watch;

use crate::alloc::{ServiceAllocator, ServiceConfig};
use crate::kinds::Strategies;
use crate::patch::{self, managed};
use crate::store::{KeyRevision, KeyValue, Store, StoreError};
use crate::strategy::{self, Outcome, Strategy};
use api::{meta, registry, validation, ApiError, FieldError, Reason, ResourceInfo};
use filter::Filter;
use proto::PatchType;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

pub use api::validation::FieldValidation;
pub use delete::DeleteOptions;
pub use watch::{WatchEvent, WatchEvents};

/// The largest object kubelab stores, as etcd's default request limit (1.5 MiB).
pub const MAX_OBJECT_BYTES: usize = 1536 * 1024;

/// How often an unconditional write is retried when it races with another writer.
const MAX_RETRIES: usize = 16;

/// kube-apiserver's `--event-ttl` default.
pub const DEFAULT_EVENT_TTL: Duration = Duration::from_secs(3600);

/// An object as stored: its JSON (without `resourceVersion`) and its
/// resourceVersion. Reads and watches pass these on without decoding them
/// when no selector needs to look inside; the client stamps the version in.
#[derive(Debug, Clone, PartialEq)]
pub struct RawObject {
    pub json: Vec<u8>,
    pub resource_version: i64,
}

impl RawObject {
    /// The object with its resourceVersion stamped in.
    pub fn decode(&self) -> Result<Value> {
        from_kv(&self.json, self.resource_version)
    }
}

/// A page of a collection's keys, each with its object's resourceVersion.
#[derive(Debug, Clone, PartialEq)]
pub struct KeyPage {
    pub keys: Vec<KeyRevision>,
    pub resource_version: i64,
    /// Non-empty when `limit` cut the list short.
    pub continue_token: String,
    /// How many objects the rest of the list holds, when `limit` cut it short.
    pub remaining: Option<i64>,
}

/// A page of a collection, as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct RawList {
    pub items: Vec<RawObject>,
    pub resource_version: i64,
    /// Non-empty when `limit` cut the list short.
    pub continue_token: String,
    /// How many objects the rest of the list holds, when `limit` cut it
    /// short and no selector makes that unknown without reading them all.
    pub remaining: Option<i64>,
}

pub struct Registry {
    store: Arc<dyn Store>,
    /// Namespace name -> whether it is terminating, kept by a watch (see
    /// `namespaces`), so creates need not read their namespace from etcd.
    /// A name missing here is looked up in the store.
    namespaces: std::sync::RwLock<HashMap<String, bool>>,
    /// Cluster IPs and node ports of Services (the service strategy holds it too).
    services: Arc<ServiceAllocator>,
    /// Every resource's strategy.
    strategies: Strategies,
}

type Result<T, E = ApiError> = std::result::Result<T, E>;

fn storage_error(e: StoreError) -> ApiError {
    match e {
        StoreError::Compacted { requested, compacted } => ApiError::expired(requested, compacted),
        StoreError::NotFound => ApiError::new(Reason::NotFound, "the object was deleted meanwhile"),
        StoreError::Unavailable(msg) => ApiError::new(Reason::ServiceUnavailable, msg),
        StoreError::TooLarge(msg) => {
            ApiError::new(Reason::RequestEntityTooLarge, format!("Request entity too large: {msg}"))
        }
        other => ApiError::internal(other),
    }
}

/// Decodes a stored value and stamps it with its resourceVersion.
fn from_kv(value: &[u8], revision: i64) -> Result<Value> {
    let mut obj: Value =
        serde_json::from_slice(value).map_err(|e| ApiError::internal(format!("stored object is not JSON: {e}")))?;
    // Revision 0: a dry run's object, which was never stored.
    if revision > 0 {
        meta::set_resource_version(&mut obj, revision);
    }
    Ok(obj)
}

/// Encodes an object for storage: without resourceVersion, which the store's revision replaces.
fn encode(obj: &Value) -> Result<Vec<u8>> {
    // The revision is the resourceVersion: it is never stored in the object.
    let bytes = if obj.pointer("/metadata/resourceVersion").is_some() {
        let mut stored = obj.clone();
        meta::remove_meta(&mut stored, "resourceVersion");
        serde_json::to_vec(&stored)
    } else {
        serde_json::to_vec(obj)
    }
    .map_err(ApiError::internal)?;
    if bytes.len() > MAX_OBJECT_BYTES {
        return Err(ApiError::new(
            Reason::RequestEntityTooLarge,
            format!("Request entity too large: the object is {} bytes, the limit is {MAX_OBJECT_BYTES}", bytes.len()),
        ));
    }
    Ok(bytes)
}

/// Parses a request body into an object of `info`'s kind, converting accepted
/// older versions (`batch/v1beta1` CronJob) to the stored one; with the
/// fields the body sets twice.
fn decode_body(info: &ResourceInfo, body: &[u8]) -> Result<(Value, Vec<String>)> {
    if body.len() > MAX_OBJECT_BYTES {
        return Err(ApiError::new(
            Reason::RequestEntityTooLarge,
            format!("Request entity too large: the object is {} bytes, the limit is {MAX_OBJECT_BYTES}", body.len()),
        ));
    }
    let (obj, duplicates) = validation::parse_json(body)
        .map_err(|e| ApiError::bad_request(format!("the request body is not valid JSON: {e}")))?;
    Ok((check_kind(info, obj)?, duplicates))
}

/// Checks that an object is of `info`'s kind, filling in apiVersion and kind
/// when the body left them out.
fn check_kind(info: &ResourceInfo, mut obj: Value) -> Result<Value> {
    if !obj.is_object() {
        return Err(ApiError::bad_request("the request body must be a JSON object"));
    }
    let api_version = meta::api_version(&obj).to_string();
    let kind = meta::kind(&obj).to_string();
    if api_version.is_empty() || kind.is_empty() {
        // Kubernetes takes the kind from the URL when the body leaves it out.
        obj["apiVersion"] = info.api_version().into();
        obj["kind"] = info.kind.into();
    } else {
        let target = registry::by_kind(&api_version, &kind)?;
        if target != info {
            return Err(ApiError::bad_request(format!(
                "{kind} in version {api_version:?} cannot be handled as a {}: the {} resource holds {} objects",
                info.kind,
                info.group_resource(),
                info.kind
            )));
        }
        obj["apiVersion"] = info.api_version().into();
    }
    Ok(obj)
}

/// Puts the request's namespace on the object, refusing a different one.
fn set_namespace(info: &ResourceInfo, obj: &mut Value, namespace: &str) -> Result<()> {
    if !info.namespaced {
        meta::remove_meta(obj, "namespace");
        return Ok(());
    }
    let own = meta::namespace(obj);
    if !own.is_empty() && own != namespace {
        return Err(ApiError::bad_request(
            "the namespace of the provided object does not match the namespace sent on the request",
        ));
    }
    if namespace.is_empty() {
        return Err(ApiError::bad_request("a namespace is required for namespaced resources"));
    }
    meta::set_meta(obj, "namespace", namespace);
    Ok(())
}

fn check_name(info: &ResourceInfo, name: &str) -> Result<()> {
    if name.is_empty() {
        return Err(ApiError::bad_request(format!("a resource name is required to address {}", info.group_resource())));
    }
    Ok(())
}

/// The options every write takes (kube-apiserver's `CreateOptions`,
/// `UpdateOptions` and `PatchOptions`).
#[derive(Debug, Clone, Default)]
pub struct WriteOptions {
    /// Check and answer as if written, store nothing.
    pub dry_run: bool,
    /// Who writes, for `metadata.managedFields` (the request's `fieldManager`,
    /// else the User-Agent up to its first `/`). Required for apply; empty
    /// otherwise records no ownership.
    pub field_manager: String,
    /// Apply only: take fields other managers own instead of failing.
    pub force: bool,
    /// What to do with fields the kind's schema does not know.
    pub field_validation: FieldValidation,
    /// Where the write leaves its warnings (unknown fields under `Warn`),
    /// for the HTTP face to send as `Warning` headers: clones share it.
    pub warnings: Warnings,
}

/// The field manager of a write: the one the request names, else the
/// client's User-Agent up to its first `/`, as kube-apiserver defaults it.
pub fn field_manager(named: &str, user_agent: &str) -> String {
    if !named.is_empty() {
        return named.to_string();
    }
    user_agent.split('/').next().unwrap_or("").trim().to_string()
}

/// Warnings a request collected on its way through the registry.
#[derive(Debug, Clone, Default)]
pub struct Warnings(Arc<std::sync::Mutex<Vec<String>>>);

impl Warnings {
    fn extend(&self, more: Vec<String>) {
        if !more.is_empty() {
            self.0.lock().unwrap_or_else(|e| e.into_inner()).extend(more);
        }
    }

    /// The warnings so far, leaving none.
    pub fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

/// The checks of strict decoding as `opts` asks for them: unknown fields
/// fail (Strict), or are dropped with a warning (Warn) or silently (Ignore).
fn decode_check(info: &ResourceInfo, obj: &mut Value, duplicates: &[String], opts: &WriteOptions) -> Result<()> {
    let warnings = validation::decode_check_with(info, obj, opts.field_validation, duplicates)?;
    opts.warnings.extend(warnings);
    Ok(())
}

/// How an update was written.
enum Written {
    Updated,
    /// The update removed the last finalizer of an object being deleted.
    Deleted,
}

impl Registry {
    /// A registry with the default service settings (10.96.0.0/12, 30000-32767).
    pub fn new(store: Arc<dyn Store>) -> Self {
        Self::with_services(store, ServiceConfig::default())
    }

    pub fn with_services(store: Arc<dyn Store>, services: ServiceConfig) -> Self {
        let services = Arc::new(ServiceAllocator::new(store.clone(), services));
        let strategies = Strategies::new(services.clone(), DEFAULT_EVENT_TTL);
        Self { store, namespaces: Default::default(), services, strategies }
    }

    /// Events expire this long after their last write (each write starts the
    /// time again), deleted by the store itself as kube-apiserver's etcd leases
    /// do; zero keeps them until deleted.
    pub fn with_event_ttl(mut self, ttl: Duration) -> Self {
        self.strategies = Strategies::new(self.services.clone(), ttl);
        self
    }

    /// The rules of `info`'s kind.
    pub fn strategy(&self, info: &ResourceInfo) -> &dyn Strategy {
        self.strategies.get(info)
    }

    pub fn services(&self) -> &ServiceAllocator {
        &self.services
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    async fn read(&self, info: &ResourceInfo, namespace: &str, name: &str) -> Result<(Value, KeyValue)> {
        let kv = self
            .store
            .get(&info.key(namespace, name))
            .await
            .map_err(storage_error)?
            .ok_or_else(|| ApiError::not_found(&info.group_resource(), name))?;
        Ok((from_kv(&kv.value, kv.mod_revision)?, kv))
    }

    pub async fn get(&self, info: &ResourceInfo, namespace: &str, name: &str) -> Result<Value> {
        self.get_raw(info, namespace, name).await?.decode()
    }

    /// The stored bytes of one object, not decoded.
    pub async fn get_raw(&self, info: &ResourceInfo, namespace: &str, name: &str) -> Result<RawObject> {
        check_name(info, name)?;
        let kv = self
            .store
            .get(&info.key(namespace, name))
            .await
            .map_err(storage_error)?
            .ok_or_else(|| ApiError::not_found(&info.group_resource(), name))?;
        Ok(RawObject { json: kv.value, resource_version: kv.mod_revision })
    }

    pub async fn create(
        &self,
        info: &ResourceInfo,
        namespace: &str,
        body: &[u8],
        opts: &WriteOptions,
    ) -> Result<Value> {
        self.create_raw(info, namespace, body, opts).await?.decode()
    }

    /// Creates an object and answers with the bytes it stored (a dry run's
    /// bytes are the object it would have stored): the response needs no
    /// second encoding, as a get needs none.
    pub async fn create_raw(
        &self,
        info: &ResourceInfo,
        namespace: &str,
        body: &[u8],
        opts: &WriteOptions,
    ) -> Result<RawObject> {
        // Objects stay raw JSON (`serde_json::Value`) through create and
        // update rather than k8s-openapi types: pods and events are the hot
        // path (`bench api` measures creates), and a typed decode and
        // re-encode costs more there than the few fields read here are worth.
        let (obj, duplicates) = decode_body(info, body)?;
        self.create_object(info, namespace, obj, &duplicates, opts, true).await
    }

    /// Creates a decoded object; `track` records the writer's `Update` entry
    /// in managedFields (an apply that creates has recorded its own).
    async fn create_object(
        &self,
        info: &ResourceInfo,
        namespace: &str,
        mut obj: Value,
        duplicates: &[String],
        opts: &WriteOptions,
        track: bool,
    ) -> Result<RawObject> {
        let dry_run = opts.dry_run;
        set_namespace(info, &mut obj, namespace)?;
        decode_check(info, &mut obj, duplicates, opts)?;
        let generate = meta::name(&obj).is_empty() && !meta::generate_name(&obj).is_empty();
        if meta::name(&obj).is_empty() && !generate {
            return Err(ApiError::invalid(
                info.kind,
                "",
                vec![FieldError::required("metadata.name", "name or generateName is required")],
            ));
        }
        let strategy = self.strategy(info);
        // An apply's own managedFields survive the strategy's clearing of what clients send.
        let applied = if track { None } else { meta::remove_meta(&mut obj, "managedFields") };
        strategy::before_create(strategy, &mut obj);
        if let Some(fields) = applied {
            meta::set_meta(&mut obj, "managedFields", fields);
        }
        // A generated name may collide; Kubernetes retries such creates a few times.
        for _ in 0..if generate { 8 } else { 1 } {
            if generate {
                let name = strategy::generate_name(meta::generate_name(&obj));
                meta::set_meta(&mut obj, "name", name);
            }
            let name = meta::name(&obj).to_string();
            // Only a generated name may need another try with the original.
            let mut candidate = if generate { obj.clone() } else { std::mem::take(&mut obj) };
            strategy.default(&mut candidate)?;
            if track && !opts.field_manager.is_empty() {
                managed::record_create(&mut candidate, info.kind, &opts.field_manager, managed::Scope::Main);
            }
            strategy.validate(&candidate, None)?;
            strategy.finish_create(&mut candidate);
            self.check_namespace(info, namespace, &name).await?;
            let reservation = strategy.begin_create(&mut candidate, dry_run).await?;
            let bytes = match encode(&candidate) {
                Ok(bytes) => bytes,
                Err(e) => {
                    strategy::finish(reservation, Outcome::NotStored).await;
                    return Err(e);
                }
            };
            if dry_run {
                strategy::finish(reservation, Outcome::NotStored).await;
                return Ok(RawObject { json: bytes, resource_version: 0 });
            }
            let written = self.store.create_with_ttl(&info.key(namespace, &name), bytes.clone(), strategy.ttl()).await;
            let outcome = if written.is_ok() { Outcome::Stored } else { Outcome::NotStored };
            strategy::finish(reservation, outcome).await;
            match written {
                Ok(rev) => return Ok(RawObject { json: bytes, resource_version: rev }),
                Err(StoreError::AlreadyExists) if generate => continue,
                Err(StoreError::AlreadyExists) => return Err(ApiError::already_exists(&info.group_resource(), &name)),
                Err(e) => return Err(storage_error(e)),
            }
        }
        Err(ApiError::already_exists(&info.group_resource(), meta::name(&obj)))
    }

    /// Lists a collection as a `<Kind>List` (decoded), filtered by selectors,
    /// paged by `limit`/`continue_token`.
    pub async fn list(
        &self,
        info: &ResourceInfo,
        namespace: &str,
        label_selector: &str,
        field_selector: &str,
        limit: i64,
        continue_token: &str,
    ) -> Result<Value> {
        let raw = self.list_raw(info, namespace, label_selector, field_selector, limit, continue_token).await?;
        let items = raw.items.iter().map(RawObject::decode).collect::<Result<Vec<_>>>()?;
        let mut metadata = json!({"resourceVersion": raw.resource_version.to_string()});
        if !raw.continue_token.is_empty() {
            metadata["continue"] = raw.continue_token.into();
        }
        Ok(json!({"apiVersion": info.api_version(), "kind": info.list_kind(), "metadata": metadata, "items": items}))
    }

    /// Lists a collection as stored, decoding objects only to evaluate selectors.
    /// The continue token is the key of the last object returned.
    pub async fn list_raw(
        &self,
        info: &ResourceInfo,
        namespace: &str,
        label_selector: &str,
        field_selector: &str,
        limit: i64,
        continue_token: &str,
    ) -> Result<RawList> {
        self.list_raw_at(info, namespace, label_selector, field_selector, limit, continue_token, 0).await
    }

    /// `list_raw` as the collection was at `revision` (0: the latest), as a
    /// list with `resourceVersionMatch=Exact` or a continued page reads it.
    #[allow(clippy::too_many_arguments)]
    pub async fn list_raw_at(
        &self,
        info: &ResourceInfo,
        namespace: &str,
        label_selector: &str,
        field_selector: &str,
        limit: i64,
        continue_token: &str,
        revision: i64,
    ) -> Result<RawList> {
        let filter = Filter::new(info, label_selector, field_selector)?;
        let prefix = info.namespace_prefix(namespace);
        let listed =
            if revision > 0 { self.store.list_at(&prefix, revision).await } else { self.store.list(&prefix).await };
        let (kvs, revision) = listed.map_err(storage_error)?;
        let mut items = Vec::new();
        let (mut last, mut next, mut remaining) = (String::new(), String::new(), None);
        let rest: Vec<KeyValue> =
            kvs.into_iter().filter(|kv| continue_token.is_empty() || kv.key.as_str() > continue_token).collect();
        let total = rest.len();
        for (i, kv) in rest.into_iter().enumerate() {
            if !filter.matches_raw(&kv.value)? {
                continue;
            }
            if limit > 0 && items.len() as i64 == limit {
                next = last;
                remaining = (label_selector.is_empty() && field_selector.is_empty()).then_some((total - i) as i64);
                break;
            }
            last = kv.key;
            items.push(RawObject { json: kv.value, resource_version: kv.mod_revision });
        }
        Ok(RawList { items, resource_version: revision, continue_token: next, remaining })
    }

    /// The keys (and resourceVersions) of the page [`Registry::list_raw_at`]
    /// without selectors would give, read without the objects: for a caller
    /// that keeps what it made of each object by resourceVersion, and reads
    /// only the objects that changed ([`Registry::objects_at`]).
    pub async fn list_keys_at(
        &self,
        info: &ResourceInfo,
        namespace: &str,
        limit: i64,
        continue_token: &str,
        revision: i64,
    ) -> Result<KeyPage> {
        let prefix = info.namespace_prefix(namespace);
        let (mut keys, revision) = self.store.list_keys(&prefix, revision).await.map_err(storage_error)?;
        if !continue_token.is_empty() {
            keys.retain(|k| k.key.as_str() > continue_token);
        }
        let (mut next, mut remaining) = (String::new(), None);
        if let Ok(limit) = usize::try_from(limit) {
            if limit > 0 && keys.len() > limit {
                remaining = Some((keys.len() - limit) as i64);
                keys.truncate(limit);
                next = keys.last().map(|k| k.key.clone()).unwrap_or_default();
            }
        }
        Ok(KeyPage { keys, resource_version: revision, continue_token: next, remaining })
    }

    /// The stored objects of `keys` as they were at `revision` (read together,
    /// a few at a time), each with its resourceVersion; Expired when the
    /// store no longer has that revision, an internal error when one was
    /// absent then (the keys come from a list at that revision).
    pub async fn objects_at(&self, keys: &[KeyRevision], revision: i64) -> Result<Vec<RawObject>> {
        let mut objects = Vec::with_capacity(keys.len());
        for some in keys.chunks(16) {
            objects.extend(futures::future::try_join_all(some.iter().map(|k| self.object_at(&k.key, revision))).await?);
        }
        Ok(objects)
    }

    async fn object_at(&self, key: &str, revision: i64) -> Result<RawObject> {
        match self.store.get_at(key, revision).await.map_err(storage_error)? {
            Some(kv) => Ok(RawObject { json: kv.value, resource_version: kv.mod_revision }),
            None => Err(ApiError::internal(format!("{key} was not stored at revision {revision}"))),
        }
    }

    pub async fn update(
        &self,
        info: &ResourceInfo,
        namespace: &str,
        name: &str,
        body: &[u8],
        subresource: &str,
        opts: &WriteOptions,
    ) -> Result<Value> {
        check_name(info, name)?;
        check_subresource(info, subresource)?;
        let (mut new, duplicates) = decode_body(info, body)?;
        set_namespace(info, &mut new, namespace)?;
        if meta::name(&new) != name {
            return Err(ApiError::bad_request(format!(
                "the name of the object ({}) does not match the name on the URL ({name})",
                meta::name(&new)
            )));
        }
        decode_check(info, &mut new, &duplicates, opts)?;
        let precondition = parse_resource_version(meta::resource_version(&new))?;
        for _ in 0..MAX_RETRIES {
            let (old, kv) = self.read(info, namespace, name).await?;
            if precondition.is_some_and(|rv| rv != kv.mod_revision) {
                return Err(ApiError::conflict(&info.group_resource(), name));
            }
            let mut obj = new.clone();
            strategy::before_update(self.strategy(info), &mut obj, &old, subresource);
            match self.finish_update(info, obj, &old, &kv, opts, Some(managed::Scope::of(subresource))).await {
                Err(e) if e.is_conflict() && precondition.is_none() => continue,
                other => return other,
            }
        }
        Err(ApiError::conflict(&info.group_resource(), name))
    }

    /// Patches an object (or its status), retrying when a concurrent writer wins,
    /// unless the patch itself names the resourceVersion it expects. An
    /// apply (`PatchType::Apply`) creates the object when it does not exist.
    #[allow(clippy::too_many_arguments)]
    pub async fn patch(
        &self,
        info: &ResourceInfo,
        namespace: &str,
        name: &str,
        patch_type: PatchType,
        body: &[u8],
        subresource: &str,
        opts: &WriteOptions,
    ) -> Result<Value> {
        check_name(info, name)?;
        check_subresource(info, subresource)?;
        let is_apply = patch_type == PatchType::Apply;
        if opts.force && !is_apply {
            return Err(ApiError::invalid(
                "PatchOptions.meta.k8s.io",
                "",
                vec![FieldError::forbidden("force", "may not be specified for non-apply patch")],
            ));
        }
        if is_apply && opts.field_manager.is_empty() {
            return Err(ApiError::invalid(
                "PatchOptions.meta.k8s.io",
                "",
                vec![FieldError::required("fieldManager", "is required for apply patch")],
            ));
        }
        let patch: Value = if is_apply {
            let text = std::str::from_utf8(body)
                .map_err(|_| ApiError::bad_request("the apply configuration is not UTF-8 text"))?;
            let doc = api::codec::yaml::document(text)
                .map_err(|e| ApiError::bad_request(format!("error decoding YAML: {e}")))?;
            let mut config = check_kind(info, doc)?;
            if meta::name(&config).is_empty() {
                meta::set_meta(&mut config, "name", name);
            }
            if info.namespaced && meta::namespace(&config).is_empty() {
                meta::set_meta(&mut config, "namespace", namespace);
            }
            config
        } else {
            serde_json::from_slice(body)
                .map_err(|e| ApiError::bad_request(format!("the patch is not valid JSON: {e}")))?
        };
        let scope = managed::Scope::of(subresource);
        for _ in 0..MAX_RETRIES {
            let (old, kv) = match self.read(info, namespace, name).await {
                Err(e) if e.is_not_found() && is_apply && subresource.is_empty() => {
                    let obj = managed::apply(None, &patch, info.kind, &opts.field_manager, opts.force, scope)?;
                    if meta::name(&obj) != name {
                        return Err(ApiError::bad_request("a patch may not change the object's name or namespace"));
                    }
                    match self.create_object(info, namespace, obj, &[], opts, false).await {
                        Err(e) if e.is_already_exists() => continue,
                        other => return other?.decode(),
                    }
                }
                other => other?,
            };
            let mut obj = if is_apply {
                managed::apply(Some(&old), &patch, info.kind, &opts.field_manager, opts.force, scope)?
            } else {
                patch::apply(&old, patch_type, &patch, info.kind)?
            };
            if meta::name(&obj) != name || (info.namespaced && meta::namespace(&obj) != namespace) {
                return Err(ApiError::bad_request("a patch may not change the object's name or namespace"));
            }
            // A resourceVersion or uid in the patch is a precondition on the stored object.
            if meta::resource_version(&obj) != kv.mod_revision.to_string() {
                return Err(ApiError::conflict(&info.group_resource(), name));
            }
            if meta::uid(&obj) != meta::uid(&old) {
                return Err(ApiError::new(
                    Reason::Conflict,
                    format!(
                        "Operation cannot be fulfilled on {} \"{name}\": Precondition failed: UID in precondition: {}, UID in object meta: {}",
                        info.group_resource(),
                        meta::uid(&obj),
                        meta::uid(&old)
                    ),
                ));
            }
            decode_check(info, &mut obj, &[], opts)?;
            let applied = if is_apply { meta::remove_meta(&mut obj, "managedFields") } else { None };
            strategy::before_update(self.strategy(info), &mut obj, &old, subresource);
            if let Some(fields) = applied {
                meta::set_meta(&mut obj, "managedFields", fields);
            }
            let track = (!is_apply).then_some(scope);
            match self.finish_update(info, obj, &old, &kv, opts, track).await {
                // An apply's conflict with another manager is final; a write race is retried.
                Err(e) if e.is_conflict() && e.causes.is_empty() => continue,
                other => return other,
            }
        }
        Err(ApiError::conflict(&info.group_resource(), name))
    }

    /// Defaults, validates and writes an updated object, recording the
    /// writer's changes in managedFields when `track` says in which scope. A
    /// write that changes nothing is skipped (the resourceVersion stays); an
    /// object being deleted whose last finalizer was just removed is deleted.
    async fn finish_update(
        &self,
        info: &ResourceInfo,
        mut obj: Value,
        old: &Value,
        kv: &KeyValue,
        opts: &WriteOptions,
        track: Option<managed::Scope>,
    ) -> Result<Value> {
        let dry_run = opts.dry_run;
        let strategy = self.strategy(info);
        strategy.default(&mut obj)?;
        if let Some(scope) = track.filter(|_| !opts.field_manager.is_empty()) {
            managed::record_update(&mut obj, old, info.kind, &opts.field_manager, scope);
        }
        strategy.validate(&obj, Some(old))?;
        let reservation = strategy.begin_update(&mut obj, old, dry_run).await?;
        meta::set_resource_version(&mut obj, kv.mod_revision);
        if &obj == old || dry_run {
            strategy::finish(reservation, Outcome::NotStored).await;
            return Ok(obj);
        }
        let result = self.write_update(info, &mut obj, kv).await;
        let outcome = match result {
            Ok(Written::Updated) => Outcome::Stored,
            Ok(Written::Deleted) => Outcome::Removed,
            Err(_) => Outcome::NotStored,
        };
        strategy::finish(reservation, outcome).await;
        if outcome == Outcome::Removed {
            strategy.after_delete(old).await;
        }
        result.map(|_| obj)
    }

    /// Stores an updated object, or deletes it when its finalizers are done.
    async fn write_update(&self, info: &ResourceInfo, obj: &mut Value, kv: &KeyValue) -> Result<Written> {
        let name = meta::name(obj).to_string();
        let strategy = self.strategy(info);
        let finished = meta::deletion_timestamp(obj).is_some()
            && meta::finalizers(obj).is_empty()
            && strategy.deletion_finished(obj);
        let written = if finished {
            self.store.delete(&kv.key, Some(kv.mod_revision)).await.map(|d| (d.mod_revision, Written::Deleted))
        } else {
            let ttl = strategy.ttl();
            self.store
                .update_with_ttl(&kv.key, encode(obj)?, kv.mod_revision, ttl)
                .await
                .map(|rev| (rev, Written::Updated))
        };
        match written {
            Ok((rev, how)) => {
                meta::set_resource_version(obj, rev);
                Ok(how)
            }
            Err(StoreError::Conflict { .. }) => Err(ApiError::conflict(&info.group_resource(), &name)),
            Err(StoreError::NotFound) => Err(ApiError::not_found(&info.group_resource(), &name)),
            Err(e) => Err(storage_error(e)),
        }
    }

    /// A `create` on a subresource (`pods/<name>/binding`), served by the kind's strategy.
    pub async fn create_subresource(
        &self,
        info: &ResourceInfo,
        namespace: &str,
        name: &str,
        subresource: &str,
        body: &[u8],
    ) -> Result<Value> {
        self.strategy(info).create_subresource(self, namespace, name, subresource, body).await
    }

    /// Writes what `change` makes of the stored object, retrying when another
    /// writer got there first: for subresources the server writes itself
    /// (`pods/binding`), which skip the update path's defaulting and
    /// validation, as in Kubernetes. Conflicts that outlast the retries are
    /// reported on `<resource>/<subresource>`.
    pub(crate) async fn write_subresource(
        &self,
        info: &ResourceInfo,
        namespace: &str,
        name: &str,
        subresource: &str,
        change: impl Fn(&Value) -> Result<Value> + Send + Sync,
    ) -> Result<Value> {
        for _ in 0..MAX_RETRIES {
            let (old, kv) = self.read(info, namespace, name).await?;
            let mut obj = change(&old)?;
            match self.store.update(&kv.key, encode(&obj)?, kv.mod_revision).await {
                Ok(rev) => {
                    meta::set_resource_version(&mut obj, rev);
                    return Ok(obj);
                }
                Err(StoreError::Conflict { .. }) => continue,
                Err(StoreError::NotFound) => return Err(ApiError::not_found(&info.group_resource(), name)),
                Err(e) => return Err(storage_error(e)),
            }
        }
        Err(ApiError::conflict(&format!("{}/{subresource}", info.group_resource()), name))
    }
}

fn check_subresource(info: &ResourceInfo, subresource: &str) -> Result<()> {
    match subresource {
        "" => Ok(()),
        "status" if info.has_status => Ok(()),
        other => Err(ApiError::new(
            Reason::NotFound,
            format!("the server could not find the requested resource ({} {other})", info.group_resource()),
        )),
    }
}

fn parse_resource_version(rv: &str) -> Result<Option<i64>> {
    if rv.is_empty() {
        return Ok(None);
    }
    rv.parse::<i64>()
        .map(Some)
        .map_err(|_| ApiError::bad_request(format!("invalid resource version {rv:?}: it must be a number")))
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod write_tests;
