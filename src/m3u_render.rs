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

/// The M3U rendered once, with the places where the viewer's `arg=token`
/// pair goes: a request is one copy of each piece with the pair between
/// (the catalog is thousands of entries; rendering them per request was
/// the cost of the whole response).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct M3uTemplate {
    text: Vec<u8>,
    /// Offsets in `text` where the pair goes, ascending.
    cuts: Vec<usize>,
}

impl M3uTemplate {
    /// The length of the body with a pair of `pair_len` bytes.
    pub fn len_with(&self, pair_len: usize) -> usize {
        self.text.len() + self.cuts.len() * pair_len
    }

    /// How many times the pair occurs.
    pub fn slots(&self) -> usize {
        self.cuts.len()
    }

    /// The static pieces, in order: the pair goes between each two.
    pub fn pieces(&self) -> impl Iterator<Item = &[u8]> {
        let ends = self.cuts.iter().copied().chain([self.text.len()]);
        let mut start = 0;
        ends.map(move |end| {
            let piece = &self.text[start..end];
            start = end;
            piece
        })
    }

    /// Writes the body with `pair` into `out`, which is `len_with` long.
    pub fn write(&self, out: &mut [u8], pair: &[u8]) {
        let mut at = 0;
        for (i, piece) in self.pieces().enumerate() {
            if i > 0 {
                out[at..at + pair.len()].copy_from_slice(pair);
                at += pair.len();
            }
            out[at..at + piece.len()].copy_from_slice(piece);
            at += piece.len();
        }
    }

    /// The body with `pair` (empty when the template has no slots).
    pub fn join(&self, pair: &[u8]) -> Vec<u8> {
        let mut out = vec![0; self.len_with(pair.len())];
        self.write(&mut out, pair);
        out
    }
}

/// `sep` before the pair: `?` unless the URL already has a query.
fn sep_for(url_has_query: bool) -> char {
    if url_has_query {
        '&'
    } else {
        '?'
    }
}

/// Renders the playlist as a template. The playback URL of channel `id` is
/// `url_before + id + url_after`, then (if `with_token`) the pair as a
/// query argument. `guide`: the XMLTV guide's URL (the pair is added to it
/// the same way).
pub fn template(
    entries: &[ChannelEntry],
    url_before: &str,
    url_after: &str,
    with_token: bool,
    guide: Option<&str>,
) -> M3uTemplate {
    let mut out = String::with_capacity(64 + entries.len() * 160);
    let mut cuts = Vec::with_capacity(if with_token { entries.len() + 2 } else { 0 });
    out.push_str("#EXTM3U");
    if let Some(g) = guide.filter(|g| !g.is_empty()) {
        let g = attr(g);
        let sep = sep_for(g.contains('?'));
        for name in [" url-tvg=\"", " x-tvg-url=\""] {
            out.push_str(name);
            out.push_str(&g);
            if with_token {
                out.push(sep);
                cuts.push(out.len());
            }
            out.push('"');
        }
    }
    out.push('\n');
    let sep = sep_for(url_before.contains('?') || url_after.contains('?'));
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
        if with_token {
            out.push(sep);
            cuts.push(out.len());
        }
        out.push('\n');
    }
    M3uTemplate {
        text: out.into_bytes(),
        cuts,
    }
}

/// Renders the playlist with `token_pair` (`token=...`, already encoded)
/// in every URL: [`template`] joined with the pair.
pub fn render(
    entries: &[ChannelEntry],
    url_before: &str,
    url_after: &str,
    token_pair: Option<&str>,
    guide: Option<&str>,
) -> Vec<u8> {
    let t = template(entries, url_before, url_after, token_pair.is_some(), guide);
    t.join(token_pair.unwrap_or("").as_bytes())
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

    #[test]
    fn template_pieces_join_with_any_pair() {
        let e = ChannelEntry {
            id: "7".into(),
            ..ChannelEntry::default()
        };
        let t = template(&[e.clone(), e], "/s_", ".m3u8", true, Some("/g"));
        assert_eq!(t.slots(), 4);
        let a = t.join(b"token=a");
        let b = t.join(b"token=bbbb");
        assert_eq!(a.len(), t.len_with(7));
        assert_eq!(b.len(), t.len_with(10));
        assert!(String::from_utf8(b)
            .unwrap()
            .ends_with("/s_7.m3u8?token=bbbb\n"));
        // Without a token: one piece, no separators.
        let t = template(&[], "/s_", "", false, Some("/g"));
        assert_eq!(t.slots(), 0);
        assert_eq!(t.join(b""), b"#EXTM3U url-tvg=\"/g\" x-tvg-url=\"/g\"\n");
    }
}
