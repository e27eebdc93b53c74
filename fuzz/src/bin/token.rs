//! AFL entry point; the target and its properties: src/targets/token.rs.
fn main() {
    afl::fuzz!(|data: &[u8]| fuzz_targets::targets::token::run(data));
}
