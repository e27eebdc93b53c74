//! AFL entry point; the target and its properties: src/targets/gateway_cookies.rs.
fn main() {
    afl::fuzz!(|data: &[u8]| fuzz_targets::targets::gateway_cookies::run(data));
}
