//! `kubectl describe`: fetch the objects (a name that is not found is tried as
//! a prefix, as kubectl does), the related objects a kind's description needs
//! (events, pods, endpoints), and print each description.
//! The per-kind layouts are in [`super::describe_kinds`].

use super::describe_kinds::{self, Related};
use super::{Ctx, Found};
use crate::age;
use crate::cli::DescribeArgs;
use crate::error::{Error, Result};
use crate::printers::columns::{format_labels, selector_string, string_map};
use crate::printers::tabwriter::TabWriter;
use crate::resource::{self, Selection};
use api::ResourceInfo;
use client::{Client, ListParams};
use jiff::Timestamp;
use serde_json::Value;
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
    pub fn events(&mut self, events: Option<&[Value]>, now: Timestamp) {
        let Some(events) = events else {
            return;
        };
        if events.is_empty() {
            self.w(0, "Events:\t<none>\n");
            return;
        }
        let mut sorted: Vec<&Value> = events.iter().collect();
        sorted.sort_by_key(|e| event_time(e).to_string());
        self.w(0, "Events:\n  Type\tReason\tAge\tFrom\tMessage\n");
        self.w(1, "----\t------\t----\t----\t-------\n");
        for e in sorted {
            let s = |k: &str| e.get(k).and_then(Value::as_str).unwrap_or("");
            let first = if s("eventTime").is_empty() {
                age::age_at(s("firstTimestamp"), now)
            } else {
                age::age_at(s("eventTime"), now)
            };
            let count = e.get("count").and_then(Value::as_i64).unwrap_or(0);
            let interval = match e.get("series").filter(|v| v.is_object()) {
                Some(series) => format!(
                    "{} (x{} over {first})",
                    age::age_at(series.get("lastObservedTime").and_then(Value::as_str).unwrap_or(""), now),
                    series.get("count").and_then(Value::as_i64).unwrap_or(0)
                ),
                None if count > 1 => format!("{} (x{count} over {first})", age::age_at(s("lastTimestamp"), now)),
                None => first,
            };
            let component = e.pointer("/source/component").and_then(Value::as_str).unwrap_or("");
            let source = if component.is_empty() { s("reportingController") } else { component };
            self.w(1, &format!("{}\t{}\t{interval}\t{source}\t{}\n", s("type"), s("reason"), s("message").trim()));
        }
    }
}

fn event_time(e: &Value) -> &str {
    let last = e.get("lastTimestamp").and_then(Value::as_str).unwrap_or("");
    if last.is_empty() {
        e.get("eventTime").and_then(Value::as_str).unwrap_or("")
    } else {
        last
    }
}

/// Events about `obj`: matched by uid, or by kind, name and namespace. A node's
/// events may also carry its name as the uid (the kubelet's), as kubectl allows for.
pub fn events_for(obj: &Value, events: &[Value]) -> Vec<Value> {
    let uid = api::meta::uid(obj);
    let (kind, name, ns) = (api::meta::kind(obj), api::meta::name(obj), api::meta::namespace(obj));
    events
        .iter()
        .filter(|e| {
            let field = |k: &str| e.pointer(&format!("/involvedObject/{k}")).and_then(Value::as_str).unwrap_or("");
            if kind == "Node" && field("kind") == "Node" && field("name") == name && field("uid") == name {
                return true;
            }
            if !uid.is_empty() && !field("uid").is_empty() {
                return field("uid") == uid;
            }
            field("kind") == kind && field("name") == name && field("namespace") == ns
        })
        .cloned()
        .collect()
}

pub async fn run(ctx: &mut Ctx, a: DescribeArgs) -> Result<()> {
    let found: Vec<Found> = if !a.filename.is_empty() {
        super::create::fetch_manifest_objects(ctx, &a.filename, a.recursive).await?
    } else {
        if a.args.is_empty() {
            return Err(Error::msg(
                "You must specify the type of resource to describe. Use \"kubectl api-resources\" for a complete \
                 list of supported resources.",
            ));
        }
        let selections = resource::parse_args(&a.args)?;
        super::check_selection(&selections, a.selector.as_deref(), false)?;
        fetch_with_prefixes(ctx, &selections, &a).await?
    };
    if found.iter().all(|f| f.objects.is_empty()) {
        if !ctx.failed {
            let namespaced = found.iter().any(|f| f.info.namespaced);
            ctx.no_resources(namespaced, a.all_namespaces);
        }
        return Ok(());
    }
    let client = ctx.client().await?;
    let now = Timestamp::now();
    let mut first = true;
    for f in &found {
        for obj in &f.objects {
            let related = related(&client, f.info, obj, a.show_events).await?;
            let text = describe_kinds::describe(f.info, obj, &related, now);
            if !first {
                ctx.print("\n\n");
            }
            first = false;
            ctx.print(&text);
        }
    }
    Ok(())
}

/// Named objects, falling back to name prefixes; unnamed selections are listed.
async fn fetch_with_prefixes(ctx: &mut Ctx, selections: &[Selection], a: &DescribeArgs) -> Result<Vec<Found>> {
    let client = ctx.client().await?;
    let mut found = Vec::new();
    for sel in selections {
        let ns = if a.all_namespaces { String::new() } else { ctx.ns(sel.info) };
        let mut objects = Vec::new();
        if sel.names.is_empty() {
            let params = ListParams { label_selector: a.selector.clone().unwrap_or_default(), ..Default::default() };
            objects = super::items(sel.info, client.list(sel.info, &ns, &params).await?);
        }
        for name in &sel.names {
            match client.get(sel.info, &ns, name).await {
                Ok(obj) => objects.push(crate::printers::with_type_meta(sel.info, obj)),
                Err(e) if e.is_not_found() => {
                    let all = super::items(sel.info, client.list(sel.info, &ns, &ListParams::default()).await?);
                    let matching: Vec<Value> =
                        all.into_iter().filter(|o| api::meta::name(o).starts_with(name.as_str())).collect();
                    if matching.is_empty() {
                        ctx.report_api(&e, None);
                    }
                    objects.extend(matching);
                }
                Err(e) => return Err(e.into()),
            }
        }
        found.push(Found { info: sel.info, objects });
    }
    Ok(found)
}

/// Fetches what a kind's description shows besides the object itself.
async fn related(client: &Client, info: &ResourceInfo, obj: &Value, show_events: bool) -> Result<Related> {
    let mut rel = Related::default();
    let ns = api::meta::namespace(obj).to_string();
    if show_events {
        let events_info = api::registry::lookup("events").expect("events are registered");
        let events = super::items(events_info, client.list(events_info, &ns, &ListParams::default()).await?);
        rel.events = Some(events_for(obj, &events));
    }
    let pods = api::registry::lookup("pods").expect("pods are registered");
    let selector = match info.kind {
        "ReplicationController" => Some(format_labels(&string_map(obj.pointer("/spec/selector")))),
        "ReplicaSet" | "DaemonSet" | "Job" => Some(selector_string(obj.pointer("/spec/selector"))),
        _ => None,
    };
    if let Some(sel) = selector.filter(|s| s != "<none>") {
        let params = ListParams { label_selector: sel, ..Default::default() };
        rel.pods = super::items(pods, client.list(pods, &ns, &params).await?);
    }
    if info.kind == "Node" {
        let name = api::meta::name(obj);
        // The pods kubectl counts against a node: bound to it and not finished.
        let params = ListParams {
            field_selector: format!("spec.nodeName={name},status.phase!=Failed,status.phase!=Succeeded"),
            ..Default::default()
        };
        rel.pods = super::items(pods, client.list(pods, "", &params).await?);
        let leases = api::registry::lookup("leases").expect("leases are registered");
        rel.lease = Some(client.get(leases, "kube-node-lease", name).await.map_err(|e| e.message));
    }
    if info.kind == "Deployment" {
        rel.replica_sets = super::rollout::owned_replica_sets(client, obj).await?;
    }
    if info.kind == "Service" {
        let ep = api::registry::lookup("endpoints").expect("endpoints are registered");
        rel.endpoints = client.get(ep, &ns, api::meta::name(obj)).await.ok();
    }
    Ok(rel)
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
        w.events(Some(&events), now());
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

    #[test]
    fn events_match_their_object() {
        let pod = json!({"kind": "Pod", "metadata": {"name": "kubia", "namespace": "default", "uid": "u1"}});
        let events = vec![
            json!({"involvedObject": {"kind": "Pod", "name": "kubia", "namespace": "default", "uid": "u1"}, "reason": "a"}),
            json!({"involvedObject": {"kind": "Pod", "name": "kubia", "namespace": "default", "uid": "old"}, "reason": "b"}),
            json!({"involvedObject": {"kind": "Pod", "name": "kubia", "namespace": "default"}, "reason": "c"}),
            json!({"involvedObject": {"kind": "Pod", "name": "other", "namespace": "default"}, "reason": "d"}),
        ];
        let reasons: Vec<String> =
            events_for(&pod, &events).iter().map(|e| e["reason"].as_str().unwrap().to_string()).collect();
        assert_eq!(reasons, ["a", "c"]);
        let node = json!({"kind": "Node", "metadata": {"name": "n1", "uid": "n-uid"}});
        let events = vec![
            json!({"involvedObject": {"kind": "Node", "name": "n1", "uid": "n-uid"}, "reason": "RegisteredNode"}),
            json!({"involvedObject": {"kind": "Node", "name": "n1", "uid": "n1"}, "reason": "NodeReady"}),
            json!({"involvedObject": {"kind": "Node", "name": "n2", "uid": "n2"}, "reason": "Other"}),
        ];
        let reasons: Vec<String> =
            events_for(&node, &events).iter().map(|e| e["reason"].as_str().unwrap().to_string()).collect();
        assert_eq!(reasons, ["RegisteredNode", "NodeReady"]);
    }
}
