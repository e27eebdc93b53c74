//! A process' CPU time and resident memory from /proc, read only when the
//! metrics are rendered. The parsers are pure; the clock tick and page
//! size come from the auxiliary vector (/proc/self/auxv), no libc call.

use std::sync::OnceLock;

/// CPU seconds (user + system, with waited-for children) and resident
/// bytes of one process.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Usage {
    pub cpu_seconds: f64,
    pub rss_bytes: u64,
}

/// Clock ticks (utime, stime) from /proc/<pid>/stat text: the fields after
/// the command name, which is in parentheses and may hold anything, so
/// the text is cut at its last ')'.
pub fn parse_stat_ticks(stat: &str) -> Option<u64> {
    let (_, rest) = stat.rsplit_once(')')?;
    let f: Vec<&str> = rest.split_ascii_whitespace().collect();
    // rest[0] is field 3 (state); utime, stime, cutime, cstime are 14-17.
    let tick = |n: usize| f.get(n - 3)?.parse::<u64>().ok();
    // Checked: the text is the kernel's, but an absurd value must give
    // no sample rather than a wrapped one (found by fuzzing).
    tick(14)?
        .checked_add(tick(15)?)?
        .checked_add(tick(16)?)?
        .checked_add(tick(17)?)
}

/// Resident pages from /proc/<pid>/statm text (its second field).
pub fn parse_statm_pages(statm: &str) -> Option<u64> {
    statm.split_ascii_whitespace().nth(1)?.parse().ok()
}

/// An auxiliary vector entry of native-endian (type, value) words.
pub fn auxv_value(auxv: &[u8], wanted: u64) -> Option<u64> {
    const W: usize = std::mem::size_of::<usize>();
    auxv.chunks_exact(2 * W).find_map(|pair| {
        let word = |b: &[u8]| {
            let mut a = [0u8; W];
            a.copy_from_slice(b);
            usize::from_ne_bytes(a) as u64
        };
        (word(&pair[..W]) == wanted).then(|| word(&pair[W..]))
    })
}

const AT_PAGESZ: u64 = 6;
const AT_CLKTCK: u64 = 17;

/// (clock ticks per second, page size), read once.
fn units() -> (u64, u64) {
    static UNITS: OnceLock<(u64, u64)> = OnceLock::new();
    *UNITS.get_or_init(|| {
        let auxv = std::fs::read("/proc/self/auxv").unwrap_or_default();
        (
            auxv_value(&auxv, AT_CLKTCK)
                .filter(|n| *n > 0)
                .unwrap_or(100),
            auxv_value(&auxv, AT_PAGESZ)
                .filter(|n| *n > 0)
                .unwrap_or(4096),
        )
    })
}

/// The usage of `pid`, or `None` when it is gone or unreadable.
pub fn usage(pid: u32) -> Option<Usage> {
    let (hz, page) = units();
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let statm = std::fs::read_to_string(format!("/proc/{pid}/statm")).ok()?;
    Some(Usage {
        cpu_seconds: parse_stat_ticks(&stat)? as f64 / hz as f64,
        rss_bytes: parse_statm_pages(&statm)?.saturating_mul(page),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_ticks_after_an_odd_command_name() {
        let stat = "4242 (ff) mp(eg) 1) S 1 4242 4242 0 -1 4194560 900 0 0 0 \
                    150 30 7 3 20 0 5 0 1234 100000 2000 18446744073709551615";
        assert_eq!(parse_stat_ticks(stat), Some(190));
        assert_eq!(parse_stat_ticks("4242 (x) S 1 2"), None);
        assert_eq!(parse_stat_ticks("no parenthesis"), None);
        assert_eq!(parse_stat_ticks(""), None);
        // Ticks that would overflow: no value, no panic.
        let huge = "1 (x) S 1 1 1 0 -1 0 0 0 0 0 \
                    18446744073709551615 1 0 0 20 0 1 0 1 1 1 1";
        assert_eq!(parse_stat_ticks(huge), None);
    }

    #[test]
    fn statm_pages() {
        assert_eq!(
            parse_statm_pages("61234 2048 1024 100 0 3000 0\n"),
            Some(2048)
        );
        assert_eq!(parse_statm_pages("61234"), None);
        assert_eq!(parse_statm_pages("a b"), None);
    }

    #[test]
    fn auxv_entries() {
        let mut v = Vec::new();
        for (t, val) in [(6usize, 4096usize), (17, 100), (0, 0)] {
            v.extend_from_slice(&t.to_ne_bytes());
            v.extend_from_slice(&val.to_ne_bytes());
        }
        assert_eq!(auxv_value(&v, AT_PAGESZ), Some(4096));
        assert_eq!(auxv_value(&v, AT_CLKTCK), Some(100));
        assert_eq!(auxv_value(&v, 99), None);
        assert_eq!(auxv_value(&v[..5], 6), None);
    }

    #[test]
    fn our_own_usage_is_readable() {
        let u = usage(std::process::id()).expect("own /proc entry");
        assert!(u.rss_bytes > 0);
        assert!(u.cpu_seconds >= 0.0);
        assert_eq!(usage(u32::MAX), None);
    }
}
