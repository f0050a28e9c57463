//! What every describe layout writes with: kubectl's `PrefixWriter` (labels,
//! annotations, the events table) and the `Name:`/`Controlled By:` lines.

use crate::age;
use crate::printers::columns::event_source;
use crate::printers::tabwriter::TabWriter;
use api::k8s_openapi::api::core::v1::Event;
use api::k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use jiff::Timestamp;
use std::collections::BTreeMap;

/// Builds describe text the way kubectl's `PrefixWriter` does: two spaces per level, tabs between cells.
#[derive(Debug, Default)]
pub struct Writer {
    buf: String,
}

impl Writer {
    /// Writes `text` indented by `level`.
    pub fn w(&mut self, level: usize, text: &str) {
        for _ in 0..level {
            self.buf.push_str("  ");
        }
        self.buf.push_str(text);
    }

    /// The text aligned with describe's tabwriter settings.
    pub fn finish(self) -> String {
        TabWriter::for_describe().format(&self.buf)
    }

    /// `Labels:` with one `key=value` per line, or `<none>`.
    pub fn labels(&mut self, indent: &str, title: &str, labels: &BTreeMap<String, String>) {
        self.w(0, &format!("{indent}{title}:\t"));
        if labels.is_empty() {
            self.w(0, "<none>\n");
            return;
        }
        for (i, (k, v)) in labels.iter().enumerate() {
            if i > 0 {
                self.w(0, &format!("{indent}\t"));
            }
            self.w(0, &format!("{k}={v}\n"));
        }
    }

    /// `Annotations:` as kubectl prints them: `key: value`, long or multi-line values
    /// on their own lines, the last-applied annotation left out.
    pub fn annotations(&mut self, indent: &str, title: &str, annotations: &BTreeMap<String, String>) {
        const MAX: usize = 140;
        self.w(0, &format!("{indent}{title}:\t"));
        let keys: Vec<&String> = annotations.keys().filter(|k| *k != crate::merge::LAST_APPLIED).collect();
        if keys.is_empty() {
            self.w(0, "<none>\n");
            return;
        }
        for (i, key) in keys.into_iter().enumerate() {
            if i > 0 {
                self.w(0, &format!("{indent}\t"));
            }
            let value = annotations[key].strip_suffix('\n').unwrap_or(&annotations[key]);
            if value.len() + key.len() + 2 > MAX || value.contains('\n') {
                self.w(0, &format!("{key}:\n"));
                for line in value.split('\n') {
                    let shown = if line.len() > MAX - 2 {
                        format!("{}...", line.chars().take(MAX - 2).collect::<String>())
                    } else {
                        line.to_string()
                    };
                    self.w(0, &format!("{indent}\t  {shown}\n"));
                }
            } else {
                self.w(0, &format!("{key}: {value}\n"));
            }
        }
    }

    /// The `Events:` section: a table sorted by time, or `<none>`.
    pub fn events(&mut self, events: Option<&[Event]>, now: Timestamp) {
        let Some(events) = events else {
            return;
        };
        if events.is_empty() {
            self.w(0, "Events:\t<none>\n");
            return;
        }
        let mut sorted: Vec<&Event> = events.iter().collect();
        sorted.sort_by_key(|e| event_time(e));
        self.w(0, "Events:\n  Type\tReason\tAge\tFrom\tMessage\n");
        self.w(1, "----\t------\t----\t----\t-------\n");
        for e in sorted {
            let first = match &e.event_time {
                Some(t) => age::since(Some(t), now),
                None => age::since(e.first_timestamp.as_ref(), now),
            };
            let count = e.count.unwrap_or(0);
            let interval = match &e.series {
                Some(series) => format!(
                    "{} (x{} over {first})",
                    age::since(series.last_observed_time.as_ref(), now),
                    series.count.unwrap_or(0)
                ),
                None if count > 1 => format!("{} (x{count} over {first})", age::since(e.last_timestamp.as_ref(), now)),
                None => first,
            };
            let text = |v: &Option<String>| v.clone().unwrap_or_default();
            self.w(
                1,
                &format!(
                    "{}\t{}\t{interval}\t{}\t{}\n",
                    text(&e.type_),
                    text(&e.reason),
                    event_source(e, false),
                    text(&e.message).trim()
                ),
            );
        }
    }
}

/// When an event last happened: its lastTimestamp, else its eventTime.
fn event_time(e: &Event) -> Option<Timestamp> {
    e.last_timestamp.as_ref().map(|t| t.0).or_else(|| e.event_time.as_ref().map(|t| t.0))
}

/// A map the object may not have, as an empty one.
pub fn or_empty(map: Option<&BTreeMap<String, String>>) -> &BTreeMap<String, String> {
    static EMPTY: BTreeMap<String, String> = BTreeMap::new();
    map.unwrap_or(&EMPTY)
}

/// `Kind/name` of the object's controller, for `Controlled By:`.
pub fn controlled_by(meta: &ObjectMeta) -> Option<String> {
    api::pod::controller_of(meta).map(|r| format!("{}/{}", r.kind, r.name))
}

/// `Name:` and, for namespaced kinds, `Namespace:`.
pub fn header(w: &mut Writer, meta: &ObjectMeta, with_namespace: bool) {
    w.w(0, &format!("Name:\t{}\n", meta.name.as_deref().unwrap_or("")));
    if with_namespace {
        w.w(0, &format!("Namespace:\t{}\n", meta.namespace.as_deref().unwrap_or("")));
    }
}

/// `Labels:` and `Annotations:` of the object.
pub fn labels_and_annotations(w: &mut Writer, meta: &ObjectMeta) {
    w.labels("", "Labels", or_empty(meta.labels.as_ref()));
    w.annotations("", "Annotations", or_empty(meta.annotations.as_ref()));
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn now() -> Timestamp {
        "2021-10-27T10:00:00Z".parse().unwrap()
    }

    #[test]
    fn labels_print_one_per_line() {
        let mut w = Writer::default();
        w.w(0, "Name:\tkubia\n");
        w.labels(
            "",
            "Labels",
            &[("app".to_string(), "kubia".to_string()), ("env".to_string(), "prod".to_string())].into(),
        );
        w.annotations("", "Annotations", &BTreeMap::new());
        assert_eq!(
            w.finish(),
            "Name:         kubia\nLabels:       app=kubia\n              env=prod\nAnnotations:  <none>\n"
        );
    }

    #[test]
    fn long_annotations_get_their_own_lines() {
        let mut w = Writer::default();
        let long = "x".repeat(150);
        let map: BTreeMap<String, String> = [
            ("a".to_string(), long.clone()),
            ("b".to_string(), "foo bar".to_string()),
            (crate::merge::LAST_APPLIED.to_string(), "{}".to_string()),
        ]
        .into();
        w.annotations("", "Annotations", &map);
        let text = w.finish();
        assert_eq!(
            text,
            format!("Annotations:  a:\n                {}...\n              b: foo bar\n", "x".repeat(138))
        );
    }

    #[test]
    fn events_table_with_repeats() {
        let events = vec![
            json!({"type": "Normal", "reason": "SuccessfulDelete", "message": "Deleted pod: kubia-gpu", "count": 3,
                   "source": {"component": "replication-controller"},
                   "firstTimestamp": "2021-10-27T09:56:25Z", "lastTimestamp": "2021-10-27T09:59:53Z"}),
            json!({"type": "Normal", "reason": "SuccessfulCreate", "message": "Created pod: kubia-rc-hx8zx", "count": 1,
                   "source": {"component": "replication-controller"},
                   "firstTimestamp": "2021-10-27T09:39:00Z", "lastTimestamp": "2021-10-27T09:39:00Z"}),
        ];
        let mut w = Writer::default();
        w.events(Some(&crate::typed::decode_all(&events)), now());
        assert_eq!(
            w.finish(),
            "Events:\n\
             \x20 Type    Reason            Age                 From                    Message\n\
             \x20 ----    ------            ----                ----                    -------\n\
             \x20 Normal  SuccessfulCreate  21m                 replication-controller  Created pod: kubia-rc-hx8zx\n\
             \x20 Normal  SuccessfulDelete  7s (x3 over 3m35s)  replication-controller  Deleted pod: kubia-gpu\n"
        );
        let mut w = Writer::default();
        w.events(Some(&[]), now());
        assert_eq!(w.finish(), "Events:  <none>\n");
    }
}
