//! NodeAffinity: the pod's `nodeSelector` and its required node affinity
//! must both match the node.
//!
//! `nodeSelector` is a map every pair of which the node's labels must hold.
//! Required affinity is a [`NodeSelector`](crate::framework::NodeSelector),
//! parsed once per pod (its terms and how they match are explained there).

use crate::framework::{FilterPlugin, FilterResult, NodeInfo, PodInfo, Unfit};

pub const REASON: &str = "node(s) didn't match Pod's node affinity/selector";

pub fn node_affinity(pod: &PodInfo, node: &NodeInfo) -> FilterResult {
    let labels = &node.spec.labels;
    let selector_ok = pod.node_selector.iter().all(|(k, v)| labels.get(k) == Some(v));
    let affinity_ok = pod.required_affinity.as_ref().is_none_or(|s| s.matches(&node.name, labels));
    if selector_ok && affinity_ok {
        Ok(())
    } else {
        Err(Unfit::new(REASON))
    }
}

pub struct NodeAffinity;

impl FilterPlugin for NodeAffinity {
    fn name(&self) -> &'static str {
        "NodeAffinity"
    }
    fn filter(&self, pod: &PodInfo, node: &NodeInfo) -> FilterResult {
        node_affinity(pod, node)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{node, pod};
    use serde_json::{json, Value};

    fn expr(key: &str, op: &str, values: &[&str]) -> Value {
        json!({"key": key, "operator": op, "values": values})
    }

    #[test]
    fn node_selector_table() {
        let gpu = node("n1").label("gpu", "true").label("disk", "ssd");
        let cases = [
            ("no selector", pod("p"), node("n1"), true),
            ("matching label", pod("p").node_selector("gpu", "true"), gpu.clone(), true),
            (
                "all pairs must match",
                pod("p").node_selector("gpu", "true").node_selector("disk", "hdd"),
                gpu.clone(),
                false,
            ),
            ("missing label", pod("p").node_selector("gpu", "true"), node("n1"), false),
            ("other value", pod("p").node_selector("gpu", "false"), gpu, false),
        ];
        for (name, p, n, fits) in cases {
            let expected = if fits { Ok(()) } else { Err(Unfit::new(REASON)) };
            assert_eq!(node_affinity(&p.info(), &n.info()), expected, "{name}");
        }
    }

    #[test]
    fn required_affinity_table() {
        let n = node("n1").label("zone", "a").label("cores", "8");
        let cases = [
            ("In", json!([{"matchExpressions": [expr("zone", "In", &["a", "b"])]}]), true),
            ("In, other value", json!([{"matchExpressions": [expr("zone", "In", &["b"])]}]), false),
            ("NotIn", json!([{"matchExpressions": [expr("zone", "NotIn", &["b"])]}]), true),
            ("NotIn matches a missing label", json!([{"matchExpressions": [expr("rack", "NotIn", &["x"])]}]), true),
            ("Exists", json!([{"matchExpressions": [expr("zone", "Exists", &[])]}]), true),
            ("DoesNotExist", json!([{"matchExpressions": [expr("zone", "DoesNotExist", &[])]}]), false),
            ("Gt", json!([{"matchExpressions": [expr("cores", "Gt", &["4"])]}]), true),
            ("Lt", json!([{"matchExpressions": [expr("cores", "Lt", &["4"])]}]), false),
            ("Gt on a non-number label", json!([{"matchExpressions": [expr("zone", "Gt", &["1"])]}]), false),
            (
                "expressions in a term are ANDed",
                json!([{"matchExpressions": [expr("zone", "In", &["a"]), expr("cores", "Gt", &["16"])]}]),
                false,
            ),
            (
                "terms are ORed",
                json!([{"matchExpressions": [expr("zone", "In", &["x"])]}, {"matchExpressions": [expr("zone", "In", &["a"])]}]),
                true,
            ),
            ("an empty term matches nothing", json!([{}]), false),
            ("no terms match nothing", json!([]), false),
            (
                "a malformed term matches nothing but others still count",
                json!([{"matchExpressions": [expr("zone", "Bogus", &["a"])]}, {"matchExpressions": [expr("zone", "Exists", &[])]}]),
                true,
            ),
            (
                "Gt with a non-integer value is malformed",
                json!([{"matchExpressions": [expr("cores", "Gt", &["x"])]}]),
                false,
            ),
            ("matchFields In", json!([{"matchFields": [expr("metadata.name", "In", &["n1"])]}]), true),
            ("matchFields In, other node", json!([{"matchFields": [expr("metadata.name", "In", &["n2"])]}]), false),
            ("matchFields NotIn", json!([{"matchFields": [expr("metadata.name", "NotIn", &["n2"])]}]), true),
            ("matchFields on another field", json!([{"matchFields": [expr("spec.x", "In", &["n1"])]}]), false),
            (
                "fields and labels together",
                json!([{"matchFields": [expr("metadata.name", "In", &["n1"])], "matchExpressions": [expr("zone", "In", &["b"])]}]),
                false,
            ),
        ];
        for (name, terms, fits) in cases {
            let p = pod("p").required_terms(terms);
            let expected = if fits { Ok(()) } else { Err(Unfit::new(REASON)) };
            assert_eq!(node_affinity(&p.info(), &n.info()), expected, "{name}");
        }
    }

    #[test]
    fn selector_and_affinity_must_both_match() {
        let p = pod("p")
            .node_selector("zone", "a")
            .required_terms(json!([{"matchExpressions": [expr("gpu", "Exists", &[])]}]));
        assert!(node_affinity(&p.info(), &node("n").label("zone", "a").info()).is_err());
        assert!(node_affinity(&p.info(), &node("n").label("zone", "a").label("gpu", "1").info()).is_ok());
    }
}
