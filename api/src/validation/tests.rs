//! Table tests for decoding, defaulting and validation: what users see.

use super::*;
use crate::registry::lookup;
use serde_json::json;

fn info(kind: &str) -> &'static ResourceInfo {
    crate::registry::RESOURCES.iter().find(|r| r.kind == kind).unwrap()
}

/// Runs the create path: decode check, defaults (with a server-assigned uid), validation.
fn create(obj: Value) -> Result<Value> {
    let kind = obj["kind"].as_str().unwrap().to_string();
    let info = info(&kind);
    decode_check(info, &obj)?;
    let mut obj = obj;
    if info.namespaced && obj["metadata"].get("namespace").is_none() {
        obj["metadata"]["namespace"] = json!("default");
    }
    obj["metadata"]["uid"] = json!("6b1e3c2a-0000-4000-8000-000000000001");
    apply_defaults(info, &mut obj)?;
    validate(info, &obj, None)?;
    Ok(obj)
}

fn err(obj: Value) -> String {
    create(obj).map(|o| panic!("expected an error, got {o:#}")).unwrap_err().message
}

fn kubia_pod() -> Value {
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "kubia-manual"},
           "spec": {"containers": [{"image": "luksa/kubia", "name": "kubia",
                                    "ports": [{"containerPort": 8080, "protocol": "TCP"}]}]}})
}

fn kubia_rc() -> Value {
    json!({"apiVersion": "v1", "kind": "ReplicationController", "metadata": {"name": "kubia"},
           "spec": {"replicas": 3, "selector": {"app": "kubia"},
                    "template": {"metadata": {"labels": {"app": "kubia"}},
                                 "spec": {"containers": [{"name": "kubia", "image": "luksa/kubia",
                                                          "ports": [{"containerPort": 8080}]}]}}}})
}

fn deployment() -> Value {
    json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "kubia"},
           "spec": {"selector": {"matchLabels": {"app": "kubia"}},
                    "template": {"metadata": {"labels": {"app": "kubia"}},
                                 "spec": {"containers": [{"name": "nodejs", "image": "luksa/kubia:v1"}]}}}})
}

fn job() -> Value {
    json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "batch-job"},
           "spec": {"template": {"metadata": {"labels": {"app": "batch-job"}},
                                 "spec": {"restartPolicy": "OnFailure",
                                          "containers": [{"name": "main", "image": "luksa/batch-job"}]}}}})
}

fn cron_job(schedule: &str) -> Value {
    json!({"apiVersion": "batch/v1beta1", "kind": "CronJob", "metadata": {"name": "batch-job-every-fifteen-minutes"},
           "spec": {"schedule": schedule,
                    "jobTemplate": {"spec": {"template": {"metadata": {"labels": {"app": "periodic-batch-job"}},
                        "spec": {"restartPolicy": "OnFailure",
                                 "containers": [{"name": "main", "image": "luksa/batch-job"}]}}}}}})
}

/// The parent of the value at a JSON pointer, and the value's key (unescaped).
fn split_pointer(pointer: &str) -> (&str, String) {
    let (parent, key) = pointer.rsplit_once('/').unwrap();
    (parent, key.replace("~1", "/").replace("~0", "~"))
}

fn with(mut v: Value, pointer: &str, value: Value) -> Value {
    let (parent, key) = split_pointer(pointer);
    let target = v.pointer_mut(parent).unwrap_or_else(|| panic!("no {parent}"));
    if let Ok(i) = key.parse::<usize>() {
        let list = target.as_array_mut().unwrap();
        if i == list.len() {
            list.push(value);
        } else {
            list[i] = value;
        }
    } else {
        target[key] = value;
    }
    v
}

fn without(mut v: Value, pointer: &str) -> Value {
    let (parent, key) = split_pointer(pointer);
    v.pointer_mut(parent).unwrap().as_object_mut().unwrap().remove(&key);
    v
}

const SUBDOMAIN: &str = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or \
                         '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used \
                         for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";

#[test]
fn the_books_objects_pass() {
    for obj in [kubia_pod(), kubia_rc(), deployment(), job(), cron_job("0,15,30,45 * * * *")] {
        create(obj.clone()).unwrap_or_else(|e| panic!("{e}\n{obj:#}"));
    }
    let svc = json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "kubia"},
                     "spec": {"ports": [{"port": 80, "targetPort": 8080}], "selector": {"app": "kubia"}}});
    create(svc).unwrap();
    let ns = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "custom-namespace"}});
    create(ns).unwrap();
    let ds = json!({"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "ssd-monitor"},
                    "spec": {"selector": {"matchLabels": {"app": "ssd-monitor"}},
                             "template": {"metadata": {"labels": {"app": "ssd-monitor"}},
                                          "spec": {"nodeSelector": {"disk": "ssd"},
                                                   "containers": [{"name": "main", "image": "luksa/ssd-monitor"}]}}}});
    create(ds).unwrap();
}

#[test]
fn bad_objects_fail_with_kubernetes_messages() {
    let table: Vec<(Value, String)> = vec![
        (
            with(kubia_pod(), "/metadata/name", json!("Foo_Bar")),
            format!(r#"Pod "Foo_Bar" is invalid: metadata.name: Invalid value: "Foo_Bar": {SUBDOMAIN}"#),
        ),
        (
            without(kubia_pod(), "/metadata/name"),
            r#"Pod "" is invalid: metadata.name: Required value: name or generateName is required"#.into(),
        ),
        (
            with(kubia_pod(), "/spec/containers", json!([])),
            r#"Pod "kubia-manual" is invalid: spec.containers: Required value"#.into(),
        ),
        (
            with(kubia_pod(), "/spec/containers/0/ports/0/containerPort", json!(70000)),
            r#"Pod "kubia-manual" is invalid: spec.containers[0].ports[0].containerPort: Invalid value: 70000: must be between 1 and 65535, inclusive"#.into(),
        ),
        (
            with(kubia_pod(), "/spec/containers/0/ports/0/protocol", json!("HTTP")),
            r#"Pod "kubia-manual" is invalid: spec.containers[0].ports[0].protocol: Unsupported value: "HTTP": supported values: "SCTP", "TCP", "UDP""#.into(),
        ),
        (
            with(kubia_pod(), "/spec/containers/1", json!({"name": "kubia", "image": ""})),
            r#"Pod "kubia-manual" is invalid: [spec.containers[1].image: Required value, spec.containers[1].name: Duplicate value: "kubia"]"#.into(),
        ),
        (
            with(kubia_pod(), "/spec/containers/0/volumeMounts", json!([{"name": "html", "mountPath": "/var/htdocs"}])),
            r#"Pod "kubia-manual" is invalid: spec.containers[0].volumeMounts[0].name: Not found: "html""#.into(),
        ),
        (
            with(
                with(kubia_pod(), "/spec/volumes", json!([{"name": "html", "emptyDir": {}}])),
                "/spec/containers/0/volumeMounts",
                json!([{"name": "html", "mountPath": "/a", "subPath": "../etc"},
                       {"name": "html", "mountPath": "/a", "subPath": "/abs"}]),
            ),
            r#"Pod "kubia-manual" is invalid: [spec.containers[0].volumeMounts.subPath: Invalid value: "../etc": must not contain '..', spec.containers[0].volumeMounts[1].mountPath: Invalid value: "/a": must be unique, spec.containers[0].volumeMounts.subPath: Invalid value: "/abs": must be a relative path]"#.into(),
        ),
        (
            with(kubia_pod(), "/spec/volumes", json!([{"name": "data", "hostPath": {"path": "/data", "type": "Folder"}}])),
            r#"Pod "kubia-manual" is invalid: spec.volumes[0].hostPath.type: Unsupported value: "Folder": supported values: "", "BlockDevice", "CharDevice", "Directory", "DirectoryOrCreate", "File", "FileOrCreate", "Socket""#.into(),
        ),
        (
            with(
                kubia_pod(),
                "/spec/volumes",
                json!([{"name": "a", "gitRepo": {"repository": ""}},
                       {"name": "b", "gitRepo": {"repository": "https://h/r.git", "directory": "../up"}},
                       {"name": "c", "gitRepo": {"repository": "https://h/r.git", "directory": "/abs"}}]),
            ),
            r#"Pod "kubia-manual" is invalid: [spec.volumes[0].gitRepo.repository: Required value, spec.volumes[1].gitRepo.directory: Invalid value: "../up": must not contain '..', spec.volumes[2].gitRepo.directory: Invalid value: "/abs": must be a relative path]"#.into(),
        ),
        (
            with(kubia_pod(), "/spec/restartPolicy", json!("Sometimes")),
            r#"Pod "kubia-manual" is invalid: spec.restartPolicy: Unsupported value: "Sometimes": supported values: "Always", "OnFailure", "Never""#.into(),
        ),
        (
            with(kubia_pod(), "/spec/dnsPolicy", json!("Google")),
            r#"Pod "kubia-manual" is invalid: spec.dnsPolicy: Unsupported value: "Google": supported values: "ClusterFirstWithHostNet", "ClusterFirst", "Default", "None""#.into(),
        ),
        (
            with(kubia_pod(), "/metadata/labels", json!({"app": "kubia!", "-x": "y"})),
            "Pod \"kubia-manual\" is invalid: [metadata.labels: Invalid value: \"-x\": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]'), metadata.labels: Invalid value: \"kubia!\": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')]".into(),
        ),
        (
            with(kubia_pod(), "/metadata/annotations", json!({"big": "x".repeat(TOTAL_ANNOTATION_SIZE_LIMIT)})),
            r#"Pod "kubia-manual" is invalid: metadata.annotations: Too long: may not be more than 262144 bytes"#.into(),
        ),
        (
            with(kubia_pod(), "/spec/containers/0/livenessProbe", json!({"httpGet": {"port": 8080}, "exec": {"command": ["true"]}, "initialDelaySeconds": -1})),
            r#"Pod "kubia-manual" is invalid: [spec.containers[0].livenessProbe.httpGet: Forbidden: may not specify more than 1 handler type, spec.containers[0].livenessProbe.initialDelaySeconds: Invalid value: -1: must be greater than or equal to 0]"#.into(),
        ),
        (
            with(kubia_pod(), "/spec/containers/0/readinessProbe", json!({"periodSeconds": 5})),
            r#"Pod "kubia-manual" is invalid: spec.containers[0].readinessProbe: Required value: must specify a handler type"#.into(),
        ),
        (
            with(kubia_pod(), "/spec/containers/0/resources", json!({"requests": {"cpu": "2"}, "limits": {"cpu": "1"}})),
            r#"Pod "kubia-manual" is invalid: spec.containers[0].resources.requests: Invalid value: "2": must be less than or equal to cpu limit of 1"#.into(),
        ),
        (
            with(kubia_pod(), "/spec/containers/0/resources", json!({"requests": {"cpu": "-0.5", "gpu": "1"}})),
            r#"Pod "kubia-manual" is invalid: [spec.containers[0].resources.requests[cpu]: Invalid value: "-0.5": must be greater than or equal to 0, spec.containers[0].resources.requests[gpu]: Invalid value: "gpu": must be a standard resource for containers]"#.into(),
        ),
        (
            with(kubia_pod(), "/spec/nodeSelector", json!({"disk": "ssd!"})),
            "Pod \"kubia-manual\" is invalid: spec.nodeSelector: Invalid value: \"ssd!\": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')".into(),
        ),
        (
            with(kubia_pod(), "/spec/tolerations", json!([{"operator": "Equal", "value": "x"}])),
            r#"Pod "kubia-manual" is invalid: spec.tolerations[0].operator: Invalid value: "Equal": operator must be Exists when `key` is empty, which means "match all values and all keys""#.into(),
        ),
        (
            with(kubia_pod(), "/spec/containers/0/env", json!([{"name": "A=B", "value": "x"}])),
            r#"Pod "kubia-manual" is invalid: spec.containers[0].env[0].name: Invalid value: "A=B": a valid environment variable name must consist only of printable ASCII characters other than '='"#.into(),
        ),
        (
            with(kubia_rc(), "/spec/template/metadata/labels", json!({"app": "kubia-v2"})),
            r#"ReplicationController "kubia" is invalid: spec.template.metadata.labels: Invalid value: map[string]string{"app":"kubia-v2"}: `selector` does not match template `labels`"#.into(),
        ),
        (
            with(kubia_rc(), "/spec/template/spec/restartPolicy", json!("OnFailure")),
            r#"ReplicationController "kubia" is invalid: spec.template.spec.restartPolicy: Unsupported value: "OnFailure": supported values: "Always""#.into(),
        ),
        (
            with(kubia_rc(), "/spec/replicas", json!(-1)),
            r#"ReplicationController "kubia" is invalid: spec.replicas: Invalid value: -1: must be greater than or equal to 0"#.into(),
        ),
        (
            without(deployment(), "/spec/selector"),
            r#"Deployment "kubia" is invalid: [spec.selector: Required value, spec.template.metadata.labels: Invalid value: map[string]string{"app":"kubia"}: `selector` does not match template `labels`]"#.into(),
        ),
        (
            with(deployment(), "/spec/selector", json!({})),
            r#"Deployment "kubia" is invalid: spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string(nil), MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: empty selector is invalid for deployment"#.into(),
        ),
        (
            with(job(), "/spec/template/spec/restartPolicy", json!("Always")),
            r#"Job "batch-job" is invalid: spec.template.spec.restartPolicy: Required value: valid values: "OnFailure", "Never""#.into(),
        ),
        (
            with(job(), "/spec/backoffLimit", json!(-2)),
            r#"Job "batch-job" is invalid: spec.backoffLimit: Invalid value: -2: must be greater than or equal to 0"#.into(),
        ),
        (
            cron_job("x"),
            r#"CronJob "batch-job-every-fifteen-minutes" is invalid: spec.schedule: Invalid value: "x": expected exactly 5 fields, found 1: [x]"#.into(),
        ),
        (
            cron_job("0 0 32 * *"),
            r#"CronJob "batch-job-every-fifteen-minutes" is invalid: spec.schedule: Invalid value: "0 0 32 * *": end of range (32) above maximum (31): 32"#.into(),
        ),
        (
            json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "kubia.svc"},
                   "spec": {"type": "Fancy", "ports": [{"port": 80, "nodePort": 30001}, {"port": 0, "name": "b", "targetPort": "Not_A_Name"}]}}),
            "Service \"kubia.svc\" is invalid: [metadata.name: Invalid value: \"kubia.svc\": a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?'), spec.ports[0].name: Required value, spec.ports[1].port: Invalid value: 0: must be between 1 and 65535, inclusive, spec.ports[1].targetPort: Invalid value: \"Not_A_Name\": must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-), spec.type: Unsupported value: \"Fancy\": supported values: \"ClusterIP\", \"ExternalName\", \"LoadBalancer\", \"NodePort\"]".into(),
        ),
        (
            json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "kubia"}, "spec": {"ports": [{"port": 80, "nodePort": 30123}]}}),
            r#"Service "kubia" is invalid: spec.ports[0].nodePort: Forbidden: may not be used when `type` is 'ClusterIP'"#.into(),
        ),
        (
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "a.b"}}),
            r#"Namespace "a.b" is invalid: metadata.name: Invalid value: "a.b": must not contain dots"#.into(),
        ),
    ];
    for (obj, want) in table {
        assert_eq!(err(obj.clone()), want, "{obj:#}");
    }
}

#[test]
fn strict_decoding_names_the_field() {
    let bad = with(kubia_pod(), "/spec/containers/0/imagee", json!("x"));
    assert_eq!(
        err(bad),
        r#"Pod in version "v1" cannot be handled as a Pod: strict decoding error: unknown field "spec.containers[0].imagee""#
    );
    let two = with(with(kubia_pod(), "/spec/foo", json!(1)), "/metadata/labelz", json!({}));
    assert_eq!(
        err(two),
        r#"Pod in version "v1" cannot be handled as a Pod: strict decoding error: unknown field "metadata.labelz", unknown field "spec.foo""#
    );
    let wrong = with(kubia_pod(), "/spec/containers/0/ports/0/containerPort", json!("x"));
    assert_eq!(
        err(wrong),
        r#"Pod in version "v1" cannot be handled as a Pod: spec.containers[0].ports[0].containerPort: invalid type: string "x", expected i32"#
    );
    let q = with(kubia_pod(), "/spec/containers/0/resources", json!({"limits": {"memory": "lots"}}));
    assert_eq!(
        err(q),
        r#"Pod in version "v1" cannot be handled as a Pod: quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"#
    );
    let d = with(deployment(), "/spec/replicas", json!("three"));
    assert!(err(d).starts_with(
        r#"Deployment in version "v1" cannot be handled as a Deployment: spec.replicas: invalid type: string "three""#
    ));
    let pods = lookup("pods").unwrap();
    let e = decode_check(pods, &json!({"apiVersion": "v1", "metadata": {}})).unwrap_err();
    assert_eq!(e.message, r#"Object 'Kind' is missing in '{"apiVersion":"v1","metadata":{}}'"#);
}

#[test]
fn pod_defaults_match_kubectl_get_o_yaml() {
    let pod = create(kubia_pod()).unwrap();
    let spec = &pod["spec"];
    assert_eq!(spec["restartPolicy"], "Always");
    assert_eq!(spec["dnsPolicy"], "ClusterFirst");
    assert_eq!(spec["schedulerName"], "default-scheduler");
    assert_eq!(spec["terminationGracePeriodSeconds"], 30);
    assert_eq!(spec["securityContext"], json!({}));
    assert_eq!(spec["enableServiceLinks"], true);
    assert_eq!(spec["preemptionPolicy"], "PreemptLowerPriority");
    assert_eq!(spec["priority"], 0);
    assert_eq!(
        spec["tolerations"],
        json!([
            {"effect": "NoExecute", "key": "node.kubernetes.io/not-ready", "operator": "Exists", "tolerationSeconds": 300},
            {"effect": "NoExecute", "key": "node.kubernetes.io/unreachable", "operator": "Exists", "tolerationSeconds": 300}
        ])
    );
    let c = &spec["containers"][0];
    assert_eq!(c["imagePullPolicy"], "Always");
    assert_eq!(c["terminationMessagePath"], "/dev/termination-log");
    assert_eq!(c["terminationMessagePolicy"], "File");
    assert_eq!(c["resources"], json!({}));
    assert_eq!(c["ports"][0]["protocol"], "TCP");
    assert!(!crate::codec::to_yaml(&pod).contains("null"));

    for (image, policy) in [
        ("luksa/kubia", "Always"),
        ("luksa/kubia:latest", "Always"),
        ("luksa/kubia:v1", "IfNotPresent"),
        ("localhost:5000/kubia", "Always"),
        ("localhost:5000/kubia:v2", "IfNotPresent"),
        ("busybox@sha256:abc", "IfNotPresent"),
    ] {
        assert_eq!(pull_policy(image), policy, "{image}");
    }

    let probed = with(
        kubia_pod(),
        "/spec/containers/0/livenessProbe",
        json!({"httpGet": {"port": 8080}, "initialDelaySeconds": 15}),
    );
    let probed = with(
        probed,
        "/spec/tolerations",
        json!([{"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 10}]),
    );
    let probed = with(probed, "/spec/containers/0/resources", json!({"limits": {"cpu": "100m"}}));
    let pod = create(probed).unwrap();
    assert_eq!(
        pod["spec"]["containers"][0]["livenessProbe"],
        json!({"httpGet": {"path": "/", "port": 8080, "scheme": "HTTP"}, "initialDelaySeconds": 15,
               "timeoutSeconds": 1, "periodSeconds": 10, "successThreshold": 1, "failureThreshold": 3})
    );
    assert_eq!(pod["spec"]["tolerations"].as_array().unwrap().len(), 2, "user's unreachable toleration kept");
    assert_eq!(pod["spec"]["tolerations"][0]["tolerationSeconds"], 10);
    assert_eq!(pod["spec"]["containers"][0]["resources"]["requests"], json!({"cpu": "100m"}));
}

#[test]
fn workload_defaults() {
    let rc = create(without(without(kubia_rc(), "/spec/selector"), "/spec/replicas")).unwrap();
    assert_eq!(rc["spec"]["selector"], json!({"app": "kubia"}));
    assert_eq!(rc["metadata"]["labels"], json!({"app": "kubia"}));
    assert_eq!(rc["spec"]["replicas"], 1);
    let tpl = &rc["spec"]["template"]["spec"];
    assert_eq!(tpl["restartPolicy"], "Always");
    assert!(tpl.get("enableServiceLinks").is_none() && tpl.get("tolerations").is_none(), "pod-only defaults");
    assert_eq!(tpl["containers"][0]["imagePullPolicy"], "Always");

    let d = create(deployment()).unwrap();
    assert_eq!(d["spec"]["replicas"], 1);
    assert_eq!(
        d["spec"]["strategy"],
        json!({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}})
    );
    assert_eq!(d["spec"]["revisionHistoryLimit"], 10);
    assert_eq!(d["spec"]["progressDeadlineSeconds"], 600);
    assert_eq!(d["spec"]["template"]["spec"]["containers"][0]["imagePullPolicy"], "IfNotPresent");

    let ds = json!({"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "d"},
                    "spec": {"selector": {"matchLabels": {"a": "b"}}, "template": {"metadata": {"labels": {"a": "b"}},
                             "spec": {"containers": [{"name": "m", "image": "i"}]}}}});
    let ds = create(ds).unwrap();
    assert_eq!(
        ds["spec"]["updateStrategy"],
        json!({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 0, "maxUnavailable": 1}})
    );
    assert_eq!(ds["spec"]["revisionHistoryLimit"], 10);
    assert!(ds["spec"].get("replicas").is_none());

    let uid = "6b1e3c2a-0000-4000-8000-000000000001";
    let j = create(job()).unwrap();
    let spec = &j["spec"];
    assert_eq!((spec["completions"].clone(), spec["parallelism"].clone()), (json!(1), json!(1)));
    assert_eq!(spec["backoffLimit"], 6);
    assert_eq!(spec["completionMode"], "NonIndexed");
    assert_eq!(spec["suspend"], false);
    assert_eq!(spec["podReplacementPolicy"], "TerminatingOrFailed");
    assert_eq!(spec["selector"], json!({"matchLabels": {"batch.kubernetes.io/controller-uid": uid}}));
    assert_eq!(
        spec["template"]["metadata"]["labels"],
        json!({"app": "batch-job", "batch.kubernetes.io/controller-uid": uid, "batch.kubernetes.io/job-name": "batch-job",
               "controller-uid": uid, "job-name": "batch-job"})
    );
    assert_eq!(j["metadata"]["labels"], json!({"app": "batch-job"}));
    assert!(spec.get("manualSelector").is_none());
    let parallel = create(with(job(), "/spec/parallelism", json!(2))).unwrap();
    assert!(parallel["spec"].get("completions").is_none(), "completions stays unset when parallelism is set");

    let cj = create(cron_job("*/15 * * * *")).unwrap();
    assert_eq!(cj["apiVersion"], "batch/v1beta1", "conversion is the server's job");
    let spec = &cj["spec"];
    assert_eq!(spec["concurrencyPolicy"], "Allow");
    assert_eq!(spec["suspend"], false);
    assert_eq!(spec["successfulJobsHistoryLimit"], 3);
    assert_eq!(spec["failedJobsHistoryLimit"], 1);
    assert!(spec["jobTemplate"]["spec"].get("backoffLimit").is_none());
    assert_eq!(spec["jobTemplate"]["spec"]["template"]["spec"]["dnsPolicy"], "ClusterFirst");
}

#[test]
fn service_and_namespace_defaults() {
    let svc = json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "kubia"},
                     "spec": {"ports": [{"port": 80}, {"port": 443, "targetPort": "https", "name": "https"}], "selector": {"app": "kubia"}}});
    let svc = with(svc, "/spec/ports/0/name", json!("http"));
    let svc = create(svc).unwrap();
    assert_eq!(svc["spec"]["type"], "ClusterIP");
    assert_eq!(svc["spec"]["sessionAffinity"], "None");
    assert_eq!(svc["spec"]["internalTrafficPolicy"], "Cluster");
    assert_eq!(svc["spec"]["ports"][0], json!({"name": "http", "port": 80, "protocol": "TCP", "targetPort": 80}));
    assert_eq!(svc["spec"]["ports"][1]["targetPort"], "https");
    assert!(svc["spec"].get("externalTrafficPolicy").is_none());
    let np = json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "np"},
                    "spec": {"type": "NodePort", "ports": [{"port": 80, "nodePort": 30123}]}});
    assert_eq!(create(np).unwrap()["spec"]["externalTrafficPolicy"], "Cluster");

    let ns = create(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "custom"}})).unwrap();
    assert_eq!(ns["spec"]["finalizers"], json!(["kubernetes"]));
    assert_eq!(ns["metadata"]["labels"], json!({"kubernetes.io/metadata.name": "custom"}));
    assert_eq!(ns["status"]["phase"], "Active");
}

#[test]
fn service_cluster_ip_fields_are_checked_as_kubernetes_does() {
    let svc = |spec: Value| {
        let mut spec = spec;
        spec["ports"] = json!([{"port": 80}]);
        json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"}, "spec": spec})
    };
    let table = [
        (
            json!({"clusterIP": "10.96.0.5", "clusterIPs": ["10.96.0.6"]}),
            r#"Service "s" is invalid: spec.clusterIPs: Invalid value: []string{"10.96.0.6"}: first value must match `clusterIP`"#,
        ),
        (
            json!({"clusterIPs": ["10.96.0.6"]}),
            r#"Service "s" is invalid: spec.clusterIPs: Invalid value: []string{"10.96.0.6"}: must be empty when `clusterIP` is not specified"#,
        ),
        (
            json!({"clusterIP": "10.96.0", "clusterIPs": ["10.96.0"]}),
            r#"Service "s" is invalid: spec.clusterIPs[0]: Invalid value: "10.96.0": must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"#,
        ),
        (
            json!({"type": "LoadBalancer", "clusterIP": "None", "clusterIPs": ["None"]}),
            r#"Service "s" is invalid: spec.clusterIPs[0]: Invalid value: "None": may not be set to 'None' for LoadBalancer services"#,
        ),
        (
            json!({"type": "ExternalName", "externalName": "example.com", "clusterIP": "10.96.0.5", "clusterIPs": ["10.96.0.5"], "ipFamilyPolicy": "SingleStack"}),
            r#"Service "s" is invalid: [spec.clusterIPs: Forbidden: may not be set for ExternalName services, spec.ipFamilyPolicy: Forbidden: may not be set for ExternalName services]"#,
        ),
        (
            json!({"clusterIP": "10.96.0.5", "clusterIPs": ["10.96.0.5"], "ipFamilies": ["IPv6"], "ipFamilyPolicy": "Sometimes"}),
            r#"Service "s" is invalid: [spec.ipFamilyPolicy: Unsupported value: "Sometimes": supported values: "PreferDualStack", "RequireDualStack", "SingleStack", spec.clusterIPs[0]: Invalid value: "10.96.0.5": expected an IPv6 value as indicated by `ipFamilies[0]`]"#,
        ),
    ];
    for (spec, want) in table {
        assert_eq!(err(svc(spec.clone())), want, "{spec:#}");
    }
    // The node port range is the allocator's to check (it is a server flag).
    let high = json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"},
                      "spec": {"type": "NodePort", "ports": [{"port": 80, "nodePort": 40000}]}});
    assert!(create(high).is_ok());
}

#[test]
fn a_service_cluster_ip_never_changes_once_set() {
    let info = info("Service");
    let svc = |ip: &str| {
        let mut s = create(json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"},
                                  "spec": {"ports": [{"port": 80}]}}))
        .unwrap();
        s["spec"]["clusterIP"] = json!(ip);
        s["spec"]["clusterIPs"] = json!([ip]);
        s
    };
    let old = svc("10.96.0.5");
    assert!(validate(info, &svc("10.96.0.5"), Some(&old)).is_ok());
    assert_eq!(
        validate(info, &svc("10.96.0.6"), Some(&old)).unwrap_err().message,
        r#"Service "s" is invalid: spec.clusterIPs[0]: Invalid value: []string{"10.96.0.6"}: may not change once set"#
    );
    let mut unset = old.clone();
    unset["spec"].as_object_mut().unwrap().remove("clusterIPs");
    unset["spec"].as_object_mut().unwrap().remove("clusterIP");
    assert_eq!(
        validate(info, &unset, Some(&old)).unwrap_err().message,
        r#"Service "s" is invalid: spec.clusterIPs[0]: Invalid value: []string(nil): primary clusterIP can not be unset"#
    );
    // To and from ExternalName the address comes and goes.
    let mut external = unset.clone();
    external["spec"]["type"] = json!("ExternalName");
    external["spec"]["externalName"] = json!("example.com");
    external["spec"].as_object_mut().unwrap().remove("internalTrafficPolicy");
    assert!(validate(info, &external, Some(&old)).is_ok());
}

#[test]
fn updates_follow_kubernetes_rules() {
    let pods = info("Pod");
    let old = create(kubia_pod()).unwrap();
    let new_image = with(old.clone(), "/spec/containers/0/image", json!("luksa/kubia:v2"));
    validate(pods, &new_image, Some(&old)).unwrap();
    let new_port = with(old.clone(), "/spec/containers/0/ports/0/containerPort", json!(8081));
    assert_eq!(
        validate(pods, &new_port, Some(&old)).unwrap_err().message,
        "Pod \"kubia-manual\" is invalid: spec: Forbidden: pod updates may not change fields other than \
         `spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` \
         (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it \
         was previously negative)"
    );
    let mut more = old["spec"]["tolerations"].as_array().unwrap().clone();
    more.push(json!({"key": "k", "operator": "Exists"}));
    validate(pods, &with(old.clone(), "/spec/tolerations", json!(more)), Some(&old)).unwrap();
    let renamed = with(new_image.clone(), "/metadata/name", json!("other"));
    assert_eq!(
        validate(pods, &renamed, Some(&old)).unwrap_err().message,
        r#"Pod "other" is invalid: metadata.name: Invalid value: "other": field is immutable"#
    );

    let rs = info("ReplicaSet");
    let old = create(with(with(deployment(), "/kind", json!("ReplicaSet")), "/metadata/name", json!("kubia"))).unwrap();
    let new = with(old.clone(), "/spec/selector/matchLabels", json!({"app": "kubia", "rel": "beta"}));
    let new = with(new, "/spec/template/metadata/labels/rel", json!("beta"));
    assert_eq!(
        validate(rs, &new, Some(&old)).unwrap_err().message,
        r#"ReplicaSet "kubia" is invalid: spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string{"app":"kubia", "rel":"beta"}, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: field is immutable"#
    );
    let scaled = with(old.clone(), "/spec/replicas", json!(5));
    validate(rs, &scaled, Some(&old)).unwrap();

    let jobs = info("Job");
    let old = create(job()).unwrap();
    let new = with(old.clone(), "/spec/template/spec/containers/0/image", json!("other"));
    let msg = validate(jobs, &new, Some(&old)).unwrap_err().message;
    assert!(msg.starts_with(r#"Job "batch-job" is invalid: spec.template: Invalid value: "#), "{msg}");
    assert!(msg.ends_with(": field is immutable"), "{msg}");
}

#[test]
fn cluster_and_plumbing_kinds_validate_their_metadata() {
    let node = json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "node1", "labels": {"disk": "ssd"}},
                      "status": {"capacity": {"cpu": "2", "pods": "110"}}});
    let node = create(node).unwrap();
    assert_eq!(node["status"]["allocatable"], json!({"cpu": "2", "pods": "110"}));
    let lease = json!({"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": {"name": "node1"},
                       "spec": {"holderIdentity": "node1", "leaseDurationSeconds": 40}});
    create(lease).unwrap();
    let ep = json!({"apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": "kubia"},
                    "subsets": [{"addresses": [{"ip": "10.0.0.1"}], "ports": [{"port": 8080}]}]});
    assert_eq!(create(ep).unwrap()["subsets"][0]["ports"][0]["protocol"], "TCP");
    let ev = json!({"apiVersion": "v1", "kind": "Event", "metadata": {"name": "kubia.1", "namespace": "default"},
                    "involvedObject": {"kind": "Pod", "name": "kubia", "namespace": "other"}, "reason": "Scheduled"});
    assert_eq!(
        err(ev),
        r#"Event "kubia.1" is invalid: involvedObject.namespace: Invalid value: "other": does not match event.namespace"#
    );
    let binding = json!({"apiVersion": "v1", "kind": "Binding", "metadata": {"name": "kubia"},
                         "target": {"apiVersion": "v1", "kind": "Node", "name": ""}});
    assert_eq!(err(binding), r#"Binding "kubia" is invalid: target.name: Required value"#);
    let named = json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1", "namespace": "default"}});
    let nodes = info("Node");
    assert_eq!(
        validate(nodes, &named, None).unwrap_err().message,
        r#"Node "n1" is invalid: metadata.namespace: Forbidden: not allowed on this type"#
    );
}

/// Whether the object decodes as its kind's k8s-openapi type.
fn decodes(info: &ResourceInfo, obj: &Value) -> bool {
    with_kind_type!(info.kind, T => <T as serde::Deserialize>::deserialize(obj).is_ok(), _ => false)
}

/// The repo's manifests (the book's and the end-to-end suite's), each as sent
/// and as stored: defaulted, with the server's fields, pods with a status.
fn stored_and_sent_objects() -> Vec<(&'static ResourceInfo, Value)> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut out = vec![];
    for dir in ["deploy/manifests", "e2e/manifests"] {
        let mut files: Vec<_> = std::fs::read_dir(root.join(dir)).unwrap().map(|f| f.unwrap().path()).collect();
        files.sort();
        for file in files {
            let text = std::fs::read_to_string(&file).unwrap();
            // Each document as kubectl reads it (YAML 1.1), lists not yet flattened.
            for mut obj in crate::codec::yaml::documents(&text).unwrap() {
                let Ok(info) = crate::registry::by_kind(crate::meta::api_version(&obj), crate::meta::kind(&obj)) else {
                    continue; // apps/v1beta2: not served
                };
                // As decode_check sees it: in the served version.
                obj["apiVersion"] = info.api_version().into();
                out.push((info, obj.clone()));
                if let Ok(mut stored) = create(obj) {
                    stored["metadata"]["creationTimestamp"] = json!("2026-11-26T10:00:00Z");
                    stored["metadata"]["resourceVersion"] = json!("42");
                    if info.kind == "Pod" {
                        stored["status"] = pod_status();
                    }
                    out.push((info, stored));
                }
            }
        }
    }
    assert!(out.len() > 30, "only {} objects", out.len());
    out
}

fn pod_status() -> Value {
    json!({"phase": "Running", "hostIP": "10.244.0.3", "podIP": "10.244.0.9", "podIPs": [{"ip": "10.244.0.9"}],
           "startTime": "2026-11-26T10:00:01Z", "qosClass": "BestEffort",
           "conditions": [{"type": "Ready", "status": "True", "lastProbeTime": null,
                           "lastTransitionTime": "2026-11-26T10:00:03Z"}],
           "containerStatuses": [{"name": "kubia", "image": "luksa/kubia", "imageID": "docker://sha256:1",
                                  "containerID": "docker://abc", "ready": true, "started": true, "restartCount": 2,
                                  "state": {"running": {"startedAt": "2026-11-26T10:00:02Z"}},
                                  "lastState": {"terminated": {"exitCode": 137, "reason": "Error",
                                      "startedAt": "2026-11-26T09:59:00Z", "finishedAt": "2026-11-26T10:00:00Z"}}}]})
}

/// Every value in the object, by JSON pointer (the root aside).
fn pointers(v: &Value, at: String, out: &mut Vec<String>) {
    let children: Vec<(String, &Value)> = match v {
        Value::Object(m) => m.iter().map(|(k, c)| (k.replace('~', "~0").replace('/', "~1"), c)).collect(),
        Value::Array(items) => items.iter().enumerate().map(|(i, c)| (i.to_string(), c)).collect(),
        _ => vec![],
    };
    for (key, child) in children {
        let p = format!("{at}/{key}");
        out.push(p.clone());
        pointers(child, p, out);
    }
}

/// The schema walk lets the create path skip the typed decode, so it must never
/// call an object well typed that the decode refuses. Every value of every
/// object is swapped for values of other types (and removed): whenever the walk
/// still vouches for the result, the decode must take it.
#[test]
fn the_schema_walk_vouches_only_for_objects_that_decode() {
    let swaps = [
        json!(null),
        json!("x"),
        json!("2026-11-26T10:00:00Z"),
        json!(7),
        json!(-1),
        json!(3_000_000_000u64),
        json!(1.5),
        json!(true),
        json!({}),
        json!([]),
        json!(["x"]),
    ];
    let (mut vouched, mut tried) = (0, 0);
    for (info, obj) in stored_and_sent_objects() {
        assert!(schema::inspect(info, &obj).typed, "a real {} should need no typed decode: {obj:#}", info.kind);
        assert!(decodes(info, &obj), "{obj:#}");
        let mut all = vec![];
        pointers(&obj, String::new(), &mut all);
        for p in all {
            let mut variants: Vec<Value> = swaps.iter().map(|s| with(obj.clone(), &p, s.clone())).collect();
            if obj.pointer(split_pointer(&p).0).is_some_and(Value::is_object) {
                variants.push(without(obj.clone(), &p));
            }
            for v in variants {
                tried += 1;
                // As decode_check decides: it decodes in the served version, of the kind.
                let certain = v["kind"] == info.kind && v["apiVersion"] == info.api_version().as_str();
                if schema::inspect(info, &v).typed && certain {
                    vouched += 1;
                    assert!(decodes(info, &v), "vouched for a {} that does not decode ({p} changed): {v:#}", info.kind);
                }
            }
        }
    }
    // Most changes keep the object decodable (a string for a string, a removed
    // optional field); the walk must not give up on those either.
    assert!(vouched * 5 > tried, "vouched for {vouched} of {tried} changed objects");
}

fn stateful_set() -> Value {
    json!({"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "kubia"},
           "spec": {"serviceName": "kubia", "replicas": 2, "selector": {"matchLabels": {"app": "kubia"}},
                    "template": {"metadata": {"labels": {"app": "kubia"}},
                                 "spec": {"containers": [{"name": "kubia", "image": "luksa/kubia-pet",
                                          "volumeMounts": [{"name": "data", "mountPath": "/var/data"}]}]}},
                    "volumeClaimTemplates": [{"metadata": {"name": "data"},
                        "spec": {"resources": {"requests": {"storage": "1Mi"}}, "accessModes": ["ReadWriteOnce"]}}]}})
}

#[test]
fn a_statefulset_gets_kubernetes_defaults() {
    let sts = create(stateful_set()).unwrap();
    let spec = &sts["spec"];
    assert_eq!(spec["podManagementPolicy"], "OrderedReady");
    assert_eq!(spec["updateStrategy"], json!({"type": "RollingUpdate", "rollingUpdate": {"partition": 0}}));
    assert_eq!(spec["revisionHistoryLimit"], 10);
    assert_eq!(spec["replicas"], 2);
    assert_eq!(spec["persistentVolumeClaimRetentionPolicy"], json!({"whenDeleted": "Retain", "whenScaled": "Retain"}));
    assert_eq!(spec["volumeClaimTemplates"][0]["spec"]["volumeMode"], "Filesystem");
    assert_eq!(spec["volumeClaimTemplates"][0]["status"]["phase"], "Pending");
    assert_eq!(spec["template"]["spec"]["restartPolicy"], "Always");
    let mut one = stateful_set();
    one["spec"].as_object_mut().unwrap().remove("replicas");
    one["spec"]["updateStrategy"] = json!({"type": "OnDelete"});
    let one = create(one).unwrap();
    assert_eq!(one["spec"]["replicas"], 1);
    assert_eq!(one["spec"]["updateStrategy"], json!({"type": "OnDelete"}));
}

#[test]
fn a_statefulset_is_validated_as_kubernetes_does() {
    let mut no_selector = stateful_set();
    no_selector["spec"].as_object_mut().unwrap().remove("selector");
    assert!(err(no_selector).contains("spec.selector: Required value"));
    let mut mismatch = stateful_set();
    mismatch["spec"]["selector"]["matchLabels"]["app"] = json!("other");
    assert!(err(mismatch).contains("`selector` does not match template `labels`"));
    let mut policy = stateful_set();
    policy["spec"]["podManagementPolicy"] = json!("Sometimes");
    assert!(err(policy)
        .contains(r#"spec.podManagementPolicy: Invalid value: "Sometimes": must be 'OrderedReady' or 'Parallel'"#));
    let mut partition = stateful_set();
    partition["spec"]["updateStrategy"] = json!({"type": "RollingUpdate", "rollingUpdate": {"partition": -1}});
    assert!(err(partition).contains("spec.updateStrategy.rollingUpdate.partition: Invalid value: -1"));
    let mut on_delete = stateful_set();
    on_delete["spec"]["updateStrategy"] = json!({"type": "OnDelete", "rollingUpdate": {"partition": 1}});
    assert!(err(on_delete).contains("only allowed for updateStrategy 'RollingUpdate'"));
    let mut never = stateful_set();
    never["spec"]["template"]["spec"]["restartPolicy"] = json!("Never");
    assert!(err(never).contains("spec.template.spec.restartPolicy: Unsupported value: \"Never\""));
}

#[test]
fn only_some_statefulset_fields_change_on_update() {
    let info = info("StatefulSet");
    let old = create(stateful_set()).unwrap();
    let mut scaled = old.clone();
    scaled["spec"]["replicas"] = json!(5);
    scaled["spec"]["template"]["spec"]["containers"][0]["image"] = json!("luksa/kubia-pet:v2");
    scaled["spec"]["updateStrategy"] = json!({"type": "OnDelete"});
    validate(info, &scaled, Some(&old)).unwrap();
    for (field, value) in [("serviceName", json!("other")), ("podManagementPolicy", json!("Parallel"))] {
        let mut changed = old.clone();
        changed["spec"][field] = value;
        let msg = validate(info, &changed, Some(&old)).unwrap_err().message;
        assert!(
            msg.contains(
                "spec: Forbidden: updates to statefulset spec for fields other than 'replicas', 'ordinals', \
                 'template', 'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' \
                 are forbidden"
            ),
            "{msg}"
        );
    }
}

fn mongodb_pv() -> Value {
    json!({"apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": "mongodb-pv"},
           "spec": {"capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce", "ReadOnlyMany"],
                    "hostPath": {"path": "/tmp/mongodb"}}})
}

fn mongodb_pvc() -> Value {
    json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "mongodb-pvc"},
           "spec": {"resources": {"requests": {"storage": "1Gi"}}, "accessModes": ["ReadWriteOnce"],
                    "storageClassName": ""}})
}

#[test]
fn persistent_volumes_default_to_retain_and_need_modes_capacity_and_one_source() {
    let pv = create(mongodb_pv()).unwrap();
    assert_eq!(pv["spec"]["persistentVolumeReclaimPolicy"], "Retain");
    assert_eq!(pv["spec"]["volumeMode"], "Filesystem");
    assert_eq!(pv["status"]["phase"], "Pending");

    let mut bare = mongodb_pv();
    bare["spec"] = json!({});
    assert_eq!(
        err(bare),
        "PersistentVolume \"mongodb-pv\" is invalid: [spec.accessModes: Required value: must specify at least 1 \
         access mode, spec.capacity: Required value, spec: Required value: must specify a volume type]"
    );
    let mut two = mongodb_pv();
    two["spec"]["nfs"] = json!({"server": "s", "path": "/p"});
    two["spec"]["accessModes"] = json!(["ReadWriteAll"]);
    two["spec"]["capacity"] = json!({"storage": "0"});
    assert_eq!(
        err(two),
        "PersistentVolume \"mongodb-pv\" is invalid: [spec.accessModes: Unsupported value: \"ReadWriteAll\": \
         supported values: \"ReadOnlyMany\", \"ReadWriteMany\", \"ReadWriteOnce\", \"ReadWriteOncePod\", \
         spec.capacity[storage]: Invalid value: \"0\": must be greater than zero, \
         spec.nfs: Forbidden: may not specify more than 1 volume type]"
    );
}

#[test]
fn claims_need_modes_and_a_storage_request() {
    let pvc = create(mongodb_pvc()).unwrap();
    assert_eq!(pvc["spec"]["volumeMode"], "Filesystem");
    assert_eq!(pvc["status"]["phase"], "Pending");
    let mut bare = mongodb_pvc();
    bare["spec"] = json!({"volumeMode": "Raw"});
    assert_eq!(
        err(bare),
        "PersistentVolumeClaim \"mongodb-pvc\" is invalid: [spec.accessModes: Required value: at least 1 access \
         mode is required, spec.resources[storage]: Required value, spec.volumeMode: Unsupported value: \"Raw\": \
         supported values: \"Block\", \"Filesystem\"]"
    );
}

#[test]
fn a_bound_claim_may_grow_but_not_change_class_and_an_unbound_one_may_not_grow() {
    let info = info("PersistentVolumeClaim");
    let old = create(mongodb_pvc()).unwrap();
    let mut bigger = old.clone();
    bigger["spec"]["resources"]["requests"]["storage"] = json!("2Gi");
    let msg = validate(info, &bigger, Some(&old)).unwrap_err().message;
    assert!(msg.contains("spec: Forbidden: spec is immutable after creation"), "{msg}");

    let mut bound = old.clone();
    bound["status"]["phase"] = json!("Bound");
    bigger["status"]["phase"] = json!("Bound");
    validate(info, &bigger, Some(&bound)).unwrap();
    let mut smaller = bound.clone();
    smaller["spec"]["resources"]["requests"]["storage"] = json!("512Mi");
    let msg = validate(info, &smaller, Some(&bound)).unwrap_err().message;
    assert!(
        msg.contains("spec.resources.requests.storage: Forbidden: field can not be less than previous value"),
        "{msg}"
    );
    let mut classed = bound.clone();
    classed["spec"]["storageClassName"] = json!("standard");
    assert!(validate(info, &classed, Some(&bound)).is_err(), "an empty class is a choice, not unset");
}

#[test]
fn storage_classes_need_a_provisioner_and_keep_their_parameters() {
    let sc = json!({"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass", "metadata": {"name": "fast"},
                    "provisioner": "kubelab.io/hostpath", "parameters": {"type": "pd-ssd"}});
    let created = create(sc.clone()).unwrap();
    assert_eq!(created["reclaimPolicy"], "Delete");
    assert_eq!(created["volumeBindingMode"], "Immediate");
    let mut none = sc;
    none.as_object_mut().unwrap().remove("provisioner");
    assert_eq!(err(none), "StorageClass \"fast\" is invalid: provisioner: Required value");
    let mut changed = created.clone();
    changed["parameters"]["type"] = json!("pd-standard");
    changed["volumeBindingMode"] = json!("WaitForFirstConsumer");
    assert_eq!(
        validate(info("StorageClass"), &changed, Some(&created)).unwrap_err().message,
        "StorageClass \"fast\" is invalid: [parameters: Forbidden: updates to parameters are forbidden., \
         volumeBindingMode: Invalid value: \"WaitForFirstConsumer\": field is immutable]"
    );
}
