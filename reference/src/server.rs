//! The reference target as a whole WINS server: the NBNS packet layer
//! ([`PacketLayer`], around the model's state machine), its durable database
//! ([`Db`]) and WINS replication on TCP 42 ([`ReplicationService`]), sharing one lock.
//!
//! Durability: requests are handled in batches; the records a batch changed
//! are written in one transaction and committed before any reply of the batch
//! is sent. A reply the server sent is therefore on disk (with `--db`), and a
//! crash loses only requests nobody was answered for. A failed write stops
//! the server rather than answer what it could not store.
//!
//! Time is UNIX seconds on a monotonic clock, so expiry times mean the same
//! thing after a restart.

use crate::db::{Batch, Db, Stored};
use crate::packet_layer::{PacketConfig, PacketLayer};
use crate::replication::records::{from_wire, to_wire, WinsRecord};
use crate::replication::service::{ReplicaDb, ReplicationConfig, ReplicationService};
use crate::wire_name::WireName;
use nbns_model::proto::Time;
use nbns_model::server::{Server, ServerConfig};
use nbns_wire::wrepl::{OwnedNameRecord, OwnerRecord};
use std::io;
use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Everything the server can be told (`nbns-conform serve` fills it from its options).
#[derive(Debug, Clone)]
pub struct WinsServerConfig {
    /// The NBNS side and the state machine's settings (TTLs, scavenging).
    pub packet: PacketConfig,
    /// The database file; in memory when `None`.
    pub db: Option<PathBuf>,
    /// WINS replication; off when `None`.
    pub replication: Option<ReplicationConfig>,
    /// Requests handled before one commit at most (group commit under load).
    pub batch: usize,
}

impl WinsServerConfig {
    pub fn new(packet: PacketConfig) -> Self {
        WinsServerConfig {
            packet,
            db: None,
            replication: None,
            batch: 64,
        }
    }
}

/// Seconds since the UNIX epoch that never go backwards while we run.
#[derive(Debug, Clone, Copy)]
struct Clock {
    base: Time,
    start: Instant,
}

impl Clock {
    fn new() -> Clock {
        let base = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        Clock {
            base,
            start: Instant::now(),
        }
    }

    fn now(&self) -> Time {
        self.base + self.start.elapsed().as_secs()
    }
}

/// What the lock guards.
struct Core {
    packet: PacketLayer,
    db: Db,
    clock: Clock,
    /// Where replies, challenges and release demands go out (the receiving
    /// socket's twin, usable by the replication threads too).
    udp: UdpSocket,
    replies: Vec<(SocketAddr, Vec<u8>)>,
}

impl Core {
    /// Writes the records the last inputs changed, in one transaction.
    fn commit(&mut self) -> Result<(), String> {
        let server = self.packet.server_mut();
        let names = server.take_changed();
        if names.is_empty() {
            return Ok(());
        }
        let mut batch = Batch {
            me: server.me,
            next_version: server.next_version,
            known: server.known.to_vec(),
            ..Batch::default()
        };
        for name in names {
            match server.record(&name) {
                Some(r) => batch.put.push(r.clone()),
                None => batch.delete.push(name),
            }
        }
        self.db.write(&batch).map_err(|e| e.to_string())
    }

    /// Commits, then sends what is owed; nothing is sent when the write failed.
    fn commit_and_send(&mut self) -> Result<(), String> {
        let written = self.commit();
        if written.is_err() {
            self.replies.clear();
        }
        for (to, bytes) in self.replies.drain(..) {
            let _ = self.udp.send_to(&bytes, to);
        }
        written
    }

    fn own_max(&self) -> u64 {
        self.packet.server().next_version - 1
    }
}

/// The database as the replication service sees it.
#[derive(Clone)]
struct Shared {
    core: Arc<Mutex<Core>>,
    me: Ipv4Addr,
    /// Set when a write failed: the UDP loop stops the server.
    failed: Arc<Mutex<Option<String>>>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Core> {
        self.core.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Commits and sends what the last change owes; a failed write is
    /// remembered for the UDP loop, which stops the server.
    fn settle(&self, core: &mut Core) -> Result<(), String> {
        let r = core.commit_and_send();
        if let Err(e) = &r {
            *self.failed.lock().unwrap_or_else(|p| p.into_inner()) = Some(e.clone());
        }
        r
    }
}

impl ReplicaDb for Shared {
    fn me(&self) -> Ipv4Addr {
        self.me
    }

    fn owner_map(&self) -> Vec<OwnerRecord> {
        self.lock()
            .packet
            .server()
            .owner_versions()
            .into_iter()
            .map(|(address, max_version)| OwnerRecord {
                address,
                max_version,
                min_version: 0,
                owner_type: 1,
            })
            .collect()
    }

    fn entries(
        &self,
        owner: Ipv4Addr,
        min: u64,
        max: u64,
        max_bytes: usize,
    ) -> Vec<OwnedNameRecord> {
        let max = if max == 0 { u64::MAX } else { max };
        let core = self.lock();
        // The server's own names stay local: they are static records, and
        // the Samba AD DC cannot store a static active replica (it fails
        // the whole reply and stalls replication from us).
        let me = self.me;
        let packet = &core.packet;
        bounded_entries(packet.server(), owner, min, max, max_bytes, |r| {
            !(r.owner == me && packet.is_own_name(&r.name))
        })
    }

    fn known_version(&self, owner: Ipv4Addr) -> u64 {
        self.lock().packet.server().known_version(owner)
    }

    fn apply(
        &self,
        owner: Ipv4Addr,
        max: u64,
        records: Vec<OwnedNameRecord>,
    ) -> Result<(), String> {
        let mut guard = self.lock();
        let core = &mut *guard;
        let (recs, max) = replicas(core, owner, max, &records);
        let now = core.clock.now();
        core.packet
            .apply_pulled(now, owner, max, recs, &mut core.replies);
        self.settle(core)
    }

    fn verify(
        &self,
        owner: Ipv4Addr,
        max: u64,
        records: Vec<OwnedNameRecord>,
    ) -> Result<usize, String> {
        let mut guard = self.lock();
        let core = &mut *guard;
        let (recs, max) = replicas(core, owner, max, &records);
        let now = core.clock.now();
        let ended = core
            .packet
            .verify_replicas(now, owner, max, recs, &mut core.replies);
        self.settle(core).map(|()| ended)
    }
}

/// The records `replication::entries` gives for `owner` and `min..=max`
/// that `keep` keeps, the lowest versions first, as many as fit in
/// `max_bytes` on the wire (at least one). Memory and work stay bounded
/// whatever the database size: one pass over the records keeping at most
/// `max_bytes / 32` candidates (32 bytes: the shortest record on the wire)
/// in a heap, and only the records sent converted; `replication::entries`
/// would copy the whole range under the lock.
fn bounded_entries(
    server: &Server<WireName, Ipv4Addr>,
    owner: Ipv4Addr,
    min: u64,
    max: u64,
    max_bytes: usize,
    keep: impl Fn(&WinsRecord) -> bool,
) -> Vec<OwnedNameRecord> {
    use std::collections::BinaryHeap;
    const SHORTEST_RECORD: usize = 32;
    let cap = max_bytes / SHORTEST_RECORD + 1;
    // (version, name): names order as the records iterate.
    let mut heap: BinaryHeap<(u64, &WireName)> = BinaryHeap::new();
    for r in server.records() {
        // The filter of `replication::entries` (checked against it in the tests).
        if r.owner != owner
            || r.version < min
            || r.version > max
            || r.state == nbns_model::record::RecState::Released
        {
            continue;
        }
        if heap.len() == cap && heap.peek().is_some_and(|&(v, _)| v <= r.version) {
            continue;
        }
        if !keep(r) {
            continue;
        }
        if heap.len() == cap {
            heap.pop();
        }
        heap.push((r.version, &r.name));
    }
    let mut out = Vec::new();
    let mut bytes = 0;
    for (_, name) in heap.into_sorted_vec() {
        let w = to_wire(server.record(name).expect("a record just seen"), server.me);
        bytes += w.as_record().buffer_len();
        if bytes > max_bytes && !out.is_empty() {
            break;
        }
        out.push(w);
    }
    out
}

/// Name records a partner sent for `owner` (versions up to `max`), as the
/// model holds them, and the version to mark as seen: `max`, or just below
/// the first record the model cannot hold (logged), so that record is asked
/// for again at the next pull instead of being lost without a trace.
fn replicas(
    core: &Core,
    owner: Ipv4Addr,
    max: u64,
    records: &[OwnedNameRecord],
) -> (Vec<WinsRecord>, u64) {
    let now = core.clock.now();
    let cfg = &core.packet.config().server;
    let mut seen = max;
    let mut out = Vec::with_capacity(records.len());
    for w in records {
        match from_wire(w, owner, cfg, now) {
            Some(r) => out.push(r),
            None => {
                eprintln!(
                    "wrepl: cannot hold the record {} of owner {owner} (version {}); it is asked for again at the next pull",
                    w.as_record().name,
                    w.version
                );
                seen = seen.min(w.version.saturating_sub(1));
            }
        }
    }
    (out, seen)
}

/// Changes a (running) [`WinsServer`]'s state machine in-process, under its
/// lock, as the packet layer would: what `f` changes is committed to the
/// database and what it sends is dropped.
#[derive(Clone)]
pub struct ServerHandle {
    shared: Shared,
}

impl ServerHandle {
    /// Runs `f` on the state machine with its settings and the server's
    /// clock, then commits
    /// the records it changed in one transaction.
    pub fn update<R>(
        &self,
        f: impl FnOnce(&mut Server<WireName, Ipv4Addr>, &ServerConfig, Time) -> R,
    ) -> Result<R, String> {
        let mut guard = self.shared.lock();
        let core = &mut *guard;
        let now = core.clock.now();
        let cfg = core.packet.config().server.clone();
        let r = f(core.packet.server_mut(), &cfg, now);
        core.commit()?;
        Ok(r)
    }
}

/// A reference WINS server ready to serve on its UDP socket.
pub struct WinsServer {
    /// Where requests are received (replies go out through a clone in [`Core`]).
    socket: UdpSocket,
    shared: Shared,
    service: Option<ReplicationService>,
    batch: usize,
}

impl WinsServer {
    /// Opens (or creates) the database, restores the records and starts
    /// replication; `socket` is the server's NBNS socket.
    pub fn open(cfg: WinsServerConfig, socket: UdpSocket) -> Result<WinsServer, String> {
        let db = Db::open(cfg.db.as_deref()).map_err(|e| e.to_string())?;
        let stored = db.load().map_err(|e| e.to_string())?;
        let me = cfg.packet.addr;
        let server = restore(me, stored);
        let packet = PacketLayer::with_server(cfg.packet.clone(), server)?;
        let core = Core {
            packet,
            db,
            clock: Clock::new(),
            udp: socket
                .try_clone()
                .map_err(|e| format!("cannot share the UDP socket: {e}"))?,
            replies: Vec::new(),
        };
        let shared = Shared {
            core: Arc::new(Mutex::new(core)),
            me,
            failed: Arc::new(Mutex::new(None)),
        };
        // The server's own names, and anything the restore touched.
        shared.lock().commit()?;
        let service = match cfg.replication {
            Some(scfg) => Some(
                ReplicationService::start(scfg, Arc::new(shared.clone()))
                    .map_err(|e| format!("WINS replication: {e}"))?,
            ),
            None => None,
        };
        Ok(WinsServer {
            socket,
            shared,
            service,
            batch: cfg.batch.max(1),
        })
    }

    /// A handle that changes the running server's state machine directly
    /// ([`ServerHandle::update`]), e.g. to fill the database for a benchmark.
    pub fn handle(&self) -> ServerHandle {
        ServerHandle {
            shared: self.shared.clone(),
        }
    }

    /// Where replication listens, when it is on.
    pub fn replication_addr(&self) -> Option<std::net::SocketAddrV4> {
        self.service.as_ref().map(|s| s.local_addr())
    }

    /// Asks every replication partner for new records now.
    pub fn pull_now(&self) {
        if let Some(s) = &self.service {
            s.pull_now();
        }
    }

    /// Serves until `stop` is set (checked at least every 50 ms) or a
    /// database write fails.
    pub fn serve(&self, stop: &AtomicBool) -> io::Result<()> {
        let socket = &self.socket;
        let mut buf = vec![0u8; 65536];
        let mut announced = self.shared.lock().own_max();
        // Deadlines are whole seconds: waking every 50 ms is precise enough,
        // and setting the timeout once keeps a syscall off the per-packet path.
        socket.set_read_timeout(Some(Duration::from_millis(50)))?;
        while !stop.load(Ordering::Relaxed) {
            let first = match socket.recv_from(&mut buf) {
                Ok((n, from)) => Some((n, from)),
                // Timeouts, and ICMP errors from earlier sends (a holder that
                // is gone): neither is the server's problem.
                Err(_) => None,
            };
            let mut core = self.shared.lock();
            let core = &mut *core;
            let now = core.clock.now();
            if let Some((n, from)) = first {
                core.packet
                    .datagram(now, from, &buf[..n], &mut core.replies);
                // A request that changed the database waits for a commit:
                // let the requests already queued share it.
                if core.packet.server().has_changes() && self.batch > 1 {
                    socket.set_nonblocking(true)?;
                    for _ in 1..self.batch {
                        let Ok((n, from)) = socket.recv_from(&mut buf) else {
                            break;
                        };
                        core.packet
                            .datagram(now, from, &buf[..n], &mut core.replies);
                    }
                    socket.set_nonblocking(false)?;
                }
            }
            if core.packet.next_deadline().is_some_and(|d| d <= now) {
                core.packet.tick(now, &mut core.replies);
            }
            if let Err(e) = core.commit_and_send() {
                return Err(io::Error::other(format!(
                    "database write failed, stopping: {e}"
                )));
            }
            if let Some(e) = self
                .shared
                .failed
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .take()
            {
                return Err(io::Error::other(format!(
                    "database write failed, stopping: {e}"
                )));
            }
            let own = core.own_max();
            if own > announced {
                announced = own;
                if let Some(s) = &self.service {
                    s.notify_changed();
                }
            }
        }
        Ok(())
    }
}

/// The state machine as the database left it. Version ids go on from the
/// highest one ever given (the store keeps the counter; MS-WINSRA requires
/// ids to increase across restarts).
fn restore(me: Ipv4Addr, stored: Stored) -> Server<WireName, Ipv4Addr> {
    let mut server = Server::new(me);
    server.keep_journal();
    if let Some(old) = stored.me.filter(|old| *old != me) {
        eprintln!(
            "warning: the database was written by the server at {old}; its records stay that owner's replicas"
        );
    }
    server.next_version = stored.next_version.max(1);
    for r in &stored.records {
        if r.owner == me {
            server.next_version = server.next_version.max(r.version + 1);
        }
    }
    server.restore_records(stored.records);
    let mut known = stored.known;
    known.retain(|(o, _)| *o != me);
    known.sort();
    known.dedup_by(|a, b| a.0 == b.0);
    server.known = known.into_iter().collect();
    server
}

#[cfg(test)]
mod tests {
    use super::*;
    use nbns_model::proto::NodeType;
    use nbns_model::record::{Kind, RecState, Record};
    use nbns_wire::NetbiosName;

    fn rec(i: usize, owner: Ipv4Addr, version: u64, state: RecState) -> WinsRecord {
        let name = format!("N{i:07}");
        Record {
            name: crate::wire_name::WireName::unscoped(
                NetbiosName::new(name.as_bytes(), 0).unwrap(),
            ),
            kind: if i.is_multiple_of(7) {
                Kind::Multihomed
            } else {
                Kind::Unique
            },
            state,
            is_static: false,
            node: NodeType::H,
            addrs: (0..(i % 5) as u8 + 1)
                .map(|k| Ipv4Addr::new(10, 0, k, 1))
                .collect(),
            other_owners: Default::default(),
            member_expiry: Default::default(),
            owner,
            version,
            expires: Time::MAX,
        }
    }

    /// The bounded scan picks what `replication::entries` picks, the lowest
    /// versions first, and never more bytes than asked (one record at least).
    #[test]
    fn bounded_entries_are_the_lowest_of_replication_entries() {
        let a = Ipv4Addr::new(10, 1, 0, 1);
        let b = Ipv4Addr::new(10, 1, 0, 2);
        let mut server = Server::new(a);
        let mut recs = Vec::new();
        for i in 0..3000 {
            let owner = if i % 3 == 0 { b } else { a };
            let state = match i % 11 {
                0 => RecState::Released,
                1 => RecState::Tombstone,
                _ => RecState::Active,
            };
            // Versions not in name order.
            recs.push(rec(i, owner, ((i * 7919) % 3001) as u64 + 1, state));
        }
        server.restore_records(recs);
        for (min, max, bytes) in [
            (1, u64::MAX, 1 << 20),
            (1, 3001, 2000),
            (500, 900, 4096),
            (10, 10, 1),
        ] {
            for owner in [a, b] {
                let all: Vec<OwnedNameRecord> =
                    nbns_model::replication::entries(&server, owner, min, max)
                        .iter()
                        .map(|r| to_wire(r, server.me))
                        .collect();
                let got = bounded_entries(&server, owner, min, max, bytes, |_| true);
                assert_eq!(got, all[..got.len()], "{min}..={max}, {bytes} bytes");
                let sent: usize = got.iter().map(|r| r.as_record().buffer_len()).sum();
                assert!(sent <= bytes || got.len() == 1);
                if got.len() < all.len() {
                    assert!(sent + all[got.len()].as_record().buffer_len() > bytes);
                }
            }
        }
    }
}
