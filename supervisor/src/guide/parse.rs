//! A streamed XMLTV reader: `<channel>` display names and icons, and the
//! `<programme>`s of wanted channels within a time window. It reads
//! event by event from a `BufRead` and keeps only what it will store, so a
//! guide of hundreds of megabytes costs what the kept programmes cost.
//! External entities and DTDs are never loaded (quick-xml does not).

use std::collections::BTreeMap;
use std::io::BufRead;

use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;
use serde::{Deserialize, Serialize};

/// One programme, as stored and rendered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Programme {
    /// Unix seconds.
    pub start: i64,
    /// Unix seconds; absent in the source: the next programme's start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop: Option<i64>,
    pub title: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub desc: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lang: Option<String>,
}

/// A `<channel>` of the source.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChannelInfo {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub names: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub icon: Option<String>,
}

/// Programmes kept: those that overlap `[from, to)`.
#[derive(Debug, Clone, Copy)]
pub struct Window {
    pub from: i64,
    pub to: i64,
}

/// Bounds on what one import keeps.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub programmes_per_channel: usize,
    /// Characters of a title, description or name (longer ones are cut).
    pub text: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            programmes_per_channel: 5000,
            text: 2000,
        }
    }
}

/// What an import found.
#[derive(Debug, Default)]
pub struct Parsed {
    pub channels: BTreeMap<String, ChannelInfo>,
    /// Per guide id, sorted by start, one programme per start time.
    pub programmes: BTreeMap<String, Vec<Programme>>,
    pub stats: Stats,
}

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Stats {
    pub read: usize,
    pub kept: usize,
    pub unknown_channel: usize,
    pub outside_window: usize,
    /// Without a channel, a readable start or a title.
    pub unreadable: usize,
    pub over_limit: usize,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Field {
    DisplayName,
    Title,
    Desc,
}

#[derive(Default)]
struct Prog {
    channel: String,
    start: Option<i64>,
    stop: Option<i64>,
    title: Option<String>,
    desc: Option<String>,
    lang: Option<String>,
    wanted: bool,
}

/// A guide id the guide can carry: 1 to 200 bytes, no control
/// characters (XML cannot hold them, so the rendered guide could not name
/// the channel). Others are never stored or rendered.
pub fn valid_guide_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 200 && !id.chars().any(char::is_control)
}

/// Reads an XMLTV document. `wanted` says which guide ids to keep
/// programmes of. A document that is not well-formed XMLTV is an error
/// naming the byte offset (in the uncompressed text).
pub fn parse<R: BufRead>(
    input: R,
    wanted: &dyn Fn(&str) -> bool,
    window: Window,
    limits: Limits,
) -> Result<Parsed, String> {
    let mut reader = Reader::from_reader(input);
    reader.config_mut().check_end_names = true;
    let mut buf = Vec::new();
    let mut out = Parsed::default();
    let mut depth = 0usize;
    let mut seen_root = false;
    let mut channel: Option<(String, ChannelInfo)> = None;
    let mut prog: Option<Prog> = None;
    let mut capture: Option<(Field, usize, String)> = None;
    loop {
        let at = reader.buffer_position();
        let ev = reader.read_event_into(&mut buf).map_err(|e| {
            format!(
                "not well-formed XML near byte {}: {e}",
                reader.error_position().max(at)
            )
        })?;
        match ev {
            Event::Start(e) => {
                depth += 1;
                if depth == 1 {
                    check_root(&e, at)?;
                    seen_root = true;
                }
                open(&e, depth, &mut channel, &mut prog, &mut capture, limits)?;
            }
            Event::Empty(e) => {
                if depth == 0 {
                    check_root(&e, at)?;
                    seen_root = true;
                }
                open(&e, depth + 1, &mut channel, &mut prog, &mut capture, limits)?;
                close(
                    depth + 1,
                    &mut channel,
                    &mut prog,
                    &mut capture,
                    &mut out,
                    wanted,
                    window,
                    limits,
                );
            }
            Event::End(_) => {
                close(
                    depth,
                    &mut channel,
                    &mut prog,
                    &mut capture,
                    &mut out,
                    wanted,
                    window,
                    limits,
                );
                depth = depth.saturating_sub(1);
            }
            Event::Text(t) => {
                if let Some((_, _, text)) = capture.as_mut() {
                    let s = t
                        .unescape()
                        .map(|c| c.into_owned())
                        .unwrap_or_else(|_| String::from_utf8_lossy(&t).into_owned());
                    push_bounded(text, &s, limits.text);
                }
            }
            Event::CData(c) => {
                if let Some((_, _, text)) = capture.as_mut() {
                    push_bounded(text, &String::from_utf8_lossy(&c), limits.text);
                }
            }
            Event::Eof => break,
            _ => {}
        }
        buf.clear();
    }
    if !seen_root {
        return Err("not an XMLTV document: no <tv> element".into());
    }
    if depth != 0 {
        return Err(format!(
            "the document ends inside an element at byte {} (truncated?)",
            reader.buffer_position()
        ));
    }
    for list in out.programmes.values_mut() {
        list.sort_by_key(|p| p.start);
        list.dedup_by_key(|p| p.start);
    }
    out.stats.kept = out.programmes.values().map(Vec::len).sum();
    Ok(out)
}

fn check_root(e: &BytesStart, at: u64) -> Result<(), String> {
    if e.local_name().as_ref() == b"tv" {
        Ok(())
    } else {
        Err(format!(
            "not an XMLTV document: the root element at byte {at} is <{}>, not <tv>",
            String::from_utf8_lossy(e.name().as_ref())
        ))
    }
}

fn attr(e: &BytesStart, name: &[u8]) -> Option<String> {
    e.attributes()
        .flatten()
        .find(|a| a.key.as_ref() == name)
        .map(|a| match a.unescape_value() {
            Ok(v) => v.into_owned(),
            Err(_) => String::from_utf8_lossy(&a.value).into_owned(),
        })
}

fn push_bounded(text: &mut String, s: &str, max: usize) {
    let have = text.chars().count();
    text.extend(s.chars().take(max.saturating_sub(have)));
}

fn clean(s: String) -> Option<String> {
    let t = s.trim();
    (!t.is_empty()).then(|| t.to_string())
}

fn open(
    e: &BytesStart,
    depth: usize,
    channel: &mut Option<(String, ChannelInfo)>,
    prog: &mut Option<Prog>,
    capture: &mut Option<(Field, usize, String)>,
    limits: Limits,
) -> Result<(), String> {
    let name = e.local_name();
    match (depth, name.as_ref()) {
        (2, b"channel") => {
            *channel = attr(e, b"id").map(|id| (id, ChannelInfo::default()));
        }
        (2, b"programme") => {
            let mut p = Prog {
                channel: attr(e, b"channel").unwrap_or_default(),
                ..Prog::default()
            };
            p.start = attr(e, b"start").and_then(|s| super::time::parse(&s));
            p.stop = attr(e, b"stop").and_then(|s| super::time::parse(&s));
            *prog = Some(p);
        }
        (3, b"display-name") if channel.is_some() => {
            *capture = Some((Field::DisplayName, depth, String::new()));
        }
        (3, b"icon") => {
            if let Some((_, info)) = channel.as_mut() {
                info.icon = attr(e, b"src")
                    .and_then(clean)
                    .map(|s| s.chars().take(limits.text).collect());
            }
        }
        (3, b"title") if prog.as_ref().is_some_and(|p| p.title.is_none()) => {
            if let Some(p) = prog.as_mut() {
                p.lang = attr(e, b"lang").and_then(clean);
            }
            *capture = Some((Field::Title, depth, String::new()));
        }
        (3, b"desc") if prog.as_ref().is_some_and(|p| p.desc.is_none()) => {
            *capture = Some((Field::Desc, depth, String::new()));
        }
        _ => {}
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn close(
    depth: usize,
    channel: &mut Option<(String, ChannelInfo)>,
    prog: &mut Option<Prog>,
    capture: &mut Option<(Field, usize, String)>,
    out: &mut Parsed,
    wanted: &dyn Fn(&str) -> bool,
    window: Window,
    limits: Limits,
) {
    if let Some((field, d, _)) = capture.as_ref() {
        if *d == depth {
            let field = *field;
            let text = capture.take().map(|c| c.2).and_then(clean);
            match field {
                Field::DisplayName => {
                    if let (Some((_, info)), Some(t)) = (channel.as_mut(), text) {
                        if info.names.len() < 8 {
                            info.names.push(t);
                        }
                    }
                }
                Field::Title => {
                    if let Some(p) = prog.as_mut() {
                        p.title = text;
                    }
                }
                Field::Desc => {
                    if let Some(p) = prog.as_mut() {
                        p.desc = text;
                    }
                }
            }
            return;
        }
    }
    if depth != 2 {
        return;
    }
    if let Some((id, info)) = channel.take() {
        if valid_guide_id(&id) && wanted(&id) {
            out.channels.insert(id, info);
        }
    }
    if let Some(mut p) = prog.take() {
        p.wanted = valid_guide_id(&p.channel) && wanted(&p.channel);
        keep(p, out, window, limits);
    }
}

fn keep(p: Prog, out: &mut Parsed, window: Window, limits: Limits) {
    out.stats.read += 1;
    let (Some(start), Some(title)) = (p.start, p.title) else {
        out.stats.unreadable += 1;
        return;
    };
    if !valid_guide_id(&p.channel) {
        out.stats.unreadable += 1;
        return;
    }
    if !p.wanted {
        out.stats.unknown_channel += 1;
        return;
    }
    let end = p.stop.filter(|s| *s > start).unwrap_or(start);
    if end <= window.from && start < window.from || start >= window.to {
        out.stats.outside_window += 1;
        return;
    }
    let list = out.programmes.entry(p.channel).or_default();
    if list.len() >= limits.programmes_per_channel {
        out.stats.over_limit += 1;
        return;
    }
    list.push(Programme {
        start,
        stop: p.stop.filter(|s| *s > start),
        title,
        desc: p.desc,
        lang: p.lang,
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE tv SYSTEM "xmltv.dtd">
<tv generator-info-name="test">
  <channel id="news.test"><display-name lang="en">News &amp; More</display-name><icon src="http://l/n.png"/></channel>
  <channel id="other.test"><display-name>Other</display-name></channel>
  <programme start="20240301120000 +0000" stop="20240301130000 +0000" channel="news.test">
    <title lang="en">Noon &lt;News&gt;</title><desc><![CDATA[The <news> at noon]]></desc>
  </programme>
  <programme start="20240301110000 +0000" stop="20240301120000 +0000" channel="news.test"><title>Morning</title></programme>
  <programme start="20240101110000 +0000" stop="20240101120000 +0000" channel="news.test"><title>Old</title></programme>
  <programme start="20240301120000 +0000" channel="other.test"><title>Elsewhere</title></programme>
  <programme start="garbage" channel="news.test"><title>Bad time</title></programme>
  <programme start="20240301120000 +0000" channel="news&#1;.test"><title>Control</title></programme>
</tv>"#;

    fn window() -> Window {
        // 2024-03-01 00:00 to 2024-03-02 00:00.
        Window {
            from: 1_709_251_200,
            to: 1_709_337_600,
        }
    }

    #[test]
    fn keeps_wanted_programmes_in_the_window() {
        let p = parse(
            DOC.as_bytes(),
            &|id| id == "news.test",
            window(),
            Limits::default(),
        )
        .unwrap();
        let news = &p.programmes["news.test"];
        assert_eq!(news.len(), 2);
        assert_eq!(news[0].title, "Morning");
        assert_eq!(news[1].title, "Noon <News>");
        assert_eq!(news[1].desc.as_deref(), Some("The <news> at noon"));
        assert_eq!(news[1].lang.as_deref(), Some("en"));
        assert_eq!(news[1].stop, Some(1_709_298_000));
        assert_eq!(p.channels["news.test"].names, ["News & More"]);
        assert_eq!(
            p.channels["news.test"].icon.as_deref(),
            Some("http://l/n.png")
        );
        assert!(!p.channels.contains_key("other.test"));
        assert_eq!(
            p.stats,
            Stats {
                read: 6,
                kept: 2,
                unknown_channel: 1,
                outside_window: 1,
                unreadable: 2,
                over_limit: 0
            }
        );
    }

    #[test]
    fn bounds_apply() {
        let limits = Limits {
            programmes_per_channel: 1,
            text: 4,
        };
        let p = parse(DOC.as_bytes(), &|_| true, window(), limits).unwrap();
        assert_eq!(p.programmes["news.test"].len(), 1);
        assert_eq!(p.programmes["news.test"][0].title, "Noon");
        assert_eq!(p.stats.over_limit, 1);
    }

    #[test]
    fn broken_documents_are_refused_with_a_position() {
        let cut = &DOC[..DOC.len() - 40];
        let e = parse(cut.as_bytes(), &|_| true, window(), Limits::default()).unwrap_err();
        assert!(e.contains("byte"), "{e}");
        let e = parse(
            "<tv><channel id='a'></programme></tv>".as_bytes(),
            &|_| true,
            window(),
            Limits::default(),
        )
        .unwrap_err();
        assert!(e.contains("not well-formed XML near byte"), "{e}");
        let e = parse(
            "<html></html>".as_bytes(),
            &|_| true,
            window(),
            Limits::default(),
        )
        .unwrap_err();
        assert!(e.contains("not <tv>"), "{e}");
        let e = parse("".as_bytes(), &|_| true, window(), Limits::default()).unwrap_err();
        assert!(e.contains("no <tv>"), "{e}");
    }
}
