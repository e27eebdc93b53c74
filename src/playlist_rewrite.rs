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

/// One piece of a rewritten playlist: bytes of the original text, or the
/// place where `arg=token` goes, after `?` or `&`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Part {
    Text { start: usize, end: usize },
    Arg { sep: u8 },
}

/// A media playlist with the places where the token goes worked out once.
/// A worker keeps one per playlist version and renders it for each viewer
/// with a copy of each piece, instead of parsing the text per request.
#[derive(Debug, Clone, Default)]
pub struct Template {
    text: Vec<u8>,
    parts: Vec<Part>,
    args: usize,
}

impl Template {
    /// Finds every URI of a media playlist: segment lines and the
    /// `URI="..."` attributes of tags (keys, init sections).
    pub fn parse(text: Vec<u8>) -> Template {
        let mut t = Template {
            text: Vec::new(),
            parts: Vec::new(),
            args: 0,
        };
        let mut line_start = 0;
        for line in text.split_inclusive(|b| *b == b'\n') {
            let body_len = if line.ends_with(b"\r\n") {
                line.len() - 2
            } else if line.ends_with(b"\n") {
                line.len() - 1
            } else {
                line.len()
            };
            let body = &line[..body_len];
            let lead = body.len() - body.trim_ascii_start().len();
            let trimmed = body.trim_ascii();
            let at = line_start + lead;
            match std::str::from_utf8(trimmed) {
                Ok(u) if !u.is_empty() && !u.starts_with('#') => {
                    // Leading and trailing blanks of a URI line are dropped.
                    t.uri(at, u);
                    t.push_text(line_start + body_len, line_start + line.len());
                }
                Ok(tag) if tag.starts_with("#EXT") && tag.contains("URI=\"") => {
                    t.tag(at, tag);
                    t.push_text(line_start + body_len, line_start + line.len());
                }
                _ => t.push_text(line_start, line_start + line.len()),
            }
            line_start += line.len();
        }
        t.text = text;
        t
    }

    /// The original playlist text.
    pub fn text(&self) -> &[u8] {
        &self.text
    }

    /// The length of the text rendered with a `pair` of `pair_len` bytes.
    pub fn rendered_len(&self, pair_len: usize) -> usize {
        let kept: usize = self
            .parts
            .iter()
            .map(|p| match *p {
                Part::Text { start, end } => end - start,
                Part::Arg { .. } => 0,
            })
            .sum();
        kept + self.args * (pair_len + 1)
    }

    /// Writes the text with `pair` (`arg=encoded-token`) on every URI into
    /// `out`, which must be `rendered_len(pair.len())` bytes long.
    pub fn render_into(&self, pair: &[u8], out: &mut [u8]) {
        let mut at = 0;
        for p in &self.parts {
            match *p {
                Part::Text { start, end } => {
                    out[at..at + end - start].copy_from_slice(&self.text[start..end]);
                    at += end - start;
                }
                Part::Arg { sep } => {
                    out[at] = sep;
                    out[at + 1..at + 1 + pair.len()].copy_from_slice(pair);
                    at += 1 + pair.len();
                }
            }
        }
        debug_assert_eq!(at, out.len());
    }

    pub fn render(&self, pair: &[u8]) -> Vec<u8> {
        let mut out = vec![0; self.rendered_len(pair.len())];
        self.render_into(pair, &mut out);
        out
    }

    fn push_text(&mut self, start: usize, end: usize) {
        if start == end {
            return;
        }
        // Adjacent pieces of text are one copy.
        if let Some(Part::Text { end: last, .. }) = self.parts.last_mut() {
            if *last == start {
                *last = end;
                return;
            }
        }
        self.parts.push(Part::Text { start, end });
    }

    /// A URI at byte `at` of the text: the token goes before any fragment,
    /// after `&` if the URI already has a query.
    fn uri(&mut self, at: usize, uri: &str) {
        let base = uri.find('#').unwrap_or(uri.len());
        self.push_text(at, at + base);
        let sep = if uri[..base].contains('?') {
            b'&'
        } else {
            b'?'
        };
        self.parts.push(Part::Arg { sep });
        self.args += 1;
        self.push_text(at + base, at + uri.len());
    }

    fn tag(&mut self, at: usize, tag: &str) {
        let mut done = 0;
        while let Some(i) = tag[done..].find("URI=\"") {
            let start = done + i + 5;
            let Some(len) = tag[start..].find('"') else {
                break;
            };
            let uri = &tag[start..start + len];
            self.push_text(at + done, at + start);
            if uri.is_empty() || uri.starts_with("data:") {
                self.push_text(at + start, at + start + len);
            } else {
                self.uri(at + start, uri);
            }
            done = start + len;
        }
        self.push_text(at + done, at + tag.len());
    }
}

/// `arg=token`, the token percent-encoded: what goes on every URI.
pub fn pair(arg: &str, token: &[u8]) -> String {
    format!("{arg}={}", encode_component(token))
}

/// Adds `arg=token` to every URI of a media playlist: segment lines and
/// the `URI="..."` attributes of tags (keys, init sections). `token` is
/// the decoded token; it is encoded here.
pub fn with_token(text: &[u8], arg: &str, token: &[u8]) -> Vec<u8> {
    Template::parse(text.to_vec()).render(pair(arg, token).as_bytes())
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
    fn master_playlist_variants_get_the_token() {
        // The abr preset's master (ffmpeg's text): the variant URIs carry
        // the token, as segment URIs do in a media playlist.
        let text = "#EXTM3U\n#EXT-X-VERSION:6\n#EXT-X-STREAM-INF:BANDWIDTH=5640800,RESOLUTION=320x240,CODECS=\"avc1.64001e,mp4a.40.2\"\nstream_7.0.m3u8\n\n#EXT-X-STREAM-INF:BANDWIDTH=1425600,RESOLUTION=142x106,CODECS=\"avc1.640014,mp4a.40.2\"\nstream_7.2.m3u8\n\n";
        assert_eq!(
            run(text, b"t k"),
            text.replace(".m3u8\n", ".m3u8?token=t%20k\n")
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
    fn one_template_serves_every_token() {
        let text = "#EXTM3U\n#EXT-X-MAP:URI=\"init.mp4\"\n#EXTINF:4.0,\n  s_1.ts?v=1#f  \r\n#EXTINF:4.0,\ns_2.ts\n# comment\n";
        let t = Template::parse(text.as_bytes().to_vec());
        assert_eq!(t.text(), text.as_bytes());
        for token in [&b"a"[..], b"x y", b"0123456789abcdef0123456789abcdef"] {
            let p = pair("token", token);
            let out = t.render(p.as_bytes());
            assert_eq!(out.len(), t.rendered_len(p.len()));
            assert_eq!(out, with_token(text.as_bytes(), "token", token));
        }
        assert_eq!(
            String::from_utf8(t.render(b"k=v")).unwrap(),
            "#EXTM3U\n#EXT-X-MAP:URI=\"init.mp4?k=v\"\n#EXTINF:4.0,\ns_1.ts?v=1&k=v#f\r\n#EXTINF:4.0,\ns_2.ts?k=v\n# comment\n"
        );
    }

    #[test]
    fn text_without_uris_is_kept_whole() {
        let text = b"#EXTM3U\n#EXT-X-TARGETDURATION:4\n\xff\xfe odd bytes\n".to_vec();
        let t = Template::parse(text.clone());
        assert_eq!(t.rendered_len(10), text.len());
        assert_eq!(t.render(b"token=abcd"), text);
        assert_eq!(t.parts.len(), 1);
    }

    #[test]
    fn unterminated_uri_attribute_is_left_alone() {
        assert_eq!(
            run("#EXT-X-KEY:URI=\"k.bin\n", b"t"),
            "#EXT-X-KEY:URI=\"k.bin\n"
        );
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
