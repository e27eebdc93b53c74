//! The module's token rewrite of a media playlist
//! (`playlist_rewrite::Template::parse`, `render`, `rendered_len`,
//! `with_token`). The token lands only on URI lines and `URI="..."` tags,
//! never on another line, never across a line break; removing it gives the
//! original line back (URI lines lose their surrounding blanks).

use crate::playlist_rewrite::{pair, with_token, Template};

/// The pair as rendered: a marker no seed or token encoding produces, so
/// every occurrence in the output is one the rewrite put there.
const PAIR: &[u8] = b"tk=\x01MARK\x01";

fn lines(b: &[u8]) -> Vec<&[u8]> {
    b.split(|&c| c == b'\n').collect()
}

fn without_pair(line: &[u8]) -> (Vec<u8>, usize) {
    let mut out = Vec::with_capacity(line.len());
    let mut n = 0;
    let mut i = 0;
    while i < line.len() {
        if (line[i] == b'?' || line[i] == b'&') && line[i + 1..].starts_with(PAIR) {
            i += 1 + PAIR.len();
            n += 1;
        } else {
            out.push(line[i]);
            i += 1;
        }
    }
    (out, n)
}

pub fn run(data: &[u8]) {
    if data.windows(PAIR.len()).any(|w| w == PAIR) {
        return;
    }
    let t = Template::parse(data.to_vec());
    assert_eq!(t.text(), data);
    let out = t.render(PAIR);
    assert_eq!(out.len(), t.rendered_len(PAIR.len()));

    let (before, after) = (lines(data), lines(&out));
    assert_eq!(before.len(), after.len(), "line count changed");
    for (b, a) in before.iter().zip(&after) {
        let (stripped, n) = without_pair(a);
        let body = b.strip_suffix(b"\r").unwrap_or(b).trim_ascii();
        let utf8 = std::str::from_utf8(body).is_ok();
        let is_uri = !body.is_empty() && !body.starts_with(b"#");
        let is_tag = body.starts_with(b"#EXT") && body.windows(5).any(|w| w == b"URI=\"");
        if is_uri || is_tag {
            // Blanks around a URI line or a tag with a URI may go.
            assert_eq!(
                stripped.trim_ascii(),
                b.trim_ascii(),
                "line changed beyond its token"
            );
        } else {
            assert_eq!(&stripped[..], *b, "line without a URI changed");
        }
        if n > 0 {
            assert!(is_uri || is_tag, "token on a line that takes none: {b:?}");
            assert!(utf8, "token on a non-UTF-8 line");
        }
        if is_uri && utf8 {
            assert_eq!(n, 1, "a segment line needs its token, once: {b:?}");
        }
    }

    // The public one-call form, with a token that needs encoding.
    let token: &[u8] = data.get(..data.len().min(16)).unwrap_or_default();
    let p = pair("token", token);
    assert!(p
        .bytes()
        .all(|b| b.is_ascii_graphic() && b != b'&' && b != b'#'));
    let once = with_token(data, "token", token);
    assert_eq!(once, t.render(p.as_bytes()));
}
