//! Records Kubernetes Events about objects (`Scheduled`, `Pulled`, `Killing`,
//! ...), aggregated as Kubernetes does: a repeat of the same reason and message
//! about the same object bumps `count` and `lastTimestamp` of the existing Event
//! instead of writing a new one, so `describe` shows `(x3 over 3m35s)`.

use crate::{Api, Client, Object};
use api::k8s_openapi::api::core::v1::{Event, ObjectReference};
use api::{registry, ApiError};
use lru::LruCache;
use serde_json::json;
use std::sync::{Arc, Mutex};

/// How many aggregation keys a recorder remembers, as Kubernetes' event
/// correlator does (an LRU of 4,096): a recorder lives as long as its
/// component, which records events about every pod it ever handles.
const REMEMBERED: usize = 4096;

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
    /// Aggregation key -> the Event's name, for recent events this recorder wrote.
    seen: Arc<Mutex<Remembered>>,
}

/// The names of the last [`REMEMBERED`] events written, by aggregation key;
/// the least recently used key is forgotten first.
struct Remembered {
    names: LruCache<String, String>,
    capacity: usize,
}

impl Remembered {
    /// Takes no memory up front (`LruCache::new` would reserve room for every
    /// key, in every recorder, and a hollow-node process has thousands).
    fn new(capacity: usize) -> Self {
        Self { names: LruCache::unbounded(), capacity }
    }

    fn name_of(&mut self, key: &str) -> Option<String> {
        self.names.get(key).cloned()
    }

    fn remember(&mut self, key: String, name: String) {
        self.names.put(key, name);
        while self.names.len() > self.capacity {
            self.names.pop_lru();
        }
    }
}

/// The reference an Event names its object by (Kubernetes' `ref.GetReference`):
/// its kind, name, namespace, uid and the resourceVersion the event is about.
pub fn reference_to<K: Object + api::k8s_openapi::Resource>(obj: &K) -> ObjectReference {
    let set = |s: &str| (!s.is_empty()).then(|| s.to_string());
    ObjectReference {
        api_version: Some(K::API_VERSION.to_string()),
        kind: Some(K::KIND.to_string()),
        name: set(obj.name()),
        namespace: set(obj.namespace()),
        uid: set(obj.uid()),
        resource_version: set(obj.resource_version()),
        ..Default::default()
    }
}

impl EventRecorder {
    /// `host` is the node name for node components, "" otherwise.
    pub fn new(client: Client, component: &str, host: &str) -> Self {
        Self {
            client,
            component: component.into(),
            host: host.into(),
            seen: Arc::new(Mutex::new(Remembered::new(REMEMBERED))),
        }
    }

    /// Records an event about `obj`; failures are logged, never returned, as an
    /// event is never worth failing the work it describes.
    pub async fn record(&self, obj: &ObjectReference, kind: EventType, reason: &str, message: &str) {
        if let Err(e) = self.try_record(obj, kind, reason, message).await {
            tracing::debug!(reason, error = %e, "recording an event failed");
        }
    }

    async fn try_record(
        &self,
        obj: &ObjectReference,
        kind: EventType,
        reason: &str,
        message: &str,
    ) -> Result<(), ApiError> {
        let events = registry::lookup("events").expect("events are registered");
        let field = |f: &Option<String>| f.clone().unwrap_or_default();
        let namespace = match obj.namespace.as_deref() {
            None | Some("") => "default",
            Some(ns) => ns,
        };
        let agg_key = format!("{}/{}/{reason}/{message}", field(&obj.uid), kind.as_str());
        let now = api::time::now();
        let existing = self.seen.lock().expect("events lock").name_of(&agg_key);
        if let Some(name) = existing {
            let api = Api::<Event>::namespaced(&self.client, namespace);
            if let Ok(mut ev) = api.get(&name).await {
                ev.count = Some(ev.count.unwrap_or(1) + 1);
                ev.last_timestamp =
                    api::time::parse(&now).map(api::k8s_openapi::apimachinery::pkg::apis::meta::v1::Time);
                if api.update(&ev).await.is_ok() {
                    return Ok(());
                }
            }
        }
        // Kubernetes names events `<object name>.<unique hex suffix>`.
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_nanos();
        let name = format!("{}.{:x}", field(&obj.name), nanos);
        let mut source = json!({"component": self.component});
        if !self.host.is_empty() {
            source["host"] = self.host.clone().into();
        }
        let event = json!({
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"name": name, "namespace": namespace},
            "involvedObject": {
                "apiVersion": field(&obj.api_version),
                "kind": field(&obj.kind),
                "name": field(&obj.name),
                "namespace": field(&obj.namespace),
                "uid": field(&obj.uid),
                "resourceVersion": field(&obj.resource_version),
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
        self.seen.lock().expect("events lock").remember(agg_key, name);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::Remembered;

    #[test]
    fn remembers_a_bounded_number_of_events_forgetting_the_least_recently_used() {
        let mut seen = Remembered::new(3);
        for i in 0..3 {
            seen.remember(format!("k{i}"), format!("ev{i}"));
        }
        // k0 is used again, so k1 is now the least recently used.
        assert_eq!(seen.name_of("k0").as_deref(), Some("ev0"));
        seen.remember("k3".into(), "ev3".into());
        assert_eq!(seen.name_of("k1"), None);
        for (key, name) in [("k0", "ev0"), ("k2", "ev2"), ("k3", "ev3")] {
            assert_eq!(seen.name_of(key).as_deref(), Some(name));
        }
        assert_eq!(seen.names.len(), 3);
    }
}
