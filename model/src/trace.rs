//! Readable message-sequence traces of model paths: one numbered line per step ("3. client A
//! (10.0.0.1) -> WINS-1: register FOO<00> unique addr .1"), followed by the state changes that
//! matter (name table entries, server records, challenges, crashes).

use crate::client::{Client, EntryState, Stage};
use crate::proto::{Packet, Rcode};
use crate::server::{Kind, RecState, Record, Server};
use crate::world::{Action, Ip, Msg, Name, State, World};
use std::fmt::Write;

fn addrs(v: &[Ip]) -> String {
    if v.is_empty() {
        return "(none)".into();
    }
    v.iter()
        .map(|a| format!(".{a}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// A packet in words, with its transaction id when it has one (`[id 2]`; the model
/// renumbers ids from 1 as old ones leave the system, see `World::canonical_xids`).
pub fn packet(w: &World, m: &Msg) -> String {
    let body = packet_body(w, m);
    if m.xid == 0 {
        body
    } else {
        format!("{body} [id {}]", m.xid)
    }
}

fn packet_body(w: &World, m: &Msg) -> String {
    let from_server = w.server_index(m.src).is_some();
    match &m.packet {
        Packet::Register {
            name,
            group,
            addr,
            multihomed,
            ..
        } => {
            let kind = if *group {
                "group"
            } else if *multihomed {
                "multihomed (opcode 0xF)"
            } else {
                "unique"
            };
            format!("register {} {kind} addr .{addr}", w.name_label(*name))
        }
        Packet::Refresh { name, addr, .. } => {
            format!("refresh {} addr .{addr}", w.name_label(*name))
        }
        Packet::Release { name, addr, .. } if from_server => {
            format!("release demand {} addr .{addr}", w.name_label(*name))
        }
        Packet::Release { name, addr, .. } => {
            format!("release {} addr .{addr}", w.name_label(*name))
        }
        Packet::Query { name, .. } if from_server => format!(
            "challenge: name query {} (do you still hold it?)",
            w.name_label(*name)
        ),
        Packet::Query { name, .. } => format!("name query {}", w.name_label(*name)),
        Packet::Response {
            op,
            name,
            rcode: rc,
            addrs: a,
            ..
        } => {
            let sign = if *rc == Rcode::Ok {
                "positive"
            } else {
                "negative"
            };
            let what = format!("{op:?}").to_lowercase();
            if *rc == Rcode::Ok {
                format!(
                    "{sign} {what} response {} addrs {}",
                    w.name_label(*name),
                    addrs(a)
                )
            } else {
                format!(
                    "{sign} {what} response {} rcode {}",
                    w.name_label(*name),
                    rc.name()
                )
            }
        }
        Packet::Wack { name, ttl, .. } => format!(
            "WACK {} (wait {ttl}s: the holder is being challenged)",
            w.name_label(*name)
        ),
        Packet::Datagram { to, .. } => format!("datagram to {}", w.name_label(*to)),
        Packet::SessionOpen { to, .. } => format!("session request to {}", w.name_label(*to)),
        Packet::SessionClose { to, .. } => format!("session to {} closed", w.name_label(*to)),
    }
}

/// An action in words.
pub fn action(w: &World, a: &Action) -> String {
    let client = |c: &u8| w.client_labels[*c as usize].to_string();
    let server = |i: &u8| format!("WINS-{}", i + 1);
    match a {
        Action::Deliver(m) => format!(
            "{} -> {}: {}",
            w.node_label(m.src),
            w.node_label(m.dst),
            packet(w, m)
        ),
        Action::Drop(m) => format!(
            "LOST {} -> {}: {}",
            w.node_label(m.src),
            w.node_label(m.dst),
            packet(w, m)
        ),
        Action::Duplicate(m) => format!(
            "DUPLICATED {} -> {}: {} (a second copy is in flight)",
            w.node_label(m.src),
            w.node_label(m.dst),
            packet(w, m)
        ),
        Action::ClientTimeout(c) => format!("{}: no answer, retransmission timer fires", client(c)),
        Action::ChallengeTimeout(i, n) => format!(
            "{}: challenged holder of {} did not answer in time",
            server(i),
            w.name_label(*n)
        ),
        Action::Scavenge(i, n) => {
            format!("{}: scavenging step for {}", server(i), w.name_label(*n))
        }
        Action::Crash(i) => format!("{} crashes", server(i)),
        Action::Pull { dst, src } => format!("{} pulls replicas from {}", server(dst), server(src)),
        Action::AppStart(c, n) => format!(
            "{}: application starts and adds {}",
            client(c),
            w.name_label(*n)
        ),
        Action::AppExit(c, n) => format!(
            "{}: application exits and deletes {}",
            client(c),
            w.name_label(*n)
        ),
        Action::Refresh(c, n) => format!(
            "{}: refresh timer for {} fires",
            client(c),
            w.name_label(*n)
        ),
        Action::Resolve(c, n) => format!("{}: looks up {}", client(c), w.name_label(*n)),
        Action::Datagram(c, n) => {
            format!("{}: sends a datagram to {}", client(c), w.name_label(*n))
        }
        Action::SessionOpen(c, n) => {
            format!("{}: opens a session to {}", client(c), w.name_label(*n))
        }
        Action::SessionClose(c, n) => {
            format!("{}: closes its session to {}", client(c), w.name_label(*n))
        }
        Action::Move => "host M is switched off and comes back with new addresses".into(),
    }
}

fn record(w: &World, r: &Record<Name, Ip>) -> String {
    let kind = match r.kind {
        Kind::Unique => "unique",
        Kind::Group => "group",
        Kind::SpecialGroup => "special group",
        Kind::Multihomed => "multihomed",
    };
    let st = match r.state {
        RecState::Active => "active",
        RecState::Released => "released",
        RecState::Tombstone => "tombstone",
    };
    let stat = if r.is_static { " static" } else { "" };
    format!(
        "{} {st}{stat} {kind} {} (owner {}, version {})",
        w.name_label(r.name),
        addrs(&r.addrs),
        w.node_label(r.owner),
        r.version
    )
}

fn server_changes(
    w: &World,
    i: usize,
    a: &Server<Name, Ip>,
    b: &Server<Name, Ip>,
    out: &mut Vec<String>,
) {
    let label = format!("WINS-{}", i + 1);
    for rb in b.records() {
        match a.record(&rb.name) {
            Some(ra) if ra == rb => {}
            _ => out.push(format!("{label} now holds {}", record(w, rb))),
        }
    }
    for ra in a.records() {
        if b.record(&ra.name).is_none() {
            out.push(format!("{label} deletes {}", w.name_label(ra.name)));
        }
    }
    for p in &b.pending {
        if a.pending_for(&p.name).is_none() {
            out.push(format!(
                "{label} challenges {} for {} on behalf of .{}",
                addrs(&p.waiting),
                w.name_label(p.name),
                p.requester
            ));
        }
    }
}

fn client_changes(
    w: &World,
    c: usize,
    a: &Client<Name, Ip>,
    b: &Client<Name, Ip>,
    out: &mut Vec<String>,
) {
    let label = w.client_labels[c];
    if a.servers != b.servers {
        let s = |x: Option<Ip>| x.map_or("-".to_string(), |ip| w.node_label(ip));
        out.push(format!(
            "{label} now uses primary {} and backup {}",
            s(b.servers[0]),
            s(b.servers[1])
        ));
    }
    if a.use_backup != b.use_backup {
        if b.use_backup {
            out.push(format!(
                "{label} remembers: primary failed, next names go to the backup"
            ));
        } else {
            out.push(format!("{label} starts over at the primary stage"));
        }
    }
    for eb in &b.names {
        let changed = a.entry(&eb.name).is_none_or(|ea| ea != eb);
        if changed {
            let st = match eb.state {
                EntryState::Registering => "registering".to_string(),
                EntryState::Registered => match eb.server {
                    Some(s) => format!("registered with {}", w.node_label(s)),
                    None => "registered by broadcast only".to_string(),
                },
                EntryState::Failed => "NOT registered (every server failed)".to_string(),
                EntryState::Conflict => "in CONFLICT (event 4320)".to_string(),
            };
            out.push(format!(
                "{label} name table: {} {st}, refcount {}, sessions {}",
                w.name_label(eb.name),
                eb.refs,
                eb.sessions
            ));
        }
    }
    for ea in &a.names {
        if b.entry(&ea.name).is_none() {
            out.push(format!(
                "{label} name table: {} removed",
                w.name_label(ea.name)
            ));
        }
    }
}

/// State changes between two consecutive states that a reader of the KB article cares about.
pub fn changes(w: &World, a: &State, b: &State) -> Vec<String> {
    let mut out = Vec::new();
    for (i, (sa, sb)) in a.servers.iter().zip(&b.servers).enumerate() {
        server_changes(w, i, sa, sb, &mut out);
    }
    for (c, (ca, cb)) in a.clients.iter().zip(&b.clients).enumerate() {
        client_changes(w, c, ca, cb, &mut out);
    }
    if b.env.late > a.env.late {
        out.push(
            "(the timer fired while what it waits for was still on its way: delay mode)".into(),
        );
    }
    if b.env.start_failed && !a.env.start_failed {
        out.push("the application cannot add its name: it is still in the local name table".into());
    }
    out
}

/// The initial state in words.
pub fn initial(w: &World, s: &State) -> Vec<String> {
    let mut out = Vec::new();
    for (i, sv) in s.servers.iter().enumerate() {
        let up = if s.env.up & (1 << i) != 0 {
            "up"
        } else {
            "DOWN"
        };
        out.push(format!("WINS-{} is {up}", i + 1));
        for r in sv.records() {
            out.push(format!("WINS-{} holds {}", i + 1, record(w, r)));
        }
    }
    let empty = Client::new(&w.ccfg[0]);
    for (c, cl) in s.clients.iter().enumerate() {
        let mut v = Vec::new();
        client_changes(
            w,
            c,
            &Client {
                servers: cl.servers,
                ..empty.clone()
            },
            cl,
            &mut v,
        );
        out.extend(v);
    }
    out
}

/// Replicas a pull brought that the puller did not apply (the conflict rules kept its record).
fn kept_replicas(w: &World, a: &State, b: &State, dst: usize, src: usize) -> Vec<String> {
    let (before, after, from) = (&a.servers[dst], &b.servers[dst], &a.servers[src]);
    from.records()
        .filter(|r| {
            r.owner != before.me
                && r.version > before.known_version(r.owner)
                && r.state != RecState::Released
        })
        .filter(|r| after.record(&r.name) != Some(*r))
        .map(|r| {
            let mine = after
                .record(&r.name)
                .map_or("nothing".to_string(), |m| record(w, m));
            format!(
                "WINS-{} KEEPS {mine}; the replica {} from WINS-{} is not applied",
                dst + 1,
                record(w, r),
                src + 1
            )
        })
        .collect()
}

/// Packets a step sent that never enter the network: to a dead node, or broadcasts nobody
/// answers (delivered packets show up as their own steps).
fn sends(w: &World, a: &State, b: &State) -> Vec<String> {
    let mut out = Vec::new();
    for (c, (ca, cb)) in a.clients.iter().zip(&b.clients).enumerate() {
        let (Some(oa), Some(ob)) = (&ca.op, &cb.op) else {
            continue;
        };
        if oa == ob {
            continue;
        }
        let cfg = &w.ccfg[c];
        let kind = format!("{:?}", ob.kind).to_lowercase();
        let from = cfg.nics[ob.nic as usize];
        let to = match ob.stage {
            Stage::Bcast => "broadcast (no other node answers)".to_string(),
            Stage::Primary | Stage::Backup => {
                let ip = cb.servers[if ob.stage == Stage::Primary { 0 } else { 1 }];
                match ip.and_then(|ip| w.server_index(ip)) {
                    Some(i) if b.env.up & (1 << i) == 0 => format!("WINS-{} (DOWN: lost)", i + 1),
                    Some(i) => format!("WINS-{}", i + 1),
                    None => "?".into(),
                }
            }
        };
        let stage = format!("{:?}", ob.stage).to_lowercase();
        out.push(format!(
            "{} sends {kind} {} from .{from} to {to} [{stage} stage, try {}]",
            w.client_labels[c],
            w.name_label(ob.name),
            ob.tries
        ));
    }
    out
}

/// A whole path as a numbered message-sequence trace.
pub fn render(w: &World, path: &[(State, Option<Action>)]) -> String {
    let mut s = String::new();
    if let Some((first, _)) = path.first() {
        let _ = writeln!(s, "   initially:");
        for l in initial(w, first) {
            let _ = writeln!(s, "      {l}");
        }
    }
    for (k, pair) in path.windows(2).enumerate() {
        let (a, act) = &pair[0];
        let (b, _) = &pair[1];
        if let Some(act) = act {
            let _ = writeln!(s, "{:>3}. {}", k + 1, action(w, act));
            for l in changes(w, a, b) {
                let _ = writeln!(s, "        -> {l}");
            }
            for l in sends(w, a, b) {
                let _ = writeln!(s, "        -> {l}");
            }
            if let Action::Pull { dst, src } = act {
                for l in kept_replicas(w, a, b, *dst as usize, *src as usize) {
                    let _ = writeln!(s, "        -> {l}");
                }
            }
        }
    }
    let last = path.last().map(|(st, _)| st);
    if let Some(st) = last {
        if !st.net.is_empty() {
            let _ = writeln!(s, "   still in flight:");
            for m in &st.net {
                let _ = writeln!(
                    s,
                    "      {} -> {}: {}",
                    w.node_label(m.src),
                    w.node_label(m.dst),
                    packet(w, m)
                );
            }
        }
    }
    s
}
