//! `kubectl rollout status|history|undo|pause|resume|restart`, with kubectl's
//! messages. Rollback is client-side, as modern kubectl does it: the template
//! of the target revision's ReplicaSet is written back into the Deployment.

use super::describe::workloads::pod_template_text;
use super::shared::owned_replica_sets;
use super::Ctx;
use crate::cli::{RolloutCommand, RolloutHistoryArgs, RolloutStatusArgs, RolloutTargetArgs, RolloutUndoArgs};
use crate::error::{Error, Result};
use crate::printers;
use crate::resource;
use crate::typed::decode;
use api::k8s_openapi::api::apps::v1::{ControllerRevision, DaemonSet, Deployment, ReplicaSet, StatefulSet};
use api::k8s_openapi::api::core::v1::PodTemplateSpec;
use api::workload::{revision, without_hash, CHANGE_CAUSE, REVISION};
use api::{meta, ResourceInfo};
use client::PatchType;
use serde_json::{json, Value};
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

/// kubectl's status viewers: the line to print and whether the rollout is done.
pub fn rollout_status(obj: &Value) -> Result<(String, bool)> {
    let unreadable = |e: serde_json::Error| Error::msg(format!("unreadable {}: {e}", meta::kind(obj)));
    match meta::kind(obj) {
        "Deployment" => deployment_status(&decode(obj).map_err(unreadable)?),
        "DaemonSet" => daemon_set_status(&decode(obj).map_err(unreadable)?),
        "StatefulSet" => stateful_set_status(&decode(obj).map_err(unreadable)?),
        kind => Err(Error::msg(format!("no status viewer has been implemented for {kind}"))),
    }
}

fn deployment_status(d: &Deployment) -> Result<(String, bool)> {
    let name = d.metadata.name.as_deref().unwrap_or("");
    let st = d.status.clone().unwrap_or_default();
    if st.observed_generation.unwrap_or(0) < d.metadata.generation.unwrap_or(0) {
        return Ok(("Waiting for deployment spec update to be observed...".into(), false));
    }
    let progressing = st.conditions.iter().flatten().find(|c| c.type_ == "Progressing");
    if progressing.is_some_and(|c| c.reason.as_deref() == Some("ProgressDeadlineExceeded")) {
        return Err(Error::msg(format!("deployment \"{name}\" exceeded its progress deadline")));
    }
    let replicas = d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
    let updated = st.updated_replicas.unwrap_or(0);
    let (total, available) = (st.replicas.unwrap_or(0), st.available_replicas.unwrap_or(0));
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

fn daemon_set_status(ds: &DaemonSet) -> Result<(String, bool)> {
    let name = ds.metadata.name.as_deref().unwrap_or("");
    let strategy = ds.spec.as_ref().and_then(|s| s.update_strategy.as_ref()).and_then(|u| u.type_.as_deref());
    if strategy == Some("OnDelete") {
        return Err(Error::msg("rollout status is only available for RollingUpdate strategy type"));
    }
    let st = ds.status.clone().unwrap_or_default();
    if st.observed_generation.unwrap_or(0) < ds.metadata.generation.unwrap_or(0) {
        return Ok(("Waiting for daemon set spec update to be observed...".into(), false));
    }
    let desired = st.desired_number_scheduled;
    let updated = st.updated_number_scheduled.unwrap_or(0);
    let available = st.number_available.unwrap_or(0);
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

/// kubectl's statefulSetStatusViewer.
fn stateful_set_status(sts: &StatefulSet) -> Result<(String, bool)> {
    let spec = sts.spec.clone().unwrap_or_default();
    let strategy = spec.update_strategy.clone().unwrap_or_default();
    if strategy.type_.as_deref().unwrap_or("RollingUpdate") != "RollingUpdate" {
        return Err(Error::msg("rollout status is only available for RollingUpdate strategy type"));
    }
    let st = sts.status.clone().unwrap_or_default();
    let observed = st.observed_generation.unwrap_or(0);
    if observed == 0 || sts.metadata.generation.unwrap_or(0) > observed {
        return Ok(("Waiting for statefulset spec update to be observed...".into(), false));
    }
    let ready = st.ready_replicas.unwrap_or(0);
    let updated = st.updated_replicas.unwrap_or(0);
    if let Some(replicas) = spec.replicas {
        if ready < replicas {
            return Ok((format!("Waiting for {} pods to be ready...", replicas - ready), false));
        }
    }
    if let Some(ru) = strategy.rolling_update.as_ref() {
        if let (Some(replicas), Some(partition)) = (spec.replicas, ru.partition) {
            if updated < replicas - partition {
                let m = format!(
                    "Waiting for partitioned roll out to finish: {updated} out of {} new pods have been updated...",
                    replicas - partition
                );
                return Ok((m, false));
            }
        }
        return Ok((format!("partitioned roll out complete: {updated} new pods have been updated..."), true));
    }
    let (current, update) = (st.current_revision.unwrap_or_default(), st.update_revision.unwrap_or_default());
    if update != current {
        return Ok((
            format!("waiting for statefulset rolling update to complete {updated} pods at revision {update}..."),
            false,
        ));
    }
    let m = format!(
        "statefulset rolling update complete {} pods at revision {current}...",
        st.current_replicas.unwrap_or(0)
    );
    Ok((m, true))
}

async fn status(ctx: &mut Ctx, a: RolloutStatusArgs) -> Result<()> {
    let timeout = match a.timeout.as_str() {
        "0" | "0s" | "" => None,
        t => Some(parse_timeout(t)?),
    };
    let (info, mut obj) = target(ctx, &a.args, &["Deployment", "DaemonSet", "StatefulSet"]).await?;
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
pub fn history_table(replica_sets: &[ReplicaSet]) -> String {
    let mut rows = vec![vec!["REVISION".to_string(), "CHANGE-CAUSE".to_string()]];
    let mut seen = std::collections::BTreeMap::new();
    for rs in replica_sets {
        let cause = rs.metadata.annotations.as_ref().and_then(|a| a.get(CHANGE_CAUSE)).cloned();
        seen.insert(revision(&rs.metadata), cause.unwrap_or_else(|| "<none>".into()));
    }
    for (rev, cause) in seen.into_iter().filter(|(r, _)| *r > 0) {
        rows.push(vec![rev.to_string(), cause]);
    }
    let width = rows.iter().map(|r| r[0].len()).max().unwrap_or(0) + 2;
    rows.iter().map(|r| format!("{:width$}{}\n", r[0], r[1])).collect()
}

/// A ReplicaSet's pod template (the default one if it has none).
fn template_of(rs: &ReplicaSet) -> PodTemplateSpec {
    rs.spec.as_ref().and_then(|s| s.template.clone()).unwrap_or_default()
}

/// The ControllerRevisions a StatefulSet controls, oldest first.
async fn owned_revisions(ctx: &mut Ctx, sts: &StatefulSet) -> Result<Vec<ControllerRevision>> {
    let info = api::registry::lookup("controllerrevisions").expect("controllerrevisions are registered");
    let (ns, uid) = (sts.metadata.namespace.as_deref().unwrap_or(""), sts.metadata.uid.as_deref().unwrap_or(""));
    let list = ctx.client().await?.list(info, ns, &Default::default()).await?;
    let mut owned: Vec<ControllerRevision> = crate::typed::decode_all::<ControllerRevision>(&super::items(info, list))
        .into_iter()
        .filter(|r| api::pod::controller_of(&r.metadata).is_some_and(|o| o.uid == uid))
        .collect();
    owned.sort_by_key(|r| r.revision);
    Ok(owned)
}

/// The template a StatefulSet's revision holds (its data is a patch replacing the template).
pub fn revision_template(rev: &ControllerRevision) -> Option<PodTemplateSpec> {
    let mut t = rev.data.as_ref()?.0.get("spec")?.get("template")?.clone();
    t.as_object_mut()?.remove("$patch");
    serde_json::from_value(t).ok()
}

/// `REVISION  CHANGE-CAUSE` rows of a StatefulSet's revisions.
pub fn revision_table(revisions: &[ControllerRevision]) -> String {
    let mut rows = vec![vec!["REVISION".to_string(), "CHANGE-CAUSE".to_string()]];
    for r in revisions {
        let cause = r.metadata.annotations.as_ref().and_then(|a| a.get(CHANGE_CAUSE)).cloned();
        rows.push(vec![r.revision.to_string(), cause.unwrap_or_else(|| "<none>".into())]);
    }
    let width = rows.iter().map(|r| r[0].len()).max().unwrap_or(0) + 2;
    rows.iter().map(|r| format!("{:width$}{}\n", r[0], r[1])).collect()
}

async fn stateful_set_history(ctx: &mut Ctx, info: &ResourceInfo, sts: StatefulSet, revision: i64) -> Result<()> {
    let all = owned_revisions(ctx, &sts).await?;
    let shown = printers::kind_name(info, sts.metadata.name.as_deref().unwrap_or(""));
    if revision > 0 {
        let Some(template) = all.iter().find(|r| r.revision == revision).and_then(revision_template) else {
            return Err(Error::msg(format!("unable to find the specified revision {revision}")));
        };
        ctx.print(&format!("{shown} with revision #{revision}\n{}\n", pod_template_text(&template)));
        return Ok(());
    }
    if all.is_empty() {
        ctx.println(&format!("{shown} \nNo rollout history found."));
        return Ok(());
    }
    ctx.print(&format!("{shown} \n{}\n", revision_table(&all)));
    Ok(())
}

async fn stateful_set_undo(ctx: &mut Ctx, info: &'static ResourceInfo, sts: StatefulSet, to: i64) -> Result<()> {
    let all = owned_revisions(ctx, &sts).await?;
    let name = sts.metadata.name.as_deref().unwrap_or("").to_string();
    let shown = printers::kind_name(info, &name);
    let target = if to > 0 {
        all.iter()
            .find(|r| r.revision == to)
            .ok_or_else(|| Error::msg(format!("unable to find specified revision {to} in history")))?
    } else if all.len() >= 2 {
        &all[all.len() - 2]
    } else {
        return Err(Error::msg("no last revision to roll back to"));
    };
    let template = revision_template(target).unwrap_or_default();
    if sts.spec.as_ref().map(|s| &s.template) == Some(&template) {
        ctx.println(&format!(
            "{shown} skipped rollback (current template already matches revision {})",
            target.revision
        ));
        return Ok(());
    }
    let patch = target.data.as_ref().map(|d| d.0.clone()).unwrap_or_default();
    let ns = sts.metadata.namespace.as_deref().unwrap_or("");
    ctx.client().await?.patch(info, ns, &name, PatchType::StrategicMerge, &patch).await?;
    ctx.println(&format!("{shown} rolled back"));
    Ok(())
}

async fn history(ctx: &mut Ctx, a: RolloutHistoryArgs) -> Result<()> {
    let (info, obj) = target(ctx, &a.args, &["Deployment", "StatefulSet"]).await?;
    if info.kind == "StatefulSet" {
        let sts = decode(&obj).map_err(|e| Error::msg(format!("unreadable StatefulSet: {e}")))?;
        return stateful_set_history(ctx, info, sts, a.revision).await;
    }
    let d: Deployment = decode(&obj).map_err(|e| Error::msg(format!("unreadable Deployment: {e}")))?;
    let (ns, uid) = (d.metadata.namespace.as_deref().unwrap_or(""), d.metadata.uid.as_deref().unwrap_or(""));
    let all = owned_replica_sets(&ctx.client().await?, ns, uid).await?;
    let shown = printers::kind_name(info, d.metadata.name.as_deref().unwrap_or(""));
    if a.revision > 0 {
        let Some(rs) = all.iter().find(|rs| revision(&rs.metadata) == a.revision) else {
            return Err(Error::msg(format!("unable to find the specified revision {}", a.revision)));
        };
        let mut template = template_of(rs);
        if let Some(cause) = rs.metadata.annotations.as_ref().and_then(|a| a.get(CHANGE_CAUSE)) {
            let meta = template.metadata.get_or_insert_with(Default::default);
            meta.annotations.get_or_insert_with(Default::default).insert(CHANGE_CAUSE.into(), cause.clone());
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
pub fn rollback_target(all: &[ReplicaSet], to_revision: i64) -> Result<&ReplicaSet> {
    if to_revision > 0 {
        return all
            .iter()
            .find(|rs| revision(&rs.metadata) == to_revision)
            .ok_or_else(|| Error::msg(format!("unable to find specified revision {to_revision} in history")));
    }
    let mut revisions: Vec<i64> = all.iter().map(|rs| revision(&rs.metadata)).filter(|r| *r > 0).collect();
    revisions.sort_unstable();
    revisions.dedup();
    match revisions.len() {
        0 | 1 => Err(Error::msg("no rollout history found")),
        n => {
            Ok(all.iter().find(|rs| revision(&rs.metadata) == revisions[n - 2]).expect("revision taken from the list"))
        }
    }
}

/// The Deployment after rolling back to `rs`, as the object to write back:
/// its template (without the hash label) and the ReplicaSet's annotations
/// (change-cause among them).
pub fn rolled_back(d: &Deployment, rs: &ReplicaSet) -> Value {
    let mut d = d.clone();
    d.spec.get_or_insert_with(Default::default).template = without_hash(&template_of(rs));
    let mut annotations = d.metadata.annotations.take().unwrap_or_default();
    annotations.retain(|k, _| NOT_COPIED.contains(&k.as_str()));
    for (k, v) in rs.metadata.annotations.iter().flatten() {
        if !NOT_COPIED.contains(&k.as_str()) {
            annotations.insert(k.clone(), v.clone());
        }
    }
    d.metadata.annotations = Some(annotations);
    serde_json::to_value(&d).expect("a Deployment serializes")
}

fn is_paused(d: &Deployment) -> bool {
    d.spec.as_ref().and_then(|s| s.paused) == Some(true)
}

async fn undo(ctx: &mut Ctx, a: RolloutUndoArgs) -> Result<()> {
    let (info, obj) = target(ctx, &a.args, &["Deployment", "StatefulSet"]).await?;
    if info.kind == "StatefulSet" {
        let sts = decode(&obj).map_err(|e| Error::msg(format!("unreadable StatefulSet: {e}")))?;
        return stateful_set_undo(ctx, info, sts, a.to_revision).await;
    }
    let d: Deployment = decode(&obj).map_err(|e| Error::msg(format!("unreadable Deployment: {e}")))?;
    let name = d.metadata.name.as_deref().unwrap_or("");
    let shown = printers::kind_name(info, name);
    if is_paused(&d) {
        return Err(Error::msg(format!(
            "you cannot rollback a paused deployment; resume it first with 'kubectl rollout resume {shown}' and try again"
        )));
    }
    let (ns, uid) = (d.metadata.namespace.as_deref().unwrap_or(""), d.metadata.uid.as_deref().unwrap_or(""));
    let all = owned_replica_sets(&ctx.client().await?, ns, uid).await?;
    let rs = rollback_target(&all, a.to_revision).map_err(|e| match a.to_revision {
        0 => Error::msg(format!("no rollout history found for deployment \"{name}\"")),
        _ => e,
    })?;
    let current = d.spec.as_ref().map(|s| s.template.clone()).unwrap_or_default();
    if api::workload::equal_ignoring_hash(&template_of(rs), &current) {
        ctx.println(&format!(
            "{shown} skipped rollback (current template already matches revision {})",
            revision(&rs.metadata)
        ));
        return Ok(());
    }
    let updated = rolled_back(&d, rs);
    let client = ctx.client().await?;
    client.update(info, ns, &updated).await?;
    ctx.println(&format!("{shown} rolled back"));
    Ok(())
}

async fn pause(ctx: &mut Ctx, a: RolloutTargetArgs, paused: bool) -> Result<()> {
    let (info, obj) = target(ctx, &a.args, &["Deployment"]).await?;
    let d: Deployment = decode(&obj).map_err(|e| Error::msg(format!("unreadable Deployment: {e}")))?;
    let shown = printers::kind_name(info, meta::name(&obj));
    let word = if paused { "paused" } else { "resumed" };
    if is_paused(&d) == paused {
        ctx.println(&format!("{shown} already {word}"));
        return Ok(());
    }
    let patch = json!({"spec": {"paused": if paused { Value::Bool(true) } else { Value::Null }}});
    let client = ctx.client().await?;
    client.patch(info, meta::namespace(&obj), meta::name(&obj), PatchType::Merge, &patch).await?;
    ctx.println(&format!("{shown} {word}"));
    Ok(())
}

async fn restart(ctx: &mut Ctx, a: RolloutTargetArgs) -> Result<()> {
    let (info, d) = target(ctx, &a.args, &["Deployment", "DaemonSet", "StatefulSet"]).await?;
    let shown = printers::kind_name(info, meta::name(&d));
    // Only a Deployment can be paused.
    if info.kind == "Deployment" && decode::<Deployment>(&d).is_ok_and(|d| is_paused(&d)) {
        return Err(Error::msg("can't restart paused deployment (run rollout resume first)"));
    }
    let now = api::time::now();
    let patch =
        json!({"spec": {"template": {"metadata": {"annotations": {"kubectl.kubernetes.io/restartedAt": now}}}}});
    let client = ctx.client().await?;
    client.patch(info, meta::namespace(&d), meta::name(&d), PatchType::StrategicMerge, &patch).await?;
    ctx.println(&format!("{shown} restarted"));
    Ok(())
}

#[cfg(test)]
mod tests;
