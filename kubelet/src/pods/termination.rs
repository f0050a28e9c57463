//! Termination messages: what a container says about its end, shown in
//! `state.terminated.message` (and `kubectl describe`'s `Message:`).
//!
//! Each instance of a container gets an empty file of its own under the pod's
//! dir, `containers/<name>/<restart count>`, bound at its
//! `terminationMessagePath` (`/dev/termination-log` by default), as
//! Kubernetes' kubelet does. Once the instance has exited, the message is the
//! file's last 4096 bytes; with `terminationMessagePolicy:
//! FallbackToLogsOnError`, an empty file and a non-zero exit code, it is the
//! last 2048 bytes of its last 80 log lines instead.

use super::volumes::pod_dir;
use super::Settings;
use crate::runtime::{ContainerInfo, LogOptions, Mount, MountSource, Runtime};
use futures::StreamExt;
use k8s_openapi::api::core::v1::Container;
use std::io::{self, Read, Seek, SeekFrom};
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;

/// Kubernetes' `MaxContainerTerminationMessageLength`.
const MAX_MESSAGE_BYTES: u64 = 4096;
/// Kubernetes' `MaxContainerTerminationMessageLogLines` and `...LogLength`.
const FALLBACK_LINES: i64 = 80;
const FALLBACK_BYTES: usize = 2048;

/// Where one instance of a container writes its message, on the node.
pub fn message_file(settings: &Settings, uid: &str, container: &str, restart_count: u32) -> PathBuf {
    pod_dir(settings, uid).join("containers").join(container).join(restart_count.to_string())
}

/// Makes the empty message file of a new instance and its mount; none when
/// the spec names no path.
pub fn prepare(settings: &Settings, uid: &str, spec: &Container, restart_count: u32) -> io::Result<Option<Mount>> {
    let Some(target) = spec.termination_message_path.as_deref().filter(|p| !p.is_empty()) else { return Ok(None) };
    let file = message_file(settings, uid, &spec.name, restart_count);
    if let Some(dir) = file.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::File::create(&file)?;
    // Whatever user the container runs as may write it.
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o666))?;
    Ok(Some(Mount {
        source: MountSource::Path(file.display().to_string()),
        target: target.to_string(),
        read_only: false,
    }))
}

/// The message of an exited instance ("" when it left none).
pub async fn message(settings: &Settings, spec: &Container, info: &ContainerInfo, runtime: &dyn Runtime) -> String {
    let file = message_file(settings, &info.meta.pod_uid, &spec.name, info.meta.restart_count);
    let written = read_tail(&file).unwrap_or_default();
    let fallback = spec.termination_message_policy.as_deref() == Some("FallbackToLogsOnError");
    if !written.is_empty() || !fallback || info.exit_code == 0 {
        return written;
    }
    let options = LogOptions { tail: Some(FALLBACK_LINES), ..Default::default() };
    let Ok(mut stream) = runtime.logs(&info.id, &options).await else { return String::new() };
    let mut logs = Vec::new();
    while let Some(Ok(chunk)) = stream.next().await {
        logs.extend_from_slice(&chunk);
    }
    let start = logs.len().saturating_sub(FALLBACK_BYTES);
    String::from_utf8_lossy(&logs[start..]).into_owned()
}

/// The file's last [`MAX_MESSAGE_BYTES`] bytes, as text.
fn read_tail(file: &std::path::Path) -> io::Result<String> {
    let mut f = std::fs::File::open(file)?;
    let len = f.metadata()?.len();
    f.seek(SeekFrom::Start(len.saturating_sub(MAX_MESSAGE_BYTES)))?;
    let mut bytes = Vec::new();
    f.read_to_end(&mut bytes)?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_last_4096_bytes_are_kept() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("m");
        let text = format!("{}{}", "a".repeat(100), "b".repeat(4096));
        std::fs::write(&file, &text).unwrap();
        assert_eq!(read_tail(&file).unwrap(), "b".repeat(4096));
        std::fs::write(&file, "I've had enough").unwrap();
        assert_eq!(read_tail(&file).unwrap(), "I've had enough");
    }
}
