//! Viewer access records as the deployment stores them in Redis:
//! `token:<token>` names a user (plain id, or JSON with `user_id`/`user`),
//! `user:<id>` is JSON with `active` and `expires_at`.

use serde_json::Value;

pub use super::user_time::{format_time, parse_time};

/// Longest token the supervisor looks up.
pub const MAX_TOKEN_LEN: usize = 256;

/// Whether a token has the form of one before Redis is asked about it:
/// 1 to 256 bytes of printable ASCII (a space included: tokens arrive
/// percent-decoded). Control characters, bytes over 0x7e and longer tokens
/// are refused without a lookup.
pub fn check_token_form(token: &str) -> Result<(), String> {
    if token.is_empty() {
        return Err("empty token".into());
    }
    if token.len() > MAX_TOKEN_LEN {
        return Err(format!(
            "token longer than {MAX_TOKEN_LEN} bytes ({} bytes)",
            token.len()
        ));
    }
    match token.bytes().find(|b| !(b' '..=b'~').contains(b)) {
        Some(b) => Err(format!(
            "token has a byte that is not printable ASCII (0x{b:02x})"
        )),
        None => Ok(()),
    }
}

/// Longest user name the supervisor looks up.
pub const MAX_USER_LEN: usize = 256;

/// Whether a user name a viewer sent (login, session) has the form of one
/// before Redis is asked: 1 to 256 bytes of printable ASCII, no space.
pub fn check_user_form(user: &str) -> Result<(), String> {
    if user.is_empty() {
        return Err("empty user name".into());
    }
    if user.len() > MAX_USER_LEN {
        return Err(format!(
            "user name longer than {MAX_USER_LEN} bytes ({} bytes)",
            user.len()
        ));
    }
    match user.bytes().find(|b| !(b'!'..=b'~').contains(b)) {
        Some(b) => Err(format!(
            "user name has a byte that is not printable ASCII (0x{b:02x})"
        )),
        None => Ok(()),
    }
}

/// What a `token:<token>` value says: the user it names, and the token's
/// own `active` / `expires_at` when its JSON has them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRecord {
    pub user: String,
    /// The token's own validity (both fields optional in a token record).
    pub own: UserRecord,
}

/// Parses a `token:<token>` value: a plain user id, or JSON naming it
/// (`user_id`, `user` or `uid`: a string or a whole number). A JSON token
/// may carry its own `active` and `expires_at`; when present they are
/// judged like a user's, strictly. Anything odd is an error saying why.
pub fn parse_token(value: &str) -> Result<TokenRecord, String> {
    let v = value.trim();
    if v.is_empty() {
        return Err("the token record is empty".into());
    }
    if !v.starts_with('{') {
        if v.chars().any(|c| c.is_control() || c.is_whitespace()) {
            return Err("the token record's user id has spaces or control characters".into());
        }
        return Ok(TokenRecord {
            user: v.to_string(),
            own: UserRecord {
                active: true,
                expires_at: None,
            },
        });
    }
    let json: Value = serde_json::from_str(v).map_err(|e| format!("not JSON: {e}"))?;
    let obj = json.as_object().ok_or("not a JSON object")?;
    let user = ["user_id", "user", "uid"]
        .iter()
        .find_map(|k| match obj.get(*k)? {
            Value::String(s) if !s.is_empty() => Some(s.clone()),
            Value::Number(n) if n.is_u64() => Some(n.to_string()),
            _ => None,
        })
        .ok_or("the token record names no user (user_id)")?;
    let active = match obj.get("active") {
        None => true,
        Some(v) => parse_active(v)?,
    };
    Ok(TokenRecord {
        user,
        own: UserRecord {
            active,
            expires_at: parse_expiry(obj.get("expires_at"))?,
        },
    })
}

/// The user id a `token:<token>` value names (odd records name none).
pub fn token_user(value: &str) -> Option<String> {
    parse_token(value).ok().map(|t| t.user)
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRecord {
    /// Only an explicit active value makes this true.
    pub active: bool,
    /// Unix seconds; `None` never expires.
    pub expires_at: Option<i64>,
}

/// Values of `active` that mean active, and inactive. Anything else is an
/// error: a record nobody can read with certainty grants nothing.
const ACTIVE: &str = "true, 1, \"true\" or \"1\"";

/// Reads an `active` value strictly: `Ok(true)` only for JSON `true`, the
/// whole number `1` or the exact strings `"true"` and `"1"`; `Ok(false)`
/// for `false`, `0`, `"false"` and `"0"`; an error for anything else
/// (`"False"`, `"off"`, `0.0`, `"yes"`, `null`, ...).
pub fn parse_active(v: &Value) -> Result<bool, String> {
    match v {
        Value::Bool(b) => Ok(*b),
        Value::Number(n) if n.as_u64() == Some(1) && !n.is_f64() => Ok(true),
        Value::Number(n) if n.as_u64() == Some(0) && !n.is_f64() => Ok(false),
        Value::String(s) if s == "true" || s == "1" => Ok(true),
        Value::String(s) if s == "false" || s == "0" => Ok(false),
        other => Err(format!(
            "\"active\" is {}, not one of {ACTIVE}",
            shown(other)
        )),
    }
}

/// A JSON value for a message, cut short.
fn shown(v: &Value) -> String {
    let text = v.to_string();
    if text.chars().count() > 40 {
        text.chars().take(40).collect::<String>() + "..."
    } else {
        text
    }
}

/// The last second a record may name (9999-12-31T23:59:59Z): later is not
/// a time anyone meant.
const LAST_TIME: i64 = 253_402_300_799;

/// Reads `expires_at`: missing or `null` never expires; a number (Unix
/// seconds, or milliseconds) or a date-time string must parse, else error.
pub fn parse_expiry(v: Option<&Value>) -> Result<Option<i64>, String> {
    let t = match v {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Number(n)) => {
            let secs = n
                .as_f64()
                .filter(|s| s.is_finite())
                .ok_or_else(|| format!("\"expires_at\" is not a time: {n}"))?;
            // Milliseconds are taken for what they are.
            let secs = if secs > 1e11 { secs / 1000.0 } else { secs };
            if !(0.0..=LAST_TIME as f64).contains(&secs) {
                return Err(format!("\"expires_at\" is not a time: {n}"));
            }
            secs as i64
        }
        Some(Value::String(s)) => {
            parse_time(s).ok_or_else(|| format!("\"expires_at\" is not a time: {s:?}"))?
        }
        Some(other) => return Err(format!("\"expires_at\" is not a time: {}", shown(other))),
    };
    if !(0..=LAST_TIME).contains(&t) {
        return Err(format!("\"expires_at\" is not a time: {t}"));
    }
    Ok(Some(t))
}

/// Parses a `user:<id>` record. `active` must be present and explicit (see
/// [`parse_active`]); an `expires_at` that does not parse is an error.
pub fn parse_user(json: &str) -> Result<UserRecord, String> {
    let v: Value = serde_json::from_str(json).map_err(|e| format!("not JSON: {e}"))?;
    let obj = v.as_object().ok_or("not a JSON object")?;
    let active = match obj.get("active") {
        None => return Err(format!("no \"active\" field (one of {ACTIVE} is needed)")),
        Some(v) => parse_active(v)?,
    };
    Ok(UserRecord {
        active,
        expires_at: parse_expiry(obj.get("expires_at"))?,
    })
}

/// Whether the user may watch at `now` (Unix seconds): `Ok(Some(secs))`
/// with the time left when the user expires, `Ok(None)` when never.
/// `who` names the record in the refusal ("user alice", "token 3f9a...").
pub fn check_user(who: &str, rec: &UserRecord, now: i64) -> Result<Option<u64>, String> {
    if !rec.active {
        return Err(format!("{who} is not active"));
    }
    match rec.expires_at {
        Some(t) if t <= now => Err(format!("{who} expired at {}", format_time(t))),
        Some(t) => Ok(Some((t - now) as u64)),
        None => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_values() {
        assert_eq!(token_user("u1"), Some("u1".into()));
        assert_eq!(token_user(r#"{"user_id":"u1"}"#), Some("u1".into()));
        assert_eq!(token_user(r#"{"user_id":42}"#), Some("42".into()));
        assert_eq!(token_user(r#"{"user":"bob"}"#), Some("bob".into()));
        assert_eq!(token_user(r#"{"nothing":1}"#), None);
        assert_eq!(token_user(""), None);
        assert_eq!(token_user("{broken"), None);
    }

    #[test]
    fn user_records() {
        let r = parse_user(r#"{"active":true,"expires_at":null}"#).unwrap();
        assert_eq!(
            r,
            UserRecord {
                active: true,
                expires_at: None
            }
        );
        assert!(!parse_user(r#"{"active":false}"#).unwrap().active);
        // No "active" at all is not active.
        assert!(parse_user(r#"{"name":"x"}"#)
            .unwrap_err()
            .contains("no \"active\""));
        assert_eq!(
            parse_user(r#"{"active":true,"expires_at":1700000000}"#)
                .unwrap()
                .expires_at,
            Some(1_700_000_000)
        );
        assert_eq!(
            parse_user(r#"{"active":true,"expires_at":1700000000000}"#)
                .unwrap()
                .expires_at,
            Some(1_700_000_000)
        );
        assert_eq!(
            parse_user(r#"{"active":true,"expires_at":"2023-11-14T22:13:20Z"}"#)
                .unwrap()
                .expires_at,
            Some(1_700_000_000)
        );
        assert!(parse_user("nope").is_err());
        assert!(parse_user(r#"{"active":true,"expires_at":"soon"}"#)
            .unwrap_err()
            .contains("soon"));
    }

    /// Only an explicit active value counts; anything odd is refused with
    /// a reason that names the value.
    #[test]
    fn active_values() {
        for yes in ["true", "1", r#""true""#, r#""1""#] {
            let rec = format!(r#"{{"active":{yes}}}"#);
            assert!(parse_user(&rec).unwrap().active, "{yes}");
        }
        for no in ["false", "0", r#""false""#, r#""0""#] {
            let rec = format!(r#"{{"active":{no}}}"#);
            assert!(!parse_user(&rec).unwrap().active, "{no}");
        }
        for odd in [
            r#""False""#,
            r#""FALSE""#,
            r#""True""#,
            r#""TRUE""#,
            r#""off""#,
            r#""on""#,
            r#""no""#,
            r#""yes""#,
            r#""n""#,
            r#""y""#,
            r#""""#,
            r#"" true""#,
            r#""true ""#,
            r#""1.0""#,
            r#""01""#,
            r#""disabled""#,
            "0.0",
            "1.0",
            "-0",
            "0.5",
            "2",
            "-1",
            "1e0",
            "null",
            "[]",
            "[true]",
            "{}",
            r#"{"value":true}"#,
        ] {
            let rec = format!(r#"{{"active":{odd}}}"#);
            let err = parse_user(&rec).unwrap_err();
            assert!(err.starts_with("\"active\" is "), "{odd}: {err}");
            assert!(err.contains("not one of"), "{odd}: {err}");
        }
        // A long odd value is cut short in the message.
        let rec = format!(r#"{{"active":"{}"}}"#, "x".repeat(500));
        assert!(parse_user(&rec).unwrap_err().len() < 120);
    }

    #[test]
    fn expiry_values() {
        let exp = |v: &str| parse_user(&format!(r#"{{"active":true,"expires_at":{v}}}"#));
        assert_eq!(exp("null").unwrap().expires_at, None);
        assert_eq!(exp("1700000000.5").unwrap().expires_at, Some(1_700_000_000));
        assert_eq!(
            exp(r#""1700000000""#).unwrap().expires_at,
            Some(1_700_000_000)
        );
        assert_eq!(exp("0").unwrap().expires_at, Some(0));
        for odd in [
            r#""""#,
            r#""never""#,
            r#""soon""#,
            r#""2023-13-01""#,
            r#""31/12/2030""#,
            r#""2030-01-01T00:00:00 UTC""#,
            "-1",
            "1e300",
            "-1e300",
            r#""99999999999999999999""#,
            r#""10000-01-01""#,
            "true",
            "false",
            "[]",
            "{}",
        ] {
            let err = exp(odd).unwrap_err();
            assert!(err.contains("\"expires_at\" is not a time"), "{odd}: {err}");
        }
    }

    #[test]
    fn token_forms() {
        for ok in [
            "tk",
            "good",
            "3f9a0c1d",
            "a-b_c.d~e",
            "QUJD+/==",
            "a+b/c d",
            &"x".repeat(256),
        ] {
            assert_eq!(check_token_form(ok), Ok(()), "{ok}");
        }
        for bad in [
            "",
            &"x".repeat(257),
            "a\nb",
            "a\rb",
            "a\tb",
            "ä",
            "a\0",
            "a\u{7f}",
        ] {
            assert!(check_token_form(bad).is_err(), "{bad:?}");
        }
        // The refusal never repeats the token.
        assert!(!check_token_form("secret\nsecret")
            .unwrap_err()
            .contains("secret"));
    }

    #[test]
    fn user_forms() {
        for ok in ["alice", "u1", "a.b@c", &"x".repeat(256)] {
            assert_eq!(check_user_form(ok), Ok(()), "{ok}");
        }
        for bad in ["", &"x".repeat(257), "a b", "a\nb", "ä", "a\0"] {
            assert!(check_user_form(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn token_records() {
        let t = parse_token(r#"{"user_id":"u1","active":true,"expires_at":1700000000}"#).unwrap();
        assert_eq!(t.user, "u1");
        assert_eq!(t.own.expires_at, Some(1_700_000_000));
        assert!(
            !parse_token(r#"{"user_id":"u1","active":0}"#)
                .unwrap()
                .own
                .active
        );
        assert!(parse_token(r#"{"user_id":"u1","active":"off"}"#)
            .unwrap_err()
            .contains("\"off\""));
        assert!(parse_token(r#"{"user_id":"u1","expires_at":"later"}"#).is_err());
        assert!(parse_token(r#"{"user_id":4.5}"#).is_err());
        assert!(parse_token(r#"{"user_id":-4}"#).is_err());
        assert!(parse_token(r#"{"user_id":""}"#).is_err());
        assert!(parse_token("u1 u2").is_err());
        assert!(parse_token("u1\u{7}").is_err());
        assert!(parse_token("[1]").is_ok_and(|t| t.user == "[1]"));
        assert!(parse_token("{broken").is_err());
    }

    #[test]
    fn checks() {
        let now = 1_700_000_000;
        let ok = UserRecord {
            active: true,
            expires_at: Some(now + 60),
        };
        assert_eq!(check_user("user u", &ok, now), Ok(Some(60)));
        let never = UserRecord {
            active: true,
            expires_at: None,
        };
        assert_eq!(check_user("user u", &never, now), Ok(None));
        let off = UserRecord {
            active: false,
            expires_at: None,
        };
        assert_eq!(
            check_user("user u", &off, now),
            Err("user u is not active".into())
        );
        let old = UserRecord {
            active: true,
            expires_at: Some(now - 1),
        };
        assert_eq!(
            check_user("user u", &old, now),
            Err("user u expired at 2023-11-14T22:13:19Z".into())
        );
    }
}
