//! Commands about the cluster rather than objects: `explain`, `api-versions`,
//! `api-resources`, `cluster-info` and `version`.

use super::Ctx;
use crate::cli::{ApiResourcesArgs, ClusterInfoArgs, ExplainArgs, VersionArgs};
use crate::error::{Error, Result};
use crate::printers::tabwriter::TabWriter;
use serde_json::{json, Value};
use std::io::IsTerminal;

/// The version this kubectl reports.
pub const CLIENT_VERSION: &str = "v1.34.0-kubelab";

pub fn explain(ctx: &mut Ctx, a: ExplainArgs) -> Result<()> {
    let mut parts = a.target.split('.');
    let kind = parts.next().unwrap_or_default();
    let info = crate::resource::lookup(kind)?
        .into_iter()
        .next()
        .ok_or_else(|| Error::msg(format!("the server doesn't have a resource type \"{kind}\"")))?;
    let path: Vec<&str> = parts.filter(|p| !p.is_empty()).collect();
    let text = api::schema::explain(info, &path, a.recursive).map_err(|e| Error::msg(e.message))?;
    ctx.print(&text);
    if !text.ends_with('\n') {
        ctx.print("\n");
    }
    Ok(())
}

pub async fn api_versions(ctx: &mut Ctx) -> Result<()> {
    let client = ctx.client().await?;
    let mut versions = client.discovery().await?.group_versions;
    versions.sort();
    versions.dedup();
    for v in versions {
        ctx.println(&v);
    }
    Ok(())
}

/// One row of `api-resources`.
#[derive(Debug, Clone, PartialEq)]
pub struct ResourceRow {
    pub name: String,
    pub short_names: Vec<String>,
    pub group: String,
    pub version: String,
    pub namespaced: bool,
    pub kind: String,
    pub verbs: Vec<String>,
}

impl ResourceRow {
    fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }
    fn categories(&self) -> String {
        api::registry::by_resource(&self.group, &self.name).map(|r| r.categories.join(",")).unwrap_or_default()
    }
}

/// The `api-resources` output for `rows`, filtered and sorted by group as kubectl does.
pub fn render_api_resources(mut rows: Vec<ResourceRow>, a: &ApiResourcesArgs) -> Result<String> {
    rows.retain(|r| a.namespaced.is_none_or(|n| r.namespaced == n));
    if let Some(g) = &a.api_group {
        rows.retain(|r| &r.group == g);
    }
    rows.sort_by(|x, y| (&x.group, &x.name).cmp(&(&y.group, &y.name)));
    let wide = match a.output.as_deref() {
        None | Some("") => false,
        Some("wide") => true,
        Some("name") => {
            let names: Vec<String> = rows
                .iter()
                .map(|r| if r.group.is_empty() { r.name.clone() } else { format!("{}.{}", r.name, r.group) })
                .collect();
            return Ok(names.iter().map(|n| format!("{n}\n")).collect());
        }
        Some(other) => return Err(Error::msg(format!("--output {other} is not available"))),
    };
    let mut text = String::new();
    if !a.no_headers {
        text.push_str("NAME\tSHORTNAMES\tAPIVERSION\tNAMESPACED\tKIND");
        text.push_str(if wide { "\tVERBS\tCATEGORIES\n" } else { "\n" });
    }
    for r in &rows {
        text.push_str(&format!(
            "{}\t{}\t{}\t{}\t{}",
            r.name,
            r.short_names.join(","),
            r.api_version(),
            r.namespaced,
            r.kind
        ));
        if wide {
            text.push_str(&format!("\t{}\t{}", r.verbs.join(","), r.categories()));
        }
        text.push('\n');
    }
    Ok(TabWriter::for_tables().format(&text))
}

pub async fn api_resources(ctx: &mut Ctx, a: ApiResourcesArgs) -> Result<()> {
    let client = ctx.client().await?;
    let rows = client
        .discovery()
        .await?
        .resources
        .into_iter()
        .filter(|r| !r.name.contains('/'))
        .map(|r| ResourceRow {
            name: r.name,
            short_names: r.short_names,
            group: r.group,
            version: r.version,
            namespaced: r.namespaced,
            kind: r.kind,
            verbs: r.verbs,
        })
        .collect();
    let text = render_api_resources(rows, &a)?;
    ctx.print(&text);
    Ok(())
}

/// The cluster-info lines, coloured like kubectl's when `color` is set.
pub fn cluster_info_text(server: &str, color: bool) -> String {
    let (green, yellow, reset) = if color { ("\x1b[0;32m", "\x1b[0;33m", "\x1b[0m") } else { ("", "", "") };
    format!(
        "{green}Kubernetes control plane{reset} is running at {yellow}{server}{reset}\n\n\
         To further debug and diagnose cluster problems, use 'kubectl cluster-info dump'.\n"
    )
}

pub async fn cluster_info(ctx: &mut Ctx, a: ClusterInfoArgs) -> Result<()> {
    if let Some(sub) = a.dump {
        return Err(Error::msg(format!(
            "unknown command \"{sub}\" for \"kubectl cluster-info\" (dump is not supported by kubelab)"
        )));
    }
    let client = ctx.client().await?;
    client.version().await?;
    let text = cluster_info_text(client.server(), std::io::stdout().is_terminal());
    ctx.print(&text);
    Ok(())
}

/// The client's version object, shaped like Kubernetes' `version.Info`.
pub fn client_version() -> Value {
    let minor = CLIENT_VERSION.split('.').nth(1).unwrap_or("0");
    json!({
        "major": "1",
        "minor": minor,
        "gitVersion": CLIENT_VERSION,
        "platform": format!("{}/{}", std::env::consts::OS, if std::env::consts::ARCH == "x86_64" { "amd64" } else { std::env::consts::ARCH }),
    })
}

pub async fn version(ctx: &mut Ctx, a: VersionArgs) -> Result<()> {
    let structured = match a.output.as_deref() {
        None | Some("") => None,
        Some(f @ ("json" | "yaml")) => Some(f.to_string()),
        Some(other) => return Err(Error::msg(format!("--output must be 'yaml' or 'json', not \"{other}\""))),
    };
    let server = if a.client {
        None
    } else {
        let fetched = match ctx.client().await {
            Ok(c) => c.version().await.map_err(Error::from),
            Err(e) => Err(e),
        };
        Some(fetched)
    };
    match structured {
        None => {
            ctx.println(&format!("Client Version: {CLIENT_VERSION}"));
            match server {
                Some(Ok(v)) => {
                    let git = v.get("gitVersion").and_then(Value::as_str).unwrap_or("unknown").to_string();
                    ctx.println(&format!("Server Version: {git}"));
                }
                Some(Err(e)) => return Err(e),
                None => {}
            }
        }
        Some(f) => {
            let mut doc = json!({"clientVersion": client_version()});
            match server {
                Some(Ok(v)) => doc["serverVersion"] = v,
                Some(Err(e)) => ctx.report(&e),
                None => {}
            }
            let text = if f == "json" { api::codec::to_json(&doc) } else { api::codec::to_yaml(&doc) };
            ctx.print(&text);
            if !text.ends_with('\n') {
                ctx.print("\n");
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows() -> Vec<ResourceRow> {
        api::registry::RESOURCES
            .iter()
            .map(|r| ResourceRow {
                name: r.plural.into(),
                short_names: r.short_names.iter().map(|s| s.to_string()).collect(),
                group: r.group.into(),
                version: r.version.into(),
                namespaced: r.namespaced,
                kind: r.kind.into(),
                verbs: r.verbs().iter().map(|s| s.to_string()).collect(),
            })
            .collect()
    }

    #[test]
    fn api_resources_table() {
        let text = render_api_resources(rows(), &ApiResourcesArgs::default()).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "NAME                     SHORTNAMES   APIVERSION               NAMESPACED   KIND");
        assert!(
            lines.contains(&"pods                     po           v1                       true         Pod"),
            "{text}"
        );
        assert!(
            lines.iter().position(|l| l.starts_with("services"))
                < lines.iter().position(|l| l.starts_with("daemonsets"))
        );
    }

    #[test]
    fn api_resources_filters_and_names() {
        let a = ApiResourcesArgs { namespaced: Some(false), output: Some("name".into()), ..Default::default() };
        assert_eq!(
            render_api_resources(rows(), &a).unwrap(),
            "namespaces\nnodes\npersistentvolumes\nstorageclasses.storage.k8s.io\n"
        );
        let a = ApiResourcesArgs { api_group: Some("apps".into()), output: Some("name".into()), ..Default::default() };
        assert_eq!(
            render_api_resources(rows(), &a).unwrap(),
            "controllerrevisions.apps\ndaemonsets.apps\ndeployments.apps\nreplicasets.apps\nstatefulsets.apps\n"
        );
        let wide = ApiResourcesArgs { output: Some("wide".into()), ..Default::default() };
        let text = render_api_resources(rows(), &wide).unwrap();
        assert!(text
            .lines()
            .next()
            .unwrap()
            .ends_with("VERBS                                                        CATEGORIES"));
        assert!(text.contains("create,delete,deletecollection,get,list,patch,update,watch   all"), "{text}");
    }

    #[test]
    fn cluster_info_reads_like_kubectl() {
        assert_eq!(
            cluster_info_text("http://127.0.0.1:6443", false),
            "Kubernetes control plane is running at http://127.0.0.1:6443\n\n\
             To further debug and diagnose cluster problems, use 'kubectl cluster-info dump'.\n"
        );
        assert!(cluster_info_text("x", true).starts_with("\x1b[0;32mKubernetes control plane\x1b[0m"));
    }

    #[test]
    fn client_version_object() {
        let v = client_version();
        assert_eq!(v["gitVersion"], CLIENT_VERSION);
        assert_eq!(v["minor"], "34");
    }
}
