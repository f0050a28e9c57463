//! CronJob schedules as Kubernetes reads them: robfig/cron v3's standard parser
//! (five fields, or a descriptor such as `@hourly` or `@every 1h30m`, after an
//! optional `TZ=`/`CRON_TZ=` zone), with its error texts, and robfig's way of
//! finding the next time a schedule fires.
//!
//! Validation parses a schedule here and the CronJob controller runs what this
//! parses, so the two accept exactly the same texts.
//!
//! Each field becomes a bit set of the values it allows. A field that is `*` or
//! `?` (step 1) is also marked unrestricted: the two day fields are ANDed only
//! when one of them is unrestricted, and ORed otherwise (`0 0 13 * 5` runs on
//! the 13th and on Fridays), as in cron since Vixie.

use jiff::tz::TimeZone;
use jiff::{civil, SignedDuration, Timestamp, ToSpan, Zoned};

/// Why a schedule does not parse, in robfig/cron's words (Kubernetes puts them
/// after `Invalid value: "..."`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    #[error("empty spec string")]
    Empty,
    #[error("provided bad location {0}: unknown time zone {0}")]
    BadLocation(String),
    #[error("unrecognized descriptor: {0}")]
    UnknownDescriptor(String),
    #[error("failed to parse duration {spec}: {reason}")]
    BadDuration { spec: String, reason: crate::duration::DurationError },
    #[error("expected exactly 5 fields, found {}: [{}]", .0.len(), .0.join(" "))]
    FieldCount(Vec<String>),
    /// `reason` is Go's: `invalid syntax` or `value out of range`.
    #[error("failed to parse int from {expr}: strconv.Atoi: parsing {expr:?}: {reason}")]
    NotAnInt { expr: String, reason: &'static str },
    #[error("negative number ({number}) not allowed: {expr}")]
    Negative { number: i64, expr: String },
    #[error("too many hyphens: {0}")]
    TooManyHyphens(String),
    #[error("too many slashes: {0}")]
    TooManySlashes(String),
    #[error("beginning of range ({start}) below minimum ({min}): {expr}")]
    BelowMinimum { start: u64, min: u64, expr: String },
    #[error("end of range ({end}) above maximum ({max}): {expr}")]
    AboveMaximum { end: u64, max: u64, expr: String },
    #[error("beginning of range ({start}) beyond end of range ({end}): {expr}")]
    StartAfterEnd { start: u64, end: u64, expr: String },
    #[error("step of range should be a positive number: {0}")]
    ZeroStep(String),
}

/// A parsed schedule.
#[derive(Debug, Clone)]
pub struct Schedule {
    kind: Kind,
    /// From a `TZ=` prefix; otherwise the caller's zone applies.
    zone: Option<TimeZone>,
}

#[derive(Debug, Clone)]
enum Kind {
    Fields(Fields),
    /// `@every d`: d after the previous time, in whole seconds (at least one).
    Every(SignedDuration),
}

/// One bit per allowed value, plus `STAR` when the field is unrestricted.
#[derive(Debug, Clone, Copy)]
struct Fields {
    minute: u64,
    hour: u64,
    dom: u64,
    month: u64,
    dow: u64,
}

const STAR: u64 = 1 << 63;

struct Bounds {
    min: u64,
    max: u64,
    names: &'static [(&'static str, u64)],
}

const MINUTES: Bounds = Bounds { min: 0, max: 59, names: &[] };
const HOURS: Bounds = Bounds { min: 0, max: 23, names: &[] };
const DOM: Bounds = Bounds { min: 1, max: 31, names: &[] };
const MONTHS: Bounds = Bounds {
    min: 1,
    max: 12,
    names: &[
        ("jan", 1),
        ("feb", 2),
        ("mar", 3),
        ("apr", 4),
        ("may", 5),
        ("jun", 6),
        ("jul", 7),
        ("aug", 8),
        ("sep", 9),
        ("oct", 10),
        ("nov", 11),
        ("dec", 12),
    ],
};
const DOW: Bounds = Bounds {
    min: 0,
    max: 6,
    names: &[("sun", 0), ("mon", 1), ("tue", 2), ("wed", 3), ("thu", 4), ("fri", 5), ("sat", 6)],
};

impl Schedule {
    /// Parses a schedule as robfig/cron's `ParseStandard` does.
    pub fn parse(spec: &str) -> Result<Self, Error> {
        if spec.is_empty() {
            return Err(Error::Empty);
        }
        let mut zone = None;
        let mut spec = spec;
        if let Some(rest) = spec.strip_prefix("TZ=").or_else(|| spec.strip_prefix("CRON_TZ=")) {
            let Some((name, schedule)) = rest.split_once(' ') else {
                return Err(Error::BadLocation(rest.to_string()));
            };
            zone = Some(location(name)?);
            spec = schedule.trim();
        }
        let kind = if spec.starts_with('@') { descriptor(spec)? } else { Kind::Fields(Fields::parse(spec)?) };
        Ok(Schedule { kind, zone })
    }

    /// The first time strictly after `after` at which the schedule fires,
    /// reading its fields in its own `TZ=` zone, else in `tz`. None when no
    /// time within five years fits (`0 0 30 2 *`).
    pub fn next(&self, after: Timestamp, tz: &TimeZone) -> Option<Timestamp> {
        match &self.kind {
            Kind::Every(d) => Timestamp::from_second(after.as_second()).ok()?.checked_add(*d).ok(),
            Kind::Fields(f) => f.next(after, self.zone.as_ref().unwrap_or(tz)),
        }
    }
}

/// Go's `time.LoadLocation`: the empty name and `UTC` are UTC, `Local` is the
/// machine's zone, anything else comes from the tz database.
fn location(name: &str) -> Result<TimeZone, Error> {
    match name {
        "" | "UTC" => Ok(TimeZone::UTC),
        "Local" => Ok(TimeZone::system()),
        _ => TimeZone::get(name).map_err(|_| Error::BadLocation(name.to_string())),
    }
}

fn descriptor(spec: &str) -> Result<Kind, Error> {
    let all = |b: &Bounds| bits(b.min, b.max, 1) | STAR;
    let first = |b: &Bounds| 1 << b.min;
    let fields = match spec {
        "@yearly" | "@annually" => Fields {
            minute: first(&MINUTES),
            hour: first(&HOURS),
            dom: first(&DOM),
            month: first(&MONTHS),
            dow: all(&DOW),
        },
        "@monthly" => Fields {
            minute: first(&MINUTES),
            hour: first(&HOURS),
            dom: first(&DOM),
            month: all(&MONTHS),
            dow: all(&DOW),
        },
        "@weekly" => Fields {
            minute: first(&MINUTES),
            hour: first(&HOURS),
            dom: all(&DOM),
            month: all(&MONTHS),
            dow: first(&DOW),
        },
        "@daily" | "@midnight" => {
            Fields { minute: first(&MINUTES), hour: first(&HOURS), dom: all(&DOM), month: all(&MONTHS), dow: all(&DOW) }
        }
        "@hourly" => {
            Fields { minute: first(&MINUTES), hour: all(&HOURS), dom: all(&DOM), month: all(&MONTHS), dow: all(&DOW) }
        }
        _ => {
            let Some(d) = spec.strip_prefix("@every ") else {
                return Err(Error::UnknownDescriptor(spec.to_string()));
            };
            let d = crate::duration::parse_signed(d)
                .map_err(|reason| Error::BadDuration { spec: spec.to_string(), reason })?;
            // robfig truncates to whole seconds and never goes below one.
            return Ok(Kind::Every(SignedDuration::from_secs(d.as_secs().max(1))));
        }
    };
    Ok(Kind::Fields(fields))
}

/// The bits `start`, `start + step`, ... up to `end`.
fn bits(start: u64, end: u64, step: u64) -> u64 {
    (start..=end).step_by(step as usize).fold(0, |acc, v| acc | 1 << v)
}

impl Fields {
    fn parse(spec: &str) -> Result<Self, Error> {
        let fields: Vec<&str> = spec.split_whitespace().collect();
        let [minute, hour, dom, month, dow] = fields[..] else {
            return Err(Error::FieldCount(fields.iter().map(|f| f.to_string()).collect()));
        };
        Ok(Fields {
            minute: field(minute, &MINUTES)?,
            hour: field(hour, &HOURS)?,
            dom: field(dom, &DOM)?,
            month: field(month, &MONTHS)?,
            dow: field(dow, &DOW)?,
        })
    }

    fn day_matches(&self, t: &Zoned) -> bool {
        let dom = self.dom & 1 << t.day() != 0;
        let dow = self.dow & 1 << t.weekday().to_sunday_zero_offset() != 0;
        if self.dom & STAR != 0 || self.dow & STAR != 0 {
            dom && dow
        } else {
            dom || dow
        }
    }

    /// robfig's SpecSchedule.Next: from the next whole second, move the month,
    /// day, hour and minute forward until each matches; whenever one wraps
    /// around, start over from the month. Days move by the calendar, hours and
    /// minutes by elapsed time, so DST changes are handled as robfig does.
    fn next(&self, after: Timestamp, tz: &TimeZone) -> Option<Timestamp> {
        let at = |ts: Timestamp| ts.to_zoned(tz.clone());
        let civil = |y: i16, m: i8, d: i8, h: i8| civil::date(y, m, d).at(h, 0, 0, 0).to_zoned(tz.clone()).ok();
        let mut t = at(Timestamp::from_second(after.as_second().checked_add(1)?).ok()?);
        // Once a field has moved, the smaller ones start from their beginning.
        let mut moved = false;
        let year_limit = t.year() + 5;
        'wrap: loop {
            if t.year() > year_limit {
                return None;
            }
            while self.month & 1 << t.month() == 0 {
                if !moved {
                    moved = true;
                    t = civil(t.year(), t.month(), 1, 0)?;
                }
                t = t.checked_add(1.month()).ok()?;
                if t.month() == 1 {
                    continue 'wrap;
                }
            }
            while !self.day_matches(&t) {
                if !moved {
                    moved = true;
                    t = civil(t.year(), t.month(), t.day(), 0)?;
                }
                t = t.checked_add(1.day()).ok()?;
                // Where DST skips midnight the day starts at 1am: go back to midnight's instant.
                let h = i64::from(t.hour());
                if h != 0 {
                    t = t.checked_add(if h > 12 { (24 - h).hours() } else { (-h).hours() }).ok()?;
                }
                if t.day() == 1 {
                    continue 'wrap;
                }
            }
            while self.hour & 1 << t.hour() == 0 {
                if !moved {
                    moved = true;
                    t = civil(t.year(), t.month(), t.day(), t.hour())?;
                }
                t = t.checked_add(1.hour()).ok()?;
                if t.hour() == 0 {
                    continue 'wrap;
                }
            }
            while self.minute & 1 << t.minute() == 0 {
                if !moved {
                    moved = true;
                    t = at(Timestamp::from_second(t.timestamp().as_second().div_euclid(60) * 60).ok()?);
                }
                t = t.checked_add(1.minute()).ok()?;
                if t.minute() == 0 {
                    continue 'wrap;
                }
            }
            // Only second 0 is scheduled: anything else waits for the next minute.
            if t.second() != 0 {
                moved = true;
                t = at(Timestamp::from_second((t.timestamp().as_second().div_euclid(60) + 1) * 60).ok()?);
                continue 'wrap;
            }
            return Some(t.timestamp());
        }
    }
}

/// A comma-separated list of ranges.
fn field(text: &str, b: &Bounds) -> Result<u64, Error> {
    text.split(',').filter(|e| !e.is_empty()).try_fold(0, |acc, expr| Ok(acc | range(expr, b)?))
}

/// `*`, `?`, `N`, `N-M`, each optionally `/step`; `N/step` means `N-max/step`.
fn range(expr: &str, b: &Bounds) -> Result<u64, Error> {
    let range_and_step: Vec<&str> = expr.split('/').collect();
    let low_high: Vec<&str> = range_and_step[0].split('-').collect();
    let mut star = 0;
    let (start, mut end) = if low_high[0] == "*" || low_high[0] == "?" {
        star = STAR;
        (b.min, b.max)
    } else {
        let start = int_or_name(low_high[0], b)?;
        match low_high[..] {
            [_] => (start, start),
            [_, high] => (start, int_or_name(high, b)?),
            _ => return Err(Error::TooManyHyphens(expr.to_string())),
        }
    };
    let step = match range_and_step[..] {
        [_] => 1,
        [_, step] => {
            let step = int(step)?;
            if low_high.len() == 1 {
                end = b.max;
            }
            if step > 1 {
                star = 0;
            }
            step
        }
        _ => return Err(Error::TooManySlashes(expr.to_string())),
    };
    let expr = expr.to_string();
    if start < b.min {
        return Err(Error::BelowMinimum { start, min: b.min, expr });
    }
    if end > b.max {
        return Err(Error::AboveMaximum { end, max: b.max, expr });
    }
    if start > end {
        return Err(Error::StartAfterEnd { start, end, expr });
    }
    if step == 0 {
        return Err(Error::ZeroStep(expr));
    }
    Ok(bits(start, end, step) | star)
}

fn int_or_name(expr: &str, b: &Bounds) -> Result<u64, Error> {
    let lower = expr.to_ascii_lowercase();
    match b.names.iter().find(|(n, _)| *n == lower) {
        Some((_, v)) => Ok(*v),
        None => int(expr),
    }
}

/// Go's `strconv.Atoi`, refusing negative numbers.
fn int(expr: &str) -> Result<u64, Error> {
    use std::num::IntErrorKind::{NegOverflow, PosOverflow};
    match expr.parse::<i64>() {
        Ok(number) if number < 0 => Err(Error::Negative { number, expr: expr.to_string() }),
        Ok(n) => Ok(n.unsigned_abs()),
        Err(e) => {
            let reason =
                if matches!(e.kind(), PosOverflow | NegOverflow) { "value out of range" } else { "invalid syntax" };
            Err(Error::NotAnInt { expr: expr.to_string(), reason })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn next(spec: &str, from: &str) -> String {
        let s = Schedule::parse(spec).unwrap_or_else(|e| panic!("{spec}: {e}"));
        s.next(from.parse().unwrap(), &TimeZone::UTC).unwrap().to_string()
    }

    #[test]
    fn next_times_follow_robfig_cron() {
        // 2024-01-01 is a Monday.
        for (spec, from, want) in [
            ("0,15,30,45 * * * *", "2024-01-01T10:07:00Z", "2024-01-01T10:15:00Z"),
            ("0,15,30,45 * * * *", "2024-01-01T10:15:00Z", "2024-01-01T10:30:00Z"),
            ("*/20 * * * *", "2024-01-01T10:41:00Z", "2024-01-01T11:00:00Z"),
            ("10-20/5 * * * *", "2024-01-01T10:21:00Z", "2024-01-01T11:10:00Z"),
            ("0 9 * jan,jul mon-fri", "2024-01-31T10:00:00Z", "2024-07-01T09:00:00Z"),
            ("30 6-16/4 * * 1-5", "2024-03-01T10:30:00Z", "2024-03-01T14:30:00Z"),
            ("0 0 13 * 5", "2024-01-01T00:00:00Z", "2024-01-05T00:00:00Z"),
            ("0 0 */1 * 5", "2024-01-05T00:00:00Z", "2024-01-12T00:00:00Z"),
            ("0 0 */10 * 5", "2024-01-01T00:00:00Z", "2024-01-05T00:00:00Z"),
            ("0 0 29 2 *", "2024-03-01T00:00:00Z", "2028-02-29T00:00:00Z"),
            ("@yearly", "2024-01-03T10:07:00Z", "2025-01-01T00:00:00Z"),
            ("@weekly", "2024-01-03T10:07:00Z", "2024-01-07T00:00:00Z"),
            ("@every 90m", "2024-01-01T10:07:30.5Z", "2024-01-01T11:37:30Z"),
            ("@every 10ms", "2024-01-01T10:07:30.5Z", "2024-01-01T10:07:31Z"),
            ("TZ=UTC 0 9 * * *", "2024-01-01T10:00:00Z", "2024-01-02T09:00:00Z"),
        ] {
            assert_eq!(next(spec, from), want, "{spec} after {from}");
        }
        assert_eq!(Schedule::parse("0 0 30 2 *").unwrap().next(Timestamp::UNIX_EPOCH, &TimeZone::UTC), None);
    }

    #[test]
    fn time_zones_move_the_fields() {
        let Ok(berlin) = TimeZone::get("Europe/Berlin") else { return }; // no tz database here
        let s = Schedule::parse("0 9 * * *").unwrap();
        let at = |s: &str| s.parse::<Timestamp>().unwrap();
        assert_eq!(s.next(at("2024-01-01T00:00:00Z"), &berlin), Some(at("2024-01-01T08:00:00Z")));
        // A TZ= prefix wins over the caller's zone.
        let own = Schedule::parse("CRON_TZ=Europe/Berlin 0 9 * * *").unwrap();
        assert_eq!(own.next(at("2024-01-01T00:00:00Z"), &TimeZone::UTC), Some(at("2024-01-01T08:00:00Z")));
        // 02:30 does not exist on 2024-03-31 in Berlin: robfig skips that day.
        let gap = Schedule::parse("30 2 * * *").unwrap();
        assert_eq!(gap.next(at("2024-03-30T12:00:00Z"), &berlin), Some(at("2024-04-01T00:30:00Z")));
    }

    #[test]
    fn errors_are_robfigs() {
        for (bad, msg) in [
            ("TZ=Nowhere/Special 0 * * * *", "provided bad location Nowhere/Special: unknown time zone Nowhere/Special"),
            ("TZ=UTC", "provided bad location UTC: unknown time zone UTC"),
            ("@every soon", "failed to parse duration @every soon: time: invalid duration \"soon\""),
            ("*/-1 * * * *", "negative number (-1) not allowed: -1"),
            ("99999999999999999999 * * * *", "failed to parse int from 99999999999999999999: strconv.Atoi: parsing \"99999999999999999999\": value out of range"),
            ("5000000000 * * * *", "end of range (5000000000) above maximum (59): 5000000000"),
        ] {
            assert_eq!(Schedule::parse(bad).unwrap_err().to_string(), msg, "{bad}");
        }
    }
}
