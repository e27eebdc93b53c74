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
    fn masks() {
        assert_eq!(masked(b"secret-token-value"), "secr...(18 bytes)");
        assert_eq!(masked(b"a\nb"), "a?b...(3 bytes)");
        assert!(!masked(b"0123456789").contains("456"));
    }
}
