//! The workload commands' argument handling and output, without a server.

use super::*;
use crate::cli::{Cli, Command, CreateCommand};
use clap::Parser;

fn parse(args: &[&str]) -> Cli {
    let mut full = vec!["kubectl"];
    full.extend_from_slice(args);
    Cli::try_parse_from(full).unwrap_or_else(|e| panic!("{args:?}: {e}"))
}

fn rs(revision: i64, image: &str, cause: Option<&str>) -> Value {
    let mut annotations = json!({REVISION: revision.to_string()});
    if let Some(c) = cause {
        annotations[CHANGE_CAUSE] = c.into();
    }
    json!({
        "metadata": {"name": format!("kubia-{revision}"), "annotations": annotations},
        "spec": {"template": {"metadata": {"labels": {"app": "kubia", HASH_LABEL: format!("h{revision}")}},
                              "spec": {"containers": [{"name": "nodejs", "image": image}]}}},
    })
}

#[test]
fn create_deployment_builds_what_kubectl_builds() {
    let cli = parse(&["create", "deployment", "kubia", "--image=luksa/kubia:v1", "--replicas=3", "--port=8080"]);
    let Command::Create(c) = cli.command else { panic!("not create") };
    let Some(CreateCommand::Deployment(a)) = c.what else { panic!("not create deployment") };
    let d = deployment_object(&a);
    assert_eq!(d["metadata"]["labels"], json!({"app": "kubia"}));
    assert_eq!(d["spec"]["replicas"], 3);
    assert_eq!(d["spec"]["selector"], json!({"matchLabels": {"app": "kubia"}}));
    let c = &d["spec"]["template"]["spec"]["containers"][0];
    assert_eq!((c["name"].as_str(), c["image"].as_str()), (Some("kubia"), Some("luksa/kubia:v1")));
    assert_eq!(c["ports"], json!([{"containerPort": 8080}]));
    assert!(Cli::try_parse_from(["kubectl", "create", "deployment", "kubia"]).is_err(), "--image is required");
    assert_eq!(container_name("registry:5000/team/my_app@sha256:abc"), "my-app");
}

#[test]
fn create_job_and_cronjob() {
    let job = job_object("batch-job", "luksa/batch-job", &[]);
    assert_eq!(job["spec"]["template"]["spec"]["restartPolicy"], "Never");
    let cli = parse(&["create", "cronjob", "every-15", "--image=luksa/batch-job", "--schedule=*/15 * * * *"]);
    let Command::Create(c) = cli.command else { panic!() };
    let Some(CreateCommand::Cronjob(a)) = c.what else { panic!() };
    let cj = cronjob_object(&a).unwrap();
    assert_eq!(cj["spec"]["schedule"], "*/15 * * * *");
    assert_eq!(cj["spec"]["jobTemplate"]["spec"]["template"]["spec"]["restartPolicy"], "OnFailure");
    let mut cj = cj;
    cj["metadata"]["uid"] = "u1".into();
    let manual = job_from_cronjob("manual-run", &cj);
    assert_eq!(manual["metadata"]["annotations"]["cronjob.kubernetes.io/instantiate"], "manual");
    assert_eq!(manual["metadata"]["ownerReferences"][0]["uid"], "u1");
    assert_eq!(manual["spec"], cj["spec"]["jobTemplate"]["spec"]);
}

#[test]
fn set_image_splits_resources_from_images() {
    let args: Vec<String> = ["deployment/kubia", "nodejs=luksa/kubia:v2"].iter().map(|s| s.to_string()).collect();
    let (resources, images) = split_image_args(&args).unwrap();
    assert_eq!(resources, ["deployment/kubia"]);
    assert_eq!(images, [("nodejs".to_string(), "luksa/kubia:v2".to_string())]);
    assert!(split_image_args(&["deployment/kubia".to_string()]).is_err());

    let mut d = json!({"kind": "Deployment", "spec": {"template": {"spec": {"containers": [
        {"name": "nodejs", "image": "luksa/kubia:v1"}, {"name": "sidecar", "image": "busybox"}]}}}});
    assert!(set_images(&mut d, &images).is_empty());
    assert_eq!(d["spec"]["template"]["spec"]["containers"][0]["image"], "luksa/kubia:v2");
    assert_eq!(set_images(&mut d, &[("web".into(), "x".into())]), ["web"]);
    set_images(&mut d, &[("*".into(), "all:1".into())]);
    assert_eq!(d["spec"]["template"]["spec"]["containers"][1]["image"], "all:1");
    // Only the images changed: no initContainers key appeared (it used to, as null).
    let template_spec = d["spec"]["template"]["spec"].as_object().unwrap();
    assert_eq!(template_spec.keys().collect::<Vec<_>>(), ["containers"]);
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
                   "spec": {"template": all[2]["spec"]["template"].clone()}});
    let back = rolled_back(&d, &all[0]);
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
