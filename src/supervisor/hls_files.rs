//! Which files in the HLS directory belong to a channel, so stopping one
//! channel never touches another's (`stream_1_…` vs `stream_12_…`).

use std::path::Path;

/// `stream_<id>.m3u8`, `stream_<id>_<digits>.ts`, and their `.tmp` forms.
pub fn is_channel_file(name: &str, channel: &str) -> bool {
    let Some(rest) = name
        .strip_prefix("stream_")
        .and_then(|r| r.strip_prefix(channel))
    else {
        return false;
    };
    let rest = rest.strip_suffix(".tmp").unwrap_or(rest);
    if rest == ".m3u8" {
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

/// Segments currently listed in a channel's playlist (0 if none).
pub fn segment_count(dir: &Path, channel: &str) -> u32 {
    let path = super::ffmpeg_args::playlist_path(dir, channel);
    std::fs::read_to_string(path)
        .map(|t| crate::playlist::summarize(&t).segments)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

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
