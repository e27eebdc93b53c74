//! User and token records from Redis (`stream_supervisor::users::token_user`,
//! `parse_token`, `parse_user`, `parse_active`, `parse_expiry`,
//! `check_user`, `check_token_form`; `user_time::parse_time`,
//! `format_time`). Auth fails closed: a record `check_user` lets in is
//! active and not expired, and `active` counts only when explicit; a time
//! written by `format_time` reads back the same.

use serde_json::Value;
use stream_supervisor::user_time::{format_time, parse_time};
use stream_supervisor::users::{
    check_token_form, check_user, parse_active, parse_expiry, parse_token, parse_user, token_user,
};

const NOW: i64 = 1_790_000_000;

pub fn run(data: &[u8]) {
    let text = super::text(data);
    if let Some(user) = token_user(&text) {
        assert!(!user.is_empty());
    }
    if let Ok(tok) = parse_token(&text) {
        assert!(!tok.user.is_empty());
        check(&tok.own);
    }
    if let Ok(rec) = parse_user(&text) {
        check(&rec);
    }
    if let Ok(v) = serde_json::from_str::<Value>(&text) {
        if parse_active(&v) == Ok(true) {
            let explicit = [
                Value::Bool(true),
                Value::from(1u8),
                Value::from("true"),
                Value::from("1"),
            ];
            assert!(explicit.contains(&v), "{v} counts as active");
        }
        if let Ok(Some(t)) = parse_expiry(Some(&v)) {
            let _ = format_time(t);
        }
    }
    if check_token_form(&text).is_ok() {
        assert!(!text.is_empty() && text.bytes().all(|b| (b' '..=b'~').contains(&b)));
    }
    if let Some(t) = parse_time(&text) {
        let _ = format_time(t);
    }
    // Any instant of years 0000-9999 round-trips through its text.
    if let Some(bytes) = data.get(..8) {
        let raw = i64::from_le_bytes(bytes.try_into().unwrap_or_default());
        let t = raw.rem_euclid(253_402_300_800 + 62_167_219_200) - 62_167_219_200;
        let shown = format_time(t);
        assert_eq!(parse_time(&shown), Some(t), "{shown}");
    }
}

fn check(rec: &stream_supervisor::users::UserRecord) {
    match check_user("u", rec, NOW) {
        Ok(left) => {
            assert!(rec.active, "inactive user let in");
            match (rec.expires_at, left) {
                (Some(t), Some(secs)) => assert!(t > NOW && secs == (t - NOW) as u64),
                (None, None) => {}
                other => panic!("expiry and time left disagree: {other:?}"),
            }
        }
        Err(why) => assert!(!why.is_empty()),
    }
}
