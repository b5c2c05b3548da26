//! `nbns-conform decode` as a program: exit codes, input formats, TCP
//! reassembly, and no panic on garbage.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_nbns-conform"))
}

fn run(args: &[&str]) -> Output {
    bin().args(args).output().expect("run nbns-conform")
}

fn tmp(name: &str, bytes: &[u8]) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("nbns-conform-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

fn decode(path: &Path, json: bool) -> Output {
    let mut c = bin();
    c.arg("decode");
    if json {
        c.arg("--json");
    }
    c.arg(path).output().expect("run nbns-conform")
}

/// Exit code, and no panic or backtrace on stderr.
fn clean_exit(o: &Output) -> i32 {
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        !err.contains("panicked") && !err.contains("RUST_BACKTRACE"),
        "panic: {err}"
    );
    o.status.code().expect("exited normally, not by a signal")
}

/// A name query for FRED<20>.
const QUERY: &str =
    "812f011000010000000000002045474643454645454341434143414341434143414341434143414341434143410000200001";

fn query_bytes() -> Vec<u8> {
    (0..QUERY.len() / 2)
        .map(|i| u8::from_str_radix(&QUERY[2 * i..2 * i + 2], 16).unwrap())
        .collect()
}

fn ipv4(proto: u8, l4: &[u8]) -> Vec<u8> {
    let total = (20 + l4.len()) as u16;
    let mut p = vec![0x45, 0];
    p.extend_from_slice(&total.to_be_bytes());
    p.extend_from_slice(&[0, 1, 0, 0, 64, proto, 0, 0, 127, 0, 0, 3, 127, 0, 0, 2]);
    p.extend_from_slice(l4);
    p
}

fn udp(payload: &[u8]) -> Vec<u8> {
    let mut u = Vec::new();
    u.extend_from_slice(&137u16.to_be_bytes());
    u.extend_from_slice(&137u16.to_be_bytes());
    u.extend_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
    u.extend_from_slice(&[0, 0]);
    u.extend_from_slice(payload);
    ipv4(17, &u)
}

fn tcp(seq: u32, flags: u8, payload: &[u8]) -> Vec<u8> {
    let mut t = Vec::new();
    t.extend_from_slice(&40000u16.to_be_bytes());
    t.extend_from_slice(&42u16.to_be_bytes());
    t.extend_from_slice(&seq.to_be_bytes());
    t.extend_from_slice(&0u32.to_be_bytes());
    t.extend_from_slice(&[0x50, flags, 0xff, 0xff, 0, 0, 0, 0]);
    t.extend_from_slice(payload);
    ipv4(6, &t)
}

/// A classic pcap with link type 101 (raw IP).
fn pcap(packets: &[Vec<u8>]) -> Vec<u8> {
    let mut f = Vec::new();
    f.extend_from_slice(&0xa1b2c3d4u32.to_le_bytes());
    f.extend_from_slice(&[2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    f.extend_from_slice(&65535u32.to_le_bytes());
    f.extend_from_slice(&101u32.to_le_bytes());
    for (i, p) in packets.iter().enumerate() {
        f.extend_from_slice(&(1000 + i as u32).to_le_bytes());
        f.extend_from_slice(&0u32.to_le_bytes());
        f.extend_from_slice(&(p.len() as u32).to_le_bytes());
        f.extend_from_slice(&(p.len() as u32).to_le_bytes());
        f.extend_from_slice(p);
    }
    f
}

/// A pcapng with one Linux SLL2 interface.
fn pcapng_sll2(packets: &[Vec<u8>]) -> Vec<u8> {
    let mut f = Vec::new();
    let block = |f: &mut Vec<u8>, t: u32, body: &[u8]| {
        let mut b = body.to_vec();
        while !b.len().is_multiple_of(4) {
            b.push(0);
        }
        let len = (12 + b.len()) as u32;
        f.extend_from_slice(&t.to_le_bytes());
        f.extend_from_slice(&len.to_le_bytes());
        f.extend_from_slice(&b);
        f.extend_from_slice(&len.to_le_bytes());
    };
    let mut shb = 0x1a2b3c4du32.to_le_bytes().to_vec();
    shb.extend_from_slice(&[1, 0, 0, 0]);
    shb.extend_from_slice(&u64::MAX.to_le_bytes());
    block(&mut f, 0x0a0d0d0a, &shb);
    let mut idb = 276u16.to_le_bytes().to_vec();
    idb.extend_from_slice(&[0, 0]);
    idb.extend_from_slice(&0u32.to_le_bytes());
    block(&mut f, 1, &idb);
    for p in packets {
        let mut data = vec![0x08, 0x00];
        data.extend_from_slice(&[0; 18]);
        data.extend_from_slice(p);
        let mut epb = Vec::new();
        epb.extend_from_slice(&0u32.to_le_bytes());
        epb.extend_from_slice(&0u32.to_le_bytes());
        epb.extend_from_slice(&1_000_000u32.to_le_bytes());
        epb.extend_from_slice(&(data.len() as u32).to_le_bytes());
        epb.extend_from_slice(&(data.len() as u32).to_le_bytes());
        epb.extend_from_slice(&data);
        block(&mut f, 6, &epb);
    }
    f
}

fn start_association() -> Vec<u8> {
    let mut b = vec![0, 0, 0, 41, 0, 0, 0x78, 0, 0, 0, 0, 0, 0, 0, 0, 0];
    b.extend_from_slice(&[0x12, 0x34, 0x56, 0x78, 0, 2, 0, 5]);
    b.extend_from_slice(&[0; 21]);
    b
}

fn json_lines(o: &Output) -> Vec<serde_json::Value> {
    String::from_utf8(o.stdout.clone())
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn usage_errors_exit_2_and_help_exits_0() {
    assert_eq!(clean_exit(&run(&[])), 2);
    assert_eq!(clean_exit(&run(&["decode"])), 2);
    assert_eq!(clean_exit(&run(&["frobnicate"])), 2);
    assert_eq!(clean_exit(&run(&["decode", "--bogus", "x"])), 2);
    let help = run(&["decode", "--help"]);
    assert_eq!(clean_exit(&help), 0);
    assert!(String::from_utf8_lossy(&help.stdout).contains("--json"));
}

#[test]
fn missing_empty_and_binary_inputs_exit_2() {
    let o = run(&["decode", "/nonexistent/nbns-verify.pcap"]);
    assert_eq!(clean_exit(&o), 2);
    assert!(String::from_utf8_lossy(&o.stderr).contains("cannot open"));
    assert_eq!(clean_exit(&decode(&tmp("empty", b""), false)), 2);
    let o = decode(&tmp("binary", &[0xff, 0xfe, 0x00, 0x80, 0x81, 0x10]), false);
    assert_eq!(clean_exit(&o), 2);
}

#[test]
fn random_and_truncated_files_never_panic() {
    // Deterministic xorshift so failures reproduce.
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut rnd = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let good = pcap(&[udp(&query_bytes()), tcp(1, 0x18, &start_association())]);
    let goodng = pcapng_sll2(&[udp(&query_bytes())]);
    for i in 0..40 {
        let len = (rnd() % 600) as usize;
        let mut bytes: Vec<u8> = (0..len).map(|_| rnd() as u8).collect();
        // Half of them get a capture header, so the record parsers see garbage too.
        let head: &[u8] = match i % 4 {
            0 => &good[..24],
            1 => &goodng[..48],
            _ => &[],
        };
        bytes.splice(0..0, head.iter().copied());
        let code = clean_exit(&decode(&tmp(&format!("random{i}"), &bytes), i % 2 == 0));
        assert!((0..=2).contains(&code));
    }
    for cut in 0..good.len() {
        let o = decode(&tmp("cut.pcap", &good[..cut]), false);
        let code = clean_exit(&o);
        assert!((0..=2).contains(&code), "cut at {cut}: {code}");
        if cut > 0 && cut < 24 {
            assert_eq!(code, 2, "a cut file header is unreadable");
        }
    }
    for cut in 1..goodng.len() {
        let code = clean_exit(&decode(&tmp("cut.pcapng", &goodng[..cut]), true));
        assert!((0..=2).contains(&code), "cut at {cut}: {code}");
    }
    // A pcap cut inside its last record is reported as unreadable.
    let o = decode(&tmp("cutrec.pcap", &good[..good.len() - 5]), false);
    assert_eq!(clean_exit(&o), 2);
    assert!(String::from_utf8_lossy(&o.stderr).contains("cut short"));
}

#[test]
fn hex_input_reports_failures_with_line_and_offset() {
    let text = format!(
        "# two packets\n\n{QUERY}  # good\nnbns: 81 2f 01 10 00 01\nwrepl: {}\n",
        start_association()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<Vec<_>>()
            .join(":")
    );
    let p = tmp("two.hex", text.as_bytes());
    let o = decode(&p, false);
    assert_eq!(clean_exit(&o), 1);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("line 3  NBNS"), "{out}");
    assert!(out.contains("FRED<20>"), "{out}");
    assert!(out.contains("line 4 offset 0: truncated"), "{out}");
    assert!(out.contains("^^ offset 0"), "{out}");
    assert!(out.contains("line 5  WREPL"), "{out}");
    assert!(String::from_utf8_lossy(&o.stderr).contains("decoded 2 messages, 1 failed"));

    let o = decode(&p, true);
    let lines = json_lines(&o);
    assert_eq!(lines.len(), 3);
    assert_eq!(lines[0]["ok"], true);
    assert_eq!(lines[0]["question"]["name"], "FRED<20>");
    assert_eq!(lines[0]["flags"]["bits"], 0x0110);
    assert_eq!(lines[1]["ok"], false);
    assert_eq!(lines[1]["error"]["offset"], 0);
    assert_eq!(lines[2]["proto"], "wrepl");
    assert_eq!(lines[2]["start"]["assoc_ctx"], 0x1234_5678);

    // Bad hex is unreadable input, with its line number.
    let o = decode(
        &tmp("bad.hex", format!("{QUERY}\n\nzz\n").as_bytes()),
        false,
    );
    assert_eq!(clean_exit(&o), 2);
    assert!(String::from_utf8_lossy(&o.stderr).contains("line 3, column 1: bad hex"));
}

#[test]
fn stdin_is_read_with_a_dash() {
    let mut child = bin()
        .args(["decode", "--json", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(&pcap(&[udp(&query_bytes())]))
        .unwrap();
    let o = child.wait_with_output().unwrap();
    assert_eq!(clean_exit(&o), 0);
    let lines = json_lines(&o);
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["src"], "127.0.0.3:137");
    assert_eq!(lines[0]["transport"], "UDP");
}

#[test]
fn pcapng_with_sll2_and_skipped_frames() {
    let mut other = udp(&query_bytes());
    other[20..22].copy_from_slice(&53u16.to_be_bytes());
    other[22..24].copy_from_slice(&53u16.to_be_bytes());
    let f = tmp("sll2.pcapng", &pcapng_sll2(&[udp(&query_bytes()), other]));
    let o = decode(&f, true);
    assert_eq!(clean_exit(&o), 0);
    let lines = json_lines(&o);
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["frame"], 1);
    assert_eq!(lines[0]["time"], 1.0);
    assert!(String::from_utf8_lossy(&o.stderr).contains("1 frames skipped"));
}

#[test]
fn tcp_is_reassembled_in_sequence_order() {
    let a = start_association();
    let mut stream = a.clone();
    stream.extend_from_slice(&a);
    // Two frames in three segments, the last two swapped, plus a retransmission.
    let (s1, rest) = stream.split_at(10);
    let (s2, s3) = rest.split_at(50);
    let isn = 0xffff_fff0u32; // wraps inside the stream
    let pkts = [
        tcp(isn, 0x02, &[]),
        tcp(isn.wrapping_add(1), 0x18, s1),
        tcp(isn.wrapping_add(61), 0x18, s3),
        tcp(isn.wrapping_add(1), 0x18, s1),
        tcp(isn.wrapping_add(11), 0x18, s2),
        tcp(isn.wrapping_add(91), 0x11, &[]),
    ];
    let o = decode(&tmp("tcp.pcap", &pcap(&pkts)), true);
    assert_eq!(clean_exit(&o), 0);
    let lines = json_lines(&o);
    assert_eq!(lines.len(), 2, "{lines:?}");
    for l in &lines {
        assert_eq!(l["proto"], "wrepl");
        assert_eq!(l["ok"], true);
        assert_eq!(
            l["frame"], 5,
            "both frames complete with the segment that fills the hole"
        );
    }

    // A lost segment is one failure; a stream that ends mid-frame is another.
    let pkts = [tcp(1, 0x18, s1), tcp(61, 0x18, s3)];
    let o = decode(&tmp("gap.pcap", &pcap(&pkts)), false);
    assert_eq!(clean_exit(&o), 1);
    assert!(String::from_utf8_lossy(&o.stdout).contains("were not captured"));
    let pkts = [tcp(1, 0x18, s1), tcp(11, 0x19, s2)];
    let o = decode(&tmp("short.pcap", &pcap(&pkts)), false);
    assert_eq!(clean_exit(&o), 1);
    assert!(String::from_utf8_lossy(&o.stdout).contains("ends inside a frame"));
}
