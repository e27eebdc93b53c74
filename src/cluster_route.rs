//! Cluster routing decisions (pure): the URI an edge node forwards to the
//! owner (the viewer's token taken out), the owner's base URL as the
//! variable gives it, and where a `redirect` sends the viewer.

/// `uri` (as `$request_uri` has it) without any `name=` argument: the
/// owner admits the forwarded request by the cluster key, so the viewer's
/// token has no business in its logs.
pub fn strip_arg(uri: &[u8], name: &[u8]) -> Vec<u8> {
    let Some(q) = uri.iter().position(|&b| b == b'?') else {
        return uri.to_vec();
    };
    let mut out = uri[..q].to_vec();
    let mut first = true;
    for pair in uri[q + 1..].split(|&b| b == b'&') {
        let key = pair.split(|&b| b == b'=').next().unwrap_or_default();
        if pair.is_empty() || key == name {
            continue;
        }
        out.push(if first { b'?' } else { b'&' });
        out.extend_from_slice(pair);
        first = false;
    }
    out
}

/// The owner's base URL without a trailing slash, so that
/// `$stream_autostart_owner_url$stream_autostart_cluster_uri` is one URL.
pub fn base_url(url: &str) -> &str {
    url.trim_end_matches('/')
}

/// A usable owner URL: http(s), a host, nothing a header could be split
/// with.
pub fn usable_url(url: &str) -> bool {
    (url.starts_with("http://") || url.starts_with("https://"))
        && url.len() > "https://".len()
        && !url.bytes().any(|b| b.is_ascii_control() || b == b' ')
}

/// Where `redirect` sends the viewer: the owner, the same URI (the token
/// stays: it is the viewer's own request).
pub fn redirect_to(owner: &str, request_uri: &[u8]) -> Vec<u8> {
    let mut out = base_url(owner).as_bytes().to_vec();
    out.extend_from_slice(request_uri);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_token_argument_is_taken_out_and_the_rest_kept() {
        let s = |u: &str| String::from_utf8(strip_arg(u.as_bytes(), b"token")).unwrap();
        assert_eq!(s("/live/7.m3u8?token=abc"), "/live/7.m3u8");
        assert_eq!(s("/live/7.m3u8?a=1&token=abc&b=2"), "/live/7.m3u8?a=1&b=2");
        assert_eq!(s("/live/7.m3u8?token=x&token=y"), "/live/7.m3u8");
        assert_eq!(s("/live/7.m3u8?tokens=1"), "/live/7.m3u8?tokens=1");
        assert_eq!(s("/live/7.m3u8"), "/live/7.m3u8");
        assert_eq!(s("/live/7.m3u8?&&token"), "/live/7.m3u8");
    }

    #[test]
    fn owner_urls() {
        assert_eq!(base_url("http://10.0.0.2:8080/"), "http://10.0.0.2:8080");
        assert!(usable_url("http://10.0.0.2:8080"));
        assert!(!usable_url("ftp://x"));
        assert!(!usable_url("http://a\r\nX: y"));
        assert!(!usable_url("http://"));
        assert_eq!(
            redirect_to("http://n2:80/", b"/live/7.m3u8?token=t"),
            b"http://n2:80/live/7.m3u8?token=t"
        );
    }
}
