//! The records of a WINS database: what the server state machine keeps per name, what
//! replication carries between partners and what the conflict rules compare.

use crate::proto::{AddrList, NodeType, SmallVec, Time};

/// A per-owner version id (64-bit in WINS, strictly increasing per owner).
pub type Version = u64;

/// An owner-version map: the highest version held per owner, sorted by owner.
pub type OwnerVersions<A> = SmallVec<[(A, Version); 3]>;

/// The type of a name record.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    /// A unique name with one address.
    Unique,
    /// A normal group: members are not tracked (queries get 255.255.255.255); the record
    /// keeps its first registrant's address for replication.
    Group,
    /// A special group (`<1C>`): up to `special_group_max` member addresses.
    SpecialGroup,
    /// A unique name of a multihomed host: several addresses.
    Multihomed,
}

impl Kind {
    /// Unique or multihomed.
    pub fn is_unique(self) -> bool {
        matches!(self, Kind::Unique | Kind::Multihomed)
    }
}

/// The state of a name record.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RecState {
    /// Registered and in use.
    Active,
    /// Released by its holder or expired; kept until the tombstone interval ends.
    Released,
    /// Marked for deletion; replicated so partners delete their copies too.
    Tombstone,
}

/// One record of the WINS database.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Record<N, A> {
    /// The name (the sort key).
    pub name: N,
    /// Unique, group, special group or multihomed.
    pub kind: Kind,
    /// Active, released or tombstone.
    pub state: RecState,
    /// A static mapping entered by the administrator.
    pub is_static: bool,
    /// The node type of the registrant.
    pub node: NodeType,
    /// The addresses (sorted). Empty for a plain group.
    pub addrs: AddrList<A>,
    /// The WINS server that owns the record (its address).
    pub owner: A,
    /// The owner's version id for this record.
    pub version: Version,
    /// When the current state ends (TTL, tombstone interval, tombstone timeout).
    pub expires: Time,
}
