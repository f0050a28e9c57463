//! Label and field selectors, parsed from kubectl's syntax and evaluated
//! (server side in the apiserver, client side in controllers).
//!
//! The label-selector grammar, its error messages and its canonical string form
//! follow Kubernetes' `labels.Parse` so that `-l` behaves and fails the same way,
//! and so that kubectl's SELECTOR columns print what Kubernetes prints.

use crate::error::{ApiError, Result};
use crate::registry::ResourceInfo;
use crate::validation::names;
use k8s_openapi::apimachinery::pkg::apis::meta::v1 as metav1;
use serde_json::Value;
use std::collections::BTreeMap;
use std::fmt;

/// How one requirement relates a label key to its values (`selection.Operator`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operator {
    Equals,
    DoubleEquals,
    NotEquals,
    In,
    NotIn,
    Exists,
    DoesNotExist,
    GreaterThan,
    LessThan,
}

/// One `key op values` term of a label selector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requirement {
    pub key: String,
    pub operator: Operator,
    /// Sorted and deduplicated, as Kubernetes keeps them (a string set).
    pub values: Vec<String>,
}

impl Requirement {
    /// Builds a requirement, checking the key, the values and their count as
    /// Kubernetes' `NewRequirement` does. The error text is Kubernetes' field errors.
    pub fn new(key: &str, operator: Operator, values: Vec<String>) -> Result<Self> {
        let mut values = values;
        values.sort();
        values.dedup();
        let mut errs: Vec<String> = Vec::new();
        if let Err(e) = check_label_key(key, "key") {
            errs.push(e);
        }
        let shown = go_string_slice(&values);
        match operator {
            Operator::In | Operator::NotIn if values.is_empty() => errs.push(format!(
                "values: Invalid value: {shown}: for 'in', 'notin' operators, values set can't be empty"
            )),
            Operator::Equals | Operator::DoubleEquals | Operator::NotEquals if values.len() != 1 => errs
                .push(format!("values: Invalid value: {shown}: exact-match compatibility requires one single value")),
            Operator::Exists | Operator::DoesNotExist if !values.is_empty() => errs.push(format!(
                "values: Invalid value: {shown}: values set must be empty for exists and does not exist"
            )),
            Operator::GreaterThan | Operator::LessThan => {
                if values.len() != 1 {
                    errs.push(format!(
                        "values: Invalid value: {shown}: for 'Gt', 'Lt' operators, exactly one value is required"
                    ));
                }
                for (i, v) in values.iter().enumerate() {
                    if v.parse::<i64>().is_err() {
                        errs.push(format!(
                            "values[{i}]: Invalid value: {v:?}: for 'Gt', 'Lt' operators, the value must be an integer"
                        ));
                    }
                }
            }
            _ => {}
        }
        for (i, v) in values.iter().enumerate() {
            for msg in names::label_value(v) {
                errs.push(format!("values[{i}][{key}]: Invalid value: {v:?}: {msg}"));
            }
        }
        match errs.len() {
            0 => Ok(Self { key: key.to_string(), operator, values }),
            1 => Err(ApiError::bad_request(errs.remove(0))),
            _ => Err(ApiError::bad_request(format!("[{}]", errs.join(", ")))),
        }
    }

    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        let got = labels.get(&self.key);
        match self.operator {
            Operator::Equals | Operator::DoubleEquals | Operator::In => got.is_some_and(|v| self.values.contains(v)),
            // Kubernetes: `!=` and `notin` also select objects that lack the key.
            Operator::NotEquals | Operator::NotIn => got.is_none_or(|v| !self.values.contains(v)),
            Operator::Exists => got.is_some(),
            Operator::DoesNotExist => got.is_none(),
            Operator::GreaterThan | Operator::LessThan => {
                let (Some(Ok(have)), Some(Ok(want))) =
                    (got.map(|v| v.parse::<i64>()), self.values.first().map(|v| v.parse::<i64>()))
                else {
                    return false;
                };
                if self.operator == Operator::GreaterThan {
                    have > want
                } else {
                    have < want
                }
            }
        }
    }
}

impl fmt::Display for Requirement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let values = self.values.join(",");
        match self.operator {
            Operator::Exists => write!(f, "{}", self.key),
            Operator::DoesNotExist => write!(f, "!{}", self.key),
            Operator::Equals => write!(f, "{}={values}", self.key),
            Operator::DoubleEquals => write!(f, "{}=={values}", self.key),
            Operator::NotEquals => write!(f, "{}!={values}", self.key),
            Operator::In => write!(f, "{} in ({values})", self.key),
            Operator::NotIn => write!(f, "{} notin ({values})", self.key),
            Operator::GreaterThan => write!(f, "{}>{values}", self.key),
            Operator::LessThan => write!(f, "{}<{values}", self.key),
        }
    }
}

/// A parsed label selector: all requirements must hold.
///
/// `nothing` is Kubernetes' `labels.Nothing()`, what a missing (null) selector in an
/// object means: it matches no object, unlike an empty selector that matches all.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LabelSelector {
    requirements: Vec<Requirement>,
    nothing: bool,
}

impl LabelSelector {
    /// Parses kubectl's `-l` syntax: `a=b,c!=d,e in (x,y),f notin (z),g,!h`.
    pub fn parse(s: &str) -> Result<Self> {
        let requirements = Parser::new(s).parse().map_err(ApiError::bad_request)?;
        Ok(Self::from_requirements(requirements))
    }

    /// From a Kubernetes `LabelSelector` (matchLabels and matchExpressions).
    pub fn from_k8s(sel: &metav1::LabelSelector) -> Result<Self> {
        let mut reqs = Vec::new();
        for (k, v) in sel.match_labels.iter().flatten() {
            reqs.push(Requirement::new(k, Operator::Equals, vec![v.clone()])?);
        }
        for expr in sel.match_expressions.iter().flatten() {
            let op = match expr.operator.as_str() {
                "In" => Operator::In,
                "NotIn" => Operator::NotIn,
                "Exists" => Operator::Exists,
                "DoesNotExist" => Operator::DoesNotExist,
                other => {
                    return Err(ApiError::bad_request(format!("{other:?} is not a valid label selector operator")))
                }
            };
            reqs.push(Requirement::new(&expr.key, op, expr.values.clone().unwrap_or_default())?);
        }
        Ok(Self::from_requirements(reqs))
    }

    /// Like [`from_k8s`](Self::from_k8s) for a selector held as JSON; `None` or `null`
    /// gives the selector that matches nothing, as Kubernetes treats a nil selector.
    pub fn from_json(sel: Option<&Value>) -> Result<Self> {
        match sel {
            None | Some(Value::Null) => Ok(Self::nothing()),
            Some(v) => {
                let typed: metav1::LabelSelector = serde_json::from_value(v.clone())
                    .map_err(|e| ApiError::bad_request(format!("invalid label selector: {e}")))?;
                Self::from_k8s(&typed)
            }
        }
    }

    /// Equality on every pair (an RC's `spec.selector`).
    pub fn from_map(map: &BTreeMap<String, String>) -> Self {
        let requirements = map
            .iter()
            .map(|(k, v)| Requirement { key: k.clone(), operator: Operator::Equals, values: vec![v.clone()] })
            .collect();
        Self { requirements, nothing: false }
    }

    /// The selector that matches no object (Kubernetes' `labels.Nothing()`).
    pub fn nothing() -> Self {
        Self { requirements: vec![], nothing: true }
    }

    fn from_requirements(mut requirements: Vec<Requirement>) -> Self {
        // Kubernetes sorts by key (stably) so the string form is deterministic.
        requirements.sort_by(|a, b| a.key.cmp(&b.key));
        Self { requirements, nothing: false }
    }

    /// True when the selector does not restrict anything (it matches every object).
    pub fn is_empty(&self) -> bool {
        !self.nothing && self.requirements.is_empty()
    }

    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        !self.nothing && self.requirements.iter().all(|r| r.matches(labels))
    }

    pub fn requirements(&self) -> &[Requirement] {
        &self.requirements
    }
}

impl fmt::Display for LabelSelector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, r) in self.requirements.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{r}")?;
        }
        Ok(())
    }
}

/// Renders a string list as Go's `%#v` does (`[]string{"a", "b"}`), which is how
/// Kubernetes shows selector values in its errors.
fn go_string_slice(values: &[String]) -> String {
    let inner: Vec<String> = values.iter().map(|v| format!("{v:?}")).collect();
    format!("[]string{{{}}}", inner.join(", "))
}

/// Checks a label key as `validateLabelKey`; `field` is the path Kubernetes names.
fn check_label_key(key: &str, field: &str) -> std::result::Result<(), String> {
    let errs = names::qualified_name(key);
    if errs.is_empty() {
        Ok(())
    } else {
        Err(format!("{field}: Invalid value: {key:?}: {}", errs.join("; ")))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Token {
    Error,
    End,
    ClosedPar,
    Comma,
    DoesNotExist,
    DoubleEquals,
    Equals,
    GreaterThan,
    Identifier,
    In,
    LessThan,
    NotEquals,
    NotIn,
    OpenPar,
}

fn is_special(c: u8) -> bool {
    matches!(c, b'=' | b'!' | b'(' | b')' | b',' | b'>' | b'<')
}

fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\r' | b'\n')
}

fn symbol(s: &str) -> Option<Token> {
    Some(match s {
        ")" => Token::ClosedPar,
        "," => Token::Comma,
        "!" => Token::DoesNotExist,
        "==" => Token::DoubleEquals,
        "=" => Token::Equals,
        ">" => Token::GreaterThan,
        "in" => Token::In,
        "<" => Token::LessThan,
        "!=" => Token::NotEquals,
        "notin" => Token::NotIn,
        "(" => Token::OpenPar,
        _ => return None,
    })
}

/// Splits the selector into tokens the way Kubernetes' lexer does: runs of
/// special characters form the longest operator they spell, anything else up to
/// whitespace or a special character is an identifier (or the keywords in/notin).
fn lex(s: &str) -> Vec<(Token, String)> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    loop {
        while i < b.len() && is_space(b[i]) {
            i += 1;
        }
        if i >= b.len() {
            out.push((Token::End, String::new()));
            return out;
        }
        if is_special(b[i]) {
            let start = i;
            let mut best: Option<(Token, usize)> = None;
            while i < b.len() && is_special(b[i]) {
                match symbol(&s[start..=i]) {
                    Some(t) => best = Some((t, i + 1)),
                    None if best.is_some() => break,
                    None => {}
                }
                i += 1;
            }
            match best {
                Some((t, end)) => {
                    out.push((t, s[start..end].to_string()));
                    i = end;
                }
                None => out.push((Token::Error, format!("error expected: keyword found '{}'", &s[start..i]))),
            }
        } else {
            let start = i;
            while i < b.len() && !is_special(b[i]) && !is_space(b[i]) {
                i += 1;
            }
            let word = &s[start..i];
            let tok = match symbol(word) {
                Some(t @ (Token::In | Token::NotIn)) => t,
                _ => Token::Identifier,
            };
            out.push((tok, word.to_string()));
        }
    }
}

/// Whether `in`/`notin` are keywords (after a key) or plain values.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Context {
    KeyAndOperator,
    Values,
}

struct Parser {
    items: Vec<(Token, String)>,
    pos: usize,
}

type ParseResult<T> = std::result::Result<T, String>;

impl Parser {
    fn new(s: &str) -> Self {
        Self { items: lex(s), pos: 0 }
    }

    fn lookahead(&self, ctx: Context) -> (Token, String) {
        let (t, l) = self.items[self.pos.min(self.items.len() - 1)].clone();
        (Self::in_context(t, ctx), l)
    }

    fn consume(&mut self, ctx: Context) -> (Token, String) {
        let item = self.lookahead(ctx);
        if self.pos < self.items.len() - 1 {
            self.pos += 1;
        }
        item
    }

    fn in_context(t: Token, ctx: Context) -> Token {
        match t {
            Token::In | Token::NotIn if ctx == Context::Values => Token::Identifier,
            t => t,
        }
    }

    fn parse(&mut self) -> ParseResult<Vec<Requirement>> {
        let mut reqs = Vec::new();
        loop {
            let (tok, lit) = self.lookahead(Context::Values);
            match tok {
                Token::Identifier | Token::DoesNotExist => {
                    let r = self.parse_requirement().map_err(|e| format!("unable to parse requirement: {e}"))?;
                    reqs.push(r);
                    let (t, l) = self.consume(Context::Values);
                    match t {
                        Token::End => return Ok(reqs),
                        Token::Comma => {
                            let (t2, l2) = self.lookahead(Context::Values);
                            if t2 != Token::Identifier && t2 != Token::DoesNotExist {
                                return Err(format!("found '{l2}', expected: identifier after ','"));
                            }
                        }
                        _ => return Err(format!("found '{l}', expected: ',' or 'end of string'")),
                    }
                }
                Token::End => return Ok(reqs),
                _ => return Err(format!("found '{lit}', expected: !, identifier, or 'end of string'")),
            }
        }
    }

    fn parse_requirement(&mut self) -> ParseResult<Requirement> {
        let (key, inferred) = self.parse_key_and_infer_operator()?;
        if let Some(op) = inferred {
            return Requirement::new(&key, op, vec![]).map_err(|e| e.message);
        }
        let op = self.parse_operator()?;
        let values = match op {
            Operator::In | Operator::NotIn => self.parse_values()?,
            _ => self.parse_exact_value()?,
        };
        Requirement::new(&key, op, values).map_err(|e| e.message)
    }

    /// Reads `[!]key`; a key followed by `,` or the end means "exists".
    fn parse_key_and_infer_operator(&mut self) -> ParseResult<(String, Option<Operator>)> {
        let (mut tok, mut lit) = self.consume(Context::Values);
        let negated = tok == Token::DoesNotExist;
        if negated {
            (tok, lit) = self.consume(Context::Values);
        }
        if tok != Token::Identifier {
            return Err(format!("found '{lit}', expected: identifier"));
        }
        // The parser has no field path, which Kubernetes prints as `<nil>`.
        check_label_key(&lit, "<nil>")?;
        let (next, _) = self.lookahead(Context::Values);
        let op = if negated {
            Some(Operator::DoesNotExist)
        } else if matches!(next, Token::End | Token::Comma) {
            Some(Operator::Exists)
        } else {
            None
        };
        Ok((lit, op))
    }

    fn parse_operator(&mut self) -> ParseResult<Operator> {
        let (tok, lit) = self.consume(Context::KeyAndOperator);
        Ok(match tok {
            Token::In => Operator::In,
            Token::Equals => Operator::Equals,
            Token::DoubleEquals => Operator::DoubleEquals,
            Token::GreaterThan => Operator::GreaterThan,
            Token::LessThan => Operator::LessThan,
            Token::NotIn => Operator::NotIn,
            Token::NotEquals => Operator::NotEquals,
            _ => return Err(format!("found '{lit}', expected: '=', '!=', '==', 'in', notin'")),
        })
    }

    fn parse_values(&mut self) -> ParseResult<Vec<String>> {
        let (tok, lit) = self.consume(Context::Values);
        if tok != Token::OpenPar {
            return Err(format!("found '{lit}' expected: '('"));
        }
        let (tok, lit) = self.lookahead(Context::Values);
        match tok {
            Token::Identifier | Token::Comma => {
                let values = self.parse_identifiers_list()?;
                let (tok, _) = self.consume(Context::Values);
                if tok != Token::ClosedPar {
                    return Err(format!("found '{lit}', expected: ')'"));
                }
                Ok(values)
            }
            Token::ClosedPar => {
                self.consume(Context::Values);
                Ok(vec![String::new()])
            }
            _ => Err(format!("found '{lit}', expected: ',', ')' or identifier")),
        }
    }

    /// A comma-separated list where empty entries stand for the empty value.
    fn parse_identifiers_list(&mut self) -> ParseResult<Vec<String>> {
        let mut values: Vec<String> = Vec::new();
        loop {
            let (tok, lit) = self.consume(Context::Values);
            match tok {
                Token::Identifier => {
                    values.push(lit);
                    let (t2, l2) = self.lookahead(Context::Values);
                    match t2 {
                        Token::Comma => continue,
                        Token::ClosedPar => return Ok(values),
                        _ => return Err(format!("found '{l2}', expected: ',' or ')'")),
                    }
                }
                Token::Comma => {
                    if values.is_empty() {
                        values.push(String::new());
                    }
                    let (t2, _) = self.lookahead(Context::Values);
                    if t2 == Token::ClosedPar {
                        values.push(String::new());
                        return Ok(values);
                    }
                    if t2 == Token::Comma {
                        self.consume(Context::Values);
                        values.push(String::new());
                    }
                }
                _ => return Err(format!("found '{lit}', expected: ',', or identifier")),
            }
        }
    }

    fn parse_exact_value(&mut self) -> ParseResult<Vec<String>> {
        let (tok, _) = self.lookahead(Context::Values);
        if matches!(tok, Token::End | Token::Comma) {
            return Ok(vec![String::new()]);
        }
        let (tok, lit) = self.consume(Context::Values);
        if tok == Token::Identifier {
            Ok(vec![lit])
        } else {
            Err(format!("found '{lit}', expected: identifier"))
        }
    }
}

/// One `field op value` term of a field selector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldRequirement {
    pub field: String,
    /// `false` for `=`/`==`, `true` for `!=`.
    pub negated: bool,
    pub value: String,
}

/// A parsed field selector (`metadata.name=x,status.phase!=Running`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldSelector {
    requirements: Vec<FieldRequirement>,
}

/// The fields each kind can be selected on, beyond `metadata.name` and
/// `metadata.namespace` (Kubernetes' per-resource field label conversions).
fn supported_fields(kind: &str) -> &'static [&'static str] {
    match kind {
        "Pod" => &[
            "spec.nodeName",
            "spec.restartPolicy",
            "spec.schedulerName",
            "spec.serviceAccountName",
            "spec.hostNetwork",
            "status.phase",
            "status.podIP",
            "status.podIPs",
            "status.nominatedNodeName",
        ],
        "Node" => &["spec.unschedulable"],
        "Event" => &[
            "involvedObject.kind",
            "involvedObject.namespace",
            "involvedObject.name",
            "involvedObject.uid",
            "involvedObject.apiVersion",
            "involvedObject.resourceVersion",
            "involvedObject.fieldPath",
            "reason",
            "reportingComponent",
            "source",
            "type",
        ],
        "Namespace" => &["status.phase"],
        "Job" => &["status.successful"],
        "ReplicationController" | "ReplicaSet" => &["status.replicas"],
        _ => &[],
    }
}

impl FieldSelector {
    /// Parses and checks that every field is supported for this resource.
    pub fn parse(info: &ResourceInfo, s: &str) -> Result<Self> {
        let mut requirements = Vec::new();
        for term in split_terms(s) {
            let term = term.trim();
            if term.is_empty() {
                continue;
            }
            let (field, negated, value) = if let Some((f, v)) = term.split_once("!=") {
                (f, true, v)
            } else if let Some((f, v)) = term.split_once("==") {
                (f, false, v)
            } else if let Some((f, v)) = term.split_once('=') {
                (f, false, v)
            } else {
                return Err(ApiError::bad_request(format!("invalid selector: '{s}'; can't understand '{term}'")));
            };
            let field = field.trim();
            let known =
                matches!(field, "metadata.name" | "metadata.namespace") || supported_fields(info.kind).contains(&field);
            if !known {
                return Err(ApiError::bad_request(format!("field label not supported: {field}")));
            }
            requirements.push(FieldRequirement {
                field: field.to_string(),
                negated,
                value: unescape_field_value(value.trim()),
            });
        }
        Ok(Self { requirements })
    }

    pub fn is_empty(&self) -> bool {
        self.requirements.is_empty()
    }

    pub fn matches(&self, obj: &Value) -> bool {
        self.requirements.iter().all(|r| (field_value(obj, &r.field) == r.value) != r.negated)
    }

    pub fn requirements(&self) -> &[FieldRequirement] {
        &self.requirements
    }
}

impl fmt::Display for FieldSelector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, r) in self.requirements.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{}{}{}", r.field, if r.negated { "!=" } else { "=" }, r.value)?;
        }
        Ok(())
    }
}

/// Splits on commas that are not escaped with a backslash (Kubernetes lets
/// field values contain `\,` and `\=`).
fn split_terms(s: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut escaped = false;
    for (i, c) in s.char_indices() {
        match c {
            '\\' if !escaped => escaped = true,
            ',' if !escaped => {
                out.push(&s[start..i]);
                start = i + 1;
            }
            _ => escaped = false,
        }
    }
    out.push(&s[start..]);
    out
}

fn unescape_field_value(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    let mut chars = v.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            if let Some(n) = chars.next() {
                out.push(n);
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// A field's value as the selector compares it: absent is "", scalars as text.
fn field_value(obj: &Value, field: &str) -> String {
    // Kubernetes' `source` field of events is `source.component`.
    let path = if field == "source" { "source.component" } else { field };
    let mut cur = obj;
    for part in path.split('.') {
        match cur.get(part) {
            Some(v) => cur = v,
            None => return String::new(),
        }
    }
    match cur {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::lookup;
    use serde_json::json;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn every_operator_matches_as_kubernetes() {
        let kubia = labels(&[("app", "kubia"), ("env", "prod"), ("rel", "3")]);
        let bare = labels(&[]);
        // (selector, matches kubia, matches an object without labels)
        let table = [
            ("", true, true),
            ("app=kubia", true, false),
            ("app==kubia", true, false),
            ("app=other", false, false),
            ("app!=kubia", false, true),
            ("app!=other", true, true),
            ("env in (dev,prod)", true, false),
            ("env in (dev)", false, false),
            ("env notin (dev)", true, true),
            ("env notin (prod,dev)", false, true),
            ("app", true, false),
            ("!app", false, true),
            ("!missing", true, true),
            ("rel>2", true, false),
            ("rel<3", false, false),
            ("app=kubia,env in (prod),!gpu", true, false),
            ("  app = kubia ,  env  in ( prod , dev )  ", true, false),
            ("x in (in,notin)", false, false),
        ];
        for (sel, want_kubia, want_bare) in table {
            let s = LabelSelector::parse(sel).unwrap_or_else(|e| panic!("{sel}: {e}"));
            assert_eq!(s.matches(&kubia), want_kubia, "{sel:?} on kubia");
            assert_eq!(s.matches(&bare), want_bare, "{sel:?} on no labels");
        }
    }

    #[test]
    fn canonical_string_is_sorted_by_key() {
        for (input, want) in [
            ("env in (prod,dev),app=kubia", "app=kubia,env in (dev,prod)"),
            ("app==kubia", "app==kubia"),
            ("!b, a, c notin (z,y)", "a,!b,c notin (y,z)"),
            ("tier=", "tier="),
            ("x in (,a)", "x in (,a)"),
            ("", ""),
        ] {
            assert_eq!(LabelSelector::parse(input).unwrap().to_string(), want, "{input}");
        }
        let s = LabelSelector::from_map(&labels(&[("env", "prod"), ("app", "kubia")]));
        assert_eq!(s.to_string(), "app=kubia,env=prod");
    }

    #[test]
    fn bad_syntax_fails_in_kubernetes_words() {
        let qualified = "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and \
                         end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used \
                         for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')";
        let table = [
            ("app=", None),
            ("app=kubia,", Some("found '', expected: identifier after ','".to_string())),
            ("app kubia", Some("unable to parse requirement: found 'kubia', expected: '=', '!=', '==', 'in', notin'".into())),
            ("=kubia", Some("found '=', expected: !, identifier, or 'end of string'".into())),
            ("env in prod", Some("unable to parse requirement: found 'prod' expected: '('".into())),
            ("env in (prod", Some("unable to parse requirement: found '', expected: ',' or ')'".into())),
            ("a=b c", Some("found 'c', expected: ',' or 'end of string'".into())),
            ("a b=c", Some("unable to parse requirement: found 'b', expected: '=', '!=', '==', 'in', notin'".into())),
            ("bad_key_=x", Some(format!("unable to parse requirement: <nil>: Invalid value: \"bad_key_\": {qualified}"))),
            ("a=b$", Some("unable to parse requirement: values[0][a]: Invalid value: \"b$\": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')".into())),
            ("rel>x", Some("unable to parse requirement: values[0]: Invalid value: \"x\": for 'Gt', 'Lt' operators, the value must be an integer".into())),
        ];
        for (input, want) in table {
            match (LabelSelector::parse(input), want) {
                (Ok(_), None) => {}
                (Err(e), Some(w)) => {
                    assert_eq!(e.message, w, "{input}");
                    assert_eq!(e.code(), 400);
                }
                (got, want) => panic!("{input}: got {got:?}, want {want:?}"),
            }
        }
    }

    #[test]
    fn kubernetes_selectors_convert() {
        let sel: metav1::LabelSelector = serde_json::from_value(json!({
            "matchLabels": {"app": "kubia"},
            "matchExpressions": [{"key": "env", "operator": "In", "values": ["prod", "dev"]},
                                 {"key": "gpu", "operator": "DoesNotExist"}]
        }))
        .unwrap();
        let s = LabelSelector::from_k8s(&sel).unwrap();
        assert_eq!(s.to_string(), "app=kubia,env in (dev,prod),!gpu");
        assert!(s.matches(&labels(&[("app", "kubia"), ("env", "dev")])));
        assert!(!s.matches(&labels(&[("app", "kubia"), ("env", "dev"), ("gpu", "y")])));

        let bad = |op: &str, values: Value| {
            let sel: metav1::LabelSelector =
                serde_json::from_value(json!({"matchExpressions": [{"key": "env", "operator": op, "values": values}]}))
                    .unwrap();
            LabelSelector::from_k8s(&sel).unwrap_err().message
        };
        assert_eq!(
            bad("In", json!([])),
            "values: Invalid value: []string{}: for 'in', 'notin' operators, values set can't be empty"
        );
        assert_eq!(
            bad("Exists", json!(["x"])),
            "values: Invalid value: []string{\"x\"}: values set must be empty for exists and does not exist"
        );
        assert_eq!(bad("Near", json!([])), "\"Near\" is not a valid label selector operator");

        assert!(LabelSelector::from_json(Some(&json!({}))).unwrap().is_empty());
        let nothing = LabelSelector::from_json(None).unwrap();
        assert!(!nothing.is_empty() && !nothing.matches(&labels(&[])));
    }

    #[test]
    fn field_selectors_read_the_object() {
        let pods = lookup("pods").unwrap();
        let pod = json!({"metadata": {"name": "kubia", "namespace": "default"},
                         "spec": {"nodeName": "n1"}, "status": {"phase": "Running"}});
        let pending = json!({"metadata": {"name": "other"}, "status": {}});
        for (sel, on_pod, on_pending) in [
            ("", true, true),
            ("metadata.name=kubia", true, false),
            ("metadata.name==kubia", true, false),
            ("metadata.name!=kubia", false, true),
            ("status.phase=Running,spec.nodeName=n1", true, false),
            ("spec.nodeName=", false, true),
            (" status.phase != Running ", false, true),
        ] {
            let s = FieldSelector::parse(pods, sel).unwrap();
            assert_eq!(s.matches(&pod), on_pod, "{sel}");
            assert_eq!(s.matches(&pending), on_pending, "{sel}");
        }
        let nodes = lookup("nodes").unwrap();
        let cordoned = json!({"metadata": {"name": "n"}, "spec": {"unschedulable": true}});
        assert!(FieldSelector::parse(nodes, "spec.unschedulable=true").unwrap().matches(&cordoned));
        assert!(FieldSelector::parse(nodes, "spec.unschedulable!=true").unwrap().matches(&json!({})));
        let events = lookup("events").unwrap();
        let ev = json!({"involvedObject": {"kind": "Pod", "name": "kubia"}, "source": {"component": "kubelet"}});
        assert!(FieldSelector::parse(events, "involvedObject.name=kubia,source=kubelet").unwrap().matches(&ev));
    }

    #[test]
    fn unsupported_fields_fail_as_kubernetes() {
        let svc = lookup("services").unwrap();
        let e = FieldSelector::parse(svc, "spec.type=NodePort").unwrap_err();
        assert_eq!(e.message, "field label not supported: spec.type");
        assert_eq!(e.code(), 400);
        let e = FieldSelector::parse(svc, "metadata.name").unwrap_err();
        assert_eq!(e.message, "invalid selector: 'metadata.name'; can't understand 'metadata.name'");
    }
}
