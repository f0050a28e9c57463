//! Hollow nodes: many nodes in one kubelet process, over the fake runtime, so
//! that the control plane can be loaded with thousands of nodes on one machine
//! (Kubernetes' kubemark). Each node runs the real kubelet code — registration,
//! lease, status, pod workers — with its own [`FakeRuntime`]; what they share
//! is what costs memory or connections:
//!
//! - one [`Client`] (one gRPC connection) for every node;
//! - one pod watch (`spec.nodeName!=`) whose events go to the node they name;
//! - one relist task that relists every node in turn, instead of a timer each.
//!
//! Each node still has its own heartbeat task (lease and status), because the
//! node code keeps its lease and last status between ticks; registration runs
//! a few dozen nodes at a time, and lease renewals are spread over the renew
//! interval, so 5,000 nodes never write all at once.

use crate::api::ClientApi;
use crate::clock::Clock;
use crate::config::{Config, RuntimeKind};
use crate::node::{HostInfo, Node, NodeConfig};
use crate::pods::{self, Kubelet, PodEvent, Settings};
use crate::runtime::fake::{FakeRuntime, Hollow};
use client::watcher::{Event, Informer};
use client::{Client, ListParams, Resource};
use k8s_openapi::api::core::v1::Pod;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{watch, Semaphore};

/// The capacity a hollow node reports unless `--cpu`/`--memory` say otherwise:
/// a plausible machine, not the host that runs thousands of them.
const DEFAULT_CPU: &str = "8";
const DEFAULT_MEMORY: &str = "32Gi";

/// The name of hollow node `i`.
pub fn node_name(prefix: &str, i: usize) -> String {
    format!("{prefix}{i}")
}

/// Node `i`'s address: unique in 172.16.0.0/12 for up to a million nodes.
pub fn node_ip(i: usize) -> String {
    let n = i + 1;
    format!("172.{}.{}.{}", 16 + (n >> 16) % 16, (n >> 8) & 0xff, n & 0xff)
}

/// Node `i`'s pod addresses: its own /24 in 10.64.0.0/10, so pod IPs never
/// repeat across the nodes of a process (up to 16,384 nodes).
pub fn pod_ip_prefix(i: usize) -> String {
    format!("10.{}.{}", 64 + (i >> 8) % 64, i & 0xff)
}

/// Where in the renew interval node `i` renews its lease: the fractional
/// parts of multiples of the golden ratio, which spread any run of
/// consecutive nodes (a registration batch) evenly over the interval.
pub fn lease_phase(i: usize, interval: Duration) -> Duration {
    const GOLDEN: f64 = 0.618_033_988_749_895;
    interval.mul_f64((i as f64 * GOLDEN).fract())
}

/// One hollow node's pods and runtime.
pub struct HollowNode {
    pub kubelet: Kubelet,
    pub runtime: Arc<FakeRuntime>,
}

/// The hollow nodes of a process, indexed by the number in their name.
pub struct HollowNodes {
    prefix: String,
    nodes: Vec<HollowNode>,
}

impl HollowNodes {
    pub fn new(prefix: &str, nodes: Vec<HollowNode>) -> Self {
        Self { prefix: prefix.to_string(), nodes }
    }

    pub fn nodes(&self) -> &[HollowNode] {
        &self.nodes
    }

    /// The node called `name`, if it is one of ours. `hollow-node-07` is not
    /// `hollow-node-7`: only the exact names the nodes registered match.
    pub fn get(&self, name: &str) -> Option<&HollowNode> {
        let digits = name.strip_prefix(self.prefix.as_str())?;
        if digits.is_empty()
            || (digits.len() > 1 && digits.starts_with('0'))
            || !digits.bytes().all(|b| b.is_ascii_digit())
        {
            return None;
        }
        self.nodes.get(digits.parse::<usize>().ok()?)
    }

    /// Passes one event of the shared pod watch to the node the pod is bound
    /// to; pods of other nodes (a normal kubelet's, another process's) are
    /// ignored. The runtime learns the pod's annotations before its worker
    /// makes containers.
    pub fn dispatch(&self, event: Event<Pod>) {
        match event {
            Event::Applied(pod) => {
                if let Some(node) = self.get(api::pod::node_name(&pod)) {
                    node.runtime.admit(&pod);
                    node.kubelet.handle(PodEvent::Applied(pod));
                }
            }
            Event::Deleted(pod) => {
                if let Some(node) = self.get(api::pod::node_name(&pod)) {
                    node.runtime.forget(&pod);
                    node.kubelet.handle(PodEvent::Deleted(pod));
                }
            }
            Event::Synced => {
                for node in &self.nodes {
                    node.kubelet.handle(PodEvent::Synced);
                }
            }
        }
    }

    /// Relists every node every `period` until `shutdown` resolves: one timer for all.
    pub async fn run_relist(&self, period: Duration, shutdown: impl std::future::Future<Output = ()>) {
        let mut ticker = tokio::time::interval(period);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                _ = &mut shutdown => return,
                _ = ticker.tick() => {
                    for (i, node) in self.nodes.iter().enumerate() {
                        node.kubelet.relist().await;
                        // The fake never makes a relist wait: let other tasks in now and then.
                        if i % 256 == 255 {
                            tokio::task::yield_now().await;
                        }
                    }
                }
            }
        }
    }

    /// Feeds the pods bound to any node (one list, then one watch) to their
    /// nodes until `shutdown` resolves.
    pub async fn watch_pods(&self, client: Client, shutdown: impl std::future::Future<Output = ()>) {
        let params = ListParams { field_selector: "spec.nodeName!=".into(), ..Default::default() };
        let mut informer = Informer::<Pod>::start(client, Pod::info(), "", params);
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                _ = &mut shutdown => return,
                event = informer.events.recv() => match event {
                    Some(event) => self.dispatch(event),
                    None => return,
                },
            }
        }
    }
}

/// Resolves when `rx` says so.
async fn stopped(mut rx: watch::Receiver<bool>) {
    let _ = rx.wait_for(|stop| *stop).await;
}

/// Runs `config.hollow_nodes` hollow nodes until `shutdown` resolves.
pub async fn run(
    config: Config,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let count = config.hollow_nodes;
    if config.runtime != RuntimeKind::Fake {
        tracing::warn!(runtime = ?config.runtime, "--hollow-nodes overrides --runtime: hollow nodes only run the fake runtime");
    }
    tracing::warn!(
        nodes = count,
        prefix = %config.hollow_node_prefix,
        "hollow nodes: fake runtime, no containers run. Pods only pretend to run on these nodes."
    );
    let client = Client::connect_lazy(&config.server)?;
    let cpu = config.cpu.clone().unwrap_or_else(|| DEFAULT_CPU.into());
    let memory = config.memory.clone().unwrap_or_else(|| DEFAULT_MEMORY.into());
    let cpu_cores = pods::container::quantity(&cpu).map_err(|e| anyhow::anyhow!("--cpu: {e}"))?;
    let memory_bytes = pods::container::quantity(&memory).map_err(|e| anyhow::anyhow!("--memory: {e}"))?;
    let behaviour = Hollow {
        start_delay: config.hollow_pod_start_delay,
        exit_after: config.hollow_container_exit_after,
        exit_code: 0,
        probe_fail: config.hollow_probe_fail,
    };
    let host = HostInfo::detect();

    let mut nodes = Vec::with_capacity(count);
    let mut heartbeats = Vec::with_capacity(count);
    for i in 0..count {
        let name = node_name(&config.hollow_node_prefix, i);
        let ip = node_ip(i);
        let runtime = Arc::new(FakeRuntime::hollow(&pod_ip_prefix(i), behaviour.clone()));
        let settings = Settings {
            node_name: name.clone(),
            node_ip: ip.clone(),
            pause_image: config.pod_infra_container_image.clone(),
            backoff: pods::backoff::Policy { initial: config.initial_backoff, max: config.max_backoff },
            relist_period: config.relist_period,
            resync_period: config.sync_frequency,
            runtime_name: "docker",
            node_cpu_millis: cpu_cores.milli_value(),
            node_memory_bytes: memory_bytes.value(),
            // Hollow pods' volumes are set up on the machine's disk, out of the way.
            root_dir: std::env::temp_dir().join("kubelab-hollow").join(&name),
            shared: Default::default(),
        };
        let api = Arc::new(ClientApi::new(client.clone(), &name));
        let kubelet = Kubelet::new(settings, runtime.clone(), api.clone(), Clock::system());
        let node_config = NodeConfig {
            name: name.clone(),
            labels: config.node_labels.clone(),
            ip,
            hostname: name,
            port: config.port,
            cpu: cpu.clone(),
            memory: memory.clone(),
            max_pods: config.max_pods,
            host: host.clone(),
            status_update_frequency: config.node_status_update_frequency,
            status_report_frequency: config.node_status_report_frequency,
            lease_duration_seconds: config.node_lease_duration_seconds,
            lease_renew_interval: config.lease_renew_interval,
        };
        let node = Node::new(client.clone(), node_config, kubelet.clone(), api, Clock::system())
            .with_lease_phase(lease_phase(i, config.lease_renew_interval));
        nodes.push(HollowNode { kubelet, runtime });
        heartbeats.push(node);
    }
    let nodes = Arc::new(HollowNodes::new(&config.hollow_node_prefix, nodes));

    let (stop_tx, stop_rx) = watch::channel(false);
    let relist = {
        let nodes = nodes.clone();
        let stop = stopped(stop_rx.clone());
        let period = config.relist_period;
        tokio::spawn(async move { nodes.run_relist(period, stop).await })
    };
    let tasks = start_nodes(heartbeats, config.hollow_register_concurrency, &stop_rx);

    nodes.watch_pods(client, shutdown).await;
    tracing::info!("shutting down the hollow nodes");
    let _ = stop_tx.send(true);
    for node in nodes.nodes() {
        node.kubelet.shutdown();
    }
    let _ = relist.await;
    for task in tasks {
        let _ = task.await;
    }
    Ok(())
}

/// Spawns every node's registration and heartbeat, registering at most
/// `concurrency` at a time so that thousands of nodes come up as a steady
/// stream of writes instead of one burst. Logs when all are registered.
pub fn start_nodes(
    nodes: Vec<Node>,
    concurrency: usize,
    stop: &watch::Receiver<bool>,
) -> Vec<tokio::task::JoinHandle<()>> {
    let count = nodes.len();
    let permits = Arc::new(Semaphore::new(concurrency.max(1)));
    let registered = Arc::new(AtomicUsize::new(0));
    let started = tokio::time::Instant::now();
    nodes
        .into_iter()
        .map(|node| {
            let permits = permits.clone();
            let registered = registered.clone();
            let stop = stop.clone();
            tokio::spawn(async move {
                let mut shutdown = Box::pin(stopped(stop));
                let registration = {
                    let Ok(_permit) = permits.acquire().await else { return };
                    node.register_until(&mut shutdown).await
                };
                let Some(object) = registration else { return };
                if registered.fetch_add(1, Ordering::Relaxed) + 1 == count {
                    tracing::info!(
                        nodes = count,
                        seconds = started.elapsed().as_secs_f64(),
                        "all hollow nodes registered"
                    );
                }
                node.heartbeat(object, shutdown).await;
            })
        })
        .collect()
}

#[cfg(test)]
mod tests;
