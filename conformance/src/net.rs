//! The runner's side of the network: one UDP socket per client address,
//! a receiver thread per socket, and a shared mailbox from which script
//! steps take the packets they wait for (by transaction id, by name).
//!
//! Every wait has a deadline; the mailbox is bounded and forgets packets
//! nobody took within a minute.

use std::collections::VecDeque;
use std::io;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicU16, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// A datagram that arrived at one of the runner's client sockets.
#[derive(Debug, Clone)]
pub struct Incoming {
    pub client: usize,
    pub from: SocketAddr,
    pub bytes: Vec<u8>,
    pub at: Instant,
}

/// Packets kept at most, and for how long, before they are dropped unread.
const MAILBOX_CAPACITY: usize = 4096;
const MAILBOX_TTL: Duration = Duration::from_secs(60);

#[derive(Default)]
struct Mailbox {
    queue: Mutex<VecDeque<Incoming>>,
    arrived: Condvar,
    /// Every datagram of the last minute, taken or not: the strict check reads a script's
    /// whole exchange from it, including answers no step waited for.
    record: Mutex<VecDeque<Incoming>>,
}

/// Drops what is older than [`MAILBOX_TTL`] and what exceeds [`MAILBOX_CAPACITY`].
fn prune(queue: &mut VecDeque<Incoming>, now: Instant) {
    while queue
        .front()
        .is_some_and(|i| now.duration_since(i.at) > MAILBOX_TTL)
        || queue.len() >= MAILBOX_CAPACITY
    {
        queue.pop_front();
    }
}

/// The runner's client sockets.
pub struct Net {
    sockets: Vec<UdpSocket>,
    addrs: Vec<Ipv4Addr>,
    mailbox: Arc<Mailbox>,
    stop: Arc<AtomicBool>,
    threads: Vec<thread::JoinHandle<()>>,
    next_id: AtomicU16,
}

/// Transaction ids below this are left to hand-made (raw) packets, so a
/// reply to a hostile packet is never mistaken for a runner request's.
const FIRST_RUNNER_ID: u16 = 0x0100;

impl Net {
    /// Binds `port` on every client address (0 = any free port).
    pub fn bind(addrs: &[Ipv4Addr], port: u16) -> io::Result<Net> {
        Net::bind_with(addrs, port, UdpSocket::bind)
    }

    /// Like [`Net::bind`], with SO_REUSEADDR: the sockets share their port
    /// with a wildcard (0.0.0.0) socket of another program that also sets
    /// it, as nmbd's does. The client role needs this: the runner plays WINS
    /// servers on port 137 next to a real client's own port-137 sockets.
    pub fn bind_shared(addrs: &[Ipv4Addr], port: u16) -> io::Result<Net> {
        Net::bind_with(addrs, port, bind_reuseaddr)
    }

    fn bind_with(
        addrs: &[Ipv4Addr],
        port: u16,
        binder: impl Fn(SocketAddrV4) -> io::Result<UdpSocket>,
    ) -> io::Result<Net> {
        let mailbox = Arc::new(Mailbox::default());
        let stop = Arc::new(AtomicBool::new(false));
        let mut sockets = Vec::new();
        let mut threads = Vec::new();
        for (client, &ip) in addrs.iter().enumerate() {
            let socket = binder(SocketAddrV4::new(ip, port)).map_err(|e| {
                io::Error::new(
                    e.kind(),
                    format!("cannot bind client address {ip}:{port}: {e}"),
                )
            })?;
            // Short read timeouts let the receiver threads notice `stop`.
            socket.set_read_timeout(Some(Duration::from_millis(100)))?;
            let rx = socket.try_clone()?;
            let mailbox = Arc::clone(&mailbox);
            let stop = Arc::clone(&stop);
            threads.push(thread::spawn(move || receive(client, rx, mailbox, stop)));
            sockets.push(socket);
        }
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let seed = (std::process::id() as u16) ^ (nanos as u16);
        Ok(Net {
            sockets,
            addrs: addrs.to_vec(),
            mailbox,
            stop,
            threads,
            next_id: AtomicU16::new(seed | FIRST_RUNNER_ID),
        })
    }

    pub fn client_addrs(&self) -> &[Ipv4Addr] {
        &self.addrs
    }

    /// The local address of client `i`'s socket.
    pub fn local_addr(&self, client: usize) -> io::Result<SocketAddr> {
        self.sockets[client].local_addr()
    }

    /// A fresh transaction id, never below [`FIRST_RUNNER_ID`].
    pub fn fresh_id(&self) -> u16 {
        loop {
            let id = self.next_id.fetch_add(1, Ordering::Relaxed);
            if id >= FIRST_RUNNER_ID {
                return id;
            }
        }
    }

    pub fn send(&self, client: usize, to: SocketAddr, bytes: &[u8]) -> io::Result<()> {
        self.sockets[client].send_to(bytes, to).map(|_| ())
    }

    /// Copies of the packets not taken yet, oldest first (for diagnostics).
    pub fn pending(&self) -> Vec<Incoming> {
        self.mailbox
            .queue
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .cloned()
            .collect()
    }

    /// Every datagram that arrived at or after `since` (within the last minute), taken by a
    /// step or not, oldest first.
    pub fn received_since(&self, since: Instant) -> Vec<Incoming> {
        self.mailbox
            .record
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .filter(|i| i.at >= since)
            .cloned()
            .collect()
    }

    /// Forgets every packet not taken yet (between scripts).
    pub fn clear(&self) {
        self.mailbox
            .queue
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
    }

    /// Takes the first packet for which `want` is true, waiting until
    /// `deadline`. Packets that do not match stay for other steps.
    pub fn take(
        &self,
        deadline: Instant,
        mut want: impl FnMut(&Incoming) -> bool,
    ) -> Option<Incoming> {
        let mut queue = self.mailbox.queue.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            if let Some(i) = queue.iter().position(&mut want) {
                return queue.remove(i);
            }
            let now = Instant::now();
            if now >= deadline {
                return None;
            }
            queue = self
                .mailbox
                .arrived
                .wait_timeout(queue, deadline - now)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
    }
}

impl Drop for Net {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

/// Binds sockets that must share one port across several addresses (a
/// target answers every address on the port it was asked from): `port` if
/// given, else `preferred` if free, else a free high port found by trying
/// a bounded number of candidates.
pub fn bind_common_port(
    port: Option<u16>,
    preferred: Option<u16>,
    bind: impl Fn(u16) -> io::Result<Net>,
) -> Result<Net, String> {
    if let Some(p) = port {
        return bind(p).map_err(|e| e.to_string());
    }
    if let Some(Ok(net)) = preferred.map(&bind) {
        return Ok(net);
    }
    let base = 20000 + (std::process::id() % 20000) as u16;
    (0..50u16)
        .find_map(|i| bind(base.wrapping_add(i * 397) % 40000 + 20000).ok())
        .ok_or_else(|| "cannot find a port free on every address".into())
}

/// A UDP socket bound with SO_REUSEADDR set before `bind`.
pub fn bind_reuseaddr(addr: SocketAddrV4) -> io::Result<UdpSocket> {
    use socket2::{Domain, Protocol, Socket, Type};
    let socket = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP))?;
    socket.set_reuse_address(true)?;
    socket.bind(&SocketAddr::V4(addr).into())?;
    Ok(socket.into())
}

fn receive(client: usize, socket: UdpSocket, mailbox: Arc<Mailbox>, stop: Arc<AtomicBool>) {
    let mut buf = vec![0u8; 65536];
    while !stop.load(Ordering::Relaxed) {
        let (n, from) = match socket.recv_from(&mut buf) {
            Ok(r) => r,
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                continue
            }
            // ICMP port unreachable from an earlier send shows up here on
            // Linux; the target being down is judged by the step timeouts.
            Err(_) => continue,
        };
        let now = Instant::now();
        let incoming = Incoming {
            client,
            from,
            bytes: buf[..n].to_vec(),
            at: now,
        };
        {
            let mut record = mailbox.record.lock().unwrap_or_else(|p| p.into_inner());
            prune(&mut record, now);
            record.push_back(incoming.clone());
        }
        let mut queue = mailbox.queue.lock().unwrap_or_else(|p| p.into_inner());
        prune(&mut queue, now);
        queue.push_back(incoming);
        drop(queue);
        mailbox.arrived.notify_all();
    }
}
