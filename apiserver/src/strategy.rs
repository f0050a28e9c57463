//! Per-kind rules the registry applies around every write, as Kubernetes'
//! "REST strategies": what the server sets on create, what a client may not
//! change on update (status through the main resource, spec through `status`),
//! and when `metadata.generation` moves.

use api::{meta, ResourceInfo};
use rand::Rng;
use serde_json::{json, Value};

/// The characters Kubernetes uses for generated name suffixes (no vowels, no
/// look-alike digits, so generated names never spell words).
const NAME_ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";

/// `generateName` plus 5 random characters, as Kubernetes' SimpleNameGenerator.
pub fn generate_name(prefix: &str) -> String {
    // Names are at most 63 characters for most kinds; Kubernetes trims the prefix to 58.
    let prefix: String = prefix.chars().take(58).collect();
    let mut rng = rand::rng();
    let suffix: String = (0..5).map(|_| NAME_ALPHABET[rng.random_range(0..NAME_ALPHABET.len())] as char).collect();
    format!("{prefix}{suffix}")
}

/// Sets what the server owns on a new object: uid, creationTimestamp,
/// generation, and the initial status; drops what clients may not set.
pub fn prepare_for_create(info: &ResourceInfo, obj: &mut Value) {
    let m = meta::metadata_mut(obj);
    for server_owned in
        ["resourceVersion", "deletionTimestamp", "deletionGracePeriodSeconds", "selfLink", "managedFields"]
    {
        m.remove(server_owned);
    }
    m.insert("uid".into(), uuid::Uuid::new_v4().to_string().into());
    m.insert("creationTimestamp".into(), meta::now_rfc3339().into());
    if has_generation(info) {
        m.insert("generation".into(), 1.into());
    }
    if info.has_status {
        let status = initial_status(info);
        match status {
            Some(s) => obj["status"] = s,
            None => {
                if let Some(o) = obj.as_object_mut() {
                    o.remove("status");
                }
            }
        }
    }
}

/// The status a new object starts with. Kinds whose controllers fill status in
/// start with none; pods start Pending, namespaces Active.
fn initial_status(info: &ResourceInfo) -> Option<Value> {
    match info.kind {
        "Pod" => Some(json!({"phase": "Pending"})),
        "Namespace" => Some(json!({"phase": "Active"})),
        _ => None,
    }
}

/// Kinds whose spec changes are counted in `metadata.generation`.
fn has_generation(info: &ResourceInfo) -> bool {
    info.has_status && !matches!(info.kind, "Namespace" | "Node")
}

/// Completes the qosClass of a pod's status from its (defaulted) spec.
pub fn finish_create(info: &ResourceInfo, obj: &mut Value) {
    if info.kind == "Pod" {
        let qos = qos_class(&obj["spec"]);
        obj["status"]["qosClass"] = qos.into();
    }
}

/// Kubernetes' QoS class: Guaranteed when every container's requests equal its
/// limits for cpu and memory, BestEffort when none sets any, else Burstable.
pub fn qos_class(spec: &Value) -> &'static str {
    let containers: Vec<&Value> = ["containers", "initContainers"]
        .iter()
        .filter_map(|k| spec.get(*k).and_then(Value::as_array))
        .flatten()
        .collect();
    let mut any = false;
    let mut guaranteed = true;
    for c in containers {
        let req = &c["resources"]["requests"];
        let lim = &c["resources"]["limits"];
        for r in ["cpu", "memory"] {
            let (rq, lm) = (req.get(r), lim.get(r));
            if rq.is_some() || lm.is_some() {
                any = true;
            }
            // Requests default to limits when only limits are given.
            if lm.is_none() || (rq.is_some() && rq != lm) {
                guaranteed = false;
            }
        }
    }
    match (any, guaranteed) {
        (false, _) => "BestEffort",
        (true, true) => "Guaranteed",
        (true, false) => "Burstable",
    }
}

/// Merges a client's update onto the stored object according to what the
/// request may change, and bumps generation when the spec changed.
///
/// `subresource` is "" (main resource: status is kept from `old`) or "status"
/// (only status is taken from `new`).
pub fn prepare_for_update(info: &ResourceInfo, new: &mut Value, old: &Value, subresource: &str) {
    if subresource == "status" {
        // Only status is taken from the request; spec and metadata stay as stored.
        let status = new.get("status").cloned();
        *new = old.clone();
        match status {
            Some(s) => new["status"] = s,
            None => {
                if let Some(o) = new.as_object_mut() {
                    o.remove("status");
                }
            }
        }
        return;
    }
    if info.has_status {
        match old.get("status") {
            Some(s) => new["status"] = s.clone(),
            None => {
                if let Some(o) = new.as_object_mut() {
                    o.remove("status");
                }
            }
        }
    }
    // Fields the server owns are kept from the stored object, whatever the client sent.
    let old_meta = old.get("metadata").cloned().unwrap_or_default();
    let m = meta::metadata_mut(new);
    for owned in ["uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "generation"] {
        match old_meta.get(owned) {
            Some(v) => m.insert(owned.into(), v.clone()),
            None => m.remove(owned),
        };
    }
    m.remove("managedFields");
    if has_generation(info) && spec_of(new) != spec_of(old) {
        let g = old["metadata"]["generation"].as_i64().unwrap_or(0) + 1;
        meta::set_meta(new, "generation", g);
    }
}

/// Everything but metadata and status: the part of the object whose changes count as a new generation.
fn spec_of(obj: &Value) -> Value {
    let mut v = obj.clone();
    if let Some(o) = v.as_object_mut() {
        o.remove("metadata");
        o.remove("status");
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use api::registry::lookup;

    #[test]
    fn generated_names_have_five_safe_characters() {
        let n = generate_name("kubia-");
        assert_eq!(n.len(), 11);
        assert!(n[6..].bytes().all(|b| NAME_ALPHABET.contains(&b)), "{n}");
        assert_ne!(generate_name("x-"), generate_name("x-"));
    }

    #[test]
    fn create_sets_server_fields_and_pending_status() {
        let pods = lookup("pods").unwrap();
        let mut pod =
            json!({"metadata": {"name": "a", "resourceVersion": "7"}, "spec": {}, "status": {"phase": "Running"}});
        prepare_for_create(pods, &mut pod);
        finish_create(pods, &mut pod);
        assert_eq!(pod["status"], json!({"phase": "Pending", "qosClass": "BestEffort"}));
        assert_eq!(pod["metadata"]["generation"], 1);
        assert!(pod["metadata"].get("resourceVersion").is_none());
        assert_eq!(meta::uid(&pod).len(), 36);
    }

    #[test]
    fn update_keeps_status_and_counts_spec_changes() {
        let rc = lookup("rc").unwrap();
        let old = json!({"metadata": {"name": "a", "uid": "u", "generation": 1}, "spec": {"replicas": 1}, "status": {"replicas": 1}});
        let mut same = json!({"metadata": {"name": "a", "labels": {"x": "y"}}, "spec": {"replicas": 1}, "status": {"replicas": 9}});
        prepare_for_update(rc, &mut same, &old, "");
        assert_eq!(same["status"]["replicas"], 1, "status is not writable through the main resource");
        assert_eq!(same["metadata"]["generation"], 1, "a label change is not a new generation");
        assert_eq!(same["metadata"]["uid"], "u");
        let mut scaled = json!({"metadata": {"name": "a"}, "spec": {"replicas": 3}});
        prepare_for_update(rc, &mut scaled, &old, "");
        assert_eq!(scaled["metadata"]["generation"], 2);
        let mut status = json!({"metadata": {"name": "a"}, "spec": {"replicas": 100}, "status": {"replicas": 3}});
        prepare_for_update(rc, &mut status, &old, "status");
        assert_eq!(status["spec"]["replicas"], 1, "spec is not writable through status");
        assert_eq!(status["status"]["replicas"], 3);
    }

    #[test]
    fn qos_classes() {
        assert_eq!(qos_class(&json!({"containers": [{"name": "a"}]})), "BestEffort");
        let g = json!({"containers": [{"resources": {"limits": {"cpu": "1", "memory": "1Gi"}}}]});
        assert_eq!(qos_class(&g), "Guaranteed");
        let b = json!({"containers": [{"resources": {"requests": {"cpu": "1"}}}]});
        assert_eq!(qos_class(&b), "Burstable");
    }
}
