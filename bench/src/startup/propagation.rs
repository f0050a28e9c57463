//! The propagation round: how long a ConfigMap edit takes to reach the files
//! of the pods that mount it.
//!
//! `--propagation-pods` pods (a light app: busybox's `sleep`) mount one
//! ConfigMap as a configMap volume. Once they all run and every file holds the
//! first value, the ConfigMap's value is replaced, and each pod is timed from
//! the update's acknowledgement to the new value being in its file.
//!
//! The file is observed on the host: the kubelet of node N writes a pod's
//! configMap volume under `<nodes dir>/N/var/lib/kubelet/pods/<uid>/volumes/
//! kubernetes.io~configmap/<volume>/`, a directory the engine binds into the
//! container, so the file read there is the file the container reads (the
//! key's link into `..data`, swapped by one rename). Reading 100 small files
//! every 50 ms costs next to nothing, where a `cat` inside each container
//! would be an exec through the engine per pod and per poll.

use super::pods::{self, Round};
use crate::stats::nearest_rank;
use client::{Client, ListParams};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::time::Instant;

/// The ConfigMap the pods mount, its key, and the volume's name in each pod.
pub const CONFIG_MAP: &str = "bench-propagation";
pub const KEY: &str = "value";
pub const VOLUME: &str = "config";
/// The value the ConfigMap is created with.
const FIRST_VALUE: &str = "first";
/// How often the files are read.
const POLL: Duration = Duration::from_millis(50);
/// How long 100 pods may take to run, on two cores.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(300);
/// How long the files may take to hold the first value once the pods run
/// (they are written before any container starts, so at once).
const FIRST_VALUE_TIMEOUT: Duration = Duration::from_secs(30);

/// A pod of the round: `sleep` in `image`, the ConfigMap mounted at /etc/bench.
pub fn propagation_pod(namespace: &str, name: &str, image: &str) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace, "labels": {"app": "bench-propagation"}},
        "spec": {
            "containers": [{
                "name": "app",
                "image": image,
                "imagePullPolicy": "IfNotPresent",
                "command": ["sleep", "86400"],
                "volumeMounts": [{"name": VOLUME, "mountPath": "/etc/bench", "readOnly": true}]
            }],
            "volumes": [{"name": VOLUME, "configMap": {"name": CONFIG_MAP}}],
            "terminationGracePeriodSeconds": 1
        }
    })
}

/// Where the kubelet of `node` keeps `key` of the configMap volume `volume`
/// of the pod `uid`, on the host whose nodes' filesystems are under `nodes_dir`.
pub fn volume_file(nodes_dir: &Path, node: &str, uid: &str, volume: &str, key: &str) -> PathBuf {
    nodes_dir
        .join(node)
        .join("var/lib/kubelet/pods")
        .join(uid)
        .join("volumes/kubernetes.io~configmap")
        .join(volume)
        .join(key)
}

/// The file of each pod in a pod list: (pod name, path). Pods not yet bound
/// to a node, or without a uid, have none.
pub fn volume_files(list: &Value, nodes_dir: &Path) -> Vec<(String, PathBuf)> {
    let items = list["items"].as_array().map(Vec::as_slice).unwrap_or_default();
    items
        .iter()
        .filter_map(|pod| {
            let name = pod["metadata"]["name"].as_str()?;
            let uid = pod["metadata"]["uid"].as_str().filter(|u| !u.is_empty())?;
            let node = pod["spec"]["nodeName"].as_str().filter(|n| !n.is_empty())?;
            Some((name.to_string(), volume_file(nodes_dir, node, uid, VOLUME, KEY)))
        })
        .collect()
}

/// Files still waiting for a value.
#[derive(Debug, Default)]
pub struct Pending {
    files: Vec<(String, PathBuf)>,
    /// The last error reading each file's path, for the report.
    last_error: Option<String>,
}

impl Pending {
    pub fn new(files: Vec<(String, PathBuf)>) -> Self {
        Pending { files, last_error: None }
    }

    pub fn len(&self) -> usize {
        self.files.len()
    }

    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }

    /// Reads every pending file once; those holding exactly `value` are done:
    /// returns their pods' names. A file that cannot be read stays pending.
    pub fn poll(&mut self, value: &str) -> Vec<String> {
        let mut done = Vec::new();
        let mut last_error = None;
        self.files.retain(|(pod, path)| match std::fs::read_to_string(path) {
            Ok(content) if content == value => {
                done.push(pod.clone());
                false
            }
            Ok(_) => true,
            Err(e) => {
                last_error = Some(format!("cannot read {}: {e}", path.display()));
                true
            }
        });
        if last_error.is_some() {
            self.last_error = last_error;
        }
        done
    }

    /// The pods still pending, sorted, and why the last unreadable file was.
    fn describe(&self) -> String {
        let mut pods: Vec<&str> = self.files.iter().map(|(p, _)| p.as_str()).collect();
        pods.sort_unstable();
        let shown = pods.iter().take(5).copied().collect::<Vec<_>>().join(", ");
        let more = if pods.len() > 5 { format!(" and {} more", pods.len() - 5) } else { String::new() };
        let why = self.last_error.as_deref().map(|e| format!(" (last error: {e})")).unwrap_or_default();
        format!("{shown}{more}{why}")
    }
}

/// The round's outcome.
#[derive(Debug, Default)]
pub struct Outcome {
    /// The pods' startup, as a startup round times it.
    pub startup: Round,
    /// One per pod whose file got the new value, ascending.
    pub delays: Vec<Duration>,
    /// Pods whose file was watched: the running ones found on a node.
    pub watched: usize,
    pub errors: Vec<String>,
}

impl Outcome {
    pub fn p50(&self) -> Duration {
        nearest_rank(&self.delays, 0.50)
    }

    pub fn p99(&self) -> Duration {
        nearest_rank(&self.delays, 0.99)
    }

    pub fn max(&self) -> Duration {
        self.delays.last().copied().unwrap_or_default()
    }

    /// Watched pods whose file never got the new value.
    pub fn missed(&self) -> usize {
        self.watched - self.delays.len()
    }
}

/// Runs the round in the fresh namespace `namespace`: `count` pods of
/// `image`, then the edit, waiting `timeout` at most for the files. The
/// caller deletes the namespace.
pub async fn round(
    client: &Client,
    namespace: &str,
    count: usize,
    image: &str,
    nodes_dir: &Path,
    timeout: Duration,
) -> anyhow::Result<Outcome> {
    let setup = [(pods::config_maps(), pods::config_map(namespace, CONFIG_MAP, KEY, FIRST_VALUE))];
    let to_create = (0..count).map(|i| propagation_pod(namespace, &format!("propagation-{i}"), image)).collect();
    let mut out = Outcome {
        startup: pods::timed_creates(client, namespace, &setup, to_create, STARTUP_TIMEOUT).await?,
        ..Outcome::default()
    };

    let list = client.list(pods::pods(), namespace, &ListParams::default()).await?;
    let running: Vec<String> = list["items"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .filter(|p| pods::all_containers_running(p))
        .filter_map(|p| p["metadata"]["name"].as_str().map(str::to_string))
        .collect();
    let files: Vec<(String, PathBuf)> =
        volume_files(&list, nodes_dir).into_iter().filter(|(pod, _)| running.contains(pod)).collect();
    out.watched = files.len();
    anyhow::ensure!(!files.is_empty(), "no pod of {namespace} runs: nothing to propagate to");

    // Every file holds the first value before the edit, or the timing would
    // start before there is anything to replace.
    let mut first = Pending::new(files.clone());
    let deadline = Instant::now() + FIRST_VALUE_TIMEOUT;
    while !first.is_empty() && Instant::now() < deadline {
        first.poll(FIRST_VALUE);
        tokio::time::sleep(POLL).await;
    }
    if !first.is_empty() {
        anyhow::bail!(
            "{} of {} configMap files never held the first value within {FIRST_VALUE_TIMEOUT:?}: {} \
             (run the bench as root on the Docker host; --nodes-dir is where the kubelets keep their nodes)",
            first.len(),
            files.len(),
            first.describe()
        );
    }

    let second = format!("second-{:x}", rand::random::<u32>());
    let mut config_map = client.get(pods::config_maps(), namespace, CONFIG_MAP).await?;
    config_map["data"][KEY] = json!(second);
    client.update(pods::config_maps(), namespace, &config_map).await?;
    let acked = Instant::now();

    let mut pending = Pending::new(files);
    let deadline = acked + timeout;
    loop {
        let done = pending.poll(&second);
        let seen = acked.elapsed();
        out.delays.extend(done.iter().map(|_| seen));
        if pending.is_empty() || Instant::now() >= deadline {
            break;
        }
        tokio::time::sleep(POLL).await;
    }
    out.delays.sort_unstable();
    if !pending.is_empty() {
        out.errors.push(format!(
            "{} of {} pods' configMap files did not get the new value within {timeout:?}: {}",
            pending.len(),
            out.watched,
            pending.describe()
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_file_is_where_the_kubelet_writes_the_volume() {
        assert_eq!(
            volume_file(Path::new("/var/lib/kubelab/nodes"), "kubelab-worker2", "0b8e-42", "config", "value"),
            Path::new(
                "/var/lib/kubelab/nodes/kubelab-worker2/var/lib/kubelet/pods/0b8e-42/volumes/kubernetes.io~configmap/config/value"
            )
        );
    }

    #[test]
    fn each_bound_pod_has_its_file() {
        let list = json!({"items": [
            {"metadata": {"name": "propagation-0", "uid": "u0"}, "spec": {"nodeName": "kubelab-worker"}},
            {"metadata": {"name": "propagation-1", "uid": "u1"}, "spec": {}},
            {"metadata": {"name": "propagation-2", "uid": "u2"}, "spec": {"nodeName": "kubelab-worker3"}},
            {"metadata": {"name": "propagation-3"}, "spec": {"nodeName": "kubelab-worker3"}}
        ]});
        let nodes = Path::new("/n");
        assert_eq!(
            volume_files(&list, nodes),
            [
                ("propagation-0".to_string(), volume_file(nodes, "kubelab-worker", "u0", VOLUME, KEY)),
                ("propagation-2".to_string(), volume_file(nodes, "kubelab-worker3", "u2", VOLUME, KEY)),
            ]
        );
    }

    #[test]
    fn the_pod_mounts_the_config_map_read_only() {
        let pod = propagation_pod("ns", "propagation-0", "busybox");
        assert_eq!(pod["spec"]["volumes"][0], json!({"name": VOLUME, "configMap": {"name": CONFIG_MAP}}));
        let mount = &pod["spec"]["containers"][0]["volumeMounts"][0];
        assert_eq!((&mount["name"], &mount["readOnly"]), (&json!(VOLUME), &json!(true)));
        assert_eq!(pod["spec"]["containers"][0]["command"], json!(["sleep", "86400"]));
    }

    #[test]
    fn files_are_done_once_they_hold_exactly_the_value() {
        let dir = tempfile::tempdir().expect("temp dir");
        let file = |n: &str| dir.path().join(n);
        std::fs::write(file("a"), "first").unwrap();
        std::fs::write(file("b"), "first").unwrap();
        let mut pending =
            Pending::new(vec![("a".into(), file("a")), ("b".into(), file("b")), ("c".into(), file("missing"))]);
        assert!(pending.poll("second").is_empty());
        assert_eq!(pending.len(), 3);

        // As the kubelet swaps it: the new content appears at the same path.
        std::fs::write(file("b.new"), "second").unwrap();
        std::fs::rename(file("b.new"), file("b")).unwrap();
        assert_eq!(pending.poll("second"), ["b"]);
        std::fs::write(file("a"), "second\n").unwrap();
        assert!(pending.poll("second").is_empty(), "not exactly the value");
        std::fs::write(file("a"), "second").unwrap();
        assert_eq!(pending.poll("second"), ["a"]);
        assert!(pending.poll("second").is_empty());
        assert_eq!(pending.len(), 1);
        let described = pending.describe();
        assert!(described.starts_with("c (last error: cannot read "), "{described}");
    }

    #[test]
    fn percentiles_are_of_the_pods_that_got_the_value() {
        let mut out =
            Outcome { delays: (1..=100).map(Duration::from_secs).collect(), watched: 101, ..Outcome::default() };
        assert_eq!(
            (out.p50(), out.p99(), out.max()),
            (Duration::from_secs(50), Duration::from_secs(99), Duration::from_secs(100))
        );
        assert_eq!(out.missed(), 1);
        out.delays.clear();
        assert_eq!((out.p99(), out.max()), (Duration::ZERO, Duration::ZERO));
    }
}
