#!/usr/bin/env bash
# Non-INVITE transactions per second over loopback UDP against one sipp UAS
# (interop/sipp/options-uas.xml): first sipp's own UAC (options-uac.xml) at a fixed rate, then
# the sip-txn driver (bin txn-uac) keeping WINDOW transactions outstanding, then the wire floor
# (bin udp-floor: raw UDP, a prebuilt OPTIONS, 200s counted without parsing) with the same
# window, each for SECONDS. Prints one line per client, the driver's ratio to sipp's UAC (when
# sipp's run was clean) and to the floor (target >= 0.70, issue 14); exits 1 if sipp or the
# driver had a failed transaction. SIPP_UAC=0 skips sipp's UAC (the floor ratio only).
# usage: benches/txn-vs-sipp.sh [SECONDS=10] [SIPP_RATE=16000] [WINDOW=200] [THREADS=1]
#   CHART=DIR also writes the ratio as DIR/txn-vs-sipp.txt and an SVG bar chart of it beside
#   (bin chart), as benches/charts/ holds them for the README.
#   SIPP_RATE 16000 is the highest rate sipp's UAC sustained here without failures
#   (../shared/interop/README.md: 15,787/s; 20,000/s fails).
set -u
cd "$(dirname "$0")/.." || exit 1
secs=${1:-10}; rate=${2:-16000}; window=${3:-200}; threads=${4:-1}
uas_port=${UAS_PORT:-5390}; uac_port=${UAC_PORT:-5391}
cargo build --release -q -p benches --bin txn-uac --bin udp-floor --bin chart || exit 1
work=$(mktemp -d /tmp/txn-vs-sipp.XXXXXX)
col() { awk -F';' -v c="$2" 'NR==1{for(i=1;i<=NF;i++) if($i==c) k=i} END{print $k}' "$1"; }
now() { date +%s.%N; }
# CPU seconds (user + system) of a command, into FILE, when GNU time is installed.
timed() { local out=$1; shift; if [ -x /usr/bin/time ]; then /usr/bin/time -f '%U %S' -o "$out" "$@"; else "$@"; fi; }
cpu_us() { [ -s "$1" ] && awk -v n="$2" '{printf "%.1f", ($1 + $2) * 1e6 / n}' "$1" || echo unknown; }

# A fresh UAS for each client: sipp keeps every ended call for 33 s (-deadcall_wait) and
# answers more slowly as they pile up, so the client after a fast one would meet a slower UAS.
spid=
start_uas() {
    stop_uas
    sipp -sf interop/sipp/options-uas.xml -i 127.0.0.1 -p "$uas_port" -nostdin \
        -timeout $(( 2 * secs + 60 ))s -max_recv_loops 10000 >>"$work/uas.out" 2>&1 &
    spid=$!
    sleep 0.5
}
stop_uas() { [ -n "$spid" ] && { kill "$spid" 2>/dev/null; wait "$spid" 2>/dev/null; spid=; }; }
trap 'stop_uas; rm -rf "$work"' EXIT
start_uas
echo "# load before: $(cut -d' ' -f1-3 /proc/loadavg); $(nproc) cores"

if [ "${SIPP_UAC:-1}" = 0 ]; then
    sipp_rc=skipped; failed=skipped
else
t0=$(now)
sipp 127.0.0.1:"$uas_port" -sf interop/sipp/options-uac.xml -i 127.0.0.1 -p "$uac_port" \
    -r "$rate" -m $(( rate * secs )) -l $(( rate * 2 )) -nostdin -timeout $(( secs + 20 ))s \
    -max_recv_loops 10000 -max_sched_loops 10000 -trace_stat -stf "$work/uac.csv" -fd 1 \
    >"$work/uac.out" 2>&1
sipp_rc=$?
t1=$(now)
ok=$(col "$work/uac.csv" 'SuccessfulCall(C)'); failed=$(col "$work/uac.csv" 'FailedCall(C)')
re=$(col "$work/uac.csv" 'Retransmissions(C)')
sipp_rate=$(echo "$ok / ($t1 - $t0)" | bc -l)
printf 'sipp-uac ok=%s failed=%s retrans=%s seconds=%.2f rate=%.0f target=%s exit=%s\n' \
    "$ok" "$failed" "$re" "$(echo "$t1 - $t0" | bc -l)" "$sipp_rate" "$rate" "$sipp_rc"
sleep 2
fi

start_uas
line=$(timed "$work/ours.time" "${CARGO_TARGET_DIR:-target}"/release/txn-uac 127.0.0.1:"$uas_port" --seconds "$secs" --window "$window" --threads "$threads")
ours_rc=$?
ours_ok=${line#*ok=}; ours_ok=${ours_ok%% *}
echo "$line cpu_us_per_txn=$(cpu_us "$work/ours.time" "$ours_ok")"
ours_rate=${line##*rate=}; ours_rate=${ours_rate%% *}
start_uas
floor=$(timed "$work/floor.time" "${CARGO_TARGET_DIR:-target}"/release/udp-floor 127.0.0.1:"$uas_port" --seconds "$secs" --window "$window")
floor_ok=${floor#*ok=}; floor_ok=${floor_ok%% *}
echo "$floor cpu_us_per_txn=$(cpu_us "$work/floor.time" "$floor_ok")"
floor_rate=${floor##*rate=}; floor_rate=${floor_rate%% *}
floor_ratio=$(printf '%.2f' "$(echo "$ours_rate / $floor_rate" | bc -l)")
echo "ratio txn-uac/udp-floor = $floor_ratio (target >= 0.70)"
sipp_ratio=
if [ "$sipp_rc" = skipped ]; then
    :
elif [ "$sipp_rc" = 0 ] && [ "$failed" = 0 ]; then
    sipp_ratio=$(printf '%.2f' "$(echo "$ours_rate / $sipp_rate" | bc -l)")
    echo "ratio txn-uac/sipp-uac = $sipp_ratio"
else
    # A failed call holds sipp's run open until its -timeout, so ok / wall time would make sipp
    # look slower than it is: no ratio from such a run.
    echo "ratio txn-uac/sipp-uac: none, sipp's run was not clean (failed calls: ${failed:-unknown}, exit $sipp_rc) at $rate/s; lower SIPP_RATE to its clean rate"
fi
if [ -n "${CHART:-}" ]; then
    # The chart's unit is the raw-UDP floor (1.00); sipp's UAC joins it when its run was clean.
    mkdir -p "$CHART"
    {
        printf '# title: %s\n# axis: %s\n' \
            "Non-INVITE transactions per second, × the raw-UDP floor (higher is faster)" \
            "× the floor's rate"
        echo "raw UDP floor 1.00"
        echo "*sip-txn driver $floor_ratio"
        [ -n "$sipp_ratio" ] && printf 'sipp UAC %.2f\n' "$(echo "$sipp_rate / $floor_rate" | bc -l)"
    } >"$CHART/txn-vs-sipp.txt"
    "${CARGO_TARGET_DIR:-target}"/release/chart "$CHART/txn-vs-sipp.txt" "$CHART/txn-vs-sipp.svg"
fi
echo "# load after: $(cut -d' ' -f1-3 /proc/loadavg)"
{ [ "$sipp_rc" = skipped ] || { [ "$sipp_rc" = 0 ] && [ "$failed" = 0 ]; }; } && [ "$ours_rc" = 0 ]
