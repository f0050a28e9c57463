//! Which pod and container `logs`, `exec` and `port-forward` act on: a pod by
//! name (`kubia`, `pod/kubia`) or one chosen from what a controller or service
//! selects (`deploy/kubia`), and the container named by `-c` or the pod's default,
//! with kubectl's notices and errors.

use super::Ctx;
use crate::error::{Error, Result};
use crate::printers::columns::{array_at, format_labels, int_at, selector_string, str_at, string_map};
use api::ResourceInfo;
use client::ListParams;
use serde_json::Value;

/// The annotation that names a pod's default container for logs and exec.
pub const DEFAULT_CONTAINER_ANNOTATION: &str = "kubectl.kubernetes.io/default-container";

/// Looks up `arg` as kubectl's builder does with `ResourceNames("pods", arg)`: a bare
/// name is a pod, `TYPE/NAME` is that type.
pub async fn get_object(ctx: &mut Ctx, arg: &str) -> Result<(&'static ResourceInfo, Value)> {
    let (info, name) = match arg.split_once('/') {
        Some((kind, name)) => {
            let infos = crate::resource::lookup(kind)?;
            let [info] = infos.as_slice() else {
                return Err(Error::msg(format!("the server doesn't have a resource type \"{kind}\"")));
            };
            (*info, name)
        }
        None => (api::registry::lookup("pods").expect("pods are registered"), arg),
    };
    if name.is_empty() {
        return Err(Error::msg("arguments in resource/name form must have a single resource and name"));
    }
    let ns = ctx.ns(info);
    let client = ctx.client().await?;
    let obj = client.get(info, &ns, name).await?;
    Ok((info, crate::printers::with_type_meta(info, obj)))
}

/// The label selector of a controller or service, as kubectl's `SelectorsForObject` finds it.
pub fn selector_for(info: &ResourceInfo, obj: &Value) -> Result<String> {
    let name = api::meta::name(obj);
    let selector = match info.kind {
        "ReplicationController" | "Service" => format_labels(&string_map(obj.pointer("/spec/selector"))),
        "ReplicaSet" | "Deployment" | "DaemonSet" | "StatefulSet" | "Job" => {
            selector_string(obj.pointer("/spec/selector"))
        }
        other => return Err(Error::msg(format!("selector for {other} not implemented"))),
    };
    if selector == "<none>" {
        if info.kind == "Service" {
            return Err(Error::msg(format!("invalid service '{name}': Service is defined without a selector")));
        }
        return Err(Error::msg(format!("{} {name} has no selector", info.kind)));
    }
    Ok(selector)
}

/// How good a pod is to attach to, larger is better: scheduled, running, ready,
/// fewer restarts, older — kubectl's reversed `ActivePods` order.
fn attach_rank(pod: &Value) -> (bool, u8, bool, i64, std::cmp::Reverse<String>) {
    let phase = match str_at(pod, &["status", "phase"]) {
        "Running" => 3,
        "Unknown" => 2,
        "Pending" => 1,
        _ => 0,
    };
    let ready = array_at(pod, &["status", "conditions"])
        .iter()
        .any(|c| str_at(c, &["type"]) == "Ready" && str_at(c, &["status"]) == "True");
    let restarts: i64 =
        array_at(pod, &["status", "containerStatuses"]).iter().map(|s| int_at(s, &["restartCount"])).sum();
    let created = api::meta::creation_timestamp(pod).to_string();
    (!str_at(pod, &["spec", "nodeName"]).is_empty(), phase, ready, -restarts, std::cmp::Reverse(created))
}

/// The best of `pods` to attach to or read logs from.
pub fn pick_pod(pods: Vec<Value>) -> Option<Value> {
    pods.into_iter().max_by_key(attach_rank)
}

/// The pods `obj` stands for: itself if it is a pod, otherwise the best pod its
/// selector matches (and how many matched, for logs' `Found N pods` notice).
pub async fn pod_for_object(ctx: &mut Ctx, info: &ResourceInfo, obj: Value) -> Result<(Value, usize)> {
    if info.kind == "Pod" {
        return Ok((obj, 1));
    }
    let selector = selector_for(info, &obj)?;
    let pods_info = api::registry::lookup("pods").expect("pods are registered");
    let client = ctx.client().await?;
    let ns = api::meta::namespace(&obj).to_string();
    let list = client.list(pods_info, &ns, &ListParams { label_selector: selector, ..Default::default() }).await?;
    let pods = super::items(pods_info, list);
    let count = pods.len();
    match pick_pod(pods) {
        Some(pod) => Ok((pod, count)),
        None => {
            Err(Error::msg(format!("no pods found for {}", crate::printers::kind_name(info, api::meta::name(&obj)))))
        }
    }
}

fn names(pod: &Value, field: &str) -> Vec<String> {
    array_at(pod, &["spec", field]).iter().map(|c| str_at(c, &["name"]).to_string()).collect()
}

/// Whether the pod has a container (of any kind) called `name`.
pub fn has_container(pod: &Value, name: &str) -> bool {
    ["containers", "initContainers", "ephemeralContainers"].iter().any(|f| names(pod, f).iter().any(|n| n == name))
}

/// kubectl's `AllContainerNames`: containers, then ephemeral and init ones, marked.
pub fn all_container_names(pod: &Value) -> String {
    let mut all = names(pod, "containers");
    all.extend(names(pod, "ephemeralContainers").into_iter().map(|n| format!("{n} (ephem)")));
    all.extend(names(pod, "initContainers").into_iter().map(|n| format!("{n} (init)")));
    all.join(", ")
}

/// Every container of the pod in the order `--all-containers` reads them: init, regular, ephemeral.
pub fn every_container(pod: &Value) -> Vec<String> {
    let mut all = names(pod, "initContainers");
    all.extend(names(pod, "containers"));
    all.extend(names(pod, "ephemeralContainers"));
    all
}

/// The container used when none is named: the annotated default if the pod has it,
/// else the first container. The notices are what kubectl prints on stderr
/// (`Defaulted container "a" out of: a, b`), in order.
pub fn default_container(pod: &Value) -> Result<(String, Vec<String>)> {
    let mut notices = Vec::new();
    let annotated = api::meta::annotations(pod).get(DEFAULT_CONTAINER_ANNOTATION).cloned().unwrap_or_default();
    if !annotated.is_empty() {
        if has_container(pod, &annotated) {
            return Ok((annotated, notices));
        }
        notices.push(format!("Default container name \"{annotated}\" not found in pod {}", api::meta::name(pod)));
    }
    let containers = names(pod, "containers");
    let Some(first) = containers.first() else {
        return Err(Error::msg(format!("pod {} does not have any containers", api::meta::name(pod))));
    };
    if containers.len() > 1
        || !array_at(pod, &["spec", "initContainers"]).is_empty()
        || !array_at(pod, &["spec", "ephemeralContainers"]).is_empty()
    {
        notices.push(format!("Defaulted container \"{first}\" out of: {}", all_container_names(pod)));
    }
    Ok((first.clone(), notices))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(containers: &[&str], init: &[&str]) -> Value {
        let c = |names: &[&str]| names.iter().map(|n| json!({"name": n})).collect::<Vec<_>>();
        json!({"metadata": {"name": "p"}, "spec": {"containers": c(containers), "initContainers": c(init)}})
    }

    #[test]
    fn single_container_pods_default_silently() {
        assert_eq!(default_container(&pod(&["main"], &[])).unwrap(), ("main".to_string(), vec![]));
    }

    #[test]
    fn several_containers_default_to_the_first_with_a_notice() {
        let (name, notices) = default_container(&pod(&["a", "b"], &["setup"])).unwrap();
        assert_eq!(name, "a");
        assert_eq!(notices, ["Defaulted container \"a\" out of: a, b, setup (init)"]);
        assert_eq!(every_container(&pod(&["a", "b"], &["setup"])), ["setup", "a", "b"]);
    }

    #[test]
    fn the_default_container_annotation_wins() {
        let mut p = pod(&["a", "b"], &[]);
        p["metadata"]["annotations"] = json!({DEFAULT_CONTAINER_ANNOTATION: "b"});
        assert_eq!(default_container(&p).unwrap(), ("b".to_string(), vec![]));
        p["metadata"]["annotations"] = json!({DEFAULT_CONTAINER_ANNOTATION: "zz"});
        let (name, notices) = default_container(&p).unwrap();
        assert_eq!(name, "a");
        assert_eq!(
            notices,
            ["Default container name \"zz\" not found in pod p", "Defaulted container \"a\" out of: a, b"]
        );
    }

    #[test]
    fn running_ready_pods_are_preferred() {
        let p = |name: &str, phase: &str, ready: bool, node: &str| {
            json!({"metadata": {"name": name, "creationTimestamp": "2021-10-27T09:00:00Z"},
                   "spec": {"nodeName": node},
                   "status": {"phase": phase, "conditions": [{"type": "Ready", "status": if ready {"True"} else {"False"}}]}})
        };
        let picked = pick_pod(vec![
            p("pending", "Pending", false, ""),
            p("ready", "Running", true, "n1"),
            p("running", "Running", false, "n1"),
        ])
        .unwrap();
        assert_eq!(api::meta::name(&picked), "ready");
        assert!(pick_pod(vec![]).is_none());
    }

    #[test]
    fn selectors_of_controllers_and_services() {
        let rc = api::registry::lookup("rc").unwrap();
        assert_eq!(selector_for(rc, &json!({"spec": {"selector": {"app": "kubia"}}})).unwrap(), "app=kubia");
        let deploy = api::registry::lookup("deploy").unwrap();
        let d = json!({"spec": {"selector": {"matchLabels": {"app": "kubia"}}}});
        assert_eq!(selector_for(deploy, &d).unwrap(), "app=kubia");
        let svc = api::registry::lookup("svc").unwrap();
        assert_eq!(
            selector_for(svc, &json!({"metadata": {"name": "ext"}, "spec": {}})).unwrap_err().to_string(),
            "error: invalid service 'ext': Service is defined without a selector"
        );
    }
}
