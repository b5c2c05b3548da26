//! Verdicts that survive stray traffic (issue 12): the whole library gives the same verdicts
//! against the embedded reference target with and without a flood of junk from another port
//! of the target's address (random plausible answers, garbage, and replays of the target's
//! real answers, sniffed with a raw socket); a target that answers nothing ends the run as
//! `target unreachable` with exit status 2, well before the scripts' own timeouts add up.
//!
//! Needs root (a raw socket to sniff the target's answers); fails loudly without it.

use socket2::{Domain, Protocol, Socket, Type};
use std::collections::BTreeMap;
use std::io::Read;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, UdpSocket};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

mod common;
use common::{bin, summary_line};

/// The embedded reference target's address (`nbns_reference::embedded::EMBEDDED_ADDR`).
const TARGET_IP: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 2);
const CLIENTS: [Ipv4Addr; 4] = [
    Ipv4Addr::new(127, 0, 0, 3),
    Ipv4Addr::new(127, 0, 0, 4),
    Ipv4Addr::new(127, 0, 0, 5),
    Ipv4Addr::new(127, 0, 0, 6),
];
/// Junk bounds: packets and time.
const JUNK_MAX: usize = 40_000;
const JUNK_FOR: Duration = Duration::from_secs(90);
const JUNK_EVERY: Duration = Duration::from_millis(2);

/// A port free on every address (bound and released; the run binds it right after).
fn free_port(addrs: &[Ipv4Addr]) -> u16 {
    for _ in 0..50 {
        let first = UdpSocket::bind(SocketAddrV4::new(addrs[0], 0)).unwrap();
        let port = first.local_addr().unwrap().port();
        let rest: Result<Vec<UdpSocket>, _> = addrs[1..]
            .iter()
            .map(|&a| UdpSocket::bind(SocketAddrV4::new(a, port)))
            .collect();
        if rest.is_ok() {
            return port;
        }
    }
    panic!("no port free on {addrs:?}");
}

/// Runs the library against the embedded target; returns (script -> verdict word, stdout).
fn run_library(port: u16) -> (BTreeMap<String, String>, String) {
    let mut args = vec!["run".to_string(), "--client-port".into(), port.to_string()];
    for c in CLIENTS {
        args.push("--client-addr".into());
        args.push(c.to_string());
    }
    let out = Command::new(bin()).args(&args).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(0),
        "the run failed:\n{stdout}\n{stderr}"
    );
    let verdicts = stdout
        .lines()
        .filter_map(|l| {
            let mut w = l.split_whitespace();
            let verdict = w.next()?;
            let name = w.next()?;
            name.contains('/')
                .then(|| (name.to_string(), verdict.to_string()))
        })
        .collect();
    (verdicts, stdout)
}

/// xorshift64: the junk's randomness.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// A plausible NBNS answer: random id, opcode, rcode and name, one NB record.
fn plausible_answer(rng: &mut Rng) -> Vec<u8> {
    let r = rng.next();
    let id = (r as u16).max(0x100);
    let opcode = [0u16, 5, 6, 7, 8][(r >> 16) as usize % 5];
    let rcode = [0u16, 0, 3, 6, 5][(r >> 24) as usize % 5];
    let flags: u16 = 0x8000 | (opcode << 11) | 0x0400 | 0x0100 | rcode;
    let mut p = Vec::new();
    p.extend_from_slice(&id.to_be_bytes());
    p.extend_from_slice(&flags.to_be_bytes());
    p.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 0]);
    p.push(32);
    for k in 0..16 {
        let c = if k == 15 {
            [0u8, 0x20, 0x1c, 0x1d][(r >> 32) as usize % 4]
        } else {
            b'A' + (rng.next() % 26) as u8
        };
        p.push(b'A' + (c >> 4));
        p.push(b'A' + (c & 0xf));
    }
    p.push(0);
    p.extend_from_slice(&[0, 0x20, 0, 1]);
    p.extend_from_slice(&((rng.next() % 300_000) as u32).to_be_bytes());
    p.extend_from_slice(&[0, 6, 0x60, 0]);
    p.extend_from_slice(&CLIENTS[(r >> 40) as usize % 4].octets());
    p
}

/// A sniffed answer of the target: where it went, its bytes.
type Answer = (SocketAddr, Vec<u8>);

#[derive(Default)]
struct JunkCounts {
    random: AtomicUsize,
    garbage: AtomicUsize,
    replays: AtomicUsize,
    sniffed: AtomicUsize,
}

/// Floods the client sockets (`port` on every client address) from another port of the
/// target's address until `stop`, bounded by [`JUNK_MAX`] and [`JUNK_FOR`].
fn flood(port: u16, stop: Arc<AtomicBool>, counts: Arc<JunkCounts>) -> Vec<thread::JoinHandle<()>> {
    let junk = UdpSocket::bind(SocketAddrV4::new(TARGET_IP, 0)).unwrap();
    let junk_port = junk.local_addr().unwrap().port();
    // Raw IPPROTO_UDP socket: a copy of every UDP datagram delivered on this host.
    let raw = Socket::new(
        Domain::IPV4,
        Type::from(3 /* SOCK_RAW */),
        Some(Protocol::UDP),
    )
    .expect("a raw socket (run the tests as root: the junk flood replays sniffed answers)");
    raw.set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let seen: Arc<std::sync::Mutex<Vec<Answer>>> = Arc::default();
    let sniffer = {
        let (stop, seen, counts) = (stop.clone(), seen.clone(), counts.clone());
        let mut raw = raw;
        thread::spawn(move || {
            let mut buf = [0u8; 65536];
            let until = Instant::now() + JUNK_FOR;
            while !stop.load(Ordering::Relaxed) && Instant::now() < until {
                let Ok(n) = raw.read(&mut buf) else { continue };
                let b = &buf[..n];
                let ihl = usize::from(b.first().map_or(0, |v| v & 0xf)) * 4;
                if n < ihl + 8 || ihl < 20 {
                    continue;
                }
                let src = Ipv4Addr::new(b[12], b[13], b[14], b[15]);
                let dst = Ipv4Addr::new(b[16], b[17], b[18], b[19]);
                let sport = u16::from_be_bytes([b[ihl], b[ihl + 1]]);
                let dport = u16::from_be_bytes([b[ihl + 2], b[ihl + 3]]);
                if src == TARGET_IP && sport != junk_port && dport == port && CLIENTS.contains(&dst)
                {
                    counts.sniffed.fetch_add(1, Ordering::Relaxed);
                    let mut seen = seen.lock().unwrap();
                    if seen.len() >= 512 {
                        seen.remove(0);
                    }
                    seen.push((SocketAddr::from((dst, port)), b[ihl + 8..].to_vec()));
                }
            }
        })
    };
    let sender = thread::spawn(move || {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15 ^ u64::from(std::process::id()));
        let start = Instant::now();
        let mut sent = 0;
        let mut replayed = 0;
        while !stop.load(Ordering::Relaxed) && start.elapsed() < JUNK_FOR && sent < JUNK_MAX {
            let to = SocketAddr::from((CLIENTS[rng.next() as usize % 4], port));
            if rng.next().is_multiple_of(8) {
                // Garbage: a random id and bytes that do not parse.
                let mut g: Vec<u8> = (0..(rng.next() % 40) as usize)
                    .map(|_| rng.next() as u8)
                    .collect();
                g.splice(
                    0..g.len().min(2),
                    (rng.next() as u16).max(0x100).to_be_bytes(),
                );
                let _ = junk.send_to(&g, to);
                counts.garbage.fetch_add(1, Ordering::Relaxed);
            } else {
                let _ = junk.send_to(&plausible_answer(&mut rng), to);
                counts.random.fetch_add(1, Ordering::Relaxed);
            }
            sent += 1;
            // Replays of the target's real answers: every new one at once (racing the
            // original), and old ones at random (stale answers to finished requests).
            let replay = {
                let seen = seen.lock().unwrap();
                if counts.sniffed.load(Ordering::Relaxed) > replayed {
                    replayed = counts.sniffed.load(Ordering::Relaxed);
                    seen.last().cloned()
                } else if !seen.is_empty() && rng.next().is_multiple_of(4) {
                    Some(seen[rng.next() as usize % seen.len()].clone())
                } else {
                    None
                }
            };
            if let Some((to, bytes)) = replay {
                let _ = junk.send_to(&bytes, to);
                counts.replays.fetch_add(1, Ordering::Relaxed);
                sent += 1;
            }
            thread::sleep(JUNK_EVERY);
        }
    });
    vec![sniffer, sender]
}

#[test]
fn verdicts_are_the_same_with_a_junk_flood_from_another_port_of_the_target() {
    let port = free_port(&CLIENTS);
    let (quiet, quiet_out) = run_library(port);
    assert!(quiet.len() > 50, "too few scripts ran:\n{quiet_out}");

    let stop = Arc::new(AtomicBool::new(false));
    let counts = Arc::new(JunkCounts::default());
    let threads = flood(port, stop.clone(), counts.clone());
    let (noisy, noisy_out) = run_library(port);
    stop.store(true, Ordering::Relaxed);
    for t in threads {
        t.join().unwrap();
    }
    let (random, garbage, replays, sniffed) = (
        counts.random.load(Ordering::Relaxed),
        counts.garbage.load(Ordering::Relaxed),
        counts.replays.load(Ordering::Relaxed),
        counts.sniffed.load(Ordering::Relaxed),
    );
    eprintln!(
        "junk: {random} random answers, {garbage} garbage, {replays} replays of {sniffed} sniffed answers"
    );
    assert!(random > 500 && garbage > 50, "too little junk was sent");
    assert!(
        sniffed > 100 && replays > 100,
        "too few real answers were replayed"
    );
    assert_eq!(
        quiet, noisy,
        "verdicts differ with junk\nwithout:\n{quiet_out}\nwith:\n{noisy_out}"
    );
    assert_eq!(summary_line(&quiet_out), summary_line(&noisy_out));
}

#[test]
fn a_target_that_answers_nothing_is_unreachable_with_exit_2() {
    // A bound socket that never reads: no answer, no ICMP.
    let hole = UdpSocket::bind(SocketAddrV4::new(TARGET_IP, 0)).unwrap();
    let target = hole.local_addr().unwrap();
    let clients = [3, 4, 5, 6].map(|d| Ipv4Addr::new(127, 0, 1, d));
    let port = free_port(&clients);
    let mut child = Command::new(bin())
        .args([
            "run",
            "--target",
            &target.to_string(),
            "--target-name",
            "HOLE",
        ])
        .args(["--client-port", &port.to_string()])
        .args(
            clients
                .iter()
                .flat_map(|c| ["--client-addr".to_string(), c.to_string()]),
        )
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if start.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("a run against a black hole took more than 60 s");
        }
        thread::sleep(Duration::from_millis(100));
    };
    let mut stdout = String::new();
    let mut stderr = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut stdout)
        .unwrap();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    eprintln!(
        "black hole: {:?} after {:?}",
        status.code(),
        start.elapsed()
    );
    assert_eq!(
        status.code(),
        Some(2),
        "stdout:\n{stdout}\nstderr:\n{stderr}"
    );
    assert!(
        stderr.contains("target unreachable"),
        "stdout:\n{stdout}\nstderr:\n{stderr}"
    );
    drop(hole);
}
