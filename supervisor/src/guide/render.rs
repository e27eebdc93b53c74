//! The served guide: an XMLTV document (`guide.xml`) of the catalog's
//! channels that have a guide id, with their stored programmes. Pure: the
//! caller loads the catalog and the stored guide and writes the files.

use std::collections::{BTreeMap, BTreeSet};

use shared::protocol::ChannelEntry;

use super::stored::StoredGuide;
use super::time;

/// The document. Each guide id appears once (several channels may share
/// one: the first by catalog order names it); programmes that ended
/// before `since` are left out.
pub fn xmltv(
    catalog: &[ChannelEntry],
    guides: &BTreeMap<String, StoredGuide>,
    since: i64,
) -> String {
    let mut out = String::with_capacity(4096);
    out.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    out.push_str("<!DOCTYPE tv SYSTEM \"xmltv.dtd\">\n");
    out.push_str("<tv generator-info-name=\"stream-supervisor\">\n");
    let mut seen = BTreeSet::new();
    let mut ids = Vec::new();
    for ch in catalog {
        let Some(gid) = ch
            .guide_id
            .as_deref()
            .filter(|g| super::parse::valid_guide_id(g))
        else {
            continue;
        };
        if !seen.insert(gid) {
            continue;
        }
        ids.push(gid);
        let stored = guides.get(gid);
        let name = ch
            .name
            .clone()
            .or_else(|| stored.and_then(|g| g.channel.names.first().cloned()))
            .unwrap_or_else(|| ch.id.clone());
        out.push_str(&format!("  <channel id=\"{}\">\n", esc(gid)));
        out.push_str(&format!(
            "    <display-name>{}</display-name>\n",
            esc(&name)
        ));
        if let Some(icon) = ch
            .logo
            .clone()
            .or_else(|| stored.and_then(|g| g.channel.icon.clone()))
        {
            out.push_str(&format!("    <icon src=\"{}\"/>\n", esc(&icon)));
        }
        out.push_str("  </channel>\n");
    }
    for gid in ids {
        let Some(g) = guides.get(gid) else { continue };
        for p in g
            .programmes
            .iter()
            .filter(|p| p.stop.unwrap_or(p.start) >= since)
        {
            out.push_str(&format!("  <programme start=\"{}\"", time::xmltv(p.start)));
            if let Some(stop) = p.stop {
                out.push_str(&format!(" stop=\"{}\"", time::xmltv(stop)));
            }
            out.push_str(&format!(" channel=\"{}\">\n", esc(gid)));
            match p.lang.as_deref() {
                Some(l) => out.push_str(&format!(
                    "    <title lang=\"{}\">{}</title>\n",
                    esc(l),
                    esc(&p.title)
                )),
                None => out.push_str(&format!("    <title>{}</title>\n", esc(&p.title))),
            }
            if let Some(d) = &p.desc {
                out.push_str(&format!("    <desc>{}</desc>\n", esc(d)));
            }
            out.push_str("  </programme>\n");
        }
    }
    out.push_str("</tv>\n");
    out
}

/// Text for XML content and attribute values: the five markup characters
/// escaped, characters XML 1.0 cannot carry dropped.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{fffe}' || c == '\u{ffff}' => {}
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::parse::{ChannelInfo, Programme};
    use super::*;

    fn ch(id: &str, name: Option<&str>, gid: Option<&str>) -> ChannelEntry {
        ChannelEntry {
            id: id.into(),
            name: name.map(Into::into),
            guide_id: gid.map(Into::into),
            ..ChannelEntry::default()
        }
    }

    #[test]
    fn renders_catalog_channels_with_their_programmes() {
        let mut guides = BTreeMap::new();
        guides.insert(
            "news.test".to_string(),
            StoredGuide {
                channel: ChannelInfo {
                    names: vec!["Source Name".into()],
                    icon: Some("http://l/n.png?a=1&b=2".into()),
                },
                programmes: vec![
                    Programme {
                        start: 100,
                        stop: Some(200),
                        title: "Past".into(),
                        desc: None,
                        lang: None,
                    },
                    Programme {
                        start: 1_709_294_400,
                        stop: Some(1_709_298_000),
                        title: "Tom & \"Jerry\" <live>".into(),
                        desc: Some("d\u{1}esc".into()),
                        lang: Some("en".into()),
                    },
                ],
            },
        );
        let catalog = [
            ch("1", Some("News"), Some("news.test")),
            ch("2", None, Some("news.test")),
            ch("3", Some("No guide"), None),
            ch("4", None, Some("empty.test")),
        ];
        let x = xmltv(&catalog, &guides, 1_000);
        assert!(x.starts_with(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<!DOCTYPE tv SYSTEM \"xmltv.dtd\">\n<tv"
        ));
        assert_eq!(x.matches("<channel id=\"news.test\">").count(), 1);
        assert!(x.contains("<display-name>News</display-name>"));
        assert!(x.contains("<icon src=\"http://l/n.png?a=1&amp;b=2\"/>"));
        assert!(x.contains("<channel id=\"empty.test\">\n    <display-name>4</display-name>"));
        assert!(!x.contains("No guide"));
        assert!(!x.contains("Past"));
        assert!(x.contains("<programme start=\"20240301120000 +0000\" stop=\"20240301130000 +0000\" channel=\"news.test\">"));
        assert!(x.contains("<title lang=\"en\">Tom &amp; &quot;Jerry&quot; &lt;live&gt;</title>"));
        assert!(x.contains("<desc>desc</desc>"));
        // Channels come before programmes, as the DTD wants.
        assert!(x.rfind("<channel").unwrap() < x.find("<programme").unwrap());
        // What it wrote reads back.
        let back = super::super::parse::parse(
            x.as_bytes(),
            &|_| true,
            super::super::parse::Window {
                from: 0,
                to: i64::MAX,
            },
            Default::default(),
        )
        .unwrap();
        assert_eq!(
            back.programmes["news.test"][0].title,
            "Tom & \"Jerry\" <live>"
        );
    }
}
