//! The end-to-end test harness: starts a real etcd, the `apiserver` binary
//! on free loopback ports and a `controller-manager`, and runs the `kubectl` binary against them, the way a
//! user would. The binaries come from the workspace's `target/` (build them
//! first: `cargo build --workspace --bins`, which `deploy/test.sh` does).

pub mod tools;

use apiserver::store::testing::{free_port, TestEtcd};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The directory holding the workspace's binaries for the profile the tests run in.
pub fn bin_dir() -> PathBuf {
    if let Ok(dir) = std::env::var("KUBELAB_BIN_DIR") {
        return PathBuf::from(dir);
    }
    // Test executables live in target/<profile>/deps; the binaries one level up.
    let exe = std::env::current_exe().expect("test executable path");
    exe.parent().and_then(Path::parent).expect("target/<profile>").to_path_buf()
}

fn binary(name: &str) -> PathBuf {
    let path = bin_dir().join(name);
    assert!(
        path.exists(),
        "{} is missing: build the binaries first with `cargo build --workspace --bins` (deploy/test.sh does)",
        path.display()
    );
    path
}

/// The book's manifests, as shipped in deploy/manifests.
pub fn manifest(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/manifests").join(name);
    assert!(path.exists(), "no manifest {}", path.display());
    path.to_string_lossy().into_owned()
}

/// A manifest published with the book, by chapter (`Chapter03/kubia-manual.yaml`),
/// read where the book's readers keep it: `$KUBELAB_BOOK`, else `shared/book`
/// beside the repository.
pub fn book(path: &str) -> PathBuf {
    let dir = std::env::var_os("KUBELAB_BOOK")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/book"));
    let file = dir.join(path);
    assert!(file.exists(), "the book's {} is missing (set KUBELAB_BOOK to its directory)", file.display());
    file
}

/// A book manifest's text (to change before use, as a reader on a current cluster does).
pub fn book_text(path: &str) -> String {
    let file = book(path);
    std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("read {}: {e}", file.display()))
}

/// The book's chapter-10 StatefulSet (kubia-statefulset.yaml), fixed for
/// Kubernetes 1.16+ if it is an old copy (apps/v1 and a selector).
pub fn book_kubia_statefulset() -> String {
    let text = book_text("Chapter10/kubia-statefulset.yaml");
    let fixed = text
        .replace("apiVersion: apps/v1beta1", "apiVersion: apps/v1")
        .replace("apiVersion: apps/v1beta2", "apiVersion: apps/v1");
    if fixed.contains("selector:") {
        fixed
    } else {
        fixed.replace(
            "  serviceName: kubia\n",
            "  serviceName: kubia\n  selector:\n    matchLabels:\n      app: kubia\n",
        )
    }
}

/// Starts a throwaway etcd. Done on a thread of its own so that async tests,
/// already inside a runtime, can call it too.
fn start_etcd() -> TestEtcd {
    std::thread::spawn(|| {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        rt.block_on(TestEtcd::start())
    })
    .join()
    .expect("etcd starter thread")
    .unwrap_or_else(|e| panic!("{e}"))
}

/// What a kubectl run printed and how it exited.
#[derive(Debug)]
pub struct Run {
    pub stdout: String,
    pub stderr: String,
    pub code: i32,
}

impl Run {
    fn from(out: Output) -> Self {
        Self {
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            code: out.status.code().unwrap_or(-1),
        }
    }
    /// Panics with everything printed unless the command succeeded.
    #[track_caller]
    pub fn ok(self) -> Self {
        assert_eq!(self.code, 0, "kubectl failed\nstdout:\n{}\nstderr:\n{}", self.stdout, self.stderr);
        self
    }
    /// Panics unless the command succeeded and printed nothing on stderr: no
    /// warning (a real kubectl warns there when discovery or a response is off).
    #[track_caller]
    pub fn clean(self) -> Self {
        assert!(
            self.code == 0 && self.stderr.is_empty(),
            "kubectl failed or warned (exit code {})\nstdout:\n{}\nstderr:\n{}",
            self.code,
            self.stdout,
            self.stderr
        );
        self
    }
    /// Panics unless the command failed with exit code 1.
    #[track_caller]
    pub fn fails(self) -> Self {
        assert_eq!(self.code, 1, "kubectl should have failed\nstdout:\n{}\nstderr:\n{}", self.stdout, self.stderr);
        self
    }
    /// The rows of a table, split on runs of spaces, header first.
    pub fn rows(&self) -> Vec<Vec<String>> {
        self.stdout
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| l.split("   ").map(str::trim).filter(|c| !c.is_empty()).map(String::from).collect())
            .collect()
    }
    /// The first column of every row but the header.
    pub fn names(&self) -> Vec<String> {
        self.rows().into_iter().skip(1).filter_map(|r| r.into_iter().next()).collect()
    }
}

/// Runs `cmd` (kubectl) with `input` on its standard input.
fn with_stdin(mut cmd: Command, input: &str) -> Run {
    use std::io::Write;
    let mut child =
        cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("run kubectl");
    child.stdin.take().expect("stdin").write_all(input.as_bytes()).expect("write stdin");
    Run::from(child.wait_with_output().expect("kubectl output"))
}

/// A kubectl command pointed at `server`, with `home` as HOME so no
/// kubeconfig of the machine's leaks in.
fn kubectl_command(server: &str, home: &Path, args: &[&str]) -> Command {
    kubectl_program_command(&binary("kubectl"), server, home, args)
}

/// [`kubectl_command`] for another kubectl program (a real one, see [`tools`]).
/// Real kubectls take a server without a scheme for https, so plain HTTP is
/// spelled out.
fn kubectl_program_command(program: &Path, server: &str, home: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(program);
    let server = if server.contains("://") { server.to_string() } else { format!("http://{server}") };
    cmd.arg("--server").arg(server).args(args);
    cmd.env("HOME", home).env_remove("KUBECONFIG");
    cmd
}

/// Polls `check` until it returns true or `timeout` passes.
pub fn eventually(timeout: Duration, mut check: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if check() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    false
}

/// A namespace of its own on the running compose cluster (`./deploy/up.sh`),
/// for one test; deleted when dropped. The server is `$KUBELAB_SERVER` or
/// 127.0.0.1:6443.
pub struct Live {
    server: String,
    home: tempfile::TempDir,
    /// The kubectl the test drives: the workspace's when None.
    program: Option<PathBuf>,
    pub namespace: String,
}

impl Live {
    pub fn new(prefix: &str) -> Self {
        Self::start(prefix, None)
    }

    /// Like [`Live::new`], with `kubectl` (a real one, see [`tools`]) running
    /// every command; the namespace itself is made and removed by the
    /// workspace's kubectl, so a failing client leaves nothing behind.
    pub fn with_kubectl(prefix: &str, kubectl: PathBuf) -> Self {
        Self::start(prefix, Some(kubectl))
    }

    fn start(prefix: &str, program: Option<PathBuf>) -> Self {
        let server = std::env::var("KUBELAB_SERVER").unwrap_or_else(|_| "127.0.0.1:6443".into());
        let suffix: u32 = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos();
        let live = Self {
            server,
            home: tempfile::tempdir().expect("tempdir"),
            program,
            namespace: format!("{prefix}-{suffix:x}"),
        };
        live.admin(&["create", "namespace", &live.namespace]).ok();
        live
    }

    /// The apiserver's address as a URL (`http://127.0.0.1:6443`), for clients other than kubectl.
    pub fn server_url(&self) -> String {
        if self.server.contains("://") {
            self.server.clone()
        } else {
            format!("http://{}", self.server)
        }
    }

    /// The HOME every kubectl of this test runs with (discovery caches land there).
    pub fn home(&self) -> &Path {
        self.home.path()
    }

    fn global_command(&self, args: &[&str]) -> Command {
        match &self.program {
            Some(program) => kubectl_program_command(program, &self.server, self.home.path(), args),
            None => kubectl_command(&self.server, self.home.path(), args),
        }
    }

    /// The workspace's kubectl, whichever kubectl the test drives: set-up and clean-up.
    pub fn admin(&self, args: &[&str]) -> Run {
        Run::from(kubectl_command(&self.server, self.home.path(), args).output().expect("run kubectl"))
    }

    pub fn command(&self, args: &[&str]) -> Command {
        let mut all = vec!["-n", self.namespace.as_str()];
        all.extend_from_slice(args);
        self.global_command(&all)
    }

    /// kubectl in this test's namespace.
    pub fn kubectl(&self, args: &[&str]) -> Run {
        Run::from(self.command(args).output().expect("run kubectl"))
    }

    /// `kubectl create -f -` of `yaml` in this test's namespace; panics if it fails.
    #[track_caller]
    pub fn create(&self, yaml: &str) {
        let out = self.kubectl_stdin(&["create", "-f", "-"], yaml);
        assert_eq!(out.code, 0, "kubectl create failed: {}\nfor:\n{yaml}", out.stderr);
    }

    /// kubectl in this test's namespace with `input` on its standard input
    /// (`create -f -` that may fail, unlike [`Live::create`]).
    pub fn kubectl_stdin(&self, args: &[&str], input: &str) -> Run {
        with_stdin(self.command(args), input)
    }

    /// kubectl without a namespace (nodes, other namespaces).
    pub fn global(&self, args: &[&str]) -> Run {
        Run::from(self.global_command(args).output().expect("run kubectl"))
    }

    /// A jsonpath query on one object of this namespace ("" when it fails).
    pub fn field(&self, object: &str, path: &str) -> String {
        let out = self.kubectl(&["get", object, "-o", &format!("jsonpath={path}")]);
        if out.code == 0 {
            out.stdout
        } else {
            String::new()
        }
    }

    /// Waits until the pod's phase is `phase`, panicking with its description after `timeout`.
    #[track_caller]
    pub fn wait_phase(&self, pod: &str, phase: &str, timeout: Duration) {
        if !eventually(timeout, || self.field(&format!("pod/{pod}"), "{.status.phase}") == phase) {
            let describe = self.kubectl(&["describe", "pod", pod]);
            panic!("pod {pod} did not reach {phase} in {timeout:?}:\n{}{}", describe.stdout, describe.stderr);
        }
    }
}

impl Live {
    /// `kubectl get <args> -o json` in this namespace, parsed; Null when it fails.
    pub fn json(&self, args: &[&str]) -> serde_json::Value {
        let mut all = vec!["get"];
        all.extend_from_slice(args);
        all.extend_from_slice(&["-o", "json"]);
        let out = self.kubectl(&all);
        if out.code != 0 {
            return serde_json::Value::Null;
        }
        serde_json::from_str(&out.stdout).unwrap_or(serde_json::Value::Null)
    }

    /// The InternalIP of every Ready node, the addresses NodePorts and
    /// LoadBalancer services answer on from the host.
    pub fn ready_node_ips(&self) -> Vec<String> {
        let out = self.global(&["get", "nodes", "-o", "json"]).ok();
        let nodes: serde_json::Value = serde_json::from_str(&out.stdout).expect("nodes as JSON");
        let items = nodes["items"].as_array().cloned().unwrap_or_default();
        let ready = |n: &serde_json::Value| {
            n["status"]["conditions"]
                .as_array()
                .is_some_and(|cs| cs.iter().any(|c| c["type"] == "Ready" && c["status"] == "True"))
        };
        items
            .iter()
            .filter(|n| ready(n))
            .filter_map(|n| {
                n["status"]["addresses"]
                    .as_array()?
                    .iter()
                    .find(|a| a["type"] == "InternalIP")
                    .and_then(|a| a["address"].as_str())
                    .map(String::from)
            })
            .collect()
    }
}

/// One HTTP/1.1 GET of `/` from this process over a fresh TCP connection to
/// `addr` (host:port), each step bounded by `timeout`; the response body.
pub fn http_get(addr: &str, timeout: Duration) -> std::io::Result<String> {
    use std::io::{Read, Write};
    use std::net::{SocketAddr, TcpStream};
    let to: SocketAddr =
        addr.parse().map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, format!("{addr}: {e}")))?;
    let mut s = TcpStream::connect_timeout(&to, timeout)?;
    s.set_read_timeout(Some(timeout))?;
    s.set_write_timeout(Some(timeout))?;
    s.write_all(b"GET / HTTP/1.1\r\nHost: kubelab\r\nConnection: close\r\n\r\n")?;
    let mut out = String::new();
    s.read_to_string(&mut out)?;
    match out.split_once("\r\n\r\n") {
        Some((head, body)) if head.starts_with("HTTP/1.1 200") => Ok(body.to_string()),
        _ => Err(std::io::Error::new(std::io::ErrorKind::InvalidData, format!("not a 200 response: {out:?}"))),
    }
}

impl Drop for Live {
    fn drop(&mut self) {
        let _ = self.admin(&["delete", "namespace", &self.namespace, "--wait=false"]);
    }
}

/// A running apiserver process.
pub struct ApiServer {
    child: Child,
    pub addr: String,
}

impl ApiServer {
    pub fn start(etcd_url: &str, port: u16) -> Self {
        let addr = format!("127.0.0.1:{port}");
        let child = Command::new(binary("apiserver"))
            .args(["--etcd-servers", etcd_url, "--listen", &addr])
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .spawn()
            .expect("start the apiserver binary");
        let server = Self { child, addr };
        server.wait_ready();
        server
    }

    fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            let probe = Command::new(binary("kubectl"))
                .args(["--server", &self.addr, "get", "ns", "default", "-o", "name"])
                .output()
                .expect("run kubectl");
            if probe.status.success() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("the apiserver at {} did not become ready in 30s", self.addr);
    }

    /// Stops the process the way `docker stop` or Ctrl-C would (SIGTERM), then waits.
    pub fn stop(mut self) {
        let _ = Command::new("kill").arg(self.child.id().to_string()).status();
        let _ = self.child.wait();
    }
}

impl Drop for ApiServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A running controller-manager process (it empties deleted namespaces,
/// among its other controllers).
pub struct ControllerManager {
    child: Child,
}

impl ControllerManager {
    pub fn start(server: &str) -> Self {
        let child = Command::new(binary("controller-manager"))
            .args(["--server", server, "--leader-elect=false"])
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .spawn()
            .expect("start the controller-manager binary");
        Self { child }
    }
}

impl Drop for ControllerManager {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// etcd, one apiserver and a controller-manager, and a kubectl pointed at them.
pub struct Cluster {
    pub etcd: TestEtcd,
    pub apiserver: Option<ApiServer>,
    pub controller_manager: ControllerManager,
    pub port: u16,
    home: tempfile::TempDir,
}

impl Cluster {
    pub fn start() -> Self {
        let etcd = start_etcd();
        let port = free_port().expect("a free port");
        let apiserver = ApiServer::start(etcd.endpoint(), port);
        let controller_manager = ControllerManager::start(&format!("http://127.0.0.1:{port}"));
        Self { etcd, apiserver: Some(apiserver), controller_manager, port, home: tempfile::tempdir().expect("tempdir") }
    }

    pub fn server(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn stop_apiserver(&mut self) {
        if let Some(a) = self.apiserver.take() {
            a.stop();
        }
    }

    pub fn start_apiserver(&mut self) {
        assert!(self.apiserver.is_none(), "already running");
        self.apiserver = Some(ApiServer::start(self.etcd.endpoint(), self.port));
    }

    /// A kubectl command pointed at this cluster.
    pub fn command(&self, args: &[&str]) -> Command {
        kubectl_command(&self.server(), self.home.path(), args)
    }

    pub fn kubectl(&self, args: &[&str]) -> Run {
        Run::from(self.command(args).output().expect("run kubectl"))
    }

    /// Runs kubectl with `input` on its standard input.
    pub fn kubectl_stdin(&self, args: &[&str], input: &str) -> Run {
        with_stdin(self.command(args), input)
    }

    /// A gRPC client for checks kubectl cannot make (watch resumption, concurrency).
    pub async fn client(&self) -> client::Client {
        client::Client::connect(&self.server()).await.expect("connect to the apiserver")
    }

    /// Polls `check` until it returns true or `timeout` passes.
    pub fn eventually(&self, timeout: Duration, check: impl FnMut() -> bool) -> bool {
        eventually(timeout, check)
    }
}

/// etcd and the apiserver binary alone, with no controllers: what an HTTP
/// conformance test talks to, where nothing but the requests it sends
/// changes the objects it reads.
pub struct Server {
    pub etcd: TestEtcd,
    pub apiserver: ApiServer,
}

impl Server {
    pub fn start() -> Self {
        let etcd = start_etcd();
        let port = free_port().expect("a free port");
        let apiserver = ApiServer::start(etcd.endpoint(), port);
        Self { etcd, apiserver }
    }

    /// The base URL of Kubernetes' HTTP API, e.g. `http://127.0.0.1:40123`.
    pub fn url(&self) -> String {
        format!("http://{}", self.apiserver.addr)
    }
}
