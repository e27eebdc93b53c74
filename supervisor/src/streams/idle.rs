//! When an unwatched channel stops, and how often viewers must be
//! reported to keep a watched one.

use std::time::Duration;

use super::channel::Channel;
use super::Streams;

impl Streams {
    /// How often the module should report viewers.
    pub fn touch_interval_ms(&self) -> u64 {
        touch_interval_ms(self.cfg.idle_timeout)
    }

    /// When an unwatched channel stops.
    pub(super) fn idle_limit(&self) -> Duration {
        idle_limit(self.cfg.idle_timeout)
    }

    /// Nobody has watched the channel for the idle limit.
    pub(super) fn is_idle(&self, ch: &Channel) -> bool {
        ch.idle_for() >= self.idle_limit()
    }

    /// A viewer watched a running channel.
    pub fn touch(&self, id: &str) -> bool {
        match self.map.lock().unwrap().get(id) {
            Some(ch) => {
                ch.touch();
                true
            }
            None => false,
        }
    }
}

/// How often the module should report viewers: a third of the idle
/// timeout, between 1 and 10 s, so a watched channel never idles out.
fn touch_interval_ms(idle_timeout: Duration) -> u64 {
    (idle_timeout.as_millis() as u64 / 3).clamp(1_000, 10_000)
}

/// When an unwatched channel stops. Workers report viewers at most every
/// touch interval, so the last report can be that much older than the last
/// request; waiting for it too means nobody who left less than
/// `--idle-timeout` ago finds the channel gone.
fn idle_limit(idle_timeout: Duration) -> Duration {
    idle_timeout + Duration::from_millis(touch_interval_ms(idle_timeout))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn viewers_are_reported_often_enough_to_keep_a_channel() {
        let s = Duration::from_secs;
        assert_eq!(touch_interval_ms(s(15)), 5_000);
        assert_eq!(touch_interval_ms(s(60)), 10_000);
        assert_eq!(touch_interval_ms(s(1)), 1_000);
        assert_eq!(touch_interval_ms(Duration::ZERO), 1_000);
        assert_eq!(idle_limit(s(15)), s(20));
        assert_eq!(idle_limit(s(60)), s(70));
        assert_eq!(idle_limit(s(2)), s(3));
    }
}
