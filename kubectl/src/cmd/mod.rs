//! The commands, one module per command or family, and what they all use: the
//! [`Ctx`] (server, namespace, connection, output streams) and object fetching.
//! Helpers several commands share are in [`shared`], so that command modules
//! never import one another.

pub mod apply;
pub mod attach;
pub mod config;
pub mod create;
pub mod delete;
pub mod describe;
pub mod edit;
pub mod exec;
pub mod expose;
pub mod get;
pub mod info;
pub mod label;
pub mod logs;
pub mod node;
pub mod patch;
pub mod pod_target;
pub mod portforward;
pub mod replace;
pub mod rollout;
pub mod run;
pub mod scale;
pub mod session;
pub mod set;
pub mod shared;

use crate::cli::{Cli, Command, Global};
use crate::config::{merge, ConfigFiles, Target};
use crate::error::{api_error_text, Error, Result};
use crate::resource::Selection;
use api::{ApiError, ResourceInfo};
use client::{Client, ListParams};
use serde_json::Value;
use std::io::Write;

/// What every command works with.
pub struct Ctx {
    pub global: Global,
    pub target: Target,
    /// `-n` was given (a manifest's own namespace must then agree with it).
    pub explicit_namespace: bool,
    client: Option<Client>,
    pub out: Box<dyn Write + Send>,
    pub err: Box<dyn Write + Send>,
    /// Some error was already printed: exit 1 at the end.
    pub failed: bool,
}

impl Ctx {
    pub fn new(global: Global, target: Target) -> Self {
        let explicit_namespace = global.namespace.as_deref().is_some_and(|n| !n.is_empty());
        Self {
            global,
            target,
            explicit_namespace,
            client: None,
            out: Box::new(std::io::stdout()),
            err: Box::new(std::io::stderr()),
            failed: false,
        }
    }

    /// The connection, made on first use.
    pub async fn client(&mut self) -> Result<Client> {
        if let Some(c) = &self.client {
            return Ok(c.clone());
        }
        let c = Client::connect(&self.target.server).await?;
        self.client = Some(c.clone());
        Ok(c)
    }

    /// The namespace requests for `info` go to ("" for cluster-scoped kinds).
    pub fn ns(&self, info: &ResourceInfo) -> String {
        if info.namespaced {
            self.target.namespace.clone()
        } else {
            String::new()
        }
    }

    /// Prints to stdout (flushed, so watch output appears at once).
    pub fn print(&mut self, text: &str) {
        let _ = self.out.write_all(text.as_bytes());
        let _ = self.out.flush();
    }

    pub fn println(&mut self, line: &str) {
        self.print(&format!("{line}\n"));
    }

    /// Prints an error line to stderr and remembers that the command failed.
    pub fn report(&mut self, err: &Error) {
        if !matches!(err, Error::Reported) {
            let _ = writeln!(self.err, "{err}");
        }
        self.failed = true;
    }

    /// Prints an API error with kubectl's `error when <verb> "<source>"` context.
    pub fn report_api(&mut self, err: &ApiError, context: Option<&str>) {
        let _ = writeln!(self.err, "{}", api_error_text(err, context));
        self.failed = true;
    }

    /// Prints a warning or note to stderr without failing.
    pub fn warn(&mut self, line: &str) {
        let _ = writeln!(self.err, "{line}");
    }

    /// The result a command ends with: an error if anything was reported.
    pub fn finish(&self) -> Result<()> {
        if self.failed {
            Err(Error::Reported)
        } else {
            Ok(())
        }
    }

    /// `No resources found in default namespace.`, or without the namespace for
    /// cluster-scoped kinds and across namespaces.
    pub fn no_resources(&mut self, namespaced: bool, all_namespaces: bool) {
        let line = if namespaced && !all_namespaces {
            format!("No resources found in {} namespace.", self.target.namespace)
        } else {
            "No resources found".to_string()
        };
        self.warn(&line);
    }
}

/// Builds the context from the global flags and kubeconfig, then runs the command.
pub async fn dispatch(cli: Cli) -> Result<()> {
    let files = ConfigFiles::from_env(cli.global.kubeconfig.as_deref());
    if let Command::Config(cmd) = cli.command {
        return config::run(&cli.global, &files, cmd);
    }
    let merged = merge(&files.load()?);
    let target =
        merged.target(cli.global.server.as_deref(), cli.global.context.as_deref(), cli.global.namespace.as_deref())?;
    let mut ctx = Ctx::new(cli.global, target);
    let result = match cli.command {
        Command::Run(a) => run::run(&mut ctx, a).await,
        Command::Logs(a) => logs::run(&mut ctx, a).await,
        Command::Attach(a) => attach::run(&mut ctx, a).await,
        Command::Exec(a) => exec::run(&mut ctx, a).await,
        Command::PortForward(a) => portforward::run(&mut ctx, a).await,
        Command::Cordon(a) => node::run(&mut ctx, a, node::Mark::Cordon).await,
        Command::Uncordon(a) => node::run(&mut ctx, a, node::Mark::Uncordon).await,
        Command::Expose(a) => expose::run(&mut ctx, a).await,
        Command::Get(a) => get::run(&mut ctx, a).await,
        Command::Describe(a) => describe::run(&mut ctx, a).await,
        Command::Create(a) => create::run(&mut ctx, a).await,
        Command::Apply(a) => apply::run(&mut ctx, a).await,
        Command::Replace(a) => replace::run(&mut ctx, a).await,
        Command::Delete(a) => delete::run(&mut ctx, a).await,
        Command::Label(a) => label::run(&mut ctx, a, label::Kind::Label).await,
        Command::Annotate(a) => label::run(&mut ctx, a, label::Kind::Annotation).await,
        Command::Edit(a) => edit::run(&mut ctx, a).await,
        Command::Patch(a) => patch::run(&mut ctx, a).await,
        Command::Scale(a) => scale::run(&mut ctx, a).await,
        Command::Rollout(a) => rollout::run(&mut ctx, a).await,
        Command::Set(crate::cli::SetCommand::Image(a)) => set::image(&mut ctx, a).await,
        Command::Explain(a) => info::explain(&mut ctx, a),
        Command::ApiVersions => info::api_versions(&mut ctx).await,
        Command::ApiResources(a) => info::api_resources(&mut ctx, a).await,
        Command::ClusterInfo(a) => info::cluster_info(&mut ctx, a).await,
        Command::Version(a) => info::version(&mut ctx, a).await,
        Command::Config(_) => unreachable!("handled before connecting"),
    };
    match result {
        Ok(()) => ctx.finish(),
        Err(e) => Err(e),
    }
}

/// Objects found for one resource type.
pub struct Found {
    pub info: &'static ResourceInfo,
    pub objects: Vec<Value>,
}

/// How to look objects up: selectors and namespace scope.
#[derive(Debug, Clone, Default)]
pub struct Query {
    pub label_selector: String,
    pub field_selector: String,
    pub all_namespaces: bool,
}

impl Query {
    fn params(&self) -> ListParams {
        ListParams {
            label_selector: self.label_selector.clone(),
            field_selector: self.field_selector.clone(),
            ..Default::default()
        }
    }
}

/// Gets named objects and lists the rest. A name that is not found is
/// reported (unless `ignore_not_found`) and the others still come back.
pub async fn fetch(
    ctx: &mut Ctx,
    selections: &[Selection],
    query: &Query,
    ignore_not_found: bool,
) -> Result<Vec<Found>> {
    let client = ctx.client().await?;
    let mut found = Vec::new();
    for sel in selections {
        let ns = if query.all_namespaces { String::new() } else { ctx.ns(sel.info) };
        let mut objects = Vec::new();
        if sel.names.is_empty() {
            let list = client.list(sel.info, &ns, &query.params()).await?;
            objects.extend(items(sel.info, list));
        } else {
            for name in &sel.names {
                match client.get(sel.info, &ns, name).await {
                    Ok(obj) => objects.push(crate::printers::with_type_meta(sel.info, obj)),
                    Err(e) if e.is_not_found() && ignore_not_found => {}
                    Err(e) if e.is_not_found() => ctx.report_api(&e, None),
                    Err(e) => return Err(e.into()),
                }
            }
        }
        found.push(Found { info: sel.info, objects });
    }
    Ok(found)
}

/// The items of a list response, each with its apiVersion and kind.
pub fn items(info: &ResourceInfo, list: Value) -> Vec<Value> {
    match list {
        Value::Object(mut m) => match m.remove("items") {
            Some(Value::Array(items)) => items.into_iter().map(|i| crate::printers::with_type_meta(info, i)).collect(),
            _ => vec![],
        },
        _ => vec![],
    }
}

/// The names a command acts on: `-l`/`--all` need a type, names and `-l` exclude each other.
pub fn check_selection(selections: &[Selection], selector: Option<&str>, all: bool) -> Result<()> {
    let named = selections.iter().any(|s| !s.names.is_empty());
    if named && selector.is_some_and(|s| !s.is_empty()) {
        return Err(Error::msg("name cannot be provided when a selector is specified"));
    }
    if named && all {
        return Err(Error::msg("name cannot be provided when --all is specified"));
    }
    if selections.is_empty() {
        return Err(Error::msg(
            "You must provide one or more resources by argument or filename.\nExample resource specifications \
             include:\n   '-f rsrc.yaml'\n   '--filename=rsrc.json'\n   '<resource> <name>'\n   '<resource>'",
        ));
    }
    Ok(())
}
