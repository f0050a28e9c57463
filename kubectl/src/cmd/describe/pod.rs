//! `kubectl describe pod`: the pod itself, its containers (also used by the
//! controllers' pod templates), volumes, tolerations, probes and QoS class.

use super::writer::{controlled_by, header, labels_and_annotations, or_empty, Writer};
use crate::age;
use api::k8s_openapi::api::core::v1::{
    Container, ContainerState, ContainerStatus, EnvVar, Pod, Probe, Toleration, Volume,
};
use api::k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use jiff::Timestamp;

pub fn pod(w: &mut Writer, pod: &Pod) {
    let spec = pod.spec.clone().unwrap_or_default();
    let status = pod.status.clone().unwrap_or_default();
    header(w, &pod.metadata, true);
    if let Some(p) = spec.priority {
        w.w(0, &format!("Priority:\t{p}\n"));
    }
    if let Some(class) = spec.priority_class_name.as_deref().filter(|c| !c.is_empty()) {
        w.w(0, &format!("Priority Class Name:\t{class}\n"));
    }
    if let Some(account) = spec.service_account_name.as_deref().filter(|a| !a.is_empty()) {
        w.w(0, &format!("Service Account:\t{account}\n"));
    }
    match api::pod::node_name(pod) {
        "" => w.w(0, "Node:\t<none>\n"),
        node => w.w(0, &format!("Node:\t{node}/{}\n", status.host_ip.as_deref().unwrap_or(""))),
    }
    if let Some(start) = &status.start_time {
        w.w(0, &format!("Start Time:\t{}\n", age::rfc1123(Some(start))));
    }
    labels_and_annotations(w, &pod.metadata);
    let phase = api::pod::phase(pod);
    match &pod.metadata.deletion_timestamp {
        Some(ts) if !api::pod::is_finished(pod) => {
            w.w(0, &format!("Status:\tTerminating (lasts {})\n", age::since(Some(ts), Timestamp::now())));
            let grace = pod.metadata.deletion_grace_period_seconds.unwrap_or(0);
            w.w(0, &format!("Termination Grace Period:\t{grace}s\n"));
        }
        _ => w.w(0, &format!("Status:\t{phase}\n")),
    }
    for (label, field) in [("Reason", &status.reason), ("Message", &status.message)] {
        if let Some(text) = field.as_deref().filter(|t| !t.is_empty()) {
            w.w(0, &format!("{label}:\t{text}\n"));
        }
    }
    w.w(0, &format!("IP:\t{}\n", status.pod_ip.as_deref().unwrap_or("")));
    let ips = status.pod_ips.as_deref().unwrap_or(&[]);
    if ips.is_empty() {
        w.w(0, "IPs:\t<none>\n");
    } else {
        w.w(0, "IPs:\n");
        for ip in ips {
            w.w(1, &format!("IP:\t{}\n", ip.ip));
        }
    }
    if let Some(c) = controlled_by(&pod.metadata) {
        w.w(0, &format!("Controlled By:\t{c}\n"));
    }
    if let Some(nominated) = status.nominated_node_name.as_deref().filter(|n| !n.is_empty()) {
        w.w(0, &format!("NominatedNodeName:\t{nominated}\n"));
    }
    let init = spec.init_containers.as_deref().unwrap_or(&[]);
    if !init.is_empty() {
        let statuses = status.init_container_statuses.as_deref().unwrap_or(&[]);
        containers(w, "Init Containers", init, Some(statuses), "");
    }
    let statuses = status.container_statuses.as_deref().unwrap_or(&[]);
    containers(w, "Containers", &spec.containers, Some(statuses), "");
    let conditions = status.conditions.as_deref().unwrap_or(&[]);
    if !conditions.is_empty() {
        w.w(0, "Conditions:\n  Type\tStatus\n");
        for c in conditions {
            w.w(1, &format!("{} \t{} \n", c.type_, c.status));
        }
    }
    volumes(w, spec.volumes.as_deref().unwrap_or(&[]), "");
    let qos = match status.qos_class.as_deref() {
        None | Some("") => api::pod::qos_class(&spec),
        Some(q) => q,
    };
    w.w(0, &format!("QoS Class:\t{qos}\n"));
    w.labels("", "Node-Selectors", or_empty(spec.node_selector.as_ref()));
    tolerations(w, "", "Tolerations", spec.tolerations.as_deref().unwrap_or(&[]));
}

pub fn containers(w: &mut Writer, label: &str, specs: &[Container], statuses: Option<&[ContainerStatus]>, space: &str) {
    w.w(0, &format!("{space}{label}:{}\n", if specs.is_empty() { " <none>" } else { "" }));
    let name_indent = if space.is_empty() { "" } else { " " };
    for c in specs {
        let status = statuses.and_then(|st| st.iter().find(|x| x.name == c.name));
        w.w(1, &format!("{name_indent}{}:\n", c.name));
        if let Some(st) = status {
            w.w(2, &format!("Container ID:\t{}\n", st.container_id.as_deref().unwrap_or("")));
        }
        w.w(2, &format!("Image:\t{}\n", c.image.as_deref().unwrap_or("")));
        if let Some(st) = status {
            w.w(2, &format!("Image ID:\t{}\n", st.image_id));
        }
        let ports = c.ports.as_deref().unwrap_or(&[]);
        let proto = |p: Option<&str>| p.filter(|p| !p.is_empty()).unwrap_or("TCP").to_string();
        let container_ports: Vec<String> =
            ports.iter().map(|p| format!("{}/{}", p.container_port, proto(p.protocol.as_deref()))).collect();
        let host_ports: Vec<String> =
            ports.iter().map(|p| format!("{}/{}", p.host_port.unwrap_or(0), proto(p.protocol.as_deref()))).collect();
        for (one, many, items) in [("Port", "Ports", container_ports), ("Host Port", "Host Ports", host_ports)] {
            if items.len() > 1 {
                w.w(2, &format!("{many}:\t{}\n", items.join(", ")));
            } else {
                w.w(2, &format!("{one}:\t{}\n", items.first().map(String::as_str).unwrap_or("<none>")));
            }
        }
        for (title, items) in [("Command", &c.command), ("Args", &c.args)] {
            let items = items.as_deref().unwrap_or(&[]);
            if !items.is_empty() {
                w.w(2, &format!("{title}:\n"));
                for item in items {
                    for line in item.split('\n') {
                        w.w(3, &format!("{line}\n"));
                    }
                }
            }
        }
        if let Some(st) = status {
            container_state(w, "State", st.state.as_ref());
            if st.last_state.as_ref().is_some_and(|s| s.terminated.is_some()) {
                container_state(w, "Last State", st.last_state.as_ref());
            }
            w.w(2, &format!("Ready:\t{}\n", if st.ready { "True" } else { "False" }));
            w.w(2, &format!("Restart Count:\t{}\n", st.restart_count));
        }
        let resources = c.resources.clone().unwrap_or_default();
        for (title, list) in [("Limits", &resources.limits), ("Requests", &resources.requests)] {
            if let Some(list) = list.as_ref().filter(|m| !m.is_empty()) {
                w.w(2, &format!("{title}:\n"));
                // Sorted by name, each in the canonical form kubectl's `Quantity.String()` gives.
                for (k, q) in list {
                    w.w(3, &format!("{k}:\t{}\n", api::quantity::canonical(&q.0)));
                }
            }
        }
        for (title, p) in
            [("Liveness", &c.liveness_probe), ("Readiness", &c.readiness_probe), ("Startup", &c.startup_probe)]
        {
            if let Some(p) = p {
                w.w(2, &format!("{title}:\t{}\n", probe(p)));
            }
        }
        env(w, c.env.as_deref().unwrap_or(&[]));
        let mut mounts: Vec<_> = c.volume_mounts.iter().flatten().collect();
        w.w(2, &format!("Mounts:{}\n", if mounts.is_empty() { "\t<none>" } else { "" }));
        mounts.sort_by_key(|m| m.mount_path.clone());
        for m in mounts {
            let mut flags = vec![if m.read_only == Some(true) { "ro".to_string() } else { "rw".to_string() }];
            if let Some(sub) = m.sub_path.as_deref().filter(|p| !p.is_empty()) {
                flags.push(format!("path={sub:?}"));
            }
            w.w(3, &format!("{} from {} ({})\n", m.mount_path, m.name, flags.join(",")));
        }
    }
}

fn container_state(w: &mut Writer, title: &str, state: Option<&ContainerState>) {
    let state = state.cloned().unwrap_or_default();
    if let Some(r) = &state.running {
        w.w(2, &format!("{title}:\tRunning\n"));
        w.w(3, &format!("Started:\t{}\n", age::rfc1123(r.started_at.as_ref())));
    } else if let Some(t) = &state.terminated {
        w.w(2, &format!("{title}:\tTerminated\n"));
        for (label, field) in [("Reason", &t.reason), ("Message", &t.message)] {
            if let Some(text) = field.as_deref().filter(|t| !t.is_empty()) {
                w.w(3, &format!("{label}:\t{text}\n"));
            }
        }
        w.w(3, &format!("Exit Code:\t{}\n", t.exit_code));
        if let Some(signal) = t.signal.filter(|s| *s > 0) {
            w.w(3, &format!("Signal:\t{signal}\n"));
        }
        w.w(3, &format!("Started:\t{}\n", age::rfc1123(t.started_at.as_ref())));
        w.w(3, &format!("Finished:\t{}\n", age::rfc1123(t.finished_at.as_ref())));
    } else {
        w.w(2, &format!("{title}:\tWaiting\n"));
        if let Some(reason) = state.waiting.and_then(|w| w.reason).filter(|r| !r.is_empty()) {
            w.w(3, &format!("Reason:\t{reason}\n"));
        }
    }
}

fn port_text(port: &IntOrString) -> String {
    match port {
        IntOrString::Int(n) => n.to_string(),
        IntOrString::String(s) => s.clone(),
    }
}

/// A probe as describe prints it: `http-get http://:8080/ delay=0s timeout=1s period=10s #success=1 #failure=3`.
pub fn probe(p: &Probe) -> String {
    let attrs = format!(
        "delay={}s timeout={}s period={}s #success={} #failure={}",
        p.initial_delay_seconds.unwrap_or(0),
        p.timeout_seconds.unwrap_or(1),
        p.period_seconds.unwrap_or(10),
        p.success_threshold.unwrap_or(1),
        p.failure_threshold.unwrap_or(3)
    );
    if let Some(exec) = &p.exec {
        return format!("exec [{}] {attrs}", exec.command.as_deref().unwrap_or(&[]).join(" "));
    }
    if let Some(h) = &p.http_get {
        let scheme = match h.scheme.as_deref() {
            None | Some("") => "http".to_string(),
            Some(other) => other.to_ascii_lowercase(),
        };
        let host = h.host.as_deref().unwrap_or("");
        let port = port_text(&h.port);
        let host = if port.is_empty() { host.to_string() } else { format!("{host}:{port}") };
        return format!("http-get {scheme}://{host}{} {attrs}", h.path.as_deref().unwrap_or(""));
    }
    if let Some(t) = &p.tcp_socket {
        return format!("tcp-socket {}:{} {attrs}", t.host.as_deref().unwrap_or(""), port_text(&t.port));
    }
    if let Some(g) = &p.grpc {
        return format!("grpc <pod>:{} {} {attrs}", g.port, g.service.as_deref().unwrap_or(""));
    }
    format!("unknown {attrs}")
}

fn env(w: &mut Writer, vars: &[EnvVar]) {
    w.w(2, &format!("Environment:{}\n", if vars.is_empty() { "\t<none>" } else { "" }));
    for e in vars {
        let name = &e.name;
        let Some(from) = &e.value_from else {
            for (i, line) in e.value.as_deref().unwrap_or("").split('\n').enumerate() {
                if i == 0 {
                    w.w(3, &format!("{name}:\t{line}\n"));
                } else {
                    w.w(3, &format!("\t{line}\n"));
                }
            }
            continue;
        };
        if let Some(f) = &from.field_ref {
            w.w(3, &format!("{name}:\t ({}:{})\n", f.api_version.as_deref().unwrap_or(""), f.field_path));
        } else if let Some(r) = &from.resource_field_ref {
            w.w(3, &format!("{name}:\t ({})\n", r.resource));
        } else if let Some(r) = &from.secret_key_ref {
            let optional = r.optional.unwrap_or(false);
            w.w(3, &format!("{name}:\t<set to the key '{}' in secret '{}'>\tOptional: {optional}\n", r.key, r.name));
        } else if let Some(r) = &from.config_map_key_ref {
            let optional = r.optional.unwrap_or(false);
            w.w(
                3,
                &format!("{name}:\t<set to the key '{}' of config map '{}'>\tOptional: {optional}\n", r.key, r.name),
            );
        }
    }
}

pub fn volumes(w: &mut Writer, vols: &[Volume], space: &str) {
    if vols.is_empty() {
        w.w(0, &format!("{space}Volumes:\t<none>\n"));
        return;
    }
    w.w(0, &format!("{space}Volumes:\n"));
    let name_indent = if space.is_empty() { "" } else { " " };
    for v in vols {
        w.w(1, &format!("{name_indent}{}:\n", v.name));
        if let Some(h) = &v.host_path {
            w.w(
                2,
                &format!(
                    "Type:\tHostPath (bare host directory volume)\n    Path:\t{}\n    HostPathType:\t{}\n",
                    h.path,
                    h.type_.as_deref().unwrap_or("")
                ),
            );
        } else if let Some(e) = &v.empty_dir {
            let limit = e.size_limit.as_ref().map_or_else(|| "<unset>".to_string(), |q| q.0.clone());
            w.w(2, &format!("Type:\tEmptyDir (a temporary directory that shares a pod's lifetime)\n    Medium:\t{}\n    SizeLimit:\t{limit}\n", e.medium.as_deref().unwrap_or("")));
        } else if let Some(sec) = &v.secret {
            w.w(
                2,
                &format!(
                    "Type:\tSecret (a volume populated by a Secret)\n    SecretName:\t{}\n    Optional:\t{}\n",
                    sec.secret_name.as_deref().unwrap_or(""),
                    sec.optional.unwrap_or(false)
                ),
            );
        } else if let Some(cm) = &v.config_map {
            w.w(
                2,
                &format!(
                    "Type:\tConfigMap (a volume populated by a ConfigMap)\n    Name:\t{}\n    Optional:\t{}\n",
                    cm.name,
                    cm.optional.unwrap_or(false)
                ),
            );
        } else if let Some(pvc) = &v.persistent_volume_claim {
            w.w(2, &format!("Type:\tPersistentVolumeClaim (a reference to a PersistentVolumeClaim in the same namespace)\n    ClaimName:\t{}\n    ReadOnly:\t{}\n", pvc.claim_name, pvc.read_only.unwrap_or(false)));
        } else if v.projected.is_some() {
            w.w(2, "Type:\tProjected (a volume that contains injected data from multiple sources)\n");
        } else {
            w.w(2, "<unknown>\n");
        }
    }
}

pub fn tolerations(w: &mut Writer, indent: &str, title: &str, tols: &[Toleration]) {
    w.w(0, &format!("{indent}{title}:\t"));
    if tols.is_empty() {
        w.w(0, "<none>\n");
        return;
    }
    let text = |v: &Option<String>| v.clone().unwrap_or_default();
    let mut sorted: Vec<&Toleration> = tols.iter().collect();
    sorted.sort_by_key(|t| text(&t.key));
    for (i, t) in sorted.into_iter().enumerate() {
        if i > 0 {
            w.w(0, &format!("{indent}\t"));
        }
        let (value, effect) = (text(&t.value), text(&t.effect));
        let mut line = text(&t.key);
        if !value.is_empty() {
            line.push_str(&format!("={value}"));
        }
        if !effect.is_empty() {
            line.push_str(&format!(":{effect}"));
        }
        if t.operator.as_deref() == Some("Exists") && value.is_empty() {
            line.push_str(if line.is_empty() { "op=Exists" } else { " op=Exists" });
        }
        if let Some(secs) = t.toleration_seconds {
            line.push_str(&format!(" for {secs}s"));
        }
        w.w(0, &format!("{line}\n"));
    }
}

#[cfg(test)]
mod tests {
    use super::super::{describe, Related};
    use super::*;
    use serde_json::{json, Value};

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
        let text = describe(
            pods,
            &pod,
            &Related { events: Some(crate::typed::decode_all(&events)), ..Default::default() },
            now(),
        );
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
        let probe = |v: Value| probe(&crate::typed::decode(&v).unwrap());
        assert_eq!(
            probe(json!({"exec": {"command": ["cat", "/tmp/healthy"]}, "initialDelaySeconds": 5})),
            "exec [cat /tmp/healthy] delay=5s timeout=1s period=10s #success=1 #failure=3"
        );
        assert_eq!(
            probe(json!({"tcpSocket": {"port": 8080}, "periodSeconds": 3})),
            "tcp-socket :8080 delay=0s timeout=1s period=3s #success=1 #failure=3"
        );
        // The QoS class is api::pod's, as every component computes it.
        let qos_class = |pod: &Value| api::pod::qos_class(&crate::typed::decode(&pod["spec"]).unwrap());
        let burstable = json!({"spec": {"containers": [{"resources": {"requests": {"cpu": "100m"}}}]}});
        assert_eq!(qos_class(&burstable), "Burstable");
        let guaranteed = json!({"spec": {"containers": [{"resources": {"limits": {"cpu": "1", "memory": "1Gi"}}}]}});
        assert_eq!(qos_class(&guaranteed), "Guaranteed");
    }
}
