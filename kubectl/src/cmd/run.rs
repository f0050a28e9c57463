//! `kubectl run`: a pod from an image (and with `--expose`, a service in front
//! of it), the imperative command of the book's chapter 2. With `-i` or
//! `--attach` it waits for the pod to run and attaches to it (printing its log
//! instead when it already finished), with `--rm` deletes what it created
//! afterwards, and with `--restart=Never` (or `OnFailure`) waits for the pod to
//! finish and exits with its container's exit code.

use super::session::{self, pod_running_timeout, AttachOptions, Attached};
use super::shared::{parse_dry_run, parse_labels, print_created, DryRun};
use super::Ctx;
use crate::cli::RunArgs;
use crate::error::{Error, Result};
use crate::printers;
use crate::typed::decode;
use api::k8s_openapi::api::core::v1::{
    Container, ContainerPort, EnvVar, Pod, PodSpec, SecurityContext, Service, ServicePort, ServiceSpec,
};
use api::k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use api::k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use api::ResourceInfo;
use client::{Client, DeleteParams};
use futures::StreamExt;
use proto::LogsRequest;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::io::Write;
use std::time::Duration;

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

/// Reads `--restart` as kubectl does: left empty, `OnFailure` for an
/// interactive pod (`-i`) and `Always` otherwise.
fn restart_policy(restart: &str, interactive: bool) -> Result<&str> {
    match restart {
        "" if interactive => Ok("OnFailure"),
        "" => Ok("Always"),
        "Always" | "OnFailure" | "Never" => Ok(restart),
        other => {
            Err(Error::msg(format!("invalid restart policy: {other}, valid values are: Always, OnFailure, Never")))
        }
    }
}

/// Whether `run` attaches to the pod: `--attach`, which defaults to `-i`.
fn attaches(a: &RunArgs) -> bool {
    a.attach.unwrap_or(a.stdin)
}

/// The checks of kubectl's `RunOptions.Validate`, in its order (after the
/// timeout, which its `Complete` reads first).
fn validate(a: &RunArgs) -> Result<(&str, &str)> {
    pod_running_timeout(&a.pod_running_timeout, "run")?;
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
    if a.tty && !a.stdin {
        return Err(Error::msg("-i/--stdin is required for containers with -t/--tty=true"));
    }
    if a.expose && a.port.is_none() {
        return Err(Error::msg("--port must be set when exposing a service"));
    }
    if a.port.as_deref().is_some_and(|p| p.parse::<i32>().is_err()) {
        return Err(Error::msg("--port must be a number"));
    }
    if !attaches(a) && a.rm {
        return Err(Error::msg("--rm should only be used for attached containers"));
    }
    if attaches(a) && parse_dry_run(&a.dry_run)? != DryRun::None {
        return Err(Error::msg(
            "--dry-run=[server|client] can't be used with attached containers options (--attach, --stdin, or --tty)",
        ));
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
    let restart = restart_policy(&a.restart, a.stdin)?;
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
        stdin: a.stdin.then_some(true),
        stdin_once: (a.stdin && !a.leave_stdin_open).then_some(true),
        tty: a.tty.then_some(true),
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
    let mut created = Vec::new();
    for obj in objects {
        let info = api::registry::lookup(api::meta::kind(&obj)).expect("pods and services are registered");
        let shown = if dry_run == DryRun::Client {
            let ns = ctx.explicit_namespace.then(|| ctx.target.namespace.clone());
            as_printed(&obj, ns.as_deref())
        } else {
            let ns = ctx.ns(info);
            let client = ctx.client().await?;
            client.create(info, &ns, &obj).await?
        };
        created.push((info, shown));
    }
    if attaches(&a) {
        let result = attach_and_wait(ctx, &a, &created[0].1).await;
        // kubectl's interrupt handler exits at once, leaving the pod behind.
        if a.rm && !matches!(result, Err(Error::Reported)) {
            remove(ctx, &created, a.quiet).await;
        }
        return result;
    }
    for (i, (_, shown)) in created.iter().enumerate() {
        // kubectl's YAML printer separates every document after the first.
        if i > 0 && a.output.as_deref() == Some("yaml") {
            ctx.print("---\n");
        }
        print_created(ctx, shown, a.output.as_deref(), dry_run)?;
    }
    Ok(())
}

/// Whether the pod is running and ready, or finished.
fn running_or_completed(pod: &Pod) -> bool {
    api::pod::is_finished(pod) || (api::pod::phase(pod) == "Running" && api::pod::is_ready(pod))
}

/// Prints a container's log so far, leaving out its first `skip` bytes (what
/// was printed already); the number of bytes the log had.
async fn print_log(ctx: &mut Ctx, client: &Client, pod: &Pod, container: &str, skip: usize) -> Result<usize> {
    let req = LogsRequest {
        namespace: pod.metadata.namespace.clone().unwrap_or_default(),
        pod: pod.metadata.name.clone().unwrap_or_default(),
        container: container.to_string(),
        tail_lines: -1,
        ..Default::default()
    };
    let mut chunks = client.logs(req).await?;
    let mut seen = 0;
    while let Some(chunk) = chunks.next().await {
        let chunk = chunk?;
        let _ = ctx.out.write_all(unseen(&chunk, seen, skip)).and_then(|_| ctx.out.flush());
        seen += chunk.len();
    }
    Ok(seen)
}

/// The part of a log chunk that starts `seen` bytes in that lies past the first `skip` bytes.
fn unseen(chunk: &[u8], seen: usize, skip: usize) -> &[u8] {
    &chunk[skip.saturating_sub(seen).min(chunk.len())..]
}

/// kubectl's `handleAttachPod`: waits for the pod to run, then attaches to it;
/// a pod that finished first has its log printed instead, and a failed attach
/// falls back to the log.
async fn attach_pod(ctx: &mut Ctx, client: &Client, pod: &Pod, opts: &AttachOptions, timeout: Duration) -> Result<()> {
    let namespace = pod.metadata.namespace.clone().unwrap_or_default();
    let name = pod.metadata.name.clone().unwrap_or_default();
    let pod = session::wait_for_pod(client, &namespace, &name, Some(timeout), running_or_completed).await?;
    let container = session::target_container(ctx, &pod, None, opts.quiet)?;
    if api::pod::is_finished(&pod) {
        return print_log(ctx, client, &pod, &container.name, 0).await.map(|_| ());
    }
    // What the container printed before the attach: kubectl prints the log
    // first. The kubelet replays it to the first attach of a `stdinOnce`
    // container (`run -i`), so there it would come twice.
    let mut printed = 0;
    if !container.stdin_once {
        let fetch = print_log(ctx, client, &pod, &container.name, 0);
        match tokio::time::timeout(Duration::from_secs(5), fetch).await {
            Ok(Ok(n)) => printed = n,
            Ok(Err(e)) => ctx.warn(&format!("warning: couldn't fetch pre-attach logs: {}", session::plain(&e))),
            Err(_) => ctx.warn("warning: couldn't fetch pre-attach logs: context deadline exceeded"),
        }
    }
    let (reason, attached) = match session::attach(ctx, &pod, opts).await {
        Ok(Attached::Ended) => return Ok(()),
        Ok(Attached::Stopped { printed }) => (format!("container not found ({:?})", container.name), printed),
        Err(Error::Reported) => return Err(Error::Reported),
        Err(e) => (session::plain(&e), 0),
    };
    ctx.warn(&format!("warning: couldn't attach to pod/{name}, falling back to streaming logs: {reason}"));
    print_log(ctx, client, &pod, &container.name, printed + attached).await.map(|_| ())
}

/// Attaches to the pod `run` created; with `--restart=Never` or `OnFailure`
/// (and stdin closing after the attach), then waits for it to finish and
/// fails with its container's exit code, as kubectl does.
async fn attach_and_wait(ctx: &mut Ctx, a: &RunArgs, created: &Value) -> Result<()> {
    let timeout = pod_running_timeout(&a.pod_running_timeout, "run")?;
    let pod: Pod = decode(created).map_err(|e| Error::msg(format!("unreadable pod: {e}")))?;
    let client = ctx.client().await?;
    let opts = AttachOptions { container: None, stdin: a.stdin, tty: a.tty, quiet: a.quiet };
    attach_pod(ctx, &client, &pod, &opts, timeout).await?;
    let restart = pod.spec.as_ref().and_then(|s| s.restart_policy.clone()).unwrap_or_default();
    if a.leave_stdin_open || !(restart == "Never" || restart == "OnFailure") {
        return Ok(());
    }
    let namespace = pod.metadata.namespace.clone().unwrap_or_default();
    let name = pod.metadata.name.clone().unwrap_or_default();
    let done = |p: &Pod| match restart.as_str() {
        // OnFailure restarts a failed container: only success ends it.
        "OnFailure" => api::pod::phase(p) == "Succeeded",
        _ => api::pod::is_finished(p),
    };
    let pod = session::wait_for_pod(&client, &namespace, &name, Some(timeout), done).await?;
    exit_status(&pod)
}

/// How `run` ends for a finished pod: success, or kubectl's error carrying the
/// container's exit code.
fn exit_status(pod: &Pod) -> Result<()> {
    let namespace = pod.metadata.namespace.as_deref().unwrap_or("");
    let name = pod.metadata.name.as_deref().unwrap_or("");
    match api::pod::phase(pod) {
        "Succeeded" => Ok(()),
        "Failed" => {
            let status = pod.status.as_ref().and_then(|s| s.container_statuses.as_ref()).and_then(|c| c.first());
            let terminated = status.and_then(|s| s.state.as_ref()).and_then(|s| s.terminated.as_ref());
            match terminated {
                Some(t) if t.exit_code != 0 => {
                    let reason = t.reason.as_deref().unwrap_or("");
                    let message = t.message.as_deref().unwrap_or("");
                    let text = format!("pod {namespace}/{name} terminated ({reason})\n{message}");
                    // kubectl ends the message with one newline, which printing it adds.
                    let text = text.strip_suffix('\n').unwrap_or(&text).to_string();
                    Err(Error::Code(text, t.exit_code))
                }
                _ => Err(Error::msg(format!("pod {namespace}/{name} failed with unknown exit code"))),
            }
        }
        phase => Err(Error::msg(format!("pod {namespace}/{name} left in phase {phase}"))),
    }
}

/// `--rm`: deletes what `run` created, as kubectl's deferred clean-up does:
/// `pod "x" deleted` for each (unless `-q`), a missing object skipped, an
/// error ignored.
async fn remove(ctx: &mut Ctx, created: &[(&'static ResourceInfo, Value)], quiet: bool) {
    let Ok(client) = ctx.client().await else { return };
    for (info, obj) in created {
        let (ns, name) = (api::meta::namespace(obj), api::meta::name(obj));
        match client.delete(info, ns, name, &DeleteParams::default()).await {
            Ok(_) if !quiet => ctx.println(&format!("{} \"{name}\" deleted", printers::qualified_singular(info))),
            Ok(_) => {}
            Err(e) if e.is_not_found() => {}
            Err(_) => return,
        }
    }
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
            pod_running_timeout: "1m0s".into(),
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
    fn interactive_pods_keep_stdin_open_until_the_first_attach_ends() {
        let a = parse(&["run", "-i", "-t", "--rm", "shell", "--image=busybox", "--restart=Never", "--", "sh"]);
        assert!(attaches(&a) && a.rm);
        let pod = pod_for(&a).unwrap();
        assert_eq!(
            pod["spec"]["containers"][0],
            json!({"name": "shell", "image": "busybox", "args": ["sh"], "stdin": true, "stdinOnce": true, "tty": true})
        );
        assert_eq!(pod["spec"]["restartPolicy"], "Never");
        let open = pod_for(&parse(&["run", "-i", "--leave-stdin-open", "x", "--image=busybox"])).unwrap();
        assert_eq!(open["spec"]["containers"][0]["stdin"], true);
        assert!(open["spec"]["containers"][0].get("stdinOnce").is_none());
        assert!(open["spec"]["containers"][0].get("tty").is_none());
        // Without -i nothing about stdin is set, and an empty --restart depends on -i.
        let plain = pod_for(&parse(&["run", "x", "--image=busybox", "--restart="])).unwrap();
        assert!(plain["spec"]["containers"][0].get("stdin").is_none());
        assert_eq!(plain["spec"]["restartPolicy"], "Always");
        let interactive = pod_for(&parse(&["run", "x", "--image=busybox", "-i", "--restart="])).unwrap();
        assert_eq!(interactive["spec"]["restartPolicy"], "OnFailure");
    }

    #[test]
    fn attach_defaults_to_stdin() {
        assert!(!attaches(&parse(&["run", "x", "--image=busybox"])));
        assert!(attaches(&parse(&["run", "x", "--image=busybox", "-i"])));
        assert!(!attaches(&parse(&["run", "x", "--image=busybox", "-i", "--attach=false"])));
        assert!(attaches(&parse(&["run", "x", "--image=busybox", "--attach"])));
        assert!(attaches(&parse(&["run", "x", "--image=busybox", "--attach=true", "--rm"])));
        let a = parse(&["run", "x", "--image=busybox", "-iq", "--pod-running-timeout=5s"]);
        assert!(a.quiet && a.stdin);
        assert_eq!(pod_running_timeout(&a.pod_running_timeout, "run").unwrap(), Duration::from_secs(5));
    }

    #[test]
    fn attach_errors_read_like_kubectl() {
        assert_eq!(
            error_of(&["run", "x", "--image=busybox", "-t"]),
            "error: -i/--stdin is required for containers with -t/--tty=true"
        );
        assert_eq!(
            error_of(&["run", "x", "--image=busybox", "--rm"]),
            "error: --rm should only be used for attached containers"
        );
        assert_eq!(
            error_of(&["run", "x", "--image=busybox", "--rm", "-i", "--attach=false"]),
            "error: --rm should only be used for attached containers"
        );
        assert_eq!(
            error_of(&["run", "x", "--image=busybox", "-i", "--dry-run=client"]),
            "error: --dry-run=[server|client] can't be used with attached containers options (--attach, --stdin, or \
             --tty)"
        );
        assert_eq!(
            error_of(&["run", "x", "--image=busybox", "--pod-running-timeout=-1s"]),
            "error: --pod-running-timeout must be higher than zero"
        );
        // Not attaching, a dry run may print the interactive pod.
        let a = parse(&["run", "x", "--image=busybox", "-it", "--attach=false", "--dry-run=client"]);
        assert_eq!(pod_for(&a).unwrap()["spec"]["containers"][0]["tty"], true);
    }

    fn finished(phase: &str, terminated: Value) -> Pod {
        decode(&json!({
            "metadata": {"name": "shell", "namespace": "default"},
            "status": {"phase": phase, "containerStatuses": [{
                "name": "shell", "image": "busybox", "imageID": "", "ready": false, "restartCount": 0,
                "state": {"terminated": terminated}}]}
        }))
        .unwrap()
    }

    #[test]
    fn a_failed_pod_ends_run_with_its_exit_code() {
        let e = exit_status(&finished("Failed", json!({"exitCode": 3, "reason": "Error"}))).unwrap_err();
        assert_eq!((e.to_string(), e.exit_code()), ("pod default/shell terminated (Error)".to_string(), 3));
        let e = exit_status(&finished(
            "Failed",
            json!({"exitCode": 137, "reason": "OOMKilled", "message": "out of memory"}),
        ))
        .unwrap_err();
        assert_eq!(
            (e.to_string(), e.exit_code()),
            ("pod default/shell terminated (OOMKilled)\nout of memory".into(), 137)
        );
        assert_eq!(
            exit_status(&finished("Failed", json!({"exitCode": 0}))).unwrap_err().to_string(),
            "error: pod default/shell failed with unknown exit code"
        );
        assert!(exit_status(&finished("Succeeded", json!({"exitCode": 0}))).is_ok());
        assert_eq!(
            exit_status(&finished("Running", json!(null))).unwrap_err().to_string(),
            "error: pod default/shell left in phase Running"
        );
    }

    #[test]
    fn attaching_waits_for_a_ready_or_finished_pod() {
        let pod = |phase: &str, ready: &str| -> Pod {
            decode(&json!({"status": {"phase": phase, "conditions": [{"type": "Ready", "status": ready}]}})).unwrap()
        };
        assert!(!running_or_completed(&pod("Pending", "False")));
        assert!(!running_or_completed(&pod("Running", "False")));
        assert!(running_or_completed(&pod("Running", "True")));
        assert!(running_or_completed(&pod("Succeeded", "False")));
        assert!(running_or_completed(&pod("Failed", "False")));
    }

    #[test]
    fn a_log_printed_before_the_attach_is_not_printed_again() {
        // 5 bytes were printed already: chunks of 3, 4 and 2 bytes.
        assert_eq!(unseen(b"abc", 0, 5), b"");
        assert_eq!(unseen(b"defg", 3, 5), b"fg");
        assert_eq!(unseen(b"hi", 7, 5), b"hi");
        assert_eq!(unseen(b"all", 0, 0), b"all");
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
