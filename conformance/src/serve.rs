//! The reference target on a real UDP socket: [`Reference`] driven by
//! datagrams and a monotonic clock. Used in-process by `run` (the embedded
//! default target) and on its own by `nbns-conform serve`.

use crate::reference::{Reference, ReferenceConfig};
use std::io;
use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

/// The embedded target's NetBIOS name.
pub const EMBEDDED_NAME: &str = "NBNSVERIFY";
/// Where the embedded target listens: a loopback address of its own, so
/// that it never mistakes a client for itself.
pub const EMBEDDED_ADDR: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 2);

/// Serves until `stop` is set. Checks `stop` at least every 50 ms.
pub fn serve(socket: &UdpSocket, cfg: ReferenceConfig, stop: &AtomicBool) -> io::Result<()> {
    let mut reference =
        Reference::new(cfg).map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
    let start = Instant::now();
    let mut buf = vec![0u8; 65536];
    let mut out: Vec<(SocketAddr, Vec<u8>)> = Vec::new();
    // Deadlines are whole seconds: waking every 50 ms is precise enough,
    // and setting the timeout once keeps a syscall off the per-packet path.
    socket.set_read_timeout(Some(Duration::from_millis(50)))?;
    while !stop.load(Ordering::Relaxed) {
        match socket.recv_from(&mut buf) {
            Ok((n, from)) => {
                reference.datagram(start.elapsed().as_secs(), from, &buf[..n], &mut out)
            }
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) => {}
            // ICMP errors from earlier sends (a holder that is gone) surface
            // here; they are not the server's problem.
            Err(_) => {}
        }
        let secs = start.elapsed().as_secs();
        if reference.next_deadline().is_some_and(|d| d <= secs) {
            reference.tick(secs, &mut out);
        }
        for (to, bytes) in out.drain(..) {
            let _ = socket.send_to(&bytes, to);
        }
    }
    Ok(())
}

/// A reference target running on a thread of this process.
pub struct Embedded {
    addr: SocketAddr,
    name: String,
    stop: Arc<AtomicBool>,
    thread: Option<thread::JoinHandle<io::Result<()>>>,
}

impl Embedded {
    /// Starts on [`EMBEDDED_ADDR`] at a free port; challenges go to
    /// `challenge_port` of the holders' addresses.
    pub fn start(challenge_port: u16) -> io::Result<Embedded> {
        let socket = UdpSocket::bind((EMBEDDED_ADDR, 0))?;
        let addr = socket.local_addr()?;
        let mut cfg = ReferenceConfig::new(EMBEDDED_NAME, EMBEDDED_ADDR);
        cfg.challenge_port = challenge_port;
        // Fail now rather than on the thread.
        Reference::new(cfg.clone()).map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let thread = thread::Builder::new()
            .name("reference-target".into())
            .spawn(move || serve(&socket, cfg, &flag))?;
        Ok(Embedded {
            addr,
            name: EMBEDDED_NAME.into(),
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
}

impl Drop for Embedded {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// `nbns-conform serve`: runs in the foreground until killed.
pub fn main(bind: std::net::SocketAddrV4, name: &str, challenge_port: u16) -> i32 {
    let socket = match UdpSocket::bind(bind) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: cannot bind {bind}: {e}");
            return 2;
        }
    };
    let mut cfg = ReferenceConfig::new(name, *bind.ip());
    cfg.challenge_port = challenge_port;
    eprintln!("reference WINS server {name} on udp {bind}; challenges go to port {challenge_port}");
    let stop = AtomicBool::new(false);
    match serve(&socket, cfg, &stop) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("error: {e}");
            2
        }
    }
}
