//! A worker's cache of ready playlists.
//!
//! ffmpeg replaces a playlist by rename once per segment, while viewers ask
//! for it many times a second. So a worker reads, checks and parses each
//! version of a playlist once, and afterwards answers from memory: same
//! file (device, inode, size, mtime) means same text. The path is looked
//! at again (one `stat`) at most every `REVALIDATE_MS`, as
//! `open_file_cache_valid` does for static files: a new version, sent once
//! per segment, is served within that time of its rename. The checks that
//! depend on time are still made per request: the playlist's age, and (at
//! most once a second) that a listed segment still exists.

use std::cell::Cell;
use std::collections::HashMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::time::SystemTime;

use crate::playlist_rewrite::Template;
use shared::playlist::{self, NotReady, Summary};

/// How long a worker trusts its last `stat` of a playlist. A tenth of a
/// second: a player asks for a playlist every segment (seconds), so none
/// notices, while a busy worker saves all but one `stat` (a path walk in
/// the kernel) per playlist in that time.
pub const REVALIDATE_MS: u64 = 100;
/// How often a cached playlist's segments are looked for again.
pub const SEGMENT_RECHECK_MS: u64 = 1_000;
/// Playlists kept per worker; beyond this, ones unused for a minute go.
pub const MAX_ENTRIES: usize = 4_096;
const UNUSED_MS: u64 = 60_000;

/// What tells one version of a file from the next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Identity {
    dev: u64,
    ino: u64,
    size: u64,
    mtime: i64,
    mtime_nsec: i64,
}

impl Identity {
    pub fn of(meta: &std::fs::Metadata) -> Identity {
        Identity {
            dev: meta.dev(),
            ino: meta.ino(),
            size: meta.size(),
            mtime: meta.mtime(),
            mtime_nsec: meta.mtime_nsec(),
        }
    }
}

/// One checked version of a playlist.
#[derive(Debug)]
pub struct Entry {
    identity: Identity,
    pub template: Template,
    pub summary: Summary,
    /// The file's modification time, for the per-request age check.
    modified: Option<SystemTime>,
    stat_checked_ms: Cell<u64>,
    segments_checked_ms: Cell<u64>,
    used_ms: Cell<u64>,
}

#[derive(Debug)]
pub struct PlaylistCache {
    entries: HashMap<PathBuf, Rc<Entry>>,
    limit: usize,
}

impl Default for PlaylistCache {
    fn default() -> PlaylistCache {
        PlaylistCache::with_limit(MAX_ENTRIES)
    }
}

impl PlaylistCache {
    pub fn with_limit(limit: usize) -> PlaylistCache {
        PlaylistCache {
            entries: HashMap::new(),
            limit: limit.max(1),
        }
    }

    /// The playlist at `path` if it is ready, from the cache when the file
    /// has not changed. `now_ms` is a monotonic clock in milliseconds.
    pub fn ready(&mut self, path: &Path, now_ms: u64) -> Result<Rc<Entry>, NotReady> {
        let result = self.lookup(path, now_ms);
        if result.is_err() {
            self.entries.remove(path);
        }
        result
    }

    fn lookup(&mut self, path: &Path, now_ms: u64) -> Result<Rc<Entry>, NotReady> {
        let fresh = |e: &Entry| now_ms.saturating_sub(e.stat_checked_ms.get()) < REVALIDATE_MS;
        match self.entries.get(path) {
            Some(entry) if fresh(entry) => return entry.serve(path, now_ms),
            _ => {}
        }
        let meta = std::fs::metadata(path).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => NotReady::Missing,
            _ => NotReady::Unreadable(e.to_string()),
        })?;
        if let Some(entry) = self.entries.get(path) {
            if entry.identity == Identity::of(&meta) {
                entry.stat_checked_ms.set(now_ms);
                return entry.serve(path, now_ms);
            }
        }
        let (bytes, summary, meta) = playlist::read_ready_with_meta(path)?;
        let entry = Rc::new(Entry {
            identity: Identity::of(&meta),
            template: Template::parse(bytes),
            summary,
            modified: meta.modified().ok(),
            stat_checked_ms: Cell::new(now_ms),
            segments_checked_ms: Cell::new(now_ms),
            used_ms: Cell::new(now_ms),
        });
        if self.entries.len() >= self.limit && !self.entries.contains_key(path) {
            self.entries
                .retain(|_, e| now_ms.saturating_sub(e.used_ms.get()) < UNUSED_MS);
            if self.entries.len() >= self.limit {
                self.entries.clear();
            }
        }
        self.entries.insert(path.to_path_buf(), entry.clone());
        Ok(entry)
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

impl Entry {
    /// This version, if it may still be served: not stale, and (looked at
    /// again once a second) some listed segment still there.
    fn serve(self: &Rc<Self>, path: &Path, now_ms: u64) -> Result<Rc<Entry>, NotReady> {
        let age = self
            .modified
            .and_then(|m| SystemTime::now().duration_since(m).ok())
            .unwrap_or_default();
        playlist::check_age(&self.summary, age)?;
        if now_ms.saturating_sub(self.segments_checked_ms.get()) >= SEGMENT_RECHECK_MS {
            let text = String::from_utf8_lossy(self.template.text());
            playlist::check_segments(&text, playlist::segment_exists_beside(path))?;
            self.segments_checked_ms.set(now_ms);
        }
        self.used_ms.set(now_ms);
        Ok(self.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    struct Dir(PathBuf);
    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }
    fn dir(name: &str) -> Dir {
        let d = std::env::temp_dir().join(format!("playlist-cache-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        fs::create_dir_all(&d).unwrap();
        Dir(d)
    }

    const TEXT: &str = "#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXTINF:4.0,\ns_1_001.ts\n";

    /// Writes the playlist the way ffmpeg does: a new file renamed over.
    fn replace(path: &Path, text: &str) {
        let tmp = path.with_extension("tmp");
        fs::write(&tmp, text).unwrap();
        fs::rename(&tmp, path).unwrap();
    }

    #[test]
    fn an_unchanged_playlist_is_not_read_again() {
        let d = dir("same");
        let p = d.0.join("s_1.m3u8");
        fs::write(d.0.join("s_1_001.ts"), b"x").unwrap();
        replace(&p, TEXT);
        let mut c = PlaylistCache::default();
        let a = c.ready(&p, 0).unwrap();
        let b = c.ready(&p, 10).unwrap();
        assert!(Rc::ptr_eq(&a, &b), "second answer came from the cache");
        assert_eq!(b.template.text(), TEXT.as_bytes());
        assert_eq!(b.summary.segments, 1);
    }

    #[test]
    fn a_new_version_is_read() {
        let d = dir("new");
        let p = d.0.join("s_1.m3u8");
        fs::write(d.0.join("s_1_001.ts"), b"x").unwrap();
        fs::write(d.0.join("s_1_002.ts"), b"x").unwrap();
        replace(&p, TEXT);
        let mut c = PlaylistCache::default();
        c.ready(&p, 0).unwrap();
        let next = format!("{TEXT}#EXTINF:4.0,\ns_1_002.ts\n");
        replace(&p, &next);
        // Within the revalidation interval the last look stands; after it
        // the new version is read.
        let e = c.ready(&p, REVALIDATE_MS - 1).unwrap();
        assert_eq!(e.template.text(), TEXT.as_bytes());
        let e = c.ready(&p, REVALIDATE_MS).unwrap();
        assert_eq!(e.template.text(), next.as_bytes());
        assert_eq!(e.summary.segments, 2);
    }

    #[test]
    fn vanished_files_are_noticed() {
        let d = dir("gone");
        let p = d.0.join("s_1.m3u8");
        let seg = d.0.join("s_1_001.ts");
        fs::write(&seg, b"x").unwrap();
        replace(&p, TEXT);
        let mut c = PlaylistCache::default();
        c.ready(&p, 0).unwrap();
        // Segments are looked for again once the recheck interval passed.
        fs::remove_file(&seg).unwrap();
        assert!(c.ready(&p, SEGMENT_RECHECK_MS - 1).is_ok());
        assert_eq!(
            c.ready(&p, SEGMENT_RECHECK_MS).unwrap_err(),
            NotReady::SegmentsMissing
        );
        assert!(c.is_empty(), "a playlist that is not ready is dropped");
        // The playlist itself: at the next look at the path.
        fs::write(&seg, b"x").unwrap();
        c.ready(&p, 0).unwrap();
        fs::remove_file(&p).unwrap();
        assert_eq!(c.ready(&p, REVALIDATE_MS).unwrap_err(), NotReady::Missing);
    }

    #[test]
    fn an_empty_playlist_is_never_ready() {
        let d = dir("empty");
        let p = d.0.join("s_1.m3u8");
        replace(&p, "#EXTM3U\n");
        let mut c = PlaylistCache::default();
        assert_eq!(c.ready(&p, 0).unwrap_err(), NotReady::NoSegments);
        assert_eq!(c.ready(&p, 1).unwrap_err(), NotReady::NoSegments);
        assert_eq!(c.len(), 0);
    }

    #[test]
    fn a_stale_cached_playlist_is_refused() {
        let d = dir("stale");
        let p = d.0.join("s_1.m3u8");
        fs::write(d.0.join("s_1_001.ts"), b"x").unwrap();
        replace(&p, TEXT);
        let mut c = PlaylistCache::default();
        c.ready(&p, 0).unwrap();
        // Age the same file (same inode) past three target durations.
        let old = std::time::SystemTime::now() - std::time::Duration::from_secs(60);
        let f = fs::File::options().write(true).open(&p).unwrap();
        f.set_modified(old).unwrap();
        drop(f);
        assert!(matches!(
            c.ready(&p, REVALIDATE_MS).unwrap_err(),
            NotReady::Stale { .. }
        ));
    }

    #[test]
    fn a_version_stale_when_read_is_refused() {
        let d = dir("aging");
        let p = d.0.join("s_1.m3u8");
        fs::write(d.0.join("s_1_001.ts"), b"x").unwrap();
        replace(&p, TEXT);
        // A version already older than three target durations when read
        // is refused by the first request, the one that read it.
        let old = std::time::SystemTime::now() - std::time::Duration::from_secs(60);
        let f = fs::File::options().write(true).open(&p).unwrap();
        f.set_modified(old).unwrap();
        drop(f);
        let mut c = PlaylistCache::default();
        assert!(matches!(
            c.ready(&p, 0).unwrap_err(),
            NotReady::Stale { .. }
        ));
        assert!(matches!(
            c.ready(&p, 1).unwrap_err(),
            NotReady::Stale { .. }
        ));
    }

    #[test]
    fn the_cache_stays_bounded() {
        let d = dir("bound");
        fs::write(d.0.join("s_1_001.ts"), b"x").unwrap();
        let paths: Vec<PathBuf> = (0..4).map(|i| d.0.join(format!("p{i}.m3u8"))).collect();
        for p in &paths {
            replace(p, TEXT);
        }
        let mut c = PlaylistCache::with_limit(3);
        for p in &paths[..3] {
            c.ready(p, 0).unwrap();
        }
        assert_eq!(c.len(), 3);
        // Full of playlists unused for over a minute: those go.
        c.ready(&paths[3], UNUSED_MS + 1).unwrap();
        assert_eq!(c.len(), 1);
        // Full of recently used ones: start afresh rather than grow.
        c.ready(&paths[0], UNUSED_MS + 2).unwrap();
        c.ready(&paths[1], UNUSED_MS + 3).unwrap();
        c.ready(&paths[2], UNUSED_MS + 4).unwrap();
        assert_eq!(c.len(), 1);
    }
}
