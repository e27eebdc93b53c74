//! Media playlists as the supervisor and module judge them
//! (`shared::playlist::summarize`, `segment_uris`, `local_segment_name`,
//! `check_text`). A name looked up on disk never leaves the playlist's
//! directory; the summary counts exactly the URIs `segment_uris` yields.

use std::time::Duration;

use shared::playlist::{check_text, local_segment_name, segment_uris, summarize};

pub fn run(data: &[u8]) {
    let text = super::text(data);
    let summary = summarize(&text);
    let uris: Vec<&str> = segment_uris(&text).collect();
    assert_eq!(summary.segments as usize, uris.len(), "segment count");
    for uri in &uris {
        if let Some(name) = local_segment_name(uri) {
            assert!(!name.is_empty() && name != "." && name != "..");
            assert!(!name.contains(['/', '\\', ':', '?', '#']), "{name:?}");
        }
    }
    let first = uris.first().and_then(|u| local_segment_name(u));
    let exists = |name: &str| Some(name) == first;
    let _ = check_text(
        &text,
        Duration::from_secs(u64::from(data.len() as u8)),
        exists,
    );
}
