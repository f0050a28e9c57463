//! kube-rs (crates.io `kube`: its client, runtime and WebSocket exec, over
//! plain HTTP) against the compose cluster's apiserver, as a Rust operator
//! would use it: typed reads and writes, watches resumed from a
//! resourceVersion, a reflector's cache following the server, and exec.
//! Each test works in a namespace of its own.
//!
//! Run by deploy/test.sh with `cargo test -p e2e --features cluster --test kube_client`.

use api::k8s_openapi::api::apps::v1::Deployment;
use api::k8s_openapi::api::core::v1::{Node, Pod, Service};
use e2e::Live;
use futures::{StreamExt, TryStreamExt};
use kube::api::{Api, AttachParams, DeleteParams, ListParams, Patch, PatchParams, PostParams, WatchEvent, WatchParams};
use kube::runtime::{conditions, reflector, wait::await_condition, watcher, WatchStreamExt};
use kube::{Client, Config};
use serde_json::json;
use std::collections::BTreeSet;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const TIMEOUT: Duration = Duration::from_secs(60);

fn client(live: &Live) -> Client {
    let url = live.server_url().parse().expect("the server's URL");
    Client::try_from(Config::new(url)).expect("a kube client")
}

fn pod(name: &str, app: &str) -> Pod {
    serde_json::from_value(json!({
        "metadata": {"name": name, "labels": {"app": app}},
        "spec": {"containers": [{"name": "main", "image": "luksa/kubia"}]},
    }))
    .expect("a pod")
}

/// A Service without a selector: no controller writes to it, so a watch sees only the test's changes.
fn service(name: &str) -> Service {
    serde_json::from_value(json!({"metadata": {"name": name}, "spec": {"ports": [{"port": 80}]}})).expect("a service")
}

/// The code and reason of a kube error from the server.
fn api_error(e: kube::Error) -> (u16, String) {
    match e {
        kube::Error::Api(status) => (status.code, status.reason),
        other => panic!("not an error from the server: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_create_patch_and_delete() {
    let live = Live::new("kube-rw");
    let kube = client(&live);
    let pods: Api<Pod> = Api::namespaced(kube.clone(), &live.namespace);

    let created = pods.create(&PostParams::default(), &pod("web-1", "web")).await.expect("create");
    assert!(created.metadata.uid.is_some() && created.metadata.resource_version.is_some());
    pods.create(&PostParams::default(), &pod("db-1", "db")).await.expect("create");
    let (code, reason) = api_error(pods.create(&PostParams::default(), &pod("web-1", "web")).await.unwrap_err());
    assert_eq!((code, reason.as_str()), (409, "AlreadyExists"));

    let all = pods.list(&ListParams::default()).await.expect("list");
    let names: BTreeSet<String> = all.items.iter().filter_map(|p| p.metadata.name.clone()).collect();
    assert_eq!(names, BTreeSet::from(["db-1".to_string(), "web-1".to_string()]));
    let web = pods.list(&ListParams::default().labels("app=web")).await.expect("list by label");
    assert_eq!(web.items.len(), 1);
    let named = pods.list(&ListParams::default().fields("metadata.name=db-1")).await.expect("list by field");
    assert_eq!(named.items[0].metadata.name.as_deref(), Some("db-1"));
    let nodes = Api::<Node>::all(kube.clone()).list(&ListParams::default()).await.expect("list nodes");
    assert!(nodes.items.len() >= 3, "{} nodes", nodes.items.len());

    let merged = pods
        .patch("web-1", &PatchParams::default(), &Patch::Merge(json!({"metadata": {"labels": {"tier": "front"}}})))
        .await
        .expect("merge patch");
    assert_eq!(merged.metadata.labels.unwrap().get("tier").map(String::as_str), Some("front"));
    let image = json!({"spec": {"containers": [{"name": "main", "image": "luksa/kubia:latest"}]}});
    let strategic = pods.patch("web-1", &PatchParams::default(), &Patch::Strategic(image)).await.expect("strategic");
    let containers = strategic.spec.unwrap().containers;
    assert_eq!(containers.len(), 1, "the list merged by name");
    assert_eq!(containers[0].image.as_deref(), Some("luksa/kubia:latest"));

    let deployments: Api<Deployment> = Api::namespaced(kube.clone(), &live.namespace);
    let deployment: Deployment = serde_json::from_value(json!({
        "metadata": {"name": "web"},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": "web-d"}},
            "template": {"metadata": {"labels": {"app": "web-d"}}, "spec": {"containers": [{"name": "web", "image": "luksa/kubia"}]}},
        },
    }))
    .unwrap();
    deployments.create(&PostParams::default(), &deployment).await.expect("create deployment");
    let scale = deployments
        .patch_scale("web", &PatchParams::default(), &Patch::Merge(json!({"spec": {"replicas": 2}})))
        .await
        .expect("scale");
    assert_eq!(scale.spec.and_then(|s| s.replicas), Some(2));
    deployments.delete("web", &DeleteParams::foreground()).await.expect("delete deployment");

    pods.delete("db-1", &DeleteParams { grace_period_seconds: Some(0), ..Default::default() }).await.expect("delete");
    let gone = tokio::time::timeout(TIMEOUT, async {
        loop {
            match pods.get_opt("db-1").await.expect("get") {
                None => break,
                Some(_) => tokio::time::sleep(Duration::from_millis(300)).await,
            }
        }
    })
    .await;
    assert!(gone.is_ok(), "the deleted pod is still there");
    let (code, reason) = api_error(pods.get("db-1").await.unwrap_err());
    assert_eq!((code, reason.as_str()), (404, "NotFound"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_side_apply() {
    let live = Live::new("kube-ssa");
    let services: Api<Service> = Api::namespaced(client(&live), &live.namespace);
    let params = PatchParams::apply("kube-rs-test");
    let applied = services
        .patch("web", &params, &Patch::Apply(json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "labels": {"a": "1"}}, "spec": {"ports": [{"port": 80}]}})))
        .await
        .expect("apply creates");
    assert_eq!(applied.metadata.labels.unwrap().get("a").map(String::as_str), Some("1"));
    let managers: Vec<String> =
        applied.metadata.managed_fields.unwrap_or_default().into_iter().filter_map(|m| m.manager).collect();
    assert!(managers.contains(&"kube-rs-test".to_string()), "{managers:?}");
    let applied = services
        .patch("web", &params, &Patch::Apply(json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "labels": {"b": "2"}}, "spec": {"ports": [{"port": 80}]}})))
        .await
        .expect("apply again");
    let labels = applied.metadata.labels.unwrap_or_default();
    assert_eq!(
        (labels.get("a"), labels.get("b").map(String::as_str)),
        (None, Some("2")),
        "a field no longer applied goes"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_from_a_resource_version_and_resume() {
    let live = Live::new("kube-watch");
    let services: Api<Service> = Api::namespaced(client(&live), &live.namespace);
    services.create(&PostParams::default(), &service("a")).await.expect("create a");
    let start = services.list(&ListParams::default()).await.expect("list").metadata.resource_version.unwrap();

    services.create(&PostParams::default(), &service("b")).await.expect("create b");
    services
        .patch("a", &PatchParams::default(), &Patch::Merge(json!({"metadata": {"labels": {"seen": "yes"}}})))
        .await
        .expect("patch a");
    services.delete("b", &DeleteParams::default()).await.expect("delete b");

    let events = |from: String, count: usize| {
        let services = services.clone();
        async move {
            let stream = services.watch(&WatchParams::default().timeout(20), &from).await.expect("watch");
            let events: Vec<(String, String, String)> = tokio::time::timeout(
                Duration::from_secs(30),
                stream
                    .map(|e| match e.expect("a watch event") {
                        WatchEvent::Added(s) => ("ADDED", s),
                        WatchEvent::Modified(s) => ("MODIFIED", s),
                        WatchEvent::Deleted(s) => ("DELETED", s),
                        other => panic!("unexpected {other:?}"),
                    })
                    .map(|(kind, s)| (kind.to_string(), s.metadata.name.unwrap(), s.metadata.resource_version.unwrap()))
                    .take(count)
                    .collect(),
            )
            .await
            .expect("the events came in time");
            events
        }
    };
    let seen = events(start, 3).await;
    let kinds: Vec<(&str, &str)> = seen.iter().map(|(k, n, _)| (k.as_str(), n.as_str())).collect();
    assert_eq!(kinds, [("ADDED", "b"), ("MODIFIED", "a"), ("DELETED", "b")]);

    services.create(&PostParams::default(), &service("c")).await.expect("create c");
    let resumed = events(seen[2].2.clone(), 1).await;
    assert_eq!((resumed[0].0.as_str(), resumed[0].1.as_str()), ("ADDED", "c"), "only what came after");

    // The runtime's watcher: the current objects first, then the changes.
    let stream = watcher(services.clone(), watcher::Config::default()).applied_objects();
    let mut stream = Box::pin(stream);
    let mut initial = BTreeSet::new();
    while initial.len() < 2 {
        let s = tokio::time::timeout(TIMEOUT, stream.try_next()).await.expect("in time").expect("no error").unwrap();
        initial.insert(s.metadata.name.unwrap());
    }
    assert_eq!(initial, BTreeSet::from(["a".to_string(), "c".to_string()]));
    services.create(&PostParams::default(), &service("d")).await.expect("create d");
    let next = tokio::time::timeout(TIMEOUT, stream.try_next()).await.expect("in time").expect("no error").unwrap();
    assert_eq!(next.metadata.name.as_deref(), Some("d"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reflector_follows_the_server() {
    let live = Live::new("kube-reflect");
    let services: Api<Service> = Api::namespaced(client(&live), &live.namespace);
    for name in ["one", "two"] {
        services.create(&PostParams::default(), &service(name)).await.expect("create");
    }
    // One cache filled by list-then-watch, one by a streaming list (a watch with
    // sendInitialEvents, as current clients do).
    let (reader, writer) = reflector::store();
    let stream = reflector(writer, watcher(services.clone(), watcher::Config::default())).applied_objects();
    let running = tokio::spawn(stream.for_each(|_| async {}));
    let (streamed, writer) = reflector::store();
    let config = watcher::Config::default().streaming_lists();
    let stream = reflector(writer, watcher(services.clone(), config)).applied_objects();
    let streaming = tokio::spawn(stream.for_each(|_| async {}));
    for store in [&reader, &streamed] {
        tokio::time::timeout(TIMEOUT, store.wait_until_ready()).await.expect("the cache fills in time").unwrap();
    }

    let cached = |reader: &reflector::Store<Service>| -> BTreeSet<(String, String)> {
        reader
            .state()
            .iter()
            .map(|s| {
                let label = s.metadata.labels.as_ref().and_then(|l| l.get("v").cloned()).unwrap_or_default();
                (s.metadata.name.clone().unwrap(), label)
            })
            .collect()
    };
    let initial = BTreeSet::from([("one".into(), "".into()), ("two".into(), "".into())]);
    assert_eq!((cached(&reader), cached(&streamed)), (initial.clone(), initial));

    // Changes on the server, several at once, then the cache must agree.
    services.create(&PostParams::default(), &service("three")).await.expect("create");
    for v in 1..=5 {
        let patch = Patch::Merge(json!({"metadata": {"labels": {"v": v.to_string()}}}));
        services.patch("one", &PatchParams::default(), &patch).await.expect("patch");
    }
    services.delete("two", &DeleteParams::default()).await.expect("delete");
    let want = BTreeSet::from([("one".into(), "5".into()), ("three".into(), "".into())]);
    let synced = tokio::time::timeout(TIMEOUT, async {
        while cached(&reader) != want || cached(&streamed) != want {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await;
    assert!(synced.is_ok(), "the caches hold {:?} and {:?}, the server {want:?}", cached(&reader), cached(&streamed));
    running.abort();
    streaming.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exec_with_stdout_stderr_stdin_and_exit_code() {
    let live = Live::new("kube-exec");
    let pods: Api<Pod> = Api::namespaced(client(&live), &live.namespace);
    pods.create(&PostParams::default(), &pod("shell", "shell")).await.expect("create");
    let running = tokio::time::timeout(TIMEOUT, await_condition(pods.clone(), "shell", conditions::is_pod_running()));
    running.await.expect("the pod runs in time").expect("watch the pod");

    let ap = AttachParams::default().stderr(true);
    let mut process =
        pods.exec("shell", ["sh", "-c", "echo out; echo err >&2; exit 3"], &ap).await.expect("exec starts");
    let (mut stdout, mut stderr) = (process.stdout().unwrap(), process.stderr().unwrap());
    let status = process.take_status().unwrap();
    let (mut out, mut err) = (String::new(), String::new());
    stdout.read_to_string(&mut out).await.unwrap();
    stderr.read_to_string(&mut err).await.unwrap();
    let status = status.await.expect("an exit status");
    process.join().await.expect("the session ends cleanly");
    assert_eq!((out.as_str(), err.as_str()), ("out\n", "err\n"));
    assert_eq!(status.reason.as_deref(), Some("NonZeroExitCode"), "{status:?}");
    let code = status.details.and_then(|d| d.causes).unwrap_or_default();
    assert!(
        code.iter().any(|c| c.reason.as_deref() == Some("ExitCode") && c.message.as_deref() == Some("3")),
        "{code:?}"
    );

    let ap = AttachParams::default().stdin(true).stderr(false);
    let mut process = pods.exec("shell", ["sh", "-c", "read line; echo got $line"], &ap).await.expect("exec");
    let mut stdin = process.stdin().unwrap();
    stdin.write_all(b"abc\n").await.unwrap();
    let mut out = String::new();
    process.stdout().unwrap().read_to_string(&mut out).await.unwrap();
    let status = process.take_status().unwrap().await.expect("an exit status");
    assert_eq!(out, "got abc\n");
    assert_eq!(status.status.as_deref(), Some("Success"), "{status:?}");
}
