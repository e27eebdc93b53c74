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
/// real URL to the URL ffmpeg gets. Lines end where ffmpeg's reader ends
/// them (LF, CR or NUL), so no URI hides behind a bare CR.
pub fn rewrite(text: &str, base: &str, mut gateway_url: impl FnMut(&str) -> String) -> String {
    let mut out = String::with_capacity(text.len() + 256);
    for line in text.split(['\n', '\r', '\0']) {
        let trimmed = line.trim();
        if trimmed.is_empty() {
            // Blank lines (and the empty piece of a CRLF) carry nothing.
            continue;
        } else if line.starts_with('#') {
            // Only a `#` in the first column makes a tag for ffmpeg; any
            // other line is a URI to it, and becomes a gateway URL.
            out.push_str(&rewrite_uri_attributes(line, base, &mut gateway_url));
        } else {
            out.push_str(&gateway_url(&resolve(base, trimmed)));
        }
        out.push('\n');
    }
    out
}

/// Every `URI=` attribute of a tag line, read the way ffmpeg reads them
/// (`ff_parse_key_value`): after the tag's `:`, pairs separated by blanks
/// or commas, a key up to `=`, a value quoted (with `\` escapes) or bare.
/// Each URI becomes a quoted gateway URL; other pairs are kept verbatim.
fn rewrite_uri_attributes(
    line: &str,
    base: &str,
    gateway_url: &mut impl FnMut(&str) -> String,
) -> String {
    let Some(colon) = line.find(':') else {
        return line.to_string();
    };
    let mut out = String::with_capacity(line.len() + 64);
    out.push_str(&line[..=colon]);
    let b = line.as_bytes();
    let mut i = colon + 1;
    loop {
        let sep = i;
        while i < b.len() && (b[i].is_ascii_whitespace() || b[i] == b',') {
            i += 1;
        }
        out.push_str(&line[sep..i]);
        if i == b.len() {
            return out;
        }
        let Some(eq) = line[i..].find('=') else {
            // No more pairs: ffmpeg stops here, so does the copy.
            out.push_str(&line[i..]);
            return out;
        };
        let key = &line[i..=i + eq];
        i += eq + 1;
        let start = i;
        let mut value = String::new();
        if b.get(i) == Some(&b'"') {
            i += 1;
            while i < b.len() && b[i] != b'"' {
                if b[i] == b'\\' {
                    if i + 1 == b.len() {
                        break;
                    }
                    i += 1;
                }
                let ch = line[i..].chars().next().unwrap_or_default();
                value.push(ch);
                i += ch.len_utf8();
            }
            i = (i + 1).min(b.len());
        } else {
            while i < b.len() && !(b[i].is_ascii_whitespace() || b[i] == b',') {
                i += 1;
            }
            value.push_str(&line[start..i]);
        }
        out.push_str(key);
        if key == "URI=" {
            out.push('"');
            out.push_str(&gateway_url(&resolve(base, &value)));
            out.push('"');
        } else {
            out.push_str(&line[start..i]);
        }
    }
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
            "#EXTM3U\n#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"a\",NAME=\"en\",URI=\"G<http://o.test/live/audio/en.m3u8>\"\n#EXT-X-STREAM-INF:BANDWIDTH=1,AUDIO=\"a\"\nG<http://o.test/live/v1/index.m3u8>\n#EXT-X-I-FRAME-STREAM-INF:BANDWIDTH=1,URI=\"G<http://127.0.0.1:8080/api>\"\n"
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
        // A look-alike attribute is not a URI; an unterminated one runs to
        // the end of the line, as ffmpeg reads it.
        let out = rewrite("#X-TAG:X-URI=\"a\",URI=\"b\"", "http://h/", g);
        assert_eq!(out, "#X-TAG:X-URI=\"a\",URI=\"G<http://h/b>\"\n");
        let out = rewrite("#EXT-X-KEY:URI=\"http://h/k", "http://h/", g);
        assert_eq!(out, "#EXT-X-KEY:URI=\"G<http://h/k>\"\n");
    }

    /// Found writing the fuzz target: ffmpeg ends a line at a bare CR or NUL and reads
    /// unquoted attribute values and blanks after a comma, so each of these
    /// once passed an upstream URL to ffmpeg untouched.
    #[test]
    fn no_uri_hides_from_the_rewrite() {
        let cases = [
            (
                "#EXTINF:1,\rhttp://169.254.169.254/a.ts",
                "\nG<http://169.254.169.254/a.ts>\n",
            ),
            (
                "#EXTINF:1,\0http://10.0.0.1/a.ts",
                "\nG<http://10.0.0.1/a.ts>\n",
            ),
            (
                "#EXT-X-KEY:METHOD=AES-128,URI=http://10.0.0.1/k",
                "URI=\"G<http://10.0.0.1/k>\"",
            ),
            (
                "#EXT-X-KEY:METHOD=AES-128, URI=\"http://10.0.0.1/k\"",
                ", URI=\"G<http://10.0.0.1/k>\"",
            ),
            (
                "#EXT-X-MAP: URI=\"http://10.0.0.1/i\"",
                ": URI=\"G<http://10.0.0.1/i>\"",
            ),
        ];
        for (input, want) in cases {
            let out = rewrite(input, "http://o.test/p.m3u8", g);
            assert!(out.contains(want), "{input:?} -> {out:?}");
            assert!(!out.contains("\r") && !out.contains('\0'), "{out:?}");
        }
        // A quoted value keeps its commas; other attributes stay as they were.
        let out = rewrite(
            "#EXT-X-MEDIA:NAME=\"a,URI=x\",URI=\"b\",X=1",
            "http://h/",
            g,
        );
        assert_eq!(
            out,
            "#EXT-X-MEDIA:NAME=\"a,URI=x\",URI=\"G<http://h/b>\",X=1\n"
        );
    }
}
