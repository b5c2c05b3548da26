//! The stateright model: WINS servers ([`crate::server`]), NBT clients ([`crate::client`]) and
//! replication ([`crate::replication`]) on an unordered network, plus the environment (apps
//! starting and exiting, peers sending datagrams and opening sessions, servers crashing, hosts
//! changing addresses, timers firing).
//!
//! The state machines run unchanged; this module only routes their packets and fires their
//! timers nondeterministically (time itself stays at 0: every deadline may pass at any moment).
//! A dedicated `Model` rather than stateright's `ActorModel` keeps the state small (no timers,
//! random choices or `Arc`s per actor) for speed; the network is a sorted multiset of messages,
//! unordered and (where a scenario says so) lossy.

use crate::client::{Client, ClientConfig, ClientOut, Dest, EntryState, Event};
use crate::proto::{Packet, SmallVec, Time};
use crate::replication;
use crate::server::{Kind, RecState, Send, Server, ServerConfig, Version};
use crate::Bugs;
use stateright::Property;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::ops::Deref;
use std::sync::Arc;

/// A name in the model (a small integer; see [`World::name_label`]).
pub type Name = u8;
/// An address in the model (clients 1.., servers 100..).
pub type Ip = u8;

/// The time the model runs at. Deadlines are fired nondeterministically instead.
pub const NOW: Time = 0;

/// A message in flight.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Msg {
    /// Sender address.
    pub src: Ip,
    /// Destination address.
    pub dst: Ip,
    /// Transaction id (NAME_TRN_ID): a client's request carries its transaction's, the
    /// server's answer echoes it; the server's own queries and release demands carry 0, and
    /// so do datagrams and sessions. See [`World::canonical_xids`].
    pub xid: u16,
    /// The packet.
    pub packet: Packet<Name, Ip>,
}

/// Whose id space a transaction id is from (see [`World::canonical_xids`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Owner {
    /// Client `c`'s transactions.
    Client(u8),
    /// Server `i`'s challenges.
    Server(u8),
}

/// Most servers a scenario has.
pub const MAX_SERVERS: usize = 4;
/// Most clients a scenario has.
pub const MAX_CLIENTS: usize = 4;

/// How the network and the timers behave (part of the model's configuration, not its state).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Net {
    /// Delay mode: a timer may fire while what it waits for is still in flight (at most
    /// `max_late` times a run); `false` is the original semantics (a timer fires only once
    /// nothing the waiting party expects can still arrive).
    pub delay: bool,
    /// Most timers that fire early (while an awaited message is in flight or, for a client,
    /// while the server still challenges for it) in one run (delay mode).
    pub max_late: u8,
    /// Most datagrams the network duplicates in one run (delay mode).
    pub max_dups: u8,
}

impl Net {
    /// Today's semantics before delay mode: timers only once nothing awaited can arrive, no
    /// duplicates.
    pub const NO_DELAY: Net = Net {
        delay: false,
        max_late: 0,
        max_dups: 0,
    };

    /// Delay mode with `max_late` early timers and `max_dups` duplicates a run.
    pub fn delays(max_late: u8, max_dups: u8) -> Net {
        Net {
            delay: true,
            max_late,
            max_dups,
        }
    }
}

/// A list of at most `K` items kept inline (no allocation; a clone copies the slots).
#[derive(Clone)]
pub struct Slots<T, const K: usize> {
    len: u8,
    items: [Option<T>; K],
}

impl<T, const K: usize> Slots<T, K> {
    /// The empty list.
    pub fn new() -> Self {
        Slots {
            len: 0,
            items: std::array::from_fn(|_| None),
        }
    }

    /// Number of items.
    pub fn len(&self) -> usize {
        usize::from(self.len)
    }

    /// No items.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The items in order.
    pub fn iter(&self) -> std::iter::Flatten<std::slice::Iter<'_, Option<T>>> {
        self.items[..self.len()].iter().flatten()
    }

    /// Inserts `x` at position `i`.
    pub fn insert(&mut self, i: usize, x: T) {
        let n = self.len();
        assert!(n < K, "more than {K} items (raise the bound in world.rs)");
        assert!(i <= n, "insertion index out of bounds");
        self.items[i..=n].rotate_right(1);
        self.items[i] = Some(x);
        self.len += 1;
    }

    /// Appends `x`.
    pub fn push(&mut self, x: T) {
        self.insert(self.len(), x);
    }

    /// Removes the item at position `i`.
    pub fn remove(&mut self, i: usize) -> T {
        let n = self.len();
        assert!(i < n, "removal index out of bounds");
        let x = self.items[i].take().expect("slot");
        self.items[i..n].rotate_left(1);
        self.len -= 1;
        x
    }

    /// Keeps the items for which `f` is true.
    pub fn retain(&mut self, mut f: impl FnMut(&T) -> bool) {
        let mut i = 0;
        while i < self.len() {
            if f(&self[i]) {
                i += 1;
            } else {
                self.remove(i);
            }
        }
    }

    /// Binary search in a sorted list.
    pub fn binary_search(&self, x: &T) -> Result<usize, usize>
    where
        T: Ord,
    {
        self.items[..self.len()].binary_search_by(|o| o.as_ref().expect("slot").cmp(x))
    }
}

impl<T, const K: usize> Default for Slots<T, K> {
    fn default() -> Self {
        Slots::new()
    }
}

impl<T, const K: usize> std::ops::Index<usize> for Slots<T, K> {
    type Output = T;
    fn index(&self, i: usize) -> &T {
        assert!(i < self.len(), "index out of bounds");
        self.items[i].as_ref().expect("slot")
    }
}

impl<T, const K: usize> std::ops::IndexMut<usize> for Slots<T, K> {
    fn index_mut(&mut self, i: usize) -> &mut T {
        assert!(i < self.len(), "index out of bounds");
        self.items[i].as_mut().expect("slot")
    }
}

impl<'a, T, const K: usize> IntoIterator for &'a Slots<T, K> {
    type Item = &'a T;
    type IntoIter = std::iter::Flatten<std::slice::Iter<'a, Option<T>>>;
    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

impl<T, const K: usize> FromIterator<T> for Slots<T, K> {
    fn from_iter<I: IntoIterator<Item = T>>(iter: I) -> Self {
        let mut s = Slots::new();
        for x in iter {
            s.push(x);
        }
        s
    }
}

impl<T: PartialEq, const K: usize> PartialEq for Slots<T, K> {
    fn eq(&self, other: &Self) -> bool {
        self.items[..self.len()] == other.items[..other.len()]
    }
}

impl<T: Eq, const K: usize> Eq for Slots<T, K> {}

impl<T: PartialOrd, const K: usize> PartialOrd for Slots<T, K> {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        self.items[..self.len()].partial_cmp(&other.items[..other.len()])
    }
}

impl<T: Ord, const K: usize> Ord for Slots<T, K> {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.items[..self.len()].cmp(&other.items[..other.len()])
    }
}

impl<T: Hash, const K: usize> Hash for Slots<T, K> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u8(self.len);
        for x in self.iter() {
            x.hash(state);
        }
    }
}

impl<T: fmt::Debug, const K: usize> fmt::Debug for Slots<T, K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

/// An actor's state shared between model states until one changes it (copy on write), with
/// its hash computed once per change: a model state hashes as a few words, and cloning one
/// copies pointers.
#[derive(Clone)]
pub struct Shared<T> {
    fp: u64,
    inner: Arc<T>,
}

fn hash_of<T: Hash>(v: &T) -> u64 {
    ahash::RandomState::with_seeds(0x6e62_6e73, 0x7769_6e73, 0x6d6f_6465, 0x6c21).hash_one(v)
}

impl<T: Hash + Clone> Shared<T> {
    /// Wraps an actor's state.
    pub fn new(v: T) -> Self {
        Shared {
            fp: hash_of(&v),
            inner: Arc::new(v),
        }
    }

    /// Changes the actor's state (copying it first when another model state shares it).
    pub fn update<R>(&mut self, f: impl FnOnce(&mut T) -> R) -> R {
        let r = f(Arc::make_mut(&mut self.inner));
        self.fp = hash_of(&*self.inner);
        r
    }
}

impl<T> Deref for Shared<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.inner
    }
}

impl<T: fmt::Debug> fmt::Debug for Shared<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.inner.fmt(f)
    }
}

impl<T> Hash for Shared<T> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u64(self.fp);
    }
}

impl<T: PartialEq> PartialEq for Shared<T> {
    fn eq(&self, other: &Self) -> bool {
        self.fp == other.fp && (Arc::ptr_eq(&self.inner, &other.inner) || self.inner == other.inner)
    }
}

impl<T: Eq> Eq for Shared<T> {}

impl<T: Ord> PartialOrd for Shared<T> {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl<T: Ord> Ord for Shared<T> {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.inner.cmp(&other.inner)
    }
}

/// The scenario family a [`World`] belongs to; it decides the environment's moves and the
/// properties.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ScenarioKind {
    /// Q153073: an M-node registers its names while the primary WINS may be down or crash.
    Failover,
    /// Two hosts compete for one unique name; apps start and exit; records are scavenged.
    Challenge,
    /// Q124565: an app exits and starts again while a peer sends datagrams and opens sessions.
    AppRestart,
    /// Q184832: a multihomed host registers from two NICs, releases, another host takes over.
    MhomedRelease,
    /// Q164016: a multihomed host registers a name that has a static mapping.
    StaticMhomed,
    /// Q135277: three replicating servers; a multihomed host moves to new addresses.
    Replication,
}

/// What the environment knows beyond the state machines (bounded counters and ghost facts).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Env {
    /// Bitmask of live servers.
    pub up: u8,
    /// Bitmask of powered-on clients.
    pub alive: u8,
    /// Bitmask of clients whose application is running.
    pub running: u8,
    /// App starts per client.
    pub starts: [u8; 4],
    /// An application start failed because its name was still in the local table.
    pub start_failed: bool,
    /// Server crashes so far.
    pub crashes: u8,
    /// Messages lost so far.
    pub drops: u8,
    /// Timers that fired early so far (delay mode).
    pub late: u8,
    /// Messages duplicated so far (delay mode).
    pub dups: u8,
    /// Challenge: bitmask of hosts whose belief that they hold the name the server may no
    /// longer back, through a race of delay mode: a challenge was decided against the host
    /// while its query or the host's answer was still on its way, or a release of the host's
    /// from a transaction that is over (a late retransmission or a duplicate) reached the
    /// server. Cleared when the host's app starts again.
    pub raced: u8,
    /// mhomed-release: a registration the host sent reached a server while the host was not
    /// waiting for it (a late or duplicated request: delay mode).
    pub stale_reg: bool,
    /// Replication scenario: the host has moved to its new addresses.
    pub moved: bool,
    /// The peer's resolved address for the app's name.
    pub resolved: Option<Ip>,
    /// The peer sent its datagram.
    pub dgram_sent: bool,
    /// Peer session: 0 none yet, 1 open, 2 closed.
    pub session: u8,
    /// The newest grant of a name by any server: (name, owner, version).
    pub latest: Option<(Name, Ip, Version)>,
    /// Clients 0 and 1 are interchangeable once these two addresses (their NICs) are swapped
    /// everywhere (set by symmetric scenarios; constant during a run). Used by
    /// [`representative`].
    pub symmetric_hosts: Option<(Ip, Ip)>,
}

/// The whole system's state.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct State {
    /// One per server of the scenario (shared between states until changed).
    pub servers: Slots<Shared<Server<Name, Ip>>, MAX_SERVERS>,
    /// One per client of the scenario (shared between states until changed).
    pub clients: Slots<Shared<Client<Name, Ip>>, MAX_CLIENTS>,
    /// Messages in flight (a sorted multiset; inline up to six, as is typical).
    pub net: SmallVec<[Msg; 6]>,
    /// Environment.
    pub env: Env,
}

/// A step of the model.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Action {
    /// A message arrives.
    Deliver(Msg),
    /// A message is lost.
    Drop(Msg),
    /// The network duplicates a message (delay mode): two copies are in flight.
    Duplicate(Msg),
    /// A client's retransmission timer fires.
    ClientTimeout(u8),
    /// A server gives up waiting for challenge answers for a name.
    ChallengeTimeout(u8, Name),
    /// A server's record for a name reaches its next scavenging step.
    Scavenge(u8, Name),
    /// A server crashes (and stays down).
    Crash(u8),
    /// Server `dst` pulls from its partner `src`.
    Pull { dst: u8, src: u8 },
    /// A client's application starts and adds its name.
    AppStart(u8, Name),
    /// A client's application exits and deletes its name.
    AppExit(u8, Name),
    /// A client refreshes a name (its refresh timer; fired when the server holding it died).
    Refresh(u8, Name),
    /// The peer looks the name up with WINS.
    Resolve(u8, Name),
    /// The peer sends a datagram to the name.
    Datagram(u8, Name),
    /// The peer opens a session to the name.
    SessionOpen(u8, Name),
    /// The peer closes its session.
    SessionClose(u8, Name),
    /// The multihomed host is switched off and comes back with new addresses.
    Move,
}

/// A configured scenario: the stateright model.
#[derive(Clone, Debug)]
pub struct World {
    /// Scenario name (for the CLI and reports).
    pub name: &'static str,
    /// Family.
    pub kind: ScenarioKind,
    /// Switched-on bugs.
    pub bugs: Bugs,
    /// Server addresses (index = server number).
    pub server_ips: Vec<Ip>,
    /// Server settings (shared).
    pub scfg: ServerConfig,
    /// Client settings (index = client number).
    pub ccfg: Vec<ClientConfig<Ip>>,
    /// Client labels for traces.
    pub client_labels: Vec<&'static str>,
    /// The names each client's application registers.
    pub wants: Vec<Vec<Name>>,
    /// Which client indexes start powered on.
    pub initially_alive: u8,
    /// Replication pull edges (dst, src).
    pub pulls: Vec<(u8, u8)>,
    /// Initial bitmasks of live servers (one initial state each).
    pub init_up: Vec<u8>,
    /// Most messages the network may lose.
    pub max_drops: u8,
    /// Network and timer semantics.
    pub net: Net,
    /// Most server crashes.
    pub max_crashes: u8,
    /// Most app starts per client.
    pub max_starts: u8,
    /// Static mappings entered at the start: (server, name, addresses).
    pub statics: Vec<(u8, Name, Vec<Ip>)>,
    /// Names and their labels.
    pub name_labels: Vec<(Name, &'static str)>,
    /// Set by a simulation run to stop its siblings (no state is within bounds once set).
    pub stop: Option<Arc<std::sync::atomic::AtomicBool>>,
}

impl World {
    /// A readable name, e.g. `FOO<00>`.
    pub fn name_label(&self, n: Name) -> String {
        self.name_labels
            .iter()
            .find(|(x, _)| *x == n)
            .map_or_else(|| format!("NAME{n}"), |(_, l)| l.to_string())
    }

    /// A readable node for an address: `client A (10.0.0.1)` or `WINS-1 (10.0.1.1)`.
    pub fn node_label(&self, ip: Ip) -> String {
        if let Some(s) = self.server_index(ip) {
            return format!("WINS-{}", s + 1);
        }
        if let Some(c) = self.client_of(ip) {
            return format!("{} (10.0.0.{ip})", self.client_labels[c]);
        }
        format!("10.0.0.{ip}")
    }

    /// The server number with address `ip`.
    pub fn server_index(&self, ip: Ip) -> Option<usize> {
        self.server_ips.iter().position(|s| *s == ip)
    }

    /// The client owning NIC address `ip`.
    pub fn client_of(&self, ip: Ip) -> Option<usize> {
        self.ccfg.iter().position(|c| c.nics.contains(&ip))
    }

    fn server_up(&self, s: &State, i: usize) -> bool {
        s.env.up & (1 << i) != 0
    }

    fn client_alive(&self, s: &State, c: usize) -> bool {
        s.env.alive & (1 << c) != 0
    }

    /// Is the node at `ip` able to receive (a live server or a powered-on client)?
    fn reachable(&self, s: &State, ip: Ip) -> bool {
        if let Some(i) = self.server_index(ip) {
            return self.server_up(s, i);
        }
        if let Some(c) = self.client_of(ip) {
            return self.client_alive(s, c);
        }
        false
    }

    fn push_msg(&self, s: &mut State, m: Msg) {
        if !self.reachable(s, m.dst) {
            return; // sent to a dead node: gone
        }
        let at = s.net.binary_search(&m).unwrap_or_else(|e| e);
        s.net.insert(at, m);
    }

    fn server_outputs(
        &self,
        s: &mut State,
        i: usize,
        since: Version,
        mut out: Vec<Send<Name, Ip>>,
    ) {
        let src = self.server_ips[i];
        for o in out.drain(..) {
            self.push_msg(
                s,
                Msg {
                    src,
                    dst: o.to,
                    xid: o.xid,
                    packet: o.packet,
                },
            );
        }
        self.note_grants(s, i, since);
    }

    /// Records the newest grant (for the replication convergence property): a record of its own
    /// the server wrote in this step (version at or above `since`).
    fn note_grants(&self, s: &mut State, i: usize, since: Version) {
        if self.kind != ScenarioKind::Replication {
            return;
        }
        let srv = &s.servers[i];
        if let Some(r) = srv
            .records()
            .filter(|r| {
                r.owner == srv.me
                    && r.version >= since
                    && r.state == RecState::Active
                    && !r.is_static
            })
            .max_by_key(|r| r.version)
        {
            s.env.latest = Some((r.name, r.owner, r.version));
        }
    }

    fn client_outputs(&self, s: &mut State, c: usize, mut out: Vec<ClientOut<Name, Ip>>) {
        for o in out.drain(..) {
            match o {
                ClientOut::Send {
                    from,
                    to: Dest::Unicast(to),
                    xid,
                    packet,
                } => self.push_msg(
                    s,
                    Msg {
                        src: from,
                        dst: to,
                        xid,
                        packet,
                    },
                ),
                // No other node on the segment answers broadcasts in these scenarios.
                ClientOut::Send {
                    to: Dest::Broadcast,
                    ..
                } => {}
                ClientOut::Event(Event::Resolved { addrs, .. }) => {
                    if self.kind == ScenarioKind::AppRestart && c == 1 {
                        s.env.resolved = addrs.first().copied();
                    }
                }
                ClientOut::Event(_) => {}
            }
        }
    }

    /// The two interchangeable hosts' addresses, when the scenario has such a pair: the
    /// challenge scenario's clients 0 and 1 (same settings and application, one NIC each).
    pub fn symmetric_hosts(&self) -> Option<(Ip, Ip)> {
        if self.kind != ScenarioKind::Challenge || self.ccfg.len() != 2 {
            return None;
        }
        let (a, b) = (&self.ccfg[0], &self.ccfg[1]);
        let same = a.nics.len() == 1
            && b.nics.len() == 1
            && a.node == b.node
            && a.wins == b.wins
            && a.retries == b.retries
            && self.wants[0] == self.wants[1]
            && self.initially_alive & 3 == 3;
        same.then(|| (a.nics[0], b.nics[0]))
    }

    /// No message in flight, every live client idle, no challenge pending on a live server.
    pub fn quiet(&self, s: &State) -> bool {
        s.net.is_empty()
            && s.clients
                .iter()
                .enumerate()
                .all(|(c, cl)| !self.client_alive(s, c) || cl.idle())
            && s.servers
                .iter()
                .enumerate()
                .all(|(i, sv)| !self.server_up(s, i) || sv.pending.is_empty())
    }

    fn pull_pending(&self, s: &State) -> bool {
        self.pulls.iter().any(|&(d, r)| {
            self.server_up(s, d as usize)
                && self.server_up(s, r as usize)
                && replication::pull_pending(&s.servers[d as usize], &s.servers[r as usize])
        })
    }

    fn start_app(&self, s: &mut State, c: usize, n: Name) {
        let mut out = Vec::new();
        s.env.raced &= !(1 << c);
        s.env.starts[c] += 1;
        s.env.running |= 1 << c;
        if s.clients[c]
            .update(|cl| cl.add_name(&self.ccfg[c], NOW, n, false, &mut out))
            .is_err()
        {
            s.env.start_failed = true;
        }
        self.client_outputs(s, c, out);
    }

    /// A client's timer fires only once nothing it waits for can still arrive: no packet from
    /// or to its NICs is in flight and no live server is still challenging on its behalf. A
    /// timeout thus means loss or a dead server, not an arbitrarily slow network.
    fn awaiting_answer(&self, s: &State, c: usize) -> bool {
        let nics = &self.ccfg[c].nics;
        s.net
            .iter()
            .any(|m| nics.contains(&m.src) || nics.contains(&m.dst))
            || s.servers.iter().enumerate().any(|(i, sv)| {
                self.server_up(s, i) && sv.pending.iter().any(|p| nics.contains(&p.requester))
            })
    }

    /// A live server is challenging for one of client `c`'s registrations. Its WACK promised
    /// an answer within the WACK TTL (60 s), longer than the challenge wait (3 s): the server's
    /// challenge timer always fires before a WACKed client's timer, so the client's does not
    /// race it even in delay mode (the final answer may still be late in flight).
    fn challenged_for(&self, s: &State, c: usize) -> bool {
        let nics = &self.ccfg[c].nics;
        s.servers.iter().enumerate().any(|(i, sv)| {
            self.server_up(s, i) && sv.pending.iter().any(|p| nics.contains(&p.requester))
        })
    }

    /// Whose transaction id a message carries: a client's request and the server's answer
    /// to it carry the client's ([`Owner::Client`]); a server's challenge query and the
    /// holder's answer carry the server's ([`Owner::Server`]); None for id 0 (release
    /// demands, datagrams, sessions).
    fn id_owner(&self, m: &Msg) -> Option<Owner> {
        if m.xid == 0 {
            return None;
        }
        let client = |ip| self.client_of(ip).map(|c| Owner::Client(c as u8));
        let server = |ip| self.server_index(ip).map(|i| Owner::Server(i as u8));
        match m.packet {
            Packet::Register { .. }
            | Packet::Refresh { .. }
            | Packet::Release { .. }
            | Packet::Query { .. } => client(m.src).or_else(|| server(m.src)),
            Packet::Response { .. } | Packet::Wack { .. } => {
                server(m.src).and(client(m.dst)).or_else(|| server(m.dst))
            }
            _ => None,
        }
    }

    /// The fast check of [`World::canonical_xids`] (most steps change no id): every owner's
    /// ids held are exactly 1..=k and its counter is k. Ids held as bits of a mask per owner.
    fn xids_canonical(&self, s: &State) -> bool {
        let mut masks = [0u32; MAX_CLIENTS + MAX_SERVERS];
        let mut note = |slot: usize, id: u16| match 1u32.checked_shl(u32::from(id)) {
            Some(bit) => {
                masks[slot] |= bit;
                true
            }
            None => false,
        };
        for (c, cl) in s.clients.iter().enumerate() {
            if let Some(op) = &cl.op {
                if !note(c, op.xid) {
                    return false;
                }
            }
        }
        for (i, sv) in s.servers.iter().enumerate() {
            for p in &sv.pending {
                if !note(MAX_CLIENTS + i, p.qxid) {
                    return false;
                }
                if p.xid != 0 {
                    if let Some(c) = self.client_of(p.from) {
                        if !note(c, p.xid) {
                            return false;
                        }
                    }
                }
                for &(from, xid, _) in &p.queued {
                    if let Some(c) = self.client_of(from) {
                        if !note(c, xid) {
                            return false;
                        }
                    }
                }
            }
        }
        for m in &s.net {
            let ok = match self.id_owner(m) {
                Some(Owner::Client(c)) => note(usize::from(c), m.xid),
                Some(Owner::Server(i)) => note(MAX_CLIENTS + usize::from(i), m.xid),
                None => true,
            };
            if !ok {
                return false;
            }
        }
        let canonical = |mask: u32, counter: u16| {
            let k = mask.count_ones();
            u32::from(counter) == k && mask == ((1u32 << k) - 1) << 1
        };
        s.clients
            .iter()
            .enumerate()
            .all(|(c, cl)| canonical(masks[c], cl.last_xid))
            && s.servers
                .iter()
                .enumerate()
                .all(|(i, sv)| canonical(masks[MAX_CLIENTS + i], sv.challenge_xid))
    }

    /// Renumbers every client's transaction ids and every server's challenge ids to 1..=k in
    /// the order they were given, k being how many of them the state still holds (a client's
    /// transaction in progress, a server's challenges, the messages that carry them), and
    /// sets the owner's counter to k. The state machines only compare ids for equality and a
    /// new transaction or challenge takes an id above every id held, so a state and its
    /// renumbering behave alike (a bisimulation): ids that left the system are forgotten
    /// instead of telling otherwise equal states apart, and the state space stays as small
    /// as it was without ids wherever no late answer is in flight.
    pub fn canonical_xids(&self, s: &mut State) {
        if self.xids_canonical(s) {
            return;
        }
        // (owner, id) pairs held: clients 0.., servers MAX_CLIENTS...
        let slot = |o: Owner| match o {
            Owner::Client(c) => usize::from(c),
            Owner::Server(i) => MAX_CLIENTS + usize::from(i),
        };
        let mut held: SmallVec<[(u8, u16); 16]> = SmallVec::new();
        for (c, cl) in s.clients.iter().enumerate() {
            if let Some(op) = &cl.op {
                held.push((c as u8, op.xid));
            }
        }
        for (i, sv) in s.servers.iter().enumerate() {
            for p in &sv.pending {
                held.push(((MAX_CLIENTS + i) as u8, p.qxid));
                if p.xid != 0 {
                    if let Some(c) = self.client_of(p.from) {
                        held.push((c as u8, p.xid));
                    }
                }
                for &(from, xid, _) in &p.queued {
                    if let Some(c) = self.client_of(from) {
                        held.push((c as u8, xid));
                    }
                }
            }
        }
        for m in &s.net {
            if let Some(o) = self.id_owner(m) {
                held.push((slot(o) as u8, m.xid));
            }
        }
        held.sort_unstable();
        held.dedup();
        let counter = |s: &State, o: usize| {
            if o < MAX_CLIENTS {
                s.clients[o].last_xid
            } else {
                s.servers[o - MAX_CLIENTS].challenge_xid
            }
        };
        let owners = s.clients.len();
        let all = (0..owners).chain(MAX_CLIENTS..MAX_CLIENTS + s.servers.len());
        for o in all {
            let ids: SmallVec<[u16; 8]> = held
                .iter()
                .filter(|(x, _)| usize::from(*x) == o)
                .map(|(_, id)| *id)
                .collect();
            let k = ids.len() as u16;
            if counter(s, o) == k && ids.iter().zip(1..).all(|(x, i)| *x == i) {
                continue;
            }
            let map = |x: u16| match ids.binary_search(&x) {
                Ok(i) => i as u16 + 1,
                Err(_) => x,
            };
            let mut moved = false;
            for k in 0..s.net.len() {
                let m = &s.net[k];
                if self.id_owner(m).is_some_and(|w| slot(w) == o) {
                    let x = map(m.xid);
                    moved |= x != m.xid;
                    s.net[k].xid = x;
                }
            }
            if moved {
                s.net.sort();
            }
            if o < MAX_CLIENTS {
                s.clients[o].update(|cl| {
                    cl.last_xid = k;
                    if let Some(op) = cl.op.as_mut() {
                        op.xid = map(op.xid);
                    }
                });
                let nics = &self.ccfg[o].nics[..];
                for i in 0..s.servers.len() {
                    let stale = |p: &crate::server::Pending<Name, Ip>| {
                        p.xid != 0 && nics.contains(&p.from) && map(p.xid) != p.xid
                            || p.queued
                                .iter()
                                .any(|q| nics.contains(&q.0) && map(q.1) != q.1)
                    };
                    if s.servers[i].pending.iter().any(stale) {
                        s.servers[i].update(|sv| {
                            for p in sv.pending.iter_mut() {
                                if p.xid != 0 && nics.contains(&p.from) {
                                    p.xid = map(p.xid);
                                }
                                for q in p.queued.iter_mut().filter(|q| nics.contains(&q.0)) {
                                    q.1 = map(q.1);
                                }
                                p.queued.sort_unstable();
                            }
                        });
                    }
                }
            } else {
                s.servers[o - MAX_CLIENTS].update(|sv| {
                    sv.challenge_xid = k;
                    for p in sv.pending.iter_mut() {
                        p.qxid = map(p.qxid);
                    }
                });
            }
        }
    }

    fn answers_pending(&self, s: &State, i: usize, n: Name) -> bool {
        let me = self.server_ips[i];
        s.net.iter().any(|m| {
            (m.src == me && matches!(&m.packet, Packet::Query { name, .. } if *name == n))
                || (m.dst == me && matches!(&m.packet, Packet::Response { name, .. } if *name == n))
        })
    }
}

/// The transition system itself; the stateright `Model` binding (properties, how the explorer
/// shows steps) is in the `scenarios` module, which builds on this one.
impl World {
    /// The initial states (one per initial choice of live servers).
    pub fn initial_states(&self) -> Vec<State> {
        self.init_up
            .iter()
            .map(|&up| {
                let mut servers: Vec<Server<Name, Ip>> =
                    self.server_ips.iter().map(|&ip| Server::new(ip)).collect();
                for (i, n, addrs) in &self.statics {
                    servers[*i as usize].add_static(NOW, *n, Kind::Unique, addrs.clone());
                }
                let mut s = State {
                    servers: servers.into_iter().map(Shared::new).collect(),
                    clients: self
                        .ccfg
                        .iter()
                        .map(|c| Shared::new(Client::new(c)))
                        .collect(),
                    net: SmallVec::new(),
                    env: Env {
                        up,
                        alive: self.initially_alive,
                        symmetric_hosts: self.symmetric_hosts(),
                        ..Env::default()
                    },
                };
                // Applications that start with the host.
                if matches!(
                    self.kind,
                    ScenarioKind::Failover | ScenarioKind::StaticMhomed | ScenarioKind::Replication
                ) {
                    for c in 0..self.ccfg.len() {
                        if self.client_alive(&s, c) {
                            for &n in &self.wants[c] {
                                self.start_app(&mut s, c, n);
                            }
                        }
                    }
                }
                s
            })
            .collect()
    }

    /// Every action enabled in `s`.
    pub fn enabled_actions(&self, s: &State, acts: &mut Vec<Action>) {
        // The network.
        for (k, m) in s.net.iter().enumerate() {
            if k > 0 && s.net[k - 1] == *m {
                continue; // identical copies give identical successors
            }
            acts.push(Action::Deliver(m.clone()));
            if s.env.drops < self.max_drops {
                acts.push(Action::Drop(m.clone()));
            }
            // Only UDP datagrams are duplicated (name service on 137, datagrams on 138); a
            // session is TCP, whose requests arrive once.
            if self.net.delay
                && s.env.dups < self.net.max_dups
                && !matches!(
                    m.packet,
                    Packet::SessionOpen { .. } | Packet::SessionClose { .. }
                )
            {
                acts.push(Action::Duplicate(m.clone()));
            }
        }
        // Timers.
        let may_be_late = self.net.delay && s.env.late < self.net.max_late;
        for (c, cl) in s.clients.iter().enumerate() {
            let Some(op) = cl.op.as_ref() else {
                continue;
            };
            if !self.client_alive(s, c) {
                continue;
            }
            if !self.awaiting_answer(s, c)
                || (may_be_late && !(op.wacked && self.challenged_for(s, c)))
            {
                acts.push(Action::ClientTimeout(c as u8));
            }
        }
        for (i, sv) in s.servers.iter().enumerate() {
            if !self.server_up(s, i) {
                continue;
            }
            for p in &sv.pending {
                if may_be_late || !self.answers_pending(s, i, p.name) {
                    acts.push(Action::ChallengeTimeout(i as u8, p.name));
                }
            }
            if self.kind == ScenarioKind::Challenge {
                for r in sv.records() {
                    // Active records expire only when no host refreshes them any more.
                    let held = s.clients.iter().any(|cl| {
                        cl.entry(&r.name).is_some_and(|e| {
                            e.state == EntryState::Registered && e.server == Some(sv.me)
                        })
                    });
                    let busy = s.clients.iter().any(|cl| cl.busy_with(&r.name));
                    if sv.scavengeable().any(|n| *n == r.name)
                        && !(r.state == RecState::Active && (held || busy))
                    {
                        acts.push(Action::Scavenge(i as u8, r.name));
                    }
                }
            }
            if s.env.crashes < self.max_crashes {
                acts.push(Action::Crash(i as u8));
            }
        }
        for &(d, r) in &self.pulls {
            if self.server_up(s, d as usize)
                && self.server_up(s, r as usize)
                && replication::pull_pending(&s.servers[d as usize], &s.servers[r as usize])
            {
                acts.push(Action::Pull { dst: d, src: r });
            }
        }
        // The environment.
        match self.kind {
            ScenarioKind::Failover => {
                for (c, cl) in s.clients.iter().enumerate() {
                    if !cl.idle() {
                        continue;
                    }
                    for e in &cl.names {
                        if e.state == EntryState::Registered
                            && e.server.is_some_and(|ip| {
                                self.server_index(ip).is_some_and(|i| !self.server_up(s, i))
                            })
                        {
                            acts.push(Action::Refresh(c as u8, e.name));
                        }
                    }
                }
            }
            ScenarioKind::Challenge => {
                for c in 0..s.clients.len() {
                    let n = self.wants[c][0];
                    if s.env.running & (1 << c) != 0 {
                        acts.push(Action::AppExit(c as u8, n));
                    } else if s.env.starts[c] < self.max_starts {
                        acts.push(Action::AppStart(c as u8, n));
                    }
                }
            }
            ScenarioKind::AppRestart => {
                let n = self.wants[0][0];
                if s.env.running & 1 != 0 {
                    acts.push(Action::AppExit(0, n));
                } else if s.env.starts[0] < self.max_starts
                    && s.env.session != 1
                    && !s.net.iter().any(|m| {
                        matches!(
                            m.packet,
                            Packet::SessionOpen { .. } | Packet::SessionClose { .. }
                        )
                    })
                {
                    // The app starts again once its sessions are closed.
                    acts.push(Action::AppStart(0, n));
                }
                // The peer (client 1).
                if s.env.starts[0] > 0 {
                    match s.env.resolved {
                        None if s.clients[1].idle() && s.env.session == 0 => {
                            acts.push(Action::Resolve(1, n))
                        }
                        None => {}
                        Some(_) => {
                            if !s.env.dgram_sent {
                                acts.push(Action::Datagram(1, n));
                            }
                            match s.env.session {
                                0 => acts.push(Action::SessionOpen(1, n)),
                                // A session is TCP: its close cannot overtake its open.
                                1 if !s
                                    .net
                                    .iter()
                                    .any(|m| matches!(m.packet, Packet::SessionOpen { .. })) =>
                                {
                                    acts.push(Action::SessionClose(1, n))
                                }
                                _ => {}
                            }
                        }
                    }
                }
            }
            ScenarioKind::MhomedRelease => {
                let n = self.wants[0][0];
                if s.env.starts[0] == 0 {
                    acts.push(Action::AppStart(0, n));
                } else if s.env.running & 1 != 0 && s.clients[0].idle() {
                    acts.push(Action::AppExit(0, n));
                } else if s.env.running & 1 == 0 && s.env.starts[1] == 0 {
                    acts.push(Action::AppStart(1, n));
                }
            }
            ScenarioKind::StaticMhomed => {}
            ScenarioKind::Replication => {
                if !s.env.moved
                    && s.clients[0].idle()
                    && s.net.is_empty()
                    && s.clients[0]
                        .names
                        .iter()
                        .all(|e| e.state == EntryState::Registered)
                    && !self.pull_pending(s)
                {
                    acts.push(Action::Move);
                }
            }
        }
    }

    /// The state after `action`, or None when it changes nothing.
    pub fn step(&self, last: &State, action: Action) -> Option<State> {
        let mut s = last.clone();
        match action {
            Action::Deliver(m) => {
                let k = s.net.binary_search(&m).ok()?;
                s.net.remove(k);
                if let Some(i) = self.server_index(m.dst) {
                    if self.kind == ScenarioKind::Challenge
                        && matches!(m.packet, Packet::Release { .. })
                    {
                        if let Some(c) = self.client_of(m.src) {
                            // Stale: not the release the host waits for (its transaction is
                            // over). The server cannot tell; it releases whatever the host
                            // holds now, a registration made since included.
                            let waiting = s.clients[c].op.as_ref().is_some_and(|o| {
                                o.kind == crate::client::OpKind::Release && o.xid == m.xid
                            });
                            if !waiting {
                                s.env.raced |= 1 << c;
                            }
                        }
                    }
                    if self.kind == ScenarioKind::MhomedRelease
                        && matches!(m.packet, Packet::Register { .. })
                    {
                        if let Some(c) = self.client_of(m.src) {
                            // Stale: the host is not (or no longer) waiting for this
                            // registration from this NIC.
                            let nic = self.ccfg[c].nics.iter().position(|a| *a == m.src);
                            let waiting = s.clients[c].op.as_ref().is_some_and(|o| {
                                o.kind == crate::client::OpKind::Register
                                    && Some(o.nic as usize) == nic
                                    && m.packet.name() == &o.name
                            });
                            if !waiting {
                                s.env.stale_reg = true;
                            }
                        }
                    }
                    let mut out = Vec::new();
                    let since = s.servers[i].next_version;
                    s.servers[i]
                        .update(|x| x.handle(&self.scfg, NOW, m.src, m.xid, m.packet, &mut out));
                    self.server_outputs(&mut s, i, since, out);
                } else if let Some(c) = self.client_of(m.dst) {
                    let mut out = Vec::new();
                    s.clients[c].update(|x| {
                        x.on_packet(&self.ccfg[c], NOW, m.src, m.dst, m.xid, m.packet, &mut out)
                    });
                    self.client_outputs(&mut s, c, out);
                }
            }
            Action::Drop(m) => {
                let k = s.net.binary_search(&m).ok()?;
                s.net.remove(k);
                s.env.drops += 1;
            }
            Action::Duplicate(m) => {
                s.net.binary_search(&m).ok()?;
                s.env.dups += 1;
                let at = s.net.binary_search(&m).unwrap_or_else(|e| e);
                s.net.insert(at, m);
            }
            Action::ClientTimeout(c) => {
                let c = c as usize;
                if self.awaiting_answer(last, c) {
                    s.env.late += 1;
                }
                let mut out = Vec::new();
                s.clients[c].update(|x| x.timeout(&self.ccfg[c], NOW, &mut out));
                self.client_outputs(&mut s, c, out);
            }
            Action::ChallengeTimeout(i, n) => {
                let i = i as usize;
                if self.answers_pending(last, i, n) {
                    s.env.late += 1;
                    if self.kind == ScenarioKind::Challenge {
                        if let Some(p) = last.servers[i].pending_for(&n) {
                            for a in &p.waiting {
                                if let Some(c) = self.client_of(*a) {
                                    s.env.raced |= 1 << c;
                                }
                            }
                        }
                    }
                }
                let mut out = Vec::new();
                let since = s.servers[i].next_version;
                s.servers[i].update(|x| x.challenge_timeout(&self.scfg, NOW, &n, &mut out));
                self.server_outputs(&mut s, i, since, out);
            }
            Action::Scavenge(i, n) => {
                s.servers[i as usize].update(|x| x.scavenge(&self.scfg, NOW, &n));
            }
            Action::Crash(i) => {
                s.env.up &= !(1 << i);
                s.env.crashes += 1;
                let ip = self.server_ips[i as usize];
                s.net.retain(|m| m.dst != ip);
            }
            Action::Pull { dst, src } => {
                let src_copy = s.servers[src as usize].clone();
                let i = dst as usize;
                let since = s.servers[i].next_version;
                let mut out = Vec::new();
                s.servers[i].update(|d| replication::pull(d, &self.scfg, NOW, &src_copy, &mut out));
                self.server_outputs(&mut s, i, since, out);
            }
            Action::AppStart(c, n) => self.start_app(&mut s, c as usize, n),
            Action::AppExit(c, n) => {
                let c = c as usize;
                s.env.running &= !(1 << c);
                let mut out = Vec::new();
                s.clients[c].update(|x| x.delete_name(&self.ccfg[c], NOW, &n, &mut out));
                self.client_outputs(&mut s, c, out);
            }
            Action::Refresh(c, n) => {
                let c = c as usize;
                let mut out = Vec::new();
                s.clients[c].update(|x| x.refresh(&self.ccfg[c], NOW, &n, &mut out));
                self.client_outputs(&mut s, c, out);
            }
            Action::Resolve(c, n) => {
                let c = c as usize;
                let mut out = Vec::new();
                s.clients[c].update(|x| x.resolve(&self.ccfg[c], NOW, n, &mut out));
                self.client_outputs(&mut s, c, out);
            }
            Action::Datagram(c, n) => {
                s.env.dgram_sent = true;
                let to = s.env.resolved?;
                let from = self.ccfg[c as usize].nics[0];
                self.push_msg(
                    &mut s,
                    Msg {
                        src: from,
                        dst: to,
                        xid: 0,
                        packet: Packet::Datagram { to: n, from: 0 },
                    },
                );
            }
            Action::SessionOpen(c, n) => {
                s.env.session = 1;
                let to = s.env.resolved?;
                let from = self.ccfg[c as usize].nics[0];
                self.push_msg(
                    &mut s,
                    Msg {
                        src: from,
                        dst: to,
                        xid: 0,
                        packet: Packet::SessionOpen { to: n, from: 0 },
                    },
                );
            }
            Action::SessionClose(c, n) => {
                s.env.session = 2;
                let to = s.env.resolved?;
                let from = self.ccfg[c as usize].nics[0];
                self.push_msg(
                    &mut s,
                    Msg {
                        src: from,
                        dst: to,
                        xid: 0,
                        packet: Packet::SessionClose { to: n, from: 0 },
                    },
                );
            }
            Action::Move => {
                s.env.moved = true;
                s.env.alive &= !1;
                s.env.alive |= 2;
                let ips = self.ccfg[0].nics.clone();
                s.net.retain(|m| !ips.contains(&m.dst));
                for &n in &self.wants[1] {
                    self.start_app(&mut s, 1, n);
                }
            }
        }
        self.canonical_xids(&mut s);
        Some(s)
    }
}

/// The symmetry representative (`--symmetry`, DFS). In a scenario whose two hosts are
/// interchangeable (challenge: same configuration and application, one NIC each) a state and
/// its mirror image (the hosts' client states, environment bits and counters exchanged, their
/// addresses swapped in every record, challenge, answer and message) behave alike, so both map
/// to the smaller of the two. Other scenarios: the identity.
pub fn representative(s: &State) -> State {
    match s.env.symmetric_hosts {
        Some((a, b)) => {
            let m = mirror(s, a, b);
            if m < *s {
                m
            } else {
                s.clone()
            }
        }
        None => s.clone(),
    }
}

/// `s` with clients 0 and 1 exchanged and the addresses `a` and `b` swapped everywhere.
pub fn mirror(s: &State, a: Ip, b: Ip) -> State {
    use crate::proto::AddrList;
    let sw = |x: Ip| {
        if x == a {
            b
        } else if x == b {
            a
        } else {
            x
        }
    };
    let list = |l: &AddrList<Ip>| {
        let mut v: Vec<Ip> = l.iter().map(|x| sw(*x)).collect();
        v.sort_unstable();
        AddrList::from(v)
    };
    let packet = |p: &Packet<Name, Ip>| {
        let mut p = p.clone();
        match &mut p {
            Packet::Register { addr, .. }
            | Packet::Refresh { addr, .. }
            | Packet::Release { addr, .. } => *addr = sw(*addr),
            Packet::Response { addrs, .. } => *addrs = list(addrs),
            _ => {}
        }
        p
    };
    let bits = |x: u8| (x & !3) | ((x & 1) << 1) | ((x >> 1) & 1);
    let mut m = s.clone();
    for sv in 0..m.servers.len() {
        m.servers[sv].update(|sv| {
            sv.update_records(|r| {
                let pairs: Vec<(Ip, Ip)> = r.addr_owners().map(|(a, o)| (sw(a), o)).collect();
                r.set_addr_owners(pairs);
            });
            for p in sv.pending.iter_mut() {
                p.requester = sw(p.requester);
                p.from = sw(p.from);
                p.waiting = list(&p.waiting);
                p.claims = list(&p.claims);
                p.challenged = list(&p.challenged);
                p.listed = list(&p.listed);
                for q in p.queued.iter_mut() {
                    q.0 = sw(q.0);
                }
                p.queued.sort_unstable();
                if let Some(r) = p.replica.as_mut() {
                    let pairs: Vec<(Ip, Ip)> = r.addr_owners().map(|(a, o)| (sw(a), o)).collect();
                    r.set_addr_owners(pairs);
                }
            }
        });
    }
    if m.clients.len() >= 2 {
        let c0 = m.clients[0].clone();
        m.clients[0] = m.clients[1].clone();
        m.clients[1] = c0;
    }
    let mut net: Vec<Msg> = s
        .net
        .iter()
        .map(|x| Msg {
            src: sw(x.src),
            dst: sw(x.dst),
            xid: x.xid,
            packet: packet(&x.packet),
        })
        .collect();
    net.sort();
    m.net = net.into_iter().collect();
    m.env.alive = bits(m.env.alive);
    m.env.running = bits(m.env.running);
    m.env.raced = bits(m.env.raced);
    m.env.starts.swap(0, 1);
    m.env.resolved = m.env.resolved.map(sw);
    m
}

// ---------------------------------------------------------------------------------------------
// Properties, named after their promises. Each takes the model and a state.

/// Every server: the versions of its own records are distinct and below its counter, and every
/// replica's version is covered by its owner-version map (so later pulls never go backwards).
pub fn versions_increase(w: &World, s: &State) -> bool {
    s.servers.iter().all(|sv| {
        let mut own: SmallVec<[Version; 8]> = sv
            .records()
            .filter(|r| r.owner == sv.me)
            .map(|r| r.version)
            .collect();
        own.sort_unstable();
        let distinct = own.windows(2).all(|p| p[0] < p[1]);
        distinct
            && own.last().is_none_or(|v| *v < sv.next_version)
            && sv.records().all(|r| r.version <= sv.known_version(r.owner))
            && w.server_ips.contains(&sv.me)
    })
}

/// A state with no successor: every path of an acyclic model ends in one.
pub fn terminal(w: &World, s: &State) -> bool {
    let mut acts = Vec::new();
    w.enabled_actions(s, &mut acts);
    acts.into_iter().all(|a| w.step(s, a).is_none())
}

/// Q153073, a progress promise (`eventually`): every run ends in a state (no step left) where,
/// unless every server is down, every name the client asked for is registered, with a live
/// server that holds its address. True only at such terminal states, so that stateright's
/// `eventually` check, which remembers only whether the condition held somewhere on the first
/// path into a state, is sound at joins (see model/README.md, Liveness).
pub fn every_name_registered_on_live_server(w: &World, s: &State) -> bool {
    if !w.quiet(s) {
        return false;
    }
    let ok = s.env.up == 0 || every_name_registered_now(w, s);
    ok && terminal(w, s)
}

/// The state part of [`every_name_registered_on_live_server`]: every wanted name registered
/// with a live server listing the client's address (or a refresh is still due).
pub fn every_name_registered_now(w: &World, s: &State) -> bool {
    s.clients.iter().enumerate().all(|(c, cl)| {
        let dead_holder = cl.names.iter().any(|e| {
            e.state == EntryState::Registered
                && e.server
                    .is_some_and(|ip| w.server_index(ip).is_some_and(|i| !w.server_up(s, i)))
        });
        if dead_holder {
            return true; // a refresh is still due
        }
        let nic = w.ccfg[c].nics[0];
        w.wants[c].iter().all(|n| {
            cl.entry(n).is_some_and(|e| {
                e.state == EntryState::Registered
                    && e.server.is_some_and(|ip| {
                        w.server_index(ip).is_some_and(|i| {
                            w.server_up(s, i)
                                && s.servers[i]
                                    .active(n)
                                    .is_some_and(|r| r.addrs.contains(&nic))
                        })
                    })
            })
        })
    })
}

/// A failover really happens: a name ends up registered with the configured backup.
pub fn failover_happens(w: &World, s: &State) -> bool {
    let backup = w.ccfg[0].wins[1];
    s.clients[0]
        .names
        .iter()
        .any(|e| e.state == EntryState::Registered && e.server == backup)
        && s.env.up & 1 == 0
}

/// No two different hosts both hold one unique name as registered with the same server, and a
/// host that holds a name with a server has its address in that server's active record.
/// Restated for delay mode: a host the server's challenge timer decided against while the
/// query or its answer was still on its way ([`Env::raced`]) may still believe it holds the
/// name (RFC 1002 leaves it so until its next refresh, which the server treats as a
/// registration and challenges); such a host does not count.
pub fn no_two_hosts_hold_unique_name(w: &World, s: &State) -> bool {
    for (i, sv) in s.servers.iter().enumerate() {
        if !w.server_up(s, i) {
            continue;
        }
        for n in w.name_labels.iter().map(|(n, _)| *n) {
            let mut holders = s
                .clients
                .iter()
                .enumerate()
                .filter(|(c, cl)| {
                    w.client_alive(s, *c)
                        && s.env.raced & (1 << c) == 0
                        && cl.entry(&n).is_some_and(|e| {
                            !e.group && e.state == EntryState::Registered && e.server == Some(sv.me)
                        })
                })
                .map(|(c, _)| c);
            let first = holders.next();
            if holders.next().is_some() {
                return false;
            }
            // Holders the server does not list are allowed only while their own release or a
            // takeover is still being decided (the server never grants without a challenge).
            if let Some(c) = first {
                let listed = sv
                    .active(&n)
                    .is_some_and(|r| w.ccfg[c].nics.iter().any(|a| r.addrs.contains(a)));
                if !listed && sv.pending_for(&n).is_none() {
                    return false;
                }
            }
        }
    }
    true
}

/// A name really is challenged: some server waits for a holder's answer.
pub fn name_is_challenged(_w: &World, s: &State) -> bool {
    s.servers.iter().any(|sv| !sv.pending.is_empty())
}

/// A newcomer takes a name over after the old holder let go of it.
pub fn newcomer_takes_over(w: &World, s: &State) -> bool {
    // Either host may be the newcomer (symmetric, so symmetry reduction keeps it visible).
    let n = w.wants[0][0];
    let k = s.clients.len();
    (0..k).any(|c| {
        (0..k).any(|d| d != c && s.env.starts[d] > 0)
            && s.clients[c]
                .entry(&n)
                .is_some_and(|e| e.state == EntryState::Registered && e.server.is_some())
            && s.servers[0]
                .active(&n)
                .is_some_and(|r| r.addrs[..] == w.ccfg[c].nics[..])
    })
}

/// Q124565: an application that exited can always start again: its name was gone from the
/// local table, so adding it succeeded.
pub fn exited_app_names_can_register_again(_w: &World, s: &State) -> bool {
    !s.env.start_failed
}

/// The application runs a second time with its name registered.
pub fn app_runs_twice(w: &World, s: &State) -> bool {
    let n = w.wants[0][0];
    s.env.starts[0] >= 2
        && s.clients[0]
            .entry(&n)
            .is_some_and(|e| e.state == EntryState::Registered)
}

/// A datagram and a session reached the name before the app exits.
pub fn datagram_then_session(w: &World, s: &State) -> bool {
    let n = w.wants[0][0];
    s.env.dgram_sent
        && s.clients[0].entry(&n).is_some_and(|e| e.sessions == 1)
        && s.env.starts[0] == 1
}

/// Q184832: after a multihomed host released its name (its application exited and every
/// release was answered), no server's active record for the name lists any of its addresses.
pub fn released_mhomed_name_leaves_no_address(w: &World, s: &State) -> bool {
    let n = w.wants[0][0];
    let h = &s.clients[0];
    let released =
        s.env.starts[0] > 0 && s.env.running & 1 == 0 && h.entry(&n).is_none() && !h.busy_with(&n);
    let release_in_flight = s
        .net
        .iter()
        .any(|m| w.ccfg[0].nics.contains(&m.src) && matches!(m.packet, Packet::Release { .. }));
    if !released || release_in_flight || s.env.stale_reg {
        // A registration that reaches the server when the host no longer waits for it (a
        // duplicate, or a request delayed past its transaction) is acted on like a new one:
        // it can challenge the host's other NIC and cross the release, and re-add an address.
        // The server cannot tell it from a new one; the record lapses at its TTL (the host
        // never refreshes it). Not the KB's defect, which needs no stale request.
        return true;
    }
    s.servers.iter().all(|sv| {
        sv.active(&n)
            .is_none_or(|r| !r.addrs.iter().any(|a| w.ccfg[0].nics.contains(a)))
    })
}

/// The multihomed host's record lists both NICs.
pub fn mhomed_record_has_both_nics(w: &World, s: &State) -> bool {
    let n = w.wants[0][0];
    s.servers[0]
        .active(&n)
        .is_some_and(|r| r.kind == Kind::Multihomed && r.addrs[..] == w.ccfg[0].nics[..])
}

/// Another host registers the name after the multihomed host released it.
pub fn other_host_takes_released_name(w: &World, s: &State) -> bool {
    let n = w.wants[1][0];
    s.clients[1]
        .entry(&n)
        .is_some_and(|e| e.state == EntryState::Registered)
}

/// Q164016: a static mapping never drives a dynamically registering multihomed host into
/// conflict (negative answer or release demand: event 4320).
pub fn static_never_conflicts_mhomed_host(_w: &World, s: &State) -> bool {
    s.clients
        .iter()
        .all(|c| c.names.iter().all(|e| e.state != EntryState::Conflict))
}

/// The static mapping gives way to the host's dynamic multihomed registration.
pub fn static_gives_way(w: &World, s: &State) -> bool {
    let n = w.wants[0][0];
    s.servers[0]
        .active(&n)
        .is_some_and(|r| !r.is_static && r.addrs[..] == w.ccfg[0].nics[..])
}

/// Q135277, a progress promise (`eventually`): every run ends in a state (no step left) where
/// every server that pulls (directly or through partners) from the owner of the newest
/// registration holds exactly that record. True only at terminal states (see
/// [`every_name_registered_on_live_server`] for why).
pub fn partners_converge_on_newest(w: &World, s: &State) -> bool {
    if !w.quiet(s) || w.pull_pending(s) {
        return false;
    }
    partners_hold_newest(w, s) && terminal(w, s)
}

/// The state part of [`partners_converge_on_newest`].
pub fn partners_hold_newest(w: &World, s: &State) -> bool {
    let Some((n, owner, version)) = s.env.latest else {
        return true;
    };
    let Some(oi) = w.server_index(owner) else {
        return true;
    };
    let Some(newest) = s.servers[oi]
        .record(&n)
        .filter(|r| r.owner == owner && r.version == version)
    else {
        return true; // the owner moved on (e.g. released it); nothing to converge on yet
    };
    // Servers that reach the owner through pull edges.
    let mut reach: u8 = 1 << oi;
    loop {
        let before = reach;
        for &(d, r) in &w.pulls {
            if reach & (1 << r) != 0 {
                reach |= 1 << d;
            }
        }
        if reach == before {
            break;
        }
    }
    s.servers.iter().enumerate().all(|(i, sv)| {
        reach & (1 << i) == 0
            || sv.record(&n).is_some_and(|r| {
                r.owner == newest.owner
                    && r.version == newest.version
                    && r.addrs == newest.addrs
                    && r.state == newest.state
            })
    })
}

/// The moved host really re-registered at the other server and a partner pulled it.
pub fn moved_host_replicated(w: &World, s: &State) -> bool {
    let n = w.wants[1][0];
    s.env.moved
        && s.servers[1]
            .active(&n)
            .is_some_and(|r| r.owner == w.server_ips[1])
        && s.servers[s.servers.len() - 1]
            .record(&n)
            .is_some_and(|r| r.owner == w.server_ips[1])
}

/// Every property constructor, for the scenario tables.
pub type Prop = Property<World>;
