//! Who may use the operator API at all, decided before any route: browser
//! requests from another site are refused (an attacker's page, or a
//! playlist that makes a local ffmpeg fetch the API, must not start or stop
//! channels), an API key when one is configured, and JSON for writes (a
//! form or `text/plain` body is what a cross-site page can send without
//! asking first).

use crate::api::{err, ApiError};

/// The shortest `stream_autostart_api_key` accepted.
pub const MIN_KEY_LEN: usize = 16;

/// A browser marks a request made by another site's page with
/// `Sec-Fetch-Site: cross-site`, and names the page's origin in `Origin`;
/// either one that is not this API's own (`scheme://host`, the request's
/// own `Host`) refuses the request (403).
pub fn check_origin(
    origin: Option<&[u8]>,
    fetch_site: Option<&[u8]>,
    scheme: &str,
    host: Option<&[u8]>,
) -> Result<(), ApiError> {
    if fetch_site.is_some_and(|v| v.trim_ascii().eq_ignore_ascii_case(b"cross-site")) {
        return Err(err(
            403,
            "cross_origin",
            "a cross-site browser request (Sec-Fetch-Site: cross-site) may not use the API",
        ));
    }
    let Some(origin) = origin else {
        return Ok(());
    };
    let origin = origin.trim_ascii();
    let own = host.map(|h| {
        let mut o = format!("{scheme}://").into_bytes();
        o.extend_from_slice(h.trim_ascii());
        o
    });
    match own {
        Some(own) if origin.eq_ignore_ascii_case(&own) => Ok(()),
        _ => Err(err(
            403,
            "cross_origin",
            format!(
                "a request from origin \"{}\" may not use the API of {}://{}",
                origin.escape_ascii(),
                scheme,
                host.unwrap_or(b"?").escape_ascii()
            ),
        )),
    }
}

/// Whether `presented` is `expected`, in time that depends only on the
/// expected key's length (not on where they differ).
pub fn same_key(expected: &[u8], presented: &[u8]) -> bool {
    let mut diff = u8::from(expected.len() != presented.len());
    for (i, &e) in expected.iter().enumerate() {
        diff |= e ^ presented.get(i).copied().unwrap_or(!e);
    }
    core::hint::black_box(diff) == 0
}

/// The key a request presents: `Authorization: Bearer <key>`, else
/// `X-Api-Key: <key>`.
pub fn presented_key<'a>(
    authorization: Option<&'a [u8]>,
    x_api_key: Option<&'a [u8]>,
) -> Option<&'a [u8]> {
    let bearer = authorization.and_then(|a| {
        let a = a.trim_ascii();
        let (scheme, rest) = a.split_at(a.iter().position(|&b| b == b' ')?);
        scheme
            .eq_ignore_ascii_case(b"bearer")
            .then(|| rest.trim_ascii())
    });
    bearer.or(x_api_key.map(<[u8]>::trim_ascii))
}

/// With `stream_autostart_api_key`, a request without the key, or with
/// another one, is refused (401).
pub fn check_key(
    expected: Option<&[u8]>,
    authorization: Option<&[u8]>,
    x_api_key: Option<&[u8]>,
) -> Result<(), ApiError> {
    let Some(expected) = expected else {
        return Ok(());
    };
    match presented_key(authorization, x_api_key) {
        None => Err(err(
            401,
            "unauthorized",
            "an API key is required (Authorization: Bearer <key>, or X-Api-Key: <key>)",
        )),
        Some(key) if same_key(expected, key) => Ok(()),
        Some(_) => Err(err(401, "unauthorized", "the API key is not valid")),
    }
}

/// Writes (POST) carry `Content-Type: application/json` (parameters such
/// as `charset` allowed), or are refused (415).
pub fn check_content_type(method: &str, content_type: Option<&[u8]>) -> Result<(), ApiError> {
    if method == "GET" || method == "HEAD" {
        return Ok(());
    }
    let media = content_type.map(|ct| {
        let end = ct.iter().position(|&b| b == b';').unwrap_or(ct.len());
        ct[..end].trim_ascii()
    });
    match media {
        Some(m) if m.eq_ignore_ascii_case(b"application/json") => Ok(()),
        Some(m) => Err(err(
            415,
            "unsupported_media_type",
            format!(
                "{method} takes Content-Type: application/json, not \"{}\"",
                m.escape_ascii()
            ),
        )),
        None => Err(err(
            415,
            "unsupported_media_type",
            format!("{method} takes Content-Type: application/json; the request has none"),
        )),
    }
}

/// Checks a configured key: long enough, and usable in a header.
pub fn check_configured_key(key: &[u8]) -> Result<(), String> {
    if key.len() < MIN_KEY_LEN {
        return Err(format!(
            "the API key is {} bytes long; at least {MIN_KEY_LEN} are needed",
            key.len()
        ));
    }
    if !key.iter().all(u8::is_ascii_graphic) {
        return Err("the API key must be visible ASCII (no spaces or control bytes)".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins() {
        let host = Some(&b"127.0.0.1:8080"[..]);
        let check = |o: Option<&str>, site: Option<&str>| {
            check_origin(o.map(str::as_bytes), site.map(str::as_bytes), "http", host)
        };
        // curl and other non-browser clients send neither header.
        assert!(check(None, None).is_ok());
        assert!(check(Some("http://127.0.0.1:8080"), Some("same-origin")).is_ok());
        assert!(check(Some("HTTP://127.0.0.1:8080"), None).is_ok());
        for (o, site) in [
            (Some("http://evil.example"), None),
            (Some("null"), None),
            (Some("https://127.0.0.1:8080"), None),
            (Some("http://127.0.0.1:8081"), None),
            (Some("http://127.0.0.1:8080.evil.example"), None),
            (None, Some("cross-site")),
            (Some("http://127.0.0.1:8080"), Some("Cross-Site")),
        ] {
            let e = check(o, site).unwrap_err();
            assert_eq!((e.status, e.code), (403, "cross_origin"), "{o:?} {site:?}");
        }
        // No Host to compare with: an Origin cannot be this API's.
        assert!(check_origin(Some(b"http://x"), None, "http", None).is_err());
        let e = check(Some("http://a\nb"), None).unwrap_err();
        assert!(e.message.contains("a\\nb"), "{}", e.message);
    }

    #[test]
    fn keys() {
        let k = Some(&b"0123456789abcdef"[..]);
        assert!(check_key(None, None, None).is_ok());
        assert!(check_key(k, Some(b"Bearer 0123456789abcdef"), None).is_ok());
        assert!(check_key(k, Some(b"bearer  0123456789abcdef "), None).is_ok());
        assert!(check_key(k, None, Some(b"0123456789abcdef")).is_ok());
        for (auth, x) in [
            (None, None),
            (Some(&b"Bearer 0123456789abcdeF"[..]), None),
            (Some(b"Bearer 0123456789abcde"), None),
            (Some(b"Bearer 0123456789abcdef0"), None),
            (Some(b"Basic 0123456789abcdef"), None),
            (None, Some(&b""[..])),
        ] {
            let e = check_key(k, auth, x).unwrap_err();
            assert_eq!((e.status, e.code), (401, "unauthorized"), "{auth:?} {x:?}");
        }
        assert!(same_key(b"", b""));
        assert!(!same_key(b"a", b""));
        assert!(!same_key(b"", b"a"));
    }

    #[test]
    fn content_types() {
        assert!(check_content_type("GET", None).is_ok());
        assert!(check_content_type("POST", Some(b"application/json")).is_ok());
        assert!(check_content_type("POST", Some(b"Application/JSON; charset=utf-8")).is_ok());
        for ct in [
            None,
            Some(&b"text/plain"[..]),
            Some(b"application/x-www-form-urlencoded"),
            Some(b"multipart/form-data; boundary=x"),
            Some(b"application/jsonp"),
        ] {
            let e = check_content_type("POST", ct).unwrap_err();
            assert_eq!(
                (e.status, e.code),
                (415, "unsupported_media_type"),
                "{ct:?}"
            );
        }
    }

    #[test]
    fn configured_keys() {
        assert!(check_configured_key(b"0123456789abcdef").is_ok());
        assert!(check_configured_key(b"short")
            .unwrap_err()
            .contains("at least 16"));
        assert!(check_configured_key(b"0123456789abcdef ").is_err());
    }
}
