//! Service allocation through the registry, as users see it: the fields a
//! create fills in, Kubernetes' errors, uniqueness under concurrent creates
//! (also from two apiservers), release on delete, restarts, repair and the
//! system services. Each case runs against the memory store and a real etcd.

use super::range::{IpRange, PortRange};
use super::*;
use crate::registry::{DeleteOptions, Registry, WriteOptions};
use crate::store::mem::MemStore;
use crate::store::testing::TestEtcd;
use api::meta;
use api::registry::lookup;
use api::ResourceInfo;
use proto::PatchType;
use serde_json::{json, Value};

fn services() -> &'static ResourceInfo {
    lookup("services").unwrap()
}

/// A tiny range: 14 usable addresses, .1 and .10 held by the system services,
/// so 12 for everyone else; 10 node ports.
fn small() -> ServiceConfig {
    ServiceConfig {
        cluster_ip_range: IpRange::parse("10.0.0.0/28").unwrap(),
        node_port_range: PortRange::parse("30000-30009").unwrap(),
        ..Default::default()
    }
}

async fn registry(store: Arc<dyn Store>, config: ServiceConfig) -> Arc<Registry> {
    let reg = Registry::with_services(store, config);
    reg.bootstrap().await.unwrap();
    Arc::new(reg)
}

fn body(name: &str, spec: Value) -> Vec<u8> {
    serde_json::to_vec(&json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": name}, "spec": spec}))
        .unwrap()
}

fn web(extra: Value) -> Value {
    let mut spec = json!({"selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": 8080}]});
    for (k, v) in extra.as_object().unwrap() {
        spec[k] = v.clone();
    }
    spec
}

async fn create(reg: &Registry, name: &str, spec: Value) -> Result<Value, ApiError> {
    reg.create(services(), "default", &body(name, spec), &WriteOptions::default()).await
}

async fn keys(store: &Arc<dyn Store>, prefix: &str) -> Vec<String> {
    let (kvs, _) = store.list(prefix).await.unwrap();
    kvs.into_iter().map(|kv| kv.key.trim_start_matches(prefix).to_string()).collect()
}

fn ip(svc: &Value) -> Ipv4Addr {
    svc["spec"]["clusterIP"].as_str().unwrap().parse().unwrap()
}

async fn create_fills_in_cluster_ip_families_and_node_ports(store: Arc<dyn Store>) {
    let reg = registry(store.clone(), ServiceConfig::default()).await;
    let svc = create(&reg, "web", web(json!({}))).await.unwrap();
    let range = IpRange::parse("10.96.0.0/12").unwrap();
    let addr = ip(&svc);
    assert!(range.offset(addr).is_some_and(|i| i >= 256), "{addr} is a dynamic address of 10.96.0.0/12");
    assert_eq!(svc["spec"]["clusterIPs"], json!([addr.to_string()]));
    assert_eq!(svc["spec"]["ipFamilies"], json!(["IPv4"]));
    assert_eq!(svc["spec"]["ipFamilyPolicy"], "SingleStack");
    assert!(svc["spec"]["ports"][0].get("nodePort").is_none());
    assert_eq!(reg.get(services(), "default", "web").await.unwrap()["spec"]["clusterIP"], addr.to_string());
    let owner: Owner =
        serde_json::from_slice(&store.get(&format!("{IP_PREFIX}{addr}")).await.unwrap().unwrap().value).unwrap();
    assert_eq!(
        (owner.namespace.as_str(), owner.name.as_str(), owner.uid.as_str()),
        ("default", "web", meta::uid(&svc))
    );

    let np = create(&reg, "np", web(json!({"type": "NodePort"}))).await.unwrap();
    let port = np["spec"]["ports"][0]["nodePort"].as_i64().unwrap();
    assert!((30000..=32767).contains(&port), "{port}");
    assert!(keys(&store, PORT_PREFIX).await.contains(&port.to_string()));
    // DNS-style ports with one number share one node port, as in Kubernetes.
    let dns = create(
        &reg,
        "dns",
        json!({"type": "LoadBalancer", "ports": [{"name": "a", "port": 53, "protocol": "UDP"}, {"name": "b", "port": 53}]}),
    )
    .await
    .unwrap();
    assert_eq!(dns["spec"]["ports"][0]["nodePort"], dns["spec"]["ports"][1]["nodePort"]);
    let local =
        create(&reg, "local", web(json!({"type": "LoadBalancer", "externalTrafficPolicy": "Local"}))).await.unwrap();
    assert!(local["spec"]["healthCheckNodePort"].as_i64().is_some_and(|p| p >= 30000));

    let headless = create(&reg, "headless", web(json!({"clusterIP": "None"}))).await.unwrap();
    assert_eq!(headless["spec"]["clusterIPs"], json!(["None"]));
    assert_eq!(headless["spec"]["ipFamilies"], json!(["IPv4"]));
    let external = create(&reg, "ext", json!({"type": "ExternalName", "externalName": "example.com"})).await.unwrap();
    assert!(external["spec"].get("clusterIP").is_none() && external["spec"].get("ipFamilies").is_none());
    let bad = create(&reg, "bad", web(json!({"type": "NodePort", "clusterIP": "None"}))).await.unwrap_err();
    assert_eq!(
        bad.to_string(),
        r#"Service "bad" is invalid: spec.clusterIPs[0]: Invalid value: "None": may not be set to 'None' for NodePort services"#
    );
    let v6 = create(&reg, "v6", web(json!({"ipFamilies": ["IPv6"]}))).await.unwrap_err();
    assert_eq!(
        v6.to_string(),
        r#"Service "v6" is invalid: spec.ipFamilies[0]: Invalid value: "IPv6": not configured on this cluster"#
    );
}

async fn requested_ips_and_ports_are_honoured_or_refused_with_kubernetes_errors(store: Arc<dyn Store>) {
    let reg = registry(store.clone(), ServiceConfig::default()).await;
    let svc = create(&reg, "a", web(json!({"clusterIP": "10.96.5.5"}))).await.unwrap();
    assert_eq!(svc["spec"]["clusterIPs"], json!(["10.96.5.5"]));
    let taken = create(&reg, "b", web(json!({"clusterIP": "10.96.0.1"}))).await.unwrap_err();
    assert_eq!(
        taken.to_string(),
        r#"Service "b" is invalid: spec.clusterIPs: Invalid value: []string{"10.96.0.1"}: failed to allocate IP 10.96.0.1: provided IP is already allocated"#
    );
    let outside = create(&reg, "b", web(json!({"clusterIP": "192.168.1.1"}))).await.unwrap_err();
    assert_eq!(
        outside.to_string(),
        r#"Service "b" is invalid: spec.clusterIPs: Invalid value: []string{"192.168.1.1"}: failed to allocate IP 192.168.1.1: the provided IP (192.168.1.1) is not in the valid range. The range of valid IPs is 10.96.0.0/12"#
    );
    let garbage = create(&reg, "b", web(json!({"clusterIP": "10.96.5"}))).await.unwrap_err();
    assert!(garbage.to_string().contains("must be a valid IP address"), "{garbage}");

    let np =
        create(&reg, "np", web(json!({"type": "NodePort", "ports": [{"port": 80, "nodePort": 30080}]}))).await.unwrap();
    assert_eq!(np["spec"]["ports"][0]["nodePort"], 30080);
    let again = create(&reg, "np2", web(json!({"type": "NodePort", "ports": [{"port": 80, "nodePort": 30080}]})))
        .await
        .unwrap_err();
    assert_eq!(
        again.to_string(),
        r#"Service "np2" is invalid: spec.ports[0].nodePort: Invalid value: 30080: provided port is already allocated"#
    );
    let high = create(&reg, "np2", web(json!({"type": "NodePort", "ports": [{"port": 80, "nodePort": 40000}]})))
        .await
        .unwrap_err();
    assert_eq!(
        high.to_string(),
        r#"Service "np2" is invalid: spec.ports[0].nodePort: Invalid value: 40000: provided port is not in the valid range. The range of valid ports is 30000-32767"#
    );
    // The failed creates took nothing: np2 got no IP left behind.
    assert_eq!(keys(&store, IP_PREFIX).await.len(), 4, "kubernetes, kube-dns, a, np");
    assert_eq!(keys(&store, PORT_PREFIX).await, ["30080"]);
}

async fn failed_and_dry_run_creates_keep_nothing(store: Arc<dyn Store>) {
    let reg = registry(store.clone(), ServiceConfig::default()).await;
    create(&reg, "np", web(json!({"type": "NodePort", "ports": [{"port": 80, "nodePort": 30080}]}))).await.unwrap();
    let before = (keys(&store, IP_PREFIX).await, keys(&store, PORT_PREFIX).await);
    // The IP is allocated first, then the node port fails: the IP goes back.
    let err = create(
        &reg,
        "late",
        web(json!({"type": "NodePort", "clusterIP": "10.96.7.7", "ports": [{"port": 80, "nodePort": 30080}]})),
    )
    .await
    .unwrap_err();
    assert!(err.is_invalid(), "{err}");
    // A name already taken: the allocation for the losing create goes back.
    let dup = create(&reg, "np", web(json!({"type": "NodePort"}))).await.unwrap_err();
    assert!(dup.is_already_exists(), "{dup}");
    let dry = reg
        .create(
            services(),
            "default",
            &body("dry", web(json!({"type": "NodePort"}))),
            &WriteOptions { dry_run: true, ..Default::default() },
        )
        .await
        .unwrap();
    assert!(dry["spec"]["clusterIP"].as_str().is_some_and(|ip| ip.starts_with("10.")), "dry run shows an IP");
    assert!(dry["spec"]["ports"][0]["nodePort"].as_i64().is_some());
    let dry_taken = reg
        .create(
            services(),
            "default",
            &body("dry", web(json!({"clusterIP": "10.96.0.10"}))),
            &WriteOptions { dry_run: true, ..Default::default() },
        )
        .await
        .unwrap_err();
    assert!(dry_taken.message.contains("provided IP is already allocated"), "{dry_taken}");
    assert_eq!((keys(&store, IP_PREFIX).await, keys(&store, PORT_PREFIX).await), before);
    assert!(create(&reg, "late", web(json!({"clusterIP": "10.96.7.7"}))).await.is_ok(), "10.96.7.7 was given back");
}

async fn concurrent_creates_get_distinct_ips(store: Arc<dyn Store>) {
    let reg = registry(store.clone(), ServiceConfig::default()).await;
    let tasks: Vec<_> = (0..50)
        .map(|i| {
            let reg = reg.clone();
            tokio::spawn(async move { create(&reg, &format!("s{i}"), web(json!({"type": "NodePort"}))).await })
        })
        .collect();
    let mut ips = BTreeSet::new();
    let mut ports = BTreeSet::new();
    for t in tasks {
        let svc = t.await.unwrap().unwrap();
        ips.insert(ip(&svc));
        ports.insert(svc["spec"]["ports"][0]["nodePort"].as_i64().unwrap());
    }
    assert_eq!((ips.len(), ports.len()), (50, 50));
    assert_eq!(keys(&store, IP_PREFIX).await.len(), 52);
}

async fn concurrent_requests_for_one_ip_or_port_have_one_winner(store: Arc<dyn Store>) {
    let reg = registry(store.clone(), ServiceConfig::default()).await;
    let race = |spec: Value| {
        let tasks: Vec<_> = (0..20)
            .map(|i| {
                let (reg, spec) = (reg.clone(), spec.clone());
                tokio::spawn(async move { create(&reg, &format!("r{i}"), spec).await.map_err(|e| (i, e)) })
            })
            .collect();
        async move {
            let mut winners = 0;
            let mut errors = Vec::new();
            for t in tasks {
                match t.await.unwrap() {
                    Ok(_) => winners += 1,
                    Err(e) => errors.push(e),
                }
            }
            (winners, errors)
        }
    };
    let (winners, errors) = race(web(json!({"clusterIP": "10.96.3.3"}))).await;
    assert_eq!((winners, errors.len()), (1, 19));
    for (i, e) in errors {
        assert_eq!(
            e.to_string(),
            format!(
                r#"Service "r{i}" is invalid: spec.clusterIPs: Invalid value: []string{{"10.96.3.3"}}: failed to allocate IP 10.96.3.3: provided IP is already allocated"#
            )
        );
    }
    for i in 0..20 {
        let _ = reg.delete(services(), "default", &format!("r{i}"), &DeleteOptions::default()).await;
    }
    let (winners, errors) = race(web(json!({"type": "NodePort", "ports": [{"port": 80, "nodePort": 31234}]}))).await;
    assert_eq!((winners, errors.len()), (1, 19));
    for (i, e) in errors {
        assert_eq!(
            e.to_string(),
            format!(
                r#"Service "r{i}" is invalid: spec.ports[0].nodePort: Invalid value: 31234: provided port is already allocated"#
            )
        );
    }
    // The losers' dynamic IPs were given back: only the winner's remains.
    assert_eq!(keys(&store, IP_PREFIX).await.len(), 3);
}

async fn two_apiservers_never_hand_out_one_ip_twice(store: Arc<dyn Store>) {
    let a = registry(store.clone(), small()).await;
    let b = registry(store.clone(), small()).await;
    let tasks: Vec<_> = (0..12)
        .map(|i| {
            let reg = if i % 2 == 0 { a.clone() } else { b.clone() };
            tokio::spawn(async move { create(&reg, &format!("s{i}"), web(json!({}))).await })
        })
        .collect();
    let mut ips = BTreeSet::new();
    let mut first = None;
    for t in tasks {
        let addr = ip(&t.await.unwrap().unwrap());
        first.get_or_insert(addr);
        ips.insert(addr);
    }
    assert_eq!(ips.len(), 12, "the whole small range, each address once");
    assert!(!ips.contains(&Ipv4Addr::new(10, 0, 0, 1)) && !ips.contains(&Ipv4Addr::new(10, 0, 0, 10)));
    let full = create(&a, "more", web(json!({}))).await.unwrap_err();
    assert_eq!(full.to_string(), "Internal error occurred: failed to allocate a serviceIP: range is full");
    assert_eq!(full.reason, Reason::InternalError);
    // Freed by one apiserver, picked up by the other (its pool is only a hint).
    a.delete(services(), "default", "s0", &DeleteOptions::default()).await.unwrap();
    let again = create(&b, "more", web(json!({}))).await.unwrap();
    assert_eq!(Some(ip(&again)), first, "the only free address is the one s0 gave back");
    assert_eq!(keys(&store, IP_PREFIX).await.len(), 14);
}

async fn node_ports_run_out_with_kubernetes_error(store: Arc<dyn Store>) {
    let reg = registry(store, small()).await;
    for i in 0..10 {
        create(&reg, &format!("n{i}"), web(json!({"type": "NodePort"}))).await.unwrap();
    }
    let full = create(&reg, "n10", web(json!({"type": "NodePort"}))).await.unwrap_err();
    assert_eq!(full.to_string(), "Internal error occurred: failed to allocate a nodePort: range is full");
    reg.delete(services(), "default", "n3", &DeleteOptions::default()).await.unwrap();
    create(&reg, "n10", web(json!({"type": "NodePort"}))).await.unwrap();
}

async fn delete_releases_for_reuse_and_restarts_keep_allocations(store: Arc<dyn Store>) {
    let reg = registry(store.clone(), ServiceConfig::default()).await;
    create(
        &reg,
        "a",
        web(json!({"type": "NodePort", "clusterIP": "10.96.9.9", "ports": [{"port": 80, "nodePort": 30500}]})),
    )
    .await
    .unwrap();
    // A restarted apiserver (a new registry over the same store) sees them.
    let restarted = registry(store.clone(), ServiceConfig::default()).await;
    let taken = create(&restarted, "b", web(json!({"clusterIP": "10.96.9.9"}))).await.unwrap_err();
    assert!(taken.message.contains("provided IP is already allocated"), "{taken}");
    restarted.delete(services(), "default", "a", &DeleteOptions::default()).await.unwrap();
    assert!(!keys(&store, IP_PREFIX).await.contains(&"10.96.9.9".to_string()));
    assert!(keys(&store, PORT_PREFIX).await.is_empty());
    create(
        &restarted,
        "b",
        web(json!({"type": "NodePort", "clusterIP": "10.96.9.9", "ports": [{"port": 80, "nodePort": 30500}]})),
    )
    .await
    .unwrap();
    // A service with a finalizer keeps its IP until it is really gone.
    let patch = serde_json::to_vec(&json!({"metadata": {"finalizers": ["example.com/hold"]}})).unwrap();
    reg.patch(services(), "default", "b", PatchType::Merge, &patch, "", &WriteOptions::default()).await.unwrap();
    reg.delete(services(), "default", "b", &DeleteOptions::default()).await.unwrap();
    assert!(keys(&store, IP_PREFIX).await.contains(&"10.96.9.9".to_string()), "still held while finalizing");
    let done = serde_json::to_vec(&json!({"metadata": {"finalizers": null}})).unwrap();
    reg.patch(services(), "default", "b", PatchType::Merge, &done, "", &WriteOptions::default()).await.unwrap();
    assert!(!keys(&store, IP_PREFIX).await.contains(&"10.96.9.9".to_string()));
    assert!(keys(&store, PORT_PREFIX).await.is_empty());
}

async fn updates_keep_ips_and_move_node_ports_with_the_type(store: Arc<dyn Store>) {
    let reg = registry(store.clone(), ServiceConfig::default()).await;
    let svc = create(&reg, "a", web(json!({}))).await.unwrap();
    let addr = ip(&svc).to_string();
    let mut changed = svc.clone();
    changed["spec"]["clusterIP"] = "10.96.44.44".into();
    let err = reg
        .update(services(), "default", "a", &serde_json::to_vec(&changed).unwrap(), "", &WriteOptions::default())
        .await;
    assert_eq!(
        err.unwrap_err().to_string(),
        r#"Service "a" is invalid: spec.clusterIPs[0]: Invalid value: []string{"10.96.44.44"}: may not change once set"#
    );
    // Replacing with the original manifest (no clusterIP) keeps the IP.
    let replaced = serde_json::to_vec(&json!({"apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "a"}, "spec": web(json!({"ports": [{"port": 81}]}))}))
    .unwrap();
    let kept = reg.update(services(), "default", "a", &replaced, "", &WriteOptions::default()).await.unwrap();
    assert_eq!(kept["spec"]["clusterIP"], addr);

    let to_np = serde_json::to_vec(&json!({"spec": {"type": "NodePort"}})).unwrap();
    let np =
        reg.patch(services(), "default", "a", PatchType::Merge, &to_np, "", &WriteOptions::default()).await.unwrap();
    let port = np["spec"]["ports"][0]["nodePort"].as_i64().expect("a node port");
    assert_eq!(keys(&store, PORT_PREFIX).await, [port.to_string()]);
    // Another nodePort: the new one is taken, the old one freed.
    let mut moved = np.clone();
    moved["spec"]["ports"][0]["nodePort"] = 30999.into();
    reg.update(services(), "default", "a", &serde_json::to_vec(&moved).unwrap(), "", &WriteOptions::default())
        .await
        .unwrap();
    assert_eq!(keys(&store, PORT_PREFIX).await, ["30999"]);
    let to_cip = serde_json::to_vec(&json!({"spec": {"type": "ClusterIP"}})).unwrap();
    let back =
        reg.patch(services(), "default", "a", PatchType::Merge, &to_cip, "", &WriteOptions::default()).await.unwrap();
    assert!(back["spec"]["ports"][0].get("nodePort").is_none() && back["spec"].get("externalTrafficPolicy").is_none());
    assert!(keys(&store, PORT_PREFIX).await.is_empty());
    assert_eq!(back["spec"]["clusterIP"], addr);

    let to_ext = serde_json::to_vec(&json!({"spec": {"type": "ExternalName", "externalName": "example.com"}})).unwrap();
    let ext =
        reg.patch(services(), "default", "a", PatchType::Merge, &to_ext, "", &WriteOptions::default()).await.unwrap();
    assert!(ext["spec"].get("clusterIP").is_none(), "{}", ext["spec"]);
    assert!(!keys(&store, IP_PREFIX).await.contains(&addr));
    let from_ext = serde_json::to_vec(&json!({"spec": {"type": "ClusterIP", "externalName": null}})).unwrap();
    let again =
        reg.patch(services(), "default", "a", PatchType::Merge, &from_ext, "", &WriteOptions::default()).await.unwrap();
    assert!(keys(&store, IP_PREFIX).await.contains(&ip(&again).to_string()));
    // A taken nodePort on update is refused and changes nothing.
    create(&reg, "b", web(json!({"type": "NodePort", "ports": [{"port": 80, "nodePort": 30700}]}))).await.unwrap();
    let steal =
        serde_json::to_vec(&json!({"spec": {"type": "NodePort", "ports": [{"port": 80, "nodePort": 30700}]}})).unwrap();
    let err = reg
        .patch(services(), "default", "a", PatchType::Merge, &steal, "", &WriteOptions::default())
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        r#"Service "a" is invalid: spec.ports[0].nodePort: Invalid value: 30700: provided port is already allocated"#
    );
    assert_eq!(reg.get(services(), "default", "a").await.unwrap()["spec"]["type"], "ClusterIP");
}

async fn repair_removes_leaks_and_restores_missing_keys(store: Arc<dyn Store>) {
    let reg = registry(store.clone(), ServiceConfig::default()).await;
    let svc =
        create(&reg, "a", web(json!({"type": "NodePort", "ports": [{"port": 80, "nodePort": 30100}]}))).await.unwrap();
    // A crash between allocating and writing: a key nobody holds.
    let leak = Owner { namespace: "default".into(), name: "ghost".into(), uid: "u".into(), allocated_at: 0 };
    store.create(&format!("{IP_PREFIX}10.96.8.8"), serde_json::to_vec(&leak).unwrap()).await.unwrap();
    // A fresh leak is left alone: it may be a create in flight.
    let fresh = Owner { allocated_at: jiff::Timestamp::now().as_second(), ..leak.clone() };
    store.create(&format!("{PORT_PREFIX}30200"), serde_json::to_vec(&fresh).unwrap()).await.unwrap();
    // And a key lost for a service that holds the address.
    let own_ip = format!("{IP_PREFIX}{}", ip(&svc));
    store.delete(&own_ip, None).await.unwrap();
    let report = reg.services().repair(REPAIR_GRACE).await.unwrap();
    assert_eq!(report, RepairReport { released: 1, restored: 1, conflicts: 0 });
    assert!(store.get(&own_ip).await.unwrap().is_some());
    assert!(store.get(&format!("{IP_PREFIX}10.96.8.8")).await.unwrap().is_none());
    assert!(store.get(&format!("{PORT_PREFIX}30200")).await.unwrap().is_some());
    assert!(create(&reg, "b", web(json!({"clusterIP": "10.96.8.8"}))).await.is_ok(), "the leaked IP is usable");
    let again = reg.services().repair(Duration::ZERO).await.unwrap();
    assert_eq!(again, RepairReport { released: 1, restored: 0, conflicts: 0 }, "now the old leak goes too");
}

async fn bootstrap_makes_the_system_services_once(store: Arc<dyn Store>) {
    let config = ServiceConfig { advertise_address: "192.0.2.7".parse().unwrap(), port: 7443, ..Default::default() };
    let reg = registry(store.clone(), config.clone()).await;
    let k = reg.get(services(), "default", "kubernetes").await.unwrap();
    assert_eq!(k["spec"]["clusterIP"], "10.96.0.1");
    assert_eq!(k["spec"]["ports"], json!([{"name": "https", "port": 443, "protocol": "TCP", "targetPort": 7443}]));
    assert_eq!(k["metadata"]["labels"], json!({"component": "apiserver", "provider": "kubernetes"}));
    let endpoints = lookup("endpoints").unwrap();
    let ep = reg.get(endpoints, "default", "kubernetes").await.unwrap();
    assert_eq!(
        ep["subsets"],
        json!([{"addresses": [{"ip": "192.0.2.7"}], "ports": [{"name": "https", "port": 7443, "protocol": "TCP"}]}])
    );
    let dns = reg.get(services(), "kube-system", "kube-dns").await.unwrap();
    assert_eq!(dns["spec"]["clusterIP"], "10.96.0.10");
    assert_eq!(dns["spec"]["ports"][0], json!({"name": "dns", "port": 53, "protocol": "UDP", "targetPort": 53}));
    assert_eq!(dns["spec"]["ports"][1], json!({"name": "dns-tcp", "port": 53, "protocol": "TCP", "targetPort": 53}));
    assert_eq!(dns["metadata"]["labels"], json!({"k8s-app": "kube-dns", "kubernetes.io/name": "KubeDNS"}));
    assert!(dns["spec"].get("selector").is_none());

    // A restart changes nothing; a new advertise address moves the Endpoints.
    let again = registry(store.clone(), config.clone()).await;
    let same = again.get(services(), "default", "kubernetes").await.unwrap();
    assert_eq!(meta::resource_version(&same), meta::resource_version(&k));
    assert_eq!(
        meta::resource_version(&again.get(endpoints, "default", "kubernetes").await.unwrap()),
        meta::resource_version(&ep)
    );
    let moved = ServiceConfig { advertise_address: "192.0.2.8".parse().unwrap(), port: 8443, ..config };
    let third = registry(store.clone(), moved).await;
    let ep = third.get(endpoints, "default", "kubernetes").await.unwrap();
    assert_eq!(ep["subsets"][0]["addresses"], json!([{"ip": "192.0.2.8"}]));
    assert_eq!(ep["subsets"][0]["ports"][0]["port"], 8443);
    let k = third.get(services(), "default", "kubernetes").await.unwrap();
    assert_eq!(
        (k["spec"]["ports"][0]["targetPort"].clone(), k["spec"]["clusterIP"].clone()),
        (json!(8443), json!("10.96.0.1"))
    );
    assert_eq!(keys(&store, IP_PREFIX).await, ["10.96.0.1", "10.96.0.10"]);
}

/// Runs each case against a fresh memory store and a fresh etcd.
macro_rules! on_both_stores {
    ($($case:ident),* $(,)?) => {
        mod mem {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    super::$case(std::sync::Arc::new(super::MemStore::new())).await;
                }
            )*
        }
        mod etcd {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let etcd = super::TestEtcd::start().await.expect("start etcd");
                    super::$case(std::sync::Arc::new(etcd.store().await)).await;
                }
            )*
        }
    };
}

on_both_stores!(
    create_fills_in_cluster_ip_families_and_node_ports,
    requested_ips_and_ports_are_honoured_or_refused_with_kubernetes_errors,
    failed_and_dry_run_creates_keep_nothing,
    concurrent_creates_get_distinct_ips,
    concurrent_requests_for_one_ip_or_port_have_one_winner,
    two_apiservers_never_hand_out_one_ip_twice,
    node_ports_run_out_with_kubernetes_error,
    delete_releases_for_reuse_and_restarts_keep_allocations,
    updates_keep_ips_and_move_node_ports_with_the_type,
    repair_removes_leaks_and_restores_missing_keys,
    bootstrap_makes_the_system_services_once,
);
