//! `kubectl describe configmap` and `describe secret`: a ConfigMap shows its
//! text values in full and its binary ones as sizes; a Secret shows only the
//! size of each value (a service account token excepted), never the bytes,
//! and no events, as kubectl's `describeSecret`.

use super::writer::{header, labels_and_annotations, Writer};
use api::k8s_openapi::api::core::v1::{ConfigMap, Secret};

pub fn config_map(w: &mut Writer, cm: &ConfigMap) {
    header(w, &cm.metadata, true);
    labels_and_annotations(w, &cm.metadata);
    w.w(0, "\nData\n====\n");
    for (key, value) in cm.data.iter().flatten() {
        w.w(0, &format!("{key}:\n----\n{value}\n"));
    }
    w.w(0, "\nBinaryData\n====\n");
    for (key, value) in cm.binary_data.iter().flatten() {
        w.w(0, &format!("{key}: {} bytes\n", value.0.len()));
    }
    w.w(0, "\n");
}

pub fn secret(w: &mut Writer, s: &Secret) {
    header(w, &s.metadata, true);
    labels_and_annotations(w, &s.metadata);
    let ty = s.type_.as_deref().unwrap_or("");
    w.w(0, &format!("\nType:\t{ty}\n"));
    w.w(0, "\nData\n====\n");
    for (key, value) in s.data.iter().flatten() {
        if key == "token" && ty == "kubernetes.io/service-account-token" {
            w.w(0, &format!("{key}:\t{}\n", String::from_utf8_lossy(&value.0)));
        } else {
            w.w(0, &format!("{key}:\t{} bytes\n", value.0.len()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::{describe, Related};
    use jiff::Timestamp;
    use serde_json::json;

    fn now() -> Timestamp {
        "2021-10-27T10:00:00Z".parse().unwrap()
    }

    fn with_no_events() -> Related {
        Related { events: Some(vec![]), ..Default::default() }
    }

    #[test]
    fn config_maps_show_text_values_and_binary_sizes() {
        let cm = json!({"apiVersion": "v1", "kind": "ConfigMap",
                        "metadata": {"name": "fortune-config", "namespace": "default"},
                        "data": {"sleep-interval": "25", "my-nginx-config.conf": "server {\n  listen 80;\n}\n"},
                        "binaryData": {"logo.png": "iVBORw=="}});
        let text = describe(api::registry::lookup("cm").unwrap(), &cm, &with_no_events(), now());
        assert_eq!(
            text,
            "Name:         fortune-config\nNamespace:    default\nLabels:       <none>\nAnnotations:  <none>\n\n\
             Data\n====\nmy-nginx-config.conf:\n----\nserver {\n  listen 80;\n}\n\n\
             sleep-interval:\n----\n25\n\nBinaryData\n====\nlogo.png: 4 bytes\n\nEvents:  <none>\n"
        );
    }

    #[test]
    fn secrets_show_sizes_not_values_and_no_events() {
        let s = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "fortune-https", "namespace": "default"},
                       "type": "Opaque", "data": {"foo": "YmFy", "https.key": "c2VjcmV0LWtleQ=="}});
        let text = describe(api::registry::lookup("secret").unwrap(), &s, &with_no_events(), now());
        assert_eq!(
            text,
            "Name:         fortune-https\nNamespace:    default\nLabels:       <none>\nAnnotations:  <none>\n\n\
             Type:  Opaque\n\nData\n====\nfoo:        3 bytes\nhttps.key:  10 bytes\n"
        );
        assert!(!text.contains("secret-key") && !text.contains("bar"), "values are never shown");
    }
}
