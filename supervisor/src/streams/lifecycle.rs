//! A channel's task: read its record into a plan, run ffmpeg on one source
//! after another, back off and restart when every source failed, give up
//! for a cool-down when failures keep coming, and end when stopped or idle.

use std::sync::Arc;
use std::time::Instant;

use tracing::{error, info, warn};

use super::failover::{self, Next, Rotation};
use super::run::Outcome;
use super::{Adhoc, Channel, State, Streams};
use crate::channel_record::{self, ProxyChoice, RequestOptions};
use crate::ffmpeg_args::Quality;
use crate::hls_files;
use crate::proxy::{self, Proxy};
use crate::redact;
use crate::restart_policy::{Failures, Jitter, Verdict};
use crate::store::Keys;
use shared::overview::EventKind;
use shared::protocol::ErrorCode;

/// What a channel's record asks for.
pub(super) struct Plan {
    pub sources: Vec<String>,
    pub quality: Quality,
    pub options: RequestOptions,
    pub proxy: Option<Proxy>,
}

impl Streams {
    /// The channel's task, from start to its final state.
    pub(super) async fn run_channel(self: Arc<Self>, ch: Arc<Channel>) {
        // Cluster mode: nothing runs before this node holds the lease.
        let end = match self.take_lease(&ch).await {
            Ok(()) => self.drive(&ch).await,
            Err(end) => end,
        };
        if let State::Ended(_, msg) = &end {
            let asked = ch.stop_reason.lock().unwrap().clone();
            let why = crate::history::stop_class(asked.as_deref(), msg);
            self.event(&ch.id, EventKind::Stop, None, Some(why));
        }
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
        if self.cluster.is_some() {
            self.release_lease(ch).await;
            return;
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
        // An ad-hoc run has no record (`Streams::start` refuses one for a
        // stored channel) and never reads one.
        let stored = match adhoc {
            Some(_) => Ok(Some("{}".to_string())),
            None => self.store.get(&Keys::channel(id)).await,
        };
        let record = match stored {
            Ok(Some(json)) => json,
            Ok(None) => {
                info!(channel = %id, "channel record removed before its start");
                return Err(State::Ended(
                    ErrorCode::UnknownChannel,
                    format!(
                        "no channel {id}: Redis has no {} key",
                        self.store.shown(&Keys::channel(id))
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

    /// How long a run must last to count as a source that worked: longer
    /// than a stalled run takes to be noticed (four stall timeouts), and
    /// 30 s at least.
    fn stable_after(&self) -> std::time::Duration {
        (self.cfg.stall_timeout() * 4).max(std::time::Duration::from_secs(30))
    }

    /// Runs the channel until it ends; returns the final state.
    async fn drive(&self, ch: &Channel) -> State {
        let id = &ch.id;
        let plan = match self.plan(id, ch.adhoc.as_ref()).await {
            Ok(p) => p,
            Err(end) => {
                crate::metrics::failed(crate::metrics::Reason::Other);
                self.event(id, EventKind::Failure, None, Some("other"));
                return end;
            }
        };
        {
            let mut info = ch.info.lock().unwrap();
            info.proxy = plan.proxy.as_ref().map(Proxy::display);
            info.tls = (!plan.options.tls_verify)
                .then(|| "certificates not verified (tls_verify: false)".to_string());
        }
        // Leftovers of an earlier run must not count as this run's segments.
        let _ = hls_files::remove_channel_files(&self.cfg.hls_dir, id);
        let mut failures = Failures::default();
        let mut jitter = Jitter::seeded();
        let mut resume = false;
        // Cluster mode: numbering goes on past a previous owner's (until
        // this node has a playlist of its own to resume).
        let mut start = self.takeover_start(ch).await;
        let mut rotation = Rotation::new(plan.sources.len());
        loop {
            let source = &plan.sources[rotation.current()];
            ch.info.lock().unwrap().source = Some(source.clone());
            let begun = Instant::now();
            let (reason, was_ready) = match self.run_ffmpeg(ch, &plan, source, resume, start).await
            {
                Outcome::Ended(end) => return end,
                Outcome::Failed { reason, was_ready } => (reason, was_ready),
            };
            let class = crate::metrics::classify(&reason);
            crate::metrics::failed(class);
            self.event(id, EventKind::Failure, None, Some(class.as_str()));
            // A run that was ready only briefly has not worked: it must not
            // give the other sources a fresh round without back-off.
            let was_ready = failover::worked(was_ready, begun.elapsed(), self.stable_after());
            if rotation.has_alternatives() {
                ch.info.lock().unwrap().skipped.failed(source, &reason);
            }
            resume = hls_files::progress(&self.cfg.hls_dir, id).is_some();
            start = start.filter(|_| !resume);
            if let Next::Failover(next) = rotation.failed(was_ready) {
                // The next source at once; a whole round of failed sources
                // counts as one failure below.
                warn!(channel = %id, source = %redact::url(source), %reason, next = %redact::url(&plan.sources[next]), "source failed, trying the next");
                {
                    let mut info = ch.info.lock().unwrap();
                    info.pid = None;
                    info.started = 0;
                    info.reason = Some(reason.clone());
                }
                if self.is_idle(ch) {
                    return ch.idle_end();
                }
                crate::metrics::restarted(class);
                continue;
            }
            // Every source failed: start over from the first after back-off.
            {
                let mut info = ch.info.lock().unwrap();
                info.restarts += 1;
                info.reason = Some(reason.clone());
                info.pid = None;
                info.started = 0;
            }
            match failures.record(&self.policy, Instant::now(), jitter.next_fraction()) {
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
                    if self.is_idle(ch) {
                        info!(channel = %id, "idle while restarting, stopped");
                        return ch.idle_end();
                    }
                    crate::metrics::restarted(class);
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
}
