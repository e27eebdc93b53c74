//! The channel M3U a viewer's player loads: `#EXTM3U`, then per channel an
//! `#EXTINF` line with `tvg-id`, `tvg-name`, `tvg-logo`, `group-title` where
//! known, and the playback URL carrying the viewer's token.

use shared::protocol::ChannelEntry;

/// An attribute value: no quotes, no line breaks or control characters.
fn attr(v: &str) -> String {
    v.chars()
        .filter(|c| !c.is_control())
        .map(|c| if c == '"' { '\'' } else { c })
        .collect()
}

fn text(v: &str) -> String {
    v.chars().filter(|c| !c.is_control()).collect()
}

/// Renders the playlist. The playback URL of channel `id` is
/// `url_before + id + url_after`, then `token_pair` (`token=...`, already
/// encoded) as a query argument.
pub fn render(
    entries: &[ChannelEntry],
    url_before: &str,
    url_after: &str,
    token_pair: Option<&str>,
) -> Vec<u8> {
    let mut out = String::with_capacity(64 + entries.len() * 160);
    out.push_str("#EXTM3U\n");
    let sep = if url_before.contains('?') || url_after.contains('?') {
        '&'
    } else {
        '?'
    };
    for e in entries {
        out.push_str("#EXTINF:-1 tvg-id=\"");
        out.push_str(&attr(&e.id));
        out.push('"');
        if let Some(n) = &e.name {
            out.push_str(" tvg-name=\"");
            out.push_str(&attr(n));
            out.push('"');
        }
        if let Some(l) = &e.logo {
            out.push_str(" tvg-logo=\"");
            out.push_str(&attr(l));
            out.push('"');
        }
        if let Some(g) = &e.group {
            out.push_str(" group-title=\"");
            out.push_str(&attr(g));
            out.push('"');
        }
        out.push(',');
        out.push_str(&text(e.name.as_deref().unwrap_or(&e.id)));
        out.push('\n');
        out.push_str(url_before);
        out.push_str(&e.id);
        out.push_str(url_after);
        if let Some(pair) = token_pair {
            out.push(sep);
            out.push_str(pair);
        }
        out.push('\n');
    }
    out.into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_entries_with_tokens() {
        let entries = vec![
            ChannelEntry {
                id: "7".into(),
                name: Some("News \"24\"".into()),
                group: Some("Info".into()),
                logo: Some("http://l/7.png".into()),
                ..ChannelEntry::default()
            },
            ChannelEntry {
                id: "x-1".into(),
                ..ChannelEntry::default()
            },
        ];
        let out = String::from_utf8(render(
            &entries,
            "http://tv.example/live/stream_",
            ".m3u8",
            Some("token=a%2Bb"),
        ))
        .unwrap();
        assert_eq!(
            out,
            "#EXTM3U\n#EXTINF:-1 tvg-id=\"7\" tvg-name=\"News '24'\" tvg-logo=\"http://l/7.png\" group-title=\"Info\",News \"24\"\nhttp://tv.example/live/stream_7.m3u8?token=a%2Bb\n#EXTINF:-1 tvg-id=\"x-1\",x-1\nhttp://tv.example/live/stream_x-1.m3u8?token=a%2Bb\n"
        );
    }

    #[test]
    fn line_breaks_cannot_inject_entries() {
        let e = ChannelEntry {
            id: "1".into(),
            name: Some("A\nhttp://evil/".into()),
            ..ChannelEntry::default()
        };
        let out = String::from_utf8(render(&[e], "/s_", ".m3u8?q=1", None)).unwrap();
        assert_eq!(out.lines().count(), 3);
        assert!(out.ends_with("/s_1.m3u8?q=1\n"));
    }
}
