//! The pod every scenario writes: the book's kubia pod as Kubernetes stores it
//! after defaulting (tolerations, probes, termination message, scheduler name,
//! ...), about 1.3 KB of JSON, so raw etcd puts and apiserver creates move
//! objects of the size a real cluster moves. Watch scenarios stamp each pod
//! with the time it was sent, in an annotation.

use serde_json::{json, Value};
use std::time::{SystemTime, UNIX_EPOCH};

/// The annotation holding a pod's send time, in nanoseconds since the Unix epoch.
pub const SENT_ANNOTATION: &str = "bench.kubelab.io/sent-unix-nanos";

/// A defaulted pod named `name` in `namespace`. The apiserver replaces the
/// server-owned fields (uid, creationTimestamp, status) with its own on create;
/// they are here so a raw etcd value is as large as what the apiserver stores.
pub fn pod(namespace: &str, name: &str) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "uid": "0b8e3f4c-7a51-4b9e-9f0d-2c6a1e5d8b73",
            "creationTimestamp": "2026-01-01T00:00:00Z",
            "labels": {"app": "kubia", "tier": "backend", "release": "stable", "pod-template-hash": "5d8f9c7b6d"}
        },
        "spec": {
            "containers": [{
                "name": "kubia",
                "image": "luksa/kubia:v1",
                "ports": [{"name": "http", "containerPort": 8080, "protocol": "TCP"}],
                "env": [{"name": "POD_NAME", "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.name"}}}],
                "resources": {
                    "requests": {"cpu": "100m", "memory": "64Mi"},
                    "limits": {"cpu": "500m", "memory": "128Mi"}
                },
                "readinessProbe": {
                    "httpGet": {"path": "/", "port": 8080, "scheme": "HTTP"},
                    "initialDelaySeconds": 5,
                    "timeoutSeconds": 1,
                    "periodSeconds": 10,
                    "successThreshold": 1,
                    "failureThreshold": 3
                },
                "terminationMessagePath": "/dev/termination-log",
                "terminationMessagePolicy": "File",
                "imagePullPolicy": "IfNotPresent"
            }],
            "restartPolicy": "Always",
            "terminationGracePeriodSeconds": 30,
            "dnsPolicy": "ClusterFirst",
            "serviceAccountName": "default",
            "securityContext": {},
            "schedulerName": "default-scheduler",
            "tolerations": [
                {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300},
                {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300}
            ],
            "priority": 0,
            "enableServiceLinks": true,
            "preemptionPolicy": "PreemptLowerPriority"
        },
        "status": {"phase": "Pending", "qosClass": "Burstable"}
    })
}

/// The pod's name for operation `n`: fixed width, so names sort as numbers do.
pub fn name(n: u64) -> String {
    format!("pod-{n:07}")
}

/// Nanoseconds since the Unix epoch, the clock both ends of a watch measurement read.
pub fn now_nanos() -> u64 {
    // Before 1970 only on a broken clock; after 2554 not at all.
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

/// Marks `pod` with its send time.
pub fn stamp(pod: &mut Value, sent_nanos: u64) {
    pod["metadata"]["annotations"] = json!({ SENT_ANNOTATION: sent_nanos.to_string() });
}

/// The send time a pod carries, if it was stamped.
pub fn sent_nanos(pod: &Value) -> Option<u64> {
    pod["metadata"]["annotations"][SENT_ANNOTATION].as_str()?.parse().ok()
}

/// The send time in a pod's JSON, found by a substring search for the
/// annotation's key (no JSON is parsed): what every watcher in the bench
/// does with each event, etcd's, gRPC's and HTTP's alike, so the reading
/// costs the same on each and as little as it can beside the delivery it
/// measures. The key is the bench's own and appears nowhere else in a pod.
pub fn sent_nanos_in(json: &[u8]) -> Option<u64> {
    let key = memchr::memmem::find(json, SENT_KEY)?;
    let rest = &json[key + SENT_KEY.len()..];
    let rest = rest.trim_ascii_start().strip_prefix(b":")?.trim_ascii_start().strip_prefix(b"\"")?;
    let end = memchr::memchr(b'"', rest)?;
    std::str::from_utf8(&rest[..end]).ok()?.parse().ok()
}

/// The annotation's key as it appears in JSON, quotes included.
const SENT_KEY: &[u8] = b"\"bench.kubelab.io/sent-unix-nanos\"";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pod_is_realistically_sized_and_named() {
        let bytes = serde_json::to_vec(&pod("bench-abcde-creates", &name(42))).expect("json");
        assert!((1100..1500).contains(&bytes.len()), "{} bytes", bytes.len());
        assert_eq!(name(42), "pod-0000042");
        assert!(name(9) < name(10));
    }

    #[test]
    fn stamps_round_trip() {
        let mut p = pod("ns", "a");
        assert_eq!(sent_nanos(&p), None);
        let now = now_nanos();
        stamp(&mut p, now);
        assert_eq!(sent_nanos(&p), Some(now));
        let reparsed: Value = serde_json::from_slice(&serde_json::to_vec(&p).expect("json")).expect("json");
        assert_eq!(sent_nanos(&reparsed), Some(now));
    }

    #[test]
    fn a_stamp_is_read_from_json_as_from_the_decoded_pod() {
        let mut p = pod("ns", "a");
        let unstamped = serde_json::to_vec(&p).expect("json");
        assert_eq!(sent_nanos_in(&unstamped), None);
        stamp(&mut p, 1_764_000_000_123_456_789);
        p["metadata"]["annotations"]["other"] = json!("x");
        let stamped = serde_json::to_vec(&p).expect("json");
        assert_eq!(sent_nanos_in(&stamped), Some(1_764_000_000_123_456_789));
        assert_eq!(sent_nanos_in(&stamped), sent_nanos(&p));
        let pretty = serde_json::to_vec_pretty(&p).expect("json");
        assert_eq!(sent_nanos_in(&pretty), Some(1_764_000_000_123_456_789), "spaces around the colon");
        assert_eq!(sent_nanos_in(br#"{"bench.kubelab.io/sent-unix-nanos": 12}"#), None, "not a string");
        assert_eq!(sent_nanos_in(br#"{"bench.kubelab.io/sent-unix-nanos": "1x"}"#), None, "not a number");
        assert_eq!(sent_nanos_in(br#"{"metadata": {}}"#), None);
    }
}
