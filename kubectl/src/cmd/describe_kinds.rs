//! The per-kind layouts of `kubectl describe`, following kubectl's describers
//! line for line (nodes, the workload controllers, services, namespaces; pods
//! are in [`super::describe_pod`]), and the generic describer for every other kind.

use super::describe::Writer;
use super::describe_node;
use super::describe_pod;
use super::describe_pod::{containers, tolerations, volumes};
use crate::age;
use crate::printers::columns::{array_at, format_labels, int_at, selector_string, str_at, string_map};
use api::ResourceInfo;
use jiff::Timestamp;
use serde_json::Value;

/// What a description needs besides the object.
#[derive(Debug, Default)]
pub struct Related {
    /// `None`: events were not asked for (`--show-events=false`).
    pub events: Option<Vec<Value>>,
    /// Pods of a controller (matching its selector), or on a node.
    pub pods: Vec<Value>,
    pub endpoints: Option<Value>,
    /// The ReplicaSets a Deployment controls.
    pub replica_sets: Vec<Value>,
    /// A node's lease in `kube-node-lease`, or why it could not be read.
    pub lease: Option<std::result::Result<Value, String>>,
}

/// The description of one object.
pub fn describe(info: &ResourceInfo, obj: &Value, rel: &Related, now: Timestamp) -> String {
    let mut w = Writer::default();
    match info.kind {
        "Pod" => describe_pod::pod(&mut w, obj),
        "Node" => describe_node::node(&mut w, obj, rel, now),
        "ReplicationController" | "ReplicaSet" => replicated(&mut w, info, obj, rel),
        "Deployment" => deployment(&mut w, obj, rel),
        "DaemonSet" => daemonset(&mut w, obj, rel),
        "Job" => job(&mut w, obj, now),
        "CronJob" => cronjob(&mut w, obj),
        "Service" => service(&mut w, obj, rel),
        "Namespace" => {
            namespace(&mut w, obj);
            return w.finish();
        }
        _ => generic(&mut w, obj),
    }
    w.events(rel.events.as_deref(), now);
    w.finish()
}

pub(super) fn s<'a>(v: &'a Value, path: &[&str]) -> &'a str {
    str_at(v, path)
}

pub(super) fn controller_of(obj: &Value) -> Option<String> {
    array_at(obj, &["metadata", "ownerReferences"])
        .iter()
        .find(|r| r.get("controller").and_then(Value::as_bool) == Some(true))
        .map(|r| format!("{}/{}", s(r, &["kind"]), s(r, &["name"])))
}

pub(super) fn header(w: &mut Writer, obj: &Value, with_namespace: bool) {
    w.w(0, &format!("Name:\t{}\n", api::meta::name(obj)));
    if with_namespace {
        w.w(0, &format!("Namespace:\t{}\n", api::meta::namespace(obj)));
    }
}

/// A pod template as describe shows it, for `rollout history --revision`.
pub fn pod_template_text(template: &Value) -> String {
    let mut w = Writer::default();
    pod_template(&mut w, Some(template));
    w.finish()
}

fn pod_template(w: &mut Writer, template: Option<&Value>) {
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
fn pod_counts(rel: &Related, owner_uid: &str) -> String {
    let mut counts = [0; 4];
    for p in &rel.pods {
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

fn conditions_table(w: &mut Writer, obj: &Value) {
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

fn replicated(w: &mut Writer, info: &ResourceInfo, obj: &Value, rel: &Related) {
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
    w.w(0, &format!("Pods Status:\t{}\n", pod_counts(rel, api::meta::uid(obj))));
    pod_template(w, obj.pointer("/spec/template"));
    conditions_table(w, obj);
}

fn deployment(w: &mut Writer, d: &Value, rel: &Related) {
    header(w, d, true);
    w.w(0, &format!("CreationTimestamp:\t{}\n", age::rfc1123z(api::meta::creation_timestamp(d))));
    w.labels("", "Labels", &api::meta::labels(d));
    w.annotations("", "Annotations", &api::meta::annotations(d));
    w.w(0, &format!("Selector:\t{}\n", selector_string(d.pointer("/spec/selector"))));
    let st = |k: &str| int_at(d, &["status", k]);
    let desired = d.pointer("/spec/replicas").and_then(Value::as_i64).unwrap_or(1);
    w.w(
        0,
        &format!(
            "Replicas:\t{desired} desired | {} updated | {} total | {} available | {} unavailable\n",
            st("updatedReplicas"),
            st("replicas"),
            st("availableReplicas"),
            st("unavailableReplicas")
        ),
    );
    let strategy = match s(d, &["spec", "strategy", "type"]) {
        "" => "RollingUpdate",
        t => t,
    };
    w.w(0, &format!("StrategyType:\t{strategy}\n"));
    w.w(0, &format!("MinReadySeconds:\t{}\n", int_at(d, &["spec", "minReadySeconds"])));
    if strategy == "RollingUpdate" {
        let part = |k: &str| match d.pointer(&format!("/spec/strategy/rollingUpdate/{k}")) {
            Some(Value::String(v)) => v.clone(),
            Some(v) => v.to_string(),
            None => "25%".into(),
        };
        w.w(
            0,
            &format!(
                "RollingUpdateStrategy:\t{} max unavailable, {} max surge\n",
                part("maxUnavailable"),
                part("maxSurge")
            ),
        );
    }
    pod_template(w, d.pointer("/spec/template"));
    conditions_table(w, d);
    let (old, new) = old_and_new_replica_sets(d, &rel.replica_sets);
    w.w(0, &format!("OldReplicaSets:\t{}\n", replica_set_list(&old)));
    w.w(0, &format!("NewReplicaSet:\t{}\n", replica_set_list(&new.into_iter().collect::<Vec<_>>())));
}

/// As kubectl: the new ReplicaSet is the oldest whose pod template is the
/// Deployment's (its `pod-template-hash` label aside); the old ones shown are
/// the others that still want pods.
fn old_and_new_replica_sets<'a>(d: &Value, sets: &'a [Value]) -> (Vec<&'a Value>, Option<&'a Value>) {
    let template = d.pointer("/spec/template");
    let same_template =
        |rs: &Value| rs.pointer("/spec/template").map(super::rollout::without_hash).as_ref() == template;
    let mut by_age: Vec<&Value> = sets.iter().collect();
    by_age.sort_by_key(|rs| api::meta::creation_timestamp(rs).to_string());
    let new = by_age.iter().copied().find(|rs| same_template(rs));
    let old = by_age
        .into_iter()
        .filter(|rs| new.is_none_or(|n| api::meta::uid(n) != api::meta::uid(rs)))
        .filter(|rs| rs.pointer("/spec/replicas").and_then(Value::as_i64) != Some(0))
        .collect();
    (old, new)
}

fn replica_set_list(sets: &[&Value]) -> String {
    if sets.is_empty() {
        return "<none>".to_string();
    }
    let one = |rs: &&Value| {
        let wanted = rs.pointer("/spec/replicas").and_then(Value::as_i64).unwrap_or(1);
        format!("{} ({}/{wanted} replicas created)", api::meta::name(rs), int_at(rs, &["status", "replicas"]))
    };
    sets.iter().map(one).collect::<Vec<_>>().join(", ")
}

fn daemonset(w: &mut Writer, ds: &Value, rel: &Related) {
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
    w.w(0, &format!("Pods Status:\t{}\n", pod_counts(rel, api::meta::uid(ds))));
    pod_template(w, ds.pointer("/spec/template"));
}

fn job(w: &mut Writer, j: &Value, _now: Timestamp) {
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

fn cronjob(w: &mut Writer, cj: &Value) {
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

fn service(w: &mut Writer, svc: &Value, rel: &Related) {
    header(w, svc, true);
    w.labels("", "Labels", &api::meta::labels(svc));
    w.annotations("", "Annotations", &api::meta::annotations(svc));
    w.w(0, &format!("Selector:\t{}\n", format_labels(&string_map(svc.pointer("/spec/selector")))));
    let kind = match s(svc, &["spec", "type"]) {
        "" => "ClusterIP",
        t => t,
    };
    w.w(0, &format!("Type:\t{kind}\n"));
    if !s(svc, &["spec", "ipFamilyPolicy"]).is_empty() {
        w.w(0, &format!("IP Family Policy:\t{}\n", s(svc, &["spec", "ipFamilyPolicy"])));
    }
    let families: Vec<&str> = array_at(svc, &["spec", "ipFamilies"]).iter().filter_map(Value::as_str).collect();
    if !families.is_empty() {
        w.w(0, &format!("IP Families:\t{}\n", families.join(",")));
    }
    // An ExternalName service has no cluster IP: kubectl prints the empty field.
    w.w(0, &format!("IP:\t{}\n", s(svc, &["spec", "clusterIP"])));
    let ips: Vec<&str> = array_at(svc, &["spec", "clusterIPs"]).iter().filter_map(Value::as_str).collect();
    if !ips.is_empty() {
        w.w(0, &format!("IPs:\t{}\n", ips.join(",")));
    }
    if !s(svc, &["spec", "externalName"]).is_empty() {
        w.w(0, &format!("External Name:\t{}\n", s(svc, &["spec", "externalName"])));
    }
    let ingress: Vec<&str> =
        array_at(svc, &["status", "loadBalancer", "ingress"]).iter().map(|i| s(i, &["ip"])).collect();
    if !ingress.is_empty() {
        w.w(0, &format!("LoadBalancer Ingress:\t{}\n", ingress.join(", ")));
    }
    for p in array_at(svc, &["spec", "ports"]) {
        let name = match s(p, &["name"]) {
            "" => "<unset>",
            n => n,
        };
        let proto = match s(p, &["protocol"]) {
            "" => "TCP",
            pr => pr,
        };
        w.w(0, &format!("Port:\t{name}  {}/{proto}\n", int_at(p, &["port"])));
        let target = match p.get("targetPort") {
            Some(Value::String(t)) => t.clone(),
            Some(t) => t.to_string(),
            None => int_at(p, &["port"]).to_string(),
        };
        w.w(0, &format!("TargetPort:\t{target}/{proto}\n"));
        if int_at(p, &["nodePort"]) != 0 {
            w.w(0, &format!("NodePort:\t{name}  {}/{proto}\n", int_at(p, &["nodePort"])));
        }
        w.w(0, &format!("Endpoints:\t{}\n", format_endpoints(rel.endpoints.as_ref(), s(p, &["name"]))));
    }
    let affinity = match s(svc, &["spec", "sessionAffinity"]) {
        "" => "None",
        a => a,
    };
    w.w(0, &format!("Session Affinity:\t{affinity}\n"));
    if matches!(kind, "NodePort" | "LoadBalancer") {
        let policy = match s(svc, &["spec", "externalTrafficPolicy"]) {
            "" => "Cluster",
            p => p,
        };
        w.w(0, &format!("External Traffic Policy:\t{policy}\n"));
    }
}

/// A service port's ready endpoints as kubectl prints them: `ip:port` for
/// the endpoint ports of the same name (the port number may differ per
/// subset), at most three and then `+ N more...`, or `<none>` when the
/// Endpoints has no subsets.
fn format_endpoints(endpoints: Option<&Value>, port_name: &str) -> String {
    const SHOWN: usize = 3;
    let subsets = endpoints.map_or(&[][..], |ep| array_at(ep, &["subsets"]));
    if subsets.is_empty() {
        return "<none>".to_string();
    }
    let mut all = Vec::new();
    for subset in subsets {
        let addresses = array_at(subset, &["addresses"]);
        let ports = array_at(subset, &["ports"]);
        if ports.is_empty() {
            // A headless service may have no ports.
            all.extend(addresses.iter().map(|a| s(a, &["ip"]).to_string()));
        }
        for port in ports.iter().filter(|pt| s(pt, &["name"]) == port_name) {
            let number = int_at(port, &["port"]);
            all.extend(addresses.iter().map(|a| format!("{}:{number}", s(a, &["ip"]))));
        }
    }
    match all.len().checked_sub(SHOWN) {
        Some(more) if more > 0 => format!("{} + {more} more...", all[..SHOWN].join(",")),
        _ => all.join(","),
    }
}

fn namespace(w: &mut Writer, ns: &Value) {
    header(w, ns, false);
    w.labels("", "Labels", &api::meta::labels(ns));
    w.annotations("", "Annotations", &api::meta::annotations(ns));
    w.w(0, &format!("Status:\t{}\n", s(ns, &["status", "phase"])));
    w.w(0, "\nNo resource quota.\n\nNo LimitRange resource.\n");
}

/// The words of a field name as describe titles them: `apiVersion` → `API Version`.
pub fn smart_label(field: &str) -> String {
    if field.chars().any(|c| !c.is_alphabetic() && c != '-') {
        return field.to_string();
    }
    const ACRONYMS: [&str; 5] = ["API", "URL", "UID", "OSB", "GUID"];
    camel_words(field)
        .into_iter()
        .map(|part| {
            let upper = part.to_uppercase();
            if ACRONYMS.contains(&upper.as_str()) {
                upper
            } else {
                let mut c = part.chars();
                c.next().map(|f| f.to_uppercase().chain(c).collect()).unwrap_or_default()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Splits camelCase into words; a run of capitals before a lowercase letter
/// gives its last capital to the next word (`podIP` → pod IP, `HTMLParser` → HTML Parser).
fn camel_words(s: &str) -> Vec<String> {
    let mut runs: Vec<(bool, String)> = Vec::new();
    for c in s.chars() {
        let upper = c.is_uppercase();
        match runs.last_mut() {
            Some((u, run)) if *u == upper => run.push(c),
            _ => runs.push((upper, c.to_string())),
        }
    }
    for i in 0..runs.len().saturating_sub(1) {
        if runs[i].0 && !runs[i + 1].0 {
            let last = runs[i].1.pop().expect("non-empty run");
            runs[i + 1].1.insert(0, last);
        }
    }
    runs.into_iter().map(|(_, r)| r).filter(|r| !r.is_empty()).collect()
}

fn generic(w: &mut Writer, obj: &Value) {
    header(w, obj, !api::meta::namespace(obj).is_empty());
    w.labels("", "Labels", &api::meta::labels(obj));
    w.annotations("", "Annotations", &api::meta::annotations(obj));
    const SKIP: [&str; 5] = [
        ".metadata.managedFields",
        ".metadata.name",
        ".metadata.namespace",
        ".metadata.labels",
        ".metadata.annotations",
    ];
    if let Some(map) = obj.as_object() {
        unstructured(w, 0, map, "", &SKIP);
    }
}

fn unstructured(w: &mut Writer, level: usize, map: &serde_json::Map<String, Value>, prefix: &str, skip: &[&str]) {
    for (field, value) in map {
        let path = format!("{prefix}.{field}");
        if skip.contains(&path.as_str()) {
            continue;
        }
        match value {
            Value::Object(inner) => {
                w.w(level, &format!("{}:\n", smart_label(field)));
                unstructured(w, level + 1, inner, &path, skip);
            }
            Value::Array(items) => {
                w.w(level, &format!("{}:\n", smart_label(field)));
                for item in items {
                    match item {
                        Value::Object(inner) => unstructured(w, level + 1, inner, &path, skip),
                        Value::String(s) => w.w(level + 1, &format!("{s}\n")),
                        other => w.w(level + 1, &format!("{other}\n")),
                    }
                }
            }
            Value::String(s) => w.w(level, &format!("{}:\t{s}\n", smart_label(field))),
            Value::Null => w.w(level, &format!("{}:\t<nil>\n", smart_label(field))),
            other => w.w(level, &format!("{}:\t{other}\n", smart_label(field))),
        }
    }
}

#[cfg(test)]
mod tests {
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

    #[test]
    fn services_list_endpoints_per_port_as_kubectl() {
        let subset = |ips: &[&str], ports: Value| json!({"addresses": ips.iter().map(|ip| json!({"ip": ip})).collect::<Vec<_>>(), "ports": ports});
        let eps = json!({"subsets": [
            subset(&["10.0.0.1", "10.0.0.2"], json!([{"name": "http", "port": 8080}, {"name": "https", "port": 8443}])),
            subset(&["10.0.0.3", "10.0.0.4"], json!([{"name": "http", "port": 9090}]))]});
        assert_eq!(format_endpoints(Some(&eps), "https"), "10.0.0.1:8443,10.0.0.2:8443");
        assert_eq!(format_endpoints(Some(&eps), "http"), "10.0.0.1:8080,10.0.0.2:8080,10.0.0.3:9090 + 1 more...");
        let three = json!({"subsets": [subset(&["10.0.0.1", "10.0.0.2", "10.0.0.3"], json!([{"port": 8080}]))]});
        assert_eq!(format_endpoints(Some(&three), ""), "10.0.0.1:8080,10.0.0.2:8080,10.0.0.3:8080");
        assert_eq!(format_endpoints(Some(&json!({"metadata": {"name": "x"}})), ""), "<none>");
        assert_eq!(format_endpoints(None, ""), "<none>");

        let svc = json!({"kind": "Service", "metadata": {"name": "ext", "namespace": "default"},
            "spec": {"type": "ExternalName", "externalName": "api.example.org", "ports": [{"port": 80, "protocol": "TCP", "targetPort": 80}],
                     "sessionAffinity": "None"}});
        let text = describe(api::registry::lookup("svc").unwrap(), &svc, &Related::default(), now());
        assert!(
            text.contains("Type:              ExternalName\nIP:                \nExternal Name:     api.example.org\n"),
            "{text}"
        );
        assert!(text.contains("Endpoints:         <none>\n"), "{text}");
    }

    #[test]
    fn deployments_name_their_old_and_new_replica_sets() {
        let template = |image: &str| json!({"metadata": {"labels": {"app": "kubia"}}, "spec": {"containers": [{"name": "kubia", "image": image}]}});
        let with_hash = |image: &str, hash: &str| {
            let mut t = template(image);
            t["metadata"]["labels"]["pod-template-hash"] = hash.into();
            t
        };
        let rs = |name: &str, created: &str, t: Value, want: i64, have: i64| {
            json!({
            "metadata": {"name": name, "uid": name, "creationTimestamp": created},
            "spec": {"replicas": want, "template": t}, "status": {"replicas": have}})
        };
        let d = json!({"spec": {"template": template("luksa/kubia:v2")}});
        let sets = [
            rs("kubia-v2", "2021-10-27T09:02:00Z", with_hash("luksa/kubia:v2", "b"), 3, 2),
            rs("kubia-v1", "2021-10-27T09:00:00Z", with_hash("luksa/kubia:v1", "a"), 1, 1),
            rs("kubia-v0", "2021-10-26T09:00:00Z", with_hash("luksa/kubia:v0", "z"), 0, 0),
        ];
        let (old, new) = old_and_new_replica_sets(&d, &sets);
        assert_eq!(replica_set_list(&old), "kubia-v1 (1/1 replicas created)");
        assert_eq!(replica_set_list(&new.into_iter().collect::<Vec<_>>()), "kubia-v2 (2/3 replicas created)");
        // Paused before its new ReplicaSet exists: no new one yet.
        let paused = json!({"spec": {"template": template("luksa/kubia:v3")}});
        let (old, new) = old_and_new_replica_sets(&paused, &sets);
        assert_eq!(new, None);
        assert_eq!(replica_set_list(&old), "kubia-v1 (1/1 replicas created), kubia-v2 (2/3 replicas created)");
        assert_eq!(replica_set_list(&[]), "<none>");
    }

    #[test]
    fn namespaces_mention_quotas() {
        let ns = json!({"metadata": {"name": "custom-namespace", "labels": {"kubernetes.io/metadata.name": "custom-namespace"}},
                        "status": {"phase": "Active"}});
        let text = describe(
            api::registry::lookup("ns").unwrap(),
            &ns,
            &Related { events: Some(vec![]), ..Default::default() },
            now(),
        );
        assert_eq!(
            text,
            "Name:         custom-namespace\nLabels:       kubernetes.io/metadata.name=custom-namespace\nAnnotations:  <none>\n\
             Status:       Active\n\nNo resource quota.\n\nNo LimitRange resource.\n"
        );
    }

    #[test]
    fn other_kinds_use_the_generic_layout() {
        let lease = json!({"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
            "metadata": {"name": "n1", "namespace": "kube-node-lease", "uid": "x", "resourceVersion": "5"},
            "spec": {"holderIdentity": "n1", "leaseDurationSeconds": 40}});
        let text = describe(api::registry::lookup("leases").unwrap(), &lease, &Related::default(), now());
        assert_eq!(
            text,
            "\
Name:         n1
Namespace:    kube-node-lease
Labels:       <none>
Annotations:  <none>
API Version:  coordination.k8s.io/v1
Kind:         Lease
Metadata:
  Resource Version:  5
  UID:               x
Spec:
  Holder Identity:         n1
  Lease Duration Seconds:  40
"
        );
    }

    #[test]
    fn smart_labels() {
        assert_eq!(smart_label("apiVersion"), "API Version");
        assert_eq!(smart_label("creationTimestamp"), "Creation Timestamp");
        assert_eq!(smart_label("uid"), "UID");
        assert_eq!(smart_label("podIP"), "Pod IP");
        assert_eq!(smart_label("HTMLParser"), "HTML Parser");
        assert_eq!(smart_label("x509"), "x509");
    }
}
