//! AFL entry point; the target and its properties: src/targets/playlist.rs.
fn main() {
    afl::fuzz!(|data: &[u8]| fuzz_targets::targets::playlist::run(data));
}
