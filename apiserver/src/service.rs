//! The gRPC face of the registry: resolves each request's resource, calls the
//! registry, and carries errors as statuses whose details hold the `ApiError`.

use crate::registry::{DeleteOptions, RawObject, Registry, WriteOptions};
use api::{registry, ApiError, ResourceInfo};
use futures::Stream;
use proto::api_server::Api;
use proto::{
    CreateRequest, DeleteCollectionRequest, DeleteRequest, DiscoveryRequest, DiscoveryResponse, GetRequest,
    ListRequest, Object, ObjectList, PatchRequest, PatchType, ResourceRef, UpdateRequest, VersionRequest,
    VersionResponse, WatchEvent, WatchRequest,
};
use serde_json::{json, Value};
use std::pin::Pin;
use std::sync::Arc;
use tonic::{Request, Response, Status};
use tracing::Instrument;

/// The version kubelab reports: the Kubernetes API version it follows.
pub const GIT_VERSION: &str = "v1.34.0-kubelab";

/// The server's `version.Info`, as `/version` and the gRPC `Version` call answer it.
pub fn version_info() -> Value {
    let arch = if cfg!(target_arch = "x86_64") { "amd64" } else { std::env::consts::ARCH };
    json!({
        "major": "1",
        "minor": "34",
        "gitVersion": GIT_VERSION,
        "gitCommit": "",
        "gitTreeState": "clean",
        "buildDate": "",
        "goVersion": "",
        "compiler": "rustc",
        "platform": format!("{}/{arch}", std::env::consts::OS),
    })
}

pub struct ApiService {
    registry: Arc<Registry>,
}

impl ApiService {
    pub fn new(registry: Arc<Registry>) -> Self {
        Self { registry }
    }
}

fn status(err: ApiError) -> Status {
    proto::status::to_status(&err)
}

fn object(v: &Value) -> Response<Object> {
    Response::new(Object { json: serde_json::to_vec(v).expect("a JSON value always serializes"), resource_version: 0 })
}

fn raw(o: RawObject) -> Object {
    Object { json: o.json, resource_version: o.resource_version }
}

/// The resource a request names, with its namespace ("" for cluster-scoped ones).
fn resolve(r: &Option<ResourceRef>) -> Result<(&'static ResourceInfo, String), Status> {
    let r = r.as_ref().ok_or_else(|| status(ApiError::bad_request("the request names no resource")))?;
    let info = registry::by_resource(&r.group, &r.resource)
        .filter(|i| i.version == r.version || registry::by_kind(&format!("{}/{}", r.group, r.version), i.kind).is_ok())
        .ok_or_else(|| {
            let gv = if r.group.is_empty() { r.version.clone() } else { format!("{}/{}", r.group, r.version) };
            status(ApiError::new(
                api::Reason::NotFound,
                format!("the server could not find the requested resource \"{}\" in {gv}", r.resource),
            ))
        })?;
    let ns = if info.namespaced { r.namespace.clone() } else { String::new() };
    Ok((info, ns))
}

/// The field manager of a gRPC write (see `registry::field_manager`).
fn field_manager<T>(req: &Request<T>, named: &str) -> String {
    let agent = req.metadata().get("user-agent").and_then(|v| v.to_str().ok()).unwrap_or("");
    crate::registry::field_manager(named, agent)
}

/// The options of a gRPC write: field validation is always Strict there.
fn write_options<T>(req: &Request<T>, dry_run: bool, named_manager: &str, force: bool) -> WriteOptions {
    WriteOptions { dry_run, field_manager: field_manager(req, named_manager), force, ..Default::default() }
}

type WatchStream = Pin<Box<dyn Stream<Item = Result<WatchEvent, Status>> + Send>>;

#[tonic::async_trait]
impl Api for ApiService {
    async fn create(&self, req: Request<CreateRequest>) -> Result<Response<Object>, Status> {
        let opts = write_options(&req, req.get_ref().dry_run, &req.get_ref().field_manager, false);
        let req = req.into_inner();
        let (info, ns) = resolve(&req.r#ref)?;
        let span = tracing::debug_span!("create", resource = info.plural, namespace = %ns);
        if req.subresource.is_empty() {
            let created = self.registry.create_raw(info, &ns, &req.json, &opts).instrument(span).await;
            return created.map(|o| Response::new(raw(o))).map_err(status);
        }
        let out = self.registry.create_subresource(info, &ns, &req.name, &req.subresource, &req.json);
        out.instrument(span).await.map(|v| object(&v)).map_err(status)
    }

    async fn get(&self, req: Request<GetRequest>) -> Result<Response<Object>, Status> {
        let req = req.into_inner();
        let (info, ns) = resolve(&req.r#ref)?;
        self.registry.get_raw(info, &ns, &req.name).await.map(|o| Response::new(raw(o))).map_err(status)
    }

    async fn list(&self, req: Request<ListRequest>) -> Result<Response<ObjectList>, Status> {
        let req = req.into_inner();
        let (info, ns) = resolve(&req.r#ref)?;
        let list = self
            .registry
            .list_raw(info, &ns, &req.label_selector, &req.field_selector, req.limit, &req.continue_token)
            .await
            .map_err(status)?;
        Ok(Response::new(ObjectList {
            api_version: info.api_version(),
            kind: info.list_kind(),
            resource_version: list.resource_version,
            continue_token: list.continue_token,
            items: list.items.into_iter().map(raw).collect(),
        }))
    }

    async fn update(&self, req: Request<UpdateRequest>) -> Result<Response<Object>, Status> {
        let opts = write_options(&req, req.get_ref().dry_run, &req.get_ref().field_manager, false);
        let req = req.into_inner();
        let (info, ns) = resolve(&req.r#ref)?;
        self.registry
            .update(info, &ns, &req.name, &req.json, &req.subresource, &opts)
            .await
            .map(|v| object(&v))
            .map_err(status)
    }

    async fn patch(&self, req: Request<PatchRequest>) -> Result<Response<Object>, Status> {
        let r = req.get_ref();
        let opts = write_options(&req, r.dry_run, &r.field_manager, r.force);
        let req = req.into_inner();
        let (info, ns) = resolve(&req.r#ref)?;
        let patch_type = PatchType::try_from(req.patch_type)
            .map_err(|_| status(ApiError::bad_request(format!("unknown patch type {}", req.patch_type))))?;
        self.registry
            .patch(info, &ns, &req.name, patch_type, &req.patch, &req.subresource, &opts)
            .await
            .map(|v| object(&v))
            .map_err(status)
    }

    async fn delete(&self, req: Request<DeleteRequest>) -> Result<Response<Object>, Status> {
        let req = req.into_inner();
        let (info, ns) = resolve(&req.r#ref)?;
        let opts = DeleteOptions {
            grace_period_seconds: (req.grace_period_seconds >= 0).then_some(req.grace_period_seconds),
            precondition_uid: req.precondition_uid,
            precondition_resource_version: req.precondition_resource_version,
            propagation_policy: req.propagation_policy,
        };
        self.registry.delete(info, &ns, &req.name, &opts).await.map(|v| object(&v)).map_err(status)
    }

    async fn delete_collection(&self, req: Request<DeleteCollectionRequest>) -> Result<Response<Object>, Status> {
        let req = req.into_inner();
        let (info, ns) = resolve(&req.r#ref)?;
        let opts = DeleteOptions { propagation_policy: req.propagation_policy, ..Default::default() };
        self.registry
            .delete_collection(info, &ns, &req.label_selector, &req.field_selector, &opts)
            .await
            .map(|v| object(&v))
            .map_err(status)
    }

    type WatchStream = WatchStream;

    async fn watch(&self, req: Request<WatchRequest>) -> Result<Response<Self::WatchStream>, Status> {
        let req = req.into_inner();
        let (info, ns) = resolve(&req.r#ref)?;
        let events = self
            .registry
            .watch(info, &ns, &req.label_selector, &req.field_selector, &req.resource_version)
            .await
            .map_err(status)?;
        let stream = futures::StreamExt::map(events, |item| {
            Ok(match item {
                Ok(ev) => {
                    WatchEvent { r#type: ev.kind.to_string(), json: ev.json, resource_version: ev.resource_version }
                }
                // Kubernetes ends a failed watch with an ERROR event holding a Status.
                Err(e) => WatchEvent {
                    r#type: "ERROR".into(),
                    json: serde_json::to_vec(&e.to_status()).expect("a JSON value always serializes").into(),
                    resource_version: 0,
                },
            })
        });
        Ok(Response::new(Box::pin(stream)))
    }

    async fn discovery(&self, _req: Request<DiscoveryRequest>) -> Result<Response<DiscoveryResponse>, Status> {
        let resources = registry::RESOURCES
            .iter()
            .map(|r| proto::ApiResource {
                group: r.group.into(),
                version: r.version.into(),
                kind: r.kind.into(),
                name: r.plural.into(),
                singular_name: r.singular.into(),
                short_names: r.short_names.iter().map(|s| s.to_string()).collect(),
                namespaced: r.namespaced,
                verbs: self.registry.strategy(r).verbs().iter().map(|s| s.to_string()).collect(),
            })
            .collect();
        Ok(Response::new(DiscoveryResponse { group_versions: registry::group_versions(), resources }))
    }

    async fn version(&self, _req: Request<VersionRequest>) -> Result<Response<VersionResponse>, Status> {
        Ok(Response::new(VersionResponse { json: serde_json::to_vec(&version_info()).expect("json") }))
    }
}

#[cfg(all(test, feature = "testing"))]
mod tests {
    use crate::testing::InMemoryApiServer;
    use api::registry::lookup;
    use serde_json::json;

    /// Over gRPC a write's manager is the client program's name (its
    /// User-Agent up to the first `/`); an apply names its own, and its
    /// conflicts arrive with their causes.
    #[tokio::test]
    async fn writes_over_grpc_record_their_manager_and_apply_conflicts_arrive_whole() {
        let server = InMemoryApiServer::start().await;
        let pods = lookup("pods").unwrap();
        let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "a", "labels": {"app": "x"}},
            "spec": {"containers": [{"name": "c", "image": "busybox"}]}});
        let created = server.client.create(pods, "default", &pod).await.unwrap();
        let program = std::env::current_exe().unwrap().file_stem().unwrap().to_string_lossy().into_owned();
        assert_eq!(created["metadata"]["managedFields"][0]["manager"], program.as_str());

        let config = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "a", "labels": {"app": "y"}}});
        let err = server.client.apply(pods, "default", "a", &config, "kubectl", false).await.unwrap_err();
        assert_eq!(err.code(), 409);
        assert_eq!(
            err.message,
            format!("Apply failed with 1 conflict: conflict with {program:?} using v1: .metadata.labels.app")
        );
        assert_eq!(err.to_status()["details"]["causes"][0]["reason"], "FieldManagerConflict");
        let applied = server.client.apply(pods, "default", "a", &config, "kubectl", true).await.unwrap();
        assert_eq!(applied["metadata"]["labels"]["app"], "y");
        let managers: Vec<_> = applied["metadata"]["managedFields"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| (e["manager"].as_str().unwrap().to_string(), e["operation"].as_str().unwrap().to_string()))
            .collect();
        assert_eq!(managers, [(program, "Update".to_string()), ("kubectl".to_string(), "Apply".to_string())]);
    }
}
