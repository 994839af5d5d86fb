#!/usr/bin/env bash
# A short coverage-guided fuzz run of every target on the stable toolchain: what the test
# command runs so a parser change that panics on mutated torture messages fails CI.
#   fuzz/smoke.sh [SECONDS_PER_TARGET]   (default 20)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
secs="${1:-20}"
target_dir="${CARGO_TARGET_DIR:-$HOME/.cache/switchboard/target}/fuzz"
triple="$(rustc -vV | sed -n 's/^host: //p')"

sh "$here/seed.sh" >/dev/null

# Instrumentation for libFuzzer's coverage feedback; --target keeps the flags away from
# build scripts and proc macros.
export RUSTFLAGS="--cfg fuzzing -Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 \
-Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table \
-Cllvm-args=-sanitizer-coverage-trace-compares -Cdebug-assertions -Coverflow-checks"
(cd "$here" && CARGO_TARGET_DIR="$target_dir" cargo build --release --locked --quiet --target "$triple")

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for t in parse framing call auth_header presence_doc sdp rtp srtp; do
    mkdir -p "$work/$t"
    echo "fuzz: $t for ${secs}s"
    # New inputs go to a scratch corpus; the seeds are read-only input. A crash exits
    # non-zero and leaves the input under $work for the log.
    "$target_dir/$triple/release/$t" -max_total_time="$secs" -print_final_stats=1 \
        -artifact_prefix="$work/" "$work/$t" "$here/corpus/$t" 2>"$work/$t.log" || {
        tail -50 "$work/$t.log"
        echo "fuzz: $t found a failure"
        exit 1
    }
    grep -E "stat::number_of_executed_units" "$work/$t.log" || true
done
echo "fuzz: no failures"
