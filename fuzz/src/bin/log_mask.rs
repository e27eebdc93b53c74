//! AFL entry point; the target and its properties: src/targets/log_mask.rs.
fn main() {
    afl::fuzz!(|data: &[u8]| fuzz_targets::targets::log_mask::run(data));
}
