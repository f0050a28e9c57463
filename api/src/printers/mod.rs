//! What `kubectl get` shows of each kind, computed in one place for both
//! kubectls: kube-apiserver's server-side printers (its
//! pkg/printers/internalversion `AddHandlers`) as columns and cells, and the
//! meta.k8s.io/v1 `Table` the apiserver answers `Accept: ...;as=Table` with.
//! kubelab's kubectl prints the same columns client-side.
//!
//! - [`columns`]: a kind's column definitions (names, types, formats,
//!   descriptions, priority 1 for the `-o wide` ones).
//! - [`cells`]: one object's row, a cell per column.
//! - [`table`]: the whole `Table` of a list or one object.
//! - [`table_raw`]: the same Table of a list, serialised, built from the stored bytes (fast for pods);
//!   [`PreparedRow`]: one row computed once and shown at any moment, and [`write_table`] of such rows.
//! - [`age`]: the AGE column's short durations; [`decode`](mod@decode): JSON to the typed struct.

pub mod age;
pub mod decode;
mod kinds;
mod raw;

pub use kinds::{
    access_modes_string, event_source, format_labels, format_map, is_default_class, label_selector_string, node_roles,
};
pub use raw::{table_raw, write_table, PreparedRow};

use crate::registry::{ResourceInfo, RESOURCES};
use decode::decode;
use jiff::Timestamp;
use k8s_openapi::api::apps::v1::{ControllerRevision, ReplicaSetSpec, ReplicaSetStatus};
use k8s_openapi::api::apps::v1::{DaemonSetSpec, DaemonSetStatus, DeploymentSpec, DeploymentStatus};
use k8s_openapi::api::batch::v1::{CronJobSpec, CronJobStatus, JobSpec, JobStatus};
use k8s_openapi::api::coordination::v1::LeaseSpec;
use k8s_openapi::api::core::v1::{
    ConfigMap, Endpoints, Event, NodeStatus, NodeSystemInfo, ObjectReference, PersistentVolumeClaimSpec,
    PersistentVolumeClaimStatus, PersistentVolumeSpec, PersistentVolumeStatus, PodSpec, PodStatus,
    ReplicationControllerSpec, ReplicationControllerStatus, Secret, ServiceSpec,
};
use k8s_openapi::api::storage::v1::StorageClass;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde_json::{json, Map, Value};
use std::fmt;
use std::sync::{LazyLock, OnceLock};

/// Where a column's description comes from: Kubernetes' own words, or the
/// documentation of the API field it shows (read from k8s-openapi's schema,
/// as Kubernetes reads its types' `SwaggerDoc`).
#[derive(Clone, Copy)]
pub enum Doc {
    Text(&'static str),
    /// The description of field `.1` of the type whose schema `.0` reads.
    Field(fn(&str) -> String, &'static str),
}

/// One column of a kind's table, as Kubernetes' `TableColumnDefinition`.
#[derive(Clone, Copy)]
pub struct Column {
    /// As Kubernetes spells it (`Cluster-IP`); kubectl prints it upper-cased.
    pub name: &'static str,
    /// The OpenAPI type of the cells: `string`, `integer`, `boolean`, `date`.
    pub type_: &'static str,
    /// `name` for the column holding the object's name, else empty.
    pub format: &'static str,
    /// 0: always shown; 1: only with `-o wide`.
    pub priority: u8,
    pub doc: Doc,
}

impl Column {
    /// What the column shows, in Kubernetes' words.
    pub fn description(&self) -> String {
        match self.doc {
            Doc::Text(t) => t.to_string(),
            Doc::Field(read, field) => read(field),
        }
    }

    /// The column as the Table's `columnDefinitions` lists it.
    pub fn definition(&self) -> Value {
        json!({
            "name": self.name,
            "type": self.type_,
            "format": self.format,
            "description": self.description(),
            "priority": self.priority,
        })
    }
}

impl fmt::Debug for Column {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Column")
            .field("name", &self.name)
            .field("type", &self.type_)
            .field("format", &self.format)
            .field("priority", &self.priority)
            .finish()
    }
}

/// The description of `field` in the schema of `T`.
fn field_doc<T: schemars::JsonSchema>(field: &str) -> String {
    let schema = schemars::SchemaGenerator::default().into_root_schema_for::<T>();
    let described = schema.as_value().get("properties").and_then(|p| p.get(field)).and_then(|f| f.get("description"));
    described.and_then(Value::as_str).unwrap_or_default().to_string()
}

const fn col(name: &'static str, type_: &'static str, doc: Doc) -> Column {
    Column { name, type_, format: "", priority: 0, doc }
}

const fn wide(name: &'static str, doc: Doc) -> Column {
    Column { name, type_: "string", format: "", priority: 1, doc }
}

const fn text(name: &'static str, doc: Doc) -> Column {
    col(name, "string", doc)
}

const fn int(name: &'static str, doc: Doc) -> Column {
    col(name, "integer", doc)
}

const NAME: Column = Column { name: "Name", type_: "string", format: "name", priority: 0, doc: meta("name") };
const AGE: Column = text("Age", meta("creationTimestamp"));
const CONTAINERS: Column = wide("Containers", Doc::Text("Names of each container in the template."));
const IMAGES: Column = wide("Images", Doc::Text("Images referenced by each container in the template."));

const fn meta(field: &'static str) -> Doc {
    Doc::Field(field_doc::<ObjectMeta>, field)
}

macro_rules! doc {
    ($t:ty, $field:literal) => {
        Doc::Field(field_doc::<$t>, $field)
    };
}

static POD: &[Column] = &[
    NAME,
    text("Ready", Doc::Text("The aggregate readiness state of this pod for accepting traffic.")),
    text("Status", Doc::Text("The aggregate status of the containers in this pod.")),
    text(
        "Restarts",
        Doc::Text(
            "The number of times the containers in this pod have been restarted and when the last container in \
             this pod has restarted.",
        ),
    ),
    AGE,
    wide("IP", doc!(PodStatus, "podIP")),
    wide("Node", doc!(PodSpec, "nodeName")),
    wide("Nominated Node", doc!(PodStatus, "nominatedNodeName")),
    wide("Readiness Gates", doc!(PodSpec, "readinessGates")),
];

static REPLICATION_CONTROLLER: &[Column] = &[
    NAME,
    int("Desired", doc!(ReplicationControllerSpec, "replicas")),
    int("Current", doc!(ReplicationControllerStatus, "replicas")),
    int("Ready", doc!(ReplicationControllerStatus, "readyReplicas")),
    AGE,
    CONTAINERS,
    IMAGES,
    wide("Selector", doc!(ReplicationControllerSpec, "selector")),
];

static REPLICA_SET: &[Column] = &[
    NAME,
    int("Desired", doc!(ReplicaSetSpec, "replicas")),
    int("Current", doc!(ReplicaSetStatus, "replicas")),
    int("Ready", doc!(ReplicaSetStatus, "readyReplicas")),
    AGE,
    CONTAINERS,
    IMAGES,
    wide("Selector", doc!(ReplicaSetSpec, "selector")),
];

static DAEMON_SET: &[Column] = &[
    NAME,
    int("Desired", doc!(DaemonSetStatus, "desiredNumberScheduled")),
    int("Current", doc!(DaemonSetStatus, "currentNumberScheduled")),
    int("Ready", doc!(DaemonSetStatus, "numberReady")),
    int("Up-to-date", doc!(DaemonSetStatus, "updatedNumberScheduled")),
    int("Available", doc!(DaemonSetStatus, "numberAvailable")),
    text("Node Selector", doc!(PodSpec, "nodeSelector")),
    AGE,
    CONTAINERS,
    IMAGES,
    wide("Selector", doc!(DaemonSetSpec, "selector")),
];

static DEPLOYMENT: &[Column] = &[
    NAME,
    text("Ready", Doc::Text("Number of the pod with ready state")),
    text("Up-to-date", doc!(DeploymentStatus, "updatedReplicas")),
    text("Available", doc!(DeploymentStatus, "availableReplicas")),
    AGE,
    CONTAINERS,
    IMAGES,
    wide("Selector", doc!(DeploymentSpec, "selector")),
];

static STATEFUL_SET: &[Column] =
    &[NAME, text("Ready", Doc::Text("Number of the pod with ready state")), AGE, CONTAINERS, IMAGES];

static CONTROLLER_REVISION: &[Column] = &[
    NAME,
    text("Controller", Doc::Text("Controller of the object")),
    int("Revision", doc!(ControllerRevision, "revision")),
    AGE,
];

static JOB: &[Column] = &[
    NAME,
    text("Status", Doc::Text("Status of the job.")),
    text("Completions", doc!(JobStatus, "succeeded")),
    text("Duration", Doc::Text("Time required to complete the job.")),
    AGE,
    CONTAINERS,
    IMAGES,
    wide("Selector", doc!(JobSpec, "selector")),
];

static CRON_JOB: &[Column] = &[
    NAME,
    text("Schedule", doc!(CronJobSpec, "schedule")),
    text("Timezone", doc!(CronJobSpec, "timeZone")),
    col("Suspend", "boolean", doc!(CronJobSpec, "suspend")),
    int("Active", doc!(CronJobStatus, "active")),
    text("Last Schedule", doc!(CronJobStatus, "lastScheduleTime")),
    AGE,
    CONTAINERS,
    IMAGES,
    wide("Selector", doc!(JobSpec, "selector")),
];

static SERVICE: &[Column] = &[
    NAME,
    text("Type", doc!(ServiceSpec, "type")),
    text("Cluster-IP", doc!(ServiceSpec, "clusterIP")),
    text("External-IP", doc!(ServiceSpec, "externalIPs")),
    text("Port(s)", doc!(ServiceSpec, "ports")),
    AGE,
    wide("Selector", doc!(ServiceSpec, "selector")),
];

static ENDPOINTS: &[Column] = &[NAME, text("Endpoints", doc!(Endpoints, "subsets")), AGE];

static NODE: &[Column] = &[
    NAME,
    text("Status", Doc::Text("The status of the node")),
    text("Roles", Doc::Text("The roles of the node")),
    AGE,
    text("Version", doc!(NodeSystemInfo, "kubeletVersion")),
    wide("Internal-IP", doc!(NodeStatus, "addresses")),
    wide("External-IP", doc!(NodeStatus, "addresses")),
    wide("OS-Image", doc!(NodeSystemInfo, "osImage")),
    wide("Kernel-Version", doc!(NodeSystemInfo, "kernelVersion")),
    wide("Container-Runtime", doc!(NodeSystemInfo, "containerRuntimeVersion")),
];

static EVENT: &[Column] = &[
    text("Last Seen", doc!(Event, "lastTimestamp")),
    text("Type", doc!(Event, "type")),
    text("Reason", doc!(Event, "reason")),
    text("Object", doc!(Event, "involvedObject")),
    wide("Subobject", doc!(ObjectReference, "fieldPath")),
    wide("Source", doc!(Event, "source")),
    text("Message", doc!(Event, "message")),
    wide("First Seen", doc!(Event, "firstTimestamp")),
    wide("Count", doc!(Event, "count")),
    Column { priority: 1, ..NAME },
];

static NAMESPACE: &[Column] = &[NAME, text("Status", Doc::Text("The status of the namespace")), AGE];

// A count, though the column says string: kube-apiserver's printer defines it so.
static CONFIG_MAP: &[Column] = &[NAME, text("Data", doc!(ConfigMap, "data")), AGE];

static SECRET: &[Column] = &[NAME, text("Type", doc!(Secret, "type")), text("Data", doc!(Secret, "data")), AGE];

static PERSISTENT_VOLUME: &[Column] = &[
    NAME,
    text("Capacity", doc!(PersistentVolumeSpec, "capacity")),
    text("Access Modes", doc!(PersistentVolumeSpec, "accessModes")),
    text("Reclaim Policy", doc!(PersistentVolumeSpec, "persistentVolumeReclaimPolicy")),
    text("Status", doc!(PersistentVolumeStatus, "phase")),
    text("Claim", doc!(PersistentVolumeSpec, "claimRef")),
    text("StorageClass", Doc::Text("StorageClass of the pv")),
    text("VolumeAttributesClass", Doc::Text("VolumeAttributesClass of the pv")),
    text("Reason", doc!(PersistentVolumeStatus, "reason")),
    AGE,
    wide("VolumeMode", doc!(PersistentVolumeSpec, "volumeMode")),
];

static PERSISTENT_VOLUME_CLAIM: &[Column] = &[
    NAME,
    text("Status", doc!(PersistentVolumeClaimStatus, "phase")),
    text("Volume", doc!(PersistentVolumeClaimSpec, "volumeName")),
    text("Capacity", doc!(PersistentVolumeClaimStatus, "capacity")),
    text("Access Modes", doc!(PersistentVolumeClaimStatus, "accessModes")),
    text("StorageClass", Doc::Text("StorageClass of the pvc")),
    text("VolumeAttributesClass", Doc::Text("VolumeAttributesClass of the pvc")),
    AGE,
    wide("VolumeMode", doc!(PersistentVolumeClaimSpec, "volumeMode")),
];

static STORAGE_CLASS: &[Column] = &[
    NAME,
    text("Provisioner", doc!(StorageClass, "provisioner")),
    text("ReclaimPolicy", doc!(StorageClass, "reclaimPolicy")),
    text("VolumeBindingMode", doc!(StorageClass, "volumeBindingMode")),
    text("AllowVolumeExpansion", doc!(StorageClass, "allowVolumeExpansion")),
    AGE,
];

static LEASE: &[Column] = &[NAME, text("Holder", doc!(LeaseSpec, "holderIdentity")), AGE];

/// What kube-apiserver's default table convertor shows of a kind without a
/// printer of its own (rest.defaultTableConvertor): the name and the
/// creation time as an RFC 3339 date.
static DEFAULT: &[Column] =
    &[NAME, Column { name: "Created At", type_: "date", format: "", priority: 0, doc: meta("creationTimestamp") }];

/// The columns of `info`'s kind, in Kubernetes' order (the `-o wide` ones,
/// priority 1, included); None for a kind without a printer of its own
/// (Binding), which [`table`] shows with the default convertor's Name and Created At.
pub fn columns(info: &ResourceInfo) -> Option<&'static [Column]> {
    Some(match info.kind {
        "Pod" => POD,
        "ReplicationController" => REPLICATION_CONTROLLER,
        "ReplicaSet" => REPLICA_SET,
        "DaemonSet" => DAEMON_SET,
        "Deployment" => DEPLOYMENT,
        "StatefulSet" => STATEFUL_SET,
        "ControllerRevision" => CONTROLLER_REVISION,
        "Job" => JOB,
        "CronJob" => CRON_JOB,
        "Service" => SERVICE,
        "Endpoints" => ENDPOINTS,
        "Node" => NODE,
        "Event" => EVENT,
        "Namespace" => NAMESPACE,
        "Lease" => LEASE,
        "ConfigMap" => CONFIG_MAP,
        "Secret" => SECRET,
        "PersistentVolume" => PERSISTENT_VOLUME,
        "PersistentVolumeClaim" => PERSISTENT_VOLUME_CLAIM,
        "StorageClass" => STORAGE_CLASS,
        _ => return None,
    })
}

/// One cell of a row: text, or a number where Kubernetes' printer puts one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cell {
    Text(String),
    Int(i64),
    /// A Go bool cell (StorageClass's AllowVolumeExpansion).
    Bool(bool),
    /// Text around the age of a time (`5m`; `2 (5m ago)` with the text
    /// before and after it), which reads differently at every moment: kept as
    /// the time, so a row can be computed once and shown at any moment
    /// ([`Cell::at`]). `since` None shows `<unknown>`. [`cells`] never returns one.
    Ago {
        before: String,
        since: Option<Timestamp>,
        after: String,
    },
}

impl Cell {
    fn int(n: i32) -> Self {
        Cell::Int(i64::from(n))
    }

    /// The age of an object's time, as the AGE column shows it.
    fn age<T: age::ObjectTime>(t: Option<&T>) -> Self {
        Cell::Ago { before: String::new(), since: t.map(T::timestamp), after: String::new() }
    }

    /// The cell as it reads at `now`: an age put into words, anything else as it is.
    pub fn at(self, now: Timestamp) -> Cell {
        match self {
            Cell::Ago { before, since, after } => {
                let age = age::since(since.map(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time).as_ref(), now);
                Cell::Text(format!("{before}{age}{after}"))
            }
            cell => cell,
        }
    }

    /// The cell as a Table's JSON holds it, read at `now`.
    fn to_json(&self, now: Timestamp) -> Value {
        match self.clone().at(now) {
            Cell::Int(n) => Value::from(n),
            Cell::Bool(b) => Value::Bool(b),
            Cell::Text(s) => Value::String(s),
            Cell::Ago { .. } => unreachable!("at() puts every age into words"),
        }
    }
}

impl From<&str> for Cell {
    fn from(s: &str) -> Self {
        Cell::Text(s.to_string())
    }
}

/// A cell's text; an age reads against the clock now.
impl fmt::Display for Cell {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Cell::Text(s) => f.write_str(s),
            Cell::Int(n) => write!(f, "{n}"),
            Cell::Bool(b) => write!(f, "{b}"),
            Cell::Ago { .. } => write!(f, "{}", self.clone().at(Timestamp::now())),
        }
    }
}

/// The row of `obj` (an object of `info`'s kind): one cell per column of
/// [`columns`] (or of the default convertor's two for a kind without them),
/// computed as kube-apiserver's printer does with the ages against `now`.
/// An object that does not read as its kind's struct (the apiserver validates
/// what it stores, so not expected) shows its name and `<unknown>` elsewhere.
pub fn cells(info: &ResourceInfo, obj: &Value, now: Timestamp) -> Vec<Cell> {
    timeless_cells(info, obj).into_iter().map(|cell| cell.at(now)).collect()
}

/// [`cells`] with the ages kept as [`Cell::Ago`]: the same at any moment.
fn timeless_cells(info: &ResourceInfo, obj: &Value) -> Vec<Cell> {
    let cells = match info.kind {
        "Pod" => decode(obj).map(|p| kinds::pod(&p)),
        "ReplicationController" => decode(obj).map(|rc| kinds::replication_controller(&rc)),
        "ReplicaSet" => decode(obj).map(|rs| kinds::replica_set(&rs)),
        "DaemonSet" => decode(obj).map(|ds| kinds::daemon_set(&ds)),
        "Deployment" => decode(obj).map(|d| kinds::deployment(&d)),
        "StatefulSet" => decode(obj).map(|s| kinds::stateful_set(&s)),
        "ControllerRevision" => decode(obj).map(|r| kinds::controller_revision(&r)),
        "Job" => decode(obj).map(|j| kinds::job(&j)),
        "CronJob" => decode(obj).map(|cj| kinds::cron_job(&cj)),
        "Service" => decode(obj).map(|s| kinds::service(&s)),
        "Endpoints" => decode(obj).map(|ep| kinds::endpoints(&ep)),
        "Node" => decode(obj).map(|n| kinds::node(&n)),
        "Event" => decode(obj).map(|ev| kinds::event(&ev)),
        "Namespace" => decode(obj).map(|ns| kinds::namespace(&ns)),
        "Lease" => decode(obj).map(|l| kinds::lease(&l)),
        "ConfigMap" => decode(obj).map(|cm| kinds::config_map(&cm)),
        "Secret" => decode(obj).map(|s| kinds::secret(&s)),
        "PersistentVolume" => decode(obj).map(|pv| kinds::persistent_volume(&pv)),
        "PersistentVolumeClaim" => decode(obj).map(|pvc| kinds::persistent_volume_claim(&pvc)),
        "StorageClass" => decode(obj).map(|sc| kinds::storage_class(&sc)),
        _ => return default_cells(obj),
    };
    cells.unwrap_or_else(|_| {
        let width = columns(info).map_or(DEFAULT.len(), <[Column]>::len);
        let mut cells = vec![Cell::Text("<unknown>".into()); width];
        let name_at = columns(info).and_then(|c| c.iter().position(|c| c.format == "name")).unwrap_or(0);
        cells[name_at] = Cell::Text(crate::meta::name(obj).to_string());
        cells
    })
}

/// The default convertor's cells: the name, and the creation time as Go's
/// `time.RFC3339` prints it in UTC (the zero time when there is none).
fn default_cells(obj: &Value) -> Vec<Cell> {
    let created = crate::time::parse(crate::meta::creation_timestamp(obj))
        .map_or_else(|| "0001-01-01T00:00:00Z".to_string(), crate::time::format);
    vec![Cell::Text(crate::meta::name(obj).to_string()), Cell::Text(created)]
}

/// The row conditions Kubernetes' printer sets: a finished pod's row is
/// `Completed` (clients may hide such rows).
fn conditions(info: &ResourceInfo, obj: &Value) -> Option<Value> {
    if info.kind != "Pod" {
        return None;
    }
    let (reason, message) = match obj.pointer("/status/phase").and_then(Value::as_str) {
        Some("Succeeded") => ("Succeeded", "The pod has completed successfully."),
        Some("Failed") => ("Failed", "The pod failed."),
        _ => return None,
    };
    Some(json!([{"type": "Completed", "status": "True", "reason": reason, "message": message}]))
}

/// What each row of a Table carries of its object (`includeObject`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum IncludeObject {
    /// No object.
    None,
    /// The object's metadata as a `meta.k8s.io/v1` `PartialObjectMetadata` (the default).
    #[default]
    Metadata,
    /// The whole object.
    Object,
}

impl IncludeObject {
    /// `includeObject`'s value as Kubernetes spells it: `None`, `Metadata` or `Object`.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "None" => Some(Self::None),
            "Metadata" => Some(Self::Metadata),
            "Object" => Some(Self::Object),
            _ => None,
        }
    }
}

/// Each kind's column definitions as JSON, built once: their descriptions
/// come from schemas that take a moment to generate.
static DEFINITIONS: LazyLock<Vec<OnceLock<Value>>> =
    LazyLock::new(|| RESOURCES.iter().map(|_| OnceLock::new()).collect());

fn definitions(info: &ResourceInfo) -> Value {
    let build = || Value::Array(columns(info).unwrap_or(DEFAULT).iter().map(Column::definition).collect());
    match RESOURCES.iter().position(|r| r.kind == info.kind) {
        Some(i) => DEFINITIONS[i].get_or_init(build).clone(),
        None => build(),
    }
}

/// A meta.k8s.io/v1 Table of `objects` (each a full object of `info`'s kind,
/// JSON with resourceVersion stamped), as kube-apiserver answers a request
/// with `Accept: application/json;as=Table;v=v1;g=meta.k8s.io`: every column
/// definition (the wide ones at priority 1), a row per object with its cells
/// (numbers where Kubernetes' printer gives numbers, ages against `now`), and
/// each row's `object` per `include`. The table's `metadata` holds
/// `resourceVersion` and `continue`, each left out when empty.
pub fn table(
    info: &ResourceInfo,
    objects: &[Value],
    include: IncludeObject,
    now: Timestamp,
    resource_version: &str,
    continue_token: &str,
) -> Value {
    let rows: Vec<Value> = objects.iter().map(|obj| row(info, obj, include, now)).collect();
    let mut metadata = Map::new();
    if !resource_version.is_empty() {
        metadata.insert("resourceVersion".into(), resource_version.into());
    }
    if !continue_token.is_empty() {
        metadata.insert("continue".into(), continue_token.into());
    }
    json!({
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": metadata,
        "columnDefinitions": definitions(info),
        "rows": rows,
    })
}

/// One row of a Table: `obj`'s cells, its conditions, and its `object` per `include`.
fn row(info: &ResourceInfo, obj: &Value, include: IncludeObject, now: Timestamp) -> Value {
    let mut row = Map::new();
    row.insert("cells".into(), cells(info, obj, now).iter().map(|cell| cell.to_json(now)).collect());
    if let Some(conditions) = conditions(info, obj) {
        row.insert("conditions".into(), conditions);
    }
    match include {
        IncludeObject::None => {}
        IncludeObject::Metadata => {
            let metadata = obj.get("metadata").cloned().unwrap_or_else(|| json!({}));
            row.insert(
                "object".into(),
                json!({"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": metadata}),
            );
        }
        IncludeObject::Object => {
            row.insert("object".into(), with_type_meta(info, obj));
        }
    }
    Value::Object(row)
}

/// The object with its `apiVersion` and `kind`, which stored list items may leave out.
fn with_type_meta(info: &ResourceInfo, obj: &Value) -> Value {
    let mut obj = obj.clone();
    if let Some(map) = obj.as_object_mut() {
        map.entry("apiVersion").or_insert_with(|| info.api_version().into());
        map.entry("kind").or_insert_with(|| info.kind.into());
    }
    obj
}

#[cfg(test)]
mod tests;
