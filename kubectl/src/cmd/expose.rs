//! `kubectl expose`: a service in front of a pod, a controller or another
//! service, with the selector and ports kubectl finds on it.

use super::shared::parse_labels;
use super::Ctx;
use crate::cli::ExposeArgs;
use crate::error::{Error, Result};
use crate::printers;
use crate::resource;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

/// The kinds `kubectl expose` accepts (kubectl's `CanBeExposed`).
const EXPOSABLE: &[&str] = &["Pod", "ReplicationController", "ReplicaSet", "Deployment", "Service"];

/// Go's `%+v` of a `[]LabelSelectorRequirement`, as kubectl quotes one it cannot use.
fn go_requirements(exprs: &[Value]) -> String {
    let one = |e: &Value| {
        let values: Vec<&str> = e["values"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
        format!(
            "{{Key:{} Operator:{} Values:[{}]}}",
            e["key"].as_str().unwrap_or(""),
            e["operator"].as_str().unwrap_or(""),
            values.join(" ")
        )
    };
    format!("[{}]", exprs.iter().map(one).collect::<Vec<_>>().join(" "))
}

fn string_map(v: &Value) -> Map<String, Value> {
    v.as_object().cloned().unwrap_or_default()
}

/// kubectl's `MapBasedSelectorForObject`: the selector a service in front of
/// `obj` uses, or why there is none.
fn selector_of(kind: &str, obj: &Value) -> std::result::Result<Map<String, Value>, String> {
    match kind {
        "Pod" => {
            let labels = string_map(&obj["metadata"]["labels"]);
            if labels.is_empty() {
                return Err("the pod has no labels and cannot be exposed".into());
            }
            Ok(labels)
        }
        "ReplicationController" => Ok(string_map(&obj["spec"]["selector"])),
        "Service" => {
            let selector = string_map(&obj["spec"]["selector"]);
            if selector.is_empty() {
                return Err("the service has no pod selector set".into());
            }
            Ok(selector)
        }
        _ => {
            // apps/v1 Deployments and ReplicaSets: only matchLabels can become a service selector.
            let what = kind.to_ascii_lowercase();
            let labels = string_map(&obj["spec"]["selector"]["matchLabels"]);
            if labels.is_empty() {
                return Err(format!("invalid {what}: no selectors, therefore cannot be exposed"));
            }
            match obj["spec"]["selector"]["matchExpressions"].as_array() {
                Some(exprs) if !exprs.is_empty() => Err(format!(
                    "couldn't convert expressions - \"{}\" to map-based selector format",
                    go_requirements(exprs)
                )),
                _ => Ok(labels),
            }
        }
    }
}

/// kubectl's `PortsForObject` and `MultiProtocolsForObject`: the distinct port
/// numbers of the containers (of a pod or a controller's template) or of a
/// service, and the protocols each is served with.
fn ports_of(kind: &str, obj: &Value) -> (Vec<String>, BTreeMap<String, Vec<String>>) {
    let ports: Vec<(i64, String)> = if kind == "Service" {
        obj["spec"]["ports"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|p| Some((p["port"].as_i64()?, p["protocol"].as_str().unwrap_or("TCP").to_string())))
            .collect()
    } else {
        let spec = if kind == "Pod" { &obj["spec"] } else { &obj["spec"]["template"]["spec"] };
        spec["containers"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|c| c["ports"].as_array().into_iter().flatten())
            .filter_map(|p| {
                let protocol = p["protocol"].as_str().filter(|p| !p.is_empty()).unwrap_or("TCP");
                Some((p["containerPort"].as_i64()?, protocol.to_string()))
            })
            .collect()
    };
    let mut numbers: Vec<String> = Vec::new();
    let mut protocols: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (port, protocol) in ports {
        let key = port.to_string();
        if !numbers.contains(&key) {
            numbers.push(key.clone());
        }
        let list = protocols.entry(key).or_default();
        if !list.contains(&protocol) {
            list.push(protocol);
        }
    }
    (numbers, protocols)
}

/// The service `kubectl expose` creates for `obj` (a `kind`), as kubectl's
/// `createService` builds it: the selector and labels of the exposed object,
/// its ports (or `--port`), each aimed at `--target-port` or at itself.
pub fn service_for(kind: &str, obj: &Value, a: &ExposeArgs) -> Result<Value> {
    let nonempty = |o: &Option<String>| o.clone().filter(|s| !s.is_empty());
    let selector = match nonempty(&a.selector) {
        Some(s) => parse_labels(&s)?,
        None => selector_of(kind, obj).map_err(|e| {
            Error::msg(format!("couldn't retrieve selectors via --selector flag or introspection: {e}"))
        })?,
    };
    if selector.is_empty() {
        return Err(Error::msg("selector must be specified"));
    }
    let headless = a.cluster_ip.as_deref() == Some("None");
    let (found_ports, protocols) = ports_of(kind, obj);
    let port_list: Vec<String> = match nonempty(&a.port) {
        Some(p) => p.split(',').map(str::to_string).collect(),
        None if found_ports.is_empty() && !headless => {
            return Err(Error::msg("couldn't find port via --port flag or introspection"));
        }
        None => found_ports,
    };
    let protocol_flag = nonempty(&a.protocol);
    let many = port_list.len() > 1;
    let mut ports: Vec<Value> = Vec::new();
    for (i, text) in port_list.iter().enumerate() {
        let number: i64 = text.parse().map_err(|e: std::num::ParseIntError| {
            let why = match e.kind() {
                std::num::IntErrorKind::PosOverflow | std::num::IntErrorKind::NegOverflow => "value out of range",
                _ => "invalid syntax",
            };
            Error::msg(format!("strconv.Atoi: parsing {text:?}: {why}"))
        })?;
        let name = if many { format!("port-{}", i + 1) } else { String::new() };
        let protocol = match (&protocol_flag, protocols.get(text)) {
            (Some(p), _) => p.clone(),
            (None, Some(found)) if found.len() == 1 => found[0].clone(),
            (None, Some(found)) => {
                // One port served over several protocols: a service port per protocol.
                for p in found {
                    let name = format!("port-{}-{}", i + 1, p.to_ascii_lowercase());
                    ports.push(json!({"name": name, "port": number, "protocol": p}));
                }
                continue;
            }
            (None, None) => "TCP".to_string(),
        };
        let mut port = json!({"port": number, "protocol": protocol});
        if !name.is_empty() {
            port["name"] = json!(name);
        }
        ports.push(port);
    }
    for port in &mut ports {
        port["targetPort"] = match nonempty(&a.target_port) {
            // A number aims at that port, anything else at a named container port.
            Some(t) => t.parse::<i64>().map(Value::from).unwrap_or(Value::String(t)),
            None => port["port"].clone(),
        };
    }

    let labels = match nonempty(&a.labels) {
        Some(l) => parse_labels(&l)?,
        None => string_map(&obj["metadata"]["labels"]),
    };
    // Names longer than a DNS label are cut, as kubectl cuts the default name.
    let default_name: String = api::meta::name(obj).chars().take(63).collect();
    let name = nonempty(&a.name).unwrap_or(default_name);
    let mut metadata = json!({"name": name});
    if !labels.is_empty() {
        metadata["labels"] = Value::Object(labels);
    }
    let mut spec = json!({"selector": selector});
    if !ports.is_empty() {
        spec["ports"] = Value::Array(ports);
    }
    if let Some(ip) = nonempty(&a.external_ip) {
        spec["externalIPs"] = json!([ip]);
    }
    if let Some(t) = nonempty(&a.service_type) {
        spec["type"] = json!(t);
    }
    if let Some(affinity) = nonempty(&a.session_affinity) {
        if affinity != "None" && affinity != "ClientIP" {
            return Err(Error::msg(format!("unknown session affinity: {affinity}")));
        }
        spec["sessionAffinity"] = json!(affinity);
    }
    if let Some(ip) = nonempty(&a.cluster_ip) {
        spec["clusterIP"] = json!(ip);
    }
    Ok(json!({"apiVersion": "v1", "kind": "Service", "metadata": metadata, "spec": spec}))
}

/// A GroupKind as Go prints it: `Kind.group`, or `Kind` for the core group.
fn group_kind(info: &api::ResourceInfo) -> String {
    if info.group.is_empty() {
        info.kind.to_string()
    } else {
        format!("{}.{}", info.kind, info.group)
    }
}

pub async fn run(ctx: &mut Ctx, a: ExposeArgs) -> Result<()> {
    let selections = resource::parse_args(&a.args)?;
    super::check_selection(&selections, None, false)?;
    let services = api::registry::lookup("services").expect("services are registered");
    for sel in &selections {
        if !EXPOSABLE.contains(&sel.info.kind) {
            return Err(Error::msg(format!("cannot expose a {}", group_kind(sel.info))));
        }
        let client = ctx.client().await?;
        let ns = ctx.ns(sel.info);
        // A type without names exposes every object of it, as kubectl does.
        let objects = if sel.names.is_empty() {
            let list = client.list(sel.info, &ns, &Default::default()).await?;
            list["items"].as_array().cloned().unwrap_or_default()
        } else {
            let mut objects = Vec::new();
            for name in &sel.names {
                objects.push(client.get(sel.info, &ns, name).await?);
            }
            objects
        };
        for obj in objects {
            let svc = service_for(sel.info.kind, &obj, &a)?;
            let created = client.create(services, &ctx.ns(services), &svc).await?;
            ctx.println(&format!("{} exposed", printers::kind_name(services, api::meta::name(&created))));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::RunArgs;
    use crate::cmd::run::pod_for;

    fn run_args(name: &str, image: &str) -> RunArgs {
        RunArgs {
            name: Some(name.into()),
            image: Some(image.into()),
            restart: "Always".into(),
            dry_run: "none".into(),
            ..Default::default()
        }
    }

    /// Parses a `kubectl expose ...` command line into its arguments.
    fn expose_args(line: &[&str]) -> ExposeArgs {
        use clap::Parser;
        let cli = crate::Cli::try_parse_from(std::iter::once("kubectl").chain(line.iter().copied())).unwrap();
        match cli.command {
            crate::cli::Command::Expose(a) => a,
            other => panic!("expected expose, got {other:?}"),
        }
    }

    fn expose_error(kind: &str, obj: &Value, line: &[&str]) -> String {
        service_for(kind, obj, &expose_args(line)).unwrap_err().to_string()
    }

    /// The book's kubia pod, as `kubectl run kubia --image=luksa/kubia --port=8080` makes it.
    fn kubia_pod() -> Value {
        let mut pod = pod_for(&RunArgs { port: Some("8080".into()), ..run_args("kubia", "luksa/kubia") }).unwrap();
        pod["metadata"]["namespace"] = json!("default");
        pod
    }

    fn template(ports: Value) -> Value {
        json!({"metadata": {"labels": {"app": "kubia"}}, "spec": {"containers": [{"name": "kubia", "ports": ports}]}})
    }

    #[test]
    fn expose_pod_as_a_load_balancer_as_the_book_does() {
        let a = expose_args(&["expose", "pod", "kubia", "--type=LoadBalancer", "--name", "kubia-http"]);
        assert_eq!(
            service_for("Pod", &kubia_pod(), &a).unwrap(),
            json!({
                "apiVersion": "v1", "kind": "Service",
                "metadata": {"name": "kubia-http", "labels": {"run": "kubia"}},
                "spec": {
                    "selector": {"run": "kubia"},
                    "ports": [{"port": 8080, "protocol": "TCP", "targetPort": 8080}],
                    "type": "LoadBalancer",
                },
            })
        );
    }

    #[test]
    fn expose_rc_rs_and_deployment_use_the_controller_selector() {
        let rc = json!({"metadata": {"name": "kubia"}, "spec": {"selector": {"app": "kubia"},
            "template": template(json!([{"containerPort": 8080}]))}});
        let a = expose_args(&["expose", "rc", "kubia", "--port=80", "--target-port=8080"]);
        let svc = service_for("ReplicationController", &rc, &a).unwrap();
        assert_eq!(svc["metadata"], json!({"name": "kubia"}), "an unlabelled controller gives no labels");
        assert_eq!(
            svc["spec"],
            json!({"selector": {"app": "kubia"}, "ports": [{"port": 80, "protocol": "TCP", "targetPort": 8080}]})
        );

        for kind in ["ReplicaSet", "Deployment"] {
            let obj = json!({"metadata": {"name": "web", "labels": {"tier": "fe"}},
                "spec": {"selector": {"matchLabels": {"app": "web"}}, "template": template(json!([{"containerPort": 80}]))}});
            let svc = service_for(kind, &obj, &expose_args(&["expose", "x", "web", "--target-port=http"])).unwrap();
            assert_eq!(svc["metadata"], json!({"name": "web", "labels": {"tier": "fe"}}), "{kind}");
            assert_eq!(
                svc["spec"],
                json!({"selector": {"app": "web"}, "ports": [{"port": 80, "protocol": "TCP", "targetPort": "http"}]}),
                "{kind}: a named target port stays a name"
            );
        }
    }

    #[test]
    fn expose_a_service_copies_its_selector_and_ports() {
        let svc = json!({"metadata": {"name": "nginx", "labels": {"app": "nginx"}}, "spec": {"selector": {"app": "nginx"},
            "ports": [{"port": 80, "protocol": "TCP", "targetPort": 8080}]}});
        let a = expose_args(&["expose", "service", "nginx", "--port=443", "--target-port=8443", "--name=nginx-https"]);
        let out = service_for("Service", &svc, &a).unwrap();
        assert_eq!(out["metadata"]["name"], "nginx-https");
        assert_eq!(out["spec"]["ports"], json!([{"port": 443, "protocol": "TCP", "targetPort": 8443}]));
        // Without --port the service's own port numbers are reused, aimed at themselves.
        let out = service_for("Service", &svc, &expose_args(&["expose", "svc", "nginx", "--name=copy"])).unwrap();
        assert_eq!(out["spec"]["ports"], json!([{"port": 80, "protocol": "TCP", "targetPort": 80}]));
        let no_selector = json!({"metadata": {"name": "db"}, "spec": {"ports": [{"port": 5432}]}});
        assert_eq!(
            expose_error("Service", &no_selector, &["expose", "svc", "db"]),
            "error: couldn't retrieve selectors via --selector flag or introspection: the service has no pod selector set"
        );
    }

    #[test]
    fn several_container_ports_become_numbered_service_ports_with_their_protocols() {
        let rc = json!({"metadata": {"name": "dns"}, "spec": {"selector": {"app": "dns"}, "template": template(json!([
            {"containerPort": 8080},
            {"containerPort": 8443, "protocol": "TCP"},
            {"containerPort": 53, "protocol": "UDP"},
            {"containerPort": 53, "protocol": "TCP"},
            {"containerPort": 8080},
        ]))}});
        let svc = service_for("ReplicationController", &rc, &expose_args(&["expose", "rc", "dns"])).unwrap();
        assert_eq!(
            svc["spec"]["ports"],
            json!([
                {"name": "port-1", "port": 8080, "protocol": "TCP", "targetPort": 8080},
                {"name": "port-2", "port": 8443, "protocol": "TCP", "targetPort": 8443},
                {"name": "port-3-udp", "port": 53, "protocol": "UDP", "targetPort": 53},
                {"name": "port-3-tcp", "port": 53, "protocol": "TCP", "targetPort": 53},
            ])
        );
        // --protocol stamps every port; a --port found among the containers keeps their protocol.
        let udp = service_for("ReplicationController", &rc, &expose_args(&["expose", "rc", "dns", "--protocol=UDP"]))
            .unwrap();
        assert!(udp["spec"]["ports"].as_array().unwrap().iter().all(|p| p["protocol"] == "UDP"));
        let pod = json!({"metadata": {"name": "d", "labels": {"a": "b"}},
            "spec": {"containers": [{"ports": [{"containerPort": 5353, "protocol": "UDP"}]}]}});
        let one = service_for("Pod", &pod, &expose_args(&["expose", "pod", "d", "--port=5353"])).unwrap();
        assert_eq!(one["spec"]["ports"], json!([{"port": 5353, "protocol": "UDP", "targetPort": 5353}]));
        // --port with a list makes numbered ports too.
        let two = service_for("Pod", &pod, &expose_args(&["expose", "pod", "d", "--port=80,443"])).unwrap();
        assert_eq!(
            two["spec"]["ports"][1],
            json!({"name": "port-2", "port": 443, "protocol": "TCP", "targetPort": 443})
        );
    }

    #[test]
    fn expose_flags_for_selector_labels_ips_and_affinity() {
        let a = expose_args(&[
            "expose",
            "pod",
            "kubia",
            "--selector=app=kubia,tier=web",
            "-l",
            "team=a",
            "--external-ip=192.0.2.7",
            "--session-affinity=ClientIP",
            "--cluster-ip=None",
            "--type=NodePort",
        ]);
        let svc = service_for("Pod", &kubia_pod(), &a).unwrap();
        assert_eq!(svc["metadata"]["labels"], json!({"team": "a"}));
        assert_eq!(svc["spec"]["selector"], json!({"app": "kubia", "tier": "web"}));
        assert_eq!(svc["spec"]["externalIPs"], json!(["192.0.2.7"]));
        assert_eq!(svc["spec"]["sessionAffinity"], "ClientIP");
        assert_eq!(svc["spec"]["clusterIP"], "None");
        assert_eq!(svc["spec"]["type"], "NodePort");
        // A headless service may do without ports.
        let bare = json!({"metadata": {"name": "p", "labels": {"a": "b"}}, "spec": {"containers": [{"name": "a"}]}});
        let headless = service_for("Pod", &bare, &expose_args(&["expose", "pod", "p", "--cluster-ip=None"])).unwrap();
        assert!(headless["spec"].get("ports").is_none());
        // The default name is cut to a DNS label.
        let long = json!({"metadata": {"name": "x".repeat(70), "labels": {"a": "b"}}, "spec": {"containers": []}});
        let svc = service_for("Pod", &long, &expose_args(&["expose", "pod", "x", "--port=80"])).unwrap();
        assert_eq!(svc["metadata"]["name"].as_str().unwrap().len(), 63);
    }

    #[test]
    fn expose_errors_read_like_kubectl() {
        let bare = json!({"metadata": {"name": "p"}, "spec": {"containers": [{"name": "a"}]}});
        assert_eq!(
            expose_error("Pod", &bare, &["expose", "pod", "p"]),
            "error: couldn't retrieve selectors via --selector flag or introspection: the pod has no labels and cannot be exposed"
        );
        let labelled =
            json!({"metadata": {"name": "p", "labels": {"a": "b"}}, "spec": {"containers": [{"name": "a"}]}});
        assert_eq!(
            expose_error("Pod", &labelled, &["expose", "pod", "p"]),
            "error: couldn't find port via --port flag or introspection"
        );
        assert_eq!(
            expose_error("Pod", &labelled, &["expose", "pod", "p", "--port=http"]),
            "error: strconv.Atoi: parsing \"http\": invalid syntax"
        );
        assert_eq!(
            expose_error("Pod", &labelled, &["expose", "pod", "p", "--port=80", "--session-affinity=Sticky"]),
            "error: unknown session affinity: Sticky"
        );
        assert_eq!(
            expose_error("Pod", &labelled, &["expose", "pod", "p", "--port=80", "--selector=a"]),
            "error: unexpected label spec: a"
        );
        // The book's ReplicaSet selects with matchExpressions only.
        let rs = json!({"metadata": {"name": "kubia"}, "spec": {
            "selector": {"matchExpressions": [{"key": "app", "operator": "In", "values": ["kubia"]}]},
            "template": template(json!([{"containerPort": 8080}]))}});
        assert_eq!(
            expose_error("ReplicaSet", &rs, &["expose", "rs", "kubia"]),
            "error: couldn't retrieve selectors via --selector flag or introspection: invalid replicaset: no selectors, \
             therefore cannot be exposed"
        );
        let mut both = rs.clone();
        both["spec"]["selector"]["matchLabels"] = json!({"app": "kubia"});
        both["spec"]["selector"]["matchExpressions"]
            .as_array_mut()
            .unwrap()
            .push(json!({"key": "env", "operator": "Exists"}));
        assert_eq!(
            expose_error("Deployment", &both, &["expose", "deploy", "kubia"]),
            "error: couldn't retrieve selectors via --selector flag or introspection: couldn't convert expressions - \
             \"[{Key:app Operator:In Values:[kubia]} {Key:env Operator:Exists Values:[]}]\" to map-based selector format"
        );
        // --selector overrides what cannot be introspected.
        assert!(
            service_for("ReplicaSet", &rs, &expose_args(&["expose", "rs", "kubia", "--selector=app=kubia"])).is_ok()
        );
        let empty_rc =
            json!({"metadata": {"name": "r"}, "spec": {"template": template(json!([{"containerPort": 1}]))}});
        assert_eq!(
            expose_error("ReplicationController", &empty_rc, &["expose", "rc", "r"]),
            "error: selector must be specified"
        );
        let ds = api::registry::lookup("daemonsets").unwrap();
        assert_eq!(format!("cannot expose a {}", group_kind(ds)), "cannot expose a DaemonSet.apps");
        assert_eq!(group_kind(api::registry::lookup("nodes").unwrap()), "Node");
    }
}
