//! Times the server-side Table of 10,000 stored pods, built the general way
//! (each object decoded, a Value tree serialised) and from the stored bytes
//! (`printers::table_raw`), next to a JSON list's per-item stamping, which
//! the Table should not cost more than, and the Table of rows made before
//! (as the apiserver keeps them by resourceVersion). Run with
//! `cargo run --release -p api --example table_of_pods`.

use api::printers::{table, table_raw, write_table, IncludeObject, PreparedRow};
use serde_json::value::RawValue;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

const PODS: usize = 10_000;
const ROUNDS: usize = 15;

/// A pod as the apiserver stores it: the bench's pod, half of them running on a node.
fn stored_pod(i: usize) -> Vec<u8> {
    let mut pod = json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": format!("pod-{i:07}"), "namespace": "bench", "uid": "0b8e3f4c-7a51-4b9e-9f0d-2c6a1e5d8b73",
                     "creationTimestamp": "2026-01-01T00:00:00Z",
                     "labels": {"app": "kubia", "tier": "backend", "release": "stable", "pod-template-hash": "5d8f9c7b6d"}},
        "spec": {"containers": [{"name": "kubia", "image": "luksa/kubia:v1",
                    "ports": [{"name": "http", "containerPort": 8080, "protocol": "TCP"}],
                    "env": [{"name": "POD_NAME", "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.name"}}}],
                    "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}, "limits": {"cpu": "500m", "memory": "128Mi"}},
                    "readinessProbe": {"httpGet": {"path": "/", "port": 8080, "scheme": "HTTP"}, "initialDelaySeconds": 5,
                                       "timeoutSeconds": 1, "periodSeconds": 10, "successThreshold": 1, "failureThreshold": 3},
                    "terminationMessagePath": "/dev/termination-log", "terminationMessagePolicy": "File",
                    "imagePullPolicy": "IfNotPresent"}],
                 "restartPolicy": "Always", "terminationGracePeriodSeconds": 30, "dnsPolicy": "ClusterFirst",
                 "serviceAccountName": "default", "securityContext": {}, "schedulerName": "default-scheduler",
                 "tolerations": [{"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute",
                                  "tolerationSeconds": 300}],
                 "priority": 0, "enableServiceLinks": true, "preemptionPolicy": "PreemptLowerPriority"},
        "status": {"phase": "Pending", "qosClass": "Burstable"}
    });
    if i.is_multiple_of(2) {
        pod["spec"]["nodeName"] = json!("node-1");
        pod["status"] = json!({"phase": "Running", "qosClass": "Burstable", "podIP": "10.1.0.7",
            "podIPs": [{"ip": "10.1.0.7"}], "startTime": "2026-01-01T00:00:01Z",
            "conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": "2026-01-01T00:00:03Z"}],
            "containerStatuses": [{"name": "kubia", "ready": true, "started": true, "restartCount": 0,
                "image": "luksa/kubia:v1", "imageID": "docker://sha256:0123", "containerID": "docker://abc",
                "state": {"running": {"startedAt": "2026-01-01T00:00:02Z"}}}]});
    }
    serde_json::to_vec(&pod).unwrap()
}

/// What the JSON list costs per item: the top level and the metadata read,
/// the resourceVersion put in, the object written back.
fn stamp(stored: &[u8], rv: i64, out: &mut Vec<u8>) {
    let top: BTreeMap<String, &RawValue> = serde_json::from_slice(stored).unwrap();
    let mut metadata: Map<String, Value> = serde_json::from_str(top["metadata"].get()).unwrap();
    metadata.insert("resourceVersion".into(), rv.to_string().into());
    out.push(b'{');
    for (i, (key, value)) in top.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        serde_json::to_writer(&mut *out, key).unwrap();
        out.push(b':');
        if key == "metadata" {
            serde_json::to_writer(&mut *out, &metadata).unwrap();
        } else {
            out.extend_from_slice(value.get().as_bytes());
        }
    }
    out.push(b'}');
}

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

fn main() {
    let pods = api::registry::lookup("pods").unwrap();
    let stored: Vec<Vec<u8>> = (0..PODS).map(stored_pod).collect();
    let objects: Vec<(&[u8], i64)> = stored.iter().enumerate().map(|(i, b)| (&b[..], 1000 + i as i64)).collect();
    let now = "2026-01-01T01:00:00Z".parse().unwrap();
    let (mut general, mut raw, mut list, mut kept) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut sizes = (0, 0, 0);
    let prepared: Vec<PreparedRow> = stored.iter().map(|b| PreparedRow::new(pods, b).unwrap()).collect();
    for _ in 0..ROUNDS {
        let start = Instant::now();
        let decoded: Vec<Value> = objects
            .iter()
            .map(|&(b, rv)| {
                let mut obj: Value = serde_json::from_slice(b).unwrap();
                api::meta::set_resource_version(&mut obj, rv);
                obj
            })
            .collect();
        let body = serde_json::to_vec(&table(pods, &decoded, IncludeObject::Metadata, now, "20000", "")).unwrap();
        general.push(start.elapsed());
        sizes.0 = body.len();

        let start = Instant::now();
        let body = table_raw(pods, &objects, IncludeObject::Metadata, now, "20000", "").unwrap();
        raw.push(start.elapsed());
        sizes.1 = body.len();

        let start = Instant::now();
        let mut body = Vec::new();
        for &(b, rv) in &objects {
            stamp(b, rv, &mut body);
        }
        list.push(start.elapsed());
        sizes.2 = body.len();

        let start = Instant::now();
        let rows = prepared.iter().zip(&objects).map(|(row, &(_, rv))| (row, rv));
        let body = write_table(pods, rows, IncludeObject::Metadata, now, "20000", "");
        kept.push(start.elapsed());
        assert_eq!(body.len(), sizes.1, "the same Table");
    }
    println!("{PODS} pods, median of {ROUNDS} rounds:");
    println!("  Table, decoded objects:   {:>8.1?}  ({} bytes)", median(general), sizes.0);
    println!("  Table, from stored bytes: {:>8.1?}  ({} bytes)", median(raw), sizes.1);
    println!("  JSON list items stamped:  {:>8.1?}  ({} bytes)", median(list), sizes.2);
    println!("  Table of rows made before: {:>7.1?}", median(kept));
}
