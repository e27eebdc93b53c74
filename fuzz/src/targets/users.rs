//! User and token records from Redis (`stream_supervisor::users::token_user`,
//! `parse_user`, `check_user`, `parse_time`, `format_time`). A record
//! `check_user` lets in is active and not expired; a time written by
//! `format_time` reads back the same.

use stream_supervisor::users::{check_user, format_time, parse_time, parse_user, token_user};

const NOW: i64 = 1_790_000_000;

pub fn run(data: &[u8]) {
    let text = super::text(data);
    if let Some(user) = token_user(&text) {
        assert!(!user.is_empty());
    }
    if let Ok(rec) = parse_user(&text) {
        match check_user("u", &rec, NOW) {
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
