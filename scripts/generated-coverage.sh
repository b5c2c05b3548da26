#!/usr/bin/env bash
# Branch coverage of model/src/server.rs reached by the generated script library
# (conformance/scripts-generated) run against the embedded reference target, which
# answers through that state machine (reference/src/packet_layer.rs).
#
# Usage: scripts/generated-coverage.sh [SCRIPT-DIR]
#
# What is measured: one `nbns-conform run` of the library, and one of its replica scripts
# with the server's KB bugs switched on (`--kb-bug`: the scripts that catch them fail),
# built with coverage instrumentation (cargo-llvm-cov); the report counts the branches of
# model/src/server.rs (both outcomes of every condition, `if let` and `let else`;
# all generic instantiations merged). It prints the figure for the whole file, per
# function, for the request-handling functions, and for the branches a script can
# reach at all (NBNS packets, and replicas the runner pushes as a replication partner),
# then every branch outcome never taken, each with its location and, for the ones no
# script can reach, why (the table at the end of this file). A branch outcome that is
# neither taken nor in that table is a gap of the generator: listed as GAP.
#
# Branch coverage needs a nightly compiler (`-Z coverage-options=branch`, which
# `cargo llvm-cov --branch` passes). Without one the script says so loudly and falls
# back to stable line and region coverage (no branch figures).
# Needs: cargo-llvm-cov, llvm-tools (the nightly's own, or the stable toolchain's
# when both use the same LLVM major version), python3.
set -euo pipefail
cd "$(dirname "$0")/.."
lib=${1:-conformance/scripts-generated}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-target}
out=$CARGO_TARGET_DIR/conformance
mkdir -p "$out"
command -v cargo-llvm-cov >/dev/null || { echo "ERROR: cargo-llvm-cov is not installed (cargo install cargo-llvm-cov)" >&2; exit 2; }

llvm_major() { rustc "$@" -vV | sed -n 's/^LLVM version: \([0-9]*\).*/\1/p'; }
toolchain=()
branch=()
if cargo +nightly --version >/dev/null 2>&1; then
    toolchain=(+nightly)
    branch=(--branch)
    nightly_bin=$(rustc +nightly --print sysroot)/lib/rustlib/$(rustc +nightly -vV | sed -n 's/^host: //p')/bin
    if [[ ! -x $nightly_bin/llvm-cov ]]; then
        # The nightly has no llvm-tools component: the stable toolchain's tools read its
        # profiles when both use the same LLVM major version.
        stable_bin=$(rustc --print sysroot)/lib/rustlib/$(rustc -vV | sed -n 's/^host: //p')/bin
        if [[ $(llvm_major +nightly) != "$(llvm_major)" || ! -x $stable_bin/llvm-cov ]]; then
            echo "ERROR: the nightly toolchain lacks llvm-tools (rustup component add llvm-tools --toolchain nightly)" >&2
            exit 2
        fi
        export LLVM_COV=$stable_bin/llvm-cov LLVM_PROFDATA=$stable_bin/llvm-profdata
    fi
    echo "measuring branch coverage (nightly $(rustc +nightly -V | cut -d' ' -f2-))"
else
    echo "WARNING: NO NIGHTLY TOOLCHAIN: FALLING BACK TO STABLE REGION COVERAGE." >&2
    echo "WARNING: the figures below are lines and regions, NOT branches (rustup toolchain install nightly)." >&2
fi

cargo "${toolchain[@]}" llvm-cov clean --workspace
cargo "${toolchain[@]}" llvm-cov run "${branch[@]}" -p nbns-conformance --bin nbns-conform --no-report \
    -- run "$lib" --quiet
# The replica scripts once more, against the reference with the server's KB bugs switched on
# (`run --kb-bug`): the scripts that catch a bug fail (exit 1), and the branches the bugs
# take count. A run that passes has missed them: an error here.
status=0
cargo "${toolchain[@]}" llvm-cov run "${branch[@]}" -p nbns-conformance --bin nbns-conform --no-report \
    -- run "$lib/rep" --quiet --kb-bug Q164016 --kb-bug Q135277 >"$out/kb-bugs-run.txt" || status=$?
if [[ $status != 1 ]]; then
    echo "ERROR: the replica scripts against the reference with KB Q164016 and Q135277 switched on exited $status (1 expected: scripts that catch the bugs fail); see $out/kb-bugs-run.txt" >&2
    exit 2
fi
echo "with KB Q164016 and Q135277 switched on: $(tail -1 "$out/kb-bugs-run.txt")"
cargo "${toolchain[@]}" llvm-cov report "${branch[@]}" --json --output-path "$out/server-coverage.json"

python3 - "$out/server-coverage.json" "${#branch[@]}" <<'EOF'
import json, re, sys
from collections import defaultdict

path, have_branches = sys.argv[1], sys.argv[2] != "0"
data = json.load(open(path))["data"][0]
f = next(f for f in data["files"] if f["filename"].endswith("model/src/server.rs"))
src = open(f["filename"]).read().split("\n")
summ = f["summary"]
print(f"model/src/server.rs: lines {summ['lines']['covered']}/{summ['lines']['count']}"
      f" ({summ['lines']['percent']:.1f}%), regions {summ['regions']['covered']}/"
      f"{summ['regions']['count']} ({summ['regions']['percent']:.1f}%)")
if have_branches:
    b = summ["branches"]
    print(f"llvm-cov's own branch count (per expansion): {b['covered']}/{b['count']} ({b['percent']:.1f}%)")
if not have_branches:
    print("(no branch figures: stable fallback)")
    sys.exit(0)

# The function a line belongs to: the last `fn` above it (the test modules excluded).
fns = []
for i, line in enumerate(src, 1):
    if line.startswith("#[cfg(test)]"):
        fns.append((i, None))
        break
    m = re.match(r"\s*(?:pub(?:\(crate\))? )?fn (\w+)", line)
    if m:
        fns.append((i, m.group(1)))
def fn_of(line):
    name = None
    for i, n in fns:
        if i <= line:
            name = n
    return name

# Branches merged over instantiations: (true count, false count) per condition.
counts = defaultdict(lambda: [0, 0])
for b in f["branches"]:
    counts[tuple(b[:4])][0] += b[4]
    counts[tuple(b[:4])][1] += b[5]

REQUEST = {"handle", "register", "challenge_answer", "decide", "decide_challenge", "challenge_timeout",
           "domain_controllers", "refresh", "release", "on_timer"}
# Branch outcomes no generated script reaches: (function, condition text, outcome) -> why.
# (Replication is scripted: the `replica` steps push partners' records, see
# conformance/src/generate/replica.rs.)
CONFIG = "configuration of the reference target"
UNREACHABLE = {
    ("register", "Some(oldest)", "false"): "defensive: a full special group (special_group_max > 0 members) always has an oldest member",
    ("release", "cfg.unknown_release_ok", "false"): CONFIG + ": it answers OK to a release of a name it does not hold (Windows, the AD DC); NAM_ERR is nmbd's answer, which the model gives only to replay nmbd's captures (RFC 1002 4.2.11 allows no NAM_ERR in a release response)",
    ("challenge_answer", "!cfg.match_challenge_ids", "true"): CONFIG + ": answers are matched to the challenge's transaction id; off only when `validate` replays another server's capture",
    ("challenge_timeout", "Some(pi)", "false"): "defensive: on_timer times out only pending challenges (the model's checker fires it at will)",
    ("touch", "self.journal.on", "false"): "the reference always keeps the journal (its database commits what changed); off in the model's checker",
    ("owner_versions", "self.next_version > 1", "false"): "the reference registers its own names at start, so its own version counter has moved before any map request",
    ("raise_known", "owner == self.me", "true"): "defensive: apply_pulled returns before it for the server's own records",
    ("challenge_for_replica", "Some(&a)", "false"): "defensive: a record the rules challenge is an active unique or multihomed one, which has an address",
    ("finish_replica_challenge", "Some(existing)", "false"): "defensive: a record is deleted only by scavenging a tombstone, and a challenged record is active",
    ("scavenge", "Some(mut rec)", "false"): "defensive: the timers scavenge the names whose records are due",
    ("scavenge", "rec.is_static", "true"): "static records never run out (the reference's own names; a partner's static replica is active, and active replicas do not age here)",
    ("scavenge", "rec.owner == me", "false"): "an active replica never runs out here: its owner replicates its end (a partner's tombstone, scripted, takes the tombstone arm)",
}
def why(fn, code, miss):
    for key in ((fn, code, miss), (fn, code, "*")):
        if key in UNREACHABLE:
            return UNREACHABLE[key]
    return None

per = defaultdict(lambda: [0, 0])
req = [0, 0]
reach = [0, 0]
missing = []
for (l, c, l2, c2), (t, fl) in sorted(counts.items()):
    fn = fn_of(l)
    if fn is None:
        continue
    code = (src[l - 1][c - 1:c2 - 1] if l2 == l else src[l - 1][c - 1:]).strip()
    taken = (t > 0) + (fl > 0)
    per[fn][0] += 2
    per[fn][1] += taken
    if fn in REQUEST:
        req[0] += 2
        req[1] += taken
    for side, n in (("true", t), ("false", fl)):
        reason = why(fn, code, side)
        if fn in REQUEST and reason is None:
            reach[0] += 1
            reach[1] += n > 0
        if n == 0:
            missing.append((l, c, fn, code, side, reason))

tot = sum(v[0] for v in per.values())
cov = sum(v[1] for v in per.values())
pct = lambda a, b: 100.0 * a / b if b else 100.0
print(f"branch outcomes taken, whole file:        {cov}/{tot} ({pct(cov, tot):.1f}%)")
print(f"  request handling ({', '.join(sorted(REQUEST))}): {req[1]}/{req[0]} ({pct(req[1], req[0]):.1f}%)")
print(f"  request handling a script can reach:      {reach[1]}/{reach[0]} ({pct(reach[1], reach[0]):.1f}%)")
print("per function (outcomes taken/outcomes):")
for fn, (n, c) in per.items():
    print(f"  {fn:28} {c:3}/{n:<3}{'' if fn in REQUEST else '  (not request handling)'}")
print("branch outcomes never taken:")
gaps = 0
for l, c, fn, code, side, reason in missing:
    if reason is None and fn in REQUEST:
        gaps += 1
        reason = "GAP: reachable from the wire, not generated"
    elif reason is None:
        reason = "GAP: not request handling, not generated"
    print(f"  model/src/server.rs:{l}:{c} {fn}: `{code}` never {side}: {reason}")
print(f"{gaps} reachable outcome(s) of request handling not covered")
EOF
