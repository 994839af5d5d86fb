#!/usr/bin/env bash
# Load benchmarks: Switchboard beside Kamailio, same machine, same run, same SIPp scenarios.
#
#   bench/run.sh [options|register|proxy|all]      (default: all)
#
# Everything stays on 127.0.0.1. Each load step is bounded in count (rate x seconds) and in
# time (SIPp -timeout), and every process started here is stopped by pid on exit.
# See bench/README.md for what is measured and how to read it.
#
# Environment knobs (defaults in brackets):
#   SB_BENCH_RATES        OPTIONS rates, requests/s               ["1000 2000 3000"]
#   SB_BENCH_SECONDS      seconds of load per OPTIONS rate        [15]
#   SB_BENCH_REG_RATES    REGISTER rates, registrations/s         ["500 1000 2000"]
#   SB_BENCH_REG_SECONDS  seconds of load per REGISTER rate       [10]
#   SB_BENCH_USERS        users provisioned for REGISTER          [10000]
#   SB_BENCH_CALL_RATES   proxy call rates, calls/s      ["300 600 900 1200 1500"]
#   SB_BENCH_CALL_SECONDS seconds of load per call rate           [10]
#   SB_BENCH_CALL_HOLD_MS how long each call lasts, ACK to BYE    [1000]
#   SB_BENCH_STEADY_RATE  proxy steady run, calls/s               [600]
#   SB_BENCH_STEADY_WINDOWS  its runs of SB_BENCH_CALL_SECONDS, 0 for none  [6]
#   SB_BENCH_SETTLE       seconds to wait after the last rate so that every transaction
#                         has expired, for the all-in CPU figure  [34]
#   SB_BENCH_DOC          results file, "" to skip writing it     [docs/benchmarks.md]
#   SB_BENCH_KEEP=1       keep the temporary directory (logs, SIPp statistics)
#   SB_BENCH_REV          the commit measured, when the tree has no git metadata
#   SB_BENCH_SB_LOG       Switchboard's log level                 [warn]
#   CARGO_TARGET_DIR      where cargo builds    [$HOME/.cache/switchboard/target]
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$HERE")
# The presence fan-out benchmark (NOTIFYs to 10,000 watchers, memory per subscription) is
# a script of its own: bench/run.sh presence runs bench/presence/run.sh.
if [ "${1:-}" = presence ]; then exec "$HERE/presence/run.sh"; fi
if [ "${1:-}" = media ]; then exec "$HERE/media/run.sh"; fi
MODE=${1:-all}
case "$MODE" in
options | register | proxy | all) ;;
-h | --help)
    sed -n '2,27p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
    exit 0
    ;;
*)
    echo "usage: $0 [options|register|proxy|all]" >&2
    exit 2
    ;;
esac

RATES=${SB_BENCH_RATES:-"1000 2000 3000"}
SECONDS_PER_RATE=${SB_BENCH_SECONDS:-15}
REG_RATES=${SB_BENCH_REG_RATES:-"500 1000 2000"}
REG_SECONDS=${SB_BENCH_REG_SECONDS:-10}
USERS=${SB_BENCH_USERS:-10000}
SETTLE=${SB_BENCH_SETTLE:-34}
DOC=${SB_BENCH_DOC-$ROOT/docs/benchmarks.md}
TARGET=${CARGO_TARGET_DIR:-$HOME/.cache/switchboard/target}
# Two cores: the server under test on one, the load generator on the other, so neither
# steals the other's CPU and the server's CPU time is its own.
SERVER_CORE=0
SIPP_CORE=1
# The SIP domain used for registrations (never resolved: everything is sent to 127.0.0.1).
REG_DOMAIN=bench.example
CLK_TCK=$(getconf CLK_TCK)

log() { printf '[bench %s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
die() {
    log "error: $*"
    exit 1
}

# ---------------------------------------------------------------------------------------
# Dependencies and build
# ---------------------------------------------------------------------------------------

install_deps() {
    local missing=()
    command -v kamailio >/dev/null 2>&1 || [ -x /usr/sbin/kamailio ] || missing+=(kamailio)
    command -v sipp >/dev/null 2>&1 || missing+=(sip-tester)
    command -v taskset >/dev/null 2>&1 || missing+=(util-linux)
    [ ${#missing[@]} -eq 0 ] && return 0
    local sudo=()
    if [ "$(id -u)" -ne 0 ]; then
        command -v sudo >/dev/null 2>&1 || die "need root or sudo to install: ${missing[*]}"
        sudo=(sudo)
    fi
    log "installing ${missing[*]}"
    "${sudo[@]}" apt-get update -q
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}"
}

build_switchboard() {
    log "building switchboard (release) into $TARGET"
    (cd "$ROOT" && CARGO_TARGET_DIR=$TARGET cargo build --release -p switchboard --locked)
    SB=$TARGET/release/switchboard
    [ -x "$SB" ] || die "no binary at $SB"
}

# ---------------------------------------------------------------------------------------
# Processes: every pid started here is recorded and stopped on exit, even on failure.
# ---------------------------------------------------------------------------------------

PIDS=()
WORK=

# The pid and its descendants (Kamailio forks its workers from the main process).
proc_tree() {
    local pid=$1 child
    [ -d "/proc/$pid" ] || return 0
    echo "$pid"
    for child in $(pgrep -P "$pid" 2>/dev/null || true); do
        proc_tree "$child"
    done
}

stop_pid() {
    local pid=$1 tree i
    [ -d "/proc/$pid" ] || return 0
    tree=$(proc_tree "$pid")
    kill -TERM "$pid" 2>/dev/null || true
    for i in $(seq 50); do
        [ -d "/proc/$pid" ] || break
        sleep 0.1
    done
    # Whatever is left of the tree (a worker that ignored the signal) is killed by pid.
    for p in $tree; do
        kill -KILL "$p" 2>/dev/null || true
    done
    wait "$pid" 2>/dev/null || true
}

cleanup() {
    local rc=$?
    local pid
    for pid in "${PIDS[@]}"; do
        stop_pid "$pid"
    done
    if [ -n "$WORK" ] && [ -d "$WORK" ]; then
        if [ "${SB_BENCH_KEEP:-0}" = 1 ] || [ "$rc" -ne 0 ]; then
            log "logs kept in $WORK"
        else
            rm -rf "$WORK"
        fi
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# A UDP port on 127.0.0.1 that nothing listens on now.
free_udp_port() {
    local port i
    for i in $(seq 100); do
        port=$((20000 + RANDOM % 40000))
        if ! ss -Hluan "sport = :$port" | grep -q .; then
            echo "$port"
            return 0
        fi
    done
    die "no free UDP port found"
}

wait_udp_listening() {
    local port=$1 pid=$2 i
    for i in $(seq 100); do
        [ -d "/proc/$pid" ] || return 1
        ss -Hluan "sport = :$port" | grep -q . && return 0
        sleep 0.1
    done
    return 1
}

# utime+stime of a process tree, in clock ticks (/proc/PID/stat fields 14 and 15; the
# command name in field 2 may contain spaces, so split after its closing parenthesis).
cpu_ticks() {
    local total=0 p line
    for p in $(proc_tree "$1"); do
        line=$(cat "/proc/$p/stat" 2>/dev/null) || continue
        line=${line##*) }
        # shellcheck disable=SC2086
        set -- $line
        total=$((total + ${12} + ${13}))
    done
    echo "$total"
}

# Memory of a process tree in KiB: the sum of proportional set sizes, which counts memory
# shared between Kamailio's processes once rather than once per process. For one process
# (Switchboard) it is its resident set minus its share of shared libraries.
mem_pss_kib() {
    local total=0 p v
    for p in $(proc_tree "$1"); do
        v=$(awk '/^Pss:/ {print $2}' "/proc/$p/smaps_rollup" 2>/dev/null || true)
        total=$((total + ${v:-0}))
    done
    echo "$total"
}

vm_rss_kib() {
    local total=0 p v
    for p in $(proc_tree "$1"); do
        v=$(awk '/^VmRSS:/ {print $2}' "/proc/$p/status" 2>/dev/null || true)
        total=$((total + ${v:-0}))
    done
    echo "$total"
}

# Starts Switchboard on a free loopback UDP port; sets SERVER_PID and SERVER_PORT.
# $1: name, $2: extra [sip] lines for the config.
start_switchboard() {
    local name=$1 extra=${2:-} dir=$WORK/$1 i
    mkdir -p "$dir"
    cat >"$dir/switchboard.toml" <<EOF
[sip]
udp = ["127.0.0.1:0"]
tcp = []
tls = []
ws = []
wss = []
shutdown_grace_s = 1
$extra

[http]
listen = "127.0.0.1:0"

[log]
level = "${SB_BENCH_SB_LOG:-warn}"
EOF
    taskset -c "$SERVER_CORE" "$SB" serve --config "$dir/switchboard.toml" --data "$dir/data" \
        >"$dir/stdout.log" 2>"$dir/stderr.log" &
    SERVER_PID=$!
    PIDS+=("$SERVER_PID")
    for i in $(seq 300); do
        grep -q '^ready' "$dir/stdout.log" 2>/dev/null && break
        [ -d "/proc/$SERVER_PID" ] || die "switchboard exited at start; see $dir/stderr.log"
        sleep 0.1
    done
    grep -q '^ready' "$dir/stdout.log" || die "switchboard not ready after 30 s"
    SERVER_PORT=$(sed -n 's/^listening sip udp 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$dir/stdout.log" | head -1)
    [ -n "$SERVER_PORT" ] || die "switchboard printed no UDP port; see $dir/stdout.log"
    log "$name: switchboard pid $SERVER_PID on udp 127.0.0.1:$SERVER_PORT"
}

# Starts Kamailio on a free loopback UDP port; sets SERVER_PID and SERVER_PORT.
# $1: name, $2: config file, $3...: extra options (-A DEFINE).
start_kamailio() {
    local name=$1 cfg=$2 dir=$WORK/$1
    shift 2
    mkdir -p "$dir/run"
    SERVER_PORT=$(free_udp_port)
    # -x fm -X fm: Debian's default allocator is a debugging one, about 3x slower.
    # -DD -E: stay in the foreground, log to stderr. -Y/-w: runtime files in our temp dir.
    taskset -c "$SERVER_CORE" kamailio -f "$cfg" "$@" -l "udp:127.0.0.1:$SERVER_PORT" \
        -x fm -X fm -m 256 -M 16 -DD -E -Y "$dir/run" -w "$dir/run" \
        >"$dir/stdout.log" 2>"$dir/stderr.log" &
    SERVER_PID=$!
    PIDS+=("$SERVER_PID")
    wait_udp_listening "$SERVER_PORT" "$SERVER_PID" ||
        die "kamailio ($name) did not start; see $dir/stderr.log"
    # The workers start just after the socket is bound.
    sleep 1
    log "$name: kamailio pid $SERVER_PID on udp 127.0.0.1:$SERVER_PORT"
}

# Drops a stopped pid from PIDS, so that the exit trap never signals a pid the system
# has reused.
forget_pid() {
    local kept=() p
    for p in "${PIDS[@]}"; do
        [ "$p" = "$1" ] || kept+=("$p")
    done
    PIDS=("${kept[@]}")
}

stop_server() {
    stop_pid "$SERVER_PID"
    forget_pid "$SERVER_PID"
}

# ---------------------------------------------------------------------------------------
# SIPp runs and their statistics
# ---------------------------------------------------------------------------------------

# The last value of a column of SIPp's -stf file (cumulative counters), by column name.
stf_value() {
    local file=$1 column=$2
    awk -F';' -v col="$column" '
        NR == 1 { for (i = 1; i <= NF; i++) if ($i == col) c = i; next }
        c && NF >= c { v = $c }
        END { print (v == "" ? 0 : v) + 0 }' "$file"
}

# Runs one bounded SIPp load and appends a result row to $RESULTS.
# $1: server label, $2: scenario, $3: rate, $4: seconds, $5...: extra SIPp options.
run_load() {
    local label=$1 scenario=$2 rate=$3 secs=$4
    shift 4
    local count=$((rate * secs))
    local tag
    tag=$(echo "$label" | tr -c 'a-zA-Z0-9\n' '-')
    local stf=$WORK/$tag-$rate.csv out=$WORK/$tag-$rate.sipp.log
    local cpu0 cpu1 t0 t1 rc=0
    log "$label: $count requests at $rate/s"
    cpu0=$(cpu_ticks "$SERVER_PID")
    t0=$(date +%s.%N)
    taskset -c "$SIPP_CORE" sipp -sf "$scenario" -t u1 -r "$rate" -rp 1000 -m "$count" \
        -nostdin -timeout "$((secs * 3 + 30))s" -max_non_invite_retrans 4 \
        -trace_stat -stf "$stf" -fd 1 -i 127.0.0.1 -p "$(free_udp_port)" "$@" \
        "127.0.0.1:$SERVER_PORT" >"$out" 2>&1 || rc=$?
    t1=$(date +%s.%N)
    cpu1=$(cpu_ticks "$SERVER_PID")
    local ok failed
    ok=$(stf_value "$stf" 'SuccessfulCall(C)')
    failed=$(stf_value "$stf" 'FailedCall(C)')
    # Requests that neither succeeded nor failed (SIPp stopped by -timeout) count as failed.
    if [ $((ok + failed)) -lt "$count" ]; then
        failed=$((count - ok))
    fi
    local mem rss
    mem=$(mem_pss_kib "$SERVER_PID")
    rss=$(vm_rss_kib "$SERVER_PID")
    # server, rate, requests, ok, failed, sipp exit, wall s, cpu ticks, pss KiB, rss KiB
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$label" "$rate" "$count" "$ok" \
        "$failed" "$rc" "$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.2f", b-a}')" \
        "$((cpu1 - cpu0))" "$mem" "$rss" >>"$RESULTS"
}

# After the last rate: wait until every transaction has expired (Switchboard keeps a
# non-INVITE server transaction for Timer J, 64*T1 = 32 s over UDP, RFC 3261 §17.2.2;
# Kamailio's tm keeps its own for its wait timer), then record the CPU spent from the
# first request to that point, divided by all requests: the all-in cost per request.
# $1: label, $2: cpu ticks at the start of the first load.
record_all_in() {
    local label=$1 cpu0=$2 cpu1 mem_peak
    mem_peak=$(mem_pss_kib "$SERVER_PID")
    log "$label: waiting ${SETTLE}s for transactions to expire"
    sleep "$SETTLE"
    cpu1=$(cpu_ticks "$SERVER_PID")
    printf '%s\t%s\t%s\t%s\n' "$label" "$((cpu1 - cpu0))" "$(mem_pss_kib "$SERVER_PID")" \
        "$mem_peak" >>"$ALLIN"
}

# ---------------------------------------------------------------------------------------
# Reports
# ---------------------------------------------------------------------------------------

# A rate is sustained when every request succeeded, SIPp exited 0, and the achieved rate
# (ok over wall time) is at least 95 % of the target: a server that falls behind makes
# SIPp stretch the run rather than fail requests. An awk function, for the programs below.
# shellcheck disable=SC2016
CLEAN_AWK='function clean() { return $5 == 0 && $6 == 0 && $7 > 0 && $4 / $7 >= 0.95 * $2 }'

# Markdown table of the $RESULTS rows ($1: the unit, req, reg or call), then the
# summary per server and the ratios against the Kamailio rows. SUSTAINED_AWK and
# SUSTAINED_TEXT, when set, replace CLEAN_AWK and its description.
report() {
    local unit=$1
    local clean_awk=${SUSTAINED_AWK:-$CLEAN_AWK}
    echo "| server | target $unit/s | sent | ok | failed | achieved $unit/s | server CPU µs/$unit | server memory MiB (PSS) |"
    echo "|---|---:|---:|---:|---:|---:|---:|---:|"
    awk -F'\t' -v tck="$CLK_TCK" '
        { ach = ($7 > 0) ? $4 / $7 : 0
          us = ($4 > 0) ? $8 * 1e6 / tck / $4 : 0
          printf "| %s | %d | %d | %d | %d | %.0f | %.1f | %.1f |\n", $1, $2, $3, $4, $5, ach, us, $9 / 1024 }' \
        "$RESULTS"
    echo
    echo "Achieved $unit/s is ok requests over SIPp's wall time, which includes its start and its"
    echo "wait for the last answers; it is a little under the target even when nothing is lost."
    echo "${SUSTAINED_TEXT:-A rate counts as sustained when nothing failed and at least 95 % of it was achieved.}"
    echo
    echo "| server | highest rate sustained ($unit/s) | all-in CPU µs/$unit | idle CPU ms/s | memory MiB after load (PSS) | memory MiB after settle |"
    echo "|---|---:|---:|---:|---:|---:|"
    local server
    while IFS= read -r server; do
        awk -F'\t' -v s="$server" -v tck="$CLK_TCK" -v allin="$ALLIN" -v idle="$IDLE" "$clean_awk"'
            BEGIN { while ((getline line < allin) > 0) { split(line, f, "\t")
                        if (f[1] == s) { ticks = f[2]; settled = f[3]; peak = f[4] } }
                    while ((getline line < idle) > 0) { split(line, f, "\t")
                        if (f[1] == s) idle_ms = f[2] } }
            $1 == s { n += $4; if (clean() && $2 > best) best = $2 }
            END { us = (n > 0 && ticks != "") ? sprintf("%.1f", ticks * 1e6 / tck / n) : "n/a"
                  printf "| %s | %s | %s | %s | %.1f | %.1f |\n", s, (best ? best : "none"), us, (idle_ms == "" ? "n/a" : idle_ms), peak / 1024, settled / 1024 }' \
            "$RESULTS"
    done < <(cut -f1 "$RESULTS" | awk '!seen[$0]++')
    echo
    # Ratios: Switchboard over each Kamailio variant, per rate (CPU per request) and for the
    # highest sustained rate. Below 1 means Switchboard used less CPU per request.
    local sb k
    sb=$(cut -f1 "$RESULTS" | grep -m1 '^switchboard' || true)
    [ -n "$sb" ] || return 0
    echo "| ratio | $(awk '!seen[$2]++ {printf "%s%s/s", sep, $2; sep=" | "}' FS='\t' "$RESULTS") | highest sustained rate |"
    echo "|---|$(awk '!seen[$2]++ {printf "---:|"}' FS='\t' "$RESULTS")---:|"
    while IFS= read -r k; do
        awk -F'\t' -v sb="$sb" -v k="$k" -v tck="$CLK_TCK" -v unit="$unit" "$clean_awk"'
            { us = ($4 > 0) ? $8 * 1e6 / tck / $4 : 0 }
            $1 == sb { a[$2] = us; if (clean() && $2 > bs) bs = $2 }
            $1 == k  { b[$2] = us; if (clean() && $2 > bk) bk = $2 }
            !seen[$2]++ { order[++n] = $2 }
            END { line = "| CPU µs/" unit ", " sb " / " k
                  for (i = 1; i <= n; i++) { r = order[i]
                      line = line sprintf(" | %s", (a[r] > 0 && b[r] > 0) ? sprintf("%.2f", a[r] / b[r]) : "n/a") }
                  line = line sprintf(" | %s |", (bk > 0) ? sprintf("%.2f", bs / bk) : "n/a")
                  print line }' "$RESULTS"
    done < <(cut -f1 "$RESULTS" | awk '!seen[$0]++' | grep '^kamailio' || true)
    echo
    echo "The last column is Switchboard's highest sustained rate over Kamailio's (above 1: Switchboard"
    echo "sustained more); the others are CPU per request (below 1: Switchboard spent less)."
}

machine_info() {
    echo "- command: \`$COMMAND\`"
    echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC'); load before the run: $LOAD_BEFORE; at the end: $(uptime | sed 's/.*load average: //')"
    echo "- machine: $(nproc) cores, $(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo), Linux $(uname -r)"
    local rev
    if rev=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null); then
        git -C "$ROOT" diff --quiet HEAD -- crates Cargo.lock || rev="$rev with uncommitted changes"
    else
        rev=${SB_BENCH_REV:-unknown commit}
    fi
    echo "- switchboard: $("$SB" --version 2>/dev/null | head -1) at $rev, release build"
    echo "- kamailio: $(kamailio -v 2>/dev/null | head -1 | sed 's/^version: //; s/ *$//'), -x fm -X fm, children=2, UDP"
    echo "- SIPp: $(sipp -v 2>/dev/null | grep -o 'v[0-9][0-9.]*[^ ]*' | head -1 | sed 's/\.$//'), UDP, one socket (-t u1)"
    echo "- pinning: servers on core $SERVER_CORE, SIPp on core $SIPP_CORE (taskset)"
}

# Replaces the section for this date and mode in $DOC, or appends it.
write_doc() {
    local mode=$1 body=$2 day begin end
    [ -n "$DOC" ] || return 0
    day=$(date -u +%Y-%m-%d)
    begin="<!-- bench/run.sh $mode $day -->"
    end="<!-- end bench/run.sh $mode $day -->"
    [ -f "$DOC" ] || printf '# Benchmarks\n' >"$DOC"
    local tmp=$DOC.tmp.$$
    awk -v b="$begin" -v e="$end" '$0 == b {skip = 1} !skip {print} $0 == e {skip = 0}' \
        "$DOC" >"$tmp"
    # Drop trailing blank lines left where an old section was cut out.
    sed -i -e :a -e '/^\n*$/{$d;N;ba' -e '}' "$tmp"
    {
        echo
        echo "$begin"
        echo "### Load: $mode, $day (bench/run.sh)"
        echo
        echo "$body"
        echo "$end"
    } >>"$tmp"
    mv "$tmp" "$DOC"
    log "results written to $DOC"
}

# ---------------------------------------------------------------------------------------
# Scenarios
# ---------------------------------------------------------------------------------------

warm_up() {
    taskset -c "$SIPP_CORE" sipp -sf "$HERE/sipp/options.xml" -t u1 -r 200 -m 200 -nostdin \
        -timeout 20s -i 127.0.0.1 -p "$(free_udp_port)" "127.0.0.1:$SERVER_PORT" >"$WORK/warmup.log" 2>&1 ||
        die "warm-up OPTIONS to 127.0.0.1:$SERVER_PORT failed; see $WORK/warmup.log"
}

# CPU a server spends doing nothing (timer processes, housekeeping), in ms per second,
# appended to $IDLE: it is inside every CPU figure, and weighs most at low rates.
measure_idle() {
    local label=$1 cpu0 cpu1 secs=3
    cpu0=$(cpu_ticks "$SERVER_PID")
    sleep "$secs"
    cpu1=$(cpu_ticks "$SERVER_PID")
    printf '%s\t%s\n' "$label" \
        "$(awk -v t=$((cpu1 - cpu0)) -v tck="$CLK_TCK" -v s=$secs 'BEGIN{printf "%.1f", t * 1000 / tck / s}')" \
        >>"$IDLE"
}

# One server through every rate, then the settle and the all-in figure.
options_series() {
    local label=$1 rate cpu0
    warm_up
    measure_idle "$label"
    cpu0=$(cpu_ticks "$SERVER_PID")
    for rate in $RATES; do
        run_load "$label" "$HERE/sipp/options.xml" "$rate" "$SECONDS_PER_RATE"
    done
    record_all_in "$label" "$cpu0"
    stop_server
}

bench_options() {
    RESULTS=$WORK/options.tsv
    ALLIN=$WORK/options-allin.tsv
    IDLE=$WORK/options-idle.tsv
    : >"$RESULTS"
    : >"$ALLIN"
    : >"$IDLE"
    start_switchboard switchboard
    options_series "switchboard"
    start_kamailio kamailio-stateful "$HERE/kamailio/options.cfg" -A STATEFUL
    options_series "kamailio stateful"
    start_kamailio kamailio-stateless "$HERE/kamailio/options.cfg"
    options_series "kamailio stateless"
    local body
    body=$(
        echo "OPTIONS answered 200 over UDP: $RATES requests/s, $SECONDS_PER_RATE s each."
        echo "Kamailio stateful (t_newtran + t_reply) does the work Switchboard does: one"
        echo "server transaction per request. Stateless (sl_send_reply) is the floor."
        echo
        machine_info
        echo
        report req
    )
    echo "$body"
    write_doc options "$body"
}

# users.csv for SIPp: user;domain;password;authentication keyword (SIPp expands a keyword
# held in an injection field, not one whose arguments are fields). The password rule,
# pw-<user>, is shared with bench/kamailio/register.cfg.
write_users() {
    local file=$1 i
    {
        echo SEQUENTIAL
        for i in $(seq 1 "$USERS"); do
            echo "u$i;$REG_DOMAIN;pw-u$i;[authentication username=u$i password=pw-u$i]"
        done
    } >"$file"
}

# Provisions the same users in Switchboard's store through its CLI. Returns non-zero,
# with the reason on stderr, when this Switchboard cannot do it.
provision_switchboard() {
    local data=$1 users=$2
    local help
    help=$("$SB" user --help 2>&1) || {
        log "switchboard has no 'user' command yet"
        return 1
    }
    if echo "$help" | grep -qw import; then
        local f=$WORK/sb-users.csv
        # `switchboard user import`: a header row naming the columns (docs/provisioning.md).
        {
            echo "address,password"
            awk -F';' 'NR > 1 {printf "sip:%s@%s,%s\n", $1, $2, $3}' "$users"
        } >"$f"
        if "$SB" user import --data "$data" "$f" >"$WORK/provision.log" 2>&1; then
            log "switchboard: $(wc -l <"$f") users imported"
            return 0
        fi
        log "'switchboard user import' failed; see $WORK/provision.log"
        log "its usage: $("$SB" user import --help 2>&1 | head -5 | tr '\n' ' ')"
        return 1
    fi
    log "switchboard 'user' has no import subcommand; usage: $(echo "$help" | head -8 | tr '\n' ' ')"
    return 1
}

register_series() {
    local label=$1 users=$2 rate cpu0
    measure_idle "$label"
    cpu0=$(cpu_ticks "$SERVER_PID")
    for rate in $REG_RATES; do
        # The digest uri must be the Request-URI (RFC 3261 §22.4), not SIPp's default
        # ip:port; SIPp puts "sip:" in front of what it is given.
        run_load "$label" "$HERE/sipp/register.xml" "$rate" "$REG_SECONDS" -inf "$users" \
            -auth_uri "$REG_DOMAIN"
    done
    record_all_in "$label" "$cpu0"
    stop_server
}

bench_register() {
    RESULTS=$WORK/register.tsv
    ALLIN=$WORK/register-allin.tsv
    IDLE=$WORK/register-idle.tsv
    : >"$RESULTS"
    : >"$ALLIN"
    : >"$IDLE"
    local users=$WORK/users.csv note=""
    write_users "$users"

    # Switchboard first, if it has a registrar: provision, start, and check for a 401.
    local sb_ok=0
    mkdir -p "$WORK/switchboard-reg"
    if provision_switchboard "$WORK/switchboard-reg/data" "$users"; then
        # MD5 only: SIPp 3.6 fails on a SHA-256 challenge, and Kamailio's is MD5 too.
        start_switchboard switchboard-reg "domains = [\"$REG_DOMAIN\"]

[auth]
algorithms = [\"MD5\"]"
        if taskset -c "$SIPP_CORE" sipp -sf "$HERE/sipp/register-probe.xml" -t u1 -m 1 \
            -nostdin -timeout 10s -i 127.0.0.1 -p "$(free_udp_port)" -inf "$users" \
            "127.0.0.1:$SERVER_PORT" \
            >"$WORK/register-probe.log" 2>&1; then
            sb_ok=1
        else
            log "switchboard does not answer REGISTER with a 401 challenge"
            stop_server
        fi
    fi
    if [ "$sb_ok" = 1 ]; then
        register_series "switchboard" "$users"
    else
        note="Switchboard cannot take registrations yet (no registrar in this build, or its users could not be provisioned): Kamailio only."
        log "$note"
    fi

    start_kamailio kamailio-registrar "$HERE/kamailio/register.cfg"
    register_series "kamailio registrar" "$users"

    local body
    body=$(
        echo "REGISTER with digest authentication over UDP (REGISTER, 401, REGISTER with"
        echo "credentials, 200 per registration), $USERS users, $REG_RATES registrations/s,"
        echo "$REG_SECONDS s each. Kamailio: usrloc in memory (db_mode 0), pv_www_authenticate."
        echo "Switchboard: bindings written to its SQLite store (the default deployment), MD5."
        [ -z "$note" ] || {
            echo
            echo "$note"
        }
        echo
        machine_info
        echo
        report reg
    )
    echo "$body"
    write_doc register "$body"
}

# ---------------------------------------------------------------------------------------

# shellcheck source=SCRIPTDIR/proxy.sh
. "$HERE/proxy.sh"

COMMAND="bench/run.sh $MODE"
LOAD_BEFORE=$(uptime | sed 's/.*load average: //')
[ "$(nproc)" -ge 2 ] || log "warning: fewer than 2 cores; server and SIPp will share one"
install_deps
build_switchboard
WORK=$(mktemp -d "${TMPDIR:-/tmp}/sb-bench.XXXXXX")
log "work directory $WORK"

case "$MODE" in
options) bench_options ;;
register) bench_register ;;
proxy) bench_proxy ;;
all)
    bench_options
    bench_register
    bench_proxy
    ;;
esac
