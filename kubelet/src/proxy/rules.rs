//! The pure half of the node proxy: from the cluster's Services and Endpoints,
//! which sockets this node listens on and where each one relays to. The
//! runtime half (mod.rs) only brings the node in line with what this computes.
//!
//! As kube-proxy does, a service port gets:
//! - `ClusterIP:port` (the ClusterIP sits on the node's `lo`),
//! - `0.0.0.0:nodePort` for `NodePort` and `LoadBalancer` services,
//! - `<node IP>:port` for `LoadBalancer` services, whose EXTERNAL-IPs are the
//!   nodes' addresses (k3s's ServiceLB model),
//!
//! and relays to the ready endpoint addresses of the port with the same name.
//! Headless and ExternalName services have nothing to proxy; kube-system/kube-dns
//! is answered by the node-local DNS server on its ClusterIP itself.

use client::Object;
use k8s_openapi::api::core::v1::{Endpoints, Service, ServiceSpec};
use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

/// Kubernetes' default `sessionAffinityConfig.clientIP.timeoutSeconds` (3 hours).
pub const DEFAULT_AFFINITY_TIMEOUT: Duration = Duration::from_secs(10800);

/// One port of one service: `namespace/name:port-name` (the name may be empty).
pub type ServicePort = String;

/// Where a service port's connections go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// Ready endpoint addresses, in the Endpoints object's order.
    pub backends: Vec<SocketAddr>,
    /// `sessionAffinity: ClientIP`: how long a client sticks to its backend.
    pub affinity: Option<Duration>,
}

/// Everything the proxy should have on this node.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    pub targets: BTreeMap<ServicePort, Target>,
    /// Socket -> the service port it serves. Only ports with at least one ready
    /// backend are listened on, so a service without endpoints refuses
    /// connections, as kube-proxy's REJECT rule does.
    pub listeners: BTreeMap<SocketAddr, ServicePort>,
    /// Every ClusterIP to put on `lo` (with or without endpoints, so that the
    /// address answers at once with a refusal rather than a timeout).
    pub cluster_ips: BTreeSet<IpAddr>,
    /// Service ports the proxy does not relay (UDP, SCTP): logged once each.
    pub unsupported: BTreeSet<ServicePort>,
}

/// The key of an object in an informer cache: `namespace/name`.
fn key(obj: &impl Object) -> String {
    format!("{}/{}", obj.namespace(), obj.name())
}

/// The ready `ip:port` addresses of an Endpoints object for the port named
/// `name` with `protocol` (`notReadyAddresses` never receive traffic).
pub fn ready_backends(endpoints: &Endpoints, name: &str, protocol: &str) -> Vec<SocketAddr> {
    let mut out = Vec::new();
    for subset in endpoints.subsets.iter().flatten() {
        let port =
            subset.ports.iter().flatten().find(|p| {
                p.name.as_deref().unwrap_or("") == name && p.protocol.as_deref().unwrap_or("TCP") == protocol
            });
        let Some(port) = port.and_then(|p| u16::try_from(p.port).ok()) else {
            continue;
        };
        for address in subset.addresses.iter().flatten() {
            if let Ok(ip) = address.ip.parse::<IpAddr>() {
                let addr = SocketAddr::new(ip, port);
                if !out.contains(&addr) {
                    out.push(addr);
                }
            }
        }
    }
    out
}

/// The session affinity timeout of a `ClientIP` service, None otherwise.
fn affinity(spec: &ServiceSpec) -> Option<Duration> {
    if spec.session_affinity.as_deref() != Some("ClientIP") {
        return None;
    }
    let config = spec.session_affinity_config.as_ref().and_then(|c| c.client_ip.as_ref());
    let secs = config.and_then(|c| c.timeout_seconds).and_then(|s| u64::try_from(s).ok());
    Some(secs.map(Duration::from_secs).unwrap_or(DEFAULT_AFFINITY_TIMEOUT))
}

fn port_u16(port: i32) -> Option<u16> {
    u16::try_from(port).ok().filter(|p| *p != 0)
}

/// Computes what this node proxies. `endpoints` is looked up by `namespace/name`.
pub fn plan<'a>(
    services: impl IntoIterator<Item = &'a Service>,
    endpoints: impl Fn(&str) -> Option<std::sync::Arc<Endpoints>>,
    node_ip: IpAddr,
) -> Plan {
    let mut plan = Plan::default();
    for service in services {
        let svc = key(service);
        let Some(spec) = &service.spec else { continue };
        let kind = spec.type_.as_deref().unwrap_or("ClusterIP");
        if kind == "ExternalName" || svc == "kube-system/kube-dns" {
            continue;
        }
        let cluster_ip = spec.cluster_ip.as_deref().and_then(|ip| ip.parse::<IpAddr>().ok());
        // Headless ("None") services are DNS-only; one without an IP yet is not ready to proxy.
        let Some(cluster_ip) = cluster_ip else { continue };
        plan.cluster_ips.insert(cluster_ip);
        let eps = endpoints(&svc);
        let node_ports = matches!(kind, "NodePort" | "LoadBalancer");
        for port in spec.ports.iter().flatten() {
            let name = port.name.as_deref().unwrap_or("");
            let protocol = port.protocol.as_deref().unwrap_or("TCP");
            let id = format!("{svc}:{name}");
            if protocol != "TCP" {
                plan.unsupported.insert(format!("{id}/{protocol}"));
                continue;
            }
            let Some(service_port) = port_u16(port.port) else { continue };
            let backends = eps.as_deref().map(|e| ready_backends(e, name, protocol)).unwrap_or_default();
            if !backends.is_empty() {
                plan.listeners.insert(SocketAddr::new(cluster_ip, service_port), id.clone());
                if node_ports {
                    if let Some(node_port) = port.node_port.and_then(port_u16) {
                        plan.listeners.insert(SocketAddr::new([0, 0, 0, 0].into(), node_port), id.clone());
                    }
                }
                if kind == "LoadBalancer" {
                    plan.listeners.insert(SocketAddr::new(node_ip, service_port), id.clone());
                }
            }
            plan.targets.insert(id, Target { backends, affinity: affinity(spec) });
        }
    }
    plan
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};
    use std::collections::HashMap;
    use std::sync::Arc;

    const NODE: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(10, 244, 0, 5));

    fn addr(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    fn decode<K: Object>(v: &Value) -> K {
        serde_json::from_value(v.clone()).expect("a service or endpoints")
    }

    /// The plan for Services and Endpoints given in their JSON form.
    fn run(services: &[Value], endpoints: &[Value]) -> Plan {
        let services: Vec<Service> = services.iter().map(decode).collect();
        let endpoints: Vec<Endpoints> = endpoints.iter().map(decode).collect();
        let by_key: HashMap<String, Arc<Endpoints>> = endpoints.into_iter().map(|e| (key(&e), Arc::new(e))).collect();
        plan(&services, |k| by_key.get(k).cloned(), NODE)
    }

    fn kubia_endpoints() -> Value {
        json!({"metadata": {"namespace": "default", "name": "kubia"}, "subsets": [{
            "addresses": [{"ip": "10.244.1.2"}, {"ip": "10.244.1.3"}],
            "notReadyAddresses": [{"ip": "10.244.1.4"}],
            "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}, {"name": "https", "port": 8443, "protocol": "TCP"}]
        }]})
    }

    #[test]
    fn a_cluster_ip_port_relays_to_the_ready_endpoints_of_the_same_name() {
        let svc = json!({"metadata": {"namespace": "default", "name": "kubia"}, "spec": {
            "clusterIP": "10.96.3.4",
            "ports": [{"name": "http", "port": 80, "targetPort": 8080}, {"name": "https", "port": 443, "targetPort": "https"}]
        }});
        let plan = run(&[svc], &[kubia_endpoints()]);
        assert_eq!(plan.cluster_ips, BTreeSet::from(["10.96.3.4".parse().unwrap()]));
        assert_eq!(
            plan.listeners,
            BTreeMap::from([
                (addr("10.96.3.4:80"), "default/kubia:http".to_string()),
                (addr("10.96.3.4:443"), "default/kubia:https".to_string()),
            ])
        );
        // The not-ready pod 10.244.1.4 gets nothing.
        assert_eq!(plan.targets["default/kubia:http"].backends, vec![addr("10.244.1.2:8080"), addr("10.244.1.3:8080")]);
        assert_eq!(
            plan.targets["default/kubia:https"].backends,
            vec![addr("10.244.1.2:8443"), addr("10.244.1.3:8443")]
        );
        assert_eq!(plan.targets["default/kubia:http"].affinity, None);
    }

    #[test]
    fn an_unnamed_single_port_matches_the_unnamed_endpoint_port() {
        let svc = json!({"metadata": {"namespace": "ns", "name": "one"}, "spec": {
            "clusterIP": "10.96.0.20", "ports": [{"port": 80, "protocol": "TCP", "targetPort": 8080}]
        }});
        let eps = json!({"metadata": {"namespace": "ns", "name": "one"}, "subsets": [
            {"addresses": [{"ip": "10.244.2.2"}], "ports": [{"port": 8080}]}
        ]});
        let plan = run(&[svc], &[eps]);
        assert_eq!(plan.targets["ns/one:"].backends, vec![addr("10.244.2.2:8080")]);
        assert_eq!(plan.listeners[&addr("10.96.0.20:80")], "ns/one:");
    }

    #[test]
    fn no_ready_endpoint_means_the_ip_but_no_listener() {
        let svc = json!({"metadata": {"namespace": "default", "name": "idle"}, "spec": {
            "clusterIP": "10.96.0.30", "type": "NodePort", "ports": [{"port": 80, "nodePort": 30080}]
        }});
        let eps = json!({"metadata": {"namespace": "default", "name": "idle"}, "subsets": [
            {"notReadyAddresses": [{"ip": "10.244.2.2"}], "ports": [{"port": 8080}]}
        ]});
        let plan = run(std::slice::from_ref(&svc), &[eps]);
        assert!(plan.listeners.is_empty());
        assert!(plan.cluster_ips.contains(&"10.96.0.30".parse::<IpAddr>().unwrap()));
        assert_eq!(plan.targets["default/idle:"].backends, vec![]);
        // No Endpoints object at all: the same.
        assert!(run(&[svc], &[]).listeners.is_empty());
    }

    #[test]
    fn node_port_and_load_balancer_listen_on_the_node_too() {
        let np = json!({"metadata": {"namespace": "default", "name": "kubia"}, "spec": {
            "type": "NodePort", "clusterIP": "10.96.3.4",
            "ports": [{"name": "http", "port": 80, "nodePort": 30123}]
        }});
        let plan = run(&[np], &[kubia_endpoints()]);
        assert_eq!(
            plan.listeners.keys().copied().collect::<Vec<_>>(),
            vec![addr("0.0.0.0:30123"), addr("10.96.3.4:80")]
        );

        let lb = json!({"metadata": {"namespace": "default", "name": "kubia"}, "spec": {
            "type": "LoadBalancer", "clusterIP": "10.96.3.4",
            "ports": [{"name": "http", "port": 8080, "nodePort": 31000}]
        }});
        let plan = run(&[lb], &[kubia_endpoints()]);
        assert_eq!(
            plan.listeners,
            BTreeMap::from([
                (addr("0.0.0.0:31000"), "default/kubia:http".to_string()),
                (addr("10.96.3.4:8080"), "default/kubia:http".to_string()),
                (addr("10.244.0.5:8080"), "default/kubia:http".to_string()),
            ])
        );
    }

    #[test]
    fn headless_external_name_and_kube_dns_are_not_proxied() {
        let headless = json!({"metadata": {"namespace": "default", "name": "kubia"}, "spec": {
            "clusterIP": "None", "ports": [{"name": "http", "port": 80}]
        }});
        let external = json!({"metadata": {"namespace": "default", "name": "ext"}, "spec": {
            "type": "ExternalName", "externalName": "example.com"
        }});
        let dns = json!({"metadata": {"namespace": "kube-system", "name": "kube-dns"}, "spec": {
            "clusterIP": "10.96.0.10",
            "ports": [{"name": "dns", "port": 53, "protocol": "UDP"}, {"name": "dns-tcp", "port": 53, "protocol": "TCP"}]
        }});
        let dns_eps = json!({"metadata": {"namespace": "kube-system", "name": "kube-dns"}, "subsets": [
            {"addresses": [{"ip": "10.244.0.2"}], "ports": [{"name": "dns-tcp", "port": 53}]}
        ]});
        assert_eq!(run(&[headless, external, dns], &[kubia_endpoints(), dns_eps]), Plan::default());
    }

    #[test]
    fn udp_ports_are_reported_not_proxied() {
        let svc = json!({"metadata": {"namespace": "default", "name": "syslog"}, "spec": {
            "clusterIP": "10.96.0.40", "ports": [{"name": "log", "port": 514, "protocol": "UDP"}]
        }});
        let plan = run(&[svc], &[]);
        assert!(plan.listeners.is_empty());
        assert_eq!(plan.unsupported, BTreeSet::from(["default/syslog:log/UDP".to_string()]));
    }

    #[test]
    fn client_ip_affinity_takes_the_configured_or_default_timeout() {
        let mut svc = json!({"metadata": {"namespace": "default", "name": "kubia"}, "spec": {
            "clusterIP": "10.96.3.4", "sessionAffinity": "ClientIP",
            "ports": [{"name": "http", "port": 80}]
        }});
        assert_eq!(run(&[svc.clone()], &[]).targets["default/kubia:http"].affinity, Some(DEFAULT_AFFINITY_TIMEOUT));
        svc["spec"]["sessionAffinityConfig"] = json!({"clientIP": {"timeoutSeconds": 60}});
        assert_eq!(run(&[svc], &[]).targets["default/kubia:http"].affinity, Some(Duration::from_secs(60)));
    }
}
