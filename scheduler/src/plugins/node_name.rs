//! NodeName: a pod that names its node (`spec.nodeName`) fits only there.
//! The scheduler never picks up such pods (they are already placed), but the
//! filter keeps the plugin set complete for callers that check placed pods,
//! as kube-scheduler's does.

use crate::framework::{FilterPlugin, FilterResult, NodeInfo, PodInfo, Unfit};

pub const REASON: &str = "node(s) didn't match the requested node name";

pub fn node_name(pod: &PodInfo, node: &NodeInfo) -> FilterResult {
    if pod.node_name.is_empty() || pod.node_name == node.name {
        Ok(())
    } else {
        Err(Unfit::new(REASON))
    }
}

pub struct NodeName;

impl FilterPlugin for NodeName {
    fn name(&self) -> &'static str {
        "NodeName"
    }
    fn filter(&self, pod: &PodInfo, node: &NodeInfo) -> FilterResult {
        node_name(pod, node)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{node, pod};

    #[test]
    fn filter_table() {
        let cases = [
            ("no node named", pod("p"), Ok(())),
            ("this node named", pod("p").node_name("n1"), Ok(())),
            ("another node named", pod("p").node_name("n2"), Err(Unfit::new(REASON))),
        ];
        for (name, p, expected) in cases {
            assert_eq!(node_name(&p.info(), &node("n1").info()), expected, "{name}");
        }
    }
}
