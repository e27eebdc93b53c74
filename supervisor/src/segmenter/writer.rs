//! The segmenter's files: each segment written under a temporary name and
//! renamed into place when it ends, then the playlist (also by rename), as
//! ffmpeg's `temp_file` flag does; segments that left the list are deleted
//! a few entries later (ffmpeg's delete threshold), so a player that just
//! read the list can still fetch them. Runs on the segmenter's own thread:
//! blocking writes are fine there.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use tracing::warn;

use super::leftovers;
use super::playlist::{segment_name, Playlist};
use super::split::Out;
use shared::mpegts as ts;

/// Segments kept on disk after they leave the list (ffmpeg's
/// `-hls_delete_threshold 3`).
const DELETE_THRESHOLD: usize = 3;

struct Open {
    file: BufWriter<File>,
    tmp: PathBuf,
    name: String,
    start: u64,
    key: bool,
}

pub struct Writer {
    dir: PathBuf,
    channel: String,
    playlist: Playlist,
    open: Option<Open>,
    gone: VecDeque<u64>,
    /// Segments published by this run.
    pub published: u64,
}

fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    let written = std::fs::write(&tmp, bytes).and_then(|()| std::fs::rename(&tmp, path));
    if written.is_err() {
        remove_tmp(&tmp);
    }
    written
}

/// A temporary file whose write or rename failed goes (the failure itself
/// is logged once, by the thread that then stops); only a failure to
/// remove it is worth a line of its own.
fn remove_tmp(tmp: &Path) {
    match std::fs::remove_file(tmp) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => {
            warn!(file = %tmp.display(), error = %e, "cannot remove a temporary segmenter file")
        }
    }
}

impl Writer {
    pub fn new(dir: &Path, channel: &str, playlist: Playlist) -> Writer {
        Writer {
            dir: dir.to_path_buf(),
            channel: channel.to_string(),
            playlist,
            open: None,
            gone: VecDeque::new(),
            published: 0,
        }
    }

    /// One event from the splitter; Ok(true) when a segment was published.
    pub fn out(&mut self, o: Out) -> std::io::Result<bool> {
        match o {
            Out::Data(d) => {
                if let Some(open) = &mut self.open {
                    open.file.write_all(d)?;
                }
                Ok(false)
            }
            Out::End { time } => {
                let published = self.close(time)?;
                self.playlist.break_here();
                Ok(published)
            }
            Out::Begin { time, key } => {
                let published = self.close(time)?;
                let name = segment_name(&self.channel, self.playlist.next_number());
                let tmp = self.dir.join(format!("{name}.tmp"));
                let file = BufWriter::with_capacity(64 * 1024, File::create(&tmp)?);
                self.open = Some(Open {
                    file,
                    tmp,
                    name,
                    start: time,
                    key,
                });
                Ok(published)
            }
        }
    }

    /// Ends the open segment at `end` (90 kHz) and publishes it; Ok(false)
    /// if none was open or it has no length.
    pub fn close(&mut self, end: u64) -> std::io::Result<bool> {
        let Some(open) = self.open.take() else {
            return Ok(false);
        };
        let ticks = ts::ticks_between(open.start, end);
        let flushed = open.file.into_inner().map_err(|e| e.into_error());
        let placed = flushed.and_then(|file| {
            drop(file);
            if ticks <= 0 {
                return Ok(false);
            }
            std::fs::rename(&open.tmp, self.dir.join(&open.name)).map(|()| true)
        });
        match placed {
            Ok(true) => {}
            Ok(false) => {
                remove_tmp(&open.tmp);
                return Ok(false);
            }
            Err(e) => {
                remove_tmp(&open.tmp);
                return Err(e);
            }
        }
        let gone = self
            .playlist
            .push(ticks as f64 / ts::CLOCK as f64, open.key);
        let path = crate::ffmpeg_args::playlist_path(&self.dir, &self.channel);
        write_atomically(&path, self.playlist.render().as_bytes())?;
        self.published += 1;
        self.gone.extend(gone);
        while self.gone.len() > DELETE_THRESHOLD {
            if let Some(n) = self.gone.pop_front() {
                let _ = std::fs::remove_file(self.dir.join(segment_name(&self.channel, n)));
            }
        }
        Ok(true)
    }

    /// Writes the playlist again, unchanged (freshness.rs: a new mtime).
    pub fn republish(&mut self) -> std::io::Result<()> {
        let path = crate::ffmpeg_args::playlist_path(&self.dir, &self.channel);
        write_atomically(&path, self.playlist.render().as_bytes())
    }

    /// A resumed run: deletes the segments the previous run left that had
    /// already left its list (by name, this channel's only, in its own
    /// directory), those within the keep margin as the list moves on.
    pub fn sweep_leftovers(&mut self) {
        let Some(first) = self.playlist.entries().next().map(|e| e.number) else {
            return;
        };
        let Ok(dir) = std::fs::read_dir(&self.dir) else {
            return;
        };
        let names: Vec<String> = dir
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .collect();
        let sweep = leftovers::sweep(
            names.iter().map(String::as_str),
            &self.channel,
            first,
            DELETE_THRESHOLD as u64,
        );
        for name in sweep.delete {
            let _ = std::fs::remove_file(self.dir.join(name));
        }
        self.gone = sweep.later.into();
    }

    /// The run ended: the segment being written is not published.
    pub fn discard(&mut self) {
        if let Some(open) = self.open.take() {
            drop(open.file);
            remove_tmp(&open.tmp);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_and_playlist_appear_by_rename_and_old_ones_go() {
        let dir = std::env::temp_dir().join(format!("seg-writer-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut w = Writer::new(&dir, "5", Playlist::new("5", 2));
        let s = ts::CLOCK;
        assert!(!w.out(Out::Begin { time: 0, key: true }).unwrap());
        w.out(Out::Data(b"abc")).unwrap();
        assert!(dir.join("stream_5_000.ts.tmp").exists());
        assert!(!dir.join("stream_5.m3u8").exists());
        assert!(w.out(Out::Begin { time: s, key: true }).unwrap());
        assert_eq!(std::fs::read(dir.join("stream_5_000.ts")).unwrap(), b"abc");
        let text = std::fs::read_to_string(dir.join("stream_5.m3u8")).unwrap();
        assert!(text.contains("#EXTINF:1.000000,\nstream_5_000.ts\n"));
        for i in 2..8 {
            w.out(Out::Begin {
                time: i * s,
                key: true,
            })
            .unwrap();
        }
        // 0..=6 published, 5 and 6 listed, 2..=4 kept a while, 0 and 1 gone.
        assert!(!dir.join("stream_5_001.ts").exists());
        assert!(dir.join("stream_5_002.ts").exists());
        assert!(dir.join("stream_5_007.ts.tmp").exists());
        w.discard();
        assert!(!dir.join("stream_5_007.ts.tmp").exists());
        assert!(!dir.join("stream_5_007.ts").exists());
        assert_eq!(w.published, 7);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_jump_closes_the_segment_and_marks_the_next_a_discontinuity() {
        let dir = std::env::temp_dir().join(format!("seg-jump-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut w = Writer::new(&dir, "6", Playlist::new("6", 5));
        let s = ts::CLOCK;
        w.out(Out::Begin {
            time: 100 * s,
            key: true,
        })
        .unwrap();
        w.out(Out::Data(b"old")).unwrap();
        // Backwards: the open segment is kept, with its own length.
        assert!(w.out(Out::End { time: 101 * s }).unwrap());
        w.out(Out::Begin { time: 5, key: true }).unwrap();
        w.out(Out::Begin {
            time: 5 + 2 * s,
            key: true,
        })
        .unwrap();
        let text = std::fs::read_to_string(dir.join("stream_6.m3u8")).unwrap();
        assert!(text.ends_with(
            "#EXTINF:1.000000,\nstream_6_000.ts\n#EXT-X-DISCONTINUITY\n\
             #EXTINF:2.000000,\nstream_6_001.ts\n"
        ));
        assert_eq!(std::fs::read(dir.join("stream_6_000.ts")).unwrap(), b"old");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_failed_rename_leaves_no_temporary_file() {
        let dir = std::env::temp_dir().join(format!("seg-fail-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let s = ts::CLOCK;
        // A directory where the segment belongs: its rename fails.
        std::fs::create_dir_all(dir.join("stream_7_000.ts/x")).unwrap();
        let mut w = Writer::new(&dir, "7", Playlist::new("7", 5));
        w.out(Out::Begin { time: 0, key: true }).unwrap();
        w.out(Out::Data(b"abc")).unwrap();
        assert!(w.out(Out::Begin { time: s, key: true }).is_err());
        assert!(!dir.join("stream_7_000.ts.tmp").exists());
        // Likewise the playlist's.
        std::fs::create_dir_all(dir.join("stream_8.m3u8/x")).unwrap();
        let mut w = Writer::new(&dir, "8", Playlist::new("8", 5));
        w.out(Out::Begin { time: 0, key: true }).unwrap();
        assert!(w.out(Out::Begin { time: s, key: true }).is_err());
        assert!(dir.join("stream_8_000.ts").exists());
        assert!(!dir.join("stream_8.m3u8.tmp").exists());
        w.discard();
        assert!(!dir.join("stream_8_001.ts.tmp").exists());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_resumed_run_deletes_what_the_last_one_left() {
        let dir = std::env::temp_dir().join(format!("seg-sweep-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        for n in 30..=41 {
            std::fs::write(dir.join(segment_name("4", n)), b"x").unwrap();
        }
        std::fs::write(dir.join("stream_41_001.ts"), b"x").unwrap();
        let old = "#EXTM3U\n#EXT-X-MEDIA-SEQUENCE:40\n#EXTINF:4,\nstream_4_040.ts\n\
                   #EXTINF:4,\nstream_4_041.ts\n";
        let mut w = Writer::new(&dir, "4", Playlist::resume("4", 2, old));
        w.sweep_leftovers();
        let left = |n| dir.join(segment_name("4", n)).exists();
        assert!((30..=36).all(|n| !left(n)));
        assert!((37..=41).all(left));
        assert!(dir.join("stream_41_001.ts").exists());
        // 42, 43, 44: 40, 41 and 42 leave the list; the three kept are
        // then 40..=42, so 37..=39 went.
        for i in 0..4 {
            w.out(Out::Begin {
                time: i * ts::CLOCK,
                key: true,
            })
            .unwrap();
        }
        assert!((37..=39).all(|n| !left(n)));
        assert!((40..=44).all(left));
        w.discard();
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
