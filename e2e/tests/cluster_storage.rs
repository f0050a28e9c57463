//! PersistentVolumes, claims and StorageClasses on the compose cluster
//! (`./deploy/up.sh`), as the second half of the book's chapter 6 uses them,
//! typed into both real kubectls (1.20 and current): the book's hostPath PV
//! and claim bound as `kubectl get pv,pvc` shows them, a pod whose data on
//! the claim outlives it, the PV Released when the claim goes; then dynamic
//! provisioning: the default class `standard` (kubelab's bootstrap, as
//! minikube's addon) and the book's `fast` class (minikube's provisioner name)
//! each give a claim a new volume, deleted with the claim; and the
//! scheduler's and provisioner's waits: a pod held for a missing, then an
//! unbound claim (kube-scheduler's VolumeBinding messages) until a PV binds
//! it, and a WaitForFirstConsumer claim provisioned only for a scheduled pod.
//! Every node shares the provisioned volumes: a pod on another node finds
//! the data a first pod wrote.
//!
//! The book's mongodb pods run the `mongo` image, which kubelab does not
//! build: the pods here are the book's pod with busybox in its place, writing
//! and reading a file at the same mount path (`/data/db`). PVs and classes
//! are cluster-wide, so each scenario runs both kubectls one after the other
//! (a claim of one run could otherwise bind the other run's volume), with
//! the PV named after the namespace. Run by deploy/test.sh with
//! `cargo test -p e2e --features cluster --test cluster_storage` (without the
//! `cluster` feature the file holds no test).
#![cfg(feature = "cluster")]

use e2e::{book_text, eventually, tools, Live, Run};
use std::path::PathBuf;
use std::time::Duration;

const START: Duration = Duration::from_secs(60);
const BIND: Duration = Duration::from_secs(30);

fn kubectls() -> [(&'static str, PathBuf); 2] {
    [("k120", tools::kubectl_120()), ("kcur", tools::kubectl_current())]
}

/// The book's mongodb pod (mongodb-pod-pvc.yaml) with busybox in place of
/// `mongo`, on `node` (a hostPath volume lives on one node).
fn busybox_mongodb_pod(node: Option<&str>, claim: &str) -> String {
    let book = book_text("Chapter06/mongodb-pod-pvc.yaml");
    assert!(book.contains("image: mongo") && book.contains("claimName: mongodb-pvc"), "{book}");
    let pinned = node.map_or(String::new(), |n| format!("  nodeSelector:\n    kubernetes.io/hostname: {n}\n"));
    format!(
        "apiVersion: v1
kind: Pod
metadata:
  name: mongodb
spec:
{pinned}  terminationGracePeriodSeconds: 2
  containers:
  - image: busybox
    name: mongodb
    command: [sh, -c, 'trap \"exit 0\" TERM; while :; do sleep 1 & wait $!; done']
    volumeMounts:
    - name: mongodb-data
      mountPath: /data/db
  volumes:
  - name: mongodb-data
    persistentVolumeClaim:
      claimName: {claim}
"
    )
}

fn sh(live: &Live, script: &str) -> Result<String, String> {
    let out = live.kubectl(&["exec", "mongodb", "--", "sh", "-c", script]);
    if out.code == 0 {
        Ok(out.stdout)
    } else {
        Err(format!("exit {}: {}{}", out.code, out.stdout, out.stderr))
    }
}

/// The rows of `kubectl get <what>` whose first cell is `name`.
fn row(out: &Run, name: &str) -> Vec<String> {
    out.rows().into_iter().find(|r| r.first().map(String::as_str) == Some(name)).unwrap_or_default()
}

fn header(out: &Run) -> String {
    out.stdout.lines().next().unwrap_or_default().split_whitespace().collect::<Vec<_>>().join(" ")
}

fn a_node(live: &Live) -> String {
    let names = live.global(&["get", "nodes", "-o", "name"]).ok().stdout;
    let mut nodes: Vec<&str> = names.lines().map(|l| l.trim_start_matches("node/")).collect();
    nodes.sort();
    nodes.last().expect("a node").to_string()
}

#[test]
fn the_books_hostpath_volume_is_bound_keeps_data_across_pods_and_is_released() {
    for (tag, kubectl) in kubectls() {
        let live = Live::with_kubectl(&format!("pv-{tag}"), kubectl);
        let pv = format!("mongodb-pv-{}", live.namespace);
        let manifest = book_text("Chapter06/mongodb-pv-hostpath.yaml")
            .replace("name: mongodb-pv", &format!("name: {pv}"))
            .replace("path: /tmp/mongodb", &format!("path: /tmp/kubelab-e2e/{}", live.namespace));
        let out = live.kubectl_stdin(&["create", "-f", "-"], &manifest).clean();
        assert_eq!(out.stdout.trim(), format!("persistentvolume/{pv} created"));
        assert!(eventually(BIND, || row(&live.global(&["get", "pv", &pv]), &pv).get(4).map(String::as_str)
            == Some("Available")));
        let got = live.global(&["get", "pv", &pv]).clean();
        assert_eq!(
            header(&got),
            "NAME CAPACITY ACCESS MODES RECLAIM POLICY STATUS CLAIM STORAGECLASS VOLUMEATTRIBUTESCLASS REASON AGE",
            "{tag}"
        );
        assert_eq!(row(&got, &pv)[..6], [&pv, "1Gi", "RWO,ROX", "Retain", "Available", "<unset>"]);

        let out = live.kubectl_stdin(&["create", "-f", "-"], &book_text("Chapter06/mongodb-pvc.yaml")).clean();
        assert_eq!(out.stdout.trim(), "persistentvolumeclaim/mongodb-pvc created");
        let bound = eventually(BIND, || {
            row(&live.kubectl(&["get", "pvc"]), "mongodb-pvc").get(1).map(String::as_str) == Some("Bound")
        });
        assert!(bound, "{tag}: {}", live.kubectl(&["describe", "pvc", "mongodb-pvc"]).stdout);
        let pvcs = live.kubectl(&["get", "pvc"]).clean();
        assert_eq!(header(&pvcs), "NAME STATUS VOLUME CAPACITY ACCESS MODES STORAGECLASS VOLUMEATTRIBUTESCLASS AGE");
        assert_eq!(row(&pvcs, "mongodb-pvc")[..6], ["mongodb-pvc", "Bound", &pv, "1Gi", "RWO,ROX", "<unset>"]);
        let claim = format!("{}/mongodb-pvc", live.namespace);
        assert!(eventually(BIND, || row(&live.global(&["get", "pv", &pv]), &pv).get(5) == Some(&claim)));
        assert_eq!(row(&live.global(&["get", "pv", &pv]).clean(), &pv)[4], "Bound");
        // `kubectl get pv,pvc` lists both kinds, each with its own columns.
        let both = live.kubectl(&["get", "pv,pvc"]).clean();
        assert!(both.stdout.contains(&format!("persistentvolume/{pv}")), "{}", both.stdout);
        assert!(both.stdout.contains("persistentvolumeclaim/mongodb-pvc"), "{}", both.stdout);

        // A pod writes to the claim; its successor on the same node reads it.
        let node = a_node(&live);
        let pod = busybox_mongodb_pod(Some(&node), "mongodb-pvc");
        live.create(&pod);
        live.wait_phase("mongodb", "Running", START);
        sh(&live, "echo '{ name: \"foo\" }' > /data/db/mystore").unwrap();
        let describe = live.kubectl(&["describe", "pvc", "mongodb-pvc"]).clean().stdout;
        assert!(describe.contains("Used By:") && describe.contains("mongodb"), "{describe}");
        live.kubectl(&["delete", "pod", "mongodb"]).ok();
        live.create(&pod);
        live.wait_phase("mongodb", "Running", START);
        assert_eq!(sh(&live, "cat /data/db/mystore").unwrap(), "{ name: \"foo\" }\n", "{tag}");
        sh(&live, "rm -f /data/db/mystore").unwrap();

        // A claim in use stays (Terminating) until its pod goes; then the PV is Released.
        live.kubectl(&["delete", "pvc", "mongodb-pvc", "--wait=false"]).ok();
        let terminating = row(&live.kubectl(&["get", "pvc"]), "mongodb-pvc");
        assert_eq!(terminating.get(1).map(String::as_str), Some("Terminating"), "{tag}");
        live.kubectl(&["delete", "pod", "mongodb"]).ok();
        assert!(eventually(BIND, || live.kubectl(&["get", "pvc", "mongodb-pvc"]).code != 0), "the claim went");
        let released = eventually(BIND, || {
            row(&live.global(&["get", "pv", &pv]), &pv).get(4).map(String::as_str) == Some("Released")
        });
        assert!(released, "{tag}: {}", live.global(&["describe", "pv", &pv]).stdout);
        assert_eq!(row(&live.global(&["get", "pv", &pv]).clean(), &pv)[5], claim, "a Released volume keeps its claim");
        live.global(&["delete", "pv", &pv]).ok();
    }
}

#[test]
fn claims_of_the_default_and_the_books_fast_class_get_provisioned_volumes() {
    for (tag, kubectl) in kubectls() {
        let live = Live::with_kubectl(&format!("dp-{tag}"), kubectl);
        let classes = live.global(&["get", "sc"]).clean();
        assert_eq!(header(&classes), "NAME PROVISIONER RECLAIMPOLICY VOLUMEBINDINGMODE ALLOWVOLUMEEXPANSION AGE");
        let standard = row(&classes, "standard (default)");
        assert_eq!(standard[..5], ["standard (default)", "kubelab.io/hostpath", "Delete", "Immediate", "false"]);

        // An unset class is the default one's.
        live.kubectl_stdin(&["create", "-f", "-"], &book_text("Chapter06/mongodb-pvc-dp-nostorageclass.yaml")).clean();
        let bound = eventually(BIND, || {
            row(&live.kubectl(&["get", "pvc"]), "mongodb-pvc2").get(1).map(String::as_str) == Some("Bound")
        });
        assert!(bound, "{tag}: {}", live.kubectl(&["describe", "pvc", "mongodb-pvc2"]).stdout);
        let claim = row(&live.kubectl(&["get", "pvc"]).clean(), "mongodb-pvc2");
        let pv = claim[2].clone();
        assert_eq!(claim[3..6], ["100Mi", "RWO", "standard"]);
        let uid = live.field("pvc/mongodb-pvc2", "{.metadata.uid}");
        assert_eq!(pv, format!("pvc-{uid}"));
        let volume = row(&live.global(&["get", "pv", &pv]).clean(), &pv);
        assert_eq!(
            volume[1..7],
            ["100Mi", "RWO", "Delete", "Bound", &format!("{}/mongodb-pvc2", live.namespace), "standard"]
        );
        let events = live.kubectl(&["describe", "pvc", "mongodb-pvc2"]).clean().stdout;
        assert!(events.contains("ProvisioningSucceeded"), "{events}");

        // The provisioned directory holds what a pod writes.
        live.create(&busybox_mongodb_pod(None, "mongodb-pvc2"));
        live.wait_phase("mongodb", "Running", START);
        sh(&live, "echo provisioned > /data/db/f").unwrap();
        // Every node shares the volume: a pod on another node finds the file.
        let node = live.field("pod/mongodb", "{.spec.nodeName}");
        let affinity = live.global(&["get", "pv", &pv, "-o", "jsonpath={.spec.nodeAffinity}"]).clean();
        assert_eq!(affinity.stdout, "", "{tag}: the provisioned volume is pinned to no node");
        live.kubectl(&["delete", "pod", "mongodb"]).ok();
        let other = other_node(&live, &node);
        live.create(&busybox_mongodb_pod(Some(&other), "mongodb-pvc2"));
        live.wait_phase("mongodb", "Running", START);
        assert_eq!(sh(&live, "cat /data/db/f").unwrap(), "provisioned\n", "{tag}: the data on {other}");
        live.kubectl(&["delete", "pod", "mongodb", "--grace-period=0", "--force"]);

        // The book's fast class (minikube's provisioner name) provisions too.
        let created = live.global(&["get", "sc", "fast"]).code != 0;
        if created {
            live.kubectl_stdin(&["create", "-f", "-"], &book_text("Chapter06/storageclass-fast-hostpath.yaml")).clean();
        }
        live.kubectl_stdin(&["create", "-f", "-"], &book_text("Chapter06/mongodb-pvc-dp.yaml")).clean();
        let fast = eventually(BIND, || {
            row(&live.kubectl(&["get", "pvc"]), "mongodb-pvc").get(1).map(String::as_str) == Some("Bound")
        });
        assert!(fast, "{tag}: {}", live.kubectl(&["describe", "pvc", "mongodb-pvc"]).stdout);
        assert_eq!(row(&live.kubectl(&["get", "pvc"]).clean(), "mongodb-pvc")[5], "fast");

        // Deleting the claims deletes their volumes (reclaim policy Delete).
        live.kubectl(&["delete", "pvc", "mongodb-pvc", "mongodb-pvc2"]).ok();
        assert!(eventually(BIND, || live.global(&["get", "pv", &pv]).code != 0), "{tag}: {pv} was not deleted");
        if created {
            live.global(&["delete", "sc", "fast"]).ok();
        }
    }
}

/// A Ready node other than `node`.
fn other_node(live: &Live, node: &str) -> String {
    let nodes = live.global(&["get", "nodes", "--no-headers"]).clean();
    let other = nodes.rows().into_iter().find(|r| r[0] != node && r.get(1).map(String::as_str) == Some("Ready"));
    other.map(|r| r[0].clone()).unwrap_or_else(|| panic!("no Ready node but {node}:\n{}", nodes.stdout))
}

/// The pod's PodScheduled condition message ("" while there is none).
fn scheduling_message(live: &Live, pod: &str) -> String {
    live.field(&format!("pod/{pod}"), "{.status.conditions[?(@.type==\"PodScheduled\")].message}")
}

#[test]
fn a_pod_waits_for_its_claim_and_a_wait_for_first_consumer_claim_waits_for_the_pod() {
    let live = Live::new("claims");
    // A class of this test only (no StorageClass object): no other test's claim binds its PV.
    let class = format!("manual-{}", live.namespace);
    live.create(&busybox_mongodb_pod(None, "data"));
    let missing = "0/3 nodes are available: persistentvolumeclaim \"data\" not found.";
    assert!(
        eventually(BIND, || scheduling_message(&live, "mongodb") == missing),
        "{}",
        scheduling_message(&live, "mongodb")
    );

    let claim = format!(
        "apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata:\n  name: data\nspec:\n  storageClassName: {class}\n  \
         accessModes: [ReadWriteOnce]\n  resources:\n    requests:\n      storage: 10Mi\n"
    );
    live.create(&claim);
    let unbound = "0/3 nodes are available: pod has unbound immediate PersistentVolumeClaims.";
    assert!(
        eventually(BIND, || scheduling_message(&live, "mongodb") == unbound),
        "{}",
        scheduling_message(&live, "mongodb")
    );
    assert_eq!(live.field("pod/mongodb", "{.spec.nodeName}"), "");

    let pv = format!("data-{}", live.namespace);
    live.create(&format!(
        "apiVersion: v1\nkind: PersistentVolume\nmetadata:\n  name: {pv}\nspec:\n  storageClassName: {class}\n  \
         capacity:\n    storage: 10Mi\n  accessModes: [ReadWriteOnce]\n  persistentVolumeReclaimPolicy: Delete\n  \
         hostPath:\n    path: /tmp/kubelab-e2e/{pv}\n    type: DirectoryOrCreate\n"
    ));
    live.wait_phase("mongodb", "Running", START);
    assert_eq!(live.field("pvc/data", "{.spec.volumeName}"), pv);
    live.kubectl(&["delete", "pod", "mongodb"]).ok();
    live.kubectl(&["delete", "pvc", "data"]).ok();
    assert!(eventually(BIND, || live.global(&["get", "pv", &pv]).code != 0), "a Delete PV goes with its claim");

    // WaitForFirstConsumer: nothing is provisioned before a pod using the claim is scheduled.
    let wait = format!("wait-{}", live.namespace);
    live.create(&format!(
        "apiVersion: storage.k8s.io/v1\nkind: StorageClass\nmetadata:\n  name: {wait}\nprovisioner: kubelab.io/hostpath\n\
         volumeBindingMode: WaitForFirstConsumer\n"
    ));
    live.create(&claim.replace(&class, &wait).replace("name: data", "name: later"));
    let waiting = eventually(BIND, || {
        live.kubectl(&["describe", "pvc", "later"])
            .stdout
            .contains("waiting for first consumer to be created before binding")
    });
    assert!(waiting, "{}", live.kubectl(&["describe", "pvc", "later"]).stdout);
    assert_eq!(live.field("pvc/later", "{.status.phase}"), "Pending");
    live.create(&busybox_mongodb_pod(None, "later"));
    live.wait_phase("mongodb", "Running", START);
    let volume = live.field("pvc/later", "{.spec.volumeName}");
    let affinity = live.global(&["get", "pv", &volume, "-o", "jsonpath={.spec.nodeAffinity}"]).clean();
    assert_eq!(affinity.stdout, "", "every node shares the provisioned volume: no node affinity");
    live.kubectl(&["delete", "pod", "mongodb", "--grace-period=0", "--force"]);
    live.kubectl(&["delete", "pvc", "later"]).ok();
    live.global(&["delete", "sc", &wait]).ok();
}
