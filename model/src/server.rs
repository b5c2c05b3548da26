//! The WINS server state machine.
//!
//! Deterministic and independent of stateright: every change comes from an explicit input.
//!
//! * [`Server::handle`]: a packet arrived from an address (registration, refresh, release,
//!   query, or a holder's answer to a challenge query).
//! * [`Server::on_timer`]: the clock reached [`Server::next_deadline`]: challenges that got no
//!   answer are decided, records move along active -> released -> tombstone -> deleted.
//! * [`Server::challenge_timeout`] and [`Server::scavenge`]: the same steps for one name,
//!   regardless of the clock (the model fires them nondeterministically).
//! * [`Server::add_static`]: the administrator's static mappings (the reference enters its own
//!   names so; the model's scenarios a static mapping of Q164016).
//! * [`Server::apply_replica`]: a partner's record, by the conflict rules of [`crate::conflict`]
//!   (pulling from partners is the `replication` module, which builds on this one).
//!
//! Outputs are [`Send`]s pushed to a caller-provided vector: responses (positive or negative,
//! with rcode, TTL and address list), WACKs, challenge queries to a holder, release demands.

use crate::conflict::{
    after_challenge, decide, ChallengeAnswer, ChallengeDecision, ConflictCase, Decision, Outcome,
};
use crate::proto::{
    set_insert, set_remove, Addr, AddrList, NameKey, NodeType, Opcode, Packet, Rcode, SmallVec,
    Time,
};
pub use crate::record::{Kind, OwnerVersions, RecState, Record, RecordMut, Records, Version};
use crate::{Bug, Bugs};

/// A registration waiting for the old holder(s) to answer a challenge query.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Pending<N, A> {
    /// The name being registered.
    pub name: N,
    /// The address being registered.
    pub requester: A,
    /// Where the registration came from (the response goes there).
    pub from: A,
    /// Its transaction id.
    pub xid: u16,
    /// The transaction id of this challenge's queries (the server's own, see
    /// [`Server::challenge_xid`]): only an answer with it counts, a late answer to an earlier
    /// challenge of the same name is ignored.
    pub qxid: u16,
    /// Opcode 0xF rather than 5.
    pub multihomed: bool,
    /// A group registration over a unique name: granted (as a group) only if no holder
    /// still claims the name.
    pub group: bool,
    /// The registrant's node type.
    pub node: NodeType,
    /// The TTL to grant.
    pub ttl: u32,
    /// Challenged addresses that have not answered yet (sorted).
    pub waiting: AddrList<A>,
    /// Challenged addresses whose holder still claims the name (sorted).
    pub claims: AddrList<A>,
    /// Every claimant listed the requester's address too: it is the same (multihomed) host.
    pub same_host: bool,
    /// When unanswered challenges count as "no answer".
    pub deadline: Time,
    /// The addresses challenged (sorted): the decision applies to a record of these only.
    pub challenged: AddrList<A>,
    /// Every address the claiming holders listed in their answers (sorted).
    pub listed: AddrList<A>,
    /// A replication challenge ([`crate::conflict::Decision::Challenge`]): the replica
    /// waiting for the holder's answer. None for a registration challenge.
    pub replica: Option<Record<N, A>>,
    /// Registrations of other addresses that arrived while the challenge ran: each got a
    /// WACK and is refused with ACT_ERR once the challenge is decided (sender, transaction
    /// id, the opcode to answer with).
    pub queued: Vec<(A, u16, Opcode)>,
}

/// Server settings. Not part of the (hashed) state.
#[derive(Clone, Debug)]
pub struct ServerConfig {
    /// Switched-on bugs (only [`Bug::SERVER`] concern the server).
    pub bugs: Bugs,
    /// Smallest TTL granted.
    pub min_ttl: u32,
    /// Largest TTL granted (renew interval).
    pub max_ttl: u32,
    /// TTL in a WACK (nmbd: 60).
    pub wack_ttl: u32,
    /// Seconds to wait for challenge answers.
    pub challenge_wait: u32,
    /// Released -> tombstone after this long.
    pub tombstone_interval: u32,
    /// Tombstone -> deleted after this long.
    pub tombstone_timeout: u32,
    /// Rcode for a registration refused because of a static mapping (nmbd: RFS_ERR, AD DC:
    /// ACT_ERR).
    pub static_conflict: Rcode,
    /// Answer OK (AD DC) instead of NAM_ERR (nmbd) to a release of an unknown name.
    pub unknown_release_ok: bool,
    /// MigrateOn: a dynamic registration may challenge and replace a static unique or
    /// multihomed record.
    pub migrate_on: bool,
    /// Most addresses a special group keeps.
    pub special_group_max: usize,
    /// A holder's answer counts only with its challenge's transaction id
    /// ([`Pending::qxid`]). Off for replaying another server's capture, whose queries carried
    /// that server's ids.
    pub match_challenge_ids: bool,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            bugs: Bugs::NONE,
            min_ttl: 60,
            max_ttl: 6 * 24 * 3600,
            wack_ttl: 60,
            challenge_wait: 3,
            tombstone_interval: 6 * 24 * 3600,
            tombstone_timeout: 24 * 3600,
            static_conflict: Rcode::RfsErr,
            unknown_release_ok: false,
            migrate_on: true,
            special_group_max: 25,
            match_challenge_ids: true,
        }
    }
}

/// A packet to send.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Send<N, A> {
    /// Destination address.
    pub to: A,
    /// Transaction id (echoes the request; a challenge's own id for its queries; 0 for
    /// release demands, which the caller numbers).
    pub xid: u16,
    /// What to send.
    pub packet: Packet<N, A>,
}

/// The WINS server's state: its database, challenges in progress and version counter.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Server<N, A> {
    /// This server's address; it is the owner id of the records it registers.
    pub me: A,
    /// The database, one record per name (read through [`Server::records`] and
    /// [`Server::record`]).
    records: Records<N, A>,
    /// Registrations waiting for challenge answers, sorted by name, at most one per name.
    pub pending: SmallVec<[Pending<N, A>; 1]>,
    /// The next version id this server gives its own records (must survive restarts).
    pub next_version: Version,
    /// Highest version held per other owner (the owner-version map used for pulls), sorted.
    pub known: OwnerVersions<A>,
    /// Names whose records may have changed, for a caller that persists the database.
    pub journal: Journal<N>,
    /// The transaction id given to the last challenge's queries (never 0; wrapping).
    pub challenge_xid: u16,
}

/// Names touched since the last [`Server::take_changed`]. Off in the model; when on, every
/// input that can change a record notes the record's name. It never tells states apart:
/// two servers with different journals compare, hash and order as equal.
#[derive(Clone, Debug)]
pub struct Journal<N> {
    on: bool,
    names: Vec<N>,
}

impl<N> Default for Journal<N> {
    fn default() -> Self {
        Journal {
            on: false,
            names: Vec::new(),
        }
    }
}

impl<N> PartialEq for Journal<N> {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}
impl<N> Eq for Journal<N> {}
impl<N> PartialOrd for Journal<N> {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl<N> Ord for Journal<N> {
    fn cmp(&self, _: &Self) -> std::cmp::Ordering {
        std::cmp::Ordering::Equal
    }
}
impl<N> std::hash::Hash for Journal<N> {
    fn hash<H: std::hash::Hasher>(&self, _: &mut H) {}
}

impl<N: NameKey, A: Addr> Server<N, A> {
    /// An empty database for the server at `me`.
    pub fn new(me: A) -> Self {
        Server {
            me,
            records: Records::new(me),
            pending: SmallVec::new(),
            next_version: 1,
            known: SmallVec::new(),
            journal: Journal::default(),
            challenge_xid: 0,
        }
    }

    /// The id of a new challenge's queries.
    fn fresh_challenge_xid(&mut self) -> u16 {
        self.challenge_xid = self.challenge_xid.checked_add(1).unwrap_or(1);
        self.challenge_xid
    }

    /// Starts noting changed names (see [`Server::take_changed`]).
    pub fn keep_journal(&mut self) {
        self.journal.on = true;
    }

    /// The names whose records may have changed since the last call (sorted, no repeats):
    /// look each up with [`Server::record`]; a name without a record was deleted.
    pub fn take_changed(&mut self) -> Vec<N> {
        let mut v = std::mem::take(&mut self.journal.names);
        v.sort();
        v.dedup();
        v
    }

    /// Whether [`Server::take_changed`] has names to give.
    pub fn has_changes(&self) -> bool {
        !self.journal.names.is_empty()
    }

    fn touch(&mut self, name: &N) {
        if self.journal.on {
            self.journal.names.push(name.clone());
        }
    }

    /// The record for `name`. O(log n).
    pub fn record(&self, name: &N) -> Option<&Record<N, A>> {
        self.records.get(name)
    }

    /// Every record, in name order.
    pub fn records(&self) -> crate::record::Iter<'_, N, A> {
        self.records.iter()
    }

    /// How many records the database holds.
    pub fn record_count(&self) -> usize {
        self.records.len()
    }

    /// Replaces the whole database with `records` (for a name listed twice the first counts),
    /// as read back from storage: nothing is journaled.
    pub fn restore_records(&mut self, records: impl IntoIterator<Item = Record<N, A>>) {
        self.records = Records::from_records(self.me, records);
    }

    /// Changes every record in place with `f` (its name excepted), journaling nothing. O(n).
    pub fn update_records(&mut self, f: impl FnMut(&mut Record<N, A>)) {
        self.records.update_all(f);
    }

    /// The record for `name`, to change in place (its name excepted): journaled. The
    /// state machine's rules are the caller's to keep.
    pub fn record_mut(&mut self, name: &N) -> Option<RecordMut<'_, N, A>> {
        self.touch(name);
        self.records.get_mut(name)
    }

    /// The active record for `name`.
    pub fn active(&self, name: &N) -> Option<&Record<N, A>> {
        self.record(name).filter(|r| r.state == RecState::Active)
    }

    /// The challenge in progress for `name`.
    pub fn pending_for(&self, name: &N) -> Option<&Pending<N, A>> {
        self.pending.iter().find(|p| &p.name == name)
    }

    /// Drops what the server knows of `name`, its record and any challenge running for it
    /// (journaled): for an observer whose copy of a real server's state proved wrong, which
    /// learns the name again from the server's later answers (`nbns-conform validate`).
    pub fn forget(&mut self, name: &N) {
        self.touch(name);
        self.records.remove(name);
        self.pending.retain(|p| &p.name != name);
    }

    /// Inserts or replaces the record for `rec.name`.
    pub(crate) fn put(&mut self, rec: Record<N, A>) {
        self.touch(&rec.name);
        self.records.insert(rec);
    }

    pub(crate) fn bump(&mut self) -> Version {
        bump(&mut self.next_version)
    }

    /// The owner-version map: the highest version held per owner, this server included.
    pub fn owner_versions(&self) -> OwnerVersions<A> {
        let mut v = self.known.clone();
        if self.next_version > 1 {
            set_insert(&mut v, (self.me, self.next_version - 1));
        }
        v
    }

    /// Highest version of `owner` this server holds (0 when none).
    pub fn known_version(&self, owner: A) -> Version {
        if owner == self.me {
            return self.next_version - 1;
        }
        self.known
            .iter()
            .find(|(o, _)| *o == owner)
            .map_or(0, |(_, v)| *v)
    }

    pub(crate) fn raise_known(&mut self, owner: A, version: Version) {
        if owner == self.me {
            return;
        }
        match self.known.iter_mut().find(|(o, _)| *o == owner) {
            Some((_, v)) => *v = (*v).max(version),
            None => {
                set_insert(&mut self.known, (owner, version));
            }
        }
    }

    fn new_record(
        &mut self,
        name: N,
        kind: Kind,
        node: NodeType,
        addrs: AddrList<A>,
        ttl: u32,
        now: Time,
    ) -> Record<N, A> {
        Record {
            name,
            kind,
            state: RecState::Active,
            is_static: false,
            node,
            addrs,
            other_owners: AddrList::new(),
            member_expiry: AddrList::new(),
            owner: self.me,
            version: self.bump(),
            expires: now + Time::from(ttl),
        }
    }

    /// Handles one packet from `from` with transaction id `xid`, pushing what to send to `out`.
    /// Broadcast packets and packets a server does not serve are ignored.
    #[allow(clippy::too_many_arguments)]
    pub fn handle(
        &mut self,
        cfg: &ServerConfig,
        now: Time,
        from: A,
        xid: u16,
        packet: Packet<N, A>,
        out: &mut Vec<Send<N, A>>,
    ) {
        if !matches!(packet, Packet::Query { .. }) {
            self.touch(packet.name());
        }
        match packet {
            Packet::Register {
                name,
                group,
                node,
                ttl,
                addr,
                multihomed,
                broadcast: false,
            } => {
                let req = Reg {
                    name,
                    group,
                    node,
                    ttl: ttl.clamp(cfg.min_ttl, cfg.max_ttl),
                    addr,
                    multihomed,
                    from,
                    xid,
                };
                self.register(cfg, now, req, out)
            }
            Packet::Refresh {
                name,
                group,
                node,
                ttl,
                addr,
            } => {
                let ttl = ttl.clamp(cfg.min_ttl, cfg.max_ttl);
                self.refresh(cfg, now, from, xid, name, group, node, ttl, addr, out)
            }
            Packet::Release {
                name,
                addr,
                broadcast: false,
                ..
            } => self.release(cfg, now, from, xid, name, addr, out),
            Packet::Query {
                name,
                broadcast: false,
            } => {
                // A normal group is answered in any state, released and tombstone too (its
                // members are not tracked; Samba and Windows answer 255.255.255.255); a
                // `<1D>` name is never answered.
                let found = self
                    .record(&name)
                    .filter(|r| r.state == RecState::Active || r.kind == Kind::Group)
                    .filter(|_| !name.is_local_master_browser());
                let found = found.map(|r| {
                    let addrs = match r.kind {
                        Kind::Group => AddrList::new(),
                        Kind::SpecialGroup => self.domain_controllers(cfg, &name, &r.addrs),
                        _ => r.addrs.clone(),
                    };
                    (r.kind, r.expires, addrs)
                });
                let packet = match found {
                    // A special group without members (a partner's replica, or what a merge
                    // left) has no address to answer with: only a normal group stands for the
                    // limited broadcast address (MS-WINSRA 2.2.10.1), a special group's answer
                    // is its member list. The AD DC answers NAM_ERR too.
                    Some((Kind::SpecialGroup, _, addrs)) if addrs.is_empty() => {
                        negative(Opcode::Query, name, Rcode::NamErr)
                    }
                    Some((kind, expires, addrs)) => Packet::Response {
                        op: Opcode::Query,
                        ttl: expires.saturating_sub(now).min(u64::from(u32::MAX)) as u32,
                        group: !kind.is_unique(),
                        addrs,
                        name,
                        rcode: Rcode::Ok,
                    },
                    None => negative(Opcode::Query, name, Rcode::NamErr),
                };
                out.push(Send {
                    to: from,
                    xid,
                    packet,
                });
            }
            Packet::Response {
                op: Opcode::Query,
                name,
                rcode,
                addrs,
                ..
            } => {
                let claims = rcode == Rcode::Ok;
                self.challenge_answer(cfg, now, from, xid, name, claims, &addrs, out)
            }
            _ => {}
        }
    }

    /// The answer to a query for a special group: its members, and for a `<1C>` the address
    /// of the active `<1B>` of the same name first (Windows WINS's Prepend1BTo1CQueries, on
    /// by default, as in Samba: the PDC is the first domain controller a client tries),
    /// without repeating it and at most `special_group_max` addresses in all.
    fn domain_controllers(
        &self,
        cfg: &ServerConfig,
        name: &N,
        members: &AddrList<A>,
    ) -> AddrList<A> {
        let pdc = name
            .domain_master_of()
            .and_then(|n| self.record(&n))
            .filter(|r| r.state == RecState::Active && r.kind.is_unique())
            .and_then(|r| r.addrs.first().copied());
        let Some(pdc) = pdc else {
            return members.clone();
        };
        let mut addrs = AddrList::one(pdc);
        for &a in members.iter().filter(|&&a| a != pdc) {
            if addrs.len() >= cfg.special_group_max {
                break;
            }
            addrs.push(a);
        }
        addrs
    }

    fn register(&mut self, cfg: &ServerConfig, now: Time, r: Reg<N, A>, out: &mut Vec<Send<N, A>>) {
        let op = if r.multihomed {
            Opcode::MultihomedRegistration
        } else {
            Opcode::Registration
        };
        if r.name.is_local_master_browser() {
            // Acknowledged, never stored (unique or group alike).
            out.push(positive(
                op,
                r.name,
                r.ttl,
                r.group,
                AddrList::one(r.addr),
                r.from,
                r.xid,
            ));
            return;
        }
        if r.name.is_refused_type(r.group) {
            // A <1B> group, or a unique <1C>/<1E>: refused before the database is looked
            // at (Windows WINS; Samba's nbtd_winsserver_register, "w2k3 refuses ...").
            out.push(neg_to(op, r.name, Rcode::RfsErr, r.from, r.xid));
            return;
        }
        let holds = |me: &Self| {
            me.active(&r.name)
                .is_some_and(|rec| rec.addrs.contains(&r.addr))
        };
        if let Some(qxid) = self
            .pending
            .iter()
            .find(|p| p.name == r.name && p.replica.is_none() && p.waiting.contains(&r.addr))
            .filter(|_| !r.group && !r.multihomed && holds(self))
            .map(|p| p.qxid)
        {
            // A challenged holder registering the name again while the challenge runs claims
            // it now: the registration is its positive answer, and its answer to the query,
            // older and maybe still on its way, no longer counts. (The model's delay mode: A
            // answered NAM_ERR, started again and re-registered; the server granted A as a
            // holder, then took A's late NAM_ERR and granted B too.)
            self.challenge_answer(cfg, now, r.addr, qxid, r.name.clone(), true, &[r.addr], out);
        }
        let active = self.active(&r.name);
        let holder = active.is_some_and(|rec| rec.addrs.contains(&r.addr));
        let active = active.is_some();
        if let Some(p) = self
            .pending
            .iter_mut()
            .find(|p| p.name == r.name)
            // A holder's unique registration was its claim (above); its group registration
            // waits like anybody's.
            .filter(|_| !holder || r.group)
        {
            // A challenge for this name is running. The same request again (same sender and
            // transaction id: a retransmission) already has its WACK and is ignored; the
            // requester asking anew waits again. Anybody else waits too (a WACK), and is
            // refused with ACT_ERR once the challenge is decided: the holder kept the name,
            // or the requester has it now. RFC 1002 5.1.4 does not say; both Samba servers
            // challenge every registrant (the AD DC's wins_register_wack, then "record
            // changed during WACK": ACT_ERR), so no registrant is refused before the name's
            // fate is known. During a replica's challenge there is no registration to wait
            // for: refused for now.
            if p.from == r.from && p.xid == r.xid
                || p.queued.iter().any(|q| (q.0, q.1) == (r.from, r.xid))
            {
                return;
            }
            let packet = if p.requester == r.addr {
                Packet::Wack {
                    name: r.name,
                    ttl: cfg.wack_ttl,
                    op,
                }
            } else if p.replica.is_none() {
                p.queued.push((r.from, r.xid, op));
                p.queued.sort_unstable();
                Packet::Wack {
                    name: r.name,
                    ttl: cfg.wack_ttl,
                    op,
                }
            } else {
                negative(op, r.name, Rcode::RfsErr)
            };
            out.push(Send {
                to: r.from,
                xid: r.xid,
                packet,
            });
            return;
        }
        if !active {
            // A free name (none, released or tombstone): granted.
            let (kind, addrs) = if r.group {
                // A normal group keeps its first registrant's address: it is
                // what replication carries (Samba does the same); queries are
                // answered without members all the same.
                let kind = if r.name.is_special_group() {
                    Kind::SpecialGroup
                } else {
                    Kind::Group
                };
                (kind, AddrList::one(r.addr))
            } else if r.multihomed {
                (Kind::Multihomed, AddrList::one(r.addr))
            } else {
                (Kind::Unique, AddrList::one(r.addr))
            };
            let mut rec = self.new_record(r.name.clone(), kind, r.node, addrs, r.ttl, now);
            if kind == Kind::SpecialGroup {
                rec.set_member_expiry(r.addr, rec.expires);
            }
            self.put(rec);
            out.push(positive(
                op,
                r.name,
                r.ttl,
                r.group,
                AddrList::one(r.addr),
                r.from,
                r.xid,
            ));
            return;
        }
        let mut rec = self.records.get_mut(&r.name).expect("active record");
        if r.group {
            match rec.kind {
                Kind::Group => {
                    rec.expires = rec.expires.max(now + Time::from(r.ttl));
                    out.push(positive(
                        op,
                        r.name,
                        r.ttl,
                        true,
                        AddrList::one(r.addr),
                        r.from,
                        r.xid,
                    ));
                    return;
                }
                Kind::SpecialGroup => {
                    if !rec.addrs.contains(&r.addr) && rec.addrs.len() >= cfg.special_group_max {
                        // A full list gives up its oldest member for the new one (MS-NBTE
                        // 3.2.5.1).
                        if let Some(oldest) = rec.oldest_member() {
                            rec.remove_addr(&oldest);
                        }
                    }
                    rec.expires = rec.expires.max(now + Time::from(r.ttl));
                    rec.set_member_expiry(r.addr, now + Time::from(r.ttl));
                    // The registered address is ours, the record too; other members keep
                    // their owners.
                    if rec.add_addr(r.addr, self.me) || rec.owner != self.me {
                        rec.take_ownership(self.me);
                        rec.version = bump(&mut self.next_version);
                    }
                    out.push(positive(
                        op,
                        r.name,
                        r.ttl,
                        true,
                        AddrList::one(r.addr),
                        r.from,
                        r.xid,
                    ));
                    return;
                }
                // A group over a unique name: its holders are challenged (below), every
                // address, the requester's too, and the group is granted only if none still
                // claims the name (RFC 1002 5.1.4; Samba's AD DC and nmbd both challenge
                // first, where the model used to refuse at once).
                // A static one (the server's own names among them) is not challenged: MigrateOn
                // lets unique registrations challenge a static mapping, not groups (the AD DC
                // refuses anything but a group over a static group with ACT_ERR).
                Kind::Unique | Kind::Multihomed if rec.is_static => {
                    out.push(neg_to(op, r.name, Rcode::ActErr, r.from, r.xid));
                    return;
                }
                Kind::Unique | Kind::Multihomed => {}
            }
        } else if !rec.kind.is_unique() {
            // A unique registration over an active group is refused.
            out.push(neg_to(op, r.name, Rcode::ActErr, r.from, r.xid));
            return;
        }
        if !r.group && rec.addrs.contains(&r.addr) {
            // Same address: a re-registration, i.e. a refresh. Taking over a replica makes the
            // record ours, with a new version.
            if !rec.is_static {
                rec.expires = now + Time::from(r.ttl);
                if rec.add_addr(r.addr, self.me) || rec.owner != self.me {
                    rec.take_ownership(self.me);
                    rec.version = bump(&mut self.next_version);
                }
            }
            out.push(positive(
                op,
                r.name,
                r.ttl,
                false,
                AddrList::one(r.addr),
                r.from,
                r.xid,
            ));
            return;
        }
        if rec.is_static && (!cfg.migrate_on || (r.multihomed && cfg.bugs.has(Bug::Q164016))) {
            // The static mapping wins (KB Q164016 when the registration is multihomed).
            out.push(neg_to(op, r.name, cfg.static_conflict, r.from, r.xid));
            return;
        }
        // Held by other addresses: WACK the requester, challenge every holder address.
        let waiting = rec.addrs.clone();
        let challenged = waiting.clone();
        drop(rec);
        let qxid = self.fresh_challenge_xid();
        out.push(Send {
            to: r.from,
            xid: r.xid,
            packet: Packet::Wack {
                name: r.name.clone(),
                ttl: cfg.wack_ttl,
                op,
            },
        });
        for a in &waiting {
            out.push(Send {
                to: *a,
                xid: qxid,
                packet: Packet::Query {
                    name: r.name.clone(),
                    broadcast: false,
                },
            });
        }
        let p = Pending {
            name: r.name,
            requester: r.addr,
            from: r.from,
            xid: r.xid,
            qxid,
            multihomed: r.multihomed,
            group: r.group,
            node: r.node,
            ttl: r.ttl,
            waiting,
            claims: AddrList::new(),
            same_host: true,
            deadline: now + Time::from(cfg.challenge_wait),
            challenged,
            listed: AddrList::new(),
            replica: None,
            queued: Vec::new(),
        };
        let at = self
            .pending
            .binary_search_by(|q| q.name.cmp(&p.name))
            .unwrap_or_else(|e| e);
        self.pending.insert(at, p);
    }

    /// Starts a replication challenge: queries `holders`, the addresses of the record the
    /// replica conflicts with (the caller has it at hand), one at a time, as Samba's
    /// `wins_challenge` does (Windows too, by its torture suite): the first address now,
    /// the next one only when this one stays silent for `challenge_wait`
    /// ([`Server::challenge_timeout`]). The first answer decides through
    /// [`crate::conflict::after_challenge`]: a positive one with the addresses it lists, a
    /// negative one as gone (Samba's `r_do_challenge_handler` replaces on NAM_ERR at once);
    /// every address silent is gone too. Returns false (and does nothing) when a challenge
    /// for the name is already running.
    pub(crate) fn challenge_for_replica(
        &mut self,
        cfg: &ServerConfig,
        now: Time,
        replica: Record<N, A>,
        holders: AddrList<A>,
        out: &mut Vec<Send<N, A>>,
    ) -> bool {
        if self.pending_for(&replica.name).is_some() {
            return false;
        }
        let qxid = self.fresh_challenge_xid();
        if let Some(&a) = holders.first() {
            out.push(Send {
                to: a,
                xid: qxid,
                packet: Packet::Query {
                    name: replica.name.clone(),
                    broadcast: false,
                },
            });
        }
        let me = self.me;
        let p = Pending {
            name: replica.name.clone(),
            requester: me,
            from: me,
            xid: 0,
            qxid,
            multihomed: replica.kind == Kind::Multihomed,
            group: false,
            node: replica.node,
            ttl: 0,
            challenged: holders.clone(),
            waiting: holders,
            claims: AddrList::new(),
            same_host: false,
            deadline: now + Time::from(cfg.challenge_wait),
            listed: AddrList::new(),
            replica: Some(replica),
            queued: Vec::new(),
        };
        let at = self
            .pending
            .binary_search_by(|q| q.name.cmp(&p.name))
            .unwrap_or_else(|e| e);
        self.pending.insert(at, p);
        true
    }

    #[allow(clippy::too_many_arguments)]
    fn challenge_answer(
        &mut self,
        cfg: &ServerConfig,
        now: Time,
        from: A,
        xid: u16,
        name: N,
        claims: bool,
        addrs: &[A],
        out: &mut Vec<Send<N, A>>,
    ) {
        // The answer to this challenge's query carries its id; another id answers an earlier
        // challenge of the name (a late or duplicated answer) and tells nothing about now.
        let Some(pi) = self
            .pending
            .iter()
            .position(|p| p.name == name && (p.qxid == xid || !cfg.match_challenge_ids))
        else {
            return;
        };
        let p = &mut self.pending[pi];
        if p.replica.is_some() {
            // A replication challenge asks one address at a time: only the address asked
            // now may answer, and its answer decides.
            if p.waiting.first() != Some(&from) {
                return;
            }
            p.waiting = AddrList::new();
            if claims {
                set_insert(&mut p.claims, from);
                for a in addrs {
                    set_insert(&mut p.listed, *a);
                }
            }
            let p = self.pending.remove(pi);
            self.decide(cfg, now, p, out);
            return;
        }
        if !set_remove(&mut p.waiting, &from) {
            return; // not a challenged address, or a duplicate answer
        }
        if claims {
            set_insert(&mut p.claims, from);
            p.same_host &= addrs.contains(&p.requester);
            for a in addrs {
                set_insert(&mut p.listed, *a);
            }
        }
        if p.waiting.is_empty() {
            let p = self.pending.remove(pi);
            self.decide(cfg, now, p, out);
        }
    }

    /// Decides a challenge once every holder answered or the wait ran out; the registrations
    /// that waited for it are refused.
    fn decide(
        &mut self,
        cfg: &ServerConfig,
        now: Time,
        mut p: Pending<N, A>,
        out: &mut Vec<Send<N, A>>,
    ) {
        let queued = std::mem::take(&mut p.queued);
        let name = p.name.clone();
        self.decide_challenge(cfg, now, p, out);
        for (from, xid, op) in queued {
            out.push(neg_to(op, name.clone(), Rcode::ActErr, from, xid));
        }
    }

    fn decide_challenge(
        &mut self,
        cfg: &ServerConfig,
        now: Time,
        p: Pending<N, A>,
        out: &mut Vec<Send<N, A>>,
    ) {
        let mut p = p;
        if let Some(replica) = p.replica.take() {
            self.finish_replica_challenge(cfg, now, p, replica, out);
            return;
        }
        let op = if p.multihomed {
            Opcode::MultihomedRegistration
        } else {
            Opcode::Registration
        };
        if let Some(rec) = self.active(&p.name) {
            if rec.addrs.iter().any(|a| !p.challenged.contains(a)) {
                // An address nobody challenged holds the name now (a replica replaced the
                // record meanwhile): the answers are about another record. Refuse.
                out.push(neg_to(op, p.name, Rcode::ActErr, p.from, p.xid));
                return;
            }
            // Holders that released after answering no longer count.
            p.claims.retain(|a| rec.addrs.contains(a));
        }
        let still_active = self.active(&p.name).is_some();
        if p.group && (!still_active || p.claims.is_empty()) {
            // Nobody holds the unique name any more: the group is registered.
            let kind = if p.name.is_special_group() {
                Kind::SpecialGroup
            } else {
                Kind::Group
            };
            let addrs = AddrList::one(p.requester);
            let mut rec = self.new_record(p.name.clone(), kind, p.node, addrs, p.ttl, now);
            if kind == Kind::SpecialGroup {
                rec.set_member_expiry(p.requester, rec.expires);
            }
            self.put(rec);
            out.push(positive(
                op,
                p.name,
                p.ttl,
                true,
                AddrList::one(p.requester),
                p.from,
                p.xid,
            ));
        } else if !p.group && (!still_active || p.claims.is_empty() || p.same_host) {
            // Nobody claims the name any more (or the claimant is the requester's own
            // multihomed host): the requester gets it, merged with the claimant's addresses.
            let mut addrs = if still_active {
                p.claims.clone()
            } else {
                AddrList::new()
            };
            set_insert(&mut addrs, p.requester);
            let kind = if addrs.len() > 1 || p.multihomed {
                Kind::Multihomed
            } else {
                Kind::Unique
            };
            let rec = self.new_record(p.name.clone(), kind, p.node, addrs, p.ttl, now);
            self.put(rec);
            out.push(positive(
                op,
                p.name,
                p.ttl,
                false,
                AddrList::one(p.requester),
                p.from,
                p.xid,
            ));
        } else {
            // The old holder still claims it: keep only the addresses still held.
            let me = self.me;
            let mut rec = self.records.get_mut(&p.name).expect("active record");
            if rec.addrs != p.claims {
                let v = bump(&mut self.next_version);
                rec.retain_addrs(|a| p.claims.contains(a));
                rec.take_ownership(me);
                rec.version = v;
                rec.is_static = false;
            }
            out.push(neg_to(op, p.name, Rcode::ActErr, p.from, p.xid));
        }
    }

    /// The challenge for `name` ran out of time: the holders that did not answer count as no
    /// longer claiming the name. Returns false when no challenge was pending.
    pub fn challenge_timeout(
        &mut self,
        cfg: &ServerConfig,
        now: Time,
        name: &N,
        out: &mut Vec<Send<N, A>>,
    ) -> bool {
        self.touch(name);
        let Some(pi) = self.pending.iter().position(|p| &p.name == name) else {
            return false;
        };
        let p = &mut self.pending[pi];
        if p.replica.is_some() && p.waiting.len() > 1 {
            // A replication challenge: the silent address is passed over, the next one asked.
            p.waiting.remove(0);
            p.deadline = now + Time::from(cfg.challenge_wait);
            out.push(Send {
                to: p.waiting[0],
                xid: p.qxid,
                packet: Packet::Query {
                    name: name.clone(),
                    broadcast: false,
                },
            });
            return true;
        }
        let p = self.pending.remove(pi);
        self.decide(cfg, now, p, out);
        true
    }

    #[allow(clippy::too_many_arguments)]
    fn refresh(
        &mut self,
        cfg: &ServerConfig,
        now: Time,
        from: A,
        xid: u16,
        name: N,
        group: bool,
        node: NodeType,
        ttl: u32,
        addr: A,
        out: &mut Vec<Send<N, A>>,
    ) {
        if name.is_refused_type(group) {
            // A <1B> group, or a unique <1C>/<1E>: refused like its registration, whatever
            // the database holds (Samba's nbtd_winsserver_request handles a refresh as a
            // registration, and its registration refuses these first, as w2k3 does).
            out.push(neg_to(Opcode::Refresh, name, Rcode::RfsErr, from, xid));
            return;
        }
        // A refresh of a name the server lost (nmbd does the same), from an address that
        // does not hold the unique name (Windows and Samba: WACK, challenge the holder), or a
        // group refresh of a special group from an address not in it (Samba's nbtd and nmbd
        // add the member: both handle a refresh as a registration), is a registration.
        let registers = self.active(&name).is_none_or(|r| match (group, r.kind) {
            (true, Kind::SpecialGroup) => !r.addrs.contains(&addr),
            // A group refresh of a unique name: challenged like its registration (Samba).
            (true, k) => k.is_unique(),
            (false, k) => k.is_unique() && !r.addrs.contains(&addr),
        });
        if registers {
            let reg = Reg {
                name,
                group,
                node,
                ttl,
                addr,
                multihomed: false,
                from,
                xid,
            };
            return self.register(cfg, now, reg, out);
        }
        let mut rec = self.records.get_mut(&name).expect("active record");
        let ok = if group {
            !rec.kind.is_unique()
        } else {
            rec.kind.is_unique() && rec.addrs.contains(&addr)
        };
        if ok {
            if !rec.is_static {
                rec.expires = rec.expires.max(now + Time::from(ttl));
                // MS-WINSRA 3.1.1.2: a replica refreshed locally becomes ours, with a new
                // version; of a multihomed record, the refreshed address becomes ours too.
                if !group && rec.owner != self.me {
                    let me = self.me;
                    let pairs: Vec<(A, A)> = rec
                        .addr_owners()
                        .map(|(a, o)| (a, if a == addr { me } else { o }))
                        .collect();
                    rec.take_ownership(me);
                    rec.set_addr_owners(pairs);
                    rec.version = bump(&mut self.next_version);
                }
            }
            out.push(positive(
                Opcode::Refresh,
                name,
                ttl,
                group,
                AddrList::one(addr),
                from,
                xid,
            ));
        } else {
            out.push(neg_to(Opcode::Refresh, name, Rcode::ActErr, from, xid));
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn release(
        &mut self,
        cfg: &ServerConfig,
        now: Time,
        from: A,
        xid: u16,
        name: N,
        addr: A,
        out: &mut Vec<Send<N, A>>,
    ) {
        let unknown = if cfg.unknown_release_ok {
            Rcode::Ok
        } else {
            Rcode::NamErr
        };
        let me = self.me;
        let Some(mut rec) = self
            .records
            .get_mut(&name)
            .filter(|r| r.state == RecState::Active)
        else {
            out.push(neg_to(Opcode::Release, name, unknown, from, xid));
            return;
        };
        if rec.is_static {
            out.push(neg_to(Opcode::Release, name, Rcode::RfsErr, from, xid));
            return;
        }
        let released = match rec.kind {
            // A normal group is released by the member whose address it keeps (Samba);
            // other members' releases change nothing.
            Kind::Group | Kind::Unique if rec.addrs.contains(&addr) => true,
            Kind::Group => false,
            Kind::Multihomed | Kind::SpecialGroup if rec.addrs.contains(&addr) => {
                rec.remove_addr(&addr);
                if !rec.addrs.is_empty() {
                    rec.take_ownership(me);
                    rec.version = bump(&mut self.next_version);
                }
                rec.addrs.is_empty()
            }
            _ => {
                // Honoured only from a registered address; anybody else is told the name is
                // another node's (RFC 1002 4.2.11: ACT_ERR, "only that node may release it").
                out.push(neg_to(Opcode::Release, name, Rcode::ActErr, from, xid));
                return;
            }
        };
        let group = !rec.kind.is_unique();
        if released {
            rec.state = RecState::Released;
            rec.expires = now + Time::from(cfg.tombstone_interval);
        }
        out.push(positive(
            Opcode::Release,
            name,
            0,
            group,
            AddrList::one(addr),
            from,
            xid,
        ));
    }

    /// Advances the record of `name` one scavenging step, whatever the clock says: an owned
    /// active record is released (its TTL ran out), a released one becomes a tombstone (with a
    /// new version so partners learn of it), a tombstone is deleted. Static records never
    /// expire; replicas only leave as tombstones. Returns false when there was nothing to do.
    pub fn scavenge(&mut self, cfg: &ServerConfig, now: Time, name: &N) -> bool {
        self.touch(name);
        let me = self.me;
        let Some(mut rec) = self.records.get_mut(name) else {
            return false;
        };
        if rec.is_static {
            return false;
        }
        match rec.state {
            RecState::Active if rec.owner == me => {
                rec.state = RecState::Released;
                rec.expires = now + Time::from(cfg.tombstone_interval);
            }
            RecState::Released => {
                if rec.owner == me {
                    rec.version = bump(&mut self.next_version);
                }
                rec.state = RecState::Tombstone;
                rec.expires = now + Time::from(cfg.tombstone_timeout);
            }
            RecState::Tombstone => {
                drop(rec);
                self.records.remove(name);
            }
            RecState::Active => return false,
        }
        true
    }

    /// Names [`Server::scavenge`] would change: not static, and not an active replica
    /// (replicas change only through replication).
    pub fn scavengeable(&self) -> impl Iterator<Item = &N> + '_ {
        self.records.aging()
    }

    /// Everything that is due at `now`: undecided challenges, expiries. Touches only what is
    /// due (O(log n) per expiry, plus a look at every pending challenge).
    pub fn on_timer(&mut self, cfg: &ServerConfig, now: Time, out: &mut Vec<Send<N, A>>) {
        while let Some(p) = self.pending.iter().find(|p| p.deadline <= now) {
            let name = p.name.clone();
            self.challenge_timeout(cfg, now, &name, out);
        }
        for name in self.records.due(now) {
            self.scavenge(cfg, now, &name);
        }
    }

    /// When [`Server::on_timer`] next has something to do. O(log n) in the records (a timer
    /// index), O(pending) in the challenges.
    pub fn next_deadline(&self) -> Option<Time> {
        let p = self.pending.iter().map(|p| p.deadline).min();
        let r = self.records.next_expiry();
        match (p, r) {
            (Some(p), Some(r)) => Some(p.min(r)),
            (p, r) => p.or(r),
        }
    }

    /// Enters a static mapping (replacing whatever record the name had).
    pub fn add_static(&mut self, now: Time, name: N, kind: Kind, addrs: Vec<A>) {
        let mut addrs = addrs;
        addrs.sort();
        addrs.dedup();
        let mut rec = self.new_record(name, kind, NodeType::P, addrs.into(), 0, now);
        rec.is_static = true;
        rec.expires = Time::MAX;
        self.put(rec);
    }
}

/// The next version id of `next` (and the counter moves on).
fn bump(next: &mut Version) -> Version {
    let v = *next;
    *next += 1;
    v
}

struct Reg<N, A> {
    name: N,
    group: bool,
    node: NodeType,
    ttl: u32,
    addr: A,
    multihomed: bool,
    from: A,
    xid: u16,
}

/// Replicas (MS-WINSRA): a partner's record applied to this database by the conflict rules of
/// [`crate::conflict`].
impl<N: NameKey, A: Addr> Server<N, A> {
    /// Applies one replica by the conflict rules, pushing challenge queries and release demands
    /// to `out`. The owner-version map is the caller's to raise (a pull marks the versions it
    /// asked for as seen once it applied them all: `replication::apply_pulled`, in the module above this one).
    pub fn apply_replica(
        &mut self,
        cfg: &ServerConfig,
        now: Time,
        rec: Record<N, A>,
        out: &mut Vec<Send<N, A>>,
    ) -> Outcome {
        let Some(existing) = self.record(&rec.name) else {
            self.put(rec);
            return Outcome::Inserted;
        };
        let d = decide(cfg.bugs, ConflictCase::of(self.me, existing, &rec));
        self.apply_decision(cfg, now, d, rec, out);
        Outcome::Decided(d)
    }

    fn apply_decision(
        &mut self,
        cfg: &ServerConfig,
        now: Time,
        d: Decision,
        rec: Record<N, A>,
        out: &mut Vec<Send<N, A>>,
    ) {
        let existing = self.record(&rec.name).expect("existing record").clone();
        match d {
            Decision::Replace => self.put(rec),
            Decision::Keep => {}
            Decision::ReplaceAndReleaseDemand => {
                self.put(rec);
                release_demands(&existing.name, existing.node, &existing.addrs, out);
            }
            Decision::Challenge => {
                self.challenge_for_replica(cfg, now, rec, existing.addrs, out);
            }
            Decision::MergeSpecialGroup => {
                // Samba's r_do_sgroup_merge: the replica's members with their owners, plus
                // the existing members the replica does not list unless the replica's owner
                // owns them (it dropped them), up to the limit. When no existing member was
                // dropped or changed owner, or the record was ours, or nothing is left, the
                // merge is ours with a new version (unless an owned record did not change);
                // otherwise it is the replica's owner's record at the replica's version.
                let mut changed = false;
                let mut pairs: Vec<(A, A)> = rec.addr_owners().collect();
                for (a, o) in existing.addr_owners() {
                    if rec.addrs.contains(&a) {
                        changed |= rec.owner_of(a) != o;
                    } else if o == rec.owner {
                        changed = true;
                    } else if pairs.len() < cfg.special_group_max {
                        pairs.push((a, o));
                    }
                }
                let mut merged = rec;
                merged.set_addr_owners(pairs);
                if !changed || existing.owner == self.me || merged.addrs.is_empty() {
                    merged.take_ownership(self.me);
                    if existing.owner == self.me
                        && merged.addrs == existing.addrs
                        && merged.other_owners == existing.other_owners
                    {
                        return;
                    }
                    merged.version = self.bump();
                }
                self.put(merged);
            }
        }
    }

    /// Ends a replication challenge (its answers are in `p`): the holder's answer decides by
    /// [`after_challenge`]; when the record changed meanwhile the rules run again.
    fn finish_replica_challenge(
        &mut self,
        cfg: &ServerConfig,
        now: Time,
        mut p: Pending<N, A>,
        replica: Record<N, A>,
        out: &mut Vec<Send<N, A>>,
    ) {
        let Some(existing) = self.record(&replica.name).cloned() else {
            self.put(replica);
            return;
        };
        let d = decide(cfg.bugs, ConflictCase::of(self.me, &existing, &replica));
        if d != Decision::Challenge || existing.addrs != p.challenged {
            if d != Decision::Challenge {
                self.apply_decision(cfg, now, d, replica, out);
            }
            return; // a changed record: the replica's version is known; the owner's next one wins
        }
        p.claims.retain(|a| existing.addrs.contains(a));
        let within = |xs: &[A]| xs.iter().all(|a| p.listed.contains(a));
        let answer = if p.claims.is_empty() {
            ChallengeAnswer::Gone
        } else {
            ChallengeAnswer::Claims {
                lists_replica: within(&replica.addrs),
                lists_existing: within(&existing.addrs),
            }
        };
        match after_challenge(answer) {
            ChallengeDecision::Replace => self.put(replica),
            ChallengeDecision::Keep => {}
            ChallengeDecision::KeepAndReleaseDemand => {
                release_demands(&existing.name, existing.node, &p.listed, out);
            }
            ChallengeDecision::MergeMultihomed => {
                // Samba's r_do_mhomed_merge: the replica's addresses with their owners plus
                // the existing ones it lacks, each with its own owner.
                let mut merged = replica;
                merged.kind = Kind::Multihomed;
                let pairs: Vec<(A, A)> =
                    merged.addr_owners().chain(existing.addr_owners()).collect();
                merged.set_addr_owners(pairs);
                self.put(merged);
            }
        }
    }
}

/// Release demands (RFC 1002 4.2.9 with the response bit clear, sent by the server) to the
/// addresses of a record that lost a conflict.
fn release_demands<N: NameKey, A: Addr>(
    name: &N,
    node: NodeType,
    addrs: &[A],
    out: &mut Vec<Send<N, A>>,
) {
    for a in addrs {
        out.push(Send {
            to: *a,
            xid: 0,
            packet: Packet::Release {
                name: name.clone(),
                group: false,
                node,
                addr: *a,
                broadcast: false,
            },
        });
    }
}

fn negative<N, A>(op: Opcode, name: N, rcode: Rcode) -> Packet<N, A> {
    Packet::Response {
        op,
        name,
        rcode,
        ttl: 0,
        group: false,
        addrs: AddrList::new(),
    }
}

fn neg_to<N, A>(op: Opcode, name: N, rcode: Rcode, to: A, xid: u16) -> Send<N, A> {
    Send {
        to,
        xid,
        packet: negative(op, name, rcode),
    }
}

fn positive<N, A>(
    op: Opcode,
    name: N,
    ttl: u32,
    group: bool,
    addrs: AddrList<A>,
    to: A,
    xid: u16,
) -> Send<N, A> {
    Send {
        to,
        xid,
        packet: Packet::Response {
            op,
            name,
            rcode: Rcode::Ok,
            ttl,
            group,
            addrs,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type S = Server<u8, u8>;
    const ME: u8 = 100;

    fn reg(name: u8, addr: u8, multihomed: bool) -> Packet<u8, u8> {
        Packet::Register {
            name,
            group: false,
            node: NodeType::P,
            ttl: 300,
            addr,
            multihomed,
            broadcast: false,
        }
    }

    fn rcode_of(o: &Send<u8, u8>) -> Option<Rcode> {
        match &o.packet {
            Packet::Response { rcode, .. } => Some(*rcode),
            _ => None,
        }
    }

    /// Feeds `p` from `from`: a request with id 7, a holder's answer with its challenge's id.
    fn step(s: &mut S, cfg: &ServerConfig, from: u8, p: Packet<u8, u8>) -> Vec<Send<u8, u8>> {
        let mut out = Vec::new();
        let xid = match &p {
            Packet::Response { name, .. } => s.pending_for(name).map_or(7, |q| q.qxid),
            _ => 7,
        };
        s.handle(cfg, 0, from, xid, p, &mut out);
        out
    }

    /// A challenge's queries carry its own id; an answer with another id (a late answer to an
    /// earlier challenge of the name) is ignored, unless the caller replays another server's
    /// capture (`match_challenge_ids` off).
    #[test]
    fn a_late_answer_to_an_earlier_challenge_is_ignored() {
        let cfg = ServerConfig::default();
        let mut s = S::new(ME);
        step(&mut s, &cfg, 1, reg(5, 1, false));
        let out = step(&mut s, &cfg, 2, reg(5, 2, false));
        let first = out
            .iter()
            .find(|o| matches!(o.packet, Packet::Query { .. }))
            .expect("a challenge query")
            .xid;
        assert_ne!(first, 0);
        assert_eq!(s.pending_for(&5).unwrap().qxid, first);
        // The challenge runs out; .2 gets the name; .1 registers again: a new challenge.
        let mut out = Vec::new();
        s.challenge_timeout(&cfg, 0, &5, &mut out);
        assert_eq!(s.active(&5).unwrap().addrs[..], [2]);
        let out = step(&mut s, &cfg, 1, reg(5, 1, false));
        let second = out
            .iter()
            .find(|o| matches!(o.packet, Packet::Query { .. }))
            .expect("a challenge query")
            .xid;
        assert_ne!(second, first);
        // .2's NAM_ERR to the first challenge's query arrives late: it says nothing now.
        let nam_err = Packet::Response {
            op: Opcode::Query,
            name: 5,
            rcode: Rcode::NamErr,
            ttl: 0,
            group: false,
            addrs: AddrList::new(),
        };
        let mut out = Vec::new();
        s.handle(&cfg, 0, 2, first, nam_err.clone(), &mut out);
        assert!(out.is_empty() && s.pending_for(&5).is_some());
        // Replaying another server's capture, ids are not matched.
        let replay = ServerConfig {
            match_challenge_ids: false,
            ..ServerConfig::default()
        };
        let mut r = s.clone();
        r.handle(&replay, 0, 2, first, nam_err.clone(), &mut out);
        assert!(r.pending_for(&5).is_none());
        // The answer with the challenge's id decides.
        s.handle(&cfg, 0, 2, second, nam_err, &mut out);
        assert!(s.pending_for(&5).is_none());
        assert_eq!(s.active(&5).unwrap().addrs[..], [1]);
    }

    /// A challenged holder that registers the name again while the challenge runs claims it:
    /// the newcomer is refused at once, and the holder's older answer to the query no longer
    /// counts (the model's delay mode found the server granting both).
    #[test]
    fn a_challenged_holder_registering_again_claims_the_name() {
        let cfg = ServerConfig::default();
        let mut s = S::new(ME);
        step(&mut s, &cfg, 1, reg(5, 1, false));
        step(&mut s, &cfg, 2, reg(5, 2, false));
        let qxid = s.pending_for(&5).unwrap().qxid;
        let out = step(&mut s, &cfg, 1, reg(5, 1, false));
        let to_2: Vec<Option<Rcode>> = out.iter().filter(|o| o.to == 2).map(rcode_of).collect();
        assert_eq!(to_2, [Some(Rcode::ActErr)]);
        let to_1: Vec<Option<Rcode>> = out.iter().filter(|o| o.to == 1).map(rcode_of).collect();
        assert_eq!(to_1, [Some(Rcode::Ok)]);
        assert!(s.pending_for(&5).is_none());
        let late = Packet::Response {
            op: Opcode::Query,
            name: 5,
            rcode: Rcode::NamErr,
            ttl: 0,
            group: false,
            addrs: AddrList::new(),
        };
        let mut out = Vec::new();
        s.handle(&cfg, 0, 1, qxid, late, &mut out);
        assert!(out.is_empty());
        assert_eq!(s.active(&5).unwrap().addrs[..], [1]);
    }

    #[test]
    fn wrong_type_special_names_are_refused_and_not_stored() {
        let cfg = ServerConfig::default();
        let mut s = S::new(ME);
        // A <1B> group, a unique <1C>, a unique <1E> (unique and multihomed alike): RFS_ERR.
        for p in [
            greg(0x1B, 1),
            reg(0x1C, 1, false),
            reg(0x1C, 1, true),
            reg(0x1E, 1, false),
        ] {
            let out = step(&mut s, &cfg, 1, p);
            assert_eq!(out.len(), 1);
            assert_eq!(rcode_of(&out[0]), Some(Rcode::RfsErr));
        }
        assert!(s.active(&0x1B).is_none());
        assert!(s.active(&0x1C).is_none());
        assert!(s.active(&0x1E).is_none());
        // Also over an active <1C> group: refused without a WACK or a challenge.
        step(&mut s, &cfg, 1, greg(0x1C, 1));
        let out = step(&mut s, &cfg, 2, reg(0x1C, 2, false));
        assert_eq!(out.len(), 1);
        assert_eq!(rcode_of(&out[0]), Some(Rcode::RfsErr));
        // The right types are granted: a unique <1B>, a <1E> group.
        for p in [reg(0x1B, 1, false), greg(0x1E, 1)] {
            let out = step(&mut s, &cfg, 1, p);
            assert_eq!(rcode_of(&out[0]), Some(Rcode::Ok));
        }
    }

    #[test]
    fn free_name_is_granted_with_a_new_version() {
        let cfg = ServerConfig::default();
        let mut s = S::new(ME);
        let out = step(&mut s, &cfg, 1, reg(5, 1, false));
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].to, 1);
        assert_eq!(out[0].xid, 7);
        assert_eq!(rcode_of(&out[0]), Some(Rcode::Ok));
        let r = s.active(&5).unwrap();
        assert_eq!(
            (r.kind, r.addrs.clone(), r.owner, r.version),
            (Kind::Unique, [1].into(), ME, 1)
        );
        // Same address again: a refresh, no new version.
        let out = step(&mut s, &cfg, 1, reg(5, 1, false));
        assert_eq!(rcode_of(&out[0]), Some(Rcode::Ok));
        assert_eq!(s.active(&5).unwrap().version, 1);
    }

    #[test]
    fn conflict_sends_wack_and_challenge_then_act_err_if_holder_claims() {
        let cfg = ServerConfig::default();
        let mut s = S::new(ME);
        step(&mut s, &cfg, 1, reg(5, 1, false));
        let out = step(&mut s, &cfg, 2, reg(5, 2, false));
        assert!(matches!(out[0].packet, Packet::Wack { ttl: 60, .. }) && out[0].to == 2);
        assert!(
            matches!(
                out[1].packet,
                Packet::Query {
                    name: 5,
                    broadcast: false
                }
            ) && out[1].to == 1
        );
        // A third host waits while the challenge runs (a WACK, no challenge of its own)...
        let out3 = step(&mut s, &cfg, 3, reg(5, 3, false));
        assert!(matches!(
            out3[..],
            [Send {
                to: 3,
                packet: Packet::Wack { .. },
                ..
            }]
        ));
        // ... and its retransmission gets nothing more.
        assert!(step(&mut s, &cfg, 3, reg(5, 3, false)).is_empty());
        let answer = Packet::Response {
            op: Opcode::Query,
            name: 5,
            rcode: Rcode::Ok,
            ttl: 300,
            group: false,
            addrs: [1].into(),
        };
        let out = step(&mut s, &cfg, 1, answer);
        assert_eq!(out.len(), 2);
        assert_eq!(out[0].to, 2);
        assert_eq!(rcode_of(&out[0]), Some(Rcode::ActErr));
        // The third host is refused once the name's fate is known.
        assert_eq!(out[1].to, 3);
        assert_eq!(rcode_of(&out[1]), Some(Rcode::ActErr));
        assert_eq!(s.active(&5).unwrap().addrs[..], [1]);
        assert!(s.pending.is_empty());
    }

    #[test]
    fn challenge_without_answer_grants_the_newcomer() {
        let cfg = ServerConfig::default();
        let mut s = S::new(ME);
        step(&mut s, &cfg, 1, reg(5, 1, false));
        step(&mut s, &cfg, 2, reg(5, 2, false));
        assert_eq!(s.next_deadline(), Some(3));
        let mut out = Vec::new();
        s.on_timer(&cfg, 3, &mut out);
        assert_eq!(rcode_of(&out[0]), Some(Rcode::Ok));
        let r = s.active(&5).unwrap();
        assert_eq!((r.addrs.clone(), r.version), ([2].into(), 2));
    }

    #[test]
    fn multihomed_registration_merges_when_the_holder_lists_the_new_address() {
        let cfg = ServerConfig::default();
        let mut s = S::new(ME);
        step(&mut s, &cfg, 1, reg(5, 1, true));
        step(&mut s, &cfg, 2, reg(5, 2, true));
        let answer = Packet::Response {
            op: Opcode::Query,
            name: 5,
            rcode: Rcode::Ok,
            ttl: 300,
            group: false,
            addrs: [1, 2].into(),
        };
        let out = step(&mut s, &cfg, 1, answer);
        assert_eq!(rcode_of(&out[0]), Some(Rcode::Ok));
        let r = s.active(&5).unwrap();
        assert_eq!((r.kind, r.addrs.clone()), (Kind::Multihomed, [1, 2].into()));
    }

    #[test]
    fn release_only_from_a_registered_address_and_multihomed_drops_one() {
        let cfg = ServerConfig::default();
        let mut s = S::new(ME);
        step(&mut s, &cfg, 1, reg(5, 1, true));
        s.record_mut(&5).unwrap().addrs = [1, 2].into();
        let rel = |addr| Packet::Release {
            name: 5,
            group: false,
            node: NodeType::P,
            addr,
            broadcast: false,
        };
        let out = step(&mut s, &cfg, 3, rel(3));
        assert_eq!(rcode_of(&out[0]), Some(Rcode::ActErr));
        let out = step(&mut s, &cfg, 1, rel(1));
        assert_eq!(rcode_of(&out[0]), Some(Rcode::Ok));
        assert_eq!(s.active(&5).unwrap().addrs[..], [2]);
        step(&mut s, &cfg, 2, rel(2));
        assert_eq!(s.record(&5).unwrap().state, RecState::Released);
        // Unknown name: nmbd says NAM_ERR, the AD DC says OK.
        let out = step(&mut s, &cfg, 1, rel(1));
        assert_eq!(rcode_of(&out[0]), Some(Rcode::NamErr));
        let ad = ServerConfig {
            unknown_release_ok: true,
            ..ServerConfig::default()
        };
        let out = step(&mut s, &ad, 1, rel(1));
        assert_eq!(rcode_of(&out[0]), Some(Rcode::Ok));
    }

    #[test]
    fn group_rules() {
        let cfg = ServerConfig::default();
        let mut s = S::new(ME);
        step(&mut s, &cfg, 1, greg(9, 1));
        let out = step(&mut s, &cfg, 2, greg(9, 2));
        assert_eq!(rcode_of(&out[0]), Some(Rcode::Ok));
        assert_eq!(s.active(&9).unwrap().kind, Kind::Group);
        let out = step(&mut s, &cfg, 3, reg(9, 3, false));
        assert_eq!(rcode_of(&out[0]), Some(Rcode::ActErr));
        // <1C> keeps its members.
        step(&mut s, &cfg, 1, greg(0x1C, 1));
        step(&mut s, &cfg, 2, greg(0x1C, 2));
        let r = s.active(&0x1C).unwrap();
        assert_eq!(
            (r.kind, r.addrs.clone()),
            (Kind::SpecialGroup, [1, 2].into())
        );
    }

    #[test]
    fn a_group_over_a_unique_name_challenges_the_holder_first() {
        let cfg = ServerConfig::default();
        let answer = |rcode: Rcode| Packet::Response {
            op: Opcode::Query,
            name: 5,
            rcode,
            ttl: 300,
            group: false,
            addrs: if rcode == Rcode::Ok {
                [1].into()
            } else {
                AddrList::new()
            },
        };
        for (holder_says, granted) in [(Rcode::Ok, false), (Rcode::NamErr, true)] {
            let mut s = S::new(ME);
            step(&mut s, &cfg, 1, reg(5, 1, false));
            let out = step(&mut s, &cfg, 2, greg(5, 2));
            assert!(matches!(out[0].packet, Packet::Wack { .. }) && out[0].to == 2);
            assert!(matches!(out[1].packet, Packet::Query { .. }) && out[1].to == 1);
            let out = step(&mut s, &cfg, 1, answer(holder_says));
            assert_eq!(out[0].to, 2);
            if granted {
                assert!(matches!(
                    out[0].packet,
                    Packet::Response {
                        rcode: Rcode::Ok,
                        group: true,
                        ..
                    }
                ));
                let r = s.active(&5).unwrap();
                assert_eq!((r.kind, r.addrs.clone()), (Kind::Group, [2].into()));
            } else {
                assert_eq!(rcode_of(&out[0]), Some(Rcode::ActErr));
                assert_eq!(s.active(&5).unwrap().kind, Kind::Unique);
            }
        }
    }

    /// MS-NBTE 3.2.5.1: a full special group drops its oldest member for a new one; a
    /// replicated member counts as older than any registered here.
    #[test]
    fn full_special_group_drops_its_oldest_member() {
        let cfg = ServerConfig {
            special_group_max: 3,
            ..ServerConfig::default()
        };
        let mut s = S::new(ME);
        let at = |s: &mut S, now: Time, addr: u8| {
            let mut out = Vec::new();
            s.handle(&cfg, now, addr, 7, greg(0x1C, addr), &mut out);
            rcode_of(&out[0])
        };
        for (now, addr) in [(0, 3), (10, 1), (20, 2)] {
            assert_eq!(at(&mut s, now, addr), Some(Rcode::Ok));
        }
        // Full: 3 (registered first) goes, 4 comes.
        assert_eq!(at(&mut s, 30, 4), Some(Rcode::Ok));
        assert_eq!(s.active(&0x1C).unwrap().addrs, [1, 2, 4].into());
        // A refresh makes 1 young again: 2 is now the oldest.
        at(&mut s, 40, 1);
        assert_eq!(at(&mut s, 50, 5), Some(Rcode::Ok));
        assert_eq!(s.active(&0x1C).unwrap().addrs, [1, 4, 5].into());
        // A member without a local expiry (replicated) goes before any local one.
        let mut rec = s.active(&0x1C).unwrap().clone();
        rec.add_addr(9, 66);
        rec.retain_addrs(|&a| a != 4);
        assert_eq!(rec.oldest_member(), Some(9));
    }

    fn greg(name: u8, addr: u8) -> Packet<u8, u8> {
        Packet::Register {
            name,
            group: true,
            node: NodeType::B,
            ttl: 300,
            addr,
            multihomed: false,
            broadcast: false,
        }
    }

    fn query(name: u8) -> Packet<u8, u8> {
        Packet::Query {
            name,
            broadcast: false,
        }
    }

    #[test]
    fn retransmitted_registration_during_a_challenge_is_ignored() {
        let cfg = ServerConfig::default();
        let mut s = S::new(ME);
        step(&mut s, &cfg, 1, reg(5, 1, false));
        let out = step(&mut s, &cfg, 2, reg(5, 2, false));
        assert!(matches!(out[0].packet, Packet::Wack { .. }));
        // The same sender and transaction id again: nothing (Samba's client takes a second
        // WACK for an invalid response).
        assert!(step(&mut s, &cfg, 2, reg(5, 2, false)).is_empty());
        // A new transaction from the requester waits again.
        let mut out = Vec::new();
        s.handle(&cfg, 0, 2, 8, reg(5, 2, false), &mut out);
        assert!(matches!(out[0].packet, Packet::Wack { .. }));
    }

    #[test]
    fn unique_refresh_of_a_special_group_is_refused_like_its_registration() {
        let cfg = ServerConfig::default();
        let mut s = S::new(ME);
        step(&mut s, &cfg, 1, greg(0x1C, 1));
        let refresh = Packet::Refresh {
            name: 0x1C,
            group: false,
            node: NodeType::H,
            ttl: 300,
            addr: 1,
        };
        let out = step(&mut s, &cfg, 1, refresh);
        assert_eq!(rcode_of(&out[0]), Some(Rcode::RfsErr));
        assert_eq!(s.active(&0x1C).unwrap().addrs[..], [1]);
    }

    #[test]
    fn group_refresh_of_a_special_group_by_a_non_member_adds_it() {
        // Samba's nbtd and nmbd handle a refresh as a registration: the member is added.
        let cfg = ServerConfig::default();
        let mut s = S::new(ME);
        step(&mut s, &cfg, 1, greg(0x1C, 1));
        let refresh = |addr| Packet::Refresh {
            name: 0x1C,
            group: true,
            node: NodeType::H,
            ttl: 300,
            addr,
        };
        let out = step(&mut s, &cfg, 2, refresh(2));
        assert_eq!(rcode_of(&out[0]), Some(Rcode::Ok));
        assert_eq!(s.active(&0x1C).unwrap().addrs[..], [1, 2]);
        // A member's refresh changes nothing but the expiry.
        let version = s.active(&0x1C).unwrap().version;
        step(&mut s, &cfg, 2, refresh(2));
        assert_eq!(s.active(&0x1C).unwrap().version, version);
    }

    #[test]
    fn refresh_by_a_non_holder_is_a_registration_with_a_challenge() {
        let cfg = ServerConfig::default();
        let mut s = S::new(ME);
        step(&mut s, &cfg, 1, reg(5, 1, false));
        let refresh = Packet::Refresh {
            name: 5,
            group: false,
            node: NodeType::P,
            ttl: 300,
            addr: 2,
        };
        let out = step(&mut s, &cfg, 2, refresh);
        assert!(matches!(out[0].packet, Packet::Wack { .. }));
        assert!(matches!(out[1].packet, Packet::Query { name: 5, .. }) && out[1].to == 1);
        // The holder stays silent: the refreshing host gets the name.
        let mut out = Vec::new();
        assert!(s.challenge_timeout(&cfg, 0, &5, &mut out));
        assert_eq!(rcode_of(&out[0]), Some(Rcode::Ok));
        assert_eq!(s.active(&5).unwrap().addrs[..], [2]);
    }

    #[test]
    fn local_master_browser_names_are_acknowledged_never_stored_or_answered() {
        let cfg = ServerConfig::default();
        let mut s = S::new(ME);
        for p in [reg(0x1D, 1, false), greg(0x1D, 2)] {
            let out = step(&mut s, &cfg, 1, p);
            assert_eq!(rcode_of(&out[0]), Some(Rcode::Ok));
        }
        assert!(s.record(&0x1D).is_none());
        let out = step(&mut s, &cfg, 3, query(0x1D));
        assert_eq!(rcode_of(&out[0]), Some(Rcode::NamErr));
    }

    #[test]
    fn a_normal_group_is_answered_after_its_release() {
        let cfg = ServerConfig::default();
        let mut s = S::new(ME);
        step(&mut s, &cfg, 1, greg(9, 1));
        let release = Packet::Release {
            name: 9,
            group: true,
            node: NodeType::B,
            addr: 1,
            broadcast: false,
        };
        step(&mut s, &cfg, 1, release);
        assert_eq!(s.record(&9).unwrap().state, RecState::Released);
        let out = step(&mut s, &cfg, 3, query(9));
        assert!(matches!(
            &out[0].packet,
            Packet::Response { rcode: Rcode::Ok, group: true, addrs, .. } if addrs.is_empty()
        ));
        // A released unique name is not.
        step(&mut s, &cfg, 1, reg(5, 1, false));
        let release = Packet::Release {
            name: 5,
            group: false,
            node: NodeType::B,
            addr: 1,
            broadcast: false,
        };
        step(&mut s, &cfg, 1, release);
        assert_eq!(
            rcode_of(&step(&mut s, &cfg, 3, query(5))[0]),
            Some(Rcode::NamErr)
        );
    }

    #[test]
    fn static_mapping_rules_and_q164016() {
        let mut s = S::new(ME);
        s.add_static(0, 5, Kind::Unique, vec![1]);
        let no_migrate = ServerConfig {
            migrate_on: false,
            ..ServerConfig::default()
        };
        assert_eq!(
            rcode_of(&step(&mut s.clone(), &no_migrate, 2, reg(5, 2, false))[0]),
            Some(Rcode::RfsErr)
        );
        let buggy = ServerConfig {
            bugs: Bug::Q164016.into(),
            ..ServerConfig::default()
        };
        assert_eq!(
            rcode_of(&step(&mut s.clone(), &buggy, 2, reg(5, 2, true))[0]),
            Some(Rcode::RfsErr)
        );
        // MigrateOn (the fix): the static record is challenged like a dynamic one.
        let fixed = ServerConfig::default();
        let out = step(&mut s, &fixed, 2, reg(5, 2, true));
        assert!(matches!(out[0].packet, Packet::Wack { .. }));
        let answer = Packet::Response {
            op: Opcode::Query,
            name: 5,
            rcode: Rcode::Ok,
            ttl: 300,
            group: false,
            addrs: [1, 2].into(),
        };
        step(&mut s, &fixed, 1, answer);
        let r = s.active(&5).unwrap();
        assert!(!r.is_static);
        assert_eq!(r.addrs[..], [1, 2]);
    }

    #[test]
    fn scavenging_walks_active_released_tombstone_deleted() {
        let cfg = ServerConfig::default();
        let mut s = S::new(ME);
        step(&mut s, &cfg, 1, reg(5, 1, false));
        assert_eq!(s.next_deadline(), Some(300));
        let mut out = Vec::new();
        s.on_timer(&cfg, 300, &mut out);
        assert_eq!(s.record(&5).unwrap().state, RecState::Released);
        let t = s.next_deadline().unwrap();
        s.on_timer(&cfg, t, &mut out);
        let r = s.record(&5).unwrap();
        assert_eq!((r.state, r.version), (RecState::Tombstone, 2));
        let t = s.next_deadline().unwrap();
        s.on_timer(&cfg, t, &mut out);
        assert!(s.record(&5).is_none());
        assert!(out.is_empty());
        assert_eq!(s.next_version, 3, "versions survive deletion");
    }
}

/// Replicas with an owner per address and the one-address-at-a-time replica challenge.
#[cfg(test)]
mod replica_tests {
    use super::*;

    type S = Server<u8, u8>;
    /// The local server (Samba's torture calls it C), replica owners A and B, a third owner X.
    const C: u8 = 100;
    const A: u8 = 10;
    const B: u8 = 20;
    const X: u8 = 30;

    fn rec(owner: u8, version: Version, kind: Kind, pairs: &[(u8, u8)]) -> Record<u8, u8> {
        let mut r = Record {
            name: 5,
            kind,
            state: RecState::Active,
            is_static: false,
            node: NodeType::H,
            addrs: AddrList::new(),
            other_owners: AddrList::new(),
            member_expiry: AddrList::new(),
            owner,
            version,
            expires: 1000,
        };
        r.set_addr_owners(pairs.iter().copied());
        r
    }

    #[test]
    fn a_special_group_without_members_is_not_answered() {
        // MS-WINSRA 2.2.10.1: only a normal group stands for the limited broadcast address;
        // a special group's answer is its members, and a partner's replica may have none.
        let cfg = ServerConfig::default();
        let mut s = Server::<u8, u8>::new(100);
        let mut sg = rec(2, 1, Kind::SpecialGroup, &[]);
        sg.name = 0x1C;
        let mut out = Vec::new();
        s.apply_replica(&cfg, 0, sg, &mut out);
        let ask = |s: &mut Server<u8, u8>, name: u8| {
            let mut q = Vec::new();
            let p = Packet::Query {
                name,
                broadcast: false,
            };
            s.handle(&cfg, 0, 3, 9, p, &mut q);
            match &q[0].packet {
                Packet::Response { rcode, .. } => *rcode,
                other => panic!("{other:?}"),
            }
        };
        assert_eq!(ask(&mut s, 0x1C), Rcode::NamErr);
        // A normal group is answered all the same (members untracked).
        let mut g = rec(2, 2, Kind::Group, &[(7, 2)]);
        g.name = 0x00;
        s.apply_replica(&cfg, 0, g, &mut out);
        assert_eq!(ask(&mut s, 0x00), Rcode::Ok);
    }

    fn pairs(r: &Record<u8, u8>) -> Vec<(u8, u8)> {
        r.addr_owners().collect()
    }

    /// MS-WINSRA 3.1.1.2: a replica refreshed by its holder at this server becomes this
    /// server's, with a new version; of a multihomed replica, the refreshed address too.
    #[test]
    fn a_replica_refreshed_locally_is_taken_over_with_a_new_version() {
        let cfg = ServerConfig::default();
        for (kind, members) in [
            (Kind::Unique, vec![(1, A)]),
            (Kind::Multihomed, vec![(1, A), (2, X)]),
        ] {
            let mut s = S::new(C);
            s.restore_records([rec(A, 7, kind, &members)]);
            let before = s.next_version;
            let refresh = Packet::Refresh {
                name: 5,
                group: false,
                node: NodeType::H,
                ttl: 300,
                addr: 1,
            };
            let mut out = Vec::new();
            s.handle(&cfg, 0, 1, 1, refresh.clone(), &mut out);
            assert!(
                matches!(
                    &out[0].packet,
                    Packet::Response {
                        rcode: Rcode::Ok,
                        ..
                    }
                ),
                "{kind:?}: {out:?}"
            );
            let r = s.record(&5).unwrap();
            assert_eq!((r.owner, r.version), (C, before), "{kind:?}");
            assert_eq!(r.owner_of(1), C, "{kind:?}");
            if kind == Kind::Multihomed {
                assert_eq!(r.owner_of(2), X, "the other address keeps its owner");
            }
            // A second refresh: already ours, no new version.
            let mut out = Vec::new();
            s.handle(&cfg, 0, 1, 2, refresh, &mut out);
            assert_eq!(s.record(&5).unwrap().version, before, "{kind:?}");
        }
    }

    /// Samba's torture table "SGROUP,ACTIVE vs. SGROUP,ACTIVE" with owners A, B and X
    /// (`wrepl_apply_records.c` above `replace_sgroup_replica_vs_X_replica` and
    /// `r_do_sgroup_merge`; `test_conflict_different_owner`): the existing special group is a
    /// replica of A, the incoming one comes from B; addresses a3, a4 (A's), b3, b4 (B's), x1..x4
    /// (X's), each with the owner given.
    #[test]
    fn special_group_replicas_compare_and_merge_owners_per_address() {
        use Decision::*;
        let cfg = ServerConfig::default();
        let (a3, a4, b3, b4) = (13, 14, 23, 24);
        let (x1, x2, x3, x4) = (31, 32, 33, 34);
        // (existing members of A's record, B's replica members, decision, result owner and
        // members; None: unchanged)
        type Row = (
            Vec<(u8, u8)>,
            Vec<(u8, u8)>,
            Decision,
            Option<(u8, Vec<(u8, u8)>)>,
        );
        let rows: Vec<Row> = vec![
            // A:A_3_4 vs. B:A_3_4 => NOT REPLACE
            (vec![(a3, A), (a4, A)], vec![(a3, A), (a4, A)], Keep, None),
            // A:A_3_4 vs. B:NULL => NOT REPLACE
            (vec![(a3, A), (a4, A)], vec![], Keep, None),
            // A:A_3_4_X_3_4 vs. B:A_3_4 => NOT REPLACE
            (
                vec![(a3, A), (a4, A), (x3, X), (x4, X)],
                vec![(a3, A), (a4, A)],
                Keep,
                None,
            ),
            // A:B_3_4 vs. B:A_3_4 => REPLACE (by a merge that drops B's old members)
            (
                vec![(b3, B), (b4, B)],
                vec![(a3, A), (a4, A)],
                MergeSpecialGroup,
                Some((B, vec![(a3, A), (a4, A)])),
            ),
            // A:A_3_4 vs. B:A_3_4_OWNER_B => REPLACE
            (
                vec![(a3, A), (a4, A)],
                vec![(a3, B), (a4, B)],
                Replace,
                Some((B, vec![(a3, B), (a4, B)])),
            ),
            // A:A_3_4_OWNER_B vs. B:A_3_4 => REPLACE
            (
                vec![(a3, B), (a4, B)],
                vec![(a3, A), (a4, A)],
                Replace,
                Some((B, vec![(a3, A), (a4, A)])),
            ),
            // A:A_3_4 vs. B:B_3_4 => C:A_3_4_B_3_4 => SGROUP_MERGE
            (
                vec![(a3, A), (a4, A)],
                vec![(b3, B), (b4, B)],
                MergeSpecialGroup,
                Some((C, vec![(a3, A), (a4, A), (b3, B), (b4, B)])),
            ),
            // A:B_3_4_X_3_4 vs. B:A_3_4 => B:A_3_4_X_3_4 => SGROUP_MERGE
            (
                vec![(b3, B), (b4, B), (x3, X), (x4, X)],
                vec![(a3, A), (a4, A)],
                MergeSpecialGroup,
                Some((B, vec![(a3, A), (a4, A), (x3, X), (x4, X)])),
            ),
            // A:X_3_4 vs. B:A_3_4 => C:A_3_4_X_3_4 => SGROUP_MERGE
            (
                vec![(x3, X), (x4, X)],
                vec![(a3, A), (a4, A)],
                MergeSpecialGroup,
                Some((C, vec![(a3, A), (a4, A), (x3, X), (x4, X)])),
            ),
            // A:A_3_4_X_3_4 vs. B:A_3_4_OWNER_B => B:A_3_4_OWNER_B_X_3_4 => SGROUP_MERGE
            (
                vec![(a3, A), (a4, A), (x3, X), (x4, X)],
                vec![(a3, B), (a4, B)],
                MergeSpecialGroup,
                Some((B, vec![(a3, B), (a4, B), (x3, X), (x4, X)])),
            ),
            // A:B_3_4_X_3_4 vs. B:B_3_4_X_1_2 => C:B_3_4_X_1_2_3_4 => SGROUP_MERGE
            (
                vec![(b3, B), (b4, B), (x3, X), (x4, X)],
                vec![(b3, B), (b4, B), (x1, X), (x2, X)],
                MergeSpecialGroup,
                Some((
                    C,
                    vec![(b3, B), (b4, B), (x1, X), (x2, X), (x3, X), (x4, X)],
                )),
            ),
            // A:B_3_4_X_3_4 vs. B:NULL => B:X_3_4 => SGROUP_MERGE
            (
                vec![(b3, B), (b4, B), (x3, X), (x4, X)],
                vec![],
                MergeSpecialGroup,
                Some((B, vec![(x3, X), (x4, X)])),
            ),
        ];
        let mut wrong = Vec::new();
        for (i, (existing, incoming, want, result)) in rows.into_iter().enumerate() {
            let mut s = S::new(C);
            let old = rec(A, 1, Kind::SpecialGroup, &existing);
            s.put(old.clone());
            let new = rec(B, 7, Kind::SpecialGroup, &incoming);
            let mut out = Vec::new();
            let got = s.apply_replica(&cfg, 0, new, &mut out);
            let r = s.record(&5).unwrap();
            let (owner, members) = result.unwrap_or((A, existing.clone()));
            let ok = got == Outcome::Decided(want) && r.owner == owner && pairs(r) == members;
            // The record's version: ours (new) when we became its owner, else its owner's.
            let version_ok = match r.owner {
                C => r.version == 1 && s.next_version == 2,
                B => r.version == 7,
                _ => r.version == 1,
            };
            if !ok || !version_ok {
                wrong.push((i, got, r.owner, pairs(r)));
            }
        }
        assert!(wrong.is_empty(), "{wrong:?}");
    }

    #[test]
    fn an_owned_special_group_merge_keeps_every_members_owner() {
        // Owned special group {1 (ours), 33 (X's)}; B sends {2 (B's), 33 (X's)}: merged, ours,
        // each member with its owner; a later registration of 2 here makes 2 ours.
        let cfg = ServerConfig::default();
        let mut s = S::new(C);
        let mut old = rec(C, 1, Kind::SpecialGroup, &[(1, C), (33, X)]);
        s.next_version = 2;
        old.version = 1;
        s.put(old);
        let mut out = Vec::new();
        let got = s.apply_replica(
            &cfg,
            0,
            rec(B, 4, Kind::SpecialGroup, &[(2, B), (33, X)]),
            &mut out,
        );
        assert_eq!(got, Outcome::Decided(Decision::MergeSpecialGroup));
        let r = s.record(&5).unwrap();
        assert_eq!((r.owner, r.version), (C, 2));
        assert_eq!(pairs(r), [(1, C), (2, B), (33, X)]);
        let greg = Packet::Register {
            name: 5,
            group: true,
            node: NodeType::H,
            ttl: 300,
            addr: 2,
            multihomed: false,
            broadcast: false,
        };
        s.handle(&cfg, 0, 2, 1, greg, &mut out);
        let r = s.record(&5).unwrap();
        assert_eq!((r.owner, r.version), (C, 3));
        assert_eq!(pairs(r), [(1, C), (2, C), (33, X)]);
    }

    /// An owned multihomed record {1, 2, 3} and an active unique replica of B for 9: a
    /// challenge, one holder address at a time.
    fn challenged() -> (S, ServerConfig, Vec<Send<u8, u8>>) {
        let cfg = ServerConfig::default();
        let mut s = S::new(C);
        s.put(rec(C, 1, Kind::Multihomed, &[(1, C), (2, C), (3, C)]));
        s.next_version = 2;
        let mut out = Vec::new();
        let got = s.apply_replica(&cfg, 0, rec(B, 4, Kind::Unique, &[(9, B)]), &mut out);
        assert_eq!(got, Outcome::Decided(Decision::Challenge));
        (s, cfg, out)
    }

    fn queries(out: &[Send<u8, u8>]) -> Vec<u8> {
        out.iter()
            .filter(|o| matches!(o.packet, Packet::Query { .. }))
            .map(|o| o.to)
            .collect()
    }

    fn answer(rcode: Rcode, addrs: &[u8]) -> Packet<u8, u8> {
        Packet::Response {
            op: Opcode::Query,
            name: 5,
            rcode,
            ttl: 300,
            group: false,
            addrs: addrs.into(),
        }
    }

    #[test]
    fn replica_challenge_asks_one_address_at_a_time_and_the_first_answer_decides() {
        let (mut s, cfg, mut out) = challenged();
        assert_eq!(queries(&out), [1], "only the first holder address is asked");
        out.clear();
        // An address not asked yet cannot answer.
        let q = s.pending_for(&5).map_or(0, |p| p.qxid);
        s.handle(&cfg, 1, 2, q, answer(Rcode::Ok, &[1, 2, 3]), &mut out);
        assert!(s.pending_for(&5).is_some());
        // The first stays silent for the wait: the second is asked, with a wait of its own.
        assert_eq!(s.next_deadline(), Some(3));
        s.on_timer(&cfg, 3, &mut out);
        assert_eq!(queries(&out), [2]);
        assert_eq!(s.next_deadline(), Some(6));
        out.clear();
        // Its positive answer decides at once: it claims the name without the replica's
        // address, the owned record stays; the third address is never asked.
        let q = s.pending_for(&5).map_or(0, |p| p.qxid);
        s.handle(&cfg, 4, 2, q, answer(Rcode::Ok, &[1, 2, 3]), &mut out);
        assert!(s.pending_for(&5).is_none());
        assert!(queries(&out).is_empty());
        let r = s.record(&5).unwrap();
        assert_eq!((r.owner, &r.addrs[..]), (C, &[1, 2, 3][..]));
    }

    #[test]
    fn replica_challenge_every_address_silent_or_a_negative_answer_is_gone() {
        let (mut s, cfg, mut out) = challenged();
        for (t, next) in [(3, Some(2)), (6, Some(3)), (9, None)] {
            out.clear();
            s.on_timer(&cfg, t, &mut out);
            assert_eq!(queries(&out), next.into_iter().collect::<Vec<_>>());
        }
        assert!(s.pending_for(&5).is_none());
        assert_eq!(s.record(&5).unwrap().owner, B);
        // A negative answer from the address asked ends it at once (Samba's
        // r_do_challenge_handler replaces on NT_STATUS_OBJECT_NAME_NOT_FOUND).
        let (mut s, cfg, mut out) = challenged();
        let q = s.pending_for(&5).map_or(0, |p| p.qxid);
        s.handle(&cfg, 1, 1, q, answer(Rcode::NamErr, &[]), &mut out);
        assert!(s.pending_for(&5).is_none());
        assert_eq!(pairs(s.record(&5).unwrap()), [(9, B)]);
    }

    #[test]
    fn multihomed_merge_after_a_challenge_keeps_our_addresses_ours() {
        // The first holder address lists every address and the replica's: one multihomed
        // host; the merge is B's record, with 1, 2, 3 still owned here (r_do_mhomed_merge).
        let (mut s, cfg, mut out) = challenged();
        let q = s.pending_for(&5).map_or(0, |p| p.qxid);
        s.handle(&cfg, 1, 1, q, answer(Rcode::Ok, &[1, 2, 3, 9]), &mut out);
        let r = s.record(&5).unwrap();
        assert_eq!((r.owner, r.kind, r.version), (B, Kind::Multihomed, 4));
        assert_eq!(pairs(r), [(1, C), (2, C), (3, C), (9, B)]);
    }
}
