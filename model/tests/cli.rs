//! The binary: `check --all` passes (CI), a bug run exits 1 with a numbered trace, usage errors
//! exit 2.

use std::process::Command;

fn run(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_nbns-model"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn check_all_passes() {
    let (code, out, _) = run(&["check", "--all", "--quiet"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("ALL AS EXPECTED"));
    for bug in ["Q153073", "Q135277", "Q124565", "Q184832", "Q164016"] {
        assert!(
            out.contains(&format!("as expected, {bug} breaks")),
            "{bug}: {out}"
        );
    }
}

#[test]
fn bug_run_prints_a_trace_and_exits_1() {
    let (code, out, _) = run(&["check", "--bug", "q153073", "--quiet"]);
    assert_eq!(code, 1);
    assert!(
        out.contains("Counterexample to \"every requested name ends registered on a live server\"")
    );
    assert!(out.contains("  1. "));
    assert!(out.contains("WINS-1 is DOWN"));
    assert!(out.contains("NOT registered"));
}

#[test]
fn fixed_scenario_exits_0() {
    let (code, out, _) = run(&[
        "check",
        "static-mhomed",
        "--quiet",
        "--threads",
        "1",
        "--dfs",
    ]);
    assert_eq!(code, 0, "{out}");
}

#[test]
fn usage_errors_exit_2() {
    for args in [
        &["check", "nosuch"][..],
        &["check", "--bug", "Q1"],
        &["frobnicate"],
        &[],
        &["check"],
        &["check", "--threads", "x"],
    ] {
        let (code, _, err) = run(args);
        assert_eq!(code, 2, "{args:?}");
        assert!(err.contains("nbns-model:"), "{args:?}: {err}");
    }
    let (code, out, _) = run(&["--help"]);
    assert_eq!(code, 0);
    assert!(out.contains("USAGE"));
    let (code, out, _) = run(&["list"]);
    assert_eq!(code, 0);
    assert!(out.contains("--bug Q164016"));
}
