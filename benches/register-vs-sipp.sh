#!/usr/bin/env bash
# Digest registrations per second against one Kamailio (interop/kamailio, USERS accounts
# u0001… on loopback UDP): first sipp's register-csv.xml (REGISTER -> 401 -> REGISTER -> 200 per
# call) at SIPP_RATE, then our stack (bin register-load: rtc-client's registration core on the
# sip-txn driver) with every user registering ROUNDS times, WINDOW registrations in flight. Both
# make USERS*ROUNDS registrations. Prints one line each, our CPU and peak memory, and the ratio;
# exits 1 if either side had a failure.
# usage: benches/register-vs-sipp.sh [USERS=1000] [ROUNDS=40] [SIPP_RATE=10000] [WINDOW=500]
#   SIPP_RATE 10000: sipp's clean rate against this Kamailio here (shared/interop/README.md:
#   ~9,900/s with 1 retransmission in 200,000; retransmissions grow from 12,000/s).
#   CHART=DIR also writes the ratio as DIR/register-vs-sipp.txt and an SVG bar chart of it
#   beside (bin chart), as benches/charts/ holds them for the README.
set -u
cd "$(dirname "$0")/.." || exit 1
users=${1:-1000}; rounds=${2:-40}; rate=${3:-10000}; window=${4:-500}
total=$(( users * rounds ))
port=${KAM_PORT:-15060}; tlsport=$(( port + 1 )); uac_port=${UAC_PORT:-15391}
cargo build --release -q -p benches --bin register-load --bin chart || exit 1
work=$(mktemp -d /tmp/register-vs-sipp.XXXXXX)
col() { awk -F';' -v c="$2" 'NR==1{for(i=1;i<=NF;i++) if($i==c) k=i} END{print $k}' "$1"; }
now() { date +%s.%N; }

USERS=$users interop/kamailio/start.sh "$work/kam" "$port" "$tlsport" -- -A WITHOUT_TLS >/dev/null || exit 1
trap 'interop/kamailio/stop.sh "$work/kam" >/dev/null; rm -rf "$work"' EXIT
{ echo SEQUENTIAL; for i in $(seq -f '%04g' 1 "$users"); do
    echo "u$i;[authentication username=u$i password=pw-u$i]"; done; } > "$work/users.csv"
echo "# load before: $(cut -d' ' -f1-3 /proc/loadavg); $(nproc) cores; $total registrations each"

t0=$(now)
/usr/bin/time -f '%U %S %M' -o "$work/sipp.time" \
  sipp 127.0.0.1:"$port" -sf interop/sipp/register-csv.xml -inf "$work/users.csv" \
    -i 127.0.0.1 -p "$uac_port" -r "$rate" -m "$total" -l $(( rate * 2 )) -nostdin \
    -timeout $(( total / rate + 30 ))s -max_recv_loops 10000 -max_sched_loops 10000 \
    -trace_stat -stf "$work/uac.csv" -fd 1 >"$work/uac.out" 2>&1
sipp_rc=$?
t1=$(now)
ok=$(col "$work/uac.csv" 'SuccessfulCall(C)'); failed=$(col "$work/uac.csv" 'FailedCall(C)')
re=$(col "$work/uac.csv" 'Retransmissions(C)')
read -r su ss smax < <(tail -1 "$work/sipp.time")
sipp_rate=$(echo "$ok / ($t1 - $t0)" | bc -l)
printf 'sipp     ok=%s failed=%s retrans=%s seconds=%.2f rate=%.0f target=%s cpu_s=%.2f peak_rss_kib=%s exit=%s\n' \
    "$ok" "$failed" "$re" "$(echo "$t1 - $t0" | bc -l)" "$sipp_rate" "$rate" \
    "$(echo "$su + $ss" | bc -l)" "$smax" "$sipp_rc"
sleep 2

line=$("${CARGO_TARGET_DIR:-target}"/release/register-load 127.0.0.1:"$port" "$users" "$rounds" "$window")
ours_rc=$?
echo "ours     $line"
ours_rate=${line##*rate }; ours_rate=${ours_rate%% *}
ratio=$(printf '%.2f' "$(echo "$ours_rate / $sipp_rate" | bc -l)")
echo "ratio ours/sipp = $ratio"
if [ -n "${CHART:-}" ]; then
    mkdir -p "$CHART"
    printf '# title: %s\n# axis: %s\nrtc-client stack %s\nsipp 1.00\n' \
        "Digest registrations per second against Kamailio, × sipp (higher is faster)" \
        "× sipp's rate" "$ratio" >"$CHART/register-vs-sipp.txt"
    "${CARGO_TARGET_DIR:-target}"/release/chart "$CHART/register-vs-sipp.txt" "$CHART/register-vs-sipp.svg"
fi
echo "# load after: $(cut -d' ' -f1-3 /proc/loadavg)"
[ "$sipp_rc" = 0 ] && [ "$failed" = 0 ] && [ "$ours_rc" = 0 ]
