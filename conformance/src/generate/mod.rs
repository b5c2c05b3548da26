//! `nbns-conform generate`: model-based generation of server scripts.
//!
//! The model's WINS server ([`nbns_model::server::Server`], the state machine the reference
//! target runs behind its packet layer) is explored breadth-first from an empty database
//! under sequences of requests from up to three clients on one name: registrations (unique,
//! group, multihomed; a group of a `<1C>` name is a special group), refreshes (unique and
//! group), releases, an answer to a challenge nobody sent, and, when a request makes the
//! server challenge holders, every holder's answer (claim, claim listing the requester's
//! address too for a multihomed request, release i.e. a negative answer, silence followed by
//! the challenge timeout). While a challenge runs, one more request may arrive (sequences of
//! at most [`Options::mid_depth`] steps): the requester's retransmission or a new request of
//! it, another client registering the requester's address or its own, a holder releasing or
//! registering again, an unasked answer. After every step a query from client3 shows the
//! record. Besides: the target's own name (a static record: group registration, group
//! refresh, release) and a special group filled to its limit.
//!
//! Each sequence gets a *path signature*, per step: the action, the sender's relation to the
//! record before the step (no record, holder, other), the record before (kind, state, number
//! of addresses), the request during the challenge and what it got, the challenge answers,
//! every packet the server sent (to the requester or a holder: WACK, challenge query,
//! response with op, rcode, group flag and number of addresses) and the record after (kind,
//! state, addresses, whether the sender is one of them). The signature is built from outputs
//! and state, not from instrumentation of `server.rs`. Only sequences whose signature is new
//! are kept and extended (shortest first); clients are numbered in order of first
//! appearance, so the same behaviour with clients renamed is generated once.
//! `scripts/generated-coverage.sh` measures the branches of `server.rs` the result reaches.
//!
//! Timers other than the challenge timeout (scavenging: active -> released -> tombstone ->
//! deleted) are left out: the embedded target runs with the default intervals (days), so a
//! script cannot wait for them.

mod domain;
mod replica;
mod settings;

use nbns_model::proto::{AddrList, NodeType, Opcode, Packet, Rcode};
use nbns_model::server::{Kind, RecState, Send, Server, ServerConfig};
use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::Path;

type S = Server<u8, u8>;
type Out = Vec<Send<u8, u8>>;

/// The server's address in the model (the clients are 1, 2, 3).
const ME: u8 = 100;
/// The client that sends the queries after each step.
const OBSERVER: u8 = 3;
/// TTL the scripts request (the runner's default).
const TTL: u32 = 300_000;
/// TTL the requests of the timer seeds ask for: the name runs out within the script (the
/// embedded target grants down to 1 s, see `nbns_reference::embedded::TEST_MIN_TTL`).
const SHORT_TTL: u32 = 2;
/// Seconds an [`Act::Wait`] waits beyond the timer it waits for: the target's clock counts
/// whole seconds, and the record must have changed by the time the script looks.
const WAIT_SLACK: u64 = 2;

/// Generation settings.
#[derive(Debug, Clone)]
pub struct Options {
    /// Longest sequence of requests.
    pub depth: usize,
    /// Most scripts per name (`<00>`, `<1C>`, `<1D>`); 0: no limit.
    pub max_per_name: usize,
    /// Silent challenge answers (each costs a challenge timeout when run) only in
    /// sequences of at most this many steps.
    pub silent_depth: usize,
    /// Requests sent while a challenge runs (see [`Mid`]) only in sequences of at most this
    /// many steps; such a sequence is not extended.
    pub mid_depth: usize,
    /// Longest sequence of the timer seeds (names that run out; each wait costs seconds).
    pub timer_depth: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            depth: 3,
            max_per_name: 0,
            silent_depth: 2,
            mid_depth: 2,
            timer_depth: 3,
        }
    }
}

/// What a client does in one step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum Act {
    RegUnique,
    RegGroup,
    RegMultihomed,
    RefreshUnique,
    RefreshGroup,
    Release,
    /// A positive answer to a challenge query nobody sent (no challenge is running).
    StrayAnswer,
    /// No request: time passes until the server's next timer has fired (scavenging), plus
    /// [`WAIT_SLACK`]. Only in the timer seeds, whose requests ask for [`SHORT_TTL`].
    Wait,
}

/// What the clients of a timer seed do: no challenges, no stray answers; time passes.
const TIMER_ACTS: [Act; 6] = [
    Act::RegUnique,
    Act::RegGroup,
    Act::RegMultihomed,
    Act::RefreshUnique,
    Act::Release,
    Act::Wait,
];

const ACTS: [Act; 7] = [
    Act::RegUnique,
    Act::RegGroup,
    Act::RegMultihomed,
    Act::RefreshUnique,
    Act::RefreshGroup,
    Act::Release,
    Act::StrayAnswer,
];

/// A request that arrives while the step's challenge runs (before any holder answers).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum MidKind {
    /// The requester sends its request again (same transaction id): a retransmission.
    Retransmit,
    /// The requester asks anew (a new transaction id).
    Again,
    /// Another client registers the requester's address (a unique registration).
    ForRequester,
    /// Another client registers the name for itself (unique).
    Register,
    /// Another client registers the name for itself and sends the request again (same
    /// transaction id) while it waits.
    RegisterTwice,
    /// A challenged holder releases the name.
    Release,
    /// A holder registers the name again (unique, its own address).
    HolderRegister,
    /// A holder registers the name again, multihomed.
    HolderMultihomed,
    /// A client nobody challenged answers as if challenged (positive, its address): with an
    /// id of its own, then with the challenge query's (the runner's `challenge stray=`), an
    /// answer from an address the server did not ask. The model takes the second (the
    /// first it drops on its id alike).
    Answer,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
struct Mid {
    client: u8,
    kind: MidKind,
}

/// A challenged holder's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum Answer {
    Claim,
    /// A claim listing the requester's address too (the same multihomed host).
    ClaimWithRequester,
    Release,
    Silent,
}

/// One step of a sequence: a client's request and the answers of the holders it challenges.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Step {
    client: u8,
    act: Act,
    /// The TTL the request asks for.
    ttl: u32,
    /// The request's NB address when it is not the sender's own.
    addr: Option<u8>,
    /// A request during the challenge.
    mid: Option<Mid>,
    answers: Vec<(u8, Answer)>,
}

/// What one step did, for the script and the signature.
#[derive(Debug, Clone)]
struct Done {
    step: Step,
    /// Sends of the request (before the answers), then of the answers and the timeout.
    out: Out,
    /// Sends for the request during the challenge.
    mid_out: Out,
    /// Whether the challenge ran out of time (a silent holder).
    timed_out: bool,
    before: Option<RecView>,
    after: Option<RecView>,
    /// The query after the step.
    query: Send<u8, u8>,
    /// Model time after the step; [`Act::Wait`] moves it on.
    now: u64,
    /// Seconds an [`Act::Wait`] waited.
    waited: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
struct RecView {
    kind: Kind,
    state: RecState,
    addrs: Vec<u8>,
}

fn view(s: &S, name: u8) -> Option<RecView> {
    s.record(&name).map(|r| RecView {
        kind: r.kind,
        state: r.state,
        addrs: r.addrs.iter().copied().collect(),
    })
}

fn cfg() -> ServerConfig {
    // The embedded reference target's settings (scavenging on a test's time scale).
    nbns_reference::embedded::test_config(0).server
}

/// An answer to a challenge query for `name`: `rcode`, listing `addrs`.
fn answer(name: u8, rcode: Rcode, addrs: Vec<u8>) -> Packet<u8, u8> {
    Packet::Response {
        op: Opcode::Query,
        name,
        rcode,
        ttl: TTL,
        group: false,
        addrs: AddrList::from(addrs),
    }
}

fn request(name: u8, client: u8, act: Act, ttl: u32) -> Packet<u8, u8> {
    let reg = |group, multihomed| Packet::Register {
        name,
        group,
        node: NodeType::H,
        ttl,
        addr: client,
        multihomed,
        broadcast: false,
    };
    let refresh = |group| Packet::Refresh {
        name,
        group,
        node: NodeType::H,
        ttl,
        addr: client,
    };
    match act {
        Act::RegUnique => reg(false, false),
        Act::RegGroup => reg(true, false),
        Act::RegMultihomed => reg(false, true),
        Act::RefreshUnique => refresh(false),
        Act::RefreshGroup => refresh(true),
        Act::Release => Packet::Release {
            name,
            group: false,
            node: NodeType::H,
            addr: client,
            broadcast: false,
        },
        Act::StrayAnswer => answer(name, Rcode::Ok, vec![client]),
        Act::Wait => unreachable!("a wait sends nothing"),
    }
}

/// Transaction id of the step's request (and of its retransmission), of a request during
/// the challenge, and of the holders' answers.
const XID: u16 = 1;
const MID_XID: u16 = 5;
const ANSWER_XID: u16 = 2;

/// Whom `client`'s `act` (asking `ttl`) would challenge on `s` at `now`: the request is
/// tried on a copy.
fn would_challenge(
    s: &S,
    cfg: &ServerConfig,
    now: u64,
    name: u8,
    client: u8,
    act: Act,
    ttl: u32,
) -> Vec<u8> {
    let mut probe = s.clone();
    let mut out = Vec::new();
    probe.handle(
        cfg,
        now,
        client,
        XID,
        request(name, client, act, ttl),
        &mut out,
    );
    challenged(&out)
}

/// The addresses the server challenged (challenge queries in `out`).
fn challenged(out: &Out) -> Vec<u8> {
    out.iter()
        .filter(|s| matches!(s.packet, Packet::Query { .. }))
        .map(|s| s.to)
        .collect()
}

/// Runs `step` on `s` at model time `now`; the holders' answers are fed in order, then the
/// timeout if a challenge is still pending.
fn apply(s: &mut S, cfg: &ServerConfig, name: u8, step: &Step, now: u64) -> Done {
    let before = view(s, name);
    let mut out = Vec::new();
    let addr = step.addr.unwrap_or(step.client);
    let (now, waited) = if step.act == Act::Wait {
        let due = s
            .next_deadline()
            .expect("a wait is offered only with a timer running");
        let until = due + WAIT_SLACK;
        s.on_timer(cfg, until, &mut out);
        (until, until - now)
    } else {
        s.handle(
            cfg,
            now,
            step.client,
            XID,
            request(name, addr, step.act, step.ttl),
            &mut out,
        );
        (now, 0)
    };
    let mut mid_out = Vec::new();
    if let Some(m) = step.mid {
        let req = |a, act| request(name, a, act, step.ttl);
        let (xid, p) = match m.kind {
            MidKind::Retransmit => (XID, req(addr, step.act)),
            MidKind::Again => (MID_XID, req(addr, step.act)),
            MidKind::ForRequester => (MID_XID, req(addr, Act::RegUnique)),
            MidKind::Register | MidKind::HolderRegister | MidKind::RegisterTwice => {
                (MID_XID, req(m.client, Act::RegUnique))
            }
            MidKind::HolderMultihomed => (MID_XID, req(m.client, Act::RegMultihomed)),
            MidKind::Release => (MID_XID, req(m.client, Act::Release)),
            // With the challenge's id, as if it had been asked.
            MidKind::Answer => (
                s.pending_for(&name).map_or(ANSWER_XID, |p| p.qxid),
                answer(name, Rcode::Ok, vec![m.client]),
            ),
        };
        if m.kind == MidKind::RegisterTwice {
            s.handle(cfg, now, m.client, xid, p.clone(), &mut mid_out);
        }
        s.handle(cfg, now, m.client, xid, p, &mut mid_out);
    }
    for &(holder, answer) in &step.answers {
        answer_challenge(s, cfg, now, name, (holder, answer), step.client, &mut out);
    }
    let timed_out = s.pending_for(&name).is_some();
    if timed_out {
        s.challenge_timeout(cfg, now, &name, &mut out);
    }
    assert!(
        s.pending_for(&name).is_none(),
        "a challenge left pending: {step:?} {out:?} {mid_out:?}"
    );
    let after = view(s, name);
    let mut q = Vec::new();
    s.handle(
        cfg,
        now,
        OBSERVER,
        3,
        Packet::Query {
            name,
            broadcast: false,
        },
        &mut q,
    );
    Done {
        step: step.clone(),
        out,
        mid_out,
        timed_out,
        before,
        after,
        query: q.remove(0),
        now,
        waited,
    }
}

/// Feeds `holder`'s `answer` to the challenge running for `name` (nothing for silence); a
/// claim with the requester lists `requester`'s address too.
fn answer_challenge(
    s: &mut S,
    cfg: &ServerConfig,
    now: u64,
    name: u8,
    (holder, reply): (u8, Answer),
    requester: u8,
    out: &mut Out,
) {
    let (rcode, addrs) = match reply {
        Answer::Claim => (Rcode::Ok, vec![holder]),
        Answer::ClaimWithRequester => {
            let mut v = vec![holder, requester];
            v.sort();
            (Rcode::Ok, v)
        }
        Answer::Release => (Rcode::NamErr, vec![]),
        Answer::Silent => return,
    };
    // The answer carries the challenge's id, as a holder's answer does.
    let qxid = s.pending_for(&name).map_or(0, |p| p.qxid);
    s.handle(cfg, now, holder, qxid, answer(name, rcode, addrs), out);
}

/// Every way the holders `holders` may answer a challenge of `act`.
fn answer_sets(act: Act, holders: &[u8], silent: bool) -> Vec<Vec<(u8, Answer)>> {
    let mut choices = vec![Answer::Claim, Answer::Release];
    if act == Act::RegMultihomed {
        choices.push(Answer::ClaimWithRequester);
    }
    if silent {
        choices.push(Answer::Silent);
    }
    let mut sets = vec![Vec::new()];
    for &h in holders {
        let mut next = Vec::new();
        for set in &sets {
            for &c in &choices {
                let mut s: Vec<(u8, Answer)> = set.clone();
                s.push((h, c));
                next.push(s);
            }
        }
        sets = next;
    }
    sets
}

fn sig_of_last(path: &[Done]) -> String {
    path.last().map(step_signature).unwrap_or_default()
}

/// The signature of one step, from outputs and state (see the module documentation).
fn step_signature(d: &Done) -> String {
    let who = |a: u8| {
        if a == d.step.client {
            "req".to_string()
        } else if d.before.as_ref().is_some_and(|r| r.addrs.contains(&a)) {
            "holder".to_string()
        } else {
            "other".to_string()
        }
    };
    let rec = |r: &Option<RecView>, sender: bool| match r {
        None => "none".to_string(),
        Some(r) => format!(
            "{:?}/{:?}/{}{}",
            r.kind,
            r.state,
            r.addrs.len(),
            if sender {
                if r.addrs.contains(&d.step.client) {
                    "+s"
                } else {
                    "-s"
                }
            } else {
                ""
            }
        ),
    };
    let mut sig = format!(
        "{:?} by {} on {} |",
        d.step.act,
        d.before.as_ref().map_or("none".to_string(), |r| {
            if r.addrs.contains(&d.step.client) {
                "holder".into()
            } else {
                "other".into()
            }
        }),
        rec(&d.before, false)
    );
    if let Some(a) = d.step.addr {
        let _ = write!(sig, " for {} |", who(a));
    }
    if let Some(m) = d.step.mid {
        let _ = write!(sig, " during {:?} by {} ->", m.kind, who(m.client));
        for s in &d.mid_out {
            let _ = write!(sig, " {}:{}", who(s.to), packet_signature(&s.packet));
        }
        sig.push_str(" |");
    }
    let mut answers: Vec<Answer> = d.step.answers.iter().map(|a| a.1).collect();
    answers.sort();
    let _ = write!(sig, " answers {answers:?} |");
    for s in &d.out {
        let _ = write!(sig, " {}:{}", who(s.to), packet_signature(&s.packet));
    }
    let _ = write!(
        sig,
        " | after {} | query {}",
        rec(&d.after, true),
        packet_signature(&d.query.packet)
    );
    sig
}

fn packet_signature(p: &Packet<u8, u8>) -> String {
    match p {
        Packet::Response {
            op,
            rcode,
            group,
            addrs,
            ..
        } => format!("{op:?}/{rcode:?}/g{}/{}", u8::from(*group), addrs.len()),
        Packet::Wack { .. } => "wack".into(),
        Packet::Query { .. } => "challenge".into(),
        other => format!("{other:?}"),
    }
}

/// One generated script: its path under the output directory and its text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Generated {
    pub path: String,
    pub text: String,
}

/// Figures of a generation.
#[derive(Debug, Clone, Default)]
pub struct Stats {
    /// Sequences run through the model.
    pub explored: usize,
    /// Distinct path signatures (= scripts).
    pub distinct: usize,
    /// Distinct step signatures (one step's behaviour).
    pub step_signatures: usize,
    /// Scripts with a silent holder (each waits for a challenge timeout).
    pub with_timeout: usize,
}

/// The name the generator gives the target's own name (`{target_name}<00>`, a static unique
/// record of the server's address).
const OWN: u8 = 0x00;

/// One name the generator explores.
struct Seed<'a> {
    name: u8,
    dir: &'static str,
    /// The name as the scripts write it.
    text: &'static str,
    depth: usize,
    acts: &'a [Act],
    server: S,
    /// The TTL its requests ask for.
    ttl: u32,
    /// Most clients in a sequence.
    clients: u8,
    /// A timer seed: time may pass ([`Act::Wait`]), requests that challenge a holder are
    /// left out (the challenge scripts cover them; here they would only add waiting).
    timers: bool,
}

/// Explores the model and returns the scripts (sorted by path) and the figures.
pub fn generate(opts: &Options) -> (Vec<Generated>, Stats) {
    let cfg = cfg();
    let mut scripts = Vec::new();
    let mut stats = Stats::default();
    let mut steps_seen = BTreeSet::new();
    // Explicit transaction ids of retransmitted requests: below the runner's own ids.
    let mut next_id: u16 = 0x10;
    let mut own = S::new(ME);
    own.add_static(0, OWN, Kind::Unique, vec![ME]);
    // The packet layer defends the target's own unique names before the server sees the
    // request (RFC 1002 5.1.1): only what reaches the server is explored.
    let own_acts = [Act::RegGroup, Act::RefreshGroup, Act::Release];
    // `<00>`: unique, normal group, multihomed; `<1C>`: a group is a special group; `<1D>`:
    // the local master browser name, acknowledged and never stored (so its sequences longer
    // than one step repeat the first); the target's own `<00>`, whose record no request can
    // change.
    let seeds = [
        Seed {
            name: 0x00,
            dir: "n00",
            text: "{N}<00>",
            depth: opts.depth,
            acts: &ACTS,
            server: S::new(ME),
            ttl: TTL,
            clients: 3,
            timers: false,
        },
        Seed {
            name: 0x1c,
            dir: "n1c",
            text: "{N}<1c>",
            depth: opts.depth,
            acts: &ACTS,
            server: S::new(ME),
            ttl: TTL,
            clients: 3,
            timers: false,
        },
        Seed {
            name: 0x1d,
            dir: "n1d",
            text: "{N}<1d>",
            depth: opts.depth.min(1),
            acts: &ACTS,
            server: S::new(ME),
            ttl: TTL,
            clients: 3,
            timers: false,
        },
        Seed {
            name: OWN,
            dir: "own",
            text: "{target_name}<00>",
            depth: opts.depth.min(1),
            acts: &own_acts,
            server: own,
            ttl: TTL,
            clients: 3,
            timers: false,
        },
        // Names that run out: registered with a short TTL, then time passes (released ->
        // tombstone -> deleted at the target's test intervals).
        Seed {
            name: 0x00,
            dir: "t00",
            text: "{N}<00>",
            depth: opts.timer_depth,
            acts: &TIMER_ACTS,
            server: S::new(ME),
            ttl: SHORT_TTL,
            clients: 2,
            timers: true,
        },
        Seed {
            name: 0x1c,
            dir: "t1c",
            text: "{N}<1c>",
            depth: opts.timer_depth,
            acts: &TIMER_ACTS,
            server: S::new(ME),
            ttl: SHORT_TTL,
            clients: 2,
            timers: true,
        },
    ];
    for seed in seeds {
        let name = seed.name;
        // Breadth-first: a level holds the kept sequences of one length.
        let mut seen: BTreeSet<Vec<String>> = BTreeSet::new();
        let mut timer_steps: BTreeSet<String> = BTreeSet::new();
        let mut level: Vec<(Vec<Done>, S)> = vec![(Vec::new(), seed.server.clone())];
        let mut kept = 0usize;
        // A timer seed goes one step further, where only a wait after a wait (the
        // tombstone's deletion) is new.
        let deepest = seed.depth + usize::from(seed.timers);
        'levels: for depth in 1..=deepest {
            let mut next = Vec::new();
            for (path, server) in &level {
                let now = path.last().map_or(0, |d| d.now);
                let used = path
                    .iter()
                    .flat_map(|d| {
                        std::iter::once(d.step.client).chain(d.step.mid.map(|m| m.client))
                    })
                    .max()
                    .unwrap_or(0);
                let silent = depth <= opts.silent_depth;
                for client in 1..=(used + 1).min(seed.clients) {
                    for &act in seed.acts {
                        // Time passes for nobody in particular (once, as client 1), and only
                        // while a timer runs.
                        if act == Act::Wait && (client != 1 || server.next_deadline().is_none()) {
                            continue;
                        }
                        let after_wait = path.last().is_some_and(|d| d.step.act == Act::Wait);
                        if depth > seed.depth && (act != Act::Wait || !after_wait) {
                            continue;
                        }
                        // Probe the request alone to see whom it challenges.
                        let holders = if act == Act::Wait {
                            Vec::new()
                        } else {
                            would_challenge(server, &cfg, now, name, client, act, seed.ttl)
                        };
                        if seed.timers && !holders.is_empty() {
                            continue;
                        }
                        let mut mids = vec![None];
                        if !holders.is_empty() && depth <= opts.mid_depth {
                            for kind in [MidKind::Retransmit, MidKind::Again] {
                                mids.push(Some(Mid { client, kind }));
                            }
                            let other = (1..=3).find(|c| *c != client && !holders.contains(c));
                            if let Some(o) = other {
                                for kind in [
                                    MidKind::ForRequester,
                                    MidKind::Register,
                                    MidKind::RegisterTwice,
                                    MidKind::Answer,
                                ] {
                                    mids.push(Some(Mid { client: o, kind }));
                                }
                            }
                            // (Not the requester itself, a holder challenged by its own
                            // group registration: its two requests' answers would interleave.)
                            for &h in holders.iter().filter(|h| **h <= 3 && **h != client) {
                                // Not a holder's group registration: Samba challenges
                                // that holder a second time, and which of the two
                                // challenges the script's one answer reaches decides.
                                for kind in [
                                    MidKind::Release,
                                    MidKind::HolderRegister,
                                    MidKind::HolderMultihomed,
                                ] {
                                    mids.push(Some(Mid { client: h, kind }));
                                }
                            }
                        }
                        for mid in mids {
                            for answers in answer_sets(act, &holders, silent) {
                                stats.explored += 1;
                                let step = Step {
                                    client,
                                    act,
                                    ttl: seed.ttl,
                                    addr: None,
                                    mid,
                                    answers,
                                };
                                let mut s = server.clone();
                                let done = apply(&mut s, &cfg, name, &step, now);
                                let sig = step_signature(&done);
                                steps_seen.insert(sig.clone());
                                // An answer nobody asked for changes nothing: one script
                                // per step signature (the record it meets), never extended.
                                let full: Vec<String> = if act == Act::StrayAnswer {
                                    vec![sig]
                                } else {
                                    path.iter()
                                        .map(step_signature)
                                        .chain(std::iter::once(sig))
                                        .collect()
                                };
                                if !seen.insert(full) {
                                    continue;
                                }
                                let mut p = path.clone();
                                p.push(done);
                                // A timer seed writes a sequence only for a step behaviour
                                // it has not shown yet (sequences of waits and requests are
                                // many, the behaviours few), and one with a wait (without,
                                // it repeats what the other seeds show); it extends all.
                                if seed.timers
                                    && (!p.iter().any(|d| d.step.act == Act::Wait)
                                        || !timer_steps.insert(sig_of_last(&p)))
                                {
                                    next.push((p, s));
                                    continue;
                                }
                                kept += 1;
                                let id = p
                                    .iter()
                                    .any(|d| {
                                        d.step.mid.is_some_and(|m| {
                                            matches!(
                                                m.kind,
                                                MidKind::Retransmit
                                                    | MidKind::Again
                                                    | MidKind::RegisterTwice
                                            )
                                        })
                                    })
                                    .then(|| {
                                        next_id += 1;
                                        next_id - 1
                                    });
                                assert!(next_id < 0x100, "too many retransmission ids");
                                scripts.push(Generated {
                                    path: format!("{}/d{depth}-{kept:04}.nbt", seed.dir),
                                    text: script_text(
                                        &p,
                                        seed.text,
                                        &format!("{}-{kept}", seed.dir.trim_start_matches('n')),
                                        id,
                                    ),
                                });
                                if p.iter().any(|d| d.timed_out) {
                                    stats.with_timeout += 1;
                                }
                                // Not extended: every script waits for one timeout at most,
                                // and has one request during a challenge at most.
                                if !p.iter().any(|d| {
                                    d.timed_out
                                        || d.step.mid.is_some()
                                        || d.step.act == Act::StrayAnswer
                                }) {
                                    next.push((p, s));
                                }
                                if opts.max_per_name > 0 && kept >= opts.max_per_name {
                                    break 'levels;
                                }
                            }
                        }
                    }
                }
            }
            level = next;
        }
        stats.distinct += kept;
    }
    // A special group filled to its limit: one more member is refused.
    let mut s = S::new(ME);
    let full: Vec<Done> = (0..=cfg.special_group_max)
        .map(|i| {
            let step = Step {
                client: 1,
                act: Act::RegGroup,
                ttl: TTL,
                addr: Some(FIRST_OTHER + u8::try_from(i).expect("a small limit")),
                mid: None,
                answers: Vec::new(),
            };
            // The first member 2 s before the others: unambiguously the oldest, also for a
            // server keeping whole seconds and a run that crosses a second.
            apply(
                &mut s,
                &cfg,
                0x1c,
                &step,
                if i == 0 { 0 } else { OLDEST_FIRST },
            )
        })
        .collect();
    scripts.push(Generated {
        path: "n1c/full.nbt".into(),
        text: oldest_first(script_text(&full, "{N}<1c>", "1c-full", None)),
    });
    stats.distinct += 1;
    let domain = domain::scripts(&cfg);
    stats.distinct += domain.len();
    scripts.extend(domain);
    scripts.extend(replica::generate(&cfg, &mut stats));
    scripts.extend(settings::scripts(&cfg, &mut stats));
    stats.step_signatures = steps_seen.len();
    scripts.sort_by(|a, b| a.path.cmp(&b.path));
    (scripts, stats)
}

/// Seconds between a full special group's first member and the others.
const OLDEST_FIRST: u64 = 2;

/// A script whose first member registration (the first `send` with `group`) is followed,
/// after its answer and the query after it, by a wait of [`OLDEST_FIRST`] seconds.
fn oldest_first(text: String) -> String {
    let mut out = String::new();
    let mut sends = 0;
    let mut waited = false;
    for line in text.lines() {
        if line.starts_with("send") && line.contains(" group") {
            sends += 1;
            if sends == 2 && !waited {
                let _ = writeln!(out, "wait      for={OLDEST_FIRST}s");
                waited = true;
            }
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// Model addresses from here on are hosts that are not the runner's clients (the scripts
/// write them as 192.0.2.N, TEST-NET-1).
const FIRST_OTHER: u8 = 10;

fn act_text(a: Act) -> &'static str {
    match a {
        Act::RegUnique => "registers unique",
        Act::RegGroup => "registers group",
        Act::RegMultihomed => "registers multihomed",
        Act::RefreshUnique => "refreshes unique",
        Act::RefreshGroup => "refreshes group",
        Act::Release => "releases",
        Act::StrayAnswer => "answers a challenge nobody sent",
        Act::Wait => "waits",
    }
}

fn mid_text(m: MidKind) -> &'static str {
    match m {
        MidKind::Retransmit => "sends its request again",
        MidKind::Again => "asks again with a new transaction id",
        MidKind::ForRequester => "registers the requester's address",
        MidKind::Register => "registers unique",
        MidKind::RegisterTwice => "registers unique and sends it again",
        MidKind::Release => "releases",
        MidKind::HolderRegister => "registers unique again",
        MidKind::HolderMultihomed => "registers multihomed again",
        MidKind::Answer => "answers the challenge unasked",
    }
}

fn answer_text(a: Answer) -> &'static str {
    match a {
        Answer::Claim => "claims",
        Answer::ClaimWithRequester => "claims with the requester's address",
        Answer::Release => "answers negatively",
        Answer::Silent => "stays silent",
    }
}

fn addrs_text(addrs: &[u8]) -> String {
    if addrs.is_empty() {
        return "none".into();
    }
    addrs
        .iter()
        .map(|&a| match a {
            ME => "{target_ip}".to_string(),
            a if a >= FIRST_OTHER => format!("192.0.2.{a}"),
            a => format!("{{client{a}}}"),
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// The `op=` of an answer as the reference puts it on the wire: registrations, multihomed
/// registrations and refreshes are all answered with opcode 5.
fn op_text(op: Opcode) -> &'static str {
    match op {
        Opcode::Query => "query",
        Opcode::Release => "release",
        _ => "register",
    }
}

/// The `expect` fields of a response.
/// `echo`: the request's address and group flag, which the reference puts in a release
/// response the model gives without an entry (a release of a name it does not hold).
fn expect_fields(p: &Packet<u8, u8>, echo: Option<(u8, bool)>) -> String {
    let Packet::Response {
        op,
        rcode,
        group,
        addrs,
        ..
    } = p
    else {
        unreachable!("a response")
    };
    let mut t = format!("rcode={} op={}", rcode.name(), op_text(*op));
    let (group, addrs) = match echo {
        Some((a, g)) if *op == Opcode::Release && addrs.is_empty() => (g, AddrList::one(a)),
        _ => (*group, addrs.clone()),
    };
    let (group, addrs) = (&group, &addrs);
    if *rcode == Rcode::Ok {
        let addrs = if *op == Opcode::Query && *group && addrs.is_empty() {
            // A normal group: the limited broadcast address (MS-WINSRA 2.2.10.1).
            "255.255.255.255".to_string()
        } else {
            addrs_text(addrs)
        };
        let _ = write!(
            t,
            " addrs={addrs} group={}",
            if *group { "yes" } else { "no" }
        );
    }
    t
}

/// Rule IDs (conformance/rules.txt) a step exercises, from its behaviour.
fn rules_of(d: &Done, rules: &mut BTreeSet<&'static str>) {
    let final_resp = d.out.iter().find_map(|s| match &s.packet {
        Packet::Response { rcode, .. } if s.to == d.step.client => Some(*rcode),
        _ => None,
    });
    let wack = d
        .out
        .iter()
        .any(|s| matches!(s.packet, Packet::Wack { .. }));
    let before_active = d.before.as_ref().filter(|r| r.state == RecState::Active);
    let holder = before_active.is_some_and(|r| r.addrs.contains(&d.step.client));
    let is_reg = matches!(
        d.step.act,
        Act::RegUnique | Act::RegGroup | Act::RegMultihomed
    );
    if wack {
        rules.insert("RFC1002-5.1.4-REG-HELD-WACK");
        rules.insert("RFC1002-5.1.4-CHALLENGE-QUERY");
        rules.insert("RFC1002-4.2.16-ONE-FINAL");
        rules.insert("RFC1002-4.2.16-TRN-ID");
        for (_, a) in &d.step.answers {
            rules.insert(match a {
                Answer::Claim => "RFC1002-5.1.4-CHALLENGE-CLAIMED",
                Answer::ClaimWithRequester => "NBTE-3.2.5.3-MH-ADD-ADDR",
                Answer::Release => "RFC1002-5.1.4-CHALLENGE-DENIED",
                Answer::Silent => "RFC1002-5.1.4-CHALLENGE-SILENT",
            });
        }
    }
    if d.step.act == Act::RegMultihomed {
        rules.insert("NBTE-2.2.2-MH-OPCODE-F");
        rules.insert("NBTE-2.2.2-MH-RESPONSE-OPCODE");
    }
    match d.step.act {
        _ if is_reg => match before_active {
            None if d.before.is_some() => {
                rules.insert("RFC1002-5.1.4-REG-OVER-RELEASED");
            }
            None => {
                rules.insert("RFC1002-5.1.4-REG-NEW");
            }
            Some(r) => {
                let group_rec = matches!(r.kind, Kind::Group | Kind::SpecialGroup);
                match (d.step.act == Act::RegGroup, group_rec) {
                    (true, true) if r.kind == Kind::SpecialGroup => {
                        rules.insert("IMPL-1C-SPECIAL-GROUP");
                        rules.insert("NBTE-3.2.5.1-GROUP-APPEND");
                    }
                    (true, true) => {
                        rules.insert("RFC1002-5.1.4-GROUP-JOIN");
                    }
                    (true, false) => {
                        rules.insert("RFC1002-5.1.4-GROUP-OVER-UNIQUE");
                    }
                    (false, true) => {
                        rules.insert("RFC1002-5.1.4-UNIQUE-OVER-GROUP");
                    }
                    (false, false) if holder => {
                        rules.insert("RFC1002-5.1.4-REG-SAME-ADDR");
                    }
                    (false, false) => {}
                }
            }
        },
        Act::RefreshUnique | Act::RefreshGroup => {
            rules.insert("RFC1002-4.2.4-REFRESH-OPCODE-8");
            match before_active {
                None => {
                    rules.insert("RFC1002-4.2.4-REFRESH-UNKNOWN-AS-REG");
                }
                Some(_) if final_resp == Some(Rcode::ActErr) && !wack => {
                    rules.insert("RFC1002-4.2.4-REFRESH-GROUP-MISMATCH");
                }
                Some(_) if holder => {
                    rules.insert("RFC1002-4.2.4-REFRESH-HOLDER");
                }
                Some(_) => {}
            }
        }
        Act::StrayAnswer => {
            rules.insert("RFC1002-5.1.4-REQUEST-ONLY");
        }
        _ => match before_active {
            None => {
                rules.insert("RFC1002-4.2.11-RDATA");
            }
            Some(r) if r.kind == Kind::SpecialGroup && holder => {
                rules.insert("IMPL-1C-RELEASE-MEMBER");
            }
            Some(_) if holder => {
                rules.insert("RFC1002-4.2.9-HOLDER-RELEASES");
                rules.insert("RFC1002-4.2.10-RDATA");
            }
            Some(_) => {
                rules.insert("RFC1002-4.2.11-NONOWNER-ACT");
                rules.insert("RFC1002-4.2.11-NONOWNER-UNCHANGED");
            }
        },
    }
    if let Some(m) = d.step.mid {
        rules.insert(match m.kind {
            MidKind::Retransmit => "RFC1002-5.1.4-RETRANSMIT-IN-WACK",
            MidKind::Again => "RFC1002-4.2.16-TRN-ID",
            MidKind::Answer => "RFC1002-5.1.4-REQUEST-ONLY",
            MidKind::RegisterTwice => "RFC1002-5.1.4-RETRANSMIT-IN-WACK",
            _ => "RFC1002-5.1.4-REG-HELD-WACK",
        });
    }
    if d.before.as_ref().is_some_and(|r| r.addrs.contains(&ME)) {
        rules.insert("RFC1002-5.1.1-ANSWER-OWN-QUERY");
    }
    if d.step.addr.is_some() && d.before.as_ref().is_some_and(|r| r.addrs.len() >= 25) {
        rules.insert("NBTE-3.2.1-25-ADDRESSES");
    }
    if final_resp.is_some_and(|r| r != Rcode::Ok) && is_reg {
        rules.insert("RFC1002-4.2.6-UNCHANGED-AFTER-NEG");
    }
    // The query after the step.
    if let Packet::Response {
        rcode,
        group,
        addrs,
        ..
    } = &d.query.packet
    {
        match (rcode, d.after.as_ref()) {
            (Rcode::NamErr, None) => {
                rules.insert("RFC1002-5.1.4-QUERY-UNKNOWN");
            }
            (Rcode::NamErr, Some(_)) => {
                rules.insert("RFC1002-5.1.4-QUERY-RELEASED-UNIQUE");
            }
            (Rcode::Ok, _) if *group && addrs.is_empty() => {
                rules.insert("WINSRA-2.2.10.1-NGROUP-BCAST");
            }
            (Rcode::Ok, Some(r)) if r.kind == Kind::Multihomed => {
                rules.insert("NBTE-3.2.5.3-MH-QUERY-ALL");
            }
            _ => {
                rules.insert("RFC1002-4.2.5-RESOLVES-AFTER");
            }
        }
    }
}

/// The `send` line of a request: `op` and `group`, from `client`, for `addr` (None: its own).
fn send_line(
    op: &str,
    name: &str,
    group: bool,
    (client, ttl): (u8, u32),
    addr: Option<u8>,
    id: Option<u16>,
) -> String {
    let mut t = format!("send      op={op} name={name}");
    if group {
        t.push_str(" group");
    }
    if ttl != TTL && op != "release" {
        let _ = write!(t, " ttl={ttl}");
    }
    if client != 1 {
        let _ = write!(t, " from=client{client}");
    }
    if let Some(a) = addr {
        let _ = write!(t, " addr={}", addrs_text(&[a]));
    }
    if let Some(id) = id {
        let _ = write!(t, " id=0x{id:04x}");
    }
    t
}

/// The `expect` line for what `client` got in `out`: the response (after a WACK when
/// `wack`), a WACK alone, or nothing.
/// `holders`: how many addresses held the name, whom another server may challenge first.
fn expect_line(out: &Out, client: u8, echo: (u8, bool), wait: &str, holders: usize) -> String {
    let wack = out
        .iter()
        .any(|s| s.to == client && matches!(s.packet, Packet::Wack { .. }));
    match out
        .iter()
        .find(|s| s.to == client && matches!(s.packet, Packet::Response { .. }))
    {
        Some(s) => {
            // A registration or refresh the model answers at once may be challenged first
            // by another server (Samba challenges a unique holder before refusing a group
            // registration, and each of several registrants): the script waits as long as
            // the AD DC's WACK says such a challenge may take (5 + 4 s a holder), so the
            // verdict does not race its answer (about 3 s: it comes in the wait; nmbd's,
            // about 20 s: it does not).
            let challengeable = matches!(
                s.packet,
                Packet::Response {
                    op: Opcode::Registration | Opcode::MultihomedRegistration | Opcode::Refresh,
                    ..
                }
            );
            let wait = if !wack && wait.is_empty() && challengeable && holders > 0 {
                format!(" timeout={}s", 5 + 4 * holders)
            } else {
                wait.to_string()
            };
            format!(
                "expect    to=client{client}{} {}{wait}",
                if wack { " wack=1.." } else { "" },
                expect_fields(&s.packet, Some(echo)),
            )
        }
        None if wack => format!("expect    to=client{client} wack-only"),
        None => format!("expect-none to=client{client} within=1s"),
    }
}

fn script_text(path: &[Done], name: &str, label: &str, id: Option<u16>) -> String {
    let story: Vec<String> = path
        .iter()
        .map(|d| {
            if d.step.act == Act::Wait {
                return format!("{} s pass", d.waited);
            }
            let mut t = format!("client{} {}", d.step.client, act_text(d.step.act));
            if let Some(a) = d.step.addr {
                let _ = write!(t, " for {}", addrs_text(&[a]));
            }
            if let Some(m) = d.step.mid {
                let _ = write!(t, ", client{} {}", m.client, mid_text(m.kind));
            }
            for (h, a) in &d.step.answers {
                let _ = write!(t, ", client{h} {}", answer_text(*a));
            }
            t
        })
        .collect();
    let mut rules = BTreeSet::new();
    for d in path {
        rules_of(d, &mut rules);
    }
    let mut tags = vec!["generated"];
    if path.iter().any(|d| !d.step.answers.is_empty()) {
        tags.push("challenge");
    }
    if path.iter().any(|d| d.step.mid.is_some()) {
        tags.push("during-challenge");
    }
    if path.iter().any(|d| d.timed_out) {
        tags.push("timeout");
    }
    if path.iter().any(|d| d.step.act == Act::Wait) {
        tags.push("scavenging");
    }
    let mut t = String::new();
    // A long sequence (the special group filled up) is told by its ends.
    let story = if story.len() > 4 {
        let n = story.len();
        format!(
            "{}; {}; ... ({} more); {}",
            story[0],
            story[1],
            n - 3,
            story[n - 1]
        )
    } else {
        story.join("; ")
    };
    t.push_str(&header(label, &story, &tags, rules));
    for d in path {
        let _ = writeln!(t, "# {}", step_signature(d));
    }
    if path.iter().any(|d| d.timed_out) {
        let _ = writeln!(t, "limit     time=90s");
    }
    let waits: u64 = path.iter().map(|d| d.waited).sum();
    if waits > 0 {
        let _ = writeln!(
            t,
            "# Needs the embedded target's test intervals: TTLs of {SHORT_TTL} s granted, extinction interval and timeout {ext} s (nbns-conform serve --min-ttl 1 --extinction-interval {ext} --extinction-timeout {ext}).",
            ext = nbns_reference::embedded::TEST_EXTINCTION,
        );
        let _ = writeln!(t, "limit     time={}s", waits + 30);
    }
    if name.contains("{N}") {
        let _ = writeln!(t, "set N = {{run}}GEN");
    }
    for d in path {
        if d.step.act == Act::Wait {
            let _ = writeln!(t, "wait      for={}s", d.waited);
            query_lines(&mut t, name, d);
            continue;
        }
        let c = d.step.client;
        let release_group = d
            .before
            .as_ref()
            .is_some_and(|r| matches!(r.kind, Kind::Group | Kind::SpecialGroup));
        let (op, group) = match d.step.act {
            Act::RegUnique => ("register", false),
            Act::RegGroup => ("register", true),
            Act::RegMultihomed => ("multihomed", false),
            Act::RefreshUnique => ("refresh", false),
            Act::RefreshGroup => ("refresh", true),
            Act::Release => ("release", release_group),
            Act::StrayAnswer => ("query", false),
            Act::Wait => unreachable!("written above"),
        };
        if d.step.act == Act::StrayAnswer {
            let _ = writeln!(
                t,
                "send      op=query name={name} response section=answer no-question{}",
                if c == 1 {
                    String::new()
                } else {
                    format!(" from=client{c}")
                }
            );
        } else {
            let retransmit = d
                .step
                .mid
                .is_some_and(|m| matches!(m.kind, MidKind::Retransmit | MidKind::Again));
            let _ = writeln!(
                t,
                "{}",
                send_line(
                    op,
                    name,
                    group,
                    (c, d.step.ttl),
                    d.step.addr,
                    id.filter(|_| retransmit)
                )
            );
        }
        let holders = d
            .before
            .as_ref()
            .filter(|r| r.state == RecState::Active && r.kind.is_unique())
            .map_or(0, |r| r.addrs.len());
        if let Some(m) = d.step.mid {
            // The request's WACK first: the target has taken the request and started its
            // challenge before anything else arrives (else a target may take the next request
            // first, and the script would test a race).
            let _ = writeln!(t, "expect    to=client{c} wack-only");
            let mc = m.client;
            match m.kind {
                MidKind::Retransmit => {
                    let _ = writeln!(
                        t,
                        "{}",
                        send_line(op, name, group, (c, d.step.ttl), d.step.addr, id)
                    );
                }
                MidKind::Again => {
                    let _ = writeln!(
                        t,
                        "{}",
                        send_line(op, name, group, (c, d.step.ttl), d.step.addr, None)
                    );
                    // Only what answers the second request (the first's answers are below).
                    let second: Out = d
                        .mid_out
                        .iter()
                        .filter(|s| s.xid == MID_XID)
                        .cloned()
                        .collect();
                    let _ = writeln!(t, "{}", expect_line(&second, c, (c, group), "", holders));
                }
                // Twice: with an id of its own now, dropped as an answer to nothing; and
                // with the challenge query's id, which only a client that saw the query
                // knows, on the first holder's `challenge` line below (`stray=`).
                MidKind::Answer => {
                    let _ = writeln!(
                        t,
                        "send      op=query name={name} response section=answer no-question from=client{mc}"
                    );
                    let _ = writeln!(
                        t,
                        "{}",
                        expect_line(&d.mid_out, mc, (mc, false), "", holders)
                    );
                }
                kind => {
                    let (op, group, addr) = match kind {
                        MidKind::ForRequester => {
                            ("register", false, Some(d.step.addr.unwrap_or(c)))
                        }
                        MidKind::Release => ("release", release_group, None),
                        MidKind::HolderMultihomed => ("multihomed", false, None),
                        _ => ("register", false, None),
                    };
                    // A request sent twice carries the script's fixed transaction id.
                    let twice = kind == MidKind::RegisterTwice;
                    let mid_id = id.filter(|_| twice);
                    let send = send_line(op, name, group, (mc, d.step.ttl), addr, mid_id);
                    let _ = writeln!(t, "{send}");
                    let echo = (addr.unwrap_or(mc), group);
                    let _ = writeln!(t, "{}", expect_line(&d.mid_out, mc, echo, "", holders));
                    if twice {
                        // The copy gets nothing: its WACK was sent, its answer comes with
                        // the decision.
                        let _ = writeln!(t, "{send}");
                        let _ = writeln!(t, "expect-none to=client{mc} within=1s");
                    }
                }
            }
        }
        // The client whose registration waited for the step's challenge (a final answer
        // with the decision).
        let queued = d.step.mid.map(|m| m.client).filter(|&m| {
            m != c
                && d.out.iter().any(|s| {
                    s.to == m && s.xid == MID_XID && matches!(s.packet, Packet::Response { .. })
                })
        });
        let mut stray = d
            .step
            .mid
            .filter(|m| m.kind == MidKind::Answer)
            .map(|m| format!(" stray=client{}", m.client));
        for (h, a) in &d.step.answers {
            let (reply, addr) = match a {
                Answer::Claim => ("claim", String::new()),
                Answer::ClaimWithRequester => {
                    let mut v = vec![*h, c];
                    v.sort();
                    ("claim", format!(" addr={}", addrs_text(&v)))
                }
                Answer::Release => ("release", String::new()),
                Answer::Silent => ("silent", String::new()),
            };
            // The reference challenges at once; a target that refuses without a challenge
            // fails in 2 s instead of the default 10. With a request in between, the query
            // came before that request: it is the one after the requester's.
            let _ = writeln!(
                t,
                "challenge to=client{h} name={name} reply={reply}{addr}{} timeout=2s{}",
                stray.take().unwrap_or_default(),
                if d.step.mid.is_some() {
                    format!(" after=client{c}")
                } else {
                    String::new()
                }
            );
            // A registration that waited for this challenge: the model asks the holder once,
            // a target that challenges every registrant (Samba) asks again, and a holder
            // answers every query alike.
            if let Some(m) = queued.filter(|_| *a != Answer::Silent) {
                let _ = writeln!(
                    t,
                    "challenge to=client{h} name={name} reply={reply}{addr} timeout=2s after=client{m} optional"
                );
            }
        }
        let echo = (d.step.addr.unwrap_or(c), group);
        // With a request during the challenge the WACK was taken before, so the wait for
        // the final answer is the WACK's (60 s at Samba), not the runner's extension of it.
        let wait = match (d.timed_out, d.step.mid.is_some()) {
            (true, true) => " timeout=60s",
            (true, false) => " timeout=20s",
            (false, true) => " timeout=15s",
            (false, false) => "",
        };
        // The request's answers, those a request during the challenge brought about too
        // (a holder registering again decides the challenge at once).
        let first: Out = d
            .out
            .iter()
            .chain(d.mid_out.iter().filter(|s| s.to == c && s.xid == XID))
            .cloned()
            .collect();
        let mut line = expect_line(&first, c, echo, wait, holders);
        if d.step.mid.is_some() {
            // Its WACK was taken before the request during the challenge.
            line = line.replace(" wack=1..", "");
        }
        if let (Some(id), true) = (id, d.step.mid.is_some_and(|m| m.kind == MidKind::Again)) {
            // The final answer of the first request (the client's last request is the
            // second, whose WACK was taken above).
            let _ = writeln!(t, "{line} id=0x{id:04x}");
        } else {
            let _ = writeln!(t, "{line}");
        }
        if let Some(m) = d.step.mid.filter(|m| m.client != c) {
            // The other client's request waited for the challenge (a WACK above): its final
            // answer came with the decision.
            let later: Out = d
                .out
                .iter()
                .filter(|s| s.to == m.client && s.xid == MID_XID)
                .cloned()
                .collect();
            if !later.is_empty() {
                let group = m.kind == MidKind::Release && release_group;
                let _ = writeln!(
                    t,
                    "{}",
                    expect_line(&later, m.client, (m.client, group), " timeout=15s", holders)
                );
            }
        }
        if d.step.mid.is_some_and(|m| m.kind == MidKind::Retransmit) {
            // One WACK and one final answer for the two copies, nothing more.
            let _ = writeln!(t, "expect-none to=client{c} within=1s");
        }
        query_lines(&mut t, name, d);
    }
    t
}

/// The lines every generated script starts with: title (`label`, `story`), tags, the rules
/// it checks, and a note that it is generated.
fn header<'a>(
    label: &str,
    story: &str,
    tags: &[&str],
    rules: impl IntoIterator<Item = &'a str>,
) -> String {
    let rules: Vec<&str> = rules.into_iter().collect();
    format!(
        "title Model path {label}: {story}\ntags {}\nrefs {}\n\
         # Generated by `nbns-conform generate` from model/src/server.rs; do not edit.\n",
        tags.join(" "),
        rules.join(" ")
    )
}

/// The observer's query after a step and the answer the model gave it.
fn query_lines(t: &mut String, name: &str, d: &Done) {
    let _ = writeln!(t, "send      op=query name={name} from=client{OBSERVER}");
    let _ = writeln!(
        t,
        "expect    to=client{OBSERVER} {}",
        expect_fields(&d.query.packet, None)
    );
}

/// Writes the scripts under `dir` (which is emptied of `.nbt` files first).
pub fn write(dir: &Path, scripts: &[Generated]) -> std::io::Result<()> {
    if dir.exists() {
        for sub in std::fs::read_dir(dir)? {
            let sub = sub?.path();
            if sub.is_dir() {
                for f in std::fs::read_dir(&sub)? {
                    let f = f?.path();
                    if f.extension().is_some_and(|e| e == "nbt") {
                        std::fs::remove_file(f)?;
                    }
                }
            }
        }
    }
    for s in scripts {
        let p = dir.join(&s.path);
        std::fs::create_dir_all(p.parent().expect("a directory"))?;
        std::fs::write(p, &s.text)?;
    }
    Ok(())
}
