//! The media playlist the segmenter writes, like ffmpeg's hls muxer's
//! (same names, `stream_<id>_<n>.ts`, so the module's patterns hold), with
//! one rule ffmpeg never needs: THE HEAD RULE. A segment that does not
//! begin with a key frame (seg1 of a run with a short first segment) must
//! never be where a new player starts. Players start at the first entry of
//! a short list, else three entries (ffmpeg, VLC) or three target
//! durations (hls.js) from the end; so once the list has 4 entries, those
//! up to and including such a segment leave it at once
//! ([seg0, seg1, seg2, seg3] -> [seg2, seg3]). Pure: renders text.

use std::collections::VecDeque;

/// Players start this many entries from the end of a long list.
const START_FROM_END: usize = 3;

#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// Media sequence number, also the number in the segment's name.
    pub number: u64,
    pub duration: f64,
    /// Begins with a random access point (a player may start here).
    pub independent: bool,
    /// Follows a break in the stream (a new run after a restart).
    pub discontinuity: bool,
}

#[derive(Debug, Clone)]
pub struct Playlist {
    channel: String,
    list_size: usize,
    entries: VecDeque<Entry>,
    /// The number the next segment gets.
    next: u64,
    /// Discontinuities that have left the list.
    discontinuity_sequence: u64,
    /// The next entry follows a break (set by `resume`).
    pending_discontinuity: bool,
}

pub fn segment_name(channel: &str, number: u64) -> String {
    format!("stream_{channel}_{number:03}.ts")
}

impl Playlist {
    pub fn new(channel: &str, list_size: usize) -> Playlist {
        Playlist {
            channel: channel.to_string(),
            list_size: list_size.max(1),
            entries: VecDeque::new(),
            next: 0,
            discontinuity_sequence: 0,
            pending_discontinuity: false,
        }
    }

    /// Carries on a list an earlier run left (a restart, a failover): its
    /// entries stay, numbering goes on, and the join is a discontinuity.
    /// A list without `#EXT-X-INDEPENDENT-SEGMENTS` was written while a
    /// short head was listed: its second entry is not a start.
    pub fn resume(channel: &str, list_size: usize, text: &str) -> Playlist {
        let mut p = Playlist::new(channel, list_size);
        let mut sequence = 0;
        let mut duration = 0.0;
        let mut discontinuity = false;
        let mut independent_tag = false;
        for line in text.lines().map(str::trim) {
            if let Some(v) = line.strip_prefix("#EXT-X-MEDIA-SEQUENCE:") {
                sequence = v.parse().unwrap_or(0);
            } else if let Some(v) = line.strip_prefix("#EXT-X-DISCONTINUITY-SEQUENCE:") {
                p.discontinuity_sequence = v.parse().unwrap_or(0);
            } else if line == "#EXT-X-INDEPENDENT-SEGMENTS" {
                independent_tag = true;
            } else if line == "#EXT-X-DISCONTINUITY" {
                discontinuity = true;
            } else if let Some(v) = line.strip_prefix("#EXTINF:") {
                duration = v
                    .split(',')
                    .next()
                    .and_then(|d| d.parse().ok())
                    .unwrap_or(0.0);
            } else if !line.is_empty() && !line.starts_with('#') {
                p.entries.push_back(Entry {
                    number: sequence + p.entries.len() as u64,
                    duration,
                    independent: true,
                    discontinuity: std::mem::take(&mut discontinuity),
                });
            }
        }
        if !independent_tag {
            if let Some(e) = p.entries.get_mut(1) {
                e.independent = false;
            }
        }
        p.next = sequence + p.entries.len() as u64;
        p.pending_discontinuity = !p.entries.is_empty();
        p
    }

    /// A new list that carries on another's numbering (a takeover by
    /// another node, whose list this one cannot read): its first segment
    /// is `number`, after a break counted from `discontinuity_sequence`.
    pub fn start_after_break(&mut self, number: u64, discontinuity_sequence: u64) {
        self.next = number;
        self.discontinuity_sequence = discontinuity_sequence;
        self.pending_discontinuity = true;
    }

    /// The stream broke (its time stamps jumped): the next entry follows a
    /// discontinuity (none before a first entry: nothing to join).
    pub fn break_here(&mut self) {
        self.pending_discontinuity |= !self.entries.is_empty();
    }

    pub fn entries(&self) -> impl Iterator<Item = &Entry> {
        self.entries.iter()
    }

    /// The number the next segment will get (its file name).
    pub fn next_number(&self) -> u64 {
        self.next
    }

    /// Lists a new segment; returns the numbers that left the list.
    pub fn push(&mut self, duration: f64, independent: bool) -> Vec<u64> {
        self.entries.push_back(Entry {
            number: self.next,
            duration,
            independent,
            discontinuity: std::mem::take(&mut self.pending_discontinuity),
        });
        self.next += 1;
        let mut keep_from = self.entries.len().saturating_sub(self.list_size);
        // The head rule.
        let n = self.entries.len();
        if n > START_FROM_END {
            if let Some(last) = self.entries.iter().rposition(|e| !e.independent) {
                if last >= n - START_FROM_END {
                    keep_from = keep_from.max(last + 1);
                }
            }
        }
        let mut gone = Vec::new();
        for e in self.entries.drain(..keep_from) {
            if e.discontinuity {
                self.discontinuity_sequence += 1;
            }
            gone.push(e.number);
        }
        gone
    }

    pub fn render(&self) -> String {
        use std::fmt::Write;
        let independent = self.entries.iter().all(|e| e.independent);
        let target = self
            .entries
            .iter()
            .map(|e| e.duration.ceil() as u64)
            .max()
            .unwrap_or(1)
            .max(1);
        let mut s = String::from("#EXTM3U\n");
        // As ffmpeg: version 6 for the independent segments tag.
        let _ = writeln!(s, "#EXT-X-VERSION:{}", if independent { 6 } else { 3 });
        let _ = writeln!(s, "#EXT-X-TARGETDURATION:{target}");
        let sequence = self.entries.front().map_or(self.next, |e| e.number);
        let _ = writeln!(s, "#EXT-X-MEDIA-SEQUENCE:{sequence}");
        if self.discontinuity_sequence > 0 {
            let _ = writeln!(
                s,
                "#EXT-X-DISCONTINUITY-SEQUENCE:{}",
                self.discontinuity_sequence
            );
        }
        if independent {
            s.push_str("#EXT-X-INDEPENDENT-SEGMENTS\n");
        }
        for e in &self.entries {
            if e.discontinuity {
                s.push_str("#EXT-X-DISCONTINUITY\n");
            }
            let _ = writeln!(s, "#EXTINF:{:.6},", e.duration);
            let _ = writeln!(s, "{}", segment_name(&self.channel, e.number));
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn numbers(p: &Playlist) -> Vec<u64> {
        p.entries().map(|e| e.number).collect()
    }

    /// Where a player starts: ffmpeg/VLC (3 from the end of a long list)
    /// and hls.js (3 target durations from the end).
    fn starts(p: &Playlist) -> Vec<&Entry> {
        let e: Vec<&Entry> = p.entries().collect();
        let by_count = e.len().saturating_sub(START_FROM_END);
        let text = p.render();
        let target: f64 = text
            .lines()
            .find_map(|l| l.strip_prefix("#EXT-X-TARGETDURATION:"))
            .unwrap()
            .parse()
            .unwrap();
        let total: f64 = e.iter().map(|e| e.duration).sum();
        let mut at = 0.0;
        let mut by_time = 0;
        for (i, x) in e.iter().enumerate() {
            if at + x.duration > total - 3.0 * target {
                by_time = i;
                break;
            }
            at += x.duration;
        }
        vec![e[by_count], e[by_time]]
    }

    #[test]
    fn the_head_leaves_before_a_player_could_start_on_seg1() {
        let mut p = Playlist::new("7", 6);
        assert!(p.push(0.25, true).is_empty());
        assert!(p.push(0.75, false).is_empty());
        assert!(p.render().contains("#EXT-X-VERSION:3\n"));
        assert!(!p.render().contains("INDEPENDENT"));
        assert!(starts(&p).iter().all(|e| e.independent));
        assert!(p.push(4.0, true).is_empty());
        assert!(starts(&p).iter().all(|e| e.independent));
        // The 4th entry would put seg1 3 from the end: the head goes.
        assert_eq!(p.push(4.0, true), vec![0, 1]);
        assert_eq!(numbers(&p), vec![2, 3]);
        let text = p.render();
        assert!(text.contains("#EXT-X-INDEPENDENT-SEGMENTS\n"));
        assert!(text.contains("#EXT-X-MEDIA-SEQUENCE:2\n"));
        for _ in 0..10 {
            p.push(4.0, true);
            assert!(starts(&p).iter().all(|e| e.independent));
        }
        assert_eq!(numbers(&p), vec![8, 9, 10, 11, 12, 13]);
    }

    #[test]
    fn renders_like_ffmpeg() {
        let mut p = Playlist::new("a_b", 3);
        p.push(4.004, true);
        p.push(3.96, true);
        assert_eq!(
            p.render(),
            "#EXTM3U\n#EXT-X-VERSION:6\n#EXT-X-TARGETDURATION:5\n#EXT-X-MEDIA-SEQUENCE:0\n\
             #EXT-X-INDEPENDENT-SEGMENTS\n#EXTINF:4.004000,\nstream_a_b_000.ts\n\
             #EXTINF:3.960000,\nstream_a_b_001.ts\n"
        );
        p.push(4.0, true);
        assert_eq!(p.push(4.0, true), vec![0]);
        assert_eq!(segment_name("1", 1234), "stream_1_1234.ts");
    }

    #[test]
    fn a_resumed_list_goes_on_after_a_discontinuity() {
        let old = "#EXTM3U\n#EXT-X-VERSION:6\n#EXT-X-TARGETDURATION:4\n#EXT-X-MEDIA-SEQUENCE:40\n\
                   #EXT-X-INDEPENDENT-SEGMENTS\n#EXTINF:4.000000,\nstream_9_040.ts\n\
                   #EXTINF:4.000000,\nstream_9_041.ts\n";
        let mut p = Playlist::resume("9", 3, old);
        assert_eq!(p.next_number(), 42);
        p.push(4.0, true);
        let text = p.render();
        assert!(text.ends_with(
            "stream_9_041.ts\n#EXT-X-DISCONTINUITY\n#EXTINF:4.000000,\nstream_9_042.ts\n"
        ));
        assert!(!text.contains("DISCONTINUITY-SEQUENCE"));
        p.push(4.0, true);
        p.push(4.0, true);
        // seg 42 (after the break) has left: counted in the sequence.
        assert_eq!(p.push(4.0, true), vec![42]);
        let text = p.render();
        assert!(text.contains("#EXT-X-DISCONTINUITY-SEQUENCE:1\n"));
        assert!(!text.contains("#EXT-X-DISCONTINUITY\n"));
        // A resumed list carries on its own discontinuity count.
        let again = Playlist::resume("9", 3, &text);
        assert!(again.render().contains("#EXT-X-DISCONTINUITY-SEQUENCE:1\n"));
        assert_eq!(again.next_number(), 46);
    }

    #[test]
    fn a_taken_over_list_numbers_on_after_a_break() {
        let mut p = Playlist::new("9", 3);
        p.start_after_break(104, 1);
        // Shown before the first segment too: the sequence goes on.
        assert!(p.render().contains("#EXT-X-MEDIA-SEQUENCE:104\n"));
        p.push(0.25, true);
        p.push(0.75, false);
        let text = p.render();
        assert!(text.contains("#EXT-X-MEDIA-SEQUENCE:104\n#EXT-X-DISCONTINUITY-SEQUENCE:1\n"));
        assert!(text.contains("#EXT-X-DISCONTINUITY\n#EXTINF:0.250000,\nstream_9_104.ts\n"));
        assert_eq!(text.matches("#EXT-X-DISCONTINUITY\n").count(), 1);
        p.push(4.0, true);
        // The short head leaves (the head rule), the break with it.
        assert_eq!(p.push(4.0, true), vec![104, 105]);
        let text = p.render();
        assert!(text.contains("#EXT-X-DISCONTINUITY-SEQUENCE:2\n"));
        assert!(!text.contains("#EXT-X-DISCONTINUITY\n"));
    }

    #[test]
    fn a_resumed_short_head_is_still_not_a_start() {
        let mut fresh = Playlist::new("9", 6);
        fresh.push(0.25, true);
        fresh.push(0.75, false);
        let mut p = Playlist::resume("9", 6, &fresh.render());
        assert!(!p.entries().nth(1).unwrap().independent);
        p.push(4.0, true);
        assert_eq!(p.push(4.0, true), vec![0, 1]);
        assert!(p.render().contains("#EXT-X-INDEPENDENT-SEGMENTS"));
        // An empty old list: nothing to join, no discontinuity.
        let mut p = Playlist::resume("9", 6, "#EXTM3U\n");
        p.push(4.0, true);
        assert!(!p.render().contains("DISCONTINUITY"));
    }
}
