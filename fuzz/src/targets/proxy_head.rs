//! The SOCKS bridge's HTTP proxy request heads from ffmpeg
//! (`stream_supervisor::proxy::parse_request`), and the SOCKS5 reply
//! length it reads (`socks_reply_len`). What the bridge forwards upstream
//! is one request: an origin-form request line, CRLF-separated header lines
//! without a bare LF or other control byte, no `Proxy-Authorization`
//! (the bridge's own credential), ending in `Connection: close`.

use stream_supervisor::proxy::{parse_request, socks_reply_len};

pub fn run(data: &[u8]) {
    if let Some(first5) = data.first_chunk::<5>() {
        if let Ok(n) = socks_reply_len(first5) {
            assert!((4 + 1 + 2..=4 + 1 + 255 + 2).contains(&n));
        }
    }
    let Ok(req) = parse_request(data) else {
        return;
    };
    if req.tunnel {
        assert!(req.head.is_empty());
        return;
    }
    let head = std::str::from_utf8(&req.head).expect("forwarded head is UTF-8");
    let body = head
        .strip_suffix("Connection: close\r\n\r\n")
        .expect("forwarded head ends with Connection: close");
    let mut lines = body.split("\r\n");
    let first = lines.next().unwrap_or_default();
    let parts: Vec<&str> = first.split(' ').collect();
    assert_eq!(parts.len(), 3, "request line {first:?}");
    assert!(parts[1].starts_with('/'), "not origin-form: {first:?}");
    let tchar = |b: u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b);
    assert!(
        parts[0].bytes().all(tchar),
        "method is not a token: {first:?}"
    );
    for line in body.split("\r\n") {
        assert!(
            !line.bytes().any(|b| b.is_ascii_control() && b != b'\t'),
            "control byte forwarded: {line:?}"
        );
        let name = line.split(':').next().unwrap_or_default().trim();
        assert!(
            !name.eq_ignore_ascii_case("proxy-authorization"),
            "bridge credential forwarded upstream"
        );
    }
}
