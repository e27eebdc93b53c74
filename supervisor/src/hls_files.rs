//! Which files in the HLS directory belong to a channel, so stopping one
//! channel never touches another's (`stream_1_…` vs `stream_12_…`).

use std::path::{Path, PathBuf};

/// `.<digits>.m3u8`: what follows the id in a variant playlist's name
/// (the `abr` preset's, see `ffmpeg_ladder`).
fn is_variant_suffix(rest: &str) -> bool {
    rest.strip_prefix('.')
        .and_then(|r| r.strip_suffix(".m3u8"))
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

/// `stream_<id>.m3u8`, `stream_<id>.<digits>.m3u8` (variants),
/// `stream_<id>_<digits>.ts`, and their `.tmp` forms.
pub fn is_channel_file(name: &str, channel: &str) -> bool {
    let Some(rest) = name
        .strip_prefix("stream_")
        .and_then(|r| r.strip_prefix(channel))
    else {
        return false;
    };
    let rest = rest.strip_suffix(".tmp").unwrap_or(rest);
    if rest == ".m3u8" || is_variant_suffix(rest) {
        return true;
    }
    match rest.strip_prefix('_').and_then(|r| r.strip_suffix(".ts")) {
        Some(n) => !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()),
        None => false,
    }
}

/// Removes a channel's playlist and segments; returns how many went.
pub fn remove_channel_files(dir: &Path, channel: &str) -> std::io::Result<usize> {
    let mut n = 0;
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if is_channel_file(name, channel) {
            match std::fs::remove_file(entry.path()) {
                Ok(()) => n += 1,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
    }
    Ok(n)
}

/// A name any channel could own: `stream_<valid id>.m3u8` or a segment.
pub fn is_any_channel_file(name: &str) -> bool {
    let Some(rest) = name.strip_prefix("stream_") else {
        return false;
    };
    let rest = rest.strip_suffix(".tmp").unwrap_or(rest);
    let id = if let Some((id, _)) = rest
        .split_once('.')
        .filter(|(_, tail)| is_variant_suffix(&rest[rest.len() - tail.len() - 1..]))
    {
        id
    } else if let Some(id) = rest.strip_suffix(".m3u8") {
        id
    } else if let Some((id, n)) = rest.strip_suffix(".ts").and_then(|r| r.rsplit_once('_')) {
        if n.is_empty() || !n.bytes().all(|b| b.is_ascii_digit()) {
            return false;
        }
        id
    } else {
        return false;
    };
    shared::channel_id::validate(id.as_bytes()).is_ok()
}

/// Removes every channel's files (start-up: nothing runs yet, so whatever
/// is there was left by an earlier run). Other files are left alone.
pub fn remove_all_channel_files(dir: &Path) -> std::io::Result<usize> {
    let mut n = 0;
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if is_any_channel_file(name) && entry.file_type()?.is_file() {
            match std::fs::remove_file(entry.path()) {
                Ok(()) => n += 1,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
    }
    Ok(n)
}

/// The media playlist that shows a channel's progress: its first variant's
/// under the `abr` preset (the master lists no segments), else its only
/// one. Told apart by what is on disk, as a channel's files are removed
/// whenever it starts or stops: status and restarts need no preset.
pub fn media_playlist(dir: &Path, channel: &str) -> PathBuf {
    let first = super::ffmpeg_ladder::variant_playlist_path(dir, channel, 0);
    if first.is_file() {
        first
    } else {
        super::ffmpeg_args::playlist_path(dir, channel)
    }
}

/// Whether a channel can be served: its playlist is ready and, with
/// `variants` (the `abr` preset), so is every variant's, so that whatever
/// rendition a player picks first has a segment.
pub fn ready(dir: &Path, channel: &str, variants: usize) -> bool {
    let master = super::ffmpeg_args::playlist_path(dir, channel);
    shared::playlist::read_ready(&master).is_ok()
        && (0..variants).all(|v| {
            let path = super::ffmpeg_ladder::variant_playlist_path(dir, channel, v);
            shared::playlist::read_ready(&path).is_ok()
        })
}

/// How far a channel's playlist has got: the sequence number just after its
/// last segment (media sequence + segments listed); `None` without one.
pub fn progress(dir: &Path, channel: &str) -> Option<u64> {
    let path = media_playlist(dir, channel);
    let text = std::fs::read_to_string(path).ok()?;
    let s = shared::playlist::summarize(&text);
    (s.segments > 0).then(|| s.media_sequence.unwrap_or(0) + u64::from(s.segments))
}

/// Segments currently listed in a channel's playlist (0 if none).
pub fn segment_count(dir: &Path, channel: &str) -> u32 {
    let path = media_playlist(dir, channel);
    std::fs::read_to_string(path)
        .map(|t| shared::playlist::summarize(&t).segments)
        .unwrap_or(0)
}

/// What of a channel's output is empty where a complete file is expected
/// (ffmpeg renames what it could not write into place, e.g. on a full
/// disk): `None` while it is fine or not there yet.
pub fn empty_output(dir: &Path, channel: &str) -> Option<&'static str> {
    let text = std::fs::read(media_playlist(dir, channel)).ok()?;
    let text = String::from_utf8_lossy(&text);
    let newest = shared::playlist::segment_uris(&text)
        .last()
        .and_then(shared::playlist::local_segment_name)
        .map(|name| std::fs::metadata(dir.join(name)).map(|m| m.len()).ok());
    judge_output(&text, newest)
}

/// `empty_output` on what was read: the playlist's text, and the size of
/// its newest segment (`Some(None)`: listed but not there).
fn judge_output(playlist: &str, newest_segment: Option<Option<u64>>) -> Option<&'static str> {
    if playlist.is_empty() {
        Some("an empty playlist")
    } else if shared::playlist::summarize(playlist).segments == 0 {
        Some("a playlist that lists no segment (truncated?)")
    } else if newest_segment == Some(Some(0)) {
        Some("an empty segment")
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_or_truncated_output() {
        let full = "#EXTM3U\n#EXTINF:2,\nstream_9_040.ts\n";
        assert_eq!(judge_output(full, Some(Some(1000))), None);
        // Listed but already deleted, or not written yet: not "empty".
        assert_eq!(judge_output(full, Some(None)), None);
        assert_eq!(judge_output(full, Some(Some(0))), Some("an empty segment"));
        assert_eq!(judge_output("", None), Some("an empty playlist"));
        assert!(judge_output("#EXTM3U\n#EXT-X-VERS", None)
            .unwrap()
            .contains("no segment"));
    }

    #[test]
    fn empty_output_on_disk() {
        let dir = std::env::temp_dir().join(format!("hls-empty-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        assert_eq!(empty_output(&dir, "5"), None);
        std::fs::write(dir.join("stream_5.m3u8"), "").unwrap();
        assert_eq!(empty_output(&dir, "5"), Some("an empty playlist"));
        std::fs::write(
            dir.join("stream_5.m3u8"),
            "#EXTM3U\n#EXTINF:2,\nstream_5_001.ts\n",
        )
        .unwrap();
        std::fs::write(dir.join("stream_5_001.ts"), b"").unwrap();
        assert_eq!(empty_output(&dir, "5"), Some("an empty segment"));
        std::fs::write(dir.join("stream_5_001.ts"), b"x").unwrap();
        assert_eq!(empty_output(&dir, "5"), None);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn any_channel() {
        assert!(is_any_channel_file("stream_71386.m3u8"));
        assert!(is_any_channel_file("stream_a_b_007.ts"));
        assert!(is_any_channel_file("stream_x.m3u8.tmp"));
        assert!(!is_any_channel_file("stream_.m3u8"));
        assert!(!is_any_channel_file("stream_a_.ts"));
        assert!(!is_any_channel_file("index.html"));
        assert!(!is_any_channel_file("stream_a.b.m3u8"));
        assert!(is_any_channel_file("stream_a_b.2.m3u8"));
        assert!(is_any_channel_file("stream_a.0.m3u8.tmp"));
        assert!(!is_any_channel_file("stream_.0.m3u8"));
        assert!(!is_any_channel_file("stream_a.0.1.m3u8"));
        assert!(!is_any_channel_file("stream_a..m3u8"));
    }

    #[test]
    fn progress_and_cleanup() {
        let dir = std::env::temp_dir().join(format!("hls-progress-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        assert_eq!(progress(&dir, "9"), None);
        std::fs::write(
            dir.join("stream_9.m3u8"),
            "#EXTM3U\n#EXT-X-MEDIA-SEQUENCE:40\n#EXTINF:2,\nstream_9_040.ts\n#EXTINF:2,\nstream_9_041.ts\n",
        )
        .unwrap();
        std::fs::write(dir.join("stream_9_041.ts"), b"x").unwrap();
        std::fs::write(dir.join("keep.txt"), b"x").unwrap();
        assert_eq!(progress(&dir, "9"), Some(42));
        assert_eq!(remove_all_channel_files(&dir).unwrap(), 2);
        assert!(dir.join("keep.txt").exists());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn abr_channel_is_one_unit() {
        let dir = std::env::temp_dir().join(format!("hls-abr-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let media = |seg: &str| {
            format!(
                "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:3\n#EXTINF:2,\n{seg}\n"
            )
        };
        std::fs::write(
            dir.join("stream_7.m3u8"),
            "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\nstream_7.0.m3u8\n#EXT-X-STREAM-INF:BANDWIDTH=1\nstream_7.1.m3u8\n",
        )
        .unwrap();
        std::fs::write(dir.join("stream_7.0.m3u8"), media("stream_7_0003.ts")).unwrap();
        std::fs::write(dir.join("stream_7_0003.ts"), b"x").unwrap();
        // Progress and status follow the first variant, not the master.
        assert_eq!(media_playlist(&dir, "7"), dir.join("stream_7.0.m3u8"));
        assert_eq!(progress(&dir, "7"), Some(4));
        assert_eq!(segment_count(&dir, "7"), 1);
        assert!(ready(&dir, "7", 1));
        // Every variant must have a segment.
        assert!(!ready(&dir, "7", 2));
        std::fs::write(dir.join("stream_7.1.m3u8"), media("stream_7_1003.ts")).unwrap();
        std::fs::write(dir.join("stream_7_1003.ts"), b"x").unwrap();
        assert!(ready(&dir, "7", 2));
        assert_eq!(remove_channel_files(&dir, "7").unwrap(), 5);
        assert_eq!(media_playlist(&dir, "7"), dir.join("stream_7.m3u8"));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn ownership() {
        assert!(is_channel_file("stream_1.m3u8", "1"));
        assert!(is_channel_file("stream_1.m3u8.tmp", "1"));
        assert!(is_channel_file("stream_1_000.ts", "1"));
        assert!(is_channel_file("stream_1_1234.ts.tmp", "1"));
        assert!(!is_channel_file("stream_12_000.ts", "1"));
        assert!(!is_channel_file("stream_12.m3u8", "1"));
        assert!(!is_channel_file("stream_a_b_001.ts", "a"));
        assert!(is_channel_file("stream_a_b_001.ts", "a_b"));
        assert!(!is_channel_file("stream_1_.ts", "1"));
        assert!(!is_channel_file("other_1.m3u8", "1"));
        assert!(!is_channel_file("stream_1.m3u", "1"));
        assert!(is_channel_file("stream_1.0.m3u8", "1"));
        assert!(is_channel_file("stream_1.2.m3u8.tmp", "1"));
        assert!(!is_channel_file("stream_12.0.m3u8", "1"));
        assert!(!is_channel_file("stream_1.x.m3u8", "1"));
        assert!(!is_channel_file("stream_1..m3u8", "1"));
    }

    #[test]
    fn removes_only_its_own() {
        let dir = std::env::temp_dir().join(format!("hls-files-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        for f in [
            "stream_1.m3u8",
            "stream_1_000.ts",
            "stream_12_000.ts",
            "stream_12.m3u8",
        ] {
            std::fs::write(dir.join(f), b"x").unwrap();
        }
        assert_eq!(remove_channel_files(&dir, "1").unwrap(), 2);
        assert!(dir.join("stream_12_000.ts").exists());
        assert!(dir.join("stream_12.m3u8").exists());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
