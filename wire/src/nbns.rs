//! NBNS packets (RFC 1002 4.2): the 12-byte header, one question and at
//! most one resource record in each of the answer, authority and additional
//! sections.
//!
//! [`Packet`] is a checked view over the bytes; [`Repr`] is the plain,
//! borrowed form with `parse` and `emit`. Record data that can repeat (NB
//! entries, node status names) stays a view into the packet, so decoding a
//! packet allocates nothing.

use crate::error::{truncated, Error, ErrorKind, Result, Section};
use crate::name::{write_escaped, Labels, Name, NetbiosName, ENCODED_LEN};
use core::fmt;
use std::net::Ipv4Addr;

/// The well-known NBNS port.
pub const PORT: u16 = 137;
/// Largest NBNS datagram RFC 1002 allows (576-byte IP datagram budget aside,
/// implementations accept up to the UDP maximum; this is what we emit at most).
pub const MAX_PACKET_LEN: usize = 65507;

mod field {
    pub type Field = core::ops::Range<usize>;
    pub const ID: Field = 0..2;
    pub const FLAGS: Field = 2..4;
    pub const QDCOUNT: Field = 4..6;
    pub const ANCOUNT: Field = 6..8;
    pub const NSCOUNT: Field = 8..10;
    pub const ARCOUNT: Field = 10..12;
    pub const HEADER_END: usize = 12;
}

/// Length of the NBNS header.
pub const HEADER_LEN: usize = field::HEADER_END;

fn be16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}

macro_rules! enum_with_unknown {
    ($(#[$m:meta])* pub enum $name:ident($ty:ty) { $($(#[$vm:meta])* $variant:ident = $value:expr,)* }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
        pub enum $name {
            $($(#[$vm])* $variant,)*
            Unknown($ty),
        }
        impl From<$ty> for $name {
            fn from(v: $ty) -> Self {
                match v {
                    $($value => $name::$variant,)*
                    other => $name::Unknown(other),
                }
            }
        }
        impl From<$name> for $ty {
            fn from(v: $name) -> $ty {
                match v {
                    $($name::$variant => $value,)*
                    $name::Unknown(other) => other,
                }
            }
        }
    };
}

enum_with_unknown! {
    /// The 4-bit OPCODE of the header.
    #[derive(Default)]
    pub enum Opcode(u8) {
        #[default]
        Query = 0,
        Registration = 5,
        Release = 6,
        Wack = 7,
        Refresh = 8,
        /// Refresh with the alternate opcode 9 (RFC 1002 errata; Windows sends it).
        RefreshAlt = 9,
        /// Multihomed registration (MS-NBTE 2.2.1), laid out like `Registration`.
        MultihomedRegistration = 15,
    }
}

enum_with_unknown! {
    /// The 4-bit RCODE of the header.
    #[derive(Default)]
    pub enum Rcode(u8) {
        #[default]
        NoError = 0,
        FmtErr = 1,
        SrvErr = 2,
        NamErr = 3,
        ImpErr = 4,
        RfsErr = 5,
        ActErr = 6,
        CftErr = 7,
    }
}

enum_with_unknown! {
    /// Question and resource record types.
    pub enum RrType(u16) {
        A = 0x0001,
        Ns = 0x0002,
        Null = 0x000a,
        Nb = 0x0020,
        NbStat = 0x0021,
    }
}

/// The internet class, the only one NBNS uses.
pub const CLASS_IN: u16 = 0x0001;

impl Opcode {
    /// The 4-bit value, for an `Unknown` the low 4 bits.
    pub fn bits(self) -> u8 {
        u8::from(self) & 0x0f
    }
    /// Registration-like requests carry a question plus an additional NB record.
    pub fn is_registration_like(self) -> bool {
        matches!(
            self,
            Opcode::Registration
                | Opcode::MultihomedRegistration
                | Opcode::Refresh
                | Opcode::RefreshAlt
                | Opcode::Release
        )
    }
}

impl fmt::Display for Opcode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Opcode::Query => f.write_str("query"),
            Opcode::Registration => f.write_str("registration"),
            Opcode::Release => f.write_str("release"),
            Opcode::Wack => f.write_str("WACK"),
            Opcode::Refresh => f.write_str("refresh"),
            Opcode::RefreshAlt => f.write_str("refresh(9)"),
            Opcode::MultihomedRegistration => f.write_str("multihomed registration"),
            Opcode::Unknown(v) => write!(f, "opcode {v}"),
        }
    }
}

impl fmt::Display for Rcode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Rcode::NoError => f.write_str("OK"),
            Rcode::FmtErr => f.write_str("FMT_ERR"),
            Rcode::SrvErr => f.write_str("SRV_ERR"),
            Rcode::NamErr => f.write_str("NAM_ERR"),
            Rcode::ImpErr => f.write_str("IMP_ERR"),
            Rcode::RfsErr => f.write_str("RFS_ERR"),
            Rcode::ActErr => f.write_str("ACT_ERR"),
            Rcode::CftErr => f.write_str("CFT_ERR"),
            Rcode::Unknown(v) => write!(f, "RCODE {v}"),
        }
    }
}

impl fmt::Display for RrType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RrType::A => f.write_str("A"),
            RrType::Ns => f.write_str("NS"),
            RrType::Null => f.write_str("NULL"),
            RrType::Nb => f.write_str("NB"),
            RrType::NbStat => f.write_str("NBSTAT"),
            RrType::Unknown(v) => write!(f, "TYPE{v}"),
        }
    }
}

/// The header's flags word: R, OPCODE, NM_FLAGS and RCODE.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct Flags {
    pub response: bool,
    pub opcode: Opcode,
    pub authoritative: bool,
    pub truncated: bool,
    pub recursion_desired: bool,
    pub recursion_available: bool,
    /// The two NM_FLAGS bits RFC 1002 reserves (0x0060), kept so nothing is lost.
    pub reserved: u8,
    pub broadcast: bool,
    pub rcode: Rcode,
}

impl Flags {
    pub const RESPONSE: u16 = 0x8000;
    pub const OPCODE_MASK: u16 = 0x7800;
    pub const AA: u16 = 0x0400;
    pub const TC: u16 = 0x0200;
    pub const RD: u16 = 0x0100;
    pub const RA: u16 = 0x0080;
    pub const RESERVED_MASK: u16 = 0x0060;
    pub const B: u16 = 0x0010;
    pub const RCODE_MASK: u16 = 0x000f;

    #[inline]
    pub fn from_bits(w: u16) -> Flags {
        // A table for each byte of the word, instead of nine extractions
        // and two matches: this is on every packet's path.
        let hi = &FLAGS_BY_HIGH_BYTE[(w >> 8) as usize];
        let lo = &FLAGS_BY_LOW_BYTE[(w & 0xff) as usize];
        Flags {
            recursion_available: lo.recursion_available,
            reserved: lo.reserved,
            broadcast: lo.broadcast,
            rcode: lo.rcode,
            ..*hi
        }
    }

    /// [`from_bits`](Self::from_bits) field by field, for building its tables.
    const fn from_bits_const(w: u16) -> Flags {
        let opcode = match ((w & Self::OPCODE_MASK) >> 11) as u8 {
            0 => Opcode::Query,
            5 => Opcode::Registration,
            6 => Opcode::Release,
            7 => Opcode::Wack,
            8 => Opcode::Refresh,
            9 => Opcode::RefreshAlt,
            15 => Opcode::MultihomedRegistration,
            other => Opcode::Unknown(other),
        };
        let rcode = match (w & Self::RCODE_MASK) as u8 {
            0 => Rcode::NoError,
            1 => Rcode::FmtErr,
            2 => Rcode::SrvErr,
            3 => Rcode::NamErr,
            4 => Rcode::ImpErr,
            5 => Rcode::RfsErr,
            6 => Rcode::ActErr,
            7 => Rcode::CftErr,
            other => Rcode::Unknown(other),
        };
        Flags {
            response: w & Self::RESPONSE != 0,
            opcode,
            authoritative: w & Self::AA != 0,
            truncated: w & Self::TC != 0,
            recursion_desired: w & Self::RD != 0,
            recursion_available: w & Self::RA != 0,
            reserved: ((w & Self::RESERVED_MASK) >> 5) as u8,
            broadcast: w & Self::B != 0,
            rcode,
        }
    }

    pub fn bits(&self) -> u16 {
        let mut w = ((self.opcode.bits() as u16) << 11) & Self::OPCODE_MASK;
        w |= (u8::from(self.rcode) as u16) & Self::RCODE_MASK;
        w |= ((self.reserved as u16) << 5) & Self::RESERVED_MASK;
        for (set, bit) in [
            (self.response, Self::RESPONSE),
            (self.authoritative, Self::AA),
            (self.truncated, Self::TC),
            (self.recursion_desired, Self::RD),
            (self.recursion_available, Self::RA),
            (self.broadcast, Self::B),
        ] {
            if set {
                w |= bit;
            }
        }
        w
    }

    /// A request with the given opcode and RD set, as clients send them.
    pub fn request(opcode: Opcode) -> Flags {
        Flags {
            opcode,
            recursion_desired: true,
            ..Flags::default()
        }
    }
}

/// `Flags::from_bits(b << 8)` for every byte `b`: the fields of the high byte.
static FLAGS_BY_HIGH_BYTE: [Flags; 256] = flags_table(8);
/// `Flags::from_bits(b)` for every byte `b`: the fields of the low byte.
static FLAGS_BY_LOW_BYTE: [Flags; 256] = flags_table(0);

const fn flags_table(shift: u32) -> [Flags; 256] {
    let mut table = [Flags::from_bits_const(0); 256];
    let mut b = 0;
    while b < 256 {
        table[b] = Flags::from_bits_const((b as u16) << shift);
        b += 1;
    }
    table
}

impl fmt::Display for Flags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "0x{:04x} {} {}",
            self.bits(),
            if self.response { "response" } else { "request" },
            self.opcode
        )?;
        for (set, name) in [
            (self.authoritative, "AA"),
            (self.truncated, "TC"),
            (self.recursion_desired, "RD"),
            (self.recursion_available, "RA"),
            (self.broadcast, "B"),
        ] {
            if set {
                write!(f, " {name}")?;
            }
        }
        if self.reserved != 0 {
            write!(f, " reserved={}", self.reserved)?;
        }
        if self.response || self.rcode != Rcode::NoError {
            write!(f, " rcode={}", self.rcode)?;
        }
        Ok(())
    }
}

/// A read/write view of an NBNS packet's header.
#[derive(Debug, Clone)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Wraps a buffer without checking its length.
    pub const fn new_unchecked(buffer: T) -> Packet<T> {
        Packet { buffer }
    }

    /// Wraps a buffer, checking that the header is there.
    pub fn new_checked(buffer: T) -> Result<Packet<T>> {
        let packet = Self::new_unchecked(buffer);
        packet.check_len()?;
        Ok(packet)
    }

    /// After this succeeds no header accessor can panic.
    pub fn check_len(&self) -> Result<()> {
        let len = self.buffer.as_ref().len();
        if len < HEADER_LEN {
            return Err(truncated(0, HEADER_LEN, len));
        }
        Ok(())
    }

    pub fn into_inner(self) -> T {
        self.buffer
    }

    pub fn transaction_id(&self) -> u16 {
        be16(self.buffer.as_ref(), field::ID.start)
    }
    pub fn flags_word(&self) -> u16 {
        be16(self.buffer.as_ref(), field::FLAGS.start)
    }
    pub fn flags(&self) -> Flags {
        Flags::from_bits(self.flags_word())
    }
    pub fn opcode(&self) -> Opcode {
        self.flags().opcode
    }
    pub fn rcode(&self) -> Rcode {
        self.flags().rcode
    }
    pub fn is_response(&self) -> bool {
        self.flags_word() & Flags::RESPONSE != 0
    }
    pub fn question_count(&self) -> u16 {
        be16(self.buffer.as_ref(), field::QDCOUNT.start)
    }
    pub fn answer_count(&self) -> u16 {
        be16(self.buffer.as_ref(), field::ANCOUNT.start)
    }
    pub fn authority_count(&self) -> u16 {
        be16(self.buffer.as_ref(), field::NSCOUNT.start)
    }
    pub fn additional_count(&self) -> u16 {
        be16(self.buffer.as_ref(), field::ARCOUNT.start)
    }
    /// The bytes after the header.
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[HEADER_LEN..]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    fn set16(&mut self, at: usize, v: u16) {
        self.buffer.as_mut()[at..at + 2].copy_from_slice(&v.to_be_bytes());
    }
    pub fn set_transaction_id(&mut self, v: u16) {
        self.set16(field::ID.start, v)
    }
    pub fn set_flags(&mut self, flags: Flags) {
        self.set16(field::FLAGS.start, flags.bits())
    }
    pub fn set_question_count(&mut self, v: u16) {
        self.set16(field::QDCOUNT.start, v)
    }
    pub fn set_answer_count(&mut self, v: u16) {
        self.set16(field::ANCOUNT.start, v)
    }
    pub fn set_authority_count(&mut self, v: u16) {
        self.set16(field::NSCOUNT.start, v)
    }
    pub fn set_additional_count(&mut self, v: u16) {
        self.set16(field::ARCOUNT.start, v)
    }
}

/// One question: a NetBIOS name and the type asked for (NB or NBSTAT).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Question<'a> {
    pub name: Name<'a>,
    pub qtype: RrType,
    pub qclass: u16,
}

/// NB_FLAGS of an NB entry: group bit and owner node type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct NbFlags(pub u16);

/// Owner node type (RFC 1001 "ONT").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum NodeType {
    B,
    P,
    M,
    /// H-node (MS-NBTE; RFC 1002 reserved the value).
    H,
}

impl NodeType {
    pub fn bits(self) -> u16 {
        match self {
            NodeType::B => 0,
            NodeType::P => 1,
            NodeType::M => 2,
            NodeType::H => 3,
        }
    }
    fn from_bits(b: u16) -> NodeType {
        match b & 3 {
            0 => NodeType::B,
            1 => NodeType::P,
            2 => NodeType::M,
            _ => NodeType::H,
        }
    }
}

impl NbFlags {
    pub const GROUP: u16 = 0x8000;
    pub const ONT_MASK: u16 = 0x6000;

    pub fn new(group: bool, node: NodeType) -> NbFlags {
        NbFlags(if group { Self::GROUP } else { 0 } | (node.bits() << 13))
    }
    pub fn group(self) -> bool {
        self.0 & Self::GROUP != 0
    }
    pub fn node_type(self) -> NodeType {
        NodeType::from_bits((self.0 & Self::ONT_MASK) >> 13)
    }
}

impl fmt::Display for NbFlags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {:?}-node",
            if self.group() { "group" } else { "unique" },
            self.node_type()
        )?;
        if self.0 & !(Self::GROUP | Self::ONT_MASK) != 0 {
            write!(f, " (flags 0x{:04x})", self.0)?;
        }
        Ok(())
    }
}

/// One 6-byte entry of NB RDATA.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NbEntry {
    pub flags: NbFlags,
    pub addr: Ipv4Addr,
}

impl NbEntry {
    pub const LEN: usize = 6;
}

/// A list that is either a view into a parsed packet or a caller's slice.
/// Both forms compare equal when they hold the same items.
#[derive(Clone, Copy)]
pub enum List<'a, T> {
    /// Validated bytes of whole items.
    Wire(&'a [u8]),
    Items(&'a [T]),
}

/// An item of fixed size in a [`List`].
pub trait ListItem: Copy {
    const LEN: usize;
    /// Reads one item from exactly `LEN` bytes.
    fn read(bytes: &[u8]) -> Self;
    fn write(&self, out: &mut [u8]);
}

impl ListItem for NbEntry {
    const LEN: usize = 6;
    fn read(b: &[u8]) -> Self {
        NbEntry {
            flags: NbFlags(be16(b, 0)),
            addr: Ipv4Addr::new(b[2], b[3], b[4], b[5]),
        }
    }
    fn write(&self, out: &mut [u8]) {
        out[0..2].copy_from_slice(&self.flags.0.to_be_bytes());
        out[2..6].copy_from_slice(&self.addr.octets());
    }
}

/// One name of a node status response.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct StatusName {
    pub name: NetbiosName,
    /// NAME_FLAGS: G 0x8000, ONT 0x6000, DRG 0x1000, CNF 0x0800, ACT 0x0400, PRM 0x0200.
    pub flags: u16,
}

impl StatusName {
    pub const GROUP: u16 = 0x8000;
    pub const DEREGISTERING: u16 = 0x1000;
    pub const CONFLICT: u16 = 0x0800;
    pub const ACTIVE: u16 = 0x0400;
    pub const PERMANENT: u16 = 0x0200;
}

impl ListItem for StatusName {
    const LEN: usize = 18;
    fn read(b: &[u8]) -> Self {
        let mut raw = [0u8; 16];
        raw.copy_from_slice(&b[..16]);
        StatusName {
            name: NetbiosName::from_bytes(raw),
            flags: be16(b, 16),
        }
    }
    fn write(&self, out: &mut [u8]) {
        out[..16].copy_from_slice(self.name.as_bytes());
        out[16..18].copy_from_slice(&self.flags.to_be_bytes());
    }
}

impl<'a, T: ListItem> List<'a, T> {
    pub fn len(&self) -> usize {
        match self {
            List::Wire(b) => b.len() / T::LEN,
            List::Items(items) => items.len(),
        }
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    pub fn iter(&self) -> ListIter<'a, T> {
        ListIter {
            list: *self,
            index: 0,
        }
    }
    fn buffer_len(&self) -> usize {
        self.len() * T::LEN
    }
    fn emit(&self, out: &mut [u8]) {
        for (item, chunk) in self.iter().zip(out.chunks_exact_mut(T::LEN)) {
            item.write(chunk);
        }
    }
}

pub struct ListIter<'a, T> {
    list: List<'a, T>,
    index: usize,
}

impl<T: ListItem> Iterator for ListIter<'_, T> {
    type Item = T;
    fn next(&mut self) -> Option<T> {
        let item = match self.list {
            List::Wire(b) => T::read(b.get(self.index * T::LEN..(self.index + 1) * T::LEN)?),
            List::Items(items) => *items.get(self.index)?,
        };
        self.index += 1;
        Some(item)
    }
}

impl<T: ListItem + PartialEq> PartialEq for List<'_, T> {
    fn eq(&self, other: &Self) -> bool {
        self.iter().eq(other.iter())
    }
}
impl<T: ListItem + Eq> Eq for List<'_, T> {}

impl<T: ListItem + core::hash::Hash> core::hash::Hash for List<'_, T> {
    fn hash<H: core::hash::Hasher>(&self, state: &mut H) {
        for item in self.iter() {
            item.hash(state);
        }
    }
}

impl<T: ListItem + fmt::Debug> fmt::Debug for List<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

/// NBSTAT RDATA: the node's name table and its statistics block.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct NodeStatus<'a> {
    pub names: List<'a, StatusName>,
    /// The statistics as sent: the unit id (MAC) first. RFC 1002 gives 46
    /// bytes; some implementations send more or less, and all of it is kept.
    pub statistics: &'a [u8],
}

impl NodeStatus<'_> {
    /// The statistics size RFC 1002 4.2.18 gives.
    pub const RFC_STATISTICS_LEN: usize = 46;
    /// A zeroed RFC-size statistics block, for building responses.
    pub const ZERO_STATISTICS: [u8; 46] = [0; 46];

    /// The 6-byte unit id, when the statistics are long enough to hold it.
    pub fn unit_id(&self) -> Option<[u8; 6]> {
        self.statistics.get(..6).map(|b| {
            let mut id = [0u8; 6];
            id.copy_from_slice(b);
            id
        })
    }
}

/// Record data, by record type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RData<'a> {
    /// NB: any number of (flags, address) entries; none in some negative responses.
    Nb(List<'a, NbEntry>),
    /// The 2-byte RDATA of a WACK (type NB): the request's flags word echoed.
    Wack(u16),
    NbStat(NodeStatus<'a>),
    A(Ipv4Addr),
    /// The name of the NBNS to ask instead (redirect responses).
    Ns(Name<'a>),
    Null(&'a [u8]),
    Unknown {
        rtype: u16,
        data: &'a [u8],
    },
}

impl RData<'_> {
    pub fn rtype(&self) -> RrType {
        match self {
            RData::Nb(_) | RData::Wack(_) => RrType::Nb,
            RData::NbStat(_) => RrType::NbStat,
            RData::A(_) => RrType::A,
            RData::Ns(_) => RrType::Ns,
            RData::Null(_) => RrType::Null,
            RData::Unknown { rtype, .. } => RrType::from(*rtype),
        }
    }

    fn buffer_len(&self) -> usize {
        match self {
            RData::Nb(list) => list.buffer_len(),
            RData::Wack(_) => 2,
            RData::NbStat(s) => 1 + s.names.buffer_len() + s.statistics.len(),
            RData::A(_) => 4,
            RData::Ns(name) => name.buffer_len(),
            RData::Null(d) | RData::Unknown { data: d, .. } => d.len(),
        }
    }
}

/// A resource record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Record<'a> {
    pub name: Name<'a>,
    pub class: u16,
    pub ttl: u32,
    pub rdata: RData<'a>,
}

impl<'a> Record<'a> {
    /// The NB entries, if this is an NB record.
    pub fn nb_entries(&self) -> Option<List<'a, NbEntry>> {
        match self.rdata {
            RData::Nb(list) => Some(list),
            _ => None,
        }
    }
}

/// Whether `emit` may replace record names with a pointer to the question name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Compression {
    /// Every name written out in full.
    #[default]
    None,
    /// Record owner names equal to the question's name become a pointer to
    /// offset 12, as RFC 1002 shows for registrations and Windows sends.
    Question,
}

/// A whole NBNS packet in plain form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Repr<'a> {
    pub id: u16,
    pub flags: Flags,
    pub question: Option<Question<'a>>,
    pub answer: Option<Record<'a>>,
    pub authority: Option<Record<'a>>,
    pub additional: Option<Record<'a>>,
}

impl<'a> Repr<'a> {
    /// A request with id 0, no flags and no sections: a starting point for
    /// [`parse_into`](Self::parse_into).
    pub const EMPTY: Repr<'static> = Repr {
        id: 0,
        flags: Flags {
            response: false,
            opcode: Opcode::Query,
            authoritative: false,
            truncated: false,
            recursion_desired: false,
            recursion_available: false,
            reserved: 0,
            broadcast: false,
            rcode: Rcode::NoError,
        },
        question: None,
        answer: None,
        authority: None,
        additional: None,
    };

    /// Parses a packet. Untrusted bytes are fine: this never panics, does not
    /// allocate, and reads each byte a bounded number of times.
    pub fn parse<T: AsRef<[u8]> + ?Sized>(packet: &Packet<&'a T>) -> Result<Repr<'a>> {
        let bytes: &'a T = packet.buffer;
        Self::parse_bytes(bytes.as_ref())
    }

    /// [`parse`](Self::parse) straight from a byte slice.
    pub fn parse_bytes(buf: &'a [u8]) -> Result<Repr<'a>> {
        let (id, flags, counts) = parse_header(buf)?;
        // The fast layouts build the returned value in place (one arm each,
        // so that each writes only its own sections); only the general path
        // builds a Repr and moves it.
        match fast_layout(buf, counts) {
            Some(FastLayout::Query(q)) => Ok(Repr {
                id,
                flags,
                question: Some(q),
                answer: None,
                authority: None,
                additional: None,
            }),
            Some(FastLayout::Answer(r)) => Ok(Repr {
                id,
                flags,
                question: None,
                answer: Some(r),
                authority: None,
                additional: None,
            }),
            Some(FastLayout::Registration(q, r)) => Ok(Repr {
                id,
                flags,
                question: Some(q),
                answer: None,
                authority: None,
                additional: Some(r),
            }),
            None => {
                let mut repr = Repr {
                    id,
                    flags,
                    ..Repr::EMPTY
                };
                repr.parse_sections(buf, counts)?;
                Ok(repr)
            }
        }
    }

    /// [`parse_bytes`](Self::parse_bytes) into an existing `Repr`, which is
    /// overwritten: the fastest way to decode many packets held in memory
    /// at once (a capture file), since no `Repr` is built, moved or
    /// returned. On error `self` holds a valid but meaningless mix of the
    /// previous and the new packet: use it only after `Ok`.
    pub fn parse_into(&mut self, buf: &'a [u8]) -> Result<()> {
        let (id, flags, counts) = parse_header(buf)?;
        self.id = id;
        self.flags = flags;
        match fast_layout(buf, counts) {
            Some(FastLayout::Query(q)) => {
                self.question = Some(q);
                self.answer = None;
                self.additional = None;
            }
            Some(FastLayout::Answer(r)) => {
                self.question = None;
                self.answer = Some(r);
                self.additional = None;
            }
            Some(FastLayout::Registration(q, r)) => {
                self.question = Some(q);
                self.answer = None;
                self.additional = Some(r);
            }
            None => return self.parse_sections(buf, counts),
        }
        self.authority = None;
        Ok(())
    }

    /// The general path: the four sections after the header, whatever
    /// their layout, every error reported. `counts` as [`parse_header`]
    /// returns them.
    #[inline(never)]
    fn parse_sections(&mut self, buf: &'a [u8], counts: u64) -> Result<()> {
        let mut pos = HEADER_LEN;
        // The question's NetBIOS name when it is a plain name at offset 12
        // (see `plain_name`): a record name that is a pointer to 12 is then
        // that very name, and is not parsed again.
        let mut plain_question = None;
        if counts >> 48 == 1 {
            pos = parse_question(buf, &mut self.question, &mut plain_question)?;
        } else {
            self.question = None;
        }
        for (slot, present) in [
            (&mut self.answer, counts >> 32),
            (&mut self.authority, counts >> 16),
            (&mut self.additional, counts),
        ] {
            if present & 1 == 1 {
                pos = parse_record(buf, pos, self.flags.opcode, plain_question, slot)?;
            } else {
                *slot = None;
            }
        }
        Ok(())
    }

    fn sections(&self) -> [Option<&Record<'a>>; 3] {
        [
            self.answer.as_ref(),
            self.authority.as_ref(),
            self.additional.as_ref(),
        ]
    }

    /// Whether a record's owner name is written as a pointer under `c`.
    fn points_to_question(&self, name: &Name<'_>, c: Compression) -> bool {
        c == Compression::Question && self.question.is_some_and(|q| q.name == *name)
    }

    /// The exact number of bytes [`emit`](Self::emit) writes.
    pub fn buffer_len(&self, c: Compression) -> usize {
        let mut len = HEADER_LEN;
        if let Some(q) = &self.question {
            len += q.name.buffer_len() + 4;
        }
        for r in self.sections().into_iter().flatten() {
            len += if self.points_to_question(&r.name, c) {
                2
            } else {
                r.name.buffer_len()
            };
            len += 10 + r.rdata.buffer_len();
        }
        len
    }

    /// Writes the packet to the start of `buf`; returns the bytes written.
    /// Fails (without panicking) when `buf` is shorter than `buffer_len`.
    pub fn emit(&self, buf: &mut [u8], c: Compression) -> Result<usize> {
        let needed = self.buffer_len(c);
        if buf.len() < needed {
            return Err(Error::new(
                ErrorKind::BufferTooSmall {
                    needed,
                    available: buf.len(),
                },
                0,
            ));
        }
        let buf = &mut buf[..needed];
        {
            let mut packet = Packet::new_unchecked(&mut *buf);
            packet.set_transaction_id(self.id);
            packet.set_flags(self.flags);
            packet.set_question_count(self.question.is_some() as u16);
            packet.set_answer_count(self.answer.is_some() as u16);
            packet.set_authority_count(self.authority.is_some() as u16);
            packet.set_additional_count(self.additional.is_some() as u16);
        }
        let mut pos = HEADER_LEN;
        if let Some(q) = &self.question {
            pos += q.name.emit(&mut buf[pos..])?;
            buf[pos..pos + 2].copy_from_slice(&u16::from(q.qtype).to_be_bytes());
            buf[pos + 2..pos + 4].copy_from_slice(&q.qclass.to_be_bytes());
            pos += 4;
        }
        for r in self.sections().into_iter().flatten() {
            if self.points_to_question(&r.name, c) {
                buf[pos..pos + 2].copy_from_slice(&(0xc000u16 | HEADER_LEN as u16).to_be_bytes());
                pos += 2;
            } else {
                pos += r.name.emit(&mut buf[pos..])?;
            }
            let rdlen = r.rdata.buffer_len();
            buf[pos..pos + 2].copy_from_slice(&u16::from(r.rdata.rtype()).to_be_bytes());
            buf[pos + 2..pos + 4].copy_from_slice(&r.class.to_be_bytes());
            buf[pos + 4..pos + 8].copy_from_slice(&r.ttl.to_be_bytes());
            buf[pos + 8..pos + 10].copy_from_slice(&(rdlen as u16).to_be_bytes());
            pos += 10;
            let out = &mut buf[pos..pos + rdlen];
            match &r.rdata {
                RData::Nb(list) => list.emit(out),
                RData::Wack(w) => out.copy_from_slice(&w.to_be_bytes()),
                RData::NbStat(s) => {
                    out[0] = s.names.len() as u8;
                    let names_len = s.names.buffer_len();
                    s.names.emit(&mut out[1..1 + names_len]);
                    out[1 + names_len..].copy_from_slice(s.statistics);
                }
                RData::A(addr) => out.copy_from_slice(&addr.octets()),
                RData::Ns(name) => {
                    name.emit(out)?;
                }
                RData::Null(d) | RData::Unknown { data: d, .. } => out.copy_from_slice(d),
            }
            pos += rdlen;
        }
        Ok(pos)
    }

    /// Checks what `emit` cannot express; call before emitting a Repr built
    /// by hand. (A parsed Repr always passes.)
    pub fn validate(&self) -> Result<()> {
        for r in self.sections().into_iter().flatten() {
            let rdlen = r.rdata.buffer_len();
            if rdlen > u16::MAX as usize {
                return Err(Error::new(
                    ErrorKind::BadRdLength {
                        rtype: r.rdata.rtype().into(),
                        len: u16::MAX,
                    },
                    0,
                ));
            }
            if let RData::NbStat(s) = r.rdata {
                if s.names.len() > 255 {
                    return Err(Error::new(ErrorKind::BadNameCount(255), 0));
                }
            }
        }
        Ok(())
    }

    /// The first NB entry of the answer or additional record: the address a
    /// positive response gives, or the one a registration asks for.
    pub fn first_address(&self) -> Option<Ipv4Addr> {
        [self.answer.as_ref(), self.additional.as_ref()]
            .into_iter()
            .flatten()
            .find_map(|r| r.nb_entries()?.iter().next())
            .map(|e| e.addr)
    }
}

/// The header: id, flags, and the four counts (big-endian in one word,
/// QDCOUNT first), each checked to be 0 or 1.
#[inline(always)]
fn parse_header(buf: &[u8]) -> Result<(u16, Flags, u64)> {
    let Some(header) = buf.first_chunk::<HEADER_LEN>() else {
        return Err(truncated(0, HEADER_LEN, buf.len()));
    };
    let [i0, i1, f0, f1, q0, q1, a0, a1, n0, n1, r0, r1] = *header;
    let counts = u64::from_be_bytes([q0, q1, a0, a1, n0, n1, r0, r1]);
    // One test for the four counts.
    if counts & 0xfffe_fffe_fffe_fffe != 0 {
        return Err(too_many_records(counts));
    }
    let flags = Flags::from_bits(u16::from_be_bytes([f0, f1]));
    Ok((u16::from_be_bytes([i0, i1]), flags, counts))
}

/// The layouts nearly all traffic has, parsed by straight-line code: a
/// query (one question), a response (one answer), a registration, refresh
/// or release (a question and an additional record, its name usually a
/// pointer to the question's), every name plain and every record NB (or
/// NBSTAT: node status responses).
enum FastLayout<'a> {
    Query(Question<'a>),
    Answer(Record<'a>),
    Registration(Question<'a>, Record<'a>),
}

/// The packet's sections when they have a [`FastLayout`]; `None` sends
/// the packet to the general path (which reports every error: the fast
/// path gives up on anything unusual rather than report it).
#[inline(always)]
fn fast_layout(buf: &[u8], counts: u64) -> Option<FastLayout<'_>> {
    const QD: u64 = 1 << 48;
    const AN: u64 = 1 << 32;
    const AR: u64 = 1;
    match counts {
        QD => Some(FastLayout::Query(fast_question(buf)?.0)),
        AN => Some(FastLayout::Answer(fast_record(buf, HEADER_LEN, None)?.0)),
        c if c == QD | AR => {
            let (q, name) = fast_question(buf)?;
            let (r, _) = fast_record(buf, QUESTION_END, Some(name))?;
            Some(FastLayout::Registration(q, r))
        }
        _ => None,
    }
}

/// The error for a section count over 1: the first such section, as the
/// counts appear in the header (`counts` holds them big-endian, QDCOUNT first).
#[cold]
fn too_many_records(counts: u64) -> Error {
    let sections = [
        (Section::Question, field::QDCOUNT.start),
        (Section::Answer, field::ANCOUNT.start),
        (Section::Authority, field::NSCOUNT.start),
        (Section::Additional, field::ARCOUNT.start),
    ];
    for (i, (section, at)) in sections.into_iter().enumerate() {
        let count = (counts >> (48 - 16 * i)) as u16;
        if count > 1 {
            return Error::new(ErrorKind::TooManyRecords { section, count }, at);
        }
    }
    unreachable!("a count over 1 was seen")
}

/// The shape nearly every name has: a 32-byte first-level encoded label and
/// the terminating zero, no scope, no pointer. Returns the 34 bytes, or
/// `None` when the name at `pos` has another shape (or is truncated), for
/// the general parser to handle (and report).
#[inline(always)]
fn plain_name(buf: &[u8], pos: usize) -> Option<&[u8; 2 + ENCODED_LEN]> {
    let b: &[u8; 2 + ENCODED_LEN] = buf.get(pos..pos + 2 + ENCODED_LEN)?.try_into().ok()?;
    (b[0] == ENCODED_LEN as u8 && b[1 + ENCODED_LEN] == 0).then_some(b)
}

/// The name a [`plain_name`] at `pos` parses to: the same value `Name::parse`
/// gives for it (the empty scope is a view of the terminating zero).
#[inline(always)]
fn plain_netbios<'a>(buf: &'a [u8], pos: usize, name: NetbiosName) -> Name<'a> {
    Name::Netbios {
        name,
        scope: Labels::Wire {
            packet: buf,
            pos: pos + 1 + ENCODED_LEN,
        },
    }
}

/// Where a question with a plain name ends.
const QUESTION_END: usize = HEADER_LEN + 2 + ENCODED_LEN + 4;

/// The question when its name is plain (and decodes): the same value the
/// general path gives, and the NetBIOS name for [`fast_record`].
#[inline(always)]
fn fast_question(buf: &[u8]) -> Option<(Question<'_>, NetbiosName)> {
    let b: &[u8; QUESTION_END - HEADER_LEN] = buf.get(HEADER_LEN..QUESTION_END)?.try_into().ok()?;
    let (head, rest) = b.split_first_chunk::<{ 1 + ENCODED_LEN }>()?;
    let &[0, t0, t1, c0, c1] = rest else {
        return None;
    };
    if head[0] != ENCODED_LEN as u8 {
        return None;
    }
    let name = NetbiosName::try_decode(head[1..].try_into().ok()?)?;
    let question = Question {
        name: plain_netbios(buf, HEADER_LEN, name),
        qtype: rr_type(u16::from_be_bytes([t0, t1])),
        qclass: u16::from_be_bytes([c0, c1]),
    };
    Some((question, name))
}

/// The record at `pos` when its name is plain (or a pointer to a plain
/// question name, given as `question`) and its type NB with whole entries
/// or NBSTAT with whole names: the same value the general path gives, and
/// the offset past it.
#[inline(always)]
fn fast_record<'a>(
    buf: &'a [u8],
    pos: usize,
    question: Option<NetbiosName>,
) -> Option<(Record<'a>, usize)> {
    const POINTER_TO_QUESTION: [u8; 2] = (0xc000 | HEADER_LEN as u16).to_be_bytes();
    let (name, pos) = match (question, buf.get(pos..pos + 2)?) {
        (Some(q), p) if p == POINTER_TO_QUESTION => (plain_netbios(buf, HEADER_LEN, q), pos + 2),
        _ => {
            let b = plain_name(buf, pos)?;
            let name = NetbiosName::try_decode(b[1..1 + ENCODED_LEN].try_into().ok()?)?;
            (plain_netbios(buf, pos, name), pos + 2 + ENCODED_LEN)
        }
    };
    let &[t0, t1, c0, c1, l0, l1, l2, l3, d0, d1] = buf.get(pos..pos + 10)?.try_into().ok()?;
    let rdlen = u16::from_be_bytes([d0, d1]) as usize;
    let start = pos + 10;
    let data = buf.get(start..start + rdlen)?;
    let rdata = match u16::from_be_bytes([t0, t1]) {
        // NB, NBSTAT
        0x0020 if rdlen.is_multiple_of(NbEntry::LEN) => RData::Nb(List::Wire(data)),
        0x0021 => {
            let (&count, rest) = data.split_first()?;
            let (names, statistics) = rest.split_at_checked(count as usize * StatusName::LEN)?;
            RData::NbStat(NodeStatus {
                names: List::Wire(names),
                statistics,
            })
        }
        _ => return None,
    };
    let record = Record {
        name,
        class: u16::from_be_bytes([c0, c1]),
        ttl: u32::from_be_bytes([l0, l1, l2, l3]),
        rdata,
    };
    Some((record, start + rdlen))
}

/// `RrType::from`, with NB first.
#[inline(always)]
fn rr_type(t: u16) -> RrType {
    if t == u16::from(RrType::Nb) {
        RrType::Nb
    } else {
        RrType::from(t)
    }
}

/// Parses the question (at offset 12) into `out`; returns the offset past
/// it. `plain` gets the NetBIOS name when it is a plain name.
#[inline(always)]
fn parse_question<'a>(
    buf: &'a [u8],
    out: &mut Option<Question<'a>>,
    plain: &mut Option<NetbiosName>,
) -> Result<usize> {
    let pos = HEADER_LEN;
    let (name, pos) = match plain_name(buf, pos) {
        Some(b) => {
            let name = NetbiosName::decode(&b[1..1 + ENCODED_LEN], pos + 1)?;
            *plain = Some(name);
            (plain_netbios(buf, pos, name), pos + 2 + ENCODED_LEN)
        }
        None => Name::parse_netbios(buf, pos)?,
    };
    let Some(&[t0, t1, c0, c1]) = buf.get(pos..pos + 4) else {
        return Err(truncated(pos, 4, buf.len()));
    };
    *out = Some(Question {
        name,
        qtype: RrType::from(u16::from_be_bytes([t0, t1])),
        qclass: u16::from_be_bytes([c0, c1]),
    });
    Ok(pos + 4)
}

/// Parses the record at `pos` into `out`; returns the offset past it.
/// `plain_question` as [`parse_question`] set it.
#[inline(always)]
fn parse_record<'a>(
    buf: &'a [u8],
    pos: usize,
    opcode: Opcode,
    plain_question: Option<NetbiosName>,
    out: &mut Option<Record<'a>>,
) -> Result<usize> {
    const POINTER_TO_QUESTION: [u8; 2] = (0xc000 | HEADER_LEN as u16).to_be_bytes();
    let (name, pos) = match (plain_question, buf.get(pos..pos + 2)) {
        (Some(q), Some(p)) if p == POINTER_TO_QUESTION => {
            (plain_netbios(buf, HEADER_LEN, q), pos + 2)
        }
        _ => match plain_name(buf, pos) {
            Some(b) => {
                let name = NetbiosName::decode(&b[1..1 + ENCODED_LEN], pos + 1)?;
                (plain_netbios(buf, pos, name), pos + 2 + ENCODED_LEN)
            }
            None => Name::parse(buf, pos)?,
        },
    };
    let Some(&[t0, t1, c0, c1, l0, l1, l2, l3, d0, d1]) = buf.get(pos..pos + 10) else {
        return Err(truncated(pos, 10, buf.len()));
    };
    let rtype = u16::from_be_bytes([t0, t1]);
    let class = u16::from_be_bytes([c0, c1]);
    let ttl = u32::from_be_bytes([l0, l1, l2, l3]);
    let rdlen = u16::from_be_bytes([d0, d1]);
    let start = pos + 10;
    let end = start + rdlen as usize;
    let data = buf
        .get(start..end)
        .ok_or_else(|| truncated(start, rdlen as usize, buf.len()))?;
    let bad_len = || Error::new(ErrorKind::BadRdLength { rtype, len: rdlen }, pos + 8);
    let rdata = match RrType::from(rtype) {
        RrType::Nb if opcode == Opcode::Wack && rdlen == 2 => RData::Wack(be16(data, 0)),
        RrType::Nb if data.len() % NbEntry::LEN == 0 => RData::Nb(List::Wire(data)),
        RrType::Nb => return Err(bad_len()),
        RrType::NbStat => {
            let count = *data.first().ok_or_else(bad_len)?;
            let names_len = count as usize * StatusName::LEN;
            if 1 + names_len > data.len() {
                return Err(Error::new(ErrorKind::BadNameCount(count), start));
            }
            RData::NbStat(NodeStatus {
                names: List::Wire(&data[1..1 + names_len]),
                statistics: &data[1 + names_len..],
            })
        }
        RrType::A if data.len() == 4 => RData::A(Ipv4Addr::new(data[0], data[1], data[2], data[3])),
        RrType::A => return Err(bad_len()),
        RrType::Ns => {
            // The name may point back into the packet, so parse it in place,
            // then check that it ends where RDLENGTH says.
            let (ns, ns_end) = Name::parse(&buf[..end], start)?;
            if ns_end != end {
                return Err(bad_len());
            }
            RData::Ns(ns)
        }
        RrType::Null => RData::Null(data),
        RrType::Unknown(t) => RData::Unknown { rtype: t, data },
    };
    *out = Some(Record {
        name,
        class,
        ttl,
        rdata,
    });
    Ok(end)
}

impl fmt::Display for Question<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.name, self.qtype)?;
        if self.qclass != CLASS_IN {
            write!(f, " class {}", self.qclass)?;
        }
        Ok(())
    }
}

impl fmt::Display for Record<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} ttl={}", self.name, self.rdata.rtype(), self.ttl)?;
        if self.class != CLASS_IN {
            write!(f, " class {}", self.class)?;
        }
        match &self.rdata {
            RData::Nb(list) => {
                if list.is_empty() {
                    f.write_str(" (no entries)")?;
                }
                for e in list.iter() {
                    write!(f, "\n      {} {}", e.addr, e.flags)?;
                }
                Ok(())
            }
            RData::Wack(w) => write!(f, " request flags 0x{w:04x}"),
            RData::NbStat(s) => {
                write!(f, " {} names", s.names.len())?;
                for n in s.names.iter() {
                    write!(
                        f,
                        "\n      {:<20} flags 0x{:04x}",
                        n.name.to_string(),
                        n.flags
                    )?;
                }
                match s.unit_id() {
                    Some(id) => write!(
                        f,
                        "\n      unit id {:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}, {} statistics bytes",
                        id[0], id[1], id[2], id[3], id[4], id[5],
                        s.statistics.len()
                    ),
                    None => write!(f, "\n      {} statistics bytes", s.statistics.len()),
                }
            }
            RData::A(a) => write!(f, " {a}"),
            RData::Ns(n) => write!(f, " {n}"),
            RData::Null(d) | RData::Unknown { data: d, .. } => {
                if d.is_empty() {
                    Ok(())
                } else {
                    f.write_str(" data \"")?;
                    write_escaped(f, d)?;
                    f.write_str("\"")
                }
            }
        }
    }
}

impl fmt::Display for Repr<'_> {
    /// A dissector-like block, one line a field.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "NBNS id=0x{:04x} {}", self.id, self.flags)?;
        if let Some(q) = &self.question {
            writeln!(f, "  question:   {q}")?;
        }
        for (label, r) in [
            ("answer:    ", &self.answer),
            ("authority: ", &self.authority),
            ("additional:", &self.additional),
        ] {
            if let Some(r) = r {
                writeln!(f, "  {label} {r}")?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod properties {
    //! quickcheck: emitting then parsing gives back the same Repr, and no
    //! byte string makes the parser panic.
    use super::*;
    use crate::name::Labels;
    use quickcheck::{Arbitrary, Gen, QuickCheck};

    /// Owned data from which a `Repr` is built (quickcheck needs 'static values).
    #[derive(Debug, Clone)]
    struct OwnedRepr {
        id: u16,
        flags: u16,
        question: Option<(OwnedName, u16, u16)>,
        records: [Option<OwnedRecord>; 3],
    }

    #[derive(Debug, Clone, PartialEq)]
    enum OwnedName {
        Netbios([u8; 16], String),
        Domain(String),
    }

    #[derive(Debug, Clone)]
    struct OwnedRecord {
        name: OwnedName,
        class: u16,
        ttl: u32,
        rdata: OwnedRData,
    }

    #[derive(Debug, Clone)]
    enum OwnedRData {
        Nb(Vec<NbEntry>),
        Wack(u16),
        NbStat(Vec<StatusName>, Vec<u8>),
        A(Ipv4Addr),
        Ns(OwnedName),
        Null(Vec<u8>),
        Unknown(u16, Vec<u8>),
    }

    fn label(g: &mut Gen, avoid_len: Option<usize>) -> String {
        let chars = b"abcdefghijklmnopqrstuvwxyz0123456789-ABCXYZ";
        let mut len = 1 + usize::arbitrary(g) % 63;
        if Some(len) == avoid_len {
            len -= 1;
        }
        (0..len)
            .map(|_| *g.choose(chars).unwrap() as char)
            .collect()
    }

    /// Dotted labels whose encoding stays within `budget` bytes.
    fn labels(g: &mut Gen, budget: usize, avoid_first: Option<usize>) -> String {
        let mut out = String::new();
        let mut used = 0;
        for i in 0..usize::arbitrary(g) % 5 {
            let l = label(g, if i == 0 { avoid_first } else { None });
            if used + 1 + l.len() > budget {
                break;
            }
            used += 1 + l.len();
            if !out.is_empty() {
                out.push('.');
            }
            out.push_str(&l);
        }
        out
    }

    impl Arbitrary for OwnedName {
        fn arbitrary(g: &mut Gen) -> Self {
            if bool::arbitrary(g) || bool::arbitrary(g) {
                let mut raw = [0u8; 16];
                for b in raw.iter_mut() {
                    *b = u8::arbitrary(g);
                }
                OwnedName::Netbios(raw, labels(g, 255 - 35, None))
            } else {
                // A 32-byte first label would read back as a NetBIOS name.
                OwnedName::Domain(labels(g, 254, Some(32)))
            }
        }
    }

    impl OwnedName {
        fn name(&self) -> Name<'_> {
            match self {
                OwnedName::Netbios(raw, scope) => Name::netbios(
                    NetbiosName::from_bytes(*raw),
                    Labels::dotted(scope).unwrap(),
                )
                .unwrap(),
                OwnedName::Domain(s) => Name::Domain(Labels::dotted(s).unwrap()),
            }
        }
    }

    fn bytes(g: &mut Gen, max: usize) -> Vec<u8> {
        (0..usize::arbitrary(g) % max)
            .map(|_| u8::arbitrary(g))
            .collect()
    }

    impl OwnedRData {
        fn arbitrary(g: &mut Gen, wack: bool) -> Self {
            match u8::arbitrary(g) % 7 {
                0 if wack => OwnedRData::Wack(u16::arbitrary(g)),
                0 | 1 => OwnedRData::Nb(
                    (0..usize::arbitrary(g) % 6)
                        .map(|_| NbEntry {
                            flags: NbFlags(u16::arbitrary(g)),
                            addr: Ipv4Addr::from(u32::arbitrary(g)),
                        })
                        .collect(),
                ),
                2 => OwnedRData::NbStat(
                    (0..usize::arbitrary(g) % 6)
                        .map(|_| {
                            let mut raw = [0u8; 16];
                            raw.iter_mut().for_each(|b| *b = u8::arbitrary(g));
                            StatusName {
                                name: NetbiosName::from_bytes(raw),
                                flags: u16::arbitrary(g),
                            }
                        })
                        .collect(),
                    bytes(g, 80),
                ),
                3 => OwnedRData::A(Ipv4Addr::from(u32::arbitrary(g))),
                4 => OwnedRData::Ns(OwnedName::arbitrary(g)),
                5 => OwnedRData::Null(bytes(g, 20)),
                _ => {
                    let t = loop {
                        let t = u16::arbitrary(g);
                        if matches!(RrType::from(t), RrType::Unknown(_)) {
                            break t;
                        }
                    };
                    OwnedRData::Unknown(t, bytes(g, 20))
                }
            }
        }
    }

    impl Arbitrary for OwnedRepr {
        fn arbitrary(g: &mut Gen) -> Self {
            let flags = u16::arbitrary(g);
            let wack = Flags::from_bits(flags).opcode == Opcode::Wack;
            let record = |g: &mut Gen| {
                bool::arbitrary(g).then(|| OwnedRecord {
                    name: OwnedName::arbitrary(g),
                    class: u16::arbitrary(g),
                    ttl: u32::arbitrary(g),
                    rdata: OwnedRData::arbitrary(g, wack),
                })
            };
            let mut repr = OwnedRepr {
                id: u16::arbitrary(g),
                flags,
                question: bool::arbitrary(g).then(|| {
                    let mut raw = [0u8; 16];
                    raw.iter_mut().for_each(|b| *b = u8::arbitrary(g));
                    (
                        OwnedName::Netbios(raw, labels(g, 255 - 35, None)),
                        u16::arbitrary(g),
                        u16::arbitrary(g),
                    )
                }),
                records: [record(g), record(g), record(g)],
            };
            // Records that repeat the question's name exercise compression.
            if let Some((qname, _, _)) = &repr.question {
                for r in repr.records.iter_mut().flatten() {
                    if bool::arbitrary(g) {
                        r.name = qname.clone();
                    }
                }
            }
            repr
        }
    }

    fn record(r: &Option<OwnedRecord>) -> Option<Record<'_>> {
        r.as_ref().map(|r| Record {
            name: r.name.name(),
            class: r.class,
            ttl: r.ttl,
            rdata: match &r.rdata {
                OwnedRData::Nb(v) => RData::Nb(List::Items(v)),
                OwnedRData::Wack(w) => RData::Wack(*w),
                OwnedRData::NbStat(names, stats) => RData::NbStat(NodeStatus {
                    names: List::Items(names),
                    statistics: stats,
                }),
                OwnedRData::A(a) => RData::A(*a),
                OwnedRData::Ns(n) => RData::Ns(n.name()),
                OwnedRData::Null(d) => RData::Null(d),
                OwnedRData::Unknown(t, d) => RData::Unknown { rtype: *t, data: d },
            },
        })
    }

    fn build(o: &OwnedRepr) -> Repr<'_> {
        Repr {
            id: o.id,
            flags: Flags::from_bits(o.flags),
            question: o.question.as_ref().map(|(n, t, c)| Question {
                name: n.name(),
                qtype: RrType::from(*t),
                qclass: *c,
            }),
            answer: record(&o.records[0]),
            authority: record(&o.records[1]),
            additional: record(&o.records[2]),
        }
    }

    fn round_trips(o: OwnedRepr) -> bool {
        let repr = build(&o);
        [Compression::None, Compression::Question].iter().all(|&c| {
            let mut buf = vec![0u8; repr.buffer_len(c)];
            let n = repr.emit(&mut buf, c).unwrap();
            n == buf.len() && Repr::parse_bytes(&buf) == Ok(repr)
        })
    }

    fn parse_never_panics(data: Vec<u8>) -> bool {
        match Repr::parse_bytes(&data) {
            // Whatever parses must emit and parse back the same.
            Ok(repr) => {
                let mut buf = vec![0u8; repr.buffer_len(Compression::None)];
                repr.emit(&mut buf, Compression::None).is_ok()
                    && Repr::parse_bytes(&buf) == Ok(repr)
            }
            Err(e) => e.offset <= data.len(),
        }
    }

    /// The general path alone, without the fast layouts.
    fn parse_general(buf: &[u8]) -> Result<Repr<'_>> {
        let (id, flags, counts) = parse_header(buf)?;
        let mut repr = Repr {
            id,
            flags,
            ..Repr::EMPTY
        };
        repr.parse_sections(buf, counts)?;
        Ok(repr)
    }

    /// The fast layouts, the general path and `parse_into` (into a Repr
    /// holding another packet) agree on `buf`, errors included.
    fn paths_agree(buf: &[u8], other: &Repr<'static>) -> bool {
        let general = parse_general(buf);
        let fast = Repr::parse_bytes(buf);
        let mut into = *other;
        let into = into.parse_into(buf).map(|()| into);
        fast == general && into == general
    }

    fn other_packet() -> Repr<'static> {
        static ENTRY: [NbEntry; 1] = [NbEntry {
            flags: NbFlags(0x6000),
            addr: Ipv4Addr::new(10, 0, 0, 1),
        }];
        let name = Name::Netbios {
            name: NetbiosName::new(b"OTHER", 0x20).unwrap(),
            scope: Labels::EMPTY,
        };
        let record = Record {
            name,
            class: CLASS_IN,
            ttl: 1,
            rdata: RData::Nb(List::Items(&ENTRY)),
        };
        Repr {
            id: 7,
            flags: Flags::from_bits(0xffff),
            question: Some(Question {
                name,
                qtype: RrType::NbStat,
                qclass: CLASS_IN,
            }),
            answer: Some(record),
            authority: Some(record),
            additional: Some(record),
        }
    }

    #[test]
    fn fast_layouts_agree_with_the_general_path() {
        fn prop(o: OwnedRepr, flips: Vec<(u16, u8)>, cut: u16) -> bool {
            let repr = build(&o);
            let other = other_packet();
            [Compression::None, Compression::Question].iter().all(|&c| {
                let mut buf = vec![0u8; repr.buffer_len(c)];
                repr.emit(&mut buf, c).unwrap();
                let intact = paths_agree(&buf, &other);
                for &(at, x) in &flips {
                    let len = buf.len();
                    buf[at as usize % len] ^= x;
                }
                buf.truncate(buf.len() - (cut as usize % 8).min(buf.len()));
                intact && paths_agree(&buf, &other)
            })
        }
        QuickCheck::new()
            .tests(5000)
            .quickcheck(prop as fn(OwnedRepr, Vec<(u16, u8)>, u16) -> bool);
    }

    #[test]
    fn fast_layouts_agree_on_the_common_packets_and_their_mutations() {
        // The shapes the fast paths take, built by hand, then every single
        // byte changed to a few values and every truncation.
        let q = Name::Netbios {
            name: NetbiosName::new(b"FRED", 0x20).unwrap(),
            scope: Labels::EMPTY,
        };
        let entries = [NbEntry {
            flags: NbFlags(0x6000),
            addr: Ipv4Addr::new(192, 168, 7, 21),
        }; 2];
        let record = Record {
            name: q,
            class: CLASS_IN,
            ttl: 300_000,
            rdata: RData::Nb(List::Items(&entries)),
        };
        let question = Some(Question {
            name: q,
            qtype: RrType::Nb,
            qclass: CLASS_IN,
        });
        let base = Repr {
            id: 0x1234,
            flags: Flags::request(Opcode::Registration),
            ..Repr::EMPTY
        };
        let status_names = [StatusName {
            name: NetbiosName::new(b"FRED", 0x00).unwrap(),
            flags: StatusName::ACTIVE,
        }; 2];
        let status = Record {
            rdata: RData::NbStat(NodeStatus {
                names: List::Items(&status_names),
                statistics: &[7; 8],
            }),
            ..record
        };
        let packets = [
            Repr { question, ..base },
            Repr {
                answer: Some(status),
                ..base
            },
            Repr {
                answer: Some(record),
                ..base
            },
            Repr {
                question,
                additional: Some(record),
                ..base
            },
        ];
        let other = other_packet();
        for p in packets {
            for c in [Compression::None, Compression::Question] {
                let mut buf = vec![0u8; p.buffer_len(c)];
                p.emit(&mut buf, c).unwrap();
                assert_eq!(Repr::parse_bytes(&buf), Ok(p));
                for cut in 0..=buf.len() {
                    assert!(paths_agree(&buf[..cut], &other), "cut at {cut}");
                }
                for at in 0..buf.len() {
                    for x in [0x00, 0x01, 0x20, 0x41, 0x50, 0x51, 0xc0, 0xff] {
                        let mut m = buf.clone();
                        m[at] = x;
                        assert!(paths_agree(&m, &other), "byte {at} = {x:#x}");
                    }
                }
            }
        }
    }

    #[test]
    fn flags_tables_match_the_fields() {
        for w in 0..=u16::MAX {
            let f = Flags::from_bits(w);
            assert_eq!(f, Flags::from_bits_const(w));
            assert_eq!(f.opcode, Opcode::from(((w >> 11) & 0xf) as u8));
            assert_eq!(f.rcode, Rcode::from((w & 0xf) as u8));
            assert_eq!(f.bits(), w);
        }
    }

    #[test]
    fn emit_then_parse_gives_back_the_repr() {
        QuickCheck::new()
            .tests(2000)
            .quickcheck(round_trips as fn(OwnedRepr) -> bool);
    }

    #[test]
    fn parse_of_arbitrary_bytes_never_panics() {
        QuickCheck::new()
            .tests(5000)
            .quickcheck(parse_never_panics as fn(Vec<u8>) -> bool);
    }

    #[test]
    fn parse_of_mutated_packets_never_panics() {
        // Random bytes rarely get past the header; mutate a valid packet too.
        fn prop(o: OwnedRepr, flips: Vec<(u16, u8)>, cut: u16) -> bool {
            let repr = build(&o);
            let mut buf = vec![0u8; repr.buffer_len(Compression::Question)];
            repr.emit(&mut buf, Compression::Question).unwrap();
            for (at, x) in flips {
                let len = buf.len();
                buf[at as usize % len] ^= x;
            }
            buf.truncate(buf.len() - (cut as usize % 4).min(buf.len()));
            parse_never_panics(buf)
        }
        QuickCheck::new()
            .tests(3000)
            .quickcheck(prop as fn(OwnedRepr, Vec<(u16, u8)>, u16) -> bool);
    }
}
