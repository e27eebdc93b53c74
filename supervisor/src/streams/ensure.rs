//! Starting a channel and waiting for it: `ensure` (viewers), the
//! operator's `start` and `restart`, and taking a slot for a new channel.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::{watch, Notify};
use tracing::warn;

use super::admission::{over_capacity, takes_a_slot};
use super::channel::{Adhoc, Channel, Info, State};
use super::{Ensured, Streams};
use crate::ffmpeg_args;
use shared::channel_id;
use shared::overview::EventKind;
use shared::protocol::ErrorCode;

impl Streams {
    /// Starts the channel if it is not running and waits up to `wait` for
    /// it to be ready. Concurrent callers share one ffmpeg. A failed channel
    /// answers at once.
    pub async fn ensure(self: &Arc<Self>, id: &str, wait: Duration) -> Ensured {
        self.ensure_with(id, wait, None, false).await
    }

    /// `ensure`; `placed`: another node sent the viewer here (cluster
    /// mode), so a free channel starts here instead of being placed again.
    pub async fn ensure_as(self: &Arc<Self>, id: &str, wait: Duration, placed: bool) -> Ensured {
        self.ensure_with(id, wait, None, placed).await
    }

    async fn ensure_with(
        self: &Arc<Self>,
        id: &str,
        wait: Duration,
        mut adhoc: Option<Adhoc>,
        placed: bool,
    ) -> Ensured {
        if let Err(e) = channel_id::validate(id.as_bytes()) {
            return Ensured::Error(ErrorCode::InvalidChannel, e.to_string());
        }
        let deadline = tokio::time::Instant::now() + wait;
        // A channel may end (idle stop) just as we find it: then start anew.
        let mut started = false;
        for _ in 0..2 {
            if self.shutting_down.load(Ordering::SeqCst) {
                return Ensured::Error(
                    ErrorCode::ShuttingDown,
                    "supervisor is shutting down".into(),
                );
            }
            // Only configured channels (or an operator's ad-hoc run) may
            // take a slot: asked before anything is held or written.
            if !self.is_running(id) {
                if let Err((code, msg)) = self.may_start(id, adhoc.as_ref()).await {
                    return Ensured::Error(code, msg);
                }
                // Cluster mode: it may run, or belong, on another node.
                if let Some(c) = self.cluster.clone() {
                    if let Some(answer) = self.route_cold(&c, id, placed).await {
                        return answer;
                    }
                }
            }
            let ch = match self.get_or_start(id, adhoc.take()) {
                Ok((ch, created)) => {
                    started |= created;
                    ch
                }
                Err(e) => return e,
            };
            ch.touch();
            let mut rx = ch.state.subscribe();
            let waited = tokio::time::timeout_at(deadline, rx.wait_for(State::settled)).await;
            let state = match waited {
                Ok(Ok(s)) => s.clone(),
                Ok(Err(_)) => State::Ended(ErrorCode::Internal, "channel task vanished".into()),
                Err(_) => {
                    let last = ch
                        .info
                        .lock()
                        .unwrap()
                        .reason
                        .as_ref()
                        .map(|r| format!(" (last failure: {r})"))
                        .unwrap_or_default();
                    return Ensured::Error(
                        ErrorCode::Timeout,
                        format!(
                            "channel {id} has no segment after {} ms; ffmpeg is still trying{last}",
                            wait.as_millis()
                        ),
                    );
                }
            };
            match state {
                State::Ready => {
                    // The viewer is served now, not when it asked: a slow
                    // start must not count against the idle timeout.
                    ch.touch();
                    return Ensured::Ready {
                        playlist: ffmpeg_args::playlist_path(&self.cfg.hls_dir, id),
                        started,
                    };
                }
                State::Failed(msg) => return Ensured::Error(ErrorCode::Failed, msg),
                State::Ended(ErrorCode::NotRunning, _) => continue,
                State::Ended(ErrorCode::Elsewhere, msg) => {
                    let (node, url) = ch.moved.lock().unwrap().clone().unwrap_or_default();
                    return Ensured::Elsewhere { node, url, msg };
                }
                State::Ended(code, msg) => return Ensured::Error(code, msg),
                State::Starting | State::Restarting => unreachable!(),
            }
        }
        Ensured::Error(
            ErrorCode::Failed,
            format!("channel {id} stopped while starting"),
        )
    }

    pub(super) fn is_running(&self, id: &str) -> bool {
        self.map.lock().unwrap().contains_key(id)
    }

    /// Operator start: a failed channel is retried now, not after its
    /// cool-down. An ad-hoc source starts an id without a record; it never
    /// replaces the source of a stored channel or of a running one.
    pub async fn start(
        self: &Arc<Self>,
        id: &str,
        wait: Duration,
        adhoc: Option<Adhoc>,
    ) -> Ensured {
        let (failed, running_adhoc) = {
            let map = self.map.lock().unwrap();
            match map.get(id) {
                Some(ch) => (
                    matches!(*ch.state.borrow(), State::Failed(_)),
                    Some(ch.adhoc.as_ref().map(|a| a.source.clone())),
                ),
                None => (false, None),
            }
        };
        // A stored channel is refused an ad-hoc source whether it runs or not.
        if adhoc.is_some() && running_adhoc.as_ref().is_some_and(Option::is_none) {
            if let Err((code, msg)) = self.may_start(id, adhoc.as_ref()).await {
                return Ensured::Error(code, msg);
            }
        }
        if let (Some(a), Some(running)) = (&adhoc, &running_adhoc) {
            if running.as_deref() != Some(a.source.as_str()) {
                return Ensured::Error(
                    ErrorCode::BadRequest,
                    format!(
                        "channel {id} is running from another source; stop it before starting it with source_url"
                    ),
                );
            }
        }
        if failed {
            self.stop(id, "operator start").await;
        }
        self.ensure_with(id, wait, adhoc, false).await
    }

    /// Operator restart: stop if running, start afresh.
    pub async fn restart(self: &Arc<Self>, id: &str, wait: Duration) -> Ensured {
        if self.stop(id, "operator restart").await {
            crate::metrics::restarted(crate::metrics::Reason::Operator);
        }
        self.ensure(id, wait).await
    }

    fn get_or_start(
        self: &Arc<Self>,
        id: &str,
        adhoc: Option<Adhoc>,
    ) -> Result<(Arc<Channel>, bool), Ensured> {
        let mut map = self.map.lock().unwrap();
        if let Some(ch) = map.get(id) {
            return Ok((ch.clone(), false));
        }
        let max = self.cfg.max_streams;
        if max > 0 {
            let running = map
                .values()
                .filter(|ch| takes_a_slot(&ch.state.borrow()))
                .count();
            if let Some(why) = over_capacity(running, max) {
                warn!(channel = %id, running, max, "at capacity, not starting");
                crate::metrics::failed(crate::metrics::Reason::Capacity);
                return Err(Ensured::Error(ErrorCode::Capacity, why));
            }
        }
        let ch = Arc::new(Channel {
            id: id.to_string(),
            state: watch::Sender::new(State::Starting),
            last_watched: Mutex::new(Instant::now()),
            stop: Notify::new(),
            stop_reason: Mutex::new(None),
            info: Mutex::new(Info::default()),
            adhoc,
            begun: Instant::now(),
            was_ready: AtomicBool::new(false),
            lease: Mutex::new(None),
            keeper: Mutex::new(None),
            record_position: Notify::new(),
            moved: Mutex::new(None),
        });
        map.insert(id.to_string(), ch.clone());
        crate::metrics::started();
        self.event(id, EventKind::Start, None, None);
        let this = self.clone();
        let task_ch = ch.clone();
        tokio::spawn(async move { this.run_channel(task_ch).await });
        Ok((ch, true))
    }
}
