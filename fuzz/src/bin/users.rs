//! AFL entry point; the target and its properties: src/targets/users.rs.
fn main() {
    afl::fuzz!(|data: &[u8]| fuzz_targets::targets::users::run(data));
}
