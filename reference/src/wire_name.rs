//! [`WireName`]: a NetBIOS name with its scope as wire labels, the key the
//! reference server, its database and its replication records share.

use nbns_model::proto::NameKey;
use nbns_wire::{Labels, Name, NetbiosName};

/// A NetBIOS name with its scope: the server's name key. The scope is kept
/// as its labels in wire form (each length-prefixed, then a zero byte; no
/// bytes at all for no scope), so any scope a client sends goes back out
/// byte for byte, whatever bytes its labels hold.
///
/// WINS replication carries the scope as an opaque buffer of up to 238
/// bytes (MS-WINSRA 2.2.10.1; Samba stores whatever it gets): a 237-byte
/// scope, a 64-byte label or an empty label are fine there but are no NBNS
/// scope. Such a scope is kept as received, marked by a first byte
/// [`RAW_SCOPE`] (a label length is never above 63), so a replica with it
/// is stored, replicated onward and compared like any other. No NBNS packet
/// can name it, so it is never answered or sent on UDP.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct WireName {
    pub name: NetbiosName,
    scope: Box<[u8]>,
}

/// First byte of a stored scope that is replication's opaque buffer rather
/// than NBNS labels (see [`WireName`]).
pub const RAW_SCOPE: u8 = 0xff;

impl NameKey for WireName {
    fn is_special_group(&self) -> bool {
        self.name.suffix() == 0x1c
    }

    fn is_local_master_browser(&self) -> bool {
        self.name.suffix() == 0x1d
    }

    fn is_refused_type(&self, group: bool) -> bool {
        nbns_model::proto::refused_type(self.name.suffix(), group)
    }

    fn domain_master_of(&self) -> Option<Self> {
        if self.name.suffix() != 0x1c {
            return None;
        }
        let mut bytes = *self.name.as_bytes();
        bytes[15] = 0x1b;
        Some(WireName {
            name: NetbiosName::from_bytes(bytes),
            scope: self.scope.clone(),
        })
    }
}

impl WireName {
    /// A name without scope.
    pub fn unscoped(name: NetbiosName) -> WireName {
        WireName {
            name,
            scope: Box::default(),
        }
    }

    /// The key of a parsed name; `None` for a domain name.
    pub fn from_name(n: &Name<'_>) -> Option<WireName> {
        match n {
            Name::Netbios { name, scope } => {
                let mut wire = Vec::new();
                for label in scope.iter() {
                    wire.push(label.len() as u8);
                    wire.extend_from_slice(label);
                }
                if !wire.is_empty() {
                    wire.push(0);
                }
                Some(WireName {
                    name: *name,
                    scope: wire.into(),
                })
            }
            Name::Domain(_) => None,
        }
    }

    /// The name as the codec writes it. A replicated scope that is no NBNS
    /// scope (see [`WireName`]) has no NBNS form: the name comes without it
    /// (no NBNS packet names such a record, so none is ever sent).
    pub fn to_name(&self) -> Name<'_> {
        Name::Netbios {
            name: self.name,
            scope: if self.scope.is_empty() || self.is_raw() {
                Labels::EMPTY
            } else {
                Labels::Wire {
                    packet: &self.scope,
                    pos: 0,
                }
            },
        }
    }

    pub fn has_scope(&self) -> bool {
        !self.scope.is_empty()
    }

    /// The scope as stored: wire labels, or [`RAW_SCOPE`] and replication's
    /// buffer (see the type's comment).
    pub fn scope_wire(&self) -> &[u8] {
        &self.scope
    }

    /// Whether the scope is replication's opaque buffer (no NBNS form).
    pub fn is_raw(&self) -> bool {
        self.scope.first() == Some(&RAW_SCOPE)
    }

    /// A name whose scope is `wire` as [`WireName::scope_wire`] gives it,
    /// checked: labels of 1 to 63 bytes, a final zero byte, nothing after it,
    /// 255 bytes at most in all; or [`RAW_SCOPE`] and a replicated scope
    /// that is no such sequence of labels, up to 238 bytes.
    pub fn with_scope_wire(name: NetbiosName, wire: &[u8]) -> Option<WireName> {
        if let Some((&RAW_SCOPE, raw)) = wire.split_first() {
            return WireName::raw(name, raw);
        }
        WireName::labels(name, wire)
    }

    fn raw(name: NetbiosName, raw: &[u8]) -> Option<WireName> {
        if raw.is_empty()
            || raw.len() > nbns_wire::wrepl::MAX_SCOPE_LEN
            || WireName::labels_of_dotted(raw).is_some()
        {
            return None; // not canonical: an NBNS scope is kept as labels
        }
        let mut v = Vec::with_capacity(1 + raw.len());
        v.push(RAW_SCOPE);
        v.extend_from_slice(raw);
        Some(WireName {
            name,
            scope: v.into(),
        })
    }

    fn labels(name: NetbiosName, wire: &[u8]) -> Option<WireName> {
        if !wire.is_empty() {
            let mut at = 0;
            loop {
                let len = usize::from(*wire.get(at)?);
                if len == 0 {
                    break;
                }
                if len > nbns_wire::name::MAX_LABEL_LEN {
                    return None;
                }
                at += 1 + len;
            }
            if at + 1 != wire.len() || 1 + 32 + wire.len() > nbns_wire::name::MAX_NAME_LEN {
                return None;
            }
        }
        Some(WireName {
            name,
            scope: wire.into(),
        })
    }

    /// A name whose scope is given as dot-separated labels (as WINS
    /// replication carries it): kept as labels when it is an NBNS scope,
    /// else as received (see [`WireName`]); `None` only when it is longer
    /// than a name record holds (238 bytes).
    pub fn with_dotted_scope(name: NetbiosName, dotted: &[u8]) -> Option<WireName> {
        match WireName::labels_of_dotted(dotted) {
            Some(wire) => WireName::labels(name, &wire),
            None => WireName::raw(name, dotted),
        }
    }

    /// The labels of a dotted scope if it is an NBNS scope (labels of 1 to
    /// 63 bytes, the whole name within 255 bytes).
    fn labels_of_dotted(dotted: &[u8]) -> Option<Vec<u8>> {
        let mut wire = Vec::new();
        if !dotted.is_empty() {
            for label in dotted.split(|b| *b == b'.') {
                if label.is_empty() || label.len() > nbns_wire::name::MAX_LABEL_LEN {
                    return None;
                }
                wire.push(label.len() as u8);
                wire.extend_from_slice(label);
            }
            wire.push(0);
        }
        if 1 + 32 + wire.len() > nbns_wire::name::MAX_NAME_LEN {
            return None;
        }
        Some(wire)
    }

    /// The scope as dot-separated labels (empty for none), or a replicated
    /// scope as received.
    pub fn dotted_scope(&self) -> Vec<u8> {
        if self.is_raw() {
            return self.scope[1..].to_vec();
        }
        let mut out = Vec::new();
        if let Name::Netbios { scope, .. } = self.to_name() {
            for (i, label) in scope.iter().enumerate() {
                if i > 0 {
                    out.push(b'.');
                }
                out.extend_from_slice(label);
            }
        }
        out
    }
}

impl std::fmt::Display for WireName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.is_raw() {
            write!(f, "{}.", self.name)?;
            for &b in &self.scope[1..] {
                if b.is_ascii_graphic() {
                    write!(f, "{}", b as char)?;
                } else {
                    write!(f, "\\x{b:02x}")?;
                }
            }
            return Ok(());
        }
        write!(f, "{}", self.to_name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n() -> NetbiosName {
        NetbiosName::new(b"HOST", 0x1c).unwrap()
    }

    /// Scopes WINS replication carries that are no NBNS scope are kept as
    /// received (a 237-byte scope, a 64-byte label, an empty label).
    #[test]
    fn replicated_scopes_are_kept_faithfully() {
        let long = vec![b'a'; 237];
        let mut label64 = vec![b'b'; 64];
        label64.extend_from_slice(b".corp");
        for dotted in [&long[..], &label64[..], b"a..b", b".x", b"x."] {
            let w = WireName::with_dotted_scope(n(), dotted).expect("kept");
            assert!(w.is_raw() && w.has_scope());
            assert_eq!(w.dotted_scope(), dotted);
            let back = WireName::with_scope_wire(n(), w.scope_wire()).unwrap();
            assert_eq!(back, w);
            assert_ne!(w, WireName::unscoped(n()));
        }
        // An NBNS scope stays labels (the same key as from a packet).
        let w = WireName::with_dotted_scope(n(), b"corp.example").unwrap();
        assert!(!w.is_raw());
        assert_eq!(w.scope_wire()[0], 4);
        // The raw form never stands for an NBNS scope, and 238 bytes is the limit.
        assert!(WireName::with_scope_wire(n(), b"\xffcorp.example").is_none());
        assert!(WireName::with_dotted_scope(n(), &[b'a'; 238]).is_some());
        assert!(WireName::with_dotted_scope(n(), &[b'a'; 239]).is_none());
    }
}
