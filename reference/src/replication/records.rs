//! The reference target's records on the replication wire: the model's
//! [`Record`] to and from MS-WINSRA name records ([`OwnedNameRecord`]).

use crate::wire_name::WireName;
use nbns_model::proto::{NodeType, Time};
use nbns_model::server::{Kind, RecState, Record, ServerConfig};
use nbns_wire::wrepl::{
    self, AddressPair, Flags, OwnedNameRecord, OwnedRecordName, RecordState, RecordType,
    RECORD_RESERVED,
};
use std::net::Ipv4Addr;

/// A record of the reference target's database.
pub type WinsRecord = Record<WireName, Ipv4Addr>;

/// The wire's record type for a model record kind.
pub fn record_type(k: Kind) -> RecordType {
    match k {
        Kind::Unique => RecordType::Unique,
        Kind::Group => RecordType::Group,
        Kind::SpecialGroup => RecordType::SpecialGroup,
        Kind::Multihomed => RecordType::Multihomed,
    }
}

/// The model's record kind for a wire record type.
pub fn kind_of(t: RecordType) -> Kind {
    match t {
        RecordType::Unique => Kind::Unique,
        RecordType::Group => Kind::Group,
        RecordType::SpecialGroup => Kind::SpecialGroup,
        RecordType::Multihomed => Kind::Multihomed,
    }
}

/// The wire's record state for a model record state.
pub fn record_state(s: RecState) -> RecordState {
    match s {
        RecState::Active => RecordState::Active,
        RecState::Released => RecordState::Released,
        RecState::Tombstone => RecordState::Tombstone,
    }
}

/// The model's state for a wire state (a deleted record is a tombstone to it).
pub fn state_of(s: RecordState) -> RecState {
    match s {
        RecordState::Active => RecState::Active,
        RecordState::Released => RecState::Released,
        RecordState::Tombstone | RecordState::Deleted => RecState::Tombstone,
    }
}

/// The name record a partner receives for `r` in a send-entries reply from
/// `sender`: the L flag is set when `sender` does not own `r`, a replica it
/// passes on (MS-WINSRA 2.2.10.1: 0 local, 1 replica).
pub fn to_wire(r: &WinsRecord, sender: Ipv4Addr) -> OwnedNameRecord {
    let rt = record_type(r.kind);
    let st = record_state(r.state);
    let node = match r.node {
        NodeType::B => wrepl::NodeType::B,
        NodeType::P => wrepl::NodeType::P,
        NodeType::M => wrepl::NodeType::M,
        NodeType::H => wrepl::NodeType::H,
    };
    let single = match r.kind {
        // A normal group keeps no members: Windows and Samba send the
        // limited broadcast address.
        Kind::Group => r.addrs.first().copied().unwrap_or(Ipv4Addr::BROADCAST),
        _ => r.addrs.first().copied().unwrap_or(Ipv4Addr::UNSPECIFIED),
    };
    OwnedNameRecord {
        name: OwnedRecordName::Netbios {
            name: r.name.name,
            scope: r.name.dotted_scope(),
        },
        flags: Flags::new(rt, st, node, r.is_static, r.owner != sender),
        group: rt.is_group() as u32,
        version: r.version,
        addresses: if rt.has_address_list() {
            // Every address with its own owner (MS-WINSRA 2.2.10.1).
            r.addr_owners()
                .map(|(address, owner)| AddressPair { owner, address })
                .collect()
        } else {
            Vec::new()
        },
        single,
        reserved: RECORD_RESERVED,
    }
}

/// The replica a send-entries reply for `owner` carries, received at `now`,
/// each address with the owner the record gives it; `None` for a name the
/// model cannot hold (a name buffer shorter than 17 bytes). A scope that is
/// no NBNS scope is kept as received (see [`WireName`]). Replication carries
/// a scope as dotted text, so an NBNS label holding a dot does not survive
/// it (as in Samba and Windows).
pub fn from_wire(
    w: &OwnedNameRecord,
    owner: Ipv4Addr,
    cfg: &ServerConfig,
    now: Time,
) -> Option<WinsRecord> {
    let OwnedRecordName::Netbios { name, scope } = &w.name else {
        return None;
    };
    let name = WireName::with_dotted_scope(*name, scope)?;
    let kind = kind_of(w.flags.record_type());
    let state = state_of(w.flags.state());
    let expires = match state {
        // Active replicas do not age here: their owner replicates the change.
        RecState::Active => Time::MAX,
        RecState::Released => now + Time::from(cfg.tombstone_interval),
        RecState::Tombstone => now + Time::from(cfg.tombstone_timeout),
    };
    let node = match w.flags.node_type() {
        wrepl::NodeType::B => NodeType::B,
        wrepl::NodeType::P => NodeType::P,
        wrepl::NodeType::M => NodeType::M,
        wrepl::NodeType::H => NodeType::H,
    };
    let mut pairs: Vec<(Ipv4Addr, Ipv4Addr)> = match w.as_record().addresses {
        wrepl::Addresses::Single(a) => vec![(a, owner)],
        wrepl::Addresses::List(l) => l.iter().map(|p| (p.address, p.owner)).collect(),
    };
    pairs.retain(|(a, _)| !a.is_unspecified());
    let mut rec = Record {
        name,
        kind,
        state,
        is_static: w.flags.is_static(),
        node,
        addrs: Default::default(),
        other_owners: Default::default(),
        member_expiry: Default::default(),
        owner,
        version: w.version,
        expires,
    };
    rec.set_addr_owners(pairs);
    Some(rec)
}

#[cfg(test)]
mod tests {
    use super::*;
    use nbns_wire::NetbiosName;

    fn rec(kind: Kind, state: RecState, addrs: &[Ipv4Addr], scope: &str) -> WinsRecord {
        Record {
            name: WireName::with_dotted_scope(
                NetbiosName::new(b"HOST", 0x20).unwrap(),
                scope.as_bytes(),
            )
            .unwrap(),
            kind,
            state,
            is_static: kind == Kind::Unique,
            node: NodeType::M,
            addrs: addrs.iter().copied().collect(),
            other_owners: Default::default(),
            member_expiry: Default::default(),
            owner: Ipv4Addr::new(127, 0, 0, 9),
            version: 77,
            expires: Time::MAX,
        }
    }

    #[test]
    fn records_survive_the_wire() {
        let cfg = ServerConfig::default();
        let a = Ipv4Addr::new(10, 0, 0, 1);
        let b = Ipv4Addr::new(10, 0, 0, 2);
        for r in [
            rec(Kind::Unique, RecState::Active, &[a], ""),
            rec(Kind::Group, RecState::Active, &[a], "corp.example"),
            rec(Kind::SpecialGroup, RecState::Active, &[a, b], ""),
            rec(Kind::Multihomed, RecState::Tombstone, &[a, b], ""),
            // Per-address owners, and scopes only replication can carry.
            {
                let mut r = rec(Kind::SpecialGroup, RecState::Active, &[a], &"s".repeat(237));
                r.add_addr(b, Ipv4Addr::new(127, 0, 0, 30));
                r
            },
            {
                let mut r = rec(Kind::Multihomed, RecState::Active, &[b], "a..b");
                r.add_addr(a, Ipv4Addr::new(127, 0, 0, 31));
                r
            },
            rec(Kind::Group, RecState::Active, &[a], &"x".repeat(64)),
        ] {
            let w = to_wire(&r, r.owner);
            assert!(!w.flags.is_local(), "L is clear on the owner's own record");
            assert!(
                to_wire(&r, a).flags.is_local(),
                "L is set on a replica passed on (MS-WINSRA 2.2.10.1)"
            );
            // Through the bytes too: what a partner really parses.
            let bytes = w.as_record();
            let back = OwnedNameRecord::from_record(&bytes);
            let got = from_wire(&back, r.owner, &cfg, 5).expect("a NetBIOS name");
            let mut want = r.clone();
            if r.state == RecState::Tombstone {
                want.expires = 5 + Time::from(cfg.tombstone_timeout);
            }
            assert_eq!(got, want);
        }
    }
}
