//! `kubectl describe deployment`: replicas, strategy, pod template,
//! conditions, and its old and new ReplicaSets.

use super::workloads::{conditions_table, pod_template};
use super::writer::{header, s, Writer};
use crate::age;
use crate::printers::columns::{int_at, selector_string};
use serde_json::Value;

pub fn deployment(w: &mut Writer, d: &Value, replica_sets: &[Value]) {
    header(w, d, true);
    w.w(0, &format!("CreationTimestamp:\t{}\n", age::rfc1123z(api::meta::creation_timestamp(d))));
    w.labels("", "Labels", &api::meta::labels(d));
    w.annotations("", "Annotations", &api::meta::annotations(d));
    w.w(0, &format!("Selector:\t{}\n", selector_string(d.pointer("/spec/selector"))));
    let st = |k: &str| int_at(d, &["status", k]);
    let desired = d.pointer("/spec/replicas").and_then(Value::as_i64).unwrap_or(1);
    w.w(
        0,
        &format!(
            "Replicas:\t{desired} desired | {} updated | {} total | {} available | {} unavailable\n",
            st("updatedReplicas"),
            st("replicas"),
            st("availableReplicas"),
            st("unavailableReplicas")
        ),
    );
    let strategy = match s(d, &["spec", "strategy", "type"]) {
        "" => "RollingUpdate",
        t => t,
    };
    w.w(0, &format!("StrategyType:\t{strategy}\n"));
    w.w(0, &format!("MinReadySeconds:\t{}\n", int_at(d, &["spec", "minReadySeconds"])));
    if strategy == "RollingUpdate" {
        let part = |k: &str| match d.pointer(&format!("/spec/strategy/rollingUpdate/{k}")) {
            Some(Value::String(v)) => v.clone(),
            Some(v) => v.to_string(),
            None => "25%".into(),
        };
        w.w(
            0,
            &format!(
                "RollingUpdateStrategy:\t{} max unavailable, {} max surge\n",
                part("maxUnavailable"),
                part("maxSurge")
            ),
        );
    }
    pod_template(w, d.pointer("/spec/template"));
    conditions_table(w, d);
    let (old, new) = old_and_new_replica_sets(d, replica_sets);
    w.w(0, &format!("OldReplicaSets:\t{}\n", replica_set_list(&old)));
    w.w(0, &format!("NewReplicaSet:\t{}\n", replica_set_list(&new.into_iter().collect::<Vec<_>>())));
}

/// As kubectl: the new ReplicaSet is the oldest whose pod template is the
/// Deployment's (its `pod-template-hash` label aside); the old ones shown are
/// the others that still want pods.
fn old_and_new_replica_sets<'a>(d: &Value, sets: &'a [Value]) -> (Vec<&'a Value>, Option<&'a Value>) {
    let template = d.pointer("/spec/template");
    let same_template =
        |rs: &Value| rs.pointer("/spec/template").map(crate::cmd::shared::without_hash).as_ref() == template;
    let mut by_age: Vec<&Value> = sets.iter().collect();
    by_age.sort_by_key(|rs| api::meta::creation_timestamp(rs).to_string());
    let new = by_age.iter().copied().find(|rs| same_template(rs));
    let old = by_age
        .into_iter()
        .filter(|rs| new.is_none_or(|n| api::meta::uid(n) != api::meta::uid(rs)))
        .filter(|rs| rs.pointer("/spec/replicas").and_then(Value::as_i64) != Some(0))
        .collect();
    (old, new)
}

fn replica_set_list(sets: &[&Value]) -> String {
    if sets.is_empty() {
        return "<none>".to_string();
    }
    let one = |rs: &&Value| {
        let wanted = rs.pointer("/spec/replicas").and_then(Value::as_i64).unwrap_or(1);
        format!("{} ({}/{wanted} replicas created)", api::meta::name(rs), int_at(rs, &["status", "replicas"]))
    };
    sets.iter().map(one).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

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
        let d = json!({"spec": {"template": template("luksa/kubia:v2")}});
        let sets = [
            rs("kubia-v2", "2021-10-27T09:02:00Z", with_hash("luksa/kubia:v2", "b"), 3, 2),
            rs("kubia-v1", "2021-10-27T09:00:00Z", with_hash("luksa/kubia:v1", "a"), 1, 1),
            rs("kubia-v0", "2021-10-26T09:00:00Z", with_hash("luksa/kubia:v0", "z"), 0, 0),
        ];
        let (old, new) = old_and_new_replica_sets(&d, &sets);
        assert_eq!(replica_set_list(&old), "kubia-v1 (1/1 replicas created)");
        assert_eq!(replica_set_list(&new.into_iter().collect::<Vec<_>>()), "kubia-v2 (2/3 replicas created)");
        // Paused before its new ReplicaSet exists: no new one yet.
        let paused = json!({"spec": {"template": template("luksa/kubia:v3")}});
        let (old, new) = old_and_new_replica_sets(&paused, &sets);
        assert_eq!(new, None);
        assert_eq!(replica_set_list(&old), "kubia-v1 (1/1 replicas created), kubia-v2 (2/3 replicas created)");
        assert_eq!(replica_set_list(&[]), "<none>");
    }
}
