//! WINS replication (MS-WINSRA) between partners: owner-version maps, send-entries, and the
//! conflict rules applied when a replica meets an existing record (after Samba's
//! `wrepl_apply_records.c`).
//!
//! A pull is one step here: the puller asks the partner for its owner-version map, then for the
//! records of every owner it has newer versions of, and applies them in version order. Real
//! replication runs over TCP, so the model treats a pull as one atomic, reliable exchange.

use crate::proto::{set_insert, Addr, NameKey, NodeType, Packet, Time};
use crate::server::{Kind, Pending, RecState, Record, Send, Server, ServerConfig, Version};
use crate::{Bug, Bugs};

/// How the existing record's owner relates to this server and to the replica's owner.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Holder {
    /// This server owns the record (it was registered here).
    Owned,
    /// A replica of the same owner as the incoming one.
    SameOwner,
    /// A replica of another owner.
    OtherOwner,
}

/// How the existing record's addresses relate to the incoming replica's.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AddrRelation {
    /// The same address set (both may be empty).
    Same,
    /// The existing addresses are a proper subset of the incoming ones.
    Subset,
    /// The existing addresses are a proper superset of the incoming ones (the incoming list
    /// is not empty).
    Superset,
    /// Neither contains the other (overlapping or disjoint sets).
    Different,
    /// The incoming record has no addresses and the existing one has some.
    IncomingEmpty,
}

impl AddrRelation {
    /// Every relation.
    pub const ALL: [AddrRelation; 5] = [
        AddrRelation::Same,
        AddrRelation::Subset,
        AddrRelation::Superset,
        AddrRelation::Different,
        AddrRelation::IncomingEmpty,
    ];

    /// The relation of two sorted address lists.
    pub fn of<A: Ord>(existing: &[A], incoming: &[A]) -> AddrRelation {
        let sub = existing.iter().all(|a| incoming.binary_search(a).is_ok());
        let sup = incoming.iter().all(|a| existing.binary_search(a).is_ok());
        match (sub, sup) {
            (true, true) => AddrRelation::Same,
            _ if incoming.is_empty() => AddrRelation::IncomingEmpty,
            (true, false) => AddrRelation::Subset,
            (false, true) => AddrRelation::Superset,
            (false, false) => AddrRelation::Different,
        }
    }

    fn existing_within_incoming(self) -> bool {
        matches!(self, AddrRelation::Same | AddrRelation::Subset)
    }
}

/// Everything the conflict rules look at when a replica meets an existing record of the same
/// name (the records themselves reduced to these features; see [`ConflictCase::of`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConflictCase {
    /// Type of the existing record.
    pub existing_kind: Kind,
    /// State of the existing record.
    pub existing_state: RecState,
    /// Whether the existing record is a static mapping.
    pub existing_static: bool,
    /// Who owns the existing record.
    pub holder: Holder,
    /// Type of the incoming replica.
    pub incoming_kind: Kind,
    /// State of the incoming replica (partners send active records and tombstones).
    pub incoming_state: RecState,
    /// How the address sets relate.
    pub addrs: AddrRelation,
}

/// What to do with an incoming replica (Samba's `wrepl_apply_records.c` actions).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Decision {
    /// The replica replaces the existing record.
    Replace,
    /// The existing record stays; the replica is dropped.
    Keep,
    /// Special groups: the member lists merge (the replica's members plus the existing
    /// members that the replica's owner does not own).
    MergeSpecialGroup,
    /// An owned active unique/multihomed record meets an active unique/multihomed replica that
    /// lacks some of its addresses: the server sends a name query to the record's addresses
    /// and decides with [`after_challenge`].
    Challenge,
    /// An owned active unique/multihomed record meets an active group: the replica replaces
    /// the record and the old addresses get a release demand (they are in conflict).
    ReplaceAndReleaseDemand,
}

/// The answer a challenged holder gave (for [`after_challenge`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ChallengeAnswer {
    /// No answer before the wait ran out, or a negative answer: the holder let go.
    Gone,
    /// The holder still claims the name; the flags say whether its answer lists every address
    /// of the replica and every address of the existing record.
    Claims {
        /// Every replica address is in the answer.
        lists_replica: bool,
        /// Every address of the existing record is in the answer.
        lists_existing: bool,
    },
}

impl ChallengeAnswer {
    /// Every answer kind.
    pub const ALL: [ChallengeAnswer; 5] = [
        ChallengeAnswer::Gone,
        ChallengeAnswer::Claims {
            lists_replica: false,
            lists_existing: false,
        },
        ChallengeAnswer::Claims {
            lists_replica: false,
            lists_existing: true,
        },
        ChallengeAnswer::Claims {
            lists_replica: true,
            lists_existing: false,
        },
        ChallengeAnswer::Claims {
            lists_replica: true,
            lists_existing: true,
        },
    ];
}

/// What happens once a [`Decision::Challenge`] is answered.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ChallengeDecision {
    /// The holder is gone: the replica replaces the record.
    Replace,
    /// The holder claims the name without the replica's addresses: the owned record stays.
    Keep,
    /// The holder lists the replica's addresses but not all of the record's: the record stays
    /// and the holder gets a (late) release demand.
    KeepAndReleaseDemand,
    /// The holder lists both: one multihomed host; the record becomes the replica's
    /// multihomed record with the old addresses added.
    MergeMultihomed,
}

const KINDS: [Kind; 4] = [
    Kind::Unique,
    Kind::Group,
    Kind::SpecialGroup,
    Kind::Multihomed,
];
const STATES: [RecState; 3] = [RecState::Active, RecState::Released, RecState::Tombstone];

impl ConflictCase {
    /// The features of `existing` (held by the server `me`) against `incoming`.
    pub fn of<N, A: Addr>(me: A, existing: &Record<N, A>, incoming: &Record<N, A>) -> Self {
        ConflictCase {
            existing_kind: existing.kind,
            existing_state: existing.state,
            existing_static: existing.is_static,
            holder: if existing.owner == me {
                Holder::Owned
            } else if existing.owner == incoming.owner {
                Holder::SameOwner
            } else {
                Holder::OtherOwner
            },
            incoming_kind: incoming.kind,
            incoming_state: incoming.state,
            addrs: AddrRelation::of(&existing.addrs, &incoming.addrs),
        }
    }

    /// Every combination: 4 existing types x 3 states x static or not x 3 holders x 4 incoming
    /// types x 2 incoming states (active, tombstone: released records are not replicated) x 5
    /// address relations = 2,880 cases, in a fixed order.
    pub fn all() -> impl Iterator<Item = ConflictCase> {
        let mut v = Vec::new();
        for existing_kind in KINDS {
            for existing_state in STATES {
                for existing_static in [false, true] {
                    for holder in [Holder::Owned, Holder::SameOwner, Holder::OtherOwner] {
                        for incoming_kind in KINDS {
                            for incoming_state in [RecState::Active, RecState::Tombstone] {
                                for addrs in AddrRelation::ALL {
                                    v.push(ConflictCase {
                                        existing_kind,
                                        existing_state,
                                        existing_static,
                                        holder,
                                        incoming_kind,
                                        incoming_state,
                                        addrs,
                                    });
                                }
                            }
                        }
                    }
                }
            }
        }
        v.into_iter()
    }
}

/// The conflict rules: what to do when a replica meets an existing record. Pure; follows
/// Samba's `wrepl_apply_records.c` (MS-WINSRA leaves most of it to the implementation):
///
/// * same owner: the replica replaces (partners only send versions newer than the puller's
///   owner-version map, so it is always newer);
/// * a static record of another owner is kept;
/// * replica vs replica (by the existing type): unique/multihomed is replaced when it is not
///   active or when the replica is active and not a special group (with
///   [`Bug::Q135277`]: an active multihomed replica keeps an active multihomed record);
///   a group is replaced by a group when not active, or by a non-unique when a tombstone; a
///   special group is replaced when not active or by a special-group tombstone, merges with
///   an active special group (kept
///   when the replica has no members, replaced when the members are the same);
/// * owned vs replica: an inactive owned record is replaced; an owned active unique or
///   multihomed record keeps against a tombstone, is replaced with a release demand to its
///   holder by an active group or special group, is replaced by an active unique/multihomed
///   replica holding all its addresses, and is challenged otherwise; an owned group is
///   replaced only by a group (when inactive, or when the group replica is active); an owned
///   special group is replaced when inactive and merges with an active special group.
///
/// The model tracks one owner per record, not per address; Samba's special-group cases that
/// mix owners inside one member list reduce to the record owner here.
pub fn decide(bugs: Bugs, c: ConflictCase) -> Decision {
    use Decision::*;
    use RecState::Active;
    let e_active = c.existing_state == Active;
    let i_active = c.incoming_state == Active;
    if c.holder == Holder::SameOwner {
        return Replace;
    }
    if c.existing_static {
        return Keep;
    }
    match (c.holder, c.existing_kind) {
        (_, Kind::Unique | Kind::Multihomed) if !e_active => Replace,
        (Holder::OtherOwner, Kind::Unique | Kind::Multihomed) => {
            if i_active && c.incoming_kind != Kind::SpecialGroup {
                if bugs.has(Bug::Q135277)
                    && c.existing_kind == Kind::Multihomed
                    && c.incoming_kind == Kind::Multihomed
                {
                    Keep // KB Q135277
                } else {
                    Replace
                }
            } else {
                Keep
            }
        }
        (Holder::OtherOwner, Kind::Group) => {
            if (!e_active && c.incoming_kind == Kind::Group)
                || (c.existing_state == RecState::Tombstone && c.incoming_kind != Kind::Unique)
            {
                Replace
            } else {
                Keep
            }
        }
        (_, Kind::SpecialGroup) if !e_active => Replace,
        // Windows (as Samba's torture suite records it) lets an incoming
        // special-group tombstone replace another owner's active replica.
        (Holder::OtherOwner, Kind::SpecialGroup)
            if c.incoming_kind == Kind::SpecialGroup && c.incoming_state == RecState::Tombstone =>
        {
            Replace
        }
        (_, Kind::SpecialGroup) if c.incoming_kind != Kind::SpecialGroup || !i_active => Keep,
        (Holder::OtherOwner, Kind::SpecialGroup) => match c.addrs {
            // No member of the replica's owner is in the record (one owner per record).
            AddrRelation::IncomingEmpty => Keep,
            AddrRelation::Same => Replace,
            _ => MergeSpecialGroup,
        },
        (_, Kind::SpecialGroup) => MergeSpecialGroup,
        (_, Kind::Unique | Kind::Multihomed) => {
            // Owned and active.
            if !i_active {
                Keep
            } else if matches!(c.incoming_kind, Kind::Group | Kind::SpecialGroup) {
                ReplaceAndReleaseDemand
            } else if c.addrs.existing_within_incoming() {
                Replace
            } else {
                Challenge
            }
        }
        (_, Kind::Group) => {
            if c.incoming_kind == Kind::Group && (!e_active || i_active) {
                Replace
            } else {
                Keep
            }
        }
    }
}

/// The end of a [`Decision::Challenge`] (Samba's `r_do_challenge_handler`).
pub fn after_challenge(answer: ChallengeAnswer) -> ChallengeDecision {
    match answer {
        ChallengeAnswer::Gone => ChallengeDecision::Replace,
        ChallengeAnswer::Claims {
            lists_replica: false,
            ..
        } => ChallengeDecision::Keep,
        ChallengeAnswer::Claims {
            lists_existing: false,
            ..
        } => ChallengeDecision::KeepAndReleaseDemand,
        ChallengeAnswer::Claims { .. } => ChallengeDecision::MergeMultihomed,
    }
}

/// What applying one replica did.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// The name was new here.
    Inserted,
    /// An existing record met the replica and the rules decided.
    Decided(Decision),
}

/// The records of `owner` with `min <= version <= max` that a partner sends in a send-entries
/// reply: active records and tombstones (released records are not replicated), version order.
pub fn entries<N: NameKey, A: Addr>(
    src: &Server<N, A>,
    owner: A,
    min: Version,
    max: Version,
) -> Vec<Record<N, A>> {
    let mut v: Vec<Record<N, A>> = src
        .records
        .iter()
        .filter(|r| {
            r.owner == owner
                && r.version >= min
                && r.version <= max
                && r.state != RecState::Released
        })
        .cloned()
        .collect();
    v.sort_by_key(|r| r.version);
    v
}

/// Applies one replica to `dst` by the conflict rules, pushing challenge queries and release
/// demands to `out`.
pub fn apply_replica<N: NameKey, A: Addr>(
    dst: &mut Server<N, A>,
    cfg: &ServerConfig,
    now: Time,
    rec: Record<N, A>,
    out: &mut Vec<Send<N, A>>,
) -> Outcome {
    dst.raise_known(rec.owner, rec.version);
    let Some(existing) = dst.record(&rec.name) else {
        dst.put(rec);
        return Outcome::Inserted;
    };
    let d = decide(cfg.bugs, ConflictCase::of(dst.me, existing, &rec));
    apply_decision(dst, cfg, now, d, rec, out);
    Outcome::Decided(d)
}

fn release_demands<N: NameKey, A: Addr>(
    name: &N,
    node: NodeType,
    addrs: &[A],
    out: &mut Vec<Send<N, A>>,
) {
    for a in addrs {
        out.push(Send {
            to: *a,
            xid: 0,
            packet: Packet::Release {
                name: name.clone(),
                group: false,
                node,
                addr: *a,
                broadcast: false,
            },
        });
    }
}

fn apply_decision<N: NameKey, A: Addr>(
    dst: &mut Server<N, A>,
    cfg: &ServerConfig,
    now: Time,
    d: Decision,
    rec: Record<N, A>,
    out: &mut Vec<Send<N, A>>,
) {
    let existing = dst.record(&rec.name).expect("existing record").clone();
    match d {
        Decision::Replace => dst.put(rec),
        Decision::Keep => {}
        Decision::ReplaceAndReleaseDemand => {
            dst.put(rec);
            release_demands(&existing.name, existing.node, &existing.addrs, out);
        }
        Decision::Challenge => {
            dst.challenge_for_replica(cfg, now, rec, out);
        }
        Decision::MergeSpecialGroup => {
            // The replica's members plus the existing ones (up to the limit). An owned record
            // stays ours (new version when it changed); a replica record becomes the
            // replica's owner's when they share members, else ours (Samba's rule).
            let mut merged = rec.clone();
            for a in &existing.addrs {
                if merged.addrs.len() < cfg.special_group_max {
                    set_insert(&mut merged.addrs, *a);
                }
            }
            let shared = existing.addrs.iter().any(|a| rec.addrs.contains(a));
            if existing.owner == dst.me || !shared {
                if existing.owner == dst.me && merged.addrs == existing.addrs {
                    return;
                }
                merged.owner = dst.me;
                merged.version = dst.bump();
            }
            dst.put(merged);
        }
    }
}

/// Ends a replication challenge (its answers are in `p`): the holder's answer decides by
/// [`after_challenge`]; when the record changed meanwhile the rules run again.
pub(crate) fn finish_challenge<N: NameKey, A: Addr>(
    dst: &mut Server<N, A>,
    cfg: &ServerConfig,
    now: Time,
    mut p: Pending<N, A>,
    replica: Record<N, A>,
    out: &mut Vec<Send<N, A>>,
) {
    let Some(existing) = dst.record(&replica.name).cloned() else {
        dst.put(replica);
        return;
    };
    let d = decide(cfg.bugs, ConflictCase::of(dst.me, &existing, &replica));
    if d != Decision::Challenge || existing.addrs != p.challenged {
        if d != Decision::Challenge {
            apply_decision(dst, cfg, now, d, replica, out);
        }
        return; // a changed record: the replica's version is known; the owner's next one wins
    }
    p.claims.retain(|a| existing.addrs.contains(a));
    let within = |xs: &[A]| xs.iter().all(|a| p.listed.contains(a));
    let answer = if p.claims.is_empty() {
        ChallengeAnswer::Gone
    } else {
        ChallengeAnswer::Claims {
            lists_replica: within(&replica.addrs),
            lists_existing: within(&existing.addrs),
        }
    };
    match after_challenge(answer) {
        ChallengeDecision::Replace => dst.put(replica),
        ChallengeDecision::Keep => {}
        ChallengeDecision::KeepAndReleaseDemand => {
            release_demands(&existing.name, existing.node, &p.listed, out);
        }
        ChallengeDecision::MergeMultihomed => {
            let mut merged = replica;
            merged.kind = Kind::Multihomed;
            for a in &existing.addrs {
                set_insert(&mut merged.addrs, *a);
            }
            dst.put(merged);
        }
    }
}

/// `dst` pulls from its partner `src`: for every owner in `src`'s owner-version map other than
/// `dst` itself with versions `dst` has not seen, the new records are applied in version order.
/// Challenge queries and release demands the rules call for go to `out`. Returns true when
/// `dst` changed.
pub fn pull<N: NameKey, A: Addr>(
    dst: &mut Server<N, A>,
    cfg: &ServerConfig,
    now: Time,
    src: &Server<N, A>,
    out: &mut Vec<Send<N, A>>,
) -> bool {
    let before = dst.clone();
    for (owner, max) in src.owner_versions() {
        if owner == dst.me {
            continue;
        }
        let have = dst.known_version(owner);
        if max <= have {
            continue;
        }
        let recs = entries(src, owner, have + 1, max);
        apply_pulled(dst, cfg, now, owner, max, recs, out);
    }
    before != *dst
}

/// Applies the records a partner sent for `owner` (a send-entries reply for versions up to
/// `max`) in version order, then remembers `max` as seen, so the next pull asks for newer
/// ones only. A pull over the network and [`pull`] share this step.
pub fn apply_pulled<N: NameKey, A: Addr>(
    dst: &mut Server<N, A>,
    cfg: &ServerConfig,
    now: Time,
    owner: A,
    max: Version,
    mut records: Vec<Record<N, A>>,
    out: &mut Vec<Send<N, A>>,
) {
    if owner == dst.me {
        return; // our own records come back from partners: we are their source
    }
    records.sort_by_key(|r| r.version);
    for rec in records {
        if rec.owner == dst.me {
            continue;
        }
        apply_replica(dst, cfg, now, rec, out);
    }
    dst.raise_known(owner, max);
}

/// Verifies the replicas of `owner` against the owner itself (every verify interval):
/// `held` is every record the owner holds now, versions up to `max`. What is newer than the
/// versions we know is applied as by a pull; an active replica of `owner` that the owner no
/// longer holds becomes a tombstone, since its deletion would otherwise never reach us.
/// Returns how many replicas were turned into tombstones.
#[allow(clippy::too_many_arguments)]
pub fn verify_replicas<N: NameKey, A: Addr>(
    dst: &mut Server<N, A>,
    cfg: &ServerConfig,
    now: Time,
    owner: A,
    max: Version,
    held: Vec<Record<N, A>>,
    out: &mut Vec<Send<N, A>>,
) -> usize {
    if owner == dst.me {
        return 0;
    }
    let mut names: Vec<N> = held.iter().map(|r| r.name.clone()).collect();
    names.sort();
    let known = dst.known_version(owner);
    let newer = held.into_iter().filter(|r| r.version > known).collect();
    apply_pulled(dst, cfg, now, owner, max, newer, out);
    let gone: Vec<Record<N, A>> = dst
        .records
        .iter()
        .filter(|r| {
            r.owner == owner
                && r.state == RecState::Active
                && r.version <= max
                && names.binary_search(&r.name).is_err()
        })
        .cloned()
        .collect();
    let n = gone.len();
    for mut r in gone {
        r.state = RecState::Tombstone;
        r.expires = now + Time::from(cfg.tombstone_timeout);
        dst.put(r);
    }
    n
}

/// Whether a pull would change anything (cheap check: `src` has owner versions `dst` lacks).
pub fn pull_pending<N: NameKey, A: Addr>(dst: &Server<N, A>, src: &Server<N, A>) -> bool {
    src.owner_versions()
        .into_iter()
        .any(|(owner, max)| owner != dst.me && max > dst.known_version(owner))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::NodeType;
    use crate::Bugs;

    #[test]
    fn verification_tombstones_replicas_their_owner_lost() {
        let cfg = ServerConfig::default();
        let mut dst: Server<u8, u8> = Server::new(1);
        let mut out = Vec::new();
        let r = |name: u8, version: Version| Record {
            name,
            kind: Kind::Unique,
            state: RecState::Active,
            is_static: false,
            node: NodeType::H,
            addrs: [name].into(),
            owner: 2,
            version,
            expires: Time::MAX,
        };
        apply_pulled(&mut dst, &cfg, 0, 2, 2, vec![r(5, 1), r(6, 2)], &mut out);
        // The owner still has 5 (and a new 7), no longer 6.
        let gone = verify_replicas(&mut dst, &cfg, 10, 2, 3, vec![r(5, 1), r(7, 3)], &mut out);
        assert_eq!(gone, 1);
        assert_eq!(dst.record(&5).unwrap().state, RecState::Active);
        assert_eq!(dst.record(&6).unwrap().state, RecState::Tombstone);
        assert_eq!(dst.record(&6).unwrap().version, 2);
        assert_eq!(dst.record(&7).unwrap().state, RecState::Active);
        assert_eq!(dst.known_version(2), 3);
    }

    fn rec(
        owner: u8,
        version: Version,
        kind: Kind,
        state: RecState,
        addrs: crate::proto::AddrList<u8>,
    ) -> Record<u8, u8> {
        Record {
            name: 5,
            kind,
            state,
            is_static: false,
            node: NodeType::H,
            addrs,
            owner,
            version,
            expires: 0,
        }
    }

    fn case(
        existing: (Kind, RecState),
        holder: Holder,
        incoming: (Kind, RecState),
        addrs: AddrRelation,
    ) -> ConflictCase {
        ConflictCase {
            existing_kind: existing.0,
            existing_state: existing.1,
            existing_static: false,
            holder,
            incoming_kind: incoming.0,
            incoming_state: incoming.1,
            addrs,
        }
    }

    #[test]
    fn conflict_table_rows() {
        use AddrRelation::*;
        use Decision::*;
        use Holder::*;
        use Kind::*;
        use RecState::*;
        let fixed = Bugs::NONE;
        let q135277 = Bugs::from(Bug::Q135277);
        let rows: &[(ConflictCase, Decision)] = &[
            // An incoming special-group tombstone replaces another owner's
            // active special group (Windows, as Samba's torture suite records it).
            (
                case(
                    (SpecialGroup, Active),
                    OtherOwner,
                    (SpecialGroup, Tombstone),
                    Same,
                ),
                Replace,
            ),
            // Same owner always replaces.
            (
                case((Unique, Active), SameOwner, (Group, Tombstone), Different),
                Replace,
            ),
            // Replica vs replica (Samba's replace_*_replica_vs_X_replica tables).
            (
                case((Unique, Active), OtherOwner, (Unique, Active), Different),
                Replace,
            ),
            (
                case((Unique, Active), OtherOwner, (Unique, Tombstone), Different),
                Keep,
            ),
            (
                case(
                    (Unique, Released),
                    OtherOwner,
                    (Unique, Tombstone),
                    Different,
                ),
                Replace,
            ),
            (
                case((Unique, Active), OtherOwner, (SpecialGroup, Active), Same),
                Keep,
            ),
            (
                case(
                    (Multihomed, Active),
                    OtherOwner,
                    (Multihomed, Active),
                    Different,
                ),
                Replace,
            ),
            (
                case((Group, Active), OtherOwner, (Unique, Active), Same),
                Keep,
            ),
            (
                case((Group, Released), OtherOwner, (Group, Active), Different),
                Replace,
            ),
            (
                case(
                    (Group, Released),
                    OtherOwner,
                    (SpecialGroup, Tombstone),
                    Same,
                ),
                Keep,
            ),
            (
                case(
                    (Group, Tombstone),
                    OtherOwner,
                    (SpecialGroup, Active),
                    Different,
                ),
                Replace,
            ),
            (
                case((Group, Tombstone), OtherOwner, (Unique, Active), Same),
                Keep,
            ),
            (
                case(
                    (SpecialGroup, Active),
                    OtherOwner,
                    (Multihomed, Active),
                    Same,
                ),
                Keep,
            ),
            (
                case(
                    (SpecialGroup, Tombstone),
                    OtherOwner,
                    (Unique, Active),
                    Different,
                ),
                Replace,
            ),
            (
                case(
                    (SpecialGroup, Active),
                    OtherOwner,
                    (SpecialGroup, Active),
                    Different,
                ),
                MergeSpecialGroup,
            ),
            (
                case(
                    (SpecialGroup, Active),
                    OtherOwner,
                    (SpecialGroup, Active),
                    Same,
                ),
                Replace,
            ),
            (
                case(
                    (SpecialGroup, Active),
                    OtherOwner,
                    (SpecialGroup, Active),
                    IncomingEmpty,
                ),
                Keep,
            ),
            // Owned vs replica (replace_*_owned_vs_X_replica).
            (
                case((Unique, Released), Owned, (Unique, Tombstone), Different),
                Replace,
            ),
            (
                case((Unique, Active), Owned, (Unique, Tombstone), Different),
                Keep,
            ),
            (
                case((Unique, Active), Owned, (Group, Active), Different),
                ReplaceAndReleaseDemand,
            ),
            (
                case((Unique, Active), Owned, (SpecialGroup, Active), Same),
                ReplaceAndReleaseDemand,
            ),
            (
                case((Unique, Active), Owned, (Unique, Active), Same),
                Replace,
            ),
            (
                case((Multihomed, Active), Owned, (Multihomed, Active), Subset),
                Replace,
            ),
            (
                case((Unique, Active), Owned, (Unique, Active), Different),
                Challenge,
            ),
            (
                case((Multihomed, Active), Owned, (Multihomed, Active), Superset),
                Challenge,
            ),
            (
                case((Multihomed, Active), Owned, (Unique, Active), Different),
                Challenge,
            ),
            (
                case((Group, Active), Owned, (Group, Active), Different),
                Replace,
            ),
            (case((Group, Active), Owned, (Group, Tombstone), Same), Keep),
            (
                case((Group, Released), Owned, (Group, Tombstone), Same),
                Replace,
            ),
            (
                case((Group, Released), Owned, (SpecialGroup, Active), Same),
                Keep,
            ),
            (
                case((SpecialGroup, Active), Owned, (Unique, Active), Same),
                Keep,
            ),
            (
                case((SpecialGroup, Active), Owned, (SpecialGroup, Active), Same),
                MergeSpecialGroup,
            ),
            (
                case(
                    (SpecialGroup, Active),
                    Owned,
                    (SpecialGroup, Tombstone),
                    Same,
                ),
                Keep,
            ),
            (
                case(
                    (SpecialGroup, Released),
                    Owned,
                    (Multihomed, Tombstone),
                    Same,
                ),
                Replace,
            ),
        ];
        for (c, want) in rows {
            assert_eq!(decide(fixed, *c), *want, "{c:?}");
        }
        // A static record of another owner stays; of the same owner it is replaced.
        let mut st = case((Unique, Active), OtherOwner, (Unique, Active), Different);
        st.existing_static = true;
        assert_eq!(decide(fixed, st), Keep);
        st.holder = Owned;
        assert_eq!(decide(fixed, st), Keep);
        st.holder = SameOwner;
        assert_eq!(decide(fixed, st), Replace);
        // KB Q135277 changes exactly the active multihomed vs active multihomed replica rows.
        for c in ConflictCase::all() {
            let q = c.holder == OtherOwner
                && !c.existing_static
                && (c.existing_kind, c.existing_state) == (Multihomed, Active)
                && (c.incoming_kind, c.incoming_state) == (Multihomed, Active);
            let (a, b) = (decide(fixed, c), decide(q135277, c));
            if q {
                assert_eq!((a, b), (Replace, Keep), "{c:?}");
            } else {
                assert_eq!(a, b, "{c:?}");
            }
        }
    }

    #[test]
    fn every_case_is_enumerated_once_and_decided() {
        let all: Vec<ConflictCase> = ConflictCase::all().collect();
        assert_eq!(all.len(), 4 * 3 * 2 * 3 * 4 * 2 * 5);
        let mut sorted = all.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted.len(), all.len());
        // Challenges arise only for owned active unique/multihomed records.
        for c in &all {
            if decide(Bugs::NONE, *c) == Decision::Challenge {
                assert_eq!(c.holder, Holder::Owned);
                assert!(c.existing_kind.is_unique() && c.incoming_kind.is_unique());
                assert_eq!(
                    (c.existing_state, c.incoming_state),
                    (RecState::Active, RecState::Active)
                );
            }
        }
    }

    #[test]
    fn challenge_answers() {
        use ChallengeDecision::*;
        let got: Vec<ChallengeDecision> = ChallengeAnswer::ALL
            .into_iter()
            .map(after_challenge)
            .collect();
        assert_eq!(
            got,
            [Replace, Keep, Keep, KeepAndReleaseDemand, MergeMultihomed]
        );
    }

    #[test]
    fn addr_relations() {
        use AddrRelation::*;
        assert_eq!(AddrRelation::of::<u8>(&[1, 2], &[1, 2]), Same);
        assert_eq!(AddrRelation::of::<u8>(&[], &[]), Same);
        assert_eq!(AddrRelation::of::<u8>(&[1], &[1, 2]), Subset);
        assert_eq!(AddrRelation::of::<u8>(&[], &[1]), Subset);
        assert_eq!(AddrRelation::of::<u8>(&[1, 2], &[2]), Superset);
        assert_eq!(AddrRelation::of::<u8>(&[1, 2], &[]), IncomingEmpty);
        assert_eq!(AddrRelation::of::<u8>(&[1, 2], &[2, 3]), Different);
    }

    #[test]
    fn owned_record_challenges_its_holder_then_replaces_or_keeps() {
        let cfg = ServerConfig::default();
        // WINS 100 owns NAME5 -> .1; a replica from WINS 200 says NAME5 -> .2.
        let mut dst: Server<u8, u8> = Server::new(100);
        let mut out = Vec::new();
        let reg = crate::proto::Packet::Register {
            name: 5,
            group: false,
            node: NodeType::H,
            ttl: 300,
            addr: 1,
            multihomed: false,
            broadcast: false,
        };
        dst.handle(&cfg, 0, 1, 0, reg, &mut out);
        out.clear();
        let replica = rec(200, 1, Kind::Unique, RecState::Active, [2].into());
        let o = apply_replica(&mut dst, &cfg, 0, replica.clone(), &mut out);
        assert_eq!(o, Outcome::Decided(Decision::Challenge));
        assert!(matches!(out[0].packet, Packet::Query { name: 5, .. }) && out[0].to == 1);
        // No answer: the replica replaces the owned record.
        let mut gone = dst.clone();
        gone.on_timer(&cfg, 10, &mut out);
        assert_eq!(gone.record(&5).unwrap().owner, 200);
        // The holder still claims the name with only its own address: the record stays.
        let answer = |addrs: &[u8]| Packet::Response {
            op: crate::proto::Opcode::Query,
            name: 5,
            rcode: crate::proto::Rcode::Ok,
            ttl: 300,
            group: false,
            addrs: addrs.into(),
        };
        let mut kept = dst.clone();
        kept.handle(&cfg, 0, 1, 0, answer(&[1]), &mut out);
        assert_eq!(kept.record(&5).unwrap().owner, 100);
        assert!(kept.pending.is_empty());
        // It lists both addresses: one multihomed host, merged into the replica.
        let mut merged = dst.clone();
        merged.handle(&cfg, 0, 1, 0, answer(&[1, 2]), &mut out);
        let r = merged.record(&5).unwrap();
        assert_eq!(
            (r.owner, r.kind, &r.addrs[..]),
            (200, Kind::Multihomed, &[1, 2][..])
        );
    }

    #[test]
    fn pull_brings_new_versions_once() {
        let cfg = ServerConfig::default();
        let mut src: Server<u8, u8> = Server::new(1);
        let mut out = Vec::new();
        for n in [5u8, 6] {
            let p = crate::proto::Packet::Register {
                name: n,
                group: false,
                node: NodeType::H,
                ttl: 300,
                addr: n,
                multihomed: false,
                broadcast: false,
            };
            src.handle(&cfg, 0, n, 0, p, &mut out);
        }
        let mut dst: Server<u8, u8> = Server::new(2);
        assert!(pull_pending(&dst, &src));
        assert!(pull(&mut dst, &cfg, 0, &src, &mut out));
        assert_eq!(dst.records.len(), 2);
        assert_eq!(dst.known_version(1), 2);
        assert!(!pull_pending(&dst, &src));
        assert!(!pull(&mut dst, &cfg, 0, &src, &mut out));
        assert_eq!(dst.owner_versions()[..], [(1, 2)]);
    }
}
