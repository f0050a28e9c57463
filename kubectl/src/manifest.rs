//! Reading `-f` arguments: files, directories (`-R` to descend), `-` for stdin;
//! each object is tagged with the file it came from, with its resource resolved
//! and its namespace settled. Parsing, `List` expansion and the apiVersion/kind
//! check are the codec's (`api::codec::parse_manifests`); kubectl adds its advice.

use crate::error::{Error, Result};
use api::{Reason, ResourceInfo};
use serde_json::Value;
use std::io::Read;
use std::path::Path;

/// One object from a manifest.
#[derive(Debug, Clone)]
pub struct Manifest {
    /// The file as the user named it (`kubia-manual.yaml`, `dir/a.yaml`, `STDIN`).
    pub source: String,
    pub object: Value,
}

const EXTENSIONS: [&str; 3] = ["json", "yaml", "yml"];

/// The files behind `-f` arguments with their text, in order: a directory's
/// manifest files sorted by name (subdirectories only with `recursive`).
pub fn read_sources(paths: &[String], recursive: bool) -> Result<Vec<(String, String)>> {
    let mut out = Vec::new();
    for p in paths {
        if p == "-" {
            let mut text = String::new();
            std::io::stdin().read_to_string(&mut text)?;
            out.push(("STDIN".to_string(), text));
            continue;
        }
        let path = Path::new(p);
        if !path.exists() {
            return Err(Error::msg(format!("the path \"{p}\" does not exist")));
        }
        if path.is_dir() {
            walk(path, recursive, &mut out)?;
        } else {
            out.push((p.clone(), read(path)?));
        }
    }
    Ok(out)
}

fn read(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).map_err(|e| Error::msg(format!("error reading \"{}\": {e}", path.display())))
}

fn walk(dir: &Path, recursive: bool, out: &mut Vec<(String, String)>) -> Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)?.filter_map(|e| e.ok()).map(|e| e.path()).collect();
    entries.sort();
    for entry in entries {
        if entry.is_dir() {
            if recursive {
                walk(&entry, recursive, out)?;
            }
        } else if entry.extension().and_then(|e| e.to_str()).is_some_and(|e| EXTENSIONS.contains(&e)) {
            out.push((entry.display().to_string(), read(&entry)?));
        }
    }
    Ok(())
}

/// Reads and parses every object; `List` documents are flattened into their items.
pub fn load(paths: &[String], recursive: bool) -> Result<Vec<Manifest>> {
    if paths.is_empty() {
        return Err(Error::msg("must specify one of -f and -k"));
    }
    let mut out = Vec::new();
    for (source, text) in read_sources(paths, recursive)? {
        out.extend(parse(&source, &text)?);
    }
    Ok(out)
}

/// One file's objects. The codec's message already names the file and the
/// place in it; a validation failure gets kubectl's advice.
fn parse(source: &str, text: &str) -> Result<Vec<Manifest>> {
    let objects = api::codec::parse_manifests(text, source).map_err(|e| match e.reason {
        Reason::Invalid => Error::msg(format!(
            "{}; if you choose to ignore these errors, turn validation off with --validate=false",
            e.message
        )),
        _ => Error::msg(e.message),
    })?;
    Ok(objects.into_iter().map(|object| Manifest { source: source.to_string(), object }).collect())
}

/// The resource a manifest object is, failing in kubectl's words.
pub fn resolve(m: &Manifest) -> Result<&'static ResourceInfo> {
    api::registry::by_kind(api::meta::api_version(&m.object), api::meta::kind(&m.object))
        .map_err(|e| Error::msg(format!("unable to recognize \"{}\": {}", m.source, e.message)))
}

/// The namespace an object goes to: its own, else the default one; `-n` that
/// disagrees with the object's own is an error, as in kubectl.
pub fn namespace_for(info: &ResourceInfo, obj: &Value, default_ns: &str, explicit: bool) -> Result<String> {
    if !info.namespaced {
        return Ok(String::new());
    }
    let own = api::meta::namespace(obj);
    if own.is_empty() {
        return Ok(default_ns.to_string());
    }
    if explicit && own != default_ns {
        return Err(Error::msg(format!(
            "the namespace from the provided object \"{own}\" does not match the namespace \"{default_ns}\". \
             You must pass '--namespace={own}' to perform this operation."
        )));
    }
    Ok(own.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn m(obj: Value) -> Manifest {
        Manifest { source: "kubia-replicaset.yaml".into(), object: obj }
    }

    #[test]
    fn unknown_versions_are_unrecognized() {
        let err = resolve(&m(json!({"apiVersion": "apps/v1beta2", "kind": "ReplicaSet"}))).unwrap_err();
        assert_eq!(
            err.to_string(),
            r#"error: unable to recognize "kubia-replicaset.yaml": no matches for kind "ReplicaSet" in version "apps/v1beta2""#
        );
        assert_eq!(resolve(&m(json!({"apiVersion": "apps/v1", "kind": "ReplicaSet"}))).unwrap().plural, "replicasets");
    }

    #[test]
    fn missing_type_fields_fail_validation() {
        let err = parse("kubia-replicaset.yaml", "metadata:\n  name: x\n").unwrap_err();
        assert_eq!(
            err.to_string(),
            "error: error validating \"kubia-replicaset.yaml\": error validating data: [apiVersion not set, kind not set]; \
             if you choose to ignore these errors, turn validation off with --validate=false"
        );
        let err = parse("kubia-replicaset.yaml", "apiVersion: v1\n").unwrap_err();
        assert!(err.to_string().contains("error validating data: kind not set;"));
    }

    #[test]
    fn namespaces_follow_kubectl_rules() {
        let pods = api::registry::lookup("pods").unwrap();
        let ns = api::registry::lookup("ns").unwrap();
        let plain = json!({"metadata": {"name": "kubia-manual"}});
        let own = json!({"metadata": {"name": "a", "namespace": "custom-namespace"}});
        assert_eq!(namespace_for(pods, &plain, "custom-namespace", true).unwrap(), "custom-namespace");
        assert_eq!(namespace_for(pods, &own, "default", false).unwrap(), "custom-namespace");
        assert_eq!(namespace_for(ns, &plain, "default", true).unwrap(), "");
        let err = namespace_for(pods, &own, "other", true).unwrap_err();
        assert_eq!(
            err.to_string(),
            "error: the namespace from the provided object \"custom-namespace\" does not match the namespace \"other\". \
             You must pass '--namespace=custom-namespace' to perform this operation."
        );
    }

    #[test]
    fn directories_are_read_in_order() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("b.yaml"), "b").unwrap();
        std::fs::write(dir.path().join("a.json"), "a").unwrap();
        std::fs::write(dir.path().join("notes.txt"), "skip").unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        std::fs::write(dir.path().join("sub").join("c.yml"), "c").unwrap();
        let d = dir.path().display().to_string();
        let texts =
            |r| read_sources(std::slice::from_ref(&d), r).unwrap().into_iter().map(|(_, t)| t).collect::<Vec<_>>();
        assert_eq!(texts(false), ["a", "b"]);
        assert_eq!(texts(true), ["a", "b", "c"]);
        let err = read_sources(&["nope.yaml".into()], false).unwrap_err();
        assert_eq!(err.to_string(), "error: the path \"nope.yaml\" does not exist");
    }

    #[test]
    fn malformed_files_are_named_once_with_the_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("broken.yaml");
        std::fs::write(&path, "apiVersion: v1\nkind: Pod\nmetadata:\n  name: x\n  labels: [a\n").unwrap();
        let source = path.display().to_string();
        let err = load(std::slice::from_ref(&source), false).unwrap_err().to_string();
        let prefix = format!("error: error parsing {source}: yaml: line 6, column 1: ");
        assert!(err.starts_with(&prefix), "{err}");
        assert_eq!(err.matches("error parsing").count(), 1, "{err}");
    }

    #[test]
    fn lists_are_flattened() {
        let list = r#"{"apiVersion": "v1", "kind": "List", "items": [{"apiVersion": "v1", "kind": "Pod"},
                      {"apiVersion": "v1", "kind": "Service"}]}"#;
        let out = parse("f", list).unwrap();
        assert_eq!(out.iter().map(|m| api::meta::kind(&m.object)).collect::<Vec<_>>(), ["Pod", "Service"]);
    }
}
