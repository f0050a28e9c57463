//! `kubectl exec`: runs a command in a container through the apiserver, which
//! relays it to the pod's kubelet ([`session`] relays the streams, the
//! terminal and stdin). kubectl exits with the remote command's exit code.

use super::session::{self, Outcome};
use super::{pod_target, Ctx};
use crate::cli::ExecArgs;
use crate::error::{Error, Result};
use crate::terminal::{self, Terminal};
use client::streaming::ExecParams;

/// The pod (or TYPE/NAME) and the command, as kubectl's `Complete` and `Validate` split them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invocation {
    pub resource: String,
    pub command: Vec<String>,
}

/// Splits `exec POD -- CMD ARGS...`. A command given without `--` is what kubectl
/// stopped accepting, and says so.
pub fn invocation(a: &ExecArgs) -> Result<Invocation> {
    if a.args.len() > 1 {
        return Err(Error::msg(
            "exec [POD] [COMMAND] is not supported anymore. Use exec [POD] -- [COMMAND] instead\nSee 'kubectl exec \
             -h' for help and examples",
        ));
    }
    let Some(resource) = a.args.first().filter(|r| !r.is_empty()) else {
        return Err(Error::msg("pod, type/name or --filename must be specified"));
    };
    if a.command.is_empty() {
        return Err(Error::msg("you must specify at least one command for the container"));
    }
    Ok(Invocation { resource: resource.clone(), command: a.command.clone() })
}

pub async fn run(ctx: &mut Ctx, a: ExecArgs) -> Result<()> {
    let inv = invocation(&a)?;
    let (info, obj) = pod_target::get_object(ctx, &inv.resource).await?;
    let (pod, _) = pod_target::pod_for_object(ctx, info, obj).await?;
    let phase = api::pod::phase(&pod);
    if phase == "Succeeded" || phase == "Failed" {
        return Err(Error::msg(format!("cannot exec into a container in a completed pod; current phase is {phase}")));
    }
    let container = session::target_container(ctx, &pod, a.container.as_deref(), a.quiet)?.name;
    let decision = terminal::decide_tty(a.stdin, a.tty, terminal::Local.stdin_is_terminal(), a.quiet);
    if let Some(w) = decision.warning {
        ctx.warn(w);
    }
    let client = ctx.client().await?;
    let params = ExecParams {
        namespace: pod.metadata.namespace.clone().unwrap_or_default(),
        pod: pod.metadata.name.clone().unwrap_or_default(),
        container,
        command: inv.command,
        stdin: a.stdin,
        tty: decision.tty,
        ..Default::default()
    };
    let outcome = session::drive(ctx, a.stdin, decision.tty, futures::future::pending(), |rx, size| {
        let params = ExecParams {
            cols: size.map(|s| u32::from(s.cols)).unwrap_or(0),
            rows: size.map(|s| u32::from(s.rows)).unwrap_or(0),
            ..params
        };
        async move { client.exec(params, rx).await }
    })
    .await?;
    match outcome {
        // kubectl's interrupt handler restores the terminal and exits 1 without a word.
        Outcome::Interrupted => Err(Error::Reported),
        Outcome::Ended(0) => Ok(()),
        Outcome::Ended(code) => Err(Error::Exit(code)),
        Outcome::Failed(e) => Err(e.into()),
        Outcome::Stopped(_) => unreachable!("an exec is never stopped early"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn args(line: &[&str]) -> ExecArgs {
        let cli = crate::Cli::try_parse_from(std::iter::once("kubectl").chain(line.iter().copied())).unwrap();
        match cli.command {
            crate::cli::Command::Exec(a) => a,
            other => panic!("expected exec, got {other:?}"),
        }
    }

    #[test]
    fn the_command_follows_the_double_dash() {
        let a = args(&["exec", "-it", "kubia", "-c", "main", "--", "sh", "-c", "ls -la"]);
        assert!(a.stdin && a.tty);
        assert_eq!(a.container.as_deref(), Some("main"));
        assert_eq!(
            invocation(&a).unwrap(),
            Invocation { resource: "kubia".into(), command: vec!["sh".into(), "-c".into(), "ls -la".into()] }
        );
        let a = args(&["exec", "deploy/kubia", "-i", "--", "cat"]);
        assert_eq!(invocation(&a).unwrap().resource, "deploy/kubia");
        assert!(a.stdin && !a.tty);
        // Flags after `--` belong to the command.
        let a = args(&["exec", "kubia", "--", "ls", "-t", "-i", "--container", "x"]);
        assert!(!a.tty && !a.stdin && a.container.is_none());
        assert_eq!(invocation(&a).unwrap().command, ["ls", "-t", "-i", "--container", "x"]);
    }

    #[test]
    fn exec_errors_read_like_kubectl() {
        let err = |line: &[&str]| invocation(&args(line)).unwrap_err().to_string();
        assert_eq!(
            err(&["exec", "kubia", "date"]),
            "error: exec [POD] [COMMAND] is not supported anymore. Use exec [POD] -- [COMMAND] instead\nSee 'kubectl \
             exec -h' for help and examples"
        );
        assert_eq!(err(&["exec", "kubia"]), "error: you must specify at least one command for the container");
        assert_eq!(err(&["exec", "kubia", "--"]), "error: you must specify at least one command for the container");
        assert_eq!(err(&["exec", "--", "date"]), "error: pod, type/name or --filename must be specified");
    }
}
