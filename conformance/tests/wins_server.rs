//! `nbns-conform serve` as a complete WINS server: acknowledged registrations
//! survive SIGKILL and version ids keep increasing across restarts; three
//! servers replicating with each other converge; the replication role's whole
//! run (conflict matrix, push, hostile frames, version ids) passes on the
//! embedded reference target; the reference and the Samba AD DC replicate in
//! both directions.
//!
//! Servers listen on 127.0.0.x addresses of their own at high ports (no root
//! needed) except the last two tests, which need root for network namespaces
//! and fail loudly without it (NBNS_VERIFY_SKIP_SAMBA=1 skips the Samba one).

use nbns_reference::replication::conn::session;
use nbns_wire::nbns::{
    Compression, Flags, List, NbEntry, NbFlags, NodeType, Opcode, Question, RData, Rcode, Record,
    Repr, RrType, CLASS_IN,
};
use nbns_wire::wrepl::{OwnedNameRecord, OwnedRecordName};
use nbns_wire::{Labels, Name, NetbiosName};
use std::collections::{BTreeMap, HashSet};
use std::net::{Ipv4Addr, SocketAddrV4, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

mod common;
use common::{bin, repo, repo_script, samba_skipped};

const T: Duration = Duration::from_secs(5);

/// A `serve` process, killed (SIGKILL) when dropped.
struct Served {
    child: Child,
    udp: SocketAddrV4,
    wrepl: SocketAddrV4,
}

impl Served {
    fn start(ip: Ipv4Addr, udp_port: u16, wrepl_port: u16, db: &Path, extra: &[String]) -> Served {
        let udp = SocketAddrV4::new(ip, udp_port);
        let wrepl = SocketAddrV4::new(ip, wrepl_port);
        let child = Command::new(bin())
            .arg("serve")
            .args([
                "--bind",
                &udp.to_string(),
                "--wrepl-bind",
                &wrepl.to_string(),
            ])
            .arg("--db")
            .arg(db)
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start nbns-conform serve");
        let s = Served { child, udp, wrepl };
        s.wait_ready();
        s
    }

    /// Bounded wait until a query gets an answer.
    fn wait_ready(&self) {
        let c = client(Ipv4Addr::new(127, 0, 0, 1));
        let deadline = Instant::now() + Duration::from_secs(20);
        let probe = NetbiosName::new(b"PROBE", 0).unwrap();
        while Instant::now() < deadline {
            if ask(&c, self.udp, query(1, probe)).is_some() {
                return;
            }
        }
        panic!("serve on {} did not answer within 20 s", self.udp);
    }

    /// SIGKILL, no chance to flush anything.
    fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn temp_db(tag: &str) -> PathBuf {
    let p = std::env::temp_dir().join(format!("nbnsv-{tag}-{}.redb", std::process::id()));
    let _ = std::fs::remove_file(&p);
    p
}

/// A free UDP+TCP port pair on `ip` (the OS picks the UDP one).
fn free_port(ip: Ipv4Addr) -> u16 {
    let u = UdpSocket::bind((ip, 0)).unwrap();
    let p = u.local_addr().unwrap().port();
    drop(u);
    p
}

fn client(ip: Ipv4Addr) -> UdpSocket {
    let s = UdpSocket::bind((ip, 0)).unwrap();
    s.set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    s
}

fn nbname(label: &str) -> NetbiosName {
    NetbiosName::new(label.as_bytes(), 0).unwrap()
}

fn emit(repr: &Repr<'_>) -> Vec<u8> {
    let mut buf = vec![0; repr.buffer_len(Compression::Question)];
    repr.emit(&mut buf, Compression::Question).unwrap();
    buf
}

fn request(id: u16, opcode: Opcode, n: NetbiosName, entry: Option<NbEntry>) -> Vec<u8> {
    let name = Name::netbios(n, Labels::EMPTY).unwrap();
    let entries: Vec<NbEntry> = entry.into_iter().collect();
    emit(&Repr {
        id,
        flags: Flags::request(opcode),
        question: Some(Question {
            name,
            qtype: RrType::Nb,
            qclass: CLASS_IN,
        }),
        answer: None,
        authority: None,
        additional: (!entries.is_empty()).then_some(Record {
            name,
            class: CLASS_IN,
            ttl: 3600,
            rdata: RData::Nb(List::Items(&entries)),
        }),
    })
}

fn query(id: u16, n: NetbiosName) -> Vec<u8> {
    request(id, Opcode::Query, n, None)
}

fn registration(id: u16, n: NetbiosName, addr: Ipv4Addr, opcode: Opcode) -> Vec<u8> {
    let entry = NbEntry {
        flags: NbFlags::new(false, NodeType::H),
        addr,
    };
    request(id, opcode, n, Some(entry))
}

/// Sends `packet` and returns (rcode, addresses) of the final answer (WACKs
/// are waited through), or None after about 8 s.
fn ask(c: &UdpSocket, to: SocketAddrV4, packet: Vec<u8>) -> Option<(Rcode, Vec<Ipv4Addr>)> {
    let id = u16::from_be_bytes([packet[0], packet[1]]);
    let mut buf = [0u8; 2048];
    let deadline = Instant::now() + Duration::from_secs(8);
    let mut resend = Instant::now();
    while Instant::now() < deadline {
        if Instant::now() >= resend {
            c.send_to(&packet, to).ok()?;
            resend = Instant::now() + Duration::from_secs(1);
        }
        let Ok((n, _)) = c.recv_from(&mut buf) else {
            continue;
        };
        let Ok(r) = Repr::parse_bytes(&buf[..n]) else {
            continue;
        };
        if r.id != id || !r.flags.response {
            continue;
        }
        if r.flags.opcode == Opcode::Wack {
            resend = deadline; // the server is working on it
            continue;
        }
        let addrs = r
            .answer
            .and_then(|a| a.nb_entries())
            .map(|l| l.iter().map(|e| e.addr).collect())
            .unwrap_or_default();
        return Some((r.flags.rcode, addrs));
    }
    None
}

/// Every record a server replicates: (name, owner) -> (version, state flags, addresses).
type Replicated = BTreeMap<(String, Ipv4Addr), (u64, u32, Vec<Ipv4Addr>)>;

fn replicated(from: Ipv4Addr, server: SocketAddrV4) -> Result<Replicated, String> {
    session(Some(from), server, T, |c| {
        let mut all = Replicated::new();
        for o in c.owner_map()? {
            for r in c.send_entries(o.address, 0, o.max_version)? {
                // MS-WINSRA 2.2.10.1: L clear on the server's own records, set on replicas.
                if r.flags.is_local() != (o.address != *server.ip()) {
                    return Err(nbns_reference::replication::conn::PartnerError::Unexpected(
                        format!("{server}: record of {} with flags {}", o.address, r.flags),
                    ));
                }
                all.insert(key(&r, o.address), value(&r));
            }
        }
        Ok(all)
    })
    .map_err(|e| e.to_string())
}

/// `NAME<xx>` and the owner.
fn key(r: &OwnedNameRecord, owner: Ipv4Addr) -> (String, Ipv4Addr) {
    let name = match &r.name {
        OwnedRecordName::Netbios { name, .. } => {
            let b = name.as_bytes();
            format!(
                "{}<{:02x}>",
                String::from_utf8_lossy(&b[..15]).trim_end(),
                b[15]
            )
        }
        OwnedRecordName::Short(b) => String::from_utf8_lossy(b).into_owned(),
    };
    (name, owner)
}

fn value(r: &OwnedNameRecord) -> (u64, u32, Vec<Ipv4Addr>) {
    let mut addrs: Vec<Ipv4Addr> = match r.as_record().addresses {
        nbns_wire::wrepl::Addresses::Single(a) => vec![a],
        nbns_wire::wrepl::Addresses::List(l) => l.iter().map(|p| p.address).collect(),
    };
    addrs.sort();
    // The L flag depends on who sends the record (checked in `replicated`).
    let flags = r.flags.0 & 0xff & !nbns_wire::wrepl::Flags::LOCAL;
    (r.version, flags, addrs)
}

fn own_versions(from: Ipv4Addr, server: SocketAddrV4) -> Vec<(String, u64)> {
    let me = *server.ip();
    session(Some(from), server, T, |c| {
        let max = c
            .owner_map()?
            .iter()
            .find(|o| o.address == me)
            .map_or(0, |o| o.max_version);
        c.send_entries(me, 0, max)
    })
    .expect("send-entries from the server")
    .iter()
    .map(|r| (key(r, me).0, r.version))
    .collect()
}

#[test]
fn acknowledged_registrations_survive_sigkill_and_versions_keep_increasing() {
    let ip = Ipv4Addr::new(127, 0, 0, 51);
    let partner = Ipv4Addr::new(127, 0, 0, 52);
    let db = temp_db("crash");
    let (udp, tcp) = (free_port(ip), free_port(ip));
    let extra = vec!["--partner".to_string(), format!("{partner}:9")];
    let server = Served::start(ip, udp, tcp, &db, &extra);
    let c = client(Ipv4Addr::new(127, 0, 0, 53));

    // A burst of 300 registrations, all sent before any answer is read, so the
    // server commits them in batches; then SIGKILL right after the last OK.
    const N: u16 = 300;
    let names: Vec<NetbiosName> = (0..N).map(|i| nbname(&format!("CRASH{i:04}"))).collect();
    for (i, n) in names.iter().enumerate() {
        let holder = Ipv4Addr::new(10, 9, (i / 256) as u8, (i % 256) as u8);
        c.send_to(
            &registration(1000 + i as u16, *n, holder, Opcode::Registration),
            server.udp,
        )
        .unwrap();
    }
    let mut acked = HashSet::new();
    let mut buf = [0u8; 2048];
    let deadline = Instant::now() + Duration::from_secs(10);
    while acked.len() < N as usize && Instant::now() < deadline {
        if let Ok((n, _)) = c.recv_from(&mut buf) {
            let r = Repr::parse_bytes(&buf[..n]).unwrap();
            if r.flags.response && r.flags.rcode == Rcode::NoError {
                acked.insert(r.id - 1000);
            }
        }
    }
    assert!(
        acked.len() > N as usize / 2,
        "only {} of {N} registrations were acknowledged",
        acked.len()
    );
    let before = own_versions(partner, server.wrepl);
    let max_before = before.iter().map(|(_, v)| *v).max().unwrap();
    server.kill();

    let server = Served::start(ip, udp, tcp, &db, &extra);
    let c = client(Ipv4Addr::new(127, 0, 0, 54));
    let mut lost = Vec::new();
    for &i in &acked {
        let i = usize::from(i);
        let holder = Ipv4Addr::new(10, 9, (i / 256) as u8, (i % 256) as u8);
        match ask(&c, server.udp, query(i as u16 + 1, names[i])) {
            Some((Rcode::NoError, addrs)) if addrs == [holder] => {}
            other => lost.push(format!("{}: {other:?}", names[i])),
        }
    }
    assert!(
        lost.is_empty(),
        "{} of {} acknowledged registrations lost after SIGKILL: {:?}",
        lost.len(),
        acked.len(),
        &lost[..lost.len().min(5)]
    );
    let after = own_versions(partner, server.wrepl);
    for (name, v) in &before {
        assert!(
            after.contains(&(name.clone(), *v)),
            "{name} version {v} not kept"
        );
    }
    // New registrations get versions above every old one.
    for k in 0..3u16 {
        let n = nbname(&format!("AFTER{k}"));
        let got = ask(
            &c,
            server.udp,
            registration(
                9000 + k,
                n,
                Ipv4Addr::new(10, 8, 0, 1 + k as u8),
                Opcode::Registration,
            ),
        );
        assert_eq!(got.map(|g| g.0), Some(Rcode::NoError));
    }
    let newest = own_versions(partner, server.wrepl);
    let new: Vec<u64> = newest
        .iter()
        .filter(|(n, _)| n.starts_with("AFTER"))
        .map(|(_, v)| *v)
        .collect();
    assert_eq!(new.len(), 3);
    assert!(
        new.iter().all(|v| *v > max_before),
        "versions after the restart {new:?} not above {max_before}"
    );
    drop(server);
    let _ = std::fs::remove_file(&db);
}

#[test]
fn scavenging_runs_on_real_time_with_the_configured_intervals() {
    let ip = Ipv4Addr::new(127, 0, 0, 57);
    let partner = Ipv4Addr::new(127, 0, 0, 58);
    let db = temp_db("scavenge");
    let extra: Vec<String> = [
        "--partner",
        "127.0.0.58:9",
        "--renew-interval",
        "2s",
        "--extinction-interval",
        "2s",
        "--extinction-timeout",
        "1h",
    ]
    .map(String::from)
    .to_vec();
    let server = Served::start(ip, free_port(ip), free_port(ip), &db, &extra);
    let c = client(Ipv4Addr::new(127, 0, 0, 59));
    let n = nbname("SHORTLIVED");
    let holder = Ipv4Addr::new(10, 6, 0, 1);
    let got = ask(
        &c,
        server.udp,
        registration(1, n, holder, Opcode::Registration),
    );
    assert_eq!(got.map(|g| g.0), Some(Rcode::NoError));
    let version_of = || {
        own_versions(partner, server.wrepl)
            .into_iter()
            .find(|(name, _)| name == "SHORTLIVED<00>")
    };
    let first = version_of().expect("replicated while active").1;
    // TTL 2 s: released (queries fail, nothing replicated), then 2 s later a
    // tombstone with a new version. Bounded waits.
    let deadline = Instant::now() + Duration::from_secs(10);
    while ask(&c, server.udp, query(2, n)).map(|g| g.0) != Some(Rcode::NamErr) {
        assert!(Instant::now() < deadline, "never released");
        std::thread::sleep(Duration::from_millis(200));
    }
    let tombstone = loop {
        if let Some((_, v)) = version_of().filter(|(_, v)| *v > first) {
            break v;
        }
        assert!(Instant::now() < deadline, "never became a tombstone");
        std::thread::sleep(Duration::from_millis(200));
    };
    assert!(tombstone > first);
    drop(server);
    let _ = std::fs::remove_file(&db);
}

/// Reads until the peer closes the connection (Ok) or `within` passes (Err).
fn closed_within(s: &mut std::net::TcpStream, within: Duration) -> Result<Duration, String> {
    use std::io::Read;
    let t = Instant::now();
    let mut buf = [0u8; 256];
    while t.elapsed() < within {
        s.set_read_timeout(Some(Duration::from_millis(100)))
            .unwrap();
        match s.read(&mut buf) {
            Ok(0) => return Ok(t.elapsed()),
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return Ok(t.elapsed()),
            Err(_) => {}
        }
    }
    Err(format!("still open after {within:?}"))
}

#[test]
fn replication_connections_are_limited_and_stalled_peers_dropped() {
    use std::io::Write;
    let ip = Ipv4Addr::new(127, 0, 0, 71);
    let partner = Ipv4Addr::new(127, 0, 0, 72);
    let db = temp_db("bounded");
    let extra: Vec<String> = [
        "--partner",
        "127.0.0.72:9",
        "--pull-interval",
        "0",
        "--wrepl-timeout",
        "1s",
        "--wrepl-max-connections",
        "4",
    ]
    .map(String::from)
    .to_vec();
    let server = Served::start(ip, free_port(ip), free_port(ip), &db, &extra);
    let connect =
        || nbns_reference::replication::conn::connect_from(Some(partner), server.wrepl, T).unwrap();
    // Four peers stall half-way through a frame that claims 16 MB.
    let mut stalled: Vec<_> = (0..4).map(|_| connect()).collect();
    for s in &mut stalled {
        s.write_all(&0x00ff_0000u32.to_be_bytes()).unwrap();
        s.write_all(&[0x55; 1000]).unwrap();
    }
    let stall = Instant::now();
    std::thread::sleep(Duration::from_millis(200));
    // A fifth is closed at once: four are served already.
    let mut fifth = connect();
    let t = closed_within(&mut fifth, Duration::from_millis(800)).expect("fifth connection");
    assert!(t < Duration::from_millis(800));
    // The stalled ones are dropped after the 1 s timeout (not long before it).
    for s in &mut stalled {
        closed_within(s, Duration::from_secs(5)).expect("a stalled peer is dropped");
        let t = stall.elapsed();
        assert!(t > Duration::from_millis(900), "dropped after {t:?}");
    }
    // And the server still serves a partner, and NBNS.
    let map = session(Some(partner), server.wrepl, T, |c| c.owner_map()).expect("map");
    assert!(map.iter().any(|o| o.address == ip), "{map:?}");
    let c = client(Ipv4Addr::new(127, 0, 0, 73));
    let got = ask(
        &c,
        server.udp,
        registration(
            1,
            nbname("STILLHERE"),
            Ipv4Addr::new(10, 5, 0, 1),
            Opcode::Registration,
        ),
    );
    assert_eq!(got.map(|g| g.0), Some(Rcode::NoError));
    drop(server);
    let _ = std::fs::remove_file(&db);
}

#[test]
fn a_second_server_on_the_same_database_is_refused_clearly() {
    let ip = Ipv4Addr::new(127, 0, 0, 55);
    let db = temp_db("locked");
    let server = Served::start(ip, free_port(ip), free_port(ip), &db, &[]);
    let out = Command::new(bin())
        .args(["serve", "--bind", "127.0.0.56:0", "--no-wrepl", "--db"])
        .arg(&db)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains(&db.display().to_string()), "{stderr}");
    drop(server);
    let out = Command::new(bin())
        .args(["serve", "--pull-interval", "5 weeks"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a duration"));
    let _ = std::fs::remove_file(&db);
}

#[test]
fn three_reference_servers_replicating_with_each_other_converge() {
    let ips = [
        Ipv4Addr::new(127, 0, 0, 61),
        Ipv4Addr::new(127, 0, 0, 62),
        Ipv4Addr::new(127, 0, 0, 63),
    ];
    let ports: Vec<(u16, u16)> = ips
        .iter()
        .map(|ip| (free_port(*ip), free_port(*ip)))
        .collect();
    let dbs: Vec<PathBuf> = (0..3).map(|i| temp_db(&format!("conv{i}"))).collect();
    let servers: Vec<Served> = (0..3)
        .map(|i| {
            let mut extra: Vec<String> = [
                "--name",
                ["REF61", "REF62", "REF63"][i],
                "--pull-interval",
                "2s",
                // Released records replicate once they become tombstones:
                // soon here, and tombstones stay for the comparison.
                "--extinction-interval",
                "2s",
                "--extinction-timeout",
                "1h",
                // Challenges go to holders nobody answers for (port 9, discard).
                "--challenge-port",
                "9",
            ]
            .map(String::from)
            .to_vec();
            for j in 0..3 {
                if j != i {
                    extra.push("--partner".into());
                    extra.push(format!("{}:{}", ips[j], ports[j].1));
                }
            }
            Served::start(ips[i], ports[i].0, ports[i].1, &dbs[i], &extra)
        })
        .collect();
    let c = client(Ipv4Addr::new(127, 0, 0, 64));
    let reg = |s: usize, id: u16, name: &str, addr: Ipv4Addr, op: Opcode| {
        let got = ask(&c, servers[s].udp, registration(id, nbname(name), addr, op));
        assert_eq!(
            got.map(|g| g.0),
            Some(Rcode::NoError),
            "{name} at server {s}"
        );
    };
    // Bounded wait until server `s` answers a query for `name` with `addr`.
    let holds = |s: usize, name: &str, addr: Ipv4Addr| {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if ask(&c, servers[s].udp, query(700, nbname(name)))
                == Some((Rcode::NoError, vec![addr]))
            {
                return;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        panic!("server {s} never answered {name} with {addr}");
    };
    let h = |n: u8| Ipv4Addr::new(10, 7, 0, n);
    // Names of each server's own, releases, and two conflicts: a name taken
    // over on another server once its replica arrived there (unique, then
    // multihomed); the old holder does not answer the challenge.
    for i in 0..3u8 {
        for k in 0..5u8 {
            reg(
                usize::from(i),
                u16::from(i) * 100 + u16::from(k),
                &format!("OWN{i}N{k}"),
                h(10 * i + k + 1),
                Opcode::Registration,
            );
        }
    }
    reg(0, 500, "CONFLICT", h(100), Opcode::Registration);
    reg(1, 502, "MULTI", h(110), Opcode::MultihomedRegistration);
    holds(1, "CONFLICT", h(100));
    holds(2, "MULTI", h(110));
    reg(1, 501, "CONFLICT", h(101), Opcode::Registration);
    reg(2, 503, "MULTI", h(111), Opcode::MultihomedRegistration);
    for k in 0..2u8 {
        let got = ask(
            &c,
            servers[1].udp,
            request(
                600 + u16::from(k),
                Opcode::Release,
                nbname(&format!("OWN1N{k}")),
                Some(NbEntry {
                    flags: NbFlags::new(false, NodeType::H),
                    addr: h(10 + k + 1),
                }),
            ),
        );
        assert_eq!(got.map(|g| g.0), Some(Rcode::NoError));
    }

    // Converged: every server replicates the same records with the same
    // versions, and each holds all 15 own names (two released) of the others.
    let deadline = Instant::now() + Duration::from_secs(40);
    let from = Ipv4Addr::new(127, 0, 0, 61); // a partner of servers 2 and 3
    let last = loop {
        let views: Vec<Result<Replicated, String>> = (0..3)
            .map(|i| {
                let from = if i == 0 { ips[1] } else { from };
                replicated(from, servers[i].wrepl)
            })
            .collect();
        let ok = views.iter().all(|v| v.is_ok())
            && views.windows(2).all(|w| w[0] == w[1])
            && views[0].as_ref().is_ok_and(|v| {
                (0..3)
                    .all(|i| (0..5).all(|k| v.keys().any(|(n, _)| *n == format!("OWN{i}N{k}<00>"))))
            });
        if ok || Instant::now() >= deadline {
            break (ok, views);
        }
        std::thread::sleep(Duration::from_millis(500));
    };
    assert!(
        last.0,
        "servers did not converge within 40 s:\n{}",
        differences(&last.1)
    );
    let view = last.1[0].as_ref().unwrap();
    // The takeovers won everywhere; the released names are tombstones.
    let owner_of = |name: &str| {
        let v: Vec<_> = view.iter().filter(|((n, _), _)| n == name).collect();
        assert_eq!(v.len(), 1, "{name}: {v:?}");
        (v[0].0 .1, v[0].1 .2.clone())
    };
    assert_eq!(owner_of("CONFLICT<00>"), (ips[1], vec![h(101)]));
    assert_eq!(owner_of("MULTI<00>"), (ips[2], vec![h(111)]));
    for k in 0..2 {
        let name = format!("OWN1N{k}<00>");
        let flags = view
            .iter()
            .find(|((n, _), _)| *n == name)
            .map(|(_, v)| v.1)
            .unwrap();
        assert_eq!((flags >> 2) & 3, 2, "{name} is a tombstone everywhere");
    }
    drop(servers);
    for d in dbs {
        let _ = std::fs::remove_file(d);
    }
}

/// What the servers' views disagree on, one line a record.
fn differences(views: &[Result<Replicated, String>]) -> String {
    let mut out = String::new();
    let mut keys = std::collections::BTreeSet::new();
    for (i, v) in views.iter().enumerate() {
        match v {
            Ok(m) => keys.extend(m.keys().cloned()),
            Err(e) => out += &format!("server {i}: {e}\n"),
        }
    }
    for k in keys {
        let vals: Vec<Option<&(u64, u32, Vec<Ipv4Addr>)>> = views
            .iter()
            .map(|v| v.as_ref().ok().and_then(|m| m.get(&k)))
            .collect();
        if vals.windows(2).any(|w| w[0] != w[1]) {
            out += &format!("{} owner {}: {:?}\n", k.0, k.1, vals);
        }
    }
    out
}

/// `unshare -n`: a network namespace of the test's own with only `lo`.
fn in_private_netns(cmd: &str) -> std::process::Output {
    Command::new("unshare")
        .args(["--net", "sh", "-c"])
        .arg(format!("ip link set lo up && {cmd}"))
        .current_dir(repo())
        .output()
        .expect("run unshare (util-linux)")
}

fn require_root(what: &str) {
    let uid = Command::new("id").arg("-u").output().unwrap();
    assert_eq!(
        String::from_utf8_lossy(&uid.stdout).trim(),
        "0",
        "\n*** {what} needs root (a network namespace, ports 42 and 137) ***\n"
    );
}

#[test]
fn replication_role_passes_entirely_on_the_embedded_reference_target() {
    require_root("the replication run against the embedded reference target");
    let t = Instant::now();
    let out = in_private_netns(&format!("{} run --role replication --quiet", bin()));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let summary = common::summary_line(&stdout);
    eprintln!("{summary} ({:.1} s)", t.elapsed().as_secs_f64());
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(
        summary.contains(" 0 failed, 0 skipped"),
        "{summary}\n{stdout}"
    );
    let passed: usize = summary
        .split_whitespace()
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert!(passed > 1_500, "{summary}");
}

#[test]
fn reference_and_samba_ad_dc_replicate_in_both_directions() {
    if samba_skipped("reference <-> AD DC replication") {
        return;
    }
    let out = repo_script("scripts/reference-samba-wrepl.sh", &[]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    eprintln!("{stdout}");
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("ok: DC -> reference"), "{stdout}");
    assert!(stdout.contains("ok: reference -> DC"), "{stdout}");
}
