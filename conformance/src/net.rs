//! The runner's side of the network: one UDP socket per client address,
//! a receiver thread per socket, and the places steps take the packets they
//! wait for: a [`Listener`] per running script (the server role), which sees
//! only what arrives while it exists and forgets what its script did not take,
//! and a shared mailbox (the client role) that keeps packets for a minute.
//!
//! Every wait has a deadline; queues are bounded. Every datagram is also kept
//! for a minute in a record the strict check reads, taken by a step or not.

use std::collections::{HashSet, VecDeque};
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, SocketAddrV4, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
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
    /// Arrival order in the queue that holds it (set when it is queued).
    pub seq: u64,
}

/// Packets kept at most, and for how long, before they are dropped unread.
const MAILBOX_CAPACITY: usize = 4096;
const MAILBOX_TTL: Duration = Duration::from_secs(60);
/// Datagrams the record keeps at most (it holds junk too, so more than a mailbox).
const RECORD_CAPACITY: usize = 32768;
/// Datagrams a listener keeps at most. A script's listener admits everything the target
/// sends, to every script running at once, and keeps what its script has not taken yet: the
/// embedded reference answering 16 scripts at once sent 4,000 datagrams a second, so 4,096
/// dropped a script's answer that had waited 2 s for its step (`n00/d2-0632`, one run in
/// five). 65,536 keeps 16 s of that (about 12 MB a listener at most).
const LISTENER_CAPACITY: usize = 65536;

/// Packets waiting to be taken, numbered as they are queued.
#[derive(Default)]
struct Queue {
    items: VecDeque<Incoming>,
    pushed: u64,
}

impl Queue {
    fn push(&mut self, mut incoming: Incoming, capacity: usize) {
        prune(&mut self.items, incoming.at, capacity);
        self.pushed += 1;
        incoming.seq = self.pushed;
        self.items.push_back(incoming);
    }
}

struct Mailbox {
    queue: Mutex<Queue>,
    arrived: Condvar,
    /// Whether packets go to `queue` at all (the client role's mailbox); when false,
    /// a packet no listener admits is dropped on arrival.
    keep_unclaimed: AtomicBool,
    listeners: Mutex<Vec<Arc<Sub>>>,
    /// Every datagram of the last minute, taken or not: the strict check reads a script's
    /// whole exchange from it, including answers no step waited for.
    record: Mutex<VecDeque<Incoming>>,
    /// Source addresses any datagram came from (the target answered at all?).
    heard: Mutex<HashSet<IpAddr>>,
    /// Set by [`Net::abort`]: every wait returns at once.
    aborted: AtomicBool,
}

impl Default for Mailbox {
    fn default() -> Mailbox {
        Mailbox {
            queue: Mutex::default(),
            arrived: Condvar::new(),
            keep_unclaimed: AtomicBool::new(true),
            listeners: Mutex::default(),
            record: Mutex::default(),
            heard: Mutex::default(),
            aborted: AtomicBool::new(false),
        }
    }
}

/// One listener's queue: the packets it admitted and nobody took yet.
struct Sub {
    admit: Box<dyn Fn(&Incoming) -> bool + Send + Sync>,
    queue: Mutex<Queue>,
    arrived: Condvar,
}

/// Drops what is older than [`MAILBOX_TTL`] and what exceeds `capacity`.
fn prune(queue: &mut VecDeque<Incoming>, now: Instant, capacity: usize) {
    while queue
        .front()
        .is_some_and(|i| now.duration_since(i.at) > MAILBOX_TTL)
        || queue.len() >= capacity
    {
        queue.pop_front();
    }
}

/// Waits on `arrived` until `want` takes a packet of `queue` or `deadline` (or an abort)
/// comes. Packets already looked at by this call are not looked at again.
fn take_from(
    queue: &Mutex<Queue>,
    arrived: &Condvar,
    aborted: &AtomicBool,
    deadline: Instant,
    mut want: impl FnMut(&Incoming) -> bool,
) -> Option<Incoming> {
    let mut queue = queue.lock().unwrap_or_else(|p| p.into_inner());
    let mut seen: Option<u64> = None;
    loop {
        let found = queue
            .items
            .iter()
            .position(|i| seen.is_none_or(|s| i.seq > s) && want(i));
        if let Some(i) = found {
            return queue.items.remove(i);
        }
        seen = Some(queue.pushed);
        let now = Instant::now();
        if now >= deadline || aborted.load(Ordering::Relaxed) {
            return None;
        }
        queue = arrived
            .wait_timeout(queue, deadline - now)
            .unwrap_or_else(|p| p.into_inner())
            .0;
    }
}

/// A script's view of the traffic: the packets its `admit` accepted that arrived while it
/// existed. What the script does not take is dropped with the listener.
pub struct Listener<'a> {
    net: &'a Net,
    sub: Arc<Sub>,
}

impl Listener<'_> {
    /// Takes the first admitted packet for which `want` is true, waiting until `deadline`.
    /// Packets that do not match stay for the script's other steps.
    pub fn take(&self, deadline: Instant, want: impl FnMut(&Incoming) -> bool) -> Option<Incoming> {
        take_from(
            &self.sub.queue,
            &self.sub.arrived,
            &self.net.mailbox.aborted,
            deadline,
            want,
        )
    }
}

impl Drop for Listener<'_> {
    fn drop(&mut self) {
        self.net
            .mailbox
            .listeners
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|s| !Arc::ptr_eq(s, &self.sub));
    }
}

/// Transaction ids for the runner's requests: random, at or above [`FIRST_RUNNER_ID`], and
/// none given twice before all of them were given (so no two requests of a run that may
/// still be answered share an id, and a late answer to one never passes for another's).
pub struct Ids {
    state: u64,
    used: Vec<u64>,
    left: u32,
}

/// How many ids [`Ids`] hands out before it starts over.
const RUNNER_IDS: u32 = 0x1_0000 - FIRST_RUNNER_ID as u32;

impl Ids {
    /// A generator seeded from `seed` (0 is allowed).
    pub fn new(seed: u64) -> Ids {
        Ids {
            // splitmix64 of the seed: any seed gives a well-mixed, non-zero state.
            state: splitmix(seed) | 1,
            used: vec![0; 0x1_0000 / 64],
            left: RUNNER_IDS,
        }
    }

    /// A generator seeded from the clock, the process id and std's random hasher keys.
    pub fn random() -> Ids {
        use std::hash::{BuildHasher, Hasher};
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        h.write_u128(nanos);
        h.write_u32(std::process::id());
        Ids::new(h.finish())
    }

    fn next_random(&mut self) -> u64 {
        // xorshift64*
        self.state ^= self.state >> 12;
        self.state ^= self.state << 25;
        self.state ^= self.state >> 27;
        self.state.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// The next id.
    pub fn next_id(&mut self) -> u16 {
        if self.left == 0 {
            self.used.iter_mut().for_each(|w| *w = 0);
            self.left = RUNNER_IDS;
        }
        loop {
            let id = (self.next_random() >> 48) as u16;
            let (word, bit) = (id as usize / 64, 1u64 << (id % 64));
            if id >= FIRST_RUNNER_ID && self.used[word] & bit == 0 {
                self.used[word] |= bit;
                self.left -= 1;
                return id;
            }
        }
    }
}

fn splitmix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The runner's client sockets.
pub struct Net {
    sockets: Vec<UdpSocket>,
    addrs: Vec<Ipv4Addr>,
    mailbox: Arc<Mailbox>,
    stop: Arc<AtomicBool>,
    threads: Vec<thread::JoinHandle<()>>,
    ids: Mutex<Ids>,
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
        Ok(Net {
            sockets,
            addrs: addrs.to_vec(),
            mailbox,
            stop,
            threads,
            ids: Mutex::new(Ids::random()),
        })
    }

    pub fn client_addrs(&self) -> &[Ipv4Addr] {
        &self.addrs
    }

    /// The local address of client `i`'s socket.
    pub fn local_addr(&self, client: usize) -> io::Result<SocketAddr> {
        self.sockets[client].local_addr()
    }

    /// A fresh random transaction id, never below [`FIRST_RUNNER_ID`], unique in the run
    /// (see [`Ids`]).
    pub fn fresh_id(&self) -> u16 {
        self.ids.lock().unwrap_or_else(|p| p.into_inner()).next_id()
    }

    /// A fresh id (as [`Net::fresh_id`]) for a response the runner sends unasked: never the
    /// id of a request that reached the runner in the last minute. Servers match an answer
    /// to their pending request by id alone (Samba does), so an unasked answer of one script
    /// that happened to carry the id of a challenge query still waiting for another
    /// script's holder would answer that challenge.
    pub fn fresh_response_id(&self) -> u16 {
        let asked: HashSet<u16> = self
            .mailbox
            .record
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .filter(|i| i.bytes.get(2).is_some_and(|flags| flags & 0x80 == 0))
            .filter_map(|i| Some(u16::from_be_bytes([*i.bytes.first()?, *i.bytes.get(1)?])))
            .collect();
        let mut ids = self.ids.lock().unwrap_or_else(|p| p.into_inner());
        // Bounded: the minute's requests cannot hold every id the generator has left.
        (0..asked.len() + 1)
            .map(|_| ids.next_id())
            .find(|id| !asked.contains(id))
            .unwrap_or_else(|| ids.next_id())
    }

    /// Stops queueing packets no listener admits (the server role: a step sees only what
    /// arrived for its script while the script ran; strays are dropped, not kept). The
    /// record the strict check reads still holds every datagram.
    pub fn drop_unclaimed(&self) {
        self.mailbox.keep_unclaimed.store(false, Ordering::Relaxed);
        self.clear();
    }

    /// Starts a listener: from now on, every datagram `admit` accepts is queued for it
    /// until it is dropped.
    pub fn listen(
        &self,
        admit: impl Fn(&Incoming) -> bool + Send + Sync + 'static,
    ) -> Listener<'_> {
        let sub = Arc::new(Sub {
            admit: Box::new(admit),
            queue: Mutex::default(),
            arrived: Condvar::new(),
        });
        self.mailbox
            .listeners
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(Arc::clone(&sub));
        Listener { net: self, sub }
    }

    /// Whether any datagram from `ip` arrived since the sockets were bound.
    pub fn heard_from(&self, ip: IpAddr) -> bool {
        self.mailbox
            .heard
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains(&ip)
    }

    /// Ends every wait at once, now and later (the run is given up).
    pub fn abort(&self) {
        self.mailbox.aborted.store(true, Ordering::Relaxed);
        let subs = self
            .mailbox
            .listeners
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        for s in subs {
            let _guard = s.queue.lock().unwrap_or_else(|p| p.into_inner());
            s.arrived.notify_all();
        }
        let _guard = self.mailbox.queue.lock().unwrap_or_else(|p| p.into_inner());
        self.mailbox.arrived.notify_all();
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
            .items
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
            .items
            .clear();
    }

    /// Takes the first packet for which `want` is true, waiting until
    /// `deadline`. Packets that do not match stay for other steps.
    pub fn take(&self, deadline: Instant, want: impl FnMut(&Incoming) -> bool) -> Option<Incoming> {
        take_from(
            &self.mailbox.queue,
            &self.mailbox.arrived,
            &self.mailbox.aborted,
            deadline,
            want,
        )
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
            seq: 0,
        };
        {
            let mut record = mailbox.record.lock().unwrap_or_else(|p| p.into_inner());
            prune(&mut record, now, RECORD_CAPACITY);
            record.push_back(incoming.clone());
        }
        mailbox
            .heard
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(from.ip());
        let subs = mailbox
            .listeners
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        for s in subs.iter().filter(|s| (s.admit)(&incoming)) {
            let mut queue = s.queue.lock().unwrap_or_else(|p| p.into_inner());
            queue.push(incoming.clone(), LISTENER_CAPACITY);
            drop(queue);
            s.arrived.notify_all();
        }
        if mailbox.keep_unclaimed.load(Ordering::Relaxed) {
            let mut queue = mailbox.queue.lock().unwrap_or_else(|p| p.into_inner());
            queue.push(incoming, MAILBOX_CAPACITY);
            drop(queue);
            mailbox.arrived.notify_all();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_random_unique_and_above_the_raw_range() {
        let mut ids = Ids::new(7);
        let all: Vec<u16> = (0..RUNNER_IDS).map(|_| ids.next_id()).collect();
        assert!(all.iter().all(|&id| id >= FIRST_RUNNER_ID));
        let distinct: HashSet<u16> = all.iter().copied().collect();
        assert_eq!(
            distinct.len(),
            RUNNER_IDS as usize,
            "an id repeated before all were used"
        );
        // Not sequential: consecutive ids rarely differ by one, and the first few spread out.
        let steps = all
            .windows(2)
            .filter(|w| w[1] == w[0].wrapping_add(1))
            .count();
        assert!(steps < 100, "{steps} sequential pairs");
        let first: Vec<u16> = all[..64].to_vec();
        let spread = first.iter().max().unwrap() - first.iter().min().unwrap();
        assert!(spread > 0x8000, "first ids {first:?}");
        // After all were used, it starts over (and stays in range).
        assert!(ids.next_id() >= FIRST_RUNNER_ID);
        // Different seeds, different sequences.
        let a: Vec<u16> = {
            let mut g = Ids::new(1);
            (0..16).map(|_| g.next_id()).collect()
        };
        let b: Vec<u16> = {
            let mut g = Ids::new(2);
            (0..16).map(|_| g.next_id()).collect()
        };
        assert_ne!(a, b);
        let c: Vec<u16> = {
            let mut g = Ids::random();
            (0..16).map(|_| g.next_id()).collect()
        };
        let d: Vec<u16> = {
            let mut g = Ids::random();
            (0..16).map(|_| g.next_id()).collect()
        };
        assert_ne!(c, d);
    }

    #[test]
    fn a_listener_sees_only_what_arrives_while_it_exists() {
        let net = Net::bind(&[Ipv4Addr::LOCALHOST], 0).unwrap();
        net.drop_unclaimed();
        let to = net.local_addr(0).unwrap();
        let peer = UdpSocket::bind("127.0.0.1:0").unwrap();
        peer.send_to(b"before", to).unwrap();
        std::thread::sleep(Duration::from_millis(200));
        let l = net.listen(|_| true);
        peer.send_to(b"after", to).unwrap();
        let deadline = Instant::now() + Duration::from_secs(2);
        let got = l.take(deadline, |_| true).unwrap();
        assert_eq!(got.bytes, b"after");
        assert!(l
            .take(Instant::now() + Duration::from_millis(200), |_| true)
            .is_none());
        assert!(net.pending().is_empty(), "unclaimed packets are kept");
        assert_eq!(
            net.received_since(Instant::now() - Duration::from_secs(5))
                .len(),
            2
        );
        assert!(net.heard_from(peer.local_addr().unwrap().ip()));
        net.abort();
        let t = Instant::now();
        assert!(l.take(t + Duration::from_secs(5), |_| true).is_none());
        assert!(t.elapsed() < Duration::from_secs(1));
    }

    #[test]
    fn an_unasked_response_never_carries_the_id_of_a_request_heard() {
        let net = Net::bind(&[Ipv4Addr::LOCALHOST], 0).unwrap();
        let to = net.local_addr(0).unwrap();
        let peer = UdpSocket::bind("127.0.0.1:0").unwrap();
        // The target's requests carry exactly the ids the generator gives next; one
        // response among them carries the id after those (a response is no request).
        let mut upcoming = Ids::new(11);
        let asked: Vec<u16> = (0..8).map(|_| upcoming.next_id()).collect();
        let answered = upcoming.next_id();
        for id in &asked {
            let [hi, lo] = id.to_be_bytes();
            peer.send_to(&[hi, lo, 0x00, 0x00], to).unwrap();
        }
        let [hi, lo] = answered.to_be_bytes();
        peer.send_to(&[hi, lo, 0x85, 0x00], to).unwrap();
        let deadline = Instant::now() + Duration::from_secs(2);
        while net
            .received_since(Instant::now() - Duration::from_secs(5))
            .len()
            < 9
        {
            assert!(Instant::now() < deadline, "the datagrams did not arrive");
            std::thread::sleep(Duration::from_millis(10));
        }
        *net.ids.lock().unwrap() = Ids::new(11);
        assert_eq!(net.fresh_response_id(), answered);
        // A request of the runner's may share an id with the target's: only answers match.
        *net.ids.lock().unwrap() = Ids::new(11);
        assert_eq!(net.fresh_id(), asked[0]);
    }
}
