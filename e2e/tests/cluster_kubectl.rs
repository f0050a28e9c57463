//! The book's chapters 2 to 5 and a Deployment's life, typed into the real
//! kubectl, on the compose cluster (`./deploy/up.sh`): once with kubectl 1.20,
//! the book's readers' version, and once with a current one (both installed
//! by `deploy/tools.sh`). Each scenario is a test per kubectl, in a namespace
//! of its own; every command that succeeds must leave stderr empty, since a
//! real kubectl warns there about what it could not discover or decode.
//!
//! Run by deploy/test.sh with `cargo test -p e2e --features cluster --test cluster_kubectl`.

use e2e::{book, book_text, eventually, tools, Live, Run};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Stdio};
use std::time::Duration;

const START: Duration = Duration::from_secs(60);

/// Which real kubectl a test drives.
#[derive(Clone, Copy)]
enum Kubectl {
    V120,
    Current,
}

impl Kubectl {
    fn path(self) -> PathBuf {
        match self {
            Kubectl::V120 => tools::kubectl_120(),
            Kubectl::Current => tools::kubectl_current(),
        }
    }
    /// A namespace of its own for one scenario, named after it and the kubectl.
    fn live(self, scenario: &str) -> Live {
        let tag = match self {
            Kubectl::V120 => "k120",
            Kubectl::Current => "kcur",
        };
        Live::with_kubectl(&format!("{scenario}-{tag}"), self.path())
    }
}

/// One test per kubectl for each scenario below.
macro_rules! scenarios {
    ($($name:ident),* $(,)?) => {
        mod kubectl_1_20 {
            $( #[test] fn $name() { super::$name(super::Kubectl::V120) } )*
        }
        mod kubectl_current {
            $( #[test] fn $name() { super::$name(super::Kubectl::Current) } )*
        }
    };
}

scenarios!(
    discovery,
    cluster_info_and_nodes,
    explain,
    chapter2_run_and_expose,
    chapter3_labels_and_annotations,
    chapter3_namespaces,
    chapter3_logs_exec_and_port_forward,
    chapter4_replication_controller,
    chapter4_replica_set_daemon_set_and_job,
    chapter5_services,
    deployment_walkthrough,
    deployment_rollout_and_undo,
    proxy,
    nodes_proxy,
    chapter7_configmaps_and_secrets,
);

/// The base64 of bytes, as a Secret's `data` holds them in JSON.
fn base64(bytes: &[u8]) -> String {
    let v = serde_json::to_value(api::k8s_openapi::ByteString(bytes.to_vec())).expect("bytes encode");
    v.as_str().expect("bytes encode as a string").to_string()
}

fn book_path(path: &str) -> String {
    book(path).to_string_lossy().into_owned()
}

/// The rows of a table whose first cell is `name`.
fn row(out: &Run, name: &str) -> Vec<String> {
    out.rows()
        .into_iter()
        .find(|r| r.first().map(String::as_str) == Some(name))
        .unwrap_or_else(|| panic!("no row {name} in:\n{}", out.stdout))
}

/// Waits until `selector` selects `count` pods, then until they are Ready.
#[track_caller]
fn wait_pods(live: &Live, selector: &str, count: usize) {
    let names = || live.kubectl(&["get", "pods", "-l", selector, "-o", "name"]).stdout.lines().count();
    assert!(eventually(START, || names() == count), "{}", live.kubectl(&["get", "pods", "-l", selector]).stdout);
    wait_ready(live, &["pods", "-l", selector]);
}

/// Waits until `kubectl wait` says the pods of `target` are Ready.
#[track_caller]
fn wait_ready(live: &Live, target: &[&str]) {
    let mut args = vec!["wait", "--for=condition=Ready", "--timeout=90s"];
    args.extend_from_slice(target);
    let out = live.kubectl(&args).clean();
    assert!(out.stdout.lines().all(|l| l.ends_with("condition met")), "{}", out.stdout);
}

/// A process left running (port-forward, proxy, logs -f), killed when dropped.
struct Background(Child);

impl Drop for Background {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `args` in the background and waits for its first line on stdout
/// ("Forwarding from ...", "Starting to serve on ..."), which it returns.
fn background(live: &Live, args: &[&str]) -> (Background, String) {
    let mut child =
        live.command(args).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("start kubectl in background");
    let mut reader = BufReader::new(child.stdout.take().expect("stdout"));
    let mut first = String::new();
    let read = reader.read_line(&mut first).unwrap_or(0);
    let mut guard = Background(child);
    if read == 0 {
        let mut err = String::new();
        let _ = guard.0.stderr.take().expect("stderr").read_to_string(&mut err);
        panic!("kubectl {args:?} stopped before it printed anything: {err}");
    }
    // Keep draining stdout so the process never blocks on a full pipe.
    std::thread::spawn(move || for _ in reader.lines() {});
    (guard, first.trim().to_string())
}

/// An HTTP/1.0 GET of `path` (the answer is not chunked): status line and body.
fn http10_get(addr: &str, path: &str) -> std::io::Result<(String, String)> {
    let mut s = TcpStream::connect(addr)?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    s.write_all(format!("GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").as_bytes())?;
    let mut out = String::new();
    s.read_to_string(&mut out)?;
    let (head, body) = out.split_once("\r\n\r\n").unwrap_or((&out, ""));
    Ok((head.lines().next().unwrap_or_default().to_string(), body.to_string()))
}

fn discovery(k: Kubectl) {
    let live = k.live("disco");
    let out = live.global(&["api-versions"]).clean();
    let versions: Vec<&str> = out.stdout.lines().collect();
    for gv in ["v1", "apps/v1", "batch/v1", "coordination.k8s.io/v1"] {
        assert!(versions.contains(&gv), "api-versions lacks {gv}:\n{}", out.stdout);
    }

    let out = live.global(&["api-resources"]).clean();
    assert_eq!(out.rows()[0], ["NAME", "SHORTNAMES", "APIVERSION", "NAMESPACED", "KIND"], "{}", out.stdout);
    assert_eq!(row(&out, "pods"), ["pods", "po", "v1", "true", "Pod"]);
    assert_eq!(row(&out, "nodes"), ["nodes", "no", "v1", "false", "Node"]);
    assert_eq!(row(&out, "deployments"), ["deployments", "deploy", "apps/v1", "true", "Deployment"]);
    assert_eq!(
        row(&out, "replicationcontrollers"),
        ["replicationcontrollers", "rc", "v1", "true", "ReplicationController"]
    );
    let cluster_wide = live.global(&["api-resources", "--namespaced=false", "-o", "name"]).clean();
    let names: Vec<&str> = cluster_wide.stdout.lines().collect();
    assert!(names.contains(&"nodes") && names.contains(&"namespaces"), "{names:?}");
    assert!(!names.contains(&"pods"), "{names:?}");

    let raw = live.global(&["get", "--raw", &format!("/api/v1/namespaces/{}", live.namespace)]).clean();
    let ns: serde_json::Value = serde_json::from_str(&raw.stdout).expect("a namespace as JSON");
    assert_eq!((ns["kind"].as_str(), ns["metadata"]["name"].as_str()), (Some("Namespace"), Some(&*live.namespace)));
    assert_eq!(ns["status"]["phase"], "Active");
    let raw = live.global(&["get", "--raw", "/apis/apps/v1"]).clean();
    let list: serde_json::Value = serde_json::from_str(&raw.stdout).expect("a resource list as JSON");
    assert_eq!((list["kind"].as_str(), list["groupVersion"].as_str()), (Some("APIResourceList"), Some("apps/v1")));

    let out = live.global(&["version"]);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(out.stdout.contains("Client Version:") && out.stdout.contains("Server Version:"), "{}", out.stdout);
    // A current kubectl warns, as against any server more than one minor version older.
    assert!(out.stderr.lines().all(|l| l.starts_with("Warning: version difference")), "{}", out.stderr);
}

fn cluster_info_and_nodes(k: Kubectl) {
    let live = k.live("nodes");
    let out = live.global(&["cluster-info"]).clean();
    assert!(out.stdout.contains("is running at") && out.stdout.contains(&live.server_url()), "{}", out.stdout);

    let out = live.global(&["get", "nodes"]).clean();
    let rows = out.rows();
    assert_eq!(rows[0], ["NAME", "STATUS", "ROLES", "AGE", "VERSION"], "{}", out.stdout);
    let ready: Vec<&Vec<String>> = rows[1..].iter().filter(|r| r[1] == "Ready").collect();
    assert!(ready.len() >= 3, "three Ready nodes:\n{}", out.stdout);
    let node = ready[0][0].clone();

    let out = live.global(&["get", "nodes", "-L", "kubernetes.io/hostname"]).clean();
    assert_eq!(out.rows()[0].last().map(String::as_str), Some("HOSTNAME"), "{}", out.stdout);
    assert_eq!(row(&out, &node).last(), Some(&node), "a node's hostname label is its name:\n{}", out.stdout);
    let out = live.global(&["get", "node", &node, "--show-labels"]).clean();
    assert!(out.stdout.contains(&format!("kubernetes.io/hostname={node}")), "{}", out.stdout);

    let out = live.global(&["describe", "node", &node]).clean();
    for part in [&format!("Name:               {node}"), "Capacity:", "Allocatable:", "Conditions:", "Ready"] {
        assert!(out.stdout.contains(part), "describe node lacks {part}:\n{}", out.stdout);
    }
}

fn explain(k: Kubectl) {
    let live = k.live("explain");
    let out = live.global(&["explain", "pods"]).clean();
    for part in
        ["KIND:", "Pod", "VERSION:", "v1", "DESCRIPTION:", "Pod is a collection of containers", "FIELDS:", "spec"]
    {
        assert!(out.stdout.contains(part), "explain pods lacks {part}:\n{}", out.stdout);
    }
    let out = live.global(&["explain", "pods.spec.containers.ports"]).clean();
    assert!(out.stdout.contains("containerPort") && out.stdout.contains("<integer>"), "{}", out.stdout);
    let out = live.global(&["explain", "deployments.spec.replicas"]).clean();
    assert!(out.stdout.contains("apps") && out.stdout.contains("<integer>"), "{}", out.stdout);
}

fn chapter2_run_and_expose(k: Kubectl) {
    let live = k.live("ch2");
    let out = live.kubectl(&["run", "kubia", "--image=luksa/kubia", "--port=8080"]).clean();
    assert_eq!(out.stdout.trim(), "pod/kubia created");
    wait_ready(&live, &["pod/kubia"]);

    let out = live.kubectl(&["get", "pods"]).clean();
    assert_eq!(out.rows()[0], ["NAME", "READY", "STATUS", "RESTARTS", "AGE"], "{}", out.stdout);
    assert_eq!(&row(&out, "kubia")[..4], ["kubia", "1/1", "Running", "0"]);
    let out = live.kubectl(&["get", "pods", "-o", "wide"]).clean();
    assert_eq!(
        out.rows()[0],
        ["NAME", "READY", "STATUS", "RESTARTS", "AGE", "IP", "NODE", "NOMINATED NODE", "READINESS GATES"],
        "{}",
        out.stdout
    );
    let wide = row(&out, "kubia");
    assert!(wide[5].starts_with("10.244.") && wide[6].starts_with("kubelab-worker"), "{}", out.stdout);

    let out = live.kubectl(&["expose", "pod", "kubia", "--type=LoadBalancer", "--name", "kubia-http"]).clean();
    assert_eq!(out.stdout.trim(), "service/kubia-http exposed");
    let out = live.kubectl(&["get", "services"]).clean();
    assert_eq!(out.rows()[0], ["NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE"], "{}", out.stdout);
    let svc = row(&out, "kubia-http");
    assert_eq!(svc[1], "LoadBalancer");
    assert!(svc[4].starts_with("8080:") && svc[4].ends_with("/TCP"), "a node port is allocated: {}", out.stdout);

    // The other output formats of `get`.
    let out = live.kubectl(&["get", "po", "kubia", "-o", "yaml"]).clean();
    for part in ["apiVersion: v1", "kind: Pod", "  name: kubia", "  - image: luksa/kubia", "    - containerPort: 8080"]
    {
        assert!(out.stdout.contains(part), "-o yaml lacks {part:?}:\n{}", out.stdout);
    }
    let out = live.kubectl(&["get", "po", "kubia", "-o", "json"]).clean();
    let pod: serde_json::Value = serde_json::from_str(&out.stdout).expect("-o json is JSON");
    assert_eq!(pod["metadata"]["labels"]["run"], "kubia");
    assert_eq!(pod["status"]["phase"], "Running");
    let out = live.kubectl(&["get", "pods", "-o", "jsonpath={.items[0].spec.containers[0].image}"]).clean();
    assert_eq!(out.stdout, "luksa/kubia");
    let out = live
        .kubectl(&["get", "pods", "-o", "custom-columns=POD:.metadata.name,IMAGE:.spec.containers[0].image"])
        .clean();
    assert_eq!(out.rows(), [["POD", "IMAGE"], ["kubia", "luksa/kubia"]]);
    let out = live.kubectl(&["get", "pods,services", "-o", "name"]).clean();
    assert_eq!(out.stdout, "pod/kubia\nservice/kubia-http\n");
}

fn chapter3_labels_and_annotations(k: Kubectl) {
    let live = k.live("ch3");
    live.kubectl(&["run", "kubia", "--image=luksa/kubia"]).clean();
    let out = live.kubectl(&["create", "-f", &book_path("Chapter03/kubia-manual.yaml")]).clean();
    assert_eq!(out.stdout.trim(), "pod/kubia-manual created");
    let out = live.kubectl(&["create", "-f", &book_path("Chapter03/kubia-manual-with-labels.yaml")]).clean();
    assert_eq!(out.stdout.trim(), "pod/kubia-manual-v2 created");

    let out = live.kubectl(&["get", "po", "--show-labels"]).clean();
    assert_eq!(out.rows()[0], ["NAME", "READY", "STATUS", "RESTARTS", "AGE", "LABELS"], "{}", out.stdout);
    assert_eq!(row(&out, "kubia").last().unwrap(), "run=kubia");
    assert_eq!(row(&out, "kubia-manual").last().unwrap(), "<none>");
    assert_eq!(row(&out, "kubia-manual-v2").last().unwrap(), "creation_method=manual,env=prod");
    let out = live.kubectl(&["get", "po", "-L", "creation_method,env"]).clean();
    assert_eq!(&out.rows()[0][5..], ["CREATION_METHOD", "ENV"], "{}", out.stdout);
    assert_eq!(&row(&out, "kubia-manual-v2")[5..], ["manual", "prod"]);
    let out = live.kubectl(&["get", "pods", "-l", "creation_method=manual"]).clean();
    assert_eq!(out.names(), ["kubia-manual-v2"]);

    let out = live.kubectl(&["label", "po", "kubia-manual", "creation_method=manual"]).clean();
    assert_eq!(out.stdout.trim(), "pod/kubia-manual labeled");
    let out = live.kubectl(&["label", "po", "kubia-manual-v2", "env=debug"]).fails();
    assert!(out.stderr.contains("'env' already has a value (prod), and --overwrite is false"), "{}", out.stderr);
    live.kubectl(&["label", "po", "kubia-manual-v2", "env=debug", "--overwrite"]).clean();
    let out = live.kubectl(&["get", "pods", "-l", "creation_method=manual", "--sort-by=.metadata.name"]).clean();
    assert_eq!(out.names(), ["kubia-manual", "kubia-manual-v2"]);
    let out = live.kubectl(&["get", "pods", "--sort-by=.metadata.name"]).clean();
    assert_eq!(out.names(), ["kubia", "kubia-manual", "kubia-manual-v2"]);
    let out = live.kubectl(&["get", "po", "-l", "env=debug", "-L", "creation_method,env"]).clean();
    assert_eq!(out.rows().len(), 2, "{}", out.stdout);
    assert_eq!(&row(&out, "kubia-manual-v2")[5..], ["manual", "debug"]);
    let out = live.kubectl(&["get", "po", "-l", "!env", "--show-labels"]).clean();
    assert_eq!(out.names(), ["kubia", "kubia-manual"]);
    let out = live.kubectl(&["get", "po", "-l", "env in (prod,debug)", "-o", "name"]).clean();
    assert_eq!(out.stdout, "pod/kubia-manual-v2\n");

    let out = live.kubectl(&["annotate", "pod", "kubia-manual", "mycompany.com/someannotation=foo bar"]).clean();
    assert_eq!(out.stdout.trim(), "pod/kubia-manual annotated");
    let out = live.kubectl(&["get", "pods", "kubia-manual", "-o", "yaml"]).clean();
    assert!(out.stdout.contains("    mycompany.com/someannotation: foo bar"), "{}", out.stdout);

    // -A lists every namespace's pods, with a NAMESPACE column first.
    let out = live.global(&["get", "pods", "-A", "-l", "creation_method=manual"]).clean();
    assert_eq!(out.rows()[0][..2], ["NAMESPACE", "NAME"], "{}", out.stdout);
    assert!(out.rows().iter().any(|r| r[..2] == [live.namespace.clone(), "kubia-manual".into()]), "{}", out.stdout);

    let out = live.kubectl(&["delete", "po", "-l", "creation_method=manual"]).clean();
    assert!(out.stdout.contains(r#"pod "kubia-manual" deleted"#), "{}", out.stdout);
    assert!(out.stdout.contains(r#"pod "kubia-manual-v2" deleted"#), "{}", out.stdout);
    let out = live.kubectl(&["delete", "po", "--all"]).clean();
    assert!(out.stdout.contains(r#"pod "kubia" deleted"#), "{}", out.stdout);
    let out = live.kubectl(&["get", "pods"]).ok();
    assert_eq!(out.stdout, "");
    assert_eq!(out.stderr.trim(), format!("No resources found in {} namespace.", live.namespace));
}

fn chapter3_namespaces(k: Kubectl) {
    let live = k.live("ch3ns");
    // The book's namespace, named for this test so the two kubectls' runs do not meet.
    let custom = format!("{}-custom", live.namespace);
    let manifest = book_text("Chapter03/custom-namespace.yaml").replace("custom-namespace", &custom);
    let out = live.kubectl_stdin(&["create", "-f", "-"], &manifest).clean();
    assert_eq!(out.stdout.trim(), format!("namespace/{custom} created"));
    let out = live.global(&["get", "ns"]).clean();
    assert_eq!(out.rows()[0], ["NAME", "STATUS", "AGE"], "{}", out.stdout);
    assert_eq!(row(&out, &custom)[1], "Active");
    assert_eq!(row(&out, "kube-system")[1], "Active");

    live.global(&["create", "-f", &book_path("Chapter03/kubia-manual.yaml"), "--namespace", &custom]).clean();
    live.kubectl(&["create", "-f", &book_path("Chapter03/kubia-manual.yaml")]).clean();
    let out = live.global(&["get", "pods", "--namespace", &custom, "-o", "wide"]).clean();
    assert_eq!(out.names(), ["kubia-manual"]);
    // Deleting in one namespace leaves the other's pod of the same name.
    live.kubectl(&["delete", "po", "kubia-manual"]).clean();
    assert_eq!(
        live.global(&["get", "pods", "--namespace", &custom, "-o", "name"]).clean().stdout,
        "pod/kubia-manual\n"
    );
    let out = live.global(&["delete", "ns", &custom]).clean();
    assert_eq!(out.stdout.trim(), format!(r#"namespace "{custom}" deleted"#));
    let gone = live.global(&["get", "ns", &custom]);
    assert_eq!(gone.code, 1, "{gone:?}");
    assert!(gone.stderr.contains(&format!(r#"namespaces "{custom}" not found"#)), "{}", gone.stderr);
}

fn chapter3_logs_exec_and_port_forward(k: Kubectl) {
    let live = k.live("ch3io");
    live.kubectl(&["create", "-f", &book_path("Chapter03/kubia-manual.yaml")]).clean();
    wait_ready(&live, &["pod/kubia-manual"]);

    let (pf, first) = background(&live, &["port-forward", "kubia-manual", ":8080"]);
    // "Forwarding from 127.0.0.1:PORT -> 8080"
    let local = first
        .strip_prefix("Forwarding from ")
        .and_then(|rest| rest.strip_suffix(" -> 8080"))
        .unwrap_or_else(|| panic!("port-forward printed {first:?}"))
        .to_string();
    let answers: Vec<String> = (0..3)
        .map(|_| {
            let addr = local.clone();
            std::thread::spawn(move || e2e::http_get(&addr, Duration::from_secs(10)).unwrap_or_else(|e| e.to_string()))
        })
        .collect::<Vec<_>>()
        .into_iter()
        .map(|t| t.join().unwrap())
        .collect();
    drop(pf);
    assert!(answers.iter().all(|a| a == "You've hit kubia-manual\n"), "{answers:?}");

    let logs = live.kubectl(&["logs", "kubia-manual"]).clean().stdout;
    assert!(logs.starts_with("Kubia server starting..."), "{logs}");
    assert!(logs.contains("Received request from"), "the port-forwarded requests are logged: {logs}");
    let same = live.kubectl(&["logs", "kubia-manual", "-c", "kubia", "--tail=1"]).clean().stdout;
    assert_eq!(same.lines().count(), 1, "{same}");

    // logs -f shows a request made after it started.
    let mut child = live.command(&["logs", "-f", "kubia-manual"]).stdout(Stdio::piped()).spawn().unwrap();
    let lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let follow = Background(child);
    let seen = std::thread::spawn(move || lines.map_while(Result::ok).any(|l| l.contains("127.0.0.1")));
    let out = live.kubectl(&["exec", "kubia-manual", "--", "curl", "-s", "http://127.0.0.1:8080"]).clean();
    assert_eq!(out.stdout, "You've hit kubia-manual\n");
    std::thread::sleep(Duration::from_secs(3));
    drop(follow);
    assert!(seen.join().unwrap(), "logs -f showed the request made from inside the pod");

    let out = live.kubectl(&["exec", "kubia-manual", "--", "sh", "-c", "echo out; echo err >&2; exit 3"]);
    assert_eq!((out.code, out.stdout.as_str()), (3, "out\n"), "{out:?}");
    assert!(out.stderr.starts_with("err\n"), "{}", out.stderr);
    // exec with stdin: what kubectl reads is the command's input.
    let out = live.kubectl_stdin(&["exec", "-i", "kubia-manual", "--", "tr", "a-z", "A-Z"], "one\ntwo\n").clean();
    assert_eq!(out.stdout, "ONE\nTWO\n");
}

fn chapter4_replication_controller(k: Kubectl) {
    let live = k.live("ch4rc");
    let out = live.kubectl(&["create", "-f", &book_path("Chapter04/kubia-rc.yaml")]).clean();
    assert_eq!(out.stdout.trim(), "replicationcontroller/kubia created");
    // The seed notes' mistake: a selector that does not match the template's labels.
    let bad = book_text("Chapter04/kubia-rc.yaml").replacen("name: kubia", "name: kubia-rc", 1).replacen(
        "selector:\n    app: kubia",
        "selector:\n    app: kubia-rc",
        1,
    );
    assert!(bad.contains("app: kubia-rc"), "the book's RC changed shape:\n{bad}");
    let out = live.kubectl_stdin(&["create", "-f", "-"], &bad).fails();
    assert_eq!(
        out.stderr.trim(),
        "The ReplicationController \"kubia-rc\" is invalid: spec.template.metadata.labels: Invalid value: \
         map[string]string{\"app\":\"kubia\"}: `selector` does not match template `labels`"
    );

    wait_pods(&live, "app=kubia", 3);
    // The controller's status follows its pods' readiness a moment later.
    assert!(eventually(START, || live.field("rc/kubia", "{.status.readyReplicas}") == "3"));
    let out = live.kubectl(&["get", "rc"]).clean();
    assert_eq!(out.rows()[0], ["NAME", "DESIRED", "CURRENT", "READY", "AGE"], "{}", out.stdout);
    assert_eq!(&row(&out, "kubia")[..4], ["kubia", "3", "3", "3"]);

    // A pod whose label no longer matches leaves the controller's care; it makes another.
    let pods = live.kubectl(&["get", "pods", "-l", "app=kubia", "-o", "name"]).clean().stdout;
    let first = pods.lines().next().expect("a pod").trim_start_matches("pod/").to_string();
    live.kubectl(&["label", "po", &first, "app=kubia-dev", "--overwrite"]).clean();
    assert!(eventually(START, || live
        .kubectl(&["get", "pods", "-l", "app=kubia", "-o", "name"])
        .stdout
        .lines()
        .count()
        == 3));

    let out = live.kubectl(&["scale", "rc", "kubia", "--replicas=5"]).clean();
    assert_eq!(out.stdout.trim(), "replicationcontroller/kubia scaled");
    assert!(eventually(START, || live.field("rc/kubia", "{.status.replicas}") == "5"));
    live.kubectl(&["scale", "rc", "kubia", "--replicas=3"]).clean();
    let pods = || live.kubectl(&["get", "pods", "-l", "app=kubia", "-o", "name"]).stdout.lines().count();
    assert!(eventually(START, || pods() == 3), "the two extra pods go");

    // `get all` shows the controller and its pods under their kinds.
    let out = live.kubectl(&["get", "all"]).clean();
    assert!(out.stdout.contains(&format!("pod/{first}")), "{}", out.stdout);
    assert!(out.stdout.contains("replicationcontroller/kubia"), "{}", out.stdout);

    // Deleted with --cascade=orphan, the controller leaves its pods behind.
    let out = live.kubectl(&["delete", "rc", "kubia", "--cascade=orphan"]).clean();
    assert!(out.stdout.contains(r#"replicationcontroller "kubia" deleted"#), "{}", out.stdout);
    std::thread::sleep(Duration::from_secs(3));
    let left = live.kubectl(&["get", "pods", "-l", "app=kubia", "-o", "name"]).clean().stdout;
    assert_eq!(left.lines().count(), 3, "{left}");
    let owners = live.kubectl(&["get", "pods", "-o", "jsonpath={.items[*].metadata.ownerReferences}"]).clean();
    assert_eq!(owners.stdout.trim(), "", "the orphans have no owner");
    let out = live.kubectl(&["delete", "pods", "-l", "app=kubia", "--wait"]).clean();
    assert_eq!(out.stdout.lines().count(), 3, "{}", out.stdout);
}

fn chapter4_replica_set_daemon_set_and_job(k: Kubectl) {
    let live = k.live("ch4rs");
    // The book's apps/v1beta2 is refused, as by any cluster since 1.16 ...
    let out = live.kubectl(&["create", "-f", &book_path("Chapter04/kubia-replicaset.yaml")]).fails();
    assert!(out.stderr.contains(r#"no matches for kind "ReplicaSet" in version "apps/v1beta2""#), "{}", out.stderr);
    // ... and the reader moves it to apps/v1.
    let rs = book_text("Chapter04/kubia-replicaset.yaml").replace("apps/v1beta2", "apps/v1");
    let out = live.kubectl_stdin(&["create", "-f", "-"], &rs).clean();
    assert_eq!(out.stdout.trim(), "replicaset.apps/kubia created");
    // The book's matchExpressions selector, on pods of their own (one is enough).
    let expressions = book_text("Chapter04/kubia-replicaset-matchexpressions.yaml")
        .replace("apps/v1beta2", "apps/v1")
        .replacen("name: kubia", "name: kubia-expr", 1)
        .replace("replicas: 3", "replicas: 1")
        .replace("- kubia\n", "- kubia-expr\n")
        .replace("app: kubia\n", "app: kubia-expr\n");
    let out = live.kubectl_stdin(&["apply", "-f", "-"], &expressions).clean();
    assert_eq!(out.stdout.trim(), "replicaset.apps/kubia-expr created");
    wait_pods(&live, "app=kubia", 3);
    wait_pods(&live, "app in (kubia-expr)", 1);
    assert!(eventually(START, || live.field("rs/kubia", "{.status.readyReplicas}") == "3"));
    let out = live.kubectl(&["get", "rs"]).clean();
    assert_eq!(out.rows()[0], ["NAME", "DESIRED", "CURRENT", "READY", "AGE"], "{}", out.stdout);
    assert_eq!(&row(&out, "kubia")[..4], ["kubia", "3", "3", "3"]);

    // The DaemonSet runs where a node has its label, here one of this test's own.
    let key = format!("disk-{}", live.namespace);
    let ds = book_text("Chapter04/ssd-monitor-daemonset.yaml")
        .replace("apps/v1beta2", "apps/v1")
        .replace("disk: ssd", &format!("{key}: ssd"));
    assert!(ds.contains(&key), "the book's DaemonSet changed shape:\n{ds}");
    live.kubectl_stdin(&["create", "-f", "-"], &ds).clean();
    let out = live.kubectl(&["get", "ds"]).clean();
    assert_eq!(
        out.rows()[0],
        ["NAME", "DESIRED", "CURRENT", "READY", "UP-TO-DATE", "AVAILABLE", "NODE SELECTOR", "AGE"],
        "{}",
        out.stdout
    );
    assert_eq!(&row(&out, "ssd-monitor")[..2], ["ssd-monitor", "0"]);
    let node = live.global(&["get", "nodes", "-o", "name"]).clean().stdout.lines().next().unwrap().to_string();
    let out = live.global(&["label", &node, &format!("{key}=ssd")]).clean();
    assert_eq!(out.stdout.trim(), format!("{node} labeled"));
    let ran = eventually(START, || live.field("ds/ssd-monitor", "{.status.numberReady}") == "1");
    live.global(&["label", &node, &format!("{key}-")]).clean();
    assert!(ran, "{}", live.kubectl(&["describe", "ds", "ssd-monitor"]).stdout);

    // A Job's pod logs its start; `get jobs` shows its progress.
    let out = live.kubectl(&["create", "-f", &book_path("Chapter04/batch-job.yaml")]).clean();
    assert_eq!(out.stdout.trim(), "job.batch/batch-job created");
    wait_pods(&live, "app=batch-job", 1);
    let out = live.kubectl(&["get", "jobs"]).clean();
    // The server's columns: a 1.34 apiserver's, STATUS included, whichever kubectl asks.
    assert_eq!(out.rows()[0], ["NAME", "STATUS", "COMPLETIONS", "DURATION", "AGE"], "{}", out.stdout);
    assert_eq!(&row(&out, "batch-job")[..3], ["batch-job", "Running", "0/1"]);
    let logs = live.kubectl(&["logs", "job/batch-job"]).clean().stdout;
    assert!(logs.contains("Batch job starting"), "{logs}");
    let out = live.kubectl(&["get", "po", "--show-labels", "-l", "app=batch-job"]).clean();
    assert!(out.stdout.contains("job-name=batch-job"), "{}", out.stdout);
}

fn chapter5_services(k: Kubectl) {
    let live = k.live("ch5");
    live.kubectl(&["create", "-f", &book_path("Chapter04/kubia-rc.yaml")]).clean();
    let out = live.kubectl(&["create", "-f", &book_path("Chapter05/kubia-svc.yaml")]).clean();
    assert_eq!(out.stdout.trim(), "service/kubia created");
    wait_pods(&live, "app=kubia", 3);
    let out = live.kubectl(&["get", "svc", "kubia"]).clean();
    let svc = row(&out, "kubia");
    assert_eq!(
        (svc[1].as_str(), svc[3].as_str(), svc[4].as_str()),
        ("ClusterIP", "<none>", "80/TCP"),
        "{}",
        out.stdout
    );
    let ip = svc[2].clone();
    let endpoints_ready = eventually(START, || {
        let out = live.kubectl(&["get", "endpoints", "kubia", "-o", "jsonpath={.subsets[*].addresses[*].ip}"]);
        out.stdout.split_whitespace().count() == 3
    });
    assert!(endpoints_ready, "{}", live.kubectl(&["describe", "svc", "kubia"]).stdout);

    // The book's request from one pod to the service's cluster IP.
    let pod = live.kubectl(&["get", "pods", "-o", "jsonpath={.items[0].metadata.name}"]).clean().stdout;
    let out = live.kubectl(&["exec", &pod, "--", "curl", "-s", &format!("http://{ip}")]).clean();
    assert!(out.stdout.starts_with("You've hit kubia-"), "{}", out.stdout);
    let out = live.kubectl(&["describe", "svc", "kubia"]).clean();
    for part in ["Selector:", "app=kubia", "TargetPort:", "8080/TCP", "Endpoints:"] {
        assert!(out.stdout.contains(part), "describe svc lacks {part}:\n{}", out.stdout);
    }
    let out =
        live.kubectl(&["expose", "rc", "kubia", "--name=kubia-exposed", "--port=80", "--target-port=8080"]).clean();
    assert_eq!(out.stdout.trim(), "service/kubia-exposed exposed");
    let out = live.kubectl(&["get", "svc", "kubia-exposed", "-o", "jsonpath={.spec.selector.app}"]).clean();
    assert_eq!(out.stdout, "kubia");
}

fn deployment_walkthrough(k: Kubectl) {
    let live = k.live("deploy");
    // The book's v1 image is not built here: the reader's Deployment runs luksa/kubia.
    let v1 = book_text("Chapter09/kubia-deployment-v1.yaml").replace("luksa/kubia:v1", "luksa/kubia");
    assert!(!v1.contains(":v1"), "the book's Deployment changed shape:\n{v1}");
    let out = live.kubectl_stdin(&["apply", "-f", "-"], &v1).clean();
    assert_eq!(out.stdout.trim(), "deployment.apps/kubia created");
    let out = live.kubectl_stdin(&["apply", "-f", "-"], &v1).clean();
    assert_eq!(out.stdout.trim(), "deployment.apps/kubia unchanged");
    let out = live.kubectl(&["rollout", "status", "deployment", "kubia", "--timeout=90s"]).clean();
    assert!(out.stdout.contains(r#"deployment "kubia" successfully rolled out"#), "{}", out.stdout);
    let out = live.kubectl(&["get", "deploy"]).clean();
    assert_eq!(out.rows()[0], ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"], "{}", out.stdout);
    assert_eq!(&row(&out, "kubia")[..4], ["kubia", "3/3", "3", "3"]);

    // apply of a changed manifest, then the three kinds of patch, then replace.
    let out = live.kubectl_stdin(&["apply", "-f", "-"], &v1.replace("replicas: 3", "replicas: 2")).clean();
    assert_eq!(out.stdout.trim(), "deployment.apps/kubia configured");
    assert_eq!(live.field("deploy/kubia", "{.spec.replicas}"), "2");
    let out = live.kubectl(&["patch", "deployment", "kubia", "-p", r#"{"spec":{"minReadySeconds":1}}"#]).clean();
    assert_eq!(out.stdout.trim(), "deployment.apps/kubia patched");
    assert_eq!(live.field("deploy/kubia", "{.spec.minReadySeconds}"), "1");
    // A strategic merge patch merges the containers list by name: the image stays.
    let env = r#"{"spec":{"template":{"spec":{"containers":[{"name":"nodejs","env":[{"name":"A","value":"1"}]}]}}}}"#;
    live.kubectl(&["patch", "deployment", "kubia", "--type=strategic", "-p", env]).clean();
    assert_eq!(live.field("deploy/kubia", "{.spec.template.spec.containers[0].image}"), "luksa/kubia");
    assert_eq!(live.field("deploy/kubia", "{.spec.template.spec.containers[0].env[0].value}"), "1");
    live.kubectl(&["rollout", "status", "deployment", "kubia", "--timeout=90s"]).clean();
    let out =
        live.kubectl(&["patch", "deploy", "kubia", "--type=merge", "-p", r#"{"metadata":{"labels":{"tier":"web"}}}"#]);
    assert_eq!(out.clean().stdout.trim(), "deployment.apps/kubia patched");
    let json = r#"[{"op":"replace","path":"/spec/replicas","value":3}]"#;
    live.kubectl(&["patch", "deploy", "kubia", "--type=json", "-p", json]).clean();
    assert_eq!(live.field("deploy/kubia", "{.spec.replicas}"), "3");
    assert_eq!(live.field("deploy/kubia", "{.metadata.labels.tier}"), "web");
    // replace with the object as read, less its resourceVersion: the controller
    // writes the status meanwhile, and the reader means to overwrite whatever is there.
    let current = live.kubectl(&["get", "deploy", "kubia", "-o", "yaml"]).clean().stdout;
    let edited: String = current
        .lines()
        .filter(|l| !l.trim_start().starts_with("resourceVersion:"))
        .map(|l| format!("{}\n", l.replace("minReadySeconds: 1", "minReadySeconds: 2")))
        .collect();
    let out = live.kubectl_stdin(&["replace", "-f", "-"], &edited);
    assert_eq!(out.clean().stdout.trim(), "deployment.apps/kubia replaced");
    assert_eq!(live.field("deploy/kubia", "{.spec.minReadySeconds}"), "2");
    let out = live.kubectl(&["scale", "deployment", "kubia", "--replicas=2"]).clean();
    assert_eq!(out.stdout.trim(), "deployment.apps/kubia scaled");
    live.kubectl(&["rollout", "status", "deployment", "kubia", "--timeout=90s"]).clean();
    let out = live.kubectl(&["delete", "deployment", "kubia"]).clean();
    assert!(out.stdout.contains(r#"deployment.apps "kubia" deleted"#), "{}", out.stdout);
    assert!(eventually(START, || live.kubectl(&["get", "rs,pods", "-o", "name"]).stdout.is_empty()));
}

fn deployment_rollout_and_undo(k: Kubectl) {
    let live = k.live("rollout");
    let v1 = book_text("Chapter09/kubia-deployment-v1.yaml").replace("luksa/kubia:v1", "luksa/kubia");
    live.kubectl_stdin(&["create", "-f", "-"], &v1.replace("replicas: 3", "replicas: 2")).clean();
    live.kubectl(&["rollout", "status", "deployment", "kubia", "--timeout=90s"]).clean();

    // A new image rolls out as a new ReplicaSet; undo goes back to the one before.
    let out = live.kubectl(&["set", "image", "deployment/kubia", "nodejs=luksa/kubia:latest"]).clean();
    assert_eq!(out.stdout.trim(), "deployment.apps/kubia image updated");
    let out = live.kubectl(&["rollout", "status", "deployment", "kubia", "--timeout=90s"]).clean();
    assert!(out.stdout.contains(r#"deployment "kubia" successfully rolled out"#), "{}", out.stdout);
    let out = live.kubectl(&["rollout", "history", "deployment", "kubia"]).clean();
    assert!(out.stdout.starts_with("deployment.apps/kubia"), "{}", out.stdout);
    let revisions: Vec<String> = out.rows().into_iter().skip(2).filter_map(|r| r.into_iter().next()).collect();
    assert_eq!(revisions, ["1", "2"], "{}", out.stdout);
    let out = live.kubectl(&["rollout", "undo", "deployment", "kubia"]).clean();
    assert_eq!(out.stdout.trim(), "deployment.apps/kubia rolled back");
    live.kubectl(&["rollout", "status", "deployment", "kubia", "--timeout=90s"]).clean();
    assert_eq!(live.field("deploy/kubia", "{.spec.template.spec.containers[0].image}"), "luksa/kubia");
    let images =
        || live.kubectl(&["get", "pods", "-l", "app=kubia", "-o", "jsonpath={.items[*].spec.containers[0].image}"]);
    assert!(eventually(START, || images().stdout == "luksa/kubia luksa/kubia"), "{}", images().stdout);
}

fn proxy(k: Kubectl) {
    let live = k.live("proxy");
    live.kubectl(&["run", "kubia", "--image=luksa/kubia"]).clean();
    let (_proxy, first) = background(&live, &["proxy", "--port=0"]);
    // "Starting to serve on 127.0.0.1:PORT"
    let addr = first.strip_prefix("Starting to serve on ").unwrap_or_else(|| panic!("proxy printed {first:?}"));
    let (status, body) = http10_get(addr, &format!("/api/v1/namespaces/{}/pods", live.namespace)).unwrap();
    assert!(status.ends_with("200 OK"), "{status}\n{body}");
    let list: serde_json::Value = serde_json::from_str(&body).expect("a pod list as JSON");
    assert_eq!(list["kind"], "PodList");
    assert_eq!(list["items"][0]["metadata"]["name"], "kubia");
    let (status, body) = http10_get(addr, "/api/v1/namespaces/default/pods/no-such-pod").unwrap();
    assert!(status.ends_with("404 Not Found"), "{status}\n{body}");
    let error: serde_json::Value = serde_json::from_str(&body).expect("a Status as JSON");
    assert_eq!((error["kind"].as_str(), error["reason"].as_str()), (Some("Status"), Some("NotFound")));
    assert_eq!(error["message"], r#"pods "no-such-pod" not found"#);

    // Through the proxy to the app itself: the pod's and a service's proxy subresources.
    wait_ready(&live, &["pod/kubia"]);
    live.kubectl(&["expose", "pod", "kubia", "--port=80", "--target-port=8080"]).clean();
    let ns = &live.namespace;
    for path in [
        format!("/api/v1/namespaces/{ns}/pods/kubia:8080/proxy/"),
        format!("/api/v1/namespaces/{ns}/services/kubia:80/proxy/"),
    ] {
        let (status, body) = http10_get(addr, &path).unwrap();
        assert!(status.ends_with("200 OK"), "{path}: {status}\n{body}");
        assert_eq!(body, "You've hit kubia\n", "{path}");
    }
}

/// A kubelet's own API through the apiserver's `nodes/<node>/proxy`, as
/// `kubectl get --raw` and `kubectl proxy` users read it.
fn nodes_proxy(k: Kubectl) {
    let live = k.live("nodeproxy");
    let ns = live.namespace.clone();
    live.kubectl(&["run", "kubia", "--image=luksa/kubia"]).clean();
    wait_ready(&live, &["pod/kubia"]);
    let node = live.field("pod/kubia", "{.spec.nodeName}");
    assert!(node.starts_with("kubelab-worker"), "the pod runs on a worker: {node:?}");
    let raw = |path: &str| live.global(&["get", "--raw", &format!("/api/v1/nodes/{node}/proxy/{path}")]).clean().stdout;
    let is_ours =
        |p: &&serde_json::Value| p["metadata"]["namespace"] == ns.as_str() && p["metadata"]["name"] == "kubia";

    assert_eq!(raw("healthz").trim(), "ok");
    let list: serde_json::Value = serde_json::from_str(&raw("pods")).expect("the kubelet's pods as JSON");
    assert_eq!((list["kind"].as_str(), list["apiVersion"].as_str()), (Some("PodList"), Some("v1")));
    let items = list["items"].as_array().expect("items");
    let pod = items.iter().find(is_ours).unwrap_or_else(|| panic!("no {ns}/kubia in {list}"));
    assert_eq!(pod["spec"]["nodeName"], node.as_str());
    assert_eq!(pod["status"]["phase"], "Running");
    let running: serde_json::Value = serde_json::from_str(&raw("runningpods/")).expect("running pods as JSON");
    assert_eq!(running["kind"], "PodList");
    let items = running["items"].as_array().expect("items");
    let pod = items.iter().find(is_ours).unwrap_or_else(|| panic!("no running {ns}/kubia in {running}"));
    assert_eq!(pod["spec"]["containers"][0]["name"], "kubia");
    let logs = raw(&format!("containerLogs/{ns}/kubia/kubia"));
    assert!(logs.starts_with("Kubia server starting..."), "{logs}");
    assert_eq!(raw(&format!("containerLogs/{ns}/kubia/kubia?tailLines=1")).lines().count(), 1);

    // A node that does not exist: the apiserver's NotFound.
    let out = live.global(&["get", "--raw", "/api/v1/nodes/no-such-node/proxy/healthz"]);
    assert_eq!(out.code, 1, "{out:?}");
    assert!(out.stderr.contains(r#"nodes "no-such-node" not found"#), "{}", out.stderr);

    // The same through `kubectl proxy`.
    let (_proxy, first) = background(&live, &["proxy", "--port=0"]);
    let addr = first.strip_prefix("Starting to serve on ").unwrap_or_else(|| panic!("proxy printed {first:?}"));
    let (status, body) = http10_get(addr, &format!("/api/v1/nodes/{node}/proxy/healthz")).unwrap();
    assert!(status.ends_with("200 OK"), "{status}\n{body}");
    assert_eq!(body, "ok");
    let (status, body) = http10_get(addr, &format!("/api/v1/nodes/{node}/proxy/pods")).unwrap();
    assert!(status.ends_with("200 OK"), "{status}\n{body}");
    let list: serde_json::Value = serde_json::from_str(&body).expect("the kubelet's pods as JSON");
    assert!(list["items"].as_array().expect("items").iter().any(|p| is_ours(&p)), "{list}");
}

/// Chapter 7's ConfigMaps and Secrets made with kubectl's own generators
/// (which build the objects client-side; current kubectls send them as
/// protobuf) and from the book's manifest, then listed, read and described.
fn chapter7_configmaps_and_secrets(k: Kubectl) {
    let live = k.live("ch7");
    let out = live.kubectl(&["create", "configmap", "fortune-config", "--from-literal=sleep-interval=25"]).clean();
    assert_eq!(out.stdout.trim(), "configmap/fortune-config created");
    let conf = book_path("Chapter07/configmap-files/my-nginx-config.conf");
    let interval = book_path("Chapter07/configmap-files/sleep-interval");
    let out = live
        .kubectl(&[
            "create",
            "configmap",
            "my-config",
            &format!("--from-file={conf}"),
            &format!("--from-file=bar={interval}"),
            "--from-literal=one=two",
        ])
        .clean();
    assert_eq!(out.stdout.trim(), "configmap/my-config created");
    let out = live
        .kubectl(&[
            "create",
            "configmap",
            "from-dir",
            &format!("--from-file={}", book_path("Chapter07/configmap-files")),
        ])
        .clean();
    assert_eq!(out.stdout.trim(), "configmap/from-dir created");

    let out = live.kubectl(&["get", "cm"]).clean();
    assert_eq!(out.rows()[0], ["NAME", "DATA", "AGE"], "{}", out.stdout);
    assert_eq!(row(&out, "fortune-config")[1], "1");
    assert_eq!(row(&out, "my-config")[1], "3");
    assert_eq!(row(&out, "from-dir")[1], "2");
    let out = live.kubectl(&["get", "configmap", "fortune-config", "-o", "yaml"]).clean();
    for part in ["apiVersion: v1", "kind: ConfigMap", "  sleep-interval: \"25\"", "  name: fortune-config"] {
        assert!(out.stdout.contains(part), "-o yaml lacks {part:?}:\n{}", out.stdout);
    }
    let out = live.kubectl(&["get", "cm", "from-dir", "-o", "jsonpath={.data.sleep-interval}"]).clean();
    assert_eq!(out.stdout, "25\n");
    let out = live.kubectl(&["describe", "cm", "my-config"]).clean();
    for part in
        ["Name:", "my-config", "Data\n====\n", "bar:\n----\n25\n", "one:\n----\ntwo\n", "my-nginx-config.conf:\n----\n"]
    {
        assert!(out.stdout.contains(part), "describe lacks {part:?}:\n{}", out.stdout);
    }
    let out = live.kubectl(&["patch", "cm", "fortune-config", "-p", r#"{"data":{"sleep-interval":"10"}}"#]).clean();
    assert!(out.stdout.contains("configmap/fortune-config patched"), "{}", out.stdout);
    let out = live.kubectl(&["get", "cm", "fortune-config", "-o", "jsonpath={.data.sleep-interval}"]).clean();
    assert_eq!(out.stdout, "10");
    let out = live.kubectl(&["delete", "configmap", "fortune-config"]).clean();
    assert!(out.stdout.contains(r#"configmap "fortune-config" deleted"#), "{}", out.stdout);
    let out = live.kubectl(&["create", "-f", &book_path("Chapter07/fortune-config.yaml")]).clean();
    assert_eq!(out.stdout.trim(), "configmap/fortune-config created");
    let out = live.kubectl(&["create", "configmap", "bad", "--from-literal=a=1"]).clean();
    assert_eq!(out.stdout.trim(), "configmap/bad created");
    let out = live.kubectl(&["patch", "cm", "bad", "-p", r#"{"data":{"no spaces":"x"}}"#]).fails();
    assert!(out.stderr.contains("data[no spaces]: Invalid value: \"no spaces\": a valid config key"), "{}", out.stderr);

    // Secrets: generic from the book's files, TLS from its key pair, and a registry login.
    let https = |f: &str| book_path(&format!("Chapter07/fortune-https/{f}"));
    let out = live
        .kubectl(&[
            "create",
            "secret",
            "generic",
            "fortune-https",
            &format!("--from-file={}", https("https.key")),
            &format!("--from-file={}", https("https.cert")),
            &format!("--from-file={}", https("foo")),
        ])
        .clean();
    assert_eq!(out.stdout.trim(), "secret/fortune-https created");
    let out = live
        .kubectl(&[
            "create",
            "secret",
            "tls",
            "fortune-tls",
            &format!("--cert={}", https("https.cert")),
            &format!("--key={}", https("https.key")),
        ])
        .clean();
    assert_eq!(out.stdout.trim(), "secret/fortune-tls created");
    let out = live
        .kubectl(&[
            "create",
            "secret",
            "docker-registry",
            "mydockerhubsecret",
            "--docker-username=myusername",
            "--docker-password=mypassword",
            "--docker-email=my.email@provider.com",
        ])
        .clean();
    assert_eq!(out.stdout.trim(), "secret/mydockerhubsecret created");

    let out = live.kubectl(&["get", "secrets"]).clean();
    assert_eq!(out.rows()[0], ["NAME", "TYPE", "DATA", "AGE"], "{}", out.stdout);
    assert_eq!(row(&out, "fortune-https")[1..3], ["Opaque", "3"]);
    assert_eq!(row(&out, "fortune-tls")[1..3], ["kubernetes.io/tls", "2"]);
    assert_eq!(row(&out, "mydockerhubsecret")[1..3], ["kubernetes.io/dockerconfigjson", "1"]);
    let out = live.kubectl(&["get", "secret", "fortune-https", "-o", "jsonpath={.data.foo}"]).clean();
    assert_eq!(out.stdout, base64(b"bar\n"));
    let cert = std::fs::read(https("https.cert")).expect("the book's certificate");
    let out = live.kubectl(&["get", "secret", "fortune-tls", "-o", "jsonpath={.data.tls\\.crt}"]).clean();
    assert_eq!(out.stdout, base64(&cert));
    let out = live.kubectl(&["get", "secret", "fortune-https", "-o", "yaml"]).clean();
    assert!(out.stdout.contains(&format!("  foo: {}", base64(b"bar\n"))), "{}", out.stdout);
    assert!(out.stdout.contains("type: Opaque"), "{}", out.stdout);

    let out = live.kubectl(&["describe", "secret", "fortune-https"]).clean();
    for part in ["Name:", "fortune-https", "Type:  Opaque", "Data\n====\n", "foo:", "4 bytes", "https.key:"] {
        assert!(out.stdout.contains(part), "describe lacks {part:?}:\n{}", out.stdout);
    }
    assert!(!out.stdout.contains("bar"), "describe shows sizes, never values:\n{}", out.stdout);

    // A TLS secret without its key is refused with kube-apiserver's message.
    let manifest =
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: half\ntype: kubernetes.io/tls\nstringData:\n  tls.crt: x\n";
    let out = live.kubectl_stdin(&["create", "-f", "-"], manifest).fails();
    assert!(out.stderr.contains(r#"Secret "half" is invalid: data[tls.key]: Required value"#), "{}", out.stderr);

    let out = live.kubectl(&["delete", "secret", "fortune-https", "fortune-tls", "mydockerhubsecret"]).clean();
    assert!(out.stdout.contains(r#"secret "fortune-tls" deleted"#), "{}", out.stdout);
}
