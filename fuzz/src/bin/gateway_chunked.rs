//! AFL entry point; the target and its properties: src/targets/gateway_chunked.rs.
fn main() {
    afl::fuzz!(|data: &[u8]| fuzz_targets::targets::gateway_chunked::run(data));
}
