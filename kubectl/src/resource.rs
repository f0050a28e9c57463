//! What users type to name resources: `pods`, `po,svc`, `all`, `pod/kubia`,
//! `TYPE NAME...`, and the `key=value` / `key-` changes of label and annotate.

use crate::error::{Error, Result};
use api::ResourceInfo;
use std::collections::BTreeMap;

/// Objects of one resource: by name, or all of them when `names` is empty.
#[derive(Debug, Clone, PartialEq)]
pub struct Selection {
    pub info: &'static ResourceInfo,
    pub names: Vec<String>,
}

/// Resolves one resource type as typed (`po`, `deployments.apps`); `all` is a category.
pub fn lookup(name: &str) -> Result<Vec<&'static ResourceInfo>> {
    if name == "all" {
        return Ok(api::registry::category("all"));
    }
    api::registry::lookup(name)
        .map(|r| vec![r])
        .ok_or_else(|| Error::msg(format!("the server doesn't have a resource type \"{name}\"")))
}

/// Parses `TYPE[,TYPE...] [NAME...]` or `TYPE/NAME...`.
pub fn parse_args(args: &[String]) -> Result<Vec<Selection>> {
    let Some(first) = args.first() else {
        return Ok(vec![]);
    };
    if args.iter().any(|a| a.contains('/')) {
        if !args.iter().all(|a| a.contains('/')) {
            return Err(Error::msg(
                "there is no need to specify a resource type as a separate argument when passing arguments in \
                 resource/name form (e.g. 'kubectl get resource/<resource_name>' instead of 'kubectl get resource \
                 resource/<resource_name>'",
            ));
        }
        let mut out: Vec<Selection> = Vec::new();
        for arg in args {
            let (kind, name) = arg.split_once('/').expect("checked above");
            if name.is_empty() {
                return Err(Error::msg("arguments in resource/name form must have a single resource and name"));
            }
            for info in lookup(kind)? {
                match out.last_mut() {
                    Some(last) if last.info == info => last.names.push(name.to_string()),
                    _ => out.push(Selection { info, names: vec![name.to_string()] }),
                }
            }
        }
        return Ok(out);
    }
    let names: Vec<String> = args[1..].to_vec();
    let mut out: Vec<Selection> = Vec::new();
    for kind in first.split(',').filter(|k| !k.is_empty()) {
        for info in lookup(kind)? {
            if !out.iter().any(|s| s.info == info) {
                out.push(Selection { info, names: names.clone() });
            }
        }
    }
    Ok(out)
}

/// Label and annotation changes: `key=value` sets, `key-` removes.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Changes {
    pub set: BTreeMap<String, String>,
    pub remove: Vec<String>,
}

/// Splits label/annotate arguments into resource arguments and changes.
pub fn split_changes(args: &[String]) -> (Vec<String>, Vec<String>) {
    args.iter().cloned().partition(|a| !(a.contains('=') || a.ends_with('-')))
}

/// Parses `key=value` and `key-` arguments; `what` is `label` or `annotation`.
pub fn parse_changes(args: &[String], what: &str) -> Result<Changes> {
    let mut changes = Changes::default();
    for arg in args {
        if let Some((k, v)) = arg.split_once('=') {
            if k.is_empty() {
                return Err(Error::msg(format!("invalid {what} spec: {arg}")));
            }
            if what == "label" && !valid_label_value(v) {
                return Err(Error::msg(format!(
                    "invalid label value: \"{arg}\": a valid label must be an empty string or consist of alphanumeric \
                     characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. \
                     'MyValue',  or 'my_value',  or '12345', regex used for validation is \
                     '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"
                )));
            }
            if changes.remove.iter().any(|r| r == k) {
                return Err(Error::msg(format!(
                    "can not both modify and remove the following {what}(s) in the same command: {k}"
                )));
            }
            changes.set.insert(k.to_string(), v.to_string());
        } else if let Some(k) = arg.strip_suffix('-') {
            if changes.set.contains_key(k) {
                return Err(Error::msg(format!(
                    "can not both modify and remove the following {what}(s) in the same command: {k}"
                )));
            }
            changes.remove.push(k.to_string());
        } else {
            return Err(Error::msg(format!("invalid {what} spec: {arg}")));
        }
    }
    if changes.set.is_empty() && changes.remove.is_empty() {
        return Err(Error::msg(format!("at least one {what} update is required")));
    }
    Ok(changes)
}

fn valid_label_value(v: &str) -> bool {
    if v.is_empty() {
        return true;
    }
    let ok_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.');
    v.len() <= 63
        && v.chars().all(ok_char)
        && v.starts_with(|c: char| c.is_ascii_alphanumeric())
        && v.ends_with(|c: char| c.is_ascii_alphanumeric())
}

/// Applies changes to a label or annotation map. Without `overwrite`, changing
/// an existing value is refused with kubectl's message for `what`.
pub fn apply_changes(
    current: &BTreeMap<String, String>,
    changes: &Changes,
    overwrite: bool,
    what: &str,
) -> Result<BTreeMap<String, String>> {
    if !overwrite {
        let clashes: Vec<String> = changes
            .set
            .iter()
            .filter_map(|(k, v)| {
                current.get(k).filter(|cur| *cur != v).map(|cur| format!("'{k}' already has a value ({cur})"))
            })
            .collect();
        if !clashes.is_empty() {
            return Err(Error::msg(if what == "label" {
                clashes.iter().map(|c| format!("{c}, and --overwrite is false")).collect::<Vec<_>>().join("; ")
            } else {
                format!("--overwrite is false but found the following declared annotation(s): {}", clashes.join("; "))
            }));
        }
    }
    let mut next = current.clone();
    for k in &changes.remove {
        next.remove(k);
    }
    next.extend(changes.set.iter().map(|(k, v)| (k.clone(), v.clone())));
    Ok(next)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    fn plurals(sel: &[Selection]) -> Vec<(&str, Vec<String>)> {
        sel.iter().map(|s| (s.info.plural, s.names.clone())).collect()
    }

    #[test]
    fn type_and_names() {
        let sel = parse_args(&strings(&["po", "kubia", "kubia-manual"])).unwrap();
        assert_eq!(plurals(&sel), [("pods", strings(&["kubia", "kubia-manual"]))]);
        let sel = parse_args(&strings(&["po,svc"])).unwrap();
        assert_eq!(plurals(&sel), [("pods", vec![]), ("services", vec![])]);
    }

    #[test]
    fn slash_form() {
        let sel = parse_args(&strings(&["pod/a", "pod/b", "rc/kubia"])).unwrap();
        assert_eq!(plurals(&sel), [("pods", strings(&["a", "b"])), ("replicationcontrollers", strings(&["kubia"]))]);
        let err = parse_args(&strings(&["pod", "pod/b"])).unwrap_err();
        assert!(err.to_string().starts_with("error: there is no need to specify a resource type"));
    }

    #[test]
    fn all_expands_to_its_category() {
        let sel = parse_args(&strings(&["all"])).unwrap();
        let names: Vec<&str> = sel.iter().map(|s| s.info.plural).collect();
        assert!(names.starts_with(&["pods", "replicationcontrollers", "services"]), "{names:?}");
        assert!(!names.contains(&"events"));
    }

    #[test]
    fn unknown_types_read_like_kubectl() {
        let err = parse_args(&strings(&["frobs"])).unwrap_err();
        assert_eq!(err.to_string(), "error: the server doesn't have a resource type \"frobs\"");
    }

    #[test]
    fn label_arguments_split_from_resources() {
        let (res, changes) = split_changes(&strings(&["po", "kubia-manual", "creation_method=manual", "env-"]));
        assert_eq!(res, strings(&["po", "kubia-manual"]));
        let c = parse_changes(&changes, "label").unwrap();
        assert_eq!(c.set.get("creation_method").map(String::as_str), Some("manual"));
        assert_eq!(c.remove, ["env"]);
    }

    #[test]
    fn annotation_values_may_hold_spaces() {
        let c = parse_changes(&strings(&["mycompany.com/someannotation=foo bar"]), "annotation").unwrap();
        assert_eq!(c.set.get("mycompany.com/someannotation").map(String::as_str), Some("foo bar"));
        let err = parse_changes(&strings(&["env=foo bar"]), "label").unwrap_err();
        assert!(err.to_string().starts_with("error: invalid label value: \"env=foo bar\""));
        assert_eq!(
            parse_changes(&[], "label").unwrap_err().to_string(),
            "error: at least one label update is required"
        );
    }

    #[test]
    fn overwriting_needs_the_flag() {
        let current: BTreeMap<String, String> = [("env".to_string(), "prod".to_string())].into();
        let c = parse_changes(&strings(&["env=debug"]), "label").unwrap();
        let err = apply_changes(&current, &c, false, "label").unwrap_err();
        assert_eq!(err.to_string(), "error: 'env' already has a value (prod), and --overwrite is false");
        let err = apply_changes(&current, &c, false, "annotation").unwrap_err();
        assert_eq!(
            err.to_string(),
            "error: --overwrite is false but found the following declared annotation(s): 'env' already has a value (prod)"
        );
        assert_eq!(apply_changes(&current, &c, true, "label").unwrap().get("env").map(String::as_str), Some("debug"));
        let same = parse_changes(&strings(&["env=prod"]), "label").unwrap();
        assert_eq!(apply_changes(&current, &same, false, "label").unwrap(), current);
        let rm = parse_changes(&strings(&["env-"]), "label").unwrap();
        assert!(apply_changes(&current, &rm, false, "label").unwrap().is_empty());
    }
}
