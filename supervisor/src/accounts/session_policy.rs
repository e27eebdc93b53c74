//! The viewing-session rules, as a pure table (time is passed in), so
//! each rule has a unit test:
//!
//! - a session is (user, channel, client); it lives while requests come,
//!   and ends after `idle` without one;
//! - a request from a client that has a live session of the same user on
//!   another channel replaces it (zapping is not a second connection);
//! - a new session beyond the user's `max_connections` is refused
//!   (`refuse-new`), or the session that started first is ended to make
//!   room (`end-oldest`);
//! - an ended session's client is remembered: its requests are refused
//!   with the reason, and each refusal keeps the memory for another
//!   `idle` (a player retrying every few seconds stays out, rather than
//!   ending the newer session in turn). A client ended for a newer one is
//!   let back in once the user has room again; one ended by an operator
//!   only once it has been quiet for `idle`.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use shared::protocol::SessionInfo;

/// What to do with a new session beyond the user's limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LimitPolicy {
    #[default]
    RefuseNew,
    EndOldest,
}

impl LimitPolicy {
    pub fn parse(s: &str) -> Result<LimitPolicy, String> {
        match s {
            "refuse-new" => Ok(LimitPolicy::RefuseNew),
            "end-oldest" => Ok(LimitPolicy::EndOldest),
            _ => Err(format!("\"{s}\" is not refuse-new or end-oldest")),
        }
    }
}

/// Most sessions (and ended marks) kept at once: past it new sessions are
/// refused, so a flood of made-up client keys cannot grow memory.
pub const MAX_SESSIONS: usize = 100_000;

/// Most live sessions of one unlimited user: beyond it the one seen
/// longest ago is dropped (an unlimited user is never refused). Without
/// it one account inventing client keys could fill the table and lock
/// every limited user out.
pub const MAX_UNLIMITED_SESSIONS: usize = 1024;

/// Why a session was ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndReason {
    Newer,
    Operator,
}

#[derive(Debug, Clone)]
struct Live {
    channel: String,
    started: u64,
    last_seen: Instant,
}

#[derive(Debug, Clone)]
struct Ended {
    why: EndReason,
    last_seen: Instant,
}

/// A session as logged and listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Key {
    pub user: String,
    pub channel: String,
    pub client: String,
}

/// The answer to a session request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// A live session got a request.
    Refreshed,
    /// A new session; `ended` lists sessions ended to make room.
    Opened { ended: Vec<Key> },
    /// The client's session moved from `from` to this channel.
    Replaced { from: String },
    /// Refused: the message says why.
    Refused(String),
}

/// Every live session and ended mark, by user then client.
#[derive(Debug, Default)]
pub struct Table {
    live: HashMap<String, BTreeMap<String, Live>>,
    ended: HashMap<String, BTreeMap<String, Ended>>,
    count: usize,
}

fn refusal(user: &str, why: EndReason) -> String {
    match why {
        EndReason::Newer => {
            format!("connection limit reached: session of user {user} ended for a newer one")
        }
        EndReason::Operator => {
            format!("connection limit reached: session of user {user} ended by the operator")
        }
    }
}

impl Table {
    /// Drops a user's sessions and marks idle for `idle`.
    fn expire_user(&mut self, user: &str, idle: Duration, now: Instant) {
        let fresh = |t: Instant| now.saturating_duration_since(t) < idle;
        if let Some(m) = self.live.get_mut(user) {
            let before = m.len();
            m.retain(|_, s| fresh(s.last_seen));
            self.count -= before - m.len();
            if m.is_empty() {
                self.live.remove(user);
            }
        }
        if let Some(m) = self.ended.get_mut(user) {
            let before = m.len();
            m.retain(|_, e| fresh(e.last_seen));
            self.count -= before - m.len();
            if m.is_empty() {
                self.ended.remove(user);
            }
        }
    }

    /// Drops every idle session and mark.
    pub fn expire(&mut self, idle: Duration, now: Instant) {
        let users: Vec<String> = self.live.keys().chain(self.ended.keys()).cloned().collect();
        for u in users {
            self.expire_user(&u, idle, now);
        }
    }

    /// A request of `user` for `channel` from `client`.
    #[allow(clippy::too_many_arguments)]
    pub fn request(
        &mut self,
        user: &str,
        channel: &str,
        client: &str,
        limit: Option<u32>,
        policy: LimitPolicy,
        idle: Duration,
        now: Instant,
        unix_now: u64,
    ) -> Outcome {
        let fresh = |t: Instant| now.saturating_duration_since(t) < idle;
        // Counting needs the user's idle sessions gone; an unlimited user
        // (who may have many) is left to the periodic `expire`, so a
        // request costs O(log n) there.
        if limit.is_some() {
            self.expire_user(user, idle, now);
        }
        let live_count = self.live.get(user).map_or(0, BTreeMap::len);
        let room = limit.is_none_or(|n| live_count < n as usize);
        let mark = self.ended.get_mut(user).and_then(|m| m.get_mut(client));
        if let Some(e) = mark {
            if fresh(e.last_seen) && (e.why == EndReason::Operator || !room) {
                e.last_seen = now;
                return Outcome::Refused(refusal(user, e.why));
            }
            // Ended for a newer one and there is room again, or quiet for
            // the idle time: forgotten.
            self.ended.get_mut(user).map(|m| m.remove(client));
            self.count -= 1;
        }
        if let Some(s) = self.live.get(user).and_then(|m| m.get(client)) {
            if !fresh(s.last_seen) {
                self.live.get_mut(user).map(|m| m.remove(client));
                self.count -= 1;
            }
        }
        if let Some(s) = self.live.get_mut(user).and_then(|m| m.get_mut(client)) {
            s.last_seen = now;
            if s.channel == channel {
                return Outcome::Refreshed;
            }
            let from = std::mem::replace(&mut s.channel, channel.to_string());
            s.started = unix_now;
            return Outcome::Replaced { from };
        }
        // Checked before anything is ended: a refusal must cost the user
        // nothing.
        if self.count >= MAX_SESSIONS {
            return Outcome::Refused(format!(
                "connection limit reached: the supervisor tracks at most {MAX_SESSIONS} sessions"
            ));
        }
        if limit.is_none() && live_count >= MAX_UNLIMITED_SESSIONS {
            self.drop_least_recent(user);
        }
        let mut ended = Vec::new();
        if !room {
            let n = limit.unwrap_or(u32::MAX);
            if policy == LimitPolicy::RefuseNew || n == 0 {
                return Outcome::Refused(format!(
                    "connection limit reached: user {user} allows {n} (has {live_count})"
                ));
            }
            // End the sessions that started first until there is room.
            loop {
                let m = self.live.entry(user.to_string()).or_default();
                if m.len() < n as usize {
                    break;
                }
                let Some(oldest) = m
                    .iter()
                    .min_by_key(|(c, s)| (s.started, s.last_seen, (*c).clone()))
                    .map(|(c, _)| c.clone())
                else {
                    break;
                };
                let Some(s) = m.remove(&oldest) else { break };
                self.count -= 1;
                ended.push(Key {
                    user: user.to_string(),
                    channel: s.channel,
                    client: oldest.clone(),
                });
                self.mark(user, &oldest, EndReason::Newer, now);
            }
        }
        self.live.entry(user.to_string()).or_default().insert(
            client.to_string(),
            Live {
                channel: channel.to_string(),
                started: unix_now,
                last_seen: now,
            },
        );
        self.count += 1;
        Outcome::Opened { ended }
    }

    /// Forgets `user`'s session seen longest ago (no mark: nothing is
    /// refused for it).
    fn drop_least_recent(&mut self, user: &str) {
        let Some(m) = self.live.get_mut(user) else {
            return;
        };
        let Some(client) = m
            .iter()
            .min_by_key(|(c, s)| (s.last_seen, (*c).clone()))
            .map(|(c, _)| c.clone())
        else {
            return;
        };
        m.remove(&client);
        self.count -= 1;
    }

    fn mark(&mut self, user: &str, client: &str, why: EndReason, now: Instant) {
        let m = self.ended.entry(user.to_string()).or_default();
        let e = Ended {
            why,
            last_seen: now,
        };
        if m.insert(client.to_string(), e).is_none() {
            self.count += 1;
        }
    }

    /// Operator: ends a user's live sessions (those on `channel` and/or
    /// from `client` when given); returns them.
    pub fn end(
        &mut self,
        user: &str,
        channel: Option<&str>,
        client: Option<&str>,
        idle: Duration,
        now: Instant,
    ) -> Vec<Key> {
        self.expire_user(user, idle, now);
        let Some(m) = self.live.get_mut(user) else {
            return Vec::new();
        };
        let chosen: Vec<String> = m
            .iter()
            .filter(|(c, s)| {
                channel.is_none_or(|ch| s.channel == ch) && client.is_none_or(|k| *c == k)
            })
            .map(|(c, _)| c.clone())
            .collect();
        let mut out = Vec::new();
        for c in chosen {
            if let Some(s) = self.live.get_mut(user).and_then(|m| m.remove(&c)) {
                self.count -= 1;
                out.push(Key {
                    user: user.to_string(),
                    channel: s.channel,
                    client: c.clone(),
                });
                self.mark(user, &c, EndReason::Operator, now);
            }
        }
        if self.live.get(user).is_some_and(BTreeMap::is_empty) {
            self.live.remove(user);
        }
        out
    }

    /// The live sessions (of one user, or all), sorted by user, channel,
    /// client.
    pub fn list(&self, user: Option<&str>, idle: Duration, now: Instant) -> Vec<SessionInfo> {
        let mut out: Vec<SessionInfo> = self
            .live
            .iter()
            .filter(|(u, _)| user.is_none_or(|w| w == u.as_str()))
            .flat_map(|(u, m)| m.iter().map(move |(c, s)| (u, c, s)))
            .filter(|(_, _, s)| now.saturating_duration_since(s.last_seen) < idle)
            .map(|(u, c, s)| SessionInfo {
                user: u.clone(),
                channel: s.channel.clone(),
                client: c.clone(),
                started: s.started,
                idle_secs: now.saturating_duration_since(s.last_seen).as_secs(),
            })
            .collect();
        out.sort_by(|a, b| (&a.user, &a.channel, &a.client).cmp(&(&b.user, &b.channel, &b.client)));
        out
    }

    /// A user's live sessions.
    pub fn active(&self, user: &str, idle: Duration, now: Instant) -> u32 {
        self.live.get(user).map_or(0, |m| {
            m.values()
                .filter(|s| now.saturating_duration_since(s.last_seen) < idle)
                .count() as u32
        })
    }
}

#[cfg(test)]
#[path = "session_policy_tests.rs"]
mod tests;
