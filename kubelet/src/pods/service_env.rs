//! Service environment variables, as Kubernetes' kubelet gives every container
//! (`getServiceEnvVarMap` and `envvars.FromServices`): for each Service a pod
//! may see, `NAME_SERVICE_HOST`, `NAME_SERVICE_PORT[_PORTNAME]` and the
//! Docker-link style `NAME_PORT...` variables.
//!
//! A pod sees the services of its own namespace that have a ClusterIP (not
//! headless, not ExternalName) when `spec.enableServiceLinks` is true (the
//! default), and always the "master services" (`default/kubernetes`), unless
//! its own namespace has a service of that name it sees instead.
//!
//! [`ServiceLinks`] reads the variables from the kubelet's shared informer of
//! Services; the pod worker waits (a bounded time) for its first list before
//! it starts containers, as Kubernetes' kubelet waits for its service informer.

use client::informer::SharedInformer;
use client::Object;
use k8s_openapi::api::core::v1::{Pod, Service};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

/// The namespace of the master services.
const MASTER_NAMESPACE: &str = "default";
/// Services every pod sees, whatever its namespace and `enableServiceLinks`.
const MASTER_SERVICES: &[&str] = &["kubernetes"];

/// How long a pod worker waits for the first list of Services before it
/// reports `CreateContainerConfigError` (and tries again after the backoff).
pub const SYNC_WAIT: Duration = Duration::from_secs(5);

/// Kubernetes' message when a container is due to start before the first list.
pub const NOT_SYNCED: &str = "services have not yet been read at least once, cannot construct envvars";

/// One service port, as the variables name it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct LinkPort {
    name: String,
    port: i64,
    /// Upper case, as in the spec (`TCP`, `UDP`, `SCTP`).
    protocol: String,
}

/// What the variables of one Service need: its cluster IP and ports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceLink {
    name: String,
    cluster_ip: String,
    ports: Vec<LinkPort>,
}

impl ServiceLink {
    /// The link of `service`, or None if it has no variables: no ClusterIP
    /// (headless `None`, ExternalName, not allocated yet) or no ports.
    pub fn from_service(service: &Service) -> Option<Self> {
        let spec = service.spec.as_ref()?;
        let cluster_ip = spec.cluster_ip.as_deref().unwrap_or("");
        if cluster_ip.is_empty() || cluster_ip == "None" {
            return None;
        }
        let ports: Vec<LinkPort> = spec
            .ports
            .iter()
            .flatten()
            .map(|p| LinkPort {
                name: p.name.clone().unwrap_or_default(),
                port: i64::from(p.port),
                protocol: p.protocol.clone().filter(|s| !s.is_empty()).unwrap_or_else(|| "TCP".into()),
            })
            .collect();
        // Validation refuses a ClusterIP service without ports; the variables need a first one.
        if ports.is_empty() {
            return None;
        }
        Some(Self { name: service.name().to_string(), cluster_ip: cluster_ip.to_string(), ports })
    }

    /// Appends this service's variables in Kubernetes' order.
    fn push_vars(&self, out: &mut Vec<(String, String)>) {
        let prefix = env_name(&self.name);
        out.push((format!("{prefix}_SERVICE_HOST"), self.cluster_ip.clone()));
        out.push((format!("{prefix}_SERVICE_PORT"), self.ports[0].port.to_string()));
        // Only the first port may be unnamed (validation); named ones get their own variable.
        for p in self.ports.iter().filter(|p| !p.name.is_empty()) {
            out.push((format!("{prefix}_SERVICE_PORT_{}", env_name(&p.name)), p.port.to_string()));
        }
        // Docker links: the first port also as NAME_PORT.
        for (i, p) in self.ports.iter().enumerate() {
            let proto = p.protocol.to_lowercase();
            let url = format!("{proto}://{}", host_port(&self.cluster_ip, p.port));
            if i == 0 {
                out.push((format!("{prefix}_PORT"), url.clone()));
            }
            let port_prefix = format!("{prefix}_PORT_{}_{}", p.port, p.protocol.to_uppercase());
            out.push((port_prefix.clone(), url));
            out.push((format!("{port_prefix}_PROTO"), proto));
            out.push((format!("{port_prefix}_PORT"), p.port.to_string()));
            out.push((format!("{port_prefix}_ADDR"), self.cluster_ip.clone()));
        }
    }
}

/// Kubernetes' makeEnvVariableName: upper case, `-` becomes `_`.
fn env_name(name: &str) -> String {
    name.replace('-', "_").to_uppercase()
}

/// `ip:port`, with an IPv6 address in brackets (Go's net.JoinHostPort).
fn host_port(ip: &str, port: i64) -> String {
    if ip.contains(':') {
        format!("[{ip}]:{port}")
    } else {
        format!("{ip}:{port}")
    }
}

/// The services a pod in `namespace` sees, by name (sorted): its own
/// namespace's when `enable_service_links`, and the master services, which
/// a service of the same name in the pod's namespace replaces.
/// `services` yields (namespace, link) for every service with a ClusterIP.
pub fn visible<'a>(
    services: impl IntoIterator<Item = (&'a str, &'a ServiceLink)>,
    namespace: &str,
    enable_service_links: bool,
) -> Vec<&'a ServiceLink> {
    let mut by_name: BTreeMap<&str, (bool, &ServiceLink)> = BTreeMap::new();
    for (ns, link) in services {
        let own = ns == namespace && enable_service_links;
        let master = ns == MASTER_NAMESPACE && MASTER_SERVICES.contains(&link.name.as_str());
        if own {
            // The pod's namespace wins over a master service of the same name.
            by_name.insert(&link.name, (true, link));
        } else if master {
            by_name.entry(&link.name).or_insert((false, link));
        }
    }
    by_name.into_values().map(|(_, link)| link).collect()
}

/// The variables of `links`, service after service (Kubernetes' FromServices).
pub fn env_vars(links: &[&ServiceLink]) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for link in links {
        link.push_vars(&mut out);
    }
    out
}

/// Whether a pod asks for its namespace's service links (the apiserver
/// defaults `spec.enableServiceLinks` to true).
pub fn enable_service_links(pod: &Pod) -> bool {
    pod.spec.as_ref().and_then(|s| s.enable_service_links).unwrap_or(true)
}

/// The Services the kubelet knows, from its shared informer of Services, and
/// whether their first list has arrived. Shared by every pod worker of a
/// kubelet; like Kubernetes' kubelet, each container start reads the variables
/// from the informer's store as it is then.
pub struct ServiceLinks {
    services: Arc<SharedInformer<Service>>,
}

impl std::fmt::Debug for ServiceLinks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceLinks").field("synced", &self.is_synced()).finish_non_exhaustive()
    }
}

impl ServiceLinks {
    /// The links of the Services `services` holds (an informer of `services`).
    pub fn new(services: Arc<SharedInformer<Service>>) -> Arc<Self> {
        Arc::new(Self { services })
    }

    pub fn is_synced(&self) -> bool {
        self.services.has_synced()
    }

    /// Resolves once the first list has been applied.
    pub async fn wait_synced(&self) {
        self.services.wait_synced().await;
    }

    /// The service variables of a pod in `namespace`, as they are now.
    pub fn env(&self, namespace: &str, enable_service_links: bool) -> Vec<(String, String)> {
        let services = self.services.store().list();
        let links: Vec<(&str, ServiceLink)> =
            services.iter().filter_map(|s| Some((s.namespace(), ServiceLink::from_service(s)?))).collect();
        env_vars(&visible(links.iter().map(|(ns, link)| (*ns, link)), namespace, enable_service_links))
    }
}

/// Links fed by hand, for tests: an informer no server feeds.
#[cfg(test)]
pub mod fed {
    use super::*;
    use client::watcher::Event;
    use serde_json::Value;

    pub fn links() -> Arc<ServiceLinks> {
        let info = api::registry::lookup("services").expect("services are registered");
        ServiceLinks::new(Arc::new(SharedInformer::new(info)))
    }

    impl ServiceLinks {
        /// Records a created or changed Service, given in its JSON form.
        pub fn apply(&self, service: &Value) {
            self.services.apply(Event::Applied(Arc::new(typed(service))));
        }

        pub fn delete(&self, service: &Value) {
            self.services.apply(Event::Deleted(Arc::new(typed(service))));
        }

        /// The first list has been applied.
        pub fn set_synced(&self) {
            self.services.apply(Event::Synced);
        }
    }

    fn typed(service: &Value) -> Service {
        serde_json::from_value(service.clone()).expect("a service")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    fn svc(ns: &str, name: &str, ip: &str, ports: Value) -> Value {
        json!({"metadata": {"namespace": ns, "name": name}, "spec": {"clusterIP": ip, "ports": ports}})
    }

    fn kubernetes() -> Value {
        svc("default", "kubernetes", "10.96.0.1", json!([{"name": "https", "port": 443, "protocol": "TCP"}]))
    }

    fn store(services: &[Value]) -> Arc<ServiceLinks> {
        let s = fed::links();
        for service in services {
            s.apply(service);
        }
        s.set_synced();
        s
    }

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    fn names(env: &[(String, String)]) -> Vec<&str> {
        env.iter().map(|(k, _)| k.as_str()).collect()
    }

    #[test]
    fn the_books_kubia_service_with_the_master_service() {
        let kubia = svc("default", "kubia", "10.111.249.153", json!([{"port": 80, "targetPort": 8080}]));
        let env = store(&[kubia, kubernetes()]).env("default", true);
        assert_eq!(
            env,
            pairs(&[
                ("KUBERNETES_SERVICE_HOST", "10.96.0.1"),
                ("KUBERNETES_SERVICE_PORT", "443"),
                ("KUBERNETES_SERVICE_PORT_HTTPS", "443"),
                ("KUBERNETES_PORT", "tcp://10.96.0.1:443"),
                ("KUBERNETES_PORT_443_TCP", "tcp://10.96.0.1:443"),
                ("KUBERNETES_PORT_443_TCP_PROTO", "tcp"),
                ("KUBERNETES_PORT_443_TCP_PORT", "443"),
                ("KUBERNETES_PORT_443_TCP_ADDR", "10.96.0.1"),
                ("KUBIA_SERVICE_HOST", "10.111.249.153"),
                ("KUBIA_SERVICE_PORT", "80"),
                ("KUBIA_PORT", "tcp://10.111.249.153:80"),
                ("KUBIA_PORT_80_TCP", "tcp://10.111.249.153:80"),
                ("KUBIA_PORT_80_TCP_PROTO", "tcp"),
                ("KUBIA_PORT_80_TCP_PORT", "80"),
                ("KUBIA_PORT_80_TCP_ADDR", "10.111.249.153"),
            ])
        );
    }

    #[test]
    fn named_ports_dashes_and_protocols() {
        let dns = svc(
            "kube-system",
            "kube-dns",
            "10.96.0.10",
            json!([{"name": "dns", "port": 53, "protocol": "UDP"}, {"name": "dns-tcp", "port": 53, "protocol": "TCP"}]),
        );
        let env = store(&[dns]).env("kube-system", true);
        assert_eq!(
            env,
            pairs(&[
                ("KUBE_DNS_SERVICE_HOST", "10.96.0.10"),
                ("KUBE_DNS_SERVICE_PORT", "53"),
                ("KUBE_DNS_SERVICE_PORT_DNS", "53"),
                ("KUBE_DNS_SERVICE_PORT_DNS_TCP", "53"),
                ("KUBE_DNS_PORT", "udp://10.96.0.10:53"),
                ("KUBE_DNS_PORT_53_UDP", "udp://10.96.0.10:53"),
                ("KUBE_DNS_PORT_53_UDP_PROTO", "udp"),
                ("KUBE_DNS_PORT_53_UDP_PORT", "53"),
                ("KUBE_DNS_PORT_53_UDP_ADDR", "10.96.0.10"),
                ("KUBE_DNS_PORT_53_TCP", "tcp://10.96.0.10:53"),
                ("KUBE_DNS_PORT_53_TCP_PROTO", "tcp"),
                ("KUBE_DNS_PORT_53_TCP_PORT", "53"),
                ("KUBE_DNS_PORT_53_TCP_ADDR", "10.96.0.10"),
            ])
        );
    }

    #[test]
    fn an_unnamed_first_port_then_named_ones_and_no_protocol_is_tcp() {
        let s = svc("ns", "web", "10.96.5.5", json!([{"port": 80}, {"name": "https", "port": 443}]));
        let env: BTreeMap<String, String> = store(&[s]).env("ns", true).into_iter().collect();
        assert_eq!(env["WEB_SERVICE_PORT"], "80");
        assert_eq!(env["WEB_SERVICE_PORT_HTTPS"], "443");
        assert_eq!(env["WEB_PORT"], "tcp://10.96.5.5:80");
        assert_eq!(env["WEB_PORT_443_TCP"], "tcp://10.96.5.5:443");
        assert!(!env.keys().any(|k| k.starts_with("WEB_SERVICE_PORT_") && k != "WEB_SERVICE_PORT_HTTPS"));
    }

    #[test]
    fn headless_external_name_and_unallocated_services_have_no_variables() {
        let services = [
            svc("ns", "headless", "None", json!([{"port": 80}])),
            svc("ns", "pending", "", json!([{"port": 80}])),
            json!({"metadata": {"namespace": "ns", "name": "ext"}, "spec": {"type": "ExternalName", "externalName": "example.com"}}),
            svc("ns", "real", "10.96.1.1", json!([{"port": 80}])),
        ];
        let env = store(&services).env("ns", true);
        assert!(names(&env).iter().all(|n| n.starts_with("REAL_")), "{env:?}");
        assert_eq!(env.len(), 7);
    }

    #[test]
    fn only_the_pods_namespace_and_the_master_services() {
        let services = [
            kubernetes(),
            svc("default", "other", "10.96.2.2", json!([{"port": 80}])),
            svc("ns", "mine", "10.96.3.3", json!([{"port": 80}])),
            // Only default/kubernetes is a master service, not kubernetes elsewhere.
            svc("elsewhere", "kubernetes", "10.96.4.4", json!([{"port": 1}])),
        ];
        let env = store(&services).env("ns", true);
        let hosts: Vec<(&str, &str)> =
            env.iter().filter(|(k, _)| k.ends_with("_SERVICE_HOST")).map(|(k, v)| (k.as_str(), v.as_str())).collect();
        assert_eq!(hosts, [("KUBERNETES_SERVICE_HOST", "10.96.0.1"), ("MINE_SERVICE_HOST", "10.96.3.3")]);
    }

    #[test]
    fn a_service_named_kubernetes_in_the_pods_namespace_wins() {
        let own = svc("ns", "kubernetes", "10.96.7.7", json!([{"port": 8443}]));
        // Whatever order the services come in.
        for services in [[kubernetes(), own.clone()], [own.clone(), kubernetes()]] {
            let env: BTreeMap<String, String> = store(&services).env("ns", true).into_iter().collect();
            assert_eq!(env["KUBERNETES_SERVICE_HOST"], "10.96.7.7");
            assert_eq!(env["KUBERNETES_SERVICE_PORT"], "8443");
            assert!(!env.contains_key("KUBERNETES_SERVICE_PORT_HTTPS"), "no trace of the master service");
        }
        // Without service links the pod's own services are not seen: the master one is.
        let env: BTreeMap<String, String> = store(&[kubernetes(), own]).env("ns", false).into_iter().collect();
        assert_eq!(env["KUBERNETES_SERVICE_HOST"], "10.96.0.1");
    }

    #[test]
    fn enable_service_links_false_keeps_only_the_master_service() {
        let services = [kubernetes(), svc("default", "kubia", "10.96.8.8", json!([{"port": 80}]))];
        let s = store(&services);
        let env = s.env("default", false);
        assert!(names(&env).iter().all(|n| n.starts_with("KUBERNETES_")), "{env:?}");
        assert_eq!(env.len(), 8);
        assert!(s.env("default", true).iter().any(|(k, _)| k == "KUBIA_SERVICE_HOST"));
        let pod = |v| -> Pod { serde_json::from_value(v).unwrap() };
        assert!(enable_service_links(&pod(json!({"spec": {}}))), "absent means true");
        assert!(!enable_service_links(&pod(json!({"spec": {"enableServiceLinks": false}}))));
    }

    #[test]
    fn changes_and_deletions_are_followed() {
        let s = store(&[kubernetes()]);
        let web = svc("ns", "web", "10.96.9.9", json!([{"port": 80}]));
        s.apply(&web);
        assert!(s.env("ns", true).iter().any(|(k, _)| k == "WEB_SERVICE_HOST"));
        // Changed to headless (a re-created service): its variables go.
        s.apply(&svc("ns", "web", "None", json!([{"port": 80}])));
        assert!(!s.env("ns", true).iter().any(|(k, _)| k == "WEB_SERVICE_HOST"));
        s.apply(&web);
        s.delete(&web);
        assert!(!s.env("ns", true).iter().any(|(k, _)| k == "WEB_SERVICE_HOST"));
    }

    #[test]
    fn ipv6_cluster_ips_are_bracketed_in_urls() {
        let s = svc("ns", "v6", "fd00::10", json!([{"port": 80}]));
        let env: BTreeMap<String, String> = store(&[s]).env("ns", true).into_iter().collect();
        assert_eq!(env["V6_PORT"], "tcp://[fd00::10]:80");
        assert_eq!(env["V6_PORT_80_TCP_ADDR"], "fd00::10");
    }

    #[tokio::test]
    async fn links_follow_the_apiservers_services_through_a_shared_informer() {
        let api = apiserver::testing::InMemoryApiServer::start().await;
        let services = api::registry::lookup("services").unwrap();
        let web = json!({"metadata": {"name": "web"}, "spec": {"clusterIP": "10.96.7.7", "ports": [{"port": 80}]}});
        api.client.create(services, "default", &web).await.unwrap();
        let informers = client::informer::InformerFactory::new(api.client.clone());
        let links = ServiceLinks::new(informers.informer(services));
        informers.start();
        tokio::time::timeout(Duration::from_secs(5), links.wait_synced()).await.expect("listed");
        let has = |name: &str| links.env("default", true).iter().any(|(k, _)| k == name);
        assert!(has("WEB_SERVICE_HOST"), "listed before synced: {:?}", links.env("default", true));

        let api_ = json!({"metadata": {"name": "api-gw"}, "spec": {"clusterIP": "10.96.7.8", "ports": [{"port": 81}]}});
        api.client.create(services, "default", &api_).await.unwrap();
        api.client.delete(services, "default", "web", &Default::default()).await.unwrap();
        for _ in 0..100 {
            if has("API_GW_SERVICE_HOST") && !has("WEB_SERVICE_HOST") {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("the watch was not followed: {:?}", links.env("default", true));
    }

    #[tokio::test]
    async fn wait_synced_resolves_once_listed() {
        let s = fed::links();
        assert!(!s.is_synced());
        let waiting = tokio::spawn({
            let s = s.clone();
            async move { s.wait_synced().await }
        });
        tokio::task::yield_now().await;
        assert!(!waiting.is_finished());
        s.set_synced();
        tokio::time::timeout(Duration::from_secs(5), waiting).await.expect("resolves").unwrap();
    }
}
