//! Redis access: channel records, viewer tokens, and the stream keys
//! operators watch (`stream:<id>:pid`, `stream:<id>:started`). Key names
//! come from `keys`; the configured prefix is added here, in `key`.

mod cluster;
mod conn;
mod epg;
mod keys;
mod login;
mod sentinel;
mod target;

use tokio::sync::{Mutex, Semaphore};
use tracing::warn;

use super::accounts::login_cache::LoginCache;
use super::accounts::record;
use super::users;
pub use cluster::Acquired;
use conn::{Req, Slot};
pub use keys::{Key, Keys, Kind};
pub use login::UserView;
use shared::token::masked;
pub use target::{parse_sentinels, SentinelAddrs, Target};

pub struct Store {
    target: Target,
    conn: Mutex<Slot>,
    /// The last master the sentinels named (to log a switch).
    master_seen: std::sync::Mutex<Option<String>>,
    prefix: String,
    /// Recent password verifications (accounts::login_cache).
    logins: LoginCache,
    /// Password verifications running at once (see `login`).
    verifying: std::sync::Arc<Semaphore>,
}

/// A failed Redis call, worded for replies and logs.
#[derive(Debug, Clone)]
pub struct StoreError(pub String);

impl std::fmt::Display for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthResult {
    Granted {
        user: String,
        ttl_secs: Option<u64>,
        /// The user's simultaneous-session limit; `None` is unlimited.
        max_connections: Option<u32>,
    },
    Denied(String),
}

impl Store {
    /// A store on the single Redis at `url` (nothing connects yet).
    pub fn new(url: &str, prefix: &str) -> Result<Store, String> {
        Store::with_target(Target::url(url)?, prefix)
    }

    /// The store the command line names: --redis-url, or the sentinels.
    pub fn from_cli(cli: &crate::config::Cli) -> Result<Store, String> {
        Store::with_target(Target::from_cli(cli)?, &cli.key_prefix)
    }

    pub fn with_target(target: Target, prefix: &str) -> Result<Store, String> {
        Ok(Store {
            target,
            conn: Mutex::new(Slot::default()),
            master_seen: std::sync::Mutex::new(None),
            prefix: prefix.to_string(),
            logins: LoginCache::new()?,
            verifying: std::sync::Arc::new(Semaphore::new(login::verify_slots())),
        })
    }

    /// The name Redis knows `k` by: with the prefix.
    fn key(&self, k: &Key) -> String {
        format!("{}{}", self.prefix, k.as_str())
    }

    /// `k` with the prefix, for messages: a token in it is masked.
    pub fn shown(&self, k: &Key) -> String {
        format!("{}{k}", self.prefix)
    }

    pub async fn get(&self, key: &Key) -> Result<Option<String>, StoreError> {
        self.query(Req::Cmd(redis::cmd("GET").arg(self.key(key))), &|| {
            format!("Redis GET {}", self.shown(key))
        })
        .await
    }

    /// Judges a viewer token: its form, its record, its user's record.
    /// Only records that say plainly that they are active and unexpired
    /// grant; an odd one refuses, logged with its key.
    pub async fn authorize(&self, token: &str) -> Result<AuthResult, StoreError> {
        // A malformed token costs no Redis round trip.
        if let Err(why) = users::check_token_form(token) {
            return Ok(AuthResult::Denied(why));
        }
        let token_key = Keys::token(token);
        let Some(value) = self.get(&token_key).await? else {
            return Ok(AuthResult::Denied(format!(
                "unknown token {}",
                masked(token.as_bytes())
            )));
        };
        let odd = |key: &Key, e: String| {
            let key = self.shown(key);
            warn!(record = %key, error = %e, "unreadable record: its tokens are refused");
            AuthResult::Denied(format!("record {key} refused: {e}"))
        };
        let tok = match users::parse_token(&value) {
            Ok(t) => t,
            Err(e) => return Ok(odd(&token_key, e)),
        };
        let user_key = Keys::user(&tok.user);
        let Some(record) = self.get(&user_key).await? else {
            return Ok(AuthResult::Denied(format!(
                "user {} does not exist",
                tok.user
            )));
        };
        let (record, max_connections) = match users::parse_user(&record).and_then(|r| {
            let obj: serde_json::Value =
                serde_json::from_str(&record).map_err(|e| e.to_string())?;
            Ok((
                r,
                record::parse_max_connections(obj.get("max_connections"))?,
            ))
        }) {
            Ok(r) => r,
            Err(e) => return Ok(odd(&user_key, e)),
        };
        let now = unix_now();
        let token_name = format!("token {}", masked(token.as_bytes()));
        let verdict = users::check_user(&token_name, &tok.own, now).and_then(|token_ttl| {
            let user_ttl = users::check_user(&format!("user {}", tok.user), &record, now)?;
            Ok(match (token_ttl, user_ttl) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            })
        });
        Ok(match verdict {
            Ok(ttl_secs) => AuthResult::Granted {
                user: tok.user,
                ttl_secs,
                max_connections,
            },
            Err(why) => AuthResult::Denied(why),
        })
    }

    pub async fn set_stream_keys(
        &self,
        channel: &str,
        pid: u32,
        started: u64,
    ) -> Result<(), StoreError> {
        let (kp, ks) = (
            self.key(&Keys::stream_pid(channel)),
            self.key(&Keys::stream_started(channel)),
        );
        self.query(
            Req::Pipe(redis::pipe().set(&kp, pid).set(&ks, started)),
            &|| format!("Redis SET {kp}"),
        )
        .await
    }

    /// The ids in every key of a kind (SCAN, never KEYS).
    pub async fn ids(&self, kind: Kind) -> Result<Vec<String>, StoreError> {
        let full = scan_pattern(&self.prefix, kind);
        let mut pages = ScanPages::default();
        let mut cursor: u64 = 0;
        loop {
            let ran = self
                .run::<(u64, Vec<String>)>(
                    Req::Cmd(
                        redis::cmd("SCAN")
                            .arg(cursor)
                            .arg("MATCH")
                            .arg(&full)
                            .arg("COUNT")
                            .arg(1000),
                    ),
                    &|| format!("Redis SCAN {full}"),
                )
                .await?;
            let (next, batch) = ran.value;
            let ids = batch.iter().filter_map(|k| {
                let name = k.strip_prefix(&self.prefix)?;
                kind.id_of(name).map(str::to_string)
            });
            cursor = match pages.page(ran.generation, ids, next) {
                Page::Next(c) => c,
                Page::Done => break,
                Page::Restart if pages.restarts <= SCAN_RESTARTS => {
                    warn!(pattern = %full, "Redis connection changed during a SCAN: starting it again");
                    0
                }
                Page::Restart => {
                    return Err(StoreError(format!(
                        "Redis SCAN {full}: the connection changed {} times during it",
                        pages.restarts
                    )))
                }
            };
        }
        Ok(pages.ids)
    }

    /// Values of many keys, in batches (a few round trips, not one per key).
    pub async fn get_many(&self, keys: &[Key]) -> Result<Vec<Option<String>>, StoreError> {
        let mut out = Vec::with_capacity(keys.len());
        for chunk in keys.chunks(500) {
            let full: Vec<String> = chunk.iter().map(|k| self.key(k)).collect();
            let vals: Vec<Option<String>> = self
                .query(Req::Cmd(redis::cmd("MGET").arg(&full)), &|| {
                    "Redis MGET".to_string()
                })
                .await?;
            out.extend(vals);
        }
        Ok(out)
    }

    pub async fn set(&self, key: &Key, value: &str) -> Result<(), StoreError> {
        self.query(
            Req::Cmd(redis::cmd("SET").arg(self.key(key)).arg(value)),
            &|| format!("Redis SET {}", self.shown(key)),
        )
        .await
    }

    /// Sets many keys, in batches of MSET.
    pub async fn set_many(&self, pairs: &[(Key, String)]) -> Result<(), StoreError> {
        for chunk in pairs.chunks(500) {
            let mut cmd = redis::cmd("MSET");
            for (k, v) in chunk {
                cmd.arg(self.key(k)).arg(v);
            }
            self.query::<()>(Req::Cmd(&cmd), &|| "Redis MSET".to_string())
                .await?;
        }
        Ok(())
    }

    /// Whether `key` was there and is gone now.
    pub async fn del(&self, key: &Key) -> Result<bool, StoreError> {
        self.run::<i64>(Req::Cmd(redis::cmd("DEL").arg(self.key(key))), &|| {
            format!("Redis DEL {}", self.shown(key))
        })
        .await
        .map(|r| deleted(r.value, r.maybe_ran_before))
    }

    /// Every `stream:<id>:pid` key: (channel, recorded pid if it parses).
    pub async fn stream_pids(&self) -> Result<Vec<(String, Option<u32>)>, StoreError> {
        let channels = self.ids(Kind::StreamPid).await?;
        let keys: Vec<Key> = channels.iter().map(|c| Keys::stream_pid(c)).collect();
        let values = self.get_many(&keys).await?;
        Ok(channels
            .into_iter()
            .zip(values)
            .map(|(channel, pid)| (channel, pid.and_then(|p| p.trim().parse().ok())))
            .collect())
    }

    pub async fn clear_stream_keys(&self, channel: &str) -> Result<(), StoreError> {
        let keys = [
            self.key(&Keys::stream_pid(channel)),
            self.key(&Keys::stream_started(channel)),
        ];
        self.query(Req::Cmd(redis::cmd("DEL").arg(&keys[..])), &|| {
            format!("Redis DEL {}", keys[0])
        })
        .await
    }
}

/// How many times a SCAN starts again before it gives up.
const SCAN_RESTARTS: u32 = 3;

/// What to do after a SCAN page.
#[derive(Debug, PartialEq, Eq)]
enum Page {
    Next(u64),
    Done,
    /// The page came on another connection than the one before (a
    /// failover in between): the cursor was the old master's, so the scan
    /// starts again from 0 on the new one.
    Restart,
}

/// The ids a SCAN has found so far, each once (a restarted scan, and SCAN
/// itself, may return a key twice).
#[derive(Default)]
struct ScanPages {
    generation: Option<u64>,
    seen: std::collections::HashSet<String>,
    ids: Vec<String>,
    restarts: u32,
}

impl ScanPages {
    fn page(&mut self, generation: u64, ids: impl Iterator<Item = String>, next: u64) -> Page {
        // The page's keys are on the server that answered, whatever the
        // cursor meant there: they count.
        for id in ids {
            if self.seen.insert(id.clone()) {
                self.ids.push(id);
            }
        }
        let moved = self.generation.is_some_and(|g| g != generation);
        self.generation = Some(generation);
        if moved {
            self.restarts += 1;
            Page::Restart
        } else if next == 0 {
            Page::Done
        } else {
            Page::Next(next)
        }
    }
}

/// One Redis round trip, timed into the metrics (an error counts too).
async fn timed<T>(
    call: impl std::future::Future<Output = redis::RedisResult<T>>,
) -> redis::RedisResult<T> {
    let begun = std::time::Instant::now();
    let r = call.await;
    crate::metrics::redis_call(Some(begun.elapsed()), r.is_ok());
    r
}

/// Whether a DEL removed its key: it counted one, or it found none on a
/// second try after a first that may have run (and removed it); a token
/// revoke must not answer "no such token" for a token it revoked.
fn deleted(count: i64, maybe_ran_before: bool) -> bool {
    count > 0 || maybe_ran_before
}

/// Unix seconds now.
fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// SCAN's MATCH pattern for every key of `kind` under `prefix`.
fn scan_pattern(prefix: &str, kind: Kind) -> String {
    format!("{}{}", escape_glob(prefix), kind.pattern())
}

/// Escapes glob metacharacters so a key prefix matches only itself.
fn escape_glob(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        if matches!(ch, '*' | '?' | '[' | ']' | '\\') {
            out.push('\\');
        }
        out.push(ch);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_are_matched_literally() {
        assert_eq!(escape_glob("tv:"), "tv:");
        assert_eq!(escape_glob("a*b?[c]\\"), "a\\*b\\?\\[c\\]\\\\");
        assert_eq!(scan_pattern("", Kind::Channel), "channel:*");
        assert_eq!(scan_pattern("tv*:", Kind::StreamPid), "tv\\*:stream:*:pid");
    }

    #[test]
    fn a_scan_restarts_after_a_reconnect_and_keeps_each_id_once() {
        let ids = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let mut p = ScanPages::default();
        assert_eq!(p.page(7, ids(&["a", "b"]).into_iter(), 12), Page::Next(12));
        assert_eq!(p.page(7, ids(&["b", "c"]).into_iter(), 30), Page::Next(30));
        // A failover: the next page came from connection 8.
        assert_eq!(p.page(8, ids(&["d"]).into_iter(), 5), Page::Restart);
        assert_eq!(p.restarts, 1);
        assert_eq!(p.page(8, ids(&["a", "b"]).into_iter(), 9), Page::Next(9));
        assert_eq!(p.page(8, ids(&["c", "d"]).into_iter(), 0), Page::Done);
        assert_eq!(p.ids, ["a", "b", "c", "d"]);
        // Even the last page (cursor 0) restarts when it came elsewhere.
        let mut p = ScanPages::default();
        assert_eq!(p.page(1, ids(&[]).into_iter(), 4), Page::Next(4));
        assert_eq!(p.page(2, ids(&[]).into_iter(), 0), Page::Restart);
    }

    #[test]
    fn a_retried_del_that_finds_nothing_counts_as_done() {
        assert!(deleted(1, false));
        assert!(deleted(1, true));
        assert!(!deleted(0, false));
        assert!(deleted(0, true));
    }

    /// Every key goes to Redis under the configured prefix (Store::new
    /// only parses the URL; nothing connects).
    #[test]
    fn keys_are_sent_with_the_prefix() {
        let plain = Store::new("redis://127.0.0.1:6379/", "").unwrap();
        assert_eq!(plain.key(&Keys::channel("7")), "channel:7");
        let tv = Store::new("redis://127.0.0.1:6379/", "tv:").unwrap();
        assert_eq!(tv.key(&Keys::channel("7")), "tv:channel:7");
        assert_eq!(tv.key(&Keys::user("alice")), "tv:user:alice");
        assert_eq!(tv.key(&Keys::token("3f9a")), "tv:token:3f9a");
        assert_eq!(tv.key(&Keys::stream_pid("7")), "tv:stream:7:pid");
        assert_eq!(tv.key(&Keys::stream_started("7")), "tv:stream:7:started");
        // Messages name the same key, a token masked.
        assert_eq!(tv.shown(&Keys::channel("7")), "tv:channel:7");
        assert_eq!(
            tv.shown(&Keys::token("3f9a0c1d")),
            "tv:token:3f9a...(8 bytes)"
        );
    }
}
