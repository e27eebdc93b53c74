//! Rate limit for "this channel is being watched" notices: a player asks for
//! the playlist every few seconds, the supervisor only needs to hear about
//! it well within its idle timeout.

use std::collections::HashMap;

#[derive(Debug, Default)]
pub struct TouchLimiter {
    last: HashMap<String, u64>,
}

impl TouchLimiter {
    /// Whether a touch for `channel` is due at `now` (ms); records it if so.
    pub fn due(&mut self, channel: &str, now: u64, interval_ms: u64) -> bool {
        match self.last.get_mut(channel) {
            Some(t) if now.saturating_sub(*t) < interval_ms => false,
            Some(t) => {
                *t = now;
                true
            }
            None => {
                if self.last.len() >= 100_000 {
                    self.last
                        .retain(|_, t| now.saturating_sub(*t) < interval_ms);
                }
                self.last.insert(channel.to_string(), now);
                true
            }
        }
    }

    /// Forget a channel, so the next request touches it at once (used when
    /// a touch failed, or after a start).
    pub fn reset(&mut self, channel: &str) {
        self.last.remove(channel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn once_per_interval_per_channel() {
        let mut l = TouchLimiter::default();
        assert!(l.due("a", 0, 10_000));
        assert!(!l.due("a", 9_999, 10_000));
        assert!(l.due("b", 9_999, 10_000));
        assert!(l.due("a", 10_000, 10_000));
        l.reset("a");
        assert!(l.due("a", 10_001, 10_000));
    }
}
