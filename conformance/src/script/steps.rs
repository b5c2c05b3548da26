//! Typed script steps: the result of substituting a run's variables into a
//! parsed [`Script`] and checking every value. A runner executes these.

use crate::script::format::{Directive, Field, Line, Script, ScriptError};
use nbns_wire::nbns::{NodeType, Opcode, Rcode, RrType};
use nbns_wire::NetbiosName;
use std::collections::BTreeMap;
use std::fmt;
use std::net::Ipv4Addr;
use std::time::Duration;

/// Default time an `await` waits for a request.
pub const DEFAULT_AWAIT_TIMEOUT: Duration = Duration::from_secs(10);

/// Default time an `expect` waits for its reply.
pub const DEFAULT_EXPECT_TIMEOUT: Duration = Duration::from_secs(3);
/// Default limit on a whole script.
pub const DEFAULT_SCRIPT_LIMIT: Duration = Duration::from_secs(30);

/// A client address of the runner, `client1` is index 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Client(pub usize);

impl fmt::Display for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "client{}", self.0 + 1)
    }
}

/// A NetBIOS name with its scope, as a script names it: `FOO<20>.scope`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct NameSpec {
    pub name: NetbiosName,
    pub scope: String,
}

impl fmt::Display for NameSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.name)?;
        if !self.scope.is_empty() {
            write!(f, ".{}", self.scope)?;
        }
        Ok(())
    }
}

/// A packet a script sends: built from fields, or raw bytes for hostile cases.
#[derive(Debug, Clone, PartialEq)]
pub enum Payload {
    Raw(Vec<u8>),
    Fields(PacketFields),
}

/// Which section carries the NB record of a request or response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordSection {
    Answer,
    Additional,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PacketFields {
    /// Transaction id; `None` picks a fresh one.
    pub id: Option<u16>,
    pub opcode: Opcode,
    pub response: bool,
    pub rcode: Rcode,
    /// Explicit NM_FLAGS bits; `None` means the usual ones for the opcode.
    pub aa: Option<bool>,
    pub tc: Option<bool>,
    pub rd: Option<bool>,
    pub ra: Option<bool>,
    pub b: Option<bool>,
    /// A whole flags word that overrides everything above.
    pub flags_word: Option<u16>,
    pub name: Option<NameSpec>,
    pub qtype: RrType,
    pub ttl: u32,
    pub group: bool,
    pub ont: NodeType,
    /// NB entry addresses; `None` means the sending client's own address.
    pub addrs: Option<Vec<Ipv4Addr>>,
    pub question: bool,
    /// The NB record, if any, and its section.
    pub record: Option<RecordSection>,
    pub compress: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Send {
    pub from: Client,
    /// `None` sends to the target; `Some` to another runner client (rare).
    pub to: Option<Client>,
    pub payload: Payload,
}

/// An inclusive range of u32 values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Range {
    pub min: u32,
    pub max: u32,
}

impl Range {
    pub fn contains(&self, v: u32) -> bool {
        self.min <= v && v <= self.max
    }
}

impl fmt::Display for Range {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.min, self.max) {
            (a, b) if a == b => write!(f, "{a}"),
            (a, u32::MAX) => write!(f, "{a}.."),
            (a, b) => write!(f, "{a}..{b}"),
        }
    }
}

/// What a reply must look like. Unset matchers accept anything.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Expect {
    /// The client socket the reply arrives at; `None` = the last sender.
    pub to: Option<Client>,
    /// Expect a WACK first (any TTL within `wack_ttl`), then this reply.
    pub wack: Option<Range>,
    pub timeout: Option<Duration>,
    pub rcode: Option<Rcode>,
    pub opcode: Option<Opcode>,
    pub response: Option<bool>,
    pub aa: Option<bool>,
    pub tc: Option<bool>,
    pub rd: Option<bool>,
    pub ra: Option<bool>,
    pub b: Option<bool>,
    pub name: Option<NameSpec>,
    pub rtype: Option<RrType>,
    pub addrs: Option<Vec<Ipv4Addr>>,
    pub has_addr: Vec<Ipv4Addr>,
    pub lacks_addr: Vec<Ipv4Addr>,
    /// The address of the answer's first NB entry (order matters: `<1C>` answers list the
    /// `<1B>` holder first).
    pub first_addr: Option<Ipv4Addr>,
    pub ttl: Option<Range>,
    pub entries: Option<Range>,
    pub group: Option<bool>,
    pub ont: Option<NodeType>,
    /// Accept a reply whatever its transaction id (default: must echo the request's).
    pub any_id: bool,
    /// Only a WACK is expected (`wack-only`): a request the target holds while it decides
    /// another's (the final answer goes to that other request).
    pub wack_only: bool,
    /// The answer to the client's last request with this transaction id (`id=N`), not to
    /// its last request: for a request answered after the client sent another.
    pub id: Option<u16>,
}

/// How the runner answers a challenge query the target sends to a client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChallengeReply {
    /// "Yes, I still hold it": a positive query response.
    Claim,
    /// "No": a negative (NAM_ERR) response.
    Release,
    /// No answer at all, as from a host that is gone.
    Silent,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Challenge {
    pub to: Client,
    pub name: Option<NameSpec>,
    pub reply: ChallengeReply,
    pub timeout: Duration,
    pub ttl: u32,
    /// Addresses a claim lists; `None` means the challenged client's own
    /// (a multihomed holder lists all of its host's addresses).
    pub addrs: Option<Vec<Ipv4Addr>>,
    /// Answer the challenge if the target sends one; a target that decides
    /// without challenging is not a failure.
    pub optional: bool,
    /// The query must have arrived after the first request this client sent since the
    /// script's previous `challenge` step (`after=clientN`; default: after the script's last
    /// request): for a challenge with other requests sent while it runs.
    pub after: Option<Client>,
    /// Before the reply, a positive answer with the query's transaction id from this other
    /// client's socket (`stray=clientN`): an answer from an address the target did not ask.
    pub stray: Option<Client>,
}

/// Client role: start or stop the client under test.
#[derive(Debug, Clone, PartialEq)]
pub enum ClientAction {
    /// Start it with these of its addresses (indexes of client1..) as NICs and
    /// these runner servers (indexes of server1..) as WINS servers, in order.
    Start { nics: Vec<usize>, wins: Vec<usize> },
    /// Stop it gracefully (SIGTERM for a daemon): it releases its names.
    Stop,
}

/// Client role: a request the client under test must send.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Await {
    /// The runner server it must arrive at; `None` = any.
    pub at: Option<Client>,
    /// The client address (index of client1..) it must come from; `None` = any.
    pub from: Option<usize>,
    /// Accepted opcodes; empty = any request.
    pub opcodes: Vec<Opcode>,
    pub name: Option<NameSpec>,
    pub b: Option<bool>,
    pub rd: Option<bool>,
    pub group: Option<bool>,
    pub ont: Option<NodeType>,
    /// TTL of the request's NB record.
    pub ttl: Option<Range>,
    pub addrs: Option<Vec<Ipv4Addr>>,
    pub has_addr: Vec<Ipv4Addr>,
    pub entries: Option<Range>,
    /// How many matching requests (retransmissions) to take.
    pub count: u32,
    /// Allowed time between consecutive matching requests.
    pub interval: Option<(Duration, Duration)>,
    /// How long to wait for each of them.
    pub timeout: Duration,
    /// Nothing arriving is not a failure (a later `answer` then does nothing).
    pub optional: bool,
}

/// Where an `await-none` window starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Since {
    /// At the step itself.
    Now,
    /// At the last `client` step.
    Client,
    /// At the last `answer`.
    Answer,
    /// At the script's first `answer`.
    FirstAnswer,
}

/// Client role: no matching request arrives in a window.
#[derive(Debug, Clone, PartialEq)]
pub struct AwaitNone {
    pub at: Option<Client>,
    pub from: Option<usize>,
    pub opcodes: Vec<Opcode>,
    pub name: Option<NameSpec>,
    pub within: Duration,
    pub since: Since,
}

/// Client role: how the runner (a WINS server) answers the awaited request.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    pub rcode: Rcode,
    /// TTL of the answer record; `None`: the request's for a positive answer, 0 otherwise.
    pub ttl: Option<u32>,
    /// Addresses of the answer; `None`: the request's NB entries.
    pub addrs: Option<Vec<Ipv4Addr>>,
    /// Opcode of the response; `None`: the request's (registration for 0xF).
    pub opcode: Option<Opcode>,
    /// Answer from this server's socket instead of the one it arrived at.
    pub from: Option<Client>,
    /// Send a WACK (TTL = `ttl`) instead of a final answer.
    pub wack: bool,
    pub group: Option<bool>,
}

/// Server role: a record the runner pushes to the target as one of its WINS replication
/// partners (MS-WINSRA 3.1.4: an update notification, then the target pulls the record over
/// the same association). The version is the runner's: the next of the owner's in this run.
#[derive(Debug, Clone, PartialEq)]
pub struct Replica {
    pub name: NameSpec,
    /// The owner: a partner address of the runner (`partner1` is index 0).
    pub owner: usize,
    /// The partner that pushes it (default: the owner).
    pub from: usize,
    pub kind: nbns_wire::wrepl::RecordType,
    pub state: nbns_wire::wrepl::RecordState,
    pub addrs: Vec<Ipv4Addr>,
    /// The owner of each address of a special group or multihomed record (MS-WINSRA
    /// 2.2.10.1), in the order of `addrs`; `None`: the record's owner.
    pub owners: Option<Vec<Ipv4Addr>>,
    pub is_static: bool,
    /// Push on a thread of its own: the steps after it (answering the challenge the record
    /// makes the target send) run while the target pulls; the next `send` or `replica` and
    /// the script's end wait for the push to finish.
    pub background: bool,
    /// The update notification lists the target too, as an owner with a version above any
    /// it has given (a partner holding the target's records, pulled from it, lists them):
    /// the target must not pull its own records back (`target-owner`).
    pub target_owner: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub enum StepKind {
    Send(Send),
    Expect(Box<Expect>),
    ExpectNone {
        to: Option<Client>,
        within: Duration,
        name: Option<NameSpec>,
    },
    Challenge(Challenge),
    Wait(Duration),
    Client(ClientAction),
    Await(Box<Await>),
    AwaitNone(Box<AwaitNone>),
    Answer(Box<Answer>),
    Replica(Box<Replica>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    pub line: usize,
    pub kind: StepKind,
}

/// A script ready to run.
#[derive(Debug, Clone, PartialEq)]
pub struct Instantiated {
    pub limit: Duration,
    /// How often a send/expect pair may be retried for UDP loss.
    pub retries: u32,
    pub steps: Vec<Step>,
}

struct Ctx<'a> {
    script: &'a Script,
    vars: BTreeMap<String, String>,
    clients: usize,
    /// Replication partner addresses of the runner (`partner1`...); 0 outside the server role.
    partners: usize,
    /// Runner servers (client role); 0 in the server role.
    servers: usize,
}

impl Ctx<'_> {
    fn err(&self, line: usize, column: usize, message: impl Into<String>) -> ScriptError {
        ScriptError {
            file: self.script.path.clone(),
            line,
            column,
            message: message.into(),
        }
    }

    /// Replaces `{var}` with its value.
    fn subst(&self, line: usize, column: usize, s: &str) -> Result<String, ScriptError> {
        let mut out = String::new();
        let mut rest = s;
        while let Some(open) = rest.find('{') {
            out.push_str(&rest[..open]);
            let close = rest[open..]
                .find('}')
                .ok_or_else(|| self.err(line, column, format!("unclosed `{{` in `{s}`")))?;
            let var = &rest[open + 1..open + close];
            let v = self.vars.get(var).ok_or_else(|| {
                self.err(
                    line,
                    column,
                    format!(
                        "unknown variable `{{{var}}}` (known: {})",
                        self.vars.keys().cloned().collect::<Vec<_>>().join(", ")
                    ),
                )
            })?;
            out.push_str(v);
            rest = &rest[open + close + 1..];
        }
        out.push_str(rest);
        Ok(out)
    }
}

/// Reads a line's fields, with values substituted.
struct Fields<'c, 'a> {
    ctx: &'c Ctx<'a>,
    line: usize,
    map: Vec<(&'a Field, Option<String>)>,
}

impl<'c, 'a> Fields<'c, 'a> {
    fn new(ctx: &'c Ctx<'a>, l: &'a Line) -> Result<Self, ScriptError> {
        let mut map = Vec::new();
        for f in &l.fields {
            if map.iter().any(|(g, _): &(&Field, _)| g.key == f.key) {
                return Err(ctx.err(l.line, f.column, format!("field `{}` given twice", f.key)));
            }
            let v = match &f.value {
                Some(v) => Some(ctx.subst(l.line, f.column, v)?),
                None => None,
            };
            map.push((f, v));
        }
        Ok(Fields {
            ctx,
            line: l.line,
            map,
        })
    }

    fn get(&self, key: &str) -> Option<(&'a Field, Option<&str>)> {
        self.map
            .iter()
            .find(|(f, _)| f.key == key)
            .map(|(f, v)| (*f, v.as_deref()))
    }

    fn bad(&self, f: &Field, message: impl Into<String>) -> ScriptError {
        self.ctx.err(
            self.line,
            f.column,
            format!("`{}`: {}", f.key, message.into()),
        )
    }

    /// A field that must have a value.
    fn value(&self, key: &str) -> Result<Option<(&'a Field, &str)>, ScriptError> {
        match self.get(key) {
            None => Ok(None),
            Some((f, Some(v))) => Ok(Some((f, v))),
            Some((f, None)) => Err(self.bad(f, "needs a value (`key=value`)")),
        }
    }

    fn parsed<T>(
        &self,
        key: &str,
        parse: impl Fn(&str) -> Result<T, String>,
    ) -> Result<Option<T>, ScriptError> {
        match self.value(key)? {
            None => Ok(None),
            Some((f, v)) => parse(v).map(Some).map_err(|m| self.bad(f, m)),
        }
    }

    /// `aa`, `aa=yes`, `aa=no`.
    fn flag(&self, key: &str) -> Result<Option<bool>, ScriptError> {
        match self.get(key) {
            None => Ok(None),
            Some((_, None)) => Ok(Some(true)),
            Some((f, Some(v))) => parse_bool(v).map(Some).map_err(|m| self.bad(f, m)),
        }
    }

    /// A runner socket: `clientN` in the server role, `serverN` in the client role.
    fn client(&self, key: &str) -> Result<Option<Client>, ScriptError> {
        let (clients, servers) = (self.ctx.clients, self.ctx.servers);
        if servers > 0 {
            return self.parsed(key, |v| parse_indexed(v, "server", servers).map(Client));
        }
        self.parsed(key, |v| parse_client(v, clients))
    }

    /// Client role: an address of the client under test, `clientN`.
    fn nic(&self, key: &str) -> Result<Option<usize>, ScriptError> {
        let clients = self.ctx.clients;
        self.parsed(key, |v| parse_indexed(v, "client", clients))
    }

    fn list<T>(
        &self,
        key: &str,
        parse: impl Fn(&str) -> Result<T, String>,
    ) -> Result<Vec<T>, ScriptError> {
        Ok(self
            .parsed(key, |v| v.split(',').map(|x| parse(x.trim())).collect())?
            .unwrap_or_default())
    }
}

pub fn parse_bool(v: &str) -> Result<bool, String> {
    match v {
        "yes" | "true" | "1" | "on" => Ok(true),
        "no" | "false" | "0" | "off" => Ok(false),
        _ => Err(format!("`{v}` is not yes/no")),
    }
}

fn parse_client(v: &str, clients: usize) -> Result<Client, String> {
    let n: usize = v
        .strip_prefix("client")
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| format!("`{v}` is not a client (client1..client{clients})"))?;
    if n == 0 || n > clients {
        return Err(format!(
            "`{v}`: this run has {clients} client address(es), client1..client{clients}"
        ));
    }
    Ok(Client(n - 1))
}

/// `serverN` / `clientN` with N in 1..=count, as a 0-based index.
fn parse_indexed(v: &str, prefix: &str, count: usize) -> Result<usize, String> {
    let n: usize = v
        .strip_prefix(prefix)
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| format!("`{v}` is not {prefix}1..{prefix}{count}"))?;
    if n == 0 || n > count {
        return Err(format!(
            "`{v}`: this run has {count} {prefix} address(es), {prefix}1..{prefix}{count}"
        ));
    }
    Ok(n - 1)
}

/// `1.5s..6s`, `..2s`, `1s..`.
pub fn parse_duration_range(v: &str) -> Result<(Duration, Duration), String> {
    let (a, b) = v
        .split_once("..")
        .ok_or_else(|| format!("`{v}` is not a range like 1s..6s"))?;
    let lo = if a.is_empty() {
        Duration::ZERO
    } else {
        parse_duration(a)?
    };
    let hi = if b.is_empty() {
        Duration::from_secs(3600)
    } else {
        parse_duration(b)?
    };
    if lo > hi {
        return Err(format!("`{v}`: the minimum is above the maximum"));
    }
    Ok((lo, hi))
}

pub fn parse_duration(v: &str) -> Result<Duration, String> {
    let (num, unit) = match v.find(|c: char| !c.is_ascii_digit() && c != '.') {
        Some(i) => v.split_at(i),
        None => (v, "s"),
    };
    let n: f64 = num
        .parse()
        .map_err(|_| format!("`{v}` is not a duration like 500ms or 2s"))?;
    let secs = match unit {
        "ms" => n / 1000.0,
        "s" => n,
        "m" => n * 60.0,
        _ => return Err(format!("`{v}`: unit must be ms, s or m")),
    };
    if !(0.0..=3600.0).contains(&secs) {
        return Err(format!("`{v}` is out of range (0 to 1 hour)"));
    }
    Ok(Duration::from_secs_f64(secs))
}

pub fn parse_opcode(v: &str) -> Result<Opcode, String> {
    Ok(match v {
        "query" => Opcode::Query,
        "register" | "registration" => Opcode::Registration,
        "release" => Opcode::Release,
        "wack" => Opcode::Wack,
        "refresh" | "refresh8" => Opcode::Refresh,
        "refresh9" => Opcode::RefreshAlt,
        "multihomed" | "mhomed" => Opcode::MultihomedRegistration,
        _ => match v.parse::<u8>() {
            Ok(n) if n < 16 => Opcode::from(n),
            _ => {
                return Err(format!(
                    "`{v}` is not an opcode (query, register, release, wack, refresh, refresh9, multihomed, or 0..15)"
                ))
            }
        },
    })
}

pub fn parse_rcode(v: &str) -> Result<Rcode, String> {
    Ok(match v.to_ascii_uppercase().as_str() {
        "OK" | "0" => Rcode::NoError,
        "FMT_ERR" => Rcode::FmtErr,
        "SRV_ERR" => Rcode::SrvErr,
        "NAM_ERR" => Rcode::NamErr,
        "IMP_ERR" => Rcode::ImpErr,
        "RFS_ERR" => Rcode::RfsErr,
        "ACT_ERR" => Rcode::ActErr,
        "CFT_ERR" => Rcode::CftErr,
        other => match other.parse::<u8>() {
            Ok(n) if n < 16 => Rcode::from(n),
            _ => {
                return Err(format!(
                    "`{v}` is not an rcode (OK, FMT_ERR, SRV_ERR, NAM_ERR, IMP_ERR, RFS_ERR, ACT_ERR, CFT_ERR, or 0..15)"
                ))
            }
        },
    })
}

fn parse_rrtype(v: &str) -> Result<RrType, String> {
    Ok(match v.to_ascii_lowercase().as_str() {
        "nb" => RrType::Nb,
        "nbstat" => RrType::NbStat,
        "null" => RrType::Null,
        "a" => RrType::A,
        "ns" => RrType::Ns,
        other => RrType::from(
            parse_u32(other)
                .and_then(|n| u16::try_from(n).map_err(|_| format!("`{v}` over 65535")))?,
        ),
    })
}

fn parse_ont(v: &str) -> Result<NodeType, String> {
    Ok(match v.to_ascii_lowercase().as_str() {
        "b" => NodeType::B,
        "p" => NodeType::P,
        "m" => NodeType::M,
        "h" => NodeType::H,
        _ => return Err(format!("`{v}` is not a node type (b, p, m, h)")),
    })
}

fn parse_u32(v: &str) -> Result<u32, String> {
    let parsed = match v.strip_prefix("0x") {
        Some(hex) => u32::from_str_radix(hex, 16),
        None => v.parse(),
    };
    parsed.map_err(|_| format!("`{v}` is not a number"))
}

/// `N`, `MIN..MAX`, `MIN..`, `..MAX`.
pub fn parse_range(v: &str) -> Result<Range, String> {
    match v.split_once("..") {
        None => parse_u32(v).map(|n| Range { min: n, max: n }),
        Some((a, b)) => Ok(Range {
            min: if a.is_empty() { 0 } else { parse_u32(a)? },
            max: if b.is_empty() {
                u32::MAX
            } else {
                parse_u32(b)?
            },
        }),
    }
}

pub fn parse_addrs(v: &str) -> Result<Vec<Ipv4Addr>, String> {
    if v.is_empty() || v == "none" {
        return Ok(Vec::new());
    }
    v.split(',')
        .map(|a| {
            a.trim()
                .parse()
                .map_err(|_| format!("`{a}` is not an IPv4 address"))
        })
        .collect()
}

/// `NAME<XX>` with an optional `.scope`; `\xNN` escapes any byte; `*` alone
/// is the node-status wildcard.
pub fn parse_name(v: &str) -> Result<NameSpec, String> {
    if v == "*" {
        return Ok(NameSpec {
            name: NetbiosName::WILDCARD,
            scope: String::new(),
        });
    }
    let open = v
        .rfind('<')
        .ok_or_else(|| format!("`{v}` needs a suffix, like FOO<20>"))?;
    let close = open
        + v[open..]
            .find('>')
            .ok_or_else(|| format!("`{v}`: unclosed `<`"))?;
    let suffix = u8::from_str_radix(&v[open + 1..close], 16)
        .map_err(|_| format!("`{v}`: suffix must be two hex digits, like <20>"))?;
    let scope = match &v[close + 1..] {
        "" => String::new(),
        s => s
            .strip_prefix('.')
            .ok_or_else(|| format!("`{v}`: a scope follows the suffix after a dot"))?
            .to_string(),
    };
    let bytes = unescape(&v[..open])?;
    let name = NetbiosName::new(&bytes, suffix).map_err(|e| e.kind.to_string())?;
    nbns_wire::Labels::dotted(&scope)
        .and_then(|labels| nbns_wire::Name::netbios(name, labels))
        .map_err(|e| format!("scope `{scope}`: {}", e.kind))?;
    Ok(NameSpec { name, scope })
}

fn unescape(s: &str) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' {
            let hex = s
                .get(i + 2..i + 4)
                .filter(|_| b.get(i + 1) == Some(&b'x'))
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| format!("`{s}`: escapes are \\xNN"))?;
            out.push(hex);
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    Ok(out)
}

pub fn parse_hex(v: &str) -> Result<Vec<u8>, String> {
    let digits: String = v
        .chars()
        .filter(|c| !c.is_whitespace() && *c != ':' && *c != '_')
        .collect();
    if !digits.len().is_multiple_of(2) {
        return Err("odd number of hex digits".into());
    }
    (0..digits.len())
        .step_by(2)
        .map(|i| {
            u8::from_str_radix(&digits[i..i + 2], 16)
                .map_err(|_| format!("`{}` is not hex", &digits[i..i + 2]))
        })
        .collect()
}

impl Script {
    /// Substitutes `vars` (plus the script's own `set`s) and checks every
    /// value, giving the steps a runner executes.
    pub fn instantiate(
        &self,
        vars: &BTreeMap<String, String>,
    ) -> Result<Instantiated, ScriptError> {
        instantiate(self, vars)
    }
}

fn instantiate(
    script: &Script,
    vars: &BTreeMap<String, String>,
) -> Result<Instantiated, ScriptError> {
    let clients = (1..)
        .take_while(|n| vars.contains_key(&format!("client{n}")))
        .count();
    let servers = (1..)
        .take_while(|n| vars.contains_key(&format!("server{n}")))
        .count();
    let partners = (1..)
        .take_while(|n| vars.contains_key(&format!("partner{n}")))
        .count();
    let mut ctx = Ctx {
        script,
        vars: vars.clone(),
        clients,
        partners,
        servers,
    };
    let mut out = Instantiated {
        limit: DEFAULT_SCRIPT_LIMIT,
        retries: 0,
        steps: Vec::new(),
    };
    for l in &script.lines {
        let kind = match l.directive {
            Directive::Title | Directive::Tags | Directive::Refs | Directive::Settings => continue,
            Directive::Set => {
                let f = &l.fields[0];
                let v = ctx.subst(l.line, f.column, f.value.as_deref().unwrap_or(""))?;
                ctx.vars.insert(f.key.clone(), v);
                continue;
            }
            Directive::Limit => {
                let fs = Fields::new(&ctx, l)?;
                if let Some(t) = fs.parsed("time", parse_duration)? {
                    out.limit = t;
                }
                if let Some(r) = fs.parsed("retries", |v| {
                    parse_u32(v).and_then(|n| {
                        if n <= 10 {
                            Ok(n)
                        } else {
                            Err("at most 10".into())
                        }
                    })
                })? {
                    out.retries = r;
                }
                continue;
            }
            Directive::Send => StepKind::Send(send(&Fields::new(&ctx, l)?)?),
            Directive::Expect => StepKind::Expect(Box::new(expect(&Fields::new(&ctx, l)?)?)),
            Directive::ExpectNone => {
                let fs = Fields::new(&ctx, l)?;
                StepKind::ExpectNone {
                    to: fs.client("to")?,
                    within: fs
                        .parsed("within", parse_duration)?
                        .unwrap_or(Duration::from_secs(1)),
                    name: fs.parsed("name", parse_name)?,
                }
            }
            Directive::Challenge => {
                let fs = Fields::new(&ctx, l)?;
                StepKind::Challenge(Challenge {
                    to: fs.client("to")?.unwrap_or(Client(0)),
                    name: fs.parsed("name", parse_name)?,
                    reply: fs
                        .parsed("reply", |v| match v {
                            "claim" => Ok(ChallengeReply::Claim),
                            "release" => Ok(ChallengeReply::Release),
                            "silent" => Ok(ChallengeReply::Silent),
                            _ => Err(format!("`{v}` is not claim, release or silent")),
                        })?
                        .unwrap_or(ChallengeReply::Claim),
                    timeout: fs
                        .parsed("timeout", parse_duration)?
                        .unwrap_or(Duration::from_secs(10)),
                    ttl: fs.parsed("ttl", parse_u32)?.unwrap_or(300_000),
                    addrs: fs.parsed("addr", parse_addrs)?,
                    optional: fs.flag("optional")?.unwrap_or(false),
                    after: fs.client("after")?,
                    stray: fs.client("stray")?,
                })
            }
            Directive::Wait => {
                let fs = Fields::new(&ctx, l)?;
                StepKind::Wait(fs.parsed("for", parse_duration)?.ok_or_else(|| {
                    ctx.err(
                        l.line,
                        1,
                        "`wait` needs `for=DURATION`, e.g. wait for=500ms",
                    )
                })?)
            }
            Directive::Client => StepKind::Client(client_action(&Fields::new(&ctx, l)?)?),
            Directive::Await => StepKind::Await(Box::new(await_step(&Fields::new(&ctx, l)?)?)),
            Directive::AwaitNone => {
                let fs = Fields::new(&ctx, l)?;
                StepKind::AwaitNone(Box::new(AwaitNone {
                    at: fs.client("at")?,
                    from: fs.nic("from")?,
                    opcodes: fs.list("op", parse_opcode)?,
                    name: fs.parsed("name", parse_name)?,
                    within: fs
                        .parsed("within", parse_duration)?
                        .unwrap_or(Duration::from_secs(1)),
                    since: fs
                        .parsed("since", |v| match v {
                            "now" => Ok(Since::Now),
                            "client" => Ok(Since::Client),
                            "answer" => Ok(Since::Answer),
                            "first-answer" => Ok(Since::FirstAnswer),
                            _ => Err(format!("`{v}` is not now, client, answer or first-answer")),
                        })?
                        .unwrap_or(Since::Now),
                }))
            }
            Directive::Answer => {
                let fs = Fields::new(&ctx, l)?;
                StepKind::Answer(Box::new(Answer {
                    rcode: fs.parsed("rcode", parse_rcode)?.unwrap_or(Rcode::NoError),
                    ttl: fs.parsed("ttl", parse_u32)?,
                    addrs: fs.parsed("addrs", parse_addrs)?,
                    opcode: fs.parsed("op", parse_opcode)?,
                    from: fs.client("from")?,
                    wack: fs.flag("wack")?.unwrap_or(false),
                    group: fs.flag("group")?,
                }))
            }
            Directive::Replica => StepKind::Replica(Box::new(replica(&Fields::new(&ctx, l)?)?)),
        };
        out.steps.push(Step { line: l.line, kind });
    }
    if out.steps.is_empty() {
        return Err(ctx.err(1, 1, "script has no send, expect or wait steps"));
    }
    Ok(out)
}

fn replica(fs: &Fields<'_, '_>) -> Result<Replica, ScriptError> {
    use nbns_wire::wrepl::{RecordState, RecordType};
    let partners = fs.ctx.partners;
    if partners == 0 {
        return Err(fs.ctx.err(
            fs.line,
            1,
            "`replica` needs the runner's replication partners (the server role)",
        ));
    }
    let need = |key: &str| fs.ctx.err(fs.line, 1, format!("`replica` needs `{key}=`"));
    let partner = |v: &str| parse_indexed(v, "partner", partners);
    let owner = fs.parsed("owner", partner)?.ok_or_else(|| need("owner"))?;
    let kind = fs
        .parsed("kind", |v| match v {
            "unique" => Ok(RecordType::Unique),
            "group" => Ok(RecordType::Group),
            "sgroup" => Ok(RecordType::SpecialGroup),
            "multihomed" => Ok(RecordType::Multihomed),
            _ => Err(format!("`{v}` is not unique, group, sgroup or multihomed")),
        })?
        .unwrap_or(RecordType::Unique);
    let addrs = fs
        .parsed("addrs", parse_addrs)?
        .ok_or_else(|| need("addrs"))?;
    let owners = fs.parsed("owners", parse_addrs)?;
    if let (Some(o), Some((f, _))) = (&owners, fs.get("owners")) {
        if o.len() != addrs.len() {
            return Err(fs.bad(f, "one owner for each of `addrs`"));
        }
    }
    Ok(Replica {
        name: fs.parsed("name", parse_name)?.ok_or_else(|| need("name"))?,
        owner,
        from: fs.parsed("from", partner)?.unwrap_or(owner),
        kind,
        state: fs
            .parsed("state", |v| match v {
                "active" => Ok(RecordState::Active),
                "released" => Ok(RecordState::Released),
                "tombstone" => Ok(RecordState::Tombstone),
                _ => Err(format!("`{v}` is not active, released or tombstone")),
            })?
            .unwrap_or(RecordState::Active),
        addrs,
        owners,
        is_static: fs.flag("static")?.unwrap_or(false),
        background: fs.flag("background")?.unwrap_or(false),
        target_owner: fs.flag("target-owner")?.unwrap_or(false),
    })
}

fn client_action(fs: &Fields<'_, '_>) -> Result<ClientAction, ScriptError> {
    if fs.ctx.servers == 0 {
        return Err(fs.ctx.err(
            fs.line,
            1,
            "`client` belongs to the client role (run with --role client)",
        ));
    }
    let start = fs.flag("start")?.unwrap_or(false);
    let stop = fs.flag("stop")?.unwrap_or(false);
    if start == stop {
        return Err(fs.ctx.err(
            fs.line,
            1,
            "`client` needs exactly one of `start` or `stop`",
        ));
    }
    if stop {
        if let Some((f, _)) = fs.get("nics").or(fs.get("wins")) {
            return Err(fs.bad(f, "only `client start` takes addresses"));
        }
        return Ok(ClientAction::Stop);
    }
    let clients = fs.ctx.clients;
    let servers = fs.ctx.servers;
    let mut nics = fs.list("nics", |v| parse_indexed(v, "client", clients))?;
    if nics.is_empty() {
        nics.push(0);
    }
    let mut wins = fs.list("wins", |v| parse_indexed(v, "server", servers))?;
    if wins.is_empty() {
        wins.push(0);
    }
    Ok(ClientAction::Start { nics, wins })
}

fn await_step(fs: &Fields<'_, '_>) -> Result<Await, ScriptError> {
    if fs.ctx.servers == 0 {
        return Err(fs.ctx.err(
            fs.line,
            1,
            "`await` belongs to the client role (run with --role client)",
        ));
    }
    let count = fs
        .parsed("count", |v| {
            parse_u32(v).and_then(|n| {
                if (1..=20).contains(&n) {
                    Ok(n)
                } else {
                    Err("1 to 20".into())
                }
            })
        })?
        .unwrap_or(1);
    Ok(Await {
        at: fs.client("at")?,
        from: fs.nic("from")?,
        opcodes: fs.list("op", parse_opcode)?,
        name: fs.parsed("name", parse_name)?,
        b: fs.flag("b")?,
        rd: fs.flag("rd")?,
        group: fs.flag("group")?,
        ont: fs.parsed("ont", parse_ont)?,
        ttl: fs.parsed("ttl", parse_range)?,
        addrs: fs.parsed("addrs", parse_addrs)?,
        has_addr: fs.parsed("has-addr", parse_addrs)?.unwrap_or_default(),
        entries: fs.parsed("entries", parse_range)?,
        count,
        interval: fs.parsed("interval", parse_duration_range)?,
        timeout: fs
            .parsed("timeout", parse_duration)?
            .unwrap_or(DEFAULT_AWAIT_TIMEOUT),
        optional: fs.flag("optional")?.unwrap_or(false),
    })
}

fn send(fs: &Fields<'_, '_>) -> Result<Send, ScriptError> {
    let from = fs.client("from")?.unwrap_or(Client(0));
    // Client role: `to=clientN` is an address of the client under test.
    let to = if fs.ctx.servers > 0 {
        fs.nic("to")?.map(Client)
    } else {
        fs.client("to")?
    };
    if let Some(raw) = fs.parsed("raw", parse_hex)? {
        if let Some((f, _)) = fs
            .map
            .iter()
            .find(|(f, _)| !["raw", "from", "to"].contains(&f.key.as_str()))
        {
            return Err(fs.bad(f, "cannot be combined with `raw`"));
        }
        return Ok(Send {
            from,
            to,
            payload: Payload::Raw(raw),
        });
    }
    let opcode = fs.parsed("op", parse_opcode)?.unwrap_or(Opcode::Query);
    let response = fs.flag("response")?.unwrap_or(false);
    // Requests that register or release carry their NB record in the
    // additional section; responses in the answer section.
    let default_record = if response {
        Some(RecordSection::Answer)
    } else if opcode.is_registration_like() {
        Some(RecordSection::Additional)
    } else {
        None
    };
    let record = if fs.flag("no-record")?.unwrap_or(false) {
        None
    } else {
        match fs.parsed("section", |v| match v {
            "answer" => Ok(RecordSection::Answer),
            "additional" => Ok(RecordSection::Additional),
            _ => Err(format!("`{v}` is not answer or additional")),
        })? {
            Some(s) => Some(s),
            None => default_record,
        }
    };
    let name = fs.parsed("name", parse_name)?;
    if name.is_none() {
        return Err(fs.ctx.err(
            fs.line,
            1,
            "`send` needs `name=NAME<XX>` (or `raw=HEX` for a hand-made packet)",
        ));
    }
    Ok(Send {
        from,
        to,
        payload: Payload::Fields(PacketFields {
            id: fs.parsed("id", |v| {
                parse_u32(v).and_then(|n| u16::try_from(n).map_err(|_| "over 65535".into()))
            })?,
            opcode,
            response,
            rcode: fs.parsed("rcode", parse_rcode)?.unwrap_or(Rcode::NoError),
            aa: fs.flag("aa")?,
            tc: fs.flag("tc")?,
            rd: fs.flag("rd")?,
            ra: fs.flag("ra")?,
            b: fs.flag("b")?,
            flags_word: fs.parsed("flags", |v| {
                parse_u32(v).and_then(|n| u16::try_from(n).map_err(|_| "over 0xffff".into()))
            })?,
            name,
            qtype: fs.parsed("qtype", parse_rrtype)?.unwrap_or(RrType::Nb),
            ttl: fs.parsed("ttl", parse_u32)?.unwrap_or(300_000),
            group: fs.flag("group")?.unwrap_or(false),
            ont: fs.parsed("ont", parse_ont)?.unwrap_or(NodeType::H),
            addrs: fs.parsed("addr", parse_addrs)?,
            question: !fs.flag("no-question")?.unwrap_or(response),
            record,
            compress: fs.flag("compress")?.unwrap_or(true),
        }),
    })
}

fn expect(fs: &Fields<'_, '_>) -> Result<Expect, ScriptError> {
    let wack_only = fs.flag("wack-only")?.unwrap_or(false);
    let any = Range {
        min: 0,
        max: u32::MAX,
    };
    Ok(Expect {
        to: fs.client("to")?,
        wack: match fs.get("wack") {
            None if wack_only => Some(any),
            None => None,
            Some((_, None)) => Some(any),
            Some(_) => fs.parsed("wack", parse_range)?,
        },
        timeout: fs.parsed("timeout", parse_duration)?,
        rcode: fs.parsed("rcode", parse_rcode)?,
        opcode: fs.parsed("op", parse_opcode)?,
        response: fs.flag("response")?,
        aa: fs.flag("aa")?,
        tc: fs.flag("tc")?,
        rd: fs.flag("rd")?,
        ra: fs.flag("ra")?,
        b: fs.flag("b")?,
        name: fs.parsed("name", parse_name)?,
        rtype: fs.parsed("type", parse_rrtype)?,
        addrs: fs.parsed("addrs", parse_addrs)?,
        has_addr: fs.parsed("has-addr", parse_addrs)?.unwrap_or_default(),
        lacks_addr: fs.parsed("lacks-addr", parse_addrs)?.unwrap_or_default(),
        first_addr: fs.parsed("first-addr", |v| {
            v.parse()
                .map_err(|_| format!("`{v}` is not an IPv4 address"))
        })?,
        ttl: fs.parsed("ttl", parse_range)?,
        entries: fs.parsed("entries", parse_range)?,
        group: fs.flag("group")?,
        ont: fs.parsed("ont", parse_ont)?,
        any_id: fs.flag("any-id")?.unwrap_or(false),
        wack_only,
        id: fs.parsed("id", |v| {
            parse_u32(v).and_then(|n| u16::try_from(n).map_err(|_| "over 65535".into()))
        })?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn vars() -> BTreeMap<String, String> {
        [
            ("run", "R1"),
            ("client1", "127.0.0.3"),
            ("client2", "127.0.0.4"),
        ]
        .into_iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
    }

    fn inst(text: &str) -> Result<Instantiated, ScriptError> {
        Script::parse(Path::new("t.nbt"), "t".into(), text)
            .unwrap()
            .instantiate(&vars())
    }

    #[test]
    fn substitutes_variables_and_types_values() {
        let i = inst(
            "set N = {run}REG\nsend op=register name={N}<00>.corp ttl=60 from=client2\nexpect wack=1..600 rcode=OK addrs={client2} ttl=1..\n",
        )
        .unwrap();
        let StepKind::Send(s) = &i.steps[0].kind else {
            panic!()
        };
        assert_eq!(s.from, Client(1));
        let Payload::Fields(p) = &s.payload else {
            panic!()
        };
        assert_eq!(p.opcode, Opcode::Registration);
        assert_eq!(p.name.as_ref().unwrap().to_string(), "R1REG<00>.corp");
        assert_eq!(p.record, Some(RecordSection::Additional));
        assert_eq!(p.ttl, 60);
        let StepKind::Expect(e) = &i.steps[1].kind else {
            panic!()
        };
        assert_eq!(e.wack, Some(Range { min: 1, max: 600 }));
        assert_eq!(e.addrs.as_deref(), Some(&[Ipv4Addr::new(127, 0, 0, 4)][..]));
        assert_eq!(
            e.ttl,
            Some(Range {
                min: 1,
                max: u32::MAX
            })
        );
    }

    #[test]
    fn value_errors_point_at_the_field() {
        let e = inst("send op=query name=FOO\n").unwrap_err();
        assert_eq!((e.line, e.column), (1, 15));
        assert!(e.message.contains("needs a suffix"), "{e}");
        let e = inst("send name=A<00>\nexpect rcode=MAYBE\n").unwrap_err();
        assert_eq!((e.line, e.column), (2, 8));
        let e = inst("send name={nope}<00>\n").unwrap_err();
        assert!(e.message.contains("unknown variable `{nope}`"), "{e}");
        let e = inst("send name=A<00> from=client3\n").unwrap_err();
        assert!(e.message.contains("2 client address"), "{e}");
        let e = inst("send raw=0011 op=query\n").unwrap_err();
        assert!(e.message.contains("cannot be combined"), "{e}");
        let e = inst("send name=ABCDEFGHIJKLMNOP<00>\n").unwrap_err();
        assert!(e.message.contains("at most 15"), "{e}");
    }

    #[test]
    fn names_with_escapes_wildcard_and_scope() {
        let n = parse_name("\\x01\\x02__MSBROWSE__\\x02<01>").unwrap();
        assert_eq!(&n.name.as_bytes()[..2], &[1, 2]);
        assert_eq!(parse_name("*").unwrap().name, NetbiosName::WILDCARD);
        assert_eq!(parse_name("<00>").unwrap().name.trimmed(), b"");
        assert!(parse_name("A<00>.a..b").is_err());
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
        assert!(parse_duration("5h").is_err());
    }
}
