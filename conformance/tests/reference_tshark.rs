//! Wireshark's dissectors find nothing malformed in what the reference server
//! sends (issue 11 part D). In a network namespace, with tcpdump on its lo:
//! the whole server script library (`nbns-conform run --target`) against
//! `nbns-conform serve` on 127.0.0.10:137, then the replication role
//! (`run --role replication`: the embedded target on 127.0.0.2, UDP 137 and
//! TCP 42) - every NBNS and WINS replication message the reference sent
//! goes through tshark, which must flag none of them `_ws.malformed`. The
//! runner's own packets include the hostile scripts' malformed requests on
//! purpose: they are counted and printed, not judged. The counts must be
//! large (so the test cannot pass on an empty capture).
//!
//! Needs root, tcpdump and tshark; without them it fails and says what to
//! install (NBNS_VERIFY_NO_TSHARK=1 skips it, loudly). About 20 s.
//!
//! The same capture then goes through `nbns-conform validate --from-start`:
//! the reference must give every answer the model gives (0 divergences).

use std::collections::BTreeMap;
use std::process::Command;
use std::time::{Duration, Instant};

mod common;
mod netns;
use common::{bin, summary_line};
use netns::{wait_until, Netns};

const SERVE: &str = "127.0.0.10";
const EMBEDDED: &str = "127.0.0.2";

/// Runs `nbns-conform run ARGS` in the namespace; returns its summary line.
fn run(ns: &Netns, what: &str, args: &[&str]) -> String {
    let mut full = vec![bin(), "run", "--quiet"];
    full.extend_from_slice(args);
    let t = Instant::now();
    let out = ns.run(Duration::from_secs(240), &full);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    // 0: all passed, 1: some script failed (the library's verdicts are the
    // business of tests/library.rs and tests/wins_server.rs; here only the
    // traffic counts). Anything else: the run did not happen.
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "{what}: {:?}\n{stdout}\n{stderr}",
        out.status
    );
    let line = summary_line(&stdout).to_string();
    assert!(!line.is_empty(), "{what}: no summary\n{stdout}\n{stderr}");
    eprintln!("{what}: {line} ({:.1} s)", t.elapsed().as_secs_f64());
    line
}

#[derive(Default, Debug)]
struct Counts {
    frames: usize,
    malformed: usize,
}

#[test]
fn tshark_finds_no_malformed_packet_from_the_reference_server() {
    if std::env::var_os("NBNS_VERIFY_NO_TSHARK").is_some() {
        eprintln!(
            "\n*** WARNING: NBNS_VERIFY_NO_TSHARK is set: the reference's traffic was NOT checked by tshark ***\n"
        );
        return;
    }
    netns::require(
        "the tshark check of the reference server's traffic",
        &[
            ("tshark", "tshark"),
            ("tcpdump", "tcpdump"),
            ("ip", "iproute2"),
            ("timeout", "coreutils"),
        ],
    );
    let t = Instant::now();
    let mut ns = Netns::new(
        "tshark",
        &[
            EMBEDDED,
            "127.0.0.3",
            "127.0.0.4",
            "127.0.0.5",
            "127.0.0.6",
            SERVE,
        ],
    );
    let pcap = ns.path("cap.pcap");
    let cap = ns.capture(Duration::from_secs(300), "cap.pcap", &[]);
    let serve = ns.spawn(
        Duration::from_secs(300),
        "serve.log",
        &[
            bin(),
            "serve",
            "--bind",
            &format!("{SERVE}:137"),
            "--name",
            "REFWINS",
            "--no-wrepl",
        ],
    );
    let up = wait_until(Duration::from_secs(10), || {
        std::fs::read_to_string(ns.path("serve.log")).is_ok_and(|s| s.contains("reference WINS"))
    });
    assert!(up, "serve did not start");
    run(
        &ns,
        "server library against serve",
        &["--target", SERVE, "--target-name", "REFWINS"],
    );
    ns.stop(serve);
    run(
        &ns,
        "replication role against the embedded target",
        &["--role", "replication"],
    );
    ns.stop_capture(cap);

    // One tshark pass: source, protocol stack, malformed mark.
    let out = Command::new("tshark")
        .args(["-n", "-r"])
        .arg(&pcap)
        .args([
            "-T",
            "fields",
            "-E",
            "separator=/t",
            "-e",
            "ip.src",
            "-e",
            "frame.protocols",
            "-e",
            "_ws.malformed",
        ])
        .output()
        .expect("run tshark");
    assert!(
        out.status.success(),
        "tshark: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut counts: BTreeMap<(String, &str), Counts> = BTreeMap::new();
    let mut bad = Vec::new();
    for (i, line) in String::from_utf8_lossy(&out.stdout).lines().enumerate() {
        let f: Vec<&str> = line.split('\t').collect();
        // An ICMP error quotes the packet it answers: its ip.src lists the
        // outer then the quoted source.
        let srcs = f.first().copied().unwrap_or("");
        let protos = f.get(1).copied().unwrap_or("");
        let icmp = protos.contains(":icmp");
        let malformed = f.get(2).is_some_and(|m| !m.is_empty());
        let proto = if protos.ends_with(":nbns") {
            "nbns"
        } else if protos.contains(":winsrepl") {
            "winsrepl"
        } else if malformed {
            "other"
        } else {
            continue;
        };
        let who = match (icmp, srcs) {
            (true, s) => format!("ICMP quoting {}", s.rsplit(',').next().unwrap_or("")),
            (false, SERVE) => "reference (serve)".to_string(),
            (false, EMBEDDED) => "reference (embedded)".to_string(),
            (false, s) => format!("runner {s}"),
        };
        // (A quoted packet is cut short by ICMP: not judged.)
        let from_reference = who.starts_with("reference");
        let c = counts.entry((who, proto)).or_default();
        c.frames += 1;
        if malformed {
            c.malformed += 1;
            if from_reference {
                bad.push(format!("frame {}: {line}", i + 1));
            }
        }
    }
    eprintln!(
        "tshark on {} ({:.1} s in all):",
        pcap.display(),
        t.elapsed().as_secs_f64()
    );
    for ((who, proto), c) in &counts {
        eprintln!(
            "  {who:24} {proto:9} {:5} frames, {:3} malformed",
            c.frames, c.malformed
        );
    }
    let get = |who: &str, proto: &str| {
        counts
            .get(&(who.to_string(), proto))
            .map_or(0, |c| c.frames)
    };
    let serve_nbns = get("reference (serve)", "nbns");
    let embedded_nbns = get("reference (embedded)", "nbns");
    let embedded_wrepl = get("reference (embedded)", "winsrepl");
    eprintln!(
        "reference: {} NBNS + {embedded_wrepl} WINS replication frames dissected, {} malformed",
        serve_nbns + embedded_nbns,
        bad.len()
    );
    assert!(
        bad.is_empty(),
        "tshark flags packets the reference sent as malformed (capture: {}; NBNSV_KEEP=1 keeps it):\n{}",
        pcap.display(),
        bad.join("\n")
    );
    assert!(
        serve_nbns > 250,
        "only {serve_nbns} NBNS packets from serve"
    );
    assert!(
        embedded_nbns > 300,
        "only {embedded_nbns} NBNS packets from the embedded target"
    );
    assert!(
        embedded_wrepl > 100,
        "only {embedded_wrepl} WINS replication frames from the embedded target"
    );

    // The same capture, replayed through the model (`validate`): the reference
    // must give every answer the model gives, from its empty database on.
    let out = Command::new(bin())
        .args([
            "validate",
            "--from-start",
            "--server",
            SERVE,
            "--server-name",
            "REFWINS",
        ])
        .arg(&pcap)
        .output()
        .expect("run nbns-conform validate");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let summary = stdout.lines().last().unwrap_or_default();
    eprintln!("validate: {summary}");
    assert!(
        out.status.success() && summary.contains(", 0 divergences"),
        "validate finds answers the model would not give in the reference's traffic:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let exchanges: usize = summary
        .strip_prefix("validated ")
        .and_then(|s| s.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert!(
        exchanges > 200,
        "validate saw only {exchanges} exchanges: {summary}"
    );
}
