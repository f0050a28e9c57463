//! What a Deployment and its ReplicaSets agree on, for the controller that
//! rolls them out and for `kubectl rollout`/`describe`: the revision
//! annotation and the `pod-template-hash` label, and when two pod templates
//! are the same rollout (Kubernetes' `deploymentutil.EqualIgnoreHash`).

use k8s_openapi::api::core::v1::PodTemplateSpec;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

/// The label that ties a ReplicaSet and its pods to one pod template.
pub const HASH_LABEL: &str = "pod-template-hash";
/// The rollout revision a ReplicaSet (and its Deployment) carries.
pub const REVISION: &str = "deployment.kubernetes.io/revision";
/// Why a revision was made (`kubectl annotate ... kubernetes.io/change-cause=`).
pub const CHANGE_CAUSE: &str = "kubernetes.io/change-cause";

/// The object's revision annotation; 0 when absent or not a number.
pub fn revision(meta: &ObjectMeta) -> i64 {
    meta.annotations.as_ref().and_then(|a| a.get(REVISION)).and_then(|r| r.parse().ok()).unwrap_or(0)
}

/// The template without its `pod-template-hash` label. A labels map left empty
/// is dropped: Kubernetes compares templates with `Semantic.DeepEqual`, for
/// which an empty map and no map are equal.
pub fn without_hash(template: &PodTemplateSpec) -> PodTemplateSpec {
    let mut t = template.clone();
    let meta = t.metadata.get_or_insert_with(Default::default);
    if let Some(labels) = meta.labels.as_mut() {
        labels.remove(HASH_LABEL);
    }
    if meta.labels.as_ref().is_some_and(|l| l.is_empty()) {
        meta.labels = None;
    }
    if meta == &ObjectMeta::default() {
        t.metadata = None;
    }
    t
}

/// The two templates describe the same pods, their hash labels aside.
pub fn equal_ignoring_hash(a: &PodTemplateSpec, b: &PodTemplateSpec) -> bool {
    without_hash(a) == without_hash(b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn template(v: serde_json::Value) -> PodTemplateSpec {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn revisions_read_from_the_annotation() {
        let meta = |a: serde_json::Value| -> ObjectMeta { serde_json::from_value(json!({"annotations": a})).unwrap() };
        assert_eq!(revision(&meta(json!({REVISION: "3"}))), 3);
        assert_eq!(revision(&meta(json!({REVISION: "x"}))), 0);
        assert_eq!(revision(&ObjectMeta::default()), 0);
    }

    #[test]
    fn templates_equal_but_for_the_hash_label() {
        let spec = json!({"containers": [{"name": "c", "image": "i"}]});
        let hashed = template(json!({"metadata": {"labels": {"app": "a", HASH_LABEL: "h1"}}, "spec": spec}));
        let plain = template(json!({"metadata": {"labels": {"app": "a"}}, "spec": spec}));
        assert!(equal_ignoring_hash(&hashed, &plain));
        // Only the hash label: the same as no labels, and as an empty map.
        let only_hash = template(json!({"metadata": {"labels": {HASH_LABEL: "h1"}}, "spec": spec}));
        let empty = template(json!({"metadata": {"labels": {}}, "spec": spec}));
        let none = template(json!({"spec": spec}));
        assert!(equal_ignoring_hash(&only_hash, &none));
        assert!(equal_ignoring_hash(&empty, &none));
        assert!(!equal_ignoring_hash(&plain, &none));
        let other_image = template(
            json!({"metadata": {"labels": {"app": "a"}}, "spec": {"containers": [{"name": "c", "image": "j"}]}}),
        );
        assert!(!equal_ignoring_hash(&plain, &other_image));
    }
}
