//! Reading YAML as Kubernetes reads it: every document becomes the JSON value
//! that sigs.k8s.io/yaml (go-yaml v2 underneath) would make of it.
//!
//! The syntax is `saphyr-parser`'s job; it reports each scalar's style, which
//! the resolution below needs. What a scalar *means* follows go-yaml v2, i.e.
//! YAML 1.1: a plain (unquoted) `0660` is the octal number 432, `0x1F` is 31,
//! `1_000` is 1000, `yes`/`on`/`y` are true and `no`/`off`/`n` are false,
//! `~` is null. Quoted and block scalars are always strings, unless a tag such
//! as `!!int` says otherwise. Mapping keys become strings, `<<` merges maps,
//! and numbers reach JSON as Go's encoder writes them (a whole float such as
//! `3.0` is written `3`, so an integer field accepts it).

use saphyr_parser::{Event, Parser, ScalarStyle, Span, Tag};
use serde_json::{Map, Number, Value};
use std::collections::HashMap;

/// A stream that is not YAML, or a document that no JSON value can hold.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}, column {column}: {message}")]
pub struct Error {
    /// 1-based, as editors count.
    pub line: usize,
    /// 1-based.
    pub column: usize,
    pub message: String,
}

impl Error {
    fn at(span: &Span, message: impl Into<String>) -> Self {
        Error { line: span.start.line(), column: span.start.col() + 1, message: message.into() }
    }
}

/// The one document of `text` (`null` when empty), as Kubernetes reads a
/// patch or an edited object; a stream of several is an error.
pub fn document(text: &str) -> Result<Value, Error> {
    let mut docs = documents(text)?;
    match docs.len() {
        0 => Ok(Value::Null),
        1 => Ok(docs.remove(0)),
        n => Err(Error { line: 1, column: 1, message: format!("expected one YAML document, found {n}") }),
    }
}

/// Every document of a YAML stream, in order; an empty document is `null`.
pub fn documents(text: &str) -> Result<Vec<Value>, Error> {
    let mut loader = Loader::default();
    for event in Parser::new_from_str(text) {
        let (event, span) = event.map_err(|e| Error {
            line: e.marker().line(),
            column: e.marker().col() + 1,
            message: problem_first(e.info()),
        })?;
        loader.event(event, &span)?;
    }
    Ok(loader.documents)
}

/// The parser says `while parsing a block mapping, did not find expected key`;
/// libyaml, whose port Kubernetes' go-yaml is, names the problem first.
fn problem_first(info: &str) -> String {
    match info.strip_prefix("while ").and_then(|rest| rest.split_once(", ")) {
        Some((context, problem)) => format!("{problem}, while {context}"),
        None => info.to_string(),
    }
}

/// A collection being filled, innermost last.
enum Frame {
    Seq { items: Vec<Value>, anchor: usize },
    Map { map: Map<String, Value>, merges: Vec<(Value, Span)>, key: Option<Key>, anchor: usize },
}

enum Key {
    /// With where it was written, for a duplicate's error.
    Name(String, Span),
    /// `<<`: the value's mappings are merged into this one.
    Merge(Span),
}

#[derive(Default)]
struct Loader {
    documents: Vec<Value>,
    stack: Vec<Frame>,
    root: Option<Value>,
    /// Anchored nodes by the parser's anchor id, for aliases.
    anchors: HashMap<usize, Value>,
}

impl Loader {
    fn event(&mut self, event: Event<'_>, span: &Span) -> Result<(), Error> {
        match event {
            Event::DocumentStart(_) => {
                self.root = None;
                self.anchors.clear();
            }
            Event::DocumentEnd => self.documents.push(self.root.take().unwrap_or(Value::Null)),
            Event::Scalar(text, style, anchor, tag) => {
                let at = |message| Error::at(span, message);
                let resolved = scalar(&text, style, tag.as_deref()).map_err(at)?;
                if self.expects_key() {
                    if anchor != 0 {
                        self.anchors.insert(anchor, scalar_json(resolved.clone(), &text).map_err(at)?);
                    }
                    let merge = tag.as_deref().map_or(style == ScalarStyle::Plain, |t| short_tag(t) == "!!merge");
                    let key = if merge && text == "<<" {
                        Key::Merge(*span)
                    } else {
                        Key::Name(scalar_key(resolved, &text), *span)
                    };
                    self.set_key(key);
                    return Ok(());
                }
                let value = scalar_json(resolved, &text).map_err(at)?;
                self.complete(value, anchor, span)?;
            }
            Event::Alias(id) => {
                // The parser has already refused aliases to unknown anchors.
                let value = self.anchors.get(&id).cloned().unwrap_or(Value::Null);
                self.complete(value, 0, span)?;
            }
            Event::SequenceStart(anchor, _) => {
                self.refuse_collection_key(span)?;
                self.stack.push(Frame::Seq { items: Vec::new(), anchor });
            }
            Event::MappingStart(anchor, _) => {
                self.refuse_collection_key(span)?;
                self.stack.push(Frame::Map { map: Map::new(), merges: Vec::new(), key: None, anchor });
            }
            Event::SequenceEnd => {
                if let Some(Frame::Seq { items, anchor }) = self.stack.pop() {
                    self.complete(Value::Array(items), anchor, span)?;
                }
            }
            Event::MappingEnd => {
                if let Some(Frame::Map { mut map, merges, anchor, .. }) = self.stack.pop() {
                    for (value, at) in merges {
                        merge(&mut map, value, &at)?;
                    }
                    self.complete(Value::Object(map), anchor, span)?;
                }
            }
            Event::StreamStart | Event::StreamEnd | Event::Nothing => {}
        }
        Ok(())
    }

    fn expects_key(&self) -> bool {
        matches!(self.stack.last(), Some(Frame::Map { key: None, .. }))
    }

    fn set_key(&mut self, k: Key) {
        if let Some(Frame::Map { key, .. }) = self.stack.last_mut() {
            *key = Some(k);
        }
    }

    /// sigs.k8s.io/yaml turns keys into JSON's strings; a list or map cannot be one.
    fn refuse_collection_key(&self, span: &Span) -> Result<(), Error> {
        if self.expects_key() {
            return Err(Error::at(span, "unsupported map key: a mapping key must be a scalar"));
        }
        Ok(())
    }

    /// Puts a finished node where it belongs: the document, a list, a key or a value.
    fn complete(&mut self, value: Value, anchor: usize, span: &Span) -> Result<(), Error> {
        if anchor != 0 {
            self.anchors.insert(anchor, value.clone());
        }
        match self.stack.last_mut() {
            None => self.root = Some(value),
            Some(Frame::Seq { items, .. }) => items.push(value),
            Some(Frame::Map { key: key @ None, .. }) => *key = Some(Key::Name(alias_key(value, span)?, *span)),
            Some(Frame::Map { map, merges, key: key @ Some(_), .. }) => match key.take() {
                Some(Key::Merge(at)) => merges.push((value, at)),
                Some(Key::Name(name, at)) => {
                    if map.contains_key(&name) {
                        // Refused, as go-yaml's strict decoding does; serde_yaml refused it too.
                        return Err(Error::at(&at, format!("key {name:?} already set in map")));
                    }
                    map.insert(name, value);
                }
                None => {}
            },
        }
        Ok(())
    }
}

/// A `<<` value: a map, or a list of maps where earlier ones win. Keys the
/// mapping sets itself always win, as the YAML merge key type says.
fn merge(into: &mut Map<String, Value>, value: Value, at: &Span) -> Result<(), Error> {
    let wrong = || Error::at(at, "map merge requires map or sequence of maps as the value");
    let sources = match value {
        Value::Object(m) => vec![m],
        Value::Array(items) => items
            .into_iter()
            .map(|v| if let Value::Object(m) = v { Ok(m) } else { Err(wrong()) })
            .collect::<Result<_, _>>()?,
        _ => return Err(wrong()),
    };
    for source in sources {
        for (k, v) in source {
            into.entry(k).or_insert(v);
        }
    }
    Ok(())
}

/// An alias used as a mapping key: the anchored scalar's JSON value as a string.
fn alias_key(value: Value, span: &Span) -> Result<String, Error> {
    Ok(match value {
        Value::String(s) => s,
        Value::Null => "null".to_string(),
        Value::Bool(_) | Value::Number(_) => value.to_string(),
        Value::Array(_) | Value::Object(_) => {
            return Err(Error::at(span, "unsupported map key: a mapping key must be a scalar"))
        }
    })
}

/// A float key as Go's `strconv.FormatFloat(f, 'g', -1, 32)` writes it
/// (`1.5`, `1e+06`), the way sigs.k8s.io/yaml names such keys.
fn go_float32_key(f: f64) -> String {
    let f = f as f32;
    if f.is_nan() {
        return ".nan".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { ".inf" } else { "-.inf" }.into();
    }
    let sci = format!("{f:e}");
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    if (-4..6).contains(&exp) {
        f.to_string()
    } else {
        format!("{mantissa}e{}{:02}", if exp < 0 { '-' } else { '+' }, exp.abs())
    }
}

/// What a scalar resolves to under go-yaml v2's rules.
#[derive(Debug, Clone, PartialEq)]
enum Resolved {
    Null,
    Bool(bool),
    Int(i64),
    /// Beyond `i64` but within `u64`, as Go's `ParseUint`.
    Uint(u64),
    Float(f64),
    /// A date or date-time; decoded untyped, go-yaml keeps its text.
    Timestamp,
    Str,
}

impl Resolved {
    fn tag(&self) -> &'static str {
        match self {
            Resolved::Null => "!!null",
            Resolved::Bool(_) => "!!bool",
            Resolved::Int(_) | Resolved::Uint(_) => "!!int",
            Resolved::Float(_) => "!!float",
            Resolved::Timestamp => "!!timestamp",
            Resolved::Str => "!!str",
        }
    }
}

/// What a scalar means: plain ones resolve, quoted and block ones are strings,
/// and a core tag (`!!int "12"`) resolves the text as that type or fails.
fn scalar(text: &str, style: ScalarStyle, tag: Option<&Tag>) -> Result<Resolved, String> {
    Ok(match tag.map(short_tag).as_deref() {
        None if style == ScalarStyle::Plain => resolve(text),
        None | Some("!!str" | "!!binary") => Resolved::Str,
        Some(want @ ("!!null" | "!!bool" | "!!int" | "!!float" | "!!timestamp")) => match resolve(text) {
            Resolved::Int(i) if want == "!!float" => Resolved::Float(i as f64),
            Resolved::Uint(u) if want == "!!float" => Resolved::Float(u as f64),
            r if r.tag() == want => r,
            r => return Err(format!("cannot decode {} `{text}` as a {want}", r.tag())),
        },
        // go-yaml leaves other tags' scalars as their text.
        Some(_) => Resolved::Str,
    })
}

/// A scalar value in JSON, as sigs.k8s.io/yaml hands it on.
fn scalar_json(resolved: Resolved, text: &str) -> Result<Value, String> {
    Ok(match resolved {
        Resolved::Null => Value::Null,
        Resolved::Bool(b) => Value::Bool(b),
        Resolved::Int(i) => Value::from(i),
        Resolved::Uint(u) => Value::from(u),
        Resolved::Float(f) => float_json(f)?,
        Resolved::Timestamp | Resolved::Str => Value::String(text.to_string()),
    })
}

/// A scalar mapping key as sigs.k8s.io/yaml writes it into JSON.
fn scalar_key(resolved: Resolved, text: &str) -> String {
    match resolved {
        Resolved::Int(i) => i.to_string(),
        Resolved::Uint(u) => u.to_string(),
        Resolved::Float(f) => go_float32_key(f),
        Resolved::Bool(b) => b.to_string(),
        // go-yaml refuses a null key outright; kubelab has always read it as "null".
        Resolved::Null => "null".to_string(),
        Resolved::Timestamp | Resolved::Str => text.to_string(),
    }
}

/// `!!int` for `tag:yaml.org,2002:int`; other tags as written.
fn short_tag(tag: &Tag) -> String {
    if tag.is_yaml_core_schema() {
        format!("!!{}", tag.suffix)
    } else {
        format!("{}{}", tag.handle, tag.suffix)
    }
}

/// A float as it comes out of Go's JSON encoder and back: whole numbers below
/// 1e21 are written without a fraction, so they read back as integers.
fn float_json(f: f64) -> Result<Value, String> {
    if !f.is_finite() {
        let go = if f.is_nan() {
            "NaN"
        } else if f > 0.0 {
            "+Inf"
        } else {
            "-Inf"
        };
        return Err(format!("json: unsupported value: {go}"));
    }
    if f.fract() == 0.0 && f.abs() < 1e21 {
        if f >= i64::MIN as f64 && f < i64::MAX as f64 {
            return Ok(Value::from(f as i64));
        }
        if f > 0.0 && f < u64::MAX as f64 {
            return Ok(Value::from(f as u64));
        }
    }
    Ok(Number::from_f64(f).map_or(Value::Null, Value::Number))
}

/// go-yaml v2's `resolve` for an untagged plain scalar. The first character
/// decides what it may be; anything else is a string.
fn resolve(text: &str) -> Resolved {
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return Resolved::Null,
        "y" | "Y" | "yes" | "Yes" | "YES" | "true" | "True" | "TRUE" | "on" | "On" | "ON" => {
            return Resolved::Bool(true)
        }
        "n" | "N" | "no" | "No" | "NO" | "false" | "False" | "FALSE" | "off" | "Off" | "OFF" => {
            return Resolved::Bool(false)
        }
        ".nan" | ".NaN" | ".NAN" => return Resolved::Float(f64::NAN),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => return Resolved::Float(f64::INFINITY),
        "-.inf" | "-.Inf" | "-.INF" => return Resolved::Float(f64::NEG_INFINITY),
        _ => {}
    }
    match text.as_bytes()[0] {
        b'.' if is_yaml_float(text) => match text.parse::<f64>() {
            Ok(f) if f.is_finite() => Resolved::Float(f),
            _ => Resolved::Str,
        },
        b'0'..=b'9' | b'+' | b'-' => {
            if super::is_timestamp(text) {
                return Resolved::Timestamp;
            }
            // YAML 1.1 lets underscores group digits anywhere.
            let plain = text.replace('_', "");
            if let Some(n) = go_parse_int(&plain) {
                return n;
            }
            if is_yaml_float(&plain) {
                // Go's ParseFloat fails on overflow, and the text stays a string.
                if let Ok(f) = plain.parse::<f64>() {
                    if f.is_finite() {
                        return Resolved::Float(f);
                    }
                }
            }
            Resolved::Str
        }
        _ => Resolved::Str,
    }
}

/// Go's `strconv.ParseInt(s, 0, 64)`, falling back to `ParseUint` as go-yaml
/// does: an optional sign, then `0x`/`0o`/`0b` or a leading `0` (octal) or decimal.
fn go_parse_int(s: &str) -> Option<Resolved> {
    let (negative, body) = match s.as_bytes().first()? {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    let b = body.as_bytes();
    let (digits, radix) = match b {
        [] => return None,
        [b'0', p, _, ..] if p.eq_ignore_ascii_case(&b'x') => (&body[2..], 16),
        [b'0', p, _, ..] if p.eq_ignore_ascii_case(&b'o') => (&body[2..], 8),
        [b'0', p, _, ..] if p.eq_ignore_ascii_case(&b'b') => (&body[2..], 2),
        [b'0', ..] => (&body[1..], 8),
        _ => (body, 10),
    };
    // `from_str_radix` would take a second sign; Go's parser does not.
    if !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    let magnitude = if digits.is_empty() { 0 } else { u64::from_str_radix(digits, radix).ok()? };
    if negative {
        // i64::MIN's magnitude is one more than i64::MAX.
        return (magnitude <= i64::MAX as u64 + 1).then(|| Resolved::Int((magnitude as i128).wrapping_neg() as i64));
    }
    Some(match i64::try_from(magnitude) {
        Ok(i) => Resolved::Int(i),
        // ParseUint takes no sign at all.
        Err(_) if !s.starts_with('+') => Resolved::Uint(magnitude),
        Err(_) => return None,
    })
}

/// `^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$`, go-yaml's float shape.
pub(super) fn is_yaml_float(s: &str) -> bool {
    let b = s.strip_prefix(['+', '-']).unwrap_or(s).as_bytes();
    let mut i = 0;
    let digits = |i: &mut usize| {
        let start = *i;
        while *i < b.len() && b[*i].is_ascii_digit() {
            *i += 1;
        }
        *i - start
    };
    if b.first() == Some(&b'.') {
        i += 1;
        if digits(&mut i) == 0 {
            return false;
        }
    } else {
        if digits(&mut i) == 0 {
            return false;
        }
        if b.get(i) == Some(&b'.') {
            i += 1;
            digits(&mut i);
        }
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        if digits(&mut i) == 0 {
            return false;
        }
    }
    i == b.len()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn one(text: &str) -> Value {
        documents(text).unwrap().remove(0)
    }

    fn value(plain: &str) -> Value {
        one(&format!("k: {plain}\n"))["k"].clone()
    }

    #[test]
    fn the_books_octal_mode_is_a_number_and_quoted_it_stays_a_string() {
        let vol = one("volumes:\n- name: config\n  configMap:\n    name: fortune-config\n    defaultMode: 0660\n\
             - name: quoted\n  configMap:\n    name: x\n    defaultMode: \"0660\"\n");
        assert_eq!(vol["volumes"][0]["configMap"]["defaultMode"], json!(432));
        assert!(vol["volumes"][0]["configMap"]["defaultMode"].is_i64());
        assert_eq!(vol["volumes"][1]["configMap"]["defaultMode"], json!("0660"));
        assert_eq!(value("'0660'"), json!("0660"));
        assert_eq!(value("!!str 0660"), json!("0660"));
    }

    #[test]
    fn plain_scalars_resolve_as_yaml_1_1() {
        for (plain, want) in [
            ("8080", json!(8080)),
            ("-5", json!(-5)),
            ("+5", json!(5)),
            ("0", json!(0)),
            ("-0", json!(0)),
            ("0x1F", json!(31)),
            ("0o17", json!(15)),
            ("0b101", json!(5)),
            ("-0b101", json!(-5)),
            ("1_000", json!(1000)),
            ("0777", json!(511)),
            ("-0660", json!(-432)),
            ("9223372036854775807", json!(i64::MAX)),
            ("-9223372036854775808", json!(i64::MIN)),
            ("18446744073709551615", json!(u64::MAX)),
            ("0.5", json!(0.5)),
            ("-1.5", json!(-1.5)),
            (".5", json!(0.5)),
            ("1e3", json!(1000)),
            ("2.5e-3", json!(0.0025)),
            // Not octal (8 is no octal digit), so a float, which JSON writes as 8.
            ("08", json!(8)),
            ("3.0", json!(3)),
            ("true", json!(true)),
            ("True", json!(true)),
            ("yes", json!(true)),
            ("on", json!(true)),
            ("Y", json!(true)),
            ("false", json!(false)),
            ("no", json!(false)),
            ("OFF", json!(false)),
            ("n", json!(false)),
            ("~", json!(null)),
            ("null", json!(null)),
            ("", json!(null)),
            // Strings: not numbers, timestamps, base-60 (unsupported by go-yaml) and near misses.
            ("1.2.3", json!("1.2.3")),
            ("10.1.2.3", json!("10.1.2.3")),
            ("0x", json!("0x")),
            ("0xZ", json!("0xZ")),
            ("1:20", json!("1:20")),
            ("2021-10-27", json!("2021-10-27")),
            ("2021-10-27T07:33:55Z", json!("2021-10-27T07:33:55Z")),
            ("1e400", json!("1e400")),
            ("+", json!("+")),
            ("yess", json!("yess")),
            ("nan", json!("nan")),
            ("0x+1", json!("0x+1")),
            ("kubia", json!("kubia")),
            ("'true'", json!("true")),
            ("\"8080\"", json!("8080")),
            ("|\n  0660", json!("0660\n")),
        ] {
            assert_eq!(value(plain), want, "{plain}");
        }
        assert!(value("-1.5").is_f64());
        assert!(value("8080").is_i64());
        assert!(value("18446744073709551615").is_u64());
        // Beyond u64: Go falls back to a float.
        assert_eq!(value("99999999999999999999"), json!(1e20));
    }

    #[test]
    fn tags_resolve_or_fail_as_go_yaml() {
        assert_eq!(value("!!int \"12\""), json!(12));
        assert_eq!(value("!!float 1"), json!(1));
        assert_eq!(value("!!bool yes"), json!(true));
        assert_eq!(value("!custom 12"), json!("12"));
        let err = documents("k: !!int abc\n").unwrap_err();
        assert_eq!(err, Error { line: 1, column: 4, message: "cannot decode !!str `abc` as a !!int".into() });
        let err = documents("k: .nan\n").unwrap_err();
        assert_eq!(err.message, "json: unsupported value: NaN");
    }

    #[test]
    fn keys_become_strings() {
        assert_eq!(
            one("80: a\ntrue: b\n1.5: c\n0x10: d\n1000000.0: e\n~: f\n"),
            json!({"80": "a", "true": "b", "1.5": "c", "16": "d", "1e+06": "e", "null": "f"})
        );
        // `yes` is `true` again.
        let err = documents("true: a\nyes: b\n").unwrap_err();
        assert_eq!(err, Error { line: 2, column: 1, message: "key \"true\" already set in map".into() });
        let err = documents("? [a]\n: b\n").unwrap_err();
        assert_eq!(err.line, 1);
    }

    #[test]
    fn anchors_aliases_and_merge_keys() {
        let doc = one("base: &base {image: luksa/kubia, ports: [8080]}\n\
             extra: &extra {name: x, image: other}\n\
             a: {<<: *base, name: kubia}\n\
             b: {name: own, <<: [*extra, *base]}\n\
             c: *base\n");
        assert_eq!(doc["a"], json!({"image": "luksa/kubia", "ports": [8080], "name": "kubia"}));
        assert_eq!(doc["b"], json!({"name": "own", "image": "other", "ports": [8080]}));
        assert_eq!(doc["c"], doc["base"]);
        assert!(documents("a: {<<: 1}\n").unwrap_err().message.starts_with("map merge requires"));
        // A quoted "<<" is an ordinary key.
        assert_eq!(one("'<<': x\n"), json!({"<<": "x"}));
    }

    #[test]
    fn documents_and_syntax_errors() {
        assert_eq!(documents("a: 1\n---\n---\nb: 2\n...\n").unwrap(), [json!({"a": 1}), json!(null), json!({"b": 2})]);
        assert!(documents("").unwrap().is_empty());
        let err = documents("metadata:\n  name: a\n   bad: b\n").unwrap_err();
        assert_eq!((err.line, err.column), (3, 7));
        assert_eq!(err.message, "mapping values are not allowed in this context");
    }
}
