//! The official Kubernetes Python client (PyPI `kubernetes`, installed by
//! `deploy/tools.sh`) against the compose cluster: each test runs one check of
//! `python_client.py` beside this file in a namespace of its own, and passes
//! when the script does.
//!
//! Run by deploy/test.sh with `cargo test -p e2e --features cluster --test python_client`.

use e2e::{tools, Live};
use std::process::Command;

#[track_caller]
fn check(name: &str) {
    let live = Live::new(&format!("py-{name}"));
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/python_client.py");
    let out = Command::new(tools::python())
        .arg("-B")
        .args([script, name, &live.server_url(), &live.namespace])
        .output()
        .expect("run the python client");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "python check {name} failed\nstdout:\n{stdout}\nstderr:\n{stderr}");
    assert_eq!(stdout.trim(), format!("ok {name}"), "stderr:\n{stderr}");
}

#[test]
fn list_pods_nodes_namespaces_and_groups() {
    check("list");
}

#[test]
fn watch_from_a_resource_version_and_resume() {
    check("watch");
}

#[test]
fn create_patch_replace_scale_and_delete() {
    check("write");
}

#[test]
fn exec_with_and_without_stdin() {
    check("exec");
}
