//! The kubelet's HTTP API, at Kubernetes' kubelet paths, on the port of the
//! node agent's gRPC service (requests go by Content-Type, see
//! [`daemon::serve`]). The apiserver forwards `nodes/<name>/proxy/<path>`
//! here, so `kubectl get --raw /api/v1/nodes/<node>/proxy/pods` and
//! `kubectl proxy` users read what this kubelet holds:
//!
//! | path | answer |
//! |---|---|
//! | `/healthz` | `ok` |
//! | `/pods` | the PodList of the pods bound to this node, as the kubelet sees them |
//! | `/runningpods/` | the PodList of the pods with running containers, as the runtime lists them (name, namespace, uid, containers' names and images) |
//! | `/containerLogs/<ns>/<pod>/<container>` | the container's log; `tailLines`, `limitBytes`, `sinceSeconds`, `sinceTime`, `timestamps`, `previous`, `follow` |
//!
//! Errors are plain text with the kubelet's words and codes (its
//! `pkg/kubelet/server/server.go`); any other path is Go's `404 page not found`.

use crate::pods::Kubelet;
use crate::runtime::{ContainerState, LogOptions};
use crate::server::{log_container_id, NodeAgentService};
use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::Response;
use client::Object;
use futures::StreamExt;
use http::{header, HeaderValue, Method, StatusCode};
use k8s_openapi::api::core::v1::{Container, Pod, PodSpec, PodStatus};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// The kubelet's HTTP API as a router: every path goes to [`handle`].
pub fn router(kubelet: Kubelet) -> axum::Router {
    axum::Router::new().fallback(handle).with_state(kubelet)
}

/// A refusal: a status and the kubelet's plain-text reason.
struct Refusal(StatusCode, String);

impl Refusal {
    fn new(code: StatusCode, message: impl Into<String>) -> Self {
        Refusal(code, message.into())
    }
}

fn text(code: StatusCode, body: String) -> Response {
    let mut r = Response::new(Body::from(body));
    *r.status_mut() = code;
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
    r
}

fn json_response(body: &Value) -> Response {
    let mut r = Response::new(Body::from(body.to_string()));
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    r
}

impl From<Refusal> for Response {
    fn from(Refusal(code, message): Refusal) -> Response {
        text(code, message)
    }
}

/// Serves one request.
pub async fn handle(State(kubelet): State<Kubelet>, req: Request) -> Response {
    // Issue 21: the kubelet's authentication (client certificates, bearer
    // tokens through a TokenReview) and authorisation (a SubjectAccessReview
    // of `nodes/proxy`, `nodes/log`...) go here, in front of every route but
    // `/healthz`, with TLS on the listener. Until then the API is open, as a
    // kubelet with `--anonymous-auth --authorization-mode=AlwaysAllow`.
    let path = req.uri().path().to_string();
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let answer = match segments.as_slice() {
        ["healthz"] => Ok(text(StatusCode::OK, "ok".into())),
        ["pods"] | ["pods", ""] => get_only(&req).map(|()| pods(&kubelet)),
        ["runningpods"] | ["runningpods", ""] => match get_only(&req) {
            Ok(()) => running_pods(&kubelet).await,
            Err(e) => Err(e),
        },
        ["containerLogs", namespace, pod, container] => match get_only(&req) {
            Ok(()) => container_logs(&kubelet, namespace, pod, container, req.uri().query().unwrap_or("")).await,
            Err(e) => Err(e),
        },
        _ => Err(Refusal::new(StatusCode::NOT_FOUND, "404 page not found\n")),
    };
    answer.unwrap_or_else(Response::from)
}

/// The kubelet's read-only routes answer GET only.
fn get_only(req: &Request) -> Result<(), Refusal> {
    if req.method() == Method::GET {
        Ok(())
    } else {
        Err(Refusal::new(StatusCode::METHOD_NOT_ALLOWED, "Method Not Allowed"))
    }
}

/// A `v1` PodList of `items`.
fn pod_list(items: impl IntoIterator<Item = Pod>) -> Value {
    let items: Vec<Value> = items.into_iter().map(|p| serde_json::to_value(p).unwrap_or(Value::Null)).collect();
    json!({"kind": "PodList", "apiVersion": "v1", "metadata": {}, "items": items})
}

/// `/pods`: the pods bound to this node, each with the status its worker
/// last computed (what the kubelet will write next), in name order.
fn pods(kubelet: &Kubelet) -> Response {
    let mut pods: Vec<Pod> = kubelet
        .pods()
        .into_iter()
        .map(|(pod, status)| {
            let mut pod = (*pod).clone();
            if let Some(status) = status {
                pod.status = Some((*status).clone());
            }
            pod
        })
        .collect();
    pods.sort_by(|a, b| (a.namespace(), a.name()).cmp(&(b.namespace(), b.name())));
    json_response(&pod_list(pods))
}

/// `/runningpods/`: what the runtime runs for this node, not what the API
/// asks for: a pod per pod uid that has a running app container, holding
/// only what the runtime knows of it (as the kubelet's `ToAPIPod`).
async fn running_pods(kubelet: &Kubelet) -> Result<Response, Refusal> {
    let runtime = kubelet.runtime();
    let node = &kubelet.settings().node_name;
    let failed = |e: crate::runtime::RuntimeError| Refusal::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string());
    let listed = runtime.list_containers(node).await.map_err(failed)?;
    // Ordered by namespace and name, as `/pods` is.
    let mut running = BTreeMap::new();
    for c in listed.iter().filter(|c| c.state == ContainerState::Running && !c.meta.is_sandbox()) {
        running.insert((c.meta.pod_namespace.clone(), c.meta.pod_name.clone()), c.meta.pod_uid.clone());
    }
    let mut pods = Vec::with_capacity(running.len());
    for ((namespace, name), uid) in running {
        let mut containers: Vec<Container> = runtime
            .pod_containers(node, &uid)
            .await
            .map_err(failed)?
            .into_iter()
            .filter(|c| c.state == ContainerState::Running && !c.meta.is_sandbox())
            .map(|c| Container {
                name: c.meta.container_name,
                image: Some(c.image),
                resources: Some(Default::default()),
                ..Default::default()
            })
            .collect();
        containers.sort_by(|a, b| a.name.cmp(&b.name));
        pods.push(Pod {
            metadata: ObjectMeta { name: Some(name), namespace: Some(namespace), uid: Some(uid), ..Default::default() },
            spec: Some(PodSpec { containers, ..Default::default() }),
            status: Some(PodStatus::default()),
        });
    }
    Ok(json_response(&pod_list(pods)))
}

/// The query of `/containerLogs`, read as the kubelet reads a v1
/// `PodLogOptions` from a URL.
#[derive(Debug, Default, PartialEq)]
struct LogQuery {
    tail_lines: Option<i64>,
    limit_bytes: Option<i64>,
    since_seconds: Option<i64>,
    since_time: Option<jiff::Timestamp>,
    timestamps: bool,
    previous: bool,
    follow: bool,
}

impl LogQuery {
    /// Reads the parameters: a value that is not of its type is a 400, a
    /// combination `PodLogOptions` validation refuses a 422, both with the
    /// kubelet's JSON-in-plain-text messages.
    fn parse(query: &str) -> Result<LogQuery, Refusal> {
        let undecodable = || Refusal::new(StatusCode::BAD_REQUEST, r#"{"message": "Unable to decode query."}"#);
        // The first value of each parameter, as Go's conversions take it.
        let mut params: BTreeMap<String, String> = BTreeMap::new();
        for (k, v) in form_urlencoded::parse(query.as_bytes()) {
            params.entry(k.into_owned()).or_insert_with(|| v.into_owned());
        }
        // `tail` is the old name of `tailLines`; `all` means every line.
        if let Some(tail) = params.get("tail").filter(|t| !t.is_empty()).cloned() {
            if tail == "all" {
                params.remove("tailLines");
            } else {
                params.insert("tailLines".into(), tail);
            }
        }
        let int = |name: &str| -> Result<Option<i64>, Refusal> {
            match params.get(name).map(String::as_str) {
                None | Some("") => Ok(None),
                Some(v) => v.parse().map(Some).map_err(|_| undecodable()),
            }
        };
        // Go reads a boolean parameter as true unless it is `0` or `false`.
        let flag = |name: &str| params.get(name).is_some_and(|v| v != "0" && !v.eq_ignore_ascii_case("false"));
        let since_time = match params.get("sinceTime").map(String::as_str) {
            None | Some("") | Some("null") => None,
            Some(v) => Some(v.parse::<jiff::Timestamp>().map_err(|_| undecodable())?),
        };
        let q = LogQuery {
            tail_lines: int("tailLines")?,
            limit_bytes: int("limitBytes")?,
            since_seconds: int("sinceSeconds")?,
            since_time,
            timestamps: flag("timestamps"),
            previous: flag("previous"),
            follow: flag("follow"),
        };
        let invalid = q.tail_lines.is_some_and(|n| n < 0)
            || q.limit_bytes.is_some_and(|n| n < 1)
            || q.since_seconds.is_some_and(|n| n < 1)
            || (q.since_seconds.is_some() && q.since_time.is_some());
        if invalid {
            return Err(Refusal::new(StatusCode::UNPROCESSABLE_ENTITY, r#"{"message": "Invalid request."}"#));
        }
        if let Some(stream) = params.get("stream").filter(|s| s.as_str() != "All") {
            // kubelab's runtime interleaves stdout and stderr, as a kubelet
            // without the PodLogsQuerySplitStreams gate does.
            return Err(Refusal::new(
                StatusCode::BAD_REQUEST,
                format!(
                    "unable to return the given log stream: {stream:?}. Please enable PodLogsQuerySplitStreams feature gate in kubelet"
                ),
            ));
        }
        Ok(q)
    }

    /// What the runtime is asked for (`sinceTime` as the seconds since then).
    fn options(&self) -> LogOptions {
        let since_time = self.since_time.map(|t| jiff::Timestamp::now().duration_since(t).as_secs().max(1));
        LogOptions {
            follow: self.follow,
            tail: self.tail_lines,
            timestamps: self.timestamps,
            since_seconds: self.since_seconds.or(since_time),
        }
    }
}

/// `/containerLogs/<ns>/<pod>/<container>`: the log of the instance the pod
/// status names (the running one, or with `previous` the last terminated),
/// streamed as the runtime gives it, cut at `limitBytes`.
async fn container_logs(
    kubelet: &Kubelet,
    namespace: &str,
    pod: &str,
    container: &str,
    query: &str,
) -> Result<Response, Refusal> {
    let missing = |what: &str| Refusal::new(StatusCode::BAD_REQUEST, format!(r#"{{"message": "Missing {what}."}}"#));
    if pod.is_empty() {
        return Err(missing("podID"));
    }
    if container.is_empty() {
        return Err(missing("container name"));
    }
    if namespace.is_empty() {
        return Err(missing("podNamespace"));
    }
    let q = LogQuery::parse(query)?;
    let (pod_obj, latest) = kubelet
        .pod(namespace, pod)
        .ok_or_else(|| Refusal::new(StatusCode::NOT_FOUND, format!("pod {pod:?} does not exist")))?;
    let spec = pod_obj.spec.as_ref();
    let in_spec = spec.iter().any(|s| {
        let names = s.containers.iter().map(|c| &c.name);
        let init = s.init_containers.iter().flatten().map(|c| &c.name);
        let ephemeral = s.ephemeral_containers.iter().flatten().map(|c| &c.name);
        names.chain(init).chain(ephemeral).any(|n| n == container)
    });
    if !in_spec {
        return Err(Refusal::new(StatusCode::NOT_FOUND, format!("container {container:?} not found in pod {pod:?}")));
    }
    let status = latest.map(|s| (*s).clone()).or_else(|| pod_obj.status.clone()).unwrap_or_default();
    let container_status = NodeAgentService::container_status(&status, container);
    let id = log_container_id(pod, &container_status, container, q.previous)
        .map_err(|e| Refusal::new(StatusCode::BAD_REQUEST, e.message))?;
    let logs = kubelet
        .runtime()
        .logs(&id, &q.options())
        .await
        .map_err(|e| Refusal::new(StatusCode::BAD_REQUEST, e.to_string()))?;
    // Cut at `limitBytes`, and stop there rather than wait for more of a
    // followed log. A runtime error mid-stream ends the body.
    let limit = q.limit_bytes.map(|n| usize::try_from(n).unwrap_or(usize::MAX));
    let body = futures::stream::unfold((logs, limit), |(mut logs, left)| async move {
        if left == Some(0) {
            return None;
        }
        let mut data = logs.next().await?.ok()?;
        let left = left.map(|l| {
            data.truncate(l);
            l - data.len()
        });
        Some((Ok::<_, std::convert::Infallible>(data), (logs, left)))
    });
    let mut r = Response::new(Body::from_stream(body));
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::testing::RecordingApi;
    use crate::pods::{PodEvent, Settings};
    use crate::runtime::fake::{FakeRuntime, Program};
    use std::sync::Arc;
    use std::time::Duration;

    const NODE: &str = "node1";

    /// A kubelet over the fake runtime, relisting as the real one does.
    fn kubelet(fake: &Arc<FakeRuntime>) -> Kubelet {
        let settings = Settings::for_tests(NODE);
        let kubelet = Kubelet::new(settings, fake.clone(), Arc::new(RecordingApi::default()), fake.clock());
        let k = kubelet.clone();
        tokio::spawn(async move { k.run_relist(std::future::pending()).await });
        kubelet
    }

    fn pod(name: &str, policy: &str) -> Arc<Pod> {
        Arc::new(
            serde_json::from_value(json!({
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {"name": name, "namespace": "default", "uid": format!("uid-{name}"), "labels": {"app": "kubia"}},
                "spec": {"nodeName": NODE, "restartPolicy": policy, "containers": [
                    {"name": "kubia", "image": "luksa/kubia", "imagePullPolicy": "IfNotPresent"}
                ]},
                "status": {"phase": "Pending"},
            }))
            .expect("a pod"),
        )
    }

    async fn get(kubelet: &Kubelet, method: Method, uri: &str) -> (StatusCode, String, String) {
        let req = Request::builder().method(method).uri(uri).body(Body::empty()).expect("a request");
        let answer = handle(State(kubelet.clone()), req).await;
        let code = answer.status();
        let content_type =
            answer.headers().get(header::CONTENT_TYPE).map(|v| v.to_str().unwrap().to_string()).unwrap_or_default();
        let body = axum::body::to_bytes(answer.into_body(), 1 << 20).await.expect("a body");
        (code, content_type, String::from_utf8(body.to_vec()).expect("UTF-8"))
    }

    async fn get_json(kubelet: &Kubelet, uri: &str) -> Value {
        let (code, content_type, body) = get(kubelet, Method::GET, uri).await;
        assert_eq!((code, content_type.as_str()), (StatusCode::OK, "application/json"), "{uri}: {body}");
        serde_json::from_str(&body).expect("JSON")
    }

    /// Waits (in virtual time) until `pod` reads Running at `/pods`.
    async fn until_running(kubelet: &Kubelet, pod: &str) {
        for _ in 0..100 {
            let list = get_json(kubelet, "/pods").await;
            let items = list["items"].as_array().cloned().unwrap_or_default();
            if items.iter().any(|p| p["metadata"]["name"] == pod && p["status"]["phase"] == "Running") {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("{pod} never ran");
    }

    #[tokio::test(start_paused = true)]
    async fn healthz_unknown_paths_and_methods() {
        let kubelet = kubelet(&Arc::new(FakeRuntime::new()));
        assert_eq!(
            get(&kubelet, Method::GET, "/healthz").await,
            (StatusCode::OK, "text/plain; charset=utf-8".into(), "ok".into())
        );
        let (code, _, body) = get(&kubelet, Method::GET, "/metrics/cadvisor").await;
        assert_eq!((code, body.as_str()), (StatusCode::NOT_FOUND, "404 page not found\n"));
        let (code, _, body) = get(&kubelet, Method::DELETE, "/pods").await;
        assert_eq!((code, body.as_str()), (StatusCode::METHOD_NOT_ALLOWED, "Method Not Allowed"));
        let (code, _, _) = get(&kubelet, Method::GET, "/containerLogs/default/kubia").await;
        assert_eq!(code, StatusCode::NOT_FOUND);
        // No pods yet: an empty list, not an error.
        let empty = get_json(&kubelet, "/pods").await;
        assert_eq!(empty, json!({"kind": "PodList", "apiVersion": "v1", "metadata": {}, "items": []}));
    }

    #[tokio::test(start_paused = true)]
    async fn pods_lists_the_pods_of_the_node_with_their_latest_status() {
        let fake = Arc::new(FakeRuntime::new());
        let kubelet = kubelet(&fake);
        kubelet.handle(PodEvent::Applied(pod("kubia-b", "Always")));
        kubelet.handle(PodEvent::Applied(pod("kubia-a", "Always")));
        until_running(&kubelet, "kubia-a").await;
        until_running(&kubelet, "kubia-b").await;
        let list = get_json(&kubelet, "/pods/").await;
        assert_eq!((&list["kind"], &list["apiVersion"]), (&json!("PodList"), &json!("v1")));
        let names: Vec<&str> =
            list["items"].as_array().unwrap().iter().map(|p| p["metadata"]["name"].as_str().unwrap()).collect();
        assert_eq!(names, ["kubia-a", "kubia-b"]);
        let a = &list["items"][0];
        assert_eq!(a["metadata"]["labels"]["app"], "kubia");
        assert_eq!(a["spec"]["nodeName"], NODE);
        assert!(a["status"]["containerStatuses"][0]["state"]["running"].is_object(), "{a}");
        // A pod deleted from the API leaves the list.
        kubelet.handle(PodEvent::Deleted(pod("kubia-b", "Always")));
        let list = get_json(&kubelet, "/pods").await;
        assert_eq!(list["items"].as_array().unwrap().len(), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn runningpods_shows_what_the_runtime_runs() {
        let fake = Arc::new(FakeRuntime::new());
        fake.script("done", "kubia", vec![Program::exits(Duration::from_secs(1), 0)]);
        let kubelet = kubelet(&fake);
        kubelet.handle(PodEvent::Applied(pod("kubia", "Always")));
        kubelet.handle(PodEvent::Applied(pod("done", "Never")));
        until_running(&kubelet, "kubia").await;
        tokio::time::sleep(Duration::from_secs(3)).await;
        let list = get_json(&kubelet, "/runningpods/").await;
        assert_eq!(
            list,
            json!({"kind": "PodList", "apiVersion": "v1", "metadata": {}, "items": [{
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {"name": "kubia", "namespace": "default", "uid": "uid-kubia"},
                "spec": {"containers": [{"name": "kubia", "image": "luksa/kubia", "resources": {}}]},
                "status": {},
            }]})
        );
    }

    #[tokio::test(start_paused = true)]
    async fn container_logs_read_the_kubelets_query() {
        let fake = Arc::new(FakeRuntime::new());
        let output = "one\ntwo\nthree\n".to_string();
        fake.script("kubia", "kubia", vec![Program { output, ..Program::forever() }]);
        let kubelet = kubelet(&fake);
        kubelet.handle(PodEvent::Applied(pod("kubia", "Always")));
        until_running(&kubelet, "kubia").await;
        let logs = |q: &str| {
            let uri = format!("/containerLogs/default/kubia/kubia{q}");
            let kubelet = kubelet.clone();
            async move {
                let (code, _, body) = get(&kubelet, Method::GET, &uri).await;
                (code.as_u16(), body)
            }
        };
        assert_eq!(logs("").await, (200, "one\ntwo\nthree\n".into()));
        assert_eq!(logs("?tailLines=1").await, (200, "three\n".into()));
        assert_eq!(logs("?tail=2").await, (200, "two\nthree\n".into()));
        assert_eq!(logs("?tail=all").await, (200, "one\ntwo\nthree\n".into()));
        assert_eq!(logs("?limitBytes=5").await, (200, "one\nt".into()));
        assert_eq!(logs("?tailLines=-1").await, (422, r#"{"message": "Invalid request."}"#.into()));
        assert_eq!(logs("?limitBytes=0").await, (422, r#"{"message": "Invalid request."}"#.into()));
        assert_eq!(
            logs("?sinceSeconds=5&sinceTime=2024-05-01T10:00:00Z").await,
            (422, r#"{"message": "Invalid request."}"#.into())
        );
        assert_eq!(logs("?tailLines=ten").await, (400, r#"{"message": "Unable to decode query."}"#.into()));
        assert_eq!(
            logs("?previous=true").await,
            (400, r#"previous terminated container "kubia" in pod "kubia" not found"#.into())
        );
        let (code, _, body) = get(&kubelet, Method::GET, "/containerLogs/default/nope/kubia").await;
        assert_eq!((code.as_u16(), body.as_str()), (404, r#"pod "nope" does not exist"#));
        let (code, _, body) = get(&kubelet, Method::GET, "/containerLogs/default/kubia/sidecar").await;
        assert_eq!((code.as_u16(), body.as_str()), (404, r#"container "sidecar" not found in pod "kubia""#));
        let (code, _, body) = get(&kubelet, Method::POST, "/containerLogs/default/kubia/kubia").await;
        assert_eq!((code.as_u16(), body.as_str()), (405, "Method Not Allowed"));
    }

    #[test]
    fn log_queries_read_as_go_reads_them() {
        let q =
            LogQuery::parse("follow&timestamps=1&previous=False&tailLines=3&tailLines=9").unwrap_or_else(|_| panic!());
        assert_eq!(
            q,
            LogQuery { follow: true, timestamps: true, previous: false, tail_lines: Some(3), ..Default::default() }
        );
        let q = LogQuery::parse("sinceTime=2024-05-01T10:00:00Z").unwrap_or_else(|_| panic!());
        assert!(q.options().since_seconds.is_some_and(|s| s > 1));
        assert!(LogQuery::parse("sinceTime=yesterday").is_err());
        assert!(LogQuery::parse("stream=All").is_ok());
        let Err(Refusal(code, message)) = LogQuery::parse("stream=Stderr") else { panic!("Stderr alone") };
        assert_eq!(code, StatusCode::BAD_REQUEST);
        assert!(message.starts_with("unable to return the given log stream: \"Stderr\""), "{message}");
    }
}
