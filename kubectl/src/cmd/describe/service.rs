//! `kubectl describe service`: type, IPs, and per port its target, node port
//! and ready endpoints.

use super::writer::{header, labels_and_annotations, Writer};
use crate::printers::columns::format_map;
use api::k8s_openapi::api::core::v1::{Endpoints, Service};
use api::k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

pub fn service(w: &mut Writer, svc: &Service, endpoints: Option<&Endpoints>) {
    let spec = svc.spec.clone().unwrap_or_default();
    let nonempty = |v: &Option<String>| v.clone().filter(|v| !v.is_empty());
    header(w, &svc.metadata, true);
    labels_and_annotations(w, &svc.metadata);
    w.w(0, &format!("Selector:\t{}\n", format_map(spec.selector.as_ref())));
    let kind = nonempty(&spec.type_).unwrap_or_else(|| "ClusterIP".into());
    w.w(0, &format!("Type:\t{kind}\n"));
    if let Some(policy) = nonempty(&spec.ip_family_policy) {
        w.w(0, &format!("IP Family Policy:\t{policy}\n"));
    }
    let families = spec.ip_families.as_deref().unwrap_or(&[]);
    if !families.is_empty() {
        w.w(0, &format!("IP Families:\t{}\n", families.join(",")));
    }
    // An ExternalName service has no cluster IP: kubectl prints the empty field.
    w.w(0, &format!("IP:\t{}\n", spec.cluster_ip.as_deref().unwrap_or("")));
    let ips = spec.cluster_ips.as_deref().unwrap_or(&[]);
    if !ips.is_empty() {
        w.w(0, &format!("IPs:\t{}\n", ips.join(",")));
    }
    if let Some(name) = nonempty(&spec.external_name) {
        w.w(0, &format!("External Name:\t{name}\n"));
    }
    let ingress = svc.status.as_ref().and_then(|s| s.load_balancer.as_ref()).and_then(|l| l.ingress.as_ref());
    let ingress: Vec<&str> = ingress.into_iter().flatten().map(|i| i.ip.as_deref().unwrap_or("")).collect();
    if !ingress.is_empty() {
        w.w(0, &format!("LoadBalancer Ingress:\t{}\n", ingress.join(", ")));
    }
    for p in spec.ports.iter().flatten() {
        let name = nonempty(&p.name).unwrap_or_else(|| "<unset>".into());
        let proto = nonempty(&p.protocol).unwrap_or_else(|| "TCP".into());
        w.w(0, &format!("Port:\t{name}  {}/{proto}\n", p.port));
        let target = match &p.target_port {
            Some(IntOrString::String(t)) => t.clone(),
            Some(IntOrString::Int(t)) => t.to_string(),
            None => p.port.to_string(),
        };
        w.w(0, &format!("TargetPort:\t{target}/{proto}\n"));
        if let Some(node_port) = p.node_port.filter(|n| *n != 0) {
            w.w(0, &format!("NodePort:\t{name}  {node_port}/{proto}\n"));
        }
        w.w(0, &format!("Endpoints:\t{}\n", format_endpoints(endpoints, p.name.as_deref().unwrap_or(""))));
    }
    let affinity = nonempty(&spec.session_affinity).unwrap_or_else(|| "None".into());
    w.w(0, &format!("Session Affinity:\t{affinity}\n"));
    if matches!(kind.as_str(), "NodePort" | "LoadBalancer") {
        let policy = nonempty(&spec.external_traffic_policy).unwrap_or_else(|| "Cluster".into());
        w.w(0, &format!("External Traffic Policy:\t{policy}\n"));
    }
}

/// A service port's ready endpoints as kubectl prints them: `ip:port` for
/// the endpoint ports of the same name (the port number may differ per
/// subset), at most three and then `+ N more...`, or `<none>` when the
/// Endpoints has no subsets.
fn format_endpoints(endpoints: Option<&Endpoints>, port_name: &str) -> String {
    const SHOWN: usize = 3;
    let subsets = endpoints.and_then(|ep| ep.subsets.as_deref()).unwrap_or(&[]);
    if subsets.is_empty() {
        return "<none>".to_string();
    }
    let mut all = Vec::new();
    for subset in subsets {
        let addresses = subset.addresses.as_deref().unwrap_or(&[]);
        let ports = subset.ports.as_deref().unwrap_or(&[]);
        if ports.is_empty() {
            // A headless service may have no ports.
            all.extend(addresses.iter().map(|a| a.ip.clone()));
        }
        for port in ports.iter().filter(|pt| pt.name.as_deref().unwrap_or("") == port_name) {
            all.extend(addresses.iter().map(|a| format!("{}:{}", a.ip, port.port)));
        }
    }
    match all.len().checked_sub(SHOWN) {
        Some(more) if more > 0 => format!("{} + {more} more...", all[..SHOWN].join(",")),
        _ => all.join(","),
    }
}

#[cfg(test)]
mod tests {
    use super::super::{describe, Related};
    use super::*;
    use jiff::Timestamp;
    use serde_json::{json, Value};

    fn ep(v: &Value) -> Endpoints {
        crate::typed::decode(v).unwrap()
    }

    fn now() -> Timestamp {
        "2021-10-27T10:00:00Z".parse().unwrap()
    }

    #[test]
    fn services_list_endpoints_per_port_as_kubectl() {
        let subset = |ips: &[&str], ports: Value| json!({"addresses": ips.iter().map(|ip| json!({"ip": ip})).collect::<Vec<_>>(), "ports": ports});
        let eps = json!({"subsets": [
            subset(&["10.0.0.1", "10.0.0.2"], json!([{"name": "http", "port": 8080}, {"name": "https", "port": 8443}])),
            subset(&["10.0.0.3", "10.0.0.4"], json!([{"name": "http", "port": 9090}]))]});
        assert_eq!(format_endpoints(Some(&ep(&eps)), "https"), "10.0.0.1:8443,10.0.0.2:8443");
        assert_eq!(format_endpoints(Some(&ep(&eps)), "http"), "10.0.0.1:8080,10.0.0.2:8080,10.0.0.3:9090 + 1 more...");
        let three = json!({"subsets": [subset(&["10.0.0.1", "10.0.0.2", "10.0.0.3"], json!([{"port": 8080}]))]});
        assert_eq!(format_endpoints(Some(&ep(&three)), ""), "10.0.0.1:8080,10.0.0.2:8080,10.0.0.3:8080");
        assert_eq!(format_endpoints(Some(&ep(&json!({"metadata": {"name": "x"}}))), ""), "<none>");
        assert_eq!(format_endpoints(None, ""), "<none>");

        let svc = json!({"kind": "Service", "metadata": {"name": "ext", "namespace": "default"},
            "spec": {"type": "ExternalName", "externalName": "api.example.org", "ports": [{"port": 80, "protocol": "TCP", "targetPort": 80}],
                     "sessionAffinity": "None"}});
        let text = describe(api::registry::lookup("svc").unwrap(), &svc, &Related::default(), now());
        assert!(
            text.contains("Type:              ExternalName\nIP:                \nExternal Name:     api.example.org\n"),
            "{text}"
        );
        assert!(text.contains("Endpoints:         <none>\n"), "{text}");
    }
}
