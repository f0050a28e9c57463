//! The services every cluster has from its first start, as the Kubernetes
//! apiserver's bootstrap controller and kubeadm's DNS addon make them:
//! `default/kubernetes` (the first address of the service range, pointing at
//! the apiserver through hand-kept Endpoints) and `kube-system/kube-dns` (the
//! tenth address; answered by each node's DNS server, so it has no selector).

use super::ServiceConfig;
use serde_json::{json, Value};

/// `default/kubernetes`: 443/TCP named `https`, to the apiserver's port.
pub fn kubernetes_service(config: &ServiceConfig) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {
            "name": "kubernetes",
            "namespace": "default",
            "labels": {"component": "apiserver", "provider": "kubernetes"},
        },
        "spec": {
            "type": "ClusterIP",
            "clusterIP": config.cluster_ip_range.nth(1).to_string(),
            "ports": [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": config.port}],
            "sessionAffinity": "None",
        },
    })
}

/// The `kubernetes` Endpoints: the apiserver's advertise address and port.
pub fn kubernetes_endpoints(config: &ServiceConfig) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Endpoints",
        "metadata": {
            "name": "kubernetes",
            "namespace": "default",
            // As Kubernetes: no EndpointSlice mirroring for this one.
            "labels": {"endpointslice.kubernetes.io/skip-mirror": "true"},
        },
        "subsets": [{
            "addresses": [{"ip": config.advertise_address.to_string()}],
            "ports": [{"name": "https", "port": config.port, "protocol": "TCP"}],
        }],
    })
}

/// `kube-system/kube-dns`: 53 over UDP (`dns`) and TCP (`dns-tcp`).
pub fn kube_dns_service(config: &ServiceConfig) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {
            "name": "kube-dns",
            "namespace": "kube-system",
            "labels": {"k8s-app": "kube-dns", "kubernetes.io/name": "KubeDNS"},
        },
        "spec": {
            "type": "ClusterIP",
            "clusterIP": config.cluster_ip_range.nth(10).to_string(),
            "ports": [
                {"name": "dns", "port": 53, "protocol": "UDP", "targetPort": 53},
                {"name": "dns-tcp", "port": 53, "protocol": "TCP", "targetPort": 53},
            ],
        },
    })
}
