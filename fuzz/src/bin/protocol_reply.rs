//! AFL entry point; the target and its properties: src/targets/protocol_reply.rs.
fn main() {
    afl::fuzz!(|data: &[u8]| fuzz_targets::targets::protocol_reply::run(data));
}
