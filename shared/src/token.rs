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

/// A token shortened for logs: its first four characters and its length,
/// never the whole secret.
pub fn masked(token: &[u8]) -> String {
    let head: String = token
        .iter()
        .take(4)
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
        match pair.strip_prefix(arg).and_then(|v| v.strip_prefix(b"=")) {
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
    fn masks() {
        assert_eq!(masked(b"secret-token-value"), "secr...(18 bytes)");
        assert_eq!(masked(b"a\nb"), "a?b...(3 bytes)");
        assert!(!masked(b"0123456789").contains("456"));
    }
}
