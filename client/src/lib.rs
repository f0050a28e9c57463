//! The kubelab API client: one gRPC connection to the apiserver and the generic
//! object calls every component makes (create, get, list, update, patch, delete,
//! watch), on objects as `serde_json::Value`s in Kubernetes' schema, and typed
//! through [`Api`] (`Api::<Pod>::namespaced(&client, "default").get("kubia")`).
//! Errors are [`ApiError`]s carrying the server's reason and message unchanged.

pub mod events;
pub mod informer;
pub mod object;
pub mod queue;
pub mod streaming;
mod transport;
mod typed;
pub mod watcher;

use api::{ApiError, ResourceInfo};
use futures::{Stream, StreamExt};
use proto::api_client::ApiClient;
use serde_json::Value;
use std::pin::Pin;
use std::time::Duration;
use tonic::transport::{Channel, Endpoint};

pub use object::{HasMetadata, Object, PartialObjectMetadata, Resource};
pub use proto::PatchType;
pub use typed::{Api, ObjectList};
// How errors travel over gRPC lives in `proto`, which the apiserver shares.
use proto::status::refused;
pub use proto::status::{error_from_status_object, from_status, to_status};

/// A connection to one apiserver. Cheap to clone: clones share the connection.
#[derive(Clone)]
pub struct Client {
    inner: ApiClient<transport::Transport>,
    channel: Channel,
    server: String,
}

/// Options for `list` and `watch`.
#[derive(Debug, Clone, Default)]
pub struct ListParams {
    pub label_selector: String,
    pub field_selector: String,
    /// 0 = everything.
    pub limit: i64,
    pub continue_token: String,
}

/// Options for `delete`.
#[derive(Debug, Clone, Default)]
pub struct DeleteParams {
    /// "Background" (the default when empty), "Foreground" or "Orphan".
    pub propagation_policy: String,
    /// None: the object's own grace period.
    pub grace_period_seconds: Option<i64>,
    pub precondition_uid: String,
    pub precondition_resource_version: String,
}

/// One change seen by a watch.
#[derive(Debug, Clone, PartialEq)]
pub struct WatchEvent<K = Value> {
    /// ADDED, MODIFIED, DELETED or BOOKMARK. Errors arrive as `Err(ApiError)`.
    pub kind: String,
    pub object: K,
}

pub type WatchStream<K = Value> = Pin<Box<dyn Stream<Item = Result<WatchEvent<K>, ApiError>> + Send>>;

/// A watch whose events keep their objects as the server's JSON.
pub type RawWatchStream = Pin<Box<dyn Stream<Item = Result<proto::WatchEvent, ApiError>> + Send>>;

/// The served resources, as discovery reports them.
pub use proto::{ApiResource, DiscoveryResponse};

impl Client {
    /// Connects to `server` (`http://127.0.0.1:6443`, or `127.0.0.1:6443`).
    /// Fails as kubectl does when nothing listens there.
    pub async fn connect(server: &str) -> Result<Self, ApiError> {
        let (endpoint, url) = endpoint(server)?;
        let channel = endpoint
            .connect_timeout(Duration::from_secs(5))
            .connect_with_connector(transport::Connector)
            .await
            .map_err(|_| refused(&url))?;
        Ok(Self::from_channel(channel, url))
    }

    /// Like `connect`, but the connection is made on first use (for daemons that
    /// start before the apiserver).
    pub fn connect_lazy(server: &str) -> Result<Self, ApiError> {
        let (endpoint, url) = endpoint(server)?;
        Ok(Self::from_channel(endpoint.connect_with_connector_lazy(transport::Connector), url))
    }

    /// A client over an existing channel (tests use in-memory transports).
    pub fn from_channel(channel: Channel, server: String) -> Self {
        let inner = ApiClient::new(transport::Transport(channel.clone()))
            .max_decoding_message_size(256 << 20)
            .max_encoding_message_size(256 << 20);
        Self { inner, channel, server }
    }

    /// The server URL this client talks to.
    pub fn server(&self) -> &str {
        &self.server
    }

    fn reference(info: &ResourceInfo, namespace: &str) -> Option<proto::ResourceRef> {
        Some(proto::ResourceRef {
            group: info.group.to_string(),
            version: info.version.to_string(),
            resource: info.plural.to_string(),
            namespace: if info.namespaced { namespace.to_string() } else { String::new() },
        })
    }

    pub async fn create(&self, info: &ResourceInfo, namespace: &str, obj: &Value) -> Result<Value, ApiError> {
        self.create_subresource(info, namespace, "", "", obj).await
    }

    /// Creates a subresource of `name`, e.g. the `binding` of a pod.
    pub async fn create_subresource(
        &self,
        info: &ResourceInfo,
        namespace: &str,
        name: &str,
        subresource: &str,
        obj: &Value,
    ) -> Result<Value, ApiError> {
        decode_object(self.send_create(info, namespace, name, subresource, encode(obj)).await?)
    }

    /// Creates an object from its JSON bytes and answers with the stored
    /// object undecoded, for callers that only need to know it was created.
    pub async fn create_raw(
        &self,
        info: &ResourceInfo,
        namespace: &str,
        json: Vec<u8>,
    ) -> Result<proto::Object, ApiError> {
        self.send_create(info, namespace, "", "", json).await
    }

    async fn send_create(
        &self,
        info: &ResourceInfo,
        namespace: &str,
        name: &str,
        subresource: &str,
        json: Vec<u8>,
    ) -> Result<proto::Object, ApiError> {
        let req = proto::CreateRequest {
            r#ref: Self::reference(info, namespace),
            json,
            name: name.to_string(),
            subresource: subresource.to_string(),
            dry_run: false,
            field_manager: String::new(),
        };
        let resp = self.inner.clone().create(req).await.map_err(|s| from_status(&self.server, s))?;
        Ok(resp.into_inner())
    }

    pub async fn get(&self, info: &ResourceInfo, namespace: &str, name: &str) -> Result<Value, ApiError> {
        decode_object(self.get_raw(info, namespace, name).await?)
    }

    /// One object as the apiserver stored it, undecoded.
    pub async fn get_raw(&self, info: &ResourceInfo, namespace: &str, name: &str) -> Result<proto::Object, ApiError> {
        let req = proto::GetRequest { r#ref: Self::reference(info, namespace), name: name.to_string() };
        let resp = self.inner.clone().get(req).await.map_err(|s| from_status(&self.server, s))?;
        Ok(resp.into_inner())
    }

    /// Lists a collection; the answer is a `<Kind>List` with `items` and
    /// `metadata.resourceVersion`. An empty namespace lists all namespaces.
    pub async fn list(&self, info: &ResourceInfo, namespace: &str, params: &ListParams) -> Result<Value, ApiError> {
        decode_list(self.list_raw(info, namespace, params).await?)
    }

    async fn list_raw(
        &self,
        info: &ResourceInfo,
        namespace: &str,
        params: &ListParams,
    ) -> Result<proto::ObjectList, ApiError> {
        let req = proto::ListRequest {
            r#ref: Self::reference(info, namespace),
            label_selector: params.label_selector.clone(),
            field_selector: params.field_selector.clone(),
            limit: params.limit,
            continue_token: params.continue_token.clone(),
        };
        let resp = self.inner.clone().list(req).await.map_err(|s| from_status(&self.server, s))?;
        Ok(resp.into_inner())
    }

    /// Replaces the object; `metadata.resourceVersion` in `obj` guards against
    /// lost updates (a stale one gets a Conflict error).
    pub async fn update(&self, info: &ResourceInfo, namespace: &str, obj: &Value) -> Result<Value, ApiError> {
        self.update_subresource(info, namespace, obj, "").await
    }

    /// Replaces the object's status (the `status` subresource).
    pub async fn update_status(&self, info: &ResourceInfo, namespace: &str, obj: &Value) -> Result<Value, ApiError> {
        self.update_subresource(info, namespace, obj, "status").await
    }

    async fn update_subresource(
        &self,
        info: &ResourceInfo,
        namespace: &str,
        obj: &Value,
        subresource: &str,
    ) -> Result<Value, ApiError> {
        decode_object(self.update_raw(info, namespace, api::meta::name(obj), encode(obj), subresource).await?)
    }

    async fn update_raw(
        &self,
        info: &ResourceInfo,
        namespace: &str,
        name: &str,
        json: Vec<u8>,
        subresource: &str,
    ) -> Result<proto::Object, ApiError> {
        let req = proto::UpdateRequest {
            r#ref: Self::reference(info, namespace),
            name: name.to_string(),
            json,
            subresource: subresource.to_string(),
            dry_run: false,
            field_manager: String::new(),
        };
        let resp = self.inner.clone().update(req).await.map_err(|s| from_status(&self.server, s))?;
        Ok(resp.into_inner())
    }

    pub async fn patch(
        &self,
        info: &ResourceInfo,
        namespace: &str,
        name: &str,
        patch_type: PatchType,
        patch: &Value,
    ) -> Result<Value, ApiError> {
        self.patch_subresource(info, namespace, name, patch_type, patch, "").await
    }

    pub async fn patch_subresource(
        &self,
        info: &ResourceInfo,
        namespace: &str,
        name: &str,
        patch_type: PatchType,
        patch: &Value,
        subresource: &str,
    ) -> Result<Value, ApiError> {
        decode_object(self.patch_raw(info, namespace, name, patch_type, patch, subresource).await?)
    }

    /// Server-side apply: `config` holds the fields `field_manager` wants set,
    /// and owns; the object is created when it does not exist. Another
    /// manager's field set to another value is a Conflict naming it, unless
    /// `force` takes the field over.
    pub async fn apply(
        &self,
        info: &ResourceInfo,
        namespace: &str,
        name: &str,
        config: &Value,
        field_manager: &str,
        force: bool,
    ) -> Result<Value, ApiError> {
        let req = proto::PatchRequest {
            r#ref: Self::reference(info, namespace),
            name: name.to_string(),
            patch_type: PatchType::Apply as i32,
            patch: encode(config),
            subresource: String::new(),
            dry_run: false,
            field_manager: field_manager.to_string(),
            force,
        };
        let resp = self.inner.clone().patch(req).await.map_err(|s| from_status(&self.server, s))?;
        decode_object(resp.into_inner())
    }

    async fn patch_raw(
        &self,
        info: &ResourceInfo,
        namespace: &str,
        name: &str,
        patch_type: PatchType,
        patch: &Value,
        subresource: &str,
    ) -> Result<proto::Object, ApiError> {
        let req = proto::PatchRequest {
            r#ref: Self::reference(info, namespace),
            name: name.to_string(),
            patch_type: patch_type as i32,
            patch: encode(patch),
            subresource: subresource.to_string(),
            dry_run: false,
            field_manager: String::new(),
            force: false,
        };
        let resp = self.inner.clone().patch(req).await.map_err(|s| from_status(&self.server, s))?;
        Ok(resp.into_inner())
    }

    /// Deletes the object. Returns the object as it was last stored (with a
    /// `deletionTimestamp` when deletion is graceful and not yet done).
    pub async fn delete(
        &self,
        info: &ResourceInfo,
        namespace: &str,
        name: &str,
        params: &DeleteParams,
    ) -> Result<Value, ApiError> {
        decode_object(self.delete_raw(info, namespace, name, params).await?)
    }

    async fn delete_raw(
        &self,
        info: &ResourceInfo,
        namespace: &str,
        name: &str,
        params: &DeleteParams,
    ) -> Result<proto::Object, ApiError> {
        let req = proto::DeleteRequest {
            r#ref: Self::reference(info, namespace),
            name: name.to_string(),
            propagation_policy: params.propagation_policy.clone(),
            precondition_uid: params.precondition_uid.clone(),
            precondition_resource_version: params.precondition_resource_version.clone(),
            grace_period_seconds: params.grace_period_seconds.unwrap_or(-1),
        };
        let resp = self.inner.clone().delete(req).await.map_err(|s| from_status(&self.server, s))?;
        Ok(resp.into_inner())
    }

    /// Watches a collection. With an empty `resource_version` the stream starts
    /// with an ADDED event per existing object; otherwise it carries every change
    /// after that version, in order, or fails with an `Expired` error.
    pub async fn watch(
        &self,
        info: &ResourceInfo,
        namespace: &str,
        params: &ListParams,
        resource_version: &str,
    ) -> Result<WatchStream, ApiError> {
        self.watch_as(info, namespace, params, resource_version).await
    }

    /// Like `watch`, decoding each object as `K`.
    pub async fn watch_as<K: Object>(
        &self,
        info: &ResourceInfo,
        namespace: &str,
        params: &ListParams,
        resource_version: &str,
    ) -> Result<WatchStream<K>, ApiError> {
        let stream = self.watch_raw(info, namespace, params, resource_version).await?;
        Ok(Box::pin(stream.map(|item| {
            let ev = item?;
            Ok(WatchEvent { kind: ev.r#type, object: stamped(&ev.json, ev.resource_version)? })
        })))
    }

    /// Like `watch`, with each event's object left as the JSON the server sent
    /// (its resourceVersion in the envelope only): for a reader that needs a
    /// field or two of each object, not all of it.
    pub async fn watch_raw(
        &self,
        info: &ResourceInfo,
        namespace: &str,
        params: &ListParams,
        resource_version: &str,
    ) -> Result<RawWatchStream, ApiError> {
        let req = proto::WatchRequest {
            r#ref: Self::reference(info, namespace),
            label_selector: params.label_selector.clone(),
            field_selector: params.field_selector.clone(),
            resource_version: resource_version.to_string(),
        };
        let server = self.server.clone();
        let stream = self.inner.clone().watch(req).await.map_err(|s| from_status(&server, s))?.into_inner();
        Ok(Box::pin(stream.map(move |item| {
            let ev = item.map_err(|s| from_status(&server, s))?;
            if ev.r#type == "ERROR" {
                let status: Value = decode(&ev.json)?;
                return Err(error_from_status_object(&status));
            }
            Ok(ev)
        })))
    }

    pub async fn discovery(&self) -> Result<DiscoveryResponse, ApiError> {
        let resp =
            self.inner.clone().discovery(proto::DiscoveryRequest {}).await.map_err(|s| from_status(&self.server, s))?;
        Ok(resp.into_inner())
    }

    /// The server's version object (`gitVersion`, `platform`, ...).
    pub async fn version(&self) -> Result<Value, ApiError> {
        let resp =
            self.inner.clone().version(proto::VersionRequest {}).await.map_err(|s| from_status(&self.server, s))?;
        decode(&resp.into_inner().json)
    }
}

/// HTTP/2 flow-control windows of a client connection, as Go's HTTP/2 client
/// (and so client-go) sets them. With HTTP/2's default 64 KiB connection
/// window, a few dozen watches on one connection that each get an event at
/// once exhaust it, and the server waits for a window update before it can
/// send the rest: a round trip in the middle of every burst.
const STREAM_WINDOW: u32 = 4 << 20;
const CONNECTION_WINDOW: u32 = 1 << 30;

/// The endpoint for `server`, and its URL (`http://` added when missing).
fn endpoint(server: &str) -> Result<(Endpoint, String), ApiError> {
    let url = if server.contains("://") { server.to_string() } else { format!("http://{server}") };
    let endpoint = Endpoint::from_shared(url.clone())
        .map_err(|e| ApiError::bad_request(format!("invalid server address {server:?}: {e}")))?
        .user_agent(user_agent())
        .map_err(|e| ApiError::internal(format!("invalid user agent: {e}")))?
        .initial_stream_window_size(STREAM_WINDOW)
        .initial_connection_window_size(CONNECTION_WINDOW);
    Ok((endpoint, url))
}

/// `<program>/<version>`, as client-go's default User-Agent starts: the
/// apiserver names a write's field manager after the program.
fn user_agent() -> String {
    let program = std::env::current_exe()
        .ok()
        .and_then(|p| p.file_stem().map(|s| s.to_string_lossy().into_owned()))
        .filter(|s| !s.is_empty() && s.is_ascii())
        .unwrap_or_else(|| "kubelab".into());
    format!("{program}/v{}", env!("CARGO_PKG_VERSION"))
}

fn encode(obj: &Value) -> Vec<u8> {
    serde_json::to_vec(obj).expect("a JSON value always serializes")
}

/// Decodes an object, stamping in the resourceVersion its envelope carries.
fn stamped<K: Object>(json: &[u8], resource_version: i64) -> Result<K, ApiError> {
    let mut obj: K = decode(json)?;
    if resource_version > 0 {
        obj.set_resource_version(resource_version);
    }
    Ok(obj)
}

fn decode_object<K: Object>(obj: proto::Object) -> Result<K, ApiError> {
    stamped(&obj.json, obj.resource_version)
}

/// Rebuilds the `<Kind>List` object kubectl and controllers expect.
fn decode_list(list: proto::ObjectList) -> Result<Value, ApiError> {
    let items = list.items.into_iter().map(decode_object::<Value>).collect::<Result<Vec<_>, _>>()?;
    let mut metadata = serde_json::json!({"resourceVersion": list.resource_version.to_string()});
    if !list.continue_token.is_empty() {
        metadata["continue"] = list.continue_token.into();
    }
    Ok(serde_json::json!({"apiVersion": list.api_version, "kind": list.kind, "metadata": metadata, "items": items}))
}

fn decode<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(bytes).map_err(|e| ApiError::internal(format!("the server sent invalid JSON: {e}")))
}
