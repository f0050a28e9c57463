//! `kubectl run` (a pod from an image) and `kubectl expose` (a service in
//! front of a pod or controller), the imperative commands of the book's chapter 2.

use super::Ctx;
use crate::cli::{ExposeArgs, RunArgs};
use crate::error::{Error, Result};
use crate::printers;
use crate::resource;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

/// `--dry-run`'s strategies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DryRun {
    None,
    Client,
    Server,
}

/// Parses `--dry-run` as kubectl does (`true`/`false` are the deprecated spellings).
pub fn parse_dry_run(v: &str) -> Result<DryRun> {
    match v {
        "" | "none" | "false" => Ok(DryRun::None),
        "client" | "true" => Ok(DryRun::Client),
        "server" => Ok(DryRun::Server),
        other => {
            Err(Error::msg(format!("Invalid dry-run value ({other}). Must be \"none\", \"server\", or \"client\".")))
        }
    }
}

/// kubectl's `parseLabels` (run's `--labels`, expose's `--selector` and `--labels`):
/// `a=b,c=d`, each with exactly one `=` and a key.
fn parse_labels(s: &str) -> Result<Map<String, Value>> {
    let mut map = Map::new();
    for spec in s.split(',') {
        let parts: Vec<&str> = spec.split('=').collect();
        if parts.len() != 2 {
            return Err(Error::msg(format!("unexpected label spec: {spec}")));
        }
        if parts[0].is_empty() {
            return Err(Error::msg("unexpected empty label key"));
        }
        map.insert(parts[0].to_string(), Value::String(parts[1].to_string()));
    }
    Ok(map)
}

/// A C identifier-ish environment variable name, as Kubernetes' `IsEnvVarName` accepts.
fn is_env_var_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || "-._".contains(c))
        && chars.all(|c| c.is_ascii_alphanumeric() || "-._".contains(c))
}

/// Whether `image` is a valid reference (`[host[:port]/]path[:tag][@digest]`), as the
/// docker reference grammar kubectl checks with defines it.
pub fn valid_image(image: &str) -> bool {
    let (rest, digest) = match image.split_once('@') {
        Some((r, d)) => (r, Some(d)),
        None => (image, None),
    };
    if let Some(d) = digest {
        let Some((alg, hex)) = d.split_once(':') else { return false };
        let alg_ok = alg.split(['-', '_', '+', '.']).all(|p| {
            let mut c = p.chars();
            c.next().is_some_and(|f| f.is_ascii_alphabetic()) && c.all(|x| x.is_ascii_alphanumeric())
        });
        if !alg_ok || hex.len() < 32 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
            return false;
        }
    }
    // A tag follows the last ':' when no '/' comes after it (otherwise it was a registry port).
    let (name, tag) = match rest.rfind(':') {
        Some(i) if !rest[i..].contains('/') => (&rest[..i], Some(&rest[i + 1..])),
        _ => (rest, None),
    };
    if let Some(t) = tag {
        let mut c = t.chars();
        let first_ok = c.next().is_some_and(|f| f.is_ascii_alphanumeric() || f == '_');
        if !first_ok || t.len() > 128 || !c.all(|x| x.is_ascii_alphanumeric() || "_.-".contains(x)) {
            return false;
        }
    }
    let mut components: Vec<&str> = name.split('/').collect();
    if components.len() > 1 && (components[0].contains(['.', ':']) || components[0] == "localhost") {
        let domain = components.remove(0);
        let (host, port) = domain.split_once(':').unwrap_or((domain, ""));
        let host_ok = !host.is_empty()
            && host.split('.').all(|l| {
                !l.is_empty() && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') && !l.starts_with('-')
            });
        if !host_ok || (domain.contains(':') && (port.is_empty() || !port.chars().all(|c| c.is_ascii_digit()))) {
            return false;
        }
    }
    let component_ok = |c: &str| {
        let bytes = c.as_bytes();
        if bytes.is_empty() || !bytes[0].is_ascii_alphanumeric() || !bytes[bytes.len() - 1].is_ascii_alphanumeric() {
            return false;
        }
        let mut i = 0;
        while i < bytes.len() {
            let b = bytes[i];
            if b.is_ascii_lowercase() || b.is_ascii_digit() {
                i += 1;
                continue;
            }
            // Separators: one '.', one or two '_', or any run of '-'.
            let run = bytes[i..].iter().take_while(|x| **x == b).count();
            let ok = match b {
                b'.' => run == 1,
                b'_' => run <= 2,
                b'-' => true,
                _ => false,
            };
            if !ok {
                return false;
            }
            i += run;
        }
        true
    };
    !components.is_empty() && components.iter().all(|c| component_ok(c))
}

/// Reads `--restart` as kubectl does.
fn restart_policy(restart: &str) -> Result<&str> {
    match restart {
        "" => Ok("Always"),
        "Always" | "OnFailure" | "Never" => Ok(restart),
        other => {
            Err(Error::msg(format!("invalid restart policy: {other}, valid values are: Always, OnFailure, Never")))
        }
    }
}

/// The checks of kubectl's `RunOptions.Validate`, in its order.
fn validate(a: &RunArgs) -> Result<(&str, &str)> {
    let Some(name) = a.name.as_deref() else {
        return Err(Error::msg("NAME is required for run"));
    };
    let Some(image) = a.image.as_deref() else {
        return Err(Error::msg("required flag(s) \"image\" not set"));
    };
    if image.is_empty() {
        return Err(Error::msg("--image is required"));
    }
    if !valid_image(image) {
        return Err(Error::msg(format!("invalid image name \"{image}\": invalid reference format")));
    }
    if a.expose && a.port.is_none() {
        return Err(Error::msg("--port must be set when exposing a service"));
    }
    if a.port.as_deref().is_some_and(|p| p.parse::<i32>().is_err()) {
        return Err(Error::msg("--port must be a number"));
    }
    Ok((name, image))
}

/// The pod `kubectl run` creates: labelled `run=NAME` unless `--labels` says otherwise,
/// with the arguments after `--` as the container's `args` (or its `command` with `--command`).
pub fn pod_for(a: &RunArgs) -> Result<Value> {
    let (name, image) = validate(a)?;
    let mut metadata = json!({"name": name});
    let labels = match a.labels.as_deref().filter(|l| !l.is_empty()) {
        Some(l) => parse_labels(l)?,
        None => Map::from_iter([("run".to_string(), Value::String(name.to_string()))]),
    };
    metadata["labels"] = Value::Object(labels);
    if !a.annotations.is_empty() {
        let mut annotations = Map::new();
        for pair in &a.annotations {
            let (k, v) = pair
                .split_once('=')
                .filter(|(k, _)| !k.is_empty())
                .ok_or_else(|| Error::msg(format!("invalid annotation format: {pair}")))?;
            annotations.insert(k.to_string(), Value::String(v.to_string()));
        }
        metadata["annotations"] = Value::Object(annotations);
    }
    let restart = restart_policy(&a.restart)?;
    let mut container = json!({"name": name, "image": image});
    if !a.env.is_empty() {
        let env: Result<Vec<Value>> = a
            .env
            .iter()
            .map(|e| match e.split_once('=') {
                Some((k, v)) if is_env_var_name(k) => Ok(json!({"name": k, "value": v})),
                _ => Err(Error::msg(format!("invalid env: {e}"))),
            })
            .collect();
        container["env"] = Value::Array(env?);
    }
    match a.image_pull_policy.as_str() {
        "" => {}
        p @ ("Always" | "IfNotPresent" | "Never") => container["imagePullPolicy"] = json!(p),
        other => return Err(Error::msg(format!("invalid image pull policy: {other}"))),
    }
    if a.privileged {
        container["securityContext"] = json!({"privileged": true});
    }
    if !a.args.is_empty() {
        container[if a.command { "command" } else { "args" }] = json!(a.args);
    }
    if let Some(port) = &a.port {
        container["ports"] = json!([{"containerPort": port.parse::<i32>().expect("validated")}]);
    }
    Ok(json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": metadata,
        "spec": {"containers": [container], "restartPolicy": restart, "dnsPolicy": "ClusterFirst"},
    }))
}

/// The service `run --expose` creates: the pod's port, selecting the pod's labels.
fn run_service(a: &RunArgs, pod: &Value) -> Value {
    let port: i32 = a.port.as_deref().and_then(|p| p.parse().ok()).unwrap_or_default();
    let mut metadata = json!({"name": pod["metadata"]["name"]});
    // Only labels the user asked for go on the service, as kubectl does.
    if a.labels.as_deref().is_some_and(|l| !l.is_empty()) {
        metadata["labels"] = pod["metadata"]["labels"].clone();
    }
    json!({
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": metadata,
        "spec": {"ports": [{"port": port, "protocol": "TCP", "targetPort": port}], "selector": pod["metadata"]["labels"]},
    })
}

/// What a client-side dry run prints for `-o yaml|json`: the object as kubectl's
/// Go structs serialize it, with their non-omitted empty fields.
fn as_printed(obj: &Value, namespace: Option<&str>) -> Value {
    let mut out = obj.clone();
    out["metadata"]["creationTimestamp"] = Value::Null;
    if let Some(ns) = namespace {
        out["metadata"]["namespace"] = json!(ns);
    }
    if out["kind"] == "Pod" {
        if let Some(cs) = out.pointer_mut("/spec/containers").and_then(Value::as_array_mut) {
            for c in cs {
                c["resources"] = json!({});
            }
        }
        out["status"] = json!({});
    } else {
        out["status"] = json!({"loadBalancer": {}});
    }
    out
}

/// Prints a created (or dry-run) object as `-o` asks: `pod/NAME created` by default.
pub(super) fn print_created(ctx: &mut Ctx, obj: &Value, output: Option<&str>, dry_run: DryRun) -> Result<()> {
    let info = api::registry::lookup(api::meta::kind(obj)).expect("pods and services are registered");
    match output {
        None => {
            let suffix = match dry_run {
                DryRun::None => "",
                DryRun::Client => " (dry run)",
                DryRun::Server => " (server dry run)",
            };
            ctx.println(&format!("{} created{suffix}", printers::kind_name(info, api::meta::name(obj))));
        }
        Some("name") => ctx.println(&printers::kind_name(info, api::meta::name(obj))),
        Some("yaml") => ctx.print(&api::codec::to_yaml(obj)),
        Some("json") => ctx.print(&api::codec::to_json(obj)),
        Some(other) => {
            return Err(Error::msg(format!(
                "unable to match a printer suitable for the output format \"{other}\", allowed formats are: \
                 json,name,yaml"
            )))
        }
    }
    Ok(())
}

pub async fn run(ctx: &mut Ctx, a: RunArgs) -> Result<()> {
    let pod = pod_for(&a)?;
    let dry_run = parse_dry_run(&a.dry_run)?;
    if dry_run == DryRun::Server {
        return Err(Error::msg("--dry-run=server is not supported by kubelab's apiserver"));
    }
    let mut objects = vec![pod.clone()];
    if a.expose {
        objects.push(run_service(&a, &pod));
    }
    for (i, obj) in objects.into_iter().enumerate() {
        let info = api::registry::lookup(api::meta::kind(&obj)).expect("pods and services are registered");
        let shown = if dry_run == DryRun::Client {
            let ns = ctx.explicit_namespace.then(|| ctx.target.namespace.clone());
            as_printed(&obj, ns.as_deref())
        } else {
            let ns = ctx.ns(info);
            let client = ctx.client().await?;
            client.create(info, &ns, &obj).await?
        };
        // kubectl's YAML printer separates every document after the first.
        if i > 0 && a.output.as_deref() == Some("yaml") {
            ctx.print("---\n");
        }
        print_created(ctx, &shown, a.output.as_deref(), dry_run)?;
    }
    Ok(())
}

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

pub async fn expose(ctx: &mut Ctx, a: ExposeArgs) -> Result<()> {
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

    fn run_args(name: &str, image: &str) -> RunArgs {
        RunArgs {
            name: Some(name.into()),
            image: Some(image.into()),
            restart: "Always".into(),
            dry_run: "none".into(),
            ..Default::default()
        }
    }

    #[test]
    fn run_builds_the_books_pod() {
        let pod = pod_for(&RunArgs { port: Some("8080".into()), ..run_args("kubia", "luksa/kubia") }).unwrap();
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

    /// Parses a `kubectl run ...` command line into its arguments.
    fn parse(line: &[&str]) -> RunArgs {
        use clap::Parser;
        let cli = crate::Cli::try_parse_from(std::iter::once("kubectl").chain(line.iter().copied())).unwrap();
        match cli.command {
            crate::cli::Command::Run(a) => a,
            other => panic!("expected run, got {other:?}"),
        }
    }

    fn error_of(line: &[&str]) -> String {
        pod_for(&parse(line)).unwrap_err().to_string()
    }

    #[test]
    fn command_lines_become_pods() {
        let a = parse(&[
            "run",
            "web",
            "--image=nginx:1.25",
            "--port=80",
            "--labels=app=web,tier=fe",
            "--env=A=1",
            "--env",
            "B=two",
            "--restart=Never",
            "--annotations=note=hi",
            "--image-pull-policy=IfNotPresent",
            "--",
            "-g",
            "daemon off;",
        ]);
        assert_eq!(
            pod_for(&a).unwrap(),
            json!({
                "apiVersion": "v1", "kind": "Pod",
                "metadata": {"name": "web", "labels": {"app": "web", "tier": "fe"}, "annotations": {"note": "hi"}},
                "spec": {"containers": [{
                    "name": "web", "image": "nginx:1.25", "imagePullPolicy": "IfNotPresent",
                    "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "two"}],
                    "args": ["-g", "daemon off;"], "ports": [{"containerPort": 80}]}],
                    "restartPolicy": "Never", "dnsPolicy": "ClusterFirst"}
            })
        );
        let cmd = pod_for(&parse(&["run", "bb", "--image=busybox", "--command", "--", "sh", "-c", "sleep 1"])).unwrap();
        assert_eq!(cmd["spec"]["containers"][0]["command"], json!(["sh", "-c", "sleep 1"]));
        assert!(cmd["spec"]["containers"][0].get("args").is_none());
        assert_eq!(cmd["metadata"]["labels"], json!({"run": "bb"}));
    }

    #[test]
    fn run_errors_read_like_kubectl() {
        assert_eq!(error_of(&["run", "--image=nginx"]), "error: NAME is required for run");
        assert_eq!(error_of(&["run", "x"]), "error: required flag(s) \"image\" not set");
        assert_eq!(error_of(&["run", "x", "--image="]), "error: --image is required");
        assert_eq!(
            error_of(&["run", "x", "--image=Nginx"]),
            "error: invalid image name \"Nginx\": invalid reference format"
        );
        assert_eq!(error_of(&["run", "x", "--image=nginx", "--port=http"]), "error: --port must be a number");
        assert_eq!(
            error_of(&["run", "x", "--image=nginx", "--expose"]),
            "error: --port must be set when exposing a service"
        );
        assert_eq!(error_of(&["run", "x", "--image=nginx", "--labels=a"]), "error: unexpected label spec: a");
        assert_eq!(error_of(&["run", "x", "--image=nginx", "--env=1A=b"]), "error: invalid env: 1A=b");
        assert_eq!(
            error_of(&["run", "x", "--image=nginx", "--restart=Sometimes"]),
            "error: invalid restart policy: Sometimes, valid values are: Always, OnFailure, Never"
        );
        assert_eq!(
            parse_dry_run("maybe").unwrap_err().to_string(),
            "error: Invalid dry-run value (maybe). Must be \"none\", \"server\", or \"client\"."
        );
        assert_eq!(parse_dry_run(&parse(&["run", "x", "--image=n", "--dry-run"]).dry_run).unwrap(), DryRun::Client);
    }

    #[test]
    fn image_references() {
        for ok in [
            "nginx",
            "nginx:1.25",
            "luksa/kubia",
            "localhost:5000/a/b:v1",
            "gcr.io/x/y@sha256:0123456789abcdef0123456789abcdef",
        ] {
            assert!(valid_image(ok), "{ok}");
        }
        for bad in ["Nginx", "nginx:", "a//b", "-a", "a:b:c", "nginx@sha256:12"] {
            assert!(!valid_image(bad), "{bad}");
        }
    }

    #[test]
    fn dry_runs_print_the_pod_as_kubectl_does() {
        let pod = pod_for(&parse(&["run", "nginx", "--image=nginx"])).unwrap();
        assert_eq!(
            api::codec::to_yaml(&as_printed(&pod, None)),
            "\
apiVersion: v1
kind: Pod
metadata:
  creationTimestamp: null
  labels:
    run: nginx
  name: nginx
spec:
  containers:
  - image: nginx
    name: nginx
    resources: {}
  dnsPolicy: ClusterFirst
  restartPolicy: Always
status: {}
"
        );
        let a = parse(&["run", "kubia", "--image=luksa/kubia", "--port=8080", "--expose"]);
        let svc = run_service(&a, &pod_for(&a).unwrap());
        assert_eq!(
            svc["spec"],
            json!({"ports": [{"port": 8080, "protocol": "TCP", "targetPort": 8080}], "selector": {"run": "kubia"}})
        );
        assert!(svc["metadata"].get("labels").is_none());
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
