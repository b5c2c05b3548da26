#!/usr/bin/env bash
# Builds the fuzz crate and runs every target for a short time (default 20 s).
# Usage: scripts/fuzz-smoke.sh [SECONDS] [TARGET...]
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
secs=${1:-20}
shift || true
export RUSTC_BOOTSTRAP=1
targets=("$@")
if ((${#targets[@]} == 0)); then
    mapfile -t targets < <(cargo fuzz list)
fi
for t in "${targets[@]}"; do
    echo "--- fuzz $t for ${secs}s"
    mkdir -p "corpus/$t"
    # A scratch copy of the corpus, so smoke runs leave the committed seeds alone.
    work=$(mktemp -d)
    cp -r "corpus/$t/." "$work/" 2>/dev/null || true
    log="$work.log"
    status=0
    cargo fuzz run "$t" "$work" -- -max_total_time="$secs" -print_final_stats=1 >"$log" 2>&1 || status=$?
    grep -E '^(#[0-9]+.*DONE|stat::number_of_executed_units|stat::peak_rss_mb|SUMMARY)' "$log" || true
    rm -rf "$work"
    if ((status != 0)); then
        tail -n 60 "$log" >&2
        echo "fuzz target $t failed (exit $status)" >&2
        exit "$status"
    fi
    rm -f "$log"
done
