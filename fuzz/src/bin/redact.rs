//! AFL entry point; the target and its properties: src/targets/redact.rs.
fn main() {
    afl::fuzz!(|data: &[u8]| fuzz_targets::targets::redact::run(data));
}
