#!/usr/bin/env bash
# samba-harness.sh - run Samba's WINS servers (nmbd, or the AD DC's nbt + wrepl
# services) inside a private network namespace on loopback.
#
# Usage as a command (needs root):
#   scripts/samba-harness.sh start nmbd|addc NSNAME WORKDIR
#   scripts/samba-harness.sh stop NSNAME WORKDIR
#   scripts/samba-harness.sh add-partner WORKDIR IP      # AD DC only, before start
#   scripts/samba-harness.sh template                    # just provision/cache the DC
#   scripts/samba-harness.sh require [nmbd|addc|all]
# `start` leaves the server running and prints the variables below as
# shell assignments (eval-able); `stop` kills it and deletes the namespace.
#
# Usage as a library:
#   source scripts/samba-harness.sh
#   samba_require addc || exit 1
#   trap 'samba_stop "$NS" "$WD"' EXIT
#   samba_start addc "$NS" "$WD"
#   ip netns exec "$NS" my-runner --server "$SAMBA_SERVER_IP" ...
#
# AD DC with a replication partner (the DC reads wins_config.ldb at start-up;
# a partner added while it runs was not honoured in our tests):
#   samba_addc_prepare "$WD"                # copy the cached provisioned template
#   addc_add_partner "$WD" 127.0.0.3        # wreplPartner, type 0x3 (push+pull)
#   samba_start addc "$NS" "$WD"            # reuses WD/etc/smb.conf as prepared
# Timing (2 cores): first provisioning ~11 s (cached afterwards in the template
# dir); nmbd answers ~0.2 s after start, the DC ~1 s after start.
#
# Everything the caller gets after samba_start (also written to
# WORKDIR/harness.env as `KEY=value` lines):
#   SAMBA_NS           network namespace name (only `lo` in it, up)
#   SAMBA_KIND         nmbd | addc
#   SAMBA_WORKDIR      the work directory (configs, logs, pid files, state)
#   SAMBA_SERVER_IP    127.0.0.2  (the server's only interface address)
#   SAMBA_CLIENT_IP    127.0.0.3  (primary test-client address)
#   SAMBA_CLIENT_IPS   "127.0.0.3 127.0.0.4 127.0.0.5 127.0.0.6" (all client addresses)
#   SAMBA_NBT_PORT     137 (UDP name service port the server listens on)
#   SAMBA_WREPL_PORT   42 (TCP WINS replication; addc only, empty for nmbd)
#   SAMBA_NETBIOS_NAME the server's own NetBIOS name (NBNSV-NMBD or DC1)
#   SAMBA_WORKGROUP    workgroup / NetBIOS domain (NBNSVWG or NBNSV)
#   SAMBA_REALM        DNS realm (addc only)
#   SAMBA_CONF         the server's smb.conf
#   SAMBA_CLIENT_CONF  a client smb.conf for nmblookup/smbtorture that binds to
#                      127.0.0.3 and uses 127.0.0.2 as WINS server
#   SAMBA_PID          the server's main pid (from its pid file)
#
# Tunables (environment): SAMBA_SERVER_IP, SAMBA_CLIENT_IPS, SAMBA_NBT_PORT,
# SAMBA_START_TIMEOUT (seconds; default 10 for nmbd, 60 for addc),
# SAMBA_ADDC_TEMPLATE (cached provisioned DC; default
# ${TMPDIR:-/tmp}/nbns-verify-addc-template), SAMBA_LOG_LEVEL (default 1).
#
# Nothing is installed here. On Debian 12:
#   apt-get install -y --no-install-recommends samba samba-common-bin \
#     samba-ad-dc samba-ad-provision samba-dsdb-modules
# (smbtorture is in samba-testsuite, tcpdump/tshark in their own packages.)

# Only switch shell options when executed, not when sourced into a caller.
if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
    set -euo pipefail
fi

: "${SAMBA_SERVER_IP:=127.0.0.2}"
: "${SAMBA_CLIENT_IPS:=127.0.0.3 127.0.0.4 127.0.0.5 127.0.0.6}"
: "${SAMBA_NBT_PORT:=137}"
: "${SAMBA_LOG_LEVEL:=1}"
: "${SAMBA_ADDC_TEMPLATE:=${TMPDIR:-/tmp}/nbns-verify-addc-template}"
SAMBA_CLIENT_IP="${SAMBA_CLIENT_IPS%% *}"
SAMBA_ADDC_REALM="NBNSV.TEST"
SAMBA_ADDC_DOMAIN="NBNSV"
SAMBA_ADDC_HOST="DC1"
SAMBA_ADDC_PASS="Nbnsv-Verify-Pass1"
SAMBA_NMBD_NAME="NBNSV-NMBD"
SAMBA_NMBD_WORKGROUP="NBNSVWG"

_samba_log() { printf '[samba-harness] %s\n' "$*" >&2; }

_samba_loud() {
    {
        echo "########################################################################"
        echo "## samba-harness: ERROR"
        local line
        for line in "$@"; do echo "## $line"; done
        echo "########################################################################"
    } >&2
}

# samba_require [nmbd|addc|all] - check the needed programs exist.
samba_require() {
    local what="${1:-all}" missing=() prog
    local progs=(ip nmblookup)
    case "$what" in
        nmbd) progs+=(nmbd) ;;
        addc) progs+=(samba samba-tool) ;;
        *) progs+=(nmbd samba samba-tool) ;;
    esac
    for prog in "${progs[@]}"; do
        if ! command -v "$prog" >/dev/null 2>&1 && [[ ! -x "/usr/sbin/$prog" ]]; then
            missing+=("$prog")
        fi
    done
    if [[ "$what" == addc || "$what" == all ]]; then
        if ! /usr/bin/python3 -c 'import ldb' >/dev/null 2>&1; then
            missing+=("python3-ldb (/usr/bin/python3 -c 'import ldb')")
        fi
    fi
    if ((${#missing[@]})); then
        _samba_loud "Samba programs missing: ${missing[*]}" \
            "Install them (Debian 12, as root):" \
            "  apt-get update && apt-get install -y --no-install-recommends \\" \
            "    samba samba-common-bin samba-ad-dc samba-ad-provision samba-dsdb-modules"
        return 1
    fi
    if [[ $EUID -ne 0 ]]; then
        _samba_loud "samba-harness needs root (network namespaces, port 137)."
        return 1
    fi
    return 0
}

_samba_bin() {
    if command -v "$1" >/dev/null 2>&1; then command -v "$1"; else echo "/usr/sbin/$1"; fi
}

# samba_ns_create NS - new namespace with lo up, server + client addresses.
samba_ns_create() {
    local ns="$1" ip
    if ip netns list | awk '{print $1}' | grep -qx -- "$ns"; then
        _samba_log "namespace $ns exists already; deleting it first"
        ip netns delete "$ns"
    fi
    ip netns add "$ns"
    ip netns exec "$ns" ip link set lo up
    ip netns exec "$ns" ip addr add "$SAMBA_SERVER_IP/8" dev lo
    for ip in $SAMBA_CLIENT_IPS; do
        ip netns exec "$ns" ip addr add "$ip/8" dev lo
    done
}

samba_ns_delete() {
    local ns="$1"
    if ip netns list | awk '{print $1}' | grep -qx -- "$ns"; then
        ip netns delete "$ns" || true
    fi
}

# _samba_write_client_conf WORKDIR - smb.conf for nmblookup / smbtorture.
_samba_write_client_conf() {
    local wd="$1"
    mkdir -p "$wd/client/lock" "$wd/client/state" "$wd/client/cache" "$wd/client/private" "$wd/client/pid"
    cat >"$wd/client.conf" <<EOF
[global]
    netbios name = NBNSV-CLIENT
    workgroup = ${SAMBA_KIND_WORKGROUP:-NBNSVWG}
    interfaces = ${SAMBA_CLIENT_IP}/8
    bind interfaces only = yes
    nbt client socket address = ${SAMBA_CLIENT_IP}
    wins server = ${SAMBA_SERVER_IP}
    name resolve order = wins bcast
    client min protocol = NT1
    lock directory = $wd/client/lock
    state directory = $wd/client/state
    cache directory = $wd/client/cache
    private dir = $wd/client/private
    pid directory = $wd/client/pid
    log file = $wd/client/log.%m
EOF
}

_samba_write_nmbd_conf() {
    local wd="$1" d
    for d in lock state cache pid private ncalrpc log; do mkdir -p "$wd/$d"; done
    cat >"$wd/smb.conf" <<EOF
[global]
    netbios name = ${SAMBA_NMBD_NAME}
    workgroup = ${SAMBA_NMBD_WORKGROUP}
    server role = standalone server
    interfaces = ${SAMBA_SERVER_IP}/8
    bind interfaces only = yes
    wins support = yes
    local master = no
    domain master = no
    preferred master = no
    dns proxy = no
    disable netbios = no
    nbt client socket address = ${SAMBA_SERVER_IP}
    lock directory = $wd/lock
    state directory = $wd/state
    cache directory = $wd/cache
    pid directory = $wd/pid
    private dir = $wd/private
    ncalrpc dir = $wd/ncalrpc
    log file = $wd/log/log.%m
    log level = ${SAMBA_LOG_LEVEL}
EOF
}

# samba_addc_template - provision the DC once and cache it (flock-protected).
samba_addc_template() {
    local tpl="$SAMBA_ADDC_TEMPLATE" stage
    mkdir -p "$(dirname "$tpl")"
    (
        flock -w 120 9 || { _samba_loud "could not lock $tpl.lock"; exit 1; }
        if [[ -f "$tpl/.complete" ]]; then exit 0; fi
        rm -rf "$tpl"
        stage="$tpl.stage.$$"
        rm -rf "$stage"
        mkdir -p "$stage"
        _samba_log "provisioning AD DC template in $tpl (about 7 s)"
        local t0=$SECONDS
        if ! timeout 180 "$(_samba_bin samba-tool)" domain provision \
            --targetdir="$stage" --realm="$SAMBA_ADDC_REALM" --domain="$SAMBA_ADDC_DOMAIN" \
            --host-name="$SAMBA_ADDC_HOST" --server-role=dc --dns-backend=NONE \
            --adminpass="$SAMBA_ADDC_PASS" --host-ip="$SAMBA_SERVER_IP" \
            --option="interfaces=$SAMBA_SERVER_IP/8" --option="bind interfaces only=yes" \
            --use-rfc2307 >"$stage.provision.log" 2>&1; then
            _samba_loud "samba-tool domain provision failed; log: $stage.provision.log"
            tail -20 "$stage.provision.log" >&2
            rm -rf "$stage"
            exit 1
        fi
        # remember the path that the generated smb.conf refers to
        printf '%s\n' "$stage" >"$stage/.origin"
        mv "$stage.provision.log" "$stage/provision.log"
        touch "$stage/.complete"
        mv "$stage" "$tpl"
        _samba_log "template ready in $((SECONDS - t0)) s"
    ) 9>"$tpl.lock"
}

# samba_addc_prepare WORKDIR - copy the template into WORKDIR, adapt its smb.conf
# (samba_start addc does this itself when WORKDIR/etc/smb.conf is missing).
samba_addc_prepare() {
    local wd="$1" tpl="$SAMBA_ADDC_TEMPLATE" origin d conf
    samba_addc_template || return 1
    origin="$(cat "$tpl/.origin")"
    mkdir -p "$wd"
    wd="$(cd "$wd" && pwd)"
    cp -a "$tpl/." "$wd/"
    rm -f "$wd/.complete"
    for d in pid ncalrpc winbindd log; do mkdir -p "$wd/$d"; done
    conf="$wd/etc/smb.conf"
    # paths inside the provisioned smb.conf point at the template's stage dir
    sed -i "s|$origin|$wd|g" "$conf"
    # drop a previous [global] tail written by us, then add ours after [global]
    /usr/bin/python3 - "$conf" "$wd" "$SAMBA_NBT_PORT" "$SAMBA_LOG_LEVEL" <<'PY'
import sys
conf, wd, port, level = sys.argv[1:5]
extra = f"""\tserver services = nbt, wrepl
\twins support = yes
\tdns proxy = no
\tnbt port = {port}
\tpid directory = {wd}/pid
\tncalrpc dir = {wd}/ncalrpc
\twinbindd socket directory = {wd}/winbindd
\tlog file = {wd}/log/samba.log
\tlog level = {level}
"""
lines = open(conf).read().splitlines(keepends=True)
out = []
for ln in lines:
    key = ln.strip().split("=")[0].strip().lower()
    if key in ("server services", "wins support", "nbt port", "pid directory",
               "ncalrpc dir", "winbindd socket directory", "log file", "log level",
               "dns proxy"):
        continue
    out.append(ln)
    if ln.strip().lower() == "[global]":
        out.append(extra)
open(conf, "w").write("".join(out))
PY
}

# addc_add_partner WORKDIR IP [TYPE] - register IP as a WINS replication
# partner (push+pull, type 0x3) in WORKDIR/private/wins_config.ldb.
# Call it before samba_start (the DC also re-reads the file periodically).
addc_add_partner() {
    local wd="$1" ip="$2" type="${3:-0x3}"
    if [[ ! -f "$wd/etc/smb.conf" ]]; then
        samba_addc_prepare "$wd" || return 1
    fi
    /usr/bin/python3 - "$wd/private/wins_config.ldb" "$ip" "$type" <<'PY'
import sys, ldb
path, ip, typ = sys.argv[1:4]
db = ldb.Ldb(path)
dn = ldb.Dn(db, f"CN={ip},CN=PARTNERS")
msg = ldb.Message(dn)
msg["objectClass"] = ldb.MessageElement(["wreplPartner"], ldb.FLAG_MOD_REPLACE, "objectClass")
msg["address"] = ldb.MessageElement([ip], ldb.FLAG_MOD_REPLACE, "address")
msg["type"] = ldb.MessageElement([typ], ldb.FLAG_MOD_REPLACE, "type")
try:
    db.modify(msg)
except ldb.LdbError:
    for k in ("objectClass", "address", "type"):
        msg[k].set_flags(ldb.FLAG_MOD_ADD)
    db.add(msg)
print(f"wreplPartner {ip} type {typ} in {path}")
PY
}

# _samba_pidfile WORKDIR - the server's pid file, if any.
_samba_pidfile() {
    local wd="$1" f
    for f in "$wd/pid/samba.pid" "$wd/pid/nmbd.pid" "$wd"/pid/*.pid; do
        if [[ -s "$f" ]]; then printf '%s\n' "$f"; return 0; fi
    done
    return 1
}

# _samba_names_active NS WORKDIR - the AD DC answers queries for its name a few
# seconds before it has registered (and so defends) its own names; its node
# status lists them <ACTIVE> from then on. nmbd: always true.
_samba_names_active() {
    local ns="$1" wd="$2"
    [[ "${SAMBA_KIND:-}" != addc ]] && return 0
    timeout 5 ip netns exec "$ns" nmblookup -s "$wd/client.conf" -A "$SAMBA_SERVER_IP" \
        2>/dev/null | grep -Eq "^[[:space:]]*$SAMBA_NETBIOS_NAME[[:space:]]+<00>.*<ACTIVE>"
}

# samba_wait_ready NS WORKDIR TIMEOUT - poll with nmblookup until the server
# answers a unicast query for its own <00> name and (AD DC) its own names are
# registered.
samba_wait_ready() {
    local ns="$1" wd="$2" limit="$3" deadline out
    deadline=$((SECONDS + limit))
    while ((SECONDS < deadline)); do
        if [[ -n "${_SAMBA_SERVER_PID:-}" ]] && ! kill -0 "$_SAMBA_SERVER_PID" 2>/dev/null; then
            _samba_loud "server process exited during start-up; see $wd/log/ and $wd/server.out"
            tail -20 "$wd/server.out" >&2 || true
            return 1
        fi
        if out="$(timeout 5 ip netns exec "$ns" nmblookup -s "$wd/client.conf" \
            -U "$SAMBA_SERVER_IP" "$SAMBA_NETBIOS_NAME#00" 2>/dev/null)" &&
            grep -q "$SAMBA_SERVER_IP " <<<"$out" && _samba_names_active "$ns" "$wd"; then
            return 0
        fi
        sleep 0.3
    done
    _samba_loud "server in namespace $ns did not answer within ${limit}s; logs in $wd/log/"
    return 1
}

_samba_write_env() {
    local wd="$1"
    cat >"$wd/harness.env" <<EOF
SAMBA_NS=$SAMBA_NS
SAMBA_KIND=$SAMBA_KIND
SAMBA_WORKDIR=$SAMBA_WORKDIR
SAMBA_SERVER_IP=$SAMBA_SERVER_IP
SAMBA_CLIENT_IP=$SAMBA_CLIENT_IP
SAMBA_CLIENT_IPS="$SAMBA_CLIENT_IPS"
SAMBA_NBT_PORT=$SAMBA_NBT_PORT
SAMBA_WREPL_PORT=$SAMBA_WREPL_PORT
SAMBA_NETBIOS_NAME=$SAMBA_NETBIOS_NAME
SAMBA_WORKGROUP=$SAMBA_WORKGROUP
SAMBA_REALM=$SAMBA_REALM
SAMBA_CONF=$SAMBA_CONF
SAMBA_CLIENT_CONF=$SAMBA_CLIENT_CONF
SAMBA_PID=$SAMBA_PID
EOF
}

# samba_start nmbd|addc NS WORKDIR - start the server and wait until it answers.
samba_start() {
    local kind="$1" ns="$2" wd="$3" limit t0=$SECONDS pidfile i
    samba_require "$kind" || return 1
    mkdir -p "$wd"
    wd="$(cd "$wd" && pwd)"
    SAMBA_NS="$ns" SAMBA_KIND="$kind" SAMBA_WORKDIR="$wd"
    SAMBA_CLIENT_CONF="$wd/client.conf" SAMBA_REALM="" SAMBA_WREPL_PORT=""
    samba_ns_create "$ns"
    case "$kind" in
        nmbd)
            SAMBA_NETBIOS_NAME="$SAMBA_NMBD_NAME" SAMBA_WORKGROUP="$SAMBA_NMBD_WORKGROUP"
            SAMBA_CONF="$wd/smb.conf"
            _samba_write_nmbd_conf "$wd"
            limit="${SAMBA_START_TIMEOUT:-10}"
            ip netns exec "$ns" "$(_samba_bin nmbd)" -F --no-process-group \
                -s "$SAMBA_CONF" -p "$SAMBA_NBT_PORT" </dev/null >"$wd/server.out" 2>&1 &
            ;;
        addc)
            SAMBA_NETBIOS_NAME="$SAMBA_ADDC_HOST" SAMBA_WORKGROUP="$SAMBA_ADDC_DOMAIN"
            SAMBA_REALM="$SAMBA_ADDC_REALM" SAMBA_WREPL_PORT=42
            SAMBA_CONF="$wd/etc/smb.conf"
            if [[ ! -f "$SAMBA_CONF" ]]; then
                samba_addc_prepare "$wd" || return 1
            fi
            limit="${SAMBA_START_TIMEOUT:-60}"
            ip netns exec "$ns" "$(_samba_bin samba)" -F --no-process-group -M single \
                -s "$SAMBA_CONF" --maximum-runtime=3600 </dev/null >"$wd/server.out" 2>&1 &
            ;;
        *)
            _samba_loud "unknown server kind '$kind' (want nmbd or addc)"
            return 1
            ;;
    esac
    _SAMBA_SERVER_PID=$!
    SAMBA_KIND_WORKGROUP="$SAMBA_WORKGROUP" _samba_write_client_conf "$wd"
    samba_wait_ready "$ns" "$wd" "$limit" || return 1
    SAMBA_PID=""
    for ((i = 0; i < 30; i++)); do
        if pidfile="$(_samba_pidfile "$wd")"; then SAMBA_PID="$(cat "$pidfile")"; break; fi
        sleep 0.1
    done
    [[ -n "$SAMBA_PID" ]] || SAMBA_PID="$_SAMBA_SERVER_PID"
    _samba_write_env "$wd"
    _samba_log "$kind up in namespace $ns (pid $SAMBA_PID, $((SECONDS - t0)) s)"
    export SAMBA_NS SAMBA_KIND SAMBA_WORKDIR SAMBA_SERVER_IP SAMBA_CLIENT_IP SAMBA_CLIENT_IPS \
        SAMBA_NBT_PORT SAMBA_WREPL_PORT SAMBA_NETBIOS_NAME SAMBA_WORKGROUP SAMBA_REALM \
        SAMBA_CONF SAMBA_CLIENT_CONF SAMBA_PID
}

# _samba_kill_pid PID - TERM a few times, then KILL; bounded (~5 s).
_samba_kill_pid() {
    local pid="$1" i
    [[ "$pid" =~ ^[0-9]+$ ]] || return 0
    for ((i = 0; i < 25; i++)); do
        kill -0 "$pid" 2>/dev/null || return 0
        if ((i % 5 == 0)); then kill -TERM "$pid" 2>/dev/null || true; fi
        sleep 0.2
    done
    kill -KILL "$pid" 2>/dev/null || true
    for ((i = 0; i < 10; i++)); do
        kill -0 "$pid" 2>/dev/null || return 0
        sleep 0.1
    done
}

# samba_stop NS WORKDIR - kill the server (pid file, then start-up pid) and
# delete the namespace. Never fails; safe to call twice or from a trap.
samba_stop() {
    local ns="${1:-${SAMBA_NS:-}}" wd="${2:-${SAMBA_WORKDIR:-}}" pidfile pid
    if [[ -n "$wd" && -d "$wd" ]]; then
        for pidfile in "$wd"/pid/*.pid; do
            [[ -s "$pidfile" ]] || continue
            pid="$(cat "$pidfile" 2>/dev/null || true)"
            _samba_kill_pid "$pid"
        done
    fi
    if [[ -n "${_SAMBA_SERVER_PID:-}" ]]; then
        _samba_kill_pid "$_SAMBA_SERVER_PID"
        wait "$_SAMBA_SERVER_PID" 2>/dev/null || true
        _SAMBA_SERVER_PID=""
    fi
    # anything still running inside the namespace was started by us
    if [[ -n "$ns" ]] && ip netns list | awk '{print $1}' | grep -qx -- "$ns"; then
        for pid in $(ip netns pids "$ns" 2>/dev/null); do
            _samba_kill_pid "$pid"
        done
        samba_ns_delete "$ns"
    fi
    return 0
}

_samba_main() {
    local cmd="${1:-}"
    case "$cmd" in
        start)
            [[ $# -eq 4 ]] || { echo "usage: $0 start nmbd|addc NSNAME WORKDIR" >&2; exit 2; }
            if ! samba_start "$2" "$3" "$4"; then
                samba_stop "$3" "$4"
                exit 1
            fi
            # the server outlives this shell: it was started in the background
            disown -a 2>/dev/null || true
            cat "$SAMBA_WORKDIR/harness.env"
            ;;
        stop)
            [[ $# -eq 3 ]] || { echo "usage: $0 stop NSNAME WORKDIR" >&2; exit 2; }
            samba_stop "$2" "$3"
            ;;
        add-partner)
            [[ $# -ge 3 ]] || { echo "usage: $0 add-partner WORKDIR IP [TYPE]" >&2; exit 2; }
            addc_add_partner "$2" "$3" "${4:-0x3}"
            ;;
        template)
            samba_require addc && samba_addc_template
            ;;
        require)
            samba_require "${2:-all}"
            ;;
        *)
            awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0" >&2
            exit 2
            ;;
    esac
}

if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
    _samba_main "$@"
fi
