//! The kubelab scheduler: watches pods that wait for a node, picks one for
//! each through filter and score plugins, and binds it through the
//! `pods/binding` subresource, as kube-scheduler does.
//!
//! - [`resources`]: pod requests, from Kubernetes quantities (`api::quantity`).
//! - [`framework`]: pods and nodes as the plugins see them, the plugin
//!   traits, the failure message.
//! - [`plugins`]: the filters and scores, each depending on `framework` only.
//! - [`algorithm`]: one decision (filter, sample, score, pick).
//! - [`cache`]: node totals, with assumed pods counted before the watch confirms them.
//! - [`queue`]: active, backoff and unschedulable pods.
//! - [`scheduling`]: the state machine tying them together, without I/O.
//! - `testing`: pod and node builders for tests and benchmarks (the `testing` feature).
//!
//! [`run`] is the daemon: informers in, decisions out.

pub mod algorithm;
pub mod cache;
pub mod framework;
pub mod plugins;
pub mod queue;
pub mod resources;
pub mod scheduling;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
mod writer;

use api::ApiError;
use client::watcher::{Event, Informer};
use client::{Client, ListParams, Resource};
use k8s_openapi::api::core::v1::{Node, PersistentVolume, PersistentVolumeClaim, Pod};
use k8s_openapi::api::storage::v1::StorageClass;
use scheduling::{Scheduler, Settings};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, Semaphore};
use tokio::time::Instant;

/// The scheduler's flags; every one can be set by environment variable.
#[derive(Debug, Clone, clap::Parser)]
#[command(name = "scheduler", about = "The kubelab scheduler: assigns pending pods to nodes")]
pub struct Config {
    /// The apiserver to talk to.
    #[arg(long, env = "APISERVER", default_value = "http://127.0.0.1:6443")]
    pub server: String,
    /// Pods whose spec.schedulerName is this are scheduled by this scheduler.
    #[arg(long, env = "SCHEDULER_NAME", default_value = "default-scheduler")]
    pub scheduler_name: String,
    /// Stop looking for feasible nodes once this percentage of the cluster has
    /// been found feasible; 0 adapts to the cluster size as Kubernetes does.
    #[arg(long, env = "PERCENTAGE_OF_NODES_TO_SCORE", default_value_t = 0,
          value_parser = clap::value_parser!(u32).range(0..=100))]
    pub percentage_of_nodes_to_score: u32,
    /// How many bindings may be in flight at once. (kube-scheduler also uses
    /// its parallelism to filter nodes on several threads; here filtering runs
    /// on the one scheduling task, which is cheaper than handing each pod's
    /// few hundred node checks to other threads.)
    #[arg(long, env = "PARALLELISM", default_value_t = 16, value_parser = clap::value_parser!(u32).range(1..))]
    pub parallelism: u32,
    /// The backoff of a pod after its first failed attempt; it doubles with each further one.
    #[arg(long, env = "POD_INITIAL_BACKOFF", default_value = "1s", value_parser = api::duration::parse)]
    pub pod_initial_backoff: Duration,
    /// The longest backoff.
    #[arg(long, env = "POD_MAX_BACKOFF", default_value = "10s", value_parser = api::duration::parse)]
    pub pod_max_backoff: Duration,
    /// Unschedulable pods are retried after this long even if nothing changed.
    #[arg(long, env = "POD_MAX_IN_UNSCHEDULABLE_PODS_DURATION", default_value = "5m", value_parser = api::duration::parse)]
    pub pod_max_in_unschedulable_pods_duration: Duration,
    /// How often unschedulable pods are checked against that limit.
    #[arg(long, env = "UNSCHEDULABLE_FLUSH_INTERVAL", default_value = "30s", value_parser = api::duration::parse)]
    pub unschedulable_flush_interval: Duration,
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Api(#[from] ApiError),
    #[error("the {0} informer stopped")]
    InformerStopped(&'static str),
}

impl Config {
    fn settings(&self) -> Settings {
        Settings {
            scheduler_name: self.scheduler_name.clone(),
            percentage_of_nodes_to_score: self.percentage_of_nodes_to_score,
            pod_initial_backoff: self.pod_initial_backoff,
            pod_max_backoff: self.pod_max_backoff,
            seed: None,
        }
    }
}

/// Schedules until `shutdown` resolves.
pub async fn run(config: Config, shutdown: impl Future<Output = ()> + Send) -> Result<(), Error> {
    let client = Client::connect_lazy(&config.server)?;
    let mut nodes = Informer::<Node>::start(client.clone(), Node::info(), "", ListParams::default());
    // Finished pods hold no resources, so they are not even watched (as kube-scheduler);
    // a pod that finishes leaves the watch as a deletion.
    let active_pods =
        ListParams { field_selector: "status.phase!=Succeeded,status.phase!=Failed".into(), ..Default::default() };
    // The scheduler keeps what it needs of each pod (a bound pod's requests, a
    // pending pod until it is bound), so the pods' cache keeps only names.
    let mut pods = Informer::<Pod>::start_names_only(client.clone(), Pod::info(), "", active_pods);

    // Claims and classes, for the VolumeBinding check.
    let mut claims = Informer::<PersistentVolumeClaim>::start(
        client.clone(),
        PersistentVolumeClaim::info(),
        "",
        ListParams::default(),
    );
    let mut classes = Informer::<StorageClass>::start(client.clone(), StorageClass::info(), "", ListParams::default());
    let mut volumes =
        Informer::<PersistentVolume>::start(client.clone(), PersistentVolume::info(), "", ListParams::default());

    let mut sched = Scheduler::new(config.settings());
    tokio::pin!(shutdown);
    tokio::select! {
        synced = async {
            // Nodes first, so that every bound pod finds its node.
            nodes.first_list(|node| sched.node_applied(node, Instant::now())).await.map_err(|_| Error::InformerStopped("nodes"))?;
            // The pods' first list is read from the events, as `first_list` does, to
            // get each pod shared: a waiting one is then kept without a copy.
            loop {
                match pods.events.recv().await.ok_or(Error::InformerStopped("pods"))? {
                    Event::Applied(pod) => sched.pod_applied(&pod, Instant::now()),
                    Event::Deleted(_) => {}
                    Event::Synced => break Ok::<(), Error>(()),
                }
            }
        } => synced?,
        _ = &mut shutdown => return Ok(()),
    }
    tracing::info!(
        nodes = sched.cache.nodes().len(),
        pending = sched.pending_count(),
        name = %config.scheduler_name,
        "scheduler started"
    );

    let writer = writer::Writer::new(client, &config.scheduler_name);
    let bindings = Arc::new(Semaphore::new(config.parallelism as usize));
    let (done_tx, mut done_rx) = mpsc::unbounded_channel::<writer::BindResult>();
    let mut leftover = tokio::time::interval(config.unschedulable_flush_interval);
    leftover.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);

    loop {
        sched.queue.flush_backoff(Instant::now());
        let ready = sched.queue.has_active();
        let wake = sched.queue.next_backoff_expiry();
        // Events first: each decision should see every change already delivered.
        tokio::select! {
            biased;
            _ = &mut shutdown => break,
            ev = nodes.events.recv() => match ev.ok_or(Error::InformerStopped("nodes"))? {
                Event::Applied(node) => sched.node_applied(&node, Instant::now()),
                Event::Deleted(node) => sched.node_deleted(&node),
                Event::Synced => {}
            },
            ev = pods.events.recv() => match ev.ok_or(Error::InformerStopped("pods"))? {
                Event::Applied(pod) => sched.pod_applied(&pod, Instant::now()),
                Event::Deleted(pod) => sched.pod_deleted(&pod, Instant::now()),
                Event::Synced => {}
            },
            ev = claims.events.recv() => match ev.ok_or(Error::InformerStopped("persistentvolumeclaims"))? {
                Event::Applied(pvc) => sched.claim_applied(&pvc, Instant::now()),
                Event::Deleted(pvc) => sched.claim_deleted(&pvc),
                Event::Synced => {}
            },
            ev = classes.events.recv() => match ev.ok_or(Error::InformerStopped("storageclasses"))? {
                Event::Applied(class) => sched.class_applied(&class, Instant::now()),
                Event::Deleted(class) => sched.class_deleted(&class),
                Event::Synced => {}
            },
            ev = volumes.events.recv() => match ev.ok_or(Error::InformerStopped("persistentvolumes"))? {
                Event::Applied(pv) => sched.volume_applied(&pv, Instant::now()),
                Event::Deleted(pv) => sched.volume_deleted(&pv),
                Event::Synced => {}
            },
            Some((key, ok)) = done_rx.recv() => sched.binding_finished(&key, ok, Instant::now()),
            _ = leftover.tick() => {
                sched.flush_unschedulable_leftover(Instant::now(), config.pod_max_in_unschedulable_pods_duration);
            }
            permit = bindings.clone().acquire_owned(), if ready => {
                let permit = permit.expect("the semaphore is never closed");
                if let Some(decision) = sched.schedule_next(Instant::now()) {
                    writer.spawn(decision, permit, done_tx.clone());
                }
            }
            _ = tokio::time::sleep_until(wake.unwrap_or_else(Instant::now)), if wake.is_some() => {}
        }
    }
    // Let bindings in flight finish, so no pod is left half-handled by a clean stop.
    let _ = tokio::time::timeout(Duration::from_secs(5), bindings.acquire_many(config.parallelism)).await;
    tracing::info!("scheduler stopped");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[test]
    fn flags_default_as_kube_scheduler() {
        let c = Config::try_parse_from(["scheduler"]).unwrap();
        assert_eq!(c.server, "http://127.0.0.1:6443");
        assert_eq!(c.scheduler_name, "default-scheduler");
        assert_eq!(c.percentage_of_nodes_to_score, 0);
        assert_eq!(c.parallelism, 16);
        assert_eq!((c.pod_initial_backoff, c.pod_max_backoff), (Duration::from_secs(1), Duration::from_secs(10)));
        assert_eq!(c.pod_max_in_unschedulable_pods_duration, Duration::from_secs(300));
        assert!(Config::try_parse_from(["scheduler", "--percentage-of-nodes-to-score", "101"]).is_err());
    }
}
