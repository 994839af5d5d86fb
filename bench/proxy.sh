# shellcheck shell=bash
# Proxy mode of bench/run.sh (sourced by it; uses its helpers and globals): whole calls
# through a stateful proxy, Switchboard beside Kamailio.
#
# A SIPp UAS registers sip:bob@example.com from its own port (call-register.xml), then
# answers calls there (call-uas.xml); a SIPp UAC from a foreign domain calls
# sip:bob@example.com through the server (call-uac.xml): INVITE, 100, 180, 200, ACK,
# BYE, 200, with ACK and BYE following the Record-Route. The server looks the callee up in
# its registrar and relays statefully (RFC 3261 §16). Both SIPps run on the load core.

CALL_RATES=${SB_BENCH_CALL_RATES:-"300 600 900 1200 1500"}
CALL_SECONDS=${SB_BENCH_CALL_SECONDS:-10}
CALL_HOLD_MS=${SB_BENCH_CALL_HOLD_MS:-1000}
# The steady run: one rate held for several consecutive windows on a freshly started
# server, to see whether the cost of a call stays flat as calls accumulate.
STEADY_RATE=${SB_BENCH_STEADY_RATE:-600}
STEADY_WINDOWS=${SB_BENCH_STEADY_WINDOWS:-6}
# How long a UAC waits for an expected response before it gives the call up as failed: the
# INVITE's Timer B is 32 s (RFC 3261 §17.1.1.2), but the bench would then wait as long on
# every stuck call, and a proxy that takes 16 s to answer has failed the call anyway.
CALL_RECV_TIMEOUT_MS=16000
# A call through a proxy is sustained when fewer than 0.1 % of the calls failed and at
# least 95 % of the target rate was achieved (SIPp exits non-zero on any failure).
# shellcheck disable=SC2016
CALL_CLEAN_AWK='function clean() { return $5 * 1000 < $3 && $7 > 0 && $4 / $7 >= 0.95 * $2 }'
CALL_CLEAN_TEXT="A rate counts as sustained when under 0.1 % of the calls failed and at least 95 % of it was achieved."

# The callee's port (SIPp UAS), chosen once per server.
UAS_PORT=
UAS_PID=

# Registers bob@example.com with a Contact on $UAS_PORT. $1: label (for the log files).
register_callee() {
    local tag=$1
    taskset -c "$SIPP_CORE" sipp -sf "$HERE/sipp/call-register.xml" -t u1 -m 1 -nostdin \
        -timeout 10s -i 127.0.0.1 -p "$UAS_PORT" "127.0.0.1:$SERVER_PORT" \
        >"$WORK/$tag-register.log" 2>&1
}

# Starts the SIPp UAS on $UAS_PORT; its screen and errors go to $WORK/$1.uas*.
start_uas() {
    local tag=$1
    taskset -c "$SIPP_CORE" sipp -sf "$HERE/sipp/call-uas.xml" -t u1 -nostdin \
        -i 127.0.0.1 -p "$UAS_PORT" -trace_err -error_file "$WORK/$tag.uas-errors.log" \
        >"$WORK/$tag.uas.log" 2>&1 &
    UAS_PID=$!
    PIDS+=("$UAS_PID")
    wait_udp_listening "$UAS_PORT" "$UAS_PID" || die "SIPp UAS did not start; see $WORK/$tag.uas.log"
}

stop_uas() {
    stop_pid "$UAS_PID"
    forget_pid "$UAS_PID"
    UAS_PID=
}

# One bounded UAC run of $2 calls at $3 calls/s against the server; $1: tag for its files.
# Extra arguments go to SIPp. Returns SIPp's exit status.
run_uac() {
    local tag=$1 count=$2 rate=$3 secs
    shift 3
    secs=$((count / rate + 1))
    # SIPp's own -timeout has been seen not to stop a run whose calls wait for a response,
    # so coreutils timeout bounds it too.
    timeout -k 5 "$((secs * 3 + CALL_RECV_TIMEOUT_MS / 1000 + 30))" \
        taskset -c "$SIPP_CORE" sipp -sf "$HERE/sipp/call-uac.xml" -t u1 -r "$rate" -rp 1000 \
        -m "$count" -d "$CALL_HOLD_MS" -nostdin -timeout "$((secs * 3 + 30))s" \
        -recv_timeout "$CALL_RECV_TIMEOUT_MS" -trace_stat -stf "$WORK/$tag.csv" -fd 1 \
        -trace_err -error_file "$WORK/$tag.uac-errors.log" \
        -i 127.0.0.1 -p "$(free_udp_port)" "$@" "127.0.0.1:$SERVER_PORT" \
        >"$WORK/$tag.sipp.log" 2>&1
}

# The commonest events in the SIPp error logs of a run ($1: tag): the first line of each
# entry, call ids and addresses masked so that alike entries group, with its count.
failure_causes() {
    local tag=$1 f
    for f in "$WORK/$tag.uac-errors.log" "$WORK/$tag.uas-errors.log"; do
        [ -s "$f" ] || continue
        # Entries start with "DATE<TAB>TIME<TAB>EPOCH: " and are not always on a line of
        # their own.
        sed -E 's/([0-9]{4}-[0-9]{2}-[0-9]{2}\t[0-9:.]+\t[0-9.]+: )/\n\1/g' "$f" |
            grep -a -E '^[0-9]{4}-[0-9]{2}-[0-9]{2}'$'\t' |
            sed -E 's/^[^\t]*\t[^\t]*\t[^ ]* //' | cut -c1-150 |
            sed -E 's/[0-9]+-[0-9]+@[0-9.]+/CALL/g; s/[0-9]+(\.[0-9]+){3}(:[0-9]+)?/ADDR/g
                s/tripped \([0-9]+\), [0-9]+ trips/tripped (N), N trips/' |
            sort | uniq -c | sort -rn | head -5 |
            sed -E "s|^ *([0-9]+) |  $(basename "$f" .log): \1 x |"
    done
}

# Datagrams the kernel dropped because a socket's receive buffer was full: $1 a local
# UDP port on 127.0.0.1 (the "drops" column of /proc/net/udp, summed over its sockets),
# or nothing for the system-wide count (RcvbufErrors in /proc/net/snmp).
udp_drops() {
    if [ -n "${1:-}" ]; then
        awk -v want="$(printf '0100007F:%04X' "$1")" '$2 == want {n += $NF} END {print n + 0}' \
            /proc/net/udp
    else
        awk '/^Udp: / && $2 ~ /^[0-9]/ {print $6; exit}' /proc/net/snmp
    fi
}

# Registers the callee and sends a few calls at a low rate: can this server carry a call?
# $1: label. Sets PROBE_OK (calls that succeeded) and writes the causes of any failure.
probe_calls() {
    local label=$1 tag n=20
    tag=$(echo "$label" | tr -c 'a-zA-Z0-9\n' '-')-probe
    PROBE_OK=0
    if ! register_callee "$tag"; then
        log "$label: REGISTER of bob@example.com failed; see $WORK/$tag-register.log"
        return 0
    fi
    start_uas "$tag"
    run_uac "$tag" "$n" 20 || true
    stop_uas
    PROBE_OK=$(stf_value "$WORK/$tag.csv" 'SuccessfulCall(C)')
    log "$label: probe: $PROBE_OK of $n calls completed"
    if [ "$PROBE_OK" -lt "$n" ]; then
        {
            echo "$label, probe of $n calls at 20/s: $PROBE_OK completed."
            failure_causes "$tag"
        } >>"$CAUSES"
    fi
}

# Runs one bounded call load (a fresh UAS per load, so its errors are the load's own) and
# appends a row to $RESULTS in run_load's format. $1: label, $2: rate, $3: seconds.
run_call_load() {
    local label=$1 rate=$2 secs=$3
    local count=$((rate * secs)) tag
    tag=$(echo "$label" | tr -c 'a-zA-Z0-9\n' '-')-$rate
    local cpu0 cpu1 t0 t1 rc=0
    local srv0 sys0 srv1 sys1 uas1
    log "$label: $count calls at $rate/s"
    start_uas "$tag"
    srv0=$(udp_drops "$SERVER_PORT")
    sys0=$(udp_drops)
    cpu0=$(cpu_ticks "$SERVER_PID")
    t0=$(date +%s.%N)
    run_uac "$tag" "$count" "$rate" || rc=$?
    t1=$(date +%s.%N)
    cpu1=$(cpu_ticks "$SERVER_PID")
    srv1=$(udp_drops "$SERVER_PORT")
    uas1=$(udp_drops "$UAS_PORT")
    sys1=$(udp_drops)
    stop_uas
    # server, rate, dropped at the server's socket, at the UAS's, elsewhere (the UAC's
    # socket, which is gone by now, or another program on the machine).
    printf '%s\t%s\t%s\t%s\t%s\n' "$label" "$rate" "$((srv1 - srv0))" "$uas1" \
        "$((sys1 - sys0 - (srv1 - srv0) - uas1))" >>"$DROPS"
    local ok failed
    ok=$(stf_value "$WORK/$tag.csv" 'SuccessfulCall(C)')
    failed=$(stf_value "$WORK/$tag.csv" 'FailedCall(C)')
    if [ $((ok + failed)) -lt "$count" ]; then
        failed=$((count - ok))
    fi
    if [ "$failed" -gt 0 ]; then
        {
            echo "$label at $rate calls/s: $failed of $count calls failed."
            failure_causes "$tag"
        } >>"$CAUSES"
    fi
    # The wall time less the hold of the last call, so the achieved rate compares the
    # rate calls were placed and completed at with the target.
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$label" "$rate" "$count" "$ok" \
        "$failed" "$rc" "$(awk -v a="$t0" -v b="$t1" -v h="$CALL_HOLD_MS" 'BEGIN{printf "%.2f", b-a-h/1000}')" \
        "$((cpu1 - cpu0))" "$(mem_pss_kib "$SERVER_PID")" "$(vm_rss_kib "$SERVER_PID")" \
        >>"$RESULTS"
}

# One server: a free port for the callee, registration and probe, idle CPU, the ladder,
# the settle, stop. $1: label.
proxy_series() {
    local label=$1 rate cpu0
    UAS_PORT=$(free_udp_port)
    probe_calls "$label"
    if [ "$PROBE_OK" -eq 0 ]; then
        PROXY_NOTES+=("$label carried no call of the probe, so it was not loaded; the causes are listed below.")
        stop_server
        return 0
    fi
    measure_idle "$label"
    cpu0=$(cpu_ticks "$SERVER_PID")
    for rate in $CALL_RATES; do
        run_call_load "$label" "$rate" "$CALL_SECONDS"
    done
    record_all_in "$label" "$cpu0"
    stop_server
}

# The steady run on a freshly started server ($1: label): registration, one UAS, then
# $STEADY_WINDOWS back-to-back UAC runs of $CALL_SECONDS s at $STEADY_RATE calls/s, each
# appending "label window ok failed cpu-ticks rss-KiB" to $STEADY.
steady_series() {
    local label=$1 tag w count=$((STEADY_RATE * CALL_SECONDS)) cpu0 cpu1 ok failed
    tag=$(echo "$label" | tr -c 'a-zA-Z0-9\n' '-')-steady
    UAS_PORT=$(free_udp_port)
    if ! register_callee "$tag"; then
        PROXY_NOTES+=("$label: the steady run could not register the callee.")
        stop_server
        return 0
    fi
    start_uas "$tag"
    log "$label: steady, $STEADY_WINDOWS × $count calls at $STEADY_RATE/s"
    for w in $(seq "$STEADY_WINDOWS"); do
        cpu0=$(cpu_ticks "$SERVER_PID")
        run_uac "$tag-$w" "$count" "$STEADY_RATE" || true
        cpu1=$(cpu_ticks "$SERVER_PID")
        ok=$(stf_value "$WORK/$tag-$w.csv" 'SuccessfulCall(C)')
        failed=$((count - ok))
        if [ "$failed" -gt 0 ]; then
            {
                echo "$label, steady window $w: $failed of $count calls failed."
                failure_causes "$tag-$w"
            } >>"$CAUSES"
        fi
        printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$label" "$w" "$ok" "$failed" "$((cpu1 - cpu0))" \
            "$(vm_rss_kib "$SERVER_PID")" >>"$STEADY"
    done
    stop_uas
    stop_server
}

# The steady table: per server, CPU µs per completed call in each window, failures, the
# last window over the first, and the resident memory at the end.
steady_report() {
    local heads="" w
    for w in $(seq "$STEADY_WINDOWS"); do
        heads="$heads window $w |"
    done
    echo "| server |$heads failed | last / first | RSS MiB at the end |"
    echo "|---|$(printf -- '---:|%.0s' $(seq "$STEADY_WINDOWS"))---:|---:|---:|"
    awk -F'\t' -v tck="$CLK_TCK" -v windows="$STEADY_WINDOWS" '
        !($1 in first) { order[++n] = $1 }
        { us = ($3 > 0) ? $5 * 1e6 / tck / $3 : 0
          if (!($1 in first)) first[$1] = us
          last[$1] = us; cnt[$1]++; row[$1] = row[$1] sprintf(" %.0f |", us); fail[$1] += $4; rss[$1] = $6 }
        END { for (i = 1; i <= n; i++) { s = order[i]
                  for (j = cnt[s]; j < windows; j++) row[s] = row[s] " n/a |"
                  printf "| %s |%s %d | %s | %.0f |\n", s, row[s], fail[s],
                      (first[s] > 0) ? sprintf("%.2f", last[s] / first[s]) : "n/a", rss[s] / 1024 } }' \
        "$STEADY"
}

start_switchboard_proxy() {
    # bob is a user of example.com (applied from [site] at start); no authentication, as
    # for Kamailio, so REGISTER needs no credentials and the caller, from a foreign
    # domain, is anonymous (allowed to reach our users). No presence either: every call
    # goes to bob, and with presence a user already in a call gets the busy rule (486),
    # which Kamailio's plain proxy does not do.
    start_switchboard "$1" 'domains = ["example.com"]

[auth]
enabled = false

[presence]
enabled = false

[site]
domains = ["example.com"]

[[site.users]]
address = "sip:bob@example.com"
password = "bench-unused-password"'
}

bench_proxy() {
    RESULTS=$WORK/proxy.tsv
    ALLIN=$WORK/proxy-allin.tsv
    IDLE=$WORK/proxy-idle.tsv
    CAUSES=$WORK/proxy-causes.txt
    DROPS=$WORK/proxy-drops.tsv
    STEADY=$WORK/proxy-steady.tsv
    : >"$DROPS"
    : >"$STEADY"
    : >"$RESULTS"
    : >"$ALLIN"
    : >"$IDLE"
    : >"$CAUSES"
    PROXY_NOTES=()

    start_switchboard_proxy switchboard-proxy
    proxy_series "switchboard"
    start_kamailio kamailio-proxy "$HERE/kamailio/proxy.cfg"
    proxy_series "kamailio proxy"

    if [ "$STEADY_WINDOWS" -gt 0 ]; then
        start_switchboard_proxy switchboard-steady
        steady_series "switchboard"
        start_kamailio kamailio-steady "$HERE/kamailio/proxy.cfg"
        steady_series "kamailio proxy"
    fi

    local body
    body=$(
        echo "Calls through a stateful proxy over UDP: a SIPp UAS registers sip:bob@example.com,"
        echo "a SIPp UAC from a foreign domain calls it through the server (INVITE, 100, 180,"
        echo "200, ACK, BYE, 200; Record-Routed, so ACK and BYE pass through the server too),"
        echo "$CALL_RATES calls/s, $CALL_SECONDS s each, calls held ${CALL_HOLD_MS} ms."
        echo "Kamailio: tm, rr, usrloc in memory (db_mode 0), lookup(\"location\") and t_relay."
        echo "Switchboard: serve with [auth] and [presence] off and bob provisioned by [site]."
        echo "Both SIPps share the load core, which caps the rates this harness can offer; CPU"
        echo "per call is the figure that separates the servers."
        local n
        for n in "${PROXY_NOTES[@]}"; do
            echo
            echo "$n"
        done
        echo
        machine_info
        echo
        SUSTAINED_AWK=$CALL_CLEAN_AWK SUSTAINED_TEXT=$CALL_CLEAN_TEXT report call
        echo
        echo "For calls, the achieved rate divides by SIPp's wall time less the hold of the last call."
        echo
        echo "UDP datagrams the kernel dropped during each load because a receive buffer was full"
        echo "(/proc/net/udp per socket; \"elsewhere\" is the UAC's socket or another program):"
        echo
        echo "| server | target call/s | at the server | at the UAS | elsewhere |"
        echo "|---|---:|---:|---:|---:|"
        awk -F'\t' '{printf "| %s | %s | %s | %s | %s |\n", $1, $2, $3, $4, $5}' "$DROPS"
        if [ -s "$STEADY" ]; then
            echo
            echo "Steady: $STEADY_RATE calls/s held for $STEADY_WINDOWS back-to-back runs of"
            echo "$CALL_SECONDS s on a freshly started server; server CPU µs per completed call in each:"
            echo
            steady_report
        fi
        if [ -s "$CAUSES" ]; then
            echo
            echo "Why calls failed (SIPp's error logs, UAC and UAS; call ids and numbers masked):"
            echo
            echo '```'
            cat "$CAUSES"
            echo '```'
        fi
    )
    echo "$body"
    write_doc proxy "$body"
}
