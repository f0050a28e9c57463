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

use crate::pods::{self, is_ready};
use crate::runner::{Action, Controller, Result};
use crate::Context;
use api::{meta, registry, ResourceInfo};
use client::informer::{Change, SharedInformer};
use client::queue::WorkQueue;
use client::watcher::key_of;
use client::{Client, DeleteParams};
use serde_json::{json, Map, Value};
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

pub fn services() -> &'static ResourceInfo {
    registry::lookup("services").expect("services are registered")
}

pub fn endpoints() -> &'static ResourceInfo {
    registry::lookup("endpoints").expect("endpoints are registered")
}

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

    fn to_json(&self) -> Value {
        let mut a = json!({"ip": self.ip});
        if !self.hostname.is_empty() {
            a["hostname"] = json!(self.hostname);
        }
        if !self.node_name.is_empty() {
            a["nodeName"] = json!(self.node_name);
        }
        if let Some(t) = &self.target_ref {
            a["targetRef"] = json!({"kind": t.kind, "namespace": t.namespace, "name": t.name, "uid": t.uid});
        }
        a
    }

    fn from_json(v: &Value) -> Self {
        let s = |v: &Value| v.as_str().unwrap_or_default().to_string();
        let target_ref = v.get("targetRef").filter(|t| t.is_object()).map(|t| TargetRef {
            kind: s(&t["kind"]),
            namespace: s(&t["namespace"]),
            name: s(&t["name"]),
            uid: s(&t["uid"]),
        });
        Self { ip: s(&v["ip"]), hostname: s(&v["hostname"]), node_name: s(&v["nodeName"]), target_ref }
    }
}

/// One `EndpointPort`. The derived order (name, port, protocol) is the order
/// ports are listed in.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Port {
    /// The service port's name; empty for a single unnamed port.
    pub name: String,
    pub port: i64,
    pub protocol: String,
    /// Empty when absent.
    pub app_protocol: String,
}

impl Port {
    fn to_json(&self) -> Value {
        let mut p = json!({"port": self.port, "protocol": self.protocol});
        if !self.name.is_empty() {
            p["name"] = json!(self.name);
        }
        if !self.app_protocol.is_empty() {
            p["appProtocol"] = json!(self.app_protocol);
        }
        p
    }

    fn from_json(v: &Value) -> Self {
        let s = |v: &Value| v.as_str().unwrap_or_default().to_string();
        Self {
            name: s(&v["name"]),
            port: v["port"].as_i64().unwrap_or(0),
            protocol: v["protocol"].as_str().unwrap_or("TCP").to_string(),
            app_protocol: s(&v["appProtocol"]),
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
    pub fn to_json(&self) -> Value {
        let mut s = Map::new();
        let list = |addrs: &[Address]| Value::Array(addrs.iter().map(Address::to_json).collect());
        if !self.addresses.is_empty() {
            s.insert("addresses".into(), list(&self.addresses));
        }
        if !self.not_ready_addresses.is_empty() {
            s.insert("notReadyAddresses".into(), list(&self.not_ready_addresses));
        }
        if !self.ports.is_empty() {
            s.insert("ports".into(), Value::Array(self.ports.iter().map(Port::to_json).collect()));
        }
        Value::Object(s)
    }

    fn from_json(v: &Value) -> Self {
        let addrs = |field: &str| v[field].as_array().into_iter().flatten().map(Address::from_json).collect();
        Self {
            addresses: addrs("addresses"),
            not_ready_addresses: addrs("notReadyAddresses"),
            ports: v["ports"].as_array().into_iter().flatten().map(Port::from_json).collect(),
        }
    }
}

/// The subsets an Endpoints object holds now, as stored.
pub fn stored_subsets(endpoints: &Value) -> Vec<Subset> {
    endpoints["subsets"].as_array().into_iter().flatten().map(Subset::from_json).collect()
}

pub fn subsets_to_json(subsets: &[Subset]) -> Value {
    Value::Array(subsets.iter().map(Subset::to_json).collect())
}

/// A service's `spec.selector`; None when it has none (or an empty one, which
/// the API cannot tell apart from none).
pub fn service_selector(service: &Value) -> Option<BTreeMap<String, String>> {
    let map = service["spec"]["selector"].as_object()?;
    if map.is_empty() {
        return None;
    }
    Some(map.iter().map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string())).collect())
}

fn selects(selector: &BTreeMap<String, String>, labels: &BTreeMap<String, String>) -> bool {
    selector.iter().all(|(k, v)| labels.get(k) == Some(v))
}

fn is_headless(service: &Value) -> bool {
    service["spec"]["clusterIP"] == "None"
}

/// The pod's IP, from `status.podIP` or the first of `status.podIPs`.
pub fn pod_ip(pod: &Value) -> &str {
    match pod["status"]["podIP"].as_str() {
        Some(ip) if !ip.is_empty() => ip,
        _ => pod["status"]["podIPs"][0]["ip"].as_str().unwrap_or(""),
    }
}

/// Kubernetes' `ShouldPodBeInEndpoints`: the pod has an IP, has not finished,
/// and is not being deleted (a deleting pod stays only where the service
/// publishes unready addresses).
pub fn should_be_in_endpoints(pod: &Value, include_terminating: bool) -> bool {
    if matches!(pod["status"]["phase"].as_str(), Some("Succeeded" | "Failed")) {
        return false;
    }
    if pod_ip(pod).is_empty() {
        return false;
    }
    include_terminating || meta::deletion_timestamp(pod).is_none()
}

/// The port a service port reaches on `pod` (Kubernetes' `FindPort`): a numeric
/// `targetPort` as is (the service port itself when it has none), a named one
/// looked up among the pod's container ports of the same protocol.
pub fn find_port(pod: &Value, service_port: &Value) -> Option<i64> {
    let protocol = service_port["protocol"].as_str().unwrap_or("TCP");
    match &service_port["targetPort"] {
        Value::Number(n) => n.as_i64(),
        Value::String(name) if !name.is_empty() => {
            // Sidecars (init containers that keep running) serve ports too.
            let sidecars = pod["spec"]["initContainers"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|c| c["restartPolicy"] == "Always");
            let containers = pod["spec"]["containers"].as_array().into_iter().flatten().chain(sidecars);
            containers
                .flat_map(|c| c["ports"].as_array().into_iter().flatten())
                .find(|p| p["name"] == name.as_str() && p["protocol"].as_str().unwrap_or("TCP") == protocol)
                .and_then(|p| p["containerPort"].as_i64())
        }
        _ => service_port["port"].as_i64(),
    }
}

/// The address of `pod` in the Endpoints of `service`.
fn address_for(service: &Value, pod: &Value) -> Address {
    let mut addr = Address {
        ip: pod_ip(pod).to_string(),
        hostname: String::new(),
        node_name: pods::node_name(pod).to_string(),
        target_ref: Some(TargetRef {
            kind: "Pod".into(),
            namespace: meta::namespace(pod).to_string(),
            name: meta::name(pod).to_string(),
            uid: meta::uid(pod).to_string(),
        }),
    };
    // A pod that names this service as its subdomain gets its hostname in DNS.
    let hostname = pod["spec"]["hostname"].as_str().unwrap_or("");
    if !hostname.is_empty()
        && pod["spec"]["subdomain"].as_str() == Some(meta::name(service))
        && meta::namespace(pod) == meta::namespace(service)
    {
        addr.hostname = hostname.to_string();
    }
    addr
}

/// The subsets of `service`'s Endpoints given the pods of its namespace (those
/// its selector does not match are skipped here).
pub fn compute_subsets(service: &Value, pods: &[Arc<Value>]) -> Vec<Subset> {
    let Some(selector) = service_selector(service) else { return vec![] };
    let publish_not_ready = service["spec"]["publishNotReadyAddresses"] == true;
    let service_ports: &[Value] = service["spec"]["ports"].as_array().map(Vec::as_slice).unwrap_or(&[]);

    // Every distinct address, and per port which addresses serve it and whether
    // they are ready there (not ready wins, as in Kubernetes' RepackSubsets).
    let mut addresses: BTreeMap<AddressKey, Address> = BTreeMap::new();
    let mut by_port: BTreeMap<Port, BTreeMap<AddressKey, bool>> = BTreeMap::new();
    // A headless service may have no ports: its pods are listed without any.
    let mut portless: BTreeMap<AddressKey, bool> = BTreeMap::new();
    for pod in pods {
        if meta::namespace(pod) != meta::namespace(service) || !selects(&selector, &meta::labels(pod)) {
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
                tracing::debug!(pod = meta::name(pod), port = %sp, "pod has no port for the service port");
                continue;
            };
            let port = Port {
                name: sp["name"].as_str().unwrap_or_default().to_string(),
                port: number,
                protocol: sp["protocol"].as_str().unwrap_or("TCP").to_string(),
                app_protocol: sp["appProtocol"].as_str().unwrap_or_default().to_string(),
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
pub fn endpoints_labels(service: &Value) -> BTreeMap<String, String> {
    let mut labels = meta::labels(service);
    if is_headless(service) {
        labels.insert(HEADLESS_LABEL.into(), String::new());
    }
    labels
}

/// The Endpoints `service` should have, built on `current` (to keep its
/// other metadata) or new.
pub fn desired_endpoints(service: &Value, pods: &[Arc<Value>], current: Option<&Value>) -> Value {
    let mut subsets = compute_subsets(service, pods);
    let truncated = truncate(&mut subsets);
    let mut obj = match current {
        Some(c) => c.clone(),
        None => json!({
            "apiVersion": "v1",
            "kind": "Endpoints",
            "metadata": {"name": meta::name(service), "namespace": meta::namespace(service)},
        }),
    };
    let labels = endpoints_labels(service);
    let metadata = meta::metadata_mut(&mut obj);
    if labels.is_empty() {
        metadata.remove("labels");
    } else {
        metadata.insert("labels".into(), json!(labels));
    }
    let mut annotations = metadata.get("annotations").and_then(Value::as_object).cloned().unwrap_or_default();
    if truncated {
        annotations.insert(OVER_CAPACITY_ANNOTATION.into(), json!("truncated"));
    } else {
        annotations.remove(OVER_CAPACITY_ANNOTATION);
    }
    if annotations.is_empty() {
        metadata.remove("annotations");
    } else {
        metadata.insert("annotations".into(), Value::Object(annotations));
    }
    let map = obj.as_object_mut().expect("an object");
    if subsets.is_empty() {
        map.remove("subsets");
    } else {
        map.insert("subsets".into(), subsets_to_json(&subsets));
    }
    obj
}

/// Whether `current` already says what `desired` says (subsets, labels and the
/// over-capacity annotation), so no write is needed.
pub fn up_to_date(current: &Value, desired: &Value) -> bool {
    stored_subsets(current) == stored_subsets(desired)
        && meta::labels(current) == meta::labels(desired)
        && meta::annotations(current).get(OVER_CAPACITY_ANNOTATION)
            == meta::annotations(desired).get(OVER_CAPACITY_ANNOTATION)
}

/// What of a pod the Endpoints depend on; a pod update that changes none of it
/// is ignored.
fn endpoint_facts(pod: &Value) -> impl PartialEq + '_ {
    (
        pod_ip(pod),
        is_ready(pod),
        meta::deletion_timestamp(pod).is_some(),
        pods::node_name(pod),
        pod["status"]["phase"].as_str(),
        pod["spec"]["hostname"].as_str(),
        pod["spec"]["subdomain"].as_str(),
    )
}

pub struct EndpointsController {
    services: Arc<SharedInformer>,
    pods: Arc<SharedInformer>,
    endpoints: Arc<SharedInformer>,
    client: Client,
    /// The Endpoints as this controller last wrote them, by key: while the
    /// cache still shows an older version, this one is what is current (so a
    /// quick second change neither conflicts nor creates twice).
    written: Mutex<HashMap<String, Arc<Value>>>,
}

impl EndpointsController {
    pub fn new(ctx: &Context) -> Self {
        Self::with_informers(
            ctx.factory.informer(services()),
            ctx.factory.informer(pods::pods()),
            ctx.factory.informer(endpoints()),
            ctx.client.clone(),
        )
    }

    pub fn with_informers(
        services: Arc<SharedInformer>,
        pods: Arc<SharedInformer>,
        endpoints: Arc<SharedInformer>,
        client: Client,
    ) -> Self {
        Self { services, pods, endpoints, client, written: Mutex::default() }
    }

    /// Keys of the services in the pod's namespace whose selector matches it.
    fn services_of(&self, pod: &Value) -> Vec<String> {
        let labels = meta::labels(pod);
        self.services
            .store()
            .list_namespace(meta::namespace(pod))
            .iter()
            .filter(|s| service_selector(s).is_some_and(|sel| selects(&sel, &labels)))
            .map(key_of)
            .collect()
    }

    fn pod_updated(&self, old: &Value, new: &Value, queue: &WorkQueue) {
        if meta::resource_version(old) == meta::resource_version(new) {
            return;
        }
        let labels_changed = meta::labels(old) != meta::labels(new);
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
    fn current(&self, key: &str) -> Option<Arc<Value>> {
        let cached = self.endpoints.store().get(key);
        let written = self.written.lock().expect("written lock").get(key).cloned();
        let rv = |o: &Value| meta::resource_version(o).parse::<i64>().unwrap_or(0);
        match (cached, written) {
            (Some(c), Some(w)) if rv(&w) > rv(&c) => Some(w),
            (None, Some(w)) => Some(w),
            (cached, _) => cached,
        }
    }

    fn remember(&self, key: &str, obj: Value) {
        self.written.lock().expect("written lock").insert(key.to_string(), Arc::new(obj));
    }

    fn forget(&self, key: &str) {
        self.written.lock().expect("written lock").remove(key);
    }

    async fn delete_endpoints(&self, key: &str) -> Result<Action> {
        self.forget(key);
        let (ns, name) = key.split_once('/').unwrap_or(("", key));
        match self.client.delete(endpoints(), ns, name, &DeleteParams::default()).await {
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

    fn informers(&self) -> Vec<Arc<SharedInformer>> {
        vec![self.services.clone(), self.pods.clone(), self.endpoints.clone()]
    }

    fn handle(&self, resource: &'static ResourceInfo, change: &Change, queue: &WorkQueue) {
        match (resource.kind, change) {
            ("Service", Change::Added(s) | Change::Deleted(s)) => queue.add(key_of(s)),
            ("Service", Change::Updated { new, .. }) => queue.add(key_of(new)),
            ("Pod", Change::Added(pod) | Change::Deleted(pod)) => {
                for key in self.services_of(pod) {
                    queue.add(key);
                }
            }
            ("Pod", Change::Updated { old, new }) => self.pod_updated(old, new, queue),
            // Someone deleted or edited managed Endpoints: put them back.
            ("Endpoints", Change::Deleted(ep)) => {
                self.forget(&key_of(ep));
                queue.add(key_of(ep));
            }
            ("Endpoints", Change::Updated { old, new }) if old["subsets"] != new["subsets"] => {
                let key = key_of(new);
                if self.services.store().get(&key).is_some_and(|s| service_selector(&s).is_some()) {
                    queue.add(key);
                }
            }
            _ => {}
        }
    }

    fn resync(&self, queue: &WorkQueue) {
        for key in self.services.store().keys() {
            queue.add(key);
        }
        // Endpoints whose service went away while this controller was not
        // watching (Kubernetes' checkLeftoverEndpoints).
        for ep in self.endpoints.store().list() {
            let key = key_of(&ep);
            if self.services.store().get(&key).is_none() && !meta::annotations(&ep).contains_key(LEADER_ANNOTATION) {
                queue.add(key);
            }
        }
    }

    async fn reconcile(&self, key: &str) -> Result<Action> {
        let Some(service) = self.services.store().get(key) else {
            return self.delete_endpoints(key).await;
        };
        if service["spec"]["type"] == "ExternalName" || service_selector(&service).is_none() {
            // Not ours: such Endpoints are written by hand.
            self.forget(key);
            return Ok(Action::Done);
        }
        let ns = meta::namespace(&service);
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
                self.client.update(endpoints(), ns, &desired).await
            }
            None => {
                tracing::debug!(ready, "creating endpoints");
                match self.client.create(endpoints(), ns, &desired).await {
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
                    if let Ok(fresh) = self.client.get(endpoints(), ns, meta::name(&service)).await {
                        self.remember(key, fresh);
                    }
                }
                Err(e.into())
            }
        }
    }
}

#[cfg(test)]
mod tests;
