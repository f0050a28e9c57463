//! Resource quantities (`500m`, `1.5Gi`, `2e3`), as Kubernetes' `resource.Quantity`:
//! parsing with its grammar and error messages, exact comparison, `Value` and
//! `MilliValue` (rounded up, away from zero), `Add`, and the canonical `String()`
//! form kubectl prints (`1500m`, `1536Mi`, `2k`). Validation, the scheduler and
//! kubectl all use this one type.

use serde_json::Value;
use std::cmp::Ordering;
use std::fmt;

/// Kubernetes' message for a quantity that does not parse.
pub const FORMAT_ERROR: &str =
    "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'";
/// Kubernetes' message for a well-formed quantity with an unknown suffix (`1ki`).
pub const SUFFIX_ERROR: &str = "unable to parse quantity's suffix";

/// Nano-units per unit: every suffix Kubernetes accepts is a whole number of nano-units.
const NANO: i128 = 1_000_000_000;

/// How a quantity was written, which decides how its canonical form is spelled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    /// `12e6`
    DecimalExponent,
    /// `5Gi`
    BinarySI,
    /// `500m`, `5G`, or no suffix.
    #[default]
    DecimalSI,
}

/// An amount in nano-units (exact for every suffix; saturating far beyond
/// anything real) and the format it prints in.
#[derive(Debug, Clone, Copy, Default)]
pub struct Quantity {
    nanos: i128,
    format: Format,
}

impl PartialEq for Quantity {
    fn eq(&self, other: &Self) -> bool {
        self.nanos == other.nanos
    }
}

impl Eq for Quantity {}

impl PartialOrd for Quantity {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Quantity {
    fn cmp(&self, other: &Self) -> Ordering {
        self.nanos.cmp(&other.nanos)
    }
}

fn digits_end(b: &[u8], from: usize) -> usize {
    from + b[from..].iter().take_while(|c| c.is_ascii_digit()).count()
}

/// Parses a quantity; the error is Kubernetes' message.
pub fn parse(s: &str) -> Result<Quantity, &'static str> {
    Quantity::parse(s)
}

/// A quantity as an object holds it: a string, or a bare JSON number (`cpu: 1`).
pub fn from_json(v: &Value) -> Option<Quantity> {
    match v {
        Value::String(s) => Quantity::parse(s).ok(),
        Value::Number(n) => Quantity::parse(&n.to_string()).ok(),
        _ => None,
    }
}

/// A quantity as written, printed canonically as kubectl's `Quantity.String()`
/// does; text that does not parse is shown as it is.
pub fn canonical(text: &str) -> String {
    Quantity::parse(text).map(|q| q.to_string()).unwrap_or_else(|_| text.to_string())
}

impl Quantity {
    /// Parses `500m`, `1.5Gi`, `2e3` with Kubernetes' grammar:
    /// `^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$`, then a known suffix.
    pub fn parse(s: &str) -> Result<Self, &'static str> {
        let b = s.as_bytes();
        let mut pos = usize::from(matches!(b.first(), Some(b'-' | b'+')));
        let negative = b.first() == Some(&b'-');
        let int_end = digits_end(b, pos);
        let int_part = &s[pos..int_end];
        pos = int_end;
        let mut frac_part = "";
        if b.get(pos) == Some(&b'.') {
            let end = digits_end(b, pos + 1);
            frac_part = &s[pos + 1..end];
            pos = end;
        }
        if int_part.is_empty() && frac_part.is_empty() {
            return Err(FORMAT_ERROR);
        }
        // The suffix: letters from the suffix alphabet, then an optional signed number.
        let suffix_start = pos;
        while pos < b.len() && b"eEinumkKMGTP".contains(&b[pos]) {
            pos += 1;
        }
        if pos < b.len() && matches!(b[pos], b'+' | b'-') {
            pos += 1;
        }
        pos = digits_end(b, pos);
        if pos != b.len() {
            return Err(FORMAT_ERROR);
        }
        let suffix = &s[suffix_start..];
        let (exp10, pow1024, format): (i32, u32, Format) = match suffix {
            "" => (0, 0, Format::DecimalSI),
            "n" => (-9, 0, Format::DecimalSI),
            "u" => (-6, 0, Format::DecimalSI),
            "m" => (-3, 0, Format::DecimalSI),
            "k" => (3, 0, Format::DecimalSI),
            "M" => (6, 0, Format::DecimalSI),
            "G" => (9, 0, Format::DecimalSI),
            "T" => (12, 0, Format::DecimalSI),
            "P" => (15, 0, Format::DecimalSI),
            "E" => (18, 0, Format::DecimalSI),
            "Ki" => (0, 1, Format::BinarySI),
            "Mi" => (0, 2, Format::BinarySI),
            "Gi" => (0, 3, Format::BinarySI),
            "Ti" => (0, 4, Format::BinarySI),
            "Pi" => (0, 5, Format::BinarySI),
            "Ei" => (0, 6, Format::BinarySI),
            _ => match suffix.strip_prefix(['e', 'E']).map(str::parse::<i32>) {
                Some(Ok(e)) => (e, 0, Format::DecimalExponent),
                _ => return Err(SUFFIX_ERROR),
            },
        };
        // mantissa × 10^(exp10 − fraction digits + 9) × 1024^pow1024 nano-units.
        let mut value: i128 = 0;
        let mut scale = exp10.saturating_add(9).saturating_sub(frac_part.len() as i32);
        let digits = int_part.bytes().chain(frac_part.bytes()).skip_while(|&c| c == b'0');
        for (i, c) in digits.enumerate() {
            if i >= 30 {
                // Beyond i128's precision: keep the magnitude, drop the digits.
                scale = scale.saturating_add(1);
                continue;
            }
            value = value * 10 + i128::from(c - b'0');
        }
        while scale > 0 && value != 0 {
            value = value.saturating_mul(10);
            scale -= 1;
        }
        let mut rounded_up = false;
        while scale < 0 && value != 0 {
            rounded_up |= value % 10 != 0;
            value /= 10;
            scale += 1;
        }
        if rounded_up {
            // Kubernetes rounds precision below its smallest unit (1n) up.
            value += 1;
        }
        for _ in 0..pow1024 {
            value = value.saturating_mul(1024);
        }
        Ok(Self { nanos: if negative { -value } else { value }, format })
    }

    pub fn is_negative(&self) -> bool {
        self.nanos < 0
    }

    pub fn is_zero(&self) -> bool {
        self.nanos == 0
    }

    /// Go's `Quantity.Add`: the sum keeps this quantity's format unless this one is zero.
    pub fn add(&mut self, other: &Quantity) {
        if self.nanos == 0 {
            self.format = other.format;
        }
        self.nanos = self.nanos.saturating_add(other.nanos);
    }

    /// `Value()`: whole units, rounded up (away from zero), saturating.
    pub fn value(&self) -> i64 {
        round_up_div(self.nanos, NANO)
    }

    /// `MilliValue()`: thousandths, rounded up (away from zero), saturating.
    pub fn milli_value(&self) -> i64 {
        round_up_div(self.nanos, NANO / 1000)
    }
}

fn round_up_div(n: i128, d: i128) -> i64 {
    let q = n / d + (n % d).signum();
    q.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64
}

/// The canonical form, as Go's `Quantity.String()` spells it.
impl fmt::Display for Quantity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.nanos == 0 {
            return f.write_str("0");
        }
        let mut format = self.format;
        if format == Format::BinarySI && (self.nanos.abs() < 1024 * NANO || self.nanos % NANO != 0) {
            // Small or fractional amounts would round in base 1024; Go falls back to decimal.
            format = Format::DecimalSI;
        }
        if format == Format::BinarySI {
            let mut units = self.nanos / NANO;
            let mut exp = 0;
            while exp < 6 && units % 1024 == 0 {
                units /= 1024;
                exp += 1;
            }
            let suffix = ["", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"][exp];
            return write!(f, "{units}{suffix}");
        }
        let mut mantissa = self.nanos;
        let mut exp: i32 = -9;
        while mantissa % 10 == 0 {
            mantissa /= 10;
            exp += 1;
        }
        // Decimal suffixes step by thousands, so the exponent goes down to a multiple of 3.
        let rem = exp.rem_euclid(3);
        mantissa *= 10i128.pow(rem as u32);
        exp -= rem;
        let suffix = match (format, exp) {
            (_, 0) => String::new(),
            (Format::DecimalExponent, e) => format!("e{e}"),
            (_, -9) => "n".into(),
            (_, -6) => "u".into(),
            (_, -3) => "m".into(),
            (_, 3) => "k".into(),
            (_, 6) => "M".into(),
            (_, 9) => "G".into(),
            (_, 12) => "T".into(),
            (_, 15) => "P".into(),
            (_, 18) => "E".into(),
            (_, e) => format!("e{e}"),
        };
        write!(f, "{mantissa}{suffix}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn q(s: &str) -> Quantity {
        Quantity::parse(s).unwrap_or_else(|e| panic!("{s} should parse: {e}"))
    }

    #[test]
    fn equal_amounts_compare_equal_whatever_the_spelling() {
        assert_eq!(q("1Gi"), q("1073741824"));
        assert_eq!(q("0.5"), q("500m"));
        assert_eq!(q("1e3"), q("1k"));
        assert_eq!(q("1."), q("1"));
        assert!(q("100m") < q("1"));
        assert!(q("128Mi") > q("100M"));
        assert!(q("-1").is_negative());
    }

    #[test]
    fn bad_quantities_get_kubernetes_messages() {
        for bad in ["", "abc", "1.2.3", "1 Gi", "Gi", "--1", "1Gb", "5x", "m", ".", "1e3.5", "1KiB", " 1", "1 "] {
            assert_eq!(Quantity::parse(bad), Err(FORMAT_ERROR), "{bad:?}");
        }
        for bad in ["1ki", "1e", "1ee3", "1e+"] {
            assert_eq!(Quantity::parse(bad), Err(SUFFIX_ERROR), "{bad:?}");
        }
    }

    #[test]
    fn cpu_quantities_become_millicores() {
        for (input, expected) in [
            ("100m", 100),
            ("1", 1000),
            ("0.5", 500),
            ("1.5", 1500),
            (".25", 250),
            ("5.", 5000),
            ("+1", 1000),
            ("-1", -1000),
            ("250000u", 250),
            ("1e3", 1_000_000),
            ("1E-3", 1),
            ("0.0", 0),
            ("000100m", 100),
        ] {
            assert_eq!(q(input).milli_value(), expected, "{input}");
        }
    }

    #[test]
    fn values_round_up_away_from_zero_and_saturate() {
        assert_eq!(q("0.5m").milli_value(), 1, "half a millicore still takes one");
        assert_eq!(q("1n").milli_value(), 1);
        assert_eq!(q("100m").value(), 1, "100m of memory is one byte, not zero");
        assert_eq!(q("1.0001").value(), 2);
        assert_eq!(q("-1.5").value(), -2);
        assert_eq!(q("100Ei").value(), i64::MAX);
        assert_eq!(q("1e30").milli_value(), i64::MAX);
        assert_eq!(q("-100Ei").value(), i64::MIN);
        assert_eq!(q("1e-40").value(), 1);
    }

    #[test]
    fn memory_quantities_become_bytes() {
        for (input, expected) in [
            ("128Mi", 128 * 1024 * 1024),
            ("1.5Gi", 3 * 512 * 1024 * 1024),
            ("1G", 1_000_000_000),
            ("2T", 2_000_000_000_000),
            ("1Ei", 1 << 60),
            ("1E", 1_000_000_000_000_000_000),
            ("12e+2", 1200),
            ("110", 110),
        ] {
            assert_eq!(q(input).value(), expected, "{input}");
        }
    }

    #[test]
    fn canonical_forms_match_go() {
        for (input, want) in [
            ("100m", "100m"),
            ("0.1", "100m"),
            ("1000m", "1"),
            ("1500m", "1500m"),
            ("2000", "2k"),
            ("1024Mi", "1Gi"),
            ("1.5Gi", "1536Mi"),
            ("16266772Ki", "16266772Ki"),
            ("0.5Ki", "512"),
            ("12e6", "12e6"),
            ("0", "0"),
            ("-100m", "-100m"),
            ("1n", "1n"),
        ] {
            assert_eq!(q(input).to_string(), want, "{input}");
        }
        assert_eq!(canonical("lots"), "lots");
        assert_eq!(canonical(&json!(4).to_string()), "4");
    }

    #[test]
    fn sums_keep_the_first_format() {
        let mut total = Quantity::default();
        total.add(&q("100m"));
        total.add(&q("1"));
        assert_eq!(total.to_string(), "1100m");
        let mut mem = Quantity::default();
        mem.add(&q("128Mi"));
        mem.add(&q("64Mi"));
        assert_eq!(mem.to_string(), "192Mi");
        assert!(Quantity::default().is_zero());
    }

    #[test]
    fn json_numbers_are_quantities_too() {
        assert_eq!(from_json(&json!(2)).unwrap().milli_value(), 2000);
        assert_eq!(from_json(&json!("64Mi")).unwrap().value(), 64 << 20);
        assert_eq!(from_json(&json!(null)), None);
    }
}
