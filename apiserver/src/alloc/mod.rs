//! Service ClusterIP and NodePort allocation, as the Kubernetes apiserver does
//! it in its service REST storage (`alloc.go`), over any [`Store`].
//!
//! Every allocated IP and port is its own key, created with create-if-absent:
//! `/registry/ranges/serviceips/<ip>` and `/registry/ranges/servicenodeports/<port>`,
//! whose value names the owning service (namespace, name, uid). The store makes
//! a double allocation impossible, whether two creates race in one apiserver or
//! in several, and the allocations survive restarts. Each range also has an
//! in-memory [`range::Pool`], only a hint for picking candidates.
//!
//! A write allocates before it stores the service, and gives back what it took
//! if the write fails ([`Allocation::revert`]); what the old object held and the
//! new one does not is released only after the write succeeded
//! ([`Allocation::commit`]). A crash between the two leaves a key without a
//! holder, which [`ServiceAllocator::repair`] removes (after a grace period, so
//! it never takes a key from a create still in flight), re-creating keys that
//! existing services miss.

pub mod bootstrap;
pub mod range;

use crate::store::{Store, StoreError};
use api::validation::go_string_slice;
use api::{ApiError, FieldError, Reason};
use k8s_openapi::api::core::v1::{Service, ServiceSpec};
use range::{IpRange, Pool, PortRange};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::collections::{BTreeSet, HashMap};
use std::net::{IpAddr, Ipv4Addr};
use std::sync::{Arc, LazyLock, Mutex};
use std::time::Duration;

/// Where service IP allocations are kept, one key per address.
pub const IP_PREFIX: &str = "/registry/ranges/serviceips/";
/// Where node port allocations are kept, one key per port.
pub const PORT_PREFIX: &str = "/registry/ranges/servicenodeports/";
/// Where services are stored (`ResourceInfo::key_prefix` of services).
const SERVICES_PREFIX: &str = "/registry/services/specs/";

/// How long a key without a holder is left alone by the repair pass: a create
/// or update in flight has taken it and not yet written its service.
pub const REPAIR_GRACE: Duration = Duration::from_secs(60);
/// How often the apiserver repairs allocations (Kubernetes: every 3 minutes).
pub const REPAIR_INTERVAL: Duration = Duration::from_secs(180);

/// The apiserver's service settings (from its flags).
#[derive(Debug, Clone)]
pub struct ServiceConfig {
    pub cluster_ip_range: IpRange,
    pub node_port_range: PortRange,
    /// The address the `kubernetes` Endpoints point at.
    pub advertise_address: IpAddr,
    /// The port the apiserver serves on: the `kubernetes` service's targetPort.
    pub port: u16,
}

impl Default for ServiceConfig {
    fn default() -> Self {
        Self {
            cluster_ip_range: IpRange::parse("10.96.0.0/12").expect("valid default range"),
            node_port_range: PortRange::parse("30000-32767").expect("valid default range"),
            advertise_address: IpAddr::V4(Ipv4Addr::LOCALHOST),
            port: 6443,
        }
    }
}

/// The value of an allocation key: who holds it, and since when (unix seconds).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Owner {
    pub namespace: String,
    pub name: String,
    pub uid: String,
    #[serde(default, rename = "allocatedAt")]
    pub allocated_at: i64,
}

impl Owner {
    fn of(svc: &Service) -> Self {
        let meta = &svc.metadata;
        Self {
            namespace: meta.namespace.clone().unwrap_or_default(),
            name: name(svc).to_string(),
            uid: meta.uid.clone().unwrap_or_default(),
            allocated_at: jiff::Timestamp::now().as_second(),
        }
    }
    fn parse(bytes: &[u8]) -> Option<Self> {
        serde_json::from_slice(bytes).ok()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Res {
    Ip,
    Port,
}

/// Why one IP or port could not be had.
#[derive(Debug)]
enum AllocError {
    Allocated,
    NotInRange,
    Full,
    Store(StoreError),
}

/// The IPs and ports a service object holds.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Held {
    pub ips: BTreeSet<Ipv4Addr>,
    pub ports: BTreeSet<u16>,
}

impl Held {
    pub fn of(svc: &Service) -> Self {
        let spec = spec(svc);
        let mut held = Held::default();
        if needs_cluster_ip(spec) {
            let ips = spec.cluster_ips.iter().flatten().chain(&spec.cluster_ip);
            held.ips.extend(ips.filter_map(|ip| ip.parse::<Ipv4Addr>().ok()));
        }
        let node_ports = spec.ports.iter().flatten().map(|p| p.node_port);
        for port in node_ports.chain([spec.health_check_node_port]) {
            if let Some(port) = port.and_then(|n| u16::try_from(n).ok()).filter(|n| *n != 0) {
                held.ports.insert(port);
            }
        }
        held
    }

    fn keys(&self) -> Vec<String> {
        let ips = self.ips.iter().map(|ip| format!("{IP_PREFIX}{ip}"));
        ips.chain(self.ports.iter().map(|p| format!("{PORT_PREFIX}{p}"))).collect()
    }
}

/// What one write took and what it gives up once it succeeds.
#[derive(Debug, Default)]
#[must_use = "an allocation must be committed or reverted"]
pub struct Allocation {
    uid: String,
    taken: Vec<String>,
    release: Vec<String>,
}

impl Allocation {
    /// The write succeeded: free what the old object held and the new does not.
    pub async fn commit(self, alloc: &ServiceAllocator) {
        for key in &self.release {
            alloc.release_key(key, &self.uid).await;
        }
    }

    /// The write failed: give back what was taken for it.
    pub async fn revert(self, alloc: &ServiceAllocator) {
        for key in &self.taken {
            alloc.release_key(key, &self.uid).await;
        }
    }

    /// The object was removed: free everything, old and new.
    pub async fn release_all(self, alloc: &ServiceAllocator) {
        for key in self.taken.iter().chain(&self.release) {
            alloc.release_key(key, &self.uid).await;
        }
    }
}

/// What a repair pass changed.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct RepairReport {
    /// Keys removed because no service holds them.
    pub released: usize,
    /// Keys re-created for services that hold an IP or port without one.
    pub restored: usize,
    /// IPs or ports held by more than one service.
    pub conflicts: usize,
}

/// Allocates service IPs and node ports (see the module header).
pub struct ServiceAllocator {
    store: Arc<dyn Store>,
    config: ServiceConfig,
    ips: Mutex<Pool>,
    ports: Mutex<Pool>,
}

impl ServiceAllocator {
    pub fn new(store: Arc<dyn Store>, config: ServiceConfig) -> Self {
        let ips = Mutex::new(config.cluster_ip_range.pool());
        let ports = Mutex::new(config.node_port_range.pool());
        Self { store, config, ips, ports }
    }

    pub fn config(&self) -> &ServiceConfig {
        &self.config
    }

    fn pool(&self, res: Res) -> std::sync::MutexGuard<'_, Pool> {
        match res {
            Res::Ip => self.ips.lock().expect("ip pool lock"),
            Res::Port => self.ports.lock().expect("port pool lock"),
        }
    }

    fn key(&self, res: Res, offset: u32) -> String {
        match res {
            Res::Ip => format!("{IP_PREFIX}{}", self.config.cluster_ip_range.ip(offset)),
            Res::Port => format!("{PORT_PREFIX}{}", self.config.node_port_range.port(offset)),
        }
    }

    /// The range offset an allocation key stands for, if it is in range.
    fn offset_of_key(&self, key: &str) -> Option<(Res, u32)> {
        if let Some(ip) = key.strip_prefix(IP_PREFIX) {
            return Some((Res::Ip, self.config.cluster_ip_range.offset(ip.parse().ok()?)?));
        }
        let port = key.strip_prefix(PORT_PREFIX)?.parse().ok()?;
        Some((Res::Port, self.config.node_port_range.offset(port)?))
    }

    /// Re-reads one range's keys into its pool.
    async fn reload(&self, res: Res) -> Result<(), StoreError> {
        let prefix = if res == Res::Ip { IP_PREFIX } else { PORT_PREFIX };
        let (kvs, _) = self.store.list(prefix).await?;
        let offsets: Vec<u32> = kvs.iter().filter_map(|kv| self.offset_of_key(&kv.key)).map(|(_, i)| i).collect();
        let mut pool = self.pool(res);
        pool.clear();
        for i in offsets {
            pool.mark(i);
        }
        Ok(())
    }

    /// Deletes an allocation key if `uid` still holds it.
    async fn release_key(&self, key: &str, uid: &str) {
        let result = match self.store.get(key).await {
            Ok(Some(kv)) if Owner::parse(&kv.value).is_some_and(|o| o.uid == uid) => {
                self.store.delete(key, Some(kv.mod_revision)).await.map(drop)
            }
            Ok(Some(_)) => return,
            Ok(None) => Ok(()),
            Err(e) => Err(e),
        };
        match result {
            Ok(()) | Err(StoreError::NotFound | StoreError::Conflict { .. }) => {
                if let Some((res, i)) = self.offset_of_key(key) {
                    self.pool(res).unmark(i);
                }
            }
            // Left for the repair pass.
            Err(e) => tracing::warn!(key, error = %e, "releasing a service allocation"),
        }
    }

    /// Allocates what a new service needs: cluster IPs (unless headless or
    /// ExternalName), node ports for NodePort and LoadBalancer ports, a health
    /// check node port for LoadBalancers with `externalTrafficPolicy: Local`.
    /// Fills the fields in; on error nothing stays taken.
    pub async fn allocate_create(&self, svc: &mut Service, dry_run: bool) -> Result<Allocation, ApiError> {
        if !needs_cluster_ip(spec(svc)) {
            return Ok(Allocation::default());
        }
        init_ip_families(svc, None)?;
        let mut op = Op::new(self, svc, dry_run);
        let filled = async {
            self.alloc_cluster_ips(&mut op, svc).await?;
            if needs_node_ports(spec(svc)) {
                self.init_node_ports(&mut op, svc).await?;
            }
            if needs_health_check(spec(svc)) {
                self.alloc_health_check(&mut op, svc).await?;
            }
            Ok(())
        }
        .await;
        op.finish(filled, Vec::new()).await
    }

    /// Allocates what an updated service needs that the stored one did not
    /// have (a type change to NodePort allocates node ports; from
    /// ExternalName, cluster IPs) and notes what the old one held that the new
    /// one gives up, to free on commit.
    pub async fn allocate_update(
        &self,
        new: &mut Service,
        old: &Service,
        dry_run: bool,
    ) -> Result<Allocation, ApiError> {
        if needs_cluster_ip(spec(new)) {
            init_ip_families(new, Some(old))?;
        }
        let mut op = Op::new(self, new, dry_run);
        let filled = async {
            if !needs_cluster_ip(spec(old)) && needs_cluster_ip(spec(new)) {
                self.alloc_cluster_ips(&mut op, new).await?;
            }
            if needs_node_ports(spec(new)) {
                self.update_node_ports(&mut op, new, old).await?;
            }
            match (needs_health_check(spec(old)), needs_health_check(spec(new))) {
                (false, true) => self.alloc_health_check(&mut op, new).await?,
                (true, true) if spec(new).health_check_node_port != spec(old).health_check_node_port => {
                    let v = spec(new).health_check_node_port.unwrap_or(0);
                    return Err(ApiError::invalid(
                        "Service",
                        name(new),
                        vec![FieldError::invalid(
                            "spec.healthCheckNodePort",
                            v.to_string(),
                            "cannot change healthCheckNodePort on loadBalancer service with externalTraffic=Local during update",
                        )],
                    ));
                }
                _ => {}
            }
            Ok(())
        }
        .await;
        let (before, after) = (Held::of(old), Held::of(new));
        let gone = Held {
            ips: before.ips.difference(&after.ips).copied().collect(),
            ports: before.ports.difference(&after.ports).copied().collect(),
        };
        op.finish(filled, gone.keys()).await
    }

    /// Frees everything a removed service held.
    pub async fn release(&self, svc: &Service) {
        let uid = svc.metadata.uid.as_deref().unwrap_or("");
        for key in Held::of(svc).keys() {
            self.release_key(&key, uid).await;
        }
    }

    async fn alloc_cluster_ips(&self, op: &mut Op<'_>, svc: &mut Service) -> Result<(), ApiError> {
        let requested = spec(svc).cluster_ips.iter().flatten().next().cloned().unwrap_or_default();
        if requested == "None" {
            return Ok(());
        }
        let ip = if requested.is_empty() {
            match op.claim_next(Res::Ip).await {
                Ok(i) => self.config.cluster_ip_range.ip(i),
                Err(AllocError::Full) => {
                    return Err(ApiError::internal("failed to allocate a serviceIP: range is full"))
                }
                Err(e) => return Err(op.other_error(e)),
            }
        } else {
            let fail = |why: String| {
                ApiError::invalid(
                    "Service",
                    name(svc),
                    vec![FieldError::invalid(
                        "spec.clusterIPs",
                        go_string_slice(&json!(spec(svc).cluster_ips)),
                        format!("failed to allocate IP {requested}: {why}"),
                    )],
                )
            };
            // Validation let only well-formed IPs through, and family checks IPv4 only.
            let ip: Ipv4Addr = requested.parse().map_err(|_| fail("not an IPv4 address".into()))?;
            let range = self.config.cluster_ip_range;
            let result = match range.offset(ip) {
                None => Err(AllocError::NotInRange),
                Some(i) => op.claim(Res::Ip, i).await,
            };
            match result {
                Ok(()) => ip,
                Err(AllocError::Allocated) => return Err(fail("provided IP is already allocated".into())),
                Err(AllocError::NotInRange) => {
                    return Err(fail(format!(
                        "the provided IP ({ip}) is not in the valid range. The range of valid IPs is {range}"
                    )))
                }
                Err(e) => return Err(op.other_error(e)),
            }
        };
        let spec = svc.spec.get_or_insert_default();
        spec.cluster_ip = Some(ip.to_string());
        spec.cluster_ips = Some(vec![ip.to_string()]);
        Ok(())
    }

    /// Claims a requested node port or picks one, with Kubernetes' errors.
    async fn node_port(&self, op: &mut Op<'_>, svc: &Service, index: usize, requested: i32) -> Result<i32, ApiError> {
        let range = self.config.node_port_range;
        if requested == 0 {
            return match op.claim_next(Res::Port).await {
                Ok(i) => Ok(i32::from(range.port(i))),
                Err(AllocError::Full) => Err(ApiError::internal("failed to allocate a nodePort: range is full")),
                Err(e) => Err(op.other_error(e)),
            };
        }
        let result = match range.offset(requested.into()) {
            None => Err(AllocError::NotInRange),
            Some(i) => op.claim(Res::Port, i).await,
        };
        let why = match result {
            Ok(()) => return Ok(requested),
            Err(AllocError::Allocated) => "provided port is already allocated".to_string(),
            Err(AllocError::NotInRange) => {
                format!("provided port is not in the valid range. The range of valid ports is {range}")
            }
            Err(e) => return Err(op.other_error(e)),
        };
        Err(ApiError::invalid(
            "Service",
            name(svc),
            vec![FieldError::invalid(format!("spec.ports[{index}].nodePort"), requested.to_string(), why)],
        ))
    }

    /// Kubernetes' `initNodePorts`: ports with the same number share one node
    /// port (53/UDP and 53/TCP), requested ones are honoured.
    async fn init_node_ports(&self, op: &mut Op<'_>, svc: &mut Service) -> Result<(), ApiError> {
        let allocate = should_allocate_node_ports(spec(svc));
        let ports = port_numbers(svc);
        let mut by_port: HashMap<i32, i32> = HashMap::new();
        for (i, &(port, node_port)) in ports.iter().enumerate() {
            if node_port == 0 && !allocate {
                continue;
            }
            let chosen = match by_port.get(&port).copied() {
                None => {
                    let requested = ports.iter().find(|(p, np)| *p == port && *np != 0).map(|(_, np)| *np).unwrap_or(0);
                    let np = self.node_port(op, svc, i, requested).await?;
                    by_port.insert(port, np);
                    np
                }
                Some(shared) if node_port == 0 || node_port == shared => shared,
                Some(_) => self.node_port(op, svc, i, node_port).await?,
            };
            set_node_port(svc, i, chosen);
        }
        Ok(())
    }

    /// Kubernetes' `updateNodePorts`: keeps node ports the old object held,
    /// claims new requested ones and picks the missing ones.
    async fn update_node_ports(&self, op: &mut Op<'_>, new: &mut Service, old: &Service) -> Result<(), ApiError> {
        let allocate = should_allocate_node_ports(spec(new));
        let old_ports: BTreeSet<i32> = port_numbers(old).into_iter().map(|(_, np)| np).filter(|n| *n != 0).collect();
        let mut claimed = BTreeSet::new();
        for (i, (_, node_port)) in port_numbers(new).into_iter().enumerate() {
            if node_port == 0 && !allocate {
                continue;
            }
            if node_port != 0 {
                if !old_ports.contains(&node_port) && claimed.insert(node_port) {
                    self.node_port(op, new, i, node_port).await?;
                }
            } else {
                let np = self.node_port(op, new, i, 0).await?;
                set_node_port(new, i, np);
            }
        }
        Ok(())
    }

    async fn alloc_health_check(&self, op: &mut Op<'_>, svc: &mut Service) -> Result<(), ApiError> {
        let range = self.config.node_port_range;
        let requested = spec(svc).health_check_node_port.unwrap_or(0);
        if requested != 0 {
            let result = match range.offset(requested.into()) {
                None => Err(AllocError::NotInRange),
                Some(i) => op.claim(Res::Port, i).await,
            };
            let why = match result {
                Ok(()) => return Ok(()),
                Err(AllocError::Allocated) => "provided port is already allocated".to_string(),
                Err(AllocError::NotInRange) => {
                    format!("provided port is not in the valid range. The range of valid ports is {range}")
                }
                Err(e) => return Err(op.other_error(e)),
            };
            return Err(ApiError::internal(format!(
                "failed to allocate requested HealthCheck NodePort {requested}: {why}"
            )));
        }
        match op.claim_next(Res::Port).await {
            Ok(i) => {
                svc.spec.get_or_insert_default().health_check_node_port = Some(range.port(i).into());
                Ok(())
            }
            Err(AllocError::Full) => {
                Err(ApiError::internal("failed to allocate a HealthCheck NodePort 0: range is full"))
            }
            Err(e) => Err(op.other_error(e)),
        }
    }

    /// Makes the allocation keys agree with the stored services: removes keys
    /// no service holds (older than `grace`), re-creates keys services hold
    /// but miss, and reloads the in-memory pools.
    pub async fn repair(&self, grace: Duration) -> Result<RepairReport, StoreError> {
        let mut report = RepairReport::default();
        let (services, _) = self.store.list(SERVICES_PREFIX).await?;
        let mut holders: HashMap<(String, String), (String, Vec<String>)> = HashMap::new();
        let mut wanted: Vec<(String, Owner)> = Vec::new();
        for kv in &services {
            let svc = match serde_json::from_slice::<Service>(&kv.value) {
                Ok(svc) => svc,
                // Only validated services are stored; this one's keys look free.
                Err(e) => {
                    tracing::warn!(key = %kv.key, error = %e, "a stored service does not decode");
                    continue;
                }
            };
            let mut owner = Owner::of(&svc);
            owner.allocated_at = jiff::Timestamp::now().as_second();
            let keys = Held::of(&svc).keys();
            wanted.extend(keys.iter().map(|k| (k.clone(), owner.clone())));
            holders.insert((owner.namespace.clone(), owner.name.clone()), (owner.uid.clone(), keys));
        }
        let now = jiff::Timestamp::now().as_second();
        let mut existing: HashMap<String, String> = HashMap::new();
        for prefix in [IP_PREFIX, PORT_PREFIX] {
            let (kvs, _) = self.store.list(prefix).await?;
            for kv in kvs {
                let owner = Owner::parse(&kv.value);
                let held = owner.as_ref().is_some_and(|o| {
                    holders
                        .get(&(o.namespace.clone(), o.name.clone()))
                        .is_some_and(|(uid, keys)| *uid == o.uid && keys.contains(&kv.key))
                });
                let young = owner.as_ref().is_some_and(|o| now - o.allocated_at < grace.as_secs() as i64);
                if held || young {
                    existing.insert(kv.key, owner.map(|o| o.uid).unwrap_or_default());
                    continue;
                }
                match self.store.delete(&kv.key, Some(kv.mod_revision)).await {
                    Ok(_) => {
                        tracing::info!(key = %kv.key, "released a service allocation no service holds");
                        report.released += 1;
                    }
                    Err(StoreError::NotFound | StoreError::Conflict { .. }) => {}
                    Err(e) => return Err(e),
                }
            }
        }
        for (key, owner) in wanted {
            match existing.get(&key) {
                Some(uid) if *uid == owner.uid => continue,
                Some(_) => {
                    tracing::warn!(key, service = %format!("{}/{}", owner.namespace, owner.name),
                        "an IP or node port is held by more than one service; recreate one of them");
                    report.conflicts += 1;
                    continue;
                }
                None => {}
            }
            if self.offset_of_key(&key).is_none() {
                tracing::warn!(key, service = %format!("{}/{}", owner.namespace, owner.name),
                    "a service holds an IP or node port outside the configured range; recreate it");
                continue;
            }
            let value = serde_json::to_vec(&owner).expect("owner encodes");
            match self.store.create(&key, value).await {
                Ok(_) => {
                    report.restored += 1;
                    existing.insert(key, owner.uid);
                }
                Err(StoreError::AlreadyExists) => report.conflicts += 1,
                Err(e) => return Err(e),
            }
        }
        self.reload(Res::Ip).await?;
        self.reload(Res::Port).await?;
        Ok(report)
    }
}

/// One allocating write: what it took so far.
struct Op<'a> {
    alloc: &'a ServiceAllocator,
    owner: Owner,
    dry_run: bool,
    taken: Vec<String>,
}

impl<'a> Op<'a> {
    fn new(alloc: &'a ServiceAllocator, svc: &Service, dry_run: bool) -> Self {
        Self { alloc, owner: Owner::of(svc), dry_run, taken: Vec::new() }
    }

    fn other_error(&self, e: AllocError) -> ApiError {
        match e {
            AllocError::Store(StoreError::Unavailable(msg)) => ApiError::new(Reason::ServiceUnavailable, msg),
            AllocError::Store(e) => ApiError::internal(e),
            other => ApiError::internal(format!("{other:?}")),
        }
    }

    /// Takes one specific IP or port.
    async fn claim(&mut self, res: Res, offset: u32) -> Result<(), AllocError> {
        let key = self.alloc.key(res, offset);
        let store = &self.alloc.store;
        if self.dry_run {
            return match store.get(&key).await.map_err(AllocError::Store)? {
                Some(kv) if Owner::parse(&kv.value).is_none_or(|o| o.uid != self.owner.uid) => {
                    Err(AllocError::Allocated)
                }
                _ => Ok(()),
            };
        }
        let value = serde_json::to_vec(&self.owner).expect("owner encodes");
        match store.create(&key, value).await {
            Ok(_) => {
                self.alloc.pool(res).mark(offset);
                self.taken.push(key);
                Ok(())
            }
            Err(StoreError::AlreadyExists) => {
                self.alloc.pool(res).mark(offset);
                let current = store.get(&key).await.map_err(AllocError::Store)?;
                let ours = current.and_then(|kv| Owner::parse(&kv.value)).is_some_and(|o| o.uid == self.owner.uid);
                // A key this service left behind in an earlier failed write is its own.
                if ours && !self.taken.contains(&key) {
                    self.taken.push(key);
                    Ok(())
                } else {
                    Err(AllocError::Allocated)
                }
            }
            Err(e) => Err(AllocError::Store(e)),
        }
    }

    /// Takes any free IP or port; returns its offset.
    async fn claim_next(&mut self, res: Res) -> Result<u32, AllocError> {
        let mut reloaded = false;
        loop {
            let picked = {
                let mut pool = self.alloc.pool(res);
                if self.dry_run {
                    pool.peek(&mut rand::rng())
                } else {
                    pool.pick(&mut rand::rng())
                }
            };
            let Some(offset) = picked else {
                // The pool is a hint: another apiserver may have freed some.
                if reloaded {
                    return Err(AllocError::Full);
                }
                self.alloc.reload(res).await.map_err(AllocError::Store)?;
                reloaded = true;
                continue;
            };
            if self.dry_run {
                return Ok(offset);
            }
            let key = self.alloc.key(res, offset);
            let value = serde_json::to_vec(&self.owner).expect("owner encodes");
            match self.alloc.store.create(&key, value).await {
                Ok(_) => {
                    self.taken.push(key);
                    return Ok(offset);
                }
                // Taken elsewhere meanwhile; it stays marked, try another.
                Err(StoreError::AlreadyExists) => continue,
                Err(e) => {
                    self.alloc.pool(res).unmark(offset);
                    return Err(AllocError::Store(e));
                }
            }
        }
    }

    /// Ends the operation: on error gives back what was taken.
    async fn finish(self, result: Result<(), ApiError>, release: Vec<String>) -> Result<Allocation, ApiError> {
        let allocation = Allocation { uid: self.owner.uid, taken: self.taken, release };
        match result {
            Ok(()) if self.dry_run => Ok(Allocation::default()),
            Ok(()) => Ok(allocation),
            Err(e) => {
                allocation.revert(self.alloc).await;
                Err(e)
            }
        }
    }
}

/// A service's spec; one without a spec reads as an empty one.
pub(crate) fn spec(svc: &Service) -> &ServiceSpec {
    static EMPTY: LazyLock<ServiceSpec> = LazyLock::new(ServiceSpec::default);
    svc.spec.as_ref().unwrap_or(&EMPTY)
}

fn name(svc: &Service) -> &str {
    svc.metadata.name.as_deref().unwrap_or("")
}

/// A service's type; unset is the default, `ClusterIP`.
pub(crate) fn service_type(spec: &ServiceSpec) -> &str {
    spec.type_.as_deref().filter(|t| !t.is_empty()).unwrap_or("ClusterIP")
}

/// Every type but ExternalName has cluster IPs (headless ones: `None`).
pub(crate) fn needs_cluster_ip(spec: &ServiceSpec) -> bool {
    service_type(spec) != "ExternalName"
}

pub(crate) fn needs_node_ports(spec: &ServiceSpec) -> bool {
    matches!(service_type(spec), "NodePort" | "LoadBalancer")
}

/// LoadBalancers may opt out of node ports (`allocateLoadBalancerNodePorts: false`).
fn should_allocate_node_ports(spec: &ServiceSpec) -> bool {
    match service_type(spec) {
        "NodePort" => true,
        "LoadBalancer" => spec.allocate_load_balancer_node_ports != Some(false),
        _ => false,
    }
}

pub(crate) fn needs_health_check(spec: &ServiceSpec) -> bool {
    service_type(spec) == "LoadBalancer" && spec.external_traffic_policy.as_deref() == Some("Local")
}

/// (port, nodePort) of each service port; an unset node port is 0.
fn port_numbers(svc: &Service) -> Vec<(i32, i32)> {
    spec(svc).ports.iter().flatten().map(|p| (p.port, p.node_port.unwrap_or(0))).collect()
}

fn set_node_port(svc: &mut Service, index: usize, node_port: i32) {
    if let Some(port) = svc.spec.as_mut().and_then(|s| s.ports.as_mut()).and_then(|p| p.get_mut(index)) {
        port.node_port = Some(node_port);
    }
}

/// Kubernetes' `initIPFamilyFields` for a single-stack IPv4 cluster: defaults
/// `ipFamilyPolicy` and `ipFamilies`, refusing what the cluster cannot give.
fn init_ip_families(svc: &mut Service, old: Option<&Service>) -> Result<(), ApiError> {
    let name = name(svc).to_string();
    let spec = svc.spec.get_or_insert_default();
    let ips = spec.cluster_ips.clone().unwrap_or_default();
    let headless = ips.first().is_some_and(|ip| ip == "None") || spec.cluster_ip.as_deref() == Some("None");
    let selectorless = spec.selector.as_ref().is_none_or(|s| s.is_empty());
    if spec.ip_family_policy.as_deref().is_none_or(str::is_empty) {
        let inherited = old.and_then(|o| o.spec.as_ref()?.ip_family_policy.clone()).filter(|p| !p.is_empty());
        spec.ip_family_policy = Some(match inherited {
            Some(p) => p,
            // Kubernetes makes headless services without selector dual-stack.
            None if headless && selectorless => "RequireDualStack".into(),
            None => "SingleStack".into(),
        });
    }
    let policy = spec.ip_family_policy.clone().unwrap_or_default();
    let mut families = spec.ip_families.clone().unwrap_or_default();
    let mut errs = Vec::new();
    if policy == "SingleStack" {
        if ips.len() == 2 {
            errs.push(FieldError::invalid(
                "spec.ipFamilyPolicy",
                format!("{policy:?}"),
                "must be 'RequireDualStack' or 'PreferDualStack' when multiple cluster IPs are specified",
            ));
        }
        if families.len() == 2 {
            errs.push(FieldError::invalid(
                "spec.ipFamilyPolicy",
                format!("{policy:?}"),
                "must be 'RequireDualStack' or 'PreferDualStack' when multiple IP families are specified",
            ));
        }
    }
    for (i, ip) in ips.iter().enumerate() {
        if ip == "None" {
            break;
        }
        let family = if ip.contains(':') { "IPv6" } else { "IPv4" };
        if i >= families.len() {
            if family == "IPv4" {
                families.push(family.into());
            } else {
                errs.push(FieldError::invalid(
                    format!("spec.clusterIPs[{i}]"),
                    go_string_slice(&json!(spec.cluster_ips)),
                    format!("{family} is not configured on this cluster"),
                ));
            }
        }
    }
    if !errs.is_empty() {
        return Err(ApiError::invalid("Service", &name, errs));
    }
    if headless && selectorless {
        if families.is_empty() {
            families.push("IPv4".into());
        }
        if families.len() < 2 && policy != "SingleStack" {
            let other = if families[0] == "IPv4" { "IPv6" } else { "IPv4" };
            families.push(other.into());
        }
        spec.ip_families = Some(families);
        return Ok(());
    }
    if policy == "RequireDualStack" {
        errs.push(FieldError::invalid(
            "spec.ipFamilyPolicy",
            format!("{policy:?}"),
            "this cluster is not configured for dual-stack services",
        ));
    }
    for (i, f) in families.iter().enumerate() {
        if f != "IPv4" {
            errs.push(FieldError::invalid(
                format!("spec.ipFamilies[{i}]"),
                format!("{f:?}"),
                "not configured on this cluster",
            ));
        }
    }
    if !errs.is_empty() {
        return Err(ApiError::invalid("Service", &name, errs));
    }
    if families.is_empty() {
        families.push("IPv4".into());
    }
    spec.ip_families = Some(families);
    Ok(())
}

#[cfg(test)]
mod tests;
