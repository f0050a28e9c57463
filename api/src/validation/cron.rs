//! CronJob schedules are checked by parsing them with [`crate::cron`], the
//! grammar the CronJob controller runs, as Kubernetes' validation calls
//! robfig/cron's parser.

/// Checks a schedule; the error's text is what Kubernetes puts after `Invalid value: "..."`.
pub fn check(spec: &str) -> Result<(), crate::cron::Error> {
    crate::cron::Schedule::parse(spec).map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedules_check_like_kubernetes() {
        for ok in [
            "*/15 * * * *",
            "0,15,30,45 * * * *",
            "0 3 * * 1-5",
            "0 0 1 jan,JUL sun",
            "5-10/2 * ? * *",
            "@hourly",
            "@every 1h30m",
            "TZ=UTC 0 * * * *",
        ] {
            assert_eq!(check(ok), Ok(()), "{ok}");
        }
        for (bad, msg) in [
            ("x", "expected exactly 5 fields, found 1: [x]"),
            ("* * * *", "expected exactly 5 fields, found 4: [* * * *]"),
            ("60 * * * *", "end of range (60) above maximum (59): 60"),
            ("* * 0 * *", "beginning of range (0) below minimum (1): 0"),
            ("5-1 * * * *", "beginning of range (5) beyond end of range (1): 5-1"),
            ("*/0 * * * *", "step of range should be a positive number: */0"),
            ("* * * * 7", "end of range (7) above maximum (6): 7"),
            ("a * * * *", "failed to parse int from a: strconv.Atoi: parsing \"a\": invalid syntax"),
            ("1-2-3 * * * *", "too many hyphens: 1-2-3"),
            ("1/2/3 * * * *", "too many slashes: 1/2/3"),
            ("@fortnightly", "unrecognized descriptor: @fortnightly"),
            ("", "empty spec string"),
        ] {
            assert_eq!(check(bad).map_err(|e| e.to_string()), Err(msg.to_string()), "{bad}");
        }
    }
}
