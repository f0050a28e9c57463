//! Chapter 4 of the book on the compose cluster: ReplicationControllers and
//! ReplicaSets keep their pods, adopt and release them by label, and the
//! garbage collector honours the cascade policy.

use e2e::{eventually, manifest, Live};
use std::time::Duration;

const SETTLE: Duration = Duration::from_secs(60);

/// Names of the pods with `selector` that are not being deleted.
fn live_pods(live: &Live, selector: &str) -> Vec<String> {
    let out = live.kubectl(&[
        "get",
        "pods",
        "-l",
        selector,
        "-o",
        "jsonpath={range .items[?(@.metadata.deletionTimestamp)]}-{.metadata.name}{\"\\n\"}{end}",
    ]);
    let terminating: Vec<String> = out.stdout.lines().map(|l| l.trim_start_matches('-').to_string()).collect();
    let all = live.kubectl(&["get", "pods", "-l", selector, "-o", "name"]).stdout;
    all.lines().map(|l| l.trim_start_matches("pod/").to_string()).filter(|n| !terminating.contains(n)).collect()
}

#[test]
fn a_replication_controller_keeps_its_pods_and_follows_labels() {
    let live = Live::new("rc");
    live.kubectl(&["create", "-f", &manifest("kubia-rc.yaml")]).ok();
    assert!(eventually(SETTLE, || live.field("rc/kubia", "{.status.readyReplicas}") == "3"));
    let out = live.kubectl(&["get", "rc"]).ok();
    assert_eq!(out.rows()[0], ["NAME", "DESIRED", "CURRENT", "READY", "AGE"]);
    assert_eq!(&out.rows()[1][..4], ["kubia", "3", "3", "3"]);
    let pods = live_pods(&live, "app=kubia");
    assert_eq!(pods.len(), 3);
    assert!(pods.iter().all(|p| p.starts_with("kubia-") && p.len() == "kubia-".len() + 5), "{pods:?}");

    // A deleted pod is replaced.
    live.kubectl(&["delete", "pod", &pods[0]]).ok();
    assert!(eventually(SETTLE, || {
        let now = live_pods(&live, "app=kubia");
        now.len() == 3 && !now.contains(&pods[0])
    }));

    // A pod relabelled out of the selector is released and replaced.
    let pods = live_pods(&live, "app=kubia");
    live.kubectl(&["label", "pod", &pods[0], "env=dev"]).ok();
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(live_pods(&live, "app=kubia").len(), 3, "an extra label changes nothing");
    live.kubectl(&["label", "pod", &pods[0], "app=kubia-dev", "--overwrite"]).ok();
    assert!(eventually(SETTLE, || live_pods(&live, "app=kubia").len() == 3
        && !live_pods(&live, "app=kubia").contains(&pods[0])));
    assert_eq!(live.field(&format!("pod/{}", pods[0]), "{.metadata.ownerReferences}"), "", "released");

    // A matching pod made by hand is one too many: the RC deletes it.
    live.kubectl(&["create", "-f", &manifest("kubia-gpu.yaml")]).ok();
    live.kubectl(&["label", "pod", "kubia-gpu", "app=kubia"]).ok();
    assert!(eventually(SETTLE, || live.kubectl(&["get", "pod", "kubia-gpu"]).code == 1
        || live_pods(&live, "app=kubia").len() == 3
            && !live_pods(&live, "app=kubia").contains(&"kubia-gpu".to_string())));
    let events = live.kubectl(&["describe", "rc", "kubia"]).ok().stdout;
    assert!(events.contains("SuccessfulCreate") && events.contains("SuccessfulDelete"), "{events}");

    // Scaling.
    live.kubectl(&["scale", "rc", "kubia", "--replicas=5"]).ok();
    assert!(eventually(SETTLE, || live_pods(&live, "app=kubia").len() == 5));
    live.kubectl(&["scale", "rc", "kubia", "--replicas=2"]).ok();
    assert!(eventually(SETTLE, || live_pods(&live, "app=kubia").len() == 2));

    // Deleting with --cascade=orphan leaves the pods, now owned by nobody.
    live.kubectl(&["delete", "rc", "kubia", "--cascade=orphan"]).ok();
    assert!(eventually(SETTLE, || live.kubectl(&["get", "rc", "kubia"]).code == 1));
    std::thread::sleep(Duration::from_secs(2));
    let left = live_pods(&live, "app=kubia");
    assert_eq!(left.len(), 2);
    for p in &left {
        assert_eq!(live.field(&format!("pod/{p}"), "{.metadata.ownerReferences}"), "");
    }
    // A new RC with the same selector adopts them.
    live.kubectl(&["create", "-f", &manifest("kubia-rc.yaml")]).ok();
    assert!(eventually(SETTLE, || live_pods(&live, "app=kubia").len() == 3));
    assert!(left.iter().all(|p| live_pods(&live, "app=kubia").contains(p)), "the orphans were adopted");
    // The default cascade deletes the pods with the RC.
    live.kubectl(&["delete", "rc", "kubia"]).ok();
    assert!(eventually(SETTLE, || live_pods(&live, "app=kubia").is_empty()));
}

#[test]
fn a_replica_set_selects_with_expressions() {
    let live = Live::new("rs");
    let out = live.kubectl(&["create", "-f", &manifest("kubia-replicaset.yaml")]).ok();
    assert_eq!(out.stdout.trim(), "replicaset.apps/kubia created");
    assert!(eventually(SETTLE, || live.field("rs/kubia", "{.status.readyReplicas}") == "3"));
    let expr = "apiVersion: apps/v1\nkind: ReplicaSet\nmetadata:\n  name: expr\nspec:\n  replicas: 2\n  selector:\n    matchExpressions:\n    - key: app\n      operator: In\n      values: [expr]\n    - key: canary\n      operator: DoesNotExist\n  template:\n    metadata:\n      labels:\n        app: expr\n    spec:\n      containers:\n      - name: kubia\n        image: luksa/kubia\n";
    let mut c = live.command(&["create", "-f", "-"]).stdin(std::process::Stdio::piped()).spawn().unwrap();
    std::io::Write::write_all(&mut c.stdin.take().unwrap(), expr.as_bytes()).unwrap();
    assert!(c.wait().unwrap().success());
    assert!(eventually(SETTLE, || live_pods(&live, "app=expr").len() == 2));
    // A pod that gains the excluded label leaves the set, which replaces it.
    let first = live_pods(&live, "app=expr")[0].clone();
    live.kubectl(&["label", "pod", &first, "canary=yes"]).ok();
    assert!(eventually(SETTLE, || live_pods(&live, "app=expr,!canary").len() == 2));
    let rows = live.kubectl(&["get", "rs"]).ok().rows();
    assert_eq!(rows[0], ["NAME", "DESIRED", "CURRENT", "READY", "AGE"]);
}

#[test]
fn deleting_a_namespace_deletes_what_is_in_it() {
    let live = Live::new("nsdel");
    live.kubectl(&["create", "-f", &manifest("kubia-rc.yaml")]).ok();
    assert!(eventually(SETTLE, || live_pods(&live, "app=kubia").len() == 3));
    let out = live.global(&["delete", "namespace", &live.namespace, "--wait=false"]).ok();
    assert!(out.stdout.contains("deleted"), "{}", out.stdout);
    let phase = live.global(&["get", "ns", &live.namespace, "-o", "jsonpath={.status.phase}"]).stdout;
    assert!(phase == "Terminating" || phase.is_empty(), "{phase}");
    assert!(eventually(Duration::from_secs(90), || live.global(&["get", "ns", &live.namespace]).code == 1));
}
