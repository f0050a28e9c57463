//! The table columns `kubectl get` prints per kind, as Kubernetes' server-side
//! printers define them (pkg/printers/internalversion): headers, the extra
//! `-o wide` columns, and how each cell is computed from the object, read as
//! its kind's `k8s-openapi` struct.

use crate::age;
use crate::typed::decode;
use api::k8s_openapi::api::apps::v1::{DaemonSet, Deployment, ReplicaSet};
use api::k8s_openapi::api::batch::v1::{CronJob, Job};
use api::k8s_openapi::api::coordination::v1::Lease;
use api::k8s_openapi::api::core::v1::{
    Container, ContainerStateTerminated, ContainerStatus, Endpoints, Event, Namespace, Node, Pod, PodTemplateSpec,
    ReplicationController, Service,
};
use api::k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta, Time};
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

/// The cells of one object's row, matching `headers(info, wide)`. Each kind's
/// printer reads the object as its typed struct.
pub fn row(info: &ResourceInfo, obj: &Value, wide: bool, now: Timestamp) -> Vec<String> {
    let cells = match info.kind {
        "Pod" => decode(obj).map(|p| pod_row(&p, now)),
        "Namespace" => decode(obj).map(|ns: Namespace| {
            let phase = ns.status.as_ref().and_then(|s| s.phase.clone()).unwrap_or_default();
            (vec![name_of(&ns.metadata), phase, age_of(&ns.metadata, now)], vec![])
        }),
        "Node" => decode(obj).map(|n| node_row(&n, now)),
        "ReplicationController" => decode(obj).map(|rc| replication_controller_row(&rc, now)),
        "ReplicaSet" => decode(obj).map(|rs| replica_set_row(&rs, now)),
        "Deployment" => decode(obj).map(|d| deployment_row(&d, now)),
        "DaemonSet" => decode(obj).map(|ds| daemon_set_row(&ds, now)),
        "Job" => decode(obj).map(|j| job_row(&j, now)),
        "CronJob" => decode(obj).map(|cj| cronjob_row(&cj, now)),
        "Service" => decode(obj).map(|s| service_row(&s, now)),
        "Endpoints" => decode(obj).map(|ep: Endpoints| {
            (vec![name_of(&ep.metadata), format_endpoints(&ep), age_of(&ep.metadata, now)], vec![])
        }),
        "Event" => {
            return match decode(obj) {
                Ok(ev) => event_row(&ev, wide, now),
                Err(_) => undecodable(info, obj, wide),
            }
        }
        "Lease" => decode(obj).map(|l: Lease| {
            let holder = l.spec.as_ref().and_then(|s| s.holder_identity.clone()).unwrap_or_default();
            (vec![name_of(&l.metadata), holder, age_of(&l.metadata, now)], vec![])
        }),
        // Any other kind, typed or not: its metadata is all the table shows.
        _ => Ok((vec![api::meta::name(obj).to_string(), age::age_at(api::meta::creation_timestamp(obj), now)], vec![])),
    };
    let Ok((mut cells, extra)) = cells else {
        return undecodable(info, obj, wide);
    };
    if wide {
        cells.extend(extra);
    }
    cells
}

/// The row of an object that does not read as its kind's struct (the
/// apiserver validates what it stores, so this is not expected): its name and
/// `<unknown>` in every other column.
fn undecodable(info: &ResourceInfo, obj: &Value, wide: bool) -> Vec<String> {
    let mut cells = vec![api::meta::name(obj).to_string()];
    cells.resize(headers(info, wide).len(), "<unknown>".to_string());
    cells
}

fn name_of(meta: &ObjectMeta) -> String {
    meta.name.clone().unwrap_or_default()
}

fn age_of(meta: &ObjectMeta, now: Timestamp) -> String {
    age::since(meta.creation_timestamp.as_ref(), now)
}

/// `labels.FormatLabels`: `a=b,c=d`, or `<none>`.
pub fn format_labels(labels: &BTreeMap<String, String>) -> String {
    if labels.is_empty() {
        return "<none>".into();
    }
    labels.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(",")
}

/// [`format_labels`] of an optional map (an RC's or a service's selector, a node selector).
pub fn format_map(labels: Option<&BTreeMap<String, String>>) -> String {
    labels.map_or_else(|| "<none>".to_string(), format_labels)
}

/// A `LabelSelector` as kubectl prints it: `app=kubia,env in (dev,prod),!gpu`.
pub fn label_selector_string(sel: Option<&LabelSelector>) -> String {
    let Some(sel) = sel else {
        return "<none>".into();
    };
    let mut reqs: Vec<(String, String)> =
        sel.match_labels.iter().flatten().map(|(k, v)| (k.clone(), format!("{k}={v}"))).collect();
    for expr in sel.match_expressions.iter().flatten() {
        let key = expr.key.clone();
        let mut values: Vec<&str> = expr.values.iter().flatten().map(String::as_str).collect();
        values.sort_unstable();
        let text = match expr.operator.as_str() {
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
fn template_cells(template: Option<&PodTemplateSpec>, selector: String) -> Vec<String> {
    let containers = template.and_then(|t| t.spec.as_ref()).map_or(&[][..], |s| &s.containers);
    let names: Vec<&str> = containers.iter().map(|c| c.name.as_str()).collect();
    let images: Vec<&str> = containers.iter().map(|c| c.image.as_deref().unwrap_or("")).collect();
    vec![names.join(","), images.join(","), selector]
}

fn or_none(s: Option<&str>) -> String {
    match s {
        None | Some("") => "<none>".into(),
        Some(s) => s.to_string(),
    }
}

type Row = (Vec<String>, Vec<String>);

/// The reason a container's termination is shown with: its reason, else its
/// signal, else its exit code (`prefix` is `Init:` for init containers).
fn terminated_reason(t: &ContainerStateTerminated, prefix: &str) -> String {
    match (t.reason.as_deref(), t.signal) {
        (Some(r), _) if !r.is_empty() => format!("{prefix}{r}"),
        (_, Some(signal)) if signal != 0 => format!("{prefix}Signal:{signal}"),
        _ => format!("{prefix}ExitCode:{}", t.exit_code),
    }
}

fn last_finished(status: &ContainerStatus) -> Option<Timestamp> {
    status.last_state.as_ref()?.terminated.as_ref()?.finished_at.as_ref().map(|t| t.0)
}

/// READY, STATUS and RESTARTS follow Kubernetes' `printPod`, init containers included.
fn pod_row(pod: &Pod, now: Timestamp) -> Row {
    let spec = pod.spec.as_ref();
    let status = pod.status.as_ref();
    let containers = spec.map_or(&[][..], |s| &s.containers);
    let init_specs = spec.and_then(|s| s.init_containers.as_deref()).unwrap_or(&[]);
    let is_sidecar = |c: &&Container| c.restart_policy.as_deref() == Some("Always");
    let restartable = |name: &str| init_specs.iter().filter(is_sidecar).any(|c| c.name == name);
    let total = containers.len() + init_specs.iter().filter(is_sidecar).count();
    let mut ready = 0;
    let mut restarts = 0;
    let mut sidecar_restarts = 0;
    let mut last_restart: Option<Timestamp> = None;
    let mut sidecar_last_restart: Option<Timestamp> = None;
    let phase = api::pod::phase(pod);
    let mut reason = match status.and_then(|s| s.reason.as_deref()) {
        None | Some("") => phase.to_string(),
        Some(r) => r.to_string(),
    };
    if api::pod::condition(pod, "PodScheduled").is_some_and(|c| c.reason.as_deref() == Some("SchedulingGated")) {
        reason = "SchedulingGated".into();
    }
    let later = |a: &mut Option<Timestamp>, b: Option<Timestamp>| {
        if b > *a {
            *a = b;
        }
    };
    let has_condition = |type_: &str| api::pod::condition(pod, type_).is_some_and(|c| c.status == "True");

    let init_statuses = status.and_then(|s| s.init_container_statuses.as_deref()).unwrap_or(&[]);
    let mut initializing = false;
    for (i, st) in init_statuses.iter().enumerate() {
        let count = i64::from(st.restart_count);
        restarts += count;
        let finished = last_finished(st);
        later(&mut last_restart, finished);
        if restartable(&st.name) {
            sidecar_restarts += count;
            later(&mut sidecar_last_restart, finished);
        }
        let state = st.state.as_ref();
        let terminated = state.and_then(|s| s.terminated.as_ref());
        let waiting_reason = state.and_then(|s| s.waiting.as_ref()).and_then(|w| w.reason.as_deref()).unwrap_or("");
        if terminated.is_some_and(|t| t.exit_code == 0) {
            continue;
        }
        if restartable(&st.name) && st.started == Some(true) {
            if st.ready {
                ready += 1;
            }
            continue;
        }
        if let Some(t) = terminated {
            reason = terminated_reason(t, "Init:");
        } else if !waiting_reason.is_empty() && waiting_reason != "PodInitializing" {
            reason = format!("Init:{waiting_reason}");
        } else {
            reason = format!("Init:{i}/{}", init_specs.len());
        }
        initializing = true;
        break;
    }

    if !initializing || has_condition("Initialized") {
        restarts = sidecar_restarts;
        last_restart = sidecar_last_restart;
        let mut has_running = false;
        let mut error_reason = String::new();
        for st in status.and_then(|s| s.container_statuses.as_deref()).unwrap_or(&[]).iter().rev() {
            restarts += i64::from(st.restart_count);
            later(&mut last_restart, last_finished(st));
            let state = st.state.as_ref();
            let waiting_reason = state.and_then(|s| s.waiting.as_ref()).and_then(|w| w.reason.as_deref()).unwrap_or("");
            if !waiting_reason.is_empty() {
                reason = waiting_reason.to_string();
            } else if let Some(t) = state.and_then(|s| s.terminated.as_ref()) {
                reason = terminated_reason(t, "");
                if t.exit_code != 0 {
                    error_reason = reason.clone();
                }
            } else if st.ready && state.is_some_and(|s| s.running.is_some()) {
                has_running = true;
                ready += 1;
            }
        }
        if reason == "Completed" {
            if has_running && api::pod::is_ready(pod) {
                reason = "Running".into();
            } else if !error_reason.is_empty() {
                reason = error_reason;
            } else if has_running {
                reason = "NotReady".into();
            }
        }
    }

    if api::pod::is_terminating(&pod.metadata) {
        if status.and_then(|s| s.reason.as_deref()) == Some("NodeLost") {
            reason = "Unknown".into();
        } else if !api::pod::is_finished(pod) {
            reason = "Terminating".into();
        }
    }
    let restarts_cell = match last_restart {
        Some(t) if restarts != 0 => format!("{restarts} ({} ago)", age::since(Some(&Time(t)), now)),
        _ => restarts.to_string(),
    };
    let cells =
        vec![name_of(&pod.metadata), format!("{ready}/{total}"), reason, restarts_cell, age_of(&pod.metadata, now)];

    let gates = spec.and_then(|s| s.readiness_gates.as_deref()).unwrap_or(&[]);
    let gates_cell = if gates.is_empty() {
        "<none>".to_string()
    } else {
        let true_count = gates.iter().filter(|g| has_condition(&g.condition_type)).count();
        format!("{true_count}/{}", gates.len())
    };
    let extra = vec![
        or_none(status.and_then(|s| s.pod_ip.as_deref())),
        or_none(Some(api::pod::node_name(pod))),
        or_none(status.and_then(|s| s.nominated_node_name.as_deref())),
        gates_cell,
    ];
    (cells, extra)
}

/// A node's roles, from its `node-role.kubernetes.io/<role>` and `kubernetes.io/role` labels.
pub fn node_roles(meta: &ObjectMeta) -> Vec<String> {
    let mut roles: Vec<String> = Vec::new();
    for (k, v) in meta.labels.iter().flatten() {
        if let Some(role) = k.strip_prefix("node-role.kubernetes.io/") {
            if !role.is_empty() {
                roles.push(role.to_string());
            }
        } else if k == "kubernetes.io/role" && !v.is_empty() {
            roles.push(v.clone());
        }
    }
    roles.sort();
    roles.dedup();
    roles
}

fn node_row(node: &Node, now: Timestamp) -> Row {
    // As kubectl: a Ready condition that is not True (False, or Unknown when
    // the node stopped reporting) is NotReady; only a node without one is Unknown.
    let mut status = vec![match api::node::ready_status(node) {
        "True" => "Ready",
        "" => "Unknown",
        _ => "NotReady",
    }];
    if node.spec.as_ref().and_then(|s| s.unschedulable) == Some(true) {
        status.push("SchedulingDisabled");
    }
    let roles = node_roles(&node.metadata);
    let roles = if roles.is_empty() { "<none>".to_string() } else { roles.join(",") };
    let node_status = node.status.as_ref();
    let address = |kind: &str| {
        node_status
            .and_then(|s| s.addresses.as_ref())
            .and_then(|a| a.iter().find(|a| a.type_ == kind))
            .map(|a| a.address.clone())
            .unwrap_or_else(|| "<none>".into())
    };
    let node_info = node_status.and_then(|s| s.node_info.clone()).unwrap_or_default();
    let info = |v: &str| if v.is_empty() { "<unknown>".to_string() } else { v.to_string() };
    let cells = vec![
        name_of(&node.metadata),
        status.join(","),
        roles,
        age_of(&node.metadata, now),
        node_info.kubelet_version.clone(),
    ];
    let extra = vec![
        address("InternalIP"),
        address("ExternalIP"),
        info(&node_info.os_image),
        info(&node_info.kernel_version),
        info(&node_info.container_runtime_version),
    ];
    (cells, extra)
}

fn replication_controller_row(rc: &ReplicationController, now: Timestamp) -> Row {
    let spec = rc.spec.as_ref();
    let status = rc.status.as_ref();
    let cells = vec![
        name_of(&rc.metadata),
        spec.and_then(|s| s.replicas).unwrap_or(0).to_string(),
        status.map_or(0, |s| s.replicas).to_string(),
        status.and_then(|s| s.ready_replicas).unwrap_or(0).to_string(),
        age_of(&rc.metadata, now),
    ];
    let selector = format_map(spec.and_then(|s| s.selector.as_ref()));
    (cells, template_cells(spec.and_then(|s| s.template.as_ref()), selector))
}

fn replica_set_row(rs: &ReplicaSet, now: Timestamp) -> Row {
    let spec = rs.spec.as_ref();
    let status = rs.status.as_ref();
    let cells = vec![
        name_of(&rs.metadata),
        spec.and_then(|s| s.replicas).unwrap_or(0).to_string(),
        status.map_or(0, |s| s.replicas).to_string(),
        status.and_then(|s| s.ready_replicas).unwrap_or(0).to_string(),
        age_of(&rs.metadata, now),
    ];
    let selector = label_selector_string(spec.map(|s| &s.selector));
    (cells, template_cells(spec.and_then(|s| s.template.as_ref()), selector))
}

fn deployment_row(d: &Deployment, now: Timestamp) -> Row {
    let spec = d.spec.as_ref();
    let status = d.status.clone().unwrap_or_default();
    let cells = vec![
        name_of(&d.metadata),
        format!("{}/{}", status.ready_replicas.unwrap_or(0), spec.and_then(|s| s.replicas).unwrap_or(0)),
        status.updated_replicas.unwrap_or(0).to_string(),
        status.available_replicas.unwrap_or(0).to_string(),
        age_of(&d.metadata, now),
    ];
    let selector = label_selector_string(spec.map(|s| &s.selector));
    (cells, template_cells(spec.map(|s| &s.template), selector))
}

fn daemon_set_row(ds: &DaemonSet, now: Timestamp) -> Row {
    let spec = ds.spec.as_ref();
    let status = ds.status.clone().unwrap_or_default();
    let template = spec.map(|s| &s.template);
    let node_selector = format_map(template.and_then(|t| t.spec.as_ref()).and_then(|s| s.node_selector.as_ref()));
    let cells = vec![
        name_of(&ds.metadata),
        status.desired_number_scheduled.to_string(),
        status.current_number_scheduled.to_string(),
        status.number_ready.to_string(),
        status.updated_number_scheduled.unwrap_or(0).to_string(),
        status.number_available.unwrap_or(0).to_string(),
        node_selector,
        age_of(&ds.metadata, now),
    ];
    (cells, template_cells(template, label_selector_string(spec.map(|s| &s.selector))))
}

fn job_row(job: &Job, now: Timestamp) -> Row {
    let spec = job.spec.as_ref();
    let status = job.status.clone().unwrap_or_default();
    let succeeded = status.succeeded.unwrap_or(0);
    let completions = match spec.and_then(|s| s.completions) {
        Some(c) => format!("{succeeded}/{c}"),
        None => {
            let parallelism = spec.and_then(|s| s.parallelism).unwrap_or(0);
            if parallelism > 1 {
                format!("{succeeded}/1 of {parallelism}")
            } else {
                format!("{succeeded}/1")
            }
        }
    };
    let (start, end) = (status.start_time.as_ref(), status.completion_time.as_ref());
    let duration = match (start, end) {
        (None, _) => String::new(),
        (Some(_), None) => age::since(start, now),
        (Some(_), Some(_)) => age::duration(start, end).unwrap_or_default(),
    };
    let has_condition =
        |type_: &str| status.conditions.iter().flatten().any(|c| c.type_ == type_ && c.status == "True");
    let state = if has_condition("Complete") {
        "Complete"
    } else if has_condition("Failed") {
        "Failed"
    } else if api::pod::is_terminating(&job.metadata) {
        "Terminating"
    } else if has_condition("Suspended") {
        "Suspended"
    } else if has_condition("FailureTarget") {
        "FailureTarget"
    } else if has_condition("SuccessCriteriaMet") {
        "SuccessCriteriaMet"
    } else {
        "Running"
    };
    let cells = vec![name_of(&job.metadata), state.to_string(), completions, duration, age_of(&job.metadata, now)];
    let selector = label_selector_string(spec.and_then(|s| s.selector.as_ref()));
    (cells, template_cells(spec.map(|s| &s.template), selector))
}

fn cronjob_row(cj: &CronJob, now: Timestamp) -> Row {
    let spec = cj.spec.as_ref();
    let status = cj.status.as_ref();
    let suspend = match spec.and_then(|s| s.suspend) {
        Some(true) => "True",
        Some(false) => "False",
        None => "<unset>",
    };
    let last = match status.and_then(|s| s.last_schedule_time.as_ref()) {
        None => "<none>".to_string(),
        t => age::since(t, now),
    };
    let cells = vec![
        name_of(&cj.metadata),
        spec.map(|s| s.schedule.clone()).unwrap_or_default(),
        or_none(spec.and_then(|s| s.time_zone.as_deref())),
        suspend.to_string(),
        status.and_then(|s| s.active.as_ref()).map_or(0, Vec::len).to_string(),
        last,
        age_of(&cj.metadata, now),
    ];
    let job_spec = spec.and_then(|s| s.job_template.spec.as_ref());
    let selector = label_selector_string(job_spec.and_then(|s| s.selector.as_ref()));
    (cells, template_cells(job_spec.map(|s| &s.template), selector))
}

fn service_row(svc: &Service, now: Timestamp) -> Row {
    let spec = svc.spec.clone().unwrap_or_default();
    let kind = match spec.type_.as_deref() {
        None | Some("") => "ClusterIP",
        Some(t) => t,
    };
    let external_ips: Vec<&str> = spec.external_ips.iter().flatten().map(String::as_str).collect();
    let external = match kind {
        "ClusterIP" | "NodePort" => or_none(Some(&external_ips.join(","))),
        "LoadBalancer" => {
            // The ingress addresses as a sorted set, then any externalIPs, never cut
            // short: the apiserver prints tables wide, so kubectl shows them all.
            let ingress = svc.status.as_ref().and_then(|s| s.load_balancer.as_ref()).and_then(|l| l.ingress.as_ref());
            let ingress: std::collections::BTreeSet<&str> = ingress
                .into_iter()
                .flatten()
                .map(|i| match i.ip.as_deref() {
                    None | Some("") => i.hostname.as_deref().unwrap_or(""),
                    Some(ip) => ip,
                })
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
        "ExternalName" => spec.external_name.clone().unwrap_or_default(),
        _ => "<unknown>".to_string(),
    };
    let ports: Vec<String> = spec
        .ports
        .iter()
        .flatten()
        .map(|p| {
            let proto = match p.protocol.as_deref() {
                None | Some("") => "TCP",
                Some(other) => other,
            };
            match p.node_port.unwrap_or(0) {
                0 => format!("{}/{proto}", p.port),
                node_port => format!("{}:{node_port}/{proto}", p.port),
            }
        })
        .collect();
    let ports = if ports.is_empty() { "<none>".to_string() } else { ports.join(",") };
    let cells = vec![
        name_of(&svc.metadata),
        kind.to_string(),
        or_none(spec.cluster_ip.as_deref()),
        external,
        ports,
        age_of(&svc.metadata, now),
    ];
    (cells, vec![format_map(spec.selector.as_ref())])
}

/// `ip:port,ip:port,ip:port + N more...`, as kubectl's `formatEndpoints`.
fn format_endpoints(ep: &Endpoints) -> String {
    const MAX: usize = 3;
    let mut shown = Vec::new();
    let mut total = 0;
    for subset in ep.subsets.iter().flatten() {
        let ports = subset.ports.as_deref().unwrap_or(&[]);
        for addr in subset.addresses.iter().flatten() {
            let ip = &addr.ip;
            if ports.is_empty() {
                total += 1;
                if shown.len() < MAX {
                    shown.push(ip.to_string());
                }
            }
            for port in ports {
                total += 1;
                if shown.len() < MAX {
                    shown.push(format!("{ip}:{}", port.port));
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

/// Where an event came from: `component, host` (`-o wide`), or the reporting
/// component when the event names no source.
pub fn event_source(ev: &Event, with_host: bool) -> String {
    let source = ev.source.as_ref();
    let component = source.and_then(|s| s.component.as_deref()).unwrap_or("");
    let host = source.and_then(|s| s.host.as_deref()).unwrap_or("");
    match (component.is_empty(), host.is_empty() || !with_host) {
        (true, _) => ev.reporting_component.clone().unwrap_or_default(),
        (false, true) => component.to_string(),
        (false, false) => format!("{component}, {host}"),
    }
}

fn event_row(ev: &Event, wide: bool, now: Timestamp) -> Vec<String> {
    let first = match &ev.first_timestamp {
        None => age::since(ev.event_time.as_ref(), now),
        t => age::since(t.as_ref(), now),
    };
    let mut last = match &ev.last_timestamp {
        None => first.clone(),
        t => age::since(t.as_ref(), now),
    };
    let mut count = ev.count.unwrap_or(0);
    if let Some(series) = &ev.series {
        last = age::since(series.last_observed_time.as_ref(), now);
        count = series.count.unwrap_or(0);
    } else if count == 0 {
        count = 1;
    }
    let object = &ev.involved_object;
    let kind = object.kind.as_deref().unwrap_or("").to_ascii_lowercase();
    let target = match object.name.as_deref() {
        None | Some("") => kind,
        Some(name) => format!("{kind}/{name}"),
    };
    let message = ev.message.as_deref().unwrap_or("").trim().to_string();
    let type_cell = ev.type_.clone().unwrap_or_default();
    let reason = ev.reason.clone().unwrap_or_default();
    if !wide {
        return vec![last, type_cell, reason, target, message];
    }
    vec![
        last,
        type_cell,
        reason,
        target,
        object.field_path.clone().unwrap_or_default(),
        event_source(ev, true),
        message,
        first,
        count.to_string(),
        name_of(&ev.metadata),
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
        // A LabelSelector, and the plain map a ReplicationController selects with.
        assert_eq!(label_selector_string(Some(&decode(&sel).unwrap())), "app=kubia,env in (dev,prod),!gpu");
        assert_eq!(format_map(Some(&[("app".to_string(), "kubia".to_string())].into())), "app=kubia");
        assert_eq!(label_selector_string(None), "<none>");
    }

    #[test]
    fn kinds_without_a_printer_get_name_and_age() {
        let ns = lookup("leases").unwrap();
        assert_eq!(headers(ns, false), ["NAME", "HOLDER", "AGE"]);
        let binding = lookup("bindings").unwrap();
        assert_eq!(headers(binding, true), ["NAME", "AGE"]);
    }
}
