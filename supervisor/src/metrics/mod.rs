//! The supervisor's Prometheus metrics. Counters and histograms are
//! atomics in one static registry, bumped where things happen (a start, a
//! ready playlist, a failure, a Redis call, a socket connection) at the
//! cost of a relaxed add; everything else (states, per-channel CPU and
//! memory from /proc, sessions) is read only when the `metrics` op asks.
//!
//! `histogram`: the bucketed durations; `reason`: failure classes (bounded
//! label values); `procfs`: /proc/<pid>/stat and statm; `text`: the
//! exposition format; `collect`: a snapshot of a running supervisor.

pub mod collect;
pub mod histogram;
pub mod procfs;
pub mod reason;
pub mod text;

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use histogram::{Histogram, REDIS_BUCKETS, START_BUCKETS};
pub use reason::{classify, Reason};

/// The counters of this process.
pub struct Registry {
    starts: AtomicU64,
    restarts: [AtomicU64; Reason::ALL.len()],
    failures: [AtomicU64; Reason::ALL.len()],
    start_seconds: Histogram,
    redis_errors: AtomicU64,
    redis_seconds: Histogram,
    socket_connections: AtomicU64,
}

static REGISTRY: Registry = Registry {
    starts: AtomicU64::new(0),
    restarts: [const { AtomicU64::new(0) }; Reason::ALL.len()],
    failures: [const { AtomicU64::new(0) }; Reason::ALL.len()],
    start_seconds: Histogram::new(START_BUCKETS),
    redis_errors: AtomicU64::new(0),
    redis_seconds: Histogram::new(REDIS_BUCKETS),
    socket_connections: AtomicU64::new(0),
};

pub fn registry() -> &'static Registry {
    &REGISTRY
}

/// A channel that was not running starts.
pub fn started() {
    REGISTRY.starts.fetch_add(1, Relaxed);
}

/// A started channel's first ready playlist, `took` after its start.
pub fn ready_after(took: Duration) {
    REGISTRY.start_seconds.observe(took);
}

/// ffmpeg is started again (for the reason given).
pub fn restarted(why: Reason) {
    REGISTRY.restarts[why.index()].fetch_add(1, Relaxed);
}

/// An ffmpeg run failed, or a start was refused.
pub fn failed(why: Reason) {
    REGISTRY.failures[why.index()].fetch_add(1, Relaxed);
}

/// One Redis round trip (or a failed attempt to connect: `ok` false).
pub fn redis_call(took: Option<Duration>, ok: bool) {
    if let Some(d) = took {
        REGISTRY.redis_seconds.observe(d);
    }
    if !ok {
        REGISTRY.redis_errors.fetch_add(1, Relaxed);
    }
}

/// An open socket connection, counted until dropped.
pub struct Connection(());

pub fn connection_opened() -> Connection {
    REGISTRY.socket_connections.fetch_add(1, Relaxed);
    Connection(())
}

impl Drop for Connection {
    fn drop(&mut self) {
        REGISTRY.socket_connections.fetch_sub(1, Relaxed);
    }
}

impl Registry {
    /// The cold-start histogram now (the dashboard's chart).
    pub fn start_snapshot(&self) -> histogram::HistogramSnapshot {
        self.start_seconds.snapshot()
    }

    fn per_reason(a: &[AtomicU64]) -> Vec<u64> {
        a.iter().map(|n| n.load(Relaxed)).collect()
    }
}
