//! AFL entry point; the target and its properties: src/targets/config_values.rs.
fn main() {
    afl::fuzz!(|data: &[u8]| fuzz_targets::targets::config_values::run(data));
}
