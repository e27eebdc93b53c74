//! Per-worker cache of the supervisor's token verdicts, so that a player's
//! playlist refreshes and segment requests do not each cost a socket round
//! trip. Grants and refusals have separate lifetimes: a revoked token keeps
//! working for at most the grant lifetime.

use std::collections::HashMap;

/// Entries kept at most; past it, expired entries are dropped first and,
/// if that is not enough, the whole cache (a cheap, bounded worst case).
pub const MAX_ENTRIES: usize = 65_536;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Granted { user: String },
    Denied { reason: String },
}

#[derive(Debug)]
struct Entry {
    verdict: Verdict,
    expires_at: u64,
}

#[derive(Debug)]
pub struct TokenCache {
    entries: HashMap<Vec<u8>, Entry>,
    max_entries: usize,
}

impl Default for TokenCache {
    fn default() -> Self {
        TokenCache::with_capacity(MAX_ENTRIES)
    }
}

impl TokenCache {
    pub fn with_capacity(max_entries: usize) -> TokenCache {
        TokenCache {
            entries: HashMap::new(),
            max_entries: max_entries.max(1),
        }
    }

    /// The cached verdict for `token` at time `now` (milliseconds, any
    /// monotonic clock).
    pub fn get(&mut self, token: &[u8], now: u64) -> Option<&Verdict> {
        let expired = match self.entries.get(token) {
            None => return None,
            Some(e) => e.expires_at <= now,
        };
        if expired {
            self.entries.remove(token);
            return None;
        }
        self.entries.get(token).map(|e| &e.verdict)
    }

    /// Remembers a verdict for `ttl_ms`. A zero lifetime caches nothing.
    pub fn insert(&mut self, token: &[u8], verdict: Verdict, now: u64, ttl_ms: u64) {
        if ttl_ms == 0 {
            self.entries.remove(token);
            return;
        }
        if self.entries.len() >= self.max_entries && !self.entries.contains_key(token) {
            self.entries.retain(|_, e| e.expires_at > now);
            if self.entries.len() >= self.max_entries {
                self.entries.clear();
            }
        }
        self.entries.insert(
            token.to_vec(),
            Entry {
                verdict,
                expires_at: now.saturating_add(ttl_ms),
            },
        );
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn granted() -> Verdict {
        Verdict::Granted { user: "u1".into() }
    }

    #[test]
    fn hit_until_expiry() {
        let mut c = TokenCache::default();
        c.insert(b"t", granted(), 1_000, 500);
        assert_eq!(c.get(b"t", 1_000), Some(&granted()));
        assert_eq!(c.get(b"t", 1_499), Some(&granted()));
        assert_eq!(c.get(b"t", 1_500), None);
        assert!(c.is_empty(), "expired entry is dropped on lookup");
    }

    #[test]
    fn zero_ttl_caches_nothing() {
        let mut c = TokenCache::default();
        c.insert(b"t", granted(), 0, 100);
        c.insert(b"t", granted(), 0, 0);
        assert_eq!(c.get(b"t", 1), None);
    }

    #[test]
    fn refusals_are_cached_too() {
        let mut c = TokenCache::default();
        let d = Verdict::Denied {
            reason: "token unknown".into(),
        };
        c.insert(b"bad", d.clone(), 0, 100);
        assert_eq!(c.get(b"bad", 50), Some(&d));
    }

    #[test]
    fn stays_bounded() {
        let mut c = TokenCache::with_capacity(4);
        for i in 0..4u8 {
            c.insert(&[i], granted(), 0, if i < 2 { 10 } else { 1_000 });
        }
        // Two expired entries make room.
        c.insert(b"x", granted(), 20, 1_000);
        assert_eq!(c.len(), 3);
        c.insert(b"y", granted(), 20, 1_000);
        assert_eq!(c.len(), 4);
        // Nothing expired: the cache starts over rather than grow.
        c.insert(b"z", granted(), 20, 1_000);
        assert_eq!(c.len(), 1);
        assert!(c.get(b"z", 21).is_some());
    }
}
