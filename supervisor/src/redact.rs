//! Credentials out of everything shown: a URL's userinfo and the values of
//! secret query parameters become `***` in status, API replies, logs and
//! reasons. The parameter names are configured once at start
//! (`--redact-query-params`); the pure functions take them explicitly.

use std::sync::OnceLock;

/// Query parameters whose values are secrets unless configured otherwise.
pub const DEFAULT_PARAMS: &str =
    "token,password,pass,passwd,pwd,key,api_key,apikey,auth,signature,sig,secret,access_token";

static PARAMS: OnceLock<Vec<String>> = OnceLock::new();

/// Sets the secret parameter names (comma-separated); the first call wins.
pub fn configure(list: &str) {
    let _ = PARAMS.set(parse_params(list));
}

pub fn parse_params(list: &str) -> Vec<String> {
    list.split(',')
        .map(|p| p.trim().to_ascii_lowercase())
        .filter(|p| !p.is_empty())
        .collect()
}

fn params() -> &'static [String] {
    PARAMS.get_or_init(|| parse_params(DEFAULT_PARAMS))
}

/// `url` with the configured parameters redacted.
pub fn url(u: &str) -> String {
    redact_url(u, params())
}

/// `text` with every URL in it redacted.
pub fn text(t: &str) -> String {
    redact_text(t, params())
}

/// Redacts one URL: `scheme://user:pass@host/p?token=x` becomes
/// `scheme://***@host/p?token=***` (parameter names compared without case).
pub fn redact_url(url: &str, secret_params: &[String]) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    let authority = match authority.rsplit_once('@') {
        Some((_, host)) => format!("***@{host}"),
        None => authority.to_string(),
    };
    let (before_frag, frag) = match tail.split_once('#') {
        Some((a, f)) => (a, Some(f)),
        None => (tail, None),
    };
    let tail = match before_frag.split_once('?') {
        Some((path, query)) => {
            let q: Vec<String> = query
                .split('&')
                .map(|pair| match pair.split_once('=') {
                    Some((k, _)) if secret_params.iter().any(|p| p.eq_ignore_ascii_case(k)) => {
                        format!("{k}=***")
                    }
                    _ => pair.to_string(),
                })
                .collect();
            format!("{path}?{}", q.join("&"))
        }
        None => before_frag.to_string(),
    };
    match frag {
        Some(f) => format!("{scheme}://{authority}{tail}#{f}"),
        None => format!("{scheme}://{authority}{tail}"),
    }
}

/// Redacts every `scheme://...` in free text (ffmpeg's stderr, reasons).
pub fn redact_text(text: &str, secret_params: &[String]) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find("://") {
        // Past the last character that cannot be in a scheme (which may be
        // more than one byte long: text from ffmpeg is not just ASCII).
        let start = rest[..i]
            .char_indices()
            .rfind(|&(_, c)| !(c.is_ascii_alphanumeric() || "+-.".contains(c)))
            .map_or(0, |(j, c)| j + c.len_utf8());
        let end = rest[i..]
            .find(|c: char| c.is_whitespace() || "\"'<>`".contains(c))
            .map_or(rest.len(), |j| i + j);
        // A URL ending a sentence or in brackets keeps its punctuation out.
        let trimmed = rest[..end].trim_end_matches([',', '.', ')', ']', ';', ':']);
        let end = trimmed.len().max(i + 3);
        out.push_str(&rest[..start]);
        out.push_str(&redact_url(&rest[start..end], secret_params));
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

/// A channel record as `channels list` shows it: header and cookie values
/// `***` (their names stay), every other string with its URLs redacted
/// (sources, proxy, referer).
pub fn record(v: &serde_json::Value) -> serde_json::Value {
    redact_record(v, params())
}

pub fn redact_record(v: &serde_json::Value, secret_params: &[String]) -> serde_json::Value {
    use serde_json::Value;
    let hidden = || Value::String("***".into());
    match v {
        Value::String(s) => Value::String(redact_text(s, secret_params)),
        Value::Array(a) => {
            Value::Array(a.iter().map(|x| redact_record(x, secret_params)).collect())
        }
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, x)| {
                    let x = match (k.as_str(), x) {
                        ("headers" | "cookies", Value::Object(h)) => {
                            Value::Object(h.keys().map(|n| (n.clone(), hidden())).collect())
                        }
                        ("cookies", Value::String(_)) => hidden(),
                        _ => redact_record(x, secret_params),
                    };
                    (k.clone(), x)
                })
                .collect(),
        ),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Found by fuzzing (`redact`): a multi-byte character just before a
    /// URL's scheme made the scan slice inside it, and the supervisor panic.
    #[test]
    fn text_before_a_url_may_be_any_character() {
        let p = parse_params("token");
        let out = redact_text("é\u{fffd}http://u:pw@h/x?token=abc", &p);
        assert_eq!(out, "é\u{fffd}http://***@h/x?token=***");
    }

    fn p() -> Vec<String> {
        parse_params(DEFAULT_PARAMS)
    }

    #[test]
    fn urls() {
        assert_eq!(
            redact_url(
                "http://user:pw@o.test:81/a/b.m3u8?x=1&TOKEN=abc&Sig=z#f",
                &p()
            ),
            "http://***@o.test:81/a/b.m3u8?x=1&TOKEN=***&Sig=***#f"
        );
        assert_eq!(
            redact_url("https://o.test/live.ts", &p()),
            "https://o.test/live.ts"
        );
        assert_eq!(redact_url("http://u@h?key=", &p()), "http://***@h?key=***");
        // The path's @ is not userinfo.
        assert_eq!(redact_url("http://h/a@b", &p()), "http://h/a@b");
        assert_eq!(redact_url("not a url", &p()), "not a url");
        let custom = parse_params(" Hash , ");
        assert_eq!(
            redact_url("http://h/?hash=1&token=2", &custom),
            "http://h/?hash=***&token=2"
        );
    }

    #[test]
    fn text_with_urls() {
        assert_eq!(
            redact_text(
                "[http @ 0x1] Opening 'http://a:b@h/x?token=t' for reading, then (http://h2/?pass=p).",
                &p()
            ),
            "[http @ 0x1] Opening 'http://***@h/x?token=***' for reading, then (http://h2/?pass=***)."
        );
        assert_eq!(redact_text("no urls here", &p()), "no urls here");
        assert_eq!(redact_text("://x ://", &p()), "://x ://");
        assert_eq!(
            redact_text("socks5://u:p@127.0.0.1:1080 refused", &p()),
            "socks5://***@127.0.0.1:1080 refused"
        );
    }

    #[test]
    fn channel_records() {
        let rec = serde_json::json!({
            "source_url": "http://u:pw@o.test/a.m3u8?token=t1",
            "sources": ["http://o.test/b.ts?sig=s2", {"url": "https://v:pw2@o.test/c"}],
            "proxy": "socks5h://pu:pp@127.0.0.1:1080",
            "headers": {"Authorization": "Bearer b3"},
            "cookies": {"sid": "c4"},
            "name": "News",
            "read_timeout": 15,
        });
        let shown = redact_record(&rec, &p()).to_string();
        for secret in ["pw", "t1", "s2", "pw2", "pp", "b3", "c4"] {
            assert!(
                !shown.contains(&format!("{secret}\"")),
                "{secret} in {shown}"
            );
        }
        assert_eq!(
            redact_record(&rec, &p()),
            serde_json::json!({
                "source_url": "http://***@o.test/a.m3u8?token=***",
                "sources": ["http://o.test/b.ts?sig=***", {"url": "https://***@o.test/c"}],
                "proxy": "socks5h://***@127.0.0.1:1080",
                "headers": {"Authorization": "***"},
                "cookies": {"sid": "***"},
                "name": "News",
                "read_timeout": 15,
            })
        );
        let c = serde_json::json!({"cookies": "a=1; b=2"});
        assert_eq!(
            redact_record(&c, &p()),
            serde_json::json!({"cookies": "***"})
        );
    }
}
