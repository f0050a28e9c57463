//! `kubectl describe node`: the node, its lease, conditions, addresses,
//! capacity and system info, then the pods running on it with their requests
//! and limits as shares of what the node can allocate, following kubectl's
//! `describeNode` and `describeNodeResource` line for line.

use super::writer::{header, labels_and_annotations, Writer};
use crate::age;
use crate::printers::columns::node_roles;
use api::k8s_openapi::api::coordination::v1::Lease;
use api::k8s_openapi::api::core::v1::{Container, Node, Pod};
use api::k8s_openapi::apimachinery::pkg::api::resource::Quantity as Amount;
use api::quantity::Quantity;
use jiff::Timestamp;
use std::collections::BTreeMap;

/// Resource name to amount, as Kubernetes' `ResourceList`.
pub type ResourceList = BTreeMap<String, Quantity>;

fn resource_list(amounts: Option<&BTreeMap<String, Amount>>) -> ResourceList {
    amounts.into_iter().flatten().filter_map(|(k, q)| Quantity::parse(&q.0).ok().map(|q| (k.clone(), q))).collect()
}

/// Go's `addResourceList`.
fn add_list(into: &mut ResourceList, from: &ResourceList) {
    for (name, q) in from {
        into.entry(name.clone()).and_modify(|v| v.add(q)).or_insert(*q);
    }
}

/// Go's `maxResourceList`: each resource at least as large as in `from`.
fn max_list(into: &mut ResourceList, from: &ResourceList) {
    for (name, q) in from {
        match into.get(name) {
            Some(v) if v >= q => {}
            _ => {
                into.insert(name.clone(), *q);
            }
        }
    }
}

/// What a pod requests or is limited to: the sum of its containers, or more if an
/// init container (plus the sidecars started before it) needs more, plus overhead.
fn pod_total(pod: &Pod, limits: bool) -> ResourceList {
    let of = |c: &Container| {
        let r = c.resources.as_ref();
        resource_list(r.and_then(|r| if limits { r.limits.as_ref() } else { r.requests.as_ref() }))
    };
    let spec = pod.spec.clone().unwrap_or_default();
    let mut total = ResourceList::new();
    for c in &spec.containers {
        add_list(&mut total, &of(c));
    }
    let mut sidecars = ResourceList::new();
    let mut init_max = ResourceList::new();
    for c in spec.init_containers.iter().flatten() {
        let own = of(c);
        let needed = if c.restart_policy.as_deref() == Some("Always") {
            // Sidecars keep running next to the app containers, so they add up.
            add_list(&mut total, &own);
            add_list(&mut sidecars, &own);
            sidecars.clone()
        } else {
            let mut t = own;
            add_list(&mut t, &sidecars);
            t
        };
        max_list(&mut init_max, &needed);
    }
    max_list(&mut total, &init_max);
    let overhead = resource_list(spec.overhead.as_ref());
    if !limits {
        add_list(&mut total, &overhead);
    } else {
        // Overhead counts toward limits only where a limit is set at all.
        for (name, q) in &overhead {
            if let Some(v) = total.get_mut(name) {
                v.add(q);
            }
        }
    }
    total
}

/// kubectl's `PodRequestsAndLimits`.
pub fn pod_requests_and_limits(pod: &Pod) -> (ResourceList, ResourceList) {
    (pod_total(pod, false), pod_total(pod, true))
}

/// `int64(float64(part) / float64(whole) * 100)`, 0 when there is no whole.
fn percent(part: i64, whole: i64) -> i64 {
    if whole == 0 {
        return 0;
    }
    (part as f64 / whole as f64 * 100.0) as i64
}

fn get(list: &ResourceList, name: &str) -> Quantity {
    list.get(name).copied().unwrap_or_default()
}

fn lease(w: &mut Writer, lease: Option<&Result<Lease, String>>) {
    match lease {
        None => {}
        Some(Err(e)) => w.w(0, &format!("Lease:\tFailed to get lease: {e}\n")),
        Some(Ok(l)) => {
            let spec = l.spec.clone().unwrap_or_default();
            w.w(0, "Lease:\n");
            w.w(1, &format!("HolderIdentity:\t{}\n", spec.holder_identity.as_deref().unwrap_or("<unset>")));
            for (title, t) in [("AcquireTime", &spec.acquire_time), ("RenewTime", &spec.renew_time)] {
                let t = t.as_ref().map_or_else(|| "<unset>".to_string(), |t| age::rfc1123(Some(t)));
                w.w(1, &format!("{title}:\t{t}\n"));
            }
        }
    }
}

/// Taints sorted by effect then key, as kubectl prints them.
fn taints(n: &Node) -> Vec<String> {
    let mut taints: Vec<_> = n.spec.iter().flat_map(|s| s.taints.iter().flatten()).collect();
    taints.sort_by_key(|t| format!("{},{}", t.effect, t.key));
    taints
        .into_iter()
        .map(|t| match t.value.as_deref().unwrap_or("") {
            "" => format!("{}:{}", t.key, t.effect),
            v => format!("{}={v}:{}", t.key, t.effect),
        })
        .collect()
}

pub fn node(w: &mut Writer, n: &Node, pods: &[Pod], lease_or_error: Option<&Result<Lease, String>>, now: Timestamp) {
    let spec = n.spec.clone().unwrap_or_default();
    let status = n.status.clone().unwrap_or_default();
    header(w, &n.metadata, false);
    let roles = node_roles(&n.metadata);
    w.w(0, &format!("Roles:\t{}\n", if roles.is_empty() { "<none>".to_string() } else { roles.join(",") }));
    labels_and_annotations(w, &n.metadata);
    w.w(0, &format!("CreationTimestamp:\t{}\n", age::rfc1123(n.metadata.creation_timestamp.as_ref())));
    let taints = taints(n);
    w.w(0, &format!("Taints:\t{}\n", if taints.is_empty() { "<none>".to_string() } else { taints.join("\n\t") }));
    w.w(0, &format!("Unschedulable:\t{}\n", spec.unschedulable.unwrap_or(false)));
    lease(w, lease_or_error);
    let conditions = status.conditions.as_deref().unwrap_or(&[]);
    if !conditions.is_empty() {
        w.w(0, "Conditions:\n  Type\tStatus\tLastHeartbeatTime\tLastTransitionTime\tReason\tMessage\n");
        w.w(1, "----\t------\t-----------------\t------------------\t------\t-------\n");
        for c in conditions {
            w.w(
                1,
                &format!(
                    "{} \t{} \t{} \t{} \t{} \t{}\n",
                    c.type_,
                    c.status,
                    age::rfc1123(c.last_heartbeat_time.as_ref()),
                    age::rfc1123(c.last_transition_time.as_ref()),
                    c.reason.as_deref().unwrap_or(""),
                    c.message.as_deref().unwrap_or("")
                ),
            );
        }
    }
    w.w(0, "Addresses:\n");
    for a in status.addresses.iter().flatten() {
        w.w(1, &format!("{}:\t{}\n", a.type_, a.address));
    }
    let capacity = resource_list(status.capacity.as_ref());
    let allocatable_list = resource_list(status.allocatable.as_ref());
    for (title, list) in [("Capacity", &capacity), ("Allocatable", &allocatable_list)] {
        if !list.is_empty() {
            w.w(0, &format!("{title}:\n"));
            for (k, q) in list {
                w.w(1, &format!("{k}:\t{q}\n"));
            }
        }
    }
    w.w(0, "System Info:\n");
    let i = status.node_info.clone().unwrap_or_default();
    for (title, value) in [
        ("Machine ID", &i.machine_id),
        ("System UUID", &i.system_uuid),
        ("Boot ID", &i.boot_id),
        ("Kernel Version", &i.kernel_version),
        ("OS Image", &i.os_image),
        ("Operating System", &i.operating_system),
        ("Architecture", &i.architecture),
        ("Container Runtime Version", &i.container_runtime_version),
        ("Kubelet Version", &i.kubelet_version),
        ("Kube-Proxy Version", &i.kube_proxy_version),
    ] {
        w.w(1, &format!("{title}:\t{value}\n"));
    }
    if let Some(cidr) = spec.pod_cidr.as_deref().filter(|c| !c.is_empty()) {
        w.w(0, &format!("PodCIDR:\t{cidr}\n"));
    }
    let cidrs = spec.pod_cidrs.as_deref().unwrap_or(&[]);
    if !cidrs.is_empty() {
        w.w(0, &format!("PodCIDRs:\t{}\n", cidrs.join(",")));
    }
    if let Some(id) = spec.provider_id.as_deref().filter(|c| !c.is_empty()) {
        w.w(0, &format!("ProviderID:\t{id}\n"));
    }
    // kubectl measures shares against what the node can allocate, else its capacity.
    let allocatable = if allocatable_list.is_empty() { capacity } else { allocatable_list };
    node_resources(w, pods, &allocatable, now);
}

/// The `Non-terminated Pods` and `Allocated resources` tables.
fn node_resources(w: &mut Writer, pods: &[Pod], allocatable: &ResourceList, now: Timestamp) {
    w.w(0, &format!("Non-terminated Pods:\t({} in total)\n", pods.len()));
    w.w(1, "Namespace\tName\t\tCPU Requests\tCPU Limits\tMemory Requests\tMemory Limits\tAge\n");
    w.w(1, "---------\t----\t\t------------\t----------\t---------------\t-------------\t---\n");
    let alloc_cpu = get(allocatable, "cpu").milli_value();
    let alloc_mem = get(allocatable, "memory").value();
    let mut reqs = ResourceList::new();
    let mut limits = ResourceList::new();
    for pod in pods {
        let (req, limit) = pod_requests_and_limits(pod);
        let (cpu_req, cpu_limit) = (get(&req, "cpu"), get(&limit, "cpu"));
        let (mem_req, mem_limit) = (get(&req, "memory"), get(&limit, "memory"));
        w.w(
            1,
            &format!(
                "{}\t{}\t\t{cpu_req} ({}%)\t{cpu_limit} ({}%)\t{mem_req} ({}%)\t{mem_limit} ({}%)\t{}\n",
                pod.metadata.namespace.as_deref().unwrap_or(""),
                pod.metadata.name.as_deref().unwrap_or(""),
                percent(cpu_req.milli_value(), alloc_cpu),
                percent(cpu_limit.milli_value(), alloc_cpu),
                percent(mem_req.value(), alloc_mem),
                percent(mem_limit.value(), alloc_mem),
                age::since(pod.metadata.creation_timestamp.as_ref(), now)
            ),
        );
        add_list(&mut reqs, &req);
        add_list(&mut limits, &limit);
    }
    w.w(0, "Allocated resources:\n  (Total limits may be over 100 percent, i.e., overcommitted.)\n");
    w.w(1, "Resource\tRequests\tLimits\n");
    w.w(1, "--------\t--------\t------\n");
    let row = |w: &mut Writer, name: &str, by_milli: bool| {
        let (r, l, a) = (get(&reqs, name), get(&limits, name), get(allocatable, name));
        let (rv, lv, av) = if by_milli {
            (r.milli_value(), l.milli_value(), a.milli_value())
        } else {
            (r.value(), l.value(), a.value())
        };
        w.w(1, &format!("{name}\t{r} ({}%)\t{l} ({}%)\n", percent(rv, av), percent(lv, av)));
    };
    row(w, "cpu", true);
    row(w, "memory", false);
    row(w, "ephemeral-storage", false);
    for name in allocatable.keys().filter(|k| k.starts_with("hugepages-")) {
        row(w, name, false);
    }
    let standard =
        |k: &str| matches!(k, "cpu" | "memory" | "ephemeral-storage" | "pods") || k.starts_with("hugepages-");
    for name in allocatable.keys().filter(|k| !standard(k)) {
        w.w(1, &format!("{name}\t{}\t{}\n", get(&reqs, name), get(&limits, name)));
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

    fn minikube() -> Value {
        json!({
            "apiVersion": "v1", "kind": "Node",
            "metadata": {"name": "minikube", "uid": "n-uid", "creationTimestamp": "2021-10-26T15:00:00Z",
                         "labels": {"kubernetes.io/hostname": "minikube", "node-role.kubernetes.io/control-plane": ""},
                         "annotations": {"node.alpha.kubernetes.io/ttl": "0"}},
            "spec": {"podCIDR": "10.244.0.0/24", "podCIDRs": ["10.244.0.0/24"], "unschedulable": true,
                     "taints": [{"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"},
                                {"key": "dedicated", "value": "gpu", "effect": "NoExecute"}]},
            "status": {
                "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady",
                                "message": "kubelet is posting ready status",
                                "lastHeartbeatTime": "2021-10-27T09:59:00Z", "lastTransitionTime": "2021-10-26T15:00:30Z"}],
                "addresses": [{"type": "InternalIP", "address": "192.168.49.2"}, {"type": "Hostname", "address": "minikube"}],
                "capacity": {"cpu": "2", "memory": "4030048Ki", "pods": "110", "ephemeral-storage": "61255492Ki",
                             "hugepages-2Mi": "0", "example.com/dongle": "4"},
                "allocatable": {"cpu": "2", "memory": "4030048Ki", "pods": "110", "ephemeral-storage": "61255492Ki",
                                "hugepages-2Mi": "0", "example.com/dongle": "4"},
                "nodeInfo": {"machineID": "m1", "systemUUID": "u1", "bootID": "b1", "kernelVersion": "5.10.0",
                             "osImage": "Ubuntu 20.04.2 LTS", "operatingSystem": "linux", "architecture": "amd64",
                             "containerRuntimeVersion": "docker://20.10.8", "kubeletVersion": "v1.22.2",
                             "kubeProxyVersion": "v1.22.2"}
            }
        })
    }

    fn pod(ns: &str, name: &str, resources: Value) -> Value {
        json!({"metadata": {"name": name, "namespace": ns, "creationTimestamp": "2021-10-27T08:00:00Z"},
               "spec": {"nodeName": "minikube", "containers": [{"name": "c", "resources": resources}]}})
    }

    #[test]
    fn nodes_describe_like_kubectl() {
        let rel = Related {
            events: Some(vec![]),
            pods: crate::typed::decode_all(&[
                pod(
                    "kube-system",
                    "coredns-78fcd69978-x2x7k",
                    json!({"requests": {"cpu": "100m", "memory": "70Mi"}, "limits": {"memory": "170Mi"}}),
                ),
                pod("default", "kubia", json!({})),
            ]),
            lease: Some(Ok(crate::typed::decode(
                &json!({"spec": {"holderIdentity": "minikube", "renewTime": "2021-10-27T09:59:58.123456Z"}}),
            )
            .unwrap())),
            ..Default::default()
        };
        let text = describe(api::registry::lookup("nodes").unwrap(), &minikube(), &rel, now());
        let want = "\
Name:               minikube
Roles:              control-plane
Labels:             kubernetes.io/hostname=minikube
                    node-role.kubernetes.io/control-plane=
Annotations:        node.alpha.kubernetes.io/ttl: 0
CreationTimestamp:  Tue, 26 Oct 2021 15:00:00 +0000
Taints:             dedicated=gpu:NoExecute
                    node.kubernetes.io/unschedulable:NoSchedule
Unschedulable:      true
Lease:
  HolderIdentity:  minikube
  AcquireTime:     <unset>
  RenewTime:       Wed, 27 Oct 2021 09:59:58 +0000
Conditions:
  Type    Status  LastHeartbeatTime                 LastTransitionTime                Reason         Message
  ----    ------  -----------------                 ------------------                ------         -------
  Ready   True    Wed, 27 Oct 2021 09:59:00 +0000   Tue, 26 Oct 2021 15:00:30 +0000   KubeletReady   kubelet is posting ready status
Addresses:
  InternalIP:  192.168.49.2
  Hostname:    minikube
Capacity:
  cpu:                 2
  ephemeral-storage:   61255492Ki
  example.com/dongle:  4
  hugepages-2Mi:       0
  memory:              4030048Ki
  pods:                110
Allocatable:
  cpu:                 2
  ephemeral-storage:   61255492Ki
  example.com/dongle:  4
  hugepages-2Mi:       0
  memory:              4030048Ki
  pods:                110
System Info:
  Machine ID:                 m1
  System UUID:                u1
  Boot ID:                    b1
  Kernel Version:             5.10.0
  OS Image:                   Ubuntu 20.04.2 LTS
  Operating System:           linux
  Architecture:               amd64
  Container Runtime Version:  docker://20.10.8
  Kubelet Version:            v1.22.2
  Kube-Proxy Version:         v1.22.2
PodCIDR:                      10.244.0.0/24
PodCIDRs:                     10.244.0.0/24
Non-terminated Pods:          (2 in total)
  Namespace                   Name                        CPU Requests  CPU Limits  Memory Requests  Memory Limits  Age
  ---------                   ----                        ------------  ----------  ---------------  -------------  ---
  kube-system                 coredns-78fcd69978-x2x7k    100m (5%)     0 (0%)      70Mi (1%)        170Mi (4%)     120m
  default                     kubia                       0 (0%)        0 (0%)      0 (0%)           0 (0%)         120m
Allocated resources:
  (Total limits may be over 100 percent, i.e., overcommitted.)
  Resource            Requests   Limits
  --------            --------   ------
  cpu                 100m (5%)  0 (0%)
  memory              70Mi (1%)  170Mi (4%)
  ephemeral-storage   0 (0%)     0 (0%)
  hugepages-2Mi       0 (0%)     0 (0%)
  example.com/dongle  0          0
Events:               <none>
";
        assert_eq!(text, want);
    }

    #[test]
    fn a_missing_lease_is_reported_in_place() {
        let rel = Related {
            lease: Some(Err("leases.coordination.k8s.io \"minikube\" not found".into())),
            ..Default::default()
        };
        let text = describe(api::registry::lookup("nodes").unwrap(), &minikube(), &rel, now());
        assert!(text.contains(
            "\nLease:              Failed to get lease: leases.coordination.k8s.io \"minikube\" not found\n"
        ));
    }

    #[test]
    fn pod_totals_follow_init_containers_and_sidecars() {
        let p = json!({"spec": {
            "initContainers": [
                {"name": "big-init", "resources": {"requests": {"cpu": "2"}}},
                {"name": "sidecar", "restartPolicy": "Always", "resources": {"requests": {"cpu": "100m", "memory": "10Mi"}}}],
            "containers": [
                {"name": "a", "resources": {"requests": {"cpu": "250m", "memory": "64Mi"}, "limits": {"memory": "128Mi"}}},
                {"name": "b", "resources": {"requests": {"cpu": "250m", "memory": "64Mi"}, "limits": {"memory": "128Mi"}}}],
            "overhead": {"cpu": "10m", "memory": "1Mi"}}});
        let (req, limit) = pod_requests_and_limits(&crate::typed::decode(&p).unwrap());
        // The big init container (2 CPUs) outweighs the app containers plus the sidecar (600m).
        assert_eq!(req["cpu"].to_string(), "2010m");
        assert_eq!(req["memory"].to_string(), "139Mi");
        assert_eq!(limit["memory"].to_string(), "257Mi");
        assert!(!limit.contains_key("cpu"));
    }
}
