//! The gateway's HTTP heads (`stream_supervisor::gateway::http`):
//! ffmpeg's request (`parse_client_request`), an upstream response
//! (`parse_response`, then `head_for_client`), and the SOCKS5 reply length
//! (`proxy::socks_reply_len`). A request is served only for GET or HEAD
//! with a gateway id; a range passed on holds only range characters; the
//! head handed to ffmpeg is CRLF lines without another control byte,
//! never `Location` or `Set-Cookie`, ending in `Connection: close`.

use stream_supervisor::gateway::http::{head_end, parse_client_request, parse_response};
use stream_supervisor::proxy::socks_reply_len;

pub fn run(data: &[u8]) {
    if let Some(first5) = data.first_chunk::<5>() {
        if let Ok(n) = socks_reply_len(first5) {
            assert!((4 + 1 + 2..=4 + 1 + 255 + 2).contains(&n));
        }
    }
    if let Some(end) = head_end(data) {
        assert!(end <= data.len() && data[..end].ends_with(b"\r\n\r\n"));
    }
    if let Ok(req) = parse_client_request(data) {
        assert!(data.starts_with(b"GET /u/") || data.starts_with(b"HEAD /u/"));
        if let Some(r) = &req.range {
            assert!(r
                .bytes()
                .all(|b| b.is_ascii_digit() || b"bytes=-,".contains(&b)));
        }
    }
    let Ok(resp) = parse_response(data) else {
        return;
    };
    assert!((100..=599).contains(&resp.status), "status {}", resp.status);
    for len in [None, Some(data.len())] {
        let head = String::from_utf8(resp.head_for_client(len)).expect("head is UTF-8");
        let body = head
            .strip_suffix("Connection: close\r\n\r\n")
            .expect("head ends with Connection: close");
        for line in body.split("\r\n") {
            assert!(
                !line.bytes().any(|b| b.is_ascii_control() && b != b'\t'),
                "control byte passed to ffmpeg: {line:?}"
            );
            let name = line.split(':').next().unwrap_or_default().trim();
            assert!(
                !name.eq_ignore_ascii_case("location") && !name.eq_ignore_ascii_case("set-cookie"),
                "{line:?} passed to ffmpeg"
            );
        }
        let status = body.split(' ').nth(1).unwrap_or_default();
        assert!(
            status.len() == 3 && status.bytes().all(|b| b.is_ascii_digit()),
            "{body:?}"
        );
    }
}
