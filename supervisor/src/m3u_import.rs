//! Reading an operator's channel M3U (`#EXTM3U` with `#EXTINF` lines and
//! their `tvg-id`, `tvg-name`, `tvg-logo`, `group-title` attributes) for
//! `stream-supervisor channels import`.

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Imported {
    /// `tvg-id`, if the entry has one.
    pub tvg_id: Option<String>,
    /// `tvg-name`, else the title after the comma.
    pub name: Option<String>,
    pub logo: Option<String>,
    pub group: Option<String>,
    pub url: String,
    /// 1-based position in the file, for messages.
    pub line: usize,
}

/// `key="value"` attributes of an `#EXTINF` line (before its title).
fn attributes(info: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut rest = info;
    while let Some(eq) = rest.find("=\"") {
        let key = rest[..eq]
            .rsplit(|c: char| c.is_whitespace() || c == ',')
            .next()
            .unwrap_or("")
            .to_ascii_lowercase();
        let after = &rest[eq + 2..];
        let Some(end) = after.find('"') else { break };
        out.push((key, after[..end].to_string()));
        rest = &after[end + 1..];
    }
    out
}

/// The title: after the first comma that is not inside quotes.
fn title(info: &str) -> Option<String> {
    let mut quoted = false;
    for (i, c) in info.char_indices() {
        match c {
            '"' => quoted = !quoted,
            ',' if !quoted => {
                let t = info[i + 1..].trim();
                return (!t.is_empty()).then(|| t.to_string());
            }
            _ => {}
        }
    }
    None
}

/// Parses the file; entries without a URL are skipped.
pub fn parse(text: &str) -> Vec<Imported> {
    let mut out = Vec::new();
    let mut pending: Option<Imported> = None;
    // A lone CR ends a line too (old Mac files); otherwise an `#EXTINF`
    // line would swallow the URL after it and the entry would be lost.
    let lines = text.lines().flat_map(|l| l.split('\r'));
    for (n, line) in lines.enumerate() {
        let line = line.trim().trim_start_matches('\u{feff}');
        if line.is_empty() {
            continue;
        }
        if let Some(info) = line.strip_prefix("#EXTINF:") {
            let attrs = attributes(info);
            let get = |k: &str| {
                attrs
                    .iter()
                    .find(|(key, _)| key == k)
                    .map(|(_, v)| v.trim().to_string())
                    .filter(|v| !v.is_empty())
            };
            pending = Some(Imported {
                tvg_id: get("tvg-id"),
                name: get("tvg-name").or_else(|| title(info)),
                logo: get("tvg-logo"),
                group: get("group-title"),
                url: String::new(),
                line: n + 1,
            });
        } else if line.starts_with('#') {
            continue;
        } else {
            let mut e = pending.take().unwrap_or(Imported {
                line: n + 1,
                ..Imported::default()
            });
            e.url = line.to_string();
            out.push(e);
        }
    }
    out
}

/// A channel id from a `tvg-id` (characters outside `[A-Za-z0-9_-]`
/// become `_`), or `None` if nothing usable is left.
pub fn id_from(tvg_id: &str) -> Option<String> {
    let id: String = tvg_id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .take(64)
        .collect();
    (!id.is_empty() && id.chars().any(|c| c.is_ascii_alphanumeric())).then_some(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_entries_and_attributes() {
        let text = "\u{feff}#EXTM3U x-tvg-url=\"http://epg/\"\n#EXTINF:-1 tvg-id=\"71386\" tvg-name=\"News, 24\" tvg-logo=\"http://l/1.png\" group-title=\"Info\",News 24\nhttp://origin/live/71386.ts\n\n#EXTINF:0,Plain\n#EXTVLCOPT:http-user-agent=UA\nhttp://origin/plain.m3u8\nhttp://origin/untitled.ts\n#EXTINF:-1,No URL\n";
        let got = parse(text);
        assert_eq!(got.len(), 3);
        assert_eq!(got[0].tvg_id.as_deref(), Some("71386"));
        assert_eq!(got[0].name.as_deref(), Some("News, 24"));
        assert_eq!(got[0].logo.as_deref(), Some("http://l/1.png"));
        assert_eq!(got[0].group.as_deref(), Some("Info"));
        assert_eq!(got[0].url, "http://origin/live/71386.ts");
        assert_eq!(got[1].name.as_deref(), Some("Plain"));
        assert_eq!(got[1].tvg_id, None);
        assert_eq!(got[1].line, 5);
        assert_eq!(got[2].name, None);
    }

    #[test]
    fn titles_after_quoted_commas() {
        let got = parse("#EXTINF:-1 group-title=\"A, B\",Title\nhttp://x/\n");
        assert_eq!(got[0].name.as_deref(), Some("Title"));
        assert_eq!(got[0].group.as_deref(), Some("A, B"));
    }

    #[test]
    fn a_lone_cr_ends_a_line() {
        // Found by fuzz/src/targets/m3u_import.rs: the URL after a lone CR
        // was taken as part of the title, and the entry dropped.
        let got = parse("#EXTM3U\r#EXTINF:-1,One\rhttp://x/1\r#EXTINF:-1,Two\nhttp://x/2\r\n");
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].name.as_deref(), Some("One"));
        assert_eq!(got[0].url, "http://x/1");
        assert_eq!((got[1].url.as_str(), got[1].line), ("http://x/2", 4));
    }

    #[test]
    fn ids() {
        assert_eq!(id_from("71386").as_deref(), Some("71386"));
        assert_eq!(id_from("bbc.one.uk").as_deref(), Some("bbc_one_uk"));
        assert_eq!(id_from("..."), None);
        assert_eq!(id_from(&"x".repeat(100)).unwrap().len(), 64);
    }
}
