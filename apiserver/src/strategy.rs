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
    if info.kind == "Service" {
        normalize_cluster_ips(obj, None);
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
    if info.kind == "Service" {
        patch_allocated_values(new, old);
        normalize_cluster_ips(new, Some(old));
        drop_type_dependent_fields(new, old);
    }
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

/// A service's type, defaulted as the defaulting step will.
fn service_type(svc: &Value) -> &str {
    svc["spec"]["type"].as_str().filter(|t| !t.is_empty()).unwrap_or("ClusterIP")
}

fn needs_cluster_ip(svc: &Value) -> bool {
    service_type(svc) != "ExternalName"
}

fn needs_node_port(svc: &Value) -> bool {
    matches!(service_type(svc), "NodePort" | "LoadBalancer")
}

fn needs_health_check_port(svc: &Value) -> bool {
    service_type(svc) == "LoadBalancer" && svc["spec"]["externalTrafficPolicy"] == "Local"
}

fn non_empty(v: &Value) -> bool {
    !(v.is_null() || v.as_str() == Some("") || v.as_array().is_some_and(|a| a.is_empty()) || v.as_i64() == Some(0))
}

fn remove_spec_field(svc: &mut Value, field: &str) {
    if let Some(spec) = svc.get_mut("spec").and_then(Value::as_object_mut) {
        spec.remove(field);
    }
}

/// Kubernetes' `NormalizeClusterIPs`: keeps `clusterIP` and `clusterIPs` in
/// step for clients that only know the singular field (old clients, `kubectl
/// edit` of one of them).
pub fn normalize_cluster_ips(svc: &mut Value, old: Option<&Value>) {
    if !svc.get("spec").is_some_and(Value::is_object) {
        return;
    }
    let ip = svc["spec"]["clusterIP"].as_str().unwrap_or("").to_string();
    let ips_set = non_empty(&svc["spec"]["clusterIPs"]);
    let Some(old) = old else {
        if !ip.is_empty() && !ips_set {
            svc["spec"]["clusterIPs"] = json!([ip]);
        }
        return;
    };
    let old_ip = old["spec"]["clusterIP"].as_str().unwrap_or("");
    let old_ips = &old["spec"]["clusterIPs"];
    // A client that sent clusterIP but not clusterIPs meant to keep them.
    if non_empty(old_ips) && !ips_set && old_ip == ip {
        svc["spec"]["clusterIPs"] = old_ips.clone();
    }
    if old_ip != ip {
        let same_list = svc["spec"]["clusterIPs"] == *old_ips;
        if !old_ip.is_empty() && ip.is_empty() && same_list {
            remove_spec_field(svc, "clusterIPs");
        }
        if !ip.is_empty() && same_list {
            svc["spec"]["clusterIPs"] = json!([ip]);
        }
    }
}

/// Kubernetes' `patchAllocatedValues`: a client that replaces a service
/// without the allocated values it never set (a `kubectl apply`/`replace` of
/// the original manifest) keeps them instead of asking for new ones.
fn patch_allocated_values(new: &mut Value, old: &Value) {
    if !new.get("spec").is_some_and(Value::is_object) {
        return;
    }
    if needs_cluster_ip(old) && needs_cluster_ip(new) {
        if !non_empty(&new["spec"]["clusterIP"]) && non_empty(&old["spec"]["clusterIP"]) {
            new["spec"]["clusterIP"] = old["spec"]["clusterIP"].clone();
        }
        if !non_empty(&new["spec"]["clusterIPs"]) && non_empty(&old["spec"]["clusterIPs"]) {
            new["spec"]["clusterIPs"] = old["spec"]["clusterIPs"].clone();
        }
    }
    if needs_node_port(old) && needs_node_port(new) {
        let node_ports = |svc: &Value| -> Vec<(String, i64)> {
            svc["spec"]["ports"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|p| (p["name"].as_str().unwrap_or("").to_string(), p["nodePort"].as_i64().unwrap_or(0)))
                .collect()
        };
        let (old_ports, new_ports) = (node_ports(old), node_ports(new));
        // Ports both already use cannot be handed to another port.
        let used: Vec<i64> =
            old_ports.iter().map(|p| p.1).filter(|np| *np != 0 && new_ports.iter().any(|q| q.1 == *np)).collect();
        if let Some(ports) = new.pointer_mut("/spec/ports").and_then(Value::as_array_mut) {
            for p in ports.iter_mut() {
                if p["nodePort"].as_i64().unwrap_or(0) != 0 {
                    continue;
                }
                let name = p["name"].as_str().unwrap_or("");
                if let Some((_, np)) = old_ports.iter().find(|(n, np)| n == name && *np != 0 && !used.contains(np)) {
                    p["nodePort"] = (*np).into();
                }
            }
        }
    }
    if needs_health_check_port(old) && needs_health_check_port(new) && !non_empty(&new["spec"]["healthCheckNodePort"]) {
        new["spec"]["healthCheckNodePort"] = old["spec"]["healthCheckNodePort"].clone();
    }
}

/// Kubernetes' `dropTypeDependentFields`: a type change clears what the old
/// type had allocated or defaulted, when the client left it untouched (so
/// `kubectl patch svc x -p '{"spec":{"type":"ClusterIP"}}'` works on a NodePort).
fn drop_type_dependent_fields(new: &mut Value, old: &Value) {
    if !new.get("spec").is_some_and(Value::is_object) {
        return;
    }
    let same = |new: &Value, field: &str| new["spec"][field] == old["spec"][field];
    if needs_cluster_ip(old) && !needs_cluster_ip(new) {
        if same(new, "clusterIP") && same(new, "clusterIPs") {
            remove_spec_field(new, "clusterIP");
            remove_spec_field(new, "clusterIPs");
        }
        for field in ["ipFamilies", "ipFamilyPolicy", "internalTrafficPolicy"] {
            if same(new, field) {
                remove_spec_field(new, field);
            }
        }
    }
    if needs_node_port(old) && !needs_node_port(new) {
        let node_ports = |svc: &Value| -> Vec<Value> {
            svc["spec"]["ports"].as_array().into_iter().flatten().map(|p| p["nodePort"].clone()).collect()
        };
        if node_ports(new) == node_ports(old) {
            if let Some(ports) = new.pointer_mut("/spec/ports").and_then(Value::as_array_mut) {
                for p in ports.iter_mut().filter_map(Value::as_object_mut) {
                    p.remove("nodePort");
                }
            }
        }
        if same(new, "externalTrafficPolicy") {
            remove_spec_field(new, "externalTrafficPolicy");
        }
    }
    if needs_health_check_port(old) && !needs_health_check_port(new) && same(new, "healthCheckNodePort") {
        remove_spec_field(new, "healthCheckNodePort");
    }
    if service_type(old) == "LoadBalancer" && service_type(new) != "LoadBalancer" {
        for field in ["allocateLoadBalancerNodePorts", "loadBalancerClass"] {
            if same(new, field) {
                remove_spec_field(new, field);
            }
        }
    }
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
    fn service_updates_keep_allocated_values_and_drop_what_a_type_change_ends() {
        let svc = lookup("services").unwrap();
        let mut created =
            json!({"metadata": {"name": "s"}, "spec": {"clusterIP": "10.96.0.7", "ports": [{"port": 80}]}});
        prepare_for_create(svc, &mut created);
        assert_eq!(created["spec"]["clusterIPs"], json!(["10.96.0.7"]), "an old client's clusterIP fills clusterIPs");
        let old = json!({"metadata": {"name": "s", "uid": "u"}, "spec": {"type": "NodePort",
            "clusterIP": "10.96.0.7", "clusterIPs": ["10.96.0.7"], "externalTrafficPolicy": "Cluster",
            "ports": [{"name": "http", "port": 80, "nodePort": 30080}]}});
        // A replace with the original manifest keeps the IP and node port.
        let mut replaced =
            json!({"metadata": {"name": "s"}, "spec": {"type": "NodePort", "ports": [{"name": "http", "port": 81}]}});
        prepare_for_update(svc, &mut replaced, &old, "");
        assert_eq!(replaced["spec"]["clusterIPs"], json!(["10.96.0.7"]));
        assert_eq!(replaced["spec"]["ports"][0]["nodePort"], 30080);
        // Switching to ClusterIP drops the node port and the traffic policy it no longer needs.
        let mut patched = old.clone();
        patched["spec"]["type"] = json!("ClusterIP");
        prepare_for_update(svc, &mut patched, &old, "");
        assert!(patched["spec"]["ports"][0].get("nodePort").is_none());
        assert!(patched["spec"].get("externalTrafficPolicy").is_none());
        assert_eq!(patched["spec"]["clusterIP"], "10.96.0.7");
        // A changed node port is the client's: kept, for validation and allocation to judge.
        let mut changed = old.clone();
        changed["spec"]["type"] = json!("ClusterIP");
        changed["spec"]["ports"][0]["nodePort"] = json!(30090);
        prepare_for_update(svc, &mut changed, &old, "");
        assert_eq!(changed["spec"]["ports"][0]["nodePort"], 30090);
        // To ExternalName the untouched cluster IP goes.
        let mut external = old.clone();
        external["spec"]["type"] = json!("ExternalName");
        prepare_for_update(svc, &mut external, &old, "");
        assert!(external["spec"].get("clusterIP").is_none() && external["spec"].get("clusterIPs").is_none());
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
