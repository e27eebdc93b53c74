//! When a channel's ffmpeg is restarted after a failure, and when the
//! supervisor gives up on it.
//!
//! Failures are counted in a sliding window: a channel that fails now and
//! then (an upstream hiccup every hour) keeps restarting forever, one that
//! fails `max_failures` times within `window` is declared failed. Delays
//! grow exponentially with the failures in the window, with jitter so that
//! many channels of one broken upstream do not retry in lockstep.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy)]
pub struct Policy {
    /// Delay before the first restart.
    pub base: Duration,
    /// Longest delay, however many failures.
    pub cap: Duration,
    /// Failures within `window` that make the channel failed.
    pub max_failures: u32,
    pub window: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Restart after this delay.
    Retry(Duration),
    /// Too many failures in the window.
    GiveUp,
}

/// Recent failures of one channel.
#[derive(Debug, Default)]
pub struct Failures {
    times: VecDeque<Instant>,
}

impl Failures {
    /// Records a failure at `now`; `jitter` is uniform in [0, 1).
    pub fn record(&mut self, policy: &Policy, now: Instant, jitter: f64) -> Verdict {
        while self
            .times
            .front()
            .is_some_and(|t| now.duration_since(*t) > policy.window)
        {
            self.times.pop_front();
        }
        self.times.push_back(now);
        let n = self.times.len() as u32;
        if n >= policy.max_failures.max(1) {
            Verdict::GiveUp
        } else {
            Verdict::Retry(backoff(policy, n - 1, jitter))
        }
    }

    /// Failures currently in the window.
    pub fn recent(&self) -> u32 {
        self.times.len() as u32
    }
}

/// `base * 2^attempt`, capped, then spread by ±25 % (`jitter` in [0, 1)).
pub fn backoff(policy: &Policy, attempt: u32, jitter: f64) -> Duration {
    let raw = policy
        .base
        .saturating_mul(1u32 << attempt.min(20))
        .min(policy.cap);
    raw.mul_f64(0.75 + 0.5 * jitter.clamp(0.0, 1.0))
}

/// A small xorshift generator for jitter: good enough to spread retries,
/// not for anything secret.
pub struct Jitter(u64);

impl Jitter {
    pub fn seeded() -> Jitter {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        Jitter((nanos ^ (u64::from(std::process::id()) << 32)) | 1)
    }

    pub fn next_fraction(&mut self) -> f64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        (x >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> Policy {
        Policy {
            base: Duration::from_millis(500),
            cap: Duration::from_secs(30),
            max_failures: 4,
            window: Duration::from_secs(60),
        }
    }

    #[test]
    fn delays_double_up_to_the_cap() {
        let p = policy();
        assert_eq!(backoff(&p, 0, 0.5), Duration::from_millis(500));
        assert_eq!(backoff(&p, 1, 0.5), Duration::from_secs(1));
        assert_eq!(backoff(&p, 3, 0.5), Duration::from_secs(4));
        assert_eq!(backoff(&p, 10, 0.5), Duration::from_secs(30));
        assert_eq!(backoff(&p, 63, 0.5), Duration::from_secs(30));
    }

    #[test]
    fn jitter_spreads_a_quarter_each_way() {
        let p = policy();
        assert_eq!(backoff(&p, 1, 0.0), Duration::from_millis(750));
        assert!(backoff(&p, 1, 0.999) < Duration::from_millis(1250));
        assert!(backoff(&p, 1, 0.999) > Duration::from_millis(1240));
    }

    #[test]
    fn gives_up_after_max_failures_in_the_window() {
        let p = policy();
        let mut f = Failures::default();
        let t0 = Instant::now();
        assert_eq!(
            f.record(&p, t0, 0.5),
            Verdict::Retry(Duration::from_millis(500))
        );
        assert_eq!(
            f.record(&p, t0 + Duration::from_secs(1), 0.5),
            Verdict::Retry(Duration::from_secs(1))
        );
        assert_eq!(
            f.record(&p, t0 + Duration::from_secs(3), 0.5),
            Verdict::Retry(Duration::from_secs(2))
        );
        assert_eq!(
            f.record(&p, t0 + Duration::from_secs(6), 0.5),
            Verdict::GiveUp
        );
    }

    #[test]
    fn old_failures_fall_out_of_the_window() {
        let p = policy();
        let mut f = Failures::default();
        let t0 = Instant::now();
        for i in 0..3 {
            f.record(&p, t0 + Duration::from_secs(i), 0.5);
        }
        // An hour later the channel has been fine: start over.
        let later = t0 + Duration::from_secs(3600);
        assert_eq!(
            f.record(&p, later, 0.5),
            Verdict::Retry(Duration::from_millis(500))
        );
        assert_eq!(f.recent(), 1);
    }

    #[test]
    fn jitter_is_in_range_and_varies() {
        let mut j = Jitter::seeded();
        let v: Vec<f64> = (0..1000).map(|_| j.next_fraction()).collect();
        assert!(v.iter().all(|x| (0.0..1.0).contains(x)));
        let mean = v.iter().sum::<f64>() / v.len() as f64;
        assert!((0.4..0.6).contains(&mean), "{mean}");
    }
}
