//! Token masking in nginx's logs (`log_mask::mask_request_line`,
//! `mask_uri`, `arg_variable`). The argument name matches whatever its case
//! (nginx's argument lookup ignores case): after masking, no value of a
//! masked name shows more than `shown_len` bytes; masking keeps the length
//! and is done once.

use shared::token::shown_len;

use crate::log_mask::{arg_variable, mask_request_line, mask_uri, MASK};

pub fn run(data: &[u8]) {
    let Some((&n, rest)) = data.split_first() else {
        return;
    };
    let (name, line) = rest.split_at((n as usize % 8).min(rest.len()));
    if name.is_empty() || name.contains(&b'=') || name.contains(&b'&') {
        return;
    }
    let names = [name];
    let mut out = line.to_vec();
    mask_request_line(&mut out, &names);
    assert_eq!(out.len(), line.len(), "masking changed the length");
    assert!(!mask_request_line(&mut out.clone(), &names), "masked twice");
    let Some(q) = out.iter().position(|&b| b == b'?') else {
        assert_eq!(out, line);
        return;
    };
    let end = out[q..]
        .iter()
        .position(|&b| b == b' ')
        .map_or(out.len(), |i| q + i);
    for pair in out[q + 1..end].split(|&b| b == b'&') {
        let Some(eq) = pair.iter().position(|&b| b == b'=') else {
            continue;
        };
        if pair[..eq].eq_ignore_ascii_case(name) {
            let value = &pair[eq + 1..];
            let hidden = &value[shown_len(value.len())..];
            assert!(
                hidden.iter().all(|&b| b == MASK),
                "{:?} shown",
                value.escape_ascii()
            );
        }
    }
    let mut uri = line.to_vec();
    mask_uri(&mut uri, &names);
    assert_eq!(uri.len(), line.len());
    let _ = arg_variable(line);
}
