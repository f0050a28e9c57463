//! The kubelab controller-manager: the control loops that keep the cluster's
//! actual state at what its objects ask for, as kube-controller-manager.
//!
//! Framework:
//! - [`client::informer`]: one list+watch per resource and object type (a
//!   `k8s-openapi` type, or metadata only for the garbage collector, which
//!   handles every kind alike), shared by every controller (the kubelet shares
//!   its Services and Endpoints the same way).
//! - [`runner`]: the [`Controller`] trait, the informers a controller watches
//!   with their handlers ([`Watch`](runner::Watch)), the work queue and the
//!   workers that call `reconcile(key)`.
//! - [`leader`]: leader election, so only one replica acts.
//! - [`expectations`], [`pods`]: what the pod-owning controllers share
//!   (Kubernetes' controller_utils).
//!
//! Controllers, one file each:
//! - [`replicaset`]: ReplicaSets and ReplicationControllers.
//! - [`daemonset`]: DaemonSets: a pod on every node that fits.
//! - [`deployment`]: Deployments: ReplicaSets per template, rolling updates, Recreate, history.
//! - [`garbage_collector`]: owner references: background, orphan and foreground deletion.
//! - [`statefulset`]: StatefulSets: ordinal pods with stable names, claims and DNS, ordered and rolled.
//! - [`job`]: Jobs: completions, parallelism, backoff, deadlines.
//! - [`cronjob`]: CronJobs: a Job per cron schedule time, concurrency policy, history limits.
//! - [`namespace`]: empties a deleted namespace, then lets it go.
//! - [`node_lifecycle`]: marks silent nodes Unknown and taints them.
//! - [`taint_eviction`]: evicts pods from nodes whose NoExecute taints they stop tolerating.
//! - [`podgc`]: force-deletes pods that no kubelet will ever finish deleting.
//! - [`endpoints`]: Endpoints follow the ready pods a Service selects.
//! - [`service_lb`]: LoadBalancer services get the Ready nodes' IPs (k3s's ServiceLB).
//! - [`volume`]: binds claims to persistent volumes, provisions hostPath volumes, releases and protects them.
//!
//! Adding a controller: a file with a struct implementing `Controller`, built
//! from a [`Context`], and a row in [`CONTROLLERS`].

pub mod clock;
pub mod cronjob;
pub mod daemonset;
pub mod deployment;
pub mod endpoints;
pub mod expectations;
pub mod garbage_collector;
pub mod job;
pub mod leader;
pub mod namespace;
pub mod node_lifecycle;
pub mod podgc;
pub mod pods;
pub mod replicaset;
pub mod runner;
pub mod service_lb;
pub mod statefulset;
pub mod taint_eviction;
#[cfg(test)]
mod testing;
pub mod volume;

use client::informer::InformerFactory;
use clock::Clock;
use runner::Controller;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

/// The controller-manager's flags; every one can be set by environment variable.
#[derive(Debug, Clone, clap::Parser)]
#[command(name = "controller-manager", about = "The kubelab controller-manager: the cluster's control loops")]
pub struct Config {
    /// The apiserver to talk to.
    #[arg(long, env = "APISERVER", default_value = "http://127.0.0.1:6443")]
    pub server: String,
    /// Controllers to run: `*` runs every controller, `name` enables one, `-name`
    /// disables one (e.g. `*,-podgc`). Names: see `CONTROLLERS`.
    #[arg(long, env = "CONTROLLERS", value_delimiter = ',', default_value = "*")]
    pub controllers: Vec<String>,
    /// Workers per controller (objects reconciled at once).
    #[arg(long, env = "CONCURRENT_SYNCS", default_value_t = 5)]
    pub concurrent_syncs: usize,
    /// How long a node may stay silent (no Lease renewal, no status heartbeat)
    /// before it is marked Unknown.
    #[arg(long, env = "NODE_MONITOR_GRACE_PERIOD", default_value = "40s", value_parser = api::duration::parse)]
    pub node_monitor_grace_period: Duration,
    /// The grace period for a node that has never posted its status.
    #[arg(long, env = "NODE_STARTUP_GRACE_PERIOD", default_value = "60s", value_parser = api::duration::parse)]
    pub node_startup_grace_period: Duration,
    /// How often node health is checked.
    #[arg(long, env = "NODE_MONITOR_PERIOD", default_value = "5s", value_parser = api::duration::parse)]
    pub node_monitor_period: Duration,
    /// How long pods stay on an unreachable or not-ready node before eviction,
    /// for pods that tolerate it only by the default 300 s tolerations (see taint_eviction).
    #[arg(long, env = "POD_EVICTION_TIMEOUT", default_value = "300s", value_parser = api::duration::parse)]
    pub pod_eviction_timeout: Duration,
    /// Run controllers only while holding the leader lease (`--leader-elect=false` to run unconditionally).
    #[arg(long, env = "LEADER_ELECT", default_value_t = true, num_args = 0..=1, default_missing_value = "true",
          action = clap::ArgAction::Set)]
    pub leader_elect: bool,
    /// How long the lease is honoured after the leader's last renewal.
    #[arg(long, env = "LEADER_ELECT_LEASE_DURATION", default_value = "15s", value_parser = api::duration::parse)]
    pub leader_elect_lease_duration: Duration,
    /// How long the leader retries renewing before it gives up leading.
    #[arg(long, env = "LEADER_ELECT_RENEW_DEADLINE", default_value = "10s", value_parser = api::duration::parse)]
    pub leader_elect_renew_deadline: Duration,
    /// How often candidates try to acquire, and the leader renews.
    #[arg(long, env = "LEADER_ELECT_RETRY_PERIOD", default_value = "2s", value_parser = api::duration::parse)]
    pub leader_elect_retry_period: Duration,
    /// This replica's name in the lease (default: hostname and a random suffix).
    #[arg(long, env = "LEADER_ELECT_IDENTITY", default_value = "")]
    pub leader_elect_identity: String,
    /// The directory behind the nodes' shared paths (the kubelet's
    /// `--shared-root`), where the hostPath provisioner's volumes live: it
    /// deletes the data of a volume it made when the volume is reclaimed with
    /// policy Delete. Missing, the data stays (and the volume object goes).
    #[arg(long, env = "SHARED_ROOT", default_value = "/var/lib/kubelab/shared")]
    pub shared_root: std::path::PathBuf,
}

/// What a controller is built from.
pub struct Context {
    pub client: client::Client,
    pub factory: Arc<InformerFactory>,
    pub clock: Clock,
    pub config: Config,
}

type Build = fn(&Context) -> Arc<dyn Controller>;

/// Every controller, by the name `--controllers` knows it by.
pub const CONTROLLERS: &[(&str, Build)] = &[
    ("replicationcontroller", |ctx| Arc::new(replicaset::ReplicaSetController::replication_controllers(ctx))),
    ("replicaset", |ctx| Arc::new(replicaset::ReplicaSetController::replica_sets(ctx))),
    ("daemonset", |ctx| Arc::new(daemonset::DaemonSetController::new(ctx))),
    ("deployment", |ctx| Arc::new(deployment::DeploymentController::new(ctx))),
    ("statefulset", |ctx| Arc::new(statefulset::StatefulSetController::new(ctx))),
    ("garbagecollector", |ctx| Arc::new(garbage_collector::GarbageCollector::new(ctx))),
    ("job", |ctx| Arc::new(job::JobController::new(ctx))),
    ("cronjob", |ctx| Arc::new(cronjob::CronJobController::new(ctx))),
    ("namespace", |ctx| Arc::new(namespace::NamespaceController::new(ctx))),
    ("nodelifecycle", |ctx| Arc::new(node_lifecycle::NodeLifecycleController::new(ctx))),
    ("taint-eviction-controller", |ctx| Arc::new(taint_eviction::TaintEvictionController::new(ctx))),
    ("podgc", |ctx| Arc::new(podgc::PodGcController::new(ctx))),
    ("endpoint", |ctx| Arc::new(endpoints::EndpointsController::new(ctx))),
    ("service-lb-controller", |ctx| Arc::new(service_lb::ServiceLbController::new(ctx))),
    ("persistentvolume-binder", |ctx| Arc::new(volume::VolumeController::new(ctx))),
];

/// What is wrong with the controller-manager's flags.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{name:?} is not in the list of known controllers: {known}")]
    UnknownController { name: String, known: String },
}

/// The controllers `--controllers` selects, as kube-controller-manager reads it:
/// an exact name or `-name` decides; otherwise `*` enables.
pub fn selected_controllers(flags: &[String]) -> Result<Vec<&'static str>, Error> {
    for flag in flags {
        let name = flag.trim().trim_start_matches('-');
        if name != "*" && !CONTROLLERS.iter().any(|(n, _)| *n == name) {
            let known: Vec<&str> = CONTROLLERS.iter().map(|(n, _)| *n).collect();
            return Err(Error::UnknownController { name: name.to_string(), known: known.join(", ") });
        }
    }
    let enabled = |name: &str| {
        for flag in flags.iter().map(|f| f.trim()) {
            if flag == name {
                return true;
            }
            if flag.strip_prefix('-') == Some(name) {
                return false;
            }
        }
        flags.iter().any(|f| f.trim() == "*")
    };
    Ok(CONTROLLERS.iter().map(|(n, _)| *n).filter(|n| enabled(n)).collect())
}

/// Runs the selected controllers until `shutdown` resolves, or until this
/// replica loses the leader lease, which is an error (the process should exit
/// and be restarted as a candidate, as kube-controller-manager does).
pub async fn run(config: Config, shutdown: impl Future<Output = ()> + Send + 'static) -> anyhow::Result<()> {
    let names = selected_controllers(&config.controllers)?;
    let client = client::Client::connect_lazy(&config.server)?;
    let clock = Clock::system();
    tokio::pin!(shutdown);

    let elector = config.leader_elect.then(|| {
        let identity = match config.leader_elect_identity.as_str() {
            "" => leader::default_identity(),
            id => id.to_string(),
        };
        let election = leader::ElectionConfig {
            namespace: "kube-system".into(),
            name: "kube-controller-manager".into(),
            identity,
            lease_duration: config.leader_elect_lease_duration,
            renew_deadline: config.leader_elect_renew_deadline,
            retry_period: config.leader_elect_retry_period,
        };
        leader::LeaderElector::new(client.clone(), election, clock.clone())
    });
    if let Some(elector) = &elector {
        tokio::select! {
            _ = elector.acquire() => {}
            _ = &mut shutdown => return Ok(()),
        }
    }

    let factory = Arc::new(InformerFactory::new(client.clone()));
    let ctx = Context { client, factory: factory.clone(), clock, config: config.clone() };
    let controllers: Vec<Arc<dyn Controller>> =
        CONTROLLERS.iter().filter(|(n, _)| names.contains(n)).map(|(_, build)| build(&ctx)).collect();
    tracing::info!(controllers = ?names, "starting controllers");
    factory.start();

    let (stop, stopped) = tokio::sync::watch::channel(false);
    let mut running = tokio::task::JoinSet::new();
    for controller in controllers {
        let mut stopped = stopped.clone();
        running.spawn(runner::run(controller, config.concurrent_syncs, async move {
            let _ = stopped.wait_for(|s| *s).await;
        }));
    }
    let lost = async {
        match &elector {
            Some(elector) => elector.renew_until_lost().await,
            None => std::future::pending().await,
        }
    };
    let outcome = tokio::select! {
        _ = lost => Err(anyhow::anyhow!("leaderelection lost")),
        _ = &mut shutdown => Ok(()),
    };
    stop.send_replace(true);
    while running.join_next().await.is_some() {}
    if outcome.is_ok() {
        if let Some(elector) = &elector {
            elector.release().await;
        }
    }
    outcome
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[test]
    fn defaults_are_kubernetes_defaults() {
        let c = Config::try_parse_from(["controller-manager"]).unwrap();
        assert_eq!(c.server, "http://127.0.0.1:6443");
        assert_eq!(c.node_monitor_grace_period, Duration::from_secs(40));
        assert_eq!(c.pod_eviction_timeout, Duration::from_secs(300));
        assert_eq!(c.node_monitor_period, Duration::from_secs(5));
        assert!(c.leader_elect);
        assert_eq!(
            (c.leader_elect_lease_duration, c.leader_elect_renew_deadline, c.leader_elect_retry_period),
            (Duration::from_secs(15), Duration::from_secs(10), Duration::from_secs(2))
        );
        assert_eq!(c.concurrent_syncs, 5);
        let off =
            Config::try_parse_from(["controller-manager", "--leader-elect=false", "--pod-eviction-timeout", "10s"])
                .unwrap();
        assert!(!off.leader_elect);
        assert_eq!(off.pod_eviction_timeout, Duration::from_secs(10));
        assert!(Config::try_parse_from(["controller-manager", "--leader-elect"]).unwrap().leader_elect);
        assert!(Config::try_parse_from(["controller-manager", "--pod-eviction-timeout", "soon"]).is_err());
    }

    #[test]
    fn controllers_are_selected_as_kube_controller_manager_does() {
        let all = selected_controllers(&["*".into()]).unwrap();
        assert_eq!(all.len(), CONTROLLERS.len());
        let some = selected_controllers(&["*".into(), "-replicationcontroller".into()]).unwrap();
        assert!(!some.contains(&"replicationcontroller") && some.contains(&"replicaset"));
        assert_eq!(selected_controllers(&["replicaset".into()]).unwrap(), ["replicaset"]);
        let err = selected_controllers(&["replicasets".into()]).unwrap_err().to_string();
        assert!(err.starts_with("\"replicasets\" is not in the list of known controllers"), "{err}");
    }
}
