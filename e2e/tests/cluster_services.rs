//! Services on the compose cluster (`./deploy/up.sh`), as issue 5 and
//! chapter 5 of the book use them: `kubectl expose` of a pod and an RC,
//! ClusterIPs spreading requests over the ready pods, NodePort and
//! LoadBalancer answering from the host (this test process), DNS names from
//! inside pods, Endpoints following readiness probes, services from YAML
//! (named target ports, session affinity, no selector), and the allocation of
//! ClusterIPs and NodePorts. Each test works in a namespace of its own. Run by
//! deploy/test.sh with `cargo test -p e2e --features cluster --test cluster_services`.

use e2e::{eventually, http_get, Live, Run};
use serde_json::Value;
use std::collections::BTreeSet;
use std::net::Ipv4Addr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// Pods running (images are on the engine, nothing is pulled).
const START: Duration = Duration::from_secs(60);
/// Controllers, the node proxies and DNS catching up with a change.
const SETTLE: Duration = Duration::from_secs(30);
/// One HTTP request from the host.
const HTTP: Duration = Duration::from_secs(3);
/// The issue's bound for a pod failing its readiness probe to stop receiving traffic.
const UNREADY_BOUND: Duration = Duration::from_secs(2);

fn e2e_manifest(name: &str) -> String {
    format!("{}/manifests/{name}", env!("CARGO_MANIFEST_DIR"))
}

/// A kubia pod labelled `app`, its port named `http`.
fn kubia_pod(name: &str, app: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\n  labels:\n    app: {app}\nspec:\n  containers:\n  \
         - name: kubia\n    image: luksa/kubia\n    ports:\n    - name: http\n      containerPort: 8080\n"
    )
}

/// A ReplicationController of `replicas` kubia pods labelled app=`name`.
fn kubia_rc(name: &str, replicas: u32) -> String {
    format!(
        "apiVersion: v1\nkind: ReplicationController\nmetadata:\n  name: {name}\nspec:\n  replicas: {replicas}\n  \
         selector:\n    app: {name}\n  template:\n    metadata:\n      labels:\n        app: {name}\n    spec:\n      \
         containers:\n      - name: kubia\n        image: luksa/kubia\n        ports:\n        - containerPort: 8080\n"
    )
}

/// Waits until the RC reports `n` ready replicas; their pod names.
#[track_caller]
fn rc_ready(live: &Live, rc: &str, n: usize) -> BTreeSet<String> {
    let ready = eventually(START, || live.field(&format!("rc/{rc}"), "{.status.readyReplicas}") == n.to_string());
    assert!(ready, "rc {rc} never had {n} ready pods:\n{}", live.kubectl(&["get", "pods", "-o", "wide"]).stdout);
    pods_of(live, rc)
}

/// Names of the pods labelled app=`app`.
fn pods_of(live: &Live, app: &str) -> BTreeSet<String> {
    let out = live.kubectl(&["get", "pods", "-l", &format!("app={app}"), "-o", "name"]).ok();
    out.stdout.lines().map(|l| l.trim_start_matches("pod/").to_string()).collect()
}

/// IPs of the pods labelled app=`app`.
fn pod_ips(live: &Live, app: &str) -> BTreeSet<String> {
    let list = live.json(&["pods", "-l", &format!("app={app}")]);
    let items = list["items"].as_array().cloned().unwrap_or_default();
    items.iter().filter_map(|p| p["status"]["podIP"].as_str().map(String::from)).collect()
}

/// The ready addresses of Endpoints `name` (empty when there is no such
/// object); None when kubectl failed for another reason (a busy apiserver), so
/// that a failed read is never taken for an empty list.
fn try_endpoint_ips(live: &Live, name: &str) -> Option<BTreeSet<String>> {
    let out = live.kubectl(&["get", "endpoints", name, "-o", "json"]);
    if out.code != 0 {
        return out.stderr.contains("NotFound").then(BTreeSet::new);
    }
    let ep: Value = serde_json::from_str(&out.stdout).ok()?;
    let subsets = ep["subsets"].as_array().cloned().unwrap_or_default();
    Some(
        subsets
            .iter()
            .flat_map(|s| s["addresses"].as_array().cloned().unwrap_or_default())
            .filter_map(|a| a["ip"].as_str().map(String::from))
            .collect(),
    )
}

/// [`try_endpoint_ips`], read again when kubectl fails.
fn endpoint_ips(live: &Live, name: &str) -> BTreeSet<String> {
    for _ in 0..10 {
        if let Some(ips) = try_endpoint_ips(live, name) {
            return ips;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("kubectl get endpoints {name} kept failing");
}

/// Waits until Endpoints `name` has exactly the addresses `ips`.
#[track_caller]
fn wait_endpoints(live: &Live, name: &str, ips: &BTreeSet<String>) {
    let mut last = BTreeSet::new();
    let same = eventually(SETTLE, || {
        last = endpoint_ips(live, name);
        &last == ips
    });
    assert!(same, "endpoints {name} are {last:?}, expected the ready pods {ips:?}");
}

/// Whether the pod's Ready condition is True.
fn pod_ready(live: &Live, pod: &str) -> bool {
    let p = live.json(&["pod", pod]);
    p["status"]["conditions"]
        .as_array()
        .is_some_and(|cs| cs.iter().any(|c| c["type"] == "Ready" && c["status"] == "True"))
}

/// `sh -c script` in the pod.
fn sh(live: &Live, pod: &str, script: &str) -> Run {
    live.kubectl(&["exec", pod, "--", "sh", "-c", script])
}

/// The pod names of every `You've hit <name>` answer in `out`.
fn hits(out: &str) -> Vec<String> {
    out.lines().filter_map(|l| l.strip_prefix("You've hit ")).map(|n| n.trim().to_string()).collect()
}

/// `count` requests from inside `pod` to `url`, each a fresh curl; who answered.
fn requests_from(live: &Live, pod: &str, url: &str, count: u32) -> Vec<String> {
    hits(&sh(live, pod, &format!("for i in $(seq 1 {count}); do curl -s -m 3 {url}; echo; done")).stdout)
}

/// Whether `ip` is in the service CIDR 10.96.0.0/12.
fn in_service_cidr(ip: &str) -> bool {
    ip.parse::<Ipv4Addr>().is_ok_and(|a| u32::from(a) & 0xfff0_0000 == u32::from(Ipv4Addr::new(10, 96, 0, 0)))
}

/// The addresses busybox's nslookup printed for the name it looked up (the
/// `Address:` lines after `Name:`, not the server's own address above them).
fn resolved(out: &str) -> BTreeSet<String> {
    out.lines()
        .skip_while(|l| !l.starts_with("Name:"))
        .filter_map(|l| l.strip_prefix("Address:"))
        .map(|a| a.trim().to_string())
        .collect()
}

/// A ClusterIP and a NodePort no other test of this run asks for: high in
/// the ranges, where a process-wide counter and the clock pick them.
fn pick_ip_and_port() -> (String, u16) {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let clock = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos();
    let n = clock.wrapping_add(NEXT.fetch_add(7919, Ordering::Relaxed));
    let ip = format!("10.{}.{}.{}", 104 + n % 7, (n >> 3) % 256, 1 + (n >> 11) % 254);
    let port = 31000 + (n >> 5) % 1700;
    (ip, port as u16)
}

/// Creates the service `make(ip, port)` builds with a requested ClusterIP and
/// NodePort, choosing again when a concurrent test holds either; the pair.
#[track_caller]
fn create_with_requested(live: &Live, make: impl Fn(&str, u16) -> String) -> (String, u16) {
    for _ in 0..8 {
        let (ip, port) = pick_ip_and_port();
        let out = live.kubectl_stdin(&["create", "-f", "-"], &make(&ip, port));
        if out.code == 0 {
            return (ip, port);
        }
        assert!(out.stderr.contains("already allocated"), "create failed: {out:?}");
    }
    panic!("no free ClusterIP/NodePort pair in 8 tries");
}

fn node_port_service(name: &str, app: &str, ip: &str, port: u16) -> String {
    format!(
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: {name}\nspec:\n  type: NodePort\n  clusterIP: {ip}\n  \
         selector:\n    app: {app}\n  ports:\n  - port: 80\n    targetPort: 8080\n    nodePort: {port}\n"
    )
}

/// Waits until a GET from the host to `addr` is answered by `pod`.
#[track_caller]
fn host_reaches(addr: &str, pod: &str) {
    let mut last = String::new();
    let ok = eventually(SETTLE, || {
        last = match http_get(addr, HTTP) {
            Ok(body) => body,
            Err(e) => e.to_string(),
        };
        last == format!("You've hit {pod}\n")
    });
    assert!(ok, "GET http://{addr}/ from the host should reach {pod}; last answer: {last}");
}

#[test]
fn expose_pod_as_a_load_balancer_answers_from_the_host() {
    let live = Live::new("svc-lb");
    live.kubectl(&["run", "lb-web", "--image=luksa/kubia", "--port=8080"]).ok();
    let out = live.kubectl(&["expose", "pod", "lb-web", "--type=LoadBalancer", "--name", "lb-web-http"]).ok();
    assert_eq!(out.stdout.trim(), "service/lb-web-http exposed");
    let nodes: BTreeSet<String> = live.ready_node_ips().into_iter().collect();
    assert!(nodes.len() >= 3, "{nodes:?}");

    // Right after the create the EXTERNAL-IP is <pending>, unless the
    // service-lb controller was already quicker than this kubectl.
    let first = live.kubectl(&["get", "services"]).ok();
    assert_eq!(first.rows()[0], ["NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE"], "{}", first.stdout);
    let row = first.rows().into_iter().find(|r| r[0] == "lb-web-http").expect("the service is listed");
    assert!(row[3] == "<pending>" || row[3].split(',').all(|ip| nodes.contains(ip)), "{}", first.stdout);

    let mut table = String::new();
    let assigned = eventually(SETTLE, || {
        let out = live.kubectl(&["get", "services"]);
        table = out.stdout.clone();
        out.rows().into_iter().any(|r| r[0] == "lb-web-http" && r[3] != "<pending>")
    });
    assert!(assigned, "EXTERNAL-IP stayed <pending>:\n{table}");
    let out = live.kubectl(&["get", "services"]).ok();
    let row = out.rows().into_iter().find(|r| r[0] == "lb-web-http").unwrap();
    assert_eq!(row[1], "LoadBalancer", "{}", out.stdout);
    let cluster_ip = &row[2];
    assert!(in_service_cidr(cluster_ip), "CLUSTER-IP {cluster_ip} is outside 10.96.0.0/12");
    assert_eq!(cluster_ip, &live.field("svc/lb-web-http", "{.spec.clusterIP}"));
    // All of them, sorted: the apiserver prints tables wide, so kubectl never cuts the list short.
    let external: BTreeSet<String> = row[3].split(',').map(String::from).collect();
    assert_eq!(external, nodes, "EXTERNAL-IP is the Ready nodes' InternalIPs:\n{}", out.stdout);
    let wide = live.kubectl(&["get", "services", "-o", "wide"]).ok();
    let wide_row = wide.rows().into_iter().find(|r| r[0] == "lb-web-http").unwrap();
    assert_eq!((wide.rows()[0][6].as_str(), wide_row[6].as_str()), ("SELECTOR", "run=lb-web"), "{}", wide.stdout);
    let (port, node_port) = row[4].strip_suffix("/TCP").and_then(|p| p.split_once(':')).expect("8080:NNNNN/TCP");
    assert_eq!(port, "8080", "{}", out.stdout);
    let node_port: u16 = node_port.parse().expect("a numeric nodePort");
    assert!((30000..=32767).contains(&node_port), "{node_port}");
    assert_eq!(live.field("svc/lb-web-http", "{.spec.ports[0].nodePort}"), node_port.to_string());

    live.wait_phase("lb-web", "Running", START);
    for ip in &external {
        host_reaches(&format!("{ip}:8080"), "lb-web");
    }
    for ip in &nodes {
        host_reaches(&format!("{ip}:{node_port}"), "lb-web");
    }

    let kubernetes = live.global(&["get", "svc", "kubernetes", "-n", "default"]).ok();
    let row = &kubernetes.rows()[1];
    assert_eq!(&row[..5], ["kubernetes", "ClusterIP", "10.96.0.1", "<none>", "443/TCP"], "{}", kubernetes.stdout);
}

#[test]
fn requests_through_a_cluster_ip_reach_all_three_pods() {
    let live = Live::new("svc-spread");
    live.create(&kubia_rc("spread", 3));
    let out = live.kubectl(&["expose", "rc", "spread", "--port=80", "--target-port=8080"]).ok();
    assert_eq!(out.stdout.trim(), "service/spread exposed");
    let pods = rc_ready(&live, "spread", 3);
    let svc = live.kubectl(&["get", "svc", "spread"]).ok();
    let row = &svc.rows()[1];
    assert_eq!(&row[..2], ["spread", "ClusterIP"], "{}", svc.stdout);
    assert_eq!((row[3].as_str(), row[4].as_str()), ("<none>", "80/TCP"), "{}", svc.stdout);
    let ip = row[2].clone();
    assert!(in_service_cidr(&ip), "{ip}");
    wait_endpoints(&live, "spread", &pod_ips(&live, "spread"));

    // By IP first (the node proxy alone), then by name (DNS too).
    let client = pods.iter().next().unwrap().clone();
    for target in [format!("http://{ip}"), "http://spread".to_string()] {
        let mut seen = BTreeSet::new();
        let all = eventually(SETTLE, || {
            seen = requests_from(&live, &client, &target, 30).into_iter().collect();
            seen == pods
        });
        assert!(all, "30 requests to {target} reached {seen:?}, not all of {pods:?}");
    }
}

#[test]
fn dns_names_resolve_to_the_cluster_ip_and_headless_to_the_pods() {
    let live = Live::new("svc-dns");
    live.kubectl(&["create", "-f", &e2e_manifest("svc-headless.yaml")]).ok();
    let pods = rc_ready(&live, "named", 2);
    let client = pods.iter().next().unwrap().clone();
    let ip = live.field("svc/named", "{.spec.clusterIP}");
    assert!(in_service_cidr(&ip), "{ip}");
    assert_eq!(live.field("svc/named-headless", "{.spec.clusterIP}"), "None");
    let ns = &live.namespace;

    // busybox's nslookup applies the pod's search domains to names without a
    // dot only, so <name>.<namespace> is checked through curl, which resolves
    // with glibc's resolver (search list and ndots:5) as applications do.
    let lookup = |name: &str| sh(&live, &client, &format!("nslookup {name}")).stdout;
    let expected = BTreeSet::from([ip.clone()]);
    for name in [format!("named.{ns}.svc.cluster.local"), "named".to_string()] {
        let mut out = String::new();
        let found = eventually(SETTLE, || {
            out = lookup(&name);
            resolved(&out) == expected
        });
        assert!(found, "nslookup {name} should answer {ip}:\n{out}");
    }
    let mut answer = Vec::new();
    let reached = eventually(SETTLE, || {
        answer = requests_from(&live, &client, &format!("http://named.{ns}"), 1);
        answer.len() == 1 && pods.contains(&answer[0])
    });
    assert!(reached, "curl http://named.{ns} answered {answer:?}");
    let out = lookup("kubernetes.default.svc.cluster.local");
    assert_eq!(resolved(&out), BTreeSet::from(["10.96.0.1".to_string()]), "{out}");

    let ips = pod_ips(&live, "named");
    let mut out = String::new();
    let found = eventually(SETTLE, || {
        out = lookup(&format!("named-headless.{ns}.svc.cluster.local"));
        resolved(&out) == ips
    });
    assert!(found, "the headless service should answer the pods' IPs {ips:?}:\n{out}");
}

#[test]
fn endpoints_follow_the_readiness_probe_within_two_seconds() {
    let live = Live::new("svc-ready");
    live.kubectl(&["create", "-f", &e2e_manifest("svc-readiness.yaml")]).ok();
    for pod in ["probed-a", "probed-b"] {
        live.wait_phase(pod, "Running", START);
        // As in the book: not ready until the file is made, by this very command.
        assert!(!pod_ready(&live, pod), "{pod} is Ready before /var/ready exists");
        live.kubectl(&["exec", pod, "--", "touch", "/var/ready"]).ok();
        assert!(eventually(SETTLE, || pod_ready(&live, pod)), "{pod} never became Ready");
    }
    let ip_a = live.field("pod/probed-a", "{.status.podIP}");
    let ip_b = live.field("pod/probed-b", "{.status.podIP}");
    wait_endpoints(&live, "probed", &BTreeSet::from([ip_a.clone(), ip_b.clone()]));
    let table = live.kubectl(&["get", "endpoints", "probed"]).ok();
    assert_eq!(table.rows()[0], ["NAME", "ENDPOINTS", "AGE"], "{}", table.stdout);
    let row = &table.rows()[1];
    assert_eq!(row[0], "probed");
    let listed: BTreeSet<&str> = row[1].split(',').collect();
    assert_eq!(listed, BTreeSet::from([format!("{ip_a}:8080").as_str(), format!("{ip_b}:8080").as_str()]));

    let node = live.ready_node_ips()[0].clone();
    let addr = format!("{node}:{}", live.field("svc/probed", "{.spec.ports[0].nodePort}"));
    let answered_by_both = eventually(SETTLE, || {
        let seen: BTreeSet<String> = (0..6).filter_map(|_| http_get(&addr, HTTP).ok()).flat_map(|b| hits(&b)).collect();
        seen.len() == 2
    });
    assert!(answered_by_both, "requests to {addr} should reach both ready pods");

    // The bound: the probe runs every second and one failure makes the pod
    // unready (failureThreshold 1), so the kubelet sees it at most 1 s after
    // the file is gone; the issue gives the whole chain (probe, pod status,
    // Endpoints, every node proxy) 2 s. The clock starts when `kubectl exec rm`
    // returns, just after the file is gone. Requests are sent back to back
    // from the host, a fresh connection each, and the endpoints are read
    // between them; both must show the drop within those 2 s.
    sh(&live, "probed-a", "rm /var/ready").ok();
    let removed = Instant::now();
    let (mut dropped, mut last_to_a, mut after_bound) = (None, None, 0);
    while removed.elapsed() < UNREADY_BOUND + Duration::from_secs(3) {
        let sent = removed.elapsed();
        if let Ok(body) = http_get(&addr, HTTP) {
            if hits(&body) == ["probed-a"] {
                last_to_a = Some(sent);
            } else if sent > UNREADY_BOUND {
                after_bound += 1;
            }
        }
        if dropped.is_none() && try_endpoint_ips(&live, "probed").is_some_and(|ips| !ips.contains(&ip_a)) {
            dropped = Some(removed.elapsed());
        }
    }
    let dropped = dropped.expect("probed-a never left the endpoints");
    assert!(dropped <= UNREADY_BOUND, "probed-a left the endpoints {dropped:?} after rm /var/ready");
    assert!(
        last_to_a.is_none_or(|t| t <= UNREADY_BOUND),
        "a request sent {last_to_a:?} after rm /var/ready still reached probed-a"
    );
    assert!(after_bound >= 5, "only {after_bound} requests answered after the bound: the check proves nothing");
    let left = endpoint_ips(&live, "probed");
    if left != BTreeSet::from([ip_b.clone()]) {
        let ep = live.kubectl(&["get", "endpoints", "probed", "-o", "yaml"]).stdout;
        let b = live.kubectl(&["describe", "pod", "probed-b"]).stdout;
        panic!("only probed-b ({ip_b}) should be left, the endpoints are {left:?}:\n{ep}\n{b}");
    }

    // Recovery has no bound in the issue; the same chain makes 2 s the
    // expectation, asserted with room to spare.
    sh(&live, "probed-a", "touch /var/ready").ok();
    let touched = Instant::now();
    let back = eventually(Duration::from_secs(5), || {
        endpoint_ips(&live, "probed").contains(&ip_a)
            && (0..4).filter_map(|_| http_get(&addr, HTTP).ok()).any(|b| hits(&b) == ["probed-a"])
    });
    assert!(back, "probed-a did not get traffic back within 5 s of touch /var/ready");
    eprintln!("readiness: endpoint dropped after {dropped:?}, back after {:?}", touched.elapsed());
}

#[test]
fn a_named_target_port_from_yaml_reaches_the_container_port() {
    let live = Live::new("svc-named");
    live.kubectl(&["create", "-f", &e2e_manifest("svc-named-port.yaml")]).ok();
    let pods = rc_ready(&live, "named-port", 2);
    let ips = pod_ips(&live, "named-port");
    wait_endpoints(&live, "named-port", &ips);
    let ep = live.json(&["endpoints", "named-port"]);
    let port = &ep["subsets"][0]["ports"][0];
    assert_eq!(
        (port["name"].as_str(), port["port"].as_u64(), port["protocol"].as_str()),
        (Some("web"), Some(8080), Some("TCP"))
    );
    let ip = live.field("svc/named-port", "{.spec.clusterIP}");
    live.create(&kubia_pod("caller", "caller"));
    live.wait_phase("caller", "Running", START);
    let mut seen = BTreeSet::new();
    let all = eventually(SETTLE, || {
        seen = requests_from(&live, "caller", &format!("http://{ip}:80"), 10).into_iter().collect();
        seen == pods
    });
    assert!(all, "requests to {ip}:80 reached {seen:?}, not {pods:?}");

    let describe = live.kubectl(&["describe", "svc", "named-port"]).ok().stdout;
    for part in ["Type:", "ClusterIP", &ip, "web  80/TCP", "http/TCP"] {
        assert!(describe.contains(part), "describe svc lacks {part}:\n{describe}");
    }
    for pod_ip in &ips {
        assert!(describe.contains(&format!("{pod_ip}:8080")), "describe svc lacks the endpoint {pod_ip}:\n{describe}");
    }
}

#[test]
fn a_node_port_answers_on_every_node() {
    let live = Live::new("svc-np");
    live.create(&kubia_pod("np-web", "np-web"));
    let (ip, port) = create_with_requested(&live, |ip, port| node_port_service("np-web", "np-web", ip, port));
    let out = live.kubectl(&["get", "svc", "np-web"]).ok();
    let row = &out.rows()[1];
    assert_eq!(
        &row[..5],
        ["np-web", "NodePort", ip.as_str(), "<none>", format!("80:{port}/TCP").as_str()],
        "{}",
        out.stdout
    );
    live.wait_phase("np-web", "Running", START);
    for node in live.ready_node_ips() {
        host_reaches(&format!("{node}:{port}"), "np-web");
    }
}

#[test]
fn client_ip_session_affinity_keeps_one_backend() {
    let live = Live::new("svc-sticky");
    live.create(&kubia_rc("sticky", 3));
    live.create(
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: sticky\nspec:\n  sessionAffinity: ClientIP\n  selector:\n    \
         app: sticky\n  ports:\n  - port: 80\n    targetPort: 8080\n",
    );
    live.create(&kubia_pod("visitor", "visitor"));
    let pods = rc_ready(&live, "sticky", 3);
    wait_endpoints(&live, "sticky", &pod_ips(&live, "sticky"));
    assert_eq!(live.field("svc/sticky", "{.spec.sessionAffinity}"), "ClientIP");
    live.wait_phase("visitor", "Running", START);
    let ip = live.field("svc/sticky", "{.spec.clusterIP}");
    let url = format!("http://{ip}");
    assert!(eventually(SETTLE, || !requests_from(&live, "visitor", &url, 1).is_empty()), "{url} never answered");

    let answers = requests_from(&live, "visitor", &url, 30);
    assert_eq!(answers.len(), 30, "{answers:?}");
    let backends: BTreeSet<&String> = answers.iter().collect();
    assert_eq!(backends.len(), 1, "30 requests from one pod went to {backends:?}");
    assert!(pods.contains(answers[0].as_str()), "{answers:?}");
}

#[test]
fn a_service_without_a_selector_uses_hand_made_endpoints() {
    let live = Live::new("svc-manual");
    live.create(&kubia_pod("outside", "outside"));
    live.create(&kubia_pod("asker", "asker"));
    live.wait_phase("outside", "Running", START);
    live.wait_phase("asker", "Running", START);
    let target = live.field("pod/outside", "{.status.podIP}");
    live.create(&format!(
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: manual\nspec:\n  ports:\n  - port: 80\n    targetPort: 8080\n\
         ---\napiVersion: v1\nkind: Endpoints\nmetadata:\n  name: manual\nsubsets:\n- addresses:\n  - ip: {target}\n  \
         ports:\n  - port: 8080\n"
    ));
    let ip = live.field("svc/manual", "{.spec.clusterIP}");
    assert!(in_service_cidr(&ip), "{ip}");
    let mut answer = Vec::new();
    let reached = eventually(SETTLE, || {
        answer = requests_from(&live, "asker", &format!("http://{ip}"), 1);
        answer == ["outside"]
    });
    assert!(reached, "the selectorless service answered {answer:?}");
    // The endpoints controller leaves a service without a selector alone.
    let out = live.kubectl(&["get", "endpoints", "manual"]).ok();
    assert_eq!(out.rows()[1][1], format!("{target}:8080"), "{}", out.stdout);
}

#[test]
fn a_taken_or_out_of_range_ip_or_port_is_refused() {
    let live = Live::new("svc-taken");
    let (ip, port) = create_with_requested(&live, |ip, port| node_port_service("holder", "none", ip, port));
    let create = |yaml: String| live.kubectl_stdin(&["create", "-f", "-"], &yaml);
    let cluster_ip = |name: &str, ip: &str| {
        format!(
            "apiVersion: v1\nkind: Service\nmetadata:\n  name: {name}\nspec:\n  clusterIP: {ip}\n  ports:\n  - port: 80\n"
        )
    };
    let node_port = |name: &str, port: u32| {
        format!(
            "apiVersion: v1\nkind: Service\nmetadata:\n  name: {name}\nspec:\n  type: NodePort\n  ports:\n  - port: 80\n    \
             nodePort: {port}\n"
        )
    };

    let out = create(cluster_ip("same-ip", &ip)).fails();
    assert!(out.stderr.contains("provided IP is already allocated"), "{}", out.stderr);
    assert!(out.stderr.contains(&ip), "{}", out.stderr);
    let out = create(node_port("same-port", port.into())).fails();
    assert!(out.stderr.contains("provided port is already allocated"), "{}", out.stderr);
    assert!(out.stderr.contains(&port.to_string()), "{}", out.stderr);
    let out = create(cluster_ip("far-ip", "10.200.0.7")).fails();
    assert!(out.stderr.contains("not in the valid range"), "{}", out.stderr);
    let out = create(node_port("far-port", 40000)).fails();
    assert!(
        out.stderr.contains("provided port is not in the valid range. The range of valid ports is 30000-32767"),
        "{}",
        out.stderr
    );
    // None of the refused services exists.
    let names = live.kubectl(&["get", "svc", "-o", "name"]).ok().stdout;
    assert_eq!(names.trim(), "service/holder");
}

#[test]
fn concurrent_creates_get_distinct_ips_and_ports() {
    let live = Live::new("svc-many");
    std::thread::scope(|s| {
        for i in 0..12 {
            let live = &live;
            s.spawn(move || {
                let yaml = format!(
                    "apiVersion: v1\nkind: Service\nmetadata:\n  name: many-{i}\nspec:\n  type: NodePort\n  ports:\n  \
                     - port: 80\n"
                );
                live.kubectl_stdin(&["create", "-f", "-"], &yaml).ok();
            });
        }
    });
    let list = live.json(&["services"]);
    let items: Vec<Value> = list["items"].as_array().cloned().unwrap_or_default();
    assert_eq!(items.len(), 12);
    let ips: BTreeSet<&str> = items.iter().filter_map(|s| s["spec"]["clusterIP"].as_str()).collect();
    let ports: BTreeSet<u64> = items.iter().filter_map(|s| s["spec"]["ports"][0]["nodePort"].as_u64()).collect();
    assert_eq!((ips.len(), ports.len()), (12, 12), "{ips:?} {ports:?}");
    assert!(ips.iter().all(|ip| in_service_cidr(ip)), "{ips:?}");
}

#[test]
fn deleting_a_service_stops_its_traffic_and_frees_its_ip_and_port() {
    let live = Live::new("svc-gone");
    live.create(&kubia_pod("gone-web", "gone-web"));
    live.create(&kubia_pod("gone-client", "gone-client"));
    let (ip, port) = create_with_requested(&live, |ip, port| node_port_service("gone", "gone-web", ip, port));
    live.wait_phase("gone-web", "Running", START);
    live.wait_phase("gone-client", "Running", START);
    let node = live.ready_node_ips()[0].clone();
    let url = format!("http://{ip}");
    let reached = eventually(SETTLE, || requests_from(&live, "gone-client", &url, 1) == ["gone-web"]);
    assert!(reached, "{url} never answered");
    host_reaches(&format!("{node}:{port}"), "gone-web");

    let out = live.kubectl(&["delete", "svc", "gone"]).ok();
    assert_eq!(out.stdout.trim(), r#"service "gone" deleted"#);
    let stopped = eventually(SETTLE, || {
        sh(&live, "gone-client", &format!("curl -s -m 2 {url}")).code != 0
            && http_get(&format!("{node}:{port}"), HTTP).is_err()
    });
    assert!(stopped, "traffic to {url} or {node}:{port} went on after the delete");

    // Both are free again at once: a new service asking for them gets them.
    live.kubectl_stdin(&["create", "-f", "-"], &node_port_service("again", "gone-web", &ip, port)).ok();
    assert_eq!(live.field("svc/again", "{.spec.clusterIP}"), ip);
    assert_eq!(live.field("svc/again", "{.spec.ports[0].nodePort}"), port.to_string());
    let reached = eventually(SETTLE, || requests_from(&live, "gone-client", &url, 1) == ["gone-web"]);
    assert!(reached, "the new service on the freed {ip} never answered");
}

/// Chapter 5's own manifests, unchanged (deploy/manifests): the RC, the
/// ClusterIP service, the NodePort service on the book's port 30123 and the
/// headless service, all selecting app=kubia.
#[test]
fn the_books_service_manifests_run_unchanged() {
    let live = Live::new("svc-book");
    for file in ["kubia-rc.yaml", "kubia-svc.yaml", "kubia-svc-nodeport.yaml", "kubia-svc-headless.yaml"] {
        live.kubectl(&["create", "-f", &e2e::manifest(file)]).ok();
    }
    let pods = rc_ready(&live, "kubia", 3);
    let ips = pod_ips(&live, "kubia");
    wait_endpoints(&live, "kubia", &ips);
    let client = pods.iter().next().unwrap().clone();

    let mut seen = BTreeSet::new();
    let spread = eventually(SETTLE, || {
        seen.extend(requests_from(&live, &client, "http://kubia", 9));
        seen == pods
    });
    assert!(spread, "curl http://kubia from {client} reached {seen:?}, not every pod of {pods:?}");

    for node in live.ready_node_ips() {
        let mut last = String::new();
        let ok = eventually(SETTLE, || {
            last = http_get(&format!("{node}:30123"), HTTP).unwrap_or_else(|e| e.to_string());
            hits(&last).first().is_some_and(|p| pods.contains(p))
        });
        assert!(ok, "GET http://{node}:30123/ from the host should reach a kubia pod; last answer: {last}");
    }

    let mut last = BTreeSet::new();
    let headless = eventually(SETTLE, || {
        last = resolved(&live.kubectl(&["exec", &client, "--", "nslookup", "kubia-headless"]).stdout);
        last == ips
    });
    assert!(headless, "nslookup kubia-headless gave {last:?}, expected the pods' IPs {ips:?}");
}
