//! Replica steps of the generator: the runner, as one of the target's WINS replication
//! partners, pushes a record for the script's name (the `replica` step), which the model's
//! server takes as [`nbns_model::replication::apply_pulled`] (the call the reference target
//! makes when it pulls after an update notification) by the conflict rules of MS-WINSRA
//! 3.2.5.5 (after Samba's `wrepl_apply_records.c`).
//!
//! Paths: a prefix of at most two client steps that leaves a record the target owns (none; a
//! unique, group or multihomed registration; a multihomed record of two clients; a special
//! group of one or two members), then a replica from a small alphabet (owner partner1 or
//! partner2, every kind and state a partner sends, addresses of clients and of another
//! host, static or not, a special group's members with owners of their own), with, when the
//! rules make the server challenge its own record's holders, every sequence of their answers
//! (claim, claim listing the replica's addresses, claim listing both records' addresses,
//! release, silence: the next holder is asked), then at most one more step: another replica
//! or a client's request (which meets the replica: refresh and re-registration take it
//! over, MS-WINSRA 3.1.1.2). A client3 query after every step shows the record. Paths are
//! kept, shortest first, when their signature (per step: the action and the relations of
//! its addresses and owners to the record, the conflict decision, every packet sent, the
//! record after it with its owners) is new, as for the client paths of the parent module.

use super::*;
use nbns_model::conflict::ConflictCase;
use nbns_model::proto::Time;
use nbns_model::record::Record;

/// Model addresses of the runner's partners (`partner1`, `partner2`): the owners of replicas.
const P1: u8 = 201;
const P2: u8 = 202;
/// Another host (not a runner client): written 192.0.2.10.
const OTHER: u8 = FIRST_OTHER;

/// A replica the runner pushes: owner, kind, state, `(address, owner)` pairs, static.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Rep {
    owner: u8,
    kind: Kind,
    state: RecState,
    addrs: Vec<(u8, u8)>,
    is_static: bool,
}

/// A challenged holder's answer to the server's replica challenge.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum RAnswer {
    /// Claims, listing its own address.
    Claim,
    /// Claims, listing its own address and the replica's.
    ClaimReplica,
    /// Claims, listing the addresses of both records.
    ClaimBoth,
    Release,
    Silent,
}

/// One step of a replica path.
#[derive(Debug, Clone)]
enum RStep {
    /// A client's request, as in the parent module (with the record's owner before and
    /// after it, which the client signature leaves out).
    Client(Box<Done>, Owned, Owned),
    Replica(Box<RDone>),
}

/// A record as the signature sees it: owner (relative), static, kind, state, addresses
/// with their owners (relative).
type Owned = Option<String>;

#[derive(Debug, Clone)]
struct RDone {
    rep: Rep,
    /// The holders asked, in order, and their answers.
    answers: Vec<(u8, RAnswer)>,
    out: Out,
    decision: String,
    /// The record's addresses before the step.
    before_addrs: Vec<u8>,
    before: Owned,
    after: Owned,
    query: Send<u8, u8>,
    /// The last holder asked stayed silent: the decision comes at the challenge timeout.
    timed_out: bool,
}

fn partner_text(p: u8) -> &'static str {
    if p == P1 {
        "partner1"
    } else {
        "partner2"
    }
}

fn owner_rel(me: u8, rec_owner: u8, o: u8, rep_owner: Option<u8>) -> &'static str {
    if o == me {
        "me"
    } else if Some(o) == rep_owner {
        "rep"
    } else if o == rec_owner {
        "rec"
    } else {
        "other"
    }
}

/// The record for `name` as the signature sees it; owners relative to the server and
/// `rep_owner` (the replica's owner, when the step is a replica).
fn owned(s: &S, name: u8, rep_owner: Option<u8>) -> Owned {
    s.record(&name).map(|r| {
        let addrs: Vec<String> = r
            .addr_owners()
            .map(|(a, o)| {
                format!(
                    "{}@{}",
                    if a <= 3 { "c" } else { "x" },
                    owner_rel(ME, r.owner, o, rep_owner)
                )
            })
            .collect();
        format!(
            "{:?}/{:?}{}/{}[{}]",
            r.kind,
            r.state,
            if r.is_static { "/static" } else { "" },
            owner_rel(ME, r.owner, r.owner, rep_owner),
            addrs.join(",")
        )
    })
}

fn model_record(name: u8, rep: &Rep, version: u64, cfg: &ServerConfig) -> Record<u8, u8> {
    let mut r = Record {
        name,
        kind: rep.kind,
        state: rep.state,
        is_static: rep.is_static,
        node: NodeType::H,
        addrs: Default::default(),
        other_owners: Default::default(),
        member_expiry: Default::default(),
        owner: rep.owner,
        version,
        // As the reference takes a replica (reference/src/replication/records.rs).
        expires: match rep.state {
            RecState::Active => Time::MAX,
            RecState::Released => Time::from(cfg.tombstone_interval),
            RecState::Tombstone => Time::from(cfg.tombstone_timeout),
        },
    };
    r.set_addr_owners(rep.addrs.iter().copied());
    r
}

fn query(s: &mut S, cfg: &ServerConfig, name: u8) -> Send<u8, u8> {
    let mut q = Vec::new();
    s.handle(
        cfg,
        0,
        OBSERVER,
        3,
        Packet::Query {
            name,
            broadcast: false,
        },
        &mut q,
    );
    q.remove(0)
}

/// The address the server's last challenge query went to.
fn asked(out: &Out) -> Option<u8> {
    out.iter()
        .rev()
        .find(|s| matches!(s.packet, Packet::Query { .. }))
        .map(|s| s.to)
}

/// Pushes `rep` (version `version`) into `s` and feeds `answers` to the challenge it starts,
/// in order. None when the answers do not fit the challenge (too few, too many, or a
/// challenge of an address the runner cannot answer from).
fn apply_replica(
    s: &mut S,
    cfg: &ServerConfig,
    name: u8,
    rep: &Rep,
    version: u64,
    answers: &[RAnswer],
) -> Option<RDone> {
    let before = owned(s, name, Some(rep.owner));
    let before_addrs: Vec<u8> = s
        .record(&name)
        .map(|r| r.addrs.iter().copied().collect())
        .unwrap_or_default();
    let rec = model_record(name, rep, version, cfg);
    let decision = match s.record(&name) {
        None => "inserted".to_string(),
        Some(e) => format!(
            "{:?}",
            nbns_model::conflict::decide(cfg.bugs, ConflictCase::of(ME, e, &rec))
        ),
    };
    let mut out = Vec::new();
    nbns_model::replication::apply_pulled(s, cfg, 0, rep.owner, version, vec![rec], &mut out);
    let mut done = Vec::new();
    let mut timed_out = false;
    let mut rest = answers.iter();
    while let Some(p) = s.pending_for(&name) {
        let qxid = p.qxid;
        let to = asked(&out)?;
        if to > 3 {
            return None;
        }
        let &a = rest.next()?;
        done.push((to, a));
        let listed = |mut v: Vec<u8>| {
            v.push(to);
            v.sort();
            v.dedup();
            v
        };
        let existing: Vec<u8> = s
            .record(&name)
            .map(|r| r.addrs.iter().copied().collect())
            .unwrap_or_default();
        let replica: Vec<u8> = rep.addrs.iter().map(|p| p.0).collect();
        let (rcode, addrs) = match a {
            RAnswer::Claim => (Rcode::Ok, vec![to]),
            RAnswer::ClaimReplica => (Rcode::Ok, listed(replica)),
            RAnswer::ClaimBoth => (Rcode::Ok, listed([existing, replica].concat())),
            RAnswer::Release => (Rcode::NamErr, vec![]),
            RAnswer::Silent => {
                timed_out = true;
                s.challenge_timeout(cfg, 0, &name, &mut out);
                continue;
            }
        };
        timed_out = false;
        let resp = Packet::Response {
            op: Opcode::Query,
            name,
            rcode,
            ttl: TTL,
            group: false,
            addrs: AddrList::from(addrs),
        };
        s.handle(cfg, 0, to, qxid, resp, &mut out);
    }
    if rest.next().is_some() || out.iter().any(|o| o.to > 3) {
        // Answers left over, or a packet to a host that is not a runner client.
        return None;
    }
    let after = owned(s, name, Some(rep.owner));
    let query = query(s, cfg, name);
    Some(RDone {
        rep: rep.clone(),
        answers: done,
        out,
        decision,
        before_addrs,
        before,
        after,
        query,
        timed_out,
    })
}

fn who(a: u8, before: &[u8], rep: &Rep) -> String {
    let mut t = String::new();
    if before.contains(&a) {
        t.push('e');
    }
    if rep.addrs.iter().any(|p| p.0 == a) {
        t.push('r');
    }
    if t.is_empty() {
        t.push('o');
    }
    t
}

fn rdone_signature(d: &RDone) -> String {
    let rep = &d.rep;
    let before_addrs = &d.before_addrs;
    let addrs: Vec<String> = rep
        .addrs
        .iter()
        .map(|&(a, o)| {
            format!(
                "{}{}",
                who(a, before_addrs, rep),
                if o == rep.owner { "" } else { "@other" }
            )
        })
        .collect();
    let mut sig = format!(
        "replica {:?}/{:?}{}[{}] on {} | {} |",
        rep.kind,
        rep.state,
        if rep.is_static { "/static" } else { "" },
        addrs.join(","),
        d.before.as_deref().unwrap_or("none"),
        d.decision
    );
    let answers: Vec<RAnswer> = d.answers.iter().map(|a| a.1).collect();
    let _ = write!(sig, " answers {answers:?} |");
    for s in &d.out {
        let _ = write!(
            sig,
            " {}:{}",
            who(s.to, before_addrs, rep),
            match &s.packet {
                Packet::Release { .. } => "release-demand".to_string(),
                p => packet_signature(p),
            }
        );
    }
    let _ = write!(
        sig,
        " | after {} | query {}",
        d.after.as_deref().unwrap_or("none"),
        packet_signature(&d.query.packet)
    );
    sig
}

/// The replicas the generator pushes for `name`.
fn alphabet(name: u8) -> Vec<Rep> {
    let rep = |owner, kind, state, addrs: &[(u8, u8)], is_static| Rep {
        owner,
        kind,
        state,
        addrs: addrs.to_vec(),
        is_static,
    };
    use Kind::*;
    use RecState::*;
    if name == 0x1c {
        vec![
            rep(P1, SpecialGroup, Active, &[(1, P1)], false),
            rep(P1, SpecialGroup, Active, &[(2, P1)], false),
            rep(P1, SpecialGroup, Active, &[(1, P1), (2, P1)], false),
            rep(P1, SpecialGroup, Active, &[(2, P1), (OTHER, P1)], false),
            rep(P1, SpecialGroup, Active, &[(1, P2), (2, P1)], false),
            rep(P1, SpecialGroup, Active, &[], false),
            rep(P1, SpecialGroup, Tombstone, &[(2, P1)], false),
            rep(P2, SpecialGroup, Active, &[(2, P2)], false),
            rep(P2, SpecialGroup, Active, &[(1, P2), (2, P2)], false),
            rep(P1, SpecialGroup, Active, &[(2, P1)], true),
        ]
    } else {
        vec![
            rep(P1, Unique, Active, &[(1, P1)], false),
            rep(P1, Unique, Active, &[(2, P1)], false),
            rep(P1, Unique, Active, &[(OTHER, P1)], false),
            rep(P1, Unique, Active, &[(2, P1)], true),
            rep(P1, Unique, Tombstone, &[(2, P1)], false),
            rep(P2, Unique, Active, &[(2, P2)], false),
            rep(P1, Multihomed, Active, &[(1, P1), (2, P1)], false),
            rep(P1, Multihomed, Active, &[(2, P1), (3, P1)], false),
            rep(P1, Multihomed, Active, &[(2, P1), (OTHER, P2)], false),
            rep(P1, Multihomed, Tombstone, &[(2, P1), (3, P1)], false),
            rep(P2, Multihomed, Active, &[(1, P2), (2, P2)], false),
            rep(P1, Group, Active, &[(2, P1)], false),
            rep(P1, Group, Tombstone, &[(2, P1)], false),
            rep(P2, Group, Active, &[(2, P2)], false),
        ]
    }
}

/// Every answer sequence to try for a challenge of up to `n` holders.
fn answer_seqs(n: usize, silent: bool) -> Vec<Vec<RAnswer>> {
    let mut choices = vec![
        RAnswer::Claim,
        RAnswer::ClaimReplica,
        RAnswer::ClaimBoth,
        RAnswer::Release,
    ];
    if silent {
        choices.push(RAnswer::Silent);
    }
    let mut all = vec![Vec::new()];
    let mut level = vec![Vec::new()];
    for _ in 0..n {
        let mut next = Vec::new();
        for seq in &level {
            for &c in &choices {
                let mut s: Vec<RAnswer> = seq.clone();
                s.push(c);
                next.push(s);
            }
        }
        all.extend(next.iter().cloned());
        level = next;
    }
    all
}

/// A state reached by client steps, from which replicas are pushed.
struct Prefix {
    steps: Vec<RStep>,
    server: S,
}

fn client_step(s: &mut S, cfg: &ServerConfig, name: u8, step: &Step) -> RStep {
    let b = owned(s, name, None);
    let d = apply(s, cfg, name, step);
    let a = owned(s, name, None);
    RStep::Client(Box::new(d), b, a)
}

fn prefixes(cfg: &ServerConfig, name: u8) -> Vec<Prefix> {
    let step = |client, act, answers: Vec<(u8, Answer)>| Step {
        client,
        act,
        addr: None,
        mid: None,
        answers,
    };
    let seqs: Vec<Vec<Step>> = if name == 0x1c {
        vec![
            vec![],
            vec![step(1, Act::RegGroup, vec![])],
            vec![
                step(1, Act::RegGroup, vec![]),
                step(2, Act::RegGroup, vec![]),
            ],
        ]
    } else {
        vec![
            vec![],
            vec![step(1, Act::RegUnique, vec![])],
            vec![step(1, Act::RegGroup, vec![])],
            vec![step(1, Act::RegMultihomed, vec![])],
            vec![
                step(1, Act::RegMultihomed, vec![]),
                step(2, Act::RegMultihomed, vec![(1, Answer::ClaimWithRequester)]),
            ],
        ]
    };
    seqs.into_iter()
        .map(|seq| {
            let mut s = S::new(ME);
            let steps = seq
                .iter()
                .map(|st| client_step(&mut s, cfg, name, st))
                .collect();
            Prefix { steps, server: s }
        })
        .collect()
}

fn signature(path: &[RStep]) -> Vec<String> {
    path.iter()
        .map(|st| match st {
            RStep::Client(d, b, a) => format!(
                "{} | owner {} -> {}",
                step_signature(d),
                b.as_deref().unwrap_or("none"),
                a.as_deref().unwrap_or("none")
            ),
            RStep::Replica(d) => rdone_signature(d),
        })
        .collect()
}

/// The client requests tried after a replica.
const AFTER_ACTS: [Act; 6] = [
    Act::RegUnique,
    Act::RegGroup,
    Act::RegMultihomed,
    Act::RefreshUnique,
    Act::RefreshGroup,
    Act::Release,
];

/// The replica paths' scripts under `rep/`; `stats` counts them.
pub(super) fn generate(cfg: &ServerConfig, stats: &mut Stats) -> Vec<Generated> {
    let mut scripts = Vec::new();
    for (name, dir, text) in [(0x00u8, "r00", "{N}<00>"), (0x1c, "r1c", "{N}<1c>")] {
        // A path is kept when its last step's behaviour (from the record it met) is new.
        let mut seen: BTreeSet<String> = BTreeSet::new();
        let mut kept = 0usize;
        let mut emit = |path: &[RStep]| {
            let last = signature(path).pop().expect("a step");
            if !seen.insert(last) {
                return false;
            }
            kept += 1;
            scripts.push(Generated {
                path: format!("rep/{dir}-d{}-{kept:04}.nbt", path.len()),
                text: script_text(path, text, &format!("{dir}-{kept}")),
            });
            true
        };
        for prefix in prefixes(cfg, name) {
            for rep in alphabet(name) {
                let holders = prefix
                    .server
                    .record(&name)
                    .map_or(0, |r| r.addrs.len().min(2));
                for answers in answer_seqs(holders, true) {
                    let mut s = prefix.server.clone();
                    stats.explored += 1;
                    let Some(d) = apply_replica(&mut s, cfg, name, &rep, 1, &answers) else {
                        continue;
                    };
                    let silent = answers.contains(&RAnswer::Silent);
                    let mut path: Vec<RStep> = prefix.steps.clone();
                    path.push(RStep::Replica(Box::new(d)));
                    if !emit(&path) || silent {
                        // Not extended: one challenge timeout a script at most.
                        continue;
                    }
                    // One more step: another replica, or a client's request.
                    for rep2 in alphabet(name) {
                        let v = if rep2.owner == rep.owner { 2 } else { 1 };
                        let holders = s.record(&name).map_or(0, |r| r.addrs.len().min(1));
                        for answers in answer_seqs(holders, false) {
                            let mut s2 = s.clone();
                            stats.explored += 1;
                            if let Some(d2) = apply_replica(&mut s2, cfg, name, &rep2, v, &answers)
                            {
                                let mut p = path.clone();
                                p.push(RStep::Replica(Box::new(d2)));
                                emit(&p);
                            }
                        }
                    }
                    for client in 1..=3 {
                        for act in AFTER_ACTS {
                            let mut probe = s.clone();
                            let mut out = Vec::new();
                            probe.handle(cfg, 0, client, XID, request(name, client, act), &mut out);
                            let holders = challenged(&out);
                            if holders.iter().any(|h| *h > 3) {
                                continue;
                            }
                            for answers in answer_sets(act, &holders, false) {
                                let mut s2 = s.clone();
                                stats.explored += 1;
                                let step = Step {
                                    client,
                                    act,
                                    addr: None,
                                    mid: None,
                                    answers,
                                };
                                let mut p = path.clone();
                                p.push(client_step(&mut s2, cfg, name, &step));
                                emit(&p);
                            }
                        }
                    }
                }
            }
        }
        stats.distinct += kept;
    }
    scripts
}

fn rep_line(rep: &Rep, name: &str, background: bool) -> String {
    let kind = match rep.kind {
        Kind::Unique => "unique",
        Kind::Group => "group",
        Kind::SpecialGroup => "sgroup",
        Kind::Multihomed => "multihomed",
    };
    let state = match rep.state {
        RecState::Active => "active",
        RecState::Released => "released",
        RecState::Tombstone => "tombstone",
    };
    let addrs: Vec<u8> = rep.addrs.iter().map(|p| p.0).collect();
    let mut t = format!(
        "replica   name={name} owner={} kind={kind} state={state} addrs={}",
        partner_text(rep.owner),
        addrs_text(&addrs)
    );
    if rep.addrs.iter().any(|p| p.1 != rep.owner) {
        let owners: Vec<String> = rep
            .addrs
            .iter()
            .map(|p| format!("{{{}}}", partner_text(p.1)))
            .collect();
        let _ = write!(t, " owners={}", owners.join(","));
    }
    if rep.is_static {
        t.push_str(" static");
    }
    if background {
        t.push_str(" background");
    }
    t
}

fn rep_story(rep: &Rep) -> String {
    let addrs: Vec<u8> = rep.addrs.iter().map(|p| p.0).collect();
    format!(
        "{} pushes {}{:?} {:?} {}",
        partner_text(rep.owner),
        if rep.is_static { "static " } else { "" },
        rep.state,
        rep.kind,
        addrs_text(&addrs)
    )
}

/// The lines of one client step: the parent module's script for that step alone, without
/// its header.
fn client_lines(d: &Done, name: &str) -> String {
    let t = super::script_text(std::slice::from_ref(d), name, "", None);
    let at = t.find("\nsend").expect("a client step sends");
    t[at + 1..].to_string()
}

fn script_text(path: &[RStep], name: &str, label: &str) -> String {
    let story: Vec<String> = path
        .iter()
        .map(|st| match st {
            RStep::Client(d, ..) => {
                let mut t = format!("client{} {}", d.step.client, act_text(d.step.act));
                for (h, a) in &d.step.answers {
                    let _ = write!(t, ", client{h} {}", answer_text(*a));
                }
                t
            }
            RStep::Replica(d) => {
                let mut t = rep_story(&d.rep);
                for (h, a) in &d.answers {
                    let _ = write!(t, ", client{h} {a:?}");
                }
                t
            }
        })
        .collect();
    let mut rules = BTreeSet::new();
    for st in path {
        match st {
            RStep::Client(d, b, a) => {
                rules_of(d, &mut rules);
                if b.as_deref().is_some_and(|b| !b.contains("/me[")) && a.as_deref().is_some_and(|a| a.contains("/me[")) {
                    rules.insert("WINSRA-3.1.1.2-TAKE-OWNERSHIP");
                }
            }
            RStep::Replica(d) => replica_rules(d, &mut rules),
        }
    }
    let mut tags = vec!["generated", "replication"];
    let challenged = path.iter().any(|st| match st {
        RStep::Client(d, ..) => !d.step.answers.is_empty(),
        RStep::Replica(d) => !d.answers.is_empty(),
    });
    if challenged {
        tags.push("challenge");
    }
    let timed_out = path.iter().any(|st| match st {
        RStep::Client(d, ..) => d.timed_out,
        RStep::Replica(d) => d.answers.iter().any(|a| a.1 == RAnswer::Silent),
    });
    if timed_out {
        tags.push("timeout");
    }
    let mut t = String::new();
    let _ = writeln!(t, "title Model path {label}: {}", story.join("; "));
    let _ = writeln!(t, "tags {}", tags.join(" "));
    let _ = writeln!(
        t,
        "refs {}",
        rules.into_iter().collect::<Vec<_>>().join(" ")
    );
    let _ = writeln!(
        t,
        "# Generated by `nbns-conform generate` from model/src/server.rs; do not edit."
    );
    for s in signature(path) {
        let _ = writeln!(t, "# {s}");
    }
    if timed_out {
        let _ = writeln!(t, "limit     time=90s");
    }
    let _ = writeln!(t, "set N = {{run}}GEN");
    for st in path {
        match st {
            RStep::Client(d, ..) => t.push_str(&client_lines(d, name)),
            RStep::Replica(d) => {
                let _ = writeln!(t, "{}", rep_line(&d.rep, name, !d.answers.is_empty()));
                for (h, a) in &d.answers {
                    let (reply, addrs) = match a {
                        RAnswer::Claim => ("claim", None),
                        RAnswer::ClaimReplica | RAnswer::ClaimBoth => ("claim", Some(())),
                        RAnswer::Release => ("release", None),
                        RAnswer::Silent => ("silent", None),
                    };
                    let addr = match addrs {
                        None => String::new(),
                        Some(()) => {
                            // The addresses the model's answer listed.
                            let listed = answer_addrs(d, *h, *a);
                            format!(" addr={}", addrs_text(&listed))
                        }
                    };
                    let _ = writeln!(
                        t,
                        "challenge to=client{h} name={name} reply={reply}{addr} timeout=10s"
                    );
                }
                if d.timed_out {
                    // The reference decides when the last holder's wait runs out (3 s).
                    let _ = writeln!(t, "wait      for=4s");
                }
                let _ = writeln!(t, "send      op=query name={name} from=client{OBSERVER}");
                let _ = writeln!(
                    t,
                    "expect    to=client{OBSERVER} {}",
                    expect_fields(&d.query.packet, None)
                );
            }
        }
    }
    t
}

/// The addresses holder `h`'s claim `a` listed in step `d` (recomputed as
/// [`apply_replica`] built it: the record before the step and the replica).
fn answer_addrs(d: &RDone, h: u8, a: RAnswer) -> Vec<u8> {
    let replica: Vec<u8> = d.rep.addrs.iter().map(|p| p.0).collect();
    let mut v = match a {
        RAnswer::ClaimReplica => replica,
        _ => {
            [d.before_addrs.clone(), replica].concat()
        }
    };
    v.push(h);
    v.sort();
    v.dedup();
    v
}

fn replica_rules(d: &RDone, rules: &mut BTreeSet<&'static str>) {
    rules.insert("WINSRA-2.2.8-UPDATE-TRIGGERS-PULL");
    let before = d.before.as_deref().unwrap_or("");
    match d.decision.as_str() {
        "Replace" if before.contains("/rep[") => {
            rules.insert("WINSRA-3.2.5.5-SAME-OWNER-REPLACES");
        }
        "Replace" if !before.contains("/Active") => {
            rules.insert("WINSRA-3.2.5.5-INACTIVE-REPLACED");
        }
        "Replace" if before.contains("/me[") => {
            rules.insert("WINSRA-3.2.5.5-OWNED-SUBSET");
        }
        "Replace" => {
            rules.insert("WINSRA-3.2.5.5-REPLICA-UNIQUE-NEWER");
        }
        "Keep" if before.contains("/static") => {
            rules.insert("WINSRA-3.2.5.5-STATIC-KEPT");
        }
        "Keep" if before.starts_with("Group") => {
            rules.insert("WINSRA-3.2.5.5-GROUP-STAYS");
        }
        "Keep" if before.contains("/me[") => {
            rules.insert("WINSRA-3.2.5.5-OWNED-VS-TOMBSTONE");
        }
        "Keep" => {
            rules.insert("WINSRA-3.2.5.5-ACTIVE-NOT-BY-INACTIVE");
        }
        "ReplaceAndReleaseDemand" => {
            rules.insert("WINSRA-3.2.5.5-GROUP-RELEASE-DEMAND");
        }
        "MergeSpecialGroup" => {
            rules.insert("WINSRA-3.2.5.5-SGROUP-MERGE");
            rules.insert("WINSRA-3.2.5.5-SGROUP-OWNERS-KEPT");
        }
        "Challenge" => {
            rules.insert("WINSRA-3.2.5.5-OWNED-CHALLENGE");
            rules.insert(match d.answers.last().map(|a| a.1) {
                Some(RAnswer::ClaimBoth) => "WINSRA-3.2.5.5-CHALLENGE-MHOMED-MERGE",
                Some(RAnswer::Claim | RAnswer::ClaimReplica) => "WINSRA-3.2.5.5-CHALLENGE-KEEPS",
                _ => "WINSRA-3.2.5.5-CHALLENGE-REPLACES",
            });
        }
        _ => {}
    }
}
