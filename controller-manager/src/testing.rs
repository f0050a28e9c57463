//! Test support: an apiserver over the memory store, served in-process on a
//! loopback port, builders for the objects the controller tests create, and
//! [`FakePodControl`], which records the pod writes a controller asks for.

use crate::pods::{pod_from_template, Owner, PodControl};
use api::k8s_openapi::api::core::v1::{Pod, PodTemplateSpec};
use api::{meta, registry, ApiError, ResourceInfo};
use async_trait::async_trait;
use client::informer::InformerFactory;
use client::Client;
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub fn info(name: &str) -> &'static ResourceInfo {
    registry::lookup(name).expect("a registered resource")
}

/// The flags' defaults, as a test starts from them.
pub fn config() -> crate::Config {
    <crate::Config as clap::Parser>::try_parse_from(["controller-manager"]).expect("default flags")
}

/// A real apiserver (memory store behind the watch cache) for one test.
pub struct TestApi {
    pub client: Client,
}

impl TestApi {
    pub async fn start() -> Self {
        Self { client: apiserver::testing::InMemoryApiServer::start().await.client }
    }

    /// What controllers are built from: an informer factory over this server
    /// (started by the caller once the controllers under test have asked for
    /// their informers), `config` and `clock`.
    pub fn context(&self, config: crate::Config, clock: crate::clock::Clock) -> crate::Context {
        let factory = Arc::new(InformerFactory::new(self.client.clone()));
        crate::Context { client: self.client.clone(), factory, clock, config }
    }

    /// Events about the object named `name`, as `reason: message` lines.
    pub async fn events_about(&self, name: &str) -> Vec<String> {
        let events = self.list("events", "").await;
        events
            .iter()
            .filter(|e| e["involvedObject"]["name"] == name)
            .map(|e| format!("{}: {}", e["reason"].as_str().unwrap_or(""), e["message"].as_str().unwrap_or("")))
            .collect()
    }

    pub async fn create(&self, obj: Value) -> Value {
        let info = registry::by_kind(meta::api_version(&obj), meta::kind(&obj)).expect("a served kind");
        let ns = if info.namespaced { meta::namespace(&obj).to_string() } else { String::new() };
        let ns = if info.namespaced && ns.is_empty() { "default".to_string() } else { ns };
        self.client.create(info, &ns, &obj).await.unwrap_or_else(|e| panic!("creating {}: {e}", meta::name(&obj)))
    }

    pub async fn get(&self, resource: &str, namespace: &str, name: &str) -> Option<Value> {
        match self.client.get(info(resource), namespace, name).await {
            Ok(obj) => Some(obj),
            Err(e) if e.is_not_found() => None,
            Err(e) => panic!("get {resource} {namespace}/{name}: {e}"),
        }
    }

    pub async fn list(&self, resource: &str, namespace: &str) -> Vec<Value> {
        let list = self.client.list(info(resource), namespace, &Default::default()).await.expect("list");
        list["items"].as_array().cloned().unwrap_or_default()
    }

    /// Polls until `check` holds (for at most ten seconds).
    pub async fn eventually<F, Fut>(&self, what: &str, mut check: F)
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = bool>,
    {
        for _ in 0..1000 {
            if check().await {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("timed out waiting until {what}");
    }
}

/// A JSON fixture as the typed object a controller's cache holds.
pub fn typed<K: client::Object>(obj: &Value) -> K {
    serde_json::from_value(obj.clone()).expect("a fixture of its kind")
}

pub fn pod(name: &str, labels: Value) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": "default", "labels": labels},
        "spec": {"containers": [{"name": "kubia", "image": "luksa/kubia"}]},
    })
}

/// The book's `kubia` ReplicationController, with `replicas` replicas.
pub fn rc(name: &str, replicas: i64) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "ReplicationController",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {
            "replicas": replicas,
            "selector": {"app": "kubia"},
            "template": {
                "metadata": {"labels": {"app": "kubia"}},
                "spec": {"containers": [{"name": "kubia", "image": "luksa/kubia", "ports": [{"containerPort": 8080}]}]},
            },
        },
    })
}

/// The book's `kubia` ReplicaSet with a `matchExpressions` selector.
pub fn rs(name: &str, replicas: i64) -> Value {
    json!({
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {
            "replicas": replicas,
            "selector": {"matchExpressions": [{"key": "app", "operator": "In", "values": ["kubia"]}]},
            "template": {
                "metadata": {"labels": {"app": "kubia"}},
                "spec": {"containers": [{"name": "kubia", "image": "luksa/kubia"}]},
            },
        },
    })
}

/// The reference a controller puts on what it creates or adopts, for a JSON
/// owner (tests build owners as JSON).
pub fn controller_ref(owner: &Value) -> Value {
    json!({
        "apiVersion": meta::api_version(owner),
        "kind": meta::kind(owner),
        "name": meta::name(owner),
        "uid": meta::uid(owner),
        "controller": true,
        "blockOwnerDeletion": true,
    })
}

/// An object's owner references, as JSON.
pub fn owner_references(obj: &Value) -> &[Value] {
    obj["metadata"]["ownerReferences"].as_array().map(Vec::as_slice).unwrap_or(&[])
}

/// Starts the informers of `ctx` and runs `controller` until the returned guard
/// is dropped. The guard keeps the informers running too.
pub fn run_controller(ctx: &crate::Context, controller: Arc<dyn crate::runner::Controller>) -> Running {
    ctx.factory.start();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(crate::runner::run(controller, 2, async {
        let _ = stopped.await;
    }));
    Running { _stop: stop, _factory: ctx.factory.clone(), task }
}

pub struct Running {
    _stop: tokio::sync::oneshot::Sender<()>,
    _factory: Arc<InformerFactory>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Running {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A [`PodControl`] that only records what it was asked, as Kubernetes'
/// `FakePodControl`: nothing reaches a server, so tests decide what the
/// controller's caches show.
#[derive(Default)]
pub struct FakePodControl {
    /// The pods it was asked to create, as they would be sent (JSON, so tests
    /// read them as the apiserver would).
    pub created: Mutex<Vec<Value>>,
    pub deleted: Mutex<Vec<String>>,
    pub patched: Mutex<Vec<(String, Value)>>,
    /// When set, creates after this many succeed fail with a quota error.
    pub create_limit: Mutex<Option<usize>>,
    /// Every create asked for, failed or not.
    pub create_attempts: Mutex<usize>,
}

impl FakePodControl {
    pub fn created_count(&self) -> usize {
        self.created.lock().expect("fake lock").len()
    }
    pub fn deleted(&self) -> Vec<String> {
        self.deleted.lock().expect("fake lock").clone()
    }
    pub fn patched(&self) -> Vec<(String, Value)> {
        self.patched.lock().expect("fake lock").clone()
    }
    pub fn clear(&self) {
        self.created.lock().expect("fake lock").clear();
        self.deleted.lock().expect("fake lock").clear();
        self.patched.lock().expect("fake lock").clear();
    }
}

#[async_trait]
impl PodControl for FakePodControl {
    async fn create_pod(&self, template: &PodTemplateSpec, owner: &Owner) -> Result<Pod, ApiError> {
        *self.create_attempts.lock().expect("fake lock") += 1;
        let mut created = self.created.lock().expect("fake lock");
        if self.create_limit.lock().expect("fake lock").is_some_and(|limit| created.len() >= limit) {
            return Err(ApiError::forbidden("pods", "", "exceeded quota: pods"));
        }
        let mut pod = pod_from_template(template, owner);
        pod.metadata.name = Some(format!("{}-{}", owner.name(), created.len()));
        created.push(serde_json::to_value(&pod).expect("a pod serializes"));
        Ok(pod)
    }

    async fn delete_pod(&self, namespace: &str, name: &str, _owner: &Owner) -> Result<(), ApiError> {
        self.deleted.lock().expect("fake lock").push(format!("{namespace}/{name}"));
        Ok(())
    }

    async fn patch_pod(&self, namespace: &str, name: &str, patch: &Value) -> Result<(), ApiError> {
        self.patched.lock().expect("fake lock").push((format!("{namespace}/{name}"), patch.clone()));
        Ok(())
    }
}
