//! Deletes Events older than `--event-ttl` (1 h by default), counted from
//! their last occurrence. Kubernetes stores Events in etcd under a lease with
//! that TTL, refreshed by each update; kubelab sweeps periodically instead.

use crate::clock::{parse_time, Clock};
use crate::runner::{Action, Controller, Result};
use crate::Context;
use api::{meta, registry, ResourceInfo};
use client::informer::{Change, SharedInformer};
use client::queue::WorkQueue;
use client::{Client, ListParams};
use jiff::Timestamp;
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;

/// The one key this controller queues: a sweep over every Event.
const SWEEP: &str = "events";

fn events() -> &'static ResourceInfo {
    registry::lookup("events").expect("events are registered")
}

/// When an Event last happened: its last occurrence, else its first, else its creation.
pub fn last_seen(event: &Value) -> Option<Timestamp> {
    [&event["series"]["lastObservedTime"], &event["lastTimestamp"], &event["eventTime"], &event["firstTimestamp"]]
        .into_iter()
        .find_map(parse_time)
        .or_else(|| meta::parse_time(meta::creation_timestamp(event)))
}

pub struct EventTtlController {
    client: Client,
    clock: Clock,
    ttl: Duration,
}

impl EventTtlController {
    pub fn new(ctx: &Context) -> Self {
        Self { client: ctx.client.clone(), clock: ctx.clock.clone(), ttl: ctx.config.event_ttl }
    }
}

#[async_trait::async_trait]
impl Controller for EventTtlController {
    fn name(&self) -> &'static str {
        "eventttl"
    }

    fn informers(&self) -> Vec<Arc<SharedInformer>> {
        vec![]
    }

    fn handle(&self, _: &'static ResourceInfo, _: &Change, _: &WorkQueue) {}

    fn resync(&self, queue: &WorkQueue) {
        queue.add(SWEEP);
    }

    /// A tenth of the TTL, between a second and a minute: expired Events linger at
    /// most that much longer than the TTL.
    fn resync_period(&self) -> Option<Duration> {
        Some((self.ttl / 10).clamp(Duration::from_secs(1), Duration::from_secs(60)))
    }

    async fn reconcile(&self, _: &str) -> Result<Action> {
        let list = self.client.list(events(), "", &ListParams::default()).await?;
        let mut expired = 0;
        for event in list["items"].as_array().into_iter().flatten() {
            if last_seen(event).is_none_or(|t| self.clock.since(t) <= self.ttl) {
                continue;
            }
            match self.client.delete(events(), meta::namespace(event), meta::name(event), &Default::default()).await {
                Ok(_) => expired += 1,
                Err(e) if e.is_not_found() => {}
                Err(e) => return Err(e.into()),
            }
        }
        if expired > 0 {
            tracing::info!(expired, "deleted expired events");
        }
        Ok(Action::Done)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{self, TestApi};
    use serde_json::json;

    fn event(name: &str, last: Timestamp) -> Value {
        let t = crate::clock::format_time(last);
        json!({"apiVersion": "v1", "kind": "Event", "metadata": {"name": name, "namespace": "default"},
               "involvedObject": {"kind": "Pod", "name": "kubia", "namespace": "default"},
               "reason": "Started", "message": "Started container", "type": "Normal",
               "firstTimestamp": t, "lastTimestamp": t, "count": 1})
    }

    #[tokio::test]
    async fn events_are_deleted_an_hour_after_they_last_happened() {
        let api = TestApi::start().await;
        let clock = Clock::manual();
        let now = clock.now();
        api.create(event("old", crate::clock::add_secs(now, -3601))).await;
        api.create(event("recent", crate::clock::add_secs(now, -3000))).await;
        let ctx = api.context(testing::config(), clock.clone());
        let _running = testing::run_controller(&ctx, Arc::new(EventTtlController::new(&ctx)));
        api.eventually("the old event is gone", || async { api.get("events", "default", "old").await.is_none() }).await;
        assert!(api.get("events", "default", "recent").await.is_some());
        clock.advance(Duration::from_secs(601));
        // The next sweep (at most a minute later) finds the other one expired too; trigger it sooner here.
        let sweeper = EventTtlController::new(&ctx);
        sweeper.reconcile(SWEEP).await.unwrap();
        assert!(api.get("events", "default", "recent").await.is_none());
    }
}
