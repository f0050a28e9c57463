//! StatefulSets on the compose cluster (`./deploy/up.sh`), as the book's
//! chapter 10 runs them, typed into the book's kubectl (1.20): the book's
//! kubia-statefulset.yaml and kubia-service-headless.yaml create kubia-0, then
//! kubia-1 once kubia-0 is Ready, each with its own claim (provisioned by the
//! default class); data POSTed to kubia-0 survives its deletion, since it
//! comes back as kubia-0 on the same claim, on another node (its old one
//! cordoned meanwhile) that shares the provisioned volume; the pods resolve by name and in the
//! service's SRV answer; the container's hostname -f is its FQDN; an image
//! change rolls from the highest ordinal down, and `rollout undo` back; scaling down removes the
//! highest ordinal first and keeps the claims; deleting the set deletes its
//! pods and keeps the claims.
//!
//! The book's manifests are apps/v1 with a selector already (as its README asks
//! readers to fix older copies); an older copy is fixed here in memory. Run by
//! deploy/test.sh with `cargo test -p e2e --features cluster --test
//! cluster_statefulset` (without the `cluster` feature the file holds no test).
#![cfg(feature = "cluster")]

use e2e::{book_kubia_statefulset, book_text, eventually, tools, Live};
use serde_json::Value;
use std::collections::BTreeMap;
use std::time::Duration;

const START: Duration = Duration::from_secs(90);
/// Three pods replaced one after the other.
const ROLLOUT: Duration = Duration::from_secs(240);

/// The set's pods by name: (phase, ready, image, uid, creation time).
fn pods(live: &Live) -> BTreeMap<String, Value> {
    let list = live.json(&["pods", "-l", "app=kubia"]);
    list["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|p| p["metadata"]["deletionTimestamp"].is_null())
        .map(|p| (p["metadata"]["name"].as_str().unwrap_or("").to_string(), p.clone()))
        .collect()
}

fn is_ready(pod: &Value) -> bool {
    pod["status"]["phase"] == "Running"
        && pod["status"]["conditions"]
            .as_array()
            .is_some_and(|cs| cs.iter().any(|c| c["type"] == "Ready" && c["status"] == "True"))
}

fn ready_since(pod: &Value) -> String {
    let conditions = pod["status"]["conditions"].as_array().cloned().unwrap_or_default();
    let ready = conditions.iter().find(|c| c["type"] == "Ready").cloned().unwrap_or_default();
    ready["lastTransitionTime"].as_str().unwrap_or("").to_string()
}

fn names(pods: &BTreeMap<String, Value>) -> Vec<String> {
    pods.keys().cloned().collect()
}

fn all_ready(live: &Live, expected: &[&str]) -> bool {
    let now = pods(live);
    names(&now) == expected && now.values().all(is_ready)
}

fn header(stdout: &str) -> String {
    stdout.lines().next().unwrap_or_default().split_whitespace().collect::<Vec<_>>().join(" ")
}

/// What the pod's kubia-pet answers a GET with, through the apiserver's pods/proxy.
fn get_via_proxy(live: &Live, pod: &str) -> String {
    let path = format!("/api/v1/namespaces/{}/pods/{pod}/proxy/", live.namespace);
    live.global(&["get", "--raw", &path]).stdout
}

/// Cordons a node until dropped (even when the test fails half-way).
struct Cordoned<'a> {
    live: &'a Live,
    node: String,
}

impl<'a> Cordoned<'a> {
    fn new(live: &'a Live, node: &str) -> Self {
        live.admin(&["cordon", node]).ok();
        Self { live, node: node.to_string() }
    }
}

impl Drop for Cordoned<'_> {
    fn drop(&mut self) {
        self.live.admin(&["uncordon", &self.node]);
    }
}

fn node_of(live: &Live, pod: &str) -> String {
    pods(live)[pod]["spec"]["nodeName"].as_str().unwrap_or("").to_string()
}

fn exec(live: &Live, pod: &str, cmd: &[&str]) -> String {
    let mut args = vec!["exec", pod, "--"];
    args.extend_from_slice(cmd);
    let out = live.kubectl(&args);
    format!("{}{}", out.stdout, out.stderr)
}

#[test]
fn the_books_statefulset_keeps_identity_and_data_resolves_rolls_and_scales_in_order() {
    let live = Live::with_kubectl("sts", tools::kubectl_120());
    let ns = live.namespace.clone();
    live.create(&book_text("Chapter10/kubia-service-headless.yaml"));
    let out = live.kubectl_stdin(&["create", "-f", "-"], &book_kubia_statefulset()).clean();
    assert_eq!(out.stdout.trim(), "statefulset.apps/kubia created");

    // kubia-0, then kubia-1 once kubia-0 is Running and Ready.
    let mut early = vec![];
    let up = eventually(START, || {
        let now = pods(&live);
        if now.contains_key("kubia-1") && !now.get("kubia-0").is_some_and(is_ready) {
            early.push(format!("{:?}", names(&now)));
        }
        names(&now) == ["kubia-0", "kubia-1"] && now.values().all(is_ready)
    });
    assert!(up, "the pods did not come up: {}", live.kubectl(&["describe", "sts", "kubia"]).stdout);
    assert!(early.is_empty(), "kubia-1 existed before kubia-0 was ready: {early:?}");
    let now = pods(&live);
    let (zero, one) = (&now["kubia-0"], &now["kubia-1"]);
    assert!(
        one["metadata"]["creationTimestamp"].as_str().unwrap_or("") >= ready_since(zero).as_str(),
        "kubia-1 was created before kubia-0 was ready"
    );
    assert_eq!(zero["spec"]["hostname"], "kubia-0");
    assert_eq!(zero["spec"]["subdomain"], "kubia");
    assert_eq!(zero["metadata"]["labels"]["statefulset.kubernetes.io/pod-name"], "kubia-0");

    let sts = live.kubectl(&["get", "sts"]).clean();
    assert_eq!(header(&sts.stdout), "NAME READY AGE");
    assert_eq!(sts.rows()[1][..2], ["kubia", "2/2"]);
    let wide = live.kubectl(&["get", "sts", "-o", "wide"]).clean();
    assert_eq!(header(&wide.stdout), "NAME READY AGE CONTAINERS IMAGES");
    assert!(wide.stdout.contains("luksa/kubia-pet"), "{}", wide.stdout);
    let described = live.admin(&["-n", &ns, "describe", "sts", "kubia"]).ok().stdout;
    assert!(described.contains("Replicas:           2 desired | 2 total"), "{described}");

    // Each pod has its own claim, bound by the default class's provisioner.
    let bound = eventually(START, || {
        let claims = live.kubectl(&["get", "pvc"]);
        ["data-kubia-0", "data-kubia-1"].iter().all(|c| {
            claims
                .rows()
                .iter()
                .any(|r| r.first().map(String::as_str) == Some(c) && r.get(1).map(String::as_str) == Some("Bound"))
        })
    });
    assert!(bound, "{}", live.kubectl(&["get", "pvc"]).stdout);

    // The book's POST to kubia-0, then kubia-0 deleted: it comes back as kubia-0 with the data.
    assert_eq!(get_via_proxy(&live, "kubia-0"), "You've hit kubia-0\nData stored on this pod: No data posted yet\n");
    let greeting = "Hey there! This greeting was submitted to kubia-0.";
    let posted = exec(&live, "kubia-0", &["wget", "-qO-", "--post-data", greeting, "http://localhost:8080/"]);
    assert_eq!(posted, "Data stored on pod kubia-0\n");
    let old_uid = pods(&live)["kubia-0"]["metadata"]["uid"].clone();
    let old_node = node_of(&live, "kubia-0");
    let cordoned = Cordoned::new(&live, &old_node);
    live.kubectl(&["delete", "po", "kubia-0"]).clean();
    let back = eventually(START, || {
        let now = pods(&live);
        now.get("kubia-0").is_some_and(|p| p["metadata"]["uid"] != old_uid && is_ready(p))
    });
    assert!(back, "kubia-0 did not come back: {:?}", names(&pods(&live)));
    assert_ne!(node_of(&live, "kubia-0"), old_node, "kubia-0 came back on its cordoned node");
    drop(cordoned);
    let answer = get_via_proxy(&live, "kubia-0");
    assert_eq!(answer, format!("You've hit kubia-0\nData stored on this pod: {greeting}\n"), "data followed it");
    assert_eq!(get_via_proxy(&live, "kubia-1"), "You've hit kubia-1\nData stored on this pod: No data posted yet\n");

    // Per-pod DNS: the FQDN, the A record, the service's SRV answer.
    let fqdn = format!("kubia-0.kubia.{ns}.svc.cluster.local");
    assert_eq!(exec(&live, "kubia-0", &["hostname"]).trim(), "kubia-0");
    assert_eq!(exec(&live, "kubia-0", &["hostname", "-f"]).trim(), fqdn);
    let ip = pods(&live)["kubia-0"]["status"]["podIP"].as_str().unwrap_or("").to_string();
    let resolves = eventually(START, || exec(&live, "kubia-1", &["nslookup", &fqdn]).contains(&ip));
    assert!(resolves, "{}", exec(&live, "kubia-1", &["nslookup", &fqdn]));
    let service = format!("kubia.{ns}.svc.cluster.local");
    let srv = exec(&live, "kubia-1", &["nslookup", "-type=SRV", &service]);
    for pod in ["kubia-0", "kubia-1"] {
        assert!(srv.contains(&format!("{pod}.kubia.{ns}.svc.cluster.local")), "{srv}");
    }
    // The book's lookup with dig from tutum/dnsutils (run without -it: a
    // command this short may finish before an attach begins).
    let run = ["run", "srvlookup", "--image=tutum/dnsutils", "--restart=Never", "--", "dig", "SRV", &service];
    live.kubectl(&run).clean();
    live.wait_phase("srvlookup", "Succeeded", START);
    let dig = live.kubectl(&["logs", "srvlookup"]).stdout;
    for pod in ["kubia-0", "kubia-1"] {
        let target = format!("{pod}.kubia.{ns}.svc.cluster.local.");
        let answered = dig.lines().any(|l| l.split_whitespace().any(|w| w == "SRV") && l.ends_with(&target));
        assert!(answered, "no SRV record naming {target} in:\n{dig}");
    }

    // Scale up: kubia-2 joins.
    live.kubectl(&["scale", "sts", "kubia", "--replicas=3"]).clean();
    assert!(eventually(START, || all_ready(&live, &["kubia-0", "kubia-1", "kubia-2"])));

    // A new image rolls from the highest ordinal down.
    let revision = |p: &Value| p["metadata"]["labels"]["controller-revision-hash"].as_str().unwrap_or("").to_string();
    let first = revision(&pods(&live)["kubia-0"]);
    live.kubectl(&["set", "image", "sts", "kubia", "kubia=luksa/kubia"]).clean();
    let mut out_of_order = vec![];
    let rolled = eventually(ROLLOUT, || {
        let now = pods(&live);
        let updated: Vec<bool> = ["kubia-0", "kubia-1", "kubia-2"]
            .iter()
            .map(|n| now.get(*n).is_some_and(|p| p["spec"]["containers"][0]["image"] == "luksa/kubia"))
            .collect();
        // Updated pods are always the highest ordinals.
        if updated.windows(2).any(|w| w[0] && !w[1]) {
            out_of_order.push(format!("{updated:?}"));
        }
        updated.iter().all(|u| *u) && now.values().all(is_ready)
    });
    assert!(rolled, "the rollout did not finish: {}", live.kubectl(&["describe", "sts", "kubia"]).stdout);
    assert!(out_of_order.is_empty(), "a lower ordinal was updated first: {out_of_order:?}");
    assert_ne!(revision(&pods(&live)["kubia-0"]), first);
    let status = live.kubectl(&["rollout", "status", "sts", "kubia"]).clean();
    assert_eq!(status.stdout.trim(), "partitioned roll out complete: 3 new pods have been updated...");
    let history = live.kubectl(&["rollout", "history", "sts", "kubia"]).clean();
    assert_eq!(
        history.stdout,
        "statefulset.apps/kubia \nREVISION  CHANGE-CAUSE\n1         <none>\n2         <none>\n\n"
    );
    // Undo: the first template comes back as revision 3, rolled out the same way.
    let undo = live.kubectl(&["rollout", "undo", "sts", "kubia"]).clean();
    assert_eq!(undo.stdout.trim(), "statefulset.apps/kubia rolled back");
    let back = eventually(ROLLOUT, || {
        let now = pods(&live);
        names(&now) == ["kubia-0", "kubia-1", "kubia-2"]
            && now.values().all(|p| is_ready(p) && p["spec"]["containers"][0]["image"] == "luksa/kubia-pet")
    });
    assert!(back, "the undo did not roll out: {}", live.kubectl(&["describe", "sts", "kubia"]).stdout);
    assert_eq!(revision(&pods(&live)["kubia-0"]), first, "the old revision is reused");
    let history = live.kubectl(&["rollout", "history", "sts", "kubia"]).clean();
    assert_eq!(
        history.stdout,
        "statefulset.apps/kubia \nREVISION  CHANGE-CAUSE\n2         <none>\n3         <none>\n\n"
    );

    // Scale down: the highest ordinal first, one at a time; the claims stay.
    live.kubectl(&["scale", "sts", "kubia", "--replicas=1"]).clean();
    let mut wrong = vec![];
    let down = eventually(START, || {
        let now = pods(&live);
        if now.contains_key("kubia-2") && !now.contains_key("kubia-1") {
            wrong.push(format!("{:?}", names(&now)));
        }
        names(&now) == ["kubia-0"]
    });
    assert!(down, "{:?}", names(&pods(&live)));
    assert!(wrong.is_empty(), "kubia-1 went before kubia-2: {wrong:?}");
    let claims = live.kubectl(&["get", "pvc", "-o", "name"]).clean().stdout;
    for c in ["data-kubia-0", "data-kubia-1", "data-kubia-2"] {
        assert!(claims.contains(&format!("persistentvolumeclaim/{c}")), "{claims}");
    }

    // Deleting the set deletes its pods (owner references); the claims stay.
    live.kubectl(&["delete", "sts", "kubia"]).clean();
    assert!(eventually(START, || pods(&live).is_empty()), "{:?}", names(&pods(&live)));
    let claims = live.kubectl(&["get", "pvc", "-o", "name"]).clean().stdout;
    assert!(claims.contains("persistentvolumeclaim/data-kubia-0"), "{claims}");
}
