//! Endpoints controller tests: the computation as tables over pods the tests
//! describe, then the controller against a real in-process apiserver
//! (reaction time to readiness changes, labels, deletions, hand-made
//! Endpoints, no writes without change).

use super::*;
use crate::pods;
use crate::testing::{self, TestApi};
use api::{meta, ResourceInfo};
use client::Resource;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

fn services() -> &'static ResourceInfo {
    Service::info()
}

fn endpoints() -> &'static ResourceInfo {
    Endpoints::info()
}

/// A typed object from its JSON (fixtures are written as the API shows them).
fn typed<T: api::k8s_openapi::serde::de::DeserializeOwned>(v: Value) -> T {
    serde_json::from_value(v).unwrap()
}

fn svc_of(service: &Value) -> Service {
    typed(service.clone())
}

/// The subsets as the API shows them.
fn subsets_to_json(subsets: &[Subset]) -> Value {
    serde_json::to_value(subsets.iter().map(Subset::to_api).collect::<Vec<_>>()).unwrap()
}

fn service(selector: Value, ports: Value) -> Value {
    json!({
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "kubia", "namespace": "default", "labels": {"app": "kubia"}},
        "spec": {"selector": selector, "ports": ports},
    })
}

fn kubia_service() -> Value {
    service(json!({"app": "kubia"}), json!([{"port": 80, "protocol": "TCP", "targetPort": 8080}]))
}

/// A running pod as the cache shows it: `ip` "" means none yet.
fn pod(name: &str, ip: &str, ready: bool) -> Value {
    let mut p = testing::pod(name, json!({"app": "kubia"}));
    p["metadata"]["uid"] = json!(format!("uid-{name}"));
    p["spec"]["nodeName"] = json!("node-1");
    p["spec"]["containers"][0]["ports"] = json!([{"name": "http", "containerPort": 8080, "protocol": "TCP"}]);
    p["status"] = json!({
        "phase": "Running",
        "podIP": ip,
        "conditions": [{"type": "Ready", "status": if ready { "True" } else { "False" }}],
    });
    p
}

fn with_ports(mut p: Value, ports: Value) -> Value {
    p["spec"]["containers"][0]["ports"] = ports;
    p
}

fn arcs(pods: Vec<Value>) -> Vec<Arc<Pod>> {
    pods.into_iter().map(|p| Arc::new(typed(p))).collect()
}

fn addr(name: &str, ip: &str) -> Address {
    Address {
        ip: ip.into(),
        hostname: String::new(),
        node_name: "node-1".into(),
        target_ref: Some(TargetRef {
            kind: "Pod".into(),
            namespace: "default".into(),
            name: name.into(),
            uid: format!("uid-{name}"),
        }),
    }
}

fn port(name: &str, number: i32) -> Port {
    Port { name: name.into(), port: number, protocol: "TCP".into(), app_protocol: String::new() }
}

/// The subsets as `(ready IPs, not-ready IPs, ports as name:port)`, for compact tables.
fn brief(subsets: &[Subset]) -> Vec<(Vec<&str>, Vec<&str>, Vec<String>)> {
    subsets
        .iter()
        .map(|s| {
            (
                s.addresses.iter().map(|a| a.ip.as_str()).collect(),
                s.not_ready_addresses.iter().map(|a| a.ip.as_str()).collect(),
                s.ports.iter().map(|p| format!("{}:{}", p.name, p.port)).collect(),
            )
        })
        .collect()
}

#[test]
fn ready_pods_are_addresses_and_unready_ones_not_ready_addresses() {
    let pods = arcs(vec![pod("b", "10.244.1.3", true), pod("a", "10.244.1.2", true), pod("c", "10.244.1.4", false)]);
    let subsets = compute_subsets(&svc_of(&kubia_service()), &pods);
    assert_eq!(
        subsets,
        [Subset {
            addresses: vec![addr("a", "10.244.1.2"), addr("b", "10.244.1.3")],
            not_ready_addresses: vec![addr("c", "10.244.1.4")],
            ports: vec![port("", 8080)],
        }]
    );
    // As the API shows it.
    assert_eq!(
        subsets_to_json(&subsets)[0]["addresses"][0],
        json!({"ip": "10.244.1.2", "nodeName": "node-1",
               "targetRef": {"kind": "Pod", "namespace": "default", "name": "a", "uid": "uid-a"}})
    );
    assert_eq!(subsets_to_json(&subsets)[0]["ports"], json!([{"port": 8080, "protocol": "TCP"}]));
}

#[test]
fn publish_not_ready_addresses_lists_every_pod_as_ready() {
    let mut svc = kubia_service();
    svc["spec"]["publishNotReadyAddresses"] = json!(true);
    let mut deleting = pod("d", "10.244.1.5", true);
    deleting["metadata"]["deletionTimestamp"] = json!("2024-01-01T00:00:00Z");
    let pods = arcs(vec![pod("a", "10.244.1.2", true), pod("c", "10.244.1.4", false), deleting]);
    assert_eq!(
        brief(&compute_subsets(&svc_of(&svc), &pods)),
        [(vec!["10.244.1.2", "10.244.1.4", "10.244.1.5"], vec![], vec![":8080".to_string()])],
        "unready and terminating pods are published too"
    );
}

#[test]
fn pods_without_ip_finished_or_terminating_are_left_out() {
    let mut succeeded = pod("s", "10.244.1.6", false);
    succeeded["status"]["phase"] = json!("Succeeded");
    let mut failed = pod("f", "10.244.1.7", false);
    failed["status"]["phase"] = json!("Failed");
    let mut deleting = pod("d", "10.244.1.5", true);
    deleting["metadata"]["deletionTimestamp"] = json!("2024-01-01T00:00:00Z");
    let mut other_ns = pod("o", "10.244.1.8", true);
    other_ns["metadata"]["namespace"] = json!("elsewhere");
    let mut unlabelled = pod("u", "10.244.1.9", true);
    unlabelled["metadata"]["labels"] = json!({"app": "other"});
    let pods = arcs(vec![
        pod("a", "10.244.1.2", true),
        pod("pending", "", false),
        succeeded,
        failed,
        deleting,
        other_ns,
        unlabelled,
    ]);
    assert_eq!(
        brief(&compute_subsets(&svc_of(&kubia_service()), &pods)),
        [(vec!["10.244.1.2"], vec![], vec![":8080".into()])]
    );
    // podIPs alone is enough.
    let mut only_ips = pod("i", "", true);
    only_ips["status"]["podIPs"] = json!([{"ip": "10.244.2.2"}]);
    assert_eq!(brief(&compute_subsets(&svc_of(&kubia_service()), &arcs(vec![only_ips])))[0].0, ["10.244.2.2"]);
}

#[test]
fn named_target_ports_resolve_per_pod_and_split_subsets() {
    let svc =
        service(json!({"app": "kubia"}), json!([{"name": "web", "port": 80, "protocol": "TCP", "targetPort": "http"}]));
    let pods = arcs(vec![
        pod("a", "10.244.1.2", true),
        with_ports(pod("b", "10.244.1.3", true), json!([{"name": "http", "containerPort": 9090}])),
        // Same name, other protocol: not a match.
        with_ports(pod("c", "10.244.1.4", true), json!([{"name": "http", "containerPort": 8080, "protocol": "UDP"}])),
        with_ports(pod("d", "10.244.1.5", false), json!([])),
    ]);
    assert_eq!(
        brief(&compute_subsets(&svc_of(&svc), &pods)),
        [
            (vec!["10.244.1.2"], vec![], vec!["web:8080".to_string()]),
            (vec!["10.244.1.3"], vec![], vec!["web:9090".to_string()]),
        ],
        "pods with different resolved ports go in different subsets; pods without the name are left out"
    );
    // A numeric targetPort needs no container port; a missing one is the service port.
    let numeric =
        service(json!({"app": "kubia"}), json!([{"port": 80, "targetPort": 3000}, {"name": "x", "port": 81}]));
    let only = arcs(vec![with_ports(pod("a", "10.244.1.2", true), json!([]))]);
    assert_eq!(brief(&compute_subsets(&svc_of(&numeric), &only))[0].2, [":3000", "x:81"]);
}

#[test]
fn multiple_ports_share_one_subset_and_repack_by_port_set() {
    let svc = service(
        json!({"app": "kubia"}),
        json!([
            {"name": "https", "port": 443, "protocol": "TCP", "targetPort": "https"},
            {"name": "http", "port": 80, "protocol": "TCP", "targetPort": "http"},
        ]),
    );
    let both = json!([{"name": "http", "containerPort": 8080}, {"name": "https", "containerPort": 8443}]);
    let pods = arcs(vec![
        with_ports(pod("a", "10.244.1.2", true), both.clone()),
        with_ports(pod("b", "10.244.1.3", false), both),
        // Serves http only.
        pod("c", "10.244.1.4", true),
    ]);
    let subsets = compute_subsets(&svc_of(&svc), &pods);
    assert_eq!(
        brief(&subsets),
        [
            (vec!["10.244.1.2", "10.244.1.4"], vec!["10.244.1.3"], vec!["http:8080".to_string()]),
            (vec!["10.244.1.2"], vec!["10.244.1.3"], vec!["https:8443".to_string()]),
        ]
    );
    // Same pods, every port on every pod: one subset with the ports in name order.
    let same = arcs(vec![
        with_ports(
            pod("a", "10.244.1.2", true),
            json!([{"name": "http", "containerPort": 8080}, {"name": "https", "containerPort": 8443}]),
        ),
        with_ports(
            pod("b", "10.244.1.3", true),
            json!([{"name": "http", "containerPort": 8080}, {"name": "https", "containerPort": 8443}]),
        ),
    ]);
    assert_eq!(
        brief(&compute_subsets(&svc_of(&svc), &same)),
        [(vec!["10.244.1.2", "10.244.1.3"], vec![], vec!["http:8080".to_string(), "https:8443".to_string()])]
    );
}

#[test]
fn the_result_does_not_depend_on_the_order_pods_are_listed() {
    let svc = service(json!({"app": "kubia"}), json!([{"name": "web", "port": 80, "targetPort": "http"}]));
    let mut pods: Vec<Value> = (0..20)
        .map(|i| {
            let p = pod(&format!("p{i}"), &format!("10.244.{}.{}", i % 3, i + 2), i % 4 != 0);
            with_ports(p, json!([{"name": "http", "containerPort": 8000 + i % 2}]))
        })
        .collect();
    let first = compute_subsets(&svc_of(&svc), &arcs(pods.clone()));
    pods.reverse();
    pods.rotate_left(7);
    assert_eq!(compute_subsets(&svc_of(&svc), &arcs(pods)), first);
    assert_eq!(first.len(), 2);
}

#[test]
fn services_without_a_selector_get_nothing() {
    let pods = arcs(vec![pod("a", "10.244.1.2", true)]);
    let mut svc = kubia_service();
    svc["spec"].as_object_mut().unwrap().remove("selector");
    assert!(compute_subsets(&svc_of(&svc), &pods).is_empty());
    svc["spec"]["selector"] = json!({});
    assert!(compute_subsets(&svc_of(&svc), &pods).is_empty(), "an empty selector is no selector");
}

#[test]
fn headless_services_are_labelled_and_may_have_no_ports() {
    let mut svc = service(json!({"app": "kubia"}), json!([]));
    svc["spec"]["clusterIP"] = json!("None");
    let mut named = pod("a", "10.244.1.2", true);
    named["spec"]["hostname"] = json!("kubia-0");
    named["spec"]["subdomain"] = json!("kubia");
    let pods = arcs(vec![named, pod("b", "10.244.1.3", false)]);
    let subsets = compute_subsets(&svc_of(&svc), &pods);
    assert_eq!(brief(&subsets), [(vec!["10.244.1.2"], vec!["10.244.1.3"], vec![])]);
    assert_eq!(subsets[0].addresses[0].hostname, "kubia-0", "a pod in the service's subdomain keeps its hostname");
    assert_eq!(
        endpoints_labels(&svc_of(&svc)),
        BTreeMap::from([("app".into(), "kubia".into()), (HEADLESS_LABEL.into(), "".into())])
    );
    assert_eq!(endpoints_labels(&svc_of(&kubia_service())), BTreeMap::from([("app".into(), "kubia".into())]));
    // A service with a cluster IP and no ports lists nobody.
    assert!(compute_subsets(&svc_of(&service(json!({"app": "kubia"}), json!([]))), &pods).is_empty());
}

#[test]
fn too_many_addresses_are_truncated_ready_first() {
    let mut subsets = vec![Subset {
        addresses: (0..900).map(|i| addr(&format!("r{i}"), &format!("10.1.{}.{}", i / 250, i % 250))).collect(),
        not_ready_addresses: (0..300)
            .map(|i| addr(&format!("n{i}"), &format!("10.2.{}.{}", i / 250, i % 250)))
            .collect(),
        ports: vec![port("", 80)],
    }];
    assert!(truncate(&mut subsets));
    assert_eq!((subsets[0].addresses.len(), subsets[0].not_ready_addresses.len()), (900, 100));
    let mut small = subsets.clone();
    small[0].not_ready_addresses.truncate(10);
    assert!(!truncate(&mut small));
}

#[test]
fn unchanged_endpoints_need_no_write() {
    let svc = kubia_service();
    let pods = arcs(vec![pod("a", "10.244.1.2", true)]);
    let mut stored = desired_endpoints(&svc_of(&svc), &pods, None);
    stored.metadata.resource_version = Some("12".into());
    // What the apiserver adds (a targetRef resourceVersion) does not count as a change.
    let subsets = stored.subsets.as_mut().unwrap();
    let target = subsets[0].addresses.as_mut().unwrap()[0].target_ref.as_mut().unwrap();
    target.resource_version = Some("5".into());
    let again = desired_endpoints(&svc_of(&svc), &pods, Some(&stored));
    assert!(up_to_date(&stored, &again));
    assert_eq!(again.metadata.resource_version.as_deref(), Some("12"), "an update carries the version it replaces");
    let unready = arcs(vec![pod("a", "10.244.1.2", false)]);
    assert!(!up_to_date(&stored, &desired_endpoints(&svc_of(&svc), &unready, Some(&stored))));
    let mut relabelled = svc.clone();
    relabelled["metadata"]["labels"]["tier"] = json!("web");
    assert!(!up_to_date(&stored, &desired_endpoints(&svc_of(&relabelled), &pods, Some(&stored))));
}

// ---- The controller against an apiserver ----

struct Cluster {
    api: TestApi,
    _running: testing::Running,
}

impl Cluster {
    async fn start() -> Self {
        let api = TestApi::start().await;
        Self::with(api)
    }

    fn with(api: TestApi) -> Self {
        let ctx = api.context(testing::config(), crate::clock::Clock::system());
        let ctrl = Arc::new(EndpointsController::new(&ctx));
        let running = testing::run_controller(&ctx, ctrl);
        Self { api, _running: running }
    }

    /// Creates a pod and gives it the status a kubelet would.
    async fn run_pod(&self, name: &str, ip: &str, ready: bool) -> Value {
        let spec = pod(name, ip, ready);
        let mut created = self.api.create(spec.clone()).await;
        created["status"] = spec["status"].clone();
        self.api.client.update_status(pods::pods(), "default", &created).await.unwrap()
    }

    async fn set_ready(&self, name: &str, ready: bool) {
        let mut p = self.api.get("pods", "default", name).await.unwrap();
        p["status"]["conditions"][0]["status"] = json!(if ready { "True" } else { "False" });
        self.api.client.update_status(pods::pods(), "default", &p).await.unwrap();
    }

    async fn endpoints(&self, name: &str) -> Option<Value> {
        self.api.get("endpoints", "default", name).await
    }

    /// The ready and not-ready IPs of the Endpoints named `name` (None: there are none).
    async fn ips(&self, name: &str) -> Option<(Vec<String>, Vec<String>)> {
        let ep = self.endpoints(name).await?;
        let subsets = stored_subsets(&typed(ep));
        let collect = |f: fn(&Subset) -> &Vec<Address>| {
            let mut ips: Vec<String> = subsets.iter().flat_map(|s| f(s).iter().map(|a| a.ip.clone())).collect();
            ips.sort();
            ips
        };
        Some((collect(|s| &s.addresses), collect(|s| &s.not_ready_addresses)))
    }

    async fn wait_ips(&self, name: &str, ready: &[&str], not_ready: &[&str]) -> Duration {
        let start = Instant::now();
        let want = Some((
            ready.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
            not_ready.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
        ));
        self.api
            .eventually(&format!("{name} lists {ready:?} / {not_ready:?}"), || async { self.ips(name).await == want })
            .await;
        start.elapsed()
    }
}

#[tokio::test]
async fn endpoints_follow_pod_readiness_within_a_fraction_of_a_second() {
    let c = Cluster::start().await;
    c.api.create(kubia_service()).await;
    c.run_pod("a", "10.244.1.2", true).await;
    c.run_pod("b", "10.244.1.3", true).await;
    c.run_pod("c", "10.244.1.4", false).await;
    c.wait_ips("kubia", &["10.244.1.2", "10.244.1.3"], &["10.244.1.4"]).await;
    let ep = c.endpoints("kubia").await.unwrap();
    assert_eq!(ep["metadata"]["labels"], json!({"app": "kubia"}), "the service's labels");
    assert_eq!(ep["subsets"][0]["ports"], json!([{"port": 8080, "protocol": "TCP"}]));

    c.set_ready("a", false).await;
    let took = c.wait_ips("kubia", &["10.244.1.3"], &["10.244.1.2", "10.244.1.4"]).await;
    assert!(took < Duration::from_millis(500), "readiness loss took {took:?}");
    c.set_ready("c", true).await;
    let took = c.wait_ips("kubia", &["10.244.1.3", "10.244.1.4"], &["10.244.1.2"]).await;
    assert!(took < Duration::from_millis(500), "readiness gain took {took:?}");

    // A pod relabelled out of the selector leaves; deleting one removes it.
    let mut b = c.api.get("pods", "default", "b").await.unwrap();
    b["metadata"]["labels"] = json!({"app": "other"});
    c.api.client.update(pods::pods(), "default", &b).await.unwrap();
    c.wait_ips("kubia", &["10.244.1.4"], &["10.244.1.2"]).await;
    c.api
        .client
        .delete(pods::pods(), "default", "c", &DeleteParams { grace_period_seconds: Some(0), ..Default::default() })
        .await
        .unwrap();
    c.wait_ips("kubia", &[], &["10.244.1.2"]).await;
}

#[tokio::test]
async fn endpoints_are_written_only_when_they_change() {
    let c = Cluster::start().await;
    c.api.create(kubia_service()).await;
    c.run_pod("a", "10.244.1.2", true).await;
    c.wait_ips("kubia", &["10.244.1.2"], &[]).await;
    let before = c.endpoints("kubia").await.unwrap();
    // Changes the endpoints do not depend on.
    let mut a = c.api.get("pods", "default", "a").await.unwrap();
    a["metadata"]["annotations"] = json!({"note": "hi"});
    c.api.client.update(pods::pods(), "default", &a).await.unwrap();
    let mut svc = c.api.get("services", "default", "kubia").await.unwrap();
    svc["metadata"]["annotations"] = json!({"note": "hi"});
    c.api.client.update(services(), "default", &svc).await.unwrap();
    // Give a needless write time to happen: there must be none.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let after = c.endpoints("kubia").await.unwrap();
    assert_eq!(meta::resource_version(&after), meta::resource_version(&before), "no write without a change");
    // Then one they depend on.
    c.run_pod("b", "10.244.1.3", true).await;
    c.wait_ips("kubia", &["10.244.1.2", "10.244.1.3"], &[]).await;
    // The service's label change does reach the Endpoints.
    let mut svc = c.api.get("services", "default", "kubia").await.unwrap();
    svc["metadata"]["labels"] = json!({"app": "kubia", "tier": "web"});
    c.api.client.update(services(), "default", &svc).await.unwrap();
    c.api
        .eventually("the endpoints carry the new labels", || async {
            c.endpoints("kubia").await.unwrap()["metadata"]["labels"] == json!({"app": "kubia", "tier": "web"})
        })
        .await;
}

#[tokio::test]
async fn hand_made_endpoints_survive_and_deleted_services_lose_theirs() {
    let c = Cluster::start().await;
    let mut external = service(json!({}), json!([{"port": 5432, "protocol": "TCP"}]));
    external["metadata"]["name"] = json!("external-db");
    external["spec"].as_object_mut().unwrap().remove("selector");
    c.api.create(external).await;
    c.api
        .create(json!({
            "apiVersion": "v1", "kind": "Endpoints",
            "metadata": {"name": "external-db", "namespace": "default"},
            "subsets": [{"addresses": [{"ip": "192.0.2.10"}], "ports": [{"port": 5432, "protocol": "TCP"}]}],
        }))
        .await;
    c.api.create(kubia_service()).await;
    c.run_pod("a", "10.244.1.2", true).await;
    c.wait_ips("kubia", &["10.244.1.2"], &[]).await;
    assert_eq!(c.ips("external-db").await, Some((vec!["192.0.2.10".into()], vec![])), "left alone");

    // The managed Endpoints come back when deleted, and go with their service.
    c.api.client.delete(endpoints(), "default", "kubia", &Default::default()).await.unwrap();
    c.wait_ips("kubia", &["10.244.1.2"], &[]).await;
    c.api.client.delete(services(), "default", "kubia", &Default::default()).await.unwrap();
    c.api.eventually("kubia's endpoints are gone", || async { c.endpoints("kubia").await.is_none() }).await;
    assert!(c.endpoints("external-db").await.is_some());
}

#[tokio::test]
async fn leftover_endpoints_of_services_deleted_while_down_are_removed_at_start() {
    let api = TestApi::start().await;
    api.create(json!({
        "apiVersion": "v1", "kind": "Endpoints",
        "metadata": {"name": "gone", "namespace": "default"},
        "subsets": [{"addresses": [{"ip": "10.244.1.9"}], "ports": [{"port": 80, "protocol": "TCP"}]}],
    }))
    .await;
    api.create(kubia_service()).await;
    let c = Cluster::with(api);
    c.api.eventually("the leftover is deleted", || async { c.endpoints("gone").await.is_none() }).await;
    c.api.eventually("kubia has (empty) endpoints", || async { c.endpoints("kubia").await.is_some() }).await;
    assert!(c.endpoints("kubia").await.unwrap().get("subsets").is_none(), "no pods: no subsets");
}
