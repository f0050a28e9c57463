//! The table columns `kubectl get` prints per kind: the server-side printers'
//! columns ([`api::printers`], the same the apiserver's Tables carry), with
//! the `-o wide` ones (priority 1) only when asked for.

use crate::age;
use api::printers::{self, Column};
use api::ResourceInfo;
use jiff::Timestamp;
use serde_json::Value;

pub use api::printers::{event_source, format_labels, format_map, label_selector_string, node_roles};

/// Whether a column shows: always, or with `-o wide` for the priority-1 ones.
fn shown(column: &Column, wide: bool) -> bool {
    wide || column.priority == 0
}

/// The column headers for a kind (`wide` adds the priority-1 columns), upper-cased as kubectl prints them.
pub fn headers(info: &ResourceInfo, wide: bool) -> Vec<String> {
    match printers::columns(info) {
        Some(columns) => columns.iter().filter(|c| shown(c, wide)).map(|c| c.name.to_uppercase()).collect(),
        // A kind without a printer of its own: its name and age.
        None => vec!["NAME".into(), "AGE".into()],
    }
}

/// The cells of one object's row, matching `headers(info, wide)`.
pub fn row(info: &ResourceInfo, obj: &Value, wide: bool, now: Timestamp) -> Vec<String> {
    let Some(columns) = printers::columns(info) else {
        return vec![api::meta::name(obj).to_string(), age::age_at(api::meta::creation_timestamp(obj), now)];
    };
    let cells = printers::cells(info, obj, now);
    columns.iter().zip(cells).filter(|(c, _)| shown(c, wide)).map(|(_, cell)| cell.to_string()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::typed::decode;
    use api::registry::lookup;
    use serde_json::json;

    fn now() -> Timestamp {
        "2021-10-27T10:00:00Z".parse().unwrap()
    }

    fn running_pod() -> Value {
        json!({
            "metadata": {"name": "kubia", "creationTimestamp": "2021-10-27T08:40:00Z"},
            "spec": {"nodeName": "minikube-m02", "containers": [{"name": "kubia", "image": "luksa/kubia"}]},
            "status": {"phase": "Running", "podIP": "10.244.1.4",
                       "conditions": [{"type": "Ready", "status": "True"}],
                       "containerStatuses": [{"name": "kubia", "ready": true, "restartCount": 0,
                                              "state": {"running": {"startedAt": "2021-10-27T08:41:00Z"}}}]}
        })
    }

    #[test]
    fn pod_rows_read_like_kubectl() {
        let pods = lookup("pods").unwrap();
        assert_eq!(headers(pods, false), ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]);
        assert_eq!(row(pods, &running_pod(), false, now()), ["kubia", "1/1", "Running", "0", "80m"]);
        assert_eq!(row(pods, &running_pod(), true, now())[5..], ["10.244.1.4", "minikube-m02", "<none>", "<none>"]);
    }

    #[test]
    fn pending_and_waiting_pods_show_their_reason() {
        let pods = lookup("pods").unwrap();
        let pending = json!({"metadata": {"name": "p"}, "spec": {"containers": [{"name": "a"}, {"name": "b"}]},
                             "status": {"phase": "Pending"}});
        assert_eq!(row(pods, &pending, false, now())[1..4], ["0/2", "Pending", "0"]);
        let creating = json!({"metadata": {"name": "p"}, "spec": {"containers": [{"name": "a"}]},
            "status": {"phase": "Pending", "containerStatuses": [
                {"name": "a", "ready": false, "restartCount": 0, "state": {"waiting": {"reason": "ContainerCreating"}}}]}});
        assert_eq!(row(pods, &creating, false, now())[2], "ContainerCreating");
    }

    #[test]
    fn restarts_show_when_they_last_happened() {
        let pods = lookup("pods").unwrap();
        let mut pod = running_pod();
        pod["status"]["containerStatuses"][0]["restartCount"] = json!(1);
        pod["status"]["containerStatuses"][0]["lastState"] =
            json!({"terminated": {"exitCode": 137, "finishedAt": "2021-10-27T09:56:26Z"}});
        assert_eq!(row(pods, &pod, false, now())[3], "1 (3m34s ago)");
    }

    #[test]
    fn container_reasons_become_the_status() {
        let pods = lookup("pods").unwrap();
        let with_state = |state: Value, restarts: i64, last: Value| {
            let mut pod = running_pod();
            pod["status"]["containerStatuses"][0]["ready"] = json!(false);
            pod["status"]["containerStatuses"][0]["state"] = state;
            pod["status"]["containerStatuses"][0]["restartCount"] = json!(restarts);
            pod["status"]["containerStatuses"][0]["lastState"] = last;
            pod
        };
        let waiting = |reason: &str| json!({"waiting": {"reason": reason}});
        for reason in ["CrashLoopBackOff", "ErrImagePull", "ImagePullBackOff", "ContainerCreating"] {
            assert_eq!(row(pods, &with_state(waiting(reason), 0, json!({})), false, now())[1..4], ["0/1", reason, "0"]);
        }
        let crashing = with_state(
            waiting("CrashLoopBackOff"),
            5,
            json!({"terminated": {"exitCode": 1, "reason": "Error", "finishedAt": "2021-10-27T09:59:55Z"}}),
        );
        assert_eq!(row(pods, &crashing, false, now())[2..4], ["CrashLoopBackOff", "5 (5s ago)"]);
        let failed = with_state(json!({"terminated": {"exitCode": 1, "reason": "Error"}}), 0, json!({}));
        assert_eq!(row(pods, &failed, false, now())[2], "Error");
        let killed = with_state(json!({"terminated": {"exitCode": 137, "signal": 9}}), 0, json!({}));
        assert_eq!(row(pods, &killed, false, now())[2], "Signal:9");
        let exited = with_state(json!({"terminated": {"exitCode": 2}}), 0, json!({}));
        assert_eq!(row(pods, &exited, false, now())[2], "ExitCode:2");
    }

    #[test]
    fn terminating_and_completed_pods() {
        let pods = lookup("pods").unwrap();
        let mut pod = running_pod();
        pod["metadata"]["deletionTimestamp"] = json!("2021-10-27T09:59:00Z");
        assert_eq!(row(pods, &pod, false, now())[2], "Terminating");
        let done = json!({"metadata": {"name": "batch-job-hpkmk"}, "spec": {"containers": [{"name": "main"}]},
            "status": {"phase": "Succeeded", "containerStatuses": [
                {"name": "main", "ready": false, "restartCount": 0, "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}}]}});
        assert_eq!(row(pods, &done, false, now())[1..3], ["0/1", "Completed"]);
    }

    #[test]
    fn init_containers_show_progress() {
        let pods = lookup("pods").unwrap();
        let pod = json!({"metadata": {"name": "p"},
            "spec": {"initContainers": [{"name": "i1"}, {"name": "i2"}], "containers": [{"name": "a"}]},
            "status": {"phase": "Pending", "initContainerStatuses": [
                {"name": "i1", "restartCount": 0, "state": {"terminated": {"exitCode": 0}}},
                {"name": "i2", "restartCount": 0, "state": {"running": {}}}]}});
        assert_eq!(row(pods, &pod, false, now())[2], "Init:1/2");
    }

    #[test]
    fn node_rows_have_status_and_roles() {
        let nodes = lookup("nodes").unwrap();
        let node = json!({"metadata": {"name": "minikube", "creationTimestamp": "2021-10-26T15:00:00Z",
                "labels": {"node-role.kubernetes.io/control-plane": "", "node-role.kubernetes.io/master": ""}},
            "spec": {"unschedulable": true},
            "status": {"conditions": [{"type": "Ready", "status": "True"}], "nodeInfo": {"kubeletVersion": "v1.20.7"},
                       "addresses": [{"type": "InternalIP", "address": "192.168.49.2"}]}});
        assert_eq!(
            row(nodes, &node, true, now()),
            [
                "minikube",
                "Ready,SchedulingDisabled",
                "control-plane,master",
                "19h",
                "v1.20.7",
                "192.168.49.2",
                "<none>",
                "<unknown>",
                "<unknown>",
                "<unknown>"
            ]
        );
        let bare =
            json!({"metadata": {"name": "m03"}, "status": {"conditions": [{"type": "Ready", "status": "False"}]}});
        assert_eq!(row(nodes, &bare, false, now())[1..3], ["NotReady", "<none>"]);
        // A node whose kubelet stopped reporting: the node controller sets Ready to Unknown.
        let lost =
            json!({"metadata": {"name": "m02"}, "status": {"conditions": [{"type": "Ready", "status": "Unknown"}]}});
        assert_eq!(row(nodes, &lost, false, now())[1], "NotReady");
        let unreported = json!({"metadata": {"name": "m04"}, "spec": {"unschedulable": true}});
        assert_eq!(row(nodes, &unreported, false, now())[1], "Unknown,SchedulingDisabled");
    }

    #[test]
    fn workload_rows() {
        let rc = json!({"metadata": {"name": "kubia", "creationTimestamp": "2021-10-27T09:59:25Z"},
            "spec": {"replicas": 3, "selector": {"app": "kubia"},
                     "template": {"spec": {"containers": [{"name": "kubia", "image": "luksa/kubia"}]}}},
            "status": {"replicas": 3, "readyReplicas": 2}});
        assert_eq!(
            row(lookup("rc").unwrap(), &rc, true, now()),
            ["kubia", "3", "3", "2", "35s", "kubia", "luksa/kubia", "app=kubia"]
        );
        let ds = json!({"metadata": {"name": "ssd-monitor", "creationTimestamp": "2021-10-27T09:59:25Z"},
            "spec": {"selector": {"matchLabels": {"app": "ssd-monitor"}},
                     "template": {"spec": {"nodeSelector": {"disk": "ssd"}, "containers": [{"name": "main"}]}}},
            "status": {}});
        assert_eq!(
            row(lookup("ds").unwrap(), &ds, false, now()),
            ["ssd-monitor", "0", "0", "0", "0", "0", "disk=ssd", "35s"]
        );
        let deploy = json!({"metadata": {"name": "kubia"}, "spec": {"replicas": 3},
                            "status": {"readyReplicas": 1, "updatedReplicas": 3, "availableReplicas": 1}});
        assert_eq!(row(lookup("deploy").unwrap(), &deploy, false, now())[1..4], ["1/3", "3", "1"]);
    }

    #[test]
    fn job_and_cronjob_rows() {
        let job = json!({"metadata": {"name": "batch-job"},
            "spec": {"completions": 5, "parallelism": 2},
            "status": {"succeeded": 5, "startTime": "2021-10-27T09:50:00Z", "completionTime": "2021-10-27T09:52:00Z",
                       "conditions": [{"type": "Complete", "status": "True"}]}});
        assert_eq!(row(lookup("jobs").unwrap(), &job, false, now())[1..4], ["Complete", "5/5", "2m"]);
        let running = json!({"metadata": {"name": "j"}, "spec": {"parallelism": 2}, "status": {}});
        assert_eq!(row(lookup("jobs").unwrap(), &running, false, now())[1..4], ["Running", "0/1 of 2", ""]);
        let cj = json!({"metadata": {"name": "c"}, "spec": {"schedule": "0,15,30,45 * * * *", "suspend": false},
                        "status": {"lastScheduleTime": "2021-10-27T09:45:00Z", "active": [{}]}});
        assert_eq!(
            row(lookup("cj").unwrap(), &cj, false, now())[1..6],
            ["0,15,30,45 * * * *", "<none>", "False", "1", "15m"]
        );
    }

    #[test]
    fn service_rows() {
        let svc = json!({"metadata": {"name": "kubia-http"},
            "spec": {"type": "LoadBalancer", "clusterIP": "10.101.223.38",
                     "ports": [{"port": 8080, "nodePort": 32161, "protocol": "TCP"}], "selector": {"run": "kubia"}}});
        assert_eq!(
            row(lookup("svc").unwrap(), &svc, true, now())[1..],
            ["LoadBalancer", "10.101.223.38", "<pending>", "8080:32161/TCP", "<unknown>", "run=kubia"]
        );
        let lb = json!({"metadata": {"name": "lb"}, "spec": {"type": "LoadBalancer", "clusterIP": "10.96.4.5"},
            "status": {"loadBalancer": {"ingress": [{"ip": "10.244.0.4"}, {"ip": "10.244.0.3"}, {"ip": "10.244.0.5"}]}}});
        assert_eq!(row(lookup("svc").unwrap(), &lb, false, now())[3], "10.244.0.3,10.244.0.4,10.244.0.5");
        let k = json!({"metadata": {"name": "kubernetes"},
            "spec": {"type": "ClusterIP", "clusterIP": "10.96.0.1", "ports": [{"port": 443, "protocol": "TCP"}]}});
        assert_eq!(
            row(lookup("svc").unwrap(), &k, false, now())[1..5],
            ["ClusterIP", "10.96.0.1", "<none>", "443/TCP"]
        );
    }

    #[test]
    fn endpoints_are_capped_at_three() {
        let ep = json!({"metadata": {"name": "kubia"}, "subsets": [{
            "addresses": [{"ip": "10.0.0.1"}, {"ip": "10.0.0.2"}, {"ip": "10.0.0.3"}, {"ip": "10.0.0.4"}],
            "ports": [{"port": 8080}]}]});
        assert_eq!(
            row(lookup("ep").unwrap(), &ep, false, now())[1],
            "10.0.0.1:8080,10.0.0.2:8080,10.0.0.3:8080 + 1 more..."
        );
        let empty = json!({"metadata": {"name": "x"}});
        assert_eq!(row(lookup("ep").unwrap(), &empty, false, now())[1], "<none>");
    }

    #[test]
    fn event_rows() {
        let ev = json!({"metadata": {"name": "kubia.1"}, "type": "Normal", "reason": "Scheduled",
            "message": "Successfully assigned default/kubia to minikube ",
            "involvedObject": {"kind": "Pod", "name": "kubia"},
            "firstTimestamp": "2021-10-27T09:59:50Z", "lastTimestamp": "2021-10-27T09:59:50Z"});
        let events = lookup("events").unwrap();
        assert_eq!(
            row(events, &ev, false, now()),
            ["10s", "Normal", "Scheduled", "pod/kubia", "Successfully assigned default/kubia to minikube"]
        );
        assert_eq!(headers(events, true).len(), row(events, &ev, true, now()).len());
    }

    #[test]
    fn selectors_print_like_kubernetes() {
        let sel = json!({"matchLabels": {"app": "kubia"},
            "matchExpressions": [{"key": "env", "operator": "In", "values": ["prod", "dev"]},
                                 {"key": "gpu", "operator": "DoesNotExist"}]});
        // A LabelSelector, and the plain map a ReplicationController selects with.
        assert_eq!(label_selector_string(Some(&decode(&sel).unwrap())), "app=kubia,env in (dev,prod),!gpu");
        assert_eq!(format_map(Some(&[("app".to_string(), "kubia".to_string())].into())), "app=kubia");
        assert_eq!(label_selector_string(None), "<none>");
    }

    #[test]
    fn kinds_without_a_printer_get_name_and_age() {
        let ns = lookup("leases").unwrap();
        assert_eq!(headers(ns, false), ["NAME", "HOLDER", "AGE"]);
        let binding = lookup("bindings").unwrap();
        assert_eq!(headers(binding, true), ["NAME", "AGE"]);
    }
}
