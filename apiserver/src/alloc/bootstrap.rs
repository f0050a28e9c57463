//! The services every cluster has from its first start, as the Kubernetes
//! apiserver's bootstrap controller and kubeadm's DNS addon make them:
//! `default/kubernetes` (the first address of the service range, pointing at
//! the apiserver through hand-kept Endpoints) and `kube-system/kube-dns` (the
//! tenth address; answered by each node's DNS server, so it has no selector).

use super::ServiceConfig;
use k8s_openapi::api::core::v1::{
    EndpointAddress, EndpointPort, EndpointSubset, Endpoints, Service, ServicePort, ServiceSpec,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

fn metadata(namespace: &str, name: &str, labels: &[(&str, &str)]) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.into()),
        namespace: Some(namespace.into()),
        labels: Some(labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()),
        ..Default::default()
    }
}

fn port(name: &str, port: i32, protocol: &str, target: i32) -> ServicePort {
    ServicePort {
        name: Some(name.into()),
        port,
        protocol: Some(protocol.into()),
        target_port: Some(IntOrString::Int(target)),
        ..Default::default()
    }
}

/// `default/kubernetes`: 443/TCP named `https`, to the apiserver's port.
pub fn kubernetes_service(config: &ServiceConfig) -> Service {
    Service {
        metadata: metadata("default", "kubernetes", &[("component", "apiserver"), ("provider", "kubernetes")]),
        spec: Some(ServiceSpec {
            type_: Some("ClusterIP".into()),
            cluster_ip: Some(config.cluster_ip_range.nth(1).to_string()),
            ports: Some(vec![port("https", 443, "TCP", config.port.into())]),
            session_affinity: Some("None".into()),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// The `kubernetes` Endpoints: the apiserver's advertise address and port.
pub fn kubernetes_endpoints(config: &ServiceConfig) -> Endpoints {
    Endpoints {
        // As Kubernetes: no EndpointSlice mirroring for this one.
        metadata: metadata("default", "kubernetes", &[("endpointslice.kubernetes.io/skip-mirror", "true")]),
        subsets: Some(vec![EndpointSubset {
            addresses: Some(vec![EndpointAddress { ip: config.advertise_address.to_string(), ..Default::default() }]),
            ports: Some(vec![EndpointPort {
                name: Some("https".into()),
                port: config.port.into(),
                protocol: Some("TCP".into()),
                ..Default::default()
            }]),
            ..Default::default()
        }]),
    }
}

/// `kube-system/kube-dns`: 53 over UDP (`dns`) and TCP (`dns-tcp`).
pub fn kube_dns_service(config: &ServiceConfig) -> Service {
    Service {
        metadata: metadata("kube-system", "kube-dns", &[("k8s-app", "kube-dns"), ("kubernetes.io/name", "KubeDNS")]),
        spec: Some(ServiceSpec {
            type_: Some("ClusterIP".into()),
            cluster_ip: Some(config.cluster_ip_range.nth(10).to_string()),
            ports: Some(vec![port("dns", 53, "UDP", 53), port("dns-tcp", 53, "TCP", 53)]),
            ..Default::default()
        }),
        ..Default::default()
    }
}
