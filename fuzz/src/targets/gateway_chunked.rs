//! Chunked bodies from upstream (`stream_supervisor::gateway::chunked::decode`).
//! A decoded body is never longer than the coded one, and coding it again
//! in one chunk decodes to the same bytes.

use stream_supervisor::gateway::chunked::decode;

pub fn run(data: &[u8]) {
    let Ok(body) = decode(data) else {
        return;
    };
    assert!(
        body.len() <= data.len(),
        "decoded body longer than its coding"
    );
    let mut again = format!("{:x}\r\n", body.len()).into_bytes();
    again.extend_from_slice(&body);
    again.extend_from_slice(b"\r\n0\r\n\r\n");
    if body.is_empty() {
        again = b"0\r\n\r\n".to_vec();
    }
    assert_eq!(decode(&again).as_deref(), Ok(&body[..]));
}
