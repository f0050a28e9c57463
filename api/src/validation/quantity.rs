//! Resource quantities (`500m`, `1.5Gi`, `2e3`) parsed as Kubernetes' `resource.ParseQuantity`
//! does, so that bad ones fail with its message and good ones can be compared.

/// Kubernetes' message for a quantity that does not parse.
pub const FORMAT_ERROR: &str =
    "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'";
const SUFFIX_ERROR: &str = "unable to parse quantity's suffix";

/// A parsed quantity, held in nano-units (saturating far beyond anything real),
/// which is exact for every suffix Kubernetes accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Quantity(i128);

impl Quantity {
    pub fn is_negative(self) -> bool {
        self.0 < 0
    }
}

fn digits_end(b: &[u8], from: usize) -> usize {
    let mut i = from;
    while i < b.len() && b[i].is_ascii_digit() {
        i += 1;
    }
    i
}

/// Parses a quantity; the error is Kubernetes' message.
pub fn parse(s: &str) -> Result<Quantity, &'static str> {
    let b = s.as_bytes();
    if b.is_empty() {
        return Err(FORMAT_ERROR);
    }
    let mut pos = 0;
    let negative = b[0] == b'-';
    if matches!(b[0], b'-' | b'+') {
        pos = 1;
    }
    let int_end = digits_end(b, pos);
    let int_part = &s[pos..int_end];
    pos = int_end;
    let mut frac_part = "";
    if b.get(pos) == Some(&b'.') {
        let end = digits_end(b, pos + 1);
        frac_part = &s[pos + 1..end];
        pos = end;
    }
    if int_part.is_empty() && frac_part.is_empty() && !(pos > 0 && b[pos - 1] == b'.') {
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
    let (exp10, pow1024): (i32, u32) = match suffix {
        "" => (0, 0),
        "n" => (-9, 0),
        "u" => (-6, 0),
        "m" => (-3, 0),
        "k" => (3, 0),
        "M" => (6, 0),
        "G" => (9, 0),
        "T" => (12, 0),
        "P" => (15, 0),
        "E" => (18, 0),
        "Ki" => (0, 1),
        "Mi" => (0, 2),
        "Gi" => (0, 3),
        "Ti" => (0, 4),
        "Pi" => (0, 5),
        "Ei" => (0, 6),
        _ => match suffix.strip_prefix(['e', 'E']).map(str::parse::<i32>) {
            Some(Ok(e)) => (e, 0),
            _ => return Err(SUFFIX_ERROR),
        },
    };
    // mantissa * 10^(exp10 - frac_len + 9) * 1024^pow1024 nano-units.
    let digits: String = format!("{int_part}{frac_part}").trim_start_matches('0').to_string();
    let mut value: i128 = 0;
    let mut scale = exp10 + 9 - frac_part.len() as i32;
    for (i, c) in digits.bytes().enumerate() {
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
        // Kubernetes rounds precision below its smallest unit up.
        value += 1;
    }
    for _ in 0..pow1024 {
        value = value.saturating_mul(1024);
    }
    Ok(Quantity(if negative { -value } else { value }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_like_kubernetes() {
        assert_eq!(parse("1Gi").unwrap(), parse("1073741824").unwrap());
        assert_eq!(parse("0.5").unwrap(), parse("500m").unwrap());
        assert_eq!(parse("1e3").unwrap(), parse("1k").unwrap());
        assert_eq!(parse("1.").unwrap(), parse("1").unwrap());
        assert!(parse("100m").unwrap() < parse("1").unwrap());
        assert!(parse("128Mi").unwrap() > parse("100M").unwrap());
        assert!(parse("-1").unwrap().is_negative());
        for bad in ["", "abc", "1.5.5", "1 Gi", "Gi", "--1", "1Gb"] {
            assert_eq!(parse(bad), Err(FORMAT_ERROR), "{bad}");
        }
        assert_eq!(parse("1ki"), Err(SUFFIX_ERROR));
    }
}
