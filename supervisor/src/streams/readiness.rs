//! Readiness and stall detection of one ffmpeg run, from the playlist's
//! progress at each look. Pure: the caller reads the files and the clock.

use std::time::{Duration, Instant};

/// What a look at the playlist means for the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Seen {
    /// Nothing to act on: still starting, or advancing as it should.
    Waiting,
    /// The first segment of this run is there: viewers can be served.
    Ready,
    /// No segment of its own within the start timeout.
    StartTimedOut,
    /// Was ready, but the playlist has not advanced for the stall timeout.
    Stalled,
}

/// Readiness and stall detection for one run, from the playlist's progress
/// at each look. Pure: the caller reads the files and the clock.
pub(super) struct Watch {
    begun: Instant,
    /// A resumed run's progress at its start, left by the run before: the
    /// run is ready only once past it.
    baseline: Option<u64>,
    start_timeout: Duration,
    stall_after: Duration,
    ready: bool,
    /// The last progress seen once ready, and when it was first seen.
    last: (Option<u64>, Instant),
}

impl Watch {
    pub(super) fn new(
        begun: Instant,
        baseline: Option<u64>,
        start_timeout: Duration,
        stall_after: Duration,
    ) -> Watch {
        Watch {
            begun,
            baseline,
            start_timeout,
            stall_after,
            ready: false,
            last: (None, begun),
        }
    }

    pub(super) fn ready(&self) -> bool {
        self.ready
    }

    /// While starting, viewers are held until the first segment: look often
    /// (a stat and a small read); once ready, twice a second.
    pub(super) fn tick(&self) -> Duration {
        if self.ready {
            Duration::from_millis(500)
        } else {
            Duration::from_millis(20)
        }
    }

    /// A look at `now`: `progress` is the playlist's (see
    /// `hls_files::progress`); `playlist_ready` reads the playlist, so it is
    /// asked only once the run has advanced.
    pub(super) fn look(
        &mut self,
        now: Instant,
        progress: Option<u64>,
        playlist_ready: impl FnOnce() -> bool,
    ) -> Seen {
        if !self.ready {
            let advanced = self.baseline.is_none() || progress > self.baseline;
            if advanced && playlist_ready() {
                self.ready = true;
                self.last = (progress, now);
                Seen::Ready
            } else if now.duration_since(self.begun) > self.start_timeout {
                Seen::StartTimedOut
            } else {
                Seen::Waiting
            }
        } else if progress != self.last.0 {
            self.last = (progress, now);
            Seen::Waiting
        } else if now.duration_since(self.last.1) >= self.stall_after {
            Seen::Stalled
        } else {
            Seen::Waiting
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    const START: Duration = Duration::from_secs(10);
    const STALL: Duration = Duration::from_secs(6);

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn a_fresh_run_is_ready_at_its_first_complete_playlist() {
        let t0 = Instant::now();
        let mut w = Watch::new(t0, None, START, STALL);
        assert_eq!(w.tick(), ms(20));
        assert_eq!(w.look(t0 + ms(20), None, || false), Seen::Waiting);
        // A segment is listed but not yet written: keep holding viewers.
        assert_eq!(w.look(t0 + ms(40), Some(1), || false), Seen::Waiting);
        assert!(!w.ready());
        assert_eq!(w.look(t0 + ms(60), Some(1), || true), Seen::Ready);
        assert!(w.ready());
        assert_eq!(w.tick(), ms(500));
    }

    #[test]
    fn a_resumed_run_is_ready_only_past_the_segments_it_inherited() {
        let t0 = Instant::now();
        let mut w = Watch::new(t0, Some(5), START, STALL);
        let asked = Cell::new(0);
        let ready = || {
            asked.set(asked.get() + 1);
            true
        };
        assert_eq!(w.look(t0 + ms(20), Some(5), ready), Seen::Waiting);
        assert_eq!(w.look(t0 + ms(40), None, ready), Seen::Waiting);
        // The playlist is not read before the run has added a segment.
        assert_eq!(asked.get(), 0);
        assert_eq!(w.look(t0 + ms(60), Some(6), ready), Seen::Ready);
        assert_eq!(asked.get(), 1);
    }

    #[test]
    fn a_start_times_out_only_after_the_whole_start_timeout() {
        let t0 = Instant::now();
        let mut w = Watch::new(t0, None, START, STALL);
        assert_eq!(w.look(t0 + START, None, || false), Seen::Waiting);
        assert_eq!(
            w.look(t0 + START + ms(1), None, || false),
            Seen::StartTimedOut
        );
        // An incomplete playlist does not count as a start either.
        let mut w = Watch::new(t0, None, START, STALL);
        assert_eq!(
            w.look(t0 + START + ms(1), Some(1), || false),
            Seen::StartTimedOut
        );
    }

    #[test]
    fn a_ready_run_stalls_when_its_playlist_stops_advancing() {
        let t0 = Instant::now();
        let mut w = Watch::new(t0, None, START, STALL);
        let ready_at = t0 + ms(100);
        assert_eq!(w.look(ready_at, Some(3), || true), Seen::Ready);
        assert_eq!(
            w.look(ready_at + STALL - ms(1), Some(3), || true),
            Seen::Waiting
        );
        // A new segment restarts the stall clock.
        let moved = ready_at + STALL - ms(1);
        assert_eq!(w.look(moved, Some(4), || true), Seen::Waiting);
        assert_eq!(
            w.look(moved + STALL - ms(1), Some(4), || true),
            Seen::Waiting
        );
        assert_eq!(w.look(moved + STALL, Some(4), || true), Seen::Stalled);
        // A ready run never times out starting, however long it runs.
        let mut w = Watch::new(t0, None, START, STALL);
        w.look(t0, Some(1), || true);
        assert_eq!(w.look(t0 + START * 10, Some(2), || true), Seen::Waiting);
    }
}
