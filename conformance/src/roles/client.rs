//! The client role: the runner plays the WINS servers (one socket per
//! `--server-addr`, `server1`, `server2`, ...) and judges the requests of a
//! client under test: the embedded reference client (the model's client
//! state machine), or a real client that `--target-command` starts and stops.
//!
//! Target command protocol (run with `sh -c`; each call must return within
//! 30 s):
//!   CMD start NAME WORKGROUP NIC[,NIC...] WINS[,WINS...]
//!       start the client with these addresses and WINS servers (primary
//!       first); return once it runs (exit 0), or fail (non-zero).
//!   CMD stop    stop it gracefully (SIGTERM: it releases its names); return at once.
//!   CMD kill    end it for good (wait a little, then SIGKILL); never fails.
//! Scripts run one after another: there is one client under test at a time.

use crate::net::{Incoming, Net};
use crate::roles::options::RunArgs;
use crate::roles::runner::{self, describe_incoming, name_matches, RoleSteps, StepError, Target};
use crate::roles::suite;
use crate::script::library;
use crate::script::steps::{
    Answer, Await, AwaitNone, Client, ClientAction, NameSpec, Since, StepKind,
};
use crate::strict;
use crate::verdict::expectations::Expectations;
use crate::verdict::report;
use crate::verdict::{Outcome, Verdict};
use nbns_reference::client::{ClientSpec, WinsClient};
use nbns_wire::nbns::{
    Compression, Flags, List, NbEntry, NbFlags, Opcode, RData, Rcode, Record, Repr,
};
use std::io::Write as _;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The client-role script library shipped with the crate.
pub const LIBRARY: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts-client");

/// Defaults for the embedded reference client: loopback addresses that the
/// server-role runs do not use, so both roles can run at the same time.
pub const DEFAULT_SERVERS: [Ipv4Addr; 2] =
    [Ipv4Addr::new(127, 0, 1, 4), Ipv4Addr::new(127, 0, 1, 5)];
pub const DEFAULT_NICS: [Ipv4Addr; 3] = [
    Ipv4Addr::new(127, 0, 1, 2),
    Ipv4Addr::new(127, 0, 1, 3),
    Ipv4Addr::new(127, 0, 1, 6),
];
/// The client's NetBIOS name and workgroup, unless --target-name says otherwise.
pub const DEFAULT_NAME: &str = "NBNSV-CLIENT";
pub const DEFAULT_WORKGROUP: &str = "NBNSVWG";

/// How long a target command may take.
const COMMAND_LIMIT: Duration = Duration::from_secs(30);

/// Starts and stops a client under test.
pub trait ClientUnderTest {
    fn start(&mut self, spec: &ClientSpec) -> Result<(), String>;
    /// Graceful stop; returns at once (the client releases its names).
    fn stop(&mut self) -> Result<(), String>;
    /// Ends it for good; never fails.
    fn kill(&mut self);
}

/// The embedded reference client.
#[derive(Default)]
pub struct Embedded {
    running: Option<WinsClient>,
}

impl ClientUnderTest for Embedded {
    fn start(&mut self, spec: &ClientSpec) -> Result<(), String> {
        self.kill();
        self.running = Some(WinsClient::start(spec).map_err(|e| e.to_string())?);
        Ok(())
    }
    fn stop(&mut self) -> Result<(), String> {
        match &self.running {
            Some(c) => {
                c.stop();
                Ok(())
            }
            None => Err("the client is not running".into()),
        }
    }
    fn kill(&mut self) {
        if let Some(mut c) = self.running.take() {
            c.kill();
        }
    }
}

/// A real client driven by a target command.
pub struct External {
    pub command: String,
    running: bool,
}

impl External {
    pub fn new(command: String) -> External {
        External {
            command,
            running: false,
        }
    }

    fn call(&self, args: &[String]) -> Result<(), String> {
        let line = format!("{} {}", self.command, args.join(" "));
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(&line)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot run `{line}`: {e}"))?;
        let deadline = Instant::now() + COMMAND_LIMIT;
        loop {
            match child.try_wait() {
                Ok(Some(status)) if status.success() => return Ok(()),
                Ok(Some(status)) => {
                    let mut err = String::new();
                    if let Some(mut e) = child.stderr.take() {
                        let _ = std::io::Read::read_to_string(&mut e, &mut err);
                    }
                    return Err(format!("`{line}` failed ({status}): {}", err.trim()));
                }
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(20))
                }
                _ => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err(format!("`{line}` took longer than {COMMAND_LIMIT:?}"));
                }
            }
        }
    }
}

impl ClientUnderTest for External {
    fn start(&mut self, spec: &ClientSpec) -> Result<(), String> {
        let list = |a: &[Ipv4Addr]| {
            a.iter()
                .map(|x| x.to_string())
                .collect::<Vec<_>>()
                .join(",")
        };
        self.running = true;
        self.call(&[
            "start".into(),
            spec.name.clone(),
            spec.workgroup.clone(),
            list(&spec.nics),
            list(&spec.wins),
        ])
    }
    fn stop(&mut self) -> Result<(), String> {
        self.call(&["stop".into()])
    }
    fn kill(&mut self) {
        if std::mem::take(&mut self.running) {
            if let Err(e) = self.call(&["kill".into()]) {
                eprintln!("warning: {e}");
            }
        }
    }
}

/// The client-role steps of one script.
pub struct ClientSteps<'a> {
    pub ctl: &'a mut dyn ClientUnderTest,
    pub name: String,
    pub workgroup: String,
    pub nics: Vec<Ipv4Addr>,
    pub port: u16,
    last: Option<Incoming>,
    last_client: Option<Instant>,
    last_answer: Option<Instant>,
    first_answer: Option<Instant>,
}

impl<'a> ClientSteps<'a> {
    pub fn new(
        ctl: &'a mut dyn ClientUnderTest,
        name: String,
        workgroup: String,
        nics: Vec<Ipv4Addr>,
        port: u16,
    ) -> Self {
        ClientSteps {
            ctl,
            name,
            workgroup,
            nics,
            port,
            last: None,
            last_client: None,
            last_answer: None,
            first_answer: None,
        }
    }

    fn sent_by_client(&self, i: &Incoming) -> bool {
        matches!(i.from.ip(), IpAddr::V4(ip) if self.nics.contains(&ip))
    }

    /// The selecting part of a match: where, from whom, which name and opcode.
    fn selects(
        &self,
        net: &Net,
        i: &Incoming,
        at: Option<usize>,
        from: Option<usize>,
        opcodes: &[Opcode],
        name: Option<&crate::script::steps::NameSpec>,
    ) -> bool {
        let _ = net;
        self.sent_by_client(i)
            && at.is_none_or(|a| i.client == a)
            && from.is_none_or(|f| {
                self.nics
                    .get(f)
                    .is_some_and(|n| i.from.ip() == IpAddr::V4(*n))
            })
            && Repr::parse_bytes(&i.bytes).is_ok_and(|r| {
                !r.flags.response
                    && (opcodes.is_empty() || opcodes.contains(&r.flags.opcode))
                    && name.is_none_or(|n| r.question.is_some_and(|q| name_matches(n, &q.name)))
            })
    }

    fn pending(&self, net: &Net) -> String {
        let mut seen: Vec<String> = net
            .pending()
            .iter()
            .filter(|i| self.sent_by_client(i))
            .map(|i| {
                format!(
                    "at {}: {}",
                    net.client_addrs()
                        .get(i.client)
                        .map_or(String::new(), |a| a.to_string()),
                    describe_incoming(i)
                )
            })
            .collect();
        if seen.is_empty() {
            return "nothing".into();
        }
        let more = seen.len().saturating_sub(3);
        seen.truncate(3);
        let mut s = format!("nothing matching; waiting unmatched: {}", seen.join(" | "));
        if more > 0 {
            s.push_str(&format!(" (and {more} more)"));
        }
        s
    }

    fn await_(&mut self, net: &Net, a: &Await, limit: Instant) -> Result<(), StepError> {
        let mut taken: Vec<Incoming> = Vec::new();
        for k in 0..a.count {
            let deadline = (Instant::now() + a.timeout).min(limit);
            let got = net.take(deadline, |i| {
                self.selects(
                    net,
                    i,
                    a.at.map(|c| c.0),
                    a.from,
                    &a.opcodes,
                    a.name.as_ref(),
                )
            });
            match got {
                Some(i) => taken.push(i),
                None if a.optional && k == 0 => {
                    self.last = None;
                    return Ok(());
                }
                None => {
                    return Err(StepError::Fail(
                        format!(
                            "request {} of {}: none within {:?}",
                            k + 1,
                            a.count,
                            a.timeout
                        ),
                        a.describe(),
                        self.pending(net),
                    ))
                }
            }
        }
        for i in &taken {
            if let Ok(r) = Repr::parse_bytes(&i.bytes) {
                if let Err(m) = check_request(a, &r) {
                    return Err(StepError::Fail(m, a.describe(), describe_incoming(i)));
                }
            }
        }
        if let Some((lo, hi)) = a.interval {
            for (n, w) in taken.windows(2).enumerate() {
                let d = w[1].at.saturating_duration_since(w[0].at);
                if d < lo || d > hi {
                    return Err(StepError::Fail(
                        format!(
                            "interval between requests {} and {}: expected {:.2}s..{:.2}s, got {:.2}s",
                            n + 1,
                            n + 2,
                            lo.as_secs_f64(),
                            hi.as_secs_f64(),
                            d.as_secs_f64()
                        ),
                        a.describe(),
                        describe_incoming(&w[1]),
                    ));
                }
            }
        }
        self.last = taken.pop();
        Ok(())
    }

    fn await_none(&mut self, net: &Net, a: &AwaitNone, limit: Instant) -> Result<(), StepError> {
        let now = Instant::now();
        let since = match a.since {
            Since::Now => now,
            Since::Client => self.last_client.unwrap_or(now),
            Since::Answer => self.last_answer.unwrap_or(now),
            Since::FirstAnswer => self.first_answer.unwrap_or(now),
        };
        let deadline = (now + a.within).min(limit);
        let got = net.take(deadline, |i| {
            i.at >= since
                && self.selects(
                    net,
                    i,
                    a.at.map(|c| c.0),
                    a.from,
                    &a.opcodes,
                    a.name.as_ref(),
                )
        });
        match got {
            None => Ok(()),
            Some(i) => Err(StepError::Fail(
                "a request arrived where none was expected".into(),
                a.describe(),
                format!(
                    "at {}: {}",
                    net.client_addrs()
                        .get(i.client)
                        .map_or(String::new(), |a| a.to_string()),
                    describe_incoming(&i)
                ),
            )),
        }
    }

    fn answer(&mut self, net: &Net, a: &Answer) -> Result<(), StepError> {
        let Some(req) = &self.last else {
            return Ok(()); // an optional await took nothing
        };
        let r = Repr::parse_bytes(&req.bytes)
            .map_err(|e| StepError::Error(format!("the awaited request does not decode: {e}")))?;
        let Some(q) = r.question else {
            return Err(StepError::Error(
                "the awaited request has no question".into(),
            ));
        };
        let req_entries: Vec<NbEntry> = r
            .additional
            .and_then(|x| x.nb_entries())
            .map_or(Vec::new(), |l| l.iter().collect());
        let ok = a.rcode == Rcode::NoError;
        let entries: Vec<NbEntry> = match &a.addrs {
            Some(addrs) => addrs
                .iter()
                .map(|&addr| NbEntry {
                    flags: NbFlags::new(
                        a.group.unwrap_or_else(|| {
                            req_entries.first().is_some_and(|e| e.flags.group())
                        }),
                        req_entries
                            .first()
                            .map_or(nbns_wire::nbns::NodeType::H, |e| e.flags.node_type()),
                    ),
                    addr,
                })
                .collect(),
            None => req_entries.clone(),
        };
        let req_ttl = r.additional.map_or(0, |x| x.ttl);
        let (opcode, rdata, ttl) = if a.wack {
            (
                Opcode::Wack,
                RData::Wack(r.flags.bits()),
                a.ttl.unwrap_or(60),
            )
        } else {
            let op = a.opcode.unwrap_or(match r.flags.opcode {
                // A multihomed registration is answered as a registration
                // (what WINS servers send; nmbd ignores an 0xF response).
                Opcode::MultihomedRegistration => Opcode::Registration,
                op => op,
            });
            (
                op,
                RData::Nb(List::Items(&entries)),
                a.ttl.unwrap_or(if ok { req_ttl } else { 0 }),
            )
        };
        let reply = Repr {
            id: r.id,
            flags: Flags {
                response: true,
                opcode,
                authoritative: true,
                recursion_desired: r.flags.recursion_desired,
                recursion_available: !a.wack,
                rcode: if a.wack { Rcode::NoError } else { a.rcode },
                ..Flags::default()
            },
            question: None,
            answer: Some(Record {
                name: q.name,
                class: nbns_wire::nbns::CLASS_IN,
                ttl,
                rdata,
            }),
            authority: None,
            additional: None,
        };
        let mut buf = vec![0u8; reply.buffer_len(Compression::None)];
        let n = reply
            .emit(&mut buf, Compression::None)
            .map_err(|e| StepError::Error(format!("cannot build the answer: {e}")))?;
        let socket = a.from.map_or(req.client, |c| c.0);
        net.send(socket, req.from, &buf[..n])
            .map_err(|e| StepError::Error(format!("cannot send the answer: {e}")))?;
        let now = Instant::now();
        self.last_answer = Some(now);
        self.first_answer.get_or_insert(now);
        Ok(())
    }
}

impl RoleSteps for ClientSteps<'_> {
    fn step(&mut self, net: &Net, kind: &StepKind, limit: Instant) -> Result<(), StepError> {
        match kind {
            StepKind::Client(ClientAction::Start { nics, wins }) => {
                net.clear();
                let servers = net.client_addrs();
                let spec = ClientSpec {
                    name: self.name.clone(),
                    workgroup: self.workgroup.clone(),
                    nics: nics
                        .iter()
                        .filter_map(|&i| self.nics.get(i).copied())
                        .collect(),
                    wins: wins
                        .iter()
                        .filter_map(|&i| servers.get(i).copied())
                        .collect(),
                    port: self.port,
                };
                self.ctl.start(&spec).map_err(StepError::Error)?;
                self.last_client = Some(Instant::now());
                Ok(())
            }
            StepKind::Client(ClientAction::Stop) => {
                self.last_client = Some(Instant::now());
                self.ctl.stop().map_err(StepError::Error)
            }
            StepKind::Await(a) => self.await_(net, a, limit),
            StepKind::AwaitNone(a) => self.await_none(net, a, limit),
            StepKind::Answer(a) => self.answer(net, a),
            _ => Err(StepError::Error("not a client-role step".into())),
        }
    }

    fn address_of(&self, index: usize, target: &Target) -> SocketAddr {
        let ip = self
            .nics
            .get(index)
            .copied()
            .unwrap_or(Ipv4Addr::UNSPECIFIED);
        SocketAddr::new(IpAddr::V4(ip), target.addr.port())
    }
}

/// Checks the non-selecting matchers of an `await`.
fn check_request(a: &Await, r: &Repr<'_>) -> Result<(), String> {
    if let Some(b) = a.b {
        if b != r.flags.broadcast {
            return Err(format!("B flag: expected {b}, got {}", r.flags.broadcast));
        }
    }
    if let Some(rd) = a.rd {
        if rd != r.flags.recursion_desired {
            return Err(format!(
                "RD flag: expected {rd}, got {}",
                r.flags.recursion_desired
            ));
        }
    }
    let needs_record = a.group.is_some()
        || a.ont.is_some()
        || a.ttl.is_some()
        || a.addrs.is_some()
        || !a.has_addr.is_empty()
        || a.entries.is_some();
    if !needs_record {
        return Ok(());
    }
    let Some(rec) = r.additional.or(r.answer) else {
        return Err("no NB record in the request".into());
    };
    if let Some(t) = a.ttl {
        if !t.contains(rec.ttl) {
            return Err(format!("ttl: expected {t}, got {}", rec.ttl));
        }
    }
    let entries: Vec<NbEntry> = rec.nb_entries().map_or(Vec::new(), |l| l.iter().collect());
    crate::roles::runner::check_entries(
        &entries,
        a.addrs.as_deref(),
        &a.has_addr,
        &[],
        a.entries,
        a.group,
        a.ont,
    )
}

/// The opcode, name and server matchers that `await` and `await-none` share.
fn describe_match(s: &mut String, opcodes: &[Opcode], name: Option<&NameSpec>, at: Option<Client>) {
    if !opcodes.is_empty() {
        let ops: Vec<String> = opcodes.iter().map(|o| o.to_string()).collect();
        s.push_str(&format!(" op={}", ops.join("|")));
    }
    if let Some(n) = name {
        s.push_str(&format!(" name={n}"));
    }
    if let Some(at) = at {
        s.push_str(&format!(" at=server{}", at.0 + 1));
    }
}

impl Await {
    pub fn describe(&self) -> String {
        let mut s = String::from("a request");
        describe_match(&mut s, &self.opcodes, self.name.as_ref(), self.at);
        if let Some(f) = self.from {
            s.push_str(&format!(" from=client{}", f + 1));
        }
        if self.count > 1 {
            s.push_str(&format!(" count={}", self.count));
        }
        if let Some((lo, hi)) = self.interval {
            s.push_str(&format!(
                " interval={:.2}s..{:.2}s",
                lo.as_secs_f64(),
                hi.as_secs_f64()
            ));
        }
        if let Some(t) = self.ttl {
            s.push_str(&format!(" ttl={t}"));
        }
        if let Some(g) = self.group {
            s.push_str(if g { " group" } else { " unique" });
        }
        if let Some(a) = &self.addrs {
            s.push_str(&format!(
                " addrs={}",
                a.iter()
                    .map(|x| x.to_string())
                    .collect::<Vec<_>>()
                    .join(",")
            ));
        }
        s.push_str(&format!(" within {:?}", self.timeout));
        s
    }
}

impl AwaitNone {
    pub fn describe(&self) -> String {
        let mut s = String::from("no request");
        describe_match(&mut s, &self.opcodes, self.name.as_ref(), self.at);
        s.push_str(&format!(
            " since {:?} until {:?} from now",
            self.since, self.within
        ));
        s
    }
}

/// Variables of a client-role script.
fn variables(
    token: &str,
    index: usize,
    name: &str,
    workgroup: &str,
    servers: &[Ipv4Addr],
    nics: &[Ipv4Addr],
) -> std::collections::BTreeMap<String, String> {
    let mut vars = std::collections::BTreeMap::new();
    vars.insert("run".into(), format!("{token}{index:02}"));
    vars.insert("target_name".into(), name.to_string());
    vars.insert("workgroup".into(), workgroup.to_string());
    vars.insert(
        "target_ip".into(),
        nics.first().map_or(String::new(), |a| a.to_string()),
    );
    for (i, a) in servers.iter().enumerate() {
        vars.insert(format!("server{}", i + 1), a.to_string());
    }
    for (i, a) in nics.iter().enumerate() {
        vars.insert(format!("client{}", i + 1), a.to_string());
    }
    vars
}

/// Binds the server sockets: `port`, or a free high port for the embedded client.
fn bind_servers(servers: &[Ipv4Addr], port: Option<u16>, shared: bool) -> Result<Net, String> {
    crate::net::bind_common_port(port, None, |p| {
        if shared {
            Net::bind_shared(servers, p)
        } else {
            Net::bind(servers, p)
        }
    })
}

/// `nbns-conform run --role client`.
pub fn run(opts: &RunArgs) -> i32 {
    let Some(scripts) = library::load_selected(&opts.paths, LIBRARY, opts.filter.as_deref()) else {
        return 2;
    };
    let expectations = match Expectations::load_opt(opts.expect.as_deref()) {
        Ok(e) => e,
        Err(e) => {
            eprintln!("error: {e}");
            return 2;
        }
    };
    let servers = if opts.servers.is_empty() {
        DEFAULT_SERVERS.to_vec()
    } else {
        opts.servers.clone()
    };
    let nics = if opts.clients.is_empty() {
        DEFAULT_NICS.to_vec()
    } else {
        opts.clients.clone()
    };
    let name = opts
        .target_name
        .clone()
        .unwrap_or_else(|| DEFAULT_NAME.into());
    let external = opts.target_command.is_some();
    let port = if external {
        Some(opts.client_port.unwrap_or(nbns_wire::nbns::PORT))
    } else {
        opts.client_port
    };
    let net = match bind_servers(&servers, port, external) {
        Ok(n) => n,
        Err(e) => {
            eprintln!("error: {e}");
            return 2;
        }
    };
    let port = net.local_addr(0).map(|a| a.port()).unwrap_or(0);
    let mut ctl: Box<dyn ClientUnderTest> = match &opts.target_command {
        Some(c) => Box::new(External::new(c.clone())),
        None => Box::new(Embedded::default()),
    };
    let target = Target {
        addr: SocketAddr::new(IpAddr::V4(nics[0]), port),
        name: name.clone(),
        partners: None,
    };
    let token = suite::run_token();
    let mut ready = Vec::new();
    let mut errors = Vec::new();
    for (i, s) in scripts.iter().enumerate() {
        match s.instantiate(&variables(
            &token,
            i,
            &name,
            DEFAULT_WORKGROUP,
            &servers,
            &nics,
        )) {
            Ok(r) => ready.push(r),
            Err(e) => errors.push(e),
        }
    }
    if !errors.is_empty() {
        return suite::script_errors(&errors);
    }
    let label = match &opts.target_command {
        Some(c) => format!("client under test (`{c}`)"),
        None => "reference client (embedded)".to_string(),
    };
    let show = |a: &[Ipv4Addr]| {
        a.iter()
            .map(|x| x.to_string())
            .collect::<Vec<_>>()
            .join(",")
    };
    eprintln!(
        "running {} client-role scripts against the {label}: servers {} port {port}, client addresses {}",
        scripts.len(),
        show(&servers),
        show(&nics)
    );
    let start = Instant::now();
    let mut outcomes = Vec::new();
    for (script, inst) in scripts.iter().zip(&ready) {
        let t0 = Instant::now();
        let verdict = {
            let mut steps = ClientSteps::new(
                ctl.as_mut(),
                name.clone(),
                DEFAULT_WORKGROUP.into(),
                nics.clone(),
                port,
            );
            runner::run_with(&net, &target, inst, Some(&mut steps))
        };
        ctl.kill();
        let duration = t0.elapsed();
        let violations = strict::traffic::check_client(&nics, &net.received_since(t0));
        let verdict = match (verdict, violations.first()) {
            (Verdict::Pass, Some(v)) => Verdict::Violation(v.clone()),
            (verdict, _) => verdict,
        };
        let mut o = Outcome {
            name: script.name.clone(),
            title: script.title.clone(),
            verdict,
            duration,
            known: None,
            violations,
        };
        if let Some(e) = &expectations {
            e.judge_one(&mut o);
        }
        if !opts.quiet || o.counts_as_failure() || o.known.is_some() {
            println!("{}", report::line(&o));
            let _ = std::io::stdout().flush();
        }
        outcomes.push(o);
    }
    report::finish(
        report::Finish {
            label: &label,
            expectations: expectations.as_ref(),
            junit: opts.junit.as_deref(),
            json: opts.json.as_deref(),
            complete: opts.filter.is_none() && opts.paths.is_empty(),
            start,
        },
        &mut outcomes,
    )
}
