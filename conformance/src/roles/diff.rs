//! Differential runs (`nbns-conform diff`): the same scripts against two targets, every
//! datagram each target sent to the runner compared field by field, whatever the scripts
//! expect.
//!
//! Each script runs in a lenient form ([`lenient`]): `expect` steps keep only where and how
//! long to wait (no matchers, a WACK is not required), `expect-none` becomes a `wait`, and
//! every `challenge` is optional. So a script runs to its end on both targets unless one of
//! them leaves a request unanswered. What a target sent for a script is then read from the
//! runner's sockets ([`Net::received_since`]) and given a place in the script's exchange
//! ([`Place`]): the n-th WACK or the n-th other reply to the request of a `send` line, the
//! n-th request the target sent for one of the script's names (a challenge query, a release
//! demand), or, for scripts with hand-made packets (run one at a time), the n-th datagram
//! that answers nothing else. Packets in the same place on both sides are compared field by
//! field ([`fields`]) after normalising what differs by construction: the target's own
//! address and name, transaction ids (not compared), TTLs within a tolerance.

use crate::net::{Incoming, Net};
use crate::roles::runner::{self, Target};
use crate::script::steps::{
    Challenge, Expect, Instantiated, Payload, Step, StepKind, DEFAULT_EXPECT_TIMEOUT,
};
use crate::strict::traffic::Sent;
use crate::verdict::Verdict;
use nbns_wire::nbns::{RData, Record, Repr};
use nbns_wire::Name;
use std::collections::{BTreeMap, HashSet};
use std::fmt::Write as _;
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long after a script ended datagrams are still counted as its (late answers).
pub const SETTLE: Duration = Duration::from_secs(1);

/// Extra time a lenient `expect` that stood after a WACK waits for the final answer (the
/// original waits as long as the WACK's TTL asks).
pub const WACK_EXTRA: Duration = Duration::from_secs(10);

/// The default tolerance, in seconds, for TTLs (remaining times differ between runs).
pub const DEFAULT_TTL_TOLERANCE: u32 = 2;

/// The script with its judging taken out: replies are awaited but not checked, a WACK is
/// not required, `expect-none` only waits, challenges are optional.
pub fn lenient(script: &Instantiated) -> Instantiated {
    let steps = script
        .steps
        .iter()
        .map(|step| {
            let kind = match &step.kind {
                StepKind::Expect(e) => {
                    let timeout = e.timeout.unwrap_or(DEFAULT_EXPECT_TIMEOUT)
                        + if e.wack.is_some() {
                            WACK_EXTRA
                        } else {
                            Duration::ZERO
                        };
                    StepKind::Expect(Box::new(Expect {
                        to: e.to,
                        timeout: Some(timeout),
                        any_id: e.any_id,
                        wack_only: e.wack_only,
                        id: e.id,
                        ..Expect::default()
                    }))
                }
                StepKind::ExpectNone { within, .. } => StepKind::Wait(*within),
                StepKind::Challenge(c) => StepKind::Challenge(Challenge {
                    optional: true,
                    ..c.clone()
                }),
                other => other.clone(),
            };
            Step {
                line: step.line,
                kind,
            }
        })
        .collect();
    Instantiated {
        limit: script.limit,
        retries: script.retries,
        steps,
    }
}

/// True when the script sends a hand-made (`raw=`) packet: its transaction ids are the
/// script's choice, so it runs alone and its stray answers are its own.
pub fn has_raw(script: &Instantiated) -> bool {
    script
        .steps
        .iter()
        .any(|s| matches!(&s.kind, StepKind::Send(send) if matches!(send.payload, Payload::Raw(_))))
}

/// The script lines of the `send` steps, in order (the i-th traced datagram is the i-th).
pub fn send_lines(script: &Instantiated) -> Vec<usize> {
    script
        .steps
        .iter()
        .filter(|s| matches!(s.kind, StepKind::Send(_)))
        .map(|s| s.line)
        .collect()
}

/// Where a datagram of the target stands in a script's exchange.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Place {
    /// The `nth` (0-based) reply to the request of send step `send` (0-based; the first
    /// send with the reply's transaction id); WACKs (`wack`) counted apart from the other
    /// replies.
    Reply { send: usize, wack: bool, nth: usize },
    /// The `nth` request the target sent about one of the script's names.
    Request { nth: usize },
    /// The `nth` datagram of a hand-made script's run that answers no known request.
    Other { nth: usize },
}

impl Place {
    /// The label of the table's `step` column: `L7 reply 1`, `L7 WACK 1`, `request 1`.
    pub fn label(&self, send_lines: &[usize]) -> String {
        match *self {
            Place::Reply { send, wack, nth } => format!(
                "L{} {} {}",
                send_lines.get(send).copied().unwrap_or(0),
                if wack { "WACK" } else { "reply" },
                nth + 1
            ),
            Place::Request { nth } => format!("request {}", nth + 1),
            Place::Other { nth } => format!("other {}", nth + 1),
        }
    }
}

/// One datagram as compared: its fields (normalised) and a one-line summary.
#[derive(Debug, Clone, PartialEq)]
pub struct Observed {
    pub fields: Vec<(String, String)>,
    pub summary: String,
}

/// What one target did in one script.
#[derive(Debug, Clone, PartialEq)]
pub struct Exchange {
    /// `complete`, or where and why the lenient script stopped.
    pub run: String,
    pub send_lines: Vec<usize>,
    pub packets: BTreeMap<Place, Observed>,
}

/// One disagreement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Difference {
    pub script: String,
    pub step: String,
    pub field: String,
    pub a: String,
    pub b: String,
}

/// How a side's values are normalised.
#[derive(Debug, Clone)]
pub struct Normalise {
    pub target_ip: IpAddr,
    pub target_name: String,
}

impl Normalise {
    fn ip(&self, ip: std::net::Ipv4Addr) -> String {
        if IpAddr::V4(ip) == self.target_ip {
            "{target_ip}".into()
        } else {
            ip.to_string()
        }
    }

    fn netbios(&self, n: &nbns_wire::NetbiosName) -> String {
        if !self.target_name.is_empty()
            && n.trimmed()
                .eq_ignore_ascii_case(self.target_name.as_bytes())
        {
            format!("{{target_name}}<{:02x}>", n.suffix())
        } else {
            n.to_string()
        }
    }

    fn name(&self, n: &Name<'_>) -> String {
        match n {
            Name::Netbios { name, scope } if !scope.is_empty() => {
                format!("{}.{scope}", self.netbios(name))
            }
            Name::Netbios { name, .. } => self.netbios(name),
            Name::Domain(_) => n.to_string(),
        }
    }
}

/// Bytes as hex, `empty` for none.
fn hex(b: &[u8]) -> String {
    if b.is_empty() {
        return "empty".into();
    }
    b.iter().fold(String::new(), |mut s, x| {
        let _ = write!(s, "{x:02x}");
        s
    })
}

fn yes(b: bool) -> String {
    if b { "1" } else { "0" }.into()
}

/// The fields of a datagram, normalised, in a fixed order.
pub fn fields(bytes: &[u8], norm: &Normalise) -> Observed {
    let mut out: Vec<(String, String)> = Vec::new();
    let mut push = |k: &str, v: String| out.push((k.to_string(), v));
    let r = match Repr::parse_bytes(bytes) {
        Ok(r) => r,
        Err(e) => {
            push("decode", format!("undecodable: {e}"));
            push("length", bytes.len().to_string());
            return Observed {
                fields: out,
                summary: format!("undecodable ({} bytes)", bytes.len()),
            };
        }
    };
    let f = &r.flags;
    push("response", yes(f.response));
    push("opcode", f.opcode.to_string());
    push("rcode", f.rcode.to_string());
    push("AA", yes(f.authoritative));
    push("TC", yes(f.truncated));
    push("RD", yes(f.recursion_desired));
    push("RA", yes(f.recursion_available));
    push("B", yes(f.broadcast));
    push("reserved", format!("{:#x}", f.reserved));
    for (i, k) in ["qdcount", "ancount", "nscount", "arcount"]
        .into_iter()
        .enumerate()
    {
        let v = bytes
            .get(4 + 2 * i..6 + 2 * i)
            .map_or(0, |b| u16::from_be_bytes([b[0], b[1]]));
        push(k, v.to_string());
    }
    if let Some(q) = r.question {
        push("question.name", norm.name(&q.name));
        push("question.type", q.qtype.to_string());
        push("question.class", q.qclass.to_string());
    }
    for (prefix, rec) in [("an", r.answer), ("ns", r.authority), ("ar", r.additional)] {
        if let Some(rec) = rec {
            record_fields(prefix, &rec, norm, &mut push);
        }
    }
    let summary = format!(
        "{} {} {}{}",
        if f.response { "response" } else { "request" },
        f.opcode,
        f.rcode,
        r.answer
            .or(r.additional)
            .map(|a| match a.rdata {
                RData::Nb(list) => format!(
                    " ttl={} {}",
                    a.ttl,
                    list.iter()
                        .map(|e| norm.ip(e.addr))
                        .collect::<Vec<_>>()
                        .join(",")
                ),
                _ => format!(" ttl={}", a.ttl),
            })
            .unwrap_or_default()
    );
    Observed {
        fields: out,
        summary: summary.trim_end().to_string(),
    }
}

fn record_fields(p: &str, rec: &Record<'_>, norm: &Normalise, push: &mut impl FnMut(&str, String)) {
    push(&format!("{p}.name"), norm.name(&rec.name));
    push(&format!("{p}.type"), rec.rdata.rtype().to_string());
    push(&format!("{p}.class"), rec.class.to_string());
    push(&format!("{p}.ttl"), rec.ttl.to_string());
    match rec.rdata {
        RData::Nb(list) => {
            // The entries as a set: sorted, so a different order is not a difference.
            let mut entries: Vec<_> = list.iter().map(|e| (e.addr, e.flags)).collect();
            entries.sort();
            push(&format!("{p}.entries"), entries.len().to_string());
            for (i, (addr, flags)) in entries.iter().enumerate() {
                push(&format!("{p}.nb[{i}].flags"), flags.to_string());
                push(&format!("{p}.nb[{i}].addr"), norm.ip(*addr));
            }
        }
        RData::Wack(w) => push(&format!("{p}.wack"), format!("{w:#06x}")),
        RData::NbStat(s) => {
            push(&format!("{p}.status.names"), s.names.len().to_string());
            for (i, n) in s.names.iter().enumerate() {
                push(
                    &format!("{p}.status[{i}]"),
                    format!("{} {:#06x}", norm.netbios(&n.name), n.flags),
                );
            }
            push(
                &format!("{p}.status.statistics"),
                format!("{} bytes", s.statistics.len()),
            );
        }
        RData::A(a) => push(&format!("{p}.a"), norm.ip(a)),
        RData::Ns(n) => push(&format!("{p}.ns"), norm.name(&n)),
        RData::Null(d) => push(&format!("{p}.null"), hex(d)),
        RData::Unknown { data, .. } => push(&format!("{p}.rdata"), hex(data)),
    }
}

fn id_of(bytes: &[u8]) -> Option<u16> {
    bytes.get(..2).map(|b| u16::from_be_bytes([b[0], b[1]]))
}

/// Gives each datagram of the target a place in a script's exchange.
///
/// `received`: what arrived during the script and its settle time, oldest first.
/// `other_until`: for a hand-made script run alone, the end of its run: datagrams before it
/// that answer no known request (`foreign` holds every other script's ids) are `Other`.
pub fn places(
    target_ip: IpAddr,
    from_target: &dyn Fn(&Incoming) -> bool,
    sent: &[Sent],
    received: &[Incoming],
    other_until: Option<Instant>,
    foreign: &HashSet<u16>,
) -> Vec<(Place, Incoming)> {
    // A request sent again with the same id (a retransmission) is the first one's: which
    // of them a reply answers cannot be told.
    let to_target: Vec<(usize, &Sent, Option<u16>)> = sent
        .iter()
        .enumerate()
        .filter(|(_, s)| s.to.ip() == target_ip)
        .map(|(j, s)| (j, s, id_of(&s.bytes)))
        .collect();
    let first_with = |id: Option<u16>| {
        to_target
            .iter()
            .find(|(_, _, sid)| *sid == id)
            .map_or(0, |&(j, _, _)| j)
    };
    let names: HashSet<String> = sent
        .iter()
        .filter_map(|s| Repr::parse_bytes(&s.bytes).ok())
        .flat_map(|r| {
            [
                r.question.map(|q| q.name),
                r.answer.map(|a| a.name),
                r.additional.map(|a| a.name),
            ]
        })
        .flatten()
        .map(|n| n.to_string())
        .collect();
    let mut counts: BTreeMap<(u8, usize, bool), usize> = BTreeMap::new();
    let mut next = |kind: u8, send: usize, wack: bool| {
        let c = counts.entry((kind, send, wack)).or_insert(0);
        *c += 1;
        *c - 1
    };
    let mut out = Vec::new();
    for i in received.iter().filter(|i| from_target(i)) {
        let id = id_of(&i.bytes);
        let response = i.bytes.get(2).is_some_and(|b| b & 0x80 != 0);
        let parsed = Repr::parse_bytes(&i.bytes).ok();
        let place = if response {
            to_target
                .iter()
                .rev()
                .find(|(_, s, sid)| id.is_some() && *sid == id && s.at <= i.at)
                .map(|&(_, _, sid)| {
                    let send = first_with(sid);
                    let wack = parsed
                        .as_ref()
                        .is_some_and(|r| r.flags.opcode == nbns_wire::nbns::Opcode::Wack);
                    Place::Reply {
                        send,
                        wack,
                        nth: next(0, send, wack),
                    }
                })
        } else {
            parsed
                .as_ref()
                .and_then(|r| r.question)
                .filter(|q| names.contains(&q.name.to_string()))
                .map(|_| Place::Request {
                    nth: next(1, 0, false),
                })
        };
        let place = place.or_else(|| {
            let until = other_until?;
            let known = to_target.iter().any(|(_, _, sid)| *sid == id);
            (i.at <= until && !known && !id.is_some_and(|id| foreign.contains(&id))).then(|| {
                Place::Other {
                    nth: next(2, 0, false),
                }
            })
        });
        if let Some(p) = place {
            out.push((p, i.clone()));
        }
    }
    out
}

/// A side of the comparison, ready to run.
pub struct Side<'a> {
    pub net: &'a Net,
    pub target: Target,
    /// Also require the source port (the two targets share an address).
    pub match_port: bool,
    pub norm: Normalise,
}

impl Side<'_> {
    fn sent_by_target(&self, i: &Incoming) -> bool {
        i.from.ip() == self.target.addr.ip()
            && (!self.match_port || i.from.port() == self.target.addr.port())
    }
}

struct Finished {
    index: usize,
    start: Instant,
    end: Instant,
    verdict: Verdict,
    trace: Vec<Sent>,
}

fn run_status(v: &Verdict) -> String {
    match v {
        Verdict::Pass | Verdict::Violation(_) => "complete".into(),
        Verdict::Fail(f) => format!("stopped at line {}: {}", f.line, f.mismatch),
        Verdict::Error(e) => format!("error: {e}"),
        Verdict::Skipped(s) => format!("skipped: {s}"),
    }
}

/// A side is given up as unreachable when, after this many scripts (or all, if fewer) or
/// [`UNREACHABLE_AFTER`], not one datagram came from it.
pub const UNREACHABLE_SCRIPTS: usize = 8;
pub const UNREACHABLE_AFTER: Duration = Duration::from_secs(10);

/// What a batch of scripts shares about the side's run.
struct Watch {
    start: Instant,
    heard: bool,
    collected: usize,
    total: usize,
    given_up: AtomicBool,
}

/// Runs the (lenient) scripts against one side: those without hand-made packets `jobs` at
/// a time, then the others one at a time, and last, one at a time, those `disruptive` marks
/// (scripts that can take a faulty target down, as the server role runs them). One exchange
/// a script, in script order; an error when not one datagram came from the target
/// ([`UNREACHABLE_SCRIPTS`]).
pub fn run_side(
    side: &Side<'_>,
    scripts: &[Instantiated],
    disruptive: &[bool],
    jobs: usize,
    on_done: &(dyn Fn(usize) + Sync),
) -> Result<Vec<Exchange>, String> {
    let lenient: Vec<Instantiated> = scripts.iter().map(lenient).collect();
    let (last, rest): (Vec<usize>, Vec<usize>) =
        (0..scripts.len()).partition(|&i| disruptive.get(i).copied().unwrap_or(false));
    let (raw, plain): (Vec<usize>, Vec<usize>) =
        rest.into_iter().partition(|&i| has_raw(&scripts[i]));
    let seen = Mutex::new(HashSet::new());
    let mut out: Vec<Option<Exchange>> = vec![None; scripts.len()];
    let mut watch = Watch {
        start: Instant::now(),
        heard: false,
        collected: 0,
        total: scripts.len(),
        given_up: AtomicBool::new(false),
    };
    side.net.clear();
    let batch = |indices: &[usize], jobs, alone, out: &mut [Option<Exchange>], w: &mut Watch| {
        run_batch(side, &lenient, indices, jobs, alone, &seen, out, w, on_done)
    };
    batch(&plain, jobs, false, &mut out, &mut watch);
    batch(&raw, 1, true, &mut out, &mut watch);
    batch(&last, 1, true, &mut out, &mut watch);
    if watch.given_up.load(Ordering::Relaxed) {
        return Err(format!(
            "not one datagram from {} in {} script(s), {:.1} s",
            side.target.addr,
            watch.collected,
            watch.start.elapsed().as_secs_f64()
        ));
    }
    Ok(out
        .into_iter()
        .enumerate()
        .map(|(i, e)| {
            e.unwrap_or_else(|| Exchange {
                run: "not run".into(),
                send_lines: send_lines(&scripts[i]),
                packets: BTreeMap::new(),
            })
        })
        .collect())
}

#[allow(clippy::too_many_arguments)]
fn run_batch(
    side: &Side<'_>,
    scripts: &[Instantiated],
    indices: &[usize],
    jobs: usize,
    alone: bool,
    seen: &Mutex<HashSet<u16>>,
    out: &mut [Option<Exchange>],
    watch: &mut Watch,
    on_done: &(dyn Fn(usize) + Sync),
) {
    let next = AtomicUsize::new(0);
    let finished: Mutex<Vec<Finished>> = Mutex::new(Vec::new());
    let workers = jobs.clamp(1, 64);
    let exited = AtomicUsize::new(0);
    let take_all = |m: &Mutex<Vec<Finished>>| {
        std::mem::take(&mut *m.lock().unwrap_or_else(|p| p.into_inner()))
    };
    let given_up = &watch.given_up;
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| {
                loop {
                    if given_up.load(Ordering::Relaxed) {
                        break;
                    }
                    let Some(&index) = indices.get(next.fetch_add(1, Ordering::Relaxed)) else {
                        break;
                    };
                    let start = Instant::now();
                    let (verdict, trace) =
                        runner::run_traced(side.net, &side.target, &scripts[index]);
                    let end = Instant::now();
                    finished
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .push(Finished {
                            index,
                            start,
                            end,
                            verdict,
                            trace,
                        });
                }
                exited.fetch_add(1, Ordering::Relaxed);
            });
        }
        let mut waiting: Vec<Finished> = Vec::new();
        loop {
            // Read before gathering: a worker that exited has pushed its last script.
            let all_exited = exited.load(Ordering::Relaxed) == workers;
            waiting.extend(take_all(&finished));
            if all_exited && waiting.is_empty() {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
            if !watch.heard {
                watch.heard = side
                    .net
                    .received_since(watch.start)
                    .iter()
                    .any(|i| side.sent_by_target(i));
                let after = watch.start.elapsed();
                if !watch.heard
                    && (watch.collected >= UNREACHABLE_SCRIPTS.min(watch.total)
                        || after >= UNREACHABLE_AFTER)
                {
                    given_up.store(true, Ordering::Relaxed);
                }
            }
            let now = Instant::now();
            let (due, later): (Vec<Finished>, Vec<Finished>) = waiting
                .drain(..)
                .partition(|f| f.end + SETTLE <= now || given_up.load(Ordering::Relaxed));
            waiting = later;
            for f in due {
                watch.collected += 1;
                let mut received = side.net.received_since(f.start);
                if alone {
                    // The next script started as this one ended: what came later is its.
                    received.retain(|i| i.at <= f.end);
                }
                let foreign = seen.lock().unwrap_or_else(|p| p.into_inner()).clone();
                let found = places(
                    side.target.addr.ip(),
                    &|i| side.sent_by_target(i),
                    &f.trace,
                    &received,
                    alone.then_some(f.end),
                    &foreign,
                );
                seen.lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .extend(f.trace.iter().filter_map(|s| id_of(&s.bytes)));
                out[f.index] = Some(Exchange {
                    run: run_status(&f.verdict),
                    send_lines: send_lines(&scripts[f.index]),
                    packets: found
                        .into_iter()
                        .map(|(p, i)| (p, fields(&i.bytes, &side.norm)))
                        .collect(),
                });
                on_done(f.index);
            }
        }
    });
}

/// True when the values differ beyond the tolerance (TTL fields compare as numbers).
fn differs(field: &str, a: &str, b: &str, ttl_tolerance: u32) -> bool {
    if a == b {
        return false;
    }
    if field.ends_with(".ttl") {
        if let (Ok(x), Ok(y)) = (a.parse::<u32>(), b.parse::<u32>()) {
            return x.abs_diff(y) > ttl_tolerance;
        }
    }
    true
}

/// The disagreements between two sides' exchanges of one script.
pub fn compare(script: &str, a: &Exchange, b: &Exchange, ttl_tolerance: u32) -> Vec<Difference> {
    let mut out = Vec::new();
    let mut diff = |step: String, field: &str, va: &str, vb: &str| {
        out.push(Difference {
            script: script.to_string(),
            step,
            field: field.to_string(),
            a: va.to_string(),
            b: vb.to_string(),
        })
    };
    if a.run != b.run {
        diff("-".into(), "run", &a.run, &b.run);
    }
    let places: std::collections::BTreeSet<Place> =
        a.packets.keys().chain(b.packets.keys()).copied().collect();
    for p in places {
        let step = p.label(&a.send_lines);
        match (a.packets.get(&p), b.packets.get(&p)) {
            (Some(x), Some(y)) => {
                let mut names: Vec<&str> = x.fields.iter().map(|(k, _)| k.as_str()).collect();
                for (k, _) in &y.fields {
                    if !names.contains(&k.as_str()) {
                        names.push(k);
                    }
                }
                let get = |o: &Observed, k: &str| {
                    o.fields
                        .iter()
                        .find(|(f, _)| f == k)
                        .map_or("-".to_string(), |(_, v)| v.clone())
                };
                for k in names {
                    let (va, vb) = (get(x, k), get(y, k));
                    if differs(k, &va, &vb, ttl_tolerance) {
                        diff(step.clone(), k, &va, &vb);
                    }
                }
            }
            (Some(x), None) => diff(step, "packet", &x.summary, "none"),
            (None, Some(y)) => diff(step, "packet", "none", &y.summary),
            (None, None) => {}
        }
    }
    out
}

/// The table of differences, columns aligned.
pub fn table(diffs: &[Difference]) -> String {
    let header = ["script", "step", "field", "A", "B"];
    let rows: Vec<[&str; 5]> = diffs
        .iter()
        .map(|d| {
            [
                d.script.as_str(),
                d.step.as_str(),
                d.field.as_str(),
                d.a.as_str(),
                d.b.as_str(),
            ]
        })
        .collect();
    let mut width = header.map(|h| h.chars().count());
    for r in &rows {
        for (w, c) in width.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let mut s = String::new();
    let mut line = |cells: [&str; 5]| {
        let mut l = String::new();
        for (i, (c, w)) in cells.iter().zip(width).enumerate() {
            if i > 0 {
                l.push_str(" | ");
            }
            if i == 4 {
                l.push_str(c);
            } else {
                let _ = write!(l, "{c:<w$}");
            }
        }
        s.push_str(l.trim_end());
        s.push('\n');
    };
    line(header);
    let rule: Vec<String> = width.iter().map(|w| "-".repeat(*w)).collect();
    line([&rule[0], &rule[1], &rule[2], &rule[3], &rule[4]]);
    for r in rows {
        line(r);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obs(fields: &[(&str, &str)]) -> Observed {
        Observed {
            fields: fields
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            summary: "s".into(),
        }
    }

    #[test]
    fn ttl_within_tolerance_is_no_difference() {
        let place = Place::Reply {
            send: 0,
            wack: false,
            nth: 0,
        };
        let ex = |ttl: &str| Exchange {
            run: "complete".into(),
            send_lines: vec![7],
            packets: [(place, obs(&[("rcode", "OK"), ("an.ttl", ttl)]))].into(),
        };
        assert!(compare("s", &ex("300"), &ex("298"), 2).is_empty());
        let d = compare("s", &ex("300"), &ex("297"), 2);
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].step, "L7 reply 1");
        assert_eq!(d[0].field, "an.ttl");
        let none = Exchange {
            packets: BTreeMap::new(),
            ..ex("1")
        };
        let d = compare("s", &ex("300"), &none, 2);
        assert_eq!((d[0].field.as_str(), d[0].b.as_str()), ("packet", "none"));
    }

    #[test]
    fn own_address_and_name_are_normalised() {
        use nbns_wire::nbns::{
            Compression, Flags, List, NbEntry, NbFlags, NodeType, Opcode, Rcode, CLASS_IN,
        };
        use nbns_wire::{Labels, NetbiosName};
        let ip = std::net::Ipv4Addr::new(10, 0, 0, 1);
        let entries = [NbEntry {
            flags: NbFlags::new(false, NodeType::H),
            addr: ip,
        }];
        let name = Name::netbios(NetbiosName::new(b"SRV", 0x20).unwrap(), Labels::EMPTY).unwrap();
        let r = Repr {
            id: 9,
            flags: Flags {
                rcode: Rcode::NoError,
                ..Flags::request(Opcode::Query)
            },
            question: None,
            answer: Some(Record {
                name,
                class: CLASS_IN,
                ttl: 5,
                rdata: RData::Nb(List::Items(&entries)),
            }),
            authority: None,
            additional: None,
        };
        let mut buf = vec![0; r.buffer_len(Compression::None)];
        r.emit(&mut buf, Compression::None).unwrap();
        let o = fields(
            &buf,
            &Normalise {
                target_ip: IpAddr::V4(ip),
                target_name: "srv".into(),
            },
        );
        let get = |k: &str| o.fields.iter().find(|(f, _)| f == k).unwrap().1.clone();
        assert_eq!(get("an.name"), "{target_name}<20>");
        assert_eq!(get("an.nb[0].addr"), "{target_ip}");
        assert_eq!(get("ancount"), "1");
    }
}
