//! CORS for web players (`stream_autostart_cors`): which origins may read
//! a location's responses from a browser page, and the header values that
//! say so. A player on another site (hls.js on a web page) fetches the
//! playlist, its segments, the M3U and the guide with `fetch`/XHR; without
//! these headers the browser hides every response from it.
//!
//! Never credentials: no `Access-Control-Allow-Credentials` is ever sent,
//! so `*` cannot expose a response made with a viewer's cookies (tokens
//! travel in the URL, which the page already has).

/// `stream_autostart_cors`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Policy {
    Off,
    /// `*`: any page may read the responses.
    Any,
    /// Only these origins (`scheme://host[:port]`, lowercase).
    Origins(Vec<String>),
}

pub const ALLOW_METHODS: &str = "GET, HEAD, OPTIONS";
/// What a player reads beyond the simple response headers: the length
/// (progress, bandwidth estimates) and the range of a partial segment.
pub const EXPOSE_HEADERS: &str = "Content-Length, Content-Range";
/// How long a browser may reuse a preflight answer (Chromium caps it at
/// two hours).
pub const MAX_AGE: &str = "7200";
/// Request headers a preflight may ask for: a player's ranges and cache
/// hints. Nothing that carries credentials (`Authorization`, `Cookie`).
const HARMLESS_HEADERS: [&str; 9] = [
    "range",
    "accept",
    "accept-language",
    "content-language",
    "cache-control",
    "pragma",
    "if-none-match",
    "if-modified-since",
    "if-range",
];

/// Parses the directive's words (after the name).
pub fn parse(args: &[&[u8]]) -> Result<Policy, String> {
    match args {
        [] => Err("needs off, * or one or more origins".into()),
        [one] if *one == b"off" => Ok(Policy::Off),
        [one] if *one == b"*" => Ok(Policy::Any),
        _ => {
            let mut origins = Vec::new();
            for a in args {
                if *a == b"off" || *a == b"*" {
                    return Err(format!(
                        "\"{}\" cannot be combined with origins",
                        a.escape_ascii()
                    ));
                }
                let o = check_origin(a)?;
                if !origins.contains(&o) {
                    origins.push(o);
                }
            }
            Ok(Policy::Origins(origins))
        }
    }
}

/// An origin as browsers send it: `http(s)://host[:port]`, nothing after.
fn check_origin(a: &[u8]) -> Result<String, String> {
    let bad = |why: &str| {
        Err(format!(
            "\"{}\" is not an origin ({why}); expected scheme://host[:port] such as https://player.example.com",
            a.escape_ascii()
        ))
    };
    let text = match std::str::from_utf8(a) {
        Ok(t) => t.to_ascii_lowercase(),
        Err(_) => return bad("not ASCII"),
    };
    let Some(rest) = text
        .strip_prefix("https://")
        .or_else(|| text.strip_prefix("http://"))
    else {
        return bad("the scheme must be http or https");
    };
    let (host, port) = match rest.rsplit_once(':') {
        Some((h, _)) if !h.ends_with(']') && h.contains(':') => (rest, None),
        Some((h, p)) => (h, Some(p)),
        None => (rest, None),
    };
    if host.is_empty() {
        return bad("no host");
    }
    let host_ok = if let Some(v6) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        !v6.is_empty()
            && v6
                .bytes()
                .all(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.')
    } else {
        host.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
    };
    if !host_ok {
        return bad("no path, query or trailing slash; a host name or address");
    }
    if let Some(p) = port {
        if p.is_empty() || p.len() > 5 || !p.bytes().all(|b| b.is_ascii_digit()) {
            return bad("the port must be a number");
        }
    }
    Ok(text)
}

/// The CORS headers of one response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    /// `Access-Control-Allow-Origin`: `*` or the request's origin.
    pub allow_origin: Vec<u8>,
}

/// What a response of a location with `policy` adds for a request from
/// `origin` (its `Origin` header): `None` adds nothing (off, or an origin
/// not in the list; the browser then keeps the response from the page).
/// With a list, the response depends on `Origin`: see `vary`.
pub fn grant(policy: &Policy, origin: Option<&[u8]>) -> Option<Grant> {
    match policy {
        Policy::Off => None,
        Policy::Any => Some(Grant {
            allow_origin: b"*".to_vec(),
        }),
        Policy::Origins(list) => {
            let origin = origin?.trim_ascii();
            list.iter()
                .any(|o| o.as_bytes().eq_ignore_ascii_case(origin))
                .then(|| Grant {
                    allow_origin: origin.to_vec(),
                })
        }
    }
}

/// Whether responses carry `Vary: Origin`: with a list, a cache must keep
/// one copy per origin (a copy made for an allowed origin must not be
/// served to another, nor one without the header to an allowed one).
pub fn vary(policy: &Policy) -> bool {
    matches!(policy, Policy::Origins(_))
}

/// A CORS preflight: `OPTIONS` with `Origin` and
/// `Access-Control-Request-Method`.
pub fn is_preflight(method: &[u8], origin: Option<&[u8]>, request_method: Option<&[u8]>) -> bool {
    method == b"OPTIONS" && origin.is_some() && request_method.is_some()
}

/// `Access-Control-Allow-Headers` of a preflight: `Range`, and of the
/// headers asked for (`Access-Control-Request-Headers`) those that are
/// harmless; others are left out (the browser then refuses the request).
pub fn allow_headers(requested: Option<&[u8]>) -> String {
    let mut out = vec!["range".to_string()];
    for name in requested.unwrap_or_default().split(|&b| b == b',') {
        let name = String::from_utf8_lossy(name.trim_ascii()).to_ascii_lowercase();
        if HARMLESS_HEADERS.contains(&name.as_str()) && !out.contains(&name) {
            out.push(name);
        }
    }
    out.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(args: &[&str]) -> Result<Policy, String> {
        let args: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
        parse(&args)
    }

    #[test]
    fn parsing() {
        assert_eq!(p(&["off"]), Ok(Policy::Off));
        assert_eq!(p(&["*"]), Ok(Policy::Any));
        assert_eq!(
            p(&[
                "https://Player.Example",
                "http://127.0.0.1:8080",
                "http://[::1]:81"
            ]),
            Ok(Policy::Origins(vec![
                "https://player.example".into(),
                "http://127.0.0.1:8080".into(),
                "http://[::1]:81".into(),
            ]))
        );
        for bad in [
            &[][..],
            &["player.example"],
            &["ftp://x"],
            &["https://x/"],
            &["https://x/path"],
            &["https://x:port"],
            &["https://"],
            &["*", "https://x"],
            &["https://x", "off"],
            &["https://x?y"],
        ] {
            assert!(p(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn origins() {
        let list = p(&["https://player.example", "http://127.0.0.1:8080"]).unwrap();
        assert_eq!(
            grant(&list, Some(b"https://player.example")),
            Some(Grant {
                allow_origin: b"https://player.example".to_vec()
            })
        );
        // Origins compare without case; the request's own is echoed.
        assert_eq!(
            grant(&list, Some(b"HTTPS://Player.Example"))
                .unwrap()
                .allow_origin,
            b"HTTPS://Player.Example"
        );
        assert_eq!(grant(&list, Some(b"https://evil.example")), None);
        assert_eq!(grant(&list, Some(b"https://player.example.evil")), None);
        assert_eq!(grant(&list, Some(b"http://127.0.0.1:8081")), None);
        assert_eq!(grant(&list, Some(b"null")), None);
        assert_eq!(grant(&list, None), None);
        assert!(vary(&list));
        // `*` answers `*`, whoever asks; off never adds anything.
        assert_eq!(grant(&Policy::Any, None).unwrap().allow_origin, b"*");
        assert_eq!(
            grant(&Policy::Any, Some(b"https://x"))
                .unwrap()
                .allow_origin,
            b"*"
        );
        assert!(!vary(&Policy::Any));
        assert_eq!(grant(&Policy::Off, Some(b"https://x")), None);
    }

    #[test]
    fn preflights() {
        assert!(is_preflight(b"OPTIONS", Some(b"https://x"), Some(b"GET")));
        assert!(!is_preflight(b"OPTIONS", None, Some(b"GET")));
        assert!(!is_preflight(b"OPTIONS", Some(b"https://x"), None));
        assert!(!is_preflight(b"GET", Some(b"https://x"), Some(b"GET")));
        assert_eq!(allow_headers(None), "range");
        assert_eq!(
            allow_headers(Some(b"Range, Accept ,authorization,Cookie,x-evil,if-range")),
            "range, accept, if-range"
        );
    }
}
