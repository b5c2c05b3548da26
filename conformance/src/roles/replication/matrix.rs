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
        )
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

/// The wire record for `r` named `name` with `version`; `owner_addr` maps
/// [`Who`] to addresses (for the address list's owner fields).
pub fn wire_record(
    name: &NetbiosName,
    r: &Rec,
    version: u64,
    owner_addr: Ipv4Addr,
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
                    owner: owner_addr,
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

/// A record pulled from the target, reduced; `owner` is who it was pulled for.
pub fn from_wire(r: &OwnedNameRecord, owner: Who) -> Rec {
    let kind = kind_of(r.flags.record_type());
    let state = state_of(r.flags.state());
    let mut addrs: Vec<Ipv4Addr> = match r.as_record().addresses {
        Addresses::Single(a) => vec![a],
        Addresses::List(l) => l.iter().map(|p| p.address).collect(),
    };
    addrs.sort();
    addrs.dedup();
    Rec {
        owner,
        kind,
        state,
        is_static: r.flags.is_static(),
        addrs,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matrix_is_large_and_covers_the_dimensions() {
        let pool = Pool {
            holder1: Ipv4Addr::new(127, 0, 0, 3),
            holder2: Ipv4Addr::new(127, 0, 0, 4),
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
        let mut names: Vec<&str> = v.iter().map(|m| m.name.as_str()).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), v.len());
    }
}
