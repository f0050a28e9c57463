//! `kubectl describe deployment`: replicas, strategy, pod template,
//! conditions, and its old and new ReplicaSets.

use super::workloads::{conditions_table, pod_template, ConditionRow};
use super::writer::{header, labels_and_annotations, Writer};
use crate::age;
use crate::printers::columns::label_selector_string;
use api::k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use api::k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

pub fn deployment(w: &mut Writer, d: &Deployment, replica_sets: &[ReplicaSet]) {
    let spec = d.spec.clone().unwrap_or_default();
    let st = d.status.clone().unwrap_or_default();
    header(w, &d.metadata, true);
    w.w(0, &format!("CreationTimestamp:\t{}\n", age::rfc1123(d.metadata.creation_timestamp.as_ref())));
    labels_and_annotations(w, &d.metadata);
    w.w(0, &format!("Selector:\t{}\n", label_selector_string(Some(&spec.selector))));
    let desired = spec.replicas.unwrap_or(1);
    w.w(
        0,
        &format!(
            "Replicas:\t{desired} desired | {} updated | {} total | {} available | {} unavailable\n",
            st.updated_replicas.unwrap_or(0),
            st.replicas.unwrap_or(0),
            st.available_replicas.unwrap_or(0),
            st.unavailable_replicas.unwrap_or(0)
        ),
    );
    let strategy = spec.strategy.clone().unwrap_or_default();
    let strategy_type = match strategy.type_.as_deref() {
        None | Some("") => "RollingUpdate",
        Some(t) => t,
    };
    w.w(0, &format!("StrategyType:\t{strategy_type}\n"));
    w.w(0, &format!("MinReadySeconds:\t{}\n", spec.min_ready_seconds.unwrap_or(0)));
    if strategy_type == "RollingUpdate" {
        let rolling = strategy.rolling_update.unwrap_or_default();
        let part = |v: Option<IntOrString>| match v {
            Some(IntOrString::String(v)) => v,
            Some(IntOrString::Int(n)) => n.to_string(),
            None => "25%".into(),
        };
        w.w(
            0,
            &format!(
                "RollingUpdateStrategy:\t{} max unavailable, {} max surge\n",
                part(rolling.max_unavailable),
                part(rolling.max_surge)
            ),
        );
    }
    pod_template(w, Some(&spec.template));
    let conditions: Vec<ConditionRow> = st
        .conditions
        .iter()
        .flatten()
        .map(|c| ConditionRow { type_: &c.type_, status: &c.status, reason: c.reason.as_deref() })
        .collect();
    conditions_table(w, &conditions);
    let (old, new) = old_and_new_replica_sets(d, replica_sets);
    w.w(0, &format!("OldReplicaSets:\t{}\n", replica_set_list(&old)));
    w.w(0, &format!("NewReplicaSet:\t{}\n", replica_set_list(&new.into_iter().collect::<Vec<_>>())));
}

/// As kubectl: the new ReplicaSet is the oldest whose pod template is the
/// Deployment's (its `pod-template-hash` label aside); the old ones shown are
/// the others that still want pods.
fn old_and_new_replica_sets<'a>(
    d: &Deployment,
    sets: &'a [ReplicaSet],
) -> (Vec<&'a ReplicaSet>, Option<&'a ReplicaSet>) {
    let template = d.spec.as_ref().map(|s| &s.template);
    let same_template = |rs: &ReplicaSet| {
        let own = rs.spec.as_ref().and_then(|s| s.template.as_ref());
        matches!((own, template), (Some(a), Some(b)) if api::workload::equal_ignoring_hash(a, b))
    };
    let mut by_age: Vec<&ReplicaSet> = sets.iter().collect();
    by_age.sort_by_key(|rs| rs.metadata.creation_timestamp.as_ref().map(|t| t.0));
    let new = by_age.iter().copied().find(|rs| same_template(rs));
    let old = by_age
        .into_iter()
        .filter(|rs| new.is_none_or(|n| n.metadata.uid != rs.metadata.uid))
        .filter(|rs| rs.spec.as_ref().and_then(|s| s.replicas) != Some(0))
        .collect();
    (old, new)
}

fn replica_set_list(sets: &[&ReplicaSet]) -> String {
    if sets.is_empty() {
        return "<none>".to_string();
    }
    let one = |rs: &&ReplicaSet| {
        let wanted = rs.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
        let created = rs.status.as_ref().map_or(0, |s| s.replicas);
        format!("{} ({created}/{wanted} replicas created)", rs.metadata.name.as_deref().unwrap_or(""))
    };
    sets.iter().map(one).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::typed::{decode, decode_all};
    use serde_json::{json, Value};

    #[test]
    fn deployments_name_their_old_and_new_replica_sets() {
        let template = |image: &str| json!({"metadata": {"labels": {"app": "kubia"}}, "spec": {"containers": [{"name": "kubia", "image": image}]}});
        let with_hash = |image: &str, hash: &str| {
            let mut t = template(image);
            t["metadata"]["labels"]["pod-template-hash"] = hash.into();
            t
        };
        let rs = |name: &str, created: &str, t: Value, want: i64, have: i64| {
            json!({
            "metadata": {"name": name, "uid": name, "creationTimestamp": created},
            "spec": {"replicas": want, "template": t}, "status": {"replicas": have}})
        };
        let d: Deployment = decode(&json!({"spec": {"template": template("luksa/kubia:v2")}})).unwrap();
        let sets: Vec<ReplicaSet> = decode_all(&[
            rs("kubia-v2", "2021-10-27T09:02:00Z", with_hash("luksa/kubia:v2", "b"), 3, 2),
            rs("kubia-v1", "2021-10-27T09:00:00Z", with_hash("luksa/kubia:v1", "a"), 1, 1),
            rs("kubia-v0", "2021-10-26T09:00:00Z", with_hash("luksa/kubia:v0", "z"), 0, 0),
        ]);
        let (old, new) = old_and_new_replica_sets(&d, &sets);
        assert_eq!(replica_set_list(&old), "kubia-v1 (1/1 replicas created)");
        assert_eq!(replica_set_list(&new.into_iter().collect::<Vec<_>>()), "kubia-v2 (2/3 replicas created)");
        // Paused before its new ReplicaSet exists: no new one yet.
        let paused: Deployment = decode(&json!({"spec": {"template": template("luksa/kubia:v3")}})).unwrap();
        let (old, new) = old_and_new_replica_sets(&paused, &sets);
        assert_eq!(new, None);
        assert_eq!(replica_set_list(&old), "kubia-v1 (1/1 replicas created), kubia-v2 (2/3 replicas created)");
        assert_eq!(replica_set_list(&[]), "<none>");
    }
}
