//! A channel's HLS position, kept in Redis (`hlspos:<channel>`) by its
//! owner so that a node taking the channel over (the owner died, its lease
//! expired) numbers on past it instead of from 0: nodes have separate HLS
//! directories, and a player that retries the same URL (or watches through
//! an edge) would otherwise see the media sequence jump back and wait for
//! numbers it already played. Pure: parsing, rendering, the start.

use std::time::Duration;

/// Where a channel's stream stands: the number the next segment gets and
/// the discontinuity sequence number of the newest listed segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    pub next: u64,
    pub discontinuity: u64,
}

/// Where a run that takes a channel over starts its numbering.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Start {
    /// The first segment's media sequence number (and file name).
    pub number: u64,
    /// The playlist's EXT-X-DISCONTINUITY-SEQUENCE; the first segment
    /// carries #EXT-X-DISCONTINUITY.
    pub discontinuity_sequence: u64,
}

/// How long the record outlives the owner: longer than a lease, so a
/// takeover (at most a lease TTL after the last renewal) still finds it;
/// a few minutes, after which nobody can still be watching the old run.
pub fn record_ttl(lease_ttl: Duration) -> Duration {
    (lease_ttl * 4).max(Duration::from_secs(300))
}

/// The position a playlist gives (an owner's media playlist on its disk):
/// `None` while it lists no segment. Discontinuities listed count: the
/// newest segment's number is the sequence plus the tags before it.
pub fn of_playlist(text: &str) -> Option<Position> {
    let mut sequence = 0;
    let mut discontinuity = 0;
    let mut segments = 0;
    for line in text.lines().map(str::trim) {
        if let Some(v) = line.strip_prefix("#EXT-X-MEDIA-SEQUENCE:") {
            sequence = v.trim().parse().ok()?;
        } else if let Some(v) = line.strip_prefix("#EXT-X-DISCONTINUITY-SEQUENCE:") {
            discontinuity += v.trim().parse::<u64>().ok()?;
        } else if line == "#EXT-X-DISCONTINUITY" {
            discontinuity += 1;
        } else if !line.is_empty() && !line.starts_with('#') {
            segments += 1;
        }
    }
    (segments > 0).then_some(Position {
        next: sequence + segments,
        discontinuity,
    })
}

/// The Redis value: `<next media sequence> <discontinuity sequence>`.
pub fn render(p: Position) -> String {
    format!("{} {}", p.next, p.discontinuity)
}

pub fn parse(value: &str) -> Option<Position> {
    let mut it = value.split_ascii_whitespace();
    let next = it.next()?.parse().ok()?;
    let discontinuity = it.next()?.parse().ok()?;
    it.next().is_none().then_some(Position {
        next,
        discontinuity,
    })
}

/// Where a run taking over from `recorded` starts. The old owner may have
/// published after its last record: the segment it was writing then (it
/// gets the recorded number) and whole segments until its lease could end,
/// which is at most one lease TTL after the record (the record goes with a
/// renewal, and the owner stops itself a safety margin before the lease
/// can end; a dead owner publishes nothing). A segment lasts at least
/// `segment` past a run's first, so at most ceil(ttl / segment) whole ones
/// fit: starting past those and the one being written, no number an old
/// player fetched comes again.
///
/// The discontinuity sequence jumps by the same margin. The old owner may
/// also have restarted after its record (each restart marks one more
/// discontinuity, and a run records when it becomes ready, but that record
/// may not have landed): a discontinuity is only ever published on a
/// segment (the first of a restarted run), so no more of them can follow
/// the record than segments can, and +1 could repeat a number a player
/// already saw with other media.
pub fn takeover_start(recorded: Position, lease_ttl: Duration, segment: Duration) -> Start {
    let margin = unrecorded_segments(lease_ttl, segment);
    Start {
        number: recorded.next.saturating_add(margin),
        discontinuity_sequence: recorded.discontinuity.saturating_add(margin),
    }
}

/// How many segments an owner can publish after its last record: the one
/// being written and the whole ones a lease TTL holds.
fn unrecorded_segments(lease_ttl: Duration, segment: Duration) -> u64 {
    let seg = segment.as_secs_f64().max(0.1);
    (lease_ttl.as_secs_f64() / seg).ceil() as u64 + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_playlist_gives_the_next_number_and_its_discontinuities() {
        let text = "#EXTM3U\n#EXT-X-VERSION:6\n#EXT-X-TARGETDURATION:4\n#EXT-X-MEDIA-SEQUENCE:40\n\
                    #EXT-X-DISCONTINUITY-SEQUENCE:2\n#EXTINF:4.0,\nstream_9_040.ts\n\
                    #EXT-X-DISCONTINUITY\n#EXTINF:4.0,\nstream_9_041.ts\n";
        let p = of_playlist(text).unwrap();
        assert_eq!(
            p,
            Position {
                next: 42,
                discontinuity: 3
            }
        );
        let fresh = "#EXTM3U\n#EXT-X-MEDIA-SEQUENCE:0\n#EXTINF:1.0,\nstream_1_000.ts\n";
        assert_eq!(
            of_playlist(fresh),
            Some(Position {
                next: 1,
                discontinuity: 0
            })
        );
        // No segment yet, or a broken sequence: nothing to record.
        assert_eq!(of_playlist("#EXTM3U\n#EXT-X-MEDIA-SEQUENCE:5\n"), None);
        assert_eq!(
            of_playlist("#EXT-X-MEDIA-SEQUENCE:x\n#EXTINF:1,\na.ts\n"),
            None
        );
    }

    #[test]
    fn the_redis_value_round_trips_and_refuses_garbage() {
        let p = Position {
            next: 1234,
            discontinuity: 5,
        };
        assert_eq!(render(p), "1234 5");
        assert_eq!(parse("1234 5"), Some(p));
        for bad in ["", "12", "12 x", "-1 0", "1 2 3", "1,2"] {
            assert_eq!(parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn a_takeover_starts_past_what_the_old_owner_could_still_publish() {
        let rec = Position {
            next: 100,
            discontinuity: 0,
        };
        // 10 s lease, 4 s segments: the one being written + 3 whole ones.
        let s = takeover_start(rec, Duration::from_secs(10), Duration::from_secs(4));
        assert_eq!(
            s,
            Start {
                number: 104,
                discontinuity_sequence: 4
            }
        );
        // 6 s lease, 2 s segments: exactly 3 fit, plus the one being written.
        let s = takeover_start(rec, Duration::from_secs(6), Duration::from_secs(2));
        assert_eq!(s.number, 104);
        assert_eq!(s.discontinuity_sequence, 4);
        assert!(record_ttl(Duration::from_secs(10)) > Duration::from_secs(10));
        assert!(record_ttl(Duration::from_secs(600)) > Duration::from_secs(600));
    }

    #[test]
    fn a_takeover_marks_a_discontinuity_past_any_the_old_owner_published() {
        // The old owner published every segment it could after its record,
        // each the first of a restarted run (so each after one more
        // #EXT-X-DISCONTINUITY): the newest of them is in domain rec + n.
        let rec = Position {
            next: 100,
            discontinuity: 7,
        };
        for (ttl, seg) in [(10, 4), (6, 2), (6, 1), (30, 1), (1, 4)] {
            let (ttl, seg) = (Duration::from_secs(ttl), Duration::from_secs(seg));
            let s = takeover_start(rec, ttl, seg);
            let published = s.number - rec.next;
            let newest_old = rec.discontinuity + published;
            // The takeover's first segment carries #EXT-X-DISCONTINUITY:
            // it is in domain discontinuity_sequence + 1.
            assert!(s.discontinuity_sequence + 1 > newest_old, "{ttl:?} {seg:?}");
            assert!(s.discontinuity_sequence > rec.discontinuity);
        }
    }
}
