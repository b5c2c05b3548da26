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
    // The KB's own story (primary down from the start) is the shortest one without delays.
    let (code, out, _) = run(&["check", "--bug", "q153073", "--quiet", "--no-delay"]);
    assert_eq!(code, 1);
    assert!(
        out.contains("Counterexample to \"every requested name ends registered on a live server\"")
    );
    assert!(out.contains("  1. "));
    assert!(out.contains("WINS-1 is DOWN") || out.contains("WINS-1 crashes"));
    assert!(out.contains("client A now uses primary WINS-2 and backup WINS-1"));
    assert!(out.contains("NOT registered"));
    let (code, out, _) = run(&["check", "--bug", "q153073", "--quiet"]);
    assert_eq!(code, 1);
    assert!(out.starts_with("network: delays on"));
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

#[test]
fn first_line_is_the_network_semantics() {
    let (code, out, _) = run(&["check", "static-mhomed", "--quiet", "--threads", "1"]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.lines()
            .next()
            .unwrap()
            .starts_with("network: delays on (early timers <= 1), duplicates <= 1, losses <= 0"),
        "{out}"
    );
    let (code, out, _) = run(&["check", "static-mhomed", "--quiet", "--no-delay"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.starts_with("network: delays off"), "{out}");
    assert!(
        out.contains("unique 11,") || out.contains("unique 11 "),
        "{out}"
    );
}

#[test]
fn sizes_options() {
    let (code, out, _) = run(&[
        "check", "failover", "--quiet", "--names", "2", "--losses", "0",
    ]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("--names 2 --losses 0"), "{out}");
    let (code, out, _) = run(&["list"]);
    assert_eq!(code, 0);
    assert!(
        out.contains("--clients N") && out.contains("--restarts N"),
        "{out}"
    );
    for (args, msg) in [
        (
            &["check", "static-mhomed", "--clients", "3"][..],
            "does not take --clients",
        ),
        (&["check", "challenge", "--clients", "9"], "out of bounds"),
        (&["check", "challenge", "--losses", "300"], "0 to 255"),
        (&["check", "--all", "--names", "2"], "sizes"),
        (&["check", "failover", "--seed", "3"], "--simulate"),
        (
            &["check", "failover", "--no-delay", "--duplicates", "2"],
            "--no-delay",
        ),
    ] {
        let (code, _, err) = run(args);
        assert_eq!(code, 2, "{args:?}");
        assert!(err.contains(msg), "{args:?}: {err}");
    }
}

/// A simulation prints its seed; the seed that found a counterexample replays it.
#[test]
fn simulation_seed_replays_the_counterexample() {
    let args = [
        "check",
        "--bug",
        "Q184832",
        "--simulate",
        "60",
        "--seed",
        "7",
        "--threads",
        "1",
        "--quiet",
    ];
    let (code, out, _) = run(&args);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("seed 7"), "{out}");
    let seed = out
        .lines()
        .find_map(|l| l.strip_prefix("counterexample seed: "))
        .expect("a counterexample seed")
        .to_string();
    assert_eq!(seed, "7");
    let trace = |o: &str| {
        o.split("Counterexample to")
            .nth(1)
            .expect("a trace")
            .to_string()
    };
    let (code2, out2, _) = run(&args);
    assert_eq!(code2, 1);
    assert_eq!(
        trace(&out),
        trace(&out2),
        "the same seed, the same counterexample"
    );
}
