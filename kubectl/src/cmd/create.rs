//! `kubectl create -f` and `kubectl create namespace`, plus the shared step of
//! turning `-f` manifests into (resource, namespace, object) targets.

use super::{Ctx, Found};
use crate::cli::{CreateArgs, CreateCommand};
use crate::error::{Error, Result};
use crate::manifest;
use crate::printers;
use api::ResourceInfo;
use serde_json::{json, Value};

/// One object from a manifest, resolved and placed in its namespace.
pub struct Target {
    pub info: &'static ResourceInfo,
    pub namespace: String,
    pub object: Value,
    pub source: String,
}

/// Loads `-f` manifests and resolves each object; unresolvable ones are reported and skipped.
pub fn manifest_targets(ctx: &mut Ctx, files: &[String], recursive: bool) -> Result<Vec<Target>> {
    let mut targets = Vec::new();
    for m in manifest::load(files, recursive)? {
        let info = match manifest::resolve(&m) {
            Ok(info) => info,
            Err(e) => {
                ctx.report(&e);
                continue;
            }
        };
        let namespace = match manifest::namespace_for(info, &m.object, &ctx.target.namespace, ctx.explicit_namespace) {
            Ok(ns) => ns,
            Err(e) => {
                ctx.report(&e);
                continue;
            }
        };
        let mut object = m.object;
        if info.namespaced {
            api::meta::set_meta(&mut object, "namespace", namespace.clone());
        }
        targets.push(Target { info, namespace, object, source: m.source });
    }
    Ok(targets)
}

/// The live objects named by `-f` manifests, grouped by kind in file order.
pub async fn fetch_manifest_objects(ctx: &mut Ctx, files: &[String], recursive: bool) -> Result<Vec<Found>> {
    let targets = manifest_targets(ctx, files, recursive)?;
    let client = ctx.client().await?;
    let mut found: Vec<Found> = Vec::new();
    for t in targets {
        match client.get(t.info, &t.namespace, api::meta::name(&t.object)).await {
            Ok(obj) => {
                let obj = printers::with_type_meta(t.info, obj);
                match found.last_mut() {
                    Some(f) if f.info == t.info => f.objects.push(obj),
                    _ => found.push(Found { info: t.info, objects: vec![obj] }),
                }
            }
            Err(e) if e.is_not_found() => ctx.report_api(&e, None),
            Err(e) => return Err(e.into()),
        }
    }
    Ok(found)
}

pub async fn run(ctx: &mut Ctx, a: CreateArgs) -> Result<()> {
    match a.what {
        Some(CreateCommand::Namespace { name }) => return create_namespace(ctx, &name).await,
        Some(CreateCommand::Deployment(d)) => return super::rollout::create_deployment(ctx, d).await,
        Some(CreateCommand::Job(j)) => return super::rollout::create_job(ctx, j).await,
        Some(CreateCommand::Cronjob(c)) => return super::rollout::create_cronjob(ctx, c).await,
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

/// `-o name` is the only output mode mutating commands support here.
pub fn output_is_name(output: Option<&str>) -> Result<bool> {
    match output {
        None | Some("") => Ok(false),
        Some("name") => Ok(true),
        Some(other) => Err(Error::msg(format!(
            "unable to match a printer suitable for the output format \"{other}\", allowed formats are: name"
        ))),
    }
}

async fn create_namespace(ctx: &mut Ctx, name: &str) -> Result<()> {
    let info = api::registry::lookup("namespaces").expect("namespaces are registered");
    let obj = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}});
    let client = ctx.client().await?;
    client.create(info, "", &obj).await?;
    ctx.println(&format!("namespace/{name} created"));
    Ok(())
}
