//! Records Kubernetes Events about objects (`Scheduled`, `Pulled`, `Killing`,
//! ...), aggregated as Kubernetes does: a repeat of the same reason and message
//! about the same object bumps `count` and `lastTimestamp` of the existing Event
//! instead of writing a new one, so `describe` shows `(x3 over 3m35s)`.

use crate::Client;
use api::{meta, registry, ApiError};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// `Normal` or `Warning`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventType {
    Normal,
    Warning,
}

impl EventType {
    fn as_str(self) -> &'static str {
        match self {
            EventType::Normal => "Normal",
            EventType::Warning => "Warning",
        }
    }
}

/// Writes Events on behalf of one component (`default-scheduler`, `kubelet`).
#[derive(Clone)]
pub struct EventRecorder {
    client: Client,
    component: String,
    host: String,
    /// Aggregation key -> the Event's name, for events this recorder wrote.
    seen: Arc<Mutex<HashMap<String, String>>>,
}

impl EventRecorder {
    /// `host` is the node name for node components, "" otherwise.
    pub fn new(client: Client, component: &str, host: &str) -> Self {
        Self { client, component: component.into(), host: host.into(), seen: Default::default() }
    }

    /// Records an event about `obj`; failures are logged, never returned, as an
    /// event is never worth failing the work it describes.
    pub async fn record(&self, obj: &Value, kind: EventType, reason: &str, message: &str) {
        if let Err(e) = self.try_record(obj, kind, reason, message).await {
            tracing::debug!(reason, error = %e, "recording an event failed");
        }
    }

    async fn try_record(&self, obj: &Value, kind: EventType, reason: &str, message: &str) -> Result<(), ApiError> {
        let events = registry::lookup("events").expect("events are registered");
        let namespace = match meta::namespace(obj) {
            "" => "default",
            ns => ns,
        };
        let agg_key = format!("{}/{}/{reason}/{message}", meta::uid(obj), kind.as_str());
        let now = meta::now_rfc3339();
        let existing = self.seen.lock().expect("events lock").get(&agg_key).cloned();
        if let Some(name) = existing {
            if let Ok(mut ev) = self.client.get(events, namespace, &name).await {
                let count = ev["count"].as_i64().unwrap_or(1) + 1;
                ev["count"] = count.into();
                ev["lastTimestamp"] = now.clone().into();
                if self.client.update(events, namespace, &ev).await.is_ok() {
                    return Ok(());
                }
            }
        }
        // Kubernetes names events `<object name>.<unique hex suffix>`.
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_nanos();
        let name = format!("{}.{:x}", meta::name(obj), nanos);
        let mut source = json!({"component": self.component});
        if !self.host.is_empty() {
            source["host"] = self.host.clone().into();
        }
        let event = json!({
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"name": name, "namespace": namespace},
            "involvedObject": {
                "apiVersion": meta::api_version(obj),
                "kind": meta::kind(obj),
                "name": meta::name(obj),
                "namespace": meta::namespace(obj),
                "uid": meta::uid(obj),
                "resourceVersion": meta::resource_version(obj),
            },
            "reason": reason,
            "message": message,
            "type": kind.as_str(),
            "source": source,
            "firstTimestamp": now,
            "lastTimestamp": now,
            "count": 1,
            "reportingComponent": self.component,
            "reportingInstance": self.host,
        });
        self.client.create(events, namespace, &event).await?;
        self.seen.lock().expect("events lock").insert(agg_key, name);
        Ok(())
    }
}
