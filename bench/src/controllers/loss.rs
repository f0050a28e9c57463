//! The node-loss phase of the `controllers` scenario: a tenth (by default) of
//! the hollow nodes run in their own kubelet process, which is SIGKILLed while
//! an RC has pods on every node. The nodes stop renewing their leases, so the
//! node lifecycle controller marks them Unknown after
//! `--node-monitor-grace-period` and taints them `unreachable`; the taint
//! eviction controller deletes their pods after `--pod-eviction-timeout`; the RC
//! replaces them at once (a terminating pod no longer counts). The evicted
//! pods stay Terminating, since no kubelet confirms they stopped, until the
//! bench, as an operator who knows the nodes are shut down, taints them
//! `node.kubernetes.io/out-of-service`: then pod GC force-deletes them.
//!
//! [`Tracker`] turns the watch events of the nodes, the pods and the RC into
//! the times, counted from just before the kill, at which each step was done.

use crate::controllers::components::Component;
use crate::controllers::{node_ready, pods_info, rc, rcs_info};
use crate::report::Row;
use crate::stats::{format_ratio, ratio};
use anyhow::Context as _;
use client::{Client, ListParams, WatchStream};
use futures::StreamExt;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

/// The node-loss pods' terminationGracePeriodSeconds (the bench pod has 30 s).
pub const POD_GRACE: Duration = Duration::from_secs(2);

/// The node-loss RC: the bench pod without its readiness probe (its 5 s
/// initial delay and 10 s period would be most of "ready again", and they are
/// the pod's, not the control plane's) and with a [`POD_GRACE`] grace period.
pub fn loss_rc(replicas: u64) -> Value {
    let mut rc = rc("loss", replicas);
    let spec = &mut rc["spec"]["template"]["spec"];
    spec["terminationGracePeriodSeconds"] = POD_GRACE.as_secs().into();
    for container in spec["containers"].as_array_mut().into_iter().flatten() {
        if let Some(container) = container.as_object_mut() {
            container.remove("readinessProbe");
        }
    }
    rc
}

/// How the hollow nodes are split over the two kubelet processes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Split {
    /// Nodes of the process that survives.
    pub kept: usize,
    /// Nodes of the process that is killed.
    pub lost: usize,
}

/// `percent` of `nodes` (rounded, at least one) go to the process that is
/// killed, the rest (at least one) to the other. None when there are fewer
/// than two nodes or `percent` is not in 1..=99.
pub fn split_nodes(nodes: usize, percent: u32) -> Option<Split> {
    if nodes < 2 || !(1..=99).contains(&percent) {
        return None;
    }
    let lost = ((nodes as u64 * u64::from(percent) + 50) / 100) as usize;
    let lost = lost.clamp(1, nodes - 1);
    Some(Split { kept: nodes - lost, lost })
}

/// One pod as the phase needs it.
#[derive(Debug, Clone, Default)]
struct PodState {
    node: String,
    running: bool,
    ready: bool,
    terminating: bool,
}

/// When each step of the node loss was done, from just before the kill.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Times {
    /// Every lost node's Ready condition is no longer True.
    pub not_ready: Option<Duration>,
    /// Every pod that was on a lost node is terminating or deleted.
    pub evicted: Option<Duration>,
    /// The RC's replicas run again, all on surviving nodes.
    pub running: Option<Duration>,
    /// The RC's readyReplicas is back to full, and that many pods on surviving
    /// nodes are Ready (so a status written before the loss does not count).
    pub ready: Option<Duration>,
    /// Every pod that was on a lost node is deleted from the API (pod GC, once
    /// the nodes are tainted out-of-service).
    pub gone: Option<Duration>,
}

impl Times {
    pub fn complete(&self) -> bool {
        self.not_ready.is_some()
            && self.evicted.is_some()
            && self.running.is_some()
            && self.ready.is_some()
            && self.gone.is_some()
    }
}

/// What the watches have shown of the nodes, the RC's pods and the RC.
#[derive(Debug, Clone)]
pub struct Tracker {
    replicas: usize,
    lost_prefix: String,
    lost_nodes: BTreeSet<String>,
    not_ready: BTreeSet<String>,
    pods: BTreeMap<String, PodState>,
    /// The pods on lost nodes at the kill; None before it.
    victims: Option<BTreeSet<String>>,
    rc_ready: u64,
    pub times: Times,
}

impl Tracker {
    /// For an RC of `replicas`, the lost nodes being those named `<lost_prefix><n>`.
    pub fn new(replicas: usize, lost_prefix: &str) -> Self {
        Tracker {
            replicas,
            lost_prefix: lost_prefix.to_string(),
            lost_nodes: BTreeSet::new(),
            not_ready: BTreeSet::new(),
            pods: BTreeMap::new(),
            victims: None,
            rc_ready: 0,
            times: Times::default(),
        }
    }

    /// The lost nodes seen so far.
    pub fn lost_nodes(&self) -> impl Iterator<Item = &str> {
        self.lost_nodes.iter().map(String::as_str)
    }

    fn is_lost(&self, node: &str) -> bool {
        node.strip_prefix(self.lost_prefix.as_str()).is_some_and(|n| !n.is_empty())
    }

    /// A node watch event.
    pub fn node(&mut self, kind: &str, node: &Value, at: Duration) {
        let Some(name) = node["metadata"]["name"].as_str() else { return };
        if !self.is_lost(name) {
            return;
        }
        self.lost_nodes.insert(name.to_string());
        if kind == "DELETED" || !node_ready(node) {
            self.not_ready.insert(name.to_string());
        } else {
            self.not_ready.remove(name);
        }
        self.update(at);
    }

    /// A watch event of the RC's pods.
    pub fn pod(&mut self, kind: &str, pod: &Value, at: Duration) {
        let Some(name) = pod["metadata"]["name"].as_str() else { return };
        if kind == "DELETED" {
            self.pods.remove(name);
        } else {
            let ready = pod["status"]["conditions"]
                .as_array()
                .is_some_and(|cs| cs.iter().any(|c| c["type"] == "Ready" && c["status"] == "True"));
            let state = PodState {
                node: pod["spec"]["nodeName"].as_str().unwrap_or_default().to_string(),
                running: pod["status"]["phase"] == "Running",
                ready,
                terminating: !pod["metadata"]["deletionTimestamp"].is_null(),
            };
            self.pods.insert(name.to_string(), state);
        }
        self.update(at);
    }

    /// A watch event of the RC.
    pub fn rc(&mut self, rc: &Value, at: Duration) {
        self.rc_ready = rc["status"]["readyReplicas"].as_u64().unwrap_or(0);
        self.update(at);
    }

    /// Every replica runs and is ready, as the RC and its pods say.
    pub fn settled(&self) -> bool {
        let live = || self.pods.values().filter(|p| !p.terminating && !p.node.is_empty());
        self.rc_ready >= self.replicas as u64 && live().filter(|p| p.running && p.ready).count() >= self.replicas
    }

    /// Pods on the lost nodes at the kill (0 before it).
    pub fn victims(&self) -> usize {
        self.victims.as_ref().map_or(0, BTreeSet::len)
    }

    /// Pods running on the lost nodes now.
    pub fn on_lost_nodes(&self) -> usize {
        self.pods.values().filter(|p| !p.terminating && self.is_lost(&p.node)).count()
    }

    /// The kill happens now: the pods on lost nodes are the ones to replace.
    /// Returns how many there are.
    pub fn kill(&mut self) -> usize {
        let victims: BTreeSet<String> = self
            .pods
            .iter()
            .filter(|(_, p)| !p.terminating && self.is_lost(&p.node))
            .map(|(name, _)| name.clone())
            .collect();
        let count = victims.len();
        self.victims = Some(victims);
        count
    }

    /// Sets the steps done by `at` that were not yet.
    fn update(&mut self, at: Duration) {
        let Some(victims) = &self.victims else { return };
        let not_ready = !self.lost_nodes.is_empty() && self.lost_nodes.is_subset(&self.not_ready);
        let evicted = victims.iter().all(|v| self.pods.get(v).is_none_or(|p| p.terminating));
        let gone = victims.iter().all(|v| !self.pods.contains_key(v));
        let survivors =
            || self.pods.values().filter(|p| !p.terminating && !p.node.is_empty() && !self.is_lost(&p.node));
        let running = survivors().filter(|p| p.running).count() >= self.replicas;
        let ready = self.rc_ready >= self.replicas as u64 && survivors().filter(|p| p.ready).count() >= self.replicas;
        let t = &mut self.times;
        for (step, done) in [
            (&mut t.not_ready, not_ready),
            (&mut t.evicted, evicted),
            (&mut t.gone, gone),
            (&mut t.running, running),
            (&mut t.ready, ready),
        ] {
            if done && step.is_none() {
                *step = Some(at);
            }
        }
    }
}

/// The periods the phase waits out by design, which the control plane's own
/// share is measured beyond.
#[derive(Debug, Clone, Copy)]
pub struct Periods {
    pub grace: Duration,
    pub eviction: Duration,
}

fn secs(d: Duration) -> String {
    format!("{:.2} s", d.as_secs_f64())
}

/// The table rows of a node loss of `lost_nodes` nodes holding `victims` pods
/// of an RC of `replicas`: each step against the periods it must wait out.
pub fn rows(scenario: &str, lost_nodes: usize, victims: usize, replicas: u64, times: &Times, p: &Periods) -> Vec<Row> {
    let to_evict = p.grace + p.eviction;
    let steps = [
        (format!("node loss: {lost_nodes} nodes NotReady"), times.not_ready, p.grace, "node-monitor-grace-period"),
        (format!("node loss: {victims} pods evicted"), times.evicted, to_evict, "grace + pod-eviction-timeout"),
        (format!("node loss: RC back to {replicas} Running"), times.running, to_evict, "grace + pod-eviction-timeout"),
        (format!("node loss: RC back to {replicas} ready"), times.ready, to_evict, "grace + pod-eviction-timeout"),
        (
            format!("node loss: {victims} evicted pods deleted"),
            times.gone,
            to_evict,
            "grace + pod-eviction-timeout; then out-of-service",
        ),
    ];
    let mut rows: Vec<Row> = steps
        .into_iter()
        .map(|(metric, at, periods, what)| {
            let value = at.map_or("not reached".to_string(), secs);
            let r = at.and_then(|d| ratio(d.as_secs_f64(), periods.as_secs_f64()));
            Row::new(scenario, metric, value).baseline(format!("{} ({what})", secs(periods)), format_ratio(r))
        })
        .collect();
    if let Some(ready) = times.ready {
        // What the control plane adds to the periods it is told to wait.
        let own = ready.saturating_sub(to_evict);
        rows.push(Row::new(scenario, "node loss: ready again, beyond the periods", secs(own)));
    }
    rows
}

/// The items of a list of `info` in `ns` and a watch from that list on.
async fn list_and_watch(
    client: &Client,
    info: &'static api::ResourceInfo,
    ns: &str,
) -> anyhow::Result<(Vec<Value>, WatchStream)> {
    let mut list = client.list(info, ns, &ListParams::default()).await?;
    let rv = list["metadata"]["resourceVersion"].as_str().unwrap_or_default().to_string();
    let items = match list["items"].take() {
        Value::Array(items) => items,
        _ => Vec::new(),
    };
    Ok((items, client.watch(info, ns, &ListParams::default(), &rv).await?))
}

/// What [`run`] measured.
pub struct Loss {
    /// Pods on the lost nodes at the kill.
    pub victims: usize,
    pub times: Times,
}

enum Source {
    Node,
    Pod,
    Rc,
}

/// Runs an RC of `replicas` in `ns` until all are ready, SIGKILLs `lost` (the
/// kubelet of the nodes named `<lost_prefix><n>`) and follows the loss until
/// every step is done or `timeout` has passed since the kill.
pub async fn run(
    client: &Client,
    ns: &str,
    replicas: u64,
    lost_prefix: &str,
    lost: &mut Component,
    timeout: Duration,
) -> anyhow::Result<Loss> {
    let nodes_info = api::registry::lookup("nodes").expect("nodes are registered");
    let mut tracker = Tracker::new(usize::try_from(replicas)?, lost_prefix);
    let (nodes, node_stream) = list_and_watch(client, nodes_info, "").await?;
    for node in &nodes {
        tracker.node("ADDED", node, Duration::ZERO);
    }
    let (_, pod_stream) = list_and_watch(client, pods_info(), ns).await?;
    let (_, rc_stream) = list_and_watch(client, rcs_info(), ns).await?;
    let tag = |source: fn() -> Source| move |e| (source(), e);
    let mut events = futures::stream::select_all([
        node_stream.map(tag(|| Source::Node)).boxed(),
        pod_stream.map(tag(|| Source::Pod)).boxed(),
        rc_stream.map(tag(|| Source::Rc)).boxed(),
    ]);
    client.create(rcs_info(), ns, &loss_rc(replicas)).await.context("create the node-loss RC")?;

    let mut started: Option<Instant> = None;
    let mut shut_down = false;
    let mut deadline = Instant::now() + timeout;
    loop {
        let event = match tokio::time::timeout_at(deadline.into(), events.next()).await {
            Ok(Some((source, Ok(event)))) => (source, event),
            Ok(Some((_, Err(e)))) => anyhow::bail!("a watch of the node-loss phase failed: {e}"),
            Ok(None) => anyhow::bail!("the watches of the node-loss phase ended"),
            Err(_) if started.is_some() => break,
            Err(_) => anyhow::bail!("the node-loss RC's {replicas} pods were not all ready after {timeout:?}"),
        };
        let at = started.map_or(Duration::ZERO, |s| s.elapsed());
        match event {
            (Source::Node, e) => tracker.node(&e.kind, &e.object, at),
            (Source::Pod, e) => tracker.pod(&e.kind, &e.object, at),
            (Source::Rc, e) => tracker.rc(&e.object, at),
        }
        if started.is_none() && tracker.settled() {
            anyhow::ensure!(
                tracker.on_lost_nodes() > 0,
                "none of the {replicas} pods is on a lost node: use more replicas than nodes"
            );
            eprintln!("  {} of {replicas} pods on the lost nodes; killing their kubelet", tracker.on_lost_nodes());
            started = Some(Instant::now());
            lost.kill();
            tracker.kill();
            deadline = Instant::now() + timeout;
        }
        if tracker.times.evicted.is_some() && !shut_down {
            shut_down = true;
            for node in tracker.lost_nodes() {
                mark_out_of_service(client, nodes_info, node).await?;
            }
        }
        if tracker.times.complete() {
            break;
        }
    }
    Ok(Loss { victims: tracker.victims(), times: tracker.times })
}

/// `kubectl taint node NODE node.kubernetes.io/out-of-service=nodeshutdown:NoExecute`:
/// the node is shut down, not merely cut off, so pod GC may force-delete its
/// terminating pods. It carries the unreachable taints by now, so the list exists.
async fn mark_out_of_service(client: &Client, nodes: &api::registry::ResourceInfo, node: &str) -> anyhow::Result<()> {
    let taint =
        serde_json::json!({"key": "node.kubernetes.io/out-of-service", "value": "nodeshutdown", "effect": "NoExecute"});
    let patch = serde_json::json!([{"op": "add", "path": "/spec/taints/-", "value": taint}]);
    client
        .patch(nodes, "", node, client::PatchType::Json, &patch)
        .await
        .with_context(|| format!("taint {node} out-of-service"))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_tenth_of_the_nodes_is_lost_at_least_one_and_never_all() {
        assert_eq!(split_nodes(100, 10), Some(Split { kept: 90, lost: 10 }));
        assert_eq!(split_nodes(50, 10), Some(Split { kept: 45, lost: 5 }));
        assert_eq!(split_nodes(5000, 10), Some(Split { kept: 4500, lost: 500 }));
        assert_eq!(split_nodes(15, 10), Some(Split { kept: 13, lost: 2 }));
        assert_eq!(split_nodes(4, 10), Some(Split { kept: 3, lost: 1 }));
        assert_eq!(split_nodes(2, 99), Some(Split { kept: 1, lost: 1 }));
        assert_eq!(split_nodes(1, 10), None);
        assert_eq!(split_nodes(100, 0), None);
        assert_eq!(split_nodes(100, 100), None);
    }

    fn node(name: &str, ready: &str) -> Value {
        json!({"metadata": {"name": name}, "status": {"conditions": [{"type": "Ready", "status": ready}]}})
    }

    fn pod(name: &str, node: &str, ready: bool) -> Value {
        let status = if ready { "True" } else { "False" };
        json!({
            "metadata": {"name": name},
            "spec": {"nodeName": node},
            "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": status}]}
        })
    }

    fn terminating(mut pod: Value) -> Value {
        pod["metadata"]["deletionTimestamp"] = json!("2026-01-01T00:00:00Z");
        pod
    }

    fn s(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    #[test]
    fn each_step_is_timed_when_its_last_piece_arrives() {
        let mut t = Tracker::new(3, "lost-");
        t.node("ADDED", &node("lost-0", "True"), s(0));
        t.node("ADDED", &node("lost-1", "True"), s(0));
        t.node("ADDED", &node("kept-0", "True"), s(0));
        t.pod("ADDED", &pod("a", "kept-0", true), s(0));
        t.pod("ADDED", &pod("b", "lost-0", true), s(0));
        t.pod("ADDED", &pod("c", "lost-1", true), s(0));
        t.rc(&json!({"status": {"readyReplicas": 3}}), s(0));
        assert_eq!(t.on_lost_nodes(), 2);
        assert_eq!(t.kill(), 2);
        assert_eq!(t.times, Times::default(), "nothing is done at the kill");

        // A surviving node going NotReady is not the loss; one lost node is not all.
        t.node("MODIFIED", &node("kept-0", "Unknown"), s(1));
        t.node("MODIFIED", &node("lost-0", "Unknown"), s(8));
        assert_eq!(t.times.not_ready, None);
        t.node("MODIFIED", &node("lost-1", "Unknown"), s(9));
        assert_eq!(t.times.not_ready, Some(s(9)));

        t.pod("MODIFIED", &terminating(pod("b", "lost-0", false)), s(10));
        assert_eq!(t.times.evicted, None);
        t.pod("MODIFIED", &terminating(pod("c", "lost-1", false)), s(11));
        assert_eq!(t.times.evicted, Some(s(11)));

        // Replacements: created, then bound, Running, Ready.
        t.pod("ADDED", &json!({"metadata": {"name": "d"}, "spec": {}, "status": {"phase": "Pending"}}), s(11));
        t.pod("MODIFIED", &pod("d", "kept-0", false), s(12));
        t.pod("ADDED", &pod("e", "kept-0", false), s(12));
        assert_eq!(t.times.running, Some(s(12)));
        // The RC's status from before the loss still says 3: the pods decide.
        assert_eq!(t.times.ready, None);
        t.pod("MODIFIED", &pod("d", "kept-0", true), s(13));
        t.pod("MODIFIED", &pod("e", "kept-0", true), s(13));
        assert_eq!(t.times.ready, Some(s(13)), "readyReplicas 3 and three Ready pods on kept nodes");

        t.pod("DELETED", &pod("b", "lost-0", false), s(20));
        assert!(!t.times.complete());
        t.pod("DELETED", &pod("c", "lost-1", false), s(21));
        assert_eq!(t.times.gone, Some(s(21)));
        assert!(t.times.complete());
    }

    #[test]
    fn the_rc_status_must_agree_before_ready_is_timed() {
        let mut t = Tracker::new(1, "lost-");
        t.node("ADDED", &node("lost-0", "True"), s(0));
        t.pod("ADDED", &pod("a", "lost-0", true), s(0));
        t.kill();
        t.pod("DELETED", &pod("a", "lost-0", true), s(5));
        t.pod("ADDED", &pod("b", "kept-0", true), s(6));
        assert_eq!(t.times.ready, None, "readyReplicas is still 0");
        t.rc(&json!({"status": {"readyReplicas": 1}}), s(7));
        assert_eq!(t.times.ready, Some(s(7)));
        // A deleted pod counts as evicted and gone; a node that is deleted, as not ready.
        assert_eq!((t.times.evicted, t.times.gone), (Some(s(5)), Some(s(5))));
        t.node("DELETED", &node("lost-0", "True"), s(8));
        assert_eq!(t.times.not_ready, Some(s(8)));
    }

    #[test]
    fn loss_pods_have_no_readiness_probe_and_a_short_grace_period() {
        let rc = loss_rc(7);
        let spec = &rc["spec"]["template"]["spec"];
        assert_eq!(rc["spec"]["replicas"], 7);
        assert_eq!(spec["terminationGracePeriodSeconds"], 2);
        assert!(spec["containers"][0]["readinessProbe"].is_null());
        assert!(!spec["containers"][0]["image"].is_null(), "the rest of the bench pod stays");
    }

    #[test]
    fn rows_compare_each_step_with_the_periods_it_waits() {
        let periods = Periods { grace: s(8), eviction: s(2) };
        let times = Times {
            not_ready: Some(Duration::from_millis(8_500)),
            evicted: Some(Duration::from_millis(10_800)),
            running: Some(Duration::from_millis(11_000)),
            ready: Some(Duration::from_millis(12_500)),
            gone: None,
        };
        let rows = rows("controllers", 10, 97, 500, &times, &periods);
        let cells: Vec<(&str, &str, &str, &str)> =
            rows.iter().map(|r| (r.metric.as_str(), r.value.as_str(), r.baseline.as_str(), r.ratio.as_str())).collect();
        assert_eq!(
            cells,
            [
                ("node loss: 10 nodes NotReady", "8.50 s", "8.00 s (node-monitor-grace-period)", "1.06x"),
                ("node loss: 97 pods evicted", "10.80 s", "10.00 s (grace + pod-eviction-timeout)", "1.08x"),
                ("node loss: RC back to 500 Running", "11.00 s", "10.00 s (grace + pod-eviction-timeout)", "1.10x"),
                ("node loss: RC back to 500 ready", "12.50 s", "10.00 s (grace + pod-eviction-timeout)", "1.25x"),
                (
                    "node loss: 97 evicted pods deleted",
                    "not reached",
                    "10.00 s (grace + pod-eviction-timeout; then out-of-service)",
                    "-"
                ),
                ("node loss: ready again, beyond the periods", "2.50 s", "", ""),
            ]
        );
    }
}
