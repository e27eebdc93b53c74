//! Running channels: one task per channel owns its ffmpeg, restarts it with
//! back-off when it exits or stalls, gives up (for a cool-down) when it
//! keeps failing, publishes the channel's state to everyone waiting, and
//! stops it when idle.
//!
//! This file is the registry: which channels run, starting one within the
//! capacity, waiting for it, stopping it, and what `status` shows. A
//! channel's task is in `lifecycle`, its choice of source in `failover`,
//! one ffmpeg run in `run`.

mod failover;
mod lease;
mod lifecycle;
mod readiness;
mod route;
mod run;
mod takeover;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::{watch, Notify};
use tracing::{debug, warn};

use super::config::Cli;
use super::ffmpeg_args;
use super::hls_files;
use super::redact;
use super::restart_policy::Policy;
use super::store::{Keys, Store};
use failover::Skipped;
use shared::channel_id;
use shared::overview::EventKind;
use shared::protocol::{ErrorCode, SkippedSource, StreamInfo, StreamState};

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
    fn public(&self) -> StreamState {
        match self {
            State::Starting => StreamState::Starting,
            State::Ready => StreamState::Ready,
            State::Restarting => StreamState::Restarting,
            State::Failed(_) => StreamState::Failed,
            State::Ended(..) => StreamState::Stopping,
        }
    }

    /// A state an `ensure` waiter answers on.
    fn settled(&self) -> bool {
        matches!(self, State::Ready | State::Failed(_) | State::Ended(..))
    }
}

/// What `status` shows besides the state.
#[derive(Default)]
struct Info {
    pid: Option<u32>,
    started: u64,
    restarts: u32,
    reason: Option<String>,
    source: Option<String>,
    proxy: Option<String>,
    /// Why upstream TLS is not verified, if it is not.
    tls: Option<String>,
    /// Failover sources given up on.
    skipped: Skipped,
    /// Stream keys were written to Redis and must be cleared.
    keys_written: bool,
}

pub struct Channel {
    id: String,
    state: watch::Sender<State>,
    last_watched: Mutex<Instant>,
    stop: Notify,
    stop_reason: Mutex<Option<String>>,
    info: Mutex<Info>,
    adhoc: Option<Adhoc>,
    /// When the channel started, and whether it has been ready since
    /// (its cold start time is measured once).
    begun: Instant,
    was_ready: AtomicBool,
    /// Cluster mode: this run's lease (`<node> <fence>`) and its keeper.
    lease: Mutex<Option<String>>,
    keeper: Mutex<Option<tokio::task::JoinHandle<()>>>,
    /// Cluster mode: a run became ready; its keeper records the HLS
    /// position at once (takeover.rs), off the run loop.
    record_position: Notify,
    /// Cluster mode: the node (id, URL) that won the lease instead.
    moved: Mutex<Option<(String, String)>>,
}

impl Channel {
    fn touch(&self) {
        *self.last_watched.lock().unwrap() = Instant::now();
    }

    fn idle_for(&self) -> Duration {
        self.last_watched.lock().unwrap().elapsed()
    }

    fn request_stop(&self, why: &str) {
        self.stop_reason
            .lock()
            .unwrap()
            .get_or_insert_with(|| why.to_string());
        self.stop.notify_one();
    }

    fn stopped(&self) -> State {
        let why = self.stop_reason.lock().unwrap().clone().unwrap_or_default();
        State::Ended(
            ErrorCode::NotRunning,
            format!("channel {} stopped: {why}", self.id),
        )
    }

    /// The end of a channel nobody watched for the idle limit.
    fn idle_end(&self) -> State {
        State::Ended(
            ErrorCode::NotRunning,
            format!("channel {} stopped: idle", self.id),
        )
    }

    /// The channel is ready: its first time counts as a cold start, whose
    /// milliseconds are returned.
    fn mark_ready(&self) -> Option<u64> {
        if self.was_ready.swap(true, Ordering::Relaxed) {
            return None;
        }
        let took = self.begun.elapsed();
        crate::metrics::ready_after(took);
        Some(u64::try_from(took.as_millis()).unwrap_or(u64::MAX))
    }

    fn set_state(&self, new: State) {
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

pub struct Streams {
    cfg: Arc<Cli>,
    store: Arc<Store>,
    map: Mutex<HashMap<String, Arc<Channel>>>,
    shutting_down: AtomicBool,
    policy: Policy,
    pub catalog: super::catalog::Catalog,
    /// Live viewing sessions (accounts/sessions.rs).
    pub sessions: crate::accounts::sessions::Sessions,
    /// Each channel's recent events, for the dashboard.
    pub history: crate::history::History,
    /// Cluster mode (--node-id): this node.
    cluster: Option<Arc<crate::cluster::Cluster>>,
}

/// The answer to `ensure`.
pub enum Ensured {
    /// `started`: this call started the channel.
    Ready {
        playlist: PathBuf,
        started: bool,
    },
    Error(ErrorCode, String),
    /// Cluster mode: another node runs the channel or should start it.
    Elsewhere {
        node: String,
        url: String,
        msg: String,
    },
}

impl Streams {
    pub fn new(cfg: Arc<Cli>, store: Arc<Store>) -> Arc<Streams> {
        let policy = Policy {
            base: cfg.restart_delay,
            cap: cfg.restart_max_delay,
            max_failures: cfg.max_failures,
            window: cfg.failure_window,
        };
        let sessions =
            crate::accounts::sessions::Sessions::new(cfg.session_idle, cfg.connection_limit_policy);
        // main.rs has refused an unusable --node-id or --node-url.
        let cluster = crate::cluster::Cluster::from_cli(&cfg)
            .ok()
            .flatten()
            .map(Arc::new);
        Arc::new(Streams {
            cluster,
            sessions,
            cfg,
            store,
            map: Mutex::new(HashMap::new()),
            shutting_down: false.into(),
            policy,
            catalog: Default::default(),
            history: Default::default(),
        })
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// This node, in cluster mode.
    pub fn cluster(&self) -> Option<&Arc<crate::cluster::Cluster>> {
        self.cluster.as_ref()
    }

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

    fn is_running(&self, id: &str) -> bool {
        self.map.lock().unwrap().contains_key(id)
    }

    /// Whether a channel that is not running may start: it has a record,
    /// or it has none and an operator gives an ad-hoc source.
    async fn may_start(&self, id: &str, adhoc: Option<&Adhoc>) -> Result<(), (ErrorCode, String)> {
        let key = self.store.shown(&Keys::channel(id));
        match self.store.get(&Keys::channel(id)).await {
            Ok(record) => start_admission(id, &key, record.is_some(), adhoc.is_some()),
            Err(e) => Err((ErrorCode::Unavailable, e.to_string())),
        }
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

    /// How often the module should report viewers.
    pub fn touch_interval_ms(&self) -> u64 {
        touch_interval_ms(self.cfg.idle_timeout)
    }

    /// When an unwatched channel stops.
    fn idle_limit(&self) -> Duration {
        idle_limit(self.cfg.idle_timeout)
    }

    /// Nobody has watched the channel for the idle limit.
    fn is_idle(&self, ch: &Channel) -> bool {
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

    /// Stops a channel and waits until it is gone.
    pub async fn stop(&self, id: &str, why: &str) -> bool {
        let ch = self.map.lock().unwrap().get(id).cloned();
        let Some(ch) = ch else { return false };
        let mut rx = ch.state.subscribe();
        ch.request_stop(why);
        let _ = rx.wait_for(|s| matches!(s, State::Ended(..))).await;
        true
    }

    /// Stops everything (shutdown).
    pub async fn stop_all(&self) {
        self.shutting_down.store(true, Ordering::SeqCst);
        let channels: Vec<Arc<Channel>> = self.map.lock().unwrap().values().cloned().collect();
        let mut waits = Vec::new();
        for ch in &channels {
            waits.push(ch.state.subscribe());
            ch.request_stop("supervisor shutting down");
        }
        for mut rx in waits {
            let _ = rx.wait_for(|s| matches!(s, State::Ended(..))).await;
        }
    }

    /// Records an event in the channel's recent history.
    fn event(&self, id: &str, kind: EventKind, ms: Option<u64>, why: Option<&str>) {
        let now = crate::history::unix_now();
        self.history.record(id, now, kind, ms, why);
    }

    pub fn config(&self) -> &Cli {
        &self.cfg
    }

    /// What the metrics show of each running channel: id, state, ffmpeg's
    /// pid. Cheap: no file is read under the lock.
    pub fn metric_channels(&self) -> Vec<(String, StreamState, Option<u32>)> {
        let map = self.map.lock().unwrap();
        map.values()
            .map(|ch| {
                let pid = ch.info.lock().unwrap().pid;
                (ch.id.clone(), ch.state.borrow().public(), pid)
            })
            .collect()
    }

    pub fn status(&self, id: Option<&str>) -> Vec<StreamInfo> {
        let map = self.map.lock().unwrap();
        let mut out: Vec<StreamInfo> = map
            .values()
            .filter(|ch| id.is_none_or(|id| ch.id == id))
            .map(|ch| {
                let info = ch.info.lock().unwrap();
                StreamInfo {
                    channel: ch.id.clone(),
                    state: ch.state.borrow().public(),
                    pid: info.pid,
                    started: info.started,
                    idle_secs: ch.idle_for().as_secs(),
                    segments: hls_files::segment_count(&self.cfg.hls_dir, &ch.id),
                    restarts: info.restarts,
                    // Shown to operators and over the API: no credentials.
                    reason: info.reason.as_deref().map(redact::text),
                    source: info.source.as_deref().map(redact::url),
                    proxy: info.proxy.clone(),
                    tls: info.tls.clone(),
                    skipped: info
                        .skipped
                        .iter()
                        .map(|(source, reason)| SkippedSource {
                            source: redact::url(source),
                            reason: redact::text(reason),
                        })
                        .collect(),
                    node: self.cluster.as_ref().map(|c| c.node.clone()),
                }
            })
            .collect();
        out.sort_by(|a, b| a.channel.cmp(&b.channel));
        out
    }
}

/// Whether a channel that does not run may start: a stored channel
/// without an ad-hoc source, or an ad-hoc source for an id with no record
/// (`key` names the record in messages).
fn start_admission(
    id: &str,
    key: &str,
    has_record: bool,
    adhoc: bool,
) -> Result<(), (ErrorCode, String)> {
    match (has_record, adhoc) {
        (true, false) | (false, true) => Ok(()),
        (false, false) => Err((
            ErrorCode::UnknownChannel,
            format!("no channel {id}: Redis has no {key} key"),
        )),
        (true, true) => Err((
            ErrorCode::BadRequest,
            format!(
                "channel {id} has a record ({key}): source_url starts only ids without one; change the record with `stream-supervisor channels edit {id} --source ...`"
            ),
        )),
    }
}

/// Whether a channel counts against `--max-streams`: failed channels run
/// nothing, they only remember why.
fn takes_a_slot(state: &State) -> bool {
    !matches!(state, State::Failed(_))
}

/// Why one more channel may not start when `running` channels take a slot
/// and at most `max` may (0: no limit); `None` if it may.
fn over_capacity(running: usize, max: usize) -> Option<String> {
    (max > 0 && running >= max)
        .then(|| format!("{running} streams are running, the most allowed (--max-streams {max})"))
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
    fn failed_channels_do_not_count_against_the_capacity() {
        assert!(takes_a_slot(&State::Starting));
        assert!(takes_a_slot(&State::Ready));
        assert!(takes_a_slot(&State::Restarting));
        assert!(!takes_a_slot(&State::Failed("gave up".into())));
    }

    #[test]
    fn only_stored_channels_or_adhoc_ids_may_start() {
        assert_eq!(start_admission("7", "channel:7", true, false), Ok(()));
        assert_eq!(start_admission("x", "channel:x", false, true), Ok(()));
        let (code, msg) = start_admission("r4nd", "tv:channel:r4nd", false, false).unwrap_err();
        assert_eq!(code, ErrorCode::UnknownChannel);
        assert_eq!(msg, "no channel r4nd: Redis has no tv:channel:r4nd key");
        // An ad-hoc source never replaces a stored channel's.
        let (code, msg) = start_admission("7", "channel:7", true, true).unwrap_err();
        assert_eq!(code, ErrorCode::BadRequest);
        assert!(msg.contains("starts only ids without one"), "{msg}");
    }

    #[test]
    fn capacity() {
        // 0 is no limit.
        assert_eq!(over_capacity(0, 0), None);
        assert_eq!(over_capacity(10_000, 0), None);
        assert_eq!(over_capacity(0, 2), None);
        assert_eq!(over_capacity(1, 2), None);
        assert_eq!(
            over_capacity(2, 2).as_deref(),
            Some("2 streams are running, the most allowed (--max-streams 2)")
        );
        // Lowered limits (a restart with a smaller --max-streams) refuse too.
        assert!(over_capacity(5, 2).is_some());
    }

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
