//! `kubectl replace -f`, `kubectl patch` and `kubectl scale`.

use super::create::{manifest_targets, output_is_name};
use super::{Ctx, Found, Query};
use crate::cli::{FileArgs, PatchArgs, ScaleArgs};
use crate::error::{Error, Result};
use crate::printers;
use crate::resource;
use client::PatchType;
use serde_json::{json, Value};

/// Replaces each object with the file's version, carrying over the live resourceVersion.
pub async fn replace(ctx: &mut Ctx, a: FileArgs) -> Result<()> {
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

/// Named objects for patch and scale: `TYPE NAME...`, `TYPE/NAME`, `-f`, or `-l`/`--all`.
async fn targets(
    ctx: &mut Ctx,
    args: &[String],
    files: &[String],
    selector: Option<&str>,
    all: bool,
) -> Result<Vec<Found>> {
    if !files.is_empty() {
        return super::create::fetch_manifest_objects(ctx, files, false).await;
    }
    let selections = resource::parse_args(args)?;
    super::check_selection(&selections, selector, all)?;
    let listing = selections.iter().any(|s| s.names.is_empty());
    if listing && selector.is_none() && !all {
        return Err(Error::msg("resource(s) were provided, but no name was specified"));
    }
    let query = Query { label_selector: selector.unwrap_or_default().to_string(), ..Default::default() };
    super::fetch(ctx, &selections, &query, false).await
}

pub fn parse_patch_type(t: &str) -> Result<PatchType> {
    match t {
        "merge" => Ok(PatchType::Merge),
        "json" => Ok(PatchType::Json),
        "strategic" => Ok(PatchType::StrategicMerge),
        other => Err(Error::msg(format!("--type must be one of [json merge strategic], not \"{other}\""))),
    }
}

pub async fn patch(ctx: &mut Ctx, a: PatchArgs) -> Result<()> {
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
        Err(_) => serde_yaml::from_str(&text).map_err(|e| Error::msg(format!("unable to parse \"{text}\": {e}")))?,
    };
    let name_only = output_is_name(a.output.as_deref())?;
    let found = targets(ctx, &a.args, &a.filename, None, false).await?;
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

pub async fn scale(ctx: &mut Ctx, a: ScaleArgs) -> Result<()> {
    if a.replicas < 0 {
        return Err(Error::msg("The --replicas=COUNT flag is required, and COUNT must be greater than or equal to 0"));
    }
    let found = targets(ctx, &a.args, &a.filename, a.selector.as_deref(), a.all).await?;
    let client = ctx.client().await?;
    for f in found {
        if !matches!(f.info.kind, "ReplicationController" | "ReplicaSet" | "Deployment" | "StatefulSet" | "Job") {
            ctx.report(&Error::msg(format!("cannot scale a {}: no scale subresource", f.info.kind)));
            continue;
        }
        for obj in f.objects {
            let name = api::meta::name(&obj).to_string();
            let ns = api::meta::namespace(&obj).to_string();
            let field = if f.info.kind == "Job" { "parallelism" } else { "replicas" };
            let current = obj.pointer(&format!("/spec/{field}")).and_then(Value::as_i64).unwrap_or(1);
            if a.current_replicas >= 0 && a.current_replicas != current {
                ctx.report(&Error::msg(format!("Expected replicas to be {}, was {current}", a.current_replicas)));
                continue;
            }
            let body = json!({"spec": {field: a.replicas}});
            match client.patch(f.info, &ns, &name, PatchType::Merge, &body).await {
                Ok(_) => ctx.println(&format!("{} scaled", printers::kind_name(f.info, &name))),
                Err(e) => ctx.report_api(&e, None),
            }
        }
    }
    Ok(())
}
