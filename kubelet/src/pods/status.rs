//! A pod's status from what the runtime shows and what the worker knows:
//! phase, conditions and container statuses, by the kubelet's rules
//! (`getPhase`, `GeneratePodReadyCondition`, `convertToAPIContainerStatuses`).
//! Pure functions, so the rules can be read and tested as tables.

use crate::runtime::{ContainerInfo, ContainerState};
use api::time::format as format_time;
use jiff::Timestamp;
use k8s_openapi::api::core::v1::Pod;
use serde_json::{json, Map, Value};

/// What is known about one container of the spec.
#[derive(Debug, Clone, Default)]
pub struct ContainerView<'a> {
    pub name: &'a str,
    pub image: &'a str,
    /// The newest instance, if any was made.
    pub current: Option<&'a ContainerInfo>,
    /// The instance before it (for `lastState`).
    pub previous: Option<&'a ContainerInfo>,
    /// Why the container is not running now, when the worker decided so
    /// (`CrashLoopBackOff`, `ErrImagePull`, ...): reason and message.
    pub waiting: Option<(&'a str, &'a str)>,
    /// The readiness verdict (true without a readiness probe).
    pub ready: bool,
    /// The startup verdict (true without a startup probe).
    pub started: bool,
}

pub struct StatusInput<'a> {
    pub pod: &'a Pod,
    /// The status written last (times and conditions carry over from it); the
    /// pod's own status until the kubelet has written one.
    pub old: &'a Value,
    pub containers: Vec<ContainerView<'a>>,
    /// The running sandbox's IP, if there is one.
    pub pod_ip: Option<&'a str>,
    pub host_ip: &'a str,
    /// The pod runs nothing any more and never will (being deleted, or done).
    pub terminal: bool,
    /// `docker`: the scheme of container IDs.
    pub runtime: &'a str,
    pub now: Timestamp,
}

/// The status to write, as the JSON merge patch the kubelet sends: it keeps
/// Kubernetes' shape (`lastProbeTime: null`, `startedAt: null`) and sets only
/// the fields the kubelet owns, so others' fields (`qosClass`) stay.
pub fn pod_status(input: &StatusInput<'_>) -> Value {
    let old = input.old;
    let statuses: Vec<Value> = input.containers.iter().map(|c| container_status(c, input)).collect();
    let restart_policy = input.pod.spec.as_ref().and_then(|s| s.restart_policy.as_deref()).unwrap_or("Always");
    let mut phase = phase(restart_policy, &statuses, input.terminal);
    // A pod never leaves a terminal phase.
    if let Some(done @ ("Succeeded" | "Failed")) = old["phase"].as_str() {
        phase = if done == "Succeeded" { "Succeeded" } else { "Failed" };
    }
    let unready: Vec<&str> = input
        .containers
        .iter()
        .zip(&statuses)
        .filter(|(_, s)| s["ready"] != json!(true))
        .map(|(c, _)| c.name)
        .collect();
    let now = format_time(input.now);
    let ready_condition = |kind: &str| -> Value {
        match phase {
            "Succeeded" => condition(old, kind, "False", "PodCompleted", "", &now),
            "Failed" => condition(old, kind, "False", "PodFailed", "", &now),
            _ if unready.is_empty() => condition(old, kind, "True", "", "", &now),
            _ => condition(
                old,
                kind,
                "False",
                "ContainersNotReady",
                &format!("containers with unready status: [{}]", unready.join(" ")),
                &now,
            ),
        }
    };
    let sandbox_ready = input.pod_ip.is_some() && !input.terminal;
    let mut conditions = vec![
        condition(old, "PodReadyToStartContainers", if sandbox_ready { "True" } else { "False" }, "", "", &now),
        condition(old, "Initialized", "True", "", "", &now),
        ready_condition("Ready"),
        ready_condition("ContainersReady"),
    ];
    match find_condition(old, "PodScheduled") {
        Some(scheduled) => conditions.push(scheduled.clone()),
        None => conditions.push(condition(old, "PodScheduled", "True", "", "", &now)),
    }
    let mut status = Map::new();
    status.insert("phase".into(), phase.into());
    status.insert("conditions".into(), conditions.into());
    status.insert("hostIP".into(), input.host_ip.into());
    status.insert("hostIPs".into(), json!([{"ip": input.host_ip}]));
    let pod_ip = input.pod_ip.or_else(|| old["podIP"].as_str());
    if let Some(ip) = pod_ip {
        status.insert("podIP".into(), ip.into());
        status.insert("podIPs".into(), json!([{ "ip": ip }]));
    }
    status.insert("startTime".into(), old.get("startTime").cloned().unwrap_or_else(|| now.clone().into()));
    status.insert("containerStatuses".into(), statuses.into());
    if let Some(q) = old.get("qosClass") {
        status.insert("qosClass".into(), q.clone());
    }
    Value::Object(status)
}

fn find_condition<'a>(status: &'a Value, kind: &str) -> Option<&'a Value> {
    status["conditions"].as_array()?.iter().find(|c| c["type"] == kind)
}

/// A condition whose `lastTransitionTime` moves only when its status does.
fn condition(old: &Value, kind: &str, status: &str, reason: &str, message: &str, now: &str) -> Value {
    let since = find_condition(old, kind)
        .filter(|c| c["status"] == status)
        .and_then(|c| c["lastTransitionTime"].as_str())
        .unwrap_or(now);
    let mut c = json!({"type": kind, "status": status, "lastProbeTime": null, "lastTransitionTime": since});
    if !reason.is_empty() {
        c["reason"] = reason.into();
    }
    if !message.is_empty() {
        c["message"] = message.into();
    }
    c
}

fn container_status(c: &ContainerView<'_>, input: &StatusInput<'_>) -> Value {
    let id = |info: &ContainerInfo| format!("{}://{}", input.runtime, info.id);
    let mut status = json!({
        "name": c.name,
        "image": c.image,
        "imageID": "",
        "ready": false,
        "started": false,
        "restartCount": 0,
        "state": {},
        "lastState": {},
    });
    let Some(current) = c.current else {
        status["state"] = match c.waiting {
            Some((reason, message)) => waiting(reason, message),
            // A pod that ends before this container ever ran: Kubernetes reports it as lost.
            None if input.terminal => json!({"terminated": {
                "exitCode": 137,
                "reason": "ContainerStatusUnknown",
                "message": "The container could not be located when the pod was terminated",
            }}),
            None => waiting("ContainerCreating", ""),
        };
        return status;
    };
    status["restartCount"] = current.meta.restart_count.into();
    status["imageID"] = current.image_id.clone().into();
    status["containerID"] = id(current).into();
    let previous_terminated = || c.previous.map(|p| terminated(p, &id(p))).unwrap_or_else(|| json!({}));
    match current.state {
        ContainerState::Running => {
            let started_at = current.started_at.map(format_time).unwrap_or_default();
            status["state"] = json!({"running": {"startedAt": started_at}});
            status["lastState"] = previous_terminated();
            status["ready"] = (c.ready && c.started && !input.terminal).into();
            status["started"] = c.started.into();
        }
        ContainerState::Exited => match c.waiting {
            // Waiting to run again: the instance that exited becomes the last state.
            Some((reason, message)) => {
                status["state"] = waiting(reason, message);
                status["lastState"] = terminated(current, &id(current));
            }
            None => {
                status["state"] = terminated(current, &id(current));
                status["lastState"] = previous_terminated();
            }
        },
        ContainerState::Created | ContainerState::Unknown => {
            let (reason, message) = c.waiting.unwrap_or(("ContainerCreating", ""));
            status["state"] = waiting(reason, message);
            status["lastState"] = previous_terminated();
        }
    }
    status
}

fn waiting(reason: &str, message: &str) -> Value {
    let mut w = json!({"reason": reason});
    if !message.is_empty() {
        w["message"] = message.into();
    }
    json!({ "waiting": w })
}

fn terminated(info: &ContainerInfo, container_id: &str) -> Value {
    let reason = if info.oom_killed {
        "OOMKilled"
    } else if info.started_at.is_none() && !info.error.is_empty() {
        "StartError"
    } else if info.exit_code == 0 {
        "Completed"
    } else {
        "Error"
    };
    let mut t = json!({
        "exitCode": info.exit_code,
        "reason": reason,
        "startedAt": info.started_at.map(format_time),
        "finishedAt": info.finished_at.map(format_time),
        "containerID": container_id,
    });
    if !info.error.is_empty() {
        t["message"] = info.error.clone().into();
    }
    json!({ "terminated": t })
}

/// The pod phase from its container statuses, as the kubelet's `getPhase`.
pub fn phase(restart_policy: &str, statuses: &[Value], terminal: bool) -> &'static str {
    let (mut running, mut waiting, mut stopped, mut succeeded, mut unknown) = (0, 0, 0, 0, 0);
    for s in statuses {
        let state = &s["state"];
        if state.get("running").is_some() {
            running += 1;
        } else if let Some(t) = state.get("terminated") {
            stopped += 1;
            if t["exitCode"] == 0 {
                succeeded += 1;
            }
        } else if state.get("waiting").is_some() {
            // A container waiting to restart has run: it counts as stopped.
            if s["lastState"].get("terminated").is_some() {
                stopped += 1;
            } else {
                waiting += 1;
            }
        } else {
            unknown += 1;
        }
    }
    if waiting > 0 {
        return "Pending";
    }
    if running > 0 && unknown == 0 {
        return "Running";
    }
    if running == 0 && stopped > 0 && unknown == 0 {
        if terminal {
            return if stopped == succeeded { "Succeeded" } else { "Failed" };
        }
        return match restart_policy {
            "Always" => "Running",
            _ if stopped == succeeded => "Succeeded",
            "Never" => "Failed",
            _ => "Running",
        };
    }
    "Pending"
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::ContainerMeta;

    fn state(kind: &str) -> Value {
        match kind {
            "running" => json!({"state": {"running": {}}, "lastState": {}}),
            "ok" => json!({"state": {"terminated": {"exitCode": 0}}, "lastState": {}}),
            "fail" => json!({"state": {"terminated": {"exitCode": 1}}, "lastState": {}}),
            "creating" => json!({"state": {"waiting": {"reason": "ContainerCreating"}}, "lastState": {}}),
            "crashloop" => {
                json!({"state": {"waiting": {"reason": "CrashLoopBackOff"}}, "lastState": {"terminated": {"exitCode": 1}}})
            }
            other => panic!("{other}"),
        }
    }

    #[test]
    fn phases_follow_the_kubelet_rules() {
        let table: &[(&str, &[&str], bool, &str)] = &[
            ("Always", &["creating"], false, "Pending"),
            ("Always", &["running", "creating"], false, "Pending"),
            ("Always", &["running", "running"], false, "Running"),
            ("Always", &["running", "ok"], false, "Running"),
            ("Always", &["crashloop"], false, "Running"),
            ("Always", &["ok"], false, "Running"),
            ("Always", &["ok", "fail"], true, "Failed"),
            ("Always", &["ok", "ok"], true, "Succeeded"),
            ("OnFailure", &["ok", "ok"], false, "Succeeded"),
            ("OnFailure", &["ok", "fail"], false, "Running"),
            ("OnFailure", &["crashloop"], false, "Running"),
            ("Never", &["ok", "fail"], false, "Failed"),
            ("Never", &["ok"], false, "Succeeded"),
            ("Never", &["running", "fail"], false, "Running"),
            ("Never", &[], false, "Pending"),
        ];
        for (policy, states, terminal, want) in table {
            let statuses: Vec<Value> = states.iter().map(|s| state(s)).collect();
            assert_eq!(phase(policy, &statuses, *terminal), *want, "{policy} {states:?} terminal={terminal}");
        }
    }

    fn info(id: &str, state: ContainerState, restarts: u32, exit: i64) -> ContainerInfo {
        let t: Timestamp = "2024-05-01T10:00:00Z".parse().unwrap();
        ContainerInfo {
            id: id.into(),
            meta: ContainerMeta { container_name: "kubia".into(), restart_count: restarts, ..Default::default() },
            state,
            image: "luksa/kubia".into(),
            image_id: "docker://sha256:abc".into(),
            created_at: t,
            started_at: Some(t),
            finished_at: (state == ContainerState::Exited).then_some(t + jiff::SignedDuration::from_secs(5)),
            exit_code: exit,
            oom_killed: false,
            error: String::new(),
            ip: None,
        }
    }

    fn typed(pod: &Value) -> Pod {
        serde_json::from_value(pod.clone()).expect("a pod")
    }

    fn pod() -> Value {
        json!({
            "metadata": {"name": "kubia", "namespace": "default", "uid": "u1"},
            "spec": {"restartPolicy": "Always", "containers": [{"name": "kubia", "image": "luksa/kubia"}]},
            "status": {"phase": "Pending", "qosClass": "BestEffort", "conditions": [
                {"type": "PodScheduled", "status": "True", "lastProbeTime": null, "lastTransitionTime": "2024-05-01T09:59:59Z"}
            ]},
        })
    }

    #[test]
    fn a_crash_looping_container_has_kubernetes_status_shape() {
        let pod = pod();
        let current = info("c2", ContainerState::Exited, 1, 1);
        let previous = info("c1", ContainerState::Exited, 0, 1);
        let message = "back-off 10s restarting failed container=kubia pod=kubia_default(u1)";
        let input = StatusInput {
            pod: &typed(&pod),
            old: &pod["status"],
            containers: vec![ContainerView {
                name: "kubia",
                image: "luksa/kubia",
                current: Some(&current),
                previous: Some(&previous),
                waiting: Some(("CrashLoopBackOff", message)),
                ready: true,
                started: true,
            }],
            pod_ip: Some("172.18.0.5"),
            host_ip: "172.18.0.2",
            terminal: false,
            runtime: "docker",
            now: "2024-05-01T10:00:10Z".parse().unwrap(),
        };
        let status = pod_status(&input);
        assert_eq!(
            status,
            json!({
                "phase": "Running",
                "conditions": [
                    {"type": "PodReadyToStartContainers", "status": "True", "lastProbeTime": null, "lastTransitionTime": "2024-05-01T10:00:10Z"},
                    {"type": "Initialized", "status": "True", "lastProbeTime": null, "lastTransitionTime": "2024-05-01T10:00:10Z"},
                    {"type": "Ready", "status": "False", "reason": "ContainersNotReady", "message": "containers with unready status: [kubia]", "lastProbeTime": null, "lastTransitionTime": "2024-05-01T10:00:10Z"},
                    {"type": "ContainersReady", "status": "False", "reason": "ContainersNotReady", "message": "containers with unready status: [kubia]", "lastProbeTime": null, "lastTransitionTime": "2024-05-01T10:00:10Z"},
                    {"type": "PodScheduled", "status": "True", "lastProbeTime": null, "lastTransitionTime": "2024-05-01T09:59:59Z"},
                ],
                "hostIP": "172.18.0.2",
                "hostIPs": [{"ip": "172.18.0.2"}],
                "podIP": "172.18.0.5",
                "podIPs": [{"ip": "172.18.0.5"}],
                "startTime": "2024-05-01T10:00:10Z",
                "qosClass": "BestEffort",
                "containerStatuses": [{
                    "name": "kubia",
                    "image": "luksa/kubia",
                    "imageID": "docker://sha256:abc",
                    "containerID": "docker://c2",
                    "ready": false,
                    "started": false,
                    "restartCount": 1,
                    "state": {"waiting": {"reason": "CrashLoopBackOff", "message": message}},
                    "lastState": {"terminated": {
                        "exitCode": 1, "reason": "Error", "containerID": "docker://c2",
                        "startedAt": "2024-05-01T10:00:00Z", "finishedAt": "2024-05-01T10:00:05Z",
                    }},
                }],
            })
        );
    }

    #[test]
    fn ready_conditions_keep_their_transition_time() {
        let mut pod = pod();
        let running = info("c1", ContainerState::Running, 0, 0);
        let view = || ContainerView {
            name: "kubia",
            image: "luksa/kubia",
            current: Some(&running),
            ready: true,
            started: true,
            ..Default::default()
        };
        let at = |pod: &Value, t: &str| -> Value {
            pod_status(&StatusInput {
                pod: &typed(pod),
                old: &pod["status"],
                containers: vec![view()],
                pod_ip: Some("172.18.0.5"),
                host_ip: "172.18.0.2",
                terminal: false,
                runtime: "docker",
                now: t.parse().unwrap(),
            })
        };
        let first = at(&pod, "2024-05-01T10:00:10Z");
        assert_eq!(first["phase"], "Running");
        assert_eq!(first["containerStatuses"][0]["state"], json!({"running": {"startedAt": "2024-05-01T10:00:00Z"}}));
        assert_eq!(first["containerStatuses"][0]["ready"], true);
        pod["status"] = first.clone();
        let later = at(&pod, "2024-05-01T10:05:00Z");
        assert_eq!(later, first, "nothing changed, so nothing to write");
    }

    #[test]
    fn completed_pods_are_not_ready_with_reason_pod_completed() {
        let mut pod = pod();
        pod["spec"]["restartPolicy"] = "OnFailure".into();
        let done = info("c1", ContainerState::Exited, 0, 0);
        let input = StatusInput {
            pod: &typed(&pod),
            old: &pod["status"],
            containers: vec![ContainerView {
                name: "kubia",
                image: "luksa/kubia",
                current: Some(&done),
                ..Default::default()
            }],
            pod_ip: None,
            host_ip: "172.18.0.2",
            terminal: true,
            runtime: "docker",
            now: "2024-05-01T10:00:10Z".parse().unwrap(),
        };
        let status = pod_status(&input);
        assert_eq!(status["phase"], "Succeeded");
        assert_eq!(status["conditions"][2]["reason"], "PodCompleted");
        assert_eq!(status["containerStatuses"][0]["state"]["terminated"]["reason"], "Completed");
    }
}
