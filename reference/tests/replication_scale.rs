//! Two reference servers replicate a large database in bounded frames.
//!
//! Server A's database is filled directly (one `Db::write` of N records it
//! owns, versions 1..=N, into its redb file: registering 1M names over UDP
//! would take minutes), then A starts on that file and B starts as its
//! partner with a database file of its own. B pulls at start, reply after
//! reply (each one at most `max_reply_bytes`), until it holds A's whole
//! range. The test then checks B's file holds all N records with A's
//! versions, and pulls A's range itself, frame by frame, to check every
//! frame's size.
//!
//! In release mode (`scripts/test.sh`) the 1M variant takes about 6 s here
//! (1 s to fill A, under 3 s for B to pull) and 500 MB, so it always runs.

use nbns_model::proto::{NodeType, Time};
use nbns_model::record::{Kind, RecState, Record};
use nbns_reference::db::{Batch, Db, DbRecord};
use nbns_reference::packet_layer::PacketConfig;
use nbns_reference::replication::conn::{self, Conn};
use nbns_reference::replication::ReplicationConfig;
use nbns_reference::server::WinsServerConfig;
use nbns_reference::{EmbeddedServer, WireName};
use nbns_wire::NetbiosName;
use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, TcpListener};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// A free TCP port on `ip` (both servers must know each other's before either starts).
fn reserve(ip: Ipv4Addr) -> SocketAddrV4 {
    let l = TcpListener::bind(SocketAddrV4::new(ip, 0)).unwrap();
    match l.local_addr().unwrap() {
        SocketAddr::V4(a) => a,
        SocketAddr::V6(_) => unreachable!(),
    }
}

fn name(i: usize) -> WireName {
    WireName::unscoped(NetbiosName::new(format!("R{i:07}").as_bytes(), 0).unwrap())
}

/// `n` active unique records owned by `owner`, versions 1..=n, written in one transaction.
fn fill(path: &Path, owner: Ipv4Addr, n: usize) {
    let now: Time = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let put: Vec<DbRecord> = (0..n)
        .map(|i| Record {
            name: name(i),
            kind: Kind::Unique,
            state: RecState::Active,
            is_static: false,
            node: NodeType::H,
            addrs: [Ipv4Addr::from(0x0a00_0000 + i as u32)].into(),
            other_owners: Default::default(),
            member_expiry: Default::default(),
            owner,
            version: i as u64 + 1,
            expires: now + 5 * 86_400,
        })
        .collect();
    let db = Db::open(Some(path)).unwrap();
    db.write(&Batch {
        me: owner,
        next_version: n as u64 + 1,
        known: Vec::new(),
        put,
        delete: Vec::new(),
    })
    .unwrap();
}

fn server(
    ip: Ipv4Addr,
    db: PathBuf,
    wrepl: SocketAddrV4,
    partner: SocketAddrV4,
    max_reply: u32,
) -> EmbeddedServer {
    let mut cfg = WinsServerConfig::new(PacketConfig::new(&format!("S{}", ip.octets()[3]), ip));
    cfg.db = Some(db);
    let mut r = ReplicationConfig::new(ip);
    r.bind = wrepl;
    r.partners = vec![partner];
    r.max_reply_bytes = max_reply;
    cfg.replication = Some(r);
    EmbeddedServer::start_with(cfg, SocketAddrV4::new(ip, 0)).unwrap()
}

/// `from`'s max version of `owner` in `at`'s owner-version map (asked as partner `from`).
fn known_by(from: Ipv4Addr, at: SocketAddrV4, owner: Ipv4Addr) -> u64 {
    conn::session(Some(from), at, Duration::from_secs(10), |c| c.owner_map())
        .map(|m| {
            m.iter()
                .find(|o| o.address == owner)
                .map_or(0, |o| o.max_version)
        })
        .unwrap_or(0)
}

struct Frames {
    count: usize,
    largest: usize,
    records_per_frame: Vec<usize>,
}

/// Pulls `owner`'s versions 1..=max from `at` as partner `from`, following the
/// short replies, and returns the frames' sizes and record counts.
fn pull_frames(from: Ipv4Addr, at: SocketAddrV4, owner: Ipv4Addr, max: u64) -> Frames {
    let mut c = Conn::connect(Some(from), at, Duration::from_secs(30)).unwrap();
    c.start_association().unwrap();
    c.record_frames();
    let mut next = 1;
    let mut frames = Frames {
        count: 0,
        largest: 0,
        records_per_frame: Vec::new(),
    };
    let mut seen = 0u64;
    while next <= max {
        let recs = c.send_entries(owner, next, max).unwrap();
        let bytes = c.take_recorded().iter().map(Vec::len).sum::<usize>();
        frames.count += 1;
        frames.largest = frames.largest.max(bytes);
        frames.records_per_frame.push(recs.len());
        assert!(
            !recs.is_empty(),
            "an empty reply at version {next} of {max}"
        );
        // In version order and contiguous from `next`.
        for (k, r) in recs.iter().enumerate() {
            assert_eq!(r.version, next + k as u64);
        }
        seen += recs.len() as u64;
        next = recs.last().unwrap().version + 1;
    }
    let _ = c.stop();
    assert_eq!(seen, max);
    frames
}

fn replicate(n: usize, net: u8, max_reply: u32) {
    let dir = std::env::temp_dir().join(format!(
        "nbns-repl-scale-{}-{n}-{}",
        std::process::id(),
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .subsec_nanos()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let (a_ip, b_ip) = (
        Ipv4Addr::new(127, 12, net, 1),
        Ipv4Addr::new(127, 12, net, 2),
    );
    let (a_path, b_path) = (dir.join("a.redb"), dir.join("b.redb"));
    let t0 = Instant::now();
    fill(&a_path, a_ip, n);
    let filled = t0.elapsed();
    let (a_at, b_at) = (reserve(a_ip), reserve(b_ip));
    let a = server(a_ip, a_path, a_at, b_at, max_reply);
    let t1 = Instant::now();
    let b = server(b_ip, b_path.clone(), b_at, a_at, max_reply);
    let deadline = Instant::now() + Duration::from_secs(600);
    while known_by(a_ip, b_at, a_ip) < n as u64 {
        assert!(Instant::now() < deadline, "B did not get A's {n} records");
        std::thread::sleep(Duration::from_millis(100));
    }
    let replicated = t1.elapsed();
    let frames = pull_frames(b_ip, a_at, a_ip, n as u64);
    eprintln!(
        "{n} records: filled A in {filled:.1?}, B pulled them in {replicated:.1?}; a pull of the range took {} frames, largest {} bytes, {} records a frame at most",
        frames.count,
        frames.largest,
        frames.records_per_frame.iter().max().unwrap()
    );
    assert!(frames.largest <= max_reply as usize, "{}", frames.largest);
    assert!(frames.count > 1);
    b.stop().unwrap();
    a.stop().unwrap();

    let stored = Db::open(Some(&b_path)).unwrap().load().unwrap();
    let got: HashMap<WireName, u64> = stored
        .records
        .iter()
        .filter(|r| r.owner == a_ip)
        .map(|r| {
            assert_eq!(r.state, RecState::Active);
            (r.name.clone(), r.version)
        })
        .collect();
    assert_eq!(got.len(), n);
    for i in 0..n {
        assert_eq!(got.get(&name(i)), Some(&(i as u64 + 1)), "record {i}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// 100,000 records in replies of 256 KiB: 19 frames.
#[test]
fn two_servers_replicate_100k_records_in_bounded_frames() {
    replicate(100_000, 1, 256 * 1024);
}

/// 1,000,000 records with the default reply size (4 MiB): 12 frames.
#[test]
fn two_servers_replicate_1m_records() {
    replicate(
        1_000_000,
        2,
        nbns_reference::replication::service::DEFAULT_MAX_REPLY_BYTES,
    );
}
