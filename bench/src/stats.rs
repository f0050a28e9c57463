//! Measurements: latency recorders backed by HDR histograms, their summaries,
//! throughput, ratios against a baseline, and the human formatting of each.
//!
//! Latencies are recorded in nanoseconds with three significant digits, so a
//! percentile is within 0.1% of the true sample whatever its magnitude, and a
//! recorder has a fixed size however many operations a phase runs. Each task
//! records into its own recorder and the phase merges them at the end, so the
//! hot path takes no lock.

use hdrhistogram::Histogram;
use std::time::Duration;

/// The longest latency recorded exactly; longer ones are clamped to it (a
/// benchmark operation that takes over a minute has failed in all but name).
const MAX_TRACKED: Duration = Duration::from_secs(60);
const SIGNIFICANT_DIGITS: u8 = 3;

/// Latency samples of one kind of operation.
#[derive(Clone)]
pub struct Latencies {
    hist: Histogram<u64>,
}

impl std::fmt::Debug for Latencies {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Latencies").field("summary", &self.summary()).finish()
    }
}

impl Default for Latencies {
    fn default() -> Self {
        Self::new()
    }
}

impl Latencies {
    pub fn new() -> Self {
        let hist = Histogram::new_with_bounds(1, nanos(MAX_TRACKED), SIGNIFICANT_DIGITS)
            .expect("static histogram bounds are valid");
        Self { hist }
    }

    pub fn record(&mut self, latency: Duration) {
        // Zero is below the histogram's lowest discernible value; a sub-nanosecond
        // sample only happens with a coarse clock and is as good as 1 ns.
        self.hist.saturating_record(nanos(latency).max(1));
    }

    /// Adds every sample of `other`.
    pub fn merge(&mut self, other: &Latencies) {
        // Both histograms share the bounds set in `new`, so adding cannot fail.
        self.hist.add(&other.hist).expect("histograms with the same bounds add");
    }

    pub fn count(&self) -> u64 {
        self.hist.len()
    }

    /// The latency at quantile `q` (0.5 for the median), zero when empty.
    pub fn quantile(&self, q: f64) -> Duration {
        if self.hist.is_empty() {
            return Duration::ZERO;
        }
        Duration::from_nanos(self.hist.value_at_quantile(q))
    }

    pub fn summary(&self) -> Summary {
        let empty = self.hist.is_empty();
        Summary {
            count: self.count(),
            p50: self.quantile(0.50),
            p90: self.quantile(0.90),
            p99: self.quantile(0.99),
            max: if empty { Duration::ZERO } else { Duration::from_nanos(self.hist.max()) },
            mean: if empty { Duration::ZERO } else { Duration::from_secs_f64(self.hist.mean() / 1e9) },
        }
    }
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// The usual percentiles of a set of latencies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Summary {
    pub count: u64,
    pub p50: Duration,
    pub p90: Duration,
    pub p99: Duration,
    pub max: Duration,
    pub mean: Duration,
}

/// The nearest-rank percentile of a few samples kept exactly (sorted
/// ascending): the smallest sample with at least `q` of all samples at or
/// below it, so the p99 of 100 samples is the 99th and the p50 the 50th.
/// Zero when there are none. For sample counts where a histogram is not
/// needed, or latencies beyond the histogram's one-minute range.
pub fn nearest_rank(sorted: &[Duration], q: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = (q.clamp(0.0, 1.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Operations per second: `ops` completed over `elapsed` of wall time.
pub fn throughput(ops: u64, elapsed: Duration) -> f64 {
    let secs = elapsed.as_secs_f64();
    if secs <= 0.0 {
        return 0.0;
    }
    ops as f64 / secs
}

/// `value / baseline`, or None when there is no meaningful baseline.
pub fn ratio(value: f64, baseline: f64) -> Option<f64> {
    (baseline.is_finite() && value.is_finite() && baseline > 0.0).then(|| value / baseline)
}

/// A ratio as the table shows it: `0.52x`, `12.3x`, `150x`; `-` when absent.
pub fn format_ratio(ratio: Option<f64>) -> String {
    match ratio {
        None => "-".to_string(),
        Some(r) if r >= 100.0 => format!("{r:.0}x"),
        Some(r) if r >= 10.0 => format!("{r:.1}x"),
        Some(r) => format!("{r:.2}x"),
    }
}

/// A duration with three significant digits in a unit that fits: `850 µs`,
/// `1.23 ms`, `45.6 ms`, `2.10 s`.
pub fn format_duration(d: Duration) -> String {
    let nanos = d.as_nanos() as f64;
    let (value, unit) = if nanos < 1e3 {
        (nanos, "ns")
    } else if nanos < 1e6 {
        (nanos / 1e3, "µs")
    } else if nanos < 1e9 {
        (nanos / 1e6, "ms")
    } else {
        (nanos / 1e9, "s")
    };
    format!("{} {unit}", three_digits(value))
}

fn three_digits(value: f64) -> String {
    if value >= 100.0 {
        format!("{value:.0}")
    } else if value >= 10.0 {
        format!("{value:.1}")
    } else {
        format!("{value:.2}")
    }
}

/// A rate with thousands separators: `12,345/s`; below 100, one decimal: `42.5/s`.
pub fn format_rate(per_sec: f64) -> String {
    if per_sec < 100.0 {
        return format!("{per_sec:.1}/s");
    }
    format!("{}/s", thousands(per_sec.round() as u64))
}

/// `1234567` as `1,234,567`.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A byte count in binary units: `512 B`, `1.21 KiB`, `34.5 MiB`. Negative
/// counts keep their sign (memory can shrink between two readings).
pub fn format_bytes(bytes: f64) -> String {
    let sign = if bytes < 0.0 { "-" } else { "" };
    let b = bytes.abs();
    let (value, unit) = if b < 1024.0 {
        return format!("{sign}{b:.0} B");
    } else if b < 1024.0 * 1024.0 {
        (b / 1024.0, "KiB")
    } else if b < 1024.0 * 1024.0 * 1024.0 {
        (b / (1024.0 * 1024.0), "MiB")
    } else {
        (b / (1024.0 * 1024.0 * 1024.0), "GiB")
    };
    format!("{sign}{} {unit}", three_digits(value))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    /// Within the histogram's 3-significant-digit precision.
    fn close(actual: Duration, expected: Duration) -> bool {
        let (a, e) = (actual.as_nanos() as f64, expected.as_nanos() as f64);
        (a - e).abs() <= e * 1e-3
    }

    #[test]
    fn percentiles_of_one_to_a_hundred_milliseconds() {
        let mut l = Latencies::new();
        for i in 1..=100 {
            l.record(ms(i));
        }
        let s = l.summary();
        assert_eq!(s.count, 100);
        assert!(close(s.p50, ms(50)), "{s:?}");
        assert!(close(s.p90, ms(90)), "{s:?}");
        assert!(close(s.p99, ms(99)), "{s:?}");
        assert!(close(s.max, ms(100)), "{s:?}");
        assert!(close(s.mean, Duration::from_micros(50_500)), "{s:?}");
    }

    #[test]
    fn a_slow_tail_shows_in_p99_not_p50() {
        let mut l = Latencies::new();
        for _ in 0..980 {
            l.record(ms(1));
        }
        for _ in 0..20 {
            l.record(ms(500));
        }
        let s = l.summary();
        assert!(close(s.p50, ms(1)), "{s:?}");
        assert!(close(s.p99, ms(500)), "{s:?}");
    }

    #[test]
    fn merged_recorders_equal_one_recorder() {
        let (mut a, mut b, mut all) = (Latencies::new(), Latencies::new(), Latencies::new());
        for i in 1..=50 {
            a.record(ms(i));
            all.record(ms(i));
        }
        for i in 51..=100 {
            b.record(ms(i));
            all.record(ms(i));
        }
        a.merge(&b);
        assert_eq!(a.summary(), all.summary());
    }

    #[test]
    fn empty_and_extreme_samples() {
        assert_eq!(Latencies::new().summary().p99, Duration::ZERO);
        let mut l = Latencies::new();
        l.record(Duration::ZERO);
        l.record(Duration::from_secs(3600));
        assert_eq!(l.count(), 2);
        assert!(l.summary().max >= Duration::from_secs(59), "clamped, not dropped");
    }

    #[test]
    fn nearest_rank_percentiles_are_samples() {
        let hundred: Vec<Duration> = (1..=100).map(ms).collect();
        assert_eq!(nearest_rank(&hundred, 0.50), ms(50));
        assert_eq!(nearest_rank(&hundred, 0.99), ms(99));
        assert_eq!(nearest_rank(&hundred, 1.0), ms(100));
        assert_eq!(nearest_rank(&hundred, 0.0), ms(1));
        // Ten samples: the p99 is the largest, the p50 the fifth.
        let ten: Vec<Duration> = (1..=10).map(|s| Duration::from_secs(s * 10)).collect();
        assert_eq!(nearest_rank(&ten, 0.99), Duration::from_secs(100), "beyond the histogram's minute");
        assert_eq!(nearest_rank(&ten, 0.5), Duration::from_secs(50));
        assert_eq!(nearest_rank(&[ms(7)], 0.99), ms(7));
        assert_eq!(nearest_rank(&[], 0.5), Duration::ZERO);
    }

    #[test]
    fn throughput_and_ratio() {
        assert_eq!(throughput(500, Duration::from_secs(2)), 250.0);
        assert_eq!(throughput(5, Duration::ZERO), 0.0);
        assert_eq!(ratio(50.0, 100.0), Some(0.5));
        assert_eq!(ratio(1.0, 0.0), None);
    }

    #[test]
    fn ratios_format_with_sensible_precision() {
        assert_eq!(format_ratio(ratio(4_100.0, 8_000.0)), "0.51x");
        assert_eq!(format_ratio(Some(1.0)), "1.00x");
        assert_eq!(format_ratio(Some(12.345)), "12.3x");
        assert_eq!(format_ratio(Some(150.4)), "150x");
        assert_eq!(format_ratio(None), "-");
    }

    #[test]
    fn durations_rates_and_bytes_read_well() {
        assert_eq!(format_duration(Duration::from_nanos(850)), "850 ns");
        assert_eq!(format_duration(Duration::from_micros(850)), "850 µs");
        assert_eq!(format_duration(Duration::from_micros(1234)), "1.23 ms");
        assert_eq!(format_duration(Duration::from_micros(45_600)), "45.6 ms");
        assert_eq!(format_duration(Duration::from_millis(2100)), "2.10 s");
        assert_eq!(format_rate(12_345.4), "12,345/s");
        assert_eq!(format_rate(42.46), "42.5/s");
        assert_eq!(thousands(1_234_567), "1,234,567");
        assert_eq!(thousands(999), "999");
        assert_eq!(format_bytes(512.0), "512 B");
        assert_eq!(format_bytes(1240.0), "1.21 KiB");
        assert_eq!(format_bytes(-2048.0), "-2.00 KiB");
        assert_eq!(format_bytes(34.5 * 1024.0 * 1024.0), "34.5 MiB");
    }
}
