//! Name-query throughput of WINS servers, measured with one client:
//! the embedded reference target (the model's server state machine on a
//! UDP socket) and, side by side in the same run, nmbd when
//! `NBNSV_NMBD=IP:PORT` names one (scripts/bench-servers.sh starts it in a
//! network namespace and runs this bench there).
//!
//! The reference target runs twice: as `run` embeds it (database in memory,
//! no replication) and as `serve --db FILE --partner ...` runs it (redb
//! file, replication on).
//!
//! One iteration is a batch of `BATCH` positive name queries for
//! registered names, kept `WINDOW` deep in flight; criterion's time per
//! batch gives queries/s = BATCH / time. A second group sends
//! re-registrations (refreshes) the same way: a database write each, which
//! the reference commits (fsync with a file) before it answers. A third
//! sends registrations of new names, each sorting before every name held.
//!
//! Every group runs with the reference's database holding 0, 100,000 and
//! 1,000,000 other records (`NBNSV_BENCH_RECORDS=0,100000` picks sizes).
//! They are filled in-process before the measurement, through the state
//! machine: one `Server::handle` registration each, under the server's lock
//! ([`nbns_reference::ServerHandle::update`]), committed to the database in
//! one transaction; nmbd runs with its own names only.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use nbns_model::proto::{NodeType as ModelNode, Packet};
use nbns_reference::replication::ReplicationConfig;
use nbns_reference::{EmbeddedServer, PacketConfig, WinsServerConfig, WireName};
use nbns_wire::nbns::{
    Compression, Flags, List, NbEntry, NbFlags, NodeType, Opcode, Question, RData, Record, Repr,
    RrType, CLASS_IN,
};
use nbns_wire::{Labels, Name, NetbiosName};
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, UdpSocket};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

const BATCH: usize = 2048;
const WINDOW: usize = 64;
const NAMES: usize = 64;
const CLIENT: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 3);

fn packet(id: u16, opcode: Opcode, i: usize, me: Ipv4Addr) -> Vec<u8> {
    named(id, opcode, &format!("BENCH{i:03}"), me)
}

fn named(id: u16, opcode: Opcode, label: &str, me: Ipv4Addr) -> Vec<u8> {
    let name = Name::netbios(
        NetbiosName::new(label.as_bytes(), 0).unwrap(),
        Labels::EMPTY,
    )
    .unwrap();
    let entries = [NbEntry {
        flags: NbFlags::new(false, NodeType::H),
        addr: me,
    }];
    let repr = Repr {
        id,
        flags: Flags::request(opcode),
        question: Some(Question {
            name,
            qtype: RrType::Nb,
            qclass: CLASS_IN,
        }),
        answer: None,
        authority: None,
        additional: (opcode == Opcode::Registration).then_some(Record {
            name,
            class: CLASS_IN,
            ttl: 3600,
            rdata: RData::Nb(List::Items(&entries)),
        }),
    };
    let mut buf = vec![0; repr.buffer_len(Compression::Question)];
    repr.emit(&mut buf, Compression::Question).unwrap();
    buf
}

struct Client {
    socket: UdpSocket,
    target: SocketAddr,
    queries: Vec<Vec<u8>>,
    buf: Vec<u8>,
    /// Registers a new name at every send instead of repeating `queries`.
    new_names: bool,
}

/// New names registered so far (by every client: names never repeat).
static NEW_NAMES: AtomicUsize = AtomicUsize::new(0);

impl Client {
    /// A client that registers names nobody holds, each sorting before every
    /// name in the database ("A" < "BENCH" < "FILL").
    fn new_names(target: SocketAddr) -> Client {
        let mut c = Client::new(target);
        c.new_names = true;
        c
    }

    /// A client that re-registers the names instead of querying them.
    fn registering(target: SocketAddr) -> Client {
        let mut c = Client::new(target);
        c.queries = (0..NAMES)
            .map(|i| packet(i as u16, Opcode::Registration, i, CLIENT))
            .collect();
        c
    }

    fn new(target: SocketAddr) -> Client {
        let socket = UdpSocket::bind((CLIENT, 0)).expect("bind 127.0.0.3");
        socket
            .set_read_timeout(Some(Duration::from_millis(500)))
            .unwrap();
        // Register the names the queries ask for, so every answer is positive.
        let mut buf = vec![0u8; 2048];
        for i in 0..NAMES {
            socket
                .send_to(
                    &packet(0x4000 + i as u16, Opcode::Registration, i, CLIENT),
                    target,
                )
                .unwrap();
            let (n, _) = socket.recv_from(&mut buf).expect("registration answered");
            let r = Repr::parse_bytes(&buf[..n]).unwrap();
            assert_eq!(
                r.flags.rcode,
                nbns_wire::nbns::Rcode::NoError,
                "registration of BENCH{i:03}"
            );
        }
        let queries = (0..NAMES)
            .map(|i| packet(i as u16, Opcode::Query, i, CLIENT))
            .collect();
        Client {
            socket,
            target,
            queries,
            buf,
            new_names: false,
        }
    }

    /// Sends BATCH queries, WINDOW in flight; returns how many were answered.
    fn batch(&mut self) -> usize {
        let mut sent = 0;
        let mut answered = 0;
        while sent < WINDOW {
            self.send(sent);
            sent += 1;
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        while answered < BATCH && Instant::now() < deadline {
            match self.socket.recv_from(&mut self.buf) {
                Ok(_) => {
                    answered += 1;
                    if sent < BATCH {
                        self.send(sent);
                        sent += 1;
                    }
                }
                // A lost datagram: keep the window full.
                Err(_) if sent < BATCH => {
                    self.send(sent);
                    sent += 1;
                }
                Err(_) => break,
            }
        }
        answered
    }

    fn send(&mut self, i: usize) {
        if self.new_names {
            // Counting down from the top keeps every new name before the last one.
            let n = 9_999_999 - NEW_NAMES.fetch_add(1, Ordering::Relaxed);
            let p = named(i as u16, Opcode::Registration, &format!("A{n:07}"), CLIENT);
            self.socket.send_to(&p, self.target).unwrap();
            return;
        }
        let q = &mut self.queries[i % NAMES];
        // A fresh transaction id keeps the server from seeing retransmissions.
        q[..2].copy_from_slice(&(i as u16).to_be_bytes());
        self.socket.send_to(q, self.target).unwrap();
    }
}

/// The reference target as `serve --db FILE --partner ...` runs it: a redb
/// file and replication on (one partner, which is never reached: periodic
/// pulls are off so that no failing connection runs during the measurement).
fn durable_reference() -> (EmbeddedServer, PathBuf) {
    let ip = Ipv4Addr::new(127, 0, 0, 12);
    let db = std::env::temp_dir().join(format!("nbnsv-bench-{}.redb", std::process::id()));
    let _ = std::fs::remove_file(&db);
    let mut reference = PacketConfig::new("BENCHREF", ip);
    reference.challenge_port = nbns_wire::nbns::PORT;
    let mut cfg = WinsServerConfig::new(reference);
    cfg.db = Some(db.clone());
    let mut wrepl = ReplicationConfig::new(ip);
    wrepl.bind = SocketAddrV4::new(ip, 0);
    wrepl.partners = vec![SocketAddrV4::new(Ipv4Addr::new(127, 0, 0, 13), 42)];
    wrepl.pull_interval = Duration::ZERO;
    cfg.replication = Some(wrepl);
    let server =
        EmbeddedServer::start_with(cfg, SocketAddrV4::new(ip, 0)).expect("reference target");
    (server, db)
}

/// Fills the database with `n` records of names `FILL0000000`... through
/// the state machine (a registration each, from 10.0.0.0 up), committed in
/// one transaction.
fn fill(server: &EmbeddedServer, n: usize) {
    if n == 0 {
        return;
    }
    let start = Instant::now();
    let held = server
        .handle()
        .update(|s, cfg, now| {
            let mut out = Vec::new();
            for i in 0..n {
                let label = format!("FILL{i:07}");
                let name = WireName::unscoped(NetbiosName::new(label.as_bytes(), 0).unwrap());
                let addr = Ipv4Addr::from(0x0a00_0000 + i as u32);
                let p = Packet::Register {
                    name,
                    group: false,
                    node: ModelNode::H,
                    ttl: 7 * 24 * 3600,
                    addr,
                    multihomed: false,
                    broadcast: false,
                };
                s.handle(cfg, now, addr, 0, p, &mut out);
                out.clear();
            }
            s.record_count()
        })
        .expect("filled");
    eprintln!(
        "filled {} with {n} records in {:.1} s ({held} held)",
        server.addr(),
        start.elapsed().as_secs_f64()
    );
}

fn sizes() -> Vec<usize> {
    match std::env::var("NBNSV_BENCH_RECORDS") {
        Ok(v) => v
            .split(',')
            .map(|x| x.trim().parse().expect("NBNSV_BENCH_RECORDS=N,N,..."))
            .collect(),
        Err(_) => vec![0, 100_000, 1_000_000],
    }
}

fn nmbd_target() -> Option<SocketAddr> {
    match std::env::var("NBNSV_NMBD") {
        Ok(addr) => Some(addr.parse().expect("NBNSV_NMBD=IP:PORT")),
        Err(_) => {
            eprintln!(
                "NBNSV_NMBD not set: measuring the reference target only (scripts/bench-servers.sh measures nmbd beside it)"
            );
            None
        }
    }
}

fn throughput(c: &mut Criterion) {
    let nmbd = nmbd_target();
    for size in sizes() {
        let embedded = EmbeddedServer::start(nbns_wire::nbns::PORT).expect("reference target");
        let (durable, db) = durable_reference();
        fill(&embedded, size);
        fill(&durable, size);
        for (what, client) in [
            (
                "name query throughput (2048 queries, 64 in flight)",
                Client::new as fn(SocketAddr) -> Client,
            ),
            (
                "re-registration throughput (2048 refreshes, 64 in flight)",
                Client::registering,
            ),
            (
                "new-name registration throughput (2048 names, 64 in flight)",
                Client::new_names,
            ),
        ] {
            let mut group = c.benchmark_group(format!("{what}, {size} records"));
            group.throughput(Throughput::Elements(BATCH as u64));
            group.sample_size(30);
            let mut reference = client(embedded.addr());
            group.bench_function("reference target", |b| b.iter(|| reference.batch()));
            let mut reference = client(durable.addr());
            group.bench_function("reference target, redb file + replication", |b| {
                b.iter(|| reference.batch())
            });
            if let (Some(target), 0) = (nmbd, size) {
                let mut nmbd = client(target);
                group.bench_function("nmbd", |b| b.iter(|| nmbd.batch()));
            }
            group.finish();
        }
        drop(embedded);
        drop(durable);
        let _ = std::fs::remove_file(db);
    }
}

criterion_group!(benches, throughput);
criterion_main!(benches);
