//! A session with a process in a container, through the apiserver, which
//! relays it to the pod's kubelet: `exec` runs a command, `attach` (and `run`
//! when it attaches) joins the container's main process. Output is copied as it
//! comes; with `-i` our stdin goes to the process; with a TTY on a terminal the
//! local terminal is put in raw mode for the session and its window size is
//! sent at the start and on every change.

use super::{pod_target, Ctx};
use crate::error::{Error, Result};
use crate::terminal::{self, RawModeGuard, Size, SizeTracker, Terminal};
use api::k8s_openapi::api::core::v1::Pod;
use api::ApiError;
use client::streaming::{AttachParams, ExecEvent, ExecSend, ExecStream};
use client::{Api, Client, ListParams};
use futures::channel::mpsc::{UnboundedReceiver, UnboundedSender};
use futures::StreamExt;
use std::future::Future;
use std::io::{Read, Write};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

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

/// Copies the session's output to `out` and `err` until it ends, adding the
/// bytes copied to `copied`; the result is the command's exit code (0 when the
/// session ends without one, as an attach does).
pub async fn pump(
    mut events: ExecStream,
    out: &mut (dyn Write + Send),
    err: &mut (dyn Write + Send),
    copied: &AtomicUsize,
) -> std::result::Result<i32, ApiError> {
    let mut code = 0;
    while let Some(event) = events.next().await {
        match event? {
            ExecEvent::Stdout(b) => {
                let _ = out.write_all(&b).and_then(|_| out.flush());
                copied.fetch_add(b.len(), Ordering::Relaxed);
            }
            ExecEvent::Stderr(b) => {
                let _ = err.write_all(&b).and_then(|_| err.flush());
                copied.fetch_add(b.len(), Ordering::Relaxed);
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

/// How a session ended.
#[derive(Debug)]
pub enum Outcome {
    /// The process ended; an exec's exit code, 0 for an attach.
    Ended(i32),
    /// The server refused the session or it broke off.
    Failed(ApiError),
    /// A signal arrived while the terminal was raw: it was restored, and
    /// kubectl's interrupt handler exits 1 without a word.
    Interrupted,
    /// The caller's `stop` came first, after this many bytes of output.
    Stopped(usize),
}

/// Runs one session. `open` starts it, given the channel our input goes
/// through and the window size to start with (with `tty`). With `stdin`, our
/// standard input is copied into the session; with `tty` the local terminal is
/// raw until the session ends, however it ends; `stop` ends it early.
pub async fn drive<F, Fut>(
    ctx: &mut Ctx,
    stdin: bool,
    tty: bool,
    stop: impl Future<Output = ()>,
    open: F,
) -> Result<Outcome>
where
    F: FnOnce(UnboundedReceiver<ExecSend>, Option<Size>) -> Fut,
    Fut: Future<Output = std::result::Result<ExecStream, ApiError>>,
{
    let local = terminal::Local;
    let (tx, rx) = futures::channel::mpsc::unbounded::<ExecSend>();
    let mut tracker = SizeTracker::default();
    let size = if tty { tracker.update(local.size()) } else { None };
    // Raw mode starts only once the session is about to run, and the guard ends it
    // however this function returns.
    let guard = if tty { Some(RawModeGuard::enable(local)?) } else { None };
    let resizes = if tty { watch_resizes(tx.clone(), tracker) } else { None };
    if stdin {
        spawn_stdin_copier(std::io::stdin(), tx.clone());
    }
    let copied = AtomicUsize::new(0);
    let outcome = match open(rx, size).await {
        Ok(events) => {
            let (out, err) = (&mut ctx.out, &mut ctx.err);
            let raw = guard.is_some();
            tokio::select! {
                r = pump(events, &mut **out, &mut **err, &copied) => match r {
                    Ok(code) => Outcome::Ended(code),
                    Err(e) => Outcome::Failed(e),
                },
                _ = fatal_signal(), if raw => Outcome::Interrupted,
                _ = stop => Outcome::Stopped(copied.load(Ordering::Relaxed)),
            }
        }
        Err(e) => Outcome::Failed(e),
    };
    if let Some(r) = resizes {
        r.abort();
    }
    drop(tx);
    drop(guard);
    Ok(outcome)
}

/// What `kubectl attach` asks for (and `run` when it attaches).
#[derive(Debug, Clone, Default)]
pub struct AttachOptions {
    /// `-c`; the pod's default container otherwise.
    pub container: Option<String>,
    pub stdin: bool,
    pub tty: bool,
    pub quiet: bool,
}

/// The container an attach joins, with what its spec says about its terminal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttachTarget {
    pub name: String,
    /// The container was started with a TTY (`tty: true`).
    pub tty: bool,
    /// Its stdin closes after the first attach (`stdinOnce: true`).
    pub stdin_once: bool,
}

/// The container named by `-c`, or the pod's default one (printing kubectl's
/// `Defaulted container ...` notices unless `quiet`), as kubectl's
/// `FindOrDefaultContainerByName` finds it for attach.
pub fn target_container(ctx: &mut Ctx, pod: &Pod, container: Option<&str>, quiet: bool) -> Result<AttachTarget> {
    let name = match container.filter(|c| !c.is_empty()) {
        Some(c) if pod_target::has_container(pod, c) => c.to_string(),
        Some(c) => {
            return Err(Error::msg(format!(
                "container {c} is not valid for pod {} out of: {}",
                pod.metadata.name.as_deref().unwrap_or(""),
                pod_target::all_container_names(pod)
            )))
        }
        None => {
            let (name, notices) = pod_target::default_container(pod)?;
            if !quiet {
                for n in notices {
                    ctx.warn(&n);
                }
            }
            name
        }
    };
    let spec = pod.spec.clone().unwrap_or_default();
    let regular = spec.containers.iter().chain(spec.init_containers.iter().flatten());
    let found = regular
        .map(|c| (c.name.as_str(), c.tty, c.stdin_once))
        .chain(spec.ephemeral_containers.iter().flatten().map(|c| (c.name.as_str(), c.tty, c.stdin_once)));
    let (tty, stdin_once) = found
        .filter(|(n, _, _)| *n == name)
        .map(|(_, t, o)| (t == Some(true), o == Some(true)))
        .next()
        .unwrap_or_default();
    Ok(AttachTarget { name, tty, stdin_once })
}

/// Whether to ask for a TTY, as kubectl's attach decides before looking at the
/// local terminal: `-t` on a container without one is dropped with an error
/// line (unless `quiet`); a container with one always gets a TTY, since its
/// output carries no stream headers.
pub fn attach_tty(requested: bool, container: &AttachTarget, quiet: bool) -> (bool, Option<String>) {
    if requested && !container.tty {
        let notice =
            (!quiet).then(|| format!("error: Unable to use a TTY - container {} did not allocate one", container.name));
        return (false, notice);
    }
    (requested || container.tty, None)
}

/// What kubectl says on stderr before an attach, unless `-q`.
pub const ATTACH_PROMPT: [&str; 2] = [
    "All commands and output from this session will be recorded in container logs, including credentials and \
     sensitive information passed through the command prompt.",
    "If you don't see a command prompt, try pressing enter.",
];

/// The line kubectl prints after an interactive (raw terminal) attach.
pub fn reattach_message(pod: &str, namespace: &str, container: &str) -> String {
    format!("Session ended, resume using 'kubectl attach {pod} -c {container} -n {namespace} -i -t' command")
}

/// How an attach ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attached {
    /// The process ended, and the session with it.
    Ended,
    /// The container stopped running but the session went on (Docker keeps an
    /// attach to a container that exited first open, silent): it was ended
    /// after `printed` bytes of output.
    Stopped { printed: usize },
}

/// How long an attach may go on after the container is seen stopped: its last
/// output and the end of the stream normally arrive well within it.
const STOPPED_GRACE: Duration = Duration::from_secs(2);

/// Whether the pod's container `name` runs (as the pod's status last said).
fn container_running(pod: &Pod, name: &str) -> bool {
    let statuses = pod.status.as_ref().and_then(|s| s.container_statuses.as_ref());
    statuses.into_iter().flatten().any(|c| c.name == name && c.state.as_ref().is_some_and(|s| s.running.is_some()))
}

/// Resolves [`STOPPED_GRACE`] after the container is seen not running (or its pod gone).
async fn container_stopped(client: Client, namespace: String, pod: String, container: String) {
    let _ = wait_for_pod(&client, &namespace, &pod, None, |p| !container_running(p, &container)).await;
    tokio::time::sleep(STOPPED_GRACE).await;
}

/// Attaches to a container of `pod`, as kubectl's `AttachOptions.Run` does once
/// it has the pod: picks the container, settles the TTY, prints the prompt
/// lines and relays the session until the process ends.
pub async fn attach(ctx: &mut Ctx, pod: &Pod, opts: &AttachOptions) -> Result<Attached> {
    let target = target_container(ctx, pod, opts.container.as_deref(), opts.quiet)
        .map_err(|e| Error::msg(format!("cannot attach to the container: {}", plain(&e))))?;
    let (tty, notice) = attach_tty(opts.tty, &target, opts.quiet);
    if let Some(n) = notice {
        ctx.warn(&n);
    }
    let decision = terminal::decide_tty(opts.stdin, tty, terminal::Local.stdin_is_terminal(), opts.quiet);
    if let Some(w) = decision.warning {
        ctx.warn(w);
    }
    if !opts.quiet {
        for line in ATTACH_PROMPT {
            ctx.warn(line);
        }
    }
    let client = ctx.client().await?;
    let namespace = pod.metadata.namespace.clone().unwrap_or_default();
    let name = pod.metadata.name.clone().unwrap_or_default();
    let params = AttachParams {
        namespace: namespace.clone(),
        pod: name.clone(),
        container: target.name.clone(),
        stdin: opts.stdin,
        tty: decision.tty,
        ..Default::default()
    };
    let stopped = container_stopped(client.clone(), namespace.clone(), name.clone(), target.name.clone());
    let outcome = drive(ctx, opts.stdin, decision.tty, stopped, |rx, size| {
        let params = AttachParams {
            cols: size.map(|s| u32::from(s.cols)).unwrap_or(0),
            rows: size.map(|s| u32::from(s.rows)).unwrap_or(0),
            ..params
        };
        async move { client.attach(params, rx).await }
    })
    .await?;
    match outcome {
        Outcome::Interrupted => Err(Error::Reported),
        Outcome::Failed(e) => Err(e.into()),
        Outcome::Stopped(printed) => Ok(Attached::Stopped { printed }),
        Outcome::Ended(_) => {
            if !opts.quiet && opts.stdin && decision.tty {
                ctx.println(&reattach_message(&name, &namespace, &target.name));
            }
            Ok(Attached::Ended)
        }
    }
}

/// Waits until `done` holds for the pod (watching it), as kubectl's
/// `waitForPod` does; the pod's deletion ends the wait with kubectl's odd
/// `pods "" not found`.
pub async fn wait_for_pod(
    client: &Client,
    namespace: &str,
    name: &str,
    timeout: Option<Duration>,
    done: impl Fn(&Pod) -> bool,
) -> Result<Pod> {
    let pods: Api<Pod> = Api::namespaced(client, namespace);
    let gone = || Error::from(ApiError::not_found("pods", ""));
    let wait = async {
        loop {
            let pod = match pods.get(name).await {
                Ok(p) => p,
                Err(e) if e.is_not_found() => return Err(gone()),
                Err(e) => return Err(e.into()),
            };
            if done(&pod) {
                return Ok(pod);
            }
            let rv = pod.metadata.resource_version.clone().unwrap_or_default();
            let params = ListParams { field_selector: format!("metadata.name={name}"), ..Default::default() };
            if let Ok(mut events) = pods.watch(&params, &rv).await {
                while let Some(Ok(event)) = events.next().await {
                    if event.kind == "DELETED" {
                        return Err(gone());
                    }
                    if done(&event.object) {
                        return Ok(event.object);
                    }
                }
            }
            // The watch ended or could not start: look again.
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    };
    match timeout {
        Some(t) => tokio::time::timeout(t, wait)
            .await
            .unwrap_or_else(|_| Err(Error::msg("timed out waiting for the condition"))),
        None => wait.await,
    }
}

/// Reads `--pod-running-timeout` as kubectl does; `command` names the command
/// in the messages of a bad value (`attach`, `run`).
pub fn pod_running_timeout(value: &str, command: &str) -> Result<Duration> {
    let d = api::duration::parse_signed(value).map_err(|e| {
        Error::msg(format!(
            "invalid argument \"{value}\" for \"--pod-running-timeout\" flag: {e}\nSee 'kubectl {command} --help' for \
             usage."
        ))
    })?;
    match Duration::try_from(d) {
        Ok(d) if !d.is_zero() => Ok(d),
        _ => Err(Error::msg("--pod-running-timeout must be higher than zero")),
    }
}

/// An error's text as Go's `%v` of it prints inside another message: without
/// the `error: ` that only the last line of a failed command gets.
pub fn plain(err: &Error) -> String {
    match err {
        Error::Msg(m) => m.clone(),
        Error::Api(e) => e.message.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use api::k8s_openapi::api::core::v1::{Container, PodSpec};

    #[tokio::test]
    async fn output_goes_to_its_stream_and_the_exit_code_comes_back() {
        let events: Vec<std::result::Result<ExecEvent, ApiError>> = vec![
            Ok(ExecEvent::Stdout(b"out1\n".to_vec())),
            Ok(ExecEvent::Stderr(b"err1\n".to_vec())),
            Ok(ExecEvent::Stdout(b"out2\n".to_vec())),
            Ok(ExecEvent::Exit(3)),
        ];
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let code =
            pump(Box::pin(futures::stream::iter(events)), &mut out, &mut err, &AtomicUsize::new(0)).await.unwrap();
        assert_eq!((code, out.as_slice(), err.as_slice()), (3, &b"out1\nout2\n"[..], &b"err1\n"[..]));
        assert_eq!(Error::Exit(3).to_string(), "command terminated with exit code 3");
    }

    #[tokio::test]
    async fn an_attach_ends_without_an_exit_code() {
        let events: Vec<std::result::Result<ExecEvent, ApiError>> = vec![Ok(ExecEvent::Stdout(b"hello\n".to_vec()))];
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let code =
            pump(Box::pin(futures::stream::iter(events)), &mut out, &mut err, &AtomicUsize::new(0)).await.unwrap();
        assert_eq!((code, out.as_slice()), (0, &b"hello\n"[..]));
    }

    #[tokio::test]
    async fn server_errors_end_the_session() {
        let events: Vec<std::result::Result<ExecEvent, ApiError>> =
            vec![Err(ApiError::bad_request("container \"x\" is not running"))];
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let e =
            pump(Box::pin(futures::stream::iter(events)), &mut out, &mut err, &AtomicUsize::new(0)).await.unwrap_err();
        assert_eq!(Error::from(e).to_string(), "Error from server (BadRequest): container \"x\" is not running");
    }

    #[tokio::test]
    async fn stdin_is_copied_then_closed() {
        let (tx, rx) = futures::channel::mpsc::unbounded();
        spawn_stdin_copier(std::io::Cursor::new(b"hello\n".to_vec()), tx);
        let sent: Vec<ExecSend> = rx.collect().await;
        assert_eq!(sent, [ExecSend::Stdin(b"hello\n".to_vec()), ExecSend::CloseStdin]);
    }

    fn target(tty: bool) -> AttachTarget {
        AttachTarget { name: "shell".into(), tty, stdin_once: false }
    }

    #[test]
    fn a_tty_is_used_only_when_the_container_has_one() {
        assert_eq!(
            attach_tty(true, &target(false), false),
            (false, Some("error: Unable to use a TTY - container shell did not allocate one".to_string()))
        );
        assert_eq!(attach_tty(true, &target(false), true), (false, None));
        assert_eq!(attach_tty(true, &target(true), false), (true, None));
        // A container started with a TTY is always attached with one.
        assert_eq!(attach_tty(false, &target(true), false), (true, None));
        assert_eq!(attach_tty(false, &target(false), false), (false, None));
    }

    fn ctx() -> Ctx {
        let target = crate::config::Target { server: "127.0.0.1:6443".into(), namespace: "default".into() };
        let mut ctx = Ctx::new(Default::default(), target);
        ctx.err = Box::new(std::io::sink());
        ctx
    }

    #[test]
    fn the_target_carries_the_containers_terminal_settings() {
        let pod = Pod {
            metadata: api::k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta {
                name: Some("p".into()),
                ..Default::default()
            },
            spec: Some(PodSpec {
                containers: vec![
                    Container { name: "a".into(), tty: Some(true), stdin_once: Some(true), ..Default::default() },
                    Container { name: "b".into(), ..Default::default() },
                ],
                ..Default::default()
            }),
            status: None,
        };
        let mut ctx = ctx();
        assert_eq!(
            target_container(&mut ctx, &pod, None, false).unwrap(),
            AttachTarget { name: "a".into(), tty: true, stdin_once: true }
        );
        assert_eq!(
            target_container(&mut ctx, &pod, Some("b"), false).unwrap(),
            AttachTarget { name: "b".into(), tty: false, stdin_once: false }
        );
        assert_eq!(
            target_container(&mut ctx, &pod, Some("c"), false).unwrap_err().to_string(),
            "error: container c is not valid for pod p out of: a, b"
        );
    }

    #[test]
    fn messages_read_like_kubectl() {
        assert_eq!(
            reattach_message("shell", "default", "shell"),
            "Session ended, resume using 'kubectl attach shell -c shell -n default -i -t' command"
        );
        assert_eq!(plain(&Error::msg("pod x not found")), "pod x not found");
        assert_eq!(plain(&ApiError::bad_request("container not found (\"x\")").into()), "container not found (\"x\")");
    }
}
