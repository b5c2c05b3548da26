#!/usr/bin/env bash
# capture-golden.sh - record golden packet captures of real Samba NBNS / WINS
# replication traffic into wire/tests/data/ (nmbd.pcap, addc.pcap) and refresh
# wire/tests/data/README.md with per-kind packet counts.
#
# Needs root and (Debian 12):
#   apt-get install -y --no-install-recommends samba samba-common-bin samba-testsuite \
#     samba-ad-dc samba-ad-provision samba-dsdb-modules tcpdump tshark
#
# Usage: scripts/capture-golden.sh [nmbd|addc|all]   (default all)
# Env:   CAPTURE_OUT (default <repo>/wire/tests/data), CAPTURE_KEEP=1 keeps the
#        work directories under ${TMPDIR:-/tmp} for inspection.
#
# Traffic generators (all inside a private namespace, loopback addresses only):
#   - an embedded Python (stdlib) NBNS client that sends hand-built requests
#     from 127.0.0.3..6: queries (positive/negative), node status, unique /
#     group / multihomed registration, refresh (opcodes 8 and 9), release,
#     a conflict that draws WACK + challenge (answered and unanswered), scopes;
#   - nmblookup (simple and status queries);
#   - smbtorture nbt.register, nbt.wins and (AD DC) nbt.winsreplication.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/.." && pwd)"
OUT="${CAPTURE_OUT:-$REPO/wire/tests/data}"
WHICH="${1:-all}"
# shellcheck source=scripts/samba-harness.sh
source "$HERE/samba-harness.sh"

die() { _samba_loud "$@"; exit 1; }

for prog in tcpdump tshark smbtorture nmblookup; do
    command -v "$prog" >/dev/null 2>&1 ||
        die "$prog missing: apt-get install -y tcpdump tshark samba-testsuite samba-common-bin"
done
samba_require all || exit 1

BASE="$(mktemp -d "${TMPDIR:-/tmp}/nbnsv-capture.XXXXXX")"
NS=""
WD=""
TCPDUMP_PID=""

cleanup() {
    local rc=$?
    if [[ -n "$TCPDUMP_PID" ]]; then
        kill -INT "$TCPDUMP_PID" 2>/dev/null || true
        sleep 0.5
        kill -KILL "$TCPDUMP_PID" 2>/dev/null || true
        wait "$TCPDUMP_PID" 2>/dev/null || true
        TCPDUMP_PID=""
    fi
    if [[ -n "$NS" ]]; then samba_stop "$NS" "$WD"; fi
    NS=""
    if [[ "${CAPTURE_KEEP:-0}" != 1 ]]; then rm -rf "$BASE"; else echo "kept $BASE" >&2; fi
    return "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# NBNS on UDP 137 and WINS replication on TCP 42. Bare TCP ACKs (no payload, no
# SYN/FIN/RST) are left out: they were 40 % of addc.pcap's bytes and carry nothing to
# decode; every data segment and connection open/close is kept.
CAPTURE_FILTER='udp port 137 or (tcp port 42 and (tcp[tcpflags] & (tcp-syn|tcp-fin|tcp-rst) != 0 or ip[2:2] - ((ip[0] & 0xf) << 2) - ((tcp[12] & 0xf0) >> 2) != 0))'

GEN="$BASE/nbns_gen.py"
cat >"$GEN" <<'PY'
"""Hand-built NBNS requests against a WINS server (stdlib only, deterministic)."""
import random, socket, struct, sys, threading, time

SERVER = sys.argv[1]
CLIENTS = sys.argv[2].split()
SERVER_NAME = sys.argv[3]
C1, C2, C3, C4 = CLIENTS[:4]
PORT = 137
rng = random.Random(4242)
NB, NBSTAT, IN = 0x20, 0x21, 1
OP = {"query": 0, "reg": 5, "rel": 6, "wack": 7, "ref8": 8, "ref9": 9, "mh": 15}


def enc_name(name, suffix, scope=""):
    raw = name.encode("latin-1")[:15].ljust(15, b" ") + bytes([suffix])
    first = b"".join(bytes([0x41 + (b >> 4), 0x41 + (b & 0xF)]) for b in raw)
    out = bytes([32]) + first
    for label in [l for l in scope.split(".") if l]:
        out += bytes([len(label)]) + label.encode()
    return out + b"\0"


def packet(tid, opcode, flags, name, qtype=NB, rr=None):
    # flags here: extra bits (RD 0x100, B 0x10)
    hdr = struct.pack(">HHHHHH", tid, (opcode << 11) | flags, 1, 0, 0, 1 if rr else 0)
    body = name + struct.pack(">HH", qtype, IN)
    if rr:
        ttl, nbflags, addr = rr
        body += b"\xc0\x0c" + struct.pack(">HHIH", NB, IN, ttl, 6) + struct.pack(
            ">H", nbflags) + socket.inet_aton(addr)
    return hdr + body


def sock_for(ip, port=0):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((ip, port))
    return s


def xact(src, pkt, wait=3.0, label=""):
    """Send one request, collect replies with the same id until a final one."""
    s = sock_for(src)
    tid = struct.unpack(">H", pkt[:2])[0]
    s.sendto(pkt, (SERVER, PORT))
    deadline = time.monotonic() + wait
    final = None
    while time.monotonic() < deadline:
        s.settimeout(max(0.05, deadline - time.monotonic()))
        try:
            data, _ = s.recvfrom(2048)
        except (socket.timeout, ConnectionRefusedError):
            continue
        if len(data) < 12 or struct.unpack(">H", data[:2])[0] != tid:
            continue
        flags = struct.unpack(">H", data[2:4])[0]
        opcode, rcode = (flags >> 11) & 0xF, flags & 0xF
        if opcode == OP["wack"]:
            ttl = struct.unpack(">I", data[-8:-4])[0]
            print(f"  {label}: WACK ttl={ttl}")
            deadline = time.monotonic() + min(ttl, 20) + 2
            continue
        final = rcode
        break
    s.close()
    print(f"  {label}: rcode={final}")
    return final


def tid():
    return rng.randrange(1, 0xFFFF)


def query(src, name, sfx, scope="", label="query", rd=True):
    return xact(src, packet(tid(), 0, 0x100 if rd else 0, enc_name(name, sfx, scope)), 2.0,
                label)


def register(src, name, sfx, addr, group=False, scope="", op="reg", ttl=300, label="reg",
             wait=4.0):
    nbf = (0x8000 if group else 0) | 0x6000  # H-node as Windows clients send it
    return xact(src, packet(tid(), OP[op], 0x100, enc_name(name, sfx, scope),
                            rr=(ttl, nbf, addr)), wait, label)


def release(src, name, sfx, addr, group=False, scope="", label="rel"):
    nbf = (0x8000 if group else 0) | 0x6000
    return xact(src, packet(tid(), 6, 0, enc_name(name, sfx, scope),
                            rr=(0, nbf, addr)), 2.0, label)


def status(src, name, sfx):
    return xact(src, packet(tid(), 0, 0, enc_name(name, sfx), qtype=NBSTAT), 2.0, "status")


class Defender(threading.Thread):
    """Listens on ADDR:137 and answers challenge queries for NAMES positively."""

    def __init__(self, addr, names):
        super().__init__(daemon=True)
        self.addr, self.names = addr, names
        self.s = sock_for(addr, PORT)
        self.s.settimeout(0.2)
        self.stop = False

    def run(self):
        while not self.stop:
            try:
                data, peer = self.s.recvfrom(2048)
            except socket.timeout:
                continue
            flags = struct.unpack(">H", data[2:4])[0]
            if flags & 0x8000 or (flags >> 11) & 0xF != 0:
                continue
            qname = data[12:12 + 34]
            if qname not in self.names:
                continue
            flags = 0x8000 | 0x0400 | (flags & 0x0100)
            resp = data[:2] + struct.pack(">HHHHH", flags, 0, 1, 0, 0)
            resp += data[12:12 + len(data) - 12 - 4]  # the question name
            resp += struct.pack(">HHIH", NB, IN, 300, 6) + struct.pack(">H", 0x6000)
            resp += socket.inet_aton(self.addr)
            self.s.sendto(resp, peer)
            print(f"  defender {self.addr}: answered challenge from {peer[0]}")

    def close(self):
        self.stop = True
        self.join(2)
        self.s.close()


print("queries")
query(C1, SERVER_NAME, 0x00, label="own <00> no RD", rd=False)
query(C1, SERVER_NAME, 0x20, label="own <20> no RD", rd=False)
query(C1, SERVER_NAME, 0x00, label="own <00>")
query(C1, SERVER_NAME, 0x20, label="own <20>")
query(C1, "NBV-NOSUCH", 0x00, label="unknown")
status(C1, "*", 0x00)

print("unique registration, refresh, release")
register(C1, "NBV-UNIQUE", 0x00, C1, label="reg unique")
query(C2, "NBV-UNIQUE", 0x00, label="query unique")
register(C1, "NBV-UNIQUE", 0x00, C1, op="ref8", label="refresh op8")
register(C1, "NBV-UNIQUE", 0x00, C1, op="ref9", label="refresh op9")
register(C1, "NBV-UNIQUE", 0x20, C1, label="reg unique <20>")

print("group registration")
register(C1, "NBV-GROUP", 0x00, C1, group=True, label="reg group .3")
register(C2, "NBV-GROUP", 0x00, C2, group=True, label="reg group .4")
register(C2, "NBV-GROUP", 0x1C, C2, group=True, label="reg 1C .4")
register(C3, "NBV-GROUP", 0x1C, C3, group=True, label="reg 1C .5")
query(C1, "NBV-GROUP", 0x00, label="query group")
query(C1, "NBV-GROUP", 0x1C, label="query 1C")
register(C4, "NBV-GROUP", 0x00, C4, group=False, label="unique over group")

print("multihomed registration")
register(C1, "NBV-MULTI", 0x00, C1, op="mh", label="mh .3")
register(C2, "NBV-MULTI", 0x00, C2, op="mh", label="mh .4", wait=25)
query(C3, "NBV-MULTI", 0x00, label="query mh")

print("scoped names")
register(C1, "NBV-SCOPED", 0x20, C1, scope="nbns.verify.test", label="reg scoped")
query(C2, "NBV-SCOPED", 0x20, scope="nbns.verify.test", label="query scoped")
query(C2, "NBV-SCOPED", 0x20, label="query unscoped")

print("conflict with a defending owner (WACK, challenge answered)")
register(C3, "NBV-DEFEND", 0x00, C3, label="reg owner .5")
d = Defender(C3, {enc_name("NBV-DEFEND", 0)[:34]})
d.start()
register(C4, "NBV-DEFEND", 0x00, C4, label="reg challenger .6", wait=25)
d.close()
print("conflict with a silent owner (WACK, challenge unanswered)")
register(C3, "NBV-SILENT", 0x00, C3, label="reg owner .5")
register(C4, "NBV-SILENT", 0x00, C4, label="reg challenger .6", wait=25)
query(C1, "NBV-SILENT", 0x00, label="query after challenge")

print("releases")
release(C1, "NBV-UNIQUE", 0x00, C1, label="rel unique")
release(C2, "NBV-UNIQUE", 0x20, C2, label="rel <20> from wrong address")
release(C1, "NBV-GROUP", 0x00, C1, group=True, label="rel group")
release(C1, "NBV-MULTI", 0x00, C1, label="rel mh .3")
release(C1, "NBV-SCOPED", 0x20, C1, scope="nbns.verify.test", label="rel scoped")
release(C1, "NBV-NEVER", 0x00, C1, label="rel unknown")
query(C2, "NBV-UNIQUE", 0x00, label="query released")
PY

# start_capture PCAP NS - tcpdump on the namespace loopback; waits until it listens.
start_capture() {
    local pcap="$1" ns="$2" i
    rm -f "$pcap"
    ip netns exec "$ns" tcpdump -i lo -n -U -s 0 -w "$pcap" "$CAPTURE_FILTER" \
        >"$BASE/tcpdump.$ns.log" 2>&1 &
    TCPDUMP_PID=$!
    for ((i = 0; i < 50; i++)); do
        grep -q 'listening on' "$BASE/tcpdump.$ns.log" 2>/dev/null && return 0
        sleep 0.1
    done
    die "tcpdump did not start: $(cat "$BASE/tcpdump.$ns.log")"
}

stop_capture() {
    local i
    sleep 1
    kill -INT "$TCPDUMP_PID" 2>/dev/null || true
    for ((i = 0; i < 50; i++)); do
        kill -0 "$TCPDUMP_PID" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL "$TCPDUMP_PID" 2>/dev/null || true
    wait "$TCPDUMP_PID" 2>/dev/null || true
    TCPDUMP_PID=""
}

# run LABEL SECONDS CMD... - run a generator bounded in time; failures are fine.
run() {
    local label="$1" secs="$2" rc=0
    shift 2
    echo "== $label" >>"$BASE/run.log"
    printf '$ %s\n' "$*" >>"$BASE/run.log"
    timeout "$secs" ip netns exec "$NS" "$@" >>"$BASE/run.log" 2>&1 || rc=$?
    echo "-- $label exit $rc" >>"$BASE/run.log"
    echo "  $label: exit $rc" >&2
}

common_traffic() {
    local conf="$SAMBA_CLIENT_CONF" name="$SAMBA_NETBIOS_NAME"
    run "nmblookup unicast query" 10 nmblookup -s "$conf" -U 127.0.0.2 "$name"
    run "nmblookup recursive query <20>" 10 nmblookup -s "$conf" -U 127.0.0.2 --recursion "$name#20"
    run "nmblookup negative query" 10 nmblookup -s "$conf" -U 127.0.0.2 --recursion "NBV-ABSENT"
    run "nmblookup query + node status" 15 nmblookup -s "$conf" -U 127.0.0.2 -S "$name"
    run "nmblookup node status by IP" 15 nmblookup -s "$conf" -A 127.0.0.2
    run "nmblookup workgroup <1c>" 10 nmblookup -s "$conf" -U 127.0.0.2 --recursion "$SAMBA_WORKGROUP#1c"
    run "python NBNS generator" 240 /usr/bin/python3 "$GEN" 127.0.0.2 "$SAMBA_CLIENT_IPS" "$name"
    run "smbtorture nbt.register" 60 smbtorture -s "$conf" -N //127.0.0.2/_none_ nbt.register
    run "smbtorture nbt.wins" 120 smbtorture -s "$conf" -N //127.0.0.2/_none_ nbt.wins
}

capture_nmbd() {
    NS="nbnsv-cap-nmbd-$$"
    WD="$BASE/nmbd"
    echo "nmbd: starting" >&2
    samba_start nmbd "$NS" "$WD" >/dev/null
    start_capture "$BASE/nmbd.pcap" "$NS"
    common_traffic
    stop_capture
    samba_stop "$NS" "$WD"
    NS=""
    cp "$BASE/nmbd.pcap" "$OUT/nmbd.pcap"
    cp "$BASE/run.log" "$BASE/nmbd.run.log"
    : >"$BASE/run.log"
}

capture_addc() {
    NS="nbnsv-cap-addc-$$"
    WD="$BASE/addc"
    echo "addc: provisioning/copying template" >&2
    samba_addc_prepare "$WD"
    addc_add_partner "$WD" 127.0.0.3 >/dev/null
    local t0=$SECONDS
    samba_start addc "$NS" "$WD" >/dev/null
    echo "addc: up after $((SECONDS - t0)) s" >&2
    start_capture "$BASE/addc.pcap" "$NS"
    common_traffic
    run "smbtorture nbt.winsreplication" 300 smbtorture -s "$SAMBA_CLIENT_CONF" -N \
        //127.0.0.2/_none_ --option=torture:dangerous=yes nbt.winsreplication
    stop_capture
    samba_stop "$NS" "$WD"
    NS=""
    cp "$BASE/addc.pcap" "$OUT/addc.pcap"
    cp "$BASE/run.log" "$BASE/addc.run.log"
}

# counts PCAP - per-kind packet counts as a markdown list (via tshark).
counts() {
    local pcap="$1"
    tshark -r "$pcap" -T fields -E separator='|' -e frame.number -e nbns.flags.response \
        -e nbns.flags.opcode -e nbns.flags.rcode -e nbns.type -e nbns.count.queries \
        -e winsrepl.message_type -e winsrepl.repl_cmd -e winsrepl.num_names \
        -e winsrepl.name_flags.rectype -e _ws.malformed -e tcp.len 2>/dev/null |
        /usr/bin/python3 -c "$COUNT_PY"
}

# shellcheck disable=SC2016 # Python source, not shell
COUNT_PY='
import collections, sys
OPS = {0: "query", 5: "registration", 6: "release", 7: "WACK", 8: "refresh",
       9: "refresh (opcode 9)", 15: "multihomed registration"}
RC = {0: "OK", 1: "FMT_ERR", 2: "SRV_ERR", 3: "NAM_ERR", 4: "IMP_ERR", 5: "RFS_ERR",
      6: "ACT_ERR", 7: "CFT_ERR"}
MT = {0: "start association", 1: "start association reply", 2: "stop association",
      3: "replication"}
RCMD = {0: "owner-version map request", 1: "owner-version map reply",
        2: "send-entries request", 3: "send-entries reply", 4: "update notification",
        5: "update notification (propagate)", 8: "update notification (persistent)",
        9: "update notification (persistent, propagate)"}
RT = {0: "unique", 1: "group", 2: "special group", 3: "multihomed"}
n = collections.Counter(); w = collections.Counter(); recs = collections.Counter()
total = nb = wr = mal = other = 0
def ints(v):
    return [int(x, 0) for x in v.split(",") if x != ""]
for line in sys.stdin:
    f = line.rstrip("\n").split("|")
    total += 1
    if f[10]:
        mal += 1
    if f[2]:
        nb += 1
        # a WACK carries the request flags again in its RDATA: use the header (first) value
        f[1], f[2], f[3] = (x.split(",")[0] for x in f[1:4])
        resp = f[1] in ("1", "True")
        op = int(f[2], 0)
        kind = OPS.get(op, "opcode %d" % op)
        if op == 0 and 33 in ints(f[4]):
            kind = "node status"
        if op == 7:
            n["WACK response"] += 1
        elif resp:
            n["%s response %s" % (kind, RC.get(int(f[3] or "0", 0), f[3]))] += 1
        else:
            n["%s request" % kind] += 1
    elif f[6]:
        wr += 1
        cmds = ints(f[7]); ci = 0
        for mt in ints(f[6]):
            if mt == 3 and ci < len(cmds):
                w[RCMD.get(cmds[ci], "repl cmd %d" % cmds[ci])] += 1; ci += 1
            else:
                w[MT.get(mt, "message type %d" % mt)] += 1
        for rt in ints(f[9]):
            recs[RT.get(rt, str(rt))] += 1
    else:
        other += 1
print("- frames: %d (NBNS: %d; carrying WINS replication PDUs: %d; other TCP (SYN/FIN/RST) "
      "segments: %d); flagged by tshark as `_ws.malformed`: %d" % (total, nb, wr, other, mal))
if n:
    print("- NBNS (UDP 137), packets by kind:")
    for k, v in sorted(n.items()):
        print("  - %s: %d" % (k, v))
if w:
    print("- WINS replication (TCP 42), PDUs by kind:")
    for k, v in sorted(w.items()):
        print("  - %s: %d" % (k, v))
    print("- name records inside send-entries replies, by type: " +
          ", ".join("%s %d" % kv for kv in sorted(recs.items())))
'

write_readme() {
    local readme="$OUT/README.md" ver
    ver="$(samba --version 2>/dev/null || nmbd --version 2>/dev/null || echo unknown)"
    {
        sed "s/@VERSION@/$ver/" <<'EOF'
# Golden captures of real Samba traffic

Made by `scripts/capture-golden.sh` (as root: `scripts/capture-golden.sh all`), which
starts each server with `scripts/samba-harness.sh` in a private network namespace whose
only interface is `lo` (server 127.0.0.2, clients 127.0.0.3-127.0.0.6) and records with
`tcpdump -i lo -n -U -s 0 -w F FILTER` inside that namespace, where FILTER is
`udp port 137 or tcp port 42` minus bare TCP ACKs (no payload and no SYN/FIN/RST: they
carried nothing and were 40 % of addc.pcap; all data segments, handshakes and closes
are kept, so tshark still reassembles every WINS replication PDU).
Samba: @VERSION@ (Debian 12 packages). Do not edit these files by hand: re-run the
script (it rewrites this README with fresh counts) and commit the results together.

Traffic generators, in this order, for both servers (client smb.conf written by the
harness: `nbt client socket address = 127.0.0.3`, `interfaces = 127.0.0.3/8`,
`bind interfaces only = yes`, `wins server = 127.0.0.2`):

1. `nmblookup -s client.conf -U 127.0.0.2 NAME`; `... --recursion NAME#20`;
   `... --recursion NBV-ABSENT` (negative); `... -S NAME` (query + node status);
   `nmblookup -s client.conf -A 127.0.0.2` (node status by IP);
   `... --recursion WORKGROUP#1c`. (In Samba 4.17 `-R` means --name-resolve;
   the RD bit is `--recursion`.)
2. A hand-written NBNS client (Python stdlib, embedded in the script) sending from
   127.0.0.3-6: queries with and without RD for the server's own names, a negative
   query, node status for `*`, unique registration + refresh (opcodes 8 and 9), group
   and `<1C>` registrations from several addresses, unique over group, multihomed
   registration (opcode 0xF) from two addresses, a name with scope `nbns.verify.test`
   (queried with and without the scope), two conflicts that draw WACK + a challenge
   query (one answered by a defender listening on 127.0.0.5:137, one unanswered),
   releases (own, from a wrong address, group, multihomed, scoped, unknown name) and a
   query after release.
3. `smbtorture -s client.conf -N //127.0.0.2/_none_ nbt.register` (register_own,
   refresh_own) and `... nbt.wins` (wins, wins_bad_names).
4. AD DC only, with 127.0.0.3 registered as push/pull partner (type 0x3) in
   `private/wins_config.ldb` before the start:
   `smbtorture -s client.conf -N //127.0.0.2/_none_ --option=torture:dangerous=yes
   nbt.winsreplication` (assoc_ctx1, assoc_ctx2, wins_replication, replica, owned).

Transaction ids, smbtorture's random names (`_TORTURE-NNNNN`) and timings differ
between runs; the kinds and rough counts do not. Several smbtorture subtests report
failures against these servers (expected: they were written against Windows/Samba4
behaviour); the traffic is what matters here.

## nmbd.pcap

nmbd (`wins support = yes`, standalone server, NetBIOS name NBNSV-NMBD, workgroup
NBNSVWG), UDP 137 only: nmbd has no replication server.

EOF
        if [[ -f "$OUT/nmbd.pcap" ]]; then counts "$OUT/nmbd.pcap"; fi
        cat <<'EOF'

## addc.pcap

The AD DC binary `samba -M single` with `server services = nbt, wrepl` and
`wins support = yes` (domain NBNSV, realm NBNSV.TEST, NetBIOS name DC1): its NBT server
on UDP 137 and its WINS replication server on TCP 42. smbtorture's replication tests
also play fake owners, so the DC's challenges and release demands to 127.0.0.3 and
127.0.0.4 appear as NBNS requests from 127.0.0.2.

EOF
        if [[ -f "$OUT/addc.pcap" ]]; then counts "$OUT/addc.pcap"; fi
    } >"$readme"
    echo "wrote $readme" >&2
}

mkdir -p "$OUT"
: >"$BASE/run.log"
case "$WHICH" in
    nmbd) capture_nmbd ;;
    addc) capture_addc ;;
    all) capture_nmbd; capture_addc ;;
    readme) ;;
    *) die "usage: $0 [nmbd|addc|all|readme]" ;;
esac
write_readme
for f in "$BASE"/*.run.log; do
    if [[ -f "$f" ]]; then cat "$f"; fi
done >"$BASE/all-runs.log"
echo "generator output: $BASE/all-runs.log (kept with CAPTURE_KEEP=1)" >&2
ls -l "$OUT"/*.pcap >&2
