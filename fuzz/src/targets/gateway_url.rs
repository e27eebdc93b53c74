//! URLs the gateway fetches (`stream_supervisor::gateway::url::parse`,
//! `resolve`): an accepted URL has a host, an origin-form target, and a
//! `Host` header that cannot break the request head.

use stream_supervisor::gateway::url::{parse, resolve};

pub fn run(data: &[u8]) {
    let text = super::text(data);
    let (a, b) = text.split_once('\n').unwrap_or((&text, ""));
    for u in [a, b, &*text] {
        if let Ok(url) = parse(u) {
            assert!(!url.host.is_empty(), "{u:?}");
            assert!(url.target.starts_with('/'), "{u:?} -> {:?}", url.target);
            for s in [url.host_header(), url.target.clone()] {
                assert!(
                    !s.bytes().any(|c| c.is_ascii_control() || c == b' '),
                    "{u:?} -> {s:?}"
                );
            }
        }
    }
    let _ = resolve(a, b);
    let _ = resolve("http://o.test/a/b/index.m3u8?x=1", a);
}
