//! The login reply of `player_api.php` (no action): `user_info` and
//! `server_info`. Players build stream URLs from `server_info`'s
//! `server_protocol`, `url` and `port`, so they come from the base URL
//! nginx saw the request on.

use serde_json::{json, Value};

use super::Account;
use crate::guide::time;

/// The parts of a base URL `scheme://host[:port]`.
pub fn split_base(base: &str) -> Result<(String, String, u16), String> {
    let (scheme, rest) = base
        .split_once("://")
        .ok_or_else(|| format!("base_url {base:?} is not scheme://host[:port]"))?;
    let scheme = scheme.to_ascii_lowercase();
    let default = match scheme.as_str() {
        "http" => 80,
        "https" => 443,
        _ => return Err(format!("base_url scheme {scheme:?} is not http or https")),
    };
    let rest = rest.trim_end_matches('/');
    if rest.is_empty() || rest.contains(['/', '?', '#', '@', ' ']) {
        return Err(format!("base_url {base:?} is not scheme://host[:port]"));
    }
    // [v6]:port, host:port, or host.
    let (host, port) = match rest.rfind(':') {
        Some(at) if !rest[at..].contains(']') => {
            let port = rest[at + 1..]
                .parse::<u16>()
                .map_err(|_| format!("base_url {base:?} has a bad port"))?;
            (rest[..at].to_string(), port)
        }
        _ => (rest.to_string(), default),
    };
    Ok((scheme, host, port))
}

pub fn login(a: &Account, base_url: &str, now: i64) -> Result<Value, String> {
    let (scheme, host, port) = split_base(base_url)?;
    let https_port = if scheme == "https" { port } else { 443 };
    Ok(json!({
        "user_info": {
            "username": a.username,
            "password": a.password,
            "message": "",
            "auth": 1,
            "status": "Active",
            "exp_date": a.exp_date.map(|t| t.to_string()),
            "is_trial": "0",
            "active_cons": a.active_cons.to_string(),
            "created_at": a.created_at.unwrap_or(0).to_string(),
            // "0": no limit (the user has none).
            "max_connections": a.max_connections.unwrap_or(0).to_string(),
            "allowed_output_formats": ["m3u8", "ts"],
        },
        "server_info": {
            "url": host,
            "port": port.to_string(),
            "https_port": https_port.to_string(),
            "server_protocol": scheme,
            "rtmp_port": "0",
            "timezone": "UTC",
            "timestamp_now": now,
            "time_now": time::listing(now),
            "process": true,
        },
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn login_reply_has_the_fields_players_read() {
        let a = Account {
            username: "alice".into(),
            password: "s3cret".into(),
            exp_date: Some(1_800_000_000),
            created_at: Some(1_700_000_000),
            max_connections: Some(2),
            active_cons: 1,
        };
        let v = login(&a, "http://tv.test:8080", 1_709_294_400).unwrap();
        let u = &v["user_info"];
        assert_eq!(u["username"], "alice");
        assert_eq!(u["auth"], 1);
        assert_eq!(u["status"], "Active");
        assert_eq!(u["exp_date"], "1800000000");
        assert_eq!(u["is_trial"], "0");
        assert_eq!(u["active_cons"], "1");
        assert_eq!(u["created_at"], "1700000000");
        assert_eq!(u["max_connections"], "2");
        assert_eq!(u["allowed_output_formats"], json!(["m3u8", "ts"]));
        let s = &v["server_info"];
        assert_eq!(s["url"], "tv.test");
        assert_eq!(s["port"], "8080");
        assert_eq!(s["server_protocol"], "http");
        assert_eq!(s["timestamp_now"], 1_709_294_400);
        assert_eq!(s["time_now"], "2024-03-01 12:00:00");
        let v = login(&Account::default(), "https://[::1]", 0).unwrap();
        assert_eq!(v["user_info"]["exp_date"], Value::Null);
        assert_eq!(v["user_info"]["max_connections"], "0");
        assert_eq!(v["server_info"]["url"], "[::1]");
        assert_eq!(v["server_info"]["https_port"], "443");
        for bad in [
            "tv.test",
            "ftp://x",
            "http://",
            "http://x/path",
            "http://x:99999",
        ] {
            assert!(split_base(bad).is_err(), "{bad}");
        }
    }
}
