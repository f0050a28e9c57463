//! Exponential backoff for restarting crashed containers (CrashLoopBackOff)
//! and for pulling images (ImagePullBackOff), as Kubernetes' flowcontrol
//! backoff: it starts at the initial delay, doubles with every restart up to
//! the maximum, and starts over once the last restart is more than twice the
//! maximum ago (with the defaults: a container that ran 10 minutes is forgiven).

use jiff::Timestamp;
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    pub initial: Duration,
    pub max: Duration,
}

impl Default for Policy {
    fn default() -> Self {
        Self { initial: Duration::from_secs(10), max: Duration::from_secs(300) }
    }
}

/// The backoff of one key (one container, or one container's image).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Backoff {
    /// The current delay and when it was last moved on.
    entry: Option<(Duration, Timestamp)>,
}

impl Backoff {
    fn expired(&self, event_time: Timestamp, policy: Policy) -> bool {
        match self.entry {
            None => true,
            Some((_, last)) => Duration::try_from(event_time.duration_since(last)).is_ok_and(|d| d > policy.max * 2),
        }
    }

    /// The delay to wait now (after the last `next`).
    pub fn delay(&self) -> Duration {
        self.entry.map(|(d, _)| d).unwrap_or_default()
    }

    /// While in backoff counted from `event_time` (a container's exit): how long
    /// is left. None when it may restart now.
    pub fn remaining_since(&self, event_time: Timestamp, now: Timestamp, policy: Policy) -> Option<Duration> {
        if self.expired(event_time, policy) {
            return None;
        }
        let elapsed = Duration::try_from(now.duration_since(event_time)).unwrap_or(Duration::ZERO);
        self.delay().checked_sub(elapsed).filter(|d| !d.is_zero())
    }

    /// Like `remaining_since`, counted from the last `next` (image pulls).
    pub fn remaining_since_update(&self, now: Timestamp, policy: Policy) -> Option<Duration> {
        let (_, last) = self.entry?;
        self.remaining_since(last, now, policy)
    }

    /// Records a restart at `now` of something that stopped at `event_time`:
    /// the delay starts over if the last restart expired, else doubles.
    pub fn next(&mut self, event_time: Timestamp, now: Timestamp, policy: Policy) {
        let delay = if self.expired(event_time, policy) { policy.initial } else { (self.delay() * 2).min(policy.max) };
        self.entry = Some((delay, now));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: i64) -> Timestamp {
        Timestamp::from_second(1_700_000_000 + secs).unwrap()
    }

    #[test]
    fn delays_double_up_to_the_cap() {
        let policy = Policy::default();
        let mut b = Backoff::default();
        let mut seen = Vec::new();
        for t in 0..8 {
            b.next(at(t), at(t), policy);
            seen.push(b.delay().as_secs());
        }
        assert_eq!(seen, [10, 20, 40, 80, 160, 300, 300, 300]);
    }

    #[test]
    fn waits_from_the_exit_and_forgives_long_runs() {
        let policy = Policy::default();
        let mut b = Backoff::default();
        assert_eq!(b.remaining_since(at(0), at(0), policy), None, "the first crash restarts at once");
        b.next(at(0), at(0), policy);
        // The restarted container crashes 2s later: it waits 10s from that exit.
        assert_eq!(b.remaining_since(at(2), at(5), policy), Some(Duration::from_secs(7)));
        assert_eq!(b.remaining_since(at(2), at(12), policy), None);
        // A container that ran for more than 10 minutes starts over at 10s.
        b.next(at(2), at(12), policy);
        assert_eq!(b.delay(), Duration::from_secs(20));
        b.next(at(12 + 601), at(12 + 601), policy);
        assert_eq!(b.delay(), Duration::from_secs(10));
    }

    #[test]
    fn pull_backoff_counts_from_the_last_attempt() {
        let policy = Policy { initial: Duration::from_secs(1), max: Duration::from_secs(4) };
        let mut b = Backoff::default();
        assert_eq!(b.remaining_since_update(at(0), policy), None);
        b.next(at(0), at(0), policy);
        assert_eq!(b.remaining_since_update(at(0), policy), Some(Duration::from_secs(1)));
        assert_eq!(b.remaining_since_update(at(1), policy), None);
    }
}
