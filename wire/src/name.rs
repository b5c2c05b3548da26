//! NetBIOS names (RFC 1001 14, RFC 1002 4.1): the 16-byte name, its
//! first-level encoding into 32 characters 'A'..'P', and the second-level
//! (DNS label) form with a scope and compression pointers.
//!
//! Parsing never allocates: a parsed scope is a view into the packet
//! ([`Labels::Wire`]) that is walked again when it is compared or printed.

use crate::error::{truncated, Error, ErrorKind, Result};
use core::fmt;
use core::hash::{Hash, Hasher};

/// Longest label of the second-level encoding.
pub const MAX_LABEL_LEN: usize = 63;
/// Longest encoded name RFC 1002 allows (length bytes, labels and the
/// terminating zero): what [`Name::netbios`] builds at most.
pub const MAX_NAME_LEN: usize = 255;
/// Longest encoded name the parser accepts. Real servers exceed the RFC's
/// 255 (Samba's AD DC registers and answers names of 272 bytes), and a
/// decoder must show what is on the wire; the bound keeps work per name
/// constant. [`Name::exceeds_rfc_limit`] tells the two apart.
pub const MAX_PARSE_NAME_LEN: usize = 1024;
/// Length of the first-level encoded NetBIOS name label.
pub const ENCODED_LEN: usize = 32;

/// A 16-byte NetBIOS name: 15 bytes (space padded) and a suffix byte.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NetbiosName {
    bytes: [u8; 16],
}

impl NetbiosName {
    /// The wildcard name `*` padded with NULs, used in node status requests.
    pub const WILDCARD: NetbiosName = NetbiosName {
        bytes: *b"*\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0",
    };

    /// Builds a name from up to 15 bytes (padded with spaces) and a suffix.
    /// Bytes are kept as given: callers upper-case, as Windows and Samba do.
    pub fn new(name: &[u8], suffix: u8) -> Result<Self> {
        if name.len() > 15 {
            return Err(Error::new(ErrorKind::NameTooLongForNetbios(name.len()), 0));
        }
        let mut bytes = [b' '; 16];
        bytes[..name.len()].copy_from_slice(name);
        bytes[15] = suffix;
        Ok(NetbiosName { bytes })
    }

    /// A name from its raw 16 bytes, padding included.
    pub const fn from_bytes(bytes: [u8; 16]) -> Self {
        NetbiosName { bytes }
    }

    pub const fn as_bytes(&self) -> &[u8; 16] {
        &self.bytes
    }

    /// The suffix (16th) byte: 0x00 workstation, 0x20 server, 0x1C DC group, ...
    pub const fn suffix(&self) -> u8 {
        self.bytes[15]
    }

    /// The first 15 bytes without trailing space padding.
    pub fn trimmed(&self) -> &[u8] {
        let mut end = 15;
        while end > 0 && self.bytes[end - 1] == b' ' {
            end -= 1;
        }
        &self.bytes[..end]
    }

    /// First-level encoding: each byte becomes 'A' + high nibble, 'A' + low nibble.
    pub fn encode(&self) -> [u8; ENCODED_LEN] {
        let mut out = [0u8; ENCODED_LEN];
        for (i, b) in self.bytes.iter().enumerate() {
            out[2 * i] = b'A' + (b >> 4);
            out[2 * i + 1] = b'A' + (b & 0x0f);
        }
        out
    }

    /// Reverses [`encode`](Self::encode). `offset` is where `encoded` starts
    /// in the packet, for the error position.
    #[inline]
    pub fn decode(encoded: &[u8], offset: usize) -> Result<Self> {
        let Ok(encoded) = <&[u8; ENCODED_LEN]>::try_from(encoded) else {
            return Err(Error::new(
                ErrorKind::BadNameLength(encoded.len().min(255) as u8),
                offset,
            ));
        };
        Self::try_decode(encoded).ok_or_else(|| bad_char(encoded, offset))
    }

    /// [`decode`](Self::decode) of exactly 32 characters; `None` when one is
    /// outside 'A'..='P'. Never inlined: on its own the loop compiles to the
    /// same short SIMD code every time, while inlined into a large caller
    /// the vectoriser's result varies from build to build.
    #[inline(never)]
    pub(crate) fn try_decode(encoded: &[u8; ENCODED_LEN]) -> Option<Self> {
        // Branch-free over all 32 characters (the compiler vectorises it).
        let mut bytes = [0u8; 16];
        let mut bad = 0u8;
        for (b, pair) in bytes.iter_mut().zip(encoded.chunks_exact(2)) {
            let hi = pair[0].wrapping_sub(b'A');
            let lo = pair[1].wrapping_sub(b'A');
            bad |= (hi | lo) & 0xf0;
            *b = (hi << 4) | (lo & 0x0f);
        }
        (bad == 0).then_some(NetbiosName { bytes })
    }
}

/// The error for the first character of `encoded` outside 'A'..='P'.
#[cold]
fn bad_char(encoded: &[u8], offset: usize) -> Error {
    let i = encoded
        .iter()
        .position(|&c| nibble(c).is_none())
        .unwrap_or(0);
    Error::new(ErrorKind::BadNameChar(encoded[i]), offset + i)
}

fn nibble(c: u8) -> Option<u8> {
    (b'A'..=b'P').contains(&c).then(|| c - b'A')
}

/// Writes bytes as text, escaping anything that is not printable ASCII.
pub(crate) fn write_escaped(f: &mut fmt::Formatter<'_>, bytes: &[u8]) -> fmt::Result {
    for &b in bytes {
        if (0x20..0x7f).contains(&b) && b != b'\\' {
            write!(f, "{}", b as char)?;
        } else {
            write!(f, "\\x{b:02x}")?;
        }
    }
    Ok(())
}

impl fmt::Display for NetbiosName {
    /// `NAME<20>`, the way nbtstat and Samba print names.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_escaped(f, self.trimmed())?;
        write!(f, "<{:02x}>", self.suffix())
    }
}

impl fmt::Debug for NetbiosName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "\"{self}\"")
    }
}

/// A sequence of DNS labels: the scope of a NetBIOS name, or a plain domain
/// name. Either a view into a parsed packet (already validated) or a dotted
/// string given by the caller (validated by [`Labels::dotted`]).
#[derive(Clone, Copy)]
pub enum Labels<'a> {
    /// Labels starting at `pos` in `packet`, possibly through compression
    /// pointers; validated when the enclosing name was parsed.
    Wire { packet: &'a [u8], pos: usize },
    /// Dot-separated labels; the empty string is the empty scope.
    Dotted(&'a str),
}

impl<'a> Labels<'a> {
    /// The empty scope.
    pub const EMPTY: Labels<'static> = Labels::Dotted("");

    /// A scope from its dotted form, checking label lengths. The 255-byte
    /// total is checked where the name is built ([`Name::netbios`]).
    pub fn dotted(s: &'a str) -> Result<Self> {
        if !s.is_empty() {
            for label in s.split('.') {
                if label.is_empty() {
                    return Err(Error::new(ErrorKind::EmptyLabel, 0));
                }
                if label.len() > MAX_LABEL_LEN {
                    return Err(Error::new(
                        ErrorKind::LabelTooLong(label.len().min(255) as u8),
                        0,
                    ));
                }
            }
        }
        Ok(Labels::Dotted(s))
    }

    pub fn iter(&self) -> LabelIter<'a> {
        match *self {
            Labels::Wire { packet, pos } => LabelIter::Wire {
                packet,
                pos,
                limit: pos,
            },
            Labels::Dotted(s) => LabelIter::Dotted(if s.is_empty() {
                None
            } else {
                Some(s.split('.'))
            }),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.iter().next().is_none()
    }

    /// Bytes these labels take uncompressed, without the final zero byte.
    pub fn encoded_len(&self) -> usize {
        self.iter().map(|l| 1 + l.len()).sum()
    }
}

/// Iterator over the labels of a [`Labels`].
pub enum LabelIter<'a> {
    Wire {
        packet: &'a [u8],
        pos: usize,
        /// Pointers must land strictly before this offset.
        limit: usize,
    },
    Dotted(Option<core::str::Split<'a, char>>),
}

impl<'a> Iterator for LabelIter<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        match self {
            LabelIter::Dotted(split) => split.as_mut()?.next().map(str::as_bytes),
            LabelIter::Wire { packet, pos, limit } => loop {
                // The labels were validated at parse time; on any surprise
                // (a hand-built `Wire` view) the iteration simply ends.
                let len = *packet.get(*pos)? as usize;
                match len & 0xc0 {
                    0x00 if len == 0 => return None,
                    0x00 => {
                        let label = packet.get(*pos + 1..*pos + 1 + len)?;
                        *pos += 1 + len;
                        return Some(label);
                    }
                    0xc0 => {
                        let low = *packet.get(*pos + 1)? as usize;
                        let target = ((len & 0x3f) << 8) | low;
                        if target >= *limit {
                            return None;
                        }
                        *pos = target;
                        *limit = target;
                    }
                    _ => return None,
                }
            },
        }
    }
}

impl PartialEq for Labels<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.iter().eq(other.iter())
    }
}
impl Eq for Labels<'_> {}

impl Hash for Labels<'_> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        for label in self.iter() {
            label.hash(state);
        }
    }
}

impl fmt::Display for Labels<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, label) in self.iter().enumerate() {
            if i > 0 {
                f.write_str(".")?;
            }
            write_escaped(f, label)?;
        }
        Ok(())
    }
}

impl fmt::Debug for Labels<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "\"{self}\"")
    }
}

/// A name as it appears in a question, a record owner or RDATA.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub enum Name<'a> {
    /// A first-level encoded NetBIOS name with its scope.
    Netbios {
        name: NetbiosName,
        scope: Labels<'a>,
    },
    /// Any other domain name (the NBNS's own name in redirect responses).
    Domain(Labels<'a>),
}

impl<'a> Name<'a> {
    /// A NetBIOS name with a scope, checking the 255-byte limit.
    pub fn netbios(name: NetbiosName, scope: Labels<'a>) -> Result<Self> {
        let n = Name::Netbios { name, scope };
        if n.buffer_len() > MAX_NAME_LEN {
            return Err(Error::new(ErrorKind::NameTooLong(MAX_NAME_LEN), 0));
        }
        Ok(n)
    }

    /// The NetBIOS name, if this is one.
    pub fn netbios_name(&self) -> Option<&NetbiosName> {
        match self {
            Name::Netbios { name, .. } => Some(name),
            Name::Domain(_) => None,
        }
    }

    /// Parses a name at `pos` in `packet`. Returns the name and the offset
    /// just past it in the packet (past the first pointer, if any).
    ///
    /// Every compression pointer must land strictly before the previous one
    /// (the first: before `pos`), so no byte is read twice and the work is
    /// linear in the packet length.
    pub fn parse(packet: &'a [u8], pos: usize) -> Result<(Self, usize)> {
        // Fast path for the common shape, a NetBIOS name without scope and
        // without pointers: 0x20, 32 bytes, 0x00. Same result as the loop.
        if packet.get(pos) == Some(&(ENCODED_LEN as u8))
            && packet.get(pos + 1 + ENCODED_LEN) == Some(&0)
        {
            let end = pos + 1 + ENCODED_LEN;
            return Ok((Self::classify(packet, pos, ENCODED_LEN, end)?, end + 1));
        }
        let mut p = pos;
        let mut limit = pos;
        let mut end = None;
        let mut total = 0usize;
        let mut first: Option<(usize, usize)> = None;
        let mut scope_pos = None;
        loop {
            let len = *packet.get(p).ok_or_else(|| truncated(p, 1, packet.len()))? as usize;
            match len & 0xc0 {
                0x00 => {
                    if first.is_some() && scope_pos.is_none() {
                        scope_pos = Some(p);
                    }
                    total += 1 + len;
                    if total > MAX_PARSE_NAME_LEN {
                        return Err(Error::new(ErrorKind::NameTooLong(MAX_PARSE_NAME_LEN), p));
                    }
                    if len == 0 {
                        let end = end.unwrap_or(p + 1);
                        let (start, flen) = match first {
                            Some(f) => f,
                            // The root name: only valid as a domain name.
                            None => {
                                return Ok((
                                    Name::Domain(Labels::Wire {
                                        packet,
                                        pos: scope_pos.unwrap_or(p),
                                    }),
                                    end,
                                ))
                            }
                        };
                        let scope_pos = scope_pos.unwrap_or(p);
                        return Ok((Self::classify(packet, start, flen, scope_pos)?, end));
                    }
                    if p + 1 + len > packet.len() {
                        return Err(truncated(p + 1, len, packet.len()));
                    }
                    if first.is_none() {
                        first = Some((p, len));
                    }
                    p += 1 + len;
                }
                0xc0 => {
                    let low = *packet
                        .get(p + 1)
                        .ok_or_else(|| truncated(p, 2, packet.len()))?
                        as usize;
                    let target = ((len & 0x3f) << 8) | low;
                    if target >= limit {
                        return Err(Error::new(ErrorKind::BadPointer(target as u16), p));
                    }
                    if first.is_some() && scope_pos.is_none() {
                        scope_pos = Some(p);
                    }
                    end.get_or_insert(p + 2);
                    limit = target;
                    p = target;
                }
                _ => return Err(Error::new(ErrorKind::LabelTooLong(len as u8), p)),
            }
        }
    }

    /// Decides between a NetBIOS name and a plain domain name, by the first
    /// label: 32 bytes means first-level encoding, which must then be A..P.
    fn classify(packet: &'a [u8], start: usize, flen: usize, scope_pos: usize) -> Result<Self> {
        if flen == ENCODED_LEN {
            let name = NetbiosName::decode(&packet[start + 1..start + 1 + flen], start + 1)?;
            Ok(Name::Netbios {
                name,
                scope: Labels::Wire {
                    packet,
                    pos: scope_pos,
                },
            })
        } else {
            Ok(Name::Domain(Labels::Wire { packet, pos: start }))
        }
    }

    /// Parses a name that must be a NetBIOS name (questions, NB records).
    #[inline]
    pub fn parse_netbios(packet: &'a [u8], pos: usize) -> Result<(Self, usize)> {
        let (name, end) = Self::parse(packet, pos)?;
        match name {
            Name::Netbios { .. } => Ok((name, end)),
            Name::Domain(labels) => {
                let len = labels.iter().next().map_or(0, |l| l.len());
                Err(Error::new(
                    ErrorKind::BadNameLength(len as u8),
                    first_label_offset(packet, pos),
                ))
            }
        }
    }

    /// Whether the encoded name is longer than RFC 1002's 255 bytes (only
    /// parsed names can be).
    pub fn exceeds_rfc_limit(&self) -> bool {
        self.buffer_len() > MAX_NAME_LEN
    }

    /// Uncompressed encoded length, final zero byte included.
    pub fn buffer_len(&self) -> usize {
        match self {
            Name::Netbios { scope, .. } => 1 + ENCODED_LEN + scope.encoded_len() + 1,
            Name::Domain(labels) => labels.encoded_len() + 1,
        }
    }

    /// Writes the uncompressed name at the start of `buf`; returns the bytes written.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        let needed = self.buffer_len();
        if buf.len() < needed {
            return Err(Error::new(
                ErrorKind::BufferTooSmall {
                    needed,
                    available: buf.len(),
                },
                0,
            ));
        }
        let mut p = 0;
        let labels = match self {
            Name::Netbios { name, scope } => {
                buf[0] = ENCODED_LEN as u8;
                buf[1..1 + ENCODED_LEN].copy_from_slice(&name.encode());
                p = 1 + ENCODED_LEN;
                scope
            }
            Name::Domain(labels) => labels,
        };
        for label in labels.iter() {
            buf[p] = label.len() as u8;
            buf[p + 1..p + 1 + label.len()].copy_from_slice(label);
            p += 1 + label.len();
        }
        buf[p] = 0;
        Ok(p + 1)
    }
}

/// Offset of the first label's length byte, following leading pointers, for
/// error positions.
fn first_label_offset(packet: &[u8], mut pos: usize) -> usize {
    let mut limit = pos;
    while let (Some(&b), Some(&low)) = (packet.get(pos), packet.get(pos + 1)) {
        if b & 0xc0 != 0xc0 {
            break;
        }
        let target = (((b & 0x3f) as usize) << 8) | low as usize;
        if target >= limit {
            break;
        }
        limit = target;
        pos = target;
    }
    pos
}

impl fmt::Display for Name<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Name::Netbios { name, scope } => {
                write!(f, "{name}")?;
                if !scope.is_empty() {
                    write!(f, ".{scope}")?;
                }
                Ok(())
            }
            Name::Domain(labels) if labels.is_empty() => f.write_str("."),
            Name::Domain(labels) => write!(f, "{labels}"),
        }
    }
}

impl fmt::Debug for Name<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "\"{self}\"")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encoded(name: &[u8], suffix: u8, scope: &str) -> Vec<u8> {
        let n = Name::netbios(
            NetbiosName::new(name, suffix).unwrap(),
            Labels::dotted(scope).unwrap(),
        )
        .unwrap();
        let mut buf = vec![0; n.buffer_len()];
        n.emit(&mut buf).unwrap();
        buf
    }

    #[test]
    fn first_level_encoding_matches_rfc1001_example() {
        // RFC 1001 14.1: "FRED" padded with spaces, suffix 0x20 -> EGFCEFEECACA...
        let n = NetbiosName::new(b"FRED", 0x20).unwrap();
        assert_eq!(&n.encode(), b"EGFCEFEECACACACACACACACACACACACA");
        assert_eq!(NetbiosName::decode(&n.encode(), 0).unwrap(), n);
    }

    #[test]
    fn name_with_scope_round_trips() {
        let buf = encoded(b"WORKSTATION", 0x00, "NETBIOS.COM");
        assert_eq!(buf.len(), 1 + 32 + 8 + 4 + 1);
        let (name, end) = Name::parse(&buf, 0).unwrap();
        assert_eq!(end, buf.len());
        assert_eq!(name.to_string(), "WORKSTATION<00>.NETBIOS.COM");
        assert_eq!(
            name,
            Name::netbios(
                NetbiosName::new(b"WORKSTATION", 0).unwrap(),
                Labels::dotted("NETBIOS.COM").unwrap()
            )
            .unwrap()
        );
    }

    #[test]
    fn bad_character_reports_its_offset() {
        let mut buf = encoded(b"A", 0x00, "");
        buf[5] = b'Q';
        let err = Name::parse(&buf, 0).unwrap_err();
        assert_eq!(err, Error::new(ErrorKind::BadNameChar(b'Q'), 5));
    }

    #[test]
    fn pointer_must_point_backwards() {
        let mut buf = encoded(b"A", 0x00, "");
        let at = buf.len();
        buf.extend_from_slice(&[0xc0, 0x00]);
        let (name, end) = Name::parse(&buf, at).unwrap();
        assert_eq!(end, at + 2);
        assert_eq!(name.netbios_name().unwrap().trimmed(), b"A");
        // A pointer to itself is a loop.
        let err = Name::parse(&buf, 0).map(|_| ());
        assert!(err.is_ok());
        buf.extend_from_slice(&[0xc0, at as u8 + 2]);
        assert_eq!(
            Name::parse(&buf, at + 2).unwrap_err().kind,
            ErrorKind::BadPointer(at as u16 + 2)
        );
    }

    #[test]
    fn label_over_63_is_rejected() {
        let buf = [0x40, b'a', 0];
        assert_eq!(
            Name::parse(&buf, 0).unwrap_err(),
            Error::new(ErrorKind::LabelTooLong(0x40), 0)
        );
    }

    #[test]
    fn scope_may_fill_255_bytes_and_no_more() {
        // 1 + 32 for the NetBIOS label and 1 for the final zero leave 221 for the scope labels.
        let scope_ok = format!(
            "{}.{}.{}.{}",
            "a".repeat(63),
            "b".repeat(63),
            "c".repeat(63),
            "d".repeat(28)
        );
        assert_eq!(Labels::dotted(&scope_ok).unwrap().encoded_len(), 221);
        let n = Name::netbios(
            NetbiosName::new(b"X", 0).unwrap(),
            Labels::dotted(&scope_ok).unwrap(),
        )
        .unwrap();
        assert_eq!(n.buffer_len(), 255);
        let too_long = format!("{scope_ok}e");
        assert_eq!(
            Name::netbios(
                NetbiosName::new(b"X", 0).unwrap(),
                Labels::dotted(&too_long).unwrap()
            )
            .unwrap_err()
            .kind,
            ErrorKind::NameTooLong(MAX_NAME_LEN)
        );
    }
}
