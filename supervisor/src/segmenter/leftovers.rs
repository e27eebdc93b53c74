//! Segments a previous run left behind. A segment is deleted a few entries
//! after it leaves the list (writer.rs); when a run ends, up to that many
//! had left but were not deleted yet, and a resumed run (a restart) knew
//! nothing of them. Pure: names in, what to delete out.

/// The number of a segment of this channel, from its file name:
/// `stream_<id>_<digits>.ts` (`.ts.tmp` too, with `tmp`). Only digits may
/// follow the id, so channel `1` never claims `stream_1_2_005.ts`.
pub fn segment_number(name: &str, channel: &str, tmp: bool) -> Option<u64> {
    let rest = name.strip_prefix("stream_")?.strip_prefix(channel)?;
    let rest = rest.strip_prefix('_')?;
    let rest = if tmp {
        rest.strip_suffix(".ts.tmp")?
    } else {
        rest.strip_suffix(".ts")?
    };
    if rest.is_empty() || !rest.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    rest.parse().ok()
}

/// What a resumed run does with the files in its directory, given its
/// list's first entry and how many segments are kept after leaving it.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Sweep {
    /// Names to delete now: segments older than the keep margin, and
    /// temporary files of segments before the list's first entry (a run
    /// that died mid-write; this run never writes those names).
    pub delete: Vec<String>,
    /// Segments within the margin, oldest first: deleted as this run's
    /// own segments leave the list, as if this run had listed them.
    pub later: Vec<u64>,
}

pub fn sweep<'a>(
    names: impl IntoIterator<Item = &'a str>,
    channel: &str,
    first: u64,
    keep: u64,
) -> Sweep {
    let mut out = Sweep::default();
    for name in names {
        if let Some(n) = segment_number(name, channel, false) {
            if n + keep < first {
                out.delete.push(name.to_string());
            } else if n < first {
                out.later.push(n);
            }
        } else if segment_number(name, channel, true).is_some_and(|n| n < first) {
            out.delete.push(name.to_string());
        }
    }
    out.delete.sort();
    out.later.sort_unstable();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_of_this_channel_only() {
        assert_eq!(segment_number("stream_1_005.ts", "1", false), Some(5));
        assert_eq!(segment_number("stream_1_1234.ts", "1", false), Some(1234));
        assert_eq!(segment_number("stream_1_2_005.ts", "1", false), None);
        assert_eq!(segment_number("stream_12_005.ts", "1", false), None);
        assert_eq!(segment_number("stream_1.m3u8", "1", false), None);
        assert_eq!(segment_number("stream_1_005.ts.tmp", "1", false), None);
        assert_eq!(segment_number("stream_1_005.ts.tmp", "1", true), Some(5));
        assert_eq!(segment_number("stream_1_.ts", "1", false), None);
    }

    #[test]
    fn old_segments_go_now_or_later() {
        // The resumed list starts at 40; 3 are kept after leaving it.
        let names = [
            "stream_9_030.ts",
            "stream_9_036.ts",
            "stream_9_037.ts",
            "stream_9_038.ts",
            "stream_9_039.ts",
            "stream_9_040.ts",
            "stream_9_041.ts",
            "stream_9_035.ts.tmp",
            "stream_9_042.ts.tmp",
            "stream_9.m3u8",
            "stream_91_001.ts",
            "stream_9_1_001.ts",
            "other.ts",
        ];
        let s = sweep(names, "9", 40, 3);
        assert_eq!(
            s.delete,
            vec!["stream_9_030.ts", "stream_9_035.ts.tmp", "stream_9_036.ts"]
        );
        assert_eq!(s.later, vec![37, 38, 39]);
        // Small numbers: nothing below zero.
        let s = sweep(["stream_9_000.ts", "stream_9_001.ts"], "9", 2, 3);
        assert_eq!(
            s,
            Sweep {
                delete: vec![],
                later: vec![0, 1]
            }
        );
    }
}
