//! Recent password verifications, so a player that asks for a playlist
//! and its segments with the same credentials every few seconds costs one
//! argon2 run now and then, not one per request; and each user's budget
//! of wrong passwords, so guessing cannot keep the verifiers busy.
//!
//! Keyed by an HMAC-SHA256 (random per-process key) of user and password:
//! the password itself is never kept. Each verdict is bound to a digest of
//! the stored hash it was checked against, so changing the password (or
//! the record's hash in any way) drops it. Refusals are remembered too,
//! never as grants: the same wrong password retried by a misconfigured
//! player costs one verification per lifetime, not one per request.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use ring::hmac;

/// How long a refusal is remembered.
pub const LIFETIME: Duration = Duration::from_secs(60);
/// How long a grant is trusted. Long, so that a flood of wrong passwords
/// for a user (which queues argon2 runs) never stands between that user's
/// players and their known-good password; the record's state (active,
/// expiry) is still read on every login, and a new password hash drops it.
pub const GRANT_LIFETIME: Duration = Duration::from_secs(12 * 3600);
/// Wrong passwords verified for one user per [`LIFETIME`], at most;
/// beyond it that user's uncached logins are refused without an argon2
/// run until the window passes.
pub const MAX_FAILURES: u32 = 20;

/// Most verdicts kept; beyond it old ones are dropped first, then
/// refusals, then everything (a flood of distinct wrong passwords must
/// not grow memory).
const MAX_ENTRIES: usize = 10_000;

type Digest = [u8; 32];

struct Entry {
    hash_tag: Digest,
    granted: bool,
    at: Instant,
}

pub struct LoginCache {
    key: hmac::Key,
    entries: Mutex<HashMap<Digest, Entry>>,
    /// Per user: when the window began and wrong passwords in it.
    failures: Mutex<HashMap<String, (Instant, u32)>>,
}

fn alive(e: &Entry, now: Instant) -> bool {
    let life = if e.granted { GRANT_LIFETIME } else { LIFETIME };
    now.saturating_duration_since(e.at) < life
}

impl LoginCache {
    pub fn new() -> Result<LoginCache, String> {
        let rng = ring::rand::SystemRandom::new();
        let key = hmac::Key::generate(hmac::HMAC_SHA256, &rng)
            .map_err(|_| "no random key for the login cache".to_string())?;
        Ok(LoginCache {
            key,
            entries: Mutex::new(HashMap::new()),
            failures: Mutex::new(HashMap::new()),
        })
    }

    fn mac(&self, parts: &[&[u8]]) -> Digest {
        let mut ctx = hmac::Context::with_key(&self.key);
        for p in parts {
            // Length-prefixed, so ("ab","c") and ("a","bc") differ.
            ctx.update(&(p.len() as u64).to_be_bytes());
            ctx.update(p);
        }
        let mut out = [0u8; 32];
        out.copy_from_slice(ctx.sign().as_ref());
        out
    }

    fn keys(&self, user: &str, password: &str, phc: &str) -> (Digest, Digest) {
        (
            self.mac(&[b"login", user.as_bytes(), password.as_bytes()]),
            self.mac(&[b"hash", phc.as_bytes()]),
        )
    }

    /// The remembered verdict for this user, password and stored hash, if
    /// one still alive exists (grants for [`GRANT_LIFETIME`], refusals for
    /// [`LIFETIME`]): `Some(true)` granted, `Some(false)` refused.
    pub fn lookup(&self, user: &str, password: &str, phc: &str, now: Instant) -> Option<bool> {
        let (k, tag) = self.keys(user, password, phc);
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        let e = entries.get(&k)?;
        (e.hash_tag == tag && alive(e, now)).then_some(e.granted)
    }

    /// Whether `user` has used up its wrong passwords for this window.
    pub fn throttled(&self, user: &str, now: Instant) -> bool {
        let failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        failures.get(user).is_some_and(|&(since, n)| {
            now.saturating_duration_since(since) < LIFETIME && n >= MAX_FAILURES
        })
    }

    /// Counts a wrong password verified for `user`.
    pub fn failed(&self, user: &str, now: Instant) {
        let mut failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        if failures.len() >= MAX_ENTRIES && !failures.contains_key(user) {
            failures.retain(|_, (since, _)| now.saturating_duration_since(*since) < LIFETIME);
            if failures.len() >= MAX_ENTRIES {
                failures.clear();
            }
        }
        let slot = failures.entry(user.to_string()).or_insert((now, 0));
        if now.saturating_duration_since(slot.0) >= LIFETIME {
            *slot = (now, 0);
        }
        slot.1 = slot.1.saturating_add(1);
    }

    pub fn remember(&self, user: &str, password: &str, phc: &str, granted: bool, now: Instant) {
        let (k, hash_tag) = self.keys(user, password, phc);
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if entries.len() >= MAX_ENTRIES && !entries.contains_key(&k) {
            entries.retain(|_, e| alive(e, now));
            if entries.len() >= MAX_ENTRIES {
                entries.retain(|_, e| e.granted);
            }
            if entries.len() >= MAX_ENTRIES {
                entries.clear();
            }
        }
        entries.insert(
            k,
            Entry {
                hash_tag,
                granted,
                at: now,
            },
        );
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.entries.lock().unwrap().len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdicts_are_bound_to_user_password_hash_and_time() {
        let c = LoginCache::new().unwrap();
        let t0 = Instant::now();
        assert_eq!(c.lookup("alice", "pw", "$h1", t0), None);
        c.remember("alice", "pw", "$h1", true, t0);
        assert_eq!(c.lookup("alice", "pw", "$h1", t0), Some(true));
        assert_eq!(
            c.lookup("alice", "pw", "$h1", t0 + Duration::from_secs(59)),
            Some(true)
        );
        // A grant outlives a refusal's minute, not its own lifetime.
        assert_eq!(c.lookup("alice", "pw", "$h1", t0 + LIFETIME), Some(true));
        // Too old, another password, another user, a changed hash: unknown.
        assert_eq!(c.lookup("alice", "pw", "$h1", t0 + GRANT_LIFETIME), None);
        assert_eq!(c.lookup("alice", "pw2", "$h1", t0), None);
        assert_eq!(c.lookup("bob", "pw", "$h1", t0), None);
        assert_eq!(c.lookup("alice", "pw", "$h2", t0), None);
        // Length-prefixed: no confusion between user and password bytes.
        assert_eq!(c.lookup("alicep", "w", "$h1", t0), None);
        // A refusal is remembered as a refusal, for a minute.
        c.remember("alice", "wrong", "$h1", false, t0);
        assert_eq!(c.lookup("alice", "wrong", "$h1", t0), Some(false));
        assert_eq!(c.lookup("alice", "wrong", "$h1", t0 + LIFETIME), None);
    }

    #[test]
    fn wrong_passwords_throttle_their_user_for_a_window() {
        let c = LoginCache::new().unwrap();
        let t0 = Instant::now();
        for _ in 0..MAX_FAILURES - 1 {
            c.failed("alice", t0);
        }
        assert!(!c.throttled("alice", t0));
        c.failed("alice", t0);
        assert!(c.throttled("alice", t0));
        assert!(!c.throttled("bob", t0));
        // The window passes.
        assert!(!c.throttled("alice", t0 + LIFETIME));
        c.failed("alice", t0 + LIFETIME);
        assert!(!c.throttled("alice", t0 + LIFETIME));
    }

    #[test]
    fn a_flood_of_wrong_passwords_stays_bounded_and_keeps_grants() {
        let c = LoginCache::new().unwrap();
        let t0 = Instant::now();
        c.remember("alice", "pw", "$h", true, t0);
        for i in 0..(MAX_ENTRIES + 50) {
            c.remember("alice", &format!("guess{i}"), "$h", false, t0);
        }
        assert!(c.len() <= MAX_ENTRIES);
        assert_eq!(c.lookup("alice", "pw", "$h", t0), Some(true));
    }
}
