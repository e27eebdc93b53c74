//! Credentials in text shown to operators (`stream_supervisor::redact::redact_text`,
//! `redact_url`): whatever surrounds it, a URL's password and a secret
//! query value given in never come out.

use stream_supervisor::redact::{parse_params, redact_text, redact_url, DEFAULT_PARAMS};

/// Secrets no input holds (checked), so any occurrence in the output leaked.
const PASS: &str = "Pw7qZkX3";
const VALUE: &str = "Tq9vLm2R";

pub fn run(data: &[u8]) {
    let text = super::text(data);
    if text.contains(PASS) || text.contains(VALUE) {
        return;
    }
    let params = parse_params(DEFAULT_PARAMS);
    let (before, after) = text.split_once('\n').unwrap_or((&text, ""));
    let url = format!("https://u:{PASS}@h.test/live?token={VALUE}");
    let input = format!("{before} {url} {after}");
    let out = redact_text(&input, &params);
    assert!(!out.contains(PASS), "password shown: {out:?}");
    assert!(!out.contains(VALUE), "token shown: {out:?}");
    let out = redact_url(&url, &params);
    assert!(!out.contains(PASS) && !out.contains(VALUE), "{out:?}");
    let _ = redact_text(&text, &params);
}
