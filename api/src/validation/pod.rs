//! Pod spec validation (ValidatePodSpec and friends), shared by Pods and by every
//! pod template inside a workload, and the rules for updating a Pod.

use super::{go_str, names, str_at, validate_labels, Errs};
use crate::quantity;
use serde_json::Value;
use std::borrow::Cow;

fn list<'a>(v: &'a Value, key: &str) -> Vec<&'a Value> {
    v.get(key).and_then(Value::as_array).into_iter().flatten().collect()
}

/// A probe or service target port: a number in range or an IANA port name.
pub(super) fn port_num_or_name(e: &mut Errs, v: &Value, path: &str) {
    match v {
        Value::Number(n) => {
            let n = n.as_i64().unwrap_or(0);
            for msg in names::port_num(n) {
                e.invalid(path, n.to_string(), msg);
            }
        }
        Value::String(s) => {
            for msg in names::port_name(s) {
                e.invalid(path, go_str(s), msg);
            }
        }
        _ => {}
    }
}

/// ValidatePodSpec for a pod spec at `path` (`spec`, `spec.template.spec`, ...).
pub(super) fn validate_spec(e: &mut Errs, spec: &Value, path: &str) {
    let mut volume_names: Vec<&str> = Vec::new();
    for (i, v) in list(spec, "volumes").into_iter().enumerate() {
        let name = str_at(v, "name");
        let p = format!("{path}.volumes[{i}].name");
        if name.is_empty() {
            e.required(&p, "");
        } else {
            for msg in names::dns1123_label(name) {
                e.invalid(&p, go_str(name), msg);
            }
            if volume_names.contains(&name) {
                e.duplicate(&p, go_str(name));
            }
        }
        volume_names.push(name);
        if let Some(hp) = v.get("hostPath").filter(|h| !h.is_null()) {
            host_path(e, hp, &format!("{path}.volumes[{i}].hostPath"));
        }
        if let Some(git) = v.get("gitRepo").filter(|g| !g.is_null()) {
            git_repo(e, git, &format!("{path}.volumes[{i}].gitRepo"));
        }
    }

    let containers = list(spec, "containers");
    if containers.is_empty() {
        e.required(format!("{path}.containers"), "");
    }
    let mut names_seen: Vec<&str> = Vec::new();
    for (i, c) in containers.iter().enumerate() {
        let p = format!("{path}.containers[{i}]");
        container_common(e, c, &p, &volume_names);
        let name = str_at(c, "name");
        if names_seen.contains(&name) {
            e.duplicate(format!("{p}.name"), go_str(name));
        } else {
            names_seen.push(name);
        }
        for (key, must_be_one) in [("livenessProbe", true), ("readinessProbe", false), ("startupProbe", true)] {
            if let Some(probe) = c.get(key).filter(|v| !v.is_null()) {
                validate_probe(e, probe, &format!("{p}.{key}"));
                let st = probe.get("successThreshold").and_then(Value::as_i64).unwrap_or(1);
                if must_be_one && st != 1 {
                    e.invalid(format!("{p}.{key}.successThreshold"), st.to_string(), "must be 1");
                }
            }
        }
    }
    for (i, c) in list(spec, "initContainers").into_iter().enumerate() {
        let p = format!("{path}.initContainers[{i}]");
        container_common(e, c, &p, &volume_names);
        let name = str_at(c, "name");
        if names_seen.contains(&name) {
            e.duplicate(format!("{p}.name"), go_str(name));
        } else {
            names_seen.push(name);
        }
    }

    match str_at(spec, "restartPolicy") {
        "Always" | "OnFailure" | "Never" => {}
        "" => e.required(format!("{path}.restartPolicy"), ""),
        other => e.not_supported(format!("{path}.restartPolicy"), go_str(other), &["Always", "OnFailure", "Never"]),
    }
    match str_at(spec, "dnsPolicy") {
        "ClusterFirstWithHostNet" | "ClusterFirst" | "Default" | "None" => {}
        "" => e.required(format!("{path}.dnsPolicy"), ""),
        other => e.not_supported(
            format!("{path}.dnsPolicy"),
            go_str(other),
            &["ClusterFirstWithHostNet", "ClusterFirst", "Default", "None"],
        ),
    }
    if let Some(selector) = spec.get("nodeSelector") {
        validate_labels(e, Some(selector), &format!("{path}.nodeSelector"));
    }
    let sa = str_at(spec, "serviceAccountName");
    if !sa.is_empty() {
        for msg in names::dns1123_subdomain(sa) {
            e.invalid(format!("{path}.serviceAccountName"), go_str(sa), msg);
        }
    }
    let node = str_at(spec, "nodeName");
    if !node.is_empty() {
        for msg in names::dns1123_subdomain(node) {
            e.invalid(format!("{path}.nodeName"), go_str(node), msg);
        }
    }
    if let Some(ads) = spec.get("activeDeadlineSeconds").and_then(Value::as_i64) {
        if !(1..=i64::from(i32::MAX)).contains(&ads) {
            e.invalid(
                format!("{path}.activeDeadlineSeconds"),
                ads.to_string(),
                format!("must be between 1 and {}, inclusive", i32::MAX),
            );
        }
    }
    for key in ["hostname", "subdomain"] {
        let v = str_at(spec, key);
        if !v.is_empty() {
            for msg in names::dns1123_label(v) {
                e.invalid(format!("{path}.{key}"), go_str(v), msg);
            }
        }
    }
    if spec.get("tolerations").is_some() {
        validate_tolerations(e, spec, &format!("{path}.tolerations"));
    }
}

/// Checks that hold for Pods but not for pod templates.
pub(super) fn validate_pod_only(e: &mut Errs, spec: &Value, path: &str) {
    for key in ["containers", "initContainers"] {
        for (i, c) in list(spec, key).into_iter().enumerate() {
            let image = str_at(c, "image");
            if image.trim() != image {
                e.invalid(
                    format!("{path}.{key}[{i}].image"),
                    go_str(image),
                    "must not have leading or trailing whitespace",
                );
            }
        }
    }
}

/// validateContainerCommon: what every container must satisfy.
fn container_common(e: &mut Errs, c: &Value, p: &str, volumes: &[&str]) {
    let name = str_at(c, "name");
    if name.is_empty() {
        e.required(format!("{p}.name"), "");
    } else {
        for msg in names::dns1123_label(name) {
            e.invalid(format!("{p}.name"), go_str(name), msg);
        }
    }
    if str_at(c, "image").is_empty() {
        e.required(format!("{p}.image"), "");
    }
    match str_at(c, "terminationMessagePolicy") {
        "File" | "FallbackToLogsOnError" => {}
        "" => e.required(format!("{p}.terminationMessagePolicy"), ""),
        other => {
            e.not_supported(format!("{p}.terminationMessagePolicy"), go_str(other), &["File", "FallbackToLogsOnError"])
        }
    }
    let mut port_names: Vec<&str> = Vec::new();
    for (i, port) in list(c, "ports").into_iter().enumerate() {
        let pp = format!("{p}.ports[{i}]");
        let pname = str_at(port, "name");
        if !pname.is_empty() {
            let msgs = names::port_name(pname);
            if !msgs.is_empty() {
                for msg in msgs {
                    e.invalid(format!("{pp}.name"), go_str(pname), msg);
                }
            } else if port_names.contains(&pname) {
                e.duplicate(format!("{pp}.name"), go_str(pname));
            } else {
                port_names.push(pname);
            }
        }
        let cp = port.get("containerPort").and_then(Value::as_i64).unwrap_or(0);
        if cp == 0 {
            e.required(format!("{pp}.containerPort"), "");
        } else {
            for msg in names::port_num(cp) {
                e.invalid(format!("{pp}.containerPort"), cp.to_string(), msg);
            }
        }
        let hp = port.get("hostPort").and_then(Value::as_i64).unwrap_or(0);
        if hp != 0 {
            for msg in names::port_num(hp) {
                e.invalid(format!("{pp}.hostPort"), hp.to_string(), msg);
            }
        }
        match str_at(port, "protocol") {
            "TCP" | "UDP" | "SCTP" => {}
            "" => e.required(format!("{pp}.protocol"), ""),
            other => e.not_supported(format!("{pp}.protocol"), go_str(other), &["SCTP", "TCP", "UDP"]),
        }
    }
    for (i, env) in list(c, "env").into_iter().enumerate() {
        let name = str_at(env, "name");
        if name.is_empty() {
            e.required(format!("{p}.env[{i}].name"), "");
        } else {
            for msg in names::env_var_name(name) {
                e.invalid(format!("{p}.env[{i}].name"), go_str(name), msg);
            }
        }
    }
    volume_mounts(e, c, p, volumes);
    match str_at(c, "imagePullPolicy") {
        "Always" | "IfNotPresent" | "Never" => {}
        "" => e.required(format!("{p}.imagePullPolicy"), ""),
        other => e.not_supported(format!("{p}.imagePullPolicy"), go_str(other), &["Always", "IfNotPresent", "Never"]),
    }
    if let Some(resources) = c.get("resources") {
        validate_resources(e, resources, &format!("{p}.resources"));
    }
}

/// validateVolumeMounts: each mount names one of the pod's volumes, at a
/// path no other mount of the container uses, with a subPath inside the volume.
fn volume_mounts(e: &mut Errs, c: &Value, p: &str, volumes: &[&str]) {
    let mut paths: Vec<&str> = Vec::new();
    for (i, m) in list(c, "volumeMounts").into_iter().enumerate() {
        let mp = format!("{p}.volumeMounts[{i}]");
        let name = str_at(m, "name");
        if name.is_empty() {
            e.required(format!("{mp}.name"), "");
        }
        if !volumes.contains(&name) {
            e.not_found(format!("{mp}.name"), go_str(name));
        }
        let path = str_at(m, "mountPath");
        if path.is_empty() {
            e.required(format!("{mp}.mountPath"), "");
        } else if paths.contains(&path) {
            e.invalid(format!("{mp}.mountPath"), go_str(path), "must be unique");
        }
        paths.push(path);
        let sub = str_at(m, "subPath");
        if !sub.is_empty() {
            // Kubernetes names the list, not the item, for subPath errors.
            local_descending_path(e, sub, &format!("{p}.volumeMounts.subPath"));
        }
    }
}

/// validateLocalDescendingPath: a relative path that cannot climb out.
fn local_descending_path(e: &mut Errs, path: &str, field: &str) {
    if path.starts_with('/') {
        e.invalid(field, go_str(path), "must be a relative path");
    }
    no_backsteps(e, path, field);
}

fn no_backsteps(e: &mut Errs, path: &str, field: &str) {
    if path.split('/').any(|part| part == "..") {
        e.invalid(field, go_str(path), "must not contain '..'");
    }
}

/// The hostPath types Kubernetes knows, as its NotSupported error lists them.
const HOST_PATH_TYPES: &[&str] =
    &["", "BlockDevice", "CharDevice", "Directory", "DirectoryOrCreate", "File", "FileOrCreate", "Socket"];

/// validateHostPathVolumeSource.
fn host_path(e: &mut Errs, hp: &Value, p: &str) {
    let path = str_at(hp, "path");
    if path.is_empty() {
        e.required(format!("{p}.path"), "");
    } else {
        no_backsteps(e, path, &format!("{p}.path"));
    }
    let kind = str_at(hp, "type");
    if !HOST_PATH_TYPES.contains(&kind) {
        e.not_supported(format!("{p}.type"), go_str(kind), HOST_PATH_TYPES);
    }
}

/// validateGitRepoVolumeSource: a repository, and a directory inside the volume.
fn git_repo(e: &mut Errs, git: &Value, p: &str) {
    if str_at(git, "repository").is_empty() {
        e.required(format!("{p}.repository"), "");
    }
    local_descending_path(e, str_at(git, "directory"), &format!("{p}.directory"));
}

fn quantity_text(v: &Value) -> Cow<'_, str> {
    match v {
        Value::String(s) => Cow::Borrowed(s),
        other => Cow::Owned(other.to_string()),
    }
}

fn standard_resource(name: &str) -> bool {
    name.contains('/') || matches!(name, "cpu" | "memory" | "ephemeral-storage") || name.starts_with("hugepages-")
}

/// ValidateResourceRequirements: names, non-negative values, requests ≤ limits.
fn validate_resources(e: &mut Errs, r: &Value, path: &str) {
    let limits = r.get("limits").and_then(Value::as_object);
    let check = |e: &mut Errs, map: Option<&serde_json::Map<String, Value>>, which: &str| {
        for (name, q) in map.into_iter().flatten() {
            let p = || format!("{path}.{which}[{name}]");
            if !standard_resource(name) {
                e.invalid(p(), go_str(name), "must be a standard resource for containers");
            }
            let text = quantity_text(q);
            match quantity::parse(&text) {
                Err(msg) => e.invalid(p(), go_str(&text), msg),
                Ok(v) if v.is_negative() => e.invalid(p(), go_str(&text), "must be greater than or equal to 0"),
                Ok(_) => {}
            }
        }
    };
    check(e, limits, "limits");
    let requests = r.get("requests").and_then(Value::as_object);
    check(e, requests, "requests");
    for (name, q) in requests.into_iter().flatten() {
        let Some(limit) = limits.and_then(|l| l.get(name)) else { continue };
        let (rt, lt) = (quantity_text(q), quantity_text(limit));
        if let (Ok(rv), Ok(lv)) = (quantity::parse(&rt), quantity::parse(&lt)) {
            // Hugepages cannot be overcommitted: request must equal limit.
            if name.starts_with("hugepages-") && rv != lv {
                e.invalid(format!("{path}.requests"), go_str(&rt), format!("must be equal to {name} limit of {lt}"));
            } else if rv > lv {
                e.invalid(
                    format!("{path}.requests"),
                    go_str(&rt),
                    format!("must be less than or equal to {name} limit of {lt}"),
                );
            }
        }
    }
}

fn validate_probe(e: &mut Errs, probe: &Value, path: &str) {
    let mut handlers = 0;
    for key in ["exec", "httpGet", "tcpSocket", "grpc"] {
        let Some(h) = probe.get(key).filter(|v| !v.is_null()) else { continue };
        if handlers > 0 {
            e.forbidden(format!("{path}.{key}"), "may not specify more than 1 handler type");
            continue;
        }
        handlers += 1;
        match key {
            "exec" => {
                if list(h, "command").is_empty() {
                    e.required(format!("{path}.exec.command"), "");
                }
            }
            "httpGet" => {
                if str_at(h, "path").is_empty() {
                    e.required(format!("{path}.httpGet.path"), "");
                }
                port_num_or_name(e, h.get("port").unwrap_or(&Value::Null), &format!("{path}.httpGet.port"));
                let scheme = str_at(h, "scheme");
                if scheme != "HTTP" && scheme != "HTTPS" {
                    e.not_supported(format!("{path}.httpGet.scheme"), go_str(scheme), &["HTTP", "HTTPS"]);
                }
            }
            "tcpSocket" => {
                port_num_or_name(e, h.get("port").unwrap_or(&Value::Null), &format!("{path}.tcpSocket.port"))
            }
            _ => {
                let port = h.get("port").and_then(Value::as_i64).unwrap_or(0);
                for msg in names::port_num(port) {
                    e.invalid(format!("{path}.grpc.port"), port.to_string(), msg);
                }
            }
        }
    }
    if handlers == 0 {
        e.required(path, "must specify a handler type");
    }
    for key in ["initialDelaySeconds", "timeoutSeconds", "periodSeconds", "successThreshold", "failureThreshold"] {
        e.nonnegative(&format!("{path}.{key}"), probe.get(key));
    }
    if let Some(t) = probe.get("terminationGracePeriodSeconds").and_then(Value::as_i64) {
        if t <= 0 {
            e.invalid(format!("{path}.terminationGracePeriodSeconds"), t.to_string(), "must be greater than 0");
        }
    }
}

fn validate_tolerations(e: &mut Errs, spec: &Value, path: &str) {
    for (i, t) in list(spec, "tolerations").into_iter().enumerate() {
        let p = format!("{path}[{i}]");
        let key = str_at(t, "key");
        let op = str_at(t, "operator");
        let effect = str_at(t, "effect");
        if !key.is_empty() {
            for msg in names::qualified_name(key) {
                e.invalid(format!("{p}.key"), go_str(key), msg);
            }
        }
        if key.is_empty() && op != "Exists" {
            e.invalid(
                format!("{p}.operator"),
                go_str(op),
                "operator must be Exists when `key` is empty, which means \"match all values and all keys\"",
            );
        }
        if t.get("tolerationSeconds").is_some_and(|v| !v.is_null()) && effect != "NoExecute" {
            e.invalid(
                format!("{p}.effect"),
                go_str(effect),
                "effect must be 'NoExecute' when `tolerationSeconds` is set",
            );
        }
        let value = str_at(t, "value");
        match op {
            "Equal" | "" => {
                let errs = names::label_value(value);
                if !errs.is_empty() {
                    e.invalid(format!("{p}.operator"), go_str(value), errs.join(";"));
                }
            }
            "Exists" => {
                if !value.is_empty() {
                    e.invalid(
                        format!("{p}.operator"),
                        go_str(value),
                        "value must be empty when `operator` is 'Exists'",
                    );
                }
            }
            other => e.not_supported(format!("{p}.operator"), go_str(other), &["Equal", "Exists"]),
        }
        if !effect.is_empty() && !matches!(effect, "NoSchedule" | "PreferNoSchedule" | "NoExecute") {
            e.not_supported(format!("{p}.effect"), go_str(effect), &["NoSchedule", "PreferNoSchedule", "NoExecute"]);
        }
    }
}

/// The sentence Kubernetes answers a pod update with when it changes anything else.
pub const POD_UPDATE_FORBIDDEN: &str = "pod updates may not change fields other than \
    `spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,\
    `spec.tolerations` (only additions to existing tolerations),\
    `spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)";

/// ValidatePodUpdate's spec rules: only images, the deadline, added tolerations
/// (and a negative grace period becoming 1) may change.
pub(super) fn validate_update(e: &mut Errs, new: &Value, old: &Value) {
    for key in ["containers", "initContainers"] {
        let (n, o) = (list(new, key), list(old, key));
        if n.len() != o.len() {
            e.forbidden(format!("spec.{key}"), "pod updates may not add or remove containers");
            return;
        }
    }
    let (new_ads, old_ads) = (new.get("activeDeadlineSeconds"), old.get("activeDeadlineSeconds"));
    match (new_ads.and_then(Value::as_i64), old_ads.and_then(Value::as_i64)) {
        (Some(n), _) if !(0..=i64::from(i32::MAX)).contains(&n) => {
            e.invalid(
                "spec.activeDeadlineSeconds",
                n.to_string(),
                format!("must be between 0 and {}, inclusive", i32::MAX),
            );
            return;
        }
        (Some(n), Some(o)) if o < n => {
            e.invalid("spec.activeDeadlineSeconds", n.to_string(), "must be less than or equal to previous value");
            return;
        }
        (None, Some(_)) => {
            e.invalid("spec.activeDeadlineSeconds", "null", "must not update from a positive integer to nil value")
        }
        _ => {}
    }
    let old_tolerations = list(old, "tolerations");
    let new_tolerations = list(new, "tolerations");
    for o in &old_tolerations {
        let found = new_tolerations.iter().any(|n| {
            let (mut a, mut b) = ((*o).clone(), (*n).clone());
            // Only the toleration seconds of an existing toleration may change.
            if let (Some(a), Some(b)) = (a.as_object_mut(), b.as_object_mut()) {
                a.remove("tolerationSeconds");
                b.remove("tolerationSeconds");
            }
            a == b
        });
        if !found {
            e.forbidden("spec.tolerations", "existing toleration can not be modified except its tolerationSeconds");
            break;
        }
    }
    // Put the old values of everything that may change into the new spec; what is
    // left must equal the old spec.
    let mut munged = new.clone();
    if let Some(m) = munged.as_object_mut() {
        for key in ["containers", "initContainers"] {
            if let (Some(items), Some(olds)) =
                (m.get_mut(key).and_then(Value::as_array_mut), old.get(key).and_then(Value::as_array))
            {
                for (n, o) in items.iter_mut().zip(olds) {
                    if let (Some(n), Some(img)) = (n.as_object_mut(), o.get("image")) {
                        n.insert("image".into(), img.clone());
                    }
                }
            }
        }
        for key in ["activeDeadlineSeconds", "tolerations"] {
            match old.get(key) {
                Some(v) => m.insert(key.into(), v.clone()),
                None => m.remove(key),
            };
        }
        let old_grace = old.get("terminationGracePeriodSeconds").and_then(Value::as_i64);
        let new_grace = new.get("terminationGracePeriodSeconds").and_then(Value::as_i64);
        if old_grace.is_some_and(|g| g < 0) && new_grace == Some(1) {
            m.insert("terminationGracePeriodSeconds".into(), old["terminationGracePeriodSeconds"].clone());
        }
    }
    if munged != *old {
        e.forbidden("spec", POD_UPDATE_FORBIDDEN);
    }
}
