//! The volume controller against a real in-process apiserver: the book's
//! chapter 6 static PV and claim, the smallest fitting volume, selectors and
//! classes, release and delete, protection, and the hostPath provisioner
//! with both binding modes.

use super::*;
use crate::testing::{self, TestApi};
use serde_json::{json, Value};

struct Cluster {
    api: TestApi,
    /// The nodes' shared directory, where provisioned volumes live.
    shared: tempfile::TempDir,
    _running: testing::Running,
}

impl Cluster {
    async fn start() -> Self {
        let api = TestApi::start().await;
        let shared = tempfile::tempdir().unwrap();
        let config = crate::Config { shared_root: shared.path().into(), ..testing::config() };
        let ctx = api.context(config, crate::clock::Clock::system());
        let ctrl = Arc::new(VolumeController::new(&ctx));
        let running = testing::run_controller(&ctx, ctrl);
        Self { api, shared, _running: running }
    }

    /// A provisioned volume's directory as the kubelets made it, with a file.
    fn write_volume_data(&self, pv: &Value) -> std::path::PathBuf {
        let path = pv["spec"]["hostPath"]["path"].as_str().unwrap().trim_start_matches('/');
        let dir = self.shared.path().join(path);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("data"), "kept?").unwrap();
        dir
    }

    async fn pv(&self, name: &str) -> Option<Value> {
        self.api.get("pv", "", name).await
    }

    async fn pvc(&self, name: &str) -> Option<Value> {
        self.api.get("pvc", "default", name).await
    }

    async fn wait_pvc_phase(&self, name: &str, phase: &str) -> Value {
        self.api
            .eventually(&format!("claim {name} is {phase}"), || async {
                self.pvc(name).await.is_some_and(|c| c["status"]["phase"] == phase)
            })
            .await;
        self.pvc(name).await.unwrap()
    }

    async fn wait_pv_phase(&self, name: &str, phase: &str) -> Value {
        self.api
            .eventually(&format!("volume {name} is {phase}"), || async {
                self.pv(name).await.is_some_and(|v| v["status"]["phase"] == phase)
            })
            .await;
        self.pv(name).await.unwrap()
    }

    async fn delete(&self, resource: &str, ns: &str, name: &str) {
        self.api.client.delete(testing::info(resource), ns, name, &Default::default()).await.unwrap();
    }
}

fn hostpath_pv(name: &str, size: &str, modes: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": name},
           "spec": {"capacity": {"storage": size}, "accessModes": modes, "hostPath": {"path": format!("/tmp/{name}")}}})
}

fn claim(name: &str, size: &str, class: Option<&str>) -> Value {
    let mut c = json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim",
                       "metadata": {"name": name, "namespace": "default"},
                       "spec": {"resources": {"requests": {"storage": size}}, "accessModes": ["ReadWriteOnce"]}});
    if let Some(class) = class {
        c["spec"]["storageClassName"] = json!(class);
    }
    c
}

fn local_class() -> Value {
    json!({"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass", "metadata": {"name": "local"},
           "provisioner": PROVISIONER, "volumeBindingMode": "WaitForFirstConsumer", "reclaimPolicy": "Retain"})
}

fn pod_using(name: &str, claim: &str, node: Option<&str>) -> Value {
    let mut p = testing::pod(name, json!({}));
    p["spec"]["volumes"] = json!([{"name": "data", "persistentVolumeClaim": {"claimName": claim}}]);
    if let Some(node) = node {
        p["spec"]["nodeName"] = json!(node);
    }
    p
}

#[tokio::test]
async fn the_books_claim_binds_the_books_volume_and_its_deletion_releases_it() {
    let c = Cluster::start().await;
    c.api.create(hostpath_pv("mongodb-pv", "1Gi", json!(["ReadWriteOnce", "ReadOnlyMany"]))).await;
    c.wait_pv_phase("mongodb-pv", "Available").await;
    c.api.create(claim("mongodb-pvc", "1Gi", Some(""))).await;

    let pvc = c.wait_pvc_phase("mongodb-pvc", "Bound").await;
    assert_eq!(pvc["spec"]["volumeName"], "mongodb-pv");
    assert_eq!(pvc["status"]["capacity"], json!({"storage": "1Gi"}));
    assert_eq!(pvc["status"]["accessModes"], json!(["ReadWriteOnce", "ReadOnlyMany"]));
    assert_eq!(pvc["metadata"]["annotations"]["pv.kubernetes.io/bind-completed"], "yes");
    assert_eq!(pvc["metadata"]["annotations"]["pv.kubernetes.io/bound-by-controller"], "yes");
    let pv = c.wait_pv_phase("mongodb-pv", "Bound").await;
    assert_eq!(pv["spec"]["claimRef"]["name"], "mongodb-pvc");
    assert_eq!(pv["spec"]["claimRef"]["uid"], pvc["metadata"]["uid"]);

    c.delete("pvc", "default", "mongodb-pvc").await;
    c.api.eventually("the claim is gone", || async { c.pvc("mongodb-pvc").await.is_none() }).await;
    let pv = c.wait_pv_phase("mongodb-pv", "Released").await;
    assert_eq!(pv["spec"]["claimRef"]["name"], "mongodb-pvc", "a Retained volume keeps its claimRef");

    // A new claim does not get the Released volume.
    c.api.create(claim("again", "1Gi", Some(""))).await;
    c.api
        .eventually("FailedBinding is reported", || async {
            c.api.events_about("again").await.iter().any(|e| {
                e == "FailedBinding: no persistent volumes available for this claim and no storage class is set"
            })
        })
        .await;
    assert_eq!(c.pvc("again").await.unwrap()["status"]["phase"], "Pending");
}

#[tokio::test]
async fn the_smallest_volume_that_fits_modes_size_class_and_selector_is_chosen() {
    let c = Cluster::start().await;
    c.api.create(hostpath_pv("small", "500Mi", json!(["ReadWriteOnce"]))).await;
    c.api.create(hostpath_pv("big", "10Gi", json!(["ReadWriteOnce"]))).await;
    c.api.create(hostpath_pv("medium", "2Gi", json!(["ReadWriteOnce"]))).await;
    c.api.create(hostpath_pv("shared", "1Gi", json!(["ReadOnlyMany"]))).await;
    let mut labelled = hostpath_pv("labelled", "3Gi", json!(["ReadWriteOnce"]));
    labelled["metadata"]["labels"] = json!({"tier": "db"});
    c.api.create(labelled).await;
    let mut classed = hostpath_pv("classed", "1Gi", json!(["ReadWriteOnce"]));
    classed["spec"]["storageClassName"] = json!("fast");
    c.api.create(classed).await;

    c.api.create(claim("one-gig", "1Gi", Some(""))).await;
    assert_eq!(c.wait_pvc_phase("one-gig", "Bound").await["spec"]["volumeName"], "medium");
    let mut selective = claim("selective", "1Gi", Some(""));
    selective["spec"]["selector"] = json!({"matchLabels": {"tier": "db"}});
    c.api.create(selective).await;
    assert_eq!(c.wait_pvc_phase("selective", "Bound").await["spec"]["volumeName"], "labelled");
    c.api.create(claim("fast", "1Gi", Some("fast"))).await;
    assert_eq!(c.wait_pvc_phase("fast", "Bound").await["spec"]["volumeName"], "classed");
    let mut named = claim("named", "100Mi", Some(""));
    named["spec"]["volumeName"] = json!("small");
    c.api.create(named).await;
    let named = c.wait_pvc_phase("named", "Bound").await;
    assert_eq!(named["status"]["capacity"], json!({"storage": "500Mi"}));
    assert!(named["metadata"]["annotations"].get("pv.kubernetes.io/bound-by-controller").is_none());
    assert_eq!(c.pv("big").await.unwrap()["status"]["phase"], "Available");
    assert_eq!(c.pv("shared").await.unwrap()["status"]["phase"], "Available");
}

#[tokio::test]
async fn a_claim_in_use_is_kept_until_its_pod_goes_and_a_bound_volume_until_its_claim_goes() {
    let c = Cluster::start().await;
    let mut pv = hostpath_pv("data", "1Gi", json!(["ReadWriteOnce"]));
    pv["spec"]["persistentVolumeReclaimPolicy"] = json!("Delete");
    c.api.create(pv).await;
    c.api.create(claim("data", "1Gi", Some(""))).await;
    c.wait_pvc_phase("data", "Bound").await;
    c.api.create(pod_using("user", "data", Some("node-1"))).await;

    c.delete("pv", "", "data").await;
    c.delete("pvc", "default", "data").await;
    let pvc = c.pvc("data").await.expect("kept by its finalizer");
    assert_eq!(pvc["metadata"]["finalizers"], json!(["kubernetes.io/pvc-protection"]));
    assert!(pvc["metadata"]["deletionTimestamp"].is_string());
    // Once a later claim is bound, the controller has looked at both deletions.
    c.api.create(hostpath_pv("later", "1Gi", json!(["ReadWriteOnce"]))).await;
    c.api.create(claim("later", "1Gi", Some(""))).await;
    c.wait_pvc_phase("later", "Bound").await;
    assert!(c.pvc("data").await.is_some(), "the pod still uses it");
    assert!(c.pv("data").await.is_some(), "still bound");

    c.api
        .client
        .delete(
            testing::info("pods"),
            "default",
            "user",
            &client::DeleteParams { grace_period_seconds: Some(0), ..Default::default() },
        )
        .await
        .unwrap();
    c.api.eventually("the claim is gone", || async { c.pvc("data").await.is_none() }).await;
    c.api.eventually("the Delete volume is gone", || async { c.pv("data").await.is_none() }).await;
}

#[tokio::test]
async fn an_unset_class_becomes_the_bootstrapped_default_and_is_provisioned_at_once() {
    let c = Cluster::start().await;
    let created = c.api.create(claim("mongodb-pvc", "100Mi", None)).await;
    let uid = created["metadata"]["uid"].as_str().unwrap().to_string();
    let pvc = c.wait_pvc_phase("mongodb-pvc", "Bound").await;
    assert_eq!(pvc["spec"]["storageClassName"], "standard");
    let name = format!("pvc-{uid}");
    assert_eq!(pvc["spec"]["volumeName"], name.as_str());
    assert_eq!(pvc["metadata"]["annotations"]["volume.kubernetes.io/storage-provisioner"], PROVISIONER);
    let pv = c.wait_pv_phase(&name, "Bound").await;
    assert_eq!(pv["spec"]["capacity"], json!({"storage": "100Mi"}));
    assert_eq!(pv["spec"]["persistentVolumeReclaimPolicy"], "Delete");
    assert_eq!(pv["spec"]["storageClassName"], "standard");
    assert_eq!(
        pv["spec"]["hostPath"],
        json!({"path": "/tmp/hostpath-provisioner/default/mongodb-pvc", "type": "DirectoryOrCreate"})
    );
    assert_eq!(pv["metadata"]["annotations"]["pv.kubernetes.io/provisioned-by"], PROVISIONER);
    assert!(pv["spec"].get("nodeAffinity").is_none(), "every node shares the provisioned volumes");
    let dir = c.write_volume_data(&pv);
    let events = c.api.events_about("mongodb-pvc").await;
    assert!(events.contains(&format!("ProvisioningSucceeded: Successfully provisioned volume {name}")), "{events:?}");

    c.delete("pvc", "default", "mongodb-pvc").await;
    c.api
        .eventually("the provisioned volume is deleted with its claim", || async { c.pv(&name).await.is_none() })
        .await;
    assert!(!dir.exists(), "policy Delete deletes the volume's data too");
}

#[tokio::test]
async fn only_the_provisioners_own_directories_are_deleted() {
    let c = Cluster::start().await;
    // A hand-made volume that claims to be provisioned, with a path outside the
    // provisioner's root: the volume goes, the directory stays.
    let mut pv = hostpath_pv("outside", "1Gi", json!(["ReadWriteOnce"]));
    pv["metadata"]["annotations"] = json!({"pv.kubernetes.io/provisioned-by": PROVISIONER});
    pv["spec"]["persistentVolumeReclaimPolicy"] = json!("Delete");
    c.api.create(pv.clone()).await;
    let dir = c.write_volume_data(&pv);
    c.api.create(claim("outside", "1Gi", Some(""))).await;
    c.wait_pvc_phase("outside", "Bound").await;
    c.delete("pvc", "default", "outside").await;
    c.api.eventually("the Delete volume is gone", || async { c.pv("outside").await.is_none() }).await;
    assert!(dir.join("data").exists(), "not the provisioner's directory");
}

#[tokio::test]
async fn wait_for_first_consumer_provisions_once_a_pod_is_scheduled() {
    let c = Cluster::start().await;
    c.api.create(local_class()).await;
    c.api.create(claim("later", "1Gi", Some("local"))).await;
    c.api
        .eventually("the claim waits", || async {
            c.api
                .events_about("later")
                .await
                .iter()
                .any(|e| e == "WaitForFirstConsumer: waiting for first consumer to be created before binding")
        })
        .await;
    assert!(c.api.list("pv", "").await.is_empty());
    c.api.create(pod_using("consumer", "later", None)).await;
    assert!(c.api.list("pv", "").await.is_empty(), "an unscheduled pod is no consumer yet");
    c.api.create(pod_using("scheduled", "later", Some("node-2"))).await;
    let pvc = c.wait_pvc_phase("later", "Bound").await;
    let pv = c.pv(pvc["spec"]["volumeName"].as_str().unwrap()).await.unwrap();
    assert!(pv["spec"].get("nodeAffinity").is_none(), "not pinned to the consumer's node: every node shares it");
    assert_eq!(pv["spec"]["persistentVolumeReclaimPolicy"], "Retain", "the class's policy");
    let dir = c.write_volume_data(&pv);
    for pod in ["consumer", "scheduled"] {
        c.api
            .client
            .delete(
                testing::info("pods"),
                "default",
                pod,
                &client::DeleteParams { grace_period_seconds: Some(0), ..Default::default() },
            )
            .await
            .unwrap();
    }
    c.delete("pvc", "default", "later").await;
    c.wait_pv_phase(pv["metadata"]["name"].as_str().unwrap(), "Released").await;
    assert!(dir.join("data").exists(), "Retain keeps the data");
}
