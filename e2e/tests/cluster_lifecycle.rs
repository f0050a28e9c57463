//! The pod's life cycle on the compose cluster (`./deploy/up.sh`), as the
//! book's chapter 17 shows it, with both real kubectls: a pod whose init
//! container waits for a service shows `Init:0/1` until the service exists,
//! then runs its main container (chapter 17.2.3, with nslookup of the
//! service's full name in place of the book's `wget -T`, which crashes
//! Debian's busybox 1.35); a container's
//! termination message (chapter 17.2.6), written to its
//! terminationMessagePath, is what `kubectl describe` shows as its last
//! state's `Message`; the book's failing postStart hook (17.2.4) kills and
//! restarts its container with a `FailedPostStartHook` event; its httpGet
//! preStop hook reaches the app before the pod's deletion stops it. Each test works in a namespace of its own. Run by
//! deploy/test.sh with `cargo test -p e2e --features cluster --test
//! cluster_lifecycle` (without the `cluster` feature the file holds no test).
#![cfg(feature = "cluster")]

use e2e::{book_text, eventually, tools, Live};
use std::time::Duration;

#[test]
fn the_books_termination_message_is_the_last_states_message() {
    for (tag, kubectl) in [("k120", tools::kubectl_120()), ("kcur", tools::kubectl_current())] {
        let live = Live::with_kubectl(&format!("termmsg-{tag}"), kubectl);
        live.create(&book_text("Chapter17/termination-message.yaml"));
        let pod = "pod-with-termination-message";
        // The container fails and is restarted (restartPolicy Always): its
        // previous instance's message is the last state's.
        let said = eventually(Duration::from_secs(60), || {
            live.field(&format!("pod/{pod}"), "{.status.containerStatuses[0].lastState.terminated.message}")
                == "I've had enough\n"
        });
        assert!(said, "{tag}: {}", live.kubectl(&["describe", "po", pod]).stdout);
        let described = live.kubectl(&["describe", "po", pod]).clean().stdout;
        let last_state = described.split("Last State:").nth(1).unwrap_or_default();
        let words = last_state.split_whitespace().collect::<Vec<_>>().join(" ");
        for shown in ["Reason: Error", "Message: I've had enough", "Exit Code: 1"] {
            assert!(words.contains(shown), "{tag}: no {shown:?} in the last state:\n{described}");
        }
    }
}

#[test]
fn an_init_container_holds_the_pod_in_init_until_it_succeeds() {
    for (tag, kubectl) in [("k120", tools::kubectl_120()), ("kcur", tools::kubectl_current())] {
        let live = Live::with_kubectl(&format!("init-{tag}"), kubectl);
        // The service's full name: busybox's nslookup does not apply the search path.
        let fortune = format!("fortune.{}.svc.cluster.local", live.namespace);
        live.create(&format!(
            "apiVersion: v1
kind: Pod
metadata:
  name: fortune-client
spec:
  terminationGracePeriodSeconds: 1
  initContainers:
  - name: init
    image: busybox
    command: [sh, -c, 'until nslookup {fortune} >/dev/null 2>&1; do echo waiting for fortune; sleep 1; done']
  containers:
  - name: main
    image: busybox
    command: [sh, -c, 'echo main started; trap \"exit 0\" TERM; while :; do sleep 1 & wait $!; done']
"
        ));
        let status = || live.kubectl(&["get", "po", "fortune-client", "--no-headers"]).rows().first().cloned();
        let waiting = eventually(Duration::from_secs(60), || {
            status().is_some_and(|r| r.get(2).map(String::as_str) == Some("Init:0/1"))
        });
        assert!(waiting, "{tag}: {:?}\n{}", status(), live.kubectl(&["describe", "po", "fortune-client"]).stdout);
        assert_eq!(live.field("pod/fortune-client", "{.status.phase}"), "Pending");
        let logs = live.kubectl(&["logs", "fortune-client", "-c", "init"]).stdout;
        assert!(logs.contains("waiting for fortune"), "{tag}: {logs}");

        live.create("apiVersion: v1\nkind: Service\nmetadata:\n  name: fortune\nspec:\n  ports:\n  - port: 80\n");
        let running = eventually(Duration::from_secs(60), || {
            status().is_some_and(|r| r.get(1).map(String::as_str) == Some("1/1") && r[2] == "Running")
        });
        assert!(running, "{tag}: {:?}", status());
        let init = live.field("pod/fortune-client", "{.status.initContainerStatuses[0].state.terminated.reason}");
        assert_eq!(init, "Completed", "{tag}");
        assert!(eventually(Duration::from_secs(10), || live
            .kubectl(&["logs", "fortune-client"])
            .stdout
            .contains("main started")));
    }
}

#[test]
fn the_books_post_start_hook_fails_and_its_pre_stop_hook_runs_before_the_stop() {
    let live = Live::with_kubectl("hooks", tools::kubectl_current());
    live.create(&book_text("Chapter17/post-start-hook.yaml"));
    let pod = "pod-with-poststart-hook";
    let failed = eventually(Duration::from_secs(60), || {
        live.kubectl(&["describe", "po", pod]).stdout.contains("FailedPostStartHook")
    });
    let described = live.kubectl(&["describe", "po", pod]).stdout;
    assert!(failed, "{described}");
    assert!(described.contains("exited with 15"), "{described}");
    assert!(described.contains("hook will fail with exit code 15"), "{described}");
    let restarted = eventually(Duration::from_secs(60), || {
        live.field(&format!("pod/{pod}"), "{.status.containerStatuses[0].restartCount}").parse::<u32>().unwrap_or(0)
            >= 1
    });
    assert!(restarted, "{}", live.kubectl(&["describe", "po", pod]).stdout);

    live.create(&book_text("Chapter17/pre-stop-hook-httpget.yaml"));
    let pod = "pod-with-prestop-hook";
    live.wait_phase(pod, "Running", Duration::from_secs(60));
    let before = live.kubectl(&["logs", pod]).stdout;
    assert!(!before.contains("Received request"), "no request before the deletion: {before:?}");
    let follow = live.command(&["logs", "-f", pod]).stdout(std::process::Stdio::piped()).spawn().unwrap();
    std::thread::sleep(Duration::from_secs(1));
    live.kubectl(&["delete", "po", pod]).clean();
    let logs = follow.wait_with_output().unwrap();
    let logs = String::from_utf8_lossy(&logs.stdout);
    assert!(logs.contains("Received request from"), "the preStop GET reached kubia before it stopped: {logs:?}");
}
