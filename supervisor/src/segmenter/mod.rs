//! HLS segments of a copy-mode channel, cut by the supervisor from ffmpeg's
//! MPEG-TS output (a pipe), so that the first segment can be shorter than
//! the source's keyframe interval: ffmpeg's hls muxer ends a segment only
//! on a key frame, which costs a cold start a whole interval.
//!
//! ffmpeg's stdout is read by a tokio task and handed to one plain thread
//! per run that splits and writes the files (blocking writes belong off the
//! runtime). The run loop is woken when a segment is published and learns
//! when the first byte, the first key frame and the first segment came.
//! The TS reading itself is `shared::mpegts` (the test origin's too).

pub mod cut;
pub mod freshness;
pub mod leftovers;
pub mod playlist;
pub mod split;
pub mod writer;

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use shared::mpegts as ts;
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::sync::{mpsc, oneshot, Notify};
use tracing::warn;

/// What a run's segmenter makes.
#[derive(Debug, Clone)]
pub struct Options {
    pub dir: PathBuf,
    pub channel: String,
    /// seg0's length (0: none shorter than a segment).
    pub first_secs: f64,
    pub segment_secs: f64,
    pub list_size: usize,
    /// Carry on the playlist an earlier run left.
    pub resume: bool,
    /// A fresh run taking over another node's channel: number on from
    /// here (cluster/hls_position.rs). Its first segment is still short:
    /// it is a cold start for this node.
    pub start: Option<crate::cluster::hls_position::Start>,
}

const UNSET: u64 = u64::MAX;

/// What the run loop reads of a segmenter.
struct Shared {
    published: Notify,
    first_byte_ms: AtomicU64,
    keyframe_ms: AtomicU64,
    segment_ms: AtomicU64,
    failure: Mutex<Option<String>>,
    /// The run is over: the thread touches no file any more. Held by the
    /// thread while it handles a chunk (all its file work happens then),
    /// so once `finish` has set it no rename or write of this run can
    /// follow, and the next run is the only writer of these names.
    stopped: Mutex<bool>,
}

/// How long `finish` lets the thread drain what ffmpeg wrote last.
const DRAIN: Duration = Duration::from_secs(5);

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

pub struct Segmenter {
    shared: Arc<Shared>,
    done: Option<oneshot::Receiver<()>>,
}

/// Milliseconds from the start of the run to the first byte from ffmpeg,
/// the first key frame, and the first published segment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stages {
    pub first_byte_ms: Option<u64>,
    pub keyframe_ms: Option<u64>,
    pub segment_ms: Option<u64>,
}

fn mark(slot: &AtomicU64, begun: Instant) {
    if slot.load(Ordering::Relaxed) == UNSET {
        let ms = u64::try_from(begun.elapsed().as_millis()).unwrap_or(UNSET - 1);
        slot.store(ms, Ordering::Relaxed);
    }
}

fn read(slot: &AtomicU64) -> Option<u64> {
    Some(slot.load(Ordering::Relaxed)).filter(|&v| v != UNSET)
}

impl Segmenter {
    /// Starts reading `output` (ffmpeg's stdout) into segments. `begun`: the
    /// run's start, for the stage times.
    pub fn start(
        output: impl AsyncRead + Unpin + Send + 'static,
        opts: Options,
        begun: Instant,
    ) -> Segmenter {
        let shared = Arc::new(Shared {
            published: Notify::new(),
            first_byte_ms: AtomicU64::new(UNSET),
            keyframe_ms: AtomicU64::new(UNSET),
            segment_ms: AtomicU64::new(UNSET),
            failure: Mutex::new(None),
            stopped: Mutex::new(false),
        });
        // Bounded: if the thread falls behind, ffmpeg waits on its pipe.
        let (tx, rx) = mpsc::channel::<Vec<u8>>(256);
        tokio::spawn(async move {
            let mut output = output;
            // One read buffer; each chunk sent is only as big as the read
            // (ffmpeg flushes every packet: reads are small, and a queued
            // chunk must not hold 64 KiB for a few hundred bytes).
            let mut buf = vec![0u8; 64 * 1024];
            loop {
                match output.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        if tx.send(buf[..n].to_vec()).await.is_err() {
                            break;
                        }
                    }
                }
            }
        });
        let (done_tx, done_rx) = oneshot::channel();
        let thread_shared = shared.clone();
        let name = format!("segmenter {}", opts.channel);
        let spawned = std::thread::Builder::new().name(name).spawn(move || {
            run(rx, &opts, &thread_shared, begun);
            let _ = done_tx.send(());
        });
        if let Err(e) = spawned {
            *lock(&shared.failure) = Some(format!("cannot start the segmenter ({e})"));
        }
        Segmenter {
            shared,
            done: Some(done_rx),
        }
    }

    /// Resolves when a segment has been published since the last call.
    pub async fn published(&self) {
        self.shared.published.notified().await
    }

    pub fn stages(&self) -> Stages {
        Stages {
            first_byte_ms: read(&self.shared.first_byte_ms),
            keyframe_ms: read(&self.shared.keyframe_ms),
            segment_ms: read(&self.shared.segment_ms),
        }
    }

    /// Why the segmenter gave up (it could not write), if it did.
    pub fn failure(&self) -> Option<String> {
        lock(&self.shared.failure).clone()
    }

    /// Waits (a little) for the thread to finish once ffmpeg is gone, then
    /// stops it: no file of this run appears after the run has ended.
    ///
    /// Not a join without a timeout: the thread may still hold a backlog
    /// of chunks (or a slow disk), and a stop or restart must not wait for
    /// all of it. After `DRAIN` the stop flag is set under the lock the
    /// thread holds for each chunk's file work, so this waits for one
    /// chunk at most (a disk that hangs there would hang the next writer
    /// as well); a generation check before each rename alone would leave
    /// a window between the check and the rename.
    pub async fn finish(&mut self) {
        self.finish_within(DRAIN).await
    }

    async fn finish_within(&mut self, drain: Duration) {
        if let Some(done) = self.done.take() {
            let _ = tokio::time::timeout(drain, done).await;
        }
        let shared = self.shared.clone();
        let _ = tokio::task::spawn_blocking(move || *lock(&shared.stopped) = true).await;
    }
}

/// The segmenter thread: until ffmpeg's output ends or a write fails.
fn run(mut rx: mpsc::Receiver<Vec<u8>>, opts: &Options, shared: &Shared, begun: Instant) {
    let path = crate::ffmpeg_args::playlist_path(&opts.dir, &opts.channel);
    let (list, first) = match opts.resume {
        true => {
            let old = std::fs::read_to_string(&path).unwrap_or_default();
            let list = playlist::Playlist::resume(&opts.channel, opts.list_size, &old);
            (list, 0.0)
        }
        false => {
            let mut list = playlist::Playlist::new(&opts.channel, opts.list_size);
            if let Some(s) = opts.start {
                list.start_after_break(s.number, s.discontinuity_sequence);
            }
            (list, opts.first_secs)
        }
    };
    let mut splitter = split::Splitter::new(cut::Cutter::new(first, opts.segment_secs, true));
    let mut framer = ts::Framer::default();
    let mut writer = writer::Writer::new(&opts.dir, &opts.channel, list);
    if opts.resume {
        writer.sweep_leftovers();
    }
    let mut error: Option<std::io::Error> = None;
    // When this run last wrote the playlist.
    let mut written: Option<Instant> = None;
    while let Some(chunk) = rx.blocking_recv() {
        let stopped = lock(&shared.stopped);
        if *stopped {
            // The run has ended (`finish`): the next one owns the names,
            // its temporary files included; nothing of this one is touched.
            return;
        }
        mark(&shared.first_byte_ms, begun);
        let mut published = false;
        framer.feed(&chunk, |p| {
            if error.is_some() {
                return;
            }
            splitter.packet(p, &mut |o| match writer.out(o) {
                Ok(p) => published |= p,
                Err(e) => error = error.take().or(Some(e)),
            });
        });
        if splitter.keyframe_seen {
            mark(&shared.keyframe_ms, begun);
        }
        if published {
            mark(&shared.segment_ms, begun);
            shared.published.notify_one();
            written = Some(Instant::now());
        } else if error.is_none() && freshness::republish_due(written.map(|t| t.elapsed()), true) {
            match writer.republish() {
                Ok(()) => written = Some(Instant::now()),
                Err(e) => error = Some(e),
            }
        }
        if error.is_some() {
            break;
        }
        drop(stopped);
    }
    // The segment being written when ffmpeg ended is incomplete (a kill, a
    // crash): dropped, as ffmpeg's own muxer would lose it to a SIGKILL; a
    // restart's resume then joins the list right after the last whole one.
    let stopped = lock(&shared.stopped);
    if !*stopped {
        writer.discard();
    }
    drop(stopped);
    if let Some(e) = error {
        let reason = write_failure(&opts.dir, &e);
        warn!(channel = %opts.channel, %reason, "segmenter stopped");
        *lock(&shared.failure) = Some(reason);
    }
}

/// Why writing failed, in the words the rest of the supervisor uses for a
/// full disk.
fn write_failure(dir: &std::path::Path, e: &std::io::Error) -> String {
    let free = crate::disk_space::free_bytes(dir);
    if e.raw_os_error() == Some(libc::ENOSPC) {
        return crate::disk_space::full_reason(dir, free.unwrap_or(0));
    }
    format!("cannot write segments into {}: {e}", dir.display())
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::mpegts_fixtures::{packet, pat, pes, pmt};
    use tokio::io::AsyncWriteExt;

    #[tokio::test]
    async fn no_file_is_written_after_finish() {
        let dir = std::env::temp_dir().join(format!("seg-finish-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (mut ffmpeg, output) = tokio::io::duplex(64 * 1024);
        let opts = Options {
            dir: dir.clone(),
            channel: "3".into(),
            first_secs: 0.0,
            segment_secs: 1.0,
            list_size: 5,
            resume: false,
            start: None,
        };
        let mut seg = Segmenter::start(output, opts, Instant::now());
        let key = |t: u64| packet(0x100, true, true, &pes(t, Some(t)));
        let s = ts::CLOCK;
        let mut bytes = packet(0, true, false, &pat(0x1000));
        bytes.extend(packet(0x1000, true, false, &pmt(&[(0x1b, 0x100)])));
        bytes.extend(key(0));
        bytes.extend(key(s));
        ffmpeg.write_all(&bytes).await.unwrap();
        tokio::time::timeout(Duration::from_secs(10), seg.published())
            .await
            .unwrap();
        assert!(dir.join("stream_3_000.ts").exists());
        // ffmpeg's output has not ended (the thread is alive): the run ends
        // all the same, and what comes after writes nothing.
        seg.finish_within(Duration::from_millis(10)).await;
        let mut more = key(2 * s);
        more.extend(key(3 * s));
        more.extend(key(4 * s));
        ffmpeg.write_all(&more).await.unwrap();
        drop(ffmpeg);
        // The thread holds the other reference until it has ended.
        for _ in 0..1000 {
            if Arc::strong_count(&seg.shared) == 1 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(Arc::strong_count(&seg.shared), 1);
        assert!(!dir.join("stream_3_001.ts").exists());
        // Its open segment's temporary file is not its to remove any more.
        assert!(dir.join("stream_3_001.ts.tmp").exists());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
