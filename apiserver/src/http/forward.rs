//! The `proxy` subresource of pods, services and nodes: the apiserver
//! forwards an HTTP request to a pod (`pods/kubia:8080/proxy/path`), to one of
//! a service's endpoints (`services/http:kubia:web/proxy/path`) or to a node's
//! kubelet (`nodes/kubelab-worker/proxy/pods`) and streams the answer back, as
//! kube-apiserver's proxy handlers do. It is how `kubectl proxy` users reach
//! an app, or a kubelet's API, from outside the cluster network.

use super::Front;
use api::{meta, ApiError, Reason, ResourceInfo};
use axum::body::Body;
use axum::extract::Request;
use axum::response::Response;
use http::{header, HeaderName, Uri};
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use rand::seq::IndexedRandom;
use serde_json::Value;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

/// Headers that belong to one connection, never forwarded (RFC 9110 §7.6.1).
const HOP_BY_HOP: &[&str] =
    &["connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding", "upgrade"];

/// How long a connection to the target may take, as kube-apiserver's proxy
/// dialer waits: a stopped node's address may never answer at all.
const DIAL_TIMEOUT: Duration = Duration::from_secs(30);

/// The kubelet port a node that names none listens on (kube-apiserver's `--kubelet-port`).
const DEFAULT_KUBELET_PORT: i64 = 10250;

fn client() -> &'static Client<HttpConnector, Body> {
    static CLIENT: OnceLock<Client<HttpConnector, Body>> = OnceLock::new();
    CLIENT.get_or_init(|| {
        let mut connector = HttpConnector::new();
        connector.set_connect_timeout(Some(DIAL_TIMEOUT));
        connector.set_nodelay(true);
        Client::builder(hyper_util::rt::TokioExecutor::new()).build(connector)
    })
}

/// `[scheme:]name[:port]`, as the proxy path names its target.
fn split_target(id: &str) -> (&str, &str, &str) {
    let parts: Vec<&str> = id.split(':').collect();
    match parts.as_slice() {
        [name] => ("", name, ""),
        [name, port] => ("", name, port),
        [scheme, name, port, ..] => (scheme, name, port),
        [] => ("", "", ""),
    }
}

/// Forwards `req` to the pod, service or node `id` names, at `/rest`.
pub async fn serve(
    front: &Arc<Front>,
    info: &'static ResourceInfo,
    ns: &str,
    id: &str,
    rest: &str,
    req: Request,
) -> Result<Response, ApiError> {
    let (scheme, name, port) = split_target(id);
    if !matches!(scheme, "" | "http") {
        return Err(ApiError::bad_request(format!(
            "the proxy reaches {} over plain http only, not {scheme:?}",
            info.plural
        )));
    }
    let obj = front.registry.get(info, ns, name).await?;
    let address = match info.plural {
        "pods" => pod_address(&obj, port)?,
        "services" => {
            let endpoints = api::registry::lookup("endpoints").expect("endpoints are registered");
            let eps = front.registry.get(endpoints, ns, name).await.unwrap_or(Value::Null);
            service_address(&obj, &eps, port)?
        }
        "nodes" => node_address(&obj, port)?,
        other => return Err(ApiError::new(Reason::NotFound, format!("{other} have no proxy subresource"))),
    };
    let query = req.uri().query().map(|q| format!("?{q}")).unwrap_or_default();
    let uri: Uri = format!("http://{address}/{}{query}", escape_path(rest))
        .parse()
        .map_err(|e| ApiError::bad_request(format!("invalid proxy path {rest:?}: {e}")))?;
    let (mut parts, body) = req.into_parts();
    parts.uri = uri;
    for h in HOP_BY_HOP {
        parts.headers.remove(*h);
    }
    parts.headers.remove(header::HOST);
    let answer = client().request(Request::from_parts(parts, body)).await.map_err(|e| unreachable(&address, &e))?;
    let (mut parts, body) = answer.into_parts();
    for h in HOP_BY_HOP {
        parts.headers.remove(HeaderName::from_static(h));
    }
    Ok(Response::from_parts(parts, Body::new(body)))
}

/// A target that did not answer, in kube-apiserver's words (its proxy
/// transport's "error trying to reach service", whatever the target is,
/// around Go's dial error).
fn unreachable(address: &str, e: &hyper_util::client::legacy::Error) -> ApiError {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(e);
    let mut io = None;
    while let Some(c) = cause {
        if let Some(found) = c.downcast_ref::<std::io::Error>() {
            io = Some(found);
        }
        cause = c.source();
    }
    let why = match (e.is_connect(), io) {
        (true, Some(io)) => format!("dial tcp {address}: {}", go_dial_error(io)),
        (_, Some(io)) => format!("{e}: {io}"),
        (_, None) => e.to_string(),
    };
    ApiError::new(Reason::ServiceUnavailable, format!("error trying to reach service: {why}"))
}

/// A failed connect as Go's dialer words it.
fn go_dial_error(io: &std::io::Error) -> String {
    use std::io::ErrorKind;
    match io.kind() {
        ErrorKind::ConnectionRefused => "connect: connection refused".into(),
        ErrorKind::TimedOut => "i/o timeout".into(),
        ErrorKind::HostUnreachable => "connect: no route to host".into(),
        ErrorKind::NetworkUnreachable => "connect: network is unreachable".into(),
        _ => {
            let text = io.to_string();
            // Rust adds "(os error N)" and capitals to the system's message.
            let text = text.split(" (os error").next().unwrap_or_default();
            format!("connect: {}", text.to_lowercase())
        }
    }
}

/// A node's kubelet: `ip:port` from its InternalIP (else its first address)
/// and the port the kubelet reports in `daemonEndpoints` (or the one the
/// proxy path names).
fn node_address(node: &Value, port: &str) -> Result<String, ApiError> {
    let addresses = node["status"]["addresses"].as_array().cloned().unwrap_or_default();
    let internal = addresses.iter().find(|a| a["type"] == "InternalIP").or(addresses.first());
    let host = internal.and_then(|a| a["address"].as_str()).filter(|a| !a.is_empty()).ok_or_else(|| {
        let known: Vec<String> = addresses.iter().map(|a| a.to_string()).collect();
        ApiError::new(
            Reason::ServiceUnavailable,
            format!("no preferred addresses found; known addresses: [{}]", known.join(" ")),
        )
    })?;
    let number = match port {
        "" => node["status"]["daemonEndpoints"]["kubeletEndpoint"]["Port"]
            .as_i64()
            .filter(|p| *p > 0)
            .unwrap_or(DEFAULT_KUBELET_PORT),
        p => p.parse::<u16>().map(i64::from).map_err(|_| {
            ApiError::bad_request(format!("invalid node request {:?}", format!("{}:{p}", meta::name(node))))
        })?,
    };
    // An IPv6 address goes in brackets, as Go's JoinHostPort writes it.
    Ok(if host.contains(':') { format!("[{host}]:{number}") } else { format!("{host}:{number}") })
}

/// A decoded path, escaped again for a URI: every byte but the unreserved
/// and the path's own punctuation as `%XX`.
fn escape_path(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for b in path.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/:@!$&'()*+,;=".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A pod's `ip:port`: the port named (a number, or a container port's name),
/// else the first port of its containers, as kube-apiserver picks it.
fn pod_address(pod: &Value, port: &str) -> Result<String, ApiError> {
    let ip = pod["status"]["podIP"].as_str().filter(|s| !s.is_empty()).ok_or_else(|| {
        ApiError::new(Reason::ServiceUnavailable, format!("pod {} has no IP address yet", meta::name(pod)))
    })?;
    let ports = pod["spec"]["containers"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|c| c["ports"].as_array().into_iter().flatten());
    let number = match port {
        "" => ports.clone().next().and_then(|p| p["containerPort"].as_i64()).unwrap_or(80),
        p => match p.parse::<i64>() {
            Ok(n) => n,
            Err(_) => ports
                .clone()
                .find(|cp| cp["name"] == p)
                .and_then(|cp| cp["containerPort"].as_i64())
                .ok_or_else(|| ApiError::bad_request(format!("pod {} has no port named {p:?}", meta::name(pod))))?,
        },
    };
    Ok(format!("{ip}:{number}"))
}

/// One of a service's ready endpoints, on the port named (by its name or
/// the service port's number), chosen at random as kube-apiserver does.
fn service_address(svc: &Value, endpoints: &Value, port: &str) -> Result<String, ApiError> {
    let name = meta::name(svc);
    let svc_ports = svc["spec"]["ports"].as_array().cloned().unwrap_or_default();
    let wanted = if port.is_empty() {
        match svc_ports.as_slice() {
            [only] => only.clone(),
            _ => {
                return Err(ApiError::bad_request(format!(
                    "service {name} has several ports: name one in the proxy path"
                )))
            }
        }
    } else {
        svc_ports
            .iter()
            .find(|p| p["name"] == port || p["port"].as_i64().is_some_and(|n| n.to_string() == port))
            .cloned()
            .ok_or_else(|| ApiError::bad_request(format!("no service port {port:?} found for service {name:?}")))?
    };
    let port_name = wanted["name"].as_str().unwrap_or("");
    let mut candidates = Vec::new();
    for subset in endpoints["subsets"].as_array().into_iter().flatten() {
        let Some(target) = subset["ports"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|p| p["name"].as_str().unwrap_or("") == port_name)
            .and_then(|p| p["port"].as_i64())
        else {
            continue;
        };
        for addr in subset["addresses"].as_array().into_iter().flatten() {
            if let Some(ip) = addr["ip"].as_str() {
                candidates.push(format!("{ip}:{target}"));
            }
        }
    }
    candidates.choose(&mut rand::rng()).cloned().ok_or_else(|| {
        ApiError::new(Reason::ServiceUnavailable, format!("no endpoints available for service {name:?}"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn targets_name_scheme_and_port() {
        assert_eq!(split_target("kubia"), ("", "kubia", ""));
        assert_eq!(split_target("kubia:8080"), ("", "kubia", "8080"));
        assert_eq!(split_target("https:kubia:web"), ("https", "kubia", "web"));
    }

    #[test]
    fn paths_are_escaped_again_for_the_target() {
        assert_eq!(escape_path("a b/c%d/ü"), "a%20b/c%25d/%C3%BC");
        assert_eq!(escape_path("healthz"), "healthz");
    }

    #[test]
    fn a_pods_port_by_number_name_or_its_first() {
        let pod = json!({"metadata": {"name": "kubia"}, "status": {"podIP": "10.1.0.5"},
            "spec": {"containers": [{"ports": [{"name": "http", "containerPort": 8080}]}]}});
        assert_eq!(pod_address(&pod, "").unwrap(), "10.1.0.5:8080");
        assert_eq!(pod_address(&pod, "http").unwrap(), "10.1.0.5:8080");
        assert_eq!(pod_address(&pod, "9000").unwrap(), "10.1.0.5:9000");
        assert!(pod_address(&pod, "metrics").is_err());
        assert_eq!(pod_address(&json!({"metadata": {"name": "p"}}), "").unwrap_err().code(), 503);
    }

    #[test]
    fn a_nodes_kubelet_is_at_its_internal_ip_and_reported_port() {
        let node = json!({"metadata": {"name": "w1"}, "status": {
            "addresses": [{"type": "Hostname", "address": "w1"}, {"type": "InternalIP", "address": "172.18.0.3"}],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": 10251}}}});
        assert_eq!(node_address(&node, "").unwrap(), "172.18.0.3:10251");
        assert_eq!(node_address(&node, "4194").unwrap(), "172.18.0.3:4194");
        assert_eq!(node_address(&node, "http").unwrap_err().message, r#"invalid node request "w1:http""#);
        let bare =
            json!({"metadata": {"name": "w2"}, "status": {"addresses": [{"type": "Hostname", "address": "w2"}]}});
        assert_eq!(node_address(&bare, "").unwrap(), "w2:10250");
        let v6 = json!({"status": {"addresses": [{"type": "InternalIP", "address": "fd00::3"}]}});
        assert_eq!(node_address(&v6, "").unwrap(), "[fd00::3]:10250");
        let none = node_address(&json!({"metadata": {"name": "w3"}}), "").unwrap_err();
        assert_eq!((none.code(), none.message.as_str()), (503, "no preferred addresses found; known addresses: []"));
    }

    #[test]
    fn dial_errors_read_as_gos() {
        use std::io::{Error, ErrorKind};
        assert_eq!(go_dial_error(&Error::from(ErrorKind::ConnectionRefused)), "connect: connection refused");
        assert_eq!(go_dial_error(&Error::from(ErrorKind::TimedOut)), "i/o timeout");
        assert_eq!(go_dial_error(&Error::from_raw_os_error(113)), "connect: no route to host");
    }

    #[test]
    fn a_service_goes_to_an_endpoint_on_the_target_port() {
        let svc = json!({"metadata": {"name": "kubia"}, "spec": {"ports": [{"port": 80, "targetPort": 8080}]}});
        let eps = json!({"subsets": [{"addresses": [{"ip": "10.1.0.5"}], "ports": [{"port": 8080}]}]});
        assert_eq!(service_address(&svc, &eps, "").unwrap(), "10.1.0.5:8080");
        assert_eq!(service_address(&svc, &eps, "80").unwrap(), "10.1.0.5:8080");
        assert_eq!(service_address(&svc, &json!({}), "").unwrap_err().code(), 503);
    }
}
