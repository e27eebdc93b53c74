//! AFL entry point; the target and its properties: src/targets/gateway_policy.rs.
fn main() {
    afl::fuzz!(|data: &[u8]| fuzz_targets::targets::gateway_policy::run(data));
}
