//! AFL entry point; the target and its properties: src/targets/api.rs.
fn main() {
    afl::fuzz!(|data: &[u8]| fuzz_targets::targets::api::run(data));
}
