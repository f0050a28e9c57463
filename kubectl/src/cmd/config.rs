//! `kubectl config`: view the merged kubeconfig and point it at a cluster.

use crate::cli::{ConfigCommand, Global};
use crate::config::{self, ConfigFiles, Merged};
use crate::error::{Error, Result};
use crate::printers::tabwriter::TabWriter;
use serde_json::Value;
use std::path::PathBuf;

pub fn run(global: &Global, files: &ConfigFiles, cmd: ConfigCommand) -> Result<()> {
    let docs = files.load()?;
    let merged = config::merge(&docs);
    let out = execute(global, files, &docs, &merged, cmd)?;
    // A closed pipe (`| head`) is not an error worth a panic.
    let _ = std::io::Write::write_all(&mut std::io::stdout(), out.as_bytes());
    Ok(())
}

/// Runs a config command and returns what it prints (so it can be tested without stdout).
pub fn execute(
    global: &Global,
    files: &ConfigFiles,
    docs: &[(PathBuf, Value)],
    merged: &Merged,
    cmd: ConfigCommand,
) -> Result<String> {
    match cmd {
        ConfigCommand::View { raw, minify, output } => {
            let mut m = merged.clone();
            if minify {
                if m.current_context.is_empty() {
                    return Err(Error::msg("current-context must exist in order to minify"));
                }
                m.contexts.retain(|(n, _)| *n == m.current_context);
                let field = |k: &str| {
                    m.contexts.first().and_then(|(_, c)| c.get(k)).and_then(Value::as_str).map(str::to_string)
                };
                let (cluster, user) = (field("cluster"), field("user"));
                m.clusters.retain(|(n, _)| Some(n) == cluster.as_ref());
                m.users.retain(|(n, _)| Some(n) == user.as_ref());
            }
            let mut doc = m.to_document();
            if !raw {
                config::redact(&mut doc);
            }
            match output.as_deref() {
                None | Some("yaml") => serde_yaml::to_string(&doc).map_err(|e| Error::msg(e.to_string())),
                Some("json") => {
                    serde_json::to_string_pretty(&doc).map(|s| s + "\n").map_err(|e| Error::msg(e.to_string()))
                }
                Some(other) => Err(Error::msg(format!("output format \"{other}\" is not supported by config view"))),
            }
        }
        ConfigCommand::CurrentContext => {
            if merged.current_context.is_empty() {
                return Err(Error::msg("current-context is not set"));
            }
            Ok(format!("{}\n", merged.current_context))
        }
        ConfigCommand::UseContext { name } => {
            if merged.context(&name).is_none() {
                return Err(Error::msg(format!("no context exists with the name: \"{name}\"")));
            }
            let path = config::file_for(files, docs, "", "");
            let mut doc = config::read_for_edit(&path)?;
            if let Some(m) = doc.as_object_mut() {
                m.insert("current-context".into(), Value::String(name.clone()));
            }
            config::write(&path, &doc)?;
            Ok(format!("Switched to context \"{name}\".\n"))
        }
        ConfigCommand::SetCluster { name } => {
            let path = config::file_for(files, docs, "clusters", &name);
            let mut doc = config::read_for_edit(&path)?;
            let fields: Vec<(&str, &str)> = global.server.as_deref().map(|s| ("server", s)).into_iter().collect();
            config::upsert_entry(&mut doc, "clusters", "cluster", &name, &fields);
            config::write(&path, &doc)?;
            Ok(format!("Cluster \"{name}\" set.\n"))
        }
        ConfigCommand::SetContext { name, current, cluster, user } => {
            let name = match (name, current) {
                (Some(_), true) => return Err(Error::msg("you cannot specify both a context name and --current")),
                (Some(n), false) => n,
                (None, true) if merged.current_context.is_empty() => {
                    return Err(Error::msg("no current context is set"));
                }
                (None, true) => merged.current_context.clone(),
                (None, false) => return Err(Error::msg("you must specify a non-empty context name or --current")),
            };
            let path = config::file_for(files, docs, "contexts", &name);
            let mut doc = config::read_for_edit(&path)?;
            let mut fields = Vec::new();
            if let Some(c) = cluster.as_deref() {
                fields.push(("cluster", c));
            }
            if let Some(u) = user.as_deref() {
                fields.push(("user", u));
            }
            if let Some(ns) = global.namespace.as_deref() {
                fields.push(("namespace", ns));
            }
            let existed = config::upsert_entry(&mut doc, "contexts", "context", &name, &fields);
            config::write(&path, &doc)?;
            Ok(format!("Context \"{name}\" {}.\n", if existed { "modified" } else { "created" }))
        }
        ConfigCommand::GetContexts { name, no_headers, output } => {
            let contexts: Vec<&(String, Value)> =
                merged.contexts.iter().filter(|(n, _)| name.as_ref().is_none_or(|want| want == n)).collect();
            if let Some(want) = &name {
                if contexts.is_empty() {
                    return Err(Error::msg(format!("context {want} not found")));
                }
            }
            if output.as_deref() == Some("name") {
                return Ok(contexts.iter().map(|(n, _)| format!("{n}\n")).collect());
            }
            let mut text = String::new();
            if !no_headers {
                text.push_str("CURRENT\tNAME\tCLUSTER\tAUTHINFO\tNAMESPACE\n");
            }
            for (n, c) in contexts {
                let f = |k: &str| c.get(k).and_then(Value::as_str).unwrap_or("").to_string();
                let mark = if *n == merged.current_context { "*" } else { "" };
                text.push_str(&format!("{mark}\t{n}\t{}\t{}\t{}\n", f("cluster"), f("user"), f("namespace")));
            }
            Ok(TabWriter::for_tables().format(&text))
        }
        ConfigCommand::DeleteContext { name } => {
            let path = config::file_for(files, docs, "contexts", &name);
            let mut doc = config::read_for_edit(&path)?;
            if !config::remove_entry(&mut doc, "contexts", &name) {
                return Err(Error::msg(format!("cannot delete context {name}, not in {}", path.display())));
            }
            config::write(&path, &doc)?;
            let mut out = String::new();
            if merged.current_context == name {
                out.push_str("warning: this removed your active context, use \"kubectl config use-context\" to select a different one\n");
            }
            out.push_str(&format!("deleted context {name} from {}\n", path.display()));
            Ok(out)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Env {
        _dir: tempfile::TempDir,
        files: ConfigFiles,
    }

    fn env() -> Env {
        let dir = tempfile::tempdir().unwrap();
        let files = ConfigFiles { paths: vec![dir.path().join("config")], explicit: false };
        Env { _dir: dir, files }
    }

    fn exec(env: &Env, global: Global, cmd: ConfigCommand) -> Result<String> {
        let docs = env.files.load().unwrap();
        let merged = config::merge(&docs);
        execute(&global, &env.files, &docs, &merged, cmd)
    }

    #[test]
    fn pointing_kubectl_at_a_cluster() {
        let e = env();
        let g = Global { server: Some("http://127.0.0.1:6443".into()), ..Default::default() };
        assert_eq!(exec(&e, g, ConfigCommand::SetCluster { name: "lab".into() }).unwrap(), "Cluster \"lab\" set.\n");
        let g = Global { namespace: Some("custom-namespace".into()), ..Default::default() };
        let set = ConfigCommand::SetContext {
            name: Some("lab".into()),
            current: false,
            cluster: Some("lab".into()),
            user: None,
        };
        assert_eq!(exec(&e, g.clone(), set).unwrap(), "Context \"lab\" created.\n");
        assert_eq!(
            exec(&e, Global::default(), ConfigCommand::UseContext { name: "lab".into() }).unwrap(),
            "Switched to context \"lab\".\n"
        );
        assert_eq!(exec(&e, Global::default(), ConfigCommand::CurrentContext).unwrap(), "lab\n");
        let t = config::merge(&e.files.load().unwrap()).target(None, None, None).unwrap();
        assert_eq!(t.server, "http://127.0.0.1:6443");
        assert_eq!(t.namespace, "custom-namespace");
        let g = Global { namespace: Some("default".into()), ..Default::default() };
        let current = ConfigCommand::SetContext { name: None, current: true, cluster: None, user: None };
        assert_eq!(exec(&e, g, current).unwrap(), "Context \"lab\" modified.\n");
        let list = ConfigCommand::GetContexts { name: None, no_headers: false, output: None };
        assert_eq!(
            exec(&e, Global::default(), list).unwrap(),
            "CURRENT   NAME   CLUSTER   AUTHINFO   NAMESPACE\n*         lab    lab                  default\n"
        );
    }

    #[test]
    fn errors_read_like_kubectl() {
        let e = env();
        assert_eq!(
            exec(&e, Global::default(), ConfigCommand::CurrentContext).unwrap_err().to_string(),
            "error: current-context is not set"
        );
        assert_eq!(
            exec(&e, Global::default(), ConfigCommand::UseContext { name: "nope".into() }).unwrap_err().to_string(),
            "error: no context exists with the name: \"nope\""
        );
    }

    #[test]
    fn view_prints_the_merged_config() {
        let e = env();
        let g = Global { server: Some("http://127.0.0.1:6443".into()), ..Default::default() };
        exec(&e, g, ConfigCommand::SetCluster { name: "lab".into() }).unwrap();
        let view =
            exec(&e, Global::default(), ConfigCommand::View { raw: false, minify: false, output: None }).unwrap();
        assert!(
            view.starts_with("apiVersion: v1\nclusters:\n- cluster:\n    server: http://127.0.0.1:6443\n  name: lab\n"),
            "{view}"
        );
        assert!(view.contains("kind: Config\n"));
    }
}
