//! The endpoints controller, as Kubernetes' pkg/controller/endpoint: for every
//! Service with a selector, an Endpoints object of the same name listing the
//! pods behind it, which the node proxies and the cluster DNS follow.
//!
//! A reconcile of a service:
//! 1. picks the matching pods that have an IP, are not finished and (unless
//!    the service publishes unready addresses) are not being deleted;
//! 2. resolves every service port's `targetPort` on each pod (a number, or a
//!    named container port with the same protocol; a pod without that name is
//!    left out for that port only);
//! 3. puts ready pods in `addresses` and the others in `notReadyAddresses`,
//!    then packs addresses that serve the same ports into one subset, in a
//!    deterministic order, so an unchanged set of pods always compares equal;
//! 4. writes the Endpoints only when subsets or labels changed.
//!
//! Services without a selector are left alone: their Endpoints are written by
//! hand (or by the apiserver, for `default/kubernetes`). A deleted service's
//! Endpoints are deleted.
//!
//! Pod changes are turned into service keys at once (no batching delay), so a
//! readiness change reaches the Endpoints within one round trip.

use crate::runner::{Action, Controller, Result, Watch};
use crate::Context;
use api::k8s_openapi::api::core::v1::{
    EndpointAddress, EndpointPort, EndpointSubset, Endpoints, ObjectReference, Pod, Service, ServicePort,
};
use api::k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use api::k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use api::pod::{is_ready, node_name};
use client::informer::{Change, SharedInformer};
use client::queue::WorkQueue;
use client::watcher::key_of;
use client::{Api, Client, DeleteParams, Object};
use std::cmp::Ordering;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

/// The label the controller puts on the Endpoints of headless services.
pub const HEADLESS_LABEL: &str = "service.kubernetes.io/headless";
/// Set when the Endpoints hold fewer addresses than there are pods.
pub const OVER_CAPACITY_ANNOTATION: &str = "endpoints.kubernetes.io/over-capacity";
/// The most addresses one Endpoints object carries (Kubernetes' maxCapacity).
pub const MAX_CAPACITY: usize = 1000;
/// Endpoints used as a leader-election lock: never treated as leftovers.
const LEADER_ANNOTATION: &str = "control-plane.alpha.kubernetes.io/leader";

// Subsets are computed and compared in the model below rather than as the
// API's EndpointSubset: an address is identified by its IP and pod uid only
// (what the apiserver adds to a targetRef, such as its resourceVersion, must
// not count as a change, as in Kubernetes), absent and empty strings are one,
// and a port without protocol is TCP.

/// The pod an address points at (`targetRef`), without its resourceVersion,
/// which Kubernetes also ignores when comparing.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TargetRef {
    pub kind: String,
    pub namespace: String,
    pub name: String,
    pub uid: String,
}

/// One `EndpointAddress`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Address {
    pub ip: String,
    /// Empty when absent.
    pub hostname: String,
    /// Empty when absent.
    pub node_name: String,
    pub target_ref: Option<TargetRef>,
}

/// `s` as an optional API field: None when empty.
fn non_empty(s: &str) -> Option<String> {
    (!s.is_empty()).then(|| s.to_string())
}

impl Address {
    /// Kubernetes' `LessEndpointAddress`: by IP, then by the target's uid.
    fn order(&self, other: &Self) -> Ordering {
        let uid = |a: &Self| a.target_ref.as_ref().map(|t| t.uid.clone());
        self.ip.cmp(&other.ip).then_with(|| uid(self).cmp(&uid(other)))
    }

    /// What makes two addresses the same endpoint.
    fn key(&self) -> AddressKey {
        (self.ip.clone(), self.target_ref.as_ref().map(|t| t.uid.clone()).unwrap_or_default())
    }

    fn to_api(&self) -> EndpointAddress {
        EndpointAddress {
            ip: self.ip.clone(),
            hostname: non_empty(&self.hostname),
            node_name: non_empty(&self.node_name),
            target_ref: self.target_ref.as_ref().map(|t| ObjectReference {
                kind: Some(t.kind.clone()),
                namespace: Some(t.namespace.clone()),
                name: Some(t.name.clone()),
                uid: Some(t.uid.clone()),
                ..Default::default()
            }),
        }
    }

    fn from_api(a: &EndpointAddress) -> Self {
        let s = |v: &Option<String>| v.clone().unwrap_or_default();
        let target_ref = a.target_ref.as_ref().map(|t| TargetRef {
            kind: s(&t.kind),
            namespace: s(&t.namespace),
            name: s(&t.name),
            uid: s(&t.uid),
        });
        Self { ip: a.ip.clone(), hostname: s(&a.hostname), node_name: s(&a.node_name), target_ref }
    }
}

/// One `EndpointPort`. The derived order (name, port, protocol) is the order
/// ports are listed in.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Port {
    /// The service port's name; empty for a single unnamed port.
    pub name: String,
    pub port: i32,
    pub protocol: String,
    /// Empty when absent.
    pub app_protocol: String,
}

impl Port {
    fn to_api(&self) -> EndpointPort {
        EndpointPort {
            name: non_empty(&self.name),
            port: self.port,
            protocol: Some(self.protocol.clone()),
            app_protocol: non_empty(&self.app_protocol),
        }
    }

    fn from_api(p: &EndpointPort) -> Self {
        Self {
            name: p.name.clone().unwrap_or_default(),
            port: p.port,
            protocol: p.protocol.clone().unwrap_or_else(|| "TCP".into()),
            app_protocol: p.app_protocol.clone().unwrap_or_default(),
        }
    }
}

/// An address by what makes it distinct: its IP and its pod's uid.
type AddressKey = (String, String);
/// The addresses serving one port, each with whether it is ready there.
type Serving = Vec<(AddressKey, bool)>;

/// One `EndpointSubset`: every address in it serves every port in it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Subset {
    pub addresses: Vec<Address>,
    pub not_ready_addresses: Vec<Address>,
    pub ports: Vec<Port>,
}

impl Subset {
    /// As the API writes it: empty lists are left out.
    pub fn to_api(&self) -> EndpointSubset {
        let list = |addrs: &[Address]| (!addrs.is_empty()).then(|| addrs.iter().map(Address::to_api).collect());
        EndpointSubset {
            addresses: list(&self.addresses),
            not_ready_addresses: list(&self.not_ready_addresses),
            ports: (!self.ports.is_empty()).then(|| self.ports.iter().map(Port::to_api).collect()),
        }
    }

    fn from_api(s: &EndpointSubset) -> Self {
        let addrs = |list: &Option<Vec<EndpointAddress>>| list.iter().flatten().map(Address::from_api).collect();
        Self {
            addresses: addrs(&s.addresses),
            not_ready_addresses: addrs(&s.not_ready_addresses),
            ports: s.ports.iter().flatten().map(Port::from_api).collect(),
        }
    }
}

/// The subsets an Endpoints object holds now, as stored.
pub fn stored_subsets(endpoints: &Endpoints) -> Vec<Subset> {
    endpoints.subsets.iter().flatten().map(Subset::from_api).collect()
}

/// A service's `spec.selector`; None when it has none (or an empty one, which
/// the API cannot tell apart from none).
pub fn service_selector(service: &Service) -> Option<&BTreeMap<String, String>> {
    service.spec.as_ref()?.selector.as_ref().filter(|map| !map.is_empty())
}

fn selects(selector: &BTreeMap<String, String>, labels: &BTreeMap<String, String>) -> bool {
    selector.iter().all(|(k, v)| labels.get(k) == Some(v))
}

fn labels(meta: &ObjectMeta) -> BTreeMap<String, String> {
    meta.labels.clone().unwrap_or_default()
}

fn is_headless(service: &Service) -> bool {
    service.spec.as_ref().and_then(|s| s.cluster_ip.as_deref()) == Some("None")
}

/// The pod's IP, from `status.podIP` or the first of `status.podIPs`.
pub fn pod_ip(pod: &Pod) -> &str {
    let Some(status) = &pod.status else { return "" };
    match status.pod_ip.as_deref() {
        Some(ip) if !ip.is_empty() => ip,
        _ => status.pod_ips.as_ref().and_then(|ips| ips.first()).map_or("", |ip| ip.ip.as_str()),
    }
}

/// Kubernetes' `ShouldPodBeInEndpoints`: the pod has an IP, has not finished,
/// and is not being deleted (a deleting pod stays only where the service
/// publishes unready addresses).
pub fn should_be_in_endpoints(pod: &Pod, include_terminating: bool) -> bool {
    if api::pod::is_finished(pod) {
        return false;
    }
    if pod_ip(pod).is_empty() {
        return false;
    }
    include_terminating || !api::pod::is_terminating(&pod.metadata)
}

/// The port a service port reaches on `pod` (Kubernetes' `FindPort`): a numeric
/// `targetPort` as is (the service port itself when it has none), a named one
/// looked up among the pod's container ports of the same protocol.
pub fn find_port(pod: &Pod, service_port: &ServicePort) -> Option<i32> {
    let protocol = service_port.protocol.as_deref().unwrap_or("TCP");
    match &service_port.target_port {
        Some(IntOrString::Int(n)) => Some(*n),
        Some(IntOrString::String(name)) if !name.is_empty() => {
            let spec = pod.spec.as_ref()?;
            // Sidecars (init containers that keep running) serve ports too.
            let sidecars =
                spec.init_containers.iter().flatten().filter(|c| c.restart_policy.as_deref() == Some("Always"));
            let containers = spec.containers.iter().chain(sidecars);
            containers
                .flat_map(|c| c.ports.iter().flatten())
                .find(|p| p.name.as_deref() == Some(name) && p.protocol.as_deref().unwrap_or("TCP") == protocol)
                .map(|p| p.container_port)
        }
        _ => Some(service_port.port),
    }
}

/// The address of `pod` in the Endpoints of `service`.
fn address_for(service: &Service, pod: &Pod) -> Address {
    let mut addr = Address {
        ip: pod_ip(pod).to_string(),
        hostname: String::new(),
        node_name: node_name(pod).to_string(),
        target_ref: Some(TargetRef {
            kind: "Pod".into(),
            namespace: pod.namespace().to_string(),
            name: pod.name().to_string(),
            uid: pod.uid().to_string(),
        }),
    };
    // A pod that names this service as its subdomain gets its hostname in DNS.
    let spec = pod.spec.as_ref();
    let hostname = spec.and_then(|s| s.hostname.as_deref()).unwrap_or("");
    if !hostname.is_empty()
        && spec.and_then(|s| s.subdomain.as_deref()) == Some(service.name())
        && pod.namespace() == service.namespace()
    {
        addr.hostname = hostname.to_string();
    }
    addr
}

/// The subsets of `service`'s Endpoints given the pods of its namespace (those
/// its selector does not match are skipped here).
pub fn compute_subsets(service: &Service, pods: &[Arc<Pod>]) -> Vec<Subset> {
    let Some(selector) = service_selector(service) else { return vec![] };
    let spec = service.spec.as_ref();
    let publish_not_ready = spec.and_then(|s| s.publish_not_ready_addresses) == Some(true);
    let service_ports: &[ServicePort] = spec.and_then(|s| s.ports.as_deref()).unwrap_or_default();

    // Every distinct address, and per port which addresses serve it and whether
    // they are ready there (not ready wins, as in Kubernetes' RepackSubsets).
    let mut addresses: BTreeMap<AddressKey, Address> = BTreeMap::new();
    let mut by_port: BTreeMap<Port, BTreeMap<AddressKey, bool>> = BTreeMap::new();
    // A headless service may have no ports: its pods are listed without any.
    let mut portless: BTreeMap<AddressKey, bool> = BTreeMap::new();
    for pod in pods {
        if pod.namespace() != service.namespace() || !selects(selector, &labels(&pod.metadata)) {
            continue;
        }
        if !should_be_in_endpoints(pod, publish_not_ready) {
            continue;
        }
        let addr = address_for(service, pod);
        let ready = publish_not_ready || is_ready(pod);
        let key = addr.key();
        addresses.entry(key.clone()).or_insert(addr);
        if service_ports.is_empty() {
            if is_headless(service) {
                let r = portless.entry(key).or_insert(ready);
                *r = *r && ready;
            }
            continue;
        }
        for sp in service_ports {
            let Some(number) = find_port(pod, sp) else {
                tracing::debug!(pod = pod.name(), port = ?sp, "pod has no port for the service port");
                continue;
            };
            let port = Port {
                name: sp.name.clone().unwrap_or_default(),
                port: number,
                protocol: sp.protocol.clone().unwrap_or_else(|| "TCP".into()),
                app_protocol: sp.app_protocol.clone().unwrap_or_default(),
            };
            let r = by_port.entry(port).or_default().entry(key.clone()).or_insert(ready);
            *r = *r && ready;
        }
    }

    // Ports served by exactly the same addresses (with the same readiness) share a subset.
    let mut groups: BTreeMap<Serving, Vec<Port>> = BTreeMap::new();
    for (port, addrs) in by_port {
        groups.entry(addrs.into_iter().collect()).or_default().push(port);
    }
    let mut grouped: Vec<(Serving, Vec<Port>)> = groups.into_iter().collect();
    if !portless.is_empty() {
        grouped.push((portless.into_iter().collect(), vec![]));
    }
    let mut subsets: Vec<Subset> = grouped
        .into_iter()
        .map(|(addrs, mut ports)| {
            let mut subset = Subset::default();
            for (key, ready) in addrs {
                let addr = addresses[&key].clone();
                if ready {
                    subset.addresses.push(addr);
                } else {
                    subset.not_ready_addresses.push(addr);
                }
            }
            subset.addresses.sort_by(Address::order);
            subset.not_ready_addresses.sort_by(Address::order);
            ports.sort();
            subset.ports = ports;
            subset
        })
        .collect();
    subsets.sort_by(|a, b| {
        a.ports.cmp(&b.ports).then_with(|| {
            let first = |s: &Subset| s.addresses.first().or(s.not_ready_addresses.first()).map(Address::key);
            first(a).cmp(&first(b))
        })
    });
    subsets
}

/// Cuts the subsets down to [`MAX_CAPACITY`] addresses, as Kubernetes'
/// `truncateEndpoints`: ready addresses are kept first; each subset keeps its
/// share of what fits. Returns whether anything was cut.
pub fn truncate(subsets: &mut [Subset]) -> bool {
    let ready: usize = subsets.iter().map(|s| s.addresses.len()).sum();
    let not_ready: usize = subsets.iter().map(|s| s.not_ready_addresses.len()).sum();
    if ready + not_ready <= MAX_CAPACITY {
        return false;
    }
    let truncate_ready = ready > MAX_CAPACITY;
    let (room, total) = if truncate_ready { (MAX_CAPACITY, ready) } else { (MAX_CAPACITY - ready, not_ready) };
    let mut left = room;
    for subset in subsets.iter_mut() {
        let here = if truncate_ready { subset.addresses.len() } else { subset.not_ready_addresses.len() };
        let share = (here * room).div_ceil(total).min(left);
        if truncate_ready {
            subset.addresses.truncate(share);
            subset.not_ready_addresses.clear();
            left -= subset.addresses.len();
        } else {
            subset.not_ready_addresses.truncate(share);
            left -= subset.not_ready_addresses.len();
        }
    }
    true
}

/// The labels the Endpoints of `service` carry: the service's, plus the
/// headless marker for `clusterIP: None`.
pub fn endpoints_labels(service: &Service) -> BTreeMap<String, String> {
    let mut labels = labels(&service.metadata);
    if is_headless(service) {
        labels.insert(HEADLESS_LABEL.into(), String::new());
    }
    labels
}

/// The Endpoints `service` should have, built on `current` (to keep its
/// other metadata) or new.
pub fn desired_endpoints(service: &Service, pods: &[Arc<Pod>], current: Option<&Endpoints>) -> Endpoints {
    let mut subsets = compute_subsets(service, pods);
    let truncated = truncate(&mut subsets);
    let mut obj = match current {
        Some(c) => c.clone(),
        None => Endpoints {
            metadata: ObjectMeta {
                name: Some(service.name().to_string()),
                namespace: Some(service.namespace().to_string()),
                ..Default::default()
            },
            ..Default::default()
        },
    };
    let labels = endpoints_labels(service);
    obj.metadata.labels = (!labels.is_empty()).then_some(labels);
    let mut annotations = obj.metadata.annotations.take().unwrap_or_default();
    if truncated {
        annotations.insert(OVER_CAPACITY_ANNOTATION.into(), "truncated".into());
    } else {
        annotations.remove(OVER_CAPACITY_ANNOTATION);
    }
    obj.metadata.annotations = (!annotations.is_empty()).then_some(annotations);
    obj.subsets = (!subsets.is_empty()).then(|| subsets.iter().map(Subset::to_api).collect());
    obj
}

fn over_capacity(endpoints: &Endpoints) -> Option<&String> {
    endpoints.metadata.annotations.as_ref()?.get(OVER_CAPACITY_ANNOTATION)
}

/// Whether `current` already says what `desired` says (subsets, labels and the
/// over-capacity annotation), so no write is needed.
pub fn up_to_date(current: &Endpoints, desired: &Endpoints) -> bool {
    stored_subsets(current) == stored_subsets(desired)
        && labels(&current.metadata) == labels(&desired.metadata)
        && over_capacity(current) == over_capacity(desired)
}

/// What of a pod the Endpoints depend on; a pod update that changes none of it
/// is ignored.
fn endpoint_facts(pod: &Pod) -> impl PartialEq + '_ {
    let spec = pod.spec.as_ref();
    (
        pod_ip(pod),
        is_ready(pod),
        pod.metadata.deletion_timestamp.is_some(),
        node_name(pod),
        pod.status.as_ref().and_then(|s| s.phase.as_deref()),
        spec.and_then(|s| s.hostname.as_deref()),
        spec.and_then(|s| s.subdomain.as_deref()),
    )
}

pub struct EndpointsController {
    services: Arc<SharedInformer<Service>>,
    pods: Arc<SharedInformer<Pod>>,
    endpoints: Arc<SharedInformer<Endpoints>>,
    client: Client,
    /// The Endpoints as this controller last wrote them, by key: while the
    /// cache still shows an older version, this one is what is current (so a
    /// quick second change neither conflicts nor creates twice).
    written: Mutex<HashMap<String, Arc<Endpoints>>>,
}

impl EndpointsController {
    pub fn new(ctx: &Context) -> Self {
        Self::with_informers(ctx.factory.typed(), ctx.factory.typed(), ctx.factory.typed(), ctx.client.clone())
    }

    pub fn with_informers(
        services: Arc<SharedInformer<Service>>,
        pods: Arc<SharedInformer<Pod>>,
        endpoints: Arc<SharedInformer<Endpoints>>,
        client: Client,
    ) -> Self {
        Self { services, pods, endpoints, client, written: Mutex::default() }
    }

    /// Keys of the services in the pod's namespace whose selector matches it.
    fn services_of(&self, pod: &Pod) -> Vec<String> {
        let labels = labels(&pod.metadata);
        self.services
            .store()
            .list_namespace(pod.namespace())
            .iter()
            .filter(|s| service_selector(s).is_some_and(|sel| selects(sel, &labels)))
            .map(key_of)
            .collect()
    }

    fn pod_updated(&self, old: &Pod, new: &Pod, queue: &WorkQueue) {
        if old.resource_version() == new.resource_version() {
            return;
        }
        let labels_changed = labels(&old.metadata) != labels(&new.metadata);
        if !labels_changed && endpoint_facts(old) == endpoint_facts(new) {
            return;
        }
        let mut keys = self.services_of(new);
        if labels_changed {
            keys.extend(self.services_of(old));
        }
        for key in keys {
            queue.add(key);
        }
    }

    /// The Endpoints as they are now: the cached copy, unless this controller
    /// has written a newer one the cache has not seen yet.
    fn current(&self, key: &str) -> Option<Arc<Endpoints>> {
        let cached = self.endpoints.store().get(key);
        let written = self.written.lock().expect("written lock").get(key).cloned();
        let rv = |o: &Endpoints| o.resource_version().parse::<i64>().unwrap_or(0);
        match (cached, written) {
            (Some(c), Some(w)) if rv(&w) > rv(&c) => Some(w),
            (None, Some(w)) => Some(w),
            (cached, _) => cached,
        }
    }

    fn remember(&self, key: &str, obj: Endpoints) {
        self.written.lock().expect("written lock").insert(key.to_string(), Arc::new(obj));
    }

    fn forget(&self, key: &str) {
        self.written.lock().expect("written lock").remove(key);
    }

    async fn delete_endpoints(&self, key: &str) -> Result<Action> {
        self.forget(key);
        let (ns, name) = key.split_once('/').unwrap_or(("", key));
        match Api::<Endpoints>::namespaced(&self.client, ns).delete(name, &DeleteParams::default()).await {
            Ok(_) => tracing::info!(namespace = ns, name, "deleted the endpoints of a deleted service"),
            Err(e) if e.is_not_found() => {}
            Err(e) => return Err(e.into()),
        }
        Ok(Action::Done)
    }
}

#[async_trait::async_trait]
impl Controller for EndpointsController {
    fn name(&self) -> &'static str {
        "endpoint"
    }

    fn watches(self: Arc<Self>) -> Vec<Watch> {
        vec![
            Watch::method(&self, &self.services, Self::service_changed),
            Watch::method(&self, &self.pods, Self::pod_changed),
            Watch::method(&self, &self.endpoints, Self::endpoints_changed),
        ]
    }

    fn resync(&self, queue: &WorkQueue) {
        for key in self.services.store().keys() {
            queue.add(key);
        }
        // Endpoints whose service went away while this controller was not
        // watching (Kubernetes' checkLeftoverEndpoints).
        for ep in self.endpoints.store().list() {
            let key = key_of(&ep);
            let leader_lock = ep.metadata.annotations.as_ref().is_some_and(|a| a.contains_key(LEADER_ANNOTATION));
            if self.services.store().get(&key).is_none() && !leader_lock {
                queue.add(key);
            }
        }
    }

    async fn reconcile(&self, key: &str) -> Result<Action> {
        let Some(service) = self.services.store().get(key) else {
            return self.delete_endpoints(key).await;
        };
        let external_name = service.spec.as_ref().and_then(|s| s.type_.as_deref()) == Some("ExternalName");
        if external_name || service_selector(&service).is_none() {
            // Not ours: such Endpoints are written by hand.
            self.forget(key);
            return Ok(Action::Done);
        }
        let ns = service.namespace();
        let api = Api::<Endpoints>::namespaced(&self.client, ns);
        let pods = self.pods.store().list_namespace(ns);
        let current = self.current(key);
        let desired = desired_endpoints(&service, &pods, current.as_deref());
        if current.as_deref().is_some_and(|c| up_to_date(c, &desired)) {
            return Ok(Action::Done);
        }
        let ready: usize = stored_subsets(&desired).iter().map(|s| s.addresses.len()).sum();
        let result = match current {
            Some(_) => {
                tracing::debug!(ready, "updating endpoints");
                api.update(&desired).await
            }
            None => {
                tracing::debug!(ready, "creating endpoints");
                match api.create(&desired).await {
                    // Nothing can be created in a terminating namespace, and nothing need be.
                    Err(e) if e.message.contains("because it is being terminated") => return Ok(Action::Done),
                    other => other,
                }
            }
        };
        match result {
            Ok(written) => {
                self.remember(key, written);
                Ok(Action::Done)
            }
            Err(e) => {
                if e.is_not_found() {
                    // Deleted under us: the retry creates them anew.
                    self.forget(key);
                } else if e.is_conflict() || e.is_already_exists() {
                    // Someone else wrote: the retry starts from a fresh copy.
                    if let Ok(fresh) = api.get(service.name()).await {
                        self.remember(key, fresh);
                    }
                }
                Err(e.into())
            }
        }
    }
}

impl EndpointsController {
    fn service_changed(&self, change: &Change<Service>, queue: &WorkQueue) {
        match change {
            Change::Added(s) | Change::Deleted(s) => queue.add(key_of(s)),
            Change::Updated { new, .. } => queue.add(key_of(new)),
            Change::Resync => {}
        }
    }

    fn pod_changed(&self, change: &Change<Pod>, queue: &WorkQueue) {
        match change {
            Change::Added(pod) | Change::Deleted(pod) => {
                for key in self.services_of(pod) {
                    queue.add(key);
                }
            }
            Change::Updated { old, new } => self.pod_updated(old, new, queue),
            Change::Resync => {}
        }
    }

    /// Someone deleted or edited managed Endpoints: put them back.
    fn endpoints_changed(&self, change: &Change<Endpoints>, queue: &WorkQueue) {
        match change {
            Change::Deleted(ep) => {
                self.forget(&key_of(ep));
                queue.add(key_of(ep));
            }
            Change::Updated { old, new } if old.subsets != new.subsets => {
                let key = key_of(new);
                if self.services.store().get(&key).is_some_and(|s| service_selector(&s).is_some()) {
                    queue.add(key);
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests;
