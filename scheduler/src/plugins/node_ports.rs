//! NodePorts: a pod asking for host ports fits only where those ports are
//! free. A port is taken per protocol and host IP; a binding on all addresses
//! (`hostIP` empty, `0.0.0.0` or `::`) conflicts with the same port on any
//! address, and a binding on one address conflicts with that address and with
//! all-addresses bindings, as in Kubernetes' `HostPortInfo.CheckConflict`
//! ([`HostPort::conflicts_with`](crate::framework::HostPort::conflicts_with)).

use crate::framework::{FilterPlugin, FilterResult, NodeInfo, PodInfo, Unfit};

pub const REASON: &str = "node(s) didn't have free ports for the requested pod ports";

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
}
