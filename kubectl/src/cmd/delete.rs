//! `kubectl delete`: by name, `TYPE/NAME`, `-f`, `-l` or `--all`, with the
//! cascade and grace-period options, then waiting (by watching) until the
//! objects are gone.

use super::shared::{manifest_targets, output_is_name};
use super::{Ctx, Query};
use crate::cli::DeleteArgs;
use crate::error::{Error, Result};
use crate::printers;
use crate::resource;
use api::ResourceInfo;
use client::{Client, DeleteParams, ListParams};
use futures::StreamExt;
use std::time::Duration;

/// One object to delete.
struct Victim {
    info: &'static ResourceInfo,
    namespace: String,
    name: String,
}

/// `--cascade` to a propagation policy; `false`/`true` are the deprecated spellings.
pub fn propagation(cascade: Option<&str>) -> Result<(String, Option<String>)> {
    let deprecated = |v: &str, by: &str| {
        Some(format!("warning: --cascade={v} is deprecated (boolean value) and can be replaced with --cascade={by}."))
    };
    match cascade.unwrap_or("background") {
        "background" => Ok(("Background".into(), None)),
        "true" => Ok(("Background".into(), deprecated("true", "background"))),
        "foreground" => Ok(("Foreground".into(), None)),
        "orphan" => Ok(("Orphan".into(), None)),
        "false" => Ok(("Orphan".into(), deprecated("false", "orphan"))),
        other => Err(Error::msg(format!(
            "invalid cascade value ({other}). Must be \"background\", \"foreground\", or \"orphan\"."
        ))),
    }
}

/// The grace period to send: `--now` is 1s; 0 without `--force` becomes 1s, as in kubectl.
pub fn grace_period(grace: i64, now: bool, force: bool) -> Result<Option<i64>> {
    if now {
        if grace >= 0 {
            return Err(Error::msg("--now and --grace-period cannot be specified together"));
        }
        return Ok(Some(1));
    }
    Ok(match (grace, force) {
        (g, true) if g < 0 => Some(0),
        (0, false) => Some(1),
        (g, _) if g < 0 => None,
        (g, _) => Some(g),
    })
}

/// What each deletion line says: kubectl's `force deleted` when the
/// grace period sent is 0 (`--grace-period=0 --force`, or `--force` alone).
fn operation(grace: Option<i64>) -> &'static str {
    if grace == Some(0) {
        "force deleted"
    } else {
        "deleted"
    }
}

pub async fn run(ctx: &mut Ctx, a: DeleteArgs) -> Result<()> {
    let (policy, warning) = propagation(a.cascade.as_deref())?;
    let grace = grace_period(a.grace_period, a.now, a.force)?;
    let timeout = api::duration::parse(&a.timeout)
        .map_err(|e| Error::msg(format!("invalid argument \"{}\" for \"--timeout\" flag: {e}", a.timeout)))?;
    let name_only = output_is_name(a.output.as_deref())?;
    if let Some(w) = warning {
        ctx.warn(&w);
    }
    if a.force && grace == Some(0) {
        ctx.warn(
            "Warning: Immediate deletion does not wait for confirmation that the running resource has been \
             terminated. The resource may continue to run on the cluster indefinitely.",
        );
    }
    let victims = victims(ctx, &a).await?;
    if victims.is_empty() {
        if !ctx.failed {
            ctx.println("No resources found");
        }
        return Ok(());
    }
    let client = ctx.client().await?;
    let params = DeleteParams { propagation_policy: policy, grace_period_seconds: grace, ..Default::default() };
    let mut deleted = Vec::new();
    for v in victims {
        match client.delete(v.info, &v.namespace, &v.name, &params).await {
            Ok(last) => {
                let kind = printers::qualified_singular(v.info);
                ctx.println(&if name_only {
                    format!("{kind}/{}", v.name)
                } else {
                    format!("{kind} \"{}\" {}", v.name, operation(grace))
                });
                deleted.push((v, api::meta::uid(&last).to_string()));
            }
            Err(e) if e.is_not_found() && a.ignore_not_found => {}
            Err(e) => ctx.report_api(&e, None),
        }
    }
    if a.wait && grace != Some(0) {
        for (v, uid) in deleted {
            let wait = wait_gone(&client, v.info, &v.namespace, &v.name, &uid);
            let outcome = if timeout.is_zero() { Ok(wait.await) } else { tokio::time::timeout(timeout, wait).await };
            match outcome {
                Ok(Ok(())) => {}
                Ok(Err(e)) => ctx.report(&e),
                Err(_) => ctx.report(&Error::msg(format!(
                    "timed out waiting for the condition on {}/{}",
                    v.info.group_resource(),
                    v.name
                ))),
            }
        }
    }
    Ok(())
}

async fn victims(ctx: &mut Ctx, a: &DeleteArgs) -> Result<Vec<Victim>> {
    if !a.filename.is_empty() {
        let targets = manifest_targets(ctx, &a.filename, a.recursive)?;
        return Ok(targets
            .into_iter()
            .map(|t| Victim { info: t.info, namespace: t.namespace, name: api::meta::name(&t.object).to_string() })
            .collect());
    }
    let selections = resource::parse_args(&a.args)?;
    super::check_selection(&selections, a.selector.as_deref(), a.all)?;
    let selecting = a.all || a.selector.is_some() || a.field_selector.is_some();
    let mut out = Vec::new();
    for sel in &selections {
        if sel.names.is_empty() {
            if !selecting {
                return Err(Error::msg("resource(s) were provided, but no name was specified"));
            }
            continue;
        }
        for name in &sel.names {
            out.push(Victim { info: sel.info, namespace: ctx.ns(sel.info), name: name.clone() });
        }
    }
    let listed: Vec<_> = selections.iter().filter(|s| s.names.is_empty()).cloned().collect();
    if !listed.is_empty() {
        let query = Query {
            label_selector: a.selector.clone().unwrap_or_default(),
            field_selector: a.field_selector.clone().unwrap_or_default(),
            all_namespaces: a.all_namespaces,
        };
        for f in super::fetch(ctx, &listed, &query, false).await? {
            for obj in f.objects {
                out.push(Victim {
                    info: f.info,
                    namespace: api::meta::namespace(&obj).to_string(),
                    name: api::meta::name(&obj).to_string(),
                });
            }
        }
    }
    Ok(out)
}

/// Returns once the object (this incarnation of it, by uid) no longer exists.
async fn wait_gone(client: &Client, info: &ResourceInfo, ns: &str, name: &str, uid: &str) -> Result<()> {
    loop {
        let live = match client.get(info, ns, name).await {
            Ok(obj) => obj,
            Err(e) if e.is_not_found() => return Ok(()),
            Err(e) => return Err(e.into()),
        };
        if !uid.is_empty() && api::meta::uid(&live) != uid {
            return Ok(());
        }
        let rv = api::meta::resource_version(&live).to_string();
        let mut stream = match client.watch(info, ns, &ListParams::default(), &rv).await {
            Ok(s) => s,
            Err(_) => {
                tokio::time::sleep(Duration::from_millis(500)).await;
                continue;
            }
        };
        while let Some(event) = stream.next().await {
            let Ok(event) = event else { break };
            if event.kind == "DELETED" && api::meta::name(&event.object) == name {
                return Ok(());
            }
        }
        // The watch ended (expired, or the server closed it): look again.
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cascade_values() {
        assert_eq!(propagation(None).unwrap(), ("Background".to_string(), None));
        assert_eq!(propagation(Some("orphan")).unwrap().0, "Orphan");
        let (p, w) = propagation(Some("false")).unwrap();
        assert_eq!(p, "Orphan");
        assert_eq!(
            w.unwrap(),
            "warning: --cascade=false is deprecated (boolean value) and can be replaced with --cascade=orphan."
        );
        assert_eq!(
            propagation(Some("maybe")).unwrap_err().to_string(),
            "error: invalid cascade value (maybe). Must be \"background\", \"foreground\", or \"orphan\"."
        );
    }

    #[test]
    fn grace_periods() {
        assert_eq!(grace_period(-1, false, false).unwrap(), None);
        assert_eq!(grace_period(-1, true, false).unwrap(), Some(1));
        assert_eq!(grace_period(0, false, false).unwrap(), Some(1));
        assert_eq!(grace_period(0, false, true).unwrap(), Some(0));
        assert_eq!(grace_period(-1, false, true).unwrap(), Some(0));
        assert_eq!(grace_period(30, false, false).unwrap(), Some(30));
        assert!(grace_period(5, true, false).is_err());
    }

    #[test]
    fn a_zero_grace_period_is_a_force_deletion() {
        assert_eq!(operation(grace_period(0, false, true).unwrap()), "force deleted");
        assert_eq!(operation(grace_period(-1, false, true).unwrap()), "force deleted");
        // Without --force, 0 becomes 1: an ordinary deletion.
        assert_eq!(operation(grace_period(0, false, false).unwrap()), "deleted");
        assert_eq!(operation(grace_period(-1, false, false).unwrap()), "deleted");
        assert_eq!(operation(grace_period(-1, true, false).unwrap()), "deleted");
    }
}
