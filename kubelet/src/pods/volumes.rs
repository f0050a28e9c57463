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
//! for disk-backed `emptyDir`s.
//!
//! A `medium: Memory` emptyDir is a tmpfs volume of the runtime instead
//! ([`Runtime::create_memory_volume`]): a tmpfs the engine mounts per
//! container could not be shared by two containers, and the kubelet cannot
//! mount one where the engine would see it. The pod's sandbox mounts it too,
//! so that the tmpfs stays mounted, with its files, while the app containers
//! restart. Its `sizeLimit` becomes the tmpfs size; a disk emptyDir's is only
//! recorded (not enforced).
//!
//! Other volume types are not set up yet: their mounts are left out.

use super::Settings;
use crate::runtime::{MemoryVolume, Mount, MountSource, Runtime, RuntimeError};
use k8s_openapi::api::core::v1::{Container, HostPathVolumeSource, Pod, Volume};
use std::collections::HashMap;
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

/// A node path (`/data`) as the kubelet and the engine reach it.
fn node_path(settings: &Settings, path: &str) -> PathBuf {
    settings.root_dir.join(path.trim_start_matches('/'))
}

/// Makes every volume of the pod ready to mount (idempotent: each sync may call it).
pub async fn set_up(
    pod: &Pod,
    uid: &str,
    settings: &Settings,
    runtime: &dyn Runtime,
) -> Result<PodVolumes, SetUpError> {
    let mut volumes = PodVolumes::default();
    for v in pod.spec.as_ref().and_then(|s| s.volumes.as_ref()).into_iter().flatten() {
        let failed = |message: String| SetUpError { volume: v.name.clone(), message };
        if let Some(source) = set_up_one(v, uid, settings, runtime).await.map_err(failed)? {
            volumes.sources.insert(v.name.clone(), source);
        }
    }
    Ok(volumes)
}

async fn set_up_one(
    v: &Volume,
    uid: &str,
    settings: &Settings,
    runtime: &dyn Runtime,
) -> Result<Option<Source>, String> {
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
        let path = node_path(settings, &hp.path);
        check_host_path(hp, &path)?;
        return Ok(Some(Source::Path(path)));
    }
    Ok(None)
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
            mounts.push(Mount { source, target: m.mount_path.clone(), read_only: m.read_only.unwrap_or(false) });
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
                target: format!("/kubelab/volumes/{volume}"),
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
