//! `channels`: list, add, edit, remove and import channel records.

use serde_json::{json, Map, Value};

use super::{valid_id, Result};
use crate::catalog::id_order;
use crate::channel_record;
use crate::config::{ChannelCmd, ChannelFields, Cli};
use crate::ffmpeg_args::Quality;
use crate::m3u_import;
use crate::proxy;
use crate::store::{Key, Keys, Kind, Store};

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

pub(super) async fn channels(cli: &Cli, store: &Store, cmd: &ChannelCmd) -> Result<()> {
    let err = |e: crate::store::StoreError| e.to_string();
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
