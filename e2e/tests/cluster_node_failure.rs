//! A node fails: its kubelet stops, the node turns NotReady (Unknown), its
//! pods are evicted after the eviction timeout (Terminating: nobody on the
//! node confirms they stopped) and their ReplicationController replaces them
//! on the other nodes; when the kubelet returns it finishes the deletions and
//! removes the pods it no longer owns. A StatefulSet's pod is not replaced
//! while it is Terminating, as the book's chapter 10 shows: no second
//! kubia-0 may run while the first may still run on a node that is only cut
//! off; `kubectl delete po kubia-0 --force --grace-period 0` lets it come back
//! on another node, with its data (every node shares the provisioned
//! volumes). deploy/test.sh brings the cluster up with
//! NODE_MONITOR_GRACE_PERIOD=20s and POD_EVICTION_TIMEOUT=10s for this.
//! The tests stop nodes, so they run one at a time.

use e2e::{book_kubia_statefulset, book_text, eventually, manifest, tools, Live};
use serde_json::Value;
use std::process::Command;
use std::sync::Mutex;
use std::time::Duration;

/// One node failure at a time: two would leave one node for everything.
static ONE_FAILURE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// Stops a node's container (its kubelet; its pods' containers keep running,
/// as on a node cut off from the network), until the returned guard drops.
fn stop_node(node: &str) -> Restart {
    assert!(Command::new("docker").args(["stop", node]).output().unwrap().status.success());
    Restart(node.to_string())
}

/// Waits until the node is NotReady (Ready Unknown) and carries the unreachable taint.
fn wait_unreachable(live: &Live, node: &str) {
    // The node controller sets Ready to Unknown; kubectl prints that as NotReady.
    let not_ready = eventually(Duration::from_secs(60), || {
        live.global(&["get", "node", node]).rows().get(1).is_some_and(|row| row[1] == "NotReady")
    });
    assert!(not_ready, "{}", live.global(&["describe", "node", node]).stdout);
    // The node lifecycle controller writes the Unknown conditions and the
    // taint in two writes (status, then spec): the taint may come a moment later.
    let mut taints = String::new();
    let tainted = eventually(Duration::from_secs(30), || {
        taints = live.global(&["get", "node", node, "-o", "jsonpath={.spec.taints[*].key}"]).stdout;
        taints.contains("node.kubernetes.io/unreachable")
    });
    assert!(tainted, "taints of {node}: {taints:?}");
}

/// Whether no container of the test's namespace runs on the node any more.
fn no_containers_left(live: &Live, node: &str) -> bool {
    let out = Command::new("docker")
        .args([
            "ps",
            "-q",
            "--filter",
            &format!("label=kubelab.node={node}"),
            "--filter",
            &format!("label=io.kubernetes.pod.namespace={}", live.namespace),
        ])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim().is_empty()
}

/// The namespace's pods: (name, node, terminating).
fn placed(live: &Live) -> Vec<(String, String, bool)> {
    let list = live.json(&["pods"]);
    let items = list["items"].as_array().cloned().unwrap_or_default();
    let field = |p: &Value, path: &str| p.pointer(path).and_then(Value::as_str).unwrap_or("").to_string();
    items
        .iter()
        .map(|p| {
            (field(p, "/metadata/name"), field(p, "/spec/nodeName"), !p["metadata"]["deletionTimestamp"].is_null())
        })
        .collect()
}

/// Starts the node's container again when the test ends, whatever happened.
struct Restart(String);

impl Drop for Restart {
    fn drop(&mut self) {
        let _ = Command::new("docker").args(["start", &self.0]).output();
    }
}

#[test]
fn pods_of_a_failed_node_are_replaced_elsewhere() {
    let _alone = ONE_FAILURE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let live = Live::new("nodefail");
    live.kubectl(&["create", "-f", &manifest("kubia-rc.yaml")]).ok();
    live.kubectl(&["scale", "rc", "kubia", "--replicas=6"]).ok();
    let ready = || live.field("rc/kubia", "{.status.readyReplicas}") == "6";
    assert!(eventually(Duration::from_secs(90), ready));
    let victim = placed(&live)[0].1.clone();
    assert!(!victim.is_empty());

    let restart = stop_node(&victim);
    wait_unreachable(&live, &victim);

    // Evicted after the timeout: the victim's pods are Terminating (nothing
    // there confirms they stopped) and six run on the other nodes.
    let replaced = eventually(Duration::from_secs(120), || {
        let now = placed(&live);
        let elsewhere = now.iter().filter(|(_, n, terminating)| *n != victim && !terminating).count();
        elsewhere == 6 && now.iter().filter(|(_, n, _)| *n == victim).all(|(_, _, terminating)| *terminating)
    });
    assert!(replaced, "{}", live.kubectl(&["get", "pods", "-o", "wide"]).stdout);
    std::thread::sleep(Duration::from_secs(3));
    let live_pods = placed(&live).into_iter().filter(|(_, _, terminating)| !terminating).count();
    assert_eq!(live_pods, 6, "the count never exceeds the desired number once settled");

    // The kubelet returns: the node is Ready again, it finishes the
    // deletions, and none of the old pods run on it.
    drop(restart);
    assert!(eventually(Duration::from_secs(60), || live.global(&["get", "node", &victim]).stdout.contains(" Ready")));
    let finished = eventually(Duration::from_secs(60), || placed(&live).iter().all(|(_, n, _)| *n != victim));
    assert!(finished, "{}", live.kubectl(&["get", "pods", "-o", "wide"]).stdout);
    let leftovers = eventually(Duration::from_secs(60), || no_containers_left(&live, &victim));
    assert!(leftovers, "the returning kubelet stops the pods it no longer owns");
}

/// The book's chapter 10.5 with a current kubectl: kubia-0's node fails;
/// kubia-0 is evicted but stays (Terminating), and no second kubia-0 appears
/// until it is force-deleted; then kubia-0 comes back on another node with
/// the data POSTed before.
#[test]
fn a_statefulset_pod_of_a_failed_node_comes_back_only_when_force_deleted() {
    let _alone = ONE_FAILURE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let live = Live::with_kubectl("stsfail", tools::kubectl_current());
    live.create(&book_text("Chapter10/kubia-service-headless.yaml"));
    live.create(&book_kubia_statefulset());
    let ready = || live.field("sts/kubia", "{.status.readyReplicas}") == "2";
    assert!(eventually(Duration::from_secs(120), ready), "{}", live.kubectl(&["describe", "sts", "kubia"]).stdout);
    let posted =
        live.kubectl(&["exec", "kubia-0", "--", "wget", "-qO-", "--post-data", "kept", "http://localhost:8080/"]);
    assert_eq!(posted.stdout, "Data stored on pod kubia-0\n", "{posted:?}");
    let uid = live.field("pod/kubia-0", "{.metadata.uid}");
    let victim = live.field("pod/kubia-0", "{.spec.nodeName}");

    let restart = stop_node(&victim);
    wait_unreachable(&live, &victim);
    let evicted =
        eventually(Duration::from_secs(60), || !live.field("pod/kubia-0", "{.metadata.deletionTimestamp}").is_empty());
    assert!(evicted, "{}", live.kubectl(&["get", "pods", "-o", "wide"]).stdout);
    // Identity safety: it stays, Terminating, and nothing takes its name.
    std::thread::sleep(Duration::from_secs(15));
    assert_eq!(live.field("pod/kubia-0", "{.metadata.uid}"), uid, "kubia-0 was replaced while it may still run");
    let row = live.kubectl(&["get", "pod", "kubia-0", "--no-headers"]).clean().rows().remove(0);
    assert_eq!(row[2], "Terminating", "{row:?}");

    let forced = live.kubectl(&["delete", "po", "kubia-0", "--force", "--grace-period", "0"]);
    assert_eq!(forced.code, 0, "{forced:?}");
    assert!(forced.stdout.contains("pod \"kubia-0\" force deleted"), "{forced:?}");
    let back = eventually(Duration::from_secs(90), || {
        let new_uid = live.field("pod/kubia-0", "{.metadata.uid}");
        !new_uid.is_empty() && new_uid != uid && live.field("pod/kubia-0", "{.status.phase}") == "Running"
    });
    assert!(back, "{}", live.kubectl(&["get", "pods", "-o", "wide"]).stdout);
    assert_ne!(live.field("pod/kubia-0", "{.spec.nodeName}"), victim);
    let answer = eventually(Duration::from_secs(30), || {
        live.kubectl(&["exec", "kubia-0", "--", "wget", "-qO-", "http://localhost:8080/"]).stdout
            == "You've hit kubia-0\nData stored on this pod: kept\n"
    });
    assert!(answer, "the data did not follow kubia-0 to its new node");

    drop(restart);
    assert!(eventually(Duration::from_secs(60), || live.global(&["get", "node", &victim]).stdout.contains(" Ready")));
    let leftovers = eventually(Duration::from_secs(60), || no_containers_left(&live, &victim));
    assert!(leftovers, "the returning kubelet stops the old kubia-0");
}
