//! The `api` scenario end to end at a tiny size: a real etcd, the apiserver
//! served in this process, every phase run, every row present and no phase
//! failing. Numbers are not checked (a debug build on a shared machine says
//! nothing about them); that the measurements run and agree with what was
//! written is what this guards.

use apiserver::store::testing::TestEtcd;
use bench::api::Plan;
use bench::cluster::Target;
use bench::load::Budget;
use clap::Parser;
use std::time::{Duration, Instant};

async fn wait_for_apiserver(addr: &str) {
    let namespaces = api::registry::lookup("namespaces").expect("namespaces are registered");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Ok(client) = client::Client::connect(addr).await {
            if client.get(namespaces, "", "default").await.is_ok() {
                return;
            }
        }
        assert!(Instant::now() < deadline, "the in-process apiserver at {addr} did not come up");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_phase_runs_and_reports() {
    let etcd = TestEtcd::start().await.expect("start etcd (install etcd-server if missing)");
    // The store the apiserver binary would open (etcd behind its watch cache).
    let config = apiserver::Config::try_parse_from(["apiserver", "--etcd-servers", etcd.endpoint()]).expect("flags");
    let store = apiserver::open_store(&config).await.expect("open the store");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr").to_string();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(apiserver::serve(store, listener, async {
        let _ = stopped.await;
    }));
    wait_for_apiserver(&addr).await;

    let plan = Plan {
        clients: 4,
        budget: Budget::ops(100),
        list_sizes: vec![150],
        list_repeats: 4,
        watchers: 30,
        watch_connections: 3,
        watch_rate: 200.0,
        watch_writes: 20,
        watch_warmup: 5,
        churn_rate: 80.0,
        churn_time: Duration::from_secs(1),
    };
    // The apiserver shares this process, so the memory row reads the test's own
    // RSS: meaningless as a number, but it exercises the reading.
    let target = Target {
        etcd: etcd.endpoint().to_string(),
        server: addr,
        apiserver_pid: Some(std::process::id()),
        throwaway: true,
    };
    let report = bench::api::run(&plan, &target).await.expect("the scenario runs");
    let text = report.to_text();
    println!("{text}");

    assert!(report.errors.is_empty(), "phases failed: {:#?}\n{text}", report.errors);
    for metric in [
        "creates/s",
        "create p50",
        "create p99",
        "gets/s",
        "get p50",
        "get p99",
        "RSS per stored pod",
        "lists of 150/s",
        "list 150 pods p50",
        "list 150 pods p99",
        "watch delivery (30 watchers) p50",
        "watch delivery (30 watchers) p99",
        "gRPC creates/s vs create txn",
        "HTTP creates/s vs create txn",
        "etcd create txn p50",
        "HTTP creates/s",
        "HTTP create p50",
        "HTTP create p99",
        "HTTP gets/s",
        "HTTP get p99",
        "HTTP list 150 pods as JSON p50",
        "HTTP list 150 pods as Table p50",
        "HTTP list 150 pods as Table p99",
        "HTTP/2 watch delivery (30 watchers, 3 connections) p50",
        "HTTP/2 watch delivery (30 watchers, 3 connections) p99",
        "HTTP/1.1 watch delivery (30 watchers, 30 connections) p50",
        "HTTP/1.1 watch delivery (30 watchers, 30 connections) p99",
        "churn create pods",
        "churn update services",
        "churn update status pods",
        "churn update status services",
        "churn delete services",
        "churn all writes at 80/s",
        "churn writes completed/s",
    ] {
        let row = report.row(metric).unwrap_or_else(|| panic!("no row {metric:?} in\n{text}"));
        assert!(!row.value.starts_with("failed") && !row.value.starts_with("n/a"), "{metric}: {}\n{text}", row.value);
        assert!(text.contains(metric), "{metric} missing from the printed table");
    }
    // Every raw etcd baseline was measured, so every throughput and latency row has a ratio.
    for row in report.rows.iter().filter(|r| r.metric != "RSS per stored pod") {
        assert!(row.ratio.ends_with('x'), "{} has no ratio to raw etcd: {:?}", row.metric, row.ratio);
    }
    let creates = report.row("creates/s").expect("row");
    assert_eq!(creates.target, "≥ 0.5x");
    assert!(creates.met.is_some());
    for (metric, target) in [
        ("HTTP creates/s", "≥ 0.9x"),
        ("gRPC creates/s vs create txn", "≥ 0.75x"),
        ("HTTP list 150 pods as Table p50", "< as JSON"),
        ("HTTP/2 watch delivery (30 watchers, 3 connections) p99", "< 20.0 ms"),
        ("HTTP/1.1 watch delivery (30 watchers, 30 connections) p99", "< 20.0 ms"),
    ] {
        let row = report.row(metric).expect("row");
        assert_eq!(row.target, target, "{metric}");
        assert!(row.met.is_some(), "{metric} is judged");
    }

    let _ = stop.send(());
    server.await.expect("server task").expect("server stops cleanly");
}
