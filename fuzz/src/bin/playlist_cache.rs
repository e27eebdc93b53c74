//! AFL entry point; the target and its properties: src/targets/playlist_cache.rs.
fn main() {
    afl::fuzz!(|data: &[u8]| fuzz_targets::targets::playlist_cache::run(data));
}
