#!/usr/bin/env bash
# DESIGN.md: no crate below sb-runtime depends on tokio, a socket crate or a database
# client, and none reads the system clock. The crates below the shell are every workspace
# member except the ones listed in SHELL_CRATES (and dev-only helpers, which tests use).
set -euo pipefail
cd "$(dirname "$0")/.."

SHELL_CRATES="sb-runtime sb-admin switchboard sb-netsim sb-store"
FORBIDDEN_DEPS="tokio mio socket2 async-std smol sqlx rusqlite postgres tokio-postgres hyper axum reqwest"
CLOCK_CALLS='(Instant::now|SystemTime::now|std::time::SystemTime|chrono::Utc::now|Local::now)\b'

fail=0
members=$(cargo metadata --no-deps --format-version 1 --locked |
    python3 -c 'import json,sys; m=json.load(sys.stdin); [print(p["name"], p["manifest_path"]) for p in m["packages"]]')

while read -r name manifest; do
    case " $SHELL_CRATES " in *" $name "*) continue ;; esac
    dir=$(dirname "$manifest")
    deps=$(cargo tree -p "$name" -e normal --prefix none --locked 2>/dev/null | awk '{print $1}' | sort -u)
    for bad in $FORBIDDEN_DEPS; do
        if grep -qx "$bad" <<<"$deps"; then
            echo "layering: $name depends on $bad (directly or through another crate)"
            fail=1
        fi
    done
    # The clock: core code takes `now` as an input. Only src/ counts; tests and benches
    # may start a virtual clock from a real instant.
    if hits=$(grep -rnE "$CLOCK_CALLS" "$dir/src" 2>/dev/null); then
        echo "layering: $name reads the system clock:"
        echo "$hits"
        fail=1
    fi
    echo "layering: $name ok"
done <<<"$members"

if [ "$fail" != 0 ]; then
    echo "layering check failed"
    exit 1
fi
echo "layering check passed"
