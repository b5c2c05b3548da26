//! The records of a WINS database: what the server state machine keeps per name, what
//! replication carries between partners and what the conflict rules compare.

use crate::proto::{set_insert, set_remove, Addr, AddrList, NodeType, SmallVec, Time};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::hash::Hash;

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
    /// `(address, expiry)`, sorted, for the members of a special group registered at this
    /// server (each member's latest registration or refresh). Replicated members are not
    /// listed: they count as older than any local one. A full special group drops its oldest
    /// member for a new one ([`Record::oldest_member`]).
    pub member_expiry: AddrList<(A, Time)>,
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
        let addrs = &self.addrs;
        self.member_expiry
            .retain(|(x, _)| addrs.binary_search(x).is_ok());
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
        self.member_expiry.retain(|(x, _)| x != a);
        set_remove(&mut self.addrs, a)
    }

    /// Keeps the addresses for which `f` holds (with their owners).
    pub fn retain_addrs(&mut self, mut f: impl FnMut(&A) -> bool) {
        self.addrs.retain(&mut f);
        self.other_owners.retain(|(x, _)| f(x));
        self.member_expiry.retain(|(x, _)| f(x));
    }

    /// Records that member `a` of a special group, registered here, expires at `expires`.
    pub fn set_member_expiry(&mut self, a: A, expires: Time) {
        self.member_expiry.retain(|(x, _)| *x != a);
        set_insert(&mut self.member_expiry, (a, expires));
    }

    /// The member a full special group gives up for a new one (MS-NBTE 3.2.5.1: "the oldest
    /// stored address"). As Samba's WINS server: a replicated member before any registered
    /// here (the lowest address, as replicas carry no age), else the registered member that
    /// expires first (the lowest address of those that tie).
    pub fn oldest_member(&self) -> Option<A> {
        let local = |a: &A| {
            self.member_expiry
                .iter()
                .find(|(x, _)| x == a)
                .map(|&(_, t)| t)
        };
        self.addrs
            .iter()
            .find(|a| local(a).is_none())
            .or_else(|| self.addrs.iter().min_by_key(|a| local(a)))
            .copied()
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

/// Whether a record moves along by scavenging, and when: not static, and not an active replica
/// (replicas change only through replication); `None` for a record that never expires on its
/// own at the server `me`.
pub fn timer<N, A: Addr>(me: A, r: &Record<N, A>) -> Option<Time> {
    let ages = !(r.is_static || (r.state == RecState::Active && r.owner != me));
    ages.then_some(r.expires)
}

/// Up to this many records a database keeps inline, in a sorted vector (cheap to clone and
/// hash: a model's server holds a handful); above, a B-tree by name with a timer index.
const INLINE_MAX: usize = 32;

/// A server's records, one per name, in name order: lookups, inserts and removals in
/// O(log n), and the next expiry ([`Records::next_expiry`]) without a scan.
///
/// Up to [`INLINE_MAX`] records live in a sorted inline vector (no allocation for a model's
/// servers, and scanning a few is as fast as any index); above that, in a `BTreeMap` by name
/// beside a timer index: the set of `(expires, name)` of the records that age
/// ([`timer`]). The index is a pure function of the records (and the server's address), so
/// equality, hashing, ordering and `Debug` look at the records only, in name order: two
/// databases with the same records are equal whatever their representation.
#[derive(Clone)]
pub struct Records<N, A> {
    me: A,
    repr: Repr<N, A>,
}

#[derive(Clone)]
enum Repr<N, A> {
    Inline(SmallVec<[Record<N, A>; 2]>),
    Tree {
        map: BTreeMap<N, Record<N, A>>,
        timers: BTreeSet<(Time, N)>,
    },
}

impl<N, A> Records<N, A> {
    /// How many records.
    pub fn len(&self) -> usize {
        match &self.repr {
            Repr::Inline(v) => v.len(),
            Repr::Tree { map, .. } => map.len(),
        }
    }

    /// No records.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Every record, in name order.
    pub fn iter(&self) -> Iter<'_, N, A> {
        match &self.repr {
            Repr::Inline(v) => Iter::Inline(v.iter()),
            Repr::Tree { map, .. } => Iter::Tree(map.values()),
        }
    }
}

impl<N: Ord + Clone, A: Addr> Records<N, A> {
    /// No records, for the server at `me` (whose records age; see [`timer`]).
    pub fn new(me: A) -> Self {
        Records {
            me,
            repr: Repr::Inline(SmallVec::new()),
        }
    }

    /// The records of `recs` (for a name listed twice the first counts).
    pub fn from_records(me: A, recs: impl IntoIterator<Item = Record<N, A>>) -> Self {
        let mut v: Vec<Record<N, A>> = recs.into_iter().collect();
        v.sort_by(|a, b| a.name.cmp(&b.name));
        v.dedup_by(|later, first| later.name == first.name);
        let mut out = Records::new(me);
        if v.len() <= INLINE_MAX {
            out.repr = Repr::Inline(v.into_iter().collect());
        } else {
            out.repr = Records::tree(me, v);
        }
        out
    }

    fn tree(me: A, recs: impl IntoIterator<Item = Record<N, A>>) -> Repr<N, A> {
        let mut timers = BTreeSet::new();
        let map = recs
            .into_iter()
            .map(|r| {
                if let Some(t) = timer(me, &r) {
                    timers.insert((t, r.name.clone()));
                }
                (r.name.clone(), r)
            })
            .collect();
        Repr::Tree { map, timers }
    }

    /// The record of `name`.
    pub fn get(&self, name: &N) -> Option<&Record<N, A>> {
        match &self.repr {
            Repr::Inline(v) => v.binary_search_by(|r| r.name.cmp(name)).ok().map(|i| &v[i]),
            Repr::Tree { map, .. } => map.get(name),
        }
    }

    /// The record of `name`, to change in place (anything but its name); the timer index
    /// follows when the guard drops.
    pub fn get_mut(&mut self, name: &N) -> Option<RecordMut<'_, N, A>> {
        let me = self.me;
        match &mut self.repr {
            Repr::Inline(v) => {
                let i = v.binary_search_by(|r| r.name.cmp(name)).ok()?;
                Some(RecordMut {
                    rec: &mut v[i],
                    index: None,
                })
            }
            Repr::Tree { map, timers } => {
                let rec = map.get_mut(name)?;
                let before = timer(me, rec);
                Some(RecordMut {
                    rec,
                    index: Some(Reindex { timers, me, before }),
                })
            }
        }
    }

    /// Inserts `rec`, or replaces the record of its name.
    pub fn insert(&mut self, rec: Record<N, A>) {
        let me = self.me;
        match &mut self.repr {
            Repr::Inline(v) => {
                match v.binary_search_by(|r| r.name.cmp(&rec.name)) {
                    Ok(i) => v[i] = rec,
                    Err(i) => v.insert(i, rec),
                }
                if v.len() > INLINE_MAX {
                    let v = std::mem::take(v);
                    self.repr = Records::tree(me, v);
                }
            }
            Repr::Tree { map, timers } => {
                let new = timer(me, &rec).map(|t| (t, rec.name.clone()));
                if let Some(old) = map.insert(rec.name.clone(), rec) {
                    if let Some(t) = timer(me, &old) {
                        timers.remove(&(t, old.name));
                    }
                }
                if let Some(k) = new {
                    timers.insert(k);
                }
            }
        }
    }

    /// Removes the record of `name`.
    pub fn remove(&mut self, name: &N) -> Option<Record<N, A>> {
        let me = self.me;
        match &mut self.repr {
            Repr::Inline(v) => {
                let i = v.binary_search_by(|r| r.name.cmp(name)).ok()?;
                Some(v.remove(i))
            }
            Repr::Tree { map, timers } => {
                let old = map.remove(name)?;
                if let Some(t) = timer(me, &old) {
                    timers.remove(&(t, old.name.clone()));
                }
                if map.len() <= INLINE_MAX / 2 {
                    let v = std::mem::take(map).into_values().collect();
                    self.repr = Repr::Inline(v);
                }
                Some(old)
            }
        }
    }

    /// Changes every record in place with `f` (anything but its name), then rebuilds the timer
    /// index. O(n).
    pub fn update_all(&mut self, mut f: impl FnMut(&mut Record<N, A>)) {
        let me = self.me;
        match &mut self.repr {
            Repr::Inline(v) => v.iter_mut().for_each(f),
            Repr::Tree { map, timers } => {
                map.values_mut().for_each(&mut f);
                *timers = map
                    .values()
                    .filter_map(|r| Some((timer(me, r)?, r.name.clone())))
                    .collect();
            }
        }
    }

    /// The earliest expiry of a record that ages ([`timer`]).
    pub fn next_expiry(&self) -> Option<Time> {
        match &self.repr {
            Repr::Inline(v) => v.iter().filter_map(|r| timer(self.me, r)).min(),
            Repr::Tree { timers, .. } => timers.first().map(|(t, _)| *t),
        }
    }

    /// The names of the records that age and expire at `now` or before, in name order.
    /// O(log n + due) above the inline size.
    pub fn due(&self, now: Time) -> Vec<N> {
        match &self.repr {
            Repr::Inline(v) => v
                .iter()
                .filter(|r| timer(self.me, r).is_some_and(|t| t <= now))
                .map(|r| r.name.clone())
                .collect(),
            Repr::Tree { timers, .. } => {
                let mut names: Vec<N> = timers
                    .iter()
                    .take_while(|(t, _)| *t <= now)
                    .map(|(_, n)| n.clone())
                    .collect();
                names.sort();
                names
            }
        }
    }

    /// The names of the records that age ([`timer`]), in name order.
    pub fn aging(&self) -> impl Iterator<Item = &N> + '_ {
        self.iter()
            .filter(move |r| timer(self.me, r).is_some())
            .map(|r| &r.name)
    }

    #[cfg(test)]
    fn check_index(&self) {
        if let Repr::Tree { map, timers } = &self.repr {
            let want: BTreeSet<(Time, N)> = map
                .values()
                .filter_map(|r| Some((timer(self.me, r)?, r.name.clone())))
                .collect();
            assert!(&want == timers, "timer index out of step with the records");
            assert!(map.iter().all(|(n, r)| *n == r.name));
        }
    }
}

/// A record of [`Records`] being changed in place: dereferences to the record; when dropped,
/// moves the record in the timer index if its expiry or aging changed. Its name must not
/// change.
pub struct RecordMut<'a, N: Ord + Clone, A: Addr> {
    rec: &'a mut Record<N, A>,
    index: Option<Reindex<'a, N, A>>,
}

struct Reindex<'a, N, A> {
    timers: &'a mut BTreeSet<(Time, N)>,
    me: A,
    before: Option<Time>,
}

impl<N: Ord + Clone, A: Addr> std::ops::Deref for RecordMut<'_, N, A> {
    type Target = Record<N, A>;
    fn deref(&self) -> &Record<N, A> {
        self.rec
    }
}

impl<N: Ord + Clone, A: Addr> std::ops::DerefMut for RecordMut<'_, N, A> {
    fn deref_mut(&mut self) -> &mut Record<N, A> {
        self.rec
    }
}

impl<N: Ord + Clone, A: Addr> Drop for RecordMut<'_, N, A> {
    fn drop(&mut self) {
        let Some(ix) = self.index.take() else {
            return;
        };
        let after = timer(ix.me, self.rec);
        if after != ix.before {
            if let Some(t) = ix.before {
                ix.timers.remove(&(t, self.rec.name.clone()));
            }
            if let Some(t) = after {
                ix.timers.insert((t, self.rec.name.clone()));
            }
        }
    }
}

/// The records of a [`Records`], in name order.
pub enum Iter<'a, N, A> {
    #[doc(hidden)]
    Inline(std::slice::Iter<'a, Record<N, A>>),
    #[doc(hidden)]
    Tree(std::collections::btree_map::Values<'a, N, Record<N, A>>),
}

impl<'a, N, A> Iterator for Iter<'a, N, A> {
    type Item = &'a Record<N, A>;
    #[inline]
    fn next(&mut self) -> Option<&'a Record<N, A>> {
        match self {
            Iter::Inline(i) => i.next(),
            Iter::Tree(i) => i.next(),
        }
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        match self {
            Iter::Inline(i) => i.size_hint(),
            Iter::Tree(i) => i.size_hint(),
        }
    }
}

impl<N, A> DoubleEndedIterator for Iter<'_, N, A> {
    fn next_back(&mut self) -> Option<Self::Item> {
        match self {
            Iter::Inline(i) => i.next_back(),
            Iter::Tree(i) => i.next_back(),
        }
    }
}

impl<N, A> ExactSizeIterator for Iter<'_, N, A> {}

impl<'a, N, A> IntoIterator for &'a Records<N, A> {
    type Item = &'a Record<N, A>;
    type IntoIter = Iter<'a, N, A>;
    fn into_iter(self) -> Iter<'a, N, A> {
        self.iter()
    }
}

impl<N: PartialEq, A: PartialEq> PartialEq for Records<N, A> {
    fn eq(&self, other: &Self) -> bool {
        match (&self.repr, &other.repr) {
            (Repr::Inline(a), Repr::Inline(b)) => a == b,
            _ => self.len() == other.len() && self.iter().eq(other.iter()),
        }
    }
}
impl<N: Eq, A: Eq> Eq for Records<N, A> {}

impl<N: PartialOrd, A: PartialOrd> PartialOrd for Records<N, A> {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        match (&self.repr, &other.repr) {
            (Repr::Inline(a), Repr::Inline(b)) => a.partial_cmp(b),
            _ => self.iter().partial_cmp(other.iter()),
        }
    }
}

/// Lexicographic over the records in name order (as a sorted vector of them compares).
impl<N: Ord, A: Ord> Ord for Records<N, A> {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        match (&self.repr, &other.repr) {
            (Repr::Inline(a), Repr::Inline(b)) => a.cmp(b),
            _ => self.iter().cmp(other.iter()),
        }
    }
}

impl<N: Hash, A: Hash> Hash for Records<N, A> {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        state.write_usize(self.len());
        for r in self {
            r.hash(state);
        }
    }
}

impl<N: fmt::Debug, A: fmt::Debug> fmt::Debug for Records<N, A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
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
            member_expiry: AddrList::new(),
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

    impl<N, A> Record<N, A> {
        fn with_name<M>(self, name: M) -> Record<M, A> {
            Record {
                name,
                kind: self.kind,
                state: self.state,
                is_static: self.is_static,
                node: self.node,
                addrs: self.addrs,
                other_owners: self.other_owners,
                member_expiry: self.member_expiry,
                owner: self.owner,
                version: self.version,
                expires: self.expires,
            }
        }
    }

    fn hash_of<T: Hash>(t: &T) -> u64 {
        use std::hash::{BuildHasher, BuildHasherDefault};
        BuildHasherDefault::<std::collections::hash_map::DefaultHasher>::default().hash_one(t)
    }

    /// Random inserts, in-place changes and removals across the inline/tree boundary: the
    /// records match a plain sorted vector, the timer index matches the records, and equality,
    /// order and hash do not depend on the representation.
    #[test]
    fn records_match_a_sorted_vector_and_keep_their_timer_index() {
        let me = 10u8;
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut rnd = |n: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % n
        };
        let mut recs: Records<u16, u8> = Records::new(me);
        let mut want: Vec<Record<u16, u8>> = Vec::new();
        for step in 0..20_000 {
            // Grow to about 150 records, shrink to none, and again.
            let grow = (step / 2_500) % 2 == 0;
            let name = rnd(200) as u16;
            match rnd(10) {
                0..=3 if grow => {
                    let r = Record {
                        name,
                        expires: rnd(50),
                        is_static: rnd(8) == 0,
                        ..rec(10 + rnd(2) as u8, &[1]).with_name(0u16)
                    };
                    recs.insert(r.clone());
                    match want.binary_search_by_key(&name, |r| r.name) {
                        Ok(i) => want[i] = r,
                        Err(i) => want.insert(i, r),
                    }
                }
                4..=6 => {
                    let (t, st) = (rnd(50), rnd(3));
                    let state =
                        [RecState::Active, RecState::Released, RecState::Tombstone][st as usize];
                    if let Some(mut r) = recs.get_mut(&name) {
                        r.expires = t;
                        r.state = state;
                    }
                    if let Ok(i) = want.binary_search_by_key(&name, |r| r.name) {
                        want[i].expires = t;
                        want[i].state = state;
                    }
                }
                _ => {
                    let got = recs.remove(&name);
                    let had = want
                        .binary_search_by_key(&name, |r| r.name)
                        .ok()
                        .map(|i| want.remove(i));
                    assert_eq!(got, had);
                }
            }
            recs.check_index();
            assert_eq!(recs.len(), want.len());
            assert!(recs.iter().eq(want.iter()));
            assert_eq!(recs.get(&name), want.iter().find(|r| r.name == name));
            let aging = want.iter().filter_map(|r| timer(me, r));
            assert_eq!(recs.next_expiry(), aging.min());
            let now = rnd(50);
            let due: Vec<u16> = want
                .iter()
                .filter(|r| timer(me, r).is_some_and(|t| t <= now))
                .map(|r| r.name)
                .collect();
            assert_eq!(recs.due(now), due);
            if step % 97 == 0 {
                // The same records in the other representation (or the same one rebuilt).
                let other = Records::from_records(me, want.iter().rev().cloned());
                other.check_index();
                assert_eq!(recs, other);
                assert_eq!(recs.cmp(&other), std::cmp::Ordering::Equal);
                assert_eq!(hash_of(&recs), hash_of(&other));
                let inline: SmallVec<[Record<u16, u8>; 2]> = want.iter().cloned().collect();
                let forced = Records {
                    me,
                    repr: Repr::Inline(inline),
                };
                assert_eq!(recs, forced);
                assert_eq!(hash_of(&recs), hash_of(&forced));
                assert_eq!(format!("{recs:?}"), format!("{forced:?}"));
            }
        }
    }
}
