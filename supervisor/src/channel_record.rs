//! `channel:<id>` records: JSON with at least `source_url` (or `sources`),
//! plus optional `quality`, `name`, `group`, `logo`, `number` (tvg-chno),
//! `guide_id` (the XMLTV channel id, tvg-id), and the request
//! options `user_agent`, `referer`, `headers`, `cookies`, `proxy`,
//! `connect_timeout`, `read_timeout`, `reconnect`, and the upstream
//! safety options `tls_verify`, `tls_ca_file`, `allow_networks`. Unknown
//! fields are kept
//! out of the way, since other tools of the deployment write these records
//! too.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;

#[derive(Debug, Clone, Default, Deserialize)]
pub struct ChannelRecord {
    #[serde(default)]
    pub source_url: Option<String>,
    /// Failover list: strings, or objects with `url`.
    #[serde(default)]
    pub sources: Vec<Value>,
    #[serde(default)]
    pub quality: Option<String>,
    #[serde(default)]
    pub user_agent: Option<String>,
    #[serde(default)]
    pub referer: Option<String>,
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// A `Cookie` header value (`"a=1; b=2"`) or an object of name/value.
    #[serde(default)]
    pub cookies: Option<Value>,
    /// Missing: the supervisor's default; `null`, `""`, `"none"`,
    /// `"direct"`: no proxy; otherwise a proxy URL.
    #[serde(default, deserialize_with = "present")]
    pub proxy: Option<Value>,
    /// Seconds (number) or nginx time syntax (`"5s"`).
    #[serde(default)]
    pub connect_timeout: Option<Value>,
    #[serde(default)]
    pub read_timeout: Option<Value>,
    #[serde(default)]
    pub reconnect: Option<bool>,
    /// `false`: accept any upstream certificate (shown by `status`).
    #[serde(default)]
    pub tls_verify: Option<bool>,
    /// A PEM file of CAs trusted for this channel, besides the system's.
    #[serde(default)]
    pub tls_ca_file: Option<String>,
    /// Networks this channel's upstreams may be in although private or
    /// local: a list of `addr/prefix` strings.
    #[serde(default)]
    pub allow_networks: Vec<String>,
}

/// Keeps an explicit `null` as `Some(Value::Null)`, apart from a missing
/// field (`None`): "no proxy" differs from "the default proxy".
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Value>, D::Error> {
    Value::deserialize(d).map(Some)
}

/// The request options of a channel, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestOptions {
    pub user_agent: Option<String>,
    pub referer: Option<String>,
    /// Extra header lines, cookies included, in order.
    pub headers: Vec<(String, String)>,
    pub connect_timeout: Option<std::time::Duration>,
    pub read_timeout: Option<std::time::Duration>,
    pub reconnect: Option<bool>,
    /// Verify upstream certificates (the default).
    pub tls_verify: bool,
    pub tls_ca_file: Option<std::path::PathBuf>,
    pub allow_networks: Vec<crate::gateway::policy::Net>,
}

/// A channel's proxy choice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProxyChoice {
    Default,
    Direct,
    Url(String),
}

pub fn parse(json: &str) -> Result<ChannelRecord, String> {
    let v: Value = serde_json::from_str(json).map_err(|e| format!("record is not JSON: {e}"))?;
    if !v.is_object() {
        return Err("record is not a JSON object".into());
    }
    serde_json::from_value(v).map_err(|e| format!("record has a field of the wrong type: {e}"))
}

impl ChannelRecord {
    /// Every source, primary first, in the order to try them.
    pub fn source_list(&self) -> Vec<String> {
        let mut out: Vec<String> = self
            .source_url
            .iter()
            .filter(|s| !s.is_empty())
            .cloned()
            .collect();
        for s in &self.sources {
            let url = match s {
                Value::String(u) => Some(u.clone()),
                Value::Object(o) => o.get("url").and_then(Value::as_str).map(str::to_string),
                _ => None,
            };
            if let Some(u) = url.filter(|u| !u.is_empty() && !out.contains(u)) {
                out.push(u);
            }
        }
        out
    }

    /// Every source, checked against the allowed schemes; the record is
    /// refused as a whole if any is not allowed.
    pub fn sources(&self, allowed: &[String]) -> Result<Vec<String>, String> {
        let list = self.source_list();
        if list.is_empty() {
            return Err("record has no source_url".into());
        }
        for url in &list {
            check_source(url, allowed)?;
        }
        Ok(list)
    }

    pub fn proxy_choice(&self) -> Result<ProxyChoice, String> {
        match &self.proxy {
            None => Ok(ProxyChoice::Default),
            Some(Value::Null) => Ok(ProxyChoice::Direct),
            Some(Value::String(s)) => {
                let t = s.trim();
                if t.is_empty()
                    || t.eq_ignore_ascii_case("none")
                    || t.eq_ignore_ascii_case("direct")
                {
                    Ok(ProxyChoice::Direct)
                } else {
                    Ok(ProxyChoice::Url(t.to_string()))
                }
            }
            Some(_) => Err("\"proxy\" must be a URL string or null".into()),
        }
    }

    /// User-Agent, Referer, headers and cookies, timeouts: checked so that
    /// nothing can smuggle extra header lines into ffmpeg's requests.
    pub fn request_options(&self) -> Result<RequestOptions, String> {
        let mut o = RequestOptions {
            user_agent: self.user_agent.clone().filter(|s| !s.is_empty()),
            referer: self.referer.clone().filter(|s| !s.is_empty()),
            reconnect: self.reconnect,
            ..RequestOptions::default()
        };
        o.tls_verify = self.tls_verify.unwrap_or(true);
        if let Some(f) = self.tls_ca_file.as_deref().filter(|f| !f.is_empty()) {
            if !f.starts_with('/') {
                return Err("\"tls_ca_file\" must be an absolute path".into());
            }
            o.tls_ca_file = Some(f.into());
        }
        for n in &self.allow_networks {
            o.allow_networks.push(
                crate::gateway::policy::Net::parse(n)
                    .map_err(|e| format!("allow_networks: {e}"))?,
            );
        }
        if let Some(ua) = &o.user_agent {
            check_header_value("user_agent", ua)?;
        }
        if let Some(r) = &o.referer {
            check_header_value("referer", r)?;
        }
        for (name, value) in &self.headers {
            check_header_name(name)?;
            check_header_value(name, value)?;
            let lower = name.to_ascii_lowercase();
            if ["host", "content-length", "transfer-encoding", "connection"]
                .contains(&lower.as_str())
            {
                return Err(format!("header \"{name}\" cannot be set on a channel"));
            }
            o.headers.push((name.clone(), value.clone()));
        }
        match &self.cookies {
            None | Some(Value::Null) => {}
            Some(Value::String(s)) if s.is_empty() => {}
            Some(Value::String(s)) => {
                check_header_value("cookies", s)?;
                o.headers.push(("Cookie".into(), s.clone()));
            }
            Some(Value::Object(map)) => {
                let mut parts = Vec::new();
                for (k, v) in map {
                    let v = v.as_str().ok_or("cookie values must be strings")?;
                    if k.is_empty() || k.contains(['=', ';', ' ']) || v.contains(';') {
                        return Err(format!("cookie \"{k}\" has a name or value it cannot have"));
                    }
                    check_header_value("cookies", v)?;
                    parts.push(format!("{k}={v}"));
                }
                if !parts.is_empty() {
                    o.headers.push(("Cookie".into(), parts.join("; ")));
                }
            }
            Some(_) => return Err("\"cookies\" must be a string or an object".into()),
        }
        o.connect_timeout = seconds("connect_timeout", self.connect_timeout.as_ref())?;
        o.read_timeout = seconds("read_timeout", self.read_timeout.as_ref())?;
        Ok(o)
    }
}

impl Default for RequestOptions {
    fn default() -> RequestOptions {
        RequestOptions {
            user_agent: None,
            referer: None,
            headers: Vec::new(),
            connect_timeout: None,
            read_timeout: None,
            reconnect: None,
            tls_verify: true,
            tls_ca_file: None,
            allow_networks: Vec::new(),
        }
    }
}

/// The supervisor's default headers (and cookies), then the channel's; a
/// channel's header replaces a default of the same name.
pub fn merge_headers(
    defaults: &[(String, String)],
    default_cookies: Option<&str>,
    channel: &[(String, String)],
) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = defaults.to_vec();
    if let Some(c) = default_cookies.filter(|c| !c.is_empty()) {
        out.push(("Cookie".into(), c.to_string()));
    }
    out.retain(|(n, _)| !channel.iter().any(|(cn, _)| cn.eq_ignore_ascii_case(n)));
    out.extend(channel.iter().cloned());
    out
}

fn seconds(field: &str, v: Option<&Value>) -> Result<Option<std::time::Duration>, String> {
    let d = match v {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Number(n)) => n
            .as_f64()
            .filter(|s| *s > 0.0 && *s <= 3600.0)
            .map(std::time::Duration::from_secs_f64),
        Some(Value::String(s)) => shared::duration::parse_msec(s)
            .ok()
            .filter(|ms| *ms > 0 && *ms <= 3_600_000)
            .map(std::time::Duration::from_millis),
        Some(_) => None,
    };
    d.map(Some)
        .ok_or_else(|| format!("\"{field}\" must be seconds (1 to 3600) or a time such as \"5s\""))
}

fn check_header_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "header name {name:?} is not a valid HTTP field name"
        ))
    }
}

fn check_header_value(field: &str, value: &str) -> Result<(), String> {
    if value.bytes().any(|b| b.is_ascii_control() && b != b'\t') {
        Err(format!(
            "{field} contains a line break or control character"
        ))
    } else {
        Ok(())
    }
}

/// Refuses sources ffmpeg must not open (schemes the operator did not
/// allow: `file:`, `pipe:`, `concat:` never can be) and control bytes.
pub fn check_source(url: &str, allowed: &[String]) -> Result<(), String> {
    let scheme = url.split_once("://").map(|(s, _)| s.to_ascii_lowercase());
    let shown: String = crate::redact::url(url).chars().take(80).collect();
    match scheme {
        Some(s) if allowed.contains(&s) => {}
        Some(s) => {
            return Err(format!(
                "source scheme \"{s}\" is not allowed (allowed: {})",
                allowed.join(", ")
            ))
        }
        None => {
            return Err(format!(
                "source \"{shown}\" is not a network URL (allowed schemes: {})",
                allowed.join(", ")
            ))
        }
    }
    if url.bytes().any(|b| b.is_ascii_control() || b == b' ') {
        return Err("source URL contains spaces or control characters".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn web() -> Vec<String> {
        vec!["http".to_string(), "https".to_string()]
    }

    #[test]
    fn minimal_and_full_records() {
        let r =
            parse(r#"{"source_url":"http://127.0.0.1:9/live.ts","quality":"medium","extra":1}"#)
                .unwrap();
        assert_eq!(r.sources(&web()).unwrap()[0], "http://127.0.0.1:9/live.ts");
        assert_eq!(r.quality.as_deref(), Some("medium"));
        let r = parse(
            r#"{"sources":["http://a/1.ts",{"url":"https://b/2.m3u8"}],"headers":{"X-A":"1"},"user_agent":"UA"}"#,
        )
        .unwrap();
        assert_eq!(r.source_list(), ["http://a/1.ts", "https://b/2.m3u8"]);
        assert_eq!(r.headers["X-A"], "1");
    }

    #[test]
    fn broken_records() {
        assert!(parse("nope").unwrap_err().contains("not JSON"));
        assert!(parse("[1]").unwrap_err().contains("not a JSON object"));
        assert!(parse(r#"{"source_url":5}"#)
            .unwrap_err()
            .contains("wrong type"));
        assert!(parse("{}")
            .unwrap()
            .sources(&web())
            .unwrap_err()
            .contains("no source_url"));
    }

    #[test]
    fn request_options() {
        let r = parse(
            r#"{"source_url":"http://a/","user_agent":"UA/1","referer":"http://r/","headers":{"X-Token":"t"},"cookies":{"sid":"42","lang":"en"},"read_timeout":"15s","connect_timeout":3,"reconnect":false}"#,
        )
        .unwrap();
        let o = r.request_options().unwrap();
        assert_eq!(o.user_agent.as_deref(), Some("UA/1"));
        assert_eq!(
            o.headers,
            [
                ("X-Token".to_string(), "t".to_string()),
                ("Cookie".to_string(), "lang=en; sid=42".to_string())
            ]
        );
        assert_eq!(o.read_timeout, Some(std::time::Duration::from_secs(15)));
        assert_eq!(o.connect_timeout, Some(std::time::Duration::from_secs(3)));
        assert_eq!(o.reconnect, Some(false));
        let r = parse(r#"{"cookies":"a=1; b=2"}"#).unwrap();
        assert_eq!(r.request_options().unwrap().headers[0].1, "a=1; b=2");
    }

    #[test]
    fn header_injection_is_refused() {
        for bad in [
            r#"{"user_agent":"UA\r\nX-Evil: 1"}"#,
            r#"{"headers":{"X-A":"1\nX-B: 2"}}"#,
            r#"{"headers":{"Bad Name":"1"}}"#,
            r#"{"headers":{"Host":"other"}}"#,
            r#"{"cookies":{"a":"1; b=2"}}"#,
            r#"{"cookies":5}"#,
            r#"{"read_timeout":"soon"}"#,
            r#"{"connect_timeout":0}"#,
        ] {
            assert!(parse(bad).unwrap().request_options().is_err(), "{bad}");
        }
    }

    #[test]
    fn defaults_and_channel_headers_merge() {
        let d = vec![("X-A".to_string(), "0".to_string())];
        let ch = vec![
            ("x-a".to_string(), "1".to_string()),
            ("Cookie".to_string(), "c=2".to_string()),
        ];
        assert_eq!(merge_headers(&d, Some("g=1"), &ch), ch);
        let got = merge_headers(&d, Some("g=1"), &[]);
        assert_eq!(got.len(), 2);
        assert_eq!(got[1], ("Cookie".to_string(), "g=1".to_string()));
    }

    #[test]
    fn upstream_safety_options() {
        let o = parse("{}").unwrap().request_options().unwrap();
        assert!(o.tls_verify && o.tls_ca_file.is_none() && o.allow_networks.is_empty());
        let o = parse(
            r#"{"tls_verify":false,"tls_ca_file":"/etc/ca.pem","allow_networks":["10.0.0.0/8"]}"#,
        )
        .unwrap()
        .request_options()
        .unwrap();
        assert!(!o.tls_verify);
        assert_eq!(
            o.tls_ca_file.as_deref(),
            Some(std::path::Path::new("/etc/ca.pem"))
        );
        assert_eq!(o.allow_networks.len(), 1);
        for bad in [
            r#"{"tls_ca_file":"ca.pem"}"#,
            r#"{"allow_networks":["everything"]}"#,
        ] {
            assert!(parse(bad).unwrap().request_options().is_err(), "{bad}");
        }
        assert!(parse(r#"{"tls_verify":"no"}"#).is_err());
    }

    #[test]
    fn proxy_choices() {
        let choice = |j: &str| parse(j).unwrap().proxy_choice();
        assert_eq!(choice("{}"), Ok(ProxyChoice::Default));
        assert_eq!(choice(r#"{"proxy":null}"#), Ok(ProxyChoice::Direct));
        assert_eq!(choice(r#"{"proxy":"none"}"#), Ok(ProxyChoice::Direct));
        assert_eq!(
            choice(r#"{"proxy":"socks5h://127.0.0.1:1080"}"#),
            Ok(ProxyChoice::Url("socks5h://127.0.0.1:1080".into()))
        );
        assert!(choice(r#"{"proxy":1}"#).is_err());
    }

    #[test]
    fn every_source_is_checked() {
        let r = parse(r#"{"sources":["http://a/1.ts","file:///etc/passwd"]}"#).unwrap();
        let allowed = vec!["http".to_string(), "https".to_string()];
        assert!(r
            .sources(&allowed)
            .unwrap_err()
            .contains("\"file\" is not allowed"));
        let r = parse(r#"{"source_url":"rtmp://a/live"}"#).unwrap();
        assert!(r.sources(&allowed).is_err());
        let with_rtmp = vec!["http".to_string(), "rtmp".to_string()];
        assert_eq!(r.sources(&with_rtmp).unwrap(), ["rtmp://a/live"]);
    }

    #[test]
    fn local_and_odd_sources_are_refused() {
        for bad in [
            "file:///etc/passwd",
            "pipe:0",
            "concat:a|b",
            "/etc/passwd",
            "FILE:///x",
            "rtmp://x/y",
        ] {
            assert!(check_source(bad, &web()).is_err(), "{bad}");
        }
        assert!(check_source("http://x/a b", &web()).is_err());
        assert!(check_source("HTTPS://example.invalid/live.m3u8", &web()).is_ok());
    }
}
