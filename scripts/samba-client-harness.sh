#!/usr/bin/env bash
# samba-client-harness.sh - Samba's nmbd as a WINS *client* under test: the
# conformance runner plays its WINS servers (--role client), inside a private
# network namespace on loopback.
#
# Usage (needs root and nmbd):
#   scripts/samba-client-harness.sh run [nbns-conform run options...]
#       create the namespace, run the client-role library against nmbd with
#       conformance/expect/nmbd-client.expect, always tear everything down.
#       NBNS_CONFORM: the nbns-conform binary (default target/release/nbns-conform).
#       Reports: target/conformance/nmbd-client.{junit.xml,json}.
#   scripts/samba-client-harness.sh client WORKDIR start NAME WORKGROUP NICS WINS
#   scripts/samba-client-harness.sh client WORKDIR stop|kill
#       the runner's --target-command (see nbns-conform run --help): start
#       nmbd with `interfaces` = the comma-separated NICS (one, two or three
#       addresses: a multihomed host) and `wins server` = WINS (primary
#       first; Samba tries the servers of one tag in order and fails over when
#       one does not answer), `wins support = no`; `stop` sends SIGTERM (nmbd
#       releases its names and exits); `kill` ends it for good (TERM, then KILL).
#
# Addresses in the namespace (all on lo, /8):
#   client (nmbd) 127.0.0.2 127.0.0.3 127.0.0.7   runner's WINS servers 127.0.0.4 127.0.0.5
# nmbd binds 0.0.0.0:137 with SO_REUSEADDR; the runner's server sockets set it
# too (so both share port 137). A server address the runner did not bind
# would be caught by nmbd's own wildcard socket (no ICMP unreachable in the
# namespace): a "down" server is one the runner leaves unanswered.
if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
    set -euo pipefail
fi

: "${NMBD_CLIENT_IPS:=127.0.0.2 127.0.0.3 127.0.0.7}"
: "${NMBD_SERVER_IPS:=127.0.0.4 127.0.0.5}"
: "${SAMBA_LOG_LEVEL:=1}"
# Extra smb.conf [global] lines for `client start` (one a line), e.g.
# `nbt client socket address = 127.0.0.2`: nmbd then binds its client socket
# there instead of 0.0.0.0:137, so a WINS server in the same namespace can
# bind its own address at port 137 (conformance/tests/nmbd_wins_client.rs).
: "${NMBD_EXTRA_CONF:=}"

_loud() {
    {
        echo "########################################################################"
        echo "## samba-client-harness: ERROR"
        local line
        for line in "$@"; do echo "## $line"; done
        echo "########################################################################"
    } >&2
}

_nmbd_bin() {
    if command -v nmbd >/dev/null 2>&1; then command -v nmbd; else echo /usr/sbin/nmbd; fi
}

client_require() {
    if [[ ! -x "$(_nmbd_bin)" ]] || ! command -v ip >/dev/null 2>&1; then
        _loud "nmbd (or ip) missing. Install (Debian 12, as root):" \
            "  apt-get update && apt-get install -y --no-install-recommends samba samba-common-bin"
        return 1
    fi
    if [[ $EUID -ne 0 ]]; then
        _loud "samba-client-harness needs root (network namespace, port 137)."
        return 1
    fi
}

# _kill_pid PID - TERM a few times, then KILL; bounded (about 4 s).
_kill_pid() {
    local pid="$1" i
    [[ "$pid" =~ ^[0-9]+$ ]] || return 0
    for ((i = 0; i < 20; i++)); do
        kill -0 "$pid" 2>/dev/null || return 0
        if ((i % 5 == 0)); then kill -TERM "$pid" 2>/dev/null || true; fi
        sleep 0.15
    done
    kill -KILL "$pid" 2>/dev/null || true
    for ((i = 0; i < 10; i++)); do
        kill -0 "$pid" 2>/dev/null || return 0
        sleep 0.1
    done
}

# client_start WORKDIR NAME WORKGROUP NICS WINS
client_start() {
    local wd="$1" name="$2" wg="$3" nics="$4" wins="$5" d ifaces="" ip i
    client_kill "$wd"
    rm -rf "$wd/nmbd"
    for d in lock state cache pid private ncalrpc log; do mkdir -p "$wd/nmbd/$d"; done
    for ip in ${nics//,/ }; do ifaces+="$ip/8 "; done
    cat >"$wd/nmbd/smb.conf" <<EOF
[global]
    netbios name = $name
    workgroup = $wg
    server role = standalone server
    interfaces = ${ifaces% }
    bind interfaces only = yes
    wins support = no
    wins server = ${wins//,/ }
    local master = no
    domain master = no
    preferred master = no
    dns proxy = no
    disable netbios = no
    lock directory = $wd/nmbd/lock
    state directory = $wd/nmbd/state
    cache directory = $wd/nmbd/cache
    pid directory = $wd/nmbd/pid
    private dir = $wd/nmbd/private
    ncalrpc dir = $wd/nmbd/ncalrpc
    log file = $wd/nmbd/log/log.%m
    log level = $SAMBA_LOG_LEVEL
$NMBD_EXTRA_CONF
EOF
    "$(_nmbd_bin)" -F --no-process-group -s "$wd/nmbd/smb.conf" </dev/null \
        >"$wd/nmbd/out" 2>&1 &
    echo $! >"$wd/client.pid"
    # Return once nmbd has written its pid file (it then sets up its signal
    # handlers and sockets); nmbd may ignore a SIGTERM sent before that.
    for ((i = 0; i < 50; i++)); do
        [[ -s "$wd/nmbd/pid/nmbd.pid" ]] && return 0
        if ! kill -0 "$(cat "$wd/client.pid")" 2>/dev/null; then
            echo "nmbd exited at start-up:" >&2
            tail -5 "$wd/nmbd/out" "$wd/nmbd/log/log.nmbd" >&2 2>/dev/null || true
            return 1
        fi
        sleep 0.05
    done
    return 0
}

client_stop() {
    local wd="$1" pid
    pid="$(cat "$wd/client.pid" 2>/dev/null || true)"
    [[ "$pid" =~ ^[0-9]+$ ]] && kill -TERM "$pid" 2>/dev/null || true
    return 0
}

client_kill() {
    local wd="$1" pid
    pid="$(cat "$wd/client.pid" 2>/dev/null || true)"
    _kill_pid "$pid"
    rm -f "$wd/client.pid"
}

# client_run [run options] - the whole client-role run against nmbd.
client_run() {
    local root bin ns wd out ip rc=0
    root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
    bin="${NBNS_CONFORM:-$root/target/release/nbns-conform}"
    if [[ ! -x "$bin" ]]; then
        _loud "$bin not built (cargo build --release -p nbns-conformance)"
        return 2
    fi
    client_require || return 2
    ns="nbnsv-client-$$"
    wd="$(mktemp -d "${TMPDIR:-/tmp}/nbnsv-client.XXXXXX")"
    # shellcheck disable=SC2064
    trap "client_kill '$wd' >/dev/null 2>&1 || true; ip netns delete '$ns' 2>/dev/null || true; rm -rf '$wd'" EXIT
    ip netns add "$ns"
    ip netns exec "$ns" ip link set lo up
    for ip in $NMBD_CLIENT_IPS $NMBD_SERVER_IPS; do
        ip netns exec "$ns" ip addr add "$ip/8" dev lo
    done
    out="$root/target/conformance"
    mkdir -p "$out"
    local args=(run --role client --target-name NBNSV-CLIENT
        --target-command "$root/scripts/samba-client-harness.sh client $wd"
        --expect "$root/conformance/expect/nmbd-client.expect"
        --junit "$out/nmbd-client.junit.xml" --json "$out/nmbd-client.json")
    for ip in $NMBD_SERVER_IPS; do args+=(--server-addr "$ip"); done
    for ip in $NMBD_CLIENT_IPS; do args+=(--client-addr "$ip"); done
    ip netns exec "$ns" "$bin" "${args[@]}" "$@" || rc=$?
    return "$rc"
}

_main() {
    case "${1:-}" in
        run)
            shift
            client_run "$@"
            ;;
        client)
            [[ $# -ge 3 ]] || { echo "usage: $0 client WORKDIR start|stop|kill ..." >&2; exit 2; }
            local wd="$2" cmd="$3"
            shift 3
            case "$cmd" in
                start)
                    [[ $# -eq 4 ]] || { echo "usage: $0 client WORKDIR start NAME WORKGROUP NICS WINS" >&2; exit 2; }
                    client_start "$wd" "$@"
                    ;;
                stop) client_stop "$wd" ;;
                kill) client_kill "$wd" ;;
                *) echo "unknown client command: $cmd" >&2; exit 2 ;;
            esac
            ;;
        require) client_require ;;
        *)
            awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0" >&2
            exit 2
            ;;
    esac
}

if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
    _main "$@"
fi
