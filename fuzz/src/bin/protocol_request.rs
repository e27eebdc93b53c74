//! AFL entry point; the target and its properties: src/targets/protocol_request.rs.
fn main() {
    afl::fuzz!(|data: &[u8]| fuzz_targets::targets::protocol_request::run(data));
}
