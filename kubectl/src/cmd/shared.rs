//! What several commands share, so that no command module imports another:
//! `--dry-run` and `-o` handling for the commands that create objects, label
//! lists as flags give them, the objects named by `-f` manifests or by
//! `TYPE NAME` arguments, and the ReplicaSets a Deployment owns.

use super::{Ctx, Found, Query};
use crate::error::{Error, Result};
use crate::manifest;
use crate::printers;
use crate::resource;
use crate::typed::decode_all;
use api::k8s_openapi::api::apps::v1::ReplicaSet;
use api::{meta, ResourceInfo};
use client::Client;
use serde_json::Value;
use std::collections::BTreeMap;

/// `--dry-run`'s strategies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DryRun {
    None,
    Client,
    Server,
}

/// Parses `--dry-run` as kubectl does (`true`/`false` are the deprecated spellings).
pub fn parse_dry_run(v: &str) -> Result<DryRun> {
    match v {
        "" | "none" | "false" => Ok(DryRun::None),
        "client" | "true" => Ok(DryRun::Client),
        "server" => Ok(DryRun::Server),
        other => {
            Err(Error::msg(format!("Invalid dry-run value ({other}). Must be \"none\", \"server\", or \"client\".")))
        }
    }
}

/// kubectl's `parseLabels` (run's `--labels`, expose's `--selector` and `--labels`):
/// `a=b,c=d`, each with exactly one `=` and a key.
pub fn parse_labels(s: &str) -> Result<BTreeMap<String, String>> {
    let mut map = BTreeMap::new();
    for spec in s.split(',') {
        let parts: Vec<&str> = spec.split('=').collect();
        if parts.len() != 2 {
            return Err(Error::msg(format!("unexpected label spec: {spec}")));
        }
        if parts[0].is_empty() {
            return Err(Error::msg("unexpected empty label key"));
        }
        map.insert(parts[0].to_string(), parts[1].to_string());
    }
    Ok(map)
}

/// Prints a created (or dry-run) object as `-o` asks: `pod/NAME created` by default.
pub fn print_created(ctx: &mut Ctx, obj: &Value, output: Option<&str>, dry_run: DryRun) -> Result<()> {
    let info = api::registry::lookup(api::meta::kind(obj)).expect("pods and services are registered");
    match output {
        None => {
            let suffix = match dry_run {
                DryRun::None => "",
                DryRun::Client => " (dry run)",
                DryRun::Server => " (server dry run)",
            };
            ctx.println(&format!("{} created{suffix}", printers::kind_name(info, api::meta::name(obj))));
        }
        Some("name") => ctx.println(&printers::kind_name(info, api::meta::name(obj))),
        Some("yaml") => ctx.print(&api::codec::to_yaml(obj)),
        Some("json") => ctx.print(&api::codec::to_json(obj)),
        Some(other) => {
            return Err(Error::msg(format!(
                "unable to match a printer suitable for the output format \"{other}\", allowed formats are: \
                 json,name,yaml"
            )))
        }
    }
    Ok(())
}

pub async fn create_object(ctx: &mut Ctx, obj: Value, dry_run: &str, output: Option<&str>) -> Result<()> {
    let dry_run = parse_dry_run(dry_run)?;
    if dry_run == DryRun::Server {
        return Err(Error::msg("--dry-run=server is not supported by kubelab's apiserver"));
    }
    let info = api::registry::lookup(meta::kind(&obj)).expect("workload kinds are registered");
    let shown = if dry_run == DryRun::Client {
        obj
    } else {
        let ns = ctx.ns(info);
        let client = ctx.client().await?;
        client.create(info, &ns, &obj).await?
    };
    print_created(ctx, &shown, output, dry_run)
}

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

/// Named objects for patch and scale: `TYPE NAME...`, `TYPE/NAME`, `-f`, or `-l`/`--all`.
pub async fn named_objects(
    ctx: &mut Ctx,
    args: &[String],
    files: &[String],
    selector: Option<&str>,
    all: bool,
) -> Result<Vec<Found>> {
    if !files.is_empty() {
        return fetch_manifest_objects(ctx, files, false).await;
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

/// The ReplicaSets a Deployment (of `namespace`, with `uid`) controls, by revision.
pub async fn owned_replica_sets(client: &Client, namespace: &str, uid: &str) -> Result<Vec<ReplicaSet>> {
    let rs_info = api::registry::lookup("replicasets").expect("replicasets are registered");
    let list = client.list(rs_info, namespace, &Default::default()).await?;
    let mut owned: Vec<ReplicaSet> = decode_all::<ReplicaSet>(&super::items(rs_info, list))
        .into_iter()
        .filter(|rs| api::pod::controller_of(&rs.metadata).is_some_and(|r| r.uid == uid))
        .collect();
    owned.sort_by_key(|rs| api::workload::revision(&rs.metadata));
    Ok(owned)
}
