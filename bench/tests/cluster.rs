//! Bringing up and tearing down: the bench starts etcd and its own binary as the
//! apiserver process, both answer, the apiserver's memory is readable, and
//! dropping the cluster leaves no process behind.

use bench::cluster::{rss_bytes, Cluster};
use std::path::Path;
use std::time::Duration;

fn alive(pid: u32) -> bool {
    // A killed child that was waited for has no /proc entry left.
    Path::new(&format!("/proc/{pid}")).exists()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn starts_etcd_and_the_apiserver_and_stops_both() {
    let exe = Path::new(env!("CARGO_BIN_EXE_bench"));
    let cluster = Cluster::up(None, None, exe).await.expect("bring up etcd and the apiserver");
    let target = cluster.target().clone();
    assert!(target.throwaway, "etcd was started by the bench");
    let pid = target.apiserver_pid.expect("the apiserver is a child process");
    assert!(rss_bytes(pid).is_some_and(|rss| rss > 0));

    let client = client::Client::connect(&target.server).await.expect("connect");
    let namespaces = api::registry::lookup("namespaces").expect("registered");
    client.get(namespaces, "", "kube-system").await.expect("the apiserver answers");
    let mut etcd = etcd_client::Client::connect([target.etcd.as_str()], None).await.expect("etcd answers");
    let stored = etcd.get("/registry/namespaces/default", None).await.expect("get");
    assert_eq!(stored.kvs().len(), 1, "the apiserver writes to the etcd the bench started");

    drop(cluster);
    assert!(!alive(pid), "the apiserver process is gone");
    let gone = tokio::time::timeout(Duration::from_secs(5), client.get(namespaces, "", "default")).await;
    assert!(!matches!(gone, Ok(Ok(_))), "nothing answers at {} any more", target.server);
}
