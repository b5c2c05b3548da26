//! `nbns-conform diff`: two embedded reference servers agree on the whole library (twice,
//! so the comparison is stable); the reference and Samba's nmbd and AD DC, each in a
//! network namespace (`scripts/diff-samba.sh`), differ, among others in the ways the
//! README records. The Samba runs need root and Samba installed; without them they fail
//! loudly, never pass.

use std::process::{Command, Output};

mod common;
use common::{bin, count_scripts, repo, repo_script, samba_skipped};

fn text(out: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The closing `diff: ...` line.
fn summary(stdout: &str) -> &str {
    stdout
        .lines()
        .rev()
        .find(|l| l.starts_with("diff: "))
        .unwrap_or("")
}

/// The table's rows as (script, step, field, A, B).
fn rows(stdout: &str) -> Vec<[String; 5]> {
    stdout
        .lines()
        .skip(2)
        .take_while(|l| !l.starts_with("diff: "))
        .filter_map(|l| {
            let cells: Vec<String> = l.split(" | ").map(|c| c.trim().to_string()).collect();
            <[String; 5]>::try_from(cells).ok()
        })
        .collect()
}

fn has_row(rows: &[[String; 5]], script: &str, field: &str, a: &str, b: &str) -> bool {
    rows.iter()
        .any(|r| r[0] == script && r[2] == field && r[3] == a && r[4] == b)
}

#[test]
fn reference_against_reference_agrees_and_is_stable() {
    let n = count_scripts(&repo().join("conformance/scripts"));
    let json = std::env::temp_dir().join(format!("nbnsv-diff-{}.json", std::process::id()));
    for run in 1..=2 {
        let out = Command::new(bin())
            .args(["diff", "reference", "reference", "--json"])
            .arg(&json)
            .output()
            .unwrap();
        let (stdout, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(0), "run {run}:\n{stdout}\n{stderr}");
        assert!(
            summary(&stdout).starts_with(&format!(
                "diff: {n} scripts, 0 with differences, 0 fields differ"
            )),
            "run {run}:\n{stdout}"
        );
        let report: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
        assert_eq!(report["scripts"], n);
        assert_eq!(report["fields_differ"], 0);
        assert_eq!(report["differences"].as_array().unwrap().len(), 0);
    }
    let _ = std::fs::remove_file(&json);
}

#[test]
fn usage_errors_and_an_unreachable_target_exit_2() {
    let out = Command::new(bin())
        .args(["diff", "reference", "not-an-address"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{:?}", text(&out));
    // Nothing listens on 127.0.0.9:1137: given up after a few scripts, not after the library.
    let out = Command::new(bin())
        .args([
            "diff",
            "127.0.0.9:1137",
            "reference",
            "--client-port",
            "0",
            "--filter",
            "query/",
        ])
        .output()
        .unwrap();
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{stdout}\n{stderr}");
    assert!(stderr.contains("unreachable"), "{stderr}");
}

/// Runs `scripts/diff-samba.sh KIND`; returns the table's rows and the summary line.
fn samba(kind: &str) -> Option<(Vec<[String; 5]>, String)> {
    if samba_skipped(&format!("the reference vs {kind} differential run")) {
        return None;
    }
    let out = repo_script("scripts/diff-samba.sh", &[kind]);
    let (stdout, stderr) = text(&out);
    assert_eq!(
        out.status.code(),
        Some(1),
        "the differential run against Samba {kind} did not report differences (it needs \
         root and Samba installed: apt-get install samba samba-ad-dc samba-ad-provision \
         samba-dsdb-modules; set NBNS_VERIFY_SKIP_SAMBA=1 to skip it loudly)\n{stdout}\n{stderr}"
    );
    let n = count_scripts(&repo().join("conformance/scripts"));
    let line = summary(&stdout).to_string();
    assert!(
        line.starts_with(&format!("diff: {n} scripts, ")),
        "{stdout}"
    );
    let rows = rows(&stdout);
    let fields: usize = line
        .split(", ")
        .nth(2)
        .and_then(|s| s.split(' ').next())
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    assert_eq!(rows.len(), fields, "one row a differing field:\n{stdout}");
    let json = repo().join(format!("target/conformance/diff-{kind}.json"));
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(report["fields_differ"], fields);
    eprintln!("reference vs {kind}: {line}");
    Some((rows, line))
}

#[test]
fn reference_against_nmbd_differs_where_known() {
    let Some((rows, _)) = samba("nmbd") else {
        return;
    };
    // nmbd answers NAM_ERR to the release of a name it does not hold (RFC 1002 4.2.11
    // has no NAM_ERR; the reference answers OK).
    assert!(
        has_row(&rows, "release/unknown-name", "rcode", "OK", "NAM_ERR"),
        "{rows:#?}"
    );
    // nmbd stores a normal group as 0.0.0.0, the reference answers 255.255.255.255.
    assert!(
        has_row(
            &rows,
            "query/group",
            "an.nb[0].addr",
            "255.255.255.255",
            "0.0.0.0"
        ),
        "{rows:#?}"
    );
}

#[test]
fn reference_against_ad_dc_differs_where_known() {
    let Some((rows, _)) = samba("addc") else {
        return;
    };
    // The AD DC answers positive queries with TTL 0.
    assert!(
        has_row(&rows, "query/group", "an.ttl", "300000", "0"),
        "{rows:#?}"
    );
    // ... and node status with all of its names, not only the two the reference holds.
    assert!(
        rows.iter()
            .any(|r| r[0] == "status/node-status" && r[2] == "an.status.names" && r[3] == "2"),
        "{rows:#?}"
    );
}
