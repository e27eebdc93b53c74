//! When the unchanged playlist is written again. nginx's module calls a
//! playlist stale when it has not changed for max(3 × its target duration,
//! 10 s). The target is the longest listed segment (as ffmpeg's hls muxer
//! computes it), so while only the short head is listed it is 1, and a
//! source whose keyframe interval is over ~10 s would look stalled while
//! segment 1 is still being cut. So the segmenter writes the same list
//! again (temp + rename: a new mtime) when nothing was published for a
//! while but ffmpeg's output still arrives. A silent pipe is a real stall:
//! then nothing is re-published and the list goes stale as it should.
//! Pure: the decision only.

use std::time::Duration;

/// Nothing published for this long, with output arriving: write again.
pub const REPUBLISH_AFTER: Duration = Duration::from_secs(5);

/// Whether to re-publish the playlist now. `since_published`: since this
/// run last wrote it (None: it has not yet, so there is nothing of its
/// own to keep fresh: a resumed run's old list stays as it was);
/// `bytes_arrived`: ffmpeg's output arrived just now.
pub fn republish_due(since_published: Option<Duration>, bytes_arrived: bool) -> bool {
    bytes_arrived && since_published.is_some_and(|d| d >= REPUBLISH_AFTER)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_quiet_list_of_a_live_pipe_is_written_again() {
        let secs = Duration::from_secs;
        assert!(republish_due(Some(secs(5)), true));
        assert!(republish_due(Some(secs(60)), true));
        // Published recently.
        assert!(!republish_due(Some(secs(4)), true));
        // The pipe is silent: a stall must look stale.
        assert!(!republish_due(Some(secs(60)), false));
        // Nothing of this run published yet.
        assert!(!republish_due(None, true));
    }
}
