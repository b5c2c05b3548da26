//! The records of a WINS database: what the server state machine keeps per name, what
//! replication carries between partners and what the conflict rules compare.

use crate::proto::{set_insert, set_remove, Addr, AddrList, NodeType, SmallVec, Time};

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
    /// `(address, owner)`, sorted, for the addresses of `addrs` that another server than
    /// `owner` owns. MS-WINSRA 2.2.10.1 gives every address of a special group or
    /// multihomed record its own owner (a unique or group record's one address belongs to the
    /// record's owner); almost always every address is the record owner's, so only the
    /// exceptions are kept. Read through [`Record::owner_of`] and [`Record::addr_owners`];
    /// change through the methods below, which keep the two lists consistent.
    pub other_owners: AddrList<(A, A)>,
    /// The WINS server that owns the record (its address).
    pub owner: A,
    /// The owner's version id for this record.
    pub version: Version,
    /// When the current state ends (TTL, tombstone interval, tombstone timeout).
    pub expires: Time,
}

impl<N, A: Addr> Record<N, A> {
    /// The owner of address `a` of this record (the record's owner unless another server
    /// owns that address).
    pub fn owner_of(&self, a: A) -> A {
        match self.other_owners.binary_search_by(|(x, _)| x.cmp(&a)) {
            Ok(i) => self.other_owners[i].1,
            Err(_) => self.owner,
        }
    }

    /// Every address with its owner, sorted by address.
    pub fn addr_owners(&self) -> impl Iterator<Item = (A, A)> + '_ {
        self.addrs.iter().map(|&a| (a, self.owner_of(a)))
    }

    /// Sets the addresses and their owners from `(address, owner)` pairs (the first pair of
    /// an address counts), relative to the record's current `owner`.
    pub fn set_addr_owners(&mut self, pairs: impl IntoIterator<Item = (A, A)>) {
        let mut v: Vec<(A, A)> = pairs.into_iter().collect();
        v.sort_by_key(|x| x.0);
        v.dedup_by(|later, first| later.0 == first.0);
        self.addrs = v.iter().map(|p| p.0).collect();
        self.other_owners = v.into_iter().filter(|p| p.1 != self.owner).collect();
    }

    /// Adds address `a` owned by `owner`, or gives an address already listed that owner.
    /// Returns true when something changed.
    pub fn add_addr(&mut self, a: A, owner: A) -> bool {
        let before = self.owner_of(a);
        let added = set_insert(&mut self.addrs, a);
        if !added && before == owner {
            return false;
        }
        self.other_owners.retain(|(x, _)| *x != a);
        if owner != self.owner {
            set_insert(&mut self.other_owners, (a, owner));
        }
        true
    }

    /// Removes address `a` (and its owner). Returns true when it was listed.
    pub fn remove_addr(&mut self, a: &A) -> bool {
        self.other_owners.retain(|(x, _)| x != a);
        set_remove(&mut self.addrs, a)
    }

    /// Keeps the addresses for which `f` holds (with their owners).
    pub fn retain_addrs(&mut self, mut f: impl FnMut(&A) -> bool) {
        self.addrs.retain(&mut f);
        self.other_owners.retain(|(x, _)| f(x));
    }

    /// Makes `me` the record's owner; every address keeps its owner (Samba's
    /// `WINSDB_FLAG_TAKE_OWNERSHIP` changes only the record's owner).
    pub fn take_ownership(&mut self, me: A) {
        if self.owner == me {
            return;
        }
        let pairs: Vec<(A, A)> = self.addr_owners().collect();
        self.owner = me;
        self.set_addr_owners(pairs);
    }

    /// Whether some address is owned by `owner` (Samba's `r_contains_addrs_from_owner`).
    pub fn has_addr_of(&self, owner: A) -> bool {
        self.addr_owners().any(|(_, o)| o == owner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(owner: u8, addrs: &[u8]) -> Record<u8, u8> {
        Record {
            name: 1,
            kind: Kind::SpecialGroup,
            state: RecState::Active,
            is_static: false,
            node: NodeType::H,
            addrs: addrs.into(),
            other_owners: AddrList::new(),
            owner,
            version: 1,
            expires: 0,
        }
    }

    #[test]
    fn addresses_keep_their_owners_through_ownership_changes() {
        let mut r = rec(10, &[1, 2]);
        assert!(r.add_addr(3, 30));
        assert!(!r.add_addr(3, 30));
        assert_eq!(
            r.addr_owners().collect::<Vec<_>>(),
            [(1, 10), (2, 10), (3, 30)]
        );
        r.take_ownership(99);
        assert_eq!(r.owner, 99);
        assert_eq!(
            r.addr_owners().collect::<Vec<_>>(),
            [(1, 10), (2, 10), (3, 30)]
        );
        assert!(r.add_addr(1, 99));
        assert!(r.remove_addr(&3));
        assert_eq!(r.addr_owners().collect::<Vec<_>>(), [(1, 99), (2, 10)]);
        assert_eq!(r.other_owners[..], [(2, 10)]);
        r.retain_addrs(|a| *a == 1);
        assert!(r.other_owners.is_empty());
        assert!(r.has_addr_of(99) && !r.has_addr_of(10));
        r.set_addr_owners([(5, 99), (4, 7), (5, 8)]);
        assert_eq!(r.addr_owners().collect::<Vec<_>>(), [(4, 7), (5, 99)]);
    }
}
