//! Running channels: one task per channel owns its ffmpeg, publishes the
//! channel's state to everyone waiting, and stops it when idle.

use std::collections::{HashMap, VecDeque};
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::{watch, Notify};
use tracing::{debug, info, warn};

use super::channel_record;
use super::config::Cli;
use super::ffmpeg_args::{self, HlsOutput, Input, Quality};
use super::ffmpeg_reason;
use super::hls_files;
use super::store::Store;
use crate::channel_id;
use crate::playlist;
use crate::protocol::{ErrorCode, StreamInfo, StreamState};

/// stderr lines kept per channel for failure reasons.
const STDERR_TAIL: usize = 30;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum State {
    Starting,
    Ready,
    /// Final: the channel is gone; why, as a reply error.
    Ended(ErrorCode, String),
}

pub struct Channel {
    id: String,
    state: watch::Sender<State>,
    last_watched: Mutex<Instant>,
    stop: Notify,
    stop_reason: Mutex<Option<String>>,
    pid: Mutex<Option<u32>>,
    started: Mutex<u64>,
}

impl Channel {
    fn touch(&self) {
        *self.last_watched.lock().unwrap() = Instant::now();
    }

    fn request_stop(&self, why: &str) {
        self.stop_reason
            .lock()
            .unwrap()
            .get_or_insert_with(|| why.to_string());
        self.stop.notify_one();
    }
}

pub struct Streams {
    cfg: Arc<Cli>,
    store: Arc<Store>,
    map: Mutex<HashMap<String, Arc<Channel>>>,
    shutting_down: std::sync::atomic::AtomicBool,
}

/// The answer to `ensure`.
pub enum Ensured {
    Ready { playlist: PathBuf },
    Error(ErrorCode, String),
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl Streams {
    pub fn new(cfg: Arc<Cli>, store: Arc<Store>) -> Arc<Streams> {
        Arc::new(Streams {
            cfg,
            store,
            map: Mutex::new(HashMap::new()),
            shutting_down: false.into(),
        })
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Starts the channel if it is not running and waits up to `wait` for
    /// it to be ready. Concurrent callers share one ffmpeg.
    pub async fn ensure(self: &Arc<Self>, id: &str, wait: Duration) -> Ensured {
        if let Err(e) = channel_id::validate(id.as_bytes()) {
            return Ensured::Error(ErrorCode::InvalidChannel, e.to_string());
        }
        let deadline = tokio::time::Instant::now() + wait;
        // A channel may end (idle stop) just as we find it: then start anew.
        for _ in 0..2 {
            if self.shutting_down.load(std::sync::atomic::Ordering::SeqCst) {
                return Ensured::Error(
                    ErrorCode::ShuttingDown,
                    "supervisor is shutting down".into(),
                );
            }
            let ch = self.get_or_start(id);
            ch.touch();
            let mut rx = ch.state.subscribe();
            let waited =
                tokio::time::timeout_at(deadline, rx.wait_for(|s| *s != State::Starting)).await;
            let state = match waited {
                Ok(Ok(s)) => s.clone(),
                Ok(Err(_)) => State::Ended(ErrorCode::Internal, "channel task vanished".into()),
                Err(_) => {
                    return Ensured::Error(
                        ErrorCode::Timeout,
                        format!(
                            "channel {id} has no segment after {} ms; ffmpeg is still trying",
                            wait.as_millis()
                        ),
                    )
                }
            };
            match state {
                State::Ready => {
                    return Ensured::Ready {
                        playlist: ffmpeg_args::playlist_path(&self.cfg.hls_dir, id),
                    }
                }
                State::Ended(ErrorCode::NotRunning, _) => continue,
                State::Ended(code, msg) => return Ensured::Error(code, msg),
                State::Starting => unreachable!(),
            }
        }
        Ensured::Error(
            ErrorCode::Failed,
            format!("channel {id} stopped while starting"),
        )
    }

    fn get_or_start(self: &Arc<Self>, id: &str) -> Arc<Channel> {
        let mut map = self.map.lock().unwrap();
        if let Some(ch) = map.get(id) {
            return ch.clone();
        }
        let ch = Arc::new(Channel {
            id: id.to_string(),
            state: watch::Sender::new(State::Starting),
            last_watched: Mutex::new(Instant::now()),
            stop: Notify::new(),
            stop_reason: Mutex::new(None),
            pid: Mutex::new(None),
            started: Mutex::new(0),
        });
        map.insert(id.to_string(), ch.clone());
        let this = self.clone();
        let task_ch = ch.clone();
        tokio::spawn(async move { this.run_channel(task_ch).await });
        ch
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
        self.shutting_down
            .store(true, std::sync::atomic::Ordering::SeqCst);
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
            .map(|ch| StreamInfo {
                channel: ch.id.clone(),
                state: match &*ch.state.borrow() {
                    State::Starting => StreamState::Starting,
                    State::Ready => StreamState::Ready,
                    State::Ended(..) => StreamState::Stopping,
                },
                pid: *ch.pid.lock().unwrap(),
                started: *ch.started.lock().unwrap(),
                idle_secs: ch.last_watched.lock().unwrap().elapsed().as_secs(),
                segments: hls_files::segment_count(&self.cfg.hls_dir, &ch.id),
            })
            .collect();
        out.sort_by(|a, b| a.channel.cmp(&b.channel));
        out
    }

    async fn run_channel(self: Arc<Self>, ch: Arc<Channel>) {
        let end = self.drive(&ch).await;
        // Clean up before anyone can see the channel as gone, so a later
        // viewer never gets this run's files.
        if let Err(e) = hls_files::remove_channel_files(&self.cfg.hls_dir, &ch.id) {
            warn!(channel = %ch.id, error = %e, "cannot remove HLS files");
        }
        if ch.pid.lock().unwrap().take().is_some() {
            if let Err(e) = self.store.clear_stream_keys(&ch.id).await {
                warn!(channel = %ch.id, error = %e, "cannot clear stream keys");
            }
        }
        {
            let mut map = self.map.lock().unwrap();
            if map.get(&ch.id).is_some_and(|c| Arc::ptr_eq(c, &ch)) {
                map.remove(&ch.id);
            }
        }
        ch.state.send_replace(end);
    }

    /// Runs the channel until it ends; returns the final state.
    async fn drive(&self, ch: &Channel) -> State {
        let id = &ch.id;
        let record = match self.store.get(&format!("channel:{id}")).await {
            Ok(Some(json)) => json,
            Ok(None) => {
                info!(channel = %id, "unknown channel");
                return State::Ended(
                    ErrorCode::UnknownChannel,
                    format!(
                        "no channel {id}: Redis has no {} key",
                        self.store.key(&format!("channel:{id}"))
                    ),
                );
            }
            Err(e) => return State::Ended(ErrorCode::Unavailable, e.to_string()),
        };
        let plan = channel_record::parse(&record).and_then(|rec| {
            let url = rec.primary_source()?;
            let quality = Quality::parse(rec.quality.as_deref())?;
            Ok((rec, url, quality))
        });
        let (rec, url, quality) = match plan {
            Ok(p) => p,
            Err(e) => {
                warn!(channel = %id, error = %e, "unusable channel record");
                return State::Ended(ErrorCode::BadChannel, format!("channel {id}: {e}"));
            }
        };
        let input = Input {
            url,
            user_agent: rec.user_agent.clone(),
            referer: rec.referer.clone(),
            headers: rec.headers.clone().into_iter().collect(),
        };
        let seg = self.cfg.segment_duration.as_secs_f64().max(0.5);
        let out = HlsOutput {
            dir: self.cfg.hls_dir.clone(),
            channel: id.clone(),
            segment_secs: seg,
            init_secs: 1.0_f64.min(seg),
            list_size: 6,
        };
        // Leftovers of an earlier run must not count as this run's segments.
        let _ = hls_files::remove_channel_files(&self.cfg.hls_dir, id);
        let args = ffmpeg_args::build(&input, quality, &out);
        let mut child = match Command::new(&self.cfg.ffmpeg)
            .args(&args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .process_group(0)
            .spawn()
        {
            Ok(c) => c,
            Err(e) => {
                let msg = format!("cannot run {}: {e}", self.cfg.ffmpeg.display());
                warn!(channel = %id, error = %msg, "ffmpeg did not start");
                return State::Ended(ErrorCode::Failed, msg);
            }
        };
        let pid = child.id().unwrap_or(0);
        let started = unix_now();
        *ch.pid.lock().unwrap() = Some(pid);
        *ch.started.lock().unwrap() = started;
        info!(channel = %id, pid, source = %input.url, ?quality, "ffmpeg started");
        if let Err(e) = self.store.set_stream_keys(id, pid, started).await {
            warn!(channel = %id, error = %e, "cannot record stream keys");
        }
        let tail = Arc::new(Mutex::new(VecDeque::with_capacity(STDERR_TAIL)));
        if let Some(stderr) = child.stderr.take() {
            let tail = tail.clone();
            let id = id.clone();
            tokio::spawn(async move {
                let mut lines = BufReader::new(stderr).lines();
                while let Ok(Some(line)) = lines.next_line().await {
                    debug!(channel = %id, "ffmpeg: {line}");
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
        let mut ready = false;
        loop {
            let tick = if ready {
                Duration::from_secs(1)
            } else {
                Duration::from_millis(50)
            };
            tokio::select! {
                status = child.wait() => {
                    // Let the stderr reader drain the last lines.
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    let exit = match status {
                        Ok(s) => describe_exit(s),
                        Err(e) => format!("could not be waited for ({e})"),
                    };
                    let lines: Vec<String> = tail.lock().unwrap().iter().cloned().collect();
                    let reason = ffmpeg_reason::reason(&lines, &exit);
                    warn!(channel = %id, pid, %reason, ready, "ffmpeg exited");
                    return State::Ended(ErrorCode::Failed, reason);
                }
                _ = ch.stop.notified() => {
                    let why = ch.stop_reason.lock().unwrap().clone().unwrap_or_default();
                    kill(&mut child).await;
                    info!(channel = %id, pid, reason = %why, "stopped");
                    return State::Ended(ErrorCode::NotRunning, format!("channel {id} stopped: {why}"));
                }
                _ = tokio::time::sleep(tick) => {}
            }
            if !ready {
                if playlist::read_ready(&playlist_path).is_ok() {
                    ready = true;
                    ch.state.send_replace(State::Ready);
                    info!(channel = %id, pid, ms = begun.elapsed().as_millis() as u64, "ready");
                } else if begun.elapsed() > self.cfg.start_timeout {
                    kill(&mut child).await;
                    let lines: Vec<String> = tail.lock().unwrap().iter().cloned().collect();
                    let last = lines
                        .last()
                        .map(|l| format!(" (ffmpeg: {l})"))
                        .unwrap_or_default();
                    let reason = format!(
                        "no segment within {} s{last}",
                        self.cfg.start_timeout.as_secs()
                    );
                    warn!(channel = %id, pid, %reason, "start timed out");
                    return State::Ended(ErrorCode::Failed, reason);
                }
            }
            let idle = ch.last_watched.lock().unwrap().elapsed();
            if idle >= self.cfg.idle_timeout {
                kill(&mut child).await;
                info!(channel = %id, pid, idle_secs = idle.as_secs(), "idle, stopped");
                return State::Ended(ErrorCode::NotRunning, format!("channel {id} stopped: idle"));
            }
        }
    }
}

fn describe_exit(s: std::process::ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (s.code(), s.signal()) {
        (Some(c), _) => format!("exited with status {c}"),
        (None, Some(sig)) => format!("was killed by signal {sig}"),
        _ => "exited".into(),
    }
}

async fn kill(child: &mut Child) {
    let _ = child.start_kill();
    let _ = tokio::time::timeout(Duration::from_secs(5), child.wait()).await;
}
