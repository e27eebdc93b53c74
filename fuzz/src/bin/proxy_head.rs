//! AFL entry point; the target and its properties: src/targets/proxy_head.rs.
fn main() {
    afl::fuzz!(|data: &[u8]| fuzz_targets::targets::proxy_head::run(data));
}
