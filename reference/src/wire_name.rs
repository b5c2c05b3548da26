//! [`WireName`]: a NetBIOS name with its scope as wire labels, the key the
//! reference server, its database and its replication records share.

use nbns_model::proto::NameKey;
use nbns_wire::{Labels, Name, NetbiosName};

/// A NetBIOS name with its scope: the server's name key. The scope is kept
/// as its labels in wire form (each length-prefixed, then a zero byte; no
/// bytes at all for no scope), so any scope a client sends goes back out
/// byte for byte, whatever bytes its labels hold.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct WireName {
    pub name: NetbiosName,
    scope: Box<[u8]>,
}

impl NameKey for WireName {
    fn is_special_group(&self) -> bool {
        self.name.suffix() == 0x1c
    }

    fn is_local_master_browser(&self) -> bool {
        self.name.suffix() == 0x1d
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

    /// The name as the codec writes it.
    pub fn to_name(&self) -> Name<'_> {
        Name::Netbios {
            name: self.name,
            scope: if self.scope.is_empty() {
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

    /// The scope in wire form (see the type's comment).
    pub fn scope_wire(&self) -> &[u8] {
        &self.scope
    }

    /// A name whose scope is `wire`, checked: labels of 1 to 63 bytes, a
    /// final zero byte, nothing after it, 255 bytes at most in all.
    pub fn with_scope_wire(name: NetbiosName, wire: &[u8]) -> Option<WireName> {
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
    /// replication carries it); `None` when a label is empty or too long.
    pub fn with_dotted_scope(name: NetbiosName, dotted: &[u8]) -> Option<WireName> {
        let mut wire = Vec::new();
        if !dotted.is_empty() {
            for label in dotted.split(|b| *b == b'.') {
                if label.is_empty() {
                    return None;
                }
                wire.push(u8::try_from(label.len()).ok()?);
                wire.extend_from_slice(label);
            }
            wire.push(0);
        }
        WireName::with_scope_wire(name, &wire)
    }

    /// The scope as dot-separated labels (empty for none).
    pub fn dotted_scope(&self) -> Vec<u8> {
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
        write!(f, "{}", self.to_name())
    }
}
