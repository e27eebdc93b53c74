//! AFL entry point; the target and its properties: src/targets/xmltv.rs.
fn main() {
    afl::fuzz!(|data: &[u8]| fuzz_targets::targets::xmltv::run(data));
}
