#!/bin/sh
# Installs the fuzzing engine scripts/fuzz.sh uses: cargo-afl (AFL++ for
# Rust on the stable toolchain) at the version fuzz/Cargo.toml pins the
# `afl` crate to, and the AFL++ it builds from its own source (needs make
# and a C compiler: scripts/setup.sh's build-essential and clang).
# Idempotent: does nothing when that version is in place.
set -eu

CARGO_AFL_VERSION=0.18.2

if ! command -v cargo >/dev/null 2>&1; then
    echo "fuzz-setup: cargo not found" >&2
    exit 1
fi
if ! cargo afl --version 2>/dev/null | grep -q "^cargo-afl $CARGO_AFL_VERSION "; then
    echo "fuzz-setup: installing cargo-afl $CARGO_AFL_VERSION (builds AFL++; takes minutes)" >&2
    cargo install --locked --force cargo-afl --version "$CARGO_AFL_VERSION" >&2
fi
# `cargo install` builds AFL++ for the rustc of the day; a newer rustc
# needs it built again (cargo-afl refuses, harmlessly, when it is there).
if ! out=$(cargo afl config --build 2>&1); then
    case $out in
    *"already built"*) ;;
    *) echo "$out" >&2; exit 1 ;;
    esac
fi
