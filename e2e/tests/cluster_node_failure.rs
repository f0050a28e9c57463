//! A node fails: its kubelet stops, the node turns NotReady (Unknown), its
//! pods are evicted after the eviction timeout and their controller replaces
//! them on the other nodes; when the kubelet returns it removes the pods it no
//! longer owns. deploy/test.sh brings the cluster up with
//! NODE_MONITOR_GRACE_PERIOD=20s and POD_EVICTION_TIMEOUT=10s for this.

use e2e::{eventually, manifest, Live};
use std::process::Command;
use std::time::Duration;

/// Starts the node's container again when the test ends, whatever happened.
struct Restart(String);

impl Drop for Restart {
    fn drop(&mut self) {
        let _ = Command::new("docker").args(["start", &self.0]).output();
    }
}

#[test]
fn pods_of_a_failed_node_are_replaced_elsewhere() {
    let live = Live::new("nodefail");
    live.kubectl(&["create", "-f", &manifest("kubia-rc.yaml")]).ok();
    live.kubectl(&["scale", "rc", "kubia", "--replicas=6"]).ok();
    let ready = || live.field("rc/kubia", "{.status.readyReplicas}") == "6";
    assert!(eventually(Duration::from_secs(90), ready));
    let nodes =
        || live.kubectl(&["get", "pods", "-o", "jsonpath={range .items[*]}{.spec.nodeName}{\"\\n\"}{end}"]).stdout;
    let victim = nodes().lines().next().unwrap().to_string();
    let on_victim: Vec<String> = live
        .kubectl(&["get", "pods", "--field-selector", &format!("spec.nodeName={victim}"), "-o", "name"])
        .stdout
        .lines()
        .map(String::from)
        .collect();
    assert!(!on_victim.is_empty());

    assert!(Command::new("docker").args(["stop", &victim]).output().unwrap().status.success());
    let _restart = Restart(victim.clone());
    // The node controller sets Ready to Unknown; kubectl prints that as NotReady.
    let not_ready = eventually(Duration::from_secs(60), || {
        live.global(&["get", "node", &victim]).rows().get(1).is_some_and(|row| row[1] == "NotReady")
    });
    assert!(not_ready, "{}", live.global(&["describe", "node", &victim]).stdout);
    // The node lifecycle controller writes the Unknown conditions and the
    // taint in two writes (status, then spec): the taint may come a moment later.
    let mut taints = String::new();
    let tainted = eventually(Duration::from_secs(30), || {
        taints = live.global(&["get", "node", &victim, "-o", "jsonpath={.spec.taints[*].key}"]).stdout;
        taints.contains("node.kubernetes.io/unreachable")
    });
    assert!(tainted, "taints of {victim}: {taints:?}");

    // Evicted after the timeout, replaced on the other nodes; never more than 6 once settled.
    let replaced = eventually(Duration::from_secs(120), || {
        let placed = nodes();
        placed.lines().filter(|n| *n != victim).count() == 6 && !placed.lines().any(|n| n == victim)
    });
    assert!(replaced, "{}", live.kubectl(&["get", "pods", "-o", "wide"]).stdout);
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(nodes().lines().count(), 6, "the count never exceeds the desired number once settled");

    // The kubelet returns: the node is Ready again and none of the old pods run on it.
    drop(_restart);
    assert!(eventually(Duration::from_secs(60), || live.global(&["get", "node", &victim]).stdout.contains(" Ready")));
    let leftovers = eventually(Duration::from_secs(60), || {
        let out = Command::new("docker")
            .args([
                "ps",
                "-q",
                "--filter",
                &format!("label=kubelab.node={victim}"),
                "--filter",
                &format!("label=io.kubernetes.pod.namespace={}", live.namespace),
            ])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).trim().is_empty()
    });
    assert!(leftovers, "the returning kubelet stops the pods it no longer owns");
}
