//! HTTP/1.1 chunked transfer coding, decoded (a playlist is rewritten as a
//! whole, so it is read whole first).

/// Decodes a complete chunked body; trailers are ignored.
pub fn decode(body: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(body.len());
    let mut rest = body;
    loop {
        let eol = rest
            .windows(2)
            .position(|w| w == b"\r\n")
            .ok_or("chunk size line is not terminated")?;
        let line = std::str::from_utf8(&rest[..eol]).map_err(|_| "chunk size is not text")?;
        let size = line.split(';').next().unwrap_or("").trim();
        if size.is_empty() || size.len() > 15 {
            return Err(format!("bad chunk size {size:?}"));
        }
        let size =
            usize::from_str_radix(size, 16).map_err(|_| format!("bad chunk size {size:?}"))?;
        rest = &rest[eol + 2..];
        if size == 0 {
            return Ok(out);
        }
        if rest.len() < size + 2 {
            return Err("body ends inside a chunk".into());
        }
        if &rest[size..size + 2] != b"\r\n" {
            return Err("chunk is not followed by CRLF".into());
        }
        out.extend_from_slice(&rest[..size]);
        rest = &rest[size + 2..];
    }
}

#[cfg(test)]
mod tests {
    use super::decode;

    #[test]
    fn decodes_chunks() {
        assert_eq!(
            decode(b"7\r\n#EXTM3U\r\n3;ext=1\r\n\nab\r\n0\r\nX-T: 1\r\n\r\n").unwrap(),
            b"#EXTM3U\nab"
        );
        assert_eq!(decode(b"0\r\n\r\n").unwrap(), b"");
        assert_eq!(decode(b"A\r\n0123456789\r\n0\r\n").unwrap(), b"0123456789");
    }

    #[test]
    fn refuses_broken_bodies() {
        assert!(decode(b"").is_err());
        assert!(decode(b"5\r\nab").is_err());
        assert!(decode(b"2\r\nabcd\r\n0\r\n").is_err());
        assert!(decode(b"zz\r\n").is_err());
        assert!(decode(b"ffffffffffffffffff\r\n").is_err());
        assert!(decode(b"\r\n").is_err());
    }
}
