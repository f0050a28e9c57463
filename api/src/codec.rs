//! Reading manifests (YAML, multi-document, or JSON) and writing objects as kubectl prints them.
//!
//! YAML is read as Kubernetes reads it, YAML 1.1 scalars included (`yaml`).
//!
//! Writing YAML uses a small emitter of our own rather than serde_yaml's, because
//! kubectl's output (go-yaml v2 behind sigs.k8s.io/yaml) has rules users notice:
//! sequences are not indented under their key, strings that YAML 1.1 would read as
//! another type (`"1110"`, `"True"`, timestamps) are double-quoted, and other
//! strings that cannot be plain are single-quoted.

use crate::error::{ApiError, Reason, Result};
use serde::Serialize;
use serde_json::{Map, Value};
use std::io;

pub mod yaml;

/// Parses a file's text into objects. `source` names the file in errors.
///
/// Empty documents are skipped and `List` kinds expand into their items. Every
/// object must carry `apiVersion` and `kind`, as kubectl's client-side validation
/// requires. This is the one place manifests are expanded and checked.
pub fn parse_manifests(text: &str, source: &str) -> Result<Vec<Value>> {
    let trimmed = text.trim_start();
    let docs = if trimmed.starts_with('{') || trimmed.starts_with('[') {
        parse_json_docs(text, source)?
    } else {
        parse_yaml_docs(text, source)?
    };
    let mut out = Vec::new();
    for (n, doc) in docs {
        match doc {
            Value::Null => {}
            Value::Object(_) => expand(doc, &mut out),
            // A top-level JSON array is read as a list of objects.
            Value::Array(items) if trimmed.starts_with('[') => {
                for item in items {
                    if !item.is_object() {
                        return Err(ApiError::bad_request(format!(
                            "error parsing {source}: document {n} is not an object"
                        )));
                    }
                    expand(item, &mut out);
                }
            }
            _ => return Err(ApiError::bad_request(format!("error parsing {source}: document {n} is not an object"))),
        }
    }
    for obj in &out {
        check_type_fields(obj, source)?;
    }
    Ok(out)
}

/// kubectl's client-side validation: every object says what it is. The error's
/// reason is `Invalid`, so a client can add its own advice to it.
fn check_type_fields(obj: &Value, source: &str) -> Result<()> {
    let missing: Vec<&str> = [("apiVersion", "apiVersion not set"), ("kind", "kind not set")]
        .into_iter()
        .filter(|(field, _)| obj.get(field).and_then(Value::as_str).is_none_or(str::is_empty))
        .map(|(_, what)| what)
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    // Kubernetes' aggregate errors print one error bare and several in brackets.
    let body = if missing.len() == 1 { missing[0].to_string() } else { format!("[{}]", missing.join(", ")) };
    Err(ApiError::new(Reason::Invalid, format!("error validating \"{source}\": error validating data: {body}")))
}

/// Flattens `List` kinds (`kind: List`, `PodList`, ...) into their items.
fn expand(obj: Value, out: &mut Vec<Value>) {
    let is_list = obj.get("kind").and_then(Value::as_str).is_some_and(|k| k.ends_with("List"))
        && obj.get("items").is_some_and(Value::is_array);
    if !is_list {
        out.push(obj);
        return;
    }
    if let Value::Object(mut map) = obj {
        if let Some(Value::Array(items)) = map.remove("items") {
            for item in items {
                expand(item, out);
            }
        }
    }
}

/// Removes serde_json's ` at line L column C` position, since we print it first.
fn strip_position(msg: &str) -> String {
    let mut out = String::with_capacity(msg.len());
    let mut rest = msg;
    while let Some(i) = rest.find(" at line ") {
        out.push_str(&rest[..i]);
        let tail = &rest[i + " at line ".len()..];
        let after_line = tail.trim_start_matches(|c: char| c.is_ascii_digit());
        match after_line.strip_prefix(" column ") {
            Some(col) if after_line.len() < tail.len() => {
                rest = col.trim_start_matches(|c: char| c.is_ascii_digit());
            }
            _ => {
                out.push_str(" at line ");
                rest = tail;
            }
        }
    }
    out.push_str(rest);
    out
}

fn parse_json_docs(text: &str, source: &str) -> Result<Vec<(usize, Value)>> {
    let mut docs = Vec::new();
    for (i, doc) in serde_json::Deserializer::from_str(text).into_iter::<Value>().enumerate() {
        match doc {
            Ok(v) => docs.push((i + 1, v)),
            Err(e) => {
                return Err(ApiError::bad_request(format!(
                    "error parsing {source}: json: line {}, column {}: {}",
                    e.line(),
                    e.column(),
                    strip_position(&e.to_string())
                )));
            }
        }
    }
    Ok(docs)
}

fn parse_yaml_docs(text: &str, source: &str) -> Result<Vec<(usize, Value)>> {
    let docs =
        yaml::documents(text).map_err(|e| ApiError::bad_request(format!("error parsing {source}: yaml: {e}")))?;
    Ok(docs.into_iter().enumerate().map(|(i, doc)| (i + 1, doc)).collect())
}

/// YAML as `kubectl get -o yaml` prints it (every line ends in a newline).
pub fn to_yaml(obj: &Value) -> String {
    let mut out = String::new();
    match obj {
        Value::Object(m) if !m.is_empty() => write_map(&mut out, m, 0, false),
        Value::Array(a) if !a.is_empty() => write_seq(&mut out, a, 0, false),
        other => {
            out.push_str(&scalar(other, 0));
            out.push('\n');
        }
    }
    out
}

fn indent(out: &mut String, n: usize) {
    out.extend(std::iter::repeat_n(' ', n));
}

/// Writes a mapping whose keys start at column `ind`; with `inline` the first key
/// continues the current line (after a sequence dash).
fn write_map(out: &mut String, m: &Map<String, Value>, ind: usize, inline: bool) {
    for (i, (k, v)) in m.iter().enumerate() {
        if i > 0 || !inline {
            indent(out, ind);
        }
        out.push_str(&quote_string(k, ind));
        out.push(':');
        match v {
            Value::Object(child) if !child.is_empty() => {
                out.push('\n');
                write_map(out, child, ind + 2, false);
            }
            Value::Array(items) if !items.is_empty() => {
                out.push('\n');
                // go-yaml v2 puts a mapping's sequence items at the key's own column.
                write_seq(out, items, ind, false);
            }
            _ => {
                out.push(' ');
                out.push_str(&scalar(v, ind + 2));
                out.push('\n');
            }
        }
    }
}

fn write_seq(out: &mut String, items: &[Value], ind: usize, inline: bool) {
    for (i, v) in items.iter().enumerate() {
        if i > 0 || !inline {
            indent(out, ind);
        }
        out.push_str("- ");
        match v {
            Value::Object(child) if !child.is_empty() => write_map(out, child, ind + 2, true),
            Value::Array(inner) if !inner.is_empty() => write_seq(out, inner, ind + 2, true),
            _ => {
                out.push_str(&scalar(v, ind + 2));
                out.push('\n');
            }
        }
    }
}

/// A scalar (or empty collection); `ind` is the column block-scalar lines start at.
fn scalar(v: &Value, ind: usize) -> String {
    match v {
        Value::Null => "null".to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => quote_string(s, ind),
        Value::Object(_) => "{}".to_string(),
        Value::Array(_) => "[]".to_string(),
    }
}

fn quote_string(s: &str, ind: usize) -> String {
    if s.contains('\n') && block_allowed(s) {
        return literal_block(s, ind);
    }
    if s.chars().any(|c| !printable(c)) || s.contains('\n') {
        return double_quoted(s);
    }
    if resolves_to_non_string(s) {
        return double_quoted(s);
    }
    if plain_allowed(s) {
        return s.to_string();
    }
    format!("'{}'", s.replace('\'', "''"))
}

/// Characters libyaml writes as they are (tabs and control characters need escapes).
fn printable(c: char) -> bool {
    matches!(c, '\n' | ' '..='~' | '\u{85}' | '\u{A0}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
        && c != '\u{FEFF}'
}

/// Literal blocks keep text readable, but libyaml refuses them for text whose
/// first line starts with a space or that has spaces before a line break.
fn block_allowed(s: &str) -> bool {
    !s.starts_with(' ') && !s.contains(" \n") && s.chars().all(|c| c == '\n' || (printable(c) && c != '\t'))
}

fn literal_block(s: &str, ind: usize) -> String {
    let body = s.trim_end_matches('\n');
    let trailing = s.len() - body.len();
    let chomp = match trailing {
        0 => "-",
        1 => "",
        _ => "+",
    };
    let mut out = format!("|{chomp}");
    let content = if trailing > 1 { &s[..s.len() - 1] } else { body };
    for line in content.split('\n') {
        out.push('\n');
        if !line.is_empty() {
            indent(&mut out, ind);
            out.push_str(line);
        }
    }
    out
}

fn double_quoted(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '\0' => out.push_str("\\0"),
            c if !printable(c) => {
                let n = c as u32;
                if n <= 0xFF {
                    out.push_str(&format!("\\x{n:02X}"));
                } else if n <= 0xFFFF {
                    out.push_str(&format!("\\u{n:04X}"));
                } else {
                    out.push_str(&format!("\\U{n:08X}"));
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Whether a plain scalar with this text would be read back as something other
/// than a string under YAML 1.1 (go-yaml v2's resolver): null, bool, number, timestamp.
fn resolves_to_non_string(s: &str) -> bool {
    const WORDS: &[&str] = &[
        "", "~", "null", "Null", "NULL", "y", "Y", "yes", "Yes", "YES", "n", "N", "no", "No", "NO", "true", "True",
        "TRUE", "false", "False", "FALSE", "on", "On", "ON", "off", "Off", "OFF", ".inf", ".Inf", ".INF", "+.inf",
        "+.Inf", "+.INF", "-.inf", "-.Inf", "-.INF", ".nan", ".NaN", ".NAN", "<<",
    ];
    if WORDS.contains(&s) {
        return true;
    }
    let first = s.as_bytes()[0];
    if !(first.is_ascii_digit() || matches!(first, b'+' | b'-' | b'.')) {
        return false;
    }
    is_timestamp(s) || is_yaml_int(s) || yaml::is_yaml_float(&s.replace('_', "")) || is_base60(s)
}

fn is_yaml_int(s: &str) -> bool {
    let plain = s.replace('_', "");
    let body = plain.strip_prefix(['+', '-']).unwrap_or(&plain);
    if body.is_empty() {
        return false;
    }
    let (digits, radix) = if let Some(h) = body.strip_prefix("0x").or_else(|| body.strip_prefix("0X")) {
        (h, 16)
    } else if let Some(b) = body.strip_prefix("0b").or_else(|| body.strip_prefix("0B")) {
        (b, 2)
    } else if let Some(o) = body.strip_prefix("0o").or_else(|| body.strip_prefix("0O")) {
        (o, 8)
    } else if body.len() > 1 && body.starts_with('0') {
        (&body[1..], 8)
    } else {
        (body, 10)
    };
    !digits.is_empty() && digits.chars().all(|c| c.is_digit(radix))
}

/// Sexagesimal numbers (`1:20`), which YAML 1.1 reads as floats.
fn is_base60(s: &str) -> bool {
    let body = s.strip_prefix(['+', '-']).unwrap_or(s);
    let mut parts = body.split(':');
    let head = parts.next().unwrap_or("");
    let rest: Vec<&str> = parts.collect();
    if rest.is_empty() || head.is_empty() || !head.starts_with(|c: char| c.is_ascii_digit()) {
        return false;
    }
    if !head.chars().all(|c| c.is_ascii_digit() || c == '_') {
        return false;
    }
    rest.iter().enumerate().all(|(i, p)| {
        let p = if i == rest.len() - 1 { p.split('.').next().unwrap_or("") } else { p };
        (1..=2).contains(&p.len()) && p.chars().all(|c| c.is_ascii_digit()) && p.parse::<u32>().unwrap_or(99) < 60
    })
}

/// Dates and date-times as go-yaml v2 resolves them (`2006-1-2`, optionally
/// followed by `T`/`t`/space and a time).
fn is_timestamp(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() < 8 || !b[..4].iter().all(u8::is_ascii_digit) || b[4] != b'-' {
        return false;
    }
    let mut i = 5;
    for part in 0..2 {
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if !(1..=2).contains(&(i - start)) {
            return false;
        }
        if part == 0 {
            if b.get(i) != Some(&b'-') {
                return false;
            }
            i += 1;
        }
    }
    i == b.len() || (matches!(b[i], b'T' | b't' | b' ') && b.get(i + 1).is_some_and(u8::is_ascii_digit))
}

/// Whether libyaml would write this text as a plain scalar in block context.
fn plain_allowed(s: &str) -> bool {
    let b = s.as_bytes();
    if b.is_empty() || s.starts_with("---") || s.starts_with("...") {
        return false;
    }
    if b[0] == b' ' || b[b.len() - 1] == b' ' {
        return false;
    }
    let followed_by_space = |i: usize| i + 1 >= b.len() || b[i + 1] == b' ';
    match b[0] {
        b',' | b'[' | b']' | b'{' | b'}' | b'#' | b'&' | b'*' | b'!' | b'|' | b'>' | b'\'' | b'"' | b'%' | b'@'
        | b'`' => return false,
        b'-' | b'?' | b':' if followed_by_space(0) => return false,
        _ => {}
    }
    for i in 1..b.len() {
        match b[i] {
            b':' if followed_by_space(i) => return false,
            b'#' if b[i - 1] == b' ' => return false,
            _ => {}
        }
    }
    true
}

/// JSON as `kubectl get -o json` prints it: 4-space indent, and `<`, `>`, `&`
/// escaped as Go's encoder does. Ends in a newline.
pub fn to_json(obj: &Value) -> String {
    let mut buf = Vec::new();
    let mut ser = serde_json::Serializer::with_formatter(&mut buf, GoFormatter::new());
    obj.serialize(&mut ser).expect("a JSON value always serializes");
    buf.push(b'\n');
    String::from_utf8(buf).expect("serde_json writes UTF-8")
}

/// serde_json's pretty printer with Go's HTML-safe string escaping.
struct GoFormatter {
    pretty: serde_json::ser::PrettyFormatter<'static>,
}

impl GoFormatter {
    fn new() -> Self {
        Self { pretty: serde_json::ser::PrettyFormatter::with_indent(b"    ") }
    }
}

impl serde_json::ser::Formatter for GoFormatter {
    fn begin_array<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.pretty.begin_array(w)
    }
    fn end_array<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.pretty.end_array(w)
    }
    fn begin_array_value<W: ?Sized + io::Write>(&mut self, w: &mut W, first: bool) -> io::Result<()> {
        self.pretty.begin_array_value(w, first)
    }
    fn end_array_value<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.pretty.end_array_value(w)
    }
    fn begin_object<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.pretty.begin_object(w)
    }
    fn end_object<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.pretty.end_object(w)
    }
    fn begin_object_key<W: ?Sized + io::Write>(&mut self, w: &mut W, first: bool) -> io::Result<()> {
        self.pretty.begin_object_key(w, first)
    }
    fn begin_object_value<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.pretty.begin_object_value(w)
    }
    fn end_object_value<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.pretty.end_object_value(w)
    }
    fn write_string_fragment<W: ?Sized + io::Write>(&mut self, w: &mut W, fragment: &str) -> io::Result<()> {
        let mut last = 0;
        for (i, c) in fragment.char_indices() {
            let esc = match c {
                '<' => "\\u003c",
                '>' => "\\u003e",
                '&' => "\\u0026",
                '\u{2028}' => "\\u2028",
                '\u{2029}' => "\\u2029",
                _ => continue,
            };
            w.write_all(&fragment.as_bytes()[last..i])?;
            w.write_all(esc.as_bytes())?;
            last = i + c.len_utf8();
        }
        w.write_all(&fragment.as_bytes()[last..])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn yaml_reads_multiple_documents_and_lists() {
        let text = "---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: a\n  labels: {80: x, true: \"y\"}\n---\n\n---\n\
                    apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: Service\n  metadata: {name: s}\n  \
                    spec:\n    ports:\n    - port: 80\n";
        let objs = parse_manifests(text, "x.yaml").unwrap();
        assert_eq!(objs.len(), 2);
        assert_eq!(objs[0]["metadata"]["labels"], json!({"80": "x", "true": "y"}));
        assert_eq!(objs[1]["kind"], "Service");
        assert!(objs[1]["spec"]["ports"][0]["port"].is_i64(), "ints stay ints");
    }

    #[test]
    fn the_books_config_volume_mode_is_octal() {
        let text = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: fortune-configmap-volume\nspec:\n  containers:\n  \
                    - image: nginx:alpine\n    name: web-server\n  volumes:\n  - name: config\n    configMap:\n      \
                    name: fortune-config\n      defaultMode: 0660\n";
        let pod = parse_manifests(text, "fortune-pod-configmap-volume-defaultMode.yaml").unwrap().remove(0);
        assert_eq!(pod["spec"]["volumes"][0]["configMap"]["defaultMode"], 432);
        let quoted = parse_manifests(&text.replace("0660", "\"0660\""), "q.yaml").unwrap().remove(0);
        assert_eq!(quoted["spec"]["volumes"][0]["configMap"]["defaultMode"], "0660");
    }

    #[test]
    fn json_reads_objects_lists_and_streams() {
        let objs = parse_manifests(r#"{"apiVersion":"v1","kind":"Pod"} {"apiVersion":"v1","kind":"Node"}"#, "a.json");
        assert_eq!(objs.unwrap().len(), 2);
        let list = r#"{"apiVersion":"v1","kind":"PodList","items":[{"apiVersion":"v1","kind":"Pod"}]}"#;
        assert_eq!(parse_manifests(list, "l.json").unwrap()[0]["kind"], "Pod");
    }

    #[test]
    fn errors_name_the_file_and_position() {
        let e = parse_manifests("apiVersion: v1\nkind: Pod\nmetadata:\n  name: a\n   bad: b\n", "kubia.yaml");
        let msg = e.unwrap_err().message;
        assert!(msg.starts_with("error parsing kubia.yaml: yaml: line 5, column "), "{msg}");
        let e = parse_manifests("{\n  \"kind\": \"Pod\",\n  \"apiVersion\" \"v1\"\n}", "x.json").unwrap_err();
        assert_eq!(e.message, "error parsing x.json: json: line 3, column 16: expected `:`");
        let e = parse_manifests("apiVersion: v1\nkind: Pod\n---\n- a\n- b\n", "two.yaml").unwrap_err();
        assert_eq!(e.message, "error parsing two.yaml: document 2 is not an object");
        let e = parse_manifests("metadata:\n  name: x\n", "m.yaml").unwrap_err();
        assert_eq!(
            e.message,
            r#"error validating "m.yaml": error validating data: [apiVersion not set, kind not set]"#
        );
        let e = parse_manifests("apiVersion: v1\n", "m.yaml").unwrap_err();
        assert_eq!(e.message, r#"error validating "m.yaml": error validating data: kind not set"#);
        assert!(parse_manifests("\n---\n", "empty.yaml").unwrap().is_empty());
    }

    #[test]
    fn yaml_output_matches_kubectl() {
        let pod = json!({
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "creationTimestamp": "2021-10-27T07:33:55Z",
                "labels": {"app": "kubia", "version": "1.0"},
                "annotations": {"note": "a: b", "empty": "", "star": "*", "multi": "line1\nline2\n"},
                "name": "kubia",
                "resourceVersion": "1110",
            },
            "spec": {
                "containers": [{
                    "args": ["--port", "8080"],
                    "image": "luksa/kubia",
                    "name": "kubia",
                    "ports": [{"containerPort": 8080, "protocol": "TCP"}],
                    "resources": {},
                }],
                "securityContext": {},
                "tolerations": [],
                "terminationGracePeriodSeconds": 30,
            },
            "status": {"conditions": [{"status": "True", "type": "Ready", "lastProbeTime": null}]},
        });
        let want = r#"apiVersion: v1
kind: Pod
metadata:
  annotations:
    empty: ""
    multi: |
      line1
      line2
    note: 'a: b'
    star: '*'
  creationTimestamp: "2021-10-27T07:33:55Z"
  labels:
    app: kubia
    version: "1.0"
  name: kubia
  resourceVersion: "1110"
spec:
  containers:
  - args:
    - --port
    - "8080"
    image: luksa/kubia
    name: kubia
    ports:
    - containerPort: 8080
      protocol: TCP
    resources: {}
  securityContext: {}
  terminationGracePeriodSeconds: 30
  tolerations: []
status:
  conditions:
  - lastProbeTime: null
    status: "True"
    type: Ready
"#;
        assert_eq!(to_yaml(&pod), want);
        // What we print reads back as the same object.
        let mut back = parse_manifests(&to_yaml(&pod), "round.yaml").unwrap();
        assert_eq!(back.remove(0), pod);
    }

    #[test]
    fn yaml_quotes_what_yaml_would_misread() {
        for (s, want) in [
            ("yes", "\"yes\""),
            ("0x1F", "\"0x1F\""),
            ("1e3", "\"1e3\""),
            ("1:20", "\"1:20\""),
            ("2021-10-27", "\"2021-10-27\""),
            ("null", "\"null\""),
            ("tab\there", "\"tab\\there\""),
            ("- x", "'- x'"),
            ("it's #1", "'it''s #1'"),
            ("it's", "it's"),
            ("a #b", "'a #b'"),
            ("kubia-7b5d8", "kubia-7b5d8"),
            ("10.1.2.3", "10.1.2.3"),
            (" lead", "' lead'"),
        ] {
            assert_eq!(to_yaml(&json!({ "k": s })), format!("k: {want}\n"), "{s}");
        }
        assert_eq!(to_yaml(&json!({"k": "a\n"})), "k: |\n  a\n");
        assert_eq!(to_yaml(&json!({"k": "a"})), "k: a\n");
        assert_eq!(to_yaml(&json!({"l": [["a", "b"], {}]})), "l:\n- - a\n  - b\n- {}\n");
        assert_eq!(to_yaml(&json!({"k": "x\ny"})), "k: |-\n  x\n  y\n");
    }

    #[test]
    fn json_output_matches_kubectl() {
        let obj = json!({"kind": "Pod", "metadata": {"labels": {}, "annotations": {"h": "<a&b>"}}, "items": []});
        let want = "{\n    \"items\": [],\n    \"kind\": \"Pod\",\n    \"metadata\": {\n        \"annotations\": {\n            \"h\": \"\\u003ca\\u0026b\\u003e\"\n        },\n        \"labels\": {}\n    }\n}\n";
        assert_eq!(to_json(&obj), want);
    }
}
