//! XMLTV times (`YYYYMMDDhhmmss +zzzz`, seconds and zone optional) to
//! Unix seconds and back, and the `YYYY-MM-DD HH:MM:SS` form the Xtream
//! API shows. UTC throughout: the zone of an input time is applied, and
//! every output is in UTC (`+0000`).

/// Unix seconds of an XMLTV time, or `None` if it is not one.
pub fn parse(s: &str) -> Option<i64> {
    let s = s.trim();
    let (digits, zone) = match s.find(|c: char| !c.is_ascii_digit()) {
        Some(at) => (&s[..at], s[at..].trim()),
        None => (s, ""),
    };
    // YYYYMMDDhhmm at least; seconds optional.
    if !(digits.len() == 12 || digits.len() == 14) {
        return None;
    }
    let n = |a: usize, b: usize| digits[a..b].parse::<i64>().ok();
    let (y, mo, d, h, mi) = (n(0, 4)?, n(4, 6)?, n(6, 8)?, n(8, 10)?, n(10, 12)?);
    let sec = if digits.len() == 14 { n(12, 14)? } else { 0 };
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || sec > 60 {
        return None;
    }
    let offset = match zone {
        "" | "Z" | "UTC" | "GMT" => 0,
        z => {
            let (sign, rest) = match z.as_bytes()[0] {
                b'+' => (1, &z[1..]),
                b'-' => (-1, &z[1..]),
                _ => return None,
            };
            let rest = rest.replace(':', "");
            if rest.len() != 4 || !rest.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            let zh: i64 = rest[..2].parse().ok()?;
            let zm: i64 = rest[2..].parse().ok()?;
            if zh > 14 || zm > 59 {
                return None;
            }
            sign * (zh * 3600 + zm * 60)
        }
    };
    Some(days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + sec - offset)
}

/// `YYYYMMDDhhmmss +0000`.
pub fn xmltv(t: i64) -> String {
    let (y, mo, d, h, mi, s) = civil(t);
    format!("{y:04}{mo:02}{d:02}{h:02}{mi:02}{s:02} +0000")
}

/// `YYYY-MM-DD HH:MM:SS` (UTC), as Xtream's EPG listings show times.
pub fn listing(t: i64) -> String {
    let (y, mo, d, h, mi, s) = civil(t);
    format!("{y:04}-{mo:02}-{d:02} {h:02}:{mi:02}:{s:02}")
}

fn civil(t: i64) -> (i64, i64, i64, i64, i64, i64) {
    let days = t.div_euclid(86_400);
    let rem = t.rem_euclid(86_400);
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d, rem / 3600, rem % 3600 / 60, rem % 60)
}

fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_xmltv_times() {
        assert_eq!(parse("20240301120000 +0000"), Some(1_709_294_400));
        assert_eq!(parse("20240301140000 +0200"), Some(1_709_294_400));
        assert_eq!(parse("20240301070000 -0500"), Some(1_709_294_400));
        assert_eq!(parse("202403011200"), Some(1_709_294_400));
        assert_eq!(parse("20240301120000"), Some(1_709_294_400));
        assert_eq!(parse("19700101000000 +0000"), Some(0));
        for bad in [
            "",
            "2024",
            "20241301120000 +0000",
            "20240301120000 0200",
            "20240301126000",
            "x",
        ] {
            assert_eq!(parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn formats_round_trip() {
        for t in [0, 1_709_294_400, 1_709_294_399, 4_102_444_800] {
            assert_eq!(parse(&xmltv(t)), Some(t));
        }
        assert_eq!(xmltv(1_709_294_400), "20240301120000 +0000");
        assert_eq!(listing(1_709_294_400), "2024-03-01 12:00:00");
        assert_eq!(listing(951_825_600), "2000-02-29 12:00:00");
    }
}
