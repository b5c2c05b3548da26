//! WINS replication (MS-WINSRA, TCP port 42): frames, association messages,
//! owner-version maps and name records.
//!
//! A frame is a big-endian length word (not counting itself) followed by a
//! 12-byte header (opcode word, destination association handle, message
//! type) and a body. [`Frame`] is a checked view over those bytes, [`Repr`]
//! the parsed message, and [`FrameSplitter`] cuts a TCP byte stream into
//! frames with a bounded buffer.
//!
//! Layout facts, as Windows and Samba put them on the wire:
//! - Start association (request and response): sender handle (u32), major
//!   version (u16, 2), minor version (u16, 5; NT4 sends 1), 21 zero bytes so
//!   that the length word reads 41.
//! - Stop association: reason (u32: 0 normal, 4 error), then 24 reserved bytes
//!   from Windows (length 40); Samba sends none (length 16). Both accepted.
//! - Every message may carry trailing padding; it is kept as a byte count.
//! - Owner record: IPv4, max version (u64 as high, low), min version, type (u32).
//! - Name record: name length (u32, NUL included, 1..=255), the name buffer,
//!   then 1..=4 padding bytes (a buffer that is already a multiple of 4 gets 4
//!   more, as Windows does), flags (u32), the group word (u32 *little-endian*,
//!   1 for normal and special groups), version (u64), one IPv4 address (unique,
//!   normal group) or a *little-endian* u32 count of (owner, address) pairs
//!   (special group, multihomed), and a reserved u32 (255.255.255.255).
//! - The name buffer is the 15-byte space-padded name, the suffix byte, the
//!   scope as dotted text, and a NUL. For suffix 0x1B the first and 16th bytes
//!   are swapped on the wire (a Windows quirk that Samba mirrors). Buffers
//!   shorter than 17 bytes are kept raw ([`RecordName::Short`]).
//!
//! Decoding never allocates, never panics and does linear work: every count
//! is checked against the bytes left before any loop runs. Parsed lists are
//! views over the validated bytes, walked again on iteration.

use crate::error::{truncated, Error, ErrorKind, Result};
use crate::name::{write_escaped, NetbiosName};
use core::fmt;
use std::net::Ipv4Addr;

/// The TCP port of WINS replication.
pub const PORT: u16 = 42;
/// Bits of the header opcode word that Windows and Samba always set.
pub const OPCODE_BITS: u32 = 0x7800;
/// Size of the length word that starts every frame.
pub const LENGTH_LEN: usize = 4;
/// Bytes of header counted by the length word (opcode, handle, message type).
pub const HEADER_LEN: usize = 12;
/// Reserved bytes after a start association (request or response) body.
pub const START_PADDING: u32 = 21;
/// Reserved bytes after a stop association body, as Windows sends it.
pub const STOP_PADDING: u32 = 24;
/// Default bound on the length word accepted by [`FrameSplitter`]: 16 MiB.
/// Samba sets no limit; a send-entries reply with 100 000 records is about
/// 5 MB, so this leaves room while bounding memory.
pub const DEFAULT_MAX_FRAME_LEN: u32 = 16 * 1024 * 1024;
/// Longest name buffer in a name record, NUL included.
pub const MAX_RECORD_NAME_LEN: usize = 255;
/// Longest scope that fits a name record (255 - 16 - 1).
pub const MAX_SCOPE_LEN: usize = MAX_RECORD_NAME_LEN - 17;
/// What a name record's last field holds when Samba sends it.
pub const RECORD_RESERVED: u32 = 0xffff_ffff;

mod field {
    pub type Field = core::ops::Range<usize>;

    // Common header; offsets from the start of the length word.
    pub const LENGTH: Field = 0..4;
    pub const OPCODE: Field = 4..8;
    pub const ASSOC_CTX: Field = 8..12;
    pub const MESSAGE_TYPE: Field = 12..16;
    pub const BODY: usize = 16;

    // Start association request and response.
    pub const START_ASSOC_CTX: Field = 16..20;
    pub const START_MAJOR: Field = 20..22;
    pub const START_MINOR: Field = 22..24;
    pub const START_END: usize = 24;

    // Stop association.
    pub const STOP_REASON: Field = 16..20;
    pub const STOP_END: usize = 20;

    // Replication messages.
    pub const REPL_OPCODE: Field = 16..20;

    // Owner record, from its start.
    pub const OWNER_ADDRESS: Field = 0..4;
    pub const OWNER_MAX_VERSION: Field = 4..12;
    pub const OWNER_MIN_VERSION: Field = 12..20;
    pub const OWNER_TYPE: Field = 20..24;
    pub const OWNER_LEN: usize = 24;

    // (owner, address) pair of an address list.
    pub const PAIR_OWNER: Field = 0..4;
    pub const PAIR_ADDRESS: Field = 4..8;
    pub const PAIR_LEN: usize = 8;

    /// Smallest name record: length, 1 name byte + 3 padding, flags, group,
    /// version, one address, reserved.
    pub const RECORD_MIN_LEN: usize = 4 + 4 + 4 + 4 + 8 + 4 + 4;
}

// ---------------------------------------------------------------------------
// Byte access helpers

fn be16(b: &[u8], f: field::Field) -> u16 {
    let mut x = [0u8; 2];
    x.copy_from_slice(&b[f]);
    u16::from_be_bytes(x)
}

fn be32(b: &[u8], f: field::Field) -> u32 {
    let mut x = [0u8; 4];
    x.copy_from_slice(&b[f]);
    u32::from_be_bytes(x)
}

fn be64(b: &[u8], f: field::Field) -> u64 {
    let mut x = [0u8; 8];
    x.copy_from_slice(&b[f]);
    u64::from_be_bytes(x)
}

fn ipv4(b: &[u8], f: field::Field) -> Ipv4Addr {
    Ipv4Addr::from(be32(b, f))
}

/// Bounds-checked reader over a frame; offsets in errors are absolute.
struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= self.buf.len())
            .ok_or_else(|| truncated(self.pos, n, self.buf.len()))?;
        let s = &self.buf[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    fn u32(&mut self) -> Result<u32> {
        self.take(4).map(|s| be32(s, 0..4))
    }

    fn u32_le(&mut self) -> Result<u32> {
        let s = self.take(4)?;
        Ok(u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
    }

    fn u64(&mut self) -> Result<u64> {
        self.take(8).map(|s| be64(s, 0..8))
    }

    fn ipv4(&mut self) -> Result<Ipv4Addr> {
        self.u32().map(Ipv4Addr::from)
    }

    fn remaining(&self) -> usize {
        self.buf.len().saturating_sub(self.pos)
    }
}

/// Writer over a buffer already checked to be large enough.
struct Writer<'a> {
    buf: &'a mut [u8],
    pos: usize,
}

impl Writer<'_> {
    fn bytes(&mut self, b: &[u8]) {
        self.buf[self.pos..self.pos + b.len()].copy_from_slice(b);
        self.pos += b.len();
    }
    fn zeros(&mut self, n: usize) {
        self.buf[self.pos..self.pos + n].fill(0);
        self.pos += n;
    }
    fn u32(&mut self, v: u32) {
        self.bytes(&v.to_be_bytes());
    }
    fn u32_le(&mut self, v: u32) {
        self.bytes(&v.to_le_bytes());
    }
    fn u64(&mut self, v: u64) {
        self.bytes(&v.to_be_bytes());
    }
    fn ipv4(&mut self, a: Ipv4Addr) {
        self.bytes(&a.octets());
    }
}

fn too_small(needed: usize, available: usize) -> Error {
    Error::new(ErrorKind::BufferTooSmall { needed, available }, 0)
}

// ---------------------------------------------------------------------------
// Frame view

/// A checked view over one WINS replication frame, length word included.
///
/// After [`check_len`](Frame::check_len) succeeds no accessor can panic. The
/// buffer may be longer than the frame; the bytes past it are not looked at.
#[derive(Debug, Clone)]
pub struct Frame<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Frame<T> {
    /// Wraps a buffer without checking it.
    pub const fn new_unchecked(buffer: T) -> Self {
        Frame { buffer }
    }

    /// Wraps a buffer and checks it holds a whole frame.
    pub fn new_checked(buffer: T) -> Result<Self> {
        let f = Self::new_unchecked(buffer);
        f.check_len()?;
        Ok(f)
    }

    /// Checks that the buffer holds the header and the `length()` bytes it
    /// announces, and that the length covers the header.
    pub fn check_len(&self) -> Result<()> {
        let b = self.buffer.as_ref();
        if b.len() < field::BODY {
            return Err(truncated(0, field::BODY, b.len()));
        }
        let len = be32(b, field::LENGTH);
        if (len as usize) < HEADER_LEN {
            return Err(Error::new(ErrorKind::BadFrameLength(len), 0));
        }
        if (len as usize).saturating_add(LENGTH_LEN) > b.len() {
            return Err(truncated(LENGTH_LEN, len as usize, b.len()));
        }
        Ok(())
    }

    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// The length word: bytes after it that belong to the frame.
    pub fn length(&self) -> u32 {
        be32(self.buffer.as_ref(), field::LENGTH)
    }

    /// Total frame size, length word included.
    pub fn frame_len(&self) -> usize {
        (self.length() as usize).saturating_add(LENGTH_LEN)
    }

    /// The header's opcode (reserved) word; normally [`OPCODE_BITS`].
    pub fn opcode(&self) -> u32 {
        be32(self.buffer.as_ref(), field::OPCODE)
    }

    /// The destination association handle.
    pub fn assoc_ctx(&self) -> u32 {
        be32(self.buffer.as_ref(), field::ASSOC_CTX)
    }

    /// The raw message type (see [`MessageType`]).
    pub fn message_type(&self) -> u32 {
        be32(self.buffer.as_ref(), field::MESSAGE_TYPE)
    }

    /// The whole frame, length word included.
    pub fn as_bytes(&self) -> &[u8] {
        &self.buffer.as_ref()[..self.frame_len()]
    }

    /// The bytes after the message type, up to the end of the frame.
    pub fn body(&self) -> &[u8] {
        &self.buffer.as_ref()[field::BODY..self.frame_len()]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Frame<T> {
    pub fn set_length(&mut self, value: u32) {
        self.buffer.as_mut()[field::LENGTH].copy_from_slice(&value.to_be_bytes());
    }
    pub fn set_opcode(&mut self, value: u32) {
        self.buffer.as_mut()[field::OPCODE].copy_from_slice(&value.to_be_bytes());
    }
    pub fn set_assoc_ctx(&mut self, value: u32) {
        self.buffer.as_mut()[field::ASSOC_CTX].copy_from_slice(&value.to_be_bytes());
    }
    pub fn set_message_type(&mut self, value: u32) {
        self.buffer.as_mut()[field::MESSAGE_TYPE].copy_from_slice(&value.to_be_bytes());
    }
    /// The body, mutable; its size follows `length()`.
    pub fn body_mut(&mut self) -> &mut [u8] {
        let end = self.frame_len();
        &mut self.buffer.as_mut()[field::BODY..end]
    }
}

// ---------------------------------------------------------------------------
// Enumerations

/// The association message type in the header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub enum MessageType {
    StartAssociation = 0,
    StartAssociationResponse = 1,
    StopAssociation = 2,
    Replication = 3,
}

impl MessageType {
    pub fn from_u32(v: u32) -> Option<Self> {
        Some(match v {
            0 => MessageType::StartAssociation,
            1 => MessageType::StartAssociationResponse,
            2 => MessageType::StopAssociation,
            3 => MessageType::Replication,
            _ => return None,
        })
    }
}

/// The opcode that starts a replication message body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub enum ReplicationOpcode {
    /// Owner-version map request (Samba: TABLE_QUERY).
    OwnerVersionMapRequest = 0,
    /// Owner-version map response (TABLE_REPLY).
    OwnerVersionMapResponse = 1,
    /// Name records request, "send entries" (SEND_REQUEST).
    NameRecordsRequest = 2,
    /// Name records response (SEND_REPLY).
    NameRecordsResponse = 3,
    /// Update notification (UPDATE).
    Update = 4,
    /// Update notification, propagate (UPDATE2).
    UpdatePropagate = 5,
    /// Update notification on a persistent connection (INFORM).
    Inform = 8,
    /// Update notification on a persistent connection, propagate (INFORM2).
    InformPropagate = 9,
}

impl ReplicationOpcode {
    pub fn from_u32(v: u32) -> Option<Self> {
        use ReplicationOpcode::*;
        Some(match v {
            0 => OwnerVersionMapRequest,
            1 => OwnerVersionMapResponse,
            2 => NameRecordsRequest,
            3 => NameRecordsResponse,
            4 => Update,
            5 => UpdatePropagate,
            8 => Inform,
            9 => InformPropagate,
            _ => return None,
        })
    }

    fn name(self) -> &'static str {
        use ReplicationOpcode::*;
        match self {
            OwnerVersionMapRequest => "owner-version map request",
            OwnerVersionMapResponse => "owner-version map response",
            NameRecordsRequest => "name records request",
            NameRecordsResponse => "name records response",
            Update => "update notification",
            UpdatePropagate => "update notification (propagate)",
            Inform => "update notification (persistent)",
            InformPropagate => "update notification (persistent, propagate)",
        }
    }
}

/// Which of the four update notifications (replication opcodes 4, 5, 8, 9).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub enum UpdateKind {
    Update,
    UpdatePropagate,
    Inform,
    InformPropagate,
}

impl UpdateKind {
    pub fn opcode(self) -> ReplicationOpcode {
        match self {
            UpdateKind::Update => ReplicationOpcode::Update,
            UpdateKind::UpdatePropagate => ReplicationOpcode::UpdatePropagate,
            UpdateKind::Inform => ReplicationOpcode::Inform,
            UpdateKind::InformPropagate => ReplicationOpcode::InformPropagate,
        }
    }
    /// Odd opcodes ask the receiver to propagate the notification.
    pub fn propagate(self) -> bool {
        matches!(
            self,
            UpdateKind::UpdatePropagate | UpdateKind::InformPropagate
        )
    }
}

/// Name record type (flags bits 0-1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RecordType {
    Unique = 0,
    Group = 1,
    SpecialGroup = 2,
    Multihomed = 3,
}

impl RecordType {
    /// Special groups and multihomed records carry an address list.
    pub fn has_address_list(self) -> bool {
        matches!(self, RecordType::SpecialGroup | RecordType::Multihomed)
    }
    /// Normal and special groups set the group word.
    pub fn is_group(self) -> bool {
        matches!(self, RecordType::Group | RecordType::SpecialGroup)
    }
}

/// Name record state (flags bits 2-3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RecordState {
    Active = 0,
    Released = 1,
    Tombstone = 2,
    /// 3: "deleted" to Wireshark, reserved to Samba.
    Deleted = 3,
}

/// Node type of the registrant (flags bits 5-6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NodeType {
    B = 0,
    P = 1,
    M = 2,
    /// 3: H-node to Samba; MS-WINSRA calls it reserved.
    H = 3,
}

/// The flags word of a name record. Only the low byte is defined; the other
/// 24 bits are reserved (sent as 0) and kept as received.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct Flags(pub u32);

impl Flags {
    pub const RECORD_TYPE: u32 = 0x03;
    pub const STATE: u32 = 0x0c;
    pub const LOCAL: u32 = 0x10;
    pub const NODE_TYPE: u32 = 0x60;
    pub const STATIC: u32 = 0x80;

    pub fn new(
        record_type: RecordType,
        state: RecordState,
        node: NodeType,
        is_static: bool,
        is_local: bool,
    ) -> Self {
        Flags(
            record_type as u32
                | (state as u32) << 2
                | if is_local { Self::LOCAL } else { 0 }
                | (node as u32) << 5
                | if is_static { Self::STATIC } else { 0 },
        )
    }

    pub fn record_type(self) -> RecordType {
        match self.0 & 3 {
            0 => RecordType::Unique,
            1 => RecordType::Group,
            2 => RecordType::SpecialGroup,
            _ => RecordType::Multihomed,
        }
    }

    pub fn state(self) -> RecordState {
        match (self.0 >> 2) & 3 {
            0 => RecordState::Active,
            1 => RecordState::Released,
            2 => RecordState::Tombstone,
            _ => RecordState::Deleted,
        }
    }

    pub fn node_type(self) -> NodeType {
        match (self.0 >> 5) & 3 {
            0 => NodeType::B,
            1 => NodeType::P,
            2 => NodeType::M,
            _ => NodeType::H,
        }
    }

    /// The L flag: registered locally (Samba: WREPL_FLAGS_REGISTERED_LOCAL).
    pub fn is_local(self) -> bool {
        self.0 & Self::LOCAL != 0
    }

    /// The S flag: a static record entered by an administrator.
    pub fn is_static(self) -> bool {
        self.0 & Self::STATIC != 0
    }

    /// The reserved upper 24 bits.
    pub fn reserved(self) -> u32 {
        self.0 & !0xff
    }
}

impl fmt::Display for Flags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let t = match self.record_type() {
            RecordType::Unique => "unique",
            RecordType::Group => "group",
            RecordType::SpecialGroup => "special group",
            RecordType::Multihomed => "multihomed",
        };
        let s = match self.state() {
            RecordState::Active => "active",
            RecordState::Released => "released",
            RecordState::Tombstone => "tombstone",
            RecordState::Deleted => "deleted",
        };
        let n = match self.node_type() {
            NodeType::B => "B",
            NodeType::P => "P",
            NodeType::M => "M",
            NodeType::H => "H",
        };
        write!(
            f,
            "0x{:08x} ({t}, {s}, {n}-node, {}{})",
            self.0,
            if self.is_static() {
                "static"
            } else {
                "dynamic"
            },
            if self.is_local() { ", local" } else { "" }
        )
    }
}

// ---------------------------------------------------------------------------
// Plain records

/// Body of a start association request or response.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct Start {
    /// The sender's association handle.
    pub assoc_ctx: u32,
    /// 2 from every Windows and Samba peer (Samba's IDL calls this field
    /// `minor_version`; the bytes are the same).
    pub major_version: u16,
    /// 5 from Windows 2000 and later and Samba, 1 from NT4.
    pub minor_version: u16,
}

impl Start {
    /// A start body as Samba and Windows send it: version 2.5.
    pub const fn new(assoc_ctx: u32) -> Self {
        Start {
            assoc_ctx,
            major_version: 2,
            minor_version: 5,
        }
    }
}

/// Body of a stop association message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct Stop {
    /// 0: stopped normally, 4: stopped on an error (Samba sends 4).
    pub reason: u32,
}

/// An owner (a WINS server) with the range of version numbers it holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct OwnerRecord {
    pub address: Ipv4Addr,
    pub max_version: u64,
    pub min_version: u64,
    /// The owner "type" word; Windows and Samba send 1.
    pub owner_type: u32,
}

impl OwnerRecord {
    fn read(b: &[u8]) -> Self {
        OwnerRecord {
            address: ipv4(b, field::OWNER_ADDRESS),
            max_version: be64(b, field::OWNER_MAX_VERSION),
            min_version: be64(b, field::OWNER_MIN_VERSION),
            owner_type: be32(b, field::OWNER_TYPE),
        }
    }

    fn write(&self, w: &mut Writer<'_>) {
        w.ipv4(self.address);
        w.u64(self.max_version);
        w.u64(self.min_version);
        w.u32(self.owner_type);
    }
}

impl fmt::Display for OwnerRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "owner {} versions {}..={} type {}",
            self.address, self.min_version, self.max_version, self.owner_type
        )
    }
}

/// One entry of a special group's or multihomed record's address list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct AddressPair {
    /// The WINS server that owns this address.
    pub owner: Ipv4Addr,
    pub address: Ipv4Addr,
}

// ---------------------------------------------------------------------------
// Lists: views over validated bytes, or caller-provided slices

macro_rules! fixed_list {
    ($(#[$doc:meta])* $name:ident, $iter:ident, $item:ty, $len:expr) => {
        $(#[$doc])*
        #[derive(Clone, Copy)]
        pub enum $name<'a> {
            /// `count` entries packed in `bytes`, validated when parsed.
            Wire { bytes: &'a [u8], count: u32 },
            /// Entries given by the caller.
            Slice(&'a [$item]),
        }

        impl<'a> $name<'a> {
            pub const EMPTY: $name<'static> = $name::Slice(&[]);

            pub fn iter(&self) -> $iter<'a> {
                match *self {
                    $name::Wire { bytes, count } => $iter::Wire {
                        chunks: bytes.chunks_exact($len),
                        left: count,
                    },
                    $name::Slice(s) => $iter::Slice(s.iter()),
                }
            }

            /// Number of entries (for a hand-built `Wire`, those the bytes hold).
            pub fn len(&self) -> usize {
                match *self {
                    $name::Wire { bytes, count } => (count as usize).min(bytes.len() / $len),
                    $name::Slice(s) => s.len(),
                }
            }

            pub fn is_empty(&self) -> bool {
                self.len() == 0
            }
        }

        /// Iterator over the entries of the list.
        pub enum $iter<'a> {
            Wire {
                chunks: core::slice::ChunksExact<'a, u8>,
                left: u32,
            },
            Slice(core::slice::Iter<'a, $item>),
        }

        impl Iterator for $iter<'_> {
            type Item = $item;
            fn next(&mut self) -> Option<$item> {
                match self {
                    $iter::Wire { chunks, left } => {
                        if *left == 0 {
                            return None;
                        }
                        *left -= 1;
                        chunks.next().map(<$item>::read)
                    }
                    $iter::Slice(it) => it.next().copied(),
                }
            }
        }

        impl PartialEq for $name<'_> {
            fn eq(&self, other: &Self) -> bool {
                self.iter().eq(other.iter())
            }
        }
        impl Eq for $name<'_> {}

        impl fmt::Debug for $name<'_> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_list().entries(self.iter()).finish()
            }
        }
    };
}

impl AddressPair {
    fn read(b: &[u8]) -> Self {
        AddressPair {
            owner: ipv4(b, field::PAIR_OWNER),
            address: ipv4(b, field::PAIR_ADDRESS),
        }
    }
}

fixed_list!(
    /// The owners of an owner-version map or update notification.
    Owners,
    OwnerIter,
    OwnerRecord,
    field::OWNER_LEN
);

fixed_list!(
    /// The (owner, address) pairs of a special group or multihomed record.
    AddressList,
    AddressIter,
    AddressPair,
    field::PAIR_LEN
);

/// Reads a little-endian count and checks `count * unit` bytes follow.
fn read_count(r: &mut Reader<'_>, unit: usize, le: bool, tail: usize) -> Result<u32> {
    let at = r.pos;
    let count = if le { r.u32_le()? } else { r.u32()? };
    let needed = (count as u64) * (unit as u64) + tail as u64;
    if needed > r.remaining() as u64 {
        return Err(Error::new(ErrorKind::BadCount(count), at));
    }
    Ok(count)
}

// ---------------------------------------------------------------------------
// Name records

/// The name of a name record.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub enum RecordName<'a> {
    /// The usual form: 16-byte name (the 0x1B swap undone) and the scope as
    /// the dotted text between the 16th byte and the final NUL (often empty).
    Netbios { name: NetbiosName, scope: &'a [u8] },
    /// A name buffer of 1 to 16 bytes, kept as received. Samba reads it as a
    /// name without suffix (type 0x00) up to the first NUL.
    Short(&'a [u8]),
}

impl<'a> RecordName<'a> {
    /// A name without scope.
    pub const fn new(name: NetbiosName) -> Self {
        RecordName::Netbios { name, scope: &[] }
    }

    /// The NetBIOS name, if this is the usual form.
    pub fn netbios_name(&self) -> Option<&NetbiosName> {
        match self {
            RecordName::Netbios { name, .. } => Some(name),
            RecordName::Short(_) => None,
        }
    }

    /// The scope bytes (empty for no scope or a short name).
    pub fn scope(&self) -> &'a [u8] {
        match *self {
            RecordName::Netbios { scope, .. } => scope,
            RecordName::Short(_) => &[],
        }
    }

    /// The scope as text, if it is UTF-8.
    pub fn scope_str(&self) -> Option<&'a str> {
        core::str::from_utf8(self.scope()).ok()
    }

    /// Length of the name buffer on the wire (the name length field).
    pub fn wire_len(&self) -> usize {
        match self {
            RecordName::Netbios { scope, .. } => 16 + scope.len() + 1,
            RecordName::Short(b) => b.len(),
        }
    }

    /// Bytes after the name buffer: up to the next multiple of 4, or 4 when
    /// it already is one (Windows does this; Samba follows).
    fn padding(&self) -> usize {
        4 - self.wire_len() % 4
    }

    fn check(&self) -> Result<()> {
        match self {
            RecordName::Netbios { name, scope } => {
                if scope.len() > MAX_SCOPE_LEN {
                    return Err(Error::new(
                        ErrorKind::BadRecordNameLength(self.wire_len() as u32),
                        0,
                    ));
                }
                let b = name.as_bytes();
                if b[0] == 0x1b && b[15] != 0x1b {
                    return Err(Error::new(
                        ErrorKind::BadValue(
                            "name starting with byte 0x1b reads back as a <1b> name",
                        ),
                        0,
                    ));
                }
            }
            RecordName::Short(b) => {
                if b.is_empty() || b.len() > 16 {
                    return Err(Error::new(
                        ErrorKind::BadRecordNameLength(b.len() as u32),
                        0,
                    ));
                }
            }
        }
        Ok(())
    }

    fn parse(r: &mut Reader<'a>) -> Result<Self> {
        let at = r.pos;
        let len = r.u32()?;
        if len == 0 || len as usize > MAX_RECORD_NAME_LEN {
            return Err(Error::new(ErrorKind::BadRecordNameLength(len), at));
        }
        let start = r.pos;
        let buf = r.take(len as usize)?;
        let name = if buf.len() < 17 {
            RecordName::Short(buf)
        } else {
            if buf[buf.len() - 1] != 0 {
                return Err(Error::new(
                    ErrorKind::BadValue("name record name does not end in a NUL byte"),
                    start + buf.len() - 1,
                ));
            }
            let mut bytes = [0u8; 16];
            bytes.copy_from_slice(&buf[..16]);
            if bytes[0] == 0x1b {
                bytes[0] = bytes[15];
                bytes[15] = 0x1b;
            }
            RecordName::Netbios {
                name: NetbiosName::from_bytes(bytes),
                scope: &buf[16..buf.len() - 1],
            }
        };
        r.take(name.padding())?;
        Ok(name)
    }

    fn write(&self, w: &mut Writer<'_>) {
        w.u32(self.wire_len() as u32);
        match self {
            RecordName::Netbios { name, scope } => {
                let mut bytes = *name.as_bytes();
                if bytes[15] == 0x1b {
                    bytes[15] = bytes[0];
                    bytes[0] = 0x1b;
                }
                w.bytes(&bytes);
                w.bytes(scope);
                w.zeros(1);
            }
            RecordName::Short(b) => w.bytes(b),
        }
        w.zeros(self.padding());
    }
}

impl fmt::Display for RecordName<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RecordName::Netbios { name, scope } => {
                write!(f, "{name}")?;
                if !scope.is_empty() {
                    f.write_str(".")?;
                    write_escaped(f, scope)?;
                }
                Ok(())
            }
            RecordName::Short(b) => {
                f.write_str("short \"")?;
                write_escaped(f, b)?;
                f.write_str("\"")
            }
        }
    }
}

impl fmt::Debug for RecordName<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "\"{self}\"")
    }
}

/// The addresses of a name record: one address for unique names and normal
/// groups, a list for special groups and multihomed names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Addresses<'a> {
    Single(Ipv4Addr),
    List(AddressList<'a>),
}

/// One name record of a name records response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NameRecord<'a> {
    pub name: RecordName<'a>,
    pub flags: Flags,
    /// The group word, little-endian on the wire (MS-WINSRA: a group byte and
    /// 3 reserved bytes): 1 for normal and special groups, else 0.
    pub group: u32,
    /// Version number (high word first on the wire).
    pub version: u64,
    /// Must be `List` exactly when `flags.record_type().has_address_list()`.
    pub addresses: Addresses<'a>,
    /// The last word; Samba sends [`RECORD_RESERVED`].
    pub reserved: u32,
}

impl<'a> NameRecord<'a> {
    /// A record as Samba builds it: group word from the type, reserved word
    /// 255.255.255.255.
    pub fn new(name: RecordName<'a>, flags: Flags, version: u64, addresses: Addresses<'a>) -> Self {
        NameRecord {
            name,
            flags,
            group: flags.record_type().is_group() as u32,
            version,
            addresses,
            reserved: RECORD_RESERVED,
        }
    }

    fn parse(r: &mut Reader<'a>) -> Result<Self> {
        let name = RecordName::parse(r)?;
        let flags = Flags(r.u32()?);
        let group = r.u32_le()?;
        let version = r.u64()?;
        let addresses = if flags.record_type().has_address_list() {
            let count = read_count(r, field::PAIR_LEN, true, 4)?;
            let bytes = r.take(count as usize * field::PAIR_LEN)?;
            Addresses::List(AddressList::Wire { bytes, count })
        } else {
            Addresses::Single(r.ipv4()?)
        };
        let reserved = r.u32()?;
        Ok(NameRecord {
            name,
            flags,
            group,
            version,
            addresses,
            reserved,
        })
    }

    /// Bytes this record takes on the wire.
    pub fn buffer_len(&self) -> usize {
        let addr = match &self.addresses {
            Addresses::Single(_) => 4,
            Addresses::List(l) => 4 + l.iter().count() * field::PAIR_LEN,
        };
        4 + self.name.wire_len() + self.name.padding() + 4 + 4 + 8 + addr + 4
    }

    fn check(&self) -> Result<()> {
        self.name.check()?;
        let list = matches!(self.addresses, Addresses::List(_));
        if list != self.flags.record_type().has_address_list() {
            return Err(Error::new(
                ErrorKind::BadValue("address form does not match the record type"),
                0,
            ));
        }
        if let Addresses::List(l) = &self.addresses {
            if l.iter().count() > u32::MAX as usize {
                return Err(Error::new(ErrorKind::BadCount(u32::MAX), 0));
            }
        }
        Ok(())
    }

    fn write(&self, w: &mut Writer<'_>) {
        self.name.write(w);
        w.u32(self.flags.0);
        w.u32_le(self.group);
        w.u64(self.version);
        match &self.addresses {
            Addresses::Single(a) => w.ipv4(*a),
            Addresses::List(l) => {
                w.u32_le(l.iter().count() as u32);
                for p in l.iter() {
                    w.ipv4(p.owner);
                    w.ipv4(p.address);
                }
            }
        }
        w.u32(self.reserved);
    }
}

impl fmt::Display for NameRecord<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "name: {}", self.name)?;
        writeln!(f, "flags: {}", self.flags)?;
        writeln!(f, "group: {}", self.group)?;
        writeln!(f, "version: {}", self.version)?;
        match &self.addresses {
            Addresses::Single(a) => writeln!(f, "address: {a}")?,
            Addresses::List(l) => {
                writeln!(f, "addresses: {}", l.len())?;
                for (i, p) in l.iter().enumerate() {
                    writeln!(f, "  [{i}] {} (owner {})", p.address, p.owner)?;
                }
            }
        }
        write!(f, "reserved: 0x{:08x}", self.reserved)
    }
}

/// The records of a name records response.
#[derive(Clone, Copy)]
pub enum NameRecords<'a> {
    /// `count` records packed in `bytes`, validated when parsed.
    Wire { bytes: &'a [u8], count: u32 },
    /// Records given by the caller.
    Slice(&'a [NameRecord<'a>]),
}

impl<'a> NameRecords<'a> {
    pub const EMPTY: NameRecords<'static> = NameRecords::Slice(&[]);

    pub fn iter(&self) -> NameRecordIter<'a> {
        match *self {
            NameRecords::Wire { bytes, count } => NameRecordIter(RecordIterInner::Wire {
                reader: Reader { buf: bytes, pos: 0 },
                left: count,
            }),
            NameRecords::Slice(s) => NameRecordIter(RecordIterInner::Slice(s.iter())),
        }
    }

    /// Number of records (for a hand-built `Wire`, walks the bytes).
    pub fn len(&self) -> usize {
        match *self {
            NameRecords::Wire { .. } => self.iter().count(),
            NameRecords::Slice(s) => s.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.iter().next().is_none()
    }
}

/// Iterator over [`NameRecords`].
pub struct NameRecordIter<'a>(RecordIterInner<'a>);

enum RecordIterInner<'a> {
    Wire { reader: Reader<'a>, left: u32 },
    Slice(core::slice::Iter<'a, NameRecord<'a>>),
}

impl<'a> Iterator for NameRecordIter<'a> {
    type Item = NameRecord<'a>;
    fn next(&mut self) -> Option<NameRecord<'a>> {
        match &mut self.0 {
            RecordIterInner::Wire { reader, left } => {
                if *left == 0 {
                    return None;
                }
                // Validated at parse time; a hand-built view that does not
                // parse simply ends the iteration.
                match NameRecord::parse(reader) {
                    Ok(rec) => {
                        *left -= 1;
                        Some(rec)
                    }
                    Err(_) => {
                        *left = 0;
                        None
                    }
                }
            }
            RecordIterInner::Slice(it) => it.next().copied(),
        }
    }
}

impl PartialEq for NameRecords<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.iter().eq(other.iter())
    }
}
impl Eq for NameRecords<'_> {}

impl fmt::Debug for NameRecords<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

// ---------------------------------------------------------------------------
// Messages

/// An owner-version map: the body of a map response and of update
/// notifications.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OwnerTable<'a> {
    pub owners: Owners<'a>,
    /// The WINS server that sent the table.
    pub initiator: Ipv4Addr,
}

impl<'a> OwnerTable<'a> {
    fn parse(r: &mut Reader<'a>) -> Result<Self> {
        let count = read_count(r, field::OWNER_LEN, false, 4)?;
        let bytes = r.take(count as usize * field::OWNER_LEN)?;
        let initiator = r.ipv4()?;
        Ok(OwnerTable {
            owners: Owners::Wire { bytes, count },
            initiator,
        })
    }

    fn buffer_len(&self) -> usize {
        4 + self.owners.iter().count() * field::OWNER_LEN + 4
    }

    fn write(&self, w: &mut Writer<'_>) {
        w.u32(self.owners.iter().count() as u32);
        for o in self.owners.iter() {
            o.write(w);
        }
        w.ipv4(self.initiator);
    }
}

/// The body of a replication message (message type 3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Replication<'a> {
    /// Opcode 0: no body.
    OwnerVersionMapRequest,
    /// Opcode 1.
    OwnerVersionMapResponse(OwnerTable<'a>),
    /// Opcode 2: the owner and version range wanted (max 0 means "all").
    NameRecordsRequest(OwnerRecord),
    /// Opcode 3.
    NameRecordsResponse(NameRecords<'a>),
    /// Opcodes 4, 5, 8, 9.
    UpdateNotification {
        kind: UpdateKind,
        table: OwnerTable<'a>,
    },
}

impl<'a> Replication<'a> {
    pub fn opcode(&self) -> ReplicationOpcode {
        match self {
            Replication::OwnerVersionMapRequest => ReplicationOpcode::OwnerVersionMapRequest,
            Replication::OwnerVersionMapResponse(_) => ReplicationOpcode::OwnerVersionMapResponse,
            Replication::NameRecordsRequest(_) => ReplicationOpcode::NameRecordsRequest,
            Replication::NameRecordsResponse(_) => ReplicationOpcode::NameRecordsResponse,
            Replication::UpdateNotification { kind, .. } => kind.opcode(),
        }
    }

    fn parse(r: &mut Reader<'a>) -> Result<Self> {
        let at = field::REPL_OPCODE.start;
        debug_assert_eq!(r.pos, at);
        let raw = r.u32()?;
        let op = ReplicationOpcode::from_u32(raw)
            .ok_or(Error::new(ErrorKind::BadReplicationOpcode(raw), at))?;
        let kind = match op {
            ReplicationOpcode::OwnerVersionMapRequest => {
                return Ok(Replication::OwnerVersionMapRequest)
            }
            ReplicationOpcode::OwnerVersionMapResponse => {
                return Ok(Replication::OwnerVersionMapResponse(OwnerTable::parse(r)?))
            }
            ReplicationOpcode::NameRecordsRequest => {
                let b = r.take(field::OWNER_LEN)?;
                return Ok(Replication::NameRecordsRequest(OwnerRecord::read(b)));
            }
            ReplicationOpcode::NameRecordsResponse => {
                let count = read_count(r, field::RECORD_MIN_LEN, false, 0)?;
                let start = r.pos;
                for _ in 0..count {
                    NameRecord::parse(r)?;
                }
                return Ok(Replication::NameRecordsResponse(NameRecords::Wire {
                    bytes: &r.buf[start..r.pos],
                    count,
                }));
            }
            ReplicationOpcode::Update => UpdateKind::Update,
            ReplicationOpcode::UpdatePropagate => UpdateKind::UpdatePropagate,
            ReplicationOpcode::Inform => UpdateKind::Inform,
            ReplicationOpcode::InformPropagate => UpdateKind::InformPropagate,
        };
        Ok(Replication::UpdateNotification {
            kind,
            table: OwnerTable::parse(r)?,
        })
    }

    fn buffer_len(&self) -> usize {
        4 + match self {
            Replication::OwnerVersionMapRequest => 0,
            Replication::OwnerVersionMapResponse(t) => t.buffer_len(),
            Replication::NameRecordsRequest(_) => field::OWNER_LEN,
            Replication::NameRecordsResponse(recs) => {
                4 + recs.iter().map(|r| r.buffer_len()).sum::<usize>()
            }
            Replication::UpdateNotification { table, .. } => table.buffer_len(),
        }
    }

    fn check(&self) -> Result<()> {
        if let Replication::NameRecordsResponse(recs) = self {
            for r in recs.iter() {
                r.check()?;
            }
        }
        Ok(())
    }

    fn write(&self, w: &mut Writer<'_>) {
        w.u32(self.opcode() as u32);
        match self {
            Replication::OwnerVersionMapRequest => {}
            Replication::OwnerVersionMapResponse(t) => t.write(w),
            Replication::NameRecordsRequest(o) => o.write(w),
            Replication::NameRecordsResponse(recs) => {
                w.u32(recs.iter().count() as u32);
                for r in recs.iter() {
                    r.write(w);
                }
            }
            Replication::UpdateNotification { table, .. } => table.write(w),
        }
    }
}

/// The message carried by a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Message<'a> {
    StartAssociation(Start),
    StartAssociationResponse(Start),
    StopAssociation(Stop),
    Replication(Replication<'a>),
}

impl Message<'_> {
    pub fn message_type(&self) -> MessageType {
        match self {
            Message::StartAssociation(_) => MessageType::StartAssociation,
            Message::StartAssociationResponse(_) => MessageType::StartAssociationResponse,
            Message::StopAssociation(_) => MessageType::StopAssociation,
            Message::Replication(_) => MessageType::Replication,
        }
    }

    /// Body bytes after the message type, padding excluded.
    fn buffer_len(&self) -> usize {
        match self {
            Message::StartAssociation(_) | Message::StartAssociationResponse(_) => {
                field::START_END - field::BODY
            }
            Message::StopAssociation(_) => field::STOP_END - field::BODY,
            Message::Replication(r) => r.buffer_len(),
        }
    }
}

/// How strict [`Repr::parse_with`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParseOptions {
    /// Reject frames whose opcode word lacks [`OPCODE_BITS`] (Samba's client
    /// and Windows always set them; MS-WINSRA says the word is ignored).
    pub require_opcode_bits: bool,
}

impl Default for ParseOptions {
    fn default() -> Self {
        ParseOptions {
            require_opcode_bits: true,
        }
    }
}

/// A parsed WINS replication frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Repr<'a> {
    /// The header's opcode (reserved) word, kept as received.
    pub opcode: u32,
    /// The destination association handle (0 in a start request).
    pub assoc_ctx: u32,
    pub message: Message<'a>,
    /// Bytes after the message body up to the end of the frame (ignored on
    /// receipt, written as zeros).
    pub padding: u32,
}

impl<'a> Repr<'a> {
    /// A start association request as Samba and Windows send it.
    pub fn start_association(sender_ctx: u32) -> Self {
        Repr {
            opcode: OPCODE_BITS,
            assoc_ctx: 0,
            message: Message::StartAssociation(Start::new(sender_ctx)),
            padding: START_PADDING,
        }
    }

    /// A start association response as Samba and Windows send it.
    pub fn start_association_response(dest_ctx: u32, sender_ctx: u32) -> Self {
        Repr {
            opcode: OPCODE_BITS,
            assoc_ctx: dest_ctx,
            message: Message::StartAssociationResponse(Start::new(sender_ctx)),
            padding: START_PADDING,
        }
    }

    /// A stop association message as Windows sends it (24 reserved bytes).
    pub fn stop_association(dest_ctx: u32, reason: u32) -> Self {
        Repr {
            opcode: OPCODE_BITS,
            assoc_ctx: dest_ctx,
            message: Message::StopAssociation(Stop { reason }),
            padding: STOP_PADDING,
        }
    }

    /// A replication message without padding.
    pub fn replication(dest_ctx: u32, replication: Replication<'a>) -> Self {
        Repr {
            opcode: OPCODE_BITS,
            assoc_ctx: dest_ctx,
            message: Message::Replication(replication),
            padding: 0,
        }
    }

    /// Parses a checked frame, requiring the 0x7800 opcode bits.
    pub fn parse<T: AsRef<[u8]> + ?Sized>(frame: &Frame<&'a T>) -> Result<Self> {
        Self::parse_with(frame, ParseOptions::default())
    }

    /// Parses a checked frame with the given options.
    pub fn parse_with<T: AsRef<[u8]> + ?Sized>(
        frame: &Frame<&'a T>,
        options: ParseOptions,
    ) -> Result<Self> {
        let bytes: &'a [u8] = T::as_ref(frame.buffer);
        Self::parse_bytes(bytes, options)
    }

    /// Parses the frame at the start of `bytes` (a shorthand for
    /// `Frame::new_checked` then `parse`).
    pub fn parse_bytes(bytes: &'a [u8], options: ParseOptions) -> Result<Self> {
        let frame = Frame::new_checked(bytes)?;
        let buf: &'a [u8] = &bytes[..frame.frame_len()];
        let opcode = frame.opcode();
        if options.require_opcode_bits && opcode & OPCODE_BITS != OPCODE_BITS {
            return Err(Error::new(
                ErrorKind::BadHeaderOpcode(opcode),
                field::OPCODE.start,
            ));
        }
        let raw_type = frame.message_type();
        let mtype = MessageType::from_u32(raw_type).ok_or(Error::new(
            ErrorKind::BadMessageType(raw_type),
            field::MESSAGE_TYPE.start,
        ))?;
        let mut r = Reader {
            buf,
            pos: field::BODY,
        };
        let message = match mtype {
            MessageType::StartAssociation | MessageType::StartAssociationResponse => {
                r.take(field::START_END - field::BODY)?;
                let start = Start {
                    assoc_ctx: be32(buf, field::START_ASSOC_CTX),
                    major_version: be16(buf, field::START_MAJOR),
                    minor_version: be16(buf, field::START_MINOR),
                };
                if mtype == MessageType::StartAssociation {
                    Message::StartAssociation(start)
                } else {
                    Message::StartAssociationResponse(start)
                }
            }
            MessageType::StopAssociation => {
                r.take(field::STOP_END - field::BODY)?;
                Message::StopAssociation(Stop {
                    reason: be32(buf, field::STOP_REASON),
                })
            }
            MessageType::Replication => Message::Replication(Replication::parse(&mut r)?),
        };
        Ok(Repr {
            opcode,
            assoc_ctx: frame.assoc_ctx(),
            message,
            padding: r.remaining() as u32,
        })
    }

    /// Bytes of the whole frame, length word included.
    pub fn buffer_len(&self) -> usize {
        field::BODY + self.message.buffer_len() + self.padding as usize
    }

    /// Writes the frame at the start of `frame`'s buffer, which must hold at
    /// least `buffer_len()` bytes. Returns the bytes written.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, frame: &mut Frame<T>) -> Result<usize> {
        let needed = self.buffer_len();
        let buf = frame.buffer.as_mut();
        if buf.len() < needed {
            return Err(too_small(needed, buf.len()));
        }
        if needed - LENGTH_LEN > u32::MAX as usize {
            return Err(Error::new(ErrorKind::BadFrameLength(u32::MAX), 0));
        }
        if let Message::Replication(r) = &self.message {
            r.check()?;
        }
        let mut w = Writer { buf, pos: 0 };
        w.u32((needed - LENGTH_LEN) as u32);
        w.u32(self.opcode);
        w.u32(self.assoc_ctx);
        w.u32(self.message.message_type() as u32);
        match &self.message {
            Message::StartAssociation(s) | Message::StartAssociationResponse(s) => {
                w.u32(s.assoc_ctx);
                w.bytes(&s.major_version.to_be_bytes());
                w.bytes(&s.minor_version.to_be_bytes());
            }
            Message::StopAssociation(s) => w.u32(s.reason),
            Message::Replication(r) => r.write(&mut w),
        }
        w.zeros(self.padding as usize);
        debug_assert_eq!(w.pos, needed);
        Ok(w.pos)
    }

    /// Writes the frame at the start of a byte slice.
    pub fn emit_bytes(&self, buf: &mut [u8]) -> Result<usize> {
        self.emit(&mut Frame::new_unchecked(buf))
    }

    /// The frame as a new vector.
    pub fn to_vec(&self) -> Result<Vec<u8>> {
        let mut v = vec![0; self.buffer_len()];
        self.emit_bytes(&mut v)?;
        Ok(v)
    }
}

fn write_table(f: &mut fmt::Formatter<'_>, t: &OwnerTable<'_>) -> fmt::Result {
    writeln!(f, "    owners: {}", t.owners.len())?;
    for (i, o) in t.owners.iter().enumerate() {
        writeln!(f, "      [{i}] {o}")?;
    }
    writeln!(f, "    initiator: {}", t.initiator)
}

impl fmt::Display for Repr<'_> {
    /// One block per frame, one field per line, like a dissector.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "WINS replication frame, length {}",
            self.buffer_len() - LENGTH_LEN
        )?;
        writeln!(f, "  opcode: 0x{:08x}", self.opcode)?;
        writeln!(f, "  assoc_ctx: 0x{:08x}", self.assoc_ctx)?;
        match &self.message {
            Message::StartAssociation(s) | Message::StartAssociationResponse(s) => {
                let what = if matches!(self.message, Message::StartAssociation(_)) {
                    "start association (0)"
                } else {
                    "start association response (1)"
                };
                writeln!(f, "  message: {what}")?;
                writeln!(f, "    sender assoc_ctx: 0x{:08x}", s.assoc_ctx)?;
                writeln!(f, "    version: {}.{}", s.major_version, s.minor_version)?;
            }
            Message::StopAssociation(s) => {
                writeln!(f, "  message: stop association (2)")?;
                let why = match s.reason {
                    0 => " (normal)",
                    4 => " (error)",
                    _ => "",
                };
                writeln!(f, "    reason: {}{why}", s.reason)?;
            }
            Message::Replication(r) => {
                writeln!(f, "  message: replication (3)")?;
                let op = r.opcode();
                writeln!(f, "    opcode: {} ({})", op as u32, op.name())?;
                match r {
                    Replication::OwnerVersionMapRequest => {}
                    Replication::OwnerVersionMapResponse(t) => write_table(f, t)?,
                    Replication::UpdateNotification { table, .. } => write_table(f, table)?,
                    Replication::NameRecordsRequest(o) => writeln!(f, "    {o}")?,
                    Replication::NameRecordsResponse(recs) => {
                        writeln!(f, "    records: {}", recs.len())?;
                        for (i, rec) in recs.iter().enumerate() {
                            writeln!(f, "      [{i}]")?;
                            for line in rec.to_string().lines() {
                                writeln!(f, "        {line}")?;
                            }
                        }
                    }
                }
            }
        }
        write!(f, "  padding: {} bytes", self.padding)
    }
}

// ---------------------------------------------------------------------------
// Owned form, for building messages and for fuzzing

/// An owned [`RecordName`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OwnedRecordName {
    Netbios { name: NetbiosName, scope: Vec<u8> },
    Short(Vec<u8>),
}

/// An owned name record, convertible to [`NameRecord`] with [`as_record`](Self::as_record).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnedNameRecord {
    pub name: OwnedRecordName,
    pub flags: Flags,
    pub group: u32,
    pub version: u64,
    /// Ignored (a single address is `addresses[0]` or 0.0.0.0) unless the
    /// record type has an address list.
    pub addresses: Vec<AddressPair>,
    pub single: Ipv4Addr,
    pub reserved: u32,
}

impl OwnedNameRecord {
    pub fn from_record(r: &NameRecord<'_>) -> Self {
        let (addresses, single) = match &r.addresses {
            Addresses::Single(a) => (Vec::new(), *a),
            Addresses::List(l) => (l.iter().collect(), Ipv4Addr::UNSPECIFIED),
        };
        OwnedNameRecord {
            name: match r.name {
                RecordName::Netbios { name, scope } => OwnedRecordName::Netbios {
                    name,
                    scope: scope.to_vec(),
                },
                RecordName::Short(b) => OwnedRecordName::Short(b.to_vec()),
            },
            flags: r.flags,
            group: r.group,
            version: r.version,
            addresses,
            single,
            reserved: r.reserved,
        }
    }

    pub fn as_record(&self) -> NameRecord<'_> {
        NameRecord {
            name: match &self.name {
                OwnedRecordName::Netbios { name, scope } => {
                    RecordName::Netbios { name: *name, scope }
                }
                OwnedRecordName::Short(b) => RecordName::Short(b),
            },
            flags: self.flags,
            group: self.group,
            version: self.version,
            addresses: if self.flags.record_type().has_address_list() {
                Addresses::List(AddressList::Slice(&self.addresses))
            } else {
                Addresses::Single(self.single)
            },
            reserved: self.reserved,
        }
    }
}

/// An owned replication body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OwnedReplication {
    OwnerVersionMapRequest,
    OwnerVersionMapResponse {
        owners: Vec<OwnerRecord>,
        initiator: Ipv4Addr,
    },
    NameRecordsRequest(OwnerRecord),
    NameRecordsResponse(Vec<OwnedNameRecord>),
    UpdateNotification {
        kind: UpdateKind,
        owners: Vec<OwnerRecord>,
        initiator: Ipv4Addr,
    },
}

/// An owned message, convertible to [`Repr`] (a `NameRecordsResponse` needs
/// the intermediate record slice; see [`OwnedRepr::with_repr`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OwnedMessage {
    StartAssociation(Start),
    StartAssociationResponse(Start),
    StopAssociation(Stop),
    Replication(OwnedReplication),
}

/// An owned frame: what the fuzz targets and tests generate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnedRepr {
    pub opcode: u32,
    pub assoc_ctx: u32,
    pub message: OwnedMessage,
    pub padding: u32,
}

impl OwnedRepr {
    /// Copies a parsed frame.
    pub fn from_repr(r: &Repr<'_>) -> Self {
        let message = match &r.message {
            Message::StartAssociation(s) => OwnedMessage::StartAssociation(*s),
            Message::StartAssociationResponse(s) => OwnedMessage::StartAssociationResponse(*s),
            Message::StopAssociation(s) => OwnedMessage::StopAssociation(*s),
            Message::Replication(rep) => OwnedMessage::Replication(match rep {
                Replication::OwnerVersionMapRequest => OwnedReplication::OwnerVersionMapRequest,
                Replication::OwnerVersionMapResponse(t) => {
                    OwnedReplication::OwnerVersionMapResponse {
                        owners: t.owners.iter().collect(),
                        initiator: t.initiator,
                    }
                }
                Replication::NameRecordsRequest(o) => OwnedReplication::NameRecordsRequest(*o),
                Replication::NameRecordsResponse(recs) => OwnedReplication::NameRecordsResponse(
                    recs.iter()
                        .map(|x| OwnedNameRecord::from_record(&x))
                        .collect(),
                ),
                Replication::UpdateNotification { kind, table } => {
                    OwnedReplication::UpdateNotification {
                        kind: *kind,
                        owners: table.owners.iter().collect(),
                        initiator: table.initiator,
                    }
                }
            }),
        };
        OwnedRepr {
            opcode: r.opcode,
            assoc_ctx: r.assoc_ctx,
            message,
            padding: r.padding,
        }
    }

    /// Calls `f` with the borrowed [`Repr`] of this frame.
    pub fn with_repr<R>(&self, f: impl FnOnce(&Repr<'_>) -> R) -> R {
        let records: Vec<NameRecord<'_>> = match &self.message {
            OwnedMessage::Replication(OwnedReplication::NameRecordsResponse(v)) => {
                v.iter().map(OwnedNameRecord::as_record).collect()
            }
            _ => Vec::new(),
        };
        let message = match &self.message {
            OwnedMessage::StartAssociation(s) => Message::StartAssociation(*s),
            OwnedMessage::StartAssociationResponse(s) => Message::StartAssociationResponse(*s),
            OwnedMessage::StopAssociation(s) => Message::StopAssociation(*s),
            OwnedMessage::Replication(rep) => Message::Replication(match rep {
                OwnedReplication::OwnerVersionMapRequest => Replication::OwnerVersionMapRequest,
                OwnedReplication::OwnerVersionMapResponse { owners, initiator } => {
                    Replication::OwnerVersionMapResponse(OwnerTable {
                        owners: Owners::Slice(owners),
                        initiator: *initiator,
                    })
                }
                OwnedReplication::NameRecordsRequest(o) => Replication::NameRecordsRequest(*o),
                OwnedReplication::NameRecordsResponse(_) => {
                    Replication::NameRecordsResponse(NameRecords::Slice(&records))
                }
                OwnedReplication::UpdateNotification {
                    kind,
                    owners,
                    initiator,
                } => Replication::UpdateNotification {
                    kind: *kind,
                    table: OwnerTable {
                        owners: Owners::Slice(owners),
                        initiator: *initiator,
                    },
                },
            }),
        };
        f(&Repr {
            opcode: self.opcode,
            assoc_ctx: self.assoc_ctx,
            message,
            padding: self.padding,
        })
    }

    /// The encoded frame.
    pub fn to_vec(&self) -> Result<Vec<u8>> {
        self.with_repr(|r| r.to_vec())
    }
}

#[cfg(feature = "arbitrary")]
mod arb {
    use super::*;
    use arbitrary::{Arbitrary, Result, Unstructured};

    fn owners(u: &mut Unstructured<'_>) -> Result<Vec<OwnerRecord>> {
        let n = u.int_in_range(0..=8)?;
        (0..n).map(|_| OwnerRecord::arbitrary(u)).collect()
    }

    impl<'a> Arbitrary<'a> for OwnedNameRecord {
        fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
            let name = if u.ratio(1, 8)? {
                let n = u.int_in_range(1..=16)?;
                OwnedRecordName::Short(u.bytes(n)?.to_vec())
            } else {
                let mut b = <[u8; 16]>::arbitrary(u)?;
                // A leading 0x1b only survives the wire quirk in a <1b> name.
                if b[0] == 0x1b && b[15] != 0x1b {
                    b[0] = b' ';
                }
                let n = u.int_in_range(0..=MAX_SCOPE_LEN)?;
                OwnedRecordName::Netbios {
                    name: NetbiosName::from_bytes(b),
                    scope: u.bytes(n.min(u.len()))?.to_vec(),
                }
            };
            let flags = Flags::arbitrary(u)?;
            let n = u.int_in_range(0..=4)?;
            let addresses = (0..n)
                .map(|_| AddressPair::arbitrary(u))
                .collect::<Result<Vec<_>>>()?;
            let has_list = flags.record_type().has_address_list();
            Ok(OwnedNameRecord {
                name,
                flags,
                group: u32::arbitrary(u)?,
                version: u64::arbitrary(u)?,
                addresses: if has_list { addresses } else { Vec::new() },
                single: if has_list {
                    Ipv4Addr::UNSPECIFIED
                } else {
                    Ipv4Addr::arbitrary(u)?
                },
                reserved: u32::arbitrary(u)?,
            })
        }
    }

    impl<'a> Arbitrary<'a> for OwnedReplication {
        fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
            Ok(match u.int_in_range(0..=4)? {
                0 => OwnedReplication::OwnerVersionMapRequest,
                1 => OwnedReplication::OwnerVersionMapResponse {
                    owners: owners(u)?,
                    initiator: Ipv4Addr::arbitrary(u)?,
                },
                2 => OwnedReplication::NameRecordsRequest(OwnerRecord::arbitrary(u)?),
                3 => {
                    let n = u.int_in_range(0..=6)?;
                    OwnedReplication::NameRecordsResponse(
                        (0..n)
                            .map(|_| OwnedNameRecord::arbitrary(u))
                            .collect::<Result<Vec<_>>>()?,
                    )
                }
                _ => OwnedReplication::UpdateNotification {
                    kind: UpdateKind::arbitrary(u)?,
                    owners: owners(u)?,
                    initiator: Ipv4Addr::arbitrary(u)?,
                },
            })
        }
    }

    impl<'a> Arbitrary<'a> for OwnedMessage {
        fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
            Ok(match u.int_in_range(0..=3)? {
                0 => OwnedMessage::StartAssociation(Start::arbitrary(u)?),
                1 => OwnedMessage::StartAssociationResponse(Start::arbitrary(u)?),
                2 => OwnedMessage::StopAssociation(Stop::arbitrary(u)?),
                _ => OwnedMessage::Replication(OwnedReplication::arbitrary(u)?),
            })
        }
    }

    impl<'a> Arbitrary<'a> for OwnedRepr {
        fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
            Ok(OwnedRepr {
                opcode: u32::arbitrary(u)? | OPCODE_BITS,
                assoc_ctx: u32::arbitrary(u)?,
                message: OwnedMessage::arbitrary(u)?,
                padding: u.int_in_range(0..=32)?,
            })
        }
    }
}

// ---------------------------------------------------------------------------
// Stream splitting

/// Cuts a TCP byte stream into frames.
///
/// Push bytes as they arrive, then pop frames until `next_frame` returns
/// `None`. The buffer holds the unread bytes: at most one partial frame
/// (bounded by the maximum frame length) plus the last push, when frames are
/// popped after every push. A length word of fewer than 12 or more than the
/// maximum is reported once as [`ErrorKind::BadFrameLength`]; the stream
/// cannot be resynchronised after that, and the splitter stays stopped.
#[derive(Debug, Clone)]
pub struct FrameSplitter {
    buf: Vec<u8>,
    /// Start of the unread bytes in `buf`.
    start: usize,
    max_frame_len: u32,
    /// Stream offset of `buf[0]`, for error positions.
    base: u64,
    state: SplitState,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SplitState {
    Running,
    Failed(Error),
    Reported,
}

impl Default for FrameSplitter {
    fn default() -> Self {
        Self::new()
    }
}

impl FrameSplitter {
    /// A splitter with [`DEFAULT_MAX_FRAME_LEN`].
    pub fn new() -> Self {
        Self::with_max_frame_len(DEFAULT_MAX_FRAME_LEN)
    }

    /// A splitter accepting length words up to `max` (at least 12).
    pub fn with_max_frame_len(max: u32) -> Self {
        FrameSplitter {
            buf: Vec::new(),
            start: 0,
            max_frame_len: max.max(HEADER_LEN as u32),
            base: 0,
            state: SplitState::Running,
        }
    }

    pub fn max_frame_len(&self) -> u32 {
        self.max_frame_len
    }

    /// Unread bytes held.
    pub fn buffered(&self) -> usize {
        self.buf.len() - self.start
    }

    /// Whether the stream is stopped by a bad length word.
    pub fn is_failed(&self) -> bool {
        self.state != SplitState::Running
    }

    /// Appends bytes from the stream. After a failure, bytes are dropped.
    pub fn push(&mut self, bytes: &[u8]) {
        if self.is_failed() {
            return;
        }
        if self.start > 0 {
            self.buf.drain(..self.start);
            self.base += self.start as u64;
            self.start = 0;
        }
        // Check the pending length word at once, so that an oversized frame
        // is refused (and its bytes dropped) before any more are buffered.
        self.buf.extend_from_slice(bytes);
        self.check_head();
        if self.is_failed() {
            self.buf = Vec::new();
            self.start = 0;
        }
    }

    fn check_head(&mut self) {
        let unread = &self.buf[self.start..];
        if unread.len() < LENGTH_LEN {
            return;
        }
        let len = be32(unread, field::LENGTH);
        if (len as usize) < HEADER_LEN || len > self.max_frame_len {
            let at = (self.base + self.start as u64).min(usize::MAX as u64) as usize;
            self.state = SplitState::Failed(Error::new(ErrorKind::BadFrameLength(len), at));
        }
    }

    /// The next complete frame (length word included), an error once if the
    /// stream carries a bad length word, or `None` when more bytes are needed.
    pub fn next_frame(&mut self) -> Option<Result<&[u8]>> {
        match self.state {
            SplitState::Reported => return None,
            SplitState::Failed(e) => {
                self.state = SplitState::Reported;
                return Some(Err(e));
            }
            SplitState::Running => {}
        }
        self.check_head();
        if let SplitState::Failed(e) = self.state {
            self.state = SplitState::Reported;
            self.buf = Vec::new();
            self.start = 0;
            return Some(Err(e));
        }
        let unread = &self.buf[self.start..];
        if unread.len() < LENGTH_LEN {
            return None;
        }
        let total = be32(unread, field::LENGTH) as usize + LENGTH_LEN;
        if unread.len() < total {
            return None;
        }
        let s = self.start;
        self.start += total;
        Some(Ok(&self.buf[s..s + total]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use quickcheck::{Arbitrary, Gen, QuickCheck, TestResult};

    fn ip(s: &str) -> Ipv4Addr {
        s.parse().unwrap()
    }

    fn parse(bytes: &[u8]) -> Result<Repr<'_>> {
        Repr::parse_bytes(bytes, ParseOptions::default())
    }

    fn roundtrip(r: &Repr<'_>) {
        let bytes = r.to_vec().unwrap();
        assert_eq!(bytes.len(), r.buffer_len());
        let back = parse(&bytes).unwrap();
        assert_eq!(&back, r);
    }

    /// Header bytes: length, opcode 0x7800, handle, type.
    fn header(len: u32, ctx: u32, mtype: u32) -> Vec<u8> {
        let mut v = Vec::new();
        v.extend_from_slice(&len.to_be_bytes());
        v.extend_from_slice(&[0, 0, 0x78, 0]);
        v.extend_from_slice(&ctx.to_be_bytes());
        v.extend_from_slice(&mtype.to_be_bytes());
        v
    }

    #[test]
    fn start_association_as_samba_sends_it() {
        // Length 41, opcode 0x7800, handle 0, type 0, sender 0x12345678,
        // version 2.5, 21 zero bytes.
        let mut b = vec![0, 0, 0, 41, 0, 0, 0x78, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        b.extend_from_slice(&[0x12, 0x34, 0x56, 0x78, 0, 2, 0, 5]);
        b.extend_from_slice(&[0; 21]);
        assert_eq!(b.len(), 45);
        let f = Frame::new_checked(&b[..]).unwrap();
        assert_eq!(f.length(), 41);
        assert_eq!(f.opcode(), 0x7800);
        assert_eq!(f.assoc_ctx(), 0);
        assert_eq!(f.message_type(), 0);
        assert_eq!(f.body().len(), 29);
        let r = Repr::parse(&f).unwrap();
        assert_eq!(r.opcode, OPCODE_BITS);
        assert_eq!(r.assoc_ctx, 0);
        assert_eq!(
            r.message,
            Message::StartAssociation(Start {
                assoc_ctx: 0x1234_5678,
                major_version: 2,
                minor_version: 5
            })
        );
        assert_eq!(r.padding, 21);
        assert_eq!(r, Repr::start_association(0x1234_5678));
        assert_eq!(r.to_vec().unwrap(), b);
    }

    #[test]
    fn start_response_and_nt4_version() {
        let mut b = header(41, 0x1234_5678, 1);
        b.extend_from_slice(&[0, 0, 0, 9, 0, 1, 0, 1]);
        b.extend_from_slice(&[0; 21]);
        let r = parse(&b).unwrap();
        assert_eq!(r.assoc_ctx, 0x1234_5678);
        assert_eq!(
            r.message,
            Message::StartAssociationResponse(Start {
                assoc_ctx: 9,
                major_version: 1,
                minor_version: 1
            })
        );
        roundtrip(&r);
    }

    #[test]
    fn stop_association_windows_and_samba_forms() {
        // Windows: reason + 24 reserved bytes, length 40.
        let mut b = header(40, 7, 2);
        b.extend_from_slice(&[0, 0, 0, 4]);
        b.extend_from_slice(&[0; 24]);
        let r = parse(&b).unwrap();
        assert_eq!(r.message, Message::StopAssociation(Stop { reason: 4 }));
        assert_eq!(r.padding, 24);
        assert_eq!(r, Repr::stop_association(7, 4));
        assert_eq!(r.to_vec().unwrap(), b);
        // Samba: no padding, length 16.
        let mut b = header(16, 7, 2);
        b.extend_from_slice(&[0, 0, 0, 0]);
        let r = parse(&b).unwrap();
        assert_eq!(r.message, Message::StopAssociation(Stop { reason: 0 }));
        assert_eq!(r.padding, 0);
        roundtrip(&r);
    }

    #[test]
    fn map_request_and_response() {
        let mut b = header(16, 5, 3);
        b.extend_from_slice(&[0, 0, 0, 0]);
        let r = parse(&b).unwrap();
        assert_eq!(
            r.message,
            Message::Replication(Replication::OwnerVersionMapRequest)
        );
        roundtrip(&r);

        // Two owners, initiator 10.0.0.1.
        let mut body = vec![0, 0, 0, 1, 0, 0, 0, 2];
        body.extend_from_slice(&[10, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0x20]);
        body.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1]);
        body.extend_from_slice(&[10, 0, 0, 2, 0, 0, 0, 1, 0, 0, 0, 0]);
        body.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
        body.extend_from_slice(&[10, 0, 0, 1]);
        let mut b = header(12 + body.len() as u32, 5, 3);
        b.extend_from_slice(&body);
        let r = parse(&b).unwrap();
        let Message::Replication(Replication::OwnerVersionMapResponse(t)) = r.message else {
            panic!("{r:?}")
        };
        assert_eq!(t.initiator, ip("10.0.0.1"));
        assert_eq!(t.owners.len(), 2);
        let owners: Vec<_> = t.owners.iter().collect();
        assert_eq!(
            owners[0],
            OwnerRecord {
                address: ip("10.0.0.1"),
                max_version: 0x20,
                min_version: 1,
                owner_type: 1
            }
        );
        assert_eq!(owners[1].address, ip("10.0.0.2"));
        assert_eq!(owners[1].max_version, 1 << 32);
        assert_eq!(owners[1].min_version, 0);
        let built = [owners[0], owners[1]];
        assert_eq!(
            r,
            Repr::replication(
                5,
                Replication::OwnerVersionMapResponse(OwnerTable {
                    owners: Owners::Slice(&built),
                    initiator: ip("10.0.0.1")
                })
            )
        );
        assert_eq!(r.to_vec().unwrap(), b);
        assert!(r.to_string().contains("[1] owner 10.0.0.2"));
    }

    #[test]
    fn send_entries_request_and_update_notifications() {
        let mut body = vec![0, 0, 0, 2];
        body.extend_from_slice(&[192, 168, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0]);
        body.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 5, 0, 0, 0, 1]);
        let mut b = header(12 + body.len() as u32, 1, 3);
        b.extend_from_slice(&body);
        let r = parse(&b).unwrap();
        assert_eq!(
            r.message,
            Message::Replication(Replication::NameRecordsRequest(OwnerRecord {
                address: ip("192.168.1.1"),
                max_version: 0,
                min_version: 5,
                owner_type: 1
            }))
        );
        roundtrip(&r);

        for (op, kind) in [
            (4, UpdateKind::Update),
            (5, UpdateKind::UpdatePropagate),
            (8, UpdateKind::Inform),
            (9, UpdateKind::InformPropagate),
        ] {
            let mut b = header(24, 1, 3);
            b.extend_from_slice(&[0, 0, 0, op, 0, 0, 0, 0, 10, 9, 8, 7]);
            let r = parse(&b).unwrap();
            let Message::Replication(Replication::UpdateNotification { kind: k, table }) =
                r.message
            else {
                panic!()
            };
            assert_eq!(k, kind);
            assert_eq!(k.propagate(), op % 2 == 1);
            assert!(table.owners.is_empty());
            assert_eq!(table.initiator, ip("10.9.8.7"));
            roundtrip(&r);
        }
    }

    /// A unique record for FRED<20>, no scope, as bytes.
    fn unique_record_bytes() -> Vec<u8> {
        let mut v = vec![0, 0, 0, 17];
        v.extend_from_slice(b"FRED           \x20\0");
        v.extend_from_slice(&[0, 0, 0]); // pad 17 -> 20
        v.extend_from_slice(&[0, 0, 0, 0x64]); // unique, released (0x04), H-node (0x60)
        v.extend_from_slice(&[0, 0, 0, 0]); // group word
        v.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 0x2a]);
        v.extend_from_slice(&[10, 1, 2, 3]);
        v.extend_from_slice(&[0xff; 4]);
        v
    }

    #[test]
    fn send_entries_reply_with_every_record_form() {
        let mut body = vec![0, 0, 0, 3, 0, 0, 0, 3];
        // 1: unique FRED<20>.
        body.extend_from_slice(&unique_record_bytes());
        // 2: <1b> name with scope "CORP.EXAMPLE": first and 16th bytes swapped,
        // name buffer 16 + 12 + 1 = 29 bytes, 3 bytes of padding.
        body.extend_from_slice(&[0, 0, 0, 29]);
        body.extend_from_slice(b"\x1bOMAIN         D");
        body.extend_from_slice(b"CORP.EXAMPLE\0");
        body.extend_from_slice(&[0, 0, 0]);
        body.extend_from_slice(&[0, 0, 0, 0x80]); // static unique B-node active
        body.extend_from_slice(&[0, 0, 0, 0]);
        body.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 2]);
        body.extend_from_slice(&[10, 0, 0, 9]);
        body.extend_from_slice(&[0xff; 4]);
        // 3: special group DOMAIN<1c> with a 3-byte scope "A.B" (buffer 20
        // bytes, already aligned: 4 bytes of padding), two addresses.
        body.extend_from_slice(&[0, 0, 0, 20]);
        body.extend_from_slice(b"DOMAIN         \x1cA.B\0");
        body.extend_from_slice(&[0, 0, 0, 0]);
        body.extend_from_slice(&[0, 0, 0, 0x02 | 0x08 | 0x20]); // sgroup, tombstone, P
        body.extend_from_slice(&[1, 0, 0, 0]); // group word, little-endian 1
        body.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 3]);
        body.extend_from_slice(&[2, 0, 0, 0]); // count, little-endian 2
        body.extend_from_slice(&[10, 0, 0, 1, 10, 0, 0, 11]);
        body.extend_from_slice(&[10, 0, 0, 2, 10, 0, 0, 12]);
        body.extend_from_slice(&[0xff; 4]);
        let mut b = header(12 + body.len() as u32, 0x77, 3);
        b.extend_from_slice(&body);

        let r = parse(&b).unwrap();
        let Message::Replication(Replication::NameRecordsResponse(recs)) = r.message else {
            panic!("{r:?}")
        };
        assert_eq!(recs.len(), 3);
        let v: Vec<_> = recs.iter().collect();

        assert_eq!(
            v[0].name,
            RecordName::new(NetbiosName::new(b"FRED", 0x20).unwrap())
        );
        assert_eq!(v[0].flags.record_type(), RecordType::Unique);
        assert_eq!(v[0].flags.state(), RecordState::Released);
        assert_eq!(v[0].flags.node_type(), NodeType::H);
        assert!(!v[0].flags.is_static());
        assert_eq!(v[0].group, 0);
        assert_eq!(v[0].version, 42);
        assert_eq!(v[0].addresses, Addresses::Single(ip("10.1.2.3")));
        assert_eq!(v[0].reserved, RECORD_RESERVED);

        let n1 = v[1].name.netbios_name().unwrap();
        assert_eq!(n1.trimmed(), b"DOMAIN");
        assert_eq!(n1.suffix(), 0x1b);
        assert_eq!(v[1].name.scope_str(), Some("CORP.EXAMPLE"));
        assert_eq!(v[1].name.to_string(), "DOMAIN<1b>.CORP.EXAMPLE");
        assert!(v[1].flags.is_static());
        assert_eq!(v[1].flags.state(), RecordState::Active);
        assert_eq!(v[1].flags.node_type(), NodeType::B);
        assert_eq!(v[1].version, (1 << 32) | 2);

        assert_eq!(v[2].name.netbios_name().unwrap().suffix(), 0x1c);
        assert_eq!(v[2].name.scope(), b"A.B");
        assert_eq!(v[2].flags.record_type(), RecordType::SpecialGroup);
        assert_eq!(v[2].flags.state(), RecordState::Tombstone);
        assert_eq!(v[2].flags.node_type(), NodeType::P);
        assert_eq!(v[2].group, 1);
        let pairs = [
            AddressPair {
                owner: ip("10.0.0.1"),
                address: ip("10.0.0.11"),
            },
            AddressPair {
                owner: ip("10.0.0.2"),
                address: ip("10.0.0.12"),
            },
        ];
        assert_eq!(v[2].addresses, Addresses::List(AddressList::Slice(&pairs)));

        // Built by hand with the constructors, the frame is byte-identical.
        let recs_built = [
            NameRecord::new(
                RecordName::new(NetbiosName::new(b"FRED", 0x20).unwrap()),
                Flags::new(
                    RecordType::Unique,
                    RecordState::Released,
                    NodeType::H,
                    false,
                    false,
                ),
                42,
                Addresses::Single(ip("10.1.2.3")),
            ),
            NameRecord::new(
                RecordName::Netbios {
                    name: NetbiosName::new(b"DOMAIN", 0x1b).unwrap(),
                    scope: b"CORP.EXAMPLE",
                },
                Flags::new(
                    RecordType::Unique,
                    RecordState::Active,
                    NodeType::B,
                    true,
                    false,
                ),
                (1 << 32) | 2,
                Addresses::Single(ip("10.0.0.9")),
            ),
            NameRecord::new(
                RecordName::Netbios {
                    name: NetbiosName::new(b"DOMAIN", 0x1c).unwrap(),
                    scope: b"A.B",
                },
                Flags::new(
                    RecordType::SpecialGroup,
                    RecordState::Tombstone,
                    NodeType::P,
                    false,
                    false,
                ),
                3,
                Addresses::List(AddressList::Slice(&pairs)),
            ),
        ];
        let built = Repr::replication(
            0x77,
            Replication::NameRecordsResponse(NameRecords::Slice(&recs_built)),
        );
        assert_eq!(built, r);
        assert_eq!(built.to_vec().unwrap(), b);
        let text = r.to_string();
        assert!(text.contains("DOMAIN<1b>.CORP.EXAMPLE"), "{text}");
        assert!(text.contains("special group, tombstone, P-node"), "{text}");
    }

    #[test]
    fn short_name_is_kept_raw() {
        let mut body = vec![0, 0, 0, 3, 0, 0, 0, 1];
        body.extend_from_slice(&[0, 0, 0, 4]);
        body.extend_from_slice(b"ABC\0");
        body.extend_from_slice(&[0, 0, 0, 0]); // 4 already aligned -> 4 more
        body.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
        body.extend_from_slice(&[1, 2, 3, 4, 0xff, 0xff, 0xff, 0xff]);
        let mut b = header(12 + body.len() as u32, 0, 3);
        b.extend_from_slice(&body);
        let r = parse(&b).unwrap();
        let Message::Replication(Replication::NameRecordsResponse(recs)) = r.message else {
            panic!()
        };
        let rec = recs.iter().next().unwrap();
        assert_eq!(rec.name, RecordName::Short(b"ABC\0"));
        assert_eq!(r.to_vec().unwrap(), b);
    }

    #[test]
    fn typed_errors_with_offsets() {
        // Opcode word without 0x7800.
        let mut b = header(16, 0, 3);
        b[6] = 0;
        b.extend_from_slice(&[0; 4]);
        assert_eq!(
            parse(&b).unwrap_err(),
            Error::new(ErrorKind::BadHeaderOpcode(0), 4)
        );
        let lenient = ParseOptions {
            require_opcode_bits: false,
        };
        assert_eq!(Repr::parse_bytes(&b, lenient).unwrap().opcode, 0);
        // Unknown message type and replication opcode.
        let mut b = header(16, 0, 7);
        b.extend_from_slice(&[0; 4]);
        assert_eq!(
            parse(&b).unwrap_err(),
            Error::new(ErrorKind::BadMessageType(7), 12)
        );
        let mut b = header(16, 0, 3);
        b.extend_from_slice(&[0, 0, 0, 6]);
        assert_eq!(
            parse(&b).unwrap_err(),
            Error::new(ErrorKind::BadReplicationOpcode(6), 16)
        );
        // Frame length below the header, and frames cut short.
        assert_eq!(
            parse(&header(8, 0, 0)).unwrap_err(),
            Error::new(ErrorKind::BadFrameLength(8), 0)
        );
        assert_eq!(
            parse(&header(41, 0, 0)).unwrap_err().kind,
            ErrorKind::Truncated {
                needed: 41,
                available: 12
            }
        );
        let mut b = header(16, 0, 0);
        b.extend_from_slice(&[0; 4]);
        assert_eq!(
            parse(&b).unwrap_err(),
            Error::new(
                ErrorKind::Truncated {
                    needed: 8,
                    available: 4
                },
                16
            )
        );
        // A count of 4 billion fails at once.
        let mut b = header(16, 0, 3);
        b.extend_from_slice(&[0, 0, 0, 3, 0xff, 0xff, 0xff, 0xff]);
        b[3] = 20;
        assert_eq!(
            parse(&b).unwrap_err(),
            Error::new(ErrorKind::BadCount(u32::MAX), 20)
        );
        let mut b = header(20, 0, 3);
        b.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 1]);
        assert_eq!(
            parse(&b).unwrap_err(),
            Error::new(ErrorKind::BadCount(1), 20)
        );
        // Name length 0 and over 255; name without its NUL.
        for (len, bad) in [(0u32, 0u32), (256, 256)] {
            let mut b = header(12 + 8 + 32, 0, 3);
            b.extend_from_slice(&[0, 0, 0, 3, 0, 0, 0, 1]);
            b.extend_from_slice(&len.to_be_bytes());
            b.extend_from_slice(&[0; 28]);
            assert_eq!(
                parse(&b).unwrap_err(),
                Error::new(ErrorKind::BadRecordNameLength(bad), 24)
            );
        }
        let mut rec = unique_record_bytes();
        rec[4 + 16] = b'X';
        let mut b = header(12 + 8 + rec.len() as u32, 0, 3);
        b.extend_from_slice(&[0, 0, 0, 3, 0, 0, 0, 1]);
        b.extend_from_slice(&rec);
        assert_eq!(parse(&b).unwrap_err().offset, 28 + 16);
        // Address-list count larger than the record holds.
        let mut b = header(12 + 52, 0, 3);
        b.extend_from_slice(&[0, 0, 0, 3, 0, 0, 0, 1]);
        b.extend_from_slice(&[0, 0, 0, 17]);
        b.extend_from_slice(b"X              \0\0\0\0\0");
        b.extend_from_slice(&[0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        b.extend_from_slice(&[0xff, 0xff, 0xff, 0x7f]);
        assert_eq!(
            parse(&b).unwrap_err(),
            Error::new(ErrorKind::BadCount(0x7fff_ffff), 64)
        );
    }

    #[test]
    fn emit_checks_buffer_and_consistency() {
        let r = Repr::start_association(1);
        let mut small = [0u8; 44];
        assert_eq!(
            r.emit_bytes(&mut small).unwrap_err().kind,
            ErrorKind::BufferTooSmall {
                needed: 45,
                available: 44
            }
        );
        let rec = [NameRecord::new(
            RecordName::new(NetbiosName::new(b"X", 0).unwrap()),
            Flags::new(
                RecordType::Multihomed,
                RecordState::Active,
                NodeType::H,
                false,
                false,
            ),
            1,
            Addresses::Single(ip("1.2.3.4")),
        )];
        let r = Repr::replication(
            0,
            Replication::NameRecordsResponse(NameRecords::Slice(&rec)),
        );
        let mut buf = vec![0; r.buffer_len()];
        assert!(matches!(
            r.emit_bytes(&mut buf).unwrap_err().kind,
            ErrorKind::BadValue(_)
        ));
    }

    #[test]
    fn splitter_one_byte_at_a_time_and_all_at_once() {
        let frames: Vec<Vec<u8>> = vec![
            Repr::start_association(1).to_vec().unwrap(),
            Repr::start_association_response(1, 2).to_vec().unwrap(),
            Repr::replication(2, Replication::OwnerVersionMapRequest)
                .to_vec()
                .unwrap(),
            Repr::stop_association(2, 0).to_vec().unwrap(),
        ];
        let stream: Vec<u8> = frames.concat();

        let mut s = FrameSplitter::new();
        let mut got = Vec::new();
        for b in &stream {
            s.push(core::slice::from_ref(b));
            while let Some(f) = s.next_frame() {
                got.push(f.unwrap().to_vec());
            }
        }
        assert_eq!(got, frames);
        assert_eq!(s.buffered(), 0);

        let mut s = FrameSplitter::new();
        s.push(&stream);
        let mut got = Vec::new();
        while let Some(f) = s.next_frame() {
            got.push(f.unwrap().to_vec());
        }
        assert_eq!(got, frames);

        // A half frame waits.
        let mut s = FrameSplitter::new();
        s.push(&stream[..50]);
        assert_eq!(s.next_frame().unwrap().unwrap(), &frames[0][..]);
        assert!(s.next_frame().is_none());
        s.push(&stream[50..]);
        assert_eq!(s.next_frame().unwrap().unwrap(), &frames[1][..]);
    }

    #[test]
    fn splitter_reports_oversize_once() {
        let mut s = FrameSplitter::with_max_frame_len(100);
        s.push(&Repr::start_association(1).to_vec().unwrap());
        s.push(&[0, 0, 0, 101, 0, 0]);
        assert!(s.next_frame().unwrap().is_ok());
        assert_eq!(
            s.next_frame().unwrap().unwrap_err(),
            Error::new(ErrorKind::BadFrameLength(101), 45)
        );
        assert!(s.next_frame().is_none());
        s.push(&[0; 100]);
        assert!(s.next_frame().is_none());
        assert_eq!(s.buffered(), 0);

        let mut s = FrameSplitter::new();
        s.push(&[0xff, 0xff, 0xff, 0xff]);
        assert_eq!(s.buffered(), 0);
        assert_eq!(
            s.next_frame().unwrap().unwrap_err().kind,
            ErrorKind::BadFrameLength(u32::MAX)
        );
        let mut s = FrameSplitter::new();
        s.push(&[0, 0, 0, 3]);
        assert_eq!(
            s.next_frame().unwrap().unwrap_err().kind,
            ErrorKind::BadFrameLength(3)
        );
    }

    #[cfg(feature = "arbitrary")]
    #[test]
    fn arbitrary_owned_reprs_round_trip() {
        use arbitrary::{Arbitrary, Unstructured};
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        let mut made = 0;
        for _ in 0..500 {
            let data: Vec<u8> = (0..600)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    x as u8
                })
                .collect();
            let Ok(o) = OwnedRepr::arbitrary(&mut Unstructured::new(&data)) else {
                continue;
            };
            made += 1;
            let bytes = o.to_vec().unwrap();
            let back = parse(&bytes).unwrap();
            assert_eq!(OwnedRepr::from_repr(&back), o);
        }
        assert!(made > 400);
    }

    // --- properties

    #[derive(Clone, Debug)]
    struct Q(OwnedRepr);

    fn gen_ip(g: &mut Gen) -> Ipv4Addr {
        Ipv4Addr::from(u32::arbitrary(g))
    }

    fn gen_owner(g: &mut Gen) -> OwnerRecord {
        OwnerRecord {
            address: gen_ip(g),
            max_version: u64::arbitrary(g),
            min_version: u64::arbitrary(g),
            owner_type: u32::arbitrary(g),
        }
    }

    fn gen_owners(g: &mut Gen) -> Vec<OwnerRecord> {
        (0..usize::arbitrary(g) % 5).map(|_| gen_owner(g)).collect()
    }

    fn gen_record(g: &mut Gen) -> OwnedNameRecord {
        let name = if u8::arbitrary(g) % 8 == 0 {
            let n = 1 + usize::arbitrary(g) % 16;
            OwnedRecordName::Short((0..n).map(|_| u8::arbitrary(g)).collect())
        } else {
            let mut b = [0u8; 16];
            for x in &mut b {
                *x = u8::arbitrary(g);
            }
            if u8::arbitrary(g) % 4 == 0 {
                b[15] = 0x1b;
            }
            if b[0] == 0x1b && b[15] != 0x1b {
                b[0] = b'A';
            }
            let n = usize::arbitrary(g) % (MAX_SCOPE_LEN + 1);
            OwnedRecordName::Netbios {
                name: NetbiosName::from_bytes(b),
                scope: (0..n).map(|_| u8::arbitrary(g)).collect(),
            }
        };
        let flags = Flags(u32::arbitrary(g));
        let list = flags.record_type().has_address_list();
        OwnedNameRecord {
            name,
            flags,
            group: u32::arbitrary(g),
            version: u64::arbitrary(g),
            addresses: if list {
                (0..usize::arbitrary(g) % 4)
                    .map(|_| AddressPair {
                        owner: gen_ip(g),
                        address: gen_ip(g),
                    })
                    .collect()
            } else {
                Vec::new()
            },
            single: if list {
                Ipv4Addr::UNSPECIFIED
            } else {
                gen_ip(g)
            },
            reserved: u32::arbitrary(g),
        }
    }

    impl Arbitrary for Q {
        fn arbitrary(g: &mut Gen) -> Self {
            let start = |g: &mut Gen| Start {
                assoc_ctx: u32::arbitrary(g),
                major_version: u16::arbitrary(g),
                minor_version: u16::arbitrary(g),
            };
            let message = match u8::arbitrary(g) % 8 {
                0 => OwnedMessage::StartAssociation(start(g)),
                1 => OwnedMessage::StartAssociationResponse(start(g)),
                2 => OwnedMessage::StopAssociation(Stop {
                    reason: u32::arbitrary(g),
                }),
                3 => OwnedMessage::Replication(OwnedReplication::OwnerVersionMapRequest),
                4 => OwnedMessage::Replication(OwnedReplication::OwnerVersionMapResponse {
                    owners: gen_owners(g),
                    initiator: gen_ip(g),
                }),
                5 => OwnedMessage::Replication(OwnedReplication::NameRecordsRequest(gen_owner(g))),
                6 => OwnedMessage::Replication(OwnedReplication::NameRecordsResponse(
                    (0..usize::arbitrary(g) % 5)
                        .map(|_| gen_record(g))
                        .collect(),
                )),
                _ => OwnedMessage::Replication(OwnedReplication::UpdateNotification {
                    kind: *g
                        .choose(&[
                            UpdateKind::Update,
                            UpdateKind::UpdatePropagate,
                            UpdateKind::Inform,
                            UpdateKind::InformPropagate,
                        ])
                        .unwrap(),
                    owners: gen_owners(g),
                    initiator: gen_ip(g),
                }),
            };
            Q(OwnedRepr {
                opcode: u32::arbitrary(g) | OPCODE_BITS,
                assoc_ctx: u32::arbitrary(g),
                message,
                padding: u32::arbitrary(g) % 32,
            })
        }
    }

    #[test]
    fn prop_emit_then_parse_is_identity() {
        fn prop(q: Q) -> bool {
            let bytes = q.0.to_vec().unwrap();
            let back = parse(&bytes).unwrap();
            let same =
                q.0.with_repr(|r| *r == back && r.buffer_len() == bytes.len());
            // And the owned copy of the parsed frame is the original.
            same && OwnedRepr::from_repr(&back) == q.0
        }
        QuickCheck::new()
            .tests(500)
            .quickcheck(prop as fn(Q) -> bool);
    }

    #[test]
    fn prop_parse_never_panics() {
        fn prop(data: Vec<u8>, mtype: u8, op: u8) -> TestResult {
            // Arbitrary bytes, and bytes behind a plausible header so the
            // body parsers are reached.
            let _ = parse(&data);
            let mut b = header(12 + 4 + data.len() as u32, 0, (mtype % 4) as u32);
            b.extend_from_slice(&[0, 0, 0, op % 10]);
            b.extend_from_slice(&data);
            if let Ok(r) = parse(&b) {
                let _ = r.to_string();
                let again = r.to_vec().unwrap();
                return TestResult::from_bool(parse(&again).unwrap() == r);
            }
            TestResult::passed()
        }
        QuickCheck::new()
            .tests(2000)
            .quickcheck(prop as fn(Vec<u8>, u8, u8) -> TestResult);
    }

    #[test]
    fn prop_mutated_frames_reparse_equal() {
        fn prop(q: Q, flips: Vec<(usize, u8)>) -> bool {
            let mut bytes = q.0.to_vec().unwrap();
            for (i, x) in flips {
                if bytes.len() > 4 {
                    let i = 4 + i % (bytes.len() - 4);
                    bytes[i] ^= x;
                }
            }
            match parse(&bytes) {
                Ok(r) => {
                    let again = r.to_vec().unwrap();
                    parse(&again).unwrap() == r
                }
                Err(_) => true,
            }
        }
        QuickCheck::new()
            .tests(500)
            .quickcheck(prop as fn(Q, Vec<(usize, u8)>) -> bool);
    }
}
