//! Wall-clock time for the kubelet, and Kubernetes' time formats.
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

/// `metav1.Time`: `2021-10-27T07:33:55Z`.
pub fn format_time(t: Timestamp) -> String {
    t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// `metav1.MicroTime` (Lease renewTime, Event series): `2021-10-27T07:33:55.123456Z`.
pub fn format_micro_time(t: Timestamp) -> String {
    t.strftime("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

/// A duration as Go's `time.Duration.String()` prints it (`10s`, `1m20s`,
/// `5m0s`, `1.5s`, `250ms`), the form Kubernetes' messages carry.
pub fn go_duration(d: Duration) -> String {
    if d.is_zero() {
        return "0s".into();
    }
    let nanos = d.as_nanos();
    if nanos < 1_000 {
        return format!("{nanos}ns");
    }
    if nanos < 1_000_000 {
        return format!("{}µs", trim_fraction(nanos, 1_000));
    }
    if nanos < 1_000_000_000 {
        return format!("{}ms", trim_fraction(nanos, 1_000_000));
    }
    let secs = d.as_secs();
    let (h, m, s) = (secs / 3600, (secs / 60) % 60, secs % 60);
    let sec_part = trim_fraction(u128::from(s) * 1_000_000_000 + u128::from(d.subsec_nanos()), 1_000_000_000);
    match (h, m) {
        (0, 0) => format!("{sec_part}s"),
        (0, m) => format!("{m}m{sec_part}s"),
        (h, m) => format!("{h}h{m}m{sec_part}s"),
    }
}

/// `value / unit` with the remainder as a decimal fraction without trailing zeros.
fn trim_fraction(value: u128, unit: u128) -> String {
    let (whole, rest) = (value / unit, value % unit);
    if rest == 0 {
        return whole.to_string();
    }
    let width = unit.to_string().len() - 1;
    let frac = format!("{rest:0width$}");
    format!("{whole}.{}", frac.trim_end_matches('0'))
}

/// Parses Kubernetes-style durations for flags: `300ms`, `10s`, `5m`, `1h30m`.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let span: jiff::Span = s.parse().map_err(|e| format!("invalid duration {s:?}: {e}"))?;
    let d = SignedDuration::try_from(span).map_err(|e| format!("invalid duration {s:?}: {e}"))?;
    Duration::try_from(d).map_err(|_| format!("invalid duration {s:?}: must not be negative"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_print_as_go_does() {
        let cases = [
            (Duration::from_secs(10), "10s"),
            (Duration::from_secs(80), "1m20s"),
            (Duration::from_secs(300), "5m0s"),
            (Duration::from_secs(3725), "1h2m5s"),
            (Duration::from_millis(1500), "1.5s"),
            (Duration::from_millis(250), "250ms"),
            (Duration::ZERO, "0s"),
        ];
        for (d, want) in cases {
            assert_eq!(go_duration(d), want);
        }
    }

    #[test]
    fn flags_take_kubernetes_durations() {
        assert_eq!(parse_duration("10s").unwrap(), Duration::from_secs(10));
        assert_eq!(parse_duration("5m").unwrap(), Duration::from_secs(300));
        assert_eq!(parse_duration("300ms").unwrap(), Duration::from_millis(300));
        assert_eq!(parse_duration("1h30m").unwrap(), Duration::from_secs(5400));
        assert!(parse_duration("soon").is_err());
    }

    #[test]
    fn times_have_kubernetes_shapes() {
        let t: Timestamp = "2021-10-27T07:33:55.123456789Z".parse().unwrap();
        assert_eq!(format_time(t), "2021-10-27T07:33:55Z");
        assert_eq!(format_micro_time(t), "2021-10-27T07:33:55.123456Z");
    }

    #[tokio::test(start_paused = true)]
    async fn the_tokio_clock_follows_paused_time() {
        let clock = Clock::tokio();
        let start = clock.now();
        tokio::time::advance(Duration::from_secs(90)).await;
        assert_eq!(clock.since(start), Duration::from_secs(90));
    }
}
