//! The reference target on real sockets: a [`WinsServer`] on a thread or
//! in the foreground. Used in-process by `run` (the embedded
//! default target) and on its own by `nbns-conform serve`, or in a test of your own.

use crate::packet_layer::PacketConfig;
use crate::server::{ServerHandle, WinsServer, WinsServerConfig};
use std::io;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;

/// The embedded target's NetBIOS name.
pub const EMBEDDED_NAME: &str = "NBNSVERIFY";
/// Where the embedded target listens: a loopback address of its own, so
/// that it never mistakes a client for itself.
pub const EMBEDDED_ADDR: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 2);

/// Smallest TTL the embedded target grants. Its scavenging runs on a test's time scale, so
/// that a script can wait for it: a name registered with a TTL of a few seconds is released
/// when it runs out, a released record becomes a tombstone [`TEST_EXTINCTION`] seconds later
/// and is deleted as many seconds after that (`nbns-conform serve --min-ttl 1
/// --extinction-interval 4 --extinction-timeout 4` starts the same; the defaults are Samba's
/// days). Names registered with the usual long TTLs are not affected.
pub const TEST_MIN_TTL: u32 = 1;
/// The embedded target's extinction interval and extinction timeout, in seconds.
pub const TEST_EXTINCTION: u32 = 4;

/// The embedded target's settings: the reference's, with scavenging on a test's time scale
/// ([`TEST_MIN_TTL`]); challenges go to `challenge_port` of the holders' addresses.
pub fn test_config(challenge_port: u16) -> PacketConfig {
    let mut cfg = PacketConfig::new(EMBEDDED_NAME, EMBEDDED_ADDR);
    cfg.challenge_port = challenge_port;
    cfg.server.min_ttl = TEST_MIN_TTL;
    cfg.server.tombstone_interval = TEST_EXTINCTION;
    cfg.server.tombstone_timeout = TEST_EXTINCTION;
    cfg
}

/// A reference target running on a thread of this process.
pub struct EmbeddedServer {
    addr: SocketAddr,
    handle: ServerHandle,
    wrepl: Option<SocketAddrV4>,
    name: String,
    stop: Arc<AtomicBool>,
    thread: Option<thread::JoinHandle<io::Result<()>>>,
}

impl EmbeddedServer {
    /// Starts on [`EMBEDDED_ADDR`] at a free port with [`test_config`]; challenges go to
    /// `challenge_port` of the holders' addresses. In-memory database, no
    /// replication.
    pub fn start(challenge_port: u16) -> io::Result<EmbeddedServer> {
        EmbeddedServer::start_with(
            WinsServerConfig::new(test_config(challenge_port)),
            SocketAddrV4::new(EMBEDDED_ADDR, 0),
        )
    }

    /// A server configured by `packet` (see [`test_config`]) on free ports of its address,
    /// with WINS replication on and `partners` (port 42 of each) as its only partners; it
    /// pulls from them only when they push to it, and never notifies them (no pull schedule,
    /// no push).
    pub fn start_replicating(
        packet: PacketConfig,
        partners: &[Ipv4Addr],
    ) -> io::Result<EmbeddedServer> {
        let addr = packet.addr;
        let mut wins = WinsServerConfig::new(packet);
        let mut service = crate::replication::ReplicationConfig::new(addr);
        service.bind = SocketAddrV4::new(addr, 0);
        service.partners = partners
            .iter()
            .map(|p| SocketAddrV4::new(*p, nbns_wire::wrepl::PORT))
            .collect();
        service.pull_interval = std::time::Duration::ZERO;
        service.push = false;
        wins.replication = Some(service);
        EmbeddedServer::start_with(wins, SocketAddrV4::new(addr, 0))
    }

    /// Starts a reference WINS server configured by `cfg` on `bind` (port 0:
    /// any free one).
    pub fn start_with(cfg: WinsServerConfig, bind: SocketAddrV4) -> io::Result<EmbeddedServer> {
        let socket = UdpSocket::bind(bind)?;
        let addr = socket.local_addr()?;
        let name = cfg.packet.name.clone();
        let wins = WinsServer::open(cfg, socket)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        let wrepl = wins.replication_addr();
        let handle = wins.handle();
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let thread = thread::Builder::new()
            .name("reference-target".into())
            .spawn(move || wins.serve(&flag))?;
        Ok(EmbeddedServer {
            addr,
            handle,
            wrepl,
            name,
            stop,
            thread: Some(thread),
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Changes the running server's state machine in-process (see
    /// [`ServerHandle::update`]).
    pub fn handle(&self) -> &ServerHandle {
        &self.handle
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

impl Drop for EmbeddedServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Runs a reference WINS server configured by `cfg` on `bind` in the
/// foreground until the process is killed, with a line on standard error
/// saying what it serves; returns the exit status (2: cannot start, 3: a
/// failed database write or socket error stopped it). With
/// `replication_optional`, a replication socket that cannot be bound (port
/// 42 needs root) is a warning and the server goes on with NBNS only.
pub fn serve_foreground(
    bind: SocketAddrV4,
    mut cfg: WinsServerConfig,
    replication_optional: bool,
) -> i32 {
    let socket = match UdpSocket::bind(bind) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: cannot bind udp {bind}: {e}");
            return 2;
        }
    };
    let first = match socket.try_clone() {
        Ok(s) => WinsServer::open(cfg.clone(), s),
        Err(e) => Err(format!("cannot share the UDP socket: {e}")),
    };
    let opened = match first {
        // Port 42 needs root; a quick start without partners goes on without it.
        Err(e) if replication_optional && cfg.replication.is_some() => {
            eprintln!(
                "warning: {e}; serving NBNS only (give --wrepl-bind IP:PORT for another port)"
            );
            cfg.replication = None;
            WinsServer::open(cfg.clone(), socket)
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
    let db = match &cfg.db {
        Some(p) => format!("database {}", p.display()),
        None => "in-memory database (--db PATH keeps it)".into(),
    };
    let wrepl = match (wins.replication_addr(), &cfg.replication) {
        (Some(a), Some(r)) => format!(
            "replication on tcp {a} with {} partner(s)",
            r.partners.len()
        ),
        _ => "no replication".into(),
    };
    eprintln!(
        "reference WINS server {} on udp {bind}; {db}; {wrepl}; challenges go to port {}",
        cfg.packet.name, cfg.packet.challenge_port
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
