//! kubectl's JSONPath templates (`-o jsonpath=...`, custom columns, `--sort-by`):
//! text with `{...}` actions holding paths (`.a.b`, `['a.b']`, `[0]`, `[-1]`,
//! `[1:3]`, `[*]`, `..name`, filters `[?(@.type=="Ready")]`), string literals
//! (`{"\n"}`) and `{range ...}...{end}` loops. Missing keys print nothing, as
//! `kubectl get` sets `allowMissingKeys`.

use serde_json::Value;
use std::cmp::Ordering;

/// Why a JSONPath template does not parse, in kubectl's words.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("unclosed action")]
    UnclosedAction,
    #[error("not in range, nothing to end")]
    EndOutsideRange,
    #[error("unclosed range, expected {{end}}")]
    UnclosedRange,
    #[error("unterminated string")]
    UnterminatedString,
    #[error("expected a string")]
    ExpectedString,
    #[error("unclosed array expect ]")]
    UnclosedArray,
    #[error("invalid filter")]
    InvalidFilter,
    #[error("unrecognized character in action: {0}")]
    UnrecognizedCharacter(String),
    #[error("invalid array index {0}")]
    InvalidIndex(String),
    #[error("unrecognized filter operand {0}")]
    UnrecognizedOperand(String),
}

/// A parsed template.
#[derive(Debug, Clone, PartialEq)]
pub struct Template {
    nodes: Vec<Node>,
}

#[derive(Debug, Clone, PartialEq)]
enum Node {
    Text(String),
    Path(Vec<Segment>),
    Range(Vec<Segment>, Vec<Node>),
}

#[derive(Debug, Clone, PartialEq)]
enum Segment {
    Root,
    Current,
    Field(String),
    Fields(Vec<String>),
    Recursive(String),
    Wildcard,
    Indexes(Vec<i64>),
    Slice(Option<i64>, Option<i64>, i64),
    Filter(Filter),
}

#[derive(Debug, Clone, PartialEq)]
struct Filter {
    left: Operand,
    op: Option<(Op, Operand)>,
}

#[derive(Debug, Clone, PartialEq)]
enum Operand {
    Path(Vec<Segment>),
    Literal(Value),
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl Template {
    /// Parses a template; the error reads as kubectl's (`unclosed action`, ...).
    pub fn parse(text: &str) -> Result<Self, ParseError> {
        let mut actions = Vec::new();
        let mut rest = text;
        while let Some(open) = rest.find('{') {
            if open > 0 {
                actions.push(Piece::Text(rest[..open].to_string()));
            }
            let close = matching_close(rest, open).ok_or(ParseError::UnclosedAction)?;
            actions.push(Piece::Action(rest[open + 1..close].trim().to_string()));
            rest = &rest[close + 1..];
        }
        if !rest.is_empty() {
            actions.push(Piece::Text(rest.to_string()));
        }
        let mut iter = actions.into_iter();
        let nodes = build(&mut iter, false)?;
        Ok(Self { nodes })
    }

    /// Parses a custom-columns or `--sort-by` expression, which may omit the braces and the leading dot.
    pub fn parse_field(spec: &str) -> Result<Self, ParseError> {
        if spec.starts_with('{') {
            return Self::parse(spec);
        }
        let path = if spec.starts_with('.') || spec.starts_with('[') { spec.to_string() } else { format!(".{spec}") };
        Self::parse(&format!("{{{path}}}"))
    }

    /// Renders the template against `root`.
    pub fn render(&self, root: &Value) -> String {
        let mut out = String::new();
        render_nodes(&self.nodes, root, root, &mut out);
        out
    }

    /// The values each action yields, for custom columns (no text, no ranges).
    pub fn values(&self, root: &Value) -> Vec<Value> {
        let mut values = Vec::new();
        for node in &self.nodes {
            if let Node::Path(segs) = node {
                values.extend(eval(segs, root, root));
            }
        }
        values
    }
}

enum Piece {
    Text(String),
    Action(String),
}

fn matching_close(s: &str, open: usize) -> Option<usize> {
    let mut quote: Option<char> = None;
    let mut escaped = false;
    for (i, c) in s[open + 1..].char_indices() {
        match quote {
            Some(q) => {
                if escaped {
                    escaped = false;
                } else if c == '\\' {
                    escaped = true;
                } else if c == q {
                    quote = None;
                }
            }
            None if c == '"' || c == '\'' => quote = Some(c),
            None if c == '}' => return Some(open + 1 + i),
            None => {}
        }
    }
    None
}

fn build(pieces: &mut impl Iterator<Item = Piece>, in_range: bool) -> Result<Vec<Node>, ParseError> {
    let mut nodes = Vec::new();
    while let Some(piece) = pieces.next() {
        match piece {
            Piece::Text(t) => nodes.push(Node::Text(t)),
            Piece::Action(a) if a == "end" => {
                if in_range {
                    return Ok(nodes);
                }
                return Err(ParseError::EndOutsideRange);
            }
            Piece::Action(a) => {
                if let Some(expr) = a.strip_prefix("range ") {
                    let segs = parse_path(expr.trim())?;
                    let body = build(pieces, true)?;
                    nodes.push(Node::Range(segs, body));
                } else if a.starts_with('"') || a.starts_with('\'') {
                    nodes.push(Node::Text(parse_string(&a)?.0));
                } else if a.is_empty() {
                    continue;
                } else {
                    nodes.push(Node::Path(parse_path(&a)?));
                }
            }
        }
    }
    if in_range {
        return Err(ParseError::UnclosedRange);
    }
    Ok(nodes)
}

/// Parses a quoted string at the start of `s`, returning it and the rest.
fn parse_string(s: &str) -> Result<(String, &str), ParseError> {
    let quote = s.chars().next().ok_or(ParseError::ExpectedString)?;
    let mut out = String::new();
    let mut chars = s[1..].char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some((_, 'n')) => out.push('\n'),
                Some((_, 't')) => out.push('\t'),
                Some((_, 'r')) => out.push('\r'),
                Some((_, other)) => out.push(other),
                None => return Err(ParseError::UnterminatedString),
            },
            c if c == quote => return Ok((out, &s[1 + i + 1..])),
            c => out.push(c),
        }
    }
    Err(ParseError::UnterminatedString)
}

fn parse_path(expr: &str) -> Result<Vec<Segment>, ParseError> {
    let mut segs = Vec::new();
    let bytes: Vec<char> = expr.chars().collect();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            '$' => {
                segs.push(Segment::Root);
                i += 1;
            }
            '@' => {
                segs.push(Segment::Current);
                i += 1;
            }
            '.' if bytes.get(i + 1) == Some(&'.') => {
                let (name, next) = read_name(&bytes, i + 2);
                if name.is_empty() {
                    return Err(ParseError::UnrecognizedCharacter(expr.to_string()));
                }
                segs.push(Segment::Recursive(name));
                i = next;
            }
            '.' => {
                if bytes.get(i + 1) == Some(&'*') {
                    segs.push(Segment::Wildcard);
                    i += 2;
                    continue;
                }
                let (name, next) = read_name(&bytes, i + 1);
                if !name.is_empty() {
                    segs.push(Segment::Field(name));
                }
                i = next;
            }
            '[' => {
                let close = find_bracket_end(&bytes, i).ok_or(ParseError::UnclosedArray)?;
                let inner: String = bytes[i + 1..close].iter().collect();
                segs.push(parse_bracket(inner.trim())?);
                i = close + 1;
            }
            c if c.is_whitespace() => i += 1,
            _ => {
                // A bare name at the start (`{metadata.name}` in custom columns is massaged, but be lenient).
                let (name, next) = read_name(&bytes, i);
                if name.is_empty() {
                    return Err(ParseError::UnrecognizedCharacter(expr.to_string()));
                }
                segs.push(Segment::Field(name));
                i = next;
            }
        }
    }
    Ok(segs)
}

fn read_name(chars: &[char], mut i: usize) -> (String, usize) {
    let mut name = String::new();
    while i < chars.len() {
        match chars[i] {
            '\\' if i + 1 < chars.len() => {
                name.push(chars[i + 1]);
                i += 2;
            }
            '.' | '[' | ' ' | '\t' | ']' | ')' | '=' | '!' | '<' | '>' => break,
            c => {
                name.push(c);
                i += 1;
            }
        }
    }
    (name, i)
}

fn find_bracket_end(chars: &[char], open: usize) -> Option<usize> {
    let mut depth = 0;
    let mut quote: Option<char> = None;
    for (i, &c) in chars.iter().enumerate().skip(open) {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None => match c {
                '\'' | '"' => quote = Some(c),
                '[' => depth += 1,
                ']' => {
                    depth -= 1;
                    if depth == 0 {
                        return Some(i);
                    }
                }
                _ => {}
            },
        }
    }
    None
}

fn parse_bracket(inner: &str) -> Result<Segment, ParseError> {
    if inner == "*" {
        return Ok(Segment::Wildcard);
    }
    if let Some(f) = inner.strip_prefix('?') {
        let f = f.trim();
        let body = f.strip_prefix('(').and_then(|b| b.strip_suffix(')')).ok_or(ParseError::InvalidFilter)?;
        return Ok(Segment::Filter(parse_filter(body.trim())?));
    }
    if inner.starts_with('\'') || inner.starts_with('"') {
        let mut names = Vec::new();
        let mut rest = inner;
        loop {
            let (name, after) = parse_string(rest.trim_start())?;
            names.push(name);
            let after = after.trim_start();
            match after.strip_prefix(',') {
                Some(more) => rest = more,
                None if after.is_empty() => break,
                None => return Err(ParseError::InvalidIndex(inner.to_string())),
            }
        }
        return Ok(if names.len() == 1 { Segment::Field(names.remove(0)) } else { Segment::Fields(names) });
    }
    if inner.contains(':') {
        let parts: Vec<&str> = inner.split(':').map(str::trim).collect();
        let num = |s: &str| -> Result<Option<i64>, ParseError> {
            if s.is_empty() {
                Ok(None)
            } else {
                s.parse().map(Some).map_err(|_| ParseError::InvalidIndex(inner.to_string()))
            }
        };
        let step = match parts.get(2) {
            Some(s) if !s.is_empty() => s.parse().map_err(|_| ParseError::InvalidIndex(inner.to_string()))?,
            _ => 1,
        };
        return Ok(Segment::Slice(num(parts[0])?, num(parts.get(1).copied().unwrap_or(""))?, step));
    }
    let indexes: Result<Vec<i64>, _> = inner.split(',').map(|s| s.trim().parse::<i64>()).collect();
    indexes.map(Segment::Indexes).map_err(|_| ParseError::InvalidIndex(inner.to_string()))
}

fn parse_filter(body: &str) -> Result<Filter, ParseError> {
    const OPS: [(&str, Op); 6] =
        [("==", Op::Eq), ("!=", Op::Ne), ("<=", Op::Le), (">=", Op::Ge), ("<", Op::Lt), (">", Op::Gt)];
    let mut quote: Option<char> = None;
    let chars: Vec<(usize, char)> = body.char_indices().collect();
    for (pos, c) in chars {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => continue,
            None if c == '"' || c == '\'' => quote = Some(c),
            None => {
                for (text, op) in OPS {
                    if body[pos..].starts_with(text) {
                        let left = parse_operand(body[..pos].trim())?;
                        let right = parse_operand(body[pos + text.len()..].trim())?;
                        return Ok(Filter { left, op: Some((op, right)) });
                    }
                }
            }
        }
    }
    Ok(Filter { left: parse_operand(body)?, op: None })
}

fn parse_operand(s: &str) -> Result<Operand, ParseError> {
    if s.starts_with('@') || s.starts_with('$') || s.starts_with('.') {
        return parse_path(s).map(Operand::Path);
    }
    if s.starts_with('"') || s.starts_with('\'') {
        return Ok(Operand::Literal(Value::String(parse_string(s)?.0)));
    }
    serde_json::from_str(s).map(Operand::Literal).map_err(|_| ParseError::UnrecognizedOperand(s.to_string()))
}

fn render_nodes(nodes: &[Node], root: &Value, current: &Value, out: &mut String) {
    for node in nodes {
        match node {
            Node::Text(t) => out.push_str(t),
            Node::Path(segs) => {
                let values = eval(segs, root, current);
                let texts: Vec<String> = values.iter().map(to_text).collect();
                out.push_str(&texts.join(" "));
            }
            Node::Range(segs, body) => {
                for value in eval(segs, root, current) {
                    render_nodes(body, root, &value, out);
                }
            }
        }
    }
}

/// A value as jsonpath prints it: strings bare, objects and arrays as compact JSON.
pub fn to_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "<nil>".into(),
        other => other.to_string(),
    }
}

fn eval(segs: &[Segment], root: &Value, current: &Value) -> Vec<Value> {
    let mut values = vec![current.clone()];
    for seg in segs {
        let mut next = Vec::new();
        for v in &values {
            apply(seg, v, root, &mut next);
        }
        values = next;
    }
    values
}

fn apply(seg: &Segment, v: &Value, root: &Value, next: &mut Vec<Value>) {
    match seg {
        Segment::Root => next.push(root.clone()),
        Segment::Current => next.push(v.clone()),
        Segment::Field(name) => next.extend(v.get(name).cloned()),
        Segment::Fields(names) => next.extend(names.iter().filter_map(|n| v.get(n).cloned())),
        Segment::Wildcard => match v {
            Value::Object(m) => next.extend(m.values().cloned()),
            Value::Array(a) => next.extend(a.iter().cloned()),
            _ => {}
        },
        Segment::Recursive(name) => collect_recursive(v, name, next),
        Segment::Indexes(idx) => {
            if let Value::Array(a) = v {
                for &i in idx {
                    let real = if i < 0 { a.len() as i64 + i } else { i };
                    if real >= 0 {
                        next.extend(a.get(real as usize).cloned());
                    }
                }
            }
        }
        Segment::Slice(start, end, step) => {
            if let Value::Array(a) = v {
                let len = a.len() as i64;
                let clamp = |x: i64| if x < 0 { (len + x).max(0) } else { x.min(len) };
                let s = clamp(start.unwrap_or(0));
                let e = clamp(end.unwrap_or(len));
                let step = (*step).max(1);
                let mut i = s;
                while i < e {
                    next.push(a[i as usize].clone());
                    i += step;
                }
            }
        }
        Segment::Filter(f) => {
            if let Value::Array(a) = v {
                next.extend(a.iter().filter(|item| f.matches(item, root)).cloned());
            }
        }
    }
}

fn collect_recursive(v: &Value, name: &str, out: &mut Vec<Value>) {
    match v {
        Value::Object(m) => {
            if let Some(found) = m.get(name) {
                out.push(found.clone());
            }
            for child in m.values() {
                collect_recursive(child, name, out);
            }
        }
        Value::Array(a) => a.iter().for_each(|c| collect_recursive(c, name, out)),
        _ => {}
    }
}

impl Filter {
    fn matches(&self, item: &Value, root: &Value) -> bool {
        let resolve = |o: &Operand| match o {
            Operand::Literal(v) => vec![v.clone()],
            Operand::Path(p) => eval(p, root, item),
        };
        let left = resolve(&self.left);
        let Some((op, right)) = &self.op else {
            return !left.is_empty();
        };
        let right = resolve(right);
        let (Some(l), Some(r)) = (left.first(), right.first()) else {
            return false;
        };
        let ord = compare(l, r);
        match op {
            Op::Eq => ord == Some(Ordering::Equal),
            Op::Ne => ord != Some(Ordering::Equal),
            Op::Lt => ord == Some(Ordering::Less),
            Op::Le => matches!(ord, Some(Ordering::Less | Ordering::Equal)),
            Op::Gt => ord == Some(Ordering::Greater),
            Op::Ge => matches!(ord, Some(Ordering::Greater | Ordering::Equal)),
        }
    }
}

/// Orders two JSON values of the same kind (numbers numerically, strings lexically).
pub fn compare(a: &Value, b: &Value) -> Option<Ordering> {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64()?.partial_cmp(&y.as_f64()?),
        (Value::String(x), Value::String(y)) => Some(x.cmp(y)),
        (Value::Bool(x), Value::Bool(y)) => Some(x.cmp(y)),
        (x, y) if x == y => Some(Ordering::Equal),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn list() -> Value {
        json!({
            "apiVersion": "v1",
            "kind": "List",
            "items": [
                {"metadata": {"name": "kubia", "labels": {"app": "kubia"}},
                 "status": {"phase": "Running", "conditions": [
                     {"type": "Initialized", "status": "True"},
                     {"type": "Ready", "status": "False"}]},
                 "spec": {"containers": [{"name": "kubia", "ports": [{"containerPort": 8080}]}]}},
                {"metadata": {"name": "kubia-manual"}, "status": {"phase": "Pending"}, "spec": {"containers": []}}
            ]
        })
    }

    fn render(t: &str, v: &Value) -> String {
        Template::parse(t).unwrap().render(v)
    }

    #[test]
    fn fields_and_wildcards() {
        let l = list();
        assert_eq!(render("{.items[*].metadata.name}", &l), "kubia kubia-manual");
        assert_eq!(render("{.items[0].metadata.name}", &l), "kubia");
        assert_eq!(render("{.items[-1].metadata.name}", &l), "kubia-manual");
        assert_eq!(render("{.items[0:1].status.phase}", &l), "Running");
        assert_eq!(render("{.kind}", &l), "List");
        assert_eq!(render("{$.kind}", &l), "List");
        assert_eq!(render("{.items[0]['metadata']['name']}", &l), "kubia");
    }

    #[test]
    fn text_and_literals_mix() {
        let pod = json!({"metadata": {"name": "kubia"}, "status": {"podIP": "10.244.2.2"}});
        assert_eq!(render("name={.metadata.name} ip={.status.podIP}{\"\\n\"}", &pod), "name=kubia ip=10.244.2.2\n");
    }

    #[test]
    fn ranges_iterate_with_a_current_item() {
        let l = list();
        assert_eq!(
            render(r#"{range .items[*]}{.metadata.name}{"\t"}{.status.phase}{"\n"}{end}"#, &l),
            "kubia\tRunning\nkubia-manual\tPending\n"
        );
        assert_eq!(render(r#"{range .items[*]}[{range .spec.containers[*]}{.name}{end}]{end}"#, &l), "[kubia][]");
    }

    #[test]
    fn filters_select_array_elements() {
        let l = list();
        assert_eq!(render(r#"{.items[0].status.conditions[?(@.type=="Ready")].status}"#, &l), "False");
        assert_eq!(render(r#"{.items[0].status.conditions[?(@.status!='False')].type}"#, &l), "Initialized");
        assert_eq!(
            render(r#"{.items[0].spec.containers[0].ports[?(@.containerPort>=8000)].containerPort}"#, &l),
            "8080"
        );
        assert_eq!(render(r#"{.items[?(@.spec.containers[0])].metadata.name}"#, &l), "kubia");
    }

    #[test]
    fn maps_print_as_json_and_missing_keys_as_nothing() {
        let l = list();
        assert_eq!(render("{.items[0].metadata.labels}", &l), r#"{"app":"kubia"}"#);
        assert_eq!(render("{.items[1].metadata.labels}", &l), "");
        assert_eq!(render("{.nope.deeper}", &l), "");
        assert_eq!(render("{..containerPort}", &l), "8080");
    }

    #[test]
    fn bad_templates_are_rejected() {
        assert!(Template::parse("{.items[0}").is_err());
        assert!(Template::parse("{.a").is_err());
        assert!(Template::parse("{range .items[*]}{.a}").is_err());
        assert!(Template::parse("{end}").is_err());
    }

    #[test]
    fn fields_without_braces_or_dot() {
        let pod = json!({"metadata": {"name": "kubia", "labels": {"app.kubernetes.io/name": "x"}}});
        assert_eq!(Template::parse_field("metadata.name").unwrap().render(&pod), "kubia");
        assert_eq!(Template::parse_field(".metadata.name").unwrap().render(&pod), "kubia");
        assert_eq!(Template::parse_field("{.metadata.name}").unwrap().render(&pod), "kubia");
        assert_eq!(Template::parse_field(r".metadata.labels.app\.kubernetes\.io/name").unwrap().render(&pod), "x");
    }
}
