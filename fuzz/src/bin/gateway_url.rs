//! AFL entry point; the target and its properties: src/targets/gateway_url.rs.
fn main() {
    afl::fuzz!(|data: &[u8]| fuzz_targets::targets::gateway_url::run(data));
}
