//! AFL entry point; the target and its properties: src/targets/proc_text.rs.
fn main() {
    afl::fuzz!(|data: &[u8]| fuzz_targets::targets::proc_text::run(data));
}
