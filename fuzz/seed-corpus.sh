#!/usr/bin/env bash
# Writes the seed corpus of every fuzz target into fuzz/corpus/<target>/:
#   * hand-made packets (the hex below: the nbns-benches samples and a few
#     more kinds), always;
#   * the NBNS UDP payloads and WREPL TCP payloads (per TCP segment) of the
#     golden captures wire/tests/data/*.pcap, when tshark is there. The
#     captures hold thousands of near-identical packets, so they are cut down
#     with libFuzzer's merge (the target binary, built by `cargo fuzz build`
#     if missing) to those that add coverage; without the binary they are
#     left out.
# Seeds are named seed-<first 16 hex digits of their SHA-1>; the old seeds
# are replaced. Other files in corpus/ are what the fuzzer found; they stay
# local (see .gitignore).
set -euo pipefail
cd "$(dirname "$0")"
data=../wire/tests/data
triple=$(rustc -vV | sed -n 's/^host: //p')
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT

nbns_targets=(nbns_decode nbns_roundtrip nbns_structured)
wrepl_targets=(wrepl_decode wrepl_roundtrip wrepl_structured)
all_targets=("${nbns_targets[@]}" name_decode "${wrepl_targets[@]}")

# put KIND TARGET HEX: stages the bytes of HEX as a seed of TARGET, KIND
# being "hand" (kept) or "pcap" (merged).
put() {
    local dir=$stage/$1/$2 tmp
    mkdir -p "$dir"
    tmp=$(mktemp -p "$stage")
    xxd -r -p <<<"$3" >"$tmp"
    mv "$tmp" "$dir/seed-$(sha1sum "$tmp" | cut -c1-16)"
}

# nbns KIND HEX [OFFSET...]: an NBNS packet, for the packet targets and,
# behind a byte telling where a name starts (12, the first name, unless
# offsets are given), for name_decode.
nbns() {
    local kind=$1 hex=$2 t off
    shift 2
    for t in "${nbns_targets[@]}"; do put "$kind" "$t" "$hex"; done
    for off in "${@:-12}"; do put "$kind" name_decode "$(printf '%02x' "$off")$hex"; done
}

# wrepl KIND HEX: a WINS replication TCP payload (one or more frames).
wrepl() {
    local t
    for t in "${wrepl_targets[@]}"; do put "$1" "$t" "$2"; done
}

# --- Hand-made NBNS packets -------------------------------------------------
# Name query request FRED<20>, RD (50 bytes).
nbns hand 1234010000010000000000002045474643454645454341434143414341434143414341434143414341434143410000200001
# Positive query response, one NB entry (62 bytes).
nbns hand 1234858000000001000000002045474643454645454341434143414341434143414341434143414341434143410000200001000493e000066000c0a80715
# Registration, additional record name a pointer to the question (68 bytes).
nbns hand 4321290000010000000000012045474643454645454341434143414341434143414341434143414341434143410000200001c00c00200001000493e000066000c0a80715 12 50
# Node status request *<00> NBSTAT.
nbns hand 00420000000100000000000020434b4141414141414141414141414141414141414141414141414141414141410000210001
# Node status response: four names, 46 bytes of statistics.
nbns hand 00428500000000010000000020434b414141414141414141414141414141414141414141414141414141414141000021000100000000007704465245442020202020202020202020000400465245442020202020202020202020200400574f524b47524f5550202020202020008400574f524b47524f55502020202020201e840000155d01020300000000000000000000000000000000000000000000000000000000000000000000000000000000
# Query for FRED<20>.NETBIOS.COM (a scope), B flag.
nbns hand 123401100001000000000000204547464345464545434143414341434143414341434143414341434143414341074e455442494f5303434f4d0000200001
# WACK: 2-byte NB RDATA echoing the request's flags.
nbns hand 1234bc00000000010000000020454746434546454543414341434143414341434143414341434143414341434100002000010000000200022910
# Redirect: NS record naming wins.example, A record whose name points into the NS RDATA.
nbns hand 123485800000000000010001204547464345464545434143414341434143414341434143414341434143414341000002000100000000000e0477696e73076578616d706c6500c038000100010000000000040a000001 12 56 84
# Negative query response with a NULL record.
nbns hand 12348583000000010000000020454746434546454543414341434143414341434143414341434143414341434100000a0001000000000000

# --- Golden captures ----------------------------------------------------------
shopt -s nullglob
pcaps=("$data"/*.pcap "$data"/*.pcapng)
if ((${#pcaps[@]})) && command -v tshark >/dev/null; then
    for pcap in "${pcaps[@]}"; do
        while read -r hex; do
            [[ -n $hex ]] && nbns pcap "${hex//:/}"
        done < <(tshark -r "$pcap" -Y 'udp.port == 137' -T fields -e udp.payload 2>/dev/null)
        while read -r hex; do
            [[ -n $hex ]] && wrepl pcap "${hex//:/}"
        done < <(tshark -r "$pcap" -Y 'tcp.port == 42 && tcp.len > 0' -T fields -e tcp.payload 2>/dev/null)
    done
else
    echo "seed-corpus.sh: no captures in $data (or no tshark): hand-made seeds only" >&2
fi

for t in "${all_targets[@]}"; do
    out=corpus/$t
    mkdir -p "$out"
    rm -f "$out"/seed-*
    if [[ -d $stage/hand/$t ]]; then
        cp "$stage/hand/$t"/seed-* "$out"/
    fi
    if [[ -d $stage/pcap/$t ]]; then
        bin=target/$triple/release/$t
        if [[ ! -x $bin ]] && command -v cargo-fuzz >/dev/null && grep -q "name = \"$t\"" Cargo.toml; then
            RUSTC_BOOTSTRAP=1 cargo fuzz build -O "$t" >&2
        fi
        if [[ -x $bin ]]; then
            merged=$stage/merged/$t
            mkdir -p "$merged"
            "$bin" -merge=1 "$merged" "$out" "$stage/pcap/$t" 2>/dev/null
            for f in "$merged"/*; do
                cp "$f" "$out/seed-$(sha1sum "$f" | cut -c1-16)"
            done
        else
            echo "seed-corpus.sh: $t is not built: its capture seeds are left out" >&2
        fi
    fi
    chmod 644 "$out"/seed-* 2>/dev/null || true
    echo "$t: $(find "$out" -name 'seed-*' | wc -l) seeds"
done

# reference_server: steps `[control, len_hi, len_lo, bytes]` (see the target)
# made of the NBNS and WREPL seeds above: four datagrams from four sources, a
# tick 3 s later, the same four again; and each of 20 WREPL seeds applied as a
# pull, followed by a datagram.
out=corpus/reference_server
mkdir -p "$out"
rm -f "$out"/seed-*
python3 - "$out" <<'PY'
import glob, hashlib, sys
out = sys.argv[1]
def step(ctl, b):
    return bytes([ctl, len(b) >> 8, len(b) & 255]) + b
pk = [open(f, 'rb').read() for f in sorted(glob.glob('corpus/nbns_decode/seed-*'))]
pk = [p for p in pk if 12 <= len(p) < 600]
seeds = []
for i in range(0, min(len(pk), 120), 4):
    group = pk[i:i + 4]
    s = b''.join(step(j, p) for j, p in enumerate(group)) + step(0x38, b'')
    s += b''.join(step(0x10 | ((j + 1) & 3), p) for j, p in enumerate(group))
    seeds.append(s)
for f in sorted(glob.glob('corpus/wrepl_decode/seed-*'))[:20]:
    seeds.append(step(0x0d, open(f, 'rb').read()) + (step(0, pk[0]) if pk else b''))
for s in seeds:
    open(f"{out}/seed-{hashlib.sha1(s).hexdigest()[:16]}", 'wb').write(s)
PY
echo "reference_server: $(find "$out" -name 'seed-*' | wc -l) seeds"
