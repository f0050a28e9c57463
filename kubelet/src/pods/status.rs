//! A pod's status from what the runtime shows and what the worker knows:
//! phase, conditions and container statuses, by the kubelet's rules
//! (`getPhase`, `GeneratePodReadyCondition`, `convertToAPIContainerStatuses`).
//! Pure functions, so the rules can be read and tested as tables.

use crate::runtime::{ContainerInfo, ContainerState as RuntimeState};
use jiff::Timestamp;
use k8s_openapi::api::core::v1::{
    ContainerState, ContainerStateRunning, ContainerStateTerminated, ContainerStateWaiting, ContainerStatus, HostIP,
    Pod, PodCondition, PodIP, PodStatus,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

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
    pub old: &'a PodStatus,
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

/// The status to write. It is sent as a merge patch ([`api::pod::status_json`]),
/// so fields the kubelet does not own (`qosClass`) are carried over from `old`.
pub fn pod_status(input: &StatusInput<'_>) -> PodStatus {
    let old = input.old;
    let statuses: Vec<ContainerStatus> = input.containers.iter().map(|c| container_status(c, input)).collect();
    let restart_policy = input.pod.spec.as_ref().and_then(|s| s.restart_policy.as_deref()).unwrap_or("Always");
    let mut phase = phase(restart_policy, &statuses, input.terminal);
    // A pod never leaves a terminal phase.
    if let Some(done @ ("Succeeded" | "Failed")) = old.phase.as_deref() {
        phase = if done == "Succeeded" { "Succeeded" } else { "Failed" };
    }
    let unready: Vec<&str> =
        input.containers.iter().zip(&statuses).filter(|(_, s)| !s.ready).map(|(c, _)| c.name).collect();
    // Times in objects have whole seconds; carried-over ones compare equal only so.
    let now = api::time::to_second(input.now);
    let ready_condition = |kind: &str| -> PodCondition {
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
    let pod_ip = input.pod_ip.map(String::from).or_else(|| old.pod_ip.clone());
    PodStatus {
        phase: Some(phase.into()),
        conditions: Some(conditions),
        host_ip: Some(input.host_ip.into()),
        host_ips: Some(vec![HostIP { ip: input.host_ip.into() }]),
        pod_ips: pod_ip.clone().map(|ip| vec![PodIP { ip }]),
        pod_ip,
        start_time: Some(old.start_time.clone().unwrap_or(now)),
        container_statuses: Some(statuses),
        qos_class: old.qos_class.clone(),
        // Why a pod ended (Evicted, ...) stays with it.
        reason: old.reason.clone().filter(|_| matches!(phase, "Succeeded" | "Failed")),
        message: old.message.clone().filter(|_| matches!(phase, "Succeeded" | "Failed")),
        ..Default::default()
    }
}

fn find_condition<'a>(status: &'a PodStatus, kind: &str) -> Option<&'a PodCondition> {
    status.conditions.as_ref()?.iter().find(|c| c.type_ == kind)
}

/// A condition whose `lastTransitionTime` moves only when its status does.
fn condition(old: &PodStatus, kind: &str, status: &str, reason: &str, message: &str, now: &Time) -> PodCondition {
    let since = find_condition(old, kind).filter(|c| c.status == status).and_then(|c| c.last_transition_time.clone());
    let non_empty = |s: &str| (!s.is_empty()).then(|| s.to_string());
    PodCondition {
        type_: kind.into(),
        status: status.into(),
        reason: non_empty(reason),
        message: non_empty(message),
        last_transition_time: Some(since.unwrap_or_else(|| now.clone())),
        ..Default::default()
    }
}

fn container_status(c: &ContainerView<'_>, input: &StatusInput<'_>) -> ContainerStatus {
    let id = |info: &ContainerInfo| format!("{}://{}", input.runtime, info.id);
    let mut status = ContainerStatus {
        name: c.name.into(),
        image: c.image.into(),
        started: Some(false),
        state: Some(Default::default()),
        last_state: Some(Default::default()),
        ..Default::default()
    };
    let Some(current) = c.current else {
        status.state = Some(match c.waiting {
            Some((reason, message)) => waiting(reason, message),
            // A pod that ends before this container ever ran: Kubernetes reports it as lost.
            None if input.terminal => ContainerState {
                terminated: Some(ContainerStateTerminated {
                    exit_code: 137,
                    reason: Some("ContainerStatusUnknown".into()),
                    message: Some("The container could not be located when the pod was terminated".into()),
                    ..Default::default()
                }),
                ..Default::default()
            },
            None => waiting("ContainerCreating", ""),
        });
        return status;
    };
    status.restart_count = i32::try_from(current.meta.restart_count).unwrap_or(i32::MAX);
    status.image_id = current.image_id.clone();
    status.container_id = Some(id(current));
    let previous_terminated = || c.previous.map(|p| terminated(p, &id(p))).unwrap_or_default();
    match current.state {
        RuntimeState::Running => {
            let running = ContainerStateRunning { started_at: current.started_at.map(Time) };
            status.state = Some(ContainerState { running: Some(running), ..Default::default() });
            status.last_state = Some(previous_terminated());
            status.ready = c.ready && c.started && !input.terminal;
            status.started = Some(c.started);
        }
        RuntimeState::Exited => match c.waiting {
            // Waiting to run again: the instance that exited becomes the last state.
            Some((reason, message)) => {
                status.state = Some(waiting(reason, message));
                status.last_state = Some(terminated(current, &id(current)));
            }
            None => {
                status.state = Some(terminated(current, &id(current)));
                status.last_state = Some(previous_terminated());
            }
        },
        RuntimeState::Created | RuntimeState::Unknown => {
            let (reason, message) = c.waiting.unwrap_or(("ContainerCreating", ""));
            status.state = Some(waiting(reason, message));
            status.last_state = Some(previous_terminated());
        }
    }
    status
}

fn waiting(reason: &str, message: &str) -> ContainerState {
    let waiting = ContainerStateWaiting {
        reason: Some(reason.into()),
        message: (!message.is_empty()).then(|| message.to_string()),
    };
    ContainerState { waiting: Some(waiting), ..Default::default() }
}

fn terminated(info: &ContainerInfo, container_id: &str) -> ContainerState {
    let reason = if info.oom_killed {
        "OOMKilled"
    } else if info.started_at.is_none() && !info.error.is_empty() {
        "StartError"
    } else if info.exit_code == 0 {
        "Completed"
    } else {
        "Error"
    };
    let terminated = ContainerStateTerminated {
        exit_code: i32::try_from(info.exit_code).unwrap_or(i32::MAX),
        reason: Some(reason.into()),
        started_at: info.started_at.map(Time),
        finished_at: info.finished_at.map(Time),
        container_id: Some(container_id.into()),
        message: (!info.error.is_empty()).then(|| info.error.clone()),
        ..Default::default()
    };
    ContainerState { terminated: Some(terminated), ..Default::default() }
}

/// The pod phase from its container statuses, as the kubelet's `getPhase`.
pub fn phase(restart_policy: &str, statuses: &[ContainerStatus], terminal: bool) -> &'static str {
    let (mut running, mut waiting, mut stopped, mut succeeded, mut unknown) = (0, 0, 0, 0, 0);
    for s in statuses {
        let state = s.state.clone().unwrap_or_default();
        if state.running.is_some() {
            running += 1;
        } else if let Some(t) = &state.terminated {
            stopped += 1;
            if t.exit_code == 0 {
                succeeded += 1;
            }
        } else if state.waiting.is_some() {
            // A container waiting to restart has run: it counts as stopped.
            if s.last_state.as_ref().is_some_and(|l| l.terminated.is_some()) {
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
    use serde_json::{json, Value};

    /// An object from its JSON form.
    fn decode<K: k8s_openapi::serde::de::DeserializeOwned>(v: &Value) -> K {
        serde_json::from_value(v.clone()).expect("a well-formed object")
    }

    /// A computed status as JSON, as the merge patch carries it.
    fn json_of(status: &PodStatus) -> Value {
        api::pod::status_json(status)
    }

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
            let statuses: Vec<ContainerStatus> = states.iter().map(|s| decode(&state(s))).collect();
            assert_eq!(phase(policy, &statuses, *terminal), *want, "{policy} {states:?} terminal={terminal}");
        }
    }

    fn info(id: &str, state: RuntimeState, restarts: u32, exit: i64) -> ContainerInfo {
        let t: Timestamp = "2024-05-01T10:00:00Z".parse().unwrap();
        ContainerInfo {
            id: id.into(),
            meta: ContainerMeta { container_name: "kubia".into(), restart_count: restarts, ..Default::default() },
            state,
            image: "luksa/kubia".into(),
            image_id: "docker://sha256:abc".into(),
            created_at: t,
            started_at: Some(t),
            finished_at: (state == RuntimeState::Exited).then_some(t + jiff::SignedDuration::from_secs(5)),
            exit_code: exit,
            oom_killed: false,
            error: String::new(),
            ip: None,
        }
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
        let current = info("c2", RuntimeState::Exited, 1, 1);
        let previous = info("c1", RuntimeState::Exited, 0, 1);
        let message = "back-off 10s restarting failed container=kubia pod=kubia_default(u1)";
        let input = StatusInput {
            pod: &decode(&pod),
            old: &decode(&pod["status"]),
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
            json_of(&status),
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
        let running = info("c1", RuntimeState::Running, 0, 0);
        let view = || ContainerView {
            name: "kubia",
            image: "luksa/kubia",
            current: Some(&running),
            ready: true,
            started: true,
            ..Default::default()
        };
        let at = |pod: &Value, t: &str| -> Value {
            json_of(&pod_status(&StatusInput {
                pod: &decode(pod),
                old: &decode(&pod["status"]),
                containers: vec![view()],
                pod_ip: Some("172.18.0.5"),
                host_ip: "172.18.0.2",
                terminal: false,
                runtime: "docker",
                now: t.parse().unwrap(),
            }))
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
        let done = info("c1", RuntimeState::Exited, 0, 0);
        let input = StatusInput {
            pod: &decode(&pod),
            old: &decode(&pod["status"]),
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
        let status = json_of(&pod_status(&input));
        assert_eq!(status["phase"], "Succeeded");
        assert_eq!(status["conditions"][2]["reason"], "PodCompleted");
        assert_eq!(status["containerStatuses"][0]["state"]["terminated"]["reason"], "Completed");
    }
}
