//! The client-role library (conformance/scripts-client): the runner plays the
//! WINS servers. Against the embedded reference client (the model's client
//! state machine) every script must pass; against Samba's nmbd as a WINS
//! client (in a network namespace) the run must match
//! conformance/expect/nmbd-client.expect. The nmbd run needs root and Samba;
//! without them it fails loudly, never passes (NBNS_VERIFY_SKIP_SAMBA=1 skips
//! it, loudly).

use std::process::Command;

mod common;
use common::{
    bin, count_scripts, passed_and_known, repo, repo_script, samba_skipped, summary_line,
};

fn library() -> std::path::PathBuf {
    repo().join("conformance/scripts-client")
}

#[test]
fn reference_client_passes_the_whole_client_library() {
    let json = std::env::temp_dir().join(format!("nbnsv-client-ref-{}.json", std::process::id()));
    let out = Command::new(bin())
        .args(["run", "--role", "client", "--quiet", "--json"])
        .arg(&json)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    let n = count_scripts(&library());
    assert!(n >= 8, "{n}");
    assert_eq!(
        summary_line(&stdout),
        format!("{n} passed, 0 failed, 0 skipped"),
        "{stdout}"
    );
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(report["passed"], n);
    let _ = std::fs::remove_file(&json);
}

#[test]
fn the_default_run_is_still_the_server_library() {
    // A client-role script in a server-role run is an error, not silently run.
    let dir = std::env::temp_dir().join(format!("nbnsv-client-t-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let script = dir.join("c.nbt");
    std::fs::write(&script, "client start\n").unwrap();
    let out = Command::new(bin())
        .arg("run")
        .arg(&script)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("--role client"), "{stderr}");
}

#[test]
fn a_request_the_client_never_sends_fails_with_what_it_did_send() {
    let dir = std::env::temp_dir().join(format!("nbnsv-client-f-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let script = dir.join("refresh.nbt");
    std::fs::write(
        &script,
        "title wrong on purpose\nclient start\nawait at=server1 op=refresh timeout=1s\n",
    )
    .unwrap();
    let out = Command::new(bin())
        .args(["run", "--role", "client"])
        .arg(&script)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("request 1 of 1: none within 1s"),
        "{stdout}"
    );
    assert!(stdout.contains("waiting unmatched"), "{stdout}");
}

#[test]
fn samba_nmbd_as_a_wins_client_matches_its_expectations() {
    if samba_skipped("the nmbd client-role conformance run") {
        return;
    }
    let out = repo_script("scripts/samba-client-harness.sh", &["run", "--quiet"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "client-role conformance run against nmbd failed (it needs root and Samba: \
         apt-get install samba samba-common-bin; set NBNS_VERIFY_SKIP_SAMBA=1 to skip it \
         loudly)\n{stdout}\n{stderr}"
    );
    let line = summary_line(&stdout);
    assert!(line.contains(" 0 failed"), "{stdout}");
    let n = count_scripts(&library());
    let (passed, known) = passed_and_known(line);
    assert_eq!(passed + known, n, "{stdout}");
    eprintln!("nmbd as a WINS client: {line}");
}
