//! Rate limit for session reports of unlimited users: the supervisor only
//! needs to hear about a (user, channel, client) well within its session
//! idle timeout to list it, not on every playlist refresh and segment.
//! Kept per supervisor (its socket path) and bounded: past the bound the
//! entries whose interval has passed go first, then the least recently
//! reported, so a flood of clients cannot grow a worker's memory.

use std::collections::{BTreeMap, HashMap};

/// Sessions remembered at most.
pub const MAX_SESSIONS: usize = 65_536;

/// How often an unlimited user's session is reported, per worker: well
/// within the supervisor's session idle timeout (`--session-idle`, 15 s by
/// default), so a watched session never drops out of the list.
pub const REPORT_INTERVAL_MS: u64 = 3_000;

/// After a failed report, how long a worker stops reporting to that
/// supervisor (one warning per pause, not one per session and request:
/// an older supervisor without sessions answers every report with an
/// error).
pub const FAILURE_PAUSE_MS: u64 = 30_000;

type Key = (String, String, String, String);

#[derive(Debug)]
pub struct SessionLimiter {
    /// key → (last report, its stamp in `order`).
    last: HashMap<Key, (u64, u64)>,
    /// Report order, oldest first: stamp → key.
    order: BTreeMap<u64, Key>,
    next: u64,
    max: usize,
    /// Supervisors not reported to until the given time.
    paused: HashMap<String, u64>,
}

impl Default for SessionLimiter {
    fn default() -> Self {
        SessionLimiter::with_capacity(MAX_SESSIONS)
    }
}

impl SessionLimiter {
    pub fn with_capacity(max: usize) -> SessionLimiter {
        SessionLimiter {
            last: HashMap::new(),
            order: BTreeMap::new(),
            next: 0,
            max: max.max(1),
            paused: HashMap::new(),
        }
    }

    /// Whether a report of `user` watching `channel` from `client` to
    /// `scope`'s supervisor is due at `now` (ms); records it if so.
    pub fn due(
        &mut self,
        scope: &str,
        user: &str,
        channel: &str,
        client: &str,
        now: u64,
        interval_ms: u64,
    ) -> bool {
        if self.paused.get(scope).is_some_and(|&until| now < until) {
            return false;
        }
        let key = (
            scope.to_string(),
            user.to_string(),
            channel.to_string(),
            client.to_string(),
        );
        if let Some(&(t, _)) = self.last.get(&key) {
            if now.saturating_sub(t) < interval_ms {
                return false;
            }
        }
        if !self.last.contains_key(&key) && self.last.len() >= self.max {
            self.evict(now, interval_ms);
        }
        self.next += 1;
        let stamp = self.next;
        if let Some((_, old)) = self.last.insert(key.clone(), (now, stamp)) {
            self.order.remove(&old);
        }
        self.order.insert(stamp, key);
        true
    }

    /// Makes room for one: every entry whose interval passed, else the
    /// oldest.
    fn evict(&mut self, now: u64, interval_ms: u64) {
        let before = self.last.len();
        self.last
            .retain(|_, (t, _)| now.saturating_sub(*t) < interval_ms);
        if self.last.len() < before {
            let last = &self.last;
            self.order.retain(|_, k| last.contains_key(k));
            return;
        }
        if let Some((_, k)) = self.order.pop_first() {
            self.last.remove(&k);
        }
    }

    /// Forget a session, so its next request reports at once (a report
    /// that failed).
    pub fn reset(&mut self, scope: &str, user: &str, channel: &str, client: &str) {
        let key = (
            scope.to_string(),
            user.to_string(),
            channel.to_string(),
            client.to_string(),
        );
        if let Some((_, stamp)) = self.last.remove(&key) {
            self.order.remove(&stamp);
        }
    }

    /// A report to `scope`'s supervisor failed at `now`: no reports to it
    /// for `pause_ms`. True when it was not paused already (log then).
    pub fn failed(&mut self, scope: &str, now: u64, pause_ms: u64) -> bool {
        let was = self.paused.get(scope).is_some_and(|&until| now < until);
        if !was {
            self.paused
                .insert(scope.to_string(), now.saturating_add(pause_ms));
        }
        !was
    }

    pub fn len(&self) -> usize {
        self.last.len()
    }

    pub fn is_empty(&self) -> bool {
        self.last.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: &str = "/run/a.sock";

    #[test]
    fn once_per_interval_per_session() {
        let mut l = SessionLimiter::default();
        assert!(l.due(S, "u", "1", "c1", 0, 5_000));
        assert!(!l.due(S, "u", "1", "c1", 4_999, 5_000));
        // Another client, channel, user or supervisor is its own session.
        assert!(l.due(S, "u", "1", "c2", 1, 5_000));
        assert!(l.due(S, "u", "2", "c1", 1, 5_000));
        assert!(l.due(S, "v", "1", "c1", 1, 5_000));
        assert!(l.due("/run/b.sock", "u", "1", "c1", 1, 5_000));
        assert!(l.due(S, "u", "1", "c1", 5_000, 5_000));
        l.reset(S, "u", "1", "c1");
        assert!(l.due(S, "u", "1", "c1", 5_001, 5_000));
    }

    #[test]
    fn a_failure_pauses_that_supervisor() {
        let mut l = SessionLimiter::default();
        assert!(l.failed(S, 0, 60_000), "first failure is logged");
        assert!(!l.failed(S, 1, 60_000), "the next ones are not");
        assert!(!l.due(S, "u", "1", "c1", 10, 5_000));
        assert!(l.due("/run/b.sock", "u", "1", "c1", 10, 5_000));
        assert!(l.due(S, "u", "1", "c1", 60_000, 5_000));
        assert!(l.failed(S, 60_001, 60_000), "a new pause is logged again");
    }

    #[test]
    fn bounded() {
        let mut l = SessionLimiter::with_capacity(3);
        for (i, c) in ["a", "b", "c"].iter().enumerate() {
            assert!(l.due(S, "u", "1", c, i as u64, 5_000));
        }
        // Full, nothing expired: the oldest ("a") goes.
        assert!(l.due(S, "u", "1", "d", 10, 5_000));
        assert_eq!(l.len(), 3);
        assert!(l.due(S, "u", "1", "a", 11, 5_000));
        assert!(!l.due(S, "u", "1", "d", 12, 5_000));
        // Later, every expired entry goes at once.
        assert!(l.due(S, "u", "1", "e", 100_000, 5_000));
        assert_eq!(l.len(), 1);
    }
}
