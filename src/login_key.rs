//! Username/password viewers (`stream_autostart_login`) share the worker's
//! token cache with tokens: their verdicts are kept under a key that no
//! token can be (tokens are visible ASCII, this key starts with 0x01), so
//! a password can never be taken for a token or the other way round. The
//! key holds the password: it is never logged, never shown in a variable,
//! and never written into a playlist.

use crate::log_text::esc;
use shared::token::masked;

/// The first byte of every login key.
const LOGIN_TAG: u8 = 0x01;

/// The longest user name and password the module passes on, in bytes.
pub const MAX_LEN: usize = 256;

/// The cache key of `user` + `password`: 0x01, user, 0x00, password.
/// The user name cannot hold a NUL (checked by `check`), so the split is
/// unambiguous.
pub fn key(user: &[u8], password: &[u8]) -> Vec<u8> {
    let mut k = Vec::with_capacity(2 + user.len() + password.len());
    k.push(LOGIN_TAG);
    k.extend_from_slice(user);
    k.push(0);
    k.extend_from_slice(password);
    k
}

/// Whether a cache key (or the token a request carries) is a login key.
pub fn is_login(key: &[u8]) -> bool {
    key.first() == Some(&LOGIN_TAG)
}

/// The user of a login key.
pub fn user(key: &[u8]) -> Option<&[u8]> {
    let rest = key.strip_prefix(&[LOGIN_TAG])?;
    let nul = rest.iter().position(|&b| b == 0)?;
    Some(&rest[..nul])
}

/// Who a request's credential names, for the error log: `token abcd...(n
/// bytes)` for a token, `user "alice"` for a login (never any part of the
/// password).
pub fn describe(key: &[u8]) -> String {
    match user(key) {
        Some(u) if is_login(key) => {
            format!("user \"{}\"", esc(&String::from_utf8_lossy(u)))
        }
        _ => format!("token {}", masked(key)),
    }
}

/// Whether a decoded user name and password can be passed on: each 1 to
/// `MAX_LEN` bytes of UTF-8 without control bytes (the user name names a
/// Redis record; neither can hold what a log line or JSON would choke on).
pub fn check(user: &[u8], password: &[u8]) -> Result<(), &'static str> {
    for (what, v) in [("user name", user), ("password", password)] {
        if v.is_empty() {
            return Err(if what == "user name" {
                "empty user name"
            } else {
                "empty password"
            });
        }
        if v.len() > MAX_LEN {
            return Err(if what == "user name" {
                "user name too long"
            } else {
                "password too long"
            });
        }
        match std::str::from_utf8(v) {
            Ok(s) if !s.chars().any(char::is_control) => {}
            _ => {
                return Err(if what == "user name" {
                    "user name is not printable UTF-8"
                } else {
                    "password is not printable UTF-8"
                })
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::token::check_form;

    #[test]
    fn keys_are_never_tokens() {
        let k = key(b"alice", b"secret");
        assert!(is_login(&k));
        assert!(check_form(&k).is_err(), "a login key is no valid token");
        assert!(!is_login(b"0123456789abcdef"));
        assert!(!is_login(b""));
        assert_eq!(user(&k), Some(&b"alice"[..]));
        // Distinct pairs, distinct keys (the NUL separates them).
        assert_ne!(key(b"ab", b"c"), key(b"a", b"bc"));
    }

    #[test]
    fn describe_never_shows_the_password() {
        let k = key(b"alice", b"hunter2-secret");
        let d = describe(&k);
        assert_eq!(d, "user \"alice\"");
        assert!(!d.contains("hunter") && !d.contains("secret"));
        assert_eq!(
            describe(b"0123456789abcdef"),
            format!("token {}", masked(b"0123456789abcdef"))
        );
        // A user name cannot forge log text.
        let k = key(b"a\"\nb", b"p");
        assert!(!describe(&k).contains('\n'));
    }

    #[test]
    fn checks() {
        assert_eq!(check(b"alice", b"pw"), Ok(()));
        assert_eq!(check(b"", b"pw"), Err("empty user name"));
        assert_eq!(check(b"a", b""), Err("empty password"));
        assert_eq!(
            check(b"a\0b", b"pw"),
            Err("user name is not printable UTF-8")
        );
        assert_eq!(check(b"a", b"p\nw"), Err("password is not printable UTF-8"));
        assert_eq!(check(b"a", &[0xff]), Err("password is not printable UTF-8"));
        assert!(check(&[b'a'; 257], b"p").is_err());
        assert_eq!(check("jürgen".as_bytes(), "pässwört".as_bytes()), Ok(()));
    }
}
