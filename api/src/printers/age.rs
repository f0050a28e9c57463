//! Durations as kubectl and the server-side printers show them: the AGE
//! column (Kubernetes' `duration.HumanDuration`), a Job's DURATION.

use jiff::Timestamp;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, Time};

/// Kubernetes' `duration.HumanDuration`: about two significant figures,
/// `5s`, `5m41s`, `79m`, `5h3m`, `19h`, `2d3h`, `45d`, `2y10d`, `9y`.
pub fn human_duration(seconds: i64) -> String {
    if seconds < -1 {
        return "<invalid>".into();
    }
    if seconds < 0 {
        return "0s".into();
    }
    if seconds < 60 * 2 {
        return format!("{seconds}s");
    }
    let minutes = seconds / 60;
    if minutes < 10 {
        let s = seconds % 60;
        return if s == 0 { format!("{minutes}m") } else { format!("{minutes}m{s}s") };
    }
    if minutes < 60 * 3 {
        return format!("{minutes}m");
    }
    let hours = seconds / 3600;
    if hours < 8 {
        let m = minutes % 60;
        return if m == 0 { format!("{hours}h") } else { format!("{hours}h{m}m") };
    }
    if hours < 48 {
        return format!("{hours}h");
    }
    if hours < 24 * 8 {
        let h = hours % 24;
        return if h == 0 { format!("{}d", hours / 24) } else { format!("{}d{h}h", hours / 24) };
    }
    if hours < 24 * 365 * 2 {
        return format!("{}d", hours / 24);
    }
    if hours < 24 * 365 * 8 {
        let days = (hours / 24) % 365;
        return if days == 0 { format!("{}y", hours / 24 / 365) } else { format!("{}y{days}d", hours / 24 / 365) };
    }
    format!("{}y", hours / 24 / 365)
}

/// Whole seconds from `then` to `now`, rounded toward zero as Go's `Duration.Seconds` truncation does.
fn seconds_between(then: Timestamp, now: Timestamp) -> i64 {
    now.as_second() - then.as_second() - i64::from(now.subsec_nanosecond() < then.subsec_nanosecond())
}

/// A time field of a typed object: `metav1.Time` or `metav1.MicroTime`.
pub trait ObjectTime {
    fn timestamp(&self) -> Timestamp;
}

impl ObjectTime for Time {
    fn timestamp(&self) -> Timestamp {
        self.0
    }
}

impl ObjectTime for MicroTime {
    fn timestamp(&self) -> Timestamp {
        self.0
    }
}

/// The age at `now` of a time an object holds; `<unknown>` when it is unset,
/// as the printers' `translateTimestampSince` prints for a zero time.
pub fn since<T: ObjectTime>(t: Option<&T>, now: Timestamp) -> String {
    match t {
        Some(t) => human_duration(seconds_between(t.timestamp(), now)),
        None => "<unknown>".into(),
    }
}

/// The time from `start` to `end` (a Job's DURATION); None when either is unset.
pub fn duration<S: ObjectTime, E: ObjectTime>(start: Option<&S>, end: Option<&E>) -> Option<String> {
    Some(human_duration(seconds_between(start?.timestamp(), end?.timestamp())))
}

/// [`since`] for a timestamp as JSON holds it (`""` or unparsable: `<unknown>`).
pub fn age_at(timestamp: &str, now: Timestamp) -> String {
    since(crate::time::parse(timestamp).map(Time).as_ref(), now)
}

/// [`duration`] for timestamps as JSON holds them.
pub fn between(start: &str, end: &str) -> Option<String> {
    duration(crate::time::parse(start).map(Time).as_ref(), crate::time::parse(end).map(Time).as_ref())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The cases of Kubernetes' own `TestHumanDuration` table, in seconds.
    #[test]
    fn human_duration_matches_kubernetes_table() {
        let min = 60;
        let hour = 60 * min;
        let day = 24 * hour;
        let year = 365 * day;
        let cases: &[(i64, &str)] = &[
            (1, "1s"),
            (70, "70s"),
            (190, "3m10s"),
            (70 * min, "70m"),
            (47 * hour, "47h"),
            (49 * hour, "2d1h"),
            (8 * day + 2 * hour, "8d"),
            (367 * day, "367d"),
            (2 * year + 25 * day, "2y25d"),
            (10 * year + 5 * day, "10y"),
            (0, "0s"),
            (-1, "0s"),
            (-2, "<invalid>"),
            (119, "119s"),
            (120, "2m"),
            (121, "2m1s"),
            (9 * min + 59, "9m59s"),
            (10 * min, "10m"),
            (179 * min, "179m"),
            (3 * hour, "3h"),
            (3 * hour + min, "3h1m"),
            (7 * hour + 59 * min, "7h59m"),
            (8 * hour, "8h"),
            (48 * hour, "2d"),
            (7 * day + 23 * hour, "7d23h"),
            (8 * day, "8d"),
            (2 * year, "2y"),
            (7 * year + 364 * day, "7y364d"),
            (8 * year, "8y"),
        ];
        for (secs, want) in cases {
            assert_eq!(human_duration(*secs), *want, "{secs}s");
        }
    }

    #[test]
    fn ages_of_timestamps() {
        let now: Timestamp = "2021-10-27T09:00:00Z".parse().unwrap();
        assert_eq!(age_at("2021-10-27T08:54:19Z", now), "5m41s");
        assert_eq!(age_at("2021-10-27T07:41:00Z", now), "79m");
        assert_eq!(age_at("2021-10-26T14:00:00Z", now), "19h");
        assert_eq!(age_at("", now), "<unknown>");
        assert_eq!(age_at("garbage", now), "<unknown>");
        // A clock a second ahead of the server still reads as now.
        assert_eq!(age_at("2021-10-27T09:00:01Z", now), "0s");
    }

    #[test]
    fn durations_between_timestamps() {
        assert_eq!(between("2021-10-29T06:52:16Z", "2021-10-29T06:54:16Z").as_deref(), Some("2m"));
        assert_eq!(between("", "2021-10-29T06:54:16Z"), None);
    }
}
