//! `kubectl describe service`: type, IPs, and per port its target, node port
//! and ready endpoints.

use super::writer::{header, s, Writer};
use crate::printers::columns::{array_at, format_labels, int_at, string_map};
use serde_json::Value;

pub fn service(w: &mut Writer, svc: &Value, endpoints: Option<&Value>) {
    header(w, svc, true);
    w.labels("", "Labels", &api::meta::labels(svc));
    w.annotations("", "Annotations", &api::meta::annotations(svc));
    w.w(0, &format!("Selector:\t{}\n", format_labels(&string_map(svc.pointer("/spec/selector")))));
    let kind = match s(svc, &["spec", "type"]) {
        "" => "ClusterIP",
        t => t,
    };
    w.w(0, &format!("Type:\t{kind}\n"));
    if !s(svc, &["spec", "ipFamilyPolicy"]).is_empty() {
        w.w(0, &format!("IP Family Policy:\t{}\n", s(svc, &["spec", "ipFamilyPolicy"])));
    }
    let families: Vec<&str> = array_at(svc, &["spec", "ipFamilies"]).iter().filter_map(Value::as_str).collect();
    if !families.is_empty() {
        w.w(0, &format!("IP Families:\t{}\n", families.join(",")));
    }
    // An ExternalName service has no cluster IP: kubectl prints the empty field.
    w.w(0, &format!("IP:\t{}\n", s(svc, &["spec", "clusterIP"])));
    let ips: Vec<&str> = array_at(svc, &["spec", "clusterIPs"]).iter().filter_map(Value::as_str).collect();
    if !ips.is_empty() {
        w.w(0, &format!("IPs:\t{}\n", ips.join(",")));
    }
    if !s(svc, &["spec", "externalName"]).is_empty() {
        w.w(0, &format!("External Name:\t{}\n", s(svc, &["spec", "externalName"])));
    }
    let ingress: Vec<&str> =
        array_at(svc, &["status", "loadBalancer", "ingress"]).iter().map(|i| s(i, &["ip"])).collect();
    if !ingress.is_empty() {
        w.w(0, &format!("LoadBalancer Ingress:\t{}\n", ingress.join(", ")));
    }
    for p in array_at(svc, &["spec", "ports"]) {
        let name = match s(p, &["name"]) {
            "" => "<unset>",
            n => n,
        };
        let proto = match s(p, &["protocol"]) {
            "" => "TCP",
            pr => pr,
        };
        w.w(0, &format!("Port:\t{name}  {}/{proto}\n", int_at(p, &["port"])));
        let target = match p.get("targetPort") {
            Some(Value::String(t)) => t.clone(),
            Some(t) => t.to_string(),
            None => int_at(p, &["port"]).to_string(),
        };
        w.w(0, &format!("TargetPort:\t{target}/{proto}\n"));
        if int_at(p, &["nodePort"]) != 0 {
            w.w(0, &format!("NodePort:\t{name}  {}/{proto}\n", int_at(p, &["nodePort"])));
        }
        w.w(0, &format!("Endpoints:\t{}\n", format_endpoints(endpoints, s(p, &["name"]))));
    }
    let affinity = match s(svc, &["spec", "sessionAffinity"]) {
        "" => "None",
        a => a,
    };
    w.w(0, &format!("Session Affinity:\t{affinity}\n"));
    if matches!(kind, "NodePort" | "LoadBalancer") {
        let policy = match s(svc, &["spec", "externalTrafficPolicy"]) {
            "" => "Cluster",
            p => p,
        };
        w.w(0, &format!("External Traffic Policy:\t{policy}\n"));
    }
}

/// A service port's ready endpoints as kubectl prints them: `ip:port` for
/// the endpoint ports of the same name (the port number may differ per
/// subset), at most three and then `+ N more...`, or `<none>` when the
/// Endpoints has no subsets.
fn format_endpoints(endpoints: Option<&Value>, port_name: &str) -> String {
    const SHOWN: usize = 3;
    let subsets = endpoints.map_or(&[][..], |ep| array_at(ep, &["subsets"]));
    if subsets.is_empty() {
        return "<none>".to_string();
    }
    let mut all = Vec::new();
    for subset in subsets {
        let addresses = array_at(subset, &["addresses"]);
        let ports = array_at(subset, &["ports"]);
        if ports.is_empty() {
            // A headless service may have no ports.
            all.extend(addresses.iter().map(|a| s(a, &["ip"]).to_string()));
        }
        for port in ports.iter().filter(|pt| s(pt, &["name"]) == port_name) {
            let number = int_at(port, &["port"]);
            all.extend(addresses.iter().map(|a| format!("{}:{number}", s(a, &["ip"]))));
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
    use serde_json::json;

    fn now() -> Timestamp {
        "2021-10-27T10:00:00Z".parse().unwrap()
    }

    #[test]
    fn services_list_endpoints_per_port_as_kubectl() {
        let subset = |ips: &[&str], ports: Value| json!({"addresses": ips.iter().map(|ip| json!({"ip": ip})).collect::<Vec<_>>(), "ports": ports});
        let eps = json!({"subsets": [
            subset(&["10.0.0.1", "10.0.0.2"], json!([{"name": "http", "port": 8080}, {"name": "https", "port": 8443}])),
            subset(&["10.0.0.3", "10.0.0.4"], json!([{"name": "http", "port": 9090}]))]});
        assert_eq!(format_endpoints(Some(&eps), "https"), "10.0.0.1:8443,10.0.0.2:8443");
        assert_eq!(format_endpoints(Some(&eps), "http"), "10.0.0.1:8080,10.0.0.2:8080,10.0.0.3:9090 + 1 more...");
        let three = json!({"subsets": [subset(&["10.0.0.1", "10.0.0.2", "10.0.0.3"], json!([{"port": 8080}]))]});
        assert_eq!(format_endpoints(Some(&three), ""), "10.0.0.1:8080,10.0.0.2:8080,10.0.0.3:8080");
        assert_eq!(format_endpoints(Some(&json!({"metadata": {"name": "x"}})), ""), "<none>");
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
