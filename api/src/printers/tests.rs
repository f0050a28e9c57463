//! Each kind's columns against kube-apiserver's (pkg/printers/internalversion
//! AddHandlers: name, type, priority), one row's cells as the Table carries
//! them, and the Table's own shape.

use super::*;
use crate::registry::lookup;
use serde_json::json;

fn now() -> Timestamp {
    "2021-10-27T10:00:00Z".parse().unwrap()
}

/// (name, type, priority) of each column of the kind, as the Table defines them.
fn defs(resource: &str) -> Vec<(String, String, u64)> {
    let t = table(lookup(resource).unwrap(), &[], IncludeObject::None, now(), "", "");
    t["columnDefinitions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (c["name"].as_str().unwrap().into(), c["type"].as_str().unwrap().into(), c["priority"].as_u64().unwrap())
        })
        .collect()
}

fn expect(cols: &[(&str, &str, u64)]) -> Vec<(String, String, u64)> {
    cols.iter().map(|(n, t, p)| (n.to_string(), t.to_string(), *p)).collect()
}

/// The cells of `obj`'s row in its Table.
fn row(resource: &str, obj: Value) -> Value {
    let t = table(lookup(resource).unwrap(), &[obj], IncludeObject::None, now(), "", "");
    t["rows"][0]["cells"].clone()
}

const CREATED: &str = "2021-10-27T09:59:25Z";

#[test]
fn pod_columns_and_row() {
    assert_eq!(
        defs("pods"),
        expect(&[
            ("Name", "string", 0),
            ("Ready", "string", 0),
            ("Status", "string", 0),
            ("Restarts", "string", 0),
            ("Age", "string", 0),
            ("IP", "string", 1),
            ("Node", "string", 1),
            ("Nominated Node", "string", 1),
            ("Readiness Gates", "string", 1),
        ])
    );
    let pod = json!({
        "metadata": {"name": "kubia", "creationTimestamp": "2021-10-27T08:40:00Z"},
        "spec": {"nodeName": "minikube-m02", "containers": [{"name": "kubia", "image": "luksa/kubia"}]},
        "status": {"phase": "Running", "podIP": "10.244.1.4", "podIPs": [{"ip": "10.244.1.4"}],
                   "conditions": [{"type": "Ready", "status": "True"}],
                   "containerStatuses": [{"name": "kubia", "ready": true, "restartCount": 2,
                                          "lastState": {"terminated": {"exitCode": 1, "finishedAt": "2021-10-27T09:55:00Z"}},
                                          "state": {"running": {"startedAt": "2021-10-27T09:55:01Z"}}}]}
    });
    assert_eq!(
        row("pods", pod),
        json!(["kubia", "1/1", "Running", "2 (5m ago)", "80m", "10.244.1.4", "minikube-m02", "<none>", "<none>"])
    );
}

#[test]
fn finished_pods_rows_are_completed() {
    let pods = lookup("pods").unwrap();
    let done = json!({"metadata": {"name": "job-x"}, "spec": {"containers": [{"name": "main"}]},
                      "status": {"phase": "Succeeded"}});
    let t = table(pods, &[done], IncludeObject::None, now(), "", "");
    assert_eq!(
        t["rows"][0]["conditions"],
        json!([{"type": "Completed", "status": "True", "reason": "Succeeded",
                "message": "The pod has completed successfully."}])
    );
    let running = json!({"metadata": {"name": "p"}, "status": {"phase": "Running"}});
    let t = table(pods, &[running], IncludeObject::None, now(), "", "");
    assert!(t["rows"][0].get("conditions").is_none());
}

#[test]
fn replication_controller_columns_and_row() {
    assert_eq!(
        defs("rc"),
        expect(&[
            ("Name", "string", 0),
            ("Desired", "integer", 0),
            ("Current", "integer", 0),
            ("Ready", "integer", 0),
            ("Age", "string", 0),
            ("Containers", "string", 1),
            ("Images", "string", 1),
            ("Selector", "string", 1),
        ])
    );
    let rc = json!({"metadata": {"name": "kubia", "creationTimestamp": CREATED},
        "spec": {"replicas": 3, "selector": {"app": "kubia"},
                 "template": {"spec": {"containers": [{"name": "kubia", "image": "luksa/kubia"}]}}},
        "status": {"replicas": 3, "readyReplicas": 2}});
    assert_eq!(row("rc", rc), json!(["kubia", 3, 3, 2, "35s", "kubia", "luksa/kubia", "app=kubia"]));
}

#[test]
fn replica_set_columns_and_row() {
    assert_eq!(
        defs("rs"),
        expect(&[
            ("Name", "string", 0),
            ("Desired", "integer", 0),
            ("Current", "integer", 0),
            ("Ready", "integer", 0),
            ("Age", "string", 0),
            ("Containers", "string", 1),
            ("Images", "string", 1),
            ("Selector", "string", 1),
        ])
    );
    let rs = json!({"metadata": {"name": "kubia-5d9c", "creationTimestamp": CREATED},
        "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "kubia"},
                 "matchExpressions": [{"key": "env", "operator": "In", "values": ["prod", "dev"]}]},
                 "template": {"spec": {"containers": [{"name": "a", "image": "x"}, {"name": "b", "image": "y"}]}}},
        "status": {"replicas": 2}});
    assert_eq!(row("rs", rs), json!(["kubia-5d9c", 2, 2, 0, "35s", "a,b", "x,y", "app=kubia,env in (dev,prod)"]));
}

#[test]
fn daemon_set_columns_and_row() {
    assert_eq!(
        defs("ds"),
        expect(&[
            ("Name", "string", 0),
            ("Desired", "integer", 0),
            ("Current", "integer", 0),
            ("Ready", "integer", 0),
            ("Up-to-date", "integer", 0),
            ("Available", "integer", 0),
            ("Node Selector", "string", 0),
            ("Age", "string", 0),
            ("Containers", "string", 1),
            ("Images", "string", 1),
            ("Selector", "string", 1),
        ])
    );
    let ds = json!({"metadata": {"name": "ssd-monitor", "creationTimestamp": CREATED},
        "spec": {"selector": {"matchLabels": {"app": "ssd-monitor"}},
                 "template": {"spec": {"nodeSelector": {"disk": "ssd"}, "containers": [{"name": "main", "image": "busybox"}]}}},
        "status": {"desiredNumberScheduled": 2, "currentNumberScheduled": 2, "numberReady": 1,
                   "updatedNumberScheduled": 2, "numberAvailable": 1, "numberMisscheduled": 0}});
    assert_eq!(
        row("ds", ds),
        json!(["ssd-monitor", 2, 2, 1, 2, 1, "disk=ssd", "35s", "main", "busybox", "app=ssd-monitor"])
    );
}

#[test]
fn deployment_columns_and_row() {
    assert_eq!(
        defs("deploy"),
        expect(&[
            ("Name", "string", 0),
            ("Ready", "string", 0),
            ("Up-to-date", "string", 0),
            ("Available", "string", 0),
            ("Age", "string", 0),
            ("Containers", "string", 1),
            ("Images", "string", 1),
            ("Selector", "string", 1),
        ])
    );
    let deploy = json!({"metadata": {"name": "kubia", "creationTimestamp": CREATED},
        "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "kubia"}},
                 "template": {"spec": {"containers": [{"name": "nodejs", "image": "luksa/kubia:v1"}]}}},
        "status": {"readyReplicas": 1, "updatedReplicas": 3, "availableReplicas": 1}});
    // Up-to-date and Available are numbers in the cells, as Kubernetes' printer sends them.
    assert_eq!(row("deploy", deploy), json!(["kubia", "1/3", 3, 1, "35s", "nodejs", "luksa/kubia:v1", "app=kubia"]));
}

#[test]
fn job_columns_and_row() {
    assert_eq!(
        defs("jobs"),
        expect(&[
            ("Name", "string", 0),
            ("Status", "string", 0),
            ("Completions", "string", 0),
            ("Duration", "string", 0),
            ("Age", "string", 0),
            ("Containers", "string", 1),
            ("Images", "string", 1),
            ("Selector", "string", 1),
        ])
    );
    let job = json!({"metadata": {"name": "batch-job", "creationTimestamp": "2021-10-27T09:49:00Z"},
        "spec": {"completions": 5, "parallelism": 2, "selector": {"matchLabels": {"app": "batch-job"}},
                 "template": {"spec": {"containers": [{"name": "main", "image": "luksa/batch-job"}]}}},
        "status": {"succeeded": 5, "startTime": "2021-10-27T09:50:00Z", "completionTime": "2021-10-27T09:52:00Z",
                   "conditions": [{"type": "Complete", "status": "True"}]}});
    assert_eq!(
        row("jobs", job),
        json!(["batch-job", "Complete", "5/5", "2m", "11m", "main", "luksa/batch-job", "app=batch-job"])
    );
}

#[test]
fn cron_job_columns_and_row() {
    assert_eq!(
        defs("cj"),
        expect(&[
            ("Name", "string", 0),
            ("Schedule", "string", 0),
            ("Timezone", "string", 0),
            ("Suspend", "boolean", 0),
            ("Active", "integer", 0),
            ("Last Schedule", "string", 0),
            ("Age", "string", 0),
            ("Containers", "string", 1),
            ("Images", "string", 1),
            ("Selector", "string", 1),
        ])
    );
    let cj = json!({"metadata": {"name": "batch-job-every-fifteen-minutes", "creationTimestamp": "2021-10-27T09:00:00Z"},
        "spec": {"schedule": "0,15,30,45 * * * *", "suspend": false, "jobTemplate": {"spec": {"template": {"spec": {
                 "containers": [{"name": "main", "image": "luksa/batch-job"}]}}}}},
        "status": {"lastScheduleTime": "2021-10-27T09:45:00Z", "active": [{"name": "j1"}]}});
    // Suspend is text though its column says boolean, as Kubernetes' printBoolPtr gives it.
    assert_eq!(
        row("cj", cj),
        json!([
            "batch-job-every-fifteen-minutes",
            "0,15,30,45 * * * *",
            "<none>",
            "False",
            1,
            "15m",
            "60m",
            "main",
            "luksa/batch-job",
            "<none>"
        ])
    );
}

#[test]
fn service_columns_and_row() {
    assert_eq!(
        defs("svc"),
        expect(&[
            ("Name", "string", 0),
            ("Type", "string", 0),
            ("Cluster-IP", "string", 0),
            ("External-IP", "string", 0),
            ("Port(s)", "string", 0),
            ("Age", "string", 0),
            ("Selector", "string", 1),
        ])
    );
    let svc = json!({"metadata": {"name": "kubia-http", "creationTimestamp": CREATED},
        "spec": {"type": "LoadBalancer", "clusterIP": "10.101.223.38", "clusterIPs": ["10.101.223.38"],
                 "ports": [{"port": 8080, "nodePort": 32161, "protocol": "TCP"}], "selector": {"run": "kubia"}},
        "status": {"loadBalancer": {"ingress": [{"ip": "192.168.49.200"}, {"hostname": "kubia.example.com"}]}}});
    assert_eq!(
        row("svc", svc),
        json!([
            "kubia-http",
            "LoadBalancer",
            "10.101.223.38",
            "192.168.49.200,kubia.example.com",
            "8080:32161/TCP",
            "35s",
            "run=kubia"
        ])
    );
}

#[test]
fn endpoints_columns_and_row() {
    assert_eq!(defs("ep"), expect(&[("Name", "string", 0), ("Endpoints", "string", 0), ("Age", "string", 0)]));
    let ep = json!({"metadata": {"name": "kubia", "creationTimestamp": CREATED}, "subsets": [{
        "addresses": [{"ip": "10.0.0.1"}, {"ip": "10.0.0.2"}, {"ip": "10.0.0.3"}, {"ip": "10.0.0.4"}],
        "ports": [{"port": 8080}]}]});
    assert_eq!(row("ep", ep), json!(["kubia", "10.0.0.1:8080,10.0.0.2:8080,10.0.0.3:8080 + 1 more...", "35s"]));
}

#[test]
fn node_columns_and_row() {
    assert_eq!(
        defs("nodes"),
        expect(&[
            ("Name", "string", 0),
            ("Status", "string", 0),
            ("Roles", "string", 0),
            ("Age", "string", 0),
            ("Version", "string", 0),
            ("Internal-IP", "string", 1),
            ("External-IP", "string", 1),
            ("OS-Image", "string", 1),
            ("Kernel-Version", "string", 1),
            ("Container-Runtime", "string", 1),
        ])
    );
    let node = json!({"metadata": {"name": "minikube", "creationTimestamp": "2021-10-26T15:00:00Z",
            "labels": {"node-role.kubernetes.io/control-plane": "", "node-role.kubernetes.io/master": ""}},
        "spec": {"unschedulable": true},
        "status": {"conditions": [{"type": "Ready", "status": "True"}],
                   "nodeInfo": {"kubeletVersion": "v1.20.7", "osImage": "Ubuntu 20.04.2 LTS", "kernelVersion": "5.10.0",
                                "containerRuntimeVersion": "docker://20.10.6", "machineID": "", "systemUUID": "",
                                "bootID": "", "kubeProxyVersion": "", "operatingSystem": "linux", "architecture": "amd64"},
                   "addresses": [{"type": "InternalIP", "address": "192.168.49.2"}]}});
    assert_eq!(
        row("nodes", node),
        json!([
            "minikube",
            "Ready,SchedulingDisabled",
            "control-plane,master",
            "19h",
            "v1.20.7",
            "192.168.49.2",
            "<none>",
            "Ubuntu 20.04.2 LTS",
            "5.10.0",
            "docker://20.10.6"
        ])
    );
}

#[test]
fn event_columns_and_row() {
    assert_eq!(
        defs("events"),
        expect(&[
            ("Last Seen", "string", 0),
            ("Type", "string", 0),
            ("Reason", "string", 0),
            ("Object", "string", 0),
            ("Subobject", "string", 1),
            ("Source", "string", 1),
            ("Message", "string", 0),
            ("First Seen", "string", 1),
            ("Count", "string", 1),
            ("Name", "string", 1),
        ])
    );
    let ev = json!({"metadata": {"name": "kubia.16b1"}, "type": "Normal", "reason": "Pulled",
        "message": "Container image \"luksa/kubia\" already present on machine ",
        "involvedObject": {"kind": "Pod", "name": "kubia", "fieldPath": "spec.containers{kubia}"},
        "source": {"component": "kubelet", "host": "minikube"}, "count": 3,
        "firstTimestamp": "2021-10-27T09:50:00Z", "lastTimestamp": "2021-10-27T09:59:50Z"});
    assert_eq!(
        row("events", ev),
        json!([
            "10s",
            "Normal",
            "Pulled",
            "pod/kubia",
            "spec.containers{kubia}",
            "kubelet, minikube",
            "Container image \"luksa/kubia\" already present on machine",
            "10m",
            3,
            "kubia.16b1"
        ])
    );
    // An event written through events.k8s.io names its reporter, not a source.
    let new_style = json!({"metadata": {"name": "e"}, "involvedObject": {"kind": "Node", "name": "m02"},
        "eventTime": "2021-10-27T09:59:00.000000Z", "reportingComponent": "node-controller",
        "reportingInstance": "cm-1"});
    let cells = row("events", new_style);
    assert_eq!((&cells[0], &cells[5], &cells[8]), (&json!("60s"), &json!("node-controller, cm-1"), &json!(1)));
}

#[test]
fn namespace_columns_and_row() {
    assert_eq!(defs("ns"), expect(&[("Name", "string", 0), ("Status", "string", 0), ("Age", "string", 0)]));
    let ns =
        json!({"metadata": {"name": "custom-namespace", "creationTimestamp": CREATED}, "status": {"phase": "Active"}});
    assert_eq!(row("ns", ns), json!(["custom-namespace", "Active", "35s"]));
}

#[test]
fn lease_columns_and_row() {
    assert_eq!(defs("leases"), expect(&[("Name", "string", 0), ("Holder", "string", 0), ("Age", "string", 0)]));
    let lease = json!({"metadata": {"name": "minikube", "namespace": "kube-node-lease", "creationTimestamp": CREATED},
                       "spec": {"holderIdentity": "minikube", "leaseDurationSeconds": 40}});
    assert_eq!(row("leases", lease), json!(["minikube", "minikube", "35s"]));
}

#[test]
fn config_map_columns_and_row_count_both_maps() {
    assert_eq!(defs("cm"), expect(&[("Name", "string", 0), ("Data", "string", 0), ("Age", "string", 0)]));
    let cm = json!({"metadata": {"name": "fortune-config", "namespace": "default", "creationTimestamp": CREATED},
                    "data": {"sleep-interval": "25", "my-nginx-config.conf": "server {}"}, "binaryData": {"b": "AA=="}});
    assert_eq!(row("configmaps", cm), json!(["fortune-config", 3, "35s"]));
    let empty = json!({"metadata": {"name": "e", "creationTimestamp": CREATED}});
    assert_eq!(row("cm", empty), json!(["e", 0, "35s"]));
}

#[test]
fn secret_columns_and_row() {
    assert_eq!(
        defs("secrets"),
        expect(&[("Name", "string", 0), ("Type", "string", 0), ("Data", "string", 0), ("Age", "string", 0)])
    );
    let tls = json!({"metadata": {"name": "fortune-https", "creationTimestamp": CREATED}, "type": "kubernetes.io/tls",
                     "data": {"tls.crt": "Yw==", "tls.key": "aw=="}});
    assert_eq!(row("secret", tls), json!(["fortune-https", "kubernetes.io/tls", 2, "35s"]));
}

#[test]
fn persistent_volume_columns_and_rows_bound_and_terminating() {
    let s = |n: &'static str| (n, "string", 0);
    assert_eq!(
        defs("pv"),
        expect(&[
            ("Name", "string", 0),
            s("Capacity"),
            s("Access Modes"),
            s("Reclaim Policy"),
            s("Status"),
            s("Claim"),
            s("StorageClass"),
            s("VolumeAttributesClass"),
            s("Reason"),
            s("Age"),
            ("VolumeMode", "string", 1),
        ])
    );
    let pv = json!({"metadata": {"name": "mongodb-pv", "creationTimestamp": CREATED},
                    "spec": {"capacity": {"storage": "1Gi"}, "accessModes": ["ReadOnlyMany", "ReadWriteOnce"],
                             "persistentVolumeReclaimPolicy": "Retain", "volumeMode": "Filesystem",
                             "claimRef": {"namespace": "default", "name": "mongodb-pvc"}, "hostPath": {"path": "/tmp/m"}},
                    "status": {"phase": "Bound"}});
    assert_eq!(
        row("persistentvolumes", pv.clone()),
        json!([
            "mongodb-pv",
            "1Gi",
            "RWO,ROX",
            "Retain",
            "Bound",
            "default/mongodb-pvc",
            "",
            "<unset>",
            "",
            "35s",
            "Filesystem"
        ])
    );
    let mut going = pv;
    going["metadata"]["deletionTimestamp"] = json!(CREATED);
    going["spec"]["accessModes"] = json!(["ReadWriteOncePod"]);
    assert_eq!(
        row("pv", going).as_array().unwrap()[2..5],
        json!(["RWOP", "Retain", "Terminating"]).as_array().unwrap()[..]
    );
}

#[test]
fn persistent_volume_claim_rows_show_capacity_and_modes_only_once_bound() {
    let s = |n: &'static str| (n, "string", 0);
    assert_eq!(
        defs("pvc"),
        expect(&[
            ("Name", "string", 0),
            s("Status"),
            s("Volume"),
            s("Capacity"),
            s("Access Modes"),
            s("StorageClass"),
            s("VolumeAttributesClass"),
            s("Age"),
            ("VolumeMode", "string", 1),
        ])
    );
    let pending = json!({"metadata": {"name": "mongodb-pvc", "namespace": "default", "creationTimestamp": CREATED},
                         "spec": {"resources": {"requests": {"storage": "1Gi"}}, "accessModes": ["ReadWriteOnce"],
                                  "storageClassName": "", "volumeMode": "Filesystem"},
                         "status": {"phase": "Pending"}});
    assert_eq!(
        row("pvc", pending.clone()),
        json!(["mongodb-pvc", "Pending", "", "", "", "", "<unset>", "35s", "Filesystem"])
    );
    let mut bound = pending;
    bound["spec"]["volumeName"] = json!("mongodb-pv");
    bound["status"] =
        json!({"phase": "Bound", "capacity": {"storage": "1024Mi"}, "accessModes": ["ReadWriteOnce", "ReadOnlyMany"]});
    assert_eq!(
        row("persistentvolumeclaims", bound),
        json!(["mongodb-pvc", "Bound", "mongodb-pv", "1Gi", "RWO,ROX", "", "<unset>", "35s", "Filesystem"])
    );
}

#[test]
fn storage_class_rows_mark_the_default_class() {
    let s = |n: &'static str| (n, "string", 0);
    assert_eq!(
        defs("sc"),
        expect(&[
            ("Name", "string", 0),
            s("Provisioner"),
            s("ReclaimPolicy"),
            s("VolumeBindingMode"),
            s("AllowVolumeExpansion"),
            s("Age"),
        ])
    );
    let standard = json!({"metadata": {"name": "standard", "creationTimestamp": CREATED,
                                       "annotations": {"storageclass.kubernetes.io/is-default-class": "true"}},
                          "provisioner": "kubelab.io/hostpath", "reclaimPolicy": "Delete", "volumeBindingMode": "Immediate"});
    assert_eq!(
        row("storageclasses", standard),
        json!(["standard (default)", "kubelab.io/hostpath", "Delete", "Immediate", false, "35s"])
    );
    let fast = json!({"metadata": {"name": "fast", "creationTimestamp": CREATED}, "provisioner": "p",
                      "volumeBindingMode": "WaitForFirstConsumer", "allowVolumeExpansion": true});
    assert_eq!(row("sc", fast), json!(["fast", "p", "Delete", "WaitForFirstConsumer", true, "35s"]));
}

#[test]
fn binding_gets_the_default_name_and_created_at() {
    assert_eq!(defs("bindings"), expect(&[("Name", "string", 0), ("Created At", "date", 0)]));
    let binding = json!({"metadata": {"name": "kubia", "creationTimestamp": CREATED}, "target": {"name": "m02"}});
    assert_eq!(row("bindings", binding), json!(["kubia", CREATED]));
    assert_eq!(row("bindings", json!({"metadata": {"name": "x"}})), json!(["x", "0001-01-01T00:00:00Z"]));
}

#[test]
fn every_served_kind_has_a_table_with_a_name_column() {
    for info in RESOURCES {
        let t = table(info, &[json!({"metadata": {"name": "n"}})], IncludeObject::None, now(), "", "");
        let defs = t["columnDefinitions"].as_array().unwrap();
        let cells = t["rows"][0]["cells"].as_array().unwrap();
        assert_eq!(defs.len(), cells.len(), "{}", info.kind);
        let name_at = defs.iter().position(|d| d["format"] == "name").unwrap();
        assert_eq!(cells[name_at], "n", "{}", info.kind);
    }
}

#[test]
fn column_definitions_carry_kubernetes_descriptions() {
    let t = table(lookup("pods").unwrap(), &[], IncludeObject::None, now(), "", "");
    let name = &t["columnDefinitions"][0];
    assert_eq!(name["format"], "name");
    assert!(name["description"].as_str().unwrap().starts_with("Name must be unique within a namespace."));
    let ready = &t["columnDefinitions"][1];
    assert_eq!(ready["format"], "");
    assert_eq!(ready["description"], "The aggregate readiness state of this pod for accepting traffic.");
    let ip = &t["columnDefinitions"][5];
    assert!(ip["description"].as_str().unwrap().starts_with("podIP address allocated to the pod."));
    assert_eq!(t["rows"], json!([]));
}

#[test]
fn rows_carry_the_object_as_asked() {
    let pods = lookup("pods").unwrap();
    let pod = json!({"metadata": {"name": "kubia", "namespace": "default", "resourceVersion": "42",
                                  "labels": {"app": "kubia"}},
                     "spec": {"containers": [{"name": "c"}]}});
    let object = |include| table(pods, std::slice::from_ref(&pod), include, now(), "42", "")["rows"][0].clone();
    assert_eq!(
        object(IncludeObject::Metadata)["object"],
        json!({"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": pod["metadata"]})
    );
    let full = object(IncludeObject::Object)["object"].clone();
    assert_eq!((&full["kind"], &full["apiVersion"]), (&json!("Pod"), &json!("v1")));
    assert_eq!(full["spec"], pod["spec"]);
    assert!(object(IncludeObject::None).get("object").is_none());
}

#[test]
fn table_metadata_has_resource_version_and_continue_when_set() {
    let ns = lookup("ns").unwrap();
    let t = table(ns, &[], IncludeObject::default(), now(), "1234", "eyJ2IjoibWV0YS5rOHMuaW8vdjEifQ");
    assert_eq!((&t["kind"], &t["apiVersion"]), (&json!("Table"), &json!("meta.k8s.io/v1")));
    assert_eq!(t["metadata"], json!({"resourceVersion": "1234", "continue": "eyJ2IjoibWV0YS5rOHMuaW8vdjEifQ"}));
    assert_eq!(table(ns, &[], IncludeObject::None, now(), "", "")["metadata"], json!({}));
}

#[test]
fn include_object_parses_kubernetes_spellings() {
    assert_eq!(IncludeObject::parse("None"), Some(IncludeObject::None));
    assert_eq!(IncludeObject::parse("Metadata"), Some(IncludeObject::Metadata));
    assert_eq!(IncludeObject::parse("Object"), Some(IncludeObject::Object));
    assert_eq!(IncludeObject::parse("object"), None);
    assert_eq!(IncludeObject::default(), IncludeObject::Metadata);
}

#[test]
fn objects_that_do_not_decode_show_their_name() {
    let pod = json!({"metadata": {"name": "odd"}, "spec": {"containers": "not-a-list"}});
    assert_eq!(row("pods", pod).as_array().unwrap()[0..3], [json!("odd"), json!("<unknown>"), json!("<unknown>")]);
    let ev = json!({"metadata": {"name": "odd-event"}, "count": "many"});
    assert_eq!(row("events", ev)[9], "odd-event");
}

/// Pods in the states the printer tells apart, as stored (no resourceVersion).
fn stored_pods() -> Vec<Value> {
    vec![
        json!({"apiVersion": "v1", "kind": "Pod",
               "metadata": {"name": "web-1", "namespace": "default", "uid": "u1", "creationTimestamp": CREATED,
                            "labels": {"app": "web", "tier": "front\"end"}, "annotations": {"note": "ünïcode \\ text"}},
               "spec": {"nodeName": "n1", "containers": [{"name": "web", "image": "nginx",
                        "resources": {"requests": {"cpu": 1, "memory": "1Gi"}}, "env": [{"name": "A", "value": "b"}]}],
                        "readinessGates": [{"conditionType": "example.com/ready"}]},
               "status": {"phase": "Running", "podIP": "10.0.0.1", "podIPs": [{"ip": "10.0.0.1"}],
                          "conditions": [{"type": "Ready", "status": "True"}, {"type": "example.com/ready", "status": "True"}],
                          "containerStatuses": [{"name": "web", "ready": true, "restartCount": 3, "image": "nginx",
                              "imageID": "", "state": {"running": {"startedAt": CREATED}},
                              "lastState": {"terminated": {"exitCode": 1, "finishedAt": "2021-10-27T09:59:50Z"}}}]}}),
        json!({"metadata": {"name": "done", "creationTimestamp": CREATED},
               "spec": {"containers": [{"name": "c"}]},
               "status": {"phase": "Succeeded", "containerStatuses": [{"name": "c", "ready": false, "restartCount": 0,
                   "image": "busybox", "imageID": "", "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}}]}}),
        json!({"metadata": {"name": "broken"}, "spec": {"containers": [{"name": "c"}]}, "status": {"phase": "Failed"}}),
        json!({"metadata": {"name": "init", "deletionTimestamp": CREATED},
               "spec": {"initContainers": [{"name": "side", "restartPolicy": "Always"}, {"name": "setup"}],
                        "containers": [{"name": "c"}]},
               "status": {"phase": "Pending", "initContainerStatuses": [{"name": "side", "ready": true, "started": true,
                   "restartCount": 1, "image": "x", "imageID": ""}, {"name": "setup", "ready": false, "restartCount": 0,
                   "image": "x", "imageID": "", "state": {"waiting": {"reason": "PodInitializing"}}}]}}),
        json!({"metadata": {}, "spec": {}}),
        json!({"metadata": {"name": "bare"}}),
        json!({"metadata": {"name": "odd"}, "spec": {"containers": "not-a-list"}}),
        json!({"metadata": {"name": "stamped", "resourceVersion": "5"}, "spec": {"containers": [{"name": "c"}]}}),
        json!({"metadata": {"name": "named-later", "creationTimestamp": 7}, "spec": {"containers": []}}),
        json!({"metadata": {"name": "no-image"}, "spec": {"containers": [{"name": "c"}]},
               "status": {"containerStatuses": [{"name": "c", "ready": true, "restartCount": 0, "imageID": ""}]}}),
        json!({"metadata": {"name": "crashing", "creationTimestamp": CREATED}, "spec": {"containers": [{"name": "c"}]},
               "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "False"}],
                          "containerStatuses": [{"name": "c", "ready": false, "restartCount": 5, "image": "x",
                              "imageID": "", "state": {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off"}},
                              "lastState": {"terminated": {"exitCode": 2, "signal": 9, "finishedAt": CREATED}}}]}}),
    ]
}

/// `table_raw` of stored bytes against `table` of the same objects decoded and stamped.
fn same_tables(resource: &str, stored: &[Value], include: IncludeObject) {
    let info = lookup(resource).unwrap();
    let bytes: Vec<Vec<u8>> = stored.iter().map(|o| serde_json::to_vec(o).unwrap()).collect();
    let objects: Vec<(&[u8], i64)> = bytes.iter().enumerate().map(|(i, b)| (&b[..], i as i64 * 7)).collect();
    let decoded: Vec<Value> = stored
        .iter()
        .zip(&objects)
        .map(|(o, &(_, rv))| {
            let mut o = o.clone();
            if rv > 0 {
                crate::meta::set_resource_version(&mut o, rv);
            }
            o
        })
        .collect();
    let raw = table_raw(info, &objects, include, now(), "99", "next").unwrap();
    let raw: Value = serde_json::from_slice(&raw).expect("table_raw writes JSON");
    let want = table(info, &decoded, include, now(), "99", "next");
    assert_eq!(raw, want, "{resource} with {include:?}");
}

#[test]
fn tables_from_stored_bytes_match_tables_of_decoded_objects() {
    for include in [IncludeObject::None, IncludeObject::Metadata, IncludeObject::Object] {
        same_tables("pods", &stored_pods(), include);
    }
    let ns = json!({"metadata": {"name": "default", "creationTimestamp": CREATED}, "status": {"phase": "Active"}});
    same_tables("namespaces", &[ns.clone(), ns], IncludeObject::Metadata);
    let binding = json!({"metadata": {"name": "b"}, "target": {"name": "n1"}});
    same_tables("bindings", &[binding], IncludeObject::Metadata);
    same_tables("pods", &[], IncludeObject::Metadata);
    let empty = table_raw(lookup("pods").unwrap(), &[], IncludeObject::None, now(), "", "").unwrap();
    assert_eq!(serde_json::from_slice::<Value>(&empty).unwrap()["metadata"], json!({}));
    let only_continue = table_raw(lookup("pods").unwrap(), &[], IncludeObject::None, now(), "", "c").unwrap();
    assert_eq!(serde_json::from_slice::<Value>(&only_continue).unwrap()["metadata"], json!({"continue": "c"}));
}

#[test]
fn stored_bytes_that_are_not_json_are_an_error() {
    let objects: [(&[u8], i64); 1] = [(b"{not json", 3)];
    assert!(table_raw(lookup("pods").unwrap(), &objects, IncludeObject::Metadata, now(), "3", "").is_err());
}

#[test]
fn stateful_set_columns_and_row() {
    assert_eq!(
        defs("sts"),
        expect(&[
            ("Name", "string", 0),
            ("Ready", "string", 0),
            ("Age", "string", 0),
            ("Containers", "string", 1),
            ("Images", "string", 1),
        ])
    );
    let sts = json!({"metadata": {"name": "kubia", "creationTimestamp": CREATED},
        "spec": {"replicas": 2, "serviceName": "kubia", "selector": {"matchLabels": {"app": "kubia"}},
                 "template": {"spec": {"containers": [{"name": "kubia", "image": "luksa/kubia-pet"}]}}},
        "status": {"replicas": 2, "readyReplicas": 1}});
    assert_eq!(row("sts", sts), json!(["kubia", "1/2", "35s", "kubia", "luksa/kubia-pet"]));
}

#[test]
fn controller_revision_columns_and_row() {
    assert_eq!(
        defs("controllerrevisions"),
        expect(&[("Name", "string", 0), ("Controller", "string", 0), ("Revision", "integer", 0), ("Age", "string", 0)])
    );
    let rev = json!({"metadata": {"name": "kubia-6d7f8b9c5", "creationTimestamp": CREATED,
        "ownerReferences": [{"apiVersion": "apps/v1", "kind": "StatefulSet", "name": "kubia", "uid": "u", "controller": true}]},
        "revision": 2});
    assert_eq!(row("controllerrevisions", rev), json!(["kubia-6d7f8b9c5", "statefulset.apps/kubia", 2, "35s"]));
}
