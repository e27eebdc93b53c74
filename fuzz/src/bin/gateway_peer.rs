//! AFL entry point; the target and its properties: src/targets/gateway_peer.rs.
fn main() {
    afl::fuzz!(|data: &[u8]| fuzz_targets::targets::gateway_peer::run(data));
}
