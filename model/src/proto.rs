//! The name-service vocabulary shared by the client and server state machines: what an NBNS
//! packet carries (RFC 1001/1002, MS-NBTE), without the byte layout (that is `nbns-wire`'s job).

use std::fmt::Debug;
use std::hash::Hash;

pub use smallvec::SmallVec;

/// How many addresses an [`AddrList`] keeps without allocating.
const INLINE: usize = 4;

/// A short list of addresses: kept inline up to four (as almost every record and answer is),
/// longer lists (special groups) on the heap. Cloning an inline list copies a few bytes, which
/// keeps model states cheap. Reads go through the slice (`Deref<Target = [A]>`); equality,
/// order and hash are the slice's. `Vec<A>`, arrays and slices convert with `.into()`.
#[derive(Clone)]
pub struct AddrList<A>(Repr<A>);

#[derive(Clone)]
enum Repr<A> {
    Empty,
    /// The first `.0` entries are the list (the rest repeat the first entry).
    Inline(u8, [A; INLINE]),
    Heap(Vec<A>),
}

impl<A> AddrList<A> {
    /// The empty list.
    pub const fn new() -> Self {
        AddrList(Repr::Empty)
    }
}

impl<A: Copy> AddrList<A> {
    /// A list of one address.
    pub fn one(a: A) -> Self {
        AddrList(Repr::Inline(1, [a; INLINE]))
    }

    /// Inserts `a` at position `i` (shifting the rest right).
    pub fn insert(&mut self, i: usize, a: A) {
        match &mut self.0 {
            Repr::Empty => {
                assert!(i == 0, "insertion index out of bounds");
                *self = AddrList::one(a);
            }
            Repr::Inline(n, arr) if usize::from(*n) < INLINE => {
                let n0 = usize::from(*n);
                assert!(i <= n0, "insertion index out of bounds");
                arr.copy_within(i..n0, i + 1);
                arr[i] = a;
                *n += 1;
            }
            Repr::Inline(n, arr) => {
                let mut v = arr[..usize::from(*n)].to_vec();
                v.insert(i, a);
                self.0 = Repr::Heap(v);
            }
            Repr::Heap(v) => v.insert(i, a),
        }
    }

    /// Appends `a`.
    pub fn push(&mut self, a: A) {
        self.insert(self.len(), a);
    }

    /// Removes and returns the entry at position `i`.
    pub fn remove(&mut self, i: usize) -> A {
        match &mut self.0 {
            Repr::Empty => panic!("removal index out of bounds"),
            Repr::Inline(n, arr) => {
                let n0 = usize::from(*n);
                assert!(i < n0, "removal index out of bounds");
                let a = arr[i];
                arr.copy_within(i + 1..n0, i);
                *n -= 1;
                if *n == 0 {
                    self.0 = Repr::Empty;
                }
                a
            }
            Repr::Heap(v) => v.remove(i),
        }
    }

    /// Keeps the entries for which `f` is true.
    pub fn retain(&mut self, mut f: impl FnMut(&A) -> bool) {
        *self = self.iter().copied().filter(|a| f(a)).collect();
    }
}

impl<A> Default for AddrList<A> {
    fn default() -> Self {
        AddrList::new()
    }
}

impl<A> std::ops::Deref for AddrList<A> {
    type Target = [A];
    fn deref(&self) -> &[A] {
        match &self.0 {
            Repr::Empty => &[],
            Repr::Inline(n, arr) => &arr[..usize::from(*n)],
            Repr::Heap(v) => v,
        }
    }
}

impl<A: Copy> FromIterator<A> for AddrList<A> {
    fn from_iter<I: IntoIterator<Item = A>>(iter: I) -> Self {
        let mut l = AddrList::new();
        for a in iter {
            l.push(a);
        }
        l
    }
}

impl<A: Copy> From<&[A]> for AddrList<A> {
    fn from(s: &[A]) -> Self {
        s.iter().copied().collect()
    }
}

impl<A: Copy> From<Vec<A>> for AddrList<A> {
    fn from(v: Vec<A>) -> Self {
        if v.len() > INLINE {
            AddrList(Repr::Heap(v))
        } else {
            v.as_slice().into()
        }
    }
}

impl<A: Copy, const K: usize> From<[A; K]> for AddrList<A> {
    fn from(s: [A; K]) -> Self {
        s[..].into()
    }
}

impl<'a, A> IntoIterator for &'a AddrList<A> {
    type Item = &'a A;
    type IntoIter = std::slice::Iter<'a, A>;
    fn into_iter(self) -> Self::IntoIter {
        use std::ops::Deref;
        self.deref().iter()
    }
}

impl<A: PartialEq> PartialEq for AddrList<A> {
    fn eq(&self, other: &Self) -> bool {
        self[..] == other[..]
    }
}

impl<A: Eq> Eq for AddrList<A> {}

impl<A: PartialOrd> PartialOrd for AddrList<A> {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        self[..].partial_cmp(&other[..])
    }
}

impl<A: Ord> Ord for AddrList<A> {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self[..].cmp(&other[..])
    }
}

impl<A: Hash> Hash for AddrList<A> {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self[..].hash(state)
    }
}

impl<A: Debug> Debug for AddrList<A> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

/// A sorted vector the set helpers work on.
pub(crate) trait SortedVec<T> {
    fn as_sorted(&self) -> &[T];
    fn insert_at(&mut self, i: usize, x: T);
    fn remove_at(&mut self, i: usize);
}

impl<T, const K: usize> SortedVec<T> for SmallVec<[T; K]> {
    fn as_sorted(&self) -> &[T] {
        self
    }
    fn insert_at(&mut self, i: usize, x: T) {
        self.insert(i, x);
    }
    fn remove_at(&mut self, i: usize) {
        self.remove(i);
    }
}

impl<T: Copy> SortedVec<T> for AddrList<T> {
    fn as_sorted(&self) -> &[T] {
        self
    }
    fn insert_at(&mut self, i: usize, x: T) {
        self.insert(i, x);
    }
    fn remove_at(&mut self, i: usize) {
        self.remove(i);
    }
}

/// Time in seconds since an arbitrary epoch chosen by the driver (the model keeps it at 0 and
/// fires deadlines nondeterministically; a real server passes a monotonic clock).
pub type Time = u64;

/// The key a state machine uses for a NetBIOS name (the 16-byte name plus scope in a real
/// server, a small integer in the model).
pub trait NameKey: Ord + Clone + Hash + Debug {
    /// True for special group names (suffix `<1C>`, the domain controllers group), whose
    /// records keep a list of up to 25 member addresses.
    fn is_special_group(&self) -> bool {
        false
    }

    /// True for the local master browser name (suffix `<1D>`): every subnet has its own, so a
    /// WINS server acknowledges its registration without storing it and never answers a query
    /// for it (MS-NBTE; Samba's WINS server does the same for unique and group `<1D>`).
    fn is_local_master_browser(&self) -> bool {
        false
    }

    /// True when a registration of this name with this G bit is of a type Windows WINS
    /// refuses with RFS_ERR whatever the database holds: a `<1B>` (domain master browser)
    /// as a group, a `<1C>` (domain controllers) or `<1E>` (browser election) as a unique
    /// name (Samba's WINS server copies it: "w2k3 refuses ...").
    fn is_refused_type(&self, group: bool) -> bool {
        let _ = group;
        false
    }

    /// For a `<1C>` (domain controllers) name, the same name with suffix `<1B>` (the domain
    /// master browser, the PDC): Windows WINS and Samba list that name's address first in
    /// the answer to a `<1C>` query. `None` where the name space has no such pair.
    fn domain_master_of(&self) -> Option<Self> {
        None
    }
}

/// The suffixes [`NameKey::is_refused_type`] judges: `<1B>` may not be a group, `<1C>`
/// and `<1E>` may not be unique.
pub fn refused_type(suffix: u8, group: bool) -> bool {
    match suffix {
        0x1B => group,
        0x1C | 0x1E => !group,
        _ => false,
    }
}

/// The model's names are small integers; `0x1C` plays a `<1C>` special group, `0x1B` its
/// `<1B>` and `0x1D` a `<1D>` local master browser name.
impl NameKey for u8 {
    fn is_special_group(&self) -> bool {
        *self == 0x1C
    }

    fn is_local_master_browser(&self) -> bool {
        *self == 0x1D
    }

    fn is_refused_type(&self, group: bool) -> bool {
        refused_type(*self, group)
    }

    /// `0x1B` plays the `<1B>` of the `<1C>` name `0x1C`.
    fn domain_master_of(&self) -> Option<Self> {
        (*self == 0x1C).then_some(0x1B)
    }
}

/// The address type: an IPv4 address in a real server, a small integer in the model.
pub trait Addr: Ord + Copy + Hash + Debug {}
impl<T: Ord + Copy + Hash + Debug> Addr for T {}

/// NB_FLAGS owner node type (ONT bits 0x6000).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum NodeType {
    /// Broadcast node.
    B = 0,
    /// Point-to-point node: talks to its WINS server only.
    P = 1,
    /// Mixed node: broadcasts first, then asks the server.
    M = 2,
    /// Hybrid node: asks the server first, then broadcasts.
    H = 3,
}

impl NodeType {
    /// The ONT bits of NB_FLAGS.
    pub fn nb_flags_bits(self) -> u16 {
        (self as u16) << 13
    }
}

/// NBNS opcodes (header bits 0x7800 >> 11).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Opcode {
    /// 0: name query.
    Query = 0,
    /// 5: name registration.
    Registration = 5,
    /// 6: name release.
    Release = 6,
    /// 7: wait for acknowledgement (WACK).
    Wack = 7,
    /// 8: name refresh.
    Refresh = 8,
    /// 0xF: multihomed name registration (MS-NBTE).
    MultihomedRegistration = 0xF,
}

/// Response codes (header bits 0x000F).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Rcode {
    /// 0: success.
    Ok = 0,
    /// 1: format error.
    FmtErr = 1,
    /// 2: server failure.
    SrvErr = 2,
    /// 3: name does not exist.
    NamErr = 3,
    /// 4: unsupported request.
    ImpErr = 4,
    /// 5: refused.
    RfsErr = 5,
    /// 6: active error: the name is owned by another node.
    ActErr = 6,
    /// 7: name in conflict.
    CftErr = 7,
}

impl Rcode {
    /// The code's RFC 1002 name (`NAM_ERR`), as traces and scripts write it.
    pub fn name(self) -> &'static str {
        match self {
            Rcode::Ok => "OK",
            Rcode::FmtErr => "FMT_ERR",
            Rcode::SrvErr => "SRV_ERR",
            Rcode::NamErr => "NAM_ERR",
            Rcode::ImpErr => "IMP_ERR",
            Rcode::RfsErr => "RFS_ERR",
            Rcode::ActErr => "ACT_ERR",
            Rcode::CftErr => "CFT_ERR",
        }
    }
}

/// One name-service message. Requests carry the question and the additional NB record of a real
/// packet (group flag, node type, TTL, address); responses carry rcode, TTL and the NB address
/// list. `broadcast` is the B bit of the header.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Packet<N, A> {
    /// Name registration (opcode 5, or 0xF when `multihomed`).
    Register {
        name: N,
        group: bool,
        node: NodeType,
        ttl: u32,
        addr: A,
        multihomed: bool,
        broadcast: bool,
    },
    /// Name refresh (opcode 8).
    Refresh {
        name: N,
        group: bool,
        node: NodeType,
        ttl: u32,
        addr: A,
    },
    /// Name release (opcode 6). Sent by a server to a holder it is a release demand.
    Release {
        name: N,
        group: bool,
        node: NodeType,
        addr: A,
        broadcast: bool,
    },
    /// Name query (opcode 0). A server sends one to a holder to challenge it.
    Query { name: N, broadcast: bool },
    /// A positive (`rcode == Ok`) or negative response.
    Response {
        op: Opcode,
        name: N,
        rcode: Rcode,
        ttl: u32,
        group: bool,
        addrs: AddrList<A>,
    },
    /// WACK: the requester should wait `ttl` seconds for the final answer.
    Wack { name: N, ttl: u32, op: Opcode },
    /// A NetBIOS datagram to a name (UDP 138), from a name.
    Datagram { to: N, from: N },
    /// A NetBIOS session request to a name (TCP 139).
    SessionOpen { to: N, from: N },
    /// The end of a session.
    SessionClose { to: N, from: N },
}

impl<N, A> Packet<N, A> {
    /// The name a packet is about.
    pub fn name(&self) -> &N {
        match self {
            Packet::Register { name, .. }
            | Packet::Refresh { name, .. }
            | Packet::Release { name, .. }
            | Packet::Query { name, .. }
            | Packet::Response { name, .. }
            | Packet::Wack { name, .. } => name,
            Packet::Datagram { to, .. }
            | Packet::SessionOpen { to, .. }
            | Packet::SessionClose { to, .. } => to,
        }
    }
}

/// Inserts `x` into a sorted vector if absent; returns true when inserted.
pub(crate) fn set_insert<T: Ord>(v: &mut impl SortedVec<T>, x: T) -> bool {
    match v.as_sorted().binary_search(&x) {
        Ok(_) => false,
        Err(i) => {
            v.insert_at(i, x);
            true
        }
    }
}

/// Removes `x` from a sorted vector; returns true when it was there.
pub(crate) fn set_remove<T: Ord>(v: &mut impl SortedVec<T>, x: &T) -> bool {
    match v.as_sorted().binary_search(x) {
        Ok(i) => {
            v.remove_at(i);
            true
        }
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addr_list_inline_and_heap_behave_as_a_vec() {
        let mut l: AddrList<u8> = AddrList::new();
        let mut v: Vec<u8> = Vec::new();
        for (i, x) in [(0, 5), (0, 3), (2, 9), (1, 4), (4, 7), (0, 1), (3, 8)] {
            l.insert(i, x);
            v.insert(i, x);
            assert_eq!(l[..], v[..]);
        }
        assert_eq!(l, AddrList::from(v.clone()));
        for i in [2, 0, 3] {
            assert_eq!(l.remove(i), v.remove(i));
            assert_eq!(l[..], v[..]);
        }
        l.retain(|a| *a != 9);
        v.retain(|a| *a != 9);
        assert_eq!(l[..], v[..]);
        let a: AddrList<u8> = [1, 2].into();
        let mut b: AddrList<u8> = [1, 2, 3, 4, 5].into();
        b.remove(4);
        b.remove(3);
        b.remove(2);
        assert_eq!(a, b);
        let s = std::hash::RandomState::new();
        use std::hash::BuildHasher;
        assert_eq!(s.hash_one(&a), s.hash_one(&b));
        while !l.is_empty() {
            l.remove(0);
        }
        assert_eq!(l, AddrList::new());
    }
}
