//! The viewer's channel M3U round trip: a `channels` reply from the
//! supervisor (`decode_reply`) rendered by the module
//! (`m3u_render::render`) and read back by the import
//! (`stream_supervisor::m3u_import::parse`) gives one entry per channel,
//! with its id, whatever the names, groups and logos hold.

use shared::channel_id;
use shared::protocol::decode_reply;
use stream_supervisor::m3u_import::parse;

use crate::m3u_render::render;

pub fn run(data: &[u8]) {
    let Ok(reply) = decode_reply(data) else {
        return;
    };
    let Some(mut entries) = reply.channels else {
        return;
    };
    // The supervisor lists only valid ids; the rest is free text.
    entries.retain(|e| channel_id::validate(e.id.as_bytes()).is_ok());
    // tvg-id is the guide id where one is set; checked here with the id
    // (a guide id is free text, rewritten to fit an attribute).
    for e in &mut entries {
        e.guide_id = None;
    }
    let text = render(
        &entries,
        "http://tv.example/live/",
        "/index.m3u8",
        Some("token=abc"),
        None,
    );
    let text = String::from_utf8(text).expect("rendered M3U is UTF-8");
    let back = parse(&text);
    assert_eq!(
        back.len(),
        entries.len(),
        "entries lost or invented:\n{text}"
    );
    for (e, b) in entries.iter().zip(&back) {
        assert_eq!(b.tvg_id.as_deref(), Some(e.id.as_str()), "\n{text}");
        assert_eq!(
            b.url,
            format!("http://tv.example/live/{}/index.m3u8?token=abc", e.id)
        );
    }
}
