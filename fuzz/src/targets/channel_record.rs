//! `channel:<id>` records from Redis (`stream_supervisor::channel_record::parse`,
//! then `ChannelRecord::sources`, `proxy_choice`, `request_options`, and
//! `proxy::parse` on a proxy URL). Whatever is accepted can go into
//! ffmpeg's request without smuggling a header line; accepted sources
//! passed `check_source`; a proxy shown never shows its password.

use stream_supervisor::channel_record::{check_source, parse, ProxyChoice};
use stream_supervisor::proxy;

pub fn run(data: &[u8]) {
    let text = super::text(data);
    let Ok(rec) = parse(&text) else {
        return;
    };
    let allowed = vec!["http".to_string(), "https".to_string()];
    if let Ok(sources) = rec.sources(&allowed) {
        assert!(!sources.is_empty());
        for s in &sources {
            assert!(check_source(s, &allowed).is_ok());
        }
    }
    if let Ok(o) = rec.request_options() {
        let fields = o.user_agent.iter().chain(&o.referer);
        for v in fields.chain(o.headers.iter().flat_map(|(n, v)| [n, v])) {
            assert!(!v.contains(['\r', '\n', '\0']), "header smuggling: {v:?}");
        }
        for d in [o.connect_timeout, o.read_timeout].into_iter().flatten() {
            assert!(d.as_secs() <= 3600 && !d.is_zero());
        }
    }
    if let Ok(ProxyChoice::Url(url)) = rec.proxy_choice() {
        proxy_url(&url);
    }
    proxy_url(&text);
}

/// `proxy::parse`: the displayed form never carries the password.
fn proxy_url(url: &str) {
    if let Ok(Some(p)) = proxy::parse(url) {
        let shown = p.display();
        // The scheme and a default port are not the URL's own text.
        let shown_rest = shown.split_once("://").map_or(shown.as_str(), |(_, r)| r);
        if let Some((pass, rest)) = secret_of(url) {
            // An alphanumeric password with a letter cannot be made of the
            // port, brackets or colons the display adds.
            let word = pass.bytes().all(|b| b.is_ascii_alphanumeric())
                && pass.bytes().any(|b| b.is_ascii_alphabetic());
            if word && !rest.contains(pass) {
                assert!(!shown_rest.contains(pass), "password shown: {shown:?}");
            }
        }
    }
}

/// The password of `scheme://user:pass@host/path`, and what follows the
/// `@` (where the same text may appear legitimately).
fn secret_of(url: &str) -> Option<(&str, &str)> {
    let rest = url.trim().split_once("://")?.1;
    let at = rest[..rest.find('/').unwrap_or(rest.len())].rfind('@')?;
    let (_, pass) = rest[..at].split_once(':')?;
    (pass.len() >= 3).then_some((pass, &rest[at + 1..]))
}
