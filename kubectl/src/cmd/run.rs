//! `kubectl run` (a pod from an image) and `kubectl expose` (a service in
//! front of a pod or controller), the imperative commands of the book's chapter 2.

use super::Ctx;
use crate::cli::{ExposeArgs, RunArgs};
use crate::error::{Error, Result};
use crate::printers;
use crate::resource;
use serde_json::{json, Map, Value};

/// Parses `a=b,c=d` (run's `--labels`, expose's `--selector`).
pub fn parse_pairs(s: &str, what: &str) -> Result<Map<String, Value>> {
    let mut map = Map::new();
    for pair in s.split(',').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').ok_or_else(|| Error::msg(format!("invalid {what} spec: {pair}")))?;
        map.insert(k.to_string(), Value::String(v.to_string()));
    }
    Ok(map)
}

/// The pod `kubectl run` creates.
pub fn pod_for(a: &RunArgs) -> Result<Value> {
    if a.image.is_empty() {
        return Err(Error::msg("--image is required"));
    }
    if !matches!(a.restart.as_str(), "Always" | "OnFailure" | "Never") {
        return Err(Error::msg(format!("invalid restart policy: {}", a.restart)));
    }
    let labels = match &a.labels {
        Some(l) => parse_pairs(l, "label")?,
        None => Map::from_iter([("run".to_string(), Value::String(a.name.clone()))]),
    };
    let mut container = json!({"name": a.name, "image": a.image});
    if let Some(port) = a.port {
        container["ports"] = json!([{"containerPort": port}]);
    }
    if !a.env.is_empty() {
        let env: Result<Vec<Value>> = a
            .env
            .iter()
            .map(|e| {
                let (k, v) = e.split_once('=').ok_or_else(|| Error::msg(format!("invalid env: {e}")))?;
                Ok(json!({"name": k, "value": v}))
            })
            .collect();
        container["env"] = Value::Array(env?);
    }
    if !a.args.is_empty() {
        container[if a.command { "command" } else { "args" }] = json!(a.args);
    }
    Ok(json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": a.name, "labels": labels},
        "spec": {"containers": [container], "restartPolicy": a.restart, "dnsPolicy": "ClusterFirst"},
    }))
}

pub async fn run(ctx: &mut Ctx, a: RunArgs) -> Result<()> {
    let pod = pod_for(&a)?;
    let info = api::registry::lookup("pods").expect("pods are registered");
    let ns = ctx.ns(info);
    let client = ctx.client().await?;
    let created = client.create(info, &ns, &pod).await?;
    ctx.println(&format!("{} created", printers::kind_name(info, api::meta::name(&created))));
    Ok(())
}

/// The selector and container ports of what is being exposed.
fn introspect(kind: &str, obj: &Value) -> (Map<String, Value>, Vec<Value>) {
    let (selector, template) = match kind {
        "Pod" => (obj.pointer("/metadata/labels"), Some(obj)),
        "ReplicationController" => (obj.pointer("/spec/selector"), obj.pointer("/spec/template")),
        _ => (obj.pointer("/spec/selector/matchLabels"), obj.pointer("/spec/template")),
    };
    let ports = template
        .and_then(|t| t.pointer("/spec/containers"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .flat_map(|c| c.get("ports").and_then(Value::as_array).cloned().unwrap_or_default())
        .collect();
    (selector.and_then(Value::as_object).cloned().unwrap_or_default(), ports)
}

/// The service `kubectl expose` creates for `obj`.
pub fn service_for(kind: &str, obj: &Value, a: &ExposeArgs) -> Result<Value> {
    let (found_selector, container_ports) = introspect(kind, obj);
    let selector = match &a.selector {
        Some(s) => parse_pairs(s, "selector")?,
        None => found_selector,
    };
    if selector.is_empty() {
        return Err(Error::msg(format!(
            "couldn't retrieve selectors via --selector flag or introspection: the {} has no labels and cannot be exposed",
            kind.to_ascii_lowercase()
        )));
    }
    let target = |default: &Value| match &a.target_port {
        Some(t) => t.parse::<i64>().map(Value::from).unwrap_or_else(|_| Value::String(t.clone())),
        None => default.clone(),
    };
    let ports: Vec<Value> = match a.port {
        Some(p) => vec![json!({"port": p, "protocol": a.protocol, "targetPort": target(&json!(p))})],
        None => {
            let many = container_ports.len() > 1;
            container_ports
                .iter()
                .enumerate()
                .map(|(i, cp)| {
                    let port = cp.get("containerPort").cloned().unwrap_or(Value::Null);
                    let protocol = cp.get("protocol").and_then(Value::as_str).unwrap_or(&a.protocol).to_string();
                    let mut sp = json!({"port": port, "protocol": protocol, "targetPort": target(&port)});
                    if many {
                        sp["name"] = Value::String(format!("port-{}", i + 1));
                    }
                    sp
                })
                .collect()
        }
    };
    if ports.is_empty() {
        return Err(Error::msg("couldn't find port via --port flag or introspection"));
    }
    let name = a.name.clone().unwrap_or_else(|| api::meta::name(obj).to_string());
    let mut spec = json!({"ports": ports, "selector": selector});
    if let Some(t) = &a.service_type {
        spec["type"] = Value::String(t.clone());
    }
    let labels = obj.pointer("/metadata/labels").cloned().unwrap_or_else(|| json!({}));
    Ok(json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "labels": labels}, "spec": spec}))
}

pub async fn expose(ctx: &mut Ctx, a: ExposeArgs) -> Result<()> {
    let selections = resource::parse_args(&a.args)?;
    let [sel] = selections.as_slice() else {
        return Err(Error::msg("You must provide one resource to expose"));
    };
    let [name] = sel.names.as_slice() else {
        return Err(Error::msg("You must provide the name of the resource to expose"));
    };
    if !matches!(sel.info.kind, "Pod" | "ReplicationController" | "ReplicaSet" | "Deployment" | "Service") {
        return Err(Error::msg(format!("cannot expose a {}", sel.info.kind)));
    }
    let client = ctx.client().await?;
    let obj = client.get(sel.info, &ctx.ns(sel.info), name).await?;
    let svc = service_for(sel.info.kind, &obj, &a)?;
    let services = api::registry::lookup("services").expect("services are registered");
    let created = client.create(services, &ctx.ns(services), &svc).await?;
    ctx.println(&format!("{} exposed", printers::kind_name(services, api::meta::name(&created))));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run_args(name: &str, image: &str) -> RunArgs {
        RunArgs { name: name.into(), image: image.into(), restart: "Always".into(), ..Default::default() }
    }

    #[test]
    fn run_builds_the_books_pod() {
        let pod = pod_for(&RunArgs { port: Some(8080), ..run_args("kubia", "luksa/kubia") }).unwrap();
        assert_eq!(pod["metadata"]["labels"], json!({"run": "kubia"}));
        assert_eq!(
            pod["spec"]["containers"][0],
            json!({"name": "kubia", "image": "luksa/kubia", "ports": [{"containerPort": 8080}]})
        );
        assert_eq!(pod["spec"]["restartPolicy"], "Always");
        let with_cmd = pod_for(&RunArgs {
            args: vec!["sleep".into(), "3600".into()],
            command: true,
            labels: Some("app=x,tier=y".into()),
            env: vec!["A=1".into()],
            ..run_args("b", "busybox")
        })
        .unwrap();
        assert_eq!(with_cmd["spec"]["containers"][0]["command"], json!(["sleep", "3600"]));
        assert_eq!(with_cmd["spec"]["containers"][0]["env"], json!([{"name": "A", "value": "1"}]));
        assert_eq!(with_cmd["metadata"]["labels"], json!({"app": "x", "tier": "y"}));
        assert!(pod_for(&RunArgs { restart: "Sometimes".into(), ..run_args("a", "b") }).is_err());
    }

    #[test]
    fn expose_takes_selector_and_ports_from_the_pod() {
        let pod = pod_for(&RunArgs { port: Some(8080), ..run_args("kubia", "luksa/kubia") }).unwrap();
        let a = ExposeArgs {
            name: Some("kubia-http".into()),
            service_type: Some("LoadBalancer".into()),
            protocol: "TCP".into(),
            ..Default::default()
        };
        let svc = service_for("Pod", &pod, &a).unwrap();
        assert_eq!(svc["metadata"]["name"], "kubia-http");
        assert_eq!(
            svc["spec"],
            json!({"ports": [{"port": 8080, "protocol": "TCP", "targetPort": 8080}], "selector": {"run": "kubia"}, "type": "LoadBalancer"})
        );
    }

    #[test]
    fn expose_needs_labels_and_ports() {
        let bare = json!({"metadata": {"name": "p"}, "spec": {"containers": [{"name": "a"}]}});
        let a = ExposeArgs { protocol: "TCP".into(), ..Default::default() };
        assert_eq!(
            service_for("Pod", &bare, &a).unwrap_err().to_string(),
            "error: couldn't retrieve selectors via --selector flag or introspection: the pod has no labels and cannot be exposed"
        );
        let labelled =
            json!({"metadata": {"name": "p", "labels": {"a": "b"}}, "spec": {"containers": [{"name": "a"}]}});
        assert_eq!(
            service_for("Pod", &labelled, &a).unwrap_err().to_string(),
            "error: couldn't find port via --port flag or introspection"
        );
        let rc = json!({"metadata": {"name": "kubia"}, "spec": {"selector": {"app": "kubia"},
            "template": {"spec": {"containers": [{"ports": [{"containerPort": 8080}, {"containerPort": 8443}]}]}}}});
        let svc = service_for("ReplicationController", &rc, &a).unwrap();
        assert_eq!(
            svc["spec"]["ports"][1],
            json!({"name": "port-2", "port": 8443, "protocol": "TCP", "targetPort": 8443})
        );
    }
}
