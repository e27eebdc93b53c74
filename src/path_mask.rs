//! Passwords in URL paths out of nginx's logs. Xtream clients put the
//! viewer's credentials in the path of every stream URL:
//! `/live/<user>/<password>/<id>.m3u8` (and `/movie/`, `/series/`,
//! `/timeshift/`). When a location uses `stream_autostart_login`, the
//! `<password>` component of such paths is masked, whole, in what nginx
//! logs, as `log_mask` does for token arguments (same length, in place).
//!
//! nginx matches locations on the decoded, normalised path, so the prefix
//! is recognised the same way: percent-escapes decoded, empty components
//! (`//`) skipped. A path with `.` or `..` components is not worked out:
//! every component after the prefix is masked (fail closed).

use crate::log_mask::MASK;

/// The first path components after which come the user and the password.
pub const PREFIXES: [&str; 4] = ["live", "movie", "series", "timeshift"];

/// Masks the password component of `path` (no query). Returns whether
/// anything changed.
pub fn mask_path(path: &mut [u8]) -> bool {
    // (start, end) of every non-empty component.
    let mut parts = Vec::new();
    let mut start = 0;
    for i in 0..=path.len() {
        if i == path.len() || path[i] == b'/' {
            if i > start {
                parts.push((start, i));
            }
            start = i + 1;
        }
    }
    let decoded = |(s, e): (usize, usize)| decode_lossy(&path[s..e]);
    let dotted = parts.iter().any(|&p| {
        let d = decoded(p);
        d == b"." || d == b".."
    });
    let is_prefix = |p: (usize, usize)| {
        let d = decoded(p);
        PREFIXES.iter().any(|x| d == x.as_bytes())
    };
    let masked: Vec<(usize, usize)> = if dotted {
        match parts.iter().position(|&p| is_prefix(p)) {
            Some(i) => parts[i + 1..].to_vec(),
            None => Vec::new(),
        }
    } else if parts.len() >= 3 && is_prefix(parts[0]) {
        vec![parts[2]]
    } else {
        Vec::new()
    };
    let mut changed = false;
    for (s, e) in masked {
        for b in &mut path[s..e] {
            if *b != MASK {
                *b = MASK;
                changed = true;
            }
        }
    }
    changed
}

/// A cheap test before any copy: whether `text` may hold a path that
/// `mask_path` changes (one of the prefixes, or an escape that may spell
/// one).
pub fn may_hold(text: &[u8]) -> bool {
    text.contains(&b'%')
        || PREFIXES
            .iter()
            .any(|p| text.windows(p.len()).any(|w| w == p.as_bytes()))
}

/// `%XX` decoded where well formed, other bytes as they are.
fn decode_lossy(raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        if raw[i] == b'%' && i + 2 < raw.len() {
            let h = (raw[i + 1] as char).to_digit(16);
            let l = (raw[i + 2] as char).to_digit(16);
            if let (Some(h), Some(l)) = (h, l) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(raw[i]);
        i += 1;
    }
    out
}

/// The path of a URI as nginx logs it (`/p?q`, or absolute
/// `http://host/p?q`): the byte range up to the query.
fn path_range(uri: &[u8]) -> (usize, usize) {
    let end = uri.iter().position(|&b| b == b'?').unwrap_or(uri.len());
    let mut start = 0;
    let lower = uri[..end.min(8)].to_ascii_lowercase();
    if lower.starts_with(b"http://") || lower.starts_with(b"https://") {
        let after = if lower.starts_with(b"https://") { 8 } else { 7 };
        start = uri[after..end]
            .iter()
            .position(|&b| b == b'/')
            .map_or(end, |p| after + p);
    }
    (start, end)
}

/// Masks the path of a URI (`$request_uri`).
pub fn mask_uri(uri: &mut [u8]) -> bool {
    let (s, e) = path_range(uri);
    mask_path(&mut uri[s..e])
}

/// Masks the path in a request line (`GET /live/u/p/1.ts HTTP/1.1`); a
/// line cut short is masked to its end.
pub fn mask_request_line(line: &mut [u8]) -> bool {
    let Some(sp) = line.iter().position(|&b| b == b' ') else {
        return false;
    };
    let rest = &mut line[sp + 1..];
    let end = rest.iter().position(|&b| b == b' ').unwrap_or(rest.len());
    mask_uri(&mut rest[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(s: &str) -> String {
        let mut v = s.as_bytes().to_vec();
        mask_request_line(&mut v);
        String::from_utf8(v).unwrap()
    }

    #[test]
    fn masks_the_password_component() {
        assert_eq!(
            line("GET /live/alice/hunter2/7.m3u8 HTTP/1.1"),
            "GET /live/alice/*******/7.m3u8 HTTP/1.1"
        );
        assert_eq!(
            line("GET /live/alice/hunter2/stream_7_001.ts?x=1 HTTP/1.1"),
            "GET /live/alice/*******/stream_7_001.ts?x=1 HTTP/1.1"
        );
        assert_eq!(
            line("GET /movie/a/pw/1.mp4 HTTP/1.1"),
            "GET /movie/a/**/1.mp4 HTTP/1.1"
        );
        assert_eq!(
            line("GET /timeshift/a/pw/60/2026-01-01:10-00/7.ts HTTP/1.1"),
            "GET /timeshift/a/**/60/2026-01-01:10-00/7.ts HTTP/1.1"
        );
        // Without a trailing component, cut short, absolute form.
        assert_eq!(line("GET /live/a/pw HTTP/1.1"), "GET /live/a/** HTTP/1.1");
        assert_eq!(line("GET /live/a/secr"), "GET /live/a/****");
        assert_eq!(
            line("GET http://tv.example/live/a/pw/1.ts HTTP/1.1"),
            "GET http://tv.example/live/a/**/1.ts HTTP/1.1"
        );
    }

    #[test]
    fn what_nginx_would_route_the_same_is_masked_the_same() {
        assert_eq!(
            line("GET //live//alice///pw/1.ts HTTP/1.1"),
            "GET //live//alice///**/1.ts HTTP/1.1"
        );
        assert_eq!(
            line("GET /%6Cive/alice/pw/1.ts HTTP/1.1"),
            "GET /%6Cive/alice/**/1.ts HTTP/1.1"
        );
        // Dot components: everything after the prefix.
        assert_eq!(
            line("GET /x/../live/alice/pw/1.ts HTTP/1.1"),
            "GET /x/../live/*****/**/**** HTTP/1.1"
        );
        assert_eq!(
            line("GET /live/./alice/pw/1.ts HTTP/1.1"),
            "GET /live/*/*****/**/**** HTTP/1.1"
        );
    }

    #[test]
    fn leaves_other_paths_alone() {
        for l in [
            "GET /live/stream_1.m3u8?token=x HTTP/1.1",
            "GET /live/a HTTP/1.1",
            "GET /lives/a/b/c HTTP/1.1",
            "GET /x/live/a/b/c HTTP/1.1",
            "GET /player_api.php?username=a&password=b HTTP/1.1",
            "GET /live/a/ HTTP/1.1",
            "GARBAGE",
        ] {
            assert_eq!(line(l), l);
        }
    }

    #[test]
    fn the_prefilter_lets_through_whatever_is_masked() {
        for l in [
            "GET /live/alice/pw/1.ts HTTP/1.1",
            "GET /%6Cive/alice/pw/1.ts HTTP/1.1",
            "GET /x/../series/a/b HTTP/1.1",
        ] {
            assert!(may_hold(l.as_bytes()), "{l}");
        }
        assert!(!may_hold(b"GET /hls/stream_1.m3u8 HTTP/1.1"));
    }

    #[test]
    fn uris_and_idempotence() {
        let mut v = b"/live/alice/pw/1.ts?token=z".to_vec();
        assert!(mask_uri(&mut v));
        assert_eq!(v, b"/live/alice/**/1.ts?token=z");
        assert!(!mask_uri(&mut v));
    }
}
