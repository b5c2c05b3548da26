//! A WINS replication partner (MS-WINSRA, TCP port 42) built on
//! `nbns_wire::wrepl`: the client side (start association, owner-version map,
//! send-entries, push by update notification, stop association) and a small
//! server side that answers a target connecting back to pull (after an
//! inform notification, or on its own pull schedule).
//!
//! Every read, connect and accept has a deadline, and frames are cut by a
//! [`FrameSplitter`] with a maximum frame length, so a hostile or stalled
//! peer costs bounded memory and time.

use nbns_wire::wrepl::{
    FrameSplitter, OwnedMessage, OwnedNameRecord, OwnedReplication, OwnedRepr, OwnerRecord,
    ParseOptions, Repr, Start, Stop, UpdateKind, OPCODE_BITS,
};
use nbns_wire::ErrorKind;
use std::collections::BTreeMap;
use std::fmt;
use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// Default time allowed for one exchange (connect, or one reply).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);
/// Largest frame the partner accepts: 4 MiB (a send-entries reply of about
/// 80 000 records). Longer length words end the connection.
pub const MAX_FRAME_LEN: u32 = 4 * 1024 * 1024;
/// The association handle the runner uses for itself.
pub const OUR_CTX: u32 = 0x4e42_5256;

/// What went wrong on a replication connection.
#[derive(Debug)]
pub enum PartnerError {
    Io(io::Error),
    /// No complete frame before the deadline.
    Timeout(String),
    /// The peer closed the connection.
    Closed(String),
    /// A frame that does not parse, or a length word beyond the limit.
    BadFrame(String),
    /// A well-formed message that does not fit the exchange.
    Unexpected(String),
    /// A whole frame of type 3 whose RplOpCode names no message: MS-WINSRA
    /// 2.2.8 has such packets silently discarded, the connection goes on.
    Discarded(String),
}

impl fmt::Display for PartnerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PartnerError::Io(e) => write!(f, "i/o error: {e}"),
            PartnerError::Timeout(w) => write!(f, "timed out waiting for {w}"),
            PartnerError::Closed(w) => write!(f, "connection closed while waiting for {w}"),
            PartnerError::BadFrame(e) => write!(f, "bad frame: {e}"),
            PartnerError::Unexpected(m) => write!(f, "unexpected message: {m}"),
            PartnerError::Discarded(m) => write!(f, "discarded: {m}"),
        }
    }
}

impl std::error::Error for PartnerError {}

impl From<io::Error> for PartnerError {
    fn from(e: io::Error) -> Self {
        PartnerError::Io(e)
    }
}

pub type Result<T> = std::result::Result<T, PartnerError>;

/// A TCP connection from `local` (any local address when `None`) to `peer`,
/// the connect bounded by `timeout`. Binding the source address matters: a
/// WINS server recognises its partners by the peer address of the connection.
pub fn connect_from(
    local: Option<Ipv4Addr>,
    peer: SocketAddrV4,
    timeout: Duration,
) -> io::Result<TcpStream> {
    let Some(local) = local else {
        return TcpStream::connect_timeout(&SocketAddr::V4(peer), timeout);
    };
    use socket2::{Domain, Protocol, Socket, Type};
    let socket = Socket::new(Domain::IPV4, Type::STREAM, Some(Protocol::TCP))?;
    socket.set_reuse_address(true)?;
    socket
        .bind(&SocketAddr::V4(SocketAddrV4::new(local, 0)).into())
        .map_err(|e| io::Error::new(e.kind(), format!("bind {local}: {e}")))?;
    socket
        .connect_timeout(
            &SocketAddr::V4(peer).into(),
            timeout.max(Duration::from_millis(1)),
        )
        .map_err(|e| io::Error::new(e.kind(), format!("connect {peer}: {e}")))?;
    Ok(socket.into())
}

/// The records a partner offers, by owner, in version order.
#[derive(Debug, Clone, Default)]
pub struct RecordStore {
    pub owners: BTreeMap<Ipv4Addr, Vec<OwnedNameRecord>>,
}

impl RecordStore {
    /// The owner-version map of the store.
    pub fn table(&self) -> Vec<OwnerRecord> {
        self.owners
            .iter()
            .filter(|(_, v)| !v.is_empty())
            .map(|(a, v)| OwnerRecord {
                address: *a,
                max_version: v.iter().map(|r| r.version).max().unwrap_or(0),
                min_version: v.iter().map(|r| r.version).min().unwrap_or(0),
                owner_type: 1,
            })
            .collect()
    }

    /// The records of `want.address` with versions in `min..=max` (max 0: all).
    pub fn entries(&self, want: &OwnerRecord) -> Vec<OwnedNameRecord> {
        let max = if want.max_version == 0 {
            u64::MAX
        } else {
            want.max_version
        };
        self.owners
            .get(&want.address)
            .map(|v| {
                v.iter()
                    .filter(|r| r.version >= want.min_version && r.version <= max)
                    .cloned()
                    .collect()
            })
            .unwrap_or_default()
    }

    pub fn add(&mut self, owner: Ipv4Addr, rec: OwnedNameRecord) {
        let v = self.owners.entry(owner).or_default();
        v.push(rec);
        v.sort_by_key(|r| r.version);
    }
}

/// What the target did during a push.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PushReport {
    /// The send-entries requests the target made: (owner, min, max).
    pub requests: Vec<(Ipv4Addr, u64, u64)>,
    /// Records sent in reply.
    pub records_sent: usize,
    /// Whether the target ended with a stop association.
    pub stopped: bool,
}

/// One replication connection.
pub struct Conn {
    stream: TcpStream,
    splitter: FrameSplitter,
    buf: Vec<u8>,
    pub timeout: Duration,
    /// Our association handle.
    pub our_ctx: u32,
    /// The peer's association handle (0 before start association).
    pub peer_ctx: u32,
    /// Every frame received, as bytes, when [`Conn::record_frames`] asked for it (for a
    /// conformance check of the peer's layouts); bounded by [`RECORD_LIMIT`].
    recorded: Option<Vec<Vec<u8>>>,
}

/// Most bytes of received frames a recording connection keeps.
pub const RECORD_LIMIT: usize = 16 * 1024 * 1024;

impl Conn {
    pub fn new(stream: TcpStream, timeout: Duration) -> Conn {
        let _ = stream.set_nodelay(true);
        let _ = stream.set_write_timeout(Some(timeout.max(Duration::from_millis(1))));
        Conn {
            stream,
            splitter: FrameSplitter::with_max_frame_len(MAX_FRAME_LEN),
            buf: vec![0; 64 * 1024],
            timeout,
            our_ctx: OUR_CTX,
            peer_ctx: 0,
            recorded: None,
        }
    }

    /// Keeps a copy of every frame received from now on (up to [`RECORD_LIMIT`] bytes).
    pub fn record_frames(&mut self) {
        self.recorded.get_or_insert_with(Vec::new);
    }

    /// The frames recorded so far (see [`Conn::record_frames`]).
    pub fn take_recorded(&mut self) -> Vec<Vec<u8>> {
        self.recorded
            .as_mut()
            .map(std::mem::take)
            .unwrap_or_default()
    }

    /// Connects from `local` to `peer` (port 42 normally).
    pub fn connect(local: Option<Ipv4Addr>, peer: SocketAddrV4, timeout: Duration) -> Result<Conn> {
        Ok(Conn::new(connect_from(local, peer, timeout)?, timeout))
    }

    /// Sets the largest frame accepted (default [`MAX_FRAME_LEN`]). Call it
    /// before the first read: bytes already buffered are dropped.
    pub fn set_max_frame_len(&mut self, max: u32) {
        self.splitter = FrameSplitter::with_max_frame_len(max);
    }

    /// Bytes held by the frame reader (bounded by [`MAX_FRAME_LEN`] plus one read).
    pub fn buffered(&self) -> usize {
        self.splitter.buffered()
    }

    pub fn send_raw(&mut self, bytes: &[u8]) -> Result<()> {
        self.stream.write_all(bytes)?;
        Ok(())
    }

    pub fn send(&mut self, frame: &OwnedRepr) -> Result<()> {
        let bytes = frame
            .to_vec()
            .map_err(|e| PartnerError::BadFrame(format!("cannot encode: {e}")))?;
        self.send_raw(&bytes)
    }

    fn replication(&self, r: OwnedReplication) -> OwnedRepr {
        OwnedRepr {
            opcode: OPCODE_BITS,
            assoc_ctx: self.peer_ctx,
            message: OwnedMessage::Replication(r),
            padding: 0,
        }
    }

    /// The next frame, parsed, within `wait` (what we wait for names it in errors).
    pub fn recv_within(&mut self, wait: Duration, what: &str) -> Result<OwnedRepr> {
        let deadline = Instant::now() + wait;
        loop {
            if let Some(frame) = self.splitter.next_frame() {
                return match frame {
                    Ok(bytes) => {
                        if let Some(rec) = self.recorded.as_mut() {
                            if rec.iter().map(Vec::len).sum::<usize>() + bytes.len() <= RECORD_LIMIT
                            {
                                rec.push(bytes.to_vec());
                            }
                        }
                        Repr::parse_bytes(bytes, ParseOptions::default())
                            .map(|r| OwnedRepr::from_repr(&r))
                            .map_err(|e| match e.kind {
                                ErrorKind::BadReplicationOpcode(_) => {
                                    PartnerError::Discarded(e.to_string())
                                }
                                _ => PartnerError::BadFrame(e.to_string()),
                            })
                    }
                    Err(e) => Err(PartnerError::BadFrame(e.to_string())),
                };
            }
            if self.splitter.is_failed() {
                return Err(PartnerError::BadFrame("stream stopped".into()));
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(PartnerError::Timeout(what.to_string()));
            }
            self.stream
                .set_read_timeout(Some((deadline - now).max(Duration::from_millis(1))))?;
            match self.stream.read(&mut self.buf) {
                Ok(0) => return Err(PartnerError::Closed(what.to_string())),
                Ok(n) => self.splitter.push(&self.buf[..n]),
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) =>
                {
                    return Err(PartnerError::Timeout(what.to_string()))
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::ConnectionReset => {
                    return Err(PartnerError::Closed(what.to_string()))
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    pub fn recv(&mut self, what: &str) -> Result<OwnedRepr> {
        self.recv_within(self.timeout, what)
    }

    /// Start association; keeps the peer's handle.
    pub fn start_association(&mut self) -> Result<()> {
        self.send(&OwnedRepr {
            opcode: OPCODE_BITS,
            assoc_ctx: 0,
            message: OwnedMessage::StartAssociation(Start::new(self.our_ctx)),
            padding: nbns_wire::wrepl::START_PADDING,
        })?;
        let r = self.recv("a start association response")?;
        match r.message {
            OwnedMessage::StartAssociationResponse(s) => {
                self.peer_ctx = s.assoc_ctx;
                Ok(())
            }
            OwnedMessage::StopAssociation(s) => Err(PartnerError::Unexpected(format!(
                "stop association (reason {}) instead of a start association response",
                s.reason
            ))),
            other => Err(PartnerError::Unexpected(format!("{other:?}"))),
        }
    }

    /// Owner-version map request and reply.
    pub fn owner_map(&mut self) -> Result<Vec<OwnerRecord>> {
        self.send(&self.replication(OwnedReplication::OwnerVersionMapRequest))?;
        match self.recv("an owner-version map reply")?.message {
            OwnedMessage::Replication(OwnedReplication::OwnerVersionMapResponse {
                owners, ..
            }) => Ok(owners),
            OwnedMessage::StopAssociation(s) => Err(PartnerError::Unexpected(format!(
                "stop association (reason {}) instead of a map reply",
                s.reason
            ))),
            other => Err(PartnerError::Unexpected(format!("{other:?}"))),
        }
    }

    /// Send-entries request for `owner`'s records with versions `min..=max`.
    pub fn send_entries(
        &mut self,
        owner: Ipv4Addr,
        min: u64,
        max: u64,
    ) -> Result<Vec<OwnedNameRecord>> {
        self.send(
            &self.replication(OwnedReplication::NameRecordsRequest(OwnerRecord {
                address: owner,
                max_version: max,
                min_version: min,
                owner_type: 1,
            })),
        )?;
        match self.recv("a send-entries reply")?.message {
            OwnedMessage::Replication(OwnedReplication::NameRecordsResponse(v)) => Ok(v),
            OwnedMessage::StopAssociation(s) => Err(PartnerError::Unexpected(format!(
                "stop association (reason {}) instead of a send-entries reply",
                s.reason
            ))),
            other => Err(PartnerError::Unexpected(format!("{other:?}"))),
        }
    }

    /// Push: an update notification with `store`'s owner table (or `only`
    /// of it); the target pulls over this connection, and every send-entries
    /// request is answered from `store`, until the target stops the
    /// association or `wait` runs out.
    pub fn push(
        &mut self,
        kind: UpdateKind,
        initiator: Ipv4Addr,
        store: &RecordStore,
        only: Option<&[Ipv4Addr]>,
        wait: Duration,
    ) -> Result<PushReport> {
        let owners: Vec<OwnerRecord> = store
            .table()
            .into_iter()
            .filter(|o| match only {
                Some(v) => v.contains(&o.address),
                None => true,
            })
            .collect();
        self.send(&self.replication(OwnedReplication::UpdateNotification {
            kind,
            owners: owners.clone(),
            initiator,
        }))?;
        let mut report = PushReport::default();
        if matches!(kind, UpdateKind::Inform | UpdateKind::InformPropagate) {
            // No reply: the target pulls on a connection of its own.
            return Ok(report);
        }
        let deadline = Instant::now() + wait;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let r = match self.recv_within(left, "the target's pull after an update") {
                Ok(r) => r,
                Err(PartnerError::Closed(_)) if !report.requests.is_empty() => return Ok(report),
                Err(e) => return Err(e),
            };
            match r.message {
                OwnedMessage::Replication(OwnedReplication::NameRecordsRequest(want)) => {
                    let recs = store.entries(&want);
                    report
                        .requests
                        .push((want.address, want.min_version, want.max_version));
                    report.records_sent += recs.len();
                    self.send(&self.replication(OwnedReplication::NameRecordsResponse(recs)))?;
                }
                OwnedMessage::Replication(OwnedReplication::OwnerVersionMapRequest) => {
                    self.send(
                        &self.replication(OwnedReplication::OwnerVersionMapResponse {
                            owners: owners.clone(),
                            initiator,
                        }),
                    )?;
                }
                OwnedMessage::StopAssociation(_) => {
                    report.stopped = true;
                    return Ok(report);
                }
                other => return Err(PartnerError::Unexpected(format!("{other:?}"))),
            }
        }
    }

    /// Stop association (reason 0); does not wait for anything.
    pub fn stop(&mut self) -> Result<()> {
        let f = OwnedRepr {
            opcode: OPCODE_BITS,
            assoc_ctx: self.peer_ctx,
            message: OwnedMessage::StopAssociation(Stop { reason: 0 }),
            padding: nbns_wire::wrepl::STOP_PADDING,
        };
        self.send(&f)
    }
}

/// A session: connect, start association, run `f`, stop association.
pub fn session<T>(
    local: Option<Ipv4Addr>,
    target: SocketAddrV4,
    timeout: Duration,
    f: impl FnOnce(&mut Conn) -> Result<T>,
) -> Result<T> {
    let mut c = Conn::connect(local, target, timeout)?;
    c.start_association()?;
    let out = f(&mut c)?;
    let _ = c.stop();
    Ok(out)
}

/// Answers one connection from a target that pulls from us: start
/// association, map requests and send-entries requests from `store`, until
/// the peer stops or closes, or stays idle for `idle` (a target may keep a
/// pull connection open for its next cycle). Update notifications from
/// the target (it pushing to us) are answered with a stop association.
/// Returns the send-entries requests served; `on_request` sees each at once.
pub fn serve_one(
    stream: TcpStream,
    store: &Mutex<RecordStore>,
    me: Ipv4Addr,
    idle: Duration,
    on_request: &dyn Fn(Ipv4Addr, u64, u64),
) -> Result<Vec<(Ipv4Addr, u64, u64)>> {
    let mut c = Conn::new(stream, idle);
    let mut served = Vec::new();
    // Bounded in all: at most this many messages on one connection.
    for _ in 0..10_000 {
        let r = match c.recv_within(idle, "the target's next request") {
            Ok(r) => r,
            Err(PartnerError::Closed(_) | PartnerError::Timeout(_)) => return Ok(served),
            Err(e) => return Err(e),
        };
        let snapshot = store.lock().unwrap_or_else(|p| p.into_inner()).clone();
        if std::env::var_os("NBNS_WREPL_DEBUG").is_some() {
            eprintln!("partner listener {me}: got {:?}", r.message);
        }
        match r.message {
            OwnedMessage::StartAssociation(s) => {
                c.peer_ctx = s.assoc_ctx;
                let resp = OwnedRepr {
                    opcode: OPCODE_BITS,
                    assoc_ctx: s.assoc_ctx,
                    message: OwnedMessage::StartAssociationResponse(Start::new(c.our_ctx)),
                    padding: nbns_wire::wrepl::START_PADDING,
                };
                c.send(&resp)?;
            }
            OwnedMessage::Replication(OwnedReplication::OwnerVersionMapRequest) => {
                c.send(&c.replication(OwnedReplication::OwnerVersionMapResponse {
                    owners: snapshot.table(),
                    initiator: me,
                }))?;
            }
            OwnedMessage::Replication(OwnedReplication::NameRecordsRequest(want)) => {
                served.push((want.address, want.min_version, want.max_version));
                on_request(want.address, want.min_version, want.max_version);
                c.send(&c.replication(OwnedReplication::NameRecordsResponse(
                    snapshot.entries(&want),
                )))?;
            }
            OwnedMessage::Replication(OwnedReplication::UpdateNotification { .. }) => {
                c.stop()?;
                return Ok(served);
            }
            OwnedMessage::StopAssociation(_) => return Ok(served),
            _ => {}
        }
    }
    Ok(served)
}

/// A send-entries request a listener served: (listening address, owner,
/// min version, max version).
pub type Served = (Ipv4Addr, Ipv4Addr, u64, u64);

/// Listeners on TCP 42 of the partner addresses, answering targets that
/// connect back to pull (after an inform, or on their pull schedule).
pub struct PartnerListener {
    stop: Arc<AtomicBool>,
    threads: Vec<thread::JoinHandle<()>>,
    /// Connections served so far (all listeners).
    pub served: Arc<AtomicUsize>,
    /// Send-entries requests served, with the listening address.
    pub requests: Arc<Mutex<Vec<Served>>>,
}

impl PartnerListener {
    pub fn start(
        addrs: &[Ipv4Addr],
        port: u16,
        store: Arc<Mutex<RecordStore>>,
    ) -> io::Result<PartnerListener> {
        let stop = Arc::new(AtomicBool::new(false));
        let served = Arc::new(AtomicUsize::new(0));
        let requests = Arc::new(Mutex::new(Vec::new()));
        let mut threads = Vec::new();
        for &ip in addrs {
            let l = TcpListener::bind(SocketAddrV4::new(ip, port)).map_err(|e| {
                io::Error::new(e.kind(), format!("cannot listen on {ip}:{port}: {e}"))
            })?;
            l.set_nonblocking(true)?;
            let (stop, store, served, requests) = (
                stop.clone(),
                store.clone(),
                served.clone(),
                requests.clone(),
            );
            threads.push(thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    match l.accept() {
                        Ok((s, _)) => {
                            let _ = s.set_nonblocking(false);
                            served.fetch_add(1, Ordering::Relaxed);
                            let note = |o: Ipv4Addr, a: u64, b: u64| {
                                let mut g = requests.lock().unwrap_or_else(|p| p.into_inner());
                                if g.len() < 100_000 {
                                    g.push((ip, o, a, b));
                                }
                            };
                            let r = serve_one(s, &store, ip, Duration::from_secs(3), &note);
                            if std::env::var_os("NBNS_WREPL_DEBUG").is_some() {
                                eprintln!("partner listener {ip}: served {r:?}");
                            }
                        }
                        Err(_) => thread::sleep(Duration::from_millis(20)),
                    }
                }
            }));
        }
        Ok(PartnerListener {
            stop,
            threads,
            served,
            requests,
        })
    }
}

impl Drop for PartnerListener {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fake peer that sends a huge length word: the reader refuses it at
    /// once instead of buffering, and a stalled half frame times out.
    #[test]
    fn reader_is_bounded_in_memory_and_time() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = match l.local_addr().unwrap() {
            SocketAddr::V4(a) => a,
            _ => unreachable!(),
        };
        let t = thread::spawn(move || {
            let (mut s, _) = l.accept().unwrap();
            s.write_all(&0xffff_fff0u32.to_be_bytes()).unwrap();
            s.write_all(&[0u8; 1000]).unwrap();
            let (mut s2, _) = l.accept().unwrap();
            s2.write_all(&[0, 0, 0, 41, 0, 0]).unwrap();
            thread::sleep(Duration::from_millis(600));
            drop(s);
        });
        let mut c = Conn::connect(None, addr, Duration::from_secs(2)).unwrap();
        let e = c.recv("anything").unwrap_err();
        assert!(matches!(e, PartnerError::BadFrame(_)), "{e}");
        assert!(c.buffered() <= 4);
        let mut c2 = Conn::connect(None, addr, Duration::from_millis(200)).unwrap();
        let t0 = Instant::now();
        let e = c2.recv("anything").unwrap_err();
        assert!(matches!(e, PartnerError::Timeout(_)), "{e}");
        assert!(t0.elapsed() < Duration::from_secs(2));
        t.join().unwrap();
    }

    #[test]
    fn push_answers_pulls_from_the_store() {
        use nbns_wire::wrepl::{Flags, NodeType, OwnedRecordName, RecordState, RecordType};
        use nbns_wire::NetbiosName;
        let owner: Ipv4Addr = "127.1.0.9".parse().unwrap();
        let mut store = RecordStore::default();
        store.add(
            owner,
            OwnedNameRecord {
                name: OwnedRecordName::Netbios {
                    name: NetbiosName::new(b"X", 0).unwrap(),
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
                version: 7,
                addresses: Vec::new(),
                single: owner,
                reserved: nbns_wire::wrepl::RECORD_RESERVED,
            },
        );
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = match l.local_addr().unwrap() {
            SocketAddr::V4(a) => a,
            _ => unreachable!(),
        };
        let shared = Mutex::new(store.clone());
        let t = thread::spawn(move || {
            let (s, _) = l.accept().unwrap();
            serve_one(
                s,
                &shared,
                Ipv4Addr::LOCALHOST,
                Duration::from_secs(2),
                &|_, _, _| {},
            )
            .unwrap()
        });
        let got = session(None, addr, Duration::from_secs(2), |c| {
            let map = c.owner_map()?;
            assert_eq!(map[0].max_version, 7);
            c.send_entries(owner, 1, 0)
        })
        .unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!(t.join().unwrap(), vec![(owner, 1, 0)]);
    }
}
