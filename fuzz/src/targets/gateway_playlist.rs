//! Upstream playlists rewritten by the gateway
//! (`stream_supervisor::gateway::playlist::rewrite`). Read back the way
//! ffmpeg reads a playlist (lines end at LF, CR or NUL; tag attributes as
//! `ff_parse_key_value` splits them), every URI in the output is a gateway
//! URL: no upstream URL survives for ffmpeg to fetch directly.

use stream_supervisor::gateway::playlist::rewrite;

const GATEWAY: &str = "http://127.0.0.1:9/u/";

pub fn run(data: &[u8]) {
    let text = super::text(data);
    let mut n = 0u64;
    let out = rewrite(&text, "http://o.test/live/index.m3u8", |_| {
        n += 1;
        format!("{GATEWAY}{n}")
    });
    for line in out.split(['\n', '\r', '\0']) {
        if line.trim().is_empty() {
            continue;
        }
        if line.starts_with('#') {
            for uri in uri_attributes(line) {
                assert!(uri.starts_with(GATEWAY), "URI {uri:?} survives in {line:?}");
            }
        } else {
            assert!(line.starts_with(GATEWAY), "URI line {line:?} survives");
        }
    }
}

/// The `URI=` values of a tag line, as ffmpeg's key/value reader finds
/// them: pairs after the tag's `:`, separated by blanks and commas, a key
/// through `=`, a quoted value with `\` escapes or a bare one.
fn uri_attributes(line: &str) -> Vec<String> {
    let Some((_, attrs)) = line.split_once(':') else {
        return Vec::new();
    };
    let b = attrs.as_bytes();
    let mut i = 0;
    let mut found = Vec::new();
    loop {
        while i < b.len() && (b[i].is_ascii_whitespace() || b[i] == b',') {
            i += 1;
        }
        let Some(eq) = attrs[i..].find('=') else {
            return found;
        };
        let key = &attrs[i..=i + eq];
        i += eq + 1;
        let mut value = Vec::new();
        if b.get(i) == Some(&b'"') {
            i += 1;
            while i < b.len() && b[i] != b'"' {
                if b[i] == b'\\' {
                    if i + 1 == b.len() {
                        break;
                    }
                    i += 1;
                }
                value.push(b[i]);
                i += 1;
            }
            i = (i + 1).min(b.len());
        } else {
            while i < b.len() && !(b[i].is_ascii_whitespace() || b[i] == b',') {
                value.push(b[i]);
                i += 1;
            }
        }
        if key == "URI=" {
            found.push(String::from_utf8_lossy(&value).into_owned());
        }
    }
}
