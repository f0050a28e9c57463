//! The book's images that kubelab builds as stand-ins, on the compose cluster
//! (`./deploy/up.sh`), typed into the book's kubectl (1.20): chapter 6's
//! mongodb pod (mongodb-pod-hostpath.yaml) running `mongo`'s default command,
//! the document the book inserts with the `mongo` shell (piped, and typed at
//! a terminal as `kubectl exec -it mongodb mongo`) found again by a new pod on
//! the same node's directory; chapter 10's kubia-pet-peers answering with what
//! every pod of its StatefulSet stores, through the book's kubia-public
//! service; and chapter 8's tutum/curl pod (curl.yaml) reaching a service in
//! the cluster over HTTP and HTTPS (chapter 7's nginx with the book's
//! certificate).
//!
//! Each test works in a namespace of its own: the hostPath directory is the
//! namespace's rather than the book's /tmp/mongodb, so no earlier run's data
//! is found, and the peers app is told its own namespace's service
//! ($KUBIA_PEERS_SERVICE; the book's kubia.default.svc.cluster.local
//! otherwise). Run by deploy/test.sh with `cargo test -p e2e --features
//! cluster --test cluster_images` (without the `cluster` feature the file
//! holds no test).
#![cfg(feature = "cluster")]

use e2e::{book, book_text, eventually, tools, Live};
use std::time::{Duration, Instant};

/// Pods running (images are on the engine, nothing is pulled).
const START: Duration = Duration::from_secs(90);

/// The mongo shell's greeting before what it runs (`mongo` with no database named).
const BANNER: &str = "MongoDB shell version v3.4.24\nconnecting to: mongodb://127.0.0.1:27017\n\
                      MongoDB server version: 3.4.24\n";

/// The book's pod, its hostPath moved to a directory of this test's own,
/// pinned to `node` when given (a hostPath lives on one node). The path stays
/// untyped, as the book's: the kubelet makes it when missing, as the container
/// runtime makes a missing bind source.
fn mongodb_pod(live: &Live, node: Option<&str>) -> String {
    let text = book_text("Chapter06/mongodb-pod-hostpath.yaml");
    assert!(text.contains("image: mongo") && text.contains("      path: /tmp/mongodb\n"), "{text}");
    let path = format!("      path: /tmp/kubelab-e2e/{}\n", live.namespace);
    let text = text.replace("      path: /tmp/mongodb\n", &path);
    match node {
        Some(node) => text.replacen("spec:\n", &format!("spec:\n  nodeName: {node}\n"), 1),
        None => text,
    }
}

/// `kubectl exec -i mongodb -- mongo <args>` with `input` piped in; stdout.
fn mongo(live: &Live, args: &[&str], input: &str) -> String {
    let mut all = vec!["exec", "-i", "mongodb", "--", "mongo"];
    all.extend_from_slice(args);
    let out = live.kubectl_stdin(&all, input);
    assert_eq!(out.code, 0, "mongo failed: {out:?}");
    out.stdout
}

/// What kubectl `args` print when run at a terminal (`script` gives it one)
/// and `typed` is typed into it once the command is up; carriage returns dropped.
fn typed_at_a_terminal(live: &Live, args: &[&str], typed: &str) -> String {
    use std::io::{Read, Write};
    use std::process::{Command, Stdio};
    let kubectl = live.command(args);
    let line = std::iter::once(kubectl.get_program())
        .chain(kubectl.get_args())
        .map(|a| a.to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join(" ");
    let mut child = Command::new("script")
        .args(["-qec", &line, "/dev/null"])
        .env("HOME", live.home())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("run script");
    let mut stdin = child.stdin.take().expect("stdin");
    std::thread::sleep(Duration::from_secs(3));
    stdin.write_all(typed.as_bytes()).expect("type");
    let deadline = Instant::now() + Duration::from_secs(60);
    while child.try_wait().expect("wait").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    drop(stdin);
    let _ = child.wait();
    let mut out = String::new();
    child.stdout.take().expect("stdout").read_to_string(&mut out).expect("read");
    out.replace('\r', "")
}

/// An ObjectId as the shell prints one: 24 lowercase hex digits.
fn is_object_id(id: &str) -> bool {
    id.len() == 24 && id.chars().all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
}

#[test]
fn the_books_mongodb_pod_keeps_the_shells_documents_on_its_host_path() {
    let live = Live::with_kubectl("mongo", tools::kubectl_120());
    live.kubectl_stdin(&["create", "-f", "-"], &mongodb_pod(&live, None)).clean();
    live.wait_phase("mongodb", "Running", START);
    let node = live.field("pod/mongodb", "{.spec.nodeName}");

    // mongod, the image's default command, answers on 27017 and logs as mongod.
    let logs = live.kubectl(&["logs", "mongodb"]).clean().stdout;
    assert!(logs.contains("I NETWORK  [thread1] waiting for connections on port 27017"), "{logs}");
    assert!(logs.contains("dbpath=/data/db"), "{logs}");
    let answer = live.kubectl(&["exec", "mongodb", "--", "wget", "-qO-", "http://127.0.0.1:27017/"]).clean().stdout;
    assert_eq!(answer, "It looks like you are trying to access MongoDB over HTTP on the native driver port.\n");

    // The book's session, piped.
    let out = mongo(&live, &[], "use mystore\ndb.foo.insert({name:'foo'})\ndb.foo.find()\n");
    let rest = out.strip_prefix(BANNER).unwrap_or_else(|| panic!("no banner: {out}"));
    let lines: Vec<&str> = rest.lines().collect();
    assert_eq!(lines.len(), 4, "{out}");
    assert_eq!(lines[..2], ["switched to db mystore", "WriteResult({ \"nInserted\" : 1 })"]);
    let document = lines[2].to_string();
    let id = document
        .strip_prefix("{ \"_id\" : ObjectId(\"")
        .and_then(|d| d.strip_suffix("\"), \"name\" : \"foo\" }"))
        .unwrap_or_else(|| panic!("not the book's document: {document}"));
    assert!(is_object_id(id), "{document}");
    assert_eq!(lines[3], "bye");
    let file = live.kubectl(&["exec", "mongodb", "--", "cat", "/data/db/mystore/foo"]).clean().stdout;
    assert_eq!(file, format!("{document}\n"), "the document is kept on the volume");

    // Unknown input is an error line; the shell goes on.
    let out = mongo(&live, &["mystore"], "foo\ndb.foo.find(\ndb.foo.count()\n");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[1], "connecting to: mongodb://127.0.0.1:27017/mystore", "{out}");
    assert!(lines[3].ends_with(" E QUERY    [thread1] ReferenceError: foo is not defined :"), "{out}");
    assert_eq!(lines[4], "@(shell):1:1");
    assert!(lines[5].contains(" E QUERY    [thread1] SyntaxError: "), "{out}");
    assert_eq!(lines[6..], ["1", "bye"], "{out}");

    // mongod stops at SIGTERM: deleting the pod takes nothing like the 30 s grace period.
    let started = Instant::now();
    live.kubectl(&["delete", "pod", "mongodb"]).clean();
    let took = started.elapsed();
    assert!(took < Duration::from_secs(20), "deleting the pod took {took:?}");

    // A new pod on the same node's directory finds the document.
    live.kubectl_stdin(&["create", "-f", "-"], &mongodb_pod(&live, Some(&node))).clean();
    live.wait_phase("mongodb", "Running", START);
    let out = mongo(&live, &["mystore"], "db.foo.find()");
    assert!(out.ends_with(&format!("\n{document}\nbye\n")), "the document is gone: {out}");
    let dbs = mongo(&live, &["--quiet"], "show dbs\n");
    assert_eq!(dbs, "admin    0.000GB\nlocal    0.000GB\nmystore  0.000GB\nbye\n");

    // Typed at a terminal, as the book does: `kubectl exec -it mongodb mongo`
    // (under `script`, which gives kubectl one here).
    let session =
        typed_at_a_terminal(&live, &["exec", "-it", "mongodb", "mongo"], "use mystore\ndb.foo.find()\nexit\n");
    assert!(session.contains("Welcome to the MongoDB shell."), "{session}");
    assert!(session.contains("> "), "a prompt: {session}");
    assert!(session.contains("switched to db mystore\n"), "{session}");
    assert!(session.contains(&format!("{document}\n")), "{session}");
    assert!(session.contains("bye"), "{session}");

    // The node's directory is left as the test found it.
    live.kubectl(&["exec", "mongodb", "--", "rm", "-rf", "/data/db/mystore"]).clean();
}

/// The book's peers StatefulSet, for Kubernetes 1.16+ (apps/v1 and a
/// selector), two replicas, told this namespace's headless service.
fn peers_statefulset(namespace: &str) -> String {
    let text = book_text("Chapter10/kubia-statefulset-peers.yaml");
    assert!(text.contains("image: luksa/kubia-pet-peers"), "{text}");
    let mut text = text
        .replace("apiVersion: apps/v1beta1", "apiVersion: apps/v1")
        .replace("apiVersion: apps/v1beta2", "apiVersion: apps/v1")
        .replace("replicas: 3", "replicas: 2");
    if !text.contains("selector:") {
        text = text.replace(
            "  serviceName: kubia\n",
            "  serviceName: kubia\n  selector:\n    matchLabels:\n      app: kubia\n",
        );
    }
    let env = format!(
        "        image: luksa/kubia-pet-peers\n        env:\n        - name: KUBIA_PEERS_SERVICE\n          value: kubia.{namespace}.svc.cluster.local\n"
    );
    text.replace("        image: luksa/kubia-pet-peers\n", &env)
}

fn pod_ready(live: &Live, pod: &str) -> bool {
    live.field(&format!("pod/{pod}"), "{.status.conditions[?(@.type==\"Ready\")].status}") == "True"
}

#[test]
fn the_books_kubia_pet_peers_answers_with_the_data_of_every_pod_of_the_set() {
    let live = Live::with_kubectl("peers", tools::kubectl_120());
    let ns = live.namespace.clone();
    live.create(&book_text("Chapter10/kubia-service-headless.yaml"));
    live.create(&book_text("Chapter10/kubia-service-public.yaml"));
    live.kubectl_stdin(&["create", "-f", "-"], &peers_statefulset(&ns)).clean();
    let up = eventually(START * 2, || pod_ready(&live, "kubia-0") && pod_ready(&live, "kubia-1"));
    assert!(up, "{}", live.kubectl(&["describe", "sts", "kubia"]).stdout);

    let post = |pod: &str, data: &str| {
        let out = live.kubectl(&["exec", pod, "--", "wget", "-qO-", "--post-data", data, "http://localhost:8080/"]);
        assert_eq!(out.stdout, format!("Data stored on pod {pod}\n"), "{out:?}");
    };
    post("kubia-0", "The sun is shining");

    // A pod's own /data is what it stores, alone.
    let raw = |path: &str| live.global(&["get", "--raw", path]).clean().stdout;
    assert_eq!(raw(&format!("/api/v1/namespaces/{ns}/pods/kubia-0/proxy/data")), "The sun is shining");
    assert_eq!(raw(&format!("/api/v1/namespaces/{ns}/pods/kubia-1/proxy/data")), "No data posted yet");

    // Any pod, through the book's public service, lists every pod's data.
    let peer = |n: u32| format!("kubia-{n}.kubia.{ns}.svc.cluster.local");
    let expected = [format!("- {}: The sun is shining", peer(0)), format!("- {}: No data posted yet", peer(1))];
    let mut answer = String::new();
    let listed = eventually(START, || {
        answer = raw(&format!("/api/v1/namespaces/{ns}/services/kubia-public/proxy/"));
        let mut lines: Vec<&str> = answer.lines().collect();
        if lines.len() != 4 {
            return false;
        }
        lines[2..].sort();
        (lines[0] == "You've hit kubia-0" || lines[0] == "You've hit kubia-1")
            && lines[1] == "Data stored in the cluster:"
            && lines[2..] == expected
    });
    assert!(listed, "expected {expected:?} in:\n{answer}");

    // Data posted to the other pod shows in kubia-0's answer too.
    post("kubia-1", "The weather is sweet");
    let answer = raw(&format!("/api/v1/namespaces/{ns}/pods/kubia-0/proxy/"));
    let mut lines: Vec<&str> = answer.lines().collect();
    assert_eq!(lines.len(), 4, "{answer}");
    lines[2..].sort();
    assert_eq!(
        lines,
        [
            "You've hit kubia-0".to_string(),
            "Data stored in the cluster:".into(),
            format!("- {}: The sun is shining", peer(0)),
            format!("- {}: The weather is sweet", peer(1)),
        ]
    );
}

#[test]
fn the_books_curl_pod_reaches_a_service_over_http_and_https() {
    let live = Live::with_kubectl("curl", tools::kubectl_120());
    let ns = live.namespace.clone();
    // Chapter 7's nginx with the book's certificate, on 80 and 443.
    let https = |f: &str| book(&format!("Chapter07/fortune-https/{f}")).to_string_lossy().into_owned();
    let (key, cert) = (https("https.key"), https("https.cert"));
    let key_arg = format!("--from-file={key}");
    let cert_arg = format!("--from-file={cert}");
    live.kubectl(&["create", "secret", "generic", "web-https", &key_arg, &cert_arg]).clean();
    let conf = book("Chapter07/ssl.conf").to_string_lossy().into_owned();
    live.kubectl(&["create", "configmap", "web-config", &format!("--from-file=https.conf={conf}")]).clean();
    live.create(
        "apiVersion: v1
kind: Pod
metadata:
  name: web
  labels:
    app: web
spec:
  containers:
  - name: web-server
    image: nginx:alpine
    volumeMounts:
    - name: config
      mountPath: /etc/nginx/conf.d
      readOnly: true
    - name: certs
      mountPath: /etc/nginx/certs/
      readOnly: true
    ports:
    - containerPort: 80
    - containerPort: 443
  volumes:
  - name: config
    configMap:
      name: web-config
  - name: certs
    secret:
      secretName: web-https
",
    );
    live.kubectl(&["expose", "pod", "web", "--port=80", "--name=web"]).clean();
    live.kubectl(&["expose", "pod", "web", "--port=443", "--name=web-https"]).clean();

    let out = live.kubectl(&["create", "-f", book("Chapter08/curl.yaml").to_str().unwrap()]).clean();
    assert_eq!(out.stdout.trim(), "pod/curl created");
    live.wait_phase("web", "Running", START);
    live.wait_phase("curl", "Running", START);

    let curl = |args: &[&str]| {
        let mut all = vec!["exec", "curl", "--", "curl"];
        all.extend_from_slice(args);
        live.kubectl(&all)
    };
    let version = curl(&["--version"]).clean().stdout;
    assert!(version.starts_with("curl 7."), "{version}");
    let protocols = version.lines().find(|l| l.starts_with("Protocols:")).unwrap_or_default();
    assert!(protocols.split_whitespace().any(|p| p == "https"), "{version}");

    // By the service's short name and its full one.
    let mut page = String::new();
    let served = eventually(START, || {
        page = curl(&["-s", "http://web"]).stdout;
        page.contains("Welcome to nginx!")
    });
    assert!(served, "{page}");
    let fqdn = format!("http://web.{ns}.svc.cluster.local/");
    assert!(curl(&["-s", &fqdn]).clean().stdout.contains("Welcome to nginx!"));

    // HTTPS: the book's self-signed certificate is refused against the CA
    // bundle (60, not 77: the bundle is there), accepted with -k.
    let refused = curl(&["-sSv", "https://web-https"]);
    assert_eq!(refused.code, 60, "{refused:?}");
    assert!(refused.stderr.contains("CAfile: /etc/ssl/certs/ca-certificates.crt"), "{}", refused.stderr);
    assert!(refused.stderr.contains("curl: (60) SSL certificate problem"), "{}", refused.stderr);
    let insecure = curl(&["-skv", "-o", "/dev/null", "https://web-https"]);
    assert_eq!(insecure.code, 0, "{insecure:?}");
    assert!(insecure.stderr.contains("subject: CN=www.kubia-example.com"), "{}", insecure.stderr);
    assert!(curl(&["-sk", "https://web-https"]).clean().stdout.contains("Welcome to nginx!"));

    // The book's `kubectl exec -it curl bash` finds a shell there.
    let out = live.kubectl(&["exec", "curl", "--", "bash", "-c", "echo a shell"]).clean();
    assert_eq!(out.stdout, "a shell\n");
}
