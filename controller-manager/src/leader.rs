//! Leader election on a `coordination.k8s.io/v1` Lease, as client-go's
//! leaderelection package: only the holder of `kube-system/kube-controller-manager`
//! runs controllers, so two replicas never fight over the same objects.
//!
//! A candidate reads the Lease; if another identity holds it and the lease has
//! not expired, it waits. Expiry is measured from when *this* candidate last
//! saw the record change, on its own clock, never by comparing the holder's
//! `renewTime` with local time, so clock skew between machines cannot make
//! two leaders. Every write carries the Lease's resourceVersion, so of two
//! candidates racing for an expired lease exactly one wins. The leader renews
//! every retry period; if it cannot renew for a whole renew deadline it has
//! lost the lease and must stop (kube-controller-manager exits).

use crate::clock::{add_secs, Clock};
use api::k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use api::k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use api::ApiError;
use client::events::reference_to;
use client::events::{EventRecorder, EventType};
use client::{Api, Client, Object};
use std::sync::Mutex;
use std::time::Duration;
use tokio::time::Instant;

#[derive(Debug, Clone)]
pub struct ElectionConfig {
    pub namespace: String,
    pub name: String,
    pub identity: String,
    /// How long a lease is honoured after its holder's last renewal was seen.
    pub lease_duration: Duration,
    /// How long the leader keeps trying to renew before it gives up leading.
    pub renew_deadline: Duration,
    /// How often candidates try to acquire and the leader renews.
    pub retry_period: Duration,
}

/// The leader election record, as client-go's `LeaderElectionRecord`.
#[derive(Debug, Clone, PartialEq, Default)]
struct Record {
    holder: String,
    lease_duration_seconds: i32,
    acquire_time: Option<MicroTime>,
    renew_time: Option<MicroTime>,
    transitions: i32,
}

impl Record {
    fn from_lease(lease: &Lease) -> Self {
        let Some(spec) = &lease.spec else { return Self::default() };
        Self {
            holder: spec.holder_identity.clone().unwrap_or_default(),
            lease_duration_seconds: spec.lease_duration_seconds.unwrap_or(0),
            acquire_time: spec.acquire_time.clone(),
            renew_time: spec.renew_time.clone(),
            transitions: spec.lease_transitions.unwrap_or(0),
        }
    }

    fn spec(&self) -> LeaseSpec {
        LeaseSpec {
            holder_identity: Some(self.holder.clone()),
            lease_duration_seconds: Some(self.lease_duration_seconds),
            acquire_time: self.acquire_time.clone(),
            renew_time: self.renew_time.clone(),
            lease_transitions: Some(self.transitions),
            ..Default::default()
        }
    }
}

/// The record as last seen, and when (on this candidate's clock) it last changed.
struct Observed {
    record: Record,
    at: jiff::Timestamp,
}

pub struct LeaderElector {
    client: Client,
    config: ElectionConfig,
    clock: Clock,
    observed: Mutex<Option<Observed>>,
    recorder: EventRecorder,
}

impl LeaderElector {
    pub fn new(client: Client, config: ElectionConfig, clock: Clock) -> Self {
        let recorder = EventRecorder::new(client.clone(), "kube-controller-manager", "");
        Self { client, config, clock, observed: Mutex::new(None), recorder }
    }

    pub fn identity(&self) -> &str {
        &self.config.identity
    }

    /// Whether the last record this candidate saw (or wrote) names it.
    pub fn is_leader(&self) -> bool {
        self.observed.lock().expect("observed lock").as_ref().is_some_and(|o| o.record.holder == self.config.identity)
    }

    fn observe(&self, record: Record) {
        let mut observed = self.observed.lock().expect("observed lock");
        if observed.as_ref().is_none_or(|o| o.record != record) {
            *observed = Some(Observed { record, at: self.clock.now() });
        }
    }

    /// Whether the lease last seen is still honoured.
    fn lease_valid(&self) -> bool {
        let observed = self.observed.lock().expect("observed lock");
        observed.as_ref().is_some_and(|o| add_secs(o.at, o.record.lease_duration_seconds.into()) > self.clock.now())
    }

    /// Now, as a MicroTime holds it (to the microsecond, as stored), so a
    /// record written and the same record read back compare equal.
    fn micro_now(&self) -> MicroTime {
        let now = self.clock.now();
        MicroTime(jiff::Timestamp::from_microsecond(now.as_microsecond()).unwrap_or(now))
    }

    fn leases(&self) -> Api<Lease> {
        Api::namespaced(&self.client, &self.config.namespace)
    }

    /// One attempt to take or keep the lease; true when this candidate holds it now.
    pub async fn try_acquire_or_renew(&self) -> bool {
        match self.attempt().await {
            Ok(held) => held,
            Err(e) => {
                tracing::debug!(lease = %self.config.name, error = %e, "leader election attempt failed");
                false
            }
        }
    }

    async fn attempt(&self) -> Result<bool, ApiError> {
        let now = self.micro_now();
        let mut record = Record {
            holder: self.config.identity.clone(),
            lease_duration_seconds: self.config.lease_duration.as_secs().clamp(1, i32::MAX as u64) as i32,
            acquire_time: Some(now.clone()),
            renew_time: Some(now),
            transitions: 0,
        };
        let (namespace, name) = (&self.config.namespace, &self.config.name);
        let mut lease = match self.leases().get(name).await {
            Ok(lease) => lease,
            Err(e) if e.is_not_found() => {
                let lease = Lease {
                    metadata: ObjectMeta {
                        name: Some(name.clone()),
                        namespace: Some(namespace.clone()),
                        ..Default::default()
                    },
                    spec: Some(record.spec()),
                };
                let created = self.leases().create(&lease).await?;
                self.observe(record);
                self.became_leader(&created).await;
                return Ok(true);
            }
            Err(e) => return Err(e),
        };
        let old = Record::from_lease(&lease);
        self.observe(old.clone());
        let was_leader = self.is_leader();
        if !old.holder.is_empty() && self.lease_valid() && !was_leader {
            return Ok(false);
        }
        if was_leader {
            record.acquire_time = old.acquire_time;
            record.transitions = old.transitions;
        } else {
            record.transitions = old.transitions + 1;
        }
        lease.spec = Some(record.spec());
        let updated = self.leases().update(&lease).await?;
        self.observe(record);
        if !was_leader {
            self.became_leader(&updated).await;
        }
        Ok(true)
    }

    async fn became_leader(&self, lease: &Lease) {
        tracing::info!(identity = %self.config.identity, lease = lease.name(), "became leader");
        let message = format!("{} became leader", self.config.identity);
        self.recorder.record(&reference_to(lease), EventType::Normal, "LeaderElection", &message).await;
    }

    /// Waits until this candidate holds the lease.
    pub async fn acquire(&self) {
        tracing::info!(identity = %self.config.identity, "attempting to acquire the leader lease {}/{}",
            self.config.namespace, self.config.name);
        loop {
            if self.try_acquire_or_renew().await {
                return;
            }
            tokio::time::sleep(jittered(self.config.retry_period)).await;
        }
    }

    /// Keeps renewing; returns once a renewal has failed for a whole renew deadline
    /// (or another candidate took the lease): leadership is lost. The deadline
    /// is real elapsed time, as client-go's context timeout.
    pub async fn renew_until_lost(&self) {
        loop {
            let deadline = Instant::now() + self.config.renew_deadline;
            let renewed = loop {
                if self.try_acquire_or_renew().await {
                    break true;
                }
                if Instant::now() + self.config.retry_period > deadline {
                    break false;
                }
                tokio::time::sleep(self.config.retry_period).await;
            };
            if !renewed {
                tracing::error!(identity = %self.config.identity, "leaderelection lost");
                return;
            }
            tokio::time::sleep(self.config.retry_period).await;
        }
    }

    /// Gives the lease up (on a clean shutdown) so another replica need not wait
    /// for it to expire: an empty holder and a one-second duration, as client-go's
    /// ReleaseOnCancel.
    pub async fn release(&self) {
        if !self.is_leader() {
            return;
        }
        let transitions = self.observed.lock().expect("observed lock").as_ref().map_or(0, |o| o.record.transitions);
        let now = self.micro_now();
        let record = Record {
            holder: String::new(),
            lease_duration_seconds: 1,
            acquire_time: Some(now.clone()),
            renew_time: Some(now),
            transitions,
        };
        let result: Result<(), ApiError> = async {
            let mut lease = self.leases().get(&self.config.name).await?;
            if Record::from_lease(&lease).holder != self.config.identity {
                return Ok(());
            }
            lease.spec = Some(record.spec());
            self.leases().update(&lease).await.map(drop)
        }
        .await;
        match result {
            Ok(()) => {
                self.observe(record);
                tracing::info!(identity = %self.config.identity, "released the leader lease");
            }
            Err(e) => tracing::warn!(error = %e, "releasing the leader lease failed"),
        }
    }
}

/// client-go waits `retryPeriod * (1 + up to 1.2)` between acquisition attempts,
/// so candidates that start together do not keep colliding.
fn jittered(period: Duration) -> Duration {
    period.mul_f64(1.0 + rand::random::<f64>() * 1.2)
}

/// `hostname_<random>`, as kube-controller-manager's default identity: unique per
/// process even when two replicas share a host name.
pub fn default_identity() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "controller-manager".into());
    format!("{host}_{:016x}", rand::random::<u64>())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::TestApi;
    use std::sync::Arc;

    fn leases() -> &'static api::ResourceInfo {
        <Lease as client::Resource>::info()
    }

    /// Kubernetes' durations for the lease; real waits are kept short, and the
    /// manual clock stands for the time that passes.
    fn config(identity: &str) -> ElectionConfig {
        ElectionConfig {
            namespace: "kube-system".into(),
            name: "kube-controller-manager".into(),
            identity: identity.into(),
            lease_duration: Duration::from_secs(15),
            renew_deadline: Duration::from_millis(300),
            retry_period: Duration::from_millis(20),
        }
    }

    async fn lease(api: &TestApi) -> Record {
        Record::from_lease(&Api::namespaced(&api.client, "kube-system").get("kube-controller-manager").await.unwrap())
    }

    #[tokio::test]
    async fn a_second_replica_waits_and_takes_over_when_the_leader_stops_renewing() {
        let api = TestApi::start().await;
        let clock = Clock::manual();
        let a = LeaderElector::new(api.client.clone(), config("a"), clock.clone());
        let b = Arc::new(LeaderElector::new(api.client.clone(), config("b"), clock.clone()));
        a.acquire().await;
        let first = lease(&api).await;
        assert_eq!((first.holder.as_str(), first.lease_duration_seconds, first.transitions), ("a", 15, 0));
        let stored = api.client.get(leases(), "kube-system", "kube-controller-manager").await.unwrap();
        let renew_time = &stored["spec"]["renewTime"];
        assert!(renew_time.as_str().is_some_and(|t| t.contains('.')), "renewTime is a MicroTime: {stored}");

        let waiting = tokio::spawn({
            let b = b.clone();
            async move { b.acquire().await }
        });
        // a renews while time passes: b keeps waiting.
        for _ in 0..5 {
            clock.advance(Duration::from_secs(10));
            assert!(a.try_acquire_or_renew().await);
            tokio::time::sleep(Duration::from_millis(60)).await;
        }
        assert!(!waiting.is_finished(), "b must not lead while a renews");
        assert_ne!(lease(&api).await.renew_time, first.renew_time, "a renewed");

        // a stops renewing (it died): b waits out the lease, then takes it.
        clock.advance(Duration::from_secs(14));
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(!waiting.is_finished(), "the lease has not expired yet");
        clock.advance(Duration::from_secs(2));
        tokio::time::timeout(Duration::from_secs(5), waiting).await.expect("b took over").unwrap();
        let taken = lease(&api).await;
        assert_eq!((taken.holder.as_str(), taken.transitions), ("b", 1));
        assert!(b.is_leader());
        assert!(!a.try_acquire_or_renew().await, "a, back, finds b leading and waits");
    }

    #[tokio::test]
    async fn a_leader_that_cannot_renew_gives_up_within_the_renew_deadline() {
        let api = TestApi::start().await;
        let a = LeaderElector::new(api.client.clone(), config("a"), Clock::manual());
        a.acquire().await;
        // Another writer holds the lease now (as a partitioned leader finds on its return).
        let mut stolen = api.client.get(leases(), "kube-system", "kube-controller-manager").await.unwrap();
        stolen["spec"]["holderIdentity"] = "intruder".into();
        api.client.update(leases(), "kube-system", &stolen).await.unwrap();
        let start = Instant::now();
        tokio::time::timeout(Duration::from_secs(5), a.renew_until_lost()).await.expect("a gave up");
        assert!(start.elapsed() >= Duration::from_millis(250), "a retried until the deadline: {:?}", start.elapsed());
        assert!(!a.is_leader());
    }

    #[tokio::test]
    async fn releasing_lets_the_next_replica_lead_at_once() {
        let api = TestApi::start().await;
        let clock = Clock::manual();
        let a = LeaderElector::new(api.client.clone(), config("a"), clock.clone());
        let b = LeaderElector::new(api.client.clone(), config("b"), clock);
        a.acquire().await;
        assert!(!b.try_acquire_or_renew().await);
        a.release().await;
        assert!(b.try_acquire_or_renew().await, "an empty holder is free to take");
        let record = lease(&api).await;
        assert_eq!((record.holder.as_str(), record.transitions, record.lease_duration_seconds), ("b", 1, 15));
    }
}
