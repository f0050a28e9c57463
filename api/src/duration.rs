//! Go's durations, as Kubernetes' flags, kubectl's options and CronJob's
//! `@every` take them (`300ms`, `10s`, `5m`, `1h30m`, `1.5h`, `0`), and as its
//! messages print them (`time.Duration.String()`: `1m20s`, `5m0s`, `250ms`).
//!
//! One parser for every component, so a flag means the same thing on each
//! daemon and a bad value gets Go's own message everywhere.

use std::time::Duration;

use jiff::SignedDuration;

/// Why a duration did not parse; each message is Go's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    #[error("time: invalid duration \"{0}\"")]
    Invalid(String),
    #[error("time: missing unit in duration \"{0}\"")]
    MissingUnit(String),
    #[error("time: unknown unit \"{unit}\" in duration \"{input}\"")]
    UnknownUnit { unit: String, input: String },
    #[error("invalid duration \"{0}\": must not be negative")]
    Negative(String),
}

/// Parses a duration as Go's `time.ParseDuration` does: an optional sign, then
/// one or more decimal numbers each with a unit (`ns`, `us`/`µs`, `ms`, `s`,
/// `m`, `h`); a bare `0` needs none. Errors are Go's, word for word:
/// `time: invalid duration "x"`, `time: missing unit in duration "5"`,
/// `time: unknown unit "d" in duration "1d"`.
pub fn parse_signed(s: &str) -> Result<SignedDuration, DurationError> {
    let invalid = || DurationError::Invalid(s.to_string());
    let (negative, mut rest) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    if rest == "0" {
        return Ok(SignedDuration::ZERO);
    }
    if rest.is_empty() {
        return Err(invalid());
    }
    // Whole nanoseconds, summed exactly as Go does (no floating point).
    let mut total: u128 = 0;
    while !rest.is_empty() {
        let int_end = rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(rest.len());
        let (int, after) = rest.split_at(int_end);
        let (frac, after) = match after.strip_prefix('.') {
            Some(f) => f.split_at(f.find(|c: char| !c.is_ascii_digit()).unwrap_or(f.len())),
            None => ("", after),
        };
        if int.is_empty() && frac.is_empty() {
            return Err(invalid());
        }
        let unit_end = after.find(|c: char| c == '.' || c.is_ascii_digit()).unwrap_or(after.len());
        let (unit, next) = after.split_at(unit_end);
        let nanos_per_unit: u128 = match unit {
            "" => return Err(DurationError::MissingUnit(s.to_string())),
            "ns" => 1,
            "us" | "µs" | "μs" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            other => return Err(DurationError::UnknownUnit { unit: other.to_string(), input: s.to_string() }),
        };
        let whole: u128 = if int.is_empty() { 0 } else { int.parse().map_err(|_| invalid())? };
        // Digits past nanosecond precision cannot change the result; Go drops them too.
        let frac = &frac[..frac.len().min(20)];
        let frac_value: u128 = if frac.is_empty() { 0 } else { frac.parse().map_err(|_| invalid())? };
        let frac_nanos = frac_value * nanos_per_unit / 10u128.pow(frac.len() as u32);
        total = whole
            .checked_mul(nanos_per_unit)
            .and_then(|n| n.checked_add(frac_nanos))
            .and_then(|n| n.checked_add(total))
            .filter(|&n| n <= i64::MAX as u128)
            .ok_or_else(invalid)?;
        rest = next;
    }
    let nanos = total as i64;
    Ok(SignedDuration::from_nanos(if negative { -nanos } else { nanos }))
}

/// [`parse_signed`] for what cannot be negative: flags, timeouts, delays.
pub fn parse(s: &str) -> Result<Duration, DurationError> {
    let d = parse_signed(s)?;
    Duration::try_from(d).map_err(|_| DurationError::Negative(s.to_string()))
}

/// A duration as Go's `time.Duration.String()` prints it (`10s`, `1m20s`,
/// `5m0s`, `1.5s`, `250ms`), the form Kubernetes' messages carry.
pub fn format(d: Duration) -> String {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(s: &str) -> Result<i64, String> {
        parse_signed(s).map(|d| d.as_millis() as i64).map_err(|e| e.to_string())
    }

    #[test]
    fn parses_what_go_parses() {
        let cases = [
            ("0", 0),
            ("-0", 0),
            ("0s", 0),
            ("10s", 10_000),
            ("+10s", 10_000),
            ("-5s", -5_000),
            ("300ms", 300),
            ("5m", 300_000),
            ("1h30m", 5_400_000),
            ("1h2m3s", 3_723_000),
            ("1.5h", 5_400_000),
            ("1.5s", 1_500),
            (".5s", 500),
            ("5.s", 5_000),
            ("2500us", 2),
            ("2500µs", 2),
            ("1s500ms", 1_500),
        ];
        for (s, want) in cases {
            assert_eq!(ms(s), Ok(want), "{s:?}");
        }
        assert_eq!(parse_signed("1.000000001s").unwrap().as_nanos(), 1_000_000_001);
        assert_eq!(parse_signed("100ns").unwrap().as_nanos(), 100);
    }

    #[test]
    fn rejects_with_gos_messages() {
        let cases = [
            ("", "time: invalid duration \"\""),
            ("s", "time: invalid duration \"s\""),
            ("-", "time: invalid duration \"-\""),
            (".s", "time: invalid duration \".s\""),
            ("5", "time: missing unit in duration \"5\""),
            ("1h5", "time: missing unit in duration \"1h5\""),
            ("1d", "time: unknown unit \"d\" in duration \"1d\""),
            ("5 minutes", "time: unknown unit \" minutes\" in duration \"5 minutes\""),
            ("3000000h", "time: invalid duration \"3000000h\""),
        ];
        for (s, want) in cases {
            assert_eq!(parse_signed(s).map_err(|e| e.to_string()), Err(want.to_string()), "{s:?}");
        }
    }

    #[test]
    fn unsigned_durations_refuse_negatives() {
        assert_eq!(parse("1m30s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse("0"), Ok(Duration::ZERO));
        assert_eq!(
            parse("-5s").map_err(|e| e.to_string()),
            Err("invalid duration \"-5s\": must not be negative".to_string())
        );
        assert!(parse("often").unwrap_err().to_string().contains("invalid duration \"often\""));
    }

    #[test]
    fn prints_as_go_does() {
        let cases = [
            (Duration::from_secs(10), "10s"),
            (Duration::from_secs(80), "1m20s"),
            (Duration::from_secs(300), "5m0s"),
            (Duration::from_secs(3725), "1h2m5s"),
            (Duration::from_millis(1500), "1.5s"),
            (Duration::from_millis(250), "250ms"),
            (Duration::from_micros(1500), "1.5ms"),
            (Duration::from_nanos(2500), "2.5µs"),
            (Duration::from_nanos(7), "7ns"),
            (Duration::ZERO, "0s"),
        ];
        for (d, want) in cases {
            assert_eq!(format(d), want);
        }
        for d in [Duration::from_secs(5400), Duration::from_millis(1500), Duration::from_micros(2500)] {
            assert_eq!(parse(&format(d)), Ok(d), "round trip of {d:?}");
        }
    }
}
