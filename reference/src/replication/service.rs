//! The WINS replication service (MS-WINSRA, TCP 42) of the reference WINS
//! server: it answers partners that pull from it, pulls from partners (on a
//! schedule, on request, and when a partner notifies it of changes) and
//! notifies partners when its own records change.
//!
//! The service knows the database only through [`ReplicaDb`]. Everything is
//! bounded: connections (`max_connections` in all, `max_connections_per_partner`
//! per partner; a connection from any other address is closed at accept and
//! never takes a slot), frames (`max_frame_len` inbound, `max_reply_bytes`
//! outbound: a send-entries reply carries the lowest versions of the range
//! that fit, and the puller asks again from the highest version it got, so
//! memory per connection does not grow with the database), time
//! (`idle_timeout` on every inbound read, `max_lifetime` per inbound
//! connection, `exchange_timeout` on every outbound step) and messages per
//! connection. Stopping is prompt: every
//! thread checks a stop flag at least every 100 ms, and the sockets of the
//! service are shut down so that no thread stays blocked in a read.
//!
//! Behaviour follows Samba's wrepl server where MS-WINSRA leaves room:
//! an update notification is pulled over the same connection and ended with
//! a stop association; an inform notification gets no reply and is pulled
//! on a connection of our own; a send-entries request with max version 0
//! means "all"; a pull whose records the database refuses ends with a close
//! (no stop association), as Samba does, so the pusher can tell.

use crate::replication::conn::{Conn, PartnerError};
use nbns_wire::wrepl::{
    OwnedMessage, OwnedNameRecord, OwnedReplication, OwnedRepr, OwnerRecord, Start, Stop,
    UpdateKind, DEFAULT_MAX_FRAME_LEN, OPCODE_BITS, PORT, START_PADDING, STOP_PADDING,
};
use std::collections::HashMap;
use std::fmt;
use std::io;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread;
use std::time::{Duration, Instant};

/// The WINS database the replication service serves and feeds.
pub trait ReplicaDb: Send + Sync + 'static {
    /// This server's owner address (its IPv4 address).
    fn me(&self) -> Ipv4Addr;
    /// The owner-version map, this server included.
    fn owner_map(&self) -> Vec<OwnerRecord>;
    /// `owner`'s records with versions in `min..=max` for a send-entries reply:
    /// the lowest versions first, as many as fit in `max_bytes` of wire
    /// encoding ([`NameRecord::buffer_len`](nbns_wire::wrepl::NameRecord::buffer_len)),
    /// at least one when the range holds any; in version order. Every
    /// record of the range below the highest version returned is returned.
    fn entries(
        &self,
        owner: Ipv4Addr,
        min: u64,
        max: u64,
        max_bytes: usize,
    ) -> Vec<OwnedNameRecord>;
    /// Highest version of `owner` this server holds (0 when none).
    fn known_version(&self, owner: Ipv4Addr) -> u64;
    /// Applies `records` pulled for `owner` (versions up to `max`), by the conflict rules;
    /// durable when it returns Ok.
    fn apply(&self, owner: Ipv4Addr, max: u64, records: Vec<OwnedNameRecord>)
        -> Result<(), String>;
    /// Verification: `records` is everything `owner` itself holds (versions up to `max`);
    /// active replicas of `owner` missing from it are ended. Returns how many were.
    fn verify(
        &self,
        owner: Ipv4Addr,
        max: u64,
        records: Vec<OwnedNameRecord>,
    ) -> Result<usize, String>;
}

/// How the service listens, whom it talks to and its bounds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplicationConfig {
    /// Where to listen (default me:42).
    pub bind: SocketAddrV4,
    /// Partner replication endpoints (port 42 normally); only these IPs may associate.
    pub partners: Vec<SocketAddrV4>,
    /// Periodic pull from every partner, the first one at start (0: never).
    pub pull_interval: Duration,
    /// How often the replicas a partner owns are verified against it (0: never).
    pub verify_interval: Duration,
    /// Local changes are coalesced this long before partners are notified.
    pub push_delay: Duration,
    /// Whether partners are notified of local changes at all (off: they pull, or push to
    /// us, on their own schedule).
    pub push: bool,
    /// A peer silent this long on an inbound connection is dropped.
    pub idle_timeout: Duration,
    /// Connect, or one reply, when we are the client.
    pub exchange_timeout: Duration,
    /// Concurrent inbound connections; beyond, new ones are closed at once.
    pub max_connections: usize,
    /// Concurrent inbound connections from one partner; beyond, closed at once.
    pub max_connections_per_partner: usize,
    /// An inbound connection is stopped this long after it was accepted,
    /// however busy (a partner reconnects for its next exchange).
    pub max_lifetime: Duration,
    /// Largest frame accepted; a longer length word drops the connection.
    pub max_frame_len: u32,
    /// Largest send-entries reply frame sent (records beyond wait for the
    /// puller's next request).
    pub max_reply_bytes: u32,
}

impl ReplicationConfig {
    /// Listens on me:42, no partners; pulls every 30 min, pushes after 1 s,
    /// drops idle peers after 30 s and any inbound connection after 10 min,
    /// 5 s per outbound step, 16 connections (4 per partner), frames up to
    /// 16 MiB in and [`DEFAULT_MAX_REPLY_BYTES`] out.
    pub fn new(me: Ipv4Addr) -> Self {
        ReplicationConfig {
            bind: SocketAddrV4::new(me, PORT),
            partners: Vec::new(),
            pull_interval: Duration::from_secs(30 * 60),
            verify_interval: Duration::from_secs(24 * 86_400),
            push_delay: Duration::from_secs(1),
            push: true,
            idle_timeout: Duration::from_secs(30),
            exchange_timeout: Duration::from_secs(5),
            max_connections: 16,
            max_connections_per_partner: 4,
            max_lifetime: Duration::from_secs(10 * 60),
            max_frame_len: DEFAULT_MAX_FRAME_LEN,
            max_reply_bytes: DEFAULT_MAX_REPLY_BYTES,
        }
    }
}

/// What the service has done since it started.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReplicationStats {
    /// Inbound connections served (the ones closed for lack of room excluded).
    pub accepted: u64,
    /// Inbound connections closed at once: `max_connections` were open, or
    /// `max_connections_per_partner` of that partner.
    pub refused_busy: u64,
    /// Inbound connections closed at accept: not a partner's address.
    pub refused_not_partner: u64,
    /// Inbound connections dropped after `idle_timeout` of silence.
    pub dropped_idle: u64,
    /// Inbound connections stopped at `max_lifetime`.
    pub dropped_lifetime: u64,
    /// Send-entries reply frames sent, and the records in them.
    pub replies_sent: u64,
    pub reply_records_sent: u64,
    /// Inbound connections dropped on a frame that does not parse.
    pub dropped_bad_frame: u64,
    /// Pulls (outbound, or after an update notification) that completed.
    pub pulls_ok: u64,
    pub pulls_failed: u64,
    /// Inform notifications delivered to a partner.
    pub pushes_ok: u64,
    pub pushes_failed: u64,
    /// Records handed to a successful `ReplicaDb::apply`.
    pub records_applied: u64,
    /// Verifications of a partner's replicas that completed.
    pub verifications_ok: u64,
    pub verifications_failed: u64,
}

/// Default [`ReplicationConfig::max_reply_bytes`]: 4 MiB, a quarter of the
/// 16 MiB frame limit (ours and the conformance runner's 4 MiB both take
/// it): about 87,000 records of a name without scope and one address,
/// 1,800 of the longest (255-byte name, 255 addresses).
pub const DEFAULT_MAX_REPLY_BYTES: u32 = 4 * 1024 * 1024;
/// Frame bytes of a send-entries reply besides its records (length word,
/// header, replication opcode, record count), with room to spare.
const REPLY_OVERHEAD: usize = 64;
/// Send-entries requests for one owner in one pull at most: a partner that
/// answers one record a time cannot keep a pull going for ever.
const MAX_PIECES_PER_OWNER: usize = 100_000;
/// Stop association reasons (MS-WINSRA): normal end, and error.
const STOP_NORMAL: u32 = 0;
const STOP_ERROR: u32 = 4;
/// Messages one inbound connection may send before it is stopped; with
/// `idle_timeout` this bounds how long a connection lives.
const MAX_MESSAGES_PER_CONN: usize = 10_000;
/// Owners pulled per owner-version map at most (a map is bounded by the
/// frame length anyway; this bounds the work a hostile map can ask for).
const MAX_OWNERS_PER_PULL: usize = 10_000;
/// Longest a thread goes without looking at the stop flag.
const STOP_POLL: Duration = Duration::from_millis(100);
/// How often the accept loop and a pending connect look again.
const ACCEPT_POLL: Duration = Duration::from_millis(20);
const CONNECT_POLL: Duration = Duration::from_millis(5);

/// A running replication service; dropping it stops it.
pub struct ReplicationService {
    shared: Arc<Shared>,
    threads: Vec<thread::JoinHandle<()>>,
}

impl ReplicationService {
    /// Binds `cfg.bind` now (the error names the address), then starts the
    /// accept thread and one worker per partner.
    pub fn start(cfg: ReplicationConfig, db: Arc<dyn ReplicaDb>) -> io::Result<ReplicationService> {
        let listener = TcpListener::bind(cfg.bind).map_err(|e| {
            io::Error::new(e.kind(), format!("cannot listen on tcp {}: {e}", cfg.bind))
        })?;
        listener.set_nonblocking(true)?;
        let local = match listener.local_addr()? {
            SocketAddr::V4(a) => a,
            SocketAddr::V6(a) => {
                return Err(io::Error::other(format!("{a} is not an IPv4 address")))
            }
        };
        let shared = Arc::new(Shared::new(cfg, db, local));
        let mut service = ReplicationService {
            shared: shared.clone(),
            threads: Vec::new(),
        };
        let s = shared.clone();
        service.threads.push(
            thread::Builder::new()
                .name("wrepl-accept".into())
                .spawn(move || accept_loop(listener, &s))?,
        );
        for i in 0..shared.partners.len() {
            let s = shared.clone();
            service.threads.push(
                thread::Builder::new()
                    .name(format!("wrepl-{}", shared.partners[i].addr))
                    .spawn(move || partner_worker(&s, i))?,
            );
        }
        Ok(service)
    }

    pub fn local_addr(&self) -> SocketAddrV4 {
        self.shared.local
    }

    /// Local records changed: after `push_delay` (changes meanwhile ride
    /// along), every partner gets an inform notification with our owner map
    /// in an association of its own, and connects back to pull.
    pub fn notify_changed(&self) {
        if !self.shared.cfg.push {
            return;
        }
        let due = Instant::now() + self.shared.cfg.push_delay;
        for p in &self.shared.partners {
            p.schedule(|j| {
                j.push_at.get_or_insert(due);
            });
        }
    }

    /// Pulls from every partner now, in the background (the partner
    /// workers start at once): owner-version map, then send-entries for
    /// each owner other than us whose max version is above ours, one
    /// `ReplicaDb::apply` per reply.
    pub fn pull_now(&self) {
        for p in &self.shared.partners {
            p.schedule(|j| j.pull = true);
        }
    }

    pub fn stats(&self) -> ReplicationStats {
        self.shared.counters.snapshot()
    }
}

impl Drop for ReplicationService {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        for p in &self.shared.partners {
            p.schedule(|_| {});
        }
        self.shared.sockets.shutdown_all();
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

// ---------------------------------------------------------------------------
// State shared by the threads

struct Shared {
    cfg: ReplicationConfig,
    db: Arc<dyn ReplicaDb>,
    local: SocketAddrV4,
    partners: Vec<PartnerSlot>,
    stop: AtomicBool,
    counters: Counters,
    sockets: Sockets,
    next_ctx: AtomicU32,
    debug: bool,
}

impl Shared {
    fn new(cfg: ReplicationConfig, db: Arc<dyn ReplicaDb>, local: SocketAddrV4) -> Shared {
        // Our own endpoint is no partner, and each endpoint gets one worker.
        let mut partners: Vec<PartnerSlot> = Vec::new();
        for &a in &cfg.partners {
            if a != local && !partners.iter().any(|p| p.addr == a) {
                partners.push(PartnerSlot::new(a));
            }
        }
        // Handles only need to differ between connections; a clock seed
        // keeps them from repeating across restarts too.
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.subsec_nanos());
        Shared {
            cfg,
            db,
            local,
            partners,
            stop: AtomicBool::new(false),
            counters: Counters::default(),
            sockets: Sockets::default(),
            next_ctx: AtomicU32::new(seed),
            debug: std::env::var_os("NBNS_WREPL_DEBUG").is_some(),
        }
    }

    fn stopping(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }

    fn partner(&self, ip: Ipv4Addr) -> Option<&PartnerSlot> {
        self.partners.iter().find(|p| *p.addr.ip() == ip)
    }

    /// A fresh, non-zero association handle.
    fn fresh_ctx(&self) -> u32 {
        loop {
            let c = self.next_ctx.fetch_add(0x9e37_79b9, Ordering::Relaxed);
            if c != 0 {
                return c;
            }
        }
    }

    /// A replication connection over `stream`, with our bounds.
    fn conn(&self, stream: TcpStream) -> Conn {
        let mut c = Conn::new(stream, self.cfg.exchange_timeout);
        c.set_max_frame_len(self.cfg.max_frame_len);
        c.our_ctx = self.fresh_ctx();
        c
    }

    /// Connects to `partner` from our own address (partners recognise us
    /// by the source address), tracked so that stopping interrupts it.
    fn connect(&self, partner: SocketAddrV4) -> io::Result<(Conn, Tracked<'_>)> {
        let local = Some(*self.local.ip()).filter(|ip| !ip.is_unspecified());
        let stream = connect_stoppable(local, partner, self.cfg.exchange_timeout, &self.stop)?;
        let tracked = self.sockets.track(&stream, &self.stop);
        Ok((self.conn(stream), tracked))
    }

    fn log_debug(&self, what: impl FnOnce() -> String) {
        if self.debug {
            eprintln!("wrepl {}: {}", self.local, what());
        }
    }
}

/// The counters behind [`ReplicationStats`].
#[derive(Default)]
struct Counters {
    accepted: AtomicU64,
    refused_busy: AtomicU64,
    refused_not_partner: AtomicU64,
    dropped_idle: AtomicU64,
    dropped_lifetime: AtomicU64,
    replies_sent: AtomicU64,
    reply_records_sent: AtomicU64,
    dropped_bad_frame: AtomicU64,
    pulls_ok: AtomicU64,
    pulls_failed: AtomicU64,
    pushes_ok: AtomicU64,
    pushes_failed: AtomicU64,
    records_applied: AtomicU64,
    verifications_ok: AtomicU64,
    verifications_failed: AtomicU64,
}

fn bump(c: &AtomicU64) {
    c.fetch_add(1, Ordering::Relaxed);
}

impl Counters {
    fn snapshot(&self) -> ReplicationStats {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        ReplicationStats {
            accepted: get(&self.accepted),
            refused_busy: get(&self.refused_busy),
            refused_not_partner: get(&self.refused_not_partner),
            dropped_idle: get(&self.dropped_idle),
            dropped_lifetime: get(&self.dropped_lifetime),
            replies_sent: get(&self.replies_sent),
            reply_records_sent: get(&self.reply_records_sent),
            dropped_bad_frame: get(&self.dropped_bad_frame),
            pulls_ok: get(&self.pulls_ok),
            pulls_failed: get(&self.pulls_failed),
            pushes_ok: get(&self.pushes_ok),
            pushes_failed: get(&self.pushes_failed),
            records_applied: get(&self.records_applied),
            verifications_ok: get(&self.verifications_ok),
            verifications_failed: get(&self.verifications_failed),
        }
    }
}

/// Clones of the open sockets, so that stopping the service can shut them
/// down and wake every thread blocked on one at once.
#[derive(Default)]
struct Sockets {
    open: Mutex<HashMap<u64, TcpStream>>,
    next: AtomicU64,
}

/// Removes its socket from [`Sockets`] when dropped.
struct Tracked<'a> {
    sockets: &'a Sockets,
    id: u64,
}

impl Sockets {
    fn lock(&self) -> MutexGuard<'_, HashMap<u64, TcpStream>> {
        self.open.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn track<'a>(&'a self, s: &TcpStream, stop: &AtomicBool) -> Tracked<'a> {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        if let Ok(clone) = s.try_clone() {
            self.lock().insert(id, clone);
        }
        // Registered after the sweep of a stopping service: shut down here.
        if stop.load(Ordering::SeqCst) {
            let _ = s.shutdown(std::net::Shutdown::Both);
        }
        Tracked { sockets: self, id }
    }

    fn shutdown_all(&self) {
        for s in self.lock().values() {
            let _ = s.shutdown(std::net::Shutdown::Both);
        }
    }
}

impl Drop for Tracked<'_> {
    fn drop(&mut self) {
        self.sockets.lock().remove(&self.id);
    }
}

// ---------------------------------------------------------------------------
// Inbound connections

/// Accepts until the service stops, then joins the connection threads.
fn accept_loop(listener: TcpListener, shared: &Arc<Shared>) {
    let mut conns: Vec<(Ipv4Addr, thread::JoinHandle<()>)> = Vec::new();
    while !shared.stopping() {
        match listener.accept() {
            Ok((stream, peer)) => {
                conns.retain(|(_, h)| !h.is_finished());
                admit(stream, peer, shared, &mut conns);
            }
            // Nothing pending, or out of descriptors: look again shortly.
            Err(_) => thread::sleep(ACCEPT_POLL),
        }
    }
    for (_, h) in conns {
        let _ = h.join();
    }
}

/// Serves `stream` on a thread of its own, or closes it at once: when the
/// peer is not a partner (its address is known at accept: a stranger never
/// takes a slot, however often it connects), or when `max_connections` are
/// open, or `max_connections_per_partner` of this partner.
fn admit(
    stream: TcpStream,
    peer: SocketAddr,
    shared: &Arc<Shared>,
    conns: &mut Vec<(Ipv4Addr, thread::JoinHandle<()>)>,
) {
    let SocketAddr::V4(peer) = peer else { return };
    if shared.partner(*peer.ip()).is_none() {
        // Samba answers the start and refuses the first replication
        // message; closing at accept costs the stranger everything at once.
        bump(&shared.counters.refused_not_partner);
        shared.log_debug(|| format!("{peer}: not a partner, closed"));
        return;
    }
    let of_peer = conns.iter().filter(|(ip, _)| ip == peer.ip()).count();
    if conns.len() >= shared.cfg.max_connections
        || of_peer >= shared.cfg.max_connections_per_partner
    {
        bump(&shared.counters.refused_busy);
        shared.log_debug(|| format!("{peer}: busy ({of_peer} open), closed"));
        return;
    }
    let _ = stream.set_nonblocking(false);
    let s = shared.clone();
    match thread::Builder::new()
        .name(format!("wrepl-in-{peer}"))
        .spawn(move || serve_inbound(stream, peer, &s))
    {
        Ok(h) => {
            bump(&shared.counters.accepted);
            conns.push((*peer.ip(), h));
        }
        Err(_) => bump(&shared.counters.refused_busy),
    }
}

/// What to do after a message.
enum Next {
    Continue,
    Close,
}

/// Serves one partner's inbound connection until the peer stops or closes
/// it, stays silent for `idle_timeout` (before its first message and
/// between any two), reaches `max_lifetime`, or sends something we do not
/// accept.
fn serve_inbound(stream: TcpStream, peer: SocketAddrV4, shared: &Shared) {
    let _tracked = shared.sockets.track(&stream, &shared.stop);
    let mut c = shared.conn(stream);
    let mut associated = false;
    let end_of_life = Instant::now() + shared.cfg.max_lifetime;
    for _ in 0..MAX_MESSAGES_PER_CONN {
        let left = end_of_life.saturating_duration_since(Instant::now());
        let wait = shared.cfg.idle_timeout.min(left);
        let frame = match c.recv_within(wait, "the peer's next message") {
            Ok(f) => f,
            Err(PartnerError::Timeout(_)) if wait < shared.cfg.idle_timeout => {
                bump(&shared.counters.dropped_lifetime);
                shared.log_debug(|| format!("{peer}: connection lifetime reached, stopped"));
                let _ = send_stop(&mut c, STOP_NORMAL);
                return;
            }
            Err(PartnerError::Discarded(why)) => {
                shared.log_debug(|| format!("{peer}: {why}, discarded (MS-WINSRA 2.2.8)"));
                continue;
            }
            Err(e) => return note_read_error(&mut c, peer, shared, &e),
        };
        shared.log_debug(|| format!("from {peer}: {}", describe(&frame.message)));
        match answer(&mut c, frame, peer, shared, &mut associated) {
            Next::Continue => {}
            Next::Close => return,
        }
    }
    let _ = send_stop(&mut c, STOP_ERROR);
}

fn note_read_error(c: &mut Conn, peer: SocketAddrV4, shared: &Shared, e: &PartnerError) {
    match e {
        PartnerError::Timeout(_) => {
            bump(&shared.counters.dropped_idle);
            shared.log_debug(|| format!("{peer}: idle, dropped"));
        }
        PartnerError::BadFrame(why) => {
            bump(&shared.counters.dropped_bad_frame);
            shared.log_debug(|| format!("{peer}: bad frame ({why}), stopped"));
            let _ = send_stop(c, STOP_ERROR);
        }
        _ => shared.log_debug(|| format!("{peer}: {e}")),
    }
}

/// Answers one message of an inbound connection.
fn answer(
    c: &mut Conn,
    frame: OwnedRepr,
    peer: SocketAddrV4,
    shared: &Shared,
    associated: &mut bool,
) -> Next {
    match frame.message {
        // MS-WINSRA 2.2.3: a start with another major version is silently
        // discarded (no response, nothing set up).
        OwnedMessage::StartAssociation(s) if s.major_version != 2 => {
            shared.log_debug(|| {
                format!(
                    "{peer}: start with major version {}, discarded",
                    s.major_version
                )
            });
            Next::Continue
        }
        OwnedMessage::StartAssociation(s) => {
            c.peer_ctx = s.assoc_ctx;
            *associated = true;
            let reply = OwnedRepr {
                opcode: OPCODE_BITS,
                assoc_ctx: s.assoc_ctx,
                message: OwnedMessage::StartAssociationResponse(Start::new(c.our_ctx)),
                padding: START_PADDING,
            };
            next_if_sent(c.send(&reply))
        }
        OwnedMessage::StopAssociation(_) => Next::Close,
        // Samba and Windows check the handle of every message after the start.
        OwnedMessage::Replication(r) if *associated && frame.assoc_ctx == c.our_ctx => {
            replicate(c, r, peer, shared)
        }
        other => {
            shared.log_debug(|| format!("{peer}: unexpected {}, stopped", describe(&other)));
            let _ = send_stop(c, STOP_ERROR);
            Next::Close
        }
    }
}

/// Answers one replication message of an associated partner.
fn replicate(c: &mut Conn, r: OwnedReplication, peer: SocketAddrV4, shared: &Shared) -> Next {
    match r {
        OwnedReplication::OwnerVersionMapRequest => {
            let reply = OwnedReplication::OwnerVersionMapResponse {
                owners: shared.db.owner_map(),
                initiator: shared.db.me(),
            };
            next_if_sent(c.send(&to_peer(c, reply)))
        }
        OwnedReplication::NameRecordsRequest(want) => {
            let recs = entries_for(shared, &want);
            let n = recs.len() as u64;
            shared.log_debug(|| {
                format!(
                    "{peer}: send-entries {} {}..={}: {n} records",
                    want.address, want.min_version, want.max_version
                )
            });
            let reply = OwnedReplication::NameRecordsResponse(recs);
            let sent = c.send(&to_peer(c, reply));
            if sent.is_ok() {
                bump(&shared.counters.replies_sent);
                shared
                    .counters
                    .reply_records_sent
                    .fetch_add(n, Ordering::Relaxed);
            }
            next_if_sent(sent)
        }
        OwnedReplication::UpdateNotification {
            kind: UpdateKind::Update | UpdateKind::UpdatePropagate,
            owners,
            ..
        } => {
            pull_after_update(c, &owners, peer, shared);
            Next::Close
        }
        OwnedReplication::UpdateNotification {
            kind: UpdateKind::Inform | UpdateKind::InformPropagate,
            ..
        } => {
            // No reply (as Samba): the partner's worker connects back and
            // pulls, and this association goes on until the peer ends it.
            if let Some(p) = shared.partner(*peer.ip()) {
                p.schedule(|j| j.pull = true);
            }
            Next::Continue
        }
        OwnedReplication::OwnerVersionMapResponse { .. }
        | OwnedReplication::NameRecordsResponse(_) => {
            shared.log_debug(|| format!("{peer}: unsolicited reply, stopped"));
            let _ = send_stop(c, STOP_ERROR);
            Next::Close
        }
    }
}

/// The records a send-entries request asks for, in version order: the
/// lowest versions of the range, as many as fit in one reply of
/// `max_reply_bytes`. A max version of 0 means "all" (Samba's client sends
/// it, and Samba reads it so).
///
/// MS-WINSRA gives a reply no size limit and Samba's responder sends the
/// whole range in one frame; a reply cut short is still a valid reply.
/// Our puller asks again from the highest version received. Samba's puller
/// (wrepl_out_helpers.c, wrepl_apply_records.c) takes one reply per owner
/// and marks the requested max as seen, so against it the cut must be
/// rare: the 4 MiB default holds about 87,000 ordinary records.
fn entries_for(shared: &Shared, want: &OwnerRecord) -> Vec<OwnedNameRecord> {
    let max = match want.max_version {
        0 => u64::MAX,
        m => m,
    };
    if want.min_version > max {
        return Vec::new();
    }
    let budget = (shared.cfg.max_reply_bytes.min(shared.cfg.max_frame_len) as usize)
        .saturating_sub(REPLY_OVERHEAD)
        .max(1);
    let mut recs = shared
        .db
        .entries(want.address, want.min_version, max, budget);
    recs.sort_by_key(|r| r.version);
    recs
}

/// An update notification: pull the announced owners over this connection,
/// then stop the association. When the database refuses the records the
/// connection is closed without a stop, as Samba does: the pusher reads
/// that as "not stored".
fn pull_after_update(c: &mut Conn, owners: &[OwnerRecord], peer: SocketAddrV4, shared: &Shared) {
    match pull_table(c, owners, shared) {
        Ok(n) => {
            bump(&shared.counters.pulls_ok);
            shared.log_debug(|| format!("pulled {n} records from {peer} after its update"));
            let _ = send_stop(c, STOP_NORMAL);
        }
        Err(e) => {
            bump(&shared.counters.pulls_failed);
            eprintln!("wrepl: pull from {peer} after its update failed: {e}");
            if !matches!(e, PullError::Db(_)) {
                let _ = send_stop(c, STOP_ERROR);
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Pulls and pushes (we are the client)

/// Why a pull stopped.
#[derive(Debug)]
enum PullError {
    Connect(io::Error),
    Peer(PartnerError),
    /// `ReplicaDb::apply` refused the records.
    Db(String),
    Stopping,
}

impl fmt::Display for PullError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PullError::Connect(e) => write!(f, "{e}"),
            PullError::Peer(e) => write!(f, "{e}"),
            PullError::Db(e) => write!(f, "the database refused the records: {e}"),
            PullError::Stopping => write!(f, "the service is stopping"),
        }
    }
}

impl From<PartnerError> for PullError {
    fn from(e: PartnerError) -> Self {
        PullError::Peer(e)
    }
}

/// Over `c`, pulls every owner of `table` other than us whose max version
/// is above the one we hold: send-entries requests from our version + 1 to
/// its max, and one `apply` per reply. Returns the records applied.
fn pull_table(c: &mut Conn, table: &[OwnerRecord], shared: &Shared) -> Result<u64, PullError> {
    let me = shared.db.me();
    let mut applied = 0;
    for o in table.iter().take(MAX_OWNERS_PER_PULL) {
        if shared.stopping() {
            return Err(PullError::Stopping);
        }
        let known = shared.db.known_version(o.address);
        if o.address == me || o.max_version <= known {
            continue;
        }
        fetch_range(
            c,
            shared,
            o.address,
            known + 1,
            o.max_version,
            |seen, recs| {
                let n = recs.len() as u64;
                shared
                    .db
                    .apply(o.address, seen, recs)
                    .map_err(PullError::Db)?;
                shared
                    .counters
                    .records_applied
                    .fetch_add(n, Ordering::Relaxed);
                applied += n;
                Ok(())
            },
        )?;
    }
    Ok(applied)
}

/// Asks `c`'s partner for `owner`'s records `from..=end`, one reply at a
/// time: a reply may hold fewer records than the range (ours stop at
/// `max_reply_bytes`), so while a reply is not empty and stops short of
/// `end`, the next request starts above its highest version. `got` sees
/// each reply's records of the range with the version they cover up to
/// (the highest received, `end` for the last reply).
fn fetch_range(
    c: &mut Conn,
    shared: &Shared,
    owner: Ipv4Addr,
    mut from: u64,
    end: u64,
    mut got: impl FnMut(u64, Vec<OwnedNameRecord>) -> Result<(), PullError>,
) -> Result<(), PullError> {
    for _ in 0..MAX_PIECES_PER_OWNER {
        if shared.stopping() {
            return Err(PullError::Stopping);
        }
        let mut recs = c.send_entries(owner, from, end)?;
        // What we did not ask for is not applied: the database raises its
        // version for the owner to the version covered.
        recs.retain(|r| (from..=end).contains(&r.version));
        let top = recs.iter().map(|r| r.version).max();
        match top {
            Some(top) if top < end => {
                got(top, recs)?;
                from = top + 1;
            }
            _ => return got(end, recs),
        }
    }
    Err(PullError::Peer(PartnerError::Unexpected(format!(
        "{owner}'s records still not complete after {MAX_PIECES_PER_OWNER} replies"
    ))))
}

/// A full pull from `partner` on a connection of our own: start
/// association, owner-version map, send-entries for what is new, stop.
fn pull_from(shared: &Shared, partner: SocketAddrV4) -> Result<u64, PullError> {
    let (mut c, _tracked) = shared.connect(partner).map_err(PullError::Connect)?;
    c.start_association()?;
    let map = c.owner_map()?;
    match pull_table(&mut c, &map, shared) {
        Ok(n) => {
            let _ = send_stop(&mut c, STOP_NORMAL);
            Ok(n)
        }
        Err(e) => {
            let _ = send_stop(&mut c, STOP_ERROR);
            Err(e)
        }
    }
}

/// Verifies the replicas `partner` owns: all of its own records (not only
/// the new ones) and [`ReplicaDb::verify`]. Returns how many replicas ended.
fn verify_with(shared: &Shared, partner: SocketAddrV4) -> Result<usize, PullError> {
    let (mut c, _tracked) = shared.connect(partner).map_err(PullError::Connect)?;
    c.start_association()?;
    let owner = *partner.ip();
    let max = c
        .owner_map()?
        .iter()
        .find(|o| o.address == owner)
        .map_or(0, |o| o.max_version);
    // The whole list is needed to tell what is missing: it grows with the
    // partner's own records (about 100 bytes each), once per verify interval.
    let mut recs = Vec::new();
    if max != 0 {
        fetch_range(&mut c, shared, owner, 1, max, |_, mut piece| {
            recs.append(&mut piece);
            Ok(())
        })?;
    }
    let _ = send_stop(&mut c, STOP_NORMAL);
    shared.db.verify(owner, max, recs).map_err(PullError::Db)
}

/// Tells `partner` our records changed: an inform notification with our
/// owner map in an association of its own; the partner connects back.
fn push_to(shared: &Shared, partner: SocketAddrV4) -> Result<(), PullError> {
    let (mut c, _tracked) = shared.connect(partner).map_err(PullError::Connect)?;
    c.start_association()?;
    let inform = OwnedReplication::UpdateNotification {
        kind: UpdateKind::Inform,
        owners: shared.db.owner_map(),
        initiator: shared.db.me(),
    };
    c.send(&to_peer(&c, inform))?;
    send_stop(&mut c, STOP_NORMAL)?;
    Ok(())
}

/// Work a partner's worker owes it.
#[derive(Default)]
struct Jobs {
    pull: bool,
    /// When the coalesced push is due.
    push_at: Option<Instant>,
}

/// One partner endpoint and the jobs pending for it.
struct PartnerSlot {
    addr: SocketAddrV4,
    jobs: Mutex<Jobs>,
    wake: Condvar,
}

enum Job {
    Pull,
    Push,
    Verify,
}

impl PartnerSlot {
    fn new(addr: SocketAddrV4) -> PartnerSlot {
        PartnerSlot {
            addr,
            jobs: Mutex::new(Jobs::default()),
            wake: Condvar::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Jobs> {
        self.jobs.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Edits the pending jobs and wakes the worker.
    fn schedule(&self, f: impl FnOnce(&mut Jobs)) {
        f(&mut self.lock());
        self.wake.notify_all();
    }

    /// The next job due, waiting for it; `None` when the service stops.
    fn next_job(
        &self,
        shared: &Shared,
        periodic_at: Option<Instant>,
        verify_at: Option<Instant>,
    ) -> Option<Job> {
        let mut jobs = self.lock();
        loop {
            if shared.stopping() {
                return None;
            }
            let now = Instant::now();
            if jobs.pull || periodic_at.is_some_and(|t| t <= now) {
                jobs.pull = false;
                return Some(Job::Pull);
            }
            if jobs.push_at.is_some_and(|t| t <= now) {
                jobs.push_at = None;
                return Some(Job::Push);
            }
            if verify_at.is_some_and(|t| t <= now) {
                return Some(Job::Verify);
            }
            let wait = [periodic_at, jobs.push_at, verify_at]
                .into_iter()
                .flatten()
                .map(|t| t - now)
                .fold(STOP_POLL, Duration::min);
            jobs = self
                .wake
                .wait_timeout(jobs, wait)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
    }
}

/// Runs the pulls and pushes of partner `i`, one at a time, until the
/// service stops.
fn partner_worker(shared: &Shared, i: usize) {
    let slot = &shared.partners[i];
    let interval = shared.cfg.pull_interval;
    let mut periodic_at = (!interval.is_zero()).then(Instant::now);
    let verify = shared.cfg.verify_interval;
    let mut verify_at = (!verify.is_zero()).then(|| Instant::now() + verify);
    while let Some(job) = slot.next_job(shared, periodic_at, verify_at) {
        match job {
            Job::Verify => {
                verify_at = Some(Instant::now() + verify);
                match verify_with(shared, slot.addr) {
                    Ok(n) => {
                        bump(&shared.counters.verifications_ok);
                        shared
                            .log_debug(|| format!("verified {}'s replicas: {n} ended", slot.addr));
                    }
                    Err(PullError::Stopping) => return,
                    Err(e) => {
                        bump(&shared.counters.verifications_failed);
                        eprintln!("wrepl: verification with {} failed: {e}", slot.addr);
                    }
                }
            }
            Job::Pull => {
                if !interval.is_zero() {
                    periodic_at = Some(Instant::now() + interval);
                }
                match pull_from(shared, slot.addr) {
                    Ok(n) => {
                        bump(&shared.counters.pulls_ok);
                        shared.log_debug(|| format!("pulled {n} records from {}", slot.addr));
                    }
                    Err(PullError::Stopping) => return,
                    Err(e) => {
                        bump(&shared.counters.pulls_failed);
                        eprintln!("wrepl: pull from {} failed: {e}", slot.addr);
                    }
                }
            }
            Job::Push => match push_to(shared, slot.addr) {
                Ok(()) => {
                    bump(&shared.counters.pushes_ok);
                    shared.log_debug(|| format!("informed {}", slot.addr));
                }
                Err(_) if shared.stopping() => return,
                Err(e) => {
                    bump(&shared.counters.pushes_failed);
                    eprintln!("wrepl: push to {} failed: {e}", slot.addr);
                }
            },
        }
    }
}

// ---------------------------------------------------------------------------
// Helpers

/// A replication message to the peer of `c`.
fn to_peer(c: &Conn, r: OwnedReplication) -> OwnedRepr {
    OwnedRepr {
        opcode: OPCODE_BITS,
        assoc_ctx: c.peer_ctx,
        message: OwnedMessage::Replication(r),
        padding: 0,
    }
}

fn send_stop(c: &mut Conn, reason: u32) -> Result<(), PartnerError> {
    c.send(&OwnedRepr {
        opcode: OPCODE_BITS,
        assoc_ctx: c.peer_ctx,
        message: OwnedMessage::StopAssociation(Stop { reason }),
        padding: STOP_PADDING,
    })
}

fn next_if_sent(r: Result<(), PartnerError>) -> Next {
    match r {
        Ok(()) => Next::Continue,
        Err(_) => Next::Close,
    }
}

/// One line for the debug log (never the records themselves).
fn describe(m: &OwnedMessage) -> String {
    match m {
        OwnedMessage::Replication(OwnedReplication::NameRecordsResponse(v)) => {
            format!("send-entries reply ({} records)", v.len())
        }
        OwnedMessage::Replication(OwnedReplication::OwnerVersionMapResponse { owners, .. }) => {
            format!("owner-version map reply ({} owners)", owners.len())
        }
        OwnedMessage::Replication(OwnedReplication::UpdateNotification {
            kind, owners, ..
        }) => {
            format!("{kind:?} notification ({} owners)", owners.len())
        }
        other => format!("{other:?}"),
    }
}

/// [`crate::replication::conn::connect_from`] that also gives up when `stop`
/// is set: the connect is non-blocking and polled, so a partner that drops
/// SYNs cannot hold a stopping service for the whole timeout.
fn connect_stoppable(
    local: Option<Ipv4Addr>,
    peer: SocketAddrV4,
    timeout: Duration,
    stop: &AtomicBool,
) -> io::Result<TcpStream> {
    use socket2::{Domain, Protocol, Socket, Type};
    let socket = Socket::new(Domain::IPV4, Type::STREAM, Some(Protocol::TCP))?;
    if let Some(ip) = local {
        socket.set_reuse_address(true)?;
        socket
            .bind(&SocketAddr::V4(SocketAddrV4::new(ip, 0)).into())
            .map_err(|e| io::Error::new(e.kind(), format!("bind {ip}: {e}")))?;
    }
    socket.set_nonblocking(true)?;
    let named = |e: io::Error| io::Error::new(e.kind(), format!("connect {peer}: {e}"));
    match socket.connect(&SocketAddr::V4(peer).into()) {
        Ok(()) => {}
        Err(e) if connect_in_progress(&e) => {
            wait_connected(&socket, timeout, stop).map_err(named)?
        }
        Err(e) => return Err(named(e)),
    }
    socket.set_nonblocking(false)?;
    Ok(socket.into())
}

/// EINPROGRESS (Linux 115, the BSDs and macOS 36); Windows says WouldBlock.
fn connect_in_progress(e: &io::Error) -> bool {
    const EINPROGRESS: i32 = if cfg!(target_os = "linux") { 115 } else { 36 };
    e.kind() == io::ErrorKind::WouldBlock || e.raw_os_error() == Some(EINPROGRESS)
}

fn wait_connected(
    socket: &socket2::Socket,
    timeout: Duration,
    stop: &AtomicBool,
) -> io::Result<()> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(e) = socket.take_error()? {
            return Err(e);
        }
        if socket.peer_addr().is_ok() {
            return Ok(());
        }
        if stop.load(Ordering::SeqCst) {
            return Err(io::Error::new(
                io::ErrorKind::Interrupted,
                "the service is stopping",
            ));
        }
        if Instant::now() >= deadline {
            return Err(io::Error::new(io::ErrorKind::TimedOut, "timed out"));
        }
        thread::sleep(CONNECT_POLL);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::replication::conn::{self as partner, PartnerListener, RecordStore};
    use nbns_wire::wrepl::{
        Flags, NodeType, OwnedRecordName, RecordState, RecordType, RECORD_RESERVED,
    };
    use nbns_wire::NetbiosName;
    use std::collections::BTreeMap;
    use std::io::{Read, Write};

    /// A database that stores what it is given and remembers what it was asked.
    struct MemDb {
        me: Ipv4Addr,
        inner: Mutex<MemInner>,
        refuse: AtomicBool,
    }

    #[derive(Default)]
    struct MemInner {
        records: BTreeMap<Ipv4Addr, Vec<OwnedNameRecord>>,
        known: BTreeMap<Ipv4Addr, u64>,
        /// Send-entries requests served: (owner, min, max).
        asked: Vec<(Ipv4Addr, u64, u64)>,
    }

    impl MemDb {
        fn new(me: Ipv4Addr) -> Arc<MemDb> {
            Arc::new(MemDb {
                me,
                inner: Mutex::new(MemInner::default()),
                refuse: AtomicBool::new(false),
            })
        }

        fn lock(&self) -> MutexGuard<'_, MemInner> {
            self.inner.lock().unwrap()
        }

        /// A record of our own, at the next version.
        fn register(&self, name: &str) {
            let mut g = self.lock();
            let v = g.known.get(&self.me).copied().unwrap_or(0) + 1;
            g.known.insert(self.me, v);
            g.records
                .entry(self.me)
                .or_default()
                .push(record(name, v, self.me));
        }

        fn names_of(&self, owner: Ipv4Addr) -> Vec<String> {
            self.lock()
                .records
                .get(&owner)
                .map(|v| v.iter().map(name_of).collect())
                .unwrap_or_default()
        }

        /// The owner loses a record (its deletion never replicated).
        fn forget(&self, name: &str) {
            for v in self.lock().records.values_mut() {
                v.retain(|r| name_of(r) != name);
            }
        }

        fn asked(&self) -> Vec<(Ipv4Addr, u64, u64)> {
            self.lock().asked.clone()
        }
    }

    impl ReplicaDb for MemDb {
        fn me(&self) -> Ipv4Addr {
            self.me
        }

        fn owner_map(&self) -> Vec<OwnerRecord> {
            self.lock()
                .known
                .iter()
                .map(|(&address, &max_version)| OwnerRecord {
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
            let mut g = self.lock();
            g.asked.push((owner, min, max));
            let mut all: Vec<OwnedNameRecord> = g
                .records
                .get(&owner)
                .map(|v| {
                    v.iter()
                        .filter(|r| (min..=max).contains(&r.version))
                        .cloned()
                        .collect()
                })
                .unwrap_or_default();
            all.sort_by_key(|r| r.version);
            let mut bytes = 0;
            let mut out = Vec::new();
            for r in all {
                bytes += r.as_record().buffer_len();
                if bytes > max_bytes && !out.is_empty() {
                    break;
                }
                out.push(r);
            }
            out
        }

        fn known_version(&self, owner: Ipv4Addr) -> u64 {
            self.lock().known.get(&owner).copied().unwrap_or(0)
        }

        fn apply(
            &self,
            owner: Ipv4Addr,
            max: u64,
            records: Vec<OwnedNameRecord>,
        ) -> Result<(), String> {
            if self.refuse.load(Ordering::SeqCst) {
                return Err("refused by the test".into());
            }
            let mut g = self.lock();
            g.records.entry(owner).or_default().extend(records);
            let k = g.known.entry(owner).or_insert(0);
            *k = (*k).max(max);
            Ok(())
        }

        fn verify(
            &self,
            owner: Ipv4Addr,
            max: u64,
            records: Vec<OwnedNameRecord>,
        ) -> Result<usize, String> {
            let mut g = self.lock();
            let held = g.records.entry(owner).or_default();
            let before = held.len();
            held.retain(|r| r.version > max || records.iter().any(|x| x.name == r.name));
            Ok(before - held.len())
        }
    }

    fn record(name: &str, version: u64, addr: Ipv4Addr) -> OwnedNameRecord {
        OwnedNameRecord {
            name: OwnedRecordName::Netbios {
                name: NetbiosName::new(name.as_bytes(), 0).unwrap(),
                scope: Vec::new(),
            },
            flags: Flags::new(
                RecordType::Unique,
                RecordState::Active,
                NodeType::H,
                false,
                false,
            ),
            group: 0,
            version,
            addresses: Vec::new(),
            single: addr,
            reserved: RECORD_RESERVED,
        }
    }

    fn name_of(r: &OwnedNameRecord) -> String {
        match &r.name {
            OwnedRecordName::Netbios { name, .. } => {
                String::from_utf8_lossy(&name.as_bytes()[..15])
                    .trim()
                    .to_string()
            }
            OwnedRecordName::Short(b) => String::from_utf8_lossy(b).into_owned(),
        }
    }

    fn ip(s: &str) -> Ipv4Addr {
        s.parse().unwrap()
    }

    /// A free port on `addr` (each test has addresses of its own in
    /// 127.42.0.0/16): for services that must know each other's port
    /// before either starts. Fixed ports would clash with a second test
    /// process.
    fn reserve(addr: &str) -> SocketAddrV4 {
        let l = TcpListener::bind(SocketAddrV4::new(ip(addr), 0)).unwrap();
        match l.local_addr().unwrap() {
            SocketAddr::V4(a) => a,
            SocketAddr::V6(_) => unreachable!(),
        }
    }

    /// Any free port on `me`.
    fn any(me: Ipv4Addr) -> SocketAddrV4 {
        SocketAddrV4::new(me, 0)
    }

    /// A partner endpoint whose port does not matter to the test.
    fn at(addr: &str) -> SocketAddrV4 {
        SocketAddrV4::new(ip(addr), PORT)
    }

    /// A service on `me` (any port unless `me` carries one).
    fn config(me: SocketAddrV4, partners: &[SocketAddrV4]) -> ReplicationConfig {
        let mut c = ReplicationConfig::new(*me.ip());
        c.bind = me;
        c.partners = partners.to_vec();
        c.pull_interval = Duration::ZERO;
        c.verify_interval = Duration::ZERO;
        c.push_delay = Duration::from_millis(50);
        c.idle_timeout = Duration::from_secs(2);
        c.exchange_timeout = Duration::from_secs(2);
        c
    }

    fn start(cfg: ReplicationConfig, db: &Arc<MemDb>) -> ReplicationService {
        ReplicationService::start(cfg, db.clone()).unwrap()
    }

    /// Polls `f` until it holds or `within` passes.
    fn eventually(within: Duration, f: impl Fn() -> bool) -> bool {
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            if f() {
                return true;
            }
            thread::sleep(Duration::from_millis(10));
        }
        f()
    }

    const T: Duration = Duration::from_secs(2);

    #[test]
    fn a_change_is_informed_and_pulled_back() {
        let (a_at, b_at) = (reserve("127.42.1.1"), reserve("127.42.1.2"));
        let (a_db, b_db) = (MemDb::new(*a_at.ip()), MemDb::new(*b_at.ip()));
        let a = start(config(a_at, &[b_at]), &a_db);
        let b = start(config(b_at, &[a_at]), &b_db);
        for n in ["ALPHA", "BETA", "GAMMA"] {
            a_db.register(n);
        }
        a.notify_changed();
        a.notify_changed();
        assert!(eventually(T, || b_db.names_of(a_db.me).len() == 3));
        assert_eq!(b_db.names_of(a_db.me), ["ALPHA", "BETA", "GAMMA"]);
        assert_eq!(a_db.asked(), [(a_db.me, 1, 3)]);
        assert!(eventually(T, || b.stats().pulls_ok == 1));
        // Two notifications within the push delay made one push.
        assert_eq!(a.stats().pushes_ok, 1);
        assert_eq!(b.stats().records_applied, 3);
        let t0 = Instant::now();
        drop((a, b));
        assert!(
            t0.elapsed() < Duration::from_millis(600),
            "{:?}",
            t0.elapsed()
        );
    }

    #[test]
    fn verification_ends_replicas_the_owner_lost() {
        let (a_at, b_at) = (reserve("127.42.9.1"), reserve("127.42.9.2"));
        let (a_db, b_db) = (MemDb::new(*a_at.ip()), MemDb::new(*b_at.ip()));
        let _a = start(config(a_at, &[b_at]), &a_db);
        let mut cfg = config(b_at, &[a_at]);
        cfg.verify_interval = Duration::from_millis(300);
        let b = start(cfg, &b_db);
        a_db.register("KEPT");
        a_db.register("LOST");
        b.pull_now();
        assert!(eventually(T, || b_db.names_of(a_db.me).len() == 2));
        a_db.forget("LOST");
        assert!(eventually(T, || b.stats().verifications_ok >= 1));
        assert_eq!(b_db.names_of(a_db.me), ["KEPT"]);
        // The whole range was asked for, not only what is new.
        assert!(a_db.asked().contains(&(a_db.me, 1, 2)));
    }

    #[test]
    fn pull_now_asks_only_for_what_is_new() {
        let (a_at, b_at) = (reserve("127.42.2.1"), reserve("127.42.2.2"));
        let (a_db, b_db) = (MemDb::new(*a_at.ip()), MemDb::new(*b_at.ip()));
        let _a = start(config(a_at, &[b_at]), &a_db);
        let b = start(config(b_at, &[a_at]), &b_db);
        a_db.register("ONE");
        a_db.register("TWO");
        b.pull_now();
        assert!(eventually(T, || b.stats().pulls_ok == 1));
        assert_eq!(b_db.names_of(a_db.me), ["ONE", "TWO"]);
        b.pull_now();
        assert!(eventually(T, || b.stats().pulls_ok == 2));
        a_db.register("THREE");
        b.pull_now();
        assert!(eventually(T, || b.stats().pulls_ok == 3));
        assert_eq!(b_db.names_of(a_db.me), ["ONE", "TWO", "THREE"]);
        // Nothing asked when nothing was new; B's own records never asked.
        assert_eq!(a_db.asked(), [(a_db.me, 1, 2), (a_db.me, 3, 3)]);
    }

    #[test]
    fn a_runner_update_is_pulled_over_the_same_connection() {
        let me = ip("127.42.3.1");
        let pusher = ip("127.42.3.2");
        let other = ip("127.42.3.9");
        let db = MemDb::new(me);
        let svc = start(config(any(me), &[at("127.42.3.2")]), &db);
        let mut store = RecordStore::default();
        store.add(pusher, record("P1", 1, pusher));
        store.add(pusher, record("P2", 2, pusher));
        store.add(other, record("O1", 5, other));
        // A record under the service's own address is never pulled.
        store.add(me, record("MINE", 9, me));
        let push = |store: &RecordStore| {
            partner::session(Some(pusher), svc.local_addr(), T, |c| {
                c.push(UpdateKind::Update, pusher, store, None, T)
            })
            .unwrap()
        };
        let rep = push(&store);
        assert!(rep.stopped, "{rep:?}");
        assert_eq!(rep.requests, [(pusher, 1, 2), (other, 1, 5)]);
        assert_eq!(db.names_of(pusher), ["P1", "P2"]);
        assert_eq!(db.names_of(other), ["O1"]);
        assert!(db.names_of(me).is_empty());
        // Nothing new: no request, and still a stop association.
        let rep = push(&store);
        assert!(rep.stopped && rep.requests.is_empty(), "{rep:?}");
        // A database that refuses: the connection closes without a stop.
        db.refuse.store(true, Ordering::SeqCst);
        store.add(pusher, record("P3", 3, pusher));
        let rep = push(&store);
        assert!(!rep.stopped, "{rep:?}");
        assert_eq!(rep.requests, [(pusher, 3, 3)]);
        let s = svc.stats();
        assert_eq!((s.pulls_ok, s.pulls_failed, s.records_applied), (2, 1, 3));
    }

    #[test]
    fn a_runner_inform_makes_the_service_connect_back() {
        let pusher = ip("127.42.6.2");
        let db = MemDb::new(ip("127.42.6.1"));
        let store = Arc::new(Mutex::new(RecordStore::default()));
        store
            .lock()
            .unwrap()
            .add(pusher, record("INFORMED", 4, pusher));
        let pusher_at = reserve("127.42.6.2");
        let listener = PartnerListener::start(&[pusher], pusher_at.port(), store.clone()).unwrap();
        let svc = start(config(any(db.me), &[pusher_at]), &db);
        let snapshot = store.lock().unwrap().clone();
        partner::session(Some(pusher), svc.local_addr(), T, |c| {
            c.push(UpdateKind::Inform, pusher, &snapshot, None, T)
        })
        .unwrap();
        assert!(eventually(T, || db.names_of(pusher) == ["INFORMED"]));
        let asked = listener.requests.lock().unwrap().clone();
        assert_eq!(asked, [(pusher, pusher, 1, 4)]);
    }

    #[test]
    fn a_stranger_is_closed_at_accept() {
        let db = MemDb::new(ip("127.42.4.1"));
        let svc = start(config(any(db.me), &[at("127.42.4.2")]), &db);
        let err = partner::session(Some(ip("127.42.4.3")), svc.local_addr(), T, |c| {
            c.owner_map()
        })
        .unwrap_err();
        assert!(
            matches!(err, PartnerError::Closed(_) | PartnerError::Io(_)),
            "{err}"
        );
        assert_eq!(svc.stats().refused_not_partner, 1);
        assert_eq!(svc.stats().accepted, 0);
        let map = partner::session(Some(ip("127.42.4.2")), svc.local_addr(), T, |c| {
            c.owner_map()
        })
        .unwrap();
        assert!(map.is_empty());
    }

    /// The next frame's message, or how the connection ended.
    fn reaction(c: &mut Conn, within: Duration) -> String {
        match c.recv_within(within, "a reaction") {
            Ok(f) => describe(&f.message),
            Err(PartnerError::Closed(_)) => "closed".into(),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn silently_discarded_messages_get_no_reaction() {
        let peer = ip("127.42.7.2");
        let db = MemDb::new(ip("127.42.7.1"));
        let svc = start(config(any(db.me), &[at("127.42.7.2")]), &db);
        let mut c = Conn::connect(Some(peer), svc.local_addr(), T).unwrap();
        // MS-WINSRA 2.2.3: a start with major version 3 is silently discarded...
        let mut start = OwnedRepr {
            opcode: OPCODE_BITS,
            assoc_ctx: 0,
            message: OwnedMessage::StartAssociation(Start::new(c.our_ctx)),
            padding: START_PADDING,
        }
        .to_vec()
        .unwrap();
        start[20..22].copy_from_slice(&3u16.to_be_bytes());
        c.send_raw(&start).unwrap();
        let quiet = Duration::from_millis(300);
        assert_eq!(reaction(&mut c, quiet), "timed out waiting for a reaction");
        // ... and a start with major version 2 on the same connection is answered.
        c.start_association().unwrap();
        // MS-WINSRA 2.2.8: an update notification with RplOpCode 6 is silently
        // discarded: no pull, no stop, and the association goes on.
        let mut body = vec![0, 0, 0, 6, 0, 0, 0, 1];
        body.extend_from_slice(&[
            127, 42, 7, 9, 0, 0, 0, 0, 0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0, 1,
        ]);
        body.extend_from_slice(&[0, 0, 0, 1, 127, 42, 7, 2]);
        let mut frame = ((12 + body.len()) as u32).to_be_bytes().to_vec();
        frame.extend_from_slice(&OPCODE_BITS.to_be_bytes());
        frame.extend_from_slice(&c.peer_ctx.to_be_bytes());
        frame.extend_from_slice(&3u32.to_be_bytes());
        frame.extend_from_slice(&body);
        c.send_raw(&frame).unwrap();
        assert_eq!(reaction(&mut c, quiet), "timed out waiting for a reaction");
        assert!(c.owner_map().unwrap().is_empty());
        assert_eq!(svc.stats().pulls_ok + svc.stats().pulls_failed, 0);
    }

    #[test]
    fn hostile_frames_are_dropped_and_the_service_goes_on() {
        let peer = ip("127.42.5.2");
        let db = MemDb::new(ip("127.42.5.1"));
        let mut cfg = config(any(db.me), &[at("127.42.5.2")]);
        cfg.idle_timeout = Duration::from_millis(300);
        let svc = start(cfg, &db);
        let connect = || Conn::connect(Some(peer), svc.local_addr(), T).unwrap();
        let stop = "StopAssociation(Stop { reason: 4 })";

        // A length word far beyond the frame limit.
        let mut c = connect();
        c.send_raw(&0xffff_ffffu32.to_be_bytes()).unwrap();
        assert_eq!(reaction(&mut c, T), stop);
        assert_eq!(reaction(&mut c, T), "closed");

        // A length word that lies (1000 claimed, 10 sent), then silence.
        let mut c = connect();
        c.send_raw(&[0, 0, 0x03, 0xe8, 0, 0, 0x78, 0, 0, 0])
            .unwrap();
        let t0 = Instant::now();
        assert_eq!(reaction(&mut c, T), "closed");
        let waited = t0.elapsed();
        assert!(
            waited >= Duration::from_millis(250) && waited < Duration::from_millis(1500),
            "{waited:?}"
        );

        // A complete frame of garbage: message type 9.
        let mut c = connect();
        let mut junk = 16u32.to_be_bytes().to_vec();
        junk.extend_from_slice(&[
            0, 0, 0x78, 0, 0, 0, 0, 0, 0, 0, 0, 9, 0xde, 0xad, 0xbe, 0xef,
        ]);
        c.send_raw(&junk).unwrap();
        assert_eq!(reaction(&mut c, T), stop);

        // A map request without any association.
        let mut c = connect();
        c.send(&to_peer(&c, OwnedReplication::OwnerVersionMapRequest))
            .unwrap();
        assert_eq!(reaction(&mut c, T), stop);

        // A map request with a handle the service never gave.
        let mut c = connect();
        c.start_association().unwrap();
        let mut bad = to_peer(&c, OwnedReplication::OwnerVersionMapRequest);
        bad.assoc_ctx ^= 0x5a5a_5a5a;
        c.send(&bad).unwrap();
        assert_eq!(reaction(&mut c, T), stop);

        let s = svc.stats();
        assert_eq!((s.dropped_bad_frame, s.dropped_idle), (2, 1), "{s:?}");
        db.register("STILL");
        let map = partner::session(Some(peer), svc.local_addr(), T, |c| c.owner_map()).unwrap();
        assert_eq!(map[0].max_version, 1);
    }

    #[test]
    fn connections_beyond_the_limit_are_closed_at_once() {
        let peer = ip("127.42.7.2");
        let db = MemDb::new(ip("127.42.7.1"));
        let mut cfg = config(any(db.me), &[at("127.42.7.2")]);
        cfg.max_connections = 2;
        cfg.idle_timeout = Duration::from_secs(10);
        let svc = start(cfg, &db);
        let mut idle: Vec<TcpStream> = (0..2)
            .map(|_| partner::connect_from(Some(peer), svc.local_addr(), T).unwrap())
            .collect();
        assert!(eventually(T, || svc.stats().accepted == 2));
        let mut extra = partner::connect_from(Some(peer), svc.local_addr(), T).unwrap();
        extra.set_read_timeout(Some(T)).unwrap();
        let t0 = Instant::now();
        let mut b = [0u8; 1];
        let n = extra.read(&mut b).unwrap_or(0);
        assert_eq!(n, 0);
        assert!(t0.elapsed() < Duration::from_millis(500));
        assert_eq!(svc.stats().refused_busy, 1);
        // A slot frees up when a peer goes away.
        drop(idle.pop());
        assert!(eventually(T, || {
            partner::session(Some(peer), svc.local_addr(), T, |c| c.owner_map()).is_ok()
        }));
        // Dropping the service does not wait for a peer stalled mid-frame.
        let before = svc.stats().accepted;
        let mut still = partner::connect_from(Some(peer), svc.local_addr(), T).unwrap();
        still.write_all(&[0, 0]).unwrap();
        assert!(eventually(T, || svc.stats().accepted == before + 1));
        let t0 = Instant::now();
        drop(svc);
        assert!(
            t0.elapsed() < Duration::from_millis(500),
            "{:?}",
            t0.elapsed()
        );
    }

    /// Whether `s` is closed by the service within `within` (nothing read, EOF or reset).
    fn closed_within(s: &mut TcpStream, within: Duration) -> bool {
        s.set_read_timeout(Some(within)).unwrap();
        let mut b = [0u8; 64];
        match s.read(&mut b) {
            Ok(0) => true,
            Ok(_) => false,
            Err(e) => e.kind() == std::io::ErrorKind::ConnectionReset,
        }
    }

    #[test]
    fn a_stranger_cannot_lock_a_partner_out() {
        let partner = ip("127.42.10.2");
        let stranger = ip("127.42.10.3");
        let db = MemDb::new(ip("127.42.10.1"));
        let mut cfg = config(any(db.me), &[at("127.42.10.2")]);
        cfg.max_connections = 2;
        cfg.idle_timeout = Duration::from_secs(30);
        let svc = start(cfg, &db);
        // Six silent connections of a stranger: each closed at once, none counted.
        let mut silent: Vec<TcpStream> = (0..6)
            .map(|_| partner::connect_from(Some(stranger), svc.local_addr(), T).unwrap())
            .collect();
        for s in &mut silent {
            assert!(closed_within(s, T));
        }
        assert!(eventually(T, || svc.stats().refused_not_partner == 6));
        // A stranger reconnecting in a loop while the partner associates again and again.
        let stop = Arc::new(AtomicBool::new(false));
        let hammer = {
            let (stop, at) = (stop.clone(), svc.local_addr());
            thread::spawn(move || {
                let mut n = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    if partner::connect_from(Some(stranger), at, T).is_ok() {
                        n += 1;
                    }
                }
                n
            })
        };
        // Each session within the 2 s exchange timeout, every time.
        for _ in 0..20 {
            partner::session(Some(partner), svc.local_addr(), T, |c| c.owner_map()).unwrap();
        }
        stop.store(true, Ordering::Relaxed);
        let tries = hammer.join().unwrap();
        assert!(tries > 0);
        let s = svc.stats();
        assert_eq!((s.accepted, s.refused_busy), (20, 0), "{s:?}");
    }

    #[test]
    fn a_partner_gets_a_few_connections_at_most() {
        let (p1, p2) = (ip("127.42.11.2"), ip("127.42.11.3"));
        let db = MemDb::new(ip("127.42.11.1"));
        let mut cfg = config(any(db.me), &[at("127.42.11.2"), at("127.42.11.3")]);
        cfg.max_connections_per_partner = 3;
        cfg.idle_timeout = Duration::from_secs(30);
        let svc = start(cfg, &db);
        let _held: Vec<TcpStream> = (0..3)
            .map(|_| partner::connect_from(Some(p1), svc.local_addr(), T).unwrap())
            .collect();
        assert!(eventually(T, || svc.stats().accepted == 3));
        let mut fourth = partner::connect_from(Some(p1), svc.local_addr(), T).unwrap();
        assert!(closed_within(&mut fourth, T));
        assert_eq!(svc.stats().refused_busy, 1);
        // The other partner is not held up by the first one's connections.
        partner::session(Some(p2), svc.local_addr(), T, |c| c.owner_map()).unwrap();
    }

    #[test]
    fn an_associated_partner_that_goes_silent_is_dropped() {
        let peer = ip("127.42.12.2");
        let db = MemDb::new(ip("127.42.12.1"));
        let mut cfg = config(any(db.me), &[at("127.42.12.2")]);
        cfg.idle_timeout = Duration::from_millis(400);
        let svc = start(cfg, &db);
        let mut c = Conn::connect(Some(peer), svc.local_addr(), T).unwrap();
        c.start_association().unwrap();
        c.owner_map().unwrap();
        // Silent after one exchange: dropped after the timeout, not later.
        let t0 = Instant::now();
        assert_eq!(reaction(&mut c, Duration::from_secs(3)), "closed");
        let waited = t0.elapsed();
        assert!(
            waited >= Duration::from_millis(300) && waited < Duration::from_millis(1500),
            "{waited:?}"
        );
        assert_eq!(svc.stats().dropped_idle, 1);
    }

    #[test]
    fn a_busy_association_ends_at_its_lifetime() {
        let peer = ip("127.42.13.2");
        let db = MemDb::new(ip("127.42.13.1"));
        let mut cfg = config(any(db.me), &[at("127.42.13.2")]);
        cfg.idle_timeout = Duration::from_millis(400);
        cfg.max_lifetime = Duration::from_millis(800);
        let svc = start(cfg, &db);
        let mut c = Conn::connect(Some(peer), svc.local_addr(), T).unwrap();
        c.start_association().unwrap();
        // A message every 100 ms, never silent for the idle timeout.
        let t0 = Instant::now();
        let ended = loop {
            thread::sleep(Duration::from_millis(100));
            if c.owner_map().is_err() {
                break t0.elapsed();
            }
            assert!(t0.elapsed() < Duration::from_secs(3), "never ended");
        };
        assert!(ended >= Duration::from_millis(600), "{ended:?}");
        assert_eq!(svc.stats().dropped_lifetime, 1);
        assert_eq!(svc.stats().dropped_idle, 0);
    }

    /// A range larger than one reply: the service answers the lowest versions
    /// that fit, the puller asks again from the highest version it got.
    #[test]
    fn a_large_range_is_pulled_reply_after_reply() {
        let (a_at, b_at) = (reserve("127.42.14.1"), reserve("127.42.14.2"));
        let (a_db, b_db) = (MemDb::new(*a_at.ip()), MemDb::new(*b_at.ip()));
        let mut cfg = config(a_at, &[b_at]);
        cfg.max_reply_bytes = 4096;
        let a = start(cfg, &a_db);
        let b = start(config(b_at, &[a_at]), &b_db);
        for i in 0..1000 {
            a_db.register(&format!("N{i}"));
        }
        b.pull_now();
        assert!(eventually(T, || b.stats().pulls_ok == 1));
        assert_eq!(b_db.names_of(a_db.me).len(), 1000);
        let s = a.stats();
        // 48 bytes a record: 84 a reply.
        assert_eq!(s.reply_records_sent, 1000);
        assert_eq!(s.replies_sent, 12, "{s:?}");
        let asked = a_db.asked();
        assert_eq!(asked[0], (a_db.me, 1, 1000));
        assert_eq!(asked[1], (a_db.me, 85, 1000));
    }
}
