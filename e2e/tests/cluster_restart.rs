//! The control plane restarts in the middle of its work: the
//! controller-manager and the scheduler are restarted while a
//! ReplicationController scales to 20, and the count still settles at exactly
//! 20 (level-triggered controllers, expectations, informers that re-list).

use e2e::{eventually, manifest, Live};
use std::process::Command;
use std::time::Duration;

#[test]
fn scaling_survives_a_controller_manager_and_scheduler_restart() {
    let live = Live::new("cmrestart");
    live.kubectl(&["create", "-f", &manifest("kubia-rc.yaml")]).ok();
    live.kubectl(&["scale", "rc", "kubia", "--replicas=20"]).ok();
    std::thread::sleep(Duration::from_millis(300));
    let restarted =
        Command::new("docker").args(["restart", "kubelab-controller-manager", "kubelab-scheduler"]).output().unwrap();
    assert!(restarted.status.success());
    let count = || live.kubectl(&["get", "pods", "-l", "app=kubia", "-o", "name"]).stdout.lines().count();
    let ready = || live.field("rc/kubia", "{.status.readyReplicas}") == "20";
    assert!(eventually(Duration::from_secs(180), ready), "{}", live.kubectl(&["get", "pods"]).stdout);
    for _ in 0..10 {
        assert_eq!(count(), 20, "never more than asked once settled");
        std::thread::sleep(Duration::from_millis(300));
    }
}
