//! `kubectl run -i --rm` and `kubectl attach` on the compose cluster (issue
//! 19): a pod started for one command, attached to, its output printed, then
//! deleted, kubectl exiting with the command's exit code; with kubelab's own
//! kubectl and with the real ones (1.20 and a current one). The tests run
//! without a terminal, so they use `-i` without `-t`. Each test works in a
//! namespace of its own.
//!
//! Run by deploy/test.sh with `cargo test -p e2e --features cluster --test cluster_attach`.

use e2e::{eventually, tools, Live, Run};
use std::io::{BufRead, BufReader, Read, Write};
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

/// Reads a line of stdin before it prints anything, so the attach always
/// comes first: what it prints arrives through the attach, stdout and stderr apart.
const READS_A_LINE: &str = "read line; echo \"got $line\"; echo err >&2; exit 3";

/// What kubectl prints on stderr before it attaches (without `-q`).
const PROMPT: &str = "All commands and output from this session will be recorded in container logs, including \
                      credentials and sensitive information passed through the command prompt.\nIf you don't see a \
                      command prompt, try pressing enter.\n";

/// Whether the pod is gone (a deleted pod may take its grace period to go).
fn gone(live: &Live, pod: &str) -> bool {
    eventually(Duration::from_secs(60), || live.kubectl(&["get", "pod", pod, "-o", "name"]).code != 0)
}

/// How long one `run -i` may take: pulling nothing, a pod runs in seconds.
const DEADLINE: Duration = Duration::from_secs(90);

/// kubectl with `input` on stdin, killed (and the test failed) if it is not
/// done by [`DEADLINE`]: an attach that never ends must not hang the suite.
#[track_caller]
fn kubectl_stdin(live: &Live, args: &[&str], input: &str) -> Run {
    let mut child = live
        .command(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start kubectl");
    child.stdin.take().expect("stdin").write_all(input.as_bytes()).expect("write stdin");
    let read = |mut r: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut s = String::new();
            let _ = r.read_to_string(&mut s);
            s
        })
    };
    let out = read(Box::new(child.stdout.take().expect("stdout")));
    let err = read(Box::new(child.stderr.take().expect("stderr")));
    let done = eventually(DEADLINE, || matches!(child.try_wait(), Ok(Some(_))));
    if !done {
        let _ = child.kill();
    }
    let code = child.wait().ok().and_then(|s| s.code()).unwrap_or(-1);
    let run = Run { stdout: out.join().unwrap(), stderr: err.join().unwrap(), code };
    assert!(done, "kubectl {args:?} did not finish in {DEADLINE:?}: {run:?}");
    run
}

/// `run -i --rm --restart=Never --image=busybox NAME -- sh -c SCRIPT`, with `input` on stdin.
#[track_caller]
fn run_rm(live: &Live, name: &str, script: &str, input: &str) -> Run {
    let args = ["run", "-i", "--rm", "--restart=Never", "--image=busybox", name, "--", "sh", "-c", script];
    kubectl_stdin(live, &args, input)
}

#[test]
fn run_rm_attaches_prints_deletes_and_exits_with_the_code() {
    let live = Live::new("attach-rm");
    let out = run_rm(&live, "reader", READS_A_LINE, "hi\n");
    assert_eq!(out.code, 3, "{out:?}");
    assert_eq!(out.stdout, "got hi\npod \"reader\" deleted\n", "{out:?}");
    assert_eq!(out.stderr, format!("{PROMPT}err\npod {}/reader terminated (Error)\n", live.namespace), "{out:?}");
    assert!(gone(&live, "reader"), "--rm deletes the pod");

    // The same without --rm: the pod stays, Failed with the command's code.
    let args = ["run", "-i", "--restart=Never", "--image=busybox", "kept", "--", "sh", "-c", READS_A_LINE];
    let out = kubectl_stdin(&live, &args, "there\n");
    assert_eq!((out.code, out.stdout.as_str()), (3, "got there\n"), "{out:?}");
    assert_eq!(live.field("pod/kept", "{.status.phase}"), "Failed");
    assert_eq!(live.field("pod/kept", "{.status.containerStatuses[0].state.terminated.exitCode}"), "3");
    // The first attach closed the container's stdin, as stdinOnce says.
    assert_eq!(live.field("pod/kept", "{.spec.containers[0].stdinOnce}"), "true");
}

#[test]
fn a_short_command_prints_all_it_printed_once() {
    let live = Live::new("attach-short");
    // Done before or just after the attach: either the attach or the log must show it all.
    let out = run_rm(&live, "short", "echo hello; echo world", "");
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(out.stdout, "hello\nworld\npod \"short\" deleted\n", "{out:?}");
    assert!(gone(&live, "short"), "--rm deletes the pod");
    // Success with the default restart policy (Always): no exit code to wait for.
    let args = ["run", "-i", "--rm", "--image=busybox", "quiet", "-q", "--", "sh", "-c", "read l; echo $l"];
    let out = kubectl_stdin(&live, &args, "q\n");
    assert_eq!((out.code, out.stdout.as_str(), out.stderr.as_str()), (0, "q\n", ""), "{out:?}");
}

#[test]
fn run_attach_errors() {
    let live = Live::new("attach-err");
    let out = live.kubectl(&["run", "x", "--image=busybox", "--rm"]).fails();
    assert_eq!(out.stderr, "error: --rm should only be used for attached containers\n");
    let out = live.kubectl(&["run", "x", "--image=busybox", "-t"]).fails();
    assert_eq!(out.stderr, "error: -i/--stdin is required for containers with -t/--tty=true\n");
    // Without a terminal, -t is dropped with kubectl's warning. (What the
    // container's own terminal makes of input that ends at once is Docker's
    // business: only the warning, the exit and the clean-up are checked.)
    let args = ["run", "-it", "--rm", "--restart=Never", "--image=busybox", "tty", "--", "sh", "-c", "read l; echo $l"];
    let out = kubectl_stdin(&live, &args, "typed\n");
    assert_eq!((out.code, out.stdout.ends_with("pod \"tty\" deleted\n")), (0, true), "{out:?}");
    assert!(
        out.stderr.starts_with("Unable to use a TTY - input is not a terminal or the right kind of file\n"),
        "{out:?}"
    );
}

/// Single-quotes a word for `sh -c`.
fn quoted(word: &std::ffi::OsStr) -> String {
    format!("'{}'", word.to_string_lossy().replace('\'', "'\\''"))
}

/// Reads `from` into `seen` until `text` has appeared (or the stream ends).
fn read_until(from: &mut impl Read, seen: &mut String, text: &str) -> bool {
    let mut buf = [0u8; 4096];
    while !seen.contains(text) {
        match from.read(&mut buf) {
            Ok(0) | Err(_) => return false,
            Ok(n) => seen.push_str(&String::from_utf8_lossy(&buf[..n])),
        }
    }
    true
}

#[test]
fn run_it_at_a_terminal() {
    // util-linux's `script` gives kubectl a terminal: raw mode, a TTY in the
    // container, the shell's prompt, what we type, its exit code.
    let live = Live::new("attach-tty");
    let kubectl = live.command(&["run", "-it", "--rm", "--restart=Never", "--image=busybox", "shell", "--", "sh"]);
    let line: Vec<String> = std::iter::once(kubectl.get_program()).chain(kubectl.get_args()).map(quoted).collect();
    let mut script = std::process::Command::new("script");
    script.args(["-qec", &line.join(" "), "/dev/null"]);
    for (k, v) in kubectl.get_envs() {
        match v {
            Some(v) => script.env(k, v),
            None => script.env_remove(k),
        };
    }
    let mut child = script.stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().expect("start script");
    let mut input = child.stdin.take().unwrap();
    let mut output = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut seen = String::new();
        let prompted = read_until(&mut output, &mut seen, "try pressing enter.");
        if prompted {
            let _ = input.write_all(b"echo typed-$((40+2))\r");
            if read_until(&mut output, &mut seen, "typed-42") {
                let _ = input.write_all(b"exit 4\r");
            }
        }
        let _ = output.read_to_string(&mut seen);
        seen
    });
    let done = eventually(DEADLINE, || matches!(child.try_wait(), Ok(Some(_))));
    if !done {
        let _ = child.kill();
    }
    let code = child.wait().ok().and_then(|s| s.code()).unwrap_or(-1);
    let seen = reader.join().unwrap().replace('\r', "");
    assert!(done, "kubectl run -it did not finish in {DEADLINE:?}:\n{seen}");
    assert_eq!(code, 4, "{seen}");
    // The container's terminal echoed the line and the shell ran it.
    assert!(seen.contains("echo typed-$((40+2))\ntyped-42\n"), "{seen}");
    let ns = &live.namespace;
    assert!(
        seen.contains(&format!("Session ended, resume using 'kubectl attach shell -c shell -n {ns} -i -t' command\n")),
        "{seen}"
    );
    assert!(seen.ends_with(&format!("pod \"shell\" deleted\npod {ns}/shell terminated (Error)\n")), "{seen}");
    assert!(gone(&live, "shell"), "--rm deletes the pod");
}

#[test]
fn attach_joins_a_running_container() {
    let live = Live::new("attach");
    let ticker = "i=0; while true; do i=$((i+1)); echo tick $i; sleep 1; done";
    live.kubectl(&["run", "ticker", "--image=busybox", "--", "sh", "-c", ticker]).ok();
    live.wait_phase("ticker", "Running", Duration::from_secs(60));
    let mut child = live.command(&["attach", "ticker"]).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().and_then(Result::ok).unwrap_or_default();
    let second = lines.next().and_then(Result::ok).unwrap_or_default();
    let _ = child.kill();
    let _ = child.wait();
    let number = |l: &str| l.strip_prefix("tick ").and_then(|n| n.parse::<u32>().ok());
    // Output from the attach on: the count goes on from where it was.
    let (a, b) = (number(&first), number(&second));
    assert!(a.is_some() && b == a.map(|n| n + 1), "attach printed {first:?} then {second:?}");

    let out = live.kubectl(&["attach", "ticker", "-c", "nope"]).fails();
    assert_eq!(
        out.stderr,
        "error: cannot attach to the container: container nope is not valid for pod ticker out of: ticker\n"
    );
    live.kubectl(&["run", "done", "--image=busybox", "--restart=Never", "--", "true"]).ok();
    live.wait_phase("done", "Succeeded", Duration::from_secs(60));
    let out = live.kubectl(&["attach", "done"]).fails();
    assert_eq!(out.stderr, "error: cannot attach a container in a completed pod; current phase is Succeeded\n");
}

/// The same `run -i --rm` typed into a real kubectl.
fn real_run_rm(kubectl: PathBuf, tag: &str, deleted: &dyn Fn(&Live, &str) -> String) {
    let live = Live::with_kubectl(&format!("attach-{tag}"), kubectl);
    let out = run_rm(&live, "reader", READS_A_LINE, "hi\n");
    assert_eq!(out.code, 3, "{out:?}");
    assert_eq!(out.stdout, format!("got hi\n{}", deleted(&live, "reader")), "{out:?}");
    assert!(out.stderr.contains("err\n"), "{out:?}");
    assert!(out.stderr.ends_with(&format!("pod {}/reader terminated (Error)\n", live.namespace)), "{out:?}");
    assert!(gone(&live, "reader"), "--rm deletes the pod");

    let out = run_rm(&live, "short", "echo hello; echo world", "");
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(out.stdout, format!("hello\nworld\n{}", deleted(&live, "short")), "{out:?}");
}

mod kubectl_1_20 {
    #[test]
    fn run_rm() {
        super::real_run_rm(super::tools::kubectl_120(), "k120", &|_, pod| format!("pod \"{pod}\" deleted\n"));
    }
}

mod kubectl_current {
    #[test]
    fn run_rm() {
        super::real_run_rm(super::tools::kubectl_current(), "kcur", &|live, pod| {
            format!("pod \"{pod}\" deleted from {} namespace\n", live.namespace)
        });
    }
}
