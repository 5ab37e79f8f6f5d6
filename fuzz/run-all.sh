#!/usr/bin/env bash
# Runs every fuzz target for SECS seconds each (default 600), one after another, starting from
# its seeds, and stops at the first crash. Needs cargo-fuzz (`cargo install cargo-fuzz`); the
# stable toolchain builds with RUSTC_BOOTSTRAP=1 for the sanitizer flags.
#   fuzz/run-all.sh [SECS] [TARGET...]
set -euo pipefail
cd "$(dirname "$0")"
secs=${1:-600}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || mapfile -t targets < <(cargo fuzz list)
export RUSTC_BOOTSTRAP=1
cargo fuzz build --release
work=$(mktemp -d /tmp/rtc-fuzz.XXXXXX)
for t in "${targets[@]}"; do
    mkdir -p "$work/$t"
    echo "=== $t: ${secs}s"
    # The seeds are read, never written: new inputs go to a scratch corpus.
    if ! cargo fuzz run --release "$t" "$work/$t" "seeds/$t" -- \
        -max_total_time="$secs" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 \
        >"$work/$t.log" 2>&1; then
        tail -40 "$work/$t.log"
        echo "$t FAILED (artifacts in fuzz/artifacts/$t)"
        exit 1
    fi
    grep -E '^(Done |stat::number_of_executed_units|stat::peak_rss_mb)' "$work/$t.log" || true
done
rm -rf "$work"
echo "all ${#targets[@]} targets ran ${secs}s each, clean"
