//! `get_short_epg` (now and next) and `get_simple_data_table` (the whole
//! stored guide of a channel). Titles and descriptions are base64, times
//! `YYYY-MM-DD HH:MM:SS` in UTC (the timezone the login reply names) and
//! Unix seconds as strings, as the de-facto API sends them.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde_json::{json, Value};

use shared::protocol::ChannelEntry;

use super::live;
use crate::guide::parse::Programme;
use crate::guide::{time, StoredGuide};

fn listing(gid: &str, p: &Programme, end: i64, now: i64, table: bool) -> Value {
    let mut v = json!({
        "id": p.start.to_string(),
        "epg_id": "1",
        "title": STANDARD.encode(&p.title),
        "lang": p.lang.as_deref().unwrap_or(""),
        "start": time::listing(p.start),
        "end": time::listing(end),
        "description": STANDARD.encode(p.desc.as_deref().unwrap_or("")),
        "channel_id": gid,
        "start_timestamp": p.start.to_string(),
        "stop_timestamp": end.to_string(),
        "has_archive": 0,
    });
    if table {
        v["now_playing"] = json!(i32::from(p.start <= now && now < end));
    }
    v
}

fn wrap(list: Vec<Value>) -> Value {
    json!({ "epg_listings": list })
}

/// The programme on now and the next ones, at most `limit`. An unknown
/// stream or one without a guide has an empty list.
pub fn short(
    catalog: &[ChannelEntry],
    sid: &str,
    guide: Option<&StoredGuide>,
    now: i64,
    limit: usize,
) -> Value {
    let (Some(ch), Some(g)) = (live::channel_of(catalog, sid), guide) else {
        return wrap(Vec::new());
    };
    let gid = ch.guide_id.as_deref().unwrap_or("");
    let list = g
        .programmes
        .iter()
        .enumerate()
        .map(|(i, p)| (p, g.end_of(i, p)))
        .filter(|(_, end)| *end > now)
        .take(limit)
        .map(|(p, end)| listing(gid, p, end, now, false))
        .collect();
    wrap(list)
}

/// Every stored programme of the channel, the one on now marked.
pub fn table(catalog: &[ChannelEntry], sid: &str, guide: Option<&StoredGuide>, now: i64) -> Value {
    let (Some(ch), Some(g)) = (live::channel_of(catalog, sid), guide) else {
        return wrap(Vec::new());
    };
    let gid = ch.guide_id.as_deref().unwrap_or("");
    let list = g
        .programmes
        .iter()
        .enumerate()
        .map(|(i, p)| listing(gid, p, g.end_of(i, p), now, true))
        .collect();
    wrap(list)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::guide::parse::ChannelInfo;

    fn guide() -> StoredGuide {
        let p = |start: i64, stop: Option<i64>, title: &str| Programme {
            start,
            stop,
            title: title.into(),
            desc: Some(format!("About {title}")),
            lang: Some("en".into()),
        };
        StoredGuide {
            channel: ChannelInfo::default(),
            programmes: vec![
                p(1000, Some(2000), "Old"),
                p(2000, None, "Now"),
                p(3000, Some(4000), "Next"),
                p(4000, Some(5000), "Later"),
            ],
        }
    }

    fn catalog() -> Vec<ChannelEntry> {
        vec![ChannelEntry {
            id: "7".into(),
            guide_id: Some("news.test".into()),
            ..ChannelEntry::default()
        }]
    }

    #[test]
    fn short_epg_is_now_and_next() {
        let g = guide();
        let v = short(&catalog(), "7", Some(&g), 2500, 2);
        let l = v["epg_listings"].as_array().unwrap();
        assert_eq!(l.len(), 2);
        assert_eq!(l[0]["title"], STANDARD.encode("Now"));
        assert_eq!(l[0]["description"], STANDARD.encode("About Now"));
        assert_eq!(l[0]["start_timestamp"], "2000");
        // No stop in the source: the next programme's start.
        assert_eq!(l[0]["stop_timestamp"], "3000");
        assert_eq!(l[0]["end"], "1970-01-01 00:50:00");
        assert_eq!(l[0]["channel_id"], "news.test");
        assert_eq!(l[0]["lang"], "en");
        assert_eq!(l[0]["has_archive"], 0);
        assert!(l[0].get("now_playing").is_none());
        assert_eq!(l[1]["title"], STANDARD.encode("Next"));
        assert_eq!(
            short(&catalog(), "8", Some(&g), 2500, 4),
            json!({"epg_listings": []})
        );
        assert_eq!(
            short(&catalog(), "7", None, 2500, 4),
            json!({"epg_listings": []})
        );
    }

    #[test]
    fn table_marks_now_playing() {
        let g = guide();
        let v = table(&catalog(), "7", Some(&g), 2500);
        let l = v["epg_listings"].as_array().unwrap();
        assert_eq!(l.len(), 4);
        let playing: Vec<i64> = l
            .iter()
            .map(|x| x["now_playing"].as_i64().unwrap())
            .collect();
        assert_eq!(playing, [0, 1, 0, 0]);
    }
}
