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
//! audio frame can be decoded on its own.

use super::ts::{ticks_between, CLOCK};

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
    /// Before the first key frame: not written anywhere.
    Drop,
    /// Into the open segment.
    Keep,
    /// Ends the open segment (if any) and begins a new one with this PES;
    /// `key`: the new segment begins with a random access point.
    Begin { key: bool },
}

/// A jump in time bigger than this (or backwards) is a new timeline (the
/// source restarted): the next random access point begins a segment.
const JUMP_SECS: u64 = 60;

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
    /// The open segment's start time and index in this run (0, 1, ...).
    open: Option<(u64, u64)>,
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
        }
    }

    /// Whether the stream has video, and other streams besides: learnt
    /// from the PMT, which may come after the cutter was made.
    pub fn set_streams(&mut self, video: bool, others: bool) {
        self.video = video;
        self.others = video && others;
    }

    pub fn unit(&mut self, unit: Unit, time: u64) -> Cut {
        let random_access = match unit {
            Unit::Video { key } => key,
            Unit::Other => !self.video,
        };
        let Some((start, index)) = self.open else {
            if random_access {
                self.open = Some((time, 0));
                return Cut::Begin { key: true };
            }
            return Cut::Drop;
        };
        let elapsed = ticks_between(start, time);
        let jumped = elapsed < 0 || elapsed as u64 > JUMP_SECS * CLOCK;
        let due = match (index, self.first) {
            // The short head: seg0 ends on any PES after `first` once it
            // holds a frame of every kind of stream (or after a whole
            // segment's time without one), seg1 on the next key frame,
            // whenever it comes.
            (0, Some(first)) => {
                let long = elapsed >= 0 && elapsed as u64 >= first;
                let complete = !self.others || self.other_in_head;
                long && (complete || elapsed as u64 >= self.segment)
            }
            (1, Some(_)) => random_access,
            _ => random_access && (jumped || elapsed as u64 >= self.segment),
        };
        if !due {
            if index == 0 && unit == Unit::Other {
                self.other_in_head = true;
            }
            return Cut::Keep;
        }
        self.open = Some((time, index + 1));
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
        assert_eq!(c.unit(AUDIO, 7 + S / 2), Cut::Begin { key: true });
        assert_eq!(c.unit(AUDIO, 7 + 2 * S), Cut::Keep);
        assert_eq!(c.unit(AUDIO, 7 + S / 2 + 2 * S), Cut::Begin { key: true });
    }

    #[test]
    fn times_wrap_and_jump() {
        let wrap = 1u64 << 33;
        let mut c = Cutter::new(0.0, 2.0, true);
        assert_eq!(c.unit(KEY, wrap - S), Cut::Begin { key: true });
        assert_eq!(c.unit(KEY, 0), Cut::Keep);
        assert_eq!(c.unit(KEY, S), Cut::Begin { key: true });
        // The source restarted its clock: cut at the next key frame.
        assert_eq!(c.unit(FRAME, 500), Cut::Keep);
        assert_eq!(c.unit(KEY, 1000), Cut::Begin { key: true });
        assert_eq!(c.unit(KEY, 1000 + 61 * S), Cut::Begin { key: true });
    }
}
