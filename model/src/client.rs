//! The NBT client state machine (RFC 1001 node types, the KB articles' client behaviour).
//!
//! Independent of stateright and driven by explicit inputs:
//! * application calls: [`Client::add_name`], [`Client::delete_name`], [`Client::resolve`],
//!   [`Client::refresh`];
//! * packets: [`Client::on_packet`] (responses, WACKs, challenge queries, release demands,
//!   datagrams, session open/close);
//! * time: [`Client::on_timer`] when [`Client::next_deadline`] is reached, or
//!   [`Client::timeout`] to fire the retransmission timer regardless of the clock (the model).
//!
//! One name-service transaction runs at a time (the others wait in a FIFO queue), each walking
//! the stages of its node type: B = broadcast; P = primary, backup; M = broadcast, primary,
//! backup; H = primary, backup, broadcast. Each stage sends up to `retries` times.

use crate::proto::{Addr, AddrList, NameKey, NodeType, Opcode, Packet, Rcode, SmallVec, Time};
use crate::{Bug, Bugs};

/// Client settings. Not part of the (hashed) state.
#[derive(Clone, Debug)]
pub struct ClientConfig<A> {
    /// Switched-on bugs (Q153073, Q124565, Q184832 concern the client).
    pub bugs: Bugs,
    /// Node type.
    pub node: NodeType,
    /// The NIC addresses; `nics[0]` is the primary NIC. More than one: a multihomed host,
    /// which registers with opcode 0xF from every NIC.
    pub nics: Vec<A>,
    /// Configured primary and backup WINS servers.
    pub wins: [Option<A>; 2],
    /// Sends per server stage.
    pub retries: u8,
    /// Sends per broadcast stage.
    pub bcast_retries: u8,
    /// TTL asked for.
    pub ttl: u32,
    /// Seconds between retransmissions.
    pub timeout: u32,
    /// Most references a name can carry (keeps the model finite).
    pub max_refs: u8,
}

impl<A: Addr> ClientConfig<A> {
    /// A P-node with one NIC and the given servers, 2 sends per stage.
    pub fn new(node: NodeType, nics: Vec<A>, wins: [Option<A>; 2]) -> Self {
        ClientConfig {
            bugs: Bugs::NONE,
            node,
            nics,
            wins,
            retries: 2,
            bcast_retries: 1,
            ttl: 300,
            timeout: 2,
            max_refs: 3,
        }
    }

    fn multihomed(&self) -> bool {
        self.nics.len() > 1
    }
}

/// The state of a name in the local name table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EntryState {
    /// Registration in progress.
    Registering,
    /// Registered (with a server, or by broadcast without objection).
    Registered,
    /// Every stage failed: the name is not registered anywhere.
    Failed,
    /// A negative response or a release demand: the name is in conflict (event 4320).
    Conflict,
}

/// An entry of the local NetBIOS name table.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Entry<N, A> {
    /// The name (sort key).
    pub name: N,
    /// A group name.
    pub group: bool,
    /// Registration state.
    pub state: EntryState,
    /// Reference count: one for the application that added it, one per session.
    pub refs: u8,
    /// Open sessions on the name.
    pub sessions: u8,
    /// The WINS server that last answered positively (None: broadcast only).
    pub server: Option<A>,
}

/// A name-service transaction kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum OpKind {
    /// Name registration.
    Register,
    /// Name refresh.
    Refresh,
    /// Name release.
    Release,
    /// Name query.
    Query,
}

/// Where a transaction currently sends.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Stage {
    /// Broadcast on the local segment.
    Bcast,
    /// The primary WINS server (`servers[0]`).
    Primary,
    /// The backup WINS server (`servers[1]`).
    Backup,
}

/// A name-service transaction.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Op<N> {
    /// What it does.
    pub kind: OpKind,
    /// For which name.
    pub name: N,
    /// A group name.
    pub group: bool,
    /// From which NIC (index into `nics`).
    pub nic: u8,
    /// Current stage.
    pub stage: Stage,
    /// Sends so far at this stage.
    pub tries: u8,
    /// A WACK arrived: wait for the final answer instead of retransmitting.
    pub wacked: bool,
    /// The name was deleted while this transaction ran: its outcome is ignored.
    pub stale: bool,
    /// Its transaction id (NAME_TRN_ID), given when it starts and kept by its
    /// retransmissions (RFC 1002 4.2.1.1); 0 while it waits in the queue. Only an answer
    /// with this id is its answer: a late answer to an earlier transaction is ignored.
    pub xid: u16,
}

/// Where a packet goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Dest<A> {
    /// To one address.
    Unicast(A),
    /// To the local segment.
    Broadcast,
}

/// Something the application (or an event log) should hear about.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Event<N, A> {
    /// The name is registered (with `server`, or by broadcast when None).
    Registered { name: N, server: Option<A> },
    /// Every stage failed.
    RegistrationFailed { name: N },
    /// Negative response or release demand from `by`: event 4320.
    Conflict { name: N, by: A },
    /// A query answered.
    Resolved { name: N, addrs: AddrList<A> },
    /// A query failed.
    NotFound { name: N },
    /// A datagram for a local name.
    Datagram { name: N },
}

/// What the client wants done.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ClientOut<N, A> {
    /// Send `packet` from the NIC `from` to `to` with transaction id `xid` (the
    /// transaction's own for a request, the question's for an answer).
    Send {
        from: A,
        to: Dest<A>,
        xid: u16,
        packet: Packet<N, A>,
    },
    /// Tell the application.
    Event(Event<N, A>),
}

/// Why `add_name` failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AddError {
    /// The name is already in the local name table.
    Duplicate,
}

/// The client's state.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Client<N, A> {
    /// Current primary and backup (KB Q153073's swap changes this).
    pub servers: [Option<A>; 2],
    /// The primary stage failed once: new transactions skip it.
    pub use_backup: bool,
    /// The local name table, sorted by name.
    pub names: SmallVec<[Entry<N, A>; 3]>,
    /// The transaction in progress.
    pub op: Option<Op<N>>,
    /// Transactions waiting (FIFO).
    pub queue: SmallVec<[Op<N>; 3]>,
    /// When the retransmission timer fires.
    pub deadline: Option<Time>,
    /// The transaction id given last (never 0: a new transaction takes the next one).
    pub last_xid: u16,
}

impl<N: NameKey, A: Addr> Client<N, A> {
    /// A client with an empty name table.
    pub fn new(cfg: &ClientConfig<A>) -> Self {
        Client {
            servers: cfg.wins,
            use_backup: false,
            names: SmallVec::new(),
            op: None,
            queue: SmallVec::new(),
            deadline: None,
            last_xid: 0,
        }
    }

    /// The local table entry for `name`.
    pub fn entry(&self, name: &N) -> Option<&Entry<N, A>> {
        self.find(name).ok().map(|i| &self.names[i])
    }

    fn find(&self, name: &N) -> Result<usize, usize> {
        self.names.binary_search_by(|e| e.name.cmp(name))
    }

    /// No transaction in progress or queued.
    pub fn idle(&self) -> bool {
        self.op.is_none() && self.queue.is_empty()
    }

    /// A transaction for `name` is in progress or queued.
    pub fn busy_with(&self, name: &N) -> bool {
        self.op
            .iter()
            .chain(self.queue.iter())
            .any(|o| &o.name == name)
    }

    /// The application adds a name: it enters the local table with one reference and is
    /// registered (from every NIC, with opcode 0xF, on a multihomed host).
    pub fn add_name(
        &mut self,
        cfg: &ClientConfig<A>,
        now: Time,
        name: N,
        group: bool,
        out: &mut Vec<ClientOut<N, A>>,
    ) -> Result<(), AddError> {
        let i = match self.find(&name) {
            Ok(_) => return Err(AddError::Duplicate),
            Err(i) => i,
        };
        self.names.insert(
            i,
            Entry {
                name: name.clone(),
                group,
                state: EntryState::Registering,
                refs: 1,
                sessions: 0,
                server: None,
            },
        );
        for nic in 0..cfg.nics.len() as u8 {
            self.enqueue(cfg, now, OpKind::Register, name.clone(), group, nic, out);
        }
        Ok(())
    }

    /// The application deletes a name (exits): one reference less. At zero the name leaves
    /// the table and is released (from every NIC; KB Q184832: only the primary NIC).
    /// Returns false when the name was not in the table.
    pub fn delete_name(
        &mut self,
        cfg: &ClientConfig<A>,
        now: Time,
        name: &N,
        out: &mut Vec<ClientOut<N, A>>,
    ) -> bool {
        let Ok(i) = self.find(name) else {
            return false;
        };
        self.unref(cfg, now, i, out);
        true
    }

    fn unref(
        &mut self,
        cfg: &ClientConfig<A>,
        now: Time,
        i: usize,
        out: &mut Vec<ClientOut<N, A>>,
    ) {
        let e = &mut self.names[i];
        e.refs = e.refs.saturating_sub(1);
        if e.refs > 0 {
            return;
        }
        let e = self.names.remove(i);
        // Registrations and refreshes not sent yet are moot; the one in flight belongs to a
        // deleted entry: its answer must not touch a later entry of the same name.
        self.queue.retain(|o| {
            !(o.name == e.name && matches!(o.kind, OpKind::Register | OpKind::Refresh))
        });
        if let Some(op) = self
            .op
            .as_mut()
            .filter(|o| o.name == e.name && matches!(o.kind, OpKind::Register | OpKind::Refresh))
        {
            op.stale = true;
        }
        if matches!(e.state, EntryState::Registered | EntryState::Registering) {
            let nics = if cfg.bugs.has(Bug::Q184832) {
                1
            } else {
                cfg.nics.len()
            };
            for nic in 0..nics {
                self.enqueue(
                    cfg,
                    now,
                    OpKind::Release,
                    e.name.clone(),
                    e.group,
                    nic as u8,
                    out,
                );
            }
        }
    }

    /// Looks up a name with the servers.
    pub fn resolve(
        &mut self,
        cfg: &ClientConfig<A>,
        now: Time,
        name: N,
        out: &mut Vec<ClientOut<N, A>>,
    ) {
        self.enqueue(cfg, now, OpKind::Query, name, false, 0, out);
    }

    /// Refreshes a registered name (due at TTL/2). Returns false when it is not registered.
    pub fn refresh(
        &mut self,
        cfg: &ClientConfig<A>,
        now: Time,
        name: &N,
        out: &mut Vec<ClientOut<N, A>>,
    ) -> bool {
        let Some(e) = self
            .entry(name)
            .filter(|e| e.state == EntryState::Registered)
        else {
            return false;
        };
        let group = e.group;
        for nic in 0..cfg.nics.len() {
            self.enqueue(
                cfg,
                now,
                OpKind::Refresh,
                name.clone(),
                group,
                nic as u8,
                out,
            );
        }
        true
    }

    #[allow(clippy::too_many_arguments)]
    fn enqueue(
        &mut self,
        cfg: &ClientConfig<A>,
        now: Time,
        kind: OpKind,
        name: N,
        group: bool,
        nic: u8,
        out: &mut Vec<ClientOut<N, A>>,
    ) {
        let op = Op {
            kind,
            name,
            group,
            nic,
            stage: Stage::Bcast,
            tries: 0,
            wacked: false,
            stale: false,
            xid: 0,
        };
        self.queue.push(op);
        if self.op.is_none() {
            self.start_next(cfg, now, out);
        }
    }

    fn stages(&self, cfg: &ClientConfig<A>, kind: OpKind) -> &'static [Stage] {
        use Stage::*;
        match (cfg.node, kind) {
            (NodeType::B, _) => &[Bcast],
            (NodeType::P, _)
            | (NodeType::M, OpKind::Release | OpKind::Refresh)
            | (NodeType::H, OpKind::Refresh) => &[Primary, Backup],
            (NodeType::M, _) => &[Bcast, Primary, Backup],
            (NodeType::H, _) => &[Primary, Backup, Bcast],
        }
    }

    /// The first usable stage at or after position `from` in the node type's sequence.
    fn stage_from(
        &self,
        cfg: &ClientConfig<A>,
        kind: OpKind,
        from: Option<Stage>,
    ) -> Option<Stage> {
        let seq = self.stages(cfg, kind);
        let start = match from {
            None => 0,
            Some(s) => seq
                .iter()
                .position(|x| *x == s)
                .map_or(seq.len(), |p| p + 1),
        };
        seq[start..].iter().copied().find(|s| match s {
            Stage::Bcast => true,
            Stage::Primary => self.servers[0].is_some() && !self.use_backup,
            Stage::Backup => self.servers[1].is_some(),
        })
    }

    fn start_next(&mut self, cfg: &ClientConfig<A>, now: Time, out: &mut Vec<ClientOut<N, A>>) {
        while !self.queue.is_empty() {
            let mut op = self.queue.remove(0);
            match self.stage_from(cfg, op.kind, None) {
                Some(stage) => {
                    op.stage = stage;
                    op.xid = self.fresh_xid();
                    self.op = Some(op);
                    self.transmit(cfg, now, out);
                    return;
                }
                None => {
                    self.op = Some(op);
                    self.exhausted(cfg, now, out);
                    if self.op.is_some() {
                        return;
                    }
                }
            }
        }
        self.deadline = None;
    }

    /// The next transaction id (wrapping, skipping 0).
    fn fresh_xid(&mut self) -> u16 {
        self.last_xid = self.last_xid.checked_add(1).unwrap_or(1);
        self.last_xid
    }

    fn transmit(&mut self, cfg: &ClientConfig<A>, now: Time, out: &mut Vec<ClientOut<N, A>>) {
        let Some(op) = self.op.as_mut() else {
            return;
        };
        op.tries += 1;
        let addr = cfg.nics[op.nic as usize];
        let broadcast = op.stage == Stage::Bcast;
        let to = match op.stage {
            Stage::Bcast => Dest::Broadcast,
            Stage::Primary => Dest::Unicast(self.servers[0].expect("primary")),
            Stage::Backup => Dest::Unicast(self.servers[1].expect("backup")),
        };
        let name = op.name.clone();
        let group = op.group;
        let xid = op.xid;
        let node = cfg.node;
        let packet = match op.kind {
            OpKind::Register => Packet::Register {
                name,
                group,
                node,
                ttl: cfg.ttl,
                addr,
                multihomed: cfg.multihomed() && !group,
                broadcast,
            },
            OpKind::Refresh => Packet::Refresh {
                name,
                group,
                node,
                ttl: cfg.ttl,
                addr,
            },
            OpKind::Release => Packet::Release {
                name,
                group,
                node,
                addr,
                broadcast,
            },
            OpKind::Query => Packet::Query { name, broadcast },
        };
        out.push(ClientOut::Send {
            from: addr,
            to,
            xid,
            packet,
        });
        self.deadline = Some(now + Time::from(cfg.timeout));
    }

    /// The retransmission timer fired (whatever the clock says): send again, or move to the
    /// next stage, or give up. Returns false when no transaction was running.
    pub fn timeout(
        &mut self,
        cfg: &ClientConfig<A>,
        now: Time,
        out: &mut Vec<ClientOut<N, A>>,
    ) -> bool {
        let Some(op) = self.op.as_ref() else {
            return false;
        };
        let limit = if op.stage == Stage::Bcast {
            cfg.bcast_retries
        } else {
            cfg.retries
        };
        if op.tries < limit && !op.wacked {
            self.transmit(cfg, now, out);
            return true;
        }
        let (kind, stage) = (op.kind, op.stage);
        if stage == Stage::Primary && kind != OpKind::Query && self.servers[1].is_some() {
            // The primary does not answer: later transactions go straight to the backup. Only
            // when there is one: a client without a backup that skipped its primary would
            // never send again (a late answer, seen in the model's delay mode, made a P-node
            // drop its release).
            self.use_backup = true;
        }
        match self.stage_from(cfg, kind, Some(stage)) {
            Some(next) => {
                let op = self.op.as_mut().expect("op");
                op.stage = next;
                op.tries = 0;
                op.wacked = false;
                self.transmit(cfg, now, out);
            }
            None => {
                self.exhausted(cfg, now, out);
                if self.op.is_none() {
                    self.start_next(cfg, now, out);
                }
            }
        }
        true
    }

    /// Every stage of the current transaction is done without a final answer.
    fn exhausted(&mut self, _cfg: &ClientConfig<A>, _now: Time, out: &mut Vec<ClientOut<N, A>>) {
        let Some(op) = self.op.take() else {
            return;
        };
        let i = self.find(&op.name).ok().filter(|_| !op.stale);
        match op.kind {
            OpKind::Register | OpKind::Refresh => {
                if let Some(i) = i {
                    let e = &mut self.names[i];
                    if op.stage == Stage::Bcast && e.state == EntryState::Registering {
                        // Nobody objected to the broadcast claim: the name is ours locally.
                        e.state = EntryState::Registered;
                        out.push(ClientOut::Event(Event::Registered {
                            name: op.name,
                            server: None,
                        }));
                    } else if e.state == EntryState::Registering || op.kind == OpKind::Refresh {
                        e.state = EntryState::Failed;
                        e.server = None;
                        out.push(ClientOut::Event(Event::RegistrationFailed {
                            name: op.name,
                        }));
                    }
                }
            }
            OpKind::Release => {}
            OpKind::Query => out.push(ClientOut::Event(Event::NotFound { name: op.name })),
        }
        self.deadline = None;
    }

    /// Fires the retransmission timer when it is due.
    pub fn on_timer(&mut self, cfg: &ClientConfig<A>, now: Time, out: &mut Vec<ClientOut<N, A>>) {
        if self.deadline.is_some_and(|d| d <= now) {
            self.timeout(cfg, now, out);
        }
    }

    /// When [`Client::on_timer`] next has something to do.
    pub fn next_deadline(&self) -> Option<Time> {
        self.deadline
    }

    /// A packet with transaction id `xid` arrived from `from` on the NIC with address `nic`.
    #[allow(clippy::too_many_arguments)]
    pub fn on_packet(
        &mut self,
        cfg: &ClientConfig<A>,
        now: Time,
        from: A,
        nic: A,
        xid: u16,
        packet: Packet<N, A>,
        out: &mut Vec<ClientOut<N, A>>,
    ) {
        match packet {
            Packet::Response {
                op: rop,
                name,
                rcode,
                addrs,
                ..
            } => self.on_response(cfg, now, from, xid, rop, name, rcode, addrs, out),
            Packet::Wack { name, ttl, .. } => {
                if let Some(op) = self.op.as_mut().filter(|o| {
                    o.xid == xid
                        && o.name == name
                        && matches!(o.kind, OpKind::Register | OpKind::Refresh)
                }) {
                    op.wacked = true;
                    self.deadline = Some(now + Time::from(ttl));
                }
            }
            Packet::Query { name, broadcast } => {
                // Answer for names we hold or are registering (a server's challenge, or a
                // broadcast query): a host whose grant is still on its way must defend it.
                let held = self.entry(&name).is_some_and(|e| {
                    matches!(e.state, EntryState::Registered | EntryState::Registering)
                });
                let packet = if held {
                    let addrs = if cfg.multihomed() {
                        cfg.nics.as_slice().into()
                    } else {
                        AddrList::one(nic)
                    };
                    Packet::Response {
                        op: Opcode::Query,
                        name,
                        rcode: Rcode::Ok,
                        ttl: cfg.ttl,
                        group: false,
                        addrs,
                    }
                } else if broadcast {
                    return; // broadcast queries for names we do not hold stay unanswered
                } else {
                    Packet::Response {
                        op: Opcode::Query,
                        name,
                        rcode: Rcode::NamErr,
                        ttl: 0,
                        group: false,
                        addrs: AddrList::new(),
                    }
                };
                out.push(ClientOut::Send {
                    from: nic,
                    to: Dest::Unicast(from),
                    xid,
                    packet,
                });
            }
            Packet::Release {
                name,
                broadcast: false,
                ..
            } => {
                // A release demand: the name is in conflict (event 4320).
                if let Ok(i) = self.find(&name) {
                    self.names[i].state = EntryState::Conflict;
                    out.push(ClientOut::Event(Event::Conflict { name, by: from }));
                }
            }
            Packet::Datagram { to, .. } => {
                if let Ok(i) = self.find(&to) {
                    let e = &mut self.names[i];
                    if cfg.bugs.has(Bug::Q124565) && e.sessions == 0 {
                        // KB Q124565: a datagram before any session takes a reference.
                        e.refs = (e.refs + 1).min(cfg.max_refs);
                    }
                    out.push(ClientOut::Event(Event::Datagram { name: to }));
                }
            }
            Packet::SessionOpen { to, .. } => {
                if let Ok(i) = self.find(&to) {
                    let e = &mut self.names[i];
                    if e.refs < cfg.max_refs {
                        e.refs += 1;
                        e.sessions += 1;
                    }
                }
            }
            Packet::SessionClose { to, .. } => {
                if let Ok(i) = self.find(&to) {
                    if self.names[i].sessions > 0 {
                        self.names[i].sessions -= 1;
                        self.unref(cfg, now, i, out);
                    }
                }
            }
            _ => {}
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn on_response(
        &mut self,
        cfg: &ClientConfig<A>,
        now: Time,
        from: A,
        xid: u16,
        rop: Opcode,
        name: N,
        rcode: Rcode,
        addrs: AddrList<A>,
        out: &mut Vec<ClientOut<N, A>>,
    ) {
        // The answer to the transaction in progress has its id (a retransmission keeps it).
        // Anything else answers a transaction that is over (a late or duplicated answer, an
        // answer to another NIC's transaction for the same name on a multihomed host) and is
        // ignored (RFC 1002 4.2.1.1: the requester matches responses by NAME_TRN_ID).
        let Some(op) = self.op.as_ref().filter(|o| o.xid == xid && o.name == name) else {
            return;
        };
        let matches = match op.kind {
            OpKind::Register => {
                matches!(rop, Opcode::Registration | Opcode::MultihomedRegistration)
            }
            OpKind::Refresh => matches!(rop, Opcode::Refresh | Opcode::Registration),
            OpKind::Release => rop == Opcode::Release,
            OpKind::Query => rop == Opcode::Query,
        };
        if !matches {
            return;
        }
        let op = self.op.take().expect("op");
        match op.kind {
            OpKind::Register | OpKind::Refresh => {
                if let Some(i) = self.find(&name).ok().filter(|_| !op.stale) {
                    let e = &mut self.names[i];
                    if rcode == Rcode::Ok {
                        if e.state != EntryState::Conflict {
                            e.state = EntryState::Registered;
                            e.server = Some(from);
                            out.push(ClientOut::Event(Event::Registered {
                                name,
                                server: Some(from),
                            }));
                        }
                    } else {
                        e.state = EntryState::Conflict;
                        e.server = None;
                        out.push(ClientOut::Event(Event::Conflict { name, by: from }));
                    }
                }
                if rcode == Rcode::Ok && Some(from) == self.servers[0] && self.use_backup {
                    // The primary's late positive answer after a failover: it is alive, so
                    // later transactions try it first again.
                    self.use_backup = false;
                }
                if rcode == Rcode::Ok && op.stage == Stage::Backup && Some(from) == self.servers[1]
                {
                    // The backup answered: make it the primary. KB Q153073: the stage memory
                    // is not reset, so the next names go to "the backup", now the dead primary.
                    self.servers.swap(0, 1);
                    if !cfg.bugs.has(Bug::Q153073) {
                        self.use_backup = false;
                    }
                }
            }
            OpKind::Release => {}
            OpKind::Query => {
                let ev = if rcode == Rcode::Ok {
                    Event::Resolved { name, addrs }
                } else {
                    Event::NotFound { name }
                };
                out.push(ClientOut::Event(ev));
            }
        }
        self.deadline = None;
        self.start_next(cfg, now, out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sends(out: &[ClientOut<u8, u8>]) -> Vec<(Dest<u8>, Packet<u8, u8>)> {
        out.iter()
            .filter_map(|o| match o {
                ClientOut::Send { to, packet, .. } => Some((*to, packet.clone())),
                _ => None,
            })
            .collect()
    }

    /// The id of the transaction in progress (0 when none): what its answer carries.
    fn xid(c: &Client<u8, u8>) -> u16 {
        c.op.as_ref().map_or(0, |o| o.xid)
    }

    fn ok(op: Opcode, name: u8) -> Packet<u8, u8> {
        Packet::Response {
            op,
            name,
            rcode: Rcode::Ok,
            ttl: 300,
            group: false,
            addrs: [1].into(),
        }
    }

    fn failover_run(bugs: Bugs) -> Client<u8, u8> {
        // M-node, primary 100 dead, backup 101 alive.
        let mut cfg = ClientConfig::new(NodeType::M, vec![1], [Some(100), Some(101)]);
        cfg.bugs = bugs;
        let mut c = Client::new(&cfg);
        let mut out = Vec::new();
        c.add_name(&cfg, 0, 1, false, &mut out).unwrap();
        c.add_name(&cfg, 0, 2, false, &mut out).unwrap();
        assert_eq!(sends(&out)[0].0, Dest::Broadcast);
        for _ in 0..3 {
            out.clear();
            c.timeout(&cfg, 0, &mut out); // bcast, primary x2 -> backup
        }
        assert_eq!(sends(&out)[0].0, Dest::Unicast(101));
        assert!(c.use_backup);
        out.clear();
        c.on_packet(
            &cfg,
            0,
            101,
            1,
            xid(&c),
            ok(Opcode::Registration, 1),
            &mut out,
        );
        assert_eq!(c.entry(&1).unwrap().state, EntryState::Registered);
        assert_eq!(c.servers, [Some(101), Some(100)]);
        // Name 2: broadcast first, then the server stage.
        out.clear();
        c.timeout(&cfg, 0, &mut out);
        let to = sends(&out)[0].0;
        if to == Dest::Unicast(101) {
            c.on_packet(
                &cfg,
                0,
                101,
                1,
                xid(&c),
                ok(Opcode::Registration, 2),
                &mut out,
            );
        } else {
            for _ in 0..3 {
                c.timeout(&cfg, 0, &mut out);
            }
        }
        c
    }

    #[test]
    fn q153073_swap_strands_the_next_name_and_the_fix_does_not() {
        let fixed = failover_run(Bugs::NONE);
        assert_eq!(fixed.entry(&2).unwrap().state, EntryState::Registered);
        assert_eq!(fixed.entry(&2).unwrap().server, Some(101));
        let buggy = failover_run(Bug::Q153073.into());
        assert_eq!(buggy.entry(&2).unwrap().state, EntryState::Failed);
    }

    #[test]
    fn q124565_datagram_reference_keeps_the_name() {
        for (bugs, readd_ok) in [(Bugs::NONE, true), (Bugs::from(Bug::Q124565), false)] {
            let mut cfg = ClientConfig::new(NodeType::P, vec![1], [Some(100), None]);
            cfg.bugs = bugs;
            let mut c = Client::new(&cfg);
            let mut out = Vec::new();
            c.add_name(&cfg, 0, 7, false, &mut out).unwrap();
            c.on_packet(
                &cfg,
                0,
                100,
                1,
                xid(&c),
                ok(Opcode::Registration, 7),
                &mut out,
            );
            c.on_packet(
                &cfg,
                0,
                2,
                1,
                xid(&c),
                Packet::Datagram { to: 7, from: 9 },
                &mut out,
            );
            c.on_packet(
                &cfg,
                0,
                2,
                1,
                xid(&c),
                Packet::SessionOpen { to: 7, from: 9 },
                &mut out,
            );
            c.on_packet(
                &cfg,
                0,
                2,
                1,
                xid(&c),
                Packet::SessionClose { to: 7, from: 9 },
                &mut out,
            );
            assert!(c.delete_name(&cfg, 0, &7, &mut out));
            assert_eq!(
                c.add_name(&cfg, 0, 7, false, &mut out).is_ok(),
                readd_ok,
                "{bugs}"
            );
        }
    }

    #[test]
    fn q184832_release_from_every_nic_or_only_the_primary() {
        for (bugs, releases) in [(Bugs::NONE, 2), (Bugs::from(Bug::Q184832), 1)] {
            let mut cfg = ClientConfig::new(NodeType::P, vec![1, 2], [Some(100), None]);
            cfg.bugs = bugs;
            let mut c = Client::new(&cfg);
            let mut out = Vec::new();
            c.add_name(&cfg, 0, 7, false, &mut out).unwrap();
            assert!(matches!(
                sends(&out)[0].1,
                Packet::Register {
                    multihomed: true,
                    addr: 1,
                    ..
                }
            ));
            c.on_packet(
                &cfg,
                0,
                100,
                1,
                xid(&c),
                ok(Opcode::MultihomedRegistration, 7),
                &mut out,
            );
            c.on_packet(
                &cfg,
                0,
                100,
                2,
                xid(&c),
                ok(Opcode::MultihomedRegistration, 7),
                &mut out,
            );
            out.clear();
            c.delete_name(&cfg, 0, &7, &mut out);
            let mut n = 0;
            while let Some(op) = c.op.clone() {
                assert_eq!(op.kind, OpKind::Release);
                n += 1;
                c.on_packet(
                    &cfg,
                    0,
                    100,
                    cfg.nics[op.nic as usize],
                    xid(&c),
                    ok(Opcode::Release, 7),
                    &mut out,
                );
            }
            assert_eq!(n, releases, "{bugs}");
        }
    }

    #[test]
    fn challenge_is_answered_from_the_name_table() {
        let cfg = ClientConfig::new(NodeType::P, vec![1, 2], [Some(100), None]);
        let mut c = Client::new(&cfg);
        let mut out = Vec::new();
        c.on_packet(
            &cfg,
            0,
            100,
            1,
            xid(&c),
            Packet::Query {
                name: 7,
                broadcast: false,
            },
            &mut out,
        );
        assert!(matches!(
            &sends(&out)[0].1,
            Packet::Response {
                rcode: Rcode::NamErr,
                ..
            }
        ));
        c.add_name(&cfg, 0, 7, false, &mut out).unwrap();
        out.clear();
        c.on_packet(
            &cfg,
            0,
            100,
            1,
            xid(&c),
            Packet::Query {
                name: 7,
                broadcast: false,
            },
            &mut out,
        );
        assert!(
            matches!(&sends(&out)[0].1, Packet::Response { rcode: Rcode::Ok, addrs, .. } if addrs[..] == [1, 2])
        );
        // A release demand puts the name in conflict.
        c.on_packet(
            &cfg,
            0,
            100,
            1,
            xid(&c),
            Packet::Release {
                name: 7,
                group: false,
                node: NodeType::P,
                addr: 1,
                broadcast: false,
            },
            &mut out,
        );
        assert_eq!(c.entry(&7).unwrap().state, EntryState::Conflict);
    }

    /// RFC 1002 4.2.1.1: a retransmission keeps its transaction's id, a new transaction takes
    /// a new one, and an answer is the current transaction's only when its id matches (the
    /// challenge scenario's finding in delay mode: a late answer to an earlier registration
    /// of the same name was taken for the current one).
    #[test]
    fn a_late_answer_to_an_earlier_transaction_is_ignored() {
        let cfg = ClientConfig::new(NodeType::P, vec![1], [Some(100), None]);
        let mut c = Client::new(&cfg);
        let mut out = Vec::new();
        c.add_name(&cfg, 0, 7, false, &mut out).unwrap();
        let first = xid(&c);
        assert_ne!(first, 0);
        out.clear();
        c.timeout(&cfg, 0, &mut out);
        assert!(
            matches!(out[..], [ClientOut::Send { xid, .. }] if xid == first),
            "a retransmission keeps the id: {out:?}"
        );
        c.on_packet(
            &cfg,
            0,
            100,
            1,
            first,
            ok(Opcode::Registration, 7),
            &mut out,
        );
        assert_eq!(c.entry(&7).unwrap().state, EntryState::Registered);
        assert!(c.delete_name(&cfg, 0, &7, &mut out));
        let release = xid(&c);
        assert_ne!(release, first);
        // The answer to the registration's retransmission, duplicated, is no release answer.
        c.on_packet(&cfg, 0, 100, 1, first, ok(Opcode::Release, 7), &mut out);
        assert!(c.op.is_some());
        c.on_packet(&cfg, 0, 100, 1, release, ok(Opcode::Release, 7), &mut out);
        assert!(c.idle());
        c.add_name(&cfg, 0, 7, false, &mut out).unwrap();
        let second = xid(&c);
        assert!(second != first && second != release);
        // The first registration's late answer (and WACK) are not the second's.
        let wack = Packet::Wack {
            name: 7,
            ttl: 60,
            op: Opcode::Registration,
        };
        c.on_packet(&cfg, 0, 100, 1, first, wack, &mut out);
        assert!(!c.op.as_ref().unwrap().wacked);
        c.on_packet(
            &cfg,
            0,
            100,
            1,
            first,
            ok(Opcode::Registration, 7),
            &mut out,
        );
        assert_eq!(c.entry(&7).unwrap().state, EntryState::Registering);
        c.on_packet(
            &cfg,
            0,
            100,
            1,
            second,
            ok(Opcode::Registration, 7),
            &mut out,
        );
        assert_eq!(c.entry(&7).unwrap().state, EntryState::Registered);
        // A challenge query is answered with the query's id.
        out.clear();
        let q = Packet::Query {
            name: 7,
            broadcast: false,
        };
        c.on_packet(&cfg, 0, 100, 1, 0x4242, q, &mut out);
        assert!(matches!(out[..], [ClientOut::Send { xid: 0x4242, .. }]));
    }

    #[test]
    fn wack_stops_retransmission_and_deadline_drives_timer() {
        let cfg = ClientConfig::new(NodeType::P, vec![1], [Some(100), None]);
        let mut c = Client::new(&cfg);
        let mut out = Vec::new();
        c.add_name(&cfg, 10, 7, false, &mut out).unwrap();
        assert_eq!(c.next_deadline(), Some(12));
        c.on_packet(
            &cfg,
            11,
            100,
            1,
            xid(&c),
            Packet::Wack {
                name: 7,
                ttl: 60,
                op: Opcode::Registration,
            },
            &mut out,
        );
        assert_eq!(c.next_deadline(), Some(71));
        out.clear();
        c.on_timer(&cfg, 70, &mut out);
        assert!(out.is_empty());
        c.on_timer(&cfg, 71, &mut out);
        // WACK expired with no answer, no backup: registration failed.
        assert_eq!(c.entry(&7).unwrap().state, EntryState::Failed);
        assert!(c.idle());
    }
}
