//! Kubernetes' HTTP API, as the real kubectl, client-go, kube-rs and the
//! Python client speak it, against the apiserver binary over a real etcd.
//!
//! Every expectation is kube-apiserver's, read from its source
//! (`k8s.io/apimachinery/pkg/api/errors`, `k8s.io/apiserver/pkg/endpoints/handlers`,
//! the storage's cacher and the registry's strategies), not this server's:
//! codes, reasons, messages and the shapes of Status objects, lists, watch
//! streams, discovery and Tables. A test that fails here names a place where
//! a client written for Kubernetes would see something else.
//!
//! Each test checks everything it can and lists every difference at its end
//! ([`Diffs`]), so one run tells the server's owners all there is to fix;
//! only what later steps depend on (an object created, an event arrived)
//! stops a test at once. Each test has its own etcd and apiserver.

use bytes::Bytes;
use e2e::Server;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::header::{HeaderMap, CONTENT_TYPE, TRANSFER_ENCODING};
use hyper::{Method, Request, StatusCode};
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use hyper_util::rt::TokioExecutor;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

const PODS: &str = "/api/v1/namespaces/default/pods";
const DEPLOYMENTS: &str = "/apis/apps/v1/namespaces/default/deployments";
const JSON: &str = "application/json";
const MERGE: &str = "application/merge-patch+json";
const JSON_PATCH: &str = "application/json-patch+json";
const STRATEGIC: &str = "application/strategic-merge-patch+json";
/// What kubectl get sends (Table first, then plain JSON).
const TABLE: &str =
    "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json";
/// What kubectl 1.30+ sends to `/api` and `/apis`.
const DISCOVERY_V2: &str = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json";

/// One answer, read to its end.
struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    body: Vec<u8>,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| panic!("{e}: the body is not JSON: {}", self.text()))
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    fn header(&self, name: &str) -> &str {
        self.headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or("")
    }

    /// Panics unless the answer has this code; the parsed body.
    #[track_caller]
    fn expect(&self, code: u16) -> Value {
        assert_eq!(self.status.as_u16(), code, "{}", self.text());
        self.json()
    }

    /// Notes in `d` unless the answer is a failure `Status` with this code
    /// and reason, in JSON, as kube-apiserver writes every error; the body.
    #[track_caller]
    fn failure(&self, d: &mut Diffs, code: u16, reason: &str) -> Value {
        if let Err(e) = check(self, code, reason, "") {
            d.note(e);
        }
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }
}

/// What one test found unlike kube-apiserver. Every check of a test runs
/// and the test fails at its end listing them all, so one run tells the
/// server's owner everything that differs, not only the first thing.
#[derive(Default)]
struct Diffs(Vec<String>);

impl Diffs {
    #[track_caller]
    fn note(&mut self, what: String) {
        let at = std::panic::Location::caller();
        self.0.push(format!("line {}: {what}", at.line()));
    }

    #[track_caller]
    fn eq<A: PartialEq<B> + std::fmt::Debug + ?Sized, B: std::fmt::Debug + ?Sized>(
        &mut self,
        got: &A,
        want: &B,
        what: &str,
        context: Option<String>,
    ) {
        if got != want {
            let context = context.map(|c| format!(" ({c})")).unwrap_or_default();
            self.note(format!("{what}: got {got:?}, want {want:?}{context}"));
        }
    }
}

impl Drop for Diffs {
    fn drop(&mut self) {
        if self.0.is_empty() {
            return;
        }
        let list = format!("{} differences from kube-apiserver:\n{}", self.0.len(), self.0.join("\n"));
        if std::thread::panicking() {
            eprintln!("{list}");
        } else {
            panic!("{list}");
        }
    }
}

/// `assert_eq!` that notes a difference in a [`Diffs`] and goes on.
macro_rules! soft_eq {
    ($d:expr, $got:expr, $want:expr $(,)?) => {
        $d.eq(&$got, &$want, stringify!($got), None)
    };
    ($d:expr, $got:expr, $want:expr, $($fmt:tt)+) => {
        $d.eq(&$got, &$want, stringify!($got), Some(format!($($fmt)+)))
    };
}

/// `assert!` that notes a difference in a [`Diffs`] and goes on.
macro_rules! soft {
    ($d:expr, $ok:expr $(,)?) => {
        if !$ok {
            $d.note(format!("not true: {}", stringify!($ok)));
        }
    };
    ($d:expr, $ok:expr, $($fmt:tt)+) => {
        if !$ok {
            $d.note(format!("{} ({})", stringify!($ok), format!($($fmt)+)));
        }
    };
}

/// A client of one server's HTTP API.
struct Api {
    client: Client<HttpConnector, Full<Bytes>>,
    base: String,
}

impl Api {
    fn new(server: &Server) -> Self {
        Self { client: Client::builder(TokioExecutor::new()).build_http(), base: server.url() }
    }

    /// Sends a request; the answer with its body still to read (a watch's never ends).
    async fn start(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: Vec<u8>,
    ) -> hyper::Response<Incoming> {
        let mut req = Request::builder().method(method).uri(format!("{}{path}", self.base));
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let req = req.body(Full::new(Bytes::from(body))).expect("a request");
        tokio::time::timeout(Duration::from_secs(20), self.client.request(req))
            .await
            .unwrap_or_else(|_| panic!("no answer to {path} within 20s"))
            .unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    /// Sends a request and reads the whole answer.
    async fn send(&self, method: Method, path: &str, headers: &[(&str, &str)], body: Vec<u8>) -> Reply {
        let resp = self.start(method, path, headers, body).await;
        let (parts, body) = resp.into_parts();
        let body = tokio::time::timeout(Duration::from_secs(20), body.collect())
            .await
            .unwrap_or_else(|_| panic!("the body of {path} did not end within 20s"))
            .expect("a body")
            .to_bytes()
            .to_vec();
        Reply { status: parts.status, headers: parts.headers, body }
    }

    async fn get(&self, path: &str) -> Reply {
        self.send(Method::GET, path, &[], Vec::new()).await
    }

    async fn get_as(&self, path: &str, accept: &str) -> Reply {
        self.send(Method::GET, path, &[("accept", accept)], Vec::new()).await
    }

    async fn post(&self, path: &str, body: &Value) -> Reply {
        self.send(Method::POST, path, &[("content-type", JSON)], body.to_string().into_bytes()).await
    }

    async fn put(&self, path: &str, body: &Value) -> Reply {
        self.send(Method::PUT, path, &[("content-type", JSON)], body.to_string().into_bytes()).await
    }

    async fn patch(&self, path: &str, content_type: &str, body: &Value) -> Reply {
        self.send(Method::PATCH, path, &[("content-type", content_type)], body.to_string().into_bytes()).await
    }

    async fn delete(&self, path: &str) -> Reply {
        self.send(Method::DELETE, path, &[], Vec::new()).await
    }

    /// Creates an object; panics unless it is created (201).
    async fn create(&self, path: &str, body: &Value) -> Value {
        let r = self.post(path, body).await;
        assert_eq!(r.status, StatusCode::CREATED, "creating at {path}: {}", r.text());
        r.json()
    }

    /// The names of the pods in `default`, in the order listed.
    async fn pod_names(&self) -> Vec<String> {
        let list = self.get(PODS).await.expect(200);
        list["items"]
            .as_array()
            .expect("items")
            .iter()
            .map(|p| p["metadata"]["name"].as_str().unwrap().into())
            .collect()
    }

    /// Starts a watch (the path carries `watch=1` or the `/watch/` prefix).
    async fn watch(&self, path: &str) -> Watch {
        self.watch_as(path, JSON).await
    }

    async fn watch_as(&self, path: &str, accept: &str) -> Watch {
        let resp = self.start(Method::GET, path, &[("accept", accept)], Vec::new()).await;
        let (parts, body) = resp.into_parts();
        Watch { status: parts.status, headers: parts.headers, body, buf: Vec::new() }
    }
}

/// A watch stream, read one event (line) at a time.
struct Watch {
    status: StatusCode,
    headers: HeaderMap,
    body: Incoming,
    buf: Vec<u8>,
}

/// What came next on a watch.
#[derive(Debug)]
enum Next {
    Event(Value),
    /// The server ended the stream.
    End,
    /// Nothing within the wait.
    Quiet,
}

impl Watch {
    async fn next(&mut self, wait: Duration) -> Next {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            if let Some(i) = self.buf.iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = self.buf.drain(..=i).collect();
                if line.iter().all(u8::is_ascii_whitespace) {
                    continue;
                }
                let ev = serde_json::from_slice(&line)
                    .unwrap_or_else(|e| panic!("{e}: an event is not JSON: {}", String::from_utf8_lossy(&line)));
                return Next::Event(ev);
            }
            match tokio::time::timeout_at(deadline, self.body.frame()).await {
                Err(_) => return Next::Quiet,
                Ok(None) => {
                    assert!(self.buf.iter().all(u8::is_ascii_whitespace), "a partial event at the end of the stream");
                    return Next::End;
                }
                Ok(Some(frame)) => {
                    if let Ok(data) = frame.expect("the stream goes on").into_data() {
                        self.buf.extend_from_slice(&data);
                    }
                }
            }
        }
    }

    /// The next event, which must come within 10 s.
    async fn event(&mut self) -> Value {
        match self.next(Duration::from_secs(10)).await {
            Next::Event(ev) => ev,
            other => panic!("expected an event, got {other:?}"),
        }
    }

    /// (type, object name) of the next event.
    async fn kind_and_name(&mut self) -> (String, String) {
        let ev = self.event().await;
        (ev["type"].as_str().unwrap_or("").to_string(), ev["object"]["metadata"]["name"].as_str().unwrap_or("").into())
    }

    /// Panics if an event comes within `wait`.
    async fn quiet(&mut self, wait: Duration) {
        match self.next(wait).await {
            Next::Quiet => {}
            other => panic!("expected nothing more, got {other:?}"),
        }
    }
}

fn pod(name: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": {"app": "web"}},
           "spec": {"containers": [{"name": "c", "image": "nginx"}]}})
}

fn labelled_pod(name: &str, app: &str) -> Value {
    let mut p = pod(name);
    p["metadata"]["labels"]["app"] = app.into();
    p
}

fn deployment(name: &str) -> Value {
    json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
           "spec": {"replicas": 2, "selector": {"matchLabels": {"app": name}},
                    "template": {"metadata": {"labels": {"app": name}},
                                 "spec": {"containers": [{"name": "a", "image": "nginx"},
                                                         {"name": "b", "image": "busybox"}]}}}})
}

fn rv(obj: &Value) -> i64 {
    obj["metadata"]["resourceVersion"].as_str().and_then(|s| s.parse().ok()).unwrap_or_else(|| panic!("no rv: {obj}"))
}

fn names(list: &Value) -> Vec<String> {
    list["items"].as_array().expect("items").iter().map(|i| i["metadata"]["name"].as_str().unwrap().into()).collect()
}

/// The causes of an Invalid Status as (reason, field).
fn causes(status: &Value) -> Vec<(String, String)> {
    status["details"]["causes"]
        .as_array()
        .map(|cs| {
            cs.iter()
                .map(|c| (c["reason"].as_str().unwrap_or("").into(), c["field"].as_str().unwrap_or("").into()))
                .collect()
        })
        .unwrap_or_default()
}

// ---- errors ----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn not_found_and_already_exists_name_the_object() {
    let server = Server::start();
    let api = Api::new(&server);
    let mut diffs = Diffs::default();

    // errors.NewNotFound: `<resource>[.<group>] "<name>" not found`, details name/group/kind (the resource).
    let s = api.get(&format!("{PODS}/nope")).await.failure(&mut diffs, 404, "NotFound");
    soft_eq!(diffs, s["message"], r#"pods "nope" not found"#);
    soft_eq!(diffs, s["details"], json!({"name": "nope", "kind": "pods"}));
    let s = api.get(&format!("{DEPLOYMENTS}/nope")).await.failure(&mut diffs, 404, "NotFound");
    soft_eq!(diffs, s["message"], r#"deployments.apps "nope" not found"#);
    soft_eq!(diffs, s["details"], json!({"name": "nope", "group": "apps", "kind": "deployments"}));
    api.delete(&format!("{PODS}/nope")).await.failure(&mut diffs, 404, "NotFound");
    api.put(&format!("{PODS}/nope"), &pod("nope")).await.failure(&mut diffs, 404, "NotFound");
    api.patch(&format!("{PODS}/nope"), MERGE, &json!({})).await.failure(&mut diffs, 404, "NotFound");

    // A namespace that does not exist.
    let s = api.post("/api/v1/namespaces/elsewhere/pods", &pod("a")).await.failure(&mut diffs, 404, "NotFound");
    soft_eq!(diffs, s["message"], r#"namespaces "elsewhere" not found"#);

    api.create(PODS, &pod("web")).await;
    let s = api.post(PODS, &pod("web")).await.failure(&mut diffs, 409, "AlreadyExists");
    soft_eq!(diffs, s["message"], r#"pods "web" already exists"#);
    soft_eq!(diffs, s["details"], json!({"name": "web", "kind": "pods"}));
    api.create(DEPLOYMENTS, &deployment("web")).await;
    let s = api.post(DEPLOYMENTS, &deployment("web")).await.failure(&mut diffs, 409, "AlreadyExists");
    soft_eq!(diffs, s["message"], r#"deployments.apps "web" already exists"#);
    soft_eq!(diffs, s["details"], json!({"name": "web", "group": "apps", "kind": "deployments"}));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_resource_version_on_update_is_a_conflict() {
    let server = Server::start();
    let api = Api::new(&server);
    let mut diffs = Diffs::default();
    let created = api.create(PODS, &pod("web")).await;
    let mut changed = created.clone();
    changed["metadata"]["labels"]["step"] = "1".into();
    let updated = api.put(&format!("{PODS}/web"), &changed).await.expect(200);
    soft!(diffs, rv(&updated) > rv(&created));

    // The same write again carries the old resourceVersion.
    changed["metadata"]["labels"]["step"] = "2".into();
    let s = api.put(&format!("{PODS}/web"), &changed).await.failure(&mut diffs, 409, "Conflict");
    soft_eq!(
        diffs,
        s["message"],
        r#"Operation cannot be fulfilled on pods "web": the object has been modified; please apply your changes to the latest version and try again"#
    );
    soft_eq!(diffs, s["details"], json!({"name": "web", "kind": "pods"}));
    let now = api.get(&format!("{PODS}/web")).await.expect(200);
    soft_eq!(diffs, now["metadata"]["labels"]["step"], "1", "the conflicting write changed nothing");

    // A merge patch carrying a stale resourceVersion is a precondition too.
    let stale = json!({"metadata": {"resourceVersion": created["metadata"]["resourceVersion"], "labels": {"x": "y"}}});
    api.patch(&format!("{PODS}/web"), MERGE, &stale).await.failure(&mut diffs, 409, "Conflict");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_objects_are_422_with_a_cause_per_field() {
    let server = Server::start();
    let api = Api::new(&server);
    let mut diffs = Diffs::default();

    let mut bad = pod("bad");
    bad["spec"]["containers"][0].as_object_mut().unwrap().remove("image");
    let s = api.post(PODS, &bad).await.failure(&mut diffs, 422, "Invalid");
    // errors.NewInvalid: `<Kind>[.<group>] "<name>" is invalid: <field errors>`, details kind (the Kind).
    soft_eq!(diffs, s["message"], r#"Pod "bad" is invalid: spec.containers[0].image: Required value"#);
    soft_eq!(diffs, s["details"]["name"], "bad");
    soft_eq!(diffs, s["details"]["kind"], "Pod");
    soft_eq!(
        diffs,
        s["details"]["causes"],
        json!([{"reason": "FieldValueRequired", "message": "Required value", "field": "spec.containers[0].image"}])
    );

    let mut bad = deployment("bad");
    bad["spec"]["replicas"] = json!(-1);
    let s = api.post(DEPLOYMENTS, &bad).await.failure(&mut diffs, 422, "Invalid");
    soft!(
        diffs,
        s["message"]
            .as_str()
            .unwrap()
            .starts_with(r#"Deployment.apps "bad" is invalid: spec.replicas: Invalid value: -1"#),
        "{s}"
    );
    soft_eq!(
        diffs,
        (s["details"]["group"].as_str(), s["details"]["kind"].as_str()),
        (Some("apps"), Some("Deployment"))
    );
    soft_eq!(diffs, causes(&s), [("FieldValueInvalid".to_string(), "spec.replicas".to_string())]);

    // Several problems: one cause each.
    let mut bad = pod("Bad_Name");
    bad["spec"]["containers"][0].as_object_mut().unwrap().remove("image");
    let s = api.post(PODS, &bad).await.failure(&mut diffs, 422, "Invalid");
    let fields: Vec<String> = causes(&s).into_iter().map(|(_, f)| f).collect();
    soft!(diffs, fields.contains(&"metadata.name".to_string()), "{s}");
    soft!(diffs, fields.contains(&"spec.containers[0].image".to_string()), "{s}");
    soft_eq!(diffs, api.pod_names().await, Vec::<String>::new(), "nothing invalid is stored");
}

/// Secrets and ConfigMaps (kube-apiserver's `pkg/registry/core/secret`,
/// `configmap` and `ValidateSecret`/`ValidateConfigMap`): `stringData` is
/// merged into the base64 `data` and never stored, `immutable` freezes the
/// contents, and data keys must be config keys.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_merge_string_data_and_refuse_changes_once_immutable() {
    const SECRETS: &str = "/api/v1/namespaces/default/secrets";
    const CONFIGMAPS: &str = "/api/v1/namespaces/default/configmaps";
    let server = Server::start();
    let api = Api::new(&server);
    let mut diffs = Diffs::default();

    let secret = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "creds"}, "immutable": true,
                        "data": {"user": "YWRtaW4="}, "stringData": {"pass": "s3cret", "user": "root"}});
    let created = api.create(SECRETS, &secret).await;
    soft_eq!(diffs, created["data"], json!({"pass": "czNjcmV0", "user": "cm9vdA=="}), "stringData wins, as base64");
    soft_eq!(diffs, created["type"], "Opaque");
    soft!(diffs, created.get("stringData").is_none(), "stringData is not returned: {created}");
    let got = api.get(&format!("{SECRETS}/creds")).await.expect(200);
    soft_eq!(diffs, got["data"], created["data"]);
    soft!(diffs, got.get("stringData").is_none(), "stringData is not stored: {got}");

    let change = json!({"stringData": {"pass": "other"}});
    let s = api.patch(&format!("{SECRETS}/creds"), MERGE, &change).await.failure(&mut diffs, 422, "Invalid");
    soft_eq!(
        diffs,
        s["message"],
        "Secret \"creds\" is invalid: data: Forbidden: field is immutable when `immutable` is set"
    );
    soft_eq!(diffs, causes(&s), [("FieldValueForbidden".to_string(), "data".to_string())]);
    let labels = json!({"metadata": {"labels": {"team": "a"}}});
    api.patch(&format!("{SECRETS}/creds"), MERGE, &labels).await.expect(200);

    let tls = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "web"}, "type": "kubernetes.io/tls",
                     "stringData": {"tls.crt": "CERT"}});
    let s = api.post(SECRETS, &tls).await.failure(&mut diffs, 422, "Invalid");
    soft_eq!(diffs, s["message"], "Secret \"web\" is invalid: data[tls.key]: Required value");

    let bad_key = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cfg"},
                         "data": {"sleep interval": "25"}});
    let s = api.post(CONFIGMAPS, &bad_key).await.failure(&mut diffs, 422, "Invalid");
    soft!(
        diffs,
        s["message"].as_str().unwrap_or("").starts_with(
            "ConfigMap \"cfg\" is invalid: data[sleep interval]: Invalid value: \"sleep interval\": a valid config key \
             must consist of alphanumeric characters, '-', '_' or '.'"
        ),
        "{s}"
    );
    soft_eq!(diffs, causes(&s), [("FieldValueInvalid".to_string(), "data[sleep interval]".to_string())]);

    let big = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "big"},
                     "stringData": {"a": "x".repeat(1024 * 1024 + 1)}});
    let s = api.post(SECRETS, &big).await.failure(&mut diffs, 422, "Invalid");
    soft_eq!(diffs, s["message"], "Secret \"big\" is invalid: data: Too long: may not be more than 1048576 bytes");

    let table = api.get_as(SECRETS, TABLE).await.expect(200);
    let columns: Vec<&str> =
        table["columnDefinitions"].as_array().map_or(vec![], |c| c.iter().filter_map(|c| c["name"].as_str()).collect());
    soft_eq!(diffs, columns, ["Name", "Type", "Data", "Age"]);
    let cells = table["rows"][0]["cells"].as_array().map(|c| c.iter().take(3).cloned().collect::<Vec<_>>());
    soft_eq!(diffs, cells, Some(vec![json!("creds"), json!("Opaque"), json!(2)]));
}

/// PersistentVolumes, claims and StorageClasses (kube-apiserver's
/// `pkg/registry/core/persistentvolume`, `persistentvolumeclaim`,
/// `storage/storageclass` and their validation): the bootstrapped default
/// class, defaults and protection finalizers on create, status only through
/// the subresource, a claim's immutable spec, a class's fixed parameters, and
/// the printer columns.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn persistent_volumes_claims_and_storage_classes() {
    const PVS: &str = "/api/v1/persistentvolumes";
    const PVCS: &str = "/api/v1/namespaces/default/persistentvolumeclaims";
    const CLASSES: &str = "/apis/storage.k8s.io/v1/storageclasses";
    let server = Server::start();
    let api = Api::new(&server);
    let mut diffs = Diffs::default();

    let standard = api.get(&format!("{CLASSES}/standard")).await.expect(200);
    soft_eq!(diffs, standard["metadata"]["annotations"]["storageclass.kubernetes.io/is-default-class"], "true");
    soft_eq!(diffs, standard["provisioner"], "kubelab.io/hostpath");
    soft_eq!(diffs, standard["volumeBindingMode"], "Immediate");

    let pv = json!({"apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": "mongodb-pv"},
                    "spec": {"capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce", "ReadOnlyMany"],
                             "hostPath": {"path": "/tmp/mongodb"}},
                    "status": {"phase": "Bound"}});
    let created = api.create(PVS, &pv).await;
    soft_eq!(diffs, created["status"], json!({"phase": "Pending"}), "a client's status is dropped");
    soft_eq!(diffs, created["spec"]["persistentVolumeReclaimPolicy"], "Retain");
    soft_eq!(diffs, created["spec"]["volumeMode"], "Filesystem");
    soft_eq!(diffs, created["metadata"]["finalizers"], json!(["kubernetes.io/pv-protection"]));
    soft!(diffs, created["metadata"].get("namespace").is_none(), "cluster-scoped: {created}");

    let mut status = created.clone();
    status["status"]["phase"] = json!("Available");
    let updated = api.put(&format!("{PVS}/mongodb-pv/status"), &status).await.expect(200);
    soft_eq!(diffs, updated["status"]["phase"], "Available");
    let mut main = updated.clone();
    main["status"]["phase"] = json!("Failed");
    main["metadata"]["labels"] = json!({"disk": "ssd"});
    let updated = api.put(&format!("{PVS}/mongodb-pv"), &main).await.expect(200);
    soft_eq!(diffs, updated["status"]["phase"], "Available", "status changes only through /status");

    let no_storage = json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "c"},
                            "spec": {"accessModes": ["ReadWriteOnce"]}});
    let s = api.post(PVCS, &no_storage).await.failure(&mut diffs, 422, "Invalid");
    soft_eq!(diffs, s["message"], "PersistentVolumeClaim \"c\" is invalid: spec.resources[storage]: Required value");
    soft_eq!(diffs, causes(&s), [("FieldValueRequired".to_string(), "spec.resources[storage]".to_string())]);

    let claim = json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "mongodb-pvc"},
                       "spec": {"resources": {"requests": {"storage": "1Gi"}}, "accessModes": ["ReadWriteOnce"],
                                "storageClassName": ""}});
    let created = api.create(PVCS, &claim).await;
    soft_eq!(diffs, created["status"]["phase"], "Pending");
    soft_eq!(diffs, created["metadata"]["finalizers"], json!(["kubernetes.io/pvc-protection"]));
    let modes = json!({"spec": {"accessModes": ["ReadWriteMany"]}});
    let s = api.patch(&format!("{PVCS}/mongodb-pvc"), MERGE, &modes).await.failure(&mut diffs, 422, "Invalid");
    soft_eq!(
        diffs,
        s["message"],
        "PersistentVolumeClaim \"mongodb-pvc\" is invalid: spec: Forbidden: spec is immutable after creation except \
         resources.requests and volumeAttributesClassName for bound claims"
    );
    let bind = json!({"spec": {"volumeName": "mongodb-pv"}});
    let bound = api.patch(&format!("{PVCS}/mongodb-pvc"), MERGE, &bind).await.expect(200);
    soft_eq!(diffs, bound["spec"]["volumeName"], "mongodb-pv", "an unset volumeName may be set once");

    let fast = json!({"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass", "metadata": {"name": "fast"},
                      "provisioner": "k8s.io/minikube-hostpath", "parameters": {"type": "pd-ssd"}});
    let created = api.create(CLASSES, &fast).await;
    soft_eq!(diffs, created["reclaimPolicy"], "Delete");
    soft_eq!(diffs, created["volumeBindingMode"], "Immediate");
    let params = json!({"parameters": {"type": "pd-standard"}});
    let s = api.patch(&format!("{CLASSES}/fast"), MERGE, &params).await.failure(&mut diffs, 422, "Invalid");
    soft_eq!(
        diffs,
        s["message"],
        "StorageClass.storage.k8s.io \"fast\" is invalid: parameters: Forbidden: updates to parameters are forbidden."
    );

    let table = api.get_as(PVS, TABLE).await.expect(200);
    let columns: Vec<&str> =
        table["columnDefinitions"].as_array().map_or(vec![], |c| c.iter().filter_map(|c| c["name"].as_str()).collect());
    soft_eq!(
        diffs,
        columns,
        [
            "Name",
            "Capacity",
            "Access Modes",
            "Reclaim Policy",
            "Status",
            "Claim",
            "StorageClass",
            "VolumeAttributesClass",
            "Reason",
            "Age",
            "VolumeMode"
        ]
    );
    let cells = table["rows"][0]["cells"].as_array().map(|c| c.iter().take(5).cloned().collect::<Vec<_>>());
    soft_eq!(
        diffs,
        cells,
        Some(vec![json!("mongodb-pv"), json!("1Gi"), json!("RWO,ROX"), json!("Retain"), json!("Available")])
    );
    let table = api.get_as(CLASSES, TABLE).await.expect(200);
    let names: Vec<&str> =
        table["rows"].as_array().map_or(vec![], |r| r.iter().filter_map(|r| r["cells"][0].as_str()).collect());
    soft_eq!(diffs, names, ["fast", "standard (default)"]);
    soft_eq!(diffs, table["rows"][0]["cells"][4], json!(false), "AllowVolumeExpansion is a boolean cell");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn media_types_methods_and_sizes_are_checked() {
    let server = Server::start();
    let api = Api::new(&server);
    let mut diffs = Diffs::default();
    api.create(PODS, &pod("web")).await;

    // 405: a method no route of the path has (go-restful's answer through serviceErrorHandler).
    let s = api.put(PODS, &pod("web")).await.failure(&mut diffs, 405, "MethodNotAllowed");
    soft!(
        diffs,
        s["message"].as_str().unwrap().starts_with("the server does not allow this method on the requested resource")
    );
    api.send(Method::POST, "/api/v1", &[], Vec::new()).await.failure(&mut diffs, 405, "MethodNotAllowed");

    // 406: nothing the client accepts can be written.
    let s = api.get_as(&format!("{PODS}/web"), "application/vnd.kubernetes.protobuf").await.failure(
        &mut diffs,
        406,
        "NotAcceptable",
    );
    let msg = s["message"].as_str().unwrap();
    soft!(diffs, msg.starts_with("only the following media types are accepted: "), "{msg}");
    soft!(diffs, msg.contains("application/json") && msg.contains("application/yaml"), "{msg}");
    api.get_as(PODS, "text/html").await.failure(&mut diffs, 406, "NotAcceptable");
    // ...but protobuf with JSON as an alternative gets JSON.
    let r = api.get_as(&format!("{PODS}/web"), "application/vnd.kubernetes.protobuf, application/json").await;
    soft_eq!(diffs, r.expect(200)["metadata"]["name"], "web");
    soft!(diffs, r.header("content-type").starts_with(JSON));

    // 415: a PATCH says which kind of patch it is; application/json is none.
    let s = api.patch(&format!("{PODS}/web"), JSON, &json!({"metadata": {"labels": {"x": "y"}}})).await;
    let s = s.failure(&mut diffs, 415, "UnsupportedMediaType");
    let msg = s["message"].as_str().unwrap();
    soft!(
        diffs,
        msg.starts_with("the body of the request was in an unknown format - accepted media types include: "),
        "{msg}"
    );
    for t in [JSON_PATCH, MERGE, STRATEGIC] {
        soft!(diffs, msg.contains(t), "{msg} lists {t}");
    }
    // A body in CBOR, which a 1.34 server reads only behind a feature gate.
    let r = api.send(Method::POST, PODS, &[("content-type", "application/cbor")], b"\xa0".to_vec()).await;
    let s = r.failure(&mut diffs, 415, "UnsupportedMediaType");
    soft!(diffs, s["message"].as_str().unwrap().starts_with("the body of the request was in an unknown format"));
    // A protobuf body that is cut short: read, and refused for what it is.
    let r = api
        .send(Method::POST, PODS, &[("content-type", "application/vnd.kubernetes.protobuf")], b"k8s\0\n\x02".to_vec())
        .await;
    let s = r.failure(&mut diffs, 400, "BadRequest");
    soft!(diffs, s["message"].as_str().unwrap().starts_with("protobuf body: truncated"), "{s}");
    let r = api.send(Method::POST, PODS, &[("content-type", "text/plain")], b"hello".to_vec()).await;
    r.failure(&mut diffs, 415, "UnsupportedMediaType");

    // 413: over the 3 MiB kube-apiserver reads (limitedReadBody).
    let mut big = pod("big");
    big["metadata"]["annotations"] = json!({"filler": "x".repeat(4 << 20)});
    match send_oversized(&server.apiserver.addr, PODS, big.to_string().into_bytes()).await {
        Ok(r) => {
            let s = r.failure(&mut diffs, 413, "RequestEntityTooLarge");
            soft_eq!(diffs, s["message"], "Request entity too large: limit is 3145728");
        }
        Err(e) => diffs.note(format!("no 413 for a 4 MiB body: {e}")),
    }
    soft_eq!(diffs, api.pod_names().await, ["web"]);
}

/// POSTs a body larger than the server reads over a plain TCP connection,
/// reading the answer while still writing, as Go's client does: a server
/// that answers early must let the answer arrive (Go's lingers before it
/// closes) rather than reset the connection under it.
async fn send_oversized(addr: &str, path: &str, body: Vec<u8>) -> Result<Reply, String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let stream = tokio::net::TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
    let (mut rd, mut wr) = stream.into_split();
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: {JSON}\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    let writer = tokio::spawn(async move {
        // The server may stop reading at its limit: a failed write is expected.
        let _ = wr.write_all(head.as_bytes()).await;
        let _ = wr.write_all(&body).await;
        wr
    });
    let mut raw = Vec::new();
    let mut buf = vec![0u8; 64 << 10];
    let read = async {
        loop {
            let n = rd.read(&mut buf).await.map_err(|e| format!("{e} after {} bytes of answer", raw.len()))?;
            if n == 0 {
                return Ok::<(), String>(());
            }
            raw.extend_from_slice(&buf[..n]);
            if let Some(end) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&raw[..end]).to_ascii_lowercase();
                let length = head
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length:"))
                    .and_then(|v| v.trim().parse::<usize>().ok());
                if length.is_some_and(|len| raw.len() >= end + 4 + len) {
                    return Ok(());
                }
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(20), read).await.map_err(|_| "no answer within 20s".to_string())??;
    writer.abort();
    let end = raw.windows(4).position(|w| w == b"\r\n\r\n").ok_or("the connection closed before an answer")?;
    let head = String::from_utf8_lossy(&raw[..end]).into_owned();
    let code: u16 =
        head.split_whitespace().nth(1).and_then(|c| c.parse().ok()).ok_or(format!("no status in {head:?}"))?;
    let mut headers = HeaderMap::new();
    for line in head.lines().skip(1) {
        if let Some((k, v)) = line.split_once(':') {
            if let (Ok(k), Ok(v)) = (k.trim().parse::<hyper::header::HeaderName>(), v.trim().parse()) {
                headers.insert(k, v);
            }
        }
    }
    let status = StatusCode::from_u16(code).map_err(|e| e.to_string())?;
    Ok(Reply { status, headers, body: raw[end + 4..].to_vec() })
}

// ---- the verbs ----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_get_update_delete() {
    let server = Server::start();
    let api = Api::new(&server);
    let mut diffs = Diffs::default();

    let r = api.post(PODS, &pod("web")).await;
    let created = r.expect(201);
    soft!(diffs, r.header("content-type").starts_with(JSON), "{:?}", r.header("content-type"));
    soft_eq!(diffs, (created["kind"].as_str(), created["apiVersion"].as_str()), (Some("Pod"), Some("v1")));
    soft_eq!(diffs, created["metadata"]["namespace"], "default");
    soft!(diffs, created["metadata"]["uid"].as_str().is_some_and(|u| u.len() == 36), "{created}");
    soft!(diffs, created["metadata"]["creationTimestamp"].as_str().is_some_and(|t| t.ends_with('Z')), "{created}");
    soft!(diffs, rv(&created) > 0);
    soft_eq!(diffs, created["status"]["phase"], "Pending");

    let got = api.get(&format!("{PODS}/web")).await.expect(200);
    soft_eq!(diffs, got["metadata"]["uid"], created["metadata"]["uid"]);
    soft_eq!(diffs, got["metadata"]["resourceVersion"], created["metadata"]["resourceVersion"]);

    let mut changed = got.clone();
    changed["metadata"]["labels"]["tier"] = "front".into();
    let updated = api.put(&format!("{PODS}/web"), &changed).await.expect(200);
    soft_eq!(diffs, updated["metadata"]["labels"]["tier"], "front");
    soft!(diffs, rv(&updated) > rv(&created));
    soft_eq!(diffs, updated["metadata"]["uid"], created["metadata"]["uid"]);

    // A pod that is on no node goes at once, and (ReturnDeletedObject) the answer is the pod.
    let gone = api.delete(&format!("{PODS}/web")).await.expect(200);
    soft_eq!(diffs, (gone["kind"].as_str(), gone["metadata"]["name"].as_str()), (Some("Pod"), Some("web")), "{gone}");
    api.get(&format!("{PODS}/web")).await.failure(&mut diffs, 404, "NotFound");

    // Most kinds answer a delete with a success Status naming what went.
    let d = api.create(DEPLOYMENTS, &deployment("web")).await;
    let s = api.delete(&format!("{DEPLOYMENTS}/web")).await.expect(200);
    soft_eq!(diffs, (s["kind"].as_str(), s["status"].as_str()), (Some("Status"), Some("Success")), "{s}");
    soft_eq!(
        diffs,
        s["details"],
        json!({"name": "web", "group": "apps", "kind": "deployments", "uid": d["metadata"]["uid"]})
    );
    api.get(&format!("{DEPLOYMENTS}/web")).await.failure(&mut diffs, 404, "NotFound");

    // Without apiVersion and kind, the URL says what the body is.
    let mut bare = pod("bare");
    bare.as_object_mut().unwrap().retain(|k, _| k != "apiVersion" && k != "kind");
    let r = api.post(PODS, &bare).await;
    soft_eq!(diffs, r.status.as_u16(), 201, "{}", r.text());
    let b = r.json();
    soft_eq!(diffs, (b["kind"].as_str(), b["apiVersion"].as_str()), (Some("Pod"), Some("v1")), "{b}");

    // An unknown field: stored without it, with a warning (fieldValidation
    // defaults to Warn); refused under Strict, which kubectl 1.33 sends.
    let mut extra = pod("extra");
    extra["spec"]["frob"] = json!(1);
    let r = api.post(PODS, &extra).await;
    soft_eq!(diffs, r.status.as_u16(), 201, "{}", r.text());
    soft!(diffs, r.header("warning").contains(r#"unknown field \"spec.frob\""#), "Warning: {:?}", r.header("warning"));
    let mut strict = pod("strict");
    strict["spec"]["frob"] = json!(1);
    let s = api.post(&format!("{PODS}?fieldValidation=Strict"), &strict).await.failure(&mut diffs, 400, "BadRequest");
    // transformDecodeError wraps the strict error.
    soft_eq!(
        diffs,
        s["message"],
        r#"Pod in version "v1" cannot be handled as a Pod: strict decoding error: unknown field "spec.frob""#
    );
    api.get(&format!("{PODS}/strict")).await.failure(&mut diffs, 404, "NotFound");

    // A YAML body is read like JSON.
    let yaml = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: from-yaml\nspec:\n  containers:\n  - name: c\n    image: nginx\n";
    let r = api.send(Method::POST, PODS, &[("content-type", "application/yaml")], yaml.as_bytes().to_vec()).await;
    soft_eq!(diffs, r.expect(201)["metadata"]["name"], "from-yaml");
    // ...and YAML is written when asked for.
    let r = api.get_as(&format!("{PODS}/from-yaml"), "application/yaml").await;
    soft_eq!(diffs, r.status, StatusCode::OK);
    soft!(diffs, r.header("content-type").starts_with("application/yaml"), "{:?}", r.header("content-type"));
    soft!(diffs, r.text().contains("name: from-yaml"), "{}", r.text());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_preconditions_and_collections() {
    let server = Server::start();
    let api = Api::new(&server);
    let mut diffs = Diffs::default();
    let web = api.create(PODS, &labelled_pod("web", "web")).await;
    for name in ["db-0", "db-1"] {
        api.create(PODS, &labelled_pod(name, "db")).await;
    }

    // Preconditions in DeleteOptions: a stale uid is a Conflict, and nothing goes.
    let opts = json!({"kind": "DeleteOptions", "apiVersion": "v1", "preconditions": {"uid": "not-the-uid"}});
    let r = api
        .send(Method::DELETE, &format!("{PODS}/web"), &[("content-type", JSON)], opts.to_string().into_bytes())
        .await;
    let s = r.failure(&mut diffs, 409, "Conflict");
    let msg = s["message"].as_str().unwrap_or("");
    soft!(
        diffs,
        msg.starts_with(
            r#"Operation cannot be fulfilled on pods "web": Precondition failed: UID in precondition: not-the-uid"#
        ),
        "{s}"
    );
    let uid = web["metadata"]["uid"].as_str().unwrap();
    let opts = json!({"kind": "DeleteOptions", "apiVersion": "v1", "preconditions": {"uid": uid}});
    let r = api
        .send(Method::DELETE, &format!("{PODS}/web"), &[("content-type", JSON)], opts.to_string().into_bytes())
        .await;
    soft_eq!(diffs, r.status.as_u16(), 200, "{}", r.text());

    // deletecollection: the objects that went, as a list.
    let r = api.send(Method::DELETE, &format!("{PODS}?labelSelector=app%3Ddb"), &[], Vec::new()).await;
    let gone = r.expect(200);
    soft_eq!(diffs, gone["kind"], "PodList", "{gone}");
    let mut went = names(&gone);
    went.sort();
    soft_eq!(diffs, went, ["db-0", "db-1"]);
    soft_eq!(diffs, api.pod_names().await, Vec::<String>::new());

    // The deprecated /watch/ prefix is a watch.
    let now = rv(&api.get(PODS).await.expect(200));
    let mut w = api.watch(&format!("/api/v1/watch/namespaces/default/pods?resourceVersion={now}")).await;
    api.create(PODS, &pod("again")).await;
    soft_eq!(diffs, w.kind_and_name().await, ("ADDED".to_string(), "again".to_string()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lists_select_page_and_read_at_a_version() {
    let server = Server::start();
    let api = Api::new(&server);
    let mut diffs = Diffs::default();
    let first = api.create(PODS, &labelled_pod("p0", "web")).await;
    for i in 1..7 {
        api.create(PODS, &labelled_pod(&format!("p{i}"), if i % 2 == 0 { "web" } else { "db" })).await;
    }

    let all = api.get(PODS).await.expect(200);
    soft_eq!(diffs, (all["kind"].as_str(), all["apiVersion"].as_str()), (Some("PodList"), Some("v1")));
    soft_eq!(diffs, names(&all), ["p0", "p1", "p2", "p3", "p4", "p5", "p6"], "sorted by name, as etcd's keys are");
    soft!(diffs, all["metadata"]["resourceVersion"].as_str().is_some_and(|v| v.parse::<i64>().is_ok()));
    soft!(diffs, all["metadata"].get("continue").is_none(), "{}", all["metadata"]);
    let across = api.get("/api/v1/pods").await.expect(200);
    soft_eq!(diffs, names(&across).len(), 7);

    let web = api.get(&format!("{PODS}?labelSelector=app%3Dweb")).await.expect(200);
    soft_eq!(diffs, names(&web), ["p0", "p2", "p4", "p6"]);
    let set = api.get(&format!("{PODS}?labelSelector=app+in+(db),app!%3Dweb")).await.expect(200);
    soft_eq!(diffs, names(&set), ["p1", "p3", "p5"]);
    let by_name = api.get(&format!("{PODS}?fieldSelector=metadata.name%3Dp3")).await.expect(200);
    soft_eq!(diffs, names(&by_name), ["p3"]);
    let pending =
        api.get(&format!("{PODS}?fieldSelector=status.phase%3DPending,metadata.name!%3Dp0")).await.expect(200);
    soft_eq!(diffs, names(&pending).len(), 6);
    let unscheduled = api.get(&format!("{PODS}?fieldSelector=spec.nodeName%3D&labelSelector=app%3Ddb")).await;
    soft_eq!(diffs, names(&unscheduled.expect(200)), ["p1", "p3", "p5"]);

    // Paging: every item exactly once, each page at the first page's version
    // (what came after is not seen), remainingItemCount while more remain.
    let page1 = api.get(&format!("{PODS}?limit=3")).await.expect(200);
    soft_eq!(diffs, names(&page1), ["p0", "p1", "p2"]);
    soft_eq!(diffs, page1["metadata"]["remainingItemCount"], 4, "{}", page1["metadata"]);
    api.create(PODS, &pod("p9-late")).await;
    let mut seen = names(&page1);
    let mut token = page1["metadata"]["continue"].as_str().expect("a continue token").to_string();
    let mut pages = 1;
    while !token.is_empty() {
        let page = api.get(&format!("{PODS}?limit=3&continue={}", urlencode(&token))).await.expect(200);
        soft_eq!(diffs, page["metadata"]["resourceVersion"], page1["metadata"]["resourceVersion"], "one snapshot");
        seen.extend(names(&page));
        token = page["metadata"]["continue"].as_str().unwrap_or("").to_string();
        pages += 1;
        soft!(diffs, pages < 10, "paging does not end");
    }
    soft_eq!(diffs, seen, ["p0", "p1", "p2", "p3", "p4", "p5", "p6"]);
    soft_eq!(diffs, pages, 3);

    // resourceVersion=N&resourceVersionMatch=Exact: the list as it was at N.
    let then = api.get(&format!("{PODS}?resourceVersion={}&resourceVersionMatch=Exact", rv(&first))).await;
    soft_eq!(diffs, then.status.as_u16(), 200, "{}", then.text());
    if then.status == StatusCode::OK {
        soft_eq!(diffs, names(&then.json()), ["p0"]);
    }
    // resourceVersion=0: any version, served at once.
    soft!(
        diffs,
        names(&api.get(&format!("{PODS}?resourceVersion=0")).await.expect(200)).contains(&"p9-late".to_string())
    );
    // resourceVersionMatch needs a resourceVersion (ValidateListOptions).
    let s = api.get(&format!("{PODS}?resourceVersionMatch=Exact")).await.failure(&mut diffs, 422, "Invalid");
    soft_eq!(diffs, s["details"]["kind"], "ListOptions");
    soft_eq!(diffs, s["details"]["group"], "meta.k8s.io");
    // A version from the future: the cacher waits 3 s for it, then gives up with a 504.
    let future = rv(&all) + 1000;
    let s = api.get(&format!("{PODS}?resourceVersion={future}&resourceVersionMatch=NotOlderThan")).await;
    let s = s.failure(&mut diffs, 504, "Timeout");
    soft!(diffs, s["message"].as_str().unwrap().starts_with("Timeout: Too large resource version"), "{s}");
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

// ---- watch ----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watches_stream_changes_in_order_and_resume_from_a_version() {
    let server = Server::start();
    let api = Api::new(&server);
    let mut diffs = Diffs::default();
    let a = api.create(PODS, &pod("a")).await;

    let mut w = api.watch(&format!("{PODS}?watch=true")).await;
    soft_eq!(diffs, w.status, StatusCode::OK);
    let ct = w.headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    soft!(diffs, ct.starts_with(JSON), "{ct}");
    let te = w.headers.get(TRANSFER_ENCODING).and_then(|v| v.to_str().ok()).unwrap_or("");
    soft_eq!(diffs, te, "chunked", "a watch is a chunked stream");
    // No resourceVersion: the current objects first, as ADDED.
    soft_eq!(diffs, w.kind_and_name().await, ("ADDED".into(), "a".into()));

    api.create(PODS, &pod("b")).await;
    api.patch(&format!("{PODS}/a"), MERGE, &json!({"metadata": {"labels": {"step": "2"}}})).await.expect(200);
    api.delete(&format!("{PODS}/b")).await.expect(200);
    let mut live = Vec::new();
    let mut last = 0;
    for _ in 0..3 {
        let ev = w.event().await;
        let v = rv(&ev["object"]);
        soft!(diffs, v > last, "resourceVersions grow along the stream");
        last = v;
        live.push((
            ev["type"].as_str().unwrap().to_string(),
            ev["object"]["metadata"]["name"].as_str().unwrap().to_string(),
        ));
    }
    let expected: Vec<(String, String)> = [("ADDED", "b"), ("MODIFIED", "a"), ("DELETED", "b")]
        .iter()
        .map(|(t, n)| (t.to_string(), n.to_string()))
        .collect();
    soft_eq!(diffs, live, expected);
    w.quiet(Duration::from_millis(500)).await;
    drop(w);

    // From a resourceVersion: exactly the changes after it, nothing before.
    let mut resumed = api.watch(&format!("{PODS}?watch=1&resourceVersion={}", rv(&a))).await;
    let mut again = Vec::new();
    for _ in 0..3 {
        again.push(resumed.kind_and_name().await);
    }
    soft_eq!(diffs, again, expected);
    resumed.quiet(Duration::from_millis(500)).await;

    // By name, as `kubectl get pod a -w` asks: only that object's events.
    let mut by_name = api.watch(&format!("{PODS}?watch=true&fieldSelector=metadata.name%3Da")).await;
    soft_eq!(diffs, by_name.kind_and_name().await, ("ADDED".into(), "a".into()));
    api.create(PODS, &pod("c")).await;
    api.patch(&format!("{PODS}/a"), MERGE, &json!({"metadata": {"labels": {"step": "3"}}})).await.expect(200);
    soft_eq!(diffs, by_name.kind_and_name().await, ("MODIFIED".into(), "a".into()));
    by_name.quiet(Duration::from_millis(500)).await;

    // By label: an object leaving the selection is DELETED to this watcher.
    let mut by_label = api.watch(&format!("{PODS}?watch=true&labelSelector=step%3D3")).await;
    soft_eq!(diffs, by_label.kind_and_name().await, ("ADDED".into(), "a".into()));
    api.patch(&format!("{PODS}/a"), MERGE, &json!({"metadata": {"labels": {"step": "4"}}})).await.expect(200);
    soft_eq!(diffs, by_label.kind_and_name().await, ("DELETED".into(), "a".into()));

    // timeoutSeconds: the server ends the stream.
    let started = Instant::now();
    let mut short = api.watch(&format!("{PODS}?watch=true&resourceVersion={last}&timeoutSeconds=1")).await;
    loop {
        match short.next(Duration::from_secs(10)).await {
            Next::End => break,
            Next::Event(ev) => assert_ne!(ev["type"], "ERROR", "{ev}"),
            Next::Quiet => panic!("the stream did not end after timeoutSeconds=1"),
        }
    }
    soft!(diffs, started.elapsed() >= Duration::from_millis(900), "ended early: {:?}", started.elapsed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bookmarks_and_initial_events() {
    let server = Server::start();
    let api = Api::new(&server);
    let mut diffs = Diffs::default();
    api.create(PODS, &pod("a")).await;
    let b = api.create(PODS, &pod("b")).await;

    // client-go's watch-list: the current objects, then a BOOKMARK saying
    // they are all there, then changes.
    let q = "watch=1&sendInitialEvents=true&allowWatchBookmarks=true&resourceVersionMatch=NotOlderThan";
    let mut w = api.watch(&format!("{PODS}?{q}")).await;
    soft_eq!(diffs, w.status, StatusCode::OK);
    let mut initial = vec![w.kind_and_name().await, w.kind_and_name().await];
    initial.sort();
    soft_eq!(diffs, initial, [("ADDED".to_string(), "a".to_string()), ("ADDED".to_string(), "b".to_string())]);
    let mark = w.event().await;
    soft_eq!(diffs, mark["type"], "BOOKMARK", "{mark}");
    soft_eq!(
        diffs,
        (mark["object"]["kind"].as_str(), mark["object"]["apiVersion"].as_str()),
        (Some("Pod"), Some("v1"))
    );
    soft_eq!(diffs, mark["object"]["metadata"]["annotations"]["k8s.io/initial-events-end"], "true", "{mark}");
    soft!(diffs, rv(&mark["object"]) >= rv(&b));
    api.create(PODS, &pod("c")).await;
    soft_eq!(diffs, w.kind_and_name().await, ("ADDED".into(), "c".into()));
    drop(w);

    // sendInitialEvents needs resourceVersionMatch=NotOlderThan (ValidateListOptions).
    let r = api.get(&format!("{PODS}?watch=1&sendInitialEvents=true&allowWatchBookmarks=true")).await;
    let s = r.failure(&mut diffs, 422, "Invalid");
    soft_eq!(diffs, s["details"]["kind"], "ListOptions");

    // With allowWatchBookmarks and a timeout, the cacher sends a bookmark
    // shortly before the deadline (cacheWatcher.nextBookmarkTime), so a
    // client resumes from a fresh version.
    let now = rv(&api.get(PODS).await.expect(200));
    let mut w =
        api.watch(&format!("{PODS}?watch=1&resourceVersion={now}&allowWatchBookmarks=true&timeoutSeconds=5")).await;
    let d = api.create(PODS, &pod("d")).await;
    soft_eq!(diffs, w.kind_and_name().await, ("ADDED".into(), "d".into()));
    let mut bookmark = None;
    loop {
        match w.next(Duration::from_secs(10)).await {
            Next::Event(ev) if ev["type"] == "BOOKMARK" => bookmark = Some(ev),
            Next::Event(ev) => panic!("unexpected {ev}"),
            Next::End => break,
            Next::Quiet => panic!("the stream did not end after timeoutSeconds=5"),
        }
    }
    match bookmark {
        None => diffs.note("no BOOKMARK before the watch timed out (the cacher sends one 2 s before)".into()),
        Some(bookmark) => {
            let obj = &bookmark["object"];
            soft_eq!(
                diffs,
                (obj["kind"].as_str(), obj["apiVersion"].as_str()),
                (Some("Pod"), Some("v1")),
                "{bookmark}"
            );
            soft!(diffs, rv(obj) >= rv(&d), "{bookmark}");
            soft!(diffs, obj.get("spec").is_none(), "a bookmark carries only its resourceVersion: {bookmark}");
        }
    }

    // Without allowWatchBookmarks, none.
    let mut w = api.watch(&format!("{PODS}?watch=1&resourceVersion={now}&timeoutSeconds=4")).await;
    soft_eq!(diffs, w.kind_and_name().await, ("ADDED".into(), "d".into()));
    match w.next(Duration::from_secs(10)).await {
        Next::Event(ev) => diffs.note(format!("no bookmarks unless asked for: {ev}")),
        Next::End => {}
        Next::Quiet => diffs.note("the stream did not end after timeoutSeconds=4".into()),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_compacted_resource_version_is_gone() {
    use apiserver::store::Store;
    let server = Server::start();
    let api = Api::new(&server);
    let mut diffs = Diffs::default();
    let old = api.create(PODS, &pod("a")).await;
    for i in 0..4 {
        api.create(PODS, &pod(&format!("p{i}"))).await;
    }
    let now = rv(&api.get(PODS).await.expect(200));
    server.etcd.store().await.compact(now).await.expect("compact etcd");

    // A watch from before the compaction: 200, then one ERROR event with a 410 Expired Status.
    let mut w = api.watch(&format!("{PODS}?watch=1&resourceVersion={}", rv(&old))).await;
    soft_eq!(diffs, w.status, StatusCode::OK);
    let ev = w.event().await;
    soft_eq!(diffs, ev["type"], "ERROR", "{ev}");
    let s = &ev["object"];
    soft_eq!(diffs, (s["kind"].as_str(), s["apiVersion"].as_str()), (Some("Status"), Some("v1")), "{ev}");
    soft_eq!(
        diffs,
        (s["status"].as_str(), s["reason"].as_str(), s["code"].as_i64()),
        (Some("Failure"), Some("Expired"), Some(410))
    );
    soft!(diffs, s["message"].as_str().unwrap().starts_with("too old resource version: "), "{ev}");
    soft!(diffs, matches!(w.next(Duration::from_secs(5)).await, Next::End), "the stream ends after the error");

    // A list at a compacted version: 410 itself.
    let r = api.get(&format!("{PODS}?resourceVersion={}&resourceVersionMatch=Exact", rv(&old))).await;
    let s = r.failure(&mut diffs, 410, "Expired");
    soft_eq!(diffs, s["message"], "The resourceVersion for the provided list is too old.");
}

// ---- patches and the scale subresource ----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn merge_json_and_strategic_merge_patches() {
    let server = Server::start();
    let api = Api::new(&server);
    let mut diffs = Diffs::default();
    api.create(DEPLOYMENTS, &deployment("web")).await;
    let path = format!("{DEPLOYMENTS}/web");
    let containers = |d: &Value| -> Vec<(String, String)> {
        d["spec"]["template"]["spec"]["containers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| (c["name"].as_str().unwrap().into(), c["image"].as_str().unwrap().into()))
            .collect()
    };

    // Merge patch: maps merge, null removes, lists are replaced.
    let r =
        api.patch(&path, MERGE, &json!({"metadata": {"labels": {"tier": "front"}, "annotations": {"a": "1"}}})).await;
    let d = r.expect(200);
    soft_eq!(diffs, d["metadata"]["labels"]["tier"], "front");
    let d = api.patch(&path, MERGE, &json!({"metadata": {"annotations": {"a": null}}})).await.expect(200);
    soft!(diffs, d["metadata"]["annotations"].get("a").is_none(), "{}", d["metadata"]);

    // Strategic merge: containers merge by name.
    let smp = json!({"spec": {"template": {"spec": {"containers": [{"name": "b", "image": "busybox:2"}]}}}});
    let d = api.patch(&path, STRATEGIC, &smp).await.expect(200);
    soft_eq!(diffs, containers(&d), [("a".into(), "nginx".into()), ("b".into(), "busybox:2".into())]);
    // $patch: delete removes one by its key.
    let del = json!({"spec": {"template": {"spec": {"containers": [{"name": "a", "$patch": "delete"}]}}}});
    let d = api.patch(&path, STRATEGIC, &del).await.expect(200);
    soft_eq!(diffs, containers(&d), [("b".to_string(), "busybox:2".to_string())]);

    // JSON patch: operations in order; a failed test changes nothing.
    let ops = json!([{"op": "replace", "path": "/spec/replicas", "value": 4},
                     {"op": "add", "path": "/spec/template/spec/containers/-", "value": {"name": "c", "image": "redis"}}]);
    let d = api.patch(&path, JSON_PATCH, &ops).await.expect(200);
    soft_eq!(diffs, d["spec"]["replicas"], 4);
    soft_eq!(diffs, containers(&d).len(), 2);
    let before = api.get(&path).await.expect(200);
    let failing = json!([{"op": "test", "path": "/spec/replicas", "value": 9}, {"op": "replace", "path": "/spec/replicas", "value": 1}]);
    // kube-apiserver's message is the generic one of a 422 ("the server
    // rejected our request due to an error in our request"), the reason in
    // its causes; either way the code and reason are these.
    api.patch(&path, JSON_PATCH, &failing).await.failure(&mut diffs, 422, "Invalid");
    soft_eq!(diffs, api.get(&path).await.expect(200), before, "a failed patch writes nothing");

    // A patch that is not JSON at all.
    api.send(Method::PATCH, &path, &[("content-type", MERGE)], b"{not json".to_vec()).await.failure(
        &mut diffs,
        400,
        "BadRequest",
    );
    api.send(Method::PATCH, &path, &[("content-type", JSON_PATCH)], b"{\"op\":\"add\"}".to_vec()).await.failure(
        &mut diffs,
        400,
        "BadRequest",
    );
    // A patch whose result is invalid.
    api.patch(&path, MERGE, &json!({"spec": {"replicas": -3}})).await.failure(&mut diffs, 422, "Invalid");
}

/// Server-side apply (`kubectl apply --server-side`): a YAML body, a field
/// manager, conflicts between managers, `force`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_side_apply() {
    let server = Server::start();
    let api = Api::new(&server);
    let mut diffs = Diffs::default();
    let path = format!("{DEPLOYMENTS}/web");
    let manifest = |replicas: u32| {
        format!(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  replicas: {replicas}\n  \
             selector: {{matchLabels: {{app: web}}}}\n  template:\n    metadata: {{labels: {{app: web}}}}\n    \
             spec: {{containers: [{{name: a, image: nginx}}]}}\n"
        )
        .into_bytes()
    };
    let apply = |query: &str, body: Vec<u8>| {
        let path = format!("{path}?{query}");
        let api = &api;
        async move { api.send(Method::PATCH, &path, &[("content-type", "application/apply-patch+yaml")], body).await }
    };

    // ValidatePatchOptions: apply needs a field manager.
    let s = apply("", manifest(2)).await.failure(&mut diffs, 422, "Invalid");
    soft_eq!(diffs, s["details"]["kind"], "PatchOptions", "{s}");
    soft_eq!(diffs, causes(&s), [("FieldValueRequired".to_string(), "fieldManager".to_string())]);

    // Applying what does not exist creates it: 201.
    let r = apply("fieldManager=kubectl", manifest(2)).await;
    soft_eq!(diffs, r.status.as_u16(), 201, "{}", r.text());
    let created = api.get(&path).await;
    if created.status != StatusCode::OK {
        diffs.note(format!("apply did not create the deployment: {}", created.text()));
        return;
    }
    let created = created.json();
    let managers: Vec<(String, String)> = created["metadata"]["managedFields"]
        .as_array()
        .map(|m| {
            m.iter()
                .map(|e| (e["manager"].as_str().unwrap_or("").into(), e["operation"].as_str().unwrap_or("").into()))
                .collect()
        })
        .unwrap_or_default();
    soft_eq!(diffs, managers, [("kubectl".to_string(), "Apply".to_string())], "{}", created["metadata"]);

    // Another manager setting a field kubectl owns, to another value: a conflict naming both.
    let r = apply("fieldManager=other", manifest(5)).await;
    let s = r.failure(&mut diffs, 409, "Conflict");
    soft_eq!(diffs, s["message"], r#"Apply failed with 1 conflict: conflict with "kubectl": .spec.replicas"#);
    soft_eq!(
        diffs,
        s["details"]["causes"],
        json!([{"reason": "FieldManagerConflict", "message": r#"conflict with "kubectl""#, "field": ".spec.replicas"}])
    );
    soft_eq!(diffs, api.get(&path).await.expect(200)["spec"]["replicas"], 2);

    // force=true takes the field over.
    let r = apply("fieldManager=other&force=true", manifest(5)).await;
    soft_eq!(diffs, r.status.as_u16(), 200, "{}", r.text());
    soft_eq!(diffs, api.get(&path).await.expect(200)["spec"]["replicas"], 5);
    // force belongs to apply alone.
    api.patch(&format!("{path}?force=true"), MERGE, &json!({})).await.failure(&mut diffs, 422, "Invalid");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_scale_subresource_of_a_deployment() {
    let server = Server::start();
    let api = Api::new(&server);
    let mut diffs = Diffs::default();
    let d = api.create(DEPLOYMENTS, &deployment("web")).await;
    let path = format!("{DEPLOYMENTS}/web/scale");

    let scale = api.get(&path).await.expect(200);
    soft_eq!(diffs, (scale["kind"].as_str(), scale["apiVersion"].as_str()), (Some("Scale"), Some("autoscaling/v1")));
    soft_eq!(diffs, scale["metadata"]["name"], "web");
    soft_eq!(diffs, scale["metadata"]["namespace"], "default");
    soft_eq!(diffs, scale["metadata"]["uid"], d["metadata"]["uid"]);
    soft_eq!(diffs, scale["spec"]["replicas"], 2);
    soft_eq!(diffs, scale["status"]["replicas"], 0);
    soft_eq!(diffs, scale["status"]["selector"], "app=web");

    let mut put = scale.clone();
    put["spec"]["replicas"] = 3.into();
    let scaled = api.put(&path, &put).await.expect(200);
    soft_eq!(diffs, scaled["spec"]["replicas"], 3);
    soft_eq!(diffs, api.get(&format!("{DEPLOYMENTS}/web")).await.expect(200)["spec"]["replicas"], 3);
    // The same PUT again is stale.
    put["spec"]["replicas"] = 4.into();
    api.put(&path, &put).await.failure(&mut diffs, 409, "Conflict");

    let patched = api.patch(&path, MERGE, &json!({"spec": {"replicas": 5}})).await.expect(200);
    soft_eq!(diffs, patched["spec"]["replicas"], 5);
    soft_eq!(diffs, api.get(&format!("{DEPLOYMENTS}/web")).await.expect(200)["spec"]["replicas"], 5);
    api.patch(&path, MERGE, &json!({"spec": {"replicas": -1}})).await.failure(&mut diffs, 422, "Invalid");
    api.get(&format!("{DEPLOYMENTS}/nope/scale")).await.failure(&mut diffs, 404, "NotFound");
}

// ---- dry runs ----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dry_runs_store_nothing() {
    let server = Server::start();
    let api = Api::new(&server);
    let mut diffs = Diffs::default();

    let r = api.post(&format!("{PODS}?dryRun=All"), &pod("ghost")).await;
    let ghost = r.expect(201);
    soft_eq!(diffs, ghost["metadata"]["name"], "ghost");
    soft_eq!(diffs, ghost["status"]["phase"], "Pending", "a dry run is defaulted like a real create");
    api.get(&format!("{PODS}/ghost")).await.failure(&mut diffs, 404, "NotFound");

    let web = api.create(PODS, &pod("web")).await;
    let path = format!("{PODS}/web");
    let mut changed = web.clone();
    changed["metadata"]["labels"]["dry"] = "run".into();
    let r = api.put(&format!("{path}?dryRun=All"), &changed).await.expect(200);
    soft_eq!(diffs, r["metadata"]["labels"]["dry"], "run");
    let r = api.patch(&format!("{path}?dryRun=All"), MERGE, &json!({"metadata": {"labels": {"dry": "patch"}}})).await;
    soft_eq!(diffs, r.expect(200)["metadata"]["labels"]["dry"], "patch");
    let r = api.delete(&format!("{path}?dryRun=All")).await;
    soft_eq!(diffs, r.status, StatusCode::OK, "{}", r.text());
    let body = json!({"kind": "DeleteOptions", "apiVersion": "v1", "dryRun": ["All"]});
    let r = api.send(Method::DELETE, &path, &[("content-type", JSON)], body.to_string().into_bytes()).await;
    soft_eq!(diffs, r.status, StatusCode::OK, "{}", r.text());

    let now = api.get(&path).await.expect(200);
    soft_eq!(
        diffs,
        now["metadata"]["resourceVersion"],
        web["metadata"]["resourceVersion"],
        "nothing was written: {now}"
    );
    soft!(diffs, now["metadata"]["labels"].get("dry").is_none());
    soft!(diffs, now["metadata"].get("deletionTimestamp").is_none());
    soft_eq!(diffs, api.pod_names().await, ["web"]);
}

// ---- discovery and the paths outside the resource tree ----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discovery_documents() {
    let server = Server::start();
    let api = Api::new(&server);
    let mut diffs = Diffs::default();

    let core = api.get("/api").await.expect(200);
    soft_eq!(diffs, core["kind"], "APIVersions");
    soft_eq!(diffs, core["versions"], json!(["v1"]));
    soft_eq!(diffs, core["serverAddressByClientCIDRs"][0]["clientCIDR"], "0.0.0.0/0");

    let groups = api.get("/apis").await.expect(200);
    soft_eq!(diffs, (groups["kind"].as_str(), groups["apiVersion"].as_str()), (Some("APIGroupList"), Some("v1")));
    let apps = groups["groups"].as_array().unwrap().iter().find(|g| g["name"] == "apps").expect("apps in /apis");
    soft_eq!(diffs, apps["versions"], json!([{"groupVersion": "apps/v1", "version": "v1"}]));
    soft_eq!(diffs, apps["preferredVersion"], json!({"groupVersion": "apps/v1", "version": "v1"}));
    soft!(diffs, groups["groups"].as_array().unwrap().iter().all(|g| g["name"] != ""), "the core group is /api's");
    let group = api.get("/apis/apps").await.expect(200);
    soft_eq!(diffs, (group["kind"].as_str(), group["name"].as_str()), (Some("APIGroup"), Some("apps")));

    let v1 = api.get("/api/v1").await.expect(200);
    soft_eq!(diffs, (v1["kind"].as_str(), v1["groupVersion"].as_str()), (Some("APIResourceList"), Some("v1")));
    let find = |list: &Value, name: &str| -> Value {
        list["resources"].as_array().unwrap().iter().find(|r| r["name"] == name).cloned().unwrap_or(Value::Null)
    };
    let pods = find(&v1, "pods");
    soft_eq!(
        diffs,
        (pods["kind"].as_str(), pods["singularName"].as_str(), pods["namespaced"].as_bool()),
        (Some("Pod"), Some("pod"), Some(true))
    );
    soft_eq!(diffs, pods["shortNames"], json!(["po"]));
    soft_eq!(diffs, pods["categories"], json!(["all"]));
    let mut verbs: Vec<String> = serde_json::from_value(pods["verbs"].clone()).unwrap();
    verbs.sort();
    soft_eq!(diffs, verbs, ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]);
    soft_eq!(diffs, find(&v1, "pods/log")["kind"], "Pod");
    soft_eq!(diffs, find(&v1, "pods/status")["kind"], "Pod");
    soft_eq!(diffs, find(&v1, "nodes")["namespaced"], false);

    let apps_v1 = api.get("/apis/apps/v1").await.expect(200);
    soft_eq!(diffs, (apps_v1["apiVersion"].as_str(), apps_v1["groupVersion"].as_str()), (Some("v1"), Some("apps/v1")));
    let scale = find(&apps_v1, "deployments/scale");
    soft_eq!(
        diffs,
        (scale["group"].as_str(), scale["version"].as_str(), scale["kind"].as_str()),
        (Some("autoscaling"), Some("v1"), Some("Scale")),
        "kubectl scale finds the Scale kind here: {scale}"
    );
    soft_eq!(diffs, find(&apps_v1, "deployments")["shortNames"], json!(["deploy"]));
    api.get("/apis/apps/v9").await.failure(&mut diffs, 404, "NotFound");
    api.get("/apis/frobs.example.com").await.failure(&mut diffs, 404, "NotFound");

    // Aggregated discovery (KEP-3352): asked for in Accept, told by Content-Type.
    for path in ["/api", "/apis"] {
        let r = api.get_as(path, DISCOVERY_V2).await;
        soft_eq!(diffs, r.status, StatusCode::OK);
        soft_eq!(
            diffs,
            r.header("content-type"),
            "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
        );
        let doc = r.json();
        soft_eq!(
            diffs,
            (doc["kind"].as_str(), doc["apiVersion"].as_str()),
            (Some("APIGroupDiscoveryList"), Some("apidiscovery.k8s.io/v2"))
        );
        let items = doc["items"].as_array().expect("items");
        soft!(diffs, !items.is_empty());
        if path == "/api" {
            soft_eq!(diffs, items.len(), 1);
            soft_eq!(
                diffs,
                items[0]["metadata"].get("name").and_then(Value::as_str).unwrap_or(""),
                "",
                "the core group has no name"
            );
            let pods = items[0]["versions"][0]["resources"]
                .as_array()
                .unwrap()
                .iter()
                .find(|r| r["resource"] == "pods")
                .cloned()
                .expect("pods");
            soft_eq!(diffs, pods["responseKind"], json!({"group": "", "version": "v1", "kind": "Pod"}));
            soft_eq!(diffs, pods["scope"], "Namespaced");
        } else {
            let apps = items.iter().find(|g| g["metadata"]["name"] == "apps").expect("apps");
            soft_eq!(diffs, apps["versions"][0]["version"], "v1");
            soft_eq!(diffs, apps["versions"][0]["freshness"], "Current");
            let deploy = apps["versions"][0]["resources"]
                .as_array()
                .unwrap()
                .iter()
                .find(|r| r["resource"] == "deployments")
                .cloned()
                .expect("deployments");
            soft_eq!(diffs, deploy["singularResource"], "deployment");
            soft_eq!(diffs, deploy["shortNames"], json!(["deploy"]));
            let scale = deploy["subresources"]
                .as_array()
                .unwrap()
                .iter()
                .find(|s| s["subresource"] == "scale")
                .cloned()
                .expect("scale");
            soft_eq!(diffs, scale["responseKind"], json!({"group": "autoscaling", "version": "v1", "kind": "Scale"}));
        }
    }
    // Asked for plainly, the legacy documents.
    let r = api.get_as("/apis", JSON).await;
    soft_eq!(diffs, r.header("content-type"), JSON);
    soft_eq!(diffs, r.json()["kind"], "APIGroupList");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn version_and_health() {
    let server = Server::start();
    let api = Api::new(&server);
    let mut diffs = Diffs::default();
    let v = api.get("/version").await.expect(200);
    for field in
        ["major", "minor", "gitVersion", "gitCommit", "gitTreeState", "buildDate", "goVersion", "compiler", "platform"]
    {
        soft!(diffs, v[field].is_string(), "{field} in {v}");
    }
    soft!(diffs, v["gitVersion"].as_str().unwrap().starts_with('v'), "{v}");

    for path in ["/healthz", "/livez", "/readyz", "/readyz/ping"] {
        let r = api.get(path).await;
        soft_eq!(diffs, (r.status, r.text().as_str()), (StatusCode::OK, "ok"), "{path}");
    }
    let r = api.get("/readyz?verbose").await;
    soft_eq!(diffs, r.status, StatusCode::OK);
    let text = r.text();
    soft!(diffs, text.lines().any(|l| l == "[+]ping ok"), "{text}");
    soft!(diffs, text.lines().any(|l| l.starts_with("[+]etcd ok")), "{text}");
    soft_eq!(diffs, text.lines().last(), Some("readyz check passed"), "{text}");
    soft_eq!(diffs, api.get("/healthz/nonexistent").await.status, StatusCode::NOT_FOUND);
}

// ---- nodes/proxy ----

/// A stand-in kubelet: answers one HTTP request with `ok` and hands back the
/// request's head (this suite runs no kubelets).
async fn one_answer(listener: tokio::net::TcpListener) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let (mut conn, _) = listener.accept().await.expect("the apiserver connects");
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = conn.read(&mut buf).await.expect("a request");
        assert!(n > 0, "the request ended early: {}", String::from_utf8_lossy(&head));
        head.extend_from_slice(&buf[..n]);
    }
    conn.write_all(b"HTTP/1.1 200 OK\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok")
        .await
        .expect("an answer");
    String::from_utf8_lossy(&head).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_proxy_reaches_the_kubelet_or_says_why_not() {
    let server = Server::start();
    let api = Api::new(&server);
    let mut diffs = Diffs::default();

    // A node that does not exist: the registry's NotFound, before any dial.
    let s = api.get("/api/v1/nodes/ghost/proxy/healthz").await.failure(&mut diffs, 404, "NotFound");
    soft_eq!(diffs, s["message"], r#"nodes "ghost" not found"#);
    soft_eq!(diffs, s["details"], json!({"name": "ghost", "kind": "nodes"}));

    // A node whose kubelet listens: the request goes to its InternalIP and
    // the port in daemonEndpoints, path and query as asked.
    let kubelet = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("a port");
    let port = kubelet.local_addr().expect("an address").port();
    let node = |name: &str, port: u16| {
        json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": name}, "status": {
            "addresses": [{"type": "Hostname", "address": name}, {"type": "InternalIP", "address": "127.0.0.1"}],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": port}}}})
    };
    for (name, port) in [("worker", port), ("quiet", 0)] {
        let created = api.create("/api/v1/nodes", &node(name, port)).await;
        let mut with_status = node(name, port);
        with_status["metadata"] = created["metadata"].clone();
        api.put(&format!("/api/v1/nodes/{name}/status"), &with_status).await.expect(200);
    }
    let head = tokio::spawn(one_answer(kubelet));
    let r = api.get("/api/v1/nodes/worker/proxy/healthz?verbose=1").await;
    soft_eq!(diffs, (r.status, r.text().as_str()), (StatusCode::OK, "ok"));
    let head = head.await.expect("the stand-in kubelet");
    soft_eq!(diffs, head.lines().next(), Some("GET /healthz?verbose=1 HTTP/1.1"), "{head}");

    // A kubelet that does not answer: 503, in kube-apiserver's proxy words.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("a port");
        l.local_addr().expect("an address").port()
    };
    let path = format!("/api/v1/nodes/quiet:{closed}/proxy/pods");
    let s = api.get(&path).await.failure(&mut diffs, 503, "ServiceUnavailable");
    soft_eq!(
        diffs,
        s["message"],
        format!("error trying to reach service: dial tcp 127.0.0.1:{closed}: connect: connection refused")
    );
    // The proxy subresource of nodes is in discovery, with kube-apiserver's verbs.
    let core = api.get("/api/v1").await.expect(200);
    let proxy = core["resources"].as_array().into_iter().flatten().find(|r| r["name"] == "nodes/proxy").cloned();
    soft_eq!(
        diffs,
        proxy.map(|p| (p["kind"].clone(), p["verbs"].clone())),
        Some((json!("NodeProxyOptions"), json!(["create", "delete", "get", "patch", "update"])))
    );
}

// ---- Tables ----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tables_for_kubectl_get() {
    let server = Server::start();
    let api = Api::new(&server);
    let mut diffs = Diffs::default();
    api.create(PODS, &pod("web")).await;
    api.create(PODS, &pod("db")).await;

    let r = api.get_as(PODS, TABLE).await;
    let t = r.expect(200);
    soft_eq!(diffs, (t["kind"].as_str(), t["apiVersion"].as_str()), (Some("Table"), Some("meta.k8s.io/v1")));
    soft!(diffs, t["metadata"]["resourceVersion"].as_str().is_some_and(|v| !v.is_empty()), "{t}");
    let columns = t["columnDefinitions"].as_array().expect("columnDefinitions");
    for c in columns {
        for field in ["name", "type", "format", "description"] {
            soft!(diffs, c[field].is_string(), "{field} in {c}");
        }
        soft!(diffs, c["priority"].is_i64(), "{c}");
    }
    let rows = t["rows"].as_array().expect("rows");
    soft_eq!(diffs, rows.len(), 2);
    for row in rows {
        soft_eq!(diffs, row["cells"].as_array().unwrap().len(), columns.len(), "a cell per column: {row}");
        // includeObject defaults to Metadata: -A, --show-labels and -L read it.
        soft_eq!(
            diffs,
            (row["object"]["kind"].as_str(), row["object"]["apiVersion"].as_str()),
            (Some("PartialObjectMetadata"), Some("meta.k8s.io/v1"))
        );
        soft_eq!(diffs, row["object"]["metadata"]["labels"]["app"], "web");
    }
    soft_eq!(diffs, rows[0]["cells"][0], "db");

    // A single object is a one-row Table; includeObject=Object carries the whole pod.
    let one = api.get_as(&format!("{PODS}/web?includeObject=Object"), TABLE).await.expect(200);
    soft_eq!(diffs, one["rows"].as_array().unwrap().len(), 1);
    soft_eq!(diffs, one["rows"][0]["object"]["kind"], "Pod");
    let none = api.get_as(&format!("{PODS}?includeObject=None"), TABLE).await.expect(200);
    soft!(diffs, none["rows"][0]["object"].is_null(), "{}", none["rows"][0]);

    // kubectl's pod columns (printers.go printPod): Name, Ready, Status, Restarts, Age; -o wide adds the rest.
    let by_priority = |p: i64| -> Vec<&str> {
        columns.iter().filter(|c| c["priority"] == p).map(|c| c["name"].as_str().unwrap()).collect()
    };
    soft_eq!(diffs, by_priority(0), ["Name", "Ready", "Status", "Restarts", "Age"]);
    soft_eq!(diffs, by_priority(1), ["IP", "Node", "Nominated Node", "Readiness Gates"]);
    soft_eq!(diffs, rows[1]["cells"][1], "0/1");
    soft_eq!(diffs, rows[1]["cells"][2], "Pending");

    // `kubectl get -w`: each event's object is a Table of its one row.
    let mut w = api
        .watch_as(
            &format!("{PODS}?watch=1&resourceVersion={}", t["metadata"]["resourceVersion"].as_str().unwrap()),
            TABLE,
        )
        .await;
    api.create(PODS, &pod("late")).await;
    let ev = w.event().await;
    soft_eq!(diffs, ev["type"], "ADDED", "{ev}");
    soft_eq!(diffs, ev["object"]["kind"], "Table", "{ev}");
    soft_eq!(diffs, ev["object"]["rows"][0]["cells"][0], "late", "{ev}");

    // The next Table shows what changed since the last one: a new label, a deleted pod.
    let patched = api
        .patch(
            &format!("{PODS}/db"),
            "application/merge-patch+json",
            &json!({"metadata": {"labels": {"tier": "data"}}}),
        )
        .await;
    let patched = patched.expect(200);
    let again = api.get_as(PODS, TABLE).await.expect(200);
    soft_eq!(diffs, again["rows"][0]["object"]["metadata"]["labels"]["tier"], "data", "{again}");
    soft_eq!(diffs, again["rows"][0]["object"]["metadata"]["resourceVersion"], patched["metadata"]["resourceVersion"]);
    // Pages of a Table: one row, then the next after the continue token; a selector still selects.
    let first = api.get_as(&format!("{PODS}?limit=1"), TABLE).await.expect(200);
    soft_eq!(diffs, first["rows"].as_array().map(Vec::len), Some(1), "{first}");
    let token = first["metadata"]["continue"].as_str().unwrap_or_default().to_string();
    soft!(diffs, !token.is_empty(), "a first page of one names where to go on: {first}");
    let next = api.get_as(&format!("{PODS}?limit=1&continue={token}"), TABLE).await.expect(200);
    soft_eq!(diffs, next["rows"][0]["cells"][0], "late", "{next}");
    soft_eq!(diffs, next["metadata"]["resourceVersion"], first["metadata"]["resourceVersion"], "one snapshot");
    let selected = api.get_as(&format!("{PODS}?labelSelector=tier%3Ddata"), TABLE).await.expect(200);
    soft_eq!(diffs, selected["rows"].as_array().map(Vec::len), Some(1), "{selected}");
    api.delete(&format!("{PODS}/db")).await.expect(200);
    let after = api.get_as(PODS, TABLE).await.expect(200);
    let names: Vec<&Value> = after["rows"].as_array().unwrap().iter().map(|r| &r["cells"][0]).collect();
    soft_eq!(diffs, names, [&json!("late"), &json!("web")], "{after}");
}

// ---- malformed requests ----

/// Like [`Reply::failure`], but says what differs instead of panicking,
/// so that one run lists every case that fails.
fn check(r: &Reply, code: u16, reason: &str, says: &str) -> Result<(), String> {
    let s: Value = serde_json::from_slice(&r.body).unwrap_or(Value::Null);
    let ok = r.status.as_u16() == code
        && r.header("content-type").starts_with(JSON)
        && s["kind"] == "Status"
        && s["apiVersion"] == "v1"
        && s["status"] == "Failure"
        && s["reason"] == reason
        && s["code"] == code
        && s["message"].as_str().is_some_and(|m| !m.is_empty() && m.contains(says));
    if ok {
        Ok(())
    } else {
        Err(format!("{} {} (want {code} {reason}, a message with {says:?})", r.status, r.text()))
    }
}

/// A request that must be refused, and how.
struct Bad {
    what: &'static str,
    method: Method,
    path: String,
    content_type: &'static str,
    accept: &'static str,
    body: Vec<u8>,
    code: u16,
    reason: &'static str,
    /// Words the message must hold.
    says: &'static str,
}

fn bad(
    what: &'static str,
    method: Method,
    path: &str,
    body: impl Into<Vec<u8>>,
    code: u16,
    reason: &'static str,
    says: &'static str,
) -> Bad {
    Bad {
        what,
        method,
        path: path.to_string(),
        content_type: JSON,
        accept: JSON,
        body: body.into(),
        code,
        reason,
        says,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_requests_get_a_clear_status_and_store_nothing() {
    let server = Server::start();
    let api = Api::new(&server);
    let mut diffs = Diffs::default();
    api.create(PODS, &pod("kept")).await;
    let kept = format!("{PODS}/kept");
    let svc =
        json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"}, "spec": {"ports": [{"port": 80}]}});
    let mut other_ns = pod("mismatch");
    other_ns["metadata"]["namespace"] = "kube-system".into();
    let mut slash = pod("x");
    slash["metadata"]["name"] = "a/b".into();
    let mut nameless = pod("x");
    nameless["metadata"].as_object_mut().unwrap().remove("name");
    let mut renamed = pod("other");
    renamed["metadata"]["name"] = "other".into();
    let mut non_utf8 = br#"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"bad-"#.to_vec();
    non_utf8.extend_from_slice(&[0xff, 0xfe]);
    non_utf8.extend_from_slice(br#""},"spec":{"containers":[{"name":"c","image":"nginx"}]}}"#);

    let post = Method::POST;
    let cases = vec![
        bad("bad JSON", post.clone(), PODS, "{\"apiVersion\": \"v1\", \"kind\": ", 400, "BadRequest", ""),
        bad("an empty body", post.clone(), PODS, "", 400, "BadRequest", ""),
        bad("a list instead of an object", post.clone(), PODS, format!("[{}]", pod("listed")), 400, "BadRequest", ""),
        bad("a string instead of an object", post.clone(), PODS, "\"pod\"", 400, "BadRequest", ""),
        // transformDecodeError: `<Kind> in version "<v>" cannot be handled as a <Kind>`.
        bad(
            "the wrong kind for the URL",
            post.clone(),
            PODS,
            svc.to_string(),
            400,
            "BadRequest",
            "cannot be handled as a Pod",
        ),
        bad(
            "a namespace other than the URL's",
            post.clone(),
            PODS,
            other_ns.to_string(),
            400,
            "BadRequest",
            "the namespace of the provided object does not match the namespace sent on the request",
        ),
        bad(
            "a name other than the URL's",
            Method::PUT,
            &kept,
            renamed.to_string(),
            400,
            "BadRequest",
            "the name of the object (other) does not match the name on the URL (kept)",
        ),
        bad("a name with a slash", post.clone(), PODS, slash.to_string(), 422, "Invalid", "metadata.name"),
        bad("no name", post.clone(), PODS, nameless.to_string(), 422, "Invalid", "name or generateName is required"),
        bad(
            "a bad label selector",
            Method::GET,
            &format!("{PODS}?labelSelector=app%20in%20(web"),
            "",
            400,
            "BadRequest",
            "",
        ),
        bad(
            "an unknown field selector",
            Method::GET,
            &format!("{PODS}?fieldSelector=spec.frob%3Dx"),
            "",
            400,
            "BadRequest",
            "field label not supported: spec.frob",
        ),
        bad(
            "a field selector without a value",
            Method::GET,
            &format!("{PODS}?fieldSelector=metadata.name"),
            "",
            400,
            "BadRequest",
            "",
        ),
        // ValidateCreateOptions: dryRun is NotSupported -> Invalid on CreateOptions.
        bad(
            "dryRun=Some",
            post.clone(),
            &format!("{PODS}?dryRun=Some"),
            pod("dry").to_string(),
            422,
            "Invalid",
            "dryRun",
        ),
        bad("limit=x", Method::GET, &format!("{PODS}?limit=x"), "", 400, "BadRequest", ""),
        bad("watch=maybe", Method::GET, &format!("{PODS}?watch=maybe"), "", 400, "BadRequest", ""),
        bad(
            "a continue token that is not one",
            Method::GET,
            &format!("{PODS}?limit=1&continue=bogus"),
            "",
            400,
            "BadRequest",
            "",
        ),
        bad(
            "an unknown resource",
            Method::GET,
            "/api/v1/frobs",
            "",
            404,
            "NotFound",
            "the server could not find the requested resource",
        ),
        bad(
            "a create of an unknown resource",
            post.clone(),
            "/api/v1/namespaces/default/frobs",
            pod("f").to_string(),
            404,
            "NotFound",
            "",
        ),
        bad(
            "a cluster-scoped resource in a namespace",
            Method::GET,
            "/api/v1/namespaces/default/nodes",
            "",
            404,
            "NotFound",
            "",
        ),
        bad(
            "a resource in the wrong group",
            Method::GET,
            "/apis/apps/v1/namespaces/default/pods",
            "",
            404,
            "NotFound",
            "",
        ),
        bad("an encoded slash in a name", Method::GET, &format!("{PODS}/a%2Fb"), "", 404, "NotFound", ""),
        bad("an unknown subresource", Method::GET, &format!("{kept}/frob"), "", 404, "NotFound", ""),
        bad("a non-UTF-8 body", post.clone(), PODS, non_utf8, 0, "", ""),
    ];
    let mut table_bad = bad(
        "includeObject=X on a Table",
        Method::GET,
        &format!("{PODS}?includeObject=X"),
        "",
        400,
        "BadRequest",
        "Unable to convert to Table as requested: includeObject",
    );
    table_bad.accept = TABLE;
    let mut failures = Vec::new();
    for case in cases.into_iter().chain([table_bad]) {
        let headers = [("content-type", case.content_type), ("accept", case.accept)];
        let r = api.send(case.method.clone(), &case.path, &headers, case.body.clone()).await;
        let outcome = if case.code == 0 {
            // Go's JSON decoder turns bad bytes into U+FFFD, which no name
            // may hold (422); refusing the body outright (400) is as clear.
            match r.status.as_u16() {
                400 => check(&r, 400, "BadRequest", ""),
                _ => check(&r, 422, "Invalid", ""),
            }
        } else {
            check(&r, case.code, case.reason, case.says)
        };
        if let Err(e) = outcome {
            failures.push(format!("{}: {} {} -> {e}", case.what, case.method, case.path));
        }
    }
    // includeObject means something only for Tables; elsewhere kube-apiserver ignores it.
    let r = api.get(&format!("{PODS}?includeObject=X")).await;
    if r.status != StatusCode::OK {
        failures.push(format!(
            "includeObject=X on plain JSON (ignored by kube-apiserver) -> {} {}",
            r.status,
            r.text()
        ));
    }
    soft!(
        diffs,
        failures.is_empty(),
        "{} malformed requests answered unlike kube-apiserver:\n{}",
        failures.len(),
        failures.join("\n")
    );
    soft_eq!(diffs, api.pod_names().await, ["kept"], "nothing malformed was stored");
    soft_eq!(diffs, api.get(&kept).await.expect(200)["metadata"]["name"], "kept");
}
