//! The account fields of a `user:<id>` record besides `active` and
//! `expires_at` (those are `users::parse_user`): `password_hash`,
//! `max_connections`, `created_at`. Read strictly: a value nobody can
//! read with certainty refuses the user, with a reason.

use serde_json::{Map, Value};

/// What limits a user besides being active and unexpired.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Account {
    /// The argon2 PHC string, when the user has a password.
    pub password_hash: Option<String>,
    /// Simultaneous viewing sessions; `None` is unlimited.
    pub max_connections: Option<u32>,
    /// Unix seconds the user was added, when recorded.
    pub created_at: Option<i64>,
}

/// Parses the account fields of a user record (JSON text).
pub fn parse_account(json: &str) -> Result<Account, String> {
    let v: Value = serde_json::from_str(json).map_err(|e| format!("not JSON: {e}"))?;
    let obj = v.as_object().ok_or("not a JSON object")?;
    account_of(obj)
}

/// The account fields of a parsed record.
pub fn account_of(obj: &Map<String, Value>) -> Result<Account, String> {
    let password_hash = match obj.get("password_hash") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => {
            super::password::check_phc(s)?;
            Some(s.clone())
        }
        Some(_) => return Err("\"password_hash\" is not a string".into()),
    };
    Ok(Account {
        password_hash,
        max_connections: parse_max_connections(obj.get("max_connections"))?,
        created_at: match obj.get("created_at") {
            None | Some(Value::Null) => None,
            Some(Value::Number(n)) if n.is_u64() => n.as_u64().map(|s| s as i64),
            Some(other) => return Err(format!("\"created_at\" is not Unix seconds: {other}")),
        },
    })
}

/// Reads `max_connections`: missing or `null` is unlimited; a whole number
/// from 1 (JSON, or a string of digits as panels store it) is the limit.
/// 0, negative, fractional or other values are errors: the user is
/// refused rather than given a limit nobody meant.
pub fn parse_max_connections(v: Option<&Value>) -> Result<Option<u32>, String> {
    let odd = |shown: String| {
        Err(format!(
            "\"max_connections\" is {shown}, not a whole number from 1 (or null: unlimited)"
        ))
    };
    let n = match v {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Number(n)) => match n.as_u64() {
            Some(n) if !n.to_string().contains('.') => n,
            _ => return odd(n.to_string()),
        },
        Some(Value::String(s))
            if !s.is_empty() && s.len() <= 10 && s.bytes().all(|b| b.is_ascii_digit()) =>
        {
            match s.parse::<u64>() {
                Ok(n) => n,
                Err(_) => return odd(format!("{s:?}")),
            }
        }
        Some(other) => {
            let mut t = other.to_string();
            if t.len() > 40 {
                t = t.chars().take(40).collect::<String>() + "...";
            }
            return odd(t);
        }
    };
    match u32::try_from(n) {
        Ok(n) if n >= 1 => Ok(Some(n)),
        _ => odd(n.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn max(v: &str) -> Result<Option<u32>, String> {
        parse_account(&format!(r#"{{"active":true,"max_connections":{v}}}"#))
            .map(|a| a.max_connections)
    }

    #[test]
    fn max_connections_values() {
        assert_eq!(
            parse_account(r#"{"active":true}"#).unwrap(),
            Account::default()
        );
        assert_eq!(max("null"), Ok(None));
        assert_eq!(max("1"), Ok(Some(1)));
        assert_eq!(max("3"), Ok(Some(3)));
        assert_eq!(max(r#""2""#), Ok(Some(2)));
        assert_eq!(max("4294967295"), Ok(Some(u32::MAX)));
        for odd in [
            "0",
            "-1",
            "1.5",
            "1.0",
            "1e3",
            r#""""#,
            r#""two""#,
            r#""-1""#,
            r#"" 2""#,
            r#""0""#,
            "4294967296",
            "true",
            "[]",
            "{}",
            r#""99999999999""#,
        ] {
            let e = max(odd).unwrap_err();
            assert!(e.starts_with("\"max_connections\" is "), "{odd}: {e}");
        }
    }

    #[test]
    fn other_fields() {
        let a = parse_account(r#"{"created_at":1700000000,"password_hash":null}"#).unwrap();
        assert_eq!(a.created_at, Some(1_700_000_000));
        assert_eq!(a.password_hash, None);
        assert!(parse_account(r#"{"created_at":"yesterday"}"#).is_err());
        assert!(parse_account(r#"{"password_hash":5}"#).is_err());
        // A hash that is not an argon2 PHC string refuses, without echoing it.
        let e = parse_account(r#"{"password_hash":"plaintext-secret"}"#).unwrap_err();
        assert!(!e.contains("plaintext-secret"), "{e}");
    }
}
