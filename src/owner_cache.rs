//! Cluster mode: what a worker remembers of where a channel runs, for the
//! segment requests that miss a file (src/module/locate.rs). Per worker,
//! per (supervisor, channel); pure (the caller passes the clock).
//!
//! - The owner a playlist request or a `locate` named: 30 s, so segment
//!   requests go straight there. Forgotten as soon as a request diverted
//!   there fails (the node died): the next one locates again and finds
//!   the node that took the channel over, instead of 502 until it expires.
//! - "Runs on this node" (the file is simply not there): 1 s, so a burst
//!   of misses of a local channel costs one `locate`. "Runs on no node" is
//!   not remembered: the channel may start any moment (a playlist request
//!   on another worker or node), and its segments must be found at once.

use std::collections::HashMap;

/// How long an owner is remembered.
pub const OWNER_TTL_MS: u64 = 30_000;
/// How long "runs on this node" is remembered.
pub const LOCAL_TTL_MS: u64 = 1_000;

/// Where the channel runs, as last heard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Known {
    /// On another node, at this base URL.
    Owner(String),
    /// On this node.
    Local,
}

impl Known {
    fn ttl_ms(&self) -> u64 {
        match self {
            Known::Owner(_) => OWNER_TTL_MS,
            Known::Local => LOCAL_TTL_MS,
        }
    }
}

/// Whether a request diverted to the owner failed to reach it, by the
/// status the edge answers: nginx's proxy answers 502 when it cannot
/// connect (or the owner's answer is broken) and 504 when the owner does
/// not answer in time. A 404 came from a node that is up but may no
/// longer run the channel (its supervisor died or lost Redis while its
/// nginx serves on): asking again costs one `locate` and finds the owner
/// now, the same one if the segment had only expired. Anything else came
/// from the owner, who is alive and has it.
pub fn owner_failed(status: usize) -> bool {
    matches!(status, 404 | 502 | 504)
}

#[derive(Default)]
pub struct OwnerCache {
    /// (supervisor socket, channel) -> (what, until): keyed by supervisor,
    /// each one is a node of its own.
    map: HashMap<(String, String), (Known, u64)>,
}

impl OwnerCache {
    /// Remembers `known` from `now` (expired entries go first: the map
    /// holds at most the channels of the last TTL).
    pub fn learn(&mut self, scope: &str, channel: &str, known: Known, now: u64) {
        self.map.retain(|_, (_, until)| *until > now);
        let until = now + known.ttl_ms();
        self.map
            .insert((scope.to_string(), channel.to_string()), (known, until));
    }

    /// What is known of `channel`, if still fresh.
    pub fn get(&self, scope: &str, channel: &str, now: u64) -> Option<Known> {
        self.map
            .get(&(scope.to_string(), channel.to_string()))
            .filter(|(_, until)| *until > now)
            .map(|(known, _)| known.clone())
    }

    /// A request diverted to `owner` failed: forgets it, unless the channel
    /// has been learnt at another owner since. Whether it was forgotten.
    pub fn forget_owner(&mut self, scope: &str, channel: &str, owner: &str) -> bool {
        let key = (scope.to_string(), channel.to_string());
        match self.map.get(&key) {
            Some((Known::Owner(url), _)) if url == owner => {
                self.map.remove(&key);
                true
            }
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: &str = "/run/s.sock";

    #[test]
    fn an_owner_is_remembered_for_its_ttl() {
        let mut c = OwnerCache::default();
        c.learn(S, "7", Known::Owner("http://n1".into()), 1_000);
        assert_eq!(
            c.get(S, "7", 1_000 + OWNER_TTL_MS - 1),
            Some(Known::Owner("http://n1".into()))
        );
        assert_eq!(c.get(S, "7", 1_000 + OWNER_TTL_MS), None);
        // Another supervisor (node) or channel knows nothing of it.
        assert_eq!(c.get("/run/other.sock", "7", 1_000), None);
        assert_eq!(c.get(S, "8", 1_000), None);
    }

    #[test]
    fn a_failed_owner_is_forgotten_at_once() {
        let mut c = OwnerCache::default();
        c.learn(S, "7", Known::Owner("http://n1".into()), 0);
        assert!(c.forget_owner(S, "7", "http://n1"));
        assert_eq!(c.get(S, "7", 1), None);
        assert!(!c.forget_owner(S, "7", "http://n1"));
    }

    #[test]
    fn a_newer_owner_survives_the_old_ones_failure() {
        let mut c = OwnerCache::default();
        c.learn(S, "7", Known::Owner("http://n1".into()), 0);
        // A playlist request learnt the new owner while a request diverted
        // to the old one was failing.
        c.learn(S, "7", Known::Owner("http://n2".into()), 5);
        assert!(!c.forget_owner(S, "7", "http://n1"));
        assert_eq!(c.get(S, "7", 6), Some(Known::Owner("http://n2".into())));
        c.learn(S, "8", Known::Local, 0);
        assert!(!c.forget_owner(S, "8", "http://n1"));
    }

    #[test]
    fn a_gateway_failure_or_a_missing_file_means_ask_again() {
        assert!(owner_failed(502));
        assert!(owner_failed(504));
        assert!(owner_failed(404));
        for alive in [200, 206, 302, 304, 403, 500, 503] {
            assert!(!owner_failed(alive), "{alive}");
        }
    }

    #[test]
    fn here_is_remembered_briefly() {
        let mut c = OwnerCache::default();
        c.learn(S, "7", Known::Local, 0);
        assert_eq!(c.get(S, "7", LOCAL_TTL_MS - 1), Some(Known::Local));
        assert_eq!(c.get(S, "7", LOCAL_TTL_MS), None);
        // An owner learnt later replaces it.
        c.learn(S, "7", Known::Owner("http://n2".into()), 10);
        assert_eq!(c.get(S, "7", 20), Some(Known::Owner("http://n2".into())));
    }

    #[test]
    fn expired_entries_are_dropped_on_learning() {
        let mut c = OwnerCache::default();
        c.learn(S, "1", Known::Local, 0);
        c.learn(S, "2", Known::Owner("http://n1".into()), 0);
        c.learn(S, "3", Known::Local, LOCAL_TTL_MS);
        assert_eq!(c.map.len(), 2);
    }
}
