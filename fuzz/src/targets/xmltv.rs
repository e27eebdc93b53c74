//! A programme guide source (`stream_supervisor::guide::parse::parse`,
//! `guide::time::parse`): any bytes are read or refused, never a panic;
//! what is kept is within the limits, sorted by start with one programme
//! per start, and the document rendered from it (`guide::render::xmltv`)
//! reads back with the same programmes.

use std::collections::BTreeMap;

use shared::protocol::ChannelEntry;
use stream_supervisor::guide::parse::{parse, Limits, Window};
use stream_supervisor::guide::{render, time, StoredGuide};

pub fn run(data: &[u8]) {
    let text = super::text(data);
    if let Some(t) = time::parse(&text) {
        if (0..253_402_300_800).contains(&t) {
            assert_eq!(time::parse(&time::xmltv(t)), Some(t), "{text:?}");
        }
    }
    let limits = Limits {
        programmes_per_channel: 50,
        text: 40,
    };
    let window = Window {
        from: i64::MIN / 2,
        to: i64::MAX / 2,
    };
    let Ok(parsed) = parse(data, &|_| true, window, limits) else {
        return;
    };
    let mut guides = BTreeMap::new();
    let mut catalog = Vec::new();
    for (gid, list) in &parsed.programmes {
        assert!(list.len() <= limits.programmes_per_channel);
        assert!(list.windows(2).all(|w| w[0].start < w[1].start), "{gid:?}");
        for p in list {
            assert!(p.title.chars().count() <= limits.text);
            assert!(p
                .desc
                .as_ref()
                .is_none_or(|d| d.chars().count() <= limits.text));
        }
        catalog.push(ChannelEntry {
            id: format!("{}", catalog.len() + 1),
            guide_id: Some(gid.clone()),
            ..ChannelEntry::default()
        });
        guides.insert(
            gid.clone(),
            StoredGuide {
                channel: parsed.channels.get(gid).cloned().unwrap_or_default(),
                programmes: list.clone(),
            },
        );
    }
    let doc = render::xmltv(&catalog, &guides, i64::MIN / 2);
    let back = parse(doc.as_bytes(), &|_| true, window, Limits::default())
        .unwrap_or_else(|e| panic!("the rendered guide does not read back: {e}\n{doc}"));
    for (gid, list) in &parsed.programmes {
        let starts: Vec<i64> = list.iter().map(|p| p.start).collect();
        let again: Vec<i64> = back
            .programmes
            .get(gid)
            .map(|l| l.iter().map(|p| p.start).collect())
            .unwrap_or_default();
        assert_eq!(starts, again, "{gid:?}");
    }
}
