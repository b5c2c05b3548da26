//! The replication conflict matrix: cases generated from the model's rules
//! (`nbns_model::replication::ConflictCase::all()`, `decide`,
//! `after_challenge`), the records that set each case up, and the record
//! the model predicts the target ends with.
//!
//! Every case gets its own name. The existing record is a replica pushed
//! from owner A, or a record the target owns because a holder (the runner on
//! UDP 137 of a client address) registered it. The incoming replica comes
//! from owner B (owner A for same-owner cases). Cases the wire cannot set up
//! are left out: a record the target owns cannot be static or a tombstone
//! by registration, and the address relations need address lists that
//! unique and group records cannot carry (see [`addresses`]).

use super::holders::Policy;
use nbns_model::replication::{
    after_challenge, decide, AddrRelation, ChallengeAnswer, ChallengeDecision, ConflictCase,
    Decision, Holder,
};
use nbns_model::server::{Kind, RecState};
use nbns_model::Bugs;
use nbns_reference::replication::records::{kind_of, record_state, record_type, state_of};
use nbns_wire::wrepl::{
    AddressPair, Addresses, Flags, NodeType, OwnedNameRecord, OwnedRecordName, RECORD_RESERVED,
};
use nbns_wire::NetbiosName;
use std::fmt;
use std::net::Ipv4Addr;

/// Who owns a record, as the matrix names owners.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Who {
    /// Replica owner A (the first partner).
    A,
    /// Replica owner B (the second partner).
    B,
    /// The target itself.
    Local,
    /// Some other owner.
    Other(Ipv4Addr),
}

impl fmt::Display for Who {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Who::A => write!(f, "owner A"),
            Who::B => write!(f, "owner B"),
            Who::Local => write!(f, "the target"),
            Who::Other(a) => write!(f, "owner {a}"),
        }
    }
}

/// A record reduced to what the matrix compares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rec {
    pub owner: Who,
    pub kind: Kind,
    pub state: RecState,
    pub is_static: bool,
    /// Sorted.
    pub addrs: Vec<Ipv4Addr>,
    /// The addresses another owner than `owner` owns, with their owner,
    /// sorted (MS-WINSRA 2.2.10.1: every address of a special group or
    /// multihomed record has its owner).
    pub others: Vec<(Ipv4Addr, Who)>,
}

impl Rec {
    /// The owner of address `a`.
    pub fn owner_of(&self, a: Ipv4Addr) -> Who {
        self.others
            .iter()
            .find(|(x, _)| *x == a)
            .map_or(self.owner, |(_, w)| *w)
    }
}

fn kind_word(k: Kind) -> &'static str {
    match k {
        Kind::Unique => "unique",
        Kind::Group => "group",
        Kind::SpecialGroup => "special group",
        Kind::Multihomed => "multihomed",
    }
}

fn state_word(s: RecState) -> &'static str {
    match s {
        RecState::Active => "active",
        RecState::Released => "released",
        RecState::Tombstone => "tombstone",
    }
}

fn addr_list(v: &[Ipv4Addr]) -> String {
    let s: Vec<String> = v.iter().map(|a| a.to_string()).collect();
    format!("[{}]", s.join(","))
}

impl fmt::Display for Rec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}, {} {}{}, {}",
            self.owner,
            state_word(self.state),
            kind_word(self.kind),
            if self.is_static { " static" } else { "" },
            addr_list(&self.addrs)
        )?;
        for (a, w) in &self.others {
            write!(f, " ({a}: {w})")?;
        }
        Ok(())
    }
}

/// What the model predicts the target's view of the name is afterwards.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expect {
    /// Exactly this record.
    Record(Rec),
    /// No active or tombstone record: the record kept is a released one,
    /// which partners do not replicate (MS-WINSRA 3.1.5.3).
    Absent,
    /// A merge: this type, active, these addresses, owned by one of `owners`.
    Merged {
        kind: Kind,
        addrs: Vec<Ipv4Addr>,
        owners: Vec<Who>,
    },
}

impl fmt::Display for Expect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expect::Record(r) => write!(f, "{r}"),
            Expect::Absent => write!(f, "no active or tombstone record (a released one is kept)"),
            Expect::Merged {
                kind,
                addrs,
                owners,
            } => {
                let o: Vec<String> = owners.iter().map(|w| w.to_string()).collect();
                write!(
                    f,
                    "merged active {} {} owned by {}",
                    kind_word(*kind),
                    addr_list(addrs),
                    o.join(" or ")
                )
            }
        }
    }
}

impl Expect {
    /// Whether `got` (None: no record) matches.
    pub fn matches(&self, got: Option<&Rec>) -> bool {
        match (self, got) {
            (Expect::Absent, None) => true,
            (Expect::Record(want), Some(g)) => want == g,
            (
                Expect::Merged {
                    kind,
                    addrs,
                    owners,
                },
                Some(g),
            ) => {
                g.kind == *kind
                    && g.state == RecState::Active
                    && g.addrs == *addrs
                    && owners.contains(&g.owner)
            }
            _ => false,
        }
    }
}

/// The addresses the matrix uses.
#[derive(Debug, Clone, Copy)]
pub struct Pool {
    /// Holder addresses (the runner's UDP 137 sockets) for records the target owns.
    pub holder1: Ipv4Addr,
    pub holder2: Ipv4Addr,
    /// A third holder address, for challenges of three-address records.
    pub holder3: Option<Ipv4Addr>,
}

// Record addresses are loopback addresses nothing listens on: whatever the
// target sends to them (challenges, release demands) stays on this host.
/// Addresses of replicas that nobody answers for.
pub const REPLICA_ADDR1: Ipv4Addr = Ipv4Addr::new(127, 1, 0, 1);
pub const REPLICA_ADDR2: Ipv4Addr = Ipv4Addr::new(127, 1, 0, 2);
/// The incoming replica's new address.
pub const NEW_ADDR: Ipv4Addr = Ipv4Addr::new(127, 2, 0, 1);
/// An address neither record has (a holder claiming the name with it).
pub const STRANGER_ADDR: Ipv4Addr = Ipv4Addr::new(127, 3, 0, 1);

fn has_list(k: Kind) -> bool {
    matches!(k, Kind::SpecialGroup | Kind::Multihomed)
}

/// The existing and incoming address lists that realise `rel`, or `None`
/// when the record types cannot carry them (unique and group records hold
/// exactly one address).
pub fn addresses(
    c: &ConflictCase,
    p: Ipv4Addr,
    p2: Ipv4Addr,
) -> Option<(Vec<Ipv4Addr>, Vec<Ipv4Addr>)> {
    let q = NEW_ADDR;
    let sorted = |mut v: Vec<Ipv4Addr>| {
        v.sort();
        v
    };
    match c.addrs {
        AddrRelation::Same => Some((vec![p], vec![p])),
        AddrRelation::Subset if has_list(c.incoming_kind) => Some((vec![p], sorted(vec![p, q]))),
        AddrRelation::Superset if has_list(c.existing_kind) => Some((sorted(vec![p, p2]), vec![p])),
        AddrRelation::Different => Some((vec![p], vec![q])),
        AddrRelation::IncomingEmpty if has_list(c.incoming_kind) => Some((vec![p], Vec::new())),
        _ => None,
    }
}

/// One case of the matrix.
#[derive(Debug, Clone)]
pub struct MatrixCase {
    /// Report name, e.g. `conflict/other-owner/dynamic/MA-vs-MA/different/Q135277`.
    pub name: String,
    pub title: String,
    pub case: ConflictCase,
    pub decision: Decision,
    /// For challenges: how the holders answer, the answer kind, and its end.
    pub challenge: Option<(Policy, ChallengeAnswer, ChallengeDecision)>,
    pub nbname: NetbiosName,
    pub existing: Rec,
    pub incoming: Rec,
    pub expect: Expect,
    /// A release demand to the old holder addresses is predicted.
    pub release_demand: bool,
    /// Holder addresses answering challenges otherwise than `challenge`'s
    /// policy (per address), and the holder addresses the target must have
    /// asked, exactly (None: not checked).
    pub per_addr: Vec<(Ipv4Addr, Policy)>,
    pub asked: Option<Vec<Ipv4Addr>>,
}

fn code(k: Kind, s: RecState) -> String {
    let k = match k {
        Kind::Unique => 'U',
        Kind::Group => 'G',
        Kind::SpecialGroup => 'S',
        Kind::Multihomed => 'M',
    };
    let s = match s {
        RecState::Active => 'A',
        RecState::Released => 'R',
        RecState::Tombstone => 'T',
    };
    format!("{k}{s}")
}

fn rel_word(r: AddrRelation) -> &'static str {
    match r {
        AddrRelation::Same => "same",
        AddrRelation::Subset => "subset",
        AddrRelation::Superset => "superset",
        AddrRelation::Different => "different",
        AddrRelation::IncomingEmpty => "incoming-empty",
    }
}

/// Whether `c` is the KB Q135277 situation: an active multihomed replica
/// meeting an active multihomed replica of another owner.
pub fn is_q135277(c: &ConflictCase) -> bool {
    c.holder == Holder::OtherOwner
        && !c.existing_static
        && (c.existing_kind, c.existing_state) == (Kind::Multihomed, RecState::Active)
        && (c.incoming_kind, c.incoming_state) == (Kind::Multihomed, RecState::Active)
}

/// A 15-character name unique to the run and the case.
pub fn case_name(token: &str, index: usize, suffix: u8) -> NetbiosName {
    const DIGITS: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";
    let mut v = index;
    let mut idx = [b'0'; 4];
    for slot in idx.iter_mut().rev() {
        *slot = DIGITS[v % 36];
        v /= 36;
    }
    let mut s = format!("WR{token}").into_bytes();
    s.extend_from_slice(&idx);
    NetbiosName::new(&s, suffix).unwrap_or(NetbiosName::WILDCARD)
}

/// Whether `c`'s owner features are those of records whose addresses all
/// belong to the record's owner, as [`cases`] sets them up: existing and
/// replica share an address (`Same`, `Subset`, `Superset`) under different
/// owners unless the replica's owner is the existing record's, and only then
/// does the existing record list an address of the replica's owner.
pub fn one_owner_per_record(c: &ConflictCase) -> bool {
    let same = c.holder == Holder::SameOwner;
    let shared = matches!(
        c.addrs,
        AddrRelation::Same | AddrRelation::Subset | AddrRelation::Superset
    );
    c.owners_differ == (!same && shared) && c.replica_owner_listed == same
}

/// Every case the wire can set up, in the model's order; challenges are
/// expanded by the holder's answer (one case per distinct answer kind).
pub fn cases(token: &str, pool: Pool) -> Vec<MatrixCase> {
    let mut out = Vec::new();
    for c in ConflictCase::all() {
        if !one_owner_per_record(&c) {
            continue; // owners per address: the cases of [`third_owner_cases`]
        }
        let owned = c.holder == Holder::Owned;
        if owned && (c.existing_static || c.existing_state == RecState::Tombstone) {
            // A registration cannot make a static or tombstone record.
            continue;
        }
        let (p, p2) = if owned {
            (pool.holder1, pool.holder2)
        } else {
            (REPLICA_ADDR1, REPLICA_ADDR2)
        };
        let Some((e_addrs, i_addrs)) = addresses(&c, p, p2) else {
            continue;
        };
        let existing = Rec {
            owner: match c.holder {
                Holder::Owned => Who::Local,
                _ => Who::A,
            },
            kind: c.existing_kind,
            state: c.existing_state,
            is_static: c.existing_static,
            addrs: e_addrs.clone(),
            others: Vec::new(),
        };
        let incoming = Rec {
            owner: match c.holder {
                Holder::SameOwner => Who::A,
                _ => Who::B,
            },
            kind: c.incoming_kind,
            state: c.incoming_state,
            is_static: false,
            addrs: i_addrs.clone(),
            others: Vec::new(),
        };
        let decision = decide(Bugs::NONE, c);
        let keep = |r: &Rec| {
            if r.state == RecState::Released {
                Expect::Absent
            } else {
                Expect::Record(r.clone())
            }
        };
        let base = format!(
            "conflict/{}/{}/{}-vs-{}/{}",
            match c.holder {
                Holder::Owned => "owned",
                Holder::SameOwner => "same-owner",
                Holder::OtherOwner => "other-owner",
            },
            if c.existing_static {
                "static"
            } else {
                "dynamic"
            },
            code(c.existing_kind, c.existing_state),
            code(c.incoming_kind, c.incoming_state),
            rel_word(c.addrs)
        );
        let what = format!(
            "{} {}{} record of {} {} vs {} {} replica of {} {}",
            state_word(c.existing_state),
            kind_word(c.existing_kind),
            if c.existing_static { " static" } else { "" },
            existing.owner,
            addr_list(&e_addrs),
            state_word(c.incoming_state),
            kind_word(c.incoming_kind),
            incoming.owner,
            addr_list(&i_addrs),
        );
        let suffix = if owned && c.existing_kind == Kind::SpecialGroup {
            0x1c
        } else {
            0x00
        };
        let mut push =
            |name: String,
             title: String,
             expect: Expect,
             release_demand: bool,
             challenge: Option<(Policy, ChallengeAnswer, ChallengeDecision)>| {
                let nbname = case_name(token, out.len(), suffix);
                out.push(MatrixCase {
                    name,
                    title,
                    case: c,
                    decision,
                    challenge,
                    nbname,
                    existing: existing.clone(),
                    incoming: incoming.clone(),
                    expect,
                    release_demand,
                    per_addr: Vec::new(),
                    asked: None,
                });
            };
        let union = |a: &[Ipv4Addr], b: &[Ipv4Addr]| {
            let mut v: Vec<Ipv4Addr> = a.iter().chain(b).copied().collect();
            v.sort();
            v.dedup();
            v
        };
        match decision {
            Decision::Replace => push(
                base.clone() + if is_q135277(&c) { "/Q135277" } else { "" },
                if is_q135277(&c) {
                    format!("KB Q135277 (active multihomed replica vs active multihomed replica of another owner): {what}: replaced")
                } else {
                    format!("{what}: replaced")
                },
                Expect::Record(incoming.clone()),
                false,
                None,
            ),
            Decision::Keep => push(base, format!("{what}: kept"), keep(&existing), false, None),
            Decision::ReplaceAndReleaseDemand => push(
                base,
                format!("{what}: replaced, release demand to the old holder"),
                Expect::Record(incoming.clone()),
                true,
                None,
            ),
            Decision::MergeSpecialGroup => {
                // The replica's members plus the existing members its owner
                // does not own (here: all of them, A or the target owns them).
                let owners = vec![incoming.owner, Who::Local];
                push(
                    base,
                    format!("{what}: special group members merged"),
                    Expect::Merged {
                        kind: Kind::SpecialGroup,
                        addrs: union(&e_addrs, &i_addrs),
                        owners,
                    },
                    false,
                    None,
                )
            }
            Decision::Challenge => {
                let answers: Vec<(&str, Policy)> = vec![
                    ("gone", Policy::Negative),
                    ("stranger", Policy::Positive(vec![STRANGER_ADDR])),
                    ("existing", Policy::Positive(e_addrs.clone())),
                    ("replica", Policy::Positive(i_addrs.clone())),
                    ("both", Policy::Positive(union(&e_addrs, &i_addrs))),
                ];
                let mut done: Vec<ChallengeAnswer> = Vec::new();
                for (label, policy) in answers {
                    let answer = match &policy {
                        Policy::Positive(v) if v.is_empty() => continue,
                        Policy::Positive(v) => ChallengeAnswer::Claims {
                            lists_replica: i_addrs.iter().all(|a| v.contains(a)),
                            lists_existing: e_addrs.iter().all(|a| v.contains(a)),
                        },
                        _ => ChallengeAnswer::Gone,
                    };
                    if done.contains(&answer) {
                        continue;
                    }
                    done.push(answer);
                    let end = after_challenge(answer);
                    let (expect, how) = match end {
                        ChallengeDecision::Replace => {
                            (Expect::Record(incoming.clone()), "replaced")
                        }
                        ChallengeDecision::Keep => (keep(&existing), "kept"),
                        ChallengeDecision::KeepAndReleaseDemand => {
                            (keep(&existing), "kept, late release demand")
                        }
                        ChallengeDecision::MergeMultihomed => (
                            Expect::Merged {
                                kind: Kind::Multihomed,
                                addrs: union(&i_addrs, &e_addrs),
                                owners: vec![incoming.owner],
                            },
                            "merged into a multihomed record",
                        ),
                    };
                    let policy_text = match &policy {
                        Policy::Negative => "a negative answer".to_string(),
                        Policy::Positive(v) => format!("a positive answer {}", addr_list(v)),
                        Policy::Silent => "silence".to_string(),
                    };
                    push(
                        format!("{base}/challenge-{label}"),
                        format!("{what}: challenge, holder gives {policy_text}: {how}"),
                        expect,
                        false,
                        Some((policy, answer, end)),
                    );
                }
            }
        }
    }
    out
}

/// The wire record for `r` named `name` with `version`; `addr_of` maps
/// [`Who`] to addresses (for the address list's owner fields).
pub fn wire_record(
    name: &NetbiosName,
    r: &Rec,
    version: u64,
    addr_of: &dyn Fn(Who) -> Ipv4Addr,
) -> OwnedNameRecord {
    let rt = record_type(r.kind);
    let st = record_state(r.state);
    let flags = Flags::new(rt, st, NodeType::H, r.is_static, false);
    OwnedNameRecord {
        name: OwnedRecordName::Netbios {
            name: *name,
            scope: Vec::new(),
        },
        flags,
        group: rt.is_group() as u32,
        version,
        addresses: if rt.has_address_list() {
            r.addrs
                .iter()
                .map(|a| AddressPair {
                    owner: addr_of(r.owner_of(*a)),
                    address: *a,
                })
                .collect()
        } else {
            Vec::new()
        },
        single: r.addrs.first().copied().unwrap_or(Ipv4Addr::UNSPECIFIED),
        reserved: RECORD_RESERVED,
    }
}

/// A record pulled from the target, reduced; `owner` is who it was pulled
/// for, `who` names the owners of addresses.
pub fn from_wire(r: &OwnedNameRecord, owner: Who, who: &dyn Fn(Ipv4Addr) -> Who) -> Rec {
    let kind = kind_of(r.flags.record_type());
    let state = state_of(r.flags.state());
    let mut pairs: Vec<(Ipv4Addr, Who)> = match r.as_record().addresses {
        Addresses::Single(a) => vec![(a, owner)],
        Addresses::List(l) => l.iter().map(|p| (p.address, who(p.owner))).collect(),
    };
    pairs.sort_by_key(|p| p.0);
    pairs.dedup_by_key(|p| p.0);
    Rec {
        owner,
        kind,
        state,
        is_static: r.flags.is_static(),
        addrs: pairs.iter().map(|p| p.0).collect(),
        others: pairs.into_iter().filter(|p| p.1 != owner).collect(),
    }
}

/// The third owner of the three-owner cases (Samba's torture calls it X):
/// no partner, only the owner field of some addresses.
pub const OWNER_X: Ipv4Addr = Ipv4Addr::new(127, 88, 88, 1);

/// Addresses of owner `o`'s members in the three-owner cases: `o.n`.
fn member(o: u8, n: u8) -> Ipv4Addr {
    Ipv4Addr::new(127, o, 0, n)
}

// The model's stand-ins for the owners (only their identity matters).
const SIM_A: Ipv4Addr = Ipv4Addr::new(10, 65, 0, 1);
const SIM_B: Ipv4Addr = Ipv4Addr::new(10, 66, 0, 1);
const SIM_LOCAL: Ipv4Addr = Ipv4Addr::new(10, 67, 0, 1);

fn sim_addr(w: Who) -> Ipv4Addr {
    match w {
        Who::A => SIM_A,
        Who::B => SIM_B,
        Who::Local => SIM_LOCAL,
        Who::Other(a) => a,
    }
}

fn sim_who(a: Ipv4Addr) -> Who {
    match a {
        SIM_A => Who::A,
        SIM_B => Who::B,
        SIM_LOCAL => Who::Local,
        a => Who::Other(a),
    }
}

type SimRecord = nbns_model::server::Record<u8, Ipv4Addr>;

fn to_model(r: &Rec, version: u64) -> SimRecord {
    let mut m = SimRecord {
        name: 1,
        kind: r.kind,
        state: r.state,
        is_static: r.is_static,
        node: nbns_model::proto::NodeType::H,
        addrs: Default::default(),
        other_owners: Default::default(),
        member_expiry: Default::default(),
        owner: sim_addr(r.owner),
        version,
        expires: 1_000_000,
    };
    m.set_addr_owners(r.addrs.iter().map(|&a| (a, sim_addr(r.owner_of(a)))));
    m
}

fn from_model(m: &SimRecord) -> Rec {
    let owner = sim_who(m.owner);
    Rec {
        owner,
        kind: m.kind,
        state: m.state,
        is_static: m.is_static,
        addrs: m.addrs.to_vec(),
        others: m
            .addr_owners()
            .map(|(a, o)| (a, sim_who(o)))
            .filter(|p| p.1 != owner)
            .collect(),
    }
}

/// What the model's server does with `existing` (held) and `incoming` (a
/// replica), the holders answering challenges by `policy` per address: the
/// decision, the record afterwards (None: none, or a released one), the
/// holder addresses asked, in order, and how the challenge ended.
fn simulate(
    existing: &Rec,
    incoming: &Rec,
    policy: &dyn Fn(Ipv4Addr) -> Policy,
) -> (
    Decision,
    Option<Rec>,
    Vec<Ipv4Addr>,
    Option<ChallengeDecision>,
) {
    use nbns_model::proto::{Opcode, Packet, Rcode};
    use nbns_model::replication::Outcome;
    use nbns_model::server::{Server, ServerConfig};
    let cfg = ServerConfig::default();
    let mut s: Server<u8, Ipv4Addr> = Server::new(SIM_LOCAL);
    let mut out = Vec::new();
    s.apply_replica(&cfg, 0, to_model(existing, 1), &mut out);
    let Outcome::Decided(d) = s.apply_replica(&cfg, 0, to_model(incoming, 2), &mut out) else {
        unreachable!("the name is held")
    };
    let mut asked = Vec::new();
    let mut now = 0;
    loop {
        let queried: Vec<Ipv4Addr> = out
            .drain(..)
            .filter(|o| matches!(o.packet, Packet::Query { .. }))
            .map(|o| o.to)
            .collect();
        let Some(&to) = queried.last() else { break };
        asked.push(to);
        let answer = |rcode, addrs: &[Ipv4Addr]| Packet::Response {
            op: Opcode::Query,
            name: 1,
            rcode,
            ttl: 300,
            group: false,
            addrs: addrs.into(),
        };
        let qxid = s.pending_for(&1).map_or(0, |p| p.qxid);
        match policy(to) {
            Policy::Silent => {
                now = s.pending_for(&1).map_or(now, |p| p.deadline);
                s.on_timer(&cfg, now, &mut out);
            }
            Policy::Negative => s.handle(&cfg, now, to, qxid, answer(Rcode::NamErr, &[]), &mut out),
            Policy::Positive(v) => s.handle(&cfg, now, to, qxid, answer(Rcode::Ok, &v), &mut out),
        }
    }
    let end = (d == Decision::Challenge).then(|| {
        let r = s.record(&1).expect("a record");
        if r.owner == SIM_LOCAL && r.addrs[..] == existing.addrs[..] {
            ChallengeDecision::Keep
        } else if r.kind == Kind::Multihomed && r.addrs.len() > incoming.addrs.len() {
            ChallengeDecision::MergeMultihomed
        } else {
            ChallengeDecision::Replace
        }
    });
    let after = s
        .record(&1)
        .filter(|r| r.state != RecState::Released)
        .map(from_model);
    (d, after, asked, end)
}

/// Cases with an owner per address (MS-WINSRA 2.2.10.1), predicted by the
/// model's server: Samba's special-group table with owners A, B and X
/// (torture `test_conflict_different_owner`), multihomed replicas with a
/// member of X, a multihomed merge keeping owners, and replica challenges of
/// holders with two and three addresses where the first answer decides.
/// Case names continue from index `first`.
pub fn third_owner_cases(token: &str, pool: Pool, first: usize) -> Vec<MatrixCase> {
    let x = Who::Other(OWNER_X);
    let rec = |owner: Who, kind: Kind, state: RecState, members: &[(Ipv4Addr, Who)]| {
        let mut members = members.to_vec();
        members.sort_by_key(|m| m.0);
        Rec {
            owner,
            kind,
            state,
            is_static: false,
            addrs: members.iter().map(|m| m.0).collect(),
            others: members.into_iter().filter(|m| m.1 != owner).collect(),
        }
    };
    let (a3, a4) = ((member(65, 3), Who::A), (member(65, 4), Who::A));
    let (b3, b4) = ((member(66, 3), Who::B), (member(66, 4), Who::B));
    let (ab3, ab4) = ((member(65, 3), Who::B), (member(65, 4), Who::B));
    let xs: Vec<(Ipv4Addr, Who)> = (1..=4).map(|n| (member(88, n), x)).collect();
    let (x1, x2, x3, x4) = (xs[0], xs[1], xs[2], xs[3]);
    let sg = |o: Who, m: &[(Ipv4Addr, Who)]| rec(o, Kind::SpecialGroup, RecState::Active, m);
    // (label, existing, incoming, per-address policies)
    type Setup = (String, Rec, Rec, Vec<(Ipv4Addr, Policy)>);
    let mut setups: Vec<Setup> = vec![
        (
            "A_3_4-vs-B:A_3_4",
            sg(Who::A, &[a3, a4]),
            sg(Who::B, &[a3, a4]),
        ),
        ("A_3_4-vs-B:NULL", sg(Who::A, &[a3, a4]), sg(Who::B, &[])),
        (
            "A_3_4_X_3_4-vs-B:A_3_4",
            sg(Who::A, &[a3, a4, x3, x4]),
            sg(Who::B, &[a3, a4]),
        ),
        (
            "B_3_4-vs-B:A_3_4",
            sg(Who::A, &[b3, b4]),
            sg(Who::B, &[a3, a4]),
        ),
        (
            "A_3_4-vs-B:A_3_4_OWNER_B",
            sg(Who::A, &[a3, a4]),
            sg(Who::B, &[ab3, ab4]),
        ),
        (
            "A_3_4_OWNER_B-vs-B:A_3_4",
            sg(Who::A, &[ab3, ab4]),
            sg(Who::B, &[a3, a4]),
        ),
        (
            "A_3_4-vs-B:B_3_4",
            sg(Who::A, &[a3, a4]),
            sg(Who::B, &[b3, b4]),
        ),
        (
            "B_3_4_X_3_4-vs-B:A_3_4",
            sg(Who::A, &[b3, b4, x3, x4]),
            sg(Who::B, &[a3, a4]),
        ),
        (
            "X_3_4-vs-B:A_3_4",
            sg(Who::A, &[x3, x4]),
            sg(Who::B, &[a3, a4]),
        ),
        (
            "A_3_4_X_3_4-vs-B:A_3_4_OWNER_B",
            sg(Who::A, &[a3, a4, x3, x4]),
            sg(Who::B, &[ab3, ab4]),
        ),
        (
            "B_3_4_X_3_4-vs-B:B_3_4_X_1_2",
            sg(Who::A, &[b3, b4, x3, x4]),
            sg(Who::B, &[b3, b4, x1, x2]),
        ),
        (
            "B_3_4_X_3_4-vs-B:NULL",
            sg(Who::A, &[b3, b4, x3, x4]),
            sg(Who::B, &[]),
        ),
        (
            "MA:A_3_X_3-vs-MA:B_3_X_3",
            rec(Who::A, Kind::Multihomed, RecState::Active, &[a3, x3]),
            rec(Who::B, Kind::Multihomed, RecState::Active, &[b3, x3]),
        ),
        (
            "MA:A_3_X_3-vs-MT:B_3",
            rec(Who::A, Kind::Multihomed, RecState::Active, &[a3, x3]),
            rec(Who::B, Kind::Multihomed, RecState::Tombstone, &[b3]),
        ),
    ]
    .into_iter()
    .map(|(l, e, i)| (format!("three-owners/{l}"), e, i, Vec::new()))
    .collect();
    let (h1, h2) = (pool.holder1, pool.holder2);
    let local = |hs: &[Ipv4Addr], kind| {
        let m: Vec<(Ipv4Addr, Who)> = hs.iter().map(|&h| (h, Who::Local)).collect();
        rec(Who::Local, kind, RecState::Active, &m)
    };
    // An owned unique record, a multihomed replica of B with a member of X;
    // the holder lists everything: one host, merged, every owner kept.
    setups.push((
        "three-owners/owned-UA-vs-MA:B_NEW_X_1/challenge-both".into(),
        local(&[h1], Kind::Unique),
        rec(
            Who::B,
            Kind::Multihomed,
            RecState::Active,
            &[(NEW_ADDR, Who::B), x1],
        ),
        vec![(h1, Policy::Positive(vec![h1, NEW_ADDR, x1.0]))],
    ));
    // Holders with two and three addresses: asked one at a time.
    let unique_b = rec(
        Who::B,
        Kind::Unique,
        RecState::Active,
        &[(NEW_ADDR, Who::B)],
    );
    let mut holders = vec![h1, h2];
    let mut shapes: Vec<(&str, Vec<Policy>)> = Vec::new();
    let claim = |hs: &[Ipv4Addr]| Policy::Positive(hs.to_vec());
    shapes.push(("silent-positive", vec![Policy::Silent, claim(&[h1, h2])]));
    shapes.push(("positive-first", vec![claim(&[h1, h2]), claim(&[h1, h2])]));
    shapes.push((
        "negative-positive",
        vec![Policy::Negative, claim(&[h1, h2])],
    ));
    shapes.push(("silent-silent", vec![Policy::Silent, Policy::Silent]));
    for (label, policies) in shapes {
        setups.push((
            format!("first-answer/owned-MA-2-addresses/{label}"),
            local(&holders, Kind::Multihomed),
            unique_b.clone(),
            holders.iter().copied().zip(policies).collect(),
        ));
    }
    if let Some(h3) = pool.holder3 {
        holders.push(h3);
        let all = claim(&holders);
        for (label, policies) in [
            (
                "silent-silent-positive",
                vec![Policy::Silent, Policy::Silent, all.clone()],
            ),
            (
                "silent-positive-positive",
                vec![Policy::Silent, all.clone(), all.clone()],
            ),
            (
                "silent-silent-silent",
                vec![Policy::Silent, Policy::Silent, Policy::Silent],
            ),
        ] {
            setups.push((
                format!("first-answer/owned-MA-3-addresses/{label}"),
                local(&holders, Kind::Multihomed),
                unique_b.clone(),
                holders.iter().copied().zip(policies).collect(),
            ));
        }
    }
    let mut out = Vec::new();
    for (i, (name, existing, incoming, per_addr)) in setups.into_iter().enumerate() {
        let policy = |a: Ipv4Addr| {
            per_addr
                .iter()
                .find(|p| p.0 == a)
                .map_or(Policy::Silent, |p| p.1.clone())
        };
        let (decision, after, asked, end) = simulate(&existing, &incoming, &policy);
        let expect = after.map_or(Expect::Absent, Expect::Record);
        let case = ConflictCase::of(SIM_LOCAL, &to_model(&existing, 1), &to_model(&incoming, 2));
        let challenge = end.map(|e| {
            let answer = match per_addr.iter().find(|p| !matches!(p.1, Policy::Silent)) {
                Some((_, Policy::Positive(v))) => ChallengeAnswer::Claims {
                    lists_replica: incoming.addrs.iter().all(|a| v.contains(a)),
                    lists_existing: existing.addrs.iter().all(|a| v.contains(a)),
                },
                _ => ChallengeAnswer::Gone,
            };
            (policy(existing.addrs[0]), answer, e)
        });
        let suffix = if existing.kind == Kind::SpecialGroup {
            0x1c
        } else {
            0
        };
        let title = format!(
            "{existing} vs {incoming}{}: {decision:?}, then {expect}",
            if asked.is_empty() {
                String::new()
            } else {
                format!(", holders asked in turn {}", addr_list(&asked))
            }
        );
        out.push(MatrixCase {
            name,
            title,
            case,
            decision,
            challenge,
            nbname: case_name(token, first + i, suffix),
            existing,
            incoming,
            expect,
            release_demand: false,
            per_addr,
            asked: (!asked.is_empty()).then_some(asked),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matrix_is_large_and_covers_the_dimensions() {
        let pool = Pool {
            holder1: Ipv4Addr::new(127, 0, 0, 3),
            holder2: Ipv4Addr::new(127, 0, 0, 4),
            holder3: Some(Ipv4Addr::new(127, 0, 0, 5)),
        };
        let v = cases("ABC", pool);
        assert!(v.len() >= 274, "{}", v.len());
        for k in [
            Kind::Unique,
            Kind::Group,
            Kind::SpecialGroup,
            Kind::Multihomed,
        ] {
            for s in [RecState::Active, RecState::Released, RecState::Tombstone] {
                for h in [Holder::SameOwner, Holder::OtherOwner] {
                    for st in [false, true] {
                        assert!(v.iter().any(|m| m.case.existing_kind == k
                            && m.case.existing_state == s
                            && m.case.holder == h
                            && m.case.existing_static == st));
                    }
                }
            }
        }
        assert!(v.iter().any(|m| m.challenge.is_some()));
        assert!(v.iter().any(|m| m.release_demand));
        assert!(v.iter().any(|m| m.name.ends_with("/Q135277")));
        // Owners per address: Samba's special-group table and the serial challenge.
        let t = third_owner_cases("ABC", pool, v.len());
        let find = |n: &str| t.iter().find(|m| m.name.ends_with(n)).unwrap();
        let kept = find("/A_3_4-vs-B:A_3_4");
        assert_eq!(kept.decision, Decision::Keep);
        assert_eq!(kept.expect, Expect::Record(kept.existing.clone()));
        let merged = find("/B_3_4_X_3_4-vs-B:A_3_4");
        match &merged.expect {
            Expect::Record(r) => {
                assert_eq!(r.owner, Who::B);
                assert_eq!(r.others.len(), 4, "{r}");
                // B's old members b3, b4, which B's replica no longer lists, are dropped
                // (rule WINSRA-3.2.5.5-SGROUP-OWNER-DROPS): the case fails if they stay.
                assert!(
                    !r.addrs.contains(&member(66, 3)) && !r.addrs.contains(&member(66, 4)),
                    "{r}"
                );
            }
            e => panic!("{e}"),
        }
        let first = find("/owned-MA-3-addresses/silent-positive-positive");
        assert_eq!(first.asked.as_ref().unwrap().len(), 2);
        assert_eq!(first.expect, Expect::Record(first.existing.clone()));
        let neg = find("/owned-MA-2-addresses/negative-positive");
        assert_eq!(neg.expect, Expect::Record(neg.incoming.clone()));
        let mut v = v;
        v.extend(t);
        let mut names: Vec<&str> = v.iter().map(|m| m.name.as_str()).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), v.len());
    }
}
