//! The cluster DNS records model: what the name server answers for a name,
//! computed from the Services and Endpoints it has seen. Pure (no sockets, no
//! DNS wire types beyond the record type asked for), so every answer the
//! server gives can be table-tested here.
//!
//! It follows Kubernetes' DNS-based service discovery specification, as
//! CoreDNS's `kubernetes` plugin implements it (with `pods insecure`, as
//! kubeadm configures it):
//! - `<svc>.<ns>.svc.<domain>`: A/AAAA = the ClusterIP(s); for a headless
//!   service the ready endpoint addresses; for an ExternalName service a CNAME
//!   to `spec.externalName`.
//! - `<host>.<svc>.<ns>.svc.<domain>` for a headless service's endpoint, where
//!   `<host>` is the address's `hostname` or its IP with dashes.
//! - `_<port>._<proto>.<svc>.<ns>.svc.<domain>`: SRV for named ports, and
//!   `<svc>.<ns>.svc.<domain>` SRV for every port (for a headless service, one
//!   record per ready endpoint naming `<host>.<svc>.<ns>.svc.<domain>`).
//! - `<a-b-c-d>.<ns>.pod.<domain>`: A = a.b.c.d.
//!
//! Everything else under the domain is NXDOMAIN (or NODATA when the name
//! exists with other types); names outside it are REFUSED, since this server
//! has no upstream to forward to (see [`Rcode::Refused`]).

use client::Object;
use hickory_server::proto::rr::RecordType;
use k8s_openapi::api::core::v1::{self as k8s, EndpointAddress, Endpoints};
use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr};

/// The TTL of every answer, positive and negative: CoreDNS's `kubernetes`
/// plugin defaults to 5 s, short enough that a changed service is seen soon.
pub const TTL: u32 = 5;

/// What a record holds. Names are lowercase and without the trailing dot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RData {
    A(IpAddr),
    Cname(String),
    Srv { priority: u16, weight: u16, port: u16, target: String },
    Soa { mname: String, rname: String, serial: u32 },
    Ns(String),
}

/// One resource record (its TTL is always [`TTL`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rr {
    pub name: String,
    pub data: RData,
}

/// The response code of an answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rcode {
    /// The name exists; `answers` may still be empty (NODATA) when it has no
    /// record of the asked type.
    NoError,
    /// The name does not exist in the cluster domain.
    NxDomain,
    /// The name is outside the cluster domain. REFUSED rather than SERVFAIL:
    /// there is no upstream on these machines, so this is a permanent "not
    /// mine" (what CoreDNS answers for a zone it does not serve), not a
    /// transient failure a resolver should retry.
    Refused,
}

/// The full answer to one question.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub rcode: Rcode,
    /// Set for every name in the cluster domain: this server is its authority.
    pub authoritative: bool,
    pub answers: Vec<Rr>,
    /// The zone's SOA, in the authority section of negative answers so that
    /// resolvers cache them for [`TTL`] only.
    pub soa: Option<Rr>,
    /// The A/AAAA records of SRV targets.
    pub additionals: Vec<Rr>,
}

impl Answer {
    fn refused() -> Self {
        Self { rcode: Rcode::Refused, authoritative: false, answers: vec![], soa: None, additionals: vec![] }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Port {
    name: String,
    /// Lowercase, as it appears in SRV names (`_tcp`).
    protocol: String,
    port: u16,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Kind {
    /// A virtual IP (or none yet, while unallocated).
    ClusterIp(Vec<IpAddr>),
    /// `clusterIP: None`: names resolve to the ready endpoints.
    Headless,
    ExternalName(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Service {
    kind: Kind,
    ports: Vec<Port>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Address {
    ip: IpAddr,
    /// The label naming this address under a headless service: its
    /// `hostname`, or the IP with dashes (CoreDNS's rule).
    label: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Subset {
    /// Ready addresses only: `notReadyAddresses` never resolve.
    addresses: Vec<Address>,
    ports: Vec<Port>,
}

/// Services and Endpoints by `(namespace, name)`, and the answers they give.
#[derive(Debug, Clone)]
pub struct Records {
    domain: String,
    services: HashMap<(String, String), Service>,
    endpoints: HashMap<(String, String), Vec<Subset>>,
    /// The SOA serial: bumped on every change, as zone serials are.
    serial: u32,
}

/// Lowercase and without the trailing dot: how names are compared.
fn normalize(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}

fn key(obj: &impl Object) -> (String, String) {
    (obj.namespace().to_ascii_lowercase(), obj.name().to_ascii_lowercase())
}

/// A service's or an endpoints subset's port: (name, protocol, port); ports
/// that are no u16 are skipped.
fn parse_port(name: &Option<String>, protocol: &Option<String>, port: i32) -> Option<Port> {
    Some(Port {
        name: name.as_deref().unwrap_or("").to_ascii_lowercase(),
        protocol: protocol.as_deref().unwrap_or("TCP").to_ascii_lowercase(),
        port: u16::try_from(port).ok()?,
    })
}

fn parse_service(svc: &k8s::Service) -> Service {
    let Some(spec) = &svc.spec else { return Service { kind: Kind::ClusterIp(vec![]), ports: vec![] } };
    let kind = if spec.type_.as_deref() == Some("ExternalName") {
        Kind::ExternalName(normalize(spec.external_name.as_deref().unwrap_or("")))
    } else if spec.cluster_ip.as_deref() == Some("None") {
        Kind::Headless
    } else {
        // clusterIPs holds every family's address; older objects only clusterIP.
        let mut ips: Vec<IpAddr> = spec.cluster_ips.iter().flatten().filter_map(|ip| ip.parse().ok()).collect();
        if ips.is_empty() {
            ips.extend(spec.cluster_ip.as_deref().and_then(|ip| ip.parse::<IpAddr>().ok()));
        }
        Kind::ClusterIp(ips)
    };
    let ports = spec.ports.iter().flatten().filter_map(|p| parse_port(&p.name, &p.protocol, p.port)).collect();
    Service { kind, ports }
}

/// `10.244.1.5` -> `10-244-1-5`; IPv6 colons become dashes too.
fn dashed(ip: &IpAddr) -> String {
    ip.to_string().replace(['.', ':'], "-")
}

fn parse_endpoints(ep: &Endpoints) -> Vec<Subset> {
    let address = |addr: &EndpointAddress| {
        let ip: IpAddr = addr.ip.parse().ok()?;
        let label = match addr.hostname.as_deref() {
            Some(h) if !h.is_empty() => h.to_ascii_lowercase(),
            _ => dashed(&ip),
        };
        Some(Address { ip, label })
    };
    ep.subsets
        .iter()
        .flatten()
        .map(|s| Subset {
            addresses: s.addresses.iter().flatten().filter_map(address).collect(),
            ports: s.ports.iter().flatten().filter_map(|p| parse_port(&p.name, &p.protocol, p.port)).collect(),
        })
        .collect()
}

/// `a-b-c-d` -> a.b.c.d (pod A records; IPv4 only, as the cluster is).
fn undash_v4(label: &str) -> Option<Ipv4Addr> {
    let parts: Vec<&str> = label.split('-').collect();
    if parts.len() != 4 {
        return None;
    }
    let mut octets = [0u8; 4];
    for (o, p) in octets.iter_mut().zip(parts) {
        // Digits only: `parse` would also take a leading `+`.
        if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        *o = p.parse().ok()?;
    }
    Some(Ipv4Addr::from(octets))
}

/// Whether an address record answers a question of type `qtype`.
fn wants_address(qtype: RecordType, ip: &IpAddr) -> bool {
    match qtype {
        RecordType::A => ip.is_ipv4(),
        RecordType::AAAA => ip.is_ipv6(),
        RecordType::ANY => true,
        _ => false,
    }
}

impl Records {
    /// An empty model for `domain` (e.g. `cluster.local`).
    pub fn new(domain: &str) -> Self {
        Self { domain: normalize(domain), services: HashMap::new(), endpoints: HashMap::new(), serial: 1 }
    }

    pub fn domain(&self) -> &str {
        &self.domain
    }

    /// Forgets every service and endpoints (before reloading them all).
    pub fn clear(&mut self) {
        self.services.clear();
        self.endpoints.clear();
        self.serial = self.serial.wrapping_add(1);
    }

    pub fn apply_service(&mut self, svc: &k8s::Service) {
        self.services.insert(key(svc), parse_service(svc));
        self.serial = self.serial.wrapping_add(1);
    }

    pub fn delete_service(&mut self, svc: &k8s::Service) {
        self.services.remove(&key(svc));
        self.serial = self.serial.wrapping_add(1);
    }

    pub fn apply_endpoints(&mut self, ep: &Endpoints) {
        self.endpoints.insert(key(ep), parse_endpoints(ep));
        self.serial = self.serial.wrapping_add(1);
    }

    pub fn delete_endpoints(&mut self, ep: &Endpoints) {
        self.endpoints.remove(&key(ep));
        self.serial = self.serial.wrapping_add(1);
    }

    fn fqdn(&self, prefix: &str) -> String {
        if prefix.is_empty() {
            self.domain.clone()
        } else {
            format!("{prefix}.{}", self.domain)
        }
    }

    fn soa(&self) -> Rr {
        Rr {
            name: self.domain.clone(),
            data: RData::Soa { mname: self.fqdn("ns.dns"), rname: self.fqdn("hostmaster"), serial: self.serial },
        }
    }

    fn ready_addresses(&self, ns: &str, svc: &str) -> impl Iterator<Item = &Address> {
        self.endpoints.get(&(ns.to_string(), svc.to_string())).into_iter().flatten().flat_map(|s| &s.addresses)
    }

    /// The answer to the question `name` (any case, trailing dot or not), `qtype`.
    pub fn lookup(&self, name: &str, qtype: RecordType) -> Answer {
        let name = normalize(name);
        let prefix = if name == self.domain {
            ""
        } else if let Some(p) = name.strip_suffix(&self.domain).and_then(|p| p.strip_suffix('.')) {
            p
        } else {
            return Answer::refused();
        };
        let labels: Vec<&str> = if prefix.is_empty() { vec![] } else { prefix.split('.').collect() };
        let found = match labels.as_slice() {
            [] => self.apex(&name, qtype),
            ["svc"] | ["pod"] | [_, "pod"] => Some(vec![]),
            [ns, "svc"] => self.services.keys().any(|(n, _)| n == ns).then(Vec::new),
            // SRV of the service itself: every port (of every ready endpoint, if headless).
            [svc, ns, "svc"] if qtype == RecordType::SRV && self.has_srv(ns, svc) => {
                return self.srv(&name, ns, svc, None, qtype);
            }
            [svc, ns, "svc"] => self.service(&name, ns, svc, qtype),
            [port, proto, svc, ns, "svc"] if port.starts_with('_') && proto.starts_with('_') => {
                return self.srv(&name, ns, svc, Some((&port[1..], &proto[1..])), qtype);
            }
            [host, svc, ns, "svc"] => self.endpoint(&name, ns, svc, host, qtype),
            [ip, _ns, "pod"] => undash_v4(ip).map(|ip| self.addresses(&name, [IpAddr::V4(ip)].into_iter(), qtype)),
            _ => None,
        };
        self.answer(found, vec![])
    }

    /// NOERROR with `answers` (NODATA when empty), or NXDOMAIN for `None`.
    fn answer(&self, found: Option<Vec<Rr>>, additionals: Vec<Rr>) -> Answer {
        match found {
            Some(answers) => {
                let soa = answers.is_empty().then(|| self.soa());
                Answer { rcode: Rcode::NoError, authoritative: true, answers, soa, additionals }
            }
            None => Answer {
                rcode: Rcode::NxDomain,
                authoritative: true,
                answers: vec![],
                soa: Some(self.soa()),
                additionals: vec![],
            },
        }
    }

    fn apex(&self, name: &str, qtype: RecordType) -> Option<Vec<Rr>> {
        let mut out = vec![];
        if matches!(qtype, RecordType::SOA | RecordType::ANY) {
            out.push(self.soa());
        }
        if matches!(qtype, RecordType::NS | RecordType::ANY) {
            out.push(Rr { name: name.to_string(), data: RData::Ns(self.fqdn("ns.dns")) });
        }
        Some(out)
    }

    fn addresses<'a>(&self, name: &str, ips: impl Iterator<Item = IpAddr> + 'a, qtype: RecordType) -> Vec<Rr> {
        let mut out: Vec<Rr> = vec![];
        for ip in ips.filter(|ip| wants_address(qtype, ip)) {
            let rr = Rr { name: name.to_string(), data: RData::A(ip) };
            // The same pod can be in two subsets (one per port set): one record each.
            if !out.contains(&rr) {
                out.push(rr);
            }
        }
        out
    }

    fn service(&self, name: &str, ns: &str, svc: &str, qtype: RecordType) -> Option<Vec<Rr>> {
        let service = self.services.get(&(ns.to_string(), svc.to_string()))?;
        Some(match &service.kind {
            // A CNAME answers every type; the resolver follows it (this server
            // has no upstream to chase it with).
            Kind::ExternalName(target) => {
                vec![Rr { name: name.to_string(), data: RData::Cname(target.clone()) }]
            }
            Kind::ClusterIp(ips) => self.addresses(name, ips.iter().copied(), qtype),
            Kind::Headless => self.addresses(name, self.ready_addresses(ns, svc).map(|a| a.ip), qtype),
        })
    }

    fn endpoint(&self, name: &str, ns: &str, svc: &str, host: &str, qtype: RecordType) -> Option<Vec<Rr>> {
        let service = self.services.get(&(ns.to_string(), svc.to_string()))?;
        if service.kind != Kind::Headless {
            return None;
        }
        let ips: Vec<IpAddr> = self.ready_addresses(ns, svc).filter(|a| a.label == host).map(|a| a.ip).collect();
        if ips.is_empty() {
            return None;
        }
        Some(self.addresses(name, ips.into_iter(), qtype))
    }

    /// Whether the service answers SRV questions for its own name (not an ExternalName).
    fn has_srv(&self, ns: &str, svc: &str) -> bool {
        self.services.get(&(ns.to_string(), svc.to_string())).is_some_and(|s| !matches!(s.kind, Kind::ExternalName(_)))
    }

    /// SRV records of a service: for the named `port` and `proto`
    /// (`_port._proto.<svc>...`), or for every port when `None` (`<svc>...`).
    fn srv(&self, name: &str, ns: &str, svc: &str, port: Option<(&str, &str)>, qtype: RecordType) -> Answer {
        let Some(service) = self.services.get(&(ns.to_string(), svc.to_string())) else {
            return self.answer(None, vec![]);
        };
        let wanted = |p: &Port| match port {
            Some((port, proto)) => !p.name.is_empty() && p.name == port && p.protocol == proto,
            None => true,
        };
        if port.is_some() && !service.ports.iter().any(wanted) {
            return self.answer(None, vec![]);
        }
        let service_name = format!("{svc}.{ns}.svc.{}", self.domain);
        // (target, port, the target's addresses) for every SRV record.
        let mut targets: Vec<(String, u16, Vec<IpAddr>)> = vec![];
        match &service.kind {
            Kind::ExternalName(_) => return self.answer(None, vec![]),
            Kind::ClusterIp(ips) => {
                for p in service.ports.iter().filter(|p| wanted(p)) {
                    targets.push((service_name.clone(), p.port, ips.clone()));
                }
            }
            Kind::Headless => {
                // One record per ready pod, at the port its endpoints list under that name.
                let subsets = self.endpoints.get(&(ns.to_string(), svc.to_string())).into_iter().flatten();
                for subset in subsets {
                    for p in subset.ports.iter().filter(|p| wanted(p)) {
                        for a in &subset.addresses {
                            targets.push((format!("{}.{service_name}", a.label), p.port, vec![a.ip]));
                        }
                    }
                }
            }
        }
        let mut answers: Vec<Rr> = vec![];
        let mut additionals: Vec<Rr> = vec![];
        for (target, p, ips) in targets {
            let rr = Rr {
                name: name.to_string(),
                data: RData::Srv { priority: 0, weight: 0, port: p, target: target.clone() },
            };
            if !answers.contains(&rr) {
                answers.push(rr);
            }
            for ip in ips {
                let rr = Rr { name: target.clone(), data: RData::A(ip) };
                if !additionals.contains(&rr) {
                    additionals.push(rr);
                }
            }
        }
        // Equal shares of 100 among the records, as CoreDNS weighs them.
        let weight = u16::try_from(100 / answers.len().max(1)).unwrap_or(100);
        for rr in &mut answers {
            if let RData::Srv { weight: w, .. } = &mut rr.data {
                *w = weight;
            }
        }
        if !matches!(qtype, RecordType::SRV | RecordType::ANY) {
            // The name exists (it has SRV records), just not with this type.
            return self.answer(Some(vec![]), vec![]);
        }
        self.answer(Some(answers), additionals)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    fn svc(ns: &str, name: &str, spec: Value) -> k8s::Service {
        let v =
            json!({"apiVersion": "v1", "kind": "Service", "metadata": {"namespace": ns, "name": name}, "spec": spec});
        serde_json::from_value(v).expect("a service")
    }

    fn eps(ns: &str, name: &str, subsets: Value) -> Endpoints {
        let v = json!({"apiVersion": "v1", "kind": "Endpoints", "metadata": {"namespace": ns, "name": name}, "subsets": subsets});
        serde_json::from_value(v).expect("endpoints")
    }

    /// A small cluster: a ClusterIP service, a headless one with two ready
    /// pods (one with a hostname) and one unready, and an ExternalName.
    fn cluster() -> Records {
        let mut r = Records::new("cluster.local");
        r.apply_service(&svc(
            "default",
            "kubia",
            json!({"clusterIP": "10.96.0.20", "clusterIPs": ["10.96.0.20"],
                   "ports": [{"name": "http", "port": 80, "protocol": "TCP", "targetPort": 8080}]}),
        ));
        r.apply_endpoints(&eps(
            "default",
            "kubia",
            json!([{"addresses": [{"ip": "10.244.0.7"}], "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}]}]),
        ));
        r.apply_service(&svc(
            "default",
            "db",
            json!({"clusterIP": "None", "ports": [{"name": "pg", "port": 5432, "protocol": "TCP"}]}),
        ));
        r.apply_endpoints(&eps(
            "default",
            "db",
            json!([{
                "addresses": [{"ip": "10.244.0.5", "hostname": "db-0"}, {"ip": "10.244.0.6"}],
                "notReadyAddresses": [{"ip": "10.244.0.9", "hostname": "db-2"}],
                "ports": [{"name": "pg", "port": 5432, "protocol": "TCP"}],
            }]),
        ));
        r.apply_service(&svc("prod", "search", json!({"type": "ExternalName", "externalName": "search.example.com."})));
        r
    }

    fn ips(a: &Answer) -> Vec<String> {
        a.answers
            .iter()
            .map(|rr| match &rr.data {
                RData::A(ip) => ip.to_string(),
                RData::Cname(t) => format!("CNAME {t}"),
                RData::Srv { priority, weight, port, target } => format!("SRV {priority} {weight} {port} {target}"),
                other => format!("{other:?}"),
            })
            .collect()
    }

    #[test]
    fn answers_table() {
        let r = cluster();
        use Rcode::*;
        use RecordType as T;
        let cases: &[(&str, RecordType, Rcode, &[&str])] = &[
            ("kubia.default.svc.cluster.local", T::A, NoError, &["10.96.0.20"]),
            // Case-insensitive and trailing-dot tolerant.
            ("KUBIA.Default.SVC.cluster.LOCAL.", T::A, NoError, &["10.96.0.20"]),
            // The name exists but has no IPv6 address: NODATA, not NXDOMAIN,
            // or resolvers asking A and AAAA together would give up.
            ("kubia.default.svc.cluster.local", T::AAAA, NoError, &[]),
            ("nope.default.svc.cluster.local", T::A, NxDomain, &[]),
            ("kubia.other.svc.cluster.local", T::A, NxDomain, &[]),
            // Headless: the ready addresses only.
            ("db.default.svc.cluster.local", T::A, NoError, &["10.244.0.5", "10.244.0.6"]),
            ("db-0.db.default.svc.cluster.local", T::A, NoError, &["10.244.0.5"]),
            ("10-244-0-6.db.default.svc.cluster.local", T::A, NoError, &["10.244.0.6"]),
            ("db-2.db.default.svc.cluster.local", T::A, NxDomain, &[]),
            // Per-endpoint names exist only under headless services.
            ("10-244-0-7.kubia.default.svc.cluster.local", T::A, NxDomain, &[]),
            ("search.prod.svc.cluster.local", T::A, NoError, &["CNAME search.example.com"]),
            ("search.prod.svc.cluster.local", T::CNAME, NoError, &["CNAME search.example.com"]),
            (
                "_http._tcp.kubia.default.svc.cluster.local",
                T::SRV,
                NoError,
                &["SRV 0 100 80 kubia.default.svc.cluster.local"],
            ),
            (
                "_pg._tcp.db.default.svc.cluster.local",
                T::SRV,
                NoError,
                &[
                    "SRV 0 50 5432 db-0.db.default.svc.cluster.local",
                    "SRV 0 50 5432 10-244-0-6.db.default.svc.cluster.local",
                ],
            ),
            ("_http._udp.kubia.default.svc.cluster.local", T::SRV, NxDomain, &[]),
            // SRV of a service's own name: a record per port (per ready pod, if headless).
            ("kubia.default.svc.cluster.local", T::SRV, NoError, &["SRV 0 100 80 kubia.default.svc.cluster.local"]),
            (
                "db.default.svc.cluster.local",
                T::SRV,
                NoError,
                &[
                    "SRV 0 50 5432 db-0.db.default.svc.cluster.local",
                    "SRV 0 50 5432 10-244-0-6.db.default.svc.cluster.local",
                ],
            ),
            ("search.prod.svc.cluster.local", T::SRV, NoError, &["CNAME search.example.com"]),
            ("_http._tcp.kubia.default.svc.cluster.local", T::A, NoError, &[]),
            ("10-244-1-9.default.pod.cluster.local", T::A, NoError, &["10.244.1.9"]),
            ("10-244-1-999.default.pod.cluster.local", T::A, NxDomain, &[]),
            ("10-244-1.default.pod.cluster.local", T::A, NxDomain, &[]),
            // Intermediate names exist (empty non-terminals).
            ("default.svc.cluster.local", T::A, NoError, &[]),
            ("svc.cluster.local", T::A, NoError, &[]),
            ("empty.svc.cluster.local", T::A, NxDomain, &[]),
            ("cluster.local", T::A, NoError, &[]),
            ("a.b.c.d.e.f.cluster.local", T::A, NxDomain, &[]),
            // Outside the domain: refused, there is no upstream.
            ("example.com", T::A, Refused, &[]),
            ("notcluster.local", T::A, Refused, &[]),
        ];
        for (name, qtype, rcode, want) in cases {
            let a = r.lookup(name, *qtype);
            assert_eq!(a.rcode, *rcode, "{name} {qtype}");
            assert_eq!(ips(&a), *want, "{name} {qtype}");
            if *rcode == Refused {
                assert!(!a.authoritative && a.soa.is_none(), "{name}");
            } else {
                assert!(a.authoritative, "{name}");
                // Negative answers carry the SOA, so they are cached for the TTL only.
                assert_eq!(a.soa.is_some(), a.answers.is_empty(), "{name} {qtype}");
            }
        }
    }

    #[test]
    fn srv_additionals_hold_the_targets_addresses() {
        let a = cluster().lookup("_pg._tcp.db.default.svc.cluster.local", RecordType::SRV);
        let extra: Vec<(String, RData)> = a.additionals.into_iter().map(|rr| (rr.name, rr.data)).collect();
        assert_eq!(
            extra,
            vec![
                ("db-0.db.default.svc.cluster.local".to_string(), RData::A("10.244.0.5".parse().unwrap())),
                ("10-244-0-6.db.default.svc.cluster.local".to_string(), RData::A("10.244.0.6".parse().unwrap())),
            ]
        );
    }

    /// Chapter 10: the headless kubia service over a StatefulSet's pods, whose
    /// endpoints carry their hostnames.
    #[test]
    fn a_statefulsets_pods_resolve_by_name_and_in_the_services_srv_answer() {
        let mut r = Records::new("cluster.local");
        r.apply_service(&svc(
            "default",
            "kubia",
            json!({"clusterIP": "None", "ports": [{"name": "http", "port": 80, "protocol": "TCP"}]}),
        ));
        r.apply_endpoints(&eps(
            "default",
            "kubia",
            json!([{"addresses": [{"ip": "10.244.1.4", "hostname": "kubia-0"}, {"ip": "10.244.2.5", "hostname": "kubia-1"}],
                    "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}]}]),
        ));
        assert_eq!(ips(&r.lookup("kubia-0.kubia.default.svc.cluster.local", RecordType::A)), ["10.244.1.4"]);
        assert_eq!(ips(&r.lookup("kubia-1.kubia.default.svc.cluster.local", RecordType::A)), ["10.244.2.5"]);
        let srv = r.lookup("kubia.default.svc.cluster.local", RecordType::SRV);
        assert_eq!(
            ips(&srv),
            [
                "SRV 0 50 8080 kubia-0.kubia.default.svc.cluster.local",
                "SRV 0 50 8080 kubia-1.kubia.default.svc.cluster.local"
            ]
        );
        let extra: Vec<String> = srv.additionals.iter().map(|rr| rr.name.clone()).collect();
        assert_eq!(extra, ["kubia-0.kubia.default.svc.cluster.local", "kubia-1.kubia.default.svc.cluster.local"]);
        assert_eq!(ips(&r.lookup("_http._tcp.kubia.default.svc.cluster.local", RecordType::SRV)), ips(&srv));
        assert_eq!(ips(&r.lookup("kubia.default.svc.cluster.local", RecordType::A)), ["10.244.1.4", "10.244.2.5"]);
    }

    #[test]
    fn apex_answers_soa_and_ns() {
        let r = cluster();
        let soa = r.lookup("cluster.local.", RecordType::SOA);
        assert_eq!(soa.rcode, Rcode::NoError);
        assert!(
            matches!(&soa.answers[..], [Rr { data: RData::Soa { mname, .. }, .. }] if mname == "ns.dns.cluster.local")
        );
        let ns = r.lookup("cluster.local", RecordType::NS);
        assert_eq!(ns.answers[0].data, RData::Ns("ns.dns.cluster.local".into()));
    }

    #[test]
    fn changes_and_deletions_are_seen() {
        let mut r = cluster();
        let serial = |r: &Records| match r.soa().data {
            RData::Soa { serial, .. } => serial,
            _ => unreachable!(),
        };
        let s0 = serial(&r);

        // A pod turns unready: it leaves the headless answer.
        r.apply_endpoints(&eps(
            "default",
            "db",
            json!([{"addresses": [{"ip": "10.244.0.5", "hostname": "db-0"}],
                    "notReadyAddresses": [{"ip": "10.244.0.6"}]}]),
        ));
        assert_eq!(ips(&r.lookup("db.default.svc.cluster.local", RecordType::A)), ["10.244.0.5"]);
        // No endpoints at all: the headless name still exists, without addresses.
        r.delete_endpoints(&eps("default", "db", json!([])));
        let a = r.lookup("db.default.svc.cluster.local", RecordType::A);
        assert_eq!((a.rcode, a.answers.len()), (Rcode::NoError, 0));

        r.delete_service(&svc("default", "kubia", json!({})));
        assert_eq!(r.lookup("kubia.default.svc.cluster.local", RecordType::A).rcode, Rcode::NxDomain);
        assert!(serial(&r) > s0, "the SOA serial moves with every change");
    }

    #[test]
    fn a_service_without_an_ip_yet_is_nodata_and_dual_stack_answers_aaaa() {
        let mut r = Records::new("cluster.local.");
        r.apply_service(&svc("default", "pending", json!({"ports": [{"port": 80}]})));
        let a = r.lookup("pending.default.svc.cluster.local", RecordType::A);
        assert_eq!((a.rcode, a.answers.len()), (Rcode::NoError, 0));

        r.apply_service(&svc(
            "default",
            "dual",
            json!({"clusterIP": "10.96.0.30", "clusterIPs": ["10.96.0.30", "fd00::30"]}),
        ));
        assert_eq!(ips(&r.lookup("dual.default.svc.cluster.local", RecordType::AAAA)), ["fd00::30"]);
        assert_eq!(ips(&r.lookup("dual.default.svc.cluster.local", RecordType::A)), ["10.96.0.30"]);
    }

    #[test]
    fn another_domain_is_served_as_configured() {
        let mut r = Records::new("Corp.Example");
        r.apply_service(&svc("default", "web", json!({"clusterIP": "10.96.0.40"})));
        assert_eq!(ips(&r.lookup("web.default.svc.corp.example", RecordType::A)), ["10.96.0.40"]);
        assert_eq!(r.lookup("web.default.svc.cluster.local", RecordType::A).rcode, Rcode::Refused);
    }
}
