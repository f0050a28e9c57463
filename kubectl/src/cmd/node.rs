//! `kubectl cordon` and `kubectl uncordon`: mark nodes (un)schedulable by
//! patching `spec.unschedulable`, printing `node/NAME cordoned` or
//! `node/NAME already cordoned` as kubectl's drain helpers do.

use super::shared::{parse_dry_run, DryRun};
use super::Ctx;
use crate::cli::CordonArgs;
use crate::error::{Error, Result};
use crate::typed::decode;
use api::k8s_openapi::api::core::v1::Node;
use client::{ListParams, PatchType};
use serde_json::{json, Value};

/// Which way the node is being marked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mark {
    Cordon,
    Uncordon,
}

impl Mark {
    fn verb(self) -> &'static str {
        match self {
            Mark::Cordon => "cordon",
            Mark::Uncordon => "uncordon",
        }
    }

    fn unschedulable(self) -> bool {
        self == Mark::Cordon
    }
}

/// What to do with one node: nothing (already so), or the patch to send.
pub fn change_for(node: &Node, mark: Mark) -> Option<Value> {
    let current = node.spec.as_ref().and_then(|s| s.unschedulable).unwrap_or(false);
    if current == mark.unschedulable() {
        return None;
    }
    // `unschedulable: false` is the field's zero value, which Kubernetes omits: uncordon removes it.
    let value = if mark.unschedulable() { json!(true) } else { Value::Null };
    Some(json!({"spec": {"unschedulable": value}}))
}

/// The line printed for a node: `node/NAME cordoned`, `node/NAME already uncordoned`, ...
pub fn message(name: &str, mark: Mark, changed: bool, dry_run: DryRun) -> String {
    let what = match (changed, mark) {
        (true, m) => format!("{}ed", m.verb()),
        (false, m) => format!("already {}ed", m.verb()),
    };
    let suffix = match dry_run {
        DryRun::None => "",
        DryRun::Client => " (dry run)",
        DryRun::Server => " (server dry run)",
    };
    format!("node/{name} {what}{suffix}")
}

fn usage(mark: Mark, msg: &str) -> Error {
    Error::msg(format!("{msg}\nSee 'kubectl {} -h' for help and examples", mark.verb()))
}

pub async fn run(ctx: &mut Ctx, a: CordonArgs, mark: Mark) -> Result<()> {
    let selector = a.selector.clone().filter(|s| !s.is_empty());
    if a.nodes.is_empty() && a.selector.is_none() {
        return Err(usage(mark, &format!("USAGE: {} NODE [flags]", mark.verb())));
    }
    if !a.nodes.is_empty() && selector.is_some() {
        // kubectl's own message carries the prefix twice.
        return Err(usage(mark, "error: cannot specify both a node name and a --selector option"));
    }
    let dry_run = parse_dry_run(&a.dry_run)?;
    if dry_run == DryRun::Server {
        return Err(Error::msg("--dry-run=server is not supported by kubelab's apiserver"));
    }
    let nodes_info = api::registry::lookup("nodes").expect("nodes are registered");
    let client = ctx.client().await?;
    let mut nodes = Vec::new();
    for arg in &a.nodes {
        let name = match arg.split_once('/') {
            Some((kind, name)) => {
                let infos = crate::resource::lookup(kind)?;
                if infos.len() != 1 || infos[0].kind != "Node" {
                    return Err(Error::msg(format!("error: expected resource of type node, got {kind:?}")));
                }
                name
            }
            None => arg.as_str(),
        };
        nodes.push(client.get(nodes_info, "", name).await?);
    }
    if let Some(sel) = selector {
        let params = ListParams { label_selector: sel, ..Default::default() };
        nodes.extend(super::items(nodes_info, client.list(nodes_info, "", &params).await?));
    }
    for node in nodes {
        let name = api::meta::name(&node).to_string();
        let node: Node = decode(&node).map_err(|e| Error::msg(format!("unreadable node \"{name}\": {e}")))?;
        let Some(patch) = change_for(&node, mark) else {
            ctx.println(&message(&name, mark, false, dry_run));
            continue;
        };
        if dry_run == DryRun::None {
            if let Err(e) = client.patch(nodes_info, "", &name, PatchType::Merge, &patch).await {
                let text = crate::error::api_error_text(&e, None);
                ctx.report(&Error::msg(format!("unable to {} node \"{name}\": {text}", mark.verb())));
                continue;
            }
        }
        ctx.println(&message(&name, mark, true, dry_run));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cordon_patches_only_when_needed() {
        let schedulable = json!({"metadata": {"name": "n1"}, "spec": {}});
        let cordoned = json!({"metadata": {"name": "n1"}, "spec": {"unschedulable": true}});
        assert_eq!(
            change_for(&decode(&schedulable).unwrap(), Mark::Cordon),
            Some(json!({"spec": {"unschedulable": true}}))
        );
        assert_eq!(change_for(&decode(&cordoned).unwrap(), Mark::Cordon), None);
        assert_eq!(
            change_for(&decode(&cordoned).unwrap(), Mark::Uncordon),
            Some(json!({"spec": {"unschedulable": null}}))
        );
        assert_eq!(change_for(&decode(&schedulable).unwrap(), Mark::Uncordon), None);
    }

    #[test]
    fn messages_match_kubectl() {
        assert_eq!(message("minikube", Mark::Cordon, true, DryRun::None), "node/minikube cordoned");
        assert_eq!(message("minikube", Mark::Cordon, false, DryRun::None), "node/minikube already cordoned");
        assert_eq!(message("minikube", Mark::Uncordon, true, DryRun::None), "node/minikube uncordoned");
        assert_eq!(message("minikube", Mark::Uncordon, false, DryRun::None), "node/minikube already uncordoned");
        assert_eq!(message("m2", Mark::Cordon, true, DryRun::Client), "node/m2 cordoned (dry run)");
    }
}
