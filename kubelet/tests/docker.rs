//! The kubelet on the local Docker engine, with a real (in-process) apiserver:
//! pods of pause + busybox containers, shared localhost, pod-to-pod traffic by
//! IP, probes, restarts and `logs --previous`, exec, port-forward, resource
//! limits, graceful deletion, and a restarted kubelet that adopts what runs;
//! and the Docker runtime against the runtime conformance suite the fake passes.
//!
//! The images are built here from Debian's busybox-static (`/bin/busybox`,
//! which deploy/install-deps.sh installs) when absent, since no registry is
//! reachable. Each test uses its own Docker network and node name, and removes
//! every container and network it made, even when it fails. Without a Docker
//! engine these tests fail: they are part of CI.

use client::{Client, DeleteParams};
use futures::StreamExt;
use kubelet::api::ClientApi;
use kubelet::clock::Clock;
use kubelet::pods::{backoff, Kubelet, Settings};
use kubelet::runtime::conformance::{self, Script, Subject};
use kubelet::runtime::docker::DockerRuntime;
use kubelet::runtime::{ContainerConfig, Runtime};
use serde_json::{json, Value};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

const BUSYBOX: &str = "kubelab-test/busybox:latest";
const PAUSE: &str = "kubelab-test/pause:latest";

fn docker(args: &[&str]) -> std::process::Output {
    Command::new("docker").args(args).output().expect("the docker CLI runs")
}

/// Builds the test images from /bin/busybox unless they exist (once per process).
fn ensure_images() {
    static BUILT: Mutex<bool> = Mutex::new(false);
    let mut built = BUILT.lock().unwrap_or_else(|p| p.into_inner());
    if *built {
        return;
    }
    let version = docker(&["version", "--format", "{{.Server.Version}}"]);
    assert!(version.status.success(), "these tests need a Docker engine: {}", String::from_utf8_lossy(&version.stderr));
    for (image, dockerfile) in [
        (BUSYBOX, "FROM scratch\nCOPY bin /bin\nCOPY www /www\nENV PATH=/bin\nCMD [\"sh\"]\n"),
        // A pause that exits at once on SIGTERM, as Kubernetes' does.
        (
            PAUSE,
            "FROM scratch\nCOPY bin /bin\nENV PATH=/bin\n\
             ENTRYPOINT [\"/bin/sh\", \"-c\", \"trap 'exit 0' TERM INT; while :; do sleep 3600 & wait $!; done\"]\n",
        ),
    ] {
        if docker(&["image", "inspect", image]).status.success() {
            continue;
        }
        let dir = tempfile::tempdir().unwrap();
        let bin = dir.path().join("bin");
        std::fs::create_dir_all(&bin).unwrap();
        std::fs::copy("/bin/busybox", bin.join("busybox"))
            .expect("/bin/busybox is missing: install busybox-static (deploy/install-deps.sh)");
        for tool in ["sh", "sleep", "echo", "hostname", "wget", "httpd", "cat", "env", "ls", "nc", "true", "kill"] {
            std::os::unix::fs::symlink("busybox", bin.join(tool)).unwrap();
        }
        std::fs::create_dir_all(dir.path().join("www")).unwrap();
        std::fs::write(dir.path().join("www/index.html"), "hello from kubelab\n").unwrap();
        std::fs::write(dir.path().join("Dockerfile"), dockerfile).unwrap();
        let out = docker(&["build", "-q", "-t", image, dir.path().to_str().unwrap()]);
        assert!(out.status.success(), "building {image}: {}", String::from_utf8_lossy(&out.stderr));
    }
    *built = true;
}

/// A Docker network and node name for one test; removes everything on drop.
struct Sandbox {
    network: String,
    node: String,
}

impl Sandbox {
    fn new(test: &str) -> Self {
        ensure_images();
        let suffix = format!("{}-{}", std::process::id(), test);
        let sandbox = Self { network: format!("kubelab-test-{suffix}"), node: format!("docker-{suffix}") };
        let out = docker(&["network", "create", &sandbox.network]);
        assert!(out.status.success(), "creating the test network: {}", String::from_utf8_lossy(&out.stderr));
        sandbox
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        // The conformance suite also makes containers of a twin node.
        for node in [self.node.clone(), conformance::other_node(&self.node)] {
            let label = format!("label=kubelab.node={node}");
            let ids = docker(&["ps", "-aq", "--filter", &label]);
            for id in String::from_utf8_lossy(&ids.stdout).split_whitespace() {
                docker(&["rm", "-f", "-v", id]);
            }
        }
        docker(&["network", "rm", &self.network]);
    }
}

/// The Docker runtime for the conformance suite: scripts become busybox shell.
struct DockerSubject {
    runtime: Arc<DockerRuntime>,
    node: String,
}

impl Subject for DockerSubject {
    fn runtime(&self) -> Arc<dyn Runtime> {
        self.runtime.clone()
    }
    fn node(&self) -> String {
        self.node.clone()
    }
    fn pause_image(&self) -> String {
        PAUSE.into()
    }
    fn image(&self) -> String {
        BUSYBOX.into()
    }
    fn missing_image(&self) -> String {
        "kubelab-test/no-such-image:never".into()
    }
    fn program(&self, config: &mut ContainerConfig, script: &Script) {
        // PID 1 ignores SIGTERM unless it traps it; `sleep & wait` lets the trap run at once.
        let mut sh = String::new();
        if script.exits_on_sigterm {
            sh.push_str("trap 'exit 143' TERM; ");
        }
        for line in &script.output {
            sh.push_str(&format!("echo '{line}'; "));
        }
        match script.exit {
            Some((after, code)) => sh.push_str(&format!("sleep {} & wait $!; exit {code}", after.as_secs())),
            None => sh.push_str("while :; do sleep 1 & wait $!; done"),
        }
        config.entrypoint = Some(vec!["sh".into(), "-c".into(), sh]);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_docker_runtime_passes_the_runtime_conformance_suite() {
    let sandbox = Sandbox::new("conformance");
    let runtime = DockerRuntime::connect("unix:///var/run/docker.sock", &sandbox.network).await.unwrap();
    let subject = DockerSubject { runtime: Arc::new(runtime), node: sandbox.node.clone() };
    conformance::run_all(&subject).await;
    let left = docker(&["ps", "-aq", "--filter", &format!("label=kubelab.node={}", sandbox.node)]);
    assert!(String::from_utf8_lossy(&left.stdout).trim().is_empty(), "every case removes what it made");
}

fn res(name: &str) -> &'static api::ResourceInfo {
    api::registry::lookup(name).unwrap()
}

async fn apiserver() -> Client {
    apiserver::testing::InMemoryApiServer::start().await.client
}

/// A running kubelet (pods, relist, node agent) over Docker.
struct Running {
    kubelet: Kubelet,
    stop: tokio::sync::watch::Sender<bool>,
    agent: String,
}

impl Running {
    fn shutdown(self) {
        let _ = self.stop.send(true);
        self.kubelet.shutdown();
    }
}

async fn start_kubelet(sandbox: &Sandbox, client: &Client) -> Running {
    // The kubelet's log shows with a failing test's output.
    let _ = tracing_subscriber::fmt().with_test_writer().with_env_filter("kubelet=info").try_init();
    let runtime = DockerRuntime::connect("unix:///var/run/docker.sock", &sandbox.network).await.unwrap();
    let gateway = runtime.network_gateway().await.unwrap().unwrap();
    let settings = Settings {
        node_name: sandbox.node.clone(),
        node_ip: gateway,
        pause_image: PAUSE.into(),
        backoff: backoff::Policy { initial: Duration::from_secs(1), max: Duration::from_secs(4) },
        relist_period: Duration::from_millis(300),
        resync_period: Duration::from_secs(10),
        runtime_name: runtime.name(),
        node_cpu_millis: 2000,
        node_memory_bytes: 4 << 30,
        // The engine runs on this machine: it binds what the kubelet made here.
        root_dir: std::env::temp_dir().join("kubelab-docker-tests").join(&sandbox.node),
        shared: Default::default(),
    };
    let api = Arc::new(ClientApi::new(client.clone(), &sandbox.node));
    let kubelet = Kubelet::new(settings, Arc::new(runtime), api, Clock::system());
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let until = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|s| *s).await;
    };
    tokio::spawn({
        let k = kubelet.clone();
        let s = until(stopped.clone());
        async move { k.run_relist(s).await }
    });
    tokio::spawn(kubelet::watch_pods(client.clone(), kubelet.clone(), until(stopped.clone())));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let agent = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(kubelet::server::service(kubelet.clone()))
            .serve_with_incoming_shutdown(tokio_stream::wrappers::TcpListenerStream::new(listener), until(stopped)),
    );
    Running { kubelet, stop, agent }
}

async fn eventually<T>(what: &str, secs: u64, mut f: impl AsyncFnMut() -> Option<T>) -> T {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    while tokio::time::Instant::now() < deadline {
        if let Some(v) = f().await {
            return v;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("timed out after {secs}s waiting for {what}");
}

async fn wait_ready(client: &Client, name: &str) -> Value {
    eventually(&format!("{name} Ready"), 60, async || {
        let p = client.get(res("pods"), "default", name).await.ok()?;
        let ready = p["status"]["conditions"].as_array()?.iter().any(|c| c["type"] == "Ready" && c["status"] == "True");
        ready.then_some(p)
    })
    .await
}

type Agent = proto::node_agent_client::NodeAgentClient<tonic::transport::Channel>;

async fn exec(agent: &mut Agent, pod: &str, container: &str, command: &[&str]) -> (i32, String) {
    let start = proto::ExecInput {
        input: Some(proto::exec_input::Input::Start(proto::ExecStart {
            namespace: "default".into(),
            pod: pod.into(),
            container: container.into(),
            command: command.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        })),
    };
    let mut out = agent.exec(futures::stream::iter([start])).await.unwrap().into_inner();
    let (mut code, mut text) = (-1, String::new());
    while let Some(msg) = out.next().await {
        match msg.unwrap().output {
            Some(proto::exec_output::Output::Stdout(b) | proto::exec_output::Output::Stderr(b)) => {
                text.push_str(&String::from_utf8_lossy(&b))
            }
            Some(proto::exec_output::Output::ExitCode(c)) => code = c,
            None => {}
        }
    }
    (code, text)
}

async fn logs(agent: &mut Agent, pod: &str, container: &str, previous: bool) -> Result<String, tonic::Status> {
    let req = proto::LogsRequest {
        namespace: "default".into(),
        pod: pod.into(),
        container: container.into(),
        previous,
        tail_lines: -1,
        ..Default::default()
    };
    let mut stream = agent.logs(req).await?.into_inner();
    let mut text = String::new();
    while let Some(chunk) = stream.next().await {
        text.push_str(&String::from_utf8_lossy(&chunk?.data));
    }
    Ok(text)
}

fn web_pod(name: &str) -> Value {
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {
            "terminationGracePeriodSeconds": 3,
            "containers": [
                {
                    "name": "server",
                    "image": BUSYBOX,
                    "command": ["sh", "-c"],
                    "args": ["echo serving as $(hostname) with POD_IP=$POD_IP; exec httpd -f -p 8080 -h /www"],
                    "env": [{"name": "POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}}],
                    "ports": [{"name": "http", "containerPort": 8080}],
                    "readinessProbe": {"httpGet": {"path": "/index.html", "port": "http"}, "periodSeconds": 1},
                    "livenessProbe": {"tcpSocket": {"port": 8080}, "periodSeconds": 2},
                    "resources": {"limits": {"memory": "64Mi", "cpu": "500m"}},
                },
                {
                    "name": "sidecar",
                    "image": BUSYBOX,
                    "imagePullPolicy": "Always",
                    "command": ["sleep", "3600"],
                    "workingDir": "/www",
                },
            ],
        },
    })
}

fn bind(mut pod: Value, node: &str) -> Value {
    pod["spec"]["nodeName"] = node.into();
    pod
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pods_run_on_docker_with_a_shared_network_namespace() {
    let sandbox = Sandbox::new("net");
    let client = apiserver().await;
    let running = start_kubelet(&sandbox, &client).await;
    let pods = res("pods");
    client.create(pods, "default", &bind(web_pod("web1"), &sandbox.node)).await.unwrap();
    client.create(pods, "default", &bind(web_pod("web2"), &sandbox.node)).await.unwrap();
    let web1 = wait_ready(&client, "web1").await;
    let web2 = wait_ready(&client, "web2").await;
    let (ip1, ip2) = (web1["status"]["podIP"].as_str().unwrap(), web2["status"]["podIP"].as_str().unwrap());
    assert_ne!(ip1, ip2, "every pod has its own IP");
    assert_eq!(web1["status"]["phase"], "Running");
    let cs = &web1["status"]["containerStatuses"];
    assert!(cs[0]["containerID"].as_str().unwrap().starts_with("docker://"));
    assert!(cs[0]["imageID"].as_str().unwrap().starts_with("docker://sha256:"), "{cs}");

    let mut agent = Agent::connect(running.agent.clone()).await.unwrap();
    // Containers of a pod share localhost and the pod's hostname; both pods listen on 8080.
    let (code, page) = exec(&mut agent, "web1", "sidecar", &["wget", "-qO-", "http://127.0.0.1:8080/"]).await;
    assert_eq!((code, page.as_str()), (0, "hello from kubelab\n"));
    assert_eq!(exec(&mut agent, "web1", "sidecar", &["hostname"]).await.1, "web1\n");
    assert_eq!(exec(&mut agent, "web1", "sidecar", &["sh", "-c", "pwd"]).await.1, "/www\n", "workingDir");
    // Pods reach each other by IP.
    let url = format!("http://{ip2}:8080/");
    assert_eq!(exec(&mut agent, "web1", "sidecar", &["wget", "-qO-", &url]).await.1, "hello from kubelab\n");
    assert_eq!(exec(&mut agent, "web1", "sidecar", &["sh", "-c", "exit 7"]).await.0, 7);
    // Logs, with the environment Kubernetes promises.
    let text = logs(&mut agent, "web1", "server", false).await.unwrap();
    assert_eq!(text, format!("serving as web1 with POD_IP={ip1}\n"));
    let err = logs(&mut agent, "web1", "", false).await.unwrap_err();
    assert_eq!(err.message(), "a container name must be specified for pod web1, choose one of: [server sidecar]");

    // Limits reach Docker.
    let id = cs[0]["containerID"].as_str().unwrap().trim_start_matches("docker://").to_string();
    let inspect = docker(&["inspect", "--format", "{{.HostConfig.Memory}} {{.HostConfig.NanoCpus}}", &id]);
    assert_eq!(String::from_utf8_lossy(&inspect.stdout).trim(), "67108864 500000000");

    // Port-forward: concurrent connections, each its own stream.
    let mut tasks = Vec::new();
    for _ in 0..3 {
        let mut agent = agent.clone();
        tasks.push(tokio::spawn(async move {
            let (tx, rx) = tokio::sync::mpsc::channel(4);
            tx.send(proto::PortForwardFrame {
                start: Some(proto::PortForwardStart { namespace: "default".into(), pod: "web1".into(), port: 8080 }),
                data: b"GET /index.html HTTP/1.0\r\n\r\n".to_vec(),
                close: false,
            })
            .await
            .unwrap();
            let mut frames =
                agent.port_forward(tokio_stream::wrappers::ReceiverStream::new(rx)).await.unwrap().into_inner();
            let mut response = Vec::new();
            while let Some(f) = frames.next().await {
                let f = f.unwrap();
                response.extend_from_slice(&f.data);
                if f.close {
                    break;
                }
            }
            drop(tx);
            String::from_utf8_lossy(&response).into_owned()
        }));
    }
    for t in tasks {
        let response = t.await.unwrap();
        assert!(response.starts_with("HTTP/1.1 200 OK"), "{response}");
        assert!(response.ends_with("hello from kubelab\n"), "{response}");
    }

    // A graceful delete removes the pod object and every container of it.
    client.delete(pods, "default", "web2", &DeleteParams::default()).await.unwrap();
    eventually("web2 gone", 30, async || client.get(pods, "default", "web2").await.err()).await;
    let node_label = format!("label=kubelab.node={}", sandbox.node);
    let left = docker(&["ps", "-aq", "--filter", "label=io.kubernetes.pod.name=web2", "--filter", &node_label]);
    assert!(String::from_utf8_lossy(&left.stdout).trim().is_empty(), "web2's containers are removed");
    running.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crashes_restart_and_a_restarted_kubelet_adopts_running_pods() {
    let sandbox = Sandbox::new("restart");
    let client = apiserver().await;
    let running = start_kubelet(&sandbox, &client).await;
    let pods = res("pods");
    let crash = json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "crash", "namespace": "default"},
        "spec": {"nodeName": sandbox.node, "containers": [{
            "name": "main", "image": BUSYBOX, "command": ["sh", "-c", "echo run at $(date +%s%N); sleep 1; exit 3"],
        }]},
    });
    client.create(pods, "default", &crash).await.unwrap();
    let mut bad = crash.clone();
    bad["metadata"]["name"] = "badcmd".into();
    bad["spec"]["containers"][0]["command"] = json!(["/no/such/program"]);
    client.create(pods, "default", &bad).await.unwrap();
    client.create(pods, "default", &bind(web_pod("steady"), &sandbox.node)).await.unwrap();
    client.create(pods, "default", &bind(web_pod("doomed"), &sandbox.node)).await.unwrap();
    let crashed = eventually("a restart", 60, async || {
        let p = client.get(pods, "default", "crash").await.ok()?;
        let cs = &p["status"]["containerStatuses"][0];
        (cs["restartCount"].as_i64()? >= 1 && cs["lastState"]["terminated"]["exitCode"] == 3).then_some(p)
    })
    .await;
    assert_eq!(crashed["status"]["phase"], "Running");
    // A command that cannot start is a StartError, and crash-loops like a crash.
    let failed = eventually("a StartError", 60, async || {
        let p = client.get(pods, "default", "badcmd").await.ok()?;
        let cs = p["status"]["containerStatuses"][0].clone();
        (cs["state"]["waiting"]["reason"] == "CrashLoopBackOff").then_some(cs)
    })
    .await;
    let last = &failed["lastState"]["terminated"];
    assert_eq!(last["reason"], "StartError", "{failed}");
    assert!(last["message"].as_str().unwrap().contains("/no/such/program"), "{failed}");
    let mut agent = Agent::connect(running.agent.clone()).await.unwrap();
    let previous = logs(&mut agent, "crash", "main", true).await.unwrap();
    assert!(previous.starts_with("run at "), "{previous}");
    eventually("CrashLoopBackOff", 30, async || {
        let p = client.get(pods, "default", "crash").await.ok()?;
        (p["status"]["containerStatuses"][0]["state"]["waiting"]["reason"] == "CrashLoopBackOff").then_some(())
    })
    .await;

    wait_ready(&client, "doomed").await;
    let steady_before = wait_ready(&client, "steady").await;
    let started = |name: &str| {
        let out = docker(&[
            "ps",
            "--filter",
            &format!("label=kubelab.node={}", sandbox.node),
            "--filter",
            &format!("label=io.kubernetes.pod.name={name}"),
            "--format",
            "{{.ID}} {{.Names}}",
        ]);
        let mut lines: Vec<String> = String::from_utf8_lossy(&out.stdout).lines().map(String::from).collect();
        lines.sort();
        lines
    };
    let before = started("steady");
    assert_eq!(before.len(), 3, "pause, server and sidecar: {before:?}");

    // The kubelet goes away; meanwhile `doomed` is deleted for good.
    running.shutdown();
    client
        .delete(pods, "default", "doomed", &DeleteParams { grace_period_seconds: Some(0), ..Default::default() })
        .await
        .unwrap();
    let running = start_kubelet(&sandbox, &client).await;
    eventually("doomed's containers removed", 30, async || started("doomed").is_empty().then_some(())).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let all = docker(&["ps", "-a", "--filter", &format!("label=kubelab.node={}", sandbox.node)]);
    let all = String::from_utf8_lossy(&all.stdout);
    assert_eq!(started("steady"), before, "the restarted kubelet restarted nothing; containers:\n{all}");
    let steady_after = wait_ready(&client, "steady").await;
    assert_eq!(
        steady_after["status"]["containerStatuses"], steady_before["status"]["containerStatuses"],
        "same containers, same restart counts, still ready"
    );
    running.shutdown();
}

/// A secret's files in a memory volume: unpacked into the tmpfs through the
/// sandbox that mounts it, `..data` renamed to each new version, links of
/// gone keys and old versions removed, as the atomic writer does on disk.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_volume_files_are_swapped_in_through_the_sandbox() {
    use kubelet::atomic::{File, Payload};
    use kubelet::runtime::{ContainerMeta, MemoryVolume, Mount, MountSource, SandboxConfig, SANDBOX_NAME};
    let sandbox = Sandbox::new("memory-files");
    let runtime = DockerRuntime::connect("unix:///var/run/docker.sock", &sandbox.network).await.unwrap();
    let uid = format!("{}-files", sandbox.node);
    let volume = MemoryVolume {
        name: format!("k8s_{uid}_certs"),
        pod_uid: uid.clone(),
        node: sandbox.node.clone(),
        size_bytes: None,
    };
    runtime.create_memory_volume(&volume).await.unwrap();
    let meta = ContainerMeta {
        pod_uid: uid.clone(),
        pod_name: "files".into(),
        pod_namespace: "default".into(),
        container_name: SANDBOX_NAME.into(),
        restart_count: 0,
        node: sandbox.node.clone(),
        grace_period: Some(1),
    };
    let config = SandboxConfig {
        meta,
        image: PAUSE.into(),
        hostname: "files".into(),
        pod: Arc::new(serde_json::from_value(json!({"metadata": {"name": "files", "namespace": "default"}})).unwrap()),
        mounts: vec![Mount {
            source: MountSource::Volume(volume.name.clone()),
            target: "/kubelab/volumes/certs".into(),
            read_only: false,
        }],
    };
    let id = runtime.run_sandbox(&config).await.unwrap();
    let payload = |files: &[(&str, &str, u32)]| -> Payload {
        files.iter().map(|(p, d, m)| (p.to_string(), File { data: d.as_bytes().to_vec(), mode: *m })).collect()
    };
    let sh = |script: &str| {
        let out = docker(&["exec", &id, "/bin/busybox", "sh", "-c", &format!("cd /kubelab/volumes/certs && {script}")]);
        assert!(out.status.success(), "{script}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let dir = "/kubelab/volumes/certs";
    let first = payload(&[("https.key", "KEY", 0o400), ("foo", "bar\n", 0o644), ("d/x", "x", 0o644)]);
    runtime.write_memory_volume(&id, dir, &first, "..2026_01_01_00_00_00.000000001").await.unwrap();
    assert_eq!(sh("cat https.key foo d/x"), "KEYbar\nx");
    assert_eq!(sh("/bin/busybox readlink ..data"), "..2026_01_01_00_00_00.000000001\n");
    assert_eq!(sh("/bin/busybox readlink foo"), "..data/foo\n");
    assert_eq!(sh("/bin/busybox stat -L -c %a https.key foo"), "400\n644\n");
    assert!(sh("/bin/busybox grep ' /kubelab/volumes/certs ' /proc/mounts").starts_with("tmpfs "));

    let second = payload(&[("https.key", "NEW", 0o400), ("cert", "C", 0o644)]);
    runtime.write_memory_volume(&id, dir, &second, "..2026_01_01_00_00_01.000000001").await.unwrap();
    assert_eq!(sh("cat https.key cert"), "NEWC");
    assert_eq!(
        sh("/bin/busybox ls -A | /bin/busybox sort"),
        "..2026_01_01_00_00_01.000000001\n..data\ncert\nhttps.key\n"
    );

    assert!(runtime.write_memory_volume("no-such-sandbox", dir, &second, "..v").await.is_err());
    runtime.remove_container(&id).await.unwrap();
    runtime.remove_pod_volumes(&sandbox.node, &uid).await.unwrap();
}
