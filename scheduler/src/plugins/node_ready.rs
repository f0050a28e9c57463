//! NodeReady: a node whose Ready condition is not True gets no pods.
//!
//! Kubernetes does this through taints: the node lifecycle controller taints
//! a NotReady node `node.kubernetes.io/not-ready:NoSchedule` (an unreachable
//! one, Ready=Unknown, `node.kubernetes.io/unreachable:NoSchedule`) and
//! TaintToleration keeps pods away. This plugin applies that implied taint
//! itself, so nodes are judged the same whether or not a controller has
//! tainted them yet: pods that tolerate the taint (DaemonSet pods) still fit,
//! and the failure reads as kube-scheduler's
//! `node(s) had untolerated taint {node.kubernetes.io/not-ready: }`.

use crate::framework::{FilterPlugin, FilterResult, NodeInfo, PodInfo, Readiness, Unfit};
use crate::plugins::taint_toleration::{tolerated, untolerated_reason, NO_SCHEDULE};
use k8s_openapi::api::core::v1::Taint;

pub const NOT_READY_TAINT: &str = "node.kubernetes.io/not-ready";
pub const UNREACHABLE_TAINT: &str = "node.kubernetes.io/unreachable";

pub fn node_ready(pod: &PodInfo, node: &NodeInfo) -> FilterResult {
    let key = match node.spec.readiness {
        Readiness::Ready => return Ok(()),
        Readiness::NotReady => NOT_READY_TAINT,
        Readiness::Unknown => UNREACHABLE_TAINT,
    };
    // Once the controller has put the taint on the node, TaintToleration judges it.
    if node.spec.taints.iter().any(|t| t.key == key) {
        return Ok(());
    }
    let implied = Taint { key: key.to_string(), effect: NO_SCHEDULE.to_string(), ..Default::default() };
    if tolerated(&pod.tolerations, &implied) {
        Ok(())
    } else {
        Err(Unfit::new(untolerated_reason(key, "")))
    }
}

pub struct NodeReady;

impl FilterPlugin for NodeReady {
    fn name(&self) -> &'static str {
        "NodeReady"
    }
    fn filter(&self, pod: &PodInfo, node: &NodeInfo) -> FilterResult {
        node_ready(pod, node)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{node, pod};

    #[test]
    fn filter_table() {
        let not_ready = Err(Unfit::new("node(s) had untolerated taint {node.kubernetes.io/not-ready: }"));
        let cases = [
            ("ready", pod("p"), node("n"), Ok(())),
            ("Ready=False", pod("p"), node("n").ready("False"), not_ready.clone()),
            ("no Ready condition yet", pod("p"), node("n").no_conditions(), not_ready.clone()),
            (
                "Ready=Unknown is unreachable",
                pod("p"),
                node("n").ready("Unknown"),
                Err(Unfit::new("node(s) had untolerated taint {node.kubernetes.io/unreachable: }")),
            ),
            (
                "a DaemonSet-style toleration lets the pod in",
                pod("p").toleration(NOT_READY_TAINT, "Exists", "", "NoSchedule"),
                node("n").ready("False"),
                Ok(()),
            ),
            (
                "the default NoExecute toleration is not enough",
                pod("p").toleration(NOT_READY_TAINT, "Exists", "", "NoExecute"),
                node("n").ready("False"),
                not_ready,
            ),
            (
                "an explicit taint is left to TaintToleration",
                pod("p"),
                node("n").ready("False").taint(NOT_READY_TAINT, "", "NoSchedule"),
                Ok(()),
            ),
        ];
        for (name, p, n, expected) in cases {
            assert_eq!(node_ready(&p.info(), &n.info()), expected, "{name}");
        }
    }
}
