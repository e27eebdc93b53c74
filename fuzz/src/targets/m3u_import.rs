//! An operator's channel M3U (`stream_supervisor::m3u_import::parse`,
//! `id_from`): every entry has a URL line of the file, in file order, and a
//! channel id made from a `tvg-id` is a valid channel id.

use shared::channel_id;
use stream_supervisor::m3u_import::{id_from, parse};

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
}
