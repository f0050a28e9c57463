//! Field ownership (`metadata.managedFields`) and server-side apply, as
//! kube-apiserver's field manager keeps them (structured-merge-diff).
//!
//! Each entry says which fields one manager set, by one kind of operation
//! (`Apply` or `Update`), as a FieldsV1 set: a trie whose keys are `f:<field>`,
//! `k:<key fields as JSON>` for an element of a list merged by keys and
//! `v:<value as JSON>` for a value of a set, `.` marking a list element that
//! has owned fields below it. Lists and maps follow the patch metadata of
//! [`super::schema`]; other lists are owned whole.
//!
//! Every write records an `Update` entry for the fields it changed (taking
//! them from other managers, without conflict); an apply merges its
//! configuration into the object, fails on fields another manager set to
//! another value unless forced, owns exactly the fields it sent, and removes
//! fields it sent before and no longer sends when no other manager owns them.

use super::schema::{field, Field, List, Ty};
use api::error::FieldErrorKind;
use api::{ApiError, FieldError, Reason};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

type Result<T> = std::result::Result<T, ApiError>;

/// Which part of an object a write may change: the main resource writes all
/// but `status`, the `status` subresource only `status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    Main,
    Status,
}

impl Scope {
    pub fn of(subresource: &str) -> Scope {
        if subresource == "status" {
            Scope::Status
        } else {
            Scope::Main
        }
    }
    fn subresource(self) -> &'static str {
        match self {
            Scope::Main => "",
            Scope::Status => "status",
        }
    }
}

/// Metadata the server sets, which no manager owns.
const SERVER_META: &[&str] = &[
    "name",
    "namespace",
    "generateName",
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "managedFields",
    "selfLink",
];

/// A set of field paths (one node of the FieldsV1 trie).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Set {
    /// The path to this node is itself in the set.
    member: bool,
    children: BTreeMap<String, Set>,
}

impl Set {
    fn is_empty(&self) -> bool {
        !self.member && self.children.is_empty()
    }

    fn child(&mut self, key: String) -> &mut Set {
        self.children.entry(key).or_default()
    }

    /// The FieldsV1 JSON of this set.
    pub fn to_json(&self) -> Value {
        let mut m = Map::new();
        if self.member && !self.children.is_empty() {
            m.insert(".".into(), Value::Object(Map::new()));
        }
        for (k, c) in &self.children {
            m.insert(k.clone(), c.to_json());
        }
        Value::Object(m)
    }

    /// Reads FieldsV1 JSON; what is not an object is an empty set.
    pub fn from_json(v: &Value) -> Set {
        let mut s = Set::default();
        if let Value::Object(m) = v {
            for (k, c) in m {
                if k == "." {
                    s.member = true;
                    continue;
                }
                let mut child = Set::from_json(c);
                if c.as_object().is_some_and(Map::is_empty) {
                    child.member = true;
                }
                s.children.insert(k.clone(), child);
            }
        }
        s
    }

    fn union(&mut self, other: &Set) {
        self.member |= other.member;
        for (k, c) in &other.children {
            self.child(k.clone()).union(c);
        }
    }

    fn subtract(&mut self, other: &Set) {
        if other.member {
            self.member = false;
        }
        for (k, c) in &other.children {
            if let Some(mine) = self.children.get_mut(k) {
                mine.subtract(c);
                if mine.is_empty() {
                    self.children.remove(k);
                }
            }
        }
    }

    /// Paths that are members of both sets.
    fn common(&self, other: &Set, path: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
        if self.member && other.member && !path.is_empty() {
            out.push(path.clone());
        }
        for (k, c) in &self.children {
            if let Some(o) = other.children.get(k) {
                path.push(k.clone());
                c.common(o, path, out);
                path.pop();
            }
        }
    }

    fn members(&self, path: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
        if self.member && !path.is_empty() {
            out.push(path.clone());
        }
        for (k, c) in &self.children {
            path.push(k.clone());
            c.members(path, out);
            path.pop();
        }
    }

    /// The node at `path`, if the set has anything there.
    fn at(&self, path: &[String]) -> Option<&Set> {
        path.iter().try_fold(self, |s, k| s.children.get(k))
    }

    /// Drops members whose path no longer exists in `obj`.
    fn prune(&mut self, obj: &Value) {
        self.children.retain(|k, c| match find(obj, k) {
            Some(v) => {
                c.prune(v);
                !c.is_empty()
            }
            None => false,
        });
    }
}

/// Where one path element sits in `v`: a field name or a list index.
enum Loc<'a> {
    Field(&'a str),
    Index(usize),
}

fn locate<'a>(v: &Value, key: &'a str) -> Option<Loc<'a>> {
    if let Some(name) = key.strip_prefix("f:") {
        return v.get(name).filter(|x| !x.is_null()).map(|_| Loc::Field(name));
    }
    let Value::Array(items) = v else { return None };
    if let Some(k) = key.strip_prefix("k:") {
        let want: Map<String, Value> = serde_json::from_str(k).ok()?;
        return items
            .iter()
            .position(|e| want.iter().all(|(f, x)| e.get(f) == Some(x) || default_matches(e, f, x)))
            .map(Loc::Index);
    }
    let want: Value = serde_json::from_str(key.strip_prefix("v:")?).ok()?;
    items.iter().position(|e| *e == want).map(Loc::Index)
}

/// The value at one path element below `v`.
fn find<'a>(v: &'a Value, key: &str) -> Option<&'a Value> {
    match locate(v, key)? {
        Loc::Field(name) => v.get(name),
        Loc::Index(i) => v.get(i),
    }
}

/// An element that leaves out a key field whose default is the value sought
/// (`protocol: TCP`) matches it.
fn default_matches(e: &Value, f: &str, x: &Value) -> bool {
    e.get(f).is_none() && f == "protocol" && x == "TCP"
}

/// The path element of a list element: `k:{"name":"web"}` or `v:"a"`; `None`
/// when an element of a keyed list lacks a key without default.
fn element_key(item: &Value, list: List) -> Option<String> {
    match list {
        List::Map(keys) => {
            let mut m = Map::new();
            for (k, default) in keys {
                match (item.get(*k).filter(|v| !v.is_null()), default) {
                    (Some(v), _) => {
                        m.insert((*k).to_string(), v.clone());
                    }
                    (None, Some(d)) => {
                        m.insert((*k).to_string(), Value::String((*d).to_string()));
                    }
                    (None, None) if *k == keys[0].0 => return None,
                    (None, None) => {}
                }
            }
            Some(format!("k:{}", Value::Object(m)))
        }
        _ => Some(format!("v:{item}")),
    }
}

/// Every field set in `v` (a value of a field described by `f`).
fn value_set(v: &Value, f: Field, out: &mut Set) {
    match v {
        Value::Object(m) if !m.is_empty() => object_set(m, f.ty, out),
        Value::Array(items) if !items.is_empty() && f.list != List::Atomic => {
            let keys: Option<Vec<String>> = items.iter().map(|i| element_key(i, f.list)).collect();
            let Some(keys) = keys else {
                out.member = true;
                return;
            };
            for (item, key) in items.iter().zip(keys) {
                element_set(item, f, out.child(key));
            }
        }
        _ => out.member = true,
    }
}

/// A list element: itself, and its fields when it is an object of a keyed list.
fn element_set(item: &Value, f: Field, out: &mut Set) {
    out.member = true;
    if let (Value::Object(m), List::Map(_)) = (item, f.list) {
        object_set(m, f.ty, out);
    }
}

fn object_set(m: &Map<String, Value>, ty: Ty, out: &mut Set) {
    for (k, v) in m {
        if !v.is_null() {
            value_set(v, field(ty, k), out.child(format!("f:{k}")));
        }
    }
}

/// The fields of `old` → `new` that a write in `scope` added or changed.
fn changed_value(old: Option<&Value>, new: &Value, f: Field, out: &mut Set) {
    match (old, new) {
        (Some(Value::Object(om)), Value::Object(nm)) if !nm.is_empty() && !om.is_empty() => {
            for (k, v) in nm {
                if v.is_null() {
                    continue;
                }
                let key = format!("f:{k}");
                let child = out.child(key.clone());
                changed_value(om.get(k).filter(|x| !x.is_null()), v, field(f.ty, k), child);
                if child.is_empty() {
                    out.children.remove(&key);
                }
            }
        }
        (Some(Value::Array(ol)), Value::Array(nl)) if !nl.is_empty() && !ol.is_empty() && f.list != List::Atomic => {
            let keys: Option<Vec<String>> = nl.iter().map(|i| element_key(i, f.list)).collect();
            let Some(keys) = keys else {
                out.member = ol != nl;
                return;
            };
            for (item, key) in nl.iter().zip(keys) {
                let before = find(old.unwrap_or(&Value::Null), &key);
                let child = out.child(key.clone());
                match (before, f.list) {
                    (Some(b), List::Map(_)) => {
                        changed_value(Some(b), item, Field { ty: f.ty, list: List::Atomic }, child)
                    }
                    (Some(_), _) => {}
                    (None, _) => element_set(item, f, child),
                }
                if child.is_empty() {
                    out.children.remove(&key);
                }
            }
        }
        (Some(o), n) if o == n => {}
        (Some(_), Value::Object(_) | Value::Array(_)) | (None, _) => value_set(new, f, out),
        (Some(_), _) => out.member = true,
    }
}

/// Calls `each` with the top-level fields a write in `scope` owns: not
/// apiVersion and kind, not the metadata the server sets, and `status` only
/// through the status subresource.
fn owned_fields<'a>(obj: &'a Value, scope: Scope, mut each: impl FnMut(&'a str, &'a Value, bool)) {
    let Value::Object(m) = obj else { return };
    for (k, v) in m {
        match (k.as_str(), scope) {
            ("apiVersion" | "kind", _) | ("status", Scope::Main) => {}
            ("status", Scope::Status) => each(k, v, false),
            (_, Scope::Status) => {}
            ("metadata", Scope::Main) => each(k, v, true),
            (_, Scope::Main) => each(k, v, false),
        }
    }
}

/// The metadata a manager may own (labels, annotations, ownerReferences, finalizers ...).
fn user_meta(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter().filter(|(k, _)| !SERVER_META.contains(&k.as_str())).map(|(k, v)| (k.clone(), v.clone())).collect(),
        ),
        other => other.clone(),
    }
}

/// Every field `obj` sets that a write in `scope` may own.
fn object_fields(obj: &Value, kind: &'static str, scope: Scope) -> Set {
    let mut out = Set::default();
    owned_fields(obj, scope, |k, v, is_meta| {
        if v.is_null() {
            return;
        }
        let key = format!("f:{k}");
        let f = field(Ty::Root(kind), k);
        if is_meta {
            let mine = user_meta(v);
            if mine.as_object().is_some_and(Map::is_empty) {
                return;
            }
            value_set(&mine, f, out.child(key.clone()));
        } else {
            value_set(v, f, out.child(key.clone()));
        }
        if out.children.get(&key).is_some_and(Set::is_empty) {
            out.children.remove(&key);
        }
    });
    out
}

/// The fields a write in `scope` changed from `old` to `new`.
fn changed_fields(old: &Value, new: &Value, kind: &'static str, scope: Scope) -> Set {
    let mut out = Set::default();
    owned_fields(new, scope, |k, v, is_meta| {
        if v.is_null() {
            return;
        }
        let key = format!("f:{k}");
        let f = field(Ty::Root(kind), k);
        let before = old.get(k).filter(|x| !x.is_null());
        let child = out.child(key.clone());
        if is_meta {
            let mine = user_meta(v);
            if !mine.as_object().is_some_and(Map::is_empty) {
                let before = before.map(user_meta);
                changed_value(before.as_ref(), &mine, f, child);
            }
        } else {
            changed_value(before, v, f, child);
        }
        if child.is_empty() {
            out.children.remove(&key);
        }
    });
    out
}

/// One `metadata.managedFields` entry.
#[derive(Debug, Clone, PartialEq)]
struct Entry {
    manager: String,
    operation: &'static str,
    api_version: String,
    time: String,
    subresource: String,
    fields: Set,
}

impl Entry {
    fn is(&self, manager: &str, operation: &str, scope: Scope) -> bool {
        self.manager == manager && self.operation == operation && self.subresource == scope.subresource()
    }

    fn to_json(&self) -> Value {
        let mut m = Map::new();
        m.insert("manager".into(), self.manager.clone().into());
        m.insert("operation".into(), self.operation.into());
        m.insert("apiVersion".into(), self.api_version.clone().into());
        m.insert("time".into(), self.time.clone().into());
        m.insert("fieldsType".into(), "FieldsV1".into());
        m.insert("fieldsV1".into(), self.fields.to_json());
        if !self.subresource.is_empty() {
            m.insert("subresource".into(), self.subresource.clone().into());
        }
        Value::Object(m)
    }

    fn from_json(v: &Value) -> Option<Entry> {
        let s = |k: &str| v.get(k).and_then(Value::as_str).unwrap_or("").to_string();
        let operation = match v.get("operation").and_then(Value::as_str)? {
            "Apply" => "Apply",
            "Update" => "Update",
            _ => return None,
        };
        Some(Entry {
            manager: s("manager"),
            operation,
            api_version: s("apiVersion"),
            time: s("time"),
            subresource: s("subresource"),
            fields: Set::from_json(v.get("fieldsV1").unwrap_or(&Value::Null)),
        })
    }

    /// How a conflict names this manager: `"kubectl"` for an applier,
    /// `"kube-controller-manager" using apps/v1` for an updater.
    fn describe(&self) -> String {
        let mut s = format!("{:?}", self.manager);
        if !self.subresource.is_empty() {
            s.push_str(&format!(" with subresource {:?}", self.subresource));
        }
        if self.operation == "Update" {
            s.push_str(&format!(" using {}", self.api_version));
        }
        s
    }
}

fn read_entries(obj: &Value) -> Vec<Entry> {
    match obj.pointer("/metadata/managedFields") {
        Some(Value::Array(items)) => items.iter().filter_map(Entry::from_json).collect(),
        _ => Vec::new(),
    }
}

fn write_entries(obj: &mut Value, entries: &[Entry]) {
    let Some(Value::Object(meta)) = obj.get_mut("metadata") else { return };
    if entries.is_empty() {
        meta.remove("managedFields");
    } else {
        meta.insert("managedFields".into(), Value::Array(entries.iter().map(Entry::to_json).collect()));
    }
}

/// Records a create by `manager`: it owns every field it set (defaults
/// included), as kube-apiserver records it. Managed fields the request
/// carries itself are kept as sent.
///
/// Pod creates are the hot path (`bench api`): the FieldsV1 JSON is built in
/// one walk over the object, with no set in between.
pub fn record_create(obj: &mut Value, kind: &'static str, manager: &str, scope: Scope) {
    if obj.pointer("/metadata/managedFields").is_some_and(|m| m.as_array().is_some_and(|a| !a.is_empty())) {
        return;
    }
    let mut fields = Map::new();
    owned_fields(obj, scope, |k, v, is_meta| {
        let f = field(Ty::Root(kind), k);
        let node = match (v, is_meta) {
            (Value::Null, _) => return,
            (Value::Object(m), true) => {
                Value::Object(object_v1(m.iter().filter(|(k, _)| !SERVER_META.contains(&k.as_str())), f.ty))
            }
            _ => value_v1(v, f),
        };
        if node.as_object().is_none_or(|m| !m.is_empty()) || !is_meta {
            fields.insert(format!("f:{k}"), node);
        }
    });
    let entries = if fields.is_empty() {
        Vec::new()
    } else {
        let mut entry = Map::new();
        entry.insert("manager".into(), manager.into());
        entry.insert("operation".into(), "Update".into());
        entry.insert("apiVersion".into(), api::meta::api_version(obj).into());
        entry.insert("time".into(), api::time::now().into());
        entry.insert("fieldsType".into(), "FieldsV1".into());
        entry.insert("fieldsV1".into(), Value::Object(fields));
        if scope == Scope::Status {
            entry.insert("subresource".into(), "status".into());
        }
        vec![Value::Object(entry)]
    };
    if let Some(Value::Object(meta)) = obj.get_mut("metadata") {
        if entries.is_empty() {
            meta.remove("managedFields");
        } else {
            meta.insert("managedFields".into(), Value::Array(entries));
        }
    }
}

/// The FieldsV1 JSON of every field set in `v`, as [`value_set`] would make it.
fn value_v1(v: &Value, f: Field) -> Value {
    let leaf = || Value::Object(Map::new());
    match v {
        Value::Object(m) if !m.is_empty() => Value::Object(object_v1(m.iter(), f.ty)),
        Value::Array(items) if !items.is_empty() && f.list != List::Atomic => {
            let mut out = Map::new();
            for item in items {
                let Some(key) = element_key(item, f.list) else { return leaf() };
                let node = match (item, f.list) {
                    (Value::Object(m), List::Map(_)) => {
                        let mut node = object_v1(m.iter(), f.ty);
                        if !node.is_empty() {
                            node.insert(".".into(), leaf());
                        }
                        node
                    }
                    _ => Map::new(),
                };
                out.insert(key, Value::Object(node));
            }
            Value::Object(out)
        }
        _ => leaf(),
    }
}

fn object_v1<'a>(fields: impl Iterator<Item = (&'a String, &'a Value)>, ty: Ty) -> Map<String, Value> {
    let mut out = Map::new();
    for (k, v) in fields {
        if !v.is_null() {
            out.insert(format!("f:{k}"), value_v1(v, field(ty, k)));
        }
    }
    out
}

/// Records an update (or a patch) by `manager` of `old` into `new`: it takes
/// the fields it changed from whoever owned them; fields gone from the
/// object leave every set. A request that sends managed fields other than
/// the stored ones sets them as sent.
pub fn record_update(new: &mut Value, old: &Value, kind: &'static str, manager: &str, scope: Scope) {
    let sent = new.pointer("/metadata/managedFields");
    let stored = old.pointer("/metadata/managedFields");
    if sent.is_some_and(|s| !s.is_null()) && sent != stored {
        return;
    }
    let mut entries = read_entries(old);
    let changed = changed_fields(old, new, kind, scope);
    for e in &mut entries {
        e.fields.prune(new);
    }
    if !changed.is_empty() {
        for e in &mut entries {
            e.fields.subtract(&changed);
        }
        let api_version = api::meta::api_version(new).to_string();
        match entries.iter_mut().find(|e| e.is(manager, "Update", scope)) {
            Some(e) => {
                e.fields.union(&changed);
                e.time = api::time::now();
                e.api_version = api_version;
            }
            None => entries.push(Entry {
                manager: manager.to_string(),
                operation: "Update",
                api_version,
                time: api::time::now(),
                subresource: scope.subresource().to_string(),
                fields: changed,
            }),
        }
    }
    entries.retain(|e| !e.fields.is_empty());
    write_entries(new, &entries);
}

/// Server-side apply of `config` by `manager` to `live` (`None`: the object
/// does not exist yet). Returns the object to write, with its managed fields.
pub fn apply(
    live: Option<&Value>,
    config: &Value,
    kind: &'static str,
    manager: &str,
    force: bool,
    scope: Scope,
) -> Result<Value> {
    let Value::Object(_) = config else {
        return Err(ApiError::bad_request("the apply configuration must be an object"));
    };
    check_keys(config, Ty::Root(kind), "").map_err(|msg| {
        ApiError::bad_request(format!("failed to create typed patch object ({}): {msg}", gvk(config)))
    })?;
    let applied = object_fields(config, kind, scope);
    let empty = Value::Object(Map::new());
    let live_obj = live.unwrap_or(&empty);
    let mut merged = live_obj.clone();
    let mut cfg = config.clone();
    if let Some(Value::Object(meta)) = cfg.get_mut("metadata") {
        // Managed fields in an apply configuration are not applied.
        meta.remove("managedFields");
    }
    merge(&mut merged, &cfg, Field { ty: Ty::Root(kind), list: List::Atomic });
    let changed = changed_fields(live_obj, &merged, kind, scope);
    let mut entries = read_entries(live_obj);
    let mut conflicts = Vec::new();
    for e in entries.iter().filter(|e| !e.is(manager, "Apply", scope)) {
        let mut paths = Vec::new();
        e.fields.common(&changed, &mut Vec::new(), &mut paths);
        conflicts.extend(paths.into_iter().map(|p| (e.describe(), p)));
    }
    if !conflicts.is_empty() && !force {
        return Err(conflict_error(&conflicts));
    }
    for e in entries.iter_mut().filter(|e| !e.is(manager, "Apply", scope)) {
        e.fields.subtract(&changed);
    }
    // Fields this manager applied before and no longer applies go, unless another manager owns them.
    let before = entries.iter().find(|e| e.is(manager, "Apply", scope)).map(|e| e.fields.clone());
    if let Some(mut dropped) = before.clone() {
        dropped.subtract(&applied);
        let mut paths = Vec::new();
        dropped.members(&mut Vec::new(), &mut paths);
        // Parents first: a list element goes whole, before its key fields are gone.
        for path in &paths {
            let kept = entries.iter().any(|e| !e.is(manager, "Apply", scope) && e.fields.at(path).is_some());
            if !kept {
                remove_path(&mut merged, path);
            }
        }
    }
    for e in &mut entries {
        e.fields.prune(&merged);
    }
    let api_version = api::meta::api_version(&merged).to_string();
    match entries.iter_mut().find(|e| e.is(manager, "Apply", scope)) {
        Some(e) => {
            if e.fields != applied || e.api_version != api_version {
                e.fields = applied;
                e.time = api::time::now();
                e.api_version = api_version;
            }
        }
        None => entries.push(Entry {
            manager: manager.to_string(),
            operation: "Apply",
            api_version,
            time: api::time::now(),
            subresource: scope.subresource().to_string(),
            fields: applied,
        }),
    }
    entries.retain(|e| !e.fields.is_empty());
    write_entries(&mut merged, &entries);
    Ok(merged)
}

/// `apps/v1, Kind=Deployment`, as Go prints a GroupVersionKind.
fn gvk(obj: &Value) -> String {
    let av = api::meta::api_version(obj);
    let gv = if av.contains('/') { av.to_string() } else { format!("/{av}") };
    format!("{gv}, Kind={}", api::meta::kind(obj))
}

/// Every element of a keyed list in an apply configuration must carry its key.
fn check_keys(v: &Value, ty: Ty, path: &str) -> std::result::Result<(), String> {
    let Value::Object(m) = v else { return Ok(()) };
    for (k, child) in m {
        let f = field(ty, k);
        let here = format!("{path}.{k}");
        match child {
            Value::Object(_) => check_keys(child, f.ty, &here)?,
            Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    if let List::Map(keys) = f.list {
                        if !item.is_object() {
                            return Err(format!("{here}: element {i}: expected a map, got {item}"));
                        }
                        if let Some((key, _)) = keys.iter().find(|(key, d)| d.is_none() && item.get(*key).is_none()) {
                            return Err(format!(
                                "{here}: element {i}: associative list with keys has an element that omits key field {key:?} (and doesn't have default value)"
                            ));
                        }
                        check_keys(item, f.ty, &format!("{here}[{i}]"))?;
                    }
                }
            }
            _ => {}
        }
    }
    Ok(())
}

/// Merges an apply configuration into the live value, as structured-merge-diff does.
fn merge(live: &mut Value, config: &Value, f: Field) {
    match (live, config) {
        (Value::Object(lm), Value::Object(cm)) => {
            for (k, v) in cm {
                if v.is_null() {
                    continue;
                }
                let cf = field(f.ty, k);
                match lm.get_mut(k) {
                    Some(existing) if !existing.is_null() => merge(existing, v, cf),
                    _ => {
                        let mut fresh = empty_like(v);
                        merge(&mut fresh, v, cf);
                        lm.insert(k.clone(), fresh);
                    }
                }
            }
        }
        (Value::Array(ll), Value::Array(cl)) if f.list != List::Atomic => {
            for item in cl {
                let Some(key) = element_key(item, f.list) else { continue };
                let pos = ll.iter().position(|e| element_key(e, f.list).as_ref() == Some(&key));
                let ef = Field { ty: f.ty, list: List::Atomic };
                match (pos, f.list) {
                    (Some(i), List::Map(_)) => merge(&mut ll[i], item, ef),
                    (Some(_), _) => {}
                    (None, _) => {
                        let mut fresh = empty_like(item);
                        merge(&mut fresh, item, ef);
                        ll.push(fresh);
                    }
                }
            }
        }
        (l, c) => *l = c.clone(),
    }
}

fn empty_like(v: &Value) -> Value {
    match v {
        Value::Object(_) => Value::Object(Map::new()),
        Value::Array(_) => Value::Array(Vec::new()),
        other => other.clone(),
    }
}

/// Removes the field or list element at `path`, if it is there.
fn remove_path(obj: &mut Value, path: &[String]) {
    let Some((last, parents)) = path.split_last() else { return };
    let mut v = obj;
    for key in parents {
        let next = match locate(v, key) {
            Some(Loc::Field(name)) => v.get_mut(name),
            Some(Loc::Index(i)) => v.get_mut(i),
            None => None,
        };
        match next {
            Some(x) => v = x,
            None => return,
        }
    }
    match (locate(v, last), v) {
        (Some(Loc::Field(name)), Value::Object(m)) => {
            m.remove(name);
        }
        (Some(Loc::Index(i)), Value::Array(items)) => {
            items.remove(i);
        }
        _ => {}
    }
}

/// `.spec.containers[name="web"].image`, as structured-merge-diff prints a path.
fn display_path(path: &[String]) -> String {
    let mut out = String::new();
    for key in path {
        if let Some(f) = key.strip_prefix("f:") {
            out.push('.');
            out.push_str(f);
        } else if let Some(k) = key.strip_prefix("k:") {
            let fields: Map<String, Value> = serde_json::from_str(k).unwrap_or_default();
            let parts: Vec<String> = fields.iter().map(|(f, v)| format!("{f}={v}")).collect();
            out.push_str(&format!("[{}]", parts.join(",")));
        } else if let Some(v) = key.strip_prefix("v:") {
            out.push_str(&format!("[={v}]"));
        }
    }
    out
}

/// kube-apiserver's 409 for an apply that would change other managers' fields.
fn conflict_error(conflicts: &[(String, Vec<String>)]) -> ApiError {
    let causes: Vec<FieldError> = conflicts
        .iter()
        .map(|(who, path)| FieldError {
            kind: FieldErrorKind::ManagerConflict,
            field: display_path(path),
            value: None,
            detail: format!("conflict with {who}"),
        })
        .collect();
    let message = if let [(who, path)] = conflicts {
        format!("Apply failed with 1 conflict: conflict with {who}: {}", display_path(path))
    } else {
        let mut by_manager: BTreeMap<&str, Vec<String>> = BTreeMap::new();
        for (who, path) in conflicts {
            by_manager.entry(who).or_default().push(display_path(path));
        }
        let mut lines = Vec::new();
        for (who, paths) in by_manager {
            lines.push(format!("conflicts with {who}:"));
            lines.extend(paths.into_iter().map(|p| format!("- {p}")));
        }
        format!("Apply failed with {} conflicts: {}", conflicts.len(), lines.join("\n"))
    };
    ApiError { reason: Reason::Conflict, message, kind: String::new(), name: String::new(), causes }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn fields_v1_names_keyed_elements_set_values_and_atomic_lists() {
        let pod = json!({"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "p", "uid": "u", "finalizers": ["x"], "labels": {"a": "1"}},
            "spec": {"containers": [{"name": "c", "args": ["1", "2"], "ports": [{"containerPort": 80}]}],
                     "tolerations": [{"key": "k"}]},
            "status": {"phase": "Pending"}});
        let set = object_fields(&pod, "Pod", Scope::Main);
        assert_eq!(
            set.to_json(),
            json!({"f:metadata": {"f:finalizers": {"v:\"x\"": {}}, "f:labels": {"f:a": {}}},
                   "f:spec": {"f:containers": {"k:{\"name\":\"c\"}": {".": {}, "f:args": {}, "f:name": {},
                       "f:ports": {"k:{\"containerPort\":80,\"protocol\":\"TCP\"}": {".": {}, "f:containerPort": {}}}}},
                              "f:tolerations": {}}})
        );
        assert_eq!(Set::from_json(&set.to_json()), set, "FieldsV1 reads back as written");
        let mut created = pod.clone();
        record_create(&mut created, "Pod", "m", Scope::Main);
        assert_eq!(created["metadata"]["managedFields"][0]["fieldsV1"], set.to_json(), "the create's fast walk agrees");
        assert_eq!(object_fields(&pod, "Pod", Scope::Status).to_json(), json!({"f:status": {"f:phase": {}}}));
        let bare = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {"hostNetwork": true}});
        assert_eq!(object_fields(&bare, "Pod", Scope::Main).to_json(), json!({"f:spec": {"f:hostNetwork": {}}}));
    }

    #[test]
    fn an_update_owns_only_what_it_changed() {
        let old = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "labels": {"a": "1"}},
                         "spec": {"containers": [{"name": "c", "image": "v1"}, {"name": "d", "image": "v1"}]}});
        let mut new = old.clone();
        new["spec"]["containers"][1]["image"] = json!("v2");
        new["metadata"]["labels"]["b"] = json!("2");
        let changed = changed_fields(&old, &new, "Pod", Scope::Main);
        assert_eq!(
            changed.to_json(),
            json!({"f:metadata": {"f:labels": {"f:b": {}}},
                   "f:spec": {"f:containers": {"k:{\"name\":\"d\"}": {"f:image": {}}}}})
        );
    }

    #[test]
    fn several_conflicts_are_listed_by_manager() {
        let live = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "labels": {"a": "1", "b": "1"},
            "managedFields": [
                {"manager": "m1", "operation": "Update", "apiVersion": "v1", "time": "2020-01-01T00:00:00Z",
                 "fieldsType": "FieldsV1", "fieldsV1": {"f:metadata": {"f:labels": {"f:a": {}, "f:b": {}}}}},
                {"manager": "m2", "operation": "Apply", "apiVersion": "v1", "time": "2020-01-01T00:00:00Z",
                 "fieldsType": "FieldsV1", "fieldsV1": {"f:metadata": {"f:finalizers": {"v:\"f\"": {}}}}}]}});
        let config =
            json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "labels": {"a": "2", "b": "2"}}});
        let err = apply(Some(&live), &config, "Pod", "me", false, Scope::Main).unwrap_err();
        assert_eq!(
            err.message,
            "Apply failed with 2 conflicts: conflicts with \"m1\" using v1:\n- .metadata.labels.a\n- .metadata.labels.b"
        );
        assert_eq!(
            display_path(&["f:metadata".into(), "f:finalizers".into(), "v:\"f\"".into()]),
            ".metadata.finalizers[=\"f\"]"
        );
        assert_eq!(
            display_path(&["f:spec".into(), "f:containers".into(), "k:{\"name\":\"c\"}".into(), "f:image".into()]),
            ".spec.containers[name=\"c\"].image"
        );
    }
}
