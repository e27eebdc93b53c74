//! HLS media playlists: what makes one "ready" to be served.
//!
//! A playlist on disk is not a stream by itself: ffmpeg may have left an
//! empty or header-only file behind, or died and left an old one. Ready means
//! the playlist lists at least one segment whose file exists, and (for a live
//! playlist) it has been rewritten recently.

use std::path::Path;
use std::time::{Duration, SystemTime};

/// Playlists larger than this are not ours: ffmpeg's bounded list is a few KiB.
pub const MAX_PLAYLIST_BYTES: u64 = 1024 * 1024;

/// The facts about a playlist text that readiness depends on.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Summary {
    pub segments: u32,
    pub target_duration: Option<u64>,
    pub media_sequence: Option<u64>,
    pub ended: bool,
}

/// The segment URIs a media playlist lists, in order.
pub fn segment_uris(text: &str) -> impl Iterator<Item = &str> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
}

pub fn summarize(text: &str) -> Summary {
    let mut s = Summary::default();
    for line in text.lines().map(str::trim) {
        if line.is_empty() {
            continue;
        }
        if let Some(v) = line.strip_prefix("#EXT-X-TARGETDURATION:") {
            s.target_duration = v.trim().parse().ok();
        } else if let Some(v) = line.strip_prefix("#EXT-X-MEDIA-SEQUENCE:") {
            s.media_sequence = v.trim().parse().ok();
        } else if line == "#EXT-X-ENDLIST" {
            s.ended = true;
        } else if !line.starts_with('#') {
            s.segments += 1;
        }
    }
    s
}

/// The file name a segment URI refers to, if it is a plain relative name in
/// the playlist's own directory (what ffmpeg writes). Anything with a scheme,
/// a path separator or a parent reference is not looked up on disk.
pub fn local_segment_name(uri: &str) -> Option<&str> {
    let name = uri.split(['?', '#']).next().unwrap_or("");
    if name.is_empty() || name == "." || name == ".." || name.contains(['/', '\\', ':']) {
        return None;
    }
    Some(name)
}

/// Why a playlist is not ready.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotReady {
    Missing,
    Unreadable(String),
    TooLarge(u64),
    NoSegments,
    SegmentsMissing,
    Stale { age_secs: u64 },
}

impl core::fmt::Display for NotReady {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            NotReady::Missing => f.write_str("playlist does not exist"),
            NotReady::Unreadable(e) => write!(f, "playlist cannot be read: {e}"),
            NotReady::TooLarge(n) => write!(f, "playlist is {n} bytes, over the limit"),
            NotReady::NoSegments => f.write_str("playlist lists no segments"),
            NotReady::SegmentsMissing => f.write_str("none of the listed segments exists"),
            NotReady::Stale { age_secs } => {
                write!(f, "playlist was last written {age_secs} s ago (stale)")
            }
        }
    }
}

/// How old a live playlist may get before it counts as abandoned: three
/// target durations (ffmpeg rewrites it after every segment), at least 10 s.
pub fn stale_after(target_duration: Option<u64>) -> Duration {
    Duration::from_secs(target_duration.unwrap_or(10).saturating_mul(3).max(10))
}

/// Decides readiness from a playlist's text, its age, and a way to ask
/// whether a segment file exists.
pub fn check_text(
    text: &str,
    age: Duration,
    segment_exists: impl Fn(&str) -> bool,
) -> Result<Summary, NotReady> {
    let summary = summarize(text);
    if summary.segments == 0 {
        return Err(NotReady::NoSegments);
    }
    check_age(&summary, age)?;
    check_segments(text, segment_exists)?;
    Ok(summary)
}

/// A live playlist nobody has rewritten for a while is abandoned.
pub fn check_age(summary: &Summary, age: Duration) -> Result<(), NotReady> {
    if !summary.ended && age > stale_after(summary.target_duration) {
        return Err(NotReady::Stale {
            age_secs: age.as_secs(),
        });
    }
    Ok(())
}

/// At least one listed segment must exist.
pub fn check_segments(text: &str, segment_exists: impl Fn(&str) -> bool) -> Result<(), NotReady> {
    // The newest segments are the likeliest to exist; look from the end.
    let uris: Vec<&str> = segment_uris(text).collect();
    let any = uris
        .iter()
        .rev()
        .filter_map(|u| local_segment_name(u))
        .any(&segment_exists);
    if any {
        Ok(())
    } else {
        Err(NotReady::SegmentsMissing)
    }
}

/// How long ago a file was last written (zero if its clock is ahead).
pub fn age_of(meta: &std::fs::Metadata) -> Duration {
    meta.modified()
        .ok()
        .and_then(|m| SystemTime::now().duration_since(m).ok())
        .unwrap_or_default()
}

/// Whether a segment named in the playlist at `path` exists beside it.
pub fn segment_exists_beside(path: &Path) -> impl Fn(&str) -> bool + '_ {
    let dir = path.parent().unwrap_or(Path::new("."));
    move |name| dir.join(name).is_file()
}

/// Reads a playlist file and checks it; on success returns its bytes, so
/// the caller serves exactly what was checked.
pub fn read_ready(path: &Path) -> Result<(Vec<u8>, Summary), NotReady> {
    read_ready_with_meta(path).map(|(bytes, summary, _)| (bytes, summary))
}

/// `read_ready`, also returning the metadata of the file that was read.
pub fn read_ready_with_meta(
    path: &Path,
) -> Result<(Vec<u8>, Summary, std::fs::Metadata), NotReady> {
    use std::io::Read;
    // One open, one fstat, one read: a worker does this once per version
    // of a playlist (see playlist_cache).
    let unreadable = |e: std::io::Error| match e.kind() {
        std::io::ErrorKind::NotFound => NotReady::Missing,
        _ => NotReady::Unreadable(e.to_string()),
    };
    let mut file = std::fs::File::open(path).map_err(unreadable)?;
    let meta = file.metadata().map_err(unreadable)?;
    if meta.len() > MAX_PLAYLIST_BYTES {
        return Err(NotReady::TooLarge(meta.len()));
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize + 1);
    file.read_to_end(&mut bytes).map_err(unreadable)?;
    let text = String::from_utf8_lossy(&bytes);
    let age = age_of(&meta);
    let summary = check_text(&text, age, segment_exists_beside(path))?;
    Ok((bytes, summary, meta))
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIVE: &str = "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:4\n\
        #EXT-X-MEDIA-SEQUENCE:12\n#EXTINF:4.000000,\nstream_1_012.ts\n\
        #EXTINF:4.000000,\nstream_1_013.ts\n";

    #[test]
    fn master_playlist_is_ready_while_a_variant_exists_and_fresh() {
        // The abr preset's master lists variant playlists where a media
        // playlist lists segments: the same checks hold (ffmpeg rewrites
        // it with every segment of the first variant).
        let master = "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\nstream_7.0.m3u8\n\
            #EXT-X-STREAM-INF:BANDWIDTH=1\nstream_7.1.m3u8\n";
        let fresh = Duration::from_secs(4);
        assert!(check_text(master, fresh, |n| n == "stream_7.0.m3u8").is_ok());
        assert_eq!(
            check_text(master, fresh, |_| false),
            Err(NotReady::SegmentsMissing)
        );
        assert!(matches!(
            check_text(master, Duration::from_secs(31), |_| true),
            Err(NotReady::Stale { .. })
        ));
    }

    #[test]
    fn summary_of_a_live_playlist() {
        let s = summarize(LIVE);
        assert_eq!(s.segments, 2);
        assert_eq!(s.target_duration, Some(4));
        assert_eq!(s.media_sequence, Some(12));
        assert!(!s.ended);
        assert_eq!(
            segment_uris(LIVE).collect::<Vec<_>>(),
            ["stream_1_012.ts", "stream_1_013.ts"]
        );
    }

    #[test]
    fn empty_and_header_only_playlists_are_not_ready() {
        let fresh = Duration::from_secs(1);
        assert_eq!(check_text("", fresh, |_| true), Err(NotReady::NoSegments));
        assert_eq!(
            check_text("#EXTM3U\n#EXT-X-TARGETDURATION:4\n", fresh, |_| true),
            Err(NotReady::NoSegments)
        );
    }

    #[test]
    fn listed_but_missing_segments_are_not_ready() {
        let fresh = Duration::from_secs(1);
        assert_eq!(
            check_text(LIVE, fresh, |_| false),
            Err(NotReady::SegmentsMissing)
        );
        assert!(check_text(LIVE, fresh, |n| n == "stream_1_013.ts").is_ok());
        assert!(check_text(LIVE, fresh, |n| n == "stream_1_012.ts").is_ok());
    }

    #[test]
    fn stale_live_playlists_are_not_ready() {
        assert_eq!(
            check_text(LIVE, Duration::from_secs(60), |_| true),
            Err(NotReady::Stale { age_secs: 60 })
        );
        assert!(check_text(LIVE, Duration::from_secs(11), |_| true).is_ok());
        let ended = format!("{LIVE}#EXT-X-ENDLIST\n");
        assert!(check_text(&ended, Duration::from_secs(3600), |_| true).is_ok());
    }

    #[test]
    fn only_local_names_are_looked_up() {
        assert_eq!(
            local_segment_name("stream_1_001.ts"),
            Some("stream_1_001.ts")
        );
        assert_eq!(
            local_segment_name("stream_1_001.ts?token=x"),
            Some("stream_1_001.ts")
        );
        assert_eq!(local_segment_name("../etc/passwd"), None);
        assert_eq!(local_segment_name("/abs.ts"), None);
        assert_eq!(local_segment_name("http://x/y.ts"), None);
        assert_eq!(local_segment_name(".."), None);
        assert_eq!(local_segment_name("?x"), None);
        let tricky = "#EXTM3U\n#EXTINF:4,\n../../etc/passwd\n";
        assert_eq!(
            check_text(tricky, Duration::ZERO, |_| true),
            Err(NotReady::SegmentsMissing)
        );
    }

    #[test]
    fn reads_from_disk() {
        let dir = std::env::temp_dir().join(format!("playlist-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let pl = dir.join("stream_1.m3u8");
        assert_eq!(read_ready(&pl).unwrap_err(), NotReady::Missing);
        std::fs::write(&pl, "").unwrap();
        assert_eq!(read_ready(&pl).unwrap_err(), NotReady::NoSegments);
        std::fs::write(&pl, LIVE).unwrap();
        assert_eq!(read_ready(&pl).unwrap_err(), NotReady::SegmentsMissing);
        std::fs::write(dir.join("stream_1_013.ts"), b"x").unwrap();
        let (bytes, summary) = read_ready(&pl).unwrap();
        assert_eq!(bytes, LIVE.as_bytes());
        assert_eq!(summary.segments, 2);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
