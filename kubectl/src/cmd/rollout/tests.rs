//! `kubectl rollout`'s argument handling and output, without a server.

use super::*;
use crate::cli::{parse_args as parse, Command};
use api::workload::HASH_LABEL;
use serde_json::json;

/// The revision of a ReplicaSet, as the tests name it.
fn revision_of(rs: &ReplicaSet) -> i64 {
    revision(&rs.metadata)
}

fn rs(revision: i64, image: &str, cause: Option<&str>) -> ReplicaSet {
    let mut annotations = json!({REVISION: revision.to_string()});
    if let Some(c) = cause {
        annotations[CHANGE_CAUSE] = c.into();
    }
    decode(&json!({
        "metadata": {"name": format!("kubia-{revision}"), "annotations": annotations},
        "spec": {"template": {"metadata": {"labels": {"app": "kubia", HASH_LABEL: format!("h{revision}")}},
                              "spec": {"containers": [{"name": "nodejs", "image": image}]}}},
    }))
    .unwrap()
}

#[test]
fn rollout_status_speaks_kubectls_lines() {
    let d = |updated: i64, total: i64, available: i64| {
        json!({"kind": "Deployment", "metadata": {"name": "kubia", "generation": 2},
               "spec": {"replicas": 3},
               "status": {"observedGeneration": 2, "updatedReplicas": updated, "replicas": total,
                          "availableReplicas": available}})
    };
    let line = |v: Value| rollout_status(&v).unwrap();
    assert_eq!(
        line(d(1, 4, 3)),
        (
            "Waiting for deployment \"kubia\" rollout to finish: 1 out of 3 new replicas have been updated...".into(),
            false
        )
    );
    assert_eq!(
        line(d(3, 4, 3)),
        ("Waiting for deployment \"kubia\" rollout to finish: 1 old replicas are pending termination...".into(), false)
    );
    assert_eq!(
        line(d(3, 3, 2)),
        ("Waiting for deployment \"kubia\" rollout to finish: 2 of 3 updated replicas are available...".into(), false)
    );
    assert_eq!(line(d(3, 3, 3)), ("deployment \"kubia\" successfully rolled out".into(), true));
    let mut stale = d(3, 3, 3);
    stale["metadata"]["generation"] = 3.into();
    assert_eq!(line(stale).0, "Waiting for deployment spec update to be observed...");
    let ds = json!({"kind": "DaemonSet", "metadata": {"name": "ssd-monitor", "generation": 1},
                    "status": {"observedGeneration": 1, "desiredNumberScheduled": 2, "updatedNumberScheduled": 1}});
    assert_eq!(
        line(ds).0,
        "Waiting for daemon set \"ssd-monitor\" rollout to finish: 1 out of 2 new pods have been updated..."
    );
}

#[test]
fn history_lists_revisions_with_their_change_causes() {
    let all = vec![rs(1, "luksa/kubia:v1", None), rs(2, "luksa/kubia:v2", Some("kubectl set image deployment kubia"))];
    assert_eq!(
        history_table(&all),
        "REVISION  CHANGE-CAUSE\n1         <none>\n2         kubectl set image deployment kubia\n"
    );
}

#[test]
fn undo_copies_the_target_revisions_template_back() {
    let all = vec![rs(1, "luksa/kubia:v1", None), rs(2, "luksa/kubia:v2", None), rs(3, "luksa/kubia:v3", Some("v3"))];
    assert_eq!(revision_of(rollback_target(&all, 0).unwrap()), 2, "the previous revision");
    assert_eq!(revision_of(rollback_target(&all, 1).unwrap()), 1);
    assert_eq!(
        rollback_target(&all, 7).unwrap_err().to_string(),
        "error: unable to find specified revision 7 in history"
    );
    assert!(rollback_target(&all[..1], 0).is_err());
    let d = json!({"kind": "Deployment", "metadata": {"name": "kubia", "annotations": {REVISION: "3", CHANGE_CAUSE: "v3"}},
                   "spec": {"template": serde_json::to_value(template_of(&all[2])).unwrap()}});
    let back = rolled_back(&decode(&d).unwrap(), &all[0]);
    assert_eq!(back["spec"]["template"]["spec"]["containers"][0]["image"], "luksa/kubia:v1");
    assert_eq!(back["spec"]["template"]["metadata"]["labels"], json!({"app": "kubia"}), "no hash label");
    assert_eq!(back["metadata"]["annotations"], json!({REVISION: "3"}), "revision 1 had no change-cause");
}

#[test]
fn rollout_subcommands_parse() {
    let cli = parse(&["rollout", "undo", "deployment/kubia", "--to-revision=1"]);
    assert!(matches!(cli.command, Command::Rollout(RolloutCommand::Undo(a)) if a.to_revision == 1));
    let cli = parse(&["rollout", "status", "deploy", "kubia", "--watch=false"]);
    assert!(matches!(cli.command, Command::Rollout(RolloutCommand::Status(a)) if !a.watch && a.args.len() == 2));
    let cli = parse(&["rollout", "history", "deployment/kubia", "--revision=2"]);
    assert!(matches!(cli.command, Command::Rollout(RolloutCommand::History(a)) if a.revision == 2));
    let cli = parse(&["set", "image", "deployment/kubia", "nodejs=luksa/kubia:v2"]);
    assert!(matches!(cli.command, Command::Set(crate::cli::SetCommand::Image(a)) if a.args.len() == 2));
}

#[test]
fn statefulset_rollout_status_speaks_kubectls_lines() {
    let sts = |ready: i64, updated: i64, partition: i64| {
        json!({"kind": "StatefulSet", "metadata": {"name": "kubia", "generation": 2},
               "spec": {"replicas": 3, "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": partition}}},
               "status": {"observedGeneration": 2, "readyReplicas": ready, "updatedReplicas": updated}})
    };
    let line = |v: Value| rollout_status(&v).unwrap();
    assert_eq!(line(sts(1, 1, 0)), ("Waiting for 2 pods to be ready...".into(), false));
    assert_eq!(
        line(sts(3, 1, 0)),
        ("Waiting for partitioned roll out to finish: 1 out of 3 new pods have been updated...".into(), false)
    );
    assert_eq!(line(sts(3, 2, 1)), ("partitioned roll out complete: 2 new pods have been updated...".into(), true));
    let mut unobserved = sts(3, 3, 0);
    unobserved["metadata"]["generation"] = json!(3);
    assert_eq!(line(unobserved), ("Waiting for statefulset spec update to be observed...".into(), false));
    let mut on_delete = sts(3, 3, 0);
    on_delete["spec"]["updateStrategy"] = json!({"type": "OnDelete"});
    assert_eq!(
        rollout_status(&on_delete).unwrap_err().to_string(),
        "error: rollout status is only available for RollingUpdate strategy type"
    );
}

#[test]
fn statefulset_history_lists_its_revisions() {
    let rev = |n: i64, image: &str| -> ControllerRevision {
        decode(&json!({"metadata": {"name": format!("kubia-{n}")}, "revision": n,
            "data": {"spec": {"template": {"$patch": "replace", "metadata": {"labels": {"app": "kubia"}},
                "spec": {"containers": [{"name": "kubia", "image": image}]}}}}}))
        .unwrap()
    };
    let revisions = [rev(1, "luksa/kubia-pet"), rev(2, "luksa/kubia-pet:v2")];
    assert_eq!(revision_table(&revisions), "REVISION  CHANGE-CAUSE\n1         <none>\n2         <none>\n");
    let template = revision_template(&revisions[1]).unwrap();
    assert_eq!(template.spec.unwrap().containers[0].image.as_deref(), Some("luksa/kubia-pet:v2"));
}
