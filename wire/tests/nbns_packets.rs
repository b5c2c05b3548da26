//! Hand-built NBNS packets of every kind, laid out byte by byte from the
//! RFC 1002 4.2 diagrams, checked field by field after parsing, and the
//! malformed packets the parser must reject with the right error and offset.

use nbns_wire::nbns::*;
use nbns_wire::{Error, ErrorKind, Labels, Name, NetbiosName, Section};
use std::net::Ipv4Addr;

/// Second-level encoding of NAME<suffix> with an optional scope.
fn enc(name: &str, suffix: u8, scope: &[&str]) -> Vec<u8> {
    let mut raw = [b' '; 16];
    raw[..name.len()].copy_from_slice(name.as_bytes());
    raw[15] = suffix;
    let mut out = vec![0x20];
    for b in raw {
        out.push(b'A' + (b >> 4));
        out.push(b'A' + (b & 0x0f));
    }
    for label in scope {
        out.push(label.len() as u8);
        out.extend_from_slice(label.as_bytes());
    }
    out.push(0);
    out
}

fn header(id: u16, flags: u16, counts: [u16; 4]) -> Vec<u8> {
    let mut h = id.to_be_bytes().to_vec();
    h.extend_from_slice(&flags.to_be_bytes());
    for c in counts {
        h.extend_from_slice(&c.to_be_bytes());
    }
    h
}

fn rr_tail(rtype: u16, ttl: u32, rdata: &[u8]) -> Vec<u8> {
    let mut v = rtype.to_be_bytes().to_vec();
    v.extend_from_slice(&CLASS_IN.to_be_bytes());
    v.extend_from_slice(&ttl.to_be_bytes());
    v.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
    v.extend_from_slice(rdata);
    v
}

fn nb(flags: u16, addr: [u8; 4]) -> Vec<u8> {
    let mut v = flags.to_be_bytes().to_vec();
    v.extend_from_slice(&addr);
    v
}

fn name_of(n: &str, suffix: u8) -> NetbiosName {
    NetbiosName::new(n.as_bytes(), suffix).unwrap()
}

/// Parses, checks the repr re-emits to the same bytes (with `c`), returns it.
fn parse_and_reemit(bytes: &[u8], c: Compression) -> Repr<'_> {
    let repr = Repr::parse_bytes(bytes).unwrap();
    let mut out = vec![0; repr.buffer_len(c)];
    assert_eq!(repr.emit(&mut out, c).unwrap(), bytes.len());
    assert_eq!(out, bytes, "re-emitted bytes differ");
    repr
}

fn name_query() -> Vec<u8> {
    let mut p = header(0x1234, 0x0110, [1, 0, 0, 0]);
    p.extend(enc("FRED", 0x20, &[]));
    p.extend_from_slice(&[0x00, 0x20, 0x00, 0x01]);
    p
}

#[test]
fn name_query_request_is_50_bytes() {
    let p = name_query();
    assert_eq!(p.len(), 50);
    let view = Packet::new_checked(&p[..]).unwrap();
    assert_eq!(view.transaction_id(), 0x1234);
    assert_eq!(view.question_count(), 1);
    let r = parse_and_reemit(&p, Compression::None);
    assert_eq!(r.id, 0x1234);
    assert!(!r.flags.response);
    assert_eq!(r.flags.opcode, Opcode::Query);
    assert!(r.flags.recursion_desired && r.flags.broadcast);
    assert!(!r.flags.authoritative && !r.flags.truncated && !r.flags.recursion_available);
    let q = r.question.unwrap();
    assert_eq!(q.name.netbios_name(), Some(&name_of("FRED", 0x20)));
    assert_eq!(q.qtype, RrType::Nb);
    assert_eq!(q.qclass, CLASS_IN);
    assert!(r.answer.is_none() && r.authority.is_none() && r.additional.is_none());
}

fn positive_response() -> Vec<u8> {
    let mut p = header(0x1234, 0x8500, [0, 1, 0, 0]);
    p.extend(enc("FRED", 0x20, &[]));
    p.extend(rr_tail(0x20, 300_000, &nb(0x6000, [10, 0, 0, 7])));
    p
}

#[test]
fn positive_query_response_is_62_bytes() {
    let p = positive_response();
    assert_eq!(p.len(), 62);
    let r = parse_and_reemit(&p, Compression::None);
    assert!(r.flags.response && r.flags.authoritative && r.flags.recursion_desired);
    assert_eq!(r.flags.rcode, Rcode::NoError);
    let a = r.answer.unwrap();
    assert_eq!(a.ttl, 300_000);
    assert_eq!(a.class, CLASS_IN);
    let entries: Vec<_> = a.nb_entries().unwrap().iter().collect();
    assert_eq!(
        entries,
        [NbEntry {
            flags: NbFlags::new(false, NodeType::H),
            addr: Ipv4Addr::new(10, 0, 0, 7)
        }]
    );
    assert_eq!(r.first_address(), Some(Ipv4Addr::new(10, 0, 0, 7)));
}

#[test]
fn group_response_with_many_entries() {
    let mut p = header(1, 0x8500, [0, 1, 0, 0]);
    p.extend(enc("WORKGROUP", 0x1c, &[]));
    let mut rdata = Vec::new();
    for i in 1..=25u8 {
        rdata.extend(nb(0x8000, [192, 0, 2, i]));
    }
    p.extend(rr_tail(0x20, 0, &rdata));
    let r = parse_and_reemit(&p, Compression::None);
    let list = r.answer.unwrap().nb_entries().unwrap();
    assert_eq!(list.len(), 25);
    assert!(list.iter().all(|e| e.flags.group()));
    assert_eq!(
        list.iter().last().unwrap().addr,
        Ipv4Addr::new(192, 0, 2, 25)
    );
}

/// Registration: question plus an additional NB record whose name is a
/// pointer to the question (RFC 1002 4.2.2).
fn registration(opcode: u16) -> Vec<u8> {
    let mut p = header(0x0042, 0x0100 | (opcode << 11), [1, 0, 0, 1]);
    p.extend(enc("HOST", 0x00, &["CORP", "EXAMPLE"]));
    p.extend_from_slice(&[0x00, 0x20, 0x00, 0x01]);
    p.extend_from_slice(&[0xc0, 0x0c]);
    p.extend(rr_tail(0x20, 259_200, &nb(0x2000, [127, 0, 0, 3])));
    p
}

#[test]
fn registration_refresh_release_and_multihomed_requests() {
    for (code, opcode) in [
        (5, Opcode::Registration),
        (6, Opcode::Release),
        (8, Opcode::Refresh),
        (9, Opcode::RefreshAlt),
        (15, Opcode::MultihomedRegistration),
    ] {
        let p = registration(code);
        let r = parse_and_reemit(&p, Compression::Question);
        assert_eq!(r.flags.opcode, opcode);
        assert!(opcode.is_registration_like());
        let q = r.question.unwrap();
        assert_eq!(q.name.to_string(), "HOST<00>.CORP.EXAMPLE");
        let add = r.additional.unwrap();
        assert_eq!(
            add.name, q.name,
            "pointer must resolve to the question name"
        );
        assert_eq!(add.ttl, 259_200);
        let e = add.nb_entries().unwrap().iter().next().unwrap();
        assert_eq!(e.flags.node_type(), NodeType::P);
        assert!(!e.flags.group());
        assert_eq!(e.addr, Ipv4Addr::new(127, 0, 0, 3));
        // Without compression the same repr is longer by the name minus the pointer.
        assert_eq!(
            r.buffer_len(Compression::None),
            p.len() - 2 + q.name.buffer_len()
        );
    }
}

#[test]
fn negative_registration_response_act_err() {
    let mut p = header(0x0042, 0xad86, [0, 1, 0, 0]);
    p.extend(enc("HOST", 0x00, &[]));
    p.extend(rr_tail(0x20, 0, &nb(0x0000, [127, 0, 0, 3])));
    let r = parse_and_reemit(&p, Compression::None);
    assert_eq!(r.flags.opcode, Opcode::Registration);
    assert_eq!(r.flags.rcode, Rcode::ActErr);
    assert!(r.flags.response && r.flags.authoritative && r.flags.recursion_available);
}

#[test]
fn wack_carries_request_flags() {
    let mut p = header(0x0042, 0xbc00, [0, 1, 0, 0]);
    p.extend(enc("HOST", 0x00, &[]));
    p.extend(rr_tail(0x20, 60, &[0x29, 0x00]));
    assert_eq!(p.len(), 58);
    let r = parse_and_reemit(&p, Compression::None);
    assert_eq!(r.flags.opcode, Opcode::Wack);
    let a = r.answer.unwrap();
    assert_eq!(a.ttl, 60);
    assert_eq!(a.rdata, RData::Wack(0x2900));
    assert_eq!(a.rdata.rtype(), RrType::Nb);
}

#[test]
fn negative_query_response_with_null_record() {
    let mut p = header(7, 0x8503, [0, 1, 0, 0]);
    p.extend(enc("NOBODY", 0x00, &[]));
    p.extend(rr_tail(0x0a, 0, &[]));
    let r = parse_and_reemit(&p, Compression::None);
    assert_eq!(r.flags.rcode, Rcode::NamErr);
    assert_eq!(r.answer.unwrap().rdata, RData::Null(&[]));
}

#[test]
fn node_status_request_and_response() {
    let mut req = header(9, 0x0000, [1, 0, 0, 0]);
    let mut star = vec![0x20, b'C', b'K'];
    star.extend(std::iter::repeat_n(b'A', 30));
    star.push(0);
    req.extend(&star);
    req.extend_from_slice(&[0x00, 0x21, 0x00, 0x01]);
    let r = parse_and_reemit(&req, Compression::None);
    let q = r.question.unwrap();
    assert_eq!(q.qtype, RrType::NbStat);
    assert_eq!(q.name.netbios_name(), Some(&NetbiosName::WILDCARD));

    let mut rdata = vec![2u8];
    let mut n1 = *b"SERVER         \x20";
    n1[15] = 0x20;
    rdata.extend_from_slice(&n1);
    rdata.extend_from_slice(&0x0400u16.to_be_bytes());
    rdata.extend_from_slice(b"WORKGROUP      \x00");
    rdata.extend_from_slice(&0x8400u16.to_be_bytes());
    let mut stats = vec![0x00, 0x11, 0x22, 0x33, 0x44, 0x55];
    stats.resize(64, 0xee); // longer than RFC 1002's 46: must be accepted and kept
    rdata.extend_from_slice(&stats);
    let mut resp = header(9, 0x8400, [0, 1, 0, 0]);
    resp.extend(&star);
    resp.extend(rr_tail(0x21, 0, &rdata));
    let r = parse_and_reemit(&resp, Compression::None);
    let RData::NbStat(s) = r.answer.unwrap().rdata else {
        panic!("not NBSTAT")
    };
    let names: Vec<_> = s.names.iter().collect();
    assert_eq!(names.len(), 2);
    assert_eq!(names[0].name, name_of("SERVER", 0x20));
    assert_eq!(names[0].flags, StatusName::ACTIVE);
    assert_eq!(names[1].name, name_of("WORKGROUP", 0x00));
    assert_eq!(names[1].flags, StatusName::GROUP | StatusName::ACTIVE);
    assert_eq!(s.unit_id(), Some([0x00, 0x11, 0x22, 0x33, 0x44, 0x55]));
    assert_eq!(s.statistics.len(), 64);
}

#[test]
fn redirect_response_with_ns_and_a_records() {
    let mut p = header(3, 0x8500, [0, 0, 1, 1]);
    p.extend(enc("FRED", 0x00, &[]));
    let ns_name_at = p.len() + 10; // the NS RDATA starts after type..rdlength
    let ns = [4, b'w', b'i', b'n', b's', 3, b'c', b'o', b'm', 0];
    p.extend(rr_tail(0x02, 0, &ns));
    p.extend_from_slice(&[0xc0, ns_name_at as u8]);
    p.extend(rr_tail(0x01, 0, &[192, 0, 2, 1]));
    // Names compressed other than against the question re-emit in full, so
    // check the round trip on the repr rather than the bytes.
    let r = Repr::parse_bytes(&p).unwrap();
    let mut out = vec![0; r.buffer_len(Compression::None)];
    r.emit(&mut out, Compression::None).unwrap();
    assert_eq!(Repr::parse_bytes(&out).unwrap(), r);
    let auth = r.authority.unwrap();
    let RData::Ns(ns) = auth.rdata else {
        panic!("not NS")
    };
    assert_eq!(ns.to_string(), "wins.com");
    let add = r.additional.unwrap();
    assert_eq!(add.name, ns);
    assert_eq!(add.rdata, RData::A(Ipv4Addr::new(192, 0, 2, 1)));
}

#[test]
fn builds_and_emits_a_registration_from_fields() {
    let entries = [NbEntry {
        flags: NbFlags::new(false, NodeType::H),
        addr: Ipv4Addr::new(127, 0, 0, 3),
    }];
    let name = Name::netbios(name_of("HOST", 0), Labels::dotted("CORP.EXAMPLE").unwrap()).unwrap();
    let repr = Repr {
        id: 0x0042,
        flags: Flags::request(Opcode::Registration),
        question: Some(Question {
            name,
            qtype: RrType::Nb,
            qclass: CLASS_IN,
        }),
        answer: None,
        authority: None,
        additional: Some(Record {
            name,
            class: CLASS_IN,
            ttl: 259_200,
            rdata: RData::Nb(List::Items(&entries)),
        }),
    };
    let mut buf = [0u8; 128];
    let n = repr.emit(&mut buf, Compression::Question).unwrap();
    let mut expect = registration(5);
    let flags_at = expect.len() - 6;
    expect[flags_at] = 0x60; // H-node flags in the NB entry
    assert_eq!(&buf[..n], &expect[..]);
    assert_eq!(
        repr.emit(&mut buf[..n - 1], Compression::Question)
            .unwrap_err()
            .kind,
        ErrorKind::BufferTooSmall {
            needed: n,
            available: n - 1
        }
    );
}

fn err(bytes: &[u8]) -> Error {
    Repr::parse_bytes(bytes).unwrap_err()
}

#[test]
fn malformed_packets_are_rejected_with_kind_and_offset() {
    // Truncated header.
    assert_eq!(
        err(&[0x12, 0x34, 0x01]),
        Error::new(
            ErrorKind::Truncated {
                needed: 12,
                available: 3
            },
            0
        )
    );
    // Zero-length datagram.
    assert_eq!(
        err(&[]).kind,
        ErrorKind::Truncated {
            needed: 12,
            available: 0
        }
    );
    // QDCOUNT 2.
    let mut p = name_query();
    p[5] = 2;
    assert_eq!(
        err(&p),
        Error::new(
            ErrorKind::TooManyRecords {
                section: Section::Question,
                count: 2
            },
            4
        )
    );
    // Counts larger than the packet: an answer announced but absent.
    let mut p = name_query();
    p[7] = 1;
    assert_eq!(
        err(&p).kind,
        ErrorKind::Truncated {
            needed: 1,
            available: 0
        }
    );
    assert_eq!(err(&p).offset, 50);
    // Question name cut short.
    let p = name_query();
    assert_eq!(
        err(&p[..30]).kind,
        ErrorKind::Truncated {
            needed: 32,
            available: 17
        }
    );
    // A character outside A..P.
    let mut p = name_query();
    p[20] = b'Z';
    assert_eq!(err(&p), Error::new(ErrorKind::BadNameChar(b'Z'), 20));
    // Lower case is outside A..P too.
    let mut p = name_query();
    p[13] = b'e';
    assert_eq!(err(&p), Error::new(ErrorKind::BadNameChar(b'e'), 13));
    // Question name whose first label is not 32 bytes.
    let mut p = header(1, 0, [1, 0, 0, 0]);
    p.extend_from_slice(&[3, b'A', b'B', b'C', 0, 0, 0x20, 0, 1]);
    assert_eq!(err(&p), Error::new(ErrorKind::BadNameLength(3), 12));
    // Label over 63 (0x40 is a reserved label type).
    let mut p = header(1, 0, [1, 0, 0, 0]);
    p.extend_from_slice(&[0x40, 0, 0, 0x20, 0, 1]);
    assert_eq!(err(&p), Error::new(ErrorKind::LabelTooLong(0x40), 12));
    // Compression pointer to itself (a loop) and forwards.
    let mut p = header(1, 0, [1, 0, 0, 0]);
    p.extend_from_slice(&[0xc0, 12, 0, 0x20, 0, 1]);
    assert_eq!(err(&p), Error::new(ErrorKind::BadPointer(12), 12));
    let mut p = header(1, 0, [1, 0, 0, 0]);
    p.extend_from_slice(&[0xc0, 40, 0, 0x20, 0, 1]);
    assert_eq!(err(&p), Error::new(ErrorKind::BadPointer(40), 12));
    // Pointer out of range.
    let mut p = header(1, 0, [1, 0, 0, 0]);
    p.extend_from_slice(&[0xff, 0xff]);
    assert_eq!(err(&p).kind, ErrorKind::BadPointer(0x3fff));
    // Two pointers that bounce between each other.
    let mut p = positive_response();
    let at = p.len();
    p[9] = 1; // an authority record whose name points forwards, then back
    p.extend_from_slice(&[0xc0, (at + 2) as u8, 0xc0, at as u8]);
    assert_eq!(err(&p).kind, ErrorKind::BadPointer((at + 2) as u16));
    // RDLENGTH that lies: longer than the packet.
    let mut p = positive_response();
    let rdlen_at = p.len() - 8;
    p[rdlen_at + 1] = 200;
    assert_eq!(
        err(&p),
        Error::new(
            ErrorKind::Truncated {
                needed: 200,
                available: 6
            },
            56
        )
    );
    // RDLENGTH that is not a multiple of 6 in an NB record.
    let mut p = positive_response();
    p[rdlen_at + 1] = 5;
    p.pop();
    assert_eq!(
        err(&p),
        Error::new(
            ErrorKind::BadRdLength {
                rtype: 0x20,
                len: 5
            },
            rdlen_at
        )
    );
    // NBSTAT that claims more names than its RDATA holds.
    let mut p = header(9, 0x8400, [0, 1, 0, 0]);
    p.extend(enc("*", 0, &[]));
    p.extend(rr_tail(0x21, 0, &[3, 0, 0]));
    assert_eq!(err(&p).kind, ErrorKind::BadNameCount(3));
    // A name over the parser's 1024 bytes.
    let mut p = header(1, 0, [1, 0, 0, 0]);
    p.extend(&enc("X", 0, &[])[..33]);
    for _ in 0..16 {
        p.push(63);
        p.extend(std::iter::repeat_n(b'a', 63));
    }
    p.push(0);
    assert_eq!(err(&p).kind, ErrorKind::NameTooLong(1024));
}

#[test]
fn names_over_the_rfc_limit_parse_and_are_flagged() {
    // Samba's AD DC registers and answers names of 272 bytes (smbtorture's
    // wins_bad_names): a decoder must show them, and say they exceed RFC 1002.
    let scope = [
        "a".repeat(63),
        "b".repeat(63),
        "c".repeat(63),
        "d".repeat(45),
    ];
    let scope: Vec<&str> = scope.iter().map(String::as_str).collect();
    let mut p = header(1, 0x0110, [1, 0, 0, 0]);
    p.extend(enc("LONG", 0x00, &scope));
    p.extend_from_slice(&[0x00, 0x20, 0x00, 0x01]);
    let r = parse_and_reemit(&p, Compression::None);
    let name = r.question.unwrap().name;
    assert_eq!(name.buffer_len(), 272);
    assert!(name.exceeds_rfc_limit());
}

#[test]
fn errors_read_as_sentences() {
    let mut p = name_query();
    p[20] = b'Z';
    assert_eq!(
        err(&p).to_string(),
        "byte 0x5a in encoded name is not in 'A'..'P' (at byte 20)"
    );
}
