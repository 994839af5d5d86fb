#!/usr/bin/env bash
# DESIGN.md: no crate below sb-runtime depends on tokio, a socket crate or a database
# client, and none reads the system clock. The crates below the shell are every workspace
# member except the ones listed in SHELL_CRATES (and dev-only helpers, which tests use).
set -euo pipefail
cd "$(dirname "$0")/.."

# Benchmark tools (bench/) drive real sockets and clocks on purpose.
SHELL_CRATES="sb-runtime sb-admin switchboard sb-netsim sb-store sb-bench-media"
FORBIDDEN_DEPS="tokio mio socket2 async-std smol sqlx rusqlite postgres tokio-postgres hyper axum reqwest"
CLOCK_CALLS='(Instant::now|SystemTime::now|std::time::SystemTime|chrono::Utc::now|Local::now)'

fail=0
members=$(cargo metadata --no-deps --format-version 1 --locked |
    python3 -c 'import json,sys; m=json.load(sys.stdin); [print(p["name"], p["manifest_path"]) for p in m["packages"]]')

while read -r name manifest; do
    case " $SHELL_CRATES " in *" $name "*) continue ;; esac
    dir=$(dirname "$manifest")
    crate_fail=0
    deps=$(cargo tree -p "$name" -e normal --prefix none --locked 2>/dev/null | awk '{print $1}' | sort -u)
    for bad in $FORBIDDEN_DEPS; do
        if grep -qx "$bad" <<<"$deps"; then
            echo "layering: $name depends on $bad (directly or through another crate)"
            crate_fail=1
        fi
    done
    # The clock: core code takes `now` as an input. Only non-test code in src/ counts:
    # comments (doc examples show how a caller drives the core from its clock) and
    # everything from a file's first `#[cfg(test)]` on are skipped; tests and benches may
    # start a virtual clock from a real instant.
    if hits=$(find "$dir/src" -name '*.rs' -print0 | xargs -0 awk -v re="$CLOCK_CALLS" '
            FNR == 1 { in_test = 0 }
            /^[[:space:]]*#\[cfg\(test\)\]/ { in_test = 1 }
            in_test || /^[[:space:]]*\/\// { next }
            $0 ~ re { print FILENAME ":" FNR ": " $0; found = 1 }
            END { exit !found }'); then
        echo "layering: $name reads the system clock:"
        echo "$hits"
        crate_fail=1
    fi
    if [ "$crate_fail" = 0 ]; then
        echo "layering: $name ok"
    else
        fail=1
    fi
done <<<"$members"

if [ "$fail" != 0 ]; then
    echo "layering check failed"
    exit 1
fi
echo "layering check passed"
