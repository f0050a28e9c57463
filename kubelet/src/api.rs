//! What pod workers write to the API: pod status, the end of a graceful
//! deletion, and events. A trait, so that worker tests record the writes in
//! memory (on tokio's paused clock, where real I/O would not mix) and hollow
//! nodes share one connection.

use api::ApiError;
use client::events::EventRecorder;
use client::{Api, Client, DeleteParams, Object, PatchType};
use k8s_openapi::api::core::v1::{
    ConfigMap, ObjectReference, PersistentVolume, PersistentVolumeClaim, Pod, PodStatus, Secret,
};
use serde_json::json;
use tokio::sync::mpsc;

pub use client::events::EventType;

#[async_trait::async_trait]
pub trait PodApi: Send + Sync + 'static {
    /// Writes the pod's status (the `status` subresource).
    async fn update_status(&self, pod: &Pod, status: &PodStatus) -> Result<(), ApiError>;
    /// Finishes a graceful deletion: deletes the pod object at once, if it is
    /// still the same pod (uid precondition).
    async fn delete_pod(&self, pod: &Pod) -> Result<(), ApiError>;
    /// Records an event about `obj`. Never blocks: events are written in the
    /// background, in order, as Kubernetes' event broadcaster does.
    fn event(&self, obj: &ObjectReference, kind: EventType, reason: &str, message: &str);
    /// The ConfigMap `namespace/name` (env and volumes); None: it does not exist.
    async fn config_map(&self, namespace: &str, name: &str) -> Result<Option<ConfigMap>, ApiError>;
    /// The Secret `namespace/name`; None: it does not exist.
    async fn secret(&self, namespace: &str, name: &str) -> Result<Option<Secret>, ApiError>;
    /// The PersistentVolumeClaim `namespace/name`; None: it does not exist.
    async fn persistent_volume_claim(
        &self,
        namespace: &str,
        name: &str,
    ) -> Result<Option<PersistentVolumeClaim>, ApiError>;
    /// The PersistentVolume `name`; None: it does not exist.
    async fn persistent_volume(&self, name: &str) -> Result<Option<PersistentVolume>, ApiError>;
}

/// A get whose NotFound is None.
fn found<T>(result: Result<T, ApiError>) -> Result<Option<T>, ApiError> {
    match result {
        Ok(v) => Ok(Some(v)),
        Err(e) if e.is_not_found() => Ok(None),
        Err(e) => Err(e),
    }
}

/// Events waiting to be written; beyond this, new ones are dropped (and logged)
/// rather than slowing the pod workers down.
const EVENT_QUEUE: usize = 1000;

/// The real API: a client connection and an event writer task.
pub struct ClientApi {
    client: Client,
    events: mpsc::Sender<(ObjectReference, EventType, String, String)>,
}

impl ClientApi {
    /// `node` names the event source (`kubelet, <node>`); one writer task per node.
    pub fn new(client: Client, node: &str) -> Self {
        let recorder = EventRecorder::new(client.clone(), "kubelet", node);
        let (tx, mut rx) = mpsc::channel::<(ObjectReference, EventType, String, String)>(EVENT_QUEUE);
        tokio::spawn(async move {
            while let Some((obj, kind, reason, message)) = rx.recv().await {
                recorder.record(&obj, kind, &reason, &message).await;
            }
        });
        Self { client, events: tx }
    }
}

#[async_trait::async_trait]
impl PodApi for ClientApi {
    async fn update_status(&self, pod: &Pod, status: &PodStatus) -> Result<(), ApiError> {
        // A merge patch: no resourceVersion to race on, and fields others own stay.
        let patch = json!({ "status": api::pod::status_json(status) });
        Api::<Pod>::namespaced(&self.client, pod.namespace())
            .patch_status(pod.name(), PatchType::Merge, &patch)
            .await
            .map(drop)
    }

    async fn delete_pod(&self, pod: &Pod) -> Result<(), ApiError> {
        let params = DeleteParams {
            grace_period_seconds: Some(0),
            precondition_uid: pod.uid().to_string(),
            ..Default::default()
        };
        match Api::<Pod>::namespaced(&self.client, pod.namespace()).delete(pod.name(), &params).await {
            Ok(_) => Ok(()),
            Err(e) if e.is_not_found() => Ok(()),
            Err(e) => Err(e),
        }
    }

    fn event(&self, obj: &ObjectReference, kind: EventType, reason: &str, message: &str) {
        let reference = obj.clone();
        if self.events.try_send((reference, kind, reason.to_string(), message.to_string())).is_err() {
            tracing::warn!(reason, message, "event queue full; dropping the event");
        }
    }

    async fn config_map(&self, namespace: &str, name: &str) -> Result<Option<ConfigMap>, ApiError> {
        found(Api::<ConfigMap>::namespaced(&self.client, namespace).get(name).await)
    }

    async fn secret(&self, namespace: &str, name: &str) -> Result<Option<Secret>, ApiError> {
        found(Api::<Secret>::namespaced(&self.client, namespace).get(name).await)
    }

    async fn persistent_volume_claim(
        &self,
        namespace: &str,
        name: &str,
    ) -> Result<Option<PersistentVolumeClaim>, ApiError> {
        found(Api::<PersistentVolumeClaim>::namespaced(&self.client, namespace).get(name).await)
    }

    async fn persistent_volume(&self, name: &str) -> Result<Option<PersistentVolume>, ApiError> {
        found(Api::<PersistentVolume>::all(&self.client).get(name).await)
    }
}

#[cfg(test)]
pub mod testing {
    //! A [`PodApi`] that remembers every write, for pod worker tests.

    use super::*;
    use serde_json::Value;
    use std::sync::Mutex;

    #[derive(Debug, Clone, PartialEq)]
    pub struct RecordedEvent {
        pub pod: String,
        pub kind: EventType,
        pub reason: String,
        pub message: String,
    }

    #[derive(Default)]
    pub struct RecordingApi {
        pub statuses: Mutex<Vec<(String, Value)>>,
        pub events: Mutex<Vec<RecordedEvent>>,
        pub deleted: Mutex<Vec<String>>,
        /// ConfigMaps and Secrets by `namespace/name`, as tests put them.
        pub config_maps: Mutex<std::collections::HashMap<String, ConfigMap>>,
        pub secrets: Mutex<std::collections::HashMap<String, Secret>>,
        /// Claims by `namespace/name` and volumes by name, as tests put them.
        pub claims: Mutex<std::collections::HashMap<String, PersistentVolumeClaim>>,
        pub volumes: Mutex<std::collections::HashMap<String, PersistentVolume>>,
    }

    impl RecordingApi {
        /// The last status written for pod `name`.
        pub fn status(&self, name: &str) -> Option<Value> {
            self.statuses.lock().unwrap().iter().rev().find(|(n, _)| n == name).map(|(_, s)| s.clone())
        }
        pub fn status_writes(&self, name: &str) -> usize {
            self.statuses.lock().unwrap().iter().filter(|(n, _)| n == name).count()
        }
        /// `reason: message` of every event so far, in order.
        pub fn event_log(&self) -> Vec<String> {
            self.events.lock().unwrap().iter().map(|e| format!("{}: {}", e.reason, e.message)).collect()
        }
        pub fn count_events(&self, reason: &str) -> usize {
            self.events.lock().unwrap().iter().filter(|e| e.reason == reason).count()
        }
        /// Creates or replaces a ConfigMap from its JSON form.
        pub fn put_config_map(&self, v: Value) {
            let cm: ConfigMap = serde_json::from_value(v).expect("a configmap");
            self.config_maps.lock().unwrap().insert(format!("{}/{}", cm.namespace(), cm.name()), cm);
        }
        /// Creates or replaces a Secret from its JSON form.
        pub fn put_secret(&self, v: Value) {
            let s: Secret = serde_json::from_value(v).expect("a secret");
            self.secrets.lock().unwrap().insert(format!("{}/{}", s.namespace(), s.name()), s);
        }
        /// Creates or replaces a PersistentVolumeClaim from its JSON form.
        pub fn put_claim(&self, v: Value) {
            let c: PersistentVolumeClaim = serde_json::from_value(v).expect("a claim");
            self.claims.lock().unwrap().insert(format!("{}/{}", c.namespace(), c.name()), c);
        }
        /// Creates or replaces a PersistentVolume from its JSON form.
        pub fn put_volume(&self, v: Value) {
            let pv: PersistentVolume = serde_json::from_value(v).expect("a volume");
            self.volumes.lock().unwrap().insert(pv.name().to_string(), pv);
        }
    }

    #[async_trait::async_trait]
    impl PodApi for RecordingApi {
        async fn update_status(&self, pod: &Pod, status: &PodStatus) -> Result<(), ApiError> {
            // Kept as the JSON the API would get, for tests to read.
            let json = api::pod::status_json(status);
            self.statuses.lock().unwrap().push((pod.name().to_string(), json));
            Ok(())
        }
        async fn delete_pod(&self, pod: &Pod) -> Result<(), ApiError> {
            self.deleted.lock().unwrap().push(pod.name().to_string());
            Ok(())
        }
        fn event(&self, obj: &ObjectReference, kind: EventType, reason: &str, message: &str) {
            self.events.lock().unwrap().push(RecordedEvent {
                pod: obj.name.clone().unwrap_or_default(),
                kind,
                reason: reason.into(),
                message: message.into(),
            });
        }
        async fn config_map(&self, namespace: &str, name: &str) -> Result<Option<ConfigMap>, ApiError> {
            Ok(self.config_maps.lock().unwrap().get(&format!("{namespace}/{name}")).cloned())
        }
        async fn secret(&self, namespace: &str, name: &str) -> Result<Option<Secret>, ApiError> {
            Ok(self.secrets.lock().unwrap().get(&format!("{namespace}/{name}")).cloned())
        }
        async fn persistent_volume_claim(
            &self,
            namespace: &str,
            name: &str,
        ) -> Result<Option<PersistentVolumeClaim>, ApiError> {
            Ok(self.claims.lock().unwrap().get(&format!("{namespace}/{name}")).cloned())
        }
        async fn persistent_volume(&self, name: &str) -> Result<Option<PersistentVolume>, ApiError> {
            Ok(self.volumes.lock().unwrap().get(name).cloned())
        }
    }
}
