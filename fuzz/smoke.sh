#!/usr/bin/env bash
# A coverage-guided fuzz run of every target on the stable toolchain: what the test command
# runs so a parser change that panics on mutated inputs fails CI.
#
#   fuzz/smoke.sh                 the CI run: a fixed seed and a fixed number of runs per
#                                 target, so the same tree gives the same verdict every time
#   fuzz/smoke.sh explore SECS    a longer search: a random seed, SECS seconds per target;
#                                 run it before merging parser changes, and commit a test
#                                 for whatever it finds
#   SB_FUZZ_RUNS=N SB_FUZZ_SEED=S fuzz/smoke.sh    another fixed run
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
target_dir="${CARGO_TARGET_DIR:-$HOME/.cache/switchboard/target}/fuzz"
triple="$(rustc -vV | sed -n 's/^host: //p')"
targets=(parse framing call auth_header presence_doc sdp rtp srtp stun dialog)

if [ "${1:-}" = explore ]; then
    limits=(-seed=0 -max_total_time="${2:-120}")
    echo "fuzz: exploring with random seeds, ${2:-120}s per target"
else
    # libFuzzer is deterministic for one seed and a run count (single process, fresh
    # scratch corpus); the time limit only guards against a pathologically slow machine.
    limits=(-seed="${SB_FUZZ_SEED:-1}" -runs="${SB_FUZZ_RUNS:-400000}" -max_total_time=300)
fi

sh "$here/seed.sh" >/dev/null

# Instrumentation for libFuzzer's coverage feedback; --target keeps the flags away from
# build scripts and proc macros.
export RUSTFLAGS="--cfg fuzzing -Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 \
-Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table \
-Cllvm-args=-sanitizer-coverage-trace-compares -Cdebug-assertions -Coverflow-checks"
(cd "$here" && CARGO_TARGET_DIR="$target_dir" cargo build --release --locked --quiet --target "$triple")

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for t in "${targets[@]}"; do
    mkdir -p "$work/$t" "$here/corpus/$t"
    echo "fuzz: $t ${limits[*]}"
    # New inputs go to a scratch corpus; the seeds are read-only input. A crash exits
    # non-zero and leaves the input under $work for the log.
    "$target_dir/$triple/release/$t" "${limits[@]}" -print_final_stats=1 \
        -artifact_prefix="$work/" "$work/$t" "$here/corpus/$t" 2>"$work/$t.log" || {
        tail -50 "$work/$t.log"
        echo "fuzz: $t found a failure; the input, base64:"
        for f in "$work"/crash-* "$work"/timeout-* "$work"/oom-*; do
            [ -e "$f" ] && base64 -w0 "$f" && echo
        done
        exit 1
    }
    grep -E "stat::number_of_executed_units" "$work/$t.log" || true
done
echo "fuzz: no failures"
