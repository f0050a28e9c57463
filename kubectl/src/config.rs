//! Kubeconfig: finding the files (`--kubeconfig`, `$KUBECONFIG`, `~/.kube/config`),
//! merging them as kubectl does (the first file to set a value wins), choosing
//! the server and default namespace, and editing a file in place for the
//! `kubectl config` commands without losing entries it does not touch.

use crate::error::Error;
use serde_json::{json, Map, Value};
use std::path::{Path, PathBuf};

/// Where kubectl talks to when nothing says otherwise.
pub const DEFAULT_SERVER: &str = "http://127.0.0.1:6443";

/// The kubeconfig files in precedence order.
#[derive(Debug, Clone)]
pub struct ConfigFiles {
    pub paths: Vec<PathBuf>,
    /// Given with `--kubeconfig` (must exist).
    pub explicit: bool,
}

impl ConfigFiles {
    /// From `--kubeconfig`, else `$KUBECONFIG` (colon-separated), else `~/.kube/config`.
    pub fn locate(flag: Option<&str>, env: Option<&str>, home: Option<&str>) -> Self {
        if let Some(f) = flag.filter(|f| !f.is_empty()) {
            return Self { paths: vec![PathBuf::from(f)], explicit: true };
        }
        if let Some(env) = env.filter(|e| !e.is_empty()) {
            let paths: Vec<PathBuf> = env.split(':').filter(|p| !p.is_empty()).map(PathBuf::from).collect();
            if !paths.is_empty() {
                return Self { paths, explicit: false };
            }
        }
        let home = home.unwrap_or(".");
        Self { paths: vec![Path::new(home).join(".kube").join("config")], explicit: false }
    }

    /// From the process's flags and environment.
    pub fn from_env(flag: Option<&str>) -> Self {
        let env = std::env::var("KUBECONFIG").ok();
        let home = std::env::var("HOME").ok();
        Self::locate(flag, env.as_deref(), home.as_deref())
    }

    /// Reads every existing file (a missing `--kubeconfig` is an error, as in kubectl).
    pub fn load(&self) -> Result<Vec<(PathBuf, Value)>, Error> {
        let mut docs = Vec::new();
        for path in &self.paths {
            match std::fs::read_to_string(path) {
                Ok(text) => docs.push((path.clone(), parse(&text, path)?)),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound && !self.explicit => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    return Err(Error::msg(format!("stat {}: no such file or directory", path.display())));
                }
                Err(e) => return Err(Error::msg(format!("error loading config file \"{}\": {e}", path.display()))),
            }
        }
        Ok(docs)
    }
}

/// Parses a kubeconfig file's YAML (an empty file is an empty config).
pub fn parse(text: &str, path: &Path) -> Result<Value, Error> {
    if text.trim().is_empty() {
        return Ok(empty_config());
    }
    serde_yaml::from_str::<Value>(text)
        .map_err(|e| Error::msg(format!("error loading config file \"{}\": {e}", path.display())))
}

/// A config with nothing in it, as kubectl writes a new file.
pub fn empty_config() -> Value {
    json!({"apiVersion": "v1", "kind": "Config", "clusters": [], "contexts": [], "current-context": "",
           "preferences": {}, "users": []})
}

/// The merged view of several files.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Merged {
    pub current_context: String,
    pub clusters: Vec<(String, Value)>,
    pub contexts: Vec<(String, Value)>,
    pub users: Vec<(String, Value)>,
}

fn named_entries(doc: &Value, list: &str, inner: &str) -> Vec<(String, Value)> {
    doc.get(list)
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|e| Some((e.get("name")?.as_str()?.to_string(), e.get(inner).cloned().unwrap_or(json!({})))))
        .collect()
}

/// Merges files as kubectl does: the first file that sets `current-context` or
/// defines a named cluster, context or user wins.
pub fn merge(docs: &[(PathBuf, Value)]) -> Merged {
    let mut m = Merged::default();
    for (_, doc) in docs {
        if m.current_context.is_empty() {
            m.current_context = doc.get("current-context").and_then(Value::as_str).unwrap_or("").to_string();
        }
        for (list, inner, target) in [
            ("clusters", "cluster", &mut m.clusters),
            ("contexts", "context", &mut m.contexts),
            ("users", "user", &mut m.users),
        ] {
            for (name, value) in named_entries(doc, list, inner) {
                if !target.iter().any(|(n, _)| *n == name) {
                    target.push((name, value));
                }
            }
        }
    }
    m
}

/// Where to connect and which namespace to use by default.
#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    pub server: String,
    pub namespace: String,
}

impl Merged {
    pub fn context(&self, name: &str) -> Option<&Value> {
        self.contexts.iter().find(|(n, _)| n == name).map(|(_, v)| v)
    }
    pub fn cluster(&self, name: &str) -> Option<&Value> {
        self.clusters.iter().find(|(n, _)| n == name).map(|(_, v)| v)
    }

    /// Resolves the server and namespace from flags, then the context, then defaults.
    pub fn target(
        &self,
        server: Option<&str>,
        context: Option<&str>,
        namespace: Option<&str>,
    ) -> Result<Target, Error> {
        let ctx = match context.filter(|c| !c.is_empty()) {
            Some(name) => Some(
                self.context(name)
                    .ok_or_else(|| Error::msg(format!("context was not found for specified context: {name}")))?,
            ),
            None => self.context(&self.current_context),
        };
        let field = |v: Option<&Value>, k: &str| v.and_then(|v| v.get(k)).and_then(Value::as_str).map(str::to_string);
        let cluster = field(ctx, "cluster").and_then(|c| self.cluster(&c).cloned());
        let server = server
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .or_else(|| field(cluster.as_ref(), "server").filter(|s| !s.is_empty()))
            .unwrap_or_else(|| DEFAULT_SERVER.to_string());
        let namespace = namespace
            .filter(|n| !n.is_empty())
            .map(str::to_string)
            .or_else(|| field(ctx, "namespace").filter(|n| !n.is_empty()))
            .unwrap_or_else(|| "default".to_string());
        Ok(Target { server, namespace })
    }

    /// The merged config as a kubeconfig document (what `config view` prints).
    pub fn to_document(&self) -> Value {
        let list = |entries: &[(String, Value)], inner: &str| -> Value {
            if entries.is_empty() {
                return Value::Null;
            }
            Value::Array(entries.iter().map(|(n, v)| json!({ "name": n, inner: v })).collect())
        };
        json!({
            "apiVersion": "v1",
            "clusters": list(&self.clusters, "cluster"),
            "contexts": list(&self.contexts, "context"),
            "current-context": self.current_context,
            "kind": "Config",
            "preferences": {},
            "users": list(&self.users, "user"),
        })
    }
}

/// Hides credentials as `kubectl config view` does without `--raw`.
pub fn redact(doc: &mut Value) {
    match doc {
        Value::Object(map) => {
            for (k, v) in map.iter_mut() {
                match k.as_str() {
                    "certificate-authority-data" => *v = Value::String("DATA+OMITTED".into()),
                    "client-certificate-data" | "client-key-data" | "token" | "password" => {
                        *v = Value::String("REDACTED".into())
                    }
                    _ => redact(v),
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(redact),
        _ => {}
    }
}

/// Sets `inner` fields of the named entry in `list` (creating the entry if
/// needed); returns whether the entry existed. Other entries stay as they are.
pub fn upsert_entry(doc: &mut Value, list: &str, inner: &str, name: &str, fields: &[(&str, &str)]) -> bool {
    let root = ensure_object(doc);
    let entries = root.entry(list).or_insert_with(|| json!([]));
    if !entries.is_array() {
        *entries = json!([]);
    }
    let entries = entries.as_array_mut().expect("just made an array");
    let existed = entries.iter().any(|e| e.get("name").and_then(Value::as_str) == Some(name));
    if !existed {
        entries.push(json!({"name": name, inner: {}}));
    }
    let entry = entries
        .iter_mut()
        .find(|e| e.get("name").and_then(Value::as_str) == Some(name))
        .expect("present or just added");
    let body = ensure_object(entry).entry(inner).or_insert_with(|| json!({}));
    let body = ensure_object(body);
    for (k, v) in fields {
        body.insert(k.to_string(), Value::String(v.to_string()));
    }
    existed
}

/// Removes the named entry from `list`; returns whether it was there.
pub fn remove_entry(doc: &mut Value, list: &str, name: &str) -> bool {
    let Some(entries) = doc.get_mut(list).and_then(Value::as_array_mut) else {
        return false;
    };
    let before = entries.len();
    entries.retain(|e| e.get("name").and_then(Value::as_str) != Some(name));
    entries.len() != before
}

fn ensure_object(v: &mut Value) -> &mut Map<String, Value> {
    if !v.is_object() {
        *v = json!({});
    }
    v.as_object_mut().expect("just made an object")
}

/// Which file a change goes to: the one that already defines `list`/`name`
/// (or sets `current-context` when `list` is empty), else the first file.
pub fn file_for(files: &ConfigFiles, docs: &[(PathBuf, Value)], list: &str, name: &str) -> PathBuf {
    let defines = |doc: &Value| {
        if list.is_empty() {
            doc.get("current-context").and_then(Value::as_str).is_some_and(|c| !c.is_empty())
        } else {
            named_entries(doc, list, "").iter().any(|(n, _)| n == name)
        }
    };
    docs.iter().find(|(_, d)| defines(d)).map(|(p, _)| p.clone()).unwrap_or_else(|| files.paths[0].clone())
}

/// Reads one file for editing (an empty config when it does not exist yet).
pub fn read_for_edit(path: &Path) -> Result<Value, Error> {
    match std::fs::read_to_string(path) {
        Ok(text) => parse(&text, path),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(empty_config()),
        Err(e) => Err(Error::msg(format!("error loading config file \"{}\": {e}", path.display()))),
    }
}

/// Writes a kubeconfig file, creating its directory.
pub fn write(path: &Path, doc: &Value) -> Result<(), Error> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| Error::msg(format!("{}: {e}", dir.display())))?;
    }
    let text = serde_yaml::to_string(doc).map_err(|e| Error::msg(e.to_string()))?;
    std::fs::write(path, text).map_err(|e| Error::msg(format!("{}: {e}", path.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIKUBE: &str = r#"
apiVersion: v1
kind: Config
clusters:
- name: minikube
  cluster:
    server: https://192.168.49.2:8443
    certificate-authority-data: c2VjcmV0
- name: kubelab
  cluster:
    server: http://127.0.0.1:6443
contexts:
- name: minikube
  context:
    cluster: minikube
    user: minikube
    namespace: custom-namespace
- name: lab
  context:
    cluster: kubelab
current-context: minikube
users:
- name: minikube
  user:
    token: abc
"#;

    fn docs(texts: &[&str]) -> Vec<(PathBuf, Value)> {
        texts
            .iter()
            .enumerate()
            .map(|(i, t)| (PathBuf::from(format!("f{i}")), parse(t, Path::new("x")).unwrap()))
            .collect()
    }

    #[test]
    fn files_are_located_in_kubectl_order() {
        let f = ConfigFiles::locate(Some("/a"), Some("/b:/c"), Some("/home/u"));
        assert_eq!(f.paths, [PathBuf::from("/a")]);
        assert!(f.explicit);
        let f = ConfigFiles::locate(None, Some("/b::/c"), Some("/home/u"));
        assert_eq!(f.paths, [PathBuf::from("/b"), PathBuf::from("/c")]);
        let f = ConfigFiles::locate(None, Some(""), Some("/home/u"));
        assert_eq!(f.paths, [PathBuf::from("/home/u/.kube/config")]);
    }

    #[test]
    fn the_current_context_picks_server_and_namespace() {
        let m = merge(&docs(&[MINIKUBE]));
        let t = m.target(None, None, None).unwrap();
        assert_eq!(t, Target { server: "https://192.168.49.2:8443".into(), namespace: "custom-namespace".into() });
        let t = m.target(None, Some("lab"), None).unwrap();
        assert_eq!(t, Target { server: "http://127.0.0.1:6443".into(), namespace: "default".into() });
        let t = m.target(Some("http://10.0.0.1:6443"), None, Some("kube-system")).unwrap();
        assert_eq!(t, Target { server: "http://10.0.0.1:6443".into(), namespace: "kube-system".into() });
        assert_eq!(
            m.target(None, Some("nope"), None).unwrap_err().to_string(),
            "error: context was not found for specified context: nope"
        );
    }

    #[test]
    fn nothing_configured_means_the_default_server() {
        let t = merge(&[]).target(None, None, None).unwrap();
        assert_eq!(t, Target { server: DEFAULT_SERVER.into(), namespace: "default".into() });
    }

    #[test]
    fn the_first_file_to_set_a_value_wins() {
        let first =
            "current-context: lab\ncontexts:\n- name: lab\n  context:\n    cluster: kubelab\n    namespace: first\n";
        let m = merge(&docs(&[first, MINIKUBE]));
        assert_eq!(m.current_context, "lab");
        let t = m.target(None, None, None).unwrap();
        assert_eq!(t.namespace, "first");
        assert_eq!(t.server, "http://127.0.0.1:6443", "the cluster comes from the second file");
        let no_current = "contexts: []\n";
        assert_eq!(merge(&docs(&[no_current, MINIKUBE])).current_context, "minikube");
    }

    #[test]
    fn view_redacts_credentials() {
        let mut doc = merge(&docs(&[MINIKUBE])).to_document();
        redact(&mut doc);
        assert_eq!(doc["clusters"][0]["cluster"]["certificate-authority-data"], "DATA+OMITTED");
        assert_eq!(doc["users"][0]["user"]["token"], "REDACTED");
        assert_eq!(doc["current-context"], "minikube");
        assert_eq!(merge(&[]).to_document()["users"], Value::Null);
    }

    #[test]
    fn edits_keep_other_entries() {
        let mut doc = parse(MINIKUBE, Path::new("x")).unwrap();
        assert!(!upsert_entry(&mut doc, "clusters", "cluster", "new", &[("server", "http://1.2.3.4:6443")]));
        assert!(upsert_entry(&mut doc, "contexts", "context", "minikube", &[("namespace", "default")]));
        assert_eq!(doc["clusters"].as_array().unwrap().len(), 3);
        assert_eq!(doc["clusters"][0]["cluster"]["certificate-authority-data"], "c2VjcmV0");
        assert_eq!(doc["contexts"][0]["context"]["namespace"], "default");
        assert_eq!(doc["contexts"][0]["context"]["user"], "minikube");
        assert!(remove_entry(&mut doc, "contexts", "lab"));
        assert!(!remove_entry(&mut doc, "contexts", "lab"));
    }

    #[test]
    fn changes_go_to_the_file_that_defines_the_entry() {
        let files = ConfigFiles { paths: vec!["f0".into(), "f1".into()], explicit: false };
        let d = docs(&["clusters: []\n", MINIKUBE]);
        assert_eq!(file_for(&files, &d, "clusters", "minikube"), PathBuf::from("f1"));
        assert_eq!(file_for(&files, &d, "clusters", "other"), PathBuf::from("f0"));
        assert_eq!(file_for(&files, &d, "", ""), PathBuf::from("f1"));
    }

    #[test]
    fn files_round_trip_through_disk() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub").join("config");
        let mut doc = read_for_edit(&path).unwrap();
        upsert_entry(&mut doc, "clusters", "cluster", "lab", &[("server", "http://127.0.0.1:6443")]);
        write(&path, &doc).unwrap();
        let back = read_for_edit(&path).unwrap();
        assert_eq!(back["clusters"][0]["cluster"]["server"], "http://127.0.0.1:6443");
        assert_eq!(back["kind"], "Config");
    }
}
