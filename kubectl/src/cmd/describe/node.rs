//! `kubectl describe node`: the node, its lease, conditions, addresses,
//! capacity and system info, then the pods running on it with their requests
//! and limits as shares of what the node can allocate, following kubectl's
//! `describeNode` and `describeNodeResource` line for line.

use super::writer::{header, s, Writer};
use crate::age;
use crate::printers::columns::array_at;
use api::quantity::{self, Quantity};
use jiff::Timestamp;
use serde_json::Value;
use std::collections::BTreeMap;

/// Resource name to amount, as Kubernetes' `ResourceList`.
pub type ResourceList = BTreeMap<String, Quantity>;

fn resource_list(v: Option<&Value>) -> ResourceList {
    let Some(map) = v.and_then(Value::as_object) else {
        return ResourceList::new();
    };
    map.iter().filter_map(|(k, v)| quantity::from_json(v).map(|q| (k.clone(), q))).collect()
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
fn pod_total(pod: &Value, kind: &str) -> ResourceList {
    let of = |c: &Value| resource_list(c.pointer(&format!("/resources/{kind}")));
    let mut total = ResourceList::new();
    for c in array_at(pod, &["spec", "containers"]) {
        add_list(&mut total, &of(c));
    }
    let mut sidecars = ResourceList::new();
    let mut init_max = ResourceList::new();
    for c in array_at(pod, &["spec", "initContainers"]) {
        let own = of(c);
        let needed = if s(c, &["restartPolicy"]) == "Always" {
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
    let overhead = resource_list(pod.pointer("/spec/overhead"));
    if kind == "requests" {
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
pub fn pod_requests_and_limits(pod: &Value) -> (ResourceList, ResourceList) {
    (pod_total(pod, "requests"), pod_total(pod, "limits"))
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

fn lease(w: &mut Writer, lease: &Option<std::result::Result<Value, String>>) {
    match lease {
        None => {}
        Some(Err(e)) => w.w(0, &format!("Lease:\tFailed to get lease: {e}\n")),
        Some(Ok(l)) => {
            w.w(0, "Lease:\n");
            let holder = match l.pointer("/spec/holderIdentity").and_then(Value::as_str) {
                Some(h) => h.to_string(),
                None => "<unset>".into(),
            };
            w.w(1, &format!("HolderIdentity:\t{holder}\n"));
            for (title, field) in [("AcquireTime", "acquireTime"), ("RenewTime", "renewTime")] {
                let t = match l.pointer(&format!("/spec/{field}")).and_then(Value::as_str) {
                    Some(t) => age::rfc1123z(t),
                    None => "<unset>".into(),
                };
                w.w(1, &format!("{title}:\t{t}\n"));
            }
        }
    }
}

/// Taints sorted by effect then key, as kubectl prints them.
fn taints(n: &Value) -> Vec<String> {
    let mut taints: Vec<&Value> = array_at(n, &["spec", "taints"]).iter().collect();
    taints.sort_by_key(|t| format!("{},{}", s(t, &["effect"]), s(t, &["key"])));
    taints
        .into_iter()
        .map(|t| match s(t, &["value"]) {
            "" => format!("{}:{}", s(t, &["key"]), s(t, &["effect"])),
            v => format!("{}={v}:{}", s(t, &["key"]), s(t, &["effect"])),
        })
        .collect()
}

pub fn node(
    w: &mut Writer,
    n: &Value,
    pods: &[Value],
    lease_or_error: &Option<std::result::Result<Value, String>>,
    now: Timestamp,
) {
    header(w, n, false);
    let mut roles: Vec<String> = Vec::new();
    for (k, v) in api::meta::labels(n) {
        if let Some(role) = k.strip_prefix("node-role.kubernetes.io/").filter(|r| !r.is_empty()) {
            roles.push(role.to_string());
        } else if k == "kubernetes.io/role" && !v.is_empty() {
            roles.push(v);
        }
    }
    roles.sort();
    roles.dedup();
    w.w(0, &format!("Roles:\t{}\n", if roles.is_empty() { "<none>".to_string() } else { roles.join(",") }));
    w.labels("", "Labels", &api::meta::labels(n));
    w.annotations("", "Annotations", &api::meta::annotations(n));
    w.w(0, &format!("CreationTimestamp:\t{}\n", age::rfc1123z(api::meta::creation_timestamp(n))));
    let taints = taints(n);
    w.w(0, &format!("Taints:\t{}\n", if taints.is_empty() { "<none>".to_string() } else { taints.join("\n\t") }));
    let unschedulable = n.pointer("/spec/unschedulable").and_then(Value::as_bool).unwrap_or(false);
    w.w(0, &format!("Unschedulable:\t{unschedulable}\n"));
    lease(w, lease_or_error);
    let conditions = array_at(n, &["status", "conditions"]);
    if !conditions.is_empty() {
        w.w(0, "Conditions:\n  Type\tStatus\tLastHeartbeatTime\tLastTransitionTime\tReason\tMessage\n");
        w.w(1, "----\t------\t-----------------\t------------------\t------\t-------\n");
        for c in conditions {
            w.w(
                1,
                &format!(
                    "{} \t{} \t{} \t{} \t{} \t{}\n",
                    s(c, &["type"]),
                    s(c, &["status"]),
                    age::rfc1123z(s(c, &["lastHeartbeatTime"])),
                    age::rfc1123z(s(c, &["lastTransitionTime"])),
                    s(c, &["reason"]),
                    s(c, &["message"])
                ),
            );
        }
    }
    w.w(0, "Addresses:\n");
    for a in array_at(n, &["status", "addresses"]) {
        w.w(1, &format!("{}:\t{}\n", s(a, &["type"]), s(a, &["address"])));
    }
    let capacity = resource_list(n.pointer("/status/capacity"));
    let allocatable_list = resource_list(n.pointer("/status/allocatable"));
    for (title, list) in [("Capacity", &capacity), ("Allocatable", &allocatable_list)] {
        if !list.is_empty() {
            w.w(0, &format!("{title}:\n"));
            for (k, q) in list {
                w.w(1, &format!("{k}:\t{q}\n"));
            }
        }
    }
    w.w(0, "System Info:\n");
    for (title, field) in [
        ("Machine ID", "machineID"),
        ("System UUID", "systemUUID"),
        ("Boot ID", "bootID"),
        ("Kernel Version", "kernelVersion"),
        ("OS Image", "osImage"),
        ("Operating System", "operatingSystem"),
        ("Architecture", "architecture"),
        ("Container Runtime Version", "containerRuntimeVersion"),
        ("Kubelet Version", "kubeletVersion"),
        ("Kube-Proxy Version", "kubeProxyVersion"),
    ] {
        w.w(1, &format!("{title}:\t{}\n", s(n, &["status", "nodeInfo", field])));
    }
    if !s(n, &["spec", "podCIDR"]).is_empty() {
        w.w(0, &format!("PodCIDR:\t{}\n", s(n, &["spec", "podCIDR"])));
    }
    let cidrs: Vec<&str> = array_at(n, &["spec", "podCIDRs"]).iter().filter_map(Value::as_str).collect();
    if !cidrs.is_empty() {
        w.w(0, &format!("PodCIDRs:\t{}\n", cidrs.join(",")));
    }
    if !s(n, &["spec", "providerID"]).is_empty() {
        w.w(0, &format!("ProviderID:\t{}\n", s(n, &["spec", "providerID"])));
    }
    // kubectl measures shares against what the node can allocate, else its capacity.
    let allocatable = if allocatable_list.is_empty() { capacity } else { allocatable_list };
    node_resources(w, pods, &allocatable, now);
}

/// The `Non-terminated Pods` and `Allocated resources` tables.
fn node_resources(w: &mut Writer, pods: &[Value], allocatable: &ResourceList, now: Timestamp) {
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
                api::meta::namespace(pod),
                api::meta::name(pod),
                percent(cpu_req.milli_value(), alloc_cpu),
                percent(cpu_limit.milli_value(), alloc_cpu),
                percent(mem_req.value(), alloc_mem),
                percent(mem_limit.value(), alloc_mem),
                age::age_at(api::meta::creation_timestamp(pod), now)
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
    use serde_json::json;

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
            pods: vec![
                pod(
                    "kube-system",
                    "coredns-78fcd69978-x2x7k",
                    json!({"requests": {"cpu": "100m", "memory": "70Mi"}, "limits": {"memory": "170Mi"}}),
                ),
                pod("default", "kubia", json!({})),
            ],
            lease: Some(Ok(
                json!({"spec": {"holderIdentity": "minikube", "renewTime": "2021-10-27T09:59:58.123456Z"}}),
            )),
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
        let (req, limit) = pod_requests_and_limits(&p);
        // The big init container (2 CPUs) outweighs the app containers plus the sidecar (600m).
        assert_eq!(req["cpu"].to_string(), "2010m");
        assert_eq!(req["memory"].to_string(), "139Mi");
        assert_eq!(limit["memory"].to_string(), "257Mi");
        assert!(!limit.contains_key("cpu"));
    }
}
