//! `kubectl replace -f`: each object replaced by the file's version.

use super::shared::{manifest_targets, output_is_name};
use super::Ctx;
use crate::cli::FileArgs;
use crate::error::{Error, Result};
use crate::printers;

/// Replaces each object with the file's version, carrying over the live resourceVersion.
pub async fn run(ctx: &mut Ctx, a: FileArgs) -> Result<()> {
    if a.filename.is_empty() {
        return Err(Error::msg("must specify --filename to replace"));
    }
    let name_only = output_is_name(a.output.as_deref())?;
    let targets = manifest_targets(ctx, &a.filename, a.recursive)?;
    if targets.is_empty() {
        return Ok(());
    }
    let client = ctx.client().await?;
    for t in targets {
        let name = api::meta::name(&t.object).to_string();
        let mut object = t.object;
        if api::meta::resource_version(&object).is_empty() {
            match client.get(t.info, &t.namespace, &name).await {
                Ok(live) => {
                    let rv = api::meta::resource_version(&live).to_string();
                    api::meta::set_meta(&mut object, "resourceVersion", rv);
                }
                Err(e) => {
                    ctx.report_api(&e, Some(&format!("replacing \"{}\"", t.source)));
                    continue;
                }
            }
        }
        match client.update(t.info, &t.namespace, &object).await {
            Ok(_) => {
                let shown = printers::kind_name(t.info, &name);
                ctx.println(&if name_only { shown } else { format!("{shown} replaced") });
            }
            Err(e) => ctx.report_api(&e, Some(&format!("replacing \"{}\"", t.source))),
        }
    }
    Ok(())
}
