//! The service load-balancer controller, as k3s's ServiceLB: there is no cloud
//! load balancer, so a `type: LoadBalancer` service is reached on the nodes
//! themselves (every node's proxy listens on `<node IP>:<service port>`), and
//! its `status.loadBalancer.ingress` lists the InternalIPs of the Ready nodes,
//! sorted. That list is what `kubectl get svc` shows as EXTERNAL-IP (and
//! `<pending>` while it is empty).
//!
//! The status is re-evaluated when nodes come, go, change readiness or
//! address, and cleared when a service stops being a LoadBalancer. Services
//! with `spec.loadBalancerClass` belong to another implementation and are left
//! alone, as are nodes labelled to be excluded from external load balancers.

use crate::runner::{Action, Controller, Result, Watch};
use crate::Context;
use api::k8s_openapi::api::core::v1::{LoadBalancerIngress, LoadBalancerStatus, Node, Service};
use api::node;
use client::informer::{Change, SharedInformer};
use client::queue::WorkQueue;
use client::watcher::key_of;
use client::{Api, Client, Object};
use std::net::IpAddr;
use std::sync::Arc;

/// Nodes with this label never serve as load balancers (as in Kubernetes' service controller).
pub const EXCLUDE_LABEL: &str = "node.kubernetes.io/exclude-from-external-load-balancers";

fn service_type(service: &Service) -> &str {
    service.spec.as_ref().and_then(|s| s.type_.as_deref()).unwrap_or("")
}

fn is_load_balancer(service: &Service) -> bool {
    service_type(service) == "LoadBalancer"
}

/// Another implementation's service: not ours to touch.
fn has_class(service: &Service) -> bool {
    service.spec.as_ref().and_then(|s| s.load_balancer_class.as_deref()).is_some_and(|c| !c.is_empty())
}

pub fn internal_ip(node: &Node) -> Option<&str> {
    node.status
        .as_ref()?
        .addresses
        .as_ref()?
        .iter()
        .find(|a| a.type_ == "InternalIP")
        .map(|a| a.address.as_str())
        .filter(|ip| !ip.is_empty())
}

fn excluded(node: &Node) -> bool {
    node.metadata.labels.as_ref().is_some_and(|l| l.contains_key(EXCLUDE_LABEL))
}

/// What of a node decides whether (and where) it balances.
fn node_facts(node: &Node) -> (bool, Option<&str>, bool) {
    (node::is_ready(node), internal_ip(node), excluded(node))
}

/// The InternalIPs of the nodes that can take traffic, in address order.
pub fn ingress_ips(nodes: &[Arc<Node>]) -> Vec<String> {
    let mut ips: Vec<&str> =
        nodes.iter().filter(|n| node::is_ready(n) && !excluded(n)).filter_map(|n| internal_ip(n)).collect();
    // Numeric order (10.0.0.9 before 10.0.0.10); anything unparsable last, by text.
    ips.sort_by_key(|ip| (ip.parse::<IpAddr>().map_err(|_| ()), ip.to_string()));
    ips.dedup();
    ips.into_iter().map(String::from).collect()
}

/// The `status.loadBalancer` `service` should have given the nodes.
pub fn desired_load_balancer(service: &Service, nodes: &[Arc<Node>]) -> LoadBalancerStatus {
    if !is_load_balancer(service) {
        return LoadBalancerStatus::default();
    }
    let ingress: Vec<LoadBalancerIngress> = ingress_ips(nodes)
        .into_iter()
        .map(|ip| LoadBalancerIngress { ip: Some(ip), ip_mode: Some("VIP".into()), ..Default::default() })
        .collect();
    LoadBalancerStatus { ingress: (!ingress.is_empty()).then_some(ingress) }
}

/// A service's stored `status.loadBalancer`, with an absent or empty ingress list as none.
fn normalized(service: &Service) -> LoadBalancerStatus {
    let ingress = service.status.as_ref().and_then(|s| s.load_balancer.as_ref()).and_then(|lb| lb.ingress.as_ref());
    LoadBalancerStatus { ingress: ingress.filter(|list| !list.is_empty()).cloned() }
}

pub struct ServiceLbController {
    services: Arc<SharedInformer<Service>>,
    nodes: Arc<SharedInformer<Node>>,
    client: Client,
}

impl ServiceLbController {
    pub fn new(ctx: &Context) -> Self {
        Self::with_informers(ctx.factory.typed(), ctx.factory.typed(), ctx.client.clone())
    }

    pub fn with_informers(
        services: Arc<SharedInformer<Service>>,
        nodes: Arc<SharedInformer<Node>>,
        client: Client,
    ) -> Self {
        Self { services, nodes, client }
    }

    /// The services whose status depends on the nodes (or still carries an
    /// ingress list to clear).
    fn balanced_services(&self) -> Vec<String> {
        self.services
            .store()
            .list()
            .iter()
            .filter(|s| !has_class(s) && (is_load_balancer(s) || normalized(s).ingress.is_some()))
            .map(key_of)
            .collect()
    }

    async fn write_status(&self, service: &Service, lb: LoadBalancerStatus) -> Result<()> {
        let api = Api::<Service>::namespaced(&self.client, service.namespace());
        let mut obj = service.clone();
        for attempt in 0..2 {
            obj.status.get_or_insert_default().load_balancer = Some(lb.clone());
            match api.update_status(&obj).await {
                Ok(_) => return Ok(()),
                Err(e) if e.is_not_found() => return Ok(()),
                Err(e) if e.is_conflict() && attempt == 0 => {
                    obj = api.get(service.name()).await?;
                    if obj.uid() != service.uid() || normalized(&obj) == lb {
                        return Ok(());
                    }
                }
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }
}

#[async_trait::async_trait]
impl Controller for ServiceLbController {
    fn name(&self) -> &'static str {
        "service-lb-controller"
    }

    fn watches(self: Arc<Self>) -> Vec<Watch> {
        vec![
            Watch::method(&self, &self.services, Self::service_changed),
            Watch::method(&self, &self.nodes, Self::node_changed),
        ]
    }

    fn resync(&self, queue: &WorkQueue) {
        for key in self.balanced_services() {
            queue.add(key);
        }
    }

    async fn reconcile(&self, key: &str) -> Result<Action> {
        let Some(service) = self.services.store().get(key) else { return Ok(Action::Done) };
        if has_class(&service) {
            return Ok(Action::Done);
        }
        let desired = desired_load_balancer(&service, &self.nodes.store().list());
        if normalized(&service) == desired {
            return Ok(Action::Done);
        }
        tracing::info!(ingress = ?ingress_list(&desired), "updating the load balancer status");
        self.write_status(&service, desired).await?;
        Ok(Action::Done)
    }
}

/// The ingress IPs of a load balancer status, for logs.
fn ingress_list(lb: &LoadBalancerStatus) -> Vec<&str> {
    lb.ingress.iter().flatten().filter_map(|i| i.ip.as_deref()).collect()
}

impl ServiceLbController {
    fn service_changed(&self, change: &Change<Service>, queue: &WorkQueue) {
        match change {
            Change::Added(s) => queue.add(key_of(s)),
            Change::Updated { new, .. } => queue.add(key_of(new)),
            _ => {}
        }
    }

    fn node_changed(&self, change: &Change<Node>, queue: &WorkQueue) {
        let relevant = match change {
            Change::Added(n) | Change::Deleted(n) => node_facts(n).0,
            Change::Updated { old, new } => node_facts(old) != node_facts(new),
            Change::Resync => false,
        };
        if relevant {
            for key in self.balanced_services() {
                queue.add(key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::TestApi;
    use serde_json::{json, Value};

    fn node(name: &str, ip: &str, ready: bool) -> Value {
        json!({
            "apiVersion": "v1", "kind": "Node",
            "metadata": {"name": name},
            "status": {
                "conditions": [{"type": "Ready", "status": if ready { "True" } else { "False" }}],
                "addresses": [{"type": "InternalIP", "address": ip}, {"type": "Hostname", "address": name}],
            },
        })
    }

    fn svc(name: &str, kind: &str) -> Value {
        json!({
            "apiVersion": "v1", "kind": "Service",
            "metadata": {"name": name, "namespace": "default"},
            "spec": {"type": kind, "selector": {"app": "kubia"}, "ports": [{"port": 8080, "protocol": "TCP"}]},
        })
    }

    fn arcs(v: Vec<Value>) -> Vec<Arc<Node>> {
        v.into_iter().map(|n| Arc::new(serde_json::from_value(n).unwrap())).collect()
    }

    fn typed_svc(name: &str, kind: &str) -> Service {
        serde_json::from_value(svc(name, kind)).unwrap()
    }

    fn json_of(lb: LoadBalancerStatus) -> Value {
        serde_json::to_value(lb).unwrap()
    }

    #[test]
    fn ingress_is_the_ready_nodes_internal_ips_in_address_order() {
        let mut excluded = node("d", "10.244.0.2", true);
        excluded["metadata"]["labels"] = json!({EXCLUDE_LABEL: ""});
        let nodes = arcs(vec![
            node("a", "10.244.0.10", true),
            node("b", "10.244.0.9", true),
            node("c", "10.244.0.11", false),
            excluded,
        ]);
        assert_eq!(ingress_ips(&nodes), ["10.244.0.9", "10.244.0.10"]);
        assert_eq!(
            json_of(desired_load_balancer(&typed_svc("s", "LoadBalancer"), &nodes)),
            json!({"ingress": [{"ip": "10.244.0.9", "ipMode": "VIP"}, {"ip": "10.244.0.10", "ipMode": "VIP"}]})
        );
        assert_eq!(
            json_of(desired_load_balancer(&typed_svc("s", "NodePort"), &nodes)),
            json!({}),
            "only LoadBalancers get one"
        );
        assert_eq!(
            json_of(desired_load_balancer(&typed_svc("s", "LoadBalancer"), &[])),
            json!({}),
            "pending without nodes"
        );
    }

    /// A controller over a real apiserver, its informers fed from it.
    async fn start(api: &TestApi) -> (crate::Context, crate::testing::Running) {
        let ctx = api.context(crate::testing::config(), crate::clock::Clock::system());
        let ctrl = Arc::new(ServiceLbController::new(&ctx));
        let running = crate::testing::run_controller(&ctx, ctrl);
        (ctx, running)
    }

    /// The service's `status.loadBalancer`, normalized; `{}` when it is gone.
    async fn ingress_of(api: &TestApi, name: &str) -> Value {
        match Api::<Service>::namespaced(&api.client, "default").get(name).await {
            Ok(service) => json_of(normalized(&service)),
            Err(e) if e.is_not_found() => json!({}),
            Err(e) => panic!("get service {name}: {e}"),
        }
    }

    async fn wait_ingress(api: &TestApi, name: &str, want: Value) {
        let what = format!("{name} has load balancer {want}");
        api.eventually(&what, || async { ingress_of(api, name).await == want }).await;
    }

    fn ingress(ips: &[&str]) -> Value {
        json!({"ingress": ips.iter().map(|ip| json!({"ip": ip, "ipMode": "VIP"})).collect::<Vec<_>>()})
    }

    #[tokio::test]
    async fn load_balancers_follow_the_nodes_and_are_cleared_when_no_longer_wanted() {
        let api = TestApi::start().await;
        let nodes = <Node as client::Resource>::info();
        // Nodes are created without status; their kubelet posts it.
        let add_node = |name: &'static str, ip: &'static str, ready: bool| {
            let api = &api;
            async move {
                let want = node(name, ip, ready);
                let mut created = api.create(want.clone()).await;
                created["status"] = want["status"].clone();
                api.client.update_status(nodes, "", &created).await.unwrap()
            }
        };
        add_node("node-1", "10.244.0.3", true).await;
        api.create(svc("kubia-http", "LoadBalancer")).await;
        api.create(svc("plain", "ClusterIP")).await;
        let mut other = svc("other", "LoadBalancer");
        other["spec"]["loadBalancerClass"] = json!("example.com/lb");
        api.create(other).await;
        let (_ctx, _running) = start(&api).await;

        wait_ingress(&api, "kubia-http", ingress(&["10.244.0.3"])).await;

        // A second node becomes ready: it is added, in address order.
        let mut n2 = add_node("node-2", "10.244.0.2", false).await;
        n2["status"]["conditions"][0]["status"] = json!("True");
        api.client.update_status(nodes, "", &n2).await.unwrap();
        wait_ingress(&api, "kubia-http", ingress(&["10.244.0.2", "10.244.0.3"])).await;

        // The first goes away.
        api.client.delete(nodes, "", "node-1", &Default::default()).await.unwrap();
        wait_ingress(&api, "kubia-http", ingress(&["10.244.0.2"])).await;

        // The service stops being a LoadBalancer: its ingress is cleared.
        let mut s = api.get("services", "default", "kubia-http").await.unwrap();
        s["spec"]["type"] = json!("ClusterIP");
        // A ClusterIP service has no node ports (should the apiserver have allocated one).
        if let Some(p) = s["spec"]["ports"][0].as_object_mut() {
            p.remove("nodePort");
        }
        api.client.update(<Service as client::Resource>::info(), "default", &s).await.unwrap();
        wait_ingress(&api, "kubia-http", json!({})).await;

        assert_eq!(ingress_of(&api, "plain").await, json!({}));
        assert_eq!(ingress_of(&api, "other").await, json!({}), "another class's service is not ours");
    }
}
