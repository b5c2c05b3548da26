//! WINS replication (MS-WINSRA) between partners: owner-version maps, send-entries, and the
//! conflict rules applied when a replica meets an existing record (after Samba's
//! `wrepl_apply_records.c`).
//!
//! A pull is one step here: the puller asks the partner for its owner-version map, then for the
//! records of every owner it has newer versions of, and applies them in version order. Real
//! replication runs over TCP, so the model treats a pull as one atomic, reliable exchange.

use crate::proto::{set_insert, Addr, NameKey, Time};
use crate::server::{Kind, RecState, Record, Server, ServerConfig, Version};
use crate::Bug;

/// What applying one replica did.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// The name was new here.
    Inserted,
    /// The replica replaced the existing record.
    Replaced,
    /// Special group members merged into the existing record.
    Merged,
    /// The existing record was kept.
    Kept,
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

/// The conflict rules: what should happen when `incoming` (a replica) meets `existing` on the
/// server `me`.
pub fn decide<N: NameKey, A: Addr>(
    cfg: &ServerConfig,
    me: A,
    existing: &Record<N, A>,
    incoming: &Record<N, A>,
) -> Outcome {
    use RecState::*;
    if existing.owner == incoming.owner {
        // Same owner: the newer version always replaces.
        return if incoming.version > existing.version {
            Outcome::Replaced
        } else {
            Outcome::Kept
        };
    }
    if existing.owner == me {
        // Owned vs replica. An owned record that is not active gives way; an owned active
        // record stays (WINS would challenge its holder; the model keeps the owned record and
        // lets its holder's refreshes or release decide).
        if existing.state != Active {
            return Outcome::Replaced;
        }
        if existing.kind == Kind::SpecialGroup
            && incoming.kind == Kind::SpecialGroup
            && incoming.state == Active
        {
            return Outcome::Merged;
        }
        return Outcome::Kept;
    }
    // Replica vs replica of different owners.
    if existing.is_static && !incoming.is_static && existing.state == Active {
        return Outcome::Kept;
    }
    match existing.kind {
        Kind::Unique | Kind::Multihomed => {
            if existing.state != Active {
                Outcome::Replaced
            } else if incoming.state == Active && incoming.kind != Kind::SpecialGroup {
                if cfg.bugs.has(Bug::Q135277)
                    && existing.kind == Kind::Multihomed
                    && incoming.kind == Kind::Multihomed
                {
                    // KB Q135277: an active multihomed replica does not replace an active
                    // multihomed replica of another owner.
                    Outcome::Kept
                } else {
                    Outcome::Replaced
                }
            } else {
                Outcome::Kept
            }
        }
        Kind::Group => {
            if (existing.state != Active && incoming.kind == Kind::Group)
                || (existing.state == Tombstone && incoming.kind != Kind::Unique)
            {
                Outcome::Replaced
            } else {
                Outcome::Kept
            }
        }
        Kind::SpecialGroup => {
            if existing.state != Active {
                Outcome::Replaced
            } else if incoming.kind == Kind::SpecialGroup && incoming.state == Active {
                Outcome::Merged
            } else {
                Outcome::Kept
            }
        }
    }
}

/// Applies one replica to `dst` by the conflict rules.
pub fn apply_replica<N: NameKey, A: Addr>(
    dst: &mut Server<N, A>,
    cfg: &ServerConfig,
    rec: Record<N, A>,
) -> Outcome {
    dst.raise_known(rec.owner, rec.version);
    let outcome = match dst.record(&rec.name) {
        None => Outcome::Inserted,
        Some(existing) => decide(cfg, dst.me, existing, &rec),
    };
    match outcome {
        Outcome::Inserted | Outcome::Replaced => dst.put(rec),
        Outcome::Merged => {
            let mut merged = dst.record(&rec.name).expect("existing").clone();
            let before = merged.addrs.len();
            for a in &rec.addrs {
                if merged.addrs.len() < cfg.special_group_max {
                    set_insert(&mut merged.addrs, *a);
                }
            }
            if merged.addrs.len() != before && merged.owner == dst.me {
                merged.version = dst.bump();
            }
            dst.put(merged);
        }
        Outcome::Kept => {}
    }
    outcome
}

/// `dst` pulls from its partner `src`: for every owner in `src`'s owner-version map other than
/// `dst` itself with versions `dst` has not seen, the new records are applied in version order.
/// Returns true when `dst` changed.
pub fn pull<N: NameKey, A: Addr>(
    dst: &mut Server<N, A>,
    cfg: &ServerConfig,
    _now: Time,
    src: &Server<N, A>,
) -> bool {
    let before = (dst.records.len(), dst.known.clone());
    let snapshot = dst.records.clone();
    for (owner, max) in src.owner_versions() {
        if owner == dst.me {
            continue;
        }
        let have = dst.known_version(owner);
        if max <= have {
            continue;
        }
        for rec in entries(src, owner, have + 1, max) {
            apply_replica(dst, cfg, rec);
        }
        dst.raise_known(owner, max);
    }
    before.0 != dst.records.len() || before.1 != dst.known || snapshot != dst.records
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

    fn rec(
        owner: u8,
        version: Version,
        kind: Kind,
        state: RecState,
        addrs: Vec<u8>,
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

    #[test]
    fn conflict_rules() {
        let fixed = ServerConfig::default();
        let buggy = ServerConfig {
            bugs: Bugs::from(Bug::Q135277),
            ..ServerConfig::default()
        };
        let a = |k, st, v| rec(1, v, k, st, vec![1]);
        let b = |k, st| rec(2, 1, k, st, vec![2]);
        use Kind::*;
        use RecState::*;
        // Same owner: newer replaces.
        assert_eq!(
            decide(&fixed, 9, &a(Unique, Active, 1), &a(Unique, Active, 2)),
            Outcome::Replaced
        );
        assert_eq!(
            decide(&fixed, 9, &a(Unique, Active, 2), &a(Unique, Active, 1)),
            Outcome::Kept
        );
        // Replica vs replica, Q135277.
        assert_eq!(
            decide(&fixed, 9, &a(Multihomed, Active, 1), &b(Multihomed, Active)),
            Outcome::Replaced
        );
        assert_eq!(
            decide(&buggy, 9, &a(Multihomed, Active, 1), &b(Multihomed, Active)),
            Outcome::Kept
        );
        assert_eq!(
            decide(&buggy, 9, &a(Unique, Active, 1), &b(Multihomed, Active)),
            Outcome::Replaced
        );
        assert_eq!(
            decide(&fixed, 9, &a(Unique, Active, 1), &b(Unique, Tombstone)),
            Outcome::Kept
        );
        assert_eq!(
            decide(&fixed, 9, &a(Unique, Tombstone, 1), &b(Unique, Tombstone)),
            Outcome::Replaced
        );
        // Static of another owner is not replaced by a dynamic one.
        let mut st = a(Unique, Active, 1);
        st.is_static = true;
        assert_eq!(decide(&fixed, 9, &st, &b(Unique, Active)), Outcome::Kept);
        // Groups.
        assert_eq!(
            decide(&fixed, 9, &a(Group, Active, 1), &b(Unique, Active)),
            Outcome::Kept
        );
        assert_eq!(
            decide(&fixed, 9, &a(Group, Released, 1), &b(Group, Active)),
            Outcome::Replaced
        );
        assert_eq!(
            decide(&fixed, 9, &a(Group, Tombstone, 1), &b(SpecialGroup, Active)),
            Outcome::Replaced
        );
        assert_eq!(
            decide(
                &fixed,
                9,
                &a(SpecialGroup, Active, 1),
                &b(SpecialGroup, Active)
            ),
            Outcome::Merged
        );
        // Owned active stays.
        assert_eq!(
            decide(&fixed, 1, &a(Unique, Active, 1), &b(Unique, Active)),
            Outcome::Kept
        );
        assert_eq!(
            decide(&fixed, 1, &a(Unique, Released, 1), &b(Unique, Active)),
            Outcome::Replaced
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
        assert!(pull(&mut dst, &cfg, 0, &src));
        assert_eq!(dst.records.len(), 2);
        assert_eq!(dst.known_version(1), 2);
        assert!(!pull_pending(&dst, &src));
        assert!(!pull(&mut dst, &cfg, 0, &src));
        assert_eq!(dst.owner_versions(), vec![(1, 2)]);
    }
}
