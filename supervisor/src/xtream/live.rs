//! `get_live_categories` and `get_live_streams`.
//!
//! Stream ids: players keep `stream_id` as a number and play
//! `/live/<user>/<password>/<stream_id>.m3u8`, which nginx maps back to a
//! channel id. So a channel is listed here only if its id is a plain
//! number (`0` or no leading zeros, at most 2^53, which JSON clients hold
//! exactly): `stream_id` is then the id itself and maps back without any
//! table. Channels with other ids still play through get.php's playlist.
//!
//! Category ids: a stable hash of the group name (FNV-1a, 31 bits, as a
//! decimal string), so a group keeps its id when other groups come or go
//! and players' favourites survive catalog changes. Channels without a
//! group are in the category "Other".

use serde_json::{json, Value};

use shared::protocol::ChannelEntry;

pub const NO_GROUP: &str = "Other";

/// The stream id of a channel, if its id is one.
pub fn stream_id(id: &str) -> Option<u64> {
    let n: u64 = id.parse().ok()?;
    (n.to_string() == id && n <= 1 << 53).then_some(n)
}

/// The channel a `stream_id` parameter names.
pub fn channel_of<'a>(catalog: &'a [ChannelEntry], sid: &str) -> Option<&'a ChannelEntry> {
    let n = stream_id(sid.trim())?;
    catalog.iter().find(|c| stream_id(&c.id) == Some(n))
}

pub fn group_of(c: &ChannelEntry) -> &str {
    c.group
        .as_deref()
        .filter(|g| !g.trim().is_empty())
        .unwrap_or(NO_GROUP)
}

pub fn category_id(group: &str) -> String {
    let mut h: u32 = 0x811c_9dc5;
    for b in group.bytes() {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x0100_0193);
    }
    // Never 0: some players take category 0 for "all".
    ((h & 0x7fff_ffff).max(1)).to_string()
}

/// Every group of a listed channel, by name.
pub fn categories(catalog: &[ChannelEntry]) -> Value {
    let mut groups: Vec<&str> = catalog
        .iter()
        .filter(|c| stream_id(&c.id).is_some())
        .map(group_of)
        .collect();
    groups.sort_unstable();
    groups.dedup();
    Value::Array(
        groups
            .into_iter()
            .map(|g| json!({"category_id": category_id(g), "category_name": g, "parent_id": 0}))
            .collect(),
    )
}

/// The listed channels, of one category or all.
pub fn streams(catalog: &[ChannelEntry], category: Option<&str>) -> Value {
    let category = category
        .map(str::trim)
        .filter(|c| !c.is_empty() && *c != "*");
    let mut out = Vec::new();
    for (pos, c) in catalog
        .iter()
        .filter(|c| stream_id(&c.id).is_some())
        .enumerate()
    {
        let cat = category_id(group_of(c));
        if category.is_some_and(|want| want != cat) {
            continue;
        }
        out.push(json!({
            "num": c.number.map_or(pos as u64 + 1, u64::from),
            "name": c.name.as_deref().unwrap_or(&c.id),
            "stream_type": "live",
            "stream_id": stream_id(&c.id),
            "stream_icon": c.logo.as_deref().unwrap_or(""),
            "epg_channel_id": c.guide_id,
            "added": "0",
            // A string, as Xtream panels send it and clients compare it
            // (pyxtream: `is_adult == "1"`, and its schema wants a string).
            "is_adult": "0",
            "category_id": cat,
            "category_ids": [cat.parse::<u64>().unwrap_or(0)],
            "custom_sid": "",
            "tv_archive": 0,
            "direct_source": "",
            "tv_archive_duration": 0,
        }));
    }
    Value::Array(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ch(id: &str, group: Option<&str>) -> ChannelEntry {
        ChannelEntry {
            id: id.into(),
            name: Some(format!("Channel {id}")),
            group: group.map(Into::into),
            logo: Some(format!("http://l/{id}.png")),
            guide_id: Some(format!("{id}.test")),
            number: None,
        }
    }

    #[test]
    fn stream_ids_are_plain_numbers() {
        assert_eq!(stream_id("7"), Some(7));
        assert_eq!(stream_id("0"), Some(0));
        for bad in [
            "007",
            "news",
            "-1",
            "1e3",
            "99999999999999999999",
            "9007199254740993",
        ] {
            assert_eq!(stream_id(bad), None, "{bad}");
        }
    }

    #[test]
    fn categories_are_stable_and_sorted() {
        let catalog = [
            ch("1", Some("News")),
            ch("2", Some("Sport")),
            ch("3", None),
            ch("4", Some("News")),
            ch("x", Some("Hidden")),
        ];
        let v = categories(&catalog);
        let names: Vec<&str> = v
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["category_name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["News", "Other", "Sport"]);
        // The id does not depend on the other groups.
        assert_eq!(v[0]["category_id"], category_id("News"));
        assert_eq!(
            categories(&[ch("9", Some("News"))])[0]["category_id"],
            category_id("News")
        );
        assert_ne!(category_id("News"), category_id("Sport"));
        assert_eq!(v[0]["parent_id"], 0);
        assert!(v[0]["category_id"].is_string());
    }

    #[test]
    fn streams_list_numeric_channels_with_player_fields() {
        let mut numbered = ch("20", Some("Sport"));
        numbered.number = Some(5);
        let catalog = [ch("1", Some("News")), numbered, ch("news-hd", Some("News"))];
        let v = streams(&catalog, None);
        let a = v.as_array().unwrap();
        assert_eq!(a.len(), 2, "non-numeric ids are not listed");
        assert_eq!(a[0]["num"], 1);
        assert_eq!(a[0]["name"], "Channel 1");
        assert_eq!(a[0]["stream_type"], "live");
        assert_eq!(a[0]["stream_id"], 1);
        assert_eq!(a[0]["stream_icon"], "http://l/1.png");
        assert_eq!(a[0]["epg_channel_id"], "1.test");
        assert_eq!(a[0]["category_id"], category_id("News"));
        assert_eq!(a[0]["tv_archive"], 0);
        assert_eq!(a[0]["custom_sid"], "");
        assert_eq!(a[0]["is_adult"], "0");
        assert_eq!(a[1]["num"], 5);
        let sport = streams(&catalog, Some(&category_id("Sport")));
        assert_eq!(sport.as_array().unwrap().len(), 1);
        assert_eq!(sport[0]["stream_id"], 20);
        assert_eq!(streams(&catalog, Some("123")).as_array().unwrap().len(), 0);
        assert_eq!(channel_of(&catalog, "20").unwrap().id, "20");
        assert!(channel_of(&catalog, "news-hd").is_none());
    }
}
