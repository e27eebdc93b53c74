//! Data commands: `channels`, `users` and `tokens` write the documented
//! Redis keys directly (the supervisor need not run), validating what they
//! write the way the supervisor will read it.

use std::process::ExitCode;

use serde_json::{json, Map, Value};

use super::accounts::sessions::LIMIT_CACHE;
use super::accounts::{password, password_input, record};
use super::catalog::id_order;
use super::channel_record;
use super::config::{ChannelCmd, ChannelFields, Cli, Command, ConnLimit, TokenCmd, UserCmd};
use super::ffmpeg_args::Quality;
use super::m3u_import;
use super::proxy;
use super::store::{Key, Keys, Kind, Store};
use super::users;
use shared::channel_id;

type Result<T> = std::result::Result<T, String>;

pub fn run(cli: &Cli, cmd: &Command) -> ExitCode {
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("stream-supervisor: cannot start the runtime: {e}");
            return ExitCode::from(2);
        }
    };
    let result = rt.block_on(async {
        let store = Store::from_cli(cli)?;
        match cmd {
            Command::Channels { cmd } => channels(cli, &store, cmd).await,
            Command::Users { cmd } => users_cmd(&store, cmd).await,
            Command::Tokens { cmd } => tokens(&store, cmd).await,
            Command::Epg { cmd } => super::guide::command(cli, &store, cmd).await,
            Command::Nodes { cmd } => super::cluster::nodes_cmd::command(&store, cmd).await,
            _ => unreachable!("not a data command"),
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("stream-supervisor: {e}");
            ExitCode::FAILURE
        }
    }
}

fn valid_id(id: &str) -> Result<()> {
    channel_id::validate(id.as_bytes())
        .map(|_| ())
        .map_err(|e| format!("channel id {id:?}: {e}"))
}

/// Checks a record the way the supervisor reads it.
fn check_record(cli: &Cli, rec: &Value) -> Result<()> {
    let text = rec.to_string();
    let parsed = channel_record::parse(&text)?;
    parsed.sources(&cli.source_schemes.0)?;
    Quality::parse(parsed.quality.as_deref())?;
    parsed.request_options()?;
    if let channel_record::ProxyChoice::Url(u) = parsed.proxy_choice()? {
        proxy::parse(&u)?;
    }
    Ok(())
}

fn apply(rec: &mut Map<String, Value>, f: &ChannelFields) {
    let mut set = |k: &str, v: &Option<String>| {
        if let Some(v) = v {
            rec.insert(k.to_string(), Value::String(v.clone()));
        }
    };
    set("source_url", &f.source);
    set("quality", &f.quality);
    set("name", &f.name);
    set("group", &f.group);
    set("logo", &f.logo);
    set("user_agent", &f.user_agent);
    set("referer", &f.referer);
    match f.number {
        Some(0) => {
            rec.remove("number");
        }
        Some(n) => {
            rec.insert("number".into(), n.into());
        }
        None => {}
    }
    match f.guide_id.as_deref().map(str::trim) {
        Some("") => {
            rec.remove("guide_id");
        }
        Some(g) => {
            rec.insert("guide_id".into(), g.into());
        }
        None => {}
    }
    if let Some(p) = &f.proxy {
        let v = if p.eq_ignore_ascii_case("none") {
            Value::Null
        } else {
            Value::String(p.clone())
        };
        rec.insert("proxy".into(), v);
    }
}

async fn channels(cli: &Cli, store: &Store, cmd: &ChannelCmd) -> Result<()> {
    let err = |e: super::store::StoreError| e.to_string();
    match cmd {
        ChannelCmd::List { out } => {
            let mut ids: Vec<String> = store.ids(Kind::Channel).await.map_err(err)?;
            ids.sort_by(|a, b| id_order(a, b));
            let keys: Vec<Key> = ids.iter().map(|i| Keys::channel(i)).collect();
            let values = store.get_many(&keys).await.map_err(err)?;
            let mut rows = Vec::new();
            for (id, v) in ids.iter().zip(values) {
                let v: Value = v
                    .and_then(|t| serde_json::from_str(&t).ok())
                    .unwrap_or(Value::Null);
                // Shown, never whole: credentials, header and cookie values.
                rows.push((id.clone(), crate::redact::record(&v)));
            }
            if out.json {
                let list: Vec<Value> = rows
                    .into_iter()
                    .map(|(id, v)| json!({"id": id, "record": v}))
                    .collect();
                println!(
                    "{}",
                    serde_json::to_string_pretty(&list).unwrap_or_default()
                );
            } else {
                for (id, v) in rows {
                    let f = |k: &str| v.get(k).and_then(Value::as_str).unwrap_or("-").to_string();
                    println!(
                        "{id}\t{}\t{}\t{}\t{}",
                        f("name"),
                        f("group"),
                        f("quality"),
                        f("source_url")
                    );
                }
            }
            Ok(())
        }
        ChannelCmd::Add { id, fields } => {
            valid_id(id)?;
            if fields.source.is_none() {
                return Err("channels add needs --source".into());
            }
            let key = Keys::channel(id);
            if store.get(&key).await.map_err(err)?.is_some() {
                return Err(format!("channel {id} exists (use channels edit)"));
            }
            let mut rec = Map::new();
            apply(&mut rec, fields);
            let rec = Value::Object(rec);
            check_record(cli, &rec)?;
            store.set(&key, &rec.to_string()).await.map_err(err)?;
            println!("added channel {id}");
            Ok(())
        }
        ChannelCmd::Edit { id, fields } => {
            valid_id(id)?;
            let key = Keys::channel(id);
            let old = store
                .get(&key)
                .await
                .map_err(err)?
                .ok_or_else(|| format!("no channel {id}"))?;
            let mut rec = match serde_json::from_str::<Value>(&old) {
                Ok(Value::Object(m)) => m,
                _ => {
                    return Err(format!(
                        "channel {id}: the stored record is not a JSON object"
                    ))
                }
            };
            apply(&mut rec, fields);
            let rec = Value::Object(rec);
            check_record(cli, &rec)?;
            store.set(&key, &rec.to_string()).await.map_err(err)?;
            println!("changed channel {id} (a running stream uses it from its next start)");
            Ok(())
        }
        ChannelCmd::Remove { id } => {
            valid_id(id)?;
            if store.del(&Keys::channel(id)).await.map_err(err)? {
                println!("removed channel {id}");
                Ok(())
            } else {
                Err(format!("no channel {id}"))
            }
        }
        ChannelCmd::Import {
            file,
            quality,
            replace,
        } => {
            if let Some(q) = quality {
                Quality::parse(Some(q))?;
            }
            let text = std::fs::read_to_string(file)
                .map_err(|e| format!("cannot read {}: {e}", file.display()))?;
            let entries = m3u_import::parse(&text);
            // Every stored channel's source, so entries without a tvg-id
            // find their own channel and never take an unrelated one.
            let ids = store.ids(Kind::Channel).await.map_err(err)?;
            let keys: Vec<Key> = ids.iter().map(|i| Keys::channel(i)).collect();
            let values = store.get_many(&keys).await.map_err(err)?;
            let existing: std::collections::HashMap<String, String> = ids
                .into_iter()
                .zip(values)
                .map(|(id, v)| {
                    let src = v
                        .and_then(|t| serde_json::from_str::<Value>(&t).ok())
                        .and_then(|r| r.get("source_url")?.as_str().map(str::to_string))
                        .unwrap_or_default();
                    (id, src)
                })
                .collect();
            let assigned = m3u_import::assign_ids(&entries, &existing);
            let (mut pairs, mut skipped, mut kept) = (Vec::new(), 0, 0);
            for (e, assignment) in entries.iter().zip(assigned) {
                let id = match assignment {
                    m3u_import::Assignment::Duplicate(id) => {
                        eprintln!("line {}: channel id {id} appears twice; skipped", e.line);
                        skipped += 1;
                        continue;
                    }
                    m3u_import::Assignment::Id { exists: true, .. } if !replace => {
                        kept += 1;
                        continue;
                    }
                    m3u_import::Assignment::Id { id, .. } => id,
                };
                let mut rec = Map::new();
                rec.insert("source_url".into(), e.url.clone().into());
                for (k, v) in [
                    ("name", &e.name),
                    ("group", &e.group),
                    ("logo", &e.logo),
                    // The tvg-id as written: the guide is matched by it.
                    ("guide_id", &e.tvg_id),
                ] {
                    if let Some(v) = v {
                        rec.insert(k.into(), v.clone().into());
                    }
                }
                if let Some(n) = e.number {
                    rec.insert("number".into(), n.into());
                }
                if let Some(q) = quality {
                    rec.insert("quality".into(), q.clone().into());
                }
                let rec = Value::Object(rec);
                if let Err(why) = check_record(cli, &rec) {
                    eprintln!("line {}: {why}; skipped", e.line);
                    skipped += 1;
                    continue;
                }
                pairs.push((Keys::channel(&id), rec.to_string()));
            }
            store.set_many(&pairs).await.map_err(err)?;
            println!(
                "imported {} channels, kept {kept} existing, skipped {skipped}",
                pairs.len()
            );
            Ok(())
        }
    }
}

async fn users_cmd(store: &Store, cmd: &UserCmd) -> Result<()> {
    let err = |e: super::store::StoreError| e.to_string();
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

async fn tokens(store: &Store, cmd: &TokenCmd) -> Result<()> {
    let err = |e: super::store::StoreError| e.to_string();
    match cmd {
        TokenCmd::Issue { user } => {
            if store.get(&Keys::user(user)).await.map_err(err)?.is_none() {
                return Err(format!("no user {user} (add it with users add)"));
            }
            let token = super::secret::random_hex(24).map_err(|e| e.to_string())?;
            store.set(&Keys::token(&token), user).await.map_err(err)?;
            println!("{token}");
        }
        TokenCmd::Revoke { token } => {
            if store.del(&Keys::token(token)).await.map_err(err)? {
                println!(
                    "revoked (workers may trust a cached grant for up to the token cache lifetime)"
                );
            } else {
                return Err("no such token".into());
            }
        }
        TokenCmd::List { user, out } => {
            let tokens = store.ids(Kind::Token).await.map_err(err)?;
            let keys: Vec<Key> = tokens.iter().map(|t| Keys::token(t)).collect();
            let values = store.get_many(&keys).await.map_err(err)?;
            let mut mine: Vec<String> = tokens
                .into_iter()
                .zip(values)
                .filter(|(_, v)| {
                    v.as_deref().and_then(users::token_user).as_deref() == Some(user.as_str())
                })
                .map(|(t, _)| t)
                .collect();
            mine.sort();
            if out.json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&mine).unwrap_or_default()
                );
            } else {
                for t in mine {
                    println!("{t}");
                }
            }
        }
    }
    Ok(())
}
