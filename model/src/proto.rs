//! The name-service vocabulary shared by the client and server state machines: what an NBNS
//! packet carries (RFC 1001/1002, MS-NBTE), without the byte layout (that is `nbns-wire`'s job).

use std::fmt::Debug;
use std::hash::Hash;

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
}

/// The model's names are small integers; `0x1C` plays a `<1C>` special group.
impl NameKey for u8 {
    fn is_special_group(&self) -> bool {
        *self == 0x1C
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
        addrs: Vec<A>,
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
pub(crate) fn set_insert<T: Ord>(v: &mut Vec<T>, x: T) -> bool {
    match v.binary_search(&x) {
        Ok(_) => false,
        Err(i) => {
            v.insert(i, x);
            true
        }
    }
}

/// Removes `x` from a sorted vector; returns true when it was there.
pub(crate) fn set_remove<T: Ord>(v: &mut Vec<T>, x: &T) -> bool {
    match v.binary_search(x) {
        Ok(i) => {
            v.remove(i);
            true
        }
        Err(_) => false,
    }
}
