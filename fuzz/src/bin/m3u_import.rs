//! AFL entry point; the target and its properties: src/targets/m3u_import.rs.
fn main() {
    afl::fuzz!(|data: &[u8]| fuzz_targets::targets::m3u_import::run(data));
}
