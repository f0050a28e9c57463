//! Chapters 2, 3 and 4.1 of the book on the compose cluster (`./deploy/up.sh`):
//! real kubelets running pods on Docker, the scheduler placing them. Each test
//! works in a namespace of its own. Run by deploy/test.sh with
//! `cargo test -p e2e --features cluster --test cluster` once the cluster is up.

use e2e::{eventually, Live};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Stdio;
use std::time::Duration;

const START: Duration = Duration::from_secs(60);

fn e2e_manifest(name: &str) -> String {
    format!("{}/manifests/{name}", env!("CARGO_MANIFEST_DIR"))
}

/// One HTTP GET over a plain TCP connection; the response body.
fn http_get(addr: &str) -> std::io::Result<String> {
    let mut s = TcpStream::connect(addr)?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    s.write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")?;
    let mut out = String::new();
    s.read_to_string(&mut out)?;
    Ok(out.split("\r\n\r\n").nth(1).unwrap_or_default().to_string())
}

#[test]
fn three_nodes_are_ready() {
    let live = Live::new("nodes");
    let out = live.global(&["get", "nodes"]).ok();
    let rows = out.rows();
    assert_eq!(rows[0], ["NAME", "STATUS", "ROLES", "AGE", "VERSION"]);
    let ready: Vec<_> = rows[1..].iter().filter(|r| r[1] == "Ready").collect();
    assert!(ready.len() >= 3, "{}", out.stdout);
    assert!(ready.iter().all(|r| r[4] == "v1.34.0-kubelab"), "{}", out.stdout);
    let node = &ready[0][0];
    let out = live.global(&["describe", "node", node]).ok();
    for part in ["Capacity:", "Allocatable:", "Conditions:", "KubeletReady", "kubernetes.io/hostname="] {
        assert!(out.stdout.contains(part), "describe node lacks {part}:\n{}", out.stdout);
    }
}

#[test]
fn run_port_forward_logs_and_exec() {
    let live = Live::new("kubia");
    let out = live.kubectl(&["run", "kubia", "--image=luksa/kubia", "--port=8080"]).ok();
    assert_eq!(out.stdout.trim(), "pod/kubia created");
    live.wait_phase("kubia", "Running", START);
    let wide = live.kubectl(&["get", "pods", "-o", "wide"]).ok();
    let row = &wide.rows()[1];
    assert_eq!(&row[..3], ["kubia", "1/1", "Running"], "{}", wide.stdout);
    assert!(row[5].starts_with("10.244."), "pod IP from the pod network: {}", wide.stdout);
    assert!(row[6].starts_with("kubelab-worker"), "{}", wide.stdout);

    let port = apiserver::store::testing::free_port().unwrap();
    let mut pf = live
        .command(&["port-forward", "kubia", &format!("{port}:8080")])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let addr = format!("127.0.0.1:{port}");
    let mut answer = String::new();
    eventually(Duration::from_secs(15), || {
        answer = http_get(&addr).unwrap_or_default();
        !answer.is_empty()
    });
    // Several connections at once go through one port-forward.
    let answers: Vec<String> = (0..5)
        .map(|_| {
            let a = addr.clone();
            std::thread::spawn(move || http_get(&a).unwrap_or_default())
        })
        .collect::<Vec<_>>()
        .into_iter()
        .map(|t| t.join().unwrap())
        .collect();
    let _ = pf.kill();
    let _ = pf.wait();
    assert_eq!(answer, "You've hit kubia\n");
    assert!(answers.iter().all(|a| a == "You've hit kubia\n"), "{answers:?}");

    let logs = live.kubectl(&["logs", "kubia"]).ok().stdout;
    assert!(logs.starts_with("Kubia server starting..."), "{logs}");
    assert!(logs.contains("Received request from"), "{logs}");
    let same = live.kubectl(&["logs", "kubia", "-c", "kubia", "--tail", "1"]).ok().stdout;
    assert_eq!(same.lines().count(), 1, "{same}");

    // logs -f streams new lines as they come: a request made now shows up.
    let mut follow = live.command(&["logs", "-f", "kubia"]).stdout(Stdio::piped()).spawn().unwrap();
    let mut reader = std::io::BufReader::new(follow.stdout.take().unwrap());
    let mut line = String::new();
    std::io::BufRead::read_line(&mut reader, &mut line).unwrap();
    assert_eq!(line.trim(), "Kubia server starting...");
    let follow_ip = live.field("pod/kubia", "{.status.podIP}");
    live.kubectl(&["exec", "kubia", "--", "curl", "-s", &format!("http://{follow_ip}:8080")]).ok();
    let seen = std::thread::spawn(move || {
        let mut l = String::new();
        while std::io::BufRead::read_line(&mut reader, &mut l).unwrap_or(0) > 0 {
            if l.contains(&follow_ip) {
                return true;
            }
            l.clear();
        }
        false
    });
    std::thread::sleep(Duration::from_secs(3));
    let _ = follow.kill();
    let _ = follow.wait();
    assert!(seen.join().unwrap(), "logs -f showed the new request");

    // exec -it gives the command a real terminal (run under `script`, which provides one locally).
    let cmd = format!(
        "{} -- sh -c 'tty; stty size'",
        live.command(&["exec", "-it", "kubia"])
            .get_args()
            .map(|a| a.to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join(" ")
    );
    let kubectl = live.command(&[]).get_program().to_string_lossy().into_owned();
    let tty = std::process::Command::new("script")
        .args(["-qec", &format!("{kubectl} {cmd}"), "/dev/null"])
        .env("HOME", std::env::temp_dir())
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&tty.stdout);
    assert!(out.contains("/dev/pts/"), "exec -it allocates a terminal: {out}");

    let env = live.kubectl(&["exec", "kubia", "--", "env"]).ok().stdout;
    assert!(env.lines().any(|l| l == "HOSTNAME=kubia"), "the pod's hostname is its name: {env}");
    let out = live.kubectl(&["exec", "kubia", "--", "sh", "-c", "echo out; echo err >&2; exit 3"]);
    assert_eq!((out.code, out.stdout.trim(), out.stderr.contains("err")), (3, "out", true), "{out:?}");
}

#[test]
fn containers_of_a_pod_share_localhost() {
    let live = Live::new("localhost");
    live.kubectl(&["create", "-f", &e2e_manifest("two-containers.yaml")]).ok();
    live.wait_phase("two-containers", "Running", START);
    let fetched = eventually(START, || {
        live.kubectl(&["logs", "two-containers", "-c", "fetcher"]).stdout.contains("You've hit two-containers")
    });
    assert!(fetched, "{}", live.kubectl(&["logs", "two-containers", "-c", "fetcher"]).stdout);
}

#[test]
fn pods_reach_each_other_across_nodes_and_namespaces() {
    let a = Live::new("net-a");
    let b = Live::new("net-b");
    let nodes = a.global(&["get", "nodes", "-o", "name"]).ok().stdout;
    let nodes: Vec<&str> = nodes.lines().map(|n| n.trim_start_matches("node/")).collect();
    assert!(nodes.len() >= 2);
    let on = |live: &Live, name: &str, node: &str| {
        let pod = format!(
            "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\nspec:\n  nodeSelector:\n    kubernetes.io/hostname: {node}\n  containers:\n  - name: kubia\n    image: luksa/kubia\n"
        );
        live.create(&pod)
    };
    on(&a, "client", nodes[0]);
    on(&b, "server", nodes[1]);
    a.wait_phase("client", "Running", START);
    b.wait_phase("server", "Running", START);
    assert_ne!(a.field("pod/client", "{.spec.nodeName}"), b.field("pod/server", "{.spec.nodeName}"));
    let ip = b.field("pod/server", "{.status.podIP}");
    let out = a.kubectl(&["exec", "client", "--", "curl", "-s", &format!("http://{ip}:8080")]).ok();
    assert_eq!(out.stdout, "You've hit server\n");
}

#[test]
fn node_selector_waits_for_a_labelled_node() {
    let live = Live::new("gpu");
    let key = format!("gpu-{}", live.namespace);
    let pod = format!(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: kubia-gpu\nspec:\n  nodeSelector:\n    {key}: \"true\"\n  containers:\n  - image: luksa/kubia\n    name: kubia\n"
    );
    live.create(&pod);
    let unschedulable = eventually(Duration::from_secs(20), || {
        live.kubectl(&["describe", "pod", "kubia-gpu"])
            .stdout
            .contains("node(s) didn't match Pod's node affinity/selector")
    });
    assert!(unschedulable, "{}", live.kubectl(&["describe", "pod", "kubia-gpu"]).stdout);
    assert_eq!(live.field("pod/kubia-gpu", "{.status.phase}"), "Pending");

    let node = live.global(&["get", "nodes", "-o", "name"]).ok().stdout.lines().last().unwrap().to_string();
    live.global(&["label", &node, &format!("{key}=true")]).ok();
    live.wait_phase("kubia-gpu", "Running", START);
    assert_eq!(format!("node/{}", live.field("pod/kubia-gpu", "{.spec.nodeName}")), node);
    live.global(&["label", &node, &format!("{key}-")]).ok();
}

#[test]
fn a_failing_liveness_probe_restarts_the_container() {
    let live = Live::new("liveness");
    live.kubectl(&["create", "-f", &e2e_manifest("liveness-fast.yaml")]).ok();
    live.wait_phase("liveness-fast", "Running", START);
    let restarted = eventually(Duration::from_secs(90), || {
        live.field("pod/liveness-fast", "{.status.containerStatuses[0].restartCount}").parse::<u32>().unwrap_or(0) >= 1
    });
    let describe = live.kubectl(&["describe", "pod", "liveness-fast"]).ok().stdout;
    assert!(restarted, "{describe}");
    assert!(describe.contains("Liveness:") && describe.contains("http-get http://:8080/"), "{describe}");
    assert!(describe.contains("Unhealthy") && describe.contains("Killing"), "{describe}");
    // As in the book: SIGTERM was ignored, so SIGKILL ended it when the grace period ran out.
    let last_state: Vec<&str> =
        describe.lines().skip_while(|l| !l.contains("Last State:")).take(3).map(str::trim).collect();
    assert_eq!(last_state.first().copied(), Some("Last State:     Terminated"), "{describe}");
    assert!(last_state.contains(&"Reason:       Error") && last_state.contains(&"Exit Code:    137"), "{describe}");
    let previous = live.kubectl(&["logs", "liveness-fast", "--previous"]).ok().stdout;
    assert!(previous.contains("Kubia server starting..."), "{previous}");
}

#[test]
fn deletion_sends_sigterm_then_removes_the_containers() {
    let live = Live::new("graceful");
    live.kubectl(&["create", "-f", &e2e_manifest("graceful.yaml")]).ok();
    live.wait_phase("graceful", "Running", START);
    let uid = live.field("pod/graceful", "{.metadata.uid}");
    let started = std::time::Instant::now();
    let out = live.kubectl(&["delete", "pod", "graceful"]).ok();
    assert_eq!(out.stdout.trim(), r#"pod "graceful" deleted"#);
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "the container exits on SIGTERM, well before the grace period"
    );
    let containers = std::process::Command::new("docker")
        .args(["ps", "-aq", "--filter", &format!("label=io.kubernetes.pod.uid={uid}")])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&containers.stdout).trim(), "", "no container of the pod is left");
}

#[test]
fn a_restarted_kubelet_adopts_its_running_pods() {
    let live = Live::new("adopt");
    live.kubectl(&["run", "steady", "--image=luksa/kubia"]).ok();
    live.wait_phase("steady", "Running", START);
    let node = live.field("pod/steady", "{.spec.nodeName}");
    let started = live.field("pod/steady", "{.status.containerStatuses[0].state.running.startedAt}");
    let id = live.field("pod/steady", "{.status.containerStatuses[0].containerID}");
    let restarted_at = api::time::now();
    assert!(std::process::Command::new("docker").args(["restart", &node]).output().unwrap().status.success());
    // The node's kubelet comes back and reports the same container, never restarted.
    let back = eventually(Duration::from_secs(60), || {
        live.global(&["get", "lease", "-n", "kube-node-lease", &node, "-o", "jsonpath={.spec.renewTime}"]).stdout
            > restarted_at
    });
    assert!(back, "the kubelet renewed its lease after the restart");
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(live.field("pod/steady", "{.status.containerStatuses[0].containerID}"), id);
    assert_eq!(live.field("pod/steady", "{.status.containerStatuses[0].restartCount}"), "0");
    assert_eq!(live.field("pod/steady", "{.status.containerStatuses[0].state.running.startedAt}"), started);
}
