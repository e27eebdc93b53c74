//! AFL entry point; the target and its properties: src/targets/channel_record.rs.
fn main() {
    afl::fuzz!(|data: &[u8]| fuzz_targets::targets::channel_record::run(data));
}
