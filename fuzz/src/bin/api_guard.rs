//! AFL entry point; the target and its properties: src/targets/api_guard.rs.
fn main() {
    afl::fuzz!(|data: &[u8]| fuzz_targets::targets::api_guard::run(data));
}
