//! Sample packets for the benchmarks and the allocation test: the same bytes
//! a Windows client or WINS server sends, built with nbns-wire's emit (and
//! checked against the sizes RFC 1002 gives).

use nbns_wire::nbns::{
    Compression, Flags, List, NbEntry, NbFlags, NodeStatus, Opcode, Question, RData, Record, Repr,
    RrType, StatusName, CLASS_IN,
};
use nbns_wire::{Labels, Name, NetbiosName};
use std::net::Ipv4Addr;

fn fred() -> Name<'static> {
    Name::Netbios {
        name: NetbiosName::new(b"FRED", 0x20).unwrap(),
        scope: Labels::EMPTY,
    }
}

fn emit(repr: &Repr<'_>, c: Compression) -> Vec<u8> {
    repr.validate().unwrap();
    let mut buf = vec![0; repr.buffer_len(c)];
    repr.emit(&mut buf, c).unwrap();
    buf
}

const ENTRY: [NbEntry; 1] = [NbEntry {
    flags: NbFlags(0x6000), // unique H-node
    addr: Ipv4Addr::new(192, 168, 7, 21),
}];

/// A name query request for FRED<20>, RD set: 50 bytes.
pub fn name_query() -> Vec<u8> {
    emit(
        &Repr {
            id: 0x1234,
            flags: Flags::request(Opcode::Query),
            question: Some(Question {
                name: fred(),
                qtype: RrType::Nb,
                qclass: CLASS_IN,
            }),
            answer: None,
            authority: None,
            additional: None,
        },
        Compression::None,
    )
}

/// A positive name query response, one NB entry: 62 bytes.
pub fn positive_response() -> Vec<u8> {
    let mut flags = Flags::request(Opcode::Query);
    flags.response = true;
    flags.authoritative = true;
    flags.recursion_available = true;
    emit(
        &Repr {
            id: 0x1234,
            flags,
            question: None,
            answer: Some(Record {
                name: fred(),
                class: CLASS_IN,
                ttl: 300_000,
                rdata: RData::Nb(List::Items(&ENTRY)),
            }),
            authority: None,
            additional: None,
        },
        Compression::None,
    )
}

/// A name registration request whose additional record's name is a pointer
/// to the question: 68 bytes.
pub fn registration() -> Vec<u8> {
    emit(
        &Repr {
            id: 0x4321,
            flags: Flags::request(Opcode::Registration),
            question: Some(Question {
                name: fred(),
                qtype: RrType::Nb,
                qclass: CLASS_IN,
            }),
            answer: None,
            authority: None,
            additional: Some(Record {
                name: fred(),
                class: CLASS_IN,
                ttl: 300_000,
                rdata: RData::Nb(List::Items(&ENTRY)),
            }),
        },
        Compression::Question,
    )
}

/// A node status response with four names and the RFC's 46-byte statistics.
pub fn node_status_response() -> Vec<u8> {
    let nb = |n: &[u8], suffix, flags| StatusName {
        name: NetbiosName::new(n, suffix).unwrap(),
        flags,
    };
    let names = [
        nb(b"FRED", 0x00, StatusName::ACTIVE),
        nb(b"FRED", 0x20, StatusName::ACTIVE),
        nb(b"WORKGROUP", 0x00, StatusName::GROUP | StatusName::ACTIVE),
        nb(b"WORKGROUP", 0x1e, StatusName::GROUP | StatusName::ACTIVE),
    ];
    let mut statistics = NodeStatus::ZERO_STATISTICS;
    statistics[..6].copy_from_slice(&[0x00, 0x15, 0x5d, 0x01, 0x02, 0x03]);
    let mut flags = Flags::request(Opcode::Query);
    flags.response = true;
    flags.authoritative = true;
    emit(
        &Repr {
            id: 0x0042,
            flags,
            question: None,
            answer: Some(Record {
                name: Name::Netbios {
                    name: NetbiosName::WILDCARD,
                    scope: Labels::EMPTY,
                },
                class: CLASS_IN,
                ttl: 0,
                rdata: RData::NbStat(NodeStatus {
                    names: List::Items(&names),
                    statistics: &statistics,
                }),
            }),
            authority: None,
            additional: None,
        },
        Compression::None,
    )
}

/// A WINS replication name records response (send-entries reply) with 20
/// unique H-node records, as one frame.
pub fn wins_send_entries_reply() -> Vec<u8> {
    use nbns_wire::wrepl::{
        Addresses, Flags as WFlags, NameRecord, NameRecords, NodeType as WNode, RecordName,
        RecordState, RecordType, Replication, Repr as WRepr,
    };
    let flags = WFlags::new(
        RecordType::Unique,
        RecordState::Active,
        WNode::H,
        false,
        false,
    );
    let records: Vec<NameRecord<'static>> = (0..20u8)
        .map(|i| {
            let host = format!("HOST{i:02}");
            NameRecord::new(
                RecordName::new(
                    NetbiosName::new(host.as_bytes(), [0x00, 0x20][i as usize % 2]).unwrap(),
                ),
                flags,
                0x1_0000 + u64::from(i),
                Addresses::Single(Ipv4Addr::new(10, 0, 1, 10 + i)),
            )
        })
        .collect();
    WRepr::replication(
        0x1234,
        Replication::NameRecordsResponse(NameRecords::Slice(&records)),
    )
    .to_vec()
    .unwrap()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_have_the_rfc_sizes() {
        assert_eq!(name_query().len(), 50);
        assert_eq!(positive_response().len(), 62);
        assert_eq!(registration().len(), 68);
        assert_eq!(node_status_response().len(), 12 + 34 + 10 + 1 + 4 * 18 + 46);
        assert_eq!(
            ENTRY[0].flags,
            NbFlags::new(false, nbns_wire::nbns::NodeType::H)
        );
    }
}
