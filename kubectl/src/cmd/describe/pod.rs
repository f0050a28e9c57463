//! `kubectl describe pod`: the pod itself, its containers (also used by the
//! controllers' pod templates), volumes, tolerations, probes and QoS class.

use super::writer::{controller_of, header, s, Writer};
use crate::age;
use crate::printers::columns::{array_at, int_at, string_map};
use serde_json::Value;

pub fn pod(w: &mut Writer, pod: &Value) {
    header(w, pod, true);
    if let Some(p) = pod.pointer("/spec/priority").and_then(Value::as_i64) {
        w.w(0, &format!("Priority:\t{p}\n"));
    }
    if !s(pod, &["spec", "priorityClassName"]).is_empty() {
        w.w(0, &format!("Priority Class Name:\t{}\n", s(pod, &["spec", "priorityClassName"])));
    }
    if !s(pod, &["spec", "serviceAccountName"]).is_empty() {
        w.w(0, &format!("Service Account:\t{}\n", s(pod, &["spec", "serviceAccountName"])));
    }
    match s(pod, &["spec", "nodeName"]) {
        "" => w.w(0, "Node:\t<none>\n"),
        node => w.w(0, &format!("Node:\t{node}/{}\n", s(pod, &["status", "hostIP"]))),
    }
    if !s(pod, &["status", "startTime"]).is_empty() {
        w.w(0, &format!("Start Time:\t{}\n", age::rfc1123z(s(pod, &["status", "startTime"]))));
    }
    w.labels("", "Labels", &api::meta::labels(pod));
    w.annotations("", "Annotations", &api::meta::annotations(pod));
    let phase = s(pod, &["status", "phase"]);
    match api::meta::deletion_timestamp(pod) {
        Some(ts) if phase != "Failed" && phase != "Succeeded" => {
            w.w(0, &format!("Status:\tTerminating (lasts {})\n", age::age(ts)));
            let grace = int_at(pod, &["metadata", "deletionGracePeriodSeconds"]);
            w.w(0, &format!("Termination Grace Period:\t{grace}s\n"));
        }
        _ => w.w(0, &format!("Status:\t{phase}\n")),
    }
    for (label, field) in [("Reason", "reason"), ("Message", "message")] {
        if !s(pod, &["status", field]).is_empty() {
            w.w(0, &format!("{label}:\t{}\n", s(pod, &["status", field])));
        }
    }
    w.w(0, &format!("IP:\t{}\n", s(pod, &["status", "podIP"])));
    let ips = array_at(pod, &["status", "podIPs"]);
    if ips.is_empty() {
        w.w(0, "IPs:\t<none>\n");
    } else {
        w.w(0, "IPs:\n");
        for ip in ips {
            w.w(1, &format!("IP:\t{}\n", s(ip, &["ip"])));
        }
    }
    if let Some(c) = controller_of(pod) {
        w.w(0, &format!("Controlled By:\t{c}\n"));
    }
    if !s(pod, &["status", "nominatedNodeName"]).is_empty() {
        w.w(0, &format!("NominatedNodeName:\t{}\n", s(pod, &["status", "nominatedNodeName"])));
    }
    let statuses = |field: &str| array_at(pod, &["status", field]).to_vec();
    let init = array_at(pod, &["spec", "initContainers"]);
    if !init.is_empty() {
        containers(w, "Init Containers", init, Some(&statuses("initContainerStatuses")), "");
    }
    containers(w, "Containers", array_at(pod, &["spec", "containers"]), Some(&statuses("containerStatuses")), "");
    let conditions = array_at(pod, &["status", "conditions"]);
    if !conditions.is_empty() {
        w.w(0, "Conditions:\n  Type\tStatus\n");
        for c in conditions {
            w.w(1, &format!("{} \t{} \n", s(c, &["type"]), s(c, &["status"])));
        }
    }
    volumes(w, array_at(pod, &["spec", "volumes"]), "");
    let qos = match s(pod, &["status", "qosClass"]) {
        "" => qos_class(pod),
        q => q.to_string(),
    };
    w.w(0, &format!("QoS Class:\t{qos}\n"));
    w.labels("", "Node-Selectors", &string_map(pod.pointer("/spec/nodeSelector")));
    tolerations(w, "", "Tolerations", array_at(pod, &["spec", "tolerations"]));
}

/// Kubernetes' QoS class: BestEffort without any requests or limits,
/// Guaranteed when every container limits CPU and memory at its requests.
pub fn qos_class(pod: &Value) -> String {
    let all: Vec<&Value> =
        array_at(pod, &["spec", "containers"]).iter().chain(array_at(pod, &["spec", "initContainers"])).collect();
    let empty = |c: &Value, k: &str| {
        c.pointer(&format!("/resources/{k}")).and_then(Value::as_object).is_none_or(|m| m.is_empty())
    };
    if all.iter().all(|c| empty(c, "requests") && empty(c, "limits")) {
        return "BestEffort".into();
    }
    let guaranteed = all.iter().all(|c| {
        ["cpu", "memory"].iter().all(|r| {
            let limit = c.pointer(&format!("/resources/limits/{r}"));
            let request = c.pointer(&format!("/resources/requests/{r}")).or(limit);
            limit.is_some() && limit == request
        })
    });
    if guaranteed { "Guaranteed" } else { "Burstable" }.into()
}

pub fn containers(w: &mut Writer, label: &str, specs: &[Value], statuses: Option<&[Value]>, space: &str) {
    w.w(0, &format!("{space}{label}:{}\n", if specs.is_empty() { " <none>" } else { "" }));
    let name_indent = if space.is_empty() { "" } else { " " };
    for c in specs {
        let name = s(c, &["name"]);
        let status = statuses.and_then(|st| st.iter().find(|x| s(x, &["name"]) == name));
        w.w(1, &format!("{name_indent}{name}:\n"));
        if let Some(st) = status {
            w.w(2, &format!("Container ID:\t{}\n", s(st, &["containerID"])));
        }
        w.w(2, &format!("Image:\t{}\n", s(c, &["image"])));
        if let Some(st) = status {
            w.w(2, &format!("Image ID:\t{}\n", s(st, &["imageID"])));
        }
        let ports = array_at(c, &["ports"]);
        let proto = |p: &Value| {
            if s(p, &["protocol"]).is_empty() {
                "TCP".to_string()
            } else {
                s(p, &["protocol"]).to_string()
            }
        };
        let list =
            |field: &str| ports.iter().map(|p| format!("{}/{}", int_at(p, &[field]), proto(p))).collect::<Vec<_>>();
        for (one, many, field) in [("Port", "Ports", "containerPort"), ("Host Port", "Host Ports", "hostPort")] {
            let items = list(field);
            if items.len() > 1 {
                w.w(2, &format!("{many}:\t{}\n", items.join(", ")));
            } else {
                w.w(2, &format!("{one}:\t{}\n", items.first().map(String::as_str).unwrap_or("<none>")));
            }
        }
        for (title, field) in [("Command", "command"), ("Args", "args")] {
            let items = array_at(c, &[field]);
            if !items.is_empty() {
                w.w(2, &format!("{title}:\n"));
                for item in items.iter().filter_map(Value::as_str) {
                    for line in item.split('\n') {
                        w.w(3, &format!("{line}\n"));
                    }
                }
            }
        }
        if let Some(st) = status {
            container_state(w, "State", st.get("state"));
            if st.pointer("/lastState/terminated").is_some() {
                container_state(w, "Last State", st.get("lastState"));
            }
            let ready = if st.get("ready").and_then(Value::as_bool) == Some(true) { "True" } else { "False" };
            w.w(2, &format!("Ready:\t{ready}\n"));
            w.w(2, &format!("Restart Count:\t{}\n", int_at(st, &["restartCount"])));
        }
        for kind in ["limits", "requests"] {
            if let Some(m) =
                c.pointer(&format!("/resources/{kind}")).and_then(Value::as_object).filter(|m| !m.is_empty())
            {
                w.w(2, &format!("{}:\n", if kind == "limits" { "Limits" } else { "Requests" }));
                // Sorted by name, each in the canonical form kubectl's `Quantity.String()` gives.
                for (k, v) in m {
                    w.w(3, &format!("{k}:\t{}\n", api::quantity::canonical(v)));
                }
            }
        }
        for (title, field) in
            [("Liveness", "livenessProbe"), ("Readiness", "readinessProbe"), ("Startup", "startupProbe")]
        {
            if let Some(p) = c.get(field).filter(|p| p.is_object()) {
                w.w(2, &format!("{title}:\t{}\n", probe(p)));
            }
        }
        env(w, c);
        let mounts = array_at(c, &["volumeMounts"]);
        w.w(2, &format!("Mounts:{}\n", if mounts.is_empty() { "\t<none>" } else { "" }));
        let mut mounts: Vec<&Value> = mounts.iter().collect();
        mounts.sort_by_key(|m| s(m, &["mountPath"]).to_string());
        for m in mounts {
            let mut flags = vec![if m.get("readOnly").and_then(Value::as_bool) == Some(true) {
                "ro".to_string()
            } else {
                "rw".to_string()
            }];
            if !s(m, &["subPath"]).is_empty() {
                flags.push(format!("path={:?}", s(m, &["subPath"])));
            }
            w.w(3, &format!("{} from {} ({})\n", s(m, &["mountPath"]), s(m, &["name"]), flags.join(",")));
        }
    }
}

fn container_state(w: &mut Writer, title: &str, state: Option<&Value>) {
    let state = state.cloned().unwrap_or_default();
    if let Some(r) = state.get("running") {
        w.w(2, &format!("{title}:\tRunning\n"));
        w.w(3, &format!("Started:\t{}\n", age::rfc1123z(s(r, &["startedAt"]))));
    } else if let Some(t) = state.get("terminated") {
        w.w(2, &format!("{title}:\tTerminated\n"));
        for (label, field) in [("Reason", "reason"), ("Message", "message")] {
            if !s(t, &[field]).is_empty() {
                w.w(3, &format!("{label}:\t{}\n", s(t, &[field])));
            }
        }
        w.w(3, &format!("Exit Code:\t{}\n", int_at(t, &["exitCode"])));
        if int_at(t, &["signal"]) > 0 {
            w.w(3, &format!("Signal:\t{}\n", int_at(t, &["signal"])));
        }
        w.w(3, &format!("Started:\t{}\n", age::rfc1123z(s(t, &["startedAt"]))));
        w.w(3, &format!("Finished:\t{}\n", age::rfc1123z(s(t, &["finishedAt"]))));
    } else {
        w.w(2, &format!("{title}:\tWaiting\n"));
        if let Some(reason) = state.pointer("/waiting/reason").and_then(Value::as_str).filter(|r| !r.is_empty()) {
            w.w(3, &format!("Reason:\t{reason}\n"));
        }
    }
}

/// A probe as describe prints it: `http-get http://:8080/ delay=0s timeout=1s period=10s #success=1 #failure=3`.
pub fn probe(p: &Value) -> String {
    let num = |k: &str, default: i64| p.get(k).and_then(Value::as_i64).unwrap_or(default);
    let attrs = format!(
        "delay={}s timeout={}s period={}s #success={} #failure={}",
        num("initialDelaySeconds", 0),
        num("timeoutSeconds", 1),
        num("periodSeconds", 10),
        num("successThreshold", 1),
        num("failureThreshold", 3)
    );
    let port = |v: Option<&Value>| match v {
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
        None => String::new(),
    };
    if let Some(exec) = p.get("exec") {
        let cmd: Vec<&str> = array_at(exec, &["command"]).iter().filter_map(Value::as_str).collect();
        return format!("exec [{}] {attrs}", cmd.join(" "));
    }
    if let Some(h) = p.get("httpGet") {
        let scheme = match s(h, &["scheme"]) {
            "" => "http".to_string(),
            other => other.to_ascii_lowercase(),
        };
        let port = port(h.get("port"));
        let host = if port.is_empty() { s(h, &["host"]).to_string() } else { format!("{}:{port}", s(h, &["host"])) };
        return format!("http-get {scheme}://{host}{} {attrs}", s(h, &["path"]));
    }
    if let Some(t) = p.get("tcpSocket") {
        return format!("tcp-socket {}:{} {attrs}", s(t, &["host"]), port(t.get("port")));
    }
    if let Some(g) = p.get("grpc") {
        return format!("grpc <pod>:{} {} {attrs}", int_at(g, &["port"]), s(g, &["service"]));
    }
    format!("unknown {attrs}")
}

fn env(w: &mut Writer, c: &Value) {
    let vars = array_at(c, &["env"]);
    w.w(2, &format!("Environment:{}\n", if vars.is_empty() { "\t<none>" } else { "" }));
    for e in vars {
        let name = s(e, &["name"]);
        let Some(from) = e.get("valueFrom") else {
            for (i, line) in s(e, &["value"]).split('\n').enumerate() {
                if i == 0 {
                    w.w(3, &format!("{name}:\t{line}\n"));
                } else {
                    w.w(3, &format!("\t{line}\n"));
                }
            }
            continue;
        };
        let optional = |r: &Value| r.get("optional").and_then(Value::as_bool).unwrap_or(false);
        if let Some(f) = from.get("fieldRef") {
            w.w(3, &format!("{name}:\t ({}:{})\n", s(f, &["apiVersion"]), s(f, &["fieldPath"])));
        } else if let Some(r) = from.get("resourceFieldRef") {
            w.w(3, &format!("{name}:\t ({})\n", s(r, &["resource"])));
        } else if let Some(r) = from.get("secretKeyRef") {
            w.w(
                3,
                &format!(
                    "{name}:\t<set to the key '{}' in secret '{}'>\tOptional: {}\n",
                    s(r, &["key"]),
                    s(r, &["name"]),
                    optional(r)
                ),
            );
        } else if let Some(r) = from.get("configMapKeyRef") {
            w.w(
                3,
                &format!(
                    "{name}:\t<set to the key '{}' of config map '{}'>\tOptional: {}\n",
                    s(r, &["key"]),
                    s(r, &["name"]),
                    optional(r)
                ),
            );
        }
    }
}

pub fn volumes(w: &mut Writer, vols: &[Value], space: &str) {
    if vols.is_empty() {
        w.w(0, &format!("{space}Volumes:\t<none>\n"));
        return;
    }
    w.w(0, &format!("{space}Volumes:\n"));
    let name_indent = if space.is_empty() { "" } else { " " };
    for v in vols {
        w.w(1, &format!("{name_indent}{}:\n", s(v, &["name"])));
        let b = |x: &Value, k: &str| x.get(k).and_then(Value::as_bool).unwrap_or(false);
        if let Some(h) = v.get("hostPath") {
            w.w(
                2,
                &format!(
                    "Type:\tHostPath (bare host directory volume)\n    Path:\t{}\n    HostPathType:\t{}\n",
                    s(h, &["path"]),
                    s(h, &["type"])
                ),
            );
        } else if let Some(e) = v.get("emptyDir") {
            let limit = match e.get("sizeLimit") {
                Some(Value::String(l)) => l.clone(),
                _ => "<unset>".into(),
            };
            w.w(2, &format!("Type:\tEmptyDir (a temporary directory that shares a pod's lifetime)\n    Medium:\t{}\n    SizeLimit:\t{limit}\n", s(e, &["medium"])));
        } else if let Some(sec) = v.get("secret") {
            w.w(
                2,
                &format!(
                    "Type:\tSecret (a volume populated by a Secret)\n    SecretName:\t{}\n    Optional:\t{}\n",
                    s(sec, &["secretName"]),
                    b(sec, "optional")
                ),
            );
        } else if let Some(cm) = v.get("configMap") {
            w.w(
                2,
                &format!(
                    "Type:\tConfigMap (a volume populated by a ConfigMap)\n    Name:\t{}\n    Optional:\t{}\n",
                    s(cm, &["name"]),
                    b(cm, "optional")
                ),
            );
        } else if let Some(pvc) = v.get("persistentVolumeClaim") {
            w.w(2, &format!("Type:\tPersistentVolumeClaim (a reference to a PersistentVolumeClaim in the same namespace)\n    ClaimName:\t{}\n    ReadOnly:\t{}\n", s(pvc, &["claimName"]), b(pvc, "readOnly")));
        } else if v.get("projected").is_some() {
            w.w(2, "Type:\tProjected (a volume that contains injected data from multiple sources)\n");
        } else {
            w.w(2, "<unknown>\n");
        }
    }
}

pub fn tolerations(w: &mut Writer, indent: &str, title: &str, tols: &[Value]) {
    w.w(0, &format!("{indent}{title}:\t"));
    if tols.is_empty() {
        w.w(0, "<none>\n");
        return;
    }
    let mut sorted: Vec<&Value> = tols.iter().collect();
    sorted.sort_by_key(|t| s(t, &["key"]).to_string());
    for (i, t) in sorted.into_iter().enumerate() {
        if i > 0 {
            w.w(0, &format!("{indent}\t"));
        }
        let mut line = s(t, &["key"]).to_string();
        if !s(t, &["value"]).is_empty() {
            line.push_str(&format!("={}", s(t, &["value"])));
        }
        if !s(t, &["effect"]).is_empty() {
            line.push_str(&format!(":{}", s(t, &["effect"])));
        }
        if s(t, &["operator"]) == "Exists" && s(t, &["value"]).is_empty() {
            line.push_str(if line.is_empty() { "op=Exists" } else { " op=Exists" });
        }
        if let Some(secs) = t.get("tolerationSeconds").and_then(Value::as_i64) {
            line.push_str(&format!(" for {secs}s"));
        }
        w.w(0, &format!("{line}\n"));
    }
}

#[cfg(test)]
mod tests {
    use super::super::{describe, Related};
    use super::*;
    use jiff::Timestamp;
    use serde_json::json;

    fn now() -> Timestamp {
        "2021-10-27T10:00:00Z".parse().unwrap()
    }

    fn kubia_manual() -> Value {
        json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "kubia-manual", "namespace": "default", "uid": "u1",
                         "annotations": {"mycompany.com/someannotation": "foo bar"}},
            "spec": {"nodeName": "minikube-m02", "serviceAccountName": "default", "priority": 0,
                     "containers": [{"name": "kubia", "image": "luksa/kubia",
                                     "ports": [{"containerPort": 8080, "protocol": "TCP"}],
                                     "livenessProbe": {"httpGet": {"path": "/", "port": 8080, "scheme": "HTTP"}}}],
                     "tolerations": [{"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300}]},
            "status": {"phase": "Running", "hostIP": "192.168.49.3", "podIP": "10.244.1.4", "podIPs": [{"ip": "10.244.1.4"}],
                       "startTime": "2021-10-27T07:33:55Z", "qosClass": "BestEffort",
                       "conditions": [{"type": "Ready", "status": "True"}],
                       "containerStatuses": [{"name": "kubia", "ready": true, "restartCount": 0, "containerID": "docker://abc",
                                              "image": "luksa/kubia:latest", "imageID": "docker-pullable://luksa/kubia@sha256:1",
                                              "state": {"running": {"startedAt": "2021-10-27T07:35:16Z"}}}]}
        })
    }

    #[test]
    fn pods_describe_like_kubectl() {
        let pods = api::registry::lookup("pods").unwrap();
        let text = describe(pods, &kubia_manual(), &Related { events: Some(vec![]), ..Default::default() }, now());
        let want = "\
Name:             kubia-manual
Namespace:        default
Priority:         0
Service Account:  default
Node:             minikube-m02/192.168.49.3
Start Time:       Wed, 27 Oct 2021 07:33:55 +0000
Labels:           <none>
Annotations:      mycompany.com/someannotation: foo bar
Status:           Running
IP:               10.244.1.4
IPs:
  IP:  10.244.1.4
Containers:
  kubia:
    Container ID:   docker://abc
    Image:          luksa/kubia
    Image ID:       docker-pullable://luksa/kubia@sha256:1
    Port:           8080/TCP
    Host Port:      0/TCP
    State:          Running
      Started:      Wed, 27 Oct 2021 07:35:16 +0000
    Ready:          True
    Restart Count:  0
    Liveness:       http-get http://:8080/ delay=0s timeout=1s period=10s #success=1 #failure=3
    Environment:    <none>
    Mounts:         <none>
Conditions:
  Type           Status
  Ready          True 
Volumes:         <none>
QoS Class:       BestEffort
Node-Selectors:  <none>
Tolerations:     node.kubernetes.io/not-ready:NoExecute op=Exists for 300s
Events:          <none>
";
        assert_eq!(text, want);
    }

    #[test]
    fn crashing_containers_show_both_states_and_events() {
        let pod = json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "kubia-unhealthy", "namespace": "default", "uid": "u2", "labels": {"app": "kubia"}},
            "spec": {"nodeName": "n1", "containers": [{"name": "kubia", "image": "luksa/kubia-unhealthy",
                     "resources": {"requests": {"cpu": "0.1", "memory": "1024Mi"}, "limits": {"memory": "1Gi"}},
                     "livenessProbe": {"httpGet": {"path": "/", "port": 8080}, "initialDelaySeconds": 15},
                     "readinessProbe": {"exec": {"command": ["ls", "/var/ready"]}, "periodSeconds": 1}}]},
            "status": {"phase": "Running", "hostIP": "10.0.0.2", "podIP": "10.244.1.9", "qosClass": "Burstable",
                       "containerStatuses": [{"name": "kubia", "ready": false, "restartCount": 5,
                           "containerID": "docker://c2", "imageID": "docker-pullable://x",
                           "state": {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 2m40s"}},
                           "lastState": {"terminated": {"exitCode": 137, "reason": "Error",
                               "startedAt": "2021-10-27T09:57:00Z", "finishedAt": "2021-10-27T09:58:45Z"}}}]}
        });
        let events = vec![json!({"type": "Warning", "reason": "Unhealthy", "count": 15,
            "message": "Liveness probe failed: HTTP probe failed with statuscode: 500",
            "source": {"component": "kubelet", "host": "n1"},
            "firstTimestamp": "2021-10-27T09:50:00Z", "lastTimestamp": "2021-10-27T09:59:53Z"})];
        let pods = api::registry::lookup("pods").unwrap();
        let text = describe(pods, &pod, &Related { events: Some(events), ..Default::default() }, now());
        let containers = &text[text.find("Containers:").unwrap()..text.find("Volumes:").unwrap()];
        assert_eq!(
            containers,
            "\
Containers:
  kubia:
    Container ID:   docker://c2
    Image:          luksa/kubia-unhealthy
    Image ID:       docker-pullable://x
    Port:           <none>
    Host Port:      <none>
    State:          Waiting
      Reason:       CrashLoopBackOff
    Last State:     Terminated
      Reason:       Error
      Exit Code:    137
      Started:      Wed, 27 Oct 2021 09:57:00 +0000
      Finished:     Wed, 27 Oct 2021 09:58:45 +0000
    Ready:          False
    Restart Count:  5
    Limits:
      memory:  1Gi
    Requests:
      cpu:        100m
      memory:     1Gi
    Liveness:     http-get http://:8080/ delay=15s timeout=1s period=10s #success=1 #failure=3
    Readiness:    exec [ls /var/ready] delay=0s timeout=1s period=1s #success=1 #failure=3
    Environment:  <none>
    Mounts:       <none>
"
        );
        assert!(text.ends_with(
            "Events:\n  Type     Reason     Age                From     Message\n  \
             ----     ------     ----               ----     -------\n  \
             Warning  Unhealthy  7s (x15 over 10m)  kubelet  Liveness probe failed: HTTP probe failed with statuscode: 500\n"
        ), "{text}");
    }

    #[test]
    fn probes_and_qos() {
        assert_eq!(
            probe(&json!({"exec": {"command": ["cat", "/tmp/healthy"]}, "initialDelaySeconds": 5})),
            "exec [cat /tmp/healthy] delay=5s timeout=1s period=10s #success=1 #failure=3"
        );
        assert_eq!(
            probe(&json!({"tcpSocket": {"port": 8080}, "periodSeconds": 3})),
            "tcp-socket :8080 delay=0s timeout=1s period=3s #success=1 #failure=3"
        );
        let burstable = json!({"spec": {"containers": [{"resources": {"requests": {"cpu": "100m"}}}]}});
        assert_eq!(qos_class(&burstable), "Burstable");
        let guaranteed = json!({"spec": {"containers": [{"resources": {"limits": {"cpu": "1", "memory": "1Gi"}}}]}});
        assert_eq!(qos_class(&guaranteed), "Guaranteed");
    }
}
