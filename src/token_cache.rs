//! Per-worker cache of the supervisor's token verdicts, so that a player's
//! playlist refreshes and segment requests do not each cost a socket round
//! trip. Grants and refusals have separate lifetimes: a revoked token keeps
//! working for at most the grant lifetime.
//!
//! Verdicts are kept per supervisor (its socket path): two deployments in
//! one nginx never see each other's tokens. Under pressure the least
//! recently used entries go, one at a time, so a flood of new tokens
//! cannot push every viewer's grant out at once.
//!
//! A grant outlives its lifetime by a stale window: when the supervisor
//! cannot decide because its store (Redis) is down, a worker that granted
//! this very token before keeps honouring it for that long, so viewers of
//! ready streams keep watching through an outage. Only grants have one,
//! and never beyond the token's own expiry.

use std::collections::{BTreeMap, HashMap};

/// Entries kept at most; past it, expired entries are dropped first, then
/// the least recently used.
pub const MAX_ENTRIES: usize = 65_536;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Granted {
        user: String,
        /// The user's simultaneous-session limit (`None`: unlimited).
        max_connections: Option<u32>,
    },
    Denied {
        reason: String,
    },
}

#[derive(Debug)]
struct Entry {
    verdict: Verdict,
    expires_at: u64,
    /// Until when an expired grant may stand in while the store is down.
    stale_until: u64,
    /// The stale grant was used (and logged) already.
    stale_used: bool,
    /// Position in the use order (`TokenCache::order`).
    used: u64,
}

#[derive(Debug)]
pub struct TokenCache {
    /// Key: the supervisor, a NUL, the token (neither holds a NUL: socket
    /// paths are checked, tokens are visible ASCII).
    entries: HashMap<Vec<u8>, Entry>,
    /// Use order, oldest first: `used` stamp → key.
    order: BTreeMap<u64, Vec<u8>>,
    next_use: u64,
    max_entries: usize,
}

impl Default for TokenCache {
    fn default() -> Self {
        TokenCache::with_capacity(MAX_ENTRIES)
    }
}

fn key(scope: &str, token: &[u8]) -> Vec<u8> {
    let mut k = Vec::with_capacity(scope.len() + 1 + token.len());
    k.extend_from_slice(scope.as_bytes());
    k.push(0);
    k.extend_from_slice(token);
    k
}

impl TokenCache {
    pub fn with_capacity(max_entries: usize) -> TokenCache {
        TokenCache {
            entries: HashMap::new(),
            order: BTreeMap::new(),
            next_use: 0,
            max_entries: max_entries.max(1),
        }
    }

    fn stamp(&mut self) -> u64 {
        self.next_use += 1;
        self.next_use
    }

    /// The verdict `scope`'s supervisor gave on `token`, at time `now`
    /// (milliseconds, any monotonic clock).
    pub fn get(&mut self, scope: &str, token: &[u8], now: u64) -> Option<&Verdict> {
        let k = key(scope, token);
        let e = self.entries.get(&k)?;
        if e.expires_at <= now {
            if e.stale_until <= now {
                self.remove(&k);
            }
            return None;
        }
        Some(&self.touch(k)?.verdict)
    }

    /// Marks `k` as just used.
    fn touch(&mut self, k: Vec<u8>) -> Option<&mut Entry> {
        let used = self.stamp();
        let e = self.entries.get_mut(&k)?;
        self.order.remove(&e.used);
        e.used = used;
        self.order.insert(used, k);
        Some(e)
    }

    /// An expired grant of `scope`'s supervisor on `token` still inside its
    /// stale window, for when that supervisor cannot decide: the user, its
    /// session limit, and whether this is the first time it stands in (to
    /// be logged once).
    pub fn stale_grant(
        &mut self,
        scope: &str,
        token: &[u8],
        now: u64,
    ) -> Option<(String, Option<u32>, bool)> {
        let k = key(scope, token);
        let e = self.entries.get(&k)?;
        if e.stale_until <= now {
            self.remove(&k);
            return None;
        }
        let e = self.touch(k)?;
        let Verdict::Granted {
            user,
            max_connections,
        } = &e.verdict
        else {
            return None;
        };
        let grant = (user.clone(), *max_connections);
        let first = !e.stale_used;
        e.stale_used = true;
        Some((grant.0, grant.1, first))
    }

    fn remove(&mut self, k: &[u8]) {
        if let Some(e) = self.entries.remove(k) {
            self.order.remove(&e.used);
        }
    }

    /// Remembers a verdict for `ttl_ms`. A zero lifetime caches nothing.
    pub fn insert(&mut self, scope: &str, token: &[u8], verdict: Verdict, now: u64, ttl_ms: u64) {
        self.insert_with_stale(scope, token, verdict, now, ttl_ms, 0);
    }

    /// Remembers a verdict for `ttl_ms`, and a grant for `stale_ms` more as
    /// a stand-in while the store is down (see `stale_window`).
    pub fn insert_with_stale(
        &mut self,
        scope: &str,
        token: &[u8],
        verdict: Verdict,
        now: u64,
        ttl_ms: u64,
        stale_ms: u64,
    ) {
        let stale_ms = match verdict {
            Verdict::Granted { .. } => stale_ms,
            Verdict::Denied { .. } => 0,
        };
        let k = key(scope, token);
        self.remove(&k);
        if ttl_ms == 0 {
            return;
        }
        if self.entries.len() >= self.max_entries {
            self.make_room(now);
        }
        let used = self.stamp();
        self.order.insert(used, k.clone());
        let expires_at = now.saturating_add(ttl_ms);
        self.entries.insert(
            k,
            Entry {
                verdict,
                expires_at,
                stale_until: expires_at.saturating_add(stale_ms),
                stale_used: false,
                used,
            },
        );
    }

    /// Frees one place at least: every entry past its stale window, else
    /// the least recently used one.
    fn make_room(&mut self, now: u64) {
        let before = self.entries.len();
        self.entries.retain(|_, e| e.stale_until > now);
        if self.entries.len() < before {
            let entries = &self.entries;
            self.order.retain(|_, k| entries.contains_key(k));
            return;
        }
        if let Some((_, oldest)) = self.order.pop_first() {
            self.entries.remove(&oldest);
        }
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// How long a grant cached for `ttl_ms` may stand in once expired: the
/// configured `grace_ms`, but never past the token's own remaining life
/// (`token_life_ms`, `None`: no expiry) — a stale grant never extends a
/// token.
pub fn stale_window(ttl_ms: u64, token_life_ms: Option<u64>, grace_ms: u64) -> u64 {
    match token_life_ms {
        Some(life) => grace_ms.min(life.saturating_sub(ttl_ms)),
        None => grace_ms,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: &str = "/run/a.sock";

    fn granted() -> Verdict {
        Verdict::Granted {
            user: "u1".into(),
            max_connections: None,
        }
    }

    #[test]
    fn hit_until_expiry() {
        let mut c = TokenCache::default();
        c.insert(S, b"t", granted(), 1_000, 500);
        assert_eq!(c.get(S, b"t", 1_000), Some(&granted()));
        assert_eq!(c.get(S, b"t", 1_499), Some(&granted()));
        assert_eq!(c.get(S, b"t", 1_500), None);
        assert!(c.is_empty(), "expired entry is dropped on lookup");
    }

    #[test]
    fn zero_ttl_caches_nothing() {
        let mut c = TokenCache::default();
        c.insert(S, b"t", granted(), 0, 100);
        c.insert(S, b"t", granted(), 0, 0);
        assert_eq!(c.get(S, b"t", 1), None);
    }

    #[test]
    fn refusals_are_cached_too() {
        let mut c = TokenCache::default();
        let d = Verdict::Denied {
            reason: "token unknown".into(),
        };
        c.insert(S, b"bad", d.clone(), 0, 100);
        assert_eq!(c.get(S, b"bad", 50), Some(&d));
    }

    #[test]
    fn supervisors_do_not_share_verdicts() {
        let mut c = TokenCache::default();
        c.insert("/run/a.sock", b"tok", granted(), 0, 1_000);
        assert_eq!(c.get("/run/b.sock", b"tok", 1), None);
        let d = Verdict::Denied {
            reason: "no".into(),
        };
        c.insert("/run/b.sock", b"tok", d.clone(), 0, 1_000);
        assert_eq!(c.get("/run/a.sock", b"tok", 2), Some(&granted()));
        assert_eq!(c.get("/run/b.sock", b"tok", 2), Some(&d));
    }

    #[test]
    fn expired_entries_go_first() {
        let mut c = TokenCache::with_capacity(4);
        for i in 0..4u8 {
            c.insert(S, &[i], granted(), 0, if i < 2 { 10 } else { 1_000 });
        }
        c.insert(S, b"x", granted(), 20, 1_000);
        assert_eq!(c.len(), 3);
        assert!(c.get(S, &[2], 21).is_some() && c.get(S, &[3], 21).is_some());
    }

    #[test]
    fn under_pressure_the_least_recently_used_go() {
        let mut c = TokenCache::with_capacity(4);
        for i in 0..4u8 {
            c.insert(S, &[i], granted(), 0, 1_000);
        }
        // Viewers 0 and 1 keep using their grants.
        assert!(c.get(S, &[0], 1).is_some());
        assert!(c.get(S, &[1], 2).is_some());
        // A flood of new tokens pushes out only the idle ones, one by one.
        c.insert(S, b"x", granted(), 3, 1_000);
        assert_eq!(c.len(), 4);
        assert!(c.get(S, &[2], 4).is_none(), "least recently used went");
        assert!(c.get(S, &[0], 4).is_some() && c.get(S, &[1], 4).is_some());
        for i in 0..100u8 {
            c.insert(S, &[b'n', i], granted(), 5, 1_000);
            assert!(c.get(S, &[0], 5).is_some(), "an active grant survives");
            assert_eq!(c.len(), 4);
        }
    }

    #[test]
    fn replacing_an_entry_keeps_one() {
        let mut c = TokenCache::with_capacity(2);
        c.insert(S, b"a", granted(), 0, 1_000);
        c.insert(S, b"a", granted(), 1, 1_000);
        c.insert(S, b"b", granted(), 2, 1_000);
        assert_eq!(c.len(), 2);
        assert!(c.get(S, b"a", 3).is_some());
    }

    #[test]
    fn a_stale_grant_stands_in_for_its_window_only() {
        let mut c = TokenCache::default();
        c.insert_with_stale(S, b"t", granted(), 0, 100, 1_000);
        assert_eq!(c.get(S, b"t", 150), None, "expired: ask the supervisor");
        assert_eq!(c.stale_grant(S, b"t", 150), Some(("u1".into(), None, true)));
        assert_eq!(
            c.stale_grant(S, b"t", 600),
            Some(("u1".into(), None, false)),
            "logged once"
        );
        assert_eq!(c.stale_grant(S, b"t", 1_100), None, "window over");
        assert!(c.is_empty());
        // A fresh grant starts a new window, logged again.
        c.insert_with_stale(S, b"t", granted(), 2_000, 100, 1_000);
        assert_eq!(
            c.stale_grant(S, b"t", 2_200),
            Some(("u1".into(), None, true))
        );
    }

    #[test]
    fn no_stale_grant_for_unknown_tokens_refusals_or_other_supervisors() {
        let mut c = TokenCache::default();
        assert_eq!(c.stale_grant(S, b"never", 0), None);
        let d = Verdict::Denied {
            reason: "revoked".into(),
        };
        c.insert_with_stale(S, b"bad", d, 0, 100, 1_000);
        assert_eq!(
            c.stale_grant(S, b"bad", 150),
            None,
            "refusals never stand in"
        );
        c.insert_with_stale(S, b"t", granted(), 0, 100, 1_000);
        assert_eq!(c.stale_grant("/run/b.sock", b"t", 150), None);
        c.insert(S, b"z", granted(), 0, 100);
        assert_eq!(c.stale_grant(S, b"z", 150), None, "stale=0 disables");
    }

    #[test]
    fn a_refusal_replaces_a_stale_grant() {
        let mut c = TokenCache::default();
        c.insert_with_stale(S, b"t", granted(), 0, 100, 1_000);
        let d = Verdict::Denied {
            reason: "revoked".into(),
        };
        c.insert_with_stale(S, b"t", d, 150, 100, 1_000);
        assert_eq!(c.stale_grant(S, b"t", 300), None);
    }

    #[test]
    fn stale_grants_obey_eviction() {
        let mut c = TokenCache::with_capacity(2);
        c.insert_with_stale(S, b"a", granted(), 0, 10, 1_000);
        c.insert_with_stale(S, b"b", granted(), 0, 10, 1_000);
        // Both expired but inside their window: the least recently used goes.
        assert!(c.stale_grant(S, b"a", 20).is_some());
        c.insert(S, b"c", granted(), 30, 1_000);
        assert_eq!(c.len(), 2);
        assert!(c.stale_grant(S, b"b", 40).is_none(), "evicted");
        assert!(c.stale_grant(S, b"a", 40).is_some());
        // Entries past their window go before any live one.
        c.insert(S, b"d", granted(), 2_000, 1_000);
        assert!(c.get(S, b"c", 2_001).is_none() && c.get(S, b"d", 2_001).is_some());
    }

    #[test]
    fn the_window_never_outlives_the_token() {
        assert_eq!(stale_window(30_000, None, 600_000), 600_000);
        assert_eq!(stale_window(30_000, Some(90_000), 600_000), 60_000);
        assert_eq!(stale_window(30_000, Some(30_000), 600_000), 0);
        assert_eq!(stale_window(30_000, Some(10_000), 600_000), 0);
        assert_eq!(stale_window(30_000, Some(900_000), 0), 0);
    }
}
