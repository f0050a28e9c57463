//! Wall-clock time for the kubelet (written in objects through `api::time`).
//!
//! Status timestamps, CrashLoopBackOff windows and probe delays all compare
//! wall-clock times (a container's `finishedAt` against "now"). In production
//! that is the system clock; tests run on tokio's paused clock, so the
//! [`Clock::tokio`] variant derives wall time from `tokio::time::Instant`,
//! which makes `tokio::time::advance` move every timestamp the kubelet sees.

use jiff::{SignedDuration, Timestamp};
use std::time::Duration;

#[derive(Debug, Clone, Copy)]
pub struct Clock {
    /// None: the system clock. Some: wall time = anchor + tokio time elapsed since it.
    anchor: Option<(tokio::time::Instant, Timestamp)>,
}

impl Clock {
    pub fn system() -> Self {
        Self { anchor: None }
    }

    /// A clock driven by tokio's (possibly paused) time, starting at the current wall time.
    pub fn tokio() -> Self {
        Self { anchor: Some((tokio::time::Instant::now(), Timestamp::now())) }
    }

    pub fn now(&self) -> Timestamp {
        match self.anchor {
            None => Timestamp::now(),
            Some((instant, wall)) => {
                let elapsed = SignedDuration::try_from(instant.elapsed()).unwrap_or(SignedDuration::MAX);
                wall.checked_add(elapsed).unwrap_or(wall)
            }
        }
    }

    /// The wall time at which tokio's clock read `instant`.
    pub fn at(&self, instant: tokio::time::Instant) -> Timestamp {
        let now = tokio::time::Instant::now();
        let wall = self.now();
        match SignedDuration::try_from(now.saturating_duration_since(instant)) {
            Ok(ago) => wall.checked_sub(ago).unwrap_or(wall),
            Err(_) => wall,
        }
    }

    /// How long ago `t` was (zero for times in the future).
    pub fn since(&self, t: Timestamp) -> Duration {
        let d = self.now().duration_since(t);
        Duration::try_from(d).unwrap_or(Duration::ZERO)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_have_kubernetes_shapes() {
        // The kubelet writes its clock's times through `api::time`.
        let t: Timestamp = "2021-10-27T07:33:55.123456789Z".parse().unwrap();
        assert_eq!(api::time::format(t), "2021-10-27T07:33:55Z");
        assert_eq!(api::time::format_micro(t), "2021-10-27T07:33:55.123456Z");
    }

    #[tokio::test(start_paused = true)]
    async fn the_tokio_clock_follows_paused_time() {
        let clock = Clock::tokio();
        let start = clock.now();
        tokio::time::advance(Duration::from_secs(90)).await;
        assert_eq!(clock.since(start), Duration::from_secs(90));
    }
}
