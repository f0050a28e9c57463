//! Resource quantities as kubectl prints them: Kubernetes' `resource.Quantity`
//! with its canonical `String()` form (`1500m`, `1536Mi`, `2k`), `Value`,
//! `MilliValue` and `Add`, which `describe node` needs to total the requests
//! and limits of a node's pods. (The api crate parses quantities to validate
//! them but keeps the amount private, and printing needs the format too.)

use std::cmp::Ordering;
use std::fmt;

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

/// An amount in nano-units and the format it prints in.
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

impl PartialOrd for Quantity {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.nanos.cmp(&other.nanos))
    }
}

impl Quantity {
    /// Parses `500m`, `1.5Gi`, `2e3`; `None` for anything Kubernetes would reject.
    pub fn parse(s: &str) -> Option<Self> {
        let s = s.trim();
        let (negative, body) = match s.as_bytes().first()? {
            b'-' => (true, &s[1..]),
            b'+' => (false, &s[1..]),
            _ => (false, s),
        };
        let number_end = body.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(body.len());
        let (number, suffix) = body.split_at(number_end);
        let (int_part, frac_part) = number.split_once('.').unwrap_or((number, ""));
        if (int_part.is_empty() && frac_part.is_empty()) || frac_part.contains('.') {
            return None;
        }
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
            other => {
                let exp = other.strip_prefix(['e', 'E'])?.parse::<i32>().ok()?;
                (exp, 0, Format::DecimalExponent)
            }
        };
        let digits = format!("{int_part}{frac_part}");
        let mut value: i128 = 0;
        let mut scale = exp10 + 9 - frac_part.len() as i32;
        for (i, c) in digits.trim_start_matches('0').bytes().enumerate() {
            if i >= 30 {
                // Beyond i128's precision: keep the magnitude, drop the digits.
                scale += 1;
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
        Some(Self { nanos: if negative { -value } else { value }, format })
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

    /// `Value()`: whole units, rounded up.
    pub fn value(&self) -> i64 {
        ceil_div(self.nanos, NANO)
    }

    /// `MilliValue()`: thousandths, rounded up.
    pub fn milli_value(&self) -> i64 {
        ceil_div(self.nanos, NANO / 1000)
    }
}

fn ceil_div(n: i128, d: i128) -> i64 {
    let q = n.div_euclid(d) + i128::from(n.rem_euclid(d) != 0);
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

/// A quantity as JSON holds it (a string, or a bare number), printed canonically;
/// text that does not parse is shown as it is.
pub fn canonical(v: &serde_json::Value) -> String {
    let text = match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    Quantity::parse(&text).map(|q| q.to_string()).unwrap_or(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(s: &str) -> Quantity {
        Quantity::parse(s).unwrap_or_else(|| panic!("{s} should parse"))
    }

    #[test]
    fn canonical_forms_match_go() {
        let cases = [
            ("100m", "100m"),
            ("0.1", "100m"),
            ("1000m", "1"),
            ("1500m", "1500m"),
            ("2000", "2k"),
            ("128Mi", "128Mi"),
            ("1Gi", "1Gi"),
            ("1024Mi", "1Gi"),
            ("1.5Gi", "1536Mi"),
            ("16266772Ki", "16266772Ki"),
            ("512", "512"),
            ("1Ki", "1Ki"),
            ("0.5Ki", "512"),
            ("12e6", "12e6"),
            ("1e3", "1e3"),
            ("110", "110"),
            ("0", "0"),
            ("-100m", "-100m"),
            ("1n", "1n"),
            ("1.5", "1500m"),
        ];
        for (input, want) in cases {
            assert_eq!(q(input).to_string(), want, "{input}");
        }
    }

    #[test]
    fn values_round_up() {
        assert_eq!(q("100m").milli_value(), 100);
        assert_eq!(q("100m").value(), 1);
        assert_eq!(q("2").milli_value(), 2000);
        assert_eq!(q("128Mi").value(), 134_217_728);
        assert_eq!(q("1n").milli_value(), 1);
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
        assert_eq!(Quantity::default().to_string(), "0");
    }

    #[test]
    fn bad_quantities_do_not_parse() {
        for bad in ["", "abc", "1.2.3", "5x", "Mi", "1 Gi"] {
            assert!(Quantity::parse(bad).is_none(), "{bad}");
        }
        assert_eq!(canonical(&serde_json::json!("lots")), "lots");
        assert_eq!(canonical(&serde_json::json!(4)), "4");
    }
}
