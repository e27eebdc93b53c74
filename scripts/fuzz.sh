#!/bin/bash
# Coverage-guided fuzzing of every parser that sees outside bytes, with
# AFL++ (cargo-afl, stable toolchain). Targets: fuzz/src/targets/*.rs;
# seeds: fuzz/corpus/<target>/.
#
#   scripts/fuzz.sh [--minutes N] [--jobs J] [target...]
#       builds, fuzzes each target (all by default) for N minutes (1),
#       J targets at a time (1), prints executions, paths and crashes per
#       target, keeps findings under fuzz/out/<target>/ (printed), and
#       exits non-zero if any target crashed.
#   scripts/fuzz.sh --ci
#       replays every seed through every target (fuzz/tests/corpus.rs),
#       checks the fuzz crate's fmt and clippy, then fuzzes each target for
#       FUZZ_CI_SECONDS (12) seconds, two at a time.
#
# A crash is a panic in the code under test or a property a target checks.
# Reproduce one with: fuzz/target/release/<target> < <crash file>
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

minutes=1
jobs=1
ci=0
targets=()
while [ $# -gt 0 ]; do
    case $1 in
    --minutes) minutes=$2; shift 2 ;;
    --jobs) jobs=$2; shift 2 ;;
    --ci) ci=1; shift ;;
    -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
    -*) echo "fuzz.sh: unknown option $1" >&2; exit 2 ;;
    *) targets+=("$1"); shift ;;
    esac
done
case $minutes in
'' | *[!0-9.]*) echo "fuzz.sh: --minutes takes a number" >&2; exit 2 ;;
esac

sh scripts/fuzz-setup.sh

all=$(cd fuzz/src/bin && ls -- *.rs | sed 's/\.rs$//')
[ ${#targets[@]} -gt 0 ] || read -r -a targets <<<"$(echo $all)"
for t in "${targets[@]}"; do
    if ! grep -qx "$t" <<<"$all"; then
        echo "fuzz.sh: no target \"$t\" (targets: $(echo $all))" >&2
        exit 2
    fi
done

echo "== fuzz: building the targets (AFL++ instrumentation)" >&2
(cd fuzz && cargo afl build --release --locked --bins >&2)

if [ $ci = 1 ]; then
    echo "== fuzz: every seed through every target" >&2
    (cd fuzz && cargo afl test --release --locked --test corpus >&2)
    # Its own workspace: the root's fmt and clippy do not see it.
    echo "== fuzz: cargo fmt --check, cargo clippy" >&2
    (cd fuzz && cargo fmt --check && cargo afl clippy --release --locked --all-targets -- -D warnings >&2)
    seconds=${FUZZ_CI_SECONDS:-12}
    jobs=2
else
    seconds=$(awk -v m="$minutes" 'BEGIN { printf "%d", m * 60 }')
fi

out="$root/fuzz/out"
mkdir -p "$out"
# Plain afl-fuzz on a shared machine: no CPU binding (cores are shared
# with builds and other fuzzers), no core-dump or CPU-governor demands,
# no terminal UI; a generous per-input timeout so a loaded machine does
# not pass for a hang.
export AFL_NO_AFFINITY=1 AFL_SKIP_CPUFREQ=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1
export AFL_NO_UI=1 AFL_QUIET=1 AFL_SKIP_CRASHES=1 AFL_AUTORESUME=1

run_one() {
    local t=$1 dir="$out/$1"
    rm -rf "$dir"
    mkdir -p "$dir"
    cargo afl fuzz -V "$seconds" -t 2000 -m none -i "fuzz/corpus/$t" -o "$dir" \
        "$root/fuzz/target/release/$t" >"$dir/afl.log" 2>&1 || {
        echo "fuzz.sh: afl-fuzz failed for $t; its log:" >&2
        tail -n 20 "$dir/afl.log" >&2
        return 1
    }
}

echo "== fuzz: ${#targets[@]} targets, ${seconds}s each, $jobs at a time; findings in $out" >&2
running=0
failed=0
for t in "${targets[@]}"; do
    run_one "$t" &
    running=$((running + 1))
    if [ $running -ge "$jobs" ]; then
        wait -n || failed=1
        running=$((running - 1))
    fi
done
while [ $running -gt 0 ]; do
    wait -n || failed=1
    running=$((running - 1))
done

stat() { sed -n "s/^$1 *: *//p" "$2"; }
crashed=0
printf '%-18s %12s %9s %7s %9s %8s %6s\n' target execs exec/s paths edges crashes hangs
for t in "${targets[@]}"; do
    s="$out/$t/default/fuzzer_stats"
    if [ ! -f "$s" ]; then
        printf '%-18s (no statistics: see %s)\n' "$t" "$out/$t/afl.log"
        failed=1
        continue
    fi
    printf '%-18s %12s %9s %7s %9s %8s %6s\n' "$t" "$(stat execs_done "$s")" \
        "$(stat execs_per_sec "$s")" "$(stat corpus_count "$s")" \
        "$(stat edges_found "$s")/$(stat total_edges "$s")" \
        "$(stat saved_crashes "$s")" "$(stat saved_hangs "$s")"
    [ "$(stat saved_crashes "$s")" = 0 ] || crashed=1
done

if [ $crashed = 1 ]; then
    echo "fuzz.sh: CRASHES (inputs kept under $out/<target>/default/crashes/):" >&2
    for t in "${targets[@]}"; do
        n=0
        for f in "$out/$t"/default/crashes/id*; do
            [ -e "$f" ] || continue
            n=$((n + 1))
            [ $n -le 3 ] || continue
            echo "-- $t: $f" >&2
            # The subshell takes the shell's "Aborted" notice along.
            ("$root/fuzz/target/release/$t" <"$f"; true) 2>&1 | grep -m 3 -A 2 "panicked" >&2 || true
        done
    done
    exit 1
fi
[ $failed = 0 ] || exit 1
echo "fuzz.sh: no crashes" >&2
