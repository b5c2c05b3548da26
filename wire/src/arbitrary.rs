//! `arbitrary::Arbitrary` for the codec's borrowed types (feature `arbitrary`),
//! for structure-aware fuzzing.
//!
//! The impls only build values that the codec can express, so a generated
//! [`Repr`] always passes [`Repr::validate`], emits, and parses back equal:
//!
//! * dotted labels are cut to the longest valid prefix (no empty label, none
//!   over 63 bytes) that fits the 255-byte name limit;
//! * a domain name's first label is never 32 bytes (that reads back as a
//!   NetBIOS name), and a question's name is always a NetBIOS name;
//! * lists are byte views of whole items ([`List::Wire`]) taken from the input;
//! * header flags, types and codes are built from their wire bits, so an
//!   `Unknown(7)` opcode or an `Unknown(0x20)` type cannot appear;
//! * [`RData::Wack`] appears only in packets whose opcode is WACK, the only
//!   place the parser produces it.
//!
//! The enums and plain structs without borrowed data derive `Arbitrary` next
//! to their definitions.

use crate::name::{Labels, Name, NetbiosName, ENCODED_LEN, MAX_LABEL_LEN, MAX_NAME_LEN};
use crate::nbns::{
    Flags, List, ListItem, NbEntry, NbFlags, NodeStatus, NodeType, Opcode, Question, RData, Record,
    Repr, RrType, StatusName,
};
use ::arbitrary::{Arbitrary, Result, Unstructured};

/// Encoded bytes (length bytes and labels) a domain name may use besides its final zero.
const DOMAIN_BUDGET: usize = MAX_NAME_LEN - 1;
/// What is left for a NetBIOS name's scope after the 32-byte label and the final zero.
const SCOPE_BUDGET: usize = MAX_NAME_LEN - 1 - ENCODED_LEN - 1;
/// Largest RDLENGTH.
const MAX_RDATA: usize = u16::MAX as usize;

/// The largest char boundary of `s` at or below `at`.
fn floor_boundary(s: &str, mut at: usize) -> usize {
    at = at.min(s.len());
    while !s.is_char_boundary(at) {
        at -= 1;
    }
    at
}

/// The longest prefix of `s` that is a valid dotted label sequence whose
/// encoding (length bytes and labels) fits `budget`. When `avoid_first_32`,
/// a 32-byte first label is cut shorter.
fn dotted_prefix(s: &str, budget: usize, avoid_first_32: bool) -> &str {
    let mut end = 0;
    let mut used = 0;
    let mut start = 0;
    loop {
        let label_end = s[start..].find('.').map_or(s.len(), |i| start + i);
        let mut len = label_end - start;
        let mut last = label_end == s.len();
        let max = MAX_LABEL_LEN.min(budget.saturating_sub(used + 1));
        if len > max {
            len = floor_boundary(s, start + max) - start;
            last = true;
        }
        if start == 0 && avoid_first_32 && len == ENCODED_LEN {
            len = floor_boundary(s, ENCODED_LEN - 1);
            last = true;
        }
        if len == 0 {
            break;
        }
        used += 1 + len;
        end = start + len;
        if last {
            break;
        }
        start = label_end + 1;
    }
    &s[..end]
}

/// Labels within `budget`, either dotted (cut from an arbitrary string) or a
/// view into a name parsed from arbitrary bytes.
fn labels<'a>(u: &mut Unstructured<'a>, budget: usize, avoid_first_32: bool) -> Result<Labels<'a>> {
    if u.ratio(1, 4)? {
        let bytes = <&'a [u8]>::arbitrary(u)?;
        let labels = match Name::parse(bytes, 0) {
            Ok((Name::Netbios { scope, .. }, _)) => scope,
            Ok((Name::Domain(labels), _)) => labels,
            Err(_) => Labels::EMPTY,
        };
        let first_32 = labels.iter().next().map(<[u8]>::len) == Some(ENCODED_LEN);
        if labels.encoded_len() > budget || (avoid_first_32 && first_32) {
            return Ok(Labels::EMPTY);
        }
        Ok(labels)
    } else {
        let s = <&'a str>::arbitrary(u)?;
        Ok(Labels::Dotted(dotted_prefix(s, budget, avoid_first_32)))
    }
}

impl<'a> Arbitrary<'a> for NetbiosName {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        if u.arbitrary()? {
            // A name as hosts register them: up to 15 upper-case characters,
            // space padded, and a suffix.
            let len = u.int_in_range(0..=15)?;
            let mut bytes = [b' '; 16];
            for b in &mut bytes[..len] {
                *b = *u.choose(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_*")?;
            }
            bytes[15] = u.arbitrary()?;
            Ok(NetbiosName::from_bytes(bytes))
        } else {
            Ok(NetbiosName::from_bytes(u.arbitrary()?))
        }
    }

    fn size_hint(_depth: usize) -> (usize, Option<usize>) {
        (1, Some(17))
    }
}

impl<'a> Arbitrary<'a> for Labels<'a> {
    /// Labels that fit a domain name (at most 254 encoded bytes), or none.
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        labels(u, DOMAIN_BUDGET, false)
    }
}

/// A NetBIOS name with a scope that keeps the whole name within 255 bytes.
fn netbios_name<'a>(u: &mut Unstructured<'a>) -> Result<Name<'a>> {
    let name = NetbiosName::arbitrary(u)?;
    let scope = if u.arbitrary()? {
        labels(u, SCOPE_BUDGET, false)?
    } else {
        Labels::EMPTY
    };
    Ok(Name::Netbios { name, scope })
}

impl<'a> Arbitrary<'a> for Name<'a> {
    /// Mostly NetBIOS names; otherwise a domain name whose first label is not
    /// 32 bytes (the root name included).
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        if u.ratio(3, 4)? {
            netbios_name(u)
        } else {
            Ok(Name::Domain(labels(u, DOMAIN_BUDGET, true)?))
        }
    }
}

impl<'a> Arbitrary<'a> for NodeType {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        Ok(*u.choose(&[NodeType::B, NodeType::P, NodeType::M, NodeType::H])?)
    }

    fn size_hint(_depth: usize) -> (usize, Option<usize>) {
        (1, Some(1))
    }
}

impl<'a> Arbitrary<'a> for NbEntry {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        Ok(NbEntry {
            flags: NbFlags(u.arbitrary()?),
            addr: u.arbitrary()?,
        })
    }

    fn size_hint(_depth: usize) -> (usize, Option<usize>) {
        (6, Some(6))
    }
}

impl<'a> Arbitrary<'a> for StatusName {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        Ok(StatusName {
            name: u.arbitrary()?,
            flags: u.arbitrary()?,
        })
    }
}

impl<'a, T: ListItem + 'a> Arbitrary<'a> for List<'a, T> {
    /// A view of whole items: bytes from the input, cut to a multiple of the item size.
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        let bytes = <&'a [u8]>::arbitrary(u)?;
        Ok(List::Wire(&bytes[..bytes.len() / T::LEN * T::LEN]))
    }
}

impl<'a> Arbitrary<'a> for NodeStatus<'a> {
    /// At most 255 names, and no more statistics than RDLENGTH can cover.
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        let names = match List::<'a, StatusName>::arbitrary(u)? {
            List::Wire(b) => List::Wire(&b[..b.len().min(255 * StatusName::LEN)]),
            items => items,
        };
        let statistics = <&'a [u8]>::arbitrary(u)?;
        let room = MAX_RDATA - 1 - names.len() * StatusName::LEN;
        Ok(NodeStatus {
            names,
            statistics: &statistics[..statistics.len().min(room)],
        })
    }
}

/// Bytes for RDATA, no longer than RDLENGTH allows.
fn rdata_bytes<'a>(u: &mut Unstructured<'a>) -> Result<&'a [u8]> {
    let b = <&'a [u8]>::arbitrary(u)?;
    Ok(&b[..b.len().min(MAX_RDATA)])
}

impl<'a> Arbitrary<'a> for RData<'a> {
    /// Any record data, `Wack` included; [`Repr`]'s impl keeps `Wack` to
    /// WACK packets. `Unknown` types are never one of the known ones.
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        Ok(match u.int_in_range(0..=6u8)? {
            0 => RData::Nb(u.arbitrary()?),
            1 => RData::Wack(u.arbitrary()?),
            2 => RData::NbStat(u.arbitrary()?),
            3 => RData::A(u.arbitrary()?),
            4 => RData::Ns(u.arbitrary()?),
            5 => RData::Null(rdata_bytes(u)?),
            _ => {
                let mut rtype: u16 = u.arbitrary()?;
                if !matches!(RrType::from(rtype), RrType::Unknown(_)) {
                    // Every known type is below 0x100.
                    rtype |= 0x100;
                }
                RData::Unknown {
                    rtype,
                    data: rdata_bytes(u)?,
                }
            }
        })
    }
}

impl<'a> Arbitrary<'a> for Record<'a> {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        Ok(Record {
            name: u.arbitrary()?,
            class: u.arbitrary()?,
            ttl: u.arbitrary()?,
            rdata: u.arbitrary()?,
        })
    }
}

impl<'a> Arbitrary<'a> for Question<'a> {
    /// A NetBIOS name (the parser takes nothing else in a question) and any type.
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        Ok(Question {
            name: netbios_name(u)?,
            qtype: RrType::from(u16::arbitrary(u)?),
            qclass: u.arbitrary()?,
        })
    }
}

impl<'a> Arbitrary<'a> for Repr<'a> {
    /// A packet that emits and parses back equal.
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        let id = u.arbitrary()?;
        let flags = Flags::from_bits(u.arbitrary()?);
        let question: Option<Question<'a>> = u.arbitrary()?;
        let mut records: [Option<Record<'a>>; 3] = [u.arbitrary()?, u.arbitrary()?, u.arbitrary()?];
        for r in records.iter_mut().flatten() {
            // The parser reads 2-byte NB RDATA as a WACK only in WACK packets.
            if matches!(r.rdata, RData::Wack(_)) && flags.opcode != Opcode::Wack {
                r.rdata = RData::Nb(List::Wire(&[]));
            }
            // Owner names equal to the question's exercise compression.
            if let Some(q) = &question {
                if u.ratio(1, 3)? {
                    r.name = q.name;
                }
            }
        }
        let [answer, authority, additional] = records;
        Ok(Repr {
            id,
            flags,
            question,
            answer,
            authority,
            additional,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nbns::Compression;

    #[test]
    fn dotted_prefix_keeps_the_valid_part() {
        assert_eq!(dotted_prefix("", 254, false), "");
        assert_eq!(dotted_prefix("a.b.c", 254, false), "a.b.c");
        assert_eq!(dotted_prefix("a..b", 254, false), "a");
        assert_eq!(dotted_prefix(".a", 254, false), "");
        assert_eq!(dotted_prefix("a.", 254, false), "a");
        assert_eq!(dotted_prefix(&"x".repeat(70), 254, false), "x".repeat(63));
        assert_eq!(dotted_prefix("abcdef.gh", 5, false), "abcd");
        assert_eq!(dotted_prefix("ab.cdef", 6, false), "ab.cd");
        let s32 = "y".repeat(32);
        assert_eq!(dotted_prefix(&s32, 254, true), "y".repeat(31));
        assert_eq!(
            dotted_prefix(&format!("{s32}.z"), 254, false),
            format!("{s32}.z")
        );
        // Multi-byte characters are never split.
        let s = format!("{}é", "a".repeat(62));
        assert_eq!(dotted_prefix(&s, 254, false), "a".repeat(62));
        for budget in 0..300 {
            let long = "abc.defgh.".repeat(40);
            let p = dotted_prefix(&long, budget, false);
            let l = Labels::dotted(p).unwrap();
            assert!(l.encoded_len() <= budget);
        }
    }

    /// Runs `f` on Reprs generated from pseudo-random inputs of several sizes.
    fn for_generated(mut f: impl FnMut(&Repr<'_>)) {
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut data = vec![0u8; 4096];
        for i in 0..3000 {
            for b in data.iter_mut() {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                *b = state as u8;
            }
            let len = 16 + (i * 37) % 4000;
            let mut u = Unstructured::new(&data[..len]);
            if let Ok(repr) = Repr::arbitrary(&mut u) {
                f(&repr);
            }
        }
    }

    #[test]
    fn generated_reprs_emit_and_parse_back_equal() {
        let mut seen = 0;
        for_generated(|repr| {
            seen += 1;
            repr.validate().unwrap();
            for c in [Compression::None, Compression::Question] {
                let mut buf = vec![0u8; repr.buffer_len(c)];
                assert_eq!(repr.emit(&mut buf, c), Ok(buf.len()));
                assert_eq!(Repr::parse_bytes(&buf).as_ref(), Ok(repr), "{buf:02x?}");
            }
        });
        assert!(seen > 2000);
    }
}
