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
    if include == IncludeObject::Object {
        // Each row carries its whole object: nothing to gain from a narrow read.
        let mut out = head(info, objects.len(), resource_version, continue_token);
        for (i, &(json, rv)) in objects.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            let mut obj: Value = serde_json::from_slice(json)?;
            if rv > 0 {
                crate::meta::set_resource_version(&mut obj, rv);
            }
            serde_json::to_writer(&mut out, &row(info, &obj, include, now))?;
        }
        out.extend_from_slice(b"]}");
        return Ok(out);
    }
    let rows = objects
        .iter()
        .map(|&(json, rv)| Ok((PreparedRow::new(info, json)?, rv)))
        .collect::<Result<Vec<_>, serde_json::Error>>()?;
    Ok(write_table(info, rows.iter().map(|(row, rv)| (row, *rv)), include, now, resource_version, continue_token))
}

/// A Table of rows prepared before (a cache of them), each with the
/// resourceVersion to stamp (0 for none), shown at `now`: the same JSON as
/// [`table_raw`] of their objects. `include` is None or Metadata (a row
/// keeps no whole object).
pub fn write_table<'a>(
    info: &ResourceInfo,
    rows: impl ExactSizeIterator<Item = (&'a PreparedRow, i64)>,
    include: IncludeObject,
    now: Timestamp,
    resource_version: &str,
    continue_token: &str,
) -> Vec<u8> {
    let mut out = head(info, rows.len(), resource_version, continue_token);
    for (i, (row, rv)) in rows.enumerate() {
        if i > 0 {
            out.push(b',');
        }
        row.write(&mut out, rv, include, now);
    }
    out.extend_from_slice(b"]}");
    out
}

/// The Table up to its first row.
fn head(info: &ResourceInfo, rows: usize, resource_version: &str, continue_token: &str) -> Vec<u8> {
    // A pod's row with its metadata is about 700 bytes.
    let mut out = Vec::with_capacity(2048 + rows * 768);
    out.extend_from_slice(br#"{"kind":"Table","apiVersion":"meta.k8s.io/v1","metadata":{"#);
    let text = |out: &mut Vec<u8>, s: &str| serde_json::to_writer(out, s).expect("a string always serializes");
    if !resource_version.is_empty() {
        out.extend_from_slice(br#""resourceVersion":"#);
        text(&mut out, resource_version);
    }
    if !continue_token.is_empty() {
        if !resource_version.is_empty() {
            out.push(b',');
        }
        out.extend_from_slice(br#""continue":"#);
        text(&mut out, continue_token);
    }
    out.extend_from_slice(br#"},"columnDefinitions":"#);
    serde_json::to_writer(&mut out, &definitions(info)).expect("a JSON value always serializes");
    out.extend_from_slice(br#","rows":["#);
    out
}

/// One object's Table row, computed once and shown at any moment: its cells
/// with ages kept as times ([`Cell::Ago`]), its conditions, and its metadata
/// as stored (without a resourceVersion, which is stamped when shown). What
/// it holds depends only on the stored bytes, so a cache keyed by the
/// object's resourceVersion can keep it.
#[derive(Debug, Clone)]
pub struct PreparedRow {
    cells: Vec<Cell>,
    /// The row's `conditions`, as JSON (a finished pod's `Completed`).
    conditions: Option<&'static str>,
    /// The metadata object's text, without resourceVersion.
    metadata: Box<str>,
    /// A resourceVersion the stored metadata held, shown when none is stamped.
    stored_version: Option<Box<str>>,
}

const SUCCEEDED: &str =
    r#"[{"type":"Completed","status":"True","reason":"Succeeded","message":"The pod has completed successfully."}]"#;
const FAILED: &str = r#"[{"type":"Completed","status":"True","reason":"Failed","message":"The pod failed."}]"#;

impl PreparedRow {
    /// The row of `stored` (an object of `info`'s kind, JSON as stored). A
    /// pod is read through a narrow view (only what its row shows); another
    /// kind, or a pod that does not read as the view, is decoded whole.
    pub fn new(info: &ResourceInfo, stored: &[u8]) -> Result<Self, serde_json::Error> {
        if info.kind == "Pod" {
            if let Some(row) = Self::pod(stored) {
                return Ok(row);
            }
        }
        let obj: Value = serde_json::from_slice(stored)?;
        let conditions = match super::conditions(info, &obj).as_ref().and_then(|c| c.pointer("/0/reason")) {
            Some(reason) if reason == "Succeeded" => Some(SUCCEEDED),
            Some(reason) if reason == "Failed" => Some(FAILED),
            _ => None,
        };
        let mut metadata = match obj.get("metadata") {
            Some(Value::Object(m)) => m.clone(),
            _ => Default::default(),
        };
        let stored_version = match metadata.remove("resourceVersion") {
            Some(Value::String(rv)) => Some(rv.into_boxed_str()),
            _ => None,
        };
        Ok(PreparedRow {
            cells: super::timeless_cells(info, &obj),
            conditions,
            metadata: serde_json::to_string(&metadata)?.into_boxed_str(),
            stored_version,
        })
    }

    /// A pod's row read through the narrow view, or None when the pod does
    /// not read as one.
    fn pod(json: &[u8]) -> Option<Self> {
        let view = serde_json::from_slice::<PodView>(json).ok()?;
        let metadata = view.metadata.get().trim();
        let meta = serde_json::from_str::<MetaView>(metadata).ok()?;
        // Stored objects carry no resourceVersion; one that does is decoded whole.
        if meta.resource_version.is_some() {
            return None;
        }
        let status = view.status.map(PodStatus::from);
        let conditions = match status.as_ref().and_then(|s| s.phase.as_deref()) {
            Some("Succeeded") => Some(SUCCEEDED),
            Some("Failed") => Some(FAILED),
            _ => None,
        };
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
        Some(PreparedRow { cells: kinds::pod(&pod), conditions, metadata: metadata.into(), stored_version: None })
    }

    /// About how many bytes the row holds.
    pub fn size(&self) -> usize {
        let cells: usize = self
            .cells
            .iter()
            .map(|c| match c {
                Cell::Text(s) => s.len(),
                Cell::Int(_) | Cell::Bool(_) => 0,
                Cell::Ago { before, after, .. } => before.len() + after.len() + 16,
            })
            .sum();
        std::mem::size_of::<Self>()
            + self.cells.len() * std::mem::size_of::<Cell>()
            + cells
            + self.metadata.len()
            + self.stored_version.as_ref().map_or(0, |v| v.len())
    }

    /// Writes the row as it reads at `now`, with its metadata (when
    /// `include` is Metadata) stamped with `rv` (when above 0).
    pub fn write(&self, out: &mut Vec<u8>, rv: i64, include: IncludeObject, now: Timestamp) {
        out.extend_from_slice(br#"{"cells":["#);
        for (i, cell) in self.cells.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            let text = |out: &mut Vec<u8>, s: &str| serde_json::to_writer(out, s).expect("a string always serializes");
            match cell {
                Cell::Text(s) => text(out, s),
                Cell::Int(n) => write!(out, "{n}").expect("writing to a Vec cannot fail"),
                Cell::Bool(b) => write!(out, "{b}").expect("writing to a Vec cannot fail"),
                Cell::Ago { .. } => match cell.clone().at(now) {
                    Cell::Text(s) => text(out, &s),
                    other => unreachable!("at() puts every age into words, not {other:?}"),
                },
            }
        }
        out.push(b']');
        if let Some(conditions) = self.conditions {
            out.extend_from_slice(br#","conditions":"#);
            out.extend_from_slice(conditions.as_bytes());
        }
        if include == IncludeObject::Metadata {
            out.extend_from_slice(
                br#","object":{"kind":"PartialObjectMetadata","apiVersion":"meta.k8s.io/v1","metadata":"#,
            );
            let stamped =
                if rv > 0 { Some(rv.to_string()) } else { self.stored_version.as_deref().map(str::to_string) };
            match (self.metadata.strip_prefix('{'), stamped) {
                (Some(rest), Some(version)) => {
                    out.extend_from_slice(br#"{"resourceVersion":"#);
                    serde_json::to_writer(&mut *out, &version).expect("a string always serializes");
                    if !rest.trim_start().starts_with('}') {
                        out.push(b',');
                    }
                    out.extend_from_slice(rest.as_bytes());
                }
                _ => out.extend_from_slice(self.metadata.as_bytes()),
            }
            out.push(b'}');
        }
        out.push(b'}');
    }
}
