//! Channel ids: the only part of a request that reaches file names, Redis
//! keys and ffmpeg arguments, so it is held to `[A-Za-z0-9_-]{1,64}`.

use core::fmt;

pub const MAX_LEN: usize = 64;

/// Why a channel id was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InvalidChannel {
    Empty,
    TooLong(usize),
    /// The first byte outside the allowed set and its position.
    BadByte {
        byte: u8,
        at: usize,
    },
}

impl fmt::Display for InvalidChannel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InvalidChannel::Empty => f.write_str("channel id is empty"),
            InvalidChannel::TooLong(n) => {
                write!(f, "channel id is {n} bytes long (at most {MAX_LEN})")
            }
            InvalidChannel::BadByte { byte, at } => write!(
                f,
                "channel id has byte 0x{byte:02x} ({}) at offset {at}; allowed: A-Z a-z 0-9 _ -",
                printable(*byte)
            ),
        }
    }
}

fn printable(b: u8) -> String {
    if b.is_ascii_graphic() {
        format!("'{}'", b as char)
    } else {
        "unprintable".to_string()
    }
}

/// Checks a channel id and returns it as `&str`.
pub fn validate(id: &[u8]) -> Result<&str, InvalidChannel> {
    if id.is_empty() {
        return Err(InvalidChannel::Empty);
    }
    if id.len() > MAX_LEN {
        return Err(InvalidChannel::TooLong(id.len()));
    }
    if let Some(at) = id
        .iter()
        .position(|&b| !(b.is_ascii_alphanumeric() || b == b'_' || b == b'-'))
    {
        return Err(InvalidChannel::BadByte { byte: id[at], at });
    }
    // All bytes are ASCII, so this cannot fail.
    core::str::from_utf8(id).map_err(|_| InvalidChannel::Empty)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_the_allowed_set() {
        assert_eq!(validate(b"71386"), Ok("71386"));
        assert_eq!(validate(b"news_HD-2"), Ok("news_HD-2"));
        assert!(validate(&[b'a'; 64]).is_ok());
    }

    #[test]
    fn refuses_path_tricks_and_odd_bytes() {
        for bad in [
            &b".."[..],
            b"../etc",
            b"a/b",
            b"a%2Fb",
            b"a b",
            b"a\0b",
            b"a.m3u8",
            b"\xc3\xa9",
            b"a\nb",
            b"*",
        ] {
            assert!(
                matches!(validate(bad), Err(InvalidChannel::BadByte { .. })),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn refuses_empty_and_long() {
        assert_eq!(validate(b""), Err(InvalidChannel::Empty));
        assert_eq!(validate(&[b'a'; 65]), Err(InvalidChannel::TooLong(65)));
    }

    #[test]
    fn messages_say_what_is_wrong() {
        let e = validate(b"a/b").unwrap_err().to_string();
        assert!(
            e.contains("0x2f") && e.contains("'/'") && e.contains("offset 1"),
            "{e}"
        );
        let e = validate(b"a\0").unwrap_err().to_string();
        assert!(e.contains("unprintable"), "{e}");
    }
}
