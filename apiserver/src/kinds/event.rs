//! Event: kept for `--event-ttl` (an hour by default) after its last write, as
//! kube-apiserver stores Events under etcd leases, so etcd deletes them itself
//! and each update starts the time again. Validation (`involvedObject.namespace`
//! must match the Event's namespace) is in `api::validation`.
//!
//! Events are half of the create hot path (`bench api`): like pods they stay
//! raw JSON through the registry, see `crate::registry`.

use crate::strategy::Strategy;
use api::ResourceInfo;
use std::time::Duration;

pub struct EventStrategy {
    /// Zero keeps Events until deleted.
    ttl: Duration,
}

impl EventStrategy {
    pub fn new(ttl: Duration) -> Self {
        Self { ttl }
    }
}

impl Strategy for EventStrategy {
    fn info(&self) -> &'static ResourceInfo {
        super::lookup("events")
    }

    fn ttl(&self) -> Option<Duration> {
        (!self.ttl.is_zero()).then_some(self.ttl)
    }
}
