//! Viewer tokens as they arrive in URLs, and as they may appear in logs.

/// Decodes `%XX` escapes (a `+` stays a `+`: tokens are not form text).
/// Returns `None` for a malformed escape.
pub fn percent_decode(raw: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        if raw[i] == b'%' {
            let hi = hex(*raw.get(i + 1)?)?;
            let lo = hex(*raw.get(i + 2)?)?;
            out.push(hi << 4 | lo);
            i += 3;
        } else {
            out.push(raw[i]);
            i += 1;
        }
    }
    Some(out)
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// How many leading bytes of a token (or of its raw text in a URL) logs
/// may show: four, and never more than half of it, so a short token is
/// never shown whole.
pub fn shown_len(len: usize) -> usize {
    (len / 2).min(4)
}

/// A token shortened for logs: its first four characters and its length,
/// never the whole secret.
pub fn masked(token: &[u8]) -> String {
    let head: String = token
        .iter()
        .take(shown_len(token.len()))
        .map(|&b| {
            if b.is_ascii_alphanumeric() {
                b as char
            } else {
                '?'
            }
        })
        .collect();
    format!("{head}...({} bytes)", token.len())
}

/// The longest token accepted, in bytes (decoded). Issued tokens are 48
/// hex digits; imported ones may be longer, not unbounded.
pub const MAX_TOKEN_LEN: usize = 256;

/// Whether `token` (decoded) has the form of a token: 1 to
/// `MAX_TOKEN_LEN` bytes of visible ASCII (no space, no control byte,
/// nothing beyond ASCII). Checked before anyone asks Redis, so junk costs
/// nothing; the error says what is wrong without repeating the token.
pub fn check_form(token: &[u8]) -> Result<(), String> {
    if token.is_empty() {
        return Err("the token is empty".into());
    }
    if token.len() > MAX_TOKEN_LEN {
        return Err(format!(
            "the token is {} bytes long; at most {MAX_TOKEN_LEN} are accepted",
            token.len()
        ));
    }
    match token.iter().position(|b| !b.is_ascii_graphic()) {
        Some(i) => Err(format!(
            "the token has byte 0x{:02x} at offset {i}; tokens are visible ASCII",
            token[i]
        )),
        None => Ok(()),
    }
}

/// The request line (`GET /path?token=SECRET HTTP/1.1`) with the value of
/// query argument `arg` cut to its first four bytes and `...`, for nginx's
/// logs (`$request`, the error log's request context). `None` when there
/// is nothing to mask.
pub fn mask_request_line(line: &[u8], arg: &[u8]) -> Option<Vec<u8>> {
    let q = line.iter().position(|&b| b == b'?')?;
    let end = line[q..]
        .iter()
        .position(|&b| b == b' ')
        .map_or(line.len(), |i| q + i);
    let mut out = line[..=q].to_vec();
    let mut changed = false;
    for (i, pair) in line[q + 1..end].split(|&b| b == b'&').enumerate() {
        if i > 0 {
            out.push(b'&');
        }
        // nginx's argument lookup ignores case, so `?TOKEN=` authenticates
        // as `?token=` does and is masked as well.
        let named = pair.len() > arg.len() && pair[..arg.len()].eq_ignore_ascii_case(arg);
        match named
            .then(|| &pair[arg.len()..])
            .and_then(|v| v.strip_prefix(b"="))
        {
            Some(value) if value.len() > 4 => {
                out.extend_from_slice(&pair[..arg.len() + 1]);
                out.extend_from_slice(&value[..4]);
                out.extend_from_slice(b"...");
                changed = true;
            }
            _ => out.extend_from_slice(pair),
        }
    }
    out.extend_from_slice(&line[end..]);
    changed.then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_line_masking_ignores_the_name_case() {
        let out = mask_request_line(b"GET /c/i.m3u8?TOKEN=abcdefgh&x=1 HTTP/1.1", b"token");
        assert_eq!(
            out.as_deref(),
            Some(&b"GET /c/i.m3u8?TOKEN=abcd...&x=1 HTTP/1.1"[..])
        );
    }

    #[test]
    fn decodes_escapes() {
        assert_eq!(percent_decode(b"abc"), Some(b"abc".to_vec()));
        assert_eq!(percent_decode(b"a%2Bb%3d"), Some(b"a+b=".to_vec()));
        assert_eq!(percent_decode(b"a+b"), Some(b"a+b".to_vec()));
        assert_eq!(percent_decode(b"a%2"), None);
        assert_eq!(percent_decode(b"a%zz"), None);
    }

    #[test]
    fn request_lines() {
        let m = |l: &str| {
            mask_request_line(l.as_bytes(), b"token").map(|v| String::from_utf8(v).unwrap())
        };
        assert_eq!(
            m("GET /live/stream_1.m3u8?token=0123456789abcdef HTTP/1.1").as_deref(),
            Some("GET /live/stream_1.m3u8?token=0123... HTTP/1.1")
        );
        assert_eq!(
            m("GET /a?x=1&token=secretvalue&mytoken=keep HTTP/1.0").as_deref(),
            Some("GET /a?x=1&token=secr...&mytoken=keep HTTP/1.0")
        );
        assert_eq!(m("GET /a?x=1 HTTP/1.1"), None);
        assert_eq!(m("GET /a HTTP/1.1"), None);
        assert_eq!(m("GET /a?token=abc HTTP/1.1"), None);
    }

    #[test]
    fn forms() {
        assert!(check_form(b"0123456789abcdef0123456789abcdef0123456789abcdef").is_ok());
        assert!(check_form(b"a+b/c=d~%").is_ok());
        assert!(check_form(&[b'a'; MAX_TOKEN_LEN]).is_ok());
        assert!(check_form(&[b'a'; MAX_TOKEN_LEN + 1])
            .unwrap_err()
            .contains("257 bytes"));
        assert!(check_form(b"").is_err());
        assert!(check_form(b"a b").unwrap_err().contains("0x20 at offset 1"));
        assert!(check_form(b"ab\n").unwrap_err().contains("0x0a"));
        assert!(check_form("caf\u{e9}".as_bytes()).is_err());
    }

    #[test]
    fn masks() {
        assert_eq!(masked(b"secret-token-value"), "secr...(18 bytes)");
        assert_eq!(masked(b"a\nb"), "a...(3 bytes)");
        assert_eq!(masked(b"good"), "go...(4 bytes)");
        assert_eq!(masked(b"tk"), "t...(2 bytes)");
        assert!(!masked(b"0123456789").contains("456"));
    }
}
