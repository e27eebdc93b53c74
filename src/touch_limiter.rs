//! Rate limit for "this channel is being watched" notices: a player asks for
//! the playlist every few seconds, the supervisor only needs to hear about
//! it well within its idle timeout. Kept per supervisor (its socket path):
//! channel 7 of one deployment is not channel 7 of another.

use std::collections::HashMap;

/// Channels remembered at most before the stale ones are dropped.
const MAX_CHANNELS: usize = 100_000;

#[derive(Debug, Default)]
pub struct TouchLimiter {
    last: HashMap<(String, String), u64>,
}

impl TouchLimiter {
    /// Whether a touch for `channel` of `scope`'s supervisor is due at
    /// `now` (ms); records it if so.
    pub fn due(&mut self, scope: &str, channel: &str, now: u64, interval_ms: u64) -> bool {
        let key = (scope.to_string(), channel.to_string());
        match self.last.get_mut(&key) {
            Some(t) if now.saturating_sub(*t) < interval_ms => false,
            Some(t) => {
                *t = now;
                true
            }
            None => {
                if self.last.len() >= MAX_CHANNELS {
                    self.last
                        .retain(|_, t| now.saturating_sub(*t) < interval_ms);
                }
                self.last.insert(key, now);
                true
            }
        }
    }

    /// Forget a channel, so the next request touches it at once (used when
    /// a touch failed, or after a start).
    pub fn reset(&mut self, scope: &str, channel: &str) {
        self.last.remove(&(scope.to_string(), channel.to_string()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: &str = "/run/a.sock";

    #[test]
    fn once_per_interval_per_channel() {
        let mut l = TouchLimiter::default();
        assert!(l.due(S, "a", 0, 10_000));
        assert!(!l.due(S, "a", 9_999, 10_000));
        assert!(l.due(S, "b", 9_999, 10_000));
        assert!(l.due(S, "a", 10_000, 10_000));
        l.reset(S, "a");
        assert!(l.due(S, "a", 10_001, 10_000));
    }

    #[test]
    fn per_supervisor() {
        let mut l = TouchLimiter::default();
        assert!(l.due("/run/a.sock", "7", 0, 10_000));
        // Channel 7 of the other deployment is touched in its own right.
        assert!(l.due("/run/b.sock", "7", 1, 10_000));
        assert!(!l.due("/run/a.sock", "7", 2, 10_000));
        l.reset("/run/b.sock", "7");
        assert!(!l.due("/run/a.sock", "7", 3, 10_000));
        assert!(l.due("/run/b.sock", "7", 3, 10_000));
    }
}
