//! `kubectl create job NAME --image=...|--from=cronjob/NAME`.

use crate::cli::CreateJobArgs;
use crate::cmd::shared::create_object;
use crate::cmd::Ctx;
use crate::error::{Error, Result};
use api::meta;
use serde_json::{json, Map, Value};

pub fn job_template(name: &str, image: &str, command: &[String], restart: &str) -> Value {
    let mut container = json!({"name": name, "image": image, "resources": {}});
    if !command.is_empty() {
        container["command"] = json!(command);
    }
    json!({"template": {"metadata": {}, "spec": {"containers": [container], "restartPolicy": restart}}})
}

/// The Job `kubectl create job NAME --image` makes (restartPolicy Never).
pub fn job_object(name: &str, image: &str, command: &[String]) -> Value {
    json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": name},
           "spec": job_template(name, image, command, "Never"), "status": {}})
}

/// A Job from a CronJob's template, as `create job --from=cronjob/NAME`: owned by
/// the CronJob and marked as started by hand.
pub fn job_from_cronjob(name: &str, cronjob: &Value) -> Value {
    let template = &cronjob["spec"]["jobTemplate"];
    let mut annotations: Map<String, Value> =
        template["metadata"]["annotations"].as_object().cloned().unwrap_or_default();
    annotations.insert("cronjob.kubernetes.io/instantiate".into(), "manual".into());
    let mut metadata = json!({
        "name": name,
        "annotations": annotations,
        "ownerReferences": [{"apiVersion": "batch/v1", "kind": "CronJob", "name": meta::name(cronjob),
                             "uid": meta::uid(cronjob), "controller": true}],
    });
    if let Some(labels) = template["metadata"].get("labels") {
        metadata["labels"] = labels.clone();
    }
    json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": metadata, "spec": template["spec"]})
}

pub async fn run(ctx: &mut Ctx, a: CreateJobArgs) -> Result<()> {
    let obj = match (&a.image, &a.from) {
        (Some(_), Some(_)) => return Err(Error::msg("either --image or --from must be specified")),
        (None, None) => return Err(Error::msg("either --image or --from must be specified")),
        (Some(image), None) => job_object(&a.name, image, &a.command),
        (None, Some(from)) => {
            if !a.command.is_empty() {
                return Err(Error::msg("cannot specify --from and command"));
            }
            let name = match from.split_once('/') {
                Some(("cronjob" | "cronjobs" | "cj" | "cronjob.batch", name)) => name,
                _ => return Err(Error::msg(format!("from must be an existing cronjob: {from}"))),
            };
            let cronjobs = api::registry::lookup("cronjobs").expect("cronjobs are registered");
            let ns = ctx.ns(cronjobs);
            let client = ctx.client().await?;
            let cronjob = client.get(cronjobs, &ns, name).await?;
            job_from_cronjob(&a.name, &cronjob)
        }
    };
    create_object(ctx, obj, &a.dry_run, a.output.as_deref()).await
}
