//! HLS playlists pass through the gateway rewritten: every URI they name
//! (variants, segments, keys, maps, renditions) becomes a gateway URL, so
//! ffmpeg never connects anywhere but the gateway, and the gateway checks
//! each real URL before fetching it.

use super::url::resolve;

/// Whether a response is a playlist to rewrite: by its type, or because its
/// body starts like one (ffmpeg's own test).
pub fn is_playlist(content_type: Option<&str>, body_start: &[u8]) -> bool {
    let body = body_start
        .strip_prefix(b"\xEF\xBB\xBF")
        .unwrap_or(body_start);
    content_type.is_some_and(|t| t.to_ascii_lowercase().contains("mpegurl"))
        || body.starts_with(b"#EXTM3U")
}

/// Rewrites `text` (fetched from `base`): `gateway_url` maps each absolute
/// real URL to the URL ffmpeg gets.
pub fn rewrite(text: &str, base: &str, mut gateway_url: impl FnMut(&str) -> String) -> String {
    let mut out = String::with_capacity(text.len() + 256);
    for line in text.lines() {
        let line = line.trim_end_matches('\r');
        let trimmed = line.trim();
        if trimmed.is_empty() {
            out.push_str(line);
        } else if trimmed.starts_with('#') {
            out.push_str(&rewrite_uri_attributes(line, base, &mut gateway_url));
        } else {
            out.push_str(&gateway_url(&resolve(base, trimmed)));
        }
        out.push('\n');
    }
    out
}

/// Every `URI="..."` attribute of a tag line.
fn rewrite_uri_attributes(
    line: &str,
    base: &str,
    gateway_url: &mut impl FnMut(&str) -> String,
) -> String {
    let mut out = String::with_capacity(line.len());
    let mut rest = line;
    while let Some(i) = find_attr(rest) {
        let (before, after) = rest.split_at(i + "URI=\"".len());
        out.push_str(before);
        let Some(end) = after.find('"') else {
            // Unterminated: nothing after it can be trusted as a URI.
            rest = "\"";
            break;
        };
        out.push_str(&gateway_url(&resolve(base, &after[..end])));
        rest = &after[end..];
    }
    out.push_str(rest);
    out
}

/// The next `URI="` that starts an attribute (after `:` or `,`), so that
/// `X-URI="..."` or a value containing it is left alone.
fn find_attr(s: &str) -> Option<usize> {
    let mut from = 0;
    while let Some(i) = s[from..].find("URI=\"") {
        let at = from + i;
        if at > 0 && matches!(s.as_bytes()[at - 1], b':' | b',') {
            return Some(at);
        }
        from = at + 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn g(u: &str) -> String {
        format!("G<{u}>")
    }

    #[test]
    fn detects_playlists() {
        assert!(is_playlist(Some("application/vnd.apple.mpegURL"), b""));
        assert!(is_playlist(Some("audio/x-mpegurl"), b""));
        assert!(is_playlist(Some("video/mp2t"), b"#EXTM3U\n"));
        assert!(is_playlist(None, b"\xEF\xBB\xBF#EXTM3U"));
        assert!(!is_playlist(Some("video/mp2t"), b"G@\x00"));
        assert!(!is_playlist(None, b"#EXT"));
    }

    #[test]
    fn rewrites_every_uri() {
        let master = "#EXTM3U\r\n#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"a\",NAME=\"en\",URI=\"audio/en.m3u8\"\r\n#EXT-X-STREAM-INF:BANDWIDTH=1,AUDIO=\"a\"\r\nv1/index.m3u8\r\n#EXT-X-I-FRAME-STREAM-INF:BANDWIDTH=1,URI=\"http://127.0.0.1:8080/api\"\r\n\r\n";
        let out = rewrite(master, "http://o.test/live/master.m3u8", g);
        assert_eq!(
            out,
            "#EXTM3U\n#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"a\",NAME=\"en\",URI=\"G<http://o.test/live/audio/en.m3u8>\"\n#EXT-X-STREAM-INF:BANDWIDTH=1,AUDIO=\"a\"\nG<http://o.test/live/v1/index.m3u8>\n#EXT-X-I-FRAME-STREAM-INF:BANDWIDTH=1,URI=\"G<http://127.0.0.1:8080/api>\"\n\n"
        );
        let media = "#EXTM3U\n#EXT-X-KEY:METHOD=AES-128,URI=\"/k?id=1\",IV=0x1\n#EXT-X-MAP:URI=\"init.mp4\"\n#EXTINF:1,\n  s1.ts  \nhttp://169.254.169.254/latest\n#EXT-X-ENDLIST";
        let out = rewrite(media, "https://o.test/a/b.m3u8", g);
        assert!(out.contains("URI=\"G<https://o.test/k?id=1>\",IV=0x1\n"));
        assert!(out.contains("#EXT-X-MAP:URI=\"G<https://o.test/a/init.mp4>\"\n"));
        assert!(out.contains("\nG<https://o.test/a/s1.ts>\n"));
        assert!(out.contains("\nG<http://169.254.169.254/latest>\n"));
        assert!(out.ends_with("#EXT-X-ENDLIST\n"));
    }

    #[test]
    fn odd_attributes() {
        // A look-alike attribute is not a URI; an unterminated one is cut.
        let out = rewrite("#X-TAG:X-URI=\"a\",URI=\"b\"", "http://h/", g);
        assert_eq!(out, "#X-TAG:X-URI=\"a\",URI=\"G<http://h/b>\"\n");
        let out = rewrite("#EXT-X-KEY:URI=\"http://h/k", "http://h/", g);
        assert_eq!(out, "#EXT-X-KEY:URI=\"\"\n");
    }
}
