//! Each kind's row, as kube-apiserver's printers compute it
//! (pkg/printers/internalversion/printers.go, always `Wide`): one cell per
//! column of [`super::columns`], read from the object's `k8s-openapi` struct.

use super::age;
use super::Cell;
use jiff::Timestamp;
use k8s_openapi::api::apps::v1::{ControllerRevision, DaemonSet, Deployment, ReplicaSet, StatefulSet};
use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{
    ConfigMap, Container, ContainerStateTerminated, ContainerStatus, Endpoints, Event, Namespace, Node,
    PersistentVolume, PersistentVolumeClaim, Pod, PodTemplateSpec, ReplicationController, Secret, Service,
};
use k8s_openapi::api::storage::v1::StorageClass;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use std::collections::BTreeMap;

fn name_of(meta: &ObjectMeta) -> Cell {
    Cell::Text(meta.name.clone().unwrap_or_default())
}

fn age_of(meta: &ObjectMeta) -> Cell {
    Cell::age(meta.creation_timestamp.as_ref())
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

/// A `LabelSelector` as Kubernetes prints it: `app=kubia,env in (dev,prod),!gpu`.
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
fn template_cells(template: Option<&PodTemplateSpec>, selector: String) -> [Cell; 3] {
    let containers = template.and_then(|t| t.spec.as_ref()).map_or(&[][..], |s| &s.containers);
    let names: Vec<&str> = containers.iter().map(|c| c.name.as_str()).collect();
    let images: Vec<&str> = containers.iter().map(|c| c.image.as_deref().unwrap_or("")).collect();
    [Cell::Text(names.join(",")), Cell::Text(images.join(",")), Cell::Text(selector)]
}

fn or_none(s: Option<&str>) -> String {
    match s {
        None | Some("") => "<none>".into(),
        Some(s) => s.to_string(),
    }
}

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
pub(super) fn pod(pod: &Pod) -> Vec<Cell> {
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
    let phase = crate::pod::phase(pod);
    let mut reason = match status.and_then(|s| s.reason.as_deref()) {
        None | Some("") => phase.to_string(),
        Some(r) => r.to_string(),
    };
    if crate::pod::condition(pod, "PodScheduled").is_some_and(|c| c.reason.as_deref() == Some("SchedulingGated")) {
        reason = "SchedulingGated".into();
    }
    let later = |a: &mut Option<Timestamp>, b: Option<Timestamp>| {
        if b > *a {
            *a = b;
        }
    };
    let has_condition = |type_: &str| crate::pod::condition(pod, type_).is_some_and(|c| c.status == "True");

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
            if has_running && crate::pod::is_ready(pod) {
                reason = "Running".into();
            } else if !error_reason.is_empty() {
                reason = error_reason;
            } else if has_running {
                reason = "NotReady".into();
            }
        }
    }

    if crate::pod::is_terminating(&pod.metadata) {
        if status.and_then(|s| s.reason.as_deref()) == Some("NodeLost") {
            reason = "Unknown".into();
        } else if !crate::pod::is_finished(pod) {
            reason = "Terminating".into();
        }
    }
    let restarts_cell = match last_restart {
        Some(t) if restarts != 0 => {
            Cell::Ago { before: format!("{restarts} ("), since: Some(t), after: " ago)".into() }
        }
        _ => Cell::Text(restarts.to_string()),
    };

    let gates = spec.and_then(|s| s.readiness_gates.as_deref()).unwrap_or(&[]);
    let gates_cell = if gates.is_empty() {
        "<none>".to_string()
    } else {
        let true_count = gates.iter().filter(|g| has_condition(&g.condition_type)).count();
        format!("{true_count}/{}", gates.len())
    };
    // The first of the pod's IPs, as the server's printer reads it; podIP is the same address.
    let ip = status.and_then(|s| s.pod_ips.as_ref()).and_then(|ips| ips.first()).map(|ip| ip.ip.as_str());
    vec![
        name_of(&pod.metadata),
        Cell::Text(format!("{ready}/{total}")),
        Cell::Text(reason),
        restarts_cell,
        age_of(&pod.metadata),
        Cell::Text(or_none(ip.or(status.and_then(|s| s.pod_ip.as_deref())))),
        Cell::Text(or_none(Some(crate::pod::node_name(pod)))),
        Cell::Text(or_none(status.and_then(|s| s.nominated_node_name.as_deref()))),
        Cell::Text(gates_cell),
    ]
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

pub(super) fn node(node: &Node) -> Vec<Cell> {
    // A Ready condition that is not True (False, or Unknown when the node
    // stopped reporting) is NotReady; only a node without one is Unknown.
    let mut status = vec![match crate::node::ready_status(node) {
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
    let info = |v: &str| Cell::Text(if v.is_empty() { "<unknown>".to_string() } else { v.to_string() });
    vec![
        name_of(&node.metadata),
        Cell::Text(status.join(",")),
        Cell::Text(roles),
        age_of(&node.metadata),
        Cell::Text(node_info.kubelet_version.clone()),
        Cell::Text(address("InternalIP")),
        Cell::Text(address("ExternalIP")),
        info(&node_info.os_image),
        info(&node_info.kernel_version),
        info(&node_info.container_runtime_version),
    ]
}

pub(super) fn namespace(ns: &Namespace) -> Vec<Cell> {
    let phase = ns.status.as_ref().and_then(|s| s.phase.clone()).unwrap_or_default();
    vec![name_of(&ns.metadata), Cell::Text(phase), age_of(&ns.metadata)]
}

pub(super) fn replication_controller(rc: &ReplicationController) -> Vec<Cell> {
    let spec = rc.spec.as_ref();
    let status = rc.status.as_ref();
    let selector = format_map(spec.and_then(|s| s.selector.as_ref()));
    let mut cells = vec![
        name_of(&rc.metadata),
        Cell::int(spec.and_then(|s| s.replicas).unwrap_or(0)),
        Cell::int(status.map_or(0, |s| s.replicas)),
        Cell::int(status.and_then(|s| s.ready_replicas).unwrap_or(0)),
        age_of(&rc.metadata),
    ];
    cells.extend(template_cells(spec.and_then(|s| s.template.as_ref()), selector));
    cells
}

pub(super) fn replica_set(rs: &ReplicaSet) -> Vec<Cell> {
    let spec = rs.spec.as_ref();
    let status = rs.status.as_ref();
    let selector = label_selector_string(spec.map(|s| &s.selector));
    let mut cells = vec![
        name_of(&rs.metadata),
        Cell::int(spec.and_then(|s| s.replicas).unwrap_or(0)),
        Cell::int(status.map_or(0, |s| s.replicas)),
        Cell::int(status.and_then(|s| s.ready_replicas).unwrap_or(0)),
        age_of(&rs.metadata),
    ];
    cells.extend(template_cells(spec.and_then(|s| s.template.as_ref()), selector));
    cells
}

pub(super) fn deployment(d: &Deployment) -> Vec<Cell> {
    let spec = d.spec.as_ref();
    let status = d.status.clone().unwrap_or_default();
    let selector = label_selector_string(spec.map(|s| &s.selector));
    let mut cells = vec![
        name_of(&d.metadata),
        Cell::Text(format!("{}/{}", status.ready_replicas.unwrap_or(0), spec.and_then(|s| s.replicas).unwrap_or(0))),
        // Numbers, though the columns say string: the server's printer sends them so.
        Cell::int(status.updated_replicas.unwrap_or(0)),
        Cell::int(status.available_replicas.unwrap_or(0)),
        age_of(&d.metadata),
    ];
    cells.extend(template_cells(spec.map(|s| &s.template), selector));
    cells
}

pub(super) fn stateful_set(s: &StatefulSet) -> Vec<Cell> {
    let spec = s.spec.as_ref();
    let ready = s.status.as_ref().and_then(|st| st.ready_replicas).unwrap_or(0);
    let desired = spec.and_then(|sp| sp.replicas).unwrap_or(0);
    let [containers, images, _] = template_cells(spec.map(|sp| &sp.template), String::new());
    vec![name_of(&s.metadata), Cell::Text(format!("{ready}/{desired}")), age_of(&s.metadata), containers, images]
}

/// CONTROLLER is `<kind>.<group>/<name>` of the controlling owner, lower-cased as kubectl prints resources.
pub(super) fn controller_revision(r: &ControllerRevision) -> Vec<Cell> {
    let owner = r.metadata.owner_references.iter().flatten().find(|o| o.controller == Some(true));
    let controller = match owner {
        None => "<none>".to_string(),
        Some(o) => {
            let group = o.api_version.split_once('/').map_or("", |(g, _)| g);
            let kind = if group.is_empty() { o.kind.clone() } else { format!("{}.{group}", o.kind) };
            format!("{}/{}", kind.to_lowercase(), o.name)
        }
    };
    vec![name_of(&r.metadata), Cell::Text(controller), Cell::Int(r.revision), age_of(&r.metadata)]
}

pub(super) fn daemon_set(ds: &DaemonSet) -> Vec<Cell> {
    let spec = ds.spec.as_ref();
    let status = ds.status.clone().unwrap_or_default();
    let template = spec.map(|s| &s.template);
    let node_selector = format_map(template.and_then(|t| t.spec.as_ref()).and_then(|s| s.node_selector.as_ref()));
    let mut cells = vec![
        name_of(&ds.metadata),
        Cell::int(status.desired_number_scheduled),
        Cell::int(status.current_number_scheduled),
        Cell::int(status.number_ready),
        Cell::int(status.updated_number_scheduled.unwrap_or(0)),
        Cell::int(status.number_available.unwrap_or(0)),
        Cell::Text(node_selector),
        age_of(&ds.metadata),
    ];
    cells.extend(template_cells(template, label_selector_string(spec.map(|s| &s.selector))));
    cells
}

pub(super) fn job(job: &Job) -> Vec<Cell> {
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
        (None, _) => Cell::Text(String::new()),
        (Some(_), None) => Cell::age(start),
        (Some(_), Some(_)) => Cell::Text(age::duration(start, end).unwrap_or_default()),
    };
    let has_condition =
        |type_: &str| status.conditions.iter().flatten().any(|c| c.type_ == type_ && c.status == "True");
    let state = if has_condition("Complete") {
        "Complete"
    } else if has_condition("Failed") {
        "Failed"
    } else if crate::pod::is_terminating(&job.metadata) {
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
    let selector = label_selector_string(spec.and_then(|s| s.selector.as_ref()));
    let mut cells =
        vec![name_of(&job.metadata), Cell::from(state), Cell::Text(completions), duration, age_of(&job.metadata)];
    cells.extend(template_cells(spec.map(|s| &s.template), selector));
    cells
}

pub(super) fn cron_job(cj: &CronJob) -> Vec<Cell> {
    let spec = cj.spec.as_ref();
    let status = cj.status.as_ref();
    let suspend = match spec.and_then(|s| s.suspend) {
        Some(true) => "True",
        Some(false) => "False",
        None => "<unset>",
    };
    let last = match status.and_then(|s| s.last_schedule_time.as_ref()) {
        None => Cell::from("<none>"),
        t => Cell::age(t),
    };
    let active = status.and_then(|s| s.active.as_ref()).map_or(0, Vec::len);
    let job_spec = spec.and_then(|s| s.job_template.spec.as_ref());
    let selector = label_selector_string(job_spec.and_then(|s| s.selector.as_ref()));
    let mut cells = vec![
        name_of(&cj.metadata),
        Cell::Text(spec.map(|s| s.schedule.clone()).unwrap_or_default()),
        Cell::Text(or_none(spec.and_then(|s| s.time_zone.as_deref()))),
        Cell::from(suspend),
        Cell::Int(i64::try_from(active).unwrap_or(i64::MAX)),
        last,
        age_of(&cj.metadata),
    ];
    cells.extend(template_cells(job_spec.map(|s| &s.template), selector));
    cells
}

pub(super) fn service(svc: &Service) -> Vec<Cell> {
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
            // short: the server prints tables wide.
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
    // The first of clusterIPs, as the server's printer reads it; clusterIP is the same address.
    let cluster_ip = spec.cluster_ips.as_ref().and_then(|ips| ips.first()).or(spec.cluster_ip.as_ref());
    vec![
        name_of(&svc.metadata),
        Cell::from(kind),
        Cell::Text(or_none(cluster_ip.map(String::as_str))),
        Cell::Text(external),
        Cell::Text(ports),
        age_of(&svc.metadata),
        Cell::Text(format_map(spec.selector.as_ref())),
    ]
}

/// `ip:port,ip:port,ip:port + N more...`, as Kubernetes' `formatEndpoints`.
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

pub(super) fn endpoints(ep: &Endpoints) -> Vec<Cell> {
    vec![name_of(&ep.metadata), Cell::Text(format_endpoints(ep)), age_of(&ep.metadata)]
}

/// Where an event came from, as Kubernetes' `formatEventSource`: the source's
/// component (else the reporting controller), and with `with_host` its host
/// (else the reporting instance) after a comma.
pub fn event_source(ev: &Event, with_host: bool) -> String {
    let source = ev.source.as_ref();
    let first = |a: Option<&String>, b: Option<&String>| {
        [a, b].into_iter().flatten().find(|s| !s.is_empty()).cloned().unwrap_or_default()
    };
    let component = first(source.and_then(|s| s.component.as_ref()), ev.reporting_component.as_ref());
    let host = first(source.and_then(|s| s.host.as_ref()), ev.reporting_instance.as_ref());
    if !with_host || host.is_empty() {
        component
    } else {
        format!("{component}, {host}")
    }
}

pub(super) fn event(ev: &Event) -> Vec<Cell> {
    let first = match &ev.first_timestamp {
        None => Cell::age(ev.event_time.as_ref()),
        t => Cell::age(t.as_ref()),
    };
    let mut last = match &ev.last_timestamp {
        None => first.clone(),
        t => Cell::age(t.as_ref()),
    };
    let mut count = ev.count.unwrap_or(0);
    if let Some(series) = &ev.series {
        last = Cell::age(series.last_observed_time.as_ref());
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
    vec![
        last,
        Cell::Text(ev.type_.clone().unwrap_or_default()),
        Cell::Text(ev.reason.clone().unwrap_or_default()),
        Cell::Text(target),
        Cell::Text(object.field_path.clone().unwrap_or_default()),
        Cell::Text(event_source(ev, true)),
        Cell::Text(ev.message.as_deref().unwrap_or("").trim().to_string()),
        first,
        // A number, though the column says string: the server's printer sends it so.
        Cell::int(count),
        name_of(&ev.metadata),
    ]
}

pub(super) fn lease(l: &Lease) -> Vec<Cell> {
    let holder = l.spec.as_ref().and_then(|s| s.holder_identity.clone()).unwrap_or_default();
    vec![name_of(&l.metadata), Cell::Text(holder), age_of(&l.metadata)]
}

/// The DATA column counts the entries of both maps.
pub(super) fn config_map(cm: &ConfigMap) -> Vec<Cell> {
    let count = cm.data.as_ref().map_or(0, BTreeMap::len) + cm.binary_data.as_ref().map_or(0, BTreeMap::len);
    vec![name_of(&cm.metadata), Cell::Int(count as i64), age_of(&cm.metadata)]
}

pub(super) fn secret(s: &Secret) -> Vec<Cell> {
    let count = s.data.as_ref().map_or(0, BTreeMap::len);
    vec![
        name_of(&s.metadata),
        Cell::Text(s.type_.clone().unwrap_or_default()),
        Cell::Int(count as i64),
        age_of(&s.metadata),
    ]
}

/// `GetAccessModesAsString`: the short names in a fixed order, each once.
pub fn access_modes_string(modes: &[String]) -> String {
    let short =
        [("ReadWriteOnce", "RWO"), ("ReadOnlyMany", "ROX"), ("ReadWriteMany", "RWX"), ("ReadWriteOncePod", "RWOP")];
    short.iter().filter(|(long, _)| modes.iter().any(|m| m == long)).map(|(_, s)| *s).collect::<Vec<_>>().join(",")
}

fn storage_of(map: Option<&BTreeMap<String, Quantity>>) -> String {
    map.and_then(|m| m.get("storage")).map(|q| crate::quantity::canonical(&q.0)).unwrap_or_default()
}

/// Terminating while being deleted, else the phase.
fn phase_or_terminating(meta: &ObjectMeta, phase: Option<&String>) -> Cell {
    if meta.deletion_timestamp.is_some() {
        return "Terminating".into();
    }
    Cell::Text(phase.cloned().unwrap_or_default())
}

fn unset_or(v: Option<&String>) -> Cell {
    Cell::Text(v.cloned().unwrap_or_else(|| "<unset>".into()))
}

/// A volume's or claim's class: its `storageClassName`, or the beta annotation older objects carry.
fn class_of(name: Option<&String>, meta: &ObjectMeta) -> String {
    name.cloned().unwrap_or_else(|| {
        let annotations = meta.annotations.as_ref();
        annotations.and_then(|a| a.get("volume.beta.kubernetes.io/storage-class")).cloned().unwrap_or_default()
    })
}

pub(super) fn persistent_volume(pv: &PersistentVolume) -> Vec<Cell> {
    let spec = pv.spec.clone().unwrap_or_default();
    let status = pv.status.clone().unwrap_or_default();
    let claim = spec.claim_ref.as_ref().map_or(String::new(), |c| {
        format!("{}/{}", c.namespace.as_deref().unwrap_or(""), c.name.as_deref().unwrap_or(""))
    });
    let class = class_of(spec.storage_class_name.as_ref(), &pv.metadata);
    vec![
        name_of(&pv.metadata),
        Cell::Text(storage_of(spec.capacity.as_ref())),
        Cell::Text(access_modes_string(spec.access_modes.as_deref().unwrap_or_default())),
        Cell::Text(spec.persistent_volume_reclaim_policy.clone().unwrap_or_default()),
        phase_or_terminating(&pv.metadata, status.phase.as_ref()),
        Cell::Text(claim),
        Cell::Text(class),
        unset_or(spec.volume_attributes_class_name.as_ref()),
        Cell::Text(status.reason.clone().unwrap_or_default()),
        age_of(&pv.metadata),
        unset_or(spec.volume_mode.as_ref()),
    ]
}

pub(super) fn persistent_volume_claim(pvc: &PersistentVolumeClaim) -> Vec<Cell> {
    let spec = pvc.spec.clone().unwrap_or_default();
    let status = pvc.status.clone().unwrap_or_default();
    let bound = spec.volume_name.as_deref().is_some_and(|v| !v.is_empty());
    let (capacity, modes) = if bound {
        (storage_of(status.capacity.as_ref()), access_modes_string(status.access_modes.as_deref().unwrap_or_default()))
    } else {
        (String::new(), String::new())
    };
    let class = class_of(spec.storage_class_name.as_ref(), &pvc.metadata);
    vec![
        name_of(&pvc.metadata),
        phase_or_terminating(&pvc.metadata, status.phase.as_ref()),
        Cell::Text(spec.volume_name.clone().unwrap_or_default()),
        Cell::Text(capacity),
        Cell::Text(modes),
        Cell::Text(class),
        unset_or(status.current_volume_attributes_class_name.as_ref()),
        age_of(&pvc.metadata),
        unset_or(spec.volume_mode.as_ref()),
    ]
}

/// Whether a StorageClass is the default one (`IsDefaultAnnotation`).
pub fn is_default_class(meta: &ObjectMeta) -> bool {
    let annotations = meta.annotations.as_ref();
    ["storageclass.kubernetes.io/is-default-class", "storageclass.beta.kubernetes.io/is-default-class"]
        .iter()
        .any(|k| annotations.and_then(|a| a.get(*k)).is_some_and(|v| v == "true"))
}

pub(super) fn storage_class(sc: &StorageClass) -> Vec<Cell> {
    let mut name = sc.metadata.name.clone().unwrap_or_default();
    if is_default_class(&sc.metadata) {
        name.push_str(" (default)");
    }
    vec![
        Cell::Text(name),
        Cell::Text(sc.provisioner.clone()),
        Cell::Text(sc.reclaim_policy.clone().unwrap_or_else(|| "Delete".into())),
        Cell::Text(sc.volume_binding_mode.clone().unwrap_or_else(|| "Immediate".into())),
        Cell::Bool(sc.allow_volume_expansion.unwrap_or(false)),
        age_of(&sc.metadata),
    ]
}
