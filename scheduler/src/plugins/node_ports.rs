//! NodePorts: a pod asking for host ports fits only where those ports are
//! free. A port is taken per protocol and host IP; a binding on all addresses
//! (`hostIP` empty, `0.0.0.0` or `::`) conflicts with the same port on any
//! address, and a binding on one address conflicts with that address and with
//! all-addresses bindings, as in Kubernetes' `HostPortInfo.CheckConflict`.

use crate::framework::{FilterPlugin, FilterResult, Unfit};
use crate::node_info::NodeInfo;
use crate::pod_info::PodInfo;
use serde_json::Value;

pub const REASON: &str = "node(s) didn't have free ports for the requested pod ports";
const ALL_ADDRESSES: &str = "0.0.0.0";

/// One host port a pod binds, with protocol and IP already defaulted.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct HostPort {
    pub protocol: String,
    pub ip: String,
    pub port: i32,
}

impl HostPort {
    /// The host ports of a pod spec: those of app containers and of sidecars
    /// (restartable init containers), which keep their ports while the pod runs.
    pub fn of_pod(spec: &Value) -> Vec<HostPort> {
        let containers = spec["containers"].as_array().into_iter().flatten();
        let sidecars =
            spec["initContainers"].as_array().into_iter().flatten().filter(|c| c["restartPolicy"] == "Always");
        containers
            .chain(sidecars)
            .flat_map(|c| c["ports"].as_array().into_iter().flatten())
            .filter_map(|p| {
                let port = p["hostPort"].as_i64().and_then(|n| i32::try_from(n).ok()).filter(|n| *n > 0)?;
                let protocol = p["protocol"].as_str().filter(|s| !s.is_empty()).unwrap_or("TCP").to_string();
                let ip = match p["hostIP"].as_str().unwrap_or_default() {
                    "" | "::" => ALL_ADDRESSES,
                    ip => ip,
                };
                Some(HostPort { protocol, ip: ip.to_string(), port })
            })
            .collect()
    }

    /// Whether this port and `used` cannot both be bound.
    pub fn conflicts_with(&self, used: &HostPort) -> bool {
        self.port == used.port
            && self.protocol == used.protocol
            && (self.ip == ALL_ADDRESSES || used.ip == ALL_ADDRESSES || self.ip == used.ip)
    }
}

pub fn node_ports(pod: &PodInfo, node: &NodeInfo) -> FilterResult {
    let conflict = pod.usage.host_ports.iter().any(|want| node.used_ports.iter().any(|used| want.conflicts_with(used)));
    if conflict {
        Err(Unfit::new(REASON))
    } else {
        Ok(())
    }
}

pub struct NodePorts;

impl FilterPlugin for NodePorts {
    fn name(&self) -> &'static str {
        "NodePorts"
    }
    fn filter(&self, pod: &PodInfo, node: &NodeInfo) -> FilterResult {
        node_ports(pod, node)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{node, pod};
    use serde_json::json;

    #[test]
    fn filter_table() {
        let running = |port, proto, ip| node("n").with_pod(pod("running").host_port(port, proto, ip));
        let cases = [
            ("no host ports wanted", pod("p"), running(80, "", ""), true),
            ("free node", pod("p").host_port(80, "", ""), node("n"), true),
            ("same port, all addresses", pod("p").host_port(80, "", ""), running(80, "", ""), false),
            ("other port", pod("p").host_port(81, "", ""), running(80, "", ""), true),
            ("TCP is the default protocol", pod("p").host_port(80, "TCP", ""), running(80, "", ""), false),
            ("other protocol", pod("p").host_port(80, "UDP", ""), running(80, "TCP", ""), true),
            ("different specific IPs", pod("p").host_port(80, "", "10.0.0.1"), running(80, "", "10.0.0.2"), true),
            ("same specific IP", pod("p").host_port(80, "", "10.0.0.1"), running(80, "", "10.0.0.1"), false),
            (
                "specific IP against all addresses",
                pod("p").host_port(80, "", "10.0.0.1"),
                running(80, "", "0.0.0.0"),
                false,
            ),
            ("all addresses against a specific IP", pod("p").host_port(80, "", ""), running(80, "", "10.0.0.2"), false),
            ("`::` means all addresses", pod("p").host_port(80, "", "::"), running(80, "", "10.0.0.2"), false),
            (
                "any one of several ports conflicting is enough",
                pod("p").host_port(8080, "", "").host_port(80, "", ""),
                running(80, "", ""),
                false,
            ),
        ];
        for (name, p, n, fits) in cases {
            let expected = if fits { Ok(()) } else { Err(Unfit::new(REASON)) };
            assert_eq!(node_ports(&p.info(), &n.info()), expected, "{name}");
        }
    }

    #[test]
    fn ports_without_host_port_and_of_plain_init_containers_are_not_bound() {
        let spec = json!({
            "containers": [{"ports": [{"containerPort": 8080}, {"containerPort": 53, "hostPort": 53, "protocol": "UDP"}]}],
            "initContainers": [
                {"ports": [{"containerPort": 1, "hostPort": 1}]},
                {"restartPolicy": "Always", "ports": [{"containerPort": 2, "hostPort": 2}]},
            ],
        });
        let ports: Vec<(String, i32)> = HostPort::of_pod(&spec).into_iter().map(|p| (p.protocol, p.port)).collect();
        assert_eq!(ports, [("UDP".to_string(), 53), ("TCP".to_string(), 2)]);
    }
}
