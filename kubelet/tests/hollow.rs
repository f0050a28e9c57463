//! Hollow nodes against a real (in-process, in-memory) apiserver: one kubelet
//! run with `--hollow-nodes 50` registers 50 Ready nodes with leases, and pods
//! bound to some of them run (with distinct pod IPs) and are deleted.

use clap::Parser;
use client::{Client, DeleteParams, ListParams};
use serde_json::{json, Value};
use std::collections::HashSet;
use std::time::Duration;

const NODES: usize = 50;

fn res(name: &str) -> &'static api::ResourceInfo {
    api::registry::lookup(name).unwrap()
}

/// An apiserver over the memory store behind the watch cache, as `--in-memory` serves.
async fn apiserver() -> (Client, String) {
    let api = apiserver::testing::InMemoryApiServer::start().await;
    (api.client, api.url)
}

async fn eventually<T>(what: &str, mut f: impl AsyncFnMut() -> Option<T>) -> T {
    for _ in 0..300 {
        if let Some(v) = f().await {
            return v;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("timed out waiting for {what}");
}

fn is_ready(node: &Value) -> bool {
    node["status"]["conditions"].as_array().into_iter().flatten().any(|c| c["type"] == "Ready" && c["status"] == "True")
}

async fn items(client: &Client, resource: &str, namespace: &str) -> Vec<Value> {
    let list = client.list(res(resource), namespace, &ListParams::default()).await.unwrap();
    list["items"].as_array().cloned().unwrap_or_default()
}

fn pod(name: &str, node: &str) -> Value {
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {
            "nodeName": node,
            "terminationGracePeriodSeconds": 5,
            "containers": [{"name": "app", "image": "luksa/kubia"}],
        },
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_hollow_nodes_register_and_run_pods() {
    let (client, url) = apiserver().await;
    let config = kubelet::Config::parse_from([
        "kubelet",
        "--server",
        &url,
        "--hollow-nodes",
        &NODES.to_string(),
        "--hollow-register-concurrency",
        "10",
        "--lease-renew-interval",
        "1s",
        "--relist-period",
        "200ms",
    ]);
    assert_eq!(config.runtime, kubelet::RuntimeKind::Docker, "the default, which hollow nodes override");
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let run = tokio::spawn(kubelet::run(config, async move {
        let _ = stop_rx.await;
    }));

    let nodes = eventually("50 Ready nodes", async || {
        let nodes = items(&client, "nodes", "").await;
        (nodes.iter().filter(|n| is_ready(n)).count() == NODES).then_some(nodes)
    })
    .await;
    let names: HashSet<String> = nodes.iter().map(|n| api::meta::name(n).to_string()).collect();
    let expected: HashSet<String> = (0..NODES).map(|i| format!("hollow-node-{i}")).collect();
    assert_eq!(names, expected);
    let addresses: HashSet<&str> =
        nodes.iter().map(|n| n["status"]["addresses"][0]["address"].as_str().unwrap()).collect();
    assert_eq!(addresses.len(), NODES, "every node has its own InternalIP");
    eventually("50 leases", async || {
        let leases = items(&client, "leases", "kube-node-lease").await;
        let holders: HashSet<String> =
            leases.iter().filter_map(|l| l["spec"]["holderIdentity"].as_str().map(String::from)).collect();
        (holders == expected).then_some(())
    })
    .await;

    let pods = res("pods");
    let bound = [("a", "hollow-node-0"), ("b", "hollow-node-7"), ("c", "hollow-node-7"), ("d", "hollow-node-49")];
    for (name, node) in bound {
        client.create(pods, "default", &pod(name, node)).await.unwrap();
    }
    let ips = eventually("pods Running", async || {
        let mut ips = HashSet::new();
        for (name, node) in bound {
            let p = client.get(pods, "default", name).await.ok()?;
            if p["status"]["phase"] != "Running" || p["spec"]["nodeName"] != node {
                return None;
            }
            ips.insert(p["status"]["podIP"].as_str()?.to_string());
        }
        Some(ips)
    })
    .await;
    assert_eq!(ips.len(), bound.len(), "pod IPs are distinct across nodes: {ips:?}");

    for (name, _) in bound {
        client.delete(pods, "default", name, &DeleteParams::default()).await.unwrap();
    }
    eventually("pods gone", async || {
        let left = items(&client, "pods", "default").await;
        left.is_empty().then_some(())
    })
    .await;

    let _ = stop_tx.send(());
    tokio::time::timeout(Duration::from_secs(10), run).await.expect("the kubelet stops").unwrap().unwrap();
}
