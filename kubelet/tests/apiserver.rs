//! The kubelet against a real (in-process, in-memory) apiserver: node
//! registration, status and lease; pods run over the fake runtime with their
//! status, events and graceful deletion going through the API; and the node
//! agent's gRPC service.

use client::{Client, DeleteParams, ListParams};
use kubelet::api::ClientApi;
use kubelet::node::{HostInfo, Node, NodeConfig};
use kubelet::pods::{backoff, Kubelet, Settings};
use kubelet::runtime::fake::{FakeRuntime, Program};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

fn res(name: &str) -> &'static api::ResourceInfo {
    api::registry::lookup(name).unwrap()
}

async fn apiserver() -> Client {
    apiserver::testing::InMemoryApiServer::start().await.client
}

async fn eventually<T>(what: &str, mut f: impl AsyncFnMut() -> Option<T>) -> T {
    for _ in 0..200 {
        if let Some(v) = f().await {
            return v;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting for {what}");
}

fn kubelet(fake: Arc<FakeRuntime>, client: &Client, node: &str) -> (Kubelet, Arc<ClientApi>) {
    let settings = Settings {
        node_name: node.into(),
        node_ip: "172.18.0.2".into(),
        pause_image: "kubelab/pause:latest".into(),
        backoff: backoff::Policy::default(),
        relist_period: Duration::from_millis(100),
        resync_period: Duration::from_secs(60),
        runtime_name: "docker",
        node_cpu_millis: 2000,
        node_memory_bytes: 4 << 30,
        root_dir: std::env::temp_dir().join(format!("kubelab-apiserver-tests-{}", std::process::id())).join(node),
        shared: Default::default(),
    };
    let api = Arc::new(ClientApi::new(client.clone(), node));
    let clock = fake.clock();
    (Kubelet::new(settings, fake, api.clone(), clock), api)
}

fn node_config(name: &str) -> NodeConfig {
    NodeConfig {
        name: name.into(),
        labels: BTreeMap::from([("disk".to_string(), "ssd".to_string())]),
        ip: "172.18.0.2".into(),
        hostname: name.into(),
        port: 10250,
        cpu: "2".into(),
        memory: "4Gi".into(),
        max_pods: 110,
        host: HostInfo {
            kernel_version: "6.1.0".into(),
            os_image: "Debian GNU/Linux 12 (bookworm)".into(),
            machine_id: "m1".into(),
            boot_id: "b1".into(),
            architecture: "amd64".into(),
        },
        status_update_frequency: Duration::from_millis(100),
        status_report_frequency: Duration::from_secs(300),
        lease_duration_seconds: 40,
        lease_renew_interval: Duration::from_millis(200),
    }
}

async fn events_about(client: &Client, name: &str) -> Vec<(String, String)> {
    let list = client.list(res("events"), "", &ListParams::default()).await.unwrap();
    list["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["involvedObject"]["name"] == name)
        .map(|e| (e["reason"].as_str().unwrap().to_string(), e["message"].as_str().unwrap().to_string()))
        .collect()
}

#[tokio::test]
async fn registers_the_node_with_status_and_renews_its_lease() {
    let client = apiserver().await;
    let fake = Arc::new(FakeRuntime::new());
    let (k, api) = kubelet(fake.clone(), &client, "node1");
    let node = Node::new(client.clone(), node_config("node1"), k, api, fake.clock());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(node.run(async move {
        let _ = stopped.await;
    }));

    let registered = eventually("the node", async || {
        let n = client.get(res("nodes"), "", "node1").await.ok()?;
        n["status"]["conditions"].is_array().then_some(n)
    })
    .await;
    let labels = &registered["metadata"]["labels"];
    assert_eq!(labels["kubernetes.io/hostname"], "node1");
    assert_eq!(labels["kubernetes.io/os"], "linux");
    assert_eq!(labels["kubernetes.io/arch"], "amd64");
    assert_eq!(labels["disk"], "ssd", "--node-labels");
    let status = &registered["status"];
    assert_eq!(status["capacity"], json!({"cpu": "2", "memory": "4Gi", "pods": "110"}));
    assert_eq!(status["allocatable"], status["capacity"]);
    assert_eq!(
        status["addresses"],
        json!([{"type": "InternalIP", "address": "172.18.0.2"}, {"type": "Hostname", "address": "node1"}])
    );
    assert_eq!(status["daemonEndpoints"]["kubeletEndpoint"]["Port"], 10250);
    assert_eq!(status["nodeInfo"]["kubeletVersion"], "v1.34.0-kubelab");
    assert_eq!(status["nodeInfo"]["containerRuntimeVersion"], "fake://0.1.0");
    assert_eq!(status["nodeInfo"]["operatingSystem"], "linux");
    let conditions: Vec<(String, String, String)> = status["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["type"].as_str().unwrap().into(),
                c["status"].as_str().unwrap().into(),
                c["reason"].as_str().unwrap().into(),
            )
        })
        .collect();
    let expected = [
        ("MemoryPressure", "False", "KubeletHasSufficientMemory"),
        ("DiskPressure", "False", "KubeletHasNoDiskPressure"),
        ("PIDPressure", "False", "KubeletHasSufficientPID"),
        ("Ready", "True", "KubeletReady"),
    ];
    let expected: Vec<(String, String, String)> =
        expected.iter().map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string())).collect();
    assert_eq!(conditions, expected);
    let ready = &status["conditions"][3];
    assert_eq!(ready["message"], "kubelet is posting ready status");
    assert!(ready["lastHeartbeatTime"].is_string() && ready["lastTransitionTime"].is_string());

    let lease =
        eventually("the lease", async || client.get(res("leases"), "kube-node-lease", "node1").await.ok()).await;
    assert_eq!(lease["spec"]["holderIdentity"], "node1");
    assert_eq!(lease["spec"]["leaseDurationSeconds"], 40);
    let renew = lease["spec"]["renewTime"].as_str().unwrap().to_string();
    assert_eq!(renew.len(), "2021-10-27T07:33:55.123456Z".len(), "a MicroTime: {renew}");
    assert_eq!(lease["metadata"]["ownerReferences"][0]["uid"], registered["metadata"]["uid"]);
    eventually("a renewal", async || {
        let l = client.get(res("leases"), "kube-node-lease", "node1").await.ok()?;
        (l["spec"]["renewTime"].as_str()? > renew.as_str()).then_some(())
    })
    .await;

    // An unchanged status is not rewritten at every update tick.
    let rv = client.get(res("nodes"), "", "node1").await.unwrap()["metadata"]["resourceVersion"].clone();
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(client.get(res("nodes"), "", "node1").await.unwrap()["metadata"]["resourceVersion"], rv);

    let events = eventually("node events", async || {
        let e = events_about(&client, "node1").await;
        (e.len() >= 5).then_some(e)
    })
    .await;
    for (reason, message) in [
        ("Starting", "Starting kubelet."),
        ("NodeHasSufficientMemory", "Node node1 status is now: NodeHasSufficientMemory"),
        ("NodeHasNoDiskPressure", "Node node1 status is now: NodeHasNoDiskPressure"),
        ("NodeHasSufficientPID", "Node node1 status is now: NodeHasSufficientPID"),
        ("NodeReady", "Node node1 status is now: NodeReady"),
    ] {
        assert!(events.contains(&(reason.to_string(), message.to_string())), "{events:?}");
    }
    let _ = stop.send(());
    task.await.unwrap();
}

#[tokio::test]
async fn a_runtime_going_down_makes_the_node_not_ready() {
    let client = apiserver().await;
    let fake = Arc::new(FakeRuntime::new());
    let (k, api) = kubelet(fake.clone(), &client, "node3");
    let relist = {
        let k = k.clone();
        tokio::spawn(async move { k.run_relist(std::future::pending()).await })
    };
    let node = Node::new(client.clone(), node_config("node3"), k, api, fake.clock());
    tokio::spawn(node.run(std::future::pending()));
    let ready = async || {
        let n = client.get(res("nodes"), "", "node3").await.ok()?;
        n["status"]["conditions"].as_array()?.iter().find(|c| c["type"] == "Ready")?["status"]
            .as_str()
            .map(String::from)
    };
    eventually("Ready", async || (ready().await? == "True").then_some(())).await;
    fake.set_unreachable(true);
    eventually("NotReady", async || (ready().await? == "False").then_some(())).await;
    let n = client.get(res("nodes"), "", "node3").await.unwrap();
    let c = n["status"]["conditions"].as_array().unwrap().iter().find(|c| c["type"] == "Ready").unwrap().clone();
    assert_eq!(
        (c["reason"].as_str(), c["message"].as_str()),
        (Some("KubeletNotReady"), Some("container runtime is down"))
    );
    relist.abort();
}

#[tokio::test]
async fn registering_again_keeps_what_others_added() {
    let client = apiserver().await;
    let existing = json!({
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": "node2", "labels": {"gpu": "true", "kubernetes.io/hostname": "old"}},
        "spec": {"taints": [{"key": "dedicated", "value": "ml", "effect": "NoSchedule"}]},
    });
    client.create(res("nodes"), "", &existing).await.unwrap();
    let fake = Arc::new(FakeRuntime::new());
    let (k, api) = kubelet(fake.clone(), &client, "node2");
    let node = Node::new(client.clone(), node_config("node2"), k, api, fake.clock());
    let registered = serde_json::to_value(node.register().await.unwrap()).unwrap();
    let labels = &registered["metadata"]["labels"];
    assert_eq!(labels["gpu"], "true", "a label someone added stays");
    assert_eq!(labels["kubernetes.io/hostname"], "node2", "the kubelet's own labels are set");
    assert_eq!(labels["disk"], "ssd");
    assert_eq!(registered["spec"]["taints"][0]["key"], "dedicated");
    assert_eq!(registered["status"]["conditions"].as_array().unwrap().len(), 4);
}

fn pod(name: &str, node: &str) -> Value {
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {
            "nodeName": node,
            "terminationGracePeriodSeconds": 5,
            "containers": [{"name": "kubia", "image": "luksa/kubia:v1", "ports": [{"containerPort": 8080}]}],
        },
    })
}

#[tokio::test]
async fn pods_run_and_are_deleted_through_the_api() {
    let client = apiserver().await;
    let fake = Arc::new(FakeRuntime::new());
    fake.script("kubia", "kubia", vec![Program { output: "Kubia server starting...\n".into(), ..Program::forever() }]);
    let (k, _api) = kubelet(fake.clone(), &client, "node1");
    tokio::spawn({
        let k = k.clone();
        async move { k.run_relist(std::future::pending()).await }
    });
    tokio::spawn(kubelet::watch_pods(client.clone(), k.clone(), std::future::pending()));
    let pods = res("pods");
    client.create(pods, "default", &pod("kubia", "node1")).await.unwrap();
    client.create(pods, "default", &pod("elsewhere", "node9")).await.unwrap();

    let running = eventually("Running", async || {
        let p = client.get(pods, "default", "kubia").await.ok()?;
        (p["status"]["phase"] == "Running" && p["status"]["containerStatuses"][0]["ready"] == true).then_some(p)
    })
    .await;
    let status = &running["status"];
    assert_eq!(status["hostIP"], "172.18.0.2");
    assert!(status["podIP"].is_string());
    assert_eq!(status["qosClass"], "BestEffort", "fields the kubelet does not own stay");
    let types: Vec<&str> =
        status["conditions"].as_array().unwrap().iter().map(|c| c["type"].as_str().unwrap()).collect();
    assert_eq!(types, ["PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady", "PodScheduled"]);
    assert_eq!(fake.ops_of("start", "elsewhere").len(), 0, "pods of other nodes are not run");

    let events = eventually("events", async || {
        let e = events_about(&client, "kubia").await;
        (e.len() >= 3).then_some(e)
    })
    .await;
    assert!(events.contains(&("Created".into(), "Created container: kubia".into())), "{events:?}");
    assert!(events.contains(&("Started".into(), "Started container kubia".into())), "{events:?}");

    // The node agent serves the pod's logs and exec.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(kubelet::server::service(k.clone()))
            .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener)),
    );
    let mut agent = proto::node_agent_client::NodeAgentClient::connect(format!("http://{addr}")).await.unwrap();
    let logs = agent
        .logs(proto::LogsRequest {
            namespace: "default".into(),
            pod: "kubia".into(),
            tail_lines: -1,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let chunks: Vec<proto::LogChunk> =
        futures::StreamExt::collect::<Vec<_>>(logs).await.into_iter().map(Result::unwrap).collect();
    let text: String = chunks.iter().map(|c| String::from_utf8_lossy(&c.data).into_owned()).collect();
    assert_eq!(text, "Kubia server starting...\n");
    let previous = agent
        .logs(proto::LogsRequest {
            namespace: "default".into(),
            pod: "kubia".into(),
            previous: true,
            tail_lines: -1,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(previous.message(), "previous terminated container \"kubia\" in pod \"kubia\" not found");
    let start = proto::ExecInput {
        input: Some(proto::exec_input::Input::Start(proto::ExecStart {
            namespace: "default".into(),
            pod: "kubia".into(),
            command: vec!["hostname".into()],
            ..Default::default()
        })),
    };
    let out = agent.exec(futures::stream::iter([start])).await.unwrap().into_inner();
    let out: Vec<proto::ExecOutput> =
        futures::StreamExt::collect::<Vec<_>>(out).await.into_iter().map(Result::unwrap).collect();
    assert_eq!(out.last().unwrap().output, Some(proto::exec_output::Output::ExitCode(0)));
    assert_eq!(out[0].output, Some(proto::exec_output::Output::Stdout(b"hostname\n".to_vec())));

    // A graceful delete: the kubelet stops the containers, then removes the pod object.
    let deleting = client.delete(pods, "default", "kubia", &DeleteParams::default()).await.unwrap();
    assert!(deleting["metadata"]["deletionTimestamp"].is_string(), "the pod is bound, so deletion is graceful");
    eventually("the pod gone", async || client.get(pods, "default", "kubia").await.err().filter(|e| e.is_not_found()))
        .await;
    let stops = fake.ops_of("stop", "kubia");
    assert!(!stops.is_empty());
    assert_eq!(stops[0].grace, Some(Duration::from_secs(5)));
    eventually("containers removed", async || fake.containers().iter().all(|c| c.0 != "kubia").then_some(())).await;
    let events = events_about(&client, "kubia").await;
    assert!(events.contains(&("Killing".into(), "Stopping container kubia".into())), "{events:?}");
}

#[tokio::test]
async fn lease_renewals_survive_someone_else_writing_the_lease() {
    let client = apiserver().await;
    let fake = Arc::new(FakeRuntime::new());
    let (k, api) = kubelet(fake.clone(), &client, "node4");
    let node = Node::new(client.clone(), node_config("node4"), k, api, fake.clock());
    let registered = node.register().await.unwrap();
    let mut cached = None;
    node.renew_lease(&registered, &mut cached).await.unwrap();
    let first = client.get(res("leases"), "kube-node-lease", "node4").await.unwrap();
    // Another writer moves the lease on; the cached copy is now stale.
    let mut other = first.clone();
    other["metadata"]["labels"] = json!({"touched": "yes"});
    client.update(res("leases"), "kube-node-lease", &other).await.unwrap();
    tokio::time::sleep(Duration::from_millis(5)).await;
    node.renew_lease(&registered, &mut cached).await.unwrap();
    let second = client.get(res("leases"), "kube-node-lease", "node4").await.unwrap();
    assert!(second["spec"]["renewTime"].as_str() > first["spec"]["renewTime"].as_str());
    assert_eq!(second["metadata"]["labels"]["touched"], "yes");
}
