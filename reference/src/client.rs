//! The reference client: the model's NBT client state machine
//! ([`nbns_model::client`]) on real UDP sockets, so that every client-role
//! script is validated on a known-good peer before it judges a real client.
//!
//! Like nmbd it registers `NAME<20>`, `NAME<03>`, `NAME<00>` (unique) and
//! `WORKGROUP<00>`, `WORKGROUP<1E>` (group), in that order, as an H-node,
//! from every address (opcode 0xF for unique names on a multihomed host),
//! and releases them (last first) when stopped. The model runs one
//! transaction at a time; scripts answer in this order.
//!
//! Timing: the model's clock is milliseconds here. A server stage sends
//! [`SENDS_PER_SERVER`] times, [`RETRY_TIMEOUT_MS`] apart (MS-NBTE 3.1.2:
//! UCAST_REQ_RETRY_TIMEOUT SHOULD be 1.5 s; RFC 1002 section 6:
//! UCAST_REQ_RETRY_COUNT 3 retransmissions). A WACK's TTL (seconds) is
//! scaled to the clock. Broadcast stages send nothing (loopback has no
//! segment to broadcast on); their timer still runs.

use crate::model_wire::{emit, model_node, model_opcode, model_rcode, wire_node};
use crate::wire_name::WireName;
use nbns_model::client::{Client, ClientConfig, ClientOut, Dest};
use nbns_model::proto::{self, AddrList, Packet};
use nbns_model::Bugs;
use nbns_wire::nbns::{
    Compression, Flags, List, NbEntry, NbFlags, NodeType, Opcode, Question, RData, Rcode, Record,
    Repr, RrType, CLASS_IN,
};
use nbns_wire::NetbiosName;
use std::collections::HashMap;
use std::io;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::thread;
use std::time::{Duration, Instant};

/// Sends per server stage: the first and 3 retransmissions.
pub const SENDS_PER_SERVER: u8 = 4;
/// Time between them, in milliseconds.
pub const RETRY_TIMEOUT_MS: u32 = 1500;
/// TTL the client asks for (nmbd asks for 259200, 3 days).
pub const ASKED_TTL: u32 = 259_200;
/// A stopping client gives up on unanswered releases after this long.
const STOP_LIMIT: Duration = Duration::from_secs(30);
/// A running client never outlives this.
const LIFETIME: Duration = Duration::from_secs(600);

/// What the client is started with.
#[derive(Debug, Clone)]
pub struct ClientSpec {
    pub name: String,
    pub workgroup: String,
    /// Its addresses; the first is the primary NIC.
    pub nics: Vec<Ipv4Addr>,
    /// WINS servers, primary first (at most two are used).
    pub wins: Vec<Ipv4Addr>,
    /// UDP port of the client's sockets and of the servers.
    pub port: u16,
}

/// The names a client registers, in order: (name, suffix, group).
pub fn own_names(spec: &ClientSpec) -> Vec<(String, u8, bool)> {
    vec![
        (spec.name.clone(), 0x20, false),
        (spec.name.clone(), 0x03, false),
        (spec.name.clone(), 0x00, false),
        (spec.workgroup.clone(), 0x00, true),
        (spec.workgroup.clone(), 0x1e, true),
    ]
}

/// A running reference client (a thread of this process).
pub struct WinsClient {
    stop: Arc<AtomicBool>,
    kill: Arc<AtomicBool>,
    thread: Option<thread::JoinHandle<()>>,
}

impl WinsClient {
    /// Binds the client's sockets and starts registering.
    pub fn start(spec: &ClientSpec) -> io::Result<WinsClient> {
        let mut sockets = Vec::new();
        for &nic in &spec.nics {
            let s = UdpSocket::bind(SocketAddrV4::new(nic, spec.port)).map_err(|e| {
                io::Error::new(
                    e.kind(),
                    format!("reference client: bind {nic}:{}: {e}", spec.port),
                )
            })?;
            s.set_read_timeout(Some(Duration::from_millis(50)))?;
            sockets.push(s);
        }
        let names = own_names(spec)
            .into_iter()
            .map(|(n, suffix, group)| {
                NetbiosName::new(n.to_ascii_uppercase().as_bytes(), suffix)
                    .map(|name| (WireName::unscoped(name), group))
                    .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e.kind.to_string()))
            })
            .collect::<io::Result<Vec<_>>>()?;
        let mut cfg = ClientConfig::new(
            proto::NodeType::H,
            spec.nics.clone(),
            [spec.wins.first().copied(), spec.wins.get(1).copied()],
        );
        cfg.bugs = Bugs::NONE;
        cfg.retries = SENDS_PER_SERVER;
        cfg.bcast_retries = 1;
        cfg.ttl = ASKED_TTL;
        cfg.timeout = RETRY_TIMEOUT_MS;
        let stop = Arc::new(AtomicBool::new(false));
        let kill = Arc::new(AtomicBool::new(false));
        let (s2, k2, port) = (Arc::clone(&stop), Arc::clone(&kill), spec.port);
        let thread = thread::Builder::new()
            .name("reference-client".into())
            .spawn(move || drive(cfg, sockets, names, port, &s2, &k2))?;
        Ok(WinsClient {
            stop,
            kill,
            thread: Some(thread),
        })
    }

    /// Like SIGTERM: release every name, then exit (returns at once).
    pub fn stop(&self) {
        self.stop.store(true, Ordering::Relaxed);
    }

    /// Ends it now.
    pub fn kill(&mut self) {
        self.kill.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for WinsClient {
    fn drop(&mut self) {
        self.kill();
    }
}

type Name = WireName;
type Model = Client<Name, Ipv4Addr>;

/// The client's loop: datagrams and timers in, datagrams out.
fn drive(
    cfg: ClientConfig<Ipv4Addr>,
    sockets: Vec<UdpSocket>,
    names: Vec<(Name, bool)>,
    port: u16,
    stop: &AtomicBool,
    kill: &AtomicBool,
) {
    let start = Instant::now();
    let now_ms = || start.elapsed().as_millis() as u64;
    let (tx, rx) = mpsc::channel::<(usize, SocketAddr, Vec<u8>)>();
    let done = Arc::new(AtomicBool::new(false));
    let mut readers = Vec::new();
    for (i, s) in sockets.iter().enumerate() {
        let Ok(s) = s.try_clone() else { continue };
        let (tx, done) = (tx.clone(), Arc::clone(&done));
        readers.push(thread::spawn(move || {
            let mut buf = vec![0u8; 2048];
            while !done.load(Ordering::Relaxed) {
                if let Ok((n, from)) = s.recv_from(&mut buf) {
                    if tx.send((i, from, buf[..n].to_vec())).is_err() {
                        return;
                    }
                }
            }
        }));
    }
    drop(tx);
    let mut client = Model::new(&cfg);
    // Transaction ids are the model's (one per transaction, kept by its retransmissions); they
    // start here.
    client.last_xid = 0x4e00;
    let mut out = Vec::new();
    let mut io = Io {
        sockets: &sockets,
        nics: &cfg.nics,
        port,
        queries: HashMap::new(),
    };
    for (name, group) in &names {
        let _ = client.add_name(&cfg, now_ms(), name.clone(), *group, &mut out);
    }
    io.flush(&mut out);
    let mut stopping: Option<Instant> = None;
    while !kill.load(Ordering::Relaxed) && start.elapsed() < LIFETIME {
        if stopping.is_none() && stop.load(Ordering::Relaxed) {
            stopping = Some(Instant::now());
            for (name, _) in names.iter().rev() {
                client.delete_name(&cfg, now_ms(), name, &mut out);
            }
            io.flush(&mut out);
        }
        if let Some(t) = stopping {
            if client.idle() || t.elapsed() > STOP_LIMIT {
                break;
            }
        }
        let wait = client
            .next_deadline()
            .map_or(50, |d| d.saturating_sub(now_ms()))
            .clamp(1, 50);
        match rx.recv_timeout(Duration::from_millis(wait)) {
            Ok((i, from, bytes)) => {
                if let (SocketAddr::V4(f), Some((id, p))) = (from, io.decode(from, &bytes)) {
                    client.on_packet(&cfg, now_ms(), *f.ip(), cfg.nics[i], id, p, &mut out);
                }
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
        client.on_timer(&cfg, now_ms(), &mut out);
        io.flush(&mut out);
    }
    done.store(true, Ordering::Relaxed);
    for r in readers {
        let _ = r.join();
    }
}

struct Io<'a> {
    sockets: &'a [UdpSocket],
    nics: &'a [Ipv4Addr],
    port: u16,
    /// Queries to answer: (asker, name) -> (transaction id, asker's socket address).
    queries: HashMap<(Ipv4Addr, Name), (u16, SocketAddr)>,
}

impl Io<'_> {
    /// A datagram as the model sees it, with its transaction id; None for what the client
    /// ignores.
    fn decode(&mut self, from: SocketAddr, bytes: &[u8]) -> Option<(u16, Packet<Name, Ipv4Addr>)> {
        let repr = Repr::parse_bytes(bytes).ok()?;
        let id = repr.id;
        self.decode_packet(from, &repr).map(|p| (id, p))
    }

    fn decode_packet(&mut self, from: SocketAddr, repr: &Repr) -> Option<Packet<Name, Ipv4Addr>> {
        let SocketAddr::V4(f) = from else {
            return None;
        };
        if repr.flags.response {
            let answer = repr.answer?;
            let name = WireName::from_name(&answer.name)?;
            if repr.flags.opcode == Opcode::Wack {
                // The model's clock is milliseconds; a WACK's TTL is seconds.
                return Some(Packet::Wack {
                    name,
                    ttl: answer.ttl.min(3600) * 1000,
                    op: proto::Opcode::Registration,
                });
            }
            let entries: Vec<NbEntry> = answer
                .nb_entries()
                .map_or(Vec::new(), |l| l.iter().collect());
            return Some(Packet::Response {
                op: model_opcode(repr.flags.opcode)?,
                name,
                // A code the client does not know is a refusal.
                rcode: model_rcode(repr.flags.rcode).unwrap_or(proto::Rcode::RfsErr),
                ttl: answer.ttl,
                group: entries.first().is_some_and(|e| e.flags.group()),
                addrs: AddrList::from(entries.iter().map(|e| e.addr).collect::<Vec<_>>()),
            });
        }
        let q = repr.question?;
        let name = WireName::from_name(&q.name)?;
        match repr.flags.opcode {
            Opcode::Query if q.qtype == RrType::Nb => {
                self.queries
                    .insert((*f.ip(), name.clone()), (repr.id, from));
                Some(Packet::Query {
                    name,
                    broadcast: repr.flags.broadcast,
                })
            }
            Opcode::Release => {
                let e = repr
                    .additional
                    .and_then(|r| r.nb_entries())?
                    .iter()
                    .next()?;
                Some(Packet::Release {
                    name,
                    group: e.flags.group(),
                    node: model_node(e.flags.node_type()),
                    addr: e.addr,
                    broadcast: repr.flags.broadcast,
                })
            }
            _ => None,
        }
    }

    /// Sends what the model asked for.
    fn flush(&mut self, out: &mut Vec<ClientOut<Name, Ipv4Addr>>) {
        for o in out.drain(..) {
            let ClientOut::Send {
                from,
                to,
                xid,
                packet,
            } = o
            else {
                continue;
            };
            let Dest::Unicast(to_ip) = to else {
                continue; // no segment to broadcast on
            };
            let Some(sock) = self
                .nics
                .iter()
                .position(|n| *n == from)
                .and_then(|i| self.sockets.get(i))
            else {
                continue;
            };
            if let Some((dest, bytes)) = self.encode(to_ip, xid, &packet) {
                let _ = sock.send_to(&bytes, dest);
            }
        }
    }

    fn encode(
        &mut self,
        to: Ipv4Addr,
        xid: u16,
        packet: &Packet<Name, Ipv4Addr>,
    ) -> Option<(SocketAddr, Vec<u8>)> {
        let server = SocketAddr::V4(SocketAddrV4::new(to, self.port));
        let request = |opcode: Opcode, name: &Name, group, node, ttl, addr, broadcast| {
            (
                opcode,
                name.clone(),
                Some((group, node, ttl, addr)),
                broadcast,
            )
        };
        let (opcode, name, record, broadcast) = match packet {
            Packet::Register {
                name,
                group,
                node,
                ttl,
                addr,
                multihomed,
                broadcast,
            } => request(
                if *multihomed {
                    Opcode::MultihomedRegistration
                } else {
                    Opcode::Registration
                },
                name,
                *group,
                *node,
                *ttl,
                *addr,
                *broadcast,
            ),
            Packet::Refresh {
                name,
                group,
                node,
                ttl,
                addr,
            } => request(Opcode::Refresh, name, *group, *node, *ttl, *addr, false),
            Packet::Release {
                name,
                group,
                node,
                addr,
                broadcast,
            } => request(Opcode::Release, name, *group, *node, 0, *addr, *broadcast),
            Packet::Query { name, broadcast } => (Opcode::Query, name.clone(), None, *broadcast),
            Packet::Response {
                op: proto::Opcode::Query,
                name,
                rcode,
                ttl,
                group,
                addrs,
            } => {
                // The answer to a query someone sent us: echo its id.
                let (id, dest) = self.queries.remove(&(to, name.clone()))?;
                let entries: Vec<NbEntry> = addrs
                    .iter()
                    .map(|&addr| NbEntry {
                        flags: NbFlags::new(*group, NodeType::H),
                        addr,
                    })
                    .collect();
                let ok = *rcode == proto::Rcode::Ok;
                let repr = Repr {
                    id,
                    flags: Flags {
                        response: true,
                        opcode: Opcode::Query,
                        authoritative: true,
                        recursion_desired: true,
                        rcode: if ok { Rcode::NoError } else { Rcode::NamErr },
                        ..Flags::default()
                    },
                    question: None,
                    answer: Some(Record {
                        name: name.to_name(),
                        class: CLASS_IN,
                        ttl: if ok { *ttl } else { 0 },
                        rdata: if ok {
                            RData::Nb(List::Items(&entries))
                        } else {
                            RData::Null(&[])
                        },
                    }),
                    authority: None,
                    additional: None,
                };
                return Some((dest, emit(&repr, Compression::Question)));
            }
            _ => return None,
        };
        let entry = record.map(|(group, node, _, addr)| NbEntry {
            flags: NbFlags::new(group, wire_node(node)),
            addr,
        });
        let entries: Vec<NbEntry> = entry.into_iter().collect();
        let wname = name.to_name();
        let repr = Repr {
            id: xid,
            flags: Flags {
                broadcast,
                ..Flags::request(opcode)
            },
            question: Some(Question {
                name: wname,
                qtype: RrType::Nb,
                qclass: CLASS_IN,
            }),
            answer: None,
            authority: None,
            additional: record.map(|(_, _, ttl, _)| Record {
                name: wname,
                class: CLASS_IN,
                ttl,
                rdata: RData::Nb(List::Items(&entries)),
            }),
        };
        Some((server, emit(&repr, Compression::Question)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registers_its_names_in_order_and_answers_a_query() {
        let server = UdpSocket::bind("127.0.1.40:0").unwrap();
        let port = server.local_addr().unwrap().port();
        server
            .set_read_timeout(Some(Duration::from_secs(3)))
            .unwrap();
        let spec = ClientSpec {
            name: "REFCLI".into(),
            workgroup: "WG".into(),
            nics: vec![Ipv4Addr::new(127, 0, 1, 41)],
            wins: vec![Ipv4Addr::new(127, 0, 1, 40)],
            port,
        };
        let mut c = WinsClient::start(&spec).unwrap();
        let mut buf = [0u8; 1024];
        let (n, from) = server.recv_from(&mut buf).unwrap();
        let r = Repr::parse_bytes(&buf[..n]).unwrap();
        assert_eq!(r.flags.opcode, Opcode::Registration);
        assert_eq!(r.question.unwrap().name.to_string(), "REFCLI<20>");
        assert_eq!(from.ip().to_string(), "127.0.1.41");
        c.kill();
    }
}
