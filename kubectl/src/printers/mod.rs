//! Output formats of `kubectl get` and friends: tables (plain, wide, with
//! label columns), YAML, JSON, `name`, JSONPath and custom columns.

pub mod columns;
pub mod jsonpath;
pub mod tabwriter;

use api::ResourceInfo;
use jiff::Timestamp;
use jsonpath::Template;
use serde_json::{json, Value};
use tabwriter::TabWriter;

/// Why `-o`'s value names no output format, in kubectl's words (without the `error: ` prefix).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FormatError {
    #[error("error parsing jsonpath {template}, {source}")]
    JsonPath { template: String, source: jsonpath::ParseError },
    #[error("template format specified but no template given")]
    NoTemplate,
    #[error("custom-columns format specified but no custom columns given")]
    NoColumns,
    #[error("unexpected custom-columns spec: {0}, expected <header>:<json-path-expr>")]
    BadColumn(String),
    #[error(
        "unable to match a printer suitable for the output format \"{0}\", allowed formats are: \
         custom-columns,json,jsonpath,name,wide,yaml"
    )]
    Unknown(String),
}

/// What `-o` asked for.
#[derive(Debug, Clone, PartialEq)]
pub enum OutputFormat {
    Table,
    Wide,
    Yaml,
    Json,
    Name,
    JsonPath(Template),
    CustomColumns(Vec<(String, Template)>),
}

impl OutputFormat {
    /// Parses `-o`'s value.
    pub fn parse(spec: Option<&str>) -> Result<Self, FormatError> {
        let Some(spec) = spec.filter(|s| !s.is_empty()) else {
            return Ok(Self::Table);
        };
        let (kind, arg) = match spec.split_once('=') {
            Some((k, a)) => (k, Some(a)),
            None => (spec, None),
        };
        match (kind, arg) {
            ("wide", None) => Ok(Self::Wide),
            ("yaml", None) => Ok(Self::Yaml),
            ("json", None) => Ok(Self::Json),
            ("name", None) => Ok(Self::Name),
            ("jsonpath", Some(t)) => Template::parse(t)
                .map(Self::JsonPath)
                .map_err(|source| FormatError::JsonPath { template: t.to_string(), source }),
            ("jsonpath", None) => Err(FormatError::NoTemplate),
            ("custom-columns", Some(cols)) => parse_custom_columns(cols).map(Self::CustomColumns),
            ("custom-columns", None) => Err(FormatError::NoColumns),
            _ => Err(FormatError::Unknown(spec.to_string())),
        }
    }

    pub fn is_table(&self) -> bool {
        matches!(self, Self::Table | Self::Wide)
    }
}

fn parse_custom_columns(spec: &str) -> Result<Vec<(String, Template)>, FormatError> {
    spec.split(',')
        .map(|col| {
            let (header, path) = col.split_once(':').ok_or_else(|| FormatError::BadColumn(col.to_string()))?;
            let t = Template::parse_field(path)
                .map_err(|source| FormatError::JsonPath { template: path.to_string(), source })?;
            Ok((header.to_string(), t))
        })
        .collect()
}

/// `pod/kubia`, `replicaset.apps/kubia`: what `-o name` and `get all` print.
pub fn kind_name(info: &ResourceInfo, name: &str) -> String {
    format!("{}/{name}", qualified_singular(info))
}

/// `pod`, `replicaset.apps`: the resource as create/apply/label messages name it.
pub fn qualified_singular(info: &ResourceInfo) -> String {
    let kind = info.kind.to_ascii_lowercase();
    if info.group.is_empty() {
        kind
    } else {
        format!("{kind}.{}", info.group)
    }
}

/// Options that shape a table.
#[derive(Debug, Clone, Default)]
pub struct TableOptions {
    pub wide: bool,
    pub no_headers: bool,
    pub show_labels: bool,
    pub label_columns: Vec<String>,
    /// `-A`: a NAMESPACE column first.
    pub namespace_column: bool,
    /// Several kinds requested: names print as `pod/kubia`.
    pub with_kind: bool,
}

/// Prints tables, keeping column widths across calls as kubectl's watch does.
pub struct TablePrinter {
    opts: TableOptions,
    tw: TabWriter,
}

impl TablePrinter {
    pub fn new(opts: TableOptions) -> Self {
        Self { opts, tw: TabWriter::for_tables() }
    }

    /// The header line (tab-separated, before alignment).
    fn header(&self, info: &ResourceInfo) -> Vec<String> {
        let mut h: Vec<String> = Vec::new();
        if self.opts.namespace_column && info.namespaced {
            h.push("NAMESPACE".into());
        }
        h.extend(columns::headers(info, self.opts.wide));
        for label in &self.opts.label_columns {
            h.push(label.rsplit('/').next().unwrap_or(label).to_uppercase());
        }
        if self.opts.show_labels {
            h.push("LABELS".into());
        }
        h
    }

    fn row(&self, info: &ResourceInfo, obj: &Value, now: Timestamp) -> Vec<String> {
        let mut cells = Vec::new();
        if self.opts.namespace_column && info.namespaced {
            cells.push(api::meta::namespace(obj).to_string());
        }
        let mut main = columns::row(info, obj, self.opts.wide, now);
        if self.opts.with_kind && info.kind != "Event" {
            if let Some(first) = main.first_mut() {
                *first = kind_name(info, first);
            }
        }
        cells.extend(main);
        let labels = api::meta::labels(obj);
        for key in &self.opts.label_columns {
            cells.push(labels.get(key).cloned().unwrap_or_default());
        }
        if self.opts.show_labels {
            cells.push(columns::format_labels(&labels));
        }
        cells
    }

    /// Formats objects of one kind as a table, with the header unless `--no-headers`.
    pub fn print(&mut self, info: &ResourceInfo, objs: &[Value], with_header: bool, now: Timestamp) -> String {
        let mut text = String::new();
        if with_header && !self.opts.no_headers {
            text.push_str(&self.header(info).join("\t"));
            text.push('\n');
        }
        for obj in objs {
            text.push_str(&self.row(info, obj, now).join("\t"));
            text.push('\n');
        }
        self.tw.format(&text)
    }
}

/// Renders custom columns for a set of objects.
pub fn custom_columns(cols: &[(String, Template)], objs: &[Value], no_headers: bool) -> String {
    let mut text = String::new();
    if !no_headers {
        text.push_str(&cols.iter().map(|(h, _)| h.as_str()).collect::<Vec<_>>().join("\t"));
        text.push('\n');
    }
    for obj in objs {
        let cells: Vec<String> = cols
            .iter()
            .map(|(_, t)| {
                let values = t.values(obj);
                if values.is_empty() {
                    "<none>".to_string()
                } else {
                    values.iter().map(jsonpath::to_text).collect::<Vec<_>>().join(",")
                }
            })
            .collect();
        text.push_str(&cells.join("\t"));
        text.push('\n');
    }
    TabWriter::for_tables().format(&text)
}

/// Wraps objects in the `List` kubectl prints for `-o yaml|json` of several objects.
pub fn as_list(items: Vec<Value>) -> Value {
    json!({"apiVersion": "v1", "items": items, "kind": "List", "metadata": {"resourceVersion": ""}})
}

/// Fills in `apiVersion` and `kind` on list items, which the server may leave out.
pub fn with_type_meta(info: &ResourceInfo, mut obj: Value) -> Value {
    if let Some(map) = obj.as_object_mut() {
        if !map.contains_key("apiVersion") {
            map.insert("apiVersion".into(), Value::String(info.api_version()));
        }
        if !map.contains_key("kind") {
            map.insert("kind".into(), Value::String(info.kind.to_string()));
        }
    }
    obj
}

#[cfg(test)]
mod tests {
    use super::*;
    use api::registry::lookup;

    fn now() -> Timestamp {
        "2021-10-27T10:00:00Z".parse().unwrap()
    }

    fn pod(name: &str, labels: Value) -> Value {
        json!({"metadata": {"name": name, "namespace": "default", "labels": labels, "creationTimestamp": "2021-10-27T09:57:49Z"},
               "spec": {"containers": [{"name": "kubia"}]},
               "status": {"phase": "Running", "containerStatuses": [{"name": "kubia", "ready": true, "restartCount": 0, "state": {"running": {}}}]}})
    }

    #[test]
    fn output_formats_parse() {
        assert_eq!(OutputFormat::parse(None), Ok(OutputFormat::Table));
        assert_eq!(OutputFormat::parse(Some("wide")), Ok(OutputFormat::Wide));
        assert!(matches!(OutputFormat::parse(Some("jsonpath={.metadata.name}")), Ok(OutputFormat::JsonPath(_))));
        assert!(
            matches!(OutputFormat::parse(Some("custom-columns=NAME:.metadata.name")), Ok(OutputFormat::CustomColumns(c)) if c.len() == 1)
        );
        assert_eq!(
            OutputFormat::parse(Some("xml")).unwrap_err().to_string(),
            "unable to match a printer suitable for the output format \"xml\", allowed formats are: custom-columns,json,jsonpath,name,wide,yaml"
        );
        assert!(OutputFormat::parse(Some("custom-columns=NAME")).is_err());
    }

    #[test]
    fn show_labels_adds_a_labels_column() {
        let pods = lookup("po").unwrap();
        let mut p = TablePrinter::new(TableOptions { show_labels: true, ..Default::default() });
        let objs = [pod("kubia", json!({"run": "kubia"})), pod("kubia-manual", json!({}))];
        assert_eq!(
            p.print(pods, &objs, true, now()),
            "NAME           READY   STATUS    RESTARTS   AGE     LABELS\n\
             kubia          1/1     Running   0          2m11s   run=kubia\n\
             kubia-manual   1/1     Running   0          2m11s   <none>\n"
        );
    }

    #[test]
    fn label_columns_use_the_last_path_segment() {
        let pods = lookup("po").unwrap();
        let mut p = TablePrinter::new(TableOptions {
            label_columns: vec!["creation_method".into(), "env".into(), "kubernetes.io/hostname".into()],
            ..Default::default()
        });
        let objs = [pod("kubia-manual-with-labels", json!({"creation_method": "manual", "env": "prod"}))];
        let out = p.print(pods, &objs, true, now());
        assert_eq!(
            out,
            "NAME                       READY   STATUS    RESTARTS   AGE     CREATION_METHOD   ENV    HOSTNAME\n\
             kubia-manual-with-labels   1/1     Running   0          2m11s   manual            prod   \n"
        );
    }

    #[test]
    fn all_namespaces_and_kind_prefixes() {
        let pods = lookup("po").unwrap();
        let mut p = TablePrinter::new(TableOptions {
            namespace_column: true,
            with_kind: true,
            no_headers: true,
            ..Default::default()
        });
        assert_eq!(
            p.print(pods, &[pod("kubia", json!({}))], true, now()),
            "default   pod/kubia   1/1   Running   0     2m11s\n"
        );
    }

    #[test]
    fn custom_columns_print_none_for_missing_values() {
        let cols = match OutputFormat::parse(Some("custom-columns=NAME:.metadata.name,IP:.status.podIP")).unwrap() {
            OutputFormat::CustomColumns(c) => c,
            _ => unreachable!("parsed as custom columns above"),
        };
        assert_eq!(custom_columns(&cols, &[pod("kubia", json!({}))], false), "NAME    IP\nkubia   <none>\n");
    }

    #[test]
    fn names_carry_the_group() {
        assert_eq!(kind_name(lookup("po").unwrap(), "kubia"), "pod/kubia");
        assert_eq!(kind_name(lookup("rs").unwrap(), "kubia"), "replicaset.apps/kubia");
        assert_eq!(kind_name(lookup("cj").unwrap(), "x"), "cronjob.batch/x");
        assert_eq!(kind_name(lookup("rc").unwrap(), "kubia"), "replicationcontroller/kubia");
    }

    #[test]
    fn lists_fill_in_type_meta() {
        let list = as_list(vec![with_type_meta(lookup("po").unwrap(), json!({"metadata": {"name": "a"}}))]);
        assert_eq!(list["items"][0]["kind"], "Pod");
        assert_eq!(list["metadata"]["resourceVersion"], "");
    }
}
