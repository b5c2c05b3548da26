//! The script library against its three targets: the embedded reference
//! target (must pass every script), and Samba's nmbd and AD DC in network
//! namespaces (must match their expectations files). The Samba runs need
//! root and Samba installed; without them they fail loudly, never pass.

use std::process::Command;

mod common;
use common::{
    bin, count_scripts, passed_and_known, repo, repo_script, samba_skipped, summary_line,
};

#[test]
fn library_has_at_least_80_scripts_and_30_hostile() {
    let lib = repo().join("conformance/scripts");
    assert!(count_scripts(&lib) >= 80, "{}", count_scripts(&lib));
    assert!(count_scripts(&lib.join("hostile")) >= 30);
}

#[test]
fn reference_target_passes_the_whole_library() {
    let dir = tempdir();
    let junit = dir.join("ref.junit.xml");
    let json = dir.join("ref.json");
    let out = Command::new(bin())
        .args(["run", "--quiet", "--junit"])
        .arg(&junit)
        .arg("--json")
        .arg(&json)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    let n = count_scripts(&repo().join("conformance/scripts"));
    assert_eq!(
        summary_line(&stdout),
        format!("{n} passed, 0 failed, 0 skipped"),
        "{stdout}"
    );
    // The JUnit report is well-formed XML with one test case a script.
    let xml = std::fs::read_to_string(&junit).unwrap();
    let doc = roxmltree::Document::parse(&xml).expect("JUnit report is well-formed XML");
    let cases = doc
        .descendants()
        .filter(|n| n.has_tag_name("testcase"))
        .count();
    assert_eq!(cases, n);
    let suite = doc
        .descendants()
        .find(|n| n.has_tag_name("testsuite"))
        .unwrap();
    assert_eq!(suite.attribute("failures"), Some("0"));
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(report["passed"], n);
    assert_eq!(report["scripts"].as_array().unwrap().len(), n);
}

#[test]
fn a_failing_script_fails_the_run_and_shows_expected_and_got() {
    let dir = tempdir();
    let script = dir.join("wrong.nbt");
    std::fs::write(
        &script,
        "title wrong on purpose\nsend op=query name={run}NOPE<00>\nexpect rcode=OK\n",
    )
    .unwrap();
    let out = Command::new(bin())
        .arg("run")
        .arg(&script)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("rcode: expected OK, got NAM_ERR"),
        "{stdout}"
    );
    assert!(stdout.contains("expected: rcode=OK"), "{stdout}");
    assert!(stdout.contains("got:"), "{stdout}");
    assert_eq!(summary_line(&stdout), "0 passed, 1 failed, 0 skipped");

    // Listed as a known deviation, it no longer fails the run ...
    let expect = dir.join("x.expect");
    std::fs::write(
        &expect,
        "wrong\n  observed: got NAM_ERR\n  reason: on purpose\n",
    )
    .unwrap();
    let out = Command::new(bin())
        .arg("run")
        .arg(&script)
        .arg("--expect")
        .arg(&expect)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    // ... and once it passes, the stale entry fails the run (ratchet).
    std::fs::write(
        &script,
        "send op=query name={run}NOPE<00>\nexpect rcode=NAM_ERR\n",
    )
    .unwrap();
    let out = Command::new(bin())
        .arg("run")
        .arg(&script)
        .arg("--expect")
        .arg(&expect)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("now passes"), "{stdout}");
}

#[test]
fn script_errors_are_reported_before_anything_is_sent() {
    let dir = tempdir();
    let script = dir.join("bad.nbt");
    std::fs::write(&script, "send op=query name=FOO<00>\nexpect rcod=OK\n").unwrap();
    let out = Command::new(bin())
        .arg("run")
        .arg(&script)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr.contains("bad.nbt:2:8: unknown field `rcod`"),
        "{stderr}"
    );
}

#[test]
fn an_unresponsive_target_gives_verdicts_not_a_hang() {
    // Nothing listens on this port: every expect times out, within bounds, and a run in
    // which the target sent nothing at all is `target unreachable` (exit 2).
    let out = Command::new(bin())
        .args([
            "run",
            "--target",
            "127.0.0.9:9",
            "--client-port",
            "0",
            "--filter",
            "query/negative",
        ])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stdout}\n{stderr}");
    assert!(stdout.contains("no reply within"), "{stdout}");
    assert!(stderr.contains("target unreachable"), "{stderr}");
}

fn tempdir() -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!(
        "nbnsv-test-{}-{:?}",
        std::process::id(),
        std::thread::current().id()
    ));
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Runs the library against a Samba server via the project's harness.
fn samba(kind: &str) {
    if samba_skipped(&format!("the {kind} conformance run")) {
        return;
    }
    let out = repo_script("scripts/conform-samba.sh", &[kind, "--quiet"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "conformance run against Samba {kind} failed (it needs root and Samba installed: \
         apt-get install samba samba-ad-dc samba-ad-provision samba-dsdb-modules; \
         set NBNS_VERIFY_SKIP_SAMBA=1 to skip it loudly)\n{stdout}\n{stderr}"
    );
    let line = summary_line(&stdout);
    assert!(line.contains(" 0 failed"), "{stdout}");
    // Every script ran: passes plus known deviations make the whole library.
    let n = count_scripts(&repo().join("conformance/scripts"));
    let (passed, known) = passed_and_known(line);
    assert_eq!(passed + known, n, "{stdout}");
    eprintln!("samba {kind}: {line}");
}

#[test]
fn samba_nmbd_matches_its_expectations() {
    samba("nmbd");
}

#[test]
fn samba_ad_dc_matches_its_expectations() {
    samba("addc");
}

/// `nbns-conform coverage` over the shipped libraries: every rule ID the scripts name is in
/// rules.txt (a typo would exit 2), at least 60 rules are covered, the summary line adds up,
/// and the exit status says whether any rule is left uncovered.
#[test]
fn coverage_of_the_rules_by_the_libraries() {
    let out = Command::new(bin()).arg("coverage").output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let code = out.status.code();
    assert_ne!(code, Some(2), "{stderr}");
    let last = stdout.lines().last().unwrap_or("");
    let n: Vec<usize> = last
        .strip_prefix("coverage: ")
        .unwrap_or_else(|| panic!("no summary line: {last}"))
        .split(", ")
        .map(|part| part.split(' ').next().unwrap().parse().unwrap())
        .collect();
    let (rules, covered, uncovered, untestable) = (n[0], n[1], n[2], n[3]);
    assert_eq!(
        last,
        format!("coverage: {rules} rules, {covered} covered, {uncovered} uncovered, {untestable} not testable")
    );
    assert_eq!(rules, covered + uncovered + untestable);
    assert_eq!(stdout.lines().count(), rules + 1, "one line a rule");
    assert_eq!(stdout.matches("  UNCOVERED\n").count(), uncovered);
    // Issue 11: at least 60 rules, none uncovered.
    assert!(covered >= 60, "{last}");
    assert_eq!(
        uncovered,
        0,
        "uncovered rules:\n{}",
        uncovered_lines(&stdout)
    );
    assert_eq!(code, Some(0), "{last}");
    // Scripts, the strict check and the replication role all count.
    assert!(stdout.contains("scripts/registration/retransmit-during-challenge"));
    assert!(stdout.contains("strict check (every packet)"));
    assert!(stdout.contains("replication matrix"));
}

fn uncovered_lines(stdout: &str) -> String {
    stdout
        .lines()
        .filter(|l| l.ends_with("UNCOVERED"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// A script naming a rule that does not exist is an error (exit 2), not coverage.
#[test]
fn coverage_refuses_an_unknown_rule_id() {
    let dir = tempdir();
    std::fs::write(
        dir.join("typo.nbt"),
        "title t\nrefs RFC1002-4.2.10-RDATTA\nsend op=query name=A<00>\nexpect rcode=NAM_ERR\n",
    )
    .unwrap();
    let out = Command::new(bin())
        .arg("coverage")
        .arg("--rules")
        .arg(repo().join("conformance/rules.txt"))
        .arg(dir.join("typo.nbt"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("script typo names unknown rule RFC1002-4.2.10-RDATTA"),
        "{stderr}"
    );
}
