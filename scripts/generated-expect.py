#!/usr/bin/env python3
"""Writes conformance/expect/<kind>-generated.expect from a run of the generated
library (conformance/scripts-generated) against nmbd or the AD DC.

Usage: scripts/generated-expect.py nmbd|addc REPORT.json

Every failing script is put under the cause its first mismatch belongs to (the
table below: the request that failed, the mismatch, and who is right per the
protocol documents); a failure no cause matches is listed as UNTRIAGED, so a
new kind of disagreement is never hidden. Layout rules the strict check found
broken are copied from conformance/expect/<kind>.expect (the hand-written
library's file), which gives their reasons.
"""
import json
import re
import sys
from collections import defaultdict

LIB = "conformance/scripts-generated"

# (kinds, regex on "SEND || FAILING LINE || MISMATCH", observed piece, cause, reason)
CAUSES = [
    (("nmbd",), r"op=query .*expected 255\.255\.255\.255, got 0\.0\.0\.0", "expected 255.255.255.255, got 0.0.0.0",
     "normal group query answered 0.0.0.0",
     "nmbd answers a query for a normal group with 0.0.0.0; MS-WINSRA 2.2.10.1 "
     "(and Windows WINS, the AD DC, the reference) give 255.255.255.255."),
    (("nmbd",), r"op=release .*expected OK, got NAM_ERR", "expected OK, got NAM_ERR",
     "release of a name not held (unknown, released, or by a non-member) answered NAM_ERR",
     "RFC 1002 4.2.11 has no NAM_ERR for a release; Windows and the AD DC answer OK "
     "(smbtorture nbt.wins), as the reference does."),
    (("nmbd", "addc"), r"op=release .*expected ACT_ERR, got (NAM_ERR|OK)", "expected ACT_ERR, got",
     "release from a non-holder of an active name not refused with ACT_ERR",
     "RFC 1002 4.2.11: a release from a node that does not hold the name is refused "
     "with ACT_ERR (rule RFC1002-4.2.11-NONOWNER-ACT notes that an NBNS may accept it; "
     "the model refuses). The record is unchanged either way."),
    (("nmbd", "addc"), r"op=(register|refresh) [^|]*group.*no reply within", "no reply within",
     "group registration over a unique name: the target challenges the holder first",
     "Samba challenges the unique holder before refusing a group registration over it "
     "(the generated script does not answer that challenge, so the refusal comes after "
     "the challenge wait); the model refuses at once with ACT_ERR (RFC 1002 5.1.4)."),
    (("nmbd", "addc"), r"op=refresh [^|]*group.*expected ACT_ERR, got RFS_ERR", "expected ACT_ERR, got RFS_ERR",
     "group refresh of a unique name refused with RFS_ERR",
     "RFC 1002 4.2.4/5.1.4: a refresh that does not match the record (group flag) is a "
     "conflict: ACT_ERR; Samba answers RFS_ERR."),
    (("nmbd", "addc"), r"op=(register|multihomed|refresh)[^|]*<1c>.*expected ACT_ERR, got RFS_ERR", "expected ACT_ERR, got RFS_ERR",
     "unique or multihomed registration over an active <1C> group refused with RFS_ERR",
     "RFC 1002 5.1.4: a unique registration over an active group is refused with ACT_ERR; "
     "Samba answers RFS_ERR (as the hand-written library lists)."),
    (("nmbd", "addc"), r"op=refresh .*no challenge query reached", "no challenge query reached",
     "refresh of a unique name by a non-holder not challenged",
     "RFC 1002 5.1.4: a refresh from an address that does not hold the unique name is "
     "a registration: WACK and a challenge of the holder (Windows, the reference); Samba "
     "refuses at once."),
    (("nmbd",), r"op=multihomed .*(expected OK, got RFS_ERR|expected ACT_ERR, got OK)", "expected",
     "multihomed registration over a held name: nmbd's decision ignores the holder's answer",
     "nmbd grants a multihomed registration although the challenged holder still claims "
     "the name alone, and refuses it (RFS_ERR) when the holder lists the requester (the "
     "same host) or denies the name; MS-NBTE 3.2.5.3 and RFC 1002 5.1.4 decide by the "
     "holder's answer, as the model does."),
    (("nmbd", "addc"), r"op=multihomed .*no challenge query reached", "no challenge query reached",
     "multihomed registration over a multihomed name: the target does not challenge",
     "RFC 1002 5.1.4, MS-NBTE 3.2.5.3: a registration of a name held by other addresses "
     "challenges the holders; Samba adds or refuses without a challenge."),
    (("nmbd", "addc"), r"op=register .*no challenge query reached", "no challenge query reached",
     "registration over a multihomed name held by several addresses: not every holder challenged",
     "RFC 1002 5.1.4: every address holding the name is challenged (the model queries "
     "each); Samba challenges only some."),
    (("nmbd", "addc"), r"op=query [^|]*<1c>.*addresses: expected ([0-9.,]+), got \1,", "addresses: expected",
     "group refresh of a <1C> name by a non-member adds the member",
     "nmbd treats a group refresh from a non-member of a <1C> group as a registration "
     "and adds the address; the model acknowledges the refresh without adding it. "
     "Reported as a question for the model (MS-NBTE 3.2.5.1 does not say)."),
    (("addc",), r"op=(register|multihomed|refresh) name=\{N\}<1c>.*expected OK, got RFS_ERR", "expected OK, got RFS_ERR",
     "<1C> registered as a unique or multihomed name (or refreshed unique) refused with RFS_ERR",
     "Windows WINS and the AD DC refuse a unique <1C> (IMPL-1C-UNIQUE-REFUSED); the "
     "model grants it. The model is the one off Windows policy here (a known gap of the "
     "reference, see README: not fixed); RFC 1002 has no such rule."),
    (("addc",), r"op=(register|multihomed|refresh) name=\{N\}<00>.*expected OK, got ACT_ERR", "expected OK, got ACT_ERR",
     "unique registration over a released normal group refused with ACT_ERR",
     "The AD DC keeps a released normal group in force (it still answers it, as "
     "MS-WINSRA 2.2.10.1 asks) and refuses a unique registration of its name; RFC 1002 "
     "5.1.4 (a released name is free) and the model grant it."),
    (("nmbd",), r"op=query name=\{N\}<1d>.*expected NAM_ERR, got OK", "expected NAM_ERR, got OK",
     "<1D> registered as a group stored and answered",
     "nmbd stores a group <1D> and answers queries for it; Windows WINS and the AD DC "
     "acknowledge a <1D> registration without storing it and never answer it "
     "(IMPL-1D-GROUP-NOT-STORED, IMPL-1D-QUERY-NEGATIVE), as the model does."),
    (("nmbd",), r"op=query .*expected OK, got NAM_ERR", "expected OK, got NAM_ERR",
     "one NIC's release drops a whole multihomed record",
     "nmbd drops every address of a multihomed record when one NIC releases "
     "(KB Q184832's bug in reverse); MS-NBTE 3.2.5.3 removes only that address."),
]


def mismatch(s):
    m = s.get("mismatch") or s.get("message") or s.get("detail") or ""
    m = re.sub(r"[0-9A-Z]{5}GEN", "NAME", m)
    return re.sub(r"within \d+s", "within", m)


def main():
    kind, report = sys.argv[1], sys.argv[2]
    rep = json.load(open(report))
    groups = defaultdict(list)
    rules = set()
    for s in rep["scripts"]:
        for v in s.get("violations", []):
            rules.add(v["rule"])
        if s["verdict"] == "violation":
            rules.add(s["rule"])
            continue
        if s["verdict"] in ("pass", "violation"):
            continue
        lines = open(f"{LIB}/{s['script']}.nbt").read().split("\n")
        ln = s.get("line") or 0
        sent = [l for l in lines[: max(ln - 1, 0)] if l.startswith("send")]
        key = " ".join((sent[-1] if sent else "") .split()) + " || " + " ".join(
            (lines[ln - 1] if ln else "").split()) + " || " + mismatch(s)
        for kinds, rx, observed, cause, reason in CAUSES:
            if kind in kinds and re.search(rx, key):
                groups[(cause, reason)].append((s["script"], observed))
                break
        else:
            groups[("UNTRIAGED: " + mismatch(s), "not triaged yet")].append((s["script"], mismatch(s)))
    out = [f"# Known deviations of {'Samba nmbd' if kind == 'nmbd' else 'the Samba AD DC'} from the",
           "# generated library (conformance/scripts-generated), grouped by cause.",
           f"# Written by scripts/generated-expect.py {kind} from a run's JSON report;",
           "# the causes and reasons are its table.", ""]
    hand = open(f"conformance/expect/{kind}.expect").read()
    for rule in sorted(rules):
        m = re.search(rf"^rule {re.escape(rule)}\n((?:[ \t]+.*\n?)+)", hand, re.M)
        if m:
            out.append(f"rule {rule}\n{m.group(1).rstrip()}")
        else:
            out.append(f"rule {rule}\n    reason: UNTRIAGED: broken in the generated library only")
        out.append("")
    for (cause, reason), scripts in sorted(groups.items(), key=lambda g: -len(g[1])):
        out.append(f"# ---- {cause} ({len(scripts)} scripts)")
        for name, observed in sorted(scripts):
            out.append(name)
            out.append(f"    observed: {observed}")
            out.append(f"    reason: {reason}")
        out.append("")
    open(f"conformance/expect/{kind}-generated.expect", "w").write("\n".join(out))
    for (cause, _), scripts in sorted(groups.items(), key=lambda g: -len(g[1])):
        print(f"{len(scripts):5}  {cause}")
    print("rules:", " ".join(sorted(rules)))


main()
