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
use nbns_model::Bug;

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
    /// The push lists the target as an owner too (`target-owner`): it must not pull its own
    /// records back.
    target_owner: bool,
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
    /// Another client answers positively with the query's id (an address not asked), then
    /// the asked holder claims.
    Stray,
}

/// The client that sends the stray answer to a query to `to`.
fn stray_of(to: u8) -> u8 {
    to % 3 + 1
}

/// One step of a replica path.
#[derive(Debug, Clone)]
enum RStep {
    /// A client's request, as in the parent module (with the record's owner before and
    /// after it, which the client signature leaves out).
    Client(Box<Done>, Owned, Owned),
    Replica(Box<RDone>),
    /// A replica arriving while a client's registration challenges the holders.
    During(Box<XDone>),
}

/// A client's registration, a replica while its challenge runs, the holders' answers.
#[derive(Debug, Clone)]
struct XDone {
    client: u8,
    act: Act,
    rep: Rep,
    decision: String,
    /// What the replica made the server send.
    rep_out: Out,
    answers: Vec<(u8, Answer)>,
    /// The registration's answers and the challenge's packets.
    out: Out,
    before: Owned,
    after: Owned,
    /// Holders of the record before (for the answer's wait).
    holders: usize,
    query: Send<u8, u8>,
    timed_out: bool,
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
    /// A client's request while the replica's challenge runs, and what it got.
    mid: Option<(u8, Act)>,
    mid_out: Out,
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
/// Takes `rep` at `version` as the target does when it pulls it (what the rules make the
/// server send goes to `out`); returns the conflict decision it met ("inserted" on a name
/// without a record).
fn pull(s: &mut S, cfg: &ServerConfig, name: u8, rep: &Rep, version: u64, out: &mut Out) -> String {
    let rec = model_record(name, rep, version, cfg);
    let decision = match s.record(&name) {
        None => "inserted".to_string(),
        Some(e) => format!(
            "{:?}",
            nbns_model::conflict::decide(cfg.bugs, ConflictCase::of(ME, e, &rec))
        ),
    };
    nbns_model::replication::apply_pulled(s, cfg, 0, rep.owner, version, vec![rec], out);
    decision
}

fn apply_replica(
    s: &mut S,
    cfg: &ServerConfig,
    name: u8,
    rep: &Rep,
    version: u64,
    mid: Option<(u8, Act)>,
    answers: &[RAnswer],
) -> Option<RDone> {
    let before = owned(s, name, Some(rep.owner));
    let before_addrs: Vec<u8> = s
        .record(&name)
        .map(|r| r.addrs.iter().copied().collect())
        .unwrap_or_default();
    let mut out = Vec::new();
    let decision = pull(s, cfg, name, rep, version, &mut out);
    let mut mid_out = Vec::new();
    if let Some((c, act)) = mid {
        s.pending_for(&name)?;
        s.handle(cfg, 0, c, MID_XID, request(name, c, act, TTL), &mut mid_out);
    }
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
            RAnswer::Stray => {
                let o = stray_of(to);
                s.handle(cfg, 0, o, qxid, answer(name, Rcode::Ok, vec![o]), &mut out);
                (Rcode::Ok, vec![to])
            }
        };
        timed_out = false;
        s.handle(cfg, 0, to, qxid, answer(name, rcode, addrs), &mut out);
    }
    if rest.next().is_some() || out.iter().chain(&mid_out).any(|o| o.to > 3) {
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
        mid,
        mid_out,
    })
}

/// Client `client`'s request `act`, which challenges the holders; the replica `rep`
/// arrives while the challenge runs; then the holders answer (`answers`, in order) or the
/// challenge times out. None when the request challenges nobody or the replica's packets
/// would go to a host that is not a runner client.
#[allow(clippy::too_many_arguments)]
fn apply_during(
    s: &mut S,
    cfg: &ServerConfig,
    name: u8,
    client: u8,
    act: Act,
    rep: &Rep,
    version: u64,
    answers: &[(u8, Answer)],
) -> Option<XDone> {
    let before = owned(s, name, Some(rep.owner));
    let holders = s.record(&name).map_or(0, |r| r.addrs.len());
    let mut out = Vec::new();
    s.handle(
        cfg,
        0,
        client,
        XID,
        request(name, client, act, TTL),
        &mut out,
    );
    s.pending_for(&name)?;
    let mut rep_out = Vec::new();
    let decision = pull(s, cfg, name, rep, version, &mut rep_out);
    if rep_out.iter().any(|o| o.to > 3) {
        return None;
    }
    for &a in answers {
        super::answer_challenge(s, cfg, 0, name, a, client, &mut out);
    }
    let timed_out = s.pending_for(&name).is_some();
    if timed_out {
        s.challenge_timeout(cfg, 0, &name, &mut out);
    }
    if s.pending_for(&name).is_some() {
        return None;
    }
    let after = owned(s, name, Some(rep.owner));
    let query = query(s, cfg, name);
    Some(XDone {
        client,
        act,
        rep: rep.clone(),
        decision,
        rep_out,
        answers: answers.to_vec(),
        out,
        before,
        after,
        holders,
        query,
        timed_out,
    })
}

/// The end of a replica step's signature: the record after it, the query's answer.
fn after_signature(after: &Owned, query: &Send<u8, u8>) -> String {
    format!(
        " | after {} | query {}",
        after.as_deref().unwrap_or("none"),
        packet_signature(&query.packet)
    )
}

fn xdone_signature(d: &XDone) -> String {
    let mut sig = format!(
        "{:?} by c{} on {} | during replica {:?}/{:?}[{}] {} ->",
        d.act,
        d.client,
        d.before.as_deref().unwrap_or("none"),
        d.rep.kind,
        d.rep.state,
        d.rep.addrs.len(),
        d.decision
    );
    for s in &d.rep_out {
        let _ = write!(sig, " c{}:{}", s.to, packet_signature(&s.packet));
    }
    let answers: Vec<Answer> = d.answers.iter().map(|a| a.1).collect();
    let _ = write!(sig, " | answers {answers:?} |");
    for s in &d.out {
        let _ = write!(sig, " c{}:{}", s.to, packet_signature(&s.packet));
    }
    sig + &after_signature(&d.after, &d.query)
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
    if let Some((c, act)) = d.mid {
        let _ = write!(sig, " during {act:?} by {} ->", who(c, before_addrs, rep));
        for s in &d.mid_out {
            let _ = write!(sig, " {}", packet_signature(&s.packet));
        }
        sig.push_str(" |");
    }
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
    sig + &after_signature(&d.after, &d.query)
}

/// The replicas the generator pushes for `name`.
fn alphabet(name: u8) -> Vec<Rep> {
    let rep = |owner, kind, state, addrs: &[(u8, u8)], is_static| Rep {
        owner,
        kind,
        state,
        addrs: addrs.to_vec(),
        is_static,
        target_owner: false,
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
            // A member the target owns (replicated from it before), and a member of
            // partner1's in partner2's record.
            rep(P1, SpecialGroup, Active, &[(1, ME), (2, P1)], false),
            rep(P2, SpecialGroup, Active, &[(2, P1)], false),
            // A full list of other hosts' members: a merge keeps it to the limit.
            Rep {
                owner: P2,
                kind: SpecialGroup,
                state: Active,
                addrs: (0..25).map(|i| (OTHER + i, P2)).collect(),
                is_static: false,
                target_owner: false,
            },
            rep(P1, SpecialGroup, Active, &[], false),
            rep(P1, SpecialGroup, Tombstone, &[(2, P1)], false),
            // A unique <1C>: no registration makes one (refused as a type), a partner's
            // replica does; a group registration over it challenges its holder.
            rep(P1, Unique, Active, &[(2, P1)], false),
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
            rep(P1, Multihomed, Active, &[(1, ME), (2, P1)], false),
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
        RAnswer::Stray,
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
    let d = apply(s, cfg, name, step, 0);
    let a = owned(s, name, None);
    RStep::Client(Box::new(d), b, a)
}

/// `client`'s `act` on `s`, once for every way the holders it challenges may answer
/// (none when it challenges an address that is not a runner client).
fn client_steps(s: &S, cfg: &ServerConfig, name: u8, client: u8, act: Act) -> Vec<RStep> {
    let holders = would_challenge(s, cfg, 0, name, client, act, TTL);
    if holders.iter().any(|h| *h > 3) {
        return Vec::new();
    }
    answer_sets(act, &holders, false)
        .into_iter()
        .map(|answers| client_step(&mut s.clone(), cfg, name, &plain_step(client, act, answers)))
        .collect()
}

/// `client`'s request `act` with the default TTL, its own address and nothing during its
/// challenge, answered by the holders as `answers` say.
fn plain_step(client: u8, act: Act, answers: Vec<(u8, Answer)>) -> Step {
    Step {
        client,
        act,
        ttl: TTL,
        addr: None,
        mid: None,
        answers,
    }
}

fn prefixes(cfg: &ServerConfig, name: u8) -> Vec<Prefix> {
    let seqs: Vec<Vec<Step>> = if name == 0x1c {
        vec![
            vec![],
            vec![plain_step(1, Act::RegGroup, vec![])],
            vec![
                plain_step(1, Act::RegGroup, vec![]),
                plain_step(2, Act::RegGroup, vec![]),
            ],
        ]
    } else {
        vec![
            vec![],
            vec![plain_step(1, Act::RegUnique, vec![])],
            vec![plain_step(1, Act::RegGroup, vec![])],
            vec![plain_step(1, Act::RegMultihomed, vec![])],
            vec![
                plain_step(1, Act::RegMultihomed, vec![]),
                plain_step(2, Act::RegMultihomed, vec![(1, Answer::ClaimWithRequester)]),
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

/// The final answer a client got in `out` (rcode), after a WACK or not.
fn final_to(out: &Out, c: u8) -> String {
    let wack = out
        .iter()
        .any(|s| s.to == c && matches!(s.packet, Packet::Wack { .. }));
    let r = out.iter().find_map(|s| match &s.packet {
        Packet::Response { rcode, .. } if s.to == c => Some(*rcode),
        _ => None,
    });
    format!("{}{r:?}", if wack { "wack/" } else { "" })
}

/// A record view without its addresses: their count and their owners' relations.
fn shape(o: &Owned) -> String {
    let Some(o) = o else {
        return "none".into();
    };
    let (head, rest) = o.split_once('[').unwrap_or((o, ""));
    let addrs: Vec<&str> = rest
        .trim_end_matches(']')
        .split(',')
        .filter(|a| !a.is_empty())
        .collect();
    let mut rels: Vec<&str> = addrs
        .iter()
        .filter_map(|a| a.split_once('@').map(|x| x.1))
        .collect();
    rels.sort();
    rels.dedup();
    format!("{head}[{}:{}]", addrs.len(), rels.join("+"))
}

/// What makes a step's behaviour new for keeping a path: the action, the record it met
/// (with owners), the conflict decision, what the requester got, whether release demands
/// went out, and the record after it (with owners).
fn coarse(st: &RStep) -> String {
    let demands = |out: &Out| {
        out.iter()
            .any(|s| matches!(s.packet, Packet::Release { .. }))
    };
    match st {
        RStep::Client(d, b, a) => format!(
            "client {:?} {} on {} -> {} | {}",
            d.step.act,
            if d.before
                .as_ref()
                .is_some_and(|r| r.addrs.contains(&d.step.client))
            {
                "holder"
            } else {
                "other"
            },
            shape(b),
            final_to(&d.out, d.step.client),
            shape(a)
        ),
        // A replacement or a kept record says all with the record met: the replica or the
        // record stays.
        RStep::Replica(d)
            if d.mid.is_none()
                && matches!(d.decision.as_str(), "inserted" | "Replace" | "Keep") =>
        {
            let before = shape(&d.before);
            format!(
                "replica {}{} on {} | {}",
                if d.rep.state == RecState::Active {
                    ""
                } else {
                    "inactive"
                },
                if d.rep.is_static { "/static" } else { "" },
                before.split_once('[').map_or(before.as_str(), |x| x.0),
                d.decision,
            )
        }
        RStep::Replica(d) => format!(
            "replica {}{} on {} | {} | mid {:?} {} | challenges {} {:?} demands {} | {}",
            if d.rep.state == RecState::Active {
                ""
            } else {
                "inactive"
            },
            if d.rep.is_static { "/static" } else { "" },
            shape(&d.before),
            d.decision,
            d.mid.map(|(c, act)| (act, d.before_addrs.contains(&c))),
            d.mid
                .map_or(String::new(), |(c, _)| final_to(&d.mid_out, c)),
            d.answers.len(),
            d.answers
                .iter()
                .filter(|a| matches!(a.1, RAnswer::Silent | RAnswer::Stray))
                .map(|a| format!("{:?}", a.1))
                .collect::<Vec<_>>(),
            demands(&d.out),
            {
                // After a challenge: the record's kind, state and owner (which answer
                // decided is in the rest).
                let after = shape(&d.after);
                if d.decision == "MergeSpecialGroup" {
                    after
                } else {
                    after
                        .split_once('[')
                        .map_or(after.clone(), |x| x.0.to_string())
                }
            }
        ),
        RStep::During(d) => format!(
            "during {:?} on {} | {} | {} demands {} | {}",
            d.act,
            shape(&d.before),
            d.decision,
            final_to(&d.out, d.client),
            demands(&d.rep_out),
            shape(&d.after)
        ),
    }
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
            RStep::During(d) => xdone_signature(d),
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
        let mut emit = |path: &[RStep], bugs: String| {
            let last = coarse(path.last().expect("a step")) + &bugs;
            if !seen.insert(last.clone()) {
                return false;
            }
            if std::env::var_os("NBNS_GEN_DEBUG").is_some() {
                eprintln!("KEY {last}");
            }
            kept += 1;
            scripts.push(Generated {
                path: format!("rep/{dir}-d{}-{kept:04}.nbt", path.len()),
                text: script_text(path, text, &format!("{dir}-{kept}")),
            });
            true
        };
        for prefix in prefixes(cfg, name) {
            // A replica while a client's registration challenges the holders.
            for client in 1..=3 {
                for act in [Act::RegUnique, Act::RegMultihomed] {
                    let holders = would_challenge(&prefix.server, cfg, 0, name, client, act, TTL);
                    if holders.is_empty() || holders.iter().any(|h| *h > 3) {
                        continue;
                    }
                    for rep in alphabet(name) {
                        for answers in answer_sets(act, &holders, false) {
                            let mut s = prefix.server.clone();
                            stats.explored += 1;
                            if let Some(d) =
                                apply_during(&mut s, cfg, name, client, act, &rep, 1, &answers)
                            {
                                let mut p = prefix.steps.clone();
                                p.push(RStep::During(Box::new(d)));
                                emit(&p, String::new());
                            }
                        }
                    }
                }
            }
            for rep in alphabet(name) {
                // A static replica is stored over nothing (the AD DC refuses to store one
                // at all, and against a record it decides as a dynamic one).
                if rep.is_static && !prefix.steps.is_empty() {
                    continue;
                }
                let holders = prefix
                    .server
                    .record(&name)
                    .map_or(0, |r| r.addrs.len().min(2));
                for answers in answer_seqs(holders, true) {
                    let mut s = prefix.server.clone();
                    stats.explored += 1;
                    let Some(d) = apply_replica(&mut s, cfg, name, &rep, 1, None, &answers) else {
                        continue;
                    };
                    // A client's request while the replica's challenge runs.
                    if !d.answers.is_empty() && !answers.contains(&RAnswer::Silent) {
                        for c in 1..=3 {
                            for act in [Act::Release, Act::RegUnique] {
                                let mut s2 = prefix.server.clone();
                                stats.explored += 1;
                                if let Some(dm) = apply_replica(
                                    &mut s2,
                                    cfg,
                                    name,
                                    &rep,
                                    1,
                                    Some((c, act)),
                                    &answers,
                                ) {
                                    let mut p = prefix.steps.clone();
                                    p.push(RStep::Replica(Box::new(dm)));
                                    emit(&p, String::new());
                                }
                            }
                        }
                    }
                    let silent = answers.contains(&RAnswer::Silent);
                    let bugs = bug_key(cfg, &d, |c| {
                        let mut s = prefix.server.clone();
                        apply_replica(&mut s, c, name, &rep, 1, None, &answers)
                    });
                    let mut path: Vec<RStep> = prefix.steps.clone();
                    path.push(RStep::Replica(Box::new(d)));
                    // Extended whether or not it was new: what follows may be.
                    emit(&path, bugs);
                    if silent {
                        // Not extended: one challenge timeout a script at most.
                        continue;
                    }
                    // One more step: another replica, or a client's request.
                    // (Not after two client steps: the record met is one a shorter prefix
                    // reaches too.)
                    let twice = prefix.steps.len() < 2;
                    for rep2 in alphabet(name).into_iter().filter(|r| !r.is_static && twice) {
                        let v = if rep2.owner == rep.owner { 2 } else { 1 };
                        let holders = s.record(&name).map_or(0, |r| r.addrs.len().min(1));
                        for answers in answer_seqs(holders, false) {
                            let mut s2 = s.clone();
                            stats.explored += 1;
                            if let Some(d2) =
                                apply_replica(&mut s2, cfg, name, &rep2, v, None, &answers)
                            {
                                let bugs = bug_key(cfg, &d2, |c| {
                                    let mut s3 = s.clone();
                                    apply_replica(&mut s3, c, name, &rep2, v, None, &answers)
                                });
                                let mut p = path.clone();
                                p.push(RStep::Replica(Box::new(d2)));
                                emit(&p, bugs);
                            }
                        }
                    }
                    // A partner's tombstone runs out here as the owner's would (its
                    // extinction timeout): time passes.
                    if s.record(&name)
                        .is_some_and(|r| r.state == RecState::Tombstone && r.owner != ME)
                    {
                        let mut s2 = s.clone();
                        stats.explored += 1;
                        let step = plain_step(1, Act::Wait, Vec::new());
                        let mut p = path.clone();
                        p.push(client_step(&mut s2, cfg, name, &step));
                        emit(&p, String::new());
                    }
                    for client in 1..=3 {
                        for act in AFTER_ACTS {
                            for st in client_steps(&s, cfg, name, client, act) {
                                stats.explored += 1;
                                let mut p = path.clone();
                                p.push(st);
                                emit(&p, String::new());
                            }
                        }
                    }
                }
            }
        }
        stats.distinct += kept;
    }
    // A push whose owner-version map lists the target too (with a version above its own):
    // the target pulls the partner's record, not its own records back (the model's pull
    // skips its own address).
    let mut first = alphabet(0x00).remove(0);
    first.target_owner = true;
    let mut s = S::new(ME);
    if let Some(d) = apply_replica(&mut s, cfg, 0x00, &first, 1, None, &[]) {
        scripts.push(Generated {
            path: "rep/own-owner.nbt".into(),
            text: script_text(&[RStep::Replica(Box::new(d))], "{N}<00>", "own-owner"),
        });
        stats.distinct += 1;
    }
    scripts
}

/// What a replica step does with each of the server's KB bugs switched on, where a script
/// would see it (what the target sends, the query's answer after it) unlike `plain`'s: part
/// of a path's key, so that the library keeps a path on which each bug shows (`run
/// --kb-bug` fails it), as the model checker catches them.
fn bug_key(
    cfg: &ServerConfig,
    plain: &RDone,
    step: impl Fn(&ServerConfig) -> Option<RDone>,
) -> String {
    let seen = |d: &RDone| (d.out.clone(), d.query.packet.clone());
    let mut key = String::new();
    for bug in Bug::SERVER {
        let mut with = cfg.clone();
        with.bugs = with.bugs.with(bug);
        if let Some(d) = step(&with).filter(|d| seen(d) != seen(plain)) {
            let _ = write!(
                key,
                " | with KB {bug}: {}",
                coarse(&RStep::Replica(Box::new(d)))
            );
        }
    }
    key
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
            .map(|p| {
                if p.1 == ME {
                    "{target_ip}".to_string()
                } else {
                    format!("{{{}}}", partner_text(p.1))
                }
            })
            .collect();
        let _ = write!(t, " owners={}", owners.join(","));
    }
    if rep.is_static {
        t.push_str(" static");
    }
    if rep.target_owner {
        t.push_str(" target-owner");
    }
    if background {
        t.push_str(" background");
    }
    t
}

fn rep_story(rep: &Rep) -> String {
    let addrs: Vec<u8> = rep.addrs.iter().map(|p| p.0).collect();
    format!(
        "{} pushes {}{:?} {:?} {}{}",
        partner_text(rep.owner),
        if rep.is_static { "static " } else { "" },
        rep.state,
        rep.kind,
        addrs_text(&addrs),
        if rep.target_owner {
            ", listing the target as an owner"
        } else {
            ""
        }
    )
}

/// The lines of one client step: the parent module's script for that step alone, without
/// its header.
fn client_lines(d: &Done, name: &str) -> String {
    let t = super::script_text(std::slice::from_ref(d), name, "", None);
    let at = ["\nsend", "\nwait"]
        .iter()
        .filter_map(|w| t.find(w))
        .min()
        .expect("a client step sends or waits");
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
                if let Some((c, act)) = d.mid {
                    let _ = write!(t, ", client{c} {} during the challenge", act_text(act));
                }
                for (h, a) in &d.answers {
                    let _ = write!(t, ", client{h} {a:?}");
                }
                t
            }
            RStep::During(d) => {
                let mut t = format!(
                    "client{} {}, {} during the challenge",
                    d.client,
                    act_text(d.act),
                    rep_story(&d.rep)
                );
                for (h, a) in &d.answers {
                    let _ = write!(t, ", client{h} {}", answer_text(*a));
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
                if b.as_deref().is_some_and(|b| !b.contains("/me["))
                    && a.as_deref().is_some_and(|a| a.contains("/me["))
                {
                    rules.insert("WINSRA-3.1.1.2-TAKE-OWNERSHIP");
                }
            }
            RStep::Replica(d) => {
                if d.rep.target_owner {
                    rules.insert("WINSRA-3.2.5.1-NO-REQUEST-IF-CURRENT");
                }
                replica_rules(
                    &d.decision,
                    d.before.as_deref().unwrap_or(""),
                    d.answers.last().map(|a| a.1),
                    (
                        d.after.as_deref().unwrap_or(""),
                        d.after.as_deref().map_or(0, |a| a.matches('@').count()),
                        d.rep.addrs.len(),
                    ),
                    &mut rules,
                )
            }
            RStep::During(d) => {
                rules.insert("RFC1002-5.1.4-REG-HELD-WACK");
                rules.insert("RFC1002-5.1.4-CHALLENGE-QUERY");
                replica_rules(
                    &d.decision,
                    d.before.as_deref().unwrap_or(""),
                    None,
                    ("", 0, 0),
                    &mut rules,
                );
            }
        }
    }
    let mut tags = vec!["generated", "replication"];
    let challenged = path.iter().any(|st| match st {
        RStep::Client(d, ..) => !d.step.answers.is_empty(),
        RStep::Replica(d) => !d.answers.is_empty(),
        RStep::During(_) => true,
    });
    if challenged {
        tags.push("challenge");
    }
    let timed_out = path.iter().any(|st| match st {
        RStep::Client(d, ..) => d.timed_out,
        RStep::Replica(d) => d.answers.iter().any(|a| a.1 == RAnswer::Silent),
        RStep::During(d) => d.timed_out,
    });
    if timed_out {
        tags.push("timeout");
    }
    let mut t = String::new();
    t.push_str(&header(label, &story.join("; "), &tags, rules));
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
            RStep::During(d) => {
                let c = d.client;
                let (op, group) = match d.act {
                    Act::RegMultihomed => ("multihomed", false),
                    _ => ("register", false),
                };
                let _ = writeln!(t, "{}", send_line(op, name, group, (c, TTL), None, None));
                // The request's WACK first: the target has started its challenge.
                let _ = writeln!(t, "expect    to=client{c} wack-only");
                let _ = writeln!(t, "{}", rep_line(&d.rep, name, false));
                for (h, a) in &d.answers {
                    let reply = match a {
                        Answer::Claim | Answer::ClaimWithRequester => "claim",
                        Answer::Release => "release",
                        Answer::Silent => "silent",
                    };
                    let addr = if *a == Answer::ClaimWithRequester {
                        let mut v = vec![*h, c];
                        v.sort();
                        format!(" addr={}", addrs_text(&v))
                    } else {
                        String::new()
                    };
                    let _ = writeln!(
                        t,
                        "challenge to=client{h} name={name} reply={reply}{addr} timeout=10s after=client{c}"
                    );
                }
                let wait = if d.timed_out {
                    " timeout=60s"
                } else {
                    " timeout=15s"
                };
                let line = expect_line(&d.out, c, (c, group), wait, d.holders);
                let _ = writeln!(t, "{}", line.replace(" wack=1..", ""));
                let _ = writeln!(t, "send      op=query name={name} from=client{OBSERVER}");
                let _ = writeln!(
                    t,
                    "expect    to=client{OBSERVER} {}",
                    expect_fields(&d.query.packet, None)
                );
            }
            RStep::Replica(d) => {
                let _ = writeln!(t, "{}", rep_line(&d.rep, name, !d.answers.is_empty()));
                if let Some((m, act)) = d.mid {
                    // After the target's challenge query went out (the push is on its way).
                    let _ = writeln!(t, "wait      for=500ms");
                    let (op, group) = match act {
                        Act::Release => (
                            "release",
                            d.before.as_deref().is_some_and(|b| {
                                b.starts_with("Group") || b.starts_with("Special")
                            }),
                        ),
                        _ => ("register", false),
                    };
                    let _ = writeln!(t, "{}", send_line(op, name, group, (m, TTL), None, None));
                    let _ = writeln!(t, "{}", expect_line(&d.mid_out, m, (m, group), "", 0));
                }
                for (h, a) in &d.answers {
                    let (reply, addrs) = match a {
                        RAnswer::Claim => ("claim", None),
                        RAnswer::ClaimReplica | RAnswer::ClaimBoth => ("claim", Some(())),
                        RAnswer::Release => ("release", None),
                        RAnswer::Silent => ("silent", None),
                        RAnswer::Stray => ("claim", None),
                    };
                    let addr = match addrs {
                        None => String::new(),
                        Some(()) => {
                            // The addresses the model's answer listed.
                            let listed = answer_addrs(d, *h, *a);
                            format!(" addr={}", addrs_text(&listed))
                        }
                    };
                    // With a request in between, the query came before it: after the
                    // previous step's query (from client3).
                    let after = if d.mid.is_some() {
                        format!(" after=client{OBSERVER}")
                    } else {
                        String::new()
                    };
                    let stray = if *a == RAnswer::Stray {
                        format!(" stray=client{}", stray_of(*h))
                    } else {
                        String::new()
                    };
                    let _ = writeln!(
                        t,
                        "challenge to=client{h} name={name} reply={reply}{addr}{stray} timeout=10s{after}"
                    );
                }
                if d.timed_out {
                    // The reference decides when the last holder's wait runs out (3 s).
                    let _ = writeln!(t, "wait      for=4s");
                } else if !d.answers.is_empty() {
                    // A target may decide after its push ended (the AD DC's challenge runs
                    // on its own): the answer has two seconds to take effect.
                    let _ = writeln!(t, "wait      for=2s");
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
        _ => [d.before_addrs.clone(), replica].concat(),
    };
    v.push(h);
    v.sort();
    v.dedup();
    v
}

fn replica_rules(
    decision: &str,
    before: &str,
    last: Option<RAnswer>,
    (after, after_len, rep_len): (&str, usize, usize),
    rules: &mut BTreeSet<&'static str>,
) {
    rules.insert("WINSRA-2.2.8-UPDATE-TRIGGERS-PULL");
    match decision {
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
            if last.is_some() {
                // By what became of the record: still ours (kept), the replica's owner's
                // with more addresses than the replica (merged), or the replica.
                rules.insert(if after.contains("/me[") {
                    "WINSRA-3.2.5.5-CHALLENGE-KEEPS"
                } else if after.starts_with("Multihomed") && after_len > rep_len {
                    "WINSRA-3.2.5.5-CHALLENGE-MHOMED-MERGE"
                } else {
                    "WINSRA-3.2.5.5-CHALLENGE-REPLACES"
                });
            }
        }
        _ => {}
    }
}

/// Paths where `variant` (server settings other than the embedded target's `default`)
/// changes the answer to a client's request over a partner's static replica: the replica,
/// then the request, whose behaviour under `variant` the default never shows. Returned as
/// scripts labelled `label`-N.
pub(super) fn over_static(
    default: &ServerConfig,
    variant: &ServerConfig,
    dir: &str,
    label: &str,
) -> Vec<Generated> {
    let mut scripts = Vec::new();
    for (name, text) in [(0x00u8, "{N}<00>"), (0x1c, "{N}<1c>")] {
        let mut seen = BTreeSet::new();
        for rep in alphabet(name).into_iter().filter(|r| r.is_static) {
            let mut base = S::new(ME);
            let Some(pushed) = apply_replica(&mut base, variant, name, &rep, 1, None, &[]) else {
                continue;
            };
            for client in 1..=3 {
                for act in AFTER_ACTS {
                    // Every behaviour of the request under the default settings.
                    let usual: BTreeSet<String> = client_steps(&base, default, name, client, act)
                        .iter()
                        .map(coarse)
                        .collect();
                    for st in client_steps(&base, variant, name, client, act) {
                        let sig = coarse(&st);
                        if usual.contains(&sig) || !seen.insert(sig) {
                            continue;
                        }
                        let n = scripts.len() + 1;
                        let path = [RStep::Replica(Box::new(pushed.clone())), st];
                        scripts.push(Generated {
                            path: format!("{dir}/{label}-{n:04}.nbt"),
                            text: script_text(&path, text, &format!("{label}-{n}")),
                        });
                    }
                }
            }
        }
    }
    scripts
}
