//! The live viewing sessions (accounts::session_policy's table behind a
//! lock), the few-second cache of each user's `max_connections` the
//! `session` op reads, and the log lines of every refusal and ending.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use tracing::{debug, info};

use super::session_policy::{Key, LimitPolicy, Outcome, Table};
use shared::protocol::SessionInfo;

/// How long a user's `max_connections` is trusted before Redis is asked
/// again: a changed limit applies within this.
pub const LIMIT_CACHE: Duration = Duration::from_secs(5);

/// Most users whose limit is cached.
const MAX_CACHED_LIMITS: usize = 100_000;

/// How often every idle session is swept out.
const SWEEP_EVERY: Duration = Duration::from_secs(1);

pub struct Sessions {
    idle: Duration,
    policy: LimitPolicy,
    table: Mutex<(Table, Instant)>,
    limits: Mutex<HashMap<String, (Option<u32>, Instant)>>,
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl Sessions {
    pub fn new(idle: Duration, policy: LimitPolicy) -> Sessions {
        Sessions {
            idle,
            policy,
            table: Mutex::new((Table::default(), Instant::now())),
            limits: Mutex::new(HashMap::new()),
        }
    }

    fn table(&self) -> std::sync::MutexGuard<'_, (Table, Instant)> {
        let mut g = self.table.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        if now.saturating_duration_since(g.1) >= SWEEP_EVERY {
            g.0.expire(self.idle, now);
            g.1 = now;
        }
        g
    }

    /// The cached `max_connections` of a user: `Some(limit)` when fresh.
    pub fn cached_limit(&self, user: &str) -> Option<Option<u32>> {
        let limits = self.limits.lock().unwrap_or_else(|e| e.into_inner());
        let (limit, at) = limits.get(user)?;
        (at.elapsed() < LIMIT_CACHE).then_some(*limit)
    }

    pub fn remember_limit(&self, user: &str, limit: Option<u32>) {
        let mut limits = self.limits.lock().unwrap_or_else(|e| e.into_inner());
        if limits.len() >= MAX_CACHED_LIMITS {
            limits.retain(|_, (_, at)| at.elapsed() < LIMIT_CACHE);
            if limits.len() >= MAX_CACHED_LIMITS {
                limits.clear();
            }
        }
        limits.insert(user.to_string(), (limit, Instant::now()));
    }

    /// A viewer's request: `Err(why)` when refused (logged here).
    pub fn request(
        &self,
        user: &str,
        channel: &str,
        client: &str,
        limit: Option<u32>,
    ) -> Result<(), String> {
        let outcome = self.table().0.request(
            user,
            channel,
            client,
            limit,
            self.policy,
            self.idle,
            Instant::now(),
            unix_now(),
        );
        match outcome {
            Outcome::Refreshed => Ok(()),
            Outcome::Opened { ended } => {
                for k in ended {
                    info!(user = %k.user, channel = %k.channel, client = %k.client,
                        for_client = %client, "session ended for a newer one (connection limit)");
                }
                debug!(user = %user, channel = %channel, client = %client, "session opened");
                Ok(())
            }
            Outcome::Replaced { from } => {
                debug!(user = %user, channel = %channel, client = %client, from = %from, "session moved to another channel");
                Ok(())
            }
            Outcome::Refused(why) => {
                info!(user = %user, channel = %channel, client = %client, reason = %why, "session refused");
                Err(why)
            }
        }
    }

    /// Operator: ends sessions; returns how many (each logged).
    pub fn end(&self, user: &str, channel: Option<&str>, client: Option<&str>) -> u32 {
        let ended: Vec<Key> = self
            .table()
            .0
            .end(user, channel, client, self.idle, Instant::now());
        for k in &ended {
            info!(user = %k.user, channel = %k.channel, client = %k.client,
                "session ended by the operator");
        }
        ended.len() as u32
    }

    /// The live sessions (of one user, or all), sorted.
    pub fn list(&self, user: Option<&str>) -> Vec<SessionInfo> {
        self.table().0.list(user, self.idle, Instant::now())
    }

    /// A user's live sessions (the Xtream API's `active_cons`).
    pub fn active_cons(&self, user: &str) -> u32 {
        self.table().0.active(user, self.idle, Instant::now())
    }
}
