//! Wall-clock time for the controllers (Kubernetes' time formats are `api::time`).
//!
//! Leases, node heartbeats, taint times and grace periods are wall-clock
//! timestamps. In production "now" is the system clock. Tests use a manual
//! clock that only moves when told, as client-go's fake clock: the in-process
//! apiserver they talk to does real network I/O, which tokio's paused time
//! cannot wait for without jumping ahead, so timing decisions read this clock
//! while sleeps stay short and real.

use jiff::{SignedDuration, Timestamp};
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct Clock {
    /// None: the system clock. Some: a time that moves only by [`Clock::advance`].
    manual: Option<Arc<Mutex<Timestamp>>>,
}

impl Clock {
    pub fn system() -> Self {
        Self { manual: None }
    }

    /// A clock stopped at the current wall time until advanced.
    pub fn manual() -> Self {
        Self { manual: Some(Arc::new(Mutex::new(Timestamp::now()))) }
    }

    /// Moves a manual clock forward (a system clock ignores this).
    pub fn advance(&self, by: Duration) {
        if let Some(t) = &self.manual {
            let mut t = t.lock().expect("clock lock");
            *t = t.checked_add(SignedDuration::try_from(by).unwrap_or(SignedDuration::MAX)).unwrap_or(*t);
        }
    }

    pub fn now(&self) -> Timestamp {
        match &self.manual {
            None => Timestamp::now(),
            Some(t) => *t.lock().expect("clock lock"),
        }
    }

    /// How long until `t` (zero when it has passed).
    pub fn until(&self, t: Timestamp) -> Duration {
        Duration::try_from(t.duration_since(self.now())).unwrap_or(Duration::ZERO)
    }

    /// How long since `t` (zero for times in the future).
    pub fn since(&self, t: Timestamp) -> Duration {
        Duration::try_from(self.now().duration_since(t)).unwrap_or(Duration::ZERO)
    }
}

/// Adds whole seconds to a timestamp, saturating instead of failing.
pub fn add_secs(t: Timestamp, secs: i64) -> Timestamp {
    t.checked_add(SignedDuration::from_secs(secs)).unwrap_or(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manual_clock_moves_only_when_advanced() {
        let clock = Clock::manual();
        let start = clock.now();
        std::thread::sleep(Duration::from_millis(5));
        assert_eq!(clock.now(), start);
        clock.clone().advance(Duration::from_secs(41));
        assert_eq!(clock.since(start), Duration::from_secs(41), "clones share the time");
        assert_eq!(clock.until(add_secs(start, 50)), Duration::from_secs(9));
        assert_eq!(clock.until(start), Duration::ZERO);
    }
}
