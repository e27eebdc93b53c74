//! Upstream `Set-Cookie` values (`stream_supervisor::gateway::cookies::parse_set_cookie`):
//! a kept cookie's name and value cannot break the `Cookie` header the
//! gateway sends back.

use stream_supervisor::gateway::cookies::parse_set_cookie;

pub fn run(data: &[u8]) {
    let text = super::text(data);
    if let Some((name, value, _expired)) = parse_set_cookie(&text) {
        assert!(!name.is_empty(), "{text:?}");
        for s in [&name, &value] {
            assert!(
                !s.bytes().any(|b| b.is_ascii_control() || b == b';'),
                "{text:?} -> {s:?}"
            );
        }
        assert!(!name.contains(['=', ' ']), "{name:?}");
    }
}
