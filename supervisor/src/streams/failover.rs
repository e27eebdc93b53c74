//! Failover between a channel's sources: which one to try after a run
//! failed, and which ones `status` shows as skipped. Pure, so the rotation
//! is tested without ffmpeg.
//!
//! A failed source hands over at once to the next one. Only when every
//! source has failed since the last one that worked does the round count as
//! one failure for the restart back-off; the next round starts again from
//! the first source, the record's preferred one.

use std::time::Duration;

/// Where a channel is in its list of sources.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rotation {
    sources: usize,
    current: usize,
    /// Sources tried since the last one that worked, the current one
    /// included.
    tried: usize,
}

/// What to do after the current source failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// Try the source at this index now, without back-off.
    Failover(usize),
    /// Every source failed: back off, then start over from the first.
    RoundFailed,
}

impl Rotation {
    /// A rotation over `sources` sources (a record always has one at
    /// least), starting with the first.
    pub fn new(sources: usize) -> Rotation {
        Rotation {
            sources,
            current: 0,
            tried: 1,
        }
    }

    /// Index of the source to run now.
    pub fn current(&self) -> usize {
        self.current
    }

    /// With one source there is nothing to fail over to, and nothing to
    /// show as skipped.
    pub fn has_alternatives(&self) -> bool {
        self.sources > 1
    }

    /// The current source failed; `was_ready` if it had produced segments
    /// first. A source that worked starts the count afresh: the others get
    /// their turn before any back-off.
    pub fn failed(&mut self, was_ready: bool) -> Next {
        if was_ready {
            self.tried = 1;
        }
        if self.tried < self.sources {
            self.current = (self.current + 1) % self.sources;
            self.tried += 1;
            Next::Failover(self.current)
        } else {
            self.current = 0;
            self.tried = 1;
            Next::RoundFailed
        }
    }
}

/// Whether a failed run counts as a source that worked: it got ready and
/// then ran for `stable_after` at least. A source that makes a segment or
/// two and dies has not worked: otherwise sources that each do so would
/// hand over to each other for ever, never backing off.
pub fn worked(was_ready: bool, ran_for: Duration, stable_after: Duration) -> bool {
    was_ready && ran_for >= stable_after
}

/// Sources given up on, as (source, reason), for `status`.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Skipped(Vec<(String, String)>);

impl Skipped {
    /// A source failed: its latest reason, listed after the others.
    pub fn failed(&mut self, source: &str, reason: &str) {
        self.worked(source);
        self.0.push((source.to_string(), reason.to_string()));
    }

    /// A source that works is no longer one that was skipped.
    pub fn worked(&mut self, source: &str) {
        self.0.retain(|(s, _)| s != source);
    }

    pub fn iter(&self) -> impl Iterator<Item = &(String, String)> {
        self.0.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_single_source_backs_off_after_every_failure() {
        let mut r = Rotation::new(1);
        assert!(!r.has_alternatives());
        assert_eq!(r.failed(false), Next::RoundFailed);
        assert_eq!(r.current(), 0);
        // Having worked changes nothing: there is no other source.
        assert_eq!(r.failed(true), Next::RoundFailed);
        assert_eq!(r.current(), 0);
    }

    #[test]
    fn every_source_is_tried_once_before_a_back_off() {
        let mut r = Rotation::new(3);
        assert!(r.has_alternatives());
        assert_eq!(r.current(), 0);
        assert_eq!(r.failed(false), Next::Failover(1));
        assert_eq!(r.current(), 1);
        assert_eq!(r.failed(false), Next::Failover(2));
        assert_eq!(r.failed(false), Next::RoundFailed);
        // The next round starts from the preferred source.
        assert_eq!(r.current(), 0);
        assert_eq!(r.failed(false), Next::Failover(1));
    }

    #[test]
    fn a_source_that_worked_gives_the_others_a_new_round() {
        let mut r = Rotation::new(3);
        assert_eq!(r.failed(false), Next::Failover(1));
        // The second source played, then failed: the third and then the
        // first (wrapping around) are tried before backing off.
        assert_eq!(r.failed(true), Next::Failover(2));
        assert_eq!(r.failed(false), Next::Failover(0));
        assert_eq!(r.failed(false), Next::RoundFailed);
        assert_eq!(r.current(), 0);
    }

    #[test]
    fn sources_that_keep_working_alternate_without_back_off() {
        let mut r = Rotation::new(2);
        assert_eq!(r.failed(true), Next::Failover(1));
        assert_eq!(r.failed(true), Next::Failover(0));
        assert_eq!(r.failed(true), Next::Failover(1));
        // The second source never got ready: both were tried since the last
        // one that worked, a whole round.
        assert_eq!(r.failed(false), Next::RoundFailed);
        assert_eq!(r.current(), 0);
    }

    #[test]
    fn a_source_that_dies_after_a_segment_has_not_worked() {
        let s = Duration::from_secs;
        assert!(worked(true, s(12), s(12)));
        assert!(worked(true, s(3600), s(12)));
        assert!(!worked(true, s(3), s(12)));
        assert!(!worked(false, s(3600), s(12)));
        // Two sources that each make a segment and die: every second
        // failure is a whole failed round, so the back-off applies.
        let mut r = Rotation::new(2);
        let mut rounds = 0;
        for _ in 0..10 {
            if r.failed(worked(true, s(3), s(12))) == Next::RoundFailed {
                rounds += 1;
            }
        }
        assert_eq!(rounds, 5);
    }

    #[test]
    fn skipped_sources_keep_their_latest_reason_in_failure_order() {
        let mut s = Skipped::default();
        s.failed("http://a/", "connection refused");
        s.failed("http://b/", "upstream answered HTTP 404");
        s.failed("http://a/", "stalled");
        let list: Vec<_> = s.iter().cloned().collect();
        assert_eq!(
            list,
            [
                (
                    "http://b/".to_string(),
                    "upstream answered HTTP 404".to_string()
                ),
                ("http://a/".to_string(), "stalled".to_string()),
            ]
        );
        s.worked("http://b/");
        s.worked("http://c/");
        let list: Vec<_> = s.iter().map(|(src, _)| src.as_str()).collect();
        assert_eq!(list, ["http://a/"]);
    }
}
