//! TaintToleration: a node's `NoSchedule` and `NoExecute` taints keep away
//! every pod that does not tolerate them; `PreferNoSchedule` taints only lower
//! the node's score.
//!
//! Matching is Kubernetes' `ToleratesTaint`: an empty toleration effect
//! matches every effect, an empty key (with `Exists`) every key; `Equal` (or
//! no operator) needs equal values, `Exists` ignores the value.

use crate::framework::{default_normalize, FilterPlugin, FilterResult, NodeInfo, PodInfo, ScorePlugin, Unfit};
use k8s_openapi::api::core::v1::{Taint, Toleration};

pub const NO_SCHEDULE: &str = "NoSchedule";
pub const PREFER_NO_SCHEDULE: &str = "PreferNoSchedule";
pub const NO_EXECUTE: &str = "NoExecute";

/// Kubernetes' `Toleration.ToleratesTaint`.
pub fn tolerates(toleration: &Toleration, taint: &Taint) -> bool {
    fn field(f: &Option<String>) -> &str {
        f.as_deref().unwrap_or_default()
    }
    let effect = field(&toleration.effect);
    if !effect.is_empty() && effect != taint.effect {
        return false;
    }
    let key = field(&toleration.key);
    if !key.is_empty() && key != taint.key {
        return false;
    }
    match field(&toleration.operator) {
        "" | "Equal" => field(&toleration.value) == field(&taint.value),
        "Exists" => true,
        _ => false,
    }
}

pub fn tolerated(tolerations: &[Toleration], taint: &Taint) -> bool {
    tolerations.iter().any(|t| tolerates(t, taint))
}

/// The reason kube-scheduler gives for the first taint a pod does not tolerate.
pub fn untolerated_reason(key: &str, value: &str) -> String {
    format!("node(s) had untolerated taint {{{key}: {value}}}")
}

/// Rejects the node if it has a `NoSchedule` or `NoExecute` taint the pod does not tolerate.
pub fn taint_toleration(pod: &PodInfo, node: &NodeInfo) -> FilterResult {
    let blocking = node
        .spec
        .taints
        .iter()
        .filter(|t| t.effect == NO_SCHEDULE || t.effect == NO_EXECUTE)
        .find(|t| !tolerated(&pod.tolerations, t));
    match blocking {
        None => Ok(()),
        Some(t) => Err(Unfit::new(untolerated_reason(&t.key, t.value.as_deref().unwrap_or_default()))),
    }
}

/// How many `PreferNoSchedule` taints of the node the pod does not tolerate.
pub fn intolerable_prefer_no_schedule(pod: &PodInfo, node: &NodeInfo) -> i64 {
    node.spec.taints.iter().filter(|t| t.effect == PREFER_NO_SCHEDULE && !tolerated(&pod.tolerations, t)).count() as i64
}

pub struct TaintToleration;

impl FilterPlugin for TaintToleration {
    fn name(&self) -> &'static str {
        "TaintToleration"
    }
    fn filter(&self, pod: &PodInfo, node: &NodeInfo) -> FilterResult {
        taint_toleration(pod, node)
    }
}

impl ScorePlugin for TaintToleration {
    fn name(&self) -> &'static str {
        "TaintToleration"
    }
    fn score(&self, pod: &PodInfo, node: &NodeInfo) -> i64 {
        intolerable_prefer_no_schedule(pod, node)
    }
    /// Fewer intolerable taints is better: the node with most gets 0.
    fn normalize(&self, scores: &mut [i64]) {
        default_normalize(scores, true);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{node, pod};

    #[test]
    fn tolerations_match_as_kubernetes() {
        let taint =
            Taint { key: "dedicated".into(), value: Some("gpu".into()), effect: NO_SCHEDULE.into(), time_added: None };
        let set = |s: &str| (!s.is_empty()).then(|| s.to_string());
        let tol = |key: &str, op: &str, value: &str, effect: &str| Toleration {
            key: set(key),
            operator: set(op),
            value: set(value),
            effect: set(effect),
            toleration_seconds: None,
        };
        let cases = [
            ("same key, value, effect", tol("dedicated", "Equal", "gpu", "NoSchedule"), true),
            ("empty operator means Equal", tol("dedicated", "", "gpu", "NoSchedule"), true),
            ("other value", tol("dedicated", "Equal", "cpu", "NoSchedule"), false),
            ("Exists ignores the value", tol("dedicated", "Exists", "", "NoSchedule"), true),
            ("empty effect matches every effect", tol("dedicated", "Equal", "gpu", ""), true),
            ("other effect", tol("dedicated", "Equal", "gpu", "NoExecute"), false),
            ("empty key with Exists matches every taint", tol("", "Exists", "", ""), true),
            ("other key", tol("other", "Exists", "", ""), false),
            ("unknown operator", tol("dedicated", "Gt", "gpu", ""), false),
        ];
        for (name, toleration, expected) in cases {
            assert_eq!(tolerates(&toleration, &taint), expected, "{name}");
        }
    }

    #[test]
    fn filter_table() {
        let tainted = node("n").taint("dedicated", "gpu", "NoSchedule");
        let cases = [
            ("no taints", pod("p"), node("n"), Ok(())),
            (
                "untolerated NoSchedule",
                pod("p"),
                tainted.clone(),
                Err(Unfit::new("node(s) had untolerated taint {dedicated: gpu}")),
            ),
            ("tolerated", pod("p").toleration("dedicated", "Equal", "gpu", "NoSchedule"), tainted.clone(), Ok(())),
            (
                "NoExecute blocks too",
                pod("p"),
                node("n").taint("k", "", "NoExecute"),
                Err(Unfit::new("node(s) had untolerated taint {k: }")),
            ),
            ("PreferNoSchedule does not block", pod("p"), node("n").taint("k", "v", "PreferNoSchedule"), Ok(())),
            (
                "the first untolerated taint is reported",
                pod("p").toleration("a", "Exists", "", ""),
                node("n").taint("a", "1", "NoSchedule").taint("b", "2", "NoSchedule").taint("c", "3", "NoSchedule"),
                Err(Unfit::new("node(s) had untolerated taint {b: 2}")),
            ),
        ];
        for (name, p, n, expected) in cases {
            assert_eq!(taint_toleration(&p.info(), &n.info()), expected, "{name}");
        }
    }

    #[test]
    fn prefer_no_schedule_taints_lower_the_score() {
        let clean = node("a").info();
        let one = node("b").taint("x", "", "PreferNoSchedule").info();
        let two = node("c").taint("x", "", "PreferNoSchedule").taint("y", "", "PreferNoSchedule").info();
        let p = pod("p").info();
        let mut scores: Vec<i64> = [&clean, &one, &two].iter().map(|n| TaintToleration.score(&p, n)).collect();
        assert_eq!(scores, [0, 1, 2]);
        ScorePlugin::normalize(&TaintToleration, &mut scores);
        assert_eq!(scores, [100, 50, 0]);
        let tolerant = pod("p").toleration("x", "Exists", "", "PreferNoSchedule").info();
        assert_eq!(TaintToleration.score(&tolerant, &two), 1);
    }
}
