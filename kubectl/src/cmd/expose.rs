//! `kubectl expose`: a service in front of a pod, a controller or another
//! service, with the selector and ports kubectl finds on it.

use super::shared::parse_labels;
use super::Ctx;
use crate::cli::ExposeArgs;
use crate::error::{Error, Result};
use crate::printers;
use crate::resource;
use crate::typed::decode;
use api::k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use api::k8s_openapi::api::core::v1::{
    Pod, PodSpec, PodTemplateSpec, ReplicationController, Service, ServicePort, ServiceSpec,
};
use api::k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, LabelSelectorRequirement, ObjectMeta};
use api::k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use serde_json::Value;
use std::collections::BTreeMap;

/// The kinds `kubectl expose` accepts (kubectl's `CanBeExposed`).
const EXPOSABLE: &[&str] = &["Pod", "ReplicationController", "ReplicaSet", "Deployment", "Service"];

/// Go's `%+v` of a `[]LabelSelectorRequirement`, as kubectl quotes one it cannot use.
fn go_requirements(exprs: &[LabelSelectorRequirement]) -> String {
    let one = |e: &LabelSelectorRequirement| {
        let values = e.values.as_deref().unwrap_or(&[]).join(" ");
        format!("{{Key:{} Operator:{} Values:[{values}]}}", e.key, e.operator)
    };
    format!("[{}]", exprs.iter().map(one).collect::<Vec<_>>().join(" "))
}

type Labels = BTreeMap<String, String>;

/// Why an object gives no selector a service could use, in kubectl's words.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
enum NoSelector {
    #[error("the pod has no labels and cannot be exposed")]
    UnlabelledPod,
    #[error("the service has no pod selector set")]
    ServiceWithoutSelector,
    /// The kind, lowercase.
    #[error("invalid {0}: no selectors, therefore cannot be exposed")]
    NoMatchLabels(String),
    /// The expressions as Go prints them.
    #[error("couldn't convert expressions - \"{0}\" to map-based selector format")]
    Expressions(String),
}

/// What `expose` reads of the object it puts a service in front of: its
/// metadata, kubectl's `MapBasedSelectorForObject` (the selector, or why there
/// is none) and `PortsForObject` (port numbers with their protocols).
struct Exposed {
    meta: ObjectMeta,
    selector: std::result::Result<Labels, NoSelector>,
    ports: Vec<(i32, String)>,
}

/// The ports of a pod spec's containers; a port without a protocol is TCP.
fn container_ports(spec: Option<&PodSpec>) -> Vec<(i32, String)> {
    let ports = spec.into_iter().flat_map(|s| &s.containers).flat_map(|c| c.ports.iter().flatten());
    ports
        .map(|p| (p.container_port, p.protocol.clone().filter(|p| !p.is_empty()).unwrap_or_else(|| "TCP".into())))
        .collect()
}

fn template_ports(template: Option<&PodTemplateSpec>) -> Vec<(i32, String)> {
    container_ports(template.and_then(|t| t.spec.as_ref()))
}

/// apps/v1 Deployments and ReplicaSets: only matchLabels can become a service selector.
fn map_based(kind: &str, selector: Option<&LabelSelector>) -> std::result::Result<Labels, NoSelector> {
    let labels = selector.and_then(|s| s.match_labels.clone()).unwrap_or_default();
    if labels.is_empty() {
        return Err(NoSelector::NoMatchLabels(kind.to_ascii_lowercase()));
    }
    match selector.and_then(|s| s.match_expressions.as_deref()) {
        Some(exprs) if !exprs.is_empty() => Err(NoSelector::Expressions(go_requirements(exprs))),
        _ => Ok(labels),
    }
}

/// `obj` (a `kind`) as `expose` reads it.
fn exposed(kind: &str, obj: &Value) -> Result<Exposed> {
    let unreadable = |e: serde_json::Error| Error::msg(format!("unreadable {kind}: {e}"));
    Ok(match kind {
        "Pod" => {
            let pod: Pod = decode(obj).map_err(unreadable)?;
            let labels = pod.metadata.labels.clone().unwrap_or_default();
            let selector = if labels.is_empty() { Err(NoSelector::UnlabelledPod) } else { Ok(labels) };
            Exposed { ports: container_ports(pod.spec.as_ref()), selector, meta: pod.metadata }
        }
        "ReplicationController" => {
            let rc: ReplicationController = decode(obj).map_err(unreadable)?;
            let spec = rc.spec.unwrap_or_default();
            Exposed {
                selector: Ok(spec.selector.unwrap_or_default()),
                ports: template_ports(spec.template.as_ref()),
                meta: rc.metadata,
            }
        }
        "Service" => {
            let svc: Service = decode(obj).map_err(unreadable)?;
            let spec = svc.spec.unwrap_or_default();
            let selector = spec.selector.unwrap_or_default();
            let ports = spec.ports.iter().flatten();
            Exposed {
                selector: if selector.is_empty() { Err(NoSelector::ServiceWithoutSelector) } else { Ok(selector) },
                ports: ports.map(|p| (p.port, p.protocol.clone().unwrap_or_else(|| "TCP".into()))).collect(),
                meta: svc.metadata,
            }
        }
        "ReplicaSet" => {
            let rs: ReplicaSet = decode(obj).map_err(unreadable)?;
            let spec = rs.spec.unwrap_or_default();
            Exposed {
                selector: map_based(kind, Some(&spec.selector)),
                ports: template_ports(spec.template.as_ref()),
                meta: rs.metadata,
            }
        }
        "Deployment" => {
            let d: Deployment = decode(obj).map_err(unreadable)?;
            let spec = d.spec.unwrap_or_default();
            Exposed {
                selector: map_based(kind, Some(&spec.selector)),
                ports: template_ports(Some(&spec.template)),
                meta: d.metadata,
            }
        }
        other => return Err(Error::msg(format!("cannot expose a {other}"))),
    })
}

/// kubectl's `PortsForObject` and `MultiProtocolsForObject`: the distinct port
/// numbers, and the protocols each is served with.
fn distinct_ports(ports: &[(i32, String)]) -> (Vec<String>, BTreeMap<String, Vec<String>>) {
    let mut numbers: Vec<String> = Vec::new();
    let mut protocols: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (port, protocol) in ports {
        let key = port.to_string();
        if !numbers.contains(&key) {
            numbers.push(key.clone());
        }
        let list = protocols.entry(key).or_default();
        if !list.contains(protocol) {
            list.push(protocol.clone());
        }
    }
    (numbers, protocols)
}

/// Go's `strconv.Atoi` error for a port that is not a number.
fn atoi(text: &str) -> Result<i32> {
    let why = match text.parse::<i64>() {
        Ok(n) => match i32::try_from(n) {
            Ok(n) => return Ok(n),
            Err(_) => "value out of range",
        },
        Err(e) => match e.kind() {
            std::num::IntErrorKind::PosOverflow | std::num::IntErrorKind::NegOverflow => "value out of range",
            _ => "invalid syntax",
        },
    };
    Err(Error::msg(format!("strconv.Atoi: parsing {text:?}: {why}")))
}

/// The service `kubectl expose` creates for `obj` (a `kind`), as kubectl's
/// `createService` builds it: the selector and labels of the exposed object,
/// its ports (or `--port`), each aimed at `--target-port` or at itself.
pub fn service_for(kind: &str, obj: &Value, a: &ExposeArgs) -> Result<Value> {
    let nonempty = |o: &Option<String>| o.clone().filter(|s| !s.is_empty());
    let exposed = exposed(kind, obj)?;
    let selector = match nonempty(&a.selector) {
        Some(s) => parse_labels(&s)?,
        None => exposed.selector.map_err(|e| {
            Error::msg(format!("couldn't retrieve selectors via --selector flag or introspection: {e}"))
        })?,
    };
    if selector.is_empty() {
        return Err(Error::msg("selector must be specified"));
    }
    let headless = a.cluster_ip.as_deref() == Some("None");
    let (found_ports, protocols) = distinct_ports(&exposed.ports);
    let port_list: Vec<String> = match nonempty(&a.port) {
        Some(p) => p.split(',').map(str::to_string).collect(),
        None if found_ports.is_empty() && !headless => {
            return Err(Error::msg("couldn't find port via --port flag or introspection"));
        }
        None => found_ports,
    };
    let protocol_flag = nonempty(&a.protocol);
    let many = port_list.len() > 1;
    let mut ports: Vec<ServicePort> = Vec::new();
    for (i, text) in port_list.iter().enumerate() {
        let number = atoi(text)?;
        let name = many.then(|| format!("port-{}", i + 1));
        let protocol = match (&protocol_flag, protocols.get(text)) {
            (Some(p), _) => p.clone(),
            (None, Some(found)) if found.len() == 1 => found[0].clone(),
            (None, Some(found)) => {
                // One port served over several protocols: a service port per protocol.
                for p in found {
                    let name = format!("port-{}-{}", i + 1, p.to_ascii_lowercase());
                    ports.push(ServicePort {
                        name: Some(name),
                        port: number,
                        protocol: Some(p.clone()),
                        ..Default::default()
                    });
                }
                continue;
            }
            (None, None) => "TCP".to_string(),
        };
        ports.push(ServicePort { name, port: number, protocol: Some(protocol), ..Default::default() });
    }
    for port in &mut ports {
        port.target_port = Some(match nonempty(&a.target_port) {
            // A number aims at that port, anything else at a named container port.
            Some(t) => t.parse::<i32>().map(IntOrString::Int).unwrap_or(IntOrString::String(t)),
            None => IntOrString::Int(port.port),
        });
    }

    let labels = match nonempty(&a.labels) {
        Some(l) => parse_labels(&l)?,
        None => exposed.meta.labels.clone().unwrap_or_default(),
    };
    // Names longer than a DNS label are cut, as kubectl cuts the default name.
    let default_name: String = exposed.meta.name.as_deref().unwrap_or("").chars().take(63).collect();
    let metadata = ObjectMeta {
        name: Some(nonempty(&a.name).unwrap_or(default_name)),
        labels: (!labels.is_empty()).then_some(labels),
        ..Default::default()
    };
    let mut spec = ServiceSpec {
        selector: Some(selector),
        ports: (!ports.is_empty()).then_some(ports),
        external_ips: nonempty(&a.external_ip).map(|ip| vec![ip]),
        type_: nonempty(&a.service_type),
        cluster_ip: nonempty(&a.cluster_ip),
        ..Default::default()
    };
    if let Some(affinity) = nonempty(&a.session_affinity) {
        if affinity != "None" && affinity != "ClientIP" {
            return Err(Error::msg(format!("unknown session affinity: {affinity}")));
        }
        spec.session_affinity = Some(affinity);
    }
    let service = Service { metadata, spec: Some(spec), status: None };
    Ok(serde_json::to_value(&service).expect("a Service serializes"))
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
            crate::cmd::items(sel.info, client.list(sel.info, &ns, &Default::default()).await?)
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
    use crate::cmd::run::tests::run_args;
    use serde_json::json;

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
