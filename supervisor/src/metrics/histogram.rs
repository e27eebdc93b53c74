//! A histogram of durations kept in atomics: observing is a bucket
//! search and two relaxed adds, no lock; the text is made from a snapshot.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

/// Most finite buckets a histogram may have.
const MAX_BUCKETS: usize = 16;

/// Upper bounds (seconds) of a channel's cold start, start to ready.
pub const START_BUCKETS: &[f64] = &[0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0, 20.0, 30.0];

/// Upper bounds (seconds) of one Redis round trip.
pub const REDIS_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
];

pub struct Histogram {
    bounds: &'static [f64],
    /// Observations per bucket (not cumulative); the one after the last
    /// bound is +Inf.
    counts: [AtomicU64; MAX_BUCKETS + 1],
    sum_nanos: AtomicU64,
}

/// A histogram's values at one moment.
#[derive(Debug, Clone, PartialEq)]
pub struct HistogramSnapshot {
    /// (upper bound, cumulative count), the finite bounds in order.
    pub buckets: Vec<(f64, u64)>,
    pub count: u64,
    pub sum_secs: f64,
}

impl Histogram {
    /// `bounds` ascending, at most 16.
    pub const fn new(bounds: &'static [f64]) -> Histogram {
        assert!(bounds.len() <= MAX_BUCKETS);
        Histogram {
            bounds,
            counts: [const { AtomicU64::new(0) }; MAX_BUCKETS + 1],
            sum_nanos: AtomicU64::new(0),
        }
    }

    pub fn observe(&self, d: Duration) {
        let secs = d.as_secs_f64();
        let i = self
            .bounds
            .iter()
            .position(|b| secs <= *b)
            .unwrap_or(self.bounds.len());
        self.counts[i].fetch_add(1, Relaxed);
        let nanos = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        self.sum_nanos.fetch_add(nanos, Relaxed);
    }

    pub fn snapshot(&self) -> HistogramSnapshot {
        let mut total = 0;
        let mut buckets = Vec::with_capacity(self.bounds.len());
        for (i, b) in self.bounds.iter().enumerate() {
            total += self.counts[i].load(Relaxed);
            buckets.push((*b, total));
        }
        total += self.counts[self.bounds.len()].load(Relaxed);
        HistogramSnapshot {
            buckets,
            count: total,
            sum_secs: self.sum_nanos.load(Relaxed) as f64 / 1e9,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn observations_land_in_cumulative_buckets() {
        let h = Histogram::new(&[0.5, 1.0, 2.0]);
        let ms = Duration::from_millis;
        h.observe(ms(100));
        h.observe(ms(500)); // a bound is inclusive (le)
        h.observe(ms(1500));
        h.observe(ms(9000)); // beyond the last: +Inf only
        let s = h.snapshot();
        assert_eq!(s.buckets, vec![(0.5, 2), (1.0, 2), (2.0, 3)]);
        assert_eq!(s.count, 4);
        assert!((s.sum_secs - 11.1).abs() < 1e-9, "{}", s.sum_secs);
    }

    #[test]
    fn the_bucket_lists_ascend_and_fit() {
        for b in [START_BUCKETS, REDIS_BUCKETS] {
            assert!(b.len() <= MAX_BUCKETS);
            assert!(b.windows(2).all(|w| w[0] < w[1]));
        }
    }
}
