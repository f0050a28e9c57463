//! A pod's volumes on its node: set up before the sandbox (Kubernetes'
//! volume manager waits for them the same way), turned into each container's
//! mounts, and removed with the pod.
//!
//! The node is the kubelet's container, not the machine. Its filesystem, as
//! far as pods see it, is [`Settings::root_dir`]: a directory that the kubelet
//! and the Docker engine see at the same path (docker-compose binds the host's
//! directory at that path inside the kubelet), so a path the kubelet creates or
//! checks is the path it asks Docker to bind. In there live the node's paths
//! for `hostPath` (node path `/data` is `<root>/data`) and the kubelet's pods
//! dir, `<root>/var/lib/kubelet/pods/<uid>/volumes/kubernetes.io~empty-dir/<name>`,
//! for disk-backed `emptyDir`s. Node paths under a shared path
//! ([`super::SharedPaths`], by default `/tmp/hostpath-provisioner`, where the
//! default StorageClass's volumes live) are one directory for every node, as
//! a network share mounted there would be: a pod that moves to another node
//! finds its claim's data.
//!
//! A `medium: Memory` emptyDir is a tmpfs volume of the runtime instead
//! ([`Runtime::create_memory_volume`]): a tmpfs the engine mounts per
//! container could not be shared by two containers, and the kubelet cannot
//! mount one where the engine would see it. The pod's sandbox mounts it too,
//! so that the tmpfs stays mounted, with its files, while the app containers
//! restart. Its `sizeLimit` becomes the tmpfs size. A disk emptyDir's
//! `sizeLimit` is watched as Kubernetes' eviction manager does: the pod
//! syncs at least every [`SIZE_CHECK_PERIOD`] and, once the directory holds
//! more than the limit, is evicted ([`PodVolumes::exceeded`]).
//!
//! `configMap`, `secret`, `downwardAPI` and `projected` volumes hold files the
//! kubelet makes from API objects and from the pod ([`payload`]), written by
//! [`crate::atomic`] (timestamped version directories behind a `..data` link
//! swapped with a rename) and mounted read-only, as Kubernetes mounts them.
//! Every sync of the pod recomputes them ([`PodVolumes::refresh`]): the pod
//! worker syncs on every pod update (labels and annotations reach downwardAPI
//! files at once) and at least every resync period (60 s), which bounds how
//! long a ConfigMap or Secret edit takes to reach the files. A mount with a
//! `subPath` binds the file the link resolved to when the container was made,
//! so it is not updated (as in Kubernetes). `serviceAccountToken` sources of a
//! projected volume belong to the service account work (issue 21): they are
//! skipped, not refused.
//!
//! Where they live, as in Kubernetes: configMap and downwardAPI volumes on
//! disk, under the pod's dir (`kubernetes.io~configmap/<name>`,
//! `kubernetes.io~downward-api/<name>`), written by the kubelet directly;
//! secret and projected volumes in memory, never on disk: a tmpfs volume of
//! the runtime like a `medium: Memory` emptyDir, which the sandbox mounts at
//! `/kubelab/volumes/<name>`. The kubelet cannot reach that tmpfs itself (the
//! engine mounts it in the host's mount namespace, outside the kubelet's
//! container, whose compose bind has no mount propagation and which may not
//! mount a tmpfs of its own), so [`Runtime::write_memory_volume`] goes through
//! the sandbox: the new version directory is unpacked into it by the engine's
//! archive upload, then the sandbox image's busybox runs the swap (the same
//! rename of `..data` and link updates). The files are written once the
//! sandbox runs and before any app container starts; that first write into
//! a fresh volume, which nothing reads yet, is the whole layout in one
//! upload, without the exec (a pod with a secret starts that much sooner).
//!
//! A `gitRepo` volume is a directory under the pod's dir with the repository
//! cloned into it once ([`super::git_repo`]).
//!
//! Any other volume type (gcePersistentDisk, awsElasticBlockStore, nfs, ...)
//! fails to mount with a `FailedMount` that says so, and the pod waits.

use super::container::{field_value, resource_value};
use super::Settings;
use crate::api::PodApi;
use crate::atomic::{self, File, Payload};
use crate::runtime::{MemoryVolume, Mount, MountSource, Runtime, RuntimeError};
use client::Object;
use k8s_openapi::api::core::v1::{
    ConfigMapProjection, Container, DownwardAPIVolumeFile, HostPathVolumeSource, KeyToPath, Pod, SecretProjection,
    Volume,
};
use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::io;
use std::os::unix::fs::{DirBuilderExt, FileTypeExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// The kubelet's pods dir, under the node's root.
pub const PODS_DIR: &str = "var/lib/kubelet/pods";

/// Why a volume could not be set up: the `FailedMount` event's message.
#[derive(Debug, thiserror::Error)]
#[error("MountVolume.SetUp failed for volume {volume:?} : {message}")]
pub struct SetUpError {
    pub volume: String,
    pub message: String,
}

/// Why a container's mounts cannot be made: a `CreateContainerConfigError`.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct MountError(String);

/// Where each of a pod's volumes lives once set up.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PodVolumes {
    sources: HashMap<String, Source>,
    /// Volumes every mount of which is read-only (a claim's `readOnly`).
    read_only: std::collections::HashSet<String>,
    /// The configMap, secret, downwardAPI and projected volumes: their files.
    content: BTreeMap<String, Content>,
    /// The disk emptyDirs with a `sizeLimit`.
    limited: Vec<SizeLimited>,
}

/// A disk emptyDir whose use is capped.
#[derive(Debug, Clone, PartialEq, Eq)]
struct SizeLimited {
    volume: String,
    dir: PathBuf,
    /// The limit as the spec writes it (`1Mi`), for the eviction message.
    limit: String,
    bytes: i64,
}

/// How often a pod with size-limited emptyDirs has them measured: the
/// eviction manager's monitoring interval.
pub const SIZE_CHECK_PERIOD: std::time::Duration = std::time::Duration::from_secs(10);

/// What a directory takes on disk, as `du` counts it (allocated blocks, links
/// not followed, files met twice through hard links counted once).
fn disk_usage(dir: &Path) -> u64 {
    let mut seen = std::collections::HashSet::new();
    let mut total = 0;
    let mut pending = vec![dir.to_path_buf()];
    while let Some(path) = pending.pop() {
        let Ok(meta) = fs::symlink_metadata(&path) else { continue };
        use std::os::unix::fs::MetadataExt;
        if meta.nlink() > 1 && !meta.is_dir() && !seen.insert((meta.dev(), meta.ino())) {
            continue;
        }
        total += meta.blocks() * 512;
        if meta.is_dir() {
            pending.extend(fs::read_dir(&path).into_iter().flatten().flatten().map(|e| e.path()));
        }
    }
    total
}

/// The files of one content volume, as last computed.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Content {
    payload: Payload,
    /// Where they are written: a directory of the node, or (None) a memory volume.
    dir: Option<PathBuf>,
    /// Whether a memory volume holds `payload` (disk ones are written at once).
    written: bool,
}

/// Kubernetes' default mode of the files of configMap, secret, downwardAPI and projected volumes.
pub const DEFAULT_MODE: i32 = 0o644;

/// Where the sandbox mounts a memory volume.
pub fn sandbox_path(volume: &str) -> String {
    format!("/kubelab/volumes/{volume}")
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Source {
    /// A directory (or, for hostPath, a file) at the same path for kubelet and engine.
    Path(PathBuf),
    /// A memory volume of the runtime.
    Memory(String),
}

/// The directory of one pod under the node's root.
pub fn pod_dir(settings: &Settings, uid: &str) -> PathBuf {
    settings.root_dir.join(PODS_DIR).join(uid)
}

/// The runtime's name for a pod's memory volume.
pub fn memory_volume_name(uid: &str, volume: &str) -> String {
    format!("k8s_{uid}_{volume}")
}

/// A node path (`/data`) as the kubelet and the engine reach it: under the
/// node's root, or under the shared root when every node shares it.
fn node_path(settings: &Settings, path: &str) -> PathBuf {
    let relative = Path::new(path.trim_start_matches('/'));
    let root = if settings.shared.shares(relative) { &settings.shared.root } else { &settings.root_dir };
    root.join(relative)
}

/// Makes every volume of the pod ready to mount (idempotent: each sync may call it).
pub async fn set_up(
    pod: &Pod,
    uid: &str,
    settings: &Settings,
    runtime: &dyn Runtime,
    api: &dyn PodApi,
) -> Result<PodVolumes, SetUpError> {
    let mut volumes = PodVolumes::default();
    let now = jiff::Timestamp::now();
    for v in pod.spec.as_ref().and_then(|s| s.volumes.as_ref()).into_iter().flatten() {
        let failed = |message: String| SetUpError { volume: v.name.clone(), message };
        if let Some(payload) = payload(v, pod, settings, api).await {
            let payload = payload.map_err(failed)?;
            let dir = content_dir(v, uid, settings);
            let source = match &dir {
                Some(dir) => {
                    write_dir(dir, &payload, now).map_err(failed)?;
                    Source::Path(dir.clone())
                }
                None => {
                    let name = memory_volume_name(uid, &v.name);
                    let volume = MemoryVolume {
                        name: name.clone(),
                        pod_uid: uid.into(),
                        node: settings.node_name.clone(),
                        size_bytes: None,
                    };
                    runtime.create_memory_volume(&volume).await.map_err(|e| failed(e.to_string()))?;
                    Source::Memory(name)
                }
            };
            volumes.sources.insert(v.name.clone(), source);
            volumes.content.insert(v.name.clone(), Content { payload, dir, written: false });
            continue;
        }
        if let Some(source) = set_up_one(v, uid, pod.namespace(), settings, runtime, api).await.map_err(failed)? {
            if v.persistent_volume_claim.as_ref().is_some_and(|c| c.read_only == Some(true)) {
                volumes.read_only.insert(v.name.clone());
            }
            let disk_limit = v.empty_dir.as_ref().and_then(|e| e.size_limit.as_ref());
            if let (Source::Path(dir), Some(limit)) = (&source, disk_limit) {
                let bytes = api::quantity::parse(limit.0.trim())
                    .map_err(|e| failed(format!("invalid sizeLimit {:?}: {e}", limit.0)))?
                    .value();
                let limited = SizeLimited { volume: v.name.clone(), dir: dir.clone(), limit: limit.0.clone(), bytes };
                volumes.limited.push(limited);
            }
            volumes.sources.insert(v.name.clone(), source);
        }
    }
    Ok(volumes)
}

/// A content volume's directory on disk; None for the ones kept in memory (secret, projected).
fn content_dir(v: &Volume, uid: &str, settings: &Settings) -> Option<PathBuf> {
    let plugin = if v.config_map.is_some() {
        "kubernetes.io~configmap"
    } else if v.downward_api.is_some() {
        "kubernetes.io~downward-api"
    } else {
        return None;
    };
    Some(pod_dir(settings, uid).join("volumes").join(plugin).join(&v.name))
}

fn write_dir(dir: &Path, payload: &Payload, now: jiff::Timestamp) -> Result<(), String> {
    atomic::write(dir, payload, &atomic::version_name(now))
        .map(drop)
        .map_err(|e| format!("writing {}: {e}", dir.display()))
}

/// The files of a configMap, secret, downwardAPI or projected volume as they
/// are now; None for other volume types. Errors are Kubernetes' messages.
pub async fn payload(v: &Volume, pod: &Pod, settings: &Settings, api: &dyn PodApi) -> Option<Result<Payload, String>> {
    let ns = pod.namespace();
    let mut out = Payload::new();
    let result = if let Some(cm) = &v.config_map {
        let mode = cm.default_mode.unwrap_or(DEFAULT_MODE);
        let optional = cm.optional == Some(true);
        config_map_files(api, ns, &cm.name, cm.items.as_deref(), mode, optional, &mut out).await
    } else if let Some(secret) = &v.secret {
        let mode = secret.default_mode.unwrap_or(DEFAULT_MODE);
        let name = secret.secret_name.as_deref().unwrap_or("");
        let optional = secret.optional == Some(true);
        secret_files(api, ns, name, secret.items.as_deref(), mode, optional, &mut out).await
    } else if let Some(d) = &v.downward_api {
        let mode = d.default_mode.unwrap_or(DEFAULT_MODE);
        downward_files(pod, settings, d.items.as_deref().unwrap_or_default(), mode, &mut out)
    } else if let Some(p) = &v.projected {
        let mode = p.default_mode.unwrap_or(DEFAULT_MODE);
        projected_files(api, pod, settings, p.sources.as_deref().unwrap_or_default(), mode, &mut out).await
    } else {
        return None;
    };
    Some(result.map(|()| out))
}

async fn projected_files(
    api: &dyn PodApi,
    pod: &Pod,
    settings: &Settings,
    sources: &[k8s_openapi::api::core::v1::VolumeProjection],
    mode: i32,
    out: &mut Payload,
) -> Result<(), String> {
    let ns = pod.namespace();
    for source in sources {
        if let Some(ConfigMapProjection { name, items, optional }) = &source.config_map {
            config_map_files(api, ns, name, items.as_deref(), mode, *optional == Some(true), out).await?;
        }
        if let Some(SecretProjection { name, items, optional }) = &source.secret {
            secret_files(api, ns, name, items.as_deref(), mode, *optional == Some(true), out).await?;
        }
        if let Some(d) = &source.downward_api {
            downward_files(pod, settings, d.items.as_deref().unwrap_or_default(), mode, out)?;
        }
        // serviceAccountToken (and clusterTrustBundle) sources: skipped, see the module doc.
    }
    Ok(())
}

/// A file's mode as the API gives it (an int32 of permission bits).
fn file_mode(mode: i32) -> u32 {
    (mode as u32) & 0o7777
}

/// Adds the files of `keys` (the object's data) as `items` select them, or
/// one per key without items. `missing` is the message for an item's key the
/// object lacks (ignored when `optional`).
fn key_files(
    keys: &BTreeMap<String, Vec<u8>>,
    items: Option<&[KeyToPath]>,
    mode: i32,
    optional: bool,
    missing: &dyn Fn(&str) -> String,
    out: &mut Payload,
) -> Result<(), String> {
    let mut add = |path: &str, data: &[u8], mode: i32| -> Result<(), String> {
        atomic::valid_path(path)?;
        out.insert(path.to_string(), File { data: data.to_vec(), mode: file_mode(mode) });
        Ok(())
    };
    match items {
        None | Some([]) => {
            for (key, data) in keys {
                add(key, data, mode)?;
            }
        }
        Some(items) => {
            for item in items {
                match keys.get(&item.key) {
                    Some(data) => add(&item.path, data, item.mode.unwrap_or(mode))?,
                    None if optional => {}
                    None => return Err(missing(&item.key)),
                }
            }
        }
    }
    Ok(())
}

async fn config_map_files(
    api: &dyn PodApi,
    ns: &str,
    name: &str,
    items: Option<&[KeyToPath]>,
    mode: i32,
    optional: bool,
    out: &mut Payload,
) -> Result<(), String> {
    let cm = api.config_map(ns, name).await.map_err(|e| format!("failed to get configmap {name:?}: {e}"))?;
    let Some(cm) = cm else {
        return if optional { Ok(()) } else { Err(format!("configmap {name:?} not found")) };
    };
    let mut keys: BTreeMap<String, Vec<u8>> = cm.data.into_iter().flatten().map(|(k, v)| (k, v.into_bytes())).collect();
    keys.extend(cm.binary_data.into_iter().flatten().map(|(k, v)| (k, v.0)));
    let missing = |key: &str| format!("configmap references non-existent config key: {key}");
    key_files(&keys, items, mode, optional, &missing, out)
}

async fn secret_files(
    api: &dyn PodApi,
    ns: &str,
    name: &str,
    items: Option<&[KeyToPath]>,
    mode: i32,
    optional: bool,
    out: &mut Payload,
) -> Result<(), String> {
    let secret = api.secret(ns, name).await.map_err(|e| format!("failed to get secret {name:?}: {e}"))?;
    let Some(secret) = secret else {
        return if optional { Ok(()) } else { Err(format!("secret {name:?} not found")) };
    };
    let keys: BTreeMap<String, Vec<u8>> = secret.data.into_iter().flatten().map(|(k, v)| (k, v.0)).collect();
    let missing = |key: &str| format!("references non-existent secret key: {key}");
    key_files(&keys, items, mode, optional, &missing, out)
}

/// The downward API's files: pod fields and container resources.
fn downward_files(
    pod: &Pod,
    settings: &Settings,
    items: &[DownwardAPIVolumeFile],
    mode: i32,
    out: &mut Payload,
) -> Result<(), String> {
    for item in items {
        atomic::valid_path(&item.path)?;
        let data = if let Some(field) = &item.field_ref {
            match field.field_path.as_str() {
                "metadata.labels" => format_map(pod.metadata.labels.as_ref()),
                "metadata.annotations" => format_map(pod.metadata.annotations.as_ref()),
                path => field_value(pod, "", "", path).map_err(|e| e.to_string())?,
            }
        } else if let Some(r) = &item.resource_field_ref {
            let wanted = r.container_name.as_deref().unwrap_or("");
            let containers =
                pod.spec.iter().flat_map(|s| s.containers.iter().chain(s.init_containers.iter().flatten()));
            let Some(container) = containers.into_iter().find(|c| c.name == wanted) else {
                return Err(format!("container {wanted:?} not found in pod for resourceFieldRef of {:?}", item.path));
            };
            let divisor = r.divisor.as_ref().map_or("1", |d| d.0.as_str());
            resource_value(container, settings.node_cpu_millis, settings.node_memory_bytes, &r.resource, divisor)
                .map_err(|e| e.to_string())?
        } else {
            continue;
        };
        out.insert(item.path.clone(), File { data: data.into_bytes(), mode: file_mode(item.mode.unwrap_or(mode)) });
    }
    Ok(())
}

/// Labels or annotations as Kubernetes writes them to a file: `key="value"`
/// lines sorted by key, values quoted as Go's %q, no newline after the last.
pub fn format_map(map: Option<&BTreeMap<String, String>>) -> String {
    let lines: Vec<String> = map.into_iter().flatten().map(|(k, v)| format!("{k}={}", go_quote(v))).collect();
    lines.join("\n")
}

/// A string as Go's `%q` prints it.
fn go_quote(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\u{b}' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => out.push_str(&format!("\\x{:02x}", c as u32)),
            c if c.is_control() => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

async fn set_up_one(
    v: &Volume,
    uid: &str,
    namespace: &str,
    settings: &Settings,
    runtime: &dyn Runtime,
    api: &dyn PodApi,
) -> Result<Option<Source>, String> {
    if let Some(claim) = &v.persistent_volume_claim {
        return claim_path(api, namespace, &claim.claim_name, settings).await.map(|p| Some(Source::Path(p)));
    }
    if let Some(empty) = &v.empty_dir {
        if empty.medium.as_deref() == Some("Memory") {
            let size_bytes = match &empty.size_limit {
                Some(q) => Some(
                    api::quantity::parse(q.0.trim()).map_err(|e| format!("invalid sizeLimit {:?}: {e}", q.0))?.value(),
                ),
                None => None,
            };
            let name = memory_volume_name(uid, &v.name);
            let volume =
                MemoryVolume { name: name.clone(), pod_uid: uid.into(), node: settings.node_name.clone(), size_bytes };
            runtime.create_memory_volume(&volume).await.map_err(|e: RuntimeError| e.to_string())?;
            return Ok(Some(Source::Memory(name)));
        }
        if let Some(medium) = empty.medium.as_deref().filter(|m| !m.is_empty()) {
            return Err(format!("unknown storage medium {medium:?}"));
        }
        let dir = pod_dir(settings, uid).join("volumes/kubernetes.io~empty-dir").join(&v.name);
        make_dir(&dir, 0o777).map_err(|e| format!("mkdir {}: {e}", dir.display()))?;
        return Ok(Some(Source::Path(dir)));
    }
    if let Some(hp) = &v.host_path {
        return host_path(hp, settings).map(|p| Some(Source::Path(p)));
    }
    if let Some(git) = &v.git_repo {
        let dir = pod_dir(settings, uid).join("volumes/kubernetes.io~git-repo").join(&v.name);
        super::git_repo::set_up(git, &dir).await?;
        return Ok(Some(Source::Path(dir)));
    }
    Err(unsupported(v))
}

/// Why a volume of a type kubelab's nodes cannot provide (a cloud disk, an
/// NFS share, ...) does not mount: the pod waits in ContainerCreating with
/// this `FailedMount` message, as a Kubernetes node without the volume's
/// plugin or cloud leaves it, rather than running without the volume.
fn unsupported(v: &Volume) -> String {
    let json = serde_json::to_value(v).unwrap_or_default();
    let kind = json.as_object().and_then(|m| m.keys().find(|k| *k != "name").cloned()).unwrap_or_default();
    format!(
        "{kind} volumes cannot be attached on kubelab nodes (no cloud provider or storage network): \
         use emptyDir, hostPath or a PersistentVolumeClaim"
    )
}

/// A persistentVolumeClaim volume: the node path of the hostPath volume the
/// claim is bound to (made when its type says so, or has none). A missing or unbound claim
/// is an error with Kubernetes' words; the pod waits and the kubelet retries.
async fn claim_path(api: &dyn PodApi, namespace: &str, claim: &str, settings: &Settings) -> Result<PathBuf, String> {
    let pvc = match api.persistent_volume_claim(namespace, claim).await {
        Ok(Some(pvc)) => pvc,
        Ok(None) => return Err(format!("persistentvolumeclaim {claim:?} not found")),
        Err(e) => return Err(e.to_string()),
    };
    let bound = pvc.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Bound");
    let volume = pvc.spec.as_ref().and_then(|s| s.volume_name.clone()).unwrap_or_default();
    if !bound || volume.is_empty() {
        return Err(format!("error processing PVC {namespace}/{claim}: PVC is not bound"));
    }
    let pv = match api.persistent_volume(&volume).await {
        Ok(Some(pv)) => pv,
        Ok(None) => return Err(format!("persistentvolume {volume:?} not found")),
        Err(e) => return Err(e.to_string()),
    };
    let Some(hp) = pv.spec.as_ref().and_then(|s| s.host_path.as_ref()) else {
        return Err(format!("persistentvolume {volume:?}: only hostPath volumes can be mounted on kubelab nodes"));
    };
    host_path(hp, settings)
}

/// A hostPath (a pod's or a volume's) on this node, checked against its
/// `type`. An untyped path that is missing becomes a directory, as the
/// container runtime makes a missing bind source (the book's /tmp/mongodb on
/// minikube).
fn host_path(hp: &HostPathVolumeSource, settings: &Settings) -> Result<PathBuf, String> {
    let path = node_path(settings, &hp.path);
    check_host_path(hp, &path)?;
    if hp.type_.as_deref().unwrap_or("").is_empty() && fs::symlink_metadata(&path).is_err() {
        make_dir(&path, 0o755).map_err(|e| format!("hostPath {}: {e}", hp.path))?;
    }
    Ok(path)
}

/// Creates a directory (and its parents) and gives it `mode` (umask aside).
fn make_dir(dir: &Path, mode: u32) -> io::Result<()> {
    if !dir.is_dir() {
        fs::DirBuilder::new().recursive(true).mode(mode).create(dir)?;
        fs::set_permissions(dir, fs::Permissions::from_mode(mode))?;
    }
    Ok(())
}

/// Kubernetes' hostPath type checks; the `*OrCreate` types make what is missing.
/// Messages name the path as the pod spec does.
fn check_host_path(hp: &HostPathVolumeSource, path: &Path) -> Result<(), String> {
    let kind = hp.type_.as_deref().unwrap_or("");
    let meta = fs::metadata(path).ok();
    let failed = |what: &str| Err(format!("hostPath type check failed: {} is not {what}", hp.path));
    let is = |f: fn(&fs::FileType) -> bool| meta.as_ref().is_some_and(|m| f(&m.file_type()));
    match kind {
        "" => Ok(()),
        "DirectoryOrCreate" if meta.is_none() => {
            make_dir(path, 0o755).map_err(|e| format!("hostPath DirectoryOrCreate {}: {e}", hp.path))
        }
        "DirectoryOrCreate" | "Directory" if is(fs::FileType::is_dir) => Ok(()),
        "DirectoryOrCreate" | "Directory" => failed("a directory"),
        "FileOrCreate" if meta.is_none() => {
            if let Some(parent) = path.parent() {
                make_dir(parent, 0o755).map_err(|e| format!("hostPath FileOrCreate {}: {e}", hp.path))?;
            }
            fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o644)
                .open(path)
                .map(|_| ())
                .map_err(|e| format!("hostPath FileOrCreate {}: {e}", hp.path))
        }
        "FileOrCreate" | "File" if is(fs::FileType::is_file) => Ok(()),
        "FileOrCreate" | "File" => failed("a file"),
        "Socket" if is(FileTypeExt::is_socket) => Ok(()),
        "Socket" => failed("a socket file"),
        "CharDevice" if is(FileTypeExt::is_char_device) => Ok(()),
        "CharDevice" => failed("a character device"),
        "BlockDevice" if is(FileTypeExt::is_block_device) => Ok(()),
        "BlockDevice" => failed("a block device"),
        other => Err(format!("invalid hostPath type {other:?}")),
    }
}

impl PodVolumes {
    /// Whether a disk emptyDir of the pod has a `sizeLimit` to watch.
    pub fn has_size_limits(&self) -> bool {
        !self.limited.is_empty()
    }

    /// Kubernetes' eviction message for the first disk emptyDir that holds
    /// more than its `sizeLimit`, if one does.
    pub async fn exceeded(&self) -> Option<String> {
        let limited = self.limited.clone();
        let over = tokio::task::spawn_blocking(move || {
            limited.into_iter().find(|l| i64::try_from(disk_usage(&l.dir)).unwrap_or(i64::MAX) > l.bytes)
        })
        .await
        .ok()??;
        Some(format!("Usage of EmptyDir volume {:?} exceeds the limit {:?}. ", over.volume, over.limit))
    }

    /// Recomputes the files of the content volumes and writes those on disk
    /// that changed; memory ones are written by [`Self::write_pending`]. An
    /// object that went missing keeps the files as they were (as Kubernetes),
    /// and is reported.
    pub async fn refresh(&mut self, pod: &Pod, settings: &Settings, api: &dyn PodApi) -> Vec<SetUpError> {
        let mut errors = Vec::new();
        let now = jiff::Timestamp::now();
        for v in pod.spec.as_ref().and_then(|s| s.volumes.as_ref()).into_iter().flatten() {
            let Some(content) = self.content.get_mut(&v.name) else { continue };
            let failed = |message: String| SetUpError { volume: v.name.clone(), message };
            let payload = match payload(v, pod, settings, api).await {
                Some(Ok(p)) => p,
                Some(Err(e)) => {
                    errors.push(failed(e));
                    continue;
                }
                None => continue,
            };
            if payload == content.payload {
                continue;
            }
            if let Some(dir) = &content.dir {
                if let Err(e) = write_dir(dir, &payload, now) {
                    errors.push(failed(e));
                    continue;
                }
            } else {
                content.written = false;
            }
            content.payload = payload;
        }
        errors
    }

    /// Writes the memory volumes whose files changed through the running sandbox.
    pub async fn write_pending(&mut self, sandbox_id: &str, runtime: &dyn Runtime) -> Result<(), SetUpError> {
        for (name, content) in self.content.iter_mut().filter(|(_, c)| c.dir.is_none() && !c.written) {
            let version = atomic::version_name(jiff::Timestamp::now());
            runtime
                .write_memory_volume(sandbox_id, &sandbox_path(name), &content.payload, &version)
                .await
                .map_err(|e| SetUpError { volume: name.clone(), message: e.to_string() })?;
            content.written = true;
        }
        Ok(())
    }

    /// The container's mounts: each volumeMount of a volume that is set up,
    /// with its subPath (created in the volume when missing, as Kubernetes
    /// does) and readOnly.
    pub fn mounts(&self, container: &Container) -> Result<Vec<Mount>, MountError> {
        let mut mounts = Vec::new();
        for m in container.volume_mounts.iter().flatten() {
            let Some(source) = self.sources.get(&m.name) else { continue };
            let sub = m.sub_path.as_deref().unwrap_or("");
            let source = match source {
                Source::Path(base) if sub.is_empty() => MountSource::Path(base.display().to_string()),
                Source::Path(base) => {
                    // Validation keeps subPath relative and without `..`.
                    let path = base.join(sub.trim_start_matches('/'));
                    if !path.exists() {
                        make_dir(&path, 0o755).map_err(|e| {
                            let (volume, container) = (&m.name, &container.name);
                            MountError(format!(
                                "failed to create subPath directory for volumeMount {volume:?} of container {container:?}: {e}"
                            ))
                        })?;
                    }
                    MountSource::Path(path.display().to_string())
                }
                Source::Memory(name) if sub.is_empty() => MountSource::Volume(name.clone()),
                Source::Memory(_) => return Err(memory_sub_path(sub, &m.name)),
            };
            // Content volumes are always read-only, as Kubernetes mounts them.
            let read_only =
                m.read_only.unwrap_or(false) || self.content.contains_key(&m.name) || self.read_only.contains(&m.name);
            mounts.push(Mount { source, target: m.mount_path.clone(), read_only });
        }
        Ok(mounts)
    }

    /// The sandbox's mounts: every memory volume, so it stays mounted.
    pub fn sandbox_mounts(&self) -> Vec<Mount> {
        let mut names: Vec<(&String, &String)> = self
            .sources
            .iter()
            .filter_map(|(volume, s)| match s {
                Source::Memory(name) => Some((volume, name)),
                Source::Path(_) => None,
            })
            .collect();
        names.sort();
        names
            .into_iter()
            .map(|(volume, name)| Mount {
                source: MountSource::Volume(name.clone()),
                target: sandbox_path(volume),
                read_only: false,
            })
            .collect()
    }
}

/// Docker 20.10 cannot mount a part of a volume.
fn memory_sub_path(sub: &str, volume: &str) -> MountError {
    MountError(format!(
        "subPath {sub:?} of the medium: Memory emptyDir {volume:?} is not supported by kubelab's Docker runtime"
    ))
}

/// Removes what a pod's volumes left on the node: its emptyDirs (hostPaths stay).
pub async fn tear_down(uid: &str, settings: &Settings, runtime: &dyn Runtime) -> Result<(), String> {
    runtime.remove_pod_volumes(&settings.node_name, uid).await.map_err(|e| e.to_string())?;
    let dir = pod_dir(settings, uid);
    match fs::remove_dir_all(&dir) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(format!("removing {}: {e}", dir.display())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::testing::RecordingApi;
    use serde_json::json;

    #[tokio::test]
    async fn a_claim_volume_is_its_bound_volumes_node_path_and_waits_while_unbound() {
        let api = RecordingApi::default();
        let mut settings = Settings::for_tests("claims");
        let root = tempfile::tempdir().unwrap();
        settings.root_dir = root.path().to_path_buf();

        let err = claim_path(&api, "default", "mongodb-pvc", &settings).await.unwrap_err();
        assert_eq!(err, "persistentvolumeclaim \"mongodb-pvc\" not found");

        let claim = |name: &str, volume: &str, phase: &str| {
            json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim",
                   "metadata": {"name": name, "namespace": "default"},
                   "spec": {"resources": {"requests": {"storage": "1Gi"}}, "accessModes": ["ReadWriteOnce"],
                            "storageClassName": "", "volumeName": volume},
                   "status": {"phase": phase}})
        };
        api.put_claim(claim("mongodb-pvc", "", "Pending"));
        let err = claim_path(&api, "default", "mongodb-pvc", &settings).await.unwrap_err();
        assert_eq!(err, "error processing PVC default/mongodb-pvc: PVC is not bound");

        api.put_claim(claim("mongodb-pvc", "pvc-1", "Bound"));
        let err = claim_path(&api, "default", "mongodb-pvc", &settings).await.unwrap_err();
        assert_eq!(err, "persistentvolume \"pvc-1\" not found");
        api.put_volume(json!({"apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": "pvc-1"},
                        "spec": {"capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"],
                                 "hostPath": {"path": "/tmp/hostpath-provisioner/default/mongodb-pvc",
                                              "type": "DirectoryOrCreate"}}}));
        let path = claim_path(&api, "default", "mongodb-pvc", &settings).await.unwrap();
        assert_eq!(path, root.path().join("tmp/hostpath-provisioner/default/mongodb-pvc"));
        assert!(path.is_dir(), "DirectoryOrCreate made it");

        api.put_volume(json!({"apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": "mongodb-pv"},
                             "spec": {"capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"],
                                      "hostPath": {"path": "/tmp/mongodb"}}}));
        api.put_claim(claim("book", "mongodb-pv", "Bound"));
        let path = claim_path(&api, "default", "book", &settings).await.unwrap();
        assert!(path.is_dir(), "an untyped missing path is made, as the runtime makes a bind source");
    }

    #[test]
    fn an_untyped_missing_host_path_is_made_and_a_typed_one_is_checked() {
        let root = tempfile::tempdir().unwrap();
        let mut settings = Settings::for_tests("hostpath");
        settings.root_dir = root.path().to_path_buf();
        let untyped = HostPathVolumeSource { path: "/tmp/mongodb".into(), type_: None };
        let path = host_path(&untyped, &settings).unwrap();
        assert!(path.is_dir(), "made, as the runtime makes a missing bind source");
        let typed = HostPathVolumeSource { path: "/srv/missing".into(), type_: Some("Directory".into()) };
        let err = host_path(&typed, &settings).unwrap_err();
        assert!(err.contains("/srv/missing"), "{err}");
        assert!(!root.path().join("srv/missing").exists());
    }

    #[tokio::test]
    async fn a_shared_path_is_the_same_directory_on_every_node() {
        let nodes = tempfile::tempdir().unwrap();
        let shared = tempfile::tempdir().unwrap();
        let node = |name: &str| {
            let mut settings = Settings::for_tests(name);
            settings.root_dir = nodes.path().join(name);
            settings.shared = super::super::SharedPaths {
                root: shared.path().into(),
                paths: vec!["/tmp/hostpath-provisioner".into()],
            };
            settings
        };
        let (one, two) = (node("one"), node("two"));
        let provisioned = "/tmp/hostpath-provisioner/default/data";
        assert_eq!(node_path(&one, provisioned), shared.path().join("tmp/hostpath-provisioner/default/data"));
        assert_eq!(node_path(&one, provisioned), node_path(&two, provisioned));
        // Only whole components match, and other paths stay the node's own.
        assert_eq!(
            node_path(&one, "/tmp/hostpath-provisioner2/x"),
            nodes.path().join("one/tmp/hostpath-provisioner2/x")
        );
        assert_eq!(node_path(&one, "/tmp/mongodb"), nodes.path().join("one/tmp/mongodb"));
        assert_ne!(node_path(&one, "/tmp/mongodb"), node_path(&two, "/tmp/mongodb"));
    }

    #[tokio::test]
    async fn a_cloud_disk_fails_to_mount_and_says_why() {
        let api = RecordingApi::default();
        let runtime = crate::runtime::fake::FakeRuntime::new();
        let settings = Settings::for_tests("cloud");
        let pod: Pod = serde_json::from_value(json!({
            "metadata": {"name": "mongodb", "namespace": "default", "uid": "u1"},
            "spec": {"containers": [{"name": "mongodb", "image": "mongo"}],
                     "volumes": [{"name": "mongodb-data", "gcePersistentDisk": {"pdName": "mongodb", "fsType": "ext4"}}]}
        }))
        .unwrap();
        let err = set_up(&pod, "u1", &settings, &runtime, &api).await.unwrap_err();
        assert_eq!(
            err.to_string(),
            "MountVolume.SetUp failed for volume \"mongodb-data\" : gcePersistentDisk volumes cannot be attached on \
             kubelab nodes (no cloud provider or storage network): use emptyDir, hostPath or a PersistentVolumeClaim"
        );
    }

    #[test]
    fn a_read_only_claims_mounts_are_read_only() {
        let mut v = PodVolumes::default();
        for name in ["data", "rw"] {
            v.sources.insert(name.into(), Source::Path(PathBuf::from(format!("/node/{name}"))));
        }
        v.read_only.insert("data".into());
        let c: Container = serde_json::from_value(json!({"name": "m", "volumeMounts": [
            {"name": "data", "mountPath": "/data/db"}, {"name": "rw", "mountPath": "/rw"}]}))
        .unwrap();
        let read_only: Vec<bool> = v.mounts(&c).unwrap().iter().map(|m| m.read_only).collect();
        assert_eq!(read_only, [true, false]);
    }

    fn volume(v: serde_json::Value) -> Volume {
        serde_json::from_value(v).unwrap()
    }

    fn text(p: &Payload, k: &str) -> String {
        String::from_utf8(p[k].data.clone()).unwrap()
    }

    /// The book's downward-api-volume.yaml pod.
    fn downward_pod() -> Pod {
        serde_json::from_value(json!({
            "metadata": {"name": "downward", "namespace": "default", "uid": "u-1",
                         "labels": {"foo": "bar", "app": "x"},
                         "annotations": {"key1": "value1", "key2": "multi\nline\nvalue\n"}},
            "spec": {"containers": [{"name": "main", "image": "busybox", "resources": {
                "requests": {"cpu": "15m", "memory": "100Ki"}, "limits": {"cpu": "100m", "memory": "4Mi"}}}]},
        }))
        .unwrap()
    }

    #[tokio::test]
    async fn the_books_downward_api_volume() {
        let v = volume(json!({"name": "downward", "downwardAPI": {"items": [
            {"path": "podName", "fieldRef": {"fieldPath": "metadata.name"}},
            {"path": "podNamespace", "fieldRef": {"fieldPath": "metadata.namespace"}},
            {"path": "uid", "fieldRef": {"fieldPath": "metadata.uid"}, "mode": 0o400},
            {"path": "labels", "fieldRef": {"fieldPath": "metadata.labels"}},
            {"path": "annotations", "fieldRef": {"fieldPath": "metadata.annotations"}},
            {"path": "foo", "fieldRef": {"fieldPath": "metadata.labels['foo']"}},
            {"path": "containerCpuRequestMilliCores",
             "resourceFieldRef": {"containerName": "main", "resource": "requests.cpu", "divisor": "1m"}},
            {"path": "containerMemoryLimitBytes",
             "resourceFieldRef": {"containerName": "main", "resource": "limits.memory", "divisor": 1}},
        ]}}));
        let api = RecordingApi::default();
        let settings = Settings::for_tests("node1");
        let p = payload(&v, &downward_pod(), &settings, &api).await.unwrap().unwrap();
        assert_eq!(text(&p, "podName"), "downward");
        assert_eq!(text(&p, "podNamespace"), "default");
        assert_eq!((text(&p, "uid"), p["uid"].mode, p["podName"].mode), ("u-1".into(), 0o400, 0o644));
        assert_eq!(text(&p, "labels"), "app=\"x\"\nfoo=\"bar\"", "sorted key=\"value\" lines, no final newline");
        assert_eq!(text(&p, "annotations"), "key1=\"value1\"\nkey2=\"multi\\nline\\nvalue\\n\"");
        assert_eq!(text(&p, "foo"), "bar");
        assert_eq!(text(&p, "containerCpuRequestMilliCores"), "15");
        assert_eq!(text(&p, "containerMemoryLimitBytes"), "4194304");

        let bad = volume(json!({"name": "d", "downwardAPI": {"items": [
            {"path": "x", "resourceFieldRef": {"containerName": "nope", "resource": "limits.cpu"}}]}}));
        assert!(payload(&bad, &downward_pod(), &settings, &api).await.unwrap().is_err());
    }

    #[test]
    fn go_quoting_matches_percent_q() {
        assert_eq!(go_quote("plain"), "\"plain\"");
        assert_eq!(go_quote("a\"b\\c\td\u{1}é"), "\"a\\\"b\\\\c\\td\\x01é\"");
        assert_eq!(format_map(None), "");
    }

    #[tokio::test]
    async fn config_map_and_secret_items_modes_and_optional() {
        let api = RecordingApi::default();
        api.put_config_map(json!({"metadata": {"name": "cm", "namespace": "default"},
            "data": {"a": "1", "b": "2"}, "binaryData": {"bin": "AAE="}}));
        api.put_secret(json!({"metadata": {"name": "s", "namespace": "default"}, "data": {"k": "dg=="}}));
        let settings = Settings::for_tests("node1");
        let pod = downward_pod();
        let get = |v: serde_json::Value| {
            let v = volume(v);
            let (api, settings, pod) = (&api, &settings, &pod);
            async move { payload(&v, pod, settings, api).await.unwrap() }
        };
        let all = get(json!({"name": "c", "configMap": {"name": "cm"}})).await.unwrap();
        assert_eq!(all.keys().collect::<Vec<_>>(), ["a", "b", "bin"]);
        assert_eq!((all["bin"].data.clone(), all["a"].mode), (vec![0, 1], 0o644));
        let items = get(json!({"name": "c", "configMap": {"name": "cm", "defaultMode": 0o400,
            "items": [{"key": "a", "path": "dir/a.conf"}, {"key": "b", "path": "b", "mode": 0o755}]}}))
        .await
        .unwrap();
        assert_eq!((items["dir/a.conf"].mode, items["b"].mode), (0o400, 0o755));
        assert_eq!(items.len(), 2);
        let cases = [
            (json!({"name": "c", "configMap": {"name": "nope"}}), "configmap \"nope\" not found"),
            (
                json!({"name": "c", "configMap": {"name": "cm", "items": [{"key": "zz", "path": "z"}]}}),
                "configmap references non-existent config key: zz",
            ),
            (json!({"name": "c", "secret": {"secretName": "nope"}}), "secret \"nope\" not found"),
            (
                json!({"name": "c", "secret": {"secretName": "s", "items": [{"key": "zz", "path": "z"}]}}),
                "references non-existent secret key: zz",
            ),
            (
                json!({"name": "c", "configMap": {"name": "cm", "items": [{"key": "a", "path": "../a"}]}}),
                "invalid path \"../a\": must not start with '..'",
            ),
        ];
        for (v, want) in cases {
            assert_eq!(get(v.clone()).await.unwrap_err(), want, "{v}");
        }
        let optional = get(json!({"name": "c", "configMap": {"name": "cm", "optional": true,
            "items": [{"key": "zz", "path": "z"}, {"key": "a", "path": "a"}]}}))
        .await
        .unwrap();
        assert_eq!(optional.keys().collect::<Vec<_>>(), ["a"]);
        let secret = get(json!({"name": "c", "secret": {"secretName": "s"}})).await.unwrap();
        assert_eq!(secret["k"].data, b"v");
        let empty = get(json!({"name": "c", "secret": {"secretName": "nope", "optional": true}})).await.unwrap();
        assert!(empty.is_empty());
        assert!(payload(&volume(json!({"name": "e", "emptyDir": {}})), &pod, &settings, &api).await.is_none());
    }
}
