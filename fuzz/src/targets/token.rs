//! Viewer tokens as they arrive in URLs and reach logs
//! (`shared::token::percent_decode`, `masked`, `check_form`,
//! `mask_request_line`; the module's own masking, which matches the name
//! whatever its case, is the `log_mask` target). A token of the accepted
//! form is visible ASCII of bounded length.
//! A masked token never shows more than its first four bytes; masking a
//! request line again changes nothing, and the line keeps its shape.

use shared::token::{check_form, mask_request_line, masked, percent_decode, MAX_TOKEN_LEN};

pub fn run(data: &[u8]) {
    // First byte: length of the argument name; the rest the request line.
    let Some((&n, rest)) = data.split_first() else {
        return;
    };
    let (arg, line) = rest.split_at((n as usize % 8).min(rest.len()));

    if let Some(decoded) = percent_decode(line) {
        assert!(decoded.len() <= line.len());
    }
    if check_form(line).is_ok() {
        assert!(!line.is_empty() && line.len() <= MAX_TOKEN_LEN);
        assert!(
            line.iter().all(u8::is_ascii_graphic),
            "{:?}",
            line.escape_ascii()
        );
    }
    let m = masked(line);
    assert!(m.len() < 4 * 4 + 32, "masked form too long: {m}");
    if line.len() > 8 && line.iter().all(u8::is_ascii_alphanumeric) {
        assert!(!m.contains(std::str::from_utf8(line).unwrap_or_default()));
    }

    if arg.is_empty() || arg.contains(&b'=') || arg.contains(&b'&') {
        return;
    }
    if let Some(out) = mask_request_line(line, arg) {
        assert_eq!(
            out.iter().filter(|&&b| b == b' ').count(),
            line.iter().filter(|&&b| b == b' ').count(),
            "spaces changed"
        );
        // A value of five bytes grows to four and `...`: two per pair.
        let pairs = 1 + line.iter().filter(|&&b| b == b'&').count();
        assert!(out.len() <= line.len() + 2 * pairs);
        if let Some(again) = mask_request_line(&out, arg) {
            assert_eq!(again, out, "masking is not idempotent");
        }
        assert_no_long_value(&out, arg);
    } else {
        assert_no_long_value(line, arg);
    }
}

/// No `arg=` value in the query carries more than four bytes of a secret
/// (plus the `...` the mask adds).
fn assert_no_long_value(line: &[u8], arg: &[u8]) {
    let Some(q) = line.iter().position(|&b| b == b'?') else {
        return;
    };
    let end = line[q..]
        .iter()
        .position(|&b| b == b' ')
        .map_or(line.len(), |i| q + i);
    for pair in line[q + 1..end].split(|&b| b == b'&') {
        let named = pair.len() > arg.len() && pair[..arg.len()].eq_ignore_ascii_case(arg);
        if let Some(v) = named
            .then(|| &pair[arg.len()..])
            .and_then(|v| v.strip_prefix(b"="))
        {
            assert!(
                v.len() <= 4 || (v.len() == 7 && v.ends_with(b"...")),
                "{v:?} left whole"
            );
        }
    }
}
