//! The replay itself: one capture's datagrams through one model server.

use super::{Capture, Datagram};
use crate::strict::nbns::{check_response, Asked};
use nbns_model::proto::{AddrList, Time};
use nbns_model::server::{Kind, RecState, Record};
use nbns_reference::model_wire::model_node;
use nbns_reference::packet_layer::{PacketConfig, PacketLayer};
use nbns_reference::wire_name::WireName;
use nbns_wire::nbns::{Opcode, RData, Rcode, Repr, RrType};
use std::collections::{HashMap, HashSet, VecDeque};
use std::fmt;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};

/// The owner the model gives the records a capture revealed (not a real server).
const REVEALED_OWNER: Ipv4Addr = Ipv4Addr::new(0, 0, 0, 1);
/// A request the server never answered counts as a divergence only when the capture goes on
/// at least this long after it (a server may answer up to its WACK's TTL later).
const ANSWER_GRACE: f64 = 10.0;
/// The name the model's server gets when the real one's is not given: one no capture uses.
const UNKNOWN_SERVER_NAME: &str = "NBNSVVALIDATE";

/// How to replay.
#[derive(Debug, Clone)]
pub struct Config {
    pub server: Ipv4Addr,
    pub server_name: Option<String>,
    pub from_start: bool,
}

/// An answer the model and the server disagree on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Divergence {
    /// The frame of the server's answer (of the request, when the server sent nothing).
    pub frame: u64,
    pub request_frame: u64,
    pub name: String,
    /// The rule (conformance/rules.txt) the model's answer follows, or the layout rule broken.
    pub rule: &'static str,
    pub expected: String,
    pub observed: String,
}

impl fmt::Display for Divergence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {}: expected {}; observed {}",
            self.name, self.rule, self.expected, self.observed
        )
    }
}

/// What one capture gave.
#[derive(Debug, Clone, Default)]
pub struct Report {
    pub exchanges: usize,
    pub divergences: Vec<Divergence>,
    pub undetermined: usize,
}

/// Sums over captures.
#[derive(Debug, Clone, Copy, Default)]
pub struct Totals {
    pub exchanges: usize,
    pub divergences: usize,
    pub undetermined: usize,
    pub known: usize,
}

impl Totals {
    pub fn add(&mut self, r: &Report) {
        self.exchanges += r.exchanges;
        self.divergences += r.divergences.len();
        self.undetermined += r.undetermined;
    }
}

/// The WINS server of a capture: the address that sent the most registration, release and
/// WACK responses (end nodes answer queries too, but only a name server answers those).
pub fn find_server(ds: &[Datagram]) -> Option<Ipv4Addr> {
    let mut counts: HashMap<Ipv4Addr, usize> = HashMap::new();
    for d in ds {
        if let Ok(r) = Repr::parse_bytes(&d.bytes) {
            if r.flags.response
                && matches!(
                    r.flags.opcode,
                    Opcode::Registration | Opcode::Release | Opcode::Wack
                )
            {
                *counts.entry(*d.src.ip()).or_default() += 1;
            }
        }
    }
    counts
        .into_iter()
        .max_by_key(|(a, n)| (*n, *a))
        .map(|(a, _)| a)
}

struct Exchange {
    frame: u64,
    time: f64,
    /// None for a request that does not decode (its answer does not depend on any record).
    name: Option<WireName>,
    request: Vec<u8>,
    predicted: VecDeque<Vec<u8>>,
    determined: bool,
    answered: bool,
    /// Requests with different bytes share the transaction id: which one an answer is for
    /// is unknown, so answers are compared in order but not held to a request's layout.
    mixed: bool,
}

/// A challenge query or release demand the model sent to a holder.
#[derive(Debug, Clone, PartialEq, Eq)]
struct ServerRequest {
    to: Ipv4Addr,
    name: WireName,
    opcode: Opcode,
    request_frame: u64,
}

struct Replay<'a> {
    cfg: &'a Config,
    layer: PacketLayer,
    now: Time,
    exchanges: HashMap<(SocketAddrV4, u16), Exchange>,
    challenges: Vec<ServerRequest>,
    /// Challenges already matched: the server may send them again (retries).
    seen_challenges: Vec<ServerRequest>,
    determined: HashSet<WireName>,
    /// Names whose record the server showed to differ from the model's (a divergence): not
    /// judged again until an answer reveals the record anew, so one difference is reported
    /// once, not again in every exchange that follows from it.
    diverged: HashSet<WireName>,
    /// Names never judged: replicated over TCP 42, or the server's own (it registers them
    /// itself, and its database holds them or not as it pleases).
    excluded: HashSet<WireName>,
    report: Report,
    revealed_version: u64,
    current_frame: u64,
}

/// Replays one capture, in order, through a model server standing for `cfg.server`.
pub fn replay(cfg: &Config, capture: &Capture) -> Report {
    let ds = &capture.datagrams;
    let name = cfg.server_name.as_deref().unwrap_or(UNKNOWN_SERVER_NAME);
    // The holders in the capture answer the captured server's queries, with its ids.
    let packet_cfg = |name: &str| {
        let mut c = PacketConfig::new(name, cfg.server);
        c.server.match_challenge_ids = false;
        c
    };
    let layer = PacketLayer::new(packet_cfg(name))
        .or_else(|_| PacketLayer::new(packet_cfg(UNKNOWN_SERVER_NAME)))
        .expect("a valid placeholder server name");
    let mut r = Replay {
        cfg,
        layer,
        now: 0,
        exchanges: HashMap::new(),
        challenges: Vec::new(),
        seen_challenges: Vec::new(),
        determined: HashSet::new(),
        diverged: HashSet::new(),
        excluded: capture.replicated.iter().cloned().collect(),
        report: Report::default(),
        revealed_version: 1,
        current_frame: 0,
    };
    for d in ds {
        r.datagram(d);
    }
    let end = ds.last().map_or(0.0, |d| d.time);
    r.finish(end);
    r.report
}

fn name_of(repr: &Repr<'_>) -> Option<WireName> {
    repr.question
        .map(|q| q.name)
        .or(repr.answer.map(|a| a.name))
        .or(repr.additional.map(|a| a.name))
        .and_then(|n| WireName::from_name(&n))
}

impl Replay<'_> {
    fn is_determined(&self, name: &WireName) -> bool {
        if self.excluded.contains(name) || self.diverged.contains(name) {
            return false;
        }
        self.cfg.from_start
            || self.determined.contains(name)
            || self.layer.is_own_name(name) && self.cfg.server_name.is_some()
    }

    fn datagram(&mut self, d: &Datagram) {
        self.current_frame = d.frame;
        self.advance(d.time.floor() as Time);
        let Ok(repr) = Repr::parse_bytes(&d.bytes) else {
            if *d.dst.ip() == self.cfg.server && d.bytes.get(2).is_some_and(|f| f & 0x80 == 0) {
                self.undecodable_request(d);
            }
            return;
        };
        let to_server = *d.dst.ip() == self.cfg.server;
        let from_server = *d.src.ip() == self.cfg.server;
        if from_server && repr.flags.response {
            // An answer names its request's exchange; a header-only one (FMT_ERR) no name.
            return self.answer(d, &repr);
        }
        let Some(name) = name_of(&repr) else {
            return;
        };
        match (to_server, from_server, repr.flags.response) {
            (true, false, false) => self.request(d, &repr, name),
            // A holder's answer to the server's challenge.
            (true, false, true) if self.is_determined(&name) => self.feed(d),
            (false, true, false) => self.server_request(d, &repr, name),
            _ => {}
        }
    }

    /// Runs the model's timers up to `t` (the model's clock never goes back).
    fn advance(&mut self, t: Time) {
        self.now = self.now.max(t);
        let mut out = Vec::new();
        self.layer.tick(self.now, &mut out);
        self.route(out);
    }

    fn feed(&mut self, d: &Datagram) {
        let mut out = Vec::new();
        self.layer
            .datagram(self.now, SocketAddr::V4(d.src), &d.bytes, &mut out);
        self.route(out);
    }

    /// Files what the model sent: answers with their exchange, requests to holders aside.
    fn route(&mut self, out: Vec<(SocketAddr, Vec<u8>)>) {
        for (to, bytes) in out {
            let SocketAddr::V4(to) = to else { continue };
            let Ok(repr) = Repr::parse_bytes(&bytes) else {
                continue;
            };
            if repr.flags.response {
                if let Some(ex) = self.exchanges.get_mut(&(to, repr.id)) {
                    ex.predicted.push_back(bytes);
                }
            } else if let Some(name) = name_of(&repr) {
                let c = ServerRequest {
                    to: *to.ip(),
                    name,
                    opcode: repr.flags.opcode,
                    request_frame: self.current_frame,
                };
                // A retransmission (the same request to the same holder) is a matter of
                // timing, not of the rules: only the first is expected.
                let same =
                    |o: &ServerRequest| o.to == c.to && o.name == c.name && o.opcode == c.opcode;
                if !self.challenges.iter().any(same) && !self.seen_challenges.iter().any(same) {
                    self.challenges.push(c);
                }
            }
        }
    }

    /// A request that does not decode: whatever the database holds, the answer is a bare
    /// FMT_ERR header, so it is always judged.
    fn undecodable_request(&mut self, d: &Datagram) {
        let id = u16::from_be_bytes([d.bytes[0], d.bytes.get(1).copied().unwrap_or(0)]);
        self.open_exchange(d, id, None, true);
        self.feed(d);
    }

    /// The exchange of a request. A socket that reuses a transaction id before its answers
    /// came (a retransmission, or hand-made packets in a burst) continues the exchange: the
    /// answers, the model's and the server's, are matched in order.
    fn open_exchange(&mut self, d: &Datagram, id: u16, name: Option<WireName>, determined: bool) {
        self.report.exchanges += 1;
        let ex = self
            .exchanges
            .entry((d.src, id))
            .or_insert_with(|| Exchange {
                frame: d.frame,
                time: d.time,
                name: name.clone(),
                request: d.bytes.clone(),
                predicted: VecDeque::new(),
                determined,
                answered: false,
                mixed: false,
            });
        if ex.name != name || ex.request != d.bytes {
            ex.mixed = true;
            ex.frame = d.frame;
            ex.time = d.time;
            ex.name = name;
            ex.request = d.bytes.clone();
            ex.determined = determined;
        }
    }

    fn request(&mut self, d: &Datagram, repr: &Repr<'_>, name: WireName) {
        if repr.question.is_some_and(|q| q.qtype == RrType::NbStat) {
            return; // node status is about the server's own table, not the database
        }
        let key = (d.src, repr.id);
        let determined = self.is_determined(&name);
        self.open_exchange(d, repr.id, Some(name), determined);
        if self.exchanges.get(&key).is_some_and(|ex| ex.determined) {
            self.feed(d);
        }
    }

    fn answer(&mut self, d: &Datagram, repr: &Repr<'_>) {
        let key = (d.dst, repr.id);
        let Some(ex) = self.exchanges.get_mut(&key) else {
            return; // the request is not in the capture
        };
        let name = ex.name.clone();
        let first = !ex.answered;
        ex.answered = true;
        if !ex.determined {
            if first {
                self.report.undetermined += 1;
            }
            let request = ex.request.clone();
            if let Some(name) = &name {
                self.reveal(name, &request, repr);
            }
            return;
        }
        let name = name.map_or("(undecodable request)".to_string(), |n| n.to_string());
        let request = ex.request.clone();
        let request_frame = ex.frame;
        let asked = Repr::parse_bytes(&request)
            .ok()
            .filter(|_| !ex.mixed)
            .and_then(|r| Asked::of(&r));
        if let Some(asked) = asked {
            for v in check_response(&asked, &d.bytes) {
                self.report.divergences.push(Divergence {
                    frame: d.frame,
                    request_frame,
                    name: name.clone(),
                    rule: v.rule,
                    expected: format!("the RFC 1002 layout ({})", v.detail),
                    observed: summary(repr),
                });
            }
        }
        // The server may have decided on its own timeout before the model's ran out.
        let mut fired = 0;
        while self.exchanges[&key].predicted.is_empty() && fired < 4 {
            let Some(deadline) = self.layer.next_deadline() else {
                break;
            };
            self.advance(deadline.max(self.now));
            fired += 1;
        }
        let ex = self.exchanges.get_mut(&key).expect("exchange");
        let predicted = ex.predicted.pop_front();
        let expected = predicted
            .as_deref()
            .and_then(|b| Repr::parse_bytes(b).ok())
            .map_or("no answer".to_string(), |p| summary(&p));
        let observed = summary(repr);
        if expected != observed {
            let rule = rule_for(&request, predicted.as_deref());
            self.report.divergences.push(Divergence {
                frame: d.frame,
                request_frame,
                name,
                rule,
                expected,
                observed,
            });
            if let Some(n) = self.exchanges[&key].name.clone() {
                self.lose_track(&n);
            }
        }
    }

    /// After a divergence the model's record of `name` is not the server's: forget it and
    /// judge the name again only once an answer has revealed its record.
    fn lose_track(&mut self, name: &WireName) {
        self.layer.server_mut().forget(name);
        self.determined.remove(name);
        self.diverged.insert(name.clone());
        for ex in self.exchanges.values_mut() {
            if ex.name.as_ref() == Some(name) {
                ex.determined = false;
                ex.predicted.clear();
            }
        }
        self.challenges.retain(|c| &c.name != name);
        self.seen_challenges.retain(|c| &c.name != name);
    }

    fn server_request(&mut self, d: &Datagram, repr: &Repr<'_>, name: WireName) {
        let to_holder = !repr.flags.broadcast
            && matches!(repr.flags.opcode, Opcode::Query | Opcode::Release)
            && !d.dst.ip().is_broadcast()
            && d.dst.ip().octets()[3] != 255;
        if !to_holder {
            // The server as an NBT node registering its own names: they are its own to keep.
            if self.cfg.server_name.is_none() {
                self.excluded.insert(name);
            }
            return;
        }
        if !self.is_determined(&name) {
            return;
        }
        let got = ServerRequest {
            to: *d.dst.ip(),
            name: name.clone(),
            opcode: repr.flags.opcode,
            request_frame: 0,
        };
        let same =
            |c: &ServerRequest| c.to == got.to && c.name == got.name && c.opcode == got.opcode;
        if let Some(i) = self.challenges.iter().position(same) {
            let c = self.challenges.remove(i);
            self.seen_challenges.push(c);
        } else if !self.seen_challenges.iter().any(same) {
            self.report.divergences.push(Divergence {
                frame: d.frame,
                request_frame: d.frame,
                name: name.to_string(),
                rule: if got.opcode == Opcode::Release {
                    "RFC1002-4.2.9-DEMAND-FORMAT"
                } else {
                    "RFC1002-5.1.4-CHALLENGE-QUERY"
                },
                expected: "no request to that holder".into(),
                observed: format!("{} to {}", summary(repr), got.to),
            });
            self.lose_track(&name);
        }
    }

    /// Teaches the model what the server's answer to a request about an undetermined name
    /// showed, where it shows the whole record; the name is determined from then on.
    fn reveal(&mut self, name: &WireName, request: &[u8], answer: &Repr<'_>) {
        let Ok(req) = Repr::parse_bytes(request) else {
            return;
        };
        let entries: Vec<_> = answer
            .answer
            .and_then(|a| a.nb_entries())
            .map(|l| l.iter().collect())
            .unwrap_or_default();
        let positive = answer.flags.rcode == Rcode::NoError;
        let record = match (req.flags.opcode, answer.flags.opcode) {
            (Opcode::Query, Opcode::Query) if !positive => None,
            (Opcode::Query, Opcode::Query) => {
                let Some(first) = entries.first() else { return };
                let group = first.flags.group();
                let mut addrs: Vec<Ipv4Addr> = entries
                    .iter()
                    .map(|e| e.addr)
                    .filter(|a| *a != Ipv4Addr::BROADCAST)
                    .collect();
                addrs.sort();
                addrs.dedup();
                let kind = match (group, name.name.suffix() == 0x1c, addrs.len()) {
                    (true, true, _) => Kind::SpecialGroup,
                    (true, false, _) => Kind::Group,
                    (false, _, 1) => Kind::Unique,
                    (false, _, 0) => return,
                    (false, _, _) => Kind::Multihomed,
                };
                Some((kind, addrs, first.flags.node_type()))
            }
            // A unique or normal-group registration granted: the whole record is known.
            (Opcode::Registration | Opcode::Refresh | Opcode::RefreshAlt, Opcode::Registration)
                if positive =>
            {
                let Some(e) = req
                    .additional
                    .and_then(|r| r.nb_entries())
                    .and_then(|l| l.iter().next())
                else {
                    return;
                };
                match (e.flags.group(), name.name.suffix() == 0x1c) {
                    (false, _) => Some((Kind::Unique, vec![e.addr], e.flags.node_type())),
                    (true, false) => Some((Kind::Group, vec![e.addr], e.flags.node_type())),
                    (true, true) => return, // other members unknown
                }
            }
            _ => return,
        };
        if let Some((kind, addrs, node)) = record {
            let rec = Record {
                name: name.clone(),
                kind,
                state: RecState::Active,
                is_static: false,
                node: model_node(node),
                addrs: AddrList::from(addrs),
                other_owners: AddrList::new(),
                member_expiry: AddrList::new(),
                owner: REVEALED_OWNER,
                version: self.revealed_version,
                expires: Time::MAX,
            };
            self.revealed_version += 1;
            let cfg = self.layer.config().server.clone();
            let mut out = Vec::new();
            let server = self.layer.server_mut();
            if server.record(name).is_none() {
                server.apply_replica(&cfg, self.now, rec, &mut out);
            }
        }
        self.diverged.remove(name);
        self.determined.insert(name.clone());
    }

    /// Requests the model answers and the server never did (the capture going on long
    /// enough after them), and holders the model would have asked and the server did not.
    fn finish(&mut self, end: f64) {
        let mut all: Vec<Exchange> = self.exchanges.drain().map(|(_, e)| e).collect();
        all.sort_by_key(|e| e.frame);
        for ex in all {
            if !ex.determined || ex.answered || end - ex.time < ANSWER_GRACE {
                continue;
            }
            if let Some(p) = ex.predicted.front().and_then(|b| Repr::parse_bytes(b).ok()) {
                self.report.divergences.push(Divergence {
                    frame: ex.frame,
                    request_frame: ex.frame,
                    name: ex
                        .name
                        .as_ref()
                        .map_or("(undecodable request)".to_string(), |n| n.to_string()),
                    rule: rule_for(&ex.request, ex.predicted.front().map(|v| &v[..])),
                    expected: summary(&p),
                    observed: "no answer".into(),
                });
            }
        }
        for c in std::mem::take(&mut self.challenges) {
            self.report.divergences.push(Divergence {
                frame: c.request_frame,
                request_frame: c.request_frame,
                name: c.name.to_string(),
                rule: "RFC1002-5.1.4-CHALLENGE-QUERY",
                expected: format!("a {} to {}", c.opcode, c.to),
                observed: "none".into(),
            });
        }
    }
}

/// The fields of an answer that the model determines: opcode, rcode, group flag and the
/// set of addresses (TTLs, flags and ids are the server's own; the layout check sees those).
fn summary(r: &Repr<'_>) -> String {
    let mut addrs: Vec<Ipv4Addr> = Vec::new();
    let mut group = None;
    if let Some(a) = r.answer {
        if let RData::Nb(l) = a.rdata {
            for e in l.iter() {
                group.get_or_insert(e.flags.group());
                addrs.push(e.addr);
            }
        }
    }
    addrs.sort();
    addrs.dedup();
    let mut s = format!("{} {}", r.flags.opcode, r.flags.rcode);
    if let Some(g) = group {
        s.push_str(if g { " group" } else { " unique" });
    }
    if !addrs.is_empty() {
        let list: Vec<String> = addrs.iter().map(|a| a.to_string()).collect();
        s.push_str(&format!(" [{}]", list.join(",")));
    }
    s
}

/// The rule behind the model's answer to `request`, for the divergence report.
fn rule_for(request: &[u8], predicted: Option<&[u8]>) -> &'static str {
    let Ok(req) = Repr::parse_bytes(request) else {
        return "RFC1002-4.2.1-COUNTS-MATCH";
    };
    let p = predicted.and_then(|b| Repr::parse_bytes(b).ok());
    let rcode = p.map(|p| p.flags.rcode);
    let wack = p.is_some_and(|p| p.flags.opcode == Opcode::Wack);
    match req.flags.opcode {
        Opcode::Query if rcode == Some(Rcode::NoError) => "RFC1002-4.2.13-ENTRY-PER-ADDR",
        Opcode::Query => "RFC1002-5.1.4-QUERY-UNKNOWN",
        Opcode::Registration | Opcode::MultihomedRegistration if wack => {
            "RFC1002-5.1.4-REG-HELD-WACK"
        }
        Opcode::Registration | Opcode::MultihomedRegistration if rcode == Some(Rcode::ActErr) => {
            "RFC1002-4.2.6-ACT-FOR-HELD"
        }
        Opcode::Registration | Opcode::MultihomedRegistration => "RFC1002-5.1.4-REG-NEW",
        Opcode::Refresh | Opcode::RefreshAlt => "RFC1002-4.2.4-REFRESH-HOLDER",
        Opcode::Release => "RFC1002-4.2.9-HOLDER-RELEASES",
        _ => "RFC1002-4.2.1.1-OPCODE-ECHO",
    }
}
