//! `channel:<id>` records: JSON with at least `source_url` (or `sources`),
//! plus optional `quality`, `name`, `group`, `logo`, `user_agent`,
//! `referer` and `headers`. Unknown fields are kept out of the way, since
//! other tools of the deployment write these records too.

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
}

/// Source schemes a channel may use; anything else could make ffmpeg read
/// local files or run other protocols.
pub const ALLOWED_SCHEMES: &[&str] = &["http", "https"];

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

    /// The first usable source, or why there is none.
    pub fn primary_source(&self) -> Result<String, String> {
        let list = self.source_list();
        let first = list.first().ok_or("record has no source_url")?;
        check_source(first)?;
        Ok(first.clone())
    }
}

/// Refuses sources ffmpeg must not open: other schemes, control bytes.
pub fn check_source(url: &str) -> Result<(), String> {
    let scheme = url.split_once("://").map(|(s, _)| s.to_ascii_lowercase());
    match scheme {
        Some(s) if ALLOWED_SCHEMES.contains(&s.as_str()) => {}
        Some(s) => {
            return Err(format!(
                "source scheme \"{s}\" is not allowed (allowed: {})",
                ALLOWED_SCHEMES.join(", ")
            ))
        }
        None => {
            return Err(format!(
                "source \"{}\" is not a URL (allowed schemes: {})",
                url.chars().take(80).collect::<String>(),
                ALLOWED_SCHEMES.join(", ")
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

    #[test]
    fn minimal_and_full_records() {
        let r =
            parse(r#"{"source_url":"http://127.0.0.1:9/live.ts","quality":"medium","extra":1}"#)
                .unwrap();
        assert_eq!(r.primary_source().unwrap(), "http://127.0.0.1:9/live.ts");
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
            .primary_source()
            .unwrap_err()
            .contains("no source_url"));
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
            assert!(check_source(bad).is_err(), "{bad}");
        }
        assert!(check_source("http://x/a b").is_err());
        assert!(check_source("HTTPS://example.invalid/live.m3u8").is_ok());
    }
}
