//! `kubectl apply -f`: create what is missing, otherwise patch the live object
//! with the three-way merge of last-applied, manifest and live state (see
//! [`crate::merge`]), printing `created`, `configured` or `unchanged`.

use super::shared::{manifest_targets, output_is_name};
use super::Ctx;
use crate::cli::FileArgs;
use crate::error::{Error, Result};
use crate::merge;
use crate::printers;
use client::PatchType;

pub async fn run(ctx: &mut Ctx, a: FileArgs) -> Result<()> {
    if a.filename.is_empty() {
        return Err(Error::msg("must specify one of -f and -k"));
    }
    let name_only = output_is_name(a.output.as_deref())?;
    let targets = manifest_targets(ctx, &a.filename, a.recursive)?;
    if targets.is_empty() {
        return Ok(());
    }
    let client = ctx.client().await?;
    for t in targets {
        let name = api::meta::name(&t.object).to_string();
        if name.is_empty() {
            ctx.report(&Error::msg(format!(
                "error when retrieving current configuration of \"{}\": resource name may not be empty",
                t.source
            )));
            continue;
        }
        let shown = printers::kind_name(t.info, &name);
        let say = |verb: &str| if name_only { shown.clone() } else { format!("{shown} {verb}") };
        let modified = merge::with_last_applied(&t.object);
        let live = match client.get(t.info, &t.namespace, &name).await {
            Ok(live) => live,
            Err(e) if e.is_not_found() => {
                match client.create(t.info, &t.namespace, &modified).await {
                    Ok(_) => ctx.println(&say("created")),
                    Err(e) => ctx.report_api(&e, Some(&format!("creating \"{}\"", t.source))),
                }
                continue;
            }
            Err(e) => {
                ctx.report_api(&e, Some(&format!("retrieving current configuration of \"{}\"", t.source)));
                continue;
            }
        };
        let original = merge::recorded(&live);
        if original.is_none() {
            ctx.warn(&format!(
                "Warning: resource {}/{name} is missing the {} annotation which is required by kubectl apply. \
                 kubectl apply should only be used on resources created declaratively by either kubectl create \
                 --save-config or kubectl apply. The missing annotation will be patched automatically.",
                t.info.group_resource(),
                merge::LAST_APPLIED
            ));
        }
        let patch = merge::three_way(original.as_ref(), &modified, &live);
        if merge::is_empty_patch(&patch) {
            ctx.println(&say("unchanged"));
            continue;
        }
        match client.patch(t.info, &t.namespace, &name, PatchType::Merge, &patch).await {
            Ok(_) => ctx.println(&say("configured")),
            Err(e) => ctx.report_api(&e, Some(&format!("applying patch to \"{}\"", t.source))),
        }
    }
    Ok(())
}
