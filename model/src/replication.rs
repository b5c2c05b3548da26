//! WINS replication (MS-WINSRA) between partners: owner-version maps, send-entries, and the
//! conflict rules applied when a replica meets an existing record (after Samba's
//! `wrepl_apply_records.c`).
//!
//! A pull is one step here: the puller asks the partner for its owner-version map, then for the
//! records of every owner it has newer versions of, and applies them in version order. Real
//! replication runs over TCP, so the model treats a pull as one atomic, reliable exchange.

pub use crate::conflict::{
    after_challenge, decide, AddrRelation, ChallengeAnswer, ChallengeDecision, ConflictCase,
    Decision, Holder, Outcome,
};
use crate::proto::{Addr, NameKey, Time};
use crate::server::{RecState, Record, Send, Server, ServerConfig, Version};

/// The records of `owner` with `min <= version <= max` that a partner sends in a send-entries
/// reply: active records and tombstones (released records are not replicated), version order.
pub fn entries<N: NameKey, A: Addr>(
    src: &Server<N, A>,
    owner: A,
    min: Version,
    max: Version,
) -> Vec<Record<N, A>> {
    let mut v: Vec<Record<N, A>> = src
        .records()
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
        dst.apply_replica(cfg, now, rec, out);
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
        .records()
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
    use crate::proto::Packet;
    use crate::server::Kind;

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
            other_owners: Default::default(),
            member_expiry: Default::default(),
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
            other_owners: Default::default(),
            member_expiry: Default::default(),
            owner,
            version,
            expires: 0,
        }
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
        let o = dst.apply_replica(&cfg, 0, replica.clone(), &mut out);
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
        let q = kept.pending_for(&5).map_or(0, |p| p.qxid);
        kept.handle(&cfg, 0, 1, q, answer(&[1]), &mut out);
        assert_eq!(kept.record(&5).unwrap().owner, 100);
        assert!(kept.pending.is_empty());
        // It lists both addresses: one multihomed host, merged into the replica.
        let mut merged = dst.clone();
        let q = merged.pending_for(&5).map_or(0, |p| p.qxid);
        merged.handle(&cfg, 0, 1, q, answer(&[1, 2]), &mut out);
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
        assert_eq!(dst.record_count(), 2);
        assert_eq!(dst.known_version(1), 2);
        assert!(!pull_pending(&dst, &src));
        assert!(!pull(&mut dst, &cfg, 0, &src, &mut out));
        assert_eq!(dst.owner_versions()[..], [(1, 2)]);
    }
}
