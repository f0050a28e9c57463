//! Kubernetes' defaulting (`SetDefaults_*` in `pkg/apis/*/v1/defaults.go`, plus the
//! admission plugins whose results users see in `-o yaml`), applied to JSON objects.
//!
//! Editing the JSON rather than round-tripping through the typed structs keeps
//! every field the user wrote exactly as written and adds only what Kubernetes adds.

use crate::error::{ApiError, Result};
use serde_json::{json, Map, Value};

/// `map[key]`, made an object if missing or null.
fn obj<'a>(map: &'a mut Map<String, Value>, key: &str) -> &'a mut Map<String, Value> {
    let v = map.entry(key).or_insert_with(|| json!({}));
    if !v.is_object() {
        *v = json!({});
    }
    v.as_object_mut().expect("just made an object")
}

/// Sets `key` unless it already has a non-null value.
fn default(map: &mut Map<String, Value>, key: &str, value: Value) {
    match map.get(key) {
        None | Some(Value::Null) => {
            map.insert(key.to_string(), value);
        }
        Some(_) => {}
    }
}

/// Sets `key` when it is missing, null or the empty string (Go's zero value).
fn default_str(map: &mut Map<String, Value>, key: &str, value: &str) {
    if map.get(key).and_then(Value::as_str).is_none_or(str::is_empty) {
        map.insert(key.to_string(), Value::String(value.to_string()));
    }
}

/// Sets a number unless present and non-zero (Go's zero value means "unset").
fn default_num(map: &mut Map<String, Value>, key: &str, value: i64) {
    if map.get(key).and_then(Value::as_i64).is_none_or(|n| n == 0) {
        map.insert(key.to_string(), json!(value));
    }
}

fn items_mut<'a>(map: &'a mut Map<String, Value>, key: &str) -> impl Iterator<Item = &'a mut Map<String, Value>> {
    map.get_mut(key).and_then(Value::as_array_mut).into_iter().flatten().filter_map(Value::as_object_mut)
}

fn is_empty_map(v: Option<&Value>) -> bool {
    v.and_then(Value::as_object).is_none_or(Map::is_empty)
}

/// Applies the defaults of `kind` to `obj`.
pub fn apply(kind: &str, obj: &mut Value) -> Result<()> {
    let Some(root) = obj.as_object_mut() else {
        return Err(ApiError::bad_request("object must be a JSON object"));
    };
    match kind {
        "Pod" => pod(root),
        "ReplicationController" => replication_controller(root),
        "ReplicaSet" => {
            let spec = obj_spec(root);
            default(spec, "replicas", json!(1));
            template(spec);
        }
        "Deployment" => deployment(root),
        "DaemonSet" => daemon_set(root),
        "StatefulSet" => stateful_set(root),
        "Job" => job(root),
        "CronJob" => cron_job(root),
        "Service" => service(root),
        "Namespace" => namespace(root),
        // SetDefaults_PersistentVolume: a static PV is kept when its claim goes.
        "PersistentVolume" => {
            let spec = obj_spec(root);
            default_str(spec, "persistentVolumeReclaimPolicy", "Retain");
            default_str(spec, "volumeMode", "Filesystem");
            pending(root);
        }
        "PersistentVolumeClaim" => {
            default_str(obj_spec(root), "volumeMode", "Filesystem");
            pending(root);
        }
        // SetDefaults_StorageClass.
        "StorageClass" => {
            default_str(root, "reclaimPolicy", "Delete");
            default_str(root, "volumeBindingMode", "Immediate");
        }
        // SetDefaults_Secret.
        "Secret" => default_str(root, "type", "Opaque"),
        "Endpoints" => {
            for subset in items_mut(root, "subsets") {
                for port in items_mut(subset, "ports") {
                    default_str(port, "protocol", "TCP");
                }
            }
        }
        "Node" => {
            // SetDefaults_NodeStatus: allocatable defaults to capacity.
            if let Some(status) = root.get_mut("status").and_then(Value::as_object_mut) {
                if let Some(cap) = status.get("capacity").cloned() {
                    default(status, "allocatable", cap);
                }
            }
        }
        _ => {}
    }
    Ok(())
}

/// `status.phase` Pending unless set (PersistentVolume and claim defaults).
fn pending(root: &mut Map<String, Value>) {
    default_str(obj(root, "status"), "phase", "Pending");
}

fn obj_spec(root: &mut Map<String, Value>) -> &mut Map<String, Value> {
    obj(root, "spec")
}

/// Defaults a workload's `spec.template.spec` (present or not, as Kubernetes' typed
/// template is never nil in apps/v1 and batch/v1).
fn template(spec: &mut Map<String, Value>) {
    let t = obj(spec, "template");
    pod_spec(obj(t, "spec"));
}

fn pod(root: &mut Map<String, Value>) {
    let spec = obj_spec(root);
    pod_spec(spec);
    for key in ["containers", "initContainers"] {
        for c in items_mut(spec, key) {
            // SetDefaults_Pod: requests default to limits (pods only, not templates).
            let resources = obj(c, "resources");
            if let Some(limits) = resources.get("limits").and_then(Value::as_object).cloned() {
                let requests = obj(resources, "requests");
                for (k, v) in limits {
                    requests.entry(k).or_insert(v);
                }
            }
        }
    }
    default(spec, "enableServiceLinks", json!(true));
    // The Priority admission plugin: no priority class means priority 0.
    default(spec, "priority", json!(0));
    default_str(spec, "preemptionPolicy", "PreemptLowerPriority");
    if spec.get("hostNetwork").and_then(Value::as_bool) == Some(true) {
        // With host networking every container port is a host port.
        for key in ["containers", "initContainers"] {
            for c in items_mut(spec, key) {
                for p in items_mut(c, "ports") {
                    if p.get("hostPort").and_then(Value::as_i64).is_none_or(|n| n == 0) {
                        if let Some(cp) = p.get("containerPort").cloned() {
                            p.insert("hostPort".into(), cp);
                        }
                    }
                }
            }
        }
    }
    default_tolerations(spec);
}

/// The DefaultTolerationSeconds admission plugin: pods tolerate not-ready and
/// unreachable nodes for 300s unless they already say otherwise.
fn default_tolerations(spec: &mut Map<String, Value>) {
    let existing: Vec<(String, String)> = spec
        .get("tolerations")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|t| {
            let s = |k| t.get(k).and_then(Value::as_str).unwrap_or("").to_string();
            (s("key"), s("effect"))
        })
        .collect();
    let tolerates =
        |taint: &str| existing.iter().any(|(k, e)| (k == taint || k.is_empty()) && (e == "NoExecute" || e.is_empty()));
    let mut add = Vec::new();
    for taint in ["node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable"] {
        if !tolerates(taint) {
            add.push(json!({"effect": "NoExecute", "key": taint, "operator": "Exists", "tolerationSeconds": 300}));
        }
    }
    if !add.is_empty() {
        let list = spec.entry("tolerations").or_insert_with(|| json!([]));
        if !list.is_array() {
            *list = json!([]);
        }
        list.as_array_mut().expect("just made an array").extend(add);
    }
}

/// SetDefaults_PodSpec and the defaults of everything inside a pod spec.
fn pod_spec(spec: &mut Map<String, Value>) {
    default_str(spec, "dnsPolicy", "ClusterFirst");
    default_str(spec, "restartPolicy", "Always");
    default(spec, "securityContext", json!({}));
    default(spec, "terminationGracePeriodSeconds", json!(30));
    default_str(spec, "schedulerName", "default-scheduler");
    for key in ["containers", "initContainers"] {
        for c in items_mut(spec, key) {
            container(c);
        }
    }
    for v in items_mut(spec, "volumes") {
        volume(v);
    }
}

/// The pull policy Kubernetes picks: `Always` for `:latest` or no tag, else `IfNotPresent`.
pub fn pull_policy(image: &str) -> &'static str {
    let (name, digest) = match image.split_once('@') {
        Some((n, _)) => (n, true),
        None => (image, false),
    };
    let last = name.rsplit('/').next().unwrap_or(name);
    let tag = last.rsplit_once(':').map(|(_, t)| t);
    match tag {
        Some("latest") => "Always",
        Some(_) => "IfNotPresent",
        None if digest => "IfNotPresent",
        None => "Always",
    }
}

fn container(c: &mut Map<String, Value>) {
    let image = c.get("image").and_then(Value::as_str).unwrap_or("").to_string();
    default_str(c, "imagePullPolicy", pull_policy(&image));
    default_str(c, "terminationMessagePath", "/dev/termination-log");
    default_str(c, "terminationMessagePolicy", "File");
    default(c, "resources", json!({}));
    for p in items_mut(c, "ports") {
        default_str(p, "protocol", "TCP");
    }
    for e in items_mut(c, "env") {
        if let Some(fr) = e.get_mut("valueFrom").and_then(|v| v.get_mut("fieldRef")).and_then(Value::as_object_mut) {
            default_str(fr, "apiVersion", "v1");
        }
    }
    for key in ["livenessProbe", "readinessProbe", "startupProbe"] {
        if let Some(p) = c.get_mut(key).and_then(Value::as_object_mut) {
            default_num(p, "timeoutSeconds", 1);
            default_num(p, "periodSeconds", 10);
            default_num(p, "successThreshold", 1);
            default_num(p, "failureThreshold", 3);
            handler(p);
        }
    }
    if let Some(lc) = c.get_mut("lifecycle").and_then(Value::as_object_mut) {
        for key in ["postStart", "preStop"] {
            if let Some(h) = lc.get_mut(key).and_then(Value::as_object_mut) {
                handler(h);
            }
        }
    }
}

fn handler(h: &mut Map<String, Value>) {
    if let Some(get) = h.get_mut("httpGet").and_then(Value::as_object_mut) {
        default_str(get, "path", "/");
        default_str(get, "scheme", "HTTP");
    }
}

fn volume(v: &mut Map<String, Value>) {
    // A volume with no source is an emptyDir.
    if v.keys().all(|k| k == "name") {
        v.insert("emptyDir".into(), json!({}));
    }
    for key in ["secret", "configMap", "downwardAPI", "projected"] {
        if let Some(src) = v.get_mut(key).and_then(Value::as_object_mut) {
            default(src, "defaultMode", json!(420));
        }
    }
    if let Some(hp) = v.get_mut("hostPath").and_then(Value::as_object_mut) {
        default(hp, "type", json!(""));
    }
}

fn replication_controller(root: &mut Map<String, Value>) {
    let tpl_labels = root
        .get("spec")
        .and_then(|s| s.get("template"))
        .and_then(|t| t.get("metadata"))
        .and_then(|m| m.get("labels"))
        .filter(|l| l.is_object())
        .cloned();
    if let Some(labels) = tpl_labels {
        let spec = obj_spec(root);
        if is_empty_map(spec.get("selector")) {
            spec.insert("selector".into(), labels.clone());
        }
        let meta = obj(root, "metadata");
        if is_empty_map(meta.get("labels")) {
            meta.insert("labels".into(), labels);
        }
    }
    let spec = obj_spec(root);
    default(spec, "replicas", json!(1));
    if let Some(t) = spec.get_mut("template").and_then(Value::as_object_mut) {
        pod_spec(obj(t, "spec"));
    }
}

fn deployment(root: &mut Map<String, Value>) {
    let spec = obj_spec(root);
    default(spec, "replicas", json!(1));
    let strategy = obj(spec, "strategy");
    default_str(strategy, "type", "RollingUpdate");
    if strategy.get("type").and_then(Value::as_str) == Some("RollingUpdate") {
        let ru = obj(strategy, "rollingUpdate");
        default(ru, "maxUnavailable", json!("25%"));
        default(ru, "maxSurge", json!("25%"));
    }
    default(spec, "revisionHistoryLimit", json!(10));
    default(spec, "progressDeadlineSeconds", json!(600));
    template(spec);
}

fn daemon_set(root: &mut Map<String, Value>) {
    let spec = obj_spec(root);
    let strategy = obj(spec, "updateStrategy");
    default_str(strategy, "type", "RollingUpdate");
    if strategy.get("type").and_then(Value::as_str) == Some("RollingUpdate") {
        let ru = obj(strategy, "rollingUpdate");
        default(ru, "maxUnavailable", json!(1));
        default(ru, "maxSurge", json!(0));
    }
    default(spec, "revisionHistoryLimit", json!(10));
    template(spec);
}

/// SetDefaults_StatefulSet (with the StatefulSetAutoDeletePVC feature on, as
/// in current Kubernetes), and the PersistentVolumeClaim defaults inside each
/// volume claim template.
fn stateful_set(root: &mut Map<String, Value>) {
    let spec = obj_spec(root);
    default_str(spec, "podManagementPolicy", "OrderedReady");
    let strategy = obj(spec, "updateStrategy");
    if strategy.get("type").and_then(Value::as_str).is_none_or(str::is_empty) {
        strategy.insert("type".into(), json!("RollingUpdate"));
        default(strategy, "rollingUpdate", json!({"partition": 0}));
    }
    if strategy.get("type").and_then(Value::as_str) == Some("RollingUpdate") {
        if let Some(ru) = strategy.get_mut("rollingUpdate").and_then(Value::as_object_mut) {
            default(ru, "partition", json!(0));
        }
    }
    let policy = obj(spec, "persistentVolumeClaimRetentionPolicy");
    default_str(policy, "whenDeleted", "Retain");
    default_str(policy, "whenScaled", "Retain");
    default(spec, "replicas", json!(1));
    default(spec, "revisionHistoryLimit", json!(10));
    for claim in items_mut(spec, "volumeClaimTemplates") {
        default_str(obj(claim, "spec"), "volumeMode", "Filesystem");
        default_str(obj(claim, "status"), "phase", "Pending");
    }
    template(spec);
}

fn template_labels(root: &Map<String, Value>) -> Option<Value> {
    root.get("spec")?.get("template")?.get("metadata")?.get("labels").filter(|l| l.is_object()).cloned()
}

fn copy_template_labels(root: &mut Map<String, Value>) {
    if let Some(labels) = template_labels(root) {
        let meta = obj(root, "metadata");
        if is_empty_map(meta.get("labels")) {
            meta.insert("labels".into(), labels);
        }
    }
}

fn job(root: &mut Map<String, Value>) {
    let name = root.get("metadata").and_then(|m| m.get("name")).and_then(Value::as_str).unwrap_or("").to_string();
    let uid = root.get("metadata").and_then(|m| m.get("uid")).and_then(Value::as_str).unwrap_or("").to_string();
    // SetDefaults_Job runs on the user's template labels first.
    copy_template_labels(root);
    let spec = obj_spec(root);
    let has = |spec: &Map<String, Value>, k: &str| spec.get(k).is_some_and(|v| !v.is_null());
    if !has(spec, "completions") && !has(spec, "parallelism") {
        spec.insert("completions".into(), json!(1));
        spec.insert("parallelism".into(), json!(1));
    }
    default(spec, "parallelism", json!(1));
    let backoff = if has(spec, "backoffLimitPerIndex") { i64::from(i32::MAX) } else { 6 };
    default(spec, "backoffLimit", json!(backoff));
    default_str(spec, "completionMode", "NonIndexed");
    default(spec, "suspend", json!(false));
    let replacement = if has(spec, "podFailurePolicy") { "Failed" } else { "TerminatingOrFailed" };
    default_str(spec, "podReplacementPolicy", replacement);
    if spec.get("manualSelector").and_then(Value::as_bool) != Some(true) {
        // The job strategy generates a selector on the uid and labels the pods to match.
        let t = obj(spec, "template");
        let labels = obj(obj(t, "metadata"), "labels");
        for key in ["job-name", "batch.kubernetes.io/job-name"] {
            labels.entry(key).or_insert_with(|| json!(name));
        }
        for key in ["controller-uid", "batch.kubernetes.io/controller-uid"] {
            labels.entry(key).or_insert_with(|| json!(uid));
        }
        let sel = obj(obj(spec, "selector"), "matchLabels");
        sel.entry("batch.kubernetes.io/controller-uid").or_insert_with(|| json!(uid));
    }
    pod_spec(obj(obj(spec, "template"), "spec"));
    // Kubernetes defaults again when reading the stored job back, so a job whose
    // template had no labels shows the generated ones in its own metadata.
    copy_template_labels(root);
}

fn cron_job(root: &mut Map<String, Value>) {
    let spec = obj_spec(root);
    default_str(spec, "concurrencyPolicy", "Allow");
    default(spec, "suspend", json!(false));
    default(spec, "successfulJobsHistoryLimit", json!(3));
    default(spec, "failedJobsHistoryLimit", json!(1));
    // The job template only gets the pod-level defaults; Job's own apply to Jobs.
    let jt = obj(spec, "jobTemplate");
    template(obj(jt, "spec"));
}

fn service(root: &mut Map<String, Value>) {
    let spec = obj_spec(root);
    default_str(spec, "sessionAffinity", "None");
    if spec.get("sessionAffinity").and_then(Value::as_str) == Some("ClientIP") {
        let client = obj(obj(spec, "sessionAffinityConfig"), "clientIP");
        default(client, "timeoutSeconds", json!(10800));
    }
    default_str(spec, "type", "ClusterIP");
    for p in items_mut(spec, "ports") {
        default_str(p, "protocol", "TCP");
        let unset = match p.get("targetPort") {
            None | Some(Value::Null) => true,
            Some(Value::Number(n)) => n.as_i64() == Some(0),
            Some(Value::String(s)) => s.is_empty(),
            _ => false,
        };
        if unset {
            if let Some(port) = p.get("port").cloned() {
                p.insert("targetPort".into(), port);
            }
        }
    }
    let ty = spec.get("type").and_then(Value::as_str).unwrap_or("").to_string();
    let has_external_ips = spec.get("externalIPs").and_then(Value::as_array).is_some_and(|a| !a.is_empty());
    if ty == "NodePort" || ty == "LoadBalancer" || (ty == "ClusterIP" && has_external_ips) {
        default_str(spec, "externalTrafficPolicy", "Cluster");
    }
    if matches!(ty.as_str(), "ClusterIP" | "NodePort" | "LoadBalancer") {
        default_str(spec, "internalTrafficPolicy", "Cluster");
    }
    if ty == "LoadBalancer" {
        default(spec, "allocateLoadBalancerNodePorts", json!(true));
    }
}

fn namespace(root: &mut Map<String, Value>) {
    let name = root.get("metadata").and_then(|m| m.get("name")).and_then(Value::as_str).unwrap_or("").to_string();
    if !name.is_empty() {
        // SetDefaults_Namespace: the immutable name label selectors can use.
        let labels = obj(obj(root, "metadata"), "labels");
        labels.insert("kubernetes.io/metadata.name".into(), json!(name));
    }
    let spec = obj_spec(root);
    default(spec, "finalizers", json!(["kubernetes"]));
    let status = obj(root, "status");
    default_str(status, "phase", "Active");
}
