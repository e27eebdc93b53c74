//! A running channel as the registry holds it: its state (what `ensure`
//! waiters wait for), what `status` shows of it, and its stop request.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use tokio::sync::{watch, Notify};
use tracing::debug;

use super::failover::Skipped;
use shared::protocol::{ErrorCode, StreamState};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum State {
    Starting,
    Ready,
    Restarting,
    /// Gave up until the cool-down ends; the message says why.
    Failed(String),
    /// Final: the channel is gone; why, as a reply error.
    Ended(ErrorCode, String),
}

impl State {
    pub(super) fn public(&self) -> StreamState {
        match self {
            State::Starting => StreamState::Starting,
            State::Ready => StreamState::Ready,
            State::Restarting => StreamState::Restarting,
            State::Failed(_) => StreamState::Failed,
            State::Ended(..) => StreamState::Stopping,
        }
    }

    /// A state an `ensure` waiter answers on.
    pub(super) fn settled(&self) -> bool {
        matches!(self, State::Ready | State::Failed(_) | State::Ended(..))
    }
}

/// What `status` shows besides the state.
#[derive(Default)]
pub(super) struct Info {
    pub(super) pid: Option<u32>,
    pub(super) started: u64,
    pub(super) restarts: u32,
    pub(super) reason: Option<String>,
    pub(super) source: Option<String>,
    pub(super) proxy: Option<String>,
    /// Why upstream TLS is not verified, if it is not.
    pub(super) tls: Option<String>,
    /// Failover sources given up on.
    pub(super) skipped: Skipped,
    /// Stream keys were written to Redis and must be cleared.
    pub(super) keys_written: bool,
}

pub struct Channel {
    pub(super) id: String,
    pub(super) state: watch::Sender<State>,
    pub(super) last_watched: Mutex<Instant>,
    pub(super) stop: Notify,
    pub(super) stop_reason: Mutex<Option<String>>,
    pub(super) info: Mutex<Info>,
    pub(super) adhoc: Option<Adhoc>,
    /// When the channel started, and whether it has been ready since
    /// (its cold start time is measured once).
    pub(super) begun: Instant,
    pub(super) was_ready: AtomicBool,
    /// Cluster mode: this run's lease (`<node> <fence>`) and its keeper.
    pub(super) lease: Mutex<Option<String>>,
    pub(super) keeper: Mutex<Option<tokio::task::JoinHandle<()>>>,
    /// Cluster mode: a run became ready; its keeper records the HLS
    /// position at once (takeover.rs), off the run loop.
    pub(super) record_position: Notify,
    /// Cluster mode: the node (id, URL) that won the lease instead.
    pub(super) moved: Mutex<Option<(String, String)>>,
}

impl Channel {
    pub(super) fn touch(&self) {
        *self.last_watched.lock().unwrap() = Instant::now();
    }

    pub(super) fn idle_for(&self) -> Duration {
        self.last_watched.lock().unwrap().elapsed()
    }

    pub(super) fn request_stop(&self, why: &str) {
        self.stop_reason
            .lock()
            .unwrap()
            .get_or_insert_with(|| why.to_string());
        self.stop.notify_one();
    }

    pub(super) fn stopped(&self) -> State {
        let why = self.stop_reason.lock().unwrap().clone().unwrap_or_default();
        State::Ended(
            ErrorCode::NotRunning,
            format!("channel {} stopped: {why}", self.id),
        )
    }

    /// The end of a channel nobody watched for the idle limit.
    pub(super) fn idle_end(&self) -> State {
        State::Ended(
            ErrorCode::NotRunning,
            format!("channel {} stopped: idle", self.id),
        )
    }

    /// The channel is ready: its first time counts as a cold start, whose
    /// milliseconds are returned.
    pub(super) fn mark_ready(&self) -> Option<u64> {
        if self.was_ready.swap(true, Ordering::Relaxed) {
            return None;
        }
        let took = self.begun.elapsed();
        crate::metrics::ready_after(took);
        Some(u64::try_from(took.as_millis()).unwrap_or(u64::MAX))
    }

    pub(super) fn set_state(&self, new: State) {
        let name = new.public().as_str();
        self.state.send_replace(new);
        debug!(channel = %self.id, state = name, "state");
    }
}

/// An operator's ad-hoc source (and quality) for a channel start.
#[derive(Debug, Clone)]
pub struct Adhoc {
    pub source: String,
    pub quality: Option<String>,
}
