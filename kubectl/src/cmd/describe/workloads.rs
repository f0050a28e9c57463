//! `kubectl describe` for the controllers of pods: ReplicationControllers,
//! ReplicaSets, DaemonSets, Jobs and CronJobs, and the pod template they (and
//! Deployments) show.

use super::pod::{containers, tolerations, volumes};
use super::writer::{controller_of, header, s, Writer};
use crate::age;
use crate::printers::columns::{array_at, format_labels, int_at, selector_string, string_map};
use api::ResourceInfo;
use jiff::Timestamp;
use serde_json::Value;

/// A pod template as describe shows it, for `rollout history --revision`.
pub fn pod_template_text(template: &Value) -> String {
    let mut w = Writer::default();
    pod_template(&mut w, Some(template));
    w.finish()
}

pub fn pod_template(w: &mut Writer, template: Option<&Value>) {
    w.w(0, "Pod Template:\n");
    let Some(t) = template else {
        w.w(1, "<unset>");
        return;
    };
    w.labels("  ", "Labels", &string_map(t.pointer("/metadata/labels")));
    let annotations = string_map(t.pointer("/metadata/annotations"));
    if !annotations.is_empty() {
        w.annotations("  ", "Annotations", &annotations);
    }
    if !s(t, &["spec", "serviceAccountName"]).is_empty() {
        w.w(1, &format!("Service Account:\t{}\n", s(t, &["spec", "serviceAccountName"])));
    }
    let init = array_at(t, &["spec", "initContainers"]);
    if !init.is_empty() {
        containers(w, "Init Containers", init, None, "  ");
    }
    containers(w, "Containers", array_at(t, &["spec", "containers"]), None, "  ");
    volumes(w, array_at(t, &["spec", "volumes"]), "  ");
    if !s(t, &["spec", "priorityClassName"]).is_empty() {
        w.w(1, &format!("Priority Class Name:\t{}\n", s(t, &["spec", "priorityClassName"])));
    }
    w.labels("  ", "Node-Selectors", &string_map(t.pointer("/spec/nodeSelector")));
    tolerations(w, "  ", "Tolerations", array_at(t, &["spec", "tolerations"]));
}

/// Running / Waiting / Succeeded / Failed counts of a controller's pods.
fn pod_counts(pods: &[Value], owner_uid: &str) -> String {
    let mut counts = [0; 4];
    for p in pods {
        let owned = array_at(p, &["metadata", "ownerReferences"])
            .iter()
            .find(|r| r.get("controller").and_then(Value::as_bool) == Some(true))
            .is_none_or(|r| s(r, &["uid"]) == owner_uid);
        if !owned {
            continue;
        }
        match s(p, &["status", "phase"]) {
            "Running" => counts[0] += 1,
            "Pending" => counts[1] += 1,
            "Succeeded" => counts[2] += 1,
            "Failed" => counts[3] += 1,
            _ => {}
        }
    }
    format!("{} Running / {} Waiting / {} Succeeded / {} Failed", counts[0], counts[1], counts[2], counts[3])
}

pub fn conditions_table(w: &mut Writer, obj: &Value) {
    let conditions = array_at(obj, &["status", "conditions"]);
    if conditions.is_empty() {
        return;
    }
    w.w(0, "Conditions:\n  Type\tStatus\tReason\n");
    w.w(1, "----\t------\t------\n");
    for c in conditions {
        w.w(1, &format!("{} \t{}\t{}\n", s(c, &["type"]), s(c, &["status"]), s(c, &["reason"])));
    }
}

pub fn replicated(w: &mut Writer, info: &ResourceInfo, obj: &Value, pods: &[Value]) {
    header(w, obj, true);
    let selector = if info.kind == "ReplicationController" {
        format_labels(&string_map(obj.pointer("/spec/selector")))
    } else {
        selector_string(obj.pointer("/spec/selector"))
    };
    w.w(0, &format!("Selector:\t{selector}\n"));
    w.labels("", "Labels", &api::meta::labels(obj));
    w.annotations("", "Annotations", &api::meta::annotations(obj));
    if let Some(c) = controller_of(obj) {
        w.w(0, &format!("Controlled By:\t{c}\n"));
    }
    let desired = obj.pointer("/spec/replicas").and_then(Value::as_i64).unwrap_or(1);
    w.w(0, &format!("Replicas:\t{} current / {desired} desired\n", int_at(obj, &["status", "replicas"])));
    w.w(0, &format!("Pods Status:\t{}\n", pod_counts(pods, api::meta::uid(obj))));
    pod_template(w, obj.pointer("/spec/template"));
    conditions_table(w, obj);
}

pub fn daemonset(w: &mut Writer, ds: &Value, pods: &[Value]) {
    header(w, ds, true);
    w.w(0, &format!("Selector:\t{}\n", selector_string(ds.pointer("/spec/selector"))));
    w.w(
        0,
        &format!("Node-Selector:\t{}\n", format_labels(&string_map(ds.pointer("/spec/template/spec/nodeSelector")))),
    );
    w.labels("", "Labels", &api::meta::labels(ds));
    w.annotations("", "Annotations", &api::meta::annotations(ds));
    let st = |k: &str| int_at(ds, &["status", k]);
    w.w(0, &format!("Desired Number of Nodes Scheduled: {}\n", st("desiredNumberScheduled")));
    w.w(0, &format!("Current Number of Nodes Scheduled: {}\n", st("currentNumberScheduled")));
    w.w(0, &format!("Number of Nodes Scheduled with Up-to-date Pods: {}\n", st("updatedNumberScheduled")));
    w.w(0, &format!("Number of Nodes Scheduled with Available Pods: {}\n", st("numberAvailable")));
    w.w(0, &format!("Number of Nodes Misscheduled: {}\n", st("numberMisscheduled")));
    w.w(0, &format!("Pods Status:\t{}\n", pod_counts(pods, api::meta::uid(ds))));
    pod_template(w, ds.pointer("/spec/template"));
}

pub fn job(w: &mut Writer, j: &Value, _now: Timestamp) {
    header(w, j, true);
    w.w(0, &format!("Selector:\t{}\n", selector_string(j.pointer("/spec/selector"))));
    w.labels("", "Labels", &api::meta::labels(j));
    w.annotations("", "Annotations", &api::meta::annotations(j));
    if let Some(c) = controller_of(j) {
        w.w(0, &format!("Controlled By:\t{c}\n"));
    }
    if let Some(p) = j.pointer("/spec/parallelism").and_then(Value::as_i64) {
        w.w(0, &format!("Parallelism:\t{p}\n"));
    }
    match j.pointer("/spec/completions").and_then(Value::as_i64) {
        Some(c) => w.w(0, &format!("Completions:\t{c}\n")),
        None => w.w(0, "Completions:\t<unset>\n"),
    }
    if !s(j, &["spec", "completionMode"]).is_empty() {
        w.w(0, &format!("Completion Mode:\t{}\n", s(j, &["spec", "completionMode"])));
    }
    if let Some(b) = j.pointer("/spec/suspend").and_then(Value::as_bool) {
        w.w(0, &format!("Suspend:\t{b}\n"));
    }
    if let Some(b) = j.pointer("/spec/backoffLimit").and_then(Value::as_i64) {
        w.w(0, &format!("Backoff Limit:\t{b}\n"));
    }
    let (start, done) = (s(j, &["status", "startTime"]), s(j, &["status", "completionTime"]));
    if !start.is_empty() {
        w.w(0, &format!("Start Time:\t{}\n", age::rfc1123z(start)));
    }
    if !done.is_empty() {
        w.w(0, &format!("Completed At:\t{}\n", age::rfc1123z(done)));
    }
    if let Some(d) = age::between(start, done) {
        w.w(0, &format!("Duration:\t{d}\n"));
    }
    if let Some(a) = j.pointer("/spec/activeDeadlineSeconds").and_then(Value::as_i64) {
        w.w(0, &format!("Active Deadline Seconds:\t{a}s\n"));
    }
    let st = |k: &str| int_at(j, &["status", k]);
    match j.pointer("/status/ready").and_then(Value::as_i64) {
        Some(r) => w.w(
            0,
            &format!(
                "Pods Statuses:\t{} Active ({r} Ready) / {} Succeeded / {} Failed\n",
                st("active"),
                st("succeeded"),
                st("failed")
            ),
        ),
        None => w.w(
            0,
            &format!(
                "Pods Statuses:\t{} Active / {} Succeeded / {} Failed\n",
                st("active"),
                st("succeeded"),
                st("failed")
            ),
        ),
    }
    pod_template(w, j.pointer("/spec/template"));
}

pub fn cronjob(w: &mut Writer, cj: &Value) {
    header(w, cj, true);
    w.labels("", "Labels", &api::meta::labels(cj));
    w.annotations("", "Annotations", &api::meta::annotations(cj));
    w.w(0, &format!("Schedule:\t{}\n", s(cj, &["spec", "schedule"])));
    w.w(0, &format!("Concurrency Policy:\t{}\n", s(cj, &["spec", "concurrencyPolicy"])));
    let suspend = match cj.pointer("/spec/suspend").and_then(Value::as_bool) {
        Some(true) => "True",
        Some(false) => "False",
        None => "<unset>",
    };
    w.w(0, &format!("Suspend:\t{suspend}\n"));
    let opt = |k: &str, unit: &str| match cj.pointer(&format!("/spec/{k}")).and_then(Value::as_i64) {
        Some(v) => format!("{v}{unit}"),
        None => "<unset>".into(),
    };
    w.w(0, &format!("Successful Job History Limit:\t{}\n", opt("successfulJobsHistoryLimit", "")));
    w.w(0, &format!("Failed Job History Limit:\t{}\n", opt("failedJobsHistoryLimit", "")));
    w.w(0, &format!("Starting Deadline Seconds:\t{}\n", opt("startingDeadlineSeconds", "s")));
    let spec = cj.pointer("/spec/jobTemplate/spec").cloned().unwrap_or_default();
    match spec.get("selector") {
        Some(sel) => w.w(0, &format!("Selector:\t{}\n", selector_string(Some(sel)))),
        None => w.w(0, "Selector:\t<unset>\n"),
    }
    for (title, k) in [("Parallelism", "parallelism"), ("Completions", "completions")] {
        match spec.get(k).and_then(Value::as_i64) {
            Some(v) => w.w(0, &format!("{title}:\t{v}\n")),
            None => w.w(0, &format!("{title}:\t<unset>\n")),
        }
    }
    pod_template(w, spec.get("template"));
    match s(cj, &["status", "lastScheduleTime"]) {
        "" => w.w(0, "Last Schedule Time:\t<unset>\n"),
        t => w.w(0, &format!("Last Schedule Time:\t{}\n", age::rfc1123z(t))),
    }
    let active: Vec<&str> = array_at(cj, &["status", "active"]).iter().map(|r| s(r, &["name"])).collect();
    w.w(0, &format!("Active Jobs:\t{}\n", if active.is_empty() { "<none>".to_string() } else { active.join(", ") }));
}

#[cfg(test)]
mod tests {
    use super::super::{describe, Related};
    use super::*;
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
            pods: vec![pod("Running", "rc1"), pod("Pending", "rc1"), pod("Running", "other")],
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
