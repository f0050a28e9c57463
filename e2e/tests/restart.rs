//! The apiserver keeps nothing that matters in memory: stop it, start it again,
//! and every object is still there, and a watch resumed from the last
//! resourceVersion it saw gets exactly the events it missed, in order.

use api::registry::lookup;
use client::{ListParams, WatchEvent};
use e2e::{manifest, Cluster};
use futures::StreamExt;
use serde_json::json;
use std::time::Duration;

fn pod(name: &str) -> serde_json::Value {
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": {"app": "restart"}},
           "spec": {"containers": [{"name": "c", "image": "busybox"}]}})
}

async fn next(stream: &mut client::WatchStream) -> WatchEvent {
    tokio::time::timeout(Duration::from_secs(10), stream.next())
        .await
        .expect("an event within 10s")
        .expect("the stream goes on")
        .expect("no error")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn objects_survive_and_watches_resume_across_a_restart() {
    let mut c = Cluster::start();
    let pods = lookup("pods").unwrap();
    c.kubectl(&["create", "-f", &manifest("kubia-manual.yaml")]).ok();
    c.kubectl(&["create", "namespace", "kept"]).ok();

    let cl = c.client().await;
    let mut watch = cl.watch(pods, "default", &ListParams::default(), "").await.unwrap();
    let first = next(&mut watch).await;
    assert_eq!((first.kind.as_str(), api::meta::name(&first.object)), ("ADDED", "kubia-manual"));
    cl.create(pods, "default", &pod("before")).await.unwrap();
    let seen = next(&mut watch).await;
    let last_rv = api::meta::resource_version(&seen.object).to_string();
    drop(watch);

    c.stop_apiserver();
    c.start_apiserver();

    // Changes the watcher does not see live: a create, an update, a delete.
    let cl = c.client().await;
    cl.create(pods, "default", &pod("during")).await.unwrap();
    c.kubectl(&["label", "po", "before", "step=2"]).ok();
    c.kubectl(&["delete", "po", "kubia-manual"]).ok();

    let mut resumed = cl.watch(pods, "default", &ListParams::default(), &last_rv).await.unwrap();
    let mut got = Vec::new();
    for _ in 0..3 {
        let ev = next(&mut resumed).await;
        got.push((ev.kind, api::meta::name(&ev.object).to_string()));
    }
    assert_eq!(
        got,
        [
            ("ADDED".to_string(), "during".to_string()),
            ("MODIFIED".to_string(), "before".to_string()),
            ("DELETED".to_string(), "kubia-manual".to_string())
        ]
    );
    // Nothing more was missed.
    assert!(tokio::time::timeout(Duration::from_millis(500), resumed.next()).await.is_err());

    let out = c.kubectl(&["get", "po", "-o", "name"]).ok();
    assert_eq!(out.stdout, "pod/before\npod/during\n");
    assert_eq!(c.kubectl(&["get", "ns", "kept", "-o", "name"]).ok().stdout.trim(), "namespace/kept");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watch_from_a_compacted_version_says_so() {
    let c = Cluster::start();
    let pods = lookup("pods").unwrap();
    let cl = c.client().await;
    let created = cl.create(pods, "default", &pod("a")).await.unwrap();
    let old_rv = api::meta::resource_version(&created).to_string();
    for i in 0..5 {
        cl.create(pods, "default", &pod(&format!("p{i}"))).await.unwrap();
    }
    // Compact etcd past the old version, as its periodic compaction would.
    let list = cl.list(pods, "default", &ListParams::default()).await.unwrap();
    let now: i64 = list["metadata"]["resourceVersion"].as_str().unwrap().parse().unwrap();
    use apiserver::store::Store;
    let etcd = apiserver::store::etcd::EtcdStore::connect(&[c.etcd.endpoint().to_string()]).await.unwrap();
    etcd.compact(now).await.unwrap();

    let result = match cl.watch(pods, "default", &ListParams::default(), &old_rv).await {
        Err(e) => e,
        Ok(mut s) => s.next().await.expect("an event").expect_err("an expired error"),
    };
    assert!(result.is_expired(), "{result:?}");
    assert!(result.message.starts_with("too old resource version"), "{}", result.message);
}
