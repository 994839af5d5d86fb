#!/usr/bin/env bash
# Presence fan-out benchmark: NOTIFYs per second to 10,000 watchers of one person, and the
# server's memory per subscription.
#
#   bench/presence/run.sh            (or: bench/run.sh presence)
#
# Starts a release `switchboard serve` on free loopback ports (pinned to core 0) with one
# user, sip:bob@127.0.0.1, and runs bench/presence/fanout.py (pinned to core 1): it
# subscribes SB_BENCH_WATCHERS times to bob over UDP from 8 sockets as watchers of a foreign
# domain, reads the server's VmRSS before and after, then runs
# `switchboard presence set sip:bob@127.0.0.1 --state busy` once and counts the NOTIFYs
# that follow. The server is stopped by pid at the end, whatever happens.
#
# Environment knobs (defaults in brackets):
#   SB_BENCH_WATCHERS   subscriptions                            [10000]
#   SB_BENCH_SOCKETS    UDP sockets the watchers are spread over  [8]
#   SB_BENCH_SETTLE     seconds before the settled memory reading     [40]
#   SB_BENCH_BIN        a release switchboard binary to use instead of building one
#   SB_BENCH_KEEP=1     keep the temporary directory (config, server log)
#   CARGO_TARGET_DIR    where cargo builds    [$HOME/.cache/switchboard/target]
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$(dirname "$HERE")")
WATCHERS=${SB_BENCH_WATCHERS:-10000}
SOCKETS=${SB_BENCH_SOCKETS:-8}
TARGET=${CARGO_TARGET_DIR:-$HOME/.cache/switchboard/target}

log() { printf '[bench presence %s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
die() {
    log "error: $*"
    exit 1
}

command -v python3 >/dev/null || die "python3 is needed for the load client"
command -v taskset >/dev/null || die "taskset (util-linux) is needed"

if [ -n "${SB_BENCH_BIN:-}" ]; then
    SB=$SB_BENCH_BIN
else
    log "building switchboard (release) into $TARGET"
    (cd "$ROOT" && CARGO_TARGET_DIR=$TARGET cargo build --release -p switchboard --locked)
    SB=$TARGET/release/switchboard
fi
[ -x "$SB" ] || die "no binary at $SB"

WORK=$(mktemp -d /tmp/sb-bench-presence.XXXXXX)
SERVER_PID=
cleanup() {
    local rc=$?
    if [ -n "$SERVER_PID" ] && [ -d "/proc/$SERVER_PID" ]; then
        kill -TERM "$SERVER_PID" 2>/dev/null || true
        for _ in $(seq 100); do
            [ -d "/proc/$SERVER_PID" ] || break
            sleep 0.1
        done
        kill -KILL "$SERVER_PID" 2>/dev/null || true
    fi
    if [ "${SB_BENCH_KEEP:-0}" = 1 ] || [ "$rc" -ne 0 ]; then
        log "logs kept in $WORK"
    else
        rm -rf "$WORK"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
SIP_PORT=$(free_port)
HTTP_PORT=$(free_port)
cat >"$WORK/switchboard.toml" <<TOML
[sip]
udp = ["127.0.0.1:$SIP_PORT"]
tcp = ["127.0.0.1:$SIP_PORT"]
tls = []
ws = []
domains = ["127.0.0.1"]

[http]
listen = "127.0.0.1:$HTTP_PORT"

[site]
domains = ["127.0.0.1"]

[[site.users]]
address = "sip:bob@127.0.0.1"
password = "bench-bob-1"
TOML

SBARGS=(--config "$WORK/switchboard.toml" --data "$WORK/data")
RUST_LOG=${SB_BENCH_SB_LOG:-warn} taskset -c 0 "$SB" serve "${SBARGS[@]}" >"$WORK/server.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 300); do
    curl -fsS "http://127.0.0.1:$HTTP_PORT/health" >/dev/null 2>&1 && break
    [ -d "/proc/$SERVER_PID" ] || die "switchboard exited: $(tail -20 "$WORK/server.log")"
    sleep 0.1
done
curl -fsS "http://127.0.0.1:$HTTP_PORT/health" >/dev/null || die "switchboard not ready"
log "switchboard pid $SERVER_PID on udp 127.0.0.1:$SIP_PORT; $WATCHERS watchers"

TRIGGER="$SB presence set sip:bob@127.0.0.1 --state busy --note 'fan-out' ${SBARGS[*]}"
taskset -c 1 python3 "$HERE/fanout.py" --server "127.0.0.1:$SIP_PORT" \
    --target sip:bob@127.0.0.1 --pid "$SERVER_PID" --watchers "$WATCHERS" \
    --sockets "$SOCKETS" --settle "${SB_BENCH_SETTLE:-40}" --trigger "$TRIGGER" | tee "$WORK/result.txt"
log "done; server log: $WORK/server.log"
