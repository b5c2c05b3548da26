#!/usr/bin/env bash
# Name-query throughput of the reference target and nmbd, side by side with
# the same client, in one criterion run (benches/benches/server.rs). nmbd runs
# in a network namespace of its own; the bench runs inside it. Needs root.
# Usage: scripts/bench-servers.sh [criterion options...]
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/samba-harness.sh
source scripts/samba-harness.sh
samba_require nmbd || exit 2
cargo bench -p nbns-benches --bench server --no-run
ns="nbnsv-bench-$$"
wd=$(mktemp -d "${TMPDIR:-/tmp}/nbnsv-bench.XXXXXX")
trap 'samba_stop "$ns" "$wd" >/dev/null 2>&1 || true; rm -rf "$wd"' EXIT
samba_start nmbd "$ns" "$wd" >/dev/null
ip netns exec "$ns" env NBNSV_NMBD="$SAMBA_SERVER_IP:$SAMBA_NBT_PORT" \
    cargo bench --offline -p nbns-benches --bench server -- "$@"
