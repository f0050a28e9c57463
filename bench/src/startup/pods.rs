//! The cluster side of the startup scenario: N pods created at once in a fresh
//! namespace, each timed from just before its create call to the first watch
//! event showing every one of its containers running.
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
const NAMESPACE_GONE_TIMEOUT: Duration = Duration::from_secs(180);

pub(super) fn pods() -> &'static ResourceInfo {
    api::registry::lookup("pods").expect("pods are registered")
}

pub(super) fn namespaces() -> &'static ResourceInfo {
    api::registry::lookup("namespaces").expect("namespaces are registered")
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

/// One round's outcome.
#[derive(Debug, Default)]
pub struct Round {
    pub latencies: Latencies,
    /// Pods that were created but not seen running before the timeout.
    pub not_started: usize,
    pub errors: Vec<String>,
}

/// Creates `count` pods at once in the fresh namespace `namespace` and times
/// each to all-containers-running. The caller deletes the namespace.
pub async fn round(client: &Client, namespace: &str, count: usize, image: &str) -> anyhow::Result<Round> {
    client
        .create(namespaces(), "", &json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}}))
        .await?;
    let list = client.list(pods(), namespace, &ListParams::default()).await?;
    let version = list["metadata"]["resourceVersion"].as_str().unwrap_or_default().to_string();
    let mut events = client.watch(pods(), namespace, &ListParams::default(), &version).await?;

    let names: Vec<String> = (0..count).map(|i| format!("startup-{i}")).collect();
    let creates = names.iter().map(|name| {
        let (client, pod, namespace) = (client.clone(), startup_pod(namespace, name, image), namespace.to_string());
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
    let deadline = Instant::now() + ROUND_TIMEOUT;
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
        out.errors.push(format!(
            "{} of {count} pods in {namespace} were not running within {ROUND_TIMEOUT:?}",
            out.not_started
        ));
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
