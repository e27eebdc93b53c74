//! Times in access records: Unix seconds (or milliseconds) and ISO 8601
//! date-times, parsed without a date library, and shown back in UTC.

/// Parses a Unix timestamp or an ISO 8601 / RFC 3339 date-time
/// (`2026-01-31T12:00:00Z`, `2026-01-31 12:00:00`, `+02:00`, a bare date).
/// Times without a zone are UTC.
pub fn parse_time(s: &str) -> Option<i64> {
    let s = s.trim();
    if let Ok(n) = s.parse::<i64>() {
        return Some(if n > 100_000_000_000 { n / 1000 } else { n });
    }
    let b = s.as_bytes();
    let num = |r: core::ops::Range<usize>| -> Option<i64> {
        let t = s.get(r)?;
        t.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| t.parse().ok())?
    };
    if b.len() < 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) {
        return None;
    }
    let mut secs = days_from_civil(y, mo, d) * 86_400;
    let mut i = 10;
    if b.len() > 10 {
        if b[10] != b'T' && b[10] != b' ' && b[10] != b't' {
            return None;
        }
        let (h, mi) = (num(11..13)?, num(14..16)?);
        if b.get(13) != Some(&b':') {
            return None;
        }
        let mut sec = 0;
        i = 16;
        if b.get(16) == Some(&b':') {
            sec = num(17..19)?;
            i = 19;
        }
        if h > 23 || mi > 59 || sec > 60 {
            return None;
        }
        secs += h * 3600 + mi * 60 + sec;
        if b.get(i) == Some(&b'.') {
            i += 1;
            while i < b.len() && b[i].is_ascii_digit() {
                i += 1;
            }
        }
    }
    match &s[i..] {
        "" | "Z" | "z" => {}
        zone => {
            let sign = match zone.as_bytes()[0] {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            let z = zone[1..].replace(':', "");
            if z.len() != 4 || !z.bytes().all(|c| c.is_ascii_digit()) {
                return None;
            }
            let off = z[..2].parse::<i64>().ok()? * 3600 + z[2..].parse::<i64>().ok()? * 60;
            secs -= sign * off;
        }
    }
    Some(secs)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Unix seconds as `YYYY-MM-DDTHH:MM:SSZ`.
pub fn format_time(t: i64) -> String {
    let days = t.div_euclid(86_400);
    let rem = t.rem_euclid(86_400);
    let z = days + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times() {
        assert_eq!(parse_time("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse_time("2023-11-14T22:13:20Z"), Some(1_700_000_000));
        assert_eq!(parse_time("2023-11-14 22:13:20"), Some(1_700_000_000));
        assert_eq!(
            parse_time("2023-11-14T22:13:20.123456"),
            Some(1_700_000_000)
        );
        assert_eq!(parse_time("2023-11-15T00:13:20+02:00"), Some(1_700_000_000));
        assert_eq!(parse_time("2023-11-14T21:13:20-0100"), Some(1_700_000_000));
        assert_eq!(parse_time("2023-11-14"), Some(1_699_920_000));
        assert_eq!(parse_time("2000-02-29T00:00"), Some(951_782_400));
        assert_eq!(parse_time("1700000000"), Some(1_700_000_000));
        for bad in [
            "",
            "tomorrow",
            "2023-13-01",
            "2023-11-14X",
            "2023-11-14T25:00:00",
            "2023-11-14T10:00:00+5",
        ] {
            assert_eq!(parse_time(bad), None, "{bad}");
        }
        assert_eq!(format_time(1_700_000_000), "2023-11-14T22:13:20Z");
        assert_eq!(format_time(0), "1970-01-01T00:00:00Z");
    }
}
