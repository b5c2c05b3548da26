//! NBNS packets (UDP 137) held against RFC 1002 section 4.2: the exact layout the RFC gives a
//! packet of its kind (header bits, section counts, record type and class, RDLENGTH, the entry
//! it must echo), checked field by field on every packet a target sends, whatever the script
//! that provoked it looks at.
//!
//! Where the RFC text contradicts itself the general definition wins and the choice is stated
//! here:
//! * RD: 4.2.1.1 says the NBNS copies the request's RD into its response; the per-packet
//!   diagrams draw one typical value. The copy is checked.
//! * RA: 4.2.1.1 makes RA=0 in a registration response mean "end node, challenge yourself"
//!   (4.2.7), so a server that challenges itself answers with RA=1 (4.2.5, 4.2.6); release
//!   responses and WACKs carry RA=0 in their diagrams, queries leave it open.
//! * The negative query response (4.2.14) draws ANCOUNT 0 yet shows a NULL answer record;
//!   every implementation sends the record, so ANCOUNT 1 is required.
//! * The WACK (4.2.16) labels its RR_TYPE "NULL" but gives the value 0x0020: the value is
//!   checked.

use super::Violation;
use nbns_wire::nbns::{
    Flags, NbEntry, Opcode, Packet, RData, Rcode, Record, Repr, RrType, StatusName, CLASS_IN,
};

/// What a response answers, taken from the request the runner sent.
#[derive(Debug, Clone, Copy)]
pub struct Asked<'a> {
    pub id: u16,
    pub flags: Flags,
    /// The request's header flags word (a WACK echoes it).
    pub flags_word: u16,
    pub question: Option<nbns_wire::nbns::Question<'a>>,
    /// The NB entry of a registration, refresh or release request.
    pub entry: Option<NbEntry>,
}

impl<'a> Asked<'a> {
    /// The request as the runner sent it; None when it lacks what its opcode needs (a
    /// question; for registration, refresh and release also an NB record), so that no RFC
    /// layout applies to its answer.
    pub fn of(request: &Repr<'a>) -> Option<Asked<'a>> {
        let question = request.question?;
        let entry = request
            .additional
            .and_then(|r| r.nb_entries())
            .and_then(|l| l.iter().next());
        if request.flags.opcode.is_registration_like() && entry.is_none() {
            return None;
        }
        Some(Asked {
            id: request.id,
            flags: request.flags,
            flags_word: request.flags.bits(),
            question: Some(question),
            entry,
        })
    }
}

/// The kind of packet a response is, by the request it answers and its own opcode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    RegistrationResponse,
    Wack,
    ReleaseResponse,
    PositiveQueryResponse,
    NegativeQueryResponse,
    NodeStatusResponse,
}

fn is_registration_request(op: Opcode) -> bool {
    matches!(
        op,
        Opcode::Registration
            | Opcode::MultihomedRegistration
            | Opcode::Refresh
            | Opcode::RefreshAlt
    )
}

/// Skips a (possibly compressed) name at `pos`; the offset after it.
fn skip_name(b: &[u8], mut pos: usize) -> Option<usize> {
    loop {
        let l = *b.get(pos)?;
        match l {
            0 => return Some(pos + 1),
            l if l & 0xc0 == 0xc0 => return (pos + 2 <= b.len()).then_some(pos + 2),
            l if l > 63 => return None,
            l => pos += 1 + l as usize,
        }
    }
}

/// Walks the sections as the header's counts announce them (RFC 1002 4.2.1: header, question,
/// answer, authority, additional) and holds the packet's length to them: no record may claim
/// more RDATA than follows it (RDLENGTH-EXACT), and nothing may follow the last record
/// (NO-TRAILING). Packets whose names cannot be walked are left to the parser's verdict.
fn check_framing(v: &mut Vec<Violation>, b: &[u8]) {
    if b.len() < 12 {
        return;
    }
    let count = |i: usize| u16::from_be_bytes([b[4 + 2 * i], b[5 + 2 * i]]) as usize;
    let mut pos = 12;
    for _ in 0..count(0) {
        let Some(p) = skip_name(b, pos) else { return };
        pos = p + 4;
        if pos > b.len() {
            return;
        }
    }
    for _ in 0..count(1) + count(2) + count(3) {
        let Some(p) = skip_name(b, pos) else { return };
        if p + 10 > b.len() {
            return;
        }
        let rdlen = u16::from_be_bytes([b[p + 8], b[p + 9]]) as usize;
        let start = p + 10;
        if start + rdlen > b.len() {
            v.push(Violation::new(
                "RFC1002-4.2.1.3-RDLENGTH-EXACT",
                format!(
                    "a record's RDLENGTH is {rdlen} but {} bytes follow it",
                    b.len() - start
                ),
            ));
            return;
        }
        pos = start + rdlen;
    }
    if pos < b.len() {
        v.push(Violation::new(
            "RFC1002-4.2.1-NO-TRAILING",
            format!(
                "{} bytes follow the last record the counts announce (the packet ends at {pos} of {})",
                b.len() - pos,
                b.len()
            ),
        ));
    }
}

/// The rule a packet that does not parse breaks, by the parser's error.
fn parse_error(v: &mut Vec<Violation>, what: &str, e: &nbns_wire::Error) {
    use nbns_wire::ErrorKind as K;
    let rule = match e.kind {
        K::BadNameLength(_) | K::BadNameChar(_) => "RFC1001-14.1-FIRST-LEVEL",
        K::LabelTooLong(_) => "RFC1001-14.2-SCOPE-LABELS",
        K::BadRdLength { rtype: 0x0020, .. } => "RFC1002-4.2.1.3-NB-ENTRY-6",
        K::BadRdLength { .. } => "RFC1002-4.2.1.3-RDLENGTH-EXACT",
        K::BadNameCount(_) => "RFC1002-4.2.18-NODE-NAMES",
        _ => "RFC1002-4.2.1-COUNTS-MATCH",
    };
    // A record running past the end is already reported by the framing walk.
    if rule == "RFC1002-4.2.1-COUNTS-MATCH" && v.iter().any(|x| x.rule.contains("RDLENGTH")) {
        return;
    }
    v.push(Violation::new(rule, format!("{what} does not parse: {e}")));
}

/// Checks a response to `asked`; every broken rule is one violation.
pub fn check_response(asked: &Asked<'_>, bytes: &[u8]) -> Vec<Violation> {
    let mut v = Vec::new();
    check_framing(&mut v, bytes);
    let repr = match Repr::parse_bytes(bytes) {
        Ok(r) => r,
        Err(e) => {
            parse_error(&mut v, "the response", &e);
            return v;
        }
    };
    let f = repr.flags;
    if !f.response {
        v.push(Violation::new(
            "RFC1002-4.2.1.1-RESPONSE-BIT",
            "an answer to a request has the R bit clear",
        ));
        return v;
    }
    let asked_op = asked.flags.opcode;
    let status = asked
        .question
        .is_some_and(|q| q.qtype == RrType::NbStat && asked_op == Opcode::Query);
    let kind = match (asked_op, f.opcode) {
        (op, Opcode::Wack) if is_registration_request(op) => Kind::Wack,
        (op, Opcode::Registration) if is_registration_request(op) => Kind::RegistrationResponse,
        (op, got) if is_registration_request(op) => {
            v.push(Violation::new(
                if op == Opcode::MultihomedRegistration {
                    "NBTE-2.2.2-MH-RESPONSE-OPCODE"
                } else {
                    "RFC1002-4.2.1.1-OPCODE-ECHO"
                },
                format!(
                    "the response to a {} request carries opcode {} (0x{:x}); registration, \
                     refresh and multihomed registration are answered with 5 or a WACK (7)",
                    op,
                    got,
                    got.bits()
                ),
            ));
            return v;
        }
        (Opcode::Release, Opcode::Release) => Kind::ReleaseResponse,
        (Opcode::Query, Opcode::Query) if status => Kind::NodeStatusResponse,
        (Opcode::Query, Opcode::Query) if f.rcode == Rcode::NoError => Kind::PositiveQueryResponse,
        (Opcode::Query, Opcode::Query) => Kind::NegativeQueryResponse,
        (op, got) => {
            v.push(Violation::new(
                "RFC1002-4.2.1.1-OPCODE-ECHO",
                format!(
                    "the response to a {op} request carries opcode {got} (0x{:x})",
                    got.bits()
                ),
            ));
            return v;
        }
    };
    check_header(&mut v, kind, asked, &repr, bytes);
    let Some(rr) = repr.answer else {
        return v; // the count check reported it
    };
    if let Some(q) = asked.question {
        if rr.name != q.name {
            v.push(Violation::new(
                if kind == Kind::Wack {
                    "RFC1002-4.2.16-RR-NAME"
                } else {
                    "RFC1002-4.2.1.3-RR-NAME-ECHO"
                },
                format!(
                    "the answer record names {} but the request asked for {}",
                    rr.name, q.name
                ),
            ));
        }
    }
    if rr.class != CLASS_IN {
        v.push(Violation::new(
            "RFC1002-4.2.1.3-RR-CLASS-IN",
            format!("RR_CLASS is 0x{:04x}, not IN (0x0001)", rr.class),
        ));
    }
    match kind {
        Kind::RegistrationResponse if f.rcode == Rcode::NamErr => {
            v.push(Violation::new(
                "RFC1002-4.2.6-NO-NAM-ERR",
                "a registration response carries NAM_ERR (3), which RFC 1002 4.2.6 does not give",
            ));
        }
        Kind::RegistrationResponse => check_echoing_response(
            &mut v,
            &rr,
            asked.entry,
            f.rcode,
            (
                "RFC1002-4.2.5-RDATA",
                "RFC1002-4.2.6-RDATA",
                "RFC1002-4.2.6-FLAGS",
            ),
            &[
                Rcode::NoError,
                Rcode::FmtErr,
                Rcode::SrvErr,
                Rcode::ImpErr,
                Rcode::RfsErr,
                Rcode::ActErr,
                Rcode::CftErr,
            ],
        ),
        Kind::ReleaseResponse => check_echoing_response(
            &mut v,
            &rr,
            asked.entry,
            f.rcode,
            (
                "RFC1002-4.2.10-RDATA",
                "RFC1002-4.2.11-RDATA",
                "RFC1002-4.2.11-FLAGS",
            ),
            &[
                Rcode::NoError,
                Rcode::FmtErr,
                Rcode::SrvErr,
                Rcode::RfsErr,
                Rcode::ActErr,
            ],
        ),
        Kind::Wack => {
            if f.rcode != Rcode::NoError {
                v.push(Violation::new(
                    "RFC1002-4.2.16-FLAGS",
                    format!("a WACK carries rcode {}", f.rcode),
                ));
            }
            match rr.rdata {
                RData::Wack(word) => {
                    if word != asked.flags_word {
                        v.push(Violation::new(
                            "RFC1002-4.2.16-RDATA",
                            format!(
                                "the WACK's RDATA is 0x{word:04x}, not the request's flags word \
                                 0x{:04x}",
                                asked.flags_word
                            ),
                        ));
                    }
                }
                other => v.push(Violation::new(
                    "RFC1002-4.2.16-RR-TYPE",
                    format!(
                        "a WACK's record is type 0x0020 with RDLENGTH 2 (the request's flags); \
                         got type {} with {} bytes",
                        other.rtype(),
                        rdata_len(&other)
                    ),
                )),
            }
        }
        Kind::PositiveQueryResponse => match rr.rdata {
            RData::Nb(list) if !list.is_empty() => {
                let mut groups = list.iter().map(|e| e.flags.group());
                let first = groups.next().unwrap_or(false);
                if groups.any(|g| g != first) {
                    v.push(Violation::new(
                        "RFC1002-4.2.1.3-G-OF-NAME",
                        "the entries of one name disagree on the group flag",
                    ));
                }
                check_nb_reserved(&mut v, list.iter());
            }
            other => v.push(Violation::new(
                "RFC1002-4.2.13-ENTRY-PER-ADDR",
                format!(
                    "a positive query response carries an NB record with at least one 6-byte \
                     entry; got type {} with {} bytes",
                    other.rtype(),
                    rdata_len(&other)
                ),
            )),
        },
        Kind::NegativeQueryResponse => {
            check_rcode(
                &mut v,
                "RFC1002-4.2.14-FLAGS",
                f.rcode,
                &[
                    Rcode::FmtErr,
                    Rcode::SrvErr,
                    Rcode::NamErr,
                    Rcode::ImpErr,
                    Rcode::RfsErr,
                ],
            );
            if !matches!(rr.rdata, RData::Null(d) if d.is_empty()) || rr.ttl != 0 {
                v.push(Violation::new(
                    "RFC1002-4.2.14-NULL-RR",
                    format!(
                        "a negative query response carries a NULL (0x000a) record with TTL 0 and \
                         RDLENGTH 0; got type {} with TTL {} and {} bytes",
                        rr.rdata.rtype(),
                        rr.ttl,
                        rdata_len(&rr.rdata)
                    ),
                ));
            }
        }
        Kind::NodeStatusResponse => {
            match rr.rdata {
                RData::NbStat(s) => {
                    for n in s.names.iter() {
                        if n.flags & StatusName::ACTIVE == 0 {
                            v.push(Violation::new(
                                "RFC1002-4.2.18-ACT-SET",
                                format!(
                                    "{}: NAME_FLAGS 0x{:04x} lack ACT (0x0400)",
                                    n.name, n.flags
                                ),
                            ));
                        }
                        if n.flags & 0x01ff != 0 {
                            v.push(Violation::new(
                                "RFC1002-4.2.18-RESERVED-ZERO",
                                format!(
                                    "{}: NAME_FLAGS 0x{:04x} set reserved bits (0x01ff)",
                                    n.name, n.flags
                                ),
                            ));
                        }
                    }
                    if s.statistics.len() < nbns_wire::nbns::NodeStatus::RFC_STATISTICS_LEN {
                        v.push(Violation::new(
                            "RFC1002-4.2.18-STATISTICS",
                            format!(
                                "the statistics field has {} bytes, fewer than the 46 the RFC \
                                 lays out",
                                s.statistics.len()
                            ),
                        ));
                    }
                }
                other => v.push(Violation::new(
                    "RFC1002-4.2.18-RR",
                    format!(
                        "a node status response carries an NBSTAT (0x0021) record; got type {}",
                        other.rtype()
                    ),
                )),
            }
            if rr.ttl != 0 {
                v.push(Violation::new(
                    "RFC1002-4.2.18-RR",
                    format!("a node status record has TTL 0; got {}", rr.ttl),
                ));
            }
        }
    }
    v
}

/// The header of a response of `kind`: NM_FLAGS and section counts.
fn check_header(
    v: &mut Vec<Violation>,
    kind: Kind,
    asked: &Asked<'_>,
    repr: &Repr<'_>,
    bytes: &[u8],
) {
    let f = repr.flags;
    let positive = f.rcode == Rcode::NoError;
    let (flags_rule, counts_rule, name) = match kind {
        Kind::RegistrationResponse if positive => (
            "RFC1002-4.2.5-FLAGS",
            "RFC1002-4.2.5-COUNTS",
            "registration response",
        ),
        Kind::RegistrationResponse => (
            "RFC1002-4.2.6-FLAGS",
            "RFC1002-4.2.5-COUNTS",
            "registration response",
        ),
        Kind::Wack => ("RFC1002-4.2.16-FLAGS", "RFC1002-4.2.16-FLAGS", "WACK"),
        Kind::ReleaseResponse if positive => (
            "RFC1002-4.2.10-FLAGS",
            "RFC1002-4.2.10-COUNTS",
            "release response",
        ),
        Kind::ReleaseResponse => (
            "RFC1002-4.2.11-FLAGS",
            "RFC1002-4.2.10-COUNTS",
            "release response",
        ),
        Kind::PositiveQueryResponse => (
            "RFC1002-4.2.13-FLAGS",
            "RFC1002-4.2.13-COUNTS",
            "positive query response",
        ),
        Kind::NegativeQueryResponse => (
            "RFC1002-4.2.14-FLAGS",
            "RFC1002-4.2.14-ANCOUNT-1",
            "negative query response",
        ),
        Kind::NodeStatusResponse => (
            "RFC1002-4.2.18-FLAGS",
            "RFC1002-4.2.18-RR",
            "node status response",
        ),
    };
    let mut bad = Vec::new();
    if !f.authoritative {
        bad.push("AA must be 1");
    }
    if f.truncated && kind != Kind::PositiveQueryResponse {
        bad.push("TC must be 0");
    }
    if kind == Kind::RegistrationResponse && !f.recursion_available {
        v.push(Violation::new(
            "RFC1002-4.2.7-CHALLENGING-NBNS-RA",
            format!(
                "{name}: RA is 0, which makes it an end-node challenge response (4.2.7); a WINS \
                 server challenges itself and sets RA"
            ),
        ));
    }
    match kind {
        Kind::Wack | Kind::ReleaseResponse | Kind::NodeStatusResponse if f.recursion_available => {
            bad.push("RA must be 0")
        }
        _ => {}
    }
    if kind == Kind::Wack && f.recursion_desired {
        bad.push("RD must be 0 (the request's flags are in the RDATA)");
    }
    if !bad.is_empty() {
        v.push(Violation::new(
            flags_rule,
            format!("{name}: {}", bad.join("; ")),
        ));
    }
    if f.broadcast {
        v.push(Violation::new(
            "RFC1002-4.2.1.1-B-CLEAR-IN-RESPONSE",
            format!("{name}: B is set in a response"),
        ));
    }
    if f.reserved != 0 {
        v.push(Violation::new(
            "RFC1002-4.2.1.1-RESERVED-FLAGS-ZERO",
            format!("{name}: reserved NM_FLAGS bits are {:#x}", f.reserved),
        ));
    }
    // RD: the NBNS copies the request's RD into its response (4.2.1.1); a WACK echoes the
    // request's flags in its RDATA instead and has RD 0 itself.
    if kind != Kind::Wack && f.recursion_desired != asked.flags.recursion_desired {
        v.push(Violation::new(
            "RFC1002-4.2.1.1-RD-COPY",
            format!(
                "{name}: RD is {} but the request had RD {}",
                u8::from(f.recursion_desired),
                u8::from(asked.flags.recursion_desired)
            ),
        ));
    }
    if let Ok(p) = Packet::new_checked(bytes) {
        let counts = [
            p.question_count(),
            p.answer_count(),
            p.authority_count(),
            p.additional_count(),
        ];
        if counts[0] != 0 && kind != Kind::NodeStatusResponse {
            v.push(Violation::new(
                "RFC1002-4.2.1.2-NO-QUESTION-ECHO",
                format!(
                    "{name}: QDCOUNT is {}; the name is repeated in the answer RR instead",
                    counts[0]
                ),
            ));
        }
        let query = matches!(
            kind,
            Kind::PositiveQueryResponse | Kind::NegativeQueryResponse
        );
        if query && counts[2] != 0 {
            v.push(Violation::new(
                "RFC1002-4.2.15-NO-REDIRECT",
                format!(
                    "{name}: NSCOUNT is {}: a redirect name query response (4.2.15), which a WINS \
                     server never sends",
                    counts[2]
                ),
            ));
        }
        if counts != [0, 1, 0, 0] {
            v.push(Violation::new(
                counts_rule,
                format!(
                    "{name}: QDCOUNT/ANCOUNT/NSCOUNT/ARCOUNT are {}/{}/{}/{}, must be 0/1/0/0",
                    counts[0], counts[1], counts[2], counts[3]
                ),
            ));
        }
    }
}

fn check_rcode(v: &mut Vec<Violation>, rule: &'static str, got: Rcode, allowed: &[Rcode]) {
    if !allowed.contains(&got) {
        let list: Vec<String> = allowed.iter().map(|r| r.to_string()).collect();
        v.push(Violation::new(
            rule,
            format!(
                "rcode {got} is not one the RFC allows here ({})",
                list.join(", ")
            ),
        ));
    }
}

/// A registration or release response: an rcode its negative form allows, and the request's
/// own entry (rules: positive RDATA, negative RDATA, negative rcodes).
fn check_echoing_response(
    v: &mut Vec<Violation>,
    rr: &Record<'_>,
    asked: Option<NbEntry>,
    rcode: Rcode,
    (positive, negative, rcodes): (&'static str, &'static str, &'static str),
    allowed: &[Rcode],
) {
    check_rcode(v, rcodes, rcode, allowed);
    let rule = if rcode == Rcode::NoError {
        positive
    } else {
        negative
    };
    check_echoed_entry(v, rule, rr, asked);
}

/// Registration and release responses: one 6-byte entry, the request's address and group flag.
fn check_echoed_entry(
    v: &mut Vec<Violation>,
    rule: &'static str,
    rr: &Record<'_>,
    asked: Option<NbEntry>,
) {
    let RData::Nb(list) = rr.rdata else {
        v.push(Violation::new(
            rule,
            format!(
                "the record is type {} with {} bytes; it must be NB with RDLENGTH 6",
                rr.rdata.rtype(),
                rdata_len(&rr.rdata)
            ),
        ));
        return;
    };
    if list.len() != 1 {
        v.push(Violation::new(
            rule,
            format!(
                "RDLENGTH is {} ({} entries); it must be 6: NB_FLAGS and NB_ADDRESS",
                list.len() * NbEntry::LEN,
                list.len()
            ),
        ));
        return;
    }
    check_nb_reserved(v, list.iter());
    let (Some(got), Some(want)) = (list.iter().next(), asked) else {
        return;
    };
    if got.addr != want.addr || got.flags.group() != want.flags.group() {
        v.push(Violation::new(
            rule,
            format!(
                "the entry is {} {}; the request's was {} {}",
                got.flags, got.addr, want.flags, want.addr
            ),
        ));
    }
}

fn check_nb_reserved(v: &mut Vec<Violation>, entries: impl Iterator<Item = NbEntry>) {
    for e in entries {
        let reserved =
            e.flags.0 & !(nbns_wire::nbns::NbFlags::GROUP | nbns_wire::nbns::NbFlags::ONT_MASK);
        if reserved != 0 {
            v.push(Violation::new(
                "RFC1002-4.2.1.3-NBFLAGS-RESERVED",
                format!(
                    "NB_FLAGS 0x{:04x} of {} sets reserved bits",
                    e.flags.0, e.addr
                ),
            ));
            return;
        }
    }
}

fn rdata_len(r: &RData<'_>) -> usize {
    match r {
        RData::Nb(l) => l.len() * NbEntry::LEN,
        RData::Wack(_) => 2,
        RData::NbStat(s) => 1 + s.names.len() * 18 + s.statistics.len(),
        RData::A(_) => 4,
        RData::Ns(n) => n.buffer_len(),
        RData::Null(d) | RData::Unknown { data: d, .. } => d.len(),
    }
}

/// Checks a request the target sends on its own: a challenge name query to a holder (RFC 1002
/// 4.2.12, 5.1.4) or a name release demand (4.2.9).
pub fn check_server_request(bytes: &[u8]) -> Vec<Violation> {
    let mut v = Vec::new();
    check_framing(&mut v, bytes);
    let repr = match Repr::parse_bytes(bytes) {
        Ok(r) => r,
        Err(e) => {
            parse_error(&mut v, "the request", &e);
            return v;
        }
    };
    let f = repr.flags;
    let (rule, counts_want, name) = match f.opcode {
        Opcode::Query => (
            "RFC1002-5.1.4-CHALLENGE-QUERY",
            [1, 0, 0, 0],
            "challenge query",
        ),
        Opcode::Release => (
            "RFC1002-4.2.9-DEMAND-FORMAT",
            [1, 0, 0, 1],
            "release demand",
        ),
        _ => return v,
    };
    let mut bad = Vec::new();
    if f.authoritative || f.truncated || f.recursion_available {
        bad.push("AA, TC and RA must be 0 in a request".to_string());
    }
    if f.broadcast {
        bad.push("B must be 0: the server sends it unicast to the holder".to_string());
    }
    if f.reserved != 0 {
        bad.push("reserved NM_FLAGS bits must be 0".to_string());
    }
    if f.rcode != Rcode::NoError {
        v.push(Violation::new(
            "RFC1002-4.2.1.1-REQUEST-RCODE-ZERO",
            format!("{name}: a request carries RCODE {}", f.rcode),
        ));
    }
    if let Ok(p) = Packet::new_checked(bytes) {
        let counts = [
            p.question_count(),
            p.answer_count(),
            p.authority_count(),
            p.additional_count(),
        ];
        if counts != counts_want {
            bad.push(format!(
                "QDCOUNT/ANCOUNT/NSCOUNT/ARCOUNT are {}/{}/{}/{}, must be {}/{}/{}/{}",
                counts[0],
                counts[1],
                counts[2],
                counts[3],
                counts_want[0],
                counts_want[1],
                counts_want[2],
                counts_want[3]
            ));
        }
    }
    if let Some(q) = repr.question {
        if q.qtype != RrType::Nb || q.qclass != CLASS_IN {
            bad.push(format!(
                "the question is type {} class 0x{:04x}, must be NB IN",
                q.qtype, q.qclass
            ));
        }
        if let Some(rr) = repr.additional {
            if rr.name != q.name {
                bad.push("the additional record names another name than the question".into());
            }
            match rr.rdata {
                RData::Nb(l) if l.len() == 1 => {}
                other => bad.push(format!(
                    "the additional record must be NB with RDLENGTH 6; got type {} with {} bytes",
                    other.rtype(),
                    rdata_len(&other)
                )),
            }
        }
    }
    if !bad.is_empty() {
        v.push(Violation::new(rule, format!("{name}: {}", bad.join("; "))));
    }
    v
}

/// Checks a packet an NBT client under test sends to the WINS servers the runner plays: a
/// request (RFC 1002 4.2.2 registration, 4.2.4 refresh, 4.2.9 release, 4.2.12 query) or an
/// end node's answer to a name query (4.2.13, 4.2.14).
pub fn check_client_packet(bytes: &[u8]) -> Vec<Violation> {
    let mut v = Vec::new();
    let repr = match Repr::parse_bytes(bytes) {
        Ok(r) => r,
        Err(e) => {
            v.push(Violation::new(
                "RFC1002-4.2.1-COUNTS-MATCH",
                format!("the packet does not parse: {e}"),
            ));
            return v;
        }
    };
    let f = repr.flags;
    let counts = Packet::new_checked(bytes).map_or([0; 4], |p| {
        [
            p.question_count(),
            p.answer_count(),
            p.authority_count(),
            p.additional_count(),
        ]
    });
    let mut bad: Vec<String> = Vec::new();
    let rule = if f.response {
        if f.opcode != Opcode::Query {
            return v; // only answers to the runner's name queries are laid out here
        }
        if !f.authoritative {
            bad.push("AA must be 1 (end nodes always set it in responses)".into());
        }
        if f.recursion_available {
            bad.push("RA must be 0 outside an NBNS's responses".into());
        }
        if counts != [0, 1, 0, 0] {
            bad.push(format!("counts are {counts:?}, must be [0, 1, 0, 0]"));
        }
        if let Some(rr) = repr.answer {
            let ok = match (f.rcode, rr.rdata) {
                (Rcode::NoError, RData::Nb(l)) => !l.is_empty(),
                (Rcode::NoError, _) => false,
                (_, RData::Null(d)) => d.is_empty(),
                (_, _) => false,
            };
            if !ok || rr.class != CLASS_IN {
                bad.push(format!(
                    "the answer is type {} class 0x{:04x} with {} bytes: a positive answer is NB \
                     IN with 6-byte entries, a negative one NULL IN with none",
                    rr.rdata.rtype(),
                    rr.class,
                    rdata_len(&rr.rdata)
                ));
            }
        }
        "RFC1002-4.2.13-END-NODE-ANSWER"
    } else {
        let (rule, want) = match f.opcode {
            Opcode::Registration | Opcode::MultihomedRegistration => {
                ("RFC1002-4.2.2-REQUEST-LAYOUT", [1, 0, 0, 1])
            }
            Opcode::Refresh | Opcode::RefreshAlt => ("RFC1002-4.2.4-REQUEST-LAYOUT", [1, 0, 0, 1]),
            Opcode::Release => ("RFC1002-4.2.9-REQUEST-LAYOUT", [1, 0, 0, 1]),
            Opcode::Query => ("RFC1002-4.2.12-REQUEST-LAYOUT", [1, 0, 0, 0]),
            other => {
                v.push(Violation::new(
                    "RFC1002-4.2.1.1-OPCODE-ECHO",
                    format!("a request with opcode {other}, which RFC 1002 does not define"),
                ));
                return v;
            }
        };
        if f.authoritative || f.truncated || f.recursion_available {
            bad.push("AA, TC and RA must be 0 in a request".into());
        }
        if f.rcode != Rcode::NoError {
            bad.push(format!("RCODE must be 0, is {}", f.rcode));
        }
        if counts != want {
            bad.push(format!("counts are {counts:?}, must be {want:?}"));
        }
        if let Some(q) = repr.question {
            let qtype_ok =
                q.qtype == RrType::Nb || (f.opcode == Opcode::Query && q.qtype == RrType::NbStat);
            if !qtype_ok || q.qclass != CLASS_IN {
                bad.push(format!(
                    "the question is type {} class 0x{:04x}",
                    q.qtype, q.qclass
                ));
            }
            if let Some(rr) = repr.additional {
                if rr.name != q.name {
                    bad.push("the additional record names another name than the question".into());
                }
                if !matches!(rr.rdata, RData::Nb(l) if l.len() == 1) || rr.class != CLASS_IN {
                    bad.push(format!(
                        "the additional record must be NB IN with RDLENGTH 6; got type {} with {} bytes",
                        rr.rdata.rtype(),
                        rdata_len(&rr.rdata)
                    ));
                }
                if f.opcode == Opcode::Release && rr.ttl != 0 {
                    bad.push(format!("a release carries TTL 0, not {}", rr.ttl));
                }
            }
        }
        rule
    };
    if f.reserved != 0 {
        bad.push(format!("reserved NM_FLAGS bits are {:#x}", f.reserved));
    }
    if !bad.is_empty() {
        v.push(Violation::new(rule, bad.join("; ")));
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use nbns_wire::name::{Labels, Name, NetbiosName};
    use nbns_wire::nbns::{Compression, List, NbFlags, NodeType, Question};
    use std::net::Ipv4Addr;

    fn name() -> Name<'static> {
        Name::netbios(
            NetbiosName::new(b"HOST", 0).unwrap(),
            Labels::dotted("").unwrap(),
        )
        .unwrap()
    }

    fn emit(r: &Repr<'_>) -> Vec<u8> {
        let mut buf = vec![0; r.buffer_len(Compression::None)];
        let n = r.emit(&mut buf, Compression::None).unwrap();
        buf.truncate(n);
        buf
    }

    const ENTRY: [NbEntry; 1] = [NbEntry {
        flags: NbFlags(0x6000),
        addr: Ipv4Addr::new(127, 0, 0, 3),
    }];

    fn request(op: Opcode) -> Repr<'static> {
        Repr {
            id: 9,
            flags: Flags {
                recursion_desired: true,
                ..Flags::request(op)
            },
            question: Some(Question {
                name: name(),
                qtype: RrType::Nb,
                qclass: CLASS_IN,
            }),
            answer: None,
            authority: None,
            additional: Some(Record {
                name: name(),
                class: CLASS_IN,
                ttl: 300,
                rdata: RData::Nb(List::Items(&ENTRY)),
            }),
        }
    }

    fn response(op: Opcode, rcode: Rcode, rdata: RData<'static>) -> Repr<'static> {
        Repr {
            id: 9,
            flags: Flags {
                response: true,
                opcode: op,
                authoritative: true,
                recursion_desired: true,
                recursion_available: true,
                rcode,
                ..Flags::default()
            },
            question: None,
            answer: Some(Record {
                name: name(),
                class: CLASS_IN,
                ttl: 300,
                rdata,
            }),
            authority: None,
            additional: None,
        }
    }

    fn rules(v: &[Violation]) -> Vec<&'static str> {
        v.iter().map(|x| x.rule).collect()
    }

    fn registration_answer(rcode: Rcode) -> (Asked<'static>, Vec<u8>) {
        let req = request(Opcode::Registration);
        let resp = response(Opcode::Registration, rcode, RData::Nb(List::Items(&ENTRY)));
        (Asked::of(&req).unwrap(), emit(&resp))
    }

    #[test]
    fn trailing_bytes_are_a_violation() {
        let (asked, mut b) = registration_answer(Rcode::NoError);
        b.extend_from_slice(&[0, 0]);
        assert_eq!(
            rules(&check_response(&asked, &b)),
            ["RFC1002-4.2.1-NO-TRAILING"]
        );
    }

    #[test]
    fn an_rdlength_past_the_end_is_a_violation() {
        let (asked, mut b) = registration_answer(Rcode::NoError);
        let at = b.len() - 8; // RDLENGTH of the only record
        b[at..at + 2].copy_from_slice(&12u16.to_be_bytes());
        assert_eq!(
            rules(&check_response(&asked, &b)),
            ["RFC1002-4.2.1.3-RDLENGTH-EXACT"]
        );
    }

    #[test]
    fn nb_rdata_not_in_6_byte_entries_is_a_violation() {
        let (asked, mut b) = registration_answer(Rcode::NoError);
        let at = b.len() - 8;
        b[at..at + 2].copy_from_slice(&5u16.to_be_bytes());
        b.pop();
        assert_eq!(
            rules(&check_response(&asked, &b)),
            ["RFC1002-4.2.1.3-NB-ENTRY-6"]
        );
    }

    #[test]
    fn a_badly_encoded_name_is_a_violation() {
        let (asked, mut b) = registration_answer(Rcode::NoError);
        b[13] = b'Z'; // first character of the answer's encoded name
        assert_eq!(
            rules(&check_response(&asked, &b)),
            ["RFC1001-14.1-FIRST-LEVEL"]
        );
    }

    #[test]
    fn registration_response_rules() {
        let (asked, b) = registration_answer(Rcode::NamErr);
        assert_eq!(
            rules(&check_response(&asked, &b)),
            ["RFC1002-4.2.6-NO-NAM-ERR"]
        );
        let req = request(Opcode::Registration);
        let mut resp = response(
            Opcode::Registration,
            Rcode::NoError,
            RData::Nb(List::Items(&ENTRY)),
        );
        resp.flags.recursion_available = false;
        assert_eq!(
            rules(&check_response(&Asked::of(&req).unwrap(), &emit(&resp))),
            ["RFC1002-4.2.7-CHALLENGING-NBNS-RA"]
        );
        let mut resp = response(
            Opcode::Registration,
            Rcode::NoError,
            RData::Nb(List::Items(&ENTRY)),
        );
        resp.question = req.question;
        assert!(
            rules(&check_response(&Asked::of(&req).unwrap(), &emit(&resp)))
                .contains(&"RFC1002-4.2.1.2-NO-QUESTION-ECHO")
        );
    }

    #[test]
    fn a_query_response_with_an_authority_record_is_a_redirect() {
        let mut req = request(Opcode::Query);
        req.additional = None;
        let mut resp = response(
            Opcode::Query,
            Rcode::NoError,
            RData::Nb(List::Items(&ENTRY)),
        );
        resp.authority = Some(Record {
            name: name(),
            class: CLASS_IN,
            ttl: 0,
            rdata: RData::Nb(List::Items(&ENTRY)),
        });
        assert!(
            rules(&check_response(&Asked::of(&req).unwrap(), &emit(&resp)))
                .contains(&"RFC1002-4.2.15-NO-REDIRECT")
        );
    }

    #[test]
    fn a_wack_for_another_name_is_a_violation() {
        let req = request(Opcode::Registration);
        let other = Name::netbios(
            NetbiosName::new(b"OTHER", 0).unwrap(),
            Labels::dotted("").unwrap(),
        )
        .unwrap();
        let resp = Repr {
            id: 9,
            flags: Flags {
                response: true,
                opcode: Opcode::Wack,
                authoritative: true,
                ..Flags::default()
            },
            question: None,
            answer: Some(Record {
                name: other,
                class: CLASS_IN,
                ttl: 60,
                rdata: RData::Wack(req.flags.bits()),
            }),
            authority: None,
            additional: None,
        };
        assert_eq!(
            rules(&check_response(&Asked::of(&req).unwrap(), &emit(&resp))),
            ["RFC1002-4.2.16-RR-NAME"]
        );
    }

    fn status(name: StatusName, count: Option<u8>) -> (Asked<'static>, Vec<u8>) {
        let names: &'static [StatusName] = Box::leak(vec![name].into_boxed_slice());
        let mut req = request(Opcode::Query);
        req.additional = None;
        req.flags.recursion_desired = false;
        if let Some(q) = req.question.as_mut() {
            q.qtype = RrType::NbStat;
        }
        let mut resp = response(
            Opcode::Query,
            Rcode::NoError,
            RData::NbStat(nbns_wire::nbns::NodeStatus {
                names: List::Items(names),
                statistics: &nbns_wire::nbns::NodeStatus::ZERO_STATISTICS,
            }),
        );
        resp.flags.recursion_desired = false;
        resp.flags.recursion_available = false;
        if let Some(a) = resp.answer.as_mut() {
            a.ttl = 0;
        }
        let mut b = emit(&resp);
        if let Some(n) = count {
            // NUM_NAMES is the first RDATA byte: after the 12-byte header, the 34-byte name
            // and type, class, TTL and RDLENGTH.
            b[12 + 34 + 10] = n;
        }
        let req: &'static Repr<'static> = Box::leak(Box::new(req));
        (Asked::of(req).unwrap(), b)
    }

    #[test]
    fn node_status_name_rules() {
        let good = StatusName {
            name: NetbiosName::new(b"HOST", 0).unwrap(),
            flags: StatusName::ACTIVE,
        };
        let (asked, b) = status(good, None);
        assert_eq!(rules(&check_response(&asked, &b)), Vec::<&str>::new());
        let inactive = StatusName { flags: 0, ..good };
        let (asked, b) = status(inactive, None);
        assert_eq!(
            rules(&check_response(&asked, &b)),
            ["RFC1002-4.2.18-ACT-SET"]
        );
        let reserved = StatusName {
            flags: StatusName::ACTIVE | 0x0001,
            ..good
        };
        let (asked, b) = status(reserved, None);
        assert_eq!(
            rules(&check_response(&asked, &b)),
            ["RFC1002-4.2.18-RESERVED-ZERO"]
        );
        let (asked, b) = status(good, Some(200));
        assert_eq!(
            rules(&check_response(&asked, &b)),
            ["RFC1002-4.2.18-NODE-NAMES"]
        );
    }

    #[test]
    fn a_proper_registration_response_passes() {
        let req = request(Opcode::Registration);
        let resp = response(
            Opcode::Registration,
            Rcode::NoError,
            RData::Nb(List::Items(&ENTRY)),
        );
        assert_eq!(
            rules(&check_response(&Asked::of(&req).unwrap(), &emit(&resp))),
            Vec::<&str>::new()
        );
    }

    #[test]
    fn a_multihomed_registration_answered_with_opcode_15_is_a_violation() {
        let req = request(Opcode::MultihomedRegistration);
        let resp = response(
            Opcode::MultihomedRegistration,
            Rcode::NoError,
            RData::Nb(List::Items(&ENTRY)),
        );
        assert_eq!(
            rules(&check_response(&Asked::of(&req).unwrap(), &emit(&resp))),
            ["NBTE-2.2.2-MH-RESPONSE-OPCODE"]
        );
    }

    #[test]
    fn a_release_response_without_its_entry_is_a_violation() {
        let req = request(Opcode::Release);
        let mut resp = response(Opcode::Release, Rcode::NoError, RData::Nb(List::Items(&[])));
        resp.flags.recursion_available = false;
        assert_eq!(
            rules(&check_response(&Asked::of(&req).unwrap(), &emit(&resp))),
            ["RFC1002-4.2.10-RDATA"]
        );
    }

    #[test]
    fn a_negative_query_response_needs_a_null_record() {
        let mut req = request(Opcode::Query);
        req.additional = None;
        let mut resp = response(Opcode::Query, Rcode::NamErr, RData::Null(&[]));
        resp.answer.as_mut().unwrap().ttl = 0;
        assert!(check_response(&Asked::of(&req).unwrap(), &emit(&resp)).is_empty());
        let resp = response(Opcode::Query, Rcode::NamErr, RData::Nb(List::Items(&[])));
        assert!(
            rules(&check_response(&Asked::of(&req).unwrap(), &emit(&resp)))
                .contains(&"RFC1002-4.2.14-NULL-RR")
        );
    }

    #[test]
    fn a_wack_echoes_the_request_flags() {
        let req = request(Opcode::Registration);
        let mut wack = response(Opcode::Wack, Rcode::NoError, RData::Wack(req.flags.bits()));
        wack.flags.recursion_desired = false;
        wack.flags.recursion_available = false;
        assert!(check_response(&Asked::of(&req).unwrap(), &emit(&wack)).is_empty());
        wack.answer.as_mut().unwrap().rdata = RData::Wack(0x2910);
        assert_eq!(
            rules(&check_response(&Asked::of(&req).unwrap(), &emit(&wack))),
            ["RFC1002-4.2.16-RDATA"]
        );
    }

    #[test]
    fn release_demand_layout() {
        let mut demand = request(Opcode::Release);
        demand.flags.recursion_desired = false;
        assert!(check_server_request(&emit(&demand)).is_empty());
        demand.flags.broadcast = true;
        assert_eq!(
            rules(&check_server_request(&emit(&demand))),
            ["RFC1002-4.2.9-DEMAND-FORMAT"]
        );
        let _ = NodeType::B;
    }
}
