//! Text from outside (a decoded URI, a supervisor's message, an ffmpeg
//! reason) as the module writes it into nginx's error log: control bytes
//! and anything beyond ASCII escaped (`\n`, `\x1b`), so that no `%0a` in a
//! URL can start a forged log line.

use core::fmt;

/// Displays `bytes` with every byte that is not printable ASCII escaped.
pub struct Esc<'a>(pub &'a [u8]);

impl fmt::Display for Esc<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Quotes and backslashes stay as they are: only what could break
        // a line (or a terminal) is escaped.
        for chunk in self.0.split_inclusive(|b| !(0x20..0x7f).contains(b)) {
            let (last, text) = match chunk.split_last() {
                Some((&b, rest)) if !(0x20..0x7f).contains(&b) => (Some(b), rest),
                _ => (None, chunk),
            };
            // `text` is printable ASCII, hence UTF-8.
            f.write_str(core::str::from_utf8(text).map_err(|_| fmt::Error)?)?;
            if let Some(b) = last {
                write!(f, "{}", core::ascii::escape_default(b))?;
            }
        }
        Ok(())
    }
}

/// `Esc` of a string.
pub fn esc(s: &str) -> Esc<'_> {
    Esc(s.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_line_breaks_survive() {
        let s = esc("/api/x\n2026/01/01 00:00:00 [emerg] forged\r\x1b[31m").to_string();
        assert!(!s.bytes().any(|b| b.is_ascii_control()), "{s}");
        assert_eq!(s, "/api/x\\n2026/01/01 00:00:00 [emerg] forged\\r\\x1b[31m");
        assert_eq!(Esc(b"caf\xc3\xa9").to_string(), "caf\\xc3\\xa9");
        assert_eq!(
            esc("plain \"text\": ok (7) \\").to_string(),
            "plain \"text\": ok (7) \\"
        );
        assert_eq!(Esc(b"\x00\x7f\t").to_string(), "\\x00\\x7f\\t");
    }
}
