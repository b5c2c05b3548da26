//! Runs instantiated scripts against a target and judges each step.

use crate::net::{Incoming, Listener, Net};
use crate::script::steps::{
    Challenge, ChallengeReply, Expect, Instantiated, NameSpec, PacketFields, Payload,
    RecordSection, Send, StepKind, DEFAULT_EXPECT_TIMEOUT,
};
use crate::strict::traffic::Sent as Traced;
use crate::verdict::{Failure, Verdict};
use nbns_wire::nbns::{
    Compression, Flags, List, NbEntry, NbFlags, NodeType, Opcode, RData, Rcode, Record, Repr,
    CLASS_IN,
};
use nbns_wire::{Labels, Name};
use std::fmt::Write as _;
use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

/// What the scripts are fired at.
#[derive(Debug, Clone)]
pub struct Target {
    pub addr: SocketAddr,
    /// The target's own NetBIOS name, for scripts that query it (`{target_name}`).
    pub name: String,
    /// The runner's WINS replication partners of the target (server role), for `replica`
    /// steps (`{partner1}`...).
    pub partners: Option<std::sync::Arc<crate::roles::partners::Partners>>,
}

/// The packet most recently sent, for matching replies and for retries.
#[derive(Clone)]
struct Sent {
    client: usize,
    id: u16,
    to: SocketAddr,
    bytes: Vec<u8>,
    /// Taken before the send: an answer can come back before `send` returns.
    at: Instant,
    /// A `raw=` packet: its id is the script's choice and its name may be broken on purpose,
    /// so its answer is matched on address, port, time and id only.
    hand_made: bool,
}

impl Sent {
    /// The question name of the request, when it has one that decodes.
    fn asked(&self) -> Option<Name<'_>> {
        Repr::parse_bytes(&self.bytes)
            .ok()
            .and_then(|r| r.question)
            .map(|q| q.name)
    }
}

/// What a datagram is to a request: its answer (from the address and port the request went
/// to, on the socket waited on, after the request, with its id), or nothing of its.
enum Claim<'a> {
    /// Not an answer to the request: another sender, another port, another id, too early.
    Stray,
    /// The answer, decoded.
    Reply(Box<Repr<'a>>),
    /// An answer that does not decode: `N bytes that do not parse (reason)`.
    Garbage(String),
}

fn claim<'a>(i: &'a Incoming, sent: &Sent, client: usize, any_id: bool) -> Claim<'a> {
    if i.client != client || i.from != sent.to || i.at < sent.at {
        return Claim::Stray;
    }
    match Repr::parse_bytes(&i.bytes) {
        // A request of the target's (a challenge query to the requester's own address) is
        // never the answer, whatever its transaction id: nmbd's challenge query once carried
        // the id of the registration it challenged, and passed for its answer.
        Ok(r) if !r.flags.response => Claim::Stray,
        Ok(r) if any_id || r.id == sent.id => Claim::Reply(Box::new(r)),
        Ok(_) => Claim::Stray,
        Err(e) if any_id || i.bytes.get(..2) == Some(&sent.id.to_be_bytes()[..]) => {
            Claim::Garbage(format!("{} bytes that do not parse ({e})", i.bytes.len()))
        }
        Err(_) => Claim::Stray,
    }
}

/// A reply whose answer record names another name than the request asked: the target's bug
/// (the address, port and id are the request's), reported rather than skipped.
fn other_name(sent: &Sent, r: &Repr<'_>) -> Option<String> {
    if sent.hand_made {
        return None;
    }
    let asked = sent.asked()?;
    let got = r.answer?.name;
    (got != asked).then(|| format!("reply for another name: asked {asked}, got {got}"))
}

/// How a step of another role went wrong.
#[derive(Debug, Clone, PartialEq)]
pub enum StepError {
    /// (mismatch, expected, got), as in [`Failure`].
    Fail(String, String, String),
    /// The step could not be carried out.
    Error(String),
}

/// Executes the steps of the client role (`client`, `await`, `await-none`,
/// `answer`); the server-role steps stay with [`run_with`].
pub trait RoleSteps {
    fn step(&mut self, net: &Net, kind: &StepKind, limit: Instant) -> Result<(), StepError>;
    /// Where `send to=clientN` goes: address N of the client under test.
    fn address_of(&self, index: usize, target: &Target) -> SocketAddr;
}

/// Runs one script. Never blocks past the script's time limit (plus the
/// length of one receive poll).
pub fn run(net: &Net, target: &Target, script: &Instantiated) -> Verdict {
    run_with(net, target, script, None)
}

/// [`run`], also returning every datagram the script sent (for the strict check).
pub fn run_traced(net: &Net, target: &Target, script: &Instantiated) -> (Verdict, Vec<Traced>) {
    let mut trace = Vec::new();
    let verdict = run_inner(net, target, script, None, &mut trace);
    (verdict, trace)
}

/// [`run`], with the client-role steps handled by `role`.
pub fn run_with(
    net: &Net,
    target: &Target,
    script: &Instantiated,
    role: Option<&mut dyn RoleSteps>,
) -> Verdict {
    run_inner(net, target, script, role, &mut Vec::new())
}

fn run_inner(
    net: &Net,
    target: &Target,
    script: &Instantiated,
    mut role: Option<&mut dyn RoleSteps>,
    trace: &mut Vec<Traced>,
) -> Verdict {
    let start = Instant::now();
    let limit = start + script.limit;
    let mut last: Option<Sent> = None;
    // Every request sent: `expect to=clientN` waits for the answer to client N's last
    // request (with `id=`, its last with that id).
    let mut sends: Vec<Sent> = Vec::new();
    // When each client first sent since the last `challenge` step (`challenge after=clientN`).
    let mut first_from: Vec<Option<Instant>> = Vec::new();
    // The script's packets: from the target's address (server role: answers from its
    // port, challenges from any), or, in the client role, from anyone (the client under test
    // answers from its own addresses). Whatever the script does not take is dropped with it.
    let target_ip = target.addr.ip();
    let anyone = role.is_some();
    let listener = net.listen(move |i| anyone || i.from.ip() == target_ip);
    let listener = &listener;
    // `replica ... background` pushes still running: (line, push).
    let mut pushes: Vec<(usize, std::thread::JoinHandle<Result<(), String>>)> = Vec::new();
    let join = |pushes: &mut Vec<(usize, std::thread::JoinHandle<Result<(), String>>)>| {
        for (line, p) in pushes.drain(..) {
            let r = p
                .join()
                .unwrap_or_else(|_| Err("the push thread panicked".into()));
            if let Err(e) = r {
                return Err(replica_failure(line, e));
            }
        }
        Ok(())
    };
    for step in &script.steps {
        let fail = |mismatch: String, expected: String, got: String| {
            Verdict::Fail(Failure {
                line: step.line,
                mismatch,
                expected,
                got,
            })
        };
        if Instant::now() >= limit {
            return fail(
                format!("script time limit of {:?} reached", script.limit),
                "the script to finish".into(),
                "time ran out".into(),
            );
        }
        if matches!(step.kind, StepKind::Send(_) | StepKind::Replica(_)) {
            // The records pushed before are stored before anything else is asked.
            if let Err(v) = join(&mut pushes) {
                return v;
            }
        }
        match &step.kind {
            StepKind::Replica(r) => {
                let Some(partners) = target.partners.clone() else {
                    return Verdict::Error(format!(
                        "line {}: `replica` needs the runner's replication partners (server role)",
                        step.line
                    ));
                };
                if r.background {
                    let r = (**r).clone();
                    pushes.push((step.line, std::thread::spawn(move || partners.push(&r))));
                } else if let Err(e) = partners.push(r) {
                    return replica_failure(step.line, e);
                }
            }
            StepKind::Send(s) => match send(net, target, s, role.as_deref()) {
                Ok(mut sent) => {
                    // A retransmission (same socket, destination and id) is the same
                    // request: its answer may come after the first send.
                    if let Some(first) = trace.iter().find(|t| {
                        t.client == sent.client
                            && t.to == sent.to
                            && t.bytes.get(..2) == sent.bytes.get(..2)
                    }) {
                        sent.at = first.at;
                    }
                    trace.push(Traced {
                        client: sent.client,
                        to: sent.to,
                        bytes: sent.bytes.clone(),
                        at: sent.at,
                        hand_made: sent.hand_made,
                    });
                    sends.push(sent.clone());
                    if first_from.len() <= sent.client {
                        first_from.resize(sent.client + 1, None);
                    }
                    first_from[sent.client].get_or_insert(sent.at);
                    last = Some(sent)
                }
                Err(e) => return Verdict::Error(format!("line {}: {e}", step.line)),
            },
            StepKind::Expect(e) => {
                let client = e.to.map(|c| c.0).or(last.as_ref().map(|s| s.client));
                let of_client = client.and_then(|c| {
                    sends
                        .iter()
                        .rev()
                        .find(|s| s.client == c && e.id.is_none_or(|id| s.id == id))
                });
                let Some(sent) = of_client.or(last.as_ref()) else {
                    return Verdict::Error(format!(
                        "line {}: `expect` before any `send`",
                        step.line
                    ));
                };
                if let Err(f) = expect(net, listener, e, sent, script.retries, limit) {
                    return fail(f.0, e.describe(), f.1);
                }
            }
            StepKind::ExpectNone { to, within, name } => {
                let client = to
                    .map(|c| c.0)
                    .or(last.as_ref().map(|s| s.client))
                    .unwrap_or(0);
                let id = last.as_ref().map(|s| s.id);
                // Answers come from where the last request went; the target's own requests
                // (challenges) from its address, any port.
                let answers_from = last.as_ref().map_or(target.addr, |s| s.to);
                let since = last.as_ref().map_or(start, |s| s.at);
                let deadline = (Instant::now() + *within).min(limit);
                let got = listener.take(deadline, |i| {
                    i.client == client
                        && i.at >= since
                        && i.from.ip() == target.addr.ip()
                        && Repr::parse_bytes(&i.bytes).is_ok_and(|r| {
                            (!r.flags.response || i.from == answers_from)
                                && match name {
                                    Some(n) => r
                                        .question
                                        .map(|q| q.name)
                                        .or(r.answer.map(|a| a.name))
                                        .is_some_and(|q| name_matches(n, &q)),
                                    // An answer to the last request: a request of the
                                    // target's with the same id (another script's challenge
                                    // query on the shared socket) is a coincidence.
                                    None => r.flags.response && Some(r.id) == id,
                                }
                        })
                });
                if let Some(i) = got {
                    return fail(
                        "a packet arrived where none was expected".into(),
                        format!("nothing within {within:?}"),
                        describe_incoming(&i),
                    );
                }
            }
            StepKind::Challenge(c) => {
                let since = match c.after {
                    Some(a) => first_from.get(a.0).copied().flatten(),
                    None => last.as_ref().map(|s| s.at),
                }
                .unwrap_or(start);
                first_from.iter_mut().for_each(|f| *f = None);
                if let Err(f) = challenge(net, listener, target, c, since, limit) {
                    // No query because the push that was to bring it about failed: that
                    // failure is the script's.
                    for (line, p) in std::mem::take(&mut pushes) {
                        if p.is_finished() {
                            if let Ok(Err(e)) = p.join() {
                                return replica_failure(line, e);
                            }
                        }
                    }
                    return fail(f.0, c.describe(), f.1);
                }
            }
            StepKind::Wait(d) => {
                std::thread::sleep((*d).min(limit.saturating_duration_since(Instant::now())))
            }
            kind @ (StepKind::Client(_)
            | StepKind::Await(_)
            | StepKind::AwaitNone(_)
            | StepKind::Answer(_)) => {
                let Some(role) = role.as_deref_mut() else {
                    return Verdict::Error(format!(
                        "line {}: a client-role step in a server-role run (use --role client)",
                        step.line
                    ));
                };
                match role.step(net, kind, limit) {
                    Ok(()) => {}
                    Err(StepError::Fail(m, e, g)) => return fail(m, e, g),
                    Err(StepError::Error(e)) => {
                        return Verdict::Error(format!("line {}: {e}", step.line))
                    }
                }
            }
        }
    }
    if let Err(v) = join(&mut pushes) {
        return v;
    }
    Verdict::Pass
}

fn replica_failure(line: usize, e: String) -> Verdict {
    Verdict::Fail(Failure {
        line,
        mismatch: format!("replica push: {e}"),
        expected: "the target pulls the pushed record".into(),
        got: e,
    })
}

fn send(
    net: &Net,
    target: &Target,
    s: &Send,
    role: Option<&dyn RoleSteps>,
) -> std::io::Result<Sent> {
    let to = match (s.to, role) {
        // Client role: another address of the client under test.
        (Some(c), Some(role)) => role.address_of(c.0, target),
        (Some(c), None) => net.local_addr(c.0)?,
        (None, _) => target.addr,
    };
    let hand_made = matches!(s.payload, Payload::Raw(_));
    let (id, bytes) = match &s.payload {
        Payload::Raw(b) => (
            u16::from_be_bytes([*b.first().unwrap_or(&0), *b.get(1).unwrap_or(&0)]),
            b.clone(),
        ),
        Payload::Fields(p) => {
            let response = match p.flags_word {
                Some(w) => Flags::from_bits(w).response,
                None => p.response,
            };
            let id = p.id.unwrap_or_else(|| match response {
                true => net.fresh_response_id(),
                false => net.fresh_id(),
            });
            (id, build(p, id, net.client_addrs()[s.from.0]))
        }
    };
    let at = Instant::now();
    net.send(s.from.0, to, &bytes)?;
    Ok(Sent {
        client: s.from.0,
        id,
        to,
        bytes,
        at,
        hand_made,
    })
}

fn to_name(n: &NameSpec) -> Name<'_> {
    // Scopes were checked when the script was instantiated.
    Name::netbios(n.name, Labels::dotted(&n.scope).unwrap_or(Labels::EMPTY)).unwrap_or(
        Name::Netbios {
            name: n.name,
            scope: Labels::EMPTY,
        },
    )
}

/// Builds the packet a `send` describes.
pub fn build(p: &PacketFields, id: u16, from: Ipv4Addr) -> Vec<u8> {
    let flags = match p.flags_word {
        Some(w) => Flags::from_bits(w),
        None => Flags {
            response: p.response,
            opcode: p.opcode,
            authoritative: p.aa.unwrap_or(p.response),
            truncated: p.tc.unwrap_or(false),
            recursion_desired: p.rd.unwrap_or(true),
            recursion_available: p.ra.unwrap_or(false),
            reserved: 0,
            broadcast: p.b.unwrap_or(false),
            rcode: p.rcode,
        },
    };
    let name = p.name.as_ref().map(to_name);
    let entries: Vec<NbEntry> = p
        .addrs
        .clone()
        .unwrap_or_else(|| vec![from])
        .into_iter()
        .map(|addr| NbEntry {
            flags: NbFlags::new(p.group, p.ont),
            addr,
        })
        .collect();
    let record = match (name, p.record) {
        (Some(name), Some(_)) => Some(Record {
            name,
            class: CLASS_IN,
            ttl: p.ttl,
            rdata: RData::Nb(List::Items(&entries)),
        }),
        _ => None,
    };
    let repr = Repr {
        id,
        flags,
        question: name
            .filter(|_| p.question)
            .map(|name| nbns_wire::nbns::Question {
                name,
                qtype: p.qtype,
                qclass: CLASS_IN,
            }),
        answer: record.filter(|_| p.record == Some(RecordSection::Answer)),
        authority: None,
        additional: record.filter(|_| p.record == Some(RecordSection::Additional)),
    };
    let c = if p.compress {
        Compression::Question
    } else {
        Compression::None
    };
    let mut buf = vec![0u8; repr.buffer_len(c)];
    // The buffer is exactly buffer_len, so emit cannot fail.
    let n = repr.emit(&mut buf, c).unwrap_or(0);
    buf.truncate(n);
    buf
}

pub(crate) fn name_matches(want: &NameSpec, got: &Name<'_>) -> bool {
    match got {
        Name::Netbios { name, scope } => *name == want.name && scope.to_string() == want.scope,
        Name::Domain(_) => false,
    }
}

pub(crate) fn describe_incoming(i: &Incoming) -> String {
    match Repr::parse_bytes(&i.bytes) {
        Ok(r) => format!("from {}: {}", i.from, r.to_string().trim_end()),
        Err(e) => format!(
            "from {}: {} bytes that do not parse ({e})",
            i.from,
            i.bytes.len()
        ),
    }
}

/// Waits for the reply an `expect` describes; Err((mismatch, got)). A reply is a datagram
/// from the address and port the request went to, after it, with its id ([`claim`]); one
/// that names another name than the request asked, or does not decode, fails the step.
fn expect(
    net: &Net,
    listener: &Listener<'_>,
    e: &Expect,
    sent: &Sent,
    retries: u32,
    limit: Instant,
) -> Result<(), (String, String)> {
    let client = e.to.map_or(sent.client, |c| c.0);
    let timeout = e.timeout.unwrap_or(DEFAULT_EXPECT_TIMEOUT);
    let is_wack = |i: &Incoming| matches!(claim(i, sent, client, e.any_id), Claim::Reply(r) if r.flags.response && r.flags.opcode == Opcode::Wack);
    let mut final_timeout = timeout;
    let mut wack_by: Option<(Instant, u32)> = None;
    if let Some(range) = e.wack {
        let deadline = (Instant::now() + timeout).min(limit);
        let wack = listener.take(deadline, |i| {
            is_wack(i) || matches!(claim(i, sent, client, e.any_id), Claim::Garbage(_))
        });
        let Some(wack) = wack else {
            return Err((format!("no WACK within {timeout:?}"), "nothing".into()));
        };
        let r = match claim(&wack, sent, client, e.any_id) {
            Claim::Reply(r) => r,
            Claim::Garbage(g) => {
                return Err((
                    format!("WACK does not decode: {g}"),
                    describe_incoming(&wack),
                ))
            }
            Claim::Stray => return Err(("WACK vanished".into(), String::new())),
        };
        if let Some(m) = other_name(sent, &r) {
            return Err((m, describe_incoming(&wack)));
        }
        let ttl = r.answer.map_or(0, |a| a.ttl);
        if !range.contains(ttl) {
            return Err((
                format!("WACK ttl: expected {range}, got {ttl}"),
                describe_incoming(&wack),
            ));
        }
        // The final answer may take as long as the WACK asked us to wait, and no longer
        // (RFC 1002 4.2.16: the TTL is how long the requester waits for it; 1 s of slack
        // for the whole-second TTL).
        final_timeout = timeout + Duration::from_secs(ttl.min(120) as u64);
        wack_by = Some((wack.at + Duration::from_secs(u64::from(ttl) + 1), ttl));
        if e.wack_only {
            return Ok(());
        }
    }
    let mut attempts = 0;
    loop {
        let deadline = (Instant::now() + final_timeout).min(limit);
        let got = listener.take(deadline, |i| match claim(i, sent, client, e.any_id) {
            Claim::Reply(r) => r.flags.opcode != Opcode::Wack,
            // An undecodable reply to our id is still our reply.
            Claim::Garbage(_) => true,
            Claim::Stray => false,
        });
        match got {
            Some(i) if i.from.port() != sent.to.port() => {
                return Err((
                    format!(
                        "the reply came from port {}, not the port {} the request went to \
                         (RFC 1002 4.2.1: requests and responses on UDP 137)",
                        i.from.port(),
                        sent.to.port()
                    ),
                    describe_incoming(&i),
                ));
            }
            Some(i) if wack_by.is_some_and(|(by, _)| i.at > by) => {
                let ttl = wack_by.map_or(0, |(_, t)| t);
                return Err((
                    format!("the final answer came after the WACK's TTL of {ttl} s ran out"),
                    describe_incoming(&i),
                ));
            }
            Some(i) => {
                return match claim(&i, sent, client, e.any_id) {
                    Claim::Reply(r) => match other_name(sent, &r) {
                        Some(m) => Err((m, describe_incoming(&i))),
                        None => check(e, &r).map_err(|m| (m, describe_incoming(&i))),
                    },
                    Claim::Garbage(g) => {
                        Err((format!("reply does not decode: {g}"), describe_incoming(&i)))
                    }
                    Claim::Stray => Err(("reply vanished".into(), String::new())),
                }
            }
            None if attempts < retries && Instant::now() < limit => {
                attempts += 1;
                let _ = net.send(sent.client, sent.to, &sent.bytes);
            }
            None => {
                let tries = if attempts > 0 {
                    format!(" ({} sends)", attempts + 1)
                } else {
                    String::new()
                };
                return Err((
                    format!("no reply within {final_timeout:?}{tries}"),
                    "nothing".into(),
                ));
            }
        }
    }
}

/// Waits for the target's challenge query (a request from the target's address, any port:
/// servers challenge from their NBNS port or another one) that arrived after `since`, and
/// answers it as the step says.
fn challenge(
    net: &Net,
    listener: &Listener<'_>,
    target: &Target,
    c: &Challenge,
    since: Instant,
    limit: Instant,
) -> Result<(), (String, String)> {
    let deadline = (Instant::now() + c.timeout).min(limit);
    let query = listener.take(deadline, |i| {
        // From the target's own port too: a name server challenges from its NBNS port (137
        // for nmbd and the AD DC, the embedded target's socket), and a query replayed from
        // another port of its address must not pass for a challenge.
        i.client == c.to.0
            && i.at >= since
            && i.from == target.addr
            && Repr::parse_bytes(&i.bytes).is_ok_and(|r| {
                !r.flags.response
                    && r.flags.opcode == Opcode::Query
                    && r.question
                        .is_some_and(|q| c.name.as_ref().is_none_or(|n| name_matches(n, &q.name)))
            })
    });
    let Some(query) = query else {
        if c.optional {
            return Ok(());
        }
        return Err((
            format!("no challenge query reached {} within {:?}", c.to, c.timeout),
            "nothing".into(),
        ));
    };
    let Ok(q) = Repr::parse_bytes(&query.bytes) else {
        return Err(("challenge query vanished".into(), String::new()));
    };
    let Some(question) = q.question else {
        return Err(("challenge query has no question".into(), String::new()));
    };
    let me = net.client_addrs()[c.to.0];
    let entries: Vec<NbEntry> = c
        .addrs
        .clone()
        .unwrap_or_else(|| vec![me])
        .into_iter()
        .map(|addr| NbEntry {
            flags: NbFlags::new(false, NodeType::H),
            addr,
        })
        .collect();
    if let Some(stray) = c.stray {
        // An answer from an address the target did not ask, with the query's id.
        let other = [NbEntry {
            flags: NbFlags::new(false, NodeType::H),
            addr: net.client_addrs()[stray.0],
        }];
        let rdata = RData::Nb(List::Items(&other));
        if let Some(buf) = challenge_reply(&q, question.name, Rcode::NoError, c.ttl, rdata) {
            net.send(stray.0, query.from, &buf)
                .map_err(|e| (format!("cannot send the stray answer: {e}"), String::new()))?;
        }
    }
    let (rcode, rdata) = match c.reply {
        ChallengeReply::Silent => return Ok(()),
        ChallengeReply::Claim => (Rcode::NoError, RData::Nb(List::Items(&entries))),
        ChallengeReply::Release => (Rcode::NamErr, RData::Null(&[])),
    };
    if let Some(buf) = challenge_reply(&q, question.name, rcode, c.ttl, rdata) {
        net.send(c.to.0, query.from, &buf)
            .map_err(|e| (format!("cannot answer the challenge: {e}"), String::new()))?;
    }
    Ok(())
}

/// The bytes of an answer to the challenge query `q` (its id, its RD) for `name`: `rcode`
/// with `rdata`, and `ttl` when positive.
fn challenge_reply(
    q: &Repr<'_>,
    name: Name<'_>,
    rcode: Rcode,
    ttl: u32,
    rdata: RData<'_>,
) -> Option<Vec<u8>> {
    let reply = Repr {
        id: q.id,
        flags: Flags {
            response: true,
            opcode: Opcode::Query,
            authoritative: true,
            recursion_desired: q.flags.recursion_desired,
            rcode,
            ..Flags::default()
        },
        question: None,
        answer: Some(Record {
            name,
            class: CLASS_IN,
            ttl: if rcode == Rcode::NoError { ttl } else { 0 },
            rdata,
        }),
        authority: None,
        additional: None,
    };
    let mut buf = vec![0u8; reply.buffer_len(Compression::None)];
    reply.emit(&mut buf, Compression::None).ok().map(|_| buf)
}

/// Checks a reply against the matchers; the first mismatch as text.
fn check(e: &Expect, r: &Repr<'_>) -> Result<(), String> {
    fn cmp<T: PartialEq + std::fmt::Debug>(
        what: &str,
        want: Option<T>,
        got: T,
    ) -> Result<(), String> {
        match want {
            Some(w) if w != got => Err(format!("{what}: expected {w:?}, got {got:?}")),
            _ => Ok(()),
        }
    }
    if let Some(w) = e.rcode {
        if w != r.flags.rcode {
            return Err(format!("rcode: expected {w}, got {}", r.flags.rcode));
        }
    }
    if let Some(w) = e.opcode {
        if w != r.flags.opcode {
            return Err(format!("opcode: expected {w}, got {}", r.flags.opcode));
        }
    }
    cmp("response flag", e.response, r.flags.response)?;
    cmp("AA flag", e.aa, r.flags.authoritative)?;
    cmp("TC flag", e.tc, r.flags.truncated)?;
    cmp("RD flag", e.rd, r.flags.recursion_desired)?;
    cmp("RA flag", e.ra, r.flags.recursion_available)?;
    cmp("B flag", e.b, r.flags.broadcast)?;
    let needs_answer = e.name.is_some()
        || e.rtype.is_some()
        || e.addrs.is_some()
        || !e.has_addr.is_empty()
        || e.first_addr.is_some()
        || e.ttl.is_some()
        || e.entries.is_some()
        || e.group.is_some()
        || e.ont.is_some();
    if !needs_answer {
        return Ok(());
    }
    let Some(answer) = r.answer else {
        return Err("no answer record".into());
    };
    if let Some(n) = &e.name {
        if !name_matches(n, &answer.name) {
            return Err(format!("answer name: expected {n}, got {}", answer.name));
        }
    }
    if let Some(t) = e.rtype {
        if t != answer.rdata.rtype() {
            return Err(format!(
                "answer type: expected {t}, got {}",
                answer.rdata.rtype()
            ));
        }
    }
    if let Some(ttl) = e.ttl {
        if !ttl.contains(answer.ttl) {
            return Err(format!("ttl: expected {ttl}, got {}", answer.ttl));
        }
    }
    let entries: Vec<NbEntry> = match answer.rdata {
        RData::Nb(list) => list.iter().collect(),
        _ => Vec::new(),
    };
    if let Some(want) = e.first_addr {
        match entries.first() {
            Some(first) if first.addr == want => {}
            Some(first) => {
                return Err(format!(
                    "first address: expected {want}, got {}",
                    first.addr
                ))
            }
            None => return Err(format!("first address: expected {want}, got none")),
        }
    }
    check_entries(
        &entries,
        e.addrs.as_deref(),
        &e.has_addr,
        &e.lacks_addr,
        e.entries,
        e.group,
        e.ont,
    )
}

/// Checks NB entries against the matchers `expect` and `await` share: the
/// exact address set, addresses that must (not) be there, the entry count,
/// the group flag and the node type. The first mismatch, as text.
pub(crate) fn check_entries(
    entries: &[NbEntry],
    want: Option<&[Ipv4Addr]>,
    has: &[Ipv4Addr],
    lacks: &[Ipv4Addr],
    count: Option<crate::script::steps::Range>,
    group: Option<bool>,
    ont: Option<NodeType>,
) -> Result<(), String> {
    let mut addrs: Vec<Ipv4Addr> = entries.iter().map(|e| e.addr).collect();
    addrs.sort();
    let show = |a: &[Ipv4Addr]| {
        if a.is_empty() {
            "none".to_string()
        } else {
            a.iter()
                .map(|a| a.to_string())
                .collect::<Vec<_>>()
                .join(",")
        }
    };
    if let Some(want) = want {
        let mut want = want.to_vec();
        want.sort();
        if want != addrs {
            return Err(format!(
                "addresses: expected {}, got {}",
                show(&want),
                show(&addrs)
            ));
        }
    }
    for a in has {
        if !addrs.contains(a) {
            return Err(format!(
                "addresses: expected to include {a}, got {}",
                show(&addrs)
            ));
        }
    }
    for a in lacks {
        if addrs.contains(a) {
            return Err(format!(
                "addresses: expected not to include {a}, got {}",
                show(&addrs)
            ));
        }
    }
    if let Some(n) = count {
        if !n.contains(entries.len() as u32) {
            return Err(format!("NB entries: expected {n}, got {}", entries.len()));
        }
    }
    if let Some(g) = group {
        if let Some(bad) = entries.iter().find(|x| x.flags.group() != g) {
            return Err(format!(
                "group flag: expected {}, got {} for {}",
                if g { "group" } else { "unique" },
                if g { "unique" } else { "group" },
                bad.addr
            ));
        }
    }
    if let Some(ont) = ont {
        if let Some(bad) = entries.iter().find(|x| x.flags.node_type() != ont) {
            return Err(format!(
                "node type: expected {ont:?}, got {:?} for {}",
                bad.flags.node_type(),
                bad.addr
            ));
        }
    }
    Ok(())
}

impl Expect {
    /// The expectation written as script fields.
    pub fn describe(&self) -> String {
        let mut s = String::new();
        if let Some(w) = self.wack {
            let _ = write!(s, " wack={w}");
        }
        if self.wack_only {
            s.push_str(" wack-only");
        }
        if let Some(id) = self.id {
            let _ = write!(s, " id=0x{id:04x}");
        }
        if let Some(v) = self.rcode {
            let _ = write!(s, " rcode={v}");
        }
        if let Some(v) = self.opcode {
            let _ = write!(s, " op={v}");
        }
        for (name, v) in [
            ("response", self.response),
            ("aa", self.aa),
            ("tc", self.tc),
            ("rd", self.rd),
            ("ra", self.ra),
            ("b", self.b),
            ("group", self.group),
        ] {
            if let Some(v) = v {
                let _ = write!(s, " {name}={}", if v { "yes" } else { "no" });
            }
        }
        if let Some(v) = &self.name {
            let _ = write!(s, " name={v}");
        }
        if let Some(v) = self.rtype {
            let _ = write!(s, " type={v}");
        }
        let list = |a: &[Ipv4Addr]| {
            a.iter()
                .map(|a| a.to_string())
                .collect::<Vec<_>>()
                .join(",")
        };
        if let Some(v) = &self.addrs {
            let _ = write!(
                s,
                " addrs={}",
                if v.is_empty() { "none".into() } else { list(v) }
            );
        }
        if !self.has_addr.is_empty() {
            let _ = write!(s, " has-addr={}", list(&self.has_addr));
        }
        if !self.lacks_addr.is_empty() {
            let _ = write!(s, " lacks-addr={}", list(&self.lacks_addr));
        }
        if let Some(v) = self.first_addr {
            let _ = write!(s, " first-addr={v}");
        }
        if let Some(v) = self.ttl {
            let _ = write!(s, " ttl={v}");
        }
        if let Some(v) = self.entries {
            let _ = write!(s, " entries={v}");
        }
        if let Some(v) = self.ont {
            let _ = write!(s, " ont={v:?}");
        }
        if s.is_empty() {
            "any reply".into()
        } else {
            s.trim_start().to_string()
        }
    }
}

impl Challenge {
    pub fn describe(&self) -> String {
        format!(
            "{}a name query to {}{}, answered {:?}",
            if self.optional { "if sent, " } else { "" },
            self.to,
            self.name
                .as_ref()
                .map(|n| format!(" for {n}"))
                .unwrap_or_default(),
            self.reply
        )
    }
}
