//! Durations and timestamps as kubectl shows them: the AGE column
//! (Kubernetes' `HumanDuration`, shared with the apiserver's tables in
//! [`api::printers::age`]) and describe's RFC 1123 dates.

pub use api::printers::age::{age_at, between, duration, human_duration, since, ObjectTime};

/// Go's `time.RFC1123Z` in UTC, as describe prints `Start Time:`: `Wed, 27 Oct 2021 07:33:55 +0000`.
/// An unset time prints as Go's zero time, as kubectl shows it.
pub fn rfc1123<T: ObjectTime>(t: Option<&T>) -> String {
    match t {
        Some(t) => t.timestamp().strftime("%a, %d %b %Y %H:%M:%S +0000").to_string(),
        None => "Mon, 01 Jan 0001 00:00:00 +0000".into(),
    }
}

/// [`rfc1123`] for a timestamp as JSON holds it; one that does not parse is shown as it is.
pub fn rfc1123z(timestamp: &str) -> String {
    use api::k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
    match api::time::parse(timestamp) {
        Some(t) => rfc1123(Some(&Time(t))),
        None if timestamp.is_empty() => rfc1123::<Time>(None),
        None => timestamp.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn describe_dates_are_rfc1123z() {
        assert_eq!(rfc1123z("2021-10-27T07:33:55Z"), "Wed, 27 Oct 2021 07:33:55 +0000");
        assert_eq!(rfc1123z(""), "Mon, 01 Jan 0001 00:00:00 +0000");
    }
}
