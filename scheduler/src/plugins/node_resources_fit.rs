//! NodeResourcesFit: the pod's effective request must fit in what the node
//! has left (allocatable minus the requests of the pods already there), and
//! the node must have room for one more pod. Every shortfall is reported, so a
//! node short of both cpu and memory counts under both reasons.

use crate::framework::{FilterPlugin, FilterResult, NodeInfo, PodInfo, Reason, Unfit};

pub const TOO_MANY_PODS: &str = "Too many pods";

pub fn node_resources_fit(pod: &PodInfo, node: &NodeInfo) -> FilterResult {
    let mut reasons: Vec<Reason> = Vec::new();
    if node.pod_count as i64 + 1 > node.spec.allowed_pods {
        reasons.push(TOO_MANY_PODS.into());
    }
    let want = &pod.usage.requests;
    let (have, used) = (&node.spec.allocatable, &node.requested);
    // A request of zero fits anywhere, even on a node that is already overcommitted.
    let short = |want: i64, have: i64, used: i64| want > 0 && want > have - used;
    if short(want.milli_cpu, have.milli_cpu, used.milli_cpu) {
        reasons.push("Insufficient cpu".into());
    }
    if short(want.memory, have.memory, used.memory) {
        reasons.push("Insufficient memory".into());
    }
    if short(want.ephemeral_storage, have.ephemeral_storage, used.ephemeral_storage) {
        reasons.push("Insufficient ephemeral-storage".into());
    }
    for (name, amount) in &want.scalar {
        let have = have.scalar.get(name).copied().unwrap_or(0);
        let used = used.scalar.get(name).copied().unwrap_or(0);
        if short(*amount, have, used) {
            reasons.push(format!("Insufficient {name}").into());
        }
    }
    if reasons.is_empty() {
        Ok(())
    } else {
        Err(Unfit(reasons))
    }
}

pub struct NodeResourcesFit;

impl FilterPlugin for NodeResourcesFit {
    fn name(&self) -> &'static str {
        "NodeResourcesFit"
    }
    fn filter(&self, pod: &PodInfo, node: &NodeInfo) -> FilterResult {
        node_resources_fit(pod, node)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{node, pod};

    #[test]
    fn filter_table() {
        let small = || node("n").allocatable("1", "1Gi", 3);
        let cases: Vec<(&str, _, _, &[&str])> = vec![
            ("fits an empty node", pod("p").cpu("500m").memory("512Mi"), small(), &[]),
            ("exactly the rest fits", pod("p").cpu("1").memory("1Gi"), small(), &[]),
            ("too much cpu", pod("p").cpu("1001m"), small(), &["Insufficient cpu"]),
            ("too much memory", pod("p").memory("2Gi"), small(), &["Insufficient memory"]),
            ("both", pod("p").cpu("2").memory("2Gi"), small(), &["Insufficient cpu", "Insufficient memory"]),
            (
                "pods already there use up cpu",
                pod("p").cpu("600m"),
                small().with_pod(pod("a").cpu("500m")),
                &["Insufficient cpu"],
            ),
            (
                "requests of all containers add up",
                pod("p").cpu("600m").container("600m", "0"),
                small(),
                &["Insufficient cpu"],
            ),
            ("init containers run alone", pod("p").cpu("600m").init_container("900m", "0"), small(), &[]),
            (
                "pod count",
                pod("p"),
                small().with_pod(pod("a")).with_pod(pod("b")).with_pod(pod("c")),
                &["Too many pods"],
            ),
            (
                "a best-effort pod fits an overcommitted node with room for pods",
                pod("p"),
                small().with_pod(pod("a").cpu("2")),
                &[],
            ),
            ("extended resources", pod("p").request("nvidia.com/gpu", "1"), small(), &["Insufficient nvidia.com/gpu"]),
            (
                "extended resources the node has",
                pod("p").request("nvidia.com/gpu", "1"),
                small().resource("nvidia.com/gpu", "2"),
                &[],
            ),
            (
                "ephemeral storage",
                pod("p").request("ephemeral-storage", "1Gi"),
                small().resource("ephemeral-storage", "512Mi"),
                &["Insufficient ephemeral-storage"],
            ),
        ];
        for (name, p, n, reasons) in cases {
            let expected = if reasons.is_empty() {
                Ok(())
            } else {
                Err(Unfit(reasons.iter().map(|r| Reason::from(*r)).collect()))
            };
            assert_eq!(node_resources_fit(&p.info(), &n.info()), expected, "{name}");
        }
    }
}
