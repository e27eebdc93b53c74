//! The input side: what ffmpeg reads, and the protocols and formats it
//! may use to read it.

/// What to read.
#[derive(Debug, Clone)]
pub struct Input {
    /// A gateway URL, or a direct source of another scheme.
    pub url: String,
    /// ffmpeg's socket timeout (connect and each read).
    pub read_timeout: std::time::Duration,
    /// Reconnect when a live HTTP stream drops.
    pub reconnect: bool,
    /// Source schemes allowed (the protocol whitelist adds what they need).
    pub schemes: Vec<String>,
}

impl Default for Input {
    fn default() -> Input {
        Input {
            url: String::new(),
            read_timeout: std::time::Duration::from_secs(10),
            reconnect: true,
            schemes: vec!["http".into(), "https".into()],
        }
    }
}

/// Only network protocols: a channel record must never reach local files.
/// http(s) sources come through the gateway as plain http (crypto for
/// AES-128 HLS); other enabled schemes are ffmpeg's own.
pub fn protocol_whitelist(schemes: &[String]) -> String {
    let mut protocols: Vec<&str> = vec!["http", "tcp", "crypto"];
    for s in schemes {
        if s != "https" && !protocols.contains(&s.as_str()) {
            protocols.push(s);
        }
    }
    if schemes.iter().any(|s| s == "rtmps" || s == "srt") {
        protocols.push("tls");
    }
    protocols.join(",")
}

/// Input formats ffmpeg may use: live stream containers, and for enabled
/// RTSP/RTP what they need.
pub fn format_whitelist(schemes: &[String]) -> String {
    let mut formats = vec![
        "hls", "mpegts", "mov", "flv", "live_flv", "aac", "ac3", "eac3", "mp3", "matroska", "mpeg",
        "h264", "hevc", "webvtt",
    ];
    if schemes.iter().any(|s| s == "rtsp" || s == "rtp") {
        formats.extend(["rtsp", "sdp", "rtp"]);
    }
    formats.join(",")
}

/// Whether a source URL names an HLS playlist (`.m3u8`/`.m3u`, before
/// any query or fragment).
pub(super) fn is_hls_url(url: &str) -> bool {
    let path = url.split(['?', '#']).next().unwrap_or_default();
    let path = path.to_ascii_lowercase();
    path.ends_with(".m3u8") || path.ends_with(".m3u")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hls_sources_keep_the_longer_probe() {
        assert!(is_hls_url("http://h/u/0/s.m3u8"));
        assert!(is_hls_url("http://h/live/index.M3U8?token=x"));
        assert!(is_hls_url("http://h/a.m3u#f"));
        assert!(!is_hls_url("http://h/live.ts"));
        assert!(!is_hls_url("http://h/x?f=a.m3u8"));
    }

    #[test]
    fn whitelists_follow_the_enabled_schemes() {
        let s = |l: &[&str]| l.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            protocol_whitelist(&s(&["http", "https"])),
            "http,tcp,crypto"
        );
        assert_eq!(
            protocol_whitelist(&s(&["https", "rtmps"])),
            "http,tcp,crypto,rtmps,tls"
        );
        assert!(format_whitelist(&s(&["rtsp"])).ends_with("rtsp,sdp,rtp"));
        assert!(!format_whitelist(&s(&["http"])).contains("sdp"));
    }
}
