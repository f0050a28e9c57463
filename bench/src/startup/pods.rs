//! The cluster side of the startup scenario: N pods created at once in a fresh
//! namespace, each timed from just before its create call to the first watch
//! event showing every one of its containers running.
//!
//! Two kinds of pod are timed: the plain one (one container, no volumes) and
//! the same pod mounting a configMap, a secret and an emptyDir volume, whose
//! ConfigMap and Secret the round creates in its namespace before any pod.
//!
//! The Kubernetes SLO measures from the pod's `creationTimestamp`; that stamp
//! is the apiserver's clock with one-second resolution, so this measures with
//! the bench's own monotonic clock at both ends instead (a few hundred
//! microseconds earlier than the apiserver would stamp it).

use crate::stats::Latencies;
use api::registry::ResourceInfo;
use client::{Client, DeleteParams, ListParams};
use futures::StreamExt;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::time::Duration;
use tokio::time::Instant;

/// How long a round may take from the first create to the last running pod.
const ROUND_TIMEOUT: Duration = Duration::from_secs(180);
/// How long a deleted namespace may take to disappear with its pods.
const NAMESPACE_GONE_TIMEOUT: Duration = Duration::from_secs(300);

pub(super) fn pods() -> &'static ResourceInfo {
    api::registry::lookup("pods").expect("pods are registered")
}

pub(super) fn namespaces() -> &'static ResourceInfo {
    api::registry::lookup("namespaces").expect("namespaces are registered")
}

pub(super) fn config_maps() -> &'static ResourceInfo {
    api::registry::lookup("configmaps").expect("configmaps are registered")
}

fn secrets() -> &'static ResourceInfo {
    api::registry::lookup("secrets").expect("secrets are registered")
}

/// Whether `pod` has every container of its spec running: a status for each
/// spec container, by name, with `state.running` set. A pod without
/// containers never counts as started.
pub fn all_containers_running(pod: &Value) -> bool {
    let Some(spec) = pod["spec"]["containers"].as_array().filter(|c| !c.is_empty()) else {
        return false;
    };
    let statuses = pod["status"]["containerStatuses"].as_array().map(Vec::as_slice).unwrap_or_default();
    spec.iter().all(|container| {
        statuses.iter().find(|s| s["name"] == container["name"]).is_some_and(|s| s["state"]["running"].is_object())
    })
}

/// The pod the scenario creates: one container, `image`, never pulled when
/// present (the SLO excludes image pulls), a short grace period so the
/// namespace's deletion between rounds is quick.
pub fn startup_pod(namespace: &str, name: &str, image: &str) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace, "labels": {"app": "bench-startup"}},
        "spec": {
            "containers": [{
                "name": "app",
                "image": image,
                "imagePullPolicy": "IfNotPresent",
                "ports": [{"containerPort": 8080, "protocol": "TCP"}]
            }],
            "terminationGracePeriodSeconds": 1
        }
    })
}

/// The ConfigMap and the Secret [`volume_pod`] mounts.
pub const CONFIG_MAP: &str = "bench-config";
pub const SECRET: &str = "bench-secret";

/// What a pod of a round looks like.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// [`startup_pod`]: no volumes.
    Plain,
    /// [`volume_pod`]: a configMap, a secret and an emptyDir volume.
    Volumes,
}

impl Kind {
    pub fn describe(self) -> &'static str {
        match self {
            Kind::Plain => "pods",
            Kind::Volumes => "pods with configMap + secret + emptyDir volumes",
        }
    }

    /// The round's pod `name` in `namespace`.
    pub fn pod(self, namespace: &str, name: &str, image: &str) -> Value {
        match self {
            Kind::Plain => startup_pod(namespace, name, image),
            Kind::Volumes => volume_pod(namespace, name, image),
        }
    }

    /// What the round's pods need in their namespace before they are created.
    pub fn setup(self, namespace: &str) -> Vec<(&'static ResourceInfo, Value)> {
        match self {
            Kind::Plain => Vec::new(),
            Kind::Volumes => vec![
                (config_maps(), config_map(namespace, CONFIG_MAP, "app.properties", "greeting=hello\nlevel=info\n")),
                (
                    secrets(),
                    json!({
                        "apiVersion": "v1",
                        "kind": "Secret",
                        "metadata": {"name": SECRET, "namespace": namespace},
                        "type": "Opaque",
                        // "secret-value", base64 as a Secret's data is.
                        "data": {"token": "c2VjcmV0LXZhbHVl"}
                    }),
                ),
            ],
        }
    }
}

/// A ConfigMap holding one `key`.
pub fn config_map(namespace: &str, name: &str, key: &str, value: &str) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": namespace},
        "data": {key: value}
    })
}

/// [`startup_pod`] with three volumes mounted into its container: the
/// ConfigMap [`CONFIG_MAP`], the Secret [`SECRET`] and an emptyDir.
pub fn volume_pod(namespace: &str, name: &str, image: &str) -> Value {
    let mut pod = startup_pod(namespace, name, image);
    pod["spec"]["volumes"] = json!([
        {"name": "config", "configMap": {"name": CONFIG_MAP}},
        {"name": "secret", "secret": {"secretName": SECRET}},
        {"name": "scratch", "emptyDir": {}}
    ]);
    pod["spec"]["containers"][0]["volumeMounts"] = json!([
        {"name": "config", "mountPath": "/etc/bench/config", "readOnly": true},
        {"name": "secret", "mountPath": "/etc/bench/secret", "readOnly": true},
        {"name": "scratch", "mountPath": "/scratch"}
    ]);
    pod
}

/// One round's outcome.
#[derive(Debug, Default)]
pub struct Round {
    pub latencies: Latencies,
    /// Pods that were created but not seen running before the timeout.
    pub not_started: usize,
    pub errors: Vec<String>,
}

/// Creates `count` pods of `kind` at once in the fresh namespace `namespace`
/// and times each to all-containers-running. The caller deletes the namespace.
pub async fn round(client: &Client, namespace: &str, count: usize, kind: Kind, image: &str) -> anyhow::Result<Round> {
    let pods = (0..count).map(|i| kind.pod(namespace, &format!("startup-{i}"), image)).collect();
    timed_creates(client, namespace, &kind.setup(namespace), pods, ROUND_TIMEOUT).await
}

/// Creates the fresh namespace `namespace`, then `setup`'s objects in it, one
/// after the other, then every pod of `pods` at once, and times each pod to
/// all-containers-running, waiting `timeout` at most. The caller deletes the
/// namespace.
pub async fn timed_creates(
    client: &Client,
    namespace: &str,
    setup: &[(&ResourceInfo, Value)],
    pods_to_create: Vec<Value>,
    timeout: Duration,
) -> anyhow::Result<Round> {
    client
        .create(namespaces(), "", &json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}}))
        .await?;
    for (info, object) in setup {
        client.create(info, namespace, object).await?;
    }
    let list = client.list(pods(), namespace, &ListParams::default()).await?;
    let version = list["metadata"]["resourceVersion"].as_str().unwrap_or_default().to_string();
    let mut events = client.watch(pods(), namespace, &ListParams::default(), &version).await?;

    let count = pods_to_create.len();
    let names: Vec<String> =
        pods_to_create.iter().map(|p| p["metadata"]["name"].as_str().unwrap_or_default().to_string()).collect();
    let creates = pods_to_create.into_iter().map(|pod| {
        let (client, namespace) = (client.clone(), namespace.to_string());
        async move {
            let sent = Instant::now();
            client
                .create(pods(), &namespace, &pod)
                .await
                .map(|_| sent)
                .map_err(|e| format!("create {}: {e}", pod["metadata"]["name"]))
        }
    });
    // Every create is its own task, all in flight at once, while this task
    // reads the watch: an event's time is when it is read here.
    let creates = tokio::spawn(futures::future::join_all(creates.map(tokio::spawn).collect::<Vec<_>>()));

    let mut running: HashMap<String, Instant> = HashMap::new();
    let mut out = Round::default();
    let deadline = Instant::now() + timeout;
    while running.len() < count {
        match tokio::time::timeout_at(deadline, events.next()).await {
            Err(_) => break,
            Ok(None) => {
                out.errors.push(format!("the pod watch in {namespace} ended early"));
                break;
            }
            Ok(Some(Err(e))) => {
                out.errors.push(format!("the pod watch in {namespace} failed: {e}"));
                break;
            }
            Ok(Some(Ok(event))) => {
                let seen = Instant::now();
                let name = event.object["metadata"]["name"].as_str().unwrap_or_default().to_string();
                if event.kind != "DELETED" && all_containers_running(&event.object) {
                    running.entry(name).or_insert(seen);
                }
            }
        }
    }

    let mut sent: HashMap<String, Instant> = HashMap::new();
    for (name, result) in names.iter().zip(creates.await?) {
        match result {
            Ok(Ok(at)) => {
                sent.insert(name.clone(), at);
            }
            Ok(Err(e)) => out.errors.push(e),
            Err(e) => out.errors.push(format!("create task for {name} panicked: {e}")),
        }
    }
    for (name, at) in &sent {
        match running.get(name) {
            Some(started) => out.latencies.record(started.saturating_duration_since(*at)),
            None => out.not_started += 1,
        }
    }
    if out.not_started > 0 {
        out.errors
            .push(format!("{} of {count} pods in {namespace} were not running within {timeout:?}", out.not_started));
    }
    Ok(out)
}

/// Deletes `namespace` and waits until the apiserver no longer has it (its
/// pods' containers stopped by their kubelets, the namespace finalized).
pub async fn delete_namespace(client: &Client, namespace: &str) -> anyhow::Result<()> {
    match client.delete(namespaces(), "", namespace, &DeleteParams::default()).await {
        Ok(_) => {}
        Err(e) if e.is_not_found() => return Ok(()),
        Err(e) => return Err(e.into()),
    }
    let deadline = Instant::now() + NAMESPACE_GONE_TIMEOUT;
    loop {
        match client.get(namespaces(), "", namespace).await {
            Err(e) if e.is_not_found() => return Ok(()),
            _ if Instant::now() > deadline => {
                anyhow::bail!("namespace {namespace} was still there {NAMESPACE_GONE_TIMEOUT:?} after its deletion")
            }
            _ => tokio::time::sleep(Duration::from_millis(250)).await,
        }
    }
}

/// How many nodes report the Ready condition as True.
pub fn ready_nodes(list: &Value) -> usize {
    let items = list["items"].as_array().map(Vec::as_slice).unwrap_or_default();
    items
        .iter()
        .filter(|node| {
            node["status"]["conditions"]
                .as_array()
                .is_some_and(|cs| cs.iter().any(|c| c["type"] == "Ready" && c["status"] == "True"))
        })
        .count()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(statuses: Value) -> Value {
        json!({
            "spec": {"containers": [{"name": "app"}, {"name": "sidecar"}]},
            "status": {"containerStatuses": statuses}
        })
    }

    #[test]
    fn started_only_when_every_container_runs() {
        let running = json!({"running": {"startedAt": "2026-01-01T00:00:00Z"}});
        let waiting = json!({"waiting": {"reason": "ContainerCreating"}});
        assert!(all_containers_running(&pod(json!([
            {"name": "sidecar", "state": running},
            {"name": "app", "state": running}
        ]))));
        assert!(!all_containers_running(&pod(json!([
            {"name": "app", "state": running},
            {"name": "sidecar", "state": waiting}
        ]))));
        // A status for one container only, or none at all.
        assert!(!all_containers_running(&pod(json!([{"name": "app", "state": running}]))));
        assert!(!all_containers_running(&json!({"spec": {"containers": [{"name": "app"}]}, "status": {}})));
        // Terminated is not running; neither is a pod without containers.
        assert!(!all_containers_running(&pod(json!([
            {"name": "app", "state": running},
            {"name": "sidecar", "state": {"terminated": {"exitCode": 0}}}
        ]))));
        assert!(!all_containers_running(&json!({"spec": {"containers": []}})));
    }

    #[test]
    fn the_pod_is_never_pulled_when_present() {
        let p = startup_pod("ns", "startup-0", "luksa/kubia");
        assert_eq!(p["spec"]["containers"][0]["imagePullPolicy"], "IfNotPresent");
        assert_eq!(p["metadata"]["namespace"], "ns");
    }

    #[test]
    fn the_volume_pod_mounts_what_its_round_creates() {
        let plain = Kind::Plain.pod("ns", "startup-0", "luksa/kubia");
        assert_eq!(plain, startup_pod("ns", "startup-0", "luksa/kubia"));
        assert!(plain["spec"]["volumes"].is_null());
        assert!(Kind::Plain.setup("ns").is_empty());

        let pod = Kind::Volumes.pod("ns", "startup-0", "luksa/kubia");
        // Only the volumes differ from the plain pod.
        let mut stripped = pod.clone();
        stripped["spec"].as_object_mut().unwrap().remove("volumes");
        stripped["spec"]["containers"][0].as_object_mut().unwrap().remove("volumeMounts");
        assert_eq!(stripped, plain);

        let volumes = pod["spec"]["volumes"].as_array().unwrap();
        let mounts = pod["spec"]["containers"][0]["volumeMounts"].as_array().unwrap();
        assert_eq!(volumes.len(), 3);
        for volume in volumes {
            assert!(mounts.iter().any(|m| m["name"] == volume["name"]), "{volume} is mounted");
        }
        assert_eq!(volumes[0]["configMap"]["name"], CONFIG_MAP);
        assert_eq!(volumes[1]["secret"]["secretName"], SECRET);
        assert!(volumes[2]["emptyDir"].is_object());

        let setup = Kind::Volumes.setup("ns");
        let made: Vec<(&str, &Value)> = setup.iter().map(|(info, o)| (info.kind, &o["metadata"]["name"])).collect();
        assert_eq!(made, [("ConfigMap", &json!(CONFIG_MAP)), ("Secret", &json!(SECRET))]);
        assert!(setup.iter().all(|(_, o)| o["metadata"]["namespace"] == "ns"));
    }

    #[test]
    fn ready_nodes_are_counted() {
        let list = json!({"items": [
            {"status": {"conditions": [{"type": "Ready", "status": "True"}]}},
            {"status": {"conditions": [{"type": "MemoryPressure", "status": "False"}, {"type": "Ready", "status": "False"}]}},
            {"status": {}},
            {"status": {"conditions": [{"type": "Ready", "status": "True"}]}}
        ]});
        assert_eq!(ready_nodes(&list), 2);
    }
}
