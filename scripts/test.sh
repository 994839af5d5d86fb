#!/usr/bin/env bash
# The project's test command: installs what the tests need on a Debian machine, then runs
# formatting, lints, the layering check, the whole test suite (unit, torture corpus,
# property, simulation and end-to-end tests against real peers), a documentation build and
# a short fuzz run of every fuzz target.
#
#   ./scripts/test.sh            everything
#   SB_SKIP_INSTALL=1 ./scripts/test.sh   skip the apt-get step (packages already there)
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/switchboard/target}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
export RUST_BACKTRACE=1

step() { printf '\n==> %s\n' "$*"; }

if [ "${SB_SKIP_INSTALL:-0}" != 1 ]; then
    step "installing system packages"
    ./scripts/install-deps.sh
fi

step "rustfmt"
cargo fmt --all -- --check

step "clippy (warnings are errors)"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "layering: no core crate depends on tokio, sockets, databases or the system clock"
./scripts/check-layering.sh

step "tests"
cargo test --workspace --locked --no-fail-fast

step "documentation"
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --locked --quiet

step "fuzz run (every target, coverage-guided, fixed seed and run count)"
./fuzz/smoke.sh

step "done"
