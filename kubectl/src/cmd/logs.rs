//! `kubectl logs`: a container's log from the apiserver (which relays it from
//! the pod's kubelet), once or followed (`-f`), for one pod, a controller's pod,
//! or every pod a selector matches, with kubectl's flags and messages.

use super::{pod_target, Ctx};
use crate::cli::LogsArgs;
use crate::error::{Error, Result};
use crate::typed::decode_all;
use api::k8s_openapi::api::core::v1::Pod;
use api::ApiError;
use client::streaming::ByteStream;
use futures::StreamExt;
use proto::LogsRequest;
use std::io::Write;

/// The usage text kubectl quotes when `logs` gets no pod.
const USAGE: &str = "logs [-f] [-p] (POD | TYPE/NAME) [-c CONTAINER]";

/// kubectl reads only the last 10 lines of each pod when a selector picks them.
const SELECTOR_TAIL: i64 = 10;

fn usage_error(msg: &str) -> Error {
    Error::msg(format!("{msg}\nSee 'kubectl logs -h' for help and examples"))
}

/// What the command line asks for, checked as kubectl's `Complete` and `Validate` do.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// POD or TYPE/NAME; `None` with a selector.
    pub resource: Option<String>,
    pub selector: Option<String>,
    pub container: Option<String>,
    /// The request for each stream, without pod and container.
    pub request: LogsRequest,
    /// Bytes to print per stream (0: all).
    pub limit_bytes: u64,
}

pub fn plan(a: &LogsArgs, namespace: &str) -> Result<Plan> {
    let selector = a.selector.clone().filter(|s| !s.is_empty());
    let mut container = a.container.clone().filter(|c| !c.is_empty());
    let resource = match a.args.as_slice() {
        [] if selector.is_none() => {
            return Err(usage_error(&format!(
                "expected '{USAGE}'.\nPOD or TYPE/NAME is a required argument for the logs command"
            )))
        }
        [] => None,
        [_] if selector.is_some() => {
            return Err(usage_error("only a selector (-l) or a POD name is allowed"));
        }
        [one] => Some(one.clone()),
        [one, inline] => {
            if container.is_some() {
                return Err(Error::msg("only one of -c or an inline [CONTAINER] arg is allowed"));
            }
            container = Some(inline.clone());
            Some(one.clone())
        }
        _ => {
            return Err(usage_error(&format!(
                "expected '{USAGE}'.\nPOD or TYPE/NAME is a required argument for the logs command"
            )))
        }
    };
    let since = match &a.since {
        Some(s) => {
            let secs = api::duration::parse_signed(s)
                .map(|d| d.as_secs_f64())
                .map_err(|e| usage_error(&format!("invalid argument \"{s}\" for \"--since\" flag: {e}")))?;
            Some(secs)
        }
        None => None,
    };
    if a.since_time.is_some() && since.is_some_and(|s| s != 0.0) {
        return Err(Error::msg("at most one of `sinceTime` or `sinceSeconds` may be specified"));
    }
    if a.all_containers {
        if let Some(c) = &container {
            return Err(Error::msg(format!("--all-containers=true should not be specified with container name {c}")));
        }
    }
    if a.limit_bytes < 0 {
        return Err(Error::msg("--limit-bytes must be greater than 0"));
    }
    if since.is_some_and(|s| s < 0.0) {
        return Err(Error::msg("--since must be greater than 0"));
    }
    let tail = match a.tail {
        Some(t) if t < -1 => return Err(Error::msg("--tail must be greater than or equal to -1")),
        Some(t) => t,
        None if selector.is_some() => SELECTOR_TAIL,
        None => -1,
    };
    let since_seconds = match (since, &a.since_time) {
        // Go rounds the duration to the nearest second, halves away from zero.
        (Some(s), _) if s != 0.0 => s.round() as i64,
        (_, Some(t)) => {
            let at = api::time::parse(t).ok_or_else(|| {
                Error::msg(format!("parsing time \"{t}\" as \"2006-01-02T15:04:05Z07:00\": cannot parse \"{t}\""))
            })?;
            // The server takes a relative time; a start in the future still means "from now".
            (jiff::Timestamp::now().as_second() - at.as_second()).max(1)
        }
        _ => 0,
    };
    Ok(Plan {
        resource,
        selector,
        container,
        request: LogsRequest {
            namespace: namespace.to_string(),
            follow: a.follow,
            tail_lines: tail,
            previous: a.previous,
            timestamps: a.timestamps,
            since_seconds,
            ..Default::default()
        },
        limit_bytes: a.limit_bytes as u64,
    })
}

/// One log stream to read: a container of a pod.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    pub namespace: String,
    pub pod: String,
    pub container: String,
}

impl Source {
    /// `--prefix`'s tag: `[pod/NAME/CONTAINER] `.
    pub fn prefix(&self) -> String {
        format!("[pod/{}/{}] ", self.pod, self.container)
    }
}

/// The streams to read from `pod`, and kubectl's notices about the container choice.
pub fn sources(pod: &Pod, container: Option<&str>, all_containers: bool) -> Result<(Vec<Source>, Vec<String>)> {
    let pod_name = pod.metadata.name.clone().unwrap_or_default();
    let at = |c: String| Source {
        namespace: pod.metadata.namespace.clone().unwrap_or_default(),
        pod: pod_name.clone(),
        container: c,
    };
    if all_containers {
        return Ok((pod_target::every_container(pod).into_iter().map(at).collect(), vec![]));
    }
    let (name, notices) = match container {
        Some(c) => (c.to_string(), vec![]),
        None => pod_target::default_container(pod)?,
    };
    if !pod_target::has_container(pod, &name) {
        return Err(Error::msg(format!("container {name} is not valid for pod {pod_name}")));
    }
    Ok((vec![at(name)], notices))
}

/// Splits a byte stream into lines, keeping the newline; the last line may lack one.
#[derive(Debug, Default)]
pub struct Lines {
    partial: Vec<u8>,
}

impl Lines {
    /// The complete lines `chunk` finishes.
    pub fn push(&mut self, chunk: &[u8]) -> Vec<Vec<u8>> {
        let mut lines = Vec::new();
        for piece in chunk.split_inclusive(|b| *b == b'\n') {
            self.partial.extend_from_slice(piece);
            if piece.ends_with(b"\n") {
                lines.push(std::mem::take(&mut self.partial));
            }
        }
        lines
    }

    /// What is left when the stream ends.
    pub fn finish(&mut self) -> Option<Vec<u8>> {
        (!self.partial.is_empty()).then(|| std::mem::take(&mut self.partial))
    }
}

/// Cuts a stream off after `limit` bytes (0: no limit), as the server's `limitBytes` does.
#[derive(Debug)]
pub struct Limit {
    left: Option<u64>,
}

impl Limit {
    pub fn new(limit: u64) -> Self {
        Self { left: (limit > 0).then_some(limit) }
    }

    /// The part of `chunk` still within the limit.
    pub fn take<'a>(&mut self, chunk: &'a [u8]) -> &'a [u8] {
        match &mut self.left {
            None => chunk,
            Some(left) => {
                let n = (*left).min(chunk.len() as u64) as usize;
                *left -= n as u64;
                &chunk[..n]
            }
        }
    }

    pub fn exhausted(&self) -> bool {
        self.left == Some(0)
    }
}

/// Copies one log stream to `out`: chunks as they come, or whole lines tagged with
/// `prefix`. Stops at the end of the stream, at the byte limit, or at an error.
pub async fn copy_stream(
    mut stream: ByteStream,
    out: &mut (dyn Write + Send),
    prefix: Option<&str>,
    limit_bytes: u64,
) -> std::result::Result<(), ApiError> {
    let mut limit = Limit::new(limit_bytes);
    let mut lines = Lines::default();
    let write = |out: &mut (dyn Write + Send), bytes: &[u8]| {
        // A closed stdout (`kubectl logs x | head`) ends the copy quietly.
        let _ = out.write_all(bytes).and_then(|_| out.flush());
    };
    while let Some(chunk) = stream.next().await {
        let chunk = chunk?;
        let chunk = limit.take(&chunk);
        match prefix {
            None => write(out, chunk),
            Some(p) => {
                for line in lines.push(chunk) {
                    write(out, &[p.as_bytes(), &line].concat());
                }
            }
        }
        if limit.exhausted() {
            break;
        }
    }
    if let (Some(p), Some(rest)) = (prefix, lines.finish()) {
        write(out, &[p.as_bytes(), &rest].concat());
    }
    Ok(())
}

/// Follows several streams at once, interleaving whole lines as they arrive, as
/// kubectl's `parallelConsumeRequest` does. The first error ends everything
/// unless `ignore_errors`, in which case it is printed and the others go on.
pub async fn copy_parallel(
    streams: Vec<(Option<String>, ByteStream)>,
    out: &mut (dyn Write + Send),
    limit_bytes: u64,
    ignore_errors: bool,
) -> std::result::Result<(), ApiError> {
    let (tx, mut rx) = futures::channel::mpsc::unbounded::<std::result::Result<Vec<u8>, ApiError>>();
    let mut tasks = Vec::new();
    for (prefix, mut stream) in streams {
        let tx = tx.clone();
        tasks.push(tokio::spawn(async move {
            let mut limit = Limit::new(limit_bytes);
            let mut lines = Lines::default();
            let tag = |line: Vec<u8>| match &prefix {
                Some(p) => [p.as_bytes(), &line].concat(),
                None => line,
            };
            while let Some(chunk) = stream.next().await {
                match chunk {
                    Ok(chunk) => {
                        for line in lines.push(limit.take(&chunk)) {
                            let _ = tx.unbounded_send(Ok(tag(line)));
                        }
                        if limit.exhausted() {
                            break;
                        }
                    }
                    Err(e) => {
                        let _ = tx.unbounded_send(Err(e));
                        return;
                    }
                }
            }
            if let Some(rest) = lines.finish() {
                let _ = tx.unbounded_send(Ok(tag(rest)));
            }
        }));
    }
    drop(tx);
    let mut result = Ok(());
    while let Some(item) = rx.next().await {
        match item {
            Ok(line) => {
                let _ = out.write_all(&line).and_then(|_| out.flush());
            }
            Err(e) if ignore_errors => {
                let _ = writeln!(out, "error: {}", crate::error::api_error_text(&e, None));
            }
            Err(e) => {
                result = Err(e);
                break;
            }
        }
    }
    for t in tasks {
        t.abort();
    }
    result
}

pub async fn run(ctx: &mut Ctx, a: LogsArgs) -> Result<()> {
    let plan = plan(&a, &ctx.target.namespace)?;
    let pods_info = api::registry::lookup("pods").expect("pods are registered");
    let client = ctx.client().await?;
    let pods: Vec<Pod> = match (&plan.resource, &plan.selector) {
        (Some(resource), _) => {
            let (info, obj) = pod_target::get_object(ctx, resource).await?;
            let kind = info.kind;
            let (pod, count) = pod_target::pod_for_object(ctx, info, obj).await?;
            if kind != "Pod" && count > 1 {
                ctx.warn(&format!("Found {count} pods, using pod/{}", pod.metadata.name.as_deref().unwrap_or("")));
            }
            vec![pod]
        }
        (None, selector) => {
            let params =
                client::ListParams { label_selector: selector.clone().unwrap_or_default(), ..Default::default() };
            let pods = super::items(pods_info, client.list(pods_info, &ctx.target.namespace, &params).await?);
            if pods.is_empty() {
                ctx.warn(&format!("No resources found in {} namespace.", ctx.target.namespace));
                return Ok(());
            }
            decode_all(&pods)
        }
    };
    let mut all = Vec::new();
    for pod in &pods {
        let (sources, notices) = sources(pod, plan.container.as_deref(), a.all_containers)?;
        for n in notices {
            ctx.warn(&n);
        }
        all.extend(sources);
    }
    let request = |s: &Source| LogsRequest {
        namespace: s.namespace.clone(),
        pod: s.pod.clone(),
        container: s.container.clone(),
        ..plan.request.clone()
    };
    let prefix = |s: &Source| a.prefix.then(|| s.prefix());
    if a.follow && all.len() > 1 {
        if all.len() > a.max_log_requests {
            return Err(Error::msg(format!(
                "you are attempting to follow {} log streams, but maximum allowed concurrency is {}, use \
                 --max-log-requests to increase the limit",
                all.len(),
                a.max_log_requests
            )));
        }
        let mut streams = Vec::new();
        for s in &all {
            streams.push((prefix(s), client.logs(request(s)).await?));
        }
        copy_parallel(streams, &mut *ctx.out, plan.limit_bytes, a.ignore_errors).await?;
        return Ok(());
    }
    for s in &all {
        let copied = match client.logs(request(s)).await {
            Ok(stream) => copy_stream(stream, &mut *ctx.out, prefix(s).as_deref(), plan.limit_bytes).await,
            Err(e) => Err(e),
        };
        match copied {
            Ok(()) => {}
            Err(e) if a.ignore_errors => {
                let text = crate::error::api_error_text(&e, None);
                ctx.print(&format!("error: {text}\n"));
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;
    use serde_json::json;

    fn args(line: &[&str]) -> LogsArgs {
        let cli = crate::Cli::try_parse_from(std::iter::once("kubectl").chain(line.iter().copied())).unwrap();
        match cli.command {
            crate::cli::Command::Logs(a) => a,
            other => panic!("expected logs, got {other:?}"),
        }
    }

    fn plan_of(line: &[&str]) -> Result<Plan> {
        plan(&args(line), "default")
    }

    #[test]
    fn flags_become_the_request() {
        let p = plan_of(&["logs", "kubia", "-c", "main", "-f", "--tail=20", "-p", "--timestamps", "--since=1h30m"])
            .unwrap();
        assert_eq!(p.resource.as_deref(), Some("kubia"));
        assert_eq!(p.container.as_deref(), Some("main"));
        assert_eq!(
            p.request,
            LogsRequest {
                namespace: "default".into(),
                follow: true,
                tail_lines: 20,
                previous: true,
                timestamps: true,
                since_seconds: 5400,
                ..Default::default()
            }
        );
        let p = plan_of(&["logs", "pod/kubia", "main", "--tail", "-1", "--previous"]).unwrap();
        assert_eq!((p.resource.as_deref(), p.container.as_deref()), (Some("pod/kubia"), Some("main")));
        assert_eq!((p.request.tail_lines, p.request.previous, p.request.since_seconds), (-1, true, 0));
        // A selector reads the last 10 lines of each pod unless --tail says otherwise.
        assert_eq!(plan_of(&["logs", "-l", "app=kubia"]).unwrap().request.tail_lines, 10);
        assert_eq!(plan_of(&["logs", "-l", "app=kubia", "--tail=-1"]).unwrap().request.tail_lines, -1);
        assert!(plan_of(&["logs", "x", "--all-containers", "--prefix=true"]).is_ok());
    }

    #[test]
    fn usage_errors_read_like_kubectl() {
        let err = |line: &[&str]| plan_of(line).unwrap_err().to_string();
        assert_eq!(
            err(&["logs"]),
            "error: expected 'logs [-f] [-p] (POD | TYPE/NAME) [-c CONTAINER]'.\nPOD or TYPE/NAME is a required \
             argument for the logs command\nSee 'kubectl logs -h' for help and examples"
        );
        assert_eq!(
            err(&["logs", "x", "-l", "app=a"]),
            "error: only a selector (-l) or a POD name is allowed\nSee 'kubectl logs -h' for help and examples"
        );
        assert_eq!(
            err(&["logs", "x", "c", "-c", "d"]),
            "error: only one of -c or an inline [CONTAINER] arg is allowed"
        );
        assert_eq!(
            err(&["logs", "x", "-c", "d", "--all-containers"]),
            "error: --all-containers=true should not be specified with container name d"
        );
        assert_eq!(err(&["logs", "x", "--tail=-2"]), "error: --tail must be greater than or equal to -1");
        assert_eq!(err(&["logs", "x", "--limit-bytes=-1"]), "error: --limit-bytes must be greater than 0");
        assert_eq!(err(&["logs", "x", "--since=-5s"]), "error: --since must be greater than 0");
        assert_eq!(
            err(&["logs", "x", "--since=5x"]),
            "error: invalid argument \"5x\" for \"--since\" flag: time: unknown unit \"x\" in duration \"5x\"\n\
             See 'kubectl logs -h' for help and examples"
        );
        assert_eq!(
            err(&["logs", "x", "--since=5s", "--since-time=2021-10-27T10:00:00Z"]),
            "error: at most one of `sinceTime` or `sinceSeconds` may be specified"
        );
    }

    fn pod() -> Pod {
        crate::typed::decode(&json!({"metadata": {"name": "kubia", "namespace": "default"},
               "spec": {"initContainers": [{"name": "init"}], "containers": [{"name": "main"}, {"name": "side"}]}}))
        .unwrap()
    }

    #[test]
    fn containers_to_read() {
        let (s, notices) = sources(&pod(), None, false).unwrap();
        assert_eq!(s, [Source { namespace: "default".into(), pod: "kubia".into(), container: "main".into() }]);
        assert_eq!(notices, ["Defaulted container \"main\" out of: main, side, init (init)"]);
        let (s, notices) = sources(&pod(), None, true).unwrap();
        assert_eq!(s.iter().map(|s| s.container.as_str()).collect::<Vec<_>>(), ["init", "main", "side"]);
        assert!(notices.is_empty());
        assert_eq!(s[0].prefix(), "[pod/kubia/init] ");
        assert_eq!(
            sources(&pod(), Some("nope"), false).unwrap_err().to_string(),
            "error: container nope is not valid for pod kubia"
        );
    }

    fn stream(chunks: &[&str]) -> ByteStream {
        let items: Vec<std::result::Result<Vec<u8>, ApiError>> =
            chunks.iter().map(|c| Ok(c.as_bytes().to_vec())).collect();
        Box::pin(futures::stream::iter(items))
    }

    #[tokio::test]
    async fn streams_copy_with_prefixes_and_limits() {
        let mut out: Vec<u8> = Vec::new();
        copy_stream(stream(&["a\nb", "c\n", "d"]), &mut out, None, 0).await.unwrap();
        assert_eq!(out, b"a\nbc\nd");
        let mut out: Vec<u8> = Vec::new();
        copy_stream(stream(&["a\nb", "c\n", "d"]), &mut out, Some("[pod/p/c] "), 0).await.unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), "[pod/p/c] a\n[pod/p/c] bc\n[pod/p/c] d");
        let mut out: Vec<u8> = Vec::new();
        copy_stream(stream(&["hello\n", "world\n"]), &mut out, None, 8).await.unwrap();
        assert_eq!(out, b"hello\nwo");
    }

    #[tokio::test]
    async fn stream_errors_surface() {
        let items: Vec<std::result::Result<Vec<u8>, ApiError>> = vec![
            Ok(b"x\n".to_vec()),
            Err(ApiError::bad_request("container \"main\" in pod \"p\" is waiting to start")),
        ];
        let mut out: Vec<u8> = Vec::new();
        let err = copy_stream(Box::pin(futures::stream::iter(items)), &mut out, None, 0).await.unwrap_err();
        assert_eq!(
            crate::error::api_error_text(&err, None),
            "Error from server (BadRequest): container \"main\" in pod \"p\" is waiting to start"
        );
        assert_eq!(out, b"x\n");
    }

    #[tokio::test]
    async fn parallel_streams_interleave_whole_lines() {
        let streams = vec![
            (Some("[pod/a/c] ".to_string()), stream(&["one\ntw", "o\n"])),
            (Some("[pod/b/c] ".to_string()), stream(&["uno\n", "dos\n"])),
        ];
        let mut out: Vec<u8> = Vec::new();
        copy_parallel(streams, &mut out, 0, false).await.unwrap();
        let text = String::from_utf8(out).unwrap();
        let mut lines: Vec<&str> = text.split_inclusive('\n').collect();
        lines.sort();
        assert_eq!(lines, ["[pod/a/c] one\n", "[pod/a/c] two\n", "[pod/b/c] dos\n", "[pod/b/c] uno\n"]);
    }
}
