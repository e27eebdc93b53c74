//! Masking tokens in what nginx logs of a request: the query argument that
//! carries a viewer's token is overwritten in place, keeping its length,
//! so it can be applied to nginx's own strings (the request line, `$args`,
//! `$request_uri`) without moving anything they point into.
//!
//! Argument names match without regard to case, as nginx's own argument
//! lookup (`$arg_token`, `ngx_http_arg`) does: `?TOKEN=` authenticates, so
//! it is masked too.

/// The byte a masked character becomes.
pub const MASK: u8 = b'*';

use shared::token::shown_len;

/// Masks, in `query` (`a=1&token=SECRET&b=2`, without the `?`), the value
/// of every argument named one of `names` (ASCII, any case). Returns
/// whether anything changed.
pub fn mask_query<N: AsRef<[u8]>>(query: &mut [u8], names: &[N]) -> bool {
    mask_secrets(query, names, &[])
}

/// Like `mask_query`, but the whole value: for passwords (`password` of
/// Xtream clients), which are short enough that any part of them helps a
/// guess.
pub fn mask_query_full<N: AsRef<[u8]>>(query: &mut [u8], names: &[N]) -> bool {
    mask_secrets(query, &[], names)
}

/// The first secret value in `query` from byte `from` on: the part a
/// masking covers (the whole value of an argument named in `full`, the
/// value past its shown start for one named in `partial`; a name in both
/// is masked whole) and where the next argument begins. The one walk over
/// the arguments that masking and its read-only check share.
fn next_secret<N: AsRef<[u8]>>(
    query: &[u8],
    mut from: usize,
    partial: &[N],
    full: &[N],
) -> Option<(core::ops::Range<usize>, usize)> {
    let named =
        |key: &[u8], names: &[N]| names.iter().any(|n| key.eq_ignore_ascii_case(n.as_ref()));
    while from <= query.len() {
        let pair = &query[from..];
        let end = pair.iter().position(|&b| b == b'&').unwrap_or(pair.len());
        let (pair, at, next) = (&pair[..end], from, from + end + 1);
        from = next;
        let Some(eq) = pair.iter().position(|&b| b == b'=') else {
            continue;
        };
        let (key, value) = (&pair[..eq], &pair[eq + 1..]);
        let shown = if named(key, full) {
            0
        } else if named(key, partial) {
            shown_len(value.len()).min(value.len())
        } else {
            continue;
        };
        let v = at + eq + 1;
        return Some((v + shown..v + value.len(), next));
    }
    None
}

/// Masks every secret value of `query` (see `next_secret`); whether
/// anything changed.
fn mask_secrets<N: AsRef<[u8]>>(query: &mut [u8], partial: &[N], full: &[N]) -> bool {
    let (mut changed, mut from) = (false, 0);
    while let Some((range, next)) = next_secret(query, from, partial, full) {
        for b in &mut query[range] {
            changed |= *b != MASK;
            *b = MASK;
        }
        from = next;
    }
    changed
}

/// Whether `mask_secrets` would change `query`, without writing (and so
/// without the copy a masking needs).
fn secrets_unmasked<N: AsRef<[u8]>>(query: &[u8], partial: &[N], full: &[N]) -> bool {
    let mut from = 0;
    while let Some((range, next)) = next_secret(query, from, partial, full) {
        if query[range].iter().any(|&b| b != MASK) {
            return true;
        }
        from = next;
    }
    false
}

/// The query of a request line: after the first `?`, up to the first
/// space (or the end of a line cut short).
fn line_query(line: &[u8]) -> Option<core::ops::Range<usize>> {
    let q = line.iter().position(|&b| b == b'?')? + 1;
    let end = line[q..]
        .iter()
        .position(|&b| b == b' ')
        .map_or(line.len(), |e| q + e);
    Some(q..end)
}

/// Masks the query of a URI (`/path?query`, what `$request_uri` holds).
pub fn mask_uri<N: AsRef<[u8]>>(uri: &mut [u8], names: &[N]) -> bool {
    match uri.iter().position(|&b| b == b'?') {
        Some(q) => mask_query(&mut uri[q + 1..], names),
        None => false,
    }
}

/// Masks the query in a request line (`GET /p?token=x HTTP/1.1`). The
/// query ends at the first space; a line cut short (nginx logs the part it
/// read of a URI too long for its buffers) is masked to its end.
pub fn mask_request_line<N: AsRef<[u8]>>(line: &mut [u8], names: &[N]) -> bool {
    let Some(q) = line.iter().position(|&b| b == b'?') else {
        return false;
    };
    let query = &mut line[q + 1..];
    let end = query.iter().position(|&b| b == b' ').unwrap_or(query.len());
    mask_query(&mut query[..end], names)
}

/// Everything masked in what nginx logs of a request: token arguments
/// (`partial`: their first characters stay, as `shared::token::masked`
/// shows), password arguments (`full`), and the password component of
/// Xtream stream paths (`paths`, see `path_mask`).
pub struct Secrets<'a, N> {
    pub partial: &'a [N],
    pub full: &'a [N],
    pub paths: bool,
}

impl<N: AsRef<[u8]>> Secrets<'_, N> {
    /// Nothing to mask at all.
    pub fn is_empty(&self) -> bool {
        self.partial.is_empty() && self.full.is_empty() && !self.paths
    }

    /// Masks a query (`$args`).
    pub fn query(&self, query: &mut [u8]) -> bool {
        mask_secrets(query, self.partial, self.full)
    }

    /// Masks a URI (`$request_uri`): its query, and its path.
    pub fn uri(&self, uri: &mut [u8]) -> bool {
        let a = match uri.iter().position(|&b| b == b'?') {
            Some(q) => self.query(&mut uri[q + 1..]),
            None => false,
        };
        let b = self.paths && crate::path_mask::mask_uri(uri);
        a | b
    }

    /// Whether `request_line` might change `line` (a path that may hold a
    /// credential counts, as `path_mask::may_hold` judges it): the log
    /// phase's check of a line the first phase may have masked already,
    /// without copying it.
    pub fn request_line_needs_mask(&self, line: &[u8]) -> bool {
        (self.paths && crate::path_mask::may_hold(line))
            || line_query(line).is_some_and(|r| secrets_unmasked(&line[r], self.partial, self.full))
    }

    /// Masks a request line (`$request`), cut short or not.
    pub fn request_line(&self, line: &mut [u8]) -> bool {
        let a = line_query(line).is_some_and(|r| self.query(&mut line[r]));
        let b = self.paths && crate::path_mask::mask_request_line(line);
        a | b
    }
}

/// `name` when a configured value is exactly `$arg_name` (or
/// `${arg_name}`): the query argument a token read from it travels in.
pub fn arg_variable(value: &[u8]) -> Option<&[u8]> {
    let var = value.strip_prefix(b"$")?;
    let var = match var.strip_prefix(b"{") {
        Some(v) => v.strip_suffix(b"}")?,
        None => var,
    };
    let name = var.strip_prefix(b"arg_")?;
    (!name.is_empty() && name.iter().all(|b| b.is_ascii_alphanumeric() || *b == b'_'))
        .then_some(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_line_needs_masking_exactly_when_masking_changes_it() {
        let partial: &[&str] = &["token"];
        let full: &[&str] = &["password"];
        let secrets = Secrets {
            partial,
            full,
            paths: false,
        };
        for case in [
            "GET /live/s.m3u8?token=0123456789abcdef HTTP/1.1",
            "GET /live/s.m3u8?token=0123************ HTTP/2.0",
            "GET /live/s.m3u8?x=1&TOKEN=0123456789abcdef&y=2 HTTP/1.1",
            "GET /live/s.m3u8?mytoken=0123456789abcdef HTTP/1.1",
            "GET /player_api.php?username=u&password=pw HTTP/1.1",
            "GET /player_api.php?username=u&password=** HTTP/1.1",
            "GET /live/s.m3u8?token=ab HTTP/1.1",
            "GET /live/s.m3u8 HTTP/1.1",
            "GET /live/s.m3u8?a=b HTTP/1.1 token=0123456789abcdef",
            "GET /live/s.m3u8?token=0123456789abcdef",
            "GET /a?token=",
        ] {
            let mut line = case.as_bytes().to_vec();
            let needs = secrets.request_line_needs_mask(&line);
            assert_eq!(needs, secrets.request_line(&mut line), "{case:?}");
            assert!(!secrets.request_line_needs_mask(&line), "masked: {case:?}");
        }
    }

    #[test]
    fn one_pass_masks_as_the_partial_then_the_full_pass() {
        let partial: &[&str] = &["token", "both"];
        let full: &[&str] = &["password", "both"];
        for q in [
            "token=0123456789abcdef",
            "x=1&TOKEN=0123456789abcdef&password=pw&y",
            "password=longpassword123&token=ab&both=0123456789",
            "mytoken=0123456789abcdef&token=&password=",
            "token=0123************",
            "",
        ] {
            let (mut one, mut two) = (q.as_bytes().to_vec(), q.as_bytes().to_vec());
            let changed_one = mask_secrets(&mut one, partial, full);
            let a = mask_query(&mut two, partial);
            let b = mask_query_full(&mut two, full);
            assert_eq!(one, two, "{q:?}");
            assert_eq!(changed_one, a | b, "{q:?}");
        }
    }

    fn line(s: &str, names: &[&str]) -> String {
        let mut v = s.as_bytes().to_vec();
        mask_request_line(&mut v, names);
        String::from_utf8(v).unwrap()
    }

    #[test]
    fn masks_the_value_keeping_length() {
        assert_eq!(
            line(
                "GET /live/s.m3u8?token=0123456789abcdef HTTP/1.1",
                &["token"]
            ),
            "GET /live/s.m3u8?token=0123************ HTTP/1.1"
        );
        assert_eq!(
            line(
                "GET /a?x=1&token=secretvalue&mytoken=keep HTTP/1.0",
                &["token"]
            ),
            "GET /a?x=1&token=secr*******&mytoken=keep HTTP/1.0"
        );
    }

    #[test]
    fn any_case_of_the_name() {
        for name in ["TOKEN", "Token", "tOkEn"] {
            let l = format!("GET /a?{name}=0123456789abcdef HTTP/1.1");
            assert_eq!(
                line(&l, &["token"]),
                format!("GET /a?{name}=0123************ HTTP/1.1")
            );
        }
        // A configured name in upper case matches a lower-case argument.
        assert_eq!(
            line("GET /a?t=abcdefgh HTTP/1.1", &["T"]),
            "GET /a?t=abcd**** HTTP/1.1"
        );
    }

    #[test]
    fn every_occurrence_and_every_name() {
        assert_eq!(
            line(
                "GET /a?token=aaaaaaaa&k=bbbbbbbb&TOKEN=cccccccc HTTP/1.1",
                &["token", "k"]
            ),
            "GET /a?token=aaaa****&k=bbbb****&TOKEN=cccc**** HTTP/1.1"
        );
    }

    #[test]
    fn short_values_are_not_shown_whole() {
        assert_eq!(
            line("GET /a?token=tk HTTP/1.1", &["token"]),
            "GET /a?token=t* HTTP/1.1"
        );
        assert_eq!(
            line("GET /a?token=good HTTP/1.1", &["token"]),
            "GET /a?token=go** HTTP/1.1"
        );
    }

    #[test]
    fn leaves_other_things_alone() {
        for l in [
            "GET /a HTTP/1.1",
            "GET /a?x=1 HTTP/1.1",
            "GET /a?mytoken=abcdefgh&tokens=abcdefgh&token HTTP/1.1",
            "GET /token=abcdefgh HTTP/1.1",
            "GET /a?x=1 HTTP/1.1?token=abcdefgh",
        ] {
            assert_eq!(line(l, &["token"]), l);
        }
    }

    #[test]
    fn a_line_cut_short_is_masked_to_its_end() {
        assert_eq!(
            line("GET /a?token=abcdefghijkl", &["token"]),
            "GET /a?token=abcd********"
        );
    }

    #[test]
    fn idempotent() {
        let mut v = b"token=abcdefghijkl".to_vec();
        assert!(mask_query(&mut v, &["token"]));
        assert!(!mask_query(&mut v, &["token"]));
        assert_eq!(v, b"token=abcd********");
    }

    #[test]
    fn arg_variables() {
        assert_eq!(arg_variable(b"$arg_t"), Some(&b"t"[..]));
        assert_eq!(arg_variable(b"${arg_key}"), Some(&b"key"[..]));
        for v in [
            "$cookie_t",
            "$arg_",
            "x$arg_t",
            "$arg_t$arg_u",
            "${arg_t",
            "$http_x",
        ] {
            assert_eq!(arg_variable(v.as_bytes()), None, "{v}");
        }
    }

    #[test]
    fn secrets_mask_tokens_passwords_and_paths() {
        let s = Secrets {
            partial: &["token"],
            full: &["password"],
            paths: true,
        };
        let mut v =
            b"GET /player_api.php?username=al&password=hunter2&token=abcdefgh HTTP/1.1".to_vec();
        assert!(s.request_line(&mut v));
        assert_eq!(
            v,
            b"GET /player_api.php?username=al&password=*******&token=abcd**** HTTP/1.1"
        );
        let mut v = b"GET /live/al/hunter2/1.m3u8 HTTP/1.1".to_vec();
        assert!(s.request_line(&mut v));
        assert_eq!(v, b"GET /live/al/*******/1.m3u8 HTTP/1.1");
        let mut v = b"/live/al/hunter2/1.ts?PASSWORD=pw".to_vec();
        assert!(s.uri(&mut v));
        assert_eq!(v, b"/live/al/*******/1.ts?PASSWORD=**");
        let mut v = b"password=x&a=1".to_vec();
        assert!(s.query(&mut v));
        assert_eq!(v, b"password=*&a=1");
        let none: Secrets<'_, &str> = Secrets {
            partial: &[],
            full: &[],
            paths: false,
        };
        assert!(none.is_empty());
        let mut v = b"GET /live/al/hunter2/1.m3u8 HTTP/1.1".to_vec();
        assert!(!none.request_line(&mut v));
    }

    #[test]
    fn uris() {
        let mut v = b"/live/s.m3u8?Token=abcdefghijkl&x=1".to_vec();
        assert!(mask_uri(&mut v, &["token"]));
        assert_eq!(v, b"/live/s.m3u8?Token=abcd********&x=1");
        let mut v = b"/token=abcdefgh".to_vec();
        assert!(!mask_uri(&mut v, &["token"]));
    }
}
