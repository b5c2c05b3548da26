#!/usr/bin/env bash
# Runs the conformance script library against one of Samba's WINS servers,
# started in a network namespace of its own, and always tears it down.
#
# Usage: scripts/conform-samba.sh nmbd|addc [nbns-conform run options...]
#   NBNS_CONFORM   the nbns-conform binary (default: target/release/nbns-conform)
#   NBNS_EXPECT    the expectations file (default: conformance/expect/<kind>.expect)
#   NBNS_REPORT    the reports' base name (default: <kind>)
#   NBNS_CAPTURE   if set, a pcap of the namespace's loopback (UDP 137, TCP 42) is written there
# Reports go to target/conformance/<kind>.{junit.xml,json}. Needs root.
set -euo pipefail
cd "$(dirname "$0")/.."
kind=${1:?usage: scripts/conform-samba.sh nmbd|addc [run options]}
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
    echo "ERROR: Samba ($kind) is not installed: the conformance run against it cannot happen." >&2
    exit 2
fi
ns="nbnsv-conform-$kind-$$"
wd=$(mktemp -d "${TMPDIR:-/tmp}/nbnsv-$kind.XXXXXX")
capture_pid=
trap '[[ -n $capture_pid ]] && kill "$capture_pid" 2>/dev/null; samba_stop "$ns" "$wd" >/dev/null 2>&1 || true; rm -rf "$wd"' EXIT
# The runner's WINS replication partners (`replica` steps push records from them): the AD DC
# lists them in wins_config.ldb; nmbd has no WINS replication.
partners=(127.0.0.7 127.0.0.8)
if [[ $kind == addc ]]; then
    samba_addc_prepare "$wd"
    for ip in "${partners[@]}"; do addc_add_partner "$wd" "$ip" >/dev/null; done
fi
samba_start "$kind" "$ns" "$wd" >/dev/null
out=target/conformance
mkdir -p "$out"
clients=()
for ip in $SAMBA_CLIENT_IPS; do clients+=(--client-addr "$ip"); done
for ip in "${partners[@]}"; do clients+=(--partner-addr "$ip"); done
if [[ -n ${NBNS_CAPTURE:-} ]]; then
    ip netns exec "$ns" tcpdump -q -U -i lo -s 0 -w "$NBNS_CAPTURE" 'udp port 137 or tcp port 42' 2>/dev/null &
    capture_pid=$!
    sleep 1 # tcpdump is listening before the first packet
fi
status=0
ip netns exec "$ns" "$bin" run \
    --target "$SAMBA_SERVER_IP:$SAMBA_NBT_PORT" \
    --target-name "$SAMBA_NETBIOS_NAME" \
    "${clients[@]}" \
    --expect "${NBNS_EXPECT:-conformance/expect/$kind.expect}" \
    --junit "$out/${NBNS_REPORT:-$kind}.junit.xml" \
    --json "$out/${NBNS_REPORT:-$kind}.json" \
    "$@" || status=$?
if [[ -n $capture_pid ]]; then
    sleep 1
    kill "$capture_pid" 2>/dev/null || true
    wait "$capture_pid" 2>/dev/null || true
    capture_pid=
    echo "capture: $NBNS_CAPTURE" >&2
fi
exit "$status"
