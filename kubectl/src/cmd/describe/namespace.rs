//! `kubectl describe namespace`: its status, and (as kubelab has neither) no
//! resource quota and no LimitRange.

use super::writer::{header, labels_and_annotations, Writer};
use api::k8s_openapi::api::core::v1::Namespace;

pub fn namespace(w: &mut Writer, ns: &Namespace) {
    header(w, &ns.metadata, false);
    labels_and_annotations(w, &ns.metadata);
    let phase = ns.status.as_ref().and_then(|s| s.phase.as_deref()).unwrap_or("");
    w.w(0, &format!("Status:\t{phase}\n"));
    w.w(0, "\nNo resource quota.\n\nNo LimitRange resource.\n");
}

#[cfg(test)]
mod tests {
    use super::super::{describe, Related};
    use jiff::Timestamp;
    use serde_json::json;

    fn now() -> Timestamp {
        "2021-10-27T10:00:00Z".parse().unwrap()
    }

    #[test]
    fn namespaces_mention_quotas() {
        let ns = json!({"metadata": {"name": "custom-namespace", "labels": {"kubernetes.io/metadata.name": "custom-namespace"}},
                        "status": {"phase": "Active"}});
        let text = describe(
            api::registry::lookup("ns").unwrap(),
            &ns,
            &Related { events: Some(vec![]), ..Default::default() },
            now(),
        );
        assert_eq!(
            text,
            "Name:         custom-namespace\nLabels:       kubernetes.io/metadata.name=custom-namespace\nAnnotations:  <none>\n\
             Status:       Active\n\nNo resource quota.\n\nNo LimitRange resource.\n"
        );
    }
}
