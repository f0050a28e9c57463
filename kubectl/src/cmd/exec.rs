//! `kubectl exec`: runs a command in a container through the apiserver, which
//! relays it to the pod's kubelet. Output is copied as it comes; with `-i` our
//! stdin goes to the command; with `-it` on a terminal the local terminal is put
//! in raw mode for the session and its window size is sent at the start and on
//! every change. kubectl exits with the remote command's exit code.

use super::{pod_target, Ctx};
use crate::cli::ExecArgs;
use crate::error::{Error, Result};
use crate::terminal::{self, RawModeGuard, SizeTracker, Terminal};
use api::ApiError;
use client::streaming::{ExecEvent, ExecParams, ExecSend, ExecStream};
use futures::channel::mpsc::UnboundedSender;
use futures::StreamExt;
use std::io::{Read, Write};

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

/// Copies `input` into the session as stdin until it ends, then closes the
/// session's stdin. Runs on its own thread: a blocking read cannot be cancelled,
/// and a plain thread (unlike the runtime's blocking pool) does not hold up exit.
pub fn spawn_stdin_copier(mut input: impl Read + Send + 'static, tx: UnboundedSender<ExecSend>) {
    std::thread::spawn(move || {
        let mut buf = [0u8; 8192];
        loop {
            match input.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    if tx.unbounded_send(ExecSend::Stdin(buf[..n].to_vec())).is_err() {
                        return;
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(_) => break,
            }
        }
        let _ = tx.unbounded_send(ExecSend::CloseStdin);
    });
}

/// Copies the session's output to `out` and `err` until it ends; the result is
/// the command's exit code (0 when the session ends without one).
pub async fn pump(
    mut events: ExecStream,
    out: &mut (dyn Write + Send),
    err: &mut (dyn Write + Send),
) -> std::result::Result<i32, ApiError> {
    let mut code = 0;
    while let Some(event) = events.next().await {
        match event? {
            ExecEvent::Stdout(b) => {
                let _ = out.write_all(&b).and_then(|_| out.flush());
            }
            ExecEvent::Stderr(b) => {
                let _ = err.write_all(&b).and_then(|_| err.flush());
            }
            ExecEvent::Exit(c) => {
                code = c;
                break;
            }
        }
    }
    Ok(code)
}

/// Sends the window size whenever the terminal reports a change (SIGWINCH).
#[cfg(unix)]
fn watch_resizes(tx: UnboundedSender<ExecSend>, mut tracker: SizeTracker) -> Option<tokio::task::JoinHandle<()>> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut winch = signal(SignalKind::window_change()).ok()?;
    Some(tokio::spawn(async move {
        while winch.recv().await.is_some() {
            if let Some(s) = tracker.update(terminal::Local.size()) {
                if tx.unbounded_send(ExecSend::Resize { cols: u32::from(s.cols), rows: u32::from(s.rows) }).is_err() {
                    return;
                }
            }
        }
    }))
}

#[cfg(not(unix))]
fn watch_resizes(_tx: UnboundedSender<ExecSend>, _tracker: SizeTracker) -> Option<tokio::task::JoinHandle<()>> {
    None
}

/// Resolves when a signal arrives that would kill us with the terminal still raw.
#[cfg(unix)]
async fn fatal_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let mut streams: Vec<_> =
        [SignalKind::terminate(), SignalKind::hangup(), SignalKind::quit(), SignalKind::interrupt()]
            .into_iter()
            .filter_map(|k| signal(k).ok())
            .collect();
    if streams.is_empty() {
        return futures::future::pending().await;
    }
    let waits = streams.iter_mut().map(|s| Box::pin(async move { s.recv().await }));
    futures::future::select_all(waits).await;
}

#[cfg(not(unix))]
async fn fatal_signal() {
    futures::future::pending().await
}

pub async fn run(ctx: &mut Ctx, a: ExecArgs) -> Result<()> {
    let inv = invocation(&a)?;
    let (info, obj) = pod_target::get_object(ctx, &inv.resource).await?;
    let (pod, _) = pod_target::pod_for_object(ctx, info, obj).await?;
    let phase = api::pod::phase(&pod);
    if phase == "Succeeded" || phase == "Failed" {
        return Err(Error::msg(format!("cannot exec into a container in a completed pod; current phase is {phase}")));
    }
    let container = match a.container.as_deref().filter(|c| !c.is_empty()) {
        Some(c) if pod_target::has_container(&pod, c) => c.to_string(),
        Some(c) => {
            return Err(Error::msg(format!(
                "container {c} is not valid for pod {} out of: {}",
                pod.metadata.name.as_deref().unwrap_or(""),
                pod_target::all_container_names(&pod)
            )))
        }
        None => {
            let (name, notices) = pod_target::default_container(&pod)?;
            if !a.quiet {
                for n in notices {
                    ctx.warn(&n);
                }
            }
            name
        }
    };
    let local = terminal::Local;
    let decision = terminal::decide_tty(a.stdin, a.tty, local.stdin_is_terminal(), a.quiet);
    if let Some(w) = decision.warning {
        ctx.warn(w);
    }
    let client = ctx.client().await?;
    let (tx, rx) = futures::channel::mpsc::unbounded::<ExecSend>();
    let mut tracker = SizeTracker::default();
    let size = if decision.tty { tracker.update(local.size()) } else { None };
    let params = ExecParams {
        namespace: pod.metadata.namespace.clone().unwrap_or_default(),
        pod: pod.metadata.name.clone().unwrap_or_default(),
        container,
        command: inv.command,
        stdin: a.stdin,
        tty: decision.tty,
        cols: size.map(|s| u32::from(s.cols)).unwrap_or(0),
        rows: size.map(|s| u32::from(s.rows)).unwrap_or(0),
    };
    // Raw mode starts only once the session is about to run, and the guard ends it
    // however this function returns.
    let guard = if decision.tty { Some(RawModeGuard::enable(local)?) } else { None };
    let resizes = if decision.tty { watch_resizes(tx.clone(), tracker) } else { None };
    if a.stdin {
        spawn_stdin_copier(std::io::stdin(), tx.clone());
    }
    let outcome = match client.exec(params, rx).await {
        Ok(events) => {
            let (out, err) = (&mut ctx.out, &mut ctx.err);
            let session = pump(events, &mut **out, &mut **err);
            if guard.is_some() {
                tokio::select! {
                    r = session => Some(r),
                    _ = fatal_signal() => None,
                }
            } else {
                Some(session.await)
            }
        }
        Err(e) => Some(Err(e)),
    };
    if let Some(r) = resizes {
        r.abort();
    }
    drop(tx);
    drop(guard);
    match outcome {
        // kubectl's interrupt handler restores the terminal and exits 1 without a word.
        None => Err(Error::Reported),
        Some(Ok(0)) => Ok(()),
        Some(Ok(code)) => Err(Error::Exit(code)),
        Some(Err(e)) => Err(e.into()),
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

    #[tokio::test]
    async fn output_goes_to_its_stream_and_the_exit_code_comes_back() {
        let events: Vec<std::result::Result<ExecEvent, ApiError>> = vec![
            Ok(ExecEvent::Stdout(b"out1\n".to_vec())),
            Ok(ExecEvent::Stderr(b"err1\n".to_vec())),
            Ok(ExecEvent::Stdout(b"out2\n".to_vec())),
            Ok(ExecEvent::Exit(3)),
        ];
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let code = pump(Box::pin(futures::stream::iter(events)), &mut out, &mut err).await.unwrap();
        assert_eq!((code, out.as_slice(), err.as_slice()), (3, &b"out1\nout2\n"[..], &b"err1\n"[..]));
        assert_eq!(Error::Exit(3).to_string(), "command terminated with exit code 3");
    }

    #[tokio::test]
    async fn server_errors_end_the_session() {
        let events: Vec<std::result::Result<ExecEvent, ApiError>> =
            vec![Err(ApiError::bad_request("container \"x\" is not running"))];
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let e = pump(Box::pin(futures::stream::iter(events)), &mut out, &mut err).await.unwrap_err();
        assert_eq!(Error::from(e).to_string(), "Error from server (BadRequest): container \"x\" is not running");
    }

    #[tokio::test]
    async fn stdin_is_copied_then_closed() {
        let (tx, rx) = futures::channel::mpsc::unbounded();
        spawn_stdin_copier(std::io::Cursor::new(b"hello\n".to_vec()), tx);
        let sent: Vec<ExecSend> = rx.collect().await;
        assert_eq!(sent, [ExecSend::Stdin(b"hello\n".to_vec()), ExecSend::CloseStdin]);
    }
}
