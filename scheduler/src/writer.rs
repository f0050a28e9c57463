//! Writes decisions back to the apiserver: the binding, the `Scheduled` and
//! `FailedScheduling` events, and the pod's PodScheduled condition, in
//! kube-scheduler's words. Each write runs on its own task so a slow
//! apiserver never stalls the next decision.

use crate::scheduling::Decision;
use api::{meta, registry, ResourceInfo};
use client::events::{EventRecorder, EventType};
use client::{Client, PatchType};
use serde_json::{json, Value};
use std::sync::Arc;
use tokio::sync::{mpsc, OwnedSemaphorePermit};

/// The result of one binding: the pod's key and whether it was bound.
pub type BindResult = (String, bool);

#[derive(Clone)]
pub struct Writer {
    client: Client,
    recorder: EventRecorder,
    pods: &'static ResourceInfo,
}

/// Just enough of the pod for an event's `involvedObject`.
fn pod_reference(pod: &Value) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": meta::name(pod),
            "namespace": meta::namespace(pod),
            "uid": meta::uid(pod),
            "resourceVersion": meta::resource_version(pod),
        },
    })
}

/// The PodScheduled condition to write, or None when the pod already says
/// exactly this (so repeated failures do not rewrite the pod each time).
/// `lastTransitionTime` is set only when the status flips, as Kubernetes does.
pub fn unschedulable_condition(pod: &Value, reason: &str, message: &str) -> Option<Value> {
    let current = pod["status"]["conditions"].as_array().and_then(|cs| cs.iter().find(|c| c["type"] == "PodScheduled"));
    let already_false = current.is_some_and(|c| c["status"] == "False");
    if current.is_some_and(|c| already_false && c["reason"] == reason && c["message"] == message) {
        return None;
    }
    let mut condition = json!({
        "type": "PodScheduled",
        "status": "False",
        "reason": reason,
        "message": message,
        "lastProbeTime": null,
    });
    if !already_false {
        condition["lastTransitionTime"] = meta::now_rfc3339().into();
    }
    Some(condition)
}

impl Writer {
    pub fn new(client: Client, scheduler_name: &str) -> Self {
        let recorder = EventRecorder::new(client.clone(), scheduler_name, "");
        Self { client, recorder, pods: registry::lookup("pods").expect("pods are registered") }
    }

    /// Carries out a decision in the background. `permit` bounds the bindings
    /// in flight; `done` hears how each binding went.
    pub fn spawn(&self, decision: Decision, permit: OwnedSemaphorePermit, done: mpsc::UnboundedSender<BindResult>) {
        let this = self.clone();
        match decision {
            Decision::Bind { pod, node } => {
                tokio::spawn(async move {
                    let ok = this.bind(&pod, &node).await;
                    drop(permit);
                    let _ = done.send((client::watcher::key_of(&pod), ok));
                });
            }
            Decision::Failed { pod, reason, message } => {
                drop(permit);
                tokio::spawn(async move { this.report_failure(&pod, reason, &message).await });
            }
        }
    }

    async fn bind(&self, pod: &Arc<Value>, node: &str) -> bool {
        let (ns, name) = (meta::namespace(pod), meta::name(pod));
        let binding = json!({
            "apiVersion": "v1",
            "kind": "Binding",
            "metadata": {"name": name, "namespace": ns, "uid": meta::uid(pod)},
            "target": {"apiVersion": "v1", "kind": "Node", "name": node},
        });
        match self.client.create_subresource(self.pods, ns, name, "binding", &binding).await {
            Ok(_) => {
                tracing::info!(namespace = ns, name, node, "bound");
                let message = format!("Successfully assigned {ns}/{name} to {node}");
                self.recorder.record(&pod_reference(pod), EventType::Normal, "Scheduled", &message).await;
                true
            }
            Err(e) if e.is_not_found() => {
                tracing::debug!(namespace = ns, name, "pod deleted before it was bound");
                false
            }
            Err(e) => {
                tracing::warn!(namespace = ns, name, node, error = %e, "binding failed");
                // The pod may have been bound or changed meanwhile, so only the
                // event tells of the failure; the retry will set the condition.
                let message = format!("running Bind plugin \"DefaultBinder\": {e}");
                self.recorder.record(&pod_reference(pod), EventType::Warning, "FailedScheduling", &message).await;
                false
            }
        }
    }

    async fn report_failure(&self, pod: &Value, reason: &str, message: &str) {
        let (ns, name) = (meta::namespace(pod), meta::name(pod));
        tracing::info!(namespace = ns, name, reason, message, "unable to schedule pod");
        self.recorder.record(&pod_reference(pod), EventType::Warning, "FailedScheduling", message).await;
        let Some(condition) = unschedulable_condition(pod, reason, message) else {
            return;
        };
        let patch = json!({"status": {"conditions": [condition]}});
        if let Err(e) =
            self.client.patch_subresource(self.pods, ns, name, PatchType::StrategicMerge, &patch, "status").await
        {
            tracing::debug!(namespace = ns, name, error = %e, "updating the PodScheduled condition failed");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_condition_is_written_only_when_it_changes() {
        let msg = "0/1 nodes are available: 1 Insufficient cpu.";
        let fresh = json!({"status": {"phase": "Pending"}});
        let first = unschedulable_condition(&fresh, "Unschedulable", msg).unwrap();
        assert_eq!(first["status"], "False");
        assert_eq!(first["reason"], "Unschedulable");
        assert_eq!(first["message"], msg);
        assert!(first["lastTransitionTime"].is_string());

        let written = json!({"status": {"conditions": [first]}});
        assert_eq!(unschedulable_condition(&written, "Unschedulable", msg), None);

        let other = unschedulable_condition(&written, "Unschedulable", "0/2 nodes are available: 2 Too many pods.")
            .expect("a new message is written");
        assert!(other.get("lastTransitionTime").is_none(), "still False: the transition time stays");
    }
}
