//! The Xtream Codes-compatible API that IPTV players (IPTV Smarters,
//! TiviMate, pyxtream, ...) speak: `player_api.php` actions and the
//! `get.php` playlist. Pure renderers of the catalog and the stored guide;
//! the `xtream` op (server_ops.rs) checks the user's password, loads what
//! an action needs and calls [`answer`].
//!
//! Field names and types follow what the de-facto API sends and clients
//! read: many numbers are strings there (`"max_connections": "2"`), and
//! EPG titles and descriptions are base64.

pub mod account;
pub mod encode;
pub mod epg;
pub mod live;
pub mod m3u;
pub mod op;

use std::collections::BTreeMap;

use shared::protocol::ChannelEntry;

use super::guide::StoredGuide;

pub const JSON: &str = "application/json";
pub const M3U: &str = "audio/x-mpegurl";

/// The viewer, as the login reply shows them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Account {
    pub username: String,
    pub password: String,
    /// Unix seconds; `None`: never expires.
    pub exp_date: Option<i64>,
    /// Unix seconds, when known.
    pub created_at: Option<i64>,
    /// `None`: unlimited.
    pub max_connections: Option<u32>,
    pub active_cons: u32,
}

/// What an action needs besides the account.
pub struct View<'a> {
    pub account: &'a Account,
    pub catalog: &'a [ChannelEntry],
    /// The stored guide of the channel an EPG action names (if any).
    pub guide: Option<&'a StoredGuide>,
    pub base_url: &'a str,
    pub now: i64,
}

/// An answer: body and content type, or a refusal (HTTP 400) with why.
pub type Answer = Result<(String, &'static str), String>;

/// The guide id whose programmes `action` needs, if any: loaded by the
/// caller before [`answer`].
pub fn guide_needed(
    action: &str,
    params: &BTreeMap<String, String>,
    catalog: &[ChannelEntry],
) -> Option<String> {
    match action {
        "get_short_epg" | "get_simple_data_table" => {
            let sid = params.get("stream_id")?;
            live::channel_of(catalog, sid)?.guide_id.clone()
        }
        _ => None,
    }
}

/// Answers one action.
pub fn answer(action: &str, params: &BTreeMap<String, String>, v: &View) -> Answer {
    let json = |value: serde_json::Value| Ok((value.to_string(), JSON));
    match action {
        "" | "get_user_info" => json(account::login(v.account, v.base_url, v.now)?),
        "get_live_categories" => json(live::categories(v.catalog)),
        "get_live_streams" => json(live::streams(v.catalog, params.get("category_id").map(String::as_str))),
        "get_short_epg" => {
            let sid = stream_id(params)?;
            let limit = match params.get("limit") {
                None => 4,
                Some(l) => l
                    .trim()
                    .parse::<usize>()
                    .ok()
                    .filter(|n| (1..=1000).contains(n))
                    .ok_or("\"limit\" must be a number from 1 to 1000")?,
            };
            json(epg::short(v.catalog, sid, v.guide, v.now, limit))
        }
        "get_simple_data_table" => json(epg::table(v.catalog, stream_id(params)?, v.guide, v.now)),
        // No video on demand or series here: empty lists, which players
        // load without complaint at login.
        "get_vod_categories" | "get_vod_streams" | "get_series_categories" | "get_series" => {
            json(serde_json::json!([]))
        }
        "m3u" => m3u::playlist(v.account, v.catalog, v.base_url, params).map(|b| (b, M3U)),
        other => Err(format!(
            "unknown action {:?} (known: get_live_categories, get_live_streams, get_short_epg, get_simple_data_table)",
            other.chars().take(64).collect::<String>()
        )),
    }
}

fn stream_id(params: &BTreeMap<String, String>) -> Result<&str, String> {
    params
        .get("stream_id")
        .map(|s| s.trim())
        .filter(|s| !s.is_empty())
        .ok_or_else(|| "\"stream_id\" is required".to_string())
}

/// The error body of a refused action, as JSON (the reply's body).
pub fn error_body(why: &str) -> String {
    serde_json::json!({"user_info": {"auth": 0}, "error": why}).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dispatch() {
        let account = Account {
            username: "alice".into(),
            password: "pw".into(),
            ..Account::default()
        };
        let catalog = vec![ChannelEntry {
            id: "7".into(),
            name: Some("News".into()),
            ..ChannelEntry::default()
        }];
        let v = View {
            account: &account,
            catalog: &catalog,
            guide: None,
            base_url: "http://tv.test:8080",
            now: 1_709_294_400,
        };
        let p = BTreeMap::new();
        assert_eq!(answer("get_live_streams", &p, &v).unwrap().1, JSON);
        assert_eq!(answer("get_vod_streams", &p, &v).unwrap().0, "[]");
        assert!(answer("get_short_epg", &p, &v)
            .unwrap_err()
            .contains("stream_id"));
        assert!(answer("drop_tables", &p, &v)
            .unwrap_err()
            .contains("unknown action \"drop_tables\""));
        let mut p = BTreeMap::new();
        p.insert("stream_id".to_string(), "7".to_string());
        p.insert("limit".to_string(), "x".to_string());
        assert!(answer("get_short_epg", &p, &v)
            .unwrap_err()
            .contains("limit"));
        p.remove("limit");
        assert_eq!(
            answer("get_short_epg", &p, &v).unwrap().0,
            r#"{"epg_listings":[]}"#
        );
        let e: serde_json::Value = serde_json::from_str(&error_body("nope")).unwrap();
        assert_eq!(e["user_info"]["auth"], 0);
    }
}
