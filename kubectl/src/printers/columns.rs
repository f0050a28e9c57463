//! The table columns `kubectl get` prints per kind, as Kubernetes' server-side
//! printers define them (pkg/printers/internalversion): headers, the extra
//! `-o wide` columns, and how each cell is computed from the object.

use crate::age;
use api::ResourceInfo;
use jiff::Timestamp;
use serde_json::Value;
use std::collections::BTreeMap;

/// The column headers for a kind (`wide` adds the priority-1 columns).
pub fn headers(info: &ResourceInfo, wide: bool) -> Vec<&'static str> {
    let (normal, extra): (&[&str], &[&str]) = match info.kind {
        "Pod" => {
            (&["NAME", "READY", "STATUS", "RESTARTS", "AGE"], &["IP", "NODE", "NOMINATED NODE", "READINESS GATES"])
        }
        "Namespace" => (&["NAME", "STATUS", "AGE"], &[]),
        "Node" => (
            &["NAME", "STATUS", "ROLES", "AGE", "VERSION"],
            &["INTERNAL-IP", "EXTERNAL-IP", "OS-IMAGE", "KERNEL-VERSION", "CONTAINER-RUNTIME"],
        ),
        "ReplicationController" | "ReplicaSet" => {
            (&["NAME", "DESIRED", "CURRENT", "READY", "AGE"], &["CONTAINERS", "IMAGES", "SELECTOR"])
        }
        "Deployment" => (&["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"], &["CONTAINERS", "IMAGES", "SELECTOR"]),
        "DaemonSet" => (
            &["NAME", "DESIRED", "CURRENT", "READY", "UP-TO-DATE", "AVAILABLE", "NODE SELECTOR", "AGE"],
            &["CONTAINERS", "IMAGES", "SELECTOR"],
        ),
        "Job" => (&["NAME", "STATUS", "COMPLETIONS", "DURATION", "AGE"], &["CONTAINERS", "IMAGES", "SELECTOR"]),
        "CronJob" => (
            &["NAME", "SCHEDULE", "TIMEZONE", "SUSPEND", "ACTIVE", "LAST SCHEDULE", "AGE"],
            &["CONTAINERS", "IMAGES", "SELECTOR"],
        ),
        "Service" => (&["NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE"], &["SELECTOR"]),
        "Endpoints" => (&["NAME", "ENDPOINTS", "AGE"], &[]),
        "Event" => {
            // Wide puts its extra columns between the others, so it is spelled out whole.
            if wide {
                return vec![
                    "LAST SEEN",
                    "TYPE",
                    "REASON",
                    "OBJECT",
                    "SUBOBJECT",
                    "SOURCE",
                    "MESSAGE",
                    "FIRST SEEN",
                    "COUNT",
                    "NAME",
                ];
            }
            (&["LAST SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"], &[])
        }
        "Lease" => (&["NAME", "HOLDER", "AGE"], &[]),
        _ => (&["NAME", "AGE"], &[]),
    };
    let mut h = normal.to_vec();
    if wide {
        h.extend_from_slice(extra);
    }
    h
}

/// The cells of one object's row, matching `headers(info, wide)`.
pub fn row(info: &ResourceInfo, obj: &Value, wide: bool, now: Timestamp) -> Vec<String> {
    let name = api::meta::name(obj).to_string();
    let age = age::age_at(api::meta::creation_timestamp(obj), now);
    let (normal, extra) = match info.kind {
        "Pod" => pod_row(obj, now),
        "Namespace" => (vec![name, str_at(obj, &["status", "phase"]).to_string(), age], vec![]),
        "Node" => node_row(obj, name, age),
        "ReplicationController" | "ReplicaSet" => {
            let cells = vec![
                name,
                int_at(obj, &["spec", "replicas"]).to_string(),
                int_at(obj, &["status", "replicas"]).to_string(),
                int_at(obj, &["status", "readyReplicas"]).to_string(),
                age,
            ];
            (cells, template_cells(obj, &["spec", "template"], &selector_string(obj.pointer("/spec/selector"))))
        }
        "Deployment" => {
            let cells = vec![
                name,
                format!("{}/{}", int_at(obj, &["status", "readyReplicas"]), int_at(obj, &["spec", "replicas"])),
                int_at(obj, &["status", "updatedReplicas"]).to_string(),
                int_at(obj, &["status", "availableReplicas"]).to_string(),
                age,
            ];
            (cells, template_cells(obj, &["spec", "template"], &selector_string(obj.pointer("/spec/selector"))))
        }
        "DaemonSet" => {
            let node_selector = format_labels(&string_map(obj.pointer("/spec/template/spec/nodeSelector")));
            let cells = vec![
                name,
                int_at(obj, &["status", "desiredNumberScheduled"]).to_string(),
                int_at(obj, &["status", "currentNumberScheduled"]).to_string(),
                int_at(obj, &["status", "numberReady"]).to_string(),
                int_at(obj, &["status", "updatedNumberScheduled"]).to_string(),
                int_at(obj, &["status", "numberAvailable"]).to_string(),
                node_selector,
                age,
            ];
            (cells, template_cells(obj, &["spec", "template"], &selector_string(obj.pointer("/spec/selector"))))
        }
        "Job" => job_row(obj, name, age, now),
        "CronJob" => cronjob_row(obj, name, age, now),
        "Service" => service_row(obj, name, age),
        "Endpoints" => (vec![name, format_endpoints(obj), age], vec![]),
        "Event" => return event_row(obj, wide, now),
        "Lease" => (vec![name, str_at(obj, &["spec", "holderIdentity"]).to_string(), age], vec![]),
        _ => (vec![name, age], vec![]),
    };
    let mut cells = normal;
    if wide {
        cells.extend(extra);
    }
    cells
}

pub(crate) fn str_at<'a>(obj: &'a Value, path: &[&str]) -> &'a str {
    path.iter().try_fold(obj, |v, k| v.get(*k)).and_then(Value::as_str).unwrap_or("")
}

pub(crate) fn int_at(obj: &Value, path: &[&str]) -> i64 {
    path.iter().try_fold(obj, |v, k| v.get(*k)).and_then(Value::as_i64).unwrap_or(0)
}

pub(crate) fn array_at<'a>(obj: &'a Value, path: &[&str]) -> &'a [Value] {
    path.iter().try_fold(obj, |v, k| v.get(*k)).and_then(Value::as_array).map(Vec::as_slice).unwrap_or(&[])
}

pub(crate) fn string_map(v: Option<&Value>) -> BTreeMap<String, String> {
    v.and_then(Value::as_object)
        .map(|m| m.iter().map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string())).collect())
        .unwrap_or_default()
}

/// `labels.FormatLabels`: `a=b,c=d`, or `<none>`.
pub fn format_labels(labels: &BTreeMap<String, String>) -> String {
    if labels.is_empty() {
        return "<none>".into();
    }
    labels.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(",")
}

/// A selector as kubectl prints it: an RC's plain map, or a `LabelSelector`'s
/// matchLabels and matchExpressions (`app=kubia,env in (dev,prod),!gpu`).
pub fn selector_string(sel: Option<&Value>) -> String {
    let Some(sel) = sel.filter(|s| s.is_object()) else {
        return "<none>".into();
    };
    let has_structure = sel.get("matchLabels").is_some() || sel.get("matchExpressions").is_some();
    if !has_structure {
        return format_labels(&string_map(Some(sel)));
    }
    let mut reqs: Vec<(String, String)> =
        string_map(sel.get("matchLabels")).into_iter().map(|(k, v)| (k.clone(), format!("{k}={v}"))).collect();
    for expr in sel.get("matchExpressions").and_then(Value::as_array).into_iter().flatten() {
        let key = str_at(expr, &["key"]).to_string();
        let mut values: Vec<&str> = array_at(expr, &["values"]).iter().filter_map(Value::as_str).collect();
        values.sort_unstable();
        let text = match str_at(expr, &["operator"]) {
            "In" => format!("{key} in ({})", values.join(",")),
            "NotIn" => format!("{key} notin ({})", values.join(",")),
            "Exists" => key.clone(),
            "DoesNotExist" => format!("!{key}"),
            other => format!("{key} {other}"),
        };
        reqs.push((key, text));
    }
    if reqs.is_empty() {
        return "<none>".into();
    }
    reqs.sort();
    reqs.into_iter().map(|(_, t)| t).collect::<Vec<_>>().join(",")
}

/// CONTAINERS, IMAGES and SELECTOR of a workload's pod template.
fn template_cells(obj: &Value, template: &[&str], selector: &str) -> Vec<String> {
    let mut path = template.to_vec();
    path.extend(["spec", "containers"]);
    let containers = array_at(obj, &path);
    let names: Vec<&str> = containers.iter().map(|c| str_at(c, &["name"])).collect();
    let images: Vec<&str> = containers.iter().map(|c| str_at(c, &["image"])).collect();
    vec![names.join(","), images.join(","), selector.to_string()]
}

fn or_none(s: &str) -> String {
    if s.is_empty() {
        "<none>".into()
    } else {
        s.to_string()
    }
}

fn has_condition(obj: &Value, kind: &str) -> bool {
    array_at(obj, &["status", "conditions"])
        .iter()
        .any(|c| str_at(c, &["type"]) == kind && str_at(c, &["status"]) == "True")
}

/// READY, STATUS and RESTARTS follow Kubernetes' `printPod`, init containers included.
fn pod_row(pod: &Value, now: Timestamp) -> (Vec<String>, Vec<String>) {
    let containers = array_at(pod, &["spec", "containers"]);
    let init_specs = array_at(pod, &["spec", "initContainers"]);
    let restartable = |name: &str| {
        init_specs.iter().any(|c| str_at(c, &["name"]) == name && str_at(c, &["restartPolicy"]) == "Always")
    };
    let total = containers.len() + init_specs.iter().filter(|c| str_at(c, &["restartPolicy"]) == "Always").count();
    let mut ready = 0;
    let mut restarts = 0;
    let mut sidecar_restarts = 0;
    let mut last_restart = String::new();
    let mut sidecar_last_restart = String::new();
    let phase = str_at(pod, &["status", "phase"]);
    let mut reason = if str_at(pod, &["status", "reason"]).is_empty() {
        phase.to_string()
    } else {
        str_at(pod, &["status", "reason"]).to_string()
    };
    if array_at(pod, &["status", "conditions"])
        .iter()
        .any(|c| str_at(c, &["type"]) == "PodScheduled" && str_at(c, &["reason"]) == "SchedulingGated")
    {
        reason = "SchedulingGated".into();
    }
    let later = |a: &mut String, b: &str| {
        if b > a.as_str() {
            *a = b.to_string();
        }
    };

    let init_statuses = array_at(pod, &["status", "initContainerStatuses"]);
    let mut initializing = false;
    for (i, status) in init_statuses.iter().enumerate() {
        let count = int_at(status, &["restartCount"]);
        restarts += count;
        let finished = str_at(status, &["lastState", "terminated", "finishedAt"]);
        later(&mut last_restart, finished);
        let name = str_at(status, &["name"]);
        if restartable(name) {
            sidecar_restarts += count;
            later(&mut sidecar_last_restart, finished);
        }
        let terminated = status.pointer("/state/terminated");
        let waiting_reason = str_at(status, &["state", "waiting", "reason"]);
        if terminated.is_some_and(|t| int_at(t, &["exitCode"]) == 0) {
            continue;
        }
        if restartable(name) && status.get("started").and_then(Value::as_bool) == Some(true) {
            if status.get("ready").and_then(Value::as_bool) == Some(true) {
                ready += 1;
            }
            continue;
        }
        if let Some(t) = terminated {
            let r = str_at(t, &["reason"]);
            reason = if !r.is_empty() {
                format!("Init:{r}")
            } else if int_at(t, &["signal"]) != 0 {
                format!("Init:Signal:{}", int_at(t, &["signal"]))
            } else {
                format!("Init:ExitCode:{}", int_at(t, &["exitCode"]))
            };
        } else if !waiting_reason.is_empty() && waiting_reason != "PodInitializing" {
            reason = format!("Init:{waiting_reason}");
        } else {
            reason = format!("Init:{i}/{}", init_specs.len());
        }
        initializing = true;
        break;
    }

    if !initializing || has_condition(pod, "Initialized") {
        restarts = sidecar_restarts;
        last_restart = sidecar_last_restart;
        let mut has_running = false;
        let mut error_reason = String::new();
        for status in array_at(pod, &["status", "containerStatuses"]).iter().rev() {
            restarts += int_at(status, &["restartCount"]);
            later(&mut last_restart, str_at(status, &["lastState", "terminated", "finishedAt"]));
            let waiting_reason = str_at(status, &["state", "waiting", "reason"]);
            if !waiting_reason.is_empty() {
                reason = waiting_reason.to_string();
            } else if let Some(t) = status.pointer("/state/terminated") {
                let r = str_at(t, &["reason"]);
                reason = if !r.is_empty() {
                    r.to_string()
                } else if int_at(t, &["signal"]) != 0 {
                    format!("Signal:{}", int_at(t, &["signal"]))
                } else {
                    format!("ExitCode:{}", int_at(t, &["exitCode"]))
                };
                if int_at(t, &["exitCode"]) != 0 {
                    error_reason = reason.clone();
                }
            } else if status.get("ready").and_then(Value::as_bool) == Some(true)
                && status.pointer("/state/running").is_some()
            {
                has_running = true;
                ready += 1;
            }
        }
        if reason == "Completed" {
            if has_running && has_condition(pod, "Ready") {
                reason = "Running".into();
            } else if !error_reason.is_empty() {
                reason = error_reason;
            } else if has_running {
                reason = "NotReady".into();
            }
        }
    }

    if api::meta::deletion_timestamp(pod).is_some() {
        if str_at(pod, &["status", "reason"]) == "NodeLost" {
            reason = "Unknown".into();
        } else if phase != "Succeeded" && phase != "Failed" {
            reason = "Terminating".into();
        }
    }
    let restarts_cell = if restarts != 0 && !last_restart.is_empty() {
        format!("{restarts} ({} ago)", age::age_at(&last_restart, now))
    } else {
        restarts.to_string()
    };
    let cells = vec![
        api::meta::name(pod).to_string(),
        format!("{ready}/{total}"),
        reason,
        restarts_cell,
        age::age_at(api::meta::creation_timestamp(pod), now),
    ];

    let gates = array_at(pod, &["spec", "readinessGates"]);
    let gates_cell = if gates.is_empty() {
        "<none>".to_string()
    } else {
        let true_count = gates.iter().filter(|g| has_condition(pod, str_at(g, &["conditionType"]))).count();
        format!("{true_count}/{}", gates.len())
    };
    let extra = vec![
        or_none(str_at(pod, &["status", "podIP"])),
        or_none(str_at(pod, &["spec", "nodeName"])),
        or_none(str_at(pod, &["status", "nominatedNodeName"])),
        gates_cell,
    ];
    (cells, extra)
}

fn node_row(node: &Value, name: String, age: String) -> (Vec<String>, Vec<String>) {
    // As kubectl: a Ready condition that is not True (False, or Unknown when
    // the node stopped reporting) is NotReady; only a node without one is Unknown.
    let ready = array_at(node, &["status", "conditions"]).iter().find(|c| str_at(c, &["type"]) == "Ready");
    let mut status = vec![match ready.map(|c| str_at(c, &["status"])) {
        Some("True") => "Ready",
        Some(_) => "NotReady",
        None => "Unknown",
    }];
    if node.pointer("/spec/unschedulable").and_then(Value::as_bool) == Some(true) {
        status.push("SchedulingDisabled");
    }
    let mut roles: Vec<String> = Vec::new();
    for (k, v) in api::meta::labels(node) {
        if let Some(role) = k.strip_prefix("node-role.kubernetes.io/") {
            if !role.is_empty() {
                roles.push(role.to_string());
            }
        } else if k == "kubernetes.io/role" && !v.is_empty() {
            roles.push(v);
        }
    }
    roles.sort();
    roles.dedup();
    let roles = if roles.is_empty() { "<none>".to_string() } else { roles.join(",") };
    let address = |kind: &str| {
        array_at(node, &["status", "addresses"])
            .iter()
            .find(|a| str_at(a, &["type"]) == kind)
            .map(|a| str_at(a, &["address"]).to_string())
            .unwrap_or_else(|| "<none>".into())
    };
    let info = |field: &str| {
        let v = str_at(node, &["status", "nodeInfo", field]);
        if v.is_empty() {
            "<unknown>".to_string()
        } else {
            v.to_string()
        }
    };
    let cells =
        vec![name, status.join(","), roles, age, str_at(node, &["status", "nodeInfo", "kubeletVersion"]).to_string()];
    let extra = vec![
        address("InternalIP"),
        address("ExternalIP"),
        info("osImage"),
        info("kernelVersion"),
        info("containerRuntimeVersion"),
    ];
    (cells, extra)
}

fn job_row(job: &Value, name: String, age: String, now: Timestamp) -> (Vec<String>, Vec<String>) {
    let succeeded = int_at(job, &["status", "succeeded"]);
    let completions = match job.pointer("/spec/completions").and_then(Value::as_i64) {
        Some(c) => format!("{succeeded}/{c}"),
        None => {
            let parallelism = int_at(job, &["spec", "parallelism"]);
            if parallelism > 1 {
                format!("{succeeded}/1 of {parallelism}")
            } else {
                format!("{succeeded}/1")
            }
        }
    };
    let start = str_at(job, &["status", "startTime"]);
    let end = str_at(job, &["status", "completionTime"]);
    let duration = match (start.is_empty(), end.is_empty()) {
        (true, _) => String::new(),
        (false, true) => age::age_at(start, now),
        (false, false) => age::between(start, end).unwrap_or_default(),
    };
    let status = if has_condition(job, "Complete") {
        "Complete"
    } else if has_condition(job, "Failed") {
        "Failed"
    } else if api::meta::deletion_timestamp(job).is_some() {
        "Terminating"
    } else if has_condition(job, "Suspended") {
        "Suspended"
    } else if has_condition(job, "FailureTarget") {
        "FailureTarget"
    } else if has_condition(job, "SuccessCriteriaMet") {
        "SuccessCriteriaMet"
    } else {
        "Running"
    };
    let cells = vec![name, status.to_string(), completions, duration, age];
    (cells, template_cells(job, &["spec", "template"], &selector_string(job.pointer("/spec/selector"))))
}

fn cronjob_row(cj: &Value, name: String, age: String, now: Timestamp) -> (Vec<String>, Vec<String>) {
    let suspend = match cj.pointer("/spec/suspend").and_then(Value::as_bool) {
        Some(true) => "True",
        Some(false) => "False",
        None => "<unset>",
    };
    let last = str_at(cj, &["status", "lastScheduleTime"]);
    let last = if last.is_empty() { "<none>".to_string() } else { age::age_at(last, now) };
    let cells = vec![
        name,
        str_at(cj, &["spec", "schedule"]).to_string(),
        or_none(str_at(cj, &["spec", "timeZone"])),
        suspend.to_string(),
        array_at(cj, &["status", "active"]).len().to_string(),
        last,
        age,
    ];
    let selector = selector_string(cj.pointer("/spec/jobTemplate/spec/selector"));
    (cells, template_cells(cj, &["spec", "jobTemplate", "spec", "template"], &selector))
}

fn service_row(svc: &Value, name: String, age: String) -> (Vec<String>, Vec<String>) {
    let kind = str_at(svc, &["spec", "type"]);
    let kind = if kind.is_empty() { "ClusterIP" } else { kind };
    let external_ips: Vec<&str> = array_at(svc, &["spec", "externalIPs"]).iter().filter_map(Value::as_str).collect();
    let external = match kind {
        "ClusterIP" | "NodePort" => or_none(&external_ips.join(",")),
        "LoadBalancer" => {
            // The ingress addresses as a sorted set, then any externalIPs, never cut
            // short: the apiserver prints tables wide, so kubectl shows them all.
            let ingress: std::collections::BTreeSet<&str> = array_at(svc, &["status", "loadBalancer", "ingress"])
                .iter()
                .map(|i| if str_at(i, &["ip"]).is_empty() { str_at(i, &["hostname"]) } else { str_at(i, &["ip"]) })
                .filter(|a| !a.is_empty())
                .collect();
            let mut ips: Vec<&str> = ingress.into_iter().collect();
            ips.extend(external_ips.iter().copied());
            if ips.is_empty() {
                "<pending>".to_string()
            } else {
                ips.join(",")
            }
        }
        "ExternalName" => str_at(svc, &["spec", "externalName"]).to_string(),
        _ => "<unknown>".to_string(),
    };
    let ports: Vec<String> = array_at(svc, &["spec", "ports"])
        .iter()
        .map(|p| {
            let proto = match str_at(p, &["protocol"]) {
                "" => "TCP",
                other => other,
            };
            match int_at(p, &["nodePort"]) {
                0 => format!("{}/{proto}", int_at(p, &["port"])),
                node_port => format!("{}:{node_port}/{proto}", int_at(p, &["port"])),
            }
        })
        .collect();
    let ports = if ports.is_empty() { "<none>".to_string() } else { ports.join(",") };
    let cells = vec![name, kind.to_string(), or_none(str_at(svc, &["spec", "clusterIP"])), external, ports, age];
    (cells, vec![format_labels(&string_map(svc.pointer("/spec/selector")))])
}

/// `ip:port,ip:port,ip:port + N more...`, as kubectl's `formatEndpoints`.
fn format_endpoints(ep: &Value) -> String {
    const MAX: usize = 3;
    let mut shown = Vec::new();
    let mut total = 0;
    for subset in array_at(ep, &["subsets"]) {
        let ports = array_at(subset, &["ports"]);
        for addr in array_at(subset, &["addresses"]) {
            let ip = str_at(addr, &["ip"]);
            if ports.is_empty() {
                total += 1;
                if shown.len() < MAX {
                    shown.push(ip.to_string());
                }
            }
            for port in ports {
                total += 1;
                if shown.len() < MAX {
                    shown.push(format!("{ip}:{}", int_at(port, &["port"])));
                }
            }
        }
    }
    if shown.is_empty() {
        return "<none>".into();
    }
    let mut text = shown.join(",");
    if total > shown.len() {
        text.push_str(&format!(" + {} more...", total - shown.len()));
    }
    text
}

fn event_row(ev: &Value, wide: bool, now: Timestamp) -> Vec<String> {
    let first = match str_at(ev, &["firstTimestamp"]) {
        "" => age::age_at(str_at(ev, &["eventTime"]), now),
        t => age::age_at(t, now),
    };
    let mut last = match str_at(ev, &["lastTimestamp"]) {
        "" => first.clone(),
        t => age::age_at(t, now),
    };
    let mut count = int_at(ev, &["count"]);
    if let Some(series) = ev.get("series").filter(|s| s.is_object()) {
        last = age::age_at(str_at(series, &["lastObservedTime"]), now);
        count = int_at(series, &["count"]);
    } else if count == 0 {
        count = 1;
    }
    let kind = str_at(ev, &["involvedObject", "kind"]).to_ascii_lowercase();
    let object_name = str_at(ev, &["involvedObject", "name"]);
    let target = if object_name.is_empty() { kind } else { format!("{kind}/{object_name}") };
    let message = str_at(ev, &["message"]).trim().to_string();
    let kind_cell = str_at(ev, &["type"]).to_string();
    let reason = str_at(ev, &["reason"]).to_string();
    if !wide {
        return vec![last, kind_cell, reason, target, message];
    }
    let component = str_at(ev, &["source", "component"]);
    let host = str_at(ev, &["source", "host"]);
    let source = match (component.is_empty(), host.is_empty()) {
        (true, _) => str_at(ev, &["reportingController"]).to_string(),
        (false, true) => component.to_string(),
        (false, false) => format!("{component}, {host}"),
    };
    vec![
        last,
        kind_cell,
        reason,
        target,
        str_at(ev, &["involvedObject", "fieldPath"]).to_string(),
        source,
        message,
        first,
        count.to_string(),
        api::meta::name(ev).to_string(),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use api::registry::lookup;
    use serde_json::json;

    fn now() -> Timestamp {
        "2021-10-27T10:00:00Z".parse().unwrap()
    }

    fn running_pod() -> Value {
        json!({
            "metadata": {"name": "kubia", "creationTimestamp": "2021-10-27T08:40:00Z"},
            "spec": {"nodeName": "minikube-m02", "containers": [{"name": "kubia", "image": "luksa/kubia"}]},
            "status": {"phase": "Running", "podIP": "10.244.1.4",
                       "conditions": [{"type": "Ready", "status": "True"}],
                       "containerStatuses": [{"name": "kubia", "ready": true, "restartCount": 0,
                                              "state": {"running": {"startedAt": "2021-10-27T08:41:00Z"}}}]}
        })
    }

    #[test]
    fn pod_rows_read_like_kubectl() {
        let pods = lookup("pods").unwrap();
        assert_eq!(headers(pods, false), ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]);
        assert_eq!(row(pods, &running_pod(), false, now()), ["kubia", "1/1", "Running", "0", "80m"]);
        assert_eq!(row(pods, &running_pod(), true, now())[5..], ["10.244.1.4", "minikube-m02", "<none>", "<none>"]);
    }

    #[test]
    fn pending_and_waiting_pods_show_their_reason() {
        let pods = lookup("pods").unwrap();
        let pending = json!({"metadata": {"name": "p"}, "spec": {"containers": [{"name": "a"}, {"name": "b"}]},
                             "status": {"phase": "Pending"}});
        assert_eq!(row(pods, &pending, false, now())[1..4], ["0/2", "Pending", "0"]);
        let creating = json!({"metadata": {"name": "p"}, "spec": {"containers": [{"name": "a"}]},
            "status": {"phase": "Pending", "containerStatuses": [
                {"name": "a", "ready": false, "restartCount": 0, "state": {"waiting": {"reason": "ContainerCreating"}}}]}});
        assert_eq!(row(pods, &creating, false, now())[2], "ContainerCreating");
    }

    #[test]
    fn restarts_show_when_they_last_happened() {
        let pods = lookup("pods").unwrap();
        let mut pod = running_pod();
        pod["status"]["containerStatuses"][0]["restartCount"] = json!(1);
        pod["status"]["containerStatuses"][0]["lastState"] =
            json!({"terminated": {"exitCode": 137, "finishedAt": "2021-10-27T09:56:26Z"}});
        assert_eq!(row(pods, &pod, false, now())[3], "1 (3m34s ago)");
    }

    #[test]
    fn container_reasons_become_the_status() {
        let pods = lookup("pods").unwrap();
        let with_state = |state: Value, restarts: i64, last: Value| {
            let mut pod = running_pod();
            pod["status"]["containerStatuses"][0]["ready"] = json!(false);
            pod["status"]["containerStatuses"][0]["state"] = state;
            pod["status"]["containerStatuses"][0]["restartCount"] = json!(restarts);
            pod["status"]["containerStatuses"][0]["lastState"] = last;
            pod
        };
        let waiting = |reason: &str| json!({"waiting": {"reason": reason}});
        for reason in ["CrashLoopBackOff", "ErrImagePull", "ImagePullBackOff", "ContainerCreating"] {
            assert_eq!(row(pods, &with_state(waiting(reason), 0, json!({})), false, now())[1..4], ["0/1", reason, "0"]);
        }
        let crashing = with_state(
            waiting("CrashLoopBackOff"),
            5,
            json!({"terminated": {"exitCode": 1, "reason": "Error", "finishedAt": "2021-10-27T09:59:55Z"}}),
        );
        assert_eq!(row(pods, &crashing, false, now())[2..4], ["CrashLoopBackOff", "5 (5s ago)"]);
        let failed = with_state(json!({"terminated": {"exitCode": 1, "reason": "Error"}}), 0, json!({}));
        assert_eq!(row(pods, &failed, false, now())[2], "Error");
        let killed = with_state(json!({"terminated": {"exitCode": 137, "signal": 9}}), 0, json!({}));
        assert_eq!(row(pods, &killed, false, now())[2], "Signal:9");
        let exited = with_state(json!({"terminated": {"exitCode": 2}}), 0, json!({}));
        assert_eq!(row(pods, &exited, false, now())[2], "ExitCode:2");
    }

    #[test]
    fn terminating_and_completed_pods() {
        let pods = lookup("pods").unwrap();
        let mut pod = running_pod();
        pod["metadata"]["deletionTimestamp"] = json!("2021-10-27T09:59:00Z");
        assert_eq!(row(pods, &pod, false, now())[2], "Terminating");
        let done = json!({"metadata": {"name": "batch-job-hpkmk"}, "spec": {"containers": [{"name": "main"}]},
            "status": {"phase": "Succeeded", "containerStatuses": [
                {"name": "main", "ready": false, "restartCount": 0, "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}}]}});
        assert_eq!(row(pods, &done, false, now())[1..3], ["0/1", "Completed"]);
    }

    #[test]
    fn init_containers_show_progress() {
        let pods = lookup("pods").unwrap();
        let pod = json!({"metadata": {"name": "p"},
            "spec": {"initContainers": [{"name": "i1"}, {"name": "i2"}], "containers": [{"name": "a"}]},
            "status": {"phase": "Pending", "initContainerStatuses": [
                {"name": "i1", "restartCount": 0, "state": {"terminated": {"exitCode": 0}}},
                {"name": "i2", "restartCount": 0, "state": {"running": {}}}]}});
        assert_eq!(row(pods, &pod, false, now())[2], "Init:1/2");
    }

    #[test]
    fn node_rows_have_status_and_roles() {
        let nodes = lookup("nodes").unwrap();
        let node = json!({"metadata": {"name": "minikube", "creationTimestamp": "2021-10-26T15:00:00Z",
                "labels": {"node-role.kubernetes.io/control-plane": "", "node-role.kubernetes.io/master": ""}},
            "spec": {"unschedulable": true},
            "status": {"conditions": [{"type": "Ready", "status": "True"}], "nodeInfo": {"kubeletVersion": "v1.20.7"},
                       "addresses": [{"type": "InternalIP", "address": "192.168.49.2"}]}});
        assert_eq!(
            row(nodes, &node, true, now()),
            [
                "minikube",
                "Ready,SchedulingDisabled",
                "control-plane,master",
                "19h",
                "v1.20.7",
                "192.168.49.2",
                "<none>",
                "<unknown>",
                "<unknown>",
                "<unknown>"
            ]
        );
        let bare =
            json!({"metadata": {"name": "m03"}, "status": {"conditions": [{"type": "Ready", "status": "False"}]}});
        assert_eq!(row(nodes, &bare, false, now())[1..3], ["NotReady", "<none>"]);
        // A node whose kubelet stopped reporting: the node controller sets Ready to Unknown.
        let lost =
            json!({"metadata": {"name": "m02"}, "status": {"conditions": [{"type": "Ready", "status": "Unknown"}]}});
        assert_eq!(row(nodes, &lost, false, now())[1], "NotReady");
        let unreported = json!({"metadata": {"name": "m04"}, "spec": {"unschedulable": true}});
        assert_eq!(row(nodes, &unreported, false, now())[1], "Unknown,SchedulingDisabled");
    }

    #[test]
    fn workload_rows() {
        let rc = json!({"metadata": {"name": "kubia", "creationTimestamp": "2021-10-27T09:59:25Z"},
            "spec": {"replicas": 3, "selector": {"app": "kubia"},
                     "template": {"spec": {"containers": [{"name": "kubia", "image": "luksa/kubia"}]}}},
            "status": {"replicas": 3, "readyReplicas": 2}});
        assert_eq!(
            row(lookup("rc").unwrap(), &rc, true, now()),
            ["kubia", "3", "3", "2", "35s", "kubia", "luksa/kubia", "app=kubia"]
        );
        let ds = json!({"metadata": {"name": "ssd-monitor", "creationTimestamp": "2021-10-27T09:59:25Z"},
            "spec": {"selector": {"matchLabels": {"app": "ssd-monitor"}},
                     "template": {"spec": {"nodeSelector": {"disk": "ssd"}, "containers": [{"name": "main"}]}}},
            "status": {}});
        assert_eq!(
            row(lookup("ds").unwrap(), &ds, false, now()),
            ["ssd-monitor", "0", "0", "0", "0", "0", "disk=ssd", "35s"]
        );
        let deploy = json!({"metadata": {"name": "kubia"}, "spec": {"replicas": 3},
                            "status": {"readyReplicas": 1, "updatedReplicas": 3, "availableReplicas": 1}});
        assert_eq!(row(lookup("deploy").unwrap(), &deploy, false, now())[1..4], ["1/3", "3", "1"]);
    }

    #[test]
    fn job_and_cronjob_rows() {
        let job = json!({"metadata": {"name": "batch-job"},
            "spec": {"completions": 5, "parallelism": 2},
            "status": {"succeeded": 5, "startTime": "2021-10-27T09:50:00Z", "completionTime": "2021-10-27T09:52:00Z",
                       "conditions": [{"type": "Complete", "status": "True"}]}});
        assert_eq!(row(lookup("jobs").unwrap(), &job, false, now())[1..4], ["Complete", "5/5", "2m"]);
        let running = json!({"metadata": {"name": "j"}, "spec": {"parallelism": 2}, "status": {}});
        assert_eq!(row(lookup("jobs").unwrap(), &running, false, now())[1..4], ["Running", "0/1 of 2", ""]);
        let cj = json!({"metadata": {"name": "c"}, "spec": {"schedule": "0,15,30,45 * * * *", "suspend": false},
                        "status": {"lastScheduleTime": "2021-10-27T09:45:00Z", "active": [{}]}});
        assert_eq!(
            row(lookup("cj").unwrap(), &cj, false, now())[1..6],
            ["0,15,30,45 * * * *", "<none>", "False", "1", "15m"]
        );
    }

    #[test]
    fn service_rows() {
        let svc = json!({"metadata": {"name": "kubia-http"},
            "spec": {"type": "LoadBalancer", "clusterIP": "10.101.223.38",
                     "ports": [{"port": 8080, "nodePort": 32161, "protocol": "TCP"}], "selector": {"run": "kubia"}}});
        assert_eq!(
            row(lookup("svc").unwrap(), &svc, true, now())[1..],
            ["LoadBalancer", "10.101.223.38", "<pending>", "8080:32161/TCP", "<unknown>", "run=kubia"]
        );
        let lb = json!({"metadata": {"name": "lb"}, "spec": {"type": "LoadBalancer", "clusterIP": "10.96.4.5"},
            "status": {"loadBalancer": {"ingress": [{"ip": "10.244.0.4"}, {"ip": "10.244.0.3"}, {"ip": "10.244.0.5"}]}}});
        assert_eq!(row(lookup("svc").unwrap(), &lb, false, now())[3], "10.244.0.3,10.244.0.4,10.244.0.5");
        let k = json!({"metadata": {"name": "kubernetes"},
            "spec": {"type": "ClusterIP", "clusterIP": "10.96.0.1", "ports": [{"port": 443, "protocol": "TCP"}]}});
        assert_eq!(
            row(lookup("svc").unwrap(), &k, false, now())[1..5],
            ["ClusterIP", "10.96.0.1", "<none>", "443/TCP"]
        );
    }

    #[test]
    fn endpoints_are_capped_at_three() {
        let ep = json!({"metadata": {"name": "kubia"}, "subsets": [{
            "addresses": [{"ip": "10.0.0.1"}, {"ip": "10.0.0.2"}, {"ip": "10.0.0.3"}, {"ip": "10.0.0.4"}],
            "ports": [{"port": 8080}]}]});
        assert_eq!(
            row(lookup("ep").unwrap(), &ep, false, now())[1],
            "10.0.0.1:8080,10.0.0.2:8080,10.0.0.3:8080 + 1 more..."
        );
        let empty = json!({"metadata": {"name": "x"}});
        assert_eq!(row(lookup("ep").unwrap(), &empty, false, now())[1], "<none>");
    }

    #[test]
    fn event_rows() {
        let ev = json!({"metadata": {"name": "kubia.1"}, "type": "Normal", "reason": "Scheduled",
            "message": "Successfully assigned default/kubia to minikube ",
            "involvedObject": {"kind": "Pod", "name": "kubia"},
            "firstTimestamp": "2021-10-27T09:59:50Z", "lastTimestamp": "2021-10-27T09:59:50Z"});
        let events = lookup("events").unwrap();
        assert_eq!(
            row(events, &ev, false, now()),
            ["10s", "Normal", "Scheduled", "pod/kubia", "Successfully assigned default/kubia to minikube"]
        );
        assert_eq!(headers(events, true).len(), row(events, &ev, true, now()).len());
    }

    #[test]
    fn selectors_print_like_kubernetes() {
        let sel = json!({"matchLabels": {"app": "kubia"},
            "matchExpressions": [{"key": "env", "operator": "In", "values": ["prod", "dev"]},
                                 {"key": "gpu", "operator": "DoesNotExist"}]});
        assert_eq!(selector_string(Some(&sel)), "app=kubia,env in (dev,prod),!gpu");
        assert_eq!(selector_string(Some(&json!({"app": "kubia"}))), "app=kubia");
        assert_eq!(selector_string(None), "<none>");
    }

    #[test]
    fn kinds_without_a_printer_get_name_and_age() {
        let ns = lookup("leases").unwrap();
        assert_eq!(headers(ns, false), ["NAME", "HOLDER", "AGE"]);
        let binding = lookup("bindings").unwrap();
        assert_eq!(headers(binding, true), ["NAME", "AGE"]);
    }
}
