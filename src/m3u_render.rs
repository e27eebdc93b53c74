//! The channel M3U a viewer's player loads: `#EXTM3U` (with `url-tvg` and
//! `x-tvg-url` naming the guide when one is configured), then per channel
//! an `#EXTINF` line with `tvg-id` (the channel's guide id, else its id),
//! `tvg-chno`, `tvg-name`, `tvg-logo`, `group-title` where known, and the
//! playback URL carrying the viewer's token.

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

/// `url` with `token_pair` added as a query argument.
fn with_pair(url: &str, token_pair: Option<&str>) -> String {
    match token_pair {
        Some(pair) => {
            let sep = if url.contains('?') { '&' } else { '?' };
            format!("{url}{sep}{pair}")
        }
        None => url.to_string(),
    }
}

/// Renders the playlist. The playback URL of channel `id` is
/// `url_before + id + url_after`, then `token_pair` (`token=...`, already
/// encoded) as a query argument. `guide`: the XMLTV guide's URL (the
/// token is added to it the same way).
pub fn render(
    entries: &[ChannelEntry],
    url_before: &str,
    url_after: &str,
    token_pair: Option<&str>,
    guide: Option<&str>,
) -> Vec<u8> {
    let mut out = String::with_capacity(64 + entries.len() * 160);
    out.push_str("#EXTM3U");
    if let Some(g) = guide.filter(|g| !g.is_empty()) {
        let g = attr(&with_pair(g, token_pair));
        out.push_str(" url-tvg=\"");
        out.push_str(&g);
        out.push_str("\" x-tvg-url=\"");
        out.push_str(&g);
        out.push('"');
    }
    out.push('\n');
    let sep = if url_before.contains('?') || url_after.contains('?') {
        '&'
    } else {
        '?'
    };
    for e in entries {
        out.push_str("#EXTINF:-1 tvg-id=\"");
        out.push_str(&attr(e.guide_id.as_deref().unwrap_or(&e.id)));
        out.push('"');
        if let Some(n) = e.number {
            out.push_str(" tvg-chno=\"");
            out.push_str(&n.to_string());
            out.push('"');
        }
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
            None,
        ))
        .unwrap();
        assert_eq!(
            out,
            "#EXTM3U\n#EXTINF:-1 tvg-id=\"7\" tvg-name=\"News '24'\" tvg-logo=\"http://l/7.png\" group-title=\"Info\",News \"24\"\nhttp://tv.example/live/stream_7.m3u8?token=a%2Bb\n#EXTINF:-1 tvg-id=\"x-1\",x-1\nhttp://tv.example/live/stream_x-1.m3u8?token=a%2Bb\n"
        );
    }

    #[test]
    fn guide_ids_numbers_and_the_guide_url() {
        let e = ChannelEntry {
            id: "7".into(),
            name: Some("News".into()),
            number: Some(101),
            guide_id: Some("news.example".into()),
            ..ChannelEntry::default()
        };
        let out = String::from_utf8(render(
            &[e],
            "/live/stream_",
            ".m3u8",
            Some("token=t1"),
            Some("http://tv.example/epg.xml"),
        ))
        .unwrap();
        assert_eq!(
            out,
            "#EXTM3U url-tvg=\"http://tv.example/epg.xml?token=t1\" x-tvg-url=\"http://tv.example/epg.xml?token=t1\"\n#EXTINF:-1 tvg-id=\"news.example\" tvg-chno=\"101\" tvg-name=\"News\",News\n/live/stream_7.m3u8?token=t1\n"
        );
        // A guide URL with a query gets `&`; a quote cannot end the value.
        let out = String::from_utf8(render(&[], "/", "", Some("t=1"), Some("/g?a=\"b"))).unwrap();
        assert_eq!(
            out,
            "#EXTM3U url-tvg=\"/g?a='b&t=1\" x-tvg-url=\"/g?a='b&t=1\"\n"
        );
        // No guide, or an empty one: the bare header.
        assert_eq!(render(&[], "/", "", None, Some("")), b"#EXTM3U\n");
    }

    #[test]
    fn line_breaks_cannot_inject_entries() {
        let e = ChannelEntry {
            id: "1".into(),
            name: Some("A\nhttp://evil/".into()),
            ..ChannelEntry::default()
        };
        let out = String::from_utf8(render(&[e], "/s_", ".m3u8?q=1", None, None)).unwrap();
        assert_eq!(out.lines().count(), 3);
        assert!(out.ends_with("/s_1.m3u8?q=1\n"));
    }
}
