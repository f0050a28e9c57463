//! Strategic merge patch, as kube-apiserver applies it (apimachinery's
//! `strategicpatch`): a merge patch whose lists follow the field's patch
//! metadata ([`super::schema`]), plus the directives clients send:
//!
//! - `null` removes a field;
//! - `"$patch": "replace"` in a map replaces it whole, `"delete"` removes it,
//!   `"merge"` is the default; in a merged list, an element
//!   `{"$patch": "replace"}` makes the other elements the whole list and an
//!   element with its merge key and `"$patch": "delete"` removes its match;
//! - `"$retainKeys": [..]` keeps only the named keys of the map;
//! - `"$deleteFromPrimitiveList/<field>": [..]` removes values from a set;
//! - `"$setElementOrder/<field>": [..]` orders a merged list.

use super::schema::{field, List, Ty};
use super::{go_value, smp_error};
use api::ApiError;
use serde_json::{Map, Value};

const PATCH: &str = "$patch";
const RETAIN_KEYS: &str = "$retainKeys";
const DELETE_FROM: &str = "$deleteFromPrimitiveList/";
const ORDER: &str = "$setElementOrder/";

type Result<T> = std::result::Result<T, ApiError>;

/// Applies a strategic merge patch to an object of the given kind.
pub fn apply(target: &mut Value, patch: &Value, kind: &'static str) -> Result<()> {
    let Value::Object(p) = patch else {
        return Err(smp_error("Invalid JSON document"));
    };
    let Value::Object(t) = target else {
        return Err(smp_error("Invalid JSON document"));
    };
    match merge_map(t, p, Ty::Root(kind))? {
        Outcome::Keep => Ok(()),
        Outcome::Replace(m) => {
            *t = m;
            Ok(())
        }
        Outcome::Delete => {
            t.clear();
            Ok(())
        }
    }
}

/// What a map's own `$patch` directive asks for.
enum Outcome {
    /// Merged in place.
    Keep,
    Replace(Map<String, Value>),
    Delete,
}

fn directive(p: &Map<String, Value>) -> Result<Option<&str>> {
    match p.get(PATCH) {
        None => Ok(None),
        Some(Value::String(s)) if matches!(s.as_str(), "replace" | "delete" | "merge") => Ok(Some(s)),
        Some(other) => Err(smp_error(format!("unknown patch type: {} in map: {}", go_value(other), go_map(p)))),
    }
}

fn go_map(m: &Map<String, Value>) -> String {
    go_value(&Value::Object(m.clone()))
}

/// A patch map without its directives (for a value that is new or replaced).
fn without_directives(p: &Map<String, Value>, ty: Ty) -> Result<Map<String, Value>> {
    let mut fresh = Map::new();
    match merge_map(&mut fresh, p, ty)? {
        Outcome::Keep => Ok(fresh),
        Outcome::Replace(m) => Ok(m),
        Outcome::Delete => Ok(Map::new()),
    }
}

fn merge_map(t: &mut Map<String, Value>, p: &Map<String, Value>, ty: Ty) -> Result<Outcome> {
    match directive(p)? {
        Some("delete") => return Ok(Outcome::Delete),
        Some("replace") => {
            let mut rest = p.clone();
            rest.remove(PATCH);
            return Ok(Outcome::Replace(without_directives(&rest, ty)?));
        }
        _ => {}
    }
    if let Some(keys) = p.get(RETAIN_KEYS) {
        let Value::Array(keys) = keys else {
            return Err(smp_error("Invalid patch format of retainKeys"));
        };
        let mut keep = Vec::with_capacity(keys.len());
        for k in keys {
            keep.push(k.as_str().ok_or_else(|| smp_error("Invalid patch format of retainKeys"))?);
        }
        for k in p.keys().filter(|k| !k.starts_with('$') && !p[*k].is_null()) {
            if !keep.contains(&k.as_str()) {
                return Err(ApiError::new(api::Reason::Invalid, "Patch content doesn't match retainKeys list"));
            }
        }
        t.retain(|k, _| keep.contains(&k.as_str()));
    }
    for (k, v) in p {
        if let Some(name) = k.strip_prefix(DELETE_FROM) {
            let Value::Array(gone) = v else {
                return Err(smp_error("Invalid patch format of primitive list"));
            };
            if let Some(Value::Array(list)) = t.get_mut(name) {
                list.retain(|x| !gone.contains(x));
            }
            continue;
        }
        if k.starts_with('$') {
            continue;
        }
        let meta = field(ty, k);
        match v {
            Value::Null => {
                t.remove(k);
            }
            Value::Object(pm) => {
                let slot = t.entry(k.clone()).or_insert_with(|| Value::Object(Map::new()));
                if !slot.is_object() {
                    *slot = Value::Object(Map::new());
                }
                let Value::Object(tm) = slot else { unreachable!("made an object above") };
                match merge_map(tm, pm, meta.ty)? {
                    Outcome::Keep => {}
                    Outcome::Replace(m) => *tm = m,
                    Outcome::Delete => {
                        t.remove(k);
                    }
                }
            }
            Value::Array(pl) => {
                let mut list = match t.remove(k) {
                    Some(Value::Array(l)) => l,
                    _ => Vec::new(),
                };
                merge_list(&mut list, pl, meta.list, meta.ty)?;
                t.insert(k.clone(), Value::Array(list));
            }
            scalar => {
                t.insert(k.clone(), scalar.clone());
            }
        }
    }
    // Orders come last: they order what the merge made.
    for (k, v) in p {
        if let Some(name) = k.strip_prefix(ORDER) {
            let Value::Array(order) = v else {
                return Err(smp_error("Invalid patch format of setElementOrder list"));
            };
            let key = field(ty, name).list.merge_key();
            if let Some(Value::Array(list)) = t.get_mut(name) {
                reorder(list, order, key)?;
            }
        }
    }
    Ok(Outcome::Keep)
}

fn merge_list(t: &mut Vec<Value>, p: &[Value], list: List, ty: Ty) -> Result<()> {
    if p.iter().any(Value::is_array) {
        return Err(ApiError::new(api::Reason::Invalid, "Lists of lists are not supported"));
    }
    match list {
        List::Atomic => {
            let mut out = Vec::with_capacity(p.len());
            for item in p {
                out.push(match item {
                    Value::Object(m) if is(m, "delete") => continue,
                    Value::Object(m) => Value::Object(without_directives(m, ty)?),
                    other => other.clone(),
                });
            }
            *t = out;
        }
        List::Set => {
            for item in p {
                if item.is_object() {
                    return Err(smp_error("Invalid patch format of primitive list"));
                }
                if !t.contains(item) {
                    t.push(item.clone());
                }
            }
        }
        List::Map(_) => {
            let key = list.merge_key().unwrap_or("name");
            // A `{"$patch": "replace"}` element: the rest is the whole list.
            let replace = p.iter().any(|e| e.as_object().is_some_and(|m| m.len() == 1 && is(m, "replace")));
            if replace {
                t.clear();
            }
            for item in p {
                let Value::Object(pm) = item else {
                    return Err(smp_error(format!(
                        "expected a map, but received a {}",
                        if item.is_string() { "string" } else { "non-map value" }
                    )));
                };
                if replace && pm.len() == 1 && is(pm, "replace") {
                    continue;
                }
                directive(pm)?;
                let Some(id) = pm.get(key) else {
                    return Err(smp_error(format!("map: {} does not contain declared merge key: {key}", go_map(pm))));
                };
                let pos = t.iter().position(|e| e.get(key) == Some(id));
                if is(pm, "delete") {
                    if let Some(i) = pos {
                        t.remove(i);
                    }
                    continue;
                }
                match pos {
                    Some(i) => {
                        if !t[i].is_object() {
                            t[i] = Value::Object(Map::new());
                        }
                        let Value::Object(tm) = &mut t[i] else { unreachable!("made an object above") };
                        if let Outcome::Replace(m) = merge_map(tm, pm, ty)? {
                            *tm = m;
                        }
                    }
                    None => t.push(Value::Object(without_directives(pm, ty)?)),
                }
            }
        }
    }
    Ok(())
}

fn is(m: &Map<String, Value>, directive: &str) -> bool {
    m.get(PATCH).and_then(Value::as_str) == Some(directive)
}

/// Puts the elements named in `order` in that order; the others keep their
/// places relative to each other, after the named ones.
fn reorder(list: &mut Vec<Value>, order: &[Value], key: Option<&str>) -> Result<()> {
    let rank = |e: &Value| -> Option<usize> {
        match key {
            Some(k) => {
                let id = e.get(k)?;
                order.iter().position(|o| o.get(k) == Some(id))
            }
            None => order.iter().position(|o| o == e),
        }
    };
    if key.is_some() && order.iter().any(|o| !o.is_object()) {
        return Err(smp_error("Invalid patch format of setElementOrder list"));
    }
    let mut ranked: Vec<(usize, Value)> =
        std::mem::take(list).into_iter().map(|e| (rank(&e).unwrap_or(usize::MAX), e)).collect();
    ranked.sort_by_key(|(r, _)| *r);
    *list = ranked.into_iter().map(|(_, e)| e).collect();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn smp(target: Value, patch: Value, kind: &'static str) -> Result<Value> {
        let mut out = target;
        apply(&mut out, &patch, kind)?;
        Ok(out)
    }

    fn pod() -> Value {
        json!({"metadata": {"name": "p", "finalizers": ["a", "b"],
                            "ownerReferences": [{"uid": "u1", "name": "rs"}, {"uid": "u2", "name": "other"}]},
               "spec": {"containers": [
                    {"name": "web", "image": "v1", "args": ["x", "y"],
                     "ports": [{"containerPort": 80, "name": "http"}, {"containerPort": 443}],
                     "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
                     "volumeMounts": [{"mountPath": "/data", "name": "d"}]},
                    {"name": "side", "image": "s1"}],
                        "tolerations": [{"key": "k1"}, {"key": "k2"}],
                        "volumes": [{"name": "d", "emptyDir": {}}]}})
    }

    #[test]
    fn containers_merge_by_name_and_their_lists_by_their_keys() {
        let patch = json!({"spec": {"containers": [{"name": "web",
            "ports": [{"containerPort": 80, "name": "web"}, {"containerPort": 8080}],
            "env": [{"name": "B", "value": "3"}],
            "volumeMounts": [{"mountPath": "/data", "readOnly": true}]}]}});
        let out = smp(pod(), patch, "Pod").unwrap();
        let web = &out["spec"]["containers"][0];
        assert_eq!(out["spec"]["containers"][1]["name"], "side");
        assert_eq!(web["image"], "v1");
        assert_eq!(
            web["ports"],
            json!([{"containerPort": 80, "name": "web"}, {"containerPort": 443}, {"containerPort": 8080}])
        );
        assert_eq!(web["env"], json!([{"name": "A", "value": "1"}, {"name": "B", "value": "3"}]));
        assert_eq!(web["volumeMounts"], json!([{"mountPath": "/data", "name": "d", "readOnly": true}]));
    }

    #[test]
    fn the_same_rules_hold_in_a_deployment_template() {
        let deploy =
            json!({"spec": {"template": {"spec": {"containers": [{"name": "a", "image": "1"}, {"name": "b"}]}}}});
        let patch = json!({"spec": {"template": {"spec": {"containers": [{"name": "a", "image": "2"}]}}}});
        let out = smp(deploy, patch, "Deployment").unwrap();
        assert_eq!(out["spec"]["template"]["spec"]["containers"], json!([{"name": "a", "image": "2"}, {"name": "b"}]));
    }

    #[test]
    fn service_ports_merge_by_port() {
        let svc = json!({"spec": {"ports": [{"port": 80, "targetPort": 8080}, {"port": 443}]}});
        let out = smp(svc, json!({"spec": {"ports": [{"port": 80, "targetPort": 9090}]}}), "Service").unwrap();
        assert_eq!(out["spec"]["ports"], json!([{"port": 80, "targetPort": 9090}, {"port": 443}]));
    }

    #[test]
    fn conditions_merge_by_type_and_owner_references_by_uid() {
        let node = json!({"status": {"conditions": [{"type": "Ready", "status": "False"}, {"type": "X"}]}});
        let out = smp(node, json!({"status": {"conditions": [{"type": "Ready", "status": "True"}]}}), "Node").unwrap();
        assert_eq!(out["status"]["conditions"], json!([{"type": "Ready", "status": "True"}, {"type": "X"}]));
        let patch = json!({"metadata": {"ownerReferences": [{"uid": "u2", "$patch": "delete"}]}});
        let out = smp(pod(), patch, "Pod").unwrap();
        assert_eq!(out["metadata"]["ownerReferences"], json!([{"uid": "u1", "name": "rs"}]));
    }

    #[test]
    fn finalizers_are_a_set_and_args_and_tolerations_are_replaced() {
        let out = smp(pod(), json!({"metadata": {"finalizers": ["b", "c"]}}), "Pod").unwrap();
        assert_eq!(out["metadata"]["finalizers"], json!(["a", "b", "c"]));
        let patch = json!({"spec": {"tolerations": [{"key": "k3"}], "containers": [{"name": "web", "args": ["z"]}]}});
        let out = smp(pod(), patch, "Pod").unwrap();
        assert_eq!(out["spec"]["tolerations"], json!([{"key": "k3"}]));
        assert_eq!(out["spec"]["containers"][0]["args"], json!(["z"]));
    }

    #[test]
    fn null_deletes_a_field_and_patch_delete_removes_a_map() {
        let patch = json!({"spec": {"containers": [{"name": "web", "image": null}], "volumes": null}});
        let out = smp(pod(), patch, "Pod").unwrap();
        assert!(out["spec"]["containers"][0].get("image").is_none());
        assert!(out["spec"].get("volumes").is_none());
        let out = smp(pod(), json!({"spec": {"$patch": "delete"}}), "Pod").unwrap();
        assert!(out.get("spec").is_none());
    }

    #[test]
    fn patch_replace_replaces_a_map_or_a_list() {
        let patch = json!({"metadata": {"$patch": "replace", "name": "p"}});
        let out = smp(pod(), patch, "Pod").unwrap();
        assert_eq!(out["metadata"], json!({"name": "p"}));
        let patch = json!({"spec": {"containers": [{"$patch": "replace"}, {"name": "only", "image": "o"}]}});
        let out = smp(pod(), patch, "Pod").unwrap();
        assert_eq!(out["spec"]["containers"], json!([{"name": "only", "image": "o"}]));
        let out =
            smp(pod(), json!({"spec": {"containers": [{"name": "side", "$patch": "merge", "image": "s2"}]}}), "Pod")
                .unwrap();
        assert_eq!(out["spec"]["containers"][1], json!({"name": "side", "image": "s2"}));
    }

    #[test]
    fn retain_keys_drops_the_keys_not_named() {
        let deploy = json!({"spec": {"strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1}}}});
        let patch = json!({"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate"}}});
        let out = smp(deploy.clone(), patch, "Deployment").unwrap();
        assert_eq!(out["spec"]["strategy"], json!({"type": "Recreate"}));
        let bad = json!({"spec": {"strategy": {"$retainKeys": ["type"], "rollingUpdate": {}}}});
        let err = smp(deploy.clone(), bad, "Deployment").unwrap_err();
        assert_eq!(err.message, "Patch content doesn't match retainKeys list");
        let bad = json!({"spec": {"strategy": {"$retainKeys": "type"}}});
        assert_eq!(smp(deploy, bad, "Deployment").unwrap_err().message, "Invalid patch format of retainKeys");
    }

    #[test]
    fn delete_from_primitive_list_and_set_element_order() {
        let patch = json!({"metadata": {"$deleteFromPrimitiveList/finalizers": ["a"]}});
        let out = smp(pod(), patch, "Pod").unwrap();
        assert_eq!(out["metadata"]["finalizers"], json!(["b"]));
        let patch = json!({"spec": {"$setElementOrder/containers": [{"name": "side"}, {"name": "web"}],
                                    "containers": [{"name": "side", "image": "s2"}]}});
        let out = smp(pod(), patch, "Pod").unwrap();
        assert_eq!(out["spec"]["containers"][0], json!({"name": "side", "image": "s2"}));
        assert_eq!(out["spec"]["containers"][1]["name"], "web");
        let patch = json!({"metadata": {"$setElementOrder/finalizers": ["b", "a"]}});
        assert_eq!(smp(pod(), patch, "Pod").unwrap()["metadata"]["finalizers"], json!(["b", "a"]));
    }

    #[test]
    fn errors_are_worded_as_kubernetes_words_them() {
        let err = smp(pod(), json!({"spec": {"containers": [{"image": "v2"}]}}), "Pod").unwrap_err();
        assert_eq!(err.message, "map: map[image:v2] does not contain declared merge key: name");
        let err = smp(pod(), json!({"spec": {"$patch": "nuke"}}), "Pod").unwrap_err();
        assert_eq!(err.message, "unknown patch type: nuke in map: map[$patch:nuke]");
        let err = smp(pod(), json!({"metadata": {"$deleteFromPrimitiveList/finalizers": "a"}}), "Pod").unwrap_err();
        assert_eq!(err.message, "Invalid patch format of primitive list");
        assert_eq!(smp(pod(), json!([1]), "Pod").unwrap_err().message, "Invalid JSON document");
    }

    #[test]
    fn new_values_lose_their_directives_and_nulls() {
        let patch = json!({"metadata": {"labels": {"a": "1", "b": null, "$patch": "merge"}}});
        let out = smp(pod(), patch, "Pod").unwrap();
        assert_eq!(out["metadata"]["labels"], json!({"a": "1"}));
    }
}
