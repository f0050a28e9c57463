//! `kubectl create job NAME --image=...|--from=cronjob/NAME`.

use crate::cli::CreateJobArgs;
use crate::cmd::shared::create_object;
use crate::cmd::Ctx;
use crate::error::{Error, Result};
use crate::typed::decode;
use api::k8s_openapi::api::batch::v1::{CronJob, Job, JobSpec};
use api::k8s_openapi::api::core::v1::{Container, PodSpec, PodTemplateSpec};
use api::k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use serde_json::Value;

/// The Job spec `create job` and `create cronjob` make: one container named
/// after the Job, with the empty `metadata` and `resources` kubectl's Go
/// structs print in a dry run.
pub fn job_spec(name: &str, image: &str, command: &[String], restart: &str) -> JobSpec {
    let container = Container {
        name: name.to_string(),
        image: Some(image.to_string()),
        resources: Some(Default::default()),
        command: (!command.is_empty()).then(|| command.to_vec()),
        ..Default::default()
    };
    JobSpec {
        template: PodTemplateSpec {
            metadata: Some(Default::default()),
            spec: Some(PodSpec {
                containers: vec![container],
                restart_policy: Some(restart.to_string()),
                ..Default::default()
            }),
        },
        ..Default::default()
    }
}

/// The Job `kubectl create job NAME --image` makes (restartPolicy Never).
pub fn job_object(name: &str, image: &str, command: &[String]) -> Value {
    let job = Job {
        metadata: ObjectMeta { name: Some(name.to_string()), ..Default::default() },
        spec: Some(job_spec(name, image, command, "Never")),
        status: Some(Default::default()),
    };
    serde_json::to_value(&job).expect("a Job serializes")
}

/// A Job from a CronJob's template, as `create job --from=cronjob/NAME`: owned by
/// the CronJob and marked as started by hand.
pub fn job_from_cronjob(name: &str, cronjob: &CronJob) -> Value {
    let template = cronjob.spec.as_ref().map(|s| s.job_template.clone()).unwrap_or_default();
    let template_meta = template.metadata.unwrap_or_default();
    let mut annotations = template_meta.annotations.unwrap_or_default();
    annotations.insert("cronjob.kubernetes.io/instantiate".into(), "manual".into());
    let owner = OwnerReference {
        api_version: "batch/v1".into(),
        kind: "CronJob".into(),
        name: cronjob.metadata.name.clone().unwrap_or_default(),
        uid: cronjob.metadata.uid.clone().unwrap_or_default(),
        controller: Some(true),
        ..Default::default()
    };
    let job = Job {
        metadata: ObjectMeta {
            name: Some(name.to_string()),
            annotations: Some(annotations),
            owner_references: Some(vec![owner]),
            labels: template_meta.labels,
            ..Default::default()
        },
        spec: template.spec,
        status: None,
    };
    serde_json::to_value(&job).expect("a Job serializes")
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
            let cronjob = decode(&client.get(cronjobs, &ns, name).await?)
                .map_err(|e| Error::msg(format!("unreadable CronJob {name}: {e}")))?;
            job_from_cronjob(&a.name, &cronjob)
        }
    };
    create_object(ctx, obj, &a.dry_run, a.output.as_deref()).await
}
