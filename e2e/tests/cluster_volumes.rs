//! Volumes on the compose cluster (`./deploy/up.sh`), as chapter 6 of the book
//! uses them: the book's fortune pod (an emptyDir written by one container and
//! served by nginx in the other), emptyDirs on disk and in memory outliving
//! container restarts, hostPath data outliving its pod on the same node, a
//! hostPath type check failing with Kubernetes' FailedMount event, and the
//! 422 for a volumeMount of no volume; and chapter 7's fortune variants that
//! take their interval from args and env, and from a ConfigMap (env, args and
//! a configMap volume whose files follow an edit while the env does not), the
//! fortune-https pod's secret volume on tmpfs, a missing ConfigMap holding a
//! container in CreateContainerConfigError until it is created, and chapter
//! 8's downward API in env and in a volume whose labels file follows
//! `kubectl label`. Each test works in a namespace of its own. Run by deploy/test.sh with
//! `cargo test -p e2e --features cluster --test cluster_volumes`.

use e2e::{eventually, Live};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Stdio;
use std::time::Duration;

/// Pods running (images are on the engine, nothing is pulled).
const START: Duration = Duration::from_secs(60);
/// A container restarted by its kubelet.
const RESTART: Duration = Duration::from_secs(40);

/// One HTTP GET over a plain TCP connection; the response body.
fn http_get(addr: &str) -> std::io::Result<String> {
    let mut s = TcpStream::connect(addr)?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    s.write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")?;
    let mut out = String::new();
    s.read_to_string(&mut out)?;
    Ok(out.split("\r\n\r\n").nth(1).unwrap_or_default().to_string())
}

/// `kubectl exec <pod> -c <container> -- sh -c <script>`: its stdout, or the failure.
fn sh(live: &Live, pod: &str, container: &str, script: &str) -> Result<String, String> {
    let out = live.kubectl(&["exec", pod, "-c", container, "--", "sh", "-c", script]);
    if out.code == 0 {
        Ok(out.stdout)
    } else {
        Err(format!("exit {}: {}{}", out.code, out.stdout, out.stderr))
    }
}

fn restart_count(live: &Live, pod: &str, container: &str) -> String {
    live.field(
        &format!("pod/{pod}"),
        &format!("{{.status.containerStatuses[?(@.name==\"{container}\")].restartCount}}"),
    )
}

/// Kills a container's main process and waits for the kubelet to restart it.
#[track_caller]
fn restart(live: &Live, pod: &str, container: &str) {
    let before = restart_count(live, pod, container);
    let _ = sh(live, pod, container, "kill 1");
    let restarted = eventually(RESTART, || {
        let now = restart_count(live, pod, container);
        now != before && !now.is_empty() && live.field(&format!("pod/{pod}"), "{.status.phase}") == "Running"
    });
    assert!(restarted, "{container} of {pod} was not restarted:\n{}", live.kubectl(&["describe", "pod", pod]).stdout);
    // Running again, so exec reaches the new instance.
    assert!(eventually(RESTART, || sh(live, pod, container, "true").is_ok()), "{container} never came back");
}

#[test]
fn the_books_fortune_pod_serves_fortunes_from_a_shared_empty_dir() {
    let live = Live::new("fortune");
    let manifest = e2e::book("Chapter06/fortune-pod.yaml");
    let out = live.kubectl(&["create", "-f", manifest.to_str().unwrap()]).ok();
    assert_eq!(out.stdout.trim(), "pod/fortune created");
    live.wait_phase("fortune", "Running", START);

    let port = apiserver::store::testing::free_port().unwrap();
    let mut pf = live
        .command(&["port-forward", "fortune", &format!("{port}:80")])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let addr = format!("127.0.0.1:{port}");
    let mut page = String::new();
    let served = eventually(Duration::from_secs(20), || {
        page = http_get(&addr).unwrap_or_default();
        !page.trim().is_empty() && !page.contains("Welcome to nginx")
    });
    let _ = pf.kill();
    let _ = pf.wait();
    assert!(served, "nginx never served a fortune through port-forward: {page:?}");
    let written = sh(&live, "fortune", "html-generator", "cat /var/htdocs/index.html").unwrap();
    assert!(!written.trim().is_empty(), "the generator wrote a fortune");

    // What one container writes, the other reads; the web server's mount is read-only.
    sh(&live, "fortune", "html-generator", "echo shared-by-two > /var/htdocs/probe.txt").unwrap();
    assert_eq!(sh(&live, "fortune", "web-server", "cat /usr/share/nginx/html/probe.txt").unwrap(), "shared-by-two\n");
    let refused = sh(&live, "fortune", "web-server", "touch /usr/share/nginx/html/mine").unwrap_err();
    assert!(refused.contains("Read-only file system"), "{refused}");

    // A restarted container finds the volume as it was.
    restart(&live, "fortune", "web-server");
    assert_eq!(sh(&live, "fortune", "web-server", "cat /usr/share/nginx/html/probe.txt").unwrap(), "shared-by-two\n");
}

const MEMORY_POD: &str = "apiVersion: v1
kind: Pod
metadata:
  name: memory
spec:
  containers:
  - name: writer
    image: busybox
    command: [sh, -c, 'trap \"exit 0\" TERM; while :; do sleep 1 & wait $!; done']
    volumeMounts:
    - name: cache
      mountPath: /cache
  - name: reader
    image: busybox
    command: [sh, -c, 'trap \"exit 0\" TERM; while :; do sleep 1 & wait $!; done']
    volumeMounts:
    - name: cache
      mountPath: /data
  volumes:
  - name: cache
    emptyDir:
      medium: Memory
      sizeLimit: 16Mi
";

#[test]
fn a_memory_empty_dir_is_one_tmpfs_shared_by_the_containers() {
    let live = Live::new("memory");
    live.create(MEMORY_POD);
    live.wait_phase("memory", "Running", START);
    let mounts = sh(&live, "memory", "reader", "grep ' /data ' /proc/mounts").unwrap();
    assert!(mounts.starts_with("tmpfs /data tmpfs"), "{mounts}");
    assert!(mounts.contains("size=16384k"), "sizeLimit is the tmpfs size: {mounts}");
    sh(&live, "memory", "writer", "echo in-memory > /cache/f").unwrap();
    assert_eq!(sh(&live, "memory", "reader", "cat /data/f").unwrap(), "in-memory\n");
    // Both containers restart; the sandbox keeps the tmpfs (and the file) meanwhile.
    restart(&live, "memory", "writer");
    restart(&live, "memory", "reader");
    assert_eq!(sh(&live, "memory", "reader", "cat /data/f").unwrap(), "in-memory\n");
}

/// A disk emptyDir that outgrows its sizeLimit: the kubelet evicts the pod,
/// which kubectl shows as Evicted with Kubernetes' message.
#[test]
fn a_disk_empty_dir_over_its_size_limit_gets_the_pod_evicted() {
    let live = Live::new("sizelimit");
    live.create(
        "apiVersion: v1
kind: Pod
metadata:
  name: filler
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: main
    image: busybox
    command: [sh, -c, 'trap \"exit 0\" TERM; while :; do sleep 1 & wait $!; done']
    volumeMounts:
    - {name: scratch, mountPath: /scratch}
  volumes:
  - name: scratch
    emptyDir:
      sizeLimit: 1Mi
",
    );
    live.wait_phase("filler", "Running", START);
    sh(&live, "filler", "main", "dd if=/dev/zero of=/scratch/f bs=1024 count=512 2>/dev/null").unwrap();
    sh(&live, "filler", "main", "dd if=/dev/zero of=/scratch/g bs=1024 count=1024 2>/dev/null").unwrap();
    let evicted = eventually(Duration::from_secs(40), || live.field("pod/filler", "{.status.reason}") == "Evicted");
    assert!(evicted, "{}", live.kubectl(&["describe", "pod", "filler"]).stdout);
    assert_eq!(live.field("pod/filler", "{.status.phase}"), "Failed");
    let message = live.field("pod/filler", "{.status.message}");
    assert_eq!(message.trim_end(), "Usage of EmptyDir volume \"scratch\" exceeds the limit \"1Mi\".");
    let row = live.kubectl(&["get", "pod", "filler", "--no-headers"]).clean().rows().remove(0);
    assert_eq!(row[..3], ["filler", "0/1", "Evicted"]);
    let described = live.kubectl(&["describe", "pod", "filler"]).clean().stdout;
    assert!(described.contains("Evicted") && described.contains("exceeds the limit"), "{described}");
}

/// A pod on `node` with the node's `path` (DirectoryOrCreate) at /data.
fn host_path_pod(name: &str, node: &str, path: &str, kind: &str) -> String {
    format!(
        "apiVersion: v1
kind: Pod
metadata:
  name: {name}
spec:
  nodeName: {node}
  terminationGracePeriodSeconds: 2
  containers:
  - name: main
    image: busybox
    command: [sh, -c, 'trap \"exit 0\" TERM; while :; do sleep 1 & wait $!; done']
    volumeMounts:
    - name: data
      mountPath: /data
    - name: data
      mountPath: /logs
      subPath: logs
  volumes:
  - name: data
    hostPath:
      path: {path}
      type: {kind}
"
    )
}

fn a_node(live: &Live) -> String {
    let names = live.global(&["get", "nodes", "-o", "name"]).ok().stdout;
    let mut nodes: Vec<&str> = names.lines().map(|l| l.trim_start_matches("node/")).collect();
    nodes.sort();
    nodes.last().expect("a node").to_string()
}

#[test]
fn host_path_data_outlives_the_pod_on_its_node() {
    let live = Live::new("hostpath");
    let node = a_node(&live);
    let path = format!("/tmp/kubelab-e2e/{}", live.namespace);
    let pod = host_path_pod("keeper", &node, &path, "DirectoryOrCreate");
    live.create(&pod);
    live.wait_phase("keeper", "Running", START);
    sh(&live, "keeper", "main", "echo kept > /data/f; echo logged > /logs/l").unwrap();
    assert_eq!(
        sh(&live, "keeper", "main", "cat /data/logs/l").unwrap(),
        "logged\n",
        "subPath is a directory in the volume"
    );

    live.kubectl(&["delete", "pod", "keeper"]).ok();
    live.create(&pod);
    live.wait_phase("keeper", "Running", START);
    assert_eq!(sh(&live, "keeper", "main", "cat /data/f").unwrap(), "kept\n", "the node's directory kept the data");
    assert_eq!(sh(&live, "keeper", "main", "cat /logs/l").unwrap(), "logged\n");
    sh(&live, "keeper", "main", "rm -rf /data/f /data/logs").unwrap();
}

#[test]
fn a_host_path_directory_that_is_missing_fails_to_mount() {
    let live = Live::new("hostpath-missing");
    let node = a_node(&live);
    let path = format!("/no/such/dir-{}", live.namespace);
    live.create(&host_path_pod("missing", &node, &path, "Directory"));
    let message =
        format!("MountVolume.SetUp failed for volume \"data\" : hostPath type check failed: {path} is not a directory");
    let mut describe = String::new();
    let seen = eventually(START, || {
        describe = live.kubectl(&["describe", "pod", "missing"]).stdout;
        describe.contains(&message)
    });
    assert!(seen, "no FailedMount event:\n{describe}");
    assert!(describe.contains("FailedMount"), "{describe}");
    assert_eq!(live.field("pod/missing", "{.status.phase}"), "Pending");
    let waiting = live.field("pod/missing", "{.status.containerStatuses[0].state.waiting.reason}");
    assert!(waiting.is_empty() || waiting == "ContainerCreating", "{waiting}");
}

#[test]
fn a_volume_mount_of_no_volume_is_rejected() {
    let live = Live::new("badmount");
    let pod = "apiVersion: v1
kind: Pod
metadata:
  name: bad
spec:
  containers:
  - name: main
    image: busybox
    volumeMounts:
    - name: nope
      mountPath: /data
";
    let out = live.kubectl_stdin(&["create", "-f", "-"], pod);
    assert_ne!(out.code, 0);
    assert!(
        out.stderr.contains(r#"Pod "bad" is invalid: spec.containers[0].volumeMounts[0].name: Not found: "nope""#),
        "{}",
        out.stderr
    );
}

/// Chapter 7: the book's `luksa/fortune:args` and `:env` pods take their
/// interval from the container's arguments and from an environment variable.
#[test]
fn the_books_fortune_variants_take_their_interval_from_args_and_env() {
    let live = Live::new("fortune-variants");
    for (manifest, pod, says) in [
        ("Chapter07/fortune-pod-args.yaml", "fortune2s", "every 2 seconds"),
        ("Chapter07/fortune-pod-env.yaml", "fortune-env", "every 30 seconds"),
    ] {
        let path = e2e::book(manifest);
        let out = live.kubectl(&["create", "-f", path.to_str().unwrap()]).ok();
        assert_eq!(out.stdout.trim(), format!("pod/{pod} created"));
        live.wait_phase(pod, "Running", START);
        let logged = eventually(Duration::from_secs(20), || {
            live.kubectl(&["logs", pod, "-c", "html-generator"]).stdout.contains(says)
        });
        assert!(logged, "{pod} does not say {says:?}: {}", live.kubectl(&["logs", pod, "-c", "html-generator"]).stdout);
    }
}

/// A ConfigMap or Secret edit reaches mounted files within the kubelet's sync
/// period (60 s) plus the time to notice.
const UPDATE: Duration = Duration::from_secs(90);

/// The book's file or directory as a kubectl argument.
fn book_arg(path: &str) -> String {
    e2e::book(path).to_str().unwrap().to_string()
}

/// `kubectl create -f` of one of the book's manifests, checking kubectl's answer.
#[track_caller]
fn create_book(live: &Live, manifest: &str, pod: &str) {
    let out = live.kubectl(&["create", "-f", &book_arg(manifest)]).ok();
    assert_eq!(out.stdout.trim(), format!("pod/{pod} created"));
}

/// `kubectl create configmap fortune-config --from-file=configmap-files`, as chapter 7 does.
fn create_fortune_config(live: &Live) {
    let from = format!("--from-file={}", book_arg("Chapter07/configmap-files"));
    let out = live.kubectl(&["create", "configmap", "fortune-config", &from]).ok();
    assert_eq!(out.stdout.trim(), "configmap/fortune-config created");
}

fn logs_say(live: &Live, pod: &str, says: &str) -> bool {
    eventually(Duration::from_secs(20), || live.kubectl(&["logs", pod, "-c", "html-generator"]).stdout.contains(says))
}

/// Chapter 7: the ConfigMap's `sleep-interval` reaches the fortune pods as an
/// env var, as an argument through `$(INTERVAL)`, and as files that nginx
/// reads its gzip config from; a replaced ConfigMap changes the mounted file
/// within the sync period, but not the running container's env.
#[test]
fn the_books_config_map_pods_take_env_args_and_files_and_an_edit_reaches_only_the_files() {
    let live = Live::new("configmap");
    create_fortune_config(&live);
    for (manifest, pod) in [
        ("Chapter07/fortune-pod-env-configmap.yaml", "fortune-env-from-configmap"),
        ("Chapter07/fortune-pod-args-configmap.yaml", "fortune-args-from-configmap"),
        ("Chapter07/fortune-pod-configmap-volume.yaml", "fortune-configmap-volume"),
    ] {
        create_book(&live, manifest, pod);
        live.wait_phase(pod, "Running", START);
        let says = "Configured to generate new fortune every 25";
        assert!(logs_say(&live, pod, says), "{pod}: {}", live.kubectl(&["logs", pod, "-c", "html-generator"]).stdout);
    }
    let pod = "fortune-configmap-volume";
    let whole = sh(&live, pod, "web-server", "ls /tmp/whole-fortune-config-volume").unwrap();
    assert_eq!(whole, "my-nginx-config.conf\nsleep-interval\n");
    let conf = sh(&live, pod, "web-server", "cat /etc/nginx/conf.d/my-nginx-config.conf").unwrap();
    assert!(conf.contains("gzip on;"), "{conf}");
    let layout =
        sh(&live, pod, "web-server", "readlink /etc/nginx/conf.d/sleep-interval; readlink /etc/nginx/conf.d/..data")
            .unwrap();
    assert!(layout.starts_with("..data/sleep-interval\n..20"), "the atomic writer's links: {layout}");
    let refused = sh(&live, pod, "web-server", "touch /etc/nginx/conf.d/mine").unwrap_err();
    assert!(refused.contains("Read-only file system"), "{refused}");
    // nginx took its config from the volume: it compresses what it serves.
    let mut headers = String::new();
    let gzipped = eventually(Duration::from_secs(30), || {
        let get = "wget -S --header 'Accept-Encoding: gzip' -O /dev/null http://localhost/ 2>&1";
        headers = sh(&live, pod, "web-server", get).unwrap_or_default();
        headers.contains("Content-Encoding: gzip")
    });
    assert!(gzipped, "nginx does not gzip with the mounted config: {headers}");

    // `kubectl replace` of the edited ConfigMap (what `kubectl edit` sends).
    let mut cm = live.json(&["configmap", "fortune-config"]);
    cm["data"]["sleep-interval"] = "7\n".into();
    let out = live.kubectl_stdin(&["replace", "-f", "-"], &cm.to_string()).ok();
    assert_eq!(out.stdout.trim(), "configmap/fortune-config replaced");
    let mut seen = String::new();
    let updated = eventually(UPDATE, || {
        seen = sh(&live, pod, "web-server", "cat /tmp/whole-fortune-config-volume/sleep-interval").unwrap_or_default();
        seen == "7\n"
    });
    assert!(updated, "the mounted file did not follow the edit: {seen:?}");
    let conf_now = sh(&live, pod, "web-server", "cat /etc/nginx/conf.d/my-nginx-config.conf").unwrap();
    assert_eq!(conf_now, conf, "the other file is unchanged");
    let env = sh(&live, pod, "html-generator", "echo \"$INTERVAL\"").unwrap();
    assert_eq!(env.trim(), "25", "a running container keeps the env it was created with");
}

/// Chapter 7's fortune-https pod: the secret volume is a tmpfs holding the
/// secret's decoded bytes, beside a configMap volume with `items`.
#[test]
fn a_secret_volume_is_tmpfs_and_holds_the_decoded_bytes() {
    let live = Live::new("secret");
    create_fortune_config(&live);
    let files: Vec<String> = ["https.key", "https.cert", "foo"]
        .iter()
        .map(|f| format!("--from-file={}", book_arg(&format!("Chapter07/fortune-https/{f}"))))
        .collect();
    let mut args = vec!["create", "secret", "generic", "fortune-https"];
    args.extend(files.iter().map(String::as_str));
    assert_eq!(live.kubectl(&args).ok().stdout.trim(), "secret/fortune-https created");
    create_book(&live, "Chapter07/fortune-pod-https.yaml", "fortune-https");
    live.wait_phase("fortune-https", "Running", START);

    let mounts = sh(&live, "fortune-https", "web-server", "mount | grep certs").unwrap();
    assert!(mounts.starts_with("tmpfs on /etc/nginx/certs type tmpfs (ro"), "{mounts}");
    for f in ["https.key", "https.cert", "foo"] {
        let want = std::fs::read_to_string(e2e::book(&format!("Chapter07/fortune-https/{f}"))).unwrap();
        let got = sh(&live, "fortune-https", "web-server", &format!("cat /etc/nginx/certs/{f}")).unwrap();
        assert_eq!(got, want, "{f}");
    }
    let ls = sh(&live, "fortune-https", "web-server", "ls /etc/nginx/conf.d").unwrap();
    assert_eq!(ls, "https.conf\n", "items pick the key and name the file");
    let perms = sh(&live, "fortune-https", "web-server", "stat -L -c %a /etc/nginx/certs/foo").unwrap();
    assert_eq!(perms.trim(), "644", "defaultMode");

    // A Secret edit reaches the tmpfs too.
    let out =
        live.kubectl(&["patch", "secret", "fortune-https", "--type", "merge", "-p", r#"{"data":{"foo":"bmV3Cg=="}}"#]);
    assert_eq!(out.ok().stdout.trim(), "secret/fortune-https patched");
    let updated = eventually(UPDATE, || {
        sh(&live, "fortune-https", "web-server", "cat /etc/nginx/certs/foo").unwrap_or_default() == "new\n"
    });
    assert!(updated, "the secret's file did not follow the edit");
}

/// A pod whose env names a ConfigMap that does not exist waits in
/// CreateContainerConfigError with Kubernetes' message and a Failed event,
/// and starts once `kubectl create configmap` makes it.
#[test]
fn a_missing_config_map_holds_the_container_until_it_is_created() {
    let live = Live::new("missing-cm");
    let pod = "fortune-env-from-configmap";
    create_book(&live, "Chapter07/fortune-pod-env-configmap.yaml", pod);
    let reason = "{.status.containerStatuses[?(@.name==\"html-generator\")].state.waiting.reason}";
    let waiting = eventually(START, || live.field(&format!("pod/{pod}"), reason) == "CreateContainerConfigError");
    assert!(waiting, "{}", live.kubectl(&["describe", "pod", pod]).stdout);
    let message = live.field(
        &format!("pod/{pod}"),
        "{.status.containerStatuses[?(@.name==\"html-generator\")].state.waiting.message}",
    );
    assert_eq!(message, "configmap \"fortune-config\" not found");
    let events =
        live.kubectl(&["get", "events", "-o", "jsonpath={range .items[*]}{.reason}: {.message}{\"\\n\"}{end}"]);
    assert!(events.stdout.contains("Failed: Error: configmap \"fortune-config\" not found"), "{}", events.stdout);

    let out = live.kubectl(&["create", "configmap", "fortune-config", "--from-literal=sleep-interval=3"]).ok();
    assert_eq!(out.stdout.trim(), "configmap/fortune-config created");
    live.wait_phase(pod, "Running", START);
    let ready =
        eventually(START, || live.field(&format!("pod/{pod}"), "{.status.containerStatuses[*].ready}") == "true true");
    assert!(ready, "{}", live.kubectl(&["describe", "pod", pod]).stdout);
    assert!(logs_say(&live, pod, "every 3 seconds"));
}

/// Chapter 8: the downward API in env (downward-api-env.yaml) and in a volume
/// (downward-api-volume.yaml), whose labels file follows `kubectl label`.
#[test]
fn the_books_downward_api_pods_in_env_and_in_a_volume() {
    let live = Live::new("downward-env");
    create_book(&live, "Chapter08/downward-api-env.yaml", "downward");
    live.wait_phase("downward", "Running", START);
    let env = sh(&live, "downward", "main", "env").unwrap();
    let node = live.field("pod/downward", "{.spec.nodeName}");
    let ip = live.field("pod/downward", "{.status.podIP}");
    for want in [
        "POD_NAME=downward".to_string(),
        format!("POD_NAMESPACE={}", live.namespace),
        format!("POD_IP={ip}"),
        format!("NODE_NAME={node}"),
        "CONTAINER_CPU_REQUEST_MILLICORES=15".into(),
        "CONTAINER_MEMORY_LIMIT_KIBIBYTES=4096".into(),
    ] {
        assert!(env.lines().any(|l| l == want), "no {want} in:\n{env}");
    }

    let live = Live::new("downward-volume");
    create_book(&live, "Chapter08/downward-api-volume.yaml", "downward");
    live.wait_phase("downward", "Running", START);
    let read = |f: &str| sh(&live, "downward", "main", &format!("cat /etc/downward/{f}")).unwrap();
    assert_eq!(read("podName"), "downward");
    assert_eq!(read("podNamespace"), live.namespace);
    assert_eq!(read("labels"), "foo=\"bar\"");
    let annotations = read("annotations");
    assert!(annotations.contains("key1=\"value1\"\nkey2=\"multi\\nline\\nvalue\\n\""), "{annotations}");
    assert_eq!(read("containerCpuRequestMilliCores"), "15");
    assert_eq!(read("containerMemoryLimitBytes"), "4194304");

    let out = live.kubectl(&["label", "po", "downward", "tier=web"]).ok();
    assert_eq!(out.stdout.trim(), "pod/downward labeled");
    let mut labels = String::new();
    let updated = eventually(UPDATE, || {
        labels = sh(&live, "downward", "main", "cat /etc/downward/labels").unwrap_or_default();
        labels == "foo=\"bar\"\ntier=\"web\""
    });
    assert!(updated, "the labels file did not follow the label: {labels:?}");
}

/// Chapter 6: the book's gitRepo pod serves the website cloned from the
/// repository (the kubelab image's mirror of it: the cluster has no
/// network), and a repository that cannot be cloned fails to mount with
/// git's own words and leaves the pod creating.
#[test]
fn the_books_git_repo_pod_serves_the_cloned_website() {
    let live = Live::new("gitrepo");
    create_book(&live, "Chapter06/gitrepo-volume-pod.yaml", "gitrepo-volume-pod");
    live.wait_phase("gitrepo-volume-pod", "Running", START);
    let served = eventually(START, || {
        sh(&live, "gitrepo-volume-pod", "web-server", "wget -qO- http://localhost/")
            .is_ok_and(|p| p.contains("Hello there."))
    });
    assert!(served, "{:?}", sh(&live, "gitrepo-volume-pod", "web-server", "ls -la /usr/share/nginx/html"));
    // directory "." at revision master: the working tree is the volume itself.
    let head = sh(&live, "gitrepo-volume-pod", "web-server", "cat /usr/share/nginx/html/.git/HEAD").expect("a clone");
    assert_eq!(head.trim(), "ref: refs/heads/master");

    let pod = r#"{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "no-repo"},
        "spec": {"containers": [{"name": "c", "image": "busybox", "command": ["sleep", "3600"],
                                 "volumeMounts": [{"name": "src", "mountPath": "/src"}]}],
                 "volumes": [{"name": "src", "gitRepo": {"repository": "https://github.com/luksa/no-such-repo.git"}}]}}"#;
    live.create(pod);
    let message = "MountVolume.SetUp failed for volume \"src\" : failed to exec \
                   'git clone -- https://github.com/luksa/no-such-repo.git': Cloning into 'no-such-repo'...";
    let mut describe = String::new();
    let failed = eventually(START, || {
        describe = live.kubectl(&["describe", "pod", "no-repo"]).stdout;
        describe.contains(message)
    });
    assert!(failed, "no FailedMount event:\n{describe}");
    assert_eq!(live.field("pod/no-repo", "{.status.phase}"), "Pending");
}
