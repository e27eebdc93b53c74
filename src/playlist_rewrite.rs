//! Carrying the viewer's token into a media playlist: segment URIs are
//! relative, and a relative URL drops the playlist's query string, so
//! without this the player would ask for every segment without a token.

/// Characters left as they are in a query value (RFC 3986 unreserved).
fn unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

/// Percent-encodes a (decoded) token for use as a query value.
pub fn encode_component(raw: &[u8]) -> String {
    let mut out = String::with_capacity(raw.len());
    for &b in raw {
        if unreserved(b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn append_arg(uri: &str, pair: &str, out: &mut Vec<u8>) {
    // A fragment stays last.
    let (base, frag) = match uri.find('#') {
        Some(i) => uri.split_at(i),
        None => (uri, ""),
    };
    out.extend_from_slice(base.as_bytes());
    out.push(if base.contains('?') { b'&' } else { b'?' });
    out.extend_from_slice(pair.as_bytes());
    out.extend_from_slice(frag.as_bytes());
}

/// Adds `arg=token` to every URI of a media playlist: segment lines and
/// the `URI="..."` attributes of tags (keys, init sections). `token` is
/// the decoded token; it is encoded here.
pub fn with_token(text: &[u8], arg: &str, token: &[u8]) -> Vec<u8> {
    let pair = format!("{arg}={}", encode_component(token));
    let mut out = Vec::with_capacity(text.len() + 64 * (pair.len() + 1));
    for line in text.split_inclusive(|b| *b == b'\n') {
        let (body, eol) = match line.strip_suffix(b"\r\n") {
            Some(b) => (b, &b"\r\n"[..]),
            None => match line.strip_suffix(b"\n") {
                Some(b) => (b, &b"\n"[..]),
                None => (line, &b""[..]),
            },
        };
        let trimmed = body.trim_ascii();
        match std::str::from_utf8(trimmed) {
            Ok(t) if !t.is_empty() && !t.starts_with('#') => append_arg(t, &pair, &mut out),
            Ok(t) if t.starts_with("#EXT") && t.contains("URI=\"") => {
                tag_with_token(t, &pair, &mut out)
            }
            _ => out.extend_from_slice(body),
        }
        out.extend_from_slice(eol);
    }
    out
}

fn tag_with_token(tag: &str, pair: &str, out: &mut Vec<u8>) {
    let mut rest = tag;
    while let Some(i) = rest.find("URI=\"") {
        let start = i + 5;
        out.extend_from_slice(&rest.as_bytes()[..start]);
        let after = &rest[start..];
        let Some(end) = after.find('"') else {
            out.extend_from_slice(after.as_bytes());
            return;
        };
        let uri = &after[..end];
        if uri.is_empty() || uri.starts_with("data:") {
            out.extend_from_slice(uri.as_bytes());
        } else {
            append_arg(uri, pair, out);
        }
        rest = &after[end..];
    }
    out.extend_from_slice(rest.as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(text: &str, token: &[u8]) -> String {
        String::from_utf8(with_token(text.as_bytes(), "token", token)).unwrap()
    }

    #[test]
    fn segments_get_the_token() {
        let text = "#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXT-X-MEDIA-SEQUENCE:7\n#EXTINF:4.0,\nstream_1_007.ts\n#EXT-X-DISCONTINUITY\n#EXTINF:4.0,\nstream_1_008.ts\n";
        assert_eq!(
            run(text, b"abc"),
            "#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXT-X-MEDIA-SEQUENCE:7\n#EXTINF:4.0,\nstream_1_007.ts?token=abc\n#EXT-X-DISCONTINUITY\n#EXTINF:4.0,\nstream_1_008.ts?token=abc\n"
        );
    }

    #[test]
    fn tokens_are_encoded() {
        assert_eq!(encode_component(b"a b&c=d/\xff~"), "a%20b%26c%3Dd%2F%FF~");
        assert_eq!(run("s.ts\n", b"x+y"), "s.ts?token=x%2By\n");
    }

    #[test]
    fn existing_queries_fragments_and_crlf() {
        assert_eq!(run("s.ts?v=2\r\n", b"t"), "s.ts?v=2&token=t\r\n");
        assert_eq!(run("s.ts#frag", b"t"), "s.ts?token=t#frag");
        assert_eq!(run("  \n", b"t"), "  \n");
    }

    #[test]
    fn uri_attributes() {
        assert_eq!(
            run("#EXT-X-KEY:METHOD=AES-128,URI=\"key.bin\",IV=0x1\n", b"t"),
            "#EXT-X-KEY:METHOD=AES-128,URI=\"key.bin?token=t\",IV=0x1\n"
        );
        assert_eq!(
            run("#EXT-X-MAP:URI=\"init.mp4\"\n", b"t"),
            "#EXT-X-MAP:URI=\"init.mp4?token=t\"\n"
        );
        assert_eq!(
            run("#EXT-X-KEY:METHOD=NONE,URI=\"data:abc\"\n", b"t"),
            "#EXT-X-KEY:METHOD=NONE,URI=\"data:abc\"\n"
        );
    }
}
