//! One ffmpeg run of a channel: spawn it on one source (http and https
//! through the run's upstream gateway), wait for its first segment, watch
//! the playlist advance, and say how the run ended.

use std::collections::VecDeque;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tokio::io::AsyncReadExt;
use tokio::process::{Child, Command};
use tracing::{debug, info, warn};

use super::lifecycle::Plan;
use super::readiness::{Seen, Watch};
use super::{Channel, State, Streams};
use crate::cluster::hls_position::Start;
use crate::disk_space;
use crate::ffmpeg_args::{self, HlsOutput, Input};
use crate::ffmpeg_reason::{self, StderrLines};
use crate::gateway::Gateway;
use crate::hls_files;
use crate::process;
use crate::proxy::Proxy;
use crate::redact;
use crate::segmenter::{self, Segmenter};
use shared::overview::EventKind;

/// stderr lines kept per channel for failure reasons.
const STDERR_TAIL: usize = 30;
/// Longest stderr line kept (the rest of a longer line is dropped).
const STDERR_LINE_MAX: usize = 2048;
/// The first segments of a transcoded (ffmpeg-written) fresh start: a
/// channel is ready with its first segment, and the encoder must produce
/// all of it first (abr from a 1280x720 origin, master cold start: 1.78 s
/// with 1 s, 1.46 s with 0.5 s). Copy mode has --first-segment-duration.
const FIRST_SEGMENTS_SECS: f64 = 0.5;

/// What one ffmpeg run came to.
pub(super) enum Outcome {
    /// Stopped on purpose (idle, operator, shutdown): the channel ends.
    Ended(State),
    /// ffmpeg exited, stalled or never produced a segment; whether this run
    /// had been ready.
    Failed { reason: String, was_ready: bool },
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl Streams {
    /// One ffmpeg run: start, wait for the first (new) segment, watch it
    /// advance, until it fails or is stopped.
    pub(super) async fn run_ffmpeg(
        &self,
        ch: &Channel,
        plan: &Plan,
        source: &str,
        resume: bool,
        start: Option<Start>,
    ) -> Outcome {
        let id = &ch.id;
        let via = plan
            .proxy
            .as_ref()
            .map(|p| format!(" (via {})", p.display()))
            .unwrap_or_default();
        let o = &plan.options;
        // ffmpeg says nothing when it cannot write: look first.
        if let Ok(free) = disk_space::free_bytes(&self.cfg.hls_dir) {
            let floor = self.cfg.min_free_space;
            if let Some(reason) = disk_space::refusal(&self.cfg.hls_dir, free, floor) {
                warn!(channel = %id, %reason, floor, "not started");
                return Outcome::Failed {
                    reason,
                    was_ready: false,
                };
            }
        }
        // http(s) goes through the gateway; other enabled schemes are
        // ffmpeg's own, their literal host checked here.
        let gateway = match self.gateway_for(plan, source, id).await {
            Ok(g) => g,
            Err(reason) => {
                warn!(channel = %id, source = %redact::url(source), %reason, "source refused");
                return Outcome::Failed {
                    reason,
                    was_ready: false,
                };
            }
        };
        let input = Input {
            url: gateway
                .as_ref()
                .map_or_else(|| source.to_string(), |g| g.url_for(source)),
            read_timeout: o.read_timeout.unwrap_or(self.cfg.read_timeout),
            reconnect: o.reconnect.unwrap_or(self.cfg.reconnect),
            schemes: self.cfg.source_schemes.0.clone(),
        };
        let seg = self.cfg.segment_duration.as_secs_f64().max(0.5);
        let out = HlsOutput {
            dir: self.cfg.hls_dir.clone(),
            channel: id.clone(),
            segment_secs: seg,
            init_secs: FIRST_SEGMENTS_SECS.min(seg),
            list_size: 6,
            resume,
            start_number: start.filter(|_| !resume).map(|s| s.number),
        };
        let args = ffmpeg_args::build(&input, plan.quality, &out);
        let segmented = ffmpeg_args::uses_segmenter(plan.quality);
        let mut cmd = Command::new(&self.cfg.ffmpeg);
        cmd.args(&args)
            .stdin(Stdio::null())
            .stdout(if segmented {
                Stdio::piped()
            } else {
                Stdio::null()
            })
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
        let begun = Instant::now();
        let pid = child.id().unwrap_or(0);
        // Copy mode: the supervisor cuts the segments from ffmpeg's stdout.
        let mut segmenter = child.stdout.take().filter(|_| segmented).map(|stdout| {
            let opts = segmenter::Options {
                dir: self.cfg.hls_dir.clone(),
                channel: id.clone(),
                first_secs: self.cfg.first_segment_duration.as_secs_f64(),
                segment_secs: seg,
                list_size: out.list_size as usize,
                resume,
                start: start.filter(|_| !resume),
            };
            Segmenter::start(stdout, opts, begun)
        });
        if let Some(g) = &gateway {
            g.serve_ffmpeg(pid);
        }
        let started = unix_now();
        {
            let mut info = ch.info.lock().unwrap();
            info.pid = Some(pid);
            info.started = started;
        }
        info!(channel = %id, pid, source = %redact::url(source), proxy = ?plan.proxy.as_ref().map(Proxy::display), quality = ?plan.quality, resume, "ffmpeg started");
        self.write_stream_keys(ch, pid, started).await;
        let tail = Arc::new(Mutex::new(VecDeque::with_capacity(STDERR_TAIL)));
        if let Some(stderr) = child.stderr.take() {
            let tail = tail.clone();
            let id = id.clone();
            tokio::spawn(async move {
                let mut stderr = stderr;
                let mut splitter = StderrLines::new(STDERR_LINE_MAX);
                let mut buf = [0u8; 4096];
                loop {
                    let (lines, done) = match stderr.read(&mut buf).await {
                        Ok(0) | Err(_) => (splitter.finish().into_iter().collect(), true),
                        Ok(n) => (splitter.feed(&buf[..n]), false),
                    };
                    for line in lines {
                        let line = redact::text(&line);
                        debug!(channel = %id, pid, "ffmpeg: {line}");
                        let mut t = tail.lock().unwrap();
                        if t.len() == STDERR_TAIL {
                            t.pop_front();
                        }
                        t.push_back(line);
                    }
                    if done {
                        break;
                    }
                }
            });
        }
        // A resumed run is ready once it has added a segment of its own.
        let baseline = if resume {
            hls_files::progress(&self.cfg.hls_dir, id)
        } else {
            None
        };
        let stall_after = self.cfg.stall_timeout();
        let mut watch = Watch::new(begun, baseline, self.cfg.start_timeout, stall_after);
        // `return` in this block ends the run; the segmenter is then waited
        // for, so that no file of this run appears after it.
        let outcome = async {
            loop {
                tokio::select! {
                    status = child.wait() => {
                        // Let the stderr reader drain the last lines.
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        let lines: Vec<String> = tail.lock().unwrap().iter().cloned().collect();
                        // The segmenter could not write (a full disk): ffmpeg
                        // then only saw its pipe close.
                        let failed = segmenter.as_ref().and_then(Segmenter::failure);
                        let reason = match (status, gateway.as_ref().and_then(Gateway::last_error)) {
                            _ if failed.is_some() => failed.unwrap_or_default(),
                            // The gateway could not reach the upstream (policy,
                            // TLS, proxy): ffmpeg only saw its 502.
                            (Ok(s), Some(e)) if s.code().is_some() => e,
                            (Ok(s), _) => exit_reason(s, &lines) + &via,
                            (Err(e), _) => format!("ffmpeg could not be waited for ({e})"),
                        };
                        let ready = watch.ready();
                        warn!(channel = %id, pid, %reason, ready, "ffmpeg exited");
                        return Outcome::Failed { reason, was_ready: ready };
                    }
                    _ = ch.stop.notified() => {
                        kill(&mut child).await;
                        let end = ch.stopped();
                        info!(channel = %id, pid, reason = ?ch.stop_reason.lock().unwrap(), "stopped");
                        return Outcome::Ended(end);
                    }
                    _ = tokio::time::sleep(watch.tick()) => {}
                    // A new segment: look at once, not at the next tick.
                    _ = published(segmenter.as_ref()) => {}
                }
                // Empty files where complete ones belong (a full disk): a
                // failure of the run, never readiness.
                let empty = hls_files::empty_output(&self.cfg.hls_dir, id);
                if let Some(what) = empty {
                    let free = disk_space::free_bytes(&self.cfg.hls_dir);
                    let ready = watch.ready();
                    if let Some(reason) =
                        disk_space::empty_output_verdict(ready, &self.cfg.hls_dir, what, free)
                    {
                        kill(&mut child).await;
                        warn!(channel = %id, pid, %reason, ready, "ffmpeg's output is empty");
                        return Outcome::Failed {
                            reason,
                            was_ready: ready,
                        };
                    }
                }
                let progress = hls_files::progress(&self.cfg.hls_dir, id);
                let seen = watch.look(Instant::now(), progress, || {
                    empty.is_none() && hls_files::ready(&self.cfg.hls_dir, id, plan.quality.variants())
                });
                match seen {
                    Seen::Waiting => {}
                    Seen::Ready => {
                        ch.set_state(State::Ready);
                        let cold_ms = ch.mark_ready();
                        self.event(id, EventKind::Ready, cold_ms, None);
                        ch.info.lock().unwrap().skipped.worked(source);
                        let st = segmenter.as_ref().map(Segmenter::stages).unwrap_or_default();
                        info!(channel = %id, pid, ms = begun.elapsed().as_millis() as u64, state = "ready",
                            cold_ms, first_byte_ms = st.first_byte_ms, keyframe_ms = st.keyframe_ms,
                            segment_ms = st.segment_ms, "ready");
                        // The lease keeper writes it: a slow Redis must not
                        // hold up this loop (lease.rs).
                        ch.record_position.notify_one();
                    }
                    Seen::StartTimedOut => {
                        kill(&mut child).await;
                        let lines: Vec<String> = tail.lock().unwrap().iter().cloned().collect();
                        let last = lines
                            .last()
                            .map(|l| format!(" (ffmpeg: {l})"))
                            .unwrap_or_default();
                        // A refused or failed upstream request (the policy,
                        // TLS) says more than the timeout ffmpeg ran into.
                        let reason = match gateway.as_ref().and_then(Gateway::last_error) {
                            Some(e) => e,
                            None => format!(
                                "no segment within {} s{last}{via}",
                                self.cfg.start_timeout.as_secs()
                            ),
                        };
                        warn!(channel = %id, pid, %reason, "start timed out");
                        return Outcome::Failed {
                            reason,
                            was_ready: false,
                        };
                    }
                    Seen::Stalled => {
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
                }
                let idle = ch.idle_for();
                if idle >= self.idle_limit() {
                    kill(&mut child).await;
                    info!(channel = %id, pid, idle_secs = idle.as_secs(), "idle, stopped");
                    return Outcome::Ended(ch.idle_end());
                }
            }
        }
        .await;
        if let Some(s) = segmenter.as_mut() {
            s.finish().await;
        }
        outcome
    }
}

/// A segment published by the run's segmenter (never, without one).
async fn published(segmenter: Option<&Segmenter>) {
    match segmenter {
        Some(s) => s.published().await,
        None => std::future::pending().await,
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::process::ExitStatusExt;

    #[test]
    fn exit_reasons() {
        let killed = std::process::ExitStatus::from_raw(libc::SIGKILL);
        assert_eq!(
            exit_reason(killed, &["Connection refused".into()]),
            "ffmpeg was killed by signal 9 (SIGKILL)"
        );
        let odd = std::process::ExitStatus::from_raw(libc::SIGUSR1);
        assert_eq!(
            exit_reason(odd, &[]),
            format!(
                "ffmpeg was killed by signal {} (another signal)",
                libc::SIGUSR1
            )
        );
        let status_1 = std::process::ExitStatus::from_raw(1 << 8);
        assert_eq!(
            exit_reason(status_1, &["tcp://x: Connection refused".into()]),
            "connection refused"
        );
        assert_eq!(
            exit_reason(status_1, &[]),
            "ffmpeg exited with status 1 without a message"
        );
    }
}
