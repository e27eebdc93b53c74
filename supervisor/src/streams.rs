//! Running channels: one task per channel owns its ffmpeg, restarts it with
//! back-off when it exits or stalls, gives up (for a cool-down) when it
//! keeps failing, publishes the channel's state to everyone waiting, and
//! stops it when idle.

use std::collections::{HashMap, VecDeque};
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::{watch, Notify};
use tracing::{debug, error, info, warn};

use super::channel_record::{self, ProxyChoice, RequestOptions};
use super::config::Cli;
use super::ffmpeg_args::{self, HlsOutput, Input, Quality};
use super::ffmpeg_reason;
use super::hls_files;
use super::process;
use super::proxy::{self, Proxy};
use super::restart_policy::{Failures, Jitter, Policy, Verdict};
use super::socks_bridge::Bridge;
use super::store::Store;
use shared::channel_id;
use shared::playlist;
use shared::protocol::{ErrorCode, SkippedSource, StreamInfo, StreamState};

/// stderr lines kept per channel for failure reasons.
const STDERR_TAIL: usize = 30;

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
    /// Failover sources given up on: (source, reason).
    skipped: Vec<(String, String)>,
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

    fn set_state(&self, new: State) {
        let name = new.public().as_str();
        self.state.send_replace(new);
        debug!(channel = %self.id, state = name, "state");
    }
}

/// What one ffmpeg run came to.
enum Outcome {
    /// Stopped on purpose (idle, operator, shutdown): the channel ends.
    Ended(State),
    /// ffmpeg exited, stalled or never produced a segment; whether this run
    /// had been ready.
    Failed { reason: String, was_ready: bool },
}

/// An operator's ad-hoc source (and quality) for a channel start.
#[derive(Debug, Clone)]
pub struct Adhoc {
    pub source: String,
    pub quality: Option<String>,
}

/// What a channel's record asks for.
struct Plan {
    sources: Vec<String>,
    quality: Quality,
    options: RequestOptions,
    proxy: Option<Proxy>,
}

pub struct Streams {
    cfg: Arc<Cli>,
    store: Arc<Store>,
    map: Mutex<HashMap<String, Arc<Channel>>>,
    shutting_down: AtomicBool,
    policy: Policy,
    pub catalog: super::catalog::Catalog,
}

/// The answer to `ensure`.
pub enum Ensured {
    /// `started`: this call started the channel.
    Ready {
        playlist: PathBuf,
        started: bool,
    },
    Error(ErrorCode, String),
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl Streams {
    pub fn new(cfg: Arc<Cli>, store: Arc<Store>) -> Arc<Streams> {
        let policy = Policy {
            base: cfg.restart_delay,
            cap: cfg.restart_max_delay,
            max_failures: cfg.max_failures,
            window: cfg.failure_window,
        };
        Arc::new(Streams {
            cfg,
            store,
            map: Mutex::new(HashMap::new()),
            shutting_down: false.into(),
            policy,
            catalog: Default::default(),
        })
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Starts the channel if it is not running and waits up to `wait` for
    /// it to be ready. Concurrent callers share one ffmpeg. A failed channel
    /// answers at once.
    pub async fn ensure(self: &Arc<Self>, id: &str, wait: Duration) -> Ensured {
        self.ensure_with(id, wait, None).await
    }

    async fn ensure_with(
        self: &Arc<Self>,
        id: &str,
        wait: Duration,
        mut adhoc: Option<Adhoc>,
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
                State::Ended(code, msg) => return Ensured::Error(code, msg),
                State::Starting | State::Restarting => unreachable!(),
            }
        }
        Ensured::Error(
            ErrorCode::Failed,
            format!("channel {id} stopped while starting"),
        )
    }

    /// Operator start: a failed channel is retried now, not after its
    /// cool-down.
    pub async fn start(
        self: &Arc<Self>,
        id: &str,
        wait: Duration,
        adhoc: Option<Adhoc>,
    ) -> Ensured {
        let failed = self
            .map
            .lock()
            .unwrap()
            .get(id)
            .is_some_and(|ch| matches!(*ch.state.borrow(), State::Failed(_)));
        if failed {
            self.stop(id, "operator start").await;
        }
        self.ensure_with(id, wait, adhoc).await
    }

    /// Operator restart: stop if running, start afresh.
    pub async fn restart(self: &Arc<Self>, id: &str, wait: Duration) -> Ensured {
        self.stop(id, "operator restart").await;
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
            // Failed channels run nothing; they only remember why.
            let running = map
                .values()
                .filter(|ch| !matches!(*ch.state.borrow(), State::Failed(_)))
                .count();
            if running >= max {
                warn!(channel = %id, running, max, "at capacity, not starting");
                return Err(Ensured::Error(
                    ErrorCode::Capacity,
                    format!(
                        "{running} streams are running, the most allowed (--max-streams {max})"
                    ),
                ));
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
        });
        map.insert(id.to_string(), ch.clone());
        let this = self.clone();
        let task_ch = ch.clone();
        tokio::spawn(async move { this.run_channel(task_ch).await });
        Ok((ch, true))
    }

    /// How often the module should report viewers: a third of the idle
    /// timeout, between 1 and 10 s, so a watched channel never idles out.
    pub fn touch_interval_ms(&self) -> u64 {
        (self.cfg.idle_timeout.as_millis() as u64 / 3).clamp(1_000, 10_000)
    }

    /// When an unwatched channel stops. Workers report viewers at most every
    /// touch interval, so the last report can be that much older than the
    /// last request; waiting for it too means nobody who left less than
    /// `--idle-timeout` ago finds the channel gone.
    fn idle_limit(&self) -> Duration {
        self.cfg.idle_timeout + Duration::from_millis(self.touch_interval_ms())
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
                    reason: info.reason.clone(),
                    source: info.source.clone(),
                    proxy: info.proxy.clone(),
                    skipped: info
                        .skipped
                        .iter()
                        .map(|(source, reason)| SkippedSource {
                            source: source.clone(),
                            reason: reason.clone(),
                        })
                        .collect(),
                }
            })
            .collect();
        out.sort_by(|a, b| a.channel.cmp(&b.channel));
        out
    }

    async fn run_channel(self: Arc<Self>, ch: Arc<Channel>) {
        let end = self.drive(&ch).await;
        // Clean up before anyone can see the channel as gone, so a later
        // viewer never gets this run's files.
        self.clean_up(&ch).await;
        {
            let mut map = self.map.lock().unwrap();
            if map.get(&ch.id).is_some_and(|c| Arc::ptr_eq(c, &ch)) {
                map.remove(&ch.id);
            }
        }
        ch.set_state(end);
    }

    /// Removes the channel's files and stream keys (idempotent).
    async fn clean_up(&self, ch: &Channel) {
        if let Err(e) = hls_files::remove_channel_files(&self.cfg.hls_dir, &ch.id) {
            warn!(channel = %ch.id, error = %e, "cannot remove HLS files");
        }
        let written = std::mem::take(&mut ch.info.lock().unwrap().keys_written);
        if written {
            if let Err(e) = self.store.clear_stream_keys(&ch.id).await {
                warn!(channel = %ch.id, error = %e, "cannot clear stream keys");
            }
        }
    }

    /// Reads the channel's record; an unusable one ends the channel.
    async fn plan(&self, id: &str, adhoc: Option<&Adhoc>) -> Result<Plan, State> {
        let record = match self.store.get(&format!("channel:{id}")).await {
            Ok(Some(json)) => json,
            // An ad-hoc start needs no record.
            Ok(None) if adhoc.is_some() => "{}".to_string(),
            Ok(None) => {
                info!(channel = %id, "unknown channel");
                return Err(State::Ended(
                    ErrorCode::UnknownChannel,
                    format!(
                        "no channel {id}: Redis has no {} key",
                        self.store.key(&format!("channel:{id}"))
                    ),
                ));
            }
            Err(e) => return Err(State::Ended(ErrorCode::Unavailable, e.to_string())),
        };
        let plan = channel_record::parse(&record).and_then(|mut rec| {
            if let Some(a) = adhoc {
                rec.source_url = Some(a.source.clone());
                rec.sources.clear();
                if a.quality.is_some() {
                    rec.quality = a.quality.clone();
                }
            }
            let proxy = match rec.proxy_choice()? {
                ProxyChoice::Default => match &self.cfg.proxy {
                    Some(url) => proxy::parse(url).map_err(|e| format!("--proxy: {e}"))?,
                    None => None,
                },
                ProxyChoice::Direct => None,
                ProxyChoice::Url(url) => proxy::parse(&url)?,
            };
            Ok(Plan {
                sources: rec.sources(&self.cfg.source_schemes.0)?,
                quality: Quality::parse(rec.quality.as_deref())?,
                options: rec.request_options()?,
                proxy,
            })
        });
        plan.map_err(|e| {
            warn!(channel = %id, error = %e, "unusable channel record");
            State::Ended(ErrorCode::BadChannel, format!("channel {id}: {e}"))
        })
    }

    /// Runs the channel until it ends; returns the final state.
    async fn drive(&self, ch: &Channel) -> State {
        let id = &ch.id;
        let plan = match self.plan(id, ch.adhoc.as_ref()).await {
            Ok(p) => p,
            Err(end) => return end,
        };
        ch.info.lock().unwrap().proxy = plan.proxy.as_ref().map(Proxy::display);
        // Leftovers of an earlier run must not count as this run's segments.
        let _ = hls_files::remove_channel_files(&self.cfg.hls_dir, id);
        let mut failures = Failures::default();
        let mut jitter = Jitter::seeded();
        let mut resume = false;
        let n = plan.sources.len();
        let mut idx = 0;
        // Sources tried since the last one that worked, this one included.
        let mut tried = 1;
        loop {
            let source = &plan.sources[idx];
            ch.info.lock().unwrap().source = Some(source.clone());
            let (reason, was_ready) = match self.run_ffmpeg(ch, &plan, source, resume).await {
                Outcome::Ended(end) => return end,
                Outcome::Failed { reason, was_ready } => (reason, was_ready),
            };
            if was_ready {
                tried = 1;
            }
            if n > 1 {
                let mut info = ch.info.lock().unwrap();
                info.skipped.retain(|(s, _)| s != source);
                info.skipped.push((source.clone(), reason.clone()));
            }
            resume = hls_files::progress(&self.cfg.hls_dir, id).is_some();
            if tried < n {
                // Failover: the next source at once; a whole round of
                // failed sources counts as one failure below.
                let next = (idx + 1) % n;
                warn!(channel = %id, %source, %reason, next = %plan.sources[next], "source failed, trying the next");
                {
                    let mut info = ch.info.lock().unwrap();
                    info.pid = None;
                    info.started = 0;
                    info.reason = Some(reason.clone());
                }
                idx = next;
                tried += 1;
                if ch.idle_for() >= self.idle_limit() {
                    return State::Ended(
                        ErrorCode::NotRunning,
                        format!("channel {id} stopped: idle"),
                    );
                }
                continue;
            }
            // Every source failed: start over from the first after back-off.
            idx = 0;
            tried = 1;
            {
                let mut info = ch.info.lock().unwrap();
                info.restarts += 1;
                info.reason = Some(reason.clone());
                info.pid = None;
                info.started = 0;
            }
            match failures.record(&self.policy, Instant::now(), jitter.next()) {
                Verdict::Retry(delay) => {
                    warn!(
                        channel = %id,
                        %reason,
                        failures = failures.recent(),
                        delay_ms = delay.as_millis() as u64,
                        state = "restarting",
                        "ffmpeg failed, restarting"
                    );
                    ch.set_state(State::Restarting);
                    tokio::select! {
                        _ = tokio::time::sleep(delay) => {}
                        _ = ch.stop.notified() => return ch.stopped(),
                    }
                    if ch.idle_for() >= self.idle_limit() {
                        info!(channel = %id, "idle while restarting, stopped");
                        return State::Ended(
                            ErrorCode::NotRunning,
                            format!("channel {id} stopped: idle"),
                        );
                    }
                }
                Verdict::GiveUp => {
                    let n = failures.recent();
                    let cool = self.cfg.failed_cooldown;
                    let msg = format!(
                        "channel {id} failed {n} times within {} s, last: {reason}; retried after {} s or on `stream-supervisor start {id}`",
                        self.policy.window.as_secs(),
                        cool.as_secs()
                    );
                    error!(channel = %id, %reason, failures = n, state = "failed", "giving up for {} s", cool.as_secs());
                    self.clean_up(ch).await;
                    ch.set_state(State::Failed(msg));
                    tokio::select! {
                        _ = tokio::time::sleep(cool) => {
                            info!(channel = %id, "failed channel's cool-down over");
                            return State::Ended(
                                ErrorCode::NotRunning,
                                format!("channel {id} cool-down over"),
                            );
                        }
                        _ = ch.stop.notified() => return ch.stopped(),
                    }
                }
            }
        }
    }

    /// One ffmpeg run: start, wait for the first (new) segment, watch it
    /// advance, until it fails or is stopped.
    async fn run_ffmpeg(&self, ch: &Channel, plan: &Plan, source: &str, resume: bool) -> Outcome {
        let id = &ch.id;
        // ffmpeg speaks HTTP proxy; SOCKS goes through our bridge.
        let mut bridge = None;
        let http_proxy = match &plan.proxy {
            None => None,
            Some(Proxy::Http { url }) => Some(url.clone()),
            Some(socks @ Proxy::Socks5 { .. }) => {
                let timeout = plan
                    .options
                    .connect_timeout
                    .unwrap_or(self.cfg.connect_timeout);
                match Bridge::start(socks, timeout, id).await {
                    Ok(b) => {
                        let url = b.proxy_url();
                        bridge = Some(b);
                        Some(url)
                    }
                    Err(e) => {
                        return Outcome::Failed {
                            reason: format!("cannot start the SOCKS bridge: {e}"),
                            was_ready: false,
                        }
                    }
                }
            }
        };
        let via = plan
            .proxy
            .as_ref()
            .map(|p| format!(" (via {})", p.display()))
            .unwrap_or_default();
        let o = &plan.options;
        let input = Input {
            url: source.to_string(),
            user_agent: o.user_agent.clone().or_else(|| self.cfg.user_agent.clone()),
            referer: o.referer.clone().or_else(|| self.cfg.referer.clone()),
            headers: channel_record::merge_headers(
                &self.cfg.headers,
                self.cfg.cookies.as_deref(),
                &o.headers,
            ),
            http_proxy,
            read_timeout: o.read_timeout.unwrap_or(self.cfg.read_timeout),
            reconnect: o.reconnect.unwrap_or(self.cfg.reconnect),
            schemes: self.cfg.source_schemes.0.clone(),
        };
        let seg = self.cfg.segment_duration.as_secs_f64().max(0.5);
        let out = HlsOutput {
            dir: self.cfg.hls_dir.clone(),
            channel: id.clone(),
            segment_secs: seg,
            init_secs: 1.0_f64.min(seg),
            list_size: 6,
            resume,
        };
        let args = ffmpeg_args::build(&input, plan.quality, &out);
        let mut cmd = Command::new(&self.cfg.ffmpeg);
        cmd.args(&args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        process::guard(&mut cmd, &self.cfg.hls_dir, id);
        let mut child = match cmd.spawn() {
            Ok(c) => c,
            Err(e) => {
                return Outcome::Failed {
                    reason: format!("cannot run {}: {e}", self.cfg.ffmpeg.display()),
                    was_ready: false,
                }
            }
        };
        let pid = child.id().unwrap_or(0);
        let started = unix_now();
        {
            let mut info = ch.info.lock().unwrap();
            info.pid = Some(pid);
            info.started = started;
        }
        info!(channel = %id, pid, source = %input.url, proxy = ?plan.proxy.as_ref().map(Proxy::display), quality = ?plan.quality, resume, "ffmpeg started");
        match self.store.set_stream_keys(id, pid, started).await {
            Ok(()) => ch.info.lock().unwrap().keys_written = true,
            Err(e) => warn!(channel = %id, error = %e, "cannot record stream keys"),
        }
        let tail = Arc::new(Mutex::new(VecDeque::with_capacity(STDERR_TAIL)));
        if let Some(stderr) = child.stderr.take() {
            let tail = tail.clone();
            let id = id.clone();
            tokio::spawn(async move {
                let mut lines = BufReader::new(stderr).lines();
                while let Ok(Some(line)) = lines.next_line().await {
                    debug!(channel = %id, pid, "ffmpeg: {line}");
                    let mut t = tail.lock().unwrap();
                    if t.len() == STDERR_TAIL {
                        t.pop_front();
                    }
                    t.push_back(line);
                }
            });
        }
        let begun = Instant::now();
        let playlist_path = out.playlist_path();
        // A resumed run is ready once it has added a segment of its own.
        let baseline = if resume {
            hls_files::progress(&self.cfg.hls_dir, id)
        } else {
            None
        };
        let stall_after = self.cfg.stall_timeout();
        let mut ready = false;
        let mut last_progress = (None, Instant::now());
        loop {
            // While starting, viewers are held until the first segment: look
            // often (a stat and a small read); once ready, twice a second.
            let tick = if ready {
                Duration::from_millis(500)
            } else {
                Duration::from_millis(20)
            };
            tokio::select! {
                status = child.wait() => {
                    // Let the stderr reader drain the last lines.
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    let lines: Vec<String> = tail.lock().unwrap().iter().cloned().collect();
                    let reason = match (status, bridge.as_ref().and_then(Bridge::last_error)) {
                        // The proxy could not reach the upstream: ffmpeg
                        // only saw the bridge's 502.
                        (Ok(s), Some(e)) if s.code().is_some() => e,
                        (Ok(s), _) => exit_reason(s, &lines) + &via,
                        (Err(e), _) => format!("ffmpeg could not be waited for ({e})"),
                    };
                    warn!(channel = %id, pid, %reason, ready, "ffmpeg exited");
                    return Outcome::Failed { reason, was_ready: ready };
                }
                _ = ch.stop.notified() => {
                    kill(&mut child).await;
                    let end = ch.stopped();
                    info!(channel = %id, pid, reason = ?ch.stop_reason.lock().unwrap(), "stopped");
                    return Outcome::Ended(end);
                }
                _ = tokio::time::sleep(tick) => {}
            }
            let progress = hls_files::progress(&self.cfg.hls_dir, id);
            if !ready {
                let advanced = baseline.is_none() || progress > baseline;
                if advanced && playlist::read_ready(&playlist_path).is_ok() {
                    ready = true;
                    last_progress = (progress, Instant::now());
                    ch.set_state(State::Ready);
                    // A source that works is no longer one that was skipped.
                    ch.info.lock().unwrap().skipped.retain(|(s, _)| s != source);
                    info!(channel = %id, pid, ms = begun.elapsed().as_millis() as u64, state = "ready", "ready");
                } else if begun.elapsed() > self.cfg.start_timeout {
                    kill(&mut child).await;
                    let lines: Vec<String> = tail.lock().unwrap().iter().cloned().collect();
                    let last = lines
                        .last()
                        .map(|l| format!(" (ffmpeg: {l})"))
                        .unwrap_or_default();
                    let reason = format!(
                        "no segment within {} s{last}{via}",
                        self.cfg.start_timeout.as_secs()
                    );
                    warn!(channel = %id, pid, %reason, "start timed out");
                    return Outcome::Failed {
                        reason,
                        was_ready: false,
                    };
                }
            } else if progress != last_progress.0 {
                last_progress = (progress, Instant::now());
            } else if last_progress.1.elapsed() >= stall_after {
                kill(&mut child).await;
                let reason = format!(
                    "stalled: no new segment for {} s (source sends no data?){via}",
                    stall_after.as_secs()
                );
                warn!(channel = %id, pid, %reason, "ffmpeg stalled");
                return Outcome::Failed {
                    reason,
                    was_ready: true,
                };
            }
            let idle = ch.idle_for();
            if idle >= self.idle_limit() {
                kill(&mut child).await;
                info!(channel = %id, pid, idle_secs = idle.as_secs(), "idle, stopped");
                return Outcome::Ended(State::Ended(
                    ErrorCode::NotRunning,
                    format!("channel {id} stopped: idle"),
                ));
            }
        }
    }
}

/// Why ffmpeg ended: a signal speaks for itself (its last stderr lines are
/// about something else); otherwise the stderr tail says why.
fn exit_reason(s: std::process::ExitStatus, lines: &[String]) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (s.code(), s.signal()) {
        (None, Some(sig)) => format!("ffmpeg was killed by signal {sig} ({})", signal_name(sig)),
        (Some(c), _) => ffmpeg_reason::reason(lines, &format!("exited with status {c}")),
        _ => ffmpeg_reason::reason(lines, "exited"),
    }
}

fn signal_name(sig: i32) -> &'static str {
    match sig {
        libc::SIGKILL => "SIGKILL",
        libc::SIGTERM => "SIGTERM",
        libc::SIGINT => "SIGINT",
        libc::SIGSEGV => "SIGSEGV",
        libc::SIGABRT => "SIGABRT",
        libc::SIGBUS => "SIGBUS",
        libc::SIGPIPE => "SIGPIPE",
        libc::SIGHUP => "SIGHUP",
        _ => "another signal",
    }
}

async fn kill(child: &mut Child) {
    let _ = child.start_kill();
    let _ = tokio::time::timeout(Duration::from_secs(5), child.wait()).await;
}
