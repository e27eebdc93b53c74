//! The module's playlist cache reading a playlist file
//! (`playlist_cache::PlaylistCache::ready`, which reads with
//! `shared::playlist::read_ready_with_meta` and parses a `Template`):
//! whatever the file holds, a ready entry has segments and its text is the
//! file's.

use std::path::PathBuf;

use crate::playlist_cache::PlaylistCache;

thread_local! {
    static DIR: PathBuf = {
        let dir = std::env::temp_dir().join(format!("fuzz-playlist-cache-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("scratch directory");
        // One segment the playlists can name.
        std::fs::write(dir.join("seg_001.ts"), b"x").expect("segment file");
        dir
    };
}

pub fn run(data: &[u8]) {
    DIR.with(|dir| {
        let path = dir.join("index.m3u8");
        std::fs::write(&path, data).expect("write playlist");
        let mut cache = PlaylistCache::with_limit(2);
        for now in [0, 1, 10_000] {
            if let Ok(entry) = cache.ready(&path, now) {
                assert!(entry.summary.segments > 0, "ready without segments");
                assert_eq!(entry.template.text(), data);
            }
        }
    });
}
