//! The pod's life cycle on the compose cluster (`./deploy/up.sh`), as the
//! book's chapter 17 shows it, with both real kubectls: a container's
//! termination message (chapter 17.2.6), written to its
//! terminationMessagePath, is what `kubectl describe` shows as its last
//! state's `Message`. Each test works in a namespace of its own. Run by
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
