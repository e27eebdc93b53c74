//! Replays every seed and every saved crash under `corpus/` through every
//! target, without AFL: a plain `cargo test` in this crate (what
//! `scripts/fuzz.sh --ci` runs first). A seed made for one parser is odd
//! input for the others, which is what fuzzing wants anyway.

use std::path::Path;

use fuzz_targets::targets::ALL;

#[test]
fn every_seed_through_every_target() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus");
    let mut files = Vec::new();
    for dir in std::fs::read_dir(&root).expect("fuzz/corpus") {
        let dir = dir.expect("corpus entry").path();
        for f in std::fs::read_dir(&dir).expect("corpus directory") {
            files.push(f.expect("corpus file").path());
        }
    }
    files.sort();
    for (name, _) in ALL {
        assert!(
            root.join(name).is_dir(),
            "target {name} has no corpus/{name}/"
        );
    }
    for file in &files {
        let data = std::fs::read(file).expect("read seed");
        for (name, run) in ALL {
            let outcome = std::panic::catch_unwind(|| run(&data));
            assert!(outcome.is_ok(), "target {name} fails on {}", file.display());
        }
    }
    println!("{} seeds through {} targets", files.len(), ALL.len());
}
