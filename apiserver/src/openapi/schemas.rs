//! The schema definitions: every type the served kinds use, generated from
//! k8s-openapi's schemas (which carry Kubernetes' own descriptions) and shaped
//! as kube-apiserver's OpenAPI v2 document has them: named
//! `io.k8s.api.core.v1.Pod`, referenced as `#/definitions/<name>`, each kind
//! marked with its `x-kubernetes-group-version-kind`, and the lists strategic
//! merge patches merge by key marked with `x-kubernetes-patch-merge-key`.

use api::registry::RESOURCES;
use k8s_openapi::api::autoscaling::v1::Scale;
use k8s_openapi::api::{
    apps::v1 as apps, batch::v1 as batch, coordination::v1 as coord, core::v1 as core, storage::v1 as storage,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1 as meta;
use k8s_openapi::schemars::{generate::SchemaSettings, JsonSchema, SchemaGenerator};
use k8s_openapi::Resource;
use serde_json::{json, Map, Value};

/// Where v2 references point.
pub(super) const DEFINITIONS: &str = "#/definitions/";
/// The prefix of apimachinery's meta/v1 definitions.
pub(super) const META: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.";
/// The prefix of the core group's definitions.
pub(super) const CORE: &str = "io.k8s.api.core.v1.";

/// One served kind: its group, version and kind, and its definition's name.
#[derive(Debug, Clone)]
pub(super) struct KindDef {
    pub group: &'static str,
    pub version: &'static str,
    pub kind: &'static str,
    pub name: String,
}

impl KindDef {
    /// The name of its list's definition: `io.k8s.api.core.v1.PodList`.
    pub fn list_name(&self) -> String {
        format!("{}List", self.name)
    }
}

/// Adds one kind's schema (and every type it uses) to the generator.
type AddKind = fn(&mut SchemaGenerator) -> KindDef;

fn add<T: Resource + JsonSchema>(generator: &mut SchemaGenerator) -> KindDef {
    generator.subschema_for::<T>();
    KindDef { group: T::GROUP, version: T::VERSION, kind: T::KIND, name: T::schema_name().into_owned() }
}

/// The k8s-openapi type of every kind in `api::registry::RESOURCES` (a test
/// checks that none is missing).
const KINDS: &[AddKind] = &[
    add::<core::Binding>,
    add::<core::ConfigMap>,
    add::<core::Endpoints>,
    add::<core::Event>,
    add::<core::Namespace>,
    add::<core::Node>,
    add::<core::PersistentVolume>,
    add::<core::PersistentVolumeClaim>,
    add::<core::Pod>,
    add::<core::ReplicationController>,
    add::<core::Secret>,
    add::<core::Service>,
    add::<apps::DaemonSet>,
    add::<apps::Deployment>,
    add::<apps::ReplicaSet>,
    add::<apps::StatefulSet>,
    add::<apps::ControllerRevision>,
    add::<batch::CronJob>,
    add::<batch::Job>,
    add::<coord::Lease>,
    add::<storage::StorageClass>,
];

/// The lists Kubernetes' types mark with a patch strategy (the
/// `patchStrategy`/`patchMergeKey` struct tags of k8s.io/api), as
/// (definition, field, strategy, merge key). The keys are those
/// `crate::patch` merges by.
pub(super) const PATCH_STRATEGIES: &[(&str, &str, &str, Option<&str>)] = &[
    ("io.k8s.api.core.v1.PodSpec", "containers", "merge", Some("name")),
    ("io.k8s.api.core.v1.PodSpec", "initContainers", "merge", Some("name")),
    ("io.k8s.api.core.v1.PodSpec", "ephemeralContainers", "merge", Some("name")),
    ("io.k8s.api.core.v1.PodSpec", "volumes", "merge,retainKeys", Some("name")),
    ("io.k8s.api.core.v1.PodSpec", "imagePullSecrets", "merge", Some("name")),
    ("io.k8s.api.core.v1.PodSpec", "hostAliases", "merge", Some("ip")),
    ("io.k8s.api.core.v1.PodSpec", "topologySpreadConstraints", "merge", Some("topologyKey")),
    ("io.k8s.api.core.v1.PodSpec", "resourceClaims", "merge,retainKeys", Some("name")),
    ("io.k8s.api.core.v1.PodSpec", "schedulingGates", "merge", Some("name")),
    ("io.k8s.api.core.v1.Container", "ports", "merge", Some("containerPort")),
    ("io.k8s.api.core.v1.Container", "env", "merge", Some("name")),
    ("io.k8s.api.core.v1.Container", "volumeMounts", "merge", Some("mountPath")),
    ("io.k8s.api.core.v1.Container", "volumeDevices", "merge", Some("devicePath")),
    ("io.k8s.api.core.v1.EphemeralContainer", "env", "merge", Some("name")),
    ("io.k8s.api.core.v1.EphemeralContainer", "volumeMounts", "merge", Some("mountPath")),
    ("io.k8s.api.core.v1.EphemeralContainer", "volumeDevices", "merge", Some("devicePath")),
    ("io.k8s.api.core.v1.PodStatus", "conditions", "merge", Some("type")),
    ("io.k8s.api.core.v1.PodStatus", "podIPs", "merge", Some("ip")),
    ("io.k8s.api.core.v1.PodStatus", "hostIPs", "merge", Some("ip")),
    ("io.k8s.api.core.v1.PodStatus", "resourceClaimStatuses", "merge,retainKeys", Some("name")),
    ("io.k8s.api.core.v1.ServiceSpec", "ports", "merge", Some("port")),
    ("io.k8s.api.core.v1.ServiceStatus", "conditions", "merge", Some("type")),
    ("io.k8s.api.core.v1.NodeSpec", "podCIDRs", "merge", None),
    ("io.k8s.api.core.v1.NodeStatus", "conditions", "merge", Some("type")),
    ("io.k8s.api.core.v1.NodeStatus", "addresses", "merge", Some("type")),
    ("io.k8s.api.core.v1.NamespaceStatus", "conditions", "merge", Some("type")),
    ("io.k8s.api.core.v1.ReplicationControllerStatus", "conditions", "merge", Some("type")),
    ("io.k8s.api.apps.v1.ReplicaSetStatus", "conditions", "merge", Some("type")),
    ("io.k8s.api.apps.v1.DeploymentSpec", "strategy", "retainKeys", None),
    ("io.k8s.api.apps.v1.DeploymentStatus", "conditions", "merge", Some("type")),
    ("io.k8s.api.apps.v1.DaemonSetStatus", "conditions", "merge", Some("type")),
    ("io.k8s.api.apps.v1.StatefulSetStatus", "conditions", "merge", Some("type")),
    ("io.k8s.api.batch.v1.JobStatus", "conditions", "merge", Some("type")),
    ("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta", "finalizers", "merge", None),
    ("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta", "ownerReferences", "merge", Some("uid")),
];

/// Every definition the documents use, by name, and the served kinds in
/// `RESOURCES` order.
pub(super) fn definitions() -> (Map<String, Value>, Vec<KindDef>) {
    let settings = SchemaSettings::draft2020_12().with(|s| {
        s.definitions_path = "/definitions".into();
        s.meta_schema = None;
    });
    let mut generator = SchemaGenerator::new(settings);
    let mut kinds: Vec<KindDef> = KINDS.iter().map(|add| add(&mut generator)).collect();
    kinds.sort_by_key(|k| {
        RESOURCES
            .iter()
            .position(|r| (r.group, r.version, r.kind) == (k.group, k.version, k.kind))
            .unwrap_or(usize::MAX)
    });
    // What the paths answer and take besides the kinds themselves.
    generator.subschema_for::<meta::DeleteOptions>();
    generator.subschema_for::<meta::Status>();
    generator.subschema_for::<meta::WatchEvent<core::Pod>>();
    generator.subschema_for::<meta::Patch>();
    let scale = generator.subschema_for::<Scale>();
    let mut defs = generator.take_definitions(false);
    if let Some(Value::Object(def)) = scale.get("$ref").and_then(Value::as_str).and_then(|r| {
        let name = r.strip_prefix(DEFINITIONS)?;
        defs.get_mut(name)
    }) {
        set_gvk(def, Scale::GROUP, Scale::VERSION, Scale::KIND);
    }

    for k in &kinds {
        if let Some(Value::Object(def)) = defs.get_mut(&k.name) {
            set_gvk(def, k.group, k.version, k.kind);
            // k8s-openapi makes `metadata` required (it is not an Option in
            // Rust); Kubernetes does not require it.
            if let Some(Value::Array(required)) = def.get_mut("required") {
                required.retain(|r| r != "metadata");
                if required.is_empty() {
                    def.remove("required");
                }
            }
        }
    }
    for k in kinds.iter().filter(|k| k.kind != "Binding") {
        let list = list_definition(k);
        defs.insert(k.list_name(), list);
    }
    // The meta types every group version answers with.
    let every_gv: Vec<(&str, &str)> = kinds.iter().map(|k| (k.group, k.version)).collect();
    for (name, kind) in [("DeleteOptions", "DeleteOptions"), ("Status", "Status"), ("WatchEvent", "WatchEvent")] {
        if let Some(Value::Object(def)) = defs.get_mut(&format!("{META}{name}")) {
            let mut gvks: Vec<Value> = vec![];
            for (g, v) in &every_gv {
                let gvk = json!({"group": g, "kind": kind, "version": v});
                if !gvks.contains(&gvk) {
                    gvks.push(gvk);
                }
            }
            def.insert("x-kubernetes-group-version-kind".into(), Value::Array(gvks));
        }
    }
    for (name, def) in defs.iter_mut() {
        if let Value::Object(def) = def {
            int_or_string_as_kubernetes_writes_it(name, def);
        }
    }
    for (def, field, strategy, key) in PATCH_STRATEGIES {
        let Some(prop) = defs.get_mut(*def).and_then(|d| d.get_mut("properties")).and_then(|p| p.get_mut(*field))
        else {
            continue;
        };
        let Value::Object(prop) = prop else { continue };
        prop.insert("x-kubernetes-patch-strategy".into(), json!(strategy));
        if let Some(key) = key {
            prop.insert("x-kubernetes-patch-merge-key".into(), json!(key));
        }
    }
    (defs, kinds)
}

fn set_gvk(def: &mut Map<String, Value>, group: &str, version: &str, kind: &str) {
    def.insert("x-kubernetes-group-version-kind".into(), json!([{"group": group, "kind": kind, "version": version}]));
}

/// `PodList`'s definition, as Kubernetes describes its lists.
fn list_definition(k: &KindDef) -> Value {
    let list = format!("{}List", k.kind);
    let mut def = json!({
        "description": format!("{list} is a list of {} objects.", k.kind),
        "type": "object",
        "properties": {
            "apiVersion": {
                "description": "APIVersion defines the versioned schema of this representation of an object. Servers should convert recognized schemas to the latest internal value, and may reject unrecognized values.",
                "type": "string",
            },
            "items": {
                "description": format!("The {} objects in the list.", k.kind),
                "type": "array",
                "items": {"$ref": format!("{DEFINITIONS}{}", k.name)},
            },
            "kind": {
                "description": "Kind is a string value representing the REST resource this object represents. In CamelCase.",
                "type": "string",
            },
            "metadata": {
                "description": "Standard list metadata: the list's resourceVersion and continue token.",
                "$ref": format!("{DEFINITIONS}{META}ListMeta"),
            },
        },
        "required": ["items"],
    });
    if let Value::Object(def) = &mut def {
        set_gvk(def, k.group, k.version, &list);
    }
    def
}

/// k8s-openapi marks IntOrString and Quantity with `x-kubernetes-int-or-string`
/// and no type; kube-apiserver's documents give them `type: string` (with
/// `format: int-or-string` for IntOrString), which is what kubectl's schema
/// parser needs (a definition without type or properties would be "any").
fn int_or_string_as_kubernetes_writes_it(name: &str, def: &mut Map<String, Value>) {
    if def.remove("x-kubernetes-int-or-string").is_none() || def.contains_key("type") {
        return;
    }
    def.insert("type".into(), json!("string"));
    if name != "io.k8s.apimachinery.pkg.api.resource.Quantity" {
        def.insert("format".into(), json!("int-or-string"));
    }
}

/// The names of every definition `roots` reference, directly or through
/// other definitions, `roots` included.
pub(super) fn reachable(defs: &Map<String, Value>, roots: impl IntoIterator<Item = String>) -> Vec<String> {
    let mut seen: Vec<String> = vec![];
    let mut todo: Vec<String> = roots.into_iter().collect();
    while let Some(name) = todo.pop() {
        if seen.contains(&name) {
            continue;
        }
        if let Some(def) = defs.get(&name) {
            refs(def, DEFINITIONS, &mut todo);
        }
        seen.push(name);
    }
    seen.sort();
    seen
}

/// Collects the definition names `v` references, references starting with `prefix`.
pub(super) fn refs(v: &Value, prefix: &str, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            for (k, v) in m {
                match (k.as_str(), v) {
                    ("$ref", Value::String(r)) => {
                        if let Some(name) = r.strip_prefix(prefix) {
                            out.push(name.to_string());
                        }
                    }
                    _ => refs(v, prefix, out),
                }
            }
        }
        Value::Array(a) => a.iter().for_each(|v| refs(v, prefix, out)),
        _ => {}
    }
}
