//! The module's counters, as they lie in nginx's shared memory zone: one
//! `Slot` per worker process (each worker bumps only its own, so workers do
//! not fight over cache lines on the warm path), summed when a scrape asks.
//! Every field is an atomic, and all-zero memory is a valid, empty
//! `Counters`, which is how the zone starts. Pure: the nginx side
//! (`module::metrics_zone`) only finds the memory and the worker's slot.

use core::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};

use crate::call_error::CallError;
use crate::outcome::Status;

/// Worker processes that can count at once (old workers finishing after a
/// reload included); a worker finding none free does not count.
pub const SLOTS: usize = 256;

/// Upper bounds of the hold time buckets, in seconds.
pub const HOLD_BUCKETS: [f64; 13] = [
    0.05, 0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0, 20.0, 30.0,
];

/// Upper bounds of the supervisor call time buckets, in seconds.
pub const CALL_BUCKETS: [f64; 14] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// Why a supervisor call got no reply: a bounded label set.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CallClass {
    Unreachable,
    Timeout,
    Protocol,
}

impl CallClass {
    pub const ALL: [CallClass; 3] = [
        CallClass::Unreachable,
        CallClass::Timeout,
        CallClass::Protocol,
    ];

    pub fn of(e: &CallError) -> CallClass {
        match e {
            CallError::Unreachable(_) => CallClass::Unreachable,
            CallError::Timeout => CallClass::Timeout,
            CallError::Protocol(_) => CallClass::Protocol,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            CallClass::Unreachable => "unreachable",
            CallClass::Timeout => "timeout",
            CallClass::Protocol => "protocol",
        }
    }
}

/// Durations counted per bucket (not cumulative; the last one is +Inf).
#[repr(C)]
pub struct Histogram<const B: usize> {
    buckets: [AtomicU64; B],
    over: AtomicU64,
    sum_us: AtomicU64,
}

impl<const B: usize> Histogram<B> {
    fn observe(&self, bounds: &[f64; B], us: u64) {
        let secs = us as f64 / 1e6;
        match bounds.iter().position(|b| secs <= *b) {
            Some(i) => self.buckets[i].fetch_add(1, Relaxed),
            None => self.over.fetch_add(1, Relaxed),
        };
        self.sum_us.fetch_add(us, Relaxed);
    }

    fn add_to(&self, s: &mut HistogramSnapshot) {
        for (i, b) in self.buckets.iter().enumerate() {
            s.per_bucket[i] += b.load(Relaxed);
        }
        let over = self.over.load(Relaxed);
        s.count += over + self.buckets.iter().map(|b| b.load(Relaxed)).sum::<u64>();
        s.sum_us += self.sum_us.load(Relaxed);
    }
}

/// What one worker counted.
#[repr(C, align(128))]
pub struct Slot {
    /// The worker process that owns the slot (0: free).
    owner: AtomicU64,
    requests: [AtomicU64; Status::ALL.len()],
    held: AtomicI64,
    hold: Histogram<{ HOLD_BUCKETS.len() }>,
    token_hits: AtomicU64,
    token_misses: AtomicU64,
    call_errors: [AtomicU64; CallClass::ALL.len()],
    calls: Histogram<{ CALL_BUCKETS.len() }>,
}

impl Slot {
    /// A request the module handled ended with `status`.
    pub fn request(&self, status: Status) {
        let i = Status::ALL.iter().position(|s| *s == status).unwrap_or(0);
        self.requests[i].fetch_add(1, Relaxed);
    }

    /// A request starts waiting for its channel to be ready.
    pub fn hold_started(&self) {
        self.held.fetch_add(1, Relaxed);
    }

    /// A held request stops waiting, after `us` microseconds.
    pub fn hold_ended(&self, us: u64) {
        self.held.fetch_sub(1, Relaxed);
        self.hold.observe(&HOLD_BUCKETS, us);
    }

    pub fn token_lookup(&self, hit: bool) {
        if hit {
            self.token_hits.fetch_add(1, Relaxed);
        } else {
            self.token_misses.fetch_add(1, Relaxed);
        }
    }

    /// A supervisor call ended after `us` microseconds, with a reply or not.
    pub fn call(&self, us: u64, error: Option<CallClass>) {
        self.calls.observe(&CALL_BUCKETS, us);
        if let Some(c) = error {
            let i = CallClass::ALL.iter().position(|x| *x == c).unwrap_or(0);
            self.call_errors[i].fetch_add(1, Relaxed);
        }
    }
}

/// The whole zone's content.
#[repr(C)]
pub struct Counters {
    pub slots: [Slot; SLOTS],
}

impl Counters {
    /// The slot of process `pid`: the one it has, else a free one, else one
    /// whose owner is gone (`alive` says), whose held gauge is then reset
    /// (its requests ended with it; its counters stay, as totals do).
    pub fn claim(&self, pid: u64, alive: impl Fn(u64) -> bool) -> Option<&Slot> {
        if let Some(s) = self.slots.iter().find(|s| s.owner.load(Relaxed) == pid) {
            return Some(s);
        }
        for s in &self.slots {
            if s.owner.compare_exchange(0, pid, Relaxed, Relaxed).is_ok() {
                return Some(s);
            }
        }
        for s in &self.slots {
            let owner = s.owner.load(Relaxed);
            if !alive(owner)
                && s.owner
                    .compare_exchange(owner, pid, Relaxed, Relaxed)
                    .is_ok()
            {
                s.held.store(0, Relaxed);
                return Some(s);
            }
        }
        None
    }

    /// Everything summed over the slots; the held gauge and the worker
    /// count only over workers that are `alive`.
    pub fn snapshot(&self, alive: impl Fn(u64) -> bool) -> Snapshot {
        let mut s = Snapshot::default();
        for slot in &self.slots {
            let owner = slot.owner.load(Relaxed);
            if owner == 0 {
                continue;
            }
            if alive(owner) {
                s.workers += 1;
                s.held += slot.held.load(Relaxed).max(0) as u64;
            }
            for (i, n) in slot.requests.iter().enumerate() {
                s.requests[i] += n.load(Relaxed);
            }
            slot.hold.add_to(&mut s.hold);
            s.token_hits += slot.token_hits.load(Relaxed);
            s.token_misses += slot.token_misses.load(Relaxed);
            for (i, n) in slot.call_errors.iter().enumerate() {
                s.call_errors[i] += n.load(Relaxed);
            }
            slot.calls.add_to(&mut s.calls);
        }
        s
    }
}

/// A histogram's sums over the workers.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct HistogramSnapshot {
    /// Per bucket, not cumulative, in the bounds' order.
    pub per_bucket: Vec<u64>,
    pub count: u64,
    pub sum_us: u64,
}

impl HistogramSnapshot {
    fn empty(n: usize) -> Self {
        HistogramSnapshot {
            per_bucket: vec![0; n],
            count: 0,
            sum_us: 0,
        }
    }
}

/// What a scrape shows of the module.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    /// Per `$stream_autostart_status`, in `Status::ALL` order.
    pub requests: [u64; Status::ALL.len()],
    pub held: u64,
    pub hold: HistogramSnapshot,
    pub token_hits: u64,
    pub token_misses: u64,
    /// In `CallClass::ALL` order.
    pub call_errors: [u64; CallClass::ALL.len()],
    pub calls: HistogramSnapshot,
    pub workers: u64,
}

impl Default for Snapshot {
    fn default() -> Self {
        Snapshot {
            requests: [0; Status::ALL.len()],
            held: 0,
            hold: HistogramSnapshot::empty(HOLD_BUCKETS.len()),
            token_hits: 0,
            token_misses: 0,
            call_errors: [0; CallClass::ALL.len()],
            calls: HistogramSnapshot::empty(CALL_BUCKETS.len()),
            workers: 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Zeroed memory, as the shared zone starts.
    fn zeroed() -> Box<Counters> {
        let layout = std::alloc::Layout::new::<Counters>();
        // SAFETY: every field of Counters is an atomic integer, for which
        // all-zero bytes are a valid value; the layout is Counters'.
        unsafe { Box::from_raw(std::alloc::alloc_zeroed(layout) as *mut Counters) }
    }

    #[test]
    fn workers_add_up() {
        let c = zeroed();
        let a = c.claim(100, |_| true).unwrap();
        let b = c.claim(200, |_| true).unwrap();
        assert!(!core::ptr::eq(a, b));
        assert!(core::ptr::eq(a, c.claim(100, |_| true).unwrap()));
        a.request(Status::Hit);
        b.request(Status::Hit);
        b.request(Status::Started);
        a.token_lookup(true);
        b.token_lookup(false);
        let s = c.snapshot(|_| true);
        assert_eq!(s.workers, 2);
        assert_eq!(s.requests[0], 2);
        assert_eq!(s.requests[1], 1);
        assert_eq!((s.token_hits, s.token_misses), (1, 1));
    }

    #[test]
    fn hold_gauge_and_histogram() {
        let c = zeroed();
        let a = c.claim(1, |_| true).unwrap();
        a.hold_started();
        a.hold_started();
        assert_eq!(c.snapshot(|_| true).held, 2);
        a.hold_ended(40_000); // 0.04 s: first bucket
        a.hold_ended(31_000_000); // over 30 s: +Inf only
        let s = c.snapshot(|_| true);
        assert_eq!(s.held, 0);
        assert_eq!(s.hold.per_bucket[0], 1);
        assert_eq!(s.hold.per_bucket.iter().sum::<u64>(), 1);
        assert_eq!(s.hold.count, 2);
        assert_eq!(s.hold.sum_us, 31_040_000);
    }

    #[test]
    fn a_dead_workers_slot_is_reused_and_its_gauge_dropped() {
        let c = zeroed();
        for pid in 1..=SLOTS as u64 {
            c.claim(pid, |_| true).unwrap();
        }
        assert!(c.claim(9999, |_| true).is_none(), "all taken");
        let dead = c.claim(7, |_| true).unwrap();
        dead.hold_started();
        dead.request(Status::Failed);
        let alive = |p: u64| p != 7;
        // Its held request is not shown, its count is.
        let s = c.snapshot(alive);
        assert_eq!((s.held, s.workers), (0, SLOTS as u64 - 1));
        assert_eq!(s.requests[11], 1);
        let new = c.claim(9999, alive).unwrap();
        assert!(core::ptr::eq(new, dead));
        let s = c.snapshot(|_| true);
        assert_eq!((s.held, s.requests[11]), (0, 1));
    }

    #[test]
    fn call_errors_by_class() {
        let c = zeroed();
        let a = c.claim(1, |_| true).unwrap();
        a.call(500, None);
        a.call(5_000_000, Some(CallClass::of(&CallError::Timeout)));
        a.call(
            100,
            Some(CallClass::of(&CallError::Unreachable("x".into()))),
        );
        let s = c.snapshot(|_| true);
        assert_eq!(s.call_errors, [1, 1, 0]);
        assert_eq!(s.calls.count, 3);
        assert_eq!(s.calls.per_bucket[0], 2, "<= 1 ms");
    }

    #[test]
    fn a_slot_is_cache_line_sized() {
        assert_eq!(core::mem::size_of::<Slot>() % 128, 0);
        assert!(core::mem::size_of::<Counters>() < 256 * 1024);
    }
}
