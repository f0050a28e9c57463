//! Garbage collector tests against a real in-process apiserver: the three
//! propagation policies `kubectl delete` sends, and dependents whose owner
//! vanished while the collector was not looking.

use super::*;
use crate::clock::Clock;
use crate::testing::owner_references;
use crate::testing::{self, TestApi};
use api::meta;
use client::DeleteParams;

async fn start() -> (TestApi, testing::Running) {
    let api = TestApi::start().await;
    let ctx = api.context(testing::config(), Clock::manual());
    let gc = Arc::new(GarbageCollector::new(&ctx));
    let running = testing::run_controller(&ctx, gc);
    (api, running)
}

fn owned_pod(name: &str, owners: &[&Value]) -> Value {
    let mut pod = testing::pod(name, json!({"app": "kubia"}));
    let refs: Vec<Value> = owners
        .iter()
        .enumerate()
        .map(|(i, o)| {
            let mut r = crate::testing::controller_ref(o);
            r["controller"] = (i == 0).into();
            r
        })
        .collect();
    pod["metadata"]["ownerReferences"] = refs.into();
    pod
}

fn rc_info() -> &'static ResourceInfo {
    testing::info("replicationcontrollers")
}

async fn delete_rc(api: &TestApi, name: &str, policy: &str) {
    let params = DeleteParams { propagation_policy: policy.into(), ..Default::default() };
    api.client.delete(rc_info(), "default", name, &params).await.unwrap();
}

#[tokio::test]
async fn background_deletion_removes_dependents_whose_owners_are_all_gone() {
    let (api, _gc) = start().await;
    let rc = api.create(testing::rc("kubia", 2)).await;
    let other = api.create(testing::rs("other", 1)).await;
    api.create(owned_pod("kubia-a", &[&rc])).await;
    api.create(owned_pod("kubia-b", &[&rc])).await;
    api.create(owned_pod("shared", &[&rc, &other])).await;

    delete_rc(&api, "kubia", "").await;
    api.eventually("the RC's pods are deleted", || async {
        api.get("pods", "default", "kubia-a").await.is_none() && api.get("pods", "default", "kubia-b").await.is_none()
    })
    .await;
    api.eventually("the shared pod keeps only its live owner", || async {
        let refs = api.get("pods", "default", "shared").await.map(|p| p["metadata"]["ownerReferences"].clone());
        refs.is_some_and(|r| r.as_array().is_some_and(|a| a.len() == 1 && a[0]["uid"] == meta::uid(&other)))
    })
    .await;
}

#[tokio::test]
async fn orphan_deletion_keeps_the_pods_and_lets_the_owner_go() {
    let (api, _gc) = start().await;
    let rc = api.create(testing::rc("kubia", 2)).await;
    api.create(owned_pod("kubia-a", &[&rc])).await;
    api.create(owned_pod("kubia-b", &[&rc])).await;

    delete_rc(&api, "kubia", "Orphan").await;
    api.eventually("the RC is gone", || async {
        api.get("replicationcontrollers", "default", "kubia").await.is_none()
    })
    .await;
    for name in ["kubia-a", "kubia-b"] {
        let pod = api.get("pods", "default", name).await.expect("orphaned pods stay");
        assert!(pod["metadata"].get("ownerReferences").is_none(), "{name} no longer names the RC: {pod}");
        assert!(meta::deletion_timestamp(&pod).is_none());
    }
}

#[tokio::test]
async fn foreground_deletion_waits_for_blocking_dependents() {
    let (api, _gc) = start().await;
    let rc = api.create(testing::rc("kubia", 2)).await;
    api.create(owned_pod("kubia-a", &[&rc])).await;
    api.create(owned_pod("kubia-running", &[&rc])).await;
    // This one runs on a node, so its deletion is graceful and waits for a kubelet.
    let binding = json!({"apiVersion": "v1", "kind": "Binding", "metadata": {"name": "kubia-running"},
                         "target": {"apiVersion": "v1", "kind": "Node", "name": "node-1"}});
    let pods = testing::info("pods");
    api.client.create_subresource(pods, "default", "kubia-running", "binding", &binding).await.unwrap();

    delete_rc(&api, "kubia", "Foreground").await;
    api.eventually("the dependents are being deleted", || async {
        let running = api.get("pods", "default", "kubia-running").await;
        api.get("pods", "default", "kubia-a").await.is_none()
            && running.is_some_and(|p| meta::deletion_timestamp(&p).is_some())
    })
    .await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let waiting = api.get("replicationcontrollers", "default", "kubia").await.expect("the owner waits");
    assert_eq!(finalizers(&serde_json::from_value(waiting).unwrap()), [FOREGROUND]);

    // The kubelet finishes the pod's deletion; then the owner goes.
    let now = DeleteParams { grace_period_seconds: Some(0), ..Default::default() };
    api.client.delete(pods, "default", "kubia-running", &now).await.unwrap();
    api.eventually("the RC is gone", || async {
        api.get("replicationcontrollers", "default", "kubia").await.is_none()
    })
    .await;
}

#[tokio::test]
async fn dependents_of_an_owner_deleted_while_nobody_watched_are_collected() {
    let api = TestApi::start().await;
    let rc = api.create(testing::rc("kubia", 1)).await;
    api.create(owned_pod("kubia-a", &[&rc])).await;
    api.client.delete(rc_info(), "default", "kubia", &Default::default()).await.unwrap();
    // Only now does a collector start: it finds a pod whose owner is gone.
    let ctx = api.context(testing::config(), Clock::manual());
    let gc = Arc::new(GarbageCollector::new(&ctx));
    let _running = testing::run_controller(&ctx, gc);
    api.eventually("the dangling pod is deleted", || async { api.get("pods", "default", "kubia-a").await.is_none() })
        .await;
}

#[tokio::test]
async fn an_owner_recreated_under_the_same_name_does_not_save_old_dependents() {
    let (api, _gc) = start().await;
    let old = api.create(testing::rc("kubia", 1)).await;
    api.create(owned_pod("kubia-a", &[&old])).await;
    // The apiserver replaces it between two looks of the collector.
    api.client
        .delete(
            rc_info(),
            "default",
            "kubia",
            &DeleteParams { propagation_policy: "Orphan".into(), ..Default::default() },
        )
        .await
        .unwrap();
    api.eventually("the RC is gone", || async {
        api.get("replicationcontrollers", "default", "kubia").await.is_none()
    })
    .await;
    let pod = api.get("pods", "default", "kubia-a").await.unwrap();
    assert!(owner_references(&pod).is_empty());
    // A fresh pod naming the old uid is dangling even though an RC of that name exists again.
    api.create(testing::rc("kubia", 1)).await;
    api.create(owned_pod("stale", &[&old])).await;
    api.eventually("the stale dependent is deleted", || async { api.get("pods", "default", "stale").await.is_none() })
        .await;
    assert!(api.get("replicationcontrollers", "default", "kubia").await.is_some());
}
