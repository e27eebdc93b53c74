//! `users`: add, change, show, list, enable, disable and expire user
//! records.

use serde_json::{json, Map, Value};

use super::{valid_id, Result};
use crate::accounts::sessions::LIMIT_CACHE;
use crate::accounts::{password, password_input, record};
use crate::config::{ConnLimit, UserCmd};
use crate::store::{Key, Keys, Kind, Store};
use crate::users;

pub(super) async fn users_cmd(store: &Store, cmd: &UserCmd) -> Result<()> {
    let err = |e: crate::store::StoreError| e.to_string();
    let when = |s: &str| -> Result<Value> {
        if s.eq_ignore_ascii_case("never") {
            Ok(Value::Null)
        } else {
            users::parse_time(s)
                .map(|t| json!(t))
                .ok_or_else(|| format!("{s:?} is not a time (Unix seconds, ISO 8601, or never)"))
        }
    };
    let load = |id: String| async move {
        let text = store
            .get(&Keys::user(&id))
            .await
            .map_err(err)?
            .ok_or_else(|| format!("no user {id}"))?;
        match serde_json::from_str::<Value>(&text) {
            Ok(Value::Object(m)) => Ok(m),
            _ => Err(format!("user {id}: the stored record is not a JSON object")),
        }
    };
    let save = |id: String, m: Map<String, Value>| async move {
        store
            .set(&Keys::user(&id), &Value::Object(m).to_string())
            .await
            .map_err(err)
    };
    match cmd {
        UserCmd::Add {
            id,
            expires,
            password,
            max_connections,
        } => {
            valid_id(id).map_err(|e| e.replace("channel id", "user id"))?;
            if store.get(&Keys::user(id)).await.map_err(err)?.is_some() {
                return Err(format!("user {id} exists"));
            }
            let mut m = Map::new();
            m.insert("active".into(), true.into());
            m.insert(
                "expires_at".into(),
                expires.as_deref().map_or(Ok(Value::Null), when)?,
            );
            m.insert("created_at".into(), json!(unix_now()));
            if let Some(ConnLimit(n)) = max_connections {
                m.insert("max_connections".into(), json!(n));
            }
            if password.password || password.password_file.is_some() {
                let pw = password_input::read(password.password_file.as_deref())?;
                m.insert("password_hash".into(), password::hash(&pw)?.into());
            }
            save(id.clone(), m).await?;
            println!("added user {id}");
        }
        UserCmd::Passwd {
            id,
            password_file,
            clear,
        } => {
            let mut m = load(id.clone()).await?;
            if *clear {
                m.remove("password_hash");
                save(id.clone(), m).await?;
                println!("user {id} has no password now (logins are refused)");
            } else {
                let pw = password_input::read(password_file.as_deref())?;
                m.insert("password_hash".into(), password::hash(&pw)?.into());
                save(id.clone(), m).await?;
                println!("password of user {id} set (the old one stops working at once)");
            }
        }
        UserCmd::Set {
            id,
            max_connections: ConnLimit(n),
        } => {
            let mut m = load(id.clone()).await?;
            m.insert("max_connections".into(), json!(n));
            save(id.clone(), m).await?;
            println!(
                "user {id} max connections: {} (applies within {} s)",
                n.map_or("unlimited".to_string(), |n| n.to_string()),
                LIMIT_CACHE.as_secs()
            );
        }
        UserCmd::Show { id, out } => {
            let m = load(id.clone()).await?;
            let row = user_row(id, &Value::Object(m).to_string());
            if out.json {
                println!("{}", serde_json::to_string_pretty(&row).unwrap_or_default());
            } else {
                for (k, v) in row.as_object().into_iter().flatten() {
                    let v = match v {
                        Value::String(s) => s.clone(),
                        Value::Null => "-".into(),
                        other => other.to_string(),
                    };
                    println!("{k}: {v}");
                }
            }
        }
        UserCmd::Disable { id } | UserCmd::Enable { id } => {
            let active = matches!(cmd, UserCmd::Enable { .. });
            let mut m = load(id.clone()).await?;
            m.insert("active".into(), active.into());
            save(id.clone(), m).await?;
            println!(
                "user {id} {} (workers may trust a cached grant for up to the token cache lifetime)",
                if active { "enabled" } else { "disabled" }
            );
        }
        UserCmd::Expire { id, when: w } => {
            let mut m = load(id.clone()).await?;
            m.insert("expires_at".into(), when(w)?);
            save(id.clone(), m).await?;
            println!("user {id} expires {w}");
        }
        UserCmd::List { out } => {
            let mut ids: Vec<String> = store.ids(Kind::User).await.map_err(err)?;
            ids.sort();
            let keys: Vec<Key> = ids.iter().map(|i| Keys::user(i)).collect();
            let values = store.get_many(&keys).await.map_err(err)?;
            let rows: Vec<Value> = ids
                .into_iter()
                .zip(values)
                .map(|(id, v)| user_row(&id, v.as_deref().unwrap_or("")))
                .collect();
            if out.json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&rows).unwrap_or_default()
                );
            } else {
                for r in rows {
                    println!(
                        "{}\t{}\t{}\t{}\t{}",
                        r["id"].as_str().unwrap_or(""),
                        match r["active"].as_bool() {
                            Some(true) => "active",
                            Some(false) => "disabled",
                            None => "unreadable",
                        },
                        r["expires_at"].as_str().unwrap_or("never"),
                        r["password"].as_str().unwrap_or("?"),
                        match &r["max_connections"] {
                            Value::Number(n) => format!("max {n}"),
                            Value::String(s) => s.clone(),
                            _ => "?".into(),
                        }
                    );
                }
            }
        }
    }
    Ok(())
}

/// What `users list` and `users show` print of a record: the password as
/// "set" / "not set" (never the hash), odd fields as "unreadable".
fn user_row(id: &str, text: &str) -> Value {
    let rec = users::parse_user(text).ok();
    let account = record::parse_account(text);
    let has_hash = serde_json::from_str::<Value>(text)
        .ok()
        .and_then(|v| v.get("password_hash").map(|h| !h.is_null()));
    json!({
        "id": id,
        "active": rec.as_ref().map(|r| r.active),
        "expires_at": rec.and_then(|r| r.expires_at).map(users::format_time),
        "password": match (&account, has_hash) {
            (Ok(a), _) if a.password_hash.is_some() => "set",
            (_, Some(true)) => "unreadable",
            _ => "not set",
        },
        "max_connections": match &account {
            Ok(a) => a.max_connections.map_or(json!("unlimited"), |n| json!(n)),
            Err(_) => json!("unreadable"),
        },
        "created_at": account.ok().and_then(|a| a.created_at).map(users::format_time),
    })
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
