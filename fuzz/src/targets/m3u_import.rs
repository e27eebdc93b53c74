//! An operator's channel M3U (`stream_supervisor::m3u_import::parse`,
//! `id_from`): every entry has a URL line of the file, in file order, and a
//! channel id made from a `tvg-id` is a valid channel id. Ids assigned
//! (`assign_ids`) are valid, one per entry, and an entry without a
//! `tvg-id` never lands on a stored channel with another source.

use std::collections::HashMap;

use shared::channel_id;
use stream_supervisor::m3u_import::{assign_ids, id_from, parse, Assignment};

pub fn run(data: &[u8]) {
    let text = super::text(data);
    let entries = parse(&text);
    let mut last_line = 0;
    for e in &entries {
        assert!(!e.url.is_empty() && !e.url.starts_with('#'), "{:?}", e.url);
        assert!(!e.url.contains(['\n', '\r']), "{:?}", e.url);
        assert!(e.line > last_line, "entries out of file order");
        last_line = e.line;
        if let Some(tvg) = &e.tvg_id {
            if let Some(id) = id_from(tvg) {
                assert!(channel_id::validate(id.as_bytes()).is_ok(), "{id:?}");
            }
        }
    }
    if let Some(id) = id_from(&text) {
        assert!(channel_id::validate(id.as_bytes()).is_ok(), "{id:?}");
    }
    // Stored channels: ids 1..3 with the first three URLs seen, shifted.
    let mut existing = HashMap::new();
    for (i, e) in entries.iter().skip(1).take(3).enumerate() {
        existing.insert((i + 1).to_string(), e.url.clone());
    }
    let ids = assign_ids(&entries, &existing);
    assert_eq!(ids.len(), entries.len());
    for (e, a) in entries.iter().zip(&ids) {
        if let Assignment::Id { id, exists } = a {
            assert!(channel_id::validate(id.as_bytes()).is_ok(), "{id:?}");
            assert_eq!(*exists, existing.contains_key(id));
            let explicit = e.tvg_id.as_deref().and_then(id_from).is_some();
            if *exists && !explicit {
                assert_eq!(
                    existing[id], e.url,
                    "entry {} replaces channel {id}",
                    e.line
                );
            }
        }
    }
}
