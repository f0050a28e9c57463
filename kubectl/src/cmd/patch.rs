//! `kubectl patch`: a JSON, merge or strategic merge patch, from `-p` or a file.

use super::shared::{named_objects, output_is_name};
use super::Ctx;
use crate::cli::PatchArgs;
use crate::error::{Error, Result};
use crate::printers;
use client::PatchType;
use serde_json::Value;

pub fn parse_patch_type(t: &str) -> Result<PatchType> {
    match t {
        "merge" => Ok(PatchType::Merge),
        "json" => Ok(PatchType::Json),
        "strategic" => Ok(PatchType::StrategicMerge),
        other => Err(Error::msg(format!("--type must be one of [json merge strategic], not \"{other}\""))),
    }
}

pub async fn run(ctx: &mut Ctx, a: PatchArgs) -> Result<()> {
    let patch_type = parse_patch_type(&a.patch_type)?;
    let text = match (&a.patch, &a.patch_file) {
        (Some(p), None) => p.clone(),
        (None, Some(f)) => {
            std::fs::read_to_string(f).map_err(|e| Error::msg(format!("unable to read patch file: {e}")))?
        }
        (Some(_), Some(_)) => return Err(Error::msg("--patch and --patch-file are mutually exclusive")),
        (None, None) => {
            return Err(Error::msg("must specify --patch or --patch-file containing the contents of the patch"))
        }
    };
    let body: Value = match serde_json::from_str(&text) {
        Ok(v) => v,
        Err(_) => {
            api::codec::yaml::document(&text).map_err(|e| Error::msg(format!("unable to parse \"{text}\": {e}")))?
        }
    };
    let name_only = output_is_name(a.output.as_deref())?;
    let found = named_objects(ctx, &a.args, &a.filename, None, false).await?;
    let client = ctx.client().await?;
    for f in found {
        for obj in f.objects {
            let name = api::meta::name(&obj).to_string();
            let ns = api::meta::namespace(&obj).to_string();
            match client.patch(f.info, &ns, &name, patch_type, &body).await {
                Ok(after) => {
                    let shown = printers::kind_name(f.info, &name);
                    let unchanged = api::meta::resource_version(&after) == api::meta::resource_version(&obj);
                    ctx.println(&match (name_only, unchanged) {
                        (true, _) => shown,
                        (false, true) => format!("{shown} patched (no change)"),
                        (false, false) => format!("{shown} patched"),
                    });
                }
                Err(e) => ctx.report_api(&e, None),
            }
        }
    }
    Ok(())
}
