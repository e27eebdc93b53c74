//! Time values in nginx's syntax (`15s`, `500ms`, `1m30s`, bare numbers are
//! seconds), used by the module's directives and the supervisor's flags so
//! both read times the same way.

/// Parses an nginx-style time into milliseconds.
pub fn parse_msec(text: &str) -> Result<u64, String> {
    let s = text.trim();
    if s.is_empty() {
        return Err("empty time value".into());
    }
    let bytes = s.as_bytes();
    let mut total: u64 = 0;
    let mut i = 0;
    while i < bytes.len() {
        let start = i;
        while i < bytes.len() && bytes[i].is_ascii_digit() {
            i += 1;
        }
        if start == i {
            return Err(format!(
                "invalid time \"{text}\": expected a number at offset {start} (e.g. 15s, 500ms, 1m30s)"
            ));
        }
        let n: u64 = s[start..i]
            .parse()
            .map_err(|_| format!("invalid time \"{text}\": number too large"))?;
        let unit_start = i;
        while i < bytes.len() && bytes[i].is_ascii_alphabetic() {
            i += 1;
        }
        let scale: u64 = match &s[unit_start..i] {
            "ms" => 1,
            "" | "s" => 1_000,
            "m" => 60_000,
            "h" => 3_600_000,
            "d" => 86_400_000,
            "w" => 7 * 86_400_000,
            unit => {
                return Err(format!(
                    "invalid time \"{text}\": unknown unit \"{unit}\" (use ms, s, m, h, d or w)"
                ))
            }
        };
        if unit_start == i && i < bytes.len() {
            return Err(format!(
                "invalid time \"{text}\": a bare number must come last"
            ));
        }
        total = n
            .checked_mul(scale)
            .and_then(|v| total.checked_add(v))
            .ok_or_else(|| format!("invalid time \"{text}\": too large"))?;
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units() {
        assert_eq!(parse_msec("15s"), Ok(15_000));
        assert_eq!(parse_msec("15"), Ok(15_000));
        assert_eq!(parse_msec("500ms"), Ok(500));
        assert_eq!(parse_msec("1m30s"), Ok(90_000));
        assert_eq!(parse_msec("2h"), Ok(7_200_000));
        assert_eq!(parse_msec("1d"), Ok(86_400_000));
        assert_eq!(parse_msec("0"), Ok(0));
    }

    #[test]
    fn errors_are_precise() {
        assert!(parse_msec("").unwrap_err().contains("empty"));
        assert!(parse_msec("abc").unwrap_err().contains("expected a number"));
        assert!(parse_msec("5x").unwrap_err().contains("unknown unit \"x\""));
        assert!(parse_msec("-5s").unwrap_err().contains("expected a number"));
        assert!(parse_msec("5 1s")
            .unwrap_err()
            .contains("bare number must come last"));
        assert!(parse_msec("1s 5")
            .unwrap_err()
            .contains("expected a number"));
        assert!(parse_msec("99999999999999999999s")
            .unwrap_err()
            .contains("too large"));
        assert!(parse_msec("999999999999999w")
            .unwrap_err()
            .contains("too large"));
    }
}
