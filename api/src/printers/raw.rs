//! The Table of a list built straight from the stored bytes of its objects,
//! for lists of thousands (`kubectl get pods` on a big cluster). A pod is read
//! into a narrow struct holding only what its row shows (the rest of the
//! object is skipped, not kept), its metadata is copied into the row as it
//! was stored with the resourceVersion put in, and the rows are written into
//! one buffer. Other kinds, and objects the narrow read does not take, go
//! through [`super::table`]'s own row so the output is the same either way.

use super::{definitions, kinds, row, Cell, IncludeObject};
use crate::registry::ResourceInfo;
use jiff::Timestamp;
use k8s_openapi::api::core::v1::{
    Container, ContainerState, ContainerStateRunning, ContainerStateTerminated, ContainerStateWaiting, ContainerStatus,
    Pod, PodCondition, PodIP, PodReadinessGate, PodSpec, PodStatus,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use serde::de::IgnoredAny;
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::Value;
use std::io::Write;

/// What a pod's row reads of it; the metadata is kept as its stored text.
#[derive(Deserialize)]
struct PodView<'a> {
    #[serde(borrow)]
    metadata: &'a RawValue,
    spec: Option<SpecView>,
    status: Option<StatusView>,
}

/// The pod's spec as far as the printer reads it.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SpecView {
    #[serde(default)]
    containers: Vec<ContainerView>,
    init_containers: Option<Vec<ContainerView>>,
    readiness_gates: Option<Vec<PodReadinessGate>>,
    node_name: Option<String>,
}

/// A container's name and restart policy (a sidecar's is `Always`).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ContainerView {
    name: String,
    restart_policy: Option<String>,
}

/// The pod's status as far as the printer reads it.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct StatusView {
    phase: Option<String>,
    reason: Option<String>,
    conditions: Option<Vec<ConditionView>>,
    init_container_statuses: Option<Vec<ContainerStatusView>>,
    container_statuses: Option<Vec<ContainerStatusView>>,
    #[serde(rename = "podIP")]
    pod_ip: Option<String>,
    #[serde(rename = "podIPs")]
    pod_ips: Option<Vec<PodIP>>,
    nominated_node_name: Option<String>,
}

/// A pod condition's type and status.
#[derive(Deserialize)]
struct ConditionView {
    #[serde(rename = "type")]
    type_: String,
    status: String,
}

/// A container's status as far as the printer reads it.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ContainerStatusView {
    name: String,
    ready: bool,
    restart_count: i32,
    started: Option<bool>,
    state: Option<StateView>,
    last_state: Option<StateView>,
    // Not shown, but a status without them does not read as one (nor shows).
    #[allow(dead_code)]
    image: IgnoredAny,
    #[allow(dead_code)]
    #[serde(rename = "imageID")]
    image_id: IgnoredAny,
}

/// A container state: whether it runs (when it started is not shown), and why it waits or ended.
#[derive(Deserialize)]
struct StateView {
    running: Option<IgnoredAny>,
    terminated: Option<ContainerStateTerminated>,
    waiting: Option<ContainerStateWaiting>,
}

impl From<StatusView> for PodStatus {
    fn from(s: StatusView) -> Self {
        let statuses = |list: Option<Vec<ContainerStatusView>>| list.map(|l| l.into_iter().map(Into::into).collect());
        PodStatus {
            phase: s.phase,
            reason: s.reason,
            conditions: s.conditions.map(|c| {
                c.into_iter().map(|c| PodCondition { type_: c.type_, status: c.status, ..Default::default() }).collect()
            }),
            init_container_statuses: statuses(s.init_container_statuses),
            container_statuses: statuses(s.container_statuses),
            pod_ip: s.pod_ip,
            pod_ips: s.pod_ips,
            nominated_node_name: s.nominated_node_name,
            ..Default::default()
        }
    }
}

impl From<ContainerStatusView> for ContainerStatus {
    fn from(c: ContainerStatusView) -> Self {
        ContainerStatus {
            name: c.name,
            ready: c.ready,
            restart_count: c.restart_count,
            started: c.started,
            state: c.state.map(Into::into),
            last_state: c.last_state.map(Into::into),
            ..Default::default()
        }
    }
}

impl From<StateView> for ContainerState {
    fn from(s: StateView) -> Self {
        ContainerState {
            running: s.running.map(|_| ContainerStateRunning::default()),
            terminated: s.terminated,
            waiting: s.waiting,
        }
    }
}

/// The metadata fields a pod's row shows or depends on.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct MetaView<'a> {
    name: Option<String>,
    creation_timestamp: Option<Time>,
    deletion_timestamp: Option<Time>,
    #[serde(borrow)]
    resource_version: Option<&'a RawValue>,
}

impl From<ContainerView> for Container {
    fn from(c: ContainerView) -> Self {
        Container { name: c.name, restart_policy: c.restart_policy, ..Default::default() }
    }
}

/// The same JSON as [`super::table`] of the decoded `objects` (each its stored
/// bytes and the resourceVersion to stamp, 0 for none), serialised. Fails only
/// when a stored object is not JSON.
pub fn table_raw(
    info: &ResourceInfo,
    objects: &[(&[u8], i64)],
    include: IncludeObject,
    now: Timestamp,
    resource_version: &str,
    continue_token: &str,
) -> Result<Vec<u8>, serde_json::Error> {
    // A pod's row is about a tenth of its stored size, with its metadata a third.
    let stored: usize = objects.iter().map(|(json, _)| json.len()).sum();
    let mut out = Vec::with_capacity(1024 + stored / 2);
    out.extend_from_slice(br#"{"kind":"Table","apiVersion":"meta.k8s.io/v1","metadata":{"#);
    if !resource_version.is_empty() {
        out.extend_from_slice(br#""resourceVersion":"#);
        serde_json::to_writer(&mut out, resource_version)?;
    }
    if !continue_token.is_empty() {
        if !resource_version.is_empty() {
            out.push(b',');
        }
        out.extend_from_slice(br#""continue":"#);
        serde_json::to_writer(&mut out, continue_token)?;
    }
    out.extend_from_slice(br#"},"columnDefinitions":"#);
    serde_json::to_writer(&mut out, &definitions(info))?;
    out.extend_from_slice(br#","rows":["#);
    for (i, &(json, rv)) in objects.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        let fast = info.kind == "Pod" && include != IncludeObject::Object && pod_row(&mut out, json, rv, include, now);
        if !fast {
            let mut obj: Value = serde_json::from_slice(json)?;
            if rv > 0 {
                crate::meta::set_resource_version(&mut obj, rv);
            }
            serde_json::to_writer(&mut out, &row(info, &obj, include, now))?;
        }
    }
    out.extend_from_slice(b"]}");
    Ok(out)
}

/// Writes the row of the pod stored as `json` and says so; writes nothing and
/// says false when the pod does not read as the narrow view (then the general
/// path decides what its row is).
fn pod_row(out: &mut Vec<u8>, json: &[u8], rv: i64, include: IncludeObject, now: Timestamp) -> bool {
    let Ok(view) = serde_json::from_slice::<PodView>(json) else {
        return false;
    };
    let metadata = view.metadata.get().trim();
    let Ok(meta) = serde_json::from_str::<MetaView>(metadata) else {
        return false;
    };
    // Stored objects carry no resourceVersion; one that does gets the general path's replacement.
    if meta.resource_version.is_some() && rv > 0 {
        return false;
    }
    let status = view.status.map(PodStatus::from);
    let phase = status.as_ref().and_then(|s| s.phase.clone());
    let pod = Pod {
        metadata: ObjectMeta {
            name: meta.name,
            creation_timestamp: meta.creation_timestamp,
            deletion_timestamp: meta.deletion_timestamp,
            ..Default::default()
        },
        spec: view.spec.map(|s| PodSpec {
            containers: s.containers.into_iter().map(Container::from).collect(),
            init_containers: s.init_containers.map(|c| c.into_iter().map(Container::from).collect()),
            readiness_gates: s.readiness_gates,
            node_name: s.node_name,
            ..Default::default()
        }),
        status,
    };
    let cells = kinds::pod(&pod, now);

    out.extend_from_slice(br#"{"cells":["#);
    for (i, cell) in cells.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        match cell {
            Cell::Text(s) => serde_json::to_writer(&mut *out, s).expect("a string always serializes"),
            Cell::Int(n) => write!(out, "{n}").expect("writing to a Vec cannot fail"),
        }
    }
    out.push(b']');
    match phase.as_deref() {
        Some("Succeeded") => out.extend_from_slice(
            br#","conditions":[{"type":"Completed","status":"True","reason":"Succeeded","message":"The pod has completed successfully."}]"#,
        ),
        Some("Failed") => out.extend_from_slice(
            br#","conditions":[{"type":"Completed","status":"True","reason":"Failed","message":"The pod failed."}]"#,
        ),
        _ => {}
    }
    if include == IncludeObject::Metadata {
        out.extend_from_slice(
            br#","object":{"kind":"PartialObjectMetadata","apiVersion":"meta.k8s.io/v1","metadata":"#,
        );
        match metadata.strip_prefix('{').filter(|_| rv > 0) {
            Some(rest) => {
                write!(out, r#"{{"resourceVersion":"{rv}""#).expect("writing to a Vec cannot fail");
                if !rest.trim_start().starts_with('}') {
                    out.push(b',');
                }
                out.extend_from_slice(rest.as_bytes());
            }
            None => out.extend_from_slice(metadata.as_bytes()),
        }
        out.push(b'}');
    }
    out.push(b'}');
    true
}
