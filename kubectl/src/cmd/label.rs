//! `kubectl label` and `kubectl annotate`: compute the new map, refuse silent
//! overwrites, and send a merge patch of just the changed keys.

use super::{Ctx, Found, Query};
use crate::cli::LabelArgs;
use crate::error::{Error, Result};
use crate::printers;
use crate::resource::{self, Changes};
use client::PatchType;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Kind {
    Label,
    Annotation,
}

impl Kind {
    fn word(self) -> &'static str {
        match self {
            Kind::Label => "label",
            Kind::Annotation => "annotation",
        }
    }
    fn field(self) -> &'static str {
        match self {
            Kind::Label => "labels",
            Kind::Annotation => "annotations",
        }
    }
}

/// The merge patch that turns `old` into `new` under `metadata.<field>`.
pub fn patch_for(
    kind: Kind,
    old: &BTreeMap<String, String>,
    new: &BTreeMap<String, String>,
    rv: Option<&str>,
) -> Value {
    let mut changes = Map::new();
    for k in old.keys().filter(|k| !new.contains_key(*k)) {
        changes.insert(k.clone(), Value::Null);
    }
    for (k, v) in new.iter().filter(|(k, v)| old.get(*k) != Some(*v)) {
        changes.insert(k.clone(), Value::String(v.clone()));
    }
    let mut meta = json!({ kind.field(): changes });
    if let Some(rv) = rv {
        meta["resourceVersion"] = Value::String(rv.to_string());
    }
    json!({ "metadata": meta })
}

/// What kubectl says happened: `labeled`, `unlabeled`, `not labeled`, or `annotated`.
pub fn change_message(
    kind: Kind,
    old: &BTreeMap<String, String>,
    new: &BTreeMap<String, String>,
    overwrite: bool,
) -> &'static str {
    match kind {
        Kind::Annotation => "annotated",
        Kind::Label if old == new => "not labeled",
        Kind::Label => {
            let len = |m: &BTreeMap<String, String>| serde_json::to_string(m).map(|s| s.len()).unwrap_or(0);
            if !overwrite && len(new) < len(old) {
                "unlabeled"
            } else {
                "labeled"
            }
        }
    }
}

pub async fn run(ctx: &mut Ctx, a: LabelArgs, kind: Kind) -> Result<()> {
    let (resource_args, change_args) = resource::split_changes(&a.args);
    let changes: Changes = resource::parse_changes(&change_args, kind.word())?;
    let found: Vec<Found> = if !a.filename.is_empty() {
        super::shared::fetch_manifest_objects(ctx, &a.filename, false).await?
    } else {
        let selections = resource::parse_args(&resource_args)?;
        super::check_selection(&selections, a.selector.as_deref(), a.all)?;
        if selections.iter().any(|s| s.names.is_empty()) && a.selector.is_none() && !a.all {
            return Err(Error::msg("resource(s) were provided, but no name was specified"));
        }
        let query = Query {
            label_selector: a.selector.clone().unwrap_or_default(),
            all_namespaces: a.all_namespaces,
            ..Default::default()
        };
        super::fetch(ctx, &selections, &query, false).await?
    };
    if found.iter().all(|f| f.objects.is_empty()) && !ctx.failed {
        ctx.warn("No resources found");
        return Ok(());
    }
    let client = ctx.client().await?;
    for f in found {
        for obj in f.objects {
            let name = api::meta::name(&obj).to_string();
            let ns = api::meta::namespace(&obj).to_string();
            let old = api::meta::string_map(&obj, kind.field());
            let new = match resource::apply_changes(&old, &changes, a.overwrite, kind.word()) {
                Ok(n) => n,
                Err(e) => {
                    ctx.report(&e);
                    continue;
                }
            };
            let shown = printers::kind_name(f.info, &name);
            let message = change_message(kind, &old, &new, a.overwrite);
            if old != new {
                let patch = patch_for(kind, &old, &new, a.resource_version.as_deref());
                if let Err(e) = client.patch(f.info, &ns, &name, PatchType::Merge, &patch).await {
                    ctx.report_api(&e, None);
                    continue;
                }
            }
            ctx.println(&format!("{shown} {message}"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn patches_carry_only_changed_keys() {
        let old = map(&[("app", "kubia"), ("env", "prod"), ("keep", "x")]);
        let new = map(&[("app", "kubia-dev"), ("keep", "x"), ("creation_method", "manual")]);
        assert_eq!(
            patch_for(Kind::Label, &old, &new, None),
            json!({"metadata": {"labels": {"app": "kubia-dev", "env": null, "creation_method": "manual"}}})
        );
        assert_eq!(
            patch_for(Kind::Annotation, &map(&[]), &map(&[("mycompany.com/someannotation", "foo bar")]), Some("7")),
            json!({"metadata": {"annotations": {"mycompany.com/someannotation": "foo bar"}, "resourceVersion": "7"}})
        );
    }

    #[test]
    fn messages_match_kubectl() {
        let old = map(&[("env", "prod")]);
        assert_eq!(change_message(Kind::Label, &old, &old, false), "not labeled");
        assert_eq!(change_message(Kind::Label, &old, &map(&[("env", "debug")]), true), "labeled");
        assert_eq!(change_message(Kind::Label, &old, &map(&[]), false), "unlabeled");
        assert_eq!(change_message(Kind::Label, &map(&[]), &old, false), "labeled");
        assert_eq!(change_message(Kind::Annotation, &old, &old, false), "annotated");
    }
}
