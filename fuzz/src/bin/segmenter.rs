//! AFL entry point; the target and its properties: src/targets/segmenter.rs.
fn main() {
    afl::fuzz!(|data: &[u8]| fuzz_targets::targets::segmenter::run(data));
}
