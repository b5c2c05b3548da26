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

# A stray answer (the runner's `challenge stray=`) taken as the holder's: see CAUSES.
STRAY_CAUSE = "an answer with the challenge's transaction id from an address not asked counts as the holder's claim"

# A unique holder registering its own name as a group while its address is registered
# again (nmbd and the AD DC alike).
OWN_GROUP_CAUSE = ("the unique holder's own group registration, its address registered again "
                   "meanwhile: Samba grants the group")
OWN_GROUP_REASON = (
    "A unique holder registering its name as a group is challenged like anyone (the AD DC "
    "challenges every holder address, the requester's too); when another client "
    "registers the holder's address (unique) during that challenge, the model takes it "
    "as the holder's claim (as for a holder's own re-registration: its later NAM_ERR no "
    "longer counts) and refuses the group with ACT_ERR; Samba refreshes the unique "
    "record and then decides by the challenge answer alone, granting the group (nmbd "
    "after its own challenge of about 21 s, beyond the script's wait). RFC 1002 5.1.4 "
    "does not order the two.")

# (kinds, regex on "TITLE || SEND || FAILING LINE || MISMATCH", observed piece, cause, reason):
# TITLE is the script's story (its title after "Model path N:"), SEND the request the failing
# line is about (the last one of the client it names), the failing line with its whitespace
# collapsed, and the first mismatch with names and wait times made generic. The first cause
# that matches wins.
CAUSES = [
    # First: the stray answer (the runner's `challenge stray=`) decides these scripts' fate
    # on both servers; other causes' regexes would match their mismatch too.
    (("nmbd", "addc"), r"answers the challenge unasked, client\d (answers negatively|stays silent|claims with the requester.s address) \|\|.*\|\| (rcode: expected OK, got ACT_ERR|addresses: expected)", "expected",
     STRAY_CAUSE,
     "Samba (nmbd, and the AD DC's nbtd) matches the answers to its challenge query by "
     "transaction id alone, not by the address it asked: a positive answer from another "
     "host carrying the query's id (the runner's `challenge stray=`) defends the name for "
     "the holder, who then denies or stays silent, so the requester is refused (or a "
     "multihomed requester's address is added to the holder's). The same scripts passed "
     "with the unasked answer carrying an id of its own. The model counts only answers from "
     "the challenged addresses: RFC 1002 5.1.4 has the NBNS query the owner and decide by "
     "the owner's answer; a host that sees or guesses the id could otherwise keep any name."),
    # Names that run out (the generator's timer scripts, `t00/` and `t1c/`: registered with
    # a TTL of 2 s, then the script waits).
    (("nmbd",), r"\d+ s pass.*\|\| rcode: expected NAM_ERR, got OK$", "expected NAM_ERR, got OK",
     "a name registered with a TTL of 2 s still resolves seconds later",
     "nmbd raises every TTL to its `min wins ttl` (6 hours: the answers carry ttl=21600), "
     "so a name registered for 2 s does not run out while the script waits; the model "
     "grants the TTL asked (the embedded target's smallest is 1 s) and releases the name "
     "when it runs out (RFC 1002 5.1.4, RFC1002-5.1.4-TTL-EXPIRY)."),
    (("addc",), r"\d+ s pass.*\|\| rcode: expected NAM_ERR, got OK$", "expected NAM_ERR, got OK",
     "a name whose TTL ran out still resolves until the periodic scavenging",
     "The AD DC grants the 2 s asked (its registration answer carries ttl=2) but goes on "
     "answering the record as active after it has run out: its records are released by the WINS "
     "replication service's periodic scavenging of expired records (wreplsrv, minutes "
     "apart), not when their TTL ends; the model releases a name when its TTL runs out "
     "(RFC 1002 5.1.4: a name not refreshed in time is silently released)."),
    # Replication (the `replica` steps: the runner pushes a record as the target's WINS
    # replication partner; the titles say "partnerN pushes").
    (("nmbd",), r"\|\| replica push: no replication session", "replica push: no replication session",
     "nmbd has no WINS replication: the runner's push finds no TCP 42",
     "nmbd serves NBNS only; Samba's WINS replication (MS-WINSRA, TCP 42) is the AD DC's "
     "wrepl server. The script's replica step, an update notification from the runner as "
     "the target's replication partner, is refused at connect, so nothing of the script "
     "after it can be judged."),
    (("addc",), r"^partner\d pushes static ", "expected OK, got NAM_ERR",
     "a static replica (S flag set) is not stored",
     "The AD DC pulls the record after the update notification but does not store a "
     "replica with the static flag set (the name stays unknown: NAM_ERR; the reference "
     "found its database refuses such a record and fails the whole send-entries reply). "
     "MS-WINSRA 2.2.10.1 carries S in replicated name records (static mappings "
     "replicate), and 3.2.5.5 only keeps a stored static record against a dynamic "
     "replica (WINSRA-3.2.5.5-STATIC-KEPT); nothing refuses an incoming one: the model "
     "stores it like any replica."),
    (("addc",), r"client\d releases during the challenge, client\d (Claim|Stray).*\|\| (rcode: expected OK, got NAM_ERR|addresses: expected)", "expected",
     "the holder releases during the replica challenge, then claims: the AD DC keeps what the release left",
     "Samba's replica challenge (r_do_challenge_handler) decides by the holder's claim "
     "against the record as it was when the challenge started: a claim keeps the local "
     "record, which the holder's release changed meanwhile (released, or a multihomed "
     "record without that address), and the replica is dropped. The model runs the "
     "MS-WINSRA 3.2.5.5 rules again against the record as it is when the answer comes: a "
     "released record is replaced by an active replica (WINSRA-3.2.5.5-INACTIVE-REPLACED), "
     "an owned one whose addresses the replica all lists too "
     "(WINSRA-3.2.5.5-OWNED-SUBSET), so the replica's addresses resolve."),
    (("addc",), r"SpecialGroup [^;]*192\.0\.2\.34.*\|\| addresses: expected", "addresses: expected",
     "a special group merge past the 25-member limit: other members kept",
     "When a merge of two special groups gives more than 25 members, the AD DC "
     "(r_do_sgroup_merge: the stored members first, then the replica's, the list "
     "capped) keeps the target's own member and drops one of the partner's; the model "
     "keeps the replica's members with their owners first and fills up with the stored "
     "ones not owned by the replica's owner, so a stored member is the one left out "
     "(WINSRA-3.2.5.5-SGROUP-MERGE says the union; MS-NBTE 3.2.5.1's limit of 25 orders "
     "registrations only, the oldest member goes; no document orders a merge past the "
     "limit)."),
    (("addc",), r"pushes Tombstone [^;]*; client\d waits.*\|\| rcode: expected NAM_ERR, got OK", "expected NAM_ERR, got OK",
     "a partner's tombstone normal group is still answered after its extinction timeout",
     "The AD DC deletes records at its periodic scavenging (wreplsrv, minutes apart), not "
     "when their time runs out, and answers a normal group in any state until then. The "
     "model deletes a tombstone when its extinction timeout ends (the embedded target's "
     "4 s; MS-WINSRA 3.1.6, WINSRA-3.1.6-TOMBSTONE-DELETED), and the name is unknown."),
    (("addc",), r"client\d registers unique during the challenge.*\|\| no reply within", "no reply within",
     "a registration while the target's replica challenge for the name runs: no answer in the wait",
     "The AD DC's replica challenge runs beside its NBNS service (an IRPC to nbtd), so a "
     "registration arriving meanwhile is handled on its own: challenged in its turn, with "
     "no final answer within the script's 3 s. The model refuses it at once with RFS_ERR "
     "while the name's fate is being decided, as it does a second registrant during a "
     "registration's challenge; RFC 1002 5.1.4 and MS-WINSRA say nothing of requests "
     "arriving during a replica's challenge."),
    (("addc",), r"client\d registers (unique|multihomed), partner\d pushes .* during the challenge.*\|\| rcode: expected OK, got ACT_ERR", "expected OK, got ACT_ERR",
     "a replica arrives while a registration's challenge runs; the holder denies: the AD DC refuses the registrant",
     "The AD DC refuses the registration (ACT_ERR) when the record changed while its "
     "challenge ran (here by the replica: replaced, or kept and re-versioned), whatever "
     "the challenged holder answered. The model decides by the answers against the record "
     "as it is then: the holder's NAM_ERR frees the name of the addresses it challenged, "
     "and the requester gets it (RFC 1002 5.1.4; a record another address holds now is "
     "refused, which is not the case here)."),
    (("addc",), r"registers (unique|multihomed), partner\d pushes .* during the challenge.*\|\| addresses: expected", "addresses: expected",
     "a replica during a registration's challenge of a two-address record: the AD DC asks the holders one at a time",
     "The AD DC challenges a multihomed record's holders one at a time and stops at the "
     "first claim (the same as without a replica: 'registration over a multihomed name "
     "held by several addresses'), so the address of a holder that denies keeps its place; "
     "the model challenges every holder (RFC 1002 5.1.4, MS-NBTE 3.2.5.3) and keeps only "
     "the ones still claiming."),
    (("addc",), r"listing the target as an owner.*\|\| replica push: the target pulled its own records", "the target pulled its own records",
     "a partner lists the target as an owner at a higher version: the AD DC pulls its own records back",
     "After an update notification whose owner-version map lists the AD DC's own address "
     "(as a partner that pulled its records does) at a version above its own counter, the "
     "AD DC asks the partner for its own records from its counter + 1 up: records of its "
     "ownership with versions it never gave. Samba's pull cycle means to skip its own "
     "address ('we don't want replicate ourself', wreplsrv_pull_cycle_next_owner_do_work) "
     "but tests whether the owner is in the partner's table, which it is here. The owner "
     "alone gives its records' versions (MS-WINSRA 3.1.1.2), so its own records are always "
     "current (WINSRA-3.2.5.1-NO-REQUEST-IF-CURRENT): the model's pull skips its own "
     "address, as the reference does."),
    # Requests while a challenge runs (the generator's `during-challenge` scripts).

    (("nmbd",), r"client\d registers unique, client\d (answers negatively|stays silent) \|\| .* \|\| expect to=client\d rcode=ACT_ERR op=register timeout=\d+s \|\| no reply within", "no reply within",
     "a registrant that waited for another's challenge gets no final answer in time",
     "nmbd runs a WACK and a challenge of its own for a registration that arrives while "
     "another's challenge for the name runs, and sends it no final answer within the "
     "script's 15 s; the model (like the AD DC, wins_register_wack then \"record changed "
     "during WACK\") refuses it with ACT_ERR once the name's fate is decided. RFC 1002 5.1.4 "
     "says nothing of concurrent registrations."),
    (("nmbd", "addc"), r"client\d releases, client\d claims.*(expected OK, got ACT_ERR|addresses: expected)", "expected",
     "a holder that released the name during the challenge and then claims it: the claim decides",
     "Samba decides by the challenged holder's answer against the record as it was when the "
     "challenge started, so a holder that released the name meanwhile and then claims it keeps "
     "it (or, listing the requester, is merged with it); the model decides against the "
     "database when the answers are in: a released name is free (RFC 1002 5.1.4: a "
     "registration of a released name is granted) and the requester gets it alone."),
    (("nmbd", "addc"), r"client\d registers unique again, .*expected ACT_ERR, got OK", "expected ACT_ERR, got OK",
     "a challenged holder registers the name again during the challenge, then denies or stays silent: Samba grants the requester",
     "Samba decides by the challenge answer alone and takes the holder's registration as a "
     "refresh; the model takes a challenged holder's registration during the challenge as "
     "its claim (it holds the name now; a later or late NAM_ERR no longer counts) and "
     "refuses the requester with ACT_ERR (RFC 1002 5.1.4: the holder still claims the "
     "name). RFC 1002 does not order the two; the model's choice keeps a holder that just "
     "re-registered."),
    (("nmbd",), r"client\d registers unique again, .*expected ACT_ERR, got RFS_ERR", "expected ACT_ERR, got RFS_ERR",
     "a challenged holder registers a multihomed-requested name again during the challenge, then denies: nmbd refuses with RFS_ERR",
     "nmbd decides a multihomed registration without regard to the holder (see the multihomed "
     "cause) and answers RFS_ERR; the model takes the holder's registration during the "
     "challenge as its claim and refuses with ACT_ERR (RFC 1002 5.1.4: ACT_ERR while the "
     "holder claims the name)."),
    (("nmbd",), r"client\d registers unique again, client\d stays silent.*no reply within", "no reply within",
     "a challenged holder registers the name again during the challenge, then stays silent: nmbd answers after its own challenge",
     "nmbd takes the holder's registration as a refresh and decides by its challenge, which "
     "a silent holder makes last about 21 s, past the script's 15 s; the model takes the "
     "registration as the holder's claim and refuses the requester at once with ACT_ERR."),
    (("nmbd",), r"(sends its request again|sends it again).*expect-none to=client\d within=1s \|\| a packet arrived where none", "a packet arrived where none was expected",
     "a retransmitted registration during its challenge gets a second WACK",
     "nmbd answers a retransmission (same source, same transaction id) during the challenge "
     "with a second WACK, as the hand-written registration/retransmit-during-challenge "
     "lists; RFC 1002 4.2.1.1 and 4.2.16: a retransmission is the same request, one WACK "
     "and one final answer."),
    (("nmbd", "addc"), r"op=release name=\{target_name\}<00> \|\| .*expected RFS_ERR, got (OK|NAM_ERR)", "expected RFS_ERR, got",
     "a client's release of the server's own name is not refused",
     "The reference holds its own names as static records and refuses their release with "
     "RFS_ERR (RFC 1002 4.2.10: RFS_ERR, the server will not release the name for policy "
     "reasons). The AD DC answers OK and nmbd NAM_ERR (its own names are not in its WINS "
     "database); the name resolves to the server either way."),
    (("nmbd",), r"op=(register|refresh) name=\{target_name\}<00> group \|\| .*expected ACT_ERR, got OK", "expected ACT_ERR, got OK",
     "a group registration or group refresh of the server's own unique name granted",
     "nmbd keeps its own names out of its WINS database (it registers them by broadcast), "
     "so a group registration of its unique <00> name finds no record and is granted; "
     "RFC 1002 5.1.4: a group registration over an active unique name is refused while "
     "the holder (here the server itself) holds it, as the reference and the AD DC do."),
    (("nmbd",), r"op=(register|multihomed|refresh) name=\{N\}<1c>.*expected RFS_ERR, got OK", "expected RFS_ERR, got OK",
     "<1C> registered as a unique or multihomed name (or refreshed unique) granted",
     "Windows WINS and the AD DC refuse a unique <1C> with RFS_ERR (IMPL-1C-UNIQUE-REFUSED; "
     "Samba's nbtd_winsserver_register: \"w2k3 refuses 0x1C names with out marked as group\"), "
     "as the model does; nmbd has no such policy, as the hand-written "
     "registration/type-1c-unique-refused lists."),
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
    (("nmbd", "addc"), r"client(\d) (registers|refreshes) group, client\d registers the requester's address, client\1 (answers negatively|stays silent) .*expected ACT_ERR, got OK", "expected ACT_ERR, got OK",
     OWN_GROUP_CAUSE, OWN_GROUP_REASON),
    (("nmbd",), r"client(\d) (registers|refreshes) group, client\d registers the requester's address, client\1 stays silent .*no reply within", "no reply within",
     OWN_GROUP_CAUSE, OWN_GROUP_REASON),
    (("nmbd",), r"client(\d) claims with the requester's address; client\1 registers unique \|\| .*no reply within", "no reply within",
     "a unique registration by one address of a multihomed record: nmbd challenges the others first",
     "nmbd challenges a multihomed record's other addresses before answering a unique "
     "registration from one of its addresses, and answers after about 21 s, beyond the "
     "script's wait; the model takes a registration from an address the record holds as "
     "its refresh and answers at once (RFC 1002 5.1.4: the registrant holds the name), as "
     "the AD DC does (wins_update_ttl)."),
    (("nmbd",), r"op=refresh [^|]*\bgroup\b.*(no challenge query reached|no WACK within)", "no",
     "group refresh of a unique name refused with RFS_ERR, not challenged",
     "nmbd refuses a group refresh of an active unique name with RFS_ERR at once; the "
     "model handles it as the group registration it amounts to, a WACK and a challenge of "
     "the holder (RFC 1002 5.1.4, RFC1002-5.1.4-GROUP-OVER-UNIQUE: refused only if the holder "
     "still claims the name), as the AD DC does (nbtd_winsserver_register takes refreshes "
     "as registrations)."),
    (("nmbd", "addc"), r"op=refresh .*(no challenge query reached|no WACK within)", "no",
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
    (("addc",), r"(group; .*(releases|s pass)|Tombstone Group)[^|]*\|\| .*op=(register|multihomed|refresh) name=\{N\}<00>.*expected OK, got ACT_ERR", "expected OK, got ACT_ERR",
     "unique registration over a released normal group refused with ACT_ERR",
     "The AD DC keeps a released normal group in force (it still answers it, as "
     "MS-WINSRA 2.2.10.1 asks) and refuses a unique registration of its name; RFC 1002 "
     "5.1.4 (a released name is free) and the model grant it."),
    (("nmbd",), r"op=query name=\{N\}<1d>.*expected NAM_ERR, got OK", "expected NAM_ERR, got OK",
     "<1D> registered as a group stored and answered",
     "nmbd stores a group <1D> and answers queries for it; Windows WINS and the AD DC "
     "acknowledge a <1D> registration without storing it and never answer it "
     "(IMPL-1D-GROUP-NOT-STORED, IMPL-1D-QUERY-NEGATIVE), as the model does."),
    # `<1C>` answers and the `<1B>` holder (the generator's n1c/pdc-* scripts).
    (("nmbd",), r"<1C> query.*\|\| first address: expected", "first address: expected",
     "a <1C> answer does not list the <1B> holder first",
     "nmbd answers a <1C> query with the special group's members alone; Windows WINS "
     "(Prepend1BTo1CQueries, on by default) and the AD DC (nbtd:wins_prepend1Bto1Cqueries) "
     "put the address of the active <1B> first (IMPL-1C-PREPEND-1B), as the model does."),
    (("addc",), r"with 25 members, the <1B> holder first.*\|\| addresses: expected", "addresses: expected",
     "a full <1C> answer with the <1B> holder: the AD DC leaves out the oldest member",
     "With a <1B> holder that is not a member and 25 members, 26 addresses compete for 25 "
     "places: the AD DC lists the members newest first and leaves out the oldest (the "
     "script registers it 2 s before the others), the model keeps its members in address "
     "order and leaves out the last. MS-NBTE 3.2.1 and Prepend1BTo1CQueries say 25 at most "
     "with the <1B> holder first, both do that; which member gives way is not specified."),
    (("addc",), r"a released <1B> is not listed.*\|\| addresses: expected", "addresses: expected",
     "a released <1B>'s address is still put first in a <1C> answer",
     "The AD DC takes the <1B> record in any state when it prepends its address "
     "(nbtd_winsserver_query), so a PDC that released its <1B> is still handed out first; "
     "the model lists only an active <1B> holder (a released name's address is no longer "
     "the name's, RFC 1002 5.1.4; Windows documents Prepend1BTo1CQueries for the PDC's "
     "registered name)."),
    (("nmbd",), r"op=query .*expected OK, got NAM_ERR", "expected OK, got NAM_ERR",
     "one NIC's release drops a whole multihomed record",
     "nmbd drops every address of a multihomed record when one NIC releases "
     "(KB Q184832's bug in reverse); MS-NBTE 3.2.5.3 removes only that address."),
]


# Scripts whose target answers depend on timing from one step on: (kind, test on the
# script's text) -> (what the reason adds). The entry lists `observed: (timing from line N)`
# with N the line of the script's first `replica` step: a failure before it still counts.
REPLICA_DURING_CHALLENGE = re.compile(r"^# .*\| during replica ", re.M)
TIMING = {
    # A partner's replica pushed while a registration's challenge runs (the AD DC's
    # wrepl_server task applies it, its nbtd task decides the challenge; a third CI run saw
    # rep/r00-d3-0380 fail otherwise than listed).
    "addc": (REPLICA_DURING_CHALLENGE,
             "From the replica on, the AD DC's answers depend on timing: its replication task "
             "applies the pulled replica while its NBT task runs the registration's challenge, "
             "and the NBT task refuses the registration when the record changed before its "
             "decision (Samba's wins_wack_allow), so which comes first varies between runs "
             "(seen: rep/r00-d3-0360 passed in one CI run, rep/r00-d3-0361 failed in another). "
             "MS-WINSRA and RFC 1002 do not order the two; the model applies a replica when it "
             "is pulled."),
}
# The group of the timing-dependent scripts that passed in the run the file is written from.
TIMING_PASSED = "timing-dependent from the replica on, passed in this run"
RACE_CAUSES = {
    # nmbd takes the first answer its response record gets (find_response_record matches
    # the transaction id alone), normally the stray, sent first.
    ("nmbd", STRAY_CAUSE): (
        "violates RFC1002-4.2.16-RR-TYPE",
        "By timing nmbd may take the holder's answer first (one of the 24 scripts in one of "
        "three runs), and the script then passes but for nmbd's WACK layout, a listed rule."),
}


def timing_line(kind, text):
    """The line from which a script's answers on `kind` depend on timing, or None."""
    if kind not in TIMING or not TIMING[kind][0].search(text):
        return None
    return next(i for i, l in enumerate(text.split("\n"), 1) if l.startswith("replica"))


def mismatch(s):
    m = s.get("mismatch") or s.get("message") or s.get("detail") or ""
    m = re.sub(r"[0-9A-Z]{5}GEN", "NAME", m)
    return re.sub(r"within \d+s", "within", m)


def main():
    kind, report = sys.argv[1], sys.argv[2]
    rep = json.load(open(report))
    groups = defaultdict(list)
    rules = set()
    timing = {}  # script -> the line its timing-dependent answers start at
    for s in rep["scripts"]:
        for v in s.get("violations", []):
            rules.add(v["rule"])
        if s["verdict"] == "violation":
            rules.add(s["rule"])
            continue
        text = open(f"{LIB}/{s['script']}.nbt").read()
        from_line = timing_line(kind, text)
        if from_line:
            timing[s["script"]] = from_line
        if s["verdict"] == "pass":
            if from_line:
                groups[(TIMING_PASSED, TIMING[kind][1])].append((s["script"], None))
            continue
        lines = text.split("\n")
        ln = s.get("line") or 0
        failing = " ".join((lines[ln - 1] if ln else "").split())
        sent = [l for l in lines[: max(ln - 1, 0)] if l.startswith("send")]
        # The request the failing line is about: the last one of the client it names
        # (`to=`, or `after=` for a challenge), else the last one sent.
        who = re.search(r"\b(?:to|after)=(client\d)", failing if failing.startswith(("expect", "challenge")) else "")
        if who and failing.startswith("challenge"):
            who = re.search(r"\bafter=(client\d)", failing)
        if who:
            mine = [l for l in sent if re.search(rf"\bfrom={who.group(1)}\b", l)
                    or (who.group(1) == "client1" and "from=" not in l)]
            sent = mine or sent
        title = lines[0].split(":", 1)[-1].strip()
        key = title + " || " + " ".join((sent[-1] if sent else "").split()) + " || " + failing + " || " + mismatch(s)
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
            if observed is not None:
                out.append(f"    observed: {observed}")
            race = RACE_CAUSES.get((kind, cause))
            if race:
                out.append(f"    observed: {race[0]}")
            from_line = timing.get(name)
            if from_line:
                out.append(f"    observed: (timing from line {from_line})")
            more = race[1] if race else TIMING[kind][1] if from_line and cause != TIMING_PASSED else ""
            out.append(f"    reason: {reason}" + (f" {more}" if more else ""))
        out.append("")
    open(f"conformance/expect/{kind}-generated.expect", "w").write("\n".join(out))
    for (cause, _), scripts in sorted(groups.items(), key=lambda g: -len(g[1])):
        print(f"{len(scripts):5}  {cause}")
    used = {c for c, _ in groups}
    for kinds, _, _, cause, _ in CAUSES:
        if kind in kinds and cause not in used:
            print(f"    0  {cause} (no failure of this run)")
    print("rules:", " ".join(sorted(rules)))


main()
