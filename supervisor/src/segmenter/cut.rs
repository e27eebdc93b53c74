//! Where segments begin. Pure: told of each PES start (its kind and decode
//! time), it says whether the PES is dropped, kept in the open segment, or
//! begins a new one.
//!
//! A cold start should not wait a whole keyframe interval for its first
//! segment: seg0 runs from the first key frame K0 for only `first` (a
//! fraction of a second), seg1 from there to the next key frame K1 (so it
//! does not begin with one: the playlist keeps players from starting on
//! it), and every later segment begins on a key frame at least `segment`
//! after the one before. Audio-only sources cut on any audio PES: every
//! audio frame can be decoded on its own. They keep the short seg0 (the
//! first sound comes as soon as a video source's first picture, with the
//! same one pause after it) but their seg1 is an ordinary segment: it has
//! no key frame to wait for.
//!
//! A jump in the time stamps (a source that restarted its clock) ends the
//! open segment where its own timeline ended; the next segment begins at
//! the next random access point after a discontinuity.

use shared::mpegts::{ticks_between, CLOCK};

/// What a PES start is, for cutting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// A video PES; `key`: it starts with a key frame (random access).
    Video { key: bool },
    /// Any other elementary stream's PES (audio).
    Other,
}

/// What to do with a PES (and the packets that carry it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cut {
    /// Before the first key frame (or after a jump, before the next one):
    /// not written anywhere.
    Drop,
    /// Into the open segment.
    Keep,
    /// Ends the open segment (if any) and begins a new one with this PES;
    /// `key`: the new segment begins with a random access point.
    Begin { key: bool },
    /// The time stamps jumped: the open segment ends at `end` (its last
    /// time stamp plus a frame) and the next one follows a discontinuity.
    /// `begin`: this PES (a random access point) begins it; else the PES
    /// is dropped, as is everything until one.
    Jump { end: u64, begin: bool },
}

/// Backwards by more than this from the latest time stamp is a jump (a bit
/// of slack: streams are interleaved in the source's own order, audio may
/// trail video a little).
const BACK_SECS: u64 = 1;
/// Forward by more than this many segments at once is a jump.
const FORWARD_SEGMENTS: u64 = 10;
/// A frame's length before two time stamps were seen (25 fps).
const DEFAULT_STEP: u64 = CLOCK / 25;

/// The open segment.
#[derive(Debug, Clone, Copy)]
struct Open {
    start: u64,
    /// Index in this run (0, 1, ...).
    index: u64,
    /// The latest time stamp seen in it, and the last step forward (about
    /// a frame): where it ends if the time stamps jump.
    latest: u64,
    step: u64,
}

pub struct Cutter {
    /// seg0's length in 90 kHz ticks (None: no short first segment).
    first: Option<u64>,
    segment: u64,
    /// Whether the stream has video (else cut on any PES).
    video: bool,
    /// Whether it also has other streams (audio): seg0 must carry one of
    /// their frames, or a player sets itself up for video alone (hls.js
    /// then fails to append the audio of seg1: bufferAppendError).
    others: bool,
    /// An other stream's PES is in seg0.
    other_in_head: bool,
    open: Option<Open>,
    /// Segments begun in this run (the next one's index).
    begun: u64,
}

fn ticks(secs: f64) -> u64 {
    (secs.max(0.0) * CLOCK as f64).round() as u64
}

impl Cutter {
    /// `first_secs`: seg0's length (0 or not shorter than `segment_secs`:
    /// seg0 is an ordinary segment, as for a resumed run).
    pub fn new(first_secs: f64, segment_secs: f64, video: bool) -> Cutter {
        let segment = ticks(segment_secs).max(1);
        let first = Some(ticks(first_secs)).filter(|&f| f > 0 && f < segment);
        Cutter {
            first,
            segment,
            video,
            others: false,
            other_in_head: false,
            open: None,
            begun: 0,
        }
    }

    /// Whether the stream has video, and other streams besides: learnt
    /// from the PMT, which may come after the cutter was made.
    pub fn set_streams(&mut self, video: bool, others: bool) {
        self.video = video;
        self.others = video && others;
    }

    fn begin(&mut self, time: u64) {
        self.open = Some(Open {
            start: time,
            index: self.begun,
            latest: time,
            step: DEFAULT_STEP,
        });
        self.begun += 1;
    }

    pub fn unit(&mut self, unit: Unit, time: u64) -> Cut {
        let random_access = match unit {
            Unit::Video { key } => key,
            Unit::Other => !self.video,
        };
        let Some(mut open) = self.open else {
            if random_access {
                self.begin(time);
                return Cut::Begin { key: true };
            }
            return Cut::Drop;
        };
        let from_latest = ticks_between(open.latest, time);
        let forward_limit = (FORWARD_SEGMENTS * self.segment).max(10 * CLOCK);
        if from_latest < -((BACK_SECS * CLOCK) as i64) || from_latest > forward_limit as i64 {
            let end = open.latest.wrapping_add(open.step) & ((1 << 33) - 1);
            // A new timeline has no short head.
            self.first = None;
            self.open = None;
            if random_access {
                self.begin(time);
            }
            return Cut::Jump {
                end,
                begin: random_access,
            };
        }
        if from_latest > 0 {
            open.latest = time;
            open.step = (from_latest as u64).min(CLOCK);
        }
        self.open = Some(open);
        let elapsed = ticks_between(open.start, time);
        let due = match (open.index, self.first) {
            // The short head: seg0 ends on any PES after `first` once it
            // holds a frame of every kind of stream (or after a whole
            // segment's time without one), seg1 (with video) on the next
            // key frame, whenever it comes.
            (0, Some(first)) => {
                let long = elapsed >= 0 && elapsed as u64 >= first;
                let complete = !self.others || self.other_in_head;
                long && (complete || elapsed as u64 >= self.segment)
            }
            (1, Some(_)) if self.video => random_access && elapsed > 0,
            _ => random_access && elapsed >= 0 && elapsed as u64 >= self.segment,
        };
        if !due {
            if open.index == 0 && unit == Unit::Other {
                self.other_in_head = true;
            }
            return Cut::Keep;
        }
        self.begin(time);
        Cut::Begin { key: random_access }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_short_head_waits_for_a_frame_of_every_stream() {
        // Audio muxed late: no audio PES in the first 0.3 s after K0.
        let mut c = Cutter::new(0.2, 2.0, true);
        c.set_streams(true, true);
        assert_eq!(c.unit(KEY, 0), Cut::Begin { key: true });
        assert_eq!(c.unit(FRAME, S / 10), Cut::Keep);
        // Past `first`, but seg0 has no audio yet: kept.
        assert_eq!(c.unit(FRAME, 3 * S / 10), Cut::Keep);
        // The first audio frame joins seg0 (even if its time is earlier).
        assert_eq!(c.unit(AUDIO, S / 20), Cut::Keep);
        // Now complete: the next PES past `first` begins seg1.
        assert_eq!(c.unit(FRAME, 4 * S / 10), Cut::Begin { key: false });
        // A stream listed but never sent holds seg0 back a segment at most.
        let mut c = Cutter::new(0.2, 2.0, true);
        c.set_streams(true, true);
        assert_eq!(c.unit(KEY, 0), Cut::Begin { key: true });
        assert_eq!(c.unit(FRAME, S), Cut::Keep);
        assert_eq!(c.unit(FRAME, 2 * S), Cut::Begin { key: false });
    }

    const S: u64 = CLOCK;
    const KEY: Unit = Unit::Video { key: true };
    const FRAME: Unit = Unit::Video { key: false };
    const AUDIO: Unit = Unit::Other;

    #[test]
    fn short_head_then_keyframe_cuts() {
        // 1 s keyframes, 0.25 s first segment, 2 s segments.
        let mut c = Cutter::new(0.25, 2.0, true);
        // Before K0: dropped, audio included.
        assert_eq!(c.unit(AUDIO, 0), Cut::Drop);
        assert_eq!(c.unit(FRAME, S / 10), Cut::Drop);
        let k0 = S / 2;
        assert_eq!(c.unit(KEY, k0), Cut::Begin { key: true });
        assert_eq!(c.unit(AUDIO, k0 + S / 10), Cut::Keep);
        assert_eq!(c.unit(FRAME, k0 + S / 5), Cut::Keep);
        // seg1 begins at the first PES past 0.25 s, not on a key frame.
        assert_eq!(c.unit(AUDIO, k0 + S / 4 + 10), Cut::Begin { key: false });
        assert_eq!(c.unit(FRAME, k0 + S / 2), Cut::Keep);
        // seg2 begins at K1, however short seg1 is.
        assert_eq!(c.unit(KEY, k0 + S), Cut::Begin { key: true });
        // Then key frames at least 2 s apart.
        assert_eq!(c.unit(KEY, k0 + 2 * S), Cut::Keep);
        assert_eq!(c.unit(AUDIO, k0 + 3 * S), Cut::Keep);
        assert_eq!(c.unit(KEY, k0 + 3 * S), Cut::Begin { key: true });
        assert_eq!(c.unit(KEY, k0 + 4 * S), Cut::Keep);
        assert_eq!(c.unit(KEY, k0 + 5 * S), Cut::Begin { key: true });
    }

    #[test]
    fn a_key_frame_past_the_short_head_begins_seg1_as_a_key() {
        let mut c = Cutter::new(0.25, 2.0, true);
        assert_eq!(c.unit(KEY, 0), Cut::Begin { key: true });
        assert_eq!(c.unit(KEY, S / 2), Cut::Begin { key: true });
    }

    #[test]
    fn no_short_head_when_not_shorter() {
        for first in [0.0, 2.0, 5.0] {
            let mut c = Cutter::new(first, 2.0, true);
            assert_eq!(c.unit(KEY, 0), Cut::Begin { key: true });
            assert_eq!(c.unit(AUDIO, S / 2), Cut::Keep);
            assert_eq!(c.unit(KEY, S), Cut::Keep);
            assert_eq!(c.unit(KEY, 2 * S), Cut::Begin { key: true });
        }
    }

    #[test]
    fn audio_only_cuts_on_any_audio_frame() {
        let mut c = Cutter::new(0.25, 2.0, false);
        assert_eq!(c.unit(AUDIO, 7), Cut::Begin { key: true });
        assert_eq!(c.unit(AUDIO, 7 + S / 5), Cut::Keep);
        assert_eq!(c.unit(AUDIO, 7 + S / 4), Cut::Begin { key: true });
        // seg1 is a whole segment: no key frame to wait for.
        assert_eq!(c.unit(AUDIO, 7 + S / 2), Cut::Keep);
        assert_eq!(c.unit(AUDIO, 7 + 2 * S), Cut::Keep);
        assert_eq!(c.unit(AUDIO, 7 + S / 4 + 2 * S), Cut::Begin { key: true });
    }

    #[test]
    fn times_wrap() {
        let wrap = 1u64 << 33;
        let mut c = Cutter::new(0.0, 2.0, true);
        assert_eq!(c.unit(KEY, wrap - S), Cut::Begin { key: true });
        assert_eq!(c.unit(KEY, 0), Cut::Keep);
        assert_eq!(c.unit(KEY, S), Cut::Begin { key: true });
        // A little back (audio trailing video): no jump.
        assert_eq!(c.unit(AUDIO, S / 2), Cut::Keep);
        assert_eq!(c.unit(KEY, 3 * S), Cut::Begin { key: true });
    }

    #[test]
    fn audio_only_has_a_short_head_then_whole_segments() {
        // 1024-sample AAC frames at 48 kHz: 1920 ticks each.
        let mut c = Cutter::new(0.25, 2.0, true);
        c.set_streams(false, false);
        let frame = 1920;
        let mut begins = Vec::new();
        for i in 0..400u64 {
            if let Cut::Begin { key } = c.unit(AUDIO, i * frame) {
                assert!(key);
                begins.push(i * frame);
            }
        }
        // seg0 0.256 s, then 2 s segments (not one frame for seg1).
        let lengths: Vec<u64> = begins.windows(2).map(|w| w[1] - w[0]).collect();
        assert_eq!(lengths[0], 12 * frame);
        assert!(lengths[1..]
            .iter()
            .all(|&l| l >= 2 * S && l < 2 * S + frame));
        assert!(lengths.len() >= 4);
    }

    #[test]
    fn a_jump_back_ends_the_segment_where_its_timeline_ended() {
        let mut c = Cutter::new(0.0, 2.0, true);
        c.set_streams(true, true);
        let t0 = 1000 * S;
        assert_eq!(c.unit(KEY, t0), Cut::Begin { key: true });
        assert_eq!(c.unit(FRAME, t0 + S / 25), Cut::Keep);
        assert_eq!(c.unit(AUDIO, t0 + S / 25), Cut::Keep);
        assert_eq!(c.unit(FRAME, t0 + 2 * S / 25), Cut::Keep);
        // The source restarted at 0: seg0 ends a frame after its last time
        // stamp; frames until the next key frame are dropped.
        let end = t0 + 3 * S / 25;
        assert_eq!(c.unit(FRAME, 10), Cut::Jump { end, begin: false });
        assert_eq!(c.unit(AUDIO, 20), Cut::Drop);
        assert_eq!(c.unit(KEY, 30), Cut::Begin { key: true });
        // The new timeline goes on as usual.
        assert_eq!(c.unit(KEY, 30 + S), Cut::Keep);
        assert_eq!(c.unit(KEY, 30 + 2 * S), Cut::Begin { key: true });
    }

    #[test]
    fn a_jump_forward_ends_the_segment_and_a_key_frame_begins_the_next() {
        let mut c = Cutter::new(0.25, 2.0, true);
        assert_eq!(c.unit(KEY, 0), Cut::Begin { key: true });
        assert_eq!(c.unit(FRAME, S / 10), Cut::Keep);
        // 10 segments ahead is still time going on (a long gap)...
        assert_eq!(c.unit(FRAME, S / 10 + 10 * S), Cut::Begin { key: false });
        assert_eq!(c.unit(KEY, 11 * S), Cut::Begin { key: true });
        // ...more than that is a jump; a key frame there begins the next
        // segment at once, and a new timeline has no short head.
        assert_eq!(c.unit(FRAME, 11 * S + S / 25), Cut::Keep);
        let end = 11 * S + 2 * S / 25;
        let t = 11 * S + S / 25 + 21 * S;
        assert_eq!(c.unit(KEY, t), Cut::Jump { end, begin: true });
        assert_eq!(c.unit(KEY, t + S), Cut::Keep);
        assert_eq!(c.unit(KEY, t + 2 * S), Cut::Begin { key: true });
    }

    #[test]
    fn audio_only_jumps_begin_at_once() {
        let mut c = Cutter::new(0.0, 2.0, false);
        assert_eq!(c.unit(AUDIO, 5 * S), Cut::Begin { key: true });
        assert_eq!(c.unit(AUDIO, 5 * S + 1920), Cut::Keep);
        assert_eq!(
            c.unit(AUDIO, 0),
            Cut::Jump {
                end: 5 * S + 2 * 1920,
                begin: true
            }
        );
    }
}
