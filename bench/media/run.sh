#!/usr/bin/env bash
# Media benchmark: Switchboard's media host beside rtpengine, same machine, same run, same
# load generator.
#
#   bench/media/run.sh            (or: bench/run.sh media)
#
# Needs rtpengine (Debian: apt-get install rtpengine-daemon); this script installs nothing.
# Builds bench/media (release): sb-media-relay (sb_runtime::MediaHost behind a subset of
# rtpengine's ng protocol), sb-media-load (the generator) and sb-opus-loop (the libopus
# bound). For each mode and each relay it steps the number of calls up; every step starts
# the relay afresh pinned to core 0 (rtpengine userspace only: --table=-1), runs the
# generator pinned to core 1, and stops the relay by pid. A relay's steps in a mode stop
# after the first step that lost 0.1 % or more.
#
# Modes: relay (PCMU both sides), srtp (SDES SRTP caller, plain RTP callee), transcode
# (Opus caller, PCMU callee). See bench/README.md for what is measured.
#
# Environment knobs (defaults in brackets):
#   SB_MEDIA_MODES           modes to run                    ["relay srtp transcode"]
#   SB_MEDIA_RELAYS          relays to run                   ["switchboard rtpengine"]
#   SB_MEDIA_RELAY_CALLS     calls per step, relay mode      ["250 500 1000 1500 2000"]
#   SB_MEDIA_SRTP_CALLS      calls per step, srtp mode       ["250 500 1000 1500"]
#   SB_MEDIA_TRANSCODE_CALLS calls per step, transcode mode  ["40 80 120 160 200"]
#   SB_MEDIA_SECONDS         measured seconds per step       [6]
#   SB_MEDIA_WARMUP          seconds of load before that     [2]
#   SB_MEDIA_OPUS_SECONDS    call-seconds of the libopus loop [300]
#   SB_MEDIA_NICE            nice level of relay and generator   [-10 as root, else 0]
#   SB_MEDIA_BIN_DIR         prebuilt release binaries to use instead of building
#   SB_BENCH_DOC             results file, "" to skip writing it   [docs/benchmarks.md]
#   SB_BENCH_KEEP=1          keep the temporary directory (relay logs)
#   CARGO_TARGET_DIR         where cargo builds    [$HOME/.cache/switchboard/target]
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$(dirname "$HERE")")
MODES=${SB_MEDIA_MODES:-"relay srtp transcode"}
RELAYS=${SB_MEDIA_RELAYS:-"switchboard rtpengine"}
SECONDS_PER_STEP=${SB_MEDIA_SECONDS:-6}
WARMUP=${SB_MEDIA_WARMUP:-2}
OPUS_SECONDS=${SB_MEDIA_OPUS_SECONDS:-300}
DOC=${SB_BENCH_DOC-$ROOT/docs/benchmarks.md}
TARGET=${CARGO_TARGET_DIR:-$HOME/.cache/switchboard/target}
RELAY_CORE=0
LOAD_CORE=1
# On a machine shared with builds, a relay at the default priority gets a fraction of its
# core and both relays fail at a small load; both relays and the generator get the same
# raised priority instead (negative nice levels need root).
if [ "$(id -u)" -eq 0 ]; then NICE=${SB_MEDIA_NICE:--10}; else NICE=${SB_MEDIA_NICE:-0}; fi
PIN_RELAY=(nice -n "$NICE" taskset -c "$RELAY_CORE")
PIN_LOAD=(nice -n "$NICE" taskset -c "$LOAD_CORE")

log() { printf '[bench media %s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
die() {
    log "error: $*"
    exit 1
}

calls_for() {
    case "$1" in
    relay) echo "${SB_MEDIA_RELAY_CALLS:-250 500 1000 1500 2000}" ;;
    srtp) echo "${SB_MEDIA_SRTP_CALLS:-250 500 1000 1500}" ;;
    transcode) echo "${SB_MEDIA_TRANSCODE_CALLS:-40 80 120 160 200}" ;;
    *) die "unknown mode $1" ;;
    esac
}

command -v taskset >/dev/null || die "taskset (util-linux) is needed"
command -v ss >/dev/null || die "ss (iproute2) is needed"
if [[ " $RELAYS " == *" rtpengine "* ]]; then
    command -v rtpengine >/dev/null ||
        die "rtpengine not found: install it first (Debian: apt-get install rtpengine-daemon), or run with SB_MEDIA_RELAYS=switchboard"
fi
[ "$(nproc)" -ge 2 ] || log "warning: fewer than 2 cores; relay and generator will share one"

if [ -n "${SB_MEDIA_BIN_DIR:-}" ]; then
    BIN=$SB_MEDIA_BIN_DIR
else
    log "building bench/media (release) into $TARGET"
    (cd "$ROOT" && CARGO_TARGET_DIR=$TARGET cargo build --release -p sb-bench-media --locked)
    BIN=$TARGET/release
fi
for b in sb-media-relay sb-media-load sb-opus-loop; do
    [ -x "$BIN/$b" ] || die "no $b in $BIN"
done

WORK=$(mktemp -d "${TMPDIR:-/tmp}/sb-bench-media.XXXXXX")
RELAY_PID=
stop_relay() {
    local pid=$RELAY_PID
    RELAY_PID=
    [ -n "$pid" ] && [ -d "/proc/$pid" ] || return 0
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 50); do
        [ -d "/proc/$pid" ] || break
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}
cleanup() {
    local rc=$?
    stop_relay
    if [ "${SB_BENCH_KEEP:-0}" = 1 ] || [ "$rc" -ne 0 ]; then
        log "logs kept in $WORK"
    else
        rm -rf "$WORK"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_udp_port() {
    local port
    for _ in $(seq 100); do
        port=$((20000 + RANDOM % 10000))
        if ! ss -Hluan "sport = :$port" | grep -q .; then
            echo "$port"
            return 0
        fi
    done
    die "no free UDP port found"
}

# Starts a relay pinned to the relay core; sets RELAY_PID and NG_PORT. Media ports come
# from 30000-39999 (Switchboard) or 40000-49999 (rtpengine), 4 per call.
start_relay() {
    local which=$1 logf=$WORK/$1-$2-$3.log
    NG_PORT=$(free_udp_port)
    case "$which" in
    switchboard)
        "${PIN_RELAY[@]}" "$BIN/sb-media-relay" --ng "127.0.0.1:$NG_PORT" \
            --ports 30000-39999 >"$logf" 2>&1 &
        ;;
    rtpengine)
        # Userspace forwarding only (--table=-1: no kernel module), one worker thread as
        # the relay has; no config file, so nothing of the system's is read.
        "${PIN_RELAY[@]}" rtpengine --config-file=none --table=-1 --foreground \
            --log-stderr --log-level=3 --interface=127.0.0.1 --listen-ng="127.0.0.1:$NG_PORT" \
            --port-min=40000 --port-max=49999 --num-threads=1 --media-num-threads=1 >"$logf" 2>&1 &
        ;;
    esac
    RELAY_PID=$!
    sleep 0.5
    [ -d "/proc/$RELAY_PID" ] || die "$which exited at start: $(tail -5 "$logf")"
}

RESULTS=$WORK/results.tsv
: >"$RESULTS"
LOAD_BEFORE=$(uptime | sed 's/.*load average: //')
for mode in $MODES; do
    for relay in $RELAYS; do
        for calls in $(calls_for "$mode"); do
            start_relay "$relay" "$mode" "$calls"
            log "$relay $mode: $calls calls"
            line=$("${PIN_LOAD[@]}" "$BIN/sb-media-load" --ng "127.0.0.1:$NG_PORT" \
                --mode "$mode" --calls "$calls" --seconds "$SECONDS_PER_STEP" \
                --warmup "$WARMUP" --pid "$RELAY_PID" 2>>"$WORK/load.log") || {
                log "$relay $mode $calls: the generator failed: $(tail -2 "$WORK/load.log")"
                stop_relay
                break
            }
            stop_relay
            printf '%s\t%s\n' "$relay" "$line" >>"$RESULTS"
            tail -1 "$WORK/load.log" >&2
            loss=$(printf '%s\n' "$line" | cut -f6)
            if awk -v l="$loss" 'BEGIN { exit !(l >= 0.1) }'; then
                log "$relay $mode: ${loss} % lost at $calls calls; no higher step"
                break
            fi
        done
    done
done

log "libopus loop: $OPUS_SECONDS call-seconds on core $RELAY_CORE"
OPUS=$("${PIN_RELAY[@]}" "$BIN/sb-opus-loop" --call-seconds "$OPUS_SECONDS" 2>/dev/null)

# Columns of $RESULTS: relay mode calls streams sent received loss p50 p99 cpu_us busy%
# gen% rss_before rss_after kib_per_call gen_drops lag_ms.
body=$(
    echo "Each step: N calls set up over ng, then both legs of every call send 20 ms packets"
    echo "(50/s per stream) for ${WARMUP} s of warm-up and ${SECONDS_PER_STEP} s measured; relay pinned to core"
    echo "$RELAY_CORE, generator to core $LOAD_CORE, both at nice $NICE. Relay CPU from /proc/PID/stat over the measured window,"
    echo "divided by the packets sent into the relay in it; memory from VmRSS before and"
    echo "after setting up the N calls."
    echo
    echo "- command: \`bench/run.sh media\`; modes: $MODES; $SECONDS_PER_STEP s per step"
    echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC'); load before the run: $LOAD_BEFORE; at the end: $(uptime | sed 's/.*load average: //')"
    echo "- machine: $(nproc) cores, $(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo), Linux $(uname -r)"
    rev=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
    git -C "$ROOT" diff --quiet HEAD -- crates bench/media Cargo.lock 2>/dev/null || rev="$rev with uncommitted changes"
    echo "- switchboard: sb-media-relay (sb_runtime::MediaHost, one thread) at $rev, release build"
    if command -v rtpengine >/dev/null; then
        echo "- rtpengine: $(rtpengine --version 2>&1 | sed -n 's/^Version: //p' | head -1), userspace (--table=-1), --num-threads=1"
    fi
    echo
    echo "| relay | mode | calls | streams | loss % | latency p50 µs | p99 µs | relay CPU µs/packet | relay CPU % | KiB/call | generator CPU % | generator drops |"
    echo "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    awk -F'\t' '{ printf "| %s | %s | %d | %d | %.3f | %s | %s | %s | %s | %s | %s | %s |\n", $1, $2, $3, $4, $7, $8, $9, $10, $11, $15, $12, $16 }' "$RESULTS"
    echo
    echo "Per core: the most calls carried at under 0.1 % loss, and the capacity one core's"
    echo "CPU would give at the CPU per packet measured at that step (1 s / (µs per packet × 50"
    echo "packets/s × 2 streams per call)). Ratios are Switchboard over rtpengine."
    echo
    echo "| mode | relay | most calls at < 0.1 % loss | streams | CPU µs/packet there | projected calls per core |"
    echo "|---|---|---:|---:|---:|---:|"
    awk -F'\t' '
        $7 < 0.1 && $3 > best[$2 "\t" $1] { best[$2 "\t" $1] = $3; st[$2 "\t" $1] = $4; cpu[$2 "\t" $1] = $10 }
        !seen[$2 "\t" $1]++ { order[++n] = $2 "\t" $1 }
        END { for (i = 1; i <= n; i++) { k = order[i]; split(k, f, "\t")
                  proj = (cpu[k] + 0 > 0) ? sprintf("%.0f", 1e6 / (cpu[k] * 50 * 2)) : "n/a"
                  printf "| %s | %s | %s | %s | %s | %s |\n", f[1], f[2], (k in best) ? best[k] : "none", (k in st) ? st[k] : "-", (k in cpu) ? cpu[k] : "-", (k in best) ? proj : "-" } }' "$RESULTS"
    echo
    # Ratios at the same load: the largest step both relays carried under 0.1 % loss
    # (CPU per packet falls as load grows, so steps of different size do not compare).
    awk -F'\t' '
        $7 < 0.1 { clean[$2 "\t" $3 "\t" $1] = $10 }
        { modes[$2] = 1; if (!($2 "\t" $3 in seen)) { seen[$2 "\t" $3] = 1; steps[$2] = steps[$2] " " $3 } }
        END { for (m in modes) { n = split(steps[m], st, " "); best = 0
                  for (i = 1; i <= n; i++) { s = m "\t" st[i] "\tswitchboard"; r = m "\t" st[i] "\trtpengine"
                      if ((s in clean) && (r in clean) && clean[r] > 0 && st[i] + 0 > best) { best = st[i] + 0; ratio = clean[s] / clean[r] } }
                  if (best) printf "- %s: at %d calls, both clean: CPU per packet, Switchboard / rtpengine = %.2f\n", m, best, ratio
                  else printf "- %s: no step that both relays carried under 0.1 %% loss\n", m } }' "$RESULTS" | sort
    echo
    printf '%s\n' "$OPUS" | awk -F'\t' '{ printf "Upper bound, a plain libopus loop (sb-opus-loop, %d call-seconds on one core): Opus decode + G.711 encode and G.711 decode + Opus encode, 50 frames each way per call-second, at %.0f µs CPU per call-second: **%d transcoded calls per core**.\n", $2, $3, $4 }'
)
echo "$body"

if [ -n "$DOC" ]; then
    day=$(date -u +%Y-%m-%d)
    begin="<!-- bench/run.sh media $day -->"
    end="<!-- end bench/run.sh media $day -->"
    [ -f "$DOC" ] || printf '# Benchmarks\n' >"$DOC"
    tmp=$DOC.tmp.$$
    awk -v b="$begin" -v e="$end" '$0 == b {skip = 1} !skip {print} $0 == e {skip = 0}' "$DOC" >"$tmp"
    sed -i -e :a -e '/^\n*$/{$d;N;ba' -e '}' "$tmp"
    {
        echo
        echo "$begin"
        echo "### Load: media, $day (bench/run.sh media)"
        echo
        echo "$body"
        echo "$end"
    } >>"$tmp"
    mv "$tmp" "$DOC"
    log "results written to $DOC"
fi
