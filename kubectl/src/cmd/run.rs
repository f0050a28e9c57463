//! `kubectl run`: a pod from an image (and with `--expose`, a service in front
//! of it), the imperative command of the book's chapter 2.

use super::shared::{parse_dry_run, parse_labels, print_created, DryRun};
use super::Ctx;
use crate::cli::RunArgs;
use crate::error::{Error, Result};
use crate::typed::decode;
use api::k8s_openapi::api::core::v1::{
    Container, ContainerPort, EnvVar, Pod, PodSpec, SecurityContext, Service, ServicePort, ServiceSpec,
};
use api::k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use api::k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use serde_json::{json, Value};
use std::collections::BTreeMap;

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
    let labels = match a.labels.as_deref().filter(|l| !l.is_empty()) {
        Some(l) => parse_labels(l)?,
        None => BTreeMap::from([("run".to_string(), name.to_string())]),
    };
    let mut annotations = BTreeMap::new();
    for pair in &a.annotations {
        let (k, v) = pair
            .split_once('=')
            .filter(|(k, _)| !k.is_empty())
            .ok_or_else(|| Error::msg(format!("invalid annotation format: {pair}")))?;
        annotations.insert(k.to_string(), v.to_string());
    }
    let restart = restart_policy(&a.restart)?;
    let env = a
        .env
        .iter()
        .map(|e| match e.split_once('=') {
            Some((k, v)) if is_env_var_name(k) => {
                Ok(EnvVar { name: k.to_string(), value: Some(v.to_string()), ..Default::default() })
            }
            _ => Err(Error::msg(format!("invalid env: {e}"))),
        })
        .collect::<Result<Vec<EnvVar>>>()?;
    let image_pull_policy = match a.image_pull_policy.as_str() {
        "" => None,
        p @ ("Always" | "IfNotPresent" | "Never") => Some(p.to_string()),
        other => return Err(Error::msg(format!("invalid image pull policy: {other}"))),
    };
    let args = (!a.args.is_empty()).then(|| a.args.clone());
    let container = Container {
        name: name.to_string(),
        image: Some(image.to_string()),
        env: (!env.is_empty()).then_some(env),
        image_pull_policy,
        security_context: a.privileged.then(|| SecurityContext { privileged: Some(true), ..Default::default() }),
        command: if a.command { args.clone() } else { None },
        args: if a.command { None } else { args },
        ports: a
            .port
            .as_ref()
            .map(|port| vec![ContainerPort { container_port: port.parse().expect("validated"), ..Default::default() }]),
        ..Default::default()
    };
    let pod = Pod {
        metadata: ObjectMeta {
            name: Some(name.to_string()),
            labels: Some(labels),
            annotations: (!annotations.is_empty()).then_some(annotations),
            ..Default::default()
        },
        spec: Some(PodSpec {
            containers: vec![container],
            restart_policy: Some(restart.to_string()),
            dns_policy: Some("ClusterFirst".into()),
            ..Default::default()
        }),
        status: None,
    };
    Ok(serde_json::to_value(&pod).expect("a Pod serializes"))
}

/// The service `run --expose` creates: the pod's port, selecting the pod's labels.
fn run_service(a: &RunArgs, pod: &Value) -> Value {
    let pod: Pod = decode(pod).expect("a pod pod_for built");
    let port: i32 = a.port.as_deref().and_then(|p| p.parse().ok()).unwrap_or_default();
    // Only labels the user asked for go on the service, as kubectl does.
    let asked = a.labels.as_deref().is_some_and(|l| !l.is_empty());
    let service = Service {
        metadata: ObjectMeta {
            name: pod.metadata.name.clone(),
            labels: if asked { pod.metadata.labels.clone() } else { None },
            ..Default::default()
        },
        spec: Some(ServiceSpec {
            ports: Some(vec![ServicePort {
                port,
                protocol: Some("TCP".into()),
                target_port: Some(IntOrString::Int(port)),
                ..Default::default()
            }]),
            selector: pod.metadata.labels,
            ..Default::default()
        }),
        status: None,
    };
    serde_json::to_value(&service).expect("a Service serializes")
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

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn run_args(name: &str, image: &str) -> RunArgs {
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
}
