#!/usr/bin/env bash
# Two-way WINS replication between the reference target (`nbns-conform serve`)
# and the Samba AD DC, in a network namespace of their own on loopback:
#   the DC at 127.0.0.2, the reference at 127.0.0.3 (each the other's partner),
#   test clients at 127.0.0.4 (client1) and 127.0.0.5 (client2).
# 1. client1 registers WREPLPEERA<00> at the DC; the reference must answer
#    for it (it pulled the DC's record).
# 2. client1 registers WREPLPEERB<00> at the reference; the DC must answer
#    for it (the reference notified the DC, the DC pulled).
# Each wait is bounded (REPL_WAIT seconds, default 60). Exit 0 only when both
# directions worked. Needs root and the Samba AD DC (fails loudly otherwise).
#
# Usage: scripts/reference-samba-wrepl.sh
#   NBNS_CONFORM   the nbns-conform binary (default: target/release/nbns-conform)
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/samba-harness.sh
source scripts/samba-harness.sh

bin=${NBNS_CONFORM:-target/release/nbns-conform}
wait_max=${REPL_WAIT:-60}
ref_ip=127.0.0.3
peer=conformance/tests/data/peer
if [[ ! -x $bin ]]; then
    echo "ERROR: $bin not built (cargo build --release -p nbns-conformance)" >&2
    exit 2
fi
if ! samba_require addc; then
    echo "ERROR: the Samba AD DC is not installed: the reference <-> DC replication test cannot run." >&2
    exit 2
fi
ns="nbnsv-refdc-$$"
wd=$(mktemp -d "${TMPDIR:-/tmp}/nbnsv-refdc.XXXXXX")
ref_pid=
cleanup() {
    [[ -n $ref_pid ]] && kill "$ref_pid" 2>/dev/null || true
    samba_stop "$ns" "$wd" >/dev/null 2>&1 || true
    rm -rf "$wd"
}
trap cleanup EXIT
samba_addc_prepare "$wd"
addc_add_partner "$wd" "$ref_ip" >/dev/null
samba_start addc "$ns" "$wd" >/dev/null

ip netns exec "$ns" "$bin" serve --bind "$ref_ip:137" --name NBNSVREF \
    --db "$wd/reference.redb" --partner "$SAMBA_SERVER_IP" --pull-interval 2s \
    >"$wd/reference.log" 2>&1 &
ref_pid=$!

# run TARGET SCRIPT: one script against TARGET from client1/client2, quietly.
run() {
    ip netns exec "$ns" timeout 60 "$bin" run --quiet --target "$1" \
        --client-addr 127.0.0.4 --client-addr 127.0.0.5 "$peer/$2" >"$wd/last-run.log" 2>&1
}

# until_passes TARGET SCRIPT WHAT: runs SCRIPT until it passes, bounded.
until_passes() {
    local start=$SECONDS
    while ((SECONDS - start < wait_max)); do
        if run "$1" "$2"; then
            echo "ok: $3 after $((SECONDS - start)) s"
            return 0
        fi
        sleep 1
    done
    echo "FAILED: $3 within $wait_max s; last run:" >&2
    cat "$wd/last-run.log" >&2
    echo "--- reference log:" >&2
    cat "$wd/reference.log" >&2
    return 1
}

# The reference answers on UDP and TCP 42 before anything else happens.
until_passes "$ref_ip" register-b.nbt "the reference serves (registers WREPLPEERB<00>)"
until_passes "$SAMBA_SERVER_IP" register-a.nbt "the DC registers WREPLPEERA<00>"
status=0
until_passes "$ref_ip" query-a.nbt "DC -> reference: the reference answers for the DC's WREPLPEERA<00>" || status=1
until_passes "$SAMBA_SERVER_IP" query-b.nbt "reference -> DC: the DC answers for the reference's WREPLPEERB<00>" || status=1
if ! kill -0 "$ref_pid" 2>/dev/null; then
    echo "FAILED: the reference target exited:" >&2
    cat "$wd/reference.log" >&2
    status=1
fi
exit $status
