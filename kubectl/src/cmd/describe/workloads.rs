//! `kubectl describe` for the controllers of pods: ReplicationControllers,
//! ReplicaSets, DaemonSets, Jobs and CronJobs, and the pod template they (and
//! Deployments) show.

use super::pod::{containers, tolerations, volumes};
use super::writer::{controlled_by, header, labels_and_annotations, or_empty, Writer};
use crate::age;
use crate::printers::columns::{format_map, label_selector_string};
use api::k8s_openapi::api::apps::v1::{DaemonSet, ReplicaSet, StatefulSet};
use api::k8s_openapi::api::batch::v1::{CronJob, Job};
use api::k8s_openapi::api::core::v1::{Pod, PodTemplateSpec, ReplicationController};
use api::k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

/// A pod template as describe shows it, for `rollout history --revision`.
pub fn pod_template_text(template: &PodTemplateSpec) -> String {
    let mut w = Writer::default();
    pod_template(&mut w, Some(template));
    w.finish()
}

pub fn pod_template(w: &mut Writer, template: Option<&PodTemplateSpec>) {
    w.w(0, "Pod Template:\n");
    let Some(t) = template else {
        w.w(1, "<unset>");
        return;
    };
    let meta = t.metadata.clone().unwrap_or_default();
    let spec = t.spec.clone().unwrap_or_default();
    w.labels("  ", "Labels", or_empty(meta.labels.as_ref()));
    if let Some(annotations) = meta.annotations.as_ref().filter(|a| !a.is_empty()) {
        w.annotations("  ", "Annotations", annotations);
    }
    if let Some(account) = spec.service_account_name.as_deref().filter(|a| !a.is_empty()) {
        w.w(1, &format!("Service Account:\t{account}\n"));
    }
    let init = spec.init_containers.as_deref().unwrap_or(&[]);
    if !init.is_empty() {
        containers(w, "Init Containers", init, None, "  ");
    }
    containers(w, "Containers", &spec.containers, None, "  ");
    volumes(w, spec.volumes.as_deref().unwrap_or(&[]), "  ");
    if let Some(class) = spec.priority_class_name.as_deref().filter(|c| !c.is_empty()) {
        w.w(1, &format!("Priority Class Name:\t{class}\n"));
    }
    w.labels("  ", "Node-Selectors", or_empty(spec.node_selector.as_ref()));
    tolerations(w, "  ", "Tolerations", spec.tolerations.as_deref().unwrap_or(&[]));
}

/// Running / Waiting / Succeeded / Failed counts of a controller's pods.
fn pod_counts(pods: &[Pod], owner: &ObjectMeta) -> String {
    let owner_uid = owner.uid.as_deref().unwrap_or("");
    let mut counts = [0; 4];
    for p in pods {
        if api::pod::controller_of(&p.metadata).is_some_and(|r| r.uid != owner_uid) {
            continue;
        }
        match api::pod::phase(p) {
            "Running" => counts[0] += 1,
            "Pending" => counts[1] += 1,
            "Succeeded" => counts[2] += 1,
            "Failed" => counts[3] += 1,
            _ => {}
        }
    }
    format!("{} Running / {} Waiting / {} Succeeded / {} Failed", counts[0], counts[1], counts[2], counts[3])
}

/// One row of a controller's `Conditions:` table.
pub struct ConditionRow<'a> {
    pub type_: &'a str,
    pub status: &'a str,
    pub reason: Option<&'a str>,
}

pub fn conditions_table(w: &mut Writer, conditions: &[ConditionRow]) {
    if conditions.is_empty() {
        return;
    }
    w.w(0, "Conditions:\n  Type\tStatus\tReason\n");
    w.w(1, "----\t------\t------\n");
    for c in conditions {
        w.w(1, &format!("{} \t{}\t{}\n", c.type_, c.status, c.reason.unwrap_or("")));
    }
}

/// The lines a ReplicationController and a ReplicaSet share, in kubectl's order.
struct Replicated<'a> {
    meta: &'a ObjectMeta,
    selector: String,
    desired: Option<i32>,
    current: i32,
    template: Option<&'a PodTemplateSpec>,
    conditions: Vec<ConditionRow<'a>>,
}

fn replicated(w: &mut Writer, r: Replicated, pods: &[Pod]) {
    header(w, r.meta, true);
    w.w(0, &format!("Selector:\t{}\n", r.selector));
    labels_and_annotations(w, r.meta);
    if let Some(c) = controlled_by(r.meta) {
        w.w(0, &format!("Controlled By:\t{c}\n"));
    }
    let desired = r.desired.unwrap_or(1);
    w.w(0, &format!("Replicas:\t{} current / {desired} desired\n", r.current));
    w.w(0, &format!("Pods Status:\t{}\n", pod_counts(pods, r.meta)));
    pod_template(w, r.template);
    conditions_table(w, &r.conditions);
}

pub fn replication_controller(w: &mut Writer, rc: &ReplicationController, pods: &[Pod]) {
    let spec = rc.spec.as_ref();
    let status = rc.status.as_ref();
    let conditions = status.and_then(|s| s.conditions.as_ref()).into_iter().flatten();
    let r = Replicated {
        meta: &rc.metadata,
        selector: format_map(spec.and_then(|s| s.selector.as_ref())),
        desired: spec.and_then(|s| s.replicas),
        current: status.map_or(0, |s| s.replicas),
        template: spec.and_then(|s| s.template.as_ref()),
        conditions: conditions
            .map(|c| ConditionRow { type_: &c.type_, status: &c.status, reason: c.reason.as_deref() })
            .collect(),
    };
    replicated(w, r, pods);
}

pub fn replica_set(w: &mut Writer, rs: &ReplicaSet, pods: &[Pod]) {
    let spec = rs.spec.as_ref();
    let status = rs.status.as_ref();
    let conditions = status.and_then(|s| s.conditions.as_ref()).into_iter().flatten();
    let r = Replicated {
        meta: &rs.metadata,
        selector: label_selector_string(spec.map(|s| &s.selector)),
        desired: spec.and_then(|s| s.replicas),
        current: status.map_or(0, |s| s.replicas),
        template: spec.and_then(|s| s.template.as_ref()),
        conditions: conditions
            .map(|c| ConditionRow { type_: &c.type_, status: &c.status, reason: c.reason.as_deref() })
            .collect(),
    };
    replicated(w, r, pods);
}

pub fn daemonset(w: &mut Writer, ds: &DaemonSet, pods: &[Pod]) {
    let spec = ds.spec.as_ref();
    let template = spec.map(|s| &s.template);
    header(w, &ds.metadata, true);
    w.w(0, &format!("Selector:\t{}\n", label_selector_string(spec.map(|s| &s.selector))));
    let node_selector = template.and_then(|t| t.spec.as_ref()).and_then(|s| s.node_selector.as_ref());
    w.w(0, &format!("Node-Selector:\t{}\n", format_map(node_selector)));
    labels_and_annotations(w, &ds.metadata);
    let st = ds.status.clone().unwrap_or_default();
    w.w(0, &format!("Desired Number of Nodes Scheduled: {}\n", st.desired_number_scheduled));
    w.w(0, &format!("Current Number of Nodes Scheduled: {}\n", st.current_number_scheduled));
    let updated = st.updated_number_scheduled.unwrap_or(0);
    w.w(0, &format!("Number of Nodes Scheduled with Up-to-date Pods: {updated}\n"));
    w.w(0, &format!("Number of Nodes Scheduled with Available Pods: {}\n", st.number_available.unwrap_or(0)));
    w.w(0, &format!("Number of Nodes Misscheduled: {}\n", st.number_misscheduled));
    w.w(0, &format!("Pods Status:\t{}\n", pod_counts(pods, &ds.metadata)));
    pod_template(w, template);
}

/// kubectl's StatefulSetDescriber.
pub fn statefulset(w: &mut Writer, sts: &StatefulSet, pods: &[Pod]) {
    let spec = sts.spec.clone().unwrap_or_default();
    let status = sts.status.clone().unwrap_or_default();
    header(w, &sts.metadata, true);
    w.w(0, &format!("CreationTimestamp:\t{}\n", age::rfc1123(sts.metadata.creation_timestamp.as_ref())));
    w.w(0, &format!("Selector:\t{}\n", label_selector_string(Some(&spec.selector))));
    labels_and_annotations(w, &sts.metadata);
    w.w(0, &format!("Replicas:\t{} desired | {} total\n", spec.replicas.unwrap_or(1), status.replicas));
    let strategy = spec.update_strategy.clone().unwrap_or_default();
    w.w(0, &format!("Update Strategy:\t{}\n", strategy.type_.as_deref().unwrap_or("")));
    if let Some(partition) = strategy.rolling_update.as_ref().and_then(|ru| ru.partition) {
        w.w(1, &format!("Partition:\t{partition}\n"));
    }
    w.w(0, &format!("Pods Status:\t{}\n", pod_counts(pods, &sts.metadata)));
    pod_template(w, Some(&spec.template));
    let claims = spec.volume_claim_templates.as_deref().unwrap_or(&[]);
    if claims.is_empty() {
        w.w(0, "Volume Claims:\t<none>\n");
    }
    if !claims.is_empty() {
        w.w(0, "Volume Claims:\n");
    }
    for claim in claims {
        let claim_spec = claim.spec.clone().unwrap_or_default();
        w.w(1, &format!("Name:\t{}\n", claim.metadata.name.as_deref().unwrap_or("")));
        let class = claim
            .metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get("volume.beta.kubernetes.io/storage-class").cloned())
            .or(claim_spec.storage_class_name.clone())
            .unwrap_or_default();
        w.w(1, &format!("StorageClass:\t{class}\n"));
        w.labels("  ", "Labels", or_empty(claim.metadata.labels.as_ref()));
        w.annotations("  ", "Annotations", or_empty(claim.metadata.annotations.as_ref()));
        let capacity = claim_spec.resources.as_ref().and_then(|r| r.requests.as_ref()).and_then(|r| r.get("storage"));
        w.w(1, &format!("Capacity:\t{}\n", capacity.map_or("<default>".to_string(), |q| q.0.clone())));
        let modes = claim_spec.access_modes.unwrap_or_default().join(" ");
        w.w(1, &format!("Access Modes:\t[{modes}]\n"));
    }
}

pub fn job(w: &mut Writer, j: &Job) {
    let spec = j.spec.clone().unwrap_or_default();
    let st = j.status.clone().unwrap_or_default();
    header(w, &j.metadata, true);
    w.w(0, &format!("Selector:\t{}\n", label_selector_string(spec.selector.as_ref())));
    labels_and_annotations(w, &j.metadata);
    if let Some(c) = controlled_by(&j.metadata) {
        w.w(0, &format!("Controlled By:\t{c}\n"));
    }
    if let Some(p) = spec.parallelism {
        w.w(0, &format!("Parallelism:\t{p}\n"));
    }
    match spec.completions {
        Some(c) => w.w(0, &format!("Completions:\t{c}\n")),
        None => w.w(0, "Completions:\t<unset>\n"),
    }
    if let Some(mode) = spec.completion_mode.as_deref().filter(|m| !m.is_empty()) {
        w.w(0, &format!("Completion Mode:\t{mode}\n"));
    }
    if let Some(b) = spec.suspend {
        w.w(0, &format!("Suspend:\t{b}\n"));
    }
    if let Some(b) = spec.backoff_limit {
        w.w(0, &format!("Backoff Limit:\t{b}\n"));
    }
    let (start, done) = (st.start_time.as_ref(), st.completion_time.as_ref());
    if start.is_some() {
        w.w(0, &format!("Start Time:\t{}\n", age::rfc1123(start)));
    }
    if done.is_some() {
        w.w(0, &format!("Completed At:\t{}\n", age::rfc1123(done)));
    }
    if let Some(d) = age::duration(start, done) {
        w.w(0, &format!("Duration:\t{d}\n"));
    }
    if let Some(a) = spec.active_deadline_seconds {
        w.w(0, &format!("Active Deadline Seconds:\t{a}s\n"));
    }
    let (active, succeeded, failed) = (st.active.unwrap_or(0), st.succeeded.unwrap_or(0), st.failed.unwrap_or(0));
    match st.ready {
        Some(r) => {
            w.w(0, &format!("Pods Statuses:\t{active} Active ({r} Ready) / {succeeded} Succeeded / {failed} Failed\n"))
        }
        None => w.w(0, &format!("Pods Statuses:\t{active} Active / {succeeded} Succeeded / {failed} Failed\n")),
    }
    pod_template(w, Some(&spec.template));
}

pub fn cronjob(w: &mut Writer, cj: &CronJob) {
    let spec = cj.spec.clone().unwrap_or_default();
    let status = cj.status.clone().unwrap_or_default();
    header(w, &cj.metadata, true);
    labels_and_annotations(w, &cj.metadata);
    w.w(0, &format!("Schedule:\t{}\n", spec.schedule));
    w.w(0, &format!("Concurrency Policy:\t{}\n", spec.concurrency_policy.as_deref().unwrap_or("")));
    let suspend = match spec.suspend {
        Some(true) => "True",
        Some(false) => "False",
        None => "<unset>",
    };
    w.w(0, &format!("Suspend:\t{suspend}\n"));
    let opt = |v: Option<i64>, unit: &str| match v {
        Some(v) => format!("{v}{unit}"),
        None => "<unset>".into(),
    };
    let history = |v: Option<i32>| opt(v.map(i64::from), "");
    w.w(0, &format!("Successful Job History Limit:\t{}\n", history(spec.successful_jobs_history_limit)));
    w.w(0, &format!("Failed Job History Limit:\t{}\n", history(spec.failed_jobs_history_limit)));
    w.w(0, &format!("Starting Deadline Seconds:\t{}\n", opt(spec.starting_deadline_seconds, "s")));
    let job_spec = spec.job_template.spec.clone().unwrap_or_default();
    match &job_spec.selector {
        Some(sel) => w.w(0, &format!("Selector:\t{}\n", label_selector_string(Some(sel)))),
        None => w.w(0, "Selector:\t<unset>\n"),
    }
    for (title, v) in [("Parallelism", job_spec.parallelism), ("Completions", job_spec.completions)] {
        match v {
            Some(v) => w.w(0, &format!("{title}:\t{v}\n")),
            None => w.w(0, &format!("{title}:\t<unset>\n")),
        }
    }
    let template = spec.job_template.spec.as_ref().map(|s| &s.template);
    pod_template(w, template);
    match &status.last_schedule_time {
        None => w.w(0, "Last Schedule Time:\t<unset>\n"),
        t => w.w(0, &format!("Last Schedule Time:\t{}\n", age::rfc1123(t.as_ref()))),
    }
    let active: Vec<&str> = status.active.iter().flatten().map(|r| r.name.as_deref().unwrap_or("")).collect();
    w.w(0, &format!("Active Jobs:\t{}\n", if active.is_empty() { "<none>".to_string() } else { active.join(", ") }));
}

#[cfg(test)]
mod tests {
    use super::super::{describe, Related};
    use jiff::Timestamp;
    use serde_json::json;

    fn now() -> Timestamp {
        "2021-10-27T10:00:00Z".parse().unwrap()
    }

    #[test]
    fn controllers_show_template_and_pod_counts() {
        let rc = json!({"kind": "ReplicationController",
            "metadata": {"name": "kubia", "namespace": "default", "uid": "rc1", "labels": {"app": "kubia"}},
            "spec": {"replicas": 3, "selector": {"app": "kubia"},
                     "template": {"metadata": {"labels": {"app": "kubia"}},
                                  "spec": {"containers": [{"name": "kubia", "image": "luksa/kubia", "ports": [{"containerPort": 8080}]}]}}},
            "status": {"replicas": 3}});
        let pod = |phase: &str, owner: &str| json!({"metadata": {"ownerReferences": [{"controller": true, "uid": owner}]}, "status": {"phase": phase}});
        let rel = Related {
            events: None,
            pods: crate::typed::decode_all(&[pod("Running", "rc1"), pod("Pending", "rc1"), pod("Running", "other")]),
            ..Default::default()
        };
        let text = describe(api::registry::lookup("rc").unwrap(), &rc, &rel, now());
        assert_eq!(
            text,
            "\
Name:         kubia
Namespace:    default
Selector:     app=kubia
Labels:       app=kubia
Annotations:  <none>
Replicas:     3 current / 3 desired
Pods Status:  1 Running / 1 Waiting / 0 Succeeded / 0 Failed
Pod Template:
  Labels:  app=kubia
  Containers:
   kubia:
    Image:         luksa/kubia
    Port:          8080/TCP
    Host Port:     0/TCP
    Environment:   <none>
    Mounts:        <none>
  Volumes:         <none>
  Node-Selectors:  <none>
  Tolerations:     <none>
"
        );
    }
}
