//! Lifecycle hooks: a container's `postStart` handler runs right after the
//! container started (the container counts as created, not running, until it
//! returns), and its `preStop` handler right before it is stopped, inside the
//! termination grace period. Each handler is an `exec` in the container, an
//! `httpGet` (or `tcpSocket`) from the node to the pod, or a `sleep`; they
//! run as the probes do ([`crate::runtime::Runtime::probe`]). A failure is
//! the `FailedPostStartHook` or `FailedPreStopHook` event with Kubernetes'
//! message; a failed postStart also kills the container.

use crate::probe::hook_action;
use crate::runtime::{ExecChunk, ProbeAction, ProbeOutcome, ProbeTarget, Runtime};
use client::Object;
use futures::StreamExt;
use k8s_openapi::api::core::v1::{Container, LifecycleHandler, Pod};
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hook {
    PostStart,
    PreStop,
}

impl Hook {
    pub fn handler(self, container: &Container) -> Option<&LifecycleHandler> {
        let lifecycle = container.lifecycle.as_ref()?;
        match self {
            Hook::PostStart => lifecycle.post_start.as_ref(),
            Hook::PreStop => lifecycle.pre_stop.as_ref(),
        }
    }

    /// The runtime's name for it (the fake runtime scripts outcomes by it).
    fn kind(self) -> &'static str {
        match self {
            Hook::PostStart => "poststart",
            Hook::PreStop => "prestop",
        }
    }
}

/// What runs one hook: the pod, the container's spec and runtime id, the pod IP.
pub struct HookTarget<'a> {
    pub pod: &'a Pod,
    pub container: &'a Container,
    pub container_id: &'a str,
    pub pod_ip: &'a str,
}

/// Runs the container's `hook` handler, if it has one, for at most
/// `timeout`. Err is the event's message, in Kubernetes' words.
pub async fn run(runtime: &dyn Runtime, hook: Hook, target: &HookTarget<'_>, timeout: Duration) -> Result<(), String> {
    let Some(handler) = hook.handler(target.container) else { return Ok(()) };
    let pod = format!("{}_{}({})", target.pod.name(), target.pod.namespace(), target.pod.uid());
    let container = &target.container.name;
    let action = match hook_action(handler, target.container) {
        None => {
            let seconds = handler.sleep.as_ref().map_or(0, |s| u64::try_from(s.seconds).unwrap_or(0));
            tokio::time::sleep(Duration::from_secs(seconds).min(timeout)).await;
            return Ok(());
        }
        Some(Err(e)) => {
            return Err(format!("Lifecycle hook for Container {container:?} in Pod {pod:?} is invalid: {e}"))
        }
        Some(Ok(action)) => action,
    };
    if let ProbeAction::Exec { command } = &action {
        let run = exec(runtime, target.container_id, command);
        let error = match tokio::time::timeout(timeout, run).await {
            Ok(Ok(())) => return Ok(()),
            Ok(Err(e)) => e,
            Err(_) => format!("command '{}' timed out after {}s", command.join(" "), timeout.as_secs()),
        };
        return Err(format!(
            "Exec lifecycle hook ({}) for Container {container:?} in Pod {pod:?} failed - error: {error}",
            format_list(command)
        ));
    }
    let probe_target = ProbeTarget {
        pod_namespace: target.pod.namespace().to_string(),
        pod_name: target.pod.name().to_string(),
        container_name: container.clone(),
        container_id: target.container_id.to_string(),
        pod_ip: target.pod_ip.to_string(),
        kind: hook.kind(),
    };
    let outcome = tokio::time::timeout(timeout, runtime.probe(&probe_target, &action, timeout))
        .await
        .unwrap_or_else(|_| ProbeOutcome::Error(format!("timed out after {}s", timeout.as_secs())));
    let error = match outcome {
        ProbeOutcome::Success => return Ok(()),
        ProbeOutcome::Failure(e) | ProbeOutcome::Error(e) => e,
    };
    Err(match &action {
        ProbeAction::Http { path, .. } => {
            format!("HTTP lifecycle hook ({path}) for Container {container:?} in Pod {pod:?} failed - error: {error}")
        }
        _ => format!("TCP lifecycle hook for Container {container:?} in Pod {pod:?} failed - error: {error}"),
    })
}

/// Runs the command in the container; Err says how it failed as Kubernetes'
/// hook runner does (`command '...' exited with N: , message: "..."`).
async fn exec(runtime: &dyn Runtime, container_id: &str, command: &[String]) -> Result<(), String> {
    let session = runtime.exec(container_id, command, false, false).await.map_err(|e| e.to_string())?;
    let mut output = Vec::new();
    let mut stream = session.output;
    while let Some(chunk) = stream.next().await {
        match chunk {
            Ok(ExecChunk::Stdout(b) | ExecChunk::Stderr(b)) => output.extend_from_slice(&b),
            Err(e) => return Err(e.to_string()),
        }
    }
    match runtime.exec_exit_code(&session.id).await.map_err(|e| e.to_string())? {
        0 => Ok(()),
        code => Err(format!(
            "command '{}' exited with {code}: , message: {:?}",
            command.join(" "),
            String::from_utf8_lossy(&output)
        )),
    }
}

/// A command as Go prints a `[]string` (`[sh -c exit 1]`).
fn format_list(items: &[String]) -> String {
    format!("[{}]", items.join(" "))
}
