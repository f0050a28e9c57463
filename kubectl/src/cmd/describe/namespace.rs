//! `kubectl describe namespace`: its status, and (as kubelab has neither) no
//! resource quota and no LimitRange.

use super::writer::{header, s, Writer};
use serde_json::Value;

pub fn namespace(w: &mut Writer, ns: &Value) {
    header(w, ns, false);
    w.labels("", "Labels", &api::meta::labels(ns));
    w.annotations("", "Annotations", &api::meta::annotations(ns));
    w.w(0, &format!("Status:\t{}\n", s(ns, &["status", "phase"])));
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
