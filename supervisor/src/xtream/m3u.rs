//! `get.php`: the whole catalog as an M3U playlist with Xtream-style
//! live URLs (`<base>/live/<user>/<password>/<id>.<ext>`) and the guide's
//! URL in the header. `type=m3u_plus` (the default) carries the `tvg-*`
//! attributes, `type=m3u` only titles; `output=m3u8` (the default; `hls`
//! is the same) or `ts` picks the extension (nginx answers `.ts` with a
//! redirect to the `.m3u8`).

use std::collections::BTreeMap;

use shared::protocol::ChannelEntry;

use super::encode::component;
use super::{live, Account};

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

pub fn playlist(
    a: &Account,
    catalog: &[ChannelEntry],
    base: &str,
    params: &BTreeMap<String, String>,
) -> Result<String, String> {
    super::account::split_base(base)?;
    let plus = match params.get("type").map(|s| s.trim()) {
        None | Some("") | Some("m3u_plus") => true,
        Some("m3u") => false,
        Some(t) => {
            return Err(format!(
                "type {:?} is not m3u or m3u_plus",
                t.chars().take(32).collect::<String>()
            ))
        }
    };
    let ext = match params.get("output").map(|s| s.trim()) {
        None | Some("") | Some("m3u8") | Some("hls") => "m3u8",
        Some("ts") | Some("mpegts") => "ts",
        Some(o) => {
            return Err(format!(
                "output {:?} is not m3u8, hls or ts",
                o.chars().take(32).collect::<String>()
            ))
        }
    };
    let (u, p) = (component(&a.username), component(&a.password));
    let mut out = String::with_capacity(64 + catalog.len() * 200);
    if plus {
        let tvg = format!("{base}/xmltv.php?username={u}&password={p}");
        out.push_str(&format!("#EXTM3U url-tvg=\"{tvg}\" x-tvg-url=\"{tvg}\"\n"));
    } else {
        out.push_str("#EXTM3U\n");
    }
    for c in catalog {
        let name = c.name.as_deref().unwrap_or(&c.id);
        out.push_str("#EXTINF:-1");
        if plus {
            out.push_str(&format!(
                " tvg-id=\"{}\"",
                attr(c.guide_id.as_deref().unwrap_or(""))
            ));
            out.push_str(&format!(" tvg-name=\"{}\"", attr(name)));
            out.push_str(&format!(
                " tvg-logo=\"{}\"",
                attr(c.logo.as_deref().unwrap_or(""))
            ));
            if let Some(n) = c.number {
                out.push_str(&format!(" tvg-chno=\"{n}\""));
            }
            out.push_str(&format!(" group-title=\"{}\"", attr(live::group_of(c))));
        }
        out.push(',');
        out.push_str(&text(name));
        out.push('\n');
        out.push_str(&format!("{base}/live/{u}/{p}/{}.{ext}\n", c.id));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn renders_the_catalog_with_live_urls() {
        let a = Account {
            username: "al ice".into(),
            password: "p&ss/1".into(),
            ..Account::default()
        };
        let catalog = [
            ChannelEntry {
                id: "7".into(),
                name: Some("News \"24\"".into()),
                group: Some("Info".into()),
                logo: Some("http://l/7.png".into()),
                number: Some(3),
                guide_id: Some("news.test".into()),
            },
            ChannelEntry {
                id: "news-hd".into(),
                ..ChannelEntry::default()
            },
        ];
        let m = playlist(
            &a,
            &catalog,
            "http://tv.test:8080",
            &params(&[("type", "m3u_plus"), ("output", "ts")]),
        )
        .unwrap();
        let lines: Vec<&str> = m.lines().collect();
        assert_eq!(
            lines[0],
            "#EXTM3U url-tvg=\"http://tv.test:8080/xmltv.php?username=al%20ice&password=p%26ss%2F1\" x-tvg-url=\"http://tv.test:8080/xmltv.php?username=al%20ice&password=p%26ss%2F1\""
        );
        assert_eq!(
            lines[1],
            "#EXTINF:-1 tvg-id=\"news.test\" tvg-name=\"News '24'\" tvg-logo=\"http://l/7.png\" tvg-chno=\"3\" group-title=\"Info\",News \"24\""
        );
        assert_eq!(
            lines[2],
            "http://tv.test:8080/live/al%20ice/p%26ss%2F1/7.ts"
        );
        assert_eq!(lines[3], "#EXTINF:-1 tvg-id=\"\" tvg-name=\"news-hd\" tvg-logo=\"\" group-title=\"Other\",news-hd");
        assert_eq!(
            lines[4],
            "http://tv.test:8080/live/al%20ice/p%26ss%2F1/news-hd.ts"
        );
        let plain = playlist(&a, &catalog, "http://tv.test", &params(&[("type", "m3u")])).unwrap();
        assert!(plain.starts_with(
            "#EXTM3U\n#EXTINF:-1,News \"24\"\nhttp://tv.test/live/al%20ice/p%26ss%2F1/7.m3u8\n"
        ));
        assert!(playlist(
            &a,
            &catalog,
            "http://tv.test",
            &params(&[("output", "rtmp")])
        )
        .unwrap_err()
        .contains("output"));
        assert!(
            playlist(&a, &catalog, "http://tv.test", &params(&[("type", "xml")]))
                .unwrap_err()
                .contains("type")
        );
    }
}
