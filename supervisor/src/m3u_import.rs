//! Reading an operator's channel M3U (`#EXTM3U` with `#EXTINF` lines and
//! their `tvg-id`, `tvg-name`, `tvg-logo`, `group-title`, `tvg-chno`
//! attributes) for
//! `stream-supervisor channels import`.

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Imported {
    /// `tvg-id`, if the entry has one.
    pub tvg_id: Option<String>,
    /// `tvg-name`, else the title after the comma.
    pub name: Option<String>,
    pub logo: Option<String>,
    pub group: Option<String>,
    /// `tvg-chno`: the channel number, if a positive integer.
    pub number: Option<u32>,
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
                number: get("tvg-chno")
                    .and_then(|n| n.parse().ok())
                    .filter(|n| *n > 0),
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

/// Where an imported entry goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Assignment {
    /// Channel `id`; `exists` if a record has that id already.
    Id { id: String, exists: bool },
    /// Another entry of the file has this id already.
    Duplicate(String),
}

/// Channel ids for the entries, one per entry. An entry with a `tvg-id`
/// gets the id made of it. One without is the same channel as an existing
/// record with the same source URL, if there is one; otherwise its place in
/// the file if that number is free, else the lowest free number. A number a
/// record or another entry has is never used: the place in the file names
/// nothing, so it must never replace (or hide behind) an unrelated channel
/// that happens to have that number.
///
/// `existing` maps each stored id to its record's source URL.
pub fn assign_ids(
    entries: &[Imported],
    existing: &std::collections::HashMap<String, String>,
) -> Vec<Assignment> {
    use std::collections::HashSet;
    let explicit: Vec<Option<String>> = entries
        .iter()
        .map(|e| e.tvg_id.as_deref().and_then(id_from))
        .collect();
    // Numbers entries without an id may not take.
    let mut taken: HashSet<String> = existing.keys().cloned().collect();
    taken.extend(explicit.iter().flatten().cloned());
    let mut seen = HashSet::new();
    let mut next = 1u64;
    entries
        .iter()
        .zip(explicit)
        .enumerate()
        .map(|(n, (e, explicit))| {
            let id = explicit.unwrap_or_else(|| {
                let same = existing
                    .iter()
                    .filter(|(_, src)| **src == e.url)
                    .map(|(id, _)| id)
                    .min_by(|a, b| super::catalog::id_order(a, b));
                match same {
                    Some(id) => id.clone(),
                    None => {
                        let place = (n + 1).to_string();
                        if taken.insert(place.clone()) {
                            place
                        } else {
                            while taken.contains(&next.to_string()) {
                                next += 1;
                            }
                            taken.insert(next.to_string());
                            next.to_string()
                        }
                    }
                }
            });
            if !seen.insert(id.clone()) {
                return Assignment::Duplicate(id);
            }
            Assignment::Id {
                exists: existing.contains_key(&id),
                id,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_entries_and_attributes() {
        let text = "\u{feff}#EXTM3U x-tvg-url=\"http://epg/\"\n#EXTINF:-1 tvg-id=\"71386\" tvg-chno=\"7\" tvg-name=\"News, 24\" tvg-logo=\"http://l/1.png\" group-title=\"Info\",News 24\nhttp://origin/live/71386.ts\n\n#EXTINF:0,Plain\n#EXTVLCOPT:http-user-agent=UA\nhttp://origin/plain.m3u8\nhttp://origin/untitled.ts\n#EXTINF:-1,No URL\n";
        let got = parse(text);
        assert_eq!(got.len(), 3);
        assert_eq!(got[0].tvg_id.as_deref(), Some("71386"));
        assert_eq!(got[0].name.as_deref(), Some("News, 24"));
        assert_eq!(got[0].logo.as_deref(), Some("http://l/1.png"));
        assert_eq!(got[0].group.as_deref(), Some("Info"));
        assert_eq!(got[0].number, Some(7));
        assert_eq!(got[1].number, None);
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

    fn entry(tvg_id: Option<&str>, url: &str) -> Imported {
        Imported {
            tvg_id: tvg_id.map(str::to_string),
            url: url.to_string(),
            ..Imported::default()
        }
    }

    fn id(id: &str, exists: bool) -> Assignment {
        Assignment::Id {
            id: id.to_string(),
            exists,
        }
    }

    #[test]
    fn entries_without_an_id_never_take_an_unrelated_channel() {
        // Channels 1 to 3 exist; 2 plays http://b/.
        let existing: std::collections::HashMap<String, String> = [
            ("1", "http://other-1/"),
            ("2", "http://b/"),
            ("3", "http://other-3/"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let entries = [
            entry(None, "http://a/"),
            entry(None, "http://b/"),
            entry(Some("5"), "http://e/"),
            entry(None, "http://c/"),
            entry(Some("news.hd"), "http://n/"),
            entry(Some("3"), "http://x/"),
            entry(None, "http://b/"),
        ];
        assert_eq!(
            assign_ids(&entries, &existing),
            [
                // Its place (1) is an unrelated channel's: the lowest free
                // number, skipping records and explicit ids.
                id("4", false),
                // The same source as channel 2: that channel.
                id("2", true),
                id("5", false),
                id("6", false),
                id("news_hd", false),
                // An explicit id names its channel, existing or not.
                id("3", true),
                Assignment::Duplicate("2".into()),
            ]
        );
    }

    #[test]
    fn reimporting_a_file_finds_the_same_channels() {
        let entries = [entry(None, "http://a/"), entry(None, "http://b/")];
        let first = assign_ids(&entries, &Default::default());
        assert_eq!(first, [id("1", false), id("2", false)]);
        let stored = [("1", "http://a/"), ("2", "http://b/")]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        assert_eq!(
            assign_ids(&entries, &stored),
            [id("1", true), id("2", true)]
        );
    }
}
