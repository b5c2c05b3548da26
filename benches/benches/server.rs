//! Name-query throughput of WINS servers, measured with one client:
//! the embedded reference target (the model's server state machine on a
//! UDP socket) and, side by side in the same run, nmbd when
//! `NBNSV_NMBD=IP:PORT` names one (scripts/bench-servers.sh starts it in a
//! network namespace and runs this bench there).
//!
//! One iteration is a batch of `BATCH` positive name queries for
//! registered names, kept `WINDOW` deep in flight; criterion's time per
//! batch gives queries/s = BATCH / time.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use nbns_conformance::serve::Embedded;
use nbns_wire::nbns::{
    Compression, Flags, List, NbEntry, NbFlags, NodeType, Opcode, Question, RData, Record, Repr,
    RrType, CLASS_IN,
};
use nbns_wire::{Labels, Name, NetbiosName};
use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

const BATCH: usize = 2048;
const WINDOW: usize = 64;
const NAMES: usize = 64;
const CLIENT: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 3);

fn packet(id: u16, opcode: Opcode, i: usize, me: Ipv4Addr) -> Vec<u8> {
    let label = format!("BENCH{i:03}");
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
}

impl Client {
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
        let q = &mut self.queries[i % NAMES];
        // A fresh transaction id keeps the server from seeing retransmissions.
        q[..2].copy_from_slice(&(i as u16).to_be_bytes());
        self.socket.send_to(q, self.target).unwrap();
    }
}

fn throughput(c: &mut Criterion) {
    let mut group = c.benchmark_group("name query throughput (2048 queries, 64 in flight)");
    group.throughput(Throughput::Elements(BATCH as u64));
    group.sample_size(30);
    let embedded = Embedded::start(nbns_wire::nbns::PORT).expect("reference target");
    let mut reference = Client::new(embedded.addr());
    group.bench_function("reference target", |b| b.iter(|| reference.batch()));
    match std::env::var("NBNSV_NMBD") {
        Ok(addr) => {
            let target: SocketAddr = addr.parse().expect("NBNSV_NMBD=IP:PORT");
            let mut nmbd = Client::new(target);
            group.bench_function("nmbd", |b| b.iter(|| nmbd.batch()));
        }
        Err(_) => eprintln!(
            "NBNSV_NMBD not set: measuring the reference target only (scripts/bench-servers.sh measures nmbd beside it)"
        ),
    }
    group.finish();
}

criterion_group!(benches, throughput);
criterion_main!(benches);
