//! The Xtream Codes-compatible endpoints (`player_api.php`, `get.php`):
//! what the module takes from a request (credentials, action, the few
//! arguments the supervisor's renderer reads), the base URL the answer's
//! URLs are built on, the media type it is sent with, and how a
//! supervisor answer ends the request. The supervisor renders the bodies.

use std::collections::BTreeMap;

use shared::protocol::{ErrorCode, Reply};
use shared::token::percent_decode;

use crate::call_error::CallError;
use crate::outcome::{self, Refusal, Status};

/// The query arguments passed on as `params`: what the Xtream clients
/// send and the supervisor's renderer reads. Others are ignored.
pub const PARAM_NAMES: [&str; 5] = ["category_id", "stream_id", "limit", "type", "output"];

/// The longest argument value passed on, in bytes (decoded).
const MAX_PARAM_LEN: usize = 256;

/// The longest action name.
const MAX_ACTION_LEN: usize = 64;

/// What player_api.php answers a refused login with: Xtream clients read
/// `user_info.auth` and show "wrong login" for 0.
pub const DENIED_BODY: &[u8] = b"{\"user_info\":{\"auth\":0}}";

/// Decodes a query value as Xtream clients send it (form encoding: `+` is
/// a space, `%XX` a byte). `None` when it is malformed or not UTF-8.
pub fn form_decode(raw: &[u8]) -> Option<String> {
    let plus: Vec<u8> = raw
        .iter()
        .map(|&b| if b == b'+' { b' ' } else { b })
        .collect();
    String::from_utf8(percent_decode(&plus)?).ok()
}

/// One of the passed-on arguments, decoded and checked.
pub fn param(name: &str, raw: &[u8]) -> Result<String, String> {
    let v = form_decode(raw).ok_or_else(|| format!("argument \"{name}\" is not valid UTF-8"))?;
    if v.len() > MAX_PARAM_LEN {
        return Err(format!("argument \"{name}\" is too long"));
    }
    if v.chars().any(char::is_control) {
        return Err(format!("argument \"{name}\" holds control characters"));
    }
    Ok(v)
}

/// The action (`player_api.php?action=...`): letters, digits and `_`.
pub fn action(raw: &[u8]) -> Result<String, String> {
    if raw.len() > MAX_ACTION_LEN || !raw.iter().all(|b| b.is_ascii_alphanumeric() || *b == b'_') {
        return Err(format!(
            "action \"{}\" is not an action name",
            crate::log_text::Esc(&raw[..raw.len().min(MAX_ACTION_LEN)])
        ));
    }
    Ok(String::from_utf8_lossy(raw).into_owned())
}

/// Collects `params` from a lookup of raw query arguments.
pub fn params<'a>(
    mut lookup: impl FnMut(&str) -> Option<&'a [u8]>,
) -> Result<BTreeMap<String, String>, String> {
    let mut out = BTreeMap::new();
    for name in PARAM_NAMES {
        if let Some(raw) = lookup(name) {
            out.insert(name.to_string(), param(name, raw)?);
        }
    }
    Ok(out)
}

/// `scheme://host[:port]` from the request's Host, which must be a host
/// name, an IPv4 address or a bracketed IPv6 address, with an optional
/// port: anything else (quotes, slashes, spaces, `@`) would end up inside
/// the URLs and JSON the clients are given.
pub fn base_url(scheme: &str, host: &[u8]) -> Result<String, &'static str> {
    if host.is_empty() {
        return Err("no Host");
    }
    if host.len() > 255 {
        return Err("Host too long");
    }
    let (name, port) = if host.first() == Some(&b'[') {
        let end = host
            .iter()
            .position(|&b| b == b']')
            .ok_or("unclosed IPv6 address in Host")?;
        let inner = &host[1..end];
        if inner.is_empty()
            || !inner
                .iter()
                .all(|b| b.is_ascii_hexdigit() || b":.".contains(b))
        {
            return Err("bad IPv6 address in Host");
        }
        (&host[..=end], &host[end + 1..])
    } else {
        match host.iter().position(|&b| b == b':') {
            Some(c) => (&host[..c], &host[c..]),
            None => (host, &host[host.len()..]),
        }
    };
    if name.first() != Some(&b'[')
        && (name.is_empty()
            || !name
                .iter()
                .all(|b| b.is_ascii_alphanumeric() || b"-.".contains(b)))
    {
        return Err("odd characters in Host");
    }
    if !port.is_empty() {
        let digits = port.strip_prefix(b":").ok_or("odd characters in Host")?;
        if digits.is_empty() || digits.len() > 5 || !digits.iter().all(u8::is_ascii_digit) {
            return Err("bad port in Host");
        }
    }
    Ok(format!("{scheme}://{}", String::from_utf8_lossy(host)))
}

/// The media type a body is sent with: the supervisor's, when it is one
/// the endpoints produce, else `application/octet-stream` (the module
/// sends static header values, and never an arbitrary string).
pub fn content_type(given: &str) -> &'static str {
    let media = given.split(';').next().unwrap_or("").trim();
    match media.to_ascii_lowercase().as_str() {
        "application/json" => "application/json; charset=utf-8",
        "audio/x-mpegurl" => "audio/x-mpegurl; charset=utf-8",
        "application/x-mpegurl" => "application/x-mpegurl; charset=utf-8",
        "application/vnd.apple.mpegurl" => "application/vnd.apple.mpegurl",
        "text/xml" | "application/xml" => "application/xml; charset=utf-8",
        "text/plain" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

/// How an `xtream` call ends the request.
#[derive(Debug, PartialEq, Eq)]
pub enum Answer {
    /// 200 with this body and type.
    Body {
        body: String,
        content_type: &'static str,
    },
    /// The credentials were refused: 403, with [`DENIED_BODY`] for
    /// player_api.php; `reason` for the error log.
    Denied { reason: String },
    /// Anything else: the outcome table's refusal.
    Refused(Refusal),
}

pub fn answer(result: &Result<Reply, CallError>) -> Answer {
    match result {
        Ok(reply) if reply.ok => match &reply.body {
            Some(body) => Answer::Body {
                body: body.clone(),
                content_type: content_type(reply.content_type.as_deref().unwrap_or("")),
            },
            None => Answer::Refused(outcome::supervisor_error(None)),
        },
        Ok(reply) if reply.code() == Some(ErrorCode::Denied) => Answer::Denied {
            reason: reply.message().to_string(),
        },
        Ok(reply) => Answer::Refused(outcome::supervisor_error(reply.code())),
        Err(e) => Answer::Refused(outcome::call_error(e)),
    }
}

/// `$stream_autostart_status` of a served answer.
pub const SERVED: Status = Status::Fetched;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decoding() {
        assert_eq!(form_decode(b"a+b%2Bc").as_deref(), Some("a b+c"));
        assert_eq!(form_decode(b"p%C3%A4ss").as_deref(), Some("päss"));
        assert_eq!(form_decode(b"%zz"), None);
        assert_eq!(form_decode(b"%ff"), None);
        assert!(param("limit", b"10").is_ok());
        assert!(param("limit", b"1%0a2").is_err());
        assert!(param("type", &[b'a'; 300]).is_err());
    }

    #[test]
    fn actions() {
        assert_eq!(action(b"get_live_streams").unwrap(), "get_live_streams");
        assert_eq!(action(b"").unwrap(), "");
        assert!(action(b"get live").is_err());
        assert!(action(b"x\"y").is_err());
    }

    #[test]
    fn params_take_only_known_names() {
        let args: &[(&str, &[u8])] = &[
            ("category_id", b"3"),
            ("stream_id", b"7"),
            ("password", b"secret"),
            ("output", b"m3u8"),
        ];
        let p = params(|n| args.iter().find(|(k, _)| *k == n).map(|(_, v)| *v)).unwrap();
        assert_eq!(p.len(), 3);
        assert_eq!(p["category_id"], "3");
        assert_eq!(p["output"], "m3u8");
        assert!(!p.contains_key("password"));
        let bad: &[(&str, &[u8])] = &[("limit", b"%0d")];
        assert!(params(|n| bad.iter().find(|(k, _)| *k == n).map(|(_, v)| *v)).is_err());
    }

    #[test]
    fn base_urls() {
        assert_eq!(
            base_url("http", b"tv.example").unwrap(),
            "http://tv.example"
        );
        assert_eq!(
            base_url("https", b"tv.example:8443").unwrap(),
            "https://tv.example:8443"
        );
        assert_eq!(
            base_url("http", b"127.0.0.1:8080").unwrap(),
            "http://127.0.0.1:8080"
        );
        assert_eq!(base_url("http", b"[::1]:80").unwrap(), "http://[::1]:80");
        for bad in [
            &b""[..],
            b"a b",
            b"evil\"x",
            b"a/b",
            b"u@h",
            b"h:",
            b"h:80x",
            b"h:123456",
            b"[::1",
            b"[zz]",
            b"[::1]x",
            b"h\r\nX: y",
            b":80",
        ] {
            assert!(base_url("http", bad).is_err(), "{}", bad.escape_ascii());
        }
    }

    #[test]
    fn content_types() {
        assert_eq!(
            content_type("application/json"),
            "application/json; charset=utf-8"
        );
        assert_eq!(
            content_type("Audio/X-MPEGURL; charset=utf-8"),
            "audio/x-mpegurl; charset=utf-8"
        );
        assert_eq!(content_type("text/html"), "application/octet-stream");
        assert_eq!(content_type(""), "application/octet-stream");
    }

    #[test]
    fn answers() {
        let mut ok = Reply::ok(1);
        ok.body = Some("{}".into());
        ok.content_type = Some("application/json".into());
        assert_eq!(
            answer(&Ok(ok)),
            Answer::Body {
                body: "{}".into(),
                content_type: "application/json; charset=utf-8"
            }
        );
        let denied = Reply::error(1, ErrorCode::Denied, "wrong password");
        assert_eq!(
            answer(&Ok(denied)),
            Answer::Denied {
                reason: "wrong password".into()
            }
        );
        // The supervisor before the Xtream side lands.
        let r = answer(&Ok(Reply::error(
            1,
            ErrorCode::Internal,
            "not implemented yet",
        )));
        assert!(matches!(r, Answer::Refused(f) if f.http() == 502));
        let r = answer(&Ok(Reply::error(1, ErrorCode::Unavailable, "redis down")));
        assert!(matches!(r, Answer::Refused(f) if f.http() == 503));
        let r = answer(&Err(CallError::Timeout));
        assert!(matches!(r, Answer::Refused(f) if f.http() == 504));
        // ok without a body: the supervisor misbehaved.
        assert!(matches!(answer(&Ok(Reply::ok(1))), Answer::Refused(f) if f.http() == 502));
    }
}
