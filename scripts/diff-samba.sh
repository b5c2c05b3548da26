#!/usr/bin/env bash
# Differential run: the conformance script library against the embedded reference server
# (A) and one of Samba's WINS servers (B), started in a network namespace of its own (the
# runner runs inside it too); always tears the server down.
#
# Usage: scripts/diff-samba.sh nmbd|addc [nbns-conform diff options...]
#   NBNS_CONFORM   the nbns-conform binary (default: target/release/nbns-conform)
# The JSON report goes to target/conformance/diff-<kind>.json. Exit status as
# `nbns-conform diff`: 0 agree, 1 differ, 2 usage error or unusable target. Needs root.
set -euo pipefail
cd "$(dirname "$0")/.."
kind=${1:?usage: scripts/diff-samba.sh nmbd|addc [diff options]}
shift
case $kind in nmbd | addc) ;; *) echo "unknown target kind: $kind" >&2; exit 2 ;; esac
bin=${NBNS_CONFORM:-target/release/nbns-conform}
if [[ ! -x $bin ]]; then
    echo "ERROR: $bin not built (cargo build --release -p nbns-conformance)" >&2
    exit 2
fi
# shellcheck source=scripts/samba-harness.sh
source scripts/samba-harness.sh
if ! samba_require "$kind"; then
    echo "ERROR: Samba ($kind) is not installed: the differential run against it cannot happen." >&2
    exit 2
fi
ns="nbnsv-diff-$kind-$$"
wd=$(mktemp -d "${TMPDIR:-/tmp}/nbnsv-diff-$kind.XXXXXX")
trap 'samba_stop "$ns" "$wd" >/dev/null 2>&1 || true; rm -rf "$wd"' EXIT
samba_start "$kind" "$ns" "$wd" >/dev/null
out=target/conformance
mkdir -p "$out"
clients=()
for ip in $SAMBA_CLIENT_IPS; do clients+=(--client-addr "$ip"); done
status=0
ip netns exec "$ns" "$bin" diff reference "$SAMBA_SERVER_IP:$SAMBA_NBT_PORT" \
    --name-b "$SAMBA_NETBIOS_NAME" \
    "${clients[@]}" \
    --json "$out/diff-$kind.json" \
    "$@" || status=$?
exit "$status"
