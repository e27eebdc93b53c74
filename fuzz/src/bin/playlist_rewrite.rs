//! AFL entry point; the target and its properties: src/targets/playlist_rewrite.rs.
fn main() {
    afl::fuzz!(|data: &[u8]| fuzz_targets::targets::playlist_rewrite::run(data));
}
