#!/usr/bin/env bash
# Issue 15 item 3 at full scale: 300,000 unauthenticated REGISTERs at 10,000/s into the
# embedded registrar (bin register-flood), then a 1 s burst of 100,000 MESSAGEs into a
# registered client (bin client-burst); each victim runs as its own process and its peak
# resident memory is checked against a bound. Exits 1 if either run failed its checks.
# usage: benches/overload.sh [SERVER_BOUND_MIB=96] [CLIENT_BOUND_MIB=96]
set -u
cd "$(dirname "$0")/.." || exit 1
cargo build --release -q -p benches --bin register-flood --bin client-burst || exit 1
target=${CARGO_TARGET_DIR:-target}
echo "# load before: $(cut -d' ' -f1-3 /proc/loadavg); $(nproc) cores"
status=0
"$target"/release/register-flood 300000 10000 "${1:-96}" || status=1
"$target"/release/client-burst 100000 100000 "${2:-96}" || status=1
exit $status
