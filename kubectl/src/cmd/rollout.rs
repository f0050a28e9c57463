//! `kubectl rollout status|history|undo|pause|resume|restart`, with kubectl's
//! messages. Rollback is client-side, as modern kubectl does it: the template
//! of the target revision's ReplicaSet is written back into the Deployment.

use super::describe::workloads::pod_template_text;
use super::shared::{owned_replica_sets, revision_of, without_hash};
use super::Ctx;
use crate::cli::{RolloutCommand, RolloutHistoryArgs, RolloutStatusArgs, RolloutTargetArgs, RolloutUndoArgs};
use crate::error::{Error, Result};
use crate::printers;
use crate::resource;
use api::workload::{CHANGE_CAUSE, REVISION};
use api::{meta, ResourceInfo};
use client::PatchType;
use serde_json::{json, Map, Value};
use std::time::Duration;

/// Annotations a rollback does not copy from the ReplicaSet to the Deployment.
const NOT_COPIED: &[&str] = &[
    "kubectl.kubernetes.io/last-applied-configuration",
    REVISION,
    "deployment.kubernetes.io/revision-history",
    "deployment.kubernetes.io/desired-replicas",
    "deployment.kubernetes.io/max-replicas",
    "deprecated.deployment.rollback.to",
];

pub async fn run(ctx: &mut Ctx, cmd: RolloutCommand) -> Result<()> {
    match cmd {
        RolloutCommand::Status(a) => status(ctx, a).await,
        RolloutCommand::History(a) => history(ctx, a).await,
        RolloutCommand::Undo(a) => undo(ctx, a).await,
        RolloutCommand::Pause(a) => pause(ctx, a, true).await,
        RolloutCommand::Resume(a) => pause(ctx, a, false).await,
        RolloutCommand::Restart(a) => restart(ctx, a).await,
    }
}

/// The one object a rollout command names, checked to be of a kind it supports.
async fn target(ctx: &mut Ctx, args: &[String], kinds: &[&str]) -> Result<(&'static ResourceInfo, Value)> {
    let selections = resource::parse_args(args)?;
    let sel = match selections.as_slice() {
        [sel] if sel.names.len() == 1 => sel,
        [] => return Err(Error::msg("required resource not specified")),
        _ => return Err(Error::msg("exactly one resource must be specified (TYPE/NAME)")),
    };
    if !kinds.contains(&sel.info.kind) {
        return Err(Error::msg(format!("no rollout handler found for {}", printers::qualified_singular(sel.info))));
    }
    let ns = ctx.ns(sel.info);
    let client = ctx.client().await?;
    let obj = client.get(sel.info, &ns, &sel.names[0]).await?;
    Ok((sel.info, obj))
}

fn int(v: &Value, path: &str) -> i64 {
    v.pointer(path).and_then(Value::as_i64).unwrap_or(0)
}

/// kubectl's status viewers: the line to print and whether the rollout is done.
pub fn rollout_status(obj: &Value) -> Result<(String, bool)> {
    let name = meta::name(obj);
    let observed = int(obj, "/status/observedGeneration") >= int(obj, "/metadata/generation");
    match meta::kind(obj) {
        "Deployment" => {
            if !observed {
                return Ok(("Waiting for deployment spec update to be observed...".into(), false));
            }
            let conditions = obj.pointer("/status/conditions").and_then(Value::as_array);
            let progressing = conditions.into_iter().flatten().find(|c| c["type"] == "Progressing");
            if progressing.is_some_and(|c| c["reason"] == "ProgressDeadlineExceeded") {
                return Err(Error::msg(format!("deployment \"{name}\" exceeded its progress deadline")));
            }
            let replicas = obj.pointer("/spec/replicas").and_then(Value::as_i64).unwrap_or(1);
            let updated = int(obj, "/status/updatedReplicas");
            let (total, available) = (int(obj, "/status/replicas"), int(obj, "/status/availableReplicas"));
            if updated < replicas {
                let m = format!(
                    "Waiting for deployment \"{name}\" rollout to finish: {updated} out of {replicas} new replicas have been updated..."
                );
                return Ok((m, false));
            }
            if total > updated {
                let m = format!(
                    "Waiting for deployment \"{name}\" rollout to finish: {} old replicas are pending termination...",
                    total - updated
                );
                return Ok((m, false));
            }
            if available < updated {
                let m = format!(
                    "Waiting for deployment \"{name}\" rollout to finish: {available} of {updated} updated replicas are available..."
                );
                return Ok((m, false));
            }
            Ok((format!("deployment \"{name}\" successfully rolled out"), true))
        }
        "DaemonSet" => {
            if obj.pointer("/spec/updateStrategy/type").and_then(Value::as_str) == Some("OnDelete") {
                return Err(Error::msg("rollout status is only available for RollingUpdate strategy type"));
            }
            if !observed {
                return Ok(("Waiting for daemon set spec update to be observed...".into(), false));
            }
            let desired = int(obj, "/status/desiredNumberScheduled");
            let updated = int(obj, "/status/updatedNumberScheduled");
            let available = int(obj, "/status/numberAvailable");
            if updated < desired {
                let m = format!(
                    "Waiting for daemon set \"{name}\" rollout to finish: {updated} out of {desired} new pods have been updated..."
                );
                return Ok((m, false));
            }
            if available < desired {
                let m = format!(
                    "Waiting for daemon set \"{name}\" rollout to finish: {available} of {desired} updated pods are available..."
                );
                return Ok((m, false));
            }
            Ok((format!("daemon set \"{name}\" successfully rolled out"), true))
        }
        kind => Err(Error::msg(format!("no status viewer has been implemented for {kind}"))),
    }
}

async fn status(ctx: &mut Ctx, a: RolloutStatusArgs) -> Result<()> {
    let timeout = match a.timeout.as_str() {
        "0" | "0s" | "" => None,
        t => Some(parse_timeout(t)?),
    };
    let (info, mut obj) = target(ctx, &a.args, &["Deployment", "DaemonSet"]).await?;
    let (ns, name) = (meta::namespace(&obj).to_string(), meta::name(&obj).to_string());
    let client = ctx.client().await?;
    let started = std::time::Instant::now();
    let mut last = String::new();
    loop {
        let (line, done) = rollout_status(&obj)?;
        // Each state is printed once, as kubectl prints on every watch event that changes it.
        if line != last {
            ctx.println(&line);
            last = line;
        }
        if done || !a.watch {
            return Ok(());
        }
        if timeout.is_some_and(|t| started.elapsed() >= t) {
            return Err(Error::msg("timed out waiting for the condition"));
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        obj = client.get(info, &ns, &name).await?;
    }
}

fn parse_timeout(s: &str) -> Result<Duration> {
    let span: jiff::Span = s.parse().map_err(|e| Error::msg(format!("invalid argument {s:?} for --timeout: {e}")))?;
    let d = jiff::SignedDuration::try_from(span).map_err(|e| Error::msg(format!("invalid --timeout {s:?}: {e}")))?;
    Duration::try_from(d).map_err(|_| Error::msg(format!("invalid --timeout {s:?}")))
}

/// `REVISION  CHANGE-CAUSE` rows, as kubectl's history viewer prints them.
pub fn history_table(replica_sets: &[Value]) -> String {
    let mut rows = vec![vec!["REVISION".to_string(), "CHANGE-CAUSE".to_string()]];
    let mut seen = std::collections::BTreeMap::new();
    for rs in replica_sets {
        let cause = meta::annotations(rs).get(CHANGE_CAUSE).cloned().unwrap_or_else(|| "<none>".into());
        seen.insert(revision_of(rs), cause);
    }
    for (rev, cause) in seen.into_iter().filter(|(r, _)| *r > 0) {
        rows.push(vec![rev.to_string(), cause]);
    }
    let width = rows.iter().map(|r| r[0].len()).max().unwrap_or(0) + 2;
    rows.iter().map(|r| format!("{:width$}{}\n", r[0], r[1])).collect()
}

async fn history(ctx: &mut Ctx, a: RolloutHistoryArgs) -> Result<()> {
    let (info, d) = target(ctx, &a.args, &["Deployment"]).await?;
    let all = owned_replica_sets(&ctx.client().await?, &d).await?;
    let shown = printers::kind_name(info, meta::name(&d));
    if a.revision > 0 {
        let Some(rs) = all.iter().find(|rs| revision_of(rs) == a.revision) else {
            return Err(Error::msg(format!("unable to find the specified revision {}", a.revision)));
        };
        let mut template = rs["spec"]["template"].clone();
        if let Some(cause) = meta::annotations(rs).get(CHANGE_CAUSE) {
            template["metadata"]["annotations"][CHANGE_CAUSE] = cause.clone().into();
        }
        let text = pod_template_text(&template);
        ctx.print(&format!("{shown} with revision #{}\n{text}\n", a.revision));
        return Ok(());
    }
    if all.is_empty() {
        ctx.println(&format!("{shown} \nNo rollout history found."));
        return Ok(());
    }
    ctx.print(&format!("{shown} \n{}\n", history_table(&all)));
    Ok(())
}

/// Picks the ReplicaSet to roll back to: `to_revision`, or the one before the current.
pub fn rollback_target(all: &[Value], to_revision: i64) -> Result<&Value> {
    if to_revision > 0 {
        return all
            .iter()
            .find(|rs| revision_of(rs) == to_revision)
            .ok_or_else(|| Error::msg(format!("unable to find specified revision {to_revision} in history")));
    }
    let mut revisions: Vec<i64> = all.iter().map(revision_of).filter(|r| *r > 0).collect();
    revisions.sort_unstable();
    revisions.dedup();
    match revisions.len() {
        0 | 1 => Err(Error::msg("no rollout history found")),
        n => Ok(all.iter().find(|rs| revision_of(rs) == revisions[n - 2]).expect("revision taken from the list")),
    }
}

/// The Deployment after rolling back to `rs`: its template (without the hash
/// label) and the ReplicaSet's annotations (change-cause among them).
pub fn rolled_back(d: &Value, rs: &Value) -> Value {
    let mut d = d.clone();
    d["spec"]["template"] = without_hash(&rs["spec"]["template"]);
    let mut annotations: Map<String, Value> = d["metadata"]["annotations"].as_object().cloned().unwrap_or_default();
    annotations.retain(|k, _| NOT_COPIED.contains(&k.as_str()));
    for (k, v) in rs["metadata"]["annotations"].as_object().into_iter().flatten() {
        if !NOT_COPIED.contains(&k.as_str()) {
            annotations.insert(k.clone(), v.clone());
        }
    }
    d["metadata"]["annotations"] = annotations.into();
    d
}

async fn undo(ctx: &mut Ctx, a: RolloutUndoArgs) -> Result<()> {
    let (info, d) = target(ctx, &a.args, &["Deployment"]).await?;
    let shown = printers::kind_name(info, meta::name(&d));
    if d["spec"]["paused"] == true {
        return Err(Error::msg(format!(
            "you cannot rollback a paused deployment; resume it first with 'kubectl rollout resume {shown}' and try again"
        )));
    }
    let all = owned_replica_sets(&ctx.client().await?, &d).await?;
    let rs = rollback_target(&all, a.to_revision).map_err(|e| match a.to_revision {
        0 => Error::msg(format!("no rollout history found for deployment \"{}\"", meta::name(&d))),
        _ => e,
    })?;
    if without_hash(&rs["spec"]["template"]) == d["spec"]["template"] {
        ctx.println(&format!(
            "{shown} skipped rollback (current template already matches revision {})",
            revision_of(rs)
        ));
        return Ok(());
    }
    let updated = rolled_back(&d, rs);
    let client = ctx.client().await?;
    client.update(info, meta::namespace(&d), &updated).await?;
    ctx.println(&format!("{shown} rolled back"));
    Ok(())
}

async fn pause(ctx: &mut Ctx, a: RolloutTargetArgs, paused: bool) -> Result<()> {
    let (info, d) = target(ctx, &a.args, &["Deployment"]).await?;
    let shown = printers::kind_name(info, meta::name(&d));
    let word = if paused { "paused" } else { "resumed" };
    if (d["spec"]["paused"] == true) == paused {
        ctx.println(&format!("{shown} already {word}"));
        return Ok(());
    }
    let patch = json!({"spec": {"paused": if paused { Value::Bool(true) } else { Value::Null }}});
    let client = ctx.client().await?;
    client.patch(info, meta::namespace(&d), meta::name(&d), PatchType::Merge, &patch).await?;
    ctx.println(&format!("{shown} {word}"));
    Ok(())
}

async fn restart(ctx: &mut Ctx, a: RolloutTargetArgs) -> Result<()> {
    let (info, d) = target(ctx, &a.args, &["Deployment", "DaemonSet", "StatefulSet"]).await?;
    let shown = printers::kind_name(info, meta::name(&d));
    if d["spec"]["paused"] == true {
        return Err(Error::msg("can't restart paused deployment (run rollout resume first)"));
    }
    let now = jiff::Timestamp::now().strftime("%Y-%m-%dT%H:%M:%SZ").to_string();
    let patch =
        json!({"spec": {"template": {"metadata": {"annotations": {"kubectl.kubernetes.io/restartedAt": now}}}}});
    let client = ctx.client().await?;
    client.patch(info, meta::namespace(&d), meta::name(&d), PatchType::StrategicMerge, &patch).await?;
    ctx.println(&format!("{shown} restarted"));
    Ok(())
}

#[cfg(test)]
mod tests;
