//! `nbns-conform generate`: model-based generation of server scripts.
//!
//! The model's WINS server ([`nbns_model::server::Server`], the state machine the reference
//! target runs behind its packet layer) is explored breadth-first from an empty database
//! under sequences of requests from up to three clients on one name: registrations (unique,
//! group, multihomed; a group of a `<1C>` name is a special group), refreshes (unique and
//! group), releases, and, when a request makes the server challenge holders, every holder's
//! answer (claim, claim listing the requester's address too for a multihomed request,
//! release i.e. a negative answer, silence followed by the challenge timeout). After every
//! step a query from client3 shows the record.
//!
//! Each sequence gets a *path signature*, per step: the action, the sender's relation to the
//! record before the step (no record, holder, other), the record before (kind, state, number
//! of addresses), the challenge answers, every packet the server sent (to the requester or a
//! holder: WACK, challenge query, response with op, rcode, group flag and number of
//! addresses) and the record after (kind, state, addresses, whether the sender is one of
//! them). The signature is built from outputs and state, not from instrumentation of
//! `server.rs`. Only sequences whose signature is new are kept and extended (shortest
//! first); clients are numbered in order of first appearance, so the same behaviour with
//! clients renamed is generated once.
//!
//! Timers other than the challenge timeout (scavenging: active -> released -> tombstone ->
//! deleted) are left out: the embedded target runs with the default intervals (days), so a
//! script cannot wait for them.

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
}

impl Default for Options {
    fn default() -> Self {
        Options {
            depth: 3,
            max_per_name: 0,
            silent_depth: 2,
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
}

const ACTS: [Act; 6] = [
    Act::RegUnique,
    Act::RegGroup,
    Act::RegMultihomed,
    Act::RefreshUnique,
    Act::RefreshGroup,
    Act::Release,
];

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
    answers: Vec<(u8, Answer)>,
}

/// What one step did, for the script and the signature.
#[derive(Debug, Clone)]
struct Done {
    step: Step,
    /// Sends of the request (before the answers), then of the answers and the timeout.
    out: Out,
    /// Whether the challenge ran out of time (a silent holder).
    timed_out: bool,
    before: Option<RecView>,
    after: Option<RecView>,
    /// The query after the step.
    query: Send<u8, u8>,
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
    // The reference target's settings (reference/src/packet_layer.rs).
    nbns_reference::packet_layer::PacketConfig::new("GEN", std::net::Ipv4Addr::LOCALHOST).server
}

fn request(name: u8, client: u8, act: Act) -> Packet<u8, u8> {
    let reg = |group, multihomed| Packet::Register {
        name,
        group,
        node: NodeType::H,
        ttl: TTL,
        addr: client,
        multihomed,
        broadcast: false,
    };
    let refresh = |group| Packet::Refresh {
        name,
        group,
        node: NodeType::H,
        ttl: TTL,
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
    }
}

/// The addresses the server challenged (challenge queries in `out`).
fn challenged(out: &Out) -> Vec<u8> {
    out.iter()
        .filter(|s| matches!(s.packet, Packet::Query { .. }))
        .map(|s| s.to)
        .collect()
}

/// Runs `step` on `s`; the holders' answers are fed in order, then the timeout if a challenge
/// is still pending.
fn apply(s: &mut S, cfg: &ServerConfig, name: u8, step: &Step) -> Done {
    let before = view(s, name);
    let mut out = Vec::new();
    s.handle(
        cfg,
        0,
        step.client,
        1,
        request(name, step.client, step.act),
        &mut out,
    );
    for &(holder, answer) in &step.answers {
        let (rcode, addrs) = match answer {
            Answer::Claim => (Rcode::Ok, vec![holder]),
            Answer::ClaimWithRequester => {
                let mut v = vec![holder, step.client];
                v.sort();
                (Rcode::Ok, v)
            }
            Answer::Release => (Rcode::NamErr, vec![]),
            Answer::Silent => continue,
        };
        let resp = Packet::Response {
            op: Opcode::Query,
            name,
            rcode,
            ttl: TTL,
            group: false,
            addrs: AddrList::from(addrs),
        };
        // The answer carries the challenge's id, as a holder's answer does.
        let qxid = s.pending_for(&name).map_or(0, |p| p.qxid);
        s.handle(cfg, 0, holder, qxid, resp, &mut out);
    }
    let timed_out = s.pending_for(&name).is_some();
    if timed_out {
        s.challenge_timeout(cfg, 0, &name, &mut out);
    }
    assert!(s.pending_for(&name).is_none(), "a challenge left pending");
    let after = view(s, name);
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
    Done {
        step: step.clone(),
        out,
        timed_out,
        before,
        after,
        query: q.remove(0),
    }
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

/// Explores the model and returns the scripts (sorted by path) and the figures.
pub fn generate(opts: &Options) -> (Vec<Generated>, Stats) {
    let cfg = cfg();
    let mut scripts = Vec::new();
    let mut stats = Stats::default();
    let mut steps_seen = BTreeSet::new();
    // `<00>`: unique, normal group, multihomed; `<1C>`: a group is a special group; `<1D>`:
    // the local master browser name, acknowledged and never stored.
    // Nothing is stored for `<1D>`, so its sequences longer than one step repeat the first.
    for (name, dir, suffix, max_depth) in [
        (0x00u8, "n00", "00", opts.depth),
        (0x1cu8, "n1c", "1c", opts.depth),
        (0x1du8, "n1d", "1d", opts.depth.min(1)),
    ] {
        // Breadth-first: a level holds the kept sequences of one length.
        let mut seen: BTreeSet<Vec<String>> = BTreeSet::new();
        let mut level: Vec<(Vec<Done>, S)> = vec![(Vec::new(), S::new(ME))];
        let mut kept = 0usize;
        'levels: for depth in 1..=max_depth {
            let mut next = Vec::new();
            for (path, server) in &level {
                let used = path.iter().map(|d| d.step.client).max().unwrap_or(0);
                let silent = depth <= opts.silent_depth;
                for client in 1..=(used + 1).min(3) {
                    for act in ACTS {
                        // Probe the request alone to see whom it challenges.
                        let mut probe = server.clone();
                        let mut out = Vec::new();
                        probe.handle(&cfg, 0, client, 1, request(name, client, act), &mut out);
                        let holders = challenged(&out);
                        for answers in answer_sets(act, &holders, silent) {
                            stats.explored += 1;
                            let step = Step {
                                client,
                                act,
                                answers,
                            };
                            let mut s = server.clone();
                            let done = apply(&mut s, &cfg, name, &step);
                            let sig = step_signature(&done);
                            steps_seen.insert(sig.clone());
                            let mut full: Vec<String> = path.iter().map(step_signature).collect();
                            full.push(sig);
                            if !seen.insert(full) {
                                continue;
                            }
                            let mut p = path.clone();
                            p.push(done);
                            kept += 1;
                            scripts.push(Generated {
                                path: format!("{dir}/d{depth}-{kept:04}.nbt"),
                                text: script_text(&p, suffix, kept),
                            });
                            if p.iter().any(|d| d.timed_out) {
                                // Not extended: every script waits for one timeout at most.
                                stats.with_timeout += 1;
                            } else {
                                next.push((p, s));
                            }
                            if opts.max_per_name > 0 && kept >= opts.max_per_name {
                                break 'levels;
                            }
                        }
                    }
                }
            }
            level = next;
        }
        stats.distinct += kept;
    }
    stats.step_signatures = steps_seen.len();
    scripts.sort_by(|a, b| a.path.cmp(&b.path));
    (scripts, stats)
}

fn act_text(a: Act) -> &'static str {
    match a {
        Act::RegUnique => "registers unique",
        Act::RegGroup => "registers group",
        Act::RegMultihomed => "registers multihomed",
        Act::RefreshUnique => "refreshes unique",
        Act::RefreshGroup => "refreshes group",
        Act::Release => "releases",
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
        .map(|a| format!("{{client{a}}}"))
        .collect::<Vec<_>>()
        .join(",")
}

fn rcode_text(r: Rcode) -> &'static str {
    match r {
        Rcode::Ok => "OK",
        Rcode::FmtErr => "FMT_ERR",
        Rcode::SrvErr => "SRV_ERR",
        Rcode::NamErr => "NAM_ERR",
        Rcode::ImpErr => "IMP_ERR",
        Rcode::RfsErr => "RFS_ERR",
        Rcode::ActErr => "ACT_ERR",
        Rcode::CftErr => "CFT_ERR",
    }
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
    let mut t = format!("rcode={} op={}", rcode_text(*rcode), op_text(*op));
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

fn script_text(path: &[Done], suffix: &str, index: usize) -> String {
    let name = format!("{{N}}<{suffix}>");
    let story: Vec<String> = path
        .iter()
        .map(|d| {
            let mut t = format!("client{} {}", d.step.client, act_text(d.step.act));
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
    if path.iter().any(|d| d.timed_out) {
        tags.push("timeout");
    }
    let mut t = String::new();
    let _ = writeln!(t, "title Model path {suffix}-{index}: {}", story.join("; "));
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
    for d in path {
        let _ = writeln!(t, "# {}", step_signature(d));
    }
    if path.iter().any(|d| d.timed_out) {
        let _ = writeln!(t, "limit     time=60s");
    }
    let _ = writeln!(t, "set N = {{run}}GEN");
    for d in path {
        let c = d.step.client;
        let (op, group) = match d.step.act {
            Act::RegUnique => ("register", false),
            Act::RegGroup => ("register", true),
            Act::RegMultihomed => ("multihomed", false),
            Act::RefreshUnique => ("refresh", false),
            Act::RefreshGroup => ("refresh", true),
            Act::Release => (
                "release",
                d.before
                    .as_ref()
                    .is_some_and(|r| matches!(r.kind, Kind::Group | Kind::SpecialGroup)),
            ),
        };
        let _ = writeln!(
            t,
            "send      op={op} name={name}{}{}",
            if group { " group" } else { "" },
            if c == 1 {
                String::new()
            } else {
                format!(" from=client{c}")
            }
        );
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
            // fails in 2 s instead of the default 10.
            let _ = writeln!(
                t,
                "challenge to=client{h} name={name} reply={reply}{addr} timeout=2s"
            );
        }
        let wack = d
            .out
            .iter()
            .any(|s| matches!(s.packet, Packet::Wack { .. }));
        match d
            .out
            .iter()
            .find(|s| s.to == c && matches!(s.packet, Packet::Response { .. }))
        {
            Some(s) => {
                let _ = writeln!(
                    t,
                    "expect    to=client{c}{} {}{}",
                    if wack { " wack=1.." } else { "" },
                    expect_fields(&s.packet, Some((c, group))),
                    if d.timed_out { " timeout=20s" } else { "" }
                );
            }
            None => {
                let _ = writeln!(t, "expect-none to=client{c} within=1s");
            }
        }
        let _ = writeln!(t, "send      op=query name={name} from=client{OBSERVER}");
        let _ = writeln!(
            t,
            "expect    to=client{OBSERVER} {}",
            expect_fields(&d.query.packet, None)
        );
    }
    t
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
