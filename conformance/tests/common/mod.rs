//! Helpers shared by the integration tests that run `nbns-conform`.
#![allow(dead_code)] // each test binary uses a different subset

use std::path::Path;
use std::process::{Command, Output};

/// The built `nbns-conform` binary.
pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_nbns-conform")
}

/// The repository root.
pub fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap()
}

/// Counts `.nbt` scripts below `dir`.
pub fn count_scripts(dir: &Path) -> usize {
    std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| {
            let p = e.path();
            if p.is_dir() {
                count_scripts(&p)
            } else {
                usize::from(p.extension().is_some_and(|x| x == "nbt"))
            }
        })
        .sum()
}

/// The run's closing `N passed, M failed, K skipped` line.
pub fn summary_line(stdout: &str) -> &str {
    stdout
        .lines()
        .rev()
        .find(|l| l.contains(" passed, "))
        .unwrap_or("")
}

/// The passed and known-deviation counts of a summary line (`N passed, ... (K known
/// deviations)`): together they are every script that ran without failing.
pub fn passed_and_known(line: &str) -> (usize, usize) {
    let passed = line.split(' ').next().unwrap().parse().unwrap();
    let known = line
        .split('(')
        .nth(1)
        .and_then(|s| s.split(' ').next())
        .map_or(0, |s| s.parse().unwrap());
    (passed, known)
}

/// True (after a loud warning) when NBNS_VERIFY_SKIP_SAMBA asks to skip the
/// Samba run `what`.
pub fn samba_skipped(what: &str) -> bool {
    if std::env::var_os("NBNS_VERIFY_SKIP_SAMBA").is_none() {
        return false;
    }
    eprintln!("\n*** WARNING: NBNS_VERIFY_SKIP_SAMBA is set: {what} was NOT done ***\n");
    true
}

/// Runs a script of the repository (`scripts/...`) with `args`, from the
/// repository root, with NBNS_CONFORM naming the binary under test.
pub fn repo_script(script: &str, args: &[&str]) -> Output {
    Command::new(repo().join(script))
        .args(args)
        .env("NBNS_CONFORM", bin())
        .current_dir(repo())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {script}: {e}"))
}
