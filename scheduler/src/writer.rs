//! Writes decisions back to the apiserver: the binding, the `Scheduled` and
//! `FailedScheduling` events, and the pod's PodScheduled condition, in
//! kube-scheduler's words. Each write runs on its own task so a slow
//! apiserver never stalls the next decision.

use crate::scheduling::Decision;
use client::events::{EventRecorder, EventType};
use client::{Api, Client, Object, PatchType, Resource};
use k8s_openapi::api::core::v1::{Binding, ObjectReference, Pod, PodCondition, PodStatus};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::jiff::Timestamp;
use serde_json::{json, Value};
use tokio::sync::{mpsc, OwnedSemaphorePermit};

/// The result of one binding: the pod's key and whether it was bound.
pub type BindResult = (String, bool);

#[derive(Clone)]
pub struct Writer {
    client: Client,
    recorder: EventRecorder,
}

/// The PodScheduled condition to write, or None when the pod already says
/// exactly this (so repeated failures do not rewrite the pod each time).
/// `lastTransitionTime` is set only when the status flips, as Kubernetes does.
pub fn unschedulable_condition(pod: &Pod, reason: &str, message: &str) -> Option<PodCondition> {
    let current = api::pod::condition(pod, "PodScheduled");
    let already_false = current.is_some_and(|c| c.status == "False");
    let same = |c: &PodCondition| c.reason.as_deref() == Some(reason) && c.message.as_deref() == Some(message);
    if already_false && current.is_some_and(same) {
        return None;
    }
    Some(PodCondition {
        type_: "PodScheduled".into(),
        status: "False".into(),
        reason: Some(reason.into()),
        message: Some(message.into()),
        last_transition_time: (!already_false).then(|| api::time::to_second(Timestamp::now())),
        ..Default::default()
    })
}

/// The status patch that writes `condition` (merged into the pod's
/// conditions by type). `lastProbeTime` goes as null, clearing any earlier
/// probe time, as Go clients send a zero `metav1.Time`.
pub fn condition_patch(condition: &PodCondition) -> Value {
    let status = PodStatus { conditions: Some(vec![condition.clone()]), ..Default::default() };
    json!({ "status": api::pod::status_json(&status) })
}

impl Writer {
    pub fn new(client: Client, scheduler_name: &str) -> Self {
        let recorder = EventRecorder::new(client.clone(), scheduler_name, "");
        Self { client, recorder }
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

    async fn bind(&self, pod: &Pod, node: &str) -> bool {
        let (ns, name) = (pod.namespace(), pod.name());
        let binding = Binding {
            metadata: ObjectMeta {
                name: Some(name.into()),
                namespace: Some(ns.into()),
                uid: pod.metadata.uid.clone(),
                ..Default::default()
            },
            target: ObjectReference {
                api_version: Some("v1".into()),
                kind: Some("Node".into()),
                name: Some(node.into()),
                ..Default::default()
            },
        };
        // Subresource calls carry JSON: a Binding is posted to its pod, not served as a kind of its own.
        let binding = serde_json::to_value(&binding).expect("a binding always serializes");
        match self.client.create_subresource(Pod::info(), ns, name, "binding", &binding).await {
            Ok(_) => {
                tracing::info!(namespace = ns, name, node, "bound");
                let message = format!("Successfully assigned {ns}/{name} to {node}");
                self.recorder
                    .record(&client::events::reference_to(pod), EventType::Normal, "Scheduled", &message)
                    .await;
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
                self.recorder
                    .record(&client::events::reference_to(pod), EventType::Warning, "FailedScheduling", &message)
                    .await;
                false
            }
        }
    }

    async fn report_failure(&self, pod: &Pod, reason: &str, message: &str) {
        let (ns, name) = (pod.namespace(), pod.name());
        tracing::info!(namespace = ns, name, reason, message, "unable to schedule pod");
        self.recorder.record(&client::events::reference_to(pod), EventType::Warning, "FailedScheduling", message).await;
        let Some(condition) = unschedulable_condition(pod, reason, message) else {
            return;
        };
        let patch = condition_patch(&condition);
        if let Err(e) =
            Api::<Pod>::namespaced(&self.client, ns).patch_status(name, PatchType::StrategicMerge, &patch).await
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
        let pod = |status: Value| -> Pod { serde_json::from_value(json!({"status": status})).expect("a pod") };
        let fresh = pod(json!({"phase": "Pending"}));
        let first = unschedulable_condition(&fresh, "Unschedulable", msg).unwrap();
        assert_eq!(first.status, "False");
        assert_eq!(first.reason.as_deref(), Some("Unschedulable"));
        assert_eq!(first.message.as_deref(), Some(msg));
        assert!(first.last_transition_time.is_some());

        let written = pod(json!({"conditions": [first]}));
        assert_eq!(unschedulable_condition(&written, "Unschedulable", msg), None);

        let other = unschedulable_condition(&written, "Unschedulable", "0/2 nodes are available: 2 Too many pods.")
            .expect("a new message is written");
        assert!(other.last_transition_time.is_none(), "still False: the transition time stays");
        let patch = condition_patch(&other);
        assert_eq!(patch["status"]["conditions"][0].get("lastProbeTime"), Some(&Value::Null));
        assert!(patch["status"]["conditions"][0].get("lastTransitionTime").is_none());
    }
}
