//! NodeUnschedulable: a cordoned node (`spec.unschedulable: true`, what
//! `kubectl cordon` sets) takes no new pods, except pods that tolerate the
//! `node.kubernetes.io/unschedulable:NoSchedule` taint.

use crate::framework::{FilterPlugin, FilterResult, NodeInfo, PodInfo, Unfit};
use crate::plugins::taint_toleration::{tolerated, NO_SCHEDULE};
use k8s_openapi::api::core::v1::Taint;

pub const UNSCHEDULABLE_TAINT: &str = "node.kubernetes.io/unschedulable";
pub const REASON: &str = "node(s) were unschedulable";

pub fn node_unschedulable(pod: &PodInfo, node: &NodeInfo) -> FilterResult {
    if !node.spec.unschedulable {
        return Ok(());
    }
    let taint = Taint { key: UNSCHEDULABLE_TAINT.into(), effect: NO_SCHEDULE.into(), ..Default::default() };
    if tolerated(&pod.tolerations, &taint) {
        Ok(())
    } else {
        Err(Unfit::new(REASON))
    }
}

pub struct NodeUnschedulable;

impl FilterPlugin for NodeUnschedulable {
    fn name(&self) -> &'static str {
        "NodeUnschedulable"
    }
    fn filter(&self, pod: &PodInfo, node: &NodeInfo) -> FilterResult {
        node_unschedulable(pod, node)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{node, pod};

    #[test]
    fn filter_table() {
        let cases = [
            ("schedulable node", pod("p"), node("n"), Ok(())),
            ("cordoned node", pod("p"), node("n").unschedulable(), Err(Unfit::new(REASON))),
            (
                "pod tolerating the unschedulable taint",
                pod("p").toleration(UNSCHEDULABLE_TAINT, "Exists", "", "NoSchedule"),
                node("n").unschedulable(),
                Ok(()),
            ),
            (
                "a toleration for another effect does not count",
                pod("p").toleration(UNSCHEDULABLE_TAINT, "Exists", "", "NoExecute"),
                node("n").unschedulable(),
                Err(Unfit::new(REASON)),
            ),
            (
                "tolerate-everything pods go anywhere",
                pod("p").toleration("", "Exists", "", ""),
                node("n").unschedulable(),
                Ok(()),
            ),
        ];
        for (name, p, n, expected) in cases {
            assert_eq!(node_unschedulable(&p.info(), &n.info()), expected, "{name}");
        }
    }
}
