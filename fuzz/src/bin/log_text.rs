//! AFL entry point; the target and its properties: src/targets/log_text.rs.
fn main() {
    afl::fuzz!(|data: &[u8]| fuzz_targets::targets::log_text::run(data));
}
