//! Which pod and container `logs`, `exec` and `port-forward` act on: a pod by
//! name (`kubia`, `pod/kubia`) or one chosen from what a controller or service
//! selects (`deploy/kubia`), and the container named by `-c` or the pod's default,
//! with kubectl's notices and errors.

use super::Ctx;
use crate::error::{Error, Result};
use crate::printers::columns::{format_map, label_selector_string};
use crate::typed::decode;
use api::k8s_openapi::api::apps::v1::{DaemonSet, Deployment, ReplicaSet, StatefulSet};
use api::k8s_openapi::api::batch::v1::Job;
use api::k8s_openapi::api::core::v1::{Pod, ReplicationController, Service};
use api::ResourceInfo;
use client::ListParams;
use jiff::Timestamp;
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
    let unreadable = |e: serde_json::Error| Error::msg(format!("unreadable {} {name}: {e}", info.kind));
    let selector = match info.kind {
        "ReplicationController" => {
            let rc: ReplicationController = decode(obj).map_err(unreadable)?;
            format_map(rc.spec.as_ref().and_then(|s| s.selector.as_ref()))
        }
        "Service" => {
            let svc: Service = decode(obj).map_err(unreadable)?;
            format_map(svc.spec.as_ref().and_then(|s| s.selector.as_ref()))
        }
        "ReplicaSet" => {
            label_selector_string(decode::<ReplicaSet>(obj).map_err(unreadable)?.spec.map(|s| s.selector).as_ref())
        }
        "Deployment" => {
            label_selector_string(decode::<Deployment>(obj).map_err(unreadable)?.spec.map(|s| s.selector).as_ref())
        }
        "DaemonSet" => {
            label_selector_string(decode::<DaemonSet>(obj).map_err(unreadable)?.spec.map(|s| s.selector).as_ref())
        }
        "StatefulSet" => {
            label_selector_string(decode::<StatefulSet>(obj).map_err(unreadable)?.spec.map(|s| s.selector).as_ref())
        }
        "Job" => label_selector_string(decode::<Job>(obj).map_err(unreadable)?.spec.and_then(|s| s.selector).as_ref()),
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
fn attach_rank(pod: &Pod) -> (bool, u8, bool, i64, std::cmp::Reverse<Option<Timestamp>>) {
    let phase = match api::pod::phase(pod) {
        "Running" => 3,
        "Unknown" => 2,
        "Pending" => 1,
        _ => 0,
    };
    let statuses = pod.status.as_ref().and_then(|s| s.container_statuses.as_ref());
    let restarts: i64 = statuses.into_iter().flatten().map(|s| i64::from(s.restart_count)).sum();
    let created = pod.metadata.creation_timestamp.as_ref().map(|t| t.0);
    (!api::pod::node_name(pod).is_empty(), phase, api::pod::is_ready(pod), -restarts, std::cmp::Reverse(created))
}

/// The best of `pods` to attach to or read logs from.
pub fn pick_pod(pods: Vec<Value>) -> Option<Value> {
    pods.into_iter().max_by_key(|p| attach_rank(&decode(p).unwrap_or_default()))
}

/// The pod `obj` stands for: itself if it is a pod, otherwise the best pod its
/// selector matches (and how many matched, for logs' `Found N pods` notice).
pub async fn pod_for_object(ctx: &mut Ctx, info: &ResourceInfo, obj: Value) -> Result<(Pod, usize)> {
    let unreadable = |e: serde_json::Error| Error::msg(format!("unreadable pod: {e}"));
    if info.kind == "Pod" {
        return Ok((decode(&obj).map_err(unreadable)?, 1));
    }
    let selector = selector_for(info, &obj)?;
    let pods_info = api::registry::lookup("pods").expect("pods are registered");
    let client = ctx.client().await?;
    let ns = api::meta::namespace(&obj).to_string();
    let list = client.list(pods_info, &ns, &ListParams { label_selector: selector, ..Default::default() }).await?;
    let pods = super::items(pods_info, list);
    let count = pods.len();
    match pick_pod(pods) {
        Some(pod) => Ok((decode(&pod).map_err(unreadable)?, count)),
        None => {
            Err(Error::msg(format!("no pods found for {}", crate::printers::kind_name(info, api::meta::name(&obj)))))
        }
    }
}

/// The names of the pod's containers, init containers and ephemeral containers.
fn names(pod: &Pod) -> (Vec<String>, Vec<String>, Vec<String>) {
    let spec = pod.spec.clone().unwrap_or_default();
    let containers = spec.containers.iter().map(|c| c.name.clone()).collect();
    let init = spec.init_containers.iter().flatten().map(|c| c.name.clone()).collect();
    let ephemeral = spec.ephemeral_containers.iter().flatten().map(|c| c.name.clone()).collect();
    (containers, init, ephemeral)
}

/// Whether the pod has a container (of any kind) called `name`.
pub fn has_container(pod: &Pod, name: &str) -> bool {
    every_container(pod).iter().any(|n| n == name)
}

/// kubectl's `AllContainerNames`: containers, then ephemeral and init ones, marked.
pub fn all_container_names(pod: &Pod) -> String {
    let (mut all, init, ephemeral) = names(pod);
    all.extend(ephemeral.into_iter().map(|n| format!("{n} (ephem)")));
    all.extend(init.into_iter().map(|n| format!("{n} (init)")));
    all.join(", ")
}

/// Every container of the pod in the order `--all-containers` reads them: init, regular, ephemeral.
pub fn every_container(pod: &Pod) -> Vec<String> {
    let (containers, mut all, ephemeral) = names(pod);
    all.extend(containers);
    all.extend(ephemeral);
    all
}

/// The container used when none is named: the annotated default if the pod has it,
/// else the first container. The notices are what kubectl prints on stderr
/// (`Defaulted container "a" out of: a, b`), in order.
pub fn default_container(pod: &Pod) -> Result<(String, Vec<String>)> {
    let mut notices = Vec::new();
    let pod_name = pod.metadata.name.as_deref().unwrap_or("");
    let annotations = pod.metadata.annotations.as_ref();
    let annotated = annotations.and_then(|a| a.get(DEFAULT_CONTAINER_ANNOTATION)).cloned().unwrap_or_default();
    if !annotated.is_empty() {
        if has_container(pod, &annotated) {
            return Ok((annotated, notices));
        }
        notices.push(format!("Default container name \"{annotated}\" not found in pod {pod_name}"));
    }
    let (containers, init, ephemeral) = names(pod);
    let Some(first) = containers.first() else {
        return Err(Error::msg(format!("pod {pod_name} does not have any containers")));
    };
    if containers.len() > 1 || !init.is_empty() || !ephemeral.is_empty() {
        notices.push(format!("Defaulted container \"{first}\" out of: {}", all_container_names(pod)));
    }
    Ok((first.clone(), notices))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(containers: &[&str], init: &[&str]) -> Pod {
        let c = |names: &[&str]| names.iter().map(|n| json!({"name": n})).collect::<Vec<_>>();
        decode(&json!({"metadata": {"name": "p"}, "spec": {"containers": c(containers), "initContainers": c(init)}}))
            .unwrap()
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
        p.metadata.annotations = Some([(DEFAULT_CONTAINER_ANNOTATION.to_string(), "b".to_string())].into());
        assert_eq!(default_container(&p).unwrap(), ("b".to_string(), vec![]));
        p.metadata.annotations = Some([(DEFAULT_CONTAINER_ANNOTATION.to_string(), "zz".to_string())].into());
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
