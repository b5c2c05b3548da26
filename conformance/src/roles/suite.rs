//! Running a loaded script suite in any role: the run token, the variables
//! every script sees, instantiating all scripts before anything is sent, and
//! the parallel run of the server role's scripts.

use crate::net::Net;
use crate::roles::runner::{self, Target};
use crate::script::steps::Instantiated;
use crate::script::{Script, ScriptError};
use crate::strict;
use crate::verdict::{Outcome, Verdict};
use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Instant;

/// A short token unique to this run, so names never collide with a
/// previous run's records still held by the target.
pub fn run_token() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let mixed = (nanos as u64) ^ ((std::process::id() as u64) << 20);
    base36(mixed % (36 * 36 * 36), 3)
}

fn base36(mut v: u64, width: usize) -> String {
    const DIGITS: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";
    let mut out = vec![b'0'; width];
    for slot in out.iter_mut().rev() {
        *slot = DIGITS[(v % 36) as usize];
        v /= 36;
    }
    String::from_utf8(out).unwrap_or_default()
}

/// Variables every script sees.
pub fn variables(
    token: &str,
    index: usize,
    target: &Target,
    clients: &[Ipv4Addr],
) -> BTreeMap<String, String> {
    let mut vars = BTreeMap::new();
    // 3 characters for the run, 2 for the script: 5 of a name's 15 bytes.
    vars.insert("run".into(), format!("{token}{}", base36(index as u64, 2)));
    vars.insert("target_ip".into(), target.addr.ip().to_string());
    vars.insert("target_name".into(), target.name.clone());
    for (i, c) in clients.iter().enumerate() {
        vars.insert(format!("client{}", i + 1), c.to_string());
    }
    vars
}

/// Instantiates every script; all errors at once, before anything is sent.
pub fn instantiate_all(
    scripts: &[Script],
    token: &str,
    target: &Target,
    clients: &[Ipv4Addr],
) -> Result<Vec<Instantiated>, Vec<ScriptError>> {
    let mut out = Vec::new();
    let mut errors = Vec::new();
    for (i, s) in scripts.iter().enumerate() {
        match s.instantiate(&variables(token, i, target, clients)) {
            Ok(inst) => out.push(inst),
            Err(e) => errors.push(e),
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

/// Runs the scripts with `jobs` worker threads, each script's exchange held against the
/// strict layout check as well (a script that passes with a broken packet becomes a
/// `violation`); `on_done` sees each outcome
/// as it completes (for progress output). Results come back in script order.
pub fn run(
    net: &Net,
    target: &Target,
    scripts: &[Script],
    ready: &[Instantiated],
    jobs: usize,
    on_done: &(dyn Fn(&Outcome, usize, usize) + Sync),
) -> Vec<Outcome> {
    let next = AtomicUsize::new(0);
    let finished = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<Outcome>>> = Mutex::new(vec![None; scripts.len()]);
    std::thread::scope(|scope| {
        for _ in 0..jobs.clamp(1, 64) {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let (Some(script), Some(inst)) = (scripts.get(i), ready.get(i)) else {
                    break;
                };
                let start = Instant::now();
                let (verdict, sent) = runner::run_traced(net, target, inst);
                let duration = start.elapsed();
                let violations =
                    strict::traffic::check(target.addr, &sent, &net.received_since(start));
                let verdict = match (verdict, violations.first()) {
                    (Verdict::Pass, Some(v)) => Verdict::Violation(v.clone()),
                    (verdict, _) => verdict,
                };
                let outcome = Outcome {
                    name: script.name.clone(),
                    title: script.title.clone(),
                    verdict,
                    duration,
                    known: None,
                    violations,
                };
                let done = finished.fetch_add(1, Ordering::Relaxed) + 1;
                on_done(&outcome, done, scripts.len());
                results.lock().unwrap_or_else(|p| p.into_inner())[i] = Some(outcome);
            });
        }
    });
    results
        .into_inner()
        .unwrap_or_else(|p| p.into_inner())
        .into_iter()
        .flatten()
        .collect()
}
