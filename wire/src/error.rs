//! Typed decode errors: what is wrong, and at which byte offset.

use core::fmt;

/// A decode or encode error, with the byte offset (from the start of the
/// buffer handed to the parser) where the problem was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Error {
    pub kind: ErrorKind,
    pub offset: usize,
}

impl Error {
    pub const fn new(kind: ErrorKind, offset: usize) -> Self {
        Error { kind, offset }
    }
}

/// What went wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The buffer ends before a field that must be there.
    Truncated { needed: usize, available: usize },
    /// A NetBIOS name's first label is not the 32 bytes of first-level encoding.
    BadNameLength(u8),
    /// A byte of a first-level encoded name is outside 'A'..='P'.
    BadNameChar(u8),
    /// A label length byte uses the reserved 0x40 or 0x80 bits (a label over 63 bytes).
    LabelTooLong(u8),
    /// An empty label inside a constructed scope (two dots, or a leading dot).
    EmptyLabel,
    /// The encoded name (length bytes, labels and the final zero) is over the
    /// limit: 255 bytes to build (RFC 1002), `MAX_PARSE_NAME_LEN` to parse.
    NameTooLong(usize),
    /// A compression pointer that does not point strictly backwards.
    BadPointer(u16),
    /// A NetBIOS name longer than 15 bytes before the suffix.
    NameTooLongForNetbios(usize),
    /// A section count that RFC 1002 never uses (at most one entry a section).
    TooManyRecords { section: Section, count: u16 },
    /// RDLENGTH does not fit the record type.
    BadRdLength { rtype: u16, len: u16 },
    /// An NBSTAT name count larger than the RDATA holds.
    BadNameCount(u8),
    /// The output buffer is too small for `emit`.
    BufferTooSmall { needed: usize, available: usize },

    // --- WINS replication (MS-WINSRA) ---
    /// A frame length below the header size or above the configured maximum.
    BadFrameLength(u32),
    /// The header's opcode word lacks the 0x7800 bits that every peer sends.
    BadHeaderOpcode(u32),
    /// An unknown association message type.
    BadMessageType(u32),
    /// An unknown replication opcode.
    BadReplicationOpcode(u32),
    /// A name record's name length is 0 or over 255.
    BadRecordNameLength(u32),
    /// A count of owners, records or addresses that the frame cannot hold.
    BadCount(u32),
    /// A field has a value outside its documented range.
    BadValue(&'static str),
}

/// The four sections of an NBNS packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    Question,
    Answer,
    Authority,
    Additional,
}

impl fmt::Display for Section {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Section::Question => "QDCOUNT",
            Section::Answer => "ANCOUNT",
            Section::Authority => "NSCOUNT",
            Section::Additional => "ARCOUNT",
        })
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use ErrorKind::*;
        match *self {
            Truncated { needed, available } => {
                write!(f, "truncated: needs {needed} bytes, {available} left")
            }
            BadNameLength(len) => write!(
                f,
                "NetBIOS name label is {len} bytes, first-level encoding needs 32"
            ),
            BadNameChar(c) => write!(f, "byte 0x{c:02x} in encoded name is not in 'A'..'P'"),
            LabelTooLong(b) => write!(
                f,
                "label length byte 0x{b:02x} is over 63 (reserved label type)"
            ),
            EmptyLabel => f.write_str("empty label in scope"),
            NameTooLong(limit) => write!(f, "encoded name is over {limit} bytes"),
            BadPointer(p) => write!(
                f,
                "compression pointer to offset {p} does not point strictly backwards"
            ),
            NameTooLongForNetbios(n) => {
                write!(f, "NetBIOS name is {n} bytes, at most 15 before the suffix")
            }
            TooManyRecords { section, count } => write!(
                f,
                "{section} is {count}, RFC 1002 packets carry at most one entry a section"
            ),
            BadRdLength { rtype, len } => {
                write!(f, "RDLENGTH {len} does not fit record type 0x{rtype:04x}")
            }
            BadNameCount(n) => write!(f, "NBSTAT NUM_NAMES {n} is more than the RDATA holds"),
            BufferTooSmall { needed, available } => {
                write!(
                    f,
                    "output buffer too small: needs {needed}, has {available}"
                )
            }
            BadFrameLength(n) => write!(f, "WINS replication frame length {n} is out of range"),
            BadHeaderOpcode(o) => {
                write!(
                    f,
                    "WINS replication header opcode 0x{o:08x} lacks bits 0x7800"
                )
            }
            BadMessageType(t) => write!(f, "unknown WINS replication message type {t}"),
            BadReplicationOpcode(o) => write!(f, "unknown WINS replication opcode {o}"),
            BadRecordNameLength(n) => write!(f, "name record length {n} is not in 1..=255"),
            BadCount(n) => write!(f, "count {n} is more than the frame can hold"),
            BadValue(what) => write!(f, "bad value: {what}"),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (at byte {})", self.kind, self.offset)
    }
}

impl std::error::Error for Error {}

pub type Result<T> = core::result::Result<T, Error>;

/// Shorthand for a truncation error: `needed` bytes wanted at `offset`, buffer of `len`.
pub(crate) fn truncated(offset: usize, needed: usize, len: usize) -> Error {
    Error::new(
        ErrorKind::Truncated {
            needed,
            available: len.saturating_sub(offset),
        },
        offset,
    )
}
