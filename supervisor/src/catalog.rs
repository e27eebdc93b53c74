//! The channel catalog for the M3U, Xtream and the guide: every
//! `channel:<id>` record's id, name, group, logo, number and guide id, read with SCAN and batched MGET and kept for a
//! few seconds, so thousands of channels cost a handful of Redis round
//! trips per refresh, not one per channel per request.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::sync::Mutex;

use super::store::{Key, Keys, Kind, Store, StoreError};
use shared::channel_id;
use shared::protocol::ChannelEntry;

const FRESH_FOR: Duration = Duration::from_secs(5);

/// The entries, and each channel's source host (for the dashboard only:
/// never in the entries viewers' ops see).
type Loaded = (Arc<Vec<ChannelEntry>>, Arc<HashMap<String, String>>);

#[derive(Default)]
pub struct Catalog {
    cached: Mutex<Option<(Instant, Loaded)>>,
}

impl Catalog {
    pub async fn get(&self, store: &Store) -> Result<Arc<Vec<ChannelEntry>>, StoreError> {
        Ok(self.with_hosts(store).await?.0)
    }

    /// The entries and the host of each channel's first source.
    pub async fn with_hosts(&self, store: &Store) -> Result<Loaded, StoreError> {
        // Holding the lock while loading: concurrent requests share one load.
        let mut cached = self.cached.lock().await;
        if let Some((at, loaded)) = cached.as_ref() {
            if at.elapsed() < FRESH_FOR {
                return Ok(loaded.clone());
            }
        }
        let ids: Vec<String> = store
            .ids(Kind::Channel)
            .await?
            .into_iter()
            .filter(|id| channel_id::validate(id.as_bytes()).is_ok())
            .collect();
        let keys: Vec<Key> = ids.iter().map(|id| Keys::channel(id)).collect();
        let values = store.get_many(&keys).await?;
        let mut hosts = HashMap::new();
        let mut list: Vec<ChannelEntry> = ids
            .into_iter()
            .zip(values)
            .filter_map(|(id, v)| {
                let v = v?;
                if let Some(h) = first_source_host(&v) {
                    hosts.insert(id.clone(), h);
                }
                Some(entry(id, &v))
            })
            .collect();
        list.sort_by(|a, b| id_order(&a.id, &b.id));
        let loaded = (Arc::new(list), Arc::new(hosts));
        *cached = Some((Instant::now(), loaded.clone()));
        Ok(loaded)
    }
}

/// The host of a record's first source (no credentials).
fn first_source_host(json: &str) -> Option<String> {
    let rec = crate::channel_record::parse(json).ok()?;
    source_host(rec.source_list().first()?)
}

/// `host[:port]` of a URL: never its userinfo, path or query.
pub fn source_host(url: &str) -> Option<String> {
    let (_, rest) = url.split_once("://")?;
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..end];
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    (!host.is_empty()).then(|| host.to_string())
}

/// A record's catalog fields; an unreadable record still lists its id.
pub fn entry(id: String, json: &str) -> ChannelEntry {
    let v: Value = serde_json::from_str(json).unwrap_or(Value::Null);
    let field = |names: &[&str]| {
        names
            .iter()
            .find_map(|n| v.get(*n).and_then(Value::as_str))
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    };
    ChannelEntry {
        name: field(&["name", "tvg_name"]),
        group: field(&["group", "group_title"]),
        logo: field(&["logo", "tvg_logo"]),
        number: number(v.get("number").or_else(|| v.get("tvg_chno"))),
        guide_id: field(&["guide_id", "tvg_id"]),
        id,
    }
}

/// A channel number: a positive integer, as a number or a string
/// (records written by other tools); anything else is no number.
fn number(v: Option<&Value>) -> Option<u32> {
    let n = match v? {
        Value::Number(n) => n.as_u64()?,
        Value::String(s) => s.trim().parse().ok()?,
        _ => return None,
    };
    u32::try_from(n).ok().filter(|n| *n > 0)
}

/// Numeric ids in numeric order, before the others in text order.
pub fn id_order(a: &str, b: &str) -> std::cmp::Ordering {
    match (a.parse::<u64>(), b.parse::<u64>()) {
        (Ok(x), Ok(y)) => x.cmp(&y),
        (Ok(_), Err(_)) => std::cmp::Ordering::Less,
        (Err(_), Ok(_)) => std::cmp::Ordering::Greater,
        _ => a.cmp(b),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries() {
        let e = entry(
            "7".into(),
            r#"{"source_url":"http://x/","name":"News","group":"Info","logo":"http://l/7.png"}"#,
        );
        assert_eq!(e.name.as_deref(), Some("News"));
        assert_eq!(e.group.as_deref(), Some("Info"));
        assert_eq!(e.logo.as_deref(), Some("http://l/7.png"));
        assert_eq!((e.number, e.guide_id), (None, None));
        let e = entry(
            "9".into(),
            r#"{"name":"N","number":101,"guide_id":"news.example"}"#,
        );
        assert_eq!(e.number, Some(101));
        assert_eq!(e.guide_id.as_deref(), Some("news.example"));
        for (raw, want) in [
            ("\"12\"", Some(12)),
            ("0", None),
            ("-3", None),
            ("1.5", None),
            ("\"x\"", None),
        ] {
            let e = entry("9".into(), &format!(r#"{{"number":{raw}}}"#));
            assert_eq!(e.number, want, "{raw}");
        }
        let e = entry("8".into(), "not json");
        assert_eq!((e.id.as_str(), e.name), ("8", None));
    }

    #[test]
    fn source_hosts_carry_no_credentials() {
        assert_eq!(
            source_host("http://user:pw@origin.example:8080/live/7.ts?token=x").as_deref(),
            Some("origin.example:8080")
        );
        assert_eq!(
            source_host("https://cdn.example?key=1").as_deref(),
            Some("cdn.example")
        );
        assert_eq!(
            source_host("udp://@239.0.0.1:1234").as_deref(),
            Some("239.0.0.1:1234")
        );
        assert_eq!(source_host("not a url"), None);
        assert_eq!(source_host("http:///path"), None);
        assert_eq!(
            first_source_host(r#"{"sources":["http://a:b@h1/x","http://h2/"]}"#).as_deref(),
            Some("h1")
        );
        assert_eq!(first_source_host("{}"), None);
    }

    #[test]
    fn ordering() {
        let mut ids = vec!["10", "9", "b", "a", "100"];
        ids.sort_by(|a, b| id_order(a, b));
        assert_eq!(ids, ["9", "10", "100", "a", "b"]);
    }
}
