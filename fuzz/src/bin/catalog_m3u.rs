//! AFL entry point; the target and its properties: src/targets/catalog_m3u.rs.
fn main() {
    afl::fuzz!(|data: &[u8]| fuzz_targets::targets::catalog_m3u::run(data));
}
