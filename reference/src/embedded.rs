//! The reference target on real sockets: a [`Wins`] server on a thread or
//! in the foreground. Used in-process by `run` (the embedded
//! default target) and on its own by `nbns-conform serve`.

use crate::reference::ReferenceConfig;
use crate::wins::{Wins, WinsConfig};
use crate::wrepl_service::ServiceConfig;
use std::io;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, UdpSocket};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

/// The embedded target's NetBIOS name.
pub const EMBEDDED_NAME: &str = "NBNSVERIFY";
/// Where the embedded target listens: a loopback address of its own, so
/// that it never mistakes a client for itself.
pub const EMBEDDED_ADDR: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 2);

/// A reference target running on a thread of this process.
pub struct Embedded {
    addr: SocketAddr,
    wrepl: Option<SocketAddrV4>,
    name: String,
    stop: Arc<AtomicBool>,
    thread: Option<thread::JoinHandle<io::Result<()>>>,
}

impl Embedded {
    /// Starts on [`EMBEDDED_ADDR`] at a free port; challenges go to
    /// `challenge_port` of the holders' addresses. In-memory database, no
    /// replication.
    pub fn start(challenge_port: u16) -> io::Result<Embedded> {
        let mut cfg = ReferenceConfig::new(EMBEDDED_NAME, EMBEDDED_ADDR);
        cfg.challenge_port = challenge_port;
        Embedded::start_with(WinsConfig::new(cfg), SocketAddrV4::new(EMBEDDED_ADDR, 0))
    }

    /// Starts a reference WINS server configured by `cfg` on `bind` (port 0:
    /// any free one).
    pub fn start_with(cfg: WinsConfig, bind: SocketAddrV4) -> io::Result<Embedded> {
        let socket = UdpSocket::bind(bind)?;
        let addr = socket.local_addr()?;
        let name = cfg.reference.name.clone();
        let wins =
            Wins::open(cfg, socket).map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        let wrepl = wins.replication_addr();
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let thread = thread::Builder::new()
            .name("reference-target".into())
            .spawn(move || wins.serve(&flag))?;
        Ok(Embedded {
            addr,
            wrepl,
            name,
            stop,
            thread: Some(thread),
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Where it listens for WINS replication, when it does.
    pub fn wrepl_addr(&self) -> Option<SocketAddrV4> {
        self.wrepl
    }

    /// Stops the server; the error that stopped it earlier, if any.
    pub fn stop(mut self) -> io::Result<()> {
        self.stop.store(true, Ordering::Relaxed);
        match self.thread.take().map(|t| t.join()) {
            Some(Ok(r)) => r,
            Some(Err(_)) => Err(io::Error::other("the reference target panicked")),
            None => Ok(()),
        }
    }
}

impl Drop for Embedded {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// `nbns-conform serve`'s options.
#[derive(Debug, Clone, clap::Args)]
pub struct ServeArgs {
    /// NBNS address to listen on (UDP). Loopback by default; a WINS server answers anyone who
    /// asks. This IP is also the server's owner id in WINS replication.
    #[arg(long, default_value = "127.0.0.1:1137", value_name = "IP:PORT")]
    pub bind: SocketAddrV4,
    /// The server's NetBIOS name (registered as <00> and <20>).
    #[arg(long, default_value = EMBEDDED_NAME, value_name = "NAME")]
    pub name: String,
    /// UDP port of clients that challenge queries and release demands go to (RFC 1002: 137).
    #[arg(long, default_value_t = 137, value_name = "PORT")]
    pub challenge_port: u16,
    /// Database file (created when missing). Every write the server acknowledged is on disk
    /// before the acknowledgement is sent. Without it the database lives in memory.
    #[arg(long, value_name = "PATH")]
    pub db: Option<PathBuf>,
    /// WINS replication address (TCP). Default: the --bind IP, port 42.
    #[arg(long, value_name = "IP:PORT")]
    pub wrepl_bind: Option<SocketAddrV4>,
    /// Serve NBNS only, no WINS replication.
    #[arg(long, conflicts_with_all = ["wrepl_bind", "partners"])]
    pub no_wrepl: bool,
    /// A replication partner, IP or IP:PORT (port 42 when absent); repeatable. Only partners
    /// may associate; the server pulls from them and pushes update notifications to them.
    #[arg(long = "partner", value_name = "IP[:PORT]", value_parser = parse_partner)]
    pub partners: Vec<SocketAddrV4>,
    /// How often to pull from every partner, the first time at start (pulls also follow
    /// every partner notification); 0: only on notifications. Durations: 90, 90s, 15m, 2h, 6d.
    #[arg(long, default_value = "30m", value_name = "DURATION", value_parser = parse_duration)]
    pub pull_interval: Duration,
    /// Renew interval: the largest TTL granted (Samba: 6 days).
    #[arg(long, default_value = "6d", value_name = "DURATION", value_parser = parse_duration)]
    pub renew_interval: Duration,
    /// Extinction interval: a released record becomes a tombstone after this (Samba: 6 days).
    #[arg(long, default_value = "6d", value_name = "DURATION", value_parser = parse_duration)]
    pub extinction_interval: Duration,
    /// Extinction timeout: a tombstone is deleted after this (Samba: 1 day).
    #[arg(long, default_value = "1d", value_name = "DURATION", value_parser = parse_duration)]
    pub extinction_timeout: Duration,
    /// Verify interval: this often, the replicas a partner owns are checked against all of its
    /// records; one it no longer holds becomes a tombstone (Samba: 24 days; 0: never).
    #[arg(long, default_value = "24d", value_name = "DURATION", value_parser = parse_duration)]
    pub verify_interval: Duration,
    /// A replication peer silent this long in the middle of an exchange is dropped.
    #[arg(long, default_value = "30s", value_name = "DURATION", value_parser = parse_duration)]
    pub wrepl_timeout: Duration,
    /// Most replication connections served at once; more are closed at once.
    #[arg(long, default_value_t = 16, value_name = "N")]
    pub wrepl_max_connections: usize,
}

fn parse_partner(s: &str) -> Result<SocketAddrV4, String> {
    if let Ok(ip) = s.parse::<Ipv4Addr>() {
        return Ok(SocketAddrV4::new(ip, nbns_wire::wrepl::PORT));
    }
    s.parse::<SocketAddrV4>()
        .map_err(|_| format!("`{s}` is not an IPv4 address or IPv4:PORT"))
}

/// `90`, `90s`, `15m`, `2h`, `6d`.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let (digits, unit) = match s.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => s.split_at(i),
        None => (s, "s"),
    };
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("`{s}` is not a duration (e.g. 90, 90s, 15m, 2h, 6d)"))?;
    let mult = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => {
            return Err(format!(
                "`{s}` is not a duration: the unit must be s, m, h or d"
            ))
        }
    };
    n.checked_mul(mult)
        .filter(|secs| *secs <= u64::from(u32::MAX))
        .map(Duration::from_secs)
        .ok_or_else(|| format!("`{s}` is too long"))
}

impl ServeArgs {
    /// The server configuration these options describe.
    pub fn config(&self) -> WinsConfig {
        let ip = *self.bind.ip();
        let mut reference = ReferenceConfig::new(&self.name, ip);
        reference.challenge_port = self.challenge_port;
        let secs = |d: Duration| u32::try_from(d.as_secs()).unwrap_or(u32::MAX);
        // The renew interval caps the TTLs granted (a short one, for tests,
        // lowers the smallest TTL with it).
        let renew = secs(self.renew_interval).max(1);
        reference.server.max_ttl = renew;
        reference.server.min_ttl = reference.server.min_ttl.min(renew);
        reference.server.tombstone_interval = secs(self.extinction_interval);
        reference.server.tombstone_timeout = secs(self.extinction_timeout);
        let mut cfg = WinsConfig::new(reference);
        cfg.db = self.db.clone();
        if !self.no_wrepl {
            let mut s = ServiceConfig::new(ip);
            s.bind = self
                .wrepl_bind
                .unwrap_or(SocketAddrV4::new(ip, nbns_wire::wrepl::PORT));
            s.partners = self.partners.clone();
            s.pull_interval = self.pull_interval;
            s.verify_interval = self.verify_interval;
            s.idle_timeout = self.wrepl_timeout;
            s.max_connections = self.wrepl_max_connections.max(1);
            cfg.replication = Some(s);
        }
        cfg
    }
}

/// `nbns-conform serve`: runs in the foreground until killed.
pub fn main(args: &ServeArgs) -> i32 {
    let socket = match UdpSocket::bind(args.bind) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: cannot bind udp {}: {e}", args.bind);
            return 2;
        }
    };
    let mut cfg = args.config();
    let asked_for_wrepl = args.wrepl_bind.is_some() || !args.partners.is_empty();
    let first = match socket.try_clone() {
        Ok(s) => Wins::open(cfg.clone(), s),
        Err(e) => Err(format!("cannot share the UDP socket: {e}")),
    };
    let opened = match first {
        // Port 42 needs root; a quick start without partners goes on without it.
        Err(e) if !asked_for_wrepl && cfg.replication.is_some() => {
            eprintln!(
                "warning: {e}; serving NBNS only (give --wrepl-bind IP:PORT for another port)"
            );
            cfg.replication = None;
            Wins::open(cfg, socket)
        }
        r => r,
    };
    let wins = match opened {
        Ok(w) => w,
        Err(e) => {
            eprintln!("error: {e}");
            return 2;
        }
    };
    let db = match &args.db {
        Some(p) => format!("database {}", p.display()),
        None => "in-memory database (--db PATH keeps it)".into(),
    };
    let wrepl = match wins.replication_addr() {
        Some(a) => format!(
            "replication on tcp {a} with {} partner(s)",
            args.partners.len()
        ),
        None => "no replication".into(),
    };
    eprintln!(
        "reference WINS server {} on udp {}; {db}; {wrepl}; challenges go to port {}",
        args.name, args.bind, args.challenge_port
    );
    let stop = AtomicBool::new(false);
    match wins.serve(&stop) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("error: {e}");
            3
        }
    }
}
