//! The reference target's packet layer: NBNS bytes in, NBNS bytes out,
//! around the model's WINS server state machine ([`nbns_model::server`]) —
//! the same code the model checker explores, not a second implementation.
//!
//! Deterministic: every change comes from [`PacketLayer::datagram`] (a packet
//! and the time) or [`PacketLayer::tick`] (the time), so a capture can later
//! be replayed through it. Sockets are the business of the layers above it.

use crate::model_wire::{emit, model_node, model_rcode, wire_node, wire_rcode};
use crate::wire_name::WireName;
use nbns_model::proto::{self, Packet, Time};
use nbns_model::server::{Kind, RecState, Send, Server, ServerConfig};
use nbns_wire::nbns::{
    Compression, Flags, List, NbEntry, NbFlags, NodeStatus, NodeType, Opcode, Question, RData,
    Rcode, Record, Repr, RrType, StatusName, CLASS_IN,
};
use nbns_wire::NetbiosName;
use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};

/// What a request looked like, to shape its reply (the model keeps only
/// addresses and transaction ids).
#[derive(Debug, Clone, Copy)]
struct Asked {
    from: SocketAddr,
    opcode: Opcode,
    flags: u16,
    at: Time,
    /// The request's first NB entry, echoed in a negative answer (RFC 1002 4.2.6).
    entry: Option<NbEntry>,
}

/// Settings of the reference target beyond the server state machine's.
#[derive(Debug, Clone)]
pub struct PacketConfig {
    /// The server's own NetBIOS name (registered as <00> and <20>).
    pub name: String,
    /// The server's address (owner id of its records; answers to its own name).
    pub addr: Ipv4Addr,
    /// UDP port of holders that challenge queries and release demands go to.
    pub challenge_port: u16,
    /// Records the database may hold: when it holds this many, a registration
    /// of a name it does not hold is refused with SRV_ERR (RFC 1002 4.2.6:
    /// "server failure: problem with NBNS, cannot process name"); names it
    /// holds still refresh and release, and replicas from partners are
    /// still taken (refusing them would keep partners apart for good).
    pub max_records: usize,
    pub server: ServerConfig,
}

/// Default [`PacketConfig::max_records`].
pub const DEFAULT_MAX_RECORDS: usize = 2_000_000;

impl PacketConfig {
    pub fn new(name: &str, addr: Ipv4Addr) -> Self {
        PacketConfig {
            name: name.to_string(),
            addr,
            challenge_port: nbns_wire::nbns::PORT,
            max_records: DEFAULT_MAX_RECORDS,
            server: ServerConfig {
                // Windows WINS and the Samba AD DC answer OK to the release
                // of a name they do not hold (smbtorture's nbt.wins, written
                // against Windows, expects it); RFC 1002 lists no error for it.
                unknown_release_ok: true,
                ..ServerConfig::default()
            },
        }
    }
}

/// The longest scope, as dotted text, a registration may carry (Windows, Samba).
const MAX_SCOPE_TEXT: usize = 237;

/// Requests whose answers are still owed are forgotten after this long.
const ASKED_TTL: Time = 300;

/// A challenge query is sent again this many times while its holder stays silent and the
/// challenge is undecided (Samba's WINS server: 2 retries, RFC 1002 5.1.4 "retry")...
const CHALLENGE_RETRIES: u8 = 2;
/// ... this many seconds apart (Samba: 1 s). The model decides a silent holder after
/// `challenge_wait` (3 s), so both retries go out before that.
const CHALLENGE_RETRY_EVERY: Time = 1;

/// A challenge query sent, to be sent again (the same datagram, transaction id included)
/// while its holder has not answered.
#[derive(Debug, Clone)]
struct Resend {
    to: Ipv4Addr,
    name: WireName,
    bytes: Vec<u8>,
    next: Time,
    left: u8,
}

pub struct PacketLayer {
    cfg: PacketConfig,
    server: Server<WireName, Ipv4Addr>,
    own_names: Vec<NetbiosName>,
    /// Requests still owed an answer (a challenge is running).
    asked: HashMap<(Ipv4Addr, u16), Asked>,
    /// The request being handled: most are answered at once, so they never
    /// reach `asked` (this keeps a hash map off the query path).
    current: Option<((Ipv4Addr, u16), Asked)>,
    /// Ids of the server's own challenge queries and release demands.
    next_xid: u16,
    out: Vec<Send<WireName, Ipv4Addr>>,
    /// When a registration was last refused for `max_records` with a log line
    /// (one a minute at most).
    full_logged_at: Option<Time>,
    /// Registrations refused for `max_records` since start.
    refused_full: u64,
    /// Challenge queries to send again ([`CHALLENGE_RETRIES`]).
    resends: Vec<Resend>,
    /// The time of the datagram or tick being handled.
    now: Time,
}

impl PacketLayer {
    pub fn new(cfg: PacketConfig) -> Result<PacketLayer, String> {
        let server = Server::new(cfg.addr);
        PacketLayer::with_server(cfg, server)
    }

    /// Resumes with a database read back from storage. The server's own
    /// names are entered as static records unless they already are (a new
    /// version at every start would replicate them again for nothing).
    pub fn with_server(
        cfg: PacketConfig,
        mut server: Server<WireName, Ipv4Addr>,
    ) -> Result<PacketLayer, String> {
        let mut own_names = Vec::new();
        for suffix in [0x00, 0x20] {
            let name = NetbiosName::new(cfg.name.to_ascii_uppercase().as_bytes(), suffix)
                .map_err(|e| format!("server name `{}`: {}", cfg.name, e.kind))?;
            own_names.push(name);
            let key = WireName::unscoped(name);
            let current = server.record(&key).is_some_and(|r| {
                r.is_static
                    && r.state == RecState::Active
                    && r.owner == cfg.addr
                    && r.addrs[..] == [cfg.addr]
            });
            if !current {
                server.add_static(0, key, Kind::Unique, vec![cfg.addr]);
            }
        }
        Ok(PacketLayer {
            cfg,
            server,
            own_names,
            asked: HashMap::new(),
            current: None,
            next_xid: 1,
            out: Vec::new(),
            full_logged_at: None,
            refused_full: 0,
            resends: Vec::new(),
            now: 0,
        })
    }

    pub fn server(&self) -> &Server<WireName, Ipv4Addr> {
        &self.server
    }

    /// The state machine itself, for the layers that persist and replicate
    /// it (the whole server).
    pub fn server_mut(&mut self) -> &mut Server<WireName, Ipv4Addr> {
        &mut self.server
    }

    pub fn config(&self) -> &PacketConfig {
        &self.cfg
    }

    /// Whether `name` is one of the server's own static names.
    pub fn is_own_name(&self, name: &WireName) -> bool {
        !name.has_scope() && self.own_names.contains(&name.name)
    }

    /// Verifies the replicas of `owner` against `held`, everything the owner
    /// holds (see [`nbns_model::replication::verify_replicas`]).
    pub fn verify_replicas(
        &mut self,
        now: Time,
        owner: Ipv4Addr,
        max: u64,
        held: Vec<nbns_model::server::Record<WireName, Ipv4Addr>>,
        reply: &mut Vec<(SocketAddr, Vec<u8>)>,
    ) -> usize {
        let n = nbns_model::replication::verify_replicas(
            &mut self.server,
            &self.cfg.server,
            now,
            owner,
            max,
            held,
            &mut self.out,
        );
        self.flush(reply);
        n
    }

    /// Applies the records a replication partner sent for `owner` (versions
    /// up to `max`) by the model's conflict rules; the challenge queries and
    /// release demands they call for go to `reply`.
    pub fn apply_pulled(
        &mut self,
        now: Time,
        owner: Ipv4Addr,
        max: u64,
        records: Vec<nbns_model::server::Record<WireName, Ipv4Addr>>,
        reply: &mut Vec<(SocketAddr, Vec<u8>)>,
    ) {
        nbns_model::replication::apply_pulled(
            &mut self.server,
            &self.cfg.server,
            now,
            owner,
            max,
            records,
            &mut self.out,
        );
        self.flush(reply);
    }

    /// When [`tick`](Self::tick) next has work (challenge deadlines, expiries).
    pub fn next_deadline(&self) -> Option<Time> {
        let resend = self.resends.iter().map(|r| r.next).min();
        match (self.server.next_deadline(), resend) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Handles one datagram from `from` at time `now`; replies go to `reply`.
    pub fn datagram(
        &mut self,
        now: Time,
        from: SocketAddr,
        bytes: &[u8],
        reply: &mut Vec<(SocketAddr, Vec<u8>)>,
    ) {
        let SocketAddr::V4(from4) = from else {
            return;
        };
        self.now = now;
        let ip = *from4.ip();
        let repr = match Repr::parse_bytes(bytes) {
            Ok(r) => r,
            Err(_) => {
                // RFC 1002 4.2.6: a malformed request gets FMT_ERR, when its
                // header can be read and it is a request at all.
                if bytes.len() >= 12 && bytes[2] & 0x80 == 0 {
                    let flags = Flags::from_bits(u16::from_be_bytes([bytes[2], bytes[3]]));
                    let id = u16::from_be_bytes([bytes[0], bytes[1]]);
                    reply.push((from, header_only(id, flags.opcode, Rcode::FmtErr)));
                }
                return;
            }
        };
        if repr.flags.response {
            // Answers to our challenge queries.
            if repr.flags.opcode == Opcode::Query {
                if let Some(a) = repr.answer {
                    if let Some(name) = WireName::from_name(&a.name) {
                        let addrs = nb_addrs(&a);
                        self.feed(
                            now,
                            ip,
                            repr.id,
                            Packet::Response {
                                op: proto::Opcode::Query,
                                name,
                                rcode: model_rcode(repr.flags.rcode)
                                    .unwrap_or(proto::Rcode::CftErr),
                                ttl: a.ttl,
                                group: false,
                                addrs: addrs.into(),
                            },
                        );
                    }
                }
            }
            self.flush(reply);
            return;
        }
        let Some(q) = repr.question else {
            reply.push((from, header_only(repr.id, repr.flags.opcode, Rcode::FmtErr)));
            return;
        };
        let Some(name) = WireName::from_name(&q.name) else {
            reply.push((from, header_only(repr.id, repr.flags.opcode, Rcode::FmtErr)));
            return;
        };
        self.current = Some((
            (ip, repr.id),
            Asked {
                from,
                opcode: repr.flags.opcode,
                flags: repr.flags.bits(),
                at: now,
                entry: repr
                    .additional
                    .and_then(|r| r.nb_entries())
                    .and_then(|l| l.iter().next()),
            },
        ));
        let broadcast = repr.flags.broadcast;
        let packet = match repr.flags.opcode {
            Opcode::Query if q.qtype == RrType::NbStat => {
                self.current = None;
                if let Some(status) = self.node_status(repr.id, &q) {
                    reply.push((from, status));
                }
                return;
            }
            // A query with the B bit set was broadcast: the WINS server
            // leaves it to the name's owner (the model ignores it).
            Opcode::Query => Packet::Query { name, broadcast },
            Opcode::Registration
            | Opcode::MultihomedRegistration
            | Opcode::Refresh
            | Opcode::RefreshAlt
            | Opcode::Release => {
                let Some((rec, entry)) = repr
                    .additional
                    .and_then(|r| r.nb_entries().and_then(|l| l.iter().next()).map(|e| (r, e)))
                else {
                    self.current = None;
                    reply.push((from, header_only(repr.id, repr.flags.opcode, Rcode::FmtErr)));
                    return;
                };
                let group = entry.flags.group();
                let node = model_node(entry.flags.node_type());
                let addr = entry.addr;
                let registers = repr.flags.opcode != Opcode::Release;
                // RFC 1002 5.1.1: the owner of a unique name defends it, broadcast or not,
                // with ACT_ERR (Samba's defense.c does the same for the AD DC's names).
                let defended = registers && !group && self.is_own_name(&name);
                // Windows and Samba count the scope as dotted text and refuse one over 237
                // bytes (16 + 237 + the name's dot fill the 255 of a replicated name).
                let scope_too_long = registers && name.dotted_scope().len() > MAX_SCOPE_TEXT;
                let full = registers
                    && self.server.record_count() >= self.cfg.max_records
                    && self.server.record(&name).is_none();
                if full {
                    self.refused_full += 1;
                    if self.full_logged_at.is_none_or(|t| now >= t + 60) {
                        self.full_logged_at = Some(now);
                        eprintln!(
                            "database full ({} records, --max-records {}): new names refused with SRV_ERR ({} so far)",
                            self.server.record_count(),
                            self.cfg.max_records,
                            self.refused_full
                        );
                    }
                }
                if defended || scope_too_long || full {
                    let rcode = if defended {
                        proto::Rcode::ActErr
                    } else {
                        proto::Rcode::SrvErr
                    };
                    let answer = Send {
                        to: ip,
                        xid: repr.id,
                        packet: Packet::Response {
                            op: proto::Opcode::Registration,
                            name,
                            rcode,
                            ttl: 0,
                            group,
                            addrs: vec![addr].into(),
                        },
                    };
                    self.reply_to(ip, repr.id, answer, reply);
                    return;
                }
                match repr.flags.opcode {
                    Opcode::Release => Packet::Release {
                        name,
                        group,
                        node,
                        addr,
                        broadcast,
                    },
                    Opcode::Refresh | Opcode::RefreshAlt => Packet::Refresh {
                        name,
                        group,
                        node,
                        ttl: rec.ttl,
                        addr,
                    },
                    op => Packet::Register {
                        name,
                        group,
                        node,
                        ttl: rec.ttl,
                        addr,
                        multihomed: op == Opcode::MultihomedRegistration,
                        broadcast,
                    },
                }
            }
            _ => {
                self.current = None;
                reply.push((from, header_only(repr.id, repr.flags.opcode, Rcode::ImpErr)));
                return;
            }
        };
        self.feed(now, ip, repr.id, packet);
        self.flush(reply);
        // Not answered yet (WACK sent, challenge running): remember it.
        if let Some((key, asked)) = self.current.take() {
            self.asked.insert(key, asked);
        }
    }

    /// The request `(from, xid)` whose answer is being sent.
    fn take_asked(&mut self, key: (Ipv4Addr, u16)) -> Option<Asked> {
        match self.current {
            Some((k, a)) if k == key => {
                self.current = None;
                Some(a)
            }
            _ => self.asked.remove(&key),
        }
    }

    fn peek_asked(&self, key: (Ipv4Addr, u16)) -> Option<Asked> {
        match self.current {
            Some((k, a)) if k == key => Some(a),
            _ => self.asked.get(&key).copied(),
        }
    }

    /// Advances time: decides challenges nobody answered, ages records.
    pub fn tick(&mut self, now: Time, reply: &mut Vec<(SocketAddr, Vec<u8>)>) {
        self.now = now;
        self.server.on_timer(&self.cfg.server, now, &mut self.out);
        self.flush(reply);
        self.resend_challenges(now, reply);
        self.asked
            .retain(|_, a| now.saturating_sub(a.at) < ASKED_TTL);
    }

    /// Sends the challenge queries again whose holders are still awaited (RFC 1002 5.1.4:
    /// the NBNS retries its challenge before it counts the holder as gone); forgets those of
    /// holders that answered and of challenges decided.
    fn resend_challenges(&mut self, now: Time, reply: &mut Vec<(SocketAddr, Vec<u8>)>) {
        let server = &self.server;
        self.resends.retain(|r| {
            r.left > 0
                && server.pending_for(&r.name).is_some_and(|p| {
                    if p.replica.is_some() {
                        // A replication challenge asks one address at a time.
                        p.waiting.first() == Some(&r.to)
                    } else {
                        p.waiting.contains(&r.to)
                    }
                })
        });
        let port = self.cfg.challenge_port;
        for r in self.resends.iter_mut().filter(|r| r.next <= now) {
            reply.push((
                SocketAddr::V4(SocketAddrV4::new(r.to, port)),
                r.bytes.clone(),
            ));
            r.left -= 1;
            r.next = now + CHALLENGE_RETRY_EVERY;
        }
        self.resends.retain(|r| r.left > 0);
    }

    fn feed(&mut self, now: Time, from: Ipv4Addr, xid: u16, packet: Packet<WireName, Ipv4Addr>) {
        self.server
            .handle(&self.cfg.server, now, from, xid, packet, &mut self.out);
    }

    fn flush(&mut self, reply: &mut Vec<(SocketAddr, Vec<u8>)>) {
        // Reuse the output vector's allocation from packet to packet.
        let mut sends = std::mem::take(&mut self.out);
        for s in sends.drain(..) {
            self.reply_to(s.to, s.xid, s, reply);
        }
        self.out = sends;
    }

    /// Encodes one output of the state machine.
    fn reply_to(
        &mut self,
        to: Ipv4Addr,
        xid: u16,
        s: Send<WireName, Ipv4Addr>,
        reply: &mut Vec<(SocketAddr, Vec<u8>)>,
    ) {
        let holder = SocketAddr::V4(SocketAddrV4::new(to, self.cfg.challenge_port));
        match &s.packet {
            // The server's own requests: challenges and release demands.
            Packet::Query { name, .. } => {
                // The challenge's own id: the server takes only answers that carry it.
                let id = if xid != 0 { xid } else { self.fresh_xid() };
                let repr = Repr {
                    id,
                    flags: Flags::request(Opcode::Query),
                    question: Some(Question {
                        name: name.to_name(),
                        qtype: RrType::Nb,
                        qclass: CLASS_IN,
                    }),
                    answer: None,
                    authority: None,
                    additional: None,
                };
                let bytes = emit(&repr, Compression::None);
                self.resends.retain(|r| !(r.to == to && &r.name == name));
                self.resends.push(Resend {
                    to,
                    name: name.clone(),
                    bytes: bytes.clone(),
                    next: self.now + CHALLENGE_RETRY_EVERY,
                    left: CHALLENGE_RETRIES,
                });
                reply.push((holder, bytes));
            }
            Packet::Release {
                name, group, addr, ..
            } => {
                let id = self.fresh_xid();
                let entries = [NbEntry {
                    flags: NbFlags::new(*group, NodeType::H),
                    addr: *addr,
                }];
                let wire = name.to_name();
                let repr = Repr {
                    id,
                    flags: Flags::request(Opcode::Release),
                    question: Some(Question {
                        name: wire,
                        qtype: RrType::Nb,
                        qclass: CLASS_IN,
                    }),
                    answer: None,
                    authority: None,
                    additional: Some(Record {
                        name: wire,
                        class: CLASS_IN,
                        ttl: 0,
                        rdata: RData::Nb(List::Items(&entries)),
                    }),
                };
                reply.push((holder, emit(&repr, Compression::Question)));
            }
            Packet::Wack { name, ttl, .. } => {
                let Some(asked) = self.peek_asked((to, xid)) else {
                    return;
                };
                let repr = Repr {
                    id: xid,
                    flags: Flags {
                        response: true,
                        opcode: Opcode::Wack,
                        authoritative: true,
                        ..Flags::default()
                    },
                    question: None,
                    answer: Some(Record {
                        name: name.to_name(),
                        class: CLASS_IN,
                        ttl: *ttl,
                        rdata: RData::Wack(asked.flags),
                    }),
                    authority: None,
                    additional: None,
                };
                reply.push((asked.from, emit(&repr, Compression::None)));
            }
            Packet::Response {
                name,
                rcode,
                ttl,
                group,
                addrs,
                ..
            } => {
                let Some(asked) = self.take_asked((to, xid)) else {
                    return;
                };
                let node = self
                    .server
                    .record(name)
                    .map_or(NodeType::H, |r| wire_node(r.node));
                let mut entries: Vec<NbEntry> = addrs
                    .iter()
                    .map(|&addr| NbEntry {
                        flags: NbFlags::new(*group, node),
                        addr,
                    })
                    .collect();
                let positive = *rcode == proto::Rcode::Ok;
                // Registration, refresh and release responses, positive or negative, carry
                // the request's own NB entry (RFC 1002 4.2.5, 4.2.6, 4.2.10, 4.2.11).
                if asked.opcode.is_registration_like() {
                    if let Some(e) = asked.entry {
                        entries = vec![e];
                    }
                }
                if positive && *group && entries.is_empty() {
                    // A normal group has no member list: RFC 1002 answers
                    // with the limited broadcast address.
                    entries.push(NbEntry {
                        flags: NbFlags::new(true, node),
                        addr: Ipv4Addr::BROADCAST,
                    });
                }
                let negative_query = !positive && asked.opcode == Opcode::Query;
                // Refresh (8, 9) and multihomed registration (0xF) are answered as
                // registrations: RFC 1002 has only the registration response (opcode 5),
                // and Windows, Samba and nmbd's client expect it (nmbd ignores opcode 0xF).
                let opcode = match asked.opcode {
                    Opcode::MultihomedRegistration | Opcode::Refresh | Opcode::RefreshAlt => {
                        Opcode::Registration
                    }
                    op => op,
                };
                let repr = Repr {
                    id: xid,
                    flags: Flags {
                        response: true,
                        opcode,
                        authoritative: true,
                        recursion_desired: asked.flags & Flags::RD != 0,
                        // RA: set by an NBNS that challenges for its clients (RFC 1002 4.2.1.1,
                        // 4.2.5); a release response's layout has it clear (4.2.10).
                        recursion_available: asked.opcode != Opcode::Release,
                        rcode: wire_rcode(*rcode),
                        ..Flags::default()
                    },
                    question: None,
                    answer: Some(Record {
                        name: name.to_name(),
                        class: CLASS_IN,
                        ttl: if positive { *ttl } else { 0 },
                        // RFC 1002 4.2.14: a negative query response carries a NULL record.
                        rdata: if negative_query {
                            RData::Null(&[])
                        } else {
                            RData::Nb(List::Items(&entries))
                        },
                    }),
                    authority: None,
                    additional: None,
                };
                reply.push((asked.from, emit(&repr, Compression::None)));
            }
            _ => {}
        }
    }

    fn fresh_xid(&mut self) -> u16 {
        self.next_xid = self.next_xid.wrapping_add(1).max(1);
        self.next_xid
    }

    /// Node status (RFC 1002 4.2.17/4.2.18): the server's own names, when
    /// asked by the wildcard or one of them. A node answers from its own name
    /// table, so a name it merely holds in the WINS database gets no answer,
    /// as from nmbd and the Samba AD DC: RFC 1002 has no negative node status
    /// response to send instead.
    fn node_status(&self, id: u16, q: &Question<'_>) -> Option<Vec<u8>> {
        let asked = q.name.netbios_name().copied()?;
        let ours = asked == NetbiosName::WILDCARD
            || self
                .own_names
                .iter()
                .any(|o| o.trimmed() == asked.trimmed());
        if !ours {
            return None;
        }
        let names: Vec<StatusName> = self
            .own_names
            .iter()
            .map(|&name| StatusName {
                name,
                flags: StatusName::ACTIVE | (NodeType::H.bits() << 13),
            })
            .collect();
        let mut stats = NodeStatus::ZERO_STATISTICS;
        stats[..4].copy_from_slice(&self.cfg.addr.octets());
        let repr = Repr {
            id,
            flags: Flags {
                response: true,
                opcode: Opcode::Query,
                authoritative: true,
                ..Flags::default()
            },
            question: None,
            answer: Some(Record {
                name: q.name,
                class: CLASS_IN,
                ttl: 0,
                rdata: RData::NbStat(NodeStatus {
                    names: List::Items(&names),
                    statistics: &stats,
                }),
            }),
            authority: None,
            additional: None,
        };
        Some(emit(&repr, Compression::None))
    }
}

fn header_only(id: u16, opcode: Opcode, rcode: Rcode) -> Vec<u8> {
    emit(
        &Repr {
            id,
            flags: Flags {
                response: true,
                opcode,
                authoritative: true,
                rcode,
                ..Flags::default()
            },
            question: None,
            answer: None,
            authority: None,
            additional: None,
        },
        Compression::None,
    )
}

fn nb_addrs(r: &Record<'_>) -> Vec<Ipv4Addr> {
    r.nb_entries()
        .map(|l| l.iter().map(|e| e.addr).collect())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A query for `name` with a scope of raw wire labels, as a client sends it.
    fn query_with_scope(labels: &[&[u8]]) -> Vec<u8> {
        let mut wire = Vec::new();
        for l in labels {
            wire.push(l.len() as u8);
            wire.extend_from_slice(l);
        }
        wire.push(0);
        let name = WireName::with_scope_wire(NetbiosName::new(b"SCOPED", 0).unwrap(), &wire)
            .expect("valid labels");
        emit(
            &Repr {
                id: 7,
                flags: Flags::request(Opcode::Query),
                question: Some(Question {
                    name: name.to_name(),
                    qtype: RrType::Nb,
                    qclass: CLASS_IN,
                }),
                answer: None,
                authority: None,
                additional: None,
            },
            Compression::None,
        )
    }

    #[test]
    fn any_scope_goes_back_out_byte_for_byte() {
        // Labels holding a dot, a backslash, a non-ASCII byte, and 63 bytes:
        // text forms of these do not survive the trip (fuzzing found it).
        let long = [b'x'; 63];
        let asked = query_with_scope(&[b"a.b", b"\\xc7", &[0xc7, 0x00, 0x2e], &long]);
        let q = Repr::parse_bytes(&asked).unwrap().question.unwrap();
        let key = WireName::from_name(&q.name).unwrap();
        let mut again = vec![0u8; 300];
        let n = Repr {
            id: 7,
            flags: Flags::request(Opcode::Query),
            question: Some(Question {
                name: key.to_name(),
                qtype: RrType::Nb,
                qclass: CLASS_IN,
            }),
            answer: None,
            authority: None,
            additional: None,
        }
        .emit(&mut again, Compression::None)
        .unwrap();
        assert_eq!(&again[..n], &asked[..]);
        assert_eq!(
            WireName::with_scope_wire(key.name, key.scope_wire()),
            Some(key.clone())
        );
        // The negative answer names exactly what was asked.
        let mut r =
            PacketLayer::new(PacketConfig::new("REF", Ipv4Addr::new(127, 0, 0, 2))).unwrap();
        let mut out = Vec::new();
        let from = SocketAddr::from(([127, 0, 0, 9], 137));
        r.datagram(1, from, &asked, &mut out);
        let reply = Repr::parse_bytes(&out[0].1).unwrap();
        assert_eq!(reply.answer.unwrap().name, q.name);
    }

    #[test]
    fn scopes_are_checked_when_built() {
        let n = NetbiosName::new(b"N", 0).unwrap();
        assert!(
            WireName::with_scope_wire(n, &[1, b'a']).is_none(),
            "no final zero"
        );
        assert!(
            WireName::with_scope_wire(n, &[1, b'a', 0, 0]).is_none(),
            "bytes after it"
        );
        assert!(
            WireName::with_scope_wire(n, &[64]).is_none(),
            "label too long"
        );
        assert!(
            WireName::with_dotted_scope(n, b"a..b").is_some_and(|w| w.is_raw()),
            "an empty label: no NBNS scope, kept as replication carried it"
        );
        let s = WireName::with_dotted_scope(n, b"corp.example").unwrap();
        assert_eq!(s.dotted_scope(), b"corp.example");
        assert_eq!(s.to_string(), "N<00>.corp.example");
    }
}

#[cfg(test)]
mod challenge_retry_tests {
    use super::*;

    fn registration(id: u16, name: &str, addr: Ipv4Addr) -> Vec<u8> {
        let n = WireName::unscoped(NetbiosName::new(name.as_bytes(), 0).unwrap());
        let entries = [NbEntry {
            flags: NbFlags::new(false, NodeType::H),
            addr,
        }];
        emit(
            &Repr {
                id,
                flags: Flags::request(Opcode::Registration),
                question: Some(Question {
                    name: n.to_name(),
                    qtype: RrType::Nb,
                    qclass: CLASS_IN,
                }),
                answer: None,
                authority: None,
                additional: Some(Record {
                    name: n.to_name(),
                    class: CLASS_IN,
                    ttl: 300,
                    rdata: RData::Nb(List::Items(&entries)),
                }),
            },
            Compression::Question,
        )
    }

    fn from(ip: Ipv4Addr) -> SocketAddr {
        SocketAddr::V4(SocketAddrV4::new(ip, 137))
    }

    /// (challenge queries to `holder`, other datagrams) in `out`.
    fn split(out: &[(SocketAddr, Vec<u8>)], holder: Ipv4Addr) -> (Vec<Vec<u8>>, usize) {
        let q: Vec<Vec<u8>> = out
            .iter()
            .filter(|(to, b)| *to == from(holder) && !Repr::parse_bytes(b).unwrap().flags.response)
            .map(|(_, b)| b.clone())
            .collect();
        (q.clone(), out.len() - q.len())
    }

    /// Sets up a challenge of `a`'s name by `b` at time 10; returns the layer and the query.
    fn challenged() -> (PacketLayer, Vec<u8>, Ipv4Addr, Ipv4Addr) {
        let a = Ipv4Addr::new(10, 0, 0, 1);
        let b = Ipv4Addr::new(10, 0, 0, 2);
        let mut l =
            PacketLayer::new(PacketConfig::new("WINS", Ipv4Addr::new(10, 0, 0, 9))).unwrap();
        let mut out = Vec::new();
        l.datagram(10, from(a), &registration(1, "HOST", a), &mut out);
        out.clear();
        l.datagram(10, from(b), &registration(2, "HOST", b), &mut out);
        let (q, rest) = split(&out, a);
        assert_eq!((q.len(), rest), (1, 1), "one WACK and one challenge query");
        (l, q[0].clone(), a, b)
    }

    #[test]
    fn a_silent_holder_is_asked_three_times_one_second_apart() {
        let (mut l, first, a, b) = challenged();
        assert_eq!(l.next_deadline(), Some(11));
        for t in [11, 12] {
            let mut out = Vec::new();
            l.tick(t, &mut out);
            let (q, rest) = split(&out, a);
            assert_eq!(q, vec![first.clone()], "retry at {t}: the same datagram");
            assert_eq!(rest, 0);
        }
        assert_eq!(l.next_deadline(), Some(13));
        let mut out = Vec::new();
        l.tick(13, &mut out);
        // Decided: the requester gets the name, no further query.
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].0, from(b));
        let r = Repr::parse_bytes(&out[0].1).unwrap();
        assert_eq!((r.flags.response, r.flags.rcode), (true, Rcode::NoError));
        let mut out = Vec::new();
        l.tick(14, &mut out);
        assert!(out.is_empty());
    }

    #[test]
    fn an_answered_challenge_is_not_sent_again() {
        let (mut l, first, a, _) = challenged();
        let q = Repr::parse_bytes(&first).unwrap();
        let name = q.question.unwrap().name;
        let entries = [NbEntry {
            flags: NbFlags::new(false, NodeType::H),
            addr: a,
        }];
        let answer = emit(
            &Repr {
                id: q.id,
                flags: Flags {
                    response: true,
                    opcode: Opcode::Query,
                    authoritative: true,
                    ..Flags::default()
                },
                question: None,
                answer: Some(Record {
                    name,
                    class: CLASS_IN,
                    ttl: 300,
                    rdata: RData::Nb(List::Items(&entries)),
                }),
                authority: None,
                additional: None,
            },
            Compression::None,
        );
        let mut out = Vec::new();
        l.datagram(10, from(a), &answer, &mut out);
        assert_eq!(out.len(), 1, "the requester's ACT_ERR");
        for t in 11..15 {
            let mut out = Vec::new();
            l.tick(t, &mut out);
            assert!(out.is_empty(), "nothing at {t}");
        }
    }
}
