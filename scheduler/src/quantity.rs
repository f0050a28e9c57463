//! Kubernetes resource quantities (`100m`, `1`, `128Mi`, `1G`, `1e3`) turned
//! into the integers the scheduler compares: millicores for cpu, plain units
//! (bytes, counts) for everything else.
//!
//! The grammar is `resource.Quantity`'s: an optionally signed decimal number,
//! then a binary suffix (`Ki`..`Ei`), a decimal suffix (`n`, `u`, `m`, `k`,
//! `M`..`E`) or a decimal exponent (`e3`, `E-2`). Like Kubernetes' `Value()`
//! and `MilliValue()`, fractions are rounded up (away from zero), so a request
//! of `0.5m` cpu still counts as 1 millicore rather than as nothing.

use serde_json::Value;

/// A parsed quantity: `digits × 10^exp10 × 2^exp2`, exact.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quantity {
    digits: i128,
    exp10: i32,
    exp2: u32,
}

/// Why a string is not a quantity.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'")]
pub struct InvalidQuantity;

/// More significant digits than this cannot be held exactly; no real request needs them.
const MAX_DIGITS: usize = 30;

impl Quantity {
    pub fn parse(s: &str) -> Result<Self, InvalidQuantity> {
        let s = s.trim();
        let (negative, rest) = match s.as_bytes().first() {
            Some(b'-') => (true, &s[1..]),
            Some(b'+') => (false, &s[1..]),
            _ => (false, s),
        };
        let number_len = rest.bytes().take_while(|b| b.is_ascii_digit() || *b == b'.').count();
        let (number, suffix) = rest.split_at(number_len);
        let (int_part, frac_part) = number.split_once('.').unwrap_or((number, ""));
        if frac_part.contains('.') || (int_part.is_empty() && frac_part.is_empty()) {
            return Err(InvalidQuantity);
        }
        let all_digits = format!("{int_part}{frac_part}");
        let significant = all_digits.trim_start_matches('0');
        if significant.len() > MAX_DIGITS {
            return Err(InvalidQuantity);
        }
        let mut digits: i128 =
            if significant.is_empty() { 0 } else { significant.parse().map_err(|_| InvalidQuantity)? };
        if negative {
            digits = -digits;
        }
        let mut exp10 = -(frac_part.len() as i32);
        let mut exp2 = 0;
        match suffix {
            "" => {}
            "Ki" => exp2 = 10,
            "Mi" => exp2 = 20,
            "Gi" => exp2 = 30,
            "Ti" => exp2 = 40,
            "Pi" => exp2 = 50,
            "Ei" => exp2 = 60,
            "n" => exp10 -= 9,
            "u" => exp10 -= 6,
            "m" => exp10 -= 3,
            "k" => exp10 += 3,
            "M" => exp10 += 6,
            "G" => exp10 += 9,
            "T" => exp10 += 12,
            "P" => exp10 += 15,
            "E" => exp10 += 18,
            other => {
                // A decimal exponent: `e3`, `E-2`, `e+6`.
                let exponent = other.strip_prefix(['e', 'E']).ok_or(InvalidQuantity)?;
                let unsigned = exponent.strip_prefix(['+', '-']).unwrap_or(exponent);
                if unsigned.is_empty() || !unsigned.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(InvalidQuantity);
                }
                let e: i32 = exponent.parse().map_err(|_| InvalidQuantity)?;
                exp10 = exp10.checked_add(e).ok_or(InvalidQuantity)?;
            }
        }
        Ok(Self { digits, exp10, exp2 })
    }

    /// The value in units of `10^scale`, rounded up away from zero; saturates at
    /// the i64 range. `scaled(0)` is Kubernetes' `Value()`, `scaled(-3)` its `MilliValue()`.
    pub fn scaled(&self, scale: i32) -> i64 {
        let saturated = if self.digits < 0 { i64::MIN } else { i64::MAX };
        let Some(n) = 2i128.checked_pow(self.exp2).and_then(|p| self.digits.checked_mul(p)) else {
            return saturated;
        };
        let shift = self.exp10 - scale;
        let value = if shift >= 0 {
            match 10i128.checked_pow(shift as u32).and_then(|p| n.checked_mul(p)) {
                Some(v) => v,
                None => return saturated,
            }
        } else {
            match 10i128.checked_pow(shift.unsigned_abs()) {
                Some(divisor) => {
                    let (q, r) = (n / divisor, n % divisor);
                    q + r.signum()
                }
                // The divisor is beyond any digits we hold: a non-zero value rounds to one unit.
                None => n.signum(),
            }
        };
        i64::try_from(value).unwrap_or(saturated)
    }

    pub fn value(&self) -> i64 {
        self.scaled(0)
    }

    pub fn milli_value(&self) -> i64 {
        self.scaled(-3)
    }
}

/// A quantity as it appears in an object: a string, or a bare JSON number
/// when someone wrote `cpu: 1` in JSON.
pub fn from_json(v: &Value) -> Option<Quantity> {
    match v {
        Value::String(s) => Quantity::parse(s).ok(),
        Value::Number(n) => Quantity::parse(&n.to_string()).ok(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn milli(s: &str) -> i64 {
        Quantity::parse(s).unwrap().milli_value()
    }
    fn value(s: &str) -> i64 {
        Quantity::parse(s).unwrap().value()
    }

    #[test]
    fn cpu_quantities_become_millicores() {
        for (input, expected) in [
            ("100m", 100),
            ("1", 1000),
            ("2", 2000),
            ("0.5", 500),
            ("1.5", 1500),
            (".25", 250),
            ("5.", 5000),
            ("+1", 1000),
            ("-1", -1000),
            ("250000u", 250),
            ("1e3", 1_000_000),
            ("1E-3", 1),
            ("0", 0),
            ("0.0", 0),
            ("000100m", 100),
        ] {
            assert_eq!(milli(input), expected, "{input}");
        }
    }

    #[test]
    fn fractions_of_a_unit_round_up_as_kubernetes_does() {
        assert_eq!(milli("0.5m"), 1, "half a millicore still takes one");
        assert_eq!(milli("1n"), 1);
        assert_eq!(value("100m"), 1, "100m of memory is one byte, not zero");
        assert_eq!(value("1.0001"), 2);
        assert_eq!(value("-1.5"), -2, "away from zero");
    }

    #[test]
    fn memory_quantities_become_bytes() {
        for (input, expected) in [
            ("128Mi", 128 * 1024 * 1024),
            ("1Ki", 1024),
            ("1.5Gi", 3 * 512 * 1024 * 1024),
            ("1G", 1_000_000_000),
            ("1k", 1000),
            ("500M", 500_000_000),
            ("2T", 2_000_000_000_000),
            ("1Ei", 1 << 60),
            ("1E", 1_000_000_000_000_000_000),
            ("1e9", 1_000_000_000),
            ("12e+2", 1200),
            ("110", 110),
        ] {
            assert_eq!(value(input), expected, "{input}");
        }
    }

    #[test]
    fn huge_values_saturate_instead_of_wrapping() {
        assert_eq!(value("100Ei"), i64::MAX);
        assert_eq!(milli("1e30"), i64::MAX);
        assert_eq!(value("-100Ei"), i64::MIN);
        assert_eq!(value("1e-40"), 1);
    }

    #[test]
    fn malformed_quantities_are_rejected() {
        for bad in ["", "abc", "1x", "1.2.3", "Mi", "1 Mi", "1e", "1ee3", "1e+", ".", "1KiB", "m", "1e3.5", "--1"] {
            assert_eq!(Quantity::parse(bad), Err(InvalidQuantity), "{bad:?}");
        }
    }

    #[test]
    fn json_numbers_are_quantities_too() {
        assert_eq!(from_json(&serde_json::json!(2)).unwrap().milli_value(), 2000);
        assert_eq!(from_json(&serde_json::json!("64Mi")).unwrap().value(), 64 << 20);
        assert_eq!(from_json(&serde_json::json!(null)), None);
    }
}
