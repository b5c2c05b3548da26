//! Protocol cases of the replication role, one MS-WINSRA rule each: what the
//! target does with a start of another major version, a stop, an update with
//! an unknown RplOpCode, a reply with an overlong name; the L flag of the
//! records it sends; the versions it gives when an address is added, when it
//! takes over a replica and when a record is released; the ranges it asks
//! for as a pull partner and sends as a push partner; and what a host that
//! is not its partner gets.
//!
//! Each case uses owners and names of its own (owners `127.66.0.x`, names of
//! the run's token), so the cases do not depend on the matrix or each other.

use super::matrix::{self, Rec, Who};
use super::{fail, healthy, outcome, replication_frame, send_update, Ctx, T};
use crate::verdict::{Outcome, Verdict};
use nbns_model::server::{Kind, RecState};
use nbns_reference::replication::conn::{Conn, PartnerError, RecordStore};
use nbns_wire::nbns::Rcode;
use nbns_wire::wrepl::{
    OwnedMessage, OwnedNameRecord, OwnedRecordName, OwnedReplication, OwnedRepr, OwnerRecord,
    Start, Stop, UpdateKind, OPCODE_BITS, START_PADDING, STOP_PADDING,
};
use nbns_wire::NetbiosName;
use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

/// The address the non-partner case connects from: on the runner's loopback,
/// never one of the partners the target is configured with (127.0.0.3, .4).
pub const NON_PARTNER: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 7);

/// First index of the case names these cases use (the matrix stays far below).
const NAME_BASE: usize = 46_000;

/// How long a target has to react (or not) to a message.
const QUIET: Duration = Duration::from_millis(1500);

type Case = fn(&Ctx) -> Result<Verdict, String>;

/// The cases: (name, title, rule, run).
const CASES: &[(&str, &str, Case)] = &[
    (
        "session/start-major-3",
        "a start association with major version 3 is silently discarded: no start response (MS-WINSRA 2.2.3)",
        start_major_3,
    ),
    (
        "session/stop-no-response",
        "the target sends nothing after an association stop request (MS-WINSRA 3.1.5.1)",
        stop_no_response,
    ),
    (
        "session/stop-closes",
        "the target closes the TCP connection after an association stop request (MS-WINSRA 3.1.5.1)",
        stop_closes,
    ),
    (
        "push/update-opcode-6",
        "an update notification with RplOpCode 6 is silently discarded: no reply, no pull (MS-WINSRA 2.2.8)",
        update_opcode_6,
    ),
    (
        "records/l-flag",
        "the L flag is clear on the target's own records and set on the replicas it sends (MS-WINSRA 2.2.10.1)",
        l_flag,
    ),
    (
        "records/overlong-name",
        "a name records response with a Name Length of 300 is ignored whole: none of its records applied (MS-WINSRA 2.2.10.1, note 8)",
        overlong_name,
    ),
    (
        "version-id/address-added",
        "adding an address to a special group gives the record a new, higher version (MS-WINSRA 3.1.1.2)",
        address_added,
    ),
    (
        "version-id/take-ownership",
        "a replica refreshed at the target by its holder becomes the target's own, with a new version (MS-WINSRA 3.1.1.2)",
        take_ownership,
    ),
    (
        "version-id/release-keeps-version",
        "releasing an owned record gives it no new version (MS-WINSRA 3.1.1.2, 3.1.6)",
        release_keeps_version,
    ),
    (
        "pull/min-plus-one",
        "after an update the target asks an owner's records from its highest version of that owner plus 1 (MS-WINSRA 3.2.5.1)",
        min_plus_one,
    ),
    (
        "pull/no-request-if-current",
        "after an update the target asks nothing for an owner whose records it has up to the announced max (MS-WINSRA 3.2.5.1)",
        no_request_if_current,
    ),
    (
        "records/range",
        "a name records response holds exactly the owner's records with min <= version <= max (MS-WINSRA 3.3.5.2)",
        range,
    ),
    (
        "records/non-partner",
        "a host that is not a partner gets no static record: only dynamic ones, or the association is stopped (MS-WINSRA 3.3.5.2)",
        non_partner,
    ),
];

/// Runs the selected cases, each followed by a health check of the target.
pub(super) fn cases(ctx: &Ctx, selected: &dyn Fn(&str) -> bool) -> Vec<Outcome> {
    let mut out = Vec::new();
    for (name, title, run) in CASES {
        if !selected(name) {
            continue;
        }
        let t0 = Instant::now();
        let verdict = match run(ctx) {
            Err(e) => Verdict::Error(e),
            Ok(v) => match (&v, healthy(ctx)) {
                (_, Ok(())) => v,
                (Verdict::Pass, Err(e)) => fail(
                    format!("the target no longer answers: {e}"),
                    "a new association and a map reply after the case".into(),
                    e,
                ),
                (_, Err(_)) => v,
            },
        };
        out.push(outcome(name, title, verdict, t0.elapsed()));
    }
    out
}

/// The first frame within `wait`, or how the connection ended.
enum Reaction {
    Frame(Box<OwnedRepr>),
    Silent,
    Closed,
    Other(String),
}

fn react(c: &mut Conn, wait: Duration) -> Reaction {
    match c.recv_within(wait, "a reaction") {
        Ok(f) => Reaction::Frame(Box::new(f)),
        Err(PartnerError::Timeout(_)) => Reaction::Silent,
        Err(PartnerError::Closed(_)) => Reaction::Closed,
        Err(PartnerError::Io(e)) if e.kind() == std::io::ErrorKind::ConnectionReset => {
            Reaction::Closed
        }
        Err(e) => Reaction::Other(e.to_string()),
    }
}

fn connect(ctx: &Ctx, from: Ipv4Addr) -> Result<Conn, String> {
    Conn::connect(Some(from), ctx.target, T).map_err(|e| e.to_string())
}

fn owner(n: u8) -> Ipv4Addr {
    Ipv4Addr::new(127, 66, 0, n)
}

fn name_of(ctx: &Ctx, i: usize, suffix: u8) -> NetbiosName {
    matrix::case_name(&ctx.token, NAME_BASE + i, suffix)
}

fn netbios(r: &OwnedNameRecord) -> Option<NetbiosName> {
    match &r.name {
        OwnedRecordName::Netbios { name, .. } => Some(*name),
        OwnedRecordName::Short(_) => None,
    }
}

/// A dynamic (or static) unique record of `who` for `name` at `addr`.
fn unique(
    ctx: &Ctx,
    name: &NetbiosName,
    who: Who,
    state: RecState,
    is_static: bool,
    addr: Ipv4Addr,
    version: u64,
) -> OwnedNameRecord {
    let rec = Rec {
        owner: who,
        kind: Kind::Unique,
        state,
        is_static,
        addrs: vec![addr],
        others: Vec::new(),
    };
    matrix::wire_record(name, &rec, version, &|w| ctx.addr_of(w))
}

/// A session from `from`: an update notification (RplOpCode 4) announcing
/// `store`'s owners; the target's send-entries requests are answered from
/// `store` until it stops. Returns the requests (owner, min, max).
fn push_store(
    ctx: &Ctx,
    from: Ipv4Addr,
    store: &RecordStore,
) -> Result<Vec<(Ipv4Addr, u64, u64)>, String> {
    let rep = ctx.session(from, |c| {
        c.push(
            UpdateKind::Update,
            from,
            store,
            None,
            Duration::from_secs(20),
        )
    })?;
    Ok(rep.requests)
}

/// The names of `owner`'s records at the target (a pull from owner A).
fn names_at(ctx: &Ctx, owner: Ipv4Addr) -> Result<Vec<(NetbiosName, OwnedNameRecord)>, String> {
    Ok(ctx
        .pull_all(owner)?
        .into_iter()
        .filter_map(|r| netbios(&r).map(|n| (n, r)))
        .collect())
}

fn holders(ctx: &Ctx) -> Result<&super::holders::Holders, String> {
    ctx.holders
        .as_ref()
        .ok_or_else(|| "no holder sockets on UDP 137 (needs root in the target's namespace)".into())
}

fn local_record(ctx: &Ctx, name: &NetbiosName) -> Result<Option<OwnedNameRecord>, String> {
    Ok(names_at(ctx, ctx.local)?
        .into_iter()
        .find(|(n, _)| n == name)
        .map(|(_, r)| r))
}

fn start_frame(ctx_handle: u32, major: u16) -> Vec<u8> {
    let mut f = OwnedRepr {
        opcode: OPCODE_BITS,
        assoc_ctx: 0,
        message: OwnedMessage::StartAssociation(Start::new(ctx_handle)),
        padding: START_PADDING,
    }
    .to_vec()
    .unwrap_or_default();
    // Header 16 bytes, sender handle 4, then the major version.
    if f.len() >= 22 {
        f[20..22].copy_from_slice(&major.to_be_bytes());
    }
    f
}

fn start_major_3(ctx: &Ctx) -> Result<Verdict, String> {
    let mut c = connect(ctx, ctx.owner_b)?;
    c.send_raw(&start_frame(c.our_ctx, 3))
        .map_err(|e| e.to_string())?;
    unanswered(
        &mut c,
        "the target answered a start association with major version 3",
        "no answer (the packet silently discarded; a close is allowed)",
    )
}

/// Passes when the target sends nothing more on `c` (closing it is allowed).
fn unanswered(c: &mut Conn, answered: &str, wanted: &str) -> Result<Verdict, String> {
    Ok(match react(c, QUIET) {
        Reaction::Silent | Reaction::Closed => Verdict::Pass,
        Reaction::Frame(f) => fail(answered.into(), wanted.into(), format!("{:?}", f.message)),
        Reaction::Other(e) => return Err(e),
    })
}

fn send_stop(c: &mut Conn) -> Result<(), String> {
    c.send(&OwnedRepr {
        opcode: OPCODE_BITS,
        assoc_ctx: c.peer_ctx,
        message: OwnedMessage::StopAssociation(Stop { reason: 0 }),
        padding: STOP_PADDING,
    })
    .map_err(|e| e.to_string())
}

fn stop_no_response(ctx: &Ctx) -> Result<Verdict, String> {
    let mut c = connect(ctx, ctx.owner_b)?;
    c.start_association().map_err(|e| e.to_string())?;
    send_stop(&mut c)?;
    unanswered(
        &mut c,
        "the target answered an association stop request",
        "no message after the stop",
    )
}

fn stop_closes(ctx: &Ctx) -> Result<Verdict, String> {
    let mut c = connect(ctx, ctx.owner_b)?;
    c.start_association().map_err(|e| e.to_string())?;
    send_stop(&mut c)?;
    // Frames before the close are another rule's business: read past a few.
    let deadline = Instant::now() + Duration::from_secs(5);
    for _ in 0..8 {
        let left = deadline.saturating_duration_since(Instant::now());
        match react(&mut c, left) {
            Reaction::Closed => return Ok(Verdict::Pass),
            Reaction::Frame(_) => continue,
            Reaction::Silent => break,
            Reaction::Other(e) => return Err(e),
        }
    }
    Ok(fail(
        "the target kept the connection open after the stop".into(),
        "the connection closed within 5 s of the stop".into(),
        "still open after 5 s".into(),
    ))
}

/// An update-shaped message with RplOpCode `op` announcing `owners`.
fn update_body(op: u8, owners: &[OwnerRecord], initiator: Ipv4Addr) -> Vec<u8> {
    let mut body = vec![0, 0, 0, op];
    body.extend_from_slice(&(owners.len() as u32).to_be_bytes());
    for o in owners {
        body.extend_from_slice(&o.address.octets());
        body.extend_from_slice(&o.max_version.to_be_bytes());
        body.extend_from_slice(&o.min_version.to_be_bytes());
        body.extend_from_slice(&1u32.to_be_bytes());
    }
    body.extend_from_slice(&initiator.octets());
    body
}

fn update_opcode_6(ctx: &Ctx) -> Result<Verdict, String> {
    let o = owner(6);
    let nb = name_of(ctx, 0, 0x20);
    let mut store = RecordStore::default();
    store.add(
        o,
        unique(
            ctx,
            &nb,
            Who::Other(o),
            RecState::Active,
            false,
            matrix::NEW_ADDR,
            1,
        ),
    );
    let served_before = ctx
        .listener
        .as_ref()
        .map(|l| l.served.load(std::sync::atomic::Ordering::Relaxed));
    let mut c = connect(ctx, ctx.owner_a)?;
    c.start_association().map_err(|e| e.to_string())?;
    let body = update_body(6, &store.table(), ctx.owner_a);
    c.send_raw(&replication_frame(c.peer_ctx, &body))
        .map_err(|e| e.to_string())?;
    let seen = react(&mut c, QUIET * 2);
    let served_after = ctx
        .listener
        .as_ref()
        .map(|l| l.served.load(std::sync::atomic::Ordering::Relaxed));
    drop(c);
    let present = names_at(ctx, o)?.iter().any(|(n, _)| *n == nb);
    let expected =
        "no answer on the connection (a close is allowed), no pull, the record not stored";
    Ok(match seen {
        Reaction::Frame(f) => fail(
            "the target answered an update notification with RplOpCode 6".into(),
            expected.into(),
            format!("{:?}", f.message),
        ),
        Reaction::Other(e) => return Err(e),
        _ if present => fail(
            "the target applied the records an update with RplOpCode 6 announced".into(),
            expected.into(),
            format!("{nb} of owner {o} at the target"),
        ),
        _ if served_after != served_before => fail(
            "the target pulled after an update with RplOpCode 6".into(),
            expected.into(),
            "a connection to the partner listeners".into(),
        ),
        _ => Verdict::Pass,
    })
}

fn l_flag(ctx: &Ctx) -> Result<Verdict, String> {
    let h = holders(ctx)?;
    // A replica of owner A and a record the target owns.
    let replica = name_of(ctx, 1, 0x20);
    let refused = ctx.push(
        ctx.owner_a,
        ctx.owner_a,
        vec![(
            0,
            unique(
                ctx,
                &replica,
                Who::A,
                RecState::Active,
                false,
                matrix::NEW_ADDR,
                0,
            ),
        )],
    )?;
    if !refused.is_empty() {
        return Err(format!("the target refused the replica {replica}"));
    }
    let own = name_of(ctx, 2, 0x20);
    let from = *ctx.holder_addrs.last().unwrap_or(&ctx.holder_addrs[0]);
    let rc = h
        .register(from, &own, false, false)
        .map_err(|e| e.to_string())?;
    if rc != Rcode::NoError {
        return Err(format!("registration of {own} answered {rc}"));
    }
    let replicas = names_at(ctx, ctx.owner_a)?;
    let owned = names_at(ctx, ctx.local)?;
    if !replicas.iter().any(|(n, _)| *n == replica) || !owned.iter().any(|(n, _)| *n == own) {
        return Err(format!(
            "setup: {replica} (owner A) or {own} (the target) missing from the pulls"
        ));
    }
    let bad_replicas: Vec<String> = replicas
        .iter()
        .filter(|(_, r)| !r.flags.is_local())
        .map(|(n, _)| n.to_string())
        .collect();
    let bad_owned: Vec<String> = owned
        .iter()
        .filter(|(_, r)| r.flags.is_local())
        .map(|(n, _)| n.to_string())
        .collect();
    Ok(if bad_replicas.is_empty() && bad_owned.is_empty() {
        Verdict::Pass
    } else {
        fail(
            "wrong L flag on records the target sent".into(),
            format!(
                "L set on all {} replicas of owner A, clear on all {} records of the target",
                replicas.len(),
                owned.len()
            ),
            format!(
                "{} replicas with L clear (e.g. {}), {} own records with L set (e.g. {})",
                bad_replicas.len(),
                bad_replicas.first().map_or("-", String::as_str),
                bad_owned.len(),
                bad_owned.first().map_or("-", String::as_str),
            ),
        )
    })
}

/// The bytes of one name record as it sits in a name records response.
fn record_bytes(r: &OwnedNameRecord) -> Vec<u8> {
    let f = OwnedRepr {
        opcode: OPCODE_BITS,
        assoc_ctx: 0,
        message: OwnedMessage::Replication(OwnedReplication::NameRecordsResponse(vec![r.clone()])),
        padding: 0,
    }
    .to_vec()
    .unwrap_or_default();
    // Length word, 12 more header bytes, RplOpCode word, record count.
    f.get(24..).unwrap_or_default().to_vec()
}

fn overlong_name(ctx: &Ctx) -> Result<Verdict, String> {
    let o = owner(7);
    let names: Vec<NetbiosName> = (3..6).map(|i| name_of(ctx, i, 0x20)).collect();
    let recs: Vec<OwnedNameRecord> = names
        .iter()
        .zip(1u64..)
        .map(|(n, v)| {
            unique(
                ctx,
                n,
                Who::Other(o),
                RecState::Active,
                false,
                matrix::NEW_ADDR,
                v,
            )
        })
        .collect();
    // The middle record with a Name Length of 300: 300 name bytes (ending in
    // NUL, as a lenient reader would take them), 4 padding bytes, then the
    // rest of the record unchanged.
    let mid = record_bytes(&recs[1]);
    let mut long = 300u32.to_be_bytes().to_vec();
    long.extend_from_slice(&[b'A'; 299]);
    long.push(0);
    long.extend_from_slice(&[0; 4]);
    long.extend_from_slice(mid.get(4 + 17 + 3..).unwrap_or_default());
    let mut body = vec![0, 0, 0, 3];
    body.extend_from_slice(&3u32.to_be_bytes());
    body.extend_from_slice(&record_bytes(&recs[0]));
    body.extend_from_slice(&long);
    body.extend_from_slice(&record_bytes(&recs[2]));
    let mut c = connect(ctx, ctx.owner_a)?;
    c.start_association().map_err(|e| e.to_string())?;
    send_update(&mut c, o, 3, ctx.owner_a)?;
    let r = c
        .recv("a send-entries request after the update")
        .map_err(|e| e.to_string())?;
    let dest = match r.message {
        OwnedMessage::Replication(OwnedReplication::NameRecordsRequest(w)) if w.address == o => {
            r.assoc_ctx
        }
        other => {
            return Err(format!(
                "expected a send-entries request for {o}, got {other:?}"
            ))
        }
    };
    c.send_raw(&replication_frame(dest, &body))
        .map_err(|e| e.to_string())?;
    // Whatever the target does with the connection, then its view.
    let _ = react(&mut c, QUIET);
    drop(c);
    let got: Vec<NetbiosName> = names_at(ctx, o)?
        .into_iter()
        .map(|(n, _)| n)
        .filter(|n| names.contains(n))
        .collect();
    Ok(if got.is_empty() {
        Verdict::Pass
    } else {
        fail(
            "the target applied records of a response holding a Name Length of 300".into(),
            format!("none of {}, {} stored", names[0], names[2]),
            format!("stored: {got:?}"),
        )
    })
}

fn address_added(ctx: &Ctx) -> Result<Verdict, String> {
    let h = holders(ctx)?;
    let nb = name_of(ctx, 6, 0x1c);
    let (a1, a2) = (ctx.holder_addrs[0], ctx.holder_addrs[1]);
    let reg = |from| -> Result<(), String> {
        match h
            .register(from, &nb, true, false)
            .map_err(|e| e.to_string())?
        {
            Rcode::NoError => Ok(()),
            rc => Err(format!(
                "group registration of {nb} from {from} answered {rc}"
            )),
        }
    };
    reg(a1)?;
    let v1 = local_record(ctx, &nb)?
        .ok_or_else(|| format!("{nb} is not among the target's records"))?
        .version;
    reg(a2)?;
    let r = local_record(ctx, &nb)?.ok_or_else(|| {
        format!("{nb} is not among the target's records after the second address")
    })?;
    let addrs: Vec<Ipv4Addr> = r.addresses.iter().map(|p| p.address).collect();
    if !addrs.contains(&a2) {
        return Err(format!(
            "the second address {a2} was not added to {nb} (addresses {addrs:?}): nothing to judge"
        ));
    }
    Ok(if r.version > v1 {
        Verdict::Pass
    } else {
        fail(
            "adding an address to a special group kept the record's version".into(),
            format!("a version above {v1}"),
            format!("version {} with addresses {addrs:?}", r.version),
        )
    })
}

fn take_ownership(ctx: &Ctx) -> Result<Verdict, String> {
    let h = holders(ctx)?;
    let nb = name_of(ctx, 7, 0x20);
    let holder = ctx.holder_addrs[0];
    let refused = ctx.push(
        ctx.owner_a,
        ctx.owner_a,
        vec![(
            0,
            unique(ctx, &nb, Who::A, RecState::Active, false, holder, 0),
        )],
    )?;
    if !refused.is_empty() {
        return Err(format!("the target refused the replica {nb}"));
    }
    if !names_at(ctx, ctx.owner_a)?.iter().any(|(n, _)| *n == nb) {
        return Err(format!(
            "setup: the replica {nb} of owner A is not at the target"
        ));
    }
    let before = super::local_max(ctx)?;
    let rc = h.refresh(holder, &nb, false).map_err(|e| e.to_string())?;
    if rc != Rcode::NoError {
        return Ok(fail(
            "the holder's refresh of a replica was refused".into(),
            format!("a positive refresh of {nb} from its holder {holder}"),
            format!("{rc}"),
        ));
    }
    let still_a = names_at(ctx, ctx.owner_a)?.iter().any(|(n, _)| *n == nb);
    let own = local_record(ctx, &nb)?;
    Ok(match own {
        Some(r) if !still_a && r.version > before => Verdict::Pass,
        _ => fail(
            "the refreshed replica did not become the target's own with a new version".into(),
            format!(
                "{nb} owned by the target with a version above {before}, no longer under owner A"
            ),
            format!(
                "under owner A: {still_a}; the target's own: {}",
                own.map_or("absent".into(), |r| format!("version {}", r.version))
            ),
        ),
    })
}

fn release_keeps_version(ctx: &Ctx) -> Result<Verdict, String> {
    let h = holders(ctx)?;
    let nb = name_of(ctx, 8, 0x20);
    let from = *ctx.holder_addrs.last().unwrap_or(&ctx.holder_addrs[0]);
    let rc = h
        .register(from, &nb, false, false)
        .map_err(|e| e.to_string())?;
    if rc != Rcode::NoError {
        return Err(format!("registration of {nb} answered {rc}"));
    }
    let v = local_record(ctx, &nb)?
        .ok_or_else(|| format!("{nb} is not among the target's records"))?
        .version;
    let before = super::local_max(ctx)?;
    let rc = h.release(from, &nb, false).map_err(|e| e.to_string())?;
    if rc != Rcode::NoError {
        return Err(format!("release of {nb} answered {rc}"));
    }
    let after = super::local_max(ctx)?;
    let shown = local_record(ctx, &nb)?;
    Ok(if after == before {
        Verdict::Pass
    } else {
        fail(
            "the release gave the record a new version".into(),
            format!("the target's max version stays {before} (the record had {v})"),
            format!(
                "max version {after}; the record in a pull: {}",
                shown.map_or("absent".into(), |r| format!(
                    "{} version {}",
                    r.flags, r.version
                ))
            ),
        )
    })
}

/// The pull-partner flow of `min-plus-one` and `no-request-if-current`, each
/// with owners of its own (`base`, `base + 1`) and names from `first_name`:
/// an update announcing owner P with versions 1..=2, then 1..=4; then P at 4
/// again with a fresh owner Q at 1. Returns the three request lists.
#[allow(clippy::type_complexity)]
fn pull_flow(
    ctx: &Ctx,
    base: u8,
    first_name: usize,
) -> Result<(Ipv4Addr, Ipv4Addr, [Vec<(Ipv4Addr, u64, u64)>; 3]), String> {
    let (p, q) = (owner(base), owner(base + 1));
    let rec = |i: usize, o: Ipv4Addr, v: u64| {
        let nb = name_of(ctx, first_name + i, 0x20);
        unique(
            ctx,
            &nb,
            Who::Other(o),
            RecState::Active,
            false,
            matrix::NEW_ADDR,
            v,
        )
    };
    let mut store = RecordStore::default();
    store.add(p, rec(0, p, 1));
    store.add(p, rec(1, p, 2));
    let first = push_store(ctx, ctx.owner_a, &store)?;
    store.add(p, rec(2, p, 3));
    store.add(p, rec(3, p, 4));
    let second = push_store(ctx, ctx.owner_a, &store)?;
    store.add(q, rec(4, q, 1));
    let third = push_store(ctx, ctx.owner_a, &store)?;
    Ok((p, q, [first, second, third]))
}

fn min_plus_one(ctx: &Ctx) -> Result<Verdict, String> {
    let (p, _, [first, second, _]) = pull_flow(ctx, 8, 10)?;
    let got_p: Vec<_> = second.iter().filter(|r| r.0 == p).collect();
    if !first.iter().any(|r| r.0 == p) {
        return Err(format!(
            "the target never pulled owner {p}'s versions 1..=2: {first:?}"
        ));
    }
    Ok(match got_p.as_slice() {
        [(_, 3, _)] => Verdict::Pass,
        _ => fail(
            "the pull partner's min version is not its highest version plus 1".into(),
            format!("one request for {p} with min 3 (it holds 1..=2; announced max 4)"),
            format!("requests {second:?}"),
        ),
    })
}

fn no_request_if_current(ctx: &Ctx) -> Result<Verdict, String> {
    let (p, q, [_, second, third]) = pull_flow(ctx, 12, 15)?;
    if !second.iter().any(|r| r.0 == p) {
        return Err(format!(
            "the target never pulled owner {p}'s versions 3..=4: {second:?}"
        ));
    }
    let asked_p = third.iter().any(|r| r.0 == p);
    let asked_q = third.iter().any(|r| r.0 == q);
    Ok(if !asked_p && asked_q {
        Verdict::Pass
    } else {
        fail(
            if asked_p {
                "the target asked for records of an owner it already has up to the announced max"
            } else {
                "the target did not pull the new owner announced with the current one"
            }
            .into(),
            format!("a request for {q} only ({p} is current at 4)"),
            format!("requests {third:?}"),
        )
    })
}

fn range(ctx: &Ctx) -> Result<Verdict, String> {
    let o = owner(10);
    let mut store = RecordStore::default();
    for v in 1..=5u64 {
        store.add(
            o,
            unique(
                ctx,
                &name_of(ctx, 20 + v as usize, 0x20),
                Who::Other(o),
                RecState::Active,
                false,
                matrix::NEW_ADDR,
                v,
            ),
        );
    }
    push_store(ctx, ctx.owner_a, &store)?;
    let all = ctx.session(ctx.owner_a, |c| c.send_entries(o, 1, 5))?;
    if all.len() != 5 {
        return Err(format!(
            "setup: the target holds {} of owner {o}'s 5 records",
            all.len()
        ));
    }
    let got = ctx.session(ctx.owner_a, |c| c.send_entries(o, 2, 4))?;
    let mut versions: Vec<u64> = got.iter().map(|r| r.version).collect();
    versions.sort_unstable();
    Ok(if versions == [2, 3, 4] {
        Verdict::Pass
    } else {
        fail(
            "the records sent are not those of the requested range".into(),
            "versions 2, 3, 4 of the owner (min 2, max 4)".into(),
            format!("versions {versions:?}"),
        )
    })
}

fn non_partner(ctx: &Ctx) -> Result<Verdict, String> {
    if NON_PARTNER == ctx.owner_a || NON_PARTNER == ctx.owner_b {
        return Err(format!(
            "{NON_PARTNER} is one of the runner's partner addresses"
        ));
    }
    let o = owner(11);
    let (st, dy) = (name_of(ctx, 30, 0x20), name_of(ctx, 31, 0x20));
    // A static tombstone (the AD DC cannot store a static active replica)
    // and a dynamic active record.
    let mut store = RecordStore::default();
    store.add(
        o,
        unique(
            ctx,
            &st,
            Who::Other(o),
            RecState::Tombstone,
            true,
            matrix::NEW_ADDR,
            1,
        ),
    );
    store.add(
        o,
        unique(
            ctx,
            &dy,
            Who::Other(o),
            RecState::Active,
            false,
            matrix::NEW_ADDR,
            2,
        ),
    );
    push_store(ctx, ctx.owner_a, &store)?;
    let at_partner = names_at(ctx, o)?;
    if !at_partner
        .iter()
        .any(|(n, r)| *n == st && r.flags.is_static())
    {
        return Err(format!(
            "setup: the static record {st} of owner {o} is not sent to a partner, nothing to judge"
        ));
    }
    // The association shut down at any step is one of the two answers allowed.
    let stopped = || Ok(Verdict::Pass);
    let mut c = match Conn::connect(Some(NON_PARTNER), ctx.target, T) {
        Ok(c) => c,
        Err(_) => return stopped(),
    };
    if c.start_association().is_err() {
        return stopped();
    }
    match c.owner_map() {
        Ok(_) => {}
        Err(_) => return stopped(),
    }
    let recs = match c.send_entries(o, 0, 0) {
        Ok(r) => r,
        Err(PartnerError::Unexpected(m)) if m.starts_with("stop association") => return stopped(),
        Err(PartnerError::Closed(_)) => return stopped(),
        Err(e) => return Err(e.to_string()),
    };
    let _ = c.stop();
    let statics: Vec<String> = recs
        .iter()
        .filter(|r| r.flags.is_static())
        .filter_map(netbios)
        .map(|n| n.to_string())
        .collect();
    Ok(if statics.is_empty() {
        Verdict::Pass
    } else {
        fail(
            "a host that is not a partner was sent static records".into(),
            format!("only dynamic records of {o} (or the association stopped)"),
            format!("static records sent to {NON_PARTNER}: {statics:?}"),
        )
    })
}
