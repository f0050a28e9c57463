//! `kubectl create -f` and its subcommands: `create namespace|deployment|job|cronjob|configmap|secret`,
//! one module each.

pub mod config;
pub mod cronjob;
pub mod deployment;
pub mod job;
pub mod namespace;

use super::shared::{manifest_targets, output_is_name};
use super::Ctx;
use crate::cli::{CreateArgs, CreateCommand};
use crate::error::{Error, Result};
use crate::printers;

pub async fn run(ctx: &mut Ctx, a: CreateArgs) -> Result<()> {
    match a.what {
        Some(CreateCommand::Namespace { name }) => return namespace::run(ctx, &name).await,
        Some(CreateCommand::Deployment(d)) => return deployment::run(ctx, d).await,
        Some(CreateCommand::Job(j)) => return job::run(ctx, j).await,
        Some(CreateCommand::Cronjob(c)) => return cronjob::run(ctx, c).await,
        Some(CreateCommand::Configmap(c)) => return config::run_config_map(ctx, c).await,
        Some(CreateCommand::Secret { what }) => return config::run_secret(ctx, what).await,
        None => {}
    }
    if a.files.filename.is_empty() {
        return Err(Error::msg("must specify one of -f and -k"));
    }
    let name_only = output_is_name(a.files.output.as_deref())?;
    let targets = manifest_targets(ctx, &a.files.filename, a.files.recursive)?;
    if targets.is_empty() {
        return Ok(());
    }
    let client = ctx.client().await?;
    for t in targets {
        let object = if a.save_config { crate::merge::with_last_applied(&t.object) } else { t.object };
        match client.create(t.info, &t.namespace, &object).await {
            Ok(created) => {
                let name = printers::kind_name(t.info, api::meta::name(&created));
                ctx.println(&if name_only { name } else { format!("{name} created") });
            }
            Err(e) => ctx.report_api(&e, Some(&format!("creating \"{}\"", t.source))),
        }
    }
    Ok(())
}
