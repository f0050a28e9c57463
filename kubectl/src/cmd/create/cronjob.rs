//! `kubectl create cronjob NAME --image=... --schedule=...`.

use super::job::job_spec;
use crate::cli::CreateCronJobArgs;
use crate::cmd::shared::create_object;
use crate::cmd::Ctx;
use crate::error::{Error, Result};
use api::k8s_openapi::api::batch::v1::{CronJob, CronJobSpec, JobTemplateSpec};
use api::k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde_json::Value;

/// The CronJob `kubectl create cronjob` makes.
pub fn cronjob_object(a: &CreateCronJobArgs) -> Result<Value> {
    if !matches!(a.restart.as_str(), "OnFailure" | "Never") {
        return Err(Error::msg(format!("restart policy must be OnFailure or Never, got {:?}", a.restart)));
    }
    let name = || ObjectMeta { name: Some(a.name.clone()), ..Default::default() };
    let cronjob = CronJob {
        metadata: name(),
        spec: Some(CronJobSpec {
            schedule: a.schedule.clone(),
            job_template: JobTemplateSpec {
                metadata: Some(name()),
                spec: Some(job_spec(&a.name, &a.image, &a.command, &a.restart)),
            },
            ..Default::default()
        }),
        status: Some(Default::default()),
    };
    Ok(serde_json::to_value(&cronjob).expect("a CronJob serializes"))
}

pub async fn run(ctx: &mut Ctx, a: CreateCronJobArgs) -> Result<()> {
    let obj = cronjob_object(&a)?;
    create_object(ctx, obj, &a.dry_run, a.output.as_deref()).await
}

#[cfg(test)]
mod tests {
    use super::super::job::{job_from_cronjob, job_object};
    use super::*;
    use crate::cli::{parse_args as parse, Command, CreateCommand};

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
        let manual = job_from_cronjob("manual-run", &crate::typed::decode(&cj).unwrap());
        assert_eq!(manual["metadata"]["annotations"]["cronjob.kubernetes.io/instantiate"], "manual");
        assert_eq!(manual["metadata"]["ownerReferences"][0]["uid"], "u1");
        assert_eq!(manual["spec"], cj["spec"]["jobTemplate"]["spec"]);
    }
}
