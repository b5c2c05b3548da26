//! The name holders of the replication conflict matrix: UDP port 137 on the
//! client addresses. They register and release names at the target (so that
//! it owns records), and answer the target's challenge queries and release
//! demands for those names by a per-name policy.

use nbns_wire::nbns::{
    Compression, Flags, NbEntry, NbFlags, NodeType, Opcode, Question, RData, Rcode, Record, Repr,
    RrType, CLASS_IN,
};
use nbns_wire::{Labels, Name, NetbiosName};
use std::collections::HashMap;
use std::io;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicU16, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// How a holder answers a challenge query for a name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Policy {
    /// No answer.
    Silent,
    /// A negative answer (NAM_ERR).
    Negative,
    /// A positive answer listing these addresses.
    Positive(Vec<Ipv4Addr>),
}

/// A request from the target that reached a holder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    pub opcode: Opcode,
    /// The holder address it was sent to.
    pub to: Ipv4Addr,
    pub at: Instant,
}

#[derive(Default)]
struct Hub {
    policies: HashMap<[u8; 16], Policy>,
    /// Per holder address, over `policies`.
    addr_policies: HashMap<([u8; 16], Ipv4Addr), Policy>,
    seen: HashMap<[u8; 16], Vec<Seen>>,
    waiting: HashMap<u16, mpsc::Sender<Vec<u8>>>,
}

/// Bound on requests remembered per name.
const SEEN_PER_NAME: usize = 64;

/// UDP sockets on port 137 (or `port`) of the holder addresses.
pub struct Holders {
    sockets: Vec<(Ipv4Addr, UdpSocket)>,
    hub: Arc<Mutex<Hub>>,
    stop: Arc<AtomicBool>,
    threads: Vec<thread::JoinHandle<()>>,
    next_id: AtomicU16,
    target: SocketAddr,
}

fn nb_name(n: &NetbiosName) -> Name<'static> {
    Name::netbios(*n, Labels::EMPTY).expect("a 16-byte name without scope always fits")
}

/// Encodes an NBNS packet.
fn emit(r: &Repr<'_>) -> Vec<u8> {
    let mut buf = vec![0u8; r.buffer_len(Compression::Question)];
    match r.emit(&mut buf, Compression::Question) {
        Ok(n) => buf.truncate(n),
        Err(_) => buf.clear(),
    }
    buf
}

impl Holders {
    pub fn bind(addrs: &[Ipv4Addr], port: u16, target: SocketAddr) -> io::Result<Holders> {
        let hub = Arc::new(Mutex::new(Hub::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let mut sockets = Vec::new();
        let mut threads = Vec::new();
        for &ip in addrs {
            let s = UdpSocket::bind(SocketAddrV4::new(ip, port)).map_err(|e| {
                io::Error::new(
                    e.kind(),
                    format!("cannot bind holder address {ip}:{port}: {e}"),
                )
            })?;
            s.set_read_timeout(Some(Duration::from_millis(100)))?;
            let rs = s.try_clone()?;
            let (hub, stop) = (hub.clone(), stop.clone());
            threads.push(thread::spawn(move || receive(ip, rs, hub, stop)));
            sockets.push((ip, s));
        }
        Ok(Holders {
            sockets,
            hub,
            stop,
            threads,
            next_id: AtomicU16::new(0x2000),
            target,
        })
    }

    pub fn set_policy(&self, name: &NetbiosName, p: Policy) {
        self.lock().policies.insert(*name.as_bytes(), p);
    }

    /// How the holder address `addr` alone answers for `name`.
    pub fn set_addr_policy(&self, name: &NetbiosName, addr: Ipv4Addr, p: Policy) {
        self.lock()
            .addr_policies
            .insert((*name.as_bytes(), addr), p);
    }

    /// The requests the target sent for `name` so far.
    pub fn seen(&self, name: &NetbiosName) -> Vec<Seen> {
        self.lock()
            .seen
            .get(name.as_bytes())
            .cloned()
            .unwrap_or_default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Hub> {
        self.hub.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn socket(&self, from: Ipv4Addr) -> io::Result<&UdpSocket> {
        self.sockets
            .iter()
            .find(|(a, _)| *a == from)
            .map(|(_, s)| s)
            .ok_or_else(|| io::Error::other(format!("{from} is not a holder address")))
    }

    /// Sends a request from `from` and waits for the final answer (WACKs
    /// extend the wait by their TTL, at most 30 s in all). Returns the rcode.
    fn request(&self, from: Ipv4Addr, mut r: Repr<'_>, wait: Duration) -> io::Result<Rcode> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        r.id = id;
        let (tx, rx) = mpsc::channel();
        self.lock().waiting.insert(id, tx);
        let res = (|| {
            self.socket(from)?.send_to(&emit(&r), self.target)?;
            let hard = Instant::now() + Duration::from_secs(30);
            let mut deadline = Instant::now() + wait;
            loop {
                let left = deadline.saturating_duration_since(Instant::now());
                let bytes = rx.recv_timeout(left).map_err(|_| {
                    io::Error::new(io::ErrorKind::TimedOut, "no answer from the target")
                })?;
                let Ok(p) = Repr::parse_bytes(&bytes) else {
                    continue;
                };
                if p.flags.opcode == Opcode::Wack {
                    let ttl = p.answer.map_or(10, |a| a.ttl).min(20);
                    deadline = (Instant::now() + Duration::from_secs(ttl as u64 + 2)).min(hard);
                    continue;
                }
                return Ok(p.flags.rcode);
            }
        })();
        self.lock().waiting.remove(&id);
        res
    }

    fn name_request(
        &self,
        from: Ipv4Addr,
        opcode: Opcode,
        name: &NetbiosName,
        group: bool,
        addr: Ipv4Addr,
    ) -> io::Result<Rcode> {
        let n = nb_name(name);
        let entries = [NbEntry {
            flags: NbFlags::new(group, NodeType::H),
            addr,
        }];
        let r = Repr {
            id: 0,
            flags: Flags::request(opcode),
            question: Some(Question {
                name: n,
                qtype: RrType::Nb,
                qclass: CLASS_IN,
            }),
            answer: None,
            authority: None,
            additional: Some(Record {
                name: n,
                class: CLASS_IN,
                ttl: 300_000,
                rdata: RData::Nb(nbns_wire::nbns::List::Items(&entries)),
            }),
        };
        self.request(from, r, Duration::from_secs(3))
    }

    /// Registers `name` for `from` (multihomed: opcode 0xF).
    pub fn register(
        &self,
        from: Ipv4Addr,
        name: &NetbiosName,
        group: bool,
        multihomed: bool,
    ) -> io::Result<Rcode> {
        let op = if multihomed {
            Opcode::MultihomedRegistration
        } else {
            Opcode::Registration
        };
        self.name_request(from, op, name, group, from)
    }

    /// Refreshes `name` for `from` (opcode 8).
    pub fn refresh(&self, from: Ipv4Addr, name: &NetbiosName, group: bool) -> io::Result<Rcode> {
        self.name_request(from, Opcode::Refresh, name, group, from)
    }

    /// Releases `name` for `from`.
    pub fn release(&self, from: Ipv4Addr, name: &NetbiosName, group: bool) -> io::Result<Rcode> {
        self.name_request(from, Opcode::Release, name, group, from)
    }
}

impl Drop for Holders {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

fn receive(me: Ipv4Addr, s: UdpSocket, hub: Arc<Mutex<Hub>>, stop: Arc<AtomicBool>) {
    let mut buf = [0u8; 1500];
    while !stop.load(Ordering::Relaxed) {
        let Ok((n, from)) = s.recv_from(&mut buf) else {
            continue;
        };
        let bytes = &buf[..n];
        let Ok(p) = Repr::parse_bytes(bytes) else {
            continue;
        };
        let mut h = hub.lock().unwrap_or_else(|p| p.into_inner());
        if p.flags.response {
            if let Some(tx) = h.waiting.get(&p.id) {
                let _ = tx.send(bytes.to_vec());
            }
            continue;
        }
        let Some(q) = p.question else { continue };
        let Some(name) = q.name.netbios_name().copied() else {
            continue;
        };
        let key = *name.as_bytes();
        let seen = h.seen.entry(key).or_default();
        if seen.len() < SEEN_PER_NAME {
            seen.push(Seen {
                opcode: p.flags.opcode,
                to: me,
                at: Instant::now(),
            });
        }
        let policy = h
            .addr_policies
            .get(&(key, me))
            .or_else(|| h.policies.get(&key))
            .cloned()
            .unwrap_or(Policy::Silent);
        drop(h);
        let nm = nb_name(&name);
        let reply = match p.flags.opcode {
            Opcode::Query => {
                let entries: Vec<NbEntry> = match &policy {
                    Policy::Positive(v) => v
                        .iter()
                        .map(|a| NbEntry {
                            flags: NbFlags::new(false, NodeType::H),
                            addr: *a,
                        })
                        .collect(),
                    _ => Vec::new(),
                };
                let rcode = match policy {
                    Policy::Silent => continue,
                    Policy::Negative => Rcode::NamErr,
                    Policy::Positive(_) => Rcode::NoError,
                };
                emit(&Repr {
                    id: p.id,
                    flags: Flags {
                        response: true,
                        opcode: Opcode::Query,
                        authoritative: true,
                        recursion_desired: p.flags.recursion_desired,
                        rcode,
                        ..Flags::default()
                    },
                    question: None,
                    answer: Some(Record {
                        name: nm,
                        class: CLASS_IN,
                        ttl: if rcode == Rcode::NoError { 300_000 } else { 0 },
                        rdata: RData::Nb(nbns_wire::nbns::List::Items(&entries)),
                    }),
                    authority: None,
                    additional: None,
                })
            }
            Opcode::Release => {
                // A release demand: acknowledge it like a node would.
                let entries = p
                    .additional
                    .and_then(|r| r.nb_entries())
                    .map(|l| l.iter().collect::<Vec<_>>())
                    .unwrap_or_default();
                emit(&Repr {
                    id: p.id,
                    flags: Flags {
                        response: true,
                        opcode: Opcode::Release,
                        authoritative: true,
                        ..Flags::default()
                    },
                    question: None,
                    answer: Some(Record {
                        name: nm,
                        class: CLASS_IN,
                        ttl: 0,
                        rdata: RData::Nb(nbns_wire::nbns::List::Items(&entries)),
                    }),
                    authority: None,
                    additional: None,
                })
            }
            _ => continue,
        };
        if !reply.is_empty() {
            let _ = s.send_to(&reply, from);
        }
    }
}
