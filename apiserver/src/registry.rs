//! The generic registry: Kubernetes' object semantics over any [`Store`], for
//! every kind in the resource registry.
//!
//! Each verb here is what the Kubernetes apiserver's generic registry does:
//! decode strictly, default, validate, set server-owned fields, write with
//! optimistic concurrency (`resourceVersion` = the etcd revision of the last
//! write), and translate storage errors into API errors. Kind-specific rules
//! live in `api::validation` (defaults, validation) and `crate::strategy`
//! (what the server owns); this file stays kind-agnostic apart from the few
//! places Kubernetes itself special-cases (graceful pod deletion, bindings,
//! namespaces, and the IPs and node ports of Services, see `crate::alloc`).

use crate::alloc::{self, Allocation, ServiceAllocator, ServiceConfig};
use crate::patch;
use crate::store::{EventKind, KeyValue, Store, StoreError, StoreEvent};
use crate::strategy;
use api::selector::{FieldSelector, LabelSelector};
use api::{meta, registry, validation, ApiError, FieldError, Reason, ResourceInfo};
use bytes::Bytes;
use futures::stream::BoxStream;
use futures::StreamExt;
use proto::PatchType;
use serde_json::value::RawValue;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

/// The largest object kubelab stores, as etcd's default request limit (1.5 MiB).
pub const MAX_OBJECT_BYTES: usize = 1536 * 1024;

/// How often an unconditional write is retried when it races with another writer.
const MAX_RETRIES: usize = 16;

/// Namespaces that exist from the first start and can never be deleted.
pub const SYSTEM_NAMESPACES: &[&str] = &["default", "kube-system", "kube-public", "kube-node-lease"];

/// Options of a delete, as Kubernetes' `DeleteOptions`.
#[derive(Debug, Clone, Default)]
pub struct DeleteOptions {
    pub grace_period_seconds: Option<i64>,
    pub precondition_uid: String,
    pub precondition_resource_version: String,
    pub propagation_policy: String,
}

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

/// A page of a collection, as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct RawList {
    pub items: Vec<RawObject>,
    pub resource_version: i64,
    /// Non-empty when `limit` cut the list short.
    pub continue_token: String,
}

/// One event of a watch, ready to send: its type and the object as stored.
/// The JSON is shared with every other watcher of the same change.
#[derive(Debug, Clone, PartialEq)]
pub struct WatchEvent {
    pub kind: &'static str,
    pub json: Bytes,
    pub resource_version: i64,
}

impl WatchEvent {
    /// The object with its resourceVersion stamped in.
    pub fn decode(&self) -> Result<Value> {
        from_kv(&self.json, self.resource_version)
    }
}

/// A watch as the registry serves it: ends after its first error.
pub type WatchEvents = BoxStream<'static, Result<WatchEvent>>;

pub struct Registry {
    store: Arc<dyn Store>,
    /// Namespace name -> whether it is terminating, kept by a watch (see
    /// `watch_namespaces`), so creates need not read their namespace from etcd.
    /// A name missing here is looked up in the store.
    namespaces: std::sync::RwLock<HashMap<String, bool>>,
    /// Cluster IPs and node ports of Services.
    services: ServiceAllocator,
    /// How long an Event is kept after its last write; zero keeps it for good.
    event_ttl: Duration,
}

/// kube-apiserver's `--event-ttl` default.
pub const DEFAULT_EVENT_TTL: Duration = Duration::from_secs(3600);

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
/// older versions (`batch/v1beta1` CronJob) to the stored one.
fn decode_body(info: &ResourceInfo, body: &[u8]) -> Result<Value> {
    if body.len() > MAX_OBJECT_BYTES {
        return Err(ApiError::new(
            Reason::RequestEntityTooLarge,
            format!("Request entity too large: the object is {} bytes, the limit is {MAX_OBJECT_BYTES}", body.len()),
        ));
    }
    let mut obj: Value = serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("the request body is not valid JSON: {e}")))?;
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
                "the object's kind {kind} in version {api_version} does not belong to the {} resource",
                info.group_resource()
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

/// How an update was written.
enum Written {
    Updated,
    /// The update removed the last finalizer of an object being deleted.
    Deleted,
}

/// Whether an object passes a watch's or list's selectors.
struct Filter {
    labels: LabelSelector,
    fields: FieldSelector,
    /// The members the selectors read (`["metadata", "labels"]`, `["spec", "nodeName"]`).
    paths: Vec<Vec<String>>,
}

impl Filter {
    fn new(info: &ResourceInfo, label_selector: &str, field_selector: &str) -> Result<Self> {
        let labels = LabelSelector::parse(label_selector)?;
        let fields = FieldSelector::parse(info, field_selector)?;
        let mut paths: Vec<Vec<String>> =
            fields.requirements().iter().map(|r| r.field.split('.').map(str::to_string).collect()).collect();
        if !labels.is_empty() {
            paths.push(vec!["metadata".to_string(), "labels".to_string()]);
        }
        Ok(Self { labels, fields, paths })
    }
    fn is_empty(&self) -> bool {
        self.labels.is_empty() && self.fields.is_empty()
    }
    fn matches(&self, obj: &Value) -> bool {
        (self.labels.is_empty() || self.labels.matches(&meta::labels(obj)))
            && (self.fields.is_empty() || self.fields.matches(obj))
    }
    /// Matches stored bytes, decoding only the members the selectors read:
    /// every watcher with a selector checks every event (and its previous
    /// version), so decoding whole pods here was a tenth of the apiserver's
    /// CPU in the density benchmark.
    fn matches_raw(&self, json: &[u8]) -> Result<bool> {
        if self.is_empty() {
            return Ok(true);
        }
        let selected = decode_paths(json, &self.paths)
            .map_err(|e| ApiError::internal(format!("stored object is not JSON: {e}")))?;
        Ok(self.matches(&selected))
    }
}

/// Decodes the members of a JSON object that lie on `paths` (member names
/// from the top) and nothing else; the rest is only scanned. Members a path
/// names but the object lacks are absent from the result too.
fn decode_paths(json: &[u8], paths: &[Vec<String>]) -> serde_json::Result<Value> {
    let raw: &RawValue = serde_json::from_slice(json)?;
    let paths: Vec<&[String]> = paths.iter().map(Vec::as_slice).collect();
    pick(raw, &paths)
}

fn pick(raw: &RawValue, paths: &[&[String]]) -> serde_json::Result<Value> {
    // A path that ends here wants the whole member; a value that is not an
    // object has no members to pick from.
    if paths.iter().any(|p| p.is_empty()) {
        return serde_json::from_str(raw.get());
    }
    let Ok(members) = serde_json::from_str::<HashMap<String, &RawValue>>(raw.get()) else {
        return serde_json::from_str(raw.get());
    };
    let mut picked = serde_json::Map::new();
    for (name, member) in members {
        let deeper: Vec<&[String]> = paths.iter().filter(|p| p[0] == name).map(|p| &p[1..]).collect();
        if !deeper.is_empty() {
            picked.insert(name, pick(member, &deeper)?);
        }
    }
    Ok(Value::Object(picked))
}

impl Registry {
    /// A registry with the default service settings (10.96.0.0/12, 30000-32767).
    pub fn new(store: Arc<dyn Store>) -> Self {
        Self::with_services(store, ServiceConfig::default())
    }

    pub fn with_services(store: Arc<dyn Store>, services: ServiceConfig) -> Self {
        let services = ServiceAllocator::new(store.clone(), services);
        Self { store, namespaces: Default::default(), services, event_ttl: DEFAULT_EVENT_TTL }
    }

    /// Events expire this long after their last write (each write starts the
    /// time again), deleted by the store itself as kube-apiserver's etcd leases
    /// do; zero keeps them until deleted.
    pub fn with_event_ttl(mut self, ttl: Duration) -> Self {
        self.event_ttl = ttl;
        self
    }

    /// The TTL a write of `info`'s kind carries: Events' only.
    fn ttl(&self, info: &ResourceInfo) -> Option<Duration> {
        (info.kind == "Event" && !self.event_ttl.is_zero()).then_some(self.event_ttl)
    }

    pub fn services(&self) -> &ServiceAllocator {
        &self.services
    }

    /// Keeps the namespace table current until the store's watch ends for good.
    /// Run on a task of its own; restarts (re-listing) whenever its watch fails.
    pub async fn watch_namespaces(self: Arc<Self>) {
        let info = registry::lookup("namespaces").expect("namespaces are registered");
        loop {
            let mut rx = match self.watch(info, "", "", "", "").await {
                Ok(rx) => rx,
                Err(e) => {
                    tracing::warn!(error = %e, "watching namespaces; retrying");
                    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                    continue;
                }
            };
            self.namespaces.write().expect("namespaces lock").clear();
            while let Some(Ok(ev)) = rx.next().await {
                let Ok(ns) = ev.decode() else { continue };
                let mut table = self.namespaces.write().expect("namespaces lock");
                if ev.kind == "DELETED" {
                    table.remove(meta::name(&ns));
                } else {
                    table.insert(meta::name(&ns).to_string(), meta::deletion_timestamp(&ns).is_some());
                }
            }
        }
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// Creates the namespaces and services every cluster has, after repairing
    /// the service allocations. Safe to run on every start.
    pub async fn bootstrap(&self) -> Result<()> {
        let ns = registry::lookup("namespaces").expect("namespaces are registered");
        for name in SYSTEM_NAMESPACES {
            let body = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}});
            match self.create(ns, "", &serde_json::to_vec(&body).expect("json"), false).await {
                Ok(_) => tracing::info!(namespace = name, "created system namespace"),
                Err(e) if e.is_already_exists() => {}
                Err(e) => return Err(e),
            }
        }
        let report = self.services.repair(alloc::REPAIR_GRACE).await.map_err(storage_error)?;
        if report != alloc::RepairReport::default() {
            tracing::info!(?report, "repaired service IP and node port allocations");
        }
        self.bootstrap_services().await
    }

    /// `default/kubernetes` with its Endpoints, and `kube-system/kube-dns`.
    /// The `kubernetes` ports and Endpoints follow the current flags.
    async fn bootstrap_services(&self) -> Result<()> {
        let services = registry::lookup("services").expect("services are registered");
        let endpoints = registry::lookup("endpoints").expect("endpoints are registered");
        let config = self.services.config().clone();
        let kubernetes = alloc::bootstrap::kubernetes_service(&config);
        let kube_dns = alloc::bootstrap::kube_dns_service(&config);
        for svc in [&kubernetes, &kube_dns] {
            let (ns, name) = (meta::namespace(svc), meta::name(svc));
            match self.create(services, ns, &serde_json::to_vec(svc).expect("json"), false).await {
                Ok(created) => tracing::info!(service = %format!("{ns}/{name}"),
                    cluster_ip = created["spec"]["clusterIP"].as_str().unwrap_or(""), "created system service"),
                Err(e) if e.is_already_exists() => {}
                // Someone holds its address; the cluster works on, without it.
                Err(e) if e.is_invalid() => tracing::error!(service = %format!("{ns}/{name}"), error = %e,
                    "cannot create system service"),
                Err(e) => return Err(e),
            }
        }
        let mut current = self.get(services, "default", "kubernetes").await?;
        if current["spec"]["ports"] != kubernetes["spec"]["ports"] {
            current["spec"]["ports"] = kubernetes["spec"]["ports"].clone();
            let body = serde_json::to_vec(&current).expect("json");
            self.update(services, "default", "kubernetes", &body, "", false).await?;
        }
        let wanted = alloc::bootstrap::kubernetes_endpoints(&config);
        match self.create(endpoints, "default", &serde_json::to_vec(&wanted).expect("json"), false).await {
            Err(e) if e.is_already_exists() => {
                let mut current = self.get(endpoints, "default", "kubernetes").await?;
                if current["subsets"] != wanted["subsets"] {
                    tracing::info!(address = %config.advertise_address, "the apiserver's address changed; updating the kubernetes endpoints");
                    current["subsets"] = wanted["subsets"].clone();
                    let body = serde_json::to_vec(&current).expect("json");
                    self.update(endpoints, "default", "kubernetes", &body, "", false).await?;
                }
            }
            other => drop(other?),
        }
        Ok(())
    }

    /// Gives back a failed write's allocations.
    async fn revert(&self, allocation: Option<Allocation>) {
        if let Some(a) = allocation {
            a.revert(&self.services).await;
        }
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

    /// Refuses new content in a namespace that does not exist or is being deleted.
    async fn check_namespace(&self, info: &ResourceInfo, namespace: &str, name: &str) -> Result<()> {
        if !info.namespaced {
            return Ok(());
        }
        let known = self.namespaces.read().expect("namespaces lock").get(namespace).copied();
        let terminating = match known {
            Some(t) => t,
            None => {
                let ns_info = registry::lookup("namespaces").expect("namespaces are registered");
                meta::deletion_timestamp(&self.read(ns_info, "", namespace).await?.0).is_some()
            }
        };
        if terminating {
            return Err(ApiError::forbidden(
                &info.group_resource(),
                name,
                &format!("unable to create new content in namespace {namespace} because it is being terminated"),
            ));
        }
        Ok(())
    }

    pub async fn create(&self, info: &ResourceInfo, namespace: &str, body: &[u8], dry_run: bool) -> Result<Value> {
        self.create_raw(info, namespace, body, dry_run).await?.decode()
    }

    /// Creates an object and answers with the bytes it stored (a dry run's
    /// bytes are the object it would have stored): the response needs no
    /// second encoding, as a get needs none.
    pub async fn create_raw(
        &self,
        info: &ResourceInfo,
        namespace: &str,
        body: &[u8],
        dry_run: bool,
    ) -> Result<RawObject> {
        let mut obj = decode_body(info, body)?;
        set_namespace(info, &mut obj, namespace)?;
        validation::decode_check(info, &obj)?;
        let generate = meta::name(&obj).is_empty() && !meta::generate_name(&obj).is_empty();
        if meta::name(&obj).is_empty() && !generate {
            return Err(ApiError::invalid(
                info.kind,
                "",
                vec![FieldError::required("metadata.name", "name or generateName is required")],
            ));
        }
        strategy::prepare_for_create(info, &mut obj);
        // A generated name may collide; Kubernetes retries such creates a few times.
        for _ in 0..if generate { 8 } else { 1 } {
            if generate {
                let name = strategy::generate_name(meta::generate_name(&obj));
                meta::set_meta(&mut obj, "name", name);
            }
            let name = meta::name(&obj).to_string();
            // Only a generated name may need another try with the original.
            let mut candidate = if generate { obj.clone() } else { std::mem::take(&mut obj) };
            validation::apply_defaults(info, &mut candidate)?;
            validation::validate(info, &candidate, None)?;
            strategy::finish_create(info, &mut candidate);
            self.check_namespace(info, namespace, &name).await?;
            let allocation = match info.kind {
                "Service" => Some(self.services.allocate_create(&mut candidate, dry_run).await?),
                _ => None,
            };
            let bytes = match encode(&candidate) {
                Ok(bytes) => bytes,
                Err(e) => {
                    self.revert(allocation).await;
                    return Err(e);
                }
            };
            if dry_run {
                self.revert(allocation).await;
                return Ok(RawObject { json: bytes, resource_version: 0 });
            }
            let written = self.store.create_with_ttl(&info.key(namespace, &name), bytes.clone(), self.ttl(info)).await;
            if written.is_err() {
                self.revert(allocation).await;
            }
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
        let filter = Filter::new(info, label_selector, field_selector)?;
        let (kvs, revision) = self.store.list(&info.namespace_prefix(namespace)).await.map_err(storage_error)?;
        let mut items = Vec::new();
        let (mut last, mut next) = (String::new(), String::new());
        for kv in kvs.into_iter().filter(|kv| continue_token.is_empty() || kv.key.as_str() > continue_token) {
            if !filter.matches_raw(&kv.value)? {
                continue;
            }
            if limit > 0 && items.len() as i64 == limit {
                next = last;
                break;
            }
            last = kv.key;
            items.push(RawObject { json: kv.value, resource_version: kv.mod_revision });
        }
        Ok(RawList { items, resource_version: revision, continue_token: next })
    }

    pub async fn update(
        &self,
        info: &ResourceInfo,
        namespace: &str,
        name: &str,
        body: &[u8],
        subresource: &str,
        dry_run: bool,
    ) -> Result<Value> {
        check_name(info, name)?;
        check_subresource(info, subresource)?;
        let mut new = decode_body(info, body)?;
        set_namespace(info, &mut new, namespace)?;
        if meta::name(&new) != name {
            return Err(ApiError::bad_request(format!(
                "the name of the object ({}) does not match the name on the URL ({name})",
                meta::name(&new)
            )));
        }
        validation::decode_check(info, &new)?;
        let precondition = parse_resource_version(meta::resource_version(&new))?;
        for _ in 0..MAX_RETRIES {
            let (old, kv) = self.read(info, namespace, name).await?;
            if precondition.is_some_and(|rv| rv != kv.mod_revision) {
                return Err(ApiError::conflict(&info.group_resource(), name));
            }
            let mut obj = new.clone();
            strategy::prepare_for_update(info, &mut obj, &old, subresource);
            match self.finish_update(info, obj, &old, &kv, dry_run).await {
                Err(e) if e.is_conflict() && precondition.is_none() => continue,
                other => return other,
            }
        }
        Err(ApiError::conflict(&info.group_resource(), name))
    }

    /// Patches an object (or its status), retrying when a concurrent writer wins,
    /// unless the patch itself names the resourceVersion it expects.
    #[allow(clippy::too_many_arguments)]
    pub async fn patch(
        &self,
        info: &ResourceInfo,
        namespace: &str,
        name: &str,
        patch_type: PatchType,
        body: &[u8],
        subresource: &str,
        dry_run: bool,
    ) -> Result<Value> {
        check_name(info, name)?;
        check_subresource(info, subresource)?;
        let patch: Value = serde_json::from_slice(body)
            .map_err(|e| ApiError::bad_request(format!("the patch is not valid JSON: {e}")))?;
        for _ in 0..MAX_RETRIES {
            let (old, kv) = self.read(info, namespace, name).await?;
            let mut obj = patch::apply(&old, patch_type, &patch)?;
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
            validation::decode_check(info, &obj)?;
            strategy::prepare_for_update(info, &mut obj, &old, subresource);
            match self.finish_update(info, obj, &old, &kv, dry_run).await {
                Err(e) if e.is_conflict() => continue,
                other => return other,
            }
        }
        Err(ApiError::conflict(&info.group_resource(), name))
    }

    /// Defaults, validates and writes an updated object. A write that changes
    /// nothing is skipped (the resourceVersion stays); an object being deleted
    /// whose last finalizer was just removed is deleted.
    async fn finish_update(
        &self,
        info: &ResourceInfo,
        mut obj: Value,
        old: &Value,
        kv: &KeyValue,
        dry_run: bool,
    ) -> Result<Value> {
        validation::apply_defaults(info, &mut obj)?;
        validation::validate(info, &obj, Some(old))?;
        let allocation = match info.kind {
            "Service" if obj.get("spec") != old.get("spec") => {
                Some(self.services.allocate_update(&mut obj, old, dry_run).await?)
            }
            _ => None,
        };
        meta::set_resource_version(&mut obj, kv.mod_revision);
        if &obj == old || dry_run {
            self.revert(allocation).await;
            return Ok(obj);
        }
        let result = self.write_update(info, &mut obj, kv).await;
        match (allocation, &result) {
            (Some(a), Ok(Written::Updated)) => a.commit(&self.services).await,
            (Some(a), Ok(Written::Deleted)) => a.release_all(&self.services).await,
            (a, Err(_)) => self.revert(a).await,
            (None, _) => {}
        }
        if info.kind == "Service" && matches!(result, Ok(Written::Deleted)) {
            self.services.release(old).await;
        }
        result.map(|_| obj)
    }

    /// Stores an updated object, or deletes it when its finalizers are done.
    async fn write_update(&self, info: &ResourceInfo, obj: &mut Value, kv: &KeyValue) -> Result<Written> {
        let name = meta::name(obj).to_string();
        // A namespace also waits for its own finalizers (`spec.finalizers`,
        // which the namespace controller removes once the namespace is empty).
        let spec_finalized =
            info.kind != "Namespace" || obj["spec"]["finalizers"].as_array().is_none_or(|f| f.is_empty());
        let finalized = meta::deletion_timestamp(obj).is_some() && finalizers(obj).is_empty() && spec_finalized;
        // A pod's deletion is finished by its kubelet (a delete with grace period 0), not by its finalizers.
        let graceful_pod = info.kind == "Pod" && obj["metadata"]["deletionGracePeriodSeconds"].as_i64() != Some(0);
        let written = if finalized && !graceful_pod {
            self.store.delete(&kv.key, Some(kv.mod_revision)).await.map(|d| (d.mod_revision, Written::Deleted))
        } else {
            let ttl = self.ttl(info);
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

    /// Deletes an object as Kubernetes does: pods bound to a node get a grace
    /// period (the kubelet finishes the deletion), objects with finalizers and
    /// namespaces are only marked, everything else goes at once.
    pub async fn delete(
        &self,
        info: &ResourceInfo,
        namespace: &str,
        name: &str,
        opts: &DeleteOptions,
    ) -> Result<Value> {
        check_name(info, name)?;
        if info.kind == "Namespace" && SYSTEM_NAMESPACES[..3].contains(&name) {
            return Err(ApiError::forbidden("namespaces", name, "this namespace may not be deleted"));
        }
        let gc_finalizer = propagation_finalizer(&opts.propagation_policy)?;
        for _ in 0..MAX_RETRIES {
            let (mut obj, kv) = self.read(info, namespace, name).await?;
            check_preconditions(info, &obj, opts)?;
            // Orphan and Foreground deletion are carried out by the garbage
            // collector, which a finalizer summons; the object waits for it.
            if let Some(f) = gc_finalizer {
                if !finalizers(&obj).contains(&f) && meta::deletion_timestamp(&obj).is_none() {
                    let mut list: Vec<Value> = obj["metadata"]["finalizers"].as_array().cloned().unwrap_or_default();
                    list.push(f.into());
                    meta::set_meta(&mut obj, "finalizers", list);
                }
            }
            let mark = match info.kind {
                "Namespace" => Some(0),
                "Pod" => pod_grace_period(&obj, opts),
                _ if !finalizers(&obj).is_empty() => Some(0),
                _ => None,
            };
            let result = match mark {
                Some(grace) => {
                    if meta::deletion_timestamp(&obj).is_some()
                        && obj["metadata"]["deletionGracePeriodSeconds"].as_i64().is_some_and(|g| g <= grace)
                    {
                        return Ok(obj);
                    }
                    let deadline = jiff::Timestamp::now() + jiff::SignedDuration::from_secs(grace);
                    meta::set_meta(&mut obj, "deletionTimestamp", deadline.strftime("%Y-%m-%dT%H:%M:%SZ").to_string());
                    meta::set_meta(&mut obj, "deletionGracePeriodSeconds", grace);
                    if info.kind == "Namespace" {
                        obj["status"]["phase"] = "Terminating".into();
                    }
                    self.store.update(&kv.key, encode(&obj)?, kv.mod_revision).await.map(|rev| {
                        meta::set_resource_version(&mut obj, rev);
                        obj
                    })
                }
                None => self.store.delete(&kv.key, Some(kv.mod_revision)).await.map(|d| {
                    meta::set_resource_version(&mut obj, d.mod_revision);
                    obj
                }),
            };
            match result {
                Ok(o) => {
                    // The service is gone (not only marked): its IPs and ports are free.
                    if info.kind == "Service" && mark.is_none() {
                        self.services.release(&o).await;
                    }
                    return Ok(o);
                }
                Err(StoreError::Conflict { .. }) => continue,
                Err(StoreError::NotFound) => return Err(ApiError::not_found(&info.group_resource(), name)),
                Err(e) => return Err(storage_error(e)),
            }
        }
        Err(ApiError::conflict(&info.group_resource(), name))
    }

    /// Deletes every object of a collection that matches the selectors; returns them as a list.
    pub async fn delete_collection(
        &self,
        info: &ResourceInfo,
        namespace: &str,
        label_selector: &str,
        field_selector: &str,
        opts: &DeleteOptions,
    ) -> Result<Value> {
        let list = self.list(info, namespace, label_selector, field_selector, 0, "").await?;
        let mut deleted = Vec::new();
        for item in list["items"].as_array().into_iter().flatten() {
            match self.delete(info, meta::namespace(item), meta::name(item), opts).await {
                Ok(obj) => deleted.push(obj),
                Err(e) if e.is_not_found() => {}
                Err(e) => return Err(e),
            }
        }
        Ok(json!({"apiVersion": info.api_version(), "kind": info.list_kind(), "metadata": {}, "items": deleted}))
    }

    /// The `pods/binding` subresource: assigns a pending pod to a node, once.
    pub async fn bind(&self, namespace: &str, pod_name: &str, body: &[u8]) -> Result<Value> {
        let pods = registry::lookup("pods").expect("pods are registered");
        let binding: Value = serde_json::from_slice(body)
            .map_err(|e| ApiError::bad_request(format!("the binding is not valid JSON: {e}")))?;
        let node = binding["target"]["name"].as_str().unwrap_or_default().to_string();
        if node.is_empty() {
            return Err(ApiError::invalid("Binding", pod_name, vec![FieldError::required("target.name", "")]));
        }
        for _ in 0..MAX_RETRIES {
            let (old, kv) = self.read(pods, namespace, pod_name).await?;
            let conflict = |why: String| {
                ApiError::new(
                    Reason::Conflict,
                    format!("Operation cannot be fulfilled on pods/binding \"{pod_name}\": {why}"),
                )
            };
            if meta::deletion_timestamp(&old).is_some() {
                return Err(conflict(format!("pod {pod_name} is being deleted, cannot be assigned to a host")));
            }
            if let Some(current) = old["spec"]["nodeName"].as_str().filter(|n| !n.is_empty()) {
                return Err(conflict(format!("pod {pod_name} is already assigned to node \"{current}\"")));
            }
            let mut obj = old.clone();
            obj["spec"]["nodeName"] = node.clone().into();
            set_condition(&mut obj, "PodScheduled", "True");
            match self.store.update(&kv.key, encode(&obj)?, kv.mod_revision).await {
                Ok(_) => {
                    return Ok(json!({"apiVersion": "v1", "kind": "Status", "metadata": {}, "status": "Success",
                                     "code": 201}))
                }
                Err(StoreError::Conflict { .. }) => continue,
                Err(StoreError::NotFound) => return Err(ApiError::not_found("pods", pod_name)),
                Err(e) => return Err(storage_error(e)),
            }
        }
        Err(ApiError::conflict("pods/binding", pod_name))
    }

    /// Watches a collection: with `resource_version` "" or "0", an ADDED event
    /// per matching object first; then every change after it, in order. An
    /// object that stops (or starts) matching the selectors is reported as
    /// DELETED (or ADDED), as Kubernetes does.
    ///
    /// The stream is polled by whoever serves it (no task or channel of its
    /// own per watcher): a client that goes away drops it, and with it the
    /// store watch.
    pub async fn watch(
        &self,
        info: &ResourceInfo,
        namespace: &str,
        label_selector: &str,
        field_selector: &str,
        resource_version: &str,
    ) -> Result<WatchEvents> {
        let filter = Filter::new(info, label_selector, field_selector)?;
        let prefix = info.namespace_prefix(namespace);
        // Every watch of a resource shares one store watch over the whole
        // collection; a namespace is a filter on keys.
        let collection = info.key_prefix();
        let mut initial = Vec::new();
        let from = match resource_version {
            "" | "0" => {
                let list = self.list_raw(info, namespace, label_selector, field_selector, 0, "").await?;
                initial.extend(list.items.into_iter().map(|object| {
                    Ok(WatchEvent {
                        kind: "ADDED",
                        json: object.json.into(),
                        resource_version: object.resource_version,
                    })
                }));
                list.resource_version
            }
            rv => parse_resource_version(rv)?.unwrap_or(0),
        };
        let events = self.store.watch(&collection, from).await.map_err(storage_error)?;
        let live = events.filter_map(move |item| {
            let out = match item {
                Ok(ev) if !ev.key.starts_with(&prefix) => None,
                Ok(ev) => translate(ev, &filter).transpose(),
                Err(e) => Some(Err(storage_error(e))),
            };
            std::future::ready(out)
        });
        // Nothing follows an error: the client must start again.
        let stream = futures::stream::iter(initial).chain(live).scan(false, |failed, item| {
            let next = (!*failed).then(|| {
                *failed = item.is_err();
                item
            });
            std::future::ready(next)
        });
        Ok(stream.boxed())
    }
}

/// Turns a storage event into the watch event a client with `filter` should see, if any.
fn translate(ev: StoreEvent, filter: &Filter) -> Result<Option<WatchEvent>> {
    let now = filter.matches_raw(&ev.value)?;
    let kind = match ev.kind {
        EventKind::Delete => now.then_some("DELETED"),
        EventKind::Put => {
            let before = match &ev.prev_value {
                Some(prev) => Some(filter.matches_raw(prev)?),
                None => None,
            };
            match (before, now) {
                (None, true) | (Some(false), true) => Some("ADDED"),
                (Some(true), true) => Some("MODIFIED"),
                (Some(true), false) => Some("DELETED"),
                _ => None,
            }
        }
    };
    Ok(kind.map(|kind| WatchEvent { kind, json: ev.value, resource_version: ev.revision }))
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

fn finalizers(obj: &Value) -> Vec<&str> {
    obj["metadata"]["finalizers"].as_array().map(|a| a.iter().filter_map(Value::as_str).collect()).unwrap_or_default()
}

/// The finalizer that asks the garbage collector for a propagation policy, if any.
fn propagation_finalizer(policy: &str) -> Result<Option<&'static str>> {
    match policy {
        "" | "Background" => Ok(None),
        "Orphan" => Ok(Some("orphan")),
        "Foreground" => Ok(Some("foregroundDeletion")),
        other => Err(ApiError::invalid(
            "DeleteOptions",
            "",
            vec![FieldError::not_supported(
                "propagationPolicy",
                format!("{other:?}"),
                &["Foreground", "Background", "Orphan"],
            )],
        )),
    }
}

fn check_preconditions(info: &ResourceInfo, obj: &Value, opts: &DeleteOptions) -> Result<()> {
    let failed = |what: &str, wanted: &str, actual: &str| {
        Err(ApiError::new(
            Reason::Conflict,
            format!(
                "Operation cannot be fulfilled on {} \"{}\": Precondition failed: {what} in precondition: {wanted}, {what} in object meta: {actual}",
                info.group_resource(),
                meta::name(obj)
            ),
        ))
    };
    if !opts.precondition_uid.is_empty() && opts.precondition_uid != meta::uid(obj) {
        return failed("UID", &opts.precondition_uid, meta::uid(obj));
    }
    if !opts.precondition_resource_version.is_empty()
        && opts.precondition_resource_version != meta::resource_version(obj)
    {
        return failed("ResourceVersion", &opts.precondition_resource_version, meta::resource_version(obj));
    }
    Ok(())
}

/// A pod on a node is deleted gracefully: the kubelet stops it and then removes
/// it. A pod no node runs, or a grace period of 0, goes at once.
fn pod_grace_period(pod: &Value, opts: &DeleteOptions) -> Option<i64> {
    let scheduled = pod["spec"]["nodeName"].as_str().is_some_and(|n| !n.is_empty());
    let finished = matches!(pod["status"]["phase"].as_str(), Some("Succeeded" | "Failed"));
    let grace = opts
        .grace_period_seconds
        .filter(|g| *g >= 0)
        .unwrap_or_else(|| pod["spec"]["terminationGracePeriodSeconds"].as_i64().unwrap_or(30));
    if !finalizers(pod).is_empty() {
        return Some(grace.max(0));
    }
    (scheduled && !finished && grace > 0).then_some(grace)
}

/// Sets a pod condition (`PodScheduled`, `Ready`, ...) with a fresh transition time.
fn set_condition(pod: &mut Value, kind: &str, status: &str) {
    let now = meta::now_rfc3339();
    let cond = json!({"type": kind, "status": status, "lastProbeTime": null, "lastTransitionTime": now});
    let conds = pod["status"]["conditions"].as_array().cloned().unwrap_or_default();
    let mut conds: Vec<Value> = conds.into_iter().filter(|c| c["type"] != kind).collect();
    conds.push(cond);
    pod["status"]["conditions"] = Value::Array(conds);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::mem::MemStore;
    use api::registry::lookup;

    async fn registry() -> Registry {
        let reg = Registry::new(Arc::new(MemStore::new()));
        reg.bootstrap().await.unwrap();
        reg
    }

    fn pods() -> &'static ResourceInfo {
        lookup("pods").unwrap()
    }

    fn pod_json(name: &str, labels: Value) -> Vec<u8> {
        serde_json::to_vec(&json!({"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "labels": labels},
            "spec": {"containers": [{"name": "c", "image": "busybox"}]}}))
        .unwrap()
    }

    #[test]
    fn selectors_on_stored_bytes_decide_as_on_the_whole_object() {
        let objects = [
            json!({"metadata": {"name": "a", "namespace": "ns", "labels": {"app": "web", "env": "prod"}},
                   "spec": {"nodeName": "node-1", "restartPolicy": "Always"}, "status": {"phase": "Running"}}),
            json!({"metadata": {"name": "b", "namespace": "ns", "labels": {"app": "db"}},
                   "spec": {"nodeName": ""}, "status": {"phase": "Pending", "podIPs": [{"ip": "10.0.0.1"}]}}),
            json!({"metadata": {"name": "c\"q", "namespace": "other"}, "spec": null}),
            json!({"metadata": {"name": "d", "namespace": "ns", "labels": {"app": "web"}}, "spec": "odd"}),
        ];
        let selectors = [
            ("", "spec.nodeName!="),
            ("", "spec.nodeName=node-1,status.phase=Running"),
            ("app=web", ""),
            ("app in (web,db),!env", "metadata.namespace=ns"),
            ("env", "metadata.name=c\"q"),
            ("", "status.podIPs!="),
            ("", "metadata.name=d,spec.restartPolicy="),
        ];
        for (labels, fields) in selectors {
            let filter = Filter::new(pods(), labels, fields).unwrap();
            for obj in &objects {
                let json = serde_json::to_vec(obj).unwrap();
                assert_eq!(
                    filter.matches_raw(&json).unwrap(),
                    filter.matches(obj),
                    "labels {labels:?}, fields {fields:?} on {obj}"
                );
            }
        }
    }

    #[test]
    fn decoding_a_path_leaves_the_rest_of_the_object_out() {
        let json =
            br#"{"kind":"Pod","metadata":{"name":"a","labels":{"x":"1"}},"spec":{"nodeName":"n","containers":[{}]}}"#;
        let paths = vec![vec!["metadata".to_string(), "labels".to_string()], vec!["spec".into(), "nodeName".into()]];
        assert_eq!(
            decode_paths(json, &paths).unwrap(),
            json!({"metadata": {"labels": {"x": "1"}}, "spec": {"nodeName": "n"}})
        );
        assert!(decode_paths(b"{not json", &paths).is_err());
    }

    #[tokio::test]
    async fn create_stamps_server_fields_and_refuses_duplicates() {
        let reg = registry().await;
        let pod = reg.create(pods(), "default", &pod_json("a", json!({})), false).await.unwrap();
        assert_eq!(meta::namespace(&pod), "default");
        assert!(!meta::uid(&pod).is_empty());
        assert!(meta::resource_version(&pod).parse::<i64>().unwrap() > 0);
        assert_eq!(pod["spec"]["restartPolicy"], "Always", "defaults are applied");
        let err = reg.create(pods(), "default", &pod_json("a", json!({})), false).await.unwrap_err();
        assert_eq!(err.to_string(), r#"pods "a" already exists"#);
    }

    #[tokio::test]
    async fn generate_name_adds_five_characters() {
        let reg = registry().await;
        let body =
            serde_json::to_vec(&json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"generateName": "kubia-"},
            "spec": {"containers": [{"name": "c", "image": "busybox"}]}}))
            .unwrap();
        let pod = reg.create(pods(), "default", &body, false).await.unwrap();
        assert!(meta::name(&pod).starts_with("kubia-") && meta::name(&pod).len() == 11, "{}", meta::name(&pod));
    }

    /// Events expire an `--event-ttl` after their last write, as kube-apiserver
    /// stores them under an etcd lease; other kinds never expire.
    #[tokio::test(start_paused = true)]
    async fn events_expire_after_the_event_ttl_from_their_last_write() {
        let reg = Registry::new(Arc::new(MemStore::new())).with_event_ttl(Duration::from_secs(60));
        reg.bootstrap().await.unwrap();
        let events = lookup("events").unwrap();
        let event = |count: i64| {
            serde_json::to_vec(&json!({"apiVersion": "v1", "kind": "Event",
                "metadata": {"name": "kubia.1", "namespace": "default"},
                "involvedObject": {"kind": "Pod", "name": "kubia", "namespace": "default"},
                "reason": "Started", "message": "Started container", "type": "Normal", "count": count}))
            .unwrap()
        };
        reg.create(events, "default", &event(1), false).await.unwrap();
        reg.create(pods(), "default", &pod_json("kubia", json!({})), false).await.unwrap();
        tokio::time::sleep(Duration::from_secs(45)).await;
        // Seen again: the update starts the TTL anew.
        reg.update(events, "default", "kubia.1", &event(2), "", false).await.unwrap();
        tokio::time::sleep(Duration::from_secs(45)).await;
        assert!(reg.get(events, "default", "kubia.1").await.is_ok(), "expired 45 s after its last write");
        tokio::time::sleep(Duration::from_secs(20)).await;
        let gone = reg.get(events, "default", "kubia.1").await.unwrap_err();
        assert_eq!(gone.reason, Reason::NotFound);
        assert!(reg.get(pods(), "default", "kubia").await.is_ok(), "a pod expired");
    }

    #[tokio::test]
    async fn bad_input_changes_nothing() {
        let reg = registry().await;
        let missing_ns = reg.create(pods(), "nope", &pod_json("a", json!({})), false).await.unwrap_err();
        assert_eq!(missing_ns.to_string(), r#"namespaces "nope" not found"#);
        let bad_label = reg.create(pods(), "default", &pod_json("a", json!({"-bad": "x"})), false).await.unwrap_err();
        assert!(bad_label.is_invalid(), "{bad_label}");
        let not_json = reg.create(pods(), "default", b"{nope", false).await.unwrap_err();
        assert_eq!(not_json.reason, Reason::BadRequest);
        let huge = "x".repeat(MAX_OBJECT_BYTES);
        let too_big = reg.create(pods(), "default", &pod_json("a", json!({"a": huge})), false).await.unwrap_err();
        assert_eq!(too_big.reason, Reason::RequestEntityTooLarge);
        let list = reg.list(pods(), "", "", "", 0, "").await.unwrap();
        assert_eq!(list["items"], json!([]));
    }

    #[tokio::test]
    async fn stale_updates_conflict_and_status_is_separate() {
        let reg = registry().await;
        let pod = reg.create(pods(), "default", &pod_json("a", json!({})), false).await.unwrap();
        let mut labelled = pod.clone();
        labelled["metadata"]["labels"] = json!({"x": "1"});
        labelled["status"]["phase"] = "Running".into();
        let updated =
            reg.update(pods(), "default", "a", &serde_json::to_vec(&labelled).unwrap(), "", false).await.unwrap();
        assert_eq!(updated["status"]["phase"], "Pending", "status changes only through the status subresource");
        let stale = reg.update(pods(), "default", "a", &serde_json::to_vec(&labelled).unwrap(), "", false).await;
        assert!(stale.unwrap_err().is_conflict());
        let mut status = updated.clone();
        status["status"]["phase"] = "Running".into();
        let s =
            reg.update(pods(), "default", "a", &serde_json::to_vec(&status).unwrap(), "status", false).await.unwrap();
        assert_eq!(s["status"]["phase"], "Running");
        assert_eq!(s["metadata"]["labels"], json!({"x": "1"}));
    }

    #[tokio::test]
    async fn patches_retry_and_keep_identity() {
        let reg = registry().await;
        reg.create(pods(), "default", &pod_json("a", json!({"a": "1"})), false).await.unwrap();
        let patch = serde_json::to_vec(&json!({"metadata": {"labels": {"a": null, "b": "2"}}})).unwrap();
        let out = reg.patch(pods(), "default", "a", PatchType::Merge, &patch, "", false).await.unwrap();
        assert_eq!(out["metadata"]["labels"], json!({"b": "2"}));
        let rename = serde_json::to_vec(&json!({"metadata": {"name": "b"}})).unwrap();
        assert!(reg.patch(pods(), "default", "a", PatchType::Merge, &rename, "", false).await.is_err());
    }

    #[tokio::test]
    async fn pods_on_nodes_are_deleted_gracefully() {
        let reg = registry().await;
        reg.create(pods(), "default", &pod_json("pending", json!({})), false).await.unwrap();
        reg.delete(pods(), "default", "pending", &DeleteOptions::default()).await.unwrap();
        assert!(reg.get(pods(), "default", "pending").await.unwrap_err().is_not_found());

        reg.create(pods(), "default", &pod_json("bound", json!({})), false).await.unwrap();
        let binding = serde_json::to_vec(&json!({"target": {"kind": "Node", "name": "n1"}})).unwrap();
        reg.bind("default", "bound", &binding).await.unwrap();
        let again = reg.bind("default", "bound", &binding).await.unwrap_err();
        assert!(again.message.contains("is already assigned to node \"n1\""), "{}", again.message);
        let marked = reg.delete(pods(), "default", "bound", &DeleteOptions::default()).await.unwrap();
        assert_eq!(marked["metadata"]["deletionGracePeriodSeconds"], 30);
        assert!(meta::deletion_timestamp(&marked).is_some());
        // The kubelet finishes it with grace period 0.
        let now = DeleteOptions { grace_period_seconds: Some(0), ..Default::default() };
        reg.delete(pods(), "default", "bound", &now).await.unwrap();
        assert!(reg.get(pods(), "default", "bound").await.unwrap_err().is_not_found());
    }

    #[tokio::test]
    async fn watch_reports_objects_leaving_a_selector_as_deleted() {
        let reg = registry().await;
        let created = reg.create(pods(), "default", &pod_json("a", json!({"app": "x"})), false).await.unwrap();
        let mut rx = reg.watch(pods(), "default", "app=x", "", "").await.unwrap();
        let first = rx.next().await.unwrap().unwrap();
        assert_eq!((first.kind, meta::name(&first.decode().unwrap())), ("ADDED", "a"));
        let mut moved = created.clone();
        moved["metadata"]["labels"] = json!({"app": "y"});
        reg.update(pods(), "default", "a", &serde_json::to_vec(&moved).unwrap(), "", false).await.unwrap();
        let left = rx.next().await.unwrap().unwrap();
        assert_eq!(left.kind, "DELETED");
        // Another namespace's pods are not seen.
        reg.create(pods(), "kube-system", &pod_json("other", json!({"app": "x"})), false).await.unwrap();
        reg.create(pods(), "default", &pod_json("b", json!({"app": "x"})), false).await.unwrap();
        let next = rx.next().await.unwrap().unwrap();
        let obj = next.decode().unwrap();
        assert_eq!((next.kind, meta::name(&obj)), ("ADDED", "b"));
        assert_eq!(meta::resource_version(&obj), next.resource_version.to_string());
    }

    #[tokio::test]
    async fn a_watch_whose_client_left_releases_its_store_watch() {
        let mem = Arc::new(MemStore::new());
        let reg = Registry::new(mem.clone());
        reg.bootstrap().await.unwrap();
        let rx = reg.watch(pods(), "default", "", "", "").await.unwrap();
        assert_eq!(mem.watcher_count(), 1);
        drop(rx);
        for _ in 0..100 {
            if mem.watcher_count() == 0 {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        panic!("the watch outlived its client with no event to notice it by");
    }

    #[tokio::test]
    async fn lists_page_with_limit_and_continue() {
        let reg = registry().await;
        for i in 0..5 {
            reg.create(pods(), "default", &pod_json(&format!("p{i}"), json!({})), false).await.unwrap();
        }
        let first = reg.list(pods(), "default", "", "", 2, "").await.unwrap();
        assert_eq!(first["items"].as_array().unwrap().len(), 2);
        let token = first["metadata"]["continue"].as_str().unwrap().to_string();
        let rest = reg.list(pods(), "default", "", "", 0, &token).await.unwrap();
        let names: Vec<&str> = rest["items"].as_array().unwrap().iter().map(meta::name).collect();
        assert_eq!(names, ["p2", "p3", "p4"]);
    }

    #[tokio::test]
    async fn namespace_deletion_empties_then_removes_it() {
        let reg = registry().await;
        let ns = lookup("ns").unwrap();
        let body = serde_json::to_vec(&json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team"}}))
            .unwrap();
        reg.create(ns, "", &body, false).await.unwrap();
        reg.create(pods(), "team", &pod_json("a", json!({})), false).await.unwrap();
        let marked = reg.delete(ns, "", "team", &DeleteOptions::default()).await.unwrap();
        assert_eq!(marked["status"]["phase"], "Terminating");
        let refused = reg.create(pods(), "team", &pod_json("b", json!({})), false).await.unwrap_err();
        assert_eq!(refused.reason, Reason::Forbidden);
        // The namespace controller empties it, then drops the `kubernetes` finalizer.
        reg.delete(pods(), "team", "a", &DeleteOptions::default()).await.unwrap();
        let labelled = serde_json::to_vec(&json!({"metadata": {"labels": {"x": "y"}}})).unwrap();
        reg.patch(ns, "", "team", PatchType::Merge, &labelled, "", false).await.unwrap();
        assert!(reg.get(ns, "", "team").await.is_ok(), "still waiting for its spec finalizer");
        let finalize = serde_json::to_vec(&json!({"spec": {"finalizers": []}})).unwrap();
        reg.patch(ns, "", "team", PatchType::Merge, &finalize, "", false).await.unwrap();
        assert!(reg.get(ns, "", "team").await.unwrap_err().is_not_found());
        assert!(reg.delete(ns, "", "default", &DeleteOptions::default()).await.is_err());
    }

    #[tokio::test]
    async fn orphan_and_foreground_deletion_wait_for_the_garbage_collector() {
        let reg = registry().await;
        let rc = lookup("rc").unwrap();
        let body = serde_json::to_vec(&json!({"apiVersion": "v1", "kind": "ReplicationController",
            "metadata": {"name": "r"}, "spec": {"replicas": 1, "selector": {"app": "a"},
            "template": {"metadata": {"labels": {"app": "a"}}, "spec": {"containers": [{"name": "c", "image": "i"}]}}}}))
        .unwrap();
        reg.create(rc, "default", &body, false).await.unwrap();
        let orphan = DeleteOptions { propagation_policy: "Orphan".into(), ..Default::default() };
        let marked = reg.delete(rc, "default", "r", &orphan).await.unwrap();
        assert_eq!(marked["metadata"]["finalizers"], json!(["orphan"]));
        assert!(meta::deletion_timestamp(&marked).is_some());
        // The collector removes its finalizer once done; then the object goes.
        let patch = serde_json::to_vec(&json!({"metadata": {"finalizers": null}})).unwrap();
        reg.patch(rc, "default", "r", PatchType::Merge, &patch, "", false).await.unwrap();
        assert!(reg.get(rc, "default", "r").await.unwrap_err().is_not_found());
        let bad = DeleteOptions { propagation_policy: "Sideways".into(), ..Default::default() };
        assert!(reg.delete(rc, "default", "x", &bad).await.unwrap_err().is_invalid());
    }
}
