//! Time as Kubernetes writes it in objects: `metav1.Time` is RFC 3339 in UTC to
//! the second (`2021-10-27T07:33:55Z`), `metav1.MicroTime` to the microsecond
//! (`2021-10-27T07:33:55.123456Z`, Events and Leases). The one place kubelab
//! formats and parses them.

use jiff::Timestamp;

/// `t` as a `metav1.Time`: `2021-10-27T07:33:55Z`.
pub fn format(t: Timestamp) -> String {
    t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// `t` as a `metav1.MicroTime`: `2021-10-27T07:33:55.123456Z`.
pub fn format_micro(t: Timestamp) -> String {
    t.strftime("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

/// `t` as a stored `metav1.Time` keeps it: to the whole second, so a time a
/// controller computes compares equal to the same time read back.
pub fn to_second(t: Timestamp) -> k8s_openapi::apimachinery::pkg::apis::meta::v1::Time {
    k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(Timestamp::from_second(t.as_second()).unwrap_or(t))
}

/// `t` as Go's `time.RFC3339` prints it in `tz`: `Z` in UTC, else the numeric
/// offset (a CronJob's scheduled-time annotation, in its time zone).
pub fn format_in(t: Timestamp, tz: &jiff::tz::TimeZone) -> String {
    let z = t.to_zoned(tz.clone());
    if z.offset().seconds() == 0 {
        z.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
    } else {
        z.strftime("%Y-%m-%dT%H:%M:%S%:z").to_string()
    }
}

/// The current time as a `metav1.Time`.
pub fn now() -> String {
    format(Timestamp::now())
}

/// Parses a Kubernetes timestamp (either form, or any RFC 3339 offset).
pub fn parse(s: &str) -> Option<Timestamp> {
    s.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_have_kubernetes_shapes_and_round_trip() {
        let t: Timestamp = "2021-10-27T07:33:55.123456789Z".parse().unwrap();
        assert_eq!(format(t), "2021-10-27T07:33:55Z");
        assert_eq!(format_micro(t), "2021-10-27T07:33:55.123456Z");
        assert_eq!(parse(&format(t)), Some("2021-10-27T07:33:55Z".parse().unwrap()));
        assert_eq!(parse("2021-10-27T09:33:55+02:00"), Some("2021-10-27T07:33:55Z".parse().unwrap()));
        assert_eq!(parse("yesterday"), None);
        assert_eq!(now().len(), "2021-10-27T07:33:55Z".len());
        assert_eq!(to_second(t).0, "2021-10-27T07:33:55Z".parse().unwrap());
    }

    #[test]
    fn timestamps_have_kubernetes_shape() {
        let t = now();
        assert_eq!(t.len(), 20, "{t}");
        assert!(parse(&t).is_some());
    }
}
