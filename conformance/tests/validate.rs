//! `nbns-conform validate` on the golden captures of nmbd and the AD DC: every divergence
//! from the model is one of the server's listed deviations, and none is invented where the
//! capture does not show a record. (The reference's own traffic under the whole library
//! validates with 0 divergences in tests/reference_tshark.rs.)

use std::process::{Command, Output};

mod common;
use common::bin;

const GOLDEN: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../wire/tests/data");
const EXPECT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/expect");

fn validate(args: &[&str]) -> (Output, String) {
    let out = Command::new(bin())
        .arg("validate")
        .args(args)
        .output()
        .expect("run nbns-conform validate");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    (out, stdout)
}

fn last_line(s: &str) -> &str {
    s.lines().last().unwrap_or_default()
}

#[test]
fn nmbd_capture_diverges_only_where_nmbd_deviates() {
    let cap = format!("{GOLDEN}/nmbd.pcap");
    let (out, stdout) = validate(&[&cap]);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("DIVERGES"), "{stdout}");
    // A group answered with 0.0.0.0 where the model (and the AD DC) give 255.255.255.255.
    assert!(stdout.contains("group [0.0.0.0]"), "{stdout}");
    let listed = [
        format!("{EXPECT}/nmbd.expect"),
        format!("{EXPECT}/nmbd-capture.expect"),
    ];
    let (out, stdout) = validate(&["--expect", &listed[0], "--expect", &listed[1], &cap]);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    let summary = last_line(&stdout);
    assert!(summary.starts_with("validated "), "{summary}");
    assert!(!stdout.contains("DIVERGES"), "{stdout}");
    assert!(summary.contains("known deviations"), "{summary}");
}

#[test]
fn ad_dc_capture_diverges_only_where_the_dc_deviates() {
    let cap = format!("{GOLDEN}/addc.pcap");
    let listed = format!("{EXPECT}/addc.expect");
    let (out, stdout) = validate(&["--expect", &listed, &cap]);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(!stdout.contains("DIVERGES"), "{stdout}");
    let summary = last_line(&stdout);
    let exchanges: usize = summary
        .strip_prefix("validated ")
        .and_then(|s| s.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert!(exchanges > 400, "{summary}");
}

#[test]
fn json_lines_and_unreadable_input() {
    let cap = format!("{GOLDEN}/nmbd.pcap");
    let (out, stdout) = validate(&["--json", &cap]);
    assert_eq!(out.status.code(), Some(1));
    for line in stdout.lines() {
        let v: serde_json::Value = serde_json::from_str(line).expect("a JSON line");
        assert!(
            v.get("rule").is_some() || v.get("exchanges").is_some(),
            "{line}"
        );
    }
    let (out, _) = validate(&["/nonexistent/capture.pcap"]);
    assert_eq!(out.status.code(), Some(2));
    let not_a_capture = format!("{}/Cargo.toml", env!("CARGO_MANIFEST_DIR"));
    let (out, _) = validate(&[&not_a_capture]);
    assert_eq!(out.status.code(), Some(2));
}

/// A capture whose writer was stopped mid-record (tcpdump killed) is replayed up to the cut,
/// with a warning naming where it ends; the verdict covers what was read.
#[test]
fn a_capture_cut_short_is_replayed_up_to_the_cut() {
    let whole = std::fs::read(format!("{GOLDEN}/addc.pcap")).unwrap();
    let cut = std::env::temp_dir().join(format!("nbnsv-cut-{}.pcap", std::process::id()));
    // Half the file: the cut falls inside some packet record.
    std::fs::write(&cut, &whole[..whole.len() / 2 + 3]).unwrap();
    let listed = format!("{EXPECT}/addc.expect");
    let out = Command::new(bin())
        .args(["validate", "--expect", &listed])
        .arg(&cut)
        .output()
        .unwrap();
    let _ = std::fs::remove_file(&cut);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(
        stderr.contains("warning:") && stderr.contains("cut short"),
        "{stderr}"
    );
    let exchanges: usize = last_line(&stdout)
        .strip_prefix("validated ")
        .and_then(|s| s.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert!(exchanges > 50, "{stdout}");
}
